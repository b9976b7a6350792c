"""Bags of :mod:`embtable.functional`: plans, the pooled forward and its backward, the fused
row-wise Adagrad step."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import kernels
from .._errors import (
    BagIndexError,
    FrozenWeightError,
    IdsTypeError,
    ModeError,
    OffsetsError,
    OptionError,
    OptionTypeError,
    ShapeError,
    WeightDTypeError,
)
from ..sparse import RowSparseGrad
from ._checks import (
    _FLOAT_DTYPES,
    _INT64,
    _KERNEL_ID_DTYPES,
    _MODES,
    _NATIVE_KERNEL_DTYPES,
    _NO_PADDING,
    BagMode,
    _as_ids,
    _as_weight,
    _bounds,
    _check_grad_output,
    _check_num_embeddings,
    _check_psw_dtype,
    _compute_dtype,
    _fresh_frozen,
    _frozen,
    _immutable,
    _kernel_ids,
    check_float_weight,
    check_ids,
    check_max_norm,
    check_mode,
    check_padding_idx,
    check_renormalisable,
)
from ._lookup import (
    _renorm_validated_,
    _scatter,
)

__all__ = [
    "BagPlan",
    "BagState",
    "bag_backward",
    "bag_forward",
    "bag_sizes",
    "embedding_bag",
    "embedding_bag_backward",
    "embedding_bag_rowwise_adagrad_",
    "plan_bags",
]


_BAG: list[Any] = []


_PLAN_KERNEL: list[Any] = []


def _bag() -> Any:
    """The bag kernel module, loaded once (numba is imported on first use only)."""
    if not _BAG:
        _BAG.append(kernels.load("bag"))
    return _BAG[0]


def _plan_kernels() -> Any:
    """:func:`embtable.kernels.bounds.plan_offset_bags` and ``copy_ids_checked``, loaded once."""
    if not _PLAN_KERNEL:
        _PLAN_KERNEL.append((_bounds().plan_offset_bags, _bounds().copy_ids_checked))
    return _PLAN_KERNEL[0]


@dataclass(frozen=True)
class BagPlan:
    """Validated, normalised bags: what the bag kernels need.

    The plan owns its arrays: read-only copies (backed by immutable memory) made before they
    were checked, so changing the ids, offsets or per-sample weights given to
    :func:`plan_bags` afterwards changes nothing here. A plan built directly (``BagPlan(...)``)
    is copied and checked the same way; :func:`plan_bags` gives torch's error messages.

    Attributes:
        ids: the flat ids (int32 or int64), each in ``0 .. num_embeddings - 1``.
        bag_starts: CSR offsets ``(B + 1,)`` int64: bag ``b`` is
            ``ids[bag_starts[b]:bag_starts[b+1]]``; non-decreasing from 0 to ``len(ids)``.
        per_sample_weights: flat float32/float64 weights aligned with ``ids``, or ``None``.
        mode: ``"sum"``, ``"mean"`` or ``"max"``.
        padding_idx: the non-negative padding row, or ``None``.
        num_embeddings: ``V``.

    Example:
        >>> ids = np.array([1, 2, 0])
        >>> plan = BagPlan(ids, np.array([0, 2, 3]), None, "sum", None, 3)
        >>> ids[0] = 10**12  # the plan kept its own copy
        >>> plan.ids, plan.ids.flags.writeable
        (array([1, 2, 0]), False)
    """

    ids: NDArray[np.integer]
    bag_starts: NDArray[np.int64]
    per_sample_weights: NDArray[np.floating] | None
    mode: BagMode
    padding_idx: int | None
    num_embeddings: int

    def __post_init__(self) -> None:
        """Copy and check the fields of a plan built by hand (plan_bags skips this)."""
        num_embeddings = _check_num_embeddings(self.num_embeddings)
        mode = check_mode(self.mode, sparse=False, scale_grad_by_freq=False)
        padding_idx = self.padding_idx
        if padding_idx is not None:
            padding_idx = check_padding_idx(padding_idx, num_embeddings)
        ids = _as_ids(self.ids)
        if ids.ndim != 1:
            raise ShapeError(f"BagPlan.ids must be 1-D, got shape {ids.shape}")
        ids = _frozen(_kernel_ids(ids))
        check_ids(ids, num_embeddings, error=BagIndexError)  # no second copy: ids are frozen
        starts = _as_ids(self.bag_starts, "bag_starts")
        if starts.ndim != 1 or starts.size == 0:
            raise OffsetsError(
                f"bag_starts must be 1-D with B + 1 >= 1 entries, got {starts.shape}"
            )
        starts = _frozen(starts.astype(np.int64))
        steps = np.diff(starts)
        if starts[0] != 0 or starts[-1] != ids.size or np.any(steps < 0):
            raise OffsetsError(
                f"bag_starts must be non-decreasing from 0 to len(ids) = {ids.size}, "
                f"got {starts.tolist()[:10]}{'...' if starts.size > 10 else ''}"
            )
        psw = self.per_sample_weights
        if psw is not None:
            psw = np.asarray(psw)
            if psw.shape != ids.shape:
                raise ShapeError(
                    f"per_sample_weights must have the shape of the ids {ids.shape}, got {psw.shape}"
                )
            psw_dtype = np.float64 if _check_psw_dtype(psw).dtype == np.float64 else np.float32
            psw = _frozen(np.ascontiguousarray(psw, dtype=psw_dtype))
        for name, value in (
            ("ids", ids),
            ("bag_starts", starts),
            ("per_sample_weights", psw),
            ("mode", mode),
            ("padding_idx", padding_idx),
            ("num_embeddings", num_embeddings),
        ):
            object.__setattr__(self, name, value)

    @classmethod
    def _checked(
        cls,
        ids: NDArray[np.integer],
        bag_starts: NDArray[np.int64],
        per_sample_weights: NDArray[np.floating] | None,
        mode: BagMode,
        padding_idx: int | None,
        num_embeddings: int,
    ) -> BagPlan:
        """A plan from arrays :func:`plan_bags` has frozen and checked (no second check)."""
        plan = object.__new__(cls)
        plan.__dict__.update(
            ids=ids,
            bag_starts=bag_starts,
            per_sample_weights=per_sample_weights,
            mode=mode,
            padding_idx=padding_idx,
            num_embeddings=num_embeddings,
        )
        return plan

    def _check_intact(self) -> None:
        """O(1): the arrays are still the frozen, contiguous 1-D buffers that were checked.

        Their contents cannot change, but an array's ``shape``, ``strides`` and ``dtype`` can be
        reassigned in place; any such change shows up here before a kernel reads them.
        """
        ids, starts, psw = self.ids, self.bag_starts, self.per_sample_weights
        intact = (
            isinstance(ids, np.ndarray)
            and isinstance(starts, np.ndarray)
            and ids.ndim == 1
            and starts.ndim == 1
            and ids.flags.c_contiguous
            and starts.flags.c_contiguous
            and not ids.flags.writeable
            and not starts.flags.writeable
            and ids.dtype in (np.dtype(np.int32), np.dtype(np.int64))
            and starts.dtype == np.int64
            and starts.size >= 1
            and int(starts[-1]) == ids.size
            and (
                psw is None
                or (
                    isinstance(psw, np.ndarray)
                    and psw.shape == ids.shape
                    and psw.flags.c_contiguous
                    and not psw.flags.writeable
                    and psw.dtype in _FLOAT_DTYPES[1:]
                )
            )
        )
        if not intact:
            raise ShapeError(
                "this BagPlan's arrays were reshaped, re-strided or replaced after planning; "
                "plan the bags again with plan_bags"
            )

    @property
    def num_bags(self) -> int:
        return len(self.bag_starts) - 1

    def bag_of(self) -> NDArray[np.int64]:
        """The bag of each position, ``(N,)``.

        Example:
            >>> plan_bags([4, 5, 6, 7], 8, [0, 1, 1]).bag_of()
            array([0, 2, 2, 2])
        """
        return np.repeat(np.arange(self.num_bags, dtype=np.int64), np.diff(self.bag_starts))


@dataclass(frozen=True)
class BagState:
    """What a bag forward leaves for its backward: bag sizes and, in max mode, the winners.

    :func:`bag_backward` checks a state against its plan before any kernel reads it (sizes
    ``(B,)``, winners ``(B, D)`` within ``-1 .. V - 1``), so a state built or changed by hand
    cannot make it write outside the gradient.

    Example:
        >>> _, state = bag_forward(np.eye(3), plan_bags([[0, 2], [1, 1]], 3, mode="max"))
        >>> state.bag_size, state.max_indices
        (array([2, 2]), array([[0, 0, 2],
               [1, 1, 1]]))
    """

    bag_size: NDArray[np.int64]
    max_indices: NDArray[np.int64] | None


def _check_state(
    state: BagState, plan: BagPlan, dim: int
) -> tuple[NDArray[np.int64], NDArray[np.int64] | None]:
    """The state's arrays as int64, checked against the plan: O(B * D), as the backward."""
    if not isinstance(state, BagState):
        raise OptionTypeError(
            f"state must be the BagState of bag_forward, got {type(state).__name__}"
        )
    bag_size = np.asarray(state.bag_size)
    if bag_size.shape != (plan.num_bags,) or bag_size.dtype.kind not in "iu":
        raise ShapeError(
            f"state.bag_size must be ({plan.num_bags},) integers, got {bag_size.shape} "
            f"{bag_size.dtype}"
        )
    bag_size = np.ascontiguousarray(bag_size, dtype=np.int64)
    if plan.mode != "max":
        return bag_size, None
    winners = state.max_indices
    if winners is None or np.shape(winners) != (plan.num_bags, dim):
        raise ShapeError(
            f"a max-mode backward needs the forward's max_indices of shape ({plan.num_bags}, "
            f"{dim}), got {None if winners is None else np.shape(winners)}"
        )
    winners = np.asarray(winners)
    if winners.dtype.kind not in "iu":
        raise IdsTypeError(f"state.max_indices must be integers, got {winners.dtype}")
    winners = np.array(winners, dtype=np.int64, copy=True)  # checked below, then only read
    if winners.size and (winners.min() < -1 or winners.max() >= plan.num_embeddings):
        bad = int(winners.min() if winners.min() < -1 else winners.max())
        raise BagIndexError(
            f"state.max_indices holds row {bad}, outside -1 .. {plan.num_embeddings - 1}"
        )
    return bag_size, winners


