"""Adam and AdamW (as torch.optim.Adam / AdamW): moment estimates with bias correction, optional AMSGrad.

Per parameter p with gradient g (negated when maximize), step t, in PyTorch's order:
    p = p * (1 - lr * weight_decay)              AdamW (decoupled weight decay)
    g = g + weight_decay * p                     Adam (L2 penalty folded into the gradient)
    m = m + (1 - beta1) * (g - m)                v = beta2 * v + (1 - beta2) * g * g
    v_max = max(v_max, v)                        (amsgrad: the denominator uses v_max)
    p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
"""

from __future__ import annotations

import math
from typing import Any

from dagrad.autograd.tensor import Tensor
from dagrad.backend import namespace
from dagrad.optim.optimizer import Kernel, Optimizer, ParamsT


def _adam_loop(p, g, m, v, vmax, w1, beta2, w2, step_size, bc2_sqrt, eps, weight_decay, decay, maximize, amsgrad):
    """One pass over flat arrays; w1 = 1 - beta1, w2 = 1 - beta2, decay = 1 - lr * weight_decay (AdamW; else 1)."""
    for i in range(p.size):
        gi = -g[i] if maximize else g[i]
        pi = p[i] * decay
        if weight_decay != 0:
            gi = gi + weight_decay * pi
        mi = m[i] + w1 * (gi - m[i])
        m[i] = mi
        vi = beta2 * v[i] + w2 * gi * gi
        v[i] = vi
        if amsgrad:
            vi = max(vmax[i], vi)
            vmax[i] = vi
        p[i] = pi - step_size * (mi / (math.sqrt(vi) / bc2_sqrt + eps))


_kernel = Kernel(_adam_loop)


class Adam(Optimizer):
    """Adam; state per parameter: "step", "exp_avg", "exp_avg_sq" (and "max_exp_avg_sq" with amsgrad).

    decoupled_weight_decay=True is AdamW.
    """

    def __init__(
        self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
        weight_decay: float = 0, amsgrad: bool = False, *, maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:  # fmt: skip
        defaults = dict(
            lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
        )  # fmt: skip
        super().__init__(params, defaults)

    def _validate(self, group: dict[str, Any]) -> None:
        self._nonnegative(group, "lr", "eps", "weight_decay")
        b = group["betas"]
        self._expect(
            len(b) == 2 and 0 <= b[0] < 1 and 0 <= b[1] < 1, "betas = (beta1, beta2) with 0 <= beta < 1", betas=b
        )

    def _step_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        amsgrad, maximize = bool(group["amsgrad"]), bool(group["maximize"])
        decoupled = bool(group["decoupled_weight_decay"]) and wd != 0
        decay = 1.0 - lr * wd if decoupled else 1.0
        l2 = 0.0 if decoupled else wd
        for p in params:
            x, g = p.data, p.grad.data
            xp = namespace(x)
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["exp_avg"] = xp.zeros_like(x)
                state["exp_avg_sq"] = xp.zeros_like(x)
                if amsgrad:
                    state["max_exp_avg_sq"] = xp.zeros_like(x)
            step = state["step"] = state["step"] + 1
            m, v = state["exp_avg"], state["exp_avg_sq"]
            vmax = state["max_exp_avg_sq"] if amsgrad else xp.empty(0, x.dtype)
            step_size = lr / (1 - beta1**step)
            bc2_sqrt = (1 - beta2**step) ** 0.5
            scalars = (1 - beta1, beta2, 1 - beta2, step_size, bc2_sqrt, eps, l2, decay, maximize, amsgrad)
            if _kernel.run((x, g, m, v, vmax), scalars):
                continue
            if decoupled:
                x *= decay
            g = self._grad(x, g, maximize, l2)
            t = self._scratch(x)
            m += xp.multiply(xp.subtract(g, m, out=t), 1 - beta1, out=t)
            v *= beta2
            v += xp.multiply(xp.multiply(g, 1 - beta2, out=t), g, out=t)
            if amsgrad:
                v = xp.maximum(vmax, v, out=vmax)
            denom = xp.add(xp.divide(xp.sqrt(v, out=t), bc2_sqrt, out=t), eps, out=t)
            x -= xp.multiply(xp.divide(m, denom, out=t), step_size, out=t)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p shrinks by lr * weight_decay * p each step,
    outside the moment estimates. weight_decay defaults to 1e-2, as in PyTorch."""

    def __init__(
        self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
        weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
    ) -> None:  # fmt: skip
        super().__init__(
            params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, decoupled_weight_decay=True
        )  # fmt: skip
