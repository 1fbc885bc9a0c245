"""What a convolutional network has learned: its first-layer filters as images, and activation maximisation.

show_filters tiles a Conv2d's weights into one image (each filter scaled to [0, 1] on its own, so a filter's
pattern shows whatever its magnitude); activation_maximization finds, by gradient ascent on the input, an input
that makes one channel (or unit) of one layer respond strongly: the pattern that unit looks for.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from dagrad.autograd.engine import grad as autograd_grad
from dagrad.autograd.tensor import Tensor, _make
from dagrad.backend import CPU, device_of, get_default_dtype, to_device
from dagrad.errors import ArgumentError, OptionalDependencyError
from dagrad.optim.adam import Adam

__all__ = ["activation_maximization", "filter_grid", "show_filters"]


def _weights(conv_layer: Any) -> np.ndarray:
    """The (out_channels, in_channels, kH, kW) weights of a Conv2d (or a 4-D Tensor or array) as NumPy."""
    w = getattr(conv_layer, "weight", conv_layer)
    w = w.data if isinstance(w, Tensor) else w
    if not hasattr(w, "ndim") or w.ndim != 4:
        shape = getattr(w, "shape", None)
        raise ArgumentError(
            "show_filters: expected a Conv2d layer or 4-D weights (out_channels, in_channels, kH, kW), received "
            f"{type(conv_layer).__name__}" + ("" if shape is None else f" with weights of shape {tuple(shape)}")
        )
    return np.asarray(to_device(w, CPU), dtype=np.float64)


def filter_grid(tiles: np.ndarray, ncols: int, pad: int = 1, fill: float = 1.0) -> np.ndarray:
    """Lay tiles (n, h, w) or (n, h, w, 3) out in rows of ncols, `pad` pixels of `fill` between them."""
    n, h, w = tiles.shape[:3]
    nrows = math.ceil(n / ncols)
    extra = tiles.shape[3:]
    canvas = np.full((nrows * ncols, h + pad, w + pad, *extra), fill, dtype=tiles.dtype)
    canvas[:n, :h, :w] = tiles
    canvas = canvas.reshape(nrows, ncols, h + pad, w + pad, *extra).swapaxes(1, 2)
    grid = canvas.reshape(nrows * (h + pad), ncols * (w + pad), *extra)
    return grid[: grid.shape[0] - pad, : grid.shape[1] - pad]


def show_filters(conv_layer: Any, path: str | os.PathLike | None = None, ncols: int | None = None) -> np.ndarray:
    """The filters of a first convolution as one image grid with values in [0, 1].

    conv_layer: a Conv2d (or its 4-D weight) of shape (C_out, C_in, kH, kW). With C_in == 3 each filter is one RGB
    tile and the grid is (H, W, 3); otherwise every (filter, input channel) slice is a grey tile, one filter per
    row when C_in > 1, and the grid is (H, W). Each tile is scaled to [0, 1] by its own min and max (a constant
    tile is 0.5); tiles are one pixel apart on white. ncols: tiles per row (default: about square for C_in 1
    and 3, else C_in). path: also save the grid as a picture with matplotlib (the 'viz' extra).
    """
    w = _weights(conv_layer)
    c_out, c_in = w.shape[:2]
    if c_in == 3:
        tiles = w.transpose(0, 2, 3, 1)
    else:
        tiles = w.reshape(c_out * c_in, *w.shape[2:])
    if ncols is None:
        ncols = c_in if c_in not in (1, 3) else math.ceil(math.sqrt(len(tiles)))
    if isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1:
        raise ArgumentError(f"show_filters: expected ncols to be a positive int, received ncols={ncols!r}")
    axes = tuple(range(1, tiles.ndim))
    lo, hi = tiles.min(axis=axes, keepdims=True), tiles.max(axis=axes, keepdims=True)
    span = hi - lo
    tiles = np.where(span > 0, (tiles - lo) / np.where(span > 0, span, 1.0), 0.5)
    grid = filter_grid(tiles, min(ncols, len(tiles)))
    if path is not None:
        per_row = "" if c_in in (1, 3) else f", one row of {c_in} input channels each"
        _save_image(grid, path, f"{c_out} filters of {w.shape[2]}x{w.shape[3]}{per_row}")
    return grid


def _save_image(grid: np.ndarray, path: str | os.PathLike, title: str) -> None:
    try:
        from matplotlib.figure import Figure
    except ImportError as e:
        raise OptionalDependencyError(
            f"show_filters: expected matplotlib (pip install 'dagrad[viz]'), received {e!r}"
        ) from e
    height, width = grid.shape[:2]
    scale = 6.0 / max(height, width)
    fig = Figure(figsize=(max(2.0, width * scale), max(2.0, height * scale) + 0.4), layout="constrained")
    ax = fig.subplots()
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(title)
    fig.savefig(os.fspath(path), dpi=100)


def _find_layer(model: Any, layer: Any) -> Any:
    named = dict(model.named_modules())
    if isinstance(layer, str):
        if layer not in named:
            raise ArgumentError(
                f"activation_maximization: expected layer to name a sub-module of the model, one of "
                f"{[n for n in named if n][:20]}, received layer={layer!r}"
            )
        return named[layer]
    if not any(m is layer for m in named.values()):
        raise ArgumentError(
            f"activation_maximization: expected layer to be a sub-module of the model or its name, received a "
            f"{type(layer).__name__} that is not part of it"
        )
    return layer


def _default_shape(model: Any) -> tuple[int, ...]:
    """(1, in_features) when the model starts with a Linear; otherwise input_shape must be given."""
    for m in model.modules():
        w = getattr(m, "weight", None)
        if isinstance(w, Tensor):
            if w.ndim == 2 and hasattr(m, "in_features"):
                return (1, int(m.in_features))
            break
    raise ArgumentError(
        "activation_maximization: expected input_shape, e.g. (1, 3, 32, 32), for a model that does not start "
        "with a Linear layer; received input_shape=None"
    )


def activation_maximization(
    model: Any, layer: Any, unit: int, steps: int = 100, lr: float = 0.1, input_shape: tuple[int, ...] | None = None,
    weight_decay: float = 1e-4, seed: int = 0,
) -> np.ndarray:  # fmt: skip
    """An input that makes channel (or feature) `unit` of sub-module `layer` respond strongly.

    Starting from small noise (normal, std 0.01, from `seed`), takes `steps` Adam steps of size `lr` up the
    gradient of the mean of layer's output[:, unit] (seen through a forward hook) minus weight_decay * ||x||^2 / 2
    (which keeps the input bounded). The model runs in eval mode (restored afterwards) and its parameters' .grad
    are left untouched. layer: a sub-module or its name in model.named_modules(). input_shape: the whole input,
    batch included, e.g. (1, 1, 28, 28); default (1, in_features) for a model that starts with a Linear.
    Returns the optimised input, an array of input_shape.
    """
    target = _find_layer(model, layer)
    shape = tuple(input_shape) if input_shape is not None else _default_shape(model)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ArgumentError(f"activation_maximization: expected steps to be an int >= 0, received steps={steps!r}")
    first = next(iter(model.parameters()), None)
    x0 = np.random.default_rng(seed).normal(0.0, 0.01, shape).astype(get_default_dtype())
    x = _make(x0 if first is None else to_device(x0, device_of(first.data)), True)
    seen: list[Tensor] = []
    handle = target.register_forward_hook(lambda module, args, out: seen.append(out))
    training = model.training
    model.eval()
    try:
        opt = Adam([x], lr=lr, weight_decay=weight_decay, maximize=True)
        for _ in range(steps):
            seen.clear()
            model(x)
            objective = _unit_mean(seen, unit)
            (x.grad,) = autograd_grad(objective, [x])
            opt.step()
    finally:
        handle.remove()
        model.train(training)
    return to_device(x.data, CPU)


def _unit_mean(outputs: list[Tensor], unit: int) -> Tensor:
    """Mean of output[:, unit] of the layer's (first) output in this forward."""
    if not outputs:
        raise ArgumentError("activation_maximization: expected the layer to run in the model's forward, it did not")
    out = outputs[0]
    if not isinstance(out, Tensor) or out.ndim < 2 or not 0 <= unit < out.shape[1]:
        shape = getattr(out, "shape", type(out).__name__)
        raise ArgumentError(
            f"activation_maximization: expected unit in [0, channels) of the layer's output (N, channels, ...), "
            f"received unit={unit!r} for an output of shape {shape}"
        )
    return out[:, unit].mean()
