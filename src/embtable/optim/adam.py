"""Adam, AdamW and SparseAdam.

Their sparse steps run the ``"adam"`` rule of :mod:`embtable.optim._rules`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._errors import SparseGradientError
from ..parameter import Parameter
from ..sparse import RowSparseGrad
from ._framework import Optimizer, StateFactory
from ._rules import RULES, _check_at_least, _check_betas, run_rows

__all__ = ["Adam", "AdamW", "SparseAdam"]


class Adam(Optimizer):
    """Adam, as ``torch.optim.Adam`` (single-tensor path).

    Per step ``t``: ``g += weight_decay * p`` (L2; AdamW instead does ``p *= 1 - lr * wd``);
    ``m = lerp(m, g, 1 - beta1)``; ``v = beta2 * v + (1 - beta2) * g**2``; with ``amsgrad``
    ``v_max = max(v_max, v)`` replaces ``v`` below;
    ``p -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)``.
    State: ``step``, ``exp_avg``, ``exp_avg_sq`` (and ``max_exp_avg_sq``), created on the first
    step.

    Args:
        params: Parameters or param-group dicts.
        lr: learning rate (>= 0).
        betas: decay rates of the moment estimates, each in ``[0, 1)``.
        eps: added to the denominator (>= 0).
        weight_decay: L2 penalty (>= 0).
        amsgrad: use the maximum of past second moments.
        maximize: maximize the objective instead of minimizing it.
        state_factory: makes the state arrays (see :class:`Optimizer`), e.g. ``np.memmap``s.
    Raises:
        OptionError: an invalid hyper-parameter (a ``ValueError``; torch's message, then the
            valid range); OptionTypeError: one that is not a number.
    Note:
        Parameters and state are updated in place. torch's Adam refuses sparse gradients;
        embtable runs *lazy Adam* on a :class:`RowSparseGrad`: the moments (and ``max_exp_avg_sq``)
        and the weight decay change on the gradient's rows only, other rows keep their weights and
        moments bit-identical, and the bias correction uses the parameter's step count, which
        every ``step()`` increments. This is not dense Adam: rows' moments are not decayed on the
        steps that miss them. Use :class:`SparseAdam` for torch's sparse rule.

    Example:
        >>> p = Parameter(np.ones((2, 2)))
        >>> opt = Adam([p], lr=0.1)
        >>> p.grad = np.array([[1.0, -1.0], [0.0, 2.0]])
        >>> opt.step()
        >>> p.data.round(6)
        array([[0.9, 1.1],
               [1. , 0.9]])
    """

    _decoupled = False
    _required_state = ("step", "exp_avg", "exp_avg_sq")
    _rule = RULES["adam"]

    def __init__(
        self,
        params: Iterable[Parameter] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        state_factory: StateFactory | None = None,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
        }
        self._check_group(defaults)
        super().__init__(params, defaults, state_factory=state_factory)

    def _begin(self, p: Parameter, group: dict[str, Any]) -> tuple[dict[str, Any], float, float]:
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["exp_avg"] = self._new_state("exp_avg", p)
            state["exp_avg_sq"] = self._new_state("exp_avg_sq", p)
        if group["amsgrad"] and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = self._new_state("max_exp_avg_sq", p)
        state["step"] += 1
        beta1, beta2 = group["betas"]
        step_size = group["lr"] / (1 - beta1 ** state["step"])
        bias_correction2_sqrt = (1 - beta2 ** state["step"]) ** 0.5
        return state, step_size, bias_correction2_sqrt

    def _dense_update(
        self, p: Parameter, grad: NDArray[Any], group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        state, step_size, bias_correction2_sqrt = self._begin(p, group)
        t = p.dtype.type
        beta1, beta2 = group["betas"]
        lr, weight_decay = group["lr"], group["weight_decay"]
        g = np.negative(grad) if group["maximize"] else grad
        if weight_decay != 0:
            if self._decoupled:
                p.data *= t(1 - lr * weight_decay)
            else:
                g = g + t(weight_decay) * p.data
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        # exp_avg.lerp_(g, 1 - beta1), with torch's two branches
        weight = t(1 - beta1)
        scratch = np.subtract(g, exp_avg)
        if weight < 0.5:
            scratch *= weight
            exp_avg += scratch
        else:
            scratch *= t(1) - weight
            np.subtract(g, scratch, out=exp_avg)
        # exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        exp_avg_sq *= t(beta2)
        np.multiply(g, t(1 - beta2), out=scratch)
        scratch *= g
        exp_avg_sq += scratch
        second = exp_avg_sq
        if group["amsgrad"]:
            second = np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
        denom = np.sqrt(second, out=scratch)
        denom /= t(bias_correction2_sqrt)
        denom += t(group["eps"])
        update = np.multiply(exp_avg, t(-step_size))
        update /= denom
        p.data += update

    def _sparse_update(
        self, p: Parameter, grad: RowSparseGrad, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        state, _, _ = self._begin(p, group)
        _adam_rows(p, grad, state, {**group, "decoupled": self._decoupled, "sparse_adam": False})


def _adam_rows(
    p: Parameter, grad: RowSparseGrad, state: dict[str, Any], hyper: dict[str, Any]
) -> None:
    """Run the ``"adam"`` rule's kernel on the gradient's rows (float16: upcast those rows)."""
    rule = RULES["adam"]
    amsgrad = bool(hyper.get("amsgrad", False))
    arrays = rule.kernel_state(
        state if amsgrad else {**state, "max_exp_avg_sq": None}, p.shape[1], p.dtype
    )
    scalars = rule.scalars(step=state["step"], **hyper)
    run_rows(rule, p.data, grad.rows, grad.values, arrays, scalars)


class AdamW(Adam):
    """AdamW: Adam with decoupled weight decay ``p *= 1 - lr * weight_decay``, as torch's.

    Args:
        params: Parameters or param-group dicts.
        lr: learning rate (>= 0).
        betas: decay rates of the moment estimates, each in ``[0, 1)``.
        eps: added to the denominator (>= 0).
        weight_decay: decoupled decay (>= 0), 1e-2 by default.
        amsgrad: use the maximum of past second moments.
        maximize: maximize the objective instead of minimizing it.
        state_factory: makes the state arrays (see :class:`Optimizer`), e.g. ``np.memmap``s.
    Raises:
        OptionError: an invalid hyper-parameter (a ``ValueError``; torch's message, then the
            valid range); OptionTypeError: one that is not a number.
    Note:
        Parameters and state are updated in place. torch's AdamW refuses sparse gradients;
        embtable runs lazy AdamW on a :class:`RowSparseGrad`: as lazy :class:`Adam`, and the
        decoupled decay ``p[r] *= 1 - lr * weight_decay`` applies to the gradient's rows only,
        so rows that no step touches are not decayed.

    Example:
        >>> p = Parameter(np.ones((2, 1)))
        >>> opt = AdamW([p], lr=0.1, weight_decay=0.5)
        >>> p.grad = RowSparseGrad(np.array([0]), np.array([[1.0]]), num_rows=2)
        >>> opt.step()
        >>> p.data.round(6)
        array([[0.85],
               [1.  ]])
    """

    _decoupled = True

    def __init__(
        self,
        params: Iterable[Parameter] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        state_factory: StateFactory | None = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            maximize=maximize,
            state_factory=state_factory,
        )


# ------------------------------------------------------------------------------------------------
class SparseAdam(Optimizer):
    """torch's ``SparseAdam``: Adam on the rows present in each row-sparse gradient.

    For each row ``r`` of the gradient: ``m[r] = beta1 * m[r] + (1 - beta1) * g[r]``;
    ``v[r] = beta2 * v[r] + (1 - beta2) * g[r]**2``;
    ``p[r] -= lr * sqrt(1 - beta2**t) / (1 - beta1**t) * m[r] / (sqrt(v[r]) + eps)``, with ``t``
    the parameter's step count. Rows missing from the gradient are untouched; rows present with
    zero values still decay their moments and move. A gradient with no rows changes nothing but
    still counts as a step.

    Args:
        params: Parameters or param-group dicts.
        lr: learning rate (> 0).
        betas: decay rates of the moment estimates, each in ``[0, 1)``.
        eps: added to the denominator (> 0).
        maximize: maximize the objective instead of minimizing it.
        state_factory: makes the state arrays (see :class:`Optimizer`), e.g. ``np.memmap``s.
    Raises:
        OptionError: an invalid hyper-parameter (a ``ValueError``; torch's message, then the
            valid range); OptionTypeError: one that is not a number.
        SparseGradientError: from :meth:`step`, a parameter has a dense gradient.
    Note:
        Parameters and state (``step``, ``exp_avg``, ``exp_avg_sq``) are updated in place.

    Example:
        >>> p = Parameter(np.zeros((3, 1)))
        >>> opt = SparseAdam([p], lr=0.1)
        >>> p.grad = RowSparseGrad(np.array([0, 2]), np.array([[1.0], [-2.0]]), num_rows=3)
        >>> opt.step()
        >>> p.data.round(6)
        array([[-0.1],
               [ 0. ],
               [ 0.1]])
    """

    _required_state = ("step", "exp_avg", "exp_avg_sq")
    _rule = RULES["adam"]

    def __init__(
        self,
        params: Iterable[Parameter] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        maximize: bool = False,
        *,
        state_factory: StateFactory | None = None,
    ) -> None:
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "maximize": maximize}
        self._check_group(defaults)
        super().__init__(params, defaults, state_factory=state_factory)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_at_least("lr", "learning rate", group["lr"], 0.0, strict=True)
        _check_at_least("eps", "epsilon value", group["eps"], 0.0, strict=True)
        _check_betas(group["betas"])

    def _check_grad(self, index: int, p: Parameter) -> None:
        if not isinstance(p.grad, RowSparseGrad):
            raise SparseGradientError(
                "SparseAdam does not support dense gradients, please consider Adam instead "
                f"(parameter {index} has a dense gradient)"
            )
        super()._check_grad(index, p)

    def _sparse_update(
        self, p: Parameter, grad: RowSparseGrad, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        if not state:
            state["step"] = 0
            state["exp_avg"] = self._new_state("exp_avg", p)
            state["exp_avg_sq"] = self._new_state("exp_avg_sq", p)
        state["step"] += 1
        _adam_rows(p, grad, state, {**group, "sparse_adam": True})
