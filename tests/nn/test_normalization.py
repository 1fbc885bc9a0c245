"""Normalisation layers against PyTorch: outputs, input and parameter gradients, running statistics, double
backward, state dicts, reprs and errors."""

import numpy as np
import pytest

import dagrad as dg
from dagrad.errors import ArgumentError
from dagrad.nn.normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, GroupNorm, LayerNorm
from dagrad.ops.norm import batch_norm, group_norm, layer_norm

torch = pytest.importorskip("torch")
TOL = {np.float64: 1e-6, np.float32: 1e-4}

LAYERS = [  # (dagrad class, torch class name, args, kwargs, input shape)
    (BatchNorm1d, "BatchNorm1d", (3,), {}, (8, 3)),
    (BatchNorm1d, "BatchNorm1d", (3,), {"momentum": 0.3}, (4, 3, 5)),
    (BatchNorm2d, "BatchNorm2d", (4,), {}, (3, 4, 5, 6)),
    (BatchNorm2d, "BatchNorm2d", (4,), {"momentum": None, "eps": 1e-3}, (3, 4, 2, 3)),
    (BatchNorm2d, "BatchNorm2d", (4,), {"affine": False}, (3, 4, 2, 3)),
    (BatchNorm2d, "BatchNorm2d", (4,), {"bias": False}, (3, 4, 2, 3)),
    (BatchNorm2d, "BatchNorm2d", (4,), {"track_running_stats": False}, (3, 4, 2, 3)),
    (BatchNorm3d, "BatchNorm3d", (2,), {}, (2, 2, 3, 3, 3)),
    (LayerNorm, "LayerNorm", (6,), {}, (4, 6)),
    (LayerNorm, "LayerNorm", ((3, 4),), {}, (2, 5, 3, 4)),
    (LayerNorm, "LayerNorm", (5,), {"elementwise_affine": False}, (3, 5)),
    (LayerNorm, "LayerNorm", (5,), {"bias": False, "eps": 1e-3}, (2, 3, 5)),
    (GroupNorm, "GroupNorm", (2, 4), {}, (3, 4, 5, 2)),
    (GroupNorm, "GroupNorm", (3, 6), {"affine": False}, (2, 6, 4)),
    (GroupNorm, "GroupNorm", (1, 4), {"bias": False}, (2, 4, 3, 3)),
    (GroupNorm, "GroupNorm", (2, 8), {}, (5, 8)),
]
IDS = [f"{c[1]}-{c[2]}-{c[3]}-{c[4]}" for c in LAYERS]


def _pair(ours, theirs, args, kwargs, dtype):
    """A dagrad layer and a torch layer of `dtype` with the same random affine parameters and buffers."""
    t = getattr(torch.nn, theirs)(*args, **kwargs).to(torch.float64 if dtype == np.float64 else torch.float32)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in t.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype))
    m = ours(*args, **kwargs).to(dtype)
    m.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    return m, t


def _step(m, t, x, g):
    """Forward + backward of both layers on x with upstream gradient g: (ours, theirs) lists of arrays."""
    xd, xt = dg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = m(xd), t(xt)
    y.backward(dg.tensor(g))
    ty.backward(torch.tensor(g))
    ours = [y.data, xd.grad.data] + [p.grad.data for p in m.parameters()]
    theirs = [ty.detach().numpy(), xt.grad.numpy()] + [p.grad.numpy() for p in t.parameters()]
    for p in m.parameters():
        p.grad = None
    t.zero_grad()
    return ours, theirs


