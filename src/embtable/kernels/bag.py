"""``EmbeddingBag`` kernels: pooled forward, max backward and per-sample-weight gradients.

Bags are CSR: bag ``b`` holds positions ``bag_starts[b] .. bag_starts[b + 1]``. Modes are
``0`` sum, ``1`` mean, ``2`` max. The sum/mean backward is a scatter-add
(:mod:`embtable.kernels.scatter`) with a per-position scale.
"""

from __future__ import annotations

import numba as nb

__all__ = ["bag_reduce", "per_sample_weights_grad", "scatter_max_grad"]


@nb.njit(cache=True, nogil=True, parallel=True)
def bag_reduce(weight, ids, bag_starts, per_sample_weights, use_weights, mode, padding_idx,
               out, bag_size, argmax):
    """Pool each bag's rows into ``out[b]`` (zeros for an empty or all-padding bag).

    ``out`` must be zero-filled. ``bag_size[b]`` receives the number of non-padding ids. In max
    mode ``argmax[b, d]`` receives the row that won feature ``d`` (the first one on ties; -1 for
    an empty bag); the first entry initialises the running max and later entries replace it only
    when strictly greater, so a NaN is kept only when it comes first, as in torch.
    """
    dim = weight.shape[1]
    for b in nb.prange(bag_starts.shape[0] - 1):
        count = 0
        for i in range(bag_starts[b], bag_starts[b + 1]):
            row = ids[i]
            if row == padding_idx:
                continue
            if mode == 2:
                if count == 0:
                    for d in range(dim):
                        out[b, d] = weight[row, d]
                        argmax[b, d] = row
                else:
                    for d in range(dim):
                        if weight[row, d] > out[b, d]:
                            out[b, d] = weight[row, d]
                            argmax[b, d] = row
            elif use_weights:
                s = per_sample_weights[i]
                for d in range(dim):
                    out[b, d] += s * weight[row, d]
            else:
                for d in range(dim):
                    out[b, d] += weight[row, d]
            count += 1
        bag_size[b] = count
        if mode == 1 and count > 0:
            for d in range(dim):
                out[b, d] /= count
        if mode == 2 and count == 0:
            for d in range(dim):
                argmax[b, d] = -1


@nb.njit(cache=True, nogil=True, parallel=True)
def _scatter_max_grad(argmax, grad_output, num_parts, out):
    num_rows = out.shape[0]
    for part in nb.prange(num_parts):
        lo = part * num_rows // num_parts
        hi = (part + 1) * num_rows // num_parts
        for b in range(argmax.shape[0]):
            for d in range(argmax.shape[1]):
                row = argmax[b, d]
                if row >= lo and row < hi:
                    out[row, d] += grad_output[b, d]


def scatter_max_grad(argmax, grad_output, out):
    """``out[argmax[b, d], d] += grad_output[b, d]``, skipping ``argmax == -1``."""
    num_parts = max(1, min(nb.get_num_threads(), out.shape[0]))
    _scatter_max_grad(argmax, grad_output, num_parts, out)


@nb.njit(cache=True, nogil=True, parallel=True)
def per_sample_weights_grad(weight, ids, bag_of, grad_output, bag_size, mode, padding_idx, out):
    """``out[i] = <grad_output[bag_of[i]], weight[ids[i]]>``, divided by the bag size in mean
    mode, and 0 at padding positions."""
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
