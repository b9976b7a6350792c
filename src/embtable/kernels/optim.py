"""Row-sparse optimizer steps: update only the touched rows of a table and of its state.

Threads take blocks of :data:`_BLOCK` rows from a shared counter (:mod:`embtable.kernels._atomic`,
:func:`~._parallel.launch_blocks`), so a thread that the operating system deschedules does not
hold the others up; a row is read and written by one thread only (the row ids are unique), so the
kernels are race-free and deterministic for any thread count. The
weight and the dense state arrays are ``(V, D)`` and indexed by ``rows[i]``; the gradient values are
``(n, D)`` and indexed by ``i``. Scalars arrive already cast to the weight's dtype, so a float32
table is updated in float32 arithmetic, operation by operation in torch's order. Flags are plain
booleans (one compiled version per dtype), and arguments a variant does not use are passed as
empty arrays. The callers in :mod:`embtable.optim` validate everything and handle float16 tables
(they upcast the touched rows to float32). NumPy twins live in
:mod:`embtable.kernels._reference_optim`.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ._atomic import fetch_add
from ._parallel import launch_blocks, twins

__all__ = ["adagrad_rows_", "adam_rows_", "rowwise_adagrad_rows_", "sgd_rows_"]

_BLOCK = 64  # rows per block of work handed to a thread


def _sgd_rows_(parallel):
    def sgd_rows_(
        weight,
        rows,
        grad_pos,
        grad_values,
        momentum_buffer,
        lr,
        momentum,
        one_minus_dampening,
        weight_decay,
        nesterov,
        maximize,
        init_buffer,
        workers,
        next_block,
    ):
        """SGD on ``weight[rows]``; ``grad_pos[i]`` is the gradient row of ``rows[i]`` or -1 (zero).

        With ``momentum != 0``, ``momentum_buffer[i]`` is the buffer of ``rows[i]`` (compact,
        ``(len(rows), D)``); ``init_buffer`` copies the gradient into it (torch's first step).
        Weight decay applies to rows that have a gradient row only.
        """
        if parallel:  # the flag lives in the closure; see _parallel.twins
            pass
        dim = weight.shape[1]
        zero = weight.dtype.type(0)
        count = rows.shape[0]
        num_blocks = (count + _BLOCK - 1) // _BLOCK
        for _worker in nb.prange(workers):  # one per thread; blocks handed out below
            block = fetch_add(next_block, 0, 1)
            while block < num_blocks:
                for i in range(block * _BLOCK, min(count, (block + 1) * _BLOCK)):
                    row = rows[i]
                    k = grad_pos[i]
                    for d in range(dim):
                        g = zero
                        if k >= 0:
                            g = grad_values[k, d]
                            if maximize:
                                g = -g
                            if weight_decay != 0:
                                g = g + weight_decay * weight[row, d]
                        if momentum != 0:
                            if init_buffer:
                                buf = g
                            else:
                                buf = momentum * momentum_buffer[i, d] + one_minus_dampening * g
                            momentum_buffer[i, d] = buf
                            if nesterov:
                                g = g + momentum * buf
                            else:
                                g = buf
                        weight[row, d] = weight[row, d] + (-lr) * g
                block = fetch_add(next_block, 0, 1)

    return sgd_rows_


_SGD_ROWS_ = twins(_sgd_rows_)


def sgd_rows_(weight, rows, *args):
    """Dispatch to the serial or parallel twin of ``sgd_rows_`` (see the closure above)."""
    launch_blocks(_SGD_ROWS_, rows.shape[0] * weight.shape[1], weight, rows, *args)


def _adagrad_rows_(parallel):
    def adagrad_rows_(
        weight, rows, grad_values, state_sum, clr, eps, weight_decay, maximize, workers, next_block
    ):
        """Adagrad on ``weight[rows]`` with gradient rows ``grad_values`` (torch's sparse rule)."""
        if parallel:  # the flag lives in the closure; see _parallel.twins
            pass
        dim = weight.shape[1]
        count = rows.shape[0]
        num_blocks = (count + _BLOCK - 1) // _BLOCK
        for _worker in nb.prange(workers):  # one per thread; blocks handed out below
            block = fetch_add(next_block, 0, 1)
            while block < num_blocks:
                for i in range(block * _BLOCK, min(count, (block + 1) * _BLOCK)):
                    row = rows[i]
                    for d in range(dim):
                        g = grad_values[i, d]
                        if maximize:
                            g = -g
                        if weight_decay != 0:
                            g = g + weight_decay * weight[row, d]
                        s = state_sum[row, d] + g * g
                        state_sum[row, d] = s
                        std = np.sqrt(s) + eps
                        weight[row, d] = weight[row, d] + (-clr) * (g / std)
                block = fetch_add(next_block, 0, 1)

    return adagrad_rows_


_ADAGRAD_ROWS_ = twins(_adagrad_rows_)


def adagrad_rows_(weight, rows, *args):
    """Dispatch to the serial or parallel twin of ``adagrad_rows_`` (see the closure above)."""
    launch_blocks(_ADAGRAD_ROWS_, rows.shape[0] * weight.shape[1], weight, rows, *args)


def _rowwise_adagrad_rows_(parallel):
    def rowwise_adagrad_rows_(
        weight, rows, grad_values, state_sum, clr, eps, weight_decay, maximize, workers, next_block
    ):
        """Row-wise Adagrad (FBGEMM's ``EXACT_ROWWISE_ADAGRAD``) on ``weight[rows]``.

        ``state_sum`` is ``(V,)``, one accumulator per row. With ``g = grad_values[i]`` (negated
        with ``maximize``, plus ``weight_decay * weight[row]``): ``state_sum[row] += mean(g**2)``
        and ``weight[row] -= clr / (sqrt(state_sum[row]) + eps) * g``, all in the weight's dtype
        (as :mod:`embtable.kernels.rowwise` and FBGEMM do for float32 tables).
        """
        if parallel:  # the flag lives in the closure; see _parallel.twins
            pass
        dim = weight.shape[1]
        real = weight.dtype.type
        width = real(max(dim, 1))
        count = rows.shape[0]
        num_blocks = (count + _BLOCK - 1) // _BLOCK
        for _worker in nb.prange(workers):  # one per thread; blocks handed out below
            block = fetch_add(next_block, 0, 1)
            while block < num_blocks:
                for i in range(block * _BLOCK, min(count, (block + 1) * _BLOCK)):
                    row = rows[i]
                    square = real(0)
                    for d in range(dim):
                        g = grad_values[i, d]
                        if maximize:
                            g = -g
                        if weight_decay != 0:
                            g = g + weight_decay * weight[row, d]
                        square += g * g
                    total = state_sum[row] + square / width
                    state_sum[row] = total
                    step = clr / (np.sqrt(state_sum[row]) + eps)
                    for d in range(dim):
                        g = grad_values[i, d]
                        if maximize:
                            g = -g
                        if weight_decay != 0:
                            g = g + weight_decay * weight[row, d]
                        weight[row, d] = weight[row, d] - step * g
                block = fetch_add(next_block, 0, 1)

    return rowwise_adagrad_rows_


_ROWWISE_ADAGRAD_ROWS_ = twins(_rowwise_adagrad_rows_)


def rowwise_adagrad_rows_(weight, rows, *args):
    """Dispatch to the serial or parallel twin of ``rowwise_adagrad_rows_`` (see above)."""
    launch_blocks(_ROWWISE_ADAGRAD_ROWS_, rows.shape[0] * weight.shape[1], weight, rows, *args)


def _adam_rows_(parallel):
    def adam_rows_(
        weight,
        rows,
        grad_values,
        exp_avg,
        exp_avg_sq,
        max_exp_avg_sq,
        one_minus_beta1,
        beta2,
        one_minus_beta2,
        eps,
        weight_decay,
        decay_factor,
        step_size,
        bias_correction2_sqrt,
        decoupled,
        amsgrad,
        maximize,
        sparse_adam,
        workers,
        next_block,
    ):
        """Adam, AdamW or SparseAdam on ``weight[rows]``.

        ``sparse_adam`` selects torch's SparseAdam arithmetic (``step_size`` is then
        ``lr * sqrt(bc2) / bc1`` and ``bias_correction2_sqrt`` is unused); otherwise Adam's
        single-tensor arithmetic (lerp for the first moment, ``step_size = lr / bc1``), with L2
        weight decay added to the gradient, or with ``decoupled`` AdamW decay
        ``weight *= decay_factor``.
        ``max_exp_avg_sq`` is used only with ``amsgrad``.
        """
        if parallel:  # the flag lives in the closure; see _parallel.twins
            pass
        dim = weight.shape[1]
        one = weight.dtype.type(1)
        count = rows.shape[0]
        num_blocks = (count + _BLOCK - 1) // _BLOCK
        for _worker in nb.prange(workers):  # one per thread; blocks handed out below
            block = fetch_add(next_block, 0, 1)
            while block < num_blocks:
                for i in range(block * _BLOCK, min(count, (block + 1) * _BLOCK)):
                    row = rows[i]
                    for d in range(dim):
                        g = grad_values[i, d]
                        if maximize:
                            g = -g
                        m = exp_avg[row, d]
                        v = exp_avg_sq[row, d]
                        if sparse_adam:
                            m_update = (g - m) * one_minus_beta1
                            exp_avg[row, d] = m + m_update
                            v_update = (g * g - v) * one_minus_beta2
                            exp_avg_sq[row, d] = v + v_update
                            numer = m_update + m
                            denom = np.sqrt(v_update + v) + eps
                            weight[row, d] = weight[row, d] + (-step_size) * (numer / denom)
                        else:
                            p = weight[row, d]
                            if weight_decay != 0:
                                if decoupled:
                                    p = p * decay_factor
                                else:
                                    g = g + weight_decay * p
                            # torch's lerp: the small- and large-weight branches round differently
                            if one_minus_beta1 < 0.5:
                                m = m + one_minus_beta1 * (g - m)
                            else:
                                m = g - (g - m) * (one - one_minus_beta1)
                            exp_avg[row, d] = m
                            v = v * beta2 + (one_minus_beta2 * g) * g
                            exp_avg_sq[row, d] = v
                            if amsgrad:
                                v_max = max_exp_avg_sq[row, d]
                                if v > v_max:
                                    v_max = v
                                max_exp_avg_sq[row, d] = v_max
                                v = v_max
                            denom = np.sqrt(v) / bias_correction2_sqrt + eps
                            weight[row, d] = p + ((-step_size) * m) / denom
                block = fetch_add(next_block, 0, 1)

    return adam_rows_


_ADAM_ROWS_ = twins(_adam_rows_)


def adam_rows_(weight, rows, *args):
    """Dispatch to the serial or parallel twin of ``adam_rows_`` (see the closure above)."""
    launch_blocks(_ADAM_ROWS_, rows.shape[0] * weight.shape[1], weight, rows, *args)
