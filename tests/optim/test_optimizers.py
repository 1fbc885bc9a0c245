"""dagrad.optim optimizers: parity with torch.optim, both update paths, state_dict round trips, errors."""

import copy
import json

import numpy as np
import pytest

import dagrad as dg
from dagrad.errors import ArgumentError, DtypeError, InplaceError, ShapeError
from dagrad.optim import optimizer as optimizer_module

torch = pytest.importorskip("torch")

SHAPES = [(4, 3), (3,), (2, 2, 2), ()]

CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.5, "maximize": True}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1, "initial_accumulator_value": 0.2, "eps": 1e-6}),
    ("Adagrad", {"lr": 0.1, "maximize": True}),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "weight_decay": 0.1, "maximize": True}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "momentum": 0.9, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5, "maximize": True}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1, "maximize": True}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True, "maximize": True}),
]
IDS = [name + "-" + "-".join(f"{k}={v}" for k, v in kw.items()) for name, kw in CASES]


@pytest.fixture(params=["kernel", "numpy"])
def path(request, monkeypatch):
    """Run each test on the numba kernels (where numba is importable) and on the NumPy path."""
    if request.param == "kernel":
        pytest.importorskip("numba")
    monkeypatch.setattr(optimizer_module, "KERNELS", request.param == "kernel")
    return request.param


def _data(dtype, steps, seed=0):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(steps)]
    return init, grads


def _pair(name, kwargs, init):
    ours = [dg.tensor(a.copy(), requires_grad=True) for a in init]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    return ours, getattr(dg.optim, name)(ours, **kwargs), theirs, getattr(torch.optim, name)(theirs, **kwargs)


def _feed(ours, theirs, grads):
    for p, q, g in zip(ours, theirs, grads):
        p.grad = dg.tensor(g.copy())
        q.grad = torch.tensor(g.copy())


