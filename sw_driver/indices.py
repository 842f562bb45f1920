"""Index inputs of the host API, normalised at the call.

Users hand the driver indices of many types: Python ints, numpy scalars and arrays of any
integer dtype, torch integer tensors on any device (what a ``DataLoader`` yields). The wire
encoder packs plain Python ints; numpy scalars shifted and OR-ed at their fixed width corrupt
silently. Every public entry point therefore converts its index arguments here, once, to plain
non-negative Python ints, or raises a named error at the call:

* :class:`TypeError` for a value that is not an integer (floats, bools, strings, ``None``, ...);
* :class:`ValueError` for a negative integer, or a key that is not a ``(table, row)`` pair.

Upper bounds (index-field widths, table sizes) are checked by the caller, which knows them.
"""

from __future__ import annotations

import numbers
import operator

import numpy as np

__all__ = ["as_index", "as_keys", "as_sample_array", "as_samples", "is_index_scalar"]


def _is_torch(value) -> bool:
    return type(value).__module__.split(".")[0] == "torch"


def _describe(value) -> str:
    if isinstance(value, np.ndarray) or _is_torch(value):
        return f"{type(value).__name__} of dtype {value.dtype}"
    return f"{type(value).__name__} {value!r}"[:80]


def _torch_to_numpy(tensor) -> np.ndarray:
    """A torch tensor as a numpy array (any device); bool and floating dtypes kept, so the
    dtype check below names them."""
    return tensor.detach().cpu().numpy()


def is_index_scalar(value) -> bool:
    """Whether ``value`` is one integer (Python, numpy, or a 0-d integer array / tensor)."""
    if isinstance(value, bool) or isinstance(value, np.bool_):
        return False
    if isinstance(value, numbers.Integral):
        return True
    if isinstance(value, np.ndarray) or _is_torch(value):
        return getattr(value, "ndim", None) == 0 and _integer_dtype(value)
    return False


def _integer_dtype(array) -> bool:
    if _is_torch(array):
        import torch
        return not (array.dtype.is_floating_point or array.dtype.is_complex
                    or array.dtype == torch.bool)
    return array.dtype.kind in "iu"


def as_index(value, what: str) -> int:
    """``value`` as a non-negative Python int; ``what`` names it in the error."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be an integer, not a bool ({value!r})")
    if isinstance(value, (np.ndarray,)) or _is_torch(value):
        if value.ndim != 0:
            raise TypeError(f"{what} must be one integer, not an array of shape "
                            f"{tuple(value.shape)}")
        if not _integer_dtype(value):
            raise TypeError(f"{what} must be an integer, not a {_describe(value)}")
        value = value.item()
    try:
        number = operator.index(value)        # ints, numpy integer scalars; not floats
    except TypeError:
        raise TypeError(f"{what} must be an integer, not a {_describe(value)}") from None
    if number < 0:
        raise ValueError(f"{what} must not be negative (got {number})")
    return int(number)


def _as_key_array(keys, what: str) -> np.ndarray | None:
    """``keys`` as an ``(n, 2)`` integer numpy array if it is an array or tensor, else None."""
    if _is_torch(keys):
        keys = _torch_to_numpy(keys)
    if not isinstance(keys, np.ndarray):
        return None
    if keys.dtype.kind not in "iu":
        raise TypeError(f"{what}: indices must be integers, not an array of dtype {keys.dtype}")
    if keys.ndim != 2 or keys.shape[1] != 2:
        raise ValueError(f"{what}: keys must have shape (lookups, 2) = (table, row) pairs, "
                         f"not {keys.shape}")
    if keys.size and keys.dtype.kind == "i" and keys.min() < 0:
        bad = np.argwhere(keys < 0)[0]
        raise ValueError(f"{what}, lookup {bad[0]}: {('table', 'row')[bad[1]]} must not be "
                         f"negative (got {keys[tuple(bad)]})")
    return keys


def as_keys(keys, what: str) -> list[tuple[int, int]]:
    """The ``(table, row)`` lookups of one sample as Python ints: a sequence of pairs, or an
    integer array / tensor of shape ``(lookups, 2)``."""
    array = _as_key_array(keys, what)
    if array is not None:
        return [(int(t), int(r)) for t, r in array.tolist()]
    if isinstance(keys, (str, bytes)) or not hasattr(keys, "__iter__"):
        raise TypeError(f"{what}: keys must be a sequence of (table, row) pairs, not "
                        f"{_describe(keys)}")
    out = []
    for k, key in enumerate(keys):
        if type(key) is tuple and len(key) == 2 and type(key[0]) is int \
                and type(key[1]) is int and key[0] >= 0 and key[1] >= 0:
            out.append(key)                    # the common case, plain ints: no conversion
            continue
        try:
            table, row = key
        except (TypeError, ValueError):
            raise ValueError(f"{what}, lookup {k}: a key is a (table, row) pair, not "
                             f"{_describe(key)}") from None
        out.append((as_index(table, f"{what}, lookup {k}: table"),
                    as_index(row, f"{what}, lookup {k}: row")))
    return out


def as_sample_array(samples) -> np.ndarray | None:
    """A batch of samples given as one integer array / tensor ``(samples, lookups, 2)``, checked
    at once (integer dtype, shape, no negative index: the errors :func:`as_samples` raises),
    as a numpy array; ``None`` for any other form of ``samples``."""
    if _is_torch(samples):
        samples = _torch_to_numpy(samples)
    if not isinstance(samples, np.ndarray):
        return None
    if samples.dtype.kind not in "iu":
        raise TypeError(f"samples: indices must be integers, not an array of dtype "
                        f"{samples.dtype}")
    if samples.ndim != 3 or samples.shape[2] != 2:
        raise ValueError(f"samples as an array must have shape (samples, lookups, 2), "
                         f"not {samples.shape}")
    if samples.size and samples.dtype.kind == "i" and samples.min() < 0:
        n, k, column = (int(v) for v in np.argwhere(samples < 0)[0])
        raise ValueError(f"sample {n}, lookup {k}: {('table', 'row')[column]} must not be "
                         f"negative (got {samples[n, k, column]})")
    return samples


def as_samples(samples) -> list[tuple[int | None, list[tuple[int, int]]]]:
    """Samples as ``(sample id or None, keys)``: each sample is ``(sample_id, keys)`` or just
    its keys; an integer array / tensor of shape ``(samples, lookups, 2)`` is a batch of
    samples given by their keys."""
    array = as_sample_array(samples)
    if array is not None:
        return [(None, [(t, r) for t, r in sample]) for sample in array.tolist()]
    if isinstance(samples, (str, bytes)) or not hasattr(samples, "__iter__"):
        raise TypeError(f"samples must be a sequence of samples, not {_describe(samples)}")
    out = []
    for n, sample in enumerate(samples):
        if isinstance(sample, tuple) and len(sample) == 2 and is_index_scalar(sample[0]) \
                and not is_index_scalar(sample[1]):
            sample_id = as_index(sample[0], f"sample {n}: sample id")
            out.append((sample_id, as_keys(sample[1], f"sample {n} (id {sample_id})")))
        else:
            out.append((None, as_keys(sample, f"sample {n}")))
    return out
