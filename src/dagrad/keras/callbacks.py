"""Keras callbacks: dagrad.train's callbacks, with EarlyStopping and ModelCheckpoint taking Keras' defaults.

A callback's `self.model` is the Keras model; setting `self.model.stop_training = True` ends fit after the current
batch, as in Keras. ModelCheckpoint writes dagrad checkpoints (safetensors + JSON, see dagrad.io).
"""

from __future__ import annotations

import os

from dagrad.errors import ArgumentError
from dagrad.train import callbacks as _cb
from dagrad.train.callbacks import Callback, CSVLogger, History, LearningRateScheduler, TensorBoard


class EarlyStopping(_cb.EarlyStopping):
    """Stop when `monitor` has stopped improving for `patience` epochs (Keras' arguments and defaults: the best
    weights are restored only with restore_best_weights=True)."""

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ) -> None:
        super().__init__(monitor, min_delta, patience, mode, baseline, restore_best_weights, start_from_epoch, verbose)


class ModelCheckpoint(_cb.ModelCheckpoint):
    """Save the model at the end of each epoch (or when `monitor` improves, with save_best_only), Keras' argument
    order; save_freq is 'epoch' or a number of epochs. save_weights_only leaves the optimizer state out."""

    def __init__(
        self,
        filepath: str | os.PathLike,
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        save_freq: str | int = "epoch",
    ) -> None:
        if save_freq == "epoch":
            save_freq = 1
        elif isinstance(save_freq, bool) or not isinstance(save_freq, int):
            raise ArgumentError(
                f"ModelCheckpoint: expected save_freq 'epoch' or a number of epochs, received save_freq={save_freq!r}"
            )
        super().__init__(filepath, monitor, save_best_only, mode, save_freq, not save_weights_only, verbose)


__all__ = [
    "Callback",
    "History",
    "EarlyStopping",
    "ModelCheckpoint",
    "LearningRateScheduler",
    "CSVLogger",
    "TensorBoard",
]
