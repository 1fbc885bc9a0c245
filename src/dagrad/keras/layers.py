"""Keras layers on dagrad: each layer is a dagrad.nn.Module that creates its weights from the first input shape.

The lifecycle is Keras': __init__ validates the arguments, build(input_shape) creates the weights (input_shape
includes the batch dim, None), call(x) computes. Data is channels-last as in Keras, images (N, H, W, C), and weights
keep Keras' layouts (Dense kernel (in, units), Conv2D kernel (kh, kw, in, filters), BatchNormalization [gamma, beta,
moving_mean, moving_variance]), so get_weights/set_weights exchange arrays with Keras models unchanged.

Convolutions and pooling run dagrad's NCHW kernels through transposed views: the (N, C, H, W) result of a conv is
handed on as an (N, H, W, C) view of the same memory, which the next conv, pool or batch norm views back as a
contiguous NCHW array, so a stack of them copies nothing for the layout. 'same' padding is TensorFlow's: the total
padding max((ceil(n / s) - 1) * s + k - n, 0) split with the extra pixel after, and average pooling over 'same'
windows divides by the number of real pixels in each window.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy

from dagrad import backend
from dagrad.autograd.grad_mode import no_grad
from dagrad.autograd.tensor import Tensor
from dagrad.creation import as_tensor, from_numpy
from dagrad.errors import ArgumentError, DagradError, ShapeError
from dagrad.keras import activations, initializers
from dagrad.nn.module import Module
from dagrad.nn.parameter import Parameter
from dagrad.ops import conv as _conv
from dagrad.ops import pool as _pool
from dagrad.ops.dropout import dropout
from dagrad.ops.linear import linear
from dagrad.ops.norm import batch_norm
from dagrad.ops.shape import pad

Shape = tuple  # a shape with the batch dim first; unknown sizes are None

_NAME_COUNTS: dict[str, int] = {}


def unique_name(base: str) -> str:
    """Keras' automatic names: 'dense', then 'dense_1', 'dense_2', ... (reset by utils.clear_session)."""
    n = _NAME_COUNTS.get(base, 0)
    _NAME_COUNTS[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def snake_case(name: str) -> str:
    """'MaxPooling2D' -> 'max_pooling2d', 'BatchNormalization' -> 'batch_normalization' (Keras' rule)."""
    name = re.sub("(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def to_tensor(x: Any) -> Tensor:
    """x as a Tensor; NumPy arrays and lists of any numeric dtype become dagrad's default float (float32)."""
    if isinstance(x, Tensor):
        return x
    arr = numpy.asarray(x)
    return from_numpy(arr.astype(backend.get_default_dtype(), copy=False)) if arr.dtype.kind in "biuf" else as_tensor(x)


def _autocast(x: Tensor, weights: list[Tensor]) -> Tensor:
    """Floating inputs in the dtype of the layer's weights (Keras casts inputs to the layer's compute dtype)."""
    if weights and x.dtype.kind == "f" and x.dtype != weights[0].dtype:
        return x.to(weights[0].dtype)
    return x


def _ints(layer: str, arg: str, v: Any, n: int) -> tuple[int, ...]:
    """An int or a sequence of n positive ints as an n-tuple."""
    vals = (v,) * n if isinstance(v, (int, numpy.integer)) and not isinstance(v, bool) else v
    if (
        not isinstance(vals, (tuple, list))
        or len(vals) != n
        or any(isinstance(i, bool) or not isinstance(i, (int, numpy.integer)) or i < 1 for i in vals)
    ):
        raise ArgumentError(f"{layer}: expected {arg} to be a positive int or {n} positive ints, received {arg}={v!r}")
    return tuple(int(i) for i in vals)


def _choice(layer: str, arg: str, v: Any, options: Sequence[str]) -> str:
    key = v.lower() if isinstance(v, str) else v
    if key not in options:
        raise ArgumentError(f"{layer}: expected {arg} to be one of {list(options)}, received {arg}={v!r}")
    return key


def _data_format(layer: str, v: str | None) -> str:
    return "channels_last" if v is None else _choice(layer, "data_format", v, ("channels_last", "channels_first"))


class InputSpec:
    """What a built layer accepts: an exact rank (ndim), a least rank (min_ndim), sizes at given axes."""

    def __init__(self, ndim: int | None = None, min_ndim: int | None = None, axes: dict | None = None) -> None:
        self.ndim, self.min_ndim, self.axes = ndim, min_ndim, dict(axes or {})

    def check(self, layer: Layer, shape: Shape) -> None:
        rank = len(shape)
        if (self.ndim is not None and rank != self.ndim) or (self.min_ndim is not None and rank < self.min_ndim):
            want = f"rank {self.ndim}" if self.ndim is not None else f"rank >= {self.min_ndim}"
            raise ShapeError(f"{layer._who()}: expected input of {want}, received input of shape {tuple(shape)}")
        for axis, size in self.axes.items():
            if shape[axis] is not None and shape[axis] != size:
                raise ShapeError(
                    f"{layer._who()}: expected axis {axis} of the input to have size {size}, received input of "
                    f"shape {tuple(shape)}"
                )


class Layer(Module):
    """Base of the Keras layers: a name, lazy build from the input shape, trainable flag, weights as arrays.

    input_shape (without the batch dim) may be given to the first layer of a Sequential model, which then builds
    at once. Weights are made by add_weight: trainable ones are dagrad Parameters, non-trainable ones (batch-norm
    moving statistics) buffers; both are in state_dict and in get_weights() (trainable ones first).
    """

    input_spec: InputSpec | None = None
    rank_spec: InputSpec | None = None  # checked on the shape before build

    def __init__(
        self, name: str | None = None, trainable: bool = True, input_shape: Sequence[int] | None = None, **kwargs: Any
    ) -> None:
        super().__init__()
        if kwargs:
            raise ArgumentError(f"{type(self).__name__}: unrecognized keyword arguments {sorted(kwargs)}")
        if name is not None and not isinstance(name, str):
            raise ArgumentError(f"{type(self).__name__}: expected name to be a string, received {name!r}")
        self.name = name or unique_name(snake_case(type(self).__name__))
        self.built = False
        self._trainable = bool(trainable)
        self._batch_input_shape = None if input_shape is None else (None, *_shape("input_shape", input_shape))
        self.input_shape: Shape | None = None
        self.output_shape: Shape | None = None

    def _who(self) -> str:
        return f'{type(self).__name__} "{self.name}"'

    # ---- building ---------------------------------------------------------------------------------------------
    def build(self, input_shape: Shape) -> None:
        """Create the weights for inputs of `input_shape` (batch dim first); layers without weights need none."""

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)

    def build_from(self, input_shape: Shape) -> Shape:
        """Build for `input_shape` unless built (then check it fits); returns the output shape."""
        shape = tuple(input_shape)
        if self.built:
            if self.input_spec is not None:
                self.input_spec.check(self, shape)
            return self.compute_output_shape(shape)
        if self.rank_spec is not None:
            self.rank_spec.check(self, shape)
        self.build(shape)
        self.input_shape = shape
        self.output_shape = self.compute_output_shape(shape)
        self.built = True
        self.trainable = self._trainable
        return self.output_shape

    def add_weight(
        self, name: str, shape: Sequence[int], initializer: Any = "glorot_uniform", trainable: bool = True
    ) -> Tensor:
        """A new weight of `shape` drawn by `initializer`, registered as attribute `name`."""
        values = initializers.get(initializer, self._who())(tuple(shape), backend.get_default_dtype())
        if tuple(values.shape) != tuple(shape):
            raise ShapeError(
                f"{self._who()}: expected the initializer of {name!r} to return shape {tuple(shape)}, received "
                f"{tuple(values.shape)}"
            )
        if trainable:
            setattr(self, name, Parameter(values))
        else:
            self.__dict__.pop(name, None)
            self.register_buffer(name, from_numpy(values))
        return getattr(self, name)

    # ---- calling -------------------------------------------------------------------------------------------------
    def call(self, x: Tensor) -> Tensor:
        raise DagradError(f"{type(self).__name__} defines no call()")

    def forward(self, x: Any) -> Tensor:
        x = to_tensor(x)
        shape = (None, *x.shape[1:])
        if not self.built:
            self.build_from(shape)
        elif self.input_spec is not None:
            self.input_spec.check(self, shape)
        return self.call(_autocast(x, self.weights))

    # ---- weights -------------------------------------------------------------------------------------------------
    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for p in self._parameters.values():
            if p is not None:
                p.requires_grad_(self._trainable)

    @property
    def weights(self) -> list[Tensor]:
        """Every weight: the trainable ones (creation order), then the non-trainable ones."""
        return [p for p in self._parameters.values() if p is not None] + [
            b for b in self._buffers.values() if b is not None
        ]

    @property
    def trainable_weights(self) -> list[Tensor]:
        return [p for p in self._parameters.values() if p is not None] if self.trainable else []

    @property
    def non_trainable_weights(self) -> list[Tensor]:
        frozen = [] if self.trainable else [p for p in self._parameters.values() if p is not None]
        return frozen + [b for b in self._buffers.values() if b is not None]

    def _require_built(self, what: str) -> None:
        if not self.built:
            raise DagradError(
                f"{what}: {self._who()} is not built yet; give the first layer an input_shape, call build(input_shape) "
                "or call the model on data first"
            )

    def count_params(self) -> int:
        self._require_built("count_params")
        return sum(w.numel() for w in self.weights)

    def get_weights(self) -> list[numpy.ndarray]:
        """Copies of the weights as NumPy arrays, in Keras' order."""
        return [backend.to_device(w.data, backend.CPU).copy() for w in self.weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Copy arrays (Keras' order and shapes) into the weights."""
        own = self.weights
        weights = list(weights)
        if len(weights) != len(own):
            raise ShapeError(f"set_weights: {self._who()} expects {len(own)} weight arrays, received {len(weights)}")
        arrays = [numpy.asarray(w.data if isinstance(w, Tensor) else w) for w in weights]
        for target, a in zip(own, arrays):
            if tuple(a.shape) != tuple(target.shape):
                raise ShapeError(
                    f"set_weights: {self._who()} weight shape {tuple(target.shape)} is not compatible with provided "
                    f"weight shape {tuple(a.shape)}"
                )
        with no_grad():
            for target, a in zip(own, arrays):
                target.data[...] = backend.to_device(a, target.device)
                target._version += 1

    def extra_repr(self) -> str:
        return f"name={self.name!r}" + ("" if self.built else ", unbuilt")


def _shape(arg: str, shape: Any) -> tuple:
    """A shape given by the user (no batch dim): an int or a sequence of positive ints or None."""
    dims = (shape,) if isinstance(shape, (int, numpy.integer)) else shape
    if not isinstance(dims, (tuple, list)) or any(
        d is not None and (isinstance(d, bool) or not isinstance(d, (int, numpy.integer)) or d < 1) for d in dims
    ):
        raise ArgumentError(f"expected {arg} to be a tuple of positive ints (None for any size), received {shape!r}")
    return tuple(None if d is None else int(d) for d in dims)


class InputLayer(Layer):
    """Declares the input shape of a Sequential model (shape without the batch dim); passes inputs through."""

    def __init__(
        self,
        shape: Sequence[int] | None = None,
        batch_size: int | None = None,
        name: str | None = None,
        input_shape: Sequence[int] | None = None,
    ) -> None:
        shape = shape if shape is not None else input_shape
        if shape is None:
            raise ArgumentError("InputLayer: expected a shape (without the batch dim), received none")
        super().__init__(name=name, input_shape=shape)
        self._batch_input_shape = (batch_size, *self._batch_input_shape[1:])

    @property
    def batch_shape(self) -> Shape:
        return self._batch_input_shape

    def call(self, x: Tensor) -> Tensor:
        return x


def Input(shape: Sequence[int], batch_size: int | None = None, name: str | None = None) -> InputLayer:  # noqa: N802
    """keras.Input for Sequential models: Sequential([Input(shape=(784,)), Dense(10)])."""
    return InputLayer(shape=shape, batch_size=batch_size, name=name)


class Dense(Layer):
    """y = activation(x @ kernel + bias) on the last axis: (..., in) -> (..., units); kernel is (in, units)."""

    rank_spec = InputSpec(min_ndim=2)

    def __init__(
        self,
        units: int,
        activation: str | Callable | None = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        input_dim: int | None = None,
        **kwargs: Any,
    ) -> None:
        if input_dim is not None:
            kwargs.setdefault("input_shape", (input_dim,))
        super().__init__(**kwargs)
        self.units = _ints("Dense", "units", units, 1)[0]
        self.activation = activations.get(activation, "Dense")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer, "Dense")
        self.bias_initializer = initializers.get(bias_initializer, "Dense")
        self.kernel = self.bias = None

    def build(self, input_shape: Shape) -> None:
        n_in = input_shape[-1]
        if n_in is None:
            raise ShapeError(f"{self._who()}: expected the last dimension of the inputs to be known, received None")
        self.add_weight("kernel", (n_in, self.units), self.kernel_initializer)
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer)
        self.input_spec = InputSpec(min_ndim=2, axes={-1: n_in})

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*input_shape[:-1], self.units)

    def call(self, x: Tensor) -> Tensor:
        return self.activation(linear(x, self.kernel.T, self.bias))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, units={self.units}, activation={activations.serialize(self.activation)}"


