"""Pooling over the trailing 1, 2 or 3 spatial dims: max, average and adaptive pooling (as torch.nn.functional).

Inputs are (N, C, *spatial) or unbatched (C, *spatial); the ops work on any leading dims. A regular pooling
visits its k1*k2*... window offsets in scan order, each one a strided view of the (padded) input of the output's
shape, so no Python loop runs over samples or pixels. Max pooling keeps, per output, the offset of the FIRST
maximum (strict >, as PyTorch: flat backgrounds send their gradient to one element only) in the smallest
unsigned dtype; its backward scatters g through the same views. Average pooling's backward is the transposed
pooling. Every backward is itself a Function, so double backward works.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

from dagrad.autograd.function import Function, Sample
from dagrad.autograd.grad_mode import state
from dagrad.autograd.tensor import Tensor
from dagrad.backend import namespace
from dagrad.errors import DtypeError, ShapeError
from dagrad.ops import _direct_conv
from dagrad.ops.sampling import distinct

_SPATIAL = {1: "(C, L) or (N, C, L)", 2: "(C, H, W) or (N, C, H, W)", 3: "(C, D, H, W) or (N, C, D, H, W)"}


# ---- geometry ---------------------------------------------------------------------------------------------------
class _Grid:
    """Where the windows of a regular pooling lie along the trailing spatial dims.

    The input counts as padded by `lo` before and `hi` after each dim, so that every window (ceil_mode ones
    included) lies inside; `windows(x, value)` gives, per window offset in scan order, an array of the output's
    shape holding that offset's element of every window. Strided windows that overlap (3x3 stride 2) first split
    the input into its stride phases (x[..., r::s] for each residue r, contiguous copies), so each offset reads a
    contiguous block instead of a strided view, which NumPy runs several times faster.
    """

    __slots__ = ("kernel", "stride", "dilation", "lo", "hi", "size", "out")

    def __init__(self, kernel: tuple, stride: tuple, dilation: tuple, lo: tuple, size: tuple, out: tuple) -> None:
        self.kernel, self.stride, self.dilation, self.lo, self.size, self.out = kernel, stride, dilation, lo, size, out
        ends = ((o - 1) * s + (k - 1) * d + 1 for o, s, k, d in zip(out, stride, kernel, dilation))
        self.hi = tuple(max(0, e - p - n) for e, p, n in zip(ends, lo, size))

    @property
    def padded(self) -> bool:
        return any(self.lo) or any(self.hi)

    @property
    def padded_size(self) -> tuple[int, ...]:
        return tuple(p + n + h for p, n, h in zip(self.lo, self.size, self.hi))

    @property
    def is_global(self) -> bool:
        """One window covering the whole (unpadded) input: a plain reduction."""
        return self.kernel == self.size and self.out == (1,) * len(self.size) and not self.padded

    @property
    def disjoint(self) -> bool:
        """No two windows share an element: the backward may write instead of accumulate."""
        return all(s >= (k - 1) * d + 1 for s, k, d in zip(self.stride, self.kernel, self.dilation))

    @property
    def phased(self) -> bool:
        """Overlapping windows with a stride: work on stride phases rather than strided views."""
        return not self.disjoint and any(s > 1 for s in self.stride)

    @property
    def tiles(self) -> bool:
        """The windows cover the padded input exactly once: the backward needs no zero fill."""
        steps = zip(self.stride, self.kernel, self.dilation, self.out, self.padded_size)
        return all(s == (k - 1) * d + 1 and (k == 1 or d == 1) and o * s == n for s, k, d, o, n in steps)

    def windows(self, x: Any, value: float) -> list:
        """Per window offset (scan order, last dim fastest): its element of every window, shape (..., *out)."""
        if self.phased:
            phases = self._split(x, value)
            return [phases[r][sl] for r, sl in self._taps()]
        return self._views(self.pad(x, value))

    def adjoint(self, lead: tuple, dtype, xp, put: Callable[[int, Any, tuple], None]) -> Any:
        """The input-shaped array that put(j, view, src) builds for each window offset j (the transpose of windows).

        view is the zero-filled strided region of the input that offset j covers and src the matching slices of
        an output-shaped array (windows whose offset j falls in the padding are left out, so no padded buffer and
        no crop); put must add into view, or may assign when the grid is disjoint. (Accumulating in stride
        phases, as `windows` reads, measured slower: the extra pass interleaving the phases costs more.)
        """
        gx = (xp.empty if self.tiles else xp.zeros)(lead + self.size, dtype)
        for j, (dst, src) in enumerate(self._regions()):
            if dst is not None:
                put(j, gx[dst], src)
        return gx

    def _regions(self) -> list[tuple[tuple | None, tuple | None]]:
        """Per window offset: (input slices it covers, output slices of those windows), or (None, None)."""
        per_dim = []
        for k, s, d, p, n, o in zip(self.kernel, self.stride, self.dilation, self.lo, self.size, self.out):
            dim = []
            for j in range(k):
                first = j * d - p  # input position of offset j in window 0
                o0, o1 = max(0, -(first // s)), min(o, -((first - n) // s))
                dim.append((slice(first + o0 * s, first + (o1 - 1) * s + 1, s), slice(o0, o1)) if o1 > o0 else None)
            per_dim.append(dim)
        regions = []
        for c in itertools.product(*per_dim):
            if any(r is None for r in c):
                regions.append((None, None))
            else:
                regions.append(((Ellipsis, *(r[0] for r in c)), (Ellipsis, *(r[1] for r in c))))
        return regions

    def _views(self, a: Any) -> list:
        per_dim = [
            [slice(j * d, j * d + s * (o - 1) + 1, s) for j in range(k)]
            for k, s, d, o in zip(self.kernel, self.stride, self.dilation, self.out)
        ]
        return [a[(Ellipsis, *sl)] for sl in itertools.product(*per_dim)]

    def _taps(self) -> list[tuple[tuple, tuple]]:
        """Per window offset: (stride residue per dim, the slice of that phase holding the offset's elements)."""
        per_dim = [
            [((j * d) % s, slice((j * d) // s, (j * d) // s + o)) for j in range(k)]
            for k, s, d, o in zip(self.kernel, self.stride, self.dilation, self.out)
        ]
        return [(tuple(r for r, _ in c), (Ellipsis, *(sl for _, sl in c))) for c in itertools.product(*per_dim)]

    def _phase_size(self, r: tuple) -> tuple[int, ...]:
        return tuple(-(-(n - ri) // s) for n, ri, s in zip(self.padded_size, r, self.stride))

    def _phase_map(self, r: tuple) -> tuple[tuple, tuple]:
        """(slices of phase r that hold input elements, the matching strided slices of the input)."""
        inner, src = [], []
        for ri, s, p, n, m in zip(r, self.stride, self.lo, self.size, self._phase_size(r)):
            i0, i1 = max(0, -(-(p - ri) // s)), min(m, -(-(p + n - ri) // s))
            start = ri + s * i0 - p
            inner.append(slice(i0, max(i0, i1)))
            src.append(slice(start, start + s * (i1 - i0 - 1) + 1, s) if i1 > i0 else slice(0, 0))
        return (Ellipsis, *inner), (Ellipsis, *src)

    def _split(self, x: Any, value: float) -> dict:
        """Contiguous stride phases of x padded with `value`, for the residues the windows use."""
        xp = namespace(x)
        nd = len(self.size)
        lead = x.shape[: x.ndim - nd]
        phases = {}
        for r, _ in self._taps():
            if r in phases:
                continue
            a = xp.empty(lead + self._phase_size(r), x.dtype)
            inner, src = self._phase_map(r)
            for i, sl in enumerate(inner[1:]):
                rest = (slice(None),) * (nd - 1 - i)
                a[(Ellipsis, slice(0, sl.start)) + rest] = value
                a[(Ellipsis, slice(sl.stop, None)) + rest] = value
            a[inner] = x[src]
            phases[r] = a
        return phases

    def pad(self, x: Any, value: float) -> Any:
        """x inside a border of `value` (x itself when there is no padding)."""
        if not self.padded:
            return x
        xp = namespace(x)
        nd = len(self.size)
        lead = x.shape[:-nd]
        a = xp.empty(lead + self.padded_size, x.dtype)
        for i, (p, n) in enumerate(zip(self.lo, self.size)):
            before = (Ellipsis, slice(0, p)) + (slice(None),) * (nd - 1 - i)
            after = (Ellipsis, slice(p + n, None)) + (slice(None),) * (nd - 1 - i)
            a[before] = value
            a[after] = value
        a[(Ellipsis, *(slice(p, p + n) for p, n in zip(self.lo, self.size)))] = x
        return a

    def flat_index(self, idx: Any) -> Any:
        """int64 index of each window's chosen element in its (unpadded) input plane, as torch's return_indices."""
        xp = namespace(idx)
        nd = len(self.size)
        rest = idx.astype(xp.int64)
        flat = 0
        plane = 1
        for i in reversed(range(nd)):
            k, s, d, p, o = self.kernel[i], self.stride[i], self.dilation[i], self.lo[i], self.out[i]
            rest, j = divmod(rest, k)
            start = (xp.arange(o, dtype=xp.int64) * s - p).reshape((o,) + (1,) * (nd - 1 - i))
            flat = flat + (start + j * d) * plane
            plane *= self.size[i]
        return flat


def _tuple(name: str, arg: str, v: Any, nd: int) -> tuple[int, ...]:
    t = tuple(v) if isinstance(v, (tuple, list)) else (v,)
    if len(t) == 1:
        t = t * nd
    if len(t) != nd or not all(isinstance(e, int) and not isinstance(e, bool) for e in t):
        raise ShapeError(f"{name}: expected `{arg}` to be an int or a tuple of {nd} ints, received {arg}={v!r}")
    return t


def check_pool_args(
    name: str, nd: int, kernel_size: Any, stride: Any, padding: Any, dilation: Any = 1, is_max: bool = True
) -> tuple[tuple[int, ...], ...]:
    """Validate pooling arguments as PyTorch does; returns (kernel, stride, padding, dilation) as tuples."""
    kernel = _tuple(name, "kernel_size", kernel_size, nd)
    stride = kernel if stride is None or stride == [] or stride == () else _tuple(name, "stride", stride, nd)
    padding = _tuple(name, "padding", padding, nd)
    dilation = _tuple(name, "dilation", dilation, nd)
    for arg, v in (("kernel_size", kernel), ("stride", stride), ("dilation", dilation)):
        if min(v) <= 0:
            raise ShapeError(f"{name}: expected `{arg}` to be positive, received {arg}={v}")
    for p, k, d in zip(padding, kernel, dilation):
        limit = ((k - 1) * d + 1) // 2 if is_max else k // 2
        if p < 0 or p > limit:
            raise ShapeError(
                f"{name}: expected padding between 0 and half the effective kernel size ({limit}), "
                f"received padding={padding} with kernel_size={kernel}" + (f", dilation={dilation}" if is_max else "")
            )
    return kernel, stride, padding, dilation


def _check_input(name: str, x: Tensor, nd: int, floating: bool = False) -> tuple[int, ...]:
    """The spatial size of x; raises on a wrong type, rank or dtype, or an empty spatial dim."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor input, received {type(x).__name__}")
    if x.ndim not in (nd + 1, nd + 2) or 0 in x.shape[-nd:]:
        raise ShapeError(f"{name}: expected a {_SPATIAL[nd]} input with non-empty spatial dims, received {x.shape}")
    if floating and x.dtype.kind != "f":
        raise DtypeError(f"{name}: expected a floating-point input, received dtype {x.dtype}")
    return x.shape[-nd:]


def _grid(name: str, size: tuple, kernel_size, stride, padding, dilation, ceil_mode: bool, is_max: bool) -> _Grid:
    """Validate the arguments for a spatial `size`; output size by torch's formula (ceil_mode included)."""
    nd = len(size)
    kernel, stride, padding, dilation = check_pool_args(name, nd, kernel_size, stride, padding, dilation, is_max)
    out = []
    for n, k, s, p, d in zip(size, kernel, stride, padding, dilation):
        o = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (o - 1) * s >= n + p:
            o -= 1  # the last window would start in the right padding: torch drops it
        if o < 1:
            raise ShapeError(
                f"{name}: expected a kernel that fits in the padded input, received kernel_size={kernel} "
                f"(dilation={dilation}) on input size {size} with padding={padding} (output size would be {o})"
            )
        out.append(o)
    return _Grid(kernel, stride, dilation, padding, size, tuple(out))


def _index_dtype(xp, n: int):
    """The smallest unsigned dtype that holds 0..n-1."""
    return xp.uint8 if n <= 256 else xp.uint16 if n <= 65536 else xp.uint32


def _pad_value(dtype) -> float:
    return -math.inf if dtype.kind == "f" else namespace().iinfo(dtype).min


# ---- max pooling -------------------------------------------------------------------------------------------------
def _max_scan(xp, views: list, need_index: bool) -> tuple[Any, Any]:
    """Running max over the window offsets; with need_index also the offset of each window's first maximum."""
    out = views[0].copy()
    if not need_index:
        for v in views[1:]:
            xp.maximum(out, v, out=out)
        return out, None
    idx = xp.zeros(out.shape, _index_dtype(xp, len(views)))
    won = xp.empty(out.shape, bool)
    code = xp.empty(out.shape, idx.dtype)
    for j, v in enumerate(views[1:], 1):
        xp.greater(v, out, out=won)  # strict: a tie keeps the earlier offset
        xp.maximum(out, v, out=out)
        xp.multiply(won, idx.dtype.type(j), out=code)
        xp.maximum(idx, code, out=idx)  # offsets only grow, so the latest winner has the largest code
    return out, idx


def _max4(xp, views: list, need_index: bool) -> tuple[Any, Any]:
    """Max over exactly four offsets (2x2 windows) as a two-stage maximum tree, with the first maximum's offset."""
    a, b, c, d = views
    top = xp.maximum(a, b)
    bottom = xp.maximum(c, d)
    if not need_index:
        return xp.maximum(top, bottom, out=top), None
    first = xp.greater(b, a)  # offset 1 beats 0
    second = xp.greater(d, c)  # offset 3 beats 2
    lower = xp.greater(bottom, top)  # offsets 2/3 beat 0/1
    xp.not_equal(first, second, out=second)
    second &= lower
    first ^= second  # now: second's bit where lower, first's elsewhere
    idx = xp.left_shift(lower.view(xp.uint8), 1)
    idx |= first.view(xp.uint8)
    return xp.maximum(top, bottom, out=top), idx


_pool_jit: Any = None  # dagrad.ops._pool_kernels once imported; False where numba is missing or disabled


def _jit_2x2(grid: _Grid, a: Any) -> Any:
    """The numba kernels module when they can take this pooling: 2x2 windows with stride 2 tiling a 2-D plane of
    a NumPy float array (LeNet's S2/S4); else None."""
    global _pool_jit
    if grid.kernel != (2, 2) or grid.stride != (2, 2) or grid.dilation != (1, 1) or not grid.tiles or grid.padded:
        return None
    if _pool_jit is None:
        _pool_jit = _direct_conv.companion("_pool_kernels")
    return _pool_jit if _pool_jit is not False and _direct_conv.usable(a) else None


def _max_pool(x: Any, grid: _Grid, need_index: bool) -> tuple[Any, Any]:
    """(max of each window, offset of its first maximum or None) on arrays."""
    jit = _jit_2x2(grid, x)
    if jit is not None:
        xp = namespace(x)
        lead = x.shape[: x.ndim - 2]
        out, idx = xp.empty(lead + grid.out, x.dtype), xp.empty(lead + grid.out, xp.uint8)
        _direct_conv.run(
            jit.max_pool_2x2,
            xp.ascontiguousarray(x).reshape(-1, *grid.size), out.reshape(-1, *grid.out), idx.reshape(-1, *grid.out),
        )  # fmt: skip
        return out, idx if need_index else None
    views = grid.windows(x, _pad_value(x.dtype))
    return (_max4 if len(views) == 4 else _max_scan)(namespace(x), views, need_index)


def _scatter(g: Any, idx: Any, grid: _Grid) -> Any:
    """Input-shaped array with g[o] at the offset idx[o] of each window o (summed where windows overlap)."""
    xp = namespace(g)
    jit = _jit_2x2(grid, g)
    if jit is not None and idx.dtype == xp.uint8:
        lead = g.shape[: g.ndim - 2]
        gx = xp.empty(lead + grid.size, g.dtype)
        _direct_conv.run(
            jit.max_unpool_2x2,
            xp.ascontiguousarray(g).reshape(-1, *grid.out), xp.ascontiguousarray(idx).reshape(-1, *grid.out),
            gx.reshape(-1, *grid.size),
        )  # fmt: skip
        return gx
    hit = xp.empty(idx.shape, bool)
    tmp = None if grid.disjoint else xp.empty(g.shape, g.dtype)

    def put(j: int, view: Any, src: tuple) -> None:
        xp.equal(idx, j, out=hit)  # whole arrays: contiguous loops run much faster than sliced ones
        if tmp is None:
            xp.multiply(g[src], hit[src], out=view)
        else:
            xp.multiply(g, hit, out=tmp)
            view += tmp[src]

    return grid.adjoint(g.shape[: g.ndim - len(grid.out)], g.dtype, xp, put)


def _gather(x: Any, idx: Any, grid: _Grid) -> Any:
    """Output-shaped array of x at each window's chosen offset (the adjoint of _scatter)."""
    xp = namespace(x)
    out = xp.zeros(idx.shape, x.dtype)
    for j, view in enumerate(grid.windows(x, 0)):
        out += view * (idx == j)
    return out


class MaxPool(Function):
    """Max over each window; keeps the first maximum's offset per window in `cache` (only when a gradient may be
    asked), so backward frees it."""

    __slots__ = ("grid",)

    def forward(self, x, grid, sink=None):
        self.grid = grid
        need = self.parents is not None or state.fw > 0 or sink is not None
        out, self.cache = _max_pool(x, grid, need)
        if sink is not None:
            sink.append(grid.flat_index(self.cache))
        return out

    def backward(self, g):
        return MaxPoolBackward.apply(g, idx=self.cache, grid=self.grid)

    def jvp(self, inputs, out, t):
        return MaxPoolGather.apply(t[0], idx=self.cache, grid=self.grid)

    @staticmethod
    def samples():
        yield _sample((2, 2, 6, 6), "max_pool2d", 2)
        yield _sample((2, 2, 5, 5), "max_pool2d", 3, 2, 1)
        yield _sample((2, 2, 5, 6), "max_pool2d", 2, 1, dilation=2, ceil_mode=True)
        yield _sample((2, 2, 8), "max_pool1d", 3, 2, 1, ceil_mode=True)
        yield _sample((1, 2, 4, 4, 5), "max_pool3d", 2, padding=(0, 1, 1))


class MaxPoolBackward(Function):
    """Scatter of g to each window's first maximum (MaxPool's vjp); its own vjp gathers at the same places."""

    __slots__ = ("idx", "grid")

    def forward(self, g, idx, grid):
        self.idx, self.grid = idx, grid
        return _scatter(g, idx, grid)

    def backward(self, gg):
        return MaxPoolGather.apply(gg, idx=self.idx, grid=self.grid)

    def jvp(self, inputs, out, t):
        return MaxPoolBackward.apply(t[0], idx=self.idx, grid=self.grid)

    @staticmethod
    def samples():
        for args, name in (((2,), "disjoint"), ((3, 2, 1), "overlap")):
            x, idx, grid = _max_case(*args)
            yield Sample(
                distinct(*idx.shape), call=lambda g, idx=idx, grid=grid: MaxPoolBackward.apply(g, idx=idx, grid=grid),
                torch=lambda T, g, x=x, args=args: _torch_max_backward(T, g, x, *args), name=name,
            )  # fmt: skip


class MaxPoolGather(Function):
    """Each window's value at its first maximum's offset (MaxPool's jvp, and MaxPoolBackward's vjp)."""

    __slots__ = ("idx", "grid")

    def forward(self, x, idx, grid):
        self.idx, self.grid = idx, grid
        return _gather(x, idx, grid)

    def backward(self, g):
        return MaxPoolBackward.apply(g, idx=self.idx, grid=self.grid)

    def jvp(self, inputs, out, t):
        return MaxPoolGather.apply(t[0], idx=self.idx, grid=self.grid)

    @staticmethod
    def samples():
        for args, name in (((2,), "disjoint"), ((3, 2, 1), "overlap")):
            x, idx, grid = _max_case(*args)
            yield Sample(
                distinct(*x.shape), call=lambda t, idx=idx, grid=grid: MaxPoolGather.apply(t, idx=idx, grid=grid),
                torch=lambda T, t, x=x, args=args: _torch_take(T, t, _torch_argmax(T, x, *args)), name=name,
            )  # fmt: skip


# ---- average pooling ---------------------------------------------------------------------------------------------
def _avg_scale(grid: _Grid, count_include_pad: bool, divisor_override: int | None, like: Any) -> Any:
    """1 / (number averaged) per window, as torch counts it: a float, or an array of the output's spatial shape."""
    if divisor_override:
        return 1.0 / divisor_override
    counts = []
    for n, k, s, p, o in zip(grid.size, grid.kernel, grid.stride, grid.lo, grid.out):
        starts = [i * s - p for i in range(o)]
        ends = [min(b + k, n + p) for b in starts]  # a ceil_mode window is cut at the end of the padding
        if count_include_pad:
            counts.append([e - b for b, e in zip(starts, ends)])
        else:
            counts.append([min(e, n) - max(b, 0) for b, e in zip(starts, ends)])
    if all(min(c) == max(c) for c in counts):
        return 1.0 / math.prod(c[0] for c in counts)
    xp = namespace(like)
    div = xp.ones((), like.dtype)
    for i, c in enumerate(counts):
        div = div * xp.asarray(c, like.dtype).reshape((len(c),) + (1,) * (len(counts) - 1 - i))
    return 1.0 / div


class AvgPool(Function):
    """Mean over each window, zeros in the padding; `scale` = 1/divisor (a float or a per-window array)."""

    __slots__ = ("grid", "scale")

    def forward(self, x, grid, scale):
        self.grid, self.scale = grid, scale
        if grid.is_global:  # one matrix-vector product: BLAS sums short rows far faster than ndarray.sum
            lead = x.shape[: x.ndim - len(grid.size)]
            weights = namespace(x).full(math.prod(grid.size), scale, x.dtype)
            return (x.reshape(lead + (-1,)) @ weights).reshape(lead + grid.out)
        views = grid.windows(x, 0)
        out = views[0] + views[1] if len(views) > 1 else views[0].copy()
        for v in views[2:]:
            out += v
        out *= scale
        return out

    def backward(self, g):
        return AvgPoolBackward.apply(g, grid=self.grid, scale=self.scale)

    def jvp(self, inputs, out, t):
        return AvgPool.apply(t[0], grid=self.grid, scale=self.scale)

    @staticmethod
    def samples():
        yield _sample((2, 2, 6, 6), "avg_pool2d", 2)
        yield _sample((2, 2, 5, 5), "avg_pool2d", 3, 2, 1, ceil_mode=True)
        yield _sample((2, 2, 5, 6), "avg_pool2d", 2, 2, 1, ceil_mode=True, count_include_pad=False)
        yield _sample((2, 2, 7), "avg_pool1d", 3, 2, 1)
        yield _sample((1, 2, 4, 3, 4), "adaptive_avg_pool3d", 1)


class AvgPoolBackward(Function):
    """The transposed average pooling (AvgPool's vjp): g * scale spread over each window; its vjp is AvgPool."""

    __slots__ = ("grid", "scale")

    def forward(self, g, grid, scale):
        self.grid, self.scale = grid, scale
        xp = namespace(g)
        gs = g * scale
        lead = g.shape[: g.ndim - len(grid.size)]
        if grid.is_global:
            gx = xp.empty(lead + grid.size, g.dtype)
            gx[...] = gs
            return gx

        def put(j: int, view: Any, src: tuple) -> None:
            if grid.disjoint:
                view[...] = gs[src]
            else:
                view += gs[src]

        return grid.adjoint(lead, g.dtype, xp, put)

    def backward(self, gg):
        return AvgPool.apply(gg, grid=self.grid, scale=self.scale)

    def jvp(self, inputs, out, t):
        return AvgPoolBackward.apply(t[0], grid=self.grid, scale=self.scale)

    @staticmethod
    def samples():
        for args, name in (((2,), "disjoint"), ((3, 2, 1, True), "overlap-ceil"), ((2, 2, 1, True, False), "no-pad")):
            x = distinct(2, 2, 5, 5)
            grid, scale = _avg_case(x, *args)
            yield Sample(
                distinct(2, 2, *grid.out),
                call=lambda g, grid=grid, scale=scale: AvgPoolBackward.apply(g, grid=grid, scale=scale),
                torch=lambda T, g, x=x, args=args: _torch_avg_backward(T, g, x, *args), name=name,
            )  # fmt: skip


# ---- adaptive pooling --------------------------------------------------------------------------------------------
def _bounds(n: int, o: int) -> list[tuple[int, int]]:
    """torch's adaptive windows along one dim: [floor(i*n/o), ceil((i+1)*n/o)) for i < o."""
    return [((i * n) // o, -((-(i + 1) * n) // o)) for i in range(o)]


def _avg_matrix(n: int, o: int, like: Any) -> Any:
    """(o, n) matrix averaging each adaptive window, in the namespace and dtype of the array `like`."""
    xp = namespace(like)
    m = xp.zeros((o, n), like.dtype)
    for i, (b, e) in enumerate(_bounds(n, o)):
        m[i, b:e] = 1.0 / (e - b)
    return m


class AdaptiveAvgPool(Function):
    """Adaptive average pooling where a size does not divide: the (out_d, in_d) matrix mats[d] along each spatial
    dim. The map is linear and separable, so its vjp is the same op with the transposed matrices."""

    __slots__ = ("mats",)

    def forward(self, x, mats):
        self.mats = mats
        xp = namespace(x)
        for i, m in enumerate(mats):
            axis = x.ndim - len(mats) + i
            x = xp.moveaxis(xp.tensordot(x, m, axes=([axis], [1])), -1, axis)
        return xp.ascontiguousarray(x)

    def backward(self, g):
        return AdaptiveAvgPool.apply(g, mats=tuple(m.T for m in self.mats))

    def jvp(self, inputs, out, t):
        return AdaptiveAvgPool.apply(t[0], mats=self.mats)

    @staticmethod
    def samples():
        yield _sample((2, 2, 5, 7), "adaptive_avg_pool2d", (3, 4))
        yield _sample((2, 2, 7), "adaptive_avg_pool1d", 5)
        yield _sample((2, 2, 3, 6), "adaptive_avg_pool2d", (5, None))


def _adaptive_max(x: Any, out_size: tuple) -> tuple[Any, Any]:
    """(max of each adaptive window, int64 flat index of its first maximum in the input plane) on arrays.

    Window step j of dim d reads input position min(start + j, end - 1): the repeats a short window gets never
    win (strict >), so scan order and first-maximum ties match torch.
    """
    xp = namespace(x)
    nd = len(out_size)
    size = x.shape[x.ndim - nd :]
    tables = []  # per dim: (o, steps) input positions
    for n, o in zip(size, out_size):
        b = _bounds(n, o)
        steps = max(e - s for s, e in b)
        tables.append(xp.asarray([[min(s + j, e - 1) for j in range(steps)] for s, e in b]))
    shapes = [(o,) + (1,) * (nd - 1 - i) for i, o in enumerate(out_size)]
    combos = itertools.product(*(range(t.shape[1]) for t in tables))
    views = [x[(Ellipsis, *(t[:, j].reshape(s) for t, j, s in zip(tables, js, shapes)))] for js in combos]
    out, idx = _max_scan(xp, views, True)
    rest = idx.astype(xp.int64)
    flat = 0
    plane = 1
    for i in reversed(range(nd)):
        rest, j = divmod(rest, tables[i].shape[1])
        flat = flat + tables[i][xp.arange(out_size[i]).reshape(shapes[i]), j] * plane
        plane *= size[i]
    return out, flat


class AdaptiveMaxPool(Function):
    """Adaptive max pooling where a size does not divide; keeps each window's first maximum as a flat index into
    its input plane (int32 when it fits), so the backward is one bincount scatter."""

    __slots__ = ("size",)

    def forward(self, x, out_size, sink=None):
        xp = namespace(x)
        self.size = x.shape[x.ndim - len(out_size) :]
        out, flat = _adaptive_max(x, out_size)
        self.cache = flat.astype(xp.int32) if math.prod(self.size) < 2**31 else flat
        if sink is not None:
            sink.append(flat)
        return out

    def backward(self, g):
        return AdaptiveMaxPoolBackward.apply(g, index=self.cache, size=self.size)

    def jvp(self, inputs, out, t):
        return AdaptiveMaxPoolGather.apply(t[0], index=self.cache, size=self.size)

    @staticmethod
    def samples():
        yield _sample((2, 2, 5, 7), "adaptive_max_pool2d", (3, 4))
        yield _sample((2, 2, 7), "adaptive_max_pool1d", 5)
        yield _sample((2, 2, 3, 4), "adaptive_max_pool2d", (5, 3))
        yield _sample((1, 2, 3, 4, 5), "adaptive_max_pool3d", (2, 3, 2))


def _planes(index: Any, size: tuple) -> tuple[tuple, int, int, int]:
    """(leading shape, number of planes, windows per plane, elements per input plane)."""
    nd = len(size)
    lead = index.shape[: index.ndim - nd]
    return lead, math.prod(lead), math.prod(index.shape[index.ndim - nd :]), math.prod(size)


class AdaptiveMaxPoolBackward(Function):
    """Scatter-add of g to flat plane positions (AdaptiveMaxPool's vjp; windows may share an argmax)."""

    __slots__ = ("index", "size")

    def forward(self, g, index, size):
        self.index, self.size = index, size
        xp = namespace(g)
        lead, planes, per_plane, area = _planes(index, size)
        pos = index.reshape(planes, per_plane) + xp.arange(planes, dtype=xp.int64).reshape(planes, 1) * area
        gx = xp.bincount(pos.reshape(-1), weights=g.reshape(-1), minlength=planes * area)
        return gx.astype(g.dtype, copy=False).reshape(lead + tuple(size))

    def backward(self, gg):
        return AdaptiveMaxPoolGather.apply(gg, index=self.index, size=self.size)

    def jvp(self, inputs, out, t):
        return AdaptiveMaxPoolBackward.apply(t[0], index=self.index, size=self.size)

    @staticmethod
    def samples():
        for shape, out, name in (((2, 2, 5, 7), (3, 4), ""), ((2, 2, 3, 4), (5, 3), "upsample")):
            x = distinct(*shape)
            index = _adaptive_max(x, out)[1]
            yield Sample(
                distinct(*index.shape),
                call=lambda g, index=index, size=shape[2:]: AdaptiveMaxPoolBackward.apply(g, index=index, size=size),
                torch=lambda T, g, x=x, out=out: T.ops.aten.adaptive_max_pool2d_backward(
                    g, T.tensor(x, dtype=g.dtype), _F(T).adaptive_max_pool2d(T.tensor(x), out, return_indices=True)[1]
                ),
                name=name,
            )  # fmt: skip


class AdaptiveMaxPoolGather(Function):
    """Values at flat plane positions (AdaptiveMaxPool's jvp, and AdaptiveMaxPoolBackward's vjp)."""

    __slots__ = ("index", "size")

    def forward(self, x, index, size):
        self.index, self.size = index, size
        xp = namespace(x)
        lead, planes, per_plane, area = _planes(index, size)
        flat = xp.take_along_axis(x.reshape(planes, area), index.reshape(planes, per_plane), axis=1)
        return flat.reshape(index.shape)

    def backward(self, g):
        return AdaptiveMaxPoolBackward.apply(g, index=self.index, size=self.size)

    def jvp(self, inputs, out, t):
        return AdaptiveMaxPoolGather.apply(t[0], index=self.index, size=self.size)

    @staticmethod
    def samples():
        for shape, out, name in (((2, 2, 5, 7), (3, 4), ""), ((2, 2, 3, 4), (5, 3), "upsample")):
            x = distinct(*shape)
            index = _adaptive_max(x, out)[1]
            yield Sample(
                distinct(*shape),
                call=lambda t, index=index, size=shape[2:]: AdaptiveMaxPoolGather.apply(t, index=index, size=size),
                torch=lambda T, t, x=x, out=out: _torch_take(
                    T, t, _F(T).adaptive_max_pool2d(T.tensor(x), out, return_indices=True)[1]
                ),
                name=name,
            )  # fmt: skip


# ---- public functions --------------------------------------------------------------------------------------------
def _max_pool_nd(
    name: str, nd: int, x: Tensor, kernel_size, stride, padding, dilation, ceil_mode: bool, return_indices: bool
) -> Tensor | tuple[Tensor, Tensor]:
    grid = _grid(name, _check_input(name, x, nd), kernel_size, stride, padding, dilation, ceil_mode, True)
    if not return_indices:
        return MaxPool.apply(x, grid=grid)
    sink: list = []
    out = MaxPool.apply(x, grid=grid, sink=sink)
    return out, Tensor(sink[0])


def max_pool1d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Max over windows of a (N, C, L) or (C, L) input, as torch.nn.functional.max_pool1d."""
    return _max_pool_nd("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Max over windows of a (N, C, H, W) or (C, H, W) input (padding counts as -inf), as torch's max_pool2d.

    stride defaults to kernel_size; ceil_mode keeps a last partial window unless it starts in the right padding;
    return_indices also gives each maximum's flat index into its H*W input plane (int64).
    """
    return _max_pool_nd("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Max over windows of a (N, C, D, H, W) or (C, D, H, W) input, as torch.nn.functional.max_pool3d."""
    return _max_pool_nd("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def _avg_pool_nd(
    name: str, nd: int, x: Tensor, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
) -> Tensor:
    grid = _grid(name, _check_input(name, x, nd, floating=True), kernel_size, stride, padding, 1, ceil_mode, False)
    if divisor_override is not None and (isinstance(divisor_override, bool) or divisor_override <= 0):
        raise ShapeError(f"{name}: expected a positive divisor_override, received {divisor_override!r}")
    return AvgPool.apply(x, grid=grid, scale=_avg_scale(grid, count_include_pad, divisor_override, x.data))


def avg_pool1d(
    input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True
) -> Tensor:
    """Mean over windows of a (N, C, L) or (C, L) input, as torch.nn.functional.avg_pool1d."""
    return _avg_pool_nd("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(
    input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:  # fmt: skip
    """Mean over windows of a (N, C, H, W) or (C, H, W) input, as torch.nn.functional.avg_pool2d.

    Padding adds zeros, counted in the divisor when count_include_pad; divisor_override replaces the divisor.
    """
    return _avg_pool_nd(
        "avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


def avg_pool3d(
    input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:  # fmt: skip
    """Mean over windows of a (N, C, D, H, W) or (C, D, H, W) input, as torch.nn.functional.avg_pool3d."""
    return _avg_pool_nd(
        "avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


def _adaptive_size(name: str, size: tuple, output_size: Any) -> tuple[int, ...]:
    """output_size as a tuple; None keeps that input size."""
    nd = len(size)
    out = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * nd
    if len(out) != nd:
        raise ShapeError(f"{name}: expected output_size of {nd} values, received {output_size!r}")
    out = tuple(n if o is None else o for n, o in zip(size, out))
    if not all(isinstance(o, int) and not isinstance(o, bool) and o > 0 for o in out):
        raise ShapeError(f"{name}: expected positive output sizes, received output_size={output_size!r}")
    return out


def _divisible_grid(size: tuple, out: tuple) -> _Grid | None:
    """The regular pooling equal to an adaptive one when every input size is a multiple of its output size."""
    if any(n % o for n, o in zip(size, out)):
        return None
    kernel = tuple(n // o for n, o in zip(size, out))
    return _Grid(kernel, kernel, (1,) * len(size), (0,) * len(size), size, out)


def _adaptive_avg_nd(name: str, nd: int, x: Tensor, output_size: Any) -> Tensor:
    size = _check_input(name, x, nd, floating=True)
    out = _adaptive_size(name, size, output_size)
    grid = _divisible_grid(size, out)
    if grid is not None:
        return AvgPool.apply(x, grid=grid, scale=1.0 / math.prod(grid.kernel))
    return AdaptiveAvgPool.apply(x, mats=tuple(_avg_matrix(n, o, x.data) for n, o in zip(size, out)))


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling of a (N, C, L) or (C, L) input to length output_size, as torch's adaptive_avg_pool1d."""
    return _adaptive_avg_nd("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling of a (N, C, H, W) or (C, H, W) input to output_size (int, or pair; None keeps a size).

    Window i spans [floor(i*in/out), ceil((i+1)*in/out)) as in PyTorch; sizes that divide use plain pooling.
    """
    return _adaptive_avg_nd("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool3d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling of a (N, C, D, H, W) or (C, D, H, W) input to output_size, as torch's adaptive_avg_pool3d."""
    return _adaptive_avg_nd("adaptive_avg_pool3d", 3, input, output_size)


def _adaptive_max_nd(name: str, nd: int, x: Tensor, output_size: Any, return_indices: bool):
    size = _check_input(name, x, nd)
    out = _adaptive_size(name, size, output_size)
    grid = _divisible_grid(size, out)
    op, params = (MaxPool, {"grid": grid}) if grid is not None else (AdaptiveMaxPool, {"out_size": out})
    if not return_indices:
        return op.apply(x, **params)
    sink: list = []
    y = op.apply(x, sink=sink, **params)
    return y, Tensor(sink[0])


def adaptive_max_pool1d(input: Tensor, output_size: Any, return_indices: bool = False):
    """Max pooling of a (N, C, L) or (C, L) input to length output_size, as torch's adaptive_max_pool1d."""
    return _adaptive_max_nd("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False):
    """Max pooling of a (N, C, H, W) or (C, H, W) input to output_size, as torch's adaptive_max_pool2d."""
    return _adaptive_max_nd("adaptive_max_pool2d", 2, input, output_size, return_indices)


def adaptive_max_pool3d(input: Tensor, output_size: Any, return_indices: bool = False):
    """Max pooling of a (N, C, D, H, W) or (C, D, H, W) input to output_size, as torch's adaptive_max_pool3d."""
    return _adaptive_max_nd("adaptive_max_pool3d", 3, input, output_size, return_indices)


# ---- sample helpers (PyTorch references for the registry's parity suite) ----------------------------------------
def _F(T):
    return T.nn.functional


def _sample(shape: tuple, fn: str, *args: Any, **kwargs: Any) -> Sample:
    """Sample of the public function `fn` on a distinct input, with torch.nn.functional's namesake as reference."""
    tag = ",".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())]).replace(" ", "")
    return Sample(
        distinct(*shape),
        call=lambda x: globals()[fn](x, *args, **kwargs),
        torch=lambda T, x: getattr(_F(T), fn)(x, *args, **kwargs),
        name=f"{fn}({tag})",
    )


def _max_case(kernel: int, stride: int | None = None, padding: int = 0) -> tuple[Any, Any, _Grid]:
    """A distinct (2, 2, 5, 5) input, its argmax offsets and its grid, for the backward ops' samples."""
    x = distinct(2, 2, 5, 5)
    grid = _grid("max_pool2d", x.shape[2:], kernel, stride, padding, 1, False, True)
    return x, _max_pool(x, grid, True)[1], grid


def _torch_argmax(T, x, kernel, stride=None, padding=0):
    return _F(T).max_pool2d(T.tensor(x), kernel, stride, padding, return_indices=True)[1]


def _torch_take(T, t, index):
    """t's values at flat plane positions `index` (the gather torch does for max pooling's jvp)."""
    return t.flatten(-2).gather(-1, index.flatten(-2)).reshape(index.shape)


def _torch_max_backward(T, g, x, kernel, stride=None, padding=0):
    s = kernel if stride is None else stride
    xt = T.tensor(x, dtype=g.dtype)
    ind = _torch_argmax(T, x, kernel, stride, padding)
    return T.ops.aten.max_pool2d_with_indices_backward(g, xt, [kernel] * 2, [s] * 2, [padding] * 2, [1, 1], False, ind)


def _avg_case(x, kernel, stride=None, padding=0, ceil_mode=False, count_include_pad=True) -> tuple[_Grid, Any]:
    grid = _grid("avg_pool2d", x.shape[2:], kernel, stride, padding, 1, ceil_mode, False)
    return grid, _avg_scale(grid, count_include_pad, None, x)


def _torch_avg_backward(T, g, x, kernel, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    s = kernel if stride is None else stride
    return T.ops.aten.avg_pool2d_backward(
        g, T.tensor(x, dtype=g.dtype), [kernel] * 2, [s] * 2, [padding] * 2, ceil_mode, count_include_pad, None
    )


__all__ = [
    "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
]  # fmt: skip
TENSOR_METHODS: dict = {}
