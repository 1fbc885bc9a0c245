"""Loss modules (as torch.nn): each validates its options when built (errors name the layer) and calls the
functional form in dagrad.ops.loss. Class weights, BCEWithLogitsLoss's pos_weight and StructuredLoss's task_loss
are buffers, so .to(), .double() and state_dict() treat them as torch does.

Like torch's, the modules keep the deprecated size_average / reduce arguments in their positions; given, they
set `reduction` by torch's old rule.
"""

from __future__ import annotations

from typing import Any

from dagrad.autograd.tensor import Tensor
from dagrad.creation import as_tensor
from dagrad.errors import DtypeError, ShapeError
from dagrad.nn.module import Module
from dagrad.ops import loss as F


def _number(layer: str, name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise DtypeError(f"{layer}: expected {name} to be a number, received {name}={v!r}")
    return v


class _Loss(Module):
    """Base of the losses: the reduction ('none', 'mean', 'sum'), checked when built."""

    _extra: tuple[str, ...] = ()

    def __init__(self, size_average: Any = None, reduce: Any = None, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = F._reduction(type(self).__name__, reduction, size_average, reduce, self._extra)

    def _buffer(self, name: str, value: Any, ndim: int | None = None) -> None:
        """Register `value` (a tensor, array or list; None allowed) as a buffer, checking its number of dims."""
        t = None if value is None else value if isinstance(value, Tensor) else as_tensor(value)
        if t is not None and ndim is not None and t.ndim != ndim:
            raise ShapeError(
                f"{type(self).__name__}: expected {name} to be a {ndim}-d tensor, received shape {tuple(t.shape)}"
            )
        self.register_buffer(name, t)


class _WeightedLoss(_Loss):
    """A loss with an optional 1-d class weight (a buffer)."""

    def __init__(self, weight: Any = None, size_average: Any = None, reduce: Any = None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self._buffer("weight", weight, ndim=1)


class L1Loss(_Loss):
    """Mean (or sum, or each) absolute error |input - target|."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class MSELoss(_Loss):
    """Mean (or sum, or each) squared error (input - target)^2."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Squared error below beta (0.5 d^2 / beta), absolute error (|d| - 0.5 beta) above; beta = 0 is L1Loss."""

    def __init__(
        self, size_average: Any = None, reduce: Any = None, reduction: str = "mean", beta: float = 1.0
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        if _number("SmoothL1Loss", "beta", beta) < 0:
            raise ShapeError(f"SmoothL1Loss: expected beta >= 0, received beta={beta}")
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """0.5 d^2 for |d| <= delta, delta (|d| - 0.5 delta) beyond."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        if not _number("HuberLoss", "delta", delta) > 0:
            raise ShapeError(f"HuberLoss: expected delta > 0, received delta={delta}")
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class CrossEntropyLoss(_WeightedLoss):
    """Cross-entropy of logits (N, C, d1, ...) against class indices (N, d1, ...) or class probabilities (the
    input's shape), with class weights, ignore_index and label smoothing; the fused log-softmax + NLL."""

    def __init__(
        self,
        weight: Any = None,
        size_average: Any = None,
        ignore_index: int = -100,
        reduce: Any = None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        if not 0.0 <= _number("CrossEntropyLoss", "label_smoothing", label_smoothing) <= 1.0:
            raise ShapeError(
                f"CrossEntropyLoss: expected label_smoothing in [0, 1], received label_smoothing={label_smoothing}"
            )
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(
            input,
            target,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities (N, C, d1, ...) at class indices (N, d1, ...)."""

    def __init__(
        self,
        weight: Any = None,
        size_average: Any = None,
        ignore_index: int = -100,
        reduce: Any = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities in [0, 1]; weight broadcasts against the input."""

    def __init__(self, weight: Any = None, size_average: Any = None, reduce: Any = None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self._buffer("weight", weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of sigmoid(logits), computed stably from the logits; pos_weight (one per class,
    along the last dim) scales the positive term, weight every term."""

    def __init__(
        self,
        weight: Any = None,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
        pos_weight: Any = None,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self._buffer("weight", weight)
        self._buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(
            input, target, weight=self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )


class KLDivLoss(_Loss):
    """KL divergence of log-probabilities (input) from a target distribution (probabilities, or log-probabilities
    with log_target); reduction='batchmean' gives the mathematical KL per sample."""

    _extra = ("batchmean",)

    def __init__(
        self, size_average: Any = None, reduce: Any = None, reduction: str = "mean", log_target: bool = False
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class HingeEmbeddingLoss(_Loss):
    """input where target is 1, max(0, margin - input) where it is -1 (distances of similar/dissimilar pairs)."""

    def __init__(
        self, margin: float = 1.0, size_average: Any = None, reduce: Any = None, reduction: str = "mean"
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = _number("HingeEmbeddingLoss", "margin", margin)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.hinge_embedding_loss(input, target, margin=self.margin, reduction=self.reduction)


class MultiMarginLoss(_WeightedLoss):
    """Multiclass hinge loss of scores (N, C): sum over i != y of w[y] max(0, margin - x[y] + x[i])^p / C."""

    def __init__(
        self,
        p: int = 1,
        margin: float = 1.0,
        weight: Any = None,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        if p not in (1, 2) or isinstance(p, bool):
            raise ShapeError(f"MultiMarginLoss: expected p to be 1 or 2, received p={p!r}")
        self.p = p
        self.margin = _number("MultiMarginLoss", "margin", margin)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.multi_margin_loss(
            input, target, p=self.p, margin=self.margin, weight=self.weight, reduction=self.reduction
        )


class StructuredLoss(_Loss):
    """The lecture notes' general learning objective over class scores F (N, C) with targets y (N,):

        epsilon * log sum_yhat exp((L(y, yhat) + F(x, yhat)) / epsilon) - F(x, y)

    with a task-loss matrix L = task_loss (C, C), by default the 0/1 loss 1 - I. epsilon = 1 with L = 0 is
    CrossEntropyLoss; as epsilon -> 0 it becomes the structured hinge (multiclass SVM) loss
    max_yhat (L(y, yhat) + F(x, yhat)) - F(x, y). No PyTorch counterpart.
    """

    def __init__(self, task_loss: Any = None, epsilon: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        if not _number("StructuredLoss", "epsilon", epsilon) > 0:
            raise ShapeError(f"StructuredLoss: expected epsilon > 0, received epsilon={epsilon}")
        self._buffer("task_loss", task_loss, ndim=2)
        if self.task_loss is not None and self.task_loss.shape[0] != self.task_loss.shape[1]:
            raise ShapeError(
                f"StructuredLoss: expected a square task_loss (C, C), received shape {tuple(self.task_loss.shape)}"
            )
        self.epsilon = epsilon

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.structured_loss(input, target, self.task_loss, epsilon=self.epsilon, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"epsilon={self.epsilon}"


__all__ = [
    "L1Loss", "MSELoss", "SmoothL1Loss", "HuberLoss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss",
    "KLDivLoss", "HingeEmbeddingLoss", "MultiMarginLoss", "StructuredLoss",
]  # fmt: skip
