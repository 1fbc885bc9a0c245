"""SGD: stochastic gradient descent with optional (Nesterov) momentum and weight decay (as torch.optim.SGD).

Per parameter p with gradient g (negated when maximize), in PyTorch's order:
    g = g + weight_decay * p
    b = g on the first step, else momentum * b + (1 - dampening) * g      (when momentum != 0)
    g = g + momentum * b if nesterov else b
    p = p - lr * g
"""

from __future__ import annotations

from typing import Any

from dagrad.autograd.tensor import Tensor
from dagrad.backend import namespace
from dagrad.optim.optimizer import Kernel, Optimizer, ParamsT


def _sgd_loop(p, g, buf, lr, momentum, keep, weight_decay, maximize, nesterov, first):
    """One pass: p, g and buf (momentum buffer; empty when momentum == 0) are flat arrays; keep = 1 - dampening."""
    for i in range(p.size):
        gi = -g[i] if maximize else g[i]
        if weight_decay != 0:
            gi = gi + weight_decay * p[i]
        if buf.size != 0:
            b = gi if first else momentum * buf[i] + keep * gi
            buf[i] = b
            gi = gi + momentum * b if nesterov else b
        p[i] = p[i] - lr * gi


_kernel = Kernel(_sgd_loop)


class SGD(Optimizer):
    """Stochastic gradient descent; state "momentum_buffer" per parameter when momentum != 0."""

    def __init__(
        self, params: ParamsT, lr: float = 1e-3, momentum: float = 0, dampening: float = 0, weight_decay: float = 0,
        nesterov: bool = False, *, maximize: bool = False,
    ) -> None:  # fmt: skip
        defaults = dict(
            lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
            maximize=maximize,
        )  # fmt: skip
        super().__init__(params, defaults)

    def _validate(self, group: dict[str, Any]) -> None:
        self._nonnegative(group, "lr", "momentum", "weight_decay")
        if group["nesterov"]:
            self._expect(
                group["momentum"] > 0 and group["dampening"] == 0,
                "momentum > 0 and dampening = 0 with nesterov=True",
                momentum=group["momentum"], dampening=group["dampening"],
            )  # fmt: skip

    def _step_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        lr, momentum, wd = float(group["lr"]), float(group["momentum"]), float(group["weight_decay"])
        keep, nesterov, maximize = 1.0 - float(group["dampening"]), bool(group["nesterov"]), bool(group["maximize"])
        for p in params:
            x, g = p.data, p.grad.data
            xp = namespace(x)
            buf, first = xp.empty(0, x.dtype), False
            if momentum != 0:
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if first := buf is None:
                    buf = state["momentum_buffer"] = xp.empty_like(x)
            if _kernel.run((x, g, buf), (lr, momentum, keep, wd, maximize, nesterov, first)):
                continue
            g = self._grad(x, g, maximize, wd)
            t = self._scratch(x)
            if momentum != 0:
                if first:
                    xp.copyto(buf, g)
                else:
                    buf *= momentum
                    buf += xp.multiply(g, keep, out=t)
                g = xp.add(g, xp.multiply(buf, momentum, out=t), out=t) if nesterov else buf
            x += xp.multiply(g, -lr, out=t)
