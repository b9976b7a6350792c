"""Row gathers: the embedding forward.

The gather prefetches the row :data:`~._prefetch.PREFETCH_DISTANCE` ids ahead, so that the cache
misses of a large table overlap instead of arriving one at a time.
"""

from __future__ import annotations

import numba as nb

from ._cache import CACHE
from ._parallel import pick, twins
from ._prefetch import PREFETCH_DISTANCE, prefetch_row

__all__ = ["find_out_of_range", "gather_rows"]


@nb.njit(cache=CACHE, nogil=True)
def find_out_of_range(ids, num_rows):
    """Position of the first id outside ``0 .. num_rows - 1``, or -1 when all are valid."""
    for i in range(ids.shape[0]):
        k = ids[i]
        if k < 0 or k >= num_rows:
            return i
    return -1


def _gather_rows(parallel):
    def gather_rows(weight, ids, out):
        if parallel:  # the flag lives in the closure; see _parallel.twins
            pass
        num_rows = weight.shape[0]
        dim = weight.shape[1]
        row_bytes = dim * weight.itemsize
        total = ids.shape[0]
        first_bad = total
        for i in nb.prange(total):
            # a bad id's prefetch is harmless: a prefetch never faults
            prefetch_row(weight, ids, i + PREFETCH_DISTANCE, row_bytes)
            row = ids[i]
            if row < 0 or row >= num_rows:
                first_bad = min(first_bad, i)
            else:
                for d in range(dim):
                    out[i, d] = weight[row, d]
        return first_bad if first_bad < total else -1

    return gather_rows


_GATHER_ROWS = twins(_gather_rows)


def gather_rows(weight, ids, out):
    """``out[i] = weight[ids[i]]`` for every valid id; returns the position of the first id
    outside ``0 .. len(weight) - 1`` (whose row of ``out`` is left unwritten), or -1."""
    return pick(_GATHER_ROWS, ids.shape[0] * weight.shape[1])(weight, ids, out)
