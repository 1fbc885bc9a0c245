"""Dropout layers: training-only, inverted scaling, channel masks, seeding, gradients, statistics, errors.

PyTorch's random masks cannot be reproduced, so parity is checked on what is deterministic: the kept values
(x / (1 - p)), the gradient (the same mask), eval mode, p = 0 and p = 1, reprs, and the drop rates.
"""

import numpy as np
import pytest

import dagrad as dg
from dagrad.errors import ArgumentError
from dagrad.nn.dropout import AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d, FeatureAlphaDropout
from dagrad.ops.dropout import alpha_dropout, dropout, dropout2d

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", [dg.float32, dg.float64])
def test_dropout_scales_kept_values_and_routes_gradients(dtype):
    x = dg.tensor(np.random.default_rng(1).uniform(0.5, 1.5, (200, 50)), dtype=dtype, requires_grad=True)
    y = Dropout(0.3)(x)
    assert y.dtype == dtype
    kept = y.data != 0
    assert 0.27 < 1 - kept.mean() < 0.33
    np.testing.assert_allclose(y.data[kept], x.data[kept] / 0.7, rtol=1e-6)
    g = np.random.default_rng(0).standard_normal(x.shape).astype(dtype)
    y.backward(dg.tensor(g))
    np.testing.assert_allclose(x.grad.data, np.where(kept, g / 0.7, 0), rtol=1e-6)


def test_eval_mode_and_p_zero_are_the_identity():
    x = dg.randn(4, 5, requires_grad=True)
    for layer in (Dropout(0.5), Dropout2d(0.5), AlphaDropout(0.5), FeatureAlphaDropout(0.5)):
        assert layer.eval()(x.reshape(2, 2, 5)) is not None
        z = x.reshape(2, 2, 5)
        assert layer(z) is z
    assert Dropout(0.0)(x) is x
    assert dropout(x, 0.5, training=False) is x


def test_p_one_drops_everything():
    x = dg.randn(3, 4, requires_grad=True)
    y = Dropout(1.0)(x)
    assert not y.data.any()
    y.sum().backward()
    assert not x.grad.data.any()
    np.testing.assert_array_equal(y.data, torch.nn.functional.dropout(torch.tensor(x.data), 1.0).numpy())


def test_manual_seed_repeats_the_mask():
    x = dg.ones(10, 10)
    dg.manual_seed(5)
    a = dropout(x, 0.5).data
    b = dropout(x, 0.5).data
    dg.manual_seed(5)
    np.testing.assert_array_equal(a, dropout(x, 0.5).data)
    assert (a != b).any()


@pytest.mark.parametrize(
    "layer,shape,mask_shape",
    [
        (Dropout1d, (8, 16, 5), (8, 16, 1)),
        (Dropout1d, (16, 5), (16, 1)),
        (Dropout2d, (8, 16, 3, 4), (8, 16, 1, 1)),
        (Dropout2d, (16, 3, 4), (16, 1, 1)),
        (Dropout3d, (4, 16, 2, 3, 2), (4, 16, 1, 1, 1)),
    ],
)
def test_channel_dropout_zeroes_whole_channels(layer, shape, mask_shape):
    x = dg.rand(*shape) + 1
    y = layer(0.5)(x)
    ratio = y.data / x.data
    per_channel = ratio.reshape(mask_shape + (-1,))
    assert np.all(per_channel == per_channel[..., :1])  # one value per channel
    assert set(np.unique(ratio)) <= {0.0, 2.0} and len(np.unique(ratio)) == 2


def test_alpha_dropout_keeps_mean_and_variance_and_matches_torch_values():
    x = dg.randn(400, 500)
    y = AlphaDropout(0.2)(x)
    assert abs(float(y.data.mean())) < 0.02 and abs(float(y.data.std()) - 1) < 0.02
    # kept values are a * x + b and dropped ones a * alpha' + b, with torch's a and b
    p, alpha = 0.2, 1.7580993408473766
    a = 1 / np.sqrt((alpha**2 * p + 1) * (1 - p))
    b = alpha * a * p
    dropped = np.isclose(y.data, -alpha * a + b, atol=1e-6)
    assert 0.18 < dropped.mean() < 0.22
    np.testing.assert_allclose(y.data[~dropped], a * x.data[~dropped] + b, rtol=1e-5, atol=1e-6)
    t = torch.nn.functional.alpha_dropout(torch.tensor(x.data), 0.2, training=True).numpy()
    assert np.isclose(t, -alpha * a + b, atol=1e-6).mean() == pytest.approx(0.2, abs=0.02)


def test_feature_alpha_dropout_drops_channels():
    y = FeatureAlphaDropout(0.5)(dg.randn(6, 8, 10)).data
    floor = y[:, :, :1]
    dropped = np.all(np.isclose(y, floor), axis=-1)
    assert dropped.any() and not dropped.all()


def test_repr_matches_torch():
    pairs = [
        (Dropout(), torch.nn.Dropout()),
        (Dropout2d(0.3, True), torch.nn.Dropout2d(0.3, True)),
        (AlphaDropout(0.1), torch.nn.AlphaDropout(0.1)),
        (Dropout3d(), torch.nn.Dropout3d()),
    ]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)


def test_double_backward_through_dropout():
    x = dg.randn(5, 6, dtype=dg.float64, requires_grad=True)
    y = dropout(x, 0.4)
    mask = y.data / x.data
    (gx,) = dg.autograd.grad((y * y).sum(), [x], create_graph=True)
    (gxx,) = dg.autograd.grad(gx.sum(), [x])
    np.testing.assert_allclose(gxx.data, 2 * mask**2, rtol=1e-10)


@pytest.mark.parametrize(
    "call,error,message",
    [
        (lambda: Dropout(1.5), ArgumentError, "Dropout: expected p between 0 and 1, received p=1.5"),
        (lambda: Dropout2d(-0.1), ArgumentError, "Dropout2d: expected p between 0 and 1, received p=-0.1"),
        (lambda: dropout(dg.randn(3), p=2), ArgumentError, "dropout: expected p between 0 and 1, received p=2"),
        (lambda: dropout2d(dg.randn(3, 4)), dg.ShapeError,
         "dropout2d: expected a 3-D (unbatched) or 4-D (batched) input of shape (N, C, H, W), received shape (3, 4)"),
        (lambda: alpha_dropout(dg.arange(3), 0.5, True), dg.DtypeError,
         "alpha_dropout: expected a floating point input, received dtype int64"),
    ],
)  # fmt: skip
def test_errors_name_the_layer(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value)
