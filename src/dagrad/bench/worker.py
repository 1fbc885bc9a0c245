"""Each framework runs in a worker process of its own, which the parent drives over a pipe.

Why: a process that has imported PyTorch holds two OpenMP runtimes (PyTorch's bundled libgomp and the one numba's
'omp' threading layer loads for dagrad's kernels) next to NumPy's OpenBLAS pool. Measured here: importing torch,
without ever calling it, made dagrad's LeNet-5 training step 1.5-3x slower and erratic (12.5 ms -> 20-40 ms on 2
cores). A worker per framework keeps each one's thread pools to itself, while the parent still alternates the two
workers' blocks of steps, so that drift in the machine's load falls on both.
"""

from __future__ import annotations

import importlib
import multiprocessing
import time
import traceback
from typing import Any

import numpy as np

from dagrad.bench.epoch import EpochRun
from dagrad.bench.measure import count_flops, limit_threads
from dagrad.bench.nets import load_arrays, state_arrays
from dagrad.bench.workloads import Side, by_key
from dagrad.errors import DagradError

__all__ = ["Remote", "Worker"]


class Worker:
    """A framework's side of the benchmark, inside its worker process: builds and steps workloads on command."""

    def __init__(self, framework: str, threads: int) -> None:
        self.lib = importlib.import_module(framework)
        self._limits = limit_threads(threads, self.lib if framework == "torch" else None)
        self.threads = self._limits.__enter__()
        self.side: Side | None = None
        self.epoch_run: EpochRun | None = None

    def describe(self) -> tuple[str, str]:
        """(the framework's version, what the thread limits are)."""
        return self.lib.__version__, self.threads

    def build(self, key: str, quick: bool) -> list[np.ndarray] | None:
        """Build workload `key`; returns its model's initial state (for the twin), None without a model."""
        self.side = by_key(key).build(self.lib, quick)
        return None if self.side.model is None else state_arrays(self.side.model)

    def load(self, arrays: list[np.ndarray]) -> None:
        """Give the built workload's model the twin's initial state."""
        load_arrays(self.side.model, arrays, self.lib.from_numpy)

    def first(self) -> tuple[float | None, float | None, int]:
        """The first step: (the value to compare across frameworks, its FLOPs, the workload's ops per step)."""
        out, flops = count_flops(self.side)
        return (None if out is None else self.side.check(out)), flops, self.side.ops

    def run(self, n: int) -> float:
        """Seconds per step over n steps."""
        step = self.side.step
        start = time.perf_counter()
        for _ in range(n):
            step()
        return (time.perf_counter() - start) / n

    def prepare_epoch(self, quick: bool, init: list[np.ndarray] | None) -> tuple[list[np.ndarray], float, Any, str]:
        """Set up the epoch benchmark from `init` (None: own weights): (initial state, first loss, FLOPs, data)."""
        self.side = None
        self.epoch_run = run = EpochRun(self.lib, quick, init)
        return run.init, run.first_loss, run.flops, run.data

    def epoch(self) -> float:
        """Seconds of one epoch."""
        return self.epoch_run.epoch()


def serve(framework: str, threads: int, conn: Any) -> None:
    """The worker process's loop: (method, args) in, ('ok', result) or ('error', traceback) out, until 'close'."""
    try:
        worker = Worker(framework, threads)
    except Exception:
        worker = traceback.format_exc()
    while True:
        method, args = conn.recv()
        if method == "close":
            return
        try:
            if isinstance(worker, str):
                raise DagradError(f"Worker: expected to start {framework}, received:\n{worker}")
            conn.send(("ok", getattr(worker, method)(*args)))
        except Exception:
            conn.send(("error", traceback.format_exc()))


class Remote:
    """The parent's handle on a framework's worker process (a context manager that closes it)."""

    def __init__(self, framework: str, threads: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.framework = framework
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=serve, args=(framework, threads, child), daemon=True)
        self.process.start()
        child.close()

    def call(self, method: str, *args: Any) -> Any:
        """Run Worker.method(*args) in the worker and return its result."""
        self.conn.send((method, args))
        try:
            status, value = self.conn.recv()
        except EOFError:
            self.process.join(5)
            raise DagradError(
                f"Remote.call: expected the {self.framework} worker to answer {method}(), received nothing "
                f"(it exited with code {self.process.exitcode})"
            ) from None
        if status == "error":
            raise DagradError(f"Remote.call: {method}() failed in the {self.framework} worker:\n{value}")
        return value

    def close(self) -> None:
        if self.process.is_alive():
            try:
                self.conn.send(("close", ()))
            except OSError:
                pass
            self.process.join(10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join()
        self.conn.close()

    def __enter__(self) -> Remote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
