"""The torch-ops path, for tensors the kernels cannot view.

CUDA, MPS and meta tensors, bfloat16 (NumPy has no such dtype), complex and integer tables, tensor
subclasses, ``torch.func`` transforms and forward-mode AD take this path. It is built from
``torch.nn.functional.embedding`` / ``embedding_bag`` plus embtable's validation, and gives the
same results and errors as the kernel path, including embtable's deliberate differences from
torch (see :mod:`embtable.torch`):

- ids and offsets are validated by :mod:`embtable.functional` (the ids' range with torch ops
  first; a failing batch is copied to the host only to word the error, and on the meta device
  values are not checked). Bag validation copies ids and offsets to the host: a device sync.
- ``scale_grad_by_freq`` is applied by :class:`ScaleGradByFreq` on the weight's gradient (the
  correct count, and it works with sparse gradients); torch's own scaling is not used.
- ``per_sample_weights`` in mean mode is a weighted sum divided by the bag's non-padding count;
  per-sample weights of another float dtype are cast to the table's.
- a fused optimizer receives the (sparse) gradient in :class:`FusedStep`.
- while ``torch.jit.trace`` records, or when ids, offsets or per-sample weights are on the meta
  device, no check reads tensor values (a trace must not depend on them; meta tensors have
  none): torch's own kernels check what they can, as in torch.

torch's functions are the ones that existed when this module was imported
(:data:`TORCH_EMBEDDING`, :data:`TORCH_EMBEDDING_BAG`), so that replacing
``torch.nn.functional.embedding`` by embtable's (:func:`embtable.torch.patch`, or by hand) never
makes this path call itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .. import functional as _F
from .._errors import EmbeddingIndexError, IdsTypeError, ModeError, ShapeError

if TYPE_CHECKING:
    from ._optim import RowOptimizer

__all__: list[str] = []

_INDEX_DTYPES = (torch.int32, torch.int64)

#: torch's own functions, captured at import (before anyone can monkeypatch them).
TORCH_EMBEDDING = torch.nn.functional.embedding
TORCH_EMBEDDING_BAG = torch.nn.functional.embedding_bag


def _values_unreadable(*tensors: torch.Tensor | None) -> bool:
    """Whether checks must not read these tensors' values: meta tensors, functorch-wrapped
    tensors (vmap), or a ``torch.jit.trace`` in progress."""
    if torch.jit.is_tracing():
        return True
    return any(
        t is not None
        and (t.device.type == "meta" or torch._C._functorch.is_functorch_wrapped_tensor(t))
        for t in tensors
    )


def _numpy_dtype(dtype: torch.dtype) -> np.dtype[Any] | None:
    try:
        return torch.empty(0, dtype=dtype).numpy().dtype
    except TypeError:
        return None


def _host(tensor: torch.Tensor | None) -> np.ndarray | None:
    """A host NumPy copy for validation (bfloat16 becomes float32)."""
    if tensor is None:
        return None
    # a plain tensor read inside a torch.func transform (jacrev of a closure over the ids)
    with torch._C._DisableFuncTorch():
        tensor = tensor.detach()
        if tensor.dtype == torch.bfloat16:
            tensor = tensor.float()
        return tensor.cpu().numpy()


def _check_ids_dtype(ids: torch.Tensor, what: str = "ids") -> None:
    if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
        dtype = _numpy_dtype(ids.dtype)
        if dtype is None:
            raise IdsTypeError(
                f"{what} must be an integer array, got {str(ids.dtype).removeprefix('torch.')}; "
                f"convert with {what}.astype(np.int64)"
            )
        _F.check_ids(np.empty(0, dtype=dtype), 0)  # raises embtable's IdsTypeError


def check_ids(
    ids: torch.Tensor, num_embeddings: int, error: type[EmbeddingIndexError] = EmbeddingIndexError
) -> None:
    """Validate ids as :func:`embtable.functional.check_ids` does, on any device."""
    _check_ids_dtype(ids)
    if _values_unreadable(ids) or ids.numel() == 0:
        return
    if bool(((ids < 0) | (ids >= num_embeddings)).any()):
        _F.check_ids(_host(ids), num_embeddings, error=error)  # words and raises the error


def _index(ids: torch.Tensor) -> torch.Tensor:
    return ids if ids.dtype in _INDEX_DTYPES else ids.long()


def _renorm_(
    weight: torch.Tensor, ids: torch.Tensor, max_norm: float, norm_type: float
) -> tuple[float, float]:
    max_norm, norm_type = _F.check_max_norm(max_norm, norm_type)
    if not weight.is_floating_point():
        dtype = _numpy_dtype(weight.dtype)
        _F.check_float_weight(
            np.empty((0, 0), dtype=dtype if dtype is not None else object), "max_norm"
        )
    with torch.no_grad():
        torch.embedding_renorm_(weight.detach(), ids.reshape(-1).contiguous(), max_norm, norm_type)
    return max_norm, norm_type


class ScaleGradByFreq(torch.autograd.Function):
    """Identity forward; the backward divides each row's gradient by the row's id count."""

    @staticmethod
    def forward(ctx: Any, weight: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(ids)
        ctx.num_embeddings = weight.shape[0]
        return weight.view_as(weight)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        (ids,) = ctx.saved_tensors
        counts = torch.bincount(ids.reshape(-1).long(), minlength=ctx.num_embeddings).clamp(min=1)
        if grad.is_sparse:
            grad = grad.coalesce()
            scale = counts[grad.indices()[0]].to(grad.dtype).unsqueeze(1)
            scaled = torch.sparse_coo_tensor(
                grad.indices(),
                grad.values() / scale,
                grad.shape,
                is_coalesced=True,
                check_invariants=False,
            )
            return scaled, None
        return grad / counts.to(grad.dtype).unsqueeze(1), None


class FusedStep(torch.autograd.Function):
    """Identity forward; the backward hands the weight's gradient to a :class:`RowOptimizer`."""

    @staticmethod
    def forward(ctx: Any, weight: torch.Tensor, optimizer: RowOptimizer) -> torch.Tensor:  # type: ignore[override]
        ctx.weight, ctx.optimizer = weight, optimizer
        return weight.view_as(weight)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        ctx.optimizer.apply_rows_(ctx.weight, grad if grad.is_sparse else grad.to_sparse(1))
        return None, None


