"""PyTorch parity: every registered op's samples that carry a `torch=` callable run in dagrad and in PyTorch
on the same inputs (float inputs and float array params cast to the dtype under test, int and bool inputs
as the matching torch dtypes), in float64 and float32; forward values (and dtypes) must match, and so must the gradients
of (out * w).sum() with fixed random weights w w.r.t. every float input (single float outputs of
differentiable ops; tuples and comparisons compare values only)."""

from __future__ import annotations

import numpy
import pytest

import dagrad as dg
from dagrad.autograd import REGISTRY
from tests.op_cases import cases

torch = pytest.importorskip("torch")

# Differentiable ops that need no PyTorch sample, each with the reason.
NO_TORCH = {
    "ToDevice": "moves arrays between NumPy and CuPy; on a CPU-only run it is the identity, and the parity "
    "suite runs PyTorch on CPU",
    "Structured": "the lecture notes' structured loss; PyTorch has no such loss (tests/nn/test_loss.py checks it "
    "against its definition)",
}

TOL = {  # dtype: (rtol, atol)
    numpy.float64: (1e-6, 1e-6),
    numpy.float32: (1e-4, 1e-5),
}


def _inputs(sample, dtype, requires_grad: bool) -> tuple[list, list, list[int]]:
    """dagrad and torch inputs made from the same arrays (floats cast to dtype), and the float inputs' indices."""
    ours, theirs, floats = [], [], []
    for i, a in enumerate(sample.inputs):
        if not isinstance(a, numpy.ndarray):
            ours.append(a)
            theirs.append(a)
        elif a.dtype.kind == "f":
            a = a.astype(dtype)
            ours.append(dg.tensor(a, requires_grad=requires_grad))
            theirs.append(torch.tensor(a, requires_grad=requires_grad))
            floats.append(i)
        else:
            ours.append(dg.tensor(a))
            theirs.append(torch.from_numpy(a.copy()))
    return ours, theirs, floats


def _kwargs(sample, dtype) -> dict:
    """The sample's fixed params, float arrays among them (masks, shifts) cast to the dtype under test."""
    return {
        k: v.astype(dtype) if isinstance(v, numpy.ndarray) and v.dtype.kind == "f" else v
        for k, v in sample.kwargs.items()
    }


def _flat(out) -> list:
    """Outputs as a flat list of tensors/values (ops such as max(dim) return tuples)."""
    if isinstance(out, (tuple, list)):
        return [v for o in out for v in _flat(o)]
    return [out]


def _ours(v) -> numpy.ndarray:
    return numpy.asarray(v.data if isinstance(v, dg.Tensor) else v)


def _theirs(v) -> numpy.ndarray:
    return v.detach().numpy() if isinstance(v, torch.Tensor) else numpy.asarray(v)


def _close(ours: numpy.ndarray, theirs: numpy.ndarray, dtype, what: str) -> None:
    assert ours.shape == theirs.shape, f"{what}: dagrad shape {ours.shape}, torch shape {theirs.shape}"
    if theirs.dtype.kind in "biu":
        numpy.testing.assert_array_equal(ours, theirs, err_msg=what)
        return
    rtol, atol = TOL[dtype]
    numpy.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=what)


@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("op,sample", cases(lambda op, s: s.torch is not None))
def test_parity(op, sample, dtype):
    grad = op.differentiable
    ours_in, theirs_in, floats = _inputs(sample, dtype, grad)
    kwargs = _kwargs(sample, dtype)
    out = (sample.call or op.apply)(*ours_in, **kwargs)
    ref = sample.torch(torch, *theirs_in, **kwargs)

    outs, refs = _flat(out), _flat(ref)
    assert len(outs) == len(refs), f"dagrad returns {len(outs)} outputs, torch returns {len(refs)}"
    for k, (o, r) in enumerate(zip(outs, refs)):
        o, r = _ours(o), _theirs(r)
        assert o.dtype == r.dtype, f"output {k}: dagrad dtype {o.dtype}, torch dtype {r.dtype}"
        _close(o, r, dtype, f"{op.__name__} {sample}: output {k} differs from torch")

    if not (grad and floats and len(outs) == 1 and isinstance(out, dg.Tensor) and out.requires_grad):
        return
    w = numpy.random.default_rng(0).standard_normal(out.shape).astype(out.dtype)
    ours_g = dg.autograd.grad(out, [ours_in[i] for i in floats], dg.tensor(w), allow_unused=True)
    theirs_g = torch.autograd.grad(ref, [theirs_in[i] for i in floats], torch.from_numpy(w), allow_unused=True)
    for i, g, tg in zip(floats, ours_g, theirs_g):
        zero = numpy.zeros(sample.inputs[i].shape, dtype)
        g = zero if g is None else _ours(g)
        tg = zero if tg is None else _theirs(tg)
        _close(g, tg, dtype, f"{op.__name__} {sample}: gradient of input {i} differs from torch")


@pytest.mark.parametrize("name", sorted(n for n, op in REGISTRY.items() if op.differentiable))
def test_every_differentiable_op_has_parity(name):
    """An op added without a torch= sample fails here, unless NO_TORCH says why it needs none."""
    has = any(s.torch is not None for s in REGISTRY[name].samples())
    assert has or name in NO_TORCH, (
        f"{name} has no sample with a torch= callable; add one next to its forward "
        "(or, for a dagrad-only op, an entry with the reason to NO_TORCH in tests/test_parity.py)"
    )


@pytest.mark.parametrize("name", sorted(NO_TORCH))
def test_no_torch_entries_are_current(name):
    assert name in REGISTRY, f"NO_TORCH lists {name}, which is not a registered op; remove the entry"
    has = any(s.torch is not None for s in REGISTRY[name].samples())
    assert not has, f"{name} now has a torch= sample; remove its NO_TORCH entry"
