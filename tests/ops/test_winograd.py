"""Winograd's F(4x4, 3x3) path equals the direct convolution (rounding apart), and is taken where it should be."""

import numpy as np
import pytest

import dagrad as dg
import dagrad.nn.functional as F
from dagrad.ops import _direct_conv, _winograd

pytest.importorskip("numba")
if not _direct_conv.ENABLED:
    pytest.skip("DAGRAD_NUMBA=0 turns the kernels off", allow_module_level=True)

CASES = [  # (N, C, O, H, W, padding ((top, bottom), (left, right)))
    (3, 8, 5, 8, 8, ((1, 1), (1, 1))),
    (2, 6, 7, 9, 7, ((1, 1), (1, 1))),  # output not a multiple of the 4x4 tile: partial tiles cropped
    (2, 5, 4, 6, 11, ((2, 1), (0, 2))),  # unequal padding
    (2, 3, 3, 5, 6, ((0, 0), (0, 0))),
    (70, 3, 66, 4, 4, ((1, 1), (1, 1))),  # lanes (images x channels) past one block of the kernels
]


@pytest.mark.parametrize("case", CASES, ids=[str(c) for c in CASES])
@pytest.mark.parametrize("chunk", [1 << 20, 3000])  # one chunk; a chunk per image or two
def test_winograd_equals_the_direct_kernels(case, chunk, monkeypatch):
    monkeypatch.setattr(_winograd, "CHUNK_BYTES", chunk)
    n, c, o, h, w, padding = case
    rng = np.random.default_rng(4)
    x, wt, b = rng.standard_normal((n, c, h, w)), rng.standard_normal((o, c, 3, 3)), rng.standard_normal(o)
    want = _direct_conv.conv2d(x, wt, b, padding)
    got = _winograd.conv2d(x, wt, b, padding)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-11)
    got32 = _winograd.conv2d(x.astype(np.float32), wt.astype(np.float32), None, padding)
    want -= b[:, None, None]
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, want, rtol=0, atol=2e-5 * np.abs(want).max())


@pytest.mark.parametrize("case", CASES, ids=[str(c) for c in CASES])
@pytest.mark.parametrize("chunk", [1 << 20, 3000])
def test_winograd_weight_grad_equals_the_direct_kernel(case, chunk, monkeypatch):
    monkeypatch.setattr(_winograd, "CHUNK_BYTES", chunk)
    n, c, o, h, w, padding = case
    (top, bottom), (left, right) = padding
    rng = np.random.default_rng(8)
    x, g = rng.standard_normal((n, c, h, w)), rng.standard_normal((n, o, h + top + bottom - 2, w + left + right - 2))
    want = _direct_conv.conv2d_weight_grad(x, g, (3, 3), padding)
    got = _winograd.weight_grad(x, g, padding)
    assert got.shape == want.shape == (o, c, 3, 3)
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-11)
    got32 = _winograd.weight_grad(x.astype(np.float32), g.astype(np.float32), padding)
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, want, rtol=0, atol=2e-5 * np.abs(want).max())


def test_wide_convolutions_on_enough_positions_take_winograd(monkeypatch):
    calls = []
    real = _winograd.conv2d
    monkeypatch.setattr(_winograd, "conv2d", lambda *a: calls.append(a[0].shape) or real(*a))
    conv = dg.nn.Conv2d(64, 64, 3, padding=1)
    xin = dg.randn(64, 64, 8, 8)
    with dg.no_grad():
        big = conv(xin)  # ResNet-20's third stage at batch 64: 4,096 output positions
        conv(dg.randn(2, 64, 8, 8))  # 128 positions: the direct kernels
        dg.nn.Conv2d(16, 16, 3, padding=1)(dg.randn(64, 16, 8, 8))  # 16 channels: the direct kernels
        dg.nn.Conv2d(64, 64, 3, stride=2, padding=1)(dg.randn(64, 64, 16, 16))  # strided: not this path
    assert calls == [(64, 64, 8, 8)]
    monkeypatch.setattr(_winograd, "MIN_POSITIONS", 10**12)
    with dg.no_grad():
        direct = conv(xin)
    assert len(calls) == 1
    np.testing.assert_allclose(big.numpy(), direct.numpy(), rtol=0, atol=2e-5 * np.abs(direct.numpy()).max())


