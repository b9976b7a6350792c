"""NumPy twins of the compiled kernels, for the tests. Slow, obvious, and trusted."""

from __future__ import annotations

import numpy as np

__all__ = [
    "bag_reduce",
    "gather_rows",
    "group_rows",
    "per_sample_weights_grad",
    "renorm_rows_",
    "scatter_add_rows",
    "scatter_max_grad",
    "segment_sum_rows",
]


def gather_rows(weight, ids, out):
    bad = np.flatnonzero((ids < 0) | (ids >= len(weight)))
    valid = np.ones(len(ids), bool)
    valid[bad] = False
    out[valid] = weight[ids[valid]]
    return int(bad[0]) if len(bad) else -1


def scatter_add_rows(ids, src, src_index, scale, padding_idx, out):
    for i, row in enumerate(ids):
        if row == padding_idx:
            continue
        j = i if src_index is None else src_index[i]
        out[row] += src[j] if scale is None else scale[i] * src[j]


def renorm_rows_(weight, rows, max_norm, norm_type):
    for row in rows:
        norm = np.linalg.norm(weight[row].astype(np.float64), ord=norm_type)
        if norm > max_norm:
            weight[row] *= max_norm / (norm + 1e-7)


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
    for b in range(len(bag_starts) - 1):
        positions = [i for i in range(bag_starts[b], bag_starts[b + 1]) if ids[i] != padding_idx]
        bag_size[b] = len(positions)
        if not positions:
            argmax[b] = -1
            continue
        rows = weight[ids[positions]]
        if mode == 2:
            winner = np.argmax(rows, axis=0)  # first occurrence on ties
            out[b] = rows[winner, np.arange(rows.shape[1])]
            argmax[b] = ids[positions][winner]
        else:
            if use_weights:
                rows = rows * per_sample_weights[positions][:, None]
            out[b] = rows.sum(axis=0)
            if mode == 1:
                out[b] /= len(positions)


def group_rows(ids, num_rows, padding_idx):
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    unique_rows, starts, counts = np.unique(sorted_ids, return_index=True, return_counts=True)
    keep = unique_rows != padding_idx
    bounds = np.stack([starts[keep], starts[keep] + counts[keep]], axis=1).reshape(-1)
    return order, unique_rows[keep].astype(np.int64), bounds.astype(np.int64)


def segment_sum_rows(order, bounds, src, src_index, scale, divide_by_count, out):
    for g in range(out.shape[0]):
        positions = order[bounds[2 * g] : bounds[2 * g + 1]]
        for i in positions:
            j = i if src_index is None else src_index[i]
            out[g] += src[j] if scale is None else scale[i] * src[j]
        if divide_by_count:
            out[g] *= 1.0 / len(positions)


def scatter_max_grad(argmax, grad_output, out):
    for b in range(argmax.shape[0]):
        for d in range(argmax.shape[1]):
            if argmax[b, d] >= 0:
                out[argmax[b, d], d] += grad_output[b, d]


def per_sample_weights_grad(weight, ids, bag_of, grad_output, bag_size, mode, padding_idx, out):
    for i, row in enumerate(ids):
        if row == padding_idx:
            out[i] = 0.0
            continue
        value = grad_output[bag_of[i]] @ weight[row]
        out[i] = value / bag_size[bag_of[i]] if mode == 1 else value
