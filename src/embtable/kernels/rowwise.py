"""Fused bag backward + row-wise Adagrad: no ``(N, D)`` or ``(V, D)`` gradient array is built.

FBGEMM's ``EXACT_ROWWISE_ADAGRAD`` keeps one accumulator per row (``state[row]``, the running
mean of the squared gradient over the row's features) and updates only the rows a batch touched::

    g = sum of the bag gradients that reach row r   # scaled by 1/|bag| in mean mode
    state[r] += mean(g * g)
    weight[r] -= lr / (sqrt(state[r]) + eps) * g

The positions are grouped by row first (:func:`embtable.kernels.scatter.group_rows`, a counting sort
for small tables, else an 11-bit LSD radix sort); then each unique row's gradient is summed, in
input order, into a small per-thread buffer and the rule is applied while the buffer is in cache.
Threads take blocks of 64 groups from a shared counter (:mod:`~._atomic`). One row is written by one
thread only, so the step is race-free and deterministic for any thread count. As in
:mod:`embtable.kernels.bag`, each common width (:data:`~.bag.WIDTHS`) has a kernel of its own (the
width a closure constant), and the kernel prefetches the weight and state rows
:data:`~._prefetch.PREFETCH_DISTANCE` groups ahead and the first gradient row of the group
``_GRAD_AHEAD`` ahead.

Arithmetic: the weight's dtype throughout (float32 for a float32 table, as FBGEMM; float64 stays
float64 for a float64 table). The squared gradient is summed in 8 partial sums, then those
(FBGEMM sums in vector lanes too), so its rounding differs from a sequential sum by a few ulp.
NumPy twin: :func:`bag_rowwise_adagrad_reference`.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ._atomic import fetch_add
from ._cache import CACHE
from ._parallel import launch_blocks, twins
from ._prefetch import PREFETCH_DISTANCE, prefetch_bytes, prefetch_row
from .bag import WIDTHS

__all__ = ["bag_rowwise_adagrad_", "bag_rowwise_adagrad_reference"]


_LANES = 8  # partial sums of the squared gradient (one vector register of float32)
_GRAD_AHEAD = 4  # groups ahead whose first gradient row is prefetched


def _bag_rowwise_adagrad_(parallel, width=0):
    def bag_rowwise_adagrad_(
        weight,
        state,
        order,
        unique_rows,
        bounds,
        bag_of,
        grad_output,
        scale,
        use_scale,
        lr,
        eps,
        workers,
        next_block,
    ):
        if parallel:  # the flag lives in the closure; see _parallel.twins
            pass
        dim = width if width else weight.shape[1]  # a literal width lets LLVM unroll fully
        row_bytes = dim * weight.itemsize
        grad_bytes = dim * grad_output.itemsize
        zero = weight.dtype.type(0)
        inverse_dim = weight.dtype.type(1) / weight.dtype.type(max(dim, 1))
        count = unique_rows.shape[0]
        blocks = (count + 63) // 64
        for _worker in nb.prange(workers):  # one per thread; blocks handed out below
            g = np.empty(dim, dtype=weight.dtype)
            partial = np.empty(_LANES, dtype=weight.dtype)
            block = fetch_add(next_block, 0, 1)
            while block < blocks:
                for u in range(block * 64, min(count, (block + 1) * 64)):
                    # the rows updated a few groups ahead: their misses overlap with this update
                    prefetch_row(weight, unique_rows, u + PREFETCH_DISTANCE, row_bytes)
                    prefetch_bytes(state, unique_rows[min(u + PREFETCH_DISTANCE, count - 1)], 0)
                    ahead = bag_of[order[bounds[2 * min(u + _GRAD_AHEAD, count - 1)]]]
                    for line in range(0, grad_bytes, 64):
                        prefetch_bytes(grad_output, ahead, line)
                    row = unique_rows[u]
                    begin = bounds[2 * u]
                    end = bounds[2 * u + 1]
                    # the first position initialises g (no zero fill), the others add in order
                    i = order[begin]
                    source = grad_output[bag_of[i]]
                    if use_scale:
                        s = scale[i]
                        for d in range(dim):
                            g[d] = s * source[d]
                        for t in range(begin + 1, end):
                            i = order[t]
                            source = grad_output[bag_of[i]]
                            s = scale[i]
                            for d in range(dim):
                                g[d] += s * source[d]
                    else:
                        for d in range(dim):
                            g[d] = source[d]
                        for t in range(begin + 1, end):
                            source = grad_output[bag_of[order[t]]]
                            for d in range(dim):
                                g[d] += source[d]
                    # sum of squares in _LANES partial sums (vectorised; FBGEMM sums in lanes too)
                    for lane in range(_LANES):
                        partial[lane] = zero
                    full = dim - dim % _LANES
                    for d0 in range(0, full, _LANES):
                        for lane in range(_LANES):
                            partial[lane] += g[d0 + lane] * g[d0 + lane]
                    square = zero
                    for lane in range(_LANES):
                        square += partial[lane]
                    for d in range(full, dim):
                        square += g[d] * g[d]
                    total = state[row] + square * inverse_dim
                    state[row] = total
                    step = lr / (np.sqrt(total) + eps)
                    target = weight[row]
                    for d in range(dim):
                        target[d] -= step * g[d]
                block = fetch_add(next_block, 0, 1)

    return bag_rowwise_adagrad_


_BAG_ROWWISE_ADAGRAD_ = {
    width: twins(lambda parallel, width=width: _bag_rowwise_adagrad_(parallel, width))
    for width in WIDTHS
}
_BAG_ROWWISE_ADAGRAD_[0] = twins(_bag_rowwise_adagrad_)  # any other width


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
    kernel = _BAG_ROWWISE_ADAGRAD_.get(weight.shape[1], _BAG_ROWWISE_ADAGRAD_[0])
    launch_blocks(
        kernel,
        ids.shape[0] * weight.shape[1],
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