def _check_offsets(
    offsets: ArrayLike | None, num_ids: int, include_last_offset: bool
) -> NDArray[np.int64]:
    """CSR bag bounds ``(B + 1,)`` from torch-style offsets, validated completely."""
    if offsets is None:
        raise OffsetsError("offsets has to be a 1D Tensor but got None")
    array = _as_ids(offsets, "offsets")
    if array.ndim != 1:
        raise OffsetsError(f"offsets has to be a 1D Tensor, got shape {array.shape}")
    if include_last_offset and array.size == 0:
        raise OffsetsError("include_last_offset: number of offset should be at least 1")
    if not include_last_offset and array.size == 0 and num_ids:
        raise OffsetsError(
            f"offsets is empty but there are {num_ids} ids; expected offsets[0] == 0"
        )
    if not (array.dtype.isnative and array.dtype in _KERNEL_ID_DTYPES):
        array = array.astype(np.int64)
    # One pass copies the offsets into the bounds (the checks below read the copy) and finds the
    # first decrease. A last offset below len(ids) ends the last bag at the end of the input,
    # as torch's padding_idx/max kernels and its test for pytorch#89677 do (its sum/mean kernels
    # without padding_idx disagree with each other there); above len(ids) is refused below.
    starts = np.empty(array.size + (0 if include_last_offset else 1), dtype=np.int64)
    position = int(_bounds().bag_starts_from_offsets(array, num_ids, include_last_offset, starts))
    if array.size and starts[0] != 0:
        raise OffsetsError(
            f"offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start "
            f"from position 0. However, got {int(starts[0])}"
        )
    last = int(starts[array.size - 1]) if array.size else 0  # raised only when below num_ids
    if last > num_ids:
        raise OffsetsError(
            f"offsets[-1] can not be greater than input's length {num_ids} but got "
            f"offsets[-1] of {last}"
        )
    if position >= 0:
        raise OffsetsError(
            f"offsets must be non-decreasing, got offsets[{position}] = {int(starts[position])} "
            f"> offsets[{position + 1}] = {int(starts[position + 1])}"
        )
    return starts


