"""Module: the base of every layer and model — parameters, buffers, sub-modules, modes, state dicts, hooks."""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from dagrad.autograd.forward_ad import Alias
from dagrad.autograd.function import mark_modified
from dagrad.autograd.grad_mode import no_grad
from dagrad.autograd.tensor import RemovableHandle, Tensor, _make, as_array
from dagrad.errors import DagradError, ShapeError
from dagrad.nn.parameter import Parameter


class StateDictError(DagradError, KeyError):
    """load_state_dict found missing or unexpected keys, or shapes that differ."""

    def __str__(self) -> str:
        return str(self.args[0])


class IncompatibleKeys(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of layers and models (as torch.nn.Module): assign Parameters and Modules as attributes."""

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_forward_pre_hooks", [])
        object.__setattr__(self, "_forward_hooks", [])
        object.__setattr__(self, "_backward_hooks", [])

    # ---- attribute registration ---------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        params = self.__dict__.get("_parameters")
        if params is None:
            raise DagradError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        if isinstance(value, Parameter):
            self.__dict__.pop(name, None)
            self._modules.pop(name, None)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self.__dict__.pop(name, None)
            self._parameters.pop(name, None)
            self._modules[name] = value
        elif name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"{type(self).__name__}.{name}: a buffer must be a Tensor or None, received {type(value).__name__}"
                )
            self._buffers[name] = value
        elif name in self._parameters and value is None:
            self._parameters[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            store = d.get(key)
            if store is not None and name in store:
                return store[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for key in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__[key]:
                del self.__dict__[key][name]
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"register_parameter: expected a Parameter or None for '{name}', received {type(param).__name__}"
            )
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """A tensor that is state but not a parameter (e.g. BatchNorm's running mean); saved in state_dict."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"register_buffer: expected a Tensor or None for '{name}', received {type(tensor).__name__}"
            )
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: expected a Module for '{name}', received {type(module).__name__}")
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        mod = self
        for part in target.split(".") if target else []:
            if part not in mod._modules:
                raise AttributeError(
                    f"get_submodule: {type(mod).__name__} has no sub-module '{part}' (path '{target}')"
                )
            mod = mod._modules[part]
        return mod

    def get_parameter(self, target: str) -> Parameter:
        path, _, name = target.rpartition(".")
        mod = self.get_submodule(path)
        if name not in mod._parameters:
            raise AttributeError(f"get_parameter: {type(mod).__name__} has no parameter '{name}'")
        return mod._parameters[name]

    # ---- forward ---------------------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise DagradError(f"{type(self).__name__} defines no forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks):
            return self.forward(*args, **kwargs)
        for hook in list(self._forward_pre_hooks):
            res = hook(self, args)
            if res is not None:
                args = res if isinstance(res, tuple) else (res,)
        call = _BackwardHookCall(self, args) if self._backward_hooks else None
        if call is not None:
            args = call.args
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks):
            res = hook(self, args, out)
            if res is not None:
                out = res
        return out if call is None else call.wrap_outputs(out)

    def register_forward_pre_hook(self, hook: Callable) -> RemovableHandle:
        """hook(module, args) runs before forward; it may return replacement args."""
        self._forward_pre_hooks.append(hook)
        return RemovableHandle(self._forward_pre_hooks, hook)

    def register_forward_hook(self, hook: Callable) -> RemovableHandle:
        """hook(module, args, output) runs after forward; it may return a replacement output."""
        self._forward_hooks.append(hook)
        return RemovableHandle(self._forward_hooks, hook)

    def register_full_backward_hook(self, hook: Callable) -> RemovableHandle:
        """hook(module, grad_input, grad_output) runs once the gradients w.r.t. the module's inputs are known;
        a returned tuple replaces grad_input (for the input whose gradient arrived last)."""
        self._backward_hooks.append(hook)
        return RemovableHandle(self._backward_hooks, hook)

    register_backward_hook = register_full_backward_hook

    # ---- traversal ---------------------------------------------------------------------------------------
    def named_modules(
        self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        memo = set() if memo is None else memo
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, mod in self._modules.items():
            if mod is not None:
                yield from mod.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen = set()
        for name, mod in self._modules.items():
            if mod is not None and id(mod) not in seen:
                seen.add(id(mod))
                yield name, mod

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(
        self, key: str, prefix: str, recurse: bool, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for mod_prefix, mod in mods:
            for name, value in getattr(mod, key).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ---- modes and bulk changes --------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active, batch norm uses batch statistics) on this module and all below."""
        if not isinstance(mode, bool):
            raise TypeError(f"train(): expected a bool, received {type(mode).__name__}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.data[...] = 0

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call fn on every sub-module (children first) and on self, as torch's Module.apply (e.g. for init)."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _apply(self, convert: Callable[[Any], Any]) -> Module:
        """Convert every parameter's and buffer's array in place (dtype or device moves); keeps identities."""
        for m in self.modules():
            for p in m._parameters.values():
                if p is not None:
                    p.data = convert(p.data)
                    if p.grad is not None:
                        p.grad = _make(convert(p.grad.data))
            for b in m._buffers.values():
                if b is not None:
                    b.data = convert(b.data)
        return self

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Move/cast parameters and buffers: to(dtype), to('cuda'), to(device=, dtype=); floats only are cast."""
        from dagrad.backend import Device, to_device
        from dagrad.ops.cast import _parse_to

        dtype, device = _parse_to(args, dict(kwargs))

        def convert(a):
            if device is not None:
                a = to_device(a, Device(device))
            if dtype is not None and a.dtype.kind == "f":
                a = a.astype(dtype)
            return a

        return self._apply(convert)

    def float(self) -> Module:
        return self.to("float32")

    def double(self) -> Module:
        return self.to("float64")

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, device: int | None = None) -> Module:
        return self.to("cuda" if device is None else f"cuda:{device}")

    # ---- state dicts -------------------------------------------------------------------------------------
    def state_dict(
        self, destination: dict | None = None, prefix: str = "", keep_vars: bool = False
    ) -> dict[str, Tensor]:
        """Parameters and persistent buffers by dotted name, as PyTorch names them (e.g. 'features.0.weight')."""
        out = OrderedDict() if destination is None else destination
        for name, mod in self.named_modules(prefix=prefix.rstrip(".")):
            pre = f"{name}." if name else ""
            for k, p in mod._parameters.items():
                if p is not None:
                    out[pre + k] = p if keep_vars else p.detach()
            for k, b in mod._buffers.items():
                if b is not None and k not in mod._non_persistent:
                    out[pre + k] = b if keep_vars else b.detach()
        return out

    def load_state_dict(
        self, state_dict: dict[str, Any], strict: bool = True, assign: bool = False
    ) -> IncompatibleKeys:
        """Copy arrays (Tensors or NumPy arrays) into parameters and buffers by name; strict checks the key sets."""
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        mismatched = []
        for k, target in own.items():
            if k in state_dict:
                shape = tuple(getattr(state_dict[k], "shape", ()))
                if shape != tuple(target.shape):
                    mismatched.append(f"{k}: expected shape {tuple(target.shape)}, received {shape}")
        if mismatched or (strict and (missing or unexpected)):
            lines = [f"load_state_dict for {type(self).__name__}:"]
            if missing:
                lines.append(f"  missing keys: {missing}")
            if unexpected:
                lines.append(f"  unexpected keys: {unexpected}")
            lines += [f"  size mismatch for {m}" for m in mismatched]
            raise StateDictError("\n".join(lines))
        with no_grad():
            for k, target in own.items():
                if k in state_dict:
                    src = as_array(state_dict[k])
                    if assign:
                        target.data = src.astype(target.dtype, copy=True)
                    else:
                        target.data[...] = src
                    mark_modified(target)
        return IncompatibleKeys(missing, unexpected)

    # ---- printing ------------------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        head = f"{type(self).__name__}({self.extra_repr()}"
        own = sum(p.numel() for p in self._parameters.values() if p is not None)
        children = [(n, m) for n, m in self._modules.items() if m is not None]
        if not children:
            return head + ")" + (f"  # {own:,} params" if own else "")
        lines = [head]
        for name, m in children:
            body = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        total = sum(p.numel() for p in self.parameters())
        return "\n".join(lines) + f"\n)  # {total:,} params"


