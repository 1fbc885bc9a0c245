"""Recurrent layers (as torch.nn): RNN, LSTM, GRU and the single-step cells RNNCell, LSTMCell, GRUCell.

Parameters carry PyTorch's names, shapes and order (weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}, with
the suffix _reverse for the backward direction of a bidirectional layer), its gate order (LSTM i, f, g, o; GRU r, z,
n) and its init, U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) for every parameter: a torch state_dict loads as is.

A layer runs per (layer, direction): the input projection of all time steps as one GEMM (x W_ih^T plus the biases
that can be folded in), then a scan op of dagrad.ops.rnn (the time loop with one GEMM per step, and
backpropagation through time as one op). Inputs are (T, B, input_size), (B, T, input_size) with batch_first, or
unbatched (T, input_size); dropout, when set, is applied to the outputs of every layer but the last in training.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from dagrad import backend
from dagrad.autograd.tensor import Tensor, _make
from dagrad.errors import ArgumentError, DtypeError, ShapeError
from dagrad.nn import init
from dagrad.nn.module import Module
from dagrad.nn.parameter import Parameter
from dagrad.ops.dropout import dropout
from dagrad.ops.rnn import GRUScan, LSTMScan, RNNScan, gru_step, lstm_step, rnn_step
from dagrad.ops.shape import cat, stack

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _positive(layer: str, name: str, v: Any) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise ArgumentError(f"{layer}: expected {name} to be a positive int, received {name}={v!r}")
    return v


def _empty(shape: tuple, dtype: Any, device: Any) -> Parameter:
    data = backend.numpy.empty(shape, backend.get_default_dtype() if dtype is None else backend.numpy.dtype(dtype))
    if device is not None:
        data = backend.to_device(data, backend.Device(device))
    return Parameter(data)


def _affine(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    """x @ w^T (+ b): for x (T, B, in) one GEMM over all T * B rows."""
    y = x @ w.mT
    return y if b is None else y + b


def _check_input(layer: str, x: Any, dims: tuple[int, int], size: int, dtype: Any) -> None:
    if not isinstance(x, Tensor):
        raise DtypeError(f"{layer}: expected a Tensor input, received {type(x).__name__}")
    if x.ndim not in dims:
        raise ShapeError(
            f"{layer}: expected a {dims[0]}-D (unbatched) or {dims[1]}-D input, received shape {tuple(x.shape)}"
        )
    if x.shape[-1] != size:
        raise ShapeError(f"{layer}: expected input.size(-1) == input_size ({size}), received shape {tuple(x.shape)}")
    if x.dtype != dtype:
        raise DtypeError(f"{layer}: expected an input of dtype {dtype} (the parameters' dtype), received {x.dtype}")


def _state(layer: str, what: str, h: Any, shape: tuple, dtype: Any) -> Tensor:
    """A given initial state, checked against its expected (batched) shape and dtype."""
    if not isinstance(h, Tensor):
        raise DtypeError(f"{layer}: expected {what} to be a Tensor, received {type(h).__name__}")
    if tuple(h.shape) != shape:
        raise ShapeError(f"{layer}: expected {what} of shape {shape}, received {tuple(h.shape)}")
    if h.dtype != dtype:
        raise DtypeError(f"{layer}: expected {what} of dtype {dtype} (the parameters' dtype), received {h.dtype}")
    return h


class RNNBase(Module):
    """What RNN, LSTM and GRU share: argument checks, parameters, init, repr and the loop over layers/directions."""

    def __init__(
        self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
        batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, device: Any = None,
        dtype: Any = None,
    ) -> None:  # fmt: skip
        super().__init__()
        name = type(self).__name__
        for what, v in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            _positive(name, what, v)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
            raise ArgumentError(f"{name}: expected dropout to be a number in [0, 1], received dropout={dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                f"{name}: dropout applies to the outputs of all but the last recurrent layer, so non-zero dropout "
                f"expects num_layers greater than 1, received dropout={dropout} and num_layers={num_layers}",
                stacklevel=3,
            )
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, 0
        gates = _GATES[mode] * hidden_size
        dirs = 2 if bidirectional else 1
        self._flat_weights_names = []
        for layer in range(num_layers):
            fan_in = input_size if layer == 0 else hidden_size * dirs
            for d in range(dirs):
                shapes = {"weight_ih": (gates, fan_in), "weight_hh": (gates, hidden_size)}
                if bias:
                    shapes.update(bias_ih=(gates,), bias_hh=(gates,))
                for what, shape in shapes.items():
                    key = f"{what}_l{layer}{'_reverse' if d else ''}"
                    setattr(self, key, _empty(shape, dtype, device))
                    self._flat_weights_names.append(key)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def flatten_parameters(self) -> None:
        """A no-op: PyTorch packs the weights into one buffer for cuDNN; kept so PyTorch code runs unchanged."""

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters grouped per (layer, direction), each group [w_ih, w_hh(, b_ih, b_hh)]."""
        per = 4 if self.bias else 2
        names = self._flat_weights_names
        return [[getattr(self, n) for n in names[k : k + per]] for k in range(0, len(names), per)]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    def _states(self, hx: Any, batch: int, batched: bool, dtype: Any, device: Any) -> list[Tensor]:
        """The initial state tensors (h0 or h0, c0), each (num_layers * directions, B, H): given or zeros."""
        name, n = type(self).__name__, self.num_layers * (2 if self.bidirectional else 1)
        count = 2 if self.mode == "LSTM" else 1
        if hx is None:
            zeros = backend.to_device(backend.numpy.zeros((n, batch, self.hidden_size), dtype), device)
            return [_make(zeros)] * count
        if self.mode == "LSTM" and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise ShapeError(f"{name}: expected hx to be a tuple (h_0, c_0), received {type(hx).__name__}")
        given = list(hx) if self.mode == "LSTM" else [hx]
        shape = (n, batch, self.hidden_size) if batched else (n, self.hidden_size)
        states = [_state(name, what, h, shape, dtype) for what, h in zip(("h_0", "c_0"), given)]
        return states if batched else [h.unsqueeze(1) for h in states]

    def _direction(self, x: Tensor, k: int, states: list[Tensor], reverse: bool) -> tuple[Tensor, list[Tensor]]:
        """One (layer, direction): its output (T, B, H) and final states [h_n(, c_n)], each (B, H)."""
        names = self._flat_weights_names[k * (4 if self.bias else 2) :]
        w_ih, w_hh = getattr(self, names[0]), getattr(self, names[1])
        b_ih, b_hh = (getattr(self, names[2]), getattr(self, names[3])) if self.bias else (None, None)
        h0 = states[0][k]
        last = 0 if reverse else x.shape[0] - 1
        if self.mode == "GRU":
            out = GRUScan.apply(_affine(x, w_ih, b_ih), h0, w_hh, b_hh, reverse=reverse)
            return out, [out[last]]
        xw = _affine(x, w_ih, None if b_ih is None else b_ih + b_hh)
        if self.mode == "LSTM":
            y = LSTMScan.apply(xw, h0, states[1][k], w_hh, reverse=reverse)
            return y[:-1], [y[last], y[-1]]
        out = RNNScan.apply(xw, h0, w_hh, nonlinearity="relu" if self.mode == "RNN_RELU" else "tanh", reverse=reverse)
        return out, [out[last]]

    def _run(self, input: Tensor, hx: Any) -> tuple[Tensor, list[Tensor]]:
        """The output and the final states (each (num_layers * directions, B, H), unbatched: without B)."""
        w = self.weight_ih_l0
        _check_input(type(self).__name__, input, (2, 3), self.input_size, w.dtype)
        batched = input.ndim == 3
        x = input if batched else input.unsqueeze(1)
        if batched and self.batch_first:
            x = x.transpose(0, 1)
        if x.shape[0] == 0:
            raise ShapeError(f"{type(self).__name__}: expected a sequence of length > 0, received shape {input.shape}")
        states = self._states(hx, x.shape[1], batched, w.dtype, w.device)
        dirs = 2 if self.bidirectional else 1
        finals: list[list[Tensor]] = [[] for _ in states]
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                out, fin = self._direction(x, layer * dirs + d, states, reverse=d == 1)
                outs.append(out)
                for acc, f in zip(finals, fin):
                    acc.append(f)
            x = outs[0] if dirs == 1 else cat(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = dropout(x, self.dropout)
        if not batched:
            return x.squeeze(1), [stack(f).squeeze(1) for f in finals]
        return (x.transpose(0, 1) if self.batch_first else x), [stack(f) for f in finals]


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu), stacked num_layers deep.

    forward(input, hx=None) -> (output, h_n): output (T, B, D * H) (batch first with batch_first), h_n
    (num_layers * D, B, H), D = 2 when bidirectional; hx, the initial h, has h_n's shape (zeros when None).
    """

    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh", bias: bool = True,
        batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, device: Any = None,
        dtype: Any = None,
    ) -> None:  # fmt: skip
        if nonlinearity not in ("tanh", "relu"):
            raise ArgumentError(
                f"RNN: expected nonlinearity to be 'tanh' or 'relu', received nonlinearity={nonlinearity!r}"
            )
        super().__init__(
            "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, num_layers, bias,
            batch_first, dropout, bidirectional, device, dtype,
        )  # fmt: skip
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        out, (h,) = self._run(input, hx)
        return out, h


class LSTM(RNNBase):
    """Long short-term memory: gates i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of (x_t W_ih^T + b_ih + h_{t-1}
    W_hh^T + b_hh); c_t = f c_{t-1} + i g; h_t = o tanh(c_t).

    forward(input, hx=None) -> (output, (h_n, c_n)); hx = (h_0, c_0), each (num_layers * D, B, H), zeros when None.
    """

    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True, batch_first: bool = False,
        dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0, device: Any = None, dtype: Any = None,
    ) -> None:  # fmt: skip
        if proj_size != 0:
            raise ArgumentError(f"LSTM: projections are not supported, expected proj_size=0, received {proj_size!r}")
        super().__init__(
            "LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, device, dtype
        )  # fmt: skip

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        out, (h, c) = self._run(input, hx)
        return out, (h, c)


class GRU(RNNBase):
    """Gated recurrent unit: r, z = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr), sigmoid(... z ...);
    n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn)); h_t = (1 - z) n + z h_{t-1}.

    forward(input, hx=None) -> (output, h_n), shapes as RNN.
    """

    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True, batch_first: bool = False,
        dropout: float = 0.0, bidirectional: bool = False, device: Any = None, dtype: Any = None,
    ) -> None:  # fmt: skip
        super().__init__(
            "GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, device, dtype
        )  # fmt: skip

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        out, (h,) = self._run(input, hx)
        return out, h


# ---- cells: one time step, for loops the caller writes ------------------------------------------------------


class RNNCellBase(Module):
    """What the cells share: weight_ih (G * H, input_size), weight_hh (G * H, H), biases (G * H,), init, repr."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device: Any = None, dtype: Any = None
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.input_size = _positive(name, "input_size", input_size)
        self.hidden_size = _positive(name, "hidden_size", hidden_size)
        self.bias = bias
        gates = num_chunks * hidden_size
        self.weight_ih = _empty((gates, input_size), dtype, device)
        self.weight_hh = _empty((gates, hidden_size), dtype, device)
        self.register_parameter("bias_ih", _empty((gates,), dtype, device) if bias else None)
        self.register_parameter("bias_hh", _empty((gates,), dtype, device) if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _inputs(self, input: Tensor, hx: Any, count: int) -> tuple[Tensor, list[Tensor], bool]:
        """(x (B, input_size), states [h(, c)] each (B, H), batched): unbatched inputs get a batch of one."""
        name, w = type(self).__name__, self.weight_ih
        _check_input(name, input, (1, 2), self.input_size, w.dtype)
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        if hx is None:
            zeros = backend.to_device(backend.numpy.zeros((x.shape[0], self.hidden_size), w.dtype), w.device)
            return x, [_make(zeros)] * count, batched
        if count == 2 and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise ShapeError(f"{name}: expected hx to be a tuple (h, c), received {type(hx).__name__}")
        shape = (x.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        given = list(hx) if count == 2 else [hx]
        states = [_state(name, what, h, shape, w.dtype) for what, h in zip(("h", "c"), given)]
        return x, (states if batched else [h.unsqueeze(0) for h in states]), batched

    def _preactivation(self, x: Tensor, h: Tensor) -> Tensor:
        """x W_ih^T + b_ih + h W_hh^T + b_hh."""
        return _affine(x, self.weight_ih, self.bias_ih) + _affine(h, self.weight_hh, self.bias_hh)


class RNNCell(RNNCellBase):
    """One Elman step: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu); (B, in), (B, H) -> (B, H)."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh", device: Any = None,
        dtype: Any = None,
    ) -> None:  # fmt: skip
        if nonlinearity not in ("tanh", "relu"):
            raise ArgumentError(
                f"RNNCell: expected nonlinearity to be 'tanh' or 'relu', received nonlinearity={nonlinearity!r}"
            )
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, (h,), batched = self._inputs(input, hx, 1)
        h = rnn_step(self._preactivation(x, h), self.nonlinearity)
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step: (input, (h, c)) -> (h', c'), gates in PyTorch's order i, f, g, o."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None, dtype: Any = None
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        x, (h, c), batched = self._inputs(input, hx, 2)
        h, c = lstm_step(self._preactivation(x, h), c)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step: (input, h) -> h', gates in PyTorch's order r, z, n (b_hn inside r * (...))."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None, dtype: Any = None
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, (h,), batched = self._inputs(input, hx, 1)
        h = gru_step(_affine(x, self.weight_ih, self.bias_ih), _affine(h, self.weight_hh, self.bias_hh), h)
        return h if batched else h.squeeze(0)


__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]
