"""dagrad.autograd.memory.memory_report: bytes per node computed from the arrays the ops save, each buffer
counted once, rows summing to the total, the table's order, source lines, and the drop to 0 after backward."""

import numpy as np
import pytest

import dagrad as dg
from dagrad.autograd.memory import MemoryReport, memory_report
from dagrad.errors import ArgumentError
from dagrad.nn.activation import ReLU
from dagrad.nn.containers import Sequential
from dagrad.nn.linear import Linear


def mlp_loss(batch=8):
    model = Sequential(Linear(6, 5), ReLU(), Linear(5, 3))
    x = dg.randn(batch, 6)
    return model, x, (model(x) ** 2).mean()


def test_rows_follow_forward_order_and_total_is_their_sum():
    model, x, loss = mlp_loss()
    rep = memory_report(loss)
    assert isinstance(rep, MemoryReport) and len(rep) == 5
    assert [r["op"] for r in rep.rows] == ["Linear", "ReLU", "Linear", "Pow", "Mean"]
    assert rep.total_bytes == sum(r["bytes"] for r in rep.rows)
    assert [r["shape"] for r in rep.rows] == [(8, 5), (8, 5), (8, 3), (8, 3), ()]


def test_bytes_are_those_of_the_saved_arrays_and_shared_buffers_count_once():
    model, x, loss = mlp_loss()
    lin1, relu, lin2, pow_, _ = memory_report(loss).rows
    assert lin1["bytes"] == x.data.nbytes + model[0].weight.data.nbytes
    assert relu["bytes"] == 8 * 5 * 4  # its float32 output, kept for backward
    # the second Linear saves that same output (charged to the ReLU) and its own weight
    assert lin2["bytes"] == model[2].weight.data.nbytes and lin2["shared_bytes"] == relu["bytes"]
    assert pow_["bytes"] == 2 * 8 * 3 * 4  # Pow retains its base and keeps its output (retain, keep_output)


def test_an_array_saved_twice_or_through_a_view_counts_once():
    x = dg.randn(4, 6, requires_grad=True)
    (row,) = memory_report(x * x).rows  # Mul saves (x, x)
    assert row["bytes"] == x.data.nbytes and row["shared_bytes"] == 0
    v = x.reshape(6, 4)  # a view of x's buffer
    rep = memory_report(v * x.reshape(6, 4).exp())
    assert rep.total_bytes == x.data.nbytes + 6 * 4 * 4  # x's buffer once, exp's kept output


def test_total_drops_to_zero_once_backward_frees_the_graph():
    _, _, loss = mlp_loss()
    assert memory_report(loss).total_bytes > 0
    loss.backward()
    rep = memory_report(loss)
    assert rep.total_bytes == 0 and len(rep) == 5


def test_retain_graph_keeps_the_memory():
    _, _, loss = mlp_loss()
    before = memory_report(loss).total_bytes
    loss.backward(retain_graph=True)
    assert memory_report(loss).total_bytes == before


def test_str_is_a_table_sorted_by_bytes_with_the_total():
    _, _, loss = mlp_loss(batch=64)
    rep = memory_report(loss)
    lines = str(rep).splitlines()
    assert lines[0].split()[:3] == ["op", "output", "shape"]
    body = lines[2:-2]
    largest = max(rep.rows, key=lambda r: r["bytes"])
    assert body[0].startswith(largest["op"]) and str(largest["shape"]) in body[0]
    assert len(body) == len(rep.rows)
    assert f"({rep.total_bytes} bytes)" in lines[-1]


def test_source_lines_are_recorded_under_detect_anomaly():
    a = dg.randn(3, requires_grad=True)
    with dg.autograd.detect_anomaly():
        y = a.exp()
    z = y.sum()
    rows = memory_report(z).rows
    assert rows[0]["site"].endswith(f"test_memory_report.py:{_line_of('y = a.exp()')}")
    assert rows[1]["site"] is None
    assert "test_memory_report.py" in str(memory_report(z))


def _line_of(text):
    with open(__file__) as f:
        return next(i for i, line in enumerate(f, 1) if line.strip() == text)


def test_tensor_without_graph_gives_an_empty_report_and_non_tensors_an_error():
    rep = memory_report(dg.ones(3))
    assert rep.rows == [] and rep.total_bytes == 0
    with pytest.raises(ArgumentError, match="memory_report: expected a dagrad Tensor, received ndarray"):
        memory_report(np.ones(3))
