"""Fast bound checks for ids and bag offsets: branch-free scans that LLVM vectorises.

:func:`find_out_of_range` scans blocks of ids for their minimum and maximum (a vectorised
reduction, no early exit to stop LLVM), and looks for the first bad position only in a block
that holds one. :func:`bag_starts_from_offsets` turns torch-style offsets into CSR bag bounds and
finds the first decrease in the same pass. :func:`copy_ids_checked` copies ids while it checks
them, and :func:`plan_offset_bags` does all of a 1-D bag plan's work in one call (bounds, their
checks, the ids' copy and check), so that planning reads the caller's ids once. All trust their
inputs' types; the errors are raised by :mod:`embtable.functional`.

The copies go into read-only arrays backed by fresh ``bytes`` objects that nothing else holds yet
(:func:`embtable.functional._fresh_frozen`): :func:`writable` gives a kernel a writable view of
such an array. That is how CPython fills a ``bytes`` object it creates uninitialised; once the
kernel returns, the memory is never written again.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import types
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic

from ._cache import CACHE

__all__ = [
    "bag_starts_from_offsets",
    "copy_ids_checked",
    "find_out_of_range",
    "plan_offset_bags",
    "writable",
]

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


@intrinsic
def writable(typingctx, array):  # pragma: no cover - compiled
    """The same array, typed writable: for filling a fresh read-only array that this process
    has just created (see the module's docstring), never for a caller's array."""
    if not isinstance(array, types.Array):
        return None
    result = array.copy(readonly=False)

    def codegen(context, builder, signature, args):
        return impl_ret_borrowed(context, builder, result, args[0])

    return result(array), codegen


@nb.njit(cache=CACHE, nogil=True)
def _copy_ids_checked(ids, num_rows, out):
    total = ids.shape[0]
    for start in range(0, total, _BLOCK):
        stop = min(total, start + _BLOCK)
        low = np.int64(0)
        high = np.int64(0)
        for i in range(start, stop):
            k = ids[i]
            out[i] = k  # checked below as copied: a later change of ids changes nothing
            low = min(low, np.int64(k))
            high = max(high, np.int64(k))
        if low < 0 or high >= num_rows:
            for i in range(start, stop):
                k = out[i]
                if k < 0 or k >= num_rows:
                    return i
    return -1


@nb.njit(cache=CACHE, nogil=True)
def copy_ids_checked(ids, num_rows, out):
    """Copy ``ids`` into ``out`` (same length and dtype; may be a fresh read-only array, see
    :func:`writable`) and return the position of the first copied id outside
    ``0 .. num_rows - 1``, or -1: one pass over ``ids``. After a bad id the copy may be
    incomplete (the caller then raises).

    Example:
        >>> out = np.empty(4, np.int64)
        >>> int(copy_ids_checked(np.array([3, 1, 9, 8]), 8, out)), out
        (2, array([3, 1, 9, 8]))
    """
    return _copy_ids_checked(ids, num_rows, writable(out))


@nb.njit(cache=CACHE, nogil=True)
def plan_offset_bags(ids, offsets, num_rows, include_last_offset, out_ids, out_starts):
    """A 1-D bag plan in one pass: CSR bounds from torch-style ``offsets`` into ``out_starts``
    (as :func:`bag_starts_from_offsets`) and the ids copied into ``out_ids`` (as
    :func:`copy_ids_checked`). Returns -1 when the offsets and ids are all valid, else 0 (the
    caller then redoes the checks in torch's order to raise the right error). ``offsets`` must
    not be empty.

    Example:
        >>> ids, starts = np.empty(5, np.int64), np.empty(3, np.int64)
        >>> given = np.array([1, 2, 4, 5, 4])
        >>> int(plan_offset_bags(given, np.array([0, 2]), 6, False, ids, starts))
        -1
        >>> starts
        array([0, 2, 5])
    """
    num_ids = ids.shape[0]
    count = offsets.shape[0]
    starts = writable(out_starts)
    if bag_starts_from_offsets(offsets, num_ids, include_last_offset, starts) >= 0:
        return 0
    if starts[0] != 0 or starts[count - 1] > num_ids:
        return 0
    if _copy_ids_checked(ids, num_rows, writable(out_ids)) >= 0:
        return 0
    return -1
