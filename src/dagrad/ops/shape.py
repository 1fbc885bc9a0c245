"""Shape ops: reshape/view, transpose/permute, squeeze/unsqueeze, flatten, cat/stack, split/chunk, pad, flip, roll,
repeat.

Reshapes and axis permutations return views of their input (`is_view = True`), as in PyTorch; cat, stack, pad,
flip, roll and repeat copy. Split, chunk, narrow and unbind are built from one basic-indexing op per piece
(`x[key]`, see indexing.py), since every Function has exactly one output.
"""

from __future__ import annotations

from collections.abc import Sequence

from dagrad.autograd.function import Function, Sample
from dagrad.autograd.tensor import Tensor, _make
from dagrad.backend import namespace
from dagrad.errors import ShapeError
from dagrad.ops.sampling import arr


def _sizes(sizes: tuple) -> tuple:
    """Sizes given as varargs (x.view(2, 3)) or as one sequence (x.view((2, 3)))."""
    return tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else tuple(sizes)


def _dim(op: str, dim: int, ndim: int) -> int:
    """dim normalised to [0, ndim), or a ShapeError naming the op (a 0-d tensor accepts dim 0 and -1)."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise ShapeError(
            f"{op}: dim {dim} is out of range for a tensor with {ndim} dimensions (expected {-n}..{n - 1})"
        )
    return dim % n


def _zeros_like(x: Tensor) -> Tensor:
    return _make(namespace(x.data).zeros(x.shape, x.dtype))


# ---- views ----------------------------------------------------------------------------------------


class Reshape(Function):
    """A new shape with the same elements in row-major order (a view when the layout allows, as NumPy)."""

    __slots__ = ("in_shape",)
    is_view = True

    def forward(self, x, shape):
        self.in_shape = x.shape
        return x.reshape(shape)

    def backward(self, g):
        return g.reshape(self.in_shape)

    def jvp(self, inputs, out, t):
        return t[0].reshape(out.shape)

    @staticmethod
    def samples():
        torch = lambda T, x, shape: x.reshape(shape)
        yield Sample(arr(3, 4), shape=(2, 6), torch=torch)
        yield Sample(arr(2, 3, 4), shape=(4, -1), torch=torch, name="infer")
        yield Sample(arr(3, 4), call=lambda x, shape: x.t().reshape(shape), shape=(12,),
                     torch=lambda T, x, shape: x.t().reshape(shape), name="strided")  # fmt: skip
        yield Sample(arr(1), shape=(), torch=torch, name="to 0-d")


class Squeeze(Reshape):
    """Drop dimensions of size 1 (a reshape, with its own node name)."""

    __slots__ = ()

    @staticmethod
    def samples():
        yield Sample(arr(3, 1, 4, 1), call=squeeze, torch=lambda T, x: x.squeeze())
        yield Sample(arr(3, 1, 4, 1), call=squeeze, dim=-1, torch=lambda T, x, dim: x.squeeze(dim), name="dim")
        yield Sample(arr(1, 3, 1), call=squeeze, dim=(0, 1), torch=lambda T, x, dim: x.squeeze(dim), name="dims")


class Unsqueeze(Reshape):
    """Insert a dimension of size 1 (a reshape, with its own node name)."""

    __slots__ = ()

    @staticmethod
    def samples():
        torch = lambda T, x, dim: x.unsqueeze(dim)
        yield Sample(arr(3, 4), call=unsqueeze, dim=1, torch=torch)
        yield Sample(arr(3, 4), call=unsqueeze, dim=-1, torch=torch, name="last")
        yield Sample(arr(), call=unsqueeze, dim=0, torch=torch, name="0-d")


class Transpose(Function):
    """Swap two dimensions (a view)."""

    __slots__ = ("dim0", "dim1")
    is_view = True

    def forward(self, x, dim0, dim1):
        self.dim0, self.dim1 = dim0, dim1
        return x.swapaxes(dim0, dim1)

    def backward(self, g):
        return g.transpose(self.dim0, self.dim1)

    def jvp(self, inputs, out, t):
        return t[0].transpose(self.dim0, self.dim1)

    @staticmethod
    def samples():
        torch = lambda T, x, dim0, dim1: x.transpose(dim0, dim1)
        yield Sample(arr(3, 4), dim0=0, dim1=1, torch=torch)
        yield Sample(arr(2, 3, 4), dim0=-1, dim1=0, torch=torch, name="negative")


class Permute(Function):
    """Reorder all dimensions: out.shape[i] = x.shape[dims[i]] (a view)."""

    __slots__ = ("dims",)
    is_view = True

    def forward(self, x, dims):
        self.dims = dims
        return x.transpose(dims)

    def backward(self, g):
        n = len(self.dims)
        inv = [0] * n
        for i, d in enumerate(self.dims):
            inv[d % n] = i
        return g.permute(inv)

    def jvp(self, inputs, out, t):
        return t[0].permute(self.dims)

    @staticmethod
    def samples():
        torch = lambda T, x, dims: x.permute(dims)
        yield Sample(arr(2, 3, 4), dims=(2, 0, 1), torch=torch)
        yield Sample(arr(2, 3, 4), dims=(-1, 1, 0), torch=torch, name="negative")


def reshape(x: Tensor, *shape: int) -> Tensor:
    """x with a new shape of the same number of elements; one size may be -1 (inferred).

    A view of x when its layout allows, else a copy (torch.reshape). `view` is the same function: NumPy
    chooses between the two, so a view never fails on a non-contiguous tensor as torch.view can.
    """
    shape = _sizes(shape)
    if shape == x.data.shape:
        return x
    y = Reshape.apply(x, shape=shape)
    base = y.data.base
    if base is None or (base is not x.data and base is not x.data.base):
        y._base = None  # NumPy had to copy: not a view, so in-place changes of y are its own
    return y


def view_as(x: Tensor, other: Tensor) -> Tensor:
    """x reshaped to other's shape (a view when the layout allows)."""
    return reshape(x, other.shape)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions start_dim..end_dim into one: (2, 3, 4).flatten(1) -> (2, 12)."""
    shape = x.data.shape
    if not shape:
        return reshape(x, 1)
    s, e = _dim("flatten", start_dim, len(shape)), _dim("flatten", end_dim, len(shape))
    if s > e:
        raise ShapeError(f"flatten: start_dim {start_dim} must not come after end_dim {end_dim}")
    n = 1
    for d in shape[s : e + 1]:
        n *= d
    return reshape(x, shape[:s] + (n,) + shape[e + 1 :])


def ravel(x: Tensor) -> Tensor:
    """x as a 1-D tensor (a view when the layout allows)."""
    return reshape(x, -1)


def unflatten(x: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    """Split dimension dim into `sizes` (one may be -1): (2, 12).unflatten(1, (3, 4)) -> (2, 3, 4)."""
    shape = x.data.shape
    d = _dim("unflatten", dim, len(shape))
    sizes = tuple(sizes)
    if -1 in sizes:
        known = 1
        for s in sizes:
            known *= s if s != -1 else 1
        sizes = tuple(shape[d] // max(known, 1) if s == -1 else s for s in sizes)
    n = 1
    for s in sizes:
        n *= s
    if n != shape[d]:
        raise ShapeError(f"unflatten: sizes {sizes} must multiply to the size {shape[d]} of dim {dim}, got {n}")
    return reshape(x, shape[:d] + sizes + shape[d + 1 :])


def squeeze(x: Tensor, dim: int | Sequence[int] | None = None) -> Tensor:
    """Drop dimensions of size 1: all of them, or those among `dim` (others in `dim` are left, as torch)."""
    shape = x.data.shape
    if dim is None:
        new = tuple(s for s in shape if s != 1)
    else:
        dims = {_dim("squeeze", d, len(shape)) for d in ((dim,) if isinstance(dim, int) else dim)}
        new = tuple(s for i, s in enumerate(shape) if s != 1 or i not in dims)
    if new == shape:
        return x
    return Squeeze.apply(x, shape=new)


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert a dimension of size 1 at `dim` (in -ndim-1..ndim): (3, 4).unsqueeze(1) -> (3, 1, 4)."""
    shape = x.data.shape
    n = len(shape) + 1
    if not -n <= dim < n:
        raise ShapeError(f"unsqueeze: dim {dim} is out of range for a tensor with {n - 1} dimensions")
    d = dim % n
    return Unsqueeze.apply(x, shape=shape[:d] + (1,) + shape[d:])


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """x with dimensions dim0 and dim1 swapped (a view)."""
    if x.data.ndim < 2:  # nothing to swap; the dims must still be valid
        _dim("transpose", dim0, x.data.ndim)
        _dim("transpose", dim1, x.data.ndim)
        return x
    return Transpose.apply(x, dim0=dim0, dim1=dim1)


