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
from ._framework import Optimizer, StateFactory
from ._rules import RULES, run_rows

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
        state_factory: makes the state arrays (see :class:`Optimizer`), e.g. ``np.memmap``s.
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
    _rule = RULES["adagrad"]

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
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p: Parameter, group: dict[str, Any]) -> dict[str, Any]:
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["sum"] = self._new_state("sum", p, float(group["initial_accumulator_value"]))
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
        state, _ = self._clr(p, group)
        scalars = self._rule.scalars(step=state["step"], **group)  # type: ignore[union-attr]
        run_rows(self._rule, p.data, grad.rows, grad.values, [state["sum"]], scalars)  # type: ignore[arg-type]
