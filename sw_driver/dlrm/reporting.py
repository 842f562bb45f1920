"""Comparing and plotting trained models: :func:`compare_parameters`, :func:`plot_results`."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable

import numpy as np

from .trainer_base import TrainResult, _TrainerBase

__all__ = ["compare_parameters", "plot_results"]


def compare_parameters(a: _TrainerBase, b: _TrainerBase) -> dict[str, float]:
    """Largest absolute differences between two trainers' parameters: ``mlp``, ``embeddings``
    (every row of every table, each trainer's assembled view) and ``max`` of both."""
    mlp_a, mlp_b = a.mlp_state(), b.mlp_state()
    if mlp_a.keys() != mlp_b.keys():
        raise ValueError("the models have different MLP parameters")
    mlp = max(float(np.max(np.abs(mlp_a[k] - mlp_b[k]))) for k in mlp_a)
    emb = max(float(np.max(np.abs(x - y)))
              for x, y in zip(a.embedding_tables(), b.embedding_tables(), strict=True))
    return {"mlp": mlp, "embeddings": emb, "max": max(mlp, emb)}


def plot_results(results: Iterable[TrainResult], path: str | os.PathLike, *,
                 window: int = 50) -> bool:
    """Plot the training loss (moving average over ``window`` steps) of each result, and the
    popular fraction per working set of the Hotline ones, to ``path`` (e.g. ``losses.png``).

    Needs matplotlib (in the ``dev`` extra, not a core dependency): without it, prints why to
    stderr and returns False (True when the plot was written).
    """
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot_results: matplotlib is not installed, no plot written "
              "(pip install matplotlib to get one)", file=sys.stderr)
        return False
    results = list(results)
    fig, (ax_loss, ax_pop) = plt.subplots(2, 1, figsize=(8, 7))
    for result in results:
        losses = np.asarray(result.losses, dtype=float)
        if len(losses) >= window:
            losses = np.convolve(losses, np.ones(window) / window, mode="valid")
        ax_loss.plot(losses, label=result.name)
        if result.working_sets:
            ax_pop.plot([w["popular_fraction"] for w in result.working_sets], label=result.name)
    ax_loss.set(xlabel="optimizer step", ylabel=f"loss ({window}-step mean)")
    ax_pop.set(xlabel="working set", ylabel="popular fraction", ylim=(0, 1))
    ax_loss.legend()
    if any(r.working_sets for r in results):
        ax_pop.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True
