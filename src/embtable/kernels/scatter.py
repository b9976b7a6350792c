"""Scatter-adds: the embedding (and bag) backward, dense and row-sparse.

Both are deterministic and race-free. The dense kernel splits the *output* rows into one range per
thread; each thread scans all ids and adds only the positions that fall in its range, in input
order, so a row's sum is accumulated in the same order as torch's ``index_add_``. The row-sparse
kernel works on ids sorted stably, one group of equal ids per output row, so each output row is
written by one thread only.

A source row is ``src[src_index[i]]`` (``src[i]`` when ``use_src_index`` is false: the embedding
backward, where ``src`` is ``grad_output``; the bag backward maps positions to bags) times
``scale[i]`` (1 when ``use_scale`` is false).
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["scatter_add_rows", "segment_sum_rows", "sorted_groups"]


@nb.njit(cache=True, nogil=True, parallel=True)
def _scatter_add_rows(ids, src, src_index, use_src_index, scale, use_scale, padding_idx,
                      num_parts, out):
    num_rows = out.shape[0]
    dim = out.shape[1]
    for part in nb.prange(num_parts):
        lo = part * num_rows // num_parts
        hi = (part + 1) * num_rows // num_parts
        for i in range(ids.shape[0]):
            row = ids[i]
            if row < lo or row >= hi or row == padding_idx:
                continue
            j = src_index[i] if use_src_index else i
            if use_scale:
                s = scale[i]
                for d in range(dim):
                    out[row, d] += s * src[j, d]
            else:
                for d in range(dim):
                    out[row, d] += src[j, d]


def scatter_add_rows(ids, src, src_index, scale, padding_idx, out):
    """``out[ids[i]] += scale[i] * src[src_index[i]]`` for every ``ids[i] != padding_idx``.

    ``src_index`` and ``scale`` may be ``None`` (identity and 1).
    """
    num_parts = max(1, min(nb.get_num_threads(), out.shape[0]))
    _scatter_add_rows(
        ids, src,
        src_index if src_index is not None else np.empty(0, np.int64), src_index is not None,
        scale if scale is not None else np.empty(0, out.dtype), scale is not None,
        padding_idx, num_parts, out,
    )


@nb.njit(cache=True, nogil=True)
def sorted_groups(sorted_ids, padding_idx, unique_rows, starts):
    """Split stably sorted ids into groups of equal ids, leaving out ``padding_idx``.

    Fills ``unique_rows[g]`` and the group bounds ``starts[g] .. starts[g + 1]`` (positions in
    ``sorted_ids``) and returns the number of groups. A padding group becomes an empty gap: its
    positions are skipped by giving the next group's start after it.
    """
    n = 0
    i = 0
    total = sorted_ids.shape[0]
    while i < total:
        row = sorted_ids[i]
        j = i + 1
        while j < total and sorted_ids[j] == row:
            j += 1
        if row != padding_idx:
            unique_rows[n] = row
            starts[2 * n] = i
            starts[2 * n + 1] = j
            n += 1
        i = j
    return n


@nb.njit(cache=True, nogil=True, parallel=True)
def _segment_sum_rows(order, bounds, src, src_index, use_src_index, scale, use_scale,
                      divide_by_count, out):
    dim = out.shape[1]
    for g in nb.prange(out.shape[0]):
        begin = bounds[2 * g]
        end = bounds[2 * g + 1]
        for t in range(begin, end):
            i = order[t]
            j = src_index[i] if use_src_index else i
            if use_scale:
                s = scale[i]
                for d in range(dim):
                    out[g, d] += s * src[j, d]
            else:
                for d in range(dim):
                    out[g, d] += src[j, d]
        if divide_by_count:
            inv = 1.0 / (end - begin)
            for d in range(dim):
                out[g, d] *= inv


def segment_sum_rows(order, bounds, src, src_index, scale, divide_by_count, out):
    """``out[g] = Σ_{t in group g} scale[i] * src[src_index[i]]`` with ``i = order[t]``.

    ``bounds`` holds ``(begin, end)`` pairs from :func:`sorted_groups`. With ``divide_by_count``
    each group's sum is divided by its size (``scale_grad_by_freq``).
    """
    _segment_sum_rows(
        order, bounds, src,
        src_index if src_index is not None else np.empty(0, np.int64), src_index is not None,
        scale if scale is not None else np.empty(0, out.dtype), scale is not None,
        divide_by_count, out,
    )
