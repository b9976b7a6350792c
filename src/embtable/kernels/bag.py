"""``EmbeddingBag`` kernels: pooled forward, max backward and per-sample-weight gradients.

Bags are CSR: bag ``b`` holds positions ``bag_starts[b] .. bag_starts[b + 1]``. Modes are
``0`` sum, ``1`` mean, ``2`` max. The sum/mean backward is a scatter-add
(:mod:`embtable.kernels.scatter`) with a per-position scale.

The forward is the hot path of a recommender's training step, so it is written as FBGEMM writes
its generated code. Sum and mean on the common widths (:data:`WIDTHS`), and on float16 tables of
any width, pool each bag with :func:`~._simd.pool_bag`: the id loop written in LLVM IR, the bag's
accumulator a vector value held in registers, one load per row (a float16 row widened as it is
loaded), the row :data:`~._prefetch.PREFETCH_DISTANCE` ids ahead prefetched. Max mode, weights
with strided columns and other widths run a numba kernel (one compiled per common width, the
width a closure constant so that LLVM unrolls a row, the bag kept in a local accumulator). Every
variant adds a bag's rows in id order, so the results are bitwise the same for every width, path
and thread count.

Threads take blocks of :data:`_BLOCK` bags from a shared counter
(:mod:`embtable.kernels._atomic`) instead of a fixed share each: measured on 1M x 128, 4096 bags
of 10-30, 2 threads, with one busy process on the 2-core machine, a fixed split took 11.5 ms
against 5.8 ms without it, the shared counter 8.2 ms against 5.6 ms.
"""

from __future__ import annotations

import functools

import numba as nb
import numpy as np

from ._atomic import fetch_add
from ._parallel import launch_blocks, pick, twins
from ._prefetch import PREFETCH_DISTANCE, prefetch_row
from ._simd import contiguous_rows, pool_bag

__all__ = [
    "WIDTHS",
    "bag_reduce",
    "per_sample_weights_grad",
    "pool_plain",
    "pools_half",
    "scatter_max_grad",
]

WIDTHS = (8, 16, 32, 64, 128, 256)
"""Embedding widths with a kernel of their own (each compiled on first use, then cached)."""

_BLOCK = 32  # bags per block of work handed to a thread


def _bag_reduce(parallel, width=0):
    def bag_reduce(
        weight,
        ids,
        bag_starts,
        per_sample_weights,
        use_weights,
        mode,
        padding_idx,
        out,
        bag_size,
        argmax,
        workers,
        next_block,
    ):
        if parallel:  # the flag lives in the closure; see _parallel.twins
            pass
        dim = width if width else weight.shape[1]  # a literal width lets LLVM unroll fully
        row_bytes = dim * weight.itemsize
        num_bags = bag_starts.shape[0] - 1
        num_blocks = (num_bags + _BLOCK - 1) // _BLOCK
        for _worker in nb.prange(workers):  # one per thread; blocks handed out below
            # the bag being pooled lives in acc (and win), not in out
            acc = np.empty(dim, dtype=out.dtype)
            win = np.empty(dim if mode == 2 else 0, dtype=np.int64)
            block = fetch_add(next_block, 0, 1)
            while block < num_blocks:
                for b in range(block * _BLOCK, min(num_bags, (block + 1) * _BLOCK)):
                    for d in range(dim):
                        acc[d] = 0
                    count = 0
                    begin = bag_starts[b]
                    end = bag_starts[b + 1]
                    # one loop per mode (unswitched by hand): the id loop carries no mode branch
                    if mode == 2:
                        for i in range(begin, end):
                            prefetch_row(weight, ids, i + PREFETCH_DISTANCE, row_bytes)
                            row = ids[i]
                            if row == padding_idx:
                                continue
                            source = weight[row]
                            if count == 0:
                                for d in range(dim):
                                    acc[d] = source[d]
                                    win[d] = row
                            else:
                                for d in range(dim):
                                    if source[d] > acc[d]:
                                        acc[d] = source[d]
                                        win[d] = row
                            count += 1
                        for d in range(dim):
                            argmax[b, d] = win[d] if count > 0 else -1
                    elif use_weights:
                        for i in range(begin, end):
                            prefetch_row(weight, ids, i + PREFETCH_DISTANCE, row_bytes)
                            row = ids[i]
                            if row == padding_idx:
                                continue
                            source = weight[row]
                            s = per_sample_weights[i]
                            for d in range(dim):
                                acc[d] += s * source[d]
                            count += 1
                    else:
                        i = begin
                        while i + 1 < end:  # two rows per pass over acc, added in id order
                            prefetch_row(weight, ids, i + PREFETCH_DISTANCE, row_bytes)
                            prefetch_row(weight, ids, i + PREFETCH_DISTANCE + 1, row_bytes)
                            first = ids[i]
                            second = ids[i + 1]
                            if first != padding_idx and second != padding_idx:
                                one = weight[first]
                                two = weight[second]
                                for d in range(dim):
                                    acc[d] = (acc[d] + one[d]) + two[d]
                                count += 2
                            else:
                                for row in (first, second):
                                    if row != padding_idx:
                                        source = weight[row]
                                        for d in range(dim):
                                            acc[d] += source[d]
                                        count += 1
                            i += 2
                        if i < end:
                            row = ids[i]
                            if row != padding_idx:
                                source = weight[row]
                                for d in range(dim):
                                    acc[d] += source[d]
                                count += 1
                    bag_size[b] = count
                    target = out[b]
                    if mode == 1 and count > 0:
                        for d in range(dim):
                            target[d] = acc[d] / count
                    else:
                        for d in range(dim):
                            target[d] = acc[d]
                block = fetch_add(next_block, 0, 1)

    return bag_reduce


