"""dagrad.viz.graph: DOT text with one node per op and leaf, byte counts, parameter names, per-edge gradient
norms checked against hand-derived gradients, and writing DOT / SVG through Graphviz's dot (real or faked)."""

import os
import re
import shutil

import numpy as np
import pytest

import dagrad as dg
from dagrad.errors import ArgumentError, OptionalDependencyError
from dagrad.nn.activation import ReLU
from dagrad.nn.containers import Sequential
from dagrad.nn.linear import Linear
from dagrad.viz import graph

NODE = re.compile(r"^\s+(\w+) \[label=\"(.*?)\"(.*)\];$", re.M)
EDGE = re.compile(r"^\s+(\w+) -> (\w+)(?: \[label=\"(.*?)\"\])?;$", re.M)


def parse(dot):
    """({node id: (label lines, attributes)}, [(src, dst, label or None)])."""
    nodes = {m[1]: (m[2].split("\\n"), m[3]) for m in NODE.finditer(dot)}
    return nodes, [(m[1], m[2], m[3]) for m in EDGE.finditer(dot)]


def by_label(nodes, first_line, second_line=None):
    hits = [k for k, (lab, _) in nodes.items() if lab[0] == first_line and second_line in (None, *lab[1:2])]
    assert len(hits) == 1, (first_line, second_line, nodes)
    return hits[0]


def mlp_loss():
    model = Sequential(Linear(3, 4), ReLU(), Linear(4, 2))
    x = dg.randn(5, 3)
    return model, x, (model(x) ** 2).mean()


def test_mlp_graph_names_every_op_and_parameter_and_the_bytes_a_linear_saves():
    model, x, loss = mlp_loss()
    dot = graph(loss, params=model)
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    nodes, edges = parse(dot)
    for op in ("Linear", "ReLU", "Pow", "Mean"):
        assert any(lab[0] == op for lab, _ in nodes.values()), op
    for name, p in model.named_parameters():
        key = by_label(nodes, name)
        assert nodes[key][0][1] == str(tuple(p.shape)) and "lightblue" in nodes[key][1]
    first = by_label(nodes, "Linear", "(5, 4)")  # saves its input x and its weight (the bias is not needed)
    held = x.data.nbytes + model[0].weight.data.nbytes
    assert f"holds {held} bytes" in nodes[first][1]
    relu = by_label(nodes, "ReLU")  # keeps its (5, 4) float32 output
    assert f"holds {5 * 4 * 4} bytes" in nodes[relu][1]
    assert (first, relu, None) in edges
    assert ("output" in nodes) and (by_label(nodes, "Mean"), "output", None) in edges


def test_branching_expression_has_one_node_per_op_and_leaf_and_one_edge_per_input():
    a = dg.randn(3, requires_grad=True)
    b = dg.randn(3, requires_grad=True)
    y = (a * b + a.exp()) * b + a * a
    nodes, edges = parse(graph(y, params={"a": a, "b": b}))
    # ops: a*b, exp(a), +, *b, a*a, +; leaves a, b; the output box
    assert len(nodes) == 6 + 2 + 1
    assert len(edges) == (2 + 1 + 2 + 2 + 2 + 2) + 1
    leaf_a, leaf_b = by_label(nodes, "a"), by_label(nodes, "b")
    assert sum(s == leaf_a for s, _, _ in edges) == 4  # a*b, exp(a), and twice into a*a
    assert sum(s == leaf_b for s, _, _ in edges) == 2
    squares = [d for s, d, _ in edges if s == leaf_a and edges.count((s, d, None)) == 2]
    assert len(set(squares)) == 1 and nodes[squares[0]][0][0] == "Mul"


def test_show_grads_labels_each_edge_with_the_norm_of_the_gradient_along_it():
    a = dg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    b = dg.tensor([1.5, 2.0, -0.5], requires_grad=True)
    loss = (a * b).sum() + a.exp().sum()
    loss.backward(retain_graph=True)
    nodes, edges = parse(graph(loss, params={"a": a, "b": b}, show_grads=True))
    leaf_a, leaf_b = by_label(nodes, "a"), by_label(nodes, "b")
    mul, exp = by_label(nodes, "Mul"), by_label(nodes, "Exp")
    label = {(s, d): lab for s, d, lab in edges}
    an, bn = np.array([0.5, -1.0, 2.0]), np.array([1.5, 2.0, -0.5])
    assert float(label[(leaf_a, mul)]) == pytest.approx(np.linalg.norm(bn), rel=2e-3)  # d(a.b)/da = b
    assert float(label[(leaf_b, mul)]) == pytest.approx(np.linalg.norm(an), rel=2e-3)
    assert float(label[(leaf_a, exp)]) == pytest.approx(np.linalg.norm(np.exp(an)), rel=2e-3)
    assert float(nodes[leaf_a][0][2].split()[-1]) == pytest.approx(np.linalg.norm(bn + np.exp(an)), rel=2e-3)
    assert a.grad.data == pytest.approx(bn + np.exp(an))  # the walk accumulated nothing into .grad


