"""L1 regularisation as a loss term. (L2 is the optimizers' weight_decay option; PyTorch has no L1 option.)

    loss = loss_fn(model(x), y) + l1_penalty(model.parameters(), 1e-4)
    loss.backward()

adds weight * sign(p) to each parameter's gradient (0 where p == 0), which pulls weights towards zero by a constant
amount per step and so drives unimportant ones to (near) zero: sparse weights, unlike L2's proportional shrinking.
Usually applied to weights only: pass [p for name, p in model.named_parameters() if name.endswith("weight")].
"""

from __future__ import annotations

from collections.abc import Iterable

from dagrad.autograd.tensor import Tensor
from dagrad.errors import ArgumentError


def l1_penalty(parameters: Tensor | Iterable[Tensor], weight: float) -> Tensor:
    """weight * sum over the parameters of sum(|p|): a differentiable 0-d tensor to add to the loss."""
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    if not weight >= 0:
        raise ArgumentError(f"l1_penalty: expected weight >= 0, received weight={weight!r}")
    if not params:
        raise ArgumentError("l1_penalty: expected at least one parameter, received none")
    total = params[0].abs().sum()
    for p in params[1:]:
        total = total + p.abs().sum()
    return total * weight


__all__ = ["l1_penalty"]