def plan_bags(
    ids: ArrayLike,
    num_embeddings: int,
    offsets: ArrayLike | None = None,
    *,
    mode: str = "mean",
    per_sample_weights: ArrayLike | None = None,
    include_last_offset: bool = False,
    padding_idx: int | None = None,
    sparse: bool = False,
    scale_grad_by_freq: bool = False,
    weight_dtype: np.dtype[Any] | type = np.float32,
) -> BagPlan:
    """Check every argument of an ``embedding_bag`` call and normalise the bags.

    The checks follow torch's order (per-sample-weights shape, input rank and offsets, mode,
    padding, ids), then validate what torch leaves undefined: offsets must be non-decreasing and
    within bounds; with ``include_last_offset`` a last offset below ``len(ids)`` ends the last
    bag at the end of the input (as torch's kernels with ``padding_idx`` and its test for
    pytorch#89677).
    The plan holds read-only copies of the ids, bounds and per-sample weights: reusing the
    caller's arrays afterwards does not change it.

    Raises:
        ModeError: an unknown mode, max with ``sparse`` or ``scale_grad_by_freq``, or max with
            ``per_sample_weights``.
        OffsetsError: offsets missing for 1-D ids, given for 2-D ids, or invalid.
        BagIndexError: an id is out of range (also a ``RuntimeError``, as in torch).

    Example:
        >>> plan = plan_bags([1, 2, 4, 5, 4], 10, [0, 2], mode="sum")
        >>> plan.bag_starts
        array([0, 2, 5])
    """
    if (
        type(ids) is np.ndarray
        and type(num_embeddings) is int
        and num_embeddings >= 0
        and ids.dtype in _KERNEL_ID_DTYPES
        and (
            (
                ids.ndim == 1
                and type(offsets) is np.ndarray
                and offsets.ndim == 1
                and offsets.size
                and offsets.dtype in _KERNEL_ID_DTYPES
            )
            or (ids.ndim == 2 and offsets is None and ids.flags.c_contiguous)
        )
    ):
        # The common call: one kernel pass copies the ids (and offsets) into fresh immutable
        # arrays and checks the copies. When it finds a bad id or offset, the full checks below
        # run from the start, in torch's order, to raise the right error.
        psw = None
        if per_sample_weights is not None:
            psw = np.asarray(per_sample_weights)
            if psw.shape != ids.shape:
                raise _psw_shape_error(psw, ids)
            _check_psw_dtype(psw)
        frozen_ids = _fresh_frozen(ids.size, ids.dtype)
        if ids.ndim == 1:
            include_last_offset = bool(include_last_offset)
            starts = _fresh_frozen(offsets.size + (not include_last_offset), _INT64)
            valid = (
                _plan_kernels()[0](
                    ids, offsets, num_embeddings, include_last_offset, frozen_ids, starts
                )
                < 0
            )
        else:
            starts = _frozen(np.arange(ids.shape[0] + 1, dtype=np.int64) * ids.shape[1])
            valid = _plan_kernels()[1](ids.reshape(-1), num_embeddings, frozen_ids) < 0
        if valid:
            checked_mode, pad = _check_bag_options(
                mode, sparse, scale_grad_by_freq, psw, padding_idx, num_embeddings
            )
            return BagPlan._checked(
                frozen_ids,
                starts,
                _freeze_psw(psw, weight_dtype),
                checked_mode,
                pad,
                num_embeddings,
            )
    num_embeddings = _check_num_embeddings(num_embeddings)
    array = _as_ids(ids)
    psw = None
    if per_sample_weights is not None:
        psw = np.asarray(per_sample_weights)
        if psw.shape != array.shape:
            raise _psw_shape_error(psw, array)
        _check_psw_dtype(psw)
    if array.ndim == 2:
        if offsets is not None:
            raise OffsetsError(
                "if input is 2D, then offsets has to be None, as input is treated is a "
                f"mini-batch of fixed length sequences. However, found offsets of type "
                f"{type(offsets).__name__}"
            )
        num_bags, length = array.shape
        starts = np.arange(num_bags + 1, dtype=np.int64) * length
    elif array.ndim == 1:
        starts = _check_offsets(offsets, array.size, include_last_offset)
    else:
        raise ShapeError(
            f"input has to be 1D or 2D Tensor, but got Tensor of dimension {array.ndim}"
        )
    checked_mode, pad = _check_bag_options(
        mode, sparse, scale_grad_by_freq, psw, padding_idx, num_embeddings
    )
    flat, _ = check_ids(_frozen(array), num_embeddings, error=BagIndexError)  # copied, checked
    if not _immutable(flat):  # ids converted to int64 (uint8, big-endian, ...)
        flat = _frozen(flat)
    return BagPlan._checked(
        flat, _frozen(starts), _freeze_psw(psw, weight_dtype), checked_mode, pad, num_embeddings
    )


