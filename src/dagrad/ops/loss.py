"""Losses (as torch.nn.functional): cross_entropy, nll_loss, mse_loss, l1_loss, smooth_l1_loss, huber_loss,
binary_cross_entropy, binary_cross_entropy_with_logits, kl_div, hinge_embedding_loss, multi_margin_loss, and
structured_loss, the general learning objective of the lecture notes.

Each loss is one op whose forward computes the per-element loss and its reduction ('none', 'sum', 'mean';
kl_div also 'batchmean') in one pass over arrays, with PyTorch's semantics and stable formulas: cross-entropy
and the structured loss take log-sum-exp with the max subtracted, BCE with logits is
max(x, 0) - x * y + log1p(exp(-|x|)). Backward rules are written with dagrad ops, so double backward works;
cross-entropy's gradient (softmax(x) - onehot, scaled) is its own op, CrossEntropyGrad, which reuses the
softmax that forward computed. Targets and weights enter the ops as parameters: PyTorch differentiates none
of the class indices, class weights, pos_weight or hinge targets either. Probability targets of cross_entropy
(a rare path) are log_softmax and a weighted sum, as in PyTorch.
"""

from __future__ import annotations

import warnings
from typing import Any

from dagrad import backend
from dagrad.autograd.function import Function, Sample
from dagrad.autograd.tensor import Tensor, _make
from dagrad.backend import namespace
from dagrad.errors import DtypeError, ShapeError
from dagrad.ops._util import promote, tsum
from dagrad.ops.activation import Sigmoid, Softplus
from dagrad.ops.elementwise import Clamp, Where, select
from dagrad.ops.indexing import Gather, Scatter
from dagrad.ops.reduction import _minus
from dagrad.ops.sampling import arr, away, distinct, ints, pos
from dagrad.ops.softmax import Softmax, log_softmax

_REDUCTIONS = ("none", "mean", "sum")
_INF = float("inf")  # NumPy's clip(x, lo, inf) runs ~3x faster than maximum(x, lo) against a scalar


def _inv(n: float) -> float:
    """1 / n; NaN for an empty mean, as torch (0 / 0)."""
    return 1.0 / n if n else float("nan")


def _ones(shape: tuple, like: Tensor) -> Tensor:
    return _make(namespace(like.data).ones(shape, like.dtype))


class _Loss(Function):
    """A loss op: forward ends in `reduce`; backward starts from `scale(g)`, forward mode ends in `total`."""

    __slots__ = ("reduction", "n")

    def reduce(self, loss: Any, reduction: str, count: float, total: Any = None) -> Any:
        """The per-element loss array as it is ('none'), summed, or summed and divided by count (the means).
        `total` is the sum when the caller has it already."""
        self.reduction, self.n = reduction, count
        if reduction == "none":
            return loss
        s = loss.sum() if total is None else total
        return s if reduction == "sum" else s * _inv(count)

    def scale(self, g: Tensor) -> Tensor:
        """The upstream gradient per element: g, or g / count after a mean (broadcasts against the loss)."""
        return g if self.reduction in ("none", "sum") else g * _inv(self.n)

    def total(self, t: Tensor) -> Tensor:
        """A per-element tangent reduced as the loss was."""
        if self.reduction == "none":
            return t
        s = t.sum()
        return s if self.reduction == "sum" else s * _inv(self.n)


class _Pointwise(_Loss):
    """An elementwise loss of an input and a target (broadcast together), times an optional constant weight;
    subclasses give the partials dx and dy times a factor G
    (the scaled upstream gradient in backward, a tangent in forward mode)."""

    __slots__ = ("weight",)
    retain = (0, 1)

    def backward(self, g):
        x, y = self.saved
        G = self.scale(g)
        if self.weight is not None:
            G = G * self.weight
        return (self.dx(x, y, G) if self.needs(0) else None), (self.dy(x, y, G) if self.needs(1) else None)

    def jvp(self, inputs, out, t):
        x, y = inputs
        d = tsum(None if t[0] is None else self.dx(x, y, t[0]), None if t[1] is None else self.dy(x, y, t[1]))
        return self.total(d if self.weight is None else d * self.weight)

    def dx(self, x: Tensor, y: Tensor, G: Tensor) -> Tensor:
        raise NotImplementedError

    def dy(self, x: Tensor, y: Tensor, G: Tensor) -> Tensor:
        raise NotImplementedError


def _torch(name: str):
    """A torch= callable for torch.nn.functional.<name>; array keyword arguments become tensors of the first
    input's dtype (the parity suite casts only the inputs)."""

    def call(T, *xs, **kw):
        kw = {k: T.as_tensor(v, dtype=xs[0].dtype) if hasattr(v, "shape") else v for k, v in kw.items()}
        return getattr(T.nn.functional, name)(*xs, **kw)

    return call


# ---- regression losses ---------------------------------------------------------------------------------------


def _weighted_count(loss: Any, weight: Any) -> float:
    """What a weighted 'mean' of mse_loss / l1_loss divides by (torch): the sum of the weights."""
    return loss.size if weight is None else float(weight.sum())


class MSE(_Pointwise):
    """w (x - y)^2 (w: an optional elementwise weight); reduced, the sum is one BLAS dot."""

    __slots__ = ()

    def forward(self, x, y, weight=None, reduction="mean"):
        self.weight = weight
        xp = namespace(x, y)
        d = xp.subtract(x, y)
        count = _weighted_count(d, weight)
        if reduction == "none":
            d *= d
            return self.reduce(d if weight is None else d * weight, reduction, count)
        flat = d.reshape(-1)
        if weight is None:
            return self.reduce(d, reduction, count, total=xp.dot(flat, flat))
        flat *= flat
        return self.reduce(d, reduction, count, total=xp.dot(flat, weight.reshape(-1)))

    def dx(self, x, y, G):
        return (x - y) * (G * 2.0)

    def dy(self, x, y, G):
        return (y - x) * (G * 2.0)

    @staticmethod
    def samples():
        torch = _torch("mse_loss")
        yield Sample(arr(3, 4), arr(3, 4), call=mse_loss, torch=torch)
        yield Sample(arr(2, 3, 2), arr(2, 3, 2), call=mse_loss, reduction="none", torch=torch, name="none")
        yield Sample(arr(5), arr(5), call=mse_loss, reduction="sum", torch=torch, name="sum")
        yield Sample(arr(3, 4), arr(3, 4), call=mse_loss, weight=pos(3, 4), torch=torch, name="weight")


