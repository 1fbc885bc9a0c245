"""The numba batch-norm kernels equal the NumPy path: outputs, running statistics, gradients, NaN, float64 checks."""

import numpy as np
import pytest

import dagrad as dg
import dagrad.nn.functional as F
from dagrad.autograd import gradcheck
from dagrad.ops import _direct_conv, norm

pytest.importorskip("numba")
if not _direct_conv.ENABLED:
    pytest.skip("DAGRAD_NUMBA=0 turns the kernels off", allow_module_level=True)


def _run(x, affine: bool, jit: bool, monkeypatch, seed: int = 0):
    """batch_norm forward + backward in training: (y, gx, gw, gb, running mean, running var) as arrays."""
    if not jit:
        monkeypatch.setattr(norm, "_bn_jit", False)
    rng = np.random.default_rng(seed)
    c = x.shape[1]
    t = dg.tensor(x, requires_grad=True)
    w = dg.tensor(rng.uniform(0.5, 1.5, c).astype(x.dtype), requires_grad=True) if affine else None
    b = dg.tensor(rng.standard_normal(c).astype(x.dtype), requires_grad=True) if affine else None
    rm, rv = dg.zeros(c, dtype=t.dtype), dg.ones(c, dtype=t.dtype)
    y = F.batch_norm(t, rm, rv, w, b, training=True)
    y.backward(dg.tensor(rng.standard_normal(x.shape).astype(x.dtype)))
    grads = [None if p is None else p.grad.numpy() for p in (t, w, b)]
    monkeypatch.undo()
    return [y.detach().numpy(), *grads, rm.numpy(), rv.numpy()]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(8, 3, 4, 5), (2, 5, 16), (3, 2, 2, 3, 4)])
@pytest.mark.parametrize("affine", [True, False])
def test_kernels_equal_the_numpy_path(shape, dtype, affine, monkeypatch):
    x = (np.random.default_rng(1).standard_normal(shape) * 3 + 2).astype(dtype)
    got, want = _run(x, affine, True, monkeypatch), _run(x, affine, False, monkeypatch)
    tol = 2e-5 if dtype == np.float32 else 1e-11
    for g, r in zip(got, want):
        if r is None:
            assert g is None
        else:
            np.testing.assert_allclose(g, r, rtol=tol, atol=tol)


def test_kernels_take_planes_of_sixteen_and_more(monkeypatch):
    calls = []
    jit = norm._jit(np.zeros((1, 1, 16), np.float32), 16)
    assert jit is not None
    for name in ("batch_norm_forward", "batch_norm_backward", "channel_affine"):
        fn = getattr(jit, name)
        monkeypatch.setattr(jit, name, lambda *a, fn=fn, name=name: calls.append(name) or fn(*a))
    x = dg.randn(4, 3, 4, 4, requires_grad=True)
    F.batch_norm(x, None, None, training=True).sum().backward()
    assert calls == ["batch_norm_forward", "batch_norm_backward"]
    calls.clear()
    F.batch_norm(dg.randn(4, 3, 5), None, None, training=True)  # BatchNorm1d-sized planes: NumPy
    F.batch_norm(dg.randn(4, 3, 5), dg.zeros(3), dg.ones(3), training=False)
    assert calls == []
    F.batch_norm(dg.randn(4, 3, 4, 4), dg.zeros(3), dg.ones(3), training=False)
    assert calls == ["channel_affine"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fixed_statistics_equal_the_numpy_path(dtype, monkeypatch):
    rng = np.random.default_rng(5)
    x, w, b = (dg.tensor(rng.standard_normal(s).astype(dtype)) for s in ((3, 4, 5, 6), (4,), (4,)))
    rm, rv = dg.tensor(rng.standard_normal(4).astype(dtype)), dg.tensor(rng.uniform(0.5, 2, 4).astype(dtype))
    got = F.batch_norm(x, rm, rv, w, b, training=False).numpy()
    monkeypatch.setattr(norm, "_bn_jit", False)
    want = F.batch_norm(x, rm, rv, w, b, training=False).numpy()
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_nan_reaches_the_output_of_its_channel_only():
    x = np.random.default_rng(2).standard_normal((2, 3, 4, 4)).astype(np.float32)
    x[1, 1, 2, 3] = np.nan
    y = F.batch_norm(dg.tensor(x), None, None, training=True).numpy()
    assert np.isnan(y[:, 1]).all() and np.isfinite(y[:, [0, 2]]).all()


def test_a_large_mean_keeps_the_variance_exact():
    """The mean is taken before the squared deviations: 1e4 + N(0, 1) data still normalise to unit variance."""
    x = (1e4 + np.random.default_rng(3).standard_normal((16, 2, 8, 8))).astype(np.float32)
    y = F.batch_norm(dg.tensor(x), None, None, training=True).numpy()
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1.0, rtol=1e-3)


def test_float64_gradients_through_the_kernels_pass_gradcheck():
    rng = np.random.default_rng(4)
    x = dg.tensor(rng.standard_normal((3, 2, 4, 4)), requires_grad=True)
    w = dg.tensor(rng.uniform(0.5, 1.5, 2), requires_grad=True)
    b = dg.tensor(rng.standard_normal(2), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), (x, w, b))
