"""Losses against torch.nn: every module and reduction in float64 and float32 (outputs, input and target
gradients, train and eval mode), the structured loss against its definition and its limits, and error messages."""

import math
import warnings
import zlib

import numpy as np
import pytest

import dagrad as dg
from dagrad.nn import loss as L
from dagrad.ops import loss as F

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)


def _np(t):
    return t.detach().numpy()


def _normal(*shape):
    return RNG.standard_normal(shape)


def _uniform(lo, hi, *shape):
    return RNG.uniform(lo, hi, shape)


def _log_probs(*shape):
    x = _normal(*shape)
    return x - np.log(np.exp(x).sum(axis=1, keepdims=True))


def _probs(*shape):
    return np.exp(_log_probs(*shape))


def _labels(c, *shape):
    return RNG.integers(0, c, shape)


W5 = _uniform(0.2, 2.0, 5)
T6 = _labels(5, 6)
T6[[1, 4]] = 2  # ignore_index=2 below drops these (and any other 2s)

# (module class name, constructor kwargs, input, target); float targets are differentiated where torch does
CASES = [
    ("CrossEntropyLoss", {}, _normal(6, 5), T6),
    ("CrossEntropyLoss", {"weight": W5}, _normal(6, 5), T6),
    ("CrossEntropyLoss", {"ignore_index": 2}, _normal(6, 5), T6),
    ("CrossEntropyLoss", {"label_smoothing": 0.15}, _normal(6, 5), T6),
    ("CrossEntropyLoss", {"weight": W5, "ignore_index": 2, "label_smoothing": 0.3}, _normal(6, 5), T6),
    ("CrossEntropyLoss", {"weight": W5[:3], "label_smoothing": 0.1}, _normal(3, 3, 2, 2), _labels(3, 3, 2, 2)),
    ("CrossEntropyLoss", {}, _normal(5) * 30, np.array(3)),
    ("CrossEntropyLoss", {}, _normal(6, 5), _probs(6, 5)),
    ("CrossEntropyLoss", {"weight": W5, "label_smoothing": 0.2}, _normal(6, 5), _probs(6, 5)),
    ("CrossEntropyLoss", {"weight": W5[:3]}, _normal(2, 3, 4), _probs(2, 3, 4)),
    ("NLLLoss", {}, _log_probs(6, 5), T6),
    ("NLLLoss", {"weight": W5, "ignore_index": 2}, _log_probs(6, 5), T6),
    ("NLLLoss", {"weight": W5[:3]}, _log_probs(3, 3, 4), _labels(3, 3, 4)),
    ("NLLLoss", {}, _log_probs(1, 5)[0], np.array(4)),
    ("MSELoss", {}, _normal(4, 5), _normal(4, 5)),
    ("L1Loss", {}, _normal(4, 5), _normal(4, 5)),
    ("SmoothL1Loss", {}, _normal(4, 5), _normal(4, 5)),
    ("SmoothL1Loss", {"beta": 0.4}, _normal(4, 5), _normal(4, 5)),
    ("SmoothL1Loss", {"beta": 0.0}, _normal(4, 5), _normal(4, 5)),
    ("HuberLoss", {"delta": 0.7}, _normal(4, 5), _normal(4, 5)),
    ("BCELoss", {}, _uniform(0.02, 0.98, 4, 5), _uniform(0, 1, 4, 5)),
    ("BCELoss", {"weight": W5}, _uniform(0.02, 0.98, 4, 5), RNG.integers(0, 2, (4, 5)).astype(float)),
    ("BCEWithLogitsLoss", {}, _normal(4, 5) * 3, _uniform(0, 1, 4, 5)),
    ("BCEWithLogitsLoss", {"weight": W5, "pos_weight": W5[::-1].copy()}, _normal(4, 5) * 3, _uniform(0, 1, 4, 5)),
    ("BCEWithLogitsLoss", {"pos_weight": W5}, np.array([[-1000.0, 1000, -30, 30, 0]]), np.array([[1.0, 0, 1, 0, 1]])),
    ("KLDivLoss", {}, _log_probs(4, 5), _probs(4, 5)),
    ("KLDivLoss", {"log_target": True}, _log_probs(4, 5), _log_probs(4, 5)),
    ("KLDivLoss", {}, _log_probs(4, 5), np.where(_probs(4, 5) > 0.3, 0.0, 0.1)),
    ("HingeEmbeddingLoss", {}, _normal(4, 5), RNG.choice([-1.0, 1.0], (4, 5))),
    ("HingeEmbeddingLoss", {"margin": 0.3}, _normal(4, 5), RNG.choice([-1, 1], (4, 5))),
    ("MultiMarginLoss", {}, _normal(6, 5), T6),
    ("MultiMarginLoss", {"p": 2, "margin": 0.7, "weight": W5}, _normal(6, 5), T6),
    ("MultiMarginLoss", {}, _normal(5), np.array(1)),
]
REDUCTIONS = {"KLDivLoss": ("none", "sum", "mean", "batchmean"), "HuberLoss": ("none", "sum", "mean")}
TOL = {np.float64: (1e-6, 1e-8), np.float32: (1e-4, 1e-5)}


