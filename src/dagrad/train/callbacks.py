"""Callbacks: code that runs at fixed points of Trainer.fit (as Keras callbacks).

A callback overrides any of on_train_begin/end(logs), on_epoch_begin/end(epoch, logs) and
on_batch_begin/end(batch, logs); `self.trainer` (and `self.model`) are set before training starts, and
`self.trainer.stop_training = True` ends training after the current batch. Epoch logs hold 'loss', each metric,
'val_*' when there is a validation loader and 'lr'; batch logs hold the epoch's running 'loss' and metrics and
the batch's 'size'. Callbacks run in the order given; the Trainer appends its progress bar and then History, so
both see what earlier callbacks added to the logs.
"""

from __future__ import annotations

import csv
import inspect
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from dagrad.errors import ArgumentError, DagradError, OptionalDependencyError


class TrainingWarning(UserWarning):
    """Something noticed during training that does not stop it (a monitored value missing from the logs)."""


class Callback:
    """Base class: every hook does nothing; override the ones you need."""

    trainer: Any = None
    params: dict = {}

    def set_trainer(self, trainer: Any) -> None:
        self.trainer = trainer

    def set_params(self, params: dict) -> None:
        """Facts about the run: 'epochs', 'steps' (batches per epoch, None if unknown), 'verbose'."""
        self.params = params

    @property
    def model(self) -> Any:
        return None if self.trainer is None else self.trainer.model

    def on_train_begin(self, logs: dict | None = None) -> None: ...

    def on_train_end(self, logs: dict | None = None) -> None: ...

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...

    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None: ...


def _overrides(cb: Callback, hook: str) -> bool:
    return getattr(type(cb), hook) is not getattr(Callback, hook)


class CallbackList:
    """Calls each hook on every callback in order; per-batch hooks only on the callbacks that define them."""

    def __init__(self, callbacks: Iterable[Callback] = (), trainer: Any = None) -> None:
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise ArgumentError(f"callbacks: expected Callback objects, received {type(cb).__name__}")
            if trainer is not None:
                cb.set_trainer(trainer)
        self._batch_begin = [cb for cb in self.callbacks if _overrides(cb, "on_batch_begin")]
        self._batch_end = [cb for cb in self.callbacks if _overrides(cb, "on_batch_end")]

    @property
    def wants_batch_logs(self) -> bool:
        """Whether any callback reads per-batch logs (the Trainer skips building them otherwise)."""
        return bool(self._batch_end)

    def set_params(self, params: dict) -> None:
        for cb in self.callbacks:
            cb.set_params(params)

    def on_train_begin(self, logs: dict | None = None) -> None:
        for cb in self.callbacks:
            cb.on_train_begin(logs)

    def on_train_end(self, logs: dict | None = None) -> None:
        for cb in self.callbacks:
            cb.on_train_end(logs)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        for cb in self._batch_begin:
            cb.on_batch_begin(batch, logs)

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        for cb in self._batch_end:
            cb.on_batch_end(batch, logs)

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self) -> int:
        return len(self.callbacks)


class History(Callback):
    """Records every epoch's logs: history['loss'][i] is the loss of the i-th epoch trained in this run."""

    def __init__(self) -> None:
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={sorted(self.history)})"


def _mode(who: str, mode: str, monitor: str) -> bool:
    """True when larger is better: 'max', or 'auto' with an accuracy-like name."""
    if mode not in ("auto", "min", "max"):
        raise ArgumentError(f"{who}: expected mode to be 'auto', 'min' or 'max', received mode={mode!r}")
    if mode == "auto":
        return monitor.endswith(("acc", "accuracy", "auc"))
    return mode == "max"


