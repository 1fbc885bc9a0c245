"""dagrad.blas.matmul: NumPy's product, with small GEMMs kept on the calling thread."""

import numpy as np
import pytest

from dagrad import blas


@pytest.fixture
def swaps(monkeypatch):
    """Record every thread-count change matmul asks of OpenBLAS, starting from 2 threads."""
    calls, current = [], [2]

    def swap(n):
        calls.append(n)
        previous, current[0] = current[0], n
        return previous

    monkeypatch.setattr(blas, "_swap", swap)
    monkeypatch.setattr(blas, "_kernels_at", -10.0)
    return calls


@pytest.mark.parametrize("shapes", [((5, 7), (7, 3)), ((4, 5, 7), (7, 3)), ((2, 1, 5, 7), (3, 7, 2)), ((7,), (7, 3))])
def test_equals_numpy_matmul(shapes, swaps):
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(s).astype(np.float32) for s in shapes)
    np.testing.assert_array_equal(blas.matmul(a, b), np.matmul(a, b))
    out = np.empty(np.matmul(a, b).shape, np.float32)
    assert blas.matmul(a, b, out=out) is out
    np.testing.assert_array_equal(out, np.matmul(a, b))


def test_small_products_run_on_one_thread_and_restore_the_count(swaps):
    a, b = np.ones((128, 400), np.float32), np.ones((400, 120), np.float32)  # 6.1M multiply-adds
    blas.matmul(a, b)
    assert swaps == [1, 2]


def test_large_products_keep_every_thread(swaps):
    a, b = np.ones((128, 784), np.float32), np.ones((784, 512), np.float32)  # 51M multiply-adds
    blas.matmul(a, b)
    assert swaps == []


def test_beside_numba_kernels_the_bar_rises(swaps):
    a, b = np.ones((1024, 400), np.float32), np.ones((400, 120), np.float32)  # 49M: LeNet's C5 at batch 1024
    blas.matmul(a, b)
    assert swaps == []
    blas.kernels_ran()
    blas.matmul(a, b)
    assert swaps == [1, 2]
    blas.matmul(a, np.ones((400, 1000), np.float32))  # beyond SHARED_MACS: 1024 * 400 * 1000 = 410M
    assert swaps == [1, 2]


def test_the_count_is_restored_when_the_product_fails(swaps):
    with pytest.raises(ValueError):
        blas.matmul(np.ones((3, 4), np.float32), np.ones((5, 2), np.float32))
    assert swaps == [1, 2]


def test_finds_numpys_openblas_when_it_is_loaded():
    info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    if "openblas" not in str(info.get("name", "")).lower():
        pytest.skip("numpy is not built on OpenBLAS here")
    assert blas._swap is not None
    previous = blas._swap(1)
    assert blas._swap(previous) == 1


def test_one_thread_limits_openblas_and_restores_the_count(swaps):
    with blas.one_thread():
        assert swaps == [1]
    assert swaps == [1, 2]
    with pytest.raises(RuntimeError), blas.one_thread():
        raise RuntimeError("a kernel failed")
    assert swaps == [1, 2, 1, 2]


def test_gemm_addresses_are_numpys_ilp64_cblas_gemms():
    if blas._lib is None:
        pytest.skip("numpy is not built on OpenBLAS here")
    for dtype in (np.float32, np.float64):
        address = blas.gemm_address(dtype)
        if address is None:
            pytest.skip("this OpenBLAS has no 64-bit-integer cblas GEMM")
        assert isinstance(address, int) and address > 0
    assert blas.gemm_address(np.float32) != blas.gemm_address(np.float64)
    assert blas.gemm_address(np.int64) is None and blas.gemm_address(np.complex64) is None


STACKS = [  # (a, b): 64 products of 1.2M multiply-adds each, 75M in all
    ((1, 32, 144), (64, 1, 144, 256)),  # a convolution's per-image GEMMs: b split, a broadcast
    ((64, 32, 144), (144, 256)),  # a split, b broadcast
    ((64, 32, 144), (64, 144, 256)),  # both split
    ((64, 2, 16, 144), (1, 2, 144, 256)),  # the first axis split, a second batch axis kept whole
]


@pytest.mark.parametrize("shapes", STACKS)
def test_stacks_of_small_products_split_over_threads(shapes, swaps, monkeypatch):
    monkeypatch.setattr(blas, "_threads", lambda: 2)
    rng = np.random.default_rng(1)
    a, b = (rng.standard_normal(s).astype(np.float32) for s in shapes)
    seen = []
    real = np.matmul

    def spy(x, y, out=None):
        seen.append((x.shape, y.shape))
        return real(x, y, out=out)

    monkeypatch.setattr(blas.numpy, "matmul", spy)
    got = blas.matmul(a, b)
    monkeypatch.setattr(blas.numpy, "matmul", real)
    np.testing.assert_allclose(got, np.matmul(a, b), rtol=1e-5, atol=1e-5)
    assert len(seen) == 2 and swaps == [1, 2]  # two halves, OpenBLAS on one thread while they ran
    halves = [s[0][0] if len(s[0]) == len(got.shape) and s[0][0] > 1 else s[1][0] for s in seen]
    assert halves == [32, 32]
    out = np.empty_like(got)
    assert blas.matmul(a, b, out=out) is out
    np.testing.assert_allclose(out, got, rtol=1e-6)


def test_stacks_of_large_products_or_one_thread_are_not_split(swaps, monkeypatch):
    monkeypatch.setattr(blas, "_threads", lambda: 1)
    a, b = np.ones((1, 32, 144), np.float32), np.ones((64, 1, 144, 256), np.float32)
    blas.matmul(a, b)
    assert swaps == []
    monkeypatch.setattr(blas, "_threads", lambda: 2)
    blas.matmul(np.ones((4, 256, 512), np.float32), np.ones((4, 512, 256), np.float32))  # 33M each: OpenBLAS's
    assert swaps == []


def test_a_forked_child_starts_its_own_split_workers():
    import os

    if blas._threads is None:
        pytest.skip("no OpenBLAS thread count here")
    a, b = np.ones((1, 32, 144), np.float32), np.ones((64, 1, 144, 256), np.float32)
    blas.matmul(a, b)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if blas._pool is None and float(blas.matmul(a, b)[5, 0, 3, 7]) == 144.0 else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
