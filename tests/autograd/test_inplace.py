"""In-place ops: the version-counter safeguard (with messages naming the op and the source line), leaf rules,
history rebasing compared with PyTorch, views sharing the version counter, and the no-autograd fast path."""

import inspect
import tracemalloc

import numpy as np
import pytest
import torch

import dagrad as dg
from dagrad.autograd import forward_ad


def _line() -> int:
    """The caller's line number (to check that error messages point at the modifying line)."""
    return inspect.currentframe().f_back.f_lineno


def _f64(*shape, grad=True, seed=0):
    a = np.random.default_rng(seed).standard_normal(shape)
    return dg.tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad)


# ---- the version-counter safeguard -------------------------------------------------------------------------------


def test_modified_saved_output_raises_naming_the_op_and_the_line():
    x = dg.randn(3, requires_grad=True)
    a = x.exp()
    a.add_(1)
    line = _line() - 1
    with pytest.raises(dg.InplaceError) as e:
        a.sum().backward()
    msg = str(e.value)
    assert "Exp" in msg and f"{__file__}:{line}" in msg and "modified in place" in msg


def test_modified_saved_input_raises_naming_the_op_and_the_line():
    w = dg.randn(3, requires_grad=True)
    x = dg.randn(3, requires_grad=True) * 1.0
    y = x * w  # Mul saves x
    x.mul_(2.0)
    line = _line() - 1
    with pytest.raises(dg.InplaceError) as e:
        y.sum().backward()
    msg = str(e.value)
    assert "Mul saved" in msg and f"{__file__}:{line}" in msg and "shape (3,)" in msg


def test_modified_saved_leaf_under_no_grad_raises():
    """An optimizer-style update of a parameter between forward and backward is caught."""
    w = dg.randn(3, requires_grad=True)
    y = w * w
    with dg.no_grad():
        w.sub_(0.1)
    with pytest.raises(dg.InplaceError, match="Mul saved"):
        y.sum().backward()


def test_views_share_the_version_counter():
    b = dg.randn(4, 3, requires_grad=True) * 1.0
    v = b[1:3]
    y = v * v  # Mul saves the view
    b.add_(1.0)  # modifying the base
    line = _line() - 1
    with pytest.raises(dg.InplaceError) as e:
        y.sum().backward()
    assert f"{__file__}:{line}" in str(e.value)


def test_modifying_a_view_under_no_grad_is_seen_by_the_base():
    b = dg.randn(4, 3, requires_grad=True) * 1.0
    y = b * 2.0 * b  # Mul saves b
    with dg.no_grad():
        b[0].fill_(0.0)
    assert b[0].tolist() == [0.0] * 3
    with pytest.raises(dg.InplaceError, match="Mul saved"):
        y.sum().backward()


def test_unrelated_in_place_change_does_not_raise():
    x = dg.randn(3, requires_grad=True)
    y = x.exp() * 2.0  # Mul saves a constant, Exp's output is not modified
    z = dg.zeros(3)
    z.add_(1.0)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * np.exp(x.data), rtol=1e-6)


# ---- leaves ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "op",
    [
        lambda w: w.add_(1.0),
        lambda w: w.mul_(2.0),
        lambda w: w.zero_(),
        lambda w: w.clamp_(0.0, 1.0),
        lambda w: w.__setitem__(0, 1.0),
        lambda w: w.copy_(dg.ones(3)),
    ],
)
def test_leaf_that_requires_grad_cannot_change_in_place_under_grad_mode(op):
    w = dg.randn(3, requires_grad=True)
    with pytest.raises(dg.InplaceError, match="leaf tensor that requires grad"):
        op(w)
    with dg.no_grad():
        op(w)
    assert w.requires_grad and w.grad_fn is None


def test_leaf_error_names_the_op():
    w = dg.randn(3, requires_grad=True)
    for op, name in [(lambda: w.sub_(1.0), "sub_"), (lambda: w.masked_fill_(w.data > 0, 0.0), "masked_fill_")]:
        with pytest.raises(dg.InplaceError) as e:
            op()
        assert str(e.value).startswith(name + ":")
    with pytest.raises(dg.InplaceError) as e:
        w[0] = 2.0
    assert str(e.value).startswith("setitem:")


def test_no_grad_sgd_step_changes_the_parameter_in_place():
    w = dg.tensor([1.0, 2.0], requires_grad=True)
    data = w.data
    (w * w).sum().backward()
    with dg.no_grad():
        w.add_(w.grad, alpha=-0.5)
    assert w.data is data and w.tolist() == [0.0, 0.0] and w.grad_fn is None


# ---- rebasing history: gradients against torch -----------------------------------------------------------------


def _chain(L, x, w, z):
    y = x * 2.0
    y.mul_(w)
    y.add_(z, alpha=0.5)
    y.sub_(1.5)
    y[1] = z[0] * 3.0
    y[:, 0] += w[:, 1]
    y.neg_()
    y.clamp_(-3.0, None)
    y.masked_fill_(y > 0.2, 0.25)
    y.div_(w.exp())
    return y