def _conv_and_grads(x0, w0, padding):
    x, w = dg.tensor(x0, requires_grad=True), dg.tensor(w0, requires_grad=True)
    y = F.conv2d(x, w, padding=padding)
    (y * y).sum().backward()
    return y.detach().numpy(), x.grad.numpy(), w.grad.numpy()


def test_gradients_through_winograd_match_the_direct_path(monkeypatch):
    rng = np.random.default_rng(5)
    x0, w0 = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    want = _conv_and_grads(x0, w0, 1)
    monkeypatch.setattr(_winograd, "MIN_CHANNELS", 1)
    monkeypatch.setattr(_winograd, "MIN_POSITIONS", 1)
    calls = []
    for name in ("conv2d", "weight_grad"):
        real = getattr(_winograd, name)
        monkeypatch.setattr(_winograd, name, lambda *a, real=real, name=name: calls.append(name) or real(*a))
    for got, ref in zip(_conv_and_grads(x0, w0, 1), want):
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10)
    assert sorted(calls) == ["conv2d", "conv2d", "weight_grad"]  # forward, input gradient, weight gradient


@pytest.mark.parametrize("padding", [1, 0, 2])
def test_a_wide_layers_gradients_take_winograd(padding, monkeypatch):
    rng = np.random.default_rng(6)
    x0, w0 = rng.standard_normal((40, 32, 9, 7)), rng.standard_normal((33, 32, 3, 3))
    calls, grads = [], []
    real, real_grad = _winograd.conv2d, _winograd.weight_grad
    monkeypatch.setattr(_winograd, "conv2d", lambda *a: calls.append(a[3]) or real(*a))
    monkeypatch.setattr(_winograd, "weight_grad", lambda *a: grads.append(a[2]) or real_grad(*a))
    got = _conv_and_grads(x0, w0, padding)
    flip = (2 - padding, 2 - padding)
    assert calls[-1] == (flip, flip) and len(calls) == (1 if padding == 0 else 2)  # 40 x 7x5 outputs: too few
    assert grads == ([] if padding == 0 else [((padding, padding), (padding, padding))])
    monkeypatch.setattr(_winograd, "MIN_POSITIONS", 10**12)
    for g, r in zip(got, _conv_and_grads(x0, w0, padding)):
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-10)


def test_layers_wider_than_the_direct_kernels_take_winograd_for_every_pass(monkeypatch):
    rng = np.random.default_rng(9)
    x0, w0 = rng.standard_normal((8, 180, 16, 16)), rng.standard_normal((180, 180, 3, 3)) / 40  # 1,620 taps
    assert 180 * 9 > _direct_conv.MAX_TAPS
    calls = []
    for name in ("conv2d", "weight_grad"):
        real = getattr(_winograd, name)
        monkeypatch.setattr(_winograd, name, lambda *a, real=real, name=name: calls.append(name) or real(*a))
    got = _conv_and_grads(x0, w0, 1)
    assert sorted(calls) == ["conv2d", "conv2d", "weight_grad"]
    monkeypatch.setattr(_winograd, "MIN_POSITIONS", 10**12)  # the im2col / GEMM paths
    for g, r in zip(got, _conv_and_grads(x0, w0, 1)):
        np.testing.assert_allclose(g, r, rtol=1e-9, atol=1e-9 * np.abs(r).max())
    assert len(calls) == 3


def test_wide_layers_need_enough_tiles_to_pay_for_the_weights_transform():
    pad = ((1, 1), (1, 1))
    x = np.empty((64, 512, 7, 7), np.float32)  # 256 tiles for 512 x 512 channel pairs
    assert not _winograd.suits(x, (3, 3), 512, pad)
    assert _winograd.suits(np.empty((64, 256, 14, 14), np.float32), (3, 3), 256, pad)  # 1,024 tiles
    assert _winograd.suits(np.empty((64, 64, 8, 8), np.float32), (3, 3), 64, pad)  # 256 tiles, 64 x 64
    assert not _winograd.suits(np.empty((64, 64, 8, 8), np.float32), (3, 3), 16, pad)  # 16 output channels
    assert not _winograd.suits(np.empty((64, 64, 8, 8), np.int32), (3, 3), 64, pad)
