"""Embedding semantics on NumPy arrays: every check, then a kernel.

This module is where torch's behaviour is decided: argument checks and their errors, padding,
``max_norm``, bags and their offsets. The layers (:mod:`embtable.layers`) and the PyTorch adapter
(:mod:`embtable.torch`) both call it, so an error has the same type and text on every path. The
loops themselves live in :mod:`embtable.kernels`, which validates nothing.

Every function validates all of its inputs before it writes anything, so a call that raises
mutates nothing (torch's ``max_norm`` renormalises before some of its checks; embtable does not).

Ownership: what a kernel trusts is checked on arrays the caller cannot change. Ids are copied
before they are checked wherever they feed a kernel that does not bound-check them (backward,
``max_norm``, bags); a :class:`BagPlan` keeps read-only copies of its ids, bag bounds and
per-sample weights, backed by immutable memory; :func:`bag_backward` checks the
:class:`BagState` it is given. Weights are never copied.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import kernels
from ._errors import (
    BagIndexError,
    EmbeddingIndexError,
    FrozenWeightError,
    IdsTypeError,
    ModeError,
    OffsetsError,
    OptionError,
    OptionTypeError,
    PaddingIndexError,
    ShapeError,
    WeightDTypeError,
)
from .parameter import Parameter
from .sparse import RowSparseGrad

__all__ = [
    "BagPlan",
    "BagState",
    "bag_backward",
    "bag_forward",
    "bag_sizes",
    "check_float_weight",
    "check_ids",
    "check_max_norm",
    "check_mode",
    "check_padding_idx",
    "check_renormalisable",
    "embedding",
    "embedding_backward",
    "embedding_bag",
    "embedding_bag_backward",
    "embedding_bag_rowwise_adagrad_",
    "embedding_renorm_",
    "plan_bags",
]

BagMode = Literal["sum", "mean", "max"]
_MODES: dict[str, int] = {"sum": 0, "mean": 1, "max": 2}
_NO_PADDING = -1

# torch's three wordings of the padding_idx range error, kept so that messages match.
PADDING_MESSAGES = {
    "embedding": "Padding_idx must be within num_embeddings",
    "module_bag": "padding_idx must be within num_embeddings",
    "embedding_bag": "padding_idx must be within the number of embeddings",
}


# ---------------------------------------------------------------------------------------------
# Checks: one function per condition, shared by every path.


def check_padding_idx(
    padding_idx: int | None, num_embeddings: int, *, wording: str = "embedding"
) -> int | None:
    """Validate ``padding_idx`` and wrap a negative value; ``None`` stays ``None``.

    Args:
        padding_idx: ``None`` or an integer in ``-num_embeddings .. num_embeddings - 1``.
        num_embeddings: the table's row count ``V``.
        wording: which of torch's messages to start the error with (``"embedding"``,
            ``"module_bag"`` or ``"embedding_bag"``).

    Returns:
        ``None`` or the non-negative index.

    Raises:
        OptionTypeError: ``padding_idx`` is not an integer (also a ``TypeError``).
        PaddingIndexError: it lies outside ``-V .. V - 1`` (also an ``AssertionError``, as in
            torch, and a ``ValueError``).

    Example:
        >>> check_padding_idx(-1, 10)
        9
        >>> check_padding_idx(10, 10)
        Traceback (most recent call last):
        ...
        embtable._errors.PaddingIndexError: Padding_idx must be within num_embeddings: got 10, valid -10..9
    """
    if padding_idx is None:
        return None
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, numbers.Integral):
        raise OptionTypeError(
            f"padding_idx must be an integer or None, got {type(padding_idx).__name__} "
            f"{padding_idx!r}"
        )
    padding_idx = int(padding_idx)
    if not -num_embeddings <= padding_idx < num_embeddings:
        valid = (
            f"valid -{num_embeddings}..{num_embeddings - 1}"
            if num_embeddings
            else "the table has no rows"
        )
        raise PaddingIndexError(f"{PADDING_MESSAGES[wording]}: got {padding_idx}, {valid}")
    return padding_idx + num_embeddings if padding_idx < 0 else padding_idx


def _as_ids(ids: ArrayLike, what: str = "ids") -> NDArray[np.integer]:
    """``ids`` as an integer ndarray (no copy when it already is one)."""
    if isinstance(ids, np.ndarray):
        array = ids
    else:
        if hasattr(ids, "__array__") and not isinstance(ids, (list, tuple)):
            array = np.asarray(ids)
        else:
            array = np.asarray(ids)
            if array.size == 0 and array.dtype == np.float64:
                array = array.astype(np.int64)  # [] and [[], []] are empty id lists
    if array.dtype.kind not in "iu":
        raise IdsTypeError(
            f"{what} must be an integer array, got {array.dtype}; "
            f"convert with {what}.astype(np.int64)"
        )
    return array


def _frozen(array: NDArray[Any]) -> NDArray[Any]:
    """A read-only copy of ``array`` backed by an immutable ``bytes`` object, so that neither
    the caller nor ``setflags(write=True)`` can change it after it was checked."""
    return np.frombuffer(array.tobytes(), dtype=array.dtype).reshape(array.shape)


_NEW_BYTES: list[Any] = []


def _fresh_frozen(count: int, dtype: np.dtype[Any]) -> NDArray[Any]:
    """A read-only array of ``count`` uninitialised elements backed by a new ``bytes`` object,
    for one kernel to fill before anything else can see it (:func:`embtable.kernels.bounds.
    writable`): the copy and the check of :func:`plan_bags` in one pass, where :func:`_frozen`
    would copy once more. Afterwards it is as immutable as :func:`_frozen`'s arrays."""
    nbytes = count * dtype.itemsize
    if nbytes < 2:  # CPython shares its 0- and 1-byte bytes objects: never fill those
        return np.frombuffer(bytes(nbytes), dtype=dtype)
    if not _NEW_BYTES:
        import ctypes  # imported on first use: `import embtable` stays light

        new_bytes = ctypes.pythonapi.PyBytes_FromStringAndSize
        new_bytes.restype = ctypes.py_object
        new_bytes.argtypes = (ctypes.c_void_p, ctypes.c_ssize_t)
        _NEW_BYTES.append(new_bytes)
    return np.frombuffer(_NEW_BYTES[0](None, nbytes), dtype=dtype)