def test_in_place_chain_matches_torch():
    xd, xt = _f64(3, 4, seed=1)
    wd, wt = _f64(3, 4, seed=2)
    zd, zt = _f64(3, 4, seed=3)
    yd, yt = _chain(dg, xd, wd, zd), _chain(torch, xt, wt, zt)
    np.testing.assert_allclose(yd.data, yt.detach().numpy(), rtol=1e-12)
    g = np.random.default_rng(9).standard_normal((3, 4))
    yd.backward(dg.tensor(g))
    yt.backward(torch.tensor(g))
    for a, b in [(xd, xt), (wd, wt), (zd, zt)]:
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "op",
    [
        lambda L, y, v: y.copy_(v[0]),
        lambda L, y, v: y.fill_(v[0, 0]),
        lambda L, y, v: y.zero_(),
        lambda L, y, v: y.index_put_((L.tensor([0, 2, 0]),), v[:3], accumulate=True),
        lambda L, y, v: y.index_put_((L.tensor([1, 2]),), v[0]),
        lambda L, y, v: y.index_add_(0, L.tensor([2, 2, 0]), v[:3], alpha=2.0),
        lambda L, y, v: y.scatter_add_(1, L.tensor([[0, 0], [3, 1]]), v[:2, :2]),
        lambda L, y, v: y.scatter_(1, L.tensor([[0, 2], [3, 1]]), v[:2, :2]),
        lambda L, y, v: y.scatter_(0, L.tensor([[1, 2, 0, 1]]), value=-1.0),
        lambda L, y, v: y.masked_fill_(L.tensor([[True, False, True, False]] * 3), v[0, 1]),
        lambda L, y, v: y.index_put_((L.tensor([[True, False, True, False]] * 3),), v[0, 1]),
        lambda L, y, v: y.__imul__(v),
        lambda L, y, v: y.__itruediv__(v.exp()),
        lambda L, y, v: y.__isub__(v),
        lambda L, y, v: y.__ipow__(2),
    ],
)
def test_in_place_op_gradients_match_torch(op):
    xd, xt = _f64(3, 4, seed=4)
    vd, vt = _f64(3, 4, seed=5)
    outs = []
    for L, x, v in [(dg, xd, vd), (torch, xt, vt)]:
        y = x * 1.5
        r = op(L, y, v)
        assert r is y
        outs.append((y * y).sum())
    np.testing.assert_allclose(outs[0].item(), outs[1].item(), rtol=1e-12)
    outs[0].backward()
    outs[1].backward()
    for a, b in [(xd, xt), (vd, vt)]:
        ga = np.zeros(a.shape) if a.grad is None else a.grad.data
        gb = np.zeros(a.shape) if b.grad is None else b.grad.numpy()
        np.testing.assert_allclose(ga, gb, rtol=1e-10, atol=1e-12)


def test_setitem_on_a_fresh_buffer_collects_gradients():
    """out = zeros(...); out[i] = f(x): the buffer takes the history of what was written into it."""
    x = dg.randn(3, dtype=dg.float64, requires_grad=True)
    out = dg.zeros(2, 3, dtype=dg.float64)
    out[0] = x * 2.0
    out[1, 1:] = x[:2].exp()
    out.backward(dg.ones(2, 3, dtype=dg.float64))
    expected = np.array([2.0, 2.0, 2.0]) + np.array([np.exp(x.data[0]), np.exp(x.data[1]), 0.0])
    np.testing.assert_allclose(x.grad.data, expected)


def test_augmented_assignment_on_an_index_of_a_non_leaf():
    xd, xt = _f64(3, 4)
    for x in (xd, xt):
        y = x * 1.0
        y[1] += x[0] * 2.0
        y[:, 2] *= 3.0
        (y * y).sum().backward()
    np.testing.assert_allclose(xd.grad.data, xt.grad.numpy(), rtol=1e-12)


def test_in_place_on_a_view_of_a_tensor_that_requires_grad_is_refused():
    y = dg.randn(3, 4, requires_grad=True) * 1.0
    v = y[0]
    with pytest.raises(dg.InplaceError, match="mul_: in-place change of a view"):
        v.mul_(2.0)


# ---- the no-autograd fast path ---------------------------------------------------------------------------------------


def test_iadd_returns_self_and_writes_into_the_same_array():
    x = dg.zeros(3)
    data, version = x.data, x._version
    t = x
    x += 1.0
    x *= dg.tensor([1.0, 2.0, 3.0])
    x -= 0.5
    x /= 2.0
    assert x is t and x.data is data and x._version > version
    np.testing.assert_allclose(x.data, [0.25, 0.75, 1.25])
    y = dg.randn(3, requires_grad=True) * 1.0
    t = y
    y += 1.0
    assert y is t and y.grad_fn is not None


