"""Sequential: Keras' model of stacked layers, with compile / fit / evaluate / predict / summary on dagrad.

fit and evaluate run dagrad.train.Trainer over dagrad.data.DataLoader batches of a TensorDataset, so a Keras model
trains with the same loop, callbacks, History and progress bar as any dagrad model. Keras semantics on top: inputs
are cast to dagrad's default float (float32); batch_size defaults to 32; validation_split holds out the last
fraction of the samples (before shuffling); the loss is loss(y_true, y_pred) on the model's outputs (see
dagrad.keras.losses); evaluate returns the loss, or [loss, *metrics] when metrics were compiled; predict returns a
NumPy array. The model is a dagrad.nn.Module too: model.parameters(), state_dict() (keys '0.kernel', '0.bias', ...
by layer position), and usable with dagrad.optim and dagrad.train directly.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy

from dagrad import backend
from dagrad.autograd.tensor import Tensor
from dagrad.creation import from_numpy
from dagrad.data.dataset import TensorDataset
from dagrad.data.loader import DataLoader
from dagrad.errors import ArgumentError, DagradError, ShapeError
from dagrad.keras import losses as losses_lib
from dagrad.keras import metrics as metrics_lib
from dagrad.keras import optimizers as optimizers_lib
from dagrad.keras.layers import InputLayer, Layer, to_tensor
from dagrad.optim.optimizer import Optimizer
from dagrad.train.callbacks import Callback, History
from dagrad.train.trainer import Trainer

DEFAULT_BATCH_SIZE = 32


def _inputs(x: Any, who: str) -> numpy.ndarray:
    """x as an array of dagrad's default float dtype (Keras casts inputs to the model's float type)."""
    if x is None:
        raise ArgumentError(f"{who}: expected input data x, received None")
    arr = x.data if isinstance(x, Tensor) else numpy.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise ArgumentError(f"{who}: expected numeric input data, received dtype {arr.dtype}")
    return arr.astype(backend.get_default_dtype(), copy=False)


def _targets(y: Any, who: str) -> numpy.ndarray:
    """y as an array: integer labels stay integers (int64), other targets become the default float dtype."""
    if y is None:
        raise ArgumentError(f"{who}: expected targets y, received None")
    arr = y.data if isinstance(y, Tensor) else numpy.asarray(y)
    if arr.dtype.kind in "iu":
        return arr.astype(backend.int64, copy=False)
    if arr.dtype.kind not in "bf":
        raise ArgumentError(f"{who}: expected numeric targets, received dtype {arr.dtype}")
    return arr.astype(backend.get_default_dtype(), copy=False)


def _is_loader(x: Any) -> bool:
    """Whether x is an iterable of batches (a DataLoader, a list of (x, y) pairs) rather than array data."""
    return isinstance(x, DataLoader) or (
        isinstance(x, (list, tuple))
        and bool(x)
        and all(isinstance(b, (list, tuple)) and len(b) == 2 for b in x)
        and isinstance(x[0][0], (Tensor, numpy.ndarray))
    )


def _positive_int(who: str, name: str, v: Any, default: int) -> int:
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, (int, numpy.integer)) or v < 1:
        raise ArgumentError(f"{who}: expected {name} to be a positive int or None, received {name}={v!r}")
    return int(v)


def _verbose(who: str, verbose: Any) -> int:
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ArgumentError(f"{who}: expected verbose to be 'auto', 0, 1 or 2, received verbose={verbose!r}")
    return int(verbose)


def _format_shape(shape: Sequence | None) -> str:
    if shape is None:
        return "?"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _readable_bytes(n: int) -> str:
    """Keras' memory sizes: 203,560 bytes -> '198.79 KB'."""
    size, unit = float(n), "B"
    for unit in ("B", "KB", "MB", "GB", "TB"):  # noqa: B007
        if size < 1024 or unit == "TB":
            break
        size /= 1024
    return f"{size:.2f} {unit}"


