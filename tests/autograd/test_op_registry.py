"""Every registered op: float64 gradcheck (vjp and jvp) and gradgradcheck on each of its samples."""

import pytest

from dagrad.autograd import REGISTRY, gradcheck, gradgradcheck
from tests.op_cases import cases, make_inputs, runner


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_op_has_samples(name):
    op = REGISTRY[name]
    assert list(op.samples()), f"{name} is registered without samples; add samples() next to its forward"


@pytest.mark.parametrize("op,sample", cases(lambda op, s: op.differentiable))
def test_gradcheck(op, sample):
    assert gradcheck(runner(op, sample), make_inputs(sample))


@pytest.mark.parametrize("op,sample", cases(lambda op, s: op.differentiable and s.grad2))
def test_gradgradcheck(op, sample):
    assert gradgradcheck(runner(op, sample), make_inputs(sample))
