"""Keras losses: functions loss(y_true, y_pred) -> per-sample losses, and Loss objects that reduce them.

Keras' conventions, which differ from PyTorch's: the arguments are (y_true, y_pred); y_pred is the model's output,
so with from_logits=False (the default) the cross-entropies take probabilities (after a softmax or sigmoid),
renormalise them to sum to one and clip them to [1e-7, 1 - 1e-7] before the log, as Keras does; the functions
return one value per sample (the last axis is reduced) and a Loss object's default reduction
('sum_over_batch_size') takes their mean. categorical_crossentropy wants one-hot (or probability) targets,
sparse_categorical_crossentropy integer class labels of shape (N,) or (N, 1). With from_logits=True the losses use
dagrad's fused, numerically stable kernels (log-softmax cross-entropy, BCE with logits).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from dagrad import backend
from dagrad.autograd.tensor import Tensor
from dagrad.creation import as_tensor
from dagrad.errors import ArgumentError, ShapeError
from dagrad.ops import loss as _loss

EPSILON = 1e-7


def _pred(y_pred: Any) -> Tensor:
    p = y_pred if isinstance(y_pred, Tensor) else as_tensor(y_pred)
    return p if p.dtype.kind == "f" else p.to(backend.get_default_dtype())


def _pair(who: str, y_true: Any, y_pred: Any) -> tuple[Tensor, Tensor]:
    """(targets, predictions) as Tensors of one float dtype and shape; targets (N,) against predictions (N, 1)
    and similar rank differences are reshaped, as Keras squeezes or expands them."""
    p = _pred(y_pred)
    t = y_true if isinstance(y_true, Tensor) else as_tensor(y_true)
    if t.dtype != p.dtype:
        t = t.to(p.dtype)
    if tuple(t.shape) != tuple(p.shape):
        if t.numel() != p.numel():
            raise ShapeError(
                f"{who}: expected targets of the predictions' shape {tuple(p.shape)}, received shape {tuple(t.shape)}"
            )
        t = t.reshape(p.shape)
    return t, p


def _classes_first(x: Tensor) -> Tensor:
    """Move the class axis (last, as Keras) to dim 1, where dagrad's cross-entropy kernels want it."""
    return x if x.ndim <= 2 else x.movedim(-1, 1)


def _clipped_probs(p: Tensor) -> Tensor:
    return (p / p.sum(-1, keepdim=True)).clamp(EPSILON, 1.0 - EPSILON)


def _check_axis(who: str, axis: int) -> None:
    if axis != -1:
        raise ArgumentError(f"{who}: expected axis=-1 (the class axis is the last one), received axis={axis}")


def categorical_crossentropy(
    y_true: Any, y_pred: Any, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1
) -> Tensor:
    """-sum(y_true * log(y_pred)) over the last axis, per sample: one-hot targets against probabilities (or
    logits with from_logits=True). label_smoothing mixes the targets with the uniform distribution."""
    _check_axis("categorical_crossentropy", axis)
    t, p = _pair("categorical_crossentropy", y_true, y_pred)
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + label_smoothing / p.shape[-1]
    if from_logits:
        return _loss.cross_entropy(_classes_first(p), _classes_first(t), reduction="none")
    return -(t * _clipped_probs(p).log()).sum(-1)


def _labels(who: str, y_true: Any, p: Tensor) -> Tensor:
    """Integer class labels of shape p.shape[:-1] (a trailing axis of 1 is dropped)."""
    t = y_true if isinstance(y_true, Tensor) else as_tensor(y_true)
    shape = tuple(p.shape[:-1])
    if tuple(t.shape) != shape:
        if t.numel() != math.prod(shape):
            raise ShapeError(
                f"{who}: expected integer labels of shape {shape} (or {(*shape, 1)}) for predictions of shape "
                f"{tuple(p.shape)}, received shape {tuple(t.shape)}"
            )
        t = t.reshape(shape)
    return t if t.dtype == backend.int64 else t.to(backend.int64)


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False, axis: int = -1) -> Tensor:
    """-log(y_pred[y_true]) per sample: integer labels against probabilities (or logits with from_logits=True)."""
    _check_axis("sparse_categorical_crossentropy", axis)
    p = _pred(y_pred)
    t = _labels("sparse_categorical_crossentropy", y_true, p)
    if from_logits:
        return _loss.cross_entropy(_classes_first(p), t, reduction="none")
    return _loss.nll_loss(_classes_first(_clipped_probs(p).log()), t, reduction="none")


def binary_crossentropy(
    y_true: Any, y_pred: Any, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1
) -> Tensor:
    """Mean over the last axis of -(y log p + (1 - y) log(1 - p)), p clipped to [1e-7, 1 - 1e-7] (or a sigmoid
    of logits with from_logits=True)."""
    _check_axis("binary_crossentropy", axis)
    t, p = _pair("binary_crossentropy", y_true, y_pred)
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        return _loss.binary_cross_entropy_with_logits(p, t, reduction="none").mean(-1)
    return _loss.binary_cross_entropy(p.clamp(EPSILON, 1.0 - EPSILON), t, reduction="none").mean(-1)


def mean_squared_error(y_true: Any, y_pred: Any) -> Tensor:
    """Mean of (y_pred - y_true)^2 over the last axis."""
    t, p = _pair("mean_squared_error", y_true, y_pred)
    return _loss.mse_loss(p, t, reduction="none").mean(-1)


def mean_absolute_error(y_true: Any, y_pred: Any) -> Tensor:
    """Mean of |y_pred - y_true| over the last axis."""
    t, p = _pair("mean_absolute_error", y_true, y_pred)
    return _loss.l1_loss(p, t, reduction="none").mean(-1)


