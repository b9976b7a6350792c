"""The kernel path: ``torch.autograd.Function`` s around :mod:`embtable.functional`.

CPU tensors of float16, float32 or float64 are viewed as NumPy arrays without a copy
(``t.detach().numpy()``), handed to :mod:`embtable.functional` (every check, then a numba kernel),
and the results come back through ``torch.from_numpy``, again without a copy. Nothing here decides
semantics: padding, ``max_norm``, bags, scaling by frequency and their errors are all
:mod:`embtable.functional`'s.

Small lookups use torch's own gather (``torch.embedding``: the same values, less call overhead)
and large ones the numba kernel; either way a bad id raises embtable's error, and the backward
is embtable's (see :data:`TORCH_GATHER_MAX_ELEMENTS`), except for small training calls with a
plain dense gradient, which are torch's own op from end to end (:data:`TORCH_NATIVE_MAX_IDS`;
:mod:`embtable.torch.functional` dispatches those, and calls without a gradient, before any
other check).

Batched gradients (``torch.autograd.grad(..., is_grads_batched=True)``, ``gradcheck(...,
check_batched_grad=True)``, ``torch.func.jacrev`` over the backward) reach the backward as
functorch-wrapped tensors, which have no memory to view: there the backward is computed with
torch ops (the same formulas; a sparse gradient is then returned dense, as vmap has no sparse
layout). Everything the forward validated is owned by the graph: the bag plan's ids and
per-sample weights are copied when they share memory with the caller's tensors, so changing
``ids.data`` between forward and backward cannot reach a kernel.

In-place effects are made visible to autograd: ``max_norm`` renormalises the weight through its
NumPy view and then bumps the weight's version counter (as torch's ``embedding_renorm_`` does, on
every call with ``max_norm``), and so does a fused optimizer step in the backward.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .. import functional as _F
from .._errors import ShapeError, SparseGradientError
from ..sparse import RowSparseGrad

if TYPE_CHECKING:
    from ._optim import RowOptimizer

__all__: list[str] = []


#: Lookups with at most this many output elements (ids x dim) use torch's gather, larger ones the
#: numba kernel: below it torch's call is cheaper, above it the kernel's loop is faster
#: (``bench/torch_adapter.py``; the two give identical values).
TORCH_GATHER_MAX_ELEMENTS = 1 << 20

#: Training calls (a weight requiring grad) with at most this many ids, on a float32/float64
#: table of at most :data:`TORCH_NATIVE_MAX_BYTES`, run torch's own op (forward and backward)
#: without a custom node: there the node (about 5 us a call on a 2-core EPYC, a third of a
#: 256-id lookup) outweighs the lookup, and torch's dense backward (a zeroed table, then a scatter)
#: is no slower than embtable's. Above either bound embtable's node and backward win a training
#: step (forward + backward, measured by ``bench/torch_adapter.py`` and the crossover at 2048-4096
#: ids and 32-64 MiB). Only calls whose gradient is the plain dense one qualify (no fused
#: optimizer, ``sparse=False``, no ``scale_grad_by_freq``): float32 and float64 sums in id order
#: give the same bits either way. Failing calls (a bad id, an id dtype torch refuses) are decided
#: again by embtable's general path, which raises embtable's error.
TORCH_NATIVE_MAX_IDS = 2048
#: See :data:`TORCH_NATIVE_MAX_IDS`.
TORCH_NATIVE_MAX_BYTES = 32 << 20
NATIVE_DTYPES = (torch.float32, torch.float64)

_INDEX_DTYPES = (torch.int32, torch.int64)
_functorch = torch._C._functorch


def _is_wrapped(tensor: torch.Tensor) -> bool:
    """Whether ``tensor`` is a functorch wrapper (``torch.func`` transforms) or a legacy batched
    tensor (``is_grads_batched``): no memory that NumPy could view."""
    return bool(
        _functorch.is_functorch_wrapped_tensor(tensor) or _functorch.is_legacy_batchedtensor(tensor)
    )


_torch_embedding = torch.embedding  # the ATen op, which no monkeypatching of torch.nn reaches


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    """The tensor's memory as a NumPy array (no copy for a CPU tensor)."""
    return tensor.detach().numpy()