class L1(_Pointwise):
    """w |x - y| (w: an optional elementwise weight); the gradient is w sign(x - y), constant, so second
    derivatives are 0."""

    __slots__ = ()

    def forward(self, x, y, weight=None, reduction="mean"):
        self.weight = weight
        xp = namespace(x, y)
        d = xp.subtract(x, y)
        xp.abs(d, out=d)
        if weight is not None:
            d *= weight
        return self.reduce(d, reduction, _weighted_count(d, weight))

    def dx(self, x, y, G):
        return G * namespace(x.data).sign(x.data - y.data)

    def dy(self, x, y, G):
        return G * namespace(x.data).sign(y.data - x.data)

    @staticmethod
    def samples():
        torch = _torch("l1_loss")
        x = arr(3, 4)
        yield Sample(x, x - away(3, 4), call=l1_loss, torch=torch)
        yield Sample(x, x + away(3, 4), call=l1_loss, reduction="none", torch=torch, name="none")
        yield Sample(x, x + away(3, 4), call=l1_loss, weight=pos(3, 4), torch=torch, name="weight")


class SmoothL1(_Pointwise):
    """0.5 d^2 / beta where |d| < beta, |d| - 0.5 beta elsewhere (d = x - y); with huber=True, beta times that
    (torch's huber_loss with delta = beta). Both pieces are c (|d| - c / 2) / beta with c = min(|d|, beta), so
    forward needs no select, and a reduced loss is one BLAS dot. The gradient is clamp(d, -beta, beta) / beta
    (huber: without the / beta), a clamp of x - y, so its second derivative comes out of the clamp."""

    __slots__ = ("beta", "huber")

    def forward(self, x, y, beta=1.0, huber=False, weight=None, reduction="mean"):
        self.weight, self.beta, self.huber = weight, beta, huber
        xp = namespace(x, y)
        a = xp.subtract(x, y)
        xp.abs(a, out=a)
        c = xp.clip(a, 0.0, beta)
        a -= c * 0.5
        k = 1.0 if huber else 1.0 / beta
        if weight is not None:
            c *= weight
        if reduction == "none":
            a *= c
            if not huber:
                a *= k
            return self.reduce(a, reduction, a.size)
        return self.reduce(a, reduction, a.size, total=xp.dot(a.reshape(-1), c.reshape(-1)) * k)

    def _slope(self, d: Tensor, G: Tensor) -> Tensor:
        return Clamp.apply(d, min=-self.beta, max=self.beta) * (G if self.huber else G * (1.0 / self.beta))

    def dx(self, x, y, G):
        return self._slope(x - y, G)

    def dy(self, x, y, G):
        return self._slope(y - x, G)

    @staticmethod
    def samples():
        inside = away(6) * 0.3  # |d| in [0.03, 0.45]: the quadratic part for beta = 0.8
        outside = away(6, gap=1.1)  # |d| in [1.1, 1.5]: the linear part
        d = namespace().concatenate([inside, outside]).reshape(3, 4)
        x = arr(3, 4)
        yield Sample(x, x - d, call=smooth_l1_loss, beta=0.8, torch=_torch("smooth_l1_loss"))
        yield Sample(x, x - d, call=huber_loss, delta=0.8, reduction="sum", torch=_torch("huber_loss"), name="huber")
        yield Sample(x, x - d, call=huber_loss, delta=0.8, weight=pos(3, 4), torch=_torch("huber_loss"),
                     name="huber-weight")  # fmt: skip
        yield Sample(x, x - d * 0.1, call=smooth_l1_loss, beta=2.0, reduction="none", torch=_torch("smooth_l1_loss"),
                     name="quadratic")  # fmt: skip


# ---- binary classification --------------------------------------------------------------------------------------


class BCE(_Pointwise):
    """-w (y log p + (1 - y) log(1 - p)) on probabilities p, each log clamped at -100 as torch (finite at 0 and 1);
    gradient w (p - y) / max(p (1 - p), 1e-12) for p and w (log(1 - p) - log p) for y."""

    __slots__ = ()

    def forward(self, p, y, weight=None, reduction="mean"):
        self.weight = weight
        xp = namespace(p, y)
        with backend.numpy.errstate(divide="ignore"):
            lp = xp.log(p)
            lq = xp.log1p(-p)
        xp.clip(lp, -100.0, 0.0, out=lp)
        xp.clip(lq, -100.0, 0.0, out=lq)
        lq *= y - 1
        lp *= y
        lq -= lp
        if weight is not None:
            lq = lq * weight
        return self.reduce(lq, reduction, lq.size)

    def dx(self, p, y, G):
        return (p - y) / Clamp.apply(p * (1 - p), min=1e-12) * G

    def dy(self, p, y, G):
        return ((-p).log1p() - p.log()) * G

    @staticmethod
    def samples():
        torch = _torch("binary_cross_entropy")
        p, y = arr(3, 4, low=0.05, high=0.95), arr(3, 4, low=0.0, high=1.0)
        yield Sample(p, y, call=binary_cross_entropy, torch=torch)
        yield Sample(p, y, call=binary_cross_entropy, weight=pos(4), reduction="none", torch=torch, name="weight")
        yield Sample(p[0], y[0], call=binary_cross_entropy, reduction="sum", torch=torch, name="sum")


