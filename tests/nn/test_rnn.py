"""Recurrent layers and cells: PyTorch's parameters, init, repr, outputs and gradients; errors that name the layer."""

import math

import numpy as np
import pytest

import dagrad as dg
from dagrad.autograd import gradcheck, gradgradcheck
from dagrad.errors import ArgumentError, DtypeError, ShapeError
from dagrad.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

torch = pytest.importorskip("torch")

LAYERS = {"RNN": (RNN, torch.nn.RNN), "LSTM": (LSTM, torch.nn.LSTM), "GRU": (GRU, torch.nn.GRU)}
CONFIGS = [  # (layer, kwargs, input shape)
    ("RNN", {}, (5, 3, 4)),
    ("RNN", {"nonlinearity": "relu", "num_layers": 2}, (6, 2, 4)),
    ("RNN", {"bidirectional": True, "batch_first": True}, (3, 7, 4)),
    ("LSTM", {}, (5, 3, 4)),
    ("LSTM", {"num_layers": 2, "bidirectional": True}, (6, 2, 4)),
    ("LSTM", {"batch_first": True, "bias": False}, (2, 7, 4)),
    ("LSTM", {"num_layers": 2, "batch_first": True, "bidirectional": True}, (3, 5, 4)),
    ("GRU", {}, (5, 3, 4)),
    ("GRU", {"num_layers": 2, "bidirectional": True, "batch_first": True}, (2, 6, 4)),
    ("GRU", {"bias": False, "num_layers": 2}, (7, 2, 4)),
    ("LSTM", {"bidirectional": True}, (5, 4)),  # unbatched
    ("GRU", {"num_layers": 2}, (6, 4)),  # unbatched
]
IDS = [f"{name}-{kw}-{shape}" for name, kw, shape in CONFIGS]
HIDDEN = 3