def permute(x: Tensor, *dims: int) -> Tensor:
    """x with its dimensions reordered: out.shape[i] = x.shape[dims[i]] (a view)."""
    return Permute.apply(x, dims=_sizes(dims))


def t(x: Tensor) -> Tensor:
    """Transpose of a tensor with at most 2 dimensions (0-d and 1-d tensors come back unchanged)."""
    if x.data.ndim > 2:
        raise ShapeError(f"t: expected a tensor with at most 2 dimensions, received shape {x.shape}; use transpose")
    return x if x.data.ndim < 2 else Transpose.apply(x, dim0=0, dim1=1)


def _T(x: Tensor) -> Tensor:
    n = x.data.ndim
    return x if n < 2 else Permute.apply(x, dims=tuple(range(n - 1, -1, -1)))


def _mT(x: Tensor) -> Tensor:
    if x.data.ndim < 2:
        raise ShapeError(f"mT: expected a tensor with at least 2 dimensions, received shape {x.shape}")
    return Transpose.apply(x, dim0=-2, dim1=-1)


def movedim(x: Tensor, source: int | Sequence[int], destination: int | Sequence[int]) -> Tensor:
    """Move dimensions `source` to positions `destination`, keeping the others in order (a view)."""
    n = x.data.ndim
    src = [_dim("movedim", d, n) for d in ((source,) if isinstance(source, int) else source)]
    dst = [_dim("movedim", d, n) for d in ((destination,) if isinstance(destination, int) else destination)]
    if len(src) != len(dst) or len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ShapeError(f"movedim: expected distinct source and destination dims of equal length, received {source}, "
                         f"{destination}")  # fmt: skip
    rest = iter(d for d in range(n) if d not in src)
    where = dict(zip(dst, src))
    order = tuple(where[i] if i in where else next(rest) for i in range(n))
    return x if order == tuple(range(n)) else Permute.apply(x, dims=order)


