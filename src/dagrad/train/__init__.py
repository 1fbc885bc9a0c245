"""Training: the fit loop (Trainer, fit), metrics, callbacks, History, gradient diagnostics and ensembles."""

from dagrad.train import callbacks, metrics
from dagrad.train.callbacks import (
    Callback,
    CallbackList,
    CSVLogger,
    EarlyStopping,
    History,
    LearningRateScheduler,
    ModelCheckpoint,
    OptionalDependencyError,
    ProgressBar,
    TensorBoard,
    TrainingWarning,
)  # fmt: skip
from dagrad.train.ensemble import Ensemble, bagging
from dagrad.train.metrics import Accuracy, Metric, TopKAccuracy, accuracy, top_k_accuracy
from dagrad.train.monitor import GradientMonitor, VanishingGradientWarning
from dagrad.train.trainer import Trainer, fit

__all__ = [
    "Trainer", "fit", "Callback", "CallbackList", "History", "EarlyStopping", "ModelCheckpoint",
    "LearningRateScheduler", "CSVLogger", "TensorBoard", "ProgressBar", "GradientMonitor", "Ensemble", "bagging",
    "Metric", "Accuracy", "TopKAccuracy", "accuracy", "top_k_accuracy", "TrainingWarning",
    "VanishingGradientWarning", "OptionalDependencyError", "callbacks", "metrics",
]  # fmt: skip