def _monitored(who: str, monitor: str, logs: dict | None) -> float | None:
    value = (logs or {}).get(monitor)
    if value is None:
        warnings.warn(
            f"{who}: expected '{monitor}' in the epoch logs, received only {sorted(logs or {})}; pass a val_loader "
            f"to fit() or choose another monitor",
            TrainingWarning,
            stacklevel=3,
        )
    return value


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by more than min_delta for `patience` epochs.

    With restore_best_weights (the default) it keeps a copy of the model's state_dict arrays from the best epoch
    and loads them back when training ends, so the model backtracks to the best parameters seen.
    """

    def __init__(
        self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0, mode: str = "auto",
        baseline: float | None = None, restore_best_weights: bool = True, start_from_epoch: int = 0,
        verbose: int = 0,
    ) -> None:  # fmt: skip
        if patience < 0:
            raise ArgumentError(f"EarlyStopping: expected patience >= 0, received patience={patience}")
        self.monitor = monitor
        self.greater = _mode("EarlyStopping", mode, monitor)
        self.min_delta = abs(min_delta)
        self.patience = patience
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.verbose = verbose
        self.on_train_begin()

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.wait = 0
        self.stopped_epoch: int | None = None
        self.best = -math.inf if self.greater else math.inf
        self.best_epoch: int | None = None
        self.best_weights: dict | None = None

    def _improved(self, value: float, reference: float) -> bool:
        if self.greater:
            return value - self.min_delta > reference
        return value + self.min_delta < reference

    def _snapshot(self) -> dict:
        return {k: v.data.copy() for k, v in self.model.state_dict().items()}

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = _monitored("EarlyStopping", self.monitor, logs)
        if value is None or epoch < self.start_from_epoch:
            return
        self.wait += 1
        if self._improved(value, self.best):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = self._snapshot()
            if self.baseline is None or self._improved(value, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.stopped_epoch is not None and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.load_state_dict(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model (and optimizer and scheduler) through dagrad.io.save_checkpoint at the end of epochs.

    `filepath` is a directory (an existing one, or a string ending in '/') or a prefix pattern formatted with the
    epoch number (1-based) and the epoch logs, e.g. 'ckpt/lenet-{epoch:02d}-{val_loss:.3f}'. In a directory the
    files are named 'best' with save_best_only, else 'epoch_{epoch:03d}'. With save_best_only a checkpoint is
    written only when `monitor` improves. The checkpoint's 'epoch' is the number of epochs completed and its extra holds
    {'logs': the epoch logs}, so fit(..., initial_epoch=load_checkpoint(path, model, optimizer)['epoch']) resumes.
    """

    def __init__(
        self, filepath: str | os.PathLike, monitor: str = "val_loss", save_best_only: bool = False,
        mode: str = "auto", save_freq: int = 1, save_optimizer: bool = True, verbose: int = 0,
    ) -> None:  # fmt: skip
        if save_freq < 1:
            raise ArgumentError(f"ModelCheckpoint: expected save_freq >= 1 (epochs), received save_freq={save_freq}")
        path = os.fspath(filepath)
        if os.path.isdir(path) or path.endswith(("/", os.sep)):
            path = os.path.join(path, "best" if save_best_only else "epoch_{epoch:03d}")
        self.filepath = path
        self.monitor = monitor
        self.greater = _mode("ModelCheckpoint", mode, monitor)
        self.save_best_only = save_best_only
        self.save_freq = save_freq
        self.save_optimizer = save_optimizer
        self.verbose = verbose
        self.best = -math.inf if self.greater else math.inf
        self.last_path: str | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        try:
            from dagrad.io import save_checkpoint
        except ImportError as e:
            raise DagradError(
                f"ModelCheckpoint: expected dagrad.io.save_checkpoint to write checkpoints, received {e!r}"
            ) from e
        self._save = save_checkpoint

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        if (epoch + 1) % self.save_freq:
            return
        if self.save_best_only:
            value = _monitored("ModelCheckpoint", self.monitor, logs)
            if value is None or not (value > self.best if self.greater else value < self.best):
                return
            self.best = value
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except (KeyError, ValueError, IndexError) as e:
            raise ArgumentError(
                f"ModelCheckpoint: expected filepath fields among 'epoch' and {sorted(logs)}, received "
                f"{self.filepath!r} ({e!r})"
            ) from e
        trainer = self.trainer
        self._save(
            path, trainer.model, optimizer=trainer.optimizer if self.save_optimizer else None,
            scheduler=trainer.scheduler if self.save_optimizer else None, epoch=epoch + 1,
            extra={"logs": {k: float(v) for k, v in logs.items()}},
        )  # fmt: skip
        self.last_path = path
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved checkpoint {path}")


