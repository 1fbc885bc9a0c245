"""memory_report: what the computation graph behind a tensor keeps alive for backward, node by node.

Each op node holds arrays until backward frees them: the inputs it retains (`saved`), arrays its forward stashed
(`cache`, and any array in the op's own slots, e.g. max-pooling's argmax indices), and its output when the rule
needs y = f(x) (`out`). An array is counted by the buffer it lives in (views of one buffer count once), and each
buffer is charged to the first node in forward order that holds it, so the rows' bytes add up to the total: a
ReLU's kept output that the next Linear also saves is charged to the ReLU, and shows on the Linear's row as
`shared_bytes`. Parameters a node saves (a Linear's weight) are counted: the graph references them.

The source line of each op is known when the graph was recorded under `dagrad.autograd.detect_anomaly()`
(`detect_anomaly(check_nan=False)` records the lines without the NaN checks: about 2 us more per op).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dagrad.autograd.engine import _topo_order
from dagrad.autograd.function import Function
from dagrad.autograd.tensor import Tensor
from dagrad.backend import ndarray_types
from dagrad.errors import ArgumentError

__all__ = ["MemoryReport", "format_bytes", "graph_nodes", "memory_report", "node_buffers"]

_BASE_SLOTS = frozenset(Function.__slots__)


def graph_nodes(tensor: Tensor) -> list[Function]:
    """The op nodes behind `tensor`, producers before their consumers (the order forward ran them in)."""
    if not isinstance(tensor, Tensor):
        raise ArgumentError(f"graph_nodes: expected a dagrad Tensor, received {type(tensor).__name__}")
    if tensor.grad_fn is None:
        return []
    return _topo_order([tensor.grad_fn])[::-1]


def _arrays(obj: Any) -> Iterator[Any]:
    """Every array inside obj: a Tensor's data, an array, or arrays nested in tuples, lists and dicts."""
    stack = [obj]
    while stack:
        x = stack.pop()
        if isinstance(x, Tensor):
            yield x.data
        elif isinstance(x, ndarray_types):
            yield x
        elif isinstance(x, (tuple, list)):
            stack.extend(x)
        elif isinstance(x, dict):
            stack.extend(x.values())


def _buffer(a: Any) -> Any:
    """The array that owns a's memory (the end of its chain of .base views that are arrays)."""
    owner = a
    base = a.base
    while base is not None:
        if isinstance(base, ndarray_types):
            owner = base
        base = getattr(base, "base", None)
    return owner


def node_buffers(node: Function) -> dict[int, int]:
    """{id of buffer: bytes} of every distinct buffer `node` holds for its backward."""
    held = [getattr(node, "saved", None), getattr(node, "cache", None), getattr(node, "out", None)]
    for cls in type(node).__mro__:
        held.extend(getattr(node, s, None) for s in getattr(cls, "__slots__", ()) if s not in _BASE_SLOTS)
    buffers = {}
    for a in _arrays(held):
        owner = _buffer(a)
        buffers[id(owner)] = int(owner.nbytes)
    return buffers


def format_bytes(n: float) -> str:
    """'512 B', '3.1 KiB', '12.0 MiB', ...: a byte count for people."""
    if n < 1024:
        return f"{n:.0f} B"
    for unit in ("KiB", "MiB", "GiB"):
        n /= 1024
        if n < 1024 or unit == "GiB":
            break
    return f"{n:.1f} {unit}"


class MemoryReport:
    """Per-node memory held for backward; `rows` is a list of dicts in forward order with keys
    'op', 'bytes' (charged to this node), 'shared_bytes' (held here, charged to an earlier node),
    'shape' (the op's output shape) and 'site' (the user's 'file:line', or None when not recorded).
    `total_bytes` is the sum of the rows' 'bytes': every buffer counted once."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.total_bytes = sum(r["bytes"] for r in rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return f"MemoryReport(nodes={len(self.rows)}, total_bytes={self.total_bytes})"

    def __str__(self) -> str:
        """A table sorted by bytes (largest first), then the total."""
        head = ("op", "output shape", "bytes", "shared", "source")
        body = [
            (r["op"], str(r["shape"]), format_bytes(r["bytes"]), format_bytes(r["shared_bytes"]), r["site"] or "-")
            for r in sorted(self.rows, key=lambda r: (-r["bytes"], -r["shared_bytes"]))
        ]
        widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
        right = (False, False, True, True, False)

        def line(row: tuple) -> str:
            cells = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right)]
            return "  ".join(cells).rstrip()

        rule = "-" * len(line(tuple("-" * w for w in widths)))
        total = f"total: {format_bytes(self.total_bytes)} ({self.total_bytes} bytes) in {len(self.rows)} nodes"
        return "\n".join([line(head), rule, *map(line, body), rule, total])


def memory_report(tensor: Tensor) -> MemoryReport:
    """What the graph behind `tensor` keeps alive for backward, per op node (see the module's docstring).

    After a backward without retain_graph the nodes have released their saved arrays and the total drops to
    what the ops still hold outside saved/cache/out (usually nothing).
    """
    if not isinstance(tensor, Tensor):
        raise ArgumentError(f"memory_report: expected a dagrad Tensor, received {type(tensor).__name__}")
    seen: set[int] = set()
    rows = []
    for node in graph_nodes(tensor):
        own = shared = 0
        for key, n in node_buffers(node).items():
            if key in seen:
                shared += n
            else:
                seen.add(key)
                own += n
        shape, site = tuple(getattr(node, "shape", ())), getattr(node, "site", None)
        rows.append({"op": node.name(), "bytes": own, "shared_bytes": shared, "shape": shape, "site": site})
    return MemoryReport(rows)
