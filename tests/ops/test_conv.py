"""Convolutions against PyTorch (values, gradients, second order), on both kernels; argument errors."""

import numpy as np
import pytest

import dagrad as dg
from dagrad.errors import ArgumentError, ShapeError
from dagrad.ops import conv as C

torch = pytest.importorskip("torch")
F = torch.nn.functional
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")


@pytest.fixture(params=["shift", "im2col"])
def kernel(request, monkeypatch):
    """Force one kernel: the shift kernel wherever the stride is 1, or im2col everywhere."""
    shift = request.param == "shift"
    monkeypatch.setattr(C, "_shift_traffic", lambda *a: -1 if shift else float("inf"))
    monkeypatch.setattr(C, "_SHIFT_MIN_ROWS", 0 if shift else float("inf"))
    return request.param


def _run(ours, theirs, shapes, **kw):
    """Forward values and the gradients of (y * v).sum() w.r.t. every input agree with torch (float64)."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes]
    xs = [dg.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = ours(*xs, **kw), theirs(*ts, **kw)
    assert y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    v = rng.standard_normal(y.shape)
    grads = dg.autograd.grad(y, xs, dg.tensor(v))
    tgrads = torch.autograd.grad(ty, ts, torch.tensor(v))
    for g, tg in zip(grads, tgrads):
        np.testing.assert_allclose(g.data, tg.numpy(), rtol=1e-10, atol=1e-10)


CONV2D = [  # (input shape, weight shape, kwargs)
    ((2, 4, 7, 6), (6, 4, 3, 3), {}),
    ((2, 4, 7, 6), (6, 4, 3, 3), {"padding": 1}),
    ((2, 4, 7, 6), (6, 2, 3, 2), {"stride": 2, "padding": (2, 0), "groups": 2}),
    ((1, 3, 8, 9), (4, 3, 2, 3), {"stride": (1, 2), "dilation": 2, "padding": 1}),
    ((2, 3, 6, 5), (4, 3, 2, 2), {"padding": "same", "dilation": (1, 2)}),
    ((2, 3, 6, 5), (4, 3, 4, 3), {"padding": "valid"}),
    ((2, 4, 5, 5), (4, 1, 3, 3), {"padding": 1, "groups": 4}),
    ((2, 4, 5, 5), (3, 4, 1, 1), {}),
    ((6, 5, 5), (4, 3, 3, 3), {"padding": 1, "groups": 2}),
]


@pytest.mark.parametrize("x,w,kw", CONV2D, ids=[str(c[2]) for c in CONV2D])
def test_conv2d_matches_torch(kernel, x, w, kw):
    _run(C.conv2d, F.conv2d, [x, w, (w[0],)], **kw)


@pytest.mark.parametrize(
    "fn,x,w,kw",
    [
        ("conv1d", (2, 3, 9), (4, 3, 3), {"padding": 2, "dilation": 2}),
        ("conv1d", (3, 9), (4, 3, 4), {"padding": "same"}),
        ("conv1d", (2, 4, 9), (4, 2, 3), {"stride": 3, "groups": 2}),
        ("conv3d", (2, 3, 5, 4, 6), (4, 3, 3, 2, 3), {"padding": (1, 0, 1)}),
        ("conv3d", (2, 4, 5, 4, 6), (4, 2, 3, 2, 3), {"stride": (2, 1, 2), "padding": 1, "groups": 2}),
    ],
)
def test_conv1d_conv3d_match_torch(kernel, fn, x, w, kw):
    _run(getattr(C, fn), getattr(F, fn), [x, w, (w[0],)], **kw)


@pytest.mark.parametrize(
    "fn,x,w,kw",
    [
        ("conv_transpose2d", (2, 4, 4, 5), (4, 3, 3, 3), {}),
        ("conv_transpose2d", (2, 4, 4, 5), (4, 3, 3, 3), {"stride": 2, "padding": 1, "output_padding": 1}),
        ("conv_transpose2d", (2, 4, 3, 3), (4, 2, 2, 3), {"stride": (1, 2), "groups": 2, "dilation": 2}),
        ("conv_transpose2d", (2, 4, 3, 3), (4, 3, 3, 3), {"dilation": 3, "output_padding": 2, "padding": 1}),
        ("conv_transpose2d", (4, 3, 3), (4, 3, 1, 1), {"padding": 0}),
        ("conv_transpose1d", (2, 4, 5), (4, 3, 3), {"stride": 3, "padding": 2, "output_padding": 1}),
        ("conv_transpose3d", (2, 4, 3, 4, 3), (4, 3, 3, 2, 3), {"stride": (2, 1, 3), "padding": 1, "groups": 2}),
    ],
)
def test_conv_transpose_matches_torch(kernel, fn, x, w, kw):
    _run(getattr(C, fn), getattr(F, fn), [x, w, (w[1] * kw.get("groups", 1),)], **kw)


def test_one_channel_conv2d_is_scipy_correlate2d():
    """Cross-correlation, no kernel flip: one channel equals scipy.signal.correlate2d(x, w, 'valid')."""
    signal = pytest.importorskip("scipy.signal")
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((9, 7)), rng.standard_normal((3, 4))
    y = C.conv2d(dg.tensor(x[None, None]), dg.tensor(w[None, None]))
    np.testing.assert_allclose(y.data[0, 0], signal.correlate2d(x, w, mode="valid"), rtol=1e-12, atol=1e-12)


def test_second_order_matches_torch(kernel):
    """d/dx and d/dw of <grad_x(y . v), u>: double backward through ConvTranspose and ConvWeightGrad."""
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(s) for s in ((2, 4, 6, 6), (3, 4, 3, 3), (2, 3, 3, 3), (2, 4, 6, 6))]
    x, w = (dg.tensor(a, requires_grad=True) for a in arrays[:2])
    tx, tw = (torch.tensor(a, requires_grad=True) for a in arrays[:2])
    v, u = dg.tensor(arrays[2]), dg.tensor(arrays[3])
    tv, tu = torch.tensor(arrays[2]), torch.tensor(arrays[3])
    (gx,) = dg.autograd.grad(C.conv2d(x, w, stride=2, padding=1), [x], v, create_graph=True)
    (tgx,) = torch.autograd.grad(F.conv2d(tx, tw, stride=2, padding=1), [tx], tv, create_graph=True)
    ours = dg.autograd.grad(gx, [w], u)[0]
    theirs = torch.autograd.grad(tgx, [tw], tu)[0]
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-10, atol=1e-10)


def test_float32_in_float32_out():
    x, w, b = dg.randn(2, 3, 8, 8), dg.randn(4, 3, 3, 3, requires_grad=True), dg.randn(4)
    y = C.conv2d(x, w, b, padding=1)
    assert y.dtype == dg.float32 and y.shape == (2, 4, 8, 8)
    y.backward(dg.ones_like(y))
    assert w.grad.dtype == dg.float32


def test_no_grad_records_nothing():
    w = dg.randn(4, 3, 3, 3, requires_grad=True)
    with dg.no_grad():
        y = C.conv2d(dg.randn(2, 3, 5, 5), w)
    assert y.grad_fn is None and not y.requires_grad


def _x(*shape):
    return dg.randn(*shape)


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: C.conv2d(_x(28, 28), _x(4, 1, 3, 3)), "conv2d: expected a 3-D (unbatched) or 4-D (batched) input"),
        (lambda: C.conv2d(_x(8, 1, 28, 28), _x(4, 3, 3, 3)),
         "conv2d: expected input with 3 channels (shape (N, 3, H, W)), received shape (8, 1, 28, 28)"),
        (lambda: C.conv2d(_x(1, 3, 5, 5), _x(4, 3, 3)), "conv2d: expected a 4-D weight"),
        (lambda: C.conv2d(_x(1, 3, 2, 5), _x(4, 3, 3, 3)), "expected a kernel no larger than the padded input"),
        (lambda: C.conv2d(_x(1, 4, 5, 5), _x(3, 2, 3, 3), groups=2), "out_channels (3) to be divisible by groups"),
        (lambda: C.conv2d(_x(1, 3, 5, 5), _x(4, 3, 3, 3), _x(3)), "expected a bias of shape (4,)"),
        (lambda: C.conv_transpose2d(_x(1, 4, 5, 5), _x(3, 2, 3, 3)), "expected input with 3 channels"),
    ],
)  # fmt: skip
def test_shape_errors_name_the_op_and_both_sides(call, message):
    with pytest.raises(ShapeError) as info:
        call()
    assert message in str(info.value)


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: C.conv2d(_x(1, 3, 5, 5), _x(4, 3, 3, 3), padding=-1), "conv2d: expected padding to be an int >= 0"),
        (lambda: C.conv2d(_x(1, 3, 5, 5), _x(4, 3, 3, 3), stride=0), "conv2d: expected stride to be an int >= 1"),
        (lambda: C.conv2d(_x(1, 3, 5, 5), _x(4, 3, 3, 3), stride=2, padding="same"), "needs stride 1"),
        (lambda: C.conv1d(_x(1, 3, 5), _x(4, 3, 3), padding="full"), "expected padding to be 'same', 'valid'"),
        (lambda: C.conv2d(_x(1, 3, 5, 5), _x(4, 3, 3, 3), groups=0), "expected groups to be a positive int"),
        (lambda: C.conv_transpose2d(_x(1, 3, 5, 5), _x(3, 2, 3, 3), stride=2, output_padding=2),
         "expected output_padding smaller than stride or dilation"),
    ],
)  # fmt: skip
def test_argument_errors_name_the_op_and_the_value(call, message):
    with pytest.raises(ArgumentError) as info:
        call()
    assert message in str(info.value)


def test_dtype_errors():
    with pytest.raises(dg.DtypeError, match="conv2d: expected floating weight of the input's dtype float32"):
        C.conv2d(dg.randn(1, 3, 5, 5), dg.randn(4, 3, 3, 3, dtype=dg.float64))
    with pytest.raises(dg.DtypeError, match="conv1d: expected floating input"):
        C.conv1d(dg.zeros(1, 3, 5, dtype=dg.int64), dg.zeros(4, 3, 3, dtype=dg.int64))