_BAG_REDUCE = {
    width: twins(lambda parallel, width=width: _bag_reduce(parallel, width)) for width in WIDTHS
}
_BAG_REDUCE[0] = twins(_bag_reduce)  # any other width


def _bag_pool(parallel, width, weighted, half):
    def bag_pool(
        weight,
        ids,
        bag_starts,
        per_sample_weights,
        mean,
        padding_idx,
        out,
        bag_size,
        workers,
        next_block,
    ):
        if parallel:  # the flag lives in the closure; see _parallel.twins
            pass
        num_bags = bag_starts.shape[0] - 1
        num_blocks = (num_bags + _BLOCK - 1) // _BLOCK
        for _worker in nb.prange(workers):  # one per thread; blocks handed out below
            block = fetch_add(next_block, 0, 1)
            while block < num_blocks:
                for b in range(block * _BLOCK, min(num_bags, (block + 1) * _BLOCK)):
                    begin = bag_starts[b]
                    end = bag_starts[b + 1]
                    count = pool_bag(
                        width,
                        weighted,
                        half,
                        weight,
                        ids,
                        begin,
                        end,
                        padding_idx,
                        per_sample_weights,
                        out,
                        b,
                    )
                    bag_size[b] = count
                    if mean and count > 0:
                        target = out[b]
                        for d in range(width):
                            target[d] = target[d] / count
                block = fetch_add(next_block, 0, 1)

    return bag_pool


@functools.cache
def _pool_kernel(width: int, weighted: bool, half: bool):
    return twins(lambda parallel: _bag_pool(parallel, width, weighted, half))


def pools_half(weight, mode):
    """Whether :func:`bag_reduce` takes the float16 ``weight`` as it is for ``mode`` (0 sum,
    1 mean, 2 max): sum and mean on a table with contiguous rows convert each row to float32 as
    it is loaded; otherwise the caller converts the rows first.

    Example:
        >>> table = np.zeros((10, 16), np.float16)
        >>> pools_half(table, 0), pools_half(table, 2), pools_half(table[:, ::2], 0)
        (True, False, False)
    """
    return weight.dtype == np.float16 and mode != 2 and contiguous_rows(weight)


def bag_reduce(
    weight,
    ids,
    bag_starts,
    per_sample_weights,
    use_weights,
    mode,
    padding_idx,
    out,
    bag_size,
    argmax,
):
    """Pool each bag's rows into ``out[b]`` (zeros for an empty or all-padding bag).

    Every row of ``out`` is written (it may be uninitialised). ``bag_size[b]`` receives the
    number of non-padding ids. In max mode ``argmax[b, d]`` receives the row that won feature
    ``d`` (the first one on ties; -1 for an empty bag); the first entry initialises the running
    max and later entries replace it only when strictly greater, so a NaN is kept only when it
    comes first, as in torch.

    ``weight`` is float32 or float64 (``out`` of the same dtype), or float16 with a float32
    ``out`` where :func:`pools_half` allows it.
    """
    width = weight.shape[1]
    work = ids.shape[0] * width
    half = weight.dtype == np.float16
    if mode != 2 and (half or width in WIDTHS) and contiguous_rows(out) and contiguous_rows(weight):
        launch_blocks(
            _pool_kernel(width, bool(use_weights), half),
            work,
            weight.view(np.uint16) if half else weight,
            ids,
            bag_starts,
            per_sample_weights,
            mode == 1,
            padding_idx,
            out,
            bag_size,
        )
        return
    launch_blocks(
        _BAG_REDUCE.get(width, _BAG_REDUCE[0]),
        work,
        weight,
        ids,
        bag_starts,
        per_sample_weights,
        use_weights,
        mode,
        padding_idx,
        out,
        bag_size,
        argmax,
    )


