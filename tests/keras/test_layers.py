"""Keras layers: output shapes, parameter counts, Keras weight layouts, channels-last parity with dagrad.nn, errors."""

import numpy as np
import pytest
import torch

import dagrad as dg
from dagrad import nn
from dagrad.errors import ArgumentError, ShapeError
from dagrad.keras import initializers, layers
from dagrad.keras.layers import (
    Activation,
    AveragePooling2D,
    BatchNormalization,
    Conv1D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    MaxPooling2D,
    Reshape,
)


@pytest.fixture
def float64():
    dg.set_default_dtype(dg.float64)
    yield
    dg.set_default_dtype(dg.float32)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def built(layer, shape):
    layer.build_from((None, *shape))
    return layer


@pytest.mark.parametrize(
    "layer, in_shape, out_shape, params",
    [
        (Dense(64), (784,), (None, 64), 50_240),
        (Dense(10, use_bias=False), (64,), (None, 10), 640),
        (Dense(5), (3, 7), (None, 3, 5), 40),
        (Conv2D(32, 3), (28, 28, 1), (None, 26, 26, 32), 320),
        (Conv2D(8, (3, 5), strides=2, padding="same"), (28, 27, 3), (None, 14, 14, 8), 368),
        (Conv2D(4, 3, padding="same", data_format="channels_first"), (3, 8, 8), (None, 4, 8, 8), 112),
        (Conv2D(6, 3, dilation_rate=2), (10, 10, 2), (None, 6, 6, 6), 114),
        (Conv1D(4, 3), (10, 2), (None, 8, 4), 28),
        (MaxPooling2D(), (28, 28, 32), (None, 14, 14, 32), 0),
        (MaxPooling2D(3, strides=2, padding="same"), (7, 9, 2), (None, 4, 5, 2), 0),
        (AveragePooling2D((2, 3)), (8, 9, 4), (None, 4, 3, 4), 0),
        (GlobalAveragePooling2D(), (5, 5, 7), (None, 7), 0),
        (GlobalMaxPooling2D(keepdims=True), (5, 5, 7), (None, 1, 1, 7), 0),
        (Flatten(), (5, 5, 16), (None, 400), 0),
        (Reshape((-1, 4)), (12,), (None, 3, 4), 0),
        (Dropout(0.5), (10,), (None, 10), 0),
        (BatchNormalization(), (4, 4, 6), (None, 4, 4, 6), 24),
        (Activation("relu"), (3,), (None, 3), 0),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, layers.Layer) else None,
)
def test_output_shapes_and_parameter_counts(layer, in_shape, out_shape, params):
    built(layer, in_shape)
    assert layer.output_shape == out_shape
    assert layer.count_params() == params
    y = layer(dg.randn(2, *in_shape))
    assert y.shape == (2, *out_shape[1:])


def test_names_are_keras_snake_case_and_unique():
    a, b, c = Dense(2), Dense(2), MaxPooling2D()
    assert a.name.startswith("dense") and b.name != a.name and b.name.startswith("dense_")
    assert c.name.startswith("max_pooling2d")
    assert BatchNormalization(name="bn").name == "bn"


def test_dense_keeps_keras_kernel_layout(float64):
    d = built(Dense(3, activation="tanh"), (4,))
    kernel, bias = d.get_weights()
    assert kernel.shape == (4, 3) and bias.shape == (3,) and not bias.any()
    x = rand(5, 4)
    np.testing.assert_allclose(d(x).data, np.tanh(x @ kernel + bias), rtol=1e-12)


def test_conv2d_matches_transposed_dagrad_conv(float64):
    conv = built(Conv2D(5, 3, strides=2, padding="same", activation="relu"), (9, 9, 3))
    ref = nn.Conv2d(3, 5, 3, stride=2, padding=1)
    kernel, bias = conv.get_weights()
    ref.load_state_dict({"weight": kernel.transpose(3, 2, 0, 1), "bias": bias})
    x = rand(2, 9, 9, 3)  # 'same' pads 9 by (1, 1) at stride 2: torch's padding=1
    want = dg.relu(ref(dg.tensor(x).permute(0, 3, 1, 2))).permute(0, 2, 3, 1)
    np.testing.assert_allclose(conv(x).data, want.data, rtol=1e-10, atol=1e-12)


