"""Elementwise ops (ops/unary.py, activation.py, elementwise.py, compare.py): values at the extremes, tie rules,
broadcasting, dtypes and error messages. Gradients on ordinary inputs are checked by the op registry
(tests/autograd/test_op_registry.py) and against PyTorch by tests/test_parity.py; here they are checked
where those generic suites cannot reach (ties, saturation, thresholds)."""

from __future__ import annotations

import math

import numpy
import pytest

import dagrad as dg
from dagrad.errors import DtypeError, ShapeError
from dagrad.ops.elementwise import select
from dagrad.ops.unary import erf_array

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _both(values, dtype=numpy.float64, requires_grad=True):
    a = numpy.asarray(values, dtype=dtype)
    return dg.tensor(a, requires_grad=requires_grad), torch.tensor(a, requires_grad=requires_grad)


def _check(ours_fn, torch_fn, values, dtype=numpy.float64, rtol=1e-12, atol=1e-15):
    """Forward values and the gradient of (out * w).sum() agree with PyTorch; returns our output."""
    x, tx = _both(values, dtype)
    y, ty = ours_fn(x), torch_fn(tx)
    assert y.dtype == numpy.dtype(dtype)
    numpy.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=rtol, atol=atol)
    w = numpy.random.default_rng(0).standard_normal(y.shape).astype(dtype)
    y.backward(dg.tensor(w))
    ty.backward(torch.from_numpy(w))
    numpy.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=rtol, atol=atol)
    return y


# ---- unary math ---------------------------------------------------------------------------------------------
WIDE = numpy.linspace(-8, 8, 33)
POS = numpy.linspace(0.01, 20, 33)


@pytest.mark.parametrize(
    "name,values",
    [("exp", WIDE), ("expm1", WIDE), ("log", POS), ("log1p", POS - 0.5), ("sqrt", POS), ("rsqrt", POS),
     ("abs", WIDE + 0.25), ("sign", WIDE + 0.25), ("sin", WIDE), ("cos", WIDE), ("tanh", WIDE), ("erf", WIDE),
     ("erfc", WIDE)],
)  # fmt: skip
def test_unary_matches_torch(name, values):
    _check(getattr(dg, name), getattr(torch, name), values)
    _check(getattr(dg, name), getattr(torch, name), values, numpy.float32, rtol=1e-5, atol=1e-6)


def test_log_of_zero_is_minus_inf_and_log_of_negative_is_nan():
    with numpy.errstate(divide="ignore", invalid="ignore"):  # NumPy warns where PyTorch is silent
        y = dg.log(dg.tensor([0.0, -1.0, 1.0]))
    assert y.data[0] == -numpy.inf and numpy.isnan(y.data[1]) and y.data[2] == 0


def test_erf_is_accurate_in_float64():
    x = numpy.concatenate([numpy.linspace(-7, 7, 4001), [0.0, 0.46875, -0.46875, 4.0, -4.0, 30.0, -30.0]])
    assert numpy.max(numpy.abs(erf_array(x) - [math.erf(v) for v in x])) < 1e-15
    c = erf_array(x, complement=True)
    ref = numpy.array([math.erfc(v) for v in x])
    assert numpy.max(numpy.abs(c - ref) / numpy.maximum(ref, 1e-300)) < 1e-12  # relative, deep in the tail too
    special = erf_array(numpy.array([numpy.inf, -numpy.inf, numpy.nan]))
    assert special[0] == 1 and special[1] == -1 and numpy.isnan(special[2])
    assert erf_array(numpy.array(0.25)).shape == ()


@pytest.mark.parametrize(
    "fn",
    [dg.erf, dg.erfc, dg.gelu, dg.sigmoid, dg.relu, dg.elu, dg.softplus, dg.silu, lambda t: dg.clamp(t, -1, 1),
     lambda t: dg.where(t > 0, t, -t), lambda t: dg.maximum(t, t.T.T * 0.5)],
)  # fmt: skip
def test_non_contiguous_inputs(fn):
    """Transposed inputs (large enough for the blended selection, wide enough for erf's far tail)."""
    a = numpy.random.default_rng(1).standard_normal((150, 200)) * 4
    t = dg.tensor(a).T
    assert not t.is_contiguous()
    numpy.testing.assert_array_equal(fn(t).data, fn(dg.tensor(a.T.copy())).data)


