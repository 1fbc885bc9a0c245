"""The numba 2x2 max-pooling kernels equal the NumPy path: values, first-maximum ties, NaN, and gradients."""

import numpy as np
import pytest

import dagrad as dg
import dagrad.nn.functional as F
from dagrad.ops import _direct_conv, pool

pytest.importorskip("numba")
if not _direct_conv.ENABLED:
    pytest.skip("DAGRAD_NUMBA=0 turns the kernels off", allow_module_level=True)


def _run(x: np.ndarray, jit: bool, monkeypatch):
    if not jit:
        monkeypatch.setattr(pool, "_pool_jit", False)
    t = dg.tensor(x, requires_grad=True)
    y = F.max_pool2d(t, 2)
    y.backward(dg.tensor(np.arange(y.numel(), dtype=x.dtype).reshape(y.shape) + 1))
    return y.detach().numpy(), t.grad.numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_jit_pooling_equals_the_numpy_path_with_ties(dtype, monkeypatch):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 3, size=(3, 4, 6, 8)).astype(dtype)  # many tied maxima: the first one takes the gradient
    want = _run(x, False, monkeypatch)
    monkeypatch.undo()
    got = _run(x, True, monkeypatch)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_jit_pooling_propagates_nan_and_is_used(monkeypatch):
    x = np.zeros((1, 1, 4, 4), np.float32)
    x[0, 0, 1, 1] = np.nan
    calls = []
    real = pool._jit_2x2
    monkeypatch.setattr(pool, "_jit_2x2", lambda grid, a: calls.append(1) or real(grid, a))
    y = F.max_pool2d(dg.tensor(x), 2).numpy()
    assert np.isnan(y[0, 0, 0, 0]) and (y[0, 0].ravel()[1:] == 0).all()
    assert calls and real(pool._Grid((2, 2), (2, 2), (1, 1), (0, 0), (4, 4), (2, 2)), x) is not None
    assert real(pool._Grid((3, 3), (2, 2), (1, 1), (0, 0), (5, 5), (2, 2)), x) is None  # only tiling 2x2 windows
