"""Row-wise Adagrad (FBGEMM's ``EXACT_ROWWISE_ADAGRAD``): the ``"rowwise_adagrad"`` rule."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..parameter import Parameter
from ..sparse import RowSparseGrad
from ._framework import Optimizer, StateFactory
from ._rules import RULES, run_rows

__all__ = ["RowwiseAdagrad"]


class RowwiseAdagrad(Optimizer):
    """Row-wise Adagrad: one accumulator per row, FBGEMM's ``EXACT_ROWWISE_ADAGRAD`` rule.

    Per step ``t`` and touched row ``r`` (every row for a dense gradient), with ``g = g[r]``
    (``+ weight_decay * p[r]``): ``clr = lr / (1 + (t - 1) * lr_decay)``;
    ``sum[r] += mean(g**2)``; ``p[r] -= clr * g / (sqrt(sum[r]) + eps)``, in the table's dtype
    (float16 tables: in float32 on the touched rows). The state is ``step`` and ``sum`` ``(V,)``,
    filled with ``initial_accumulator_value``, as
    :func:`embtable.functional.embedding_bag_rowwise_adagrad_` and
    ``RowOptimizer("rowwise_adagrad")`` keep it.

    Args:
        params: Parameters (2-d tables) or param-group dicts.
        lr: learning rate (>= 0).
        lr_decay: learning-rate decay (>= 0).
        weight_decay: L2 penalty (>= 0), on the touched rows only.
        initial_accumulator_value: starting value of ``state["sum"]`` (>= 0).
        eps: added to the denominator (>= 0).
        maximize: maximize the objective instead of minimizing it.
        state_factory: makes the state arrays (see :class:`Optimizer`).
    Raises:
        OptionError: an invalid hyper-parameter; OptionTypeError: one that is not a number.

    Example:
        >>> p = Parameter(np.zeros((3, 2)))
        >>> opt = RowwiseAdagrad([p], lr=0.1)
        >>> p.grad = RowSparseGrad(np.array([2]), np.array([[3.0, -4.0]]), num_rows=3)
        >>> opt.step()
        >>> opt.state[p]["sum"]
        array([ 0. ,  0. , 12.5])
        >>> p.data.round(4)
        array([[ 0.    ,  0.    ],
               [ 0.    ,  0.    ],
               [-0.0849,  0.1131]])
    """

    _required_state = ("step", "sum")
    _rule = RULES["rowwise_adagrad"]

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
        state_factory: StateFactory | None = None,
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
        super().__init__(params, defaults, state_factory=state_factory)

    def _step_rows(
        self, p: Parameter, rows: NDArray[Any], values: NDArray[Any], group: dict[str, Any]
    ) -> None:
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["sum"] = self._new_state("sum", p, float(group["initial_accumulator_value"]))
        state["step"] += 1
        rule = self._rule
        scalars = rule.scalars(step=state["step"], **group)  # type: ignore[union-attr]
        run_rows(rule, p.data, rows, values, [state["sum"]], scalars)  # type: ignore[arg-type]

    def _dense_update(
        self, p: Parameter, grad: NDArray[Any], group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        self._step_rows(p, np.arange(p.shape[0], dtype=np.int64), grad, group)

    def _sparse_update(
        self, p: Parameter, grad: RowSparseGrad, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        self._step_rows(p, grad.rows, grad.values, group)
