"""graph: the computation graph behind a tensor as Graphviz DOT text (written by hand: no graphviz package).

Ops are grey ellipses (op name, output shape, the memory it holds for backward, the user's source line when
recorded under detect_anomaly), leaf tensors are boxes with their shapes (parameters light blue, with their
names), the result is a green box; edges run from inputs to the ops that consume them, as data flows forward.

With show_grads=True each edge is labelled with the norm of the gradient that flows back along it. Those are
computed here by walking the graph once more with the ops' own backward rules (no_grad, nothing accumulated into
any .grad, tensor hooks not run), seeded with ones (the gradient of tensor.sum()); that needs the saved arrays,
so a graph already freed by backward() gets no edge labels, only each leaf's accumulated .grad norm in its box,
and a note saying to call backward(retain_graph=True) first.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagrad.autograd.engine import _check_saved
from dagrad.autograd.function import Function
from dagrad.autograd.grad_mode import no_grad, state
from dagrad.autograd.memory import format_bytes, graph_nodes, node_buffers
from dagrad.autograd.tensor import Tensor, _make
from dagrad.backend import namespace
from dagrad.errors import ArgumentError, DagradError, OptionalDependencyError

__all__ = ["graph"]

_FORMATS = ("dot", "svg", "png")
_FILL = {"op": "lightgrey", "param": "lightblue", "leaf": "white", "output": "darkolivegreen1"}


def _q(s: str) -> str:
    """A DOT string literal ('\\n' in s becomes a line break of the label)."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _shape(shape: tuple) -> str:
    return str(tuple(shape))


def _norm(a: Any) -> float:
    flat = a.reshape(-1)
    return math.sqrt(float(abs((flat.conj() * flat).sum())))


def _param_names(params: Any) -> dict[int, str]:
    """{id(parameter): name} from a Module (named_parameters) or a dict name -> Tensor."""
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        params = dict(params.named_parameters())
    if not isinstance(params, Mapping) or not all(isinstance(p, Tensor) for p in params.values()):
        raise ArgumentError(
            f"graph: expected params to be a Module or a dict name -> Tensor, received {type(params).__name__}"
        )
    return {id(p): str(name) for name, p in params.items()}


def _freed(nodes: list[Function]) -> bool:
    """Whether backward has released what the nodes saved (so their rules cannot run again)."""
    return any(n.saved is None or (type(n).keep_output and n.out is None) for n in nodes)


def _edge_grad_norms(tensor: Tensor, nodes: list[Function]) -> dict[tuple[int, int], float]:
    """{(id of consumer node, input position): norm of the gradient flowing along that edge}, from one walk
    of the nodes' backward rules in reverse (nodes are in forward order), seeded with ones."""
    pending: dict[Function, Tensor] = {tensor.grad_fn: _make(namespace(tensor.data).ones_like(tensor.data))}
    norms = {}
    with no_grad():
        for node in reversed(nodes):
            g = pending.pop(node, None)
            if g is None:
                continue
            if node.epoch != state.epoch:
                _check_saved(node)  # a saved tensor changed in place since: raise as backward() would
            grads = node.backward(g)
            for pos, (p, gi) in enumerate(zip(node.parents, grads if type(grads) is tuple else (grads,))):
                if p is None or gi is None:
                    continue
                if gi.shape != p.shape:
                    gi = gi.sum_to_size(p.shape)
                norms[(id(node), pos)] = _norm(gi.data)
                if not isinstance(p, Tensor):
                    prev = pending.get(p)
                    pending[p] = gi if prev is None else prev + gi
    return norms


def _op_label(node: Function) -> tuple[str, str]:
    """(label, tooltip) of an op node."""
    held = sum(node_buffers(node).values())
    site = getattr(node, "site", None)
    label = f"{node.name()}\n{_shape(node.shape)}\nsaves {format_bytes(held)}"
    if site:
        label += "\n" + os.path.basename(site)
    tooltip = f"{node.name()}: output {_shape(node.shape)}; holds {held} bytes for backward"
    return label, tooltip + (f"; called at {site}" if site else "")


