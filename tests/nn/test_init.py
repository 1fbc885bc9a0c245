"""dagrad.nn.init: torch's gains and fans, the distributions' statistics, orthogonality, in-place semantics."""

import math

import numpy as np
import pytest

import dagrad as dg
from dagrad.errors import ArgumentError, DtypeError, ShapeError
from dagrad.nn import init

torch = pytest.importorskip("torch")

NONLINEARITIES = [
    "linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid",
    "tanh", "relu", "leaky_relu", "selu",
]  # fmt: skip
SHAPES = [(5, 7), (3, 4, 5), (16, 8, 3, 3), (4, 2, 3, 2, 5), (1, 1)]


@pytest.mark.parametrize("name", NONLINEARITIES)
def test_calculate_gain_matches_torch(name):
    assert init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))
    if name == "leaky_relu":
        for slope in (0.2, 1, 0.0):
            assert init.calculate_gain(name, slope) == pytest.approx(torch.nn.init.calculate_gain(name, slope))


def test_calculate_gain_errors():
    with pytest.raises(ArgumentError, match="calculate_gain: expected nonlinearity to be one of .* received 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ArgumentError, match="negative_slope"):
        init.calculate_gain("leaky_relu", True)


@pytest.mark.parametrize("shape", SHAPES)
def test_fans_match_torch(shape):
    assert init._calculate_fan_in_and_fan_out(dg.empty(*shape)) == torch.nn.init._calculate_fan_in_and_fan_out(
        torch.empty(*shape)
    )
    for mode in ("fan_in", "fan_out", "FAN_OUT"):
        ours = init._calculate_correct_fan(dg.empty(*shape), mode)
        assert ours == torch.nn.init._calculate_correct_fan(torch.empty(*shape), mode.lower())


def test_fan_errors():
    with pytest.raises(ShapeError, match="at least 2 dimensions"):
        init._calculate_fan_in_and_fan_out(dg.empty(5))
    with pytest.raises(ArgumentError, match="mode"):
        init.kaiming_uniform_(dg.empty(3, 4), mode="fan_avg")


def test_fills_are_in_place_return_the_tensor_and_bump_the_version():
    w = dg.nn.Parameter(dg.empty(4, 5))
    data, version = w.data, w._version
    assert init.uniform_(w, -1, 1) is w
    assert w.data is data and w._version > version and w.requires_grad and w.grad_fn is None
    for fill in (init.normal_, init.xavier_uniform_, init.kaiming_normal_, init.orthogonal_, init.trunc_normal_):
        assert fill(w) is w and w.data is data


def test_a_saved_tensor_refilled_fails_backward():
    """Like torch: an init fill after the tensor was saved for backward is an in-place change that backward sees."""
    w = dg.nn.Parameter(dg.ones(3))
    y = (w * w).sum()
    init.zeros_(w)
    with pytest.raises(dg.errors.InplaceError):
        y.backward()


def test_uniform_and_normal_statistics():
    w = dg.empty(400, 500)
    init.uniform_(w, -2.0, 3.0)
    assert w.data.min() >= -2.0 and w.data.max() < 3.0
    assert abs(w.data.mean() - 0.5) < 0.02 and abs(w.data.std() - 5 / math.sqrt(12)) < 0.02
    init.normal_(w, 1.5, 0.5)
    assert abs(w.data.mean() - 1.5) < 0.005 and abs(w.data.std() - 0.5) < 0.005
    assert w.dtype == dg.float32
    v = init.normal_(dg.empty(100, 100, dtype=dg.float64))
    assert v.dtype == dg.float64


def test_seeded_and_generator_reproducibility():
    dg.manual_seed(11)
    a = init.kaiming_uniform_(dg.empty(8, 9)).data.copy()
    dg.manual_seed(11)
    np.testing.assert_array_equal(a, init.kaiming_uniform_(dg.empty(8, 9)).data)
    g1, g2 = dg.Generator(5), dg.Generator(5)
    np.testing.assert_array_equal(
        init.normal_(dg.empty(10), generator=g1).data, init.normal_(dg.empty(10), generator=g2).data
    )


@pytest.mark.parametrize("shape", [(300, 400), (64, 32, 5, 5)])
def test_xavier_statistics(shape):
    fan_in, fan_out = init._calculate_fan_in_and_fan_out(dg.empty(*shape))
    bound = 1.5 * math.sqrt(6 / (fan_in + fan_out))
    w = init.xavier_uniform_(dg.empty(*shape), gain=1.5)
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.99 * bound
    assert abs(w.data.std() - bound / math.sqrt(3)) < 0.02 * bound
    std = 1.5 * math.sqrt(2 / (fan_in + fan_out))
    assert abs(init.xavier_normal_(w, gain=1.5).data.std() - std) < 0.02 * std


KAIMING = [
    ("fan_in", "leaky_relu", 0),
    ("fan_out", "relu", 0),
    ("fan_in", "leaky_relu", math.sqrt(5)),
    ("fan_out", "tanh", 0),
]


@pytest.mark.parametrize("mode,nonlinearity,a", KAIMING)
def test_kaiming_statistics(mode, nonlinearity, a):
    w = dg.empty(128, 64, 3, 3)
    fan = 64 * 9 if mode == "fan_in" else 128 * 9
    std = init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    init.kaiming_uniform_(w, a=a, mode=mode, nonlinearity=nonlinearity)
    assert np.abs(w.data).max() <= math.sqrt(3) * std and abs(w.data.std() - std) < 0.02 * std
    init.kaiming_normal_(w, a=a, mode=mode, nonlinearity=nonlinearity)
    assert abs(w.data.std() - std) < 0.02 * std and abs(w.data.mean()) < 0.02 * std


def test_kaiming_on_empty_tensor_warns_as_torch():
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(dg.empty(0, 3))


@pytest.mark.parametrize("shape", [(20, 50), (50, 20), (6, 3, 2, 2), (7, 7)])
def test_orthogonal(shape):
    w = init.orthogonal_(dg.empty(*shape, dtype=dg.float64), gain=2.0)
    q = w.data.reshape(shape[0], -1)
    gram = q @ q.T if q.shape[0] <= q.shape[1] else q.T @ q
    np.testing.assert_allclose(gram, 4.0 * np.eye(gram.shape[0]), atol=1e-12)


def test_orthogonal_is_haar_distributed():
    """With the sign correction the diagonal of Q has no preferred sign (uncorrected QR makes it mostly negative)."""
    diag = [init.orthogonal_(dg.empty(8, 8, dtype=dg.float64)).data.diagonal() for _ in range(200)]
    assert abs(np.mean(np.concatenate(diag))) < 0.05


def test_sparse():
    w = init.sparse_(dg.empty(40, 300), sparsity=0.3, std=0.5)
    zeros = (w.data == 0).sum(axis=0)
    assert (zeros == math.ceil(0.3 * 40)).all()
    assert abs(w.data[w.data != 0].std() - 0.5) < 0.02
    with pytest.raises(ShapeError, match="sparse_: expected a 2-D tensor"):
        init.sparse_(dg.empty(2, 3, 4), 0.1)


def _truncnorm_moments(mean, std, a, b):
    """Mean and std of N(mean, std^2) truncated to [a, b] (closed form)."""
    al, be = (a - mean) / std, (b - mean) / std
    pdf = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    z = cdf(be) - cdf(al)
    m = (pdf(al) - pdf(be)) / z
    var = 1 + (al * pdf(al) - be * pdf(be)) / z - m * m
    return mean + std * m, std * math.sqrt(var)


@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (0.5, 2.0, -1.0, 1.0), (0.0, 1.0, 1.5, 3.0)])
def test_trunc_normal(mean, std, a, b):
    """Both of torch's samplers: normal draws (mass in [a, b] > 0.3) and uniform proposals (the tail case)."""
    w = init.trunc_normal_(dg.empty(300, 300, dtype=dg.float64), mean, std, a, b)
    assert w.data.min() >= a and w.data.max() <= b
    m, s = _truncnorm_moments(mean, std, a, b)
    assert abs(w.data.mean() - m) < 0.01 * std and abs(w.data.std() - s) < 0.01 * std


