"""Regenerate the Fashion-MNIST subset shipped in src/dagrad/data/files/ from the real data.

Takes the FIRST 10,000 training and 2,000 test images (and labels) of the Fashion-MNIST IDX files, which are
already in random order (class counts 942-1027 per class in the training part, 188-219 in the test part), and
writes them as gzipped IDX files. The source is the Debian package dataset-fashion-mnist
(apt-get install dataset-fashion-mnist), or any directory holding the four IDX files:

    python3 scripts/make_embedded_dataset.py [--source DIR]

The output is reproducible (gzip without name or time stamp) and its SHA-256 sums are printed for the README.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from dagrad.data.datasets.embedded import FILES, SIZES
from dagrad.data.datasets.mnist import read_idx, write_idx
from dagrad.data.download import locate

SOURCE = "/usr/share/datasets/fashion-mnist"
SPLITS = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
          "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=SOURCE, help=f"directory with the Fashion-MNIST IDX files ({SOURCE})")
    args = parser.parse_args()
    for split, names in SPLITS.items():
        paths = locate(names, [Path(args.source)])
        if paths is None:
            raise SystemExit(f"make_embedded_dataset: expected {', '.join(names)} in {args.source}, found none")
        for source, target in zip(paths, FILES[split]):
            write_idx(target, read_idx(source)[: SIZES[split]])
            digest = hashlib.sha256(target.read_bytes()).hexdigest()
            print(f"{digest}  {target.name}  ({target.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