def _close(ours, theirs, tol, what=""):
    for k, (a, b) in enumerate(zip(ours, theirs)):
        assert a.dtype == b.dtype, f"{what} item {k}: dtype {a.dtype} vs torch {b.dtype}"
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * max(1.0, float(np.abs(b).max())), err_msg=f"{what} {k}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("ours,theirs,args,kwargs,shape", LAYERS, ids=IDS)
def test_layer_matches_torch_in_train_and_eval(ours, theirs, args, kwargs, shape, dtype):
    """Several training steps (outputs, all gradients, running statistics), then eval mode."""
    m, t = _pair(ours, theirs, args, kwargs, dtype)
    rng = np.random.default_rng(1)
    for step in range(3):
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(dtype)
        g = rng.standard_normal(shape).astype(dtype)
        _close(*_step(m, t, x, g), TOL[dtype], f"train step {step}")
        for name, b in t.named_buffers():
            np.testing.assert_allclose(getattr(m, name).data, b.numpy(), rtol=TOL[dtype], err_msg=name)
    m.eval()
    t.eval()
    x = rng.standard_normal(shape).astype(dtype) + 0.5
    _close(*_step(m, t, x, rng.standard_normal(shape).astype(dtype)), TOL[dtype], "eval")


def test_parameters_buffers_and_repr_match_torch():
    for ours, theirs, args, kwargs, _ in LAYERS:
        m, t = ours(*args, **kwargs), getattr(torch.nn, theirs)(*args, **kwargs)
        assert m.extra_repr() == t.extra_repr()
        assert list(m.state_dict()) == list(t.state_dict())
        for k, v in t.state_dict().items():
            assert m.state_dict()[k].shape == tuple(v.shape), k
            np.testing.assert_array_equal(m.state_dict()[k].data, v.numpy(), err_msg=k)
        assert all(p.dtype == dg.float32 and p.requires_grad for p in m.parameters())


def test_batch_norm_buffers_and_modes():
    m = BatchNorm2d(3)
    assert m.num_batches_tracked.dtype == dg.int64 and m.num_batches_tracked.shape == ()
    x = dg.randn(4, 3, 2, 2) * 3 + 1
    m(x)
    m(x)
    assert int(m.num_batches_tracked.item()) == 2
    with dg.no_grad():
        m.eval()
        before = m.running_mean.data.copy()
        m(x)
        np.testing.assert_array_equal(m.running_mean.data, before)  # eval leaves the statistics alone
    assert int(m.num_batches_tracked.item()) == 2
    m.reset_running_stats()
    assert m.running_var.data.tolist() == [1, 1, 1] and int(m.num_batches_tracked.item()) == 0
    m.double()
    assert m.running_mean.dtype == dg.float64 and m.num_batches_tracked.dtype == dg.int64


