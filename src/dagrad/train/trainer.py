"""Trainer: the fit loop (epochs of minibatches, validation, schedules, clipping, callbacks), evaluate, predict.

One training step is PyTorch's: model.train(), optimizer.zero_grad(set_to_none=True), forward, loss, backward,
optional gradient-norm clipping, optimizer.step(), and a per-step scheduler step for schedules defined per batch
(OneCycleLR, CyclicLR). Other schedulers step once per epoch, ReduceLROnPlateau with the epoch's 'val_loss'
(or 'loss' without validation). The loss and metrics of an epoch are means over its samples (each batch weighted
by its size), computed on raw arrays so they cost one cheap pass per batch. A loader is any iterable of (x, y)
batches: a dagrad.data.DataLoader, or a list of (Tensor, Tensor) pairs.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from dagrad.autograd.grad_mode import no_grad
from dagrad.autograd.tensor import Tensor
from dagrad.creation import as_tensor
from dagrad.errors import ArgumentError
from dagrad.nn.utils import clip_grad_norm_
from dagrad.ops.shape import cat
from dagrad.train import metrics as metrics_lib
from dagrad.train.callbacks import Callback, CallbackList, History, ProgressBar

_PER_STEP = ("OneCycleLR", "CyclicLR")
_ON_PLATEAU = ("ReduceLROnPlateau",)


def _kind_of(scheduler: Any) -> str:
    """'step' for schedules defined per batch, 'plateau' for ReduceLROnPlateau, else 'epoch'."""
    names = {c.__name__ for c in type(scheduler).__mro__}
    if names.intersection(_PER_STEP):
        return "step"
    if names.intersection(_ON_PLATEAU):
        return "plateau"
    return "epoch"


def _tensor(x: Any, device: Any) -> Any:
    """x as a Tensor on `device` (a tuple element-wise: the inputs of a multi-input model)."""
    if isinstance(x, tuple):
        return tuple(_tensor(v, device) for v in x)
    if not isinstance(x, Tensor):
        x = as_tensor(x)
    if device is not None and x.device != device:
        x = x.to(device)
    return x


def _batch_size(x: Any) -> int:
    while isinstance(x, tuple):
        x = x[0]
    return int(x.shape[0]) if x.ndim else 1


def _split(batch: Any, who: str) -> tuple[Any, Any]:
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1]
    if isinstance(batch, dict) and "x" in batch and "y" in batch:
        return batch["x"], batch["y"]
    raise ArgumentError(
        f"{who}: expected each batch to be a pair (inputs, targets), received {type(batch).__name__}"
        + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
    )


def _positive(who: str, name: str, v: Any) -> Any:
    if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0):
        raise ArgumentError(f"{who}: expected {name} to be a positive number or None, received {name}={v!r}")
    return v


class Trainer:
    """Trains `model` on minibatches to minimise loss_fn(model(x), y) with `optimizer`.

    metrics: names ('accuracy', 'top5_accuracy', 'mse', ...), Metric objects or functions fn(output, target).
    callbacks: Callback objects, called in order at each hook. scheduler: a dagrad.optim.lr_scheduler object;
    scheduler_interval ('step' or 'epoch') overrides the choice made from its type. clip_grad_norm: the maximum
    total 2-norm of the gradients (dagrad.nn.utils.clip_grad_norm_) or None.
    """

    def __init__(
        self, model: Any, loss_fn: Callable, optimizer: Any, metrics: Sequence[Any] = ("accuracy",),
        callbacks: Iterable[Callback] = (), scheduler: Any = None, clip_grad_norm: float | None = None,
        scheduler_interval: str | None = None,
    ) -> None:  # fmt: skip
        if isinstance(metrics, str):
            metrics = (metrics,)
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.metrics = [metrics_lib.get(m) for m in metrics]
        names = [m.name for m in self.metrics]
        if len(set(names)) != len(names) or "loss" in names:
            raise ArgumentError(f"Trainer: expected distinct metric names other than 'loss', received {names}")
        self.callbacks = list(callbacks)
        self.scheduler = scheduler
        self.clip_grad_norm = _positive("Trainer", "clip_grad_norm", clip_grad_norm)
        if scheduler_interval not in (None, "step", "epoch"):
            raise ArgumentError(
                f"Trainer: expected scheduler_interval 'step', 'epoch' or None, received {scheduler_interval!r}"
            )
        kind = _kind_of(scheduler) if scheduler is not None else "epoch"
        self.scheduler_interval = scheduler_interval or ("step" if kind == "step" else "epoch")
        self._plateau = kind == "plateau"
        self.stop_training = False
        self.history: History | None = None
        self.epoch = 0
        self.global_step = 0

    # ---- helpers ------------------------------------------------------------------------------------------
    def _device(self) -> Any:
        for p in self.model.parameters():
            return p.device
        return None

    def _lr(self) -> float | None:
        groups = getattr(self.optimizer, "param_groups", None)
        return float(groups[0]["lr"]) if groups and "lr" in groups[0] else None

    def _forward(self, x: Any) -> Any:
        return self.model(*x) if isinstance(x, tuple) else self.model(x)

    # ---- training -------------------------------------------------------------------------------------------
    def fit(
        self, train_loader: Iterable, epochs: int = 1, val_loader: Iterable | None = None, verbose: int = 1,
        initial_epoch: int = 0,
    ) -> History:  # fmt: skip
        """Train from epoch `initial_epoch` up to (not including) epoch `epochs`, as Keras counts; returns the
        History of this run (also kept as self.history)."""
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise ArgumentError(f"fit: expected epochs to be an int >= 0, received epochs={epochs!r}")
        if not 0 <= initial_epoch <= epochs:
            raise ArgumentError(
                f"fit: expected 0 <= initial_epoch <= epochs, received initial_epoch={initial_epoch}, epochs={epochs}"
            )
        if verbose not in (0, 1, 2):
            raise ArgumentError(f"fit: expected verbose to be 0, 1 or 2, received verbose={verbose!r}")
        history = History()
        extra = [ProgressBar(verbose)] if verbose else []
        cbs = CallbackList([*self.callbacks, *extra, history], trainer=self)
        steps = len(train_loader) if hasattr(train_loader, "__len__") else None
        cbs.set_params({"epochs": epochs, "steps": steps, "verbose": verbose, "initial_epoch": initial_epoch})
        self.history = history
        self.stop_training = False
        cbs.on_train_begin()
        logs: dict = {}
        for epoch in range(initial_epoch, epochs):
            self.epoch = epoch
            cbs.on_epoch_begin(epoch)
            lr = self._lr()
            logs = self._train_epoch(train_loader, cbs)
            if val_loader is not None:
                logs.update({f"val_{k}": v for k, v in self.evaluate(val_loader).items()})
            if lr is not None:
                logs["lr"] = lr
            self._epoch_schedule(logs)
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end(logs)
        return history

    def _train_epoch(self, loader: Iterable, cbs: CallbackList) -> dict:
        model, optimizer = self.model, self.optimizer
        model.train()
        device = self._device()
        params = [p for p in model.parameters() if p.requires_grad] if self.clip_grad_norm is not None else []
        per_step = self.scheduler is not None and self.scheduler_interval == "step"
        loss_mean = metrics_lib.Mean("loss")
        for m in self.metrics:
            m.reset()
        for i, batch in enumerate(loader):
            x, y = _split(batch, "fit")
            x, y = _tensor(x, device), _tensor(y, device)
            cbs.on_batch_begin(i)
            optimizer.zero_grad(set_to_none=True)
            out = self._forward(x)
            loss = self.loss_fn(out, y)
            loss.backward()
            if params:
                clip_grad_norm_(params, self.clip_grad_norm)
            optimizer.step()
            if per_step:
                self.scheduler.step()
            self.global_step += 1
            n = _batch_size(x)
            loss_mean.update(float(loss.data), n)
            for m in self.metrics:
                m.update(out, y)
            if cbs.wants_batch_logs:
                cbs.on_batch_end(i, {"loss": loss_mean.compute(), **self._values(self.metrics), "size": n})
            if self.stop_training:
                break
        if not loss_mean.count:
            raise ArgumentError("fit: expected train_loader to yield at least one batch, received none")
        return {"loss": loss_mean.compute(), **self._values(self.metrics)}

    @staticmethod
    def _values(metrics: list) -> dict:
        return {m.name: m.compute() for m in metrics}

    def _epoch_schedule(self, logs: dict) -> None:
        if self.scheduler is None or self.scheduler_interval != "epoch":
            return
        if self._plateau:
            self.scheduler.step(logs.get("val_loss", logs["loss"]))
        else:
            self.scheduler.step()

    # ---- evaluation and inference --------------------------------------------------------------------------
    def evaluate(self, loader: Iterable) -> dict[str, float]:
        """{'loss': mean loss, metric name: value, ...} over every sample of `loader`, in eval mode and no_grad;
        the model's training mode is restored afterwards."""
        metrics = [copy.copy(m) for m in self.metrics]
        for m in metrics:
            m.reset()
        loss_mean = metrics_lib.Mean("loss")
        was_training = self.model.training
        device = self._device()
        self.model.eval()
        try:
            with no_grad():
                for batch in loader:
                    x, y = _split(batch, "evaluate")
                    x, y = _tensor(x, device), _tensor(y, device)
                    out = self._forward(x)
                    loss_mean.update(float(self.loss_fn(out, y).data), _batch_size(x))
                    for m in metrics:
                        m.update(out, y)
        finally:
            self.model.train(was_training)
        if not loss_mean.count:
            raise ArgumentError("evaluate: expected the loader to yield at least one batch, received none")
        return {"loss": loss_mean.compute(), **self._values(metrics)}

    def predict(self, data: Any, batch_size: int = 256) -> Tensor:
        """The model's outputs for every sample, concatenated along dim 0 (a tuple of them for models with
        several outputs). `data` is a Tensor or array (cut into batches of batch_size) or a loader yielding
        inputs or (inputs, targets) pairs. Runs in eval mode under no_grad."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ArgumentError(f"predict: expected batch_size to be a positive int, received {batch_size!r}")
        if isinstance(data, Tensor) or hasattr(data, "__array__"):
            data = as_tensor(data)
            batches: Iterable = (data[i : i + batch_size] for i in range(0, max(data.shape[0], 1), batch_size))
        else:
            batches = (b[0] if isinstance(b, (tuple, list)) and len(b) == 2 else b for b in data)
        was_training = self.model.training
        device = self._device()
        self.model.eval()
        outs = []
        try:
            with no_grad():
                outs = [self._forward(_tensor(x, device)) for x in batches]
        finally:
            self.model.train(was_training)
        if not outs:
            raise ArgumentError("predict: expected at least one batch of inputs, received none")
        if isinstance(outs[0], tuple):
            return tuple(cat([o[j] for o in outs]) for j in range(len(outs[0])))
        return outs[0] if len(outs) == 1 else cat(outs)


def fit(
    model: Any, loss_fn: Callable, optimizer: Any, train_loader: Iterable, epochs: int = 1,
    val_loader: Iterable | None = None, metrics: Sequence[Any] = ("accuracy",), callbacks: Iterable[Callback] = (),
    scheduler: Any = None, clip_grad_norm: float | None = None, verbose: int = 1, initial_epoch: int = 0,
) -> History:  # fmt: skip
    """Function form of Trainer(model, loss_fn, optimizer, ...).fit(train_loader, ...)."""
    trainer = Trainer(model, loss_fn, optimizer, metrics, callbacks, scheduler, clip_grad_norm)
    return trainer.fit(train_loader, epochs, val_loader, verbose, initial_epoch)


__all__ = ["Trainer", "fit"]