_NO_WEIGHTS = {4: np.empty(0, np.float32), 8: np.empty(0, np.float64)}  # never read
_NO_ARGMAX = np.empty((0, 0), np.int64)  # never written outside max mode


def pool_plain(weight, ids, bag_starts, mean, padding_idx, out, bag_size):
    """:func:`bag_reduce`'s common call with its dispatch cut short: sum (or mean) pooling of a
    float32/float64 ``weight`` without per-sample weights into a fresh C-contiguous ``out`` of
    the weight's dtype. Widths in :data:`WIDTHS` with contiguous rows go straight to their
    register-pooling kernel; anything else to :func:`bag_reduce`.

    Example:
        >>> out, size = np.empty((2, 8), np.float32), np.empty(2, np.int64)
        >>> table = np.arange(24, dtype=np.float32).reshape(3, 8)
        >>> pool_plain(table, np.array([0, 2, 1]), np.array([0, 2, 3]), False, -1, out, size)
        >>> out[:, 0], size
        (array([16.,  8.], dtype=float32), array([2, 1]))
    """
    width = weight.shape[1]
    if width in _PLAIN_WIDTHS and weight.strides[1] == weight.itemsize:
        launch_blocks(
            _pool_kernel(width, False, False),
            ids.shape[0] * width,
            weight,
            ids,
            bag_starts,
            _NO_WEIGHTS[weight.itemsize],
            mean,
            padding_idx,
            out,
            bag_size,
        )
        return
    bag_reduce(
        weight,
        ids,
        bag_starts,
        _NO_WEIGHTS[weight.itemsize],
        False,
        1 if mean else 0,
        padding_idx,
        out,
        bag_size,
        _NO_ARGMAX,
    )


_PLAIN_WIDTHS = frozenset(WIDTHS)


def _scatter_max_grad(parallel):
    def scatter_max_grad(argmax, grad_output, num_parts, out):
        if parallel:  # the flag lives in the closure; see _parallel.twins
            pass
        num_rows = out.shape[0]
        for part in nb.prange(num_parts):
            lo = part * num_rows // num_parts
            hi = (part + 1) * num_rows // num_parts
            for b in range(argmax.shape[0]):
                for d in range(argmax.shape[1]):
                    row = argmax[b, d]
                    if row >= lo and row < hi:
                        out[row, d] += grad_output[b, d]

    return scatter_max_grad


_SCATTER_MAX_GRAD = twins(_scatter_max_grad)


def scatter_max_grad(argmax, grad_output, out):
    """``out[argmax[b, d], d] += grad_output[b, d]``, skipping ``argmax == -1``."""
    kernel = pick(_SCATTER_MAX_GRAD, argmax.size)
    num_parts = (
        1 if kernel is _SCATTER_MAX_GRAD[0] else max(1, min(nb.get_num_threads(), out.shape[0]))
    )
    kernel(argmax, grad_output, num_parts, out)


def _per_sample_weights_grad(parallel):
    def per_sample_weights_grad(weight, ids, bag_of, grad_output, bag_size, mode, padding_idx, out):
        if parallel:  # the flag lives in the closure; see _parallel.twins
            pass
        dim = weight.shape[1]
        for i in nb.prange(ids.shape[0]):
            row = ids[i]
            if row == padding_idx:
                out[i] = 0.0
                continue
            b = bag_of[i]
            acc = 0.0
            for d in range(dim):
                acc += grad_output[b, d] * weight[row, d]
            if mode == 1:
                acc /= bag_size[b]
            out[i] = acc

    return per_sample_weights_grad


_PER_SAMPLE_WEIGHTS_GRAD = twins(_per_sample_weights_grad)


def per_sample_weights_grad(weight, ids, bag_of, grad_output, bag_size, mode, padding_idx, out):
    """``out[i] = <grad_output[bag_of[i]], weight[ids[i]]>``, divided by the bag size in mean
    mode, and 0 at padding positions."""
    pick(_PER_SAMPLE_WEIGHTS_GRAD, ids.shape[0] * weight.shape[1])(
        weight, ids, bag_of, grad_output, bag_size, mode, padding_idx, out
    )
