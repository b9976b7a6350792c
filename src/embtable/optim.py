"""Optimizers for :class:`~embtable.parameter.Parameter` tables, with torch's API and arithmetic.

``SGD``, ``Adagrad``, ``Adam``, ``AdamW`` and ``SparseAdam`` keep ``torch.optim``'s constructor
signatures, defaults, ``param_groups``, per-parameter ``state``, ``zero_grad``, ``step`` and
``state_dict`` / ``load_state_dict``. Dense gradients follow torch's single-tensor update, operation
by operation, so float32 trajectories agree with torch to rounding. A row-sparse gradient
(:class:`~embtable.sparse.RowSparseGrad`) updates only its rows, through a fused numba kernel
(:mod:`embtable.kernels.optim`, loaded on the first sparse step), with torch's rule wherever torch
has one.

Differences from torch
----------------------
Where torch refuses a sparse gradient, embtable applies the *lazy* row-wise rule instead: the
update, the weight decay and the optimizer state touch only the rows present in the gradient.

- ``SGD(weight_decay > 0)`` with a sparse gradient: torch raises; embtable adds
  ``weight_decay * p[r]`` to the gradient of the touched rows ``r`` only.
- ``Adagrad(weight_decay > 0)`` with a sparse gradient: torch raises; embtable decays the touched
  rows only (then ``sum[r] += g[r]**2`` and the step, as torch's sparse rule).
- ``Adam`` with a sparse gradient: torch raises; embtable runs lazy Adam: ``exp_avg``,
  ``exp_avg_sq`` (and ``max_exp_avg_sq``) and the L2 decay change on the touched rows only, and the
  bias correction uses the parameter's step count, which every ``step()`` increments.
- ``AdamW`` with a sparse gradient: as ``Adam``, and the decoupled decay ``p[r] *= 1 - lr * wd``
  applies to the touched rows only.
- ``SGD(momentum > 0)`` with sparse gradients follows torch's *result*: the buffer is a
  ``RowSparseGrad`` over every row touched so far, and each step updates all of those rows, so the
  trajectory equals dense momentum SGD (its cost grows with the set of rows ever touched).
- A sparse momentum buffer meeting a dense gradient (torch raises) is made dense first.
- Parameters with ``requires_grad=False`` are skipped even when they hold a gradient.
- A parameter listed twice in a group raises ``OptionError`` (torch warns), and the
  hyper-parameters of every param-group dict are validated (torch checks only the
  constructor's), again at every ``step()``; NaN is rejected.
- float16 tables: a sparse step upcasts the touched rows (weight and state) to float32, runs the
  step there and rounds back once; a dense step rounds after each NumPy operation, as torch's CPU
  half arithmetic does.
- ``load_state_dict`` copies the arrays (cast to the parameter's dtype) and checks their shapes;
  torch shares the tensors and checks nothing.
- ``step()`` checks everything before it updates anything: every weight (float16, float32 or
  float64, native byte order, writable: ``FrozenWeightError`` for a read-only one), every gradient
  (shape, dtype; a ``RowSparseGrad``'s rows sorted, unique and in range, checked again at every
  step because their contents can be written) and every state entry (present, with its
  parameter's shape and dtype: a parameter resized or cast after its state was made raises
  ``ShapeError`` / ``WeightDTypeError``). A failed step changes no parameter and no state; in
  torch a shape mismatch fails inside the update, after earlier parameters moved.
- There are no ``foreach``, ``fused``, ``capturable`` or ``differentiable`` options, and
  hyper-parameters are Python numbers (no tensor ``lr``).
"""

from __future__ import annotations

import math
import numbers
from collections import defaultdict
from collections.abc import Callable, Iterable
from itertools import chain
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._errors import (
    FrozenWeightError,
    OptionError,
    OptionTypeError,
    ShapeError,
    SparseGradientError,
    WeightDTypeError,
)
from .parameter import Parameter
from .sparse import RowSparseGrad, check_rows

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "SparseAdam"]

_kernel_module: ModuleType | None = None
_FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def _kernels() -> ModuleType:
    """The numba kernel module, imported (not compiled) on the first sparse step."""
    global _kernel_module
    if _kernel_module is None:
        from .kernels import load

        _kernel_module = load("optim")
    return _kernel_module


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


def _compute_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """float16 tables are stepped in float32 (sparse path); float32/float64 in their own dtype."""
    return np.dtype(np.float32) if dtype == np.float16 else dtype


