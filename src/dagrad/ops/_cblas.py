"""A GEMM that numba kernels call on their own threads: cblas_sgemm / cblas_dgemm of the OpenBLAS numpy loaded,
by the address dagrad.blas.gemm_address gives (passed in as an integer, so the kernels stay cacheable on disk:
numba does not cache a function that holds a ctypes pointer).

A kernel that builds a chunk's columns, multiplies them and copies the product out on each of numba's threads
keeps its data in that core's cache and hands no work between thread pools: NumPy's GEMMs between two numba
kernels run while OpenMP's workers still spin after the first one (measured here: a stride-2 convolution on
Python threads took 36 ms alone and 47 ms right after a numba kernel). Such kernels run through
dagrad.ops._direct_conv.run(..., gemm=True), which holds OpenBLAS at one thread, so each call runs on the thread
that makes it. This module imports numba and llvmlite."""

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

__all__ = ["gemm"]

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112  # CblasRowMajor, CblasNoTrans, CblasTrans


@intrinsic
def gemm(typingctx, address, trans_a, m, n, k, a, lda, b, ldb, c, ldc, beta):
    """c = op(a) @ b + beta * c for row-major (k, n) b and (m, n) c, op(a) = a (m, k) or, where trans_a is
    nonzero, a^T of a (k, m); arrays at integer addresses (`arr.ctypes.data`) with row strides lda, ldb, ldc in
    elements; by the cblas GEMM at `address`: sgemm for a float32 beta, dgemm for a float64 one (64-bit integer
    interface)."""
    ints = (address, trans_a, m, n, k, a, lda, b, ldb, c, ldc)
    if not all(isinstance(t, types.Integer) for t in ints) or beta not in (types.float32, types.float64):
        return None
    sig = types.void(address, trans_a, m, n, k, a, lda, b, ldb, c, ldc, beta)

    def codegen(context, builder, signature, args):
        i32, i64, ptr = ir.IntType(32), ir.IntType(64), ir.IntType(8).as_pointer()
        real = ir.FloatType() if signature.args[-1] == types.float32 else ir.DoubleType()
        fnty = ir.FunctionType(ir.VoidType(), [i32, i32, i32, i64, i64, i64, real, ptr, i64, ptr, i64, real, ptr, i64])
        at, ta, m_, n_, k_, a_, lda_, b_, ldb_, c_, ldc_, beta_ = args

        def wide(v):
            return builder.sext(v, i64) if v.type.width < 64 else v

        def pointer(v):
            return builder.inttoptr(wide(v), ptr)

        fn = builder.inttoptr(wide(at), fnty.as_pointer())
        order, no_trans = ir.Constant(i32, _ROW_MAJOR), ir.Constant(i32, _NO_TRANS)
        transposed = builder.icmp_signed("!=", wide(ta), ir.Constant(i64, 0))
        op_a = builder.select(transposed, ir.Constant(i32, _TRANS), no_trans)
        builder.call(
            fn,
            [order, op_a, no_trans, wide(m_), wide(n_), wide(k_), ir.Constant(real, 1.0), pointer(a_), wide(lda_),
             pointer(b_), wide(ldb_), beta_, pointer(c_), wide(ldc_)],
        )  # fmt: skip
        return context.get_dummy_value()

    return sig, codegen
