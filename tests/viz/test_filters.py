"""dagrad.viz.filters and dagrad.viz.gradients: the filter grid's layout and per-filter scaling, activation
maximisation raising its unit's activation, and per-layer gradient norms from a History and from a model."""

import sys

import numpy as np
import pytest

import dagrad as dg
from dagrad.errors import ArgumentError, OptionalDependencyError
from dagrad.nn.activation import ReLU
from dagrad.nn.containers import Sequential
from dagrad.nn.conv import Conv2d
from dagrad.nn.linear import Linear
from dagrad.nn.loss import CrossEntropyLoss
from dagrad.optim import SGD
from dagrad.train import GradientMonitor, History, Trainer
from dagrad.viz import activation_maximization, gradient_norms, show_filters


@pytest.fixture
def agg(monkeypatch):
    mpl = pytest.importorskip("matplotlib")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return mpl


def scaled(a):
    return (a - a.min()) / (a.max() - a.min())


def test_rgb_filters_form_a_square_grid_each_scaled_to_0_1():
    conv = Conv2d(3, 8, 5)
    grid = show_filters(conv)
    assert grid.shape == (3 * 5 + 2, 3 * 5 + 2, 3)  # 8 tiles in 3 columns, 1 pixel apart
    w = conv.weight.data.astype(np.float64)
    np.testing.assert_allclose(grid[:5, :5], scaled(w[0].transpose(1, 2, 0)), atol=1e-6)
    np.testing.assert_allclose(grid[6:11, 12:17], scaled(w[5].transpose(1, 2, 0)), atol=1e-6)
    assert (grid[5] == 1).all() and (grid[:, 5] == 1).all()  # white gaps
    assert (grid[12:, 12:] == 1).all()  # the ninth slot is empty
    assert grid.min() == 0 and grid.max() == 1


def test_grey_filters_and_one_row_per_filter_for_many_input_channels():
    grey = show_filters(Conv2d(1, 6, 5), ncols=3)
    assert grey.shape == (2 * 5 + 1, 3 * 5 + 2)
    conv = Conv2d(2, 3, 3)
    grid = show_filters(conv)
    assert grid.shape == (3 * 3 + 2, 2 * 3 + 1)
    np.testing.assert_allclose(grid[4:7, 4:7], scaled(conv.weight.data[1, 1].astype(np.float64)), atol=1e-6)


def test_a_constant_filter_is_mid_grey_and_weights_can_be_given_directly():
    w = np.random.default_rng(0).normal(size=(2, 1, 3, 3))
    w[1] = 0.25
    grid = show_filters(dg.tensor(w))
    assert (grid[:, 4:] == 0.5).all()


def test_show_filters_saves_a_picture(agg, tmp_path):
    grid = show_filters(Conv2d(3, 4, 3), path=tmp_path / "f.png")
    assert grid.shape == (7, 7, 3)
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_show_filters_rejects_non_conv_layers():
    with pytest.raises(ArgumentError, match="show_filters: expected a Conv2d layer.*received Linear"):
        show_filters(Linear(3, 2))
    with pytest.raises(ArgumentError, match="ncols"):
        show_filters(Conv2d(1, 2, 3), ncols=0)


def test_pictures_without_matplotlib_raise_optional_dependency_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(OptionalDependencyError, match="show_filters: expected matplotlib"):
        show_filters(Conv2d(1, 2, 3), path=tmp_path / "f.png")
    with pytest.raises(OptionalDependencyError, match="gradient_norms: expected matplotlib"):
        gradient_norms({"grad_norm/w": [1.0, 0.5]}, path=tmp_path / "g.png")
    assert show_filters(Conv2d(1, 2, 3)).shape == (3, 7)  # no picture asked for: no matplotlib needed


def unit_activation(model, upto, x, unit):
    with dg.no_grad():
        return float(model[: upto + 1](dg.tensor(x))[:, unit].mean().item())


