"""``make paper``'s generator calibration: the oracle's popular share in closed form, and the
per-shape Zipf exponent fitted to the paper's figure.

The figure the paper's experiments turn on is the share of *popular* inputs (every lookup hits
the hot set) with an oracle hot set of the EAL's size, 2M rows (Fig. 10 / FAE Fig. 1B: Kaggle
75.8%, Terabyte 81.6%, Avazu 74.6%). For the generator's model (independent tables, table ``t``
draws rank ``r`` with ``P(r) = (r + 1) ** -alpha / H(R_t, alpha)``) that share has a closed
form. The oracle takes the ``N`` rows of largest probability over all tables (each sample looks
up every table once, so expected counts rank rows as probabilities do): every row above a
threshold ``x``, i.e. the top ``k_t(x) = min(R_t, floor((x H(R_t, alpha)) ** (-1 / alpha)))``
ranks of each table, with ``sum_t k_t = N``; a sample is popular with probability
``prod_t H(k_t, alpha) / H(R_t, alpha)``. ``H(n, alpha)`` (the generalised harmonic number) is
summed exactly up to 4096 terms and by Euler-Maclaurin beyond (error below 1e-12 relative).

:func:`fit_alpha` finds by bisection the exponent that gives the paper's share for a shape;
``FITTED_ALPHA`` holds the results (``python scripts/paper_calibration.py`` recomputes them in
a second), which ``make paper``'s generators use. Measured at the fitted exponents (``make
paper`` reports both the closed form and the measured oracle):

* Kaggle: 1.15 (FBGEMM's training figure) already gives 75.7% against 75.8% (fit 1.1503): kept.
* Terabyte: 1.15 gives 67.6% (14 points short); the fit is 1.2153.
* Avazu: 1.15 gives 95.3% (21 points over: Avazu's two big tables hold 99% of its rows,
  the 19 others fit in the hot set whole); the fit is 0.9353.

What is not fitted, and why: Criteo Kaggle's "top 6.8% of rows take >= 76% of the accesses"
cannot be met together with the 75.8% popular share by independent per-table Zipf laws. The
16 tables under 100K rows sit wholly in the top 6.8% and take 16/26 = 62% of the accesses
whatever the exponent; 76% then leaves the 10 large tables' heads 36% of their accesses, and
with heads that weak the chance that all 10 lookups of a sample hit is far below 75%. Real
Criteo reaches both through what this model leaves out: correlated lookups across tables
(the same ad, the same user) and missing values (one empty-string row per column taking a
large share). The popular share is what the paper's figures measure, so it is the one fitted;
the access share is reported, not fitted.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

__all__ = ["FITTED_ALPHA", "PAPER_ORACLE", "fit_alpha", "harmonic", "oracle_popular"]

#: The paper's oracle popular share per data set (FAE Fig. 1B / Hotline Fig. 3), at the EAL's
#: 2M entries.
PAPER_ORACLE = {"kaggle": 0.758, "terabyte": 0.816, "avazu": 0.746}
#: Rows of the oracle hot set the figures are for: the paper's EAL (2M entries).
ORACLE_ROWS = 1 << 21
#: Zipf exponent per shape: :func:`fit_alpha` of ``PAPER_ORACLE`` at scale 1 (Kaggle kept at
#: FBGEMM's 1.15, 0.1 point from its fit). Recompute with ``python
#: scripts/paper_calibration.py``.
FITTED_ALPHA = {"kaggle": 1.15, "terabyte": 1.2153, "avazu": 0.9353}

_EXACT_TERMS = 4096


def harmonic(n: int, alpha: float) -> float:
    """``sum_{r=1}^{n} r ** -alpha`` (exact below 4096 terms, Euler-Maclaurin above)."""
    n = int(n)
    m = min(n, _EXACT_TERMS)
    total = math.fsum(r ** -alpha for r in range(1, m + 1))
    if n > m:
        if abs(alpha - 1.0) < 1e-12:
            integral = math.log(n / m)
        else:
            integral = (n ** (1 - alpha) - m ** (1 - alpha)) / (1 - alpha)
        total += (integral + (n ** -alpha - m ** -alpha) / 2
                  + alpha * (m ** (-alpha - 1) - n ** (-alpha - 1)) / 12)
    return total


def _top_ranks(sizes, alpha: float, rows: int) -> list[int]:
    """``k_t``: ranks of each table in the oracle's ``rows`` most probable rows (ties at the
    threshold broken toward fewer rows, so the sum is at most ``rows``)."""
    if rows >= sum(sizes):
        return list(sizes)
    z = [harmonic(r, alpha) for r in sizes]

    def ranks(log_x: float) -> list[int]:
        out = []
        for size, zt in zip(sizes, z):
            # (r)^-alpha / z >= x  <=>  r <= (x z)^(-1/alpha); r counts from 1.
            bound = math.exp(-(log_x + math.log(zt)) / alpha)
            out.append(int(min(size, math.floor(bound * (1 + 1e-12)))))
        return out

    lo, hi = -200.0, 0.0                            # log of the threshold probability
    for _ in range(200):
        mid = (lo + hi) / 2
        if sum(ranks(mid)) > rows:
            lo = mid
        else:
            hi = mid
    return ranks(hi)


def oracle_popular(sizes, alpha: float, rows: int = ORACLE_ROWS) -> float:
    """Closed-form popular share with the oracle's ``rows`` most probable rows (module
    docstring)."""
    share = 1.0
    for size, k in zip(sizes, _top_ranks(sizes, alpha, rows)):
        share *= harmonic(k, alpha) / harmonic(size, alpha) if k else 0.0
    return share


def fit_alpha(sizes, target: float, rows: int = ORACLE_ROWS, lo: float = 0.5,
              hi: float = 2.5) -> float:
    """The exponent whose :func:`oracle_popular` is ``target`` (bisection; the share grows
    with ``alpha``), to 1e-4."""
    if not oracle_popular(sizes, lo, rows) <= target <= oracle_popular(sizes, hi, rows):
        raise ValueError(f"no exponent in [{lo}, {hi}] gives a popular share of {target}")
    while hi - lo > 1e-5:
        mid = (lo + hi) / 2
        if oracle_popular(sizes, mid, rows) < target:
            lo = mid
        else:
            hi = mid
    return round((lo + hi) / 2, 4)


def main() -> int:
    from scripts.paper_shapes import SHAPES

    for name, shape in SHAPES.items():
        fitted = fit_alpha(shape.table_sizes, PAPER_ORACLE[name])
        print(f"{name}: oracle popular at 1.15: "
              f"{oracle_popular(shape.table_sizes, 1.15):.4f}, fitted alpha {fitted} "
              f"(-> {oracle_popular(shape.table_sizes, fitted):.4f}, paper "
              f"{PAPER_ORACLE[name]}); used: {FITTED_ALPHA[name]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
