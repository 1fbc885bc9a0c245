"""A GEMM that numba kernels call on their own threads: cblas_sgemm / cblas_dgemm of the OpenBLAS numpy loaded,
by the address dagrad.blas.gemm_address gives (passed in as an integer, so the kernels stay cacheable on disk:
numba does not cache a function that holds a ctypes pointer).

A kernel that builds a chunk's columns, multiplies them and copies the product out on each of numba's threads
keeps its data in that core's cache and hands no work between thread pools: NumPy's GEMMs between two numba
kernels run while OpenMP's workers still spin after the first one (measured here: a stride-2 convolution on
Python threads took 36 ms alone and 47 ms right after a numba kernel). Callers hold dagrad.blas.one_thread(),
so each call runs on the thread that makes it. This module imports numba and llvmlite."""

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

__all__ = ["gemm"]

_ROW_MAJOR, _NO_TRANS = 101, 111  # CBLAS_ORDER.CblasRowMajor, CBLAS_TRANSPOSE.CblasNoTrans


@intrinsic
def gemm(typingctx, address, m, n, k, a, lda, b, ldb, c, ldc, beta):
    """c = a @ b + beta * c for row-major (m, k) a, (k, n) b, (m, n) c at integer addresses (`arr.ctypes.data`)
    with row strides lda, ldb, ldc in elements, by the cblas GEMM at `address`: sgemm for a float32 beta, dgemm for
    a float64 one (64-bit integer interface)."""
    ints = (address, m, n, k, a, lda, b, ldb, c, ldc)
    if not all(isinstance(t, types.Integer) for t in ints) or beta not in (types.float32, types.float64):
        return None
    sig = types.void(address, m, n, k, a, lda, b, ldb, c, ldc, beta)

    def codegen(context, builder, signature, args):
        i32, i64, ptr = ir.IntType(32), ir.IntType(64), ir.IntType(8).as_pointer()
        real = ir.FloatType() if signature.args[-1] == types.float32 else ir.DoubleType()
        fnty = ir.FunctionType(ir.VoidType(), [i32, i32, i32, i64, i64, i64, real, ptr, i64, ptr, i64, real, ptr, i64])
        at, m_, n_, k_, a_, lda_, b_, ldb_, c_, ldc_, beta_ = args

        def wide(v):
            return builder.sext(v, i64) if v.type.width < 64 else v

        def pointer(v):
            return builder.inttoptr(wide(v), ptr)

        fn = builder.inttoptr(wide(at), fnty.as_pointer())
        order, no_trans = ir.Constant(i32, _ROW_MAJOR), ir.Constant(i32, _NO_TRANS)
        builder.call(
            fn,
            [order, no_trans, no_trans, wide(m_), wide(n_), wide(k_), ir.Constant(real, 1.0), pointer(a_), wide(lda_),
             pointer(b_), wide(ldb_), beta_, pointer(c_), wide(ldc_)],
        )  # fmt: skip
        return context.get_dummy_value()

    return sig, codegen