def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> Tensor:
    """Mean over the last axis of 0.5 d^2 where |d| <= delta, else delta * (|d| - 0.5 delta)."""
    t, p = _pair("huber", y_true, y_pred)
    return _loss.huber_loss(p, t, reduction="none", delta=delta).mean(-1)


def kl_divergence(y_true: Any, y_pred: Any) -> Tensor:
    """sum(y_true * log(y_true / y_pred)) over the last axis, both clipped to [1e-7, 1]."""
    t, p = _pair("kl_divergence", y_true, y_pred)
    t = t.clamp(EPSILON, 1.0)
    return (t * (t.log() - p.clamp(EPSILON, 1.0).log())).sum(-1)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
kld = KLD = kl_divergence

_REDUCTIONS = ("sum_over_batch_size", "mean", "sum", "none", None)


class Loss:
    """A loss object: loss(y_true, y_pred) -> the per-sample losses of `call`, reduced.

    reduction: 'sum_over_batch_size' (the default; the mean of the per-sample losses), 'mean' (the same here),
    'sum', or 'none' / None (the per-sample losses). `kind` tells compile() which accuracy 'accuracy' means.
    """

    kind: str | None = None

    def __init__(self, name: str | None = None, reduction: str | None = "sum_over_batch_size") -> None:
        if reduction not in _REDUCTIONS:
            raise ArgumentError(
                f"{type(self).__name__}: expected reduction in {list(_REDUCTIONS)}, received reduction={reduction!r}"
            )
        self.name = name or _snake(type(self).__name__)
        self.reduction = reduction

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        raise NotImplementedError

    def __call__(self, y_true: Any, y_pred: Any) -> Tensor:
        losses = self.call(y_true, y_pred)
        if self.reduction in ("none", None):
            return losses
        return losses.sum() if self.reduction == "sum" else losses.mean()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, reduction={self.reduction!r})"


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


class LossFunctionWrapper(Loss):
    """A Loss from a function fn(y_true, y_pred, **kwargs) -> per-sample losses."""

    def __init__(
        self, fn: Callable, name: str | None = None, reduction: str | None = "sum_over_batch_size", **kwargs: Any
    ) -> None:
        super().__init__(name or getattr(fn, "__name__", "loss"), reduction)
        self.fn, self.kwargs = fn, kwargs
        self.kind = _KINDS.get(fn)

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        out = self.fn(y_true, y_pred, **self.kwargs)
        return out if isinstance(out, Tensor) else as_tensor(out)


class CategoricalCrossentropy(LossFunctionWrapper):
    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str = "categorical_crossentropy",
    ) -> None:
        super().__init__(
            categorical_crossentropy,
            name,
            reduction,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    def __init__(
        self,
        from_logits: bool = False,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str = "sparse_categorical_crossentropy",
    ) -> None:
        super().__init__(sparse_categorical_crossentropy, name, reduction, from_logits=from_logits, axis=axis)


class BinaryCrossentropy(LossFunctionWrapper):
    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str = "binary_crossentropy",
    ) -> None:
        super().__init__(
            binary_crossentropy, name, reduction, from_logits=from_logits, label_smoothing=label_smoothing, axis=axis
        )


class MeanSquaredError(LossFunctionWrapper):
    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str = "mean_squared_error") -> None:
        super().__init__(mean_squared_error, name, reduction)


class MeanAbsoluteError(LossFunctionWrapper):
    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str = "mean_absolute_error") -> None:
        super().__init__(mean_absolute_error, name, reduction)


class Huber(LossFunctionWrapper):
    def __init__(
        self, delta: float = 1.0, reduction: str | None = "sum_over_batch_size", name: str = "huber_loss"
    ) -> None:
        super().__init__(huber, name, reduction, delta=delta)


class KLDivergence(LossFunctionWrapper):
    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str = "kl_divergence") -> None:
        super().__init__(kl_divergence, name, reduction)


_KINDS: dict[Callable, str] = {
    categorical_crossentropy: "categorical",
    sparse_categorical_crossentropy: "sparse",
    binary_crossentropy: "binary",
}

_NAMED: dict[str, Callable[[], Loss]] = {
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
    "huber": Huber,
    "huber_loss": Huber,
    "kl_divergence": KLDivergence,
    "kld": KLDivergence,
    "kullback_leibler_divergence": KLDivergence,
}
for _cls in (
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    BinaryCrossentropy,
    MeanSquaredError,
    MeanAbsoluteError,
    Huber,
    KLDivergence,
):
    _NAMED[_cls.__name__] = _cls


def get(identifier: str | Loss | Callable, who: str = "compile") -> Loss:
    """A Loss from a Keras name ('categorical_crossentropy', 'mse', 'CategoricalCrossentropy', ...), a Loss object
    (returned unchanged) or a function fn(y_true, y_pred) (wrapped; its result is averaged)."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        if identifier not in _NAMED:
            names = sorted(k for k in _NAMED if k.islower())
            raise ArgumentError(
                f"{who}: unknown loss {identifier!r}; expected one of {names} or a function loss(y_true, y_pred)"
            )
        return _NAMED[identifier]()
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise ArgumentError(f"{who}: expected a loss name, a Loss or a function, received {type(identifier).__name__}")


__all__ = [
    "Loss", "LossFunctionWrapper", "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "BinaryCrossentropy",
    "MeanSquaredError", "MeanAbsoluteError", "Huber", "KLDivergence", "categorical_crossentropy",
    "sparse_categorical_crossentropy", "binary_crossentropy", "mean_squared_error", "mean_absolute_error", "huber",
    "kl_divergence", "mse", "mae", "kld", "MSE", "MAE", "KLD", "get", "EPSILON",
]  # fmt: skip
