"""The op registry as pytest parameters: one case per (op, sample)."""

from __future__ import annotations

import pytest

import dagrad as dg
from dagrad.autograd import REGISTRY


def cases(pred=lambda op, s: True):
    out = []
    for name in sorted(REGISTRY):
        for k, s in enumerate(REGISTRY[name].samples()):
            if pred(REGISTRY[name], s):
                out.append(pytest.param(REGISTRY[name], s, id=f"{name}-{k}{'-' + s.name if s.name else ''}"))
    return out


def _as_input(a, requires_grad: bool):
    """Float arrays become float64 leaves (requiring grad), other arrays plain tensors, the rest stays."""
    if not hasattr(a, "dtype"):
        return a
    if a.dtype.kind == "f":
        return dg.tensor(a, dtype=dg.float64, requires_grad=requires_grad)
    return dg.tensor(a)


def make_inputs(sample, requires_grad: bool = True):
    return [_as_input(a, requires_grad) for a in sample.inputs]


def runner(op, sample):
    call = sample.call or op.apply
    return lambda *xs: call(*xs, **sample.kwargs)