def _gather(weight: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """``weight[ids]`` as a new tensor, every id checked (embtable's error for a bad one)."""
    if (
        ids.dtype in _INDEX_DTYPES
        and weight.dim() == 2
        and ids.numel() * weight.shape[1] <= TORCH_GATHER_MAX_ELEMENTS
    ):
        try:
            return _torch_embedding(weight, ids)
        except IndexError:
            _F.check_ids(_numpy(ids), weight.shape[0])  # words and raises embtable's error
            raise
    return torch.from_numpy(_F.embedding(_numpy(ids), _numpy(weight)))


def _row_scale(
    ids: torch.Tensor,
    num_embeddings: int,
    padding_idx: int | None,
    scale_grad_by_freq: bool,
    dtype: torch.dtype,
) -> torch.Tensor | None:
    """``(V, 1)`` factors of each row's gradient: 0 at padding, ``1 / count`` with
    ``scale_grad_by_freq``; ``None`` when all are 1."""
    if padding_idx is None and not scale_grad_by_freq:
        return None
    keep = torch.ones((num_embeddings, 1), dtype=dtype)
    if padding_idx is not None:
        keep[padding_idx] = 0
    if scale_grad_by_freq:
        counts = torch.bincount(ids.reshape(-1).long(), minlength=num_embeddings)
        keep = keep / counts.clamp(min=1).to(dtype).unsqueeze(1)
    return keep


def _embedding_grad_ops(
    grad_output: torch.Tensor,
    ids: torch.Tensor,
    num_embeddings: int,
    padding_idx: int | None,
    scale_grad_by_freq: bool,
) -> torch.Tensor:
    """The dense weight gradient in torch ops, for batched (functorch-wrapped) gradients;
    differentiable, with the true adjoint."""
    flat = ids.reshape(-1).long()
    grad = grad_output.reshape(flat.shape[0], grad_output.shape[-1])
    scale = _row_scale(ids, num_embeddings, padding_idx, scale_grad_by_freq, grad.dtype)
    if scale is not None:
        grad = grad * scale[flat]
    return grad.new_zeros((num_embeddings, grad.shape[-1])).index_add(0, flat, grad)


def bump_version(weight: torch.Tensor) -> None:
    """Tell autograd that ``weight`` was modified in place (an inference tensor has no counter)."""
    if not weight.is_inference():
        torch.autograd.graph.increment_version(weight)


def to_sparse_coo(grad: RowSparseGrad) -> torch.Tensor:
    """A coalesced torch sparse COO tensor with the rows and values of ``grad`` (no copy)."""
    rows = torch.from_numpy(grad.rows).unsqueeze(0)
    values = torch.from_numpy(grad.values)
    return torch.sparse_coo_tensor(
        rows, values, grad.shape, is_coalesced=True, check_invariants=False
    )


# ---------------------------------------------------------------------------------------------
# Embedding


class EmbeddingFunction(torch.autograd.Function):
    """``weight[ids]``; backward: dense, row-sparse, or a fused optimizer step."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        weight: torch.Tensor,
        ids: torch.Tensor,
        padding_idx: int | None,
        scale_grad_by_freq: bool,
        sparse: bool,
        optimizer: RowOptimizer | None,
    ) -> torch.Tensor:
        out = _gather(weight, ids)
        ctx.save_for_backward(ids)
        ctx.options = (weight.shape[0], padding_idx, scale_grad_by_freq, sparse, optimizer)
        if optimizer is not None:
            ctx.weight = weight
        return out

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        (ids,) = ctx.saved_tensors
        num_embeddings, padding_idx, scale_grad_by_freq, sparse, optimizer = ctx.options
        nones = (None,) * (len(ctx.needs_input_grad) - 1)
        if _is_wrapped(grad_output):  # batched gradients (vmap): torch ops
            if optimizer is not None:
                raise SparseGradientError(
                    "a layer with a fused optimizer cannot take batched gradients "
                    "(is_grads_batched / vmap): each backward is an optimizer step"
                )
            if not ctx.needs_input_grad[0]:
                return (None, *nones)
            grad_weight = _embedding_grad_ops(
                grad_output, ids, num_embeddings, padding_idx, scale_grad_by_freq
            )
            return (grad_weight, *nones)
        if optimizer is not None:
            grad = _F.embedding_backward(
                _numpy(ids),
                _numpy(grad_output),
                num_embeddings,
                padding_idx,
                scale_grad_by_freq,
                sparse=True,
            )
            optimizer.apply_rows_(ctx.weight, grad)  # type: ignore[arg-type]
            return (None, *nones)
        if not ctx.needs_input_grad[0]:
            return (None, *nones)
        backward = EmbeddingSparseBackward if sparse else EmbeddingDenseBackward
        grad_weight = backward.apply(
            grad_output, ids, num_embeddings, padding_idx, scale_grad_by_freq
        )
        return (grad_weight, *nones)


class EmbeddingDenseBackward(torch.autograd.Function):
    """The dense weight gradient; differentiable again (it is linear in ``grad_output``)."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        grad_output: torch.Tensor,
        ids: torch.Tensor,
        num_embeddings: int,
        padding_idx: int | None,
        scale_grad_by_freq: bool,
    ) -> torch.Tensor:
        grad = _F.embedding_backward(
            _numpy(ids), _numpy(grad_output), num_embeddings, padding_idx, scale_grad_by_freq
        )
        ctx.save_for_backward(ids)
        ctx.options = (num_embeddings, padding_idx, scale_grad_by_freq)
        return torch.from_numpy(grad)  # type: ignore[arg-type]

    @staticmethod
    def backward(ctx: Any, grad_grad: torch.Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        (ids,) = ctx.saved_tensors
        return (_adjoint(grad_grad, ids, *ctx.options), None, None, None, None)


class EmbeddingSparseBackward(torch.autograd.Function):
    """The row-sparse weight gradient as a coalesced COO tensor; differentiable again."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        grad_output: torch.Tensor,
        ids: torch.Tensor,
        num_embeddings: int,
        padding_idx: int | None,
        scale_grad_by_freq: bool,
    ) -> torch.Tensor:
        grad = _F.embedding_backward(
            _numpy(ids),
            _numpy(grad_output),
            num_embeddings,
            padding_idx,
            scale_grad_by_freq,
            sparse=True,
        )
        ctx.save_for_backward(ids)
        ctx.options = (num_embeddings, padding_idx, scale_grad_by_freq)
        return to_sparse_coo(grad)  # type: ignore[arg-type]

    @staticmethod
    def backward(ctx: Any, grad_grad: torch.Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        (ids,) = ctx.saved_tensors
        if grad_grad.is_sparse:
            grad_grad = grad_grad.to_dense()
        return (_adjoint(grad_grad, ids, *ctx.options), None, None, None, None)


def _adjoint(
    grad_grad: torch.Tensor,
    ids: torch.Tensor,
    num_embeddings: int,
    padding_idx: int | None,
    scale_grad_by_freq: bool,
) -> torch.Tensor:
    """The backward's adjoint: ``grad_grad[ids[i]]`` (zero at padding, divided by the id's count
    with ``scale_grad_by_freq``), itself differentiable through :class:`EmbeddingFunction`."""
    table = grad_grad
    keep = _row_scale(ids, num_embeddings, padding_idx, scale_grad_by_freq, grad_grad.dtype)
    if keep is not None:
        table = grad_grad * keep
    if _is_wrapped(table) or table.layout != torch.strided:  # batched: torch's own gather
        return _torch_embedding(table, ids if ids.dtype in _INDEX_DTYPES else ids.long())
    if table.requires_grad:
        return EmbeddingFunction.apply(table, ids, None, False, False, None)  # type: ignore[no-any-return]
    return _gather(table, ids)


def _raw_apply(function: type[torch.autograd.Function]) -> Any:
    """``function``'s C-level ``apply``: what ``Function.apply`` calls after its Python checks,
    which only matter under ``torch.func`` transforms (the caller checks that none is active)."""
    return super(torch.autograd.Function, function).apply  # type: ignore[misc]


class _LeanEmbeddingFunction(EmbeddingFunction):
    """:class:`EmbeddingFunction` for :func:`embedding_node`: the options come packed (fewer
    arguments through ``apply``) and the caller has checked the ids' dtype and the table's
    rank; the backward is the same."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        weight: torch.Tensor,
        ids: torch.Tensor,
        options: tuple[int, int | None, bool, bool, RowOptimizer | None],
    ) -> torch.Tensor:
        if ids.numel() * weight.shape[1] <= TORCH_GATHER_MAX_ELEMENTS:
            try:
                out = _torch_embedding(weight, ids)
            except IndexError:
                _F.check_ids(_numpy(ids), weight.shape[0])  # words and raises embtable's error
                raise
        else:
            out = torch.from_numpy(_F.embedding(_numpy(ids), _numpy(weight)))
        ctx.save_for_backward(ids)
        ctx.options = options
        if options[4] is not None:
            ctx.weight = weight
        return out


