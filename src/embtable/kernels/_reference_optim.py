"""NumPy twins of :mod:`embtable.kernels.optim`, for the tests.

Same arguments, same in-place effects, same operation order, vectorised over the touched rows.
They import no numba and are not used by the library itself.
"""

from __future__ import annotations

import numpy as np

__all__ = ["adagrad_rows_", "adam_rows_", "rowwise_adagrad_rows_", "sgd_rows_"]


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
):
    """Twin of :func:`embtable.kernels.optim.sgd_rows_`."""
    present = grad_pos >= 0
    g = np.zeros((len(rows), weight.shape[1]), dtype=weight.dtype)
    g[present] = grad_values[grad_pos[present]]
    if maximize:
        g = -g
    if weight_decay != 0:
        g[present] = g[present] + weight_decay * weight[rows[present]]
    if momentum != 0:
        if init_buffer:
            buf = g.copy()
        else:
            buf = momentum * momentum_buffer + one_minus_dampening * g
        momentum_buffer[...] = buf
        g = g + momentum * buf if nesterov else buf
    weight[rows] = weight[rows] + (-lr) * g


def adagrad_rows_(weight, rows, grad_values, state_sum, clr, eps, weight_decay, maximize):
    """Twin of :func:`embtable.kernels.optim.adagrad_rows_`."""
    g = -grad_values if maximize else grad_values
    if weight_decay != 0:
        g = g + weight_decay * weight[rows]
    s = state_sum[rows] + g * g
    state_sum[rows] = s
    std = np.sqrt(s) + eps
    weight[rows] = weight[rows] + (-clr) * (g / std)


def rowwise_adagrad_rows_(weight, rows, grad_values, state_sum, clr, eps, weight_decay, maximize):
    """Twin of :func:`embtable.kernels.optim.rowwise_adagrad_rows_`."""
    real = weight.dtype.type
    g = -grad_values if maximize else grad_values
    if weight_decay != 0:
        g = g + weight_decay * weight[rows]
    square = np.zeros(len(rows), dtype=weight.dtype)
    for d in range(weight.shape[1]):  # the kernel's order: one feature after the other
        square += g[:, d] * g[:, d]
    state_sum[rows] = state_sum[rows] + square / real(max(weight.shape[1], 1))
    step = clr / (np.sqrt(state_sum[rows]) + eps)
    weight[rows] = weight[rows] - step[:, None] * g


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
):
    """Twin of :func:`embtable.kernels.optim.adam_rows_`."""
    g = -grad_values if maximize else grad_values
    m = exp_avg[rows]
    v = exp_avg_sq[rows]
    if sparse_adam:
        m_update = (g - m) * one_minus_beta1
        exp_avg[rows] = m + m_update
        v_update = (g * g - v) * one_minus_beta2
        exp_avg_sq[rows] = v + v_update
        denom = np.sqrt(v_update + v) + eps
        weight[rows] = weight[rows] + (-step_size) * ((m_update + m) / denom)
        return
    p = weight[rows]
    if weight_decay != 0:
        if decoupled:
            p = p * decay_factor
        else:
            g = g + weight_decay * p
    if one_minus_beta1 < 0.5:
        m = m + one_minus_beta1 * (g - m)
    else:
        m = g - (g - m) * (weight.dtype.type(1) - one_minus_beta1)
    exp_avg[rows] = m
    v = v * beta2 + (one_minus_beta2 * g) * g
    exp_avg_sq[rows] = v
    if amsgrad:
        v = np.maximum(max_exp_avg_sq[rows], v)
        max_exp_avg_sq[rows] = v
    denom = np.sqrt(v) / bias_correction2_sqrt + eps
    weight[rows] = p + ((-step_size) * m) / denom
