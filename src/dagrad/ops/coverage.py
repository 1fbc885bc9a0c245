"""The op coverage table: which registered ops have a vjp, a jvp, second-order checks and PyTorch parity.

Everything is derived from the registry and the ops' samples, so the table cannot claim what the tests
do not run. Regenerate the docs with `python -m dagrad.ops.coverage > docs/ops.md`.
"""

from __future__ import annotations

from typing import NamedTuple

import dagrad.ops  # noqa: F401  (importing the package registers every op)
from dagrad.autograd.function import REGISTRY, Function

COMMAND = "python -m dagrad.ops.coverage > docs/ops.md"
_COLUMNS = ("op", "module", "vjp", "jvp", "second order", "PyTorch parity")


class Row(NamedTuple):
    """One registered op: its name, its module under dagrad.ops, and which checks it gets."""

    op: str
    module: str
    vjp: bool
    jvp: bool
    second_order: bool
    parity: bool


def _defines(cls: type[Function], method: str) -> bool:
    return getattr(cls, method) is not getattr(Function, method)


def coverage_rows() -> list[Row]:
    """One Row per registered op, sorted by module then op name.

    vjp: the op is differentiable and defines backward; jvp: it defines jvp; second order: it is
    differentiable and some sample has grad2=True; parity: some sample has a `torch=` callable.
    """
    rows = []
    for name, cls in REGISTRY.items():
        samples = list(cls.samples())
        rows.append(
            Row(
                op=name,
                module=cls.__module__.removeprefix("dagrad.").removeprefix("ops."),
                vjp=cls.differentiable and _defines(cls, "backward"),
                jvp=cls.differentiable and _defines(cls, "jvp"),
                second_order=cls.differentiable and any(s.grad2 for s in samples),
                parity=any(s.torch is not None for s in samples),
            )
        )
    return sorted(rows, key=lambda r: (r.module, r.op))


def markdown() -> str:
    """The coverage table as a Markdown document (the content of docs/ops.md)."""
    rows = coverage_rows()
    mark = {True: "✓", False: "—"}
    lines = [
        "# Op coverage",
        "",
        f"Generated from the op registry by `{COMMAND}`; do not edit by hand.",
        "",
        "- **vjp**: reverse mode (backward), checked against finite differences in float64.",
        "- **jvp**: forward mode, checked against finite differences in float64.",
        "- **second order**: double backward (`gradgradcheck`) runs on at least one sample.",
        "- **PyTorch parity**: forward values and gradients match PyTorch in float64 and float32.",
        "",
        "| " + " | ".join(_COLUMNS) + " |",
        "|" + "|".join(":---" if i < 2 else ":---:" for i in range(len(_COLUMNS))) + "|",
    ]
    for r in rows:
        cells = [f"`{r.op}`", r.module] + [mark[v] for v in (r.vjp, r.jvp, r.second_order, r.parity)]
        lines.append("| " + " | ".join(cells) + " |")
    totals = [sum(getattr(r, f) for r in rows) for f in ("vjp", "jvp", "second_order", "parity")]
    lines += ["", f"{len(rows)} ops: " + ", ".join(f"{n} {c}" for n, c in zip(totals, _COLUMNS[2:])) + "."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