# ---- joining and splitting --------------------------------------------------------------------------


class Cat(Function):
    """Concatenate tensors along an existing dimension; each gets back its slice of the gradient."""

    __slots__ = ("dim", "sizes", "dtypes")

    def forward(self, *xs, dim):
        out = namespace(*xs).concatenate(xs, axis=dim)
        self.dim = dim % out.ndim
        self.sizes = [x.shape[self.dim] for x in xs]
        self.dtypes = [x.dtype for x in xs]
        return out

    def backward(self, g):
        grads, start, d = [], 0, self.dim
        lead = (slice(None),) * d
        for i, (n, dt) in enumerate(zip(self.sizes, self.dtypes)):
            if self.needs(i):
                gi = g[lead + (slice(start, start + n),)]
                grads.append(gi if gi.dtype == dt else gi.to(dt))
            else:
                grads.append(None)
            start += n
        return tuple(grads)

    def jvp(self, inputs, out, t):
        return Cat.apply(*[_zeros_like(x) if ti is None else ti for x, ti in zip(inputs, t)], dim=self.dim)

    @staticmethod
    def samples():
        torch = lambda T, *xs, dim: T.cat(xs, dim)
        yield Sample(arr(2, 3), arr(4, 3), dim=0, torch=torch)
        yield Sample(arr(2, 3), arr(2, 1), arr(2, 2), dim=-1, torch=torch, name="three")


class Stack(Function):
    """Stack equal-shaped tensors along a new dimension; each gets back its slice of the gradient."""

    __slots__ = ("dim",)

    def forward(self, *xs, dim):
        out = namespace(*xs).stack(xs, axis=dim)
        self.dim = dim % out.ndim
        return out

    def backward(self, g):
        lead = (slice(None),) * self.dim
        return tuple(g[lead + (i,)] if self.needs(i) else None for i in range(len(self.parents)))

    def jvp(self, inputs, out, t):
        return Stack.apply(*[_zeros_like(x) if ti is None else ti for x, ti in zip(inputs, t)], dim=self.dim)

    @staticmethod
    def samples():
        torch = lambda T, *xs, dim: T.stack(xs, dim)
        yield Sample(arr(2, 3), arr(2, 3), dim=0, torch=torch)
        yield Sample(arr(2, 3), arr(2, 3), arr(2, 3), dim=-1, torch=torch, name="last")


