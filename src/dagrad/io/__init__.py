"""Saving and loading: safe checkpoints (safetensors arrays + a JSON sidecar, written atomically)."""

from dagrad.io.checkpoint import (
    CheckpointError,
    CheckpointNotFoundError,
    checkpoint_paths,
    load_checkpoint,
    save_checkpoint,
)  # fmt: skip

__all__ = ["CheckpointError", "CheckpointNotFoundError", "checkpoint_paths", "load_checkpoint", "save_checkpoint"]
