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
                 window: int = 50, title: str | None = None) -> bool:
    """Plot the training loss (moving average over ``window`` steps, where a run has that
    many) of each result, and the popular fraction per working set of the Hotline ones, to
    ``path`` (e.g. ``losses.png``): one colour per run in both panels, ``title`` above (the
    data, model and run length; a generic one if omitted).

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
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    fig, (ax_loss, ax_pop) = plt.subplots(2, 1, figsize=(8, 7.5))
    averaged = []
    for n, result in enumerate(results):
        colour = colours[n % len(colours)]
        losses = np.asarray(result.losses, dtype=float)
        label = f"{result.name} ({len(losses):,} steps)"
        if len(losses) >= window:
            losses = np.convolve(losses, np.ones(window) / window, mode="valid")
            averaged.append(result.name)
            steps = np.arange(window, window + len(losses))
        else:
            steps = np.arange(1, len(losses) + 1)
        style = dict(color=colour, linestyle=("-", "--", "-.", ":")[n % 4],
                     linewidth=max(1.0, 2.4 - 0.5 * n))   # identical runs stay visible
        ax_loss.plot(steps, losses, label=label, **style)
        if result.working_sets:
            ax_pop.plot(np.arange(1, len(result.working_sets) + 1),
                        [w["popular_fraction"] for w in result.working_sets], label=result.name,
                        marker="." if len(result.working_sets) < 50 else None, **style)
    how = (f"{window}-step moving mean" if len(averaged) == len(results) else
           "per step" if not averaged else f"{window}-step moving mean where a run has "
           f"{window} steps")
    ax_loss.set(title=f"Training loss ({how})", xlabel="optimizer step",
                ylabel="binary cross-entropy per sample")
    ax_pop.set(title="Samples in popular micro-batches (Hotline runs)",
               xlabel="working set",
               ylabel="popular fraction (of the samples)", ylim=(0, 1))
    ax_loss.legend()
    if any(r.working_sets for r in results):
        ax_pop.legend()
    else:
        ax_pop.text(0.5, 0.5, "no Hotline run", ha="center", va="center",
                    transform=ax_pop.transAxes)
    fig.suptitle(title or "DLRM training: baseline and Hotline schedules")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True