def test_trunc_normal_far_from_interval_warns():
    with pytest.warns(UserWarning, match="more than 2 std"):
        init.trunc_normal_(dg.empty(10), mean=5.0, a=-1.0, b=1.0)


def test_deterministic_fills_match_torch():
    for shape in [(3, 5), (5, 3)]:
        np.testing.assert_array_equal(init.eye_(dg.empty(*shape)).data, torch.nn.init.eye_(torch.empty(*shape)))
    for shape, groups in [((6, 4, 3), 1), ((6, 2, 3, 3), 2), ((4, 4, 3, 3, 3), 2), ((3, 5, 2, 2), 1)]:
        ours = init.dirac_(dg.empty(*shape), groups).data
        np.testing.assert_array_equal(ours, torch.nn.init.dirac_(torch.empty(*shape), groups).numpy())
    np.testing.assert_array_equal(init.constant_(dg.empty(2, 3), 0.25).data, np.full((2, 3), 0.25))
    np.testing.assert_array_equal(init.ones_(dg.empty(4)).data, np.ones(4))
    np.testing.assert_array_equal(init.zeros_(dg.ones(2, 2, dtype=dg.int64)).data, np.zeros((2, 2)))


def test_argument_errors():
    with pytest.raises(DtypeError, match="uniform_: expected a floating-point tensor, received dtype int64"):
        init.uniform_(dg.zeros(3, dtype=dg.int64))
    with pytest.raises(DtypeError, match="normal_: expected a Tensor"):
        init.normal_(np.zeros(3))
    with pytest.raises(ShapeError, match="eye_: expected a 2-D tensor"):
        init.eye_(dg.empty(3))
    with pytest.raises(ShapeError, match="dirac_: expected a 3-, 4- or 5-D tensor"):
        init.dirac_(dg.empty(3, 3))
    with pytest.raises(ShapeError, match="divisible by groups"):
        init.dirac_(dg.empty(5, 2, 3), groups=2)
    with pytest.raises(ShapeError, match="orthogonal_"):
        init.orthogonal_(dg.empty(4))