class Sequential(Layer):
    """A linear stack of Keras layers: Sequential([Dense(64, activation='relu', input_shape=(784,)), Dense(10)]).

    The model builds (creates every layer's weights) as soon as it knows its input shape: from an input_shape /
    input_dim on the first layer, an Input(shape) layer, build((None, *shape)), or the first data it sees.
    """

    def __init__(self, layers: Iterable[Layer] | None = None, name: str | None = None, trainable: bool = True) -> None:
        super().__init__(name=name, trainable=trainable)
        self._layers: list[Layer] = []
        self._input_batch_shape: tuple | None = None
        self.optimizer: Any = None
        self.loss: Any = None
        self.compiled = False
        self.history: History | None = None
        self._loss_obj: losses_lib.Loss | None = None
        self._metrics: list = []
        self._dagrad_optimizer: Optimizer | None = None
        self._trainer: Trainer | None = None
        for layer in layers or ():
            self.add(layer)

    # ---- structure ---------------------------------------------------------------------------------------------
    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    def add(self, layer: Layer) -> None:
        """Append a layer; an InputLayer (keras.Input) may come first to declare the input shape."""
        if isinstance(layer, InputLayer):
            if self._layers or self._input_batch_shape is not None:
                raise ArgumentError("Sequential.add: expected an InputLayer only as the first layer of the model")
            self._input_batch_shape = layer.batch_shape
            return
        if not isinstance(layer, Layer):
            raise ArgumentError(
                f"Sequential.add: expected a dagrad.keras layer, received {type(layer).__name__}; wrap dagrad.nn "
                "modules in a keras Layer"
            )
        if any(other.name == layer.name for other in self._layers):
            raise ArgumentError(
                f"Sequential.add: expected layers with unique names, received a second layer named {layer.name!r}"
            )
        if not self._layers and self._input_batch_shape is None:
            self._input_batch_shape = layer._batch_input_shape
        self.add_module(str(len(self._layers)), layer)
        self._layers.append(layer)
        self.built = False
        if self._input_batch_shape is not None:
            self.build(self._input_batch_shape)

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._layers:
            raise ArgumentError("Sequential.pop: expected a model with layers, received an empty one")
        layer = self._layers.pop()
        del self._modules[str(len(self._layers))]
        self.output_shape = self._layers[-1].output_shape if self._layers else self.input_shape
        return layer

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        if index is not None:
            return self._layers[index]
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ArgumentError(
            f"get_layer: expected one of the layer names {[layer.name for layer in self._layers]}, received {name!r}"
        )

    def build(self, input_shape: Sequence | None = None) -> None:
        """Create every layer's weights for inputs of `input_shape` (batch dim first, e.g. (None, 784))."""
        shape = input_shape if input_shape is not None else self._input_batch_shape
        if shape is None:
            raise ArgumentError("build: expected an input_shape such as (None, 784), received None")
        shape = tuple(None if d is None else int(d) for d in shape)
        self._input_batch_shape = self.input_shape = shape
        for layer in self._layers:
            shape = layer.build_from(shape)
        self.output_shape = shape
        self.built = True

    def compute_output_shape(self, input_shape: Sequence) -> tuple:
        shape = tuple(input_shape)
        for layer in self._layers:
            shape = layer.compute_output_shape(shape)
        return shape

    def build_from(self, input_shape: Sequence) -> tuple:
        if not self.built:
            self.build(input_shape)
        return self.compute_output_shape(input_shape)

    def _check_input(self, shape: tuple) -> None:
        want = self._input_batch_shape
        if want is not None and (
            len(want) != len(shape)
            or any(w is not None and d is not None and w != d for w, d in zip(want[1:], shape[1:]))
        ):
            raise ShapeError(
                f'Sequential "{self.name}": expected inputs of shape {_format_shape(want)}, received '
                f"shape {tuple(shape)}"
            )

    def forward(self, x: Any, training: bool | None = None) -> Tensor:
        """The output of the stack for x; training=True/False runs the layers in that mode for this call."""
        x = to_tensor(x)
        shape = (None, *x.shape[1:])
        if self.built:
            self._check_input(shape)
        else:
            self.build(shape)
        was = self.training
        if training is not None and bool(training) != was:
            self.train(bool(training))
        try:
            for layer in self._layers:
                x = layer(x)
        finally:
            if self.training != was:
                self.train(was)
        return x

    # ---- weights -----------------------------------------------------------------------------------------------
    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for layer in self.__dict__.get("_layers", ()):
            layer.trainable = value

    @property
    def weights(self) -> list[Tensor]:
        return [w for layer in self._layers for w in layer.weights]

    @property
    def trainable_weights(self) -> list[Tensor]:
        return [w for layer in self._layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self) -> list[Tensor]:
        return [w for layer in self._layers for w in layer.non_trainable_weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Copy arrays into every layer's weights, in get_weights() order."""
        self._require_built("set_weights")
        weights = list(weights)
        total = sum(len(layer.weights) for layer in self._layers)
        if len(weights) != total:
            raise ShapeError(f"set_weights: {self._who()} expects {total} weight arrays, received {len(weights)}")
        i = 0
        for layer in self._layers:
            n = len(layer.weights)
            layer.set_weights(weights[i : i + n])
            i += n

    def save_weights(self, filepath: str | os.PathLike, overwrite: bool = True) -> None:
        """Write the weights (and batch-norm statistics) to <filepath>.safetensors + <filepath>.json via
        dagrad.io.save_checkpoint; load them with load_weights(filepath)."""
        from dagrad.io import checkpoint_paths, save_checkpoint

        self._require_built("save_weights")
        if not overwrite and any(p.exists() for p in checkpoint_paths(filepath)):
            raise ArgumentError(
                f"save_weights: expected a new path with overwrite=False, received existing {os.fspath(filepath)!r}"
            )
        save_checkpoint(filepath, self)

    def load_weights(self, filepath: str | os.PathLike) -> None:
        """Restore weights written by save_weights (the model must have the same layers and be built)."""
        from dagrad.io import load_checkpoint

        self._require_built("load_weights")
        load_checkpoint(filepath, model=self, rng=False)

    # ---- compile and train ---------------------------------------------------------------------------------------
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, metrics: Sequence[Any] | None = None) -> None:
        """Choose the optimizer (a name, a keras.optimizers object or a dagrad.optim optimizer), the loss (a name,
        a keras.losses object or fn(y_true, y_pred)) and the metrics ('accuracy', 'mae', ...)."""
        self.optimizer = optimizers_lib.get(optimizer, "compile")
        self._loss_obj = None if loss is None else losses_lib.get(loss, "compile")
        self.loss = loss
        if isinstance(metrics, str) or callable(metrics):
            metrics = [metrics]
        kind = getattr(self._loss_obj, "kind", None)
        self._metrics = [metrics_lib.get(m, kind, "compile") for m in metrics or ()]
        names = [m.name for m in self._metrics]
        if len(set(names)) != len(names) or "loss" in names:
            raise ArgumentError(f"compile: expected distinct metric names other than 'loss', received {names}")
        self._dagrad_optimizer = None
        self.compiled = True

    @property
    def metrics_names(self) -> list[str]:
        return ["loss", *(m.name for m in self._metrics)]

    def _loss_fn(self, output: Tensor, target: Tensor) -> Tensor:
        return self._loss_obj(target, output)

    def _compiled(self, who: str) -> None:
        if not self.compiled:
            raise DagradError(f"{who}: the model must be compiled first; call model.compile(optimizer=..., loss=...)")
        if self._loss_obj is None:
            raise DagradError(f"{who}: expected the model to be compiled with a loss, received loss=None")

    def _make_trainer(self, who: str, callbacks: Sequence[Callback] = (), training: bool = True) -> Trainer:
        self._compiled(who)
        optimizer, clip = None, None
        if training:
            if self._dagrad_optimizer is None:
                opt = self.optimizer
                self._dagrad_optimizer = opt if isinstance(opt, Optimizer) else opt.build(self.parameters())
            optimizer, clip = self._dagrad_optimizer, getattr(self.optimizer, "global_clipnorm", None)
        return Trainer(self, self._loss_fn, optimizer, metrics=self._metrics, callbacks=callbacks, clip_grad_norm=clip)

    @property
    def stop_training(self) -> bool:
        """Set to True (from a callback) to end fit after the current batch, as in Keras."""
        return self._trainer is not None and self._trainer.stop_training

    @stop_training.setter
    def stop_training(self, value: bool) -> None:
        if self._trainer is not None:
            self._trainer.stop_training = bool(value)

    def _loader(self, who: str, x: Any, y: Any, batch_size: int, shuffle: bool) -> Any:
        """Batches for x, y (arrays or Tensors), or x itself when it already is a loader of (x, y) batches."""
        if _is_loader(x):
            if y is not None:
                raise ArgumentError(f"{who}: expected y=None when x is a loader of (x, y) batches, received y")
            return x
        xs, ys = _inputs(x, who), _targets(y, who)
        if len(xs) != len(ys):
            raise ShapeError(
                f"{who}: expected x and y with the same number of samples, received x sizes {len(xs)} "
                f"and y sizes {len(ys)}"
            )
        if not len(xs):
            raise ArgumentError(f"{who}: expected at least one sample, received none")
        return DataLoader(TensorDataset(from_numpy(xs), from_numpy(ys)), batch_size=batch_size, shuffle=shuffle)

    def _build_for(self, loader: Any) -> None:
        if self.built:
            return
        if isinstance(loader, DataLoader) and isinstance(loader.dataset, TensorDataset):
            first = loader.dataset.tensors[0]
        else:
            first = next(iter(loader))[0]
        self.build((None, *first.shape[1:]))

    def fit(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        epochs: int = 1,
        verbose: Any = "auto",
        callbacks: Sequence[Callback] | None = None,
        validation_split: float = 0.0,
        validation_data: Any = None,
        shuffle: bool = True,
        initial_epoch: int = 0,
        validation_batch_size: int | None = None,
    ) -> History:
        """Train for `epochs` epochs on x, y (arrays or Tensors, or x a loader of (x, y) batches); returns the
        History, whose .history holds per-epoch lists ('loss', each metric, 'val_loss', 'val_<metric>')."""
        self._compiled("fit")
        batch_size = _positive_int("fit", "batch_size", batch_size, DEFAULT_BATCH_SIZE)
        verbose = _verbose("fit", verbose)
        if isinstance(validation_split, bool) or not 0 <= validation_split < 1:
            raise ArgumentError(f"fit: expected validation_split in [0, 1), received {validation_split!r}")
        if validation_split and validation_data is None:
            if _is_loader(x):
                raise ArgumentError(
                    "fit: validation_split needs array data x, y; received a loader (pass validation_data instead)"
                )
            xs, ys = _inputs(x, "fit"), _targets(y, "fit")
            cut = int(len(xs) * (1.0 - validation_split))
            if cut < 1 or cut >= len(xs):
                raise ArgumentError(
                    f"fit: validation_split={validation_split} of {len(xs)} samples leaves an empty "
                    "training or validation set"
                )
            x, y, validation_data = xs[:cut], ys[:cut], (xs[cut:], ys[cut:])
        train = self._loader("fit", x, y, batch_size, bool(shuffle))
        val = None
        if validation_data is not None:
            val = self._validation_loader(validation_data, validation_batch_size or batch_size)
        self._build_for(train)
        trainer = self._make_trainer("fit", list(callbacks or ()))
        self._trainer = trainer
        try:
            history = trainer.fit(train, epochs=epochs, val_loader=val, verbose=verbose, initial_epoch=initial_epoch)
        finally:
            self._trainer = None
        history.history.pop("lr", None)
        self.history = history
        return history

    def _validation_loader(self, data: Any, batch_size: int) -> Any:
        """Batches of validation_data: a pair (x_val, y_val), or a loader of (x, y) batches used as it is."""
        if isinstance(data, (tuple, list)) and not _is_loader(data):
            if len(data) != 2:
                raise ArgumentError(
                    f"fit: expected validation_data to be a pair (x_val, y_val) or a loader, received "
                    f"a sequence of length {len(data)}"
                )
            return self._loader("fit", data[0], data[1], batch_size, False)
        if not hasattr(data, "__iter__"):
            raise ArgumentError(
                f"fit: expected validation_data to be a pair (x_val, y_val) or a loader, received {type(data).__name__}"
            )
        return data

    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        verbose: Any = "auto",
        return_dict: bool = False,
    ) -> float | list[float] | dict[str, float]:
        """The loss (a float) or [loss, *metrics] over x, y in inference mode; a dict with return_dict=True."""
        batch_size = _positive_int("evaluate", "batch_size", batch_size, DEFAULT_BATCH_SIZE)
        loader = self._loader("evaluate", x, y, batch_size, False)
        verbose = _verbose("evaluate", verbose)
        self._build_for(loader)
        logs = self._make_trainer("evaluate", training=False).evaluate(loader)
        if verbose:
            steps = f"{len(loader)}/{len(loader)} - " if hasattr(loader, "__len__") else ""
            print(steps + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()), file=sys.stdout, flush=True)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x: Any, batch_size: int | None = None, verbose: Any = "auto") -> numpy.ndarray:
        """The model's outputs for x (array, Tensor, or a loader of inputs or (x, y) batches) as a NumPy array,
        computed in inference mode in batches of batch_size (32). verbose is accepted for Keras compatibility."""
        _verbose("predict", verbose)
        batch_size = _positive_int("predict", "batch_size", batch_size, DEFAULT_BATCH_SIZE)
        data = x if _is_loader(x) else from_numpy(_inputs(x, "predict"))
        if not self.built:
            first = data if isinstance(data, Tensor) else next(iter(data))
            first = first[0] if isinstance(first, (tuple, list)) else first
            self.build((None, *first.shape[1:]))
        out = Trainer(self, None, None, metrics=()).predict(data, batch_size=batch_size)
        return backend.to_device(out.data, backend.CPU)

    def train_on_batch(self, x: Any, y: Any, return_dict: bool = False) -> float | list[float] | dict[str, float]:
        """One optimizer step on the batch x, y; returns its loss (and metrics) as evaluate does."""
        xs, ys = from_numpy(_inputs(x, "train_on_batch")), from_numpy(_targets(y, "train_on_batch"))
        if not self.built:
            self.build((None, *xs.shape[1:]))
        history = self._make_trainer("train_on_batch").fit([(xs, ys)], epochs=1, verbose=0)
        logs = {k: v[-1] for k, v in history.history.items() if k != "lr"}
        return logs if return_dict else (logs["loss"] if len(logs) == 1 else list(logs.values()))

    def test_on_batch(self, x: Any, y: Any, return_dict: bool = False) -> float | list[float] | dict[str, float]:
        """The loss (and metrics) on the batch x, y in inference mode."""
        return self.evaluate(x, y, batch_size=max(len(x), 1), verbose=0, return_dict=return_dict)

    def predict_on_batch(self, x: Any) -> numpy.ndarray:
        """The outputs for the batch x as a NumPy array."""
        return self.predict(x, batch_size=max(len(x), 1), verbose=0)

    # ---- summary -------------------------------------------------------------------------------------------------
    def summary(self, line_length: int | None = None, print_fn: Callable[[str], Any] | None = None) -> None:
        """Print Keras' table of layers: name (type), output shape, number of weights; then the totals."""
        print_fn = print_fn or print
        rows = [("Layer (type)", "Output Shape", "Param #")]
        for layer in self._layers:
            params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
            rows.append((f"{layer.name} ({type(layer).__name__})", _format_shape(layer.output_shape), params))
        widths = [max(max(len(r[i]) for r in rows) + 2, least) for i, least in enumerate((29, 26, 10))]
        if line_length is not None and line_length > sum(widths):
            widths[0] += line_length - sum(widths)
        total_width = sum(widths)

        def line(r: tuple) -> str:
            return (r[0].ljust(widths[0]) + r[1].ljust(widths[1]) + r[2].rjust(widths[2] - 2)).rstrip()

        print_fn(f'Model: "{self.name}"')
        print_fn("_" * total_width)
        print_fn(line(rows[0]))
        print_fn("=" * total_width)
        for i, r in enumerate(rows[1:]):
            print_fn(line(r))
            if i < len(rows) - 2:
                print_fn("")
        print_fn("=" * total_width)
        if self.built:
            item = backend.numpy.dtype(backend.get_default_dtype()).itemsize
            trainable = sum(w.numel() for w in self.trainable_weights)
            frozen = sum(w.numel() for w in self.non_trainable_weights)
            for label, n in (("Total", trainable + frozen), ("Trainable", trainable), ("Non-trainable", frozen)):
                print_fn(f"{label} params: {n:,} ({_readable_bytes(n * item)})")
        else:
            print_fn("Total params: 0 (unbuilt: give the first layer an input_shape or call build())")
        print_fn("_" * total_width)

    def extra_repr(self) -> str:
        return f"name={self.name!r}"


__all__ = ["Sequential"]