def test_float_functions_promote_integer_inputs_and_keep_integer_abs():
    x = dg.tensor([1, -2, 3])
    assert dg.exp(x).dtype == dg.float32 and dg.sqrt(dg.abs(x)).dtype == dg.float32
    assert dg.abs(x).dtype == dg.int64 and dg.abs(x).tolist() == [1, 2, 3]
    assert dg.sign(x).tolist() == [1, -1, 1] and dg.relu(x).tolist() == [1, 0, 3]
    assert abs(dg.tensor([-1.5])).tolist() == [1.5]


def test_unary_rejects_non_tensors():
    with pytest.raises(DtypeError, match=r"exp: expected a Tensor, received float"):
        dg.exp(2.0)
    with pytest.raises(DtypeError, match=r"sigmoid: expected a Tensor, received list"):
        dg.sigmoid([1.0])


def test_sign_and_abs_gradients():
    x = dg.tensor([-2.0, 0.0, 3.0], requires_grad=True)
    dg.sign(x).backward(dg.ones(3))
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    x.grad = None
    dg.abs(x).backward(dg.ones(3))
    assert x.grad.tolist() == [-1.0, 0.0, 1.0]  # sign(0) = 0, as PyTorch


# ---- activations ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_sigmoid_saturates_without_overflow(dtype):
    x = dg.tensor(numpy.array([-1000.0, -100.0, 0.0, 100.0, 1000.0], dtype), requires_grad=True)
    y = dg.sigmoid(x)  # pytest turns NumPy's overflow warning into an error, so none may be raised
    ref = torch.sigmoid(torch.tensor(x.data)).numpy()
    numpy.testing.assert_allclose(y.data, ref, rtol=1e-6, atol=0)
    assert y.data[0] == 0 and y.data[2] == 0.5 and y.data[-1] == 1
    y.backward(dg.ones(5, dtype=dtype))
    assert numpy.isfinite(x.grad.data).all() and x.grad.data[2] == 0.25 and x.grad.data[0] == 0


def test_sigmoid_keeps_relative_accuracy_in_the_left_tail():
    _check(dg.sigmoid, torch.sigmoid, [-700.0, -80.0, -40.0, -20.0, 20.0, 40.0], rtol=1e-13, atol=0)


def test_sigmoid_overflow_is_not_an_anomaly():
    with dg.autograd.detect_anomaly():
        y = dg.sigmoid(dg.tensor([-1000.0, 1000.0]))
    assert y.tolist() == [0.0, 1.0]


def test_softplus_large_inputs_and_threshold():
    x = [-1000.0, -30.0, -1.0, 0.0, 1.0, 19.0, 21.0, 1000.0]
    y = _check(dg.softplus, F.softplus, x)
    assert y.data[0] == 0 and y.data[-1] == 1000.0
    _check(lambda t: dg.softplus(t, beta=2.0, threshold=3.0), lambda t: F.softplus(t, 2.0, 3.0), x)
    _check(lambda t: dg.softplus(t, beta=0.5), lambda t: F.softplus(t, 0.5), x, numpy.float32, rtol=1e-6)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_matches_torch(approximate):
    values = numpy.linspace(-12, 12, 97)
    # gelu's Phi is erfc-based: accurate to 5e-12 absolutely, and relatively in the left tail where PyTorch's
    # 1 + erf(x / sqrt 2) cancels to 0 (so there the two differ by more than rtol but less than atol)
    gelu = lambda t: dg.gelu(t, approximate)  # noqa: E731
    _check(gelu, lambda t: F.gelu(t, approximate=approximate), values, rtol=1e-11, atol=1e-14)
    _check(
        lambda t: dg.gelu(t, approximate=approximate),
        lambda t: F.gelu(t, approximate=approximate),
        values,
        numpy.float32,
        rtol=1e-5,
        atol=1e-6,  # PyTorch's float32 gelu loses ~|x| * 6e-8 to cancellation in 1 + erf(x / sqrt 2); ours uses erfc
    )


def test_gelu_second_derivative_matches_torch():
    for approximate in ("none", "tanh"):
        x, tx = _both(numpy.linspace(-4, 4, 9))
        (g,) = dg.autograd.grad(dg.gelu(x, approximate), [x], dg.ones(9, dtype=dg.float64), create_graph=True)
        (tg,) = torch.autograd.grad(F.gelu(tx, approximate=approximate), [tx], torch.ones(9), create_graph=True)
        (gg,) = dg.autograd.grad(g, [x], dg.ones(9, dtype=dg.float64))
        (tgg,) = torch.autograd.grad(tg, [tx], torch.ones(9))
        numpy.testing.assert_allclose(gg.data, tgg.numpy(), rtol=1e-10, atol=1e-12)


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ShapeError, match=r"gelu: expected approximate to be 'none' or 'tanh', received.*'erf'"):
        dg.gelu(dg.ones(2), approximate="erf")


