"""Recurrent kernels: the RNN (tanh / relu), LSTM and GRU recurrences over a whole sequence (one op per layer and
direction), and the single steps that the cells and the reference composites share.

A layer computes the input projection of every time step as one GEMM before the scan op (xw = x W_ih^T + b,
shape (T, B, G * H) for G gates); the scan runs the time loop on raw arrays: one GEMM per step (h W_hh^T,
written into the step's gate buffer) and the gate nonlinearities in place. Its vjp is backpropagation through
time on arrays, one GEMM per step again, with the weight gradient of all steps as one GEMM after the loop.
One node per sequence instead of ~15 per step, and backward hands dxw back as one array (slicing xw per step
would give every step a full-size (T, B, G * H) gradient to add up).

Higher orders: backward with create_graph=True (or under vmap) and the jvp differentiate the reference composite
(the same recurrence written with dagrad ops, `*_reference`), so double backward, forward mode and jacrev are
exact; the array kernels serve first-order backward, the common case. Gate order and equations are PyTorch's:
  RNN   h' = tanh(xw + h W_hh^T)  (or relu)
  LSTM  i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of (xw + h W_hh^T);  c' = f c + i g;  h' = o tanh(c')
  GRU   hw = h W_hh^T + b_hh;  r, z = sigmoid(xw_r + hw_r), sigmoid(xw_z + hw_z);  n = tanh(xw_n + r hw_n);
        h' = (1 - z) n + z h
Reverse directions (bidirectional layers) walk the time steps from T - 1 down to 0 and write each h_t at its
own time position. `scan_batching_rule` is the scans' vmap rule (batched sequences fold into B).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from dagrad import backend
from dagrad.autograd import engine
from dagrad.autograd.function import Function, Sample
from dagrad.autograd.grad_mode import enable_grad, state
from dagrad.autograd.tensor import Tensor, _make
from dagrad.backend import namespace
from dagrad.ops import _direct_conv
from dagrad.ops.activation import relu, sigmoid
from dagrad.ops.sampling import arr, away
from dagrad.ops.shape import stack
from dagrad.ops.unary import tanh


def _steps(n: int, reverse: bool) -> range:
    """Time positions in processing order."""
    return range(n - 1, -1, -1) if reverse else range(n)


def _sigmoid_(a) -> None:
    """1 / (1 + exp(-a)) in place (exp overflows to inf for a << 0, which gives exactly 0)."""
    xp = namespace(a)
    xp.negative(a, out=a)
    xp.exp(a, out=a)
    a += 1
    xp.reciprocal(a, out=a)


def _transposed(w):
    """W^T as a contiguous array: the per-step GEMM h @ W^T runs 10-30% faster on it than on the transposed view,
    which pays for the copy after a step or two."""
    return namespace(w).ascontiguousarray(w.T)


def _pairs(n: int, reverse: bool) -> tuple[slice, slice, int]:
    """(later, prev, first): time slices that pair every step having a predecessor with that predecessor's time
    position, and the position of the first step in processing order (whose predecessor is the initial state)."""
    return (slice(0, n - 1), slice(1, n), n - 1) if reverse else (slice(1, n), slice(0, n - 1), 0)


def _weight_grad(d, hs, h0, reverse: bool):
    """sum_t d[t]^T h_prev[t]: (G, H) from per-step gradients d (T, B, G) and the outputs hs (T, B, H), where
    h_prev is the previous step's output (h0 for the first): one GEMM over the steps with a predecessor among the
    outputs, plus the first step's term."""
    later, prev, first = _pairs(len(d), reverse)
    w = d[first].T @ h0
    if len(d) > 1:
        w += d[later].reshape(-1, d.shape[-1]).T @ hs[prev].reshape(-1, hs.shape[-1])
    return w


_rnn_jit: Any = None  # dagrad.ops._rnn_kernels once imported; False where numba is missing or disabled


