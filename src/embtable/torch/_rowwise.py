"""Row-wise Adagrad: one accumulator per row (numba kernel and its NumPy twin).

For each touched row ``r`` with gradient row ``g``::

    acc[r] += mean(g ** 2)
    w[r]   -= lr * g / (sqrt(acc[r]) + eps)

The kernel trusts its inputs: ``rows`` are unique (so each row is written by one thread), the
arrays are C-contiguous, ``grad_values[i]`` is the gradient of ``rows[i]``. It is imported lazily
by :mod:`embtable.torch._optim`, so that importing :mod:`embtable.torch` compiles nothing.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ..kernels._parallel import pick, twins

__all__ = ["rowwise_adagrad_rows_", "rowwise_adagrad_rows_reference"]


def _rowwise_adagrad_rows(parallel):
    def rowwise_adagrad_rows_(weight, rows, grad_values, accumulator, lr, eps):
        if parallel:  # the flag lives in the closure; see embtable.kernels._parallel.twins
            pass
        dim = weight.shape[1]
        for i in nb.prange(rows.shape[0]):
            row = rows[i]
            total = 0.0
            for d in range(dim):
                g = float(grad_values[i, d])
                total += g * g
            if dim > 0:
                total /= dim
            acc = accumulator[row] + total
            accumulator[row] = acc
            scale = lr / (np.sqrt(float(accumulator[row])) + eps)
            for d in range(dim):
                weight[row, d] -= scale * grad_values[i, d]

    return rowwise_adagrad_rows_


_ROWWISE_ADAGRAD_ROWS = twins(_rowwise_adagrad_rows)


def rowwise_adagrad_rows_(weight, rows, grad_values, accumulator, lr, eps):
    """Row-wise Adagrad on ``weight[rows]`` and ``accumulator[rows]``, in place (serially off
    the main thread or for small updates; see :func:`embtable.kernels._parallel.pick`)."""
    pick(_ROWWISE_ADAGRAD_ROWS, rows.shape[0] * weight.shape[1])(
        weight, rows, grad_values, accumulator, lr, eps
    )


def rowwise_adagrad_rows_reference(weight, rows, grad_values, accumulator, lr, eps):
    """NumPy twin of :func:`rowwise_adagrad_rows_` (same arguments, same effects)."""
    g = grad_values.astype(np.float64)
    total = (g * g).mean(axis=1) if g.shape[1] else np.zeros(len(rows))
    accumulator[rows] = accumulator[rows] + total
    scale = lr / (np.sqrt(accumulator[rows].astype(np.float64)) + eps)
    weight[rows] = (weight[rows].astype(np.float64) - scale[:, None] * g).astype(weight.dtype)
