"""Sweep over dagrad.nn's layers against torch.nn: with identical weights (torch's state dict loaded into dagrad)
the same outputs, input and parameter gradients and buffers, in float64 (1e-6) and float32 (1e-4, relative to
each tensor's scale), in train and eval mode; BatchNorm running statistics after three training steps.

A case whose dagrad layer does not exist (yet) is skipped with a note; test_every_layer_has_a_case lists the
dagrad layers that the table misses.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, NamedTuple

import numpy as np
import pytest

import dagrad as dg

torch = pytest.importorskip("torch")

FAMILIES = ("linear", "conv", "pooling", "normalization", "activation", "dropout", "embedding", "loss", "rnn")
NOT_SWEPT = {  # dagrad.nn modules without a torch.nn layer of the same behaviour, or covered elsewhere
    "Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict",
    "BasicBlock", "Bottleneck", "BasicConv2d", "Inception",  # tests/nn/test_blocks.py
    "StructuredLoss",  # no torch counterpart (tests/nn/test_loss.py)
    "RNNBase", "RNNCellBase",  # abstract bases of RNN/LSTM/GRU and the cells
}  # fmt: skip


def _find(name: str) -> type | None:
    """The dagrad layer called `name`: from dagrad.nn if the lead has exported it, else from its family module."""
    import dagrad.nn

    if hasattr(dagrad.nn, name):
        return getattr(dagrad.nn, name)
    for fam in FAMILIES:
        try:
            mod = importlib.import_module(f"dagrad.nn.{fam}")
        except ImportError:
            continue
        if hasattr(mod, name):
            return getattr(mod, name)
    return None


# ---- inputs: each spec makes one array from a Generator; `grad` says whether it requires grad ------------------
class In(NamedTuple):
    shape: tuple
    kind: str = "normal"  # normal | prob (in (0.05, 0.95)) | pos (in (0.5, 2)) | int (in [0, high)) | sign (+-1)
    high: int = 0
    grad: bool = True

    def make(self, rng: np.random.Generator, dtype: str) -> np.ndarray:
        if self.kind == "int":
            return rng.integers(0, self.high, self.shape)
        if self.kind == "sign":
            return rng.choice([-1.0, 1.0], self.shape).astype(dtype)
        if self.kind == "prob":
            return rng.uniform(0.05, 0.95, self.shape).astype(dtype)
        if self.kind == "pos":
            return rng.uniform(0.5, 2.0, self.shape).astype(dtype)
        return rng.standard_normal(self.shape).astype(dtype)


def Int(*shape: int, high: int) -> In:
    return In(shape, "int", high, grad=False)


def Const(*shape: int, kind: str = "normal") -> In:
    return In(shape, kind, grad=False)


class Case(NamedTuple):
    name: str  # the class name in both libraries
    args: tuple
    kwargs: dict
    inputs: tuple[In, ...]
    modes: tuple[bool, ...] = (True, False)  # training flags to test
    id: str = ""


def C(name: str, *args: Any, inputs: Any, modes: tuple = (True, False), id: str = "", **kwargs: Any) -> Case:
    if isinstance(inputs, In):
        inputs = (inputs,)
    elif not isinstance(inputs[0], In):
        inputs = (In(inputs),)
    return Case(name, args, kwargs, inputs, modes, id)


X4 = (2, 3, 5, 4)  # a small image batch (N, C, H, W)
EVAL = (False,)
CASES = [
    # linear family
    C("Linear", 5, 4, inputs=(3, 5)),
    C("Linear", 5, 4, bias=False, inputs=(2, 3, 5), id="Linear-nobias-3d"),
    C("Bilinear", 3, 4, 2, inputs=(In((5, 3)), In((5, 4)))),
    C("Identity", inputs=(3, 4)),
    C("Flatten", inputs=X4),
    C("Unflatten", 1, (2, 3), inputs=(4, 6, 2)),
    # convolutions
    C("Conv1d", 4, 6, 3, stride=2, groups=2, inputs=(2, 4, 9)),
    C("Conv2d", 3, 4, 3, padding=1, inputs=X4),
    C("Conv2d", 3, 6, (3, 2), stride=(2, 1), dilation=(1, 2), groups=3, bias=False, inputs=(2, 3, 7, 6), id="Conv2d-g"),
    C("Conv3d", 2, 3, 2, padding=1, inputs=(2, 2, 3, 4, 3)),
    C("ConvTranspose1d", 3, 2, 3, stride=2, inputs=(2, 3, 5)),
    C("ConvTranspose2d", 4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, inputs=(2, 4, 3, 4)),
    C("ConvTranspose3d", 2, 3, 2, inputs=(1, 2, 3, 2, 3)),
    # pooling
    C("MaxPool1d", 3, stride=2, padding=1, inputs=(2, 3, 9)),
    C("MaxPool2d", 2, inputs=X4),
    C("MaxPool2d", 2, return_indices=True, inputs=X4, id="MaxPool2d-indices"),
    C("MaxPool2d", 3, stride=1, padding=1, ceil_mode=True, inputs=X4, id="MaxPool2d-inception"),
    C("MaxPool2d", 3, stride=2, ceil_mode=True, inputs=(2, 3, 8, 6), id="MaxPool2d-ceil"),
    C("MaxPool3d", 2, inputs=(1, 2, 4, 4, 5)),
    C("AvgPool1d", 3, stride=2, padding=1, inputs=(2, 3, 8)),
    C("AvgPool2d", 3, stride=2, padding=1, count_include_pad=False, inputs=X4),
    C("AvgPool2d", 2, ceil_mode=True, inputs=X4, id="AvgPool2d-ceil"),
    C("AvgPool3d", 2, inputs=(1, 2, 4, 4, 5)),
    C("AdaptiveAvgPool1d", 3, inputs=(2, 3, 7)),
    C("AdaptiveAvgPool2d", (2, 3), inputs=(2, 3, 5, 7)),
    C("AdaptiveAvgPool2d", 1, inputs=X4, id="AdaptiveAvgPool2d-global"),
    C("AdaptiveAvgPool3d", 2, inputs=(1, 2, 4, 5, 3)),
    C("AdaptiveMaxPool1d", 3, inputs=(2, 3, 7)),
    C("AdaptiveMaxPool2d", (2, 3), inputs=(2, 3, 5, 7)),
    C("AdaptiveMaxPool3d", 2, inputs=(1, 2, 4, 5, 3)),
    # normalisation
    C("BatchNorm1d", 4, inputs=(5, 4)),
    C("BatchNorm1d", 3, inputs=(4, 3, 5), id="BatchNorm1d-3d"),
    C("BatchNorm2d", 3, inputs=X4),
    C("BatchNorm2d", 3, momentum=None, affine=False, inputs=X4, id="BatchNorm2d-cumulative-noaffine"),
    C("BatchNorm2d", 3, track_running_stats=False, inputs=X4, id="BatchNorm2d-nostats"),
    C("BatchNorm3d", 2, inputs=(2, 2, 3, 2, 3)),
    C("LayerNorm", 4, inputs=(3, 2, 4)),
    C("LayerNorm", (3, 4), eps=1e-3, inputs=(2, 3, 4), id="LayerNorm-2d"),
    C("LayerNorm", 4, elementwise_affine=False, inputs=(3, 4), id="LayerNorm-noaffine"),
    C("GroupNorm", 2, 6, inputs=(2, 6, 3, 2)),
    C("GroupNorm", 3, 3, affine=False, inputs=(2, 3, 5), id="GroupNorm-instance"),
    C("InstanceNorm2d", 3, affine=True, inputs=X4),
    C("LocalResponseNorm", 3, inputs=X4),
    # activations
    C("ReLU", inputs=(3, 4)),
    C("ReLU6", inputs=(3, 4)),
    C("LeakyReLU", 0.2, inputs=(3, 4)),
    C("PReLU", 3, inputs=(2, 3, 4)),
    C("ELU", alpha=0.7, inputs=(3, 4)),
    C("SELU", inputs=(3, 4)),
    C("CELU", alpha=0.7, inputs=(3, 4)),
    C("GELU", inputs=(3, 4)),
    C("GELU", approximate="tanh", inputs=(3, 4), id="GELU-tanh"),
    C("SiLU", inputs=(3, 4)),
    C("Mish", inputs=(3, 4)),
    C("Sigmoid", inputs=(3, 4)),
    C("LogSigmoid", inputs=(3, 4)),
    C("Tanh", inputs=(3, 4)),
    C("Softplus", beta=2.0, threshold=5.0, inputs=(3, 4)),
    C("Softsign", inputs=(3, 4)),
    C("Hardtanh", -0.5, 0.8, inputs=(3, 4)),
    C("Hardsigmoid", inputs=(3, 4)),
    C("Hardswish", inputs=(3, 4)),
    C("Tanhshrink", inputs=(3, 4)),
    C("Softmax", dim=1, inputs=(3, 4, 2)),
    C("LogSoftmax", dim=-1, inputs=(3, 4)),
    C("Softmin", dim=1, inputs=(3, 4)),
    # dropout: compared in eval mode (identity) and at p=0 in training
    C("Dropout", 0.5, inputs=(3, 4), modes=EVAL),
    C("Dropout", 0.0, inputs=(3, 4), modes=(True,), id="Dropout-p0"),
    C("Dropout1d", 0.5, inputs=(2, 3, 4), modes=EVAL),
    C("Dropout2d", 0.5, inputs=X4, modes=EVAL),
    C("Dropout3d", 0.5, inputs=(1, 2, 3, 2, 2), modes=EVAL),
    C("AlphaDropout", 0.5, inputs=(3, 4), modes=EVAL),
    C("FeatureAlphaDropout", 0.5, inputs=(2, 3, 2, 2), modes=EVAL),
    # embedding
    C("Embedding", 10, 4, inputs=Int(3, 5, high=10)),
    C("Embedding", 10, 4, padding_idx=0, inputs=Int(12, high=3), id="Embedding-padding"),
    # losses (input, target)
    C("MSELoss", inputs=(In((3, 4)), In((3, 4)))),
    C("MSELoss", reduction="none", inputs=(In((3, 4)), Const(3, 4)), id="MSELoss-none"),
    C("L1Loss", reduction="sum", inputs=(In((3, 4)), In((3, 4)))),
    C("SmoothL1Loss", beta=0.5, inputs=(In((3, 4)), In((3, 4)))),
    C("HuberLoss", delta=0.7, inputs=(In((3, 4)), In((3, 4)))),
    C("BCELoss", inputs=(In((3, 4), "prob"), Const(3, 4, kind="prob"))),
    C("BCELoss", weight=In((4,), "pos"), inputs=(In((3, 4), "prob"), Const(3, 4, kind="prob")), id="BCELoss-w"),
    C("BCEWithLogitsLoss", inputs=(In((3, 4)), Const(3, 4, kind="prob"))),
    C(
        "BCEWithLogitsLoss",
        pos_weight=In((4,), "pos"),
        reduction="sum",
        inputs=(In((3, 4)), Const(3, 4, kind="prob")),
        id="BCEWithLogitsLoss-posw",
    ),  # fmt: skip
    C("CrossEntropyLoss", inputs=(In((5, 4)), Int(5, high=4))),
    C(
        "CrossEntropyLoss",
        weight=In((4,), "pos"),
        ignore_index=1,
        label_smoothing=0.1,
        inputs=(In((6, 4)), Int(6, high=4)),
        id="CrossEntropyLoss-w-ignore-smooth",
    ),  # fmt: skip
    C("CrossEntropyLoss", inputs=(In((2, 4, 3)), Int(2, 3, high=4)), id="CrossEntropyLoss-spatial"),
    C("CrossEntropyLoss", inputs=(In((3, 4)), Const(3, 4, kind="prob")), id="CrossEntropyLoss-probs"),
    C("NLLLoss", inputs=(In((5, 4)), Int(5, high=4))),
    C("NLLLoss", weight=In((4,), "pos"), reduction="sum", inputs=(In((5, 4)), Int(5, high=4)), id="NLLLoss-w"),
    C("KLDivLoss", reduction="batchmean", inputs=(In((3, 4)), Const(3, 4, kind="prob"))),
    C("KLDivLoss", reduction="sum", log_target=True, inputs=(In((3, 4)), In((3, 4))), id="KLDivLoss-logtarget"),
    C("HingeEmbeddingLoss", margin=0.5, inputs=(In((3, 4)), Const(3, 4, kind="sign"))),
    C("MultiMarginLoss", inputs=(In((5, 4)), Int(5, high=4))),
    C("MultiMarginLoss", p=2, margin=0.5, weight=In((4,), "pos"), inputs=(In((5, 4)), Int(5, high=4)), id="MMl-p2"),
    # recurrent
    C("RNN", 3, 4, inputs=(5, 2, 3)),
    C("RNN", 3, 4, nonlinearity="relu", num_layers=2, batch_first=True, inputs=(2, 5, 3), id="RNN-relu-2"),
    C("LSTM", 3, 4, inputs=(5, 2, 3)),
    C("LSTM", 3, 4, num_layers=2, bidirectional=True, inputs=(6, 2, 3), id="LSTM-2-bidir"),
    C("GRU", 3, 4, batch_first=True, inputs=(2, 5, 3)),
    C("GRU", 3, 4, bidirectional=True, bias=False, inputs=(5, 2, 3), id="GRU-bidir-nobias"),
    C("RNNCell", 3, 4, inputs=(2, 3)),
    C("LSTMCell", 3, 4, inputs=(2, 3)),
    C("GRUCell", 3, 4, inputs=(2, 3)),
]
IDS = [c.id or c.name for c in CASES]
DTYPES = {"float64": (torch.float64, 1e-6), "float32": (torch.float32, 1e-4)}


def _kwargs(case: Case, dtype: str, lib: str) -> dict:
    """Array-valued constructor arguments (loss weights) made once and given to each library as its tensor."""
    out = {}
    for k, v in case.kwargs.items():
        if isinstance(v, In):
            a = v.make(np.random.default_rng(7), dtype)
            v = torch.tensor(a) if lib == "torch" else dg.tensor(a)
        out[k] = v
    return out


def _build(case: Case, dtype: str) -> tuple[Any, Any]:
    """Both layers, dagrad's holding torch's weights (norm affine and running stats moved off their defaults)."""
    cls = _find(case.name)
    if cls is None:
        pytest.skip(f"dagrad.nn has no {case.name} yet")
    tdtype = DTYPES[dtype][0]
    torch.manual_seed(0)
    t = getattr(torch.nn, case.name)(*case.args, **_kwargs(case, dtype, "torch")).to(tdtype)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, b in list(t.named_parameters()) + list(t.named_buffers()):
            if "Norm" in case.name and b.is_floating_point():
                low = 0.5 if name.endswith(("weight", "running_var")) else -0.5
                b.uniform_(low, low + 1.0, generator=gen)
    m = cls(*case.args, **_kwargs(case, dtype, "dagrad")).to(dtype)
    m.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    return m, t


def _flat(out: Any) -> list:
    """The tensors of a (nested tuple) output in order."""
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return [out]


def _close(ours: Any, theirs: np.ndarray, rtol: float, what: str) -> None:
    ours = np.asarray(ours)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} vs torch {theirs.shape}"
    if theirs.dtype.kind in "iub":
        np.testing.assert_array_equal(ours, theirs, err_msg=what)
        return
    assert ours.dtype == theirs.dtype, f"{what}: dtype {ours.dtype} vs torch {theirs.dtype}"
    scale = float(np.abs(theirs).max()) if theirs.size else 0.0
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol * max(scale, 1e-3), err_msg=what)


def _run(m: Any, t: Any, case: Case, dtype: str, train: bool, rng: np.random.Generator) -> None:
    """One forward + backward of both layers on the same inputs and upstream gradients; compare everything."""
    rtol = DTYPES[dtype][1]
    m.train(train)
    t.train(train)
    arrays = [spec.make(rng, dtype) for spec in case.inputs]
    xs = [dg.tensor(a, requires_grad=spec.grad) for a, spec in zip(arrays, case.inputs, strict=True)]
    txs = [torch.tensor(a, requires_grad=spec.grad) for a, spec in zip(arrays, case.inputs, strict=True)]
    outs, touts = _flat(m(*xs)), _flat(t(*txs))
    assert len(outs) == len(touts), f"{case.name}: {len(outs)} outputs vs torch {len(touts)}"
    loss, tloss = None, None
    for i, (o, to) in enumerate(zip(outs, touts, strict=True)):
        _close(o.data, to.detach().numpy(), rtol, f"{case.name} output {i}")
        if to.requires_grad:
            g = rng.standard_normal(tuple(to.shape)).astype(dtype)
            term, tterm = (o * dg.tensor(g)).sum(), (to * torch.tensor(g)).sum()
            loss, tloss = (term, tterm) if loss is None else (loss + term, tloss + tterm)
    if tloss is None:
        return
    loss.backward()
    tloss.backward()
    for i, (x, tx) in enumerate(zip(xs, txs, strict=True)):
        if tx.requires_grad:
            _close(x.grad.data, tx.grad.numpy(), rtol, f"{case.name} grad of input {i}")
    ours = dict(m.named_parameters())
    for key, p in t.named_parameters():
        assert ours[key].grad is not None, f"{case.name}: no gradient for {key}"
        _close(ours[key].grad.data, p.grad.numpy(), rtol, f"{case.name} grad of {key}")


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_layer_matches_torch(case, dtype, train):
    if train not in case.modes:
        pytest.skip("mode not compared for this case (dropout is random in training)")
    m, t = _build(case, dtype)
    _run(m, t, case, dtype, train, np.random.default_rng(3))
    ours = m.state_dict()
    for key, b in t.state_dict().items():
        _close(ours[key].data, b.numpy(), DTYPES[dtype][1], f"{case.name} buffer {key}")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_names_and_repr_match_torch(case):
    """Same parameter and buffer names and shapes (state-dict keys) and the same extra_repr as torch."""
    m, t = _build(case, "float32")
    assert [(k, tuple(v.shape)) for k, v in m.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in t.state_dict().items()
    ]
    assert m.extra_repr() == t.extra_repr()


BN_CASES = [c for c in CASES if c.name.startswith(("BatchNorm", "InstanceNorm"))] + [
    C("InstanceNorm2d", 3, track_running_stats=True, inputs=X4, id="InstanceNorm2d-stats"),
    C("BatchNorm1d", 4, momentum=0.3, eps=1e-3, inputs=(6, 4), id="BatchNorm1d-momentum"),
]


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("case", BN_CASES, ids=[c.id or c.name for c in BN_CASES])
def test_running_statistics_after_three_steps(case, dtype):
    """Three training steps on different batches, then an eval step: same buffers and eval output as torch."""
    m, t = _build(case, dtype)
    rng = np.random.default_rng(5)
    for _ in range(3):
        _run(m, t, case, dtype, True, rng)
    ours = m.state_dict()
    for key, b in t.state_dict().items():
        _close(ours[key].data, b.numpy(), DTYPES[dtype][1], f"{case.name} {key} after 3 steps")
    _run(m, t, case, dtype, False, rng)


def test_every_layer_has_a_case():
    """Every torch-like layer class that dagrad.nn defines is swept here (or listed in NOT_SWEPT)."""
    import dagrad.nn

    Module = dagrad.nn.Module
    found = {n for n, v in vars(dagrad.nn).items() if inspect.isclass(v) and issubclass(v, Module)}
    for fam in FAMILIES:
        try:
            mod = importlib.import_module(f"dagrad.nn.{fam}")
        except ImportError:
            continue
        found |= {
            n
            for n, v in vars(mod).items()
            if inspect.isclass(v) and issubclass(v, Module) and v.__module__ == mod.__name__ and n[0] != "_"
        }
    missing = sorted(found - {c.name for c in CASES} - NOT_SWEPT)
    assert not missing, f"dagrad.nn layers without a parity case: {missing}"
