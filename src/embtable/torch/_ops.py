"""The ``torch.compile`` path: torch custom ops (``embtable::*``) around :mod:`embtable.functional`.

:mod:`embtable.torch.functional` sends a call here only while ``torch.compiler.is_compiling()``
is true (eager calls keep the ``autograd.Function`` path of :mod:`embtable.torch._autograd`, which
is as fast or faster), and only for what the ops cover: CPU float16/32/64 tables without a fused
optimizer, ``Embedding`` with a dense gradient (``sparse=False``), ``EmbeddingBag`` in sum, mean or
max mode with a dense gradient and no ``per_sample_weights`` or ``max_norm``. Everything else
runs the eager paths through ``torch.compiler.disable`` (a graph break; an error under
``fullgraph=True``). Sparse gradients are not offered here: a custom op cannot return a sparse COO
tensor of data-dependent ``nnz`` under AOTAutograd (the fake tensor's unbacked size is lost).

Errors raised while tracing surface as they do for any Python error under Dynamo: without
``fullgraph`` the frame falls back to eager and embtable's error is raised; with
``fullgraph=True`` Dynamo raises ``torch._dynamo.exc.Unsupported`` ("Observed exception"),
whose message names embtable's error.

The ops are opaque to the compiler: their bodies view the real CPU tensors as NumPy arrays and
call the same :mod:`embtable.functional` functions as the eager path (checks, numba kernels). The
fake (meta) implementations give only shapes and dtypes. Checks that need no tensor values
(ids dtype, weight rank, ``padding_idx``, ``max_norm``, mode) run in the Python wrapper while
Dynamo traces, so they raise at compile time; checks on values (an id out of range, invalid
offsets) run inside the op bodies at run time, before anything is written, and raise embtable's
usual errors from the compiled call.

``max_norm`` is its own op, ``embtable::embedding_renorm``, which declares ``weight`` in
``mutates_args`` (functionalization then writes the renormalised rows back to the parameter).

Ops:

- ``embtable::embedding(ids, weight, padding_idx, scale_grad_by_freq)``: the lookup; its
  autograd formula calls ``embtable::embedding_dense_backward``.
- ``embtable::embedding_renorm(weight!, ids, max_norm, norm_type)``: ``max_norm`` in place.
- ``embtable::embedding_bag(ids, weight, offsets, mode, include_last_offset, padding_idx,
  scale_grad_by_freq)`` → ``(out, max_indices)``; autograd via
  ``embtable::embedding_bag_dense_backward``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .. import functional as _F
from .._errors import BagIndexError, EmbeddingIndexError, IdsTypeError, ShapeError
from ._autograd import _numpy
from ._phrases import BAG_INDEX_PHRASE, INDEX_PHRASE, add_torch_phrase

__all__: list[str] = []

_KERNEL_DTYPES = (torch.float16, torch.float32, torch.float64)
_MODE_CODES = {"sum": 0, "mean": 1, "max": 2}
_MODE_NAMES = {code: name for name, code in _MODE_CODES.items()}


def covers(weight: torch.Tensor, *others: torch.Tensor | None) -> bool:
    """Whether the custom ops can take a call with these tensors (checked while tracing)."""
    return (
        weight.dtype in _KERNEL_DTYPES
        and weight.layout == torch.strided
        and weight.device.type == "cpu"
        and all(t is None or (t.device.type == "cpu" and t.layout == torch.strided) for t in others)
    )


def check_ids_dtype(ids: torch.Tensor, what: str = "ids") -> None:
    """Raise embtable's ``IdsTypeError`` for non-integer ids while tracing (no NumPy here:
    Dynamo cannot trace the eager check's ``np.dtype``); the message is the eager one."""
    if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
        raise IdsTypeError(
            f"{what} must be an integer array, got {str(ids.dtype).removeprefix('torch.')}; "
            f"convert with {what}.astype(np.int64)"
        )


# ---------------------------------------------------------------------------------------------
# Embedding


@torch.library.custom_op("embtable::embedding", mutates_args=())
def _embedding_op(
    ids: torch.Tensor, weight: torch.Tensor, padding_idx: int | None, scale_grad_by_freq: bool
) -> torch.Tensor:
    # scale_grad_by_freq only matters to the backward (it is here for setup_context)
    try:
        return torch.from_numpy(_F.embedding(_numpy(ids), _numpy(weight), padding_idx))
    except EmbeddingIndexError as error:  # raised inside a compiled or traced graph
        add_torch_phrase(error, INDEX_PHRASE)
        raise


@_embedding_op.register_fake
def _(
    ids: torch.Tensor, weight: torch.Tensor, padding_idx: int | None, scale_grad_by_freq: bool
) -> torch.Tensor:
    return weight.new_empty((*ids.shape, weight.shape[1]))


