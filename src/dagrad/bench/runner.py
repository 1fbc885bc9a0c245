"""`dagrad bench` (also `python3 benchmarks/run.py`): the benchmark suite in dagrad and, when it is installed,
PyTorch, in one invocation, printed as one table (dagrad.bench.report) and optionally written as JSON.

Each framework runs in a worker process of its own (dagrad.bench.worker says why). For each workload both build the
same model, the PyTorch twin takes dagrad's initial weights, both take a first step on the same data (whose losses
must agree, float32, rtol 1e-3; it also counts the FLOPs), then the parent times them in alternating blocks
(dagrad.bench.measure). Peak memory and the first-step latency come from fresh processes (dagrad.bench.probe), run
after all timing so that they do not disturb it.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib.util
import os
import platform
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

import dagrad
from dagrad.bench import report
from dagrad.bench.measure import limit_threads, sgemm_ceiling, time_blocks
from dagrad.bench.probe import run_probe
from dagrad.bench.worker import Remote
from dagrad.bench.workloads import WORKLOADS, Workload
from dagrad.errors import ArgumentError, DagradError

__all__ = ["add_arguments", "main", "run", "run_cli"]

LOSS_RTOL = 1e-3
MEMORY_GOAL = 1.3
SETTLE_S = 0.2  # the untimed pause before each block (see measure.time_blocks)


def torch_installed() -> bool:
    """Whether PyTorch can be imported (without importing it here)."""
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def _load_average() -> float | None:
    """The system's 1-minute load average (other processes competing for the cores), None where unknown."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def select(only: str | None, epoch: bool) -> list[Workload]:
    """The workloads named in `only` (comma-separated keys; all when None), in the suite's order; the epoch only
    with --epoch or when named."""
    keys = [w.key for w in WORKLOADS]
    if only is None:
        return [w for w in WORKLOADS if w.kind != "epoch" or epoch]
    wanted = {k.strip() for k in only.split(",") if k.strip()}
    unknown = sorted(wanted - set(keys))
    if unknown or not wanted:
        raise ArgumentError(f"bench.run: expected --only to name workloads among {keys}, received {only!r}")
    return [w for w in WORKLOADS if w.key in wanted]


def _agree(losses: dict[str, float]) -> bool | None:
    """Whether the frameworks' first-step losses agree to LOSS_RTOL (None with one framework)."""
    if len(losses) < 2:
        return None
    ours, theirs = losses["dagrad"], losses["torch"]
    return bool(np.isclose(ours, theirs, rtol=LOSS_RTOL, atol=0.0))


def time_workload(workload: Workload, remotes: dict[str, Remote], quick: bool, repeat: int) -> dict[str, Any]:
    """Build both sides (the twin gets dagrad's initial weights), take the first step (loss, FLOPs), time the rest
    in alternating blocks."""
    init = remotes["dagrad"].call("build", workload.key, quick)
    for name, remote in remotes.items():
        if name != "dagrad":
            remote.call("build", workload.key, quick)
            if init is not None:
                remote.call("load", init)
    firsts = {name: remote.call("first") for name, remote in remotes.items()}
    losses = {name: value for name, (value, _, _) in firsts.items() if value is not None}
    _, flops, ops = firsts["dagrad"]
    runs = {name: functools.partial(remote.call, "run") for name, remote in remotes.items()}
    timing = time_blocks(runs, repeat, block_s=0.0 if quick else 0.3, settle_s=0.0 if quick else SETTLE_S)
    scale = 1e6 / ops if workload.kind == "per-op" else 1e3
    row = report.new_row(workload)
    for name in remotes:
        row[name] = timing.median(name) * scale
    if "torch" in remotes:
        row["ratio"] = timing.ratio("dagrad", "torch")
    row["spread"] = timing.spread()
    if flops is not None:
        row["gflops"] = flops / timing.median("dagrad") / 1e9
    row["loss_dagrad"], row["loss_torch"] = losses.get("dagrad"), losses.get("torch")
    row["same_loss"] = _agree(losses)
    return row


def epoch_row(workload: Workload, remotes: dict[str, Remote], quick: bool) -> dict[str, Any]:
    """Prepare every framework's epoch from dagrad's initial weights, then time one epoch each, dagrad first."""
    init, losses, flops, data = remotes["dagrad"].call("prepare_epoch", quick, None)
    losses = {"dagrad": losses}
    for name, remote in remotes.items():
        if name != "dagrad":
            losses[name] = remote.call("prepare_epoch", quick, init)[1]
    row = report.new_row(workload)
    for name, remote in remotes.items():
        time.sleep(0.0 if quick else SETTLE_S)
        row[name] = remote.call("epoch")
    if flops is not None:
        row["gflops"] = flops / row["dagrad"] / 1e9
    row["loss_dagrad"], row["loss_torch"] = losses.get("dagrad"), losses.get("torch")
    row["same_loss"] = _agree(losses)
    row["data"] = data
    return row


def _fill(rows: dict[str, dict[str, Any]], fw: str, results: list[dict[str, Any]], firsts: list[float]) -> None:
    """Put one framework's probe results into the rows: peak and traced MB, the first-step ms."""
    for r in results:
        rows[r["key"]][f"mem_{fw}_mb"] = None if r["peak_bytes"] is None else r["peak_bytes"] / 2**20
        if r["traced_bytes"] is not None:
            rows[r["key"]][f"traced_{fw}_mb"] = r["traced_bytes"] / 2**20
    if firsts:
        rows["first-step"][fw] = firsts[0]


