"""The benchmark suite, dagrad against PyTorch in one table: `python3 benchmarks/run.py [options]` is
`dagrad bench [options]` (--quick, --only NAMES, --repeat N, --threads N, --epoch, --json PATH; see --help)."""

import sys

from dagrad.bench.runner import main

if __name__ == "__main__":
    sys.exit(main())
