"""Adagrad, as ``torch.optim.Adagrad``.

Its sparse step runs the ``"adagrad"`` rule of :mod:`embtable.optim._rules`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..parameter import Parameter
from ..sparse import RowSparseGrad
from ._framework import Optimizer, _kernels
from ._rules import _check_at_least
from ._rules import compute_dtype as _compute_dtype

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad, as ``torch.optim.Adagrad``.

    Per step ``t`` (1, 2, ...): ``g += weight_decay * p``; ``clr = lr / (1 + (t - 1) * lr_decay)``;
    ``sum += g**2``; ``p -= clr * g / (sqrt(sum) + eps)``. The state (``step`` and ``sum``, filled
    with ``initial_accumulator_value``) is created by the constructor, as in torch.

    Args:
        params: Parameters or param-group dicts.
        lr: learning rate (>= 0).
        lr_decay: learning-rate decay (>= 0).
        weight_decay: L2 penalty (>= 0).
        initial_accumulator_value: starting value of ``state["sum"]`` (>= 0).
        eps: added to the denominator (>= 0).
        maximize: maximize the objective instead of minimizing it.
    Raises:
        OptionError: an invalid hyper-parameter (a ``ValueError``; torch's message, then the
            valid range); OptionTypeError: one that is not a number.
    Note:
        Parameters and ``state["sum"]`` are updated in place. A :class:`RowSparseGrad` updates
        only its rows (torch's sparse rule, which equals the dense step because other rows get a
        zero update). With ``weight_decay``, which torch refuses for sparse gradients, the decay
        is lazy: ``g[r] += weight_decay * p[r]`` for the gradient's rows only.

    Example:
        >>> p = Parameter(np.zeros((3, 2)))
        >>> opt = Adagrad([p], lr=0.1)
        >>> p.grad = RowSparseGrad(np.array([2]), np.array([[3.0, -4.0]]), num_rows=3)
        >>> opt.step()
        >>> p.data
        array([[ 0. ,  0. ],
               [ 0. ,  0. ],
               [-0.1,  0.1]])
        >>> opt.state[p]["sum"][2]
        array([ 9., 16.])
    """

    _required_state = ("step", "sum")

    def __init__(
        self,
        params: Iterable[Parameter] | Iterable[dict[str, Any]],
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "maximize": maximize,
        }
        self._check_group(defaults)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_at_least("lr", "learning rate", group["lr"], 0.0)
        _check_at_least("lr_decay", "lr_decay value", group["lr_decay"], 0.0)
        _check_at_least("weight_decay", "weight_decay value", group["weight_decay"], 0.0)
        _check_at_least(
            "initial_accumulator_value",
            "initial_accumulator_value value",
            group["initial_accumulator_value"],
            0.0,
        )
        _check_at_least("eps", "epsilon value", group["eps"], 0.0)

    def _init_state(self, p: Parameter, group: dict[str, Any]) -> dict[str, Any]:
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(p.data, group["initial_accumulator_value"])
        return state

    def _clr(self, p: Parameter, group: dict[str, Any]) -> tuple[dict[str, Any], float]:
        state = self._init_state(p, group)
        state["step"] += 1
        return state, group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])

    def _dense_update(
        self, p: Parameter, grad: NDArray[Any], group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        state, clr = self._clr(p, group)
        t = p.dtype.type
        g = np.negative(grad) if group["maximize"] else grad
        if group["weight_decay"] != 0:
            g = g + t(group["weight_decay"]) * p.data
        state_sum = state["sum"]
        scratch = np.multiply(g, g)
        state_sum += scratch
        std = np.sqrt(state_sum)
        std += t(group["eps"])
        np.multiply(g, t(-clr), out=scratch)
        scratch /= std
        p.data += scratch

    def _sparse_update(
        self, p: Parameter, grad: RowSparseGrad, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        state, clr = self._clr(p, group)
        if grad.nnz == 0:
            return
        compute = _compute_dtype(p.dtype)
        t = compute.type
        scalars = (t(clr), t(group["eps"]), t(group["weight_decay"]), bool(group["maximize"]))
        kernel = _kernels().adagrad_rows_
        values = grad.values.astype(compute, copy=False)
        if compute == p.dtype:
            kernel(p.data, grad.rows, values, state["sum"], *scalars)
        else:
            weight_rows = p.data[grad.rows].astype(compute)
            sum_rows = state["sum"][grad.rows].astype(compute)
            kernel(weight_rows, np.arange(grad.nnz, dtype=np.int64), values, sum_rows, *scalars)
            p.data[grad.rows] = weight_rows
            state["sum"][grad.rows] = sum_rows