_LEAN_APPLY = _raw_apply(_LeanEmbeddingFunction)
_are_transforms_active = torch._C._are_functorch_transforms_active


def embedding_node(
    ids: torch.Tensor,
    weight: torch.Tensor,
    padding_idx: int | None,
    scale_grad_by_freq: bool,
    sparse: bool,
    optimizer: RowOptimizer | None,
) -> torch.Tensor:
    """embtable's autograd node for a training call without ``max_norm`` on plain CPU tensors
    (int32/int64 ids, a 2-D float16/32/64 table, ``padding_idx`` already checked and
    non-negative), with as little Python between the call and the gather as possible."""
    options = (weight.shape[0], padding_idx, scale_grad_by_freq, sparse, optimizer)
    if _are_transforms_active():
        return _LeanEmbeddingFunction.apply(weight, ids, options)  # type: ignore[no-any-return]
    return _LEAN_APPLY(weight, ids, options)  # type: ignore[no-any-return]


def embedding(
    ids: torch.Tensor,
    weight: torch.Tensor,
    padding_idx: int | None,
    max_norm: float | None,
    norm_type: float,
    scale_grad_by_freq: bool,
    sparse: bool,
    optimizer: RowOptimizer | None,
) -> torch.Tensor:
    """The kernel path of :func:`embtable.torch.functional.embedding` (CPU, float16/32/64)."""
    weight_array = _numpy(weight)
    ids_array = _numpy(ids)
    if weight_array.ndim == 2:
        padding_idx = _F.check_padding_idx(padding_idx, weight_array.shape[0])
    if max_norm is not None and weight_array.ndim == 2:
        # functional.embedding's own order: padding, ids, max_norm; then renorm in place.
        flat, _ = _F.check_ids(ids_array, weight_array.shape[0])
        max_norm, norm_type = _F.check_max_norm(max_norm, norm_type)
        _F.check_float_weight(weight_array, "max_norm")
        _F._renorm_validated_(weight_array, flat, max_norm, norm_type)
        bump_version(weight)
    if torch.is_grad_enabled() and weight.requires_grad:
        return EmbeddingFunction.apply(  # type: ignore[no-any-return]
            weight, ids, padding_idx, scale_grad_by_freq, sparse, optimizer
        )
    if weight_array.ndim != 2:
        _F.embedding(ids_array, weight_array, padding_idx)  # raises embtable's ShapeError
    return _gather(weight, ids)


