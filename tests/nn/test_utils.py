"""dagrad.nn.utils: gradient clipping and flat parameter vectors, equal to torch.nn.utils."""

import math

import numpy as np
import pytest

import dagrad as dg
from dagrad.errors import DtypeError, GradientError, ShapeError
from dagrad.nn import utils

torch = pytest.importorskip("torch")

SHAPES = [(4, 3), (5,), (2, 3, 2), (1,)]


def _params(scale: float = 1.0, dtype=np.float64, seed: int = 0):
    """dagrad and torch parameters holding the same values and the same gradients."""
    rng = np.random.default_rng(seed)
    ours, theirs = [], []
    for shape in SHAPES:
        v, g = rng.standard_normal(shape).astype(dtype), (scale * rng.standard_normal(shape)).astype(dtype)
        p, t = dg.nn.Parameter(dg.tensor(v)), torch.nn.Parameter(torch.tensor(v))
        p.grad, t.grad = dg.tensor(g), torch.tensor(g)
        ours.append(p)
        theirs.append(t)
    return ours, theirs


def _grads_equal(ours, theirs, rtol=1e-12):
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.data, t.grad.numpy(), rtol=rtol, atol=0)


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, math.inf, "inf", 0.5])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    ours, theirs = _params()
    total = utils.clip_grad_norm_(ours, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert isinstance(total, dg.Tensor) and total.shape == () and total.dtype == dg.float64
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-12)
    _grads_equal(ours, theirs)


def test_clip_grad_norm_float32_and_generators():
    ours, theirs = _params(scale=3.0, dtype=np.float32)
    total = utils.clip_grad_norm_((p for p in ours), 1.0)
    expected = torch.nn.utils.clip_grad_norm_((p for p in theirs), 1.0)
    assert total.dtype == dg.float32
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-6)
    _grads_equal(ours, theirs, rtol=1e-6)
    total_after = math.sqrt(sum(float((p.grad.data.astype(np.float64) ** 2).sum()) for p in ours))
    assert total_after == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_single_tensor_none_grads_and_empty():
    p = dg.nn.Parameter(dg.tensor([3.0, 4.0]))
    p.grad = dg.tensor([3.0, 4.0])
    q = dg.nn.Parameter(dg.zeros(2))  # no .grad: skipped
    assert utils.clip_grad_norm_([p, q], 1.0).item() == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad.data, [0.6, 0.8], rtol=1e-5)
    assert utils.clip_grad_norm_(p, 10.0).item() == pytest.approx(1.0, rel=1e-5)
    assert utils.clip_grad_norm_([], 1.0).item() == 0.0
    with pytest.warns(UserWarning, match="empty generator"):
        utils.clip_grad_norm_((p for p in []), 1.0)


def test_clip_grad_norm_nonfinite():
    ours, theirs = _params()
    ours[1].grad.data[0] = theirs[1].grad.data[0] = np.inf
    with pytest.raises(GradientError, match="non-finite"):
        utils.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    total = utils.clip_grad_norm_(ours, 1.0)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert math.isinf(total.item()) and math.isinf(expected.item())
    for p, t in zip(ours, theirs):
        np.testing.assert_array_equal(np.isnan(p.grad.data), np.isnan(t.grad.numpy()))


def test_get_total_norm_and_clip_grads_with_norm_match_torch():
    ours, theirs = _params(scale=2.0)
    grads, tgrads = [p.grad for p in ours], [t.grad for t in theirs]
    total = utils.get_total_norm(grads, 3.0)
    expected = torch.nn.utils.get_total_norm(tgrads, 3.0)
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-12)
    utils.clip_grads_with_norm_(ours, 0.7, total)
    torch.nn.utils.clip_grads_with_norm_(theirs, 0.7, expected)
    _grads_equal(ours, theirs)


def test_clip_grad_value_matches_torch():
    ours, theirs = _params(scale=2.0)
    assert utils.clip_grad_value_(ours, 0.8) is None
    torch.nn.utils.clip_grad_value_(theirs, 0.8)
    _grads_equal(ours, theirs)
    assert max(np.abs(p.grad.data).max() for p in ours) == 0.8


def test_clipping_bumps_the_gradients_version():
    ours, _ = _params(scale=5.0)
    g = ours[0].grad
    v = g._version
    utils.clip_grad_norm_(ours, 0.1)
    assert g._version > v and ours[0].grad is g  # scaled in place


def test_parameters_to_vector_matches_torch_and_is_differentiable():
    ours, theirs = _params()
    vec = utils.parameters_to_vector(ours)
    expected = torch.nn.utils.parameters_to_vector(theirs)
    np.testing.assert_array_equal(vec.data, expected.detach().numpy())
    w = np.arange(vec.shape[0], dtype=np.float64)
    (vec * dg.tensor(w)).sum().backward()
    start, (fresh, _) = 0, _params()  # the gradients the parameters held before
    for p, f in zip(ours, fresh):
        n = p.numel()
        np.testing.assert_allclose(p.grad.data.ravel() - f.grad.data.ravel(), w[start : start + n], atol=1e-12)
        start += n


def test_vector_to_parameters_matches_torch():
    ours, theirs = _params()
    n = sum(p.numel() for p in ours)
    v = np.linspace(-1, 1, n)
    utils.vector_to_parameters(dg.tensor(v), ours)
    torch.nn.utils.vector_to_parameters(torch.tensor(v), theirs)
    for p, t in zip(ours, theirs):
        np.testing.assert_array_equal(p.data, t.detach().numpy())
        assert p.shape == tuple(t.shape)
    np.testing.assert_array_equal(utils.parameters_to_vector(ours).data, v)


def test_vector_to_parameters_errors():
    ours, _ = _params()
    with pytest.raises(DtypeError, match="vector_to_parameters: expected vec to be a Tensor"):
        utils.vector_to_parameters(np.zeros(30), ours)
    with pytest.raises(ShapeError, match="at least 30 elements"):
        utils.vector_to_parameters(dg.zeros(10), ours)
    with pytest.raises(ShapeError, match="1-D vec"):
        utils.vector_to_parameters(dg.zeros(5, 6), ours)