def _params():
    out = []
    for i, (name, kwargs, x, t) in enumerate(CASES):
        for reduction in REDUCTIONS.get(name, ("none", "sum", "mean")):
            out.append(pytest.param(name, kwargs, x, t, reduction, id=f"{i}-{name}-{reduction}"))
    return out


def _build(lib, name, kwargs, reduction, dtype):
    """The module of dagrad (lib=dg) or torch with its array arguments as tensors of dtype."""
    tensor = (lambda a: dg.tensor(a.astype(dtype))) if lib is dg else (lambda a: torch.tensor(a.astype(dtype)))
    kw = {k: tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    cls = getattr(L, name) if lib is dg else getattr(torch.nn, name)
    return cls(reduction=reduction, **kw)


def _close(ours, theirs, dtype, what):
    rtol, atol = TOL[dtype]
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=what)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name,kwargs,x,t,reduction", _params())
def test_module_matches_torch(name, kwargs, x, t, reduction, dtype):
    ours, theirs = _build(dg, name, kwargs, reduction, dtype), _build(torch, name, kwargs, reduction, dtype)
    float_target = t.dtype.kind == "f"
    t = t.astype(dtype) if float_target else t
    xd, xt = dg.tensor(x.astype(dtype), requires_grad=True), torch.tensor(x.astype(dtype), requires_grad=True)
    grad_t = float_target and name not in ("HingeEmbeddingLoss",)
    td, tt = dg.tensor(t, requires_grad=grad_t), torch.tensor(t, requires_grad=grad_t)
    for mode in ("train", "eval"):
        getattr(ours, mode)(), getattr(theirs, mode)()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns that kl_div's 'mean' is not the mathematical KL
            yt = theirs(xt, tt)
        yd = ours(xd, td)
        assert yd.shape == tuple(yt.shape) and yd.dtype == dtype
        _close(_np(yd), _np(yt), dtype, f"{name} {mode} output")
        seed = zlib.crc32(f"{name} {reduction} {mode}".encode())  # the same upstream gradient whatever ran before
        g = np.random.default_rng(seed).standard_normal(yd.shape).astype(dtype)
        wrt_d, wrt_t = [xd, td] if grad_t else [xd], [xt, tt] if grad_t else [xt]
        gd = dg.autograd.grad(yd, wrt_d, dg.tensor(g))
        gt = torch.autograd.grad(yt, wrt_t, torch.tensor(g))
        for k, (a, b) in enumerate(zip(gd, gt)):
            a, b = _np(a), _np(b)
            assert a.dtype == dtype, f"{name}: gradient dtype {a.dtype}, expected {dtype}"
            if name == "KLDivLoss" and k == 1:
                # torch's composite xlogy(t, t) differentiates to 0/0 = NaN where t = 0; dagrad gives 0 there
                # (what torch's own kl_div backward gave before it became composite)
                b = np.where(t == 0, 0.0, b)
            _close(a, b, dtype, f"{name} {mode} gradient of {'input target'.split()[k]}")


