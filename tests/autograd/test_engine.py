"""The backward engine: accumulation, fan-out, broadcasting, deep chains, freeing, grad(), hooks, higher order."""

import weakref

import numpy as np
import pytest

import dagrad as dg
from dagrad.autograd import grad
from dagrad.errors import GradientError


def leaf(values, dtype=dg.float64):
    return dg.tensor(values, dtype=dtype, requires_grad=True)


def ones_like(t):
    return dg.ones(*t.shape, dtype=t.dtype)


# ---- accumulation and the chain rule --------------------------------------------------------------------------


def test_grad_accumulates_across_backward_calls():
    x = leaf([1.0, 2.0, 3.0])
    (x * 3.0).backward(dg.ones(3, dtype=dg.float64))
    np.testing.assert_allclose(x.grad.data, [3.0, 3.0, 3.0])
    (x * x).backward(dg.ones(3, dtype=dg.float64))
    np.testing.assert_allclose(x.grad.data, [5.0, 7.0, 9.0])


def test_first_grad_does_not_alias_the_incoming_gradient():
    x = leaf([1.0, 2.0])
    g = dg.tensor([1.0, 1.0], dtype=dg.float64)
    (x + 0.0).backward(g)
    x.grad.data += 1.0
    np.testing.assert_allclose(g.data, [1.0, 1.0])


def test_leaf_used_three_times_sums_its_gradients():
    x = leaf([1.0, -2.0])
    y = x * 2.0 + x * 3.0 + x * 4.0
    y.backward(ones_like(y))
    np.testing.assert_allclose(x.grad.data, [9.0, 9.0])


def test_fan_out_of_a_non_leaf():
    x = leaf([0.5, 1.5])
    h = x * 2.0
    y = h * h + h  # dy/dx = (2h + 1) * 2
    y.backward(ones_like(y))
    np.testing.assert_allclose(x.grad.data, (2 * 2 * x.data + 1) * 2)


def test_diamond_graph_visits_each_node_once():
    x = leaf([2.0])
    a = x * x
    b = a * 3.0
    c = a * 5.0
    y = b * c  # 15 x^4 -> 60 x^3
    y.backward(ones_like(y))
    np.testing.assert_allclose(x.grad.data, [60.0 * 8.0])


def test_broadcast_gradients_reduce_to_leaf_shapes():
    a = leaf(np.arange(3.0).reshape(3, 1))
    b = leaf(np.arange(4.0).reshape(1, 4) + 1.0)
    c = leaf(np.arange(4.0) - 2.0)
    s = leaf(0.5)
    y = a * b + c * s
    y.backward(dg.ones(3, 4, dtype=dg.float64))
    assert a.grad.shape == (3, 1) and b.grad.shape == (1, 4) and c.grad.shape == (4,) and s.grad.shape == ()
    np.testing.assert_allclose(a.grad.data, np.full((3, 1), b.data.sum()))
    np.testing.assert_allclose(b.grad.data, np.full((1, 4), a.data.sum()))
    np.testing.assert_allclose(c.grad.data, np.full(4, 3 * 0.5))
    np.testing.assert_allclose(s.grad.data, 3 * c.data.sum())


def test_sum_backward_of_a_scalar_root():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * x.data)


# ---- deep graphs -------------------------------------------------------------------------------------------------


def test_100k_mul_chain_backward_without_recursion():
    x = leaf([1.0, 2.0])
    y = x
    for _ in range(100_000):
        y = y * 1.0001
    y.backward(ones_like(y))
    expected = 1.0001**100_000
    np.testing.assert_allclose(y.data, x.data * expected, rtol=1e-9)
    np.testing.assert_allclose(x.grad.data, [expected, expected], rtol=1e-9)


def test_100k_add_chain_backward_and_free_without_recursion():
    x = leaf([0.0, 1.0])
    y = x
    for _ in range(100_000):
        y = y + 1
    y.backward(ones_like(y))
    np.testing.assert_allclose(y.data, [100_000.0, 100_001.0])
    np.testing.assert_allclose(x.grad.data, [1.0, 1.0])
    ref = weakref.ref(y.grad_fn)
    del y  # dropping the root frees 100k nested nodes
    assert ref() is None