# ---------------------------------------------------------------------------------------------
# EmbeddingBag


class EmbeddingBagFunction(torch.autograd.Function):
    """Pooled bags; backward: the weight's gradient (or a fused step) and the per-sample
    weights' gradient."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        weight: torch.Tensor,
        per_sample_weights: torch.Tensor | None,
        ids: torch.Tensor,
        offsets: torch.Tensor | None,
        plan: _F.BagPlan,
        scale_grad_by_freq: bool,
        sparse: bool,
        optimizer: RowOptimizer | None,
    ) -> torch.Tensor:
        out, state = _F.bag_forward(_numpy(weight), plan)
        # Saved so that autograd notices in-place changes to them before the backward (the plan
        # holds views of ids and per-sample weights; the weight is read by the psw gradient).
        psw_grad = per_sample_weights is not None and ctx.needs_input_grad[1]
        ctx.save_for_backward(ids, offsets, per_sample_weights, weight if psw_grad else None)
        ctx.plan, ctx.state = plan, state
        ctx.options = (scale_grad_by_freq, sparse, optimizer)
        if optimizer is not None:
            ctx.weight = weight
        return torch.from_numpy(out)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        _, _, per_sample_weights, saved_weight = ctx.saved_tensors
        scale_grad_by_freq, sparse, optimizer = ctx.options
        nones = (None,) * 6
        need_weight = ctx.needs_input_grad[0] and optimizer is None
        need_psw = ctx.needs_input_grad[1]
        grad_weight = grad_psw = None
        if _is_wrapped(grad_output):  # batched gradients (vmap): torch ops
            if optimizer is not None and ctx.needs_input_grad[0]:
                raise SparseGradientError(
                    "a layer with a fused optimizer cannot take batched gradients "
                    "(is_grads_batched / vmap): each backward is an optimizer step"
                )
            grad_weight, grad_psw = _bag_grads_ops(
                grad_output,
                saved_weight,
                ctx.plan,
                ctx.state,
                scale_grad_by_freq,
                need_weight,
                need_psw,
            )
            if need_psw:
                grad_psw = grad_psw.reshape(per_sample_weights.shape).to(per_sample_weights.dtype)
            return (grad_weight, grad_psw, *nones)
        if need_weight or need_psw:
            grad_weight, grad_psw = EmbeddingBagBackward.apply(
                grad_output,
                saved_weight,
                ctx.plan,
                ctx.state,
                scale_grad_by_freq,
                sparse,
                need_weight,
                need_psw,
            )
            if need_psw:
                grad_psw = grad_psw.reshape(per_sample_weights.shape).to(per_sample_weights.dtype)
        if optimizer is not None and ctx.needs_input_grad[0]:
            # after the psw gradient, which reads the weight as it was
            grad, _ = _F.bag_backward(
                ctx.plan,
                _numpy(grad_output),
                ctx.state,
                scale_grad_by_freq=scale_grad_by_freq,
                sparse=True,
            )
            optimizer.apply_rows_(ctx.weight, grad)  # type: ignore[arg-type]
        return (grad_weight, grad_psw, *nones)


class EmbeddingBagBackward(torch.autograd.Function):
    """The bag backward; like torch's, it has no derivative of its own."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        grad_output: torch.Tensor,
        weight: torch.Tensor | None,
        plan: _F.BagPlan,
        state: _F.BagState,
        scale_grad_by_freq: bool,
        sparse: bool,
        need_weight: bool,
        need_psw: bool,
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        grad_array = _numpy(grad_output)
        grad_weight = grad_psw = None
        if need_weight:
            grad, _ = _F.bag_backward(
                plan, grad_array, state, scale_grad_by_freq=scale_grad_by_freq, sparse=sparse
            )
            grad_weight = (
                to_sparse_coo(grad) if isinstance(grad, RowSparseGrad) else torch.from_numpy(grad)
            )
        if need_psw:
            assert weight is not None
            _, psw = _F.bag_backward(
                plan, grad_array, state, weight=_numpy(weight), per_sample_weights_grad=True
            )
            grad_psw = torch.from_numpy(psw)
        return grad_weight, grad_psw

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> tuple[Any, ...]:  # type: ignore[override]
        raise NotImplementedError(
            "the derivative for '_embedding_bag_backward' is not implemented."
        )