def test_modules_have_torch_reprs_and_buffers():
    w = dg.tensor(W5)
    for name, kwargs in [("CrossEntropyLoss", {"weight": w}), ("BCEWithLogitsLoss", {"pos_weight": w}),
                         ("MultiMarginLoss", {"weight": w}), ("MSELoss", {}), ("KLDivLoss", {})]:  # fmt: skip
        ours = getattr(L, name)(**kwargs)
        theirs = getattr(torch.nn, name)(**{k: torch.tensor(_np(v)) for k, v in kwargs.items()})
        assert repr(ours) == repr(theirs)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert list(ours.parameters()) == []
    m = L.CrossEntropyLoss(weight=dg.tensor(W5, dtype=dg.float32)).double()
    assert m.weight.dtype == np.float64
    assert repr(L.StructuredLoss(epsilon=0.5)) == "StructuredLoss(epsilon=0.5)"


def test_legacy_size_average_and_reduce():
    x, t = dg.tensor(_normal(3, 4)), dg.tensor(_normal(3, 4))
    assert L.MSELoss(size_average=False).reduction == "sum"
    assert L.MSELoss(reduce=False).reduction == "none"
    assert L.CrossEntropyLoss(None, True, -100, True).reduction == "mean"
    np.testing.assert_allclose(F.mse_loss(x, t, size_average=False).item(), F.mse_loss(x, t, reduction="sum").item())


def test_cross_entropy_in_a_training_step():
    """A linear classifier trained with CrossEntropyLoss in float32: the loss falls."""
    x = dg.tensor(_normal(64, 8).astype(np.float32))
    y = dg.tensor(_labels(3, 64))
    w = dg.zeros(8, 3, requires_grad=True)
    loss_fn = L.CrossEntropyLoss(label_smoothing=0.05)
    losses = []
    for _ in range(20):
        loss = loss_fn(x @ w, y)
        loss.backward()
        with dg.no_grad():
            w -= 0.5 * w.grad
        w.grad = None
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.05 and all(math.isfinite(v) for v in losses)


def test_double_backward_matches_torch():
    """create_graph through cross_entropy and BCE with logits: Hessian-vector products as torch's."""
    x, t = _normal(4, 5), _labels(5, 4)
    v = _normal(4, 5)
    for ours_fn, theirs_fn in [
        (lambda a: F.cross_entropy(a, dg.tensor(t), label_smoothing=0.1),
         lambda a: torch.nn.functional.cross_entropy(a, torch.tensor(t), label_smoothing=0.1)),
        (lambda a: F.binary_cross_entropy_with_logits(a, dg.tensor(_probs(4, 5) * 0 + 0.3)),
         lambda a: torch.nn.functional.binary_cross_entropy_with_logits(a, torch.tensor(_probs(4, 5) * 0 + 0.3))),
    ]:  # fmt: skip
        xd, xt = dg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        (gd,) = dg.autograd.grad(ours_fn(xd), [xd], create_graph=True)
        (gt,) = torch.autograd.grad(theirs_fn(xt), [xt], create_graph=True)
        (hd,) = dg.autograd.grad((gd * dg.tensor(v)).sum(), [xd])
        (ht,) = torch.autograd.grad((gt * torch.tensor(v)).sum(), [xt])
        np.testing.assert_allclose(_np(hd), _np(ht), rtol=1e-6, atol=1e-10)


def test_bce_with_logits_is_stable_for_huge_logits():
    x = dg.tensor(np.array([-1000.0, 1000.0, -1000.0, 1000.0], dtype=np.float32), requires_grad=True)
    y = dg.tensor(np.array([0.0, 1.0, 1.0, 0.0], dtype=np.float32))
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_allclose(_np(loss), [0, 0, 1000, 1000])
    loss.sum().backward()
    np.testing.assert_allclose(_np(x.grad), [0, 0, -1, 1])