def _tensors(op: str, tensors: Sequence[Tensor]) -> tuple[Tensor, ...]:
    if isinstance(tensors, Tensor) or not len(tensors):
        raise ShapeError(f"{op}: expected a non-empty sequence of tensors, received {type(tensors).__name__}")
    return tuple(tensors)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Concatenate tensors along `dim`; all other sizes must match (dtypes promote, as torch.cat)."""
    tensors = _tensors("cat", tensors)
    return tensors[0] if len(tensors) == 1 else Cat.apply(*tensors, dim=dim)


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Stack equal-shaped tensors along a new dimension `dim`."""
    return Stack.apply(*_tensors("stack", tensors), dim=dim)


def hstack(tensors: Sequence[Tensor]) -> Tensor:
    """Concatenate along dim 1 (dim 0 for 1-D tensors)."""
    tensors = _tensors("hstack", tensors)
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Tensor]) -> Tensor:
    """Concatenate along dim 0, 1-D tensors becoming rows."""
    return cat([x.reshape(1, -1) if x.ndim < 2 else x for x in _tensors("vstack", tensors)], 0)


def narrow(x: Tensor, dim: int, start: int, length: int) -> Tensor:
    """The view x[..., start:start + length, ...] along `dim`."""
    d = _dim("narrow", dim, x.data.ndim)
    n = x.data.shape[d]
    if start < 0:
        start += n
    if not (0 <= start <= n and 0 <= length <= n - start):
        raise ShapeError(f"narrow: start {start} and length {length} do not fit in dim {dim} of size {n}")
    return x[(slice(None),) * d + (slice(start, start + length),)]


