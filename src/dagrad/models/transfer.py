"""Transfer learning: load pretrained (torchvision) weights, freeze and unfreeze parts of a model, replace its
classification head, and extract the features a trained network computes for a data set.

The usual recipe: build the architecture the weights were trained with (1000 ImageNet classes), load_pretrained,
freeze the body, replace_head with one for the new classes, and train only the head; or extract_features once and
fit a small classifier on them. Weight files are read without running code: .safetensors, or .npz without pickle.
A PyTorch .pt/.pth file is a pickle, so it is refused; convert it once, in PyTorch, with
`safetensors.torch.save_file(model.state_dict(), "weights.safetensors")`.
"""

from __future__ import annotations

import contextlib
import os
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy
import safetensors
import safetensors.numpy

from dagrad import backend
from dagrad.autograd.grad_mode import no_grad
from dagrad.autograd.tensor import Tensor
from dagrad.creation import as_tensor
from dagrad.errors import ArgumentError
from dagrad.io import CheckpointError, CheckpointNotFoundError
from dagrad.models.googlenet import InceptionAux
from dagrad.nn import Linear, Module, StateDictError
from dagrad.nn.module import IncompatibleKeys

__all__ = ["extract_features", "freeze", "load_pretrained", "replace_head", "unfreeze"]

_HEAD_NAMES = ("fc", "classifier", "output", "head")


# ---- loading weights ----------------------------------------------------------------------------------------------
def _read_state_dict(path: str | os.PathLike) -> dict[str, numpy.ndarray]:
    """The arrays of a .safetensors or .npz file by key (PyTorch's state-dict names), read without unpickling."""
    p = Path(path).expanduser()
    suffix = p.suffix.lower()
    if suffix not in (".safetensors", ".npz"):
        hint = " (a pickle: convert it with safetensors.torch.save_file)" if suffix in (".pt", ".pth", ".bin") else ""
        raise ArgumentError(f"load_pretrained: expected a .safetensors or .npz file, received {str(p)!r}{hint}")
    if not p.is_file():
        raise CheckpointNotFoundError(f"load_pretrained: expected a weights file at {p}, received no such file")
    try:
        if suffix == ".safetensors":
            return safetensors.numpy.load_file(p)
        with numpy.load(p, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, safetensors.SafetensorError) as e:
        raise CheckpointError(f"load_pretrained: expected a readable {suffix} file at {p}, received {e}") from e


def load_pretrained(model: Module, path: str | os.PathLike, strict: bool = True) -> IncompatibleKeys:
    """Copy the weights in a .safetensors or .npz state dict (torchvision's key names) into model.

    strict: every key of the model must be in the file and every key of the file in the model (False: load what
    matches and report the rest). Shapes must match in either mode; to use ImageNet weights for other classes,
    load into a 1000-class model, then replace_head. Returns (missing_keys, unexpected_keys), as load_state_dict.
    """
    state = _read_state_dict(path)
    try:
        return model.load_state_dict(state, strict=strict)
    except StateDictError as e:
        raise StateDictError(
            f"load_pretrained: expected the weights in {path} to fit {type(model).__name__} (the same architecture, "
            f"number of classes and input channels), received:\n{e}"
        ) from None


# ---- freezing -----------------------------------------------------------------------------------------------------
def freeze(module: Module) -> Module:
    """Stop training module's parameters (requires_grad False); returns module.

    BatchNorm layers inside still update their running statistics in training mode, as in PyTorch; call
    module.eval() as well to keep them fixed.
    """
    return _requires_grad("freeze", module, False)


def unfreeze(module: Module) -> Module:
    """Train module's parameters again (requires_grad True); returns module."""
    return _requires_grad("unfreeze", module, True)


def _requires_grad(who: str, module: Module, flag: bool) -> Module:
    if not isinstance(module, Module):
        raise ArgumentError(f"{who}: expected a dagrad.nn.Module, received {type(module).__name__}")
    return module.requires_grad_(flag)


# ---- the classification head --------------------------------------------------------------------------------------
def _last_linear(module: Module, prefix: str = "") -> str | None:
    """The dotted name of the last Linear in module (registration order), or None."""
    names = [name for name, m in module.named_modules(prefix=prefix) if isinstance(m, Linear)]
    return names[-1] if names else None


def find_head(model: Module) -> str:
    """The dotted name of model's classification layer: the last Linear of its fc, classifier, output or head
    sub-module (torchvision's and dagrad's names), else the last Linear it registers."""
    return _head("find_head", model)


