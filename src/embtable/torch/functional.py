"""``embedding`` and ``embedding_bag`` with ``torch.nn.functional``'s signatures.

CPU tensors of float16, float32 or float64 go through embtable's kernels (zero-copy NumPy views,
:mod:`embtable.torch._autograd`); everything else (CUDA, meta, bfloat16, integer or complex
tables, tensor subclasses, ``torch.func`` transforms, forward-mode AD) goes through torch ops with
the same semantics (:mod:`embtable.torch._fallback`). Setting ``embtable.torch.functional.
FORCE_TORCH_OPS = True`` sends everything down the torch-ops path (the tests use it to run the
whole parity suite on both paths).

``embedding`` without ``max_norm`` (nothing to mutate) on plain CPU tensors first tries torch's
own op where it gives embtable's result and costs less: every call without a gradient up to
:data:`~embtable.torch._autograd.TORCH_GATHER_MAX_ELEMENTS` output elements (a gather is exact),
and training calls with a plain dense gradient up to
:data:`~embtable.torch._autograd.TORCH_NATIVE_MAX_IDS` ids on a float32/float64 table of at most
:data:`~embtable.torch._autograd.TORCH_NATIVE_MAX_BYTES` (the same bits). ``padding_idx`` is
checked first; where torch's op refuses the call (a bad id, an id dtype other than int32/int64, a
table that is not 2-D) nothing has changed, and the general path decides: it computes what
embtable accepts (any integer dtype) or raises embtable's error.

At the boundary, two things are added to what :mod:`embtable.functional` does:

- Error messages keep embtable's wording (the bad value, its position, the valid range) and end
  with torch's own phrase for the condition (``index out of range in self``, ``Expected idx >= 0
  && idx < num_embeddings``, ``Long, Int`` for the ids' dtype), so code that matches torch's
  messages keeps matching.
- ``torch.jit.trace``: while a trace records, calls go through torch ops or embtable's custom ops
  (:mod:`embtable.torch._ops`), never through a NumPy round trip that the tracer would record as
  a constant, and no check reads tensor values; the traced module follows its input.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch

from .._errors import BagIndexError, EmbeddingIndexError, IdsTypeError, ModeError, OptionTypeError
from . import _autograd, _fallback, _ops
from ._phrases import BAG_INDEX_PHRASE, INDEX_PHRASE, add_torch_phrase

if TYPE_CHECKING:
    from ._optim import RowOptimizer

__all__ = ["FORCE_TORCH_OPS", "embedding", "embedding_bag", "uses_kernels"]

FORCE_TORCH_OPS = False
_KERNEL_DTYPES = (torch.float16, torch.float32, torch.float64)
_PLAIN_TYPES = (torch.Tensor, torch.nn.Parameter)


_is_wrapped = torch._C._functorch.is_functorch_wrapped_tensor


def _plain_cpu(tensor: torch.Tensor) -> bool:
    return (
        type(tensor) in _PLAIN_TYPES
        and tensor.device.type == "cpu"
        and tensor.layout == torch.strided
        and not _is_wrapped(tensor)
        and not tensor.is_neg()
        and not tensor.is_conj()
    )


def uses_kernels(weight: torch.Tensor, *others: torch.Tensor | None) -> bool:
    """Whether a call with these tensors runs embtable's kernels (else torch ops).

    Example:
        >>> uses_kernels(torch.zeros(3, 2)), uses_kernels(torch.zeros(3, 2, dtype=torch.bfloat16))
        (True, False)
    """
    if FORCE_TORCH_OPS or weight.dtype not in _KERNEL_DTYPES or not _plain_cpu(weight):
        return False
    if getattr(torch.autograd.forward_ad, "_current_level", -1) >= 0:
        if any(
            t is not None and torch.autograd.forward_ad.unpack_dual(t).tangent is not None
            for t in (weight, *others)
        ):
            return False
    return all(t is None or _plain_cpu(t) for t in others)


_FAST_IDS = (torch.int64, torch.int32)
_forward_ad = torch.autograd.forward_ad
_is_neg = torch.Tensor.is_neg
_is_conj = torch.Tensor.is_conj
_is_compiling = torch.compiler.is_compiling
_is_tracing = torch._C._is_tracing
_grad_enabled = torch.is_grad_enabled
_torch_embedding = torch.embedding  # the ATen op, which no monkeypatching of torch.nn reaches
_Tensor = torch.Tensor
_strided = torch.strided
#: What torch's op raises where embtable's general path decides instead: a bad id
#: (``IndexError``), an id dtype torch refuses or a table that is not 2-D (``RuntimeError``).
_TORCH_REFUSALS = (IndexError, RuntimeError, TypeError)


def _node_case(input: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether embtable's own autograd node (:func:`_autograd.embedding_node`) can take a
    training call: plain CPU strided tensors, a float16/32/64 2-D table, int32/int64 ids, no
    transform or forward AD (the same conditions as :func:`uses_kernels`, plus what the general
    path would check first)."""
    return (
        input.dtype in _FAST_IDS
        and weight.dtype in _KERNEL_DTYPES
        and input.is_cpu
        and weight.layout == _strided
        and input.layout == _strided
        and weight.dim() == 2
        and not _is_wrapped(weight)
        and not _is_wrapped(input)
        and not _is_neg(weight)
        and not _is_conj(weight)
        and getattr(_forward_ad, "_current_level", -1) < 0
    )


