"""The benchmark report: its rows, the goals each row is held to, the printed table and the JSON file.

A report is a plain dict, {'meta': {...}, 'rows': [...], 'notes': [...]}, so that the JSON file reads back into
exactly what `dagrad bench` returned. A row holds the workload's key, title and unit, each framework's time
(`dagrad`, `torch`), `ratio`, `spread` (of the timed blocks), `gflops` and `pct_ceiling` (dagrad's),
`mem_dagrad_mb`, `mem_torch_mb`, `mem_ratio`, `traced_dagrad_mb`, the first-step losses and whether they agree
(`same_loss`), the goal and whether it was met; None where a number does not apply or was not measured.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dagrad.bench.workloads import Workload

__all__ = ["finish", "format_table", "new_row", "read_json", "write_json"]

NUMBERS = ("dagrad", "torch", "ratio", "spread", "gflops", "pct_ceiling", "mem_dagrad_mb", "mem_torch_mb", "mem_ratio",
           "traced_dagrad_mb", "loss_dagrad", "loss_torch")  # fmt: skip


def new_row(workload: Workload) -> dict[str, Any]:
    """An empty row for `workload`: every number None until measured."""
    row: dict[str, Any] = {"key": workload.key, "workload": workload.title, "unit": workload.unit}
    row.update(dict.fromkeys(NUMBERS))
    row.update({"same_loss": None, "goal_ratio": workload.goal, "goal_ceiling": workload.ceiling_goal})
    return row


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b <= 0 else a / b


def _check_goals(row: dict[str, Any], memory_goal: float) -> tuple[str, bool | None]:
    """The row's goal as text and whether it was met (None: nothing to check): the time ratio, the share of the
    sgemm ceiling, and peak memory at most memory_goal times PyTorch's where both were measured."""
    goals, missed, checked = [], [], False
    if row["goal_ratio"] is not None:
        goals.append(f"<={row['goal_ratio']:.2f}")
        if row["ratio"] is not None:
            checked = True
            if row["ratio"] > row["goal_ratio"]:
                missed.append("time")
    if row["goal_ceiling"] is not None:
        goals.append(f">={100 * row['goal_ceiling']:.0f}% ceil")
        if row["pct_ceiling"] is not None:
            checked = True
            if row["pct_ceiling"] < 100 * row["goal_ceiling"]:
                missed.append("ceil")
    if row["unit"] == "ms" and row["key"] != "first-step":
        goals.append(f"mem<={memory_goal:g}")
        if row["mem_ratio"] is not None:
            checked = True
            if row["mem_ratio"] > memory_goal:
                missed.append("mem")
    row["missed"] = missed
    return ", ".join(goals), (not missed) if checked else None


def finish(meta: dict[str, Any], rows: list[dict[str, Any]], memory_goal: float) -> dict[str, Any]:
    """The report: derived columns (ratios not already measured as paired ratios, % of the ceiling, memory ratio),
    each row's goal and verdict, and the notes printed under the table."""
    ceiling = meta["sgemm_gflops"]
    for row in rows:
        if row["ratio"] is None:
            row["ratio"] = _ratio(row["dagrad"], row["torch"])
        if row["gflops"] is not None:
            row["pct_ceiling"] = 100 * row["gflops"] / ceiling
        row["mem_ratio"] = _ratio(row["mem_dagrad_mb"], row["mem_torch_mb"])
        row["goal"], row["met"] = _check_goals(row, memory_goal)
    return {"meta": meta, "rows": rows, "notes": notes(meta, rows)}