class BCEWithLogits(_Pointwise):
    """BCE of sigmoid(x), stable for any logit: (1 - y) x + lw softplus(-x) with lw = 1 + (pos_weight - 1) y
    (max(x, 0) - x y + log1p(exp(-|x|)) without pos_weight), times w. Gradients: w (lw sigmoid(x) - pos_weight y)
    for x, w (pos_weight softplus(-x) - softplus(x)) for y."""

    __slots__ = ("pos_weight",)

    def forward(self, x, y, weight=None, pos_weight=None, reduction="mean"):
        self.weight, self.pos_weight = weight, pos_weight
        xp = namespace(x, y)
        soft = xp.abs(x)  # log1p(exp(-|x|)) = softplus(-x) - max(-x, 0)
        xp.negative(soft, out=soft)
        xp.exp(soft, out=soft)
        xp.log1p(soft, out=soft)
        if pos_weight is None:
            loss = xp.clip(x, 0.0, _INF)
            loss -= x * y
            loss += soft
        else:
            soft -= xp.clip(x, -_INF, 0.0)  # softplus(-x) = log1p(exp(-|x|)) + max(-x, 0)
            soft *= (pos_weight - 1) * y + 1
            loss = x * (1 - y)
            loss += soft
        if weight is not None:
            loss *= weight
        return self.reduce(loss, reduction, loss.size)

    def dx(self, x, y, G):
        s = Sigmoid.apply(x)
        pw = self.pos_weight
        if pw is None:
            return (s - y) * G
        return (s * ((pw - 1) * y + 1) - y * pw) * G

    def dy(self, x, y, G):
        if self.pos_weight is None:
            return -x * G
        return (Softplus.apply(-x) * self.pos_weight - Softplus.apply(x)) * G

    @staticmethod
    def samples():
        torch = _torch("binary_cross_entropy_with_logits")
        x, y = arr(3, 4), arr(3, 4, low=0.0, high=1.0)
        yield Sample(x, y, call=binary_cross_entropy_with_logits, torch=torch)
        yield Sample(x, y, call=binary_cross_entropy_with_logits, weight=pos(3, 1), pos_weight=pos(4),
                     reduction="none", torch=torch, name="weights")  # fmt: skip
        yield Sample(arr(2, 3) * 20, y[:2, :3], call=binary_cross_entropy_with_logits, pos_weight=pos(3),
                     reduction="sum", torch=torch, name="large")  # fmt: skip


# ---- distributions and margins -------------------------------------------------------------------------------------


class KLDiv(_Pointwise):
    """Pointwise KL divergence of log-probabilities x from a target: t (log t - x), 0 where t = 0 (xlogy), or
    exp(t) (t - x) with log_target."""

    __slots__ = ("log_target",)

    def forward(self, x, t, log_target=False, reduction="mean"):
        self.weight, self.log_target = None, log_target
        xp = namespace(x, t)
        if log_target:
            loss = xp.subtract(t, x)
            loss *= xp.exp(t)
        else:
            with backend.numpy.errstate(invalid="ignore"):
                loss = xp.log(xp.where(t == 0, 1, t))
            loss -= x
            loss *= t
        count = x.shape[0] if reduction == "batchmean" and x.ndim else loss.size
        return self.reduce(loss, "mean" if reduction == "batchmean" else reduction, count)

    def dx(self, x, t, G):
        return -(t.exp() if self.log_target else t) * G

    def dy(self, x, t, G):
        if self.log_target:
            return t.exp() * (t + 1 - x) * G
        keep = t.data > 0
        return Where.apply(keep, Where.apply(keep, t, 1.0).log() + 1 - x, 0.0) * G

    @staticmethod
    def samples():
        torch = _torch("kl_div")
        x = arr(3, 4)
        yield Sample(x, pos(3, 4) / 4, call=kl_div, reduction="batchmean", torch=torch)
        yield Sample(x, arr(3, 4), call=kl_div, reduction="sum", log_target=True, torch=torch, name="log_target")
        yield Sample(x, pos(3, 4), call=kl_div, reduction="none", torch=torch, name="none")


class HingeEmbedding(_Loss):
    """x where the target is 1, max(0, margin - x) where it is -1 (both terms where it is neither, as torch);
    piecewise linear, so the gradient is a constant slope per element."""

    __slots__ = ("target", "margin")
    retain = (0,)

    def forward(self, x, target, margin=1.0, reduction="mean"):
        self.target, self.margin = target, margin
        xp = namespace(x)
        hinge = xp.clip(margin - x, 0.0, _INF)
        loss = select(target != 1, hinge, xp.zeros((), x.dtype))
        loss = loss + select(target != -1, x, xp.zeros((), x.dtype))
        return self.reduce(loss, reduction, loss.size)

    def _slope(self, x: Any) -> Any:
        t = self.target
        s = (t != -1).astype(x.dtype)
        s -= (t != 1) & (x < self.margin)
        return s

    def backward(self, g):
        return self.scale(g) * self._slope(self.saved[0].data)

    def jvp(self, inputs, out, t):
        return self.total(t[0] * self._slope(inputs[0].data))

    @staticmethod
    def samples():
        torch = _torch("hinge_embedding_loss")
        sign = ints(2, 3, 4) * 2 - 1
        yield Sample(distinct(3, 4), sign, call=hinge_embedding_loss, torch=torch)
        yield Sample(distinct(3, 4), sign, call=hinge_embedding_loss, margin=0.5, reduction="none", torch=torch,
                     name="none")  # fmt: skip


