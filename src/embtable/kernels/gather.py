"""Row gathers: the embedding forward.

The gather prefetches the row :data:`~._prefetch.PREFETCH_DISTANCE` ids ahead, so that the cache
misses of a large table overlap instead of arriving one at a time. Threads take blocks of ids
from a shared counter (:mod:`embtable.kernels._atomic`), so a thread the operating system
deschedules does not hold the others up at the end of the loop.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ._atomic import fetch_add
from ._cache import CACHE
from ._parallel import launch_blocks, twins
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


_BLOCK = 256  # ids per block of work handed to a thread


def _gather_rows(parallel):
    def gather_rows(weight, ids, out, workers, next_block):
        if parallel:  # the flag lives in the closure; see _parallel.twins
            pass
        num_rows = weight.shape[0]
        dim = weight.shape[1]
        row_bytes = dim * weight.itemsize
        total = ids.shape[0]
        num_blocks = (total + _BLOCK - 1) // _BLOCK
        first_bad = np.full(workers, total, dtype=np.int64)
        for worker in nb.prange(workers):  # one per thread; blocks handed out below
            block = fetch_add(next_block, 0, 1)
            while block < num_blocks:
                for i in range(block * _BLOCK, min(total, (block + 1) * _BLOCK)):
                    # a bad id's prefetch is harmless: a prefetch never faults
                    prefetch_row(weight, ids, i + PREFETCH_DISTANCE, row_bytes)
                    row = ids[i]
                    if row < 0 or row >= num_rows:
                        first_bad[worker] = min(first_bad[worker], i)
                    else:
                        for d in range(dim):
                            out[i, d] = weight[row, d]
                block = fetch_add(next_block, 0, 1)
        bad = first_bad.min()
        return bad if bad < total else -1

    return gather_rows


_GATHER_ROWS = twins(_gather_rows)


def gather_rows(weight, ids, out):
    """``out[i] = weight[ids[i]]`` for every valid id; returns the position of the first id
    outside ``0 .. len(weight) - 1`` (whose row of ``out`` is left unwritten), or -1."""
    return launch_blocks(_GATHER_ROWS, ids.shape[0] * weight.shape[1], weight, ids, out)