def _immutable(array: NDArray[Any]) -> bool:
    """Whether ``array``'s memory is an immutable ``bytes`` object (made by :func:`_frozen`)."""
    base: Any = array
    while isinstance(base, np.ndarray):
        base = base.base
    return isinstance(base, bytes)


def _bounds() -> Any:
    """The vectorised bound-check kernels (:mod:`embtable.kernels.bounds`)."""
    return kernels.load("bounds")


def _kernel_ids(flat: NDArray[np.integer]) -> NDArray[np.integer]:
    """Ids in a dtype the kernels are compiled for: int32 or int64, contiguous."""
    if flat.dtype in (np.int32, np.int64):
        return np.ascontiguousarray(flat)
    return flat.astype(np.int64)


def check_ids(
    ids: ArrayLike, num_embeddings: int, *, error: type[EmbeddingIndexError] = EmbeddingIndexError
) -> tuple[NDArray[np.integer], tuple[int, ...]]:
    """Validate ids against a table of ``num_embeddings`` rows.

    Returns:
        The flat ids (int32 or int64, contiguous) and the original shape. The ids are a copy,
        made before the check, so changing ``ids`` afterwards cannot change what was checked.

    Raises:
        IdsTypeError: the ids are not integers (also a ``TypeError`` and a ``RuntimeError``).
        EmbeddingIndexError: an id is negative or ``>= num_embeddings``; the message names the
            id, its position and the row count.

    Example:
        >>> check_ids([[1, 2], [3, 12]], 10)
        Traceback (most recent call last):
        ...
        embtable._errors.EmbeddingIndexError: index 12 at position (1, 1) is out of range for an embedding table of 10 rows (valid: 0..9)
    """
    array = _as_ids(ids)
    shape = array.shape
    flat = array.reshape(-1)
    if flat.dtype.kind == "u" and flat.dtype.itemsize >= 8 and flat.size:
        if not _immutable(flat):
            flat = flat.copy()
        bad = np.flatnonzero(flat >= num_embeddings)
        position = int(bad[0]) if len(bad) else -1
    else:
        flat = _kernel_ids(flat)
        if np.may_share_memory(flat, array) and not _immutable(flat):
            flat = flat.copy()
        position = int(_bounds().find_out_of_range(flat, num_embeddings)) if flat.size else -1
    if position >= 0:
        raise _index_error(flat.reshape(shape), position, num_embeddings, error)
    return _kernel_ids(flat), shape


