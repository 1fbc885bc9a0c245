"""Keras losses (y_true, y_pred; clipping; per-sample values), metrics chosen by the loss, optimizers, utils."""

import numpy as np
import pytest
import torch

import dagrad as dg
from dagrad.errors import ArgumentError, ShapeError
from dagrad.keras import activations, losses, metrics, optimizers, utils

EPS = 1e-7


def probs(n=6, c=4, seed=0):
    z = np.random.default_rng(seed).standard_normal((n, c))
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    return z, p


def labels(n=6, c=4, seed=1):
    return np.random.default_rng(seed).integers(0, c, n)


def t64(a):
    return dg.tensor(a, dtype=dg.float64, requires_grad=True)


def test_categorical_crossentropy_clips_probabilities_as_keras():
    _, p = probs()
    p[0] = [1.0, 0.0, 0.0, 0.0]  # a zero probability: Keras clips it to 1e-7 instead of taking log(0)
    y = np.eye(4)[labels()]
    y[0] = [0, 1, 0, 0]
    want = -(y * np.log(np.clip(p / p.sum(1, keepdims=True), EPS, 1 - EPS))).sum(1)
    per_sample = losses.categorical_crossentropy(y, t64(p))
    np.testing.assert_allclose(per_sample.data, want, rtol=1e-12)
    assert float(losses.CategoricalCrossentropy()(y, t64(p)).data) == pytest.approx(want.mean())
    assert float(losses.get("categorical_crossentropy")(y, t64(p)).data) == pytest.approx(want.mean())


def test_crossentropies_from_logits_match_torch():
    z, _ = probs()
    y = labels()
    want = torch.nn.functional.cross_entropy(torch.tensor(z), torch.tensor(y)).item()
    got = losses.SparseCategoricalCrossentropy(from_logits=True)(y, t64(z))
    assert float(got.data) == pytest.approx(want, rel=1e-12)
    got = losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)(np.eye(4)[y], t64(z))
    want = torch.nn.functional.cross_entropy(torch.tensor(z), torch.tensor(y), label_smoothing=0.1).item()
    assert float(got.data) == pytest.approx(want, rel=1e-12)
    b = np.random.default_rng(2).random((6, 1)) > 0.5
    want = torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(z[:, :1]), torch.tensor(b * 1.0))
    got = losses.BinaryCrossentropy(from_logits=True)(b.ravel(), t64(z[:, :1]))
    assert float(got.data) == pytest.approx(want.item(), rel=1e-12)


def test_sparse_categorical_crossentropy_takes_n_or_n_by_1_labels():
    _, p = probs()
    y = labels()
    want = -np.log(np.clip(p, EPS, 1 - EPS))[np.arange(6), y]
    for targets in (y, y[:, None], dg.tensor(y), y.astype(np.float32)):
        np.testing.assert_allclose(losses.sparse_categorical_crossentropy(targets, t64(p)).data, want, rtol=1e-12)
    with pytest.raises(ShapeError, match=r"expected integer labels of shape \(6,\)"):
        losses.sparse_categorical_crossentropy(y[:4], t64(p))


def test_binary_crossentropy_and_regression_losses():
    rng = np.random.default_rng(3)
    p, y = rng.random((5, 3)), (rng.random((5, 3)) > 0.5) * 1.0
    pc = np.clip(p, EPS, 1 - EPS)
    np.testing.assert_allclose(
        losses.binary_crossentropy(y, t64(p)).data, -(y * np.log(pc) + (1 - y) * np.log(1 - pc)).mean(1), rtol=1e-12
    )
    np.testing.assert_allclose(losses.mean_squared_error(y, t64(p)).data, ((p - y) ** 2).mean(1), rtol=1e-12)
    np.testing.assert_allclose(losses.mae(y, t64(p)).data, np.abs(p - y).mean(1), rtol=1e-12)
    d = np.abs(p * 3 - y)
    huber = np.where(d <= 1, 0.5 * d**2, d - 0.5).mean(1)
    np.testing.assert_allclose(losses.huber(y, t64(p * 3)).data, huber, rtol=1e-12)
    q = p / p.sum(1, keepdims=True)
    t = y / np.maximum(y.sum(1, keepdims=True), 1)
    tc = np.clip(t, EPS, 1)
    np.testing.assert_allclose(losses.kl_divergence(t, t64(q)).data, (tc * np.log(tc / q)).sum(1), rtol=1e-10)
    assert float(losses.MeanSquaredError(reduction="sum")(y, t64(p)).data) == pytest.approx(
        ((p - y) ** 2).mean(1).sum()
    )
    assert losses.MeanAbsoluteError(reduction=None)(y, t64(p)).shape == (5,)


def test_targets_are_reshaped_to_the_predictions_as_keras():
    p = np.array([[0.2], [0.9], [0.6]])
    y = np.array([0, 1, 1])
    np.testing.assert_allclose(losses.binary_crossentropy(y, t64(p)).data, -np.log([0.8, 0.9, 0.6]), rtol=1e-12)
    with pytest.raises(ShapeError, match=r"expected targets of the predictions' shape \(3, 1\)"):
        losses.mean_squared_error(np.ones(4), t64(p))