def _lstm_kernel(*arrays: Any) -> Any:
    """The numba kernel for a step of the LSTM's backward when it can take these arrays (NumPy floats of one
    dtype); else None."""
    global _rnn_jit
    if _rnn_jit is None:
        _rnn_jit = _direct_conv.companion("_rnn_kernels")
    return _rnn_jit.lstm_backward_gates if _rnn_jit is not False and _direct_conv.usable(*arrays) else None


def _lstm_gates(a, tc, c_prev, g_out, dh, dc, d) -> None:
    """One step back through the LSTM's gates with array ops (the fallback of dagrad.ops._rnn_kernels'
    lstm_backward_gates, same arguments): dh += g_out; dc += dh o (1 - tanh(c)^2); d = the gate pre-activations'
    gradients (B, 4H); dc *= f."""
    xp, H = namespace(a), tc.shape[-1]
    i, f, gg, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
    di, df, dg, do = d[:, :H], d[:, H : 2 * H], d[:, 2 * H : 3 * H], d[:, 3 * H :]
    tmp = xp.empty_like(tc)
    dh += g_out
    xp.multiply(tc, tc, out=tmp)  # dc += dh * o * (1 - tanh(c)^2)
    xp.subtract(1, tmp, out=tmp)
    tmp *= o
    tmp *= dh
    dc += tmp
    xp.subtract(1, o, out=tmp)  # do = dh * tanh(c) * o (1 - o)
    tmp *= o
    tmp *= tc
    xp.multiply(dh, tmp, out=do)
    xp.subtract(1, i, out=tmp)  # di = dc * g * i (1 - i)
    tmp *= i
    tmp *= gg
    xp.multiply(dc, tmp, out=di)
    xp.multiply(gg, gg, out=tmp)  # dg = dc * i * (1 - g^2)
    xp.subtract(1, tmp, out=tmp)
    tmp *= i
    xp.multiply(dc, tmp, out=dg)
    xp.subtract(1, f, out=tmp)  # df = dc * c_prev * f (1 - f)
    tmp *= f
    tmp *= c_prev
    xp.multiply(dc, tmp, out=df)
    dc *= f


def _wrap(node: Function, *grads) -> tuple:
    """Array gradients as tensors, None for the inputs that need none."""
    return tuple(_make(g) if g is not None and node.needs(i) else None for i, g in enumerate(grads))


def _vjp_by_reference(node: Function, g: Tensor, reference: Callable, **params) -> tuple:
    """The vjp of the reference composite, for create_graph=True (recorded, so that it can be differentiated again)
    and under vmap (jacrev's batched cotangents, which only dagrad ops can take)."""
    inputs = node.saved
    wrt = [i for i in range(len(inputs)) if node.needs(i)]
    with enable_grad():
        out = reference(*inputs, **params)
    grads = engine.grad(out, [inputs[i] for i in wrt], g, create_graph=state.grad, allow_unused=True)
    res = [None] * len(inputs)
    for i, gi in zip(wrt, grads):
        res[i] = gi
    return tuple(res)


def _jvp_by_reference(reference: Callable, inputs: tuple, **params) -> Tensor:
    """Forward mode through the reference composite: its ops push the inputs' tangents. Function.apply runs a
    jvp rule with forward mode switched off; dagrad has a single dual level, so it is switched back to 1 here."""
    state.fw = 1
    try:
        return reference(*inputs, **params)._tangent
    finally:
        state.fw = 0


# ---- single steps (dagrad ops): the cells and the reference composites ------------------------------------------


def rnn_step(pre: Tensor, nonlinearity: str = "tanh") -> Tensor:
    """h' = tanh(pre) or relu(pre), pre = x W_ih^T + h W_hh^T + biases (B, H)."""
    return relu(pre) if nonlinearity == "relu" else tanh(pre)


