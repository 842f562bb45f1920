"""Train / validation / test parts of a Criteo data set: DLRM's pseudo-days, or random.

``"day"`` (facebookresearch/dlrm ``data_utils.py`` / ``dlrm_data_pytorch.py`` for Kaggle): the
samples, in file order (Criteo's lines are in time order), are cut into 7 pseudo-days of
``n // 7`` samples, the first ``n % 7`` days one longer; days 0-5 train, and the last day is
split in two, its first half (rounded up, ``np.array_split``) the test set and its second half
the validation set. Nothing is shuffled, so training sees time in order and is evaluated on
later samples, as DLRM is.

``"random"``: the same part sizes, the positions drawn by a seeded permutation (DLRM's
``--data-randomize total`` view: no time order). The training part keeps the permutation's
order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DAYS", "SPLITS", "CriteoSplit", "day_sizes", "make_split"]

#: Kaggle's pseudo-days.
DAYS = 7
SPLITS = ("day", "random")


def day_sizes(n_samples: int, days: int = DAYS) -> list[int]:
    """Samples per pseudo-day, as DLRM cuts ``n_samples`` (the first ``n % days`` days longer)."""
    per_day, extra = divmod(int(n_samples), days)
    return [per_day + (1 if d < extra else 0) for d in range(days)]


@dataclass(frozen=True)
class CriteoSplit:
    """Sample positions (0-based, in the data set's stream order) of each part.

    Attributes
    ----------
    kind : {"day", "random"}
    n_samples : int
    train, test, validation : numpy.ndarray of int64
        Positions of each part; ``train`` in training order.
    """

    kind: str
    n_samples: int
    train: np.ndarray
    test: np.ndarray
    validation: np.ndarray

    def describe(self) -> str:
        """e.g. ``"7 pseudo-days in time order: train 86, test 7, validation 7"``."""
        how = ("7 pseudo-days in time order (days 0-5 train, day 6 halved into test and "
               "validation)" if self.kind == "day" else "random (seeded permutation)")
        return (f"{how}: train {len(self.train):,}, test {len(self.test):,}, "
                f"validation {len(self.validation):,}")


def make_split(kind: str, n_samples: int, *, seed: int = 0) -> CriteoSplit:
    """The ``kind`` split of ``n_samples`` samples.

    Raises
    ------
    ValueError
        Unknown ``kind``, or too few samples for a non-empty training and test part (the day
        split needs at least 7).
    """
    if kind not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, not {kind!r}")
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
        raise TypeError(f"n_samples must be an int, not {n_samples!r}")
    sizes = day_sizes(n_samples)
    n_train = sum(sizes[:-1])
    n_test = -(-sizes[-1] // 2)
    if n_train < 1 or n_test < 1:
        raise ValueError(f"{n_samples} samples are too few to split into {DAYS} pseudo-days "
                         f"with a non-empty training and test part (at least 7 are needed)")
    if kind == "day":
        positions = np.arange(n_samples, dtype=np.int64)
    else:
        positions = np.random.default_rng(np.random.SeedSequence([seed, 12])).permutation(
            n_samples).astype(np.int64)
    return CriteoSplit(kind, int(n_samples), positions[:n_train],
                       positions[n_train:n_train + n_test], positions[n_train + n_test:])
