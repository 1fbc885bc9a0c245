"""RMSprop (as torch.optim.RMSprop): steps divided by a running RMS of the gradients.

Per parameter p with gradient g (negated when maximize), in PyTorch's order:
    g = g + weight_decay * p
    v = alpha * v + (1 - alpha) * g * g
    a = sqrt(v - m * m) + eps, with m = m + (1 - alpha) * (g - m)      centered (m: running mean of g)
    a = sqrt(v) + eps                                                  otherwise
    b = momentum * b + g / a;  p = p - lr * b                          momentum > 0
    p = p - lr * g / a                                                 otherwise
"""

from __future__ import annotations

import math
from typing import Any

from dagrad.autograd.tensor import Tensor
from dagrad.backend import namespace
from dagrad.optim.optimizer import Kernel, Optimizer, ParamsT


def _rmsprop_loop(p, g, v, mean, buf, lr, alpha, w, eps, weight_decay, momentum, maximize, centered):
    """One pass over flat arrays; w = 1 - alpha; mean and buf are empty when unused."""
    for i in range(p.size):
        gi = -g[i] if maximize else g[i]
        if weight_decay != 0:
            gi = gi + weight_decay * p[i]
        vi = alpha * v[i] + w * gi * gi
        v[i] = vi
        if centered:
            mi = mean[i] + w * (gi - mean[i])
            mean[i] = mi
            vi = vi - mi * mi
        a = math.sqrt(vi) + eps
        if momentum > 0:
            bi = momentum * buf[i] + gi / a
            buf[i] = bi
            p[i] = p[i] - lr * bi
        else:
            p[i] = p[i] - lr * (gi / a)


_kernel = Kernel(_rmsprop_loop)


class RMSprop(Optimizer):
    """RMSprop; state per parameter: "step", "square_avg" (and "momentum_buffer", "grad_avg" when used)."""

    def __init__(
        self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0,
        momentum: float = 0, centered: bool = False, *, maximize: bool = False,
    ) -> None:  # fmt: skip
        defaults = dict(
            lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered,
            maximize=maximize,
        )  # fmt: skip
        super().__init__(params, defaults)

    def _validate(self, group: dict[str, Any]) -> None:
        self._nonnegative(group, "lr", "alpha", "eps", "weight_decay", "momentum")

    def _step_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        wd, momentum = float(group["weight_decay"]), float(group["momentum"])
        centered, maximize = bool(group["centered"]), bool(group["maximize"])
        for p in params:
            x, g = p.data, p.grad.data
            xp = namespace(x)
            state = self.state[p]
            if not state:
                state.update(step=0, square_avg=xp.zeros_like(x))
                if momentum > 0:
                    state["momentum_buffer"] = xp.zeros_like(x)
                if centered:
                    state["grad_avg"] = xp.zeros_like(x)
            state["step"] += 1
            v = state["square_avg"]
            none = xp.empty(0, x.dtype)
            mean = state["grad_avg"] if centered else none
            buf = state["momentum_buffer"] if momentum > 0 else none
            scalars = (lr, alpha, 1 - alpha, eps, wd, momentum, maximize, centered)
            if _kernel.run((x, g, v, mean, buf), scalars):
                continue
            g = self._grad(x, g, maximize, wd)
            t = self._scratch(x)
            v *= alpha
            v += xp.multiply(xp.multiply(g, 1 - alpha, out=t), g, out=t)
            if centered:
                mean += xp.multiply(xp.subtract(g, mean, out=t), 1 - alpha, out=t)
                a = xp.subtract(v, xp.multiply(mean, mean, out=t), out=t)
                a = xp.sqrt(a, out=t)
            else:
                a = xp.sqrt(v, out=t)
            a += eps
            if momentum > 0:
                buf *= momentum
                buf += xp.divide(g, a, out=t)
                x -= xp.multiply(buf, lr, out=t)
            else:
                x -= xp.multiply(xp.divide(g, a, out=t), lr, out=t)