def _psw_shape_error(psw: NDArray[Any], ids: NDArray[Any]) -> ShapeError:
    return ShapeError(
        f"embedding_bag: If per_sample_weights ({psw.shape}) is not None, then it must "
        f"have the same shape as the input ({ids.shape})"
    )


def _check_bag_options(
    mode: str,
    sparse: bool,
    scale_grad_by_freq: bool,
    psw: NDArray[Any] | None,
    padding_idx: int | None,
    num_embeddings: int,
) -> tuple[BagMode, int | None]:
    """:func:`plan_bags`' checks between the offsets and the ids: the mode and its options, then
    the padding row. Returns the mode and the non-negative padding row (or ``None``)."""
    checked_mode = check_mode(mode, sparse=sparse, scale_grad_by_freq=scale_grad_by_freq)
    if psw is not None and checked_mode == "max":
        raise ModeError(
            "per_sample_weights is only supported for mode='sum' and mode='mean' (got mode='max')"
        )
    return checked_mode, check_padding_idx(padding_idx, num_embeddings, wording="embedding_bag")


def _freeze_psw(
    psw: NDArray[Any] | None, weight_dtype: np.dtype[Any] | type
) -> NDArray[np.floating] | None:
    """Checked per-sample weights as a flat frozen float64 (for a float64 table) or float32."""
    if psw is None:
        return None
    psw_dtype = np.float64 if np.dtype(weight_dtype).newbyteorder("=") == np.float64 else np.float32
    return _frozen(np.ascontiguousarray(psw.reshape(-1), dtype=psw_dtype))