def _index_error(
    ids: NDArray[np.integer], position: int, num_embeddings: int, error: type[EmbeddingIndexError]
) -> EmbeddingIndexError:
    """The error for the out-of-range id at flat ``position`` of ``ids``."""
    value = int(ids.reshape(-1)[position])
    where = tuple(int(i) for i in np.unravel_index(position, ids.shape)) if ids.shape else ()
    valid = f"valid: 0..{num_embeddings - 1}" if num_embeddings else "the table has no rows"
    return error(
        f"index {value} at position {where} is out of range for an embedding table of "
        f"{num_embeddings} rows ({valid})"
    )


def _as_weight(weight: ArrayLike) -> NDArray[Any]:
    """The weight as a 2-D ndarray, without copying (a ``Parameter`` gives its ``data``)."""
    array = np.asarray(weight.data if isinstance(weight, Parameter) else weight)
    if array.ndim != 2:
        raise ShapeError(f"'weight' must be 2-D, got an array of shape {array.shape}")
    return array


_FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def check_float_weight(weight: NDArray[Any], what: str) -> None:
    """Raise ``WeightDTypeError`` unless ``weight`` is float16, float32 or float64 in native byte
    order (``what`` names the use).

    Example:
        >>> check_float_weight(np.zeros((2, 2), dtype=np.longdouble), "embedding_bag")
        Traceback (most recent call last):
        ...
        embtable._errors.WeightDTypeError: embedding_bag needs a floating-point weight (float16, float32 or float64), got float128
    """
    if weight.dtype.kind == "f" and not weight.dtype.isnative:
        raise WeightDTypeError(
            f"{what} needs a weight in native byte order, got {weight.dtype.str}; convert with "
            f"weight.astype(weight.dtype.newbyteorder('='))"
        )
    if weight.dtype not in _FLOAT_DTYPES:
        raise WeightDTypeError(
            f"{what} needs a floating-point weight (float16, float32 or float64), "
            f"got {weight.dtype}"
        )


def _compute_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """Kernels compute in float32 or float64; float16 storage computes in float32."""
    return np.dtype(np.float32) if dtype == np.float16 else np.dtype(dtype)


def check_renormalisable(weight: NDArray[Any]) -> None:
    """``max_norm`` writes rows in place: the weight must be floating-point and writable.

    Raises:
        WeightDTypeError: the weight is not float16, float32 or float64 in native byte order.
        OptionError: the weight is read-only (also a ``ValueError``).

    Example:
        >>> weight = np.zeros((2, 2), np.float32)
        >>> weight.flags.writeable = False
        >>> check_renormalisable(weight)
        Traceback (most recent call last):
        ...
        embtable._errors.OptionError: max_norm renormalises rows in place, but the weight is read-only (memory-mapped?); load it with mmap=False or set max_norm=None
    """
    check_float_weight(weight, "max_norm")
    if not weight.flags.writeable:
        raise OptionError(
            "max_norm renormalises rows in place, but the weight is read-only (memory-mapped?); "
            "load it with mmap=False or set max_norm=None"
        )


