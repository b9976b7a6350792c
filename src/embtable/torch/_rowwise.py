"""Row-wise Adagrad: one accumulator per row (numba kernel and its NumPy twin).

For each touched row ``r`` with gradient row ``g``::

    acc[r] += mean(g ** 2)
    w[r]   -= lr * g / (sqrt(acc[r]) + eps)

The kernel is the ``"rowwise_adagrad"`` entry of :data:`embtable.optim._rules.RULES`.
It trusts its inputs: ``rows`` are unique (so each row is written by one thread), the
arrays are C-contiguous, ``grad_values[i]`` is the gradient of ``rows[i]``. It is imported lazily
by :mod:`embtable.torch._optim`, so that importing :mod:`embtable.torch` compiles nothing.
"""

from __future__ import annotations

import numpy as np

from ..kernels import load

__all__ = ["rowwise_adagrad_rows_", "rowwise_adagrad_rows_reference"]


def rowwise_adagrad_rows_(weight, rows, grad_values, accumulator, lr, eps):
    """Row-wise Adagrad on ``weight[rows]`` and ``accumulator[rows]``, in place: the table's
    kernel (:func:`embtable.kernels.optim.rowwise_adagrad_rows_`, in the weight's dtype)."""
    real = weight.dtype.type
    load("optim").rowwise_adagrad_rows_(
        weight, rows, grad_values, accumulator, real(lr), real(eps), real(0), False
    )


def rowwise_adagrad_rows_reference(weight, rows, grad_values, accumulator, lr, eps):
    """NumPy twin of :func:`rowwise_adagrad_rows_` (same arguments, same effects)."""
    g = grad_values.astype(np.float64)
    total = (g * g).mean(axis=1) if g.shape[1] else np.zeros(len(rows))
    accumulator[rows] = accumulator[rows] + total
    scale = lr / (np.sqrt(accumulator[rows].astype(np.float64)) + eps)
    weight[rows] = (weight[rows].astype(np.float64) - scale[:, None] * g).astype(weight.dtype)