def _dot(tensor: Tensor, names: dict[int, str], show_grads: bool) -> str:
    nodes = graph_nodes(tensor)
    freed = _freed(nodes)
    edge_norms = _edge_grad_norms(tensor, nodes) if show_grads and nodes and not freed else {}
    lines = [
        "digraph dagrad {",
        '  graph [rankdir=TB, fontname="Helvetica", fontsize=10];',
        '  node [fontname="Helvetica", fontsize=10, style=filled];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    ids: dict[int, str] = {}
    leaves: dict[int, str] = {}

    def leaf_id(t: Tensor) -> str:
        key = id(t)
        if key not in leaves:
            leaves[key] = f"leaf{len(leaves)}"
            name = names.get(key)
            label = _shape(t.shape) if name is None else f"{name}\n{_shape(t.shape)}"
            if show_grads and t.grad is not None:
                label += f"\ngrad norm {_norm(t.grad.data):.3g}"
            fill = _FILL["leaf" if name is None else "param"]
            lines.append(f"  {leaves[key]} [label={_q(label)}, shape=box, fillcolor={fill}];")
        return leaves[key]

    for i, node in enumerate(nodes):
        ids[id(node)] = f"op{i}"
        label, tooltip = _op_label(node)
        lines.append(f"  op{i} [label={_q(label)}, tooltip={_q(tooltip)}, shape=ellipse, fillcolor={_FILL['op']}];")
    for node in nodes:
        for pos, p in enumerate(node.parents):
            if p is None:
                continue
            src = leaf_id(p) if isinstance(p, Tensor) else ids[id(p)]
            norm = edge_norms.get((id(node), pos))
            attrs = "" if norm is None else f" [label={_q(f'{norm:.3g}')}]"
            lines.append(f"  {src} -> {ids[id(node)]}{attrs};")
    root = ids[id(tensor.grad_fn)] if tensor.grad_fn is not None else leaf_id(tensor)
    lines.append(f"  output [label={_q('output' + chr(10) + _shape(tensor.shape))}, shape=box, "
                 f"fillcolor={_FILL['output']}];")  # fmt: skip
    lines.append(f"  {root} -> output;")
    if show_grads and freed:
        note = "edge gradients not shown: backward freed the graph; call backward(retain_graph=True) first"
        lines.append(f"  graph [label={_q(note)}, labelloc=b];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _render(text: str, path: Path, format: str) -> None:
    """Write the DOT text (to path, or next to the picture as .dot) and the picture with Graphviz's dot."""
    dot_path = path if format == "dot" else path.with_suffix(".dot")
    dot_path.write_text(text)
    if format == "dot":
        return
    exe = shutil.which("dot")
    if exe is None:
        raise OptionalDependencyError(
            f"graph: expected the Graphviz 'dot' program on PATH to write format={format!r} (apt-get install "
            f"graphviz, brew install graphviz, conda install graphviz), received none; the DOT text was written "
            f"to {dot_path}"
        )
    done = subprocess.run([exe, f"-T{format}", "-o", str(path), str(dot_path)], capture_output=True, text=True)
    if done.returncode != 0:
        raise DagradError(f"graph: expected '{exe} -T{format}' to succeed, received exit status "
                          f"{done.returncode}: {done.stderr.strip()}")  # fmt: skip


def graph(
    tensor: Tensor, params: Any = None, show_grads: bool = False, path: str | os.PathLike | None = None,
    format: str = "dot",
) -> str:  # fmt: skip
    """The computation graph behind `tensor` as Graphviz DOT text (see the module's docstring for its look).

    params: a Module or a dict name -> Parameter (as torchviz's make_dot): those leaves are named and coloured.
    show_grads: label each edge with the norm of the gradient flowing along it (needs the graph unfreed: before
    backward, or after backward(retain_graph=True)) and each leaf with its .grad norm.
    path, format: write the DOT text to path ('dot'), or the picture to path and the DOT text beside it with
    suffix .dot ('svg', 'png'; needs Graphviz's `dot` program). Returns the DOT text.
    """
    if not isinstance(tensor, Tensor):
        raise ArgumentError(f"graph: expected a dagrad Tensor, received {type(tensor).__name__}")
    if not tensor.requires_grad:
        raise ArgumentError(
            "graph: expected a tensor that requires grad (the result of ops on tensors with requires_grad=True), "
            "received one that does not, so it has no graph"
        )
    if format not in _FORMATS:
        raise ArgumentError(f"graph: expected format to be one of {_FORMATS}, received format={format!r}")
    text = _dot(tensor, _param_names(params), show_grads)
    if path is not None:
        _render(text, Path(path), format)
    return text
