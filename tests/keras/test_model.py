"""Sequential: the lecture snippet on Fashion-MNIST, compile/fit/evaluate/predict, summary, weights, errors."""

import numpy as np
import pytest

import dagrad as dg
from dagrad import keras, optim
from dagrad.data.datasets import embedded_fashion_mnist
from dagrad.errors import ArgumentError, DagradError, ShapeError
from dagrad.keras import callbacks, layers, losses, optimizers, utils
from dagrad.keras.layers import Conv2D, Dense, Flatten, MaxPooling2D
from dagrad.keras.models import Sequential


@pytest.fixture(scope="module")
def fashion():
    """2,000 training and 500 test images, flattened to 784, with one-hot labels (as the lecture uses them)."""
    train, test = embedded_fashion_mnist(True).tensors, embedded_fashion_mnist(False).tensors
    x_train, y_train = train[0].data[:2000].reshape(-1, 784), utils.to_categorical(train[1].data[:2000], 10)
    x_test, y_test = test[0].data[:500].reshape(-1, 784), utils.to_categorical(test[1].data[:500], 10)
    return x_train, y_train, x_test, y_test


def blobs(n=96, seed=0):
    """Three separable Gaussian blobs in 4-D: float64 inputs (as NumPy users make them) and int labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.standard_normal((n, 4)) * 0.3 + np.eye(3, 4)[y] * 3
    return x, y


def mlp(**compile_args):
    model = Sequential([Dense(16, activation="relu", input_shape=(4,)), Dense(3, activation="softmax")])
    args = {"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}
    model.compile(**{**args, **compile_args})
    return model


def test_lecture_snippet_learns_fashion_mnist(fashion):
    x_train, y_train, x_test, y_test = fashion
    dg.manual_seed(0)
    model = Sequential()
    model.add(Dense(units=64, activation="sigmoid", input_dim=784))
    model.add(Dense(units=10, activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=5, batch_size=32, validation_data=(x_test, y_test))
    loss_and_metrics = model.evaluate(x_test, y_test, batch_size=128)
    classes = model.predict(x_test, batch_size=128)
    history = model.history
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 5 for v in history.history.values())
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["val_accuracy"][-1] > 0.4  # chance is 0.1
    assert len(loss_and_metrics) == 2 and loss_and_metrics[1] == pytest.approx(history.history["val_accuracy"][-1])
    assert isinstance(classes, np.ndarray) and classes.shape == (500, 10) and classes.dtype == np.float32
    np.testing.assert_allclose(classes.sum(1), 1, rtol=1e-5)


def test_small_convnet_trains_on_images(fashion):
    x_train, y_train, _, _ = fashion
    dg.manual_seed(0)
    images = x_train[:512].reshape(-1, 28, 28, 1)
    labels = y_train[:512].argmax(1)
    model = Sequential([
        keras.Input(shape=(28, 28, 1)), Conv2D(8, 3, activation="relu"), MaxPooling2D(), Flatten(),
        layers.Dropout(0.2), Dense(10, activation="softmax"),
    ])  # fmt: skip
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(images, labels, epochs=3, batch_size=64, verbose=0)
    assert history.history["accuracy"][-1] > 0.5
    assert model.count_params() == 80 + 10 * (13 * 13 * 8 + 1)


def test_summary_prints_keras_table(capsys):
    model = Sequential([Dense(64, input_dim=784, name="hidden"), Dense(10, name="out")], name="net")
    model.add(layers.BatchNormalization(name="bn"))
    model.summary()
    text = capsys.readouterr().out
    assert 'Model: "net"' in text and "Layer (type)" in text and "Output Shape" in text and "Param #" in text
    assert "hidden (Dense)" in text and "(None, 64)" in text and "50,240" in text
    assert "out (Dense)" in text and "650" in text and "bn (BatchNormalization)" in text and "40" in text
    assert "Total params: 50,930 (198.95 KB)" in text
    assert "Trainable params: 50,910" in text and "Non-trainable params: 20 (80.00 B)" in text


def test_summary_of_unbuilt_model_and_conv_counts():
    lines = []
    model = Sequential([Conv2D(32, 3), Flatten()])
    model.summary(print_fn=lines.append)
    assert any("?" in line and "0 (unbuilt)" in line for line in lines)
    model.build((None, 28, 28, 1))
    lines.clear()
    model.summary(print_fn=lines.append)
    assert any("(None, 26, 26, 32)" in line and "320" in line for line in lines)
    assert any("(None, 21632)" in line for line in lines)


def test_model_builds_from_first_data_and_compiles_before():
    x, y = blobs()
    model = Sequential([Dense(8, activation="relu"), Dense(3, activation="softmax")])
    model.compile(optimizer=optimizers.SGD(learning_rate=0.1, momentum=0.9), loss="sparse_categorical_crossentropy")
    assert not model.built
    history = model.fit(x, y, epochs=2, verbose=0)
    assert model.built and model.input_shape == (None, 4) and model.output_shape == (None, 3)
    assert set(history.history) == {"loss"}
    assert isinstance(model.evaluate(x, y, verbose=0), float)


def test_validation_split_holds_out_the_last_samples():
    x, y = blobs(100)
    model = mlp()
    history = model.fit(x, y, epochs=2, batch_size=10, validation_split=0.2, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    expected = model.evaluate(x[80:], y[80:], verbose=0, return_dict=True)
    assert history.history["val_loss"][-1] == pytest.approx(expected["loss"])
    assert history.history["val_accuracy"][-1] == pytest.approx(expected["accuracy"])
    with pytest.raises(ArgumentError, match=r"validation_split in \[0, 1\)"):
        model.fit(x, y, validation_split=1.0, verbose=0)


def test_fit_learns_and_accuracy_follows_the_loss():
    x, y = blobs()
    dg.manual_seed(0)
    for loss, targets in (("sparse_categorical_crossentropy", y), ("categorical_crossentropy", np.eye(3)[y])):
        model = mlp(loss=loss, optimizer=optimizers.Adam(0.02))
        history = model.fit(x, targets, epochs=20, batch_size=16, verbose=0)
        assert history.history["accuracy"][-1] == 1.0
    binary = Sequential([Dense(1, activation="sigmoid", input_shape=(4,))])
    binary.compile(optimizer=optimizers.Adam(0.05), loss="binary_crossentropy", metrics=["acc", "mae"])
    history = binary.fit(x, (y == 0).astype(float), epochs=20, verbose=0)
    assert set(history.history) == {"loss", "acc", "mae"} and history.history["acc"][-1] == 1.0


def test_evaluate_and_predict_shapes():
    x, y = blobs(50)
    model = mlp(metrics=["accuracy", "sparse_top_k_categorical_accuracy"])
    model.fit(x, y, epochs=1, verbose=0)
    result = model.evaluate(x, y, batch_size=7, verbose=0)
    assert isinstance(result, list) and len(result) == 3 and model.metrics_names[0] == "loss"
    assert result[2] == 1.0  # three classes: the true one is always in the top 5
    assert set(model.evaluate(x, y, verbose=0, return_dict=True)) == set(model.metrics_names)
    out = model.predict(x, batch_size=7)
    assert out.shape == (50, 3) and isinstance(out, np.ndarray)
    np.testing.assert_allclose(model.predict_on_batch(x[:5]), out[:5], rtol=1e-6)
    np.testing.assert_allclose(model(dg.tensor(x[:5])).data, out[:5], rtol=1e-6)


def test_evaluate_prints_a_keras_line(capsys):
    x, y = blobs(20)
    model = mlp()
    model.evaluate(x, y, batch_size=10)
    assert capsys.readouterr().out.startswith("2/2 - loss: ")


def test_train_and_test_on_batch():
    x, y = blobs(32)
    model = mlp()
    first = model.train_on_batch(x, y)
    for _ in range(30):
        last = model.train_on_batch(x, y)
    assert len(first) == 2 and last[0] < first[0]
    assert model.test_on_batch(x, y, return_dict=True).keys() == {"loss", "accuracy"}


def test_get_set_save_and_load_weights(tmp_path):
    model = mlp()
    model.build()
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(4, 16), (16,), (16, 3), (3,)]
    other = mlp()
    other.set_weights(weights)
    x, _ = blobs(10)
    np.testing.assert_array_equal(other.predict(x), model.predict(x))
    model.fit(*blobs(), epochs=1, verbose=0)
    model.save_weights(tmp_path / "mlp.weights")
    other.load_weights(tmp_path / "mlp.weights")
    np.testing.assert_array_equal(other.predict(x), model.predict(x))
    assert list(model.state_dict()) == ["0.kernel", "0.bias", "1.kernel", "1.bias"]
    with pytest.raises(ShapeError, match="expects 4 weight arrays, received 3"):
        other.set_weights(weights[:3])


def test_callbacks_and_stop_training():
    x, y = blobs()

    class StopAtTwo(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    history = mlp().fit(x, y, epochs=10, verbose=0, callbacks=[StopAtTwo()])
    assert len(history.history["loss"]) == 2
    stopper = callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0)
    history = mlp().fit(x, y, epochs=10, verbose=0, callbacks=[stopper])
    assert len(history.history["loss"]) == 2 and not stopper.restore_best_weights


def test_optimizer_objects_and_learning_rate():
    model = mlp(optimizer=optimizers.SGD(lr=0.05, momentum=0.9, nesterov=True))
    assert model.optimizer.learning_rate == 0.05
    model.fit(*blobs(), epochs=1, verbose=0)
    model.optimizer.learning_rate = 0.01
    assert model.optimizer.optimizer.param_groups[0]["lr"] == 0.01
    opt = model.optimizer.optimizer
    assert isinstance(opt, optim.SGD) and opt.param_groups[0]["nesterov"]
    for name, cls in (("adam", optim.Adam), ("RMSprop", optim.RMSprop), ("adagrad", optim.Adagrad),
                      ("adadelta", optim.Adadelta), ("adamw", optim.AdamW)):  # fmt: skip
        model = mlp(optimizer=name)
        model.fit(*blobs(16), epochs=1, verbose=0)
        assert isinstance(model._dagrad_optimizer, cls) and model.optimizer.learning_rate == 0.001
    model = mlp()
    model.build()
    own = optim.SGD(model.parameters(), lr=0.1)
    model.compile(optimizer=own, loss="sparse_categorical_crossentropy")
    model.fit(*blobs(16), epochs=1, verbose=0)
    assert model._dagrad_optimizer is own


def test_frozen_layer_does_not_train():
    model = mlp()
    model.build()
    model.layers[0].trainable = False
    before = model.layers[0].get_weights()
    model.fit(*blobs(), epochs=1, verbose=0)
    for a, b in zip(before, model.layers[0].get_weights()):
        np.testing.assert_array_equal(a, b)


def test_custom_loss_and_metric_take_y_true_first():
    seen = []

    def my_loss(y_true, y_pred):
        seen.append((tuple(y_true.shape), tuple(y_pred.shape)))
        return losses.mean_squared_error(y_true, y_pred)

    def first_value(y_true, y_pred):
        return y_true[:, 0]

    x, y = blobs(12)
    model = Sequential([Dense(3, input_shape=(4,))])
    model.compile(optimizer="sgd", loss=my_loss, metrics=[first_value])
    targets = np.eye(3)[y]
    logs = model.evaluate(x, targets, verbose=0, return_dict=True)
    assert seen[-1] == ((12, 3), (12, 3))
    assert logs["first_value"] == pytest.approx(targets[:, 0].mean())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"loss": "foo"}, r"compile: unknown loss 'foo'; expected one of \['binary_crossentropy'"),
        ({"optimizer": "foo"}, r"compile: unknown optimizer 'foo'; expected one of \['adadelta'"),
        ({"metrics": ["foo"]}, r"compile: unknown metric 'foo'; expected one of \['accuracy'"),
        ({"metrics": ["acc", "acc"]}, "compile: expected distinct metric names"),
    ],
)
def test_compile_errors(kwargs, message):
    with pytest.raises(ArgumentError, match=message):
        mlp(**kwargs)


def test_usage_errors():
    x, y = blobs(10)
    model = Sequential([Dense(3, input_shape=(4,))])
    with pytest.raises(DagradError, match="fit: the model must be compiled first"):
        model.fit(x, y)
    model.compile(loss="mse")
    with pytest.raises(ShapeError, match="x sizes 10 and y sizes 9"):
        model.fit(x, y[:9], verbose=0)
    with pytest.raises(ShapeError, match=r'Sequential "sequential.*": expected inputs of shape \(None, 4\)'):
        model.predict(np.ones((2, 5)))
    with pytest.raises(ArgumentError, match="unique names"):
        Sequential([Dense(2, name="a"), Dense(2, name="a")])
    with pytest.raises(ArgumentError, match="expected a dagrad.keras layer"):
        Sequential([dg.nn.Linear(2, 2)])
    with pytest.raises(DagradError, match="is not built yet"):
        Sequential([Dense(2)]).count_params()


def test_loaders_are_accepted():
    x, y = blobs(40)
    loader = dg.data.DataLoader(dg.data.TensorDataset(x.astype(np.float32), y), batch_size=8, shuffle=True)
    model = Sequential([Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(loader, epochs=2, validation_data=loader, verbose=0)
    assert model.built and "val_accuracy" in history.history
    assert model.predict(loader).shape == (40, 3)


def test_top_level_names():
    assert keras.Sequential is Sequential and keras.models.Sequential is Sequential
    assert isinstance(keras.Input((3,)), layers.InputLayer)
    assert utils.to_categorical([[1], [0]], 3).tolist() == [[0, 1, 0], [1, 0, 0]]


def test_model_checkpoint_files_load_as_weights(tmp_path):
    x, y = blobs()
    model = mlp()
    ckpt = callbacks.ModelCheckpoint(str(tmp_path / "ckpt-{epoch}"), monitor="loss", save_weights_only=True)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[ckpt])
    other = mlp()
    other.build()
    other.load_weights(tmp_path / "ckpt-2")
    np.testing.assert_array_equal(other.predict(x), model.predict(x))


def test_nested_sequential_pop_and_get_layer():
    inner = Sequential([Dense(8, activation="relu"), Dense(8)], name="block")
    model = Sequential([inner, Dense(3)], name="outer")
    model.build((None, 4))
    assert inner.built and model.output_shape == (None, 3) and inner.output_shape == (None, 8)
    assert model.count_params() == 40 + 72 + 27 and model.get_layer("block") is inner
    assert model.predict(np.ones((2, 4))).shape == (2, 3)
    assert model.pop().units == 3 and model.output_shape == (None, 8) and len(model.layers) == 1


def test_datasets_load_data_as_keras():
    from pathlib import Path

    if not Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").exists():
        pytest.skip("needs the Debian package dataset-fashion-mnist")
    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == y_train.dtype == np.uint8 and y_test.max() == 9
