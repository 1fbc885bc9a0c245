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


def make_inputs(sample, requires_grad: bool = True):
    return [
        dg.tensor(a, dtype=dg.float64, requires_grad=requires_grad) if getattr(a, "dtype", None) is not None and a.dtype.kind == "f" else
        (dg.tensor(a) if hasattr(a, "dtype") else a)
        for a in sample.inputs
    ]  # fmt: skip


def runner(op, sample):
    call = sample.call or op.apply
    return lambda *xs: call(*xs, **sample.kwargs)