def notes(meta: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    """How each column was measured, and the workloads whose first-step losses disagree."""
    out = [
        f"dagrad {meta['dagrad']}, PyTorch {meta['torch'] or 'not installed (its columns say n/a)'}, NumPy "
        f"{meta['numpy']}, Python {meta['python']} on {meta['machine']} ({meta['cpus']} CPUs, load average "
        f"{_load(meta['load_average'])} at start and end); {meta['thread_limit']}; float32"
        + (" (--quick: tiny sizes, numbers are for the smoke test only)" if meta["quick"] else ""),
        f"time: the median of {meta['repeat']} timed block(s) per framework after a warm-up, the frameworks' blocks "
        "alternating; ratio = dagrad / PyTorch, the median of neighbouring blocks' ratios (lower is better); spread = "
        "slowest / fastest block of the noisier framework (well above 1: the machine was busy, the row is unreliable)",
        f"ceiling: NumPy float32 {meta['sgemm_size']}^3 matmul, {meta['sgemm_gflops']:.0f} GFLOP/s, the better of "
        f"{' and '.join(f'{g:.0f}' for g in meta['sgemm_runs_gflops'])} measured before and after the timing; "
        "GFLOP/s counts 2 per multiply-add of conv/linear/LSTM-gate products, forward and backward (weight and input "
        "gradients); other work is not counted",
        "peak MB: resident-set high-water mark (/proc/self/status VmHWM) minus the resident set before the model "
        "was built, in a fresh process per framework and workload after a tiny warm-up, both frameworks measured "
        "alike (weights, optimizer state, activations, allocator caches); step MB: tracemalloc's peak over one "
        "dagrad step (NumPy reports its arrays to tracemalloc; PyTorch's allocator does not, so no PyTorch column)",
        "first step: the very first LeNet-5 train step in a fresh process (numba compilation or cache load, "
        "PyTorch's lazy initialisation); loss: '=' when the frameworks' first-step losses agree (rtol 1e-3) from "
        "the same weights and data",
    ]
    for row in rows:
        if "data" in row:
            out.append(f"{row['key']}: one epoch of {row['data']}, batches of 128, Adam, each framework's own loop")
        if row["same_loss"] is False:
            out.append(f"!! {row['key']}: first-step losses differ: dagrad {row['loss_dagrad']:.6g}, "
                       f"PyTorch {row['loss_torch']:.6g}")  # fmt: skip
    return out


def _load(loads: list[float | None]) -> str:
    return " / ".join("?" if x is None else f"{x:.1f}" for x in loads)


def _num(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}" if abs(value) >= 1 or value == 0 else f"{value:.{digits + 1}g}"


def _verdict(row: dict[str, Any]) -> str:
    if row["met"] is None:
        return "-"
    return "yes" if row["met"] else "NO: " + "+".join(row["missed"])


def _loss_mark(row: dict[str, Any]) -> str:
    return {None: "-", True: "=", False: "DIFF"}[row["same_loss"]]


COLUMNS = (  # header, width, cell
    ("workload", -41, lambda r: r["workload"]),
    ("unit", -5, lambda r: r["unit"]),
    ("dagrad", 8, lambda r: _num(r["dagrad"])),
    ("PyTorch", 8, lambda r: _num(r["torch"])),
    ("ratio", 6, lambda r: _num(r["ratio"])),
    ("spread", 6, lambda r: _num(r["spread"])),
    ("goal", -21, lambda r: r["goal"] or "-"),
    ("met", -12, _verdict),
    ("GFLOP/s", 7, lambda r: _num(r["gflops"], 1)),
    ("%ceil", 5, lambda r: _num(r["pct_ceiling"], 0)),
    ("dg MB", 6, lambda r: _num(r["mem_dagrad_mb"], 1)),
    ("pt MB", 6, lambda r: _num(r["mem_torch_mb"], 1)),
    ("mem x", 5, lambda r: _num(r["mem_ratio"])),
    ("step MB", 7, lambda r: _num(r["traced_dagrad_mb"], 1)),
    ("loss", -4, _loss_mark),
)


def format_table(result: dict[str, Any]) -> str:
    """The report as a fixed-width table with the notes underneath."""

    def line(cells: list[str]) -> str:
        return " ".join(f"{c:<{-w}}" if w < 0 else f"{c:>{w}}" for c, (_, w, _) in zip(cells, COLUMNS)).rstrip()

    head = line([h for h, _, _ in COLUMNS])
    body = [line([cell(r) for _, _, cell in COLUMNS]) for r in result["rows"]]
    return "\n".join([head, "-" * len(head), *body, "", *(f"* {n}" for n in result["notes"])])


def write_json(result: dict[str, Any], path: str | os.PathLike) -> None:
    """Write the report as JSON (None for numbers that were not measured)."""
    Path(path).write_text(json.dumps(result, indent=2, allow_nan=False) + "\n")


def read_json(path: str | os.PathLike) -> dict[str, Any]:
    """A report written by write_json."""
    return json.loads(Path(path).read_text())
