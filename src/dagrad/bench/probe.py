"""Peak memory and first-step time of workloads, measured in a fresh process so that nothing an earlier workload
or the other framework left in the heap hides or inflates them.

The parent calls `run_probe(framework, keys, ...)`, which runs `python -m dagrad.bench.probe` and reads one JSON
line per workload: first_ms (the first step, including numba compilation or cache loading and PyTorch's lazy
initialisation, unless --warm), peak_bytes (the process's resident-set high-water mark, from /proc/self/status,
minus its resident set just before the workload was built: weights, optimizer state, data, activations and the
allocator's caches) and, for dagrad, traced_bytes (tracemalloc's peak over one step after the others: NumPy reports
its array allocations to tracemalloc; PyTorch's allocator does not). --warm first runs the workload at --quick size,
so that one-time costs (numba compilation, code pages) stay out of the numbers.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dagrad.bench.workloads import by_key
from dagrad.errors import DagradError

__all__ = ["peak_rss_bytes", "probe", "reset_peak_rss", "rss_bytes", "run_probe"]

MEMORY_STEPS = 2


def rss_bytes() -> int | None:
    """The process's resident set size now (from /proc/self/statm), None where /proc is missing."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def peak_rss_bytes() -> int | None:
    """The process's resident set high-water mark (VmHWM in /proc/self/status), None where /proc is missing."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def reset_peak_rss() -> bool:
    """Reset the high-water mark to the current resident set (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def probe(lib: Any, key: str, quick: bool, warm: bool) -> dict[str, Any]:
    """Build workload `key` for framework module `lib` and run MEMORY_STEPS steps: the numbers described above."""
    workload = by_key(key)
    if warm:
        spare = workload.build(lib, True)
        spare.step()
        del spare
    gc.collect()
    reset = reset_peak_rss()
    base = rss_bytes()
    side = workload.build(lib, quick)
    start = time.perf_counter()
    side.step()
    first_ms = 1e3 * (time.perf_counter() - start)
    for _ in range(MEMORY_STEPS - 1):
        side.step()
    peak = peak_rss_bytes()
    result: dict[str, Any] = {"key": key, "first_ms": first_ms, "peak_bytes": None, "traced_bytes": None}
    if reset and base is not None and peak is not None:
        result["peak_bytes"] = peak - base
    if lib.__name__ == "dagrad":
        tracemalloc.start()
        side.step()
        result["traced_bytes"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return result


def run_probe(framework: str, keys: Sequence[str], quick: bool, warm: bool, threads: int) -> list[dict[str, Any]]:
    """Run probe() for each of `keys` in one fresh Python process (framework 'dagrad' or 'torch'), in order."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[var] = str(threads)
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    cmd = [sys.executable, "-m", "dagrad.bench.probe", framework, ",".join(keys), "--threads", str(threads)]
    cmd += ["--quick"] * quick + ["--warm"] * warm
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        what = f"the {framework} probe of {', '.join(keys)}"
        raise DagradError(f"run_probe: expected {what} to succeed, received:\n{done.stderr.strip()}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Peak memory and first-step time of benchmark workloads.")
    parser.add_argument("framework", choices=["dagrad", "torch"])
    parser.add_argument("keys", help="comma-separated workload keys, run in this order")
    parser.add_argument("--quick", action="store_true", help="tiny sizes")
    parser.add_argument("--warm", action="store_true", help="run each workload at --quick size first")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    lib = importlib.import_module(args.framework)
    if args.framework == "torch":  # the others read their thread counts from the environment run_probe sets
        lib.set_num_threads(args.threads)
    for key in args.keys.split(","):
        print(json.dumps(probe(lib, key, args.quick, args.warm)), flush=True)


if __name__ == "__main__":
    main()
