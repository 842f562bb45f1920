"""``make paper``'s data-set shapes: table sizes, epoch, learning window, the paper's figures and
the generator for each of Criteo Kaggle, Criteo Terabyte and Avazu."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from scripts.paper_calibration import FITTED_ALPHA, PAPER_ORACLE  # noqa: E402
from sw_driver.data import (AVAZU_N_SAMPLES, AVAZU_TABLE_SIZES, KAGGLE_N_SAMPLES,  # noqa: E402
                            KAGGLE_TABLE_SIZES, SyntheticAvazu, SyntheticCriteo,
                            scaled_table_sizes)

__all__ = ["SHAPES", "Shape", "TERABYTE_TABLE_SIZES"]

#: Criteo Terabyte's 26 tables at dlrm's ``max_ind_range=10000000`` (shared/reference/data.md).
TERABYTE_TABLE_SIZES = (
    9980333, 36084, 17217, 7378, 20134, 3, 7112, 1442, 61, 9758201, 1333352, 313829, 10, 2208,
    11156, 122, 4, 970, 14, 9994222, 7267859, 9946608, 415421, 12420, 101, 36)


@dataclass(frozen=True)
class Shape:
    """One data set as ``make paper`` generates it.

    ``epoch``: samples of the experiment's epoch at scale 1; ``window``: the paper's learning
    window (share of the epoch's mini-batches); ``paper_oracle`` / ``paper_srrip``: Fig. 10's
    popular shares; ``alpha``: the generator's fitted Zipf exponent
    (:mod:`scripts.paper_calibration`)."""

    name: str
    table_sizes: tuple[int, ...]
    epoch: int
    window: float
    paper_oracle: float
    paper_srrip: float
    alpha: float

    def source(self, n: int, *, scale: float, seed: int, drift: float = 0.0,
               alpha: float | None = None):
        """The generator of ``n`` samples with the tables scaled by ``scale``."""
        cls = SyntheticAvazu if self.name == "avazu" else SyntheticCriteo
        return cls(n, table_sizes=scaled_table_sizes(scale, self.table_sizes), seed=seed,
                   alpha=self.alpha if alpha is None else alpha, drift=drift)


SHAPES = {
    # Kaggle: 45.8M samples, 5% window (the paper's), 76% -> 70% (Fig. 10).
    "kaggle": Shape("kaggle", KAGGLE_TABLE_SIZES, KAGGLE_N_SAMPLES, 0.05,
                    PAPER_ORACLE["kaggle"], 0.70, FITTED_ALPHA["kaggle"]),
    # Terabyte: 4.4 billion samples in 24 days; the experiment takes a Kaggle-length slice
    # (45.8M, a quarter of a day) so that the three shapes cost alike; 5% window; 81 -> 79.
    "terabyte": Shape("terabyte", TERABYTE_TABLE_SIZES, KAGGLE_N_SAMPLES, 0.05,
                      PAPER_ORACLE["terabyte"], 0.79, FITTED_ALPHA["terabyte"]),
    # Avazu: 40.4M samples, 15% window (the paper's for Avazu), 75 -> 72.
    "avazu": Shape("avazu", AVAZU_TABLE_SIZES, AVAZU_N_SAMPLES, 0.15,
                   PAPER_ORACLE["avazu"], 0.72, FITTED_ALPHA["avazu"]),
}
