"""GradientMonitor: per-layer training diagnostics written into the epoch logs (and so into History).

For every trainable named parameter ('0.weight', 'features.3.bias', ...) it records, per monitored epoch, the
mean over the epoch's batches of
- 'grad_norm/<name>': the 2-norm of the gradient the optimizer applied (after any clipping), and
- 'update_ratio/<name>': ||W_after_step - W_before_step|| / ||W_after_step|| (healthy values are near 1e-3);
and for every nn.ReLU module
- 'dead_relu/<module name>': the fraction of its units (features, or channels of feature maps: dim 1) whose
  output was zero for every sample of every batch of the epoch, seen through a forward hook that keeps one
  boolean per unit (a max over the other dims, no copy). A ReLU module called several times per forward gets
  one entry per call, '<name>[k]'.
When the first weight's gradient norm falls below vanishing_ratio (1e-3) of the last weight's, it warns once per
run with a VanishingGradientWarning.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from dagrad.backend import namespace
from dagrad.errors import ArgumentError
from dagrad.nn.activation import ReLU
from dagrad.train.callbacks import Callback, TrainingWarning


class VanishingGradientWarning(TrainingWarning):
    """The gradient reaching the first layers is a tiny fraction of the gradient at the last layers."""


def _norm(a: Any) -> float:
    flat = a.reshape(-1)
    return math.sqrt(float(namespace(a).vdot(flat, flat)))


def _alive_units(out: Any) -> Any:
    """One boolean per unit (dim 1; the whole output when 1-D): whether any sample made it positive."""
    if out.ndim < 2:
        return (out.max(keepdims=True) if out.size else out[:1]) > 0
    return out.max(axis=tuple(i for i in range(out.ndim) if i != 1)) > 0


class GradientMonitor(Callback):
    """Records gradient norms, update-to-weight ratios and dead-ReLU fractions every `every` epochs."""

    def __init__(self, model: Any = None, every: int = 1, vanishing_ratio: float = 1e-3) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ArgumentError(f"GradientMonitor: expected every to be a positive int, received every={every!r}")
        self._model = model
        self.every = every
        self.vanishing_ratio = vanishing_ratio
        self._handles: list = []
        self._active = False

    @property
    def model(self) -> Any:
        return self._model if self._model is not None else super().model

    def on_train_begin(self, logs: dict | None = None) -> None:
        model = self.model
        self._named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self._before: list = [None] * len(self._named)
        self._relus = [(n, m) for n, m in model.named_modules() if isinstance(m, ReLU)]
        self._handles = [m.register_forward_hook(self._hook(n)) for n, m in self._relus]
        self._warned = False

    def _hook(self, name: str):
        def hook(module: Any, args: Any, out: Any) -> None:
            if not self._active or not module.training:
                return
            k = self._calls.get(name, 0)
            self._calls[name] = k + 1
            alive = _alive_units(out.data)
            prev = self._alive.get((name, k))
            self._alive[(name, k)] = alive if prev is None or prev.shape != alive.shape else prev | alive

        return hook

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._active = epoch % self.every == 0
        self._grad = [0.0] * len(self._named)
        self._ratio = [0.0] * len(self._named)
        self._batches = 0
        self._alive: dict = {}
        self._calls: dict = {}

    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        if not self._active:
            return
        self._calls = {}
        for i, (_, p) in enumerate(self._named):
            buf = self._before[i]
            if buf is None or buf.shape != p.data.shape or buf.dtype != p.data.dtype:
                self._before[i] = p.data.copy()
            else:
                buf[...] = p.data

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if not self._active:
            return
        for i, (_, p) in enumerate(self._named):
            if p.grad is not None:
                self._grad[i] += _norm(p.grad.data)
            delta = self._before[i]
            delta -= p.data
            w = _norm(p.data)
            self._ratio[i] += _norm(delta) / w if w > 0 else 0.0
        self._batches += 1

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if not self._active or not self._batches or logs is None:
            return
        n = self._batches
        for i, (name, _) in enumerate(self._named):
            logs[f"grad_norm/{name}"] = self._grad[i] / n
            logs[f"update_ratio/{name}"] = self._ratio[i] / n
        calls = {}
        for name, k in self._alive:
            calls[name] = max(calls.get(name, 0), k + 1)
        for (name, k), alive in self._alive.items():
            key = f"dead_relu/{name}" if calls[name] == 1 else f"dead_relu/{name}[{k}]"
            logs[key] = 1.0 - float(alive.mean())
        self._check_vanishing(epoch, logs)

    def _check_vanishing(self, epoch: int, logs: dict) -> None:
        weights = [name for name, p in self._named if p.ndim >= 2]
        if self._warned or len(weights) < 2:
            return
        first, last = logs[f"grad_norm/{weights[0]}"], logs[f"grad_norm/{weights[-1]}"]
        if last > 0 and first < self.vanishing_ratio * last:
            self._warned = True
            warnings.warn(
                f"GradientMonitor: vanishing gradients in epoch {epoch + 1}: expected the gradient norm of the first "
                f"layer '{weights[0]}' to be at least {self.vanishing_ratio:g} of the last layer's '{weights[-1]}' "
                f"({last:.3g}), received {first:.3g}; consider ReLU activations, He initialisation, batch "
                "normalisation or residual connections",
                VanishingGradientWarning,
                stacklevel=2,
            )

    def on_train_end(self, logs: dict | None = None) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []
        self._active = False
        self._before = [None] * len(self._before)


__all__ = ["GradientMonitor", "VanishingGradientWarning"]
