"""Helpers for the data tests: generated IDX and CIFAR files, and a local HTTP server to download them from."""

from __future__ import annotations

import contextlib
import functools
import http.server
import io
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from dagrad.data.datasets.mnist import write_idx

IDX_NAMES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def fake_images(n: int, seed: int, shape: tuple[int, ...] = (28, 28)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, *shape), dtype=np.uint8), rng.integers(0, 10, size=n).astype(np.uint8)


def write_fake_idx(directory: Path, n_train: int = 12, n_test: int = 5, gz: bool = True) -> dict:
    """Write MNIST-layout IDX files into `directory`; returns {split: (images, labels)}."""
    out = {}
    for seed, (split, n) in enumerate((("train", n_train), ("test", n_test))):
        images, labels = fake_images(n, seed)
        names = IDX_NAMES[split] if gz else tuple(name[:-3] for name in IDX_NAMES[split])
        write_idx(directory / names[0], images)
        write_idx(directory / names[1], labels)
        out[split] = (images, labels)
    return out


def cifar_records(n: int, seed: int, label_bytes: int) -> tuple[bytes, np.ndarray, np.ndarray]:
    """`n` CIFAR binary records; returns (bytes, images (n, 3, 32, 32), labels (n, label_bytes))."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
    highs = (20, 100) if label_bytes == 2 else (10,)
    labels = np.stack([rng.integers(0, high, n) for high in highs], 1)
    records = np.concatenate([labels.astype(np.uint8), images.reshape(n, -1)], axis=1)
    return records.tobytes(), images, labels


def cifar_tar(files: dict[str, bytes]) -> bytes:
    """A .tar.gz holding `files` ({member name: contents})."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return buf.getvalue()


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the directory; a file named in `truncate` is announced whole but cut off halfway."""

    truncate: set[str] = set()

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        name = self.path.rsplit("/", 1)[-1]
        if name not in self.truncate:
            return super().do_GET()
        body = (Path(self.directory) / name).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.close_connection = True


@contextlib.contextmanager
def serve(directory: Path, truncate: tuple[str, ...] = ()) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 serving `directory`; yields its base URL."""
    handler = type("Handler", (_Handler,), {"truncate": set(truncate)})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
