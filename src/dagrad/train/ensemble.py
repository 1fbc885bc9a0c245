"""Ensembles: several models combined by averaging their outputs or by majority vote, and bagging.

Ensemble(models, mode='average') is a Module whose forward is the mean of the members' outputs (differentiable,
so an ensemble can be fine-tuned or evaluated like any model); mode='vote' returns each class's share of the
members' votes (N, C) (for one-output binary members, the share voting class 1). predict(x) gives class
indices. bagging / Ensemble.fit_bagging trains each member on its own bootstrap sample of the data set (indices
drawn with replacement from a seeded generator) and keeps the indices, so out-of-bag samples can be scored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from dagrad import backend
from dagrad.autograd.grad_mode import no_grad
from dagrad.autograd.tensor import Tensor, _make
from dagrad.errors import ArgumentError
from dagrad.nn.containers import ModuleList
from dagrad.nn.module import Module
from dagrad.ops.shape import stack

_MODES = ("average", "vote")


def _is_binary(a: Any) -> bool:
    return a.ndim == 1 or (a.ndim == 2 and a.shape[1] == 1)


class Ensemble(Module):
    """Combine `models` (called with the same inputs) by mode='average' or 'vote'. threshold: the output above
    which a one-output member predicts class 1 (0.5 for probabilities; use 0 for logits)."""

    def __init__(self, models: Iterable[Module], mode: str = "average", threshold: float = 0.5) -> None:
        super().__init__()
        models = list(models)
        if not models:
            raise ArgumentError("Ensemble: expected at least one model, received none")
        if mode not in _MODES:
            raise ArgumentError(f"Ensemble: expected mode to be one of {_MODES}, received mode={mode!r}")
        self.members = ModuleList(models)
        self.mode = mode
        self.threshold = threshold
        self.bootstrap_indices: list | None = None

    def __len__(self) -> int:
        return len(self.members)

    def forward(self, *args: Any) -> Tensor:
        outs = [m(*args) for m in self.members]
        if self.mode == "average":
            return stack(outs).mean(0)
        return _make(self._votes([o.data for o in outs]))

    def _votes(self, outs: list) -> Any:
        """Each class's share of the members' votes, (N, C); for one-output members the share for class 1."""
        xp = backend.namespace(*outs)
        if _is_binary(outs[0]):
            return xp.stack([o > self.threshold for o in outs]).mean(axis=0, dtype=outs[0].dtype)
        preds = xp.stack([o.argmax(axis=1) for o in outs])
        classes = xp.arange(outs[0].shape[1]).reshape((1, 1, -1) + (1,) * (preds.ndim - 2))
        return (preds[:, :, None] == classes).mean(axis=0, dtype=outs[0].dtype)

    def predict(self, *args: Any) -> Tensor:
        """Class indices (int64, (N, ...)), or 0/1 (N,) for one-output members, in eval mode under no_grad.
        'vote' takes the majority class and breaks ties by the members' mean output."""
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                outs = [m(*args).data for m in self.members]
        finally:
            self.train(was_training)
        xp = backend.namespace(*outs)
        mean = xp.stack(outs).mean(axis=0)
        if _is_binary(mean):
            share = self._votes(outs) if self.mode == "vote" else mean
            cut = 0.5 if self.mode == "vote" else self.threshold
            return _make((share > cut).astype(xp.int64).reshape(-1))
        if self.mode == "average":
            return _make(mean.argmax(axis=1))
        votes = self._votes(outs)
        tied = votes == votes.max(axis=1, keepdims=True)
        return _make(xp.where(tied, mean, -xp.inf).argmax(axis=1))

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"

    @classmethod
    def fit_bagging(
        cls, model_fn: Callable[[], Module], n: int, dataset: Any, loss_fn: Callable,
        optimizer_fn: Callable[[Iterable], Any], epochs: int = 1, batch_size: int = 32,
        sample_size: int | None = None, generator: backend.Generator | None = None, mode: str = "average",
        metrics: Sequence[Any] = (), verbose: int = 0, **trainer_kwargs: Any,
    ) -> Ensemble:  # fmt: skip
        """Train n members, each built by model_fn() with optimizer_fn(model.parameters()), for `epochs` on a
        bootstrap sample of `dataset` (a Dataset or a pair of tensors (X, Y)) of sample_size (default
        len(dataset)) indices drawn with replacement from `generator` (dagrad's global one when None)."""
        from dagrad.data import DataLoader, Subset, TensorDataset
        from dagrad.train.trainer import Trainer

        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ArgumentError(f"bagging: expected n to be a positive int, received n={n!r}")
        if isinstance(dataset, tuple):
            dataset = TensorDataset(*dataset)
        size = len(dataset)
        m = size if sample_size is None else sample_size
        if size < 1 or m < 1:
            raise ArgumentError(
                f"bagging: expected a non-empty dataset and sample_size >= 1, received {size} samples and "
                f"sample_size={sample_size}"
            )
        # All samples are drawn first, so they depend on the seed, n and m only, not on the shuffling that follows.
        indices = list(backend.rng(generator).integers(0, size, size=(n, m)))
        members = []
        for idx in indices:
            model = model_fn()
            loader = DataLoader(Subset(dataset, idx), batch_size=batch_size, shuffle=True, generator=generator)
            trainer = Trainer(model, loss_fn, optimizer_fn(model.parameters()), metrics=metrics, **trainer_kwargs)
            trainer.fit(loader, epochs=epochs, verbose=verbose)
            members.append(model)
        ensemble = cls(members, mode=mode)
        ensemble.bootstrap_indices = indices
        return ensemble


def bagging(
    model_fn: Callable[[], Module], n: int, dataset: Any, loss_fn: Callable, optimizer_fn: Callable[[Iterable], Any],
    **kwargs: Any,
) -> Ensemble:  # fmt: skip
    """Bootstrap aggregating: Ensemble.fit_bagging(model_fn, n, dataset, loss_fn, optimizer_fn, **kwargs)."""
    return Ensemble.fit_bagging(model_fn, n, dataset, loss_fn, optimizer_fn, **kwargs)


__all__ = ["Ensemble", "bagging"]
