"""dagrad.optim.lr_scheduler: learning-rate (and momentum) sequences equal torch's; state_dict round trips; errors."""

import json
import math

import numpy as np
import pytest

import dagrad as dg
from dagrad.errors import ArgumentError
from dagrad.optim import lr_scheduler

torch = pytest.importorskip("torch")

LRS = (0.1, 0.02)  # two parameter groups with different rates


def _optimizers(name="SGD", **kwargs):
    """The same two-group optimizer in both libraries (parameters without gradients: steps change nothing)."""
    ours = [{"params": [dg.tensor(np.ones(2), requires_grad=True)], "lr": lr} for lr in LRS]
    theirs = [{"params": [torch.ones(2, requires_grad=True)], "lr": lr} for lr in LRS]
    ours, theirs = getattr(dg.optim, name)(ours, **kwargs), getattr(torch.optim, name)(theirs, **kwargs)
    return ours, theirs


SCHEDULES = [
    ("LambdaLR", {"lr_lambda": lambda k: 0.95**k + 0.01 * (k % 3)}),
    ("StepLR", {"step_size": 7, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [5, 12, 12, 30], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.93}),
    ("LinearLR", {"start_factor": 0.1, "end_factor": 1.0, "total_iters": 10}),
    ("LinearLR", {"start_factor": 1.0, "end_factor": 0.05, "total_iters": 25}),
    ("CosineAnnealingLR", {"T_max": 30}),
    ("CosineAnnealingLR", {"T_max": 12, "eta_min": 0.001}),
]


def _run(sched, opt, steps, metrics=None):
    """lrs after construction and after each of `steps` steps (the optimizer steps first, as it should)."""
    seq = [list(sched.get_last_lr())]
    for k in range(steps):
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[k])
        seq.append(list(sched.get_last_lr()))
    return np.array(seq)


@pytest.mark.parametrize("name,kwargs", SCHEDULES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDULES)])
def test_matches_torch_over_50_steps(name, kwargs):
    ours, theirs = _optimizers()
    mine = _run(getattr(lr_scheduler, name)(ours, **kwargs), ours, 50)
    want = _run(getattr(torch.optim.lr_scheduler, name)(theirs, **kwargs), theirs, 50)
    np.testing.assert_allclose(mine, want, rtol=1e-12, atol=1e-15)
    assert [g["lr"] for g in ours.param_groups] == list(mine[-1])


def test_cosine_recursion_equals_torch_and_the_closed_form():
    ours, theirs = _optimizers()
    mine = _run(lr_scheduler.CosineAnnealingLR(ours, T_max=30, eta_min=0.001), ours, 30)
    want = _run(torch.optim.lr_scheduler.CosineAnnealingLR(theirs, T_max=30, eta_min=0.001), theirs, 30)
    np.testing.assert_allclose(mine, want, rtol=0, atol=1e-12)
    k = np.arange(31)[:, None]
    closed = 0.001 + (np.array(LRS) - 0.001) * (1 + np.cos(np.pi * k / 30)) / 2
    np.testing.assert_allclose(mine, closed, rtol=1e-12)


def test_linear_lr_is_the_interpolation_between_alpha_0_and_alpha_tau():
    """alpha_k = (1 - k/tau) alpha_0 + (k/tau) alpha_tau for k <= tau, then constant at alpha_tau."""
    tau, s, e = 8, 0.2, 0.9
    opt, _ = _optimizers()
    seq = _run(lr_scheduler.LinearLR(opt, start_factor=s, end_factor=e, total_iters=tau), opt, 15)
    base = np.array(LRS)
    alpha_0, alpha_tau = s * base, e * base
    for k, lrs in enumerate(seq):
        frac = min(k, tau) / tau
        np.testing.assert_allclose(lrs, (1 - frac) * alpha_0 + frac * alpha_tau, rtol=1e-12)