def lstm_step(pre: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """(h', c') from the gate pre-activations pre (B, 4H) in PyTorch's order i, f, g, o and the cell state c."""
    i, f, g, o = pre.chunk(4, -1)
    c = sigmoid(f) * c + sigmoid(i) * tanh(g)
    return sigmoid(o) * tanh(c), c


def gru_step(xi: Tensor, hw: Tensor, h: Tensor) -> Tensor:
    """h' from xi = x W_ih^T + b_ih and hw = h W_hh^T + b_hh (both (B, 3H), gates r, z, n) and h (B, H)."""
    xr, xz, xn = xi.chunk(3, -1)
    hr, hz, hn = hw.chunk(3, -1)
    r, z = sigmoid(xr + hr), sigmoid(xz + hz)
    n = tanh(xn + r * hn)
    return n + z * (h - n)


def _rnn_reference(xw, h0, w_hh, nonlinearity="tanh", reverse=False):
    hs, h, wt = [None] * len(xw), h0, w_hh.mT
    for t in _steps(len(xw), reverse):
        h = hs[t] = rnn_step(xw[t] + h @ wt, nonlinearity)
    return stack(hs)


def _lstm_reference(xw, h0, c0, w_hh, reverse=False):
    hs, h, c, wt = [None] * len(xw), h0, c0, w_hh.mT
    for t in _steps(len(xw), reverse):
        h, c = lstm_step(xw[t] + h @ wt, c)
        hs[t] = h
    return stack(hs + [c])


def _gru_reference(xw, h0, w_hh, b_hh, reverse=False):
    hs, h, wt = [None] * len(xw), h0, w_hh.mT
    for t in _steps(len(xw), reverse):
        hw = h @ wt
        h = hs[t] = gru_step(xw[t], hw if b_hh is None else hw + b_hh, h)
    return stack(hs)


# ---- torch counterparts for the samples: torch's own layers with W_ih = I take xw as their input -----------------


def _torch_scan(T, fn, xw, hx, w_hh, b_hh, reverse):
    x = xw.flip(0) if reverse else xw
    params = [T.eye(xw.shape[-1], dtype=xw.dtype), w_hh]
    if b_hh is not None:
        params += [T.zeros_like(b_hh), b_hh]
    out, *final = fn(x, hx, params, b_hh is not None, 1, 0.0, False, False, False)
    return (out.flip(0) if reverse else out), final


def _torch_rnn(T, xw, h0, w_hh, nonlinearity="tanh", reverse=False):
    fn = T.rnn_relu if nonlinearity == "relu" else T.rnn_tanh
    return _torch_scan(T, fn, xw, h0[None], w_hh, None, reverse)[0]


def _torch_lstm(T, xw, h0, c0, w_hh, reverse=False):
    out, (_, c) = _torch_scan(T, T.lstm, xw, (h0[None], c0[None]), w_hh, None, reverse)
    return T.cat([out, c])


def _torch_gru(T, xw, h0, w_hh, b_hh, reverse=False):
    return _torch_scan(T, T.gru, xw, h0[None], w_hh, b_hh, reverse)[0]


# ---- the scan ops ------------------------------------------------------------------------------------------------


class RNNScan(Function):
    """Elman recurrence h_t = act(xw_t + h_{t-1} W_hh^T) over xw (T, B, H) from h0 (B, H): out (T, B, H)."""

    __slots__ = ("nonlinearity", "reverse")
    retain = (0, 1, 2)
    keep_output = True

    def forward(self, xw, h0, w_hh, nonlinearity="tanh", reverse=False):
        self.nonlinearity, self.reverse = nonlinearity, reverse
        xp = namespace(xw)
        out, wt, h = xp.empty_like(xw), _transposed(w_hh), h0
        for t in _steps(len(xw), reverse):
            y = out[t]
            xp.matmul(h, wt, out=y)
            y += xw[t]
            if nonlinearity == "relu":
                xp.maximum(y, 0, out=y)
            else:
                xp.tanh(y, out=y)
            h = y
        return out

    def backward(self, g):
        if state.grad or state.vmap:
            return _vjp_by_reference(self, g, _rnn_reference, nonlinearity=self.nonlinearity, reverse=self.reverse)
        h0, w = self.saved[1].data, self.saved[2].data
        hs, gd = self.out, g.data
        xp = namespace(hs)
        if self.nonlinearity == "relu":  # act'(pre) of every step, from the outputs
            dxw = (hs > 0).astype(hs.dtype)
        else:
            dxw = xp.multiply(hs, hs)
            xp.subtract(1, dxw, out=dxw)
        dh = xp.zeros_like(h0)
        for t in reversed(_steps(len(hs), self.reverse)):
            d = dxw[t]
            dh += gd[t]
            d *= dh
            xp.matmul(d, w, out=dh)
        dw = _weight_grad(dxw, hs, h0, self.reverse) if self.needs(2) else None
        return _wrap(self, dxw, dh, dw)

    def jvp(self, inputs, out, t):
        return _jvp_by_reference(_rnn_reference, inputs, nonlinearity=self.nonlinearity, reverse=self.reverse)

    @staticmethod
    def samples():
        yield Sample(arr(3, 2, 3), arr(2, 3), arr(3, 3), torch=_torch_rnn)
        yield Sample(arr(3, 2, 3), arr(2, 3), arr(3, 3), reverse=True, torch=_torch_rnn, name="reverse")
        # |xw| >= 0.5 and a small W_hh keep every pre-activation away from relu's kink
        yield Sample(away(4, 2, 2, gap=0.5), arr(2, 2, low=0.1, high=0.5), arr(2, 2, low=-0.05, high=0.05),
                     nonlinearity="relu", torch=_torch_rnn, name="relu")  # fmt: skip


class LSTMScan(Function):
    """LSTM recurrence over xw (T, B, 4H) from h0, c0 (B, H) with W_hh (4H, H): out (T + 1, B, H) holds h_t at
    each time position and then the final cell state c_n."""

    __slots__ = ("reverse",)
    retain = (0, 1, 2, 3)
    keep_output = True

    def forward(self, xw, h0, c0, w_hh, reverse=False):
        self.reverse = reverse
        xp = namespace(xw)
        n, b, g4 = xw.shape
        H = g4 // 4
        keep = self.parents is not None  # recorded: backward needs every step's gates and cell states
        out = xp.empty((n + 1, b, H), xw.dtype)
        acts = xp.empty((n if keep else 1, b, g4), xw.dtype)  # the gate activations i, f, g, o
        cs = xp.empty((n if keep else 2, b, H), xw.dtype)
        tcs = xp.empty((n if keep else 1, b, H), xw.dtype)  # tanh(c_t)
        gg, tmp = xp.empty((b, H), xw.dtype), xp.empty((b, H), xw.dtype)
        wt, h, c = _transposed(w_hh), h0, c0
        with backend.numpy.errstate(over="ignore"):
            for t in _steps(n, reverse):
                k = t if keep else 0
                a = acts[k]
                xp.matmul(h, wt, out=a)
                a += xw[t]
                xp.tanh(a[:, 2 * H : 3 * H], out=gg)
                _sigmoid_(a)  # all four gates in one contiguous pass; g's slot gets tanh back below
                a[:, 2 * H : 3 * H] = gg
                c_new, tc = cs[t if keep else t % 2], tcs[k]
                xp.multiply(a[:, H : 2 * H], c, out=c_new)
                xp.multiply(a[:, :H], gg, out=tmp)
                c_new += tmp
                xp.tanh(c_new, out=tc)
                h, c = xp.multiply(a[:, 3 * H :], tc, out=out[t]), c_new
        out[n] = c
        if keep:
            self.cache = (acts, cs, tcs)
        return out

    def backward(self, g):
        if state.grad or state.vmap:
            return _vjp_by_reference(self, g, _lstm_reference, reverse=self.reverse)
        acts, cs, tcs = self.cache
        h0, c0, w = (x.data for x in self.saved[1:])
        n = len(acts)
        hs, gd = self.out[:n], g.data
        xp = namespace(hs)
        dacts, dh = xp.empty_like(acts), xp.zeros_like(h0)
        dc = gd[n].copy()
        steps = _steps(n, self.reverse)
        gates = _lstm_kernel(acts, c0, gd) or _lstm_gates
        for t in reversed(steps):
            c_prev = c0 if t == steps[0] else cs[t + 1 if self.reverse else t - 1]
            gates(acts[t], tcs[t], c_prev, gd[t], dh, dc, dacts[t])
            xp.matmul(dacts[t], w, out=dh)
        dw = _weight_grad(dacts, hs, h0, self.reverse) if self.needs(3) else None
        return _wrap(self, dacts, dh, dc, dw)

    def jvp(self, inputs, out, t):
        return _jvp_by_reference(_lstm_reference, inputs, reverse=self.reverse)

    @staticmethod
    def samples():
        yield Sample(arr(3, 1, 8), arr(1, 2), arr(1, 2), arr(8, 2), torch=_torch_lstm)
        yield Sample(arr(2, 1, 8), arr(1, 2), arr(1, 2), arr(8, 2), reverse=True, torch=_torch_lstm, name="reverse")


class GRUScan(Function):
    """GRU recurrence over xw = x W_ih^T + b_ih (T, B, 3H) from h0 (B, H) with W_hh (3H, H) and b_hh (3H,) or
    None: out (T, B, H)."""

    __slots__ = ("reverse",)
    retain = (0, 1, 2, 3)
    keep_output = True

    def forward(self, xw, h0, w_hh, b_hh, reverse=False):
        self.reverse = reverse
        xp = namespace(xw)
        n, b, g3 = xw.shape
        H = g3 // 3
        keep = self.parents is not None
        out = xp.empty((n, b, H), xw.dtype)
        acts = xp.empty((n if keep else 1, b, g3), xw.dtype)  # r, z, n
        hns = xp.empty((n if keep else 1, b, H), xw.dtype)  # h W_hn^T + b_hn, which r multiplies
        hw = xp.empty((b, g3), xw.dtype)
        wt, h = _transposed(w_hh), h0
        with backend.numpy.errstate(over="ignore"):
            for t in _steps(n, reverse):
                k = t if keep else 0
                a, x, hn = acts[k], xw[t], hns[k]
                xp.matmul(h, wt, out=hw)
                if b_hh is not None:
                    hw += b_hh
                rz, nn = a[:, : 2 * H], a[:, 2 * H :]
                xp.add(x[:, : 2 * H], hw[:, : 2 * H], out=rz)
                _sigmoid_(rz)
                hn[...] = hw[:, 2 * H :]
                xp.multiply(a[:, :H], hn, out=nn)
                nn += x[:, 2 * H :]
                xp.tanh(nn, out=nn)
                y = out[t]  # h' = n + z (h - n)
                xp.subtract(h, nn, out=y)
                y *= a[:, H : 2 * H]
                y += nn
                h = y
        if keep:
            self.cache = (acts, hns)
        return out

    def backward(self, g):
        if state.grad or state.vmap:
            return _vjp_by_reference(self, g, _gru_reference, reverse=self.reverse)
        acts, hns = self.cache
        h0, w = self.saved[1].data, self.saved[2].data
        hs, gd = self.out, g.data
        n, H = len(hs), h0.shape[-1]
        xp = namespace(hs)
        dxw, dh, tmp = xp.empty_like(acts), xp.zeros_like(h0), xp.empty_like(h0)
        dhn = xp.empty_like(hns)  # gradient of h W_hn^T + b_hn
        dhw = xp.empty(acts.shape[1:], acts.dtype)  # one step's gradient of h W_hh^T + b_hh
        steps = _steps(n, self.reverse)
        for t in reversed(steps):
            a, d, hn = acts[t], dxw[t], hns[t]
            r, z, nn = a[:, :H], a[:, H : 2 * H], a[:, 2 * H :]
            dr, dz, dn = d[:, :H], d[:, H : 2 * H], d[:, 2 * H :]
            h_prev = h0 if t == steps[0] else hs[t + 1 if self.reverse else t - 1]
            dh += gd[t]
            xp.subtract(1, z, out=tmp)  # dn = dh * (1 - z) * (1 - n^2)
            tmp *= dh
            xp.multiply(nn, nn, out=dn)
            xp.subtract(1, dn, out=dn)
            dn *= tmp
            xp.subtract(h_prev, nn, out=dz)  # dz = dh * (h_prev - n) * z (1 - z)
            dz *= dh
            xp.subtract(1, z, out=tmp)
            tmp *= z
            dz *= tmp
            xp.multiply(dn, r, out=dhn[t])
            xp.subtract(1, r, out=tmp)  # dr = dn * hn * r (1 - r)
            tmp *= r
            tmp *= hn
            xp.multiply(dn, tmp, out=dr)
            dhw[:, : 2 * H] = d[:, : 2 * H]
            dhw[:, 2 * H :] = dhn[t]
            dh *= z
            dh += xp.matmul(dhw, w, out=tmp)
        dw = db = None
        if self.needs(2):
            dw = xp.concatenate(
                [_weight_grad(dxw[..., : 2 * H], hs, h0, self.reverse), _weight_grad(dhn, hs, h0, self.reverse)]
            )  # fmt: skip
        if self.needs(3):
            db = xp.concatenate([dxw[..., : 2 * H].sum((0, 1)), dhn.sum((0, 1))])
        return _wrap(self, dxw, dh, dw, db)

    def jvp(self, inputs, out, t):
        return _jvp_by_reference(_gru_reference, inputs, reverse=self.reverse)

    @staticmethod
    def samples():
        yield Sample(arr(2, 2, 6), arr(2, 2), arr(6, 2), arr(6), torch=_torch_gru)
        yield Sample(arr(3, 1, 6), arr(1, 2), arr(6, 2), arr(6), reverse=True, torch=_torch_gru, name="reverse")
        yield Sample(arr(2, 2, 6), arr(2, 2), arr(6, 2), None, torch=_torch_gru, name="no bias")


def scan_batching_rule(cls: type[Function], args: list, batched: list, params: dict, bshape: tuple) -> Tensor:
    """The vmap batching rule of the scan ops (an entry of dagrad.func.vmap.RULES): args are physical tensors, the
    batched ones with the vmap dims bshape in front. With shared weights, batched sequences and states fold the vmap
    dims into the scan's own batch dim B (one scan); batched weights (per-example parameters) run one scan per
    example. Returns the output with bshape in front."""
    v, n_seq = math.prod(bshape), (3 if cls is LSTMScan else 2)  # xw and the initial states, then the weights
    flat = [a.reshape((v, *a.shape[len(bshape) :])) if b else a for a, b in zip(args, batched)]
    if any(batched[n_seq:]):
        outs = [cls.apply(*[a[j] if b else a for a, b in zip(flat, batched)], **params) for j in range(v)]
        out = stack(outs)
    else:
        full = [a if b else a.expand((v, *a.shape)) for a, b in zip(flat[:n_seq], batched[:n_seq])]
        n, b = full[0].shape[1:3]
        xw = full[0].permute(1, 0, 2, 3).reshape(n, v * b, -1)
        out = cls.apply(xw, *[h.reshape(v * b, -1) for h in full[1:]], *flat[n_seq:], **params)
        out = out.reshape(out.shape[0], v, b, -1).permute(1, 0, 2, 3)
    return out.reshape((*bshape, *out.shape[1:]))


__all__: list[str] = []
TENSOR_METHODS: dict = {}
