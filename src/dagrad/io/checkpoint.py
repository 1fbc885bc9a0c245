"""Safe checkpoints: every array in <name>.safetensors, everything else in <name>.json.

Loading runs no code (safetensors holds raw arrays, JSON plain values; nothing is unpickled). The JSON file holds
the model's class name and its state-dict keys, the optimizer's and scheduler's state dicts, the epoch, dagrad's
global RNG state and the caller's `extra`, with each array replaced by {"__array__": key} naming its entry in the
safetensors file. Each file is written atomically (a temporary file in the same directory, fsync, os.replace),
safetensors first; the JSON file records the SHA-256 of the safetensors file it belongs with, so a crash between
the two renames, or a file swapped or damaged later, is reported on load instead of mixing two checkpoints.
Restoring the model, optimizer, scheduler and RNG state makes a resumed run continue bit-identically.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy
import safetensors.numpy

from dagrad import backend
from dagrad.autograd.tensor import Tensor
from dagrad.errors import DagradError

__all__ = ["CheckpointError", "CheckpointNotFoundError", "load_checkpoint", "save_checkpoint", "checkpoint_paths"]

FORMAT = "dagrad.checkpoint"
VERSION = 1
_REF = "__array__"


class CheckpointError(DagradError, RuntimeError):
    """A checkpoint that cannot be written or read: corrupt or mismatched files, values JSON cannot hold."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """One of a checkpoint's two files is missing."""


def checkpoint_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """(<name>.safetensors, <name>.json) for a prefix, either file's path, or a directory (name 'checkpoint')."""
    p = Path(path).expanduser()
    if p.is_dir() or str(path).endswith(("/", os.sep)):
        p = p / "checkpoint"
    elif p.suffix in (".json", ".safetensors"):
        p = p.with_suffix("")
    return p.with_name(p.name + ".safetensors"), p.with_name(p.name + ".json")


# ---- writing ----------------------------------------------------------------------------------------------------
def save_checkpoint(
    path: str | os.PathLike, model: Any, optimizer: Any = None, scheduler: Any = None, epoch: int | None = None,
    extra: dict | None = None,
) -> Path:  # fmt: skip
    """Write model (and optimizer, scheduler, epoch, RNG state, extra) to <path>.safetensors and <path>.json.

    path: a prefix ('runs/a/ckpt'), either file's name, or a directory (files named 'checkpoint' inside); missing
    parent directories are created. extra: JSON-friendly values (arrays inside it go to the safetensors file).
    Returns the path of the JSON file.
    """
    from dagrad import __version__

    st_path, json_path = checkpoint_paths(path)
    arrays: dict[str, numpy.ndarray] = {}
    state = model.state_dict()
    doc: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "dagrad_version": __version__,
        "model": {"class": _qualname(model), "state_dict": _pack(dict(state), "model", arrays, "the model")},
        "optimizer": None if optimizer is None else _section(optimizer, "optimizer", arrays),
        "scheduler": None if scheduler is None else _section(scheduler, "scheduler", arrays),
        "epoch": None if epoch is None else int(epoch),
        "rng": _pack(backend.default_generator.get_state(), "rng", arrays, "the RNG state"),
        "extra": None if extra is None else _pack(extra, "extra", arrays, "extra"),
    }
    blob = safetensors.numpy.save(arrays, metadata={"format": FORMAT})
    doc["arrays"] = {"file": st_path.name, "sha256": hashlib.sha256(blob).hexdigest(), "count": len(arrays)}
    text = json.dumps(doc, indent=1)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(st_path, blob)
    _atomic_write(json_path, text.encode())
    return json_path