def test_cross_entropy_is_stable_for_huge_logits():
    x = dg.tensor(np.array([[1e4, -1e4, 0.0], [-5e3, 5e3, 1e3]]), requires_grad=True)
    loss = F.cross_entropy(x, dg.tensor([1, 1]), reduction="none")
    np.testing.assert_allclose(_np(loss), [2e4, 0.0])
    loss.sum().backward()
    np.testing.assert_allclose(_np(x.grad), [[1, -1, 0], [0, 0, 0]])


def test_all_ignored_mean_is_nan_as_torch():
    x = dg.tensor(_normal(3, 4), requires_grad=True)
    t = np.full(3, -100)
    ours = F.cross_entropy(x, dg.tensor(t))
    theirs = torch.nn.functional.cross_entropy(torch.tensor(_np(x)), torch.tensor(t))
    assert math.isnan(ours.item()) and math.isnan(theirs.item())


def test_nll_loss_ignores_minus_inf_at_ignored_positions():
    logp = _log_probs(3, 4)
    logp[1, 0] = -np.inf  # ignored row: its (unused) class-0 read must not turn into 0 * inf = NaN
    x = dg.tensor(logp, requires_grad=True)
    loss = F.nll_loss(x, dg.tensor([2, -100, 1]), weight=dg.tensor(W5[:4]))
    theirs = torch.nn.functional.nll_loss(torch.tensor(logp), torch.tensor([2, -100, 1]), weight=torch.tensor(W5[:4]))
    np.testing.assert_allclose(loss.item(), theirs.item(), rtol=1e-12)
    loss.backward()
    assert np.isfinite(_np(x.grad)).all() and not _np(x.grad)[1].any()


def test_broadcast_targets_warn_as_torch():
    x, t = dg.randn(4, 1), dg.randn(4)
    with pytest.warns(UserWarning, match=r"mse_loss: target shape \(4,\) differs from input shape \(4, 1\)"):
        assert F.mse_loss(x, t, reduction="none").shape == (4, 4)


# ---- the structured loss ------------------------------------------------------------------------------------


def _structured_reference(f, y, task, eps):
    z = (task[y] + f) / eps
    m = z.max(axis=1, keepdims=True)
    return eps * (m[:, 0] + np.log(np.exp(z - m).sum(axis=1))) - f[np.arange(len(y)), y]


def test_structured_loss_matches_its_definition():
    f, y, task = _normal(6, 5), _labels(5, 6), _uniform(0, 2, 5, 5)
    for eps in (2.0, 0.5, 0.05):
        ours = F.structured_loss(dg.tensor(f), dg.tensor(y), dg.tensor(task), epsilon=eps, reduction="none")
        np.testing.assert_allclose(_np(ours), _structured_reference(f, y, task, eps), rtol=1e-12, atol=1e-12)
    per = _np(F.structured_loss(dg.tensor(f), dg.tensor(y), reduction="none"))
    np.testing.assert_allclose(per, _structured_reference(f, y, 1 - np.eye(5), 1.0), rtol=1e-12)
    assert F.structured_loss(dg.tensor(f), dg.tensor(y)).item() == pytest.approx(per.mean(), rel=1e-12)
    assert F.structured_loss(dg.tensor(f), dg.tensor(y), reduction="sum").item() == pytest.approx(per.sum(), rel=1e-12)