def _local_table(
    weight: NDArray[Any], plan: BagPlan
) -> tuple[NDArray[np.floating], NDArray[np.integer], int, NDArray[np.int64] | None]:
    """The table the kernels read, its ids and padding row, and the map back to global rows.

    float32/float64 tables are used as they are. A float16 table is not: only the referenced rows
    are converted to float32, and the ids are renumbered into that block (the bag forward's sum
    and mean read float16 rows directly instead, see :func:`embtable.kernels.bag.pools_half`).
    """
    pad = _NO_PADDING if plan.padding_idx is None else plan.padding_idx
    if weight.dtype != np.float16:
        return weight, plan.ids, pad, None
    rows, local_ids = np.unique(plan.ids, return_inverse=True)
    local_pad = int(np.searchsorted(rows, pad)) if pad in rows else _NO_PADDING
    return (
        weight[rows].astype(np.float32),
        local_ids.astype(np.int64),
        local_pad,
        rows.astype(np.int64),
    )


def bag_sizes(plan: BagPlan) -> NDArray[np.int64]:
    """The number of non-padding ids in each bag, ``(B,)``.

    Example:
        >>> bag_sizes(plan_bags([1, 0, 0, 2], 3, [0, 1, 1], padding_idx=0))
        array([1, 0, 1])
    """
    counted = np.ones(plan.ids.size, dtype=np.int64)
    if plan.padding_idx is not None:
        counted[plan.ids == plan.padding_idx] = 0
    cumulative = np.concatenate([[0], np.cumsum(counted)])
    return cumulative[plan.bag_starts[1:]] - cumulative[plan.bag_starts[:-1]]


def _check_plan_weight(plan: BagPlan, weight: NDArray[Any]) -> None:
    plan._check_intact()
    if weight.shape[0] != plan.num_embeddings:
        raise ShapeError(
            f"the bags were planned for a table of {plan.num_embeddings} rows, got a weight of "
            f"{weight.shape[0]} rows"
        )


def bag_forward(weight: ArrayLike, plan: BagPlan) -> tuple[NDArray[np.floating], BagState]:
    """Pool the bags of a validated plan. Returns the ``(B, D)`` output and the backward state.

    Example:
        >>> w = np.arange(8.0).reshape(4, 2)
        >>> out, state = bag_forward(w, plan_bags([0, 1, 3], 4, [0, 2], mode="sum"))
        >>> out, state.bag_size
        (array([[2., 4.],
               [6., 7.]]), array([2, 1]))
    """
    if (
        type(plan) is BagPlan
        and type(weight) is np.ndarray
        and weight.ndim == 2
        and weight.dtype in _NATIVE_KERNEL_DTYPES
        and plan.mode != "max"
        and plan.per_sample_weights is None
    ):
        # the common call: a float32/float64 table, sum or mean, no per-sample weights
        _check_plan_weight(plan, weight)
        starts = plan.bag_starts
        num_bags = starts.shape[0] - 1
        out = np.empty((num_bags, weight.shape[1]), dtype=weight.dtype)  # all rows written
        bag_size = np.empty(num_bags, dtype=np.int64)  # so is every bag's size
        if num_bags:
            pad = plan.padding_idx
            _bag().pool_plain(
                weight,
                plan.ids,
                starts,
                plan.mode == "mean",
                _NO_PADDING if pad is None else pad,
                out,
                bag_size,
            )
        return out, BagState(bag_size, None)
    if not isinstance(plan, BagPlan):
        raise OptionTypeError(f"plan must be a BagPlan from plan_bags, got {type(plan).__name__}")
    weight = _as_weight(weight)
    check_float_weight(weight, "embedding_bag")
    _check_plan_weight(plan, weight)
    bag = _bag()
    if bag.pools_half(weight, _MODES[plan.mode]):  # float16 rows widened in registers
        table, ids, rows = weight, plan.ids, None
        pad = _NO_PADDING if plan.padding_idx is None else plan.padding_idx
        compute = np.dtype(np.float32)
    else:
        table, ids, pad, rows = _local_table(weight, plan)
        compute = table.dtype
    dim = weight.shape[1]
    out = np.empty((plan.num_bags, dim), dtype=compute)  # the kernel writes every row
    bag_size = np.zeros(plan.num_bags, dtype=np.int64)
    is_max = plan.mode == "max"
    argmax = np.empty((plan.num_bags, dim) if is_max else (0, 0), dtype=np.int64)
    psw = plan.per_sample_weights
    if plan.num_bags:
        bag.bag_reduce(
            table,
            ids,
            plan.bag_starts,
            psw if psw is not None else np.empty(0, compute),
            psw is not None,
            _MODES[plan.mode],
            pad,
            out,
            bag_size,
            argmax,
        )
    if is_max and rows is not None and rows.size:
        argmax = np.where(argmax >= 0, rows[np.maximum(argmax, 0)], -1)
    state = BagState(bag_size, argmax if is_max else None)
    return out.astype(weight.dtype, copy=False), state


