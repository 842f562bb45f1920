"""Provenance of generated results (bench/results.json, synth/results.json)."""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["commit"]

REPO = Path(__file__).resolve().parent.parent


def commit() -> str:
    """The checked-out commit, ``+dirty`` if tracked files are modified (``unknown`` outside
    git)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO, capture_output=True, text=True).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