@pytest.mark.parametrize("layer", ["2", "module"])
def test_activation_maximization_raises_the_units_activation_of_an_mlp(layer):
    model = Sequential(Linear(4, 8), ReLU(), Linear(8, 3))
    target = "2" if layer == "2" else model[2]
    start = activation_maximization(model, target, 1, steps=0)
    found = activation_maximization(model, target, 1, steps=30, lr=0.05)
    assert start.shape == found.shape == (1, 4)
    assert unit_activation(model, 2, found, 1) > unit_activation(model, 2, start, 1) + 0.5
    assert model.training and all(p.grad is None for p in model.parameters())


def test_activation_maximization_on_a_conv_channel():
    model = Sequential(Conv2d(1, 4, 3), ReLU(), Conv2d(4, 5, 3))
    model.train()
    start = activation_maximization(model, "2", 3, steps=0, input_shape=(1, 1, 9, 9), seed=1)
    found = activation_maximization(model, "2", 3, steps=25, input_shape=(1, 1, 9, 9), seed=1)
    assert found.shape == (1, 1, 9, 9)
    assert unit_activation(model, 2, found, 3) > unit_activation(model, 2, start, 3)
    assert np.abs(found).max() < 10  # weight decay keeps the input bounded
    assert model.training


def test_activation_maximization_errors():
    conv = Sequential(Conv2d(1, 2, 3))
    with pytest.raises(ArgumentError, match="expected input_shape"):
        activation_maximization(conv, "0", 0, steps=1)
    mlp = Sequential(Linear(4, 3))
    with pytest.raises(ArgumentError, match="received layer='fc'"):
        activation_maximization(mlp, "fc", 0, steps=1)
    with pytest.raises(ArgumentError, match="not part of it"):
        activation_maximization(mlp, Linear(4, 3), 0, steps=1)
    with pytest.raises(ArgumentError, match=r"received unit=3 for an output of shape \(1, 3\)"):
        activation_maximization(mlp, "0", 3, steps=1)


def test_gradient_norms_from_a_history_keep_parameter_order_and_skip_other_logs():
    hist = History()
    hist.on_epoch_end(0, {"loss": 1.0, "grad_norm/fc.weight": 0.5, "grad_norm/fc.bias": 0.1, "update_ratio/x": 1.0})
    hist.on_epoch_end(1, {"loss": 0.5, "grad_norm/fc.weight": 0.25, "grad_norm/fc.bias": 0.05, "update_ratio/x": 1.0})
    norms = gradient_norms(hist)
    assert list(norms) == ["fc.weight", "fc.bias"]
    np.testing.assert_array_equal(norms["fc.weight"], [0.5, 0.25])
    assert gradient_norms(hist.history).keys() == norms.keys()
    with pytest.raises(ArgumentError, match="GradientMonitor"):
        gradient_norms({"loss": [1.0]})
    with pytest.raises(ArgumentError, match="received int"):
        gradient_norms(3)


def test_gradient_norms_from_a_trainer_run_with_gradient_monitor(agg, tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 2)).astype(np.float32), rng.integers(0, 3, 32)
    data = [(dg.tensor(x[i : i + 16]), dg.tensor(y[i : i + 16])) for i in (0, 16)]
    model = Sequential(Linear(2, 8), ReLU(), Linear(8, 3))
    trainer = Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), 0.1), callbacks=[GradientMonitor()])
    hist = trainer.fit(data, epochs=3, verbose=0)
    norms = gradient_norms(hist, path=tmp_path / "g.png")
    assert list(norms) == [name for name, _ in model.named_parameters()]
    assert all(v.shape == (3,) and (v > 0).all() for v in norms.values())
    assert (tmp_path / "g.png").stat().st_size > 0


def test_gradient_norms_of_a_model_after_backward(agg, tmp_path):
    model = Sequential(Linear(3, 4), ReLU(), Linear(4, 2), Linear(2, 2))
    model[3].weight.requires_grad_(False)
    (model(dg.randn(5, 3)) ** 2).mean().backward()
    norms = gradient_norms(model, path=tmp_path / "bars.png")
    assert "3.weight" not in norms and "3.bias" in norms
    for name, p in model.named_parameters():
        if name in norms:
            assert norms[name] == pytest.approx([np.linalg.norm(p.grad.data)], rel=1e-6)
    assert (tmp_path / "bars.png").stat().st_size > 0
    with pytest.raises(ArgumentError, match="call loss.backward"):
        gradient_norms(Sequential(Linear(2, 2)))
