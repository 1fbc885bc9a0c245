"""Learning-rate schedules (as torch.optim.lr_scheduler): each sets its optimizer's group["lr"] on step().

Call scheduler.step() after optimizer.step(), once per epoch (or per batch for OneCycleLR). Creating a scheduler
sets the starting rates (and records group["initial_lr"]); last_epoch counts the steps taken. The chainable
schedules (StepLR, MultiStepLR, ExponentialLR, LinearLR, CosineAnnealingLR) update the current rate recursively,
as PyTorch does, so they compose when two act on one optimizer. state_dict() holds plain Python values (JSON-
friendly); load_state_dict() restores them but not the optimizer's rates, which the optimizer's state_dict holds.
"""

from __future__ import annotations

import copy
import math
import types
from collections.abc import Callable, Iterable
from typing import Any

from dagrad.errors import ArgumentError
from dagrad.optim.optimizer import Optimizer


class LRScheduler:
    """Base class: subclasses write get_lr(), the rates for the step that last_epoch now counts."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        name = type(self).__name__
        if not isinstance(optimizer, Optimizer):
            raise ArgumentError(f"{name}: expected an Optimizer, received {type(optimizer).__name__}")
        self.optimizer = optimizer
        for i, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise ArgumentError(
                    f"{name}: expected param_groups[{i}]['initial_lr'] when resuming with last_epoch={last_epoch} "
                    "(load the optimizer's state_dict first), received a group without it"
                )
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._is_initial = True
        self.step()
        self._is_initial = False

    def get_lr(self) -> list[float]:
        raise NotImplementedError(f"{type(self).__name__} does not define get_lr")

    def step(self) -> None:
        """Advance one epoch (or batch) and write the new rates into the optimizer's groups."""
        self._step_count += 1
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The rates the last step() set, one per parameter group."""
        return list(self._last_lr)

    def _current(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """Every attribute except the optimizer (copies; plain Python values)."""
        return copy.deepcopy({k: v for k, v in self.__dict__.items() if k != "optimizer"})

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update(copy.deepcopy(state_dict))


def _per_group(name: str, what: str, optimizer: Optimizer, value: Any) -> list:
    """value repeated for each parameter group, or a list/tuple with one value per group."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ArgumentError(
                f"{name}: expected {n} values of {what} (one per parameter group), received {len(value)}"
            )
        return list(value)
    return [value] * n


