"""``max_norm``: rescale rows whose norm exceeds a bound, in place."""

from __future__ import annotations

import math

import numba as nb

from ._atomic import fetch_add
from ._cache import CACHE
from ._parallel import launch_blocks, twins

__all__ = ["renorm_rows_"]

_BLOCK = 64  # rows per block of work handed to a thread (from a shared counter: _atomic)


@nb.njit(cache=CACHE, nogil=True, inline="always")
def _row_norm(weight, row, norm_type):
    dim = weight.shape[1]
    acc = 0.0
    if norm_type == math.inf:
        for d in range(dim):
            acc = max(acc, abs(weight[row, d]))
        return acc
    if norm_type == -math.inf:
        acc = math.inf
        for d in range(dim):
            acc = min(acc, abs(weight[row, d]))
        return acc if dim > 0 else 0.0
    if norm_type == 0.0:
        for d in range(dim):
            if weight[row, d] != 0:
                acc += 1.0
        return acc
    if norm_type == 1.0:
        for d in range(dim):
            acc += abs(weight[row, d])
        return acc
    if norm_type == 2.0:
        for d in range(dim):
            acc += float(weight[row, d]) * float(weight[row, d])
        return math.sqrt(acc)
    for d in range(dim):
        acc += abs(float(weight[row, d])) ** norm_type
    return acc ** (1.0 / norm_type)


def _renorm_rows(parallel):
    def renorm_rows_(weight, rows, max_norm, norm_type, workers, next_block):
        if parallel:  # the flag lives in the closure; see _parallel.twins
            pass
        dim = weight.shape[1]
        count = rows.shape[0]
        num_blocks = (count + _BLOCK - 1) // _BLOCK
        for _worker in nb.prange(workers):  # one per thread; blocks handed out below
            block = fetch_add(next_block, 0, 1)
            while block < num_blocks:
                for k in range(block * _BLOCK, min(count, (block + 1) * _BLOCK)):
                    row = rows[k]
                    norm = _row_norm(weight, row, norm_type)
                    if norm > max_norm:
                        scale = max_norm / (norm + 1e-7)
                        for d in range(dim):
                            weight[row, d] *= scale
                block = fetch_add(next_block, 0, 1)

    return renorm_rows_


_RENORM_ROWS = twins(_renorm_rows)


def renorm_rows_(weight, rows, max_norm, norm_type):
    """Scale each ``weight[rows[k]]`` whose norm exceeds ``max_norm`` by
    ``max_norm / (norm + 1e-7)``.

    ``rows`` must be unique, so no two threads touch the same row.
    """
    launch_blocks(_RENORM_ROWS, rows.shape[0] * weight.shape[1], weight, rows, max_norm, norm_type)