class MultiMargin(_Loss):
    """sum over i != y of w[y] max(0, margin - x[y] + x[i])^p / C for each row of x (N, C), p = 1 or 2."""

    __slots__ = ("index", "p", "margin", "coef")
    retain = (0,)

    def forward(self, x, index, coef, p=1, margin=1.0, reduction="mean"):
        self.index, self.p, self.margin = index, p, margin
        self.coef = coef  # w[y] / C per row (N, 1)
        h = self._margins(x)
        xp = namespace(x)
        xp.clip(h, 0.0, _INF, out=h)
        if p == 2:
            h *= h
        loss = h.sum(axis=1, keepdims=True)
        loss *= coef
        return self.reduce(loss.reshape(-1), reduction, loss.size)

    def _margins(self, x: Any) -> Any:
        """margin - x[y] + x[i] (N, C) on arrays, 0 in each row's target column (which the sum leaves out)."""
        xp = namespace(x)
        h = xp.subtract(x, xp.take_along_axis(x, self.index, axis=1))
        h += self.margin
        xp.put_along_axis(h, self.index, 0, axis=1)
        return h

    def _slope(self, x: Tensor) -> Tensor:
        """d loss_n / d x[n, i] for i != y (0 at i = y), times C / w[y]: [h > 0] or 2 max(h, 0)."""
        on = self._margins(x.data) > 0
        if self.p == 1:
            return _make(on.astype(x.dtype))
        twice = on.astype(x.dtype)
        twice *= 2
        return (x - Gather.apply(x, self.index, dim=1) + self.margin) * twice

    def _apply(self, x: Tensor, G: Tensor) -> Tensor:
        """The rows' vjp: G a (N, 1) or 0-d factor; the target column gets minus the row's sum."""
        a = self._slope(x) * (G * self.coef)
        xp = namespace(x.data)
        hit = xp.zeros(x.shape, bool)
        xp.put_along_axis(hit, self.index, True, axis=1)
        return a - a.sum(1, keepdim=True) * hit

    def backward(self, g):
        G = self.scale(g)
        return self._apply(self.saved[0], G.reshape(-1, 1) if self.reduction == "none" else G)

    def jvp(self, inputs, out, t):
        x = inputs[0]
        d = (self._slope(x) * (t[0] - Gather.apply(t[0], self.index, dim=1))).sum(1, keepdim=True) * self.coef
        return self.total(d.reshape(-1))

    @staticmethod
    def samples():
        torch = _torch("multi_margin_loss")
        t = ints(5, 4)
        yield Sample(distinct(4, 5), t, call=multi_margin_loss, torch=torch)
        yield Sample(distinct(4, 5), t, call=multi_margin_loss, p=2, margin=0.5, weight=pos(5), reduction="none",
                     torch=torch, name="p2")  # fmt: skip
        yield Sample(distinct(4, 5), t, call=multi_margin_loss, p=2, reduction="sum", torch=torch, name="sum")


# ---- class-index losses --------------------------------------------------------------------------------------------


class _Classes:
    """Class-index targets of a (N, C, *d) input, checked and prepared once per call.

    index: (N, 1, *d) integer classes (ignored positions read class 0); flat: the offsets of those targets in a
    C-contiguous (N, C, *d) array (reads and writes by one fancy index); valid: (N, 1, *d) 1.0/0.0 in the input's
    dtype, None when nothing is ignored; coef: the weight of each position's target class, 0 where ignored, None
    when all are 1; weight: the class weights (C,), or None; wsum: their sum (C without weights); denom: what
    'mean' divides by (the sum of coef: torch's weighted mean); smoothing, classes: label_smoothing and C; scale:
    the sum over classes of each position's soft target (the gradient is scale * softmax - soft target).
    """

    __slots__ = ("index", "flat", "valid", "coef", "weight", "wsum", "denom", "smoothing", "classes", "scale")

    def __init__(self, op: str, x: Any, target: Any, weight: Any, ignore_index: int | None, smoothing: float) -> None:
        xp = namespace(x)
        n, c = x.shape[:2]
        index = target.astype(backend.int64, copy=False).reshape(target.shape[:1] + (1,) + target.shape[1:])
        self.valid = None
        if index.size:
            lo, hi = int(index.min()), int(index.max())
            if ignore_index is not None and lo <= ignore_index <= hi:
                ignored = index == ignore_index
                self.valid = (~ignored).astype(x.dtype)
                index = xp.where(ignored, 0, index)
                lo, hi = int(index.min()), int(index.max())
            if lo < 0 or hi >= c:
                bad = int(index[(index < 0) | (index >= c)][0])
                also = "" if ignore_index is None else f" (or ignore_index={ignore_index})"
                raise ShapeError(f"{op}: expected class indices in [0, {c}){also}, received index {bad}")
        inner = index.size // n if n else 1
        flat = (index + xp.arange(n).reshape((n,) + (1,) * (index.ndim - 1)) * c) * inner
        if inner > 1:
            flat += xp.arange(inner).reshape((1, 1) + index.shape[2:])
        self.index, self.flat, self.smoothing, self.classes = index, flat, float(smoothing), c
        self.coef = self.valid
        self.weight, self.wsum = None, float(c)
        if weight is not None:
            self.coef = weight[index] if self.valid is None else weight[index] * self.valid
            self.weight = weight
            self.wsum = float(weight.sum())
        self.denom = float(index.size) if self.coef is None else float(self.coef.sum())
        eps = self.smoothing
        share = eps * self.wsum / c
        if self.coef is None:
            self.scale = 1 - eps + share
        else:
            self.scale = self.coef * (1 - eps) + (share if self.valid is None else self.valid * share)


def _rowsum(a: Any, v: Any = None) -> Any:
    """The sum over dim 1 of a (N, C, *d), weighted by v (C,) when given, kept as size 1; one BLAS matrix-vector
    product when a is 2-d (3-4x NumPy's row reduction)."""
    if a.ndim == 2:
        return (a @ (namespace(a).ones(a.shape[1], a.dtype) if v is None else v))[:, None]
    return (a if v is None else a * v.reshape((1, -1) + (1,) * (a.ndim - 2))).sum(axis=1, keepdims=True)


def _softmax_loss(z: Any, spec: _Classes, keep: bool) -> tuple[Any, Any]:
    """Cross-entropy per position (N, *d) of logits z whose max along dim 1 is already subtracted, and, when
    `keep`, softmax(z) as the pair (exp(z), 1 / its sum) (None otherwise): backward scales exp(z) by 1 / sum and
    its own factor in one pass. z (a fresh array) is overwritten with exp(z)."""
    xp = namespace(z)
    eps = spec.smoothing
    zy = z.reshape(-1)[spec.flat]
    if eps:
        zw = _rowsum(z, spec.weight)
    xp.exp(z, out=z)
    se = _rowsum(z)
    lse = xp.log(se)
    loss = lse - zy  # -log softmax at the target
    if spec.coef is not None:
        loss *= spec.coef
    if eps:
        smooth = lse * spec.wsum
        smooth -= zw  # sum over classes of -w_c log softmax_c
        if spec.valid is not None:
            smooth *= spec.valid
        loss *= 1 - eps
        smooth *= eps / spec.classes
        loss += smooth
    return loss.reshape(loss.shape[:1] + loss.shape[2:]), ((z, xp.reciprocal(se, out=se)) if keep else None)