def _head(who: str, model: Module) -> str:
    for name in _HEAD_NAMES:
        sub = model._modules.get(name)
        if sub is not None and (found := _last_linear(sub, name)) is not None:
            return found
    found = _last_linear(model)
    if not found:  # None, or "" for a bare Linear, which has no parent to hold a new one
        raise ArgumentError(
            f"{who}: expected a model with a Linear classification layer (fc, classifier[-1], output) inside, "
            f"received {type(model).__name__} without one"
        )
    return found


def _swap_linear(model: Module, name: str, num_classes: int) -> None:
    parent_name, _, attr = name.rpartition(".")
    parent = model.get_submodule(parent_name)
    old = parent._modules[attr]
    new = Linear(old.in_features, num_classes, bias=old.bias is not None, dtype=old.weight.dtype,
                 device=old.weight.device)  # fmt: skip
    new.train(old.training)
    setattr(parent, attr, new)


def replace_head(model: Module, num_classes: int) -> Module:
    """Replace model's classification Linear (fc, classifier[-1], output, ...) with a new, freshly initialised
    Linear(in_features, num_classes) that requires grad; GoogLeNet's auxiliary heads get new output layers too.
    Sets model.num_classes when the model has that attribute. Returns model."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ArgumentError(f"replace_head: expected num_classes to be a positive int, received {num_classes!r}")
    _swap_linear(model, _head("replace_head", model), num_classes)
    for name, m in list(model.named_modules()):
        if isinstance(m, InceptionAux):
            _swap_linear(model, f"{name}.fc2", num_classes)
    if "num_classes" in model.__dict__:
        model.num_classes = num_classes
    return model


# ---- features -----------------------------------------------------------------------------------------------------
class _Captured(Exception):
    """Raised by extract_features' hook once it holds the batch's features: the rest of the forward is skipped."""


def extract_features(
    model: Module, loader: Iterable, layer: str | None = None
) -> tuple[numpy.ndarray, numpy.ndarray]:  # fmt: skip
    """Run model over loader's (x, y) batches in eval mode without gradients and collect the features of every
    sample: (features (N, F) NumPy array, labels (N,) NumPy array).

    layer None: the input of the classification layer (the network with its last layer chopped off, e.g. the
    512 pooled values of ResNet-18, the 4096 of VGG's second fully connected layer); a dotted sub-module name
    ('layer4', 'features.28'): that sub-module's output, flattened to F values per sample. The forward stops once
    the features are captured, so the layers after them cost nothing. The model's mode is restored afterwards.
    """
    name = _head("extract_features", model) if layer is None else layer
    try:
        target = model.get_submodule(name)
    except AttributeError:
        target = None
    if not isinstance(target, Module):
        raise ArgumentError(f"extract_features: expected layer to name a sub-module of {type(model).__name__}, "
                            f"received layer={layer!r}")  # fmt: skip
    captured: list[Tensor] = []

    def grab(out: Tensor) -> None:
        captured.append(out)
        raise _Captured

    handle = (target.register_forward_pre_hook(lambda m, args: grab(args[0])) if layer is None
              else target.register_forward_hook(lambda m, args, out: grab(out)))  # fmt: skip
    device = next((p.device for p in model.parameters()), None)
    was_training = model.training
    features, labels = [], []
    model.eval()
    try:
        with no_grad():
            for batch in loader:
                x, y = _split(batch)
                x = x if isinstance(x, Tensor) else as_tensor(x)
                if device is not None and x.device != device:
                    x = x.to(device)
                with contextlib.suppress(_Captured):  # the hook stops the forward once it has the features
                    model(x)
                if not captured:
                    raise ArgumentError(f"extract_features: expected the forward pass to run {name!r}, received a "
                                        "forward that never called it")  # fmt: skip
                out = captured.pop()
                features.append(_host(out).reshape(out.shape[0], -1))
                labels.append(_host(y).reshape(-1))
    finally:
        handle.remove()
        model.train(was_training)
    if not features:
        raise ArgumentError("extract_features: expected the loader to yield at least one batch, received none")
    return numpy.concatenate(features), numpy.concatenate(labels)


def _split(batch: Any) -> tuple[Any, Any]:
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1]
    raise ArgumentError(f"extract_features: expected the loader to yield (x, y) pairs, received "
                        f"{type(batch).__name__}")  # fmt: skip


def _host(v: Any) -> numpy.ndarray:
    """A NumPy array (on the host) holding v: a Tensor, a NumPy or CuPy array, a list or a number."""
    data = v.data if isinstance(v, Tensor) else v
    if isinstance(data, backend.ndarray_types):
        return backend.to_device(data, backend.CPU)
    return numpy.asarray(data)