def bag_backward(
    plan: BagPlan,
    grad_output: ArrayLike,
    state: BagState,
    *,
    weight: ArrayLike | None = None,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
    per_sample_weights_grad: bool = False,
    weight_grad: bool = True,
) -> tuple[NDArray[np.floating] | RowSparseGrad | None, NDArray[np.floating] | None]:
    """Gradients of :func:`bag_forward`: the weight's, and optionally the per-sample weights'.

    ``weight`` is needed only for the per-sample-weights gradient
    (``<grad_output[bag(i)], weight[ids[i]]>``, divided by the bag size in mean mode); when it
    is given, ``grad_output`` must be as wide as it. ``scale_grad_by_freq`` divides by each id's
    count in the whole input (torch's CPU kernel uses a wrong count there; embtable uses the
    right one). With ``weight_grad=False`` only the per-sample-weights gradient is computed (a
    frozen table), and the weight's is ``None``.

    Example:
        >>> w = np.arange(8.0).reshape(4, 2)
        >>> plan = plan_bags([0, 1, 1], 4, [0, 1], mode="sum")
        >>> _, state = bag_forward(w, plan)
        >>> grad, _ = bag_backward(plan, np.array([[1.0, 2.0], [3.0, 4.0]]), state)
        >>> grad
        array([[1., 2.],
               [6., 8.],
               [0., 0.],
               [0., 0.]])
    """
    if not isinstance(plan, BagPlan):
        raise OptionTypeError(f"plan must be a BagPlan from plan_bags, got {type(plan).__name__}")
    plan._check_intact()
    if not isinstance(state, BagState):
        raise OptionTypeError(
            f"state must be the BagState of bag_forward, got {type(state).__name__}"
        )
    grad = np.asarray(grad_output)
    if grad.ndim != 2:
        raise ShapeError(f"grad_output must have shape (num_bags, D), got {grad.shape}")
    dim = grad.shape[1]
    if weight is not None:
        weight = _as_weight(weight)
        dim = weight.shape[1]
    elif state.max_indices is not None and np.ndim(state.max_indices) == 2:
        dim = np.shape(state.max_indices)[1]
    grad = _check_grad_output(grad, (plan.num_bags, dim))
    compute = _compute_dtype(grad.dtype)
    pad = _NO_PADDING if plan.padding_idx is None else plan.padding_idx
    if plan.mode == "max" and sparse:
        check_mode(plan.mode, sparse=True, scale_grad_by_freq=False)  # raises ModeError
    if per_sample_weights_grad:
        if weight is None:
            raise OptionError(
                "the per_sample_weights gradient needs the weight: pass weight=... to bag_backward"
            )
        check_float_weight(weight, "the per_sample_weights gradient")
        _check_plan_weight(plan, weight)
    bag_size, max_indices = _check_state(state, plan, dim)
    bag_of = plan.bag_of()
    result: NDArray[np.floating] | RowSparseGrad | None = None
    if not weight_grad:
        pass
    elif plan.mode == "max":
        dense = np.zeros((plan.num_embeddings, dim), dtype=compute)
        if plan.num_bags and dim:
            kernels.load("bag").scatter_max_grad(
                max_indices, np.ascontiguousarray(grad, dtype=compute), dense
            )
        result = dense.astype(grad.dtype, copy=False)
    else:
        scale = None
        if plan.per_sample_weights is not None:
            scale = plan.per_sample_weights.astype(compute, copy=True)
        if plan.mode == "mean":
            inverse = 1.0 / np.maximum(bag_size, 1).astype(compute)
            scale = inverse[bag_of] if scale is None else scale * inverse[bag_of]
        result = _scatter(
            plan.ids,
            grad,
            bag_of,
            scale,
            num_rows=plan.num_embeddings,
            padding_idx=plan.padding_idx,
            scale_grad_by_freq=scale_grad_by_freq,
            sparse=sparse,
            out_dtype=grad.dtype,
        )
    psw_grad = None
    if per_sample_weights_grad:
        assert weight is not None  # checked above
        table, ids, local_pad, _ = _local_table(weight, plan)
        psw_grad = np.zeros(plan.ids.size, dtype=compute)
        if plan.ids.size:
            kernels.load("bag").per_sample_weights_grad(
                table,
                ids,
                bag_of,
                np.ascontiguousarray(grad, dtype=compute),
                bag_size,
                _MODES[plan.mode],
                local_pad if pad >= 0 else _NO_PADDING,
                psw_grad,
            )
        psw_grad = psw_grad.astype(grad.dtype, copy=False)
    return result, psw_grad