def _takes_lr(fn: Callable) -> bool:
    """Whether a schedule function takes (epoch, lr) rather than (epoch)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


class LearningRateScheduler(Callback):
    """Set the learning rate each epoch from schedule(epoch) or schedule(epoch, lr) (Keras style), or step a
    dagrad.optim.lr_scheduler object at the end of every epoch."""

    def __init__(self, schedule: Callable | Any, verbose: int = 0) -> None:
        self.is_scheduler = hasattr(schedule, "step") and hasattr(schedule, "get_last_lr")
        if not self.is_scheduler and not callable(schedule):
            raise ArgumentError(
                f"LearningRateScheduler: expected a function epoch -> lr or a dagrad scheduler, received "
                f"{type(schedule).__name__}"
            )
        self.schedule = schedule
        self.verbose = verbose
        self._with_lr = not self.is_scheduler and _takes_lr(schedule)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if self.is_scheduler:
            return
        groups = self.trainer.optimizer.param_groups
        lr = self.schedule(epoch, groups[0]["lr"]) if self._with_lr else self.schedule(epoch)
        if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not math.isfinite(lr):
            raise ArgumentError(f"LearningRateScheduler: expected the schedule to return a float, received {lr!r}")
        for g in groups:
            g["lr"] = float(lr)
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.is_scheduler:
            self.schedule.step()


class CSVLogger(Callback):
    """Write one row per epoch ('epoch' then the log keys of the first epoch, sorted) to a CSV file, flushed
    after every row so a crash loses at most the current epoch. append=True continues an existing file."""

    def __init__(self, filename: str | os.PathLike, separator: str = ",", append: bool = False) -> None:
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = append
        self.keys: list[str] | None = None
        self._file = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        has_rows = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self._header = not has_rows
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._writer = None
        self.keys = None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        if self._writer is None:
            self.keys = sorted(logs)
            self._writer = csv.DictWriter(self._file, ["epoch", *self.keys], delimiter=self.separator)
            if self._header:
                self._writer.writeheader()
        row = {"epoch": epoch, **{k: logs.get(k, "NA") for k in self.keys}}
        self._writer.writerow(row)
        self._file.flush()

    def on_train_end(self, logs: dict | None = None) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class TensorBoard(Callback):
    """Write the epoch logs (and, every histogram_freq epochs, weight histograms) as TensorBoard event files
    through tensorboardX (the optional extra `dagrad[tensorboard]`). 'loss' goes to the tag 'loss/train' and
    'val_loss' to 'loss/val'; update_freq='batch' also writes the running batch loss."""

    def __init__(self, log_dir: str | os.PathLike = "runs", histogram_freq: int = 0, update_freq: str = "epoch"):
        try:
            from tensorboardX import SummaryWriter
        except ImportError as e:
            raise OptionalDependencyError(
                "TensorBoard: expected the tensorboardX package (install the extra: pip install "
                f"'dagrad[tensorboard]'), received {e!r}"
            ) from e
        if update_freq not in ("epoch", "batch"):
            raise ArgumentError(
                f"TensorBoard: expected update_freq to be 'epoch' or 'batch', received update_freq={update_freq!r}"
            )
        self._writer_cls = SummaryWriter
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.update_freq = update_freq
        self.writer = None
        self._step = 0

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self.writer is None:
            self.writer = self._writer_cls(self.log_dir)

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._step += 1
        if self.update_freq == "batch" and logs:
            self.writer.add_scalar("batch/loss", logs["loss"], self._step)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for k, v in (logs or {}).items():
            if k.startswith("val_"):
                tag = f"{k[4:]}/val"
            elif "/" in k or k == "lr":
                tag = k
            else:
                tag = f"{k}/train"
            self.writer.add_scalar(tag, v, epoch + 1)
        if self.histogram_freq and (epoch + 1) % self.histogram_freq == 0:
            for name, p in self.model.named_parameters():
                self.writer.add_histogram(name, p.detach().cpu().numpy(), epoch + 1)
        self.writer.flush()

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def _format_logs(logs: dict, skip: tuple[str, ...] = ("size",)) -> list[str]:
    """'name: value' for the scalar logs a person reads (diagnostics with '/' in their key are left out)."""
    out = []
    for k, v in logs.items():
        if k in skip or "/" in k:
            continue
        out.append(f"{k}: {v:.4g}" if k == "lr" else f"{k}: {v:.4f}")
    return out


class ProgressBar(Callback):
    """Per-epoch progress: a tqdm bar with loss, metrics and images/s when verbose=1 on a terminal; one plain
    line per epoch when verbose=2 or the output is not a terminal."""

    def __init__(self, verbose: int = 1, file: Any = None, refresh_s: float = 0.2) -> None:
        self.verbose = verbose
        self.file = file
        self.refresh_s = refresh_s
        self._bar = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        out = self.file if self.file is not None else sys.stderr
        self.use_bar = self.verbose == 1 and hasattr(out, "isatty") and out.isatty()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = self._last = time.perf_counter()
        self._seen = 0
        self._epoch = epoch
        if self.use_bar:
            from tqdm.auto import tqdm

            epochs = self.params.get("epochs", "?")
            self._bar = tqdm(
                total=self.params.get("steps"), desc=f"Epoch {epoch + 1}/{epochs}", unit="batch",
                file=self.file, leave=True, dynamic_ncols=True,
            )  # fmt: skip

    def _rate(self) -> float:
        return self._seen / max(time.perf_counter() - self._start, 1e-9)

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        self._seen += logs.get("size", 0)
        if self._bar is None:
            return
        self._bar.update(1)
        now = time.perf_counter()
        if now - self._last >= self.refresh_s:
            self._last = now
            self._bar.set_postfix_str(" - ".join([*_format_logs(logs), f"{self._rate():.0f} img/s"]), refresh=False)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        parts = [*_format_logs(logs or {}), f"{self._rate():.0f} img/s"]
        if self._bar is not None:
            self._bar.set_postfix_str(" - ".join(parts), refresh=False)
            self._bar.close()
            self._bar = None
            return
        elapsed = time.perf_counter() - self._start
        epochs = self.params.get("epochs", "?")
        line = " - ".join([f"Epoch {epoch + 1}/{epochs}", f"{elapsed:.1f}s", *parts])
        print(line, file=self.file if self.file is not None else sys.stdout, flush=True)

    def on_train_end(self, logs: dict | None = None) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


__all__ = [
    "Callback", "CallbackList", "History", "EarlyStopping", "ModelCheckpoint", "LearningRateScheduler",
    "CSVLogger", "TensorBoard", "ProgressBar", "TrainingWarning", "OptionalDependencyError",
]  # fmt: skip
