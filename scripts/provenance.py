"""Provenance of generated results (bench/results.json, synth/results.json), and writing them
only when their figures change (so a target re-run leaves the tree clean)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

__all__ = ["commit", "write_json_if_changed"]

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


def write_json_if_changed(path: Path, report: dict, volatile=("commit", "date")) -> bool:
    """Write ``report`` to ``path`` (indented JSON) unless the file already holds the same
    figures: top-level keys in ``volatile`` (provenance that changes on every run) are not
    compared. Returns whether the file was written."""
    path = Path(path)
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        old = None
    new = json.loads(json.dumps(report))

    def figures(record):
        return {k: v for k, v in record.items() if k not in volatile} \
            if isinstance(record, dict) else record
    if old is not None and figures(old) == figures(new):
        return False
    path.write_text(json.dumps(report, indent=2) + "\n")
    return True