@pytest.mark.parametrize(
    "ours,theirs",
    [(dg.relu, torch.relu), (dg.silu, F.silu), (dg.elu, F.elu), (lambda t: dg.elu(t, 0.3), lambda t: F.elu(t, 0.3)),
     (dg.leaky_relu, F.leaky_relu), (lambda t: dg.leaky_relu(t, 3.0), lambda t: F.leaky_relu(t, 3.0)),
     (lambda t: dg.leaky_relu(t, -0.2), lambda t: F.leaky_relu(t, -0.2)), (dg.hardtanh, F.hardtanh),
     (dg.relu6, F.relu6), (dg.tanh, torch.tanh)],
)  # fmt: skip
def test_activations_match_torch(ours, theirs):
    values = numpy.linspace(-7.3, 7.3, 40)
    _check(ours, theirs, values)
    _check(ours, theirs, values, numpy.float32, rtol=1e-5, atol=1e-6)


def test_relu_backward_masks_by_output_and_has_zero_curvature():
    x = dg.tensor([-1.5, 0.0, 2.0], dtype=dg.float64, requires_grad=True)
    (g,) = dg.autograd.grad(dg.relu(x), [x], dg.tensor([3.0, 3.0, 3.0], dtype=dg.float64))
    assert g.tolist() == [0.0, 0.0, 3.0]  # PyTorch's subgradient at 0 is 0
    # d/dx (x * relu(x)) = 2 relu(x), whose derivative 2 * (x > 0) has no term from relu's own curvature
    (g,) = dg.autograd.grad(x * dg.relu(x), [x], dg.ones(3, dtype=dg.float64), create_graph=True)
    (gg,) = dg.autograd.grad(g, [x], dg.ones(3, dtype=dg.float64))
    assert g.tolist() == [0.0, 0.0, 4.0] and gg.tolist() == [0.0, 0.0, 2.0]


def test_inplace_activations_write_into_their_input():
    x = dg.tensor([-1.0, 2.0])
    assert dg.relu(x, inplace=True) is x and x.tolist() == [0.0, 2.0]
    a = dg.tensor([-2.0, 0.5, 3.0], requires_grad=True)
    h = a * 1.0
    dg.leaky_relu(h, 0.5, inplace=True)
    dg.hardtanh(h, inplace=True)
    h.backward(dg.ones(3))
    assert h.tolist() == [-1.0, 0.5, 1.0] and a.grad.tolist() == [0.0, 1.0, 0.0]
    with pytest.raises(dg.InplaceError, match="relu_"):
        dg.relu(dg.ones(2, requires_grad=True), inplace=True)


def test_activation_argument_errors():
    with pytest.raises(ShapeError, match=r"hardtanh: expected min_val <= max_val, received min_val=2.0, max_val=1.0"):
        dg.hardtanh(dg.ones(2), 2.0, 1.0)
    with pytest.raises(DtypeError, match=r"leaky_relu: expected negative_slope to be a number, received.*'a'"):
        dg.leaky_relu(dg.ones(2), "a")


# ---- where / clamp / maximum / minimum / lerp ----------------------------------------------------------------
def test_select_blend_is_bit_exact():
    rng = numpy.random.default_rng(3)
    for dtype in (numpy.float32, numpy.float64, numpy.int64, numpy.bool_):
        a = rng.standard_normal((300, 200)).astype(dtype)
        b = rng.standard_normal((200,)).astype(dtype)
        if dtype in (numpy.float32, numpy.float64):
            a[0, :4] = [numpy.nan, numpy.inf, -numpy.inf, -0.0]
        cond = rng.random((300, 1)) < 0.5
        out = select(cond, a, b)
        ref = numpy.where(cond, a, b)
        assert out.dtype == ref.dtype and out.shape == ref.shape
        assert out.tobytes() == ref.tobytes()


