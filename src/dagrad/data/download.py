"""Finding dataset files on disk and downloading them: search order, cache, checksums, atomic writes.

Local copies are looked for first, in this order: the `root=` a dataset was given, the directory named by the
environment variable DAGRAD_DATA, a dataset's system directories (the Debian package `dataset-fashion-mnist`
installs /usr/share/datasets/fashion-mnist), then the cache ($XDG_CACHE_HOME/dagrad or ~/.cache/dagrad).
Downloads are streamed into a temporary file beside the target, checked (length and checksum), fsync'ed and
renamed into place, so a failed or interrupted download never leaves a half-written file under the real name.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import os
import tempfile
import urllib.request
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from dagrad.errors import DagradError

__all__ = [
    "DatasetError",
    "atomic_write",
    "cache_dir",
    "check_file",
    "download_file",
    "download_resource",
    "locate",
    "read_bytes",
]

ENV_VAR = "DAGRAD_DATA"
_CHUNK = 1 << 20


class DatasetError(DagradError, RuntimeError):
    """A dataset that cannot be found, downloaded or parsed: missing, truncated or corrupt files, bad checksums."""


def cache_dir() -> Path:
    """Where downloads go: $XDG_CACHE_HOME/dagrad, or ~/.cache/dagrad."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dagrad"


def search_dirs(root: str | os.PathLike | None, folder: str, system_dirs: Sequence[str] = ()) -> list[Path]:
    """The directories searched for a dataset's files, in order (see the module docstring).

    Under `root`, DAGRAD_DATA and the cache, a dataset named `folder` may sit directly, in `<base>/<folder>` or in
    `<base>/<folder>/raw` (torchvision's layout); system directories are taken as they are.
    """
    bases = [Path(root).expanduser()] if root is not None else []
    if os.environ.get(ENV_VAR):
        bases.append(Path(os.environ[ENV_VAR]).expanduser())
    dirs = [d for base in bases for d in (base, base / folder, base / folder / "raw")]
    dirs += [Path(d) for d in system_dirs]
    dirs.append(cache_dir() / folder)
    return dirs


def _variants(name: str) -> tuple[str, str]:
    """A file may be stored gzipped or not, whichever way its canonical name has it."""
    return (name, name[:-3]) if name.endswith(".gz") else (name, name + ".gz")


def locate(names: Sequence[str], dirs: Sequence[Path]) -> list[Path] | None:
    """The paths of all `names` in the first directory of `dirs` that holds every one of them, else None."""
    for d in dirs:
        found = [next((d / v for v in _variants(n) if (d / v).is_file()), None) for n in names]
        if all(p is not None for p in found):
            return found
    return None


def read_bytes(path: str | os.PathLike, what: str) -> bytearray:
    """The (writable) contents of `path`, gunzipped when it starts with the gzip magic number.

    `what` names the reader in error messages. A damaged or truncated gzip stream raises DatasetError.
    """
    path = Path(path)
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
        f.seek(0)
        if not gzipped:
            buf = bytearray(os.fstat(f.fileno()).st_size)
            f.readinto(buf)
            return buf
        try:
            return bytearray(gzip.GzipFile(fileobj=f).read())
        except (OSError, EOFError, zlib.error) as e:
            raise DatasetError(f"{what}: expected a complete gzip file, received a damaged one at {path} ({e})") from e


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Write `path` all at once: into a temporary file in the same directory, fsync'ed, then renamed over `path`.

    If the body raises, the temporary file is removed and `path` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fchmod(f.fileno(), 0o644)  # mkstemp makes 0600 files; data files are world-readable as usual
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _hasher(checksum: str):
    algo, _, digest = checksum.partition(":")
    if algo not in ("md5", "sha256") or not digest:
        raise DatasetError(f"checksum: expected 'md5:<hex>' or 'sha256:<hex>', received {checksum!r}")
    return hashlib.new(algo, usedforsecurity=False), digest.lower()


def check_file(path: str | os.PathLike, checksum: str) -> bool:
    """Whether the file at `path` has `checksum` ('md5:<hex>' or 'sha256:<hex>')."""
    h, digest = _hasher(checksum)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest() == digest


def download_file(url: str, dest: str | os.PathLike, checksum: str | None = None, timeout: float = 60.0) -> Path:
    """Download `url` to `dest` atomically, checking the announced length and `checksum` when given.

    Raises DatasetError on a network error, a truncated body or a checksum mismatch; `dest` is then untouched.
    """
    dest = Path(dest)
    h, digest = _hasher(checksum) if checksum else (None, None)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r, atomic_write(dest) as f:
            announced = r.headers.get("Content-Length")
            size = 0
            while chunk := r.read(_CHUNK):
                f.write(chunk)
                size += len(chunk)
                if h is not None:
                    h.update(chunk)
            if announced is not None and size != int(announced):
                raise DatasetError(f"download: expected {announced} bytes from {url}, received {size} (truncated)")
            if h is not None and h.hexdigest() != digest:
                algo = checksum.partition(":")[0]
                raise DatasetError(
                    f"download: expected {dest.name} from {url} to have {algo} {digest}, received {h.hexdigest()}"
                )
    except (OSError, http.client.HTTPException) as e:
        raise DatasetError(f"download: could not fetch {url} ({type(e).__name__}: {e})") from e
    return dest


def download_resource(name: str, mirrors: Sequence[str], dest_dir: str | os.PathLike, checksum: str | None) -> Path:
    """Download file `name` into `dest_dir` from the first of `mirrors` (base URLs) that serves it intact."""
    errors = []
    for base in mirrors:
        url = base if base.endswith(name) else base.rstrip("/") + "/" + name
        try:
            return download_file(url, Path(dest_dir) / name, checksum)
        except DatasetError as e:
            errors.append(str(e))
    raise DatasetError(f"download: every mirror failed for {name}:\n  " + "\n  ".join(errors or ["no mirrors given"]))
