"""GradientMonitor: History keys, gradient norms and update ratios against a hand computation, dead-ReLU
fractions, and the vanishing-gradient warning (deep sigmoid MLP: yes; the same depth with ReLU: no)."""

import math
import warnings

import numpy as np
import pytest

import dagrad as dg
from dagrad.nn.activation import ReLU
from dagrad.nn.linear import Linear
from dagrad.nn.module import Module
from dagrad.train import GradientMonitor, Trainer, VanishingGradientWarning
from tests.train import SGD, Sigmoid, batches, blobs, setup


def test_history_keys_per_parameter_and_relu():
    model, loss_fn, opt, train, val = setup()
    hist = Trainer(model, loss_fn, opt, callbacks=[GradientMonitor(model)]).fit(train, 2, val_loader=val, verbose=0)
    names = ["0.weight", "0.bias", "2.weight", "2.bias"]
    for kind in ("grad_norm", "update_ratio"):
        for name in names:
            assert len(hist.history[f"{kind}/{name}"]) == 2
    assert len(hist.history["dead_relu/1"]) == 2 and 0.0 <= hist.history["dead_relu/1"][0] < 1.0
    assert not model[1]._forward_hooks


def test_grad_norm_and_update_ratio_match_a_hand_computation():
    model, loss_fn, opt, _, _ = setup(lr=0.5)
    x, y = blobs(16)
    w = model[0].weight.data.copy()
    loss_fn(model(dg.tensor(x)), dg.tensor(y)).backward()
    g = model[0].weight.grad.data.copy()
    model.zero_grad()
    hist = Trainer(model, loss_fn, opt, callbacks=[GradientMonitor()]).fit(batches(x, y), verbose=0)
    assert hist.history["grad_norm/0.weight"][0] == pytest.approx(np.linalg.norm(g), rel=1e-5)
    expected = 0.5 * np.linalg.norm(g) / np.linalg.norm(w - 0.5 * g)
    assert hist.history["update_ratio/0.weight"][0] == pytest.approx(expected, rel=1e-4)


def test_dead_relu_fraction_and_every():
    model, loss_fn, opt, train, _ = setup()
    model[0].bias.data[:8] = -100.0  # half of the 16 hidden units can never fire
    mon = GradientMonitor(every=2)
    hist = Trainer(model, loss_fn, opt, callbacks=[mon]).fit(train, epochs=3, verbose=0)
    assert hist.history["dead_relu/1"] == [0.5, 0.5]
    assert len(hist.history["loss"]) == 3 and len(hist.history["grad_norm/0.weight"]) == 2


def test_relu_called_twice_gets_one_entry_per_call():
    class Shared(Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.out, self.act = Linear(2, 8), Linear(8, 4), Linear(4, 3), ReLU()

        def forward(self, x):
            return self.out(self.act(self.fc2(self.act(self.fc1(x)))))

    model = Shared()
    _, loss_fn, _, train, _ = setup()
    model.fc2.bias.data[:] = -100.0
    hist = Trainer(model, loss_fn, SGD(model.parameters()), callbacks=[GradientMonitor()]).fit(train, verbose=0)
    assert hist.history["dead_relu/act[1]"] == [1.0]
    assert hist.history["dead_relu/act[0]"][0] < 1.0


def _deep(act):
    model, loss_fn, opt, train, _ = setup(sizes=(2,) + (32,) * 6 + (3,), act=act)
    return Trainer(model, loss_fn, opt, callbacks=[GradientMonitor()]), train


def test_vanishing_gradients_warn_for_a_deep_sigmoid_mlp():
    trainer, train = _deep(Sigmoid)
    with pytest.warns(VanishingGradientWarning, match=r"first layer '0.weight'"):
        hist = trainer.fit(train, epochs=2, verbose=0)
    ratio = hist.history["grad_norm/0.weight"][0] / hist.history["grad_norm/12.weight"][0]
    assert ratio < 1e-3 and math.isfinite(ratio)


def test_no_warning_for_the_same_depth_with_relu():
    trainer, train = _deep(ReLU)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hist = trainer.fit(train, epochs=2, verbose=0)
    assert hist.history["grad_norm/0.weight"][0] > 1e-3 * hist.history["grad_norm/12.weight"][0]
