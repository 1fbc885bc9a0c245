"""Adadelta (as torch.optim.Adadelta): steps sized by the ratio of running RMS of updates and of gradients.

Per parameter p with gradient g (negated when maximize), in PyTorch's order:
    g = g + weight_decay * p
    v = rho * v + (1 - rho) * g * g
    d = sqrt(u + eps) / sqrt(v + eps) * g
    u = rho * u + (1 - rho) * d * d
    p = p - lr * d
"""

from __future__ import annotations

import math
from typing import Any

from dagrad.autograd.tensor import Tensor
from dagrad.backend import namespace
from dagrad.optim.optimizer import Kernel, Optimizer, ParamsT


def _adadelta_loop(p, g, v, u, lr, rho, w, eps, weight_decay, maximize):
    """One pass over flat arrays; v: square_avg, u: acc_delta, w = 1 - rho."""
    for i in range(p.size):
        gi = -g[i] if maximize else g[i]
        if weight_decay != 0:
            gi = gi + weight_decay * p[i]
        vi = rho * v[i] + w * gi * gi
        v[i] = vi
        d = math.sqrt(u[i] + eps) / math.sqrt(vi + eps) * gi
        u[i] = rho * u[i] + w * d * d
        p[i] = p[i] - lr * d


_kernel = Kernel(_adadelta_loop)


class Adadelta(Optimizer):
    """Adadelta; state per parameter: "step", "square_avg", "acc_delta"."""

    def __init__(
        self, params: ParamsT, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0, *,
        maximize: bool = False,
    ) -> None:  # fmt: skip
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def _validate(self, group: dict[str, Any]) -> None:
        self._nonnegative(group, "lr", "eps", "weight_decay")
        self._expect(0 <= group["rho"] <= 1, "0 <= rho <= 1", rho=group["rho"])

    def _step_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        lr, rho, eps = float(group["lr"]), float(group["rho"]), float(group["eps"])
        wd, maximize = float(group["weight_decay"]), bool(group["maximize"])
        for p in params:
            x, g = p.data, p.grad.data
            xp = namespace(x)
            state = self.state[p]
            if not state:
                state.update(step=0, square_avg=xp.zeros_like(x), acc_delta=xp.zeros_like(x))
            state["step"] += 1
            v, u = state["square_avg"], state["acc_delta"]
            if _kernel.run((x, g, v, u), (lr, rho, 1 - rho, eps, wd, maximize)):
                continue
            g = self._grad(x, g, maximize, wd)
            t, d = self._scratch(x), self._scratch(x, 2)
            v *= rho
            v += xp.multiply(xp.multiply(g, 1 - rho, out=t), g, out=t)
            std = xp.sqrt(xp.add(v, eps, out=t), out=t)
            d = xp.sqrt(xp.add(u, eps, out=d), out=d)
            d /= std
            d *= g
            u *= rho
            u += xp.multiply(xp.multiply(d, 1 - rho, out=t), d, out=t)
            x -= xp.multiply(d, lr, out=d)