def test_fast_path_records_no_graph():
    x = dg.zeros(2, 2)
    x.add_(dg.ones(2, 2)).mul_(3.0).clamp_(max=2.0)
    x[0] = 5.0
    x.masked_fill_(dg.tensor([[True, False], [False, False]]), 7.0)
    x.index_add_(0, dg.tensor([1, 1]), dg.ones(2, 2))
    assert x.grad_fn is None and not x.requires_grad
    assert x.tolist() == [[7.0, 5.0], [4.0, 4.0]]


def test_in_place_dtype_rules():
    i = dg.tensor([1, 2, 3])
    i.add_(2)
    assert i.tolist() == [3, 4, 5] and i.dtype == dg.int64
    with pytest.raises(dg.DtypeError, match="div_"):
        i.div_(2)
    with pytest.raises(dg.DtypeError, match="add_"):
        i.add_(0.5)
    f = dg.zeros(2)
    f.add_(dg.tensor([1.0, 2.0], dtype=dg.float64))
    assert f.dtype == dg.float32 and f.tolist() == [1.0, 2.0]


def test_in_place_shape_errors():
    x = dg.zeros(3)
    with pytest.raises(dg.ShapeError, match="add_"):
        x.add_(dg.ones(2, 3))
    with pytest.raises(dg.ShapeError, match="copy_"):
        x.copy_(dg.ones(2))
    y = dg.zeros(3, requires_grad=True) * 1.0
    with pytest.raises(dg.ShapeError, match="add_"):
        y.add_(dg.ones(2, 3))


def test_forward_mode_tangents_follow_in_place_ops():
    x = dg.randn(3, dtype=dg.float64)
    t = dg.ones(3, dtype=dg.float64)
    with forward_ad.dual_level():
        d = forward_ad.make_dual(x, t)
        y = d * 1.0
        y.mul_(3.0)
        y[0] = 0.0
        tangent = forward_ad.unpack_dual(y)[1]
    np.testing.assert_allclose(tangent.data, [0.0, 3.0, 3.0])


# ---- tracked in-place ops that write straight into the tensor's array ------------------------------------------------


@pytest.mark.parametrize("grad", [True, False])
def test_inplace_relu_and_add_allocate_no_copy_of_the_tensor(grad):
    x = dg.tensor(np.linspace(-1.0, 1.0, 250_000), requires_grad=grad)  # 2 MB, past the ReLU kernels' MIN_SIZE
    h = x * 2.0
    other = dg.ones(250_000, dtype=dg.float64)
    data = h.data
    dg.nn.functional.relu(x * 1.0)  # loads the ReLU kernels before measuring
    tracemalloc.start()
    out = dg.nn.functional.relu(h, inplace=True)
    h += other
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert out is h and h.data is data and peak < 500_000
    np.testing.assert_array_equal(data, np.maximum(np.linspace(-2.0, 2.0, 250_000), 0) + 1)
    assert (h.grad_fn is not None) == grad
    with dg.no_grad():
        small = dg.tensor([-1.0, 2.0])
        dg.nn.functional.relu(small, inplace=True)
    assert small.tolist() == [0.0, 2.0]


def test_tracked_inplace_relu_and_add_match_torch():
    (a, ta), (b, tb) = _f64(4, 5, seed=1), _f64(5, seed=2)

    def run(lib, x, y):
        h = x * 3.0
        start, buffer = h, h.data
        h += y  # broadcast over rows
        h -= 0.5 * y
        h = lib.nn.functional.relu(h, inplace=True)
        (h * h).sum().backward()
        return start, buffer, h

    start, buffer, h = run(dg, a, b)
    assert h is start and h.data is buffer  # every step wrote into the product's own array
    run(torch, ta, tb)
    np.testing.assert_allclose(a.grad.data, ta.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(b.grad.data, tb.grad.numpy(), rtol=1e-12)


def test_changing_an_inplace_relus_output_again_is_caught():
    x = dg.randn(6, requires_grad=True)
    h = dg.nn.functional.relu(x * 1.0, inplace=True)
    h.mul_(2.0)
    with pytest.raises(dg.InplaceError, match="ReLU"):
        h.sum().backward()


def test_inplace_results_that_do_not_fit_take_the_copying_path():
    f = dg.randn(3, requires_grad=True) * 1.0
    f += dg.tensor([1.0, 2.0, 3.0], dtype=dg.float64)  # computed in float64, written back as float32
    assert f.dtype == dg.float32
    f.sum().backward()
    i = dg.tensor([1, 2, 3])
    with pytest.raises(dg.DtypeError, match="add_"):
        i.add_(dg.tensor([0.5, 0.5, 0.5]))
    y = dg.zeros(3, requires_grad=True) * 1.0
    with pytest.raises(dg.ShapeError, match="add_"):
        y += dg.ones(2, 3)


def test_tracked_iadd_of_an_overlapping_view_matches_torch():
    a, ta = _f64(6, seed=3)
    results = []
    for x in (a, ta):
        h = x * 2.0
        h += h.flip(0)  # the other operand reads the array being written
        (h * h).sum().backward()
        results.append(h.detach().numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12)
    np.testing.assert_allclose(a.grad.data, ta.grad.numpy(), rtol=1e-12)