def same_pad(n, k, s):
    total = max((-(-n // s) - 1) * s + k - n, 0)
    return total // 2, total - total // 2


@pytest.mark.parametrize("k, s", [(2, 1), (3, 2), (2, 2), (4, 3)])
def test_conv2d_same_padding_is_tensorflows(float64, k, s):
    conv = built(Conv2D(2, k, strides=s, padding="same"), (7, 9, 3))
    kernel, bias = conv.get_weights()
    x = rand(2, 7, 9, 3)
    (t, b), (left, right) = same_pad(7, k, s), same_pad(9, k, s)
    xt = torch.nn.functional.pad(torch.tensor(x).permute(0, 3, 1, 2), (left, right, t, b))
    want = torch.nn.functional.conv2d(xt, torch.tensor(kernel).permute(3, 2, 0, 1), torch.tensor(bias), stride=s)
    got = conv(x)
    assert got.shape[1:] == conv.output_shape[1:]
    np.testing.assert_allclose(got.data, want.permute(0, 2, 3, 1).numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("k, s", [(2, 2), (3, 2), (3, 1)])
def test_pooling_matches_transposed_dagrad_pooling(float64, padding, k, s):
    x = rand(2, 7, 9, 3)
    xt = torch.tensor(x).permute(0, 3, 1, 2)
    (t, b), (left, right) = same_pad(7, k, s), same_pad(9, k, s)
    widths = (left, right, t, b) if padding == "same" else (0, 0, 0, 0)
    want_max = torch.nn.functional.max_pool2d(torch.nn.functional.pad(xt, widths, value=-np.inf), k, s)
    ones = torch.nn.functional.pad(torch.ones(1, 1, 7, 9, dtype=torch.float64), widths)
    want_avg = torch.nn.functional.avg_pool2d(torch.nn.functional.pad(xt, widths), k, s)
    want_avg = want_avg / torch.nn.functional.avg_pool2d(ones, k, s)  # Keras averages real pixels only
    for layer, want in ((MaxPooling2D(k, s, padding), want_max), (AveragePooling2D(k, s, padding), want_avg)):
        np.testing.assert_allclose(layer(x).data, want.permute(0, 2, 3, 1).numpy(), rtol=1e-12, atol=1e-12)
        assert layer.output_shape == (None, *want.permute(0, 2, 3, 1).shape[1:])
    if padding == "valid":
        ref = nn.MaxPool2d(k, s)(dg.tensor(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        np.testing.assert_array_equal(MaxPooling2D(k, s)(x).data, ref.data)


def test_flatten_after_conv_uses_keras_hwc_order(float64):
    x = rand(2, 3, 4, 5)
    np.testing.assert_array_equal(Flatten()(x).data, x.reshape(2, -1))
    chw = x.transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(Flatten(data_format="channels_first")(chw).data, x.reshape(2, -1))


def test_gradients_flow_through_a_channels_last_stack(float64):
    stack = [Conv2D(4, 3, padding="same", activation="relu"), BatchNormalization(), MaxPooling2D(),
             Conv2D(3, 3), AveragePooling2D(padding="same"), Flatten(), Dense(2)]  # fmt: skip
    x = dg.tensor(rand(4, 8, 8, 2), requires_grad=True)
    y = x
    for layer in stack:
        y = layer(y)
    assert y.shape == (4, 2)
    (y * y).sum().backward()
    assert x.grad.shape == x.shape
    for layer in stack:
        for w in layer.trainable_weights:
            assert w.grad is not None and np.isfinite(w.grad.data).all()


def test_batch_normalization_follows_keras(float64):
    bn = built(BatchNormalization(momentum=0.9, epsilon=1e-3), (3, 3, 4))
    x = rand(5, 3, 3, 4) * 2 + 1
    y = bn(x).data
    mean, var = x.mean((0, 1, 2)), x.var((0, 1, 2))
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-10)
    gamma, beta, moving_mean, moving_var = bn.get_weights()
    np.testing.assert_allclose(moving_mean, 0.1 * mean, rtol=1e-12)
    np.testing.assert_allclose(moving_var, 0.9 + 0.1 * var, rtol=1e-12)  # the biased variance, as Keras
    bn.eval()
    np.testing.assert_allclose(bn(x).data, (x - moving_mean) / np.sqrt(moving_var + 1e-3), rtol=1e-10)
    assert [w.shape for w in bn.trainable_weights] == [(4,), (4,)]
    assert len(bn.non_trainable_weights) == 2


def test_frozen_batch_normalization_runs_in_inference_mode(float64):
    bn = built(BatchNormalization(), (3,))
    bn.trainable = False
    x = rand(6, 3)
    np.testing.assert_allclose(bn(x).data, x / np.sqrt(1 + 1e-3), rtol=1e-12)
    assert bn.trainable_weights == [] and len(bn.non_trainable_weights) == 4
    assert not any(p.requires_grad for p in bn.parameters())


def test_dropout_trains_and_infers():
    d = Dropout(0.5)
    x = dg.ones(1000)[None]
    y = d(x).data
    assert set(np.unique(y)) <= {0.0, 2.0} and 0.3 < (y == 0).mean() < 0.7
    d.eval()
    assert d(x) is x


def test_set_weights_checks_shapes():
    d = built(Dense(2), (3,))
    d.set_weights([np.ones((3, 2)), np.arange(2.0)])
    np.testing.assert_array_equal(d.bias.data, [0, 1])
    with pytest.raises(ShapeError, match=r"weight shape \(3, 2\) is not compatible with provided weight shape"):
        d.set_weights([np.ones((2, 3)), np.zeros(2)])
    with pytest.raises(ShapeError, match="expects 2 weight arrays, received 1"):
        d.set_weights([np.ones((3, 2))])


def test_built_layers_check_their_inputs():
    d = built(Dense(2), (3,))
    with pytest.raises(ShapeError, match=r'Dense "dense.*": expected axis -1 of the input to have size 3'):
        d(dg.ones(4, 5))
    with pytest.raises(ShapeError, match="expected input of rank 4"):
        Conv2D(2, 3)(dg.ones(4, 5))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Dense(0), "Dense: expected units to be a positive int"),
        (lambda: Dense(3, activation="foo"), "Dense: unknown activation 'foo'"),
        (lambda: Dense(3, kernel_initializer="foo"), "Dense: unknown initializer 'foo'"),
        (lambda: Dense(3, foo=1), r"Dense: unrecognized keyword arguments \['foo'\]"),
        (lambda: Conv2D(4, 3, padding="full"), "Conv2D: expected padding to be one of"),
        (lambda: Conv2D(4, (3, 3, 3)), "Conv2D: expected kernel_size to be a positive int or 2 positive ints"),
        (lambda: Dropout(1.5), "Dropout: invalid value for `rate`"),
        (lambda: Reshape((-1, -1)), "Reshape: expected target_shape"),
        (lambda: BatchNormalization(momentum=1.0), r"BatchNormalization: expected momentum in \[0, 1\)"),
    ],
)
def test_argument_errors(make, message):
    with pytest.raises(ArgumentError, match=message):
        make()


def test_initializers_follow_keras_fans():
    dg.manual_seed(0)
    assert initializers.compute_fans((3, 3, 8, 16)) == (72, 144)
    w = initializers.get("glorot_uniform")((400, 200))
    limit = np.sqrt(6 / 600)
    assert w.dtype == np.float32 and np.abs(w).max() <= limit and np.abs(w).max() > 0.95 * limit
    h = initializers.get("he_normal")((2000, 100))
    assert abs(h.std() - np.sqrt(2 / 2000)) < 0.05 * np.sqrt(2 / 2000)
    assert np.abs(h).max() <= 2 * np.sqrt(2 / 2000) / 0.87962566103423978 + 1e-6
    assert initializers.get("GlorotNormal").mode == "fan_avg"
    np.testing.assert_array_equal(initializers.RandomNormal(seed=3)((4,)), initializers.RandomNormal(seed=3)((4,)))


def test_channels_last_stack_passes_gradcheck(float64):
    dg.manual_seed(1)
    stack = [Conv2D(3, 2, strides=2, padding="same", activation="tanh"), AveragePooling2D(padding="same"),
             Flatten(), Dense(2, activation="softmax")]  # fmt: skip
    x = dg.tensor(rand(2, 5, 5, 2), requires_grad=True)

    def run(x):
        for layer in stack:
            x = layer(x)
        return x

    assert dg.autograd.gradcheck(run, (x,), check_forward_ad=False)


def test_conv_activation_acts_on_channels_last_axis(float64):
    conv = built(Conv2D(3, 1, activation="softmax"), (2, 2, 4))
    plain = built(Conv2D(3, 1), (2, 2, 4))
    plain.set_weights(conv.get_weights())
    x = rand(2, 2, 2, 4)
    z = plain(x).data
    want = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    np.testing.assert_allclose(conv(x).data, want, rtol=1e-12)