@torch.library.custom_op("embtable::embedding_dense_backward", mutates_args=())
def _embedding_dense_backward_op(
    grad_output: torch.Tensor,
    ids: torch.Tensor,
    num_embeddings: int,
    padding_idx: int | None,
    scale_grad_by_freq: bool,
) -> torch.Tensor:
    grad = _F.embedding_backward(
        _numpy(ids), _numpy(grad_output), num_embeddings, padding_idx, scale_grad_by_freq
    )
    return torch.from_numpy(grad)  # type: ignore[arg-type]


@_embedding_dense_backward_op.register_fake
def _(
    grad_output: torch.Tensor,
    ids: torch.Tensor,
    num_embeddings: int,
    padding_idx: int | None,
    scale_grad_by_freq: bool,
) -> torch.Tensor:
    return grad_output.new_empty((num_embeddings, grad_output.shape[-1]))


def _embedding_setup(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
    ids, weight, padding_idx, scale_grad_by_freq = inputs
    ctx.save_for_backward(ids)
    ctx.options = (weight.shape[0], padding_idx, scale_grad_by_freq)


def _embedding_backward(ctx: Any, grad_output: torch.Tensor) -> tuple[Any, ...]:
    (ids,) = ctx.saved_tensors
    grad_weight = None
    if ctx.needs_input_grad[1]:
        grad_weight = _embedding_dense_backward_op(grad_output, ids, *ctx.options)
    return None, grad_weight, None, None


_embedding_op.register_autograd(_embedding_backward, setup_context=_embedding_setup)


@torch.library.custom_op("embtable::embedding_renorm", mutates_args=("weight",))
def _embedding_renorm_op(
    weight: torch.Tensor, ids: torch.Tensor, max_norm: float, norm_type: float
) -> None:
    # checks the ids (and the bound) before writing, as the eager path does
    _F.embedding_renorm_(_numpy(weight), _numpy(ids), max_norm, norm_type)


@_embedding_renorm_op.register_fake
def _(weight: torch.Tensor, ids: torch.Tensor, max_norm: float, norm_type: float) -> None:
    return None


def embedding(
    ids: torch.Tensor,
    weight: torch.Tensor,
    padding_idx: int | None,
    max_norm: float | None,
    norm_type: float,
    scale_grad_by_freq: bool,
) -> torch.Tensor:
    """The compiled path of :func:`embtable.torch.functional.embedding` (dense gradient)."""
    if weight.dim() != 2:
        raise ShapeError(f"'weight' must be 2-D, got an array of shape {tuple(weight.shape)}")
    padding_idx = _F.check_padding_idx(padding_idx, weight.shape[0])
    check_ids_dtype(ids)
    if max_norm is not None:
        max_norm, norm_type = _F.check_max_norm(max_norm, norm_type)
        with torch.no_grad():
            _embedding_renorm_op(weight.detach(), ids, max_norm, norm_type)
    return _embedding_op(ids, weight, padding_idx, scale_grad_by_freq)  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------
# EmbeddingBag (sum, mean, max; no per_sample_weights, no max_norm)


def _plan(
    ids: torch.Tensor,
    offsets: torch.Tensor | None,
    num_embeddings: int,
    mode: str,
    include_last_offset: bool,
    padding_idx: int | None,
    scale_grad_by_freq: bool,
    weight_dtype: Any,
) -> _F.BagPlan:
    return _F.plan_bags(
        _numpy(ids),
        num_embeddings,
        None if offsets is None else _numpy(offsets),
        mode=mode,
        include_last_offset=include_last_offset,
        padding_idx=padding_idx,
        scale_grad_by_freq=scale_grad_by_freq,
        weight_dtype=weight_dtype,
    )


@torch.library.custom_op("embtable::embedding_bag", mutates_args=())
def _embedding_bag_op(
    ids: torch.Tensor,
    weight: torch.Tensor,
    offsets: torch.Tensor | None,
    mode: str,
    include_last_offset: bool,
    padding_idx: int | None,
    scale_grad_by_freq: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    weight_array = _numpy(weight)
    try:
        plan = _plan(
            ids,
            offsets,
            weight_array.shape[0],
            mode,
            include_last_offset,
            padding_idx,
            scale_grad_by_freq,
            weight_array.dtype,
        )
    except BagIndexError as error:  # raised inside a compiled or traced graph
        add_torch_phrase(error, BAG_INDEX_PHRASE)
        raise
    out, state = _F.bag_forward(weight_array, plan)
    max_indices = state.max_indices
    if max_indices is None:
        max_indices = np.empty((0, 0), dtype=np.int64)
    return (
        torch.from_numpy(out),
        torch.from_numpy(state.bag_size),
        torch.from_numpy(max_indices),
    )


def _num_bags(ids: torch.Tensor, offsets: torch.Tensor | None, include_last_offset: bool) -> Any:
    if offsets is None:
        return ids.shape[0]
    return offsets.shape[0] - 1 if include_last_offset else offsets.shape[0]


@_embedding_bag_op.register_fake
def _(
    ids: torch.Tensor,
    weight: torch.Tensor,
    offsets: torch.Tensor | None,
    mode: str,
    include_last_offset: bool,
    padding_idx: int | None,
    scale_grad_by_freq: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    num_bags = _num_bags(ids, offsets, include_last_offset)
    dim = weight.shape[1]
    max_shape = (num_bags, dim) if mode == "max" else (0, 0)
    return (
        weight.new_empty((num_bags, dim)),
        weight.new_empty((num_bags,), dtype=torch.int64),
        weight.new_empty(max_shape, dtype=torch.int64),
    )


@torch.library.custom_op("embtable::embedding_bag_dense_backward", mutates_args=())
def _embedding_bag_dense_backward_op(
    grad_output: torch.Tensor,
    ids: torch.Tensor,
    offsets: torch.Tensor | None,
    bag_size: torch.Tensor,
    max_indices: torch.Tensor,
    num_embeddings: int,
    mode: str,
    include_last_offset: bool,
    padding_idx: int | None,
    scale_grad_by_freq: bool,
) -> torch.Tensor:
    grad_array = _numpy(grad_output)
    plan = _plan(
        ids,
        offsets,
        num_embeddings,
        mode,
        include_last_offset,
        padding_idx,
        scale_grad_by_freq,
        grad_array.dtype,
    )
    state = _F.BagState(_numpy(bag_size), _numpy(max_indices) if mode == "max" else None)
    grad, _ = _F.bag_backward(plan, grad_array, state, scale_grad_by_freq=scale_grad_by_freq)
    return torch.from_numpy(grad)  # type: ignore[arg-type]


@_embedding_bag_dense_backward_op.register_fake
def _(
    grad_output: torch.Tensor,
    ids: torch.Tensor,
    offsets: torch.Tensor | None,
    bag_size: torch.Tensor,
    max_indices: torch.Tensor,
    num_embeddings: int,
    mode: str,
    include_last_offset: bool,
    padding_idx: int | None,
    scale_grad_by_freq: bool,
) -> torch.Tensor:
    return grad_output.new_empty((num_embeddings, grad_output.shape[1]))


def _embedding_bag_setup(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
    ids, weight, offsets, mode, include_last_offset, padding_idx, scale_grad_by_freq = inputs
    _, bag_size, max_indices = output
    ctx.save_for_backward(ids, offsets, bag_size, max_indices)
    ctx.options = (weight.shape[0], mode, include_last_offset, padding_idx, scale_grad_by_freq)


def _embedding_bag_backward(ctx: Any, grad_output: torch.Tensor, *_: Any) -> tuple[Any, ...]:
    ids, offsets, bag_size, max_indices = ctx.saved_tensors
    grad_weight = None
    if ctx.needs_input_grad[1]:
        grad_weight = _embedding_bag_dense_backward_op(
            grad_output, ids, offsets, bag_size, max_indices, *ctx.options
        )
    return None, grad_weight, None, None, None, None, None


_embedding_bag_op.register_autograd(_embedding_bag_backward, setup_context=_embedding_bag_setup)


def embedding_bag_covers(
    ids: torch.Tensor,
    offsets: torch.Tensor | None,
    include_last_offset: bool,
) -> bool:
    """Whether the bag op can take these ids and offsets: a 2-D batch, or 1-D ids with 1-D
    offsets (other shapes go down the eager path, which raises embtable's error)."""
    if offsets is None:
        return ids.dim() == 2
    return ids.dim() == 1 and offsets.dim() == 1 and offsets.shape[0] >= int(include_last_offset)


def embedding_bag(
    ids: torch.Tensor,
    weight: torch.Tensor,
    offsets: torch.Tensor | None,
    scale_grad_by_freq: bool,
    mode: str,
    include_last_offset: bool,
    padding_idx: int | None,
) -> torch.Tensor:
    """The compiled path of :func:`embtable.torch.functional.embedding_bag` (dense gradient)."""
    if weight.dim() != 2:
        raise ShapeError(
            f"weight has to be a 2D Tensor, but got Tensor of dimension {weight.dim()}"
        )
    check_ids_dtype(ids)
    if offsets is not None:
        check_ids_dtype(offsets, "offsets")
    _F.check_mode(mode, sparse=False, scale_grad_by_freq=scale_grad_by_freq)
    padding_idx = _F.check_padding_idx(padding_idx, weight.shape[0], wording="embedding_bag")
    out, _, _ = _embedding_bag_op(
        ids, weight, offsets, mode, include_last_offset, padding_idx, scale_grad_by_freq
    )
    return out  # type: ignore[no-any-return]
