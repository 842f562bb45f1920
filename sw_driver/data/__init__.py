"""DLRM training data: Criteo text, Avazu CSV, synthetic Criteo- and Avazu-shaped generators,
MovieLens-100K.

Criteo files (raw TSV or CSV with header, gzip, several at once) stream through
:class:`CriteoReader`; :class:`CriteoDataset` fixes what a run uses of them (samples, dense ids
or hashed ids, DLRM's day split or a random one) in one pass.

Every source yields :class:`SampleBlock` s (numpy: raw dense features, one row id per table,
labels); :func:`make_dataloader` turns any of them into a PyTorch ``DataLoader`` of DLRM batches
``(dense, offsets, indices, labels)``::

    from sw_driver.data import CriteoReader, SyntheticCriteo, MovieLens100K, make_dataloader

    source = SyntheticCriteo(1_000_000, scale=1e-3, seed=0)   # or CriteoReader("train.txt", ...)
    for dense, offsets, indices, labels in make_dataloader(source, batch_size=2048):
        ...

Only the loader needs torch, and it is imported on first use of :func:`make_dataloader`,
:func:`to_batch`, :class:`DLRMBatch` or :class:`DLRMBatchDataset`, so the golden model and the
generators run with numpy alone.
"""

from .avazu import (
    AVAZU_N_SAMPLES,
    AVAZU_TABLE_SIZES,
    AvazuFormatError,
    AvazuReader,
    SyntheticAvazu,
)
from .criteo import (
    CriteoFormatError,
    CriteoReader,
    CriteoReadStats,
    CriteoSkippedLinesWarning,
    read_criteo,
    write_criteo,
)
from .criteo_dataset import CriteoDataset
from .criteo_split import CriteoSplit, make_split
from .criteo_vocabulary import CriteoVocabulary
from .movielens import MovieLens100K, find_movielens_100k
from .samples import SampleBlock, SampleSource, iter_minibatches
from .synthetic import KAGGLE_N_SAMPLES, KAGGLE_TABLE_SIZES, SyntheticCriteo, scaled_table_sizes

__all__ = [
    "AVAZU_N_SAMPLES",
    "AVAZU_TABLE_SIZES",
    "AvazuFormatError",
    "AvazuReader",
    "SyntheticAvazu",
    "KAGGLE_N_SAMPLES",
    "KAGGLE_TABLE_SIZES",
    "CriteoDataset",
    "CriteoFormatError",
    "CriteoReadStats",
    "CriteoReader",
    "CriteoSkippedLinesWarning",
    "CriteoSplit",
    "CriteoVocabulary",
    "DLRMBatch",
    "DLRMBatchDataset",
    "MovieLens100K",
    "SampleBlock",
    "SampleSource",
    "SyntheticCriteo",
    "find_movielens_100k",
    "iter_minibatches",
    "make_split",
    "make_dataloader",
    "read_criteo",
    "scaled_table_sizes",
    "to_batch",
    "write_criteo",
]

_TORCH_NAMES = frozenset({"DLRMBatch", "DLRMBatchDataset", "make_dataloader", "to_batch"})


def __getattr__(name: str):
    # Deferred so that importing sw_driver.data (e.g. from the golden model) does not need torch.
    if name in _TORCH_NAMES:
        from . import loader

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