class _BackwardHookCall:
    """One module call with backward hooks: aliases its inputs and outputs to catch their gradients,
    then calls hook(module, grad_input, grad_output) once every input's gradient has arrived."""

    def __init__(self, module: Module, args: tuple) -> None:
        self.module = weakref.ref(module)
        self.n_in = sum(isinstance(a, Tensor) and a.requires_grad for a in args)
        self.grad_input: list = [None] * max(self.n_in, 1)
        self.grad_output: list = []
        self.pending = self.n_in
        k = 0
        wrapped = []
        for a in args:
            if isinstance(a, Tensor) and a.requires_grad:
                a = Alias.apply(a)
                a.register_hook(self._on_input(k))
                k += 1
            wrapped.append(a)
        self.args = tuple(wrapped)

    def wrap_outputs(self, out: Any) -> Any:
        outs = out if isinstance(out, tuple) else (out,)
        self.grad_output = [None] * len(outs)
        wrapped = []
        for j, o in enumerate(outs):
            if isinstance(o, Tensor) and o.requires_grad:
                o = Alias.apply(o)
                o.register_hook(self._on_output(j))
            wrapped.append(o)
        return tuple(wrapped) if isinstance(out, tuple) else wrapped[0]

    def _on_output(self, j: int) -> Callable:
        def hook(g: Tensor) -> None:
            self.grad_output[j] = g
            if self.n_in == 0 and all(x is not None for x in self.grad_output if x is not None):
                self._fire()

        return hook

    def _on_input(self, k: int) -> Callable:
        def hook(g: Tensor) -> Tensor | None:
            self.grad_input[k] = g
            self.pending -= 1
            if self.pending:
                return None
            self.pending = self.n_in
            res = self._fire()
            return None if res is None else res[k]

        return hook

    def _fire(self) -> tuple | None:
        module = self.module()
        result = None
        for hook in list(module._backward_hooks) if module is not None else ():
            res = hook(module, tuple(self.grad_input), tuple(self.grad_output))
            if res is not None:
                result = tuple(res)
                self.grad_input = list(result)
        return result


def _check_shape(layer: str, x: Tensor, ndims: tuple[int, ...], what: str) -> None:
    if x.ndim not in ndims:
        raise ShapeError(f"{layer}: expected {what}, received input of shape {tuple(x.shape)}")
