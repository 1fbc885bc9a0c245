"""Keras-style optimizers: Keras' names, arguments and defaults, building a dagrad.optim optimizer for the model.

A Keras optimizer is made before the model's weights exist (keras.optimizers.SGD(learning_rate=0.01) is passed to
compile), so these objects hold the hyper-parameters and build(params) makes the dagrad optimizer once the model is
built. The update rules are dagrad's (PyTorch's): SGD, with momentum or Nesterov, equals Keras' at a constant
learning rate; Adam, AdamW, RMSprop, Adagrad and Adadelta differ from Keras' only in where epsilon enters.
weight_decay is decoupled in Adam/AdamW, as Keras, and an L2 term in the gradient for the others. Keras' defaults
are kept: SGD lr 0.01, the others lr 0.001, epsilon 1e-7. `lr` is accepted as the Keras 2 alias of learning_rate.
global_clipnorm clips the gradients' total norm before each step.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dagrad import optim
from dagrad.errors import ArgumentError


def _positive(who: str, name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
        raise ArgumentError(f"{who}: expected {name} to be a positive number, received {name}={v!r}")
    return float(v)


class Optimizer:
    """Hyper-parameters of a Keras optimizer; build(params) makes the dagrad optimizer that trains them."""

    def __init__(
        self,
        learning_rate: float,
        weight_decay: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
    ) -> None:
        who = type(self).__name__
        self._learning_rate = _positive(who, "learning_rate", learning_rate)
        if weight_decay is not None and (isinstance(weight_decay, bool) or weight_decay < 0):
            raise ArgumentError(f"{who}: expected weight_decay >= 0 or None, received weight_decay={weight_decay!r}")
        self.weight_decay = weight_decay
        self.global_clipnorm = None if global_clipnorm is None else _positive(who, "global_clipnorm", global_clipnorm)
        self.name = name or who
        self.optimizer: optim.Optimizer | None = None

    def build(self, params: Iterable[Any]) -> optim.Optimizer:
        """A new dagrad optimizer over `params` with these settings (also kept as self.optimizer)."""
        self.optimizer = self._make(list(params))
        return self.optimizer

    def _make(self, params: list) -> optim.Optimizer:
        raise NotImplementedError

    @property
    def learning_rate(self) -> float:
        if self.optimizer is not None:
            return float(self.optimizer.param_groups[0]["lr"])
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self._learning_rate = _positive(type(self).__name__, "learning_rate", value)
        if self.optimizer is not None:
            for group in self.optimizer.param_groups:
                group["lr"] = self._learning_rate

    lr = learning_rate

    def __repr__(self) -> str:
        return f"{type(self).__name__}(learning_rate={self.learning_rate})"


class SGD(Optimizer):
    """Gradient descent, with momentum (v = momentum * v - lr * g; w += v) and Nesterov's variant."""

    def __init__(
        self,
        learning_rate: float = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "SGD",
        lr: float | None = None,
    ) -> None:
        super().__init__(learning_rate if lr is None else lr, weight_decay, global_clipnorm, name)
        if not 0 <= momentum <= 1:
            raise ArgumentError(f"SGD: expected momentum in [0, 1], received momentum={momentum!r}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def _make(self, params: list) -> optim.Optimizer:
        return optim.SGD(
            params,
            lr=self._learning_rate,
            momentum=self.momentum,
            nesterov=self.nesterov,
            weight_decay=self.weight_decay or 0.0,
        )


class RMSprop(Optimizer):
    """Divide the gradient by a running root mean square (decay rho)."""

    def __init__(
        self,
        learning_rate: float = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        weight_decay: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "RMSprop",
        lr: float | None = None,
    ) -> None:
        super().__init__(learning_rate if lr is None else lr, weight_decay, global_clipnorm, name)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, bool(centered)

    def _make(self, params: list) -> optim.Optimizer:
        return optim.RMSprop(
            params,
            lr=self._learning_rate,
            alpha=self.rho,
            eps=self.epsilon,
            weight_decay=self.weight_decay or 0.0,
            momentum=self.momentum,
            centered=self.centered,
        )


class Adam(Optimizer):
    """Adaptive moments: first and second moment estimates with bias correction."""

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        weight_decay: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "Adam",
        lr: float | None = None,
    ) -> None:
        super().__init__(learning_rate if lr is None else lr, weight_decay, global_clipnorm, name)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, bool(amsgrad)

    def _make(self, params: list) -> optim.Optimizer:
        return optim.Adam(
            params,
            lr=self._learning_rate,
            betas=(self.beta_1, self.beta_2),
            eps=self.epsilon,
            weight_decay=self.weight_decay or 0.0,
            amsgrad=self.amsgrad,
            decoupled_weight_decay=True,
        )


class AdamW(Adam):
    """Adam with decoupled weight decay (default 0.004, as Keras)."""

    def __init__(
        self,
        learning_rate: float = 0.001,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        global_clipnorm: float | None = None,
        name: str = "AdamW",
        lr: float | None = None,
    ) -> None:
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, global_clipnorm, name, lr)

    def _make(self, params: list) -> optim.Optimizer:
        return optim.AdamW(
            params,
            lr=self._learning_rate,
            betas=(self.beta_1, self.beta_2),
            eps=self.epsilon,
            weight_decay=self.weight_decay or 0.0,
            amsgrad=self.amsgrad,
        )


class Adagrad(Optimizer):
    """Per-weight learning rates from the sum of squared gradients (starting at initial_accumulator_value)."""

    def __init__(
        self,
        learning_rate: float = 0.001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "Adagrad",
        lr: float | None = None,
    ) -> None:
        super().__init__(learning_rate if lr is None else lr, weight_decay, global_clipnorm, name)
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon

    def _make(self, params: list) -> optim.Optimizer:
        return optim.Adagrad(
            params,
            lr=self._learning_rate,
            eps=self.epsilon,
            weight_decay=self.weight_decay or 0.0,
            initial_accumulator_value=self.initial_accumulator_value,
        )


class Adadelta(Optimizer):
    """Steps scaled by running averages of squared gradients and squared updates (decay rho)."""

    def __init__(
        self,
        learning_rate: float = 0.001,
        rho: float = 0.95,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "Adadelta",
        lr: float | None = None,
    ) -> None:
        super().__init__(learning_rate if lr is None else lr, weight_decay, global_clipnorm, name)
        self.rho, self.epsilon = rho, epsilon

    def _make(self, params: list) -> optim.Optimizer:
        return optim.Adadelta(
            params, lr=self._learning_rate, rho=self.rho, eps=self.epsilon, weight_decay=self.weight_decay or 0.0
        )


_NAMED = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW, "adagrad": Adagrad, "adadelta": Adadelta}


def get(identifier: str | Optimizer | optim.Optimizer, who: str = "compile") -> Optimizer | optim.Optimizer:
    """A Keras optimizer from its name (any case: 'sgd', 'Adam', ...), or an optimizer object (Keras-style or a
    dagrad.optim one, returned unchanged)."""
    if isinstance(identifier, (Optimizer, optim.Optimizer)):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _NAMED:
        return _NAMED[identifier.lower()]()
    if isinstance(identifier, str):
        raise ArgumentError(
            f"{who}: unknown optimizer {identifier!r}; expected one of {sorted(_NAMED)} or an optimizer object"
        )
    raise ArgumentError(f"{who}: expected an optimizer name or object, received {type(identifier).__name__}")


__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "Adadelta", "get"]