def check_max_norm(max_norm: float, norm_type: float) -> tuple[float, float]:
    """Validate ``max_norm`` (a real number >= 0) and ``norm_type``; return them as floats.

    Raises:
        OptionTypeError: either is not a real number (also a ``TypeError``).
        OptionError: ``max_norm`` is negative or NaN (also a ``ValueError``).

    Example:
        >>> check_max_norm(-1, 2)
        Traceback (most recent call last):
        ...
        embtable._errors.OptionError: max_norm must be >= 0, got -1.0; a negative bound would flip the rows' signs
    """
    if isinstance(max_norm, bool) or not isinstance(max_norm, numbers.Real):
        raise OptionTypeError(
            f"max_norm must be a real number >= 0 or None, got {type(max_norm).__name__} "
            f"{max_norm!r}"
        )
    if isinstance(norm_type, bool) or not isinstance(norm_type, numbers.Real):
        raise OptionTypeError(
            f"norm_type must be a real number, got {type(norm_type).__name__} {norm_type!r}"
        )
    if not max_norm >= 0:
        raise OptionError(
            f"max_norm must be >= 0, got {float(max_norm)}; a negative bound would flip the "
            f"rows' signs"
        )
    return float(max_norm), float(norm_type)


def _check_num_embeddings(num_embeddings: Any) -> int:
    """``num_embeddings`` as an int >= 0 (``OptionTypeError`` / ``ShapeError`` otherwise)."""
    if isinstance(num_embeddings, bool) or not isinstance(num_embeddings, numbers.Integral):
        raise OptionTypeError(
            f"num_embeddings must be an integer >= 0, got {type(num_embeddings).__name__} "
            f"{num_embeddings!r}"
        )
    if num_embeddings < 0:
        raise ShapeError(f"num_embeddings must be >= 0, got {num_embeddings}")
    return int(num_embeddings)


# ---------------------------------------------------------------------------------------------
# Embedding


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


_KERNEL_ID_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))
_NATIVE_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_INT64 = np.dtype(np.int64)
_GATHER: list[Any] = []
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


def _check_grad_output(
    grad_output: ArrayLike, expected: tuple[int, ...], what: str = "grad_output"
) -> NDArray[np.floating]:
    """``grad_output`` checked: float16/32/64 (a foreign byte order is converted) of shape
    ``expected``."""
    grad = np.asarray(grad_output)
    if grad.dtype.kind != "f" or grad.dtype.newbyteorder("=") not in _FLOAT_DTYPES:
        raise WeightDTypeError(
            f"{what} must be a floating-point array, got {grad.dtype} "
            f"(valid: float16, float32 or float64)"
        )
    if grad.shape != expected:
        raise ShapeError(f"{what} must have shape {expected}, got {grad.shape}")
    if not grad.dtype.isnative:
        grad = grad.astype(grad.dtype.newbyteorder("="))
    return grad


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


# ---------------------------------------------------------------------------------------------
# EmbeddingBag


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


def _check_psw_dtype(psw: NDArray[Any]) -> NDArray[Any]:
    """Per-sample weights must be float16/32/64 (a foreign byte order is fine: it is copied)."""
    if psw.dtype.kind != "f" or psw.dtype.newbyteorder("=") not in _FLOAT_DTYPES:
        raise WeightDTypeError(
            f"per_sample_weights must be floating-point (float16, float32 or float64), "
            f"got {psw.dtype}"
        )
    return psw


def check_mode(mode: str, *, sparse: bool, scale_grad_by_freq: bool) -> BagMode:
    """Validate a bag mode and the options it cannot take (max: no sparse, no scaling).

    Raises:
        ModeError: an unknown mode, or max with ``sparse`` or ``scale_grad_by_freq``.

    Example:
        >>> check_mode("max", sparse=True, scale_grad_by_freq=False)
        Traceback (most recent call last):
        ...
        embtable._errors.ModeError: max mode does not support sparse weights
    """
    if not isinstance(mode, str) or mode not in _MODES:
        raise ModeError(f"mode has to be one of sum, mean or max, got {mode!r}")
    if mode == "max" and sparse:
        raise ModeError("max mode does not support sparse weights")
    if mode == "max" and scale_grad_by_freq:
        raise ModeError("max mode does not support scaling the gradient by the frequency")
    return mode  # type: ignore[return-value]


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
