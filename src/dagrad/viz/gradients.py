"""gradient_norms: per-layer gradient norms, from a training History or from a model right after backward.

Vanishing gradients show as the first layers' norms falling orders of magnitude below the last layers'; exploding
ones as norms growing epoch after epoch. The per-epoch numbers come from the GradientMonitor callback of
dagrad.train, which logs 'grad_norm/<parameter name>' (the mean over the epoch's batches of the gradient's
2-norm); the plot draws one curve per parameter on a log scale.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from dagrad.errors import ArgumentError, OptionalDependencyError

__all__ = ["gradient_norms"]

_PREFIX = "grad_norm/"


def _from_history(values: Mapping) -> dict[str, np.ndarray]:
    keys = [k for k in values if isinstance(k, str) and k.startswith(_PREFIX)]
    norms = {k[len(_PREFIX) :]: np.asarray(values[k], dtype=np.float64) for k in keys}
    if not norms:
        raise ArgumentError(
            f"gradient_norms: expected a History with '{_PREFIX}<name>' entries (train with the GradientMonitor "
            f"callback), received keys {sorted(values)}"
        )
    return norms


def _from_module(model: Any) -> dict[str, np.ndarray]:
    norms = {}
    for name, p in model.named_parameters():
        if p.grad is not None:
            flat = p.grad.data.reshape(-1)
            norms[name] = np.array([math.sqrt(float(abs((flat * flat).sum())))])
    if not norms:
        raise ArgumentError(
            "gradient_norms: expected a model whose parameters have gradients (call loss.backward() first), "
            "received one where every .grad is None"
        )
    return norms


def gradient_norms(model_or_history: Any, path: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """{parameter name: 1-D array of gradient 2-norms}, in the model's parameter order.

    model_or_history: a dagrad.train History (or its .history dict) filled by GradientMonitor — one value per
    monitored epoch (GradientMonitor(every=k) monitors every k-th epoch) — or a Module right after backward — one
    value each, its current .grad (parameters without a gradient are left out). path: also draw the norms with
    matplotlib (the 'viz' extra): per-parameter curves by epoch on a log scale, or bars for a single value each.
    """
    if hasattr(model_or_history, "named_parameters"):
        norms = _from_module(model_or_history)
    else:
        values = getattr(model_or_history, "history", model_or_history)
        if not isinstance(values, Mapping):
            raise ArgumentError(
                "gradient_norms: expected a Module, a History or a dict of per-epoch lists, received "
                f"{type(model_or_history).__name__}"
            )
        norms = _from_history(values)
    if path is not None:
        _plot(norms, path)
    return norms


def _plot(norms: dict[str, np.ndarray], path: str | os.PathLike) -> None:
    try:
        from matplotlib.figure import Figure
    except ImportError as e:
        raise OptionalDependencyError(
            f"gradient_norms: expected matplotlib (pip install 'dagrad[viz]'), received {e!r}"
        ) from e
    fig = Figure(figsize=(7.0, 4.0), layout="constrained")
    ax = fig.subplots()
    positive = all((v > 0).all() for v in norms.values())
    if max(len(v) for v in norms.values()) == 1:
        names = list(norms)
        ax.barh(range(len(names)), [norms[n][0] for n in names])
        ax.set_yticks(range(len(names)), names)
        ax.invert_yaxis()
        ax.set_xlabel("gradient norm")
        if positive:
            ax.set_xscale("log")
    else:
        for name, v in norms.items():
            ax.plot(range(1, len(v) + 1), v, marker="o" if len(v) < 30 else None, label=name)
        ax.set_xlabel("epoch")
        ax.set_ylabel("gradient norm")
        if positive:
            ax.set_yscale("log")
        ax.legend(fontsize="small", ncols=max(1, len(norms) // 12))
    ax.grid(True, alpha=0.3)
    ax.set_title("gradient norm per parameter")
    fig.savefig(os.fspath(path), dpi=100)
