"""``EmbeddingBag`` kernels: pooled forward, max backward and per-sample-weight gradients.

Bags are CSR: bag ``b`` holds positions ``bag_starts[b] .. bag_starts[b + 1]``. Modes are
``0`` sum, ``1`` mean, ``2`` max. The sum/mean backward is a scatter-add
(:mod:`embtable.kernels.scatter`) with a per-position scale.
"""

from __future__ import annotations

import numba as nb

from ._parallel import pick, twins

__all__ = ["bag_reduce", "per_sample_weights_grad", "scatter_max_grad"]


def _bag_reduce(parallel):
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
        if parallel:  # the flag lives in the closure; see _parallel.twins
            pass
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

    return bag_reduce


_BAG_REDUCE = twins(_bag_reduce)


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

    ``out`` must be zero-filled. ``bag_size[b]`` receives the number of non-padding ids. In max
    mode ``argmax[b, d]`` receives the row that won feature ``d`` (the first one on ties; -1 for
    an empty bag); the first entry initialises the running max and later entries replace it only
    when strictly greater, so a NaN is kept only when it comes first, as in torch.
    """
    pick(_BAG_REDUCE, ids.shape[0] * weight.shape[1])(
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
