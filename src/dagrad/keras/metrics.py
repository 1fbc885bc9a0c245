"""Keras metrics as dagrad.train Metric objects (accumulated over batches on raw arrays, weighted by batch size).

'accuracy' (or 'acc') means what Keras makes of it: categorical accuracy (argmax of the output against argmax of
one-hot targets) under categorical_crossentropy, sparse categorical accuracy (argmax against integer labels) under
sparse_categorical_crossentropy, binary accuracy (output > 0.5 against 0/1 targets) under binary_crossentropy, and
otherwise the choice Keras makes from the shapes: binary for one output unit, sparse when the targets lack the
class axis (or it has size 1), categorical else. A metric's name is the string given in compile(metrics=[...]), so
History holds the keys Keras users expect ('accuracy', 'val_accuracy', 'mae', ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dagrad import backend
from dagrad.autograd.grad_mode import no_grad
from dagrad.autograd.tensor import Tensor
from dagrad.errors import ArgumentError, ShapeError
from dagrad.train.metrics import MeanAbsoluteError, MeanSquaredError, Metric, TopKAccuracy


def _arrays(who: str, output: Any, target: Any) -> tuple[Any, Any]:
    out = output.data if isinstance(output, Tensor) else output
    tgt = target.data if isinstance(target, Tensor) else target
    if out.ndim == 0 or tgt.ndim == 0 or out.shape[0] != tgt.shape[0]:
        raise ShapeError(
            f"{who}: expected outputs and targets with the same batch size, received shapes "
            f"{tuple(out.shape)} and {tuple(tgt.shape)}"
        )
    return out, tgt


def _categorical_hits(name: str, out: Any, tgt: Any) -> Any:
    if tgt.shape != out.shape:
        raise ShapeError(
            f"{name}: expected one-hot targets of the outputs' shape {tuple(out.shape)}, received "
            f"shape {tuple(tgt.shape)}"
        )
    return out.argmax(-1) == tgt.argmax(-1)


def _sparse_hits(name: str, out: Any, tgt: Any) -> Any:
    pred = out.argmax(-1)
    if tgt.size != pred.size:
        raise ShapeError(
            f"{name}: expected integer labels of shape {tuple(pred.shape)} for outputs of shape "
            f"{tuple(out.shape)}, received shape {tuple(tgt.shape)}"
        )
    return pred == tgt.reshape(pred.shape)


def _binary_hits(name: str, out: Any, tgt: Any, threshold: float = 0.5) -> Any:
    if tgt.size != out.size:
        raise ShapeError(
            f"{name}: expected targets of the outputs' shape {tuple(out.shape)}, received shape {tuple(tgt.shape)}"
        )
    return (out > threshold) == (tgt.reshape(out.shape) > 0.5)


def _shape_hits(name: str, out: Any, tgt: Any) -> Any:
    """Keras' 'accuracy' when the loss does not decide: binary, sparse or categorical from the shapes."""
    if out.ndim == 1 or out.shape[-1] == 1:
        return _binary_hits(name, out, tgt)
    if tgt.ndim == out.ndim - 1 or (tgt.ndim == out.ndim and tgt.shape[-1] == 1):
        return _sparse_hits(name, out, tgt)
    return _categorical_hits(name, out, tgt)


class _Accuracy(Metric):
    """The fraction of correct predictions over every batch seen; `_hits(name, out, tgt)` marks the correct ones."""

    _hits: Callable = staticmethod(_shape_hits)

    def __init__(self, name: str = "accuracy") -> None:
        self.name = name
        super().__init__()

    def update(self, output: Any, target: Any) -> None:
        hits = self._hits(self.name, *_arrays(self.name, output, target))
        self.total += int(backend.namespace(hits).count_nonzero(hits))
        self.count += int(hits.size)


class CategoricalAccuracy(_Accuracy):
    """argmax(output) == argmax(one-hot target) along the last axis."""

    _hits = staticmethod(_categorical_hits)

    def __init__(self, name: str = "categorical_accuracy") -> None:
        super().__init__(name)


class SparseCategoricalAccuracy(_Accuracy):
    """argmax(output) along the last axis == the integer label (targets (N,) or (N, 1))."""

    _hits = staticmethod(_sparse_hits)

    def __init__(self, name: str = "sparse_categorical_accuracy") -> None:
        super().__init__(name)


class BinaryAccuracy(_Accuracy):
    """(output > threshold) == (target > 0.5), element by element."""

    def __init__(self, name: str = "binary_accuracy", threshold: float = 0.5) -> None:
        self.threshold = threshold
        super().__init__(name)

    def _hits(self, name: str, out: Any, tgt: Any) -> Any:
        return _binary_hits(name, out, tgt, self.threshold)


class _FunctionMetric(Metric):
    """A Keras metric function fn(y_true, y_pred) -> per-sample values (or their mean), averaged over samples."""

    def __init__(self, fn: Callable, name: str | None = None) -> None:
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "metric")
        super().__init__()

    def update(self, output: Any, target: Any) -> None:
        with no_grad():
            value = self.fn(target, output)
        arr = value.data if isinstance(value, Tensor) else backend.numpy.asarray(value)
        n = int(output.shape[0])
        self.total += float(arr.mean()) * n
        self.count += n


_ACCURACY_BY_LOSS = {"categorical": CategoricalAccuracy, "sparse": SparseCategoricalAccuracy, "binary": BinaryAccuracy}

_NAMED: dict[str, Callable[[str], Metric]] = {
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "binary_accuracy": BinaryAccuracy,
    "top_k_categorical_accuracy": lambda name: TopKAccuracy(5, name=name),
    "sparse_top_k_categorical_accuracy": lambda name: TopKAccuracy(5, name=name),
    "mse": lambda name: _named(MeanSquaredError(), name),
    "mean_squared_error": lambda name: _named(MeanSquaredError(), name),
    "mae": lambda name: _named(MeanAbsoluteError(), name),
    "mean_absolute_error": lambda name: _named(MeanAbsoluteError(), name),
}


def _named(metric: Metric, name: str) -> Metric:
    metric.name = name
    return metric


def get(identifier: str | Metric | Callable, loss_kind: str | None = None, who: str = "compile") -> Metric:
    """A Metric for compile(metrics=[...]): a Keras name ('accuracy', 'categorical_accuracy', 'mae', ...), a dagrad
    Metric (returned unchanged) or a function fn(y_true, y_pred). loss_kind ('categorical', 'sparse', 'binary' or
    None) picks what 'accuracy' means."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier in ("accuracy", "acc"):
            return _ACCURACY_BY_LOSS.get(loss_kind, _Accuracy)(name=identifier)
        if identifier not in _NAMED:
            raise ArgumentError(
                f"{who}: unknown metric {identifier!r}; expected one of "
                f"{['accuracy', *sorted(_NAMED)]} or a function metric(y_true, y_pred)"
            )
        return _NAMED[identifier](identifier)
    if callable(identifier):
        return _FunctionMetric(identifier)
    raise ArgumentError(f"{who}: expected a metric name, a Metric or a function, received {type(identifier).__name__}")


__all__ = ["CategoricalAccuracy", "SparseCategoricalAccuracy", "BinaryAccuracy", "get"]
