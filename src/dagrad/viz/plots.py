"""Training curves: plot_history draws a History's per-epoch values with matplotlib (the 'viz' extra)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

from dagrad.errors import ArgumentError, OptionalDependencyError

__all__ = ["OptionalDependencyError", "plot_history"]


def _curves(history: Any) -> dict[str, list[float]]:
    """{key: per-epoch values} from a History (its .history), or a dict of lists; non-numeric keys are dropped."""
    values = getattr(history, "history", history)
    if not isinstance(values, Mapping):
        raise ArgumentError(
            f"plot_history: expected a History or a dict of per-epoch lists, received {type(history).__name__}"
        )
    curves = {}
    for key, seq in values.items():
        if isinstance(seq, Sequence) and seq and all(isinstance(v, (int, float)) for v in seq):
            curves[str(key)] = [float(v) for v in seq]
    return curves


def plot_history(
    history: Any, path: str | os.PathLike | None = None, keys: Sequence[str] | None = None, title: str | None = None,
    val_label: str = "validation",
) -> Any:  # fmt: skip
    """One panel per quantity (loss, accuracy, ..., lr last), training and 'val_' curves side by side, by epoch.

    history: a dagrad.train.History (or Keras-like object with .history) or a dict {key: per-epoch values}.
    keys: the quantities to draw (default: all; 'val_x' goes with 'x'). path: where to save the figure (PNG,
    SVG or PDF by its suffix). val_label: the legend's name for the 'val_' curves. Returns the matplotlib Figure;
    no window is opened (no pyplot).
    """
    try:
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError as e:
        raise OptionalDependencyError(
            f"plot_history: expected matplotlib (pip install 'dagrad[viz]'), received {e!r}"
        ) from e
    curves = _curves(history)
    bases = list(dict.fromkeys(k.removeprefix("val_") for k in curves))
    if keys is not None:
        unknown = [k for k in keys if k not in bases]
        if unknown:
            raise ArgumentError(f"plot_history: expected keys among {bases}, received {unknown}")
        bases = list(keys)
    bases.sort(key=lambda k: (k != "loss", k == "lr"))
    if not bases:
        raise ArgumentError(f"plot_history: expected at least one numeric per-epoch series, received {list(curves)}")
    ncols = min(len(bases), 3)
    nrows = math.ceil(len(bases) / ncols)
    fig = Figure(figsize=(4.5 * ncols, 3.4 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, base in zip(axes, bases):
        for key, label in ((base, "train"), (f"val_{base}", val_label)):
            if key in curves:
                ys = curves[key]
                ax.plot(range(1, len(ys) + 1), ys, marker="o" if len(ys) < 30 else None, label=label)
        if base == "lr" and min(curves[base]) > 0 and max(curves[base]) > 10 * min(curves[base]):
            ax.set_yscale("log")
        ax.set_title(base.replace("_", " "))
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        if base != "lr":
            ax.legend()
    for ax in axes[len(bases) :]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    if path is not None:
        fig.savefig(os.fspath(path), dpi=100)
    return fig