def test_chained_schedulers_match_torch():
    """Warm-up and decay acting on one optimizer compose multiplicatively, as in PyTorch."""
    ours, theirs = _optimizers()
    a = [lr_scheduler.LinearLR(ours, 0.25, total_iters=4), lr_scheduler.ExponentialLR(ours, 0.9)]
    b = [
        torch.optim.lr_scheduler.LinearLR(theirs, 0.25, total_iters=4),
        torch.optim.lr_scheduler.ExponentialLR(theirs, 0.9),
    ]
    for _ in range(12):
        ours.step()
        theirs.step()
        for s in (*a, *b):
            s.step()
        np.testing.assert_allclose(a[1].get_last_lr(), b[1].get_last_lr(), rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"mode": "max", "factor": 0.5, "patience": 2},
        {"threshold_mode": "abs", "threshold": 0.05, "patience": 1, "cooldown": 2},
        {"mode": "max", "threshold_mode": "abs", "patience": 0, "min_lr": [0.01, 0.005]},
        {"patience": 1, "factor": 0.5, "min_lr": 0.004, "eps": 1e-3},
    ],
)
def test_reduce_on_plateau_matches_torch(kwargs):
    rng = np.random.default_rng(0)
    metrics = list(1.0 / (1 + np.arange(40)) + 0.3 * rng.random(40))
    ours, theirs = _optimizers()
    mine = _run(lr_scheduler.ReduceLROnPlateau(ours, **kwargs), ours, 40, metrics)
    want = _run(torch.optim.lr_scheduler.ReduceLROnPlateau(theirs, **kwargs), theirs, 40, metrics)
    np.testing.assert_allclose(mine, want, rtol=1e-12)
    assert len(set(mine[:, 0])) > 1  # it did reduce


def test_reduce_on_plateau_takes_a_tensor_metric():
    opt, _ = _optimizers()
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    sched.step(dg.tensor(1.0))
    sched.step(dg.tensor(2.0))
    assert sched.get_last_lr() == pytest.approx([0.01, 0.002])


@pytest.mark.parametrize(
    "optimizer,kwargs",
    [
        ("SGD", {"max_lr": 0.5, "total_steps": 40}),
        ("SGD", {"max_lr": [0.5, 0.1], "epochs": 4, "steps_per_epoch": 10, "anneal_strategy": "linear"}),
        ("SGD", {"max_lr": 0.5, "total_steps": 40, "three_phase": True, "pct_start": 0.25}),
        ("Adam", {"max_lr": 0.01, "total_steps": 40, "base_momentum": 0.8, "max_momentum": 0.9}),
        ("Adam", {"max_lr": 0.01, "total_steps": 40, "cycle_momentum": False, "div_factor": 10.0}),
    ],
)
def test_one_cycle_matches_torch(optimizer, kwargs):
    extra = {"momentum": 0.9} if optimizer == "SGD" else {}
    ours, theirs = _optimizers(optimizer, **extra)
    a = lr_scheduler.OneCycleLR(ours, **kwargs)
    b = torch.optim.lr_scheduler.OneCycleLR(theirs, **kwargs)
    key = "momentum" if optimizer == "SGD" else "betas"
    for _ in range(39):
        np.testing.assert_allclose(a.get_last_lr(), b.get_last_lr(), rtol=1e-12)
        for g, h in zip(ours.param_groups, theirs.param_groups):
            np.testing.assert_allclose(g[key], h[key], rtol=1e-12)
        ours.step()
        theirs.step()
        a.step()
        b.step()
    with pytest.raises(ArgumentError, match="expected at most total_steps=40 steps, received step 41"):
        a.step()
        a.step()


def _through_json(state):
    return json.loads(json.dumps(state))


@pytest.mark.parametrize(
    "make",
    [
        lambda o: lr_scheduler.StepLR(o, 4, 0.5),
        lambda o: lr_scheduler.MultiStepLR(o, [3, 9, 9], 0.5),
        lambda o: lr_scheduler.ExponentialLR(o, 0.9),
        lambda o: lr_scheduler.LinearLR(o, 0.2, 1.0, 20),
        lambda o: lr_scheduler.CosineAnnealingLR(o, 7, 0.001),
        lambda o: lr_scheduler.LambdaLR(o, lambda k: 1 / (1 + k)),
        lambda o: lr_scheduler.OneCycleLR(o, 0.3, total_steps=40, three_phase=True),
    ],
    ids=["step", "multistep", "exponential", "linear", "cosine", "lambda", "onecycle"],
)
def test_state_dict_round_trip(make):
    """Stop after 15 steps, save optimizer and scheduler through JSON, resume in fresh objects: same sequence."""
    opt, _ = _optimizers(momentum=0.9)
    sched = make(opt)
    for _ in range(15):
        opt.step()
        sched.step()
    saved_opt, saved_sched = _through_json(opt.state_dict()), _through_json(sched.state_dict())
    tail = _run(sched, opt, 20)
    fresh, _ = _optimizers(momentum=0.9)
    again = make(fresh)
    fresh.load_state_dict(saved_opt)
    again.load_state_dict(saved_sched)
    assert again.last_epoch == 15
    np.testing.assert_allclose(_run(again, fresh, 20), tail, rtol=1e-15)


