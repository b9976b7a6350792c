"""Row gathers: the embedding forward."""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["find_out_of_range", "gather_rows"]

# Below this many ids a parallel launch costs more than it saves.
_PARALLEL_MIN_IDS = 2048


@nb.njit(cache=True, nogil=True)
def find_out_of_range(ids, num_rows):
    """Position of the first id outside ``0 .. num_rows - 1``, or -1 when all are valid."""
    for i in range(ids.shape[0]):
        k = ids[i]
        if k < 0 or k >= num_rows:
            return i
    return -1


@nb.njit(cache=True, nogil=True)
def _gather_rows_serial(weight, ids, out):
    dim = weight.shape[1]
    for i in range(ids.shape[0]):
        row = ids[i]
        for d in range(dim):
            out[i, d] = weight[row, d]


@nb.njit(cache=True, nogil=True, parallel=True)
def _gather_rows_parallel(weight, ids, out):
    dim = weight.shape[1]
    for i in nb.prange(ids.shape[0]):
        row = ids[i]
        for d in range(dim):
            out[i, d] = weight[row, d]


def gather_rows(weight: np.ndarray, ids: np.ndarray, out: np.ndarray) -> None:
    """``out[i] = weight[ids[i]]`` for every position ``i``; all ids must be valid."""
    if ids.shape[0] >= _PARALLEL_MIN_IDS:
        _gather_rows_parallel(weight, ids, out)
    else:
        _gather_rows_serial(weight, ids, out)
