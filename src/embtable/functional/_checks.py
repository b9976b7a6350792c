"""The checks of :mod:`embtable.functional`: one function per condition, shared by every path,
and the ownership helpers (frozen copies of what a kernel trusts)."""

from __future__ import annotations

import numbers
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import kernels
from .._errors import (
    EmbeddingIndexError,
    IdsTypeError,
    ModeError,
    OptionError,
    OptionTypeError,
    PaddingIndexError,
    ShapeError,
    WeightDTypeError,
)
from ..parameter import Parameter

__all__ = [
    "check_float_weight",
    "check_ids",
    "check_max_norm",
    "check_mode",
    "check_padding_idx",
    "check_renormalisable",
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


_KERNEL_ID_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))


_NATIVE_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


_INT64 = np.dtype(np.int64)


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