def _check_tensor(value: object, name: str, position: int, function: str) -> None:
    if not isinstance(value, torch.Tensor):
        raise OptionTypeError(
            f"{function}(): argument '{name}' (position {position}) must be Tensor, "
            f"not {type(value).__name__}"
        )


def _check_index_dtype(tensor: torch.Tensor, name: str, position: int, function: str) -> None:
    """Ids and offsets must be integers (any integer dtype; torch: Long or Int only)."""
    dtype = tensor.dtype
    if dtype.is_floating_point or dtype.is_complex or dtype == torch.bool:
        raise IdsTypeError(
            f"{name} must be an integer tensor, got {dtype}; convert with {name}.long() "
            f"(torch: Expected tensor for argument #{position} '{name}' to have one of the "
            f"following scalar types: Long, Int (while checking arguments for {function}); "
            f"embtable also accepts the other integer dtypes)"
        )


@contextlib.contextmanager
def _tracing() -> Iterator[None]:
    """While ``torch.jit.trace`` records: the checks on shapes and options compare traced sizes
    (the table's row count, the ids' length), which the tracer warns about; a trace fixes those
    anyway, and no check reads tensor values, so those warnings are silenced here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        yield


def _short_last_offset(
    input: torch.Tensor, offsets: torch.Tensor | None, include_last_offset: bool
) -> bool:
    """With ``include_last_offset``, whether the last offset lies before the end of ``input``.

    torch then lets the last bag run to the end of ``input`` (its ``padding_idx`` and max-mode
    kernels, and its test for pytorch#89677; its sum and mean kernels without ``padding_idx``
    disagree with each other there), and so does embtable, on every path.
    """
    if (
        not include_last_offset
        or offsets is None
        or input.dim() != 1
        or offsets.dim() != 1
        or offsets.numel() == 0
        or offsets.device.type == "meta"
        or _is_wrapped(offsets)
        or torch.jit.is_tracing()
    ):
        return False
    last = int(offsets[-1])
    previous = int(offsets[-2]) if offsets.numel() > 1 else 0
    return 0 <= previous <= last < input.shape[0]  # a decreasing last offset stays an error


def embedding(
    input: torch.Tensor,
    weight: torch.Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
    *,
    optimizer: RowOptimizer | None = None,
) -> torch.Tensor:
    """Look up the rows of ``weight`` named by ``input``: ``torch.nn.functional.embedding``.

    Args:
        input: integer ids of any shape.
        weight: the ``(V, D)`` table.
        padding_idx: the row that receives no gradient (its value is still returned).
        max_norm: renormalise each referenced row whose ``norm_type``-norm exceeds it, in place.
        norm_type: the p of the p-norm for ``max_norm``.
        scale_grad_by_freq: divide each row's gradient by the id's count in ``input``.
        sparse: give ``weight`` a sparse COO gradient (coalesced).
        optimizer: a bound :class:`~embtable.torch.RowOptimizer` applied in the backward
            instead of producing a gradient (normally passed by the module).

    Returns:
        ``(*input.shape, D)``, a new tensor of ``weight``'s dtype.

    Shape:
        input ``(*)``, weight ``(V, D)`` → ``(*, D)``.

    Raises:
        EmbeddingIndexError: an id is out of range (an ``IndexError``, as in torch).
        PaddingIndexError: ``padding_idx`` is out of range (an ``AssertionError``, as in torch).
        IdsTypeError: ``input`` is not an integer tensor (a ``RuntimeError``, as in torch).

    Note:
        With ``max_norm``, the weight is modified in place and its version counter bumped.

    Example:
        >>> w = torch.arange(8.0).reshape(4, 2)
        >>> embedding(torch.tensor([[0, 3], [1, 1]]), w)
        tensor([[[0., 1.],
                 [6., 7.]],
        <BLANKLINE>
                [[2., 3.],
                 [2., 3.]]])
    """
    # The common call, decided with as few checks as possible: without max_norm nothing is
    # mutated, so torch's own op can run first; where it refuses (a bad id, an id dtype it does
    # not take, a table that is not 2-D) the general path below words embtable's error or
    # computes what embtable accepts. Training calls run torch's op only where its backward is
    # embtable's to the bit and no slower (see _autograd.TORCH_NATIVE_MAX_IDS).
    if (
        max_norm is None
        and not _is_compiling()  # first: Dynamo gets the general path's custom ops
        and type(input) is _Tensor
        and type(weight) in _PLAIN_TYPES
        and weight.is_cpu
        and weight.layout == _strided  # torch's sparse index_select wraps negative ids
        and input.layout == _strided
        and not FORCE_TORCH_OPS
        and not _is_tracing()
    ):
        if padding_idx is not None:
            rows = weight.shape[0] if weight.dim() == 2 else 0
            if type(padding_idx) is int and -rows <= padding_idx < rows:
                if padding_idx < 0:
                    padding_idx += rows
            else:  # the general path raises embtable's error
                return _embedding(
                    input,
                    weight,
                    padding_idx,
                    max_norm,
                    norm_type,
                    scale_grad_by_freq,
                    sparse,
                    optimizer,
                )
        if not (weight.requires_grad and _grad_enabled()):
            try:
                if input.numel() * weight.shape[1] <= _autograd.TORCH_GATHER_MAX_ELEMENTS:
                    return _torch_embedding(weight, input)
            except _TORCH_REFUSALS:
                pass
        elif (
            optimizer is None
            and not sparse
            and not scale_grad_by_freq
            and weight.dtype in _autograd.NATIVE_DTYPES
            and input.numel() <= _autograd.TORCH_NATIVE_MAX_IDS
            and weight.nbytes <= _autograd.TORCH_NATIVE_MAX_BYTES
        ):
            try:
                return _torch_embedding(weight, input, -1 if padding_idx is None else padding_idx)
            except _TORCH_REFUSALS:
                pass
        elif _node_case(input, weight):
            try:
                return _autograd.embedding_node(
                    input, weight, padding_idx, scale_grad_by_freq, sparse, optimizer
                )
            except EmbeddingIndexError as error:
                add_torch_phrase(error, INDEX_PHRASE)
                raise
    return _embedding(
        input, weight, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse, optimizer
    )


def _embedding(
    input: torch.Tensor,
    weight: torch.Tensor,
    padding_idx: int | None,
    max_norm: float | None,
    norm_type: float,
    scale_grad_by_freq: bool,
    sparse: bool,
    optimizer: RowOptimizer | None,
) -> torch.Tensor:
    """:func:`embedding`'s general path: every check, then the kernel, torch-ops or trace path."""
    _check_tensor(input, "indices", 2, "embedding")
    _check_tensor(weight, "weight", 1, "embedding")
    _check_index_dtype(input, "indices", 1, "embedding")
    if torch.compiler.is_compiling():  # Dynamo is tracing: see embtable.torch._ops
        if not (FORCE_TORCH_OPS or sparse or optimizer is not None) and _ops.covers(weight, input):
            return _ops.embedding(
                input, weight, padding_idx, max_norm, norm_type, scale_grad_by_freq
            )
        # the eager paths are opaque to Dynamo: run them eagerly, outside the graph (a break)
        return torch.compiler.disable(embedding)(  # type: ignore[no-any-return]
            input,
            weight,
            padding_idx,
            max_norm,
            norm_type,
            scale_grad_by_freq,
            sparse,
            optimizer=optimizer,
        )
    if torch.jit.is_tracing():  # record torch ops or custom ops, never a NumPy round trip
        with _tracing():
            if not (FORCE_TORCH_OPS or sparse or optimizer is not None) and _ops.covers(
                weight, input
            ):
                return _ops.embedding(
                    input, weight, padding_idx, max_norm, norm_type, scale_grad_by_freq
                )
            return _fallback.embedding(
                input,
                weight,
                padding_idx,
                max_norm,
                norm_type,
                scale_grad_by_freq,
                sparse,
                optimizer,
            )
    path = _autograd if uses_kernels(weight, input) else _fallback
    try:
        return path.embedding(
            input, weight, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse, optimizer
        )
    except EmbeddingIndexError as error:
        add_torch_phrase(error, INDEX_PHRASE)
        raise