class LambdaLR(LRScheduler):
    """lr = base_lr * lr_lambda(epoch); one function, or one per parameter group."""

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | list[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        self.optimizer = optimizer
        self.lr_lambdas = _per_group("LambdaLR", "lr_lambda", optimizer, lr_lambda)
        for fn in self.lr_lambdas:
            if not callable(fn):
                raise ArgumentError(f"LambdaLR: expected lr_lambda to be callable, received {type(fn).__name__}")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]

    def state_dict(self) -> dict[str, Any]:
        """As the base, but functions are not saved: a callable object's __dict__ is saved in their place."""
        state = copy.deepcopy({k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")})
        state["lr_lambdas"] = [
            None if isinstance(fn, types.FunctionType) else copy.deepcopy(fn.__dict__) for fn in self.lr_lambdas
        ]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        saved = state.pop("lr_lambdas", [])
        self.__dict__.update(copy.deepcopy(state))
        for fn, attrs in zip(self.lr_lambdas, saved):
            if attrs is not None:
                fn.__dict__.update(copy.deepcopy(attrs))


def _positive_int(name: str, key: str, value: Any) -> None:
    if isinstance(value, bool) or not (isinstance(value, (int, float)) and value == int(value) and value > 0):
        raise ArgumentError(f"{name}: expected a positive integer {key}, received {key}={value!r}")


class StepLR(LRScheduler):
    """Multiply the rate by gamma every step_size epochs."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        _positive_int("StepLR", "step_size", step_size)
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current()
        return [lr * self.gamma for lr in self._current()]


class MultiStepLR(LRScheduler):
    """Multiply the rate by gamma at each milestone epoch (a milestone listed twice multiplies twice).

    milestones is kept as a sorted list (PyTorch keeps a Counter), so state_dict() stays JSON-friendly.
    """

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1, last_epoch: int = -1):
        self.milestones = sorted(int(m) for m in milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        hits = self.milestones.count(self.last_epoch)
        if hits == 0:
            return self._current()
        return [lr * self.gamma**hits for lr in self._current()]


class ExponentialLR(LRScheduler):
    """Multiply the rate by gamma every epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._current()
        return [lr * self.gamma for lr in self._current()]


class LinearLR(LRScheduler):
    """Scale the rate linearly from start_factor * base_lr to end_factor * base_lr over total_iters epochs.

    At epoch k, lr_k = base_lr * (s + (e - s) * min(k, total_iters) / total_iters), that is
    alpha_k = (1 - k/tau) * alpha_0 + (k/tau) * alpha_tau with alpha_0 = s * base_lr, alpha_tau = e * base_lr,
    tau = total_iters (linear warm-up or decay), computed recursively as PyTorch does.
    """

    def __init__(
        self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0, total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:  # fmt: skip
        if not 0 < start_factor <= 1:
            raise ArgumentError(f"LinearLR: expected 0 < start_factor <= 1, received start_factor={start_factor!r}")
        if not 0 <= end_factor <= 1:
            raise ArgumentError(f"LinearLR: expected 0 <= end_factor <= 1, received end_factor={end_factor!r}")
        _positive_int("LinearLR", "total_iters", total_iters)
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        s, e, k = self.start_factor, self.end_factor, self.last_epoch
        if k == 0:
            return [lr * s for lr in self._current()]
        if self._is_initial or k > self.total_iters:
            return self._current()
        ratio = 1.0 + (e - s) / (self.total_iters * s + (k - 1) * (e - s))
        return [lr * ratio for lr in self._current()]


class CosineAnnealingLR(LRScheduler):
    """Anneal the rate from base_lr to eta_min along half a cosine over T_max epochs (then back up: period 2 T_max).

    lr_k = eta_min + (base_lr - eta_min) * (1 + cos(pi k / T_max)) / 2, computed by PyTorch's recursion, which
    also follows external changes of group["lr"].
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:  # noqa: N803
        if not T_max > 0:
            raise ArgumentError(f"CosineAnnealingLR: expected T_max > 0, received T_max={T_max!r}")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        k, t, lo = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current()
        if self._step_count == 1 and k > 0:
            return [lo + (base - lo) * (1 + math.cos(k * math.pi / t)) / 2 for base in self.base_lrs]
        if (k - 1 - t) % (2 * t) == 0:
            return [
                lr + (base - lo) * (1 - math.cos(math.pi / t)) / 2 for base, lr in zip(self.base_lrs, self._current())
            ]
        ratio = (1 + math.cos(math.pi * k / t)) / (1 + math.cos(math.pi * (k - 1) / t))
        return [ratio * (lr - lo) + lo for lr in self._current()]


class ReduceLROnPlateau(LRScheduler):
    """Multiply the rate by factor when a metric has not improved for `patience` epochs: step(metric) each epoch.

    mode 'min' (a loss) or 'max' (an accuracy); an improvement beats the best by threshold, relative
    (threshold_mode='rel': best * (1 -/+ threshold)) or absolute ('abs'). After a reduction, `cooldown` epochs pass
    before bad epochs count again. Rates never go below min_lr, and changes smaller than eps are skipped.
    """

    def __init__(
        self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
        threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0, min_lr: float | list[float] = 0,
        eps: float = 1e-8,
    ) -> None:  # fmt: skip
        if not isinstance(optimizer, Optimizer):
            raise ArgumentError(f"ReduceLROnPlateau: expected an Optimizer, received {type(optimizer).__name__}")
        if not 0 <= factor < 1:
            raise ArgumentError(f"ReduceLROnPlateau: expected 0 <= factor < 1, received factor={factor!r}")
        for key, value in (("patience", patience), ("cooldown", cooldown), ("threshold", threshold), ("eps", eps)):
            if not value >= 0:
                raise ArgumentError(f"ReduceLROnPlateau: expected {key} >= 0, received {key}={value!r}")
        self.optimizer = optimizer
        self.factor = factor
        self.default_min_lr = None if isinstance(min_lr, (list, tuple)) else min_lr
        self.min_lrs = _per_group("ReduceLROnPlateau", "min_lr", optimizer, min_lr)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = self._current()
        self._set_mode(mode, threshold, threshold_mode)
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def _set_mode(self, mode: str, threshold: float, threshold_mode: str) -> None:
        if mode not in ("min", "max"):
            raise ArgumentError(f"ReduceLROnPlateau: expected mode 'min' or 'max', received mode={mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ArgumentError(
                f"ReduceLROnPlateau: expected threshold_mode 'rel' or 'abs', received threshold_mode={threshold_mode!r}"
            )
        self.mode, self.threshold, self.threshold_mode = mode, threshold, threshold_mode
        self.mode_worse = math.inf if mode == "min" else -math.inf

    def is_better(self, a: float, best: float) -> bool:
        if self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold) if self.mode == "min" else a > best * (self.threshold + 1.0)
        return a < best - self.threshold if self.mode == "min" else a > best + self.threshold

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def step(self, metrics: Any) -> None:  # type: ignore[override]
        """Record one epoch's metric (a float or a 0-d tensor) and reduce the rates after `patience` bad epochs."""
        current = float(metrics)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._current()

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise ArgumentError(
                    f"ReduceLROnPlateau: expected {len(self.min_lrs)} parameter groups (one per min_lr), received an "
                    f"optimizer with {len(groups)}; set min_lrs to one value per group"
                )
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, min_lr)
            if old - new > self.eps:
                group["lr"] = new

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self._set_mode(self.mode, self.threshold, self.threshold_mode)


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin), stepped once per batch: the rate rises from max_lr / div_factor to max_lr
    over pct_start of total_steps, then anneals to max_lr / (div_factor * final_div_factor); momentum (or Adam's
    beta1) cycles the opposite way between max_momentum and base_momentum. anneal_strategy 'cos' or 'linear';
    three_phase: up, back down to the initial rate symmetrically, then the final anneal.
    """

    def __init__(
        self, optimizer: Optimizer, max_lr: float | list[float], total_steps: int | None = None,
        epochs: int | None = None, steps_per_epoch: int | None = None, pct_start: float = 0.3,
        anneal_strategy: str = "cos", cycle_momentum: bool = True, base_momentum: float | list[float] = 0.85,
        max_momentum: float | list[float] = 0.95, div_factor: float = 25.0, final_div_factor: float = 1e4,
        three_phase: bool = False, last_epoch: int = -1,
    ) -> None:  # fmt: skip
        name = "OneCycleLR"
        if not isinstance(optimizer, Optimizer):
            raise ArgumentError(f"{name}: expected an Optimizer, received {type(optimizer).__name__}")
        self.optimizer = optimizer
        if total_steps is not None:
            _positive_int(name, "total_steps", total_steps)
            self.total_steps = int(total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            _positive_int(name, "epochs", epochs)
            _positive_int(name, "steps_per_epoch", steps_per_epoch)
            self.total_steps = int(epochs) * int(steps_per_epoch)
        else:
            raise ArgumentError(f"{name}: expected total_steps, or epochs and steps_per_epoch, received neither")
        if not (isinstance(pct_start, float) and 0 <= pct_start <= 1):
            raise ArgumentError(f"{name}: expected a float 0 <= pct_start <= 1, received pct_start={pct_start!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ArgumentError(f"{name}: expected anneal_strategy 'cos' or 'linear', received {anneal_strategy!r}")
        self.anneal_strategy = anneal_strategy
        up = float(pct_start * self.total_steps) - 1
        if three_phase:
            self._schedule_phases = [
                _phase(up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                _phase(
                    float(2 * pct_start * self.total_steps) - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"
                ),
                _phase(self.total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
        else:
            self._schedule_phases = [
                _phase(up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                _phase(self.total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
            ]
        max_lrs = _per_group(name, "max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for group, top in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ArgumentError(
                    f"{name}: expected an optimizer with momentum or betas for cycle_momentum=True, received "
                    f"{type(optimizer).__name__}"
                )
            self.use_beta1 = "betas" in optimizer.defaults
            tops = _per_group(name, "max_momentum", optimizer, max_momentum)
            bases = _per_group(name, "base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for top, base, group in zip(tops, bases, optimizer.param_groups):
                    self._set_momentum(group, top)
                    group["max_momentum"] = top
                    group["base_momentum"] = base
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group: dict[str, Any], value: float) -> None:
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        if step > self.total_steps:
            raise ArgumentError(
                f"OneCycleLR: expected at most total_steps={self.total_steps} steps, received step {step}"
            )
        lrs = []
        last = len(self._schedule_phases) - 1
        for group in self.optimizer.param_groups:
            start = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end = phase["end_step"]
                if step <= end or i == last:
                    pct = (step - start) / (end - start)
                    lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
                    if self.cycle_momentum:
                        m = self._anneal(group[phase["start_momentum"]], group[phase["end_momentum"]], pct)
                        self._set_momentum(group, m)
                    break
                start = end
        return lrs


def _phase(end_step: float, start_lr: str, end_lr: str, start_momentum: str, end_momentum: str) -> dict[str, Any]:
    """One phase of OneCycleLR: the step it ends at and the group keys it anneals between."""
    return dict(
        end_step=end_step, start_lr=start_lr, end_lr=end_lr, start_momentum=start_momentum, end_momentum=end_momentum
    )


__all__ = [
    "LRScheduler", "LambdaLR", "StepLR", "MultiStepLR", "ExponentialLR", "LinearLR", "CosineAnnealingLR",
    "ReduceLROnPlateau", "OneCycleLR",
]  # fmt: skip
