"""Click-prediction metrics, as DLRM reports them: accuracy, ROC AUC, log loss.

numpy only (scikit-learn is not a dependency). Computed from logits in float64 so that the log
loss of confident predictions is exact rather than clipped.
"""

from __future__ import annotations

import numpy as np

__all__ = ["binary_metrics", "roc_auc"]


def roc_auc(scores, labels) -> float:
    """Area under the ROC curve (Mann-Whitney U; tied scores count one half).

    Any monotone transform of ``scores`` (logits or probabilities) gives the same value.
    Returns NaN when all labels are equal.
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels).ravel() > 0.5
    n_pos = int(labels.sum())
    n_neg = labels.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    # Average 1-based rank of each run of tied scores.
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    counts = np.diff(np.r_[starts, scores.size])
    run_rank = starts + (counts + 1) / 2.0
    ranks = np.empty(scores.size)
    ranks[order] = np.repeat(run_rank, counts)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def binary_metrics(logits, labels) -> dict[str, float]:
    """``accuracy`` (threshold 0.5), ``auc``, ``logloss`` (mean binary cross-entropy), ``n``.

    ``logits`` are pre-sigmoid scores, ``labels`` 0/1, any shapes with the same size.
    """
    z = np.asarray(logits, dtype=np.float64).ravel()
    y = np.asarray(labels, dtype=np.float64).ravel()
    if z.size != y.size:
        raise ValueError(f"{z.size} scores for {y.size} labels")
    if z.size == 0:
        raise ValueError("no samples to evaluate")
    # BCE(sigmoid(z), y) = softplus(z) - y * z, stable for any z.
    logloss = float(np.mean(np.logaddexp(0.0, z) - y * z))
    accuracy = float(np.mean((z > 0) == (y > 0.5)))
    return {"accuracy": accuracy, "auc": roc_auc(z, y), "logloss": logloss, "n": int(z.size)}
