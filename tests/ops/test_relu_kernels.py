"""The numba ReLU kernels equal the NumPy path, NaN included, and take only large contiguous float arrays."""

import time

import numpy as np
import pytest

import dagrad as dg
import dagrad.nn.functional as F
from dagrad import blas
from dagrad.ops import _direct_conv, activation

pytest.importorskip("numba")
if not _direct_conv.ENABLED:
    pytest.skip("DAGRAD_NUMBA=0 turns the kernels off", allow_module_level=True)

BIG = (4, 8, 16, 17)  # 8,704 elements: above the kernels' MIN_SIZE


def _run(x: np.ndarray, g: np.ndarray, jit: bool, monkeypatch):
    with monkeypatch.context() as m:
        if not jit:
            m.setattr(activation, "_relu_jit", False)
        t = dg.tensor(x, requires_grad=True)
        y = F.relu(t)
        y.backward(dg.tensor(g))
    return y.detach().numpy(), t.grad.numpy()


@pytest.mark.parametrize("threaded", [False, True], ids=["serial", "threaded"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_equal_the_numpy_path_with_nan(dtype, threaded, monkeypatch):
    rng = np.random.default_rng(0)
    x, g = rng.standard_normal(BIG).astype(dtype), rng.standard_normal(BIG).astype(dtype)
    x.reshape(-1)[:4] = [np.nan, -0.0, 0.0, -np.inf]
    g.reshape(-1)[4:6] = np.nan
    x.reshape(-1)[5] = -1.0  # a NaN gradient where the unit is off stays NaN, as NaN * 0 does in NumPy
    monkeypatch.setattr(blas, "_kernels_at", time.perf_counter() if threaded else -10.0)  # beside conv kernels?
    got = _run(x, g, True, monkeypatch)
    want = _run(x, g, False, monkeypatch)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    assert np.isnan(got[0].reshape(-1)[0]) and np.isnan(got[1].reshape(-1)[5])


def test_only_large_contiguous_arrays_take_the_kernels(monkeypatch):
    calls = []
    monkeypatch.setattr(blas, "_kernels_at", -10.0)  # no convolution kernels running: the serial pair
    jit = activation._relu_kernels(np.zeros(1 << 16, np.float32))
    assert jit is not None
    for name in ("relu_forward", "relu_backward"):
        fn = getattr(jit, name)
        monkeypatch.setattr(jit, name, lambda *a, fn=fn, name=name: calls.append(name) or fn(*a))
    x = dg.randn(*BIG, requires_grad=True)
    F.relu(x).backward(dg.randn(*BIG))
    assert calls == ["relu_forward", "relu_backward"]
    calls.clear()
    F.relu(x).sum().backward()  # sum's gradient is a broadcast view: NumPy
    assert calls == ["relu_forward"]
    calls.clear()
    F.relu(dg.randn(4, 8))  # small
    F.relu(dg.randn(*BIG).transpose(0, 3))  # strided
    F.relu(dg.randint(0, 5, BIG))  # integers
    assert calls == []
