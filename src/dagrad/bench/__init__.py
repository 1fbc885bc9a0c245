"""dagrad's performance benchmark suite (`dagrad bench`, `python3 benchmarks/run.py`): training and inference steps
of MLP, LeNet-5, ResNet-20, a VGG stack and an LSTM, per-op overhead, dense-layer GFLOP/s and first-step latency,
timed side by side with PyTorch on the same weights and data, with peak memory and the machine's sgemm ceiling.

Modules: workloads (what is run), nets (the networks, one definition for both frameworks), measure (timing, FLOPs,
threads, the ceiling), probe (peak memory and first-step time in fresh processes: `python -m dagrad.bench.probe`),
epoch (a Fashion-MNIST epoch), report (goals, table, JSON), runner (the command: `dagrad.bench.runner.run`).
"""

from dagrad.bench.report import format_table, read_json, write_json
from dagrad.bench.workloads import WORKLOADS

__all__ = ["WORKLOADS", "format_table", "read_json", "write_json"]
