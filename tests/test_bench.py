"""The benchmark suite (`dagrad bench`) at --quick sizes: every workload runs once, for correctness only (no timing
is asserted): the table has every row, its numbers are finite, the JSON file reads back the same, dagrad and PyTorch
agree on the first-step losses, and without PyTorch its columns say n/a.

The suite runs once per test (not in a module fixture, which pytest-xdist would run once per worker), with
DAGRAD_NUMBA=0 in the environment of its worker and probe processes: compiling numba's kernels in a fresh process
can take seconds, and these tests check the suite, not the kernels."""

import math
import sys

import pytest

from dagrad.bench import WORKLOADS, read_json, write_json
from dagrad.bench.nets import load_arrays, state_arrays
from dagrad.bench.runner import run, select
from dagrad.cli import main
from dagrad.errors import ArgumentError, ShapeError

TIMES = ("dagrad", "torch", "ratio", "gflops", "pct_ceiling")
MEMORY = ("mem_dagrad_mb", "mem_torch_mb", "mem_ratio", "traced_dagrad_mb")


@pytest.fixture(autouse=True)
def _no_numba(monkeypatch):
    monkeypatch.setenv("DAGRAD_NUMBA", "0")


def _cell(lines: list[str], column: str, row: int) -> str:
    """The text of a right-aligned column's cell in the printed table (lines[0] is the header)."""
    end = lines[0].index(column) + len(column)
    start = lines[0].rfind(" ", 0, lines[0].index(column)) + 1
    return lines[row][start:end].strip()


def _check_times(rows: list[dict]) -> None:
    """Every row timed in both frameworks; FLOP rates where FLOPs are counted; a spread where blocks are timed."""
    counted = {w.key for w in WORKLOADS if w.kind in ("step", "epoch")}
    for row in rows:
        for key in TIMES:
            value = row[key]
            if key in ("gflops", "pct_ceiling") and row["key"] not in counted:
                assert value is None, (row["key"], key)
            else:
                assert value is not None and math.isfinite(value) and value > 0, (row["key"], key, value)
        blocks = row["key"] not in ("first-step", "epoch")
        assert (row["spread"] >= 1.0) if blocks else (row["spread"] is None), row


def _check_memory(rows: list[dict]) -> None:
    """Peak memory of both frameworks for every step workload, and nothing for the others."""
    for row in rows:
        measured = [row[k] for k in MEMORY if row[k] is not None]
        if row["unit"] == "ms" and row["key"] != "first-step":
            assert row["mem_dagrad_mb"] is not None and row["mem_torch_mb"] is not None, row["key"]
            assert row["traced_dagrad_mb"] > 0, row["key"]
            assert all(math.isfinite(v) and v >= 0 for v in measured), row
        else:
            assert measured == [], row["key"]


def _check_losses(report: dict) -> None:
    """The first-step losses of the two frameworks agree wherever there is one to compare."""
    checked = [r for r in report["rows"] if r["same_loss"] is not None]
    assert {r["key"] for r in checked} == {w.key for w in WORKLOADS if w.kind != "per-op" and w.key != "first-step"}
    for row in checked:
        assert row["same_loss"], row
        assert row["loss_dagrad"] == pytest.approx(row["loss_torch"], rel=1e-3)
    assert not any(n.startswith("!!") for n in report["notes"])


def _check_goals(rows: list[dict]) -> None:
    by_key = {r["key"]: r for r in rows}
    lenet, dense = by_key["lenet5"], by_key["dense"]
    assert lenet["goal"] == "<=0.80, mem<=1.3" and dense["goal"] == ">=80% ceil, mem<=1.3"
    assert lenet["met"] == (lenet["ratio"] <= 0.8 and lenet["mem_ratio"] <= 1.3)
    assert dense["met"] == (dense["pct_ceiling"] >= 80 and dense["mem_ratio"] <= 1.3)
    assert by_key["first-step"]["met"] is None


def test_quick_suite_against_torch(tmp_path):
    pytest.importorskip("torch")
    report = run(quick=True, threads=1, epoch=True)
    assert [r["key"] for r in report["rows"]] == [w.key for w in WORKLOADS]
    assert report["meta"]["sgemm_gflops"] > 0 and report["meta"]["torch"].startswith("2.")
    _check_times(report["rows"])
    _check_memory(report["rows"])
    _check_losses(report)
    _check_goals(report["rows"])
    write_json(report, tmp_path / "bench.json")
    assert read_json(tmp_path / "bench.json") == report


def test_without_torch_its_columns_say_na(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    path = tmp_path / "out.json"
    assert main(["bench", "--quick", "--threads", "1", "--only", "mlp,chain,dense", "--json", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    for i in (2, 3, 4):
        assert _cell(lines, "PyTorch", i) == _cell(lines, "ratio", i) == _cell(lines, "pt MB", i) == "n/a"
        assert float(_cell(lines, "dagrad", i)) > 0
    assert lines[5] == "" and any("PyTorch not installed" in line for line in lines)
    report = read_json(path)
    assert [r["key"] for r in report["rows"]] == ["mlp", "chain", "dense"] and report["meta"]["torch"] is None
    for row in report["rows"]:
        assert row["torch"] is row["ratio"] is row["mem_torch_mb"] is row["same_loss"] is None and row["dagrad"] > 0


def test_unknown_workloads_are_rejected(capsys):
    assert main(["bench", "--only", "mlp,nope"]) == 1
    err = capsys.readouterr().err
    assert "expected --only to name workloads among" in err and "'mlp,nope'" in err
    assert [w.key for w in select(None, epoch=False)] == [w.key for w in WORKLOADS if w.key != "epoch"]
    assert [w.key for w in select("epoch, mlp", epoch=False)] == ["mlp", "epoch"]
    with pytest.raises(ArgumentError, match="received ''"):
        select("", epoch=False)


def test_weights_travel_as_arrays_and_shapes_are_checked():
    import dagrad as dg

    a, b = dg.nn.Linear(3, 4), dg.nn.Linear(3, 4)
    load_arrays(b, state_arrays(a), dg.from_numpy)
    assert (b.weight.data == a.weight.data).all() and b.weight is not a.weight
    with pytest.raises(ShapeError, match=r"Linear's state \[\(5, 3\), \(5,\)\], received \[\(4, 3\), \(4,\)\]"):
        load_arrays(dg.nn.Linear(3, 5), state_arrays(a), dg.from_numpy)