@pytest.mark.parametrize("dtype,atol", [(np.float64, 1e-10), (np.float32, 1e-5)], ids=["float64", "float32"])
@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_matches_torch_over_20_steps(path, name, kwargs, dtype, atol):
    init, grads = _data(dtype, 20)
    ours, opt, theirs, ref = _pair(name, kwargs, init)
    for step_grads in grads:
        _feed(ours, theirs, step_grads)
        opt.step()
        ref.step()
        for p, q in zip(ours, theirs):
            assert p.dtype == dtype
            np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=0, atol=atol)
    for p, q in zip(ours, theirs):  # the state buffers too (same names as torch's)
        for key, value in ref.state[q].items():
            mine = opt.state[p][key]
            want = value.item() if key == "step" else value.numpy()
            np.testing.assert_allclose(mine, want, rtol=0, atol=atol, err_msg=key)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_kernel_and_numpy_paths_agree(monkeypatch, name, kwargs, dtype):
    pytest.importorskip("numba")
    init, grads = _data(dtype, 5)
    results = []
    for on in (True, False):
        monkeypatch.setattr(optimizer_module, "KERNELS", on)
        params = [dg.tensor(a.copy(), requires_grad=True) for a in init]
        opt = getattr(dg.optim, name)(params, **kwargs)
        for step_grads in grads:
            for p, g in zip(params, step_grads):
                p.grad = dg.tensor(g.copy())
            opt.step()
        results.append([p.data for p in params])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_closure_and_real_gradients_match_torch(path):
    """Linear least squares trained with Adam through each library's own autograd, loss from a closure."""
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((16, 3)), rng.standard_normal((16, 1))
    w0, b0 = rng.standard_normal((3, 1)), np.zeros(1)
    w, b = dg.tensor(w0, requires_grad=True), dg.tensor(b0, requires_grad=True)
    tw, tb = torch.tensor(w0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    opt, ref = dg.optim.Adam([w, b], lr=0.05), torch.optim.Adam([tw, tb], lr=0.05)
    xd, yd, xt, yt = dg.tensor(x), dg.tensor(y), torch.tensor(x), torch.tensor(y)

    def closure():
        opt.zero_grad()
        loss = ((xd @ w + b - yd) ** 2).mean()
        loss.backward()
        return loss

    def torch_closure():
        ref.zero_grad()
        loss = ((xt @ tw + tb - yt) ** 2).mean()
        loss.backward()
        return loss

    for _ in range(20):
        loss, want = opt.step(closure), ref.step(torch_closure)
        assert abs(loss.item() - want.item()) < 1e-10
    np.testing.assert_allclose(w.data, tw.detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(b.data, tb.detach().numpy(), atol=1e-10)


def _split(state_dict):
    """A state dict through JSON (everything but arrays) and a separate array store, as dagrad.io saves it."""
    arrays = {}
    plain = copy.deepcopy(state_dict)
    for index, entry in plain["state"].items():
        for key, value in list(entry.items()):
            if isinstance(value, np.ndarray):
                arrays[(index, key)] = value.copy()
                entry[key] = None
    plain = json.loads(json.dumps(plain))
    for (index, key), value in arrays.items():
        plain["state"][str(index)][key] = value
    return plain


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_state_dict_round_trip_continues_identically(path, name, kwargs):
    init, grads = _data(np.float64, 20, seed=2)
    params = [dg.tensor(a.copy(), requires_grad=True) for a in init]
    opt = getattr(dg.optim, name)(params, **kwargs)
    for step_grads in grads[:10]:
        for p, g in zip(params, step_grads):
            p.grad = dg.tensor(g.copy())
        opt.step()
    saved = _split(opt.state_dict())
    resumed = [dg.tensor(p.data.copy(), requires_grad=True) for p in params]
    other = getattr(dg.optim, name)(resumed, lr=123.0)  # options come back from the state dict
    other.load_state_dict(saved)
    assert other.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    assert type(other.param_groups[0].get("betas", ())) is tuple
    for step_grads in grads[10:]:
        for p, q, g in zip(params, resumed, step_grads):
            p.grad = dg.tensor(g.copy())
            q.grad = dg.tensor(g.copy())
        opt.step()
        other.step()
    for p, q in zip(params, resumed):
        np.testing.assert_array_equal(p.data, q.data)


def test_state_dict_layout_matches_torch():
    init, grads = _data(np.float64, 2)
    ours, opt, theirs, ref = _pair("Adam", {"lr": 0.01, "amsgrad": True}, init)
    for step_grads in grads:
        _feed(ours[:3], theirs[:3], step_grads[:3])  # the last parameter has no gradient: no state
        opt.step()
        ref.step()
    mine, want = opt.state_dict(), ref.state_dict()
    assert sorted(mine["state"]) == sorted(want["state"]) == [0, 1, 2]
    assert sorted(mine["state"][0]) == sorted(want["state"][0])
    assert mine["state"][1]["step"] == 2
    keys = set(want["param_groups"][0]) - {"foreach", "capturable", "differentiable", "fused"}
    assert keys <= set(mine["param_groups"][0])
    assert mine["param_groups"][0]["params"] == [0, 1, 2, 3]


def test_load_state_dict_casts_and_copies():
    p = dg.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = dg.optim.SGD([p], lr=0.1, momentum=0.9)
    buf = np.full(3, 0.5)
    opt.load_state_dict({"state": {"0": {"momentum_buffer": buf}}, "param_groups": [{"lr": 0.2, "params": [0]}]})
    mine = opt.state[p]["momentum_buffer"]
    assert mine.dtype == np.float32 and mine is not buf
    assert opt.param_groups[0]["lr"] == 0.2 and opt.param_groups[0]["params"][0] is p


def test_load_state_dict_errors():
    a, b = (dg.tensor(np.ones(2), requires_grad=True) for _ in range(2))
    opt = dg.optim.SGD([a, b], lr=0.1, momentum=0.9)
    with pytest.raises(ArgumentError, match="expected 1 parameter groups, received 2"):
        opt.load_state_dict({"state": {}, "param_groups": [{"params": [0]}, {"params": [1]}]})
    with pytest.raises(ArgumentError, match="expected 2 parameters in group 0, received 1"):
        opt.load_state_dict({"state": {}, "param_groups": [{"lr": 0.1, "params": [0]}]})
    group = dict(opt.state_dict()["param_groups"][0])
    with pytest.raises(ArgumentError, match="received state for index 7"):
        opt.load_state_dict({"state": {7: {}}, "param_groups": [group]})
    with pytest.raises(ShapeError, match=r"expected state 'momentum_buffer' of shape \(2,\)"):
        opt.load_state_dict({"state": {0: {"momentum_buffer": np.zeros(5)}}, "param_groups": [group]})
    with pytest.raises(ArgumentError, match="expected lr >= 0"):
        opt.load_state_dict({"state": {}, "param_groups": [{**group, "lr": -1.0}]})
    with pytest.raises(ArgumentError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"param_groups": []})


def test_param_groups_and_add_param_group(path):
    a, b, c = (dg.tensor(np.ones(3), requires_grad=True) for _ in range(3))
    opt = dg.optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    opt.add_param_group({"params": [c], "momentum": 0.9})
    assert opt.param_groups[2]["lr"] == 0.1 and opt.param_groups[2]["momentum"] == 0.9
    for p in (a, b, c):
        p.grad = dg.tensor(np.ones(3))
    opt.step()
    np.testing.assert_allclose(a.data, 0.9)
    np.testing.assert_allclose(b.data, 0.5)
    np.testing.assert_allclose(c.data, 0.9)
    assert a not in opt.state and c in opt.state


def test_adagrad_state_exists_before_the_first_step():
    p = dg.tensor(np.ones(3), requires_grad=True)
    opt = dg.optim.Adagrad([p], initial_accumulator_value=0.5)
    q = dg.tensor(np.ones(2), requires_grad=True)
    opt.add_param_group({"params": [q], "initial_accumulator_value": 0.25})
    assert opt.state[p]["step"] == 0
    np.testing.assert_array_equal(opt.state[p]["sum"], 0.5)
    np.testing.assert_array_equal(opt.state[q]["sum"], 0.25)


def test_parameters_without_grad_are_skipped(path):
    a, b = dg.tensor(np.ones(2), requires_grad=True), dg.tensor(np.ones(2), requires_grad=True)
    opt = dg.optim.Adam([a, b], lr=0.1)
    a.grad = dg.tensor(np.ones(2))
    opt.step()
    assert b not in opt.state
    np.testing.assert_array_equal(b.data, 1.0)
    assert opt.state[a]["step"] == 1


def test_zero_grad():
    p = dg.tensor(np.ones(3), requires_grad=True)
    opt = dg.optim.SGD([p], lr=0.1)
    (p * 2).sum().backward()
    grad = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is grad
    np.testing.assert_array_equal(p.grad.data, 0)
    (p * 2).sum().backward()
    np.testing.assert_array_equal(p.grad.data, 2)
    opt.zero_grad()
    assert p.grad is None


def test_step_bumps_the_version_counter(path):
    w = dg.tensor(np.ones(3), requires_grad=True)
    x = dg.tensor(np.arange(3.0), requires_grad=True)
    opt = dg.optim.SGD([w], lr=0.1)
    (w * x).sum().backward()
    version = w._version
    y = (w * x).sum()  # Mul saves w for x's gradient
    opt.step()
    assert w._version > version
    with pytest.raises(InplaceError, match="modified in place"):
        y.backward()


@pytest.mark.parametrize("name,kwargs", CASES[:: len(CASES) // 5], ids=IDS[:: len(CASES) // 5])
def test_non_contiguous_parameters(path, name, kwargs):
    """A transposed parameter (and gradient) takes the NumPy path and gets the same update."""
    rng = np.random.default_rng(3)
    a, g = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    p = dg.tensor(a.copy(), requires_grad=True)
    q = dg.tensor(a.copy(), requires_grad=True)
    q.data = np.asfortranarray(q.data)
    opt, other = getattr(dg.optim, name)([p], **kwargs), getattr(dg.optim, name)([q], **kwargs)
    for _ in range(3):
        p.grad, q.grad = dg.tensor(g.copy()), dg.tensor(np.asfortranarray(g))
        opt.step()
        other.step()
    np.testing.assert_allclose(p.data, q.data, rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda ps: dg.optim.SGD(ps, lr=-0.1), "SGD: expected lr >= 0, received lr=-0.1"),
        (lambda ps: dg.optim.SGD(ps, momentum=-1), "SGD: expected momentum >= 0, received momentum=-1"),
        (lambda ps: dg.optim.SGD(ps, nesterov=True), "SGD: expected momentum > 0 and dampening = 0 with nesterov"),
        (lambda ps: dg.optim.SGD(ps, momentum=0.9, dampening=0.1, nesterov=True), "dampening=0.1"),
        (lambda ps: dg.optim.SGD([{"params": ps, "lr": -1}]), "SGD: expected lr >= 0, received lr=-1"),
        (lambda ps: dg.optim.Adam(ps, betas=(1.0, 0.999)), r"Adam: expected betas .* received betas=\(1.0, 0.999\)"),
        (lambda ps: dg.optim.Adam(ps, eps=-1e-8), "Adam: expected eps >= 0"),
        (lambda ps: dg.optim.AdamW(ps, weight_decay=-0.1), "AdamW: expected weight_decay >= 0"),
        (lambda ps: dg.optim.Adagrad(ps, lr_decay=-1), "Adagrad: expected lr_decay >= 0"),
        (lambda ps: dg.optim.Adagrad(ps, initial_accumulator_value=-1), "initial_accumulator_value >= 0"),
        (lambda ps: dg.optim.Adadelta(ps, rho=1.5), "Adadelta: expected 0 <= rho <= 1, received rho=1.5"),
        (lambda ps: dg.optim.RMSprop(ps, alpha=-0.1), "RMSprop: expected alpha >= 0"),
        (lambda ps: dg.optim.RMSprop(ps, momentum=-0.1), "RMSprop: expected momentum >= 0"),
        (lambda ps: dg.optim.SGD([]), "expected at least one parameter"),
        (lambda ps: dg.optim.SGD(ps[0]), "received a single Tensor"),
        (lambda ps: dg.optim.SGD(set(ps)), "received a set"),
        (lambda ps: dg.optim.SGD([ps[0], ps[0]]), "a parameter twice"),
        (lambda ps: dg.optim.SGD([{"params": ps}, {"params": ps[:1]}]), "a parameter twice"),
        (lambda ps: dg.optim.SGD([ps[0] * 2]), "expected leaf tensors"),
        (lambda ps: dg.optim.SGD([np.ones(3)]), "expected parameters to be Tensors, received ndarray"),
        (lambda ps: dg.optim.SGD([{"lr": 0.1}]), "expected a 'params' entry"),
    ],
)
def test_errors(make, message):
    params = [dg.tensor(np.ones(3), requires_grad=True), dg.tensor(np.ones(2), requires_grad=True)]
    with pytest.raises(ArgumentError, match=message):
        make(params)


def test_integer_parameters_are_refused():
    with pytest.raises(DtypeError, match="expected floating-point parameters"):
        dg.optim.SGD([dg.tensor([1, 2])])


def test_repr():
    opt = dg.optim.SGD([dg.tensor(np.ones(2), requires_grad=True)], lr=0.1)
    text = repr(opt)
    assert text.startswith("SGD (\nParameter Group 0\n") and "    lr: 0.1\n" in text and text.endswith(")")


def test_l1_penalty():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((3, 2)), rng.standard_normal(4)
    p, q = dg.tensor(a, requires_grad=True), dg.tensor(b, requires_grad=True)
    penalty = dg.optim.l1_penalty([p, q], 0.01)
    assert penalty.shape == ()
    np.testing.assert_allclose(penalty.item(), 0.01 * (np.abs(a).sum() + np.abs(b).sum()))
    penalty.backward()
    np.testing.assert_allclose(p.grad.data, 0.01 * np.sign(a))
    np.testing.assert_allclose(q.grad.data, 0.01 * np.sign(b))
    np.testing.assert_allclose(dg.optim.l1_penalty(p, 2.0).item(), 2 * np.abs(a).sum())
    with pytest.raises(ArgumentError, match="expected weight >= 0, received weight=-1"):
        dg.optim.l1_penalty([p], -1)
    with pytest.raises(ArgumentError, match="at least one parameter"):
        dg.optim.l1_penalty([], 0.1)


def test_gradient_of_the_wrong_shape(path):
    p = dg.tensor(np.ones(3), requires_grad=True)
    opt = dg.optim.Adam([p])
    p.grad = dg.tensor(np.ones(2))
    with pytest.raises(
        ShapeError, match=r"expected each .grad to have its parameter's shape \(3,\), received .* \(2,\)"
    ):
        opt.step()