def _per_position(g: Any, spec: _Classes, reduction: str) -> Any:
    """g (array or tensor, the loss's shape) as a factor per position (N, 1, *d), or a 0-d one after a reduction."""
    if reduction == "none":
        return g.reshape(spec.index.shape)
    return g if reduction == "sum" else g * _inv(spec.denom)


class CrossEntropy(_Loss):
    """Cross-entropy of logits x (N, C, *d) against class indices, with class weights, ignore_index and label
    smoothing; log-sum-exp with the max subtracted. Forward keeps softmax(x) for CrossEntropyGrad."""

    __slots__ = ("spec",)
    retain = (0,)

    def forward(self, x, spec, reduction="mean"):
        self.spec = spec
        z = _minus(x, x.max(axis=1, keepdims=True))
        loss, self.cache = _softmax_loss(z, spec, self.parents is not None)
        return self.reduce(loss, reduction, spec.denom)

    def logits(self, x: Tensor) -> Tensor:
        """The logits the softmax is taken of, as a differentiable function of the input."""
        return x

    def backward(self, g):
        return CrossEntropyGrad.apply(self.logits(self.saved[0]), g, spec=self.spec, reduction=self.reduction,
                                      softmax=self.cache)  # fmt: skip

    def jvp(self, inputs, out, t):
        unit = CrossEntropyGrad.apply(self.logits(inputs[0]), _ones(out.shape, out), spec=self.spec,
                                      reduction=self.reduction, softmax=self.cache)  # fmt: skip
        d = unit * t[0]
        return d.sum(1) if self.reduction == "none" else d.sum()

    @staticmethod
    def samples():
        torch = _torch("cross_entropy")
        t = ints(5, 4)
        yield Sample(arr(4, 5), t, call=cross_entropy, torch=torch)
        yield Sample(arr(4, 5), t, call=cross_entropy, weight=pos(5), ignore_index=int(t[1]), reduction="sum",
                     torch=torch, name="weight-ignore")  # fmt: skip
        yield Sample(arr(2, 3, 4), ints(3, 2, 4), call=cross_entropy, weight=pos(3), label_smoothing=0.2,
                     reduction="none", torch=torch, name="spatial-smoothing")  # fmt: skip
        yield Sample(arr(4, 5), t, call=cross_entropy, weight=pos(5), ignore_index=int(t[0]), label_smoothing=0.1,
                     torch=torch, name="all")  # fmt: skip
        yield Sample(arr(5) * 10, ints(5), call=cross_entropy, torch=torch, name="unbatched")


class CrossEntropyGrad(Function):
    """g times d cross_entropy / d x = scale * softmax(x) - soft target, per position (torch's
    _log_softmax_backward + nll_loss_backward, fused); `softmax` is (exp(x - max), 1 / its sum) when forward has
    it. Differentiable in x (through the softmax) and g (it is linear in g)."""

    __slots__ = ("spec", "reduction")
    retain = (0, 1)

    def forward(self, x, g, spec, reduction="mean", softmax=None):
        self.spec, self.reduction, self.cache = spec, reduction, softmax
        xp = namespace(x)
        if softmax is None:
            e = _minus(x, x.max(axis=1, keepdims=True))
            xp.exp(e, out=e)
            softmax = e, 1 / _rowsum(e)
        e, r = softmax
        G = _per_position(g, spec, reduction)
        out = e * (G * spec.scale * r)
        eps = spec.smoothing
        if eps:
            spread = G * (eps / spec.classes)
            if spec.valid is not None:
                spread = spread * spec.valid
            if spec.weight is not None:
                spread = spread * spec.weight.reshape((1, -1) + (1,) * (x.ndim - 2))
            out -= spread
        hit = G * (1 - eps)
        if spec.coef is not None:
            hit = hit * spec.coef
        out.reshape(-1)[spec.flat] -= hit  # one target per position: no repeated offsets
        return out

    def _factor(self, g: Tensor) -> Tensor:
        """The softmax's coefficient per position: G * scale."""
        G = _per_position(g, self.spec, self.reduction)
        s = self.spec.scale
        return G if isinstance(s, float) and s == 1.0 else G * s

    def backward(self, gg):
        x, g = self.saved
        gx = gg_ = None
        if self.needs(0):
            P = Softmax.apply(x, dim=1)
            u = gg * self._factor(g)
            gx = P * (u - (u * P).sum(1, keepdim=True))
        if self.needs(1):
            unit = CrossEntropyGrad.apply(
                x, _ones(g.shape, g), spec=self.spec, reduction=self.reduction, softmax=self.cache
            )
            d = gg * unit
            gg_ = d.sum(1) if self.reduction == "none" else d.sum()
        return gx, gg_

    def jvp(self, inputs, out, t):
        x, g = inputs
        tx = tg = None
        if t[0] is not None:
            P = Softmax.apply(x, dim=1)
            v = t[0] * P
            tx = (v - P * v.sum(1, keepdim=True)) * self._factor(g)
        if t[1] is not None:
            tg = CrossEntropyGrad.apply(x, t[1], spec=self.spec, reduction=self.reduction, softmax=self.cache)
        return tsum(tx, tg)

    @staticmethod
    def samples():
        t = ints(5, 4)
        yield Sample(arr(4, 5), arr(), call=_ce_grad, target=t, torch=_torch_ce_grad)
        yield Sample(arr(2, 3, 2), arr(2, 2), call=_ce_grad, target=ints(3, 2, 2), weight=pos(3), ignore_index=0,
                     label_smoothing=0.3, reduction="none", torch=_torch_ce_grad, name="all")  # fmt: skip


def _ce_grad(x: Tensor, g: Tensor, target: Any, reduction: str = "mean", **kw: Any) -> Tensor:
    """CrossEntropyGrad on fixed targets (for its samples)."""
    x, spec, _ = _class_input("cross_entropy", x, _make(target), kw.get("weight"), kw.get("ignore_index", -100),
                              kw.get("label_smoothing", 0.0))  # fmt: skip
    return CrossEntropyGrad.apply(x, g, spec=spec, reduction=reduction)


def _torch_ce_grad(T, x, g, target, reduction="mean", **kw):
    loss = _torch("cross_entropy")(T, x, T.as_tensor(target), reduction=reduction, **kw)
    return T.autograd.grad(loss, x, g, create_graph=True)[0]