def test_losses_are_differentiable_through_clipping():
    _, p = probs()
    x = t64(p)
    losses.CategoricalCrossentropy()(np.eye(4)[labels()], x).backward()
    y = labels()
    expected = np.zeros_like(p)
    expected[np.arange(6), y] = -1 / p[np.arange(6), y] / 6
    expected += 1 / 6  # from the renormalisation p / sum(p), whose sum is 1
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-10)


def test_loss_errors():
    with pytest.raises(ArgumentError, match="compile: unknown loss 'foo'"):
        losses.get("foo")
    with pytest.raises(ArgumentError, match="expected reduction in"):
        losses.MeanSquaredError(reduction="avg")
    with pytest.raises(ArgumentError, match="expected axis=-1"):
        losses.categorical_crossentropy(np.eye(3), t64(np.eye(3)), axis=0)


def accuracy(metric, out, tgt):
    metric.update(dg.tensor(out), dg.tensor(tgt))
    return metric.compute()


def test_accuracy_means_what_the_loss_implies():
    out = np.array([[0.1, 0.7, 0.2], [0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    one_hot, sparse = np.eye(3)[[1, 1, 2]], np.array([1, 1, 2])
    assert accuracy(metrics.get("accuracy", "categorical"), out, one_hot) == pytest.approx(2 / 3)
    assert accuracy(metrics.get("accuracy", "sparse"), out, sparse[:, None]) == pytest.approx(2 / 3)
    assert accuracy(metrics.get("acc", "binary"), out[:, :1], np.array([0, 1, 1])) == pytest.approx(2 / 3)
    assert accuracy(metrics.get("accuracy"), out, sparse) == pytest.approx(2 / 3)  # by shapes: sparse
    assert accuracy(metrics.get("accuracy"), out, one_hot) == pytest.approx(2 / 3)  # by shapes: categorical
    assert accuracy(metrics.get("accuracy"), out[:, 1], np.array([1, 0, 0])) == 1.0  # by shapes: binary
    assert metrics.get("acc").name == "acc" and metrics.get("mse").name == "mse"
    with pytest.raises(ShapeError, match="categorical_accuracy: expected one-hot targets"):
        accuracy(metrics.CategoricalAccuracy(), out, sparse)


def test_optimizer_factories_use_keras_defaults():
    assert optimizers.SGD().learning_rate == 0.01 and optimizers.get("Adam").learning_rate == 0.001
    w = dg.nn.Parameter(np.ones(3, np.float32))
    opt = optimizers.RMSprop(rho=0.8).build([w])
    group = opt.param_groups[0]
    assert group["alpha"] == 0.8 and group["eps"] == 1e-7 and group["lr"] == 0.001
    assert optimizers.Adagrad().build([w]).param_groups[0]["initial_accumulator_value"] == 0.1
    assert optimizers.AdamW().build([w]).param_groups[0]["weight_decay"] == 0.004
    with pytest.raises(ArgumentError, match="SGD: expected learning_rate to be a positive number"):
        optimizers.SGD(learning_rate=-1)
    with pytest.raises(ArgumentError, match=r"compile: unknown optimizer 'foo'; expected one of \['adadelta'"):
        optimizers.get("foo")


def test_sgd_momentum_matches_keras_update():
    w = dg.nn.Parameter(np.array([1.0], np.float32))
    opt = optimizers.SGD(learning_rate=0.1, momentum=0.9).build([w])
    v, ref = 0.0, 1.0
    for _ in range(3):
        w.grad = dg.tensor(np.array([2 * float(w.data[0])], np.float32))
        opt.step()
        v = 0.9 * v - 0.1 * 2 * ref  # Keras: v = momentum * v - lr * g; w += v
        ref += v
    assert float(w.data[0]) == pytest.approx(ref, rel=1e-6)


def test_activations_by_name():
    x = dg.tensor(np.array([-2.0, 0.5, 3.0]))
    np.testing.assert_allclose(activations.get("softsign")(x).data, [-2 / 3, 1 / 3, 0.75])
    np.testing.assert_allclose(activations.get("hard_sigmoid")(x).data, [1 / 6, 3.5 / 6, 1.0])
    np.testing.assert_allclose(activations.get("selu")(x).data[2], 1.0507009873554805 * 3)
    assert activations.get(None)(x) is x and activations.serialize(activations.get("swish")) == "silu"
    with pytest.raises(ArgumentError, match="activation: unknown activation 'foo'"):
        activations.get("foo")


def test_to_categorical():
    y = utils.to_categorical([2, 0, 1])
    assert y.dtype == np.float32 and y.tolist() == [[0, 0, 1], [1, 0, 0], [0, 1, 0]]
    assert utils.to_categorical(np.zeros((2, 3), int), num_classes=4).shape == (2, 3, 4)
    with pytest.raises(ArgumentError, match=r"expected labels in \[0, 2\)"):
        utils.to_categorical([0, 2], num_classes=2)
    with pytest.raises(ArgumentError, match="expected integer class labels"):
        utils.to_categorical([0.5])


def test_set_random_seed_repeats_initialisation():
    from dagrad.keras.layers import Dense

    utils.set_random_seed(7)
    a = Dense(3, input_dim=2)
    a.build_from((None, 2))
    utils.set_random_seed(7)
    b = Dense(3, input_dim=2)
    b.build_from((None, 2))
    np.testing.assert_array_equal(a.kernel.data, b.kernel.data)
