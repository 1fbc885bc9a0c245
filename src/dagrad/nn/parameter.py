"""Parameter: a leaf tensor that a Module registers as trainable when assigned as an attribute."""

from __future__ import annotations

from typing import Any

from dagrad.autograd.tensor import Tensor, as_array


class Parameter(Tensor):
    """A Tensor that requires grad by default and is registered by Module.__setattr__ (as torch.nn.Parameter)."""

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        arr = as_array([] if data is None else data)
        super().__init__(arr, requires_grad=False)
        if isinstance(data, Tensor):
            self.data = data.data
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