def embedding_bag(
    input: torch.Tensor,
    weight: torch.Tensor,
    offsets: torch.Tensor | None = None,
    max_norm: float | None = None,
    norm_type: float = 2,
    scale_grad_by_freq: bool = False,
    mode: str = "mean",
    sparse: bool = False,
    per_sample_weights: torch.Tensor | None = None,
    include_last_offset: bool = False,
    padding_idx: int | None = None,
    *,
    optimizer: RowOptimizer | None = None,
) -> torch.Tensor:
    """Sums, means or maxima of bags of rows: ``torch.nn.functional.embedding_bag``.

    Unlike torch, ``per_sample_weights`` also work in mean mode (weighted sum divided by the
    bag's non-padding count), offsets are validated completely, and ``scale_grad_by_freq``
    divides by the right count.

    Args:
        input: 1-D ids with ``offsets``, or 2-D ``(B, N)`` ids (one bag per row).
        weight: the ``(V, D)`` float table.
        offsets: the start of each bag (1-D input only).
        max_norm: renormalise the referenced rows in place first.
        norm_type: the p of the p-norm for ``max_norm``.
        scale_grad_by_freq: divide each row's gradient by the id's count in ``input``.
        mode: ``"sum"``, ``"mean"`` or ``"max"``.
        sparse: give ``weight`` a sparse COO gradient (not in max mode).
        per_sample_weights: weights aligned with ``input`` (sum and mean modes).
        include_last_offset: ``offsets`` has ``B + 1`` entries, the last equal to ``len(input)``.
        padding_idx: ids left out of every bag.
        optimizer: a bound :class:`~embtable.torch.RowOptimizer` applied in the backward.

    Returns:
        ``(B, D)``; an empty or all-padding bag gives zeros.

    Shape:
        input ``(N,)`` with offsets ``(B,)``, or input ``(B, N)`` → ``(B, D)``.

    Example:
        >>> w = torch.arange(8.0).reshape(4, 2)
        >>> embedding_bag(torch.tensor([0, 1, 3]), w, torch.tensor([0, 2]), mode="sum")
        tensor([[2., 4.],
                [6., 7.]])
    """
    _check_tensor(input, "input", 1, "embedding_bag")
    _check_tensor(weight, "weight", 2, "embedding_bag")
    if weight.dtype == torch.long and input.is_floating_point():
        warnings.warn(
            "Argument order of nn.functional.embedding_bag was changed. Usage "
            "`embedding_bag(weight, input, ...)` is deprecated, and should now be "
            "`embedding_bag(input, weight, ...)`.",
            stacklevel=2,
        )
        input, weight = weight, input
    _check_index_dtype(input, "indices", 1, "embedding_bag")
    if offsets is not None:
        _check_tensor(offsets, "offsets", 3, "embedding_bag")
        _check_index_dtype(offsets, "offsets", 2, "embedding_bag")
    if optimizer is not None and mode == "max":
        raise ModeError("max mode does not support a fused optimizer (it needs sparse gradients)")
    if torch.compiler.is_compiling():  # Dynamo is tracing: see embtable.torch._ops
        if (
            not (FORCE_TORCH_OPS or sparse or optimizer is not None)
            and max_norm is None
            and per_sample_weights is None
            and _ops.covers(weight, input, offsets)
            and _ops.embedding_bag_covers(input, offsets, include_last_offset)
        ):
            return _ops.embedding_bag(
                input, weight, offsets, scale_grad_by_freq, mode, include_last_offset, padding_idx
            )
        # the eager paths are opaque to Dynamo: run them eagerly, outside the graph (a break)
        return torch.compiler.disable(embedding_bag)(  # type: ignore[no-any-return]
            input,
            weight,
            offsets,
            max_norm,
            norm_type,
            scale_grad_by_freq,
            mode,
            sparse,
            per_sample_weights,
            include_last_offset,
            padding_idx,
            optimizer=optimizer,
        )
    if _short_last_offset(input, offsets, include_last_offset):
        # torch's reading (pinned by its test for pytorch#89677): the last bag runs to the end
        assert offsets is not None
        offsets = torch.cat([offsets[:-1], offsets.new_full((1,), input.shape[0])])
    if torch.jit.is_tracing():  # record torch ops or custom ops, never a NumPy round trip
        with _tracing():
            if (
                not (FORCE_TORCH_OPS or sparse or optimizer is not None)
                and max_norm is None
                and per_sample_weights is None
                and _ops.covers(weight, input, offsets)
                and _ops.embedding_bag_covers(input, offsets, include_last_offset)
            ):
                return _ops.embedding_bag(
                    input,
                    weight,
                    offsets,
                    scale_grad_by_freq,
                    mode,
                    include_last_offset,
                    padding_idx,
                )
            return _fallback.embedding_bag(
                input,
                weight,
                offsets,
                max_norm,
                norm_type,
                scale_grad_by_freq,
                mode,
                sparse,
                per_sample_weights,
                include_last_offset,
                padding_idx,
                optimizer,
            )
    path = _autograd if uses_kernels(weight, input, offsets, per_sample_weights) else _fallback
    try:
        return path.embedding_bag(
            input,
            weight,
            offsets,
            max_norm,
            norm_type,
            scale_grad_by_freq,
            mode,
            sparse,
            per_sample_weights,
            include_last_offset,
            padding_idx,
            optimizer,
        )
    except BagIndexError as error:
        add_torch_phrase(error, BAG_INDEX_PHRASE)
        raise