class NLL(_Loss):
    """-w[y] x[y] per position of log-probabilities x (N, C, *d), 0 where the target is ignore_index."""

    __slots__ = ("spec",)

    def forward(self, x, spec, reduction="mean"):
        self.spec = spec
        xp = namespace(x)
        loss = xp.take_along_axis(x, spec.index, axis=1)
        xp.negative(loss, out=loss)
        if spec.valid is not None:
            loss = select(spec.valid > 0, loss, xp.zeros((), x.dtype))  # 0 even where x is -inf there
        if spec.coef is not None:
            loss *= spec.coef
        return self.reduce(loss.reshape(loss.shape[:1] + loss.shape[2:]), reduction, spec.denom)

    def _hit(self, G: Tensor) -> Tensor:
        """-G per position times the target class weight: the values the gradient puts at the targets."""
        return -G if self.spec.coef is None else G * -self.spec.coef

    def backward(self, g):
        idx = self.spec.index
        vals = self._hit(_per_position(g, self.spec, self.reduction))
        zeros = _make(namespace(g.data).zeros(idx.shape[:1] + (self.spec.classes,) + idx.shape[2:], g.dtype))
        return Scatter.apply(zeros, idx, vals, dim=1, inplace=True)

    def jvp(self, inputs, out, t):
        d = self._hit(Gather.apply(t[0], self.spec.index, dim=1))
        return self.total(d.reshape(out.shape) if self.reduction == "none" else d)

    @staticmethod
    def samples():
        torch = _torch("nll_loss")
        t = ints(5, 4)
        yield Sample(arr(4, 5), t, call=nll_loss, torch=torch)
        yield Sample(arr(4, 5), t, call=nll_loss, weight=pos(5), ignore_index=int(t[2]), reduction="sum",
                     torch=torch, name="weight-ignore")  # fmt: skip
        yield Sample(arr(2, 3, 4), ints(3, 2, 4), call=nll_loss, weight=pos(3), reduction="none", torch=torch,
                     name="spatial")  # fmt: skip
        yield Sample(arr(4, 5), t, call=nll_loss, weight=pos(5), ignore_index=int(t[0]), torch=torch, name="mean")


class Structured(CrossEntropy):
    """The lecture notes' general learning objective over class scores F (N, C) with a task loss L (C, C):
    eps * log sum_c exp((L[y, c] + F[c]) / eps) - F[y]. It is eps * cross_entropy(z, y) + L[y, y] with logits
    z = (L[y] + F) / eps, so its gradient is CrossEntropyGrad of z: softmax(z) - onehot(y)."""

    __slots__ = ("rows", "eps")

    def forward(self, f, spec, task_loss, epsilon=1.0, reduction="mean"):
        self.spec, self.eps = spec, epsilon
        y = spec.index[:, 0]
        self.rows = task_loss[y]  # L[y] (N, C)
        z = self.rows + f
        z *= 1.0 / epsilon
        z -= z.max(axis=1, keepdims=True)
        loss, self.cache = _softmax_loss(z, spec, self.parents is not None)
        loss *= epsilon
        loss += self.rows.reshape(-1)[spec.flat[:, 0]]
        return self.reduce(loss, reduction, spec.denom)

    def logits(self, f: Tensor) -> Tensor:
        return (f + self.rows) * (1.0 / self.eps)

    @staticmethod
    def samples():
        # no torch=: PyTorch has no such loss (tests/nn/test_loss.py checks it against its definition)
        t = ints(5, 4)
        yield Sample(arr(4, 5), t, call=structured_loss)
        yield Sample(arr(4, 5), t, call=structured_loss, task_loss=pos(5, 5), epsilon=0.5, reduction="none",
                     name="task-loss")  # fmt: skip
        yield Sample(arr(4, 5), t, call=structured_loss, epsilon=0.2, reduction="sum", name="sharp")


# ---- argument checks -------------------------------------------------------------------------------------------


def _reduction(op: str, reduction: Any, size_average: Any = None, reduce: Any = None, extra: tuple = ()) -> str:
    """The reduction, from torch's deprecated size_average / reduce flags when either is given."""
    if size_average is not None or reduce is not None:
        reduced = reduce is None or bool(reduce)
        if not reduced:
            return "none"
        return "mean" if size_average is None or size_average else "sum"
    if reduction not in _REDUCTIONS + extra:
        choices = ", ".join(repr(r) for r in _REDUCTIONS + extra)
        raise ShapeError(f"{op}: expected reduction to be one of {choices}, received reduction={reduction!r}")
    return reduction


def _float_tensor(op: str, x: Any, what: str = "input") -> Tensor:
    if not isinstance(x, Tensor):
        raise DtypeError(f"{op}: expected {what} to be a Tensor, received {type(x).__name__}")
    if x.dtype.kind != "f":
        raise DtypeError(f"{op}: expected a floating point {what}, received dtype {x.dtype}")
    return x


def _array(op: str, name: str, v: Any, x: Tensor, shape: tuple | None = None) -> Any:
    """A constant argument (weight, pos_weight, task_loss) as an array of x's dtype; None stays None."""
    if v is None:
        return None
    xp = namespace(x.data)
    a = (v.data if isinstance(v, Tensor) else xp.asarray(v)).astype(x.dtype, copy=False)
    if shape is not None and a.shape != shape:
        raise ShapeError(f"{op}: expected {name} of shape {shape}, received shape {a.shape}")
    if shape is None:
        try:
            xp.broadcast_shapes(a.shape, x.shape)
        except ValueError:
            raise ShapeError(
                f"{op}: expected {name} broadcastable to the input's shape {x.shape}, received shape {a.shape}"
            ) from None
    return a


