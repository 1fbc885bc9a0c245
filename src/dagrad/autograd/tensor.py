"""Tensor: an array with autograd state. Op methods (x + y, x.sum(), ...) are attached by dagrad.ops."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy

from dagrad import backend
from dagrad.backend import Device, device_of, ndarray_types
from dagrad.errors import DtypeError, GradientError

_new = object.__new__


def _make(data, requires_grad: bool = False, grad_fn=None) -> Tensor:
    """Fast internal constructor: wrap an array with no checks."""
    t = _new(Tensor)
    t.data = data
    t.grad = None
    t.requires_grad = requires_grad
    t.grad_fn = grad_fn
    t._version = 0
    t._base = None
    t._tangent = None
    t._hooks = None
    return t


def as_array(data: Any, dtype=None):
    """Turn user data (Tensor, array, list, scalar) into an array, as torch.tensor infers dtypes."""
    if isinstance(data, Tensor):
        arr = data.data
    elif isinstance(data, ndarray_types):
        arr = data
    else:
        if isinstance(data, (list, tuple)) and any(isinstance(v, Tensor) for v in _flat(data)):
            data = _tensors_to_lists(data)
        arr = numpy.asarray(data)
        if dtype is None and arr.dtype.kind == "f":
            arr = arr.astype(backend.get_default_dtype(), copy=False)
        elif dtype is None and arr.dtype.kind in "iu":
            arr = arr.astype(backend.int64, copy=False)
    if arr.dtype.kind not in "fiub":
        raise DtypeError(f"tensor: expected numbers or booleans, received data of dtype {arr.dtype}")
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    return arr


def _flat(seq):
    for v in seq:
        if isinstance(v, (list, tuple)):
            yield from _flat(v)
        else:
            yield v


def _tensors_to_lists(seq):
    return [
        _tensors_to_lists(v) if isinstance(v, (list, tuple)) else (v.data if isinstance(v, Tensor) else v) for v in seq
    ]


class RemovableHandle:
    """Returned by register_hook; `remove()` unregisters the hook."""

    __slots__ = ("_list", "_item")

    def __init__(self, lst: list, item: Any) -> None:
        self._list, self._item = lst, item

    def remove(self) -> None:
        if self._item in self._list:
            self._list.remove(self._item)


class Tensor:
    """An n-dimensional array that records the ops applied to it, for reverse- and forward-mode AD.

    data: the ndarray (NumPy or CuPy); grad: accumulated gradient (a Tensor) for leaves;
    grad_fn: the Function node that produced it (None for leaves).
    """

    __slots__ = ("data", "grad", "requires_grad", "grad_fn", "_version", "_base", "_tangent", "_hooks", "__weakref__")
    __array_ufunc__ = None  # make NumPy defer `ndarray + Tensor` to Tensor.__radd__
    __hash__ = object.__hash__

    def __init__(self, data: Any, requires_grad: bool = False, dtype=None) -> None:
        arr = as_array(data, dtype)
        if isinstance(data, Tensor) or (isinstance(data, ndarray_types) and dtype is None):
            arr = arr.copy()
        self.data = arr
        self.grad = None
        self.requires_grad = False
        self.grad_fn = None
        self._version = 0
        self._base = None
        self._tangent = None
        self._hooks = None
        if requires_grad:
            self.requires_grad_(True)

    # ---- metadata -------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> numpy.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def dim(self) -> int:
        return self.data.ndim

    def size(self, dim: int | None = None):
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self) -> int:
        return self.data.size

    def element_size(self) -> int:
        return self.data.itemsize

    def nbytes(self) -> int:
        return self.data.nbytes

    @property
    def device(self) -> Device:
        return device_of(self.data)

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def is_floating_point(self) -> bool:
        return self.data.dtype.kind == "f"

    def is_contiguous(self) -> bool:
        return bool(self.data.flags.c_contiguous)

    # ---- conversion -------------------------------------------------------------------------
    def numpy(self) -> numpy.ndarray:
        """The data as a NumPy array (shares memory, as torch's .numpy())."""
        if self.requires_grad:
            raise GradientError("numpy(): the tensor requires grad; call tensor.detach().numpy() instead")
        if not isinstance(self.data, numpy.ndarray):
            raise GradientError(f"numpy(): the tensor is on {self.device}; call tensor.cpu().numpy() instead")
        return self.data

    def item(self) -> float | int | bool:
        if self.data.size != 1:
            raise GradientError(f"item(): expected a tensor with one element, received shape {self.shape}")
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def __array__(self, dtype=None, copy=None) -> numpy.ndarray:
        """NumPy interop: np.asarray(t) shares memory (on the CPU), np.array(t) copies."""
        if not isinstance(self.data, numpy.ndarray):
            arr = self.data.get()  # a device-to-host copy already
            return arr if dtype is None else arr.astype(dtype, copy=False)
        if dtype is not None and numpy.dtype(dtype) != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise GradientError(
                f"bool(): the truth value of a tensor with {self.data.size} elements is ambiguous; use .any() or .all()"
            )
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError(
                f"only integer tensors of one element can be used as an index, received {self.dtype}{self.shape}"
            )
        return int(self.data.item())

    def __repr__(self) -> str:
        """torch's layout: tensor([1.5000, 2.0000], dtype=..., grad_fn=<...>), 4 decimals unless all integral."""
        arr = numpy.asarray(self.__array__())
        kind = arr.dtype.kind
        opts: dict[str, Any] = {"precision": 4, "threshold": 1000, "max_line_width": 82}
        if kind == "f":
            opts["floatmode"] = _float_mode(arr)
        elif kind == "b":
            width = 4 if arr.all() else 5
            opts["formatter"] = {"bool": lambda v: str(bool(v)).rjust(width)}
        body = numpy.array2string(arr, separator=", ", prefix="tensor(", **opts)
        extra = []
        if arr.size == 0 and arr.ndim != 1:
            extra.append(f"size={arr.shape}")
        default = self.data.dtype == backend.get_default_dtype()
        if not default and (arr.size == 0 or self.data.dtype not in (backend.int64, backend.bool_)):
            extra.append(f"dtype=dagrad.{self.data.dtype}")
        if self.device.type != "cpu":
            extra.append(f"device='{self.device}'")
        if self.grad_fn is not None:
            extra.append(f"grad_fn={self.grad_fn!r}")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extra) + ")"

    def __deepcopy__(self, memo: dict) -> Tensor:
        if self.grad_fn is not None:
            raise GradientError("deepcopy: only leaf tensors can be deep-copied; call .detach() first")
        t = _new(type(self))
        t.data = self.data.copy()
        t.grad = None if self.grad is None else self.grad.__deepcopy__(memo)
        t.requires_grad = self.requires_grad
        t.grad_fn = None
        t._version = 0
        t._base = None
        t._tangent = None
        t._hooks = None
        memo[id(self)] = t
        return t

    # ---- autograd -----------------------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set whether this leaf records operations for autograd (float tensors only)."""
        if requires_grad and self.data.dtype.kind not in "fc":
            raise DtypeError(
                f"requires_grad_: only floating point tensors can require gradients, received dtype {self.dtype}"
            )
        if self.grad_fn is not None and not requires_grad:
            raise GradientError(
                "requires_grad_(False): only leaf tensors can stop requiring grad; use .detach() on a non-leaf"
            )
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> Tensor:
        """A tensor sharing this one's data, cut from the graph (in-place changes show in both)."""
        t = _make(self.data, False, None)
        t._base = self if self._base is None else self._base
        return t

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self.requires_grad = False
        return self

    def backward(
        self, gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False, inputs=None
    ) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's .grad (the vector-Jacobian product with `gradient`)."""
        from dagrad.autograd.engine import backward

        backward([self], None if gradient is None else [gradient], retain_graph, create_graph, inputs)

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Call hook(grad) when this tensor's gradient is computed; a returned tensor replaces grad."""
        if not self.requires_grad:
            raise GradientError("register_hook: cannot register a hook on a tensor that does not require grad")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = []
            lst = self._hooks
        else:
            from dagrad.autograd.engine import node_hooks

            lst = node_hooks.setdefault(self.grad_fn, [])
        lst.append(hook)
        return RemovableHandle(lst, hook)

    def retain_grad(self) -> None:
        """Keep .grad of a non-leaf tensor after backward (leaves always keep theirs)."""
        if not self.requires_grad:
            raise GradientError("retain_grad: cannot retain the grad of a tensor that does not require grad")
        if self.grad_fn is not None:
            import weakref

            from dagrad.autograd.engine import retained

            retained[self.grad_fn] = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        if self.grad_fn is None:
            return False
        from dagrad.autograd.engine import retained

        ref = retained.get(self.grad_fn)
        return ref is not None and ref() is self


def _float_mode(arr: numpy.ndarray) -> str:
    """'maxprec' (1., 2.) when every finite value is integral and small, else 'fixed' (1.5000, 2.0000e+05)."""
    finite = numpy.abs(arr[numpy.isfinite(arr)])
    if finite.size == 0 or (finite != numpy.round(finite)).any():
        return "fixed"
    nonzero = finite[finite != 0]
    if nonzero.size and (nonzero.max() >= 1e8 or nonzero.max() > 1000 * nonzero.min()):
        return "fixed"
    return "maxprec"


def is_tensor(obj: Any) -> bool:
    return isinstance(obj, Tensor)