def test_structured_loss_with_zero_task_loss_and_unit_epsilon_is_cross_entropy():
    f, y = _normal(7, 4), _labels(4, 7)
    for reduction in ("none", "sum", "mean"):
        fd, fc = dg.tensor(f, requires_grad=True), dg.tensor(f, requires_grad=True)
        ours = L.StructuredLoss(task_loss=dg.zeros(4, 4, dtype=dg.float64), reduction=reduction)(fd, dg.tensor(y))
        ce = F.cross_entropy(fc, dg.tensor(y), reduction=reduction)
        theirs = torch.nn.functional.cross_entropy(torch.tensor(f), torch.tensor(y), reduction=reduction)
        np.testing.assert_allclose(_np(ours), _np(ce), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(_np(ours), _np(theirs), rtol=1e-10, atol=1e-10)
        ours.sum().backward()
        ce.sum().backward()
        np.testing.assert_allclose(_np(fd.grad), _np(fc.grad), rtol=1e-10, atol=1e-12)


def test_structured_loss_tends_to_the_structured_hinge():
    """eps = 1e-4: the value is the multiclass SVM loss max_c (L[y, c] + F[c]) - F[y] (within eps * log C) and
    the gradient its subgradient onehot(argmax) - onehot(y) (the scores have no near-ties)."""
    f = np.stack([RNG.permutation(5) * 0.37 for _ in range(8)]) + _normal(8, 1)  # gaps of 0.37k, never 1
    y = _labels(5, 8)
    task = 1 - np.eye(5)
    aug = task[y] + f
    top2 = np.sort(aug, axis=1)[:, -2:]
    assert (top2[:, 1] - top2[:, 0]).min() > 0.01
    hinge = aug.max(axis=1) - f[np.arange(8), y]
    eps = 1e-4
    fd = dg.tensor(f, requires_grad=True)
    loss = F.structured_loss(fd, dg.tensor(y), epsilon=eps, reduction="none")
    assert np.all(_np(loss) >= hinge - 1e-12)
    np.testing.assert_allclose(_np(loss), hinge, rtol=0, atol=eps * math.log(5))
    loss.sum().backward()
    sub = np.zeros_like(f)
    sub[np.arange(8), aug.argmax(axis=1)] += 1
    sub[np.arange(8), y] -= 1
    np.testing.assert_allclose(_np(fd.grad), sub, atol=1e-12)


def test_structured_loss_is_stable_for_tiny_epsilon_and_large_scores():
    f = _normal(4, 6) * 1e3
    y = _labels(6, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for dtype in (dg.float32, dg.float64):
            fd = dg.tensor(f, dtype=dtype, requires_grad=True)
            loss = F.structured_loss(fd, dg.tensor(y), epsilon=1e-8)
            loss.backward()
            assert math.isfinite(loss.item()) and np.isfinite(_np(fd.grad)).all()
            assert loss.dtype == dtype and fd.grad.dtype == dtype


def test_structured_loss_module_and_unbatched():
    f, y = _normal(5), 2
    m = L.StructuredLoss(epsilon=0.5)
    out = m(dg.tensor(f), dg.tensor(y))
    assert out.shape == () and out.item() == pytest.approx(_structured_reference(f[None], [y], 1 - np.eye(5), 0.5)[0])
    assert L.StructuredLoss(task_loss=np.ones((3, 3))).task_loss.shape == (3, 3)


# ---- errors -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda: F.cross_entropy(dg.randn(32, 10), dg.zeros(32, 1, dtype=dg.int64)), dg.ShapeError,
         r"^cross_entropy: expected target of shape \(32,\) with class indices in \[0, 10\), "
         r"received shape \(32, 1\)$"),
        (lambda: F.cross_entropy(dg.randn(32, 10), dg.zeros(32)), dg.DtypeError,
         r"cross_entropy: expected an integer target .* or a float target of the input's shape \(32, 10\)"),
        (lambda: F.cross_entropy(dg.randn(4, 10), dg.tensor([1, 2, 10, 3])), dg.ShapeError,
         r"cross_entropy: expected class indices in \[0, 10\) \(or ignore_index=-100\), received index 10"),
        (lambda: F.nll_loss(dg.randn(4, 10), dg.tensor([1, -1, 0, 3])), dg.ShapeError,
         r"nll_loss: expected class indices in \[0, 10\).*received index -1"),
        (lambda: F.cross_entropy(dg.randn(4, 3), dg.tensor([0, 1, 2, 0]), weight=dg.ones(4)), dg.ShapeError,
         r"cross_entropy: expected weight \(one per class\) of shape \(3,\), received shape \(4,\)"),
        (lambda: F.cross_entropy(dg.tensor([[1, 2]]), dg.tensor([0])), dg.DtypeError,
         r"cross_entropy: expected a floating point input, received dtype int64"),
        (lambda: F.cross_entropy(dg.randn(4, 3), dg.tensor([0, 1, 2, 0]), label_smoothing=1.5), dg.ShapeError,
         r"cross_entropy: expected label_smoothing in \[0, 1\]"),
        (lambda: F.mse_loss(dg.randn(3), dg.randn(3), reduction="avg"), dg.ShapeError,
         r"mse_loss: expected reduction to be one of 'none', 'mean', 'sum', received reduction='avg'"),
        (lambda: F.mse_loss(dg.randn(3), dg.randn(4)), dg.ShapeError,
         r"mse_loss: expected target of the input's shape \(3,\)"),
        (lambda: F.binary_cross_entropy(dg.tensor([0.5, 1.5]), dg.tensor([0.0, 1.0])), dg.ShapeError,
         r"binary_cross_entropy: expected input probabilities in \[0, 1\].*received values in \[0.5, 1.5\]"),
        (lambda: F.binary_cross_entropy_with_logits(dg.randn(3, 1), dg.randn(3)), dg.ShapeError,
         r"binary_cross_entropy_with_logits: expected target of the input's shape \(3, 1\), received shape \(3,\)"),
        (lambda: F.multi_margin_loss(dg.randn(3, 4), dg.tensor([0, -100, 2])), dg.ShapeError,
         r"^multi_margin_loss: expected class indices in \[0, 4\), received index -100$"),
        (lambda: F.multi_margin_loss(dg.randn(3, 4), dg.tensor([0, 1, 2]), p=3), dg.ShapeError,
         r"multi_margin_loss: expected p to be 1 or 2"),
        (lambda: F.structured_loss(dg.randn(3, 4), dg.tensor([0, 1, 2]), epsilon=0), dg.ShapeError,
         r"structured_loss: expected epsilon > 0"),
        (lambda: F.structured_loss(dg.randn(3, 4), dg.tensor([0, 1, 2]), dg.ones(3, 3)), dg.ShapeError,
         r"structured_loss: expected task_loss of shape \(4, 4\), received shape \(3, 3\)"),
        (lambda: F.mse_loss(dg.randn(3), [1.0, 2.0, 3.0]), dg.DtypeError,
         r"mse_loss: expected target to be a Tensor, received list"),
        (lambda: L.CrossEntropyLoss(reduction="avg"), dg.ShapeError,
         r"CrossEntropyLoss: expected reduction to be one of 'none', 'mean', 'sum'"),
        (lambda: L.KLDivLoss(reduction="batch"), dg.ShapeError, r"KLDivLoss: .*'batchmean'"),
        (lambda: L.CrossEntropyLoss(label_smoothing=-0.1), dg.ShapeError, r"CrossEntropyLoss: .*label_smoothing"),
        (lambda: L.CrossEntropyLoss(weight=dg.ones(2, 2)), dg.ShapeError,
         r"CrossEntropyLoss: expected weight to be a 1-d tensor, received shape \(2, 2\)"),
        (lambda: L.SmoothL1Loss(beta=-1), dg.ShapeError, r"SmoothL1Loss: expected beta >= 0, received beta=-1"),
        (lambda: L.HuberLoss(delta=0), dg.ShapeError, r"HuberLoss: expected delta > 0"),
        (lambda: L.MultiMarginLoss(p=3), dg.ShapeError, r"MultiMarginLoss: expected p to be 1 or 2, received p=3"),
        (lambda: L.HingeEmbeddingLoss(margin="1"), dg.DtypeError, r"HingeEmbeddingLoss: expected margin to be a"),
        (lambda: L.StructuredLoss(epsilon=-1.0), dg.ShapeError, r"StructuredLoss: expected epsilon > 0"),
        (lambda: L.StructuredLoss(task_loss=dg.ones(3, 4)), dg.ShapeError, r"StructuredLoss: expected a square"),
    ],
)  # fmt: skip
def test_errors_name_the_op_and_what_was_received(call, error, match):
    with pytest.raises(error, match=match):
        call()
