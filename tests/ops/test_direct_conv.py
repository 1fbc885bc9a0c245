"""The numba direct-convolution kernels equal the NumPy GEMM paths they replace, and are picked where they should be."""

import numpy as np
import pytest

import dagrad as dg
import dagrad.nn.functional as F
from dagrad.ops import _direct_conv

pytest.importorskip("numba")
if not _direct_conv.ENABLED:
    pytest.skip("DAGRAD_NUMBA=0 turns the kernels off", allow_module_level=True)

CASES = [  # (N, C, H, W, O, kh, kw, padding)
    (3, 1, 12, 10, 6, 5, 5, 2),
    (2, 6, 9, 9, 16, 5, 5, 0),
    (2, 4, 8, 7, 5, 3, 3, 1),
    (2, 3, 7, 6, 2, 4, 3, "same"),  # even kernel height: unequal top and bottom padding
    (1, 2, 6, 6, 3, 2, 5, (1, 3)),
    (7, 3, 5, 4, 4, 3, 3, 1),  # small planes: images stacked four to a grid, the last stack partial
    (9, 2, 6, 5, 3, 4, 3, "same"),  # stacked with unequal top and bottom padding
]


def _run(case, dtype, direct: bool, monkeypatch):
    n, c, h, w, o, kh, kw, padding = case
    monkeypatch.setattr(_direct_conv, "MAX_TAPS", 10**6 if direct else 0)
    rng = np.random.default_rng(0)
    x = dg.tensor(rng.standard_normal((n, c, h, w)).astype(dtype), requires_grad=True)
    wt = dg.tensor(rng.standard_normal((o, c, kh, kw)).astype(dtype), requires_grad=True)
    b = dg.tensor(rng.standard_normal(o).astype(dtype), requires_grad=True)
    y = F.conv2d(x, wt, b, padding=padding)
    y.backward(dg.tensor(rng.standard_normal(y.shape).astype(dtype)))
    return [t.detach().numpy() for t in (y, x.grad, wt.grad, b.grad)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=[str(c) for c in CASES])
def test_direct_kernels_equal_the_gemm_paths(case, dtype, monkeypatch):
    want = _run(case, dtype, False, monkeypatch)
    got = _run(case, dtype, True, monkeypatch)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    for g, r in zip(got, want):
        assert g.shape == r.shape
        np.testing.assert_allclose(g, r, rtol=tol, atol=tol)


def test_lenet_convolutions_take_the_direct_kernels(monkeypatch):
    calls = []
    for name in ("conv2d", "conv2d_input_grad", "conv2d_weight_grad"):
        fn = getattr(_direct_conv, name)
        monkeypatch.setattr(_direct_conv, name, lambda *a, fn=fn, name=name: calls.append(name) or fn(*a))
    x = dg.randn(4, 6, 14, 14, requires_grad=True)
    conv = dg.nn.Conv2d(6, 16, 5)
    conv(x).sum().backward()
    assert sorted(calls) == ["conv2d", "conv2d", "conv2d_input_grad", "conv2d_weight_grad"]  # input grad: conv2d
    calls.clear()
    dg.nn.Conv2d(64, 8, 5, padding=2)(dg.randn(2, 64, 8, 8)).sum()  # 1600 taps: still direct
    assert calls == ["conv2d"]
    calls.clear()
    dg.nn.Conv2d(256, 8, 3, padding=1)(dg.randn(2, 256, 4, 4)).sum()  # 2304 taps: im2col + GEMM
    dg.nn.Conv2d(16, 8, 1)(dg.randn(2, 16, 4, 4)).sum()  # 1x1 and 7x7: GEMMs win
    dg.nn.Conv2d(3, 8, 7, padding=3)(dg.randn(2, 3, 9, 9)).sum()
    dg.nn.Conv2d(8, 8, 3, stride=2, padding=1)(dg.randn(2, 8, 8, 8)).sum()  # strided: GEMM
    assert calls == []


WIDE = [(2, 2, ((1, 0), (0, 1))), (1, 7, ((0, 0), (3, 3))), (4, 1, ((2, 1), (0, 0)))]


