"""Row-wise Adagrad: one accumulator per row (the table's kernel and its NumPy twin).

For each touched row ``r`` with gradient row ``g``::

    acc[r] += mean(g ** 2)
    w[r]   -= lr * g / (sqrt(acc[r]) + eps)

Both functions are the ``"rowwise_adagrad"`` entry of :data:`embtable.optim._rules.RULES`: its
kernel (:func:`embtable.kernels.optim.rowwise_adagrad_rows_`, in the weight's dtype) and its NumPy
twin (:mod:`embtable.kernels._reference_optim`), with no weight decay and no ``maximize``. They
trust their inputs: ``rows`` are unique, ``grad_values[i]`` is the gradient of ``rows[i]``.
Nothing is compiled before the first call.
"""

from __future__ import annotations

import numpy as np

from ..optim._rules import RULES, run_rows

__all__ = ["rowwise_adagrad_rows_", "rowwise_adagrad_rows_reference"]

_RULE = RULES["rowwise_adagrad"]


def rowwise_adagrad_rows_(weight, rows, grad_values, accumulator, lr, eps):
    """Row-wise Adagrad on ``weight[rows]`` and ``accumulator[rows]``, in place (the kernel).

    Example:
        >>> weight, accumulator = np.ones((3, 2), np.float32), np.zeros(3, np.float32)
        >>> rowwise_adagrad_rows_(weight, np.array([2]), np.array([[3.0, 4.0]], np.float32),
        ...                       accumulator, 0.5, 0.0)
        >>> accumulator, weight[2].round(4)
        (array([ 0. ,  0. , 12.5], dtype=float32), array([0.5757, 0.4343], dtype=float32))
    """
    scalars = _RULE.scalars(lr=lr, step=1, eps=eps)
    run_rows(_RULE, weight, rows, grad_values, [accumulator], scalars)


def rowwise_adagrad_rows_reference(weight, rows, grad_values, accumulator, lr, eps):
    """NumPy twin of :func:`rowwise_adagrad_rows_` (same arguments, same effects).

    Example:
        >>> weight, accumulator = np.ones((3, 2)), np.zeros(3)
        >>> rowwise_adagrad_rows_reference(weight, np.array([2]), np.array([[3.0, 4.0]]),
        ...                                accumulator, 0.5, 0.0)
        >>> accumulator, weight[2].round(4)
        (array([ 0. ,  0. , 12.5]), array([0.5757, 0.4343]))
    """
    real = weight.dtype.type
    twin = _RULE.kernel_function(reference=True)
    values = np.asarray(grad_values, dtype=weight.dtype)
    twin(weight, rows, values, accumulator, real(lr), real(eps), real(0), False)
