"""Forward-mode AD (dual numbers): tensors carry a tangent that each op's jvp rule pushes forward."""

from __future__ import annotations

from dagrad.autograd.function import Function, Sample
from dagrad.autograd.grad_mode import state
from dagrad.autograd.tensor import Tensor
from dagrad.errors import GradientError, ShapeError


class Alias(Function):
    """Identity that shares memory: a new tensor object on the same graph (for attaching tangents)."""

    __slots__ = ()
    is_view = True

    def forward(self, x):
        return x.view()

    def backward(self, g):
        return g

    def jvp(self, inputs, out, t):
        return t[0]

    @staticmethod
    def samples():
        from dagrad.ops.sampling import arr

        yield Sample(arr(3, 2), torch=lambda T, x: x.view_as(x))


class dual_level:
    """Context in which make_dual tangents propagate through ops (as torch.autograd.forward_ad.dual_level)."""

    def __enter__(self) -> int:
        if state.fw:
            raise GradientError(
                "dual_level: nested forward-mode levels are not supported; compose jvp with grad/vjp instead"
            )
        state.fw = 1
        return 1

    def __exit__(self, *exc: object) -> None:
        state.fw = 0


def make_dual(primal: Tensor, tangent: Tensor) -> Tensor:
    """A tensor equal to primal, carrying `tangent` (same shape) for forward-mode AD."""
    if not state.fw:
        raise GradientError("make_dual: call it inside `with dagrad.autograd.forward_ad.dual_level():`")
    if tangent.shape != primal.shape:
        raise ShapeError(f"make_dual: expected a tangent of shape {primal.shape}, received {tangent.shape}")
    level, state.fw = state.fw, 0
    try:
        out = Alias.apply(primal)
    finally:
        state.fw = level
    out._tangent = tangent
    return out


def unpack_dual(t: Tensor) -> tuple[Tensor, Tensor | None]:
    """(primal, tangent) of a dual tensor; tangent is None when none was propagated."""
    return t, t._tangent
