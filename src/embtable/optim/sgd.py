"""SGD, as ``torch.optim.SGD``.

Its sparse step runs the ``"sgd"`` rule of :mod:`embtable.optim._rules`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..parameter import Parameter
from ..sparse import RowSparseGrad
from ._framework import Optimizer, _kernels
from ._rules import RULES
from ._rules import compute_dtype as _compute_dtype

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum, as ``torch.optim.SGD``.

    Per step, with ``g`` the gradient (negated with ``maximize``): ``g += weight_decay * p``;
    with momentum ``buf = g`` on the first step, then
    ``buf = momentum * buf + (1 - dampening) * g``, and ``g = g + momentum * buf`` (Nesterov) or
    ``g = buf``; finally ``p -= lr * g``.

    Args:
        params: Parameters or param-group dicts.
        lr: learning rate (>= 0).
        momentum: momentum factor (>= 0).
        dampening: dampening of the momentum.
        weight_decay: L2 penalty (>= 0).
        nesterov: Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
        maximize: maximize the objective instead of minimizing it.
    Raises:
        OptionError: an invalid hyper-parameter (a ``ValueError``; torch's message, then the
            valid range); OptionTypeError: one that is not a number.
    Note:
        Parameters are updated in place. A :class:`RowSparseGrad` without momentum updates only
        its rows: ``p[rows] -= lr * g`` (torch's sparse rule). With ``weight_decay``, which torch
        refuses for sparse gradients, the decay is lazy: ``g[r] += weight_decay * p[r]`` for the
        gradient's rows only. With momentum, torch keeps a sparse buffer that grows to every row
        touched so far and updates all of them each step, which equals dense momentum SGD;
        embtable keeps that buffer as a ``RowSparseGrad`` in ``state["momentum_buffer"]`` and does
        the same (rows that were never touched stay bit-identical).

    Example:
        >>> p = Parameter(np.arange(6.0).reshape(3, 2))
        >>> opt = SGD([p], lr=0.5)
        >>> p.grad = RowSparseGrad(np.array([1]), np.ones((1, 2)), num_rows=3)
        >>> opt.step()
        >>> p.data
        array([[0. , 1. ],
               [1.5, 2.5],
               [4. , 5. ]])
    """

    def __init__(
        self,
        params: Iterable[Parameter] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        RULES["sgd"].check(group)

    def _dense_update(
        self, p: Parameter, grad: NDArray[Any], group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        t = p.dtype.type
        weight_decay = group["weight_decay"]
        g = np.negative(grad) if group["maximize"] else grad
        if weight_decay != 0:
            g = g + t(weight_decay) * p.data
        self._dense_momentum_step(p, g, group, state)

    def _dense_momentum_step(
        self, p: Parameter, g: NDArray[Any], group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        t = p.dtype.type
        momentum = group["momentum"]
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if isinstance(buf, RowSparseGrad):
                buf = buf.to_dense()
            if buf is None:
                buf = np.array(g, dtype=p.dtype, copy=True)
            else:
                buf *= t(momentum)
                if group["dampening"] == 0:
                    buf += g
                else:
                    buf += t(1 - group["dampening"]) * g
            state["momentum_buffer"] = buf
            g = g + t(momentum) * buf if group["nesterov"] else buf
        p.data += t(-group["lr"]) * g

    def _sparse_update(
        self, p: Parameter, grad: RowSparseGrad, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        momentum = group["momentum"]
        buf = state.get("momentum_buffer") if momentum != 0 else None
        values = grad.values.astype(p.dtype, copy=False)
        if isinstance(buf, np.ndarray):
            # A dense buffer (from earlier dense steps): torch's dense + sparse is dense.
            g = np.zeros_like(p.data)
            g[grad.rows] = -values if group["maximize"] else values
            if group["weight_decay"] != 0:
                g[grad.rows] += p.dtype.type(group["weight_decay"]) * p.data[grad.rows]
            self._dense_momentum_step(p, g, group, state)
            return
        rows = grad.rows
        dim = p.shape[1]
        init_buffer = False
        if momentum == 0:
            grad_pos = np.arange(len(rows), dtype=np.int64)
            buf_values = np.empty((0, dim), dtype=p.dtype)
        elif buf is None:
            init_buffer = True
            grad_pos = np.arange(len(rows), dtype=np.int64)
            buf_values = np.empty((len(rows), dim), dtype=p.dtype)
        else:
            rows = np.union1d(buf.rows, grad.rows)
            if len(rows) == buf.nnz:
                buf_values = buf.values
            else:
                buf_values = np.zeros((len(rows), dim), dtype=p.dtype)
                buf_values[np.searchsorted(rows, buf.rows)] = buf.values
            pos = np.searchsorted(grad.rows, rows)
            found = pos < grad.nnz
            found[found] = grad.rows[pos[found]] == rows[found]
            grad_pos = np.where(found, pos, -1).astype(np.int64)
        if len(rows):
            compute = _compute_dtype(p.dtype)
            t = compute.type
            scalars = (
                t(group["lr"]),
                t(momentum),
                t(1 - group["dampening"]),
                t(group["weight_decay"]),
                bool(group["nesterov"]),
                bool(group["maximize"]),
                init_buffer,
            )
            kernel = _kernels().sgd_rows_
            if compute == p.dtype:
                kernel(p.data, rows, grad_pos, values, buf_values, *scalars)
            else:
                weight_rows = p.data[rows].astype(compute)
                buf_rows = buf_values.astype(compute)
                kernel(
                    weight_rows,
                    np.arange(len(rows), dtype=np.int64),
                    grad_pos,
                    values.astype(compute),
                    buf_rows,
                    *scalars,
                )
                p.data[rows] = weight_rows
                buf_values[...] = buf_rows
        if momentum != 0:
            state["momentum_buffer"] = RowSparseGrad._from_owned(
                np.array(rows, dtype=np.int64, copy=True), buf_values, p.shape[0]
            )
