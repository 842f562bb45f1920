"""Checkpoint files of the distributed trainer: written atomically by rank 0, read back with
a check that they belong to the same run settings.

A checkpoint is one ``torch.save`` file (pickle: it holds the popularity table and the
scheduler objects, so load only files you wrote). It is written to ``path + ".tmp"`` and
renamed, so a worker killed mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import os
from typing import Any

import torch

__all__ = ["CheckpointError", "load_checkpoint", "save_checkpoint"]

FORMAT = 1


class CheckpointError(ValueError):
    """The checkpoint is missing, unreadable, or from a run with other settings."""


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> None:
    tmp = os.fspath(path) + ".tmp"
    torch.save({"format": FORMAT, **state}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike, settings: dict[str, Any]) -> dict[str, Any]:
    """The state saved at ``path``; its run settings must equal ``settings`` (the trainer's
    model shape, batch size, learning rate, schedule, geometry...)."""
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no checkpoint there")
    try:
        state = torch.load(path, weights_only=False)
    except Exception as error:                         # noqa: BLE001 (any unreadable file)
        raise CheckpointError(f"{path}: unreadable checkpoint ({error})") from error
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a checkpoint of format {FORMAT}")
    saved = state["settings"]
    if saved != settings:
        differ = sorted(k for k in set(saved) | set(settings) if saved.get(k) != settings.get(k))
        raise CheckpointError(f"{path}: written by a run with other settings ({', '.join(differ)})")
    return state