def embedding_bag(
    ids: ArrayLike,
    weight: ArrayLike,
    offsets: ArrayLike | None = None,
    max_norm: float | None = None,
    norm_type: float = 2,
    scale_grad_by_freq: bool = False,
    mode: BagMode = "mean",
    sparse: bool = False,
    per_sample_weights: ArrayLike | None = None,
    include_last_offset: bool = False,
    padding_idx: int | None = None,
) -> NDArray[np.floating]:
    """Sum, average or take the maximum of the rows in each bag of ids, without the ``(N, D)``
    intermediate.

    Args:
        ids: 1-D ids with ``offsets``, or 2-D ``(B, N)`` ids (one bag per row).
        weight: the ``(V, D)`` table (float16, float32 or float64).
        offsets: the start of each bag in ``ids`` (1-D ids only).
        max_norm: renormalise the referenced rows in place first, as :func:`embedding` does.
        mode: ``"sum"``, ``"mean"`` or ``"max"``.
        per_sample_weights: weights aligned with ``ids``, for ``sum`` and (unlike torch)
            ``mean``; the mean divides the weighted sum by the bag's non-padding count.
        include_last_offset: ``offsets`` has ``B + 1`` entries, the last equal to ``len(ids)``.
        padding_idx: ids equal to it are left out of the pooling and of the mean's count.

    Returns:
        ``(B, D)``; an empty (or all-padding) bag gives zeros.

    Shape:
        ids ``(N,)`` with offsets ``(B,)``, or ids ``(B, N)`` → ``(B, D)``.

    Example:
        >>> w = np.arange(8.0).reshape(4, 2)
        >>> embedding_bag(np.array([0, 1, 3]), w, np.array([0, 2]), mode="sum")
        array([[2., 4.],
               [6., 7.]])
        >>> embedding_bag([[0, 1], [3, 3]], w, mode="max")
        array([[2., 3.],
               [6., 7.]])
    """
    weight = _as_weight(weight)
    plan = plan_bags(
        ids,
        weight.shape[0],
        offsets,
        mode=mode,
        per_sample_weights=per_sample_weights,
        include_last_offset=include_last_offset,
        padding_idx=padding_idx,
        sparse=sparse,
        scale_grad_by_freq=scale_grad_by_freq,
        weight_dtype=weight.dtype,
    )
    check_float_weight(weight, "embedding_bag")
    if max_norm is not None:
        max_norm, norm_type = check_max_norm(max_norm, norm_type)
        check_renormalisable(weight)
        _renorm_validated_(weight, plan.ids, max_norm, norm_type)
    out, _ = bag_forward(weight, plan)
    return out


def embedding_bag_backward(
    ids: ArrayLike,
    grad_output: ArrayLike,
    weight: ArrayLike,
    offsets: ArrayLike | None = None,
    *,
    scale_grad_by_freq: bool = False,
    mode: BagMode = "mean",
    sparse: bool = False,
    per_sample_weights: ArrayLike | None = None,
    include_last_offset: bool = False,
    padding_idx: int | None = None,
    weight_grad: bool = True,
) -> tuple[NDArray[np.floating] | RowSparseGrad | None, NDArray[np.floating] | None]:
    """Gradients of :func:`embedding_bag` with respect to the weight and per-sample weights.

    Max mode routes each feature's gradient to the row that won it (the first on ties),
    recomputed from ``weight``.

    Returns:
        ``(weight_grad, per_sample_weights_grad)``: a dense ``(V, D)`` array or a
        :class:`RowSparseGrad` (``None`` with ``weight_grad=False``), and ``None`` when no
        per-sample weights were given.

    Example:
        >>> w = np.arange(8.0).reshape(4, 2)
        >>> g, _ = embedding_bag_backward([0, 1, 1], np.ones((1, 2)), w, [0], mode="mean")
        >>> g.round(4)
        array([[0.3333, 0.3333],
               [0.6667, 0.6667],
               [0.    , 0.    ],
               [0.    , 0.    ]])
    """
    weight = _as_weight(weight)
    plan = plan_bags(
        ids,
        weight.shape[0],
        offsets,
        mode=mode,
        per_sample_weights=per_sample_weights,
        include_last_offset=include_last_offset,
        padding_idx=padding_idx,
        sparse=sparse,
        scale_grad_by_freq=scale_grad_by_freq,
        weight_dtype=weight.dtype,
    )
    if plan.mode == "max":
        _, state = bag_forward(weight, plan)
    else:
        state = BagState(bag_sizes(plan), None)
    return bag_backward(
        plan,
        grad_output,
        state,
        weight=weight,
        scale_grad_by_freq=scale_grad_by_freq,
        sparse=sparse,
        per_sample_weights_grad=per_sample_weights is not None,
        weight_grad=weight_grad,
    )


