"""How much host memory a DLRM training run will take, estimated before anything is allocated.

The embedding tables dominate: ``rows x dim x 4`` bytes of float32 each. A trainer holds more
than one copy at its peak: DLRM's initial rows are drawn in float64 (2 copies' worth), cast to
float32 (1) and copied into the ``EmbeddingBag`` (1). Measured with one table of 2M rows at
dim 16 (peak RSS over the table's float32 bytes): :class:`~sw_driver.dlrm.BaselineTrainer` 4.1
while it builds, 1.9 after training; :class:`~sw_driver.dlrm.AcceleratorTrainer` (model on the
training device plus the host image the gather engine reads) 3.0 at its peak, 2.4 after
training. Runs that build one trainer at a time therefore peak at about
:data:`PEAK_TABLE_COPIES` copies of the tables; the estimate adds the vocabulary (8 bytes per
distinct value) and the samples held in memory.

:func:`check_fits` refuses a run whose estimate exceeds the limit with
:class:`ModelTooLargeError`, whose message says what to change (the caller names its flags).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["PEAK_TABLE_COPIES", "MemoryEstimate", "ModelTooLargeError", "available_memory",
           "check_dataset_fits", "check_fits", "estimate_training_memory", "format_bytes",
           "largest_fitting_max_ind_range"]

#: Copies of the float32 tables at a trainer's peak (measured 4.1, see the module notes).
PEAK_TABLE_COPIES = 4.5
#: Bytes per sample held in memory: 26 int64 ids, 13 int64 dense values, a float32 label, and
#: as much again while blocks are concatenated.
BYTES_PER_SAMPLE = 2 * (26 * 8 + 13 * 8 + 4)


def format_bytes(n: float) -> str:
    """``n`` bytes for people: ``"81.2 KB"``, ``"15.2 GB"`` (powers of 1000)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("not reached")


@dataclass(frozen=True)
class MemoryEstimate:
    """The estimated peak host memory of a training run.

    Attributes
    ----------
    rows : int
        Rows of all embedding tables.
    dim : int
        Embedding dimension.
    table_bytes : int
        One float32 copy of the tables.
    vocabulary_bytes : int
        The id vocabulary (0 with hashed ids).
    sample_bytes : int
        Samples held in memory at once.
    total_bytes : int
        ``PEAK_TABLE_COPIES * table_bytes + vocabulary_bytes + sample_bytes``.
    """

    rows: int
    dim: int
    table_bytes: int
    vocabulary_bytes: int
    sample_bytes: int
    total_bytes: int

    def describe(self) -> str:
        """One line for a report."""
        return (f"{self.rows:,} embedding rows x dim {self.dim} = "
                f"{format_bytes(self.table_bytes)}; about {format_bytes(self.total_bytes)} at "
                f"the training peak ({PEAK_TABLE_COPIES:g} copies of the tables, vocabulary "
                f"{format_bytes(self.vocabulary_bytes)}, samples "
                f"{format_bytes(self.sample_bytes)})")


def estimate_training_memory(table_sizes: Sequence[int], dim: int, *, vocabulary_values: int = 0,
                             samples_held: int = 0) -> MemoryEstimate:
    """The :class:`MemoryEstimate` of training DLRM with these tables (nothing is allocated)."""
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ValueError(f"dim must be a positive int, not {dim!r}")
    rows = sum(int(s) for s in table_sizes)
    if rows < 0 or any(int(s) < 0 for s in table_sizes):
        raise ValueError(f"table sizes must be >= 0, not {list(table_sizes)}")
    table = rows * dim * 4
    vocabulary = 8 * int(vocabulary_values)
    samples = BYTES_PER_SAMPLE * int(samples_held)
    total = round(PEAK_TABLE_COPIES * table) + vocabulary + samples
    return MemoryEstimate(rows, dim, table, vocabulary, samples, total)


def available_memory() -> int:
    """Memory the system can give this process now (``MemAvailable``; total RAM elsewhere)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def largest_fitting_max_ind_range(table_sizes: Sequence[int], dim: int, limit_bytes: int, *,
                                  other_bytes: int = 0) -> int:
    """The largest ``m`` such that tables of ``min(size, m)`` rows fit ``limit_bytes`` at the
    training peak (0 if not even one row per table fits)."""
    sizes = [int(s) for s in table_sizes]

    def peak(m: int) -> float:
        return PEAK_TABLE_COPIES * sum(min(s, m) for s in sizes) * dim * 4 + other_bytes

    low, high = 0, max(sizes, default=0)
    while low < high:
        mid = (low + high + 1) // 2
        if peak(mid) <= limit_bytes:
            low = mid
        else:
            high = mid - 1
    return low


class ModelTooLargeError(MemoryError):
    """The estimated training memory exceeds the limit; nothing was allocated.

    Attributes
    ----------
    estimate : MemoryEstimate
    limit_bytes : int
    advice : str
        What makes the run fit (the caller's flags).
    """

    def __init__(self, estimate: MemoryEstimate, limit_bytes: int, advice: str) -> None:
        super().__init__(
            f"the model does not fit: {estimate.describe()}, over the limit of "
            f"{format_bytes(limit_bytes)}; {advice}")
        self.estimate = estimate
        self.limit_bytes = limit_bytes
        self.advice = advice

    def __reduce__(self):
        return type(self), (self.estimate, self.limit_bytes, self.advice)


def check_fits(estimate: MemoryEstimate, limit_bytes: int, advice: str) -> None:
    """Raise :class:`ModelTooLargeError` (with ``advice``) if ``estimate`` exceeds the limit."""
    if estimate.total_bytes > limit_bytes:
        raise ModelTooLargeError(estimate, int(limit_bytes), advice)


def check_dataset_fits(dataset, dim: int, *, limit_bytes: int | None = None,
                       samples_held: int = 0) -> MemoryEstimate:
    """Estimate training on ``dataset`` (a :class:`~sw_driver.data.CriteoDataset`) and refuse
    it if it exceeds ``limit_bytes`` (default :func:`available_memory`).

    The refusal's advice names the command-line flags ``make sim`` and ``python -m
    sw_driver.dlrm`` share: ``--ids vocabulary`` for hashed ids, else the largest
    ``--max-ind-range`` that fits, or fewer ``--samples``; and ``--memory-limit``.
    """
    sizes = dataset.table_sizes
    vocabulary = sum(sizes) if dataset.ids == "vocabulary" else 0
    estimate = estimate_training_memory(sizes, dim, vocabulary_values=vocabulary,
                                        samples_held=samples_held)
    limit = available_memory() if limit_bytes is None else int(limit_bytes)
    other = estimate.vocabulary_bytes + estimate.sample_bytes
    fitting = largest_fitting_max_ind_range(sizes, dim, limit, other_bytes=other)
    if dataset.ids == "hash":
        advice = ("use --ids vocabulary (the default: one row per distinct value in the data)"
                  + (f" or --max-ind-range {fitting} or less" if fitting else ""))
    elif fitting:
        advice = (f"use --max-ind-range {fitting} (each column hashed into that many rows "
                  f"before renumbering) or fewer --samples")
    else:
        advice = "use fewer --samples"
    check_fits(estimate, limit, advice + " (or --memory-limit, in GB, if the memory is there)")
    return estimate