def _qualname(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _section(obj: Any, name: str, arrays: dict) -> dict:
    return {"class": _qualname(obj), "state_dict": _pack(obj.state_dict(), name, arrays, f"the {name}'s state_dict")}


def _pack(obj: Any, key: str, arrays: dict, what: str) -> Any:
    """obj as JSON-friendly values, each array moved into `arrays` under its path `key` and replaced by a ref."""
    if isinstance(obj, Tensor):
        obj = obj.data
    if isinstance(obj, backend.ndarray_types):
        while key in arrays:
            key += "'"
        arrays[key] = numpy.ascontiguousarray(backend.to_device(obj, backend.CPU))
        return {_REF: key}
    if isinstance(obj, numpy.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [_pack(v, f"{key}/{i}", arrays, what) for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise CheckpointError(
                    f"save_checkpoint: expected str or int keys in {what}, received key {k!r} at '{key}'"
                )
            out[str(k)] = _pack(v, f"{key}/{k}", arrays, what)
        return out
    raise CheckpointError(
        f"save_checkpoint: expected arrays, tensors, numbers, strings, lists or dicts in {what}, received "
        f"{type(obj).__name__} at '{key}'"
    )


def _atomic_write(path: Path, data: bytes) -> None:
    """Write data to path through a temporary file in the same directory, fsync'ed, then renamed over path."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o644)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable (not possible on every platform)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


# ---- reading ----------------------------------------------------------------------------------------------------
def load_checkpoint(
    path: str | os.PathLike, model: Any = None, optimizer: Any = None, scheduler: Any = None, rng: bool = True
) -> dict[str, Any]:
    """Read a checkpoint written by save_checkpoint and restore what is given into it.

    model / optimizer / scheduler: objects to load the saved state dicts into (None: leave them out). rng: also
    restore dagrad's global generator, so a resumed run draws the same numbers (shuffling, dropout) as an
    uninterrupted one. Returns the JSON document with its arrays in place: 'model' ({'class', 'state_dict'}),
    'optimizer', 'scheduler', 'epoch', 'rng', 'extra', 'dagrad_version'.
    """
    st_path, json_path = checkpoint_paths(path)
    doc = _read_json(json_path)
    blob = _read(st_path, json_path)
    if hashlib.sha256(blob).hexdigest() != doc["arrays"]["sha256"]:
        raise CheckpointError(
            f"load_checkpoint: expected {st_path} to be the arrays saved with {json_path.name} (SHA-256 "
            f"{doc['arrays']['sha256'][:12]}...), received a different file (an interrupted save, or a file "
            "replaced or damaged since)"
        )
    try:
        arrays = safetensors.numpy.load(bytes(blob))
    except Exception as e:
        raise CheckpointError(f"load_checkpoint: expected a safetensors file at {st_path}, received {e}") from e
    doc = _unpack(doc, arrays, st_path)
    if model is not None:
        model.load_state_dict(doc["model"]["state_dict"])
    for obj, name in ((optimizer, "optimizer"), (scheduler, "scheduler")):
        if obj is None:
            continue
        if doc[name] is None:
            raise CheckpointError(f"load_checkpoint: expected {name} state in {json_path}, received none (saved "
                                  f"without a {name})")  # fmt: skip
        obj.load_state_dict(doc[name]["state_dict"])
    if rng and doc["rng"] is not None:
        backend.default_generator.set_state(doc["rng"])
    return doc


def _read(path: Path, json_path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CheckpointNotFoundError(
            f"load_checkpoint: expected the checkpoint files {json_path.name} and {path.name} in "
            f"{path.parent}, received no {path.name}"
        ) from None
    except OSError as e:
        raise CheckpointError(f"load_checkpoint: could not read {path}: {e}") from e


def _read_json(path: Path) -> dict:
    text = _read(path, path)
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"load_checkpoint: expected JSON in {path}, received unreadable text ({e}): "
                              "a corrupt or truncated file") from e  # fmt: skip
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(f"load_checkpoint: expected a dagrad checkpoint in {path} (format '{FORMAT}'), "
                              f"received {str(doc)[:80]!r}")  # fmt: skip
    if not isinstance(doc.get("version"), int) or doc["version"] > VERSION:
        raise CheckpointError(f"load_checkpoint: expected checkpoint format version <= {VERSION} in {path}, "
                              f"received version {doc.get('version')!r} (written by a newer dagrad?)")  # fmt: skip
    missing = [k for k in ("model", "arrays", "optimizer", "scheduler", "epoch", "rng", "extra") if k not in doc]
    if missing or not isinstance(doc["arrays"], dict) or not isinstance(doc["arrays"].get("sha256"), str):
        raise CheckpointError(f"load_checkpoint: expected the entries {missing or ['arrays.sha256']} in {path}, "
                              "received none (a damaged file)")  # fmt: skip
    return doc


def _unpack(obj: Any, arrays: dict, st_path: Path) -> Any:
    """obj with every array reference replaced by its array from the safetensors file."""
    if isinstance(obj, list):
        return [_unpack(v, arrays, st_path) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if len(obj) == 1 and _REF in obj:
        key = obj[_REF]
        if key not in arrays:
            raise CheckpointError(f"load_checkpoint: expected an array '{key}' in {st_path}, received none")
        return arrays[key]
    return {k: _unpack(v, arrays, st_path) for k, v in obj.items()}