def probe_all(
    rows: dict[str, dict[str, Any]], memory: list[str], first: bool, frameworks: list[str], quick: bool,
    threads: int,
) -> None:  # fmt: skip
    """Fill in the rows' peak memory (workload keys `memory`) and, if `first`, the first-step latency, from fresh
    processes. Full mode, one after the other: one process per framework and workload (warmed up at --quick size
    first) and an unwarmed LeNet-5 process per framework. --quick: one process per framework
    for all of them, LeNet-5 first, the frameworks' processes side by side (a smoke test, not a comparison)."""
    if quick:
        keys = (["lenet5"] if first else []) + [k for k in memory if not (first and k == "lenet5")]
        with ThreadPoolExecutor(len(frameworks)) as pool:
            done = pool.map(lambda fw: run_probe(fw, keys, quick=True, warm=False, threads=threads), frameworks)
        for fw, results in zip(frameworks, done):
            _fill(rows, fw, [r for r in results if r["key"] in memory], [results[0]["first_ms"]] if first else [])
        return
    for fw in frameworks:
        results = [r for k in memory for r in run_probe(fw, [k], quick=False, warm=True, threads=threads)]
        firsts = [run_probe(fw, ["lenet5"], False, False, threads)[0]["first_ms"]] if first else []
        _fill(rows, fw, results, firsts)


def run(
    only: str | None = None, quick: bool = False, repeat: int | None = None, threads: int = 2, epoch: bool = False,
    memory: bool = True, progress: Any = None,
) -> dict[str, Any]:  # fmt: skip
    """Run the suite; returns the report: {'meta': {...}, 'rows': [...], 'notes': [...]} (see dagrad.bench.report).
    progress: a file to print one line per workload to (None: quiet). The sgemm ceiling is measured before and after
    the timed workloads; the higher of the two counts (the machine's load drifts)."""
    if threads < 1:
        raise ArgumentError(f"bench.run: expected --threads >= 1, received {threads}")
    repeat = (1 if quick else 7) if repeat is None else repeat
    if repeat < 1:
        raise ArgumentError(f"bench.run: expected --repeat >= 1, received {repeat}")
    selected = select(only, epoch)
    load_before, start = _load_average(), time.perf_counter()
    frameworks = ["dagrad"] + (["torch"] if torch_installed() else [])
    rows: dict[str, dict[str, Any]] = {}
    size = 256 if quick else 2048
    with contextlib.ExitStack() as stack:
        remotes = {name: stack.enter_context(Remote(name, threads)) for name in frameworks}
        versions = {name: remote.call("describe") for name, remote in remotes.items()}
        with limit_threads(threads):
            ceilings = [sgemm_ceiling(size, 3 if quick else 7)]
        for i, w in enumerate(selected):
            if progress is not None:
                print(f"[{i + 1}/{len(selected)}] {w.title} ({time.perf_counter() - start:.0f} s)", file=progress)
            if w.kind == "epoch":
                rows[w.key] = epoch_row(w, remotes, quick)
            elif w.kind == "first-step":
                rows[w.key] = report.new_row(w)
            else:
                rows[w.key] = time_workload(w, remotes, quick, repeat)
    with limit_threads(threads):
        ceilings.append(sgemm_ceiling(size, 3 if quick else 7))
    memory_keys = [w.key for w in selected if w.kind == "step"] if memory else []
    if memory_keys or "first-step" in rows:
        if progress is not None:
            print(f"peak memory and first-step latency, in fresh processes ({time.perf_counter() - start:.0f} s)",
                  file=progress)  # fmt: skip
        probe_all(rows, memory_keys, "first-step" in rows, frameworks, quick, threads)
    meta = {
        "dagrad": dagrad.__version__,
        "torch": versions["torch"][0] if "torch" in versions else None,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "threads": threads,
        "thread_limit": versions["dagrad"][1],
        "quick": quick,
        "repeat": repeat,
        "sgemm_size": size,
        "sgemm_gflops": max(ceilings),
        "sgemm_runs_gflops": ceilings,
        "cpus": os.cpu_count(),
        "load_average": [load_before, _load_average()],
    }
    return report.finish(meta, [rows[w.key] for w in selected], MEMORY_GOAL)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `dagrad bench` and benchmarks/run.py."""
    keys = ", ".join(w.key for w in WORKLOADS)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repeat: a smoke test of the suite")
    parser.add_argument("--only", metavar="NAMES", help=f"comma-separated workloads among: {keys}")
    parser.add_argument("--repeat", type=int, metavar="N", help="timed blocks per framework (median); default 7")
    parser.add_argument("--threads", type=int, default=2, metavar="N", help="threads per framework; default 2")
    parser.add_argument("--epoch", action="store_true", help="add a full Fashion-MNIST LeNet-5 epoch (~20 s each)")
    parser.add_argument("--no-memory", dest="memory", action="store_false",
                        help="skip the peak-memory processes")  # fmt: skip
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")


def run_cli(args: argparse.Namespace) -> int:
    """Run the suite with parsed options, print the table, write --json; returns the exit status."""
    result = run(args.only, args.quick, args.repeat, args.threads, args.epoch, args.memory, progress=sys.stderr)
    if args.json:
        report.write_json(result, args.json)
    print(report.format_table(result))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """benchmarks/run.py's entry point: the same options as `dagrad bench`."""
    parser = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_cli(args)
    except DagradError as e:
        print(f"bench: error: {e}", file=sys.stderr)
        return 1
