"""Fast bound checks for ids and bag offsets: branch-free scans that LLVM vectorises.

:func:`find_out_of_range` scans blocks of ids for their minimum and maximum (a vectorised
reduction, no early exit to stop LLVM), and looks for the first bad position only in a block
that holds one. :func:`bag_starts_from_offsets` turns torch-style offsets into CSR bag bounds and
finds the first decrease in the same pass. Both trust their inputs' types; the errors are raised
by :mod:`embtable.functional`.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ._cache import CACHE

__all__ = ["bag_starts_from_offsets", "find_out_of_range"]

_BLOCK = 2048  # ids per vectorised block


@nb.njit(cache=CACHE, nogil=True)
def find_out_of_range(ids, num_rows):
    """Position of the first id outside ``0 .. num_rows - 1``, or -1 when all are valid.

    Example:
        >>> int(find_out_of_range(np.array([3, 1, 9, 8]), 8))
        2
    """
    total = ids.shape[0]
    for start in range(0, total, _BLOCK):
        stop = min(total, start + _BLOCK)
        low = np.int64(0)
        high = np.int64(0)
        for i in range(start, stop):
            k = np.int64(ids[i])
            low = min(low, k)
            high = max(high, k)
        if low < 0 or high >= num_rows:
            for i in range(start, stop):
                k = ids[i]
                if k < 0 or k >= num_rows:
                    return i
    return -1


@nb.njit(cache=CACHE, nogil=True)
def bag_starts_from_offsets(offsets, num_ids, include_last_offset, starts):
    """Write CSR bounds ``(B + 1,)`` into ``starts`` from torch-style ``offsets``; return the
    first ``b`` with ``starts[b] > starts[b + 1]``, or -1.

    Without ``include_last_offset`` the bounds are ``offsets`` then ``num_ids``; with it they are
    ``offsets``, the last raised to ``num_ids`` when it lies below and does not follow a
    decrease (torch's rule for pytorch#89677).

    Example:
        >>> starts = np.empty(3, np.int64)
        >>> int(bag_starts_from_offsets(np.array([0, 2]), 5, False, starts)), starts
        (-1, array([0, 2, 5]))
    """
    count = offsets.shape[0]
    for b in range(count):
        starts[b] = offsets[b]
    if include_last_offset:
        last = starts[count - 1]
        if last < num_ids and (count < 2 or starts[count - 2] <= last):
            starts[count - 1] = num_ids
    else:
        starts[count] = num_ids
    bad = np.int64(0)
    for b in range(starts.shape[0] - 1):
        bad |= np.int64(starts[b] > starts[b + 1])
    if bad:
        for b in range(starts.shape[0] - 1):
            if starts[b] > starts[b + 1]:
                return b
    return -1