class Optimizer:
    """Base class: parameter groups, per-parameter state, ``zero_grad``, ``step``, state dicts.

    Args:
        params: an iterable of :class:`Parameter` or of dicts ``{"params": [...], "lr": ...}``
            (param groups whose missing options come from ``defaults``).
        defaults: the default hyper-parameters of every group.

    Raises:
        OptionTypeError: ``params`` is a single Parameter or array, a set, or holds something
            else; a hyper-parameter is not a number (also a ``TypeError``).
        OptionError: ``params`` is empty, a parameter repeats, or a hyper-parameter is out of
            range (also a ``ValueError``).
    """

    # What a non-empty per-parameter state must hold: "step" a count, the others arrays.
    _required_state: tuple[str, ...] = ()

    def __init__(
        self, params: Iterable[Parameter] | Iterable[dict[str, Any]], defaults: dict[str, Any]
    ) -> None:
        self.defaults = dict(defaults)
        self.state: defaultdict[Parameter, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, (Parameter, np.ndarray)):
            raise OptionTypeError(
                "params argument given to the optimizer should be an iterable of Parameters "
                f"or dicts, but got {type(params).__name__}; pass [param] or emb.parameters()"
            )
        groups = list(params)
        if len(groups) == 0:
            raise OptionError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # -- groups -------------------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyper-parameters (missing ones from defaults).

        Raises:
            OptionTypeError: the group is not a dict, its params are a set or not Parameters.
            OptionError: a parameter repeats or is already in another group; a bad option.
        """
        if not isinstance(param_group, dict):
            raise OptionTypeError(
                f"param_group must be a dict, but got {type(param_group).__name__}"
            )
        if "params" not in param_group:
            raise OptionError(
                f"a parameter group needs a 'params' entry, got keys {sorted(param_group)}"
            )
        params = param_group["params"]
        if isinstance(params, Parameter):
            params = [params]
        elif isinstance(params, set):
            raise OptionTypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list instead."
            )
        else:
            params = list(params)
        for param in params:
            if not isinstance(param, Parameter):
                raise OptionTypeError(
                    "optimizer can only optimize Parameters, but one of the params is "
                    f"{type(param).__module__}.{type(param).__qualname__}; wrap arrays in "
                    "embtable.parameter.Parameter"
                )
        group = {**self.defaults, **param_group, "params": params}
        unknown = sorted(set(group) - set(self.defaults) - {"params"})
        if unknown:
            raise OptionError(
                f"unknown option(s) {unknown} in a parameter group of {type(self).__name__}; "
                f"valid: {sorted(self.defaults)}"
            )
        if len({id(p) for p in params}) != len(params):
            raise OptionError("optimizer contains a parameter group with duplicate parameters")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise OptionError("some parameters appear in more than one parameter group")
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validate one group's hyper-parameters (torch's messages)."""

    # -- gradients ----------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients: to ``None`` (default), or to zero in place.

        With ``set_to_none=False`` a dense gradient is filled with zeros and a
        :class:`RowSparseGrad` is emptied in place (no rows), as torch leaves a sparse grad with
        nnz 0.

        Example:
            >>> p = Parameter(np.zeros((2, 1)))
            >>> opt = SGD([p], lr=0.1)
            >>> p.grad = np.ones((2, 1))
            >>> opt.zero_grad(set_to_none=False)
            >>> p.grad
            array([[0.],
                   [0.]])
            >>> opt.zero_grad()
            >>> p.grad is None
            True
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif isinstance(p.grad, RowSparseGrad):
                    p.grad._clear()
                else:
                    p.grad[...] = 0

    def _active(self, group: dict[str, Any]) -> list[Parameter]:
        return [p for p in group["params"] if p.requires_grad and p.grad is not None]

    def _check_grad(self, index: int, p: Parameter) -> None:
        """Everything a step on ``p`` relies on: the weight, its gradient and its state."""
        data = p.data
        if not isinstance(data, np.ndarray):
            raise OptionTypeError(
                f"parameter {index}: .data must be a NumPy array, got {type(data).__name__}"
            )
        if data.dtype.kind == "f" and not data.dtype.isnative:
            raise WeightDTypeError(
                f"parameter {index}: cannot train a {data.dtype.str} parameter (foreign byte "
                "order); convert with p.data = p.data.astype(p.dtype.newbyteorder('='))"
            )
        if data.dtype not in _FLOAT_DTYPES:
            raise WeightDTypeError(
                f"parameter {index}: cannot train a {p.dtype} parameter; optimizers update "
                "float16, float32 or float64 arrays (convert with p.data.astype(np.float32))"
            )
        if not data.flags.writeable:
            raise FrozenWeightError(
                f"parameter {index}: the weight array is read-only (memory-mapped?), so a step "
                "cannot update it in place; load it with mmap=False or copy it"
            )
        grad = p.grad
        if isinstance(grad, RowSparseGrad):
            if p.ndim != 2 or grad.shape != p.shape:
                raise ShapeError(
                    f"parameter {index}: a row-sparse gradient of shape {grad.shape} does not "
                    f"match the parameter's shape {p.shape}"
                )
            _check_sparse(f"parameter {index}: its row-sparse gradient", grad, p.shape)
        elif not isinstance(grad, np.ndarray) or grad.shape != p.shape:
            shape = getattr(grad, "shape", type(grad).__name__)
            raise ShapeError(
                f"parameter {index}: gradient of shape {shape} does not match the parameter's "
                f"shape {p.shape}; a gradient is an array of the parameter's shape or a "
                "RowSparseGrad"
            )
        elif grad.dtype.kind not in "iuf":
            raise WeightDTypeError(
                f"parameter {index}: a gradient must hold real numbers, got {grad.dtype}"
            )
        state = self.state.get(p, {})
        missing = [key for key in self._required_state if key not in state] if state else []
        if missing:
            raise OptionError(
                f"parameter {index}: its optimizer state {sorted(state)} lacks {missing}; load a "
                f"state_dict saved by {type(self).__name__}"
            )
        for name, value in state.items():
            _check_state_value(index, name, value, p, array=name in self._required_state)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that requires a gradient and has one.

        Every group's hyper-parameters, every weight (dtype, byte order, writable), gradient
        (shape, dtype, rows) and state array (shape and dtype against its parameter, which may
        have been replaced or resized since the state was made) are checked first, so a failed
        step changes no parameter and no state.

        Args:
            closure: an optional callable that recomputes the loss; its result is returned.
        Raises:
            ShapeError: a gradient's or a state array's shape differs from its parameter's.
            WeightDTypeError: a parameter to update is not float16, float32 or float64 in
                native byte order, or a state array's dtype is not the parameter's.
            FrozenWeightError: a parameter to update is read-only.
            EmbeddingIndexError: a row-sparse gradient's row is out of range.
            SparseGradientError: the optimizer cannot take a gradient's layout, or its rows are
                not sorted and unique.
            OptionError: a hyper-parameter was set out of range since the last step.
        """
        loss = closure() if closure is not None else None
        index = 0
        for group in self.param_groups:
            self._check_group(group)
            for p in group["params"]:
                if p.requires_grad and p.grad is not None:
                    self._check_grad(index, p)
                index += 1
        for group in self.param_groups:
            for p in self._active(group):
                grad = p.grad
                if isinstance(grad, RowSparseGrad):
                    self._sparse_update(p, grad, group, self.state[p])
                else:
                    grad = grad.astype(p.dtype, copy=False)
                    self._dense_update(p, grad, group, self.state[p])
        return loss

    def _dense_update(
        self, p: Parameter, grad: NDArray[Any], group: dict[str, Any], state: dict[str, Any]
    ) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _sparse_update(
        self, p: Parameter, grad: RowSparseGrad, group: dict[str, Any], state: dict[str, Any]
    ) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- state dicts --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state as torch lays it out.

        Returns:
            ``{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}``, with
            parameters numbered in group order.
        Note:
            As in torch, the state arrays are the optimizer's own (not copies); copy them, or
            save them at once, before the next ``step()``.
        """
        mapping: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [mapping.setdefault(id(p), len(mapping)) for p in group["params"]]
            groups.append(packed)
        state = {mapping[id(p)]: dict(s) for p, s in self.state.items() if id(p) in mapping and s}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a :meth:`state_dict`: group options and per-parameter state (copied).

        Raises:
            ShapeError: the number of groups or of parameters per group differs (also a
                ``ValueError``), or a state array does not have its parameter's shape.
        """
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            raise OptionTypeError(
                "state_dict must be a dict with 'state' and 'param_groups', as state_dict() "
                f"returns; got {type(state_dict).__name__}"
            )
        saved_groups = state_dict["param_groups"]
        if not isinstance(saved_groups, (list, tuple)) or not all(
            isinstance(g, dict) and isinstance(g.get("params"), (list, tuple)) for g in saved_groups
        ):
            raise OptionTypeError(
                "state_dict['param_groups'] must be a list of dicts with a 'params' list, as "
                "state_dict() returns"
            )
        if not isinstance(state_dict["state"], dict) or not all(
            isinstance(saved, dict) for saved in state_dict["state"].values()
        ):
            raise OptionTypeError(
                "state_dict['state'] must map parameter indices to dicts, as state_dict() returns"
            )
        if len(saved_groups) != len(self.param_groups):
            raise ShapeError("loaded state dict has a different number of parameter groups")
        if any(
            len(g["params"]) != len(s["params"])
            for g, s in zip(self.param_groups, saved_groups, strict=True)
        ):
            raise ShapeError(
                "loaded state dict contains a parameter group that doesn't match the size of "
                "optimizer's group"
            )
        id_map = dict(
            zip(
                chain.from_iterable(s["params"] for s in saved_groups),
                chain.from_iterable(g["params"] for g in self.param_groups),
                strict=True,
            )
        )
        new_state: dict[Parameter, dict[str, Any]] = {}
        for key, saved in state_dict["state"].items():
            if key not in id_map:
                continue
            p = id_map[key]
            new_state[p] = {name: _load_value(key, name, value, p) for name, value in saved.items()}
        new_groups = []
        for group, saved in zip(self.param_groups, saved_groups, strict=True):
            new_group = {k: v for k, v in saved.items() if k != "params"}
            new_group["params"] = group["params"]
            self._check_group({**self.defaults, **new_group})
            new_groups.append({**self.defaults, **new_group})
        self.state = defaultdict(dict, new_state)
        self.param_groups = new_groups

    def __repr__(self) -> str:
        text = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"


def _check_sparse(what: str, grad: RowSparseGrad, shape: tuple[int, ...]) -> None:
    """O(nnz): a row-sparse array's rows and values still fit a ``shape`` table (their contents
    can be written after construction)."""
    rows, values = grad.rows, grad.values
    if rows.ndim != 1 or rows.dtype != np.int64 or values.shape != (len(rows), shape[1]):
        raise ShapeError(
            f"{what} has rows {rows.shape} {rows.dtype} and values {values.shape}; expected "
            f"(n,) int64 rows and (n, {shape[1]}) values"
        )
    if values.dtype.kind not in "iuf":
        raise WeightDTypeError(f"{what} must hold real numbers, got {values.dtype}")
    check_rows(rows, shape[0], what=what)


def _check_state_value(index: int, name: str, value: Any, p: Parameter, *, array: bool) -> None:
    """A state array must still match its parameter (which may have been resized or cast);
    ``step`` must be a count; ``array`` names a state entry that must be an array."""
    if name == "step":
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise OptionTypeError(
                f"parameter {index}: state 'step' must be a number, got {type(value).__name__}"
            )
        return
    if (array or name == "momentum_buffer") and not (value is None and name == "momentum_buffer"):
        if not (
            isinstance(value, RowSparseGrad) or (isinstance(value, np.ndarray) and value.ndim > 0)
        ):
            raise OptionTypeError(
                f"parameter {index}: state {name!r} must be an array of the parameter's shape "
                f"{p.shape}, got {type(value).__name__}"
            )
    if isinstance(value, RowSparseGrad):
        if value.shape != p.shape:
            raise ShapeError(
                f"parameter {index}: state {name!r} has shape {value.shape} but the parameter "
                f"has shape {p.shape}; was the parameter replaced or resized after the optimizer "
                "made its state? Build a new optimizer, or load_state_dict a matching state"
            )
        _check_sparse(f"parameter {index}: state {name!r}", value, p.shape)
        array = value.values
    elif isinstance(value, np.ndarray) and value.ndim > 0:
        if value.shape != p.shape:
            raise ShapeError(
                f"parameter {index}: state {name!r} has shape {value.shape} but the parameter "
                f"has shape {p.shape}; was the parameter replaced or resized after the optimizer "
                "made its state? Build a new optimizer, or load_state_dict a matching state"
            )
        array = value
    else:
        return
    if array.dtype != p.dtype:
        raise WeightDTypeError(
            f"parameter {index}: state {name!r} is {array.dtype} but the parameter is {p.dtype}; "
            "was the parameter cast after the optimizer made its state? load_state_dict casts "
            "the state to the parameter's dtype"
        )
    if not array.flags.writeable:
        raise FrozenWeightError(f"parameter {index}: state {name!r} is read-only")


def _load_value(index: Any, name: str, value: Any, p: Parameter) -> Any:
    if isinstance(value, RowSparseGrad):
        if value.shape != p.shape:
            raise ShapeError(
                f"state {name!r} of parameter {index} has shape {value.shape}, expected {p.shape}"
            )
        return RowSparseGrad(value.rows, value.values.astype(p.dtype), value.num_rows)
    if isinstance(value, np.ndarray) and value.ndim > 0:
        if value.shape != p.shape:
            raise ShapeError(
                f"state {name!r} of parameter {index} has shape {value.shape}, expected {p.shape}"
            )
        return np.array(value, dtype=p.dtype, copy=True)
    return value


# ------------------------------------------------------------------------------------------------
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
        _check_at_least("lr", "learning rate", group["lr"], 0.0)
        _check_at_least("momentum", "momentum value", group["momentum"], 0.0)
        _check_at_least("weight_decay", "weight_decay value", group["weight_decay"], 0.0)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise OptionError("Nesterov momentum requires a momentum and zero dampening")

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


# ------------------------------------------------------------------------------------------------
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


# ------------------------------------------------------------------------------------------------
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
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_at_least("lr", "learning rate", group["lr"], 0.0)
        _check_at_least("eps", "epsilon value", group["eps"], 0.0)
        _check_betas(group["betas"])
        _check_at_least("weight_decay", "weight_decay value", group["weight_decay"], 0.0)

    def _begin(self, p: Parameter, group: dict[str, Any]) -> tuple[dict[str, Any], float, float]:
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
        if group["amsgrad"] and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = np.zeros_like(p.data)
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
        state, step_size, bias_correction2_sqrt = self._begin(p, group)
        beta1, beta2 = group["betas"]
        _adam_rows(
            p,
            grad,
            state,
            group,
            one_minus_beta1=1 - beta1,
            beta2=beta2,
            one_minus_beta2=1 - beta2,
            weight_decay=group["weight_decay"],
            decay_factor=1 - group["lr"] * group["weight_decay"],
            step_size=step_size,
            bias_correction2_sqrt=bias_correction2_sqrt,
            decoupled=self._decoupled,
            amsgrad=bool(group["amsgrad"]),
            sparse_adam=False,
        )


def _adam_rows(
    p: Parameter,
    grad: RowSparseGrad,
    state: dict[str, Any],
    group: dict[str, Any],
    *,
    one_minus_beta1: float,
    beta2: float,
    one_minus_beta2: float,
    weight_decay: float,
    decay_factor: float,
    step_size: float,
    bias_correction2_sqrt: float,
    decoupled: bool,
    amsgrad: bool,
    sparse_adam: bool,
) -> None:
    """Run the fused Adam-family kernel on the gradient's rows (float16: upcast those rows)."""
    if grad.nnz == 0:
        return
    compute = _compute_dtype(p.dtype)
    t = compute.type
    scalars = (
        t(one_minus_beta1),
        t(beta2),
        t(one_minus_beta2),
        t(group["eps"]),
        t(weight_decay),
        t(decay_factor),
        t(step_size),
        t(bias_correction2_sqrt),
        bool(decoupled),
        bool(amsgrad),
        bool(group["maximize"]),
        bool(sparse_adam),
    )
    rows = grad.rows
    values = grad.values.astype(compute, copy=False)
    names = ["exp_avg", "exp_avg_sq"] + (["max_exp_avg_sq"] if amsgrad else [])
    kernel = _kernels().adam_rows_
    if compute == p.dtype:
        arrays = [state[name] for name in names]
        if not amsgrad:
            arrays.append(np.empty((0, p.shape[1]), dtype=compute))
        kernel(p.data, rows, values, *arrays, *scalars)
        return
    weight_rows = p.data[rows].astype(compute)
    arrays = [state[name][rows].astype(compute) for name in names]
    if not amsgrad:
        arrays.append(np.empty((0, p.shape[1]), dtype=compute))
    kernel(weight_rows, np.arange(len(rows), dtype=np.int64), values, *arrays, *scalars)
    p.data[rows] = weight_rows
    for name, array in zip(names, arrays[: len(names)], strict=True):
        state[name][rows] = array


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
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)


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

    def __init__(
        self,
        params: Iterable[Parameter] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        maximize: bool = False,
    ) -> None:
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "maximize": maximize}
        self._check_group(defaults)
        super().__init__(params, defaults)

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
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
        state["step"] += 1
        beta1, beta2 = group["betas"]
        step = state["step"]
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        step_size = group["lr"] * math.sqrt(bias_correction2) / bias_correction1
        _adam_rows(
            p,
            grad,
            state,
            group,
            one_minus_beta1=1 - beta1,
            beta2=beta2,
            one_minus_beta2=1 - beta2,
            weight_decay=0.0,
            decay_factor=1.0,
            step_size=step_size,
            bias_correction2_sqrt=1.0,
            decoupled=False,
            amsgrad=False,
            sparse_adam=True,
        )