def _pair(op: str, input: Any, target: Any, same_shape: bool = False) -> tuple[Tensor, Tensor]:
    """input and target as tensors of the input's floating dtype. Different shapes broadcast with a warning, as
    torch (usually an (N, 1) versus (N,) mistake); same_shape losses (the BCEs, as torch) raise instead."""
    x = _float_tensor(op, input)
    if not isinstance(target, Tensor):
        raise DtypeError(f"{op}: expected target to be a Tensor, received {type(target).__name__}")
    x, y = promote(x, target)
    if y.dtype != x.dtype:
        y = y.to(x.dtype)
    if x.shape != y.shape:
        if same_shape:
            raise ShapeError(f"{op}: expected target of the input's shape {x.shape}, received shape {y.shape}")
        try:
            shape = namespace(x.data).broadcast_shapes(x.shape, y.shape)
        except ValueError:
            raise ShapeError(
                f"{op}: expected target of the input's shape {x.shape} (or broadcastable to it), "
                f"received shape {y.shape}"
            ) from None
        warnings.warn(
            f"{op}: target shape {y.shape} differs from input shape {x.shape}; both broadcast to {shape}, "
            "which is rarely what is meant",
            UserWarning,
            stacklevel=3,
        )
    return x, y


def _class_input(
    op: str,
    input: Any,
    target: Any,
    weight: Any = None,
    ignore_index: int | None = None,
    smoothing: float = 0.0,
    probabilities: bool = False,
) -> tuple[Tensor, Any, bool]:
    """(input as (N, C, *d), prepared _Classes or None for probability targets, whether it was unbatched (C,)).
    probabilities: float targets of the input's shape are allowed (cross_entropy)."""
    x = _float_tensor(op, input)
    if not isinstance(target, Tensor):
        raise DtypeError(f"{op}: expected target to be a Tensor, received {type(target).__name__}")
    if x.ndim == 0:
        raise ShapeError(f"{op}: expected input of shape (C,), (N, C) or (N, C, d1, ...), received shape ()")
    unbatched = x.ndim == 1
    c = x.shape[0] if unbatched else x.shape[1]
    want = () if unbatched else x.shape[:1] + x.shape[2:]
    if not 0.0 <= smoothing <= 1.0:
        raise ShapeError(f"{op}: expected label_smoothing in [0, 1], received label_smoothing={smoothing}")
    if unbatched:
        x = x.reshape(1, c)
        target = target.reshape(1, *target.shape)
    w = _array(op, "weight (one per class)", weight, x, (c,))
    kind = target.dtype.kind
    if probabilities and kind == "f" and target.shape == x.shape:
        return x, None, unbatched
    shape = target.shape[1:] if unbatched else target.shape
    if shape != want or kind not in "iu":
        alt = f" or a float target of the input's shape {input.shape} with class probabilities"
        alt = alt if probabilities and kind == "f" else ""
        if shape != want:
            raise ShapeError(
                f"{op}: expected target of shape {want} with class indices in [0, {c}){alt}, received shape {shape}"
            )
        raise DtypeError(
            f"{op}: expected an integer target with class indices in [0, {c}){alt}, received dtype {target.dtype}"
        )
    return x, _Classes(op, x.data, target.data, w, ignore_index, smoothing), unbatched


def _unbatch(out: Tensor, unbatched: bool) -> Tensor:
    return out.reshape(()) if unbatched and out.ndim else out