def _wrap(
    weight: torch.Tensor,
    ids: torch.Tensor,
    scale_grad_by_freq: bool,
    optimizer: RowOptimizer | None,
) -> torch.Tensor:
    if not (torch.is_grad_enabled() and weight.requires_grad):
        return weight
    if optimizer is not None:
        weight = FusedStep.apply(weight, optimizer)
    if scale_grad_by_freq:
        weight = ScaleGradByFreq.apply(weight, ids)
    return weight


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
    """The torch-ops path of :func:`embtable.torch.functional.embedding`."""
    if weight.dim() != 2:
        raise ShapeError(f"'weight' must be 2-D, got an array of shape {tuple(weight.shape)}")
    num_embeddings = weight.shape[0]
    padding_idx = _F.check_padding_idx(padding_idx, num_embeddings)
    check_ids(ids, num_embeddings)
    ids = _index(ids)
    if max_norm is not None:
        _renorm_(weight, ids, max_norm, norm_type)
    table = _wrap(weight, ids, scale_grad_by_freq, optimizer)
    # torch's sparse backward fails on 0-d ids with a padding_idx: look up (1,) and reshape.
    flat = ids.reshape(1) if ids.dim() == 0 else ids
    out = TORCH_EMBEDDING(
        flat, table, padding_idx, None, 2.0, False, sparse or optimizer is not None
    )
    return out.reshape(weight.shape[1]) if ids.dim() == 0 else out


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
    """The torch-ops path of :func:`embtable.torch.functional.embedding_bag`."""
    if weight.dim() != 2:
        raise ShapeError(
            f"weight has to be a 2D Tensor, but got Tensor of dimension {weight.dim()}"
        )
    num_embeddings = weight.shape[0]
    _check_ids_dtype(ids)
    if offsets is not None:
        _check_ids_dtype(offsets, "offsets")
    if not _values_unreadable(ids, offsets, per_sample_weights):
        _F.plan_bags(
            _host(ids),
            num_embeddings,
            _host(offsets),
            mode=mode,
            per_sample_weights=_host(per_sample_weights),
            include_last_offset=include_last_offset,
            padding_idx=padding_idx,
            sparse=sparse,
            scale_grad_by_freq=scale_grad_by_freq,
        )
    else:
        _F.check_mode(mode, sparse=sparse, scale_grad_by_freq=scale_grad_by_freq)
    if per_sample_weights is not None and mode == "max":
        raise ModeError(
            "per_sample_weights is only supported for mode='sum' and mode='mean' (got mode='max')"
        )
    padding_idx = _F.check_padding_idx(padding_idx, num_embeddings, wording="embedding_bag")
    ids = _index(ids)
    if ids.dim() == 2:  # torch's own arange(0, B*N, N) fails for N == 0
        offsets = torch.arange(ids.shape[0], device=ids.device, dtype=ids.dtype) * ids.shape[1]
        ids, include_last_offset = ids.reshape(-1), False
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
    if offsets is not None:
        offsets = _index(offsets)
    if max_norm is not None:
        _renorm_(weight, ids, max_norm, norm_type)
    table = _wrap(weight, ids, scale_grad_by_freq, optimizer)
    if (
        per_sample_weights is not None
        and per_sample_weights.dtype != table.dtype
        and per_sample_weights.dtype.is_floating_point
    ):  # any float dtype, as on the kernel path (torch's kernel requires the table's)
        per_sample_weights = per_sample_weights.to(table.dtype)
    weighted_mean = mode == "mean" and per_sample_weights is not None
    out = TORCH_EMBEDDING_BAG(
        ids,
        table,
        offsets,
        None,
        2,
        False,
        "sum" if weighted_mean else mode,
        sparse or optimizer is not None,
        per_sample_weights,
        include_last_offset,
        padding_idx,
    )
    if weighted_mean:
        ones = torch.ones((num_embeddings, 1), dtype=out.dtype, device=out.device)
        sizes = TORCH_EMBEDDING_BAG(
            ids,
            ones,
            offsets,
            mode="sum",
            include_last_offset=include_last_offset,
            padding_idx=padding_idx,
        )
        out = out / sizes.clamp(min=1)
    return out