@pytest.mark.parametrize("kh, kw, padding", WIDE)
def test_the_kernels_stay_exact_for_widths_they_do_not_unroll(kh, kw, padding):
    """Other widths are not dispatched to the kernels, but the kernels' general path computes them exactly."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 3, 6, 7))
    w = rng.standard_normal((4, 3, kh, kw))
    (top, bottom), (left, right) = padding
    want = F.conv2d(F.pad(dg.tensor(x), (left, right, top, bottom)), dg.tensor(w)).numpy()
    y = _direct_conv.conv2d(x, w, None, padding)
    np.testing.assert_allclose(y, want, rtol=1e-10, atol=1e-10)
    g = rng.standard_normal(y.shape)
    xt = dg.tensor(x, requires_grad=True)
    wt = dg.tensor(w, requires_grad=True)
    F.conv2d(F.pad(xt, (left, right, top, bottom)), wt).backward(dg.tensor(g))
    np.testing.assert_allclose(_direct_conv.conv2d_weight_grad(x, g, (kh, kw), padding), wt.grad.numpy(), rtol=1e-9)
    np.testing.assert_allclose(_direct_conv.conv2d_input_grad(g, w, padding), xt.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_integer_or_mixed_arrays_are_not_usable():
    a = np.zeros((2, 3, 4, 4), np.float32)
    assert _direct_conv.usable(a, a)
    assert _direct_conv.usable(a[:, :, ::2], a)  # strided arrays are copied to C order
    assert not _direct_conv.usable(a.astype(np.int64), a)
    assert not _direct_conv.usable(a, a.astype(np.float64))


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_a_forked_child_after_the_kernels_takes_the_numpy_paths():
    """GNU OpenMP cannot run in a child forked after the parent used it: the child computes the same result on
    the NumPy paths instead of being terminated by numba."""
    import os

    x, w = dg.randn(2, 1, 8, 8), dg.randn(3, 1, 5, 5)
    want = F.max_pool2d(F.conv2d(x, w, padding=2), 2).numpy()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report through the pipe, never return into pytest
        code = 1
        try:
            got = F.max_pool2d(F.conv2d(x, w, padding=2), 2).numpy()
            os.write(write, np.float64(np.abs(got - want).max()).tobytes())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    err = np.frombuffer(os.read(read, 8), np.float64)
    os.close(read)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert err.size == 1 and err[0] < 1e-5


@pytest.mark.parametrize("stride, padding, k", [(2, 1, 3), (2, 3, 7), (3, 0, 2), ((2, 1), ((1, 0), (2, 1)), 3)])
def test_im2col_kernels_equal_the_numpy_copies(stride, padding, k, monkeypatch):
    """Strided convolutions build their columns (and scatter their input gradient) on the numba im2col kernels:
    the same values and gradients as the NumPy slice copies."""
    from dagrad.ops import conv

    rng = np.random.default_rng(2)
    x0, w0 = rng.standard_normal((3, 2, 11, 10)), rng.standard_normal((4, 2, k, k))
    pad = padding if not isinstance(padding, tuple) or isinstance(padding[0], int) else None

    def run():
        x, w = dg.tensor(x0, requires_grad=True), dg.tensor(w0, requires_grad=True)
        if pad is None:  # asymmetric: pad explicitly, then a valid convolution
            (top, bottom), (left, right) = padding
            y = F.conv2d(F.pad(x, (left, right, top, bottom)), w, stride=stride)
        else:
            y = F.conv2d(x, w, stride=stride, padding=pad)
        y.backward(dg.tensor(np.cos(np.arange(y.numel())).reshape(y.shape)))
        return y.detach().numpy(), x.grad.numpy(), w.grad.numpy()

    assert conv._im2col_jit(x0, (k, k), (1, 1)) is not None
    got = run()
    monkeypatch.setattr(conv, "_im2col_kernels", False)
    for a, b in zip(got, run()):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11)


STRIDE2 = [  # (N, C, H, W, O, padding ((top, bottom), (left, right)))
    (3, 5, 9, 7, 6, ((1, 1), (1, 1))),  # odd sizes, O not a multiple of four
    (2, 3, 8, 10, 8, ((0, 0), (0, 0))),
    (5, 2, 7, 6, 4, ((2, 0), (0, 2))),  # unequal padding
    (7, 4, 6, 6, 5, ((1, 1), (1, 1))),  # small planes: stacked several to a grid, the last stack partial
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", STRIDE2, ids=[str(c) for c in STRIDE2])
def test_stride2_weight_grad_kernel_equals_the_gemm_path(case, dtype, monkeypatch):
    from dagrad.ops import conv

    n, c, h, w, o, padding = case
    rng = np.random.default_rng(3)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    (top, bottom), (left, right) = padding
    g = rng.standard_normal((n, o, (h + top + bottom - 3) // 2 + 1, (w + left + right - 3) // 2 + 1)).astype(dtype)
    args = (x, g, (3, 3), (2, 2), padding, (1, 1), 1)
    assert conv._stride2(*args)
    got = conv._weight_grad(*args)
    monkeypatch.setattr(_direct_conv, "MAX_TAPS", 0)
    assert not conv._stride2(*args)
    want = conv._weight_grad(*args)
    tol = 1e-4 if dtype == np.float32 else 1e-11
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_cblas_intrinsic_multiplies_strided_blocks_on_the_calling_thread(dtype):
    from numba import njit

    from dagrad import blas
    from dagrad.ops._cblas import gemm

    if blas.gemm_address(dtype) is None:
        pytest.skip("numpy's BLAS has no 64-bit-integer cblas GEMM here")

    @njit
    def product(at, a, b, c, beta):  # c[:, 1:] = a[:, :k] @ b + beta * c[:, 1:], through row strides
        m, k, n = a.shape[0], b.shape[0], b.shape[1]
        gemm(at, 0, m, n, k, a.ctypes.data, a.shape[1], b.ctypes.data, n, c[0, 1:].ctypes.data, c.shape[1], beta)

    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((4, 9)).astype(dtype), rng.standard_normal((6, 5)).astype(dtype)
    c = rng.standard_normal((4, 7)).astype(dtype)
    want = c.copy()
    want[:, 1:6] = a[:, :6] @ b + 2 * c[:, 1:6]
    with blas.one_thread():
        product(blas.gemm_address(dtype), a, b, c, dtype(2))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(c, want, rtol=tol, atol=tol)


def test_kernels_that_call_the_gemm_run_with_one_openblas_thread(monkeypatch):
    from dagrad import blas

    count, seen = [2], []

    def swap(n):
        previous, count[0] = count[0], n
        return previous

    monkeypatch.setattr(blas, "_swap", swap)
    _direct_conv.run(lambda: seen.append(count[0]), gemm=True)
    _direct_conv.run(lambda: seen.append(count[0]), long=False)
    with pytest.raises(ZeroDivisionError):
        _direct_conv.run(lambda: 1 / 0, gemm=True)
    assert seen == [1, 2] and count == [2] and not _direct_conv.LOCK.locked()


STRIDE2_FORWARD = STRIDE2 + [  # float32 rows of even width split as word pairs; odd widths and float64 one by one
    (4, 16, 32, 32, 32, ((1, 1), (1, 1))),  # ResNet-20's first downsampling layer
    (1, 3, 10, 12, 5, ((0, 2), (3, 1))),  # one image: the other threads get none; odd left padding
    (2, 2, 5, 4, 3, ((2, 2), (2, 2))),  # padding wider than a tap reaches
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", STRIDE2_FORWARD, ids=[str(c) for c in STRIDE2_FORWARD])
def test_stride2_forward_kernel_equals_the_gemm_path(case, dtype, monkeypatch):
    from dagrad import blas
    from dagrad.ops import conv

    n, c, h, w, o, padding = case
    if blas.gemm_address(dtype) is None:
        pytest.skip("numpy's BLAS has no 64-bit-integer cblas GEMM here")
    rng = np.random.default_rng(4)
    x, wt = rng.standard_normal((n, c, h, w)).astype(dtype), rng.standard_normal((o, c, 3, 3)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype)
    calls = []
    fn = _direct_conv.conv2d_stride2
    monkeypatch.setattr(_direct_conv, "conv2d_stride2", lambda *a: calls.append(a[3]) or fn(*a))
    got = [conv._conv(x, wt, bias, (2, 2), padding, (1, 1), 1) for bias in (b, None)]
    assert calls == [padding, padding]
    want = [conv._gemm_conv(x, wt, bias, (2, 2), padding, (1, 1), 1) for bias in (b, None)]
    tol = 1e-4 if dtype == np.float32 else 1e-11
    for g, r in zip(got, want):
        assert g.shape == r.shape and g.dtype == dtype
        np.testing.assert_allclose(g, r, rtol=tol, atol=tol)


def test_without_a_cblas_gemm_the_stride2_forward_takes_im2col(monkeypatch):
    from dagrad import blas

    calls = []
    monkeypatch.setattr(_direct_conv, "conv2d_stride2", lambda *a: calls.append(a))
    monkeypatch.setattr(blas, "_gemm_at", {})
    y = dg.nn.Conv2d(4, 6, 3, stride=2, padding=1)(dg.randn(2, 4, 9, 9))
    assert y.shape == (2, 6, 5, 5) and calls == []


def test_resnet_downsampling_takes_the_stride2_kernel(monkeypatch):
    from dagrad import blas

    calls = []
    for name in ("conv2d_stride2", "conv2d_stride2_weight_grad"):
        fn = getattr(_direct_conv, name)
        monkeypatch.setattr(_direct_conv, name, lambda *a, fn=fn, name=name: calls.append(name) or fn(*a))
    conv = dg.nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False)
    conv(dg.randn(2, 16, 8, 8)).sum().backward()
    forward = ["conv2d_stride2"] if blas.gemm_address(np.float32) is not None else []
    assert calls == forward + ["conv2d_stride2_weight_grad"] and conv.weight.grad.shape == (32, 16, 3, 3)
    dg.nn.Conv2d(16, 32, 3, stride=(2, 1), padding=1)(dg.randn(2, 16, 8, 8)).sum().backward()
    dg.nn.Conv2d(16, 32, 5, stride=2, padding=2)(dg.randn(2, 16, 8, 8)).sum().backward()
    assert len(calls) == len(forward) + 1


def test_stacks_share_the_images_out_evenly_between_threads(monkeypatch):
    forward, weight_grad, _ = _direct_conv.kernels()
    monkeypatch.setattr(_direct_conv, "_kernels", (forward, weight_grad, lambda: 2))
    assert _direct_conv._group(64, 8 * 9) == 8  # ResNet-20's 8x8 stage at batch 64: 4 stacks of 8 per thread, not 9s
    assert _direct_conv._group(1024, 8 * 9) == 9
    assert _direct_conv._group(64, 32 * 33) == 1 and _direct_conv._group(1, 72) == 1
    for n in range(1, 80):
        for plane in (20, 72, 140, 272, 700):
            g = _direct_conv._group(n, plane)
            assert 1 <= g <= max(1, -(-_direct_conv.SPAN // plane)) and g <= -(-n // 2)
