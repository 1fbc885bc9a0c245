"""Training metrics on raw arrays: accuracy, top-k accuracy, regression errors and running means.

Each metric is a function on one batch (outputs, targets) -> float and a `Metric` object that accumulates
over many batches, weighted by batch size, with `reset()` / `update(output, target)` / `compute()`. They work
on the arrays under the tensors (no autograd, no graph), so a metric costs one vectorised pass per batch.
`get("accuracy")` turns the names a Trainer accepts into Metric objects.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from dagrad import backend
from dagrad.autograd.tensor import Tensor
from dagrad.errors import ArgumentError, ShapeError


def _array(x: Any) -> Any:
    """The raw array of a Tensor (the first one when a model returns a tuple of outputs); arrays pass through."""
    if isinstance(x, tuple):
        x = x[0]
    if isinstance(x, Tensor):
        return x.data
    return x if hasattr(x, "shape") else backend.numpy.asarray(x)


def _is_binary(out: Any) -> bool:
    return out.ndim == 1 or (out.ndim == 2 and out.shape[1] == 1)


def _correct(name: str, output: Any, target: Any, threshold: float) -> tuple[int, int]:
    """(number correct, number of predictions) for class-index, one-hot/probability or binary targets."""
    out, tgt = _array(output), _array(target)
    xp = backend.namespace(out, tgt)
    if out.ndim == 0 or out.shape[0] != tgt.shape[0]:
        raise ShapeError(
            f"{name}: expected outputs and targets with the same batch size, received shapes {tuple(out.shape)} "
            f"and {tuple(tgt.shape)}"
        )
    if _is_binary(out):
        pred = out.reshape(-1) > threshold
        truth = tgt.reshape(-1) > 0.5 if tgt.dtype.kind == "f" else tgt.reshape(-1).astype(bool)
    else:
        pred = out.argmax(axis=1)
        truth = tgt.argmax(axis=1) if tgt.ndim == out.ndim else tgt
    if pred.shape != truth.shape:
        raise ShapeError(
            f"{name}: expected targets of shape {tuple(pred.shape)} (class indices) or {tuple(out.shape)} "
            f"(one-hot or probabilities), received {tuple(tgt.shape)}"
        )
    return int(xp.count_nonzero(pred == truth)), int(pred.size)


def _top_k_correct(output: Any, target: Any, k: int) -> tuple[int, int]:
    """A sample counts as correct when fewer than k classes score strictly above its true class."""
    out, tgt = _array(output), _array(target)
    xp = backend.namespace(out, tgt)
    if out.ndim != 2 or out.shape[0] != tgt.shape[0]:
        raise ShapeError(
            f"top_k_accuracy: expected outputs (N, C) and targets (N,) or (N, C), received shapes "
            f"{tuple(out.shape)} and {tuple(tgt.shape)}"
        )
    if tgt.ndim == 2:
        tgt = tgt.argmax(axis=1)
    true_score = xp.take_along_axis(out, tgt.reshape(-1, 1).astype(xp.int64), axis=1)
    above = (out > true_score).sum(axis=1)
    return int(xp.count_nonzero(above < k)), int(out.shape[0])


def accuracy(output: Any, target: Any, threshold: float = 0.5) -> float:
    """Fraction of correct predictions in one batch.

    output (N, C, ...) is scored by argmax over dim 1 against class indices (N, ...) or one-hot/probability
    targets (N, C, ...); a one-output model, (N,) or (N, 1), predicts class 1 where output > threshold (use
    threshold=0 for logits)."""
    correct, total = _correct("accuracy", output, target, threshold)
    return correct / max(total, 1)


def top_k_accuracy(output: Any, target: Any, k: int = 5) -> float:
    """Fraction of samples whose true class is among the k highest outputs (N, C)."""
    correct, total = _top_k_correct(output, target, k)
    return correct / max(total, 1)


class Metric:
    """A quantity accumulated over batches: reset(), update(output, target), compute() -> float."""

    name = "metric"

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total = 0.0
        self.count = 0

    def update(self, output: Any, target: Any) -> None:
        raise NotImplementedError

    def compute(self) -> float:
        return self.total / self.count if self.count else float("nan")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class Mean(Metric):
    """The running mean of a value weighted by counts (e.g. a batch's mean loss weighted by its batch size)."""

    def __init__(self, name: str = "loss") -> None:
        self.name = name
        super().__init__()

    def update(self, value: float, n: int = 1) -> None:
        self.total += float(value) * n
        self.count += n


class Accuracy(Metric):
    """Fraction correct over all batches seen (see `accuracy` for the target formats)."""

    def __init__(self, threshold: float = 0.5, name: str = "accuracy") -> None:
        self.threshold = threshold
        self.name = name
        super().__init__()

    def update(self, output: Any, target: Any) -> None:
        correct, n = _correct(self.name, output, target, self.threshold)
        self.total += correct
        self.count += n


class TopKAccuracy(Metric):
    """Fraction of samples whose true class is among the k highest outputs, over all batches seen."""

    def __init__(self, k: int = 5, name: str | None = None) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ArgumentError(f"TopKAccuracy: expected k to be a positive int, received k={k!r}")
        self.k = k
        self.name = name or f"top{k}_accuracy"
        super().__init__()

    def update(self, output: Any, target: Any) -> None:
        correct, n = _top_k_correct(output, target, self.k)
        self.total += correct
        self.count += n


class _Elementwise(Metric):
    """The mean of an elementwise error over every element of every batch."""

    def update(self, output: Any, target: Any) -> None:
        out, tgt = _array(output), _array(target)
        if out.size != tgt.size:
            raise ShapeError(
                f"{self.name}: expected outputs and targets with as many elements, received shapes "
                f"{tuple(out.shape)} and {tuple(tgt.shape)}"
            )
        d = out.reshape(-1) - tgt.reshape(-1)
        self.total += float(self._reduce(d))
        self.count += int(d.size)


class MeanSquaredError(_Elementwise):
    name = "mse"

    @staticmethod
    def _reduce(d: Any) -> Any:
        return backend.namespace(d).vdot(d, d)


class MeanAbsoluteError(_Elementwise):
    name = "mae"

    @staticmethod
    def _reduce(d: Any) -> Any:
        return backend.namespace(d).abs(d).sum()


class FunctionMetric(Metric):
    """Wraps fn(output, target) -> float (a batch mean) as a Metric averaged by batch size."""

    def __init__(self, fn: Callable[[Any, Any], float], name: str | None = None) -> None:
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "metric")
        super().__init__()

    def update(self, output: Any, target: Any) -> None:
        n = int(_array(output).shape[0])
        self.total += float(self.fn(output, target)) * n
        self.count += n