def split(x: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces of `split_size` along dim (the last may be smaller), or of the given section sizes (views)."""
    d = _dim("split", dim, x.data.ndim)
    n = x.data.shape[d]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0:
            raise ShapeError(f"split: expected a positive split size, received {step}")
        sections = [min(step, n - s) for s in range(0, n, step)] or [0]
    else:
        sections = list(split_size_or_sections)
        if sum(sections) != n or any(s < 0 for s in sections):
            raise ShapeError(f"split: sections {sections} must be non-negative and sum to the size {n} of dim {dim}")
    lead = (slice(None),) * d
    pieces, start = [], 0
    for s in sections:
        pieces.append(x[lead + (slice(start, start + s),)])
        start += s
    return tuple(pieces)


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """At most `chunks` pieces of size ceil(n / chunks) along dim (torch may return fewer)."""
    if chunks <= 0:
        raise ShapeError(f"chunk: expected a positive number of chunks, received {chunks}")
    n = x.data.shape[_dim("chunk", dim, x.data.ndim)]
    return split(x, max(-(-n // chunks), 1), dim)


def unbind(x: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices of x along dim, each without that dimension (views)."""
    d = _dim("unbind", dim, x.data.ndim)
    lead = (slice(None),) * d
    return tuple(x[lead + (i,)] for i in range(x.data.shape[d]))


# ---- copies: pad, flip, roll, repeat --------------------------------------------------------------------


class Pad(Function):
    """Constant padding by per-dimension (before, after) widths; negative widths crop."""

    __slots__ = ("widths",)

    def forward(self, x, widths, value=0.0):
        self.widths = widths
        if any(b < 0 or a < 0 for b, a in widths):
            x = x[tuple(slice(max(-b, 0), n - max(-a, 0)) for (b, a), n in zip(widths, x.shape))]
        shape = tuple(n + max(b, 0) + max(a, 0) for (b, a), n in zip(widths, x.shape))
        out = namespace(x).full(shape, value, x.dtype)
        out[tuple(slice(max(b, 0), max(b, 0) + n) for (b, _), n in zip(widths, x.shape))] = x
        return out

    def backward(self, g):
        return Pad.apply(g, widths=tuple((-b, -a) for b, a in self.widths))

    def jvp(self, inputs, out, t):
        return Pad.apply(t[0], widths=self.widths)

    @staticmethod
    def samples():
        F = lambda T: T.nn.functional
        yield Sample(arr(2, 3, 4), call=pad, pad=(1, 2), torch=lambda T, x, pad: F(T).pad(x, pad))
        yield Sample(arr(2, 3), call=pad, pad=(1, 0, 2, 1), value=0.5,
                     torch=lambda T, x, pad, value: F(T).pad(x, pad, value=value), name="value")  # fmt: skip
        yield Sample(arr(3, 4), call=pad, pad=(-1, 2), torch=lambda T, x, pad: F(T).pad(x, pad), name="crop")


def _pad_dim(x: Tensor, d: int, before: int, after: int, mode: str) -> Tensor:
    """x padded along dim d by reflecting, replicating or wrapping its own slices (one cat of views)."""
    n = x.data.shape[d]
    lead = (slice(None),) * d
    if mode == "reflect":
        left = x[lead + (slice(before, 0, -1),)]
        right = x[lead + (slice(n - 2, n - 2 - after if n - 2 - after >= 0 else None, -1),)]
    elif mode == "replicate":
        edge = x.data.shape[:d] + (before,) + x.data.shape[d + 1 :]
        left = x[lead + (slice(0, 1),)].expand(edge)
        right = x[lead + (slice(n - 1, n),)].expand(edge[:d] + (after,) + edge[d + 1 :])
    else:
        left, right = x[lead + (slice(n - before, n),)], x[lead + (slice(0, after),)]
    return cat([p for p in (left, x, right) if p.data.shape[d]], d)


def pad(x: Tensor, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad x with torch's pad order: (left, right) of the last dim first, then of the one before, ...

    mode: 'constant' (with `value`; negative widths crop), 'reflect', 'replicate' or 'circular'.
    """
    pad = tuple(pad)
    k = len(pad) // 2
    if len(pad) % 2 or k > x.data.ndim:
        raise ShapeError(f"pad: expected an even number of pad widths, at most 2 * ndim = {2 * x.data.ndim}; "
                         f"received {len(pad)}")  # fmt: skip
    widths = ((0, 0),) * (x.data.ndim - k) + tuple((pad[2 * i], pad[2 * i + 1]) for i in reversed(range(k)))
    if mode == "constant":
        return Pad.apply(x, widths=widths, value=value)
    if mode not in ("reflect", "replicate", "circular"):
        raise ShapeError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', received {mode!r}")
    for d, (b, a) in enumerate(widths):
        if not (b or a):
            continue
        n = x.data.shape[d]
        limit = n - 1 if mode == "reflect" else n
        if b < 0 or a < 0 or (mode != "replicate" and max(b, a) > limit) or n == 0:
            raise ShapeError(f"pad: {mode} padding of ({b}, {a}) does not fit dim {d} of size {n} "
                             f"(expected widths in 0..{limit})")  # fmt: skip
        x = _pad_dim(x, d, b, a, mode)
    return x


class Flip(Function):
    """Reverse the order of elements along `dims` (a copy, as torch.flip)."""

    __slots__ = ("dims",)

    def forward(self, x, dims):
        self.dims = dims
        return namespace(x).flip(x, dims).copy()

    def backward(self, g):
        return g.flip(self.dims)

    def jvp(self, inputs, out, t):
        return t[0].flip(self.dims)

    @staticmethod
    def samples():
        torch = lambda T, x, dims: x.flip(dims)
        yield Sample(arr(3, 4), dims=(0,), torch=torch)
        yield Sample(arr(2, 3, 4), dims=(-1, 0), torch=torch, name="two")


class Roll(Function):
    """Shift elements cyclically along dims (along the flattened tensor when dims is None)."""

    __slots__ = ("shifts", "dims")

    def forward(self, x, shifts, dims=None):
        self.shifts, self.dims = shifts, dims
        return namespace(x).roll(x, shifts, dims)

    def backward(self, g):
        neg = tuple(-s for s in self.shifts) if isinstance(self.shifts, tuple) else -self.shifts
        return Roll.apply(g, shifts=neg, dims=self.dims)

    def jvp(self, inputs, out, t):
        return Roll.apply(t[0], shifts=self.shifts, dims=self.dims)

    @staticmethod
    def samples():
        yield Sample(arr(3, 4), shifts=(1, -2), dims=(0, 1), torch=lambda T, x, shifts, dims: x.roll(shifts, dims))
        yield Sample(arr(3, 4), shifts=5, torch=lambda T, x, shifts: x.roll(shifts), name="flat")


class Repeat(Function):
    """Tile x `sizes` times along each dimension (torch.Tensor.repeat = numpy.tile)."""

    __slots__ = ("in_shape", "sizes")

    def forward(self, x, sizes):
        self.in_shape, self.sizes = x.shape, sizes
        return namespace(x).tile(x, sizes)

    def backward(self, g):
        shape = (1,) * (len(self.sizes) - len(self.in_shape)) + self.in_shape
        split = tuple(v for s, n in zip(self.sizes, shape) for v in (s, n))
        ones = tuple(v for n in shape for v in (1, n))
        return g.reshape(split).sum_to_size(ones).reshape(self.in_shape)

    def jvp(self, inputs, out, t):
        return Repeat.apply(t[0], sizes=self.sizes)

    @staticmethod
    def samples():
        torch = lambda T, x, sizes: x.repeat(*sizes)
        yield Sample(arr(2, 3), sizes=(2, 2), torch=torch)
        yield Sample(arr(3), sizes=(2, 1, 2), torch=torch, name="new dims")


def flip(x: Tensor, dims: int | Sequence[int]) -> Tensor:
    """x with the order of elements reversed along dims (a copy)."""
    return Flip.apply(x, dims=(dims,) if isinstance(dims, int) else tuple(dims))


def roll(x: Tensor, shifts: int | Sequence[int], dims: int | Sequence[int] | None = None) -> Tensor:
    """Shift elements cyclically by `shifts` along `dims` (along the flattened tensor when dims is None)."""
    if dims is None:
        if not isinstance(shifts, int):
            raise ShapeError(f"roll: without dims, expected one integer shift, received {shifts}")
        return Roll.apply(x, shifts=shifts)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise ShapeError(f"roll: expected as many shifts as dims, received shifts {shifts} and dims {dims}")
    return Roll.apply(x, shifts=shifts, dims=dims)


def repeat(x: Tensor, *sizes: int) -> Tensor:
    """Tile x: x.repeat(2, 3) on shape (a, b) gives (2a, 3b); extra leading sizes add dimensions."""
    sizes = _sizes(sizes)
    if len(sizes) < x.data.ndim:
        raise ShapeError(f"repeat: expected at least ndim = {x.data.ndim} sizes, received {sizes}")
    return Repeat.apply(x, sizes=sizes)


def tile(x: Tensor, dims: Sequence[int]) -> Tensor:
    """As repeat, but fewer sizes than dimensions are padded with ones in front (torch.tile)."""
    dims = tuple(dims)
    return repeat(x, *((1,) * (x.data.ndim - len(dims)) + dims))


def repeat_interleave(x: Tensor, repeats: int | Tensor | Sequence[int], dim: int | None = None) -> Tensor:
    """Repeat each element (of the flattened x, or each slice along dim) `repeats` times, as a gather."""
    if dim is None:
        x, dim = x.reshape(-1), 0
    d = _dim("repeat_interleave", dim, x.data.ndim)
    xp = namespace(x.data)
    reps = repeats.data if isinstance(repeats, Tensor) else repeats
    try:
        index = xp.repeat(xp.arange(x.data.shape[d]), reps)
    except ValueError:
        raise ShapeError(
            f"repeat_interleave: repeats must be one integer or one per element of dim {dim} "
            f"(size {x.data.shape[d]}), received {repeats}"
        ) from None
    return x.index_select(d, index)


__all__ = [
    "reshape", "flatten", "ravel", "unflatten", "squeeze", "unsqueeze", "transpose", "permute", "t", "movedim",
    "cat", "concatenate", "concat", "stack", "hstack", "vstack", "narrow", "split", "chunk", "unbind", "pad", "flip",
    "roll", "tile", "repeat_interleave", "swapaxes", "swapdims", "moveaxis",
]  # fmt: skip
concatenate = concat = cat
swapaxes = swapdims = transpose
moveaxis = movedim
TENSOR_METHODS = {
    "reshape": reshape, "view": reshape, "view_as": view_as, "reshape_as": view_as, "flatten": flatten,
    "ravel": ravel, "unflatten": unflatten, "squeeze": squeeze, "unsqueeze": unsqueeze, "transpose": transpose,
    "swapaxes": transpose, "swapdims": transpose, "permute": permute, "t": t, "T": property(_T), "mT": property(_mT),
    "movedim": movedim, "moveaxis": movedim, "narrow": narrow, "split": split, "chunk": chunk, "unbind": unbind,
    "flip": flip, "roll": roll, "repeat": repeat, "tile": tile, "repeat_interleave": repeat_interleave,
}  # fmt: skip