def test_reduce_on_plateau_state_dict_round_trip():
    metrics = [1.0, 0.9, 0.95, 0.97, 0.99, 0.96, 0.98, 1.0, 0.97, 0.99, 0.98, 0.99]
    opt, _ = _optimizers()
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=1, cooldown=1)
    for m in metrics[:5]:
        sched.step(m)
    saved_opt, saved_sched = _through_json(opt.state_dict()), _through_json(sched.state_dict())
    tail = _run(sched, opt, 7, metrics[5:])
    fresh, _ = _optimizers()
    again = lr_scheduler.ReduceLROnPlateau(fresh, mode="max")
    fresh.load_state_dict(saved_opt)
    again.load_state_dict(saved_sched)
    assert again.mode == "min" and again.best == 0.9
    np.testing.assert_allclose(_run(again, fresh, 7, metrics[5:]), tail)


def test_lambda_state_dict_keeps_callable_objects_state():
    class Warmup:
        def __init__(self, n):
            self.n = n

        def __call__(self, k):
            return min(1.0, (k + 1) / self.n)

    opt, _ = _optimizers()
    sched = lr_scheduler.LambdaLR(opt, [Warmup(4), lambda k: 1.0])
    state = _through_json(sched.state_dict())
    assert state["lr_lambdas"] == [{"n": 4}, None]
    other = lr_scheduler.LambdaLR(opt, [Warmup(10), lambda k: 1.0])
    other.load_state_dict(state)
    assert other.lr_lambdas[0].n == 4


def test_resuming_with_last_epoch():
    opt, _ = _optimizers()
    with pytest.raises(ArgumentError, match=r"expected param_groups\[0\]\['initial_lr'\] when resuming"):
        lr_scheduler.StepLR(opt, 3, last_epoch=5)
    lr_scheduler.StepLR(opt, 3)
    sched = lr_scheduler.StepLR(opt, 3, last_epoch=5)
    assert sched.last_epoch == 6 and sched.base_lrs == list(LRS)


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda o: lr_scheduler.StepLR("sgd", 3), "StepLR: expected an Optimizer, received str"),
        (lambda o: lr_scheduler.StepLR(o, 0), "StepLR: expected a positive integer step_size, received step_size=0"),
        (lambda o: lr_scheduler.LambdaLR(o, [lambda k: 1.0]), "LambdaLR: expected 2 values of lr_lambda"),
        (lambda o: lr_scheduler.LambdaLR(o, 3), "expected lr_lambda to be callable, received int"),
        (lambda o: lr_scheduler.LinearLR(o, start_factor=0), "LinearLR: expected 0 < start_factor <= 1"),
        (lambda o: lr_scheduler.LinearLR(o, end_factor=2), "LinearLR: expected 0 <= end_factor <= 1"),
        (lambda o: lr_scheduler.CosineAnnealingLR(o, 0), "CosineAnnealingLR: expected T_max > 0"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0), "expected 0 <= factor < 1, received factor=1.0"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="up"), "expected mode 'min' or 'max', received mode='up'"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold_mode="x"), "expected threshold_mode 'rel' or 'abs'"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.1]), "expected 2 values of min_lr"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=-1), "expected patience >= 0"),
        (lambda o: lr_scheduler.OneCycleLR(o, 0.1), "expected total_steps, or epochs and steps_per_epoch"),
        (lambda o: lr_scheduler.OneCycleLR(o, 0.1, total_steps=0), "expected a positive integer total_steps"),
        (lambda o: lr_scheduler.OneCycleLR(o, 0.1, 10, pct_start=1), "expected a float 0 <= pct_start <= 1"),
        (lambda o: lr_scheduler.OneCycleLR(o, 0.1, 10, anneal_strategy="exp"), "expected anneal_strategy"),
        (lambda o: lr_scheduler.OneCycleLR(dg.optim.Adagrad(o.param_groups), 0.1, 10), "momentum or betas"),
    ],
)
def test_errors(make, message):
    opt, _ = _optimizers()
    with pytest.raises(ArgumentError, match=message):
        make(opt)


def test_get_last_lr_is_a_copy():
    opt, _ = _optimizers()
    sched = lr_scheduler.ExponentialLR(opt, 0.5)
    sched.get_last_lr()[0] = 99.0
    assert sched.get_last_lr() == list(LRS)
    assert math.isclose(opt.param_groups[0]["lr"], 0.1)