# ---- functional forms ------------------------------------------------------------------------------------------


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Any = None,
    size_average: Any = None,
    ignore_index: int = -100,
    reduce: Any = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy of logits (C,), (N, C) or (N, C, d1, ...) against class indices (the shape without C) or
    class probabilities (the input's shape). 'mean' over class indices divides by the summed weights of the
    non-ignored targets; over probabilities by the number of positions (N * d1 * ...), as torch."""
    reduction = _reduction("cross_entropy", reduction, size_average, reduce)
    x, spec, unbatched = _class_input("cross_entropy", input, target, weight, ignore_index, label_smoothing, True)
    if spec is not None:
        return _unbatch(CrossEntropy.apply(x, spec=spec, reduction=reduction), unbatched)
    c = x.shape[1]
    t = target.reshape(x.shape) if unbatched else target
    if label_smoothing:
        t = t * (1 - label_smoothing) + label_smoothing / c
    if weight is not None:
        t = t * _array("cross_entropy", "weight", weight, x, (c,)).reshape((1, c) + (1,) * (x.ndim - 2))
    loss = -(log_softmax(x, 1) * t).sum(1)
    if reduction == "none":
        return _unbatch(loss, unbatched)
    return loss.sum() if reduction == "sum" else loss.mean()


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Any = None,
    size_average: Any = None,
    ignore_index: int = -100,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of log-probabilities (C,), (N, C) or (N, C, d1, ...) at class indices; 'mean'
    divides by the summed weights of the non-ignored targets."""
    reduction = _reduction("nll_loss", reduction, size_average, reduce)
    x, spec, unbatched = _class_input("nll_loss", input, target, weight, ignore_index)
    return _unbatch(NLL.apply(x, spec=spec, reduction=reduction), unbatched)


def _elementwise_weight(op: str, weight: Any, x: Tensor) -> Any:
    """mse_loss / l1_loss / huber_loss's weight: one per element of the input (a constant here, as the other
    losses' weights; torch differentiates this one)."""
    w = _array(op, "weight", weight, x)
    if w is not None and w.shape != x.shape:
        raise ShapeError(f"{op}: expected weight of the input's shape {x.shape}, received shape {w.shape}")
    return w


def mse_loss(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    weight: Any = None,
) -> Tensor:
    """Squared error (x - y)^2, times weight (one per element) when given; a weighted 'mean' divides by the sum
    of the weights."""
    reduction = _reduction("mse_loss", reduction, size_average, reduce)
    x, y = _pair("mse_loss", input, target)
    return MSE.apply(x, y, weight=_elementwise_weight("mse_loss", weight, x), reduction=reduction)


def l1_loss(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    weight: Any = None,
) -> Tensor:
    """Absolute error |x - y|, times weight (one per element) when given; a weighted 'mean' divides by the sum
    of the weights."""
    reduction = _reduction("l1_loss", reduction, size_average, reduce)
    x, y = _pair("l1_loss", input, target)
    return L1.apply(x, y, weight=_elementwise_weight("l1_loss", weight, x), reduction=reduction)


def smooth_l1_loss(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    """Quadratic (0.5 d^2 / beta) for |d| < beta, else linear (|d| - 0.5 beta); beta = 0 is l1_loss."""
    reduction = _reduction("smooth_l1_loss", reduction, size_average, reduce)
    if beta < 0:
        raise ShapeError(f"smooth_l1_loss: expected beta >= 0, received beta={beta}")
    x, y = _pair("smooth_l1_loss", input, target)
    if beta == 0:
        return L1.apply(x, y, reduction=reduction)
    return SmoothL1.apply(x, y, beta=float(beta), reduction=reduction)


def huber_loss(
    input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0, weight: Any = None
) -> Tensor:
    """0.5 d^2 for |d| <= delta, else delta (|d| - 0.5 delta): smooth_l1_loss(beta=delta) times delta; times
    weight (one per element) when given, with a plain 'mean' (as torch)."""
    reduction = _reduction("huber_loss", reduction)
    if not delta > 0:
        raise ShapeError(f"huber_loss: expected delta > 0, received delta={delta}")
    x, y = _pair("huber_loss", input, target)
    w = _elementwise_weight("huber_loss", weight, x)
    return SmoothL1.apply(x, y, beta=float(delta), huber=True, weight=w, reduction=reduction)


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Any = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """BCE of probabilities in [0, 1] (logs clamped at -100); weight broadcasts against the input."""
    reduction = _reduction("binary_cross_entropy", reduction, size_average, reduce)
    x, y = _pair("binary_cross_entropy", input, target, same_shape=True)
    if x.data.size and not (x.data.min() >= 0 and x.data.max() <= 1):
        raise ShapeError(
            "binary_cross_entropy: expected input probabilities in [0, 1] (for logits use "
            f"binary_cross_entropy_with_logits), received values in [{x.data.min()}, {x.data.max()}]"
        )
    w = _array("binary_cross_entropy", "weight", weight, x)
    return BCE.apply(x, y, weight=w, reduction=reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Any = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    pos_weight: Any = None,
) -> Tensor:
    """BCE of sigmoid(input), computed stably from the logits; pos_weight scales the positive term (broadcast
    along the last dim), weight every term."""
    op = "binary_cross_entropy_with_logits"
    reduction = _reduction(op, reduction, size_average, reduce)
    x, y = _pair(op, input, target, same_shape=True)
    w, pw = _array(op, "weight", weight, x), _array(op, "pos_weight", pos_weight, x)
    return BCEWithLogits.apply(x, y, weight=w, pos_weight=pw, reduction=reduction)


def kl_div(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """KL divergence of log-probabilities `input` from `target` (probabilities, or log-probabilities with
    log_target); 'batchmean' divides the sum by the batch size (the mathematical KL), 'mean' by the element count."""
    reduction = _reduction("kl_div", reduction, size_average, reduce, extra=("batchmean",))
    x, t = _pair("kl_div", input, target)
    return KLDiv.apply(x, t, log_target=bool(log_target), reduction=reduction)


def hinge_embedding_loss(
    input: Tensor,
    target: Tensor,
    margin: float = 1.0,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """x where target is 1, max(0, margin - x) where it is -1."""
    reduction = _reduction("hinge_embedding_loss", reduction, size_average, reduce)
    x = _float_tensor("hinge_embedding_loss", input)
    if not isinstance(target, Tensor):
        raise DtypeError(f"hinge_embedding_loss: expected target to be a Tensor, received {type(target).__name__}")
    if target.shape != x.shape:
        raise ShapeError(
            f"hinge_embedding_loss: expected target of the input's shape {x.shape} with values 1 or -1, "
            f"received shape {target.shape}"
        )
    return HingeEmbedding.apply(x, target=target.data, margin=float(margin), reduction=reduction)


def multi_margin_loss(
    input: Tensor,
    target: Tensor,
    p: int = 1,
    margin: float = 1.0,
    weight: Any = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """Multiclass hinge loss of scores (N, C) or (C,): sum over i != y of w[y] max(0, margin - x[y] + x[i])^p / C."""
    op = "multi_margin_loss"
    reduction = _reduction(op, reduction, size_average, reduce)
    if p not in (1, 2):
        raise ShapeError(f"{op}: expected p to be 1 or 2, received p={p!r}")
    if isinstance(input, Tensor) and input.ndim not in (1, 2):
        raise ShapeError(f"{op}: expected input of shape (C,) or (N, C), received shape {input.shape}")
    x, spec, unbatched = _class_input(op, input, target, weight)
    coef = (spec.coef if spec.coef is not None else namespace(x.data).ones(spec.index.shape, x.dtype)) / spec.classes
    out = MultiMargin.apply(x, index=spec.index, p=p, margin=float(margin), coef=coef, reduction=reduction)
    return _unbatch(out, unbatched)


def structured_loss(
    input: Tensor, target: Tensor, task_loss: Any = None, epsilon: float = 1.0, reduction: str = "mean"
) -> Tensor:
    """The general learning objective eps * log sum_c exp((L[y, c] + F[c]) / eps) - F[y] of class scores F
    (N, C) or (C,) with targets y and a task-loss matrix L (C, C), by default the 0/1 loss 1 - I.

    epsilon = 1 with L = 0 is cross-entropy; as epsilon -> 0 it tends to the structured hinge (multiclass SVM)
    loss max_c (L[y, c] + F[c]) - F[y]. Stable for any epsilon > 0 (log-sum-exp with the max subtracted).
    """
    op = "structured_loss"
    reduction = _reduction(op, reduction)
    if not epsilon > 0:
        raise ShapeError(f"{op}: expected epsilon > 0, received epsilon={epsilon}")
    if isinstance(input, Tensor) and input.ndim not in (1, 2):
        raise ShapeError(f"{op}: expected scores of shape (C,) or (N, C), received shape {input.shape}")
    x, spec, unbatched = _class_input(op, input, target)
    c = spec.classes
    if task_loss is None:
        L = 1 - namespace(x.data).eye(c, dtype=x.dtype)
    else:
        L = _array(op, "task_loss", task_loss, x, (c, c))
    out = Structured.apply(x, spec=spec, task_loss=L, epsilon=float(epsilon), reduction=reduction)
    return _unbatch(out, unbatched)


__all__ = [
    "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "kl_div", "hinge_embedding_loss", "multi_margin_loss", "structured_loss",
]  # fmt: skip
TENSOR_METHODS: dict = {}