# ---- freeing saved tensors and retain_graph ---------------------------------------------------------------------


def test_backward_frees_saved_tensors():
    x = leaf([1.0, 2.0])
    h = x * 2.0
    y = h * h  # Mul saves h
    ref = weakref.ref(h)
    del h
    assert ref() is not None, "Mul should keep its input until backward"
    y.backward(ones_like(y))
    assert ref() is None, "backward without retain_graph must free what Mul saved"


def test_second_backward_through_freed_graph_raises():
    x = leaf([1.0, 2.0])
    y = x * x
    y.backward(ones_like(y))
    with pytest.raises(GradientError) as info:
        y.backward(ones_like(y))
    assert "second time" in str(info.value)
    assert "retain_graph=True" in str(info.value)


def test_second_backward_through_an_op_that_kept_only_its_output_raises():
    x = leaf([1.0, 2.0])
    y = x.exp().sum()  # Exp saves no input, only its output
    y.backward()
    with pytest.raises(GradientError, match="second time"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    y = x * x
    y.backward(ones_like(y), retain_graph=True)
    y.backward(ones_like(y))
    np.testing.assert_allclose(x.grad.data, 4 * x.data)


# ---- grad(), inputs=, non-leaf targets ----------------------------------------------------------------------


def test_grad_returns_without_touching_dot_grad():
    x = leaf([1.0, 3.0])
    y = x * x
    (gx,) = grad(y, x, grad_outputs=ones_like(y))
    np.testing.assert_allclose(gx.data, 2 * x.data)
    assert x.grad is None


def test_grad_allow_unused():
    x, z = leaf([1.0, 2.0]), leaf([5.0])
    y = x * 2.0
    with pytest.raises(GradientError, match="not used"):
        grad(y, [x, z], grad_outputs=ones_like(y), retain_graph=True)
    gx, gz = grad(y, [x, z], grad_outputs=ones_like(y), retain_graph=True, allow_unused=True)
    np.testing.assert_allclose(gx.data, [2.0, 2.0])
    assert gz is None
    _, gz = grad(y, [x, z], grad_outputs=ones_like(y), allow_unused=True, materialize_grads=True)
    np.testing.assert_allclose(gz.data, [0.0])


def test_grad_of_a_non_leaf_input():
    x = leaf([1.0, 2.0])
    h = x * 3.0
    y = h * h
    (gh,) = grad(y, h, grad_outputs=ones_like(y))
    np.testing.assert_allclose(gh.data, 2 * h.data)
    assert x.grad is None


def test_backward_inputs_restricts_accumulation():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    y = x * w
    y.backward(ones_like(y), inputs=[x])
    np.testing.assert_allclose(x.grad.data, w.data)
    assert w.grad is None


def test_backward_inputs_accepts_a_non_leaf():
    x = leaf([1.0, 2.0])
    h = x * 2.0
    y = h * h
    y.backward(ones_like(y), inputs=[h])
    np.testing.assert_allclose(h.grad.data, 2 * h.data)
    assert x.grad is None


# ---- hooks and retain_grad -----------------------------------------------------------------------------------


def test_leaf_hook_modifies_gradient_and_can_be_removed():
    x = leaf([1.0, 2.0])
    seen = []
    handle = x.register_hook(lambda g: seen.append(g.data.copy()) or g * 10.0)
    (x * 3.0).backward(dg.ones(2, dtype=dg.float64))
    np.testing.assert_allclose(seen[0], [3.0, 3.0])
    np.testing.assert_allclose(x.grad.data, [30.0, 30.0])
    handle.remove()
    x.grad = None
    (x * 3.0).backward(dg.ones(2, dtype=dg.float64))
    np.testing.assert_allclose(x.grad.data, [3.0, 3.0])
    assert len(seen) == 1


def test_non_leaf_hook_modifies_upstream_gradient_and_can_be_removed():
    x = leaf([1.0, 2.0])
    h = x * 2.0
    y = h * 5.0
    seen = []
    handle = h.register_hook(lambda g: seen.append(g.data.copy()) or g * 0.5)
    y.backward(ones_like(y), retain_graph=True)
    np.testing.assert_allclose(seen[0], [5.0, 5.0])
    np.testing.assert_allclose(x.grad.data, [5.0, 5.0])
    handle.remove()
    x.grad = None
    y.backward(ones_like(y))
    np.testing.assert_allclose(x.grad.data, [10.0, 10.0])
    assert len(seen) == 1


def test_retain_grad_on_non_leaf():
    x = leaf([1.0, 2.0])
    h = x * 2.0
    k = x * 3.0
    h.retain_grad()
    y = h * h + k
    y.backward(ones_like(y))
    assert h.retains_grad and not k.retains_grad
    np.testing.assert_allclose(h.grad.data, 2 * h.data)
    assert k.grad is None


# ---- higher order -------------------------------------------------------------------------------------------


def test_second_derivative_of_cube():
    x = leaf([-1.0, 0.5, 2.0])
    y = x**3
    (g,) = grad(y, x, grad_outputs=ones_like(y), create_graph=True)
    np.testing.assert_allclose(g.data, 3 * x.data**2)
    assert g.requires_grad
    (g2,) = grad(g, x, grad_outputs=ones_like(g))
    np.testing.assert_allclose(g2.data, 6 * x.data)


def test_backward_create_graph_gives_differentiable_grad():
    x = leaf([1.5, -0.5])
    (x**3).backward(dg.ones(2, dtype=dg.float64), create_graph=True)
    gx = x.grad
    assert gx.requires_grad
    x.grad = None
    gx.backward(ones_like(gx))
    np.testing.assert_allclose(x.grad.data, 6 * x.data)


def test_without_create_graph_backward_records_nothing():
    x = leaf([1.5, -0.5])
    (gx,) = grad(x**3, x, grad_outputs=dg.ones(2, dtype=dg.float64))
    assert not gx.requires_grad and gx.grad_fn is None


def _mlp_loss(W1, x, b1, W2, y):
    h = (x @ W1 + b1).tanh()
    return ((h @ W2 - y) ** 2).sum()


def test_hessian_of_small_mlp_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x, W1, b1 = rng.standard_normal((5, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)
    W2, y = rng.standard_normal((4, 2)), rng.standard_normal((5, 2))

    consts = [dg.tensor(a, dtype=dg.float64) for a in (x, b1, W2, y)]
    w = leaf(W1)
    (g,) = grad(_mlp_loss(w, *consts), w, create_graph=True)
    rows = []
    for k in range(W1.size):
        e = np.zeros(W1.size)
        e[k] = 1.0
        (row,) = grad(g, w, grad_outputs=dg.tensor(e.reshape(W1.shape), dtype=dg.float64), retain_graph=True)
        rows.append(row.data.ravel())
    ours = np.stack(rows)

    tx, tb1, tW2, ty = (torch.tensor(a) for a in (x, b1, W2, y))
    expected = torch.autograd.functional.hessian(lambda W: _mlp_loss(W, tx, tb1, tW2, ty), torch.tensor(W1))
    np.testing.assert_allclose(ours, expected.reshape(W1.size, W1.size).numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ours, ours.T, atol=1e-10)


def test_leaf_hook_runs_once_with_the_total_gradient():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.data.copy()))
    y = x * 2.0 + x * 3.0 + x
    y.backward(ones_like(y))
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], [6.0, 6.0])
    np.testing.assert_allclose(x.grad.data, [6.0, 6.0])


def test_hooks_of_leaves_outside_inputs_do_not_run():
    x, w = leaf([1.0]), leaf([2.0])
    calls = []
    w.register_hook(lambda g: calls.append(g))
    (x * w).backward(dg.ones(1, dtype=dg.float64), inputs=[x])
    assert calls == [] and w.grad is None


def test_leaf_grads_do_not_alias_each_other():
    a, b = leaf([1.0]), leaf([2.0])
    y = a + b  # Add hands the same gradient tensor to both inputs
    y.backward(ones_like(y))
    a.grad.data += 5.0
    np.testing.assert_allclose(b.grad.data, [1.0])
