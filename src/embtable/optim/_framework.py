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

import numbers
from collections import defaultdict
from collections.abc import Callable, Iterable
from itertools import chain
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._errors import (
    FrozenWeightError,
    OptionError,
    OptionTypeError,
    ShapeError,
    WeightDTypeError,
)
from ..parameter import Parameter
from ..sparse import RowSparseGrad, check_rows
from ._rules import RowRule

StateFactory = Callable[[str, tuple[int, ...], np.dtype[Any]], NDArray[Any]]

__all__ = ["Optimizer", "StateFactory"]

_kernel_module: ModuleType | None = None
_FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def _kernels() -> ModuleType:
    """The numba kernel module, imported (not compiled) on the first sparse step."""
    global _kernel_module
    if _kernel_module is None:
        from ..kernels import load

        _kernel_module = load("optim")
    return _kernel_module


class Optimizer:
    """Base class: parameter groups, per-parameter state, ``zero_grad``, ``step``, state dicts.

    Args:
        params: an iterable of :class:`Parameter` or of dicts ``{"params": [...], "lr": ...}``
            (param groups whose missing options come from ``defaults``).
        defaults: the default hyper-parameters of every group.
        state_factory: makes each state array: ``state_factory(name, shape, dtype)`` returns a
            writable array of that shape and dtype (its contents are overwritten with the
            initial value), e.g. a ``np.memmap`` so that a disk-backed table keeps its
            optimizer state in files. ``None`` (default) allocates in memory.

    Raises:
        OptionTypeError: ``params`` is a single Parameter or array, a set, or holds something
            else; a hyper-parameter is not a number (also a ``TypeError``).
        OptionError: ``params`` is empty, a parameter repeats, or a hyper-parameter is out of
            range (also a ``ValueError``).

    Example:
        >>> from embtable.optim import SGD, Optimizer
        >>> opt = SGD([Parameter(np.zeros((3, 2)))], lr=0.1)
        >>> isinstance(opt, Optimizer), opt.param_groups[0]["lr"]
        (True, 0.1)
    """

    # What a non-empty per-parameter state must hold: "step" a count, the others arrays.
    _required_state: tuple[str, ...] = ()
    # The row-update rule of embtable.optim._rules that the sparse step runs (None: own state).
    _rule: RowRule | None = None

    def __init__(
        self,
        params: Iterable[Parameter] | Iterable[dict[str, Any]],
        defaults: dict[str, Any],
        *,
        state_factory: StateFactory | None = None,
    ) -> None:
        self.state_factory = state_factory
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

        Example:
            >>> from embtable.optim import SGD
            >>> opt = SGD([Parameter(np.zeros((3, 2)))], lr=0.1)
            >>> opt.add_param_group({"params": [Parameter(np.zeros((5, 2)))], "lr": 0.01})
            >>> [group["lr"] for group in opt.param_groups]
            [0.1, 0.01]
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
        """Validate one group's hyper-parameters (torch's messages): the rule's table entry's
        checks, when the optimizer has one."""
        if self._rule is not None:
            self._rule.check(group)

    # -- state --------------------------------------------------------------------------------
    def _state_shape(self, name: str, p: Parameter) -> tuple[int, ...]:
        """The shape of state ``name`` for ``p``: from the rule's table entry (per element or
        per row), else the parameter's shape."""
        if self._rule is not None:
            for spec in self._rule.state:
                if spec.name == name:
                    return spec.shape(p.shape)
        return tuple(p.shape)

    def _new_state(self, name: str, p: Parameter, fill: float = 0.0) -> NDArray[Any]:
        """A fresh state array for ``p`` filled with ``fill``, made by ``state_factory`` if set."""
        shape = self._state_shape(name, p)
        if self.state_factory is None:
            return np.full(shape, fill, dtype=p.dtype)
        array = self.state_factory(name, shape, p.dtype)
        if not isinstance(array, np.ndarray) or array.shape != shape or array.dtype != p.dtype:
            raise ShapeError(
                f"state_factory({name!r}, {shape}, {p.dtype}) returned "
                f"{getattr(array, 'shape', type(array).__name__)} "
                f"{getattr(array, 'dtype', '')}; expected a {shape} {p.dtype} array"
            )
        if not array.flags.writeable:
            raise FrozenWeightError(f"state_factory({name!r}, ...) returned a read-only array")
        array[...] = fill
        return array

    # -- gradients ----------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients: to ``None`` (default), or to zero in place.

        With ``set_to_none=False`` a dense gradient is filled with zeros and a
        :class:`RowSparseGrad` is emptied in place (no rows), as torch leaves a sparse grad with
        nnz 0.

        Example:
            >>> from embtable.optim import SGD
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
            _check_state_value(
                index,
                name,
                value,
                p,
                array=name in self._required_state,
                shape=self._state_shape(name, p),
            )

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

        Example:
            >>> from embtable.optim import SGD
            >>> weight = Parameter(np.ones((3, 2)))
            >>> opt = SGD([weight], lr=0.5)
            >>> weight.grad = RowSparseGrad([1], np.ones((1, 2)), num_rows=3)
            >>> opt.step()
            >>> weight.data
            array([[1. , 1. ],
                   [0.5, 0.5],
                   [1. , 1. ]])
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

        Example:
            >>> from embtable.optim import Adagrad
            >>> weight = Parameter(np.ones((3, 2)))
            >>> opt = Adagrad([weight], lr=0.1)
            >>> weight.grad = RowSparseGrad([0], np.ones((1, 2)), num_rows=3)
            >>> opt.step()
            >>> saved = opt.state_dict()
            >>> sorted(saved["state"][0]), saved["param_groups"][0]["params"]
            (['step', 'sum'], [0])
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

        Example:
            >>> from embtable.optim import Adagrad
            >>> weight = Parameter(np.ones((3, 2)))
            >>> opt = Adagrad([weight], lr=0.1)
            >>> weight.grad = RowSparseGrad([0], np.ones((1, 2)), num_rows=3)
            >>> opt.step()
            >>> fresh = Adagrad([weight], lr=0.1)
            >>> fresh.load_state_dict(opt.state_dict())
            >>> fresh.state[weight]["sum"][0].tolist()
            [1.0, 1.0]
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
            new_state[p] = {
                name: _load_value(key, name, value, p, self._state_shape(name, p))
                for name, value in saved.items()
            }
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


def _check_state_value(
    index: int, name: str, value: Any, p: Parameter, *, array: bool, shape: tuple[int, ...]
) -> None:
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
                f"{shape}, got {type(value).__name__}"
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
        if value.shape != shape:
            raise ShapeError(
                f"parameter {index}: state {name!r} has shape {value.shape} but the parameter "
                f"has shape {p.shape} (expected state shape {shape}); was the parameter replaced "
                "or resized after the optimizer made its state? Build a new optimizer, or "
                "load_state_dict a matching state"
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


def _load_value(index: Any, name: str, value: Any, p: Parameter, shape: tuple[int, ...]) -> Any:
    if isinstance(value, RowSparseGrad):
        if value.shape != p.shape:
            raise ShapeError(
                f"state {name!r} of parameter {index} has shape {value.shape}, expected {p.shape}"
            )
        return RowSparseGrad(value.rows, value.values.astype(p.dtype), value.num_rows)
    if isinstance(value, np.ndarray) and value.ndim > 0:
        if value.shape != shape:
            raise ShapeError(
                f"state {name!r} of parameter {index} has shape {value.shape}, expected {shape}"
            )
        return np.array(value, dtype=p.dtype, copy=True)
    return value
