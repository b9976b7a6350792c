"""NumPy twins of the compiled kernels, for the tests. Slow, obvious, and trusted."""

from __future__ import annotations

import numpy as np

__all__ = ["bag_reduce", "gather_rows", "renorm_rows_", "scatter_add_rows"]


def gather_rows(weight, ids, out):
    out[...] = weight[ids]


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


def bag_reduce(weight, ids, bag_starts, per_sample_weights, use_weights, mode, padding_idx,
               out, bag_size, argmax):
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
