"""Function: the graph node of one differentiable op, its `apply` (forward + recording) and in-place variant.

An op subclasses Function and writes, side by side:
  forward(self, *arrays, **params) -> array     on raw arrays; may stash arrays in self.cache
  backward(self, grad) -> Tensor | tuple         vjp, written with dagrad ops (so double backward works)
  jvp(self, inputs, out, tangents) -> Tensor     forward-mode rule, also with dagrad ops
  samples() -> iterable of Sample                float64 inputs the gradient tests run on
Class attributes say what backward needs: `retain` (indices of inputs kept as tensors) and
`keep_output` (the output array, reached through `self.output()`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy

from dagrad.autograd.grad_mode import state
from dagrad.autograd.tensor import Tensor, _make
from dagrad.backend import namespace, ndarray_types
from dagrad.errors import AnomalyError, DtypeError, GradientError, InplaceError, ShapeError

_new = object.__new__
_ndarray = numpy.ndarray
_PKG_DIR = __file__.rsplit("/autograd/", 1)[0]

REGISTRY: dict[str, type[Function]] = {}
vmap_hook = None  # set by dagrad.func.vmap: hook(cls, inputs, params) -> Tensor, or None when no input is batched


def user_site(skip: int = 1) -> str:
    """'file:line' of the innermost caller outside the dagrad package (for error messages)."""
    f = sys._getframe(skip)
    while f is not None and f.f_code.co_filename.startswith(_PKG_DIR):
        f = f.f_back
    if f is None:
        return "<unknown>"
    return f"{f.f_code.co_filename}:{f.f_lineno}"


class Sample:
    """One test case for an op: differentiable float64 `inputs` (arrays) plus fixed `kwargs`.

    `call(*tensors, **kwargs)` runs the op (default: the op's apply); `torch` runs the same in PyTorch.
    """

    __slots__ = ("inputs", "kwargs", "call", "torch", "grad2", "name")

    def __init__(self, *inputs, call=None, torch=None, grad2: bool = True, name: str = "", **kwargs) -> None:
        self.inputs = inputs
        self.kwargs = kwargs
        self.call = call
        self.torch = torch
        self.grad2 = grad2
        self.name = name

    def __repr__(self) -> str:
        shapes = [getattr(a, "shape", a) for a in self.inputs]
        return f"Sample({self.name or ''}{shapes}, {self.kwargs})"


class Function:
    """A node of the computation graph: one call of one differentiable op."""

    __slots__ = ("parents", "saved", "cache", "out", "shape", "epoch", "fw", "site", "__weakref__")

    retain: ClassVar[tuple[int, ...]] = ()
    _prefix: ClassVar[int] = 0  # len(retain) when retain is 0..k-1 (saved = inputs[:k]), else -1
    keep_output: ClassVar[bool] = False
    is_view: ClassVar[bool] = False
    differentiable: ClassVar[bool] = True
    writes_input: ClassVar[bool] = False  # forward(..., inplace=True) may write its result into input 0's array

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__module__.startswith("dagrad.") and not cls.__name__.startswith("_"):
            REGISTRY[cls.__name__] = cls
        k = len(cls.retain)
        cls._prefix = k if cls.retain == tuple(range(k)) else -1

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> Tensor:
        """Run forward on the inputs' arrays; record a node when grad mode is on and an input needs grad."""
        st = state
        if st.vmap and vmap_hook is not None:
            res = vmap_hook(cls, inputs, params)
            if res is not None:
                return res
        node = _new(cls)
        track = False
        if st.grad and cls.differentiable:
            args = []
            parents = []
            for x in inputs:
                if isinstance(x, Tensor):
                    args.append(x.data)
                    if x.requires_grad:
                        parents.append(x.grad_fn or x)
                        track = True
                        continue
                else:
                    args.append(x)
                parents.append(None)
            node.parents = tuple(parents) if track else None
        else:
            node.parents = None
            args = [x.data if isinstance(x, Tensor) else x for x in inputs]
        try:
            data = node.forward(*args, **params)
        except FloatingPointError as e:
            raise AnomalyError(
                f"detect_anomaly: {cls.__name__} forward produced NaN/Inf ({e}) at {user_site(2)}"
            ) from None
        except ValueError as e:
            shapes = ", ".join(str(tuple(x.shape)) for x in inputs if hasattr(x, "shape"))
            raise ShapeError(f"{cls.__name__.lower()}: {e} (input shapes {shapes})") from None
        if type(data) is not _ndarray and not isinstance(data, ndarray_types):
            data = numpy.asarray(data)
        out = _new(Tensor)
        out.data = data
        out.grad = None
        out._version = 0
        out._base = None
        out._tangent = None
        out._hooks = None
        if track:
            out.requires_grad = True
            out.grad_fn = node
            node.shape = data.shape
            node.epoch = st.epoch
            k = cls._prefix
            node.saved = inputs[:k] if k >= 0 else tuple([inputs[i] for i in cls.retain])
            node.out = data if cls.keep_output else None
            if st.anomaly:
                node.site = user_site(2)
        else:
            out.requires_grad = False
            out.grad_fn = None
        if cls.is_view:
            src = inputs[0]
            out._base = src if src._base is None else src._base
        if st.fw:
            _forward_mode(node, inputs, out, track)
        return out

    @classmethod
    def apply_(cls, target: Tensor, *inputs: Any, **params: Any) -> Tensor:
        """In-place variant: compute op(target, *inputs) and write it into target, rebasing its history."""
        name = cls.__name__.lower() + "_"
        track = (
            state.grad
            and cls.differentiable
            and (target.requires_grad or any(isinstance(x, Tensor) and x.requires_grad for x in inputs))
        )
        src = target
        if track:
            if target.requires_grad and target.grad_fn is None:
                raise InplaceError(
                    f"{name}: a leaf tensor that requires grad is used in an in-place operation; "
                    "wrap it in dagrad.no_grad() or use the out-of-place op"
                )
            if target._base is not None:
                raise InplaceError(
                    f"{name}: in-place change of a view that would record autograd history is not supported; "
                    "assign through the base tensor (base[idx] = value) or use the out-of-place op"
                )
            if 0 in cls.retain:
                src = _make(target.data.copy(), target.requires_grad, target.grad_fn)
        if src is target and cls.writes_input and not state.fw and not state.vmap and _fits(target, inputs):
            params["inplace"] = True
        res = cls.apply(src, *inputs, **params)
        if res.shape != target.shape:
            raise ShapeError(
                f"{name}: the result's shape {res.shape} does not match the tensor's shape {target.shape}; "
                "an in-place op cannot change a tensor's shape"
            )
        if res.data is not target.data:
            try:
                namespace(target.data).copyto(target.data, res.data, casting="same_kind")
            except TypeError:
                raise DtypeError(
                    f"{name}: result type {res.dtype} cannot be written into a tensor of dtype {target.dtype}"
                ) from None
        mark_modified(target)
        if track:
            target.grad_fn = res.grad_fn
            target.requires_grad = True
        if state.fw and res._tangent is not None:
            target._tangent = res._tangent
        return target

    def forward(self, *arrays: Any, **params: Any) -> Any:
        raise GradientError(f"{type(self).__name__} defines no forward")

    def backward(self, grad: Tensor) -> Tensor | tuple[Tensor | None, ...]:
        raise GradientError(f"{type(self).__name__} has no backward rule (vjp)")

    def jvp(self, inputs: tuple, out: Tensor, tangents: list) -> Tensor:
        raise GradientError(f"{type(self).__name__} has no forward-mode rule (jvp)")

    @staticmethod
    def samples() -> Iterable[Sample]:
        return ()

    def needs(self, i: int) -> bool:
        """Whether input `i` needs a gradient (backward may skip the others)."""
        return self.parents[i] is not None

    def output(self) -> Tensor:
        """The op's output as a tensor whose history is this node (for rules that use y = f(x))."""
        t = _make(self.out, True, self)
        t._tangent = getattr(self, "fw", None)
        return t

    def release(self) -> None:
        """Free what forward saved for backward (after a backward without retain_graph)."""
        if self.saved or getattr(self, "out", None) is not None or getattr(self, "cache", None) is not None:
            self.saved = None  # marks the node freed: a second backward through it raises
        self.out = None
        self.cache = None

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{type(self).__name__}Backward0>"

    @property
    def next_functions(self) -> tuple:
        return tuple(p for p in (self.parents or ()) if p is not None)


def _forward_mode(node: Function, inputs: tuple, out: Tensor, track: bool) -> None:
    """Propagate tangents through one op with its jvp rule (forward-mode AD, one level)."""
    tangents = [x._tangent if isinstance(x, Tensor) else None for x in inputs]
    if not type(node).differentiable or all(t is None for t in tangents):
        return
    level = state.fw
    state.fw = 0
    try:
        t = node.jvp(inputs, out, tangents)
    finally:
        state.fw = level
    if t is not None and t.shape != out.shape:
        t = t.expand(out.shape)
    out._tangent = t
    if track and type(node).keep_output:
        node.fw = t


def _fits(target: Tensor, inputs: tuple) -> bool:
    """Whether an elementwise op's result on (target, *inputs) has target's shape and dtype, so that its forward
    can write straight into target's array (Function.writes_input): the other inputs are NumPy tensors (whose
    ufuncs buffer an input that overlaps the output) of target's dtype whose shapes broadcast to target's, or
    numbers of target's kind."""
    kind = target.data.dtype.kind
    for x in inputs:
        if isinstance(x, Tensor):
            if type(x.data) is not _ndarray or x.dtype != target.dtype or x.ndim > target.ndim:
                return False
            if any(a != b and a != 1 for a, b in zip(x.shape[::-1], target.shape[::-1])):
                return False
        elif type(x) is int:
            if kind not in "fciu":
                return False
        elif type(x) is not float or kind not in "fc":
            return False
    return True


def mark_modified(t: Tensor) -> None:
    """Record an in-place change of t (and of the base it views): bump versions, note the site."""
    from dagrad.autograd import engine

    state.epoch += 1
    site = user_site(2)
    for x in (t, t._base):
        if x is None:
            continue
        x._version = state.epoch
        engine.inplace_sites[x] = site
        node = x.grad_fn
        if node is not None and node.out is not None and node.out is x.data:
            engine.modified_outputs[node] = site