def _to_channels_first(x: Tensor, channels_last: bool) -> Tensor:
    return x.movedim(-1, 1) if channels_last else x


def _to_channels_last(x: Tensor, channels_last: bool) -> Tensor:
    return x.movedim(1, -1) if channels_last else x


def _same_pads(sizes: Sequence[int], kernel: Sequence[int], strides: Sequence[int]) -> list[tuple[int, int]]:
    """TensorFlow's 'same' padding (before, after) per spatial dim; kernel sizes are the dilated extents."""
    pads = []
    for n, k, s in zip(sizes, kernel, strides):
        total = max((-(-n // s) - 1) * s + k - n, 0)
        pads.append((total // 2, total - total // 2))
    return pads


def _pad_asymmetric(x: Tensor, pads: list[tuple[int, int]], value: float) -> Tensor:
    """Pad the trailing spatial dims of a channels-first x by (before, after) each."""
    widths = [w for before_after in reversed(pads) for w in before_after]
    return pad(x, widths, value=value)


def _out_size(n: int | None, k: int, s: int, padding: str) -> int | None:
    """Output length along one dim: ceil(n / s) for 'same', floor((n - k) / s) + 1 for 'valid'."""
    if n is None:
        return None
    return -(-n // s) if padding == "same" else (n - k) // s + 1


class _Conv(Layer):
    """Convolution over `rank` spatial dims, channels-last by default; kernel (*kernel_size, in / groups, filters)."""

    rank = 2

    def __init__(
        self,
        filters: int,
        kernel_size: int | Sequence[int],
        strides: int | Sequence[int] = 1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: int | Sequence[int] = 1,
        groups: int = 1,
        activation: str | Callable | None = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        who, r = type(self).__name__, self.rank
        self.filters = _ints(who, "filters", filters, 1)[0]
        self.kernel_size = _ints(who, "kernel_size", kernel_size, r)
        self.strides = _ints(who, "strides", strides, r)
        self.padding = _choice(who, "padding", padding, ("valid", "same"))
        self.data_format = _data_format(who, data_format)
        self.dilation_rate = _ints(who, "dilation_rate", dilation_rate, r)
        self.groups = _ints(who, "groups", groups, 1)[0]
        if self.filters % self.groups:
            raise ArgumentError(
                f"{who}: expected filters divisible by groups, received filters={filters}, groups={groups}"
            )
        self.activation = activations.get(activation, who)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer, who)
        self.bias_initializer = initializers.get(bias_initializer, who)
        self.kernel = self.bias = None
        self.rank_spec = InputSpec(ndim=r + 2)
        self._conv_fn = getattr(_conv, f"conv{r}d")

    @property
    def _channel_axis(self) -> int:
        return -1 if self.data_format == "channels_last" else 1

    def _spatial(self, shape: Shape) -> tuple:
        return tuple(shape[1:-1]) if self.data_format == "channels_last" else tuple(shape[2:])

    def build(self, input_shape: Shape) -> None:
        c = input_shape[self._channel_axis]
        if c is None or c % self.groups:
            raise ShapeError(
                f"{self._who()}: expected a known number of input channels divisible by groups={self.groups}, "
                f"received input shape {tuple(input_shape)}"
            )
        self.add_weight("kernel", (*self.kernel_size, c // self.groups, self.filters), self.kernel_initializer)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer)
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={self._channel_axis: c})

    def _extent(self) -> tuple[int, ...]:
        return tuple((k - 1) * d + 1 for k, d in zip(self.kernel_size, self.dilation_rate))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        out = tuple(
            _out_size(n, k, s, self.padding)
            for n, k, s in zip(self._spatial(input_shape), self._extent(), self.strides)
        )
        if self.data_format == "channels_last":
            return (input_shape[0], *out, self.filters)
        return (input_shape[0], self.filters, *out)

    def call(self, x: Tensor) -> Tensor:
        last = self.data_format == "channels_last"
        x = _to_channels_first(x, last)
        padding: Any = 0
        if self.padding == "same":
            pads = _same_pads(x.shape[2:], self._extent(), self.strides)
            if all(b == a for b, a in pads):
                padding = tuple(b for b, _ in pads)
            else:
                x = _pad_asymmetric(x, pads, 0.0)
        r = self.rank
        weight = self.kernel.permute(r + 1, r, *range(r))
        y = self._conv_fn(x, weight, self.bias, self.strides, padding, self.dilation_rate, self.groups)
        if activations.is_elementwise(self.activation):  # on the NCHW result, so the output keeps its layout
            return _to_channels_last(self.activation(y), last)
        return self.activation(_to_channels_last(y, last))

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, filters={self.filters}, kernel_size={self.kernel_size}, strides={self.strides}, "
            f"padding={self.padding!r}, activation={activations.serialize(self.activation)}"
        )


class Conv1D(_Conv):
    """1-D convolution of (N, L, C) inputs (channels-last) -> (N, L', filters)."""

    rank = 1


class Conv2D(_Conv):
    """2-D convolution of (N, H, W, C) inputs (channels-last) -> (N, H', W', filters); kernel (kh, kw, C, filters)."""

    rank = 2


class _Pooling(Layer):
    """Max or average over windows of `rank` spatial dims; strides default to pool_size."""

    rank = 2
    mode = "max"

    def __init__(
        self,
        pool_size: int | Sequence[int] = 2,
        strides: int | Sequence[int] | None = None,
        padding: str = "valid",
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        who, r = type(self).__name__, self.rank
        self.pool_size = _ints(who, "pool_size", pool_size, r)
        self.strides = self.pool_size if strides is None else _ints(who, "strides", strides, r)
        self.padding = _choice(who, "padding", padding, ("valid", "same"))
        self.data_format = _data_format(who, data_format)
        self.rank_spec = self.input_spec = InputSpec(ndim=r + 2)
        self._fn = getattr(_pool, f"{self.mode}_pool{r}d")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        last = self.data_format == "channels_last"
        spatial = input_shape[1:-1] if last else input_shape[2:]
        out = tuple(_out_size(n, k, s, self.padding) for n, k, s in zip(spatial, self.pool_size, self.strides))
        return (input_shape[0], *out, input_shape[-1]) if last else (*input_shape[:2], *out)

    def call(self, x: Tensor) -> Tensor:
        last = self.data_format == "channels_last"
        x = _to_channels_first(x, last)
        pads = _same_pads(x.shape[2:], self.pool_size, self.strides) if self.padding == "same" else None
        if not pads or not any(b or a for b, a in pads):
            y = self._fn(x, self.pool_size, self.strides)
        elif all(b == a for b, a in pads):
            sym = tuple(b for b, _ in pads)
            y = self._fn(x, self.pool_size, self.strides, sym, **self._pad_kwargs())
        else:
            y = self._fn(_pad_asymmetric(x, pads, self._pad_value()), self.pool_size, self.strides)
            y = self._rescale(y, x.shape[2:], pads)
        return _to_channels_last(y, last)

    def _pad_kwargs(self) -> dict:
        return {}

    def _pad_value(self) -> float:
        return -math.inf

    def _rescale(self, y: Tensor, sizes: Sequence[int], pads: list[tuple[int, int]]) -> Tensor:
        return y


class _AvgPooling(_Pooling):
    mode = "avg"

    def _pad_kwargs(self) -> dict:
        return {"count_include_pad": False}

    def _pad_value(self) -> float:
        return 0.0

    def _rescale(self, y: Tensor, sizes: Sequence[int], pads: list[tuple[int, int]]) -> Tensor:
        """Turn means over zero-padded windows into means over the real pixels of each window."""
        scale = numpy.ones((), numpy.float64)
        for n, k, s, (before, _), o in zip(sizes, self.pool_size, self.strides, pads, y.shape[2:]):
            start = numpy.arange(o) * s - before
            count = numpy.minimum(start + k, n) - numpy.maximum(start, 0)
            scale = scale[..., None] * (k / count)
        return y * from_numpy(backend.to_device(scale.astype(y.dtype), y.device))


class MaxPooling1D(_Pooling):
    rank, mode = 1, "max"


class MaxPooling2D(_Pooling):
    """Max over pool_size windows of (N, H, W, C) inputs."""

    rank, mode = 2, "max"


class AveragePooling1D(_AvgPooling):
    rank = 1


class AveragePooling2D(_AvgPooling):
    """Mean over pool_size windows of (N, H, W, C) inputs ('same' windows average their real pixels only)."""

    rank = 2


class _GlobalPooling(Layer):
    """Max or mean over all spatial dims: (N, *spatial, C) -> (N, C), or (N, 1, ..., 1, C) with keepdims."""

    rank = 2
    mode = "avg"

    def __init__(self, data_format: str | None = None, keepdims: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_format = _data_format(type(self).__name__, data_format)
        self.keepdims = bool(keepdims)
        self.rank_spec = self.input_spec = InputSpec(ndim=self.rank + 2)

    def _axes(self) -> tuple[int, ...]:
        first = 1 if self.data_format == "channels_last" else 2
        return tuple(range(first, first + self.rank))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        axes = self._axes()
        if self.keepdims:
            return tuple(1 if i in axes else d for i, d in enumerate(input_shape))
        return tuple(d for i, d in enumerate(input_shape) if i not in axes)

    def call(self, x: Tensor) -> Tensor:
        if self.mode == "avg":
            return x.mean(self._axes(), keepdim=self.keepdims)
        return x.amax(self._axes(), keepdim=self.keepdims)


class GlobalAveragePooling1D(_GlobalPooling):
    rank, mode = 1, "avg"


class GlobalAveragePooling2D(_GlobalPooling):
    rank, mode = 2, "avg"


class GlobalMaxPooling1D(_GlobalPooling):
    rank, mode = 1, "max"


class GlobalMaxPooling2D(_GlobalPooling):
    rank, mode = 2, "max"


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...) in channels-last order (a channels_first input is first moved to
    channels-last, as Keras does), so a Dense kernel after it has Keras' row order."""

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_format = _data_format("Flatten", data_format)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        rest = input_shape[1:]
        return (input_shape[0], None if None in rest else math.prod(rest))

    def call(self, x: Tensor) -> Tensor:
        if self.data_format == "channels_first" and x.ndim > 2:
            x = x.movedim(1, -1)
        return x.reshape(x.shape[0], math.prod(x.shape[1:]))


class Reshape(Layer):
    """(N, ...) -> (N, *target_shape); one entry of target_shape may be -1."""

    def __init__(self, target_shape: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        dims = tuple(target_shape) if isinstance(target_shape, (tuple, list)) else None
        if (
            not dims
            or sum(d == -1 for d in dims) > 1
            or any(isinstance(d, bool) or not isinstance(d, (int, numpy.integer)) or (d < 1 and d != -1) for d in dims)
        ):
            raise ArgumentError(
                f"Reshape: expected target_shape to be a tuple of positive ints with at most one -1, received "
                f"{target_shape!r}"
            )
        self.target_shape = tuple(int(d) for d in dims)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        rest = input_shape[1:]
        if -1 not in self.target_shape:
            known = math.prod(self.target_shape)
            if None not in rest and math.prod(rest) != known:
                raise ShapeError(
                    f"{self._who()}: expected inputs with {known} values per sample for target_shape "
                    f"{self.target_shape}, received input shape {tuple(input_shape)}"
                )
            return (input_shape[0], *self.target_shape)
        if None in rest:
            return (input_shape[0], *(None if d == -1 else d for d in self.target_shape))
        known = -math.prod(self.target_shape)
        if math.prod(rest) % known:
            raise ShapeError(
                f"{self._who()}: expected a number of values per sample divisible by {known} for target_shape "
                f"{self.target_shape}, received input shape {tuple(input_shape)}"
            )
        return (input_shape[0], *(math.prod(rest) // known if d == -1 else d for d in self.target_shape))

    def call(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], *self.target_shape)


class Dropout(Layer):
    """Zero each input with probability `rate` in training (scaling the rest by 1 / (1 - rate)); identity in
    inference (predict, evaluate)."""

    def __init__(self, rate: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ArgumentError(
                f"Dropout: invalid value for `rate`; expected a float between 0 and 1 (1 excluded), received "
                f"rate={rate!r}"
            )
        self.rate = float(rate)

    def call(self, x: Tensor) -> Tensor:
        if not self.training or self.rate == 0:
            return x
        return dropout(x, self.rate, training=True)


class BatchNormalization(Layer):
    """Normalise each feature of `axis` (the last: channels-last) by the batch's mean and variance in training,
    by the moving ones in inference, then scale by gamma and shift by beta.

    Keras' conventions: moving = momentum * moving + (1 - momentum) * batch statistic (momentum=0.99), the moving
    variance takes the biased batch variance, epsilon=1e-3; a layer with trainable=False runs in inference mode.
    Weights in Keras' order: gamma, beta (trainable), moving_mean, moving_variance (non-trainable).
    """

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        moving_mean_initializer: Any = "zeros",
        moving_variance_initializer: Any = "ones",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ArgumentError(f"BatchNormalization: expected axis to be an int, received axis={axis!r}")
        if not 0 <= momentum < 1:
            raise ArgumentError(f"BatchNormalization: expected momentum in [0, 1), received momentum={momentum!r}")
        if not epsilon > 0:
            raise ArgumentError(f"BatchNormalization: expected epsilon > 0, received epsilon={epsilon!r}")
        self.axis, self.momentum, self.epsilon = axis, float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self._inits = {
            "gamma": initializers.get(gamma_initializer, "BatchNormalization"),
            "beta": initializers.get(beta_initializer, "BatchNormalization"),
            "moving_mean": initializers.get(moving_mean_initializer, "BatchNormalization"),
            "moving_variance": initializers.get(moving_variance_initializer, "BatchNormalization"),
        }
        self.gamma = self.beta = None
        self.rank_spec = InputSpec(min_ndim=2)

    def build(self, input_shape: Shape) -> None:
        ndim = len(input_shape)
        if not -ndim <= self.axis < ndim or self.axis % ndim == 0:
            raise ShapeError(
                f"{self._who()}: expected axis to name a non-batch dim of the input, received axis={self.axis} for "
                f"input shape {tuple(input_shape)}"
            )
        self.axis %= ndim
        c = input_shape[self.axis]
        if c is None:
            raise ShapeError(f"{self._who()}: expected a known size at axis {self.axis}, received {tuple(input_shape)}")
        if self.scale:
            self.add_weight("gamma", (c,), self._inits["gamma"])
        if self.center:
            self.add_weight("beta", (c,), self._inits["beta"])
        self.add_weight("moving_mean", (c,), self._inits["moving_mean"], trainable=False)
        self.add_weight("moving_variance", (c,), self._inits["moving_variance"], trainable=False)
        self.input_spec = InputSpec(ndim=ndim, axes={self.axis: c})

    def call(self, x: Tensor) -> Tensor:
        training = self.training and self.trainable
        xc = x if self.axis == 1 else x.movedim(self.axis, 1)
        rv = self.moving_variance
        old = rv.data.copy() if training else None
        m = 1.0 - self.momentum
        y = batch_norm(xc, self.moving_mean, rv, self.gamma, self.beta, training, m, self.epsilon)
        if training:  # batch_norm blends in the unbiased variance; Keras blends the biased one
            n = xc.numel() // xc.shape[1]
            rv.data -= (rv.data - (1.0 - m) * old) / n
        return y if self.axis == 1 else y.movedim(1, self.axis)


class Activation(Layer):
    """Applies an activation function by name ('relu', 'softmax', ...) or a callable."""

    def __init__(self, activation: str | Callable, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = activations.get(activation, "Activation")

    def call(self, x: Tensor) -> Tensor:
        return self.activation(x)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, activation={activations.serialize(self.activation)}"


__all__ = [
    "Layer", "InputSpec", "InputLayer", "Input", "Dense", "Conv1D", "Conv2D", "MaxPooling1D", "MaxPooling2D",
    "AveragePooling1D", "AveragePooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D",
    "GlobalMaxPooling2D", "Flatten", "Reshape", "Dropout", "BatchNormalization", "Activation",
]  # fmt: skip
