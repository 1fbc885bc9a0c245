"""Adagrad (as torch.optim.Adagrad): per-element steps scaled by the root of the summed squared gradients.

Per parameter p with gradient g (negated when maximize), step t, in PyTorch's order:
    g = g + weight_decay * p
    s = s + g * g                                  (s starts at initial_accumulator_value)
    p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)
"""

from __future__ import annotations

import math
from typing import Any

from dagrad.autograd.tensor import Tensor
from dagrad.backend import namespace
from dagrad.optim.optimizer import Kernel, Optimizer, ParamsT


def _adagrad_loop(p, g, s, clr, eps, weight_decay, maximize):
    """One pass over flat arrays; clr is the decayed learning rate of this step."""
    for i in range(p.size):
        gi = -g[i] if maximize else g[i]
        if weight_decay != 0:
            gi = gi + weight_decay * p[i]
        si = s[i] + gi * gi
        s[i] = si
        p[i] = p[i] - clr * (gi / (math.sqrt(si) + eps))


_kernel = Kernel(_adagrad_loop)


class Adagrad(Optimizer):
    """Adagrad; state per parameter: "step" and "sum", created with the optimizer (as PyTorch does)."""

    def __init__(
        self, params: ParamsT, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
        initial_accumulator_value: float = 0, eps: float = 1e-10, *, maximize: bool = False,
    ) -> None:  # fmt: skip
        defaults = dict(
            lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value, maximize=maximize,
        )  # fmt: skip
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for p in group["params"]:
            self.state[p] = {"step": 0, "sum": namespace(p.data).full_like(p.data, group["initial_accumulator_value"])}

    def _validate(self, group: dict[str, Any]) -> None:
        self._nonnegative(group, "lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    def _step_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        lr, lr_decay, eps = float(group["lr"]), float(group["lr_decay"]), float(group["eps"])
        wd, maximize = float(group["weight_decay"]), bool(group["maximize"])
        for p in params:
            x, g = p.data, p.grad.data
            xp = namespace(x)
            state = self.state[p]
            step = state["step"] = state["step"] + 1
            s = state["sum"]
            clr = lr / (1 + (step - 1) * lr_decay)
            if _kernel.run((x, g, s), (clr, eps, wd, maximize)):
                continue
            g = self._grad(x, g, maximize, wd)
            t = self._scratch(x)
            s += xp.multiply(g, g, out=t)
            std = xp.add(xp.sqrt(s, out=t), eps, out=t)
            x -= xp.multiply(xp.divide(g, std, out=t), clr, out=t)
