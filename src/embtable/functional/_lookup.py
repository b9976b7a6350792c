"""Embedding lookups of :mod:`embtable.functional`: ``embedding``, ``max_norm`` and the backward."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import kernels
from .._errors import (
    EmbeddingIndexError,
    ShapeError,
)
from ..sparse import RowSparseGrad
from ._checks import (
    _FLOAT_DTYPES,
    _KERNEL_ID_DTYPES,
    _NATIVE_KERNEL_DTYPES,
    _NO_PADDING,
    _as_ids,
    _as_weight,
    _check_grad_output,
    _check_num_embeddings,
    _compute_dtype,
    _index_error,
    _kernel_ids,
    check_ids,
    check_max_norm,
    check_padding_idx,
    check_renormalisable,
)

__all__ = [
    "embedding",
    "embedding_backward",
    "embedding_renorm_",
]


def _renorm_validated_(
    weight: NDArray[Any], flat_ids: NDArray[np.integer], max_norm: float, norm_type: float
) -> None:
    """:func:`embedding_renorm_` without its checks: the ids, bound and weight are valid."""
    if flat_ids.size == 0:
        return
    rows = np.unique(flat_ids).astype(np.int64)
    renorm = kernels.load("renorm").renorm_rows_
    if weight.dtype == np.float16:
        block = weight[rows].astype(np.float32)
        renorm(block, np.arange(len(rows), dtype=np.int64), max_norm, norm_type)
        weight[rows] = block
    else:
        renorm(weight, rows, max_norm, norm_type)


def embedding_renorm_(
    weight: NDArray[Any], ids: ArrayLike, max_norm: float, norm_type: float = 2.0
) -> None:
    """Rescale, in place, each distinct row named by ``ids`` whose norm exceeds ``max_norm``.

    A row whose ``norm_type``-norm is strictly greater than ``max_norm`` is multiplied by
    ``max_norm / (norm + 1e-7)``; each row is rescaled once however often it appears.

    Raises:
        EmbeddingIndexError: an id is out of range (negative ids are not wrapped).
        OptionError: ``max_norm`` is negative, or the weight is read-only.
        WeightDTypeError: the weight is not float16, float32 or float64.

    Example:
        >>> w = np.array([[3.0, 4.0], [0.3, 0.4]])
        >>> embedding_renorm_(w, [0, 1, 0], 1.0)
        >>> w.round(6)
        array([[0.6, 0.8],
               [0.3, 0.4]])
    """
    weight = _as_weight(weight)
    max_norm, norm_type = check_max_norm(max_norm, norm_type)
    check_renormalisable(weight)
    flat, _ = check_ids(ids, weight.shape[0])
    _renorm_validated_(weight, flat, max_norm, norm_type)


def embedding(
    ids: ArrayLike,
    weight: ArrayLike,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> NDArray[Any]:
    """Look up the rows of ``weight`` named by ``ids``.

    This equals ``one_hot(ids, V) @ weight``. ``scale_grad_by_freq`` and ``sparse`` only matter
    in :func:`embedding_backward`; they are accepted here for torch's signature.

    Args:
        ids: integer ids of any shape, each in ``0 .. V - 1``.
        weight: the ``(V, D)`` table.
        padding_idx: validated (and wrapped when negative) but does not change the lookup: the
            padding row is returned as it is, as in torch.
        max_norm: if set, each distinct referenced row whose ``norm_type``-norm exceeds it is
            rescaled in place before the lookup.
        norm_type: the p of the p-norm for ``max_norm``.

    Returns:
        A new array of shape ``(*ids.shape, D)`` and ``weight``'s dtype.

    Shape:
        ids ``(*)``, weight ``(V, D)`` → ``(*, D)``.

    Raises:
        IdsTypeError: the ids are not integers.
        EmbeddingIndexError: an id is out of range.
        PaddingIndexError: ``padding_idx`` is out of range.
        ShapeError: ``weight`` is not 2-D.

    Note:
        With ``max_norm`` the weight is modified in place, after all checks have passed.

    Example:
        >>> w = np.arange(8.0).reshape(4, 2)
        >>> embedding([[0, 3], [1, 1]], w)
        array([[[0., 1.],
                [6., 7.]],
        <BLANKLINE>
               [[2., 3.],
                [2., 3.]]])
    """
    if (
        max_norm is None
        and padding_idx is None
        and type(weight) is np.ndarray
        and type(ids) is np.ndarray
        and weight.ndim == 2
        and ids.dtype in _KERNEL_ID_DTYPES
        and weight.dtype in _NATIVE_KERNEL_DTYPES
        and ids.size
        and weight.shape[1]
    ):
        # the common call, with nothing to check up front: a typical training batch is a few
        # thousand ids, where the Python work around the kernel is a fifth of the call
        out = np.empty((ids.size, weight.shape[1]), dtype=weight.dtype)
        flat = ids if ids.ndim == 1 and ids.flags.c_contiguous else ids.reshape(-1)
        position = _gather().gather_rows(weight, np.ascontiguousarray(flat), out)
        if position >= 0:
            raise _index_error(ids, position, weight.shape[0], EmbeddingIndexError)
        return out if ids.ndim == 1 else out.reshape(*ids.shape, weight.shape[1])
    weight = _as_weight(weight)
    num_rows, dim = weight.shape
    check_padding_idx(padding_idx, num_rows)
    array = _as_ids(ids)
    bits = _gather_dtype(weight.dtype)
    if (
        max_norm is not None
        or not dim
        or bits is None
        or (array.dtype.kind == "u" and array.dtype.itemsize >= 8)
    ):
        flat, shape = check_ids(array, num_rows)  # check first: the renorm writes the table
        if max_norm is not None:
            max_norm, norm_type = check_max_norm(max_norm, norm_type)
            check_renormalisable(weight)
            _renorm_validated_(weight, flat, max_norm, norm_type)
    else:  # the gather checks the ids as it goes; it writes only its fresh output
        flat, shape = _kernel_ids(array.reshape(-1)), array.shape
    if bits is None:  # a dtype no kernel moves (float128, objects, ...): NumPy's checked take
        return weight.take(flat, axis=0).reshape(*shape, dim)
    out = np.empty((flat.size, dim), dtype=weight.dtype)
    if flat.size and dim:
        source, target = weight, out
        if bits != weight.dtype:
            source, target = weight.view(bits), out.view(bits)
        position = kernels.load("gather").gather_rows(source, flat, target)
        if position >= 0:
            raise _index_error(array, position, num_rows, EmbeddingIndexError)
    return out.reshape(*shape, dim)


_GATHER: list[Any] = []


def _gather() -> Any:
    """The gather kernel module, loaded once (numba is imported on first use only)."""
    if not _GATHER:
        _GATHER.append(kernels.load("gather"))
    return _GATHER[0]


def _gather_dtype(dtype: np.dtype[Any]) -> np.dtype[Any] | None:
    """The dtype the gather kernel moves a table of ``dtype`` in: the table's own for native
    float32/float64 and integers, unsigned ints of the same size for other plain bits (float16,
    a foreign byte order, complex64, bool, ...), or ``None`` (objects, float128, odd sizes)."""
    if dtype.isnative and (dtype in _FLOAT_DTYPES[1:] or dtype.kind in "iu"):
        return dtype
    if not dtype.hasobject and dtype.itemsize in (1, 2, 4, 8):
        return np.dtype(f"u{dtype.itemsize}")
    return None


def _scatter(
    flat: NDArray[np.integer],
    src: NDArray[np.floating],
    src_index: NDArray[np.int64] | None,
    scale: NDArray[np.floating] | None,
    *,
    num_rows: int,
    padding_idx: int | None,
    scale_grad_by_freq: bool,
    sparse: bool,
    out_dtype: np.dtype[Any],
) -> NDArray[np.floating] | RowSparseGrad:
    """Sum ``scale[i] * src[src_index[i]]`` into row ``flat[i]``: dense or row-sparse."""
    pad = _NO_PADDING if padding_idx is None else padding_idx
    dim = src.shape[1]
    compute = _compute_dtype(out_dtype)
    src = np.ascontiguousarray(src, dtype=compute)
    if scale is not None:
        scale = np.ascontiguousarray(scale, dtype=compute)
    scatter = kernels.load("scatter")
    if sparse or scale_grad_by_freq:
        order, rows, bounds = scatter.group_rows(flat, num_rows, pad)
        values = np.zeros((len(rows), dim), dtype=compute)
        if len(rows) and dim:
            scatter.segment_sum_rows(
                order, bounds, src, src_index, scale, scale_grad_by_freq, values
            )
        if sparse:
            return RowSparseGrad._from_owned(
                rows.astype(np.int64, copy=False), values.astype(out_dtype, copy=False), num_rows
            )
        dense = np.zeros((num_rows, dim), dtype=out_dtype)
        dense[rows] = values
        return dense
    dense = np.zeros((num_rows, dim), dtype=compute)
    if flat.size and dim:
        scatter.scatter_add_rows(flat, src, src_index, scale, pad, dense)
    return dense.astype(out_dtype, copy=False)


def embedding_backward(
    ids: ArrayLike,
    grad_output: ArrayLike,
    num_embeddings: int,
    padding_idx: int | None = None,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> NDArray[np.floating] | RowSparseGrad:
    """The gradient of :func:`embedding` with respect to the weight.

    Row ``k`` receives the sum of ``grad_output`` over the positions where ``ids == k``, divided
    by the number of such positions when ``scale_grad_by_freq`` is set (torch rejects that
    combination with ``sparse=True``; embtable supports it). The padding row receives nothing.

    Args:
        ids: the ids the forward looked up.
        grad_output: ``(*ids.shape, D)``, the gradient of the loss with respect to the output.
        num_embeddings: ``V``.
        padding_idx: a row that never receives gradient (negative values wrap).
        scale_grad_by_freq: divide each row's gradient by the id's count in ``ids``.
        sparse: return a :class:`RowSparseGrad` instead of a dense ``(V, D)`` array.

    Returns:
        A dense ``(V, D)`` array of ``grad_output``'s dtype, or a coalesced
        :class:`RowSparseGrad` (sorted unique rows, no padding row).

    Example:
        >>> g = embedding_backward([0, 2, 0], np.ones((3, 2)), 3, scale_grad_by_freq=True)
        >>> g
        array([[1., 1.],
               [0., 0.],
               [1., 1.]])
        >>> embedding_backward([0, 2, 0], np.ones((3, 2)), 3, padding_idx=0, sparse=True).rows
        array([2])
    """
    num_embeddings = _check_num_embeddings(num_embeddings)
    padding_idx = check_padding_idx(padding_idx, num_embeddings)
    flat, shape = check_ids(ids, num_embeddings)
    grad = np.asarray(grad_output)
    if grad.ndim != len(shape) + 1:
        raise ShapeError(
            f"grad_output must have shape (*ids.shape, D) = {(*shape, 'D')}, got {grad.shape}"
        )
    grad = _check_grad_output(grad, (*shape, grad.shape[-1]))
    return _scatter(
        flat,
        grad.reshape(flat.size, grad.shape[-1]),
        None,
        None,
        num_rows=int(num_embeddings),
        padding_idx=padding_idx,
        scale_grad_by_freq=scale_grad_by_freq,
        sparse=sparse,
        out_dtype=grad.dtype,
    )
