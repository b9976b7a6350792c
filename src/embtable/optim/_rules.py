"""The table of row-update rules: the one place that says what each rule stores and computes.

A :class:`RowRule` is one row-sparse update rule: its state arrays (:class:`StateSpec`: a name,
per-element ``(V, D)`` or per-row ``(V,)``, the hyper-parameter that fills it), the checks on its
hyper-parameters, the map from hyper-parameters to its kernel's scalars, its numba kernel (in
:mod:`embtable.kernels.optim`) and the kernel's NumPy twin (same name, in
:mod:`embtable.kernels._reference_optim`). :data:`RULES` lists them all. The optimizers of
:mod:`embtable.optim` and :class:`embtable.torch.RowOptimizer` both take the state layout, the
checks, the scalars and the kernel from here, so adding a rule is one entry here, its kernel and
twin, and its test (``tests/test_optim_rules.py`` checks every entry's kernel against its twin).

State arrays have the table's dtype (float16 tables are stepped in float32 on the touched rows,
see :func:`run_rows`). Importing this module loads NumPy only; kernels load on first use.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .._errors import OptionError, OptionTypeError

__all__ = ["RULES", "RowRule", "StateSpec", "rule"]


def _check_real(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise OptionTypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")


def _check_at_least(name: str, what: str, value: Any, low: float, *, strict: bool = False) -> None:
    _check_real(name, value)
    ok = value > low if strict else value >= low
    if not ok or value != value:  # also rejects NaN
        sign = ">" if strict else ">="
        raise OptionError(f"Invalid {what}: {value} (expected {name} {sign} {low})")


def _check_betas(betas: Any) -> None:
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
        raise OptionError(f"betas must be a pair of floats, got {betas!r}")
    for index, beta in enumerate(betas):
        _check_real(f"betas[{index}]", beta)
        if not 0.0 <= beta < 1.0:
            raise OptionError(
                f"Invalid beta parameter at index {index}: {beta} (expected 0 <= beta < 1)"
            )


_WHAT = {
    "lr": "learning rate",
    "eps": "epsilon value",
    "momentum": "momentum value",
    "weight_decay": "weight_decay value",
    "lr_decay": "lr_decay value",
    "initial_accumulator_value": "initial_accumulator_value value",
}


def _check_nonnegative(*names: str) -> Callable[[Mapping[str, Any]], None]:
    """A check that each of ``names`` present in the hyper-parameters is a number >= 0 (``betas``:
    a pair in ``[0, 1)``), in the order given (torch's order, so the first bad value is named)."""

    def check(hyper: Mapping[str, Any]) -> None:
        for name in names:
            if name not in hyper:
                continue
            if name == "betas":
                _check_betas(hyper["betas"])
            else:
                _check_at_least(name, _WHAT[name], hyper[name], 0.0)

    return check


def _check_sgd(hyper: Mapping[str, Any]) -> None:
    _check_nonnegative("lr", "momentum", "weight_decay")(hyper)
    nesterov, momentum = hyper.get("nesterov", False), hyper.get("momentum", 0.0)
    if nesterov and (momentum <= 0 or hyper.get("dampening", 0.0) != 0):
        raise OptionError("Nesterov momentum requires a momentum and zero dampening")


@dataclass(frozen=True)
class StateSpec:
    """One state array of a rule.

    Args:
        name: the state key (``state[name]`` in :mod:`embtable.optim`, the buffer's name in
            :class:`embtable.torch.RowOptimizer`).
        per: ``"element"`` for a ``(V, D)`` array, ``"row"`` for one value per row ``(V,)``.
        fill: the hyper-parameter holding the initial value, or ``None`` for zeros.

    Example:
        >>> StateSpec("sum", "row", "initial_accumulator_value").shape((5, 3))
        (5,)
    """

    name: str
    per: Literal["element", "row"]
    fill: str | None = None

    def shape(self, weight_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The array's shape for a table of ``weight_shape``.

        Example:
            >>> StateSpec("exp_avg", "element").shape((5, 3))
            (5, 3)
        """
        return tuple(weight_shape) if self.per == "element" else tuple(weight_shape[:1])

    def initial(self, hyper: Mapping[str, Any]) -> float:
        """The value a fresh array is filled with.

        Example:
            >>> StateSpec("sum", "element", "initial_accumulator_value").initial(
            ...     {"initial_accumulator_value": 0.5})
            0.5
        """
        return float(hyper[self.fill]) if self.fill is not None else 0.0


@dataclass(frozen=True)
class RowRule:
    """One row-update rule: state, hyper-parameter checks, kernel scalars, kernel and twin.

    Args:
        name: the rule's name (``RowOptimizer(name, ...)``).
        state: the state arrays the kernel takes after the gradient values, in order.
        hyper: the hyper-parameters (with defaults) that :class:`embtable.torch.RowOptimizer`
            accepts for this rule.
        check: raises ``OptionError`` / ``OptionTypeError`` for a bad hyper-parameter.
        scalars: maps the hyper-parameters and the step count ``step`` (1, 2, ...) to the
            kernel's trailing scalar arguments, in order (numbers and flags; :func:`run_rows`
            casts the numbers to the compute dtype).
        kernel: the function's name in :mod:`embtable.kernels.optim` and, for its NumPy twin, in
            :mod:`embtable.kernels._reference_optim`.
        optimizers: the :mod:`embtable.optim` classes whose sparse step runs this rule.
        optional_state: state arrays the kernel takes after ``state`` that an optimizer may not
            keep (Adam's ``max_exp_avg_sq`` without ``amsgrad``): passed empty ``(0, D)`` then.
        positions: the kernel takes, before the gradient values, the position of each row's
            gradient row (SGD's ``grad_pos``; :func:`run_rows` passes ``0 .. n - 1``).

    Example:
        >>> r = rule("rowwise_adagrad")
        >>> [s.name for s in r.state], r.optimizers
        (['sum'], ('RowwiseAdagrad',))
    """

    name: str
    state: tuple[StateSpec, ...]
    hyper: Mapping[str, Any]
    check: Callable[[Mapping[str, Any]], None]
    scalars: Callable[..., tuple[Any, ...]]
    kernel: str
    optimizers: tuple[str, ...]
    optional_state: tuple[str, ...] = ()
    positions: bool = False

    def kernel_state(self, state: Mapping[str, Any], dim: int, dtype: Any) -> list[Any]:
        """The state arrays in the kernel's order: ``state[name]`` for each :attr:`state` entry,
        then each :attr:`optional_state` array, or an empty ``(0, dim)`` one where ``state`` has
        none.

        Example:
            >>> arrays = rule("adam").kernel_state(
            ...     {"exp_avg": np.zeros((4, 2)), "exp_avg_sq": np.zeros((4, 2))}, 2, np.float64)
            >>> [a.shape for a in arrays]
            [(4, 2), (4, 2), (0, 2)]
        """
        arrays = [state[spec.name] for spec in self.state]
        for name in self.optional_state:
            array = state.get(name)
            arrays.append(np.empty((0, dim), dtype=dtype) if array is None else array)
        return arrays

    def kernel_function(self, *, reference: bool = False) -> Callable[..., None]:
        """The numba kernel (imported on first use), or its NumPy twin with ``reference=True``.

        Example:
            >>> rule("adagrad").kernel_function(reference=True).__name__
            'adagrad_rows_'
        """
        if reference:
            from ..kernels import _reference_optim

            return getattr(_reference_optim, self.kernel)  # type: ignore[no-any-return]
        from ..kernels import load

        return getattr(load("optim"), self.kernel)  # type: ignore[no-any-return]


def _sgd_scalars(
    *,
    lr: float,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    maximize: bool = False,
    init_buffer: bool = False,
    **_: Any,
) -> tuple[Any, ...]:
    return (lr, momentum, 1 - dampening, weight_decay, bool(nesterov), bool(maximize), init_buffer)


def _adagrad_scalars(
    *,
    lr: float,
    step: int,
    eps: float,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    maximize: bool = False,
    **_: Any,
) -> tuple[Any, ...]:
    clr = lr / (1 + (step - 1) * lr_decay)
    return (clr, eps, weight_decay, bool(maximize))


def _adam_scalars(
    *,
    lr: float,
    step: int,
    betas: tuple[float, float],
    eps: float,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    maximize: bool = False,
    decoupled: bool = False,
    sparse_adam: bool = True,
    **_: Any,
) -> tuple[Any, ...]:
    beta1, beta2 = betas
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    if sparse_adam:  # torch's SparseAdam: no weight decay, the corrections in the step size
        step_size = lr * math.sqrt(bias_correction2) / bias_correction1  # as torch's
        bias_correction2_sqrt = 1.0
        weight_decay = 0.0
    else:
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2**0.5
    return (
        1 - beta1,
        beta2,
        1 - beta2,
        eps,
        weight_decay,
        1 - lr * weight_decay,
        step_size,
        bias_correction2_sqrt,
        bool(decoupled),
        bool(amsgrad),
        bool(maximize),
        bool(sparse_adam),
    )


RULES: dict[str, RowRule] = {
    r.name: r
    for r in (
        RowRule(
            name="sgd",
            state=(),
            hyper={"lr": None},
            check=_check_sgd,
            scalars=_sgd_scalars,
            kernel="sgd_rows_",
            optional_state=("momentum_buffer",),
            positions=True,
            optimizers=("SGD",),
        ),
        RowRule(
            name="adagrad",
            state=(StateSpec("sum", "element", "initial_accumulator_value"),),
            hyper={"lr": None, "eps": 1e-10, "lr_decay": 0.0, "initial_accumulator_value": 0.0},
            check=_check_nonnegative(
                "lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"
            ),
            scalars=_adagrad_scalars,
            kernel="adagrad_rows_",
            optimizers=("Adagrad",),
        ),
        RowRule(
            name="rowwise_adagrad",
            state=(StateSpec("sum", "row", "initial_accumulator_value"),),
            hyper={"lr": None, "eps": 1e-10, "lr_decay": 0.0, "initial_accumulator_value": 0.0},
            check=_check_nonnegative(
                "lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"
            ),
            scalars=_adagrad_scalars,
            kernel="rowwise_adagrad_rows_",
            optimizers=("RowwiseAdagrad",),
        ),
        RowRule(
            name="adam",
            state=(StateSpec("exp_avg", "element"), StateSpec("exp_avg_sq", "element")),
            hyper={"lr": None, "eps": 1e-8, "betas": (0.9, 0.999)},
            check=_check_nonnegative("lr", "eps", "betas", "weight_decay"),
            scalars=_adam_scalars,
            kernel="adam_rows_",
            optional_state=("max_exp_avg_sq",),
            optimizers=("Adam", "AdamW", "SparseAdam"),
        ),
    )
}


def rule(name: str) -> RowRule:
    """The rule called ``name``.

    Raises:
        OptionError: no such rule (the message lists the rules).

    Example:
        >>> rule("adam").kernel
        'adam_rows_'
    """
    if name not in RULES:
        raise OptionError(f"unknown optimizer rule {name!r}; expected one of {tuple(RULES)}")
    return RULES[name]


def compute_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """float16 tables are stepped in float32 (sparse path); float32/float64 in their own dtype."""
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def run_rows(
    row_rule: RowRule,
    weight: np.ndarray,
    rows: np.ndarray,
    values: np.ndarray,
    state: list[np.ndarray],
    scalars: tuple[Any, ...],
) -> None:
    """Run ``row_rule``'s kernel on ``weight[rows]`` and the rows of its ``state`` arrays.

    ``state`` holds the rule's arrays in the kernel's order (:meth:`RowRule.kernel_state`; empty
    optional arrays stay empty); numbers in ``scalars`` are cast to the compute dtype. A float16
    table has its touched rows (weight and state) upcast to float32, stepped there and rounded
    back once.

    Example:
        >>> weight, total = np.ones((3, 2)), np.zeros(3)
        >>> r = rule("rowwise_adagrad")
        >>> run_rows(r, weight, np.array([1]), np.array([[3.0, 4.0]]), [total],
        ...          r.scalars(lr=0.5, step=1, eps=0.0))
        >>> total, weight[1]
        (array([ 0. , 12.5,  0. ]), array([0.5757..., 0.4343...]))
    """
    if len(rows) == 0:
        return
    compute = compute_dtype(weight.dtype)
    t = compute.type
    cast = tuple(v if isinstance(v, bool) else t(v) for v in scalars)
    values = values.astype(compute, copy=False)
    # SGD's kernel takes each row's gradient position first: here the i-th gradient row
    gradient = (np.arange(len(rows), dtype=np.int64), values) if row_rule.positions else (values,)
    kernel = row_rule.kernel_function()
    if compute == weight.dtype:
        kernel(weight, rows, *gradient, *state, *cast)
        return
    weight_rows = weight[rows].astype(compute)
    used = [array.size > 0 for array in state]
    state_rows = [
        array[rows].astype(compute) if use else array.astype(compute)
        for array, use in zip(state, used, strict=True)
    ]
    kernel(weight_rows, np.arange(len(rows), dtype=np.int64), *gradient, *state_rows, *cast)
    weight[rows] = weight_rows
    for array, rows_of, use in zip(state, state_rows, used, strict=True):
        if use:
            array[rows] = rows_of