def test_where_broadcasts_and_routes_gradients():
    cond = dg.tensor([[True], [False]])
    x, tx = _both([1.0, 2.0, 3.0])
    y, ty = _both([[10.0], [20.0]])
    out = dg.where(cond, x, y)
    ref = torch.where(torch.tensor([[True], [False]]), tx, ty)
    assert out.shape == (2, 3) and out.tolist() == ref.tolist()
    w = numpy.arange(6.0).reshape(2, 3)
    out.backward(dg.tensor(w))
    ref.backward(torch.tensor(w))
    assert x.grad.tolist() == tx.grad.tolist() and y.grad.tolist() == ty.grad.tolist()
    assert x.where(cond, 0.0).tolist() == [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]


def test_where_with_scalars_and_dtypes():
    cond = dg.tensor([True, False])
    assert dg.where(cond, 1.0, 0.0).dtype == dg.float32
    assert dg.where(cond, 1, 0).dtype == dg.int64
    assert dg.where(cond, dg.tensor([1, 2]), 1.5).tolist() == [1.0, 1.5]
    assert dg.where(cond, dg.tensor([1.0, 2.0], dtype=dg.float64), 7).dtype == dg.float64
    rows, cols = dg.where(dg.tensor([[True, False], [False, True]]))
    assert rows.tolist() == [0, 1] and cols.tolist() == [0, 1] and rows.dtype == dg.int64


def test_where_errors():
    with pytest.raises(DtypeError, match=r"where: expected condition to be a bool tensor, received float32"):
        dg.where(dg.ones(2), dg.ones(2), dg.zeros(2))
    with pytest.raises(ShapeError, match=r"where"):
        dg.where(dg.tensor([True, False]), dg.ones(3), dg.zeros(3))


def test_maximum_and_minimum_split_ties_like_torch():
    for ours, theirs in ((dg.maximum, torch.maximum), (dg.minimum, torch.minimum)):
        a, ta = _both([1.0, 2.0, 3.0, 5.0])
        b, tb = _both([1.0, 3.0, 3.0, 4.0])
        ours(a, b).backward(dg.ones(4, dtype=dg.float64))
        theirs(ta, tb).backward(torch.ones(4, dtype=torch.float64))
        assert a.grad.tolist() == ta.grad.tolist() and b.grad.tolist() == tb.grad.tolist()
        assert a.grad.data[0] == 0.5 and a.grad.data[2] == 0.5


def test_maximum_propagates_nan_and_broadcasts():
    out = dg.maximum(dg.tensor([[numpy.nan], [1.0]]), dg.tensor([0.0, 2.0]))
    assert out.shape == (2, 2) and numpy.isnan(out.data[0]).all() and out.data[1].tolist() == [1.0, 2.0]


def test_clamp_min_greater_than_max_matches_torch():
    values = [0.0, 1.0, 2.0, 3.0]
    y = _check(lambda t: dg.clamp(t, min=2.5, max=1.5), lambda t: torch.clamp(t, min=2.5, max=1.5), values)
    assert y.tolist() == [1.5] * 4
    _check(lambda t: dg.clamp(t, 1.0, 2.0), lambda t: torch.clamp(t, 1.0, 2.0), values)  # boundaries pass gradient
    _check(lambda t: t.clip(max=1.0), lambda t: t.clip(max=1.0), values)


def test_clamp_with_tensor_bounds_matches_torch():
    x, tx = _both([0.0, 1.0, 2.0, 3.0, 1.0])
    lo, tlo = _both([0.5, 0.5, 2.5, 2.5, 1.0])
    hi, thi = _both([2.0, 0.2, 2.8, 2.6, 1.0])  # includes min > max and a three-way tie
    dg.clamp(x, lo, hi).backward(dg.ones(5, dtype=dg.float64))
    torch.clamp(tx, tlo, thi).backward(torch.ones(5, dtype=torch.float64))
    for ours, theirs in ((x, tx), (lo, tlo), (hi, thi)):
        assert ours.grad.tolist() == theirs.grad.tolist()


def test_clamp_dtypes_and_errors():
    ints = dg.tensor([1, 2, 3])
    assert dg.clamp(ints, min=2).tolist() == [2, 2, 3] and dg.clamp(ints, min=2).dtype == dg.int64
    assert dg.clamp(ints, min=1.5).dtype == dg.float32
    nan = dg.clamp(dg.tensor([numpy.nan, 5.0]), 0.0, 1.0)
    assert numpy.isnan(nan.data[0]) and nan.data[1] == 1.0
    with pytest.raises(ShapeError, match=r"clamp: expected at least one of min and max"):
        dg.clamp(dg.ones(2))
    with pytest.raises(DtypeError, match=r"clamp: expected min to be a number or a Tensor, received str"):
        dg.clamp(dg.ones(2), min="0")