def _pair(name: str, kwargs: dict, dtype=np.float64):
    """A dagrad layer and a torch layer with the same (torch's) weights, in dtype."""
    ours_cls, theirs_cls = LAYERS[name]
    theirs = theirs_cls(4, HIDDEN, **kwargs).to(torch.float64 if dtype == np.float64 else torch.float32)
    ours = ours_cls(4, HIDDEN, **kwargs, dtype=dtype)
    ours.load_state_dict({k: dg.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


def _state_shape(layer, shape: tuple) -> tuple:
    n = layer.num_layers * (2 if layer.bidirectional else 1)
    if len(shape) == 2:
        return (n, HIDDEN)
    return (n, shape[0] if layer.batch_first else shape[1], HIDDEN)


def _run_both(ours, theirs, shape, dtype, with_state: bool):
    """Forward both on the same input (and initial state), backward a random weighting of every output; returns
    the dagrad and torch (outputs, input-and-state gradients)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    n_states = 2 if isinstance(ours, LSTM) else 1
    states = [rng.standard_normal(_state_shape(ours, shape)).astype(dtype) for _ in range(n_states)]
    results = []
    for lib, layer in ((dg, ours), (torch, theirs)):
        xs = lib.tensor(x, requires_grad=True)
        hs = [lib.tensor(s, requires_grad=True) for s in states] if with_state else []
        hx = None if not with_state else (tuple(hs) if n_states == 2 else hs[0])
        out, fin = layer(xs, hx)
        outs = [out, *fin] if n_states == 2 else [out, fin]
        loss = sum((o * lib.tensor(np.cos(np.arange(math.prod(o.shape))).reshape(o.shape).astype(dtype))).sum()
                   for o in outs)  # fmt: skip
        loss.backward()
        grads = [xs.grad, *(h.grad for h in hs)]
        results.append(([np.asarray(o.detach().numpy() if lib is torch else o.data) for o in outs],
                        [np.asarray(g.numpy() if lib is torch else g.data) for g in grads]))  # fmt: skip
    return results


@pytest.mark.parametrize("name,kwargs,shape", CONFIGS, ids=IDS)
def test_layer_matches_torch(name, kwargs, shape):
    """float64: same parameter names/shapes, repr, outputs, final states and every gradient (within 1e-6)."""
    ours, theirs = _pair(name, kwargs)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == [
        (n, tuple(p.shape)) for n, p in theirs.named_parameters()
    ]
    assert ours.extra_repr() == theirs.extra_repr()
    for with_state in (False, True):
        ours.zero_grad()
        theirs.zero_grad()
        (o_out, o_grads), (t_out, t_grads) = _run_both(ours, theirs, shape, np.float64, with_state)
        for a, b in zip(o_out + o_grads, t_out + t_grads):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
        for n, p in theirs.named_parameters():
            np.testing.assert_allclose(getattr(ours, n).grad.data, p.grad.numpy(), rtol=1e-6, atol=1e-9, err_msg=n)


@pytest.mark.parametrize("name,kwargs,shape", [CONFIGS[0], CONFIGS[4], CONFIGS[8]], ids=[IDS[0], IDS[4], IDS[8]])
def test_layer_matches_torch_float32(name, kwargs, shape):
    ours, theirs = _pair(name, kwargs, np.float32)
    (o_out, o_grads), (t_out, t_grads) = _run_both(ours, theirs, shape, np.float32, with_state=True)
    for a, b in zip(o_out + o_grads, t_out + t_grads):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    for n, p in theirs.named_parameters():
        np.testing.assert_allclose(getattr(ours, n).grad.data, p.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=n)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_eval_and_no_grad_match_train(name):
    """Without dropout, eval mode and no_grad (which keep no per-step buffers) give the training outputs."""
    ours, theirs = _pair(name, {"num_layers": 2, "bidirectional": True})
    x = dg.tensor(np.random.default_rng(1).standard_normal((5, 2, 4)))
    out, fin = ours(x)
    with dg.no_grad():
        out2, fin2 = ours.eval()(x)
    theirs.eval()
    np.testing.assert_allclose(out2.data, theirs(torch.tensor(x.data))[0].detach().numpy(), rtol=1e-6)
    np.testing.assert_array_equal(out.data, out2.data)
    for a, b in zip(fin if name == "LSTM" else [fin], fin2 if name == "LSTM" else [fin2]):
        np.testing.assert_array_equal(a.data, b.data)


def test_dropout_between_layers_in_training_only():
    m = LSTM(4, 8, num_layers=3, dropout=0.5, dtype=np.float64)
    x = dg.tensor(np.random.default_rng(2).standard_normal((6, 5, 4)))
    dg.manual_seed(7)
    a = m(x)[0]
    dg.manual_seed(7)
    b = m(x)[0]
    np.testing.assert_array_equal(a.data, b.data)  # reproducible under dagrad.manual_seed
    c = m(x)[0]
    assert not np.allclose(a.data, c.data)  # a fresh mask
    m.eval()
    np.testing.assert_array_equal(m(x)[0].data, m(x)[0].data)
    a.sum().backward()
    assert all(p.grad is not None for p in m.parameters())


def test_dropout_with_one_layer_warns_as_torch():
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        GRU(3, 4, dropout=0.2)


def test_backward_twice_with_retain_graph():
    """The cached per-step buffers survive a first backward with retain_graph=True."""
    m = LSTM(4, 3, bidirectional=True, dtype=np.float64)
    x = dg.tensor(np.random.default_rng(3).standard_normal((5, 2, 4)), requires_grad=True)
    y = m(x)[0].sum()
    y.backward(retain_graph=True)
    first = x.grad.data.copy()
    y.backward()
    np.testing.assert_allclose(x.grad.data, 2 * first)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_double_backward_matches_torch(name):
    """A gradient penalty: d/dparams of |d loss / d x|^2, through the scan ops' create_graph path."""
    ours, theirs = _pair(name, {"num_layers": 2})
    x = np.random.default_rng(4).standard_normal((4, 2, 4))
    xd, xt = dg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (gd,) = dg.autograd.grad((ours(xd)[0] ** 2).sum(), [xd], create_graph=True)
    (gt,) = torch.autograd.grad((theirs(xt)[0] ** 2).sum(), [xt], create_graph=True)
    np.testing.assert_allclose(gd.data, gt.detach().numpy(), rtol=1e-6, atol=1e-9)
    (gd**2).sum().backward()
    (gt**2).sum().backward()
    for n, p in theirs.named_parameters():
        np.testing.assert_allclose(getattr(ours, n).grad.data, p.grad.numpy(), rtol=1e-6, atol=1e-9, err_msg=n)


def test_layer_gradcheck_and_gradgradcheck():
    """Finite differences through a whole bidirectional 2-layer LSTM: vjp, jvp and second order."""
    m = LSTM(2, 2, num_layers=2, bidirectional=True, dtype=np.float64)
    rng = np.random.default_rng(5)
    x = dg.tensor(rng.standard_normal((3, 1, 2)), requires_grad=True)
    h0 = dg.tensor(rng.standard_normal((4, 1, 2)), requires_grad=True)
    c0 = dg.tensor(rng.standard_normal((4, 1, 2)), requires_grad=True)
    f = lambda x, h, c: m(x, (h, c))[0]  # noqa: E731
    assert gradcheck(f, (x, h0, c0))
    assert gradgradcheck(f, (x, h0, c0))


def test_default_init_is_pytorchs():
    m = LSTM(10, 16, num_layers=2)
    bound = 1 / math.sqrt(16)
    for p in m.parameters():
        assert p.dtype == dg.float32 and p.requires_grad
        assert np.abs(p.data).max() <= bound
    w = np.concatenate([p.data.ravel() for p in m.parameters()])
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    dg.manual_seed(3)
    a = GRU(5, 6).weight_hh_l0.data
    dg.manual_seed(3)
    np.testing.assert_array_equal(a, GRU(5, 6).weight_hh_l0.data)


def test_state_dict_and_all_weights():
    m = GRU(3, 4, num_layers=2, bidirectional=True)
    keys = list(torch.nn.GRU(3, 4, num_layers=2, bidirectional=True).state_dict())
    assert list(m.state_dict()) == keys
    assert [len(group) for group in m.all_weights] == [4] * 4
    assert m.all_weights[1][0] is m.weight_ih_l0_reverse
    assert list(RNN(3, 4, bias=False).state_dict()) == ["weight_ih_l0", "weight_hh_l0"]
    m.flatten_parameters()
    assert repr(m).startswith("GRU(3, 4, num_layers=2, bidirectional=True)")


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: LSTM(3, 0), "hidden_size"),
        (lambda: RNN(3, 4, num_layers=0), "num_layers"),
        (lambda: GRU(3, 4, dropout=1.5), "dropout"),
        (lambda: RNN(3, 4, nonlinearity="sigmoid"), "nonlinearity"),
        (lambda: LSTM(3, 4, proj_size=2), "proj_size"),
        (lambda: GRUCell(0, 4), "input_size"),
        (lambda: RNNCell(3, 4, nonlinearity="gelu"), "nonlinearity"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises(ArgumentError, match=match):
        make()


def test_bad_inputs_name_the_layer():
    m = LSTM(3, 4, num_layers=2)
    with pytest.raises(ShapeError, match=r"LSTM: expected input.size\(-1\) == input_size \(3\)"):
        m(dg.zeros(5, 2, 7))
    with pytest.raises(ShapeError, match="LSTM: expected a 2-D .* or 3-D input"):
        m(dg.zeros(5))
    with pytest.raises(ShapeError, match=r"LSTM: expected h_0 of shape \(2, 2, 4\), received \(1, 2, 4\)"):
        m(dg.zeros(5, 2, 3), (dg.zeros(1, 2, 4), dg.zeros(2, 2, 4)))
    with pytest.raises(ShapeError, match="LSTM: expected hx to be a tuple"):
        m(dg.zeros(5, 2, 3), dg.zeros(2, 2, 4))
    with pytest.raises(DtypeError, match="LSTM: expected an input of dtype float32"):
        m(dg.zeros(5, 2, 3, dtype=dg.float64))
    with pytest.raises(ShapeError, match="GRU: expected a sequence of length > 0"):
        GRU(3, 4)(dg.zeros(0, 2, 3))
    with pytest.raises(ShapeError, match=r"GRUCell: expected h of shape \(2, 4\)"):
        GRUCell(3, 4)(dg.zeros(2, 3), dg.zeros(3, 4))


CELLS = [  # (dagrad class, torch class, kwargs)
    (RNNCell, torch.nn.RNNCell, {}),
    (RNNCell, torch.nn.RNNCell, {"nonlinearity": "relu", "bias": False}),
    (LSTMCell, torch.nn.LSTMCell, {}),
    (LSTMCell, torch.nn.LSTMCell, {"bias": False}),
    (GRUCell, torch.nn.GRUCell, {}),
    (GRUCell, torch.nn.GRUCell, {"bias": False}),
]


@pytest.mark.parametrize("ours_cls,theirs_cls,kwargs", CELLS, ids=[f"{c[0].__name__}-{c[2]}" for c in CELLS])
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
def test_cell_matches_torch(ours_cls, theirs_cls, kwargs, batched):
    """A cell looped over 5 steps from a given state (then from None): outputs and all gradients."""
    theirs = theirs_cls(4, 3, **kwargs).double()
    ours = ours_cls(4, 3, **kwargs, dtype=np.float64)
    ours.load_state_dict({k: dg.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    assert ours.extra_repr() == theirs.extra_repr()
    rng = np.random.default_rng(6)
    lstm = ours_cls is LSTMCell
    x = rng.standard_normal((5, 2, 4) if batched else (5, 4))
    states = [rng.standard_normal((2, 3) if batched else (3,)) for _ in range(2 if lstm else 1)]
    res = []
    for lib, cell in ((dg, ours), (torch, theirs)):
        xs = lib.tensor(x, requires_grad=True)
        hs = [lib.tensor(s, requires_grad=True) for s in states]
        for hx in ((tuple(hs) if lstm else hs[0]), None):
            h, total = hx, 0
            for t in range(5):
                h = cell(xs[t], h)
                total = total + sum(((v * (k + 1)) ** 2).sum() for k, v in enumerate(h if lstm else (h,)))
            total.backward()
        grads = [xs.grad, *(s.grad for s in hs), *(p.grad for _, p in sorted(cell.named_parameters()))]
        res.append([np.asarray(g.data if lib is dg else g.numpy()) for g in grads] + [np.asarray(total.item())])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_frozen_weights_give_input_gradients_only(name):
    """Backward skips the weight gradients of frozen layers and still returns the input's."""
    ours, theirs = _pair(name, {"bidirectional": True})
    ours.requires_grad_(False)
    x = np.random.default_rng(7).standard_normal((5, 2, 4))
    xd, xt = dg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours(xd)[0].sum().backward()
    theirs(xt)[0].sum().backward()
    np.testing.assert_allclose(xd.grad.data, xt.grad.numpy(), rtol=1e-6, atol=1e-9)
    assert all(p.grad is None for p in ours.parameters())


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_func_transforms(name):
    """jacrev (batched cotangents through the vmap-aware backward) and jacfwd agree with torch's Jacobian; the
    Hessian (forward over reverse) agrees with torch's."""
    ours, theirs = _pair(name, {"bidirectional": True})
    x = np.random.default_rng(8).standard_normal((3, 1, 4))
    f = lambda x: ours(x)[0].sum(-1)  # noqa: E731
    expected = torch.autograd.functional.jacobian(lambda x: theirs(x)[0].sum(-1), torch.tensor(x)).numpy()
    for jac in (dg.func.jacrev, dg.func.jacfwd):
        np.testing.assert_allclose(jac(f)(dg.tensor(x)).data, expected, rtol=1e-6, atol=1e-9)
    hess = dg.func.hessian(lambda x: (ours(x)[0] ** 2).sum())(dg.tensor(x)).data
    expected = torch.autograd.functional.hessian(lambda x: (theirs(x)[0] ** 2).sum(), torch.tensor(x)).numpy()
    np.testing.assert_allclose(hess, expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_vmap_over_sequences_and_per_example_gradients(name):
    """vmap of a layer over a stack of batches equals the loop; grad inside vmap gives per-example gradients."""
    m = LAYERS[name][0](4, 3, bidirectional=True, dtype=np.float64)
    xs = dg.tensor(np.random.default_rng(9).standard_normal((3, 5, 2, 4)))
    out = dg.func.vmap(lambda x: m(x)[0])(xs)
    for j in range(3):
        np.testing.assert_allclose(out.data[j], m(xs[j])[0].data, rtol=1e-12)
    w = m.weight_hh_l0

    def loss(x, w_hh):
        m.weight_hh_l0 = w_hh
        try:
            return (m(x)[0] ** 2).sum()
        finally:
            m.weight_hh_l0 = w

    per_example = dg.func.vmap(dg.func.grad(loss, argnums=1), in_dims=(0, None))(xs, w)
    for j in range(3):
        np.testing.assert_allclose(per_example.data[j], dg.func.grad(loss, argnums=1)(xs[j], w).data, rtol=1e-10)


def test_vmap_over_weights():
    """Batched weights (an ensemble of recurrent weights) run one scan per example."""
    from dagrad.ops.rnn import LSTMScan

    rng = np.random.default_rng(10)
    xw, h0, c0 = (dg.tensor(rng.standard_normal(s)) for s in ((4, 2, 8), (2, 2), (2, 2)))
    ws = dg.tensor(rng.standard_normal((3, 8, 2)))
    out = dg.func.vmap(lambda w: LSTMScan.apply(xw, h0, c0, w, reverse=True), in_dims=0)(ws)
    for j in range(3):
        np.testing.assert_allclose(out.data[j], LSTMScan.apply(xw, h0, c0, ws[j], reverse=True).data, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lstm_backward_kernel_equals_the_array_ops(dtype, monkeypatch):
    from dagrad.ops import _direct_conv, rnn

    if rnn._lstm_kernel(np.ones(1)) is None:
        pytest.skip("numba is missing or disabled")
    rng = np.random.default_rng(7)
    lstm = LSTM(4, 6, num_layers=2, bidirectional=True).to(dtype)
    x0, h0, c0 = (rng.standard_normal(s).astype(dtype) for s in ((5, 3, 4), (4, 3, 6), (4, 3, 6)))

    def grads():
        lstm.zero_grad()
        x, h, c = (dg.tensor(a, requires_grad=True) for a in (x0, h0, c0))
        out, (hn, cn) = lstm(x, (h, c))
        ((out * out).sum() + (hn * cn).sum()).backward()
        return [t.grad.numpy() for t in (x, h, c, *lstm.parameters())]

    calls = []
    kernel = rnn._rnn_jit.lstm_backward_gates
    monkeypatch.setattr(rnn._rnn_jit, "lstm_backward_gates", lambda *a: calls.append(1) or kernel(*a))
    got = grads()
    assert len(calls) == 2 * 2 * 5  # layers x directions x steps
    monkeypatch.setattr(rnn, "_rnn_jit", False)
    assert _direct_conv.kernels() is not False and rnn._lstm_kernel(x0) is None
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for g, r in zip(got, grads()):
        np.testing.assert_allclose(g, r, rtol=tol, atol=tol)