def _owned(
    plan: _F.BagPlan, ids: np.ndarray, per_sample_weights: torch.Tensor | None
) -> _F.BagPlan:
    """``plan`` with private copies of what still shares memory with the caller's tensors, so
    that the backward's kernels read what the forward validated."""
    changes: dict[str, Any] = {}
    if np.may_share_memory(plan.ids, ids):
        changes["ids"] = plan.ids.copy()
    psw = plan.per_sample_weights
    if psw is not None and per_sample_weights is not None:
        if np.may_share_memory(psw, _numpy(per_sample_weights)):
            changes["per_sample_weights"] = psw.copy()
    return dataclasses.replace(plan, **changes) if changes else plan


def _bag_grads_ops(
    grad_output: torch.Tensor,
    weight: torch.Tensor | None,
    plan: _F.BagPlan,
    state: _F.BagState,
    scale_grad_by_freq: bool,
    need_weight: bool,
    need_psw: bool,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """The bag backward in torch ops, for batched (functorch-wrapped) gradients: the weight's
    gradient (dense) and the per-sample weights' (flat), the same formulas as the kernels."""
    ids = torch.tensor(plan.ids, dtype=torch.int64)  # copies: plan arrays may be read-only
    bag_of = torch.tensor(plan.bag_of())
    num_rows, dim = plan.num_embeddings, grad_output.shape[-1]
    dtype = grad_output.dtype
    per_position = grad_output.index_select(0, bag_of)  # (N, D): each id's bag's gradient
    keep = torch.ones(ids.shape[0], dtype=dtype)
    if plan.padding_idx is not None:
        keep = (ids != plan.padding_idx).to(dtype)
    if plan.mode == "mean":
        sizes = torch.tensor(state.bag_size).clamp(min=1).to(dtype)
        keep = keep / sizes[bag_of]
    grad_weight = grad_psw = None
    if need_weight and plan.mode == "max":
        assert state.max_indices is not None
        winners = torch.tensor(state.max_indices)  # (B, D); -1 in empty bags
        flat = (winners.clamp(min=0) * dim + torch.arange(dim)).reshape(-1)
        values = (grad_output * (winners >= 0).to(dtype)).reshape(-1)
        grad_weight = grad_output.new_zeros(num_rows * dim).index_add(0, flat, values)
        grad_weight = grad_weight.reshape(num_rows, dim)
    elif need_weight:
        scale = keep
        if plan.per_sample_weights is not None:
            scale = scale * torch.tensor(plan.per_sample_weights).to(dtype)
        if scale_grad_by_freq:
            counts = torch.bincount(ids, minlength=num_rows).clamp(min=1).to(dtype)
            scale = scale / counts[ids]
        contributions = per_position * scale.unsqueeze(1)
        grad_weight = grad_output.new_zeros((num_rows, dim)).index_add(0, ids, contributions)
    if need_psw:
        assert weight is not None
        rows = weight.detach().index_select(0, ids).to(dtype)
        grad_psw = (per_position * rows).sum(-1) * keep
    return grad_weight, grad_psw


def embedding_bag(
    ids: torch.Tensor,
    weight: torch.Tensor,
    offsets: torch.Tensor | None,
    max_norm: float | None,
    norm_type: float,
    scale_grad_by_freq: bool,
    mode: str,
    sparse: bool,
    per_sample_weights: torch.Tensor | None,
    include_last_offset: bool,
    padding_idx: int | None,
    optimizer: RowOptimizer | None,
) -> torch.Tensor:
    """The kernel path of :func:`embtable.torch.functional.embedding_bag`."""
    weight_array = _numpy(weight)
    if weight_array.ndim != 2:
        raise ShapeError(
            f"weight has to be a 2D Tensor, but got Tensor of dimension {weight.dim()}"
        )
    ids_array = _numpy(ids)
    plan = _F.plan_bags(
        ids_array,
        weight_array.shape[0],
        None if offsets is None else _numpy(offsets),
        mode=mode,
        per_sample_weights=None if per_sample_weights is None else _numpy(per_sample_weights),
        include_last_offset=include_last_offset,
        padding_idx=padding_idx,
        sparse=sparse,
        scale_grad_by_freq=scale_grad_by_freq,
        weight_dtype=weight_array.dtype,
    )
    if max_norm is not None:
        max_norm, norm_type = _F.check_max_norm(max_norm, norm_type)
        _F._renorm_validated_(weight_array, plan.ids, max_norm, norm_type)
        bump_version(weight)
    needs_graph = torch.is_grad_enabled() and (
        weight.requires_grad
        or (per_sample_weights is not None and per_sample_weights.requires_grad)
    )
    if not needs_graph:
        out, _ = _F.bag_forward(weight_array, plan)
        return torch.from_numpy(out)
    plan = _owned(plan, ids_array, per_sample_weights)
    return EmbeddingBagFunction.apply(  # type: ignore[no-any-return]
        weight, per_sample_weights, ids, offsets, plan, scale_grad_by_freq, sparse, optimizer
    )
