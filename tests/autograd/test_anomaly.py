"""detect_anomaly: a NaN/Inf made in forward or backward raises AnomalyError naming the op and its source line."""

import os
import sys

import numpy as np
import pytest

import dagrad as dg
from dagrad.autograd import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from dagrad.errors import AnomalyError

FILE = os.path.basename(__file__)


def next_line() -> str:
    """'test_anomaly.py:N' for the line after the caller's: where the op under test is called."""
    return f"{FILE}:{sys._getframe(1).f_lineno + 1}"


def leaf(values):
    return dg.tensor(values, dtype=dg.float64, requires_grad=True)


def ones(t):
    return dg.ones(*t.shape, dtype=t.dtype)


# ---- forward -------------------------------------------------------------------------------------------------


def test_log_of_negative_in_forward():
    x = leaf([1.0, -1.0])
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        site = next_line()
        x.log()
    msg = str(info.value)
    assert "Log" in msg and "forward" in msg and site in msg


def test_zero_over_zero_in_forward():
    x = leaf([0.0, 2.0])
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        site = next_line()
        x / x
    msg = str(info.value)
    assert "Div" in msg and site in msg


def test_overflow_in_forward():
    x = dg.tensor([100.0], requires_grad=True)
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        site = next_line()
        x.exp()
    assert "Exp" in str(info.value) and site in str(info.value)


# ---- backward ------------------------------------------------------------------------------------------------


def test_sqrt_at_zero_gives_inf_only_in_backward():
    x = leaf([0.0, 4.0])
    with detect_anomaly():
        site = next_line()
        y = x.sqrt()
        np.testing.assert_allclose(y.data, [0.0, 2.0])
        with pytest.raises(AnomalyError) as info:
            y.backward(ones(y))
    msg = str(info.value)
    assert "Sqrt" in msg and "backward" in msg and site in msg


def test_nan_made_only_in_backward():
    x = leaf([0.0, 1.0])
    with detect_anomaly():
        site = next_line()
        r = x.sqrt()
        y = r * 0.0  # forward is finite; sqrt's backward then computes 0 / 0
        with pytest.raises(AnomalyError) as info:
            y.backward(ones(y))
    msg = str(info.value)
    assert "Sqrt" in msg and site in msg and "Mul" not in msg


def test_pow_half_at_zero_names_pow_and_its_forward_line():
    x = leaf([0.0, 1.0])
    with detect_anomaly():
        site = next_line()
        y = x**0.5
        with pytest.raises(AnomalyError) as info:
            y.backward(ones(y))
    msg = str(info.value)
    assert "backward of Pow" in msg and site in msg


def test_nan_already_in_the_data_is_caught_in_backward():
    """NaN propagating from the data sets no floating-point flag; the gradient check still names the op."""
    x = leaf([np.nan, 1.0])
    with detect_anomaly():
        site = next_line()
        y = x * x
        with pytest.raises(AnomalyError) as info:
            y.backward(ones(y))
    msg = str(info.value)
    assert "Mul" in msg and "NaN/Inf" in msg and site in msg


def test_huge_but_finite_gradients_are_not_reported():
    x = dg.tensor([1e30, -1e30, 3.0], requires_grad=True)  # x . x overflows float32; the values are finite
    with detect_anomaly():
        y = x * 1.0
        y.backward(dg.tensor([1e30, 1e30, 1.0]))
    np.testing.assert_allclose(x.grad.data, [1e30, 1e30, 1.0], rtol=1e-6)


def test_clean_graph_runs_normally():
    x = leaf([1.0, 2.0])
    with detect_anomaly():
        y = (x * x + 1.0) ** 0.5
        y.backward(ones(y))
    np.testing.assert_allclose(x.grad.data, x.data / np.sqrt(x.data**2 + 1))


# ---- switching it on and off ----------------------------------------------------------------------------------


def test_without_anomaly_mode_nothing_raises():
    x = leaf([-1.0])
    with np.errstate(invalid="ignore"):
        y = x.log()
    assert np.isnan(y.data).all()


def test_context_restores_mode_and_numpy_error_state():
    before = np.geterr()
    with detect_anomaly():
        assert is_anomaly_enabled()
    assert not is_anomaly_enabled()
    assert np.geterr() == before


def test_decorator_form():
    @detect_anomaly()
    def f(x):
        return x / x

    with pytest.raises(AnomalyError, match="Div"):
        f(leaf([0.0]))
    assert not is_anomaly_enabled()


def test_set_detect_anomaly():
    before = np.geterr()
    with set_detect_anomaly(True):
        assert is_anomaly_enabled()
        with set_detect_anomaly(False):
            assert not is_anomaly_enabled()
        assert is_anomaly_enabled()
    assert not is_anomaly_enabled()
    assert np.geterr() == before


def test_check_nan_false_records_sites_but_raises_nothing():
    x = leaf([0.0])
    with detect_anomaly(check_nan=False), np.errstate(invalid="ignore"):
        y = x / x
    assert np.isnan(y.data).all()


def test_check_nan_false_skips_the_backward_check():
    x = leaf([np.nan])
    with detect_anomaly(check_nan=False):
        y = x * x
        y.backward(ones(y))
    assert np.isnan(x.grad.data).all()


def test_set_detect_anomaly_false_inside_detect_anomaly_stops_raising():
    x = leaf([0.0])
    with detect_anomaly():
        with set_detect_anomaly(False), np.errstate(invalid="ignore"):
            y = x / x
        with pytest.raises(AnomalyError):
            x / x
    assert np.isnan(y.data).all()


def test_nan_in_the_gradient_given_to_backward():
    x = leaf([1.0, 2.0])
    with detect_anomaly():
        y = x + 1.0  # Add passes the gradient through unchanged
        with pytest.raises(AnomalyError, match="gradient given to backward"):
            y.backward(dg.tensor([1.0, np.nan], dtype=dg.float64))
