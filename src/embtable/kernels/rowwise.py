"""Fused bag backward + row-wise Adagrad: no ``(N, D)`` or ``(V, D)`` gradient array is built.

FBGEMM's ``EXACT_ROWWISE_ADAGRAD`` keeps one accumulator per row (``state[row]``, the running
mean of the squared gradient over the row's features) and updates only the rows a batch touched::

    g = sum of the bag gradients that reach row r   # scaled by 1/|bag| in mean mode
    state[r] += mean(g * g)
    weight[r] -= lr / (sqrt(state[r]) + eps) * g

The positions are grouped by row first (:func:`embtable.kernels.scatter.group_rows`, a counting
sort or a stable argsort); then each unique row's gradient is summed, in input order, into a
small per-thread buffer and the rule is applied while the buffer is in cache. One row is written
by one thread only, so the step is race-free and deterministic for any thread count.

Arithmetic: the weight's dtype (float32 for a float32 table, as FBGEMM), the squared mean
summed in that dtype too. NumPy twin: :func:`bag_rowwise_adagrad_reference`.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ._cache import CACHE
from ._parallel import pick, twins
from ._prefetch import PREFETCH_DISTANCE, prefetch_bytes, prefetch_row

__all__ = ["bag_rowwise_adagrad_", "bag_rowwise_adagrad_reference"]


def _bag_rowwise_adagrad_(parallel):
    def bag_rowwise_adagrad_(
        weight, state, order, unique_rows, bounds, bag_of, grad_output, scale, use_scale, lr, eps
    ):
        if parallel:  # the flag lives in the closure; see _parallel.twins
            pass
        dim = weight.shape[1]
        row_bytes = dim * weight.itemsize
        count = unique_rows.shape[0]
        blocks = (count + 63) // 64
        for block in nb.prange(blocks):
            g = np.empty(dim, dtype=weight.dtype)
            for u in range(block * 64, min(count, (block + 1) * 64)):
                # the rows updated a few groups ahead: their misses overlap with this update
                prefetch_row(weight, unique_rows, u + PREFETCH_DISTANCE, row_bytes)
                prefetch_bytes(state, unique_rows[min(u + PREFETCH_DISTANCE, count - 1)], 0)
                row = unique_rows[u]
                for d in range(dim):
                    g[d] = 0
                for t in range(bounds[2 * u], bounds[2 * u + 1]):
                    i = order[t]
                    source = grad_output[bag_of[i]]
                    if use_scale:
                        s = scale[i]
                        for d in range(dim):
                            g[d] += s * source[d]
                    else:
                        for d in range(dim):
                            g[d] += source[d]
                square = weight.dtype.type(0)
                for d in range(dim):
                    square += g[d] * g[d]
                total = state[row] + square / dim
                state[row] = total
                step = lr / (np.sqrt(total) + eps)
                target = weight[row]
                for d in range(dim):
                    target[d] -= step * g[d]

    return bag_rowwise_adagrad_


_BAG_ROWWISE_ADAGRAD_ = twins(_bag_rowwise_adagrad_)


@nb.njit(cache=CACHE, nogil=True)
def _bag_of(bag_starts, size):
    out = np.empty(size, dtype=np.int64)
    for b in range(bag_starts.shape[0] - 1):
        for i in range(bag_starts[b], bag_starts[b + 1]):
            out[i] = b
    return out


def bag_rowwise_adagrad_(weight, state, ids, bag_starts, grad_output, scale, padding_idx, lr, eps):
    """Apply one row-wise Adagrad step for the bags' sum/mean backward, in place.

    ``scale`` is ``None`` or a per-position factor ``(N,)`` (``1 / |bag|`` for mean, times the
    per-sample weight); ``lr``
    and ``eps`` arrive cast to the weight's dtype. The padding row gets no update.
    """
    from .scatter import group_rows

    order, unique_rows, bounds = group_rows(ids, weight.shape[0], padding_idx)
    bag_of = _bag_of(bag_starts, ids.shape[0])
    pick(_BAG_ROWWISE_ADAGRAD_, ids.shape[0] * weight.shape[1])(
        weight,
        state,
        order,
        unique_rows,
        bounds,
        bag_of,
        grad_output,
        scale if scale is not None else np.empty(0, weight.dtype),
        scale is not None,
        lr,
        eps,
    )


def bag_rowwise_adagrad_reference(
    weight, state, ids, bag_starts, grad_output, scale, padding_idx, lr, eps
):
    """The NumPy twin of :func:`bag_rowwise_adagrad_` (a dense gradient, then the rule)."""
    sizes = np.diff(bag_starts)
    bag_of = np.repeat(np.arange(sizes.size), sizes)
    rows = grad_output[bag_of]
    if scale is not None:
        rows = rows * scale[:, None]
    keep = ids != padding_idx
    grad = np.zeros_like(weight)
    np.add.at(grad, ids[keep], rows[keep])
    touched = np.unique(ids[keep])
    g = grad[touched]
    state[touched] += (g * g).sum(axis=1, dtype=weight.dtype) / weight.shape[1]
    weight[touched] -= (lr / (np.sqrt(state[touched]) + eps))[:, None] * g