def test_show_grads_on_an_interior_edge_matches_autograd_grad():
    x = dg.randn(4, 3, requires_grad=True)
    h = (x * 2.0).tanh()
    loss = (h**3).sum()
    (gh,) = dg.autograd.grad(loss, h, retain_graph=True)
    nodes, edges = parse(graph(loss, show_grads=True))
    tanh, cube = by_label(nodes, "Tanh"), by_label(nodes, "Pow")
    (lab,) = [lab for s, d, lab in edges if (s, d) == (tanh, cube)]
    assert float(lab) == pytest.approx(np.linalg.norm(gh.data), rel=2e-3)


def test_show_grads_after_the_graph_was_freed_shows_leaf_grads_and_says_why_edges_are_bare():
    model, _, loss = mlp_loss()
    loss.backward()
    dot = graph(loss, params=model, show_grads=True)
    nodes, edges = parse(dot)
    assert all(lab is None for *_, lab in edges)
    assert "retain_graph=True" in dot
    w = model[0].weight
    assert float(nodes[by_label(nodes, "0.weight")][0][2].split()[-1]) == pytest.approx(
        np.linalg.norm(w.grad.data), rel=2e-3
    )


def test_source_lines_appear_under_detect_anomaly():
    a = dg.randn(2, requires_grad=True)
    with dg.autograd.detect_anomaly():
        y = a.sin()
    assert "test_graph.py:" in graph(y)


def test_path_writes_the_dot_text(tmp_path):
    y = dg.randn(2, requires_grad=True).exp()
    dot = graph(y, path=tmp_path / "g.dot")
    assert (tmp_path / "g.dot").read_text() == dot


def test_svg_without_the_dot_program_raises_a_clear_error_after_writing_the_dot(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    y = dg.randn(2, requires_grad=True).exp()
    with pytest.raises(OptionalDependencyError, match=r"graph: expected the Graphviz 'dot' program.*g\.dot"):
        graph(y, path=tmp_path / "g.svg", format="svg")
    assert (tmp_path / "g.dot").read_text().startswith("digraph")
    assert not (tmp_path / "g.svg").exists()


def test_svg_runs_the_dot_program_found_on_path(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "dot"  # records its arguments and copies its input: what dagrad asked for, not Graphviz
    fake.write_text('#!/bin/sh\necho "$@" > "$3.args"\ncp "$4" "$3"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    y = dg.randn(2, requires_grad=True).exp()
    dot = graph(y, path=tmp_path / "g.png", format="png")
    assert (tmp_path / "g.png").read_text() == dot
    assert (tmp_path / "g.png.args").read_text().split() == ["-Tpng", "-o", str(tmp_path / "g.png"),
                                                              str(tmp_path / "g.dot")]  # fmt: skip


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")
def test_real_graphviz_renders_svg(tmp_path):
    _, _, loss = mlp_loss()
    graph(loss, path=tmp_path / "g.svg", format="svg")
    assert "<svg" in (tmp_path / "g.svg").read_text()


def test_bad_arguments_name_the_function():
    with pytest.raises(ArgumentError, match="graph: expected a dagrad Tensor"):
        graph(np.ones(3))
    with pytest.raises(ArgumentError, match="graph: expected a tensor that requires grad"):
        graph(dg.ones(3) * 2)
    y = dg.randn(2, requires_grad=True).exp()
    with pytest.raises(ArgumentError, match="format"):
        graph(y, format="pdf")
    with pytest.raises(ArgumentError, match="params"):
        graph(y, params=[1, 2])


def test_a_leaf_alone_is_a_box_and_the_output():
    w = dg.randn(2, 2, requires_grad=True)
    nodes, edges = parse(graph(w, params={"w": w}))
    assert set(nodes) == {"leaf0", "output"} and edges == [("leaf0", "output", None)]