def test_untracked_batch_norm_uses_batch_statistics_in_eval():
    m = BatchNorm1d(3, affine=False, track_running_stats=False).eval()
    y = m(dg.randn(64, 3) * 5 + 2)
    np.testing.assert_allclose(y.data.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(y.data.std(0), 1, atol=1e-3)


CASES = [  # functional calls for the double-backward check: (dagrad fn, torch fn, shapes of x, weight, bias)
    (lambda x, w, b: batch_norm(x, None, None, w, b, training=True),
     lambda x, w, b: torch.nn.functional.batch_norm(x, None, None, w, b, training=True), (4, 3, 2), (3,)),
    (lambda x, w, b: batch_norm(x, dg.zeros(3, dtype=dg.float64) + 0.5, dg.ones(3, dtype=dg.float64) * 2, w, b),
     lambda x, w, b: torch.nn.functional.batch_norm(
         x, torch.full((3,), 0.5, dtype=torch.float64), torch.full((3,), 2.0, dtype=torch.float64), w, b),
     (4, 3, 2), (3,)),
    (lambda x, w, b: layer_norm(x, (2, 3), w, b),
     lambda x, w, b: torch.nn.functional.layer_norm(x, (2, 3), w, b), (4, 2, 3), (2, 3)),
    (lambda x, w, b: group_norm(x, 2, w, b),
     lambda x, w, b: torch.nn.functional.group_norm(x, 2, w, b), (3, 4, 3), (4,)),
]  # fmt: skip


@pytest.mark.parametrize("ours,theirs,xshape,wshape", CASES, ids=["bn-train", "bn-eval", "ln", "gn"])
def test_double_backward_matches_torch(ours, theirs, xshape, wshape):
    """A gradient penalty: d/d(x, w, b) of sum(dL/dx ** 2) + sum(dL/dw ** 2), with L = sum(y * c)."""
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(xshape), rng.standard_normal(wshape), rng.standard_normal(wshape)]
    c = rng.standard_normal(xshape)

    def penalty(fn, inputs, grad, weights):
        y = fn(*inputs)
        gx, gw = grad((y * weights).sum(), inputs[:2], create_graph=True)
        return grad((gx * gx).sum() + (gw * gw).sum(), inputs, allow_unused=True)

    xs = [dg.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    ours_g = penalty(ours, xs, dg.autograd.grad, dg.tensor(c))
    theirs_g = penalty(theirs, ts, torch.autograd.grad, torch.tensor(c))
    for a, b, x in zip(ours_g, theirs_g, arrays):
        a = np.zeros_like(x) if a is None else a.data
        b = np.zeros_like(x) if b is None else b.numpy()
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


def test_float32_large_batch_norm_matches_torch():
    """A conv-sized input, where the GEMV reductions sum thousands of values per channel."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((16, 8, 12, 12)) * 2 + 3).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    m, t = _pair(BatchNorm2d, "BatchNorm2d", (8,), {}, np.float32)
    _close(*_step(m, t, x, g), 1e-4, "large")
    np.testing.assert_allclose(m.running_var.data, t.running_var.numpy(), rtol=1e-5)


@pytest.mark.parametrize(
    "call,error,message",
    [
        (lambda: BatchNorm2d(3)(dg.randn(2, 3, 4)), dg.ShapeError,
         "BatchNorm2d: expected a 4-D input (N, C, H, W), received input of shape (2, 3, 4)"),
        (lambda: BatchNorm2d(3)(dg.randn(2, 4, 5, 5)), dg.ShapeError,
         "BatchNorm2d: expected input with 3 channels (shape (N, 3, H, W)), received shape (2, 4, 5, 5)"),
        (lambda: BatchNorm1d(3)(dg.randn(2, 3, 4, 5)), dg.ShapeError,
         "BatchNorm1d: expected a 2-D (N, C) or 3-D (N, C, L) input, received input of shape (2, 3, 4, 5)"),
        (lambda: BatchNorm1d(3)(dg.randn(1, 3)), dg.ShapeError,
         "batch_norm: expected more than 1 value per channel when training, received input of shape (1, 3)"),
        (lambda: BatchNorm1d(0), ArgumentError, "BatchNorm1d: expected num_features to be a positive int"),
        (lambda: batch_norm(dg.randn(2, 3), None, None), ArgumentError,
         "batch_norm: expected running_mean and running_var when training=False"),
        (lambda: batch_norm(dg.randn(4, 3), None, None, dg.ones(4), training=True), dg.ShapeError,
         "batch_norm: expected weight of shape (3,), received shape (4,)"),
        (lambda: LayerNorm(5)(dg.randn(3, 4)), dg.ShapeError,
         "LayerNorm: expected input with shape (*, 5), received shape (3, 4)"),
        (lambda: layer_norm(dg.randn(3, 4), (4,), dg.ones(4, dtype=dg.float64)), dg.DtypeError,
         "layer_norm: expected weight of dtype float32 like the input, received dtype float64"),
        (lambda: GroupNorm(2, 5), ArgumentError,
         "GroupNorm: expected num_channels (5) to be divisible by num_groups (2)"),
        (lambda: GroupNorm(2, 4)(dg.randn(3, 6, 2)), dg.ShapeError,
         "GroupNorm: expected input with 4 channels (shape (N, 4, *)), received shape (3, 6, 2)"),
        (lambda: group_norm(dg.randn(3, 6), 4), ArgumentError,
         "group_norm: expected num_groups to be a positive int that divides the 6 channels"),
        (lambda: layer_norm(dg.arange(6).reshape(2, 3), 3), dg.DtypeError,
         "layer_norm: expected a floating point input, received dtype int64"),
    ],
)  # fmt: skip
def test_errors_name_the_layer(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value)
