"""Error messages: a dagrad exception that names the op, what was expected and what was received."""

import numpy as np
import pytest

import dagrad as dg
from dagrad.errors import DagradError, DtypeError, GradientError, ShapeError


def leaf(values=(1.0, 2.0, 3.0)):
    return dg.tensor(list(values), requires_grad=True)


def message(exc_type, fn):
    with pytest.raises(exc_type) as info:
        fn()
    assert isinstance(info.value, DagradError)
    return str(info.value)


@pytest.mark.parametrize(
    "op,name",
    [(lambda a, b: a + b, "add"), (lambda a, b: a * b, "mul"), (lambda a, b: a - b, "sub"), (dg.div, "div")],
)
def test_broadcast_mismatch_names_op_and_both_shapes(op, name):
    msg = message(ShapeError, lambda: op(dg.ones(2, 3), dg.ones(4)))
    assert name in msg.lower()
    assert "(2, 3)" in msg and "(4,)" in msg


def test_broadcast_error_is_also_a_value_error():
    with pytest.raises(ValueError):
        dg.ones(3) + dg.ones(4)


@pytest.mark.skipif(not hasattr(dg, "matmul"), reason="dg.matmul is not written yet")
def test_matmul_inner_dimension_mismatch():
    msg = message(ShapeError, lambda: dg.matmul(dg.ones(2, 3), dg.ones(4, 5)))
    assert "matmul" in msg.lower()
    assert "(2, 3)" in msg and "(4, 5)" in msg


@pytest.mark.skipif(not hasattr(dg, "matmul"), reason="dg.matmul is not written yet")
def test_matmul_operator_mismatch():
    msg = message(ShapeError, lambda: dg.ones(2, 3) @ dg.ones(2))
    assert "(2, 3)" in msg and "(2,)" in msg


def test_backward_on_non_scalar_without_gradient():
    y = leaf() * 2.0
    msg = message(GradientError, y.backward)
    assert "scalar" in msg and "(3,)" in msg and "gradient" in msg


def test_backward_twice_through_a_freed_graph():
    y = leaf() * leaf()
    y.backward(dg.ones(3))
    msg = message(GradientError, lambda: y.backward(dg.ones(3)))
    assert "second time" in msg and "retain_graph=True" in msg and "Mul" in msg


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: dg.tensor([1, 2], requires_grad=True), id="tensor"),
        pytest.param(lambda: dg.zeros(2, dtype=dg.int64).requires_grad_(), id="requires_grad_"),
        pytest.param(lambda: dg.tensor([True], requires_grad=True), id="bool"),
        pytest.param(lambda: dg.ones(2, dtype=dg.int32, requires_grad=True), id="ones"),
    ],
)
def test_requires_grad_on_non_float_tensor(make):
    msg = message(DtypeError, make)
    assert "floating point" in msg
    assert "int" in msg or "bool" in msg


def test_requires_grad_on_float_tensor_is_fine():
    assert dg.tensor([1.0], dtype=dg.float64, requires_grad=True).requires_grad


def test_backward_on_tensor_not_requiring_grad():
    msg = message(GradientError, lambda: (dg.ones(1) * 2.0).backward())
    assert "does not require grad" in msg


def test_backward_on_tensor_computed_under_no_grad():
    x = leaf()
    with dg.no_grad():
        y = x * 2.0
    msg = message(GradientError, lambda: y.backward(dg.ones(3)))
    assert "no_grad" in msg


def test_gradient_shape_mismatch():
    y = leaf() * 2.0
    msg = message(ShapeError, lambda: y.backward(dg.ones(4)))
    assert "(4,)" in msg and "(3,)" in msg and "backward" in msg


def test_grad_with_input_not_requiring_grad():
    x = leaf()
    msg = message(GradientError, lambda: dg.autograd.grad(x * 2.0, dg.ones(3), grad_outputs=dg.ones(3)))
    assert "requires_grad" in msg or "require grad" in msg


def test_item_on_multi_element_tensor():
    msg = message(GradientError, lambda: dg.ones(2, 3).item())
    assert "item" in msg and "one element" in msg and "(2, 3)" in msg


def test_item_on_single_element_tensor():
    assert dg.tensor([[2.5]]).item() == 2.5


def test_numpy_on_tensor_requiring_grad():
    msg = message(GradientError, lambda: leaf().numpy())
    assert "requires grad" in msg and "detach().numpy()" in msg


def test_bool_of_multi_element_tensor():
    msg = message(GradientError, lambda: bool(dg.ones(3)))
    assert "ambiguous" in msg and "3 elements" in msg


def test_in_place_op_on_leaf_requiring_grad():
    if not hasattr(dg.Tensor, "add_"):
        pytest.skip("in-place ops are not written yet")
    msg = message(GradientError, lambda: leaf().add_(1.0))
    assert "leaf" in msg and "in-place" in msg


def test_negative_size():
    msg = message(ShapeError, lambda: dg.zeros(2, -1))
    assert "zeros" in msg and "-1" in msg


def test_errors_are_never_bare_numpy_or_assert():
    for fn in (lambda: dg.ones(3) + dg.ones(4), lambda: leaf().numpy(), lambda: dg.ones(2).item()):
        with pytest.raises(DagradError):
            fn()
    with pytest.raises(DagradError):
        dg.tensor(np.array(["a"]))