def embedding_bag_rowwise_adagrad_(
    weight: NDArray[np.floating],
    state_sum: NDArray[np.floating],
    plan: BagPlan,
    grad_output: ArrayLike,
    *,
    lr: float,
    eps: float = 1e-8,
) -> None:
    """The bag backward fused with one row-wise Adagrad step, in place; no gradient array.

    FBGEMM's ``EXACT_ROWWISE_ADAGRAD`` rule, for a sum or mean bag (per-sample weights scale
    each position's gradient): for each touched row ``r`` with summed gradient ``g``,
    ``state_sum[r] += mean(g * g)`` and ``weight[r] -= lr / (sqrt(state_sum[r]) + eps) * g``.
    The padding row is not updated. Arithmetic is in the weight's dtype (float32 or float64).
    Everything is checked before anything is written.

    Args:
        weight: the ``(V, D)`` float32/float64 table, C-contiguous and writable.
        state_sum: the ``(V,)`` accumulator, the weight's dtype (zeros to start).
        plan: the bags of the forward (:func:`plan_bags`), mode ``"sum"`` or ``"mean"``.
        grad_output: the gradient of the pooled output, ``(B, D)``.
        lr: the learning rate, ``>= 0``.
        eps: added to the root of the accumulator, ``>= 0``.

    Raises:
        ModeError: a max-mode plan.
        WeightDTypeError: the weight is not float32/float64, or ``state_sum``'s dtype differs.
        FrozenWeightError: the weight or the state is read-only.
        ShapeError: a shape does not match, or the weight is not C-contiguous.
        OptionError: ``lr`` or ``eps`` is negative or not finite.

    Example:
        >>> w = np.ones((3, 2), np.float32)
        >>> state = np.zeros(3, np.float32)
        >>> plan = plan_bags([0, 2, 2], 3, [0, 1], mode="sum")
        >>> embedding_bag_rowwise_adagrad_(w, state, plan, np.ones((2, 2), np.float32), lr=0.5)
        >>> w
        array([[0.5, 0.5],
               [1. , 1. ],
               [0.5, 0.5]], dtype=float32)
        >>> state
        array([1., 0., 4.], dtype=float32)
    """
    if not isinstance(plan, BagPlan):
        raise OptionTypeError(f"plan must be a BagPlan from plan_bags, got {type(plan).__name__}")
    if plan.mode == "max":
        raise ModeError("the fused row-wise Adagrad step supports mode 'sum' and 'mean', not max")
    if not isinstance(weight, np.ndarray) or weight.ndim != 2:
        raise ShapeError(f"weight must be a 2-D ndarray, got {type(weight).__name__}")
    if weight.dtype not in _NATIVE_KERNEL_DTYPES:
        raise WeightDTypeError(
            f"the fused row-wise Adagrad step updates float32 or float64 tables in native byte "
            f"order, got {weight.dtype}"
        )
    if not isinstance(state_sum, np.ndarray) or state_sum.shape != (weight.shape[0],):
        raise ShapeError(
            f"state_sum must be an ndarray of shape ({weight.shape[0]},), got "
            f"{getattr(state_sum, 'shape', type(state_sum).__name__)}"
        )
    if state_sum.dtype != weight.dtype:
        raise WeightDTypeError(
            f"state_sum must have the weight's dtype {weight.dtype}, got {state_sum.dtype}"
        )
    for name, array in (("weight", weight), ("state_sum", state_sum)):
        if not array.flags.writeable:
            raise FrozenWeightError(f"{name} is read-only, so the step cannot update it in place")
        if not array.flags.c_contiguous:
            raise ShapeError(f"{name} must be C-contiguous (np.ascontiguousarray) for the step")
    for name, value in (("lr", lr), ("eps", eps)):
        if not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
            raise OptionError(f"{name} must be a finite number >= 0, got {value!r}")
    _check_plan_weight(plan, weight)
    grad = _check_grad_output(grad_output, (plan.num_bags, weight.shape[1]))
    grad = np.ascontiguousarray(grad, dtype=weight.dtype)
    scale = None
    if plan.mode == "mean" or plan.per_sample_weights is not None:
        scale = np.ones(plan.ids.size, dtype=weight.dtype)
        if plan.per_sample_weights is not None:
            scale *= plan.per_sample_weights
        if plan.mode == "mean":
            sizes = bag_sizes(plan)
            scale /= np.repeat(np.maximum(sizes, 1), np.diff(plan.bag_starts))
    if not plan.ids.size or not weight.shape[1]:
        return
    kernels.load("rowwise").bag_rowwise_adagrad_(
        weight,
        state_sum,
        plan.ids,
        plan.bag_starts,
        grad,
        scale,
        _NO_PADDING if plan.padding_idx is None else plan.padding_idx,
        weight.dtype.type(lr),
        weight.dtype.type(eps),
    )