def test_lerp_matches_torch():
    a, ta = _both([0.0, 1.0, 2.0])
    b, tb = _both([1.0, 3.0, -2.0])
    w, tw = _both([0.25, 0.5, 0.75])
    out = dg.lerp(a, b, w)
    ref = torch.lerp(ta, tb, tw)
    numpy.testing.assert_allclose(out.data, ref.detach().numpy())
    out.backward(dg.ones(3, dtype=dg.float64))
    ref.backward(torch.ones(3, dtype=torch.float64))
    for ours, theirs in ((a, ta), (b, tb), (w, tw)):
        numpy.testing.assert_allclose(ours.grad.data, theirs.grad.numpy())
    assert a.lerp(b, 0.5).tolist() == [0.5, 2.0, 0.0]


# ---- comparisons and logic ----------------------------------------------------------------------------------
def test_comparisons_are_bool_and_never_require_grad():
    x = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for out, ref in [(x == 2, [False, True, False]), (x != 2, [True, False, True]), (x < 2, [True, False, False]),
                     (x <= 2, [True, True, False]), (x > 2, [False, False, True]), (x >= 2, [False, True, True]),
                     (2 < x, [False, False, True]), (dg.eq(x, x), [True, True, True]),
                     (x.ge(dg.tensor([[1.0], [3.0]])), [[True, True, True], [False, False, True]])]:  # fmt: skip
        assert out.dtype == dg.bool and not out.requires_grad and out.grad_fn is None
        assert out.tolist() == ref


def test_tensor_stays_hashable_and_compares_with_none():
    x = dg.tensor([1.0])
    assert len({x, dg.tensor([1.0])}) == 2 and {x: 1}[x] == 1
    assert (x == None) is False and (x != None) is True  # noqa: E711
    assert x in [x]


def test_comparison_broadcast_error_names_the_op():
    with pytest.raises(ShapeError, match=r"lt"):
        dg.lt(dg.ones(2), dg.ones(3))


def test_logical_and_bitwise_ops():
    a = dg.tensor([True, True, False, False])
    b = dg.tensor([True, False, True, False])
    assert (a & b).tolist() == [True, False, False, False] and (a | b).tolist() == [True, True, True, False]
    assert (a ^ b).tolist() == [False, True, True, False] and (~a).tolist() == [False, False, True, True]
    assert dg.logical_xor(a, dg.tensor([1.0, 0.0, 2.0, 0.0])).tolist() == [False, True, True, False]
    assert dg.logical_not(dg.tensor([0.0, 2.0])).tolist() == [True, False]
    assert (dg.tensor([12, 10]) & 6).tolist() == [4, 2] and (~dg.tensor([0, 5])).tolist() == [-1, -6]
    with pytest.raises(DtypeError, match=r"bitwise_and: expected bool or integer operands, received float32"):
        dg.ones(2) & dg.ones(2)


def test_isnan_isinf_isfinite():
    x = dg.tensor([1.0, numpy.nan, numpy.inf, -numpy.inf])
    assert dg.isnan(x).tolist() == [False, True, False, False]
    assert x.isinf().tolist() == [False, False, True, True]
    assert dg.isfinite(x).tolist() == [True, False, False, False]


def test_any_all_with_dims():
    x = dg.tensor([[0.0, 1.0], [0.0, 0.0]])
    assert dg.any(x).item() is True and dg.all(x).item() is False and dg.any(x).dtype == dg.bool
    assert x.any(dim=1).tolist() == [True, False] and x.all(0, keepdim=True).tolist() == [[False, False]]
    assert dg.any(x, dim=(0, 1)).item() is True
    with pytest.raises(ShapeError, match=r"any: dim 2 is out of range for a tensor with 2 dimensions"):
        dg.any(x, dim=2)


def test_allclose_isclose_and_equal():
    a = dg.tensor([1.0, 2.0, numpy.nan])
    b = dg.tensor([1.0, 2.0 + 1e-9, numpy.nan])
    assert dg.allclose(a, b) is False and dg.allclose(a, b, equal_nan=True) is True
    assert dg.isclose(a, b).tolist() == [True, True, False]
    assert dg.equal(dg.tensor([1, 2]), dg.tensor([1, 2])) is True
    assert dg.equal(dg.tensor([1, 2]), dg.tensor([[1, 2]])) is False