_NAMED: dict[str, Callable[[], Metric]] = {
    "accuracy": Accuracy,
    "acc": Accuracy,
    "top_k_accuracy": TopKAccuracy,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
}
_TOP_K = re.compile(r"top(\d+)_acc(uracy)?")


def get(metric: str | Metric | Callable[[Any, Any], float]) -> Metric:
    """A Metric from a name ('accuracy', 'top5_accuracy', 'top_k_accuracy' (k=5), 'mse', 'mae'), a Metric
    instance (returned as is) or a function fn(output, target) -> float."""
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, str):
        if metric in _NAMED:
            return _NAMED[metric]()
        m = _TOP_K.fullmatch(metric)
        if m:
            return TopKAccuracy(int(m.group(1)), name=metric)
        raise ArgumentError(f"metrics: expected one of {sorted(_NAMED)} or 'top<k>_accuracy', received {metric!r}")
    if callable(metric):
        return FunctionMetric(metric)
    raise ArgumentError(f"metrics: expected a name, a Metric or a function, received {type(metric).__name__}")


__all__ = [
    "accuracy", "top_k_accuracy", "Metric", "Mean", "Accuracy", "TopKAccuracy", "MeanSquaredError",
    "MeanAbsoluteError", "FunctionMetric", "get",
]  # fmt: skip
