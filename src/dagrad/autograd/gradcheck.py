"""Finite-difference checks of the analytic vjp (reverse) and jvp (forward) rules, in float64."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy

from dagrad.autograd import engine, forward_ad
from dagrad.autograd.tensor import Tensor, _make
from dagrad.errors import DtypeError, GradientError


class GradcheckError(GradientError):
    """An analytic gradient differs from the finite-difference one."""


def _as_tuple(x: Any) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _outputs(fn: Callable, inputs: Sequence[Any]) -> list[Tensor]:
    return [o for o in _as_tuple(fn(*inputs)) if isinstance(o, Tensor) and o.dtype.kind == "f"]


def _numeric(fn: Callable, inputs: list, diff: list[int], eps: float, sizes: list[int]) -> numpy.ndarray:
    """Jacobian (total output size x total input size) by central differences."""
    cols = []
    base = [_make(x.data.copy(), x.requires_grad) if isinstance(x, Tensor) else x for x in inputs]
    for i in diff:
        flat = base[i].data.reshape(-1)
        for j in range(flat.size):
            orig = flat[j]
            flat[j] = orig + eps
            plus = [o.data.astype(numpy.float64).ravel() for o in _outputs(fn, base)]
            flat[j] = orig - eps
            minus = [o.data.astype(numpy.float64).ravel() for o in _outputs(fn, base)]
            flat[j] = orig
            cols.append(
                numpy.concatenate([(p - m) / (2 * eps) for p, m in zip(plus, minus)]) if plus else numpy.zeros(0)
            )
    n_out = sum(sizes)
    return numpy.stack(cols, axis=1) if cols else numpy.zeros((n_out, 0))


def _flat64(g: Tensor | None, like: Tensor) -> numpy.ndarray:
    return numpy.zeros(like.data.size) if g is None else numpy.asarray(g.data, numpy.float64).ravel()


def _vjp_jacobian(fn: Callable, inputs: list, diff: list[int]) -> numpy.ndarray:
    outs = _outputs(fn, inputs)
    rows = []
    wrt = [inputs[i] for i in diff]
    for o in outs:
        for k in range(o.data.size):
            if not o.requires_grad:
                rows.append(numpy.zeros(sum(w.data.size for w in wrt)))
                continue
            go = numpy.zeros(o.shape, numpy.float64)
            go.flat[k] = 1.0
            gs = engine.grad([o], wrt, [_make(go.astype(o.dtype))], retain_graph=True, allow_unused=True)
            parts = [_flat64(g, w) for g, w in zip(gs, wrt)]
            rows.append(numpy.concatenate(parts))
    return numpy.stack(rows) if rows else numpy.zeros((0, sum(inputs[i].data.size for i in diff)))


def _jvp_jacobian(fn: Callable, inputs: list, diff: list[int], sizes: list[int]) -> numpy.ndarray:
    cols = []
    for i in diff:
        x = inputs[i]
        for j in range(x.data.size):
            t = numpy.zeros(x.shape, numpy.float64)
            t.flat[j] = 1.0
            with forward_ad.dual_level():
                args = list(inputs)
                args[i] = forward_ad.make_dual(x, _make(t.astype(x.dtype)))
                outs = _outputs(fn, args)
                col = [
                    numpy.zeros(o.data.size)
                    if o._tangent is None
                    else numpy.asarray(o._tangent.data, numpy.float64).ravel()
                    for o in outs
                ]
            cols.append(numpy.concatenate(col) if col else numpy.zeros(0))
    return numpy.stack(cols, axis=1) if cols else numpy.zeros((sum(sizes), 0))


def _compare(kind: str, analytic, numeric, inputs, atol: float, rtol: float, raise_exception: bool) -> bool:
    if analytic.shape == numeric.shape and numpy.allclose(analytic, numeric, rtol=rtol, atol=atol):
        return True
    if not raise_exception:
        return False
    with numpy.printoptions(precision=6, suppress=True, linewidth=120):
        shown = "\n".join(
            f"  input {i}: {numpy.asarray(x.data if isinstance(x, Tensor) else x)!r}" for i, x in enumerate(inputs)
        )
        raise GradcheckError(
            f"gradcheck: the {kind} Jacobian does not match the finite-difference one (atol={atol}, rtol={rtol}).\n"
            f"inputs:\n{shown}\nnumerical:\n{numeric}\nanalytical ({kind}):\n{analytic}"
        )


def gradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    check_forward_ad: bool = True,
    check_backward_ad: bool = True,
) -> bool:
    """Check fn's vjp (and jvp) against central differences w.r.t. every input with requires_grad=True."""
    inputs = list(_as_tuple(inputs))
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff:
        raise GradientError("gradcheck: expected at least one input tensor with requires_grad=True, received none")
    for i in diff:
        if inputs[i].dtype != numpy.float64:
            raise DtypeError(
                f"gradcheck: expected float64 inputs for finite differences, received {inputs[i].dtype} for input {i}"
            )
    sizes = [o.data.size for o in _outputs(fn, inputs)]
    numeric = _numeric(fn, inputs, diff, eps, sizes)
    ok = True
    if check_backward_ad:
        ok = (
            _compare(
                "reverse-mode (vjp)", _vjp_jacobian(fn, inputs, diff), numeric, inputs, atol, rtol, raise_exception
            )
            and ok
        )
    if check_forward_ad:
        ok = (
            _compare(
                "forward-mode (jvp)",
                _jvp_jacobian(fn, inputs, diff, sizes),
                numeric,
                inputs,
                atol,
                rtol,
                raise_exception,
            )
            and ok
        )
    return ok


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    grad_outputs: Any = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    check_forward_ad: bool = True,
) -> bool:
    """Check second derivatives: gradcheck of (inputs, v) -> vjp(fn, inputs, v) built with create_graph=True."""
    inputs = list(_as_tuple(inputs))
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    outs = _outputs(fn, inputs)
    if grad_outputs is None:
        rng = numpy.random.default_rng(0)
        grad_outputs = [_make(rng.standard_normal(o.shape).astype(o.dtype), True) for o in outs]
    grad_outputs = list(_as_tuple(grad_outputs))
    n = len(inputs)

    def first_order(*args: Any) -> tuple[Tensor, ...]:
        xs, gos = list(args[:n]), args[n:]
        ys = _outputs(fn, xs)
        keep = [k for k, y in enumerate(ys) if y.requires_grad]
        if not keep:
            return ()
        gs = engine.grad(
            [ys[k] for k in keep], [xs[i] for i in diff], [gos[k] for k in keep], create_graph=True, allow_unused=True
        )
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_order, inputs + grad_outputs, eps, atol, rtol, raise_exception, check_forward_ad)
