"""Row-wise quantized tables for inference: int8 and int4 rows with a per-row scale and bias.

:func:`quantize` turns a float table into a :class:`QuantizedTable` in FBGEMM's *fused row-wise*
layout, byte for byte what ``torch.ops.quantized.embedding_bag_byte_prepack`` (int8) and
``embedding_bag_4bit_prepack`` (int4) produce, so tables move between embtable and torch's
quantized ``EmbeddingBag`` unchanged. Each row of ``D`` features is one ``uint8`` row:

========  ==========================================================  ===============
scheme    bytes of a row                                              bytes at D=128
========  ==========================================================  ===============
``int8``  ``D`` codes, float32 ``scale``, float32 ``bias``             136 (3.76x less)
``int8``  ``D`` codes, float16 ``scale``, float16 ``bias``             132 (3.88x less)
(half)    (``scale_dtype="float16"``: FBGEMM's SBHalf, not torch.ao)
``int4``  ``ceil(D/2)`` bytes of two codes (low nibble first),        68 (7.5x less)
          float16 ``scale``, float16 ``bias``
========  ==========================================================  ===============

Feature ``d`` of a row is ``scale * q[d] + bias``. Quantizing follows FBGEMM's reference
(``QuantUtils.cc``): int8 ``bias = min(row)``, ``scale = (max - min) / 255``,
``q = rint((x - min) * 255 / (max - min + 1e-8))``; int4 rounds ``min`` to float16 first, then
``scale = (max - min) / 15`` rounded to float16 (1 for a constant row) and
``q = clip(rint((x - min) / scale), 0, 15)``. The error of a feature is at most ``scale / 2``.

Lookups and bags (:meth:`QuantizedTable.embedding`, :meth:`QuantizedTable.embedding_bag`, the
layers :class:`QuantizedEmbedding` and :class:`QuantizedEmbeddingBag`, and their
:mod:`embtable.torch.quantized` twins) dequantize each row inside the numba kernels
(:mod:`embtable.kernels.quantized`), never the whole table; their ids, offsets, modes and
``padding_idx`` are checked by :mod:`embtable.functional`, with the same errors as the float
layers. They are inference-only: there is no gradient into a quantized table.

File format (:meth:`QuantizedTable.save`): a safetensors file with one ``U8`` tensor ``"weight"``
of shape ``(V, row_bytes)`` holding the fused rows, and the metadata
``{"format": "embtable-quantized", "version": "1", "scheme": "int8" | "int4",
"scale_dtype": "float32" | "float16", "embedding_dim": "D", "layout": "fbgemm-fused-rowwise"}``
(plus any user entries; a file without ``scale_dtype`` has its scheme's default).
:func:`save_quantized_table` writes a table directory: that file as ``quantized.safetensors``,
with ``vocab.json`` and ``config.json`` as in :mod:`embtable.io.tables`.

Example:
    >>> w = np.arange(12, dtype=np.float32).reshape(3, 4)
    >>> table = quantize(w, "int8")
    >>> table
    QuantizedTable(3, 4, scheme='int8')
    >>> table.dequantize()
    array([[ 0.,  1.,  2.,  3.],
           [ 4.,  5.,  6.,  7.],
           [ 8.,  9., 10., 11.]], dtype=float32)
    >>> table.embedding_bag([0, 2, 1], [0, 2], mode="sum")
    array([[ 8., 10., 12., 14.],
           [ 4.,  5.,  6.,  7.]], dtype=float32)
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from . import functional as F
from ._errors import (
    FrozenWeightError,
    OptionError,
    OptionTypeError,
    ShapeError,
    VectorFormatError,
    WeightDTypeError,
)
from .parameter import Parameter

__all__ = [
    "QUANTIZED_FILE",
    "QuantizedEmbedding",
    "QuantizedEmbeddingBag",
    "QuantizedTable",
    "Scheme",
    "dequantize",
    "load_quantized_table",
    "peek_quantized_table",
    "quantize",
    "read_quantized_vectors",
    "row_bytes",
    "save_quantized_table",
    "sniff_quantized_table",
]

Scheme = Literal["int8", "int4"]
_SCHEMES: tuple[str, ...] = ("int8", "int4")
_FORMAT = "embtable-quantized"
_VERSION = "1"
_LAYOUT = "fbgemm-fused-rowwise"
QUANTIZED_FILE = "quantized.safetensors"
_CHUNK_ROWS = 1 << 16
_FLOAT16_MAX = float(np.finfo(np.float16).max)
_MODES = {"sum": 0, "mean": 1, "max": 2}
_NO_PADDING = -1
_NO_WEIGHTS = np.empty(0, np.float32)
_KERNEL_INTS = (np.dtype(np.int64), np.dtype(np.int32))

_kernel_module: ModuleType | None = None
_half_table: NDArray[np.float32] | None = None


def _kernels() -> ModuleType:
    """The numba kernels, imported (not compiled) on the first lookup."""
    global _kernel_module
    if _kernel_module is None:
        _kernel_module = importlib.import_module("embtable.kernels.quantized")
    return _kernel_module


def _halves() -> NDArray[np.float32]:
    """float16 bits → float32 value, for all 65536 bit patterns (256 KiB, built once)."""
    global _half_table
    if _half_table is None:
        _half_table = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
        _half_table = _half_table.view(np.float16).astype(np.float32)
    return _half_table


def _check_scheme(scheme: object) -> Scheme:
    if not isinstance(scheme, str):
        raise OptionTypeError(f"scheme must be 'int8' or 'int4', got {type(scheme).__name__}")
    if scheme not in _SCHEMES:
        raise OptionError(f"scheme must be 'int8' or 'int4', got {scheme!r}")
    return scheme  # type: ignore[return-value]


def _check_scale_dtype(scheme: Scheme, scale_dtype: object) -> str:
    """``"float32"`` or ``"float16"``: the given one, or the scheme's default (int8 float32,
    as torch; int4 float16, the only one FBGEMM has for 4-bit rows)."""
    if scale_dtype is None:
        return "float32" if scheme == "int8" else "float16"
    name = np.dtype(scale_dtype).name if not isinstance(scale_dtype, str) else scale_dtype
    allowed = ("float32", "float16") if scheme == "int8" else ("float16",)
    if name not in allowed:
        raise OptionError(
            f"scale_dtype for {scheme} rows must be {' or '.join(map(repr, allowed))}, got "
            f"{scale_dtype!r}"
        )
    return name


def row_bytes(scheme: Scheme, embedding_dim: int, scale_dtype: str | None = None) -> int:
    """Bytes per quantized row of ``embedding_dim`` features (codes, then scale and bias).

    Example:
        >>> row_bytes("int8", 128), row_bytes("int4", 128), row_bytes("int4", 5)
        (136, 68, 7)
        >>> row_bytes("int8", 128, scale_dtype="float16")
        132
    """
    scheme = _check_scheme(scheme)
    sb_bytes = 8 if _check_scale_dtype(scheme, scale_dtype) == "float32" else 4
    if scheme == "int8":
        return embedding_dim + sb_bytes
    return (embedding_dim + 1) // 2 + sb_bytes


def _fast_padding(padding_idx: object, num_embeddings: int) -> int | None:
    """``padding_idx`` normalised for the kernels (``-1``: none) when it is plainly valid, or
    ``None`` to leave it to :func:`embtable.functional.check_padding_idx` (and its error)."""
    if padding_idx is None:
        return _NO_PADDING
    if type(padding_idx) is int and -num_embeddings <= padding_idx < num_embeddings:
        return padding_idx + num_embeddings if padding_idx < 0 else padding_idx
    return None


def _fast_bag_arrays(
    ids: object, offsets: object, per_sample_weights: object, include_last_offset: bool
) -> tuple[NDArray[np.integer], NDArray[np.integer], bool, NDArray[np.float32]] | None:
    """``(ids, offsets, include_last, weights)`` for the bag kernels, taken from the caller's
    arrays without a copy, or ``None`` when they need converting or are malformed (left to
    :func:`embtable.functional.plan_bags`). 2-D ids get offsets ``0, N, 2N, ...`` and their
    end (``include_last``). Their values are not checked here: the kernels check them."""
    if type(ids) is not np.ndarray or ids.dtype not in _KERNEL_INTS or not ids.flags.c_contiguous:
        return None
    last = bool(include_last_offset)
    if ids.ndim == 1:
        if (
            type(offsets) is not np.ndarray
            or offsets.ndim != 1
            or offsets.dtype not in _KERNEL_INTS
            or not offsets.flags.c_contiguous
            or offsets.shape[0] <= int(last)
        ):
            return None
        bounds = offsets
    elif ids.ndim == 2 and offsets is None and ids.shape[0] and ids.shape[1]:
        bounds = np.arange(0, ids.size + 1, ids.shape[1], dtype=np.int64)
        last = True
    else:
        return None
    weights = _NO_WEIGHTS
    if per_sample_weights is not None:
        psw = per_sample_weights
        if (
            type(psw) is not np.ndarray
            or psw.dtype != np.float32
            or psw.shape != ids.shape
            or not psw.flags.c_contiguous
        ):
            return None
        weights = psw.reshape(-1)
    return ids.reshape(-1), bounds, last, weights


# ---------------------------------------------------------------------------------------------
# Quantizing


def _float_rows(weight: ArrayLike) -> NDArray[np.floating]:
    array = np.asarray(weight.data if isinstance(weight, Parameter) else weight)
    if array.ndim != 2:
        raise ShapeError(f"a table to quantize must be 2-D, got an array of shape {array.shape}")
    F.check_float_weight(array, "quantize")
    return array


def _check_finite(
    chunk: NDArray[np.float32], start: int, scheme: Scheme, half: bool = False
) -> None:
    bad = ~np.isfinite(chunk)
    if half:
        bad |= np.abs(chunk) > _FLOAT16_MAX
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        limit = "finite" if not half else f"within +-{_FLOAT16_MAX:g} (float16)"
        raise OptionError(
            f"cannot quantize to {scheme}: weight[{start + row}, {col}] = {chunk[row, col]} is "
            f"not {limit}"
        )


def _quantize_int8(x: NDArray[np.float32], out: NDArray[np.uint8]) -> None:
    dim = x.shape[1]
    low = x.min(axis=1)
    spread = x.max(axis=1) - low
    inverse = np.float32(255.0) / (spread + np.float32(1e-8))
    codes = np.rint((x - low[:, None]) * inverse[:, None])
    out[:, :dim] = np.clip(codes, 0, 255).astype(np.uint8)
    scale_bias = np.stack([spread / np.float32(255.0), low], axis=1).astype("<f4")
    out[:, dim : dim + 8] = scale_bias.view(np.uint8)


def _quantize_int4(x: NDArray[np.float32], out: NDArray[np.uint8], levels: int = 15) -> None:
    """FBGEMM's ``FloatToFusedNBitRowwiseQuantizedSBHalf`` (float16 scale and bias): 4-bit
    codes packed two a byte (``levels = 15``), or one 8-bit code a byte (``levels = 255``)."""
    dim = x.shape[1]
    low16 = x.min(axis=1).astype(np.float16)
    low = low16.astype(np.float32)
    spread = x.max(axis=1) - low
    with np.errstate(divide="ignore"):
        scale = np.where(spread == 0, np.float32(1.0), spread / np.float32(levels))
        scale = scale.astype(np.float16).astype(np.float32)
        scale[scale == 0] = 1.0
        inverse = np.float32(1.0) / scale
    degenerate = np.isinf(inverse)
    scale[degenerate] = 1.0
    inverse[degenerate] = 1.0
    codes = np.clip(np.rint((x - low[:, None]) * inverse[:, None]), 0, levels).astype(np.uint8)
    if levels == 255:
        out[:, :dim] = codes
        scale_bias = np.stack([scale.astype(np.float16), low16], axis=1).astype("<f2")
        out[:, dim : dim + 4] = scale_bias.view(np.uint8)
        return
    if dim % 2:
        codes = np.concatenate([codes, np.zeros((len(codes), 1), np.uint8)], axis=1)
    packed = (dim + 1) // 2
    out[:, :packed] = codes[:, 0::2] | (codes[:, 1::2] << 4)
    scale_bias = np.stack([scale.astype(np.float16), low16], axis=1).astype("<f2")
    out[:, packed : packed + 4] = scale_bias.view(np.uint8)


def quantize(
    weight: ArrayLike, scheme: Scheme = "int8", *, scale_dtype: str | None = None
) -> QuantizedTable:
    """Quantize each row of a float table to ``int8`` or ``int4`` with its own scale and bias.

    The bytes equal ``torch.ops.quantized.embedding_bag_byte_prepack(weight)`` (int8) and
    ``embedding_bag_4bit_prepack(weight)`` (int4) for a float32 ``weight``; float16 and float64
    tables are first converted to float32. The work goes in chunks of 65536 rows, so a
    memory-mapped table is read once and never copied whole.

    ``scale_dtype="float16"`` with ``int8`` stores the scale and bias as float16 (``D + 4``
    bytes a row: 3.88x smaller than float32 at ``D = 128``, against 3.76x), FBGEMM's
    ``FloatToFusedNBitRowwiseQuantizedSBHalf`` with ``bit_rate=8`` (the int4 rule with 255
    levels; fbgemm_gpu's inference tables use these rows). torch's quantized ``EmbeddingBag``
    reads only float32 scales, so such a table cannot fill an :mod:`embtable.torch.quantized`
    module.

    Args:
        weight: the ``(V, D)`` float table (an array, a ``numpy.memmap`` or a ``Parameter``).
        scheme: ``"int8"`` or ``"int4"``.
        scale_dtype: ``"float32"`` (int8's default) or ``"float16"`` (int4's only one).

    Returns:
        The :class:`QuantizedTable`.

    Shape:
        weight ``(V, D)`` → a table of ``(V, row_bytes(scheme, D))`` bytes.

    Raises:
        OptionError: an unknown scheme, or a value that is NaN or infinite (int4: beyond the
            float16 range), named by its row and column.
        WeightDTypeError: the weight is not floating-point.
        ShapeError: the weight is not 2-D.

    Example:
        >>> w = np.array([[0.0, 7.5, 15.0], [-1.0, 0.0, 2.0]], dtype=np.float32)
        >>> quantize(w, "int4").dequantize()
        array([[ 0.0000000e+00,  8.0000000e+00,  1.5000000e+01],
               [-1.0000000e+00, -2.4414062e-04,  1.9992676e+00]], dtype=float32)
    """
    scheme = _check_scheme(scheme)
    scale_name = _check_scale_dtype(scheme, scale_dtype)
    half = scale_name == "float16"
    array = _float_rows(weight)
    num_rows, dim = array.shape
    data = np.zeros((num_rows, row_bytes(scheme, dim, scale_name)), dtype=np.uint8)
    if dim:
        for start in range(0, num_rows, _CHUNK_ROWS):
            chunk = np.asarray(array[start : start + _CHUNK_ROWS], dtype=np.float32)
            _check_finite(chunk, start, scheme, half)
            target = data[start : start + _CHUNK_ROWS]
            if not half:
                _quantize_int8(chunk, target)
            else:
                _quantize_int4(chunk, target, 255 if scheme == "int8" else 15)
    return QuantizedTable(data, dim, scheme, scale_dtype=scale_name)


def dequantize(table: QuantizedTable, ids: ArrayLike | None = None) -> NDArray[np.float32]:
    """The float32 rows of ``table`` (all of them, or those named by ``ids``).

    Example:
        >>> dequantize(quantize(np.eye(2, dtype=np.float32)))
        array([[1., 0.],
               [0., 1.]], dtype=float32)
    """
    return table.dequantize(ids)


# ---------------------------------------------------------------------------------------------
# The table


class QuantizedTable:
    """A row-wise quantized table: fused ``uint8`` rows in FBGEMM's layout (see the module).

    Args:
        data: the ``(V, row_bytes(scheme, D))`` ``uint8`` rows, kept without copying (a
            ``numpy.memmap`` works); torch's prepacked tensors (``.numpy()``) are accepted as
            they are.
        embedding_dim: ``D``, the number of features per row.
        scheme: ``"int8"`` or ``"int4"``.
        scale_dtype: how scale and bias are stored, ``"float32"`` or ``"float16"`` (default:
            float32 for int8, float16 for int4; see :func:`quantize`).

    Raises:
        WeightDTypeError: ``data`` is not ``uint8``.
        ShapeError: ``data`` is not 2-D, or its width is not ``row_bytes(scheme, D)``.

    Example:
        >>> table = quantize(np.arange(8, dtype=np.float32).reshape(2, 4), "int8")
        >>> table.num_embeddings, table.embedding_dim, table.nbytes
        (2, 4, 24)
        >>> table.embedding([[1], [0]])[:, 0]
        array([[4., 5., 6., 7.],
               [0., 1., 2., 3.]], dtype=float32)
    """

    __slots__ = ("_scale_dtype", "_scheme", "data", "embedding_dim")

    def __init__(
        self,
        data: NDArray[np.uint8],
        embedding_dim: int,
        scheme: Scheme,
        *,
        scale_dtype: str | None = None,
    ) -> None:
        scheme = _check_scheme(scheme)
        scale_name = _check_scale_dtype(scheme, scale_dtype)
        array = np.asanyarray(data)
        if array.dtype != np.uint8:
            raise WeightDTypeError(f"quantized rows must be uint8, got {array.dtype}")
        if isinstance(embedding_dim, bool) or not isinstance(embedding_dim, (int, np.integer)):
            raise OptionTypeError(f"embedding_dim must be an integer, got {embedding_dim!r}")
        if embedding_dim < 0:
            raise ShapeError(f"embedding_dim must be >= 0, got {embedding_dim}")
        width = row_bytes(scheme, int(embedding_dim), scale_name)
        if array.ndim != 2 or array.shape[1] != width:
            raise ShapeError(
                f"{scheme} rows of {embedding_dim} features with {scale_name} scales are "
                f"{width} bytes wide: expected "
                f"data of shape (V, {width}), got {array.shape}"
            )
        if not array.flags.c_contiguous:
            array = np.ascontiguousarray(array)
        self.data: NDArray[np.uint8] = array
        self.embedding_dim = int(embedding_dim)
        self._scheme: Scheme = scheme
        self._scale_dtype = scale_name

    @property
    def scheme(self) -> Scheme:
        """``"int8"`` or ``"int4"``."""
        return self._scheme

    @property
    def scale_dtype(self) -> str:
        """How each row's scale and bias are stored: ``"float32"`` or ``"float16"``."""
        return self._scale_dtype

    @property
    def bits(self) -> int:
        """Bits per code: 8 or 4."""
        return 8 if self._scheme == "int8" else 4

    @property
    def num_embeddings(self) -> int:
        """``V``, the number of rows."""
        return int(self.data.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes of the fused rows (codes, scales and biases)."""
        return int(self.data.nbytes)

    def _code_bytes(self) -> int:
        return self.embedding_dim if self._scheme == "int8" else (self.embedding_dim + 1) // 2

    def _scale_bias(self) -> NDArray[Any]:
        """A ``(V, 2)`` view of the scales and biases inside ``data`` (float32, or the float16
        bits as uint16 for int4)."""
        start = self._code_bytes()
        if self._scale_dtype == "float32":
            return self.data[:, start : start + 8].view("<f4")
        return self.data[:, start : start + 4].view("<u2")

    @property
    def scales(self) -> NDArray[np.float32]:
        """Each row's scale, ``(V,)`` float32 (a copy)."""
        values = self._scale_bias()[:, 0]
        return values.astype(np.float32) if self._scale_dtype == "float32" else _halves()[values]

    @property
    def biases(self) -> NDArray[np.float32]:
        """Each row's bias (its minimum), ``(V,)`` float32 (a copy)."""
        values = self._scale_bias()[:, 1]
        return values.astype(np.float32) if self._scale_dtype == "float32" else _halves()[values]

    def _gather(self, flat: NDArray[np.integer], out: NDArray[np.float32]) -> None:
        if not flat.size or not self.embedding_dim:
            return
        kernels = _kernels()
        if self._scheme == "int8":
            kernels.gather_int8(self.data, self._scale_bias(), flat, out, self._half_table())
        else:
            kernels.gather_int4(self.data, self._scale_bias(), _halves(), flat, out)

    def _half_table(self) -> NDArray[np.float32] | None:
        return None if self._scale_dtype == "float32" else _halves()

    def dequantize(
        self, ids: ArrayLike | None = None, *, dtype: DTypeLike = np.float32
    ) -> NDArray[np.floating]:
        """The dequantized rows: all (in chunks of 65536 rows), or those named by ``ids``.

        Args:
            ids: integer ids of any shape, or ``None`` for the whole table.
            dtype: the result's floating dtype (float16 halves a whole-table copy).

        Raises:
            EmbeddingIndexError: an id is out of range.

        Example:
            >>> quantize(np.eye(3, dtype=np.float32)).dequantize([2, 0])
            array([[0., 0., 1.],
                   [1., 0., 0.]], dtype=float32)
        """
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise WeightDTypeError(f"dequantize needs a floating dtype, got {dtype}")
        if ids is not None:
            out = self.embedding(ids)
            return out if dtype == np.float32 else out.astype(dtype)
        out = np.empty((self.num_embeddings, self.embedding_dim), dtype=dtype)
        scratch = np.empty((min(_CHUNK_ROWS, self.num_embeddings), self.embedding_dim), np.float32)
        for start in range(0, self.num_embeddings, _CHUNK_ROWS):
            stop = min(start + _CHUNK_ROWS, self.num_embeddings)
            target = out[start:stop] if dtype == np.float32 else scratch[: stop - start]
            self._gather(np.arange(start, stop, dtype=np.int64), target)
            if dtype != np.float32:
                out[start:stop] = target
        return out

    def embedding(self, ids: ArrayLike, padding_idx: int | None = None) -> NDArray[np.float32]:
        """Look up and dequantize the rows named by ``ids`` (as
        :func:`~embtable.functional.embedding` does).

        ``padding_idx`` is validated (and, as in torch, does not change the lookup).

        Shape:
            ids ``(*)`` → ``(*, D)`` float32.

        Raises:
            IdsTypeError: the ids are not integers.
            EmbeddingIndexError: an id is out of range.
            PaddingIndexError: ``padding_idx`` is out of range.

        Example:
            >>> table = quantize(np.arange(8, dtype=np.float32).reshape(2, 4))
            >>> table.embedding([1, 1, 0]).shape
            (3, 4)
        """
        F.check_padding_idx(padding_idx, self.num_embeddings)
        flat, shape = F.check_ids(ids, self.num_embeddings)
        out = np.empty((flat.size, self.embedding_dim), dtype=np.float32)
        self._gather(flat, out)
        return out.reshape(*shape, self.embedding_dim)

    def embedding_bag(
        self,
        ids: ArrayLike,
        offsets: ArrayLike | None = None,
        *,
        mode: str = "sum",
        per_sample_weights: ArrayLike | None = None,
        include_last_offset: bool = False,
        padding_idx: int | None = None,
    ) -> NDArray[np.float32]:
        """Pool bags of dequantized rows, as :func:`~embtable.functional.embedding_bag` does.

        Each row is dequantized inside the pooling kernel (``scale * q + bias`` fused into the
        sum), so no float copy of a row or of the table is made.

        Args:
            ids: 1-D ids with ``offsets``, or 2-D ``(B, N)`` ids.
            offsets: the start of each bag in ``ids``.
            mode: ``"sum"`` (the default here, as in torch's quantized ``EmbeddingBag``),
                ``"mean"`` or ``"max"``.
            per_sample_weights: weights aligned with ``ids`` (sum and mean).
            include_last_offset: ``offsets`` has ``B + 1`` entries.
            padding_idx: ids equal to it are left out of the pooling and the mean's count.

        Shape:
            ids ``(N,)`` with offsets ``(B,)``, or ids ``(B, N)`` → ``(B, D)`` float32.

        Raises:
            BagIndexError, OffsetsError, ModeError, PaddingIndexError, ShapeError: as
            :func:`embtable.functional.embedding_bag`.

        Example:
            >>> table = quantize(np.arange(8, dtype=np.float32).reshape(4, 2))
            >>> table.embedding_bag([[0, 1], [3, 3]], mode="mean")
            array([[1., 2.],
                   [6., 7.]], dtype=float32)
        """
        if type(mode) is str and mode in _MODES and mode != "max":
            pad = _fast_padding(padding_idx, self.num_embeddings)
            if pad is not None:
                out = self._bag_fast(
                    ids, offsets, mode, per_sample_weights, include_last_offset, padding_idx, pad
                )  # fmt: skip
                if out is not None:
                    return out
        return self._pool(self._plan(ids, offsets, mode, per_sample_weights, include_last_offset,
                                     padding_idx))  # fmt: skip

    def _plan(
        self,
        ids: ArrayLike,
        offsets: ArrayLike | None,
        mode: str,
        per_sample_weights: ArrayLike | None,
        include_last_offset: bool,
        padding_idx: int | None,
    ) -> F.BagPlan:
        """Every check of :func:`embtable.functional.plan_bags`, raising its errors."""
        return F.plan_bags(
            ids,
            self.num_embeddings,
            offsets,
            mode=mode,
            per_sample_weights=per_sample_weights,
            include_last_offset=include_last_offset,
            padding_idx=padding_idx,
            weight_dtype=np.float32,
        )

    def _bag_fast(
        self,
        ids: ArrayLike,
        offsets: ArrayLike | None,
        mode: str,
        per_sample_weights: ArrayLike | None,
        include_last_offset: bool,
        padding_idx: int | None,
        pad: int,
    ) -> NDArray[np.float32] | None:
        """A sum or mean straight from the caller's arrays, when they are what the kernels
        take (int32/int64 ids and offsets, float32 weights, contiguous) and the width has its
        own kernel, which checks every bound and id as it reads it (one pass, no copy): the
        result, or ``None`` for the general path. ``pad`` is a normalised ``padding_idx``
        (``-1``: none). An invalid bag sends the call through :func:`plan_bags`, whose error
        is the one raised."""
        kernels = _kernels()
        dim = self.embedding_dim
        if dim not in kernels.SPECIALISED_WIDTHS:
            return None
        arrays = _fast_bag_arrays(ids, offsets, per_sample_weights, include_last_offset)
        if arrays is None:
            return None
        flat, bounds, last, weights = arrays
        num_bags = bounds.shape[0] - int(last)
        out = np.empty((num_bags, dim), dtype=np.float32)  # the width kernels write every bag
        bag_size = np.empty(num_bags, dtype=np.int64)
        half = _halves() if self._scale_dtype == "float16" else kernels._NO_HALVES
        bad = kernels.bag_reduce(
            self._scheme, self.data, self._scale_bias(), half, flat, bounds, last, weights,
            per_sample_weights is not None, _MODES[mode], pad, out, bag_size,
        )  # fmt: skip
        if bad:
            plan = self._plan(
                ids, offsets, mode, per_sample_weights, include_last_offset, padding_idx
            )  # fmt: skip
            return self._pool(plan)  # not reached: plan_bags raises what the kernel found
        return out

    def _pool(self, plan: F.BagPlan) -> NDArray[np.float32]:
        out = np.zeros((plan.num_bags, self.embedding_dim), dtype=np.float32)
        if not plan.num_bags or not self.embedding_dim:
            return out
        bag_size = np.empty(plan.num_bags, dtype=np.int64)
        psw = plan.per_sample_weights
        weights = psw if psw is not None else _NO_WEIGHTS
        pad = _NO_PADDING if plan.padding_idx is None else plan.padding_idx
        kernels = _kernels()
        half = _halves() if self._scale_dtype == "float16" else kernels._NO_HALVES
        bad = kernels.bag_reduce(
            self._scheme, self.data, self._scale_bias(), half, plan.ids, plan.bag_starts, True,
            weights, psw is not None, _MODES[plan.mode], pad, out, bag_size,
        )  # fmt: skip
        if bad:  # pragma: no cover - a plan's bags and ids are valid
            raise AssertionError(f"{bad} bags of a checked plan were refused by the kernel")
        return out

    def to_vectors(self, tokens: Sequence[str], *, dtype: DTypeLike = np.float32) -> Any:
        """:class:`embtable.vectors.Vectors` over the dequantized rows, for ``most_similar``,
        analogies and :mod:`embtable.evaluate`.

        The rows are dequantized 65536 at a time straight into the result, so the peak is the
        float matrix itself; ``dtype=np.float16`` halves it.

        Example:
            >>> table = quantize(np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]], np.float32))
            >>> table.to_vectors(["a", "b", "c"]).most_similar("a", k=1)[0][0]
            'b'
        """
        from .vectors import Vectors

        return Vectors(tokens, self.dequantize(dtype=dtype))

    # -- files ---------------------------------------------------------------------------------

    def save(
        self, path: str | os.PathLike[str], *, metadata: Mapping[str, str] | None = None
    ) -> None:
        """Write the table as a safetensors file (the layout in the module docstring),
        atomically: a reader sees the old file or the new one.

        Raises:
            OutputError: the file cannot be written.
            OptionTypeError: a metadata key or value is not a string.

        Example:
            >>> import tempfile, pathlib
            >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.safetensors"
            >>> table = quantize(np.arange(6, dtype=np.float32).reshape(2, 3), "int4")
            >>> table.save(path)
            >>> QuantizedTable.load(path) == table
            True
        """
        from .io._atomic import atomic_file, check_output
        from .ondisk import _safetensors_header

        extra = dict(metadata or {})
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in extra.items()):
            raise OptionTypeError("metadata must map strings to strings (safetensors metadata)")
        check_output(path, "file")
        header, _ = _safetensors_header(
            {"weight": (self.data.dtype, self.data.shape)},
            {
                **extra,
                "format": _FORMAT,
                "version": _VERSION,
                "scheme": self._scheme,
                "scale_dtype": self._scale_dtype,
                "embedding_dim": str(self.embedding_dim),
                "layout": _LAYOUT,
            },
        )
        with atomic_file(path, compression="none") as out:
            out.write(header)
            for start in range(0, self.num_embeddings, _CHUNK_ROWS):
                out.write(np.ascontiguousarray(self.data[start : start + _CHUNK_ROWS]).data)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, mmap: bool = False) -> QuantizedTable:
        """Read a table written by :meth:`save` (``mmap=True``: map it read-only, no copy).

        Raises:
            VectorFormatError: not a quantized table file, or a corrupt one (naming the file).
            OutputError: ``path`` is not a regular file.

        Example:
            >>> import tempfile, pathlib
            >>> path = pathlib.Path(tempfile.mkdtemp()) / "table.safetensors"
            >>> rows = np.array([[0.0, 5.0, 15.0], [1.0, 2.0, 16.0]], np.float32)
            >>> quantize(rows, "int4").save(path)
            >>> table = QuantizedTable.load(path, mmap=True)
            >>> table, table.embedding([1])
            (QuantizedTable(2, 3, scheme='int4'), array([[ 1.,  2., 16.]], dtype=float32))
        """
        from .io._atomic import check_input_file
        from .ondisk import _map_tensor, _read_safetensors_header

        check_input_file(path)
        source = Path(path)
        tensors, metadata = _read_safetensors_header(source)
        name = source.name
        if metadata.get("format") != _FORMAT:
            raise VectorFormatError(
                f"{name}: not an embtable quantized table (metadata format "
                f"{metadata.get('format')!r}, expected {_FORMAT!r})"
            )
        if metadata.get("version") != _VERSION:
            raise VectorFormatError(
                f"{name}: quantized table version {metadata.get('version')!r}; this embtable "
                f"reads version {_VERSION}"
            )
        scheme = metadata.get("scheme")
        dim_text = metadata.get("embedding_dim", "")
        info = tensors.get("weight")
        if scheme not in _SCHEMES or not dim_text.isdigit() or info is None:
            raise VectorFormatError(
                f"{name}: needs a 'weight' tensor and the metadata scheme (int8/int4) and "
                f"embedding_dim; found tensors {sorted(tensors)}, scheme {scheme!r}, "
                f"embedding_dim {dim_text!r}"
            )
        scale_dtype = metadata.get("scale_dtype")
        if scale_dtype not in (None, "float32", "float16") or (
            scheme == "int4" and scale_dtype == "float32"
        ):
            raise VectorFormatError(
                f"{name}: scale_dtype {scale_dtype!r} is not one {scheme} rows can have"
            )
        width = row_bytes(scheme, int(dim_text), scale_dtype)  # type: ignore[arg-type]
        if info.dtype != np.uint8 or len(info.shape) != 2 or info.shape[1] != width:
            raise VectorFormatError(
                f"{name}: {scheme} rows of {dim_text} features need a U8 weight of shape "
                f"(V, {width}), found {info.dtype} {list(info.shape)}"
            )
        if mmap:
            data = _map_tensor(source, info, "r")
        else:
            with open(source, "rb") as stream:
                stream.seek(info.offset)
                data = np.fromfile(stream, dtype=np.uint8, count=info.nbytes)
            data = data.reshape(info.shape)
        return cls(data, int(dim_text), scheme, scale_dtype=scale_dtype)  # type: ignore[arg-type]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QuantizedTable):
            return NotImplemented
        return (
            self._scheme == other._scheme
            and self._scale_dtype == other._scale_dtype
            and self.embedding_dim == other.embedding_dim
            and np.array_equal(self.data, other.data)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        default = _check_scale_dtype(self._scheme, None)
        scales = "" if self._scale_dtype == default else f", scale_dtype={self._scale_dtype!r}"
        return (
            f"QuantizedTable({self.num_embeddings}, {self.embedding_dim}, "
            f"scheme={self._scheme!r}{scales})"
        )


def save_quantized_table(
    directory: str | os.PathLike[str],
    table: QuantizedTable,
    tokens: Sequence[str] | Any,
    config: Mapping[str, Any] | None = None,
) -> None:
    """Write a quantized table directory: ``quantized.safetensors``, ``vocab.json`` and
    ``config.json``, swapped in whole (a reader never sees a mix of old and new files).

    Raises:
        ShapeError: the tokens do not match the table's rows.
        OutputError: the directory cannot be written.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp()) / "glove-int8"
        >>> table = quantize(np.eye(2, dtype=np.float32))
        >>> save_quantized_table(folder, table, ["cat", "dog"], {"source": "eye"})
        >>> loaded, tokens, config = load_quantized_table(folder)
        >>> loaded == table, tokens, config
        (True, ['cat', 'dog'], {'source': 'eye'})
    """
    from .io._atomic import atomic_directory, atomic_write_bytes, check_output
    from .io.tables import CONFIG_FILE, VOCAB_FILE, write_vocab_json

    token_list = list(getattr(tokens, "tokens", tokens))
    if len(token_list) != table.num_embeddings:
        raise ShapeError(
            f"got {len(token_list)} tokens for a quantized table of {table.num_embeddings} rows; "
            f"they must match"
        )
    try:
        config_bytes = json.dumps(dict(config or {}), ensure_ascii=False, indent=2).encode()
    except TypeError as err:
        raise OptionTypeError(f"config must be JSON-serialisable: {err}") from err
    check_output(directory, "directory")
    with atomic_directory(directory) as staging:
        table.save(staging / QUANTIZED_FILE)
        write_vocab_json(staging / VOCAB_FILE, token_list)
        atomic_write_bytes(staging / CONFIG_FILE, config_bytes)


def load_quantized_table(
    directory: str | os.PathLike[str], *, mmap: bool = False
) -> tuple[QuantizedTable, list[str], dict[str, Any]]:
    """Read a directory written by :func:`save_quantized_table`: ``(table, tokens, config)``.

    ``mmap=True`` maps the rows read-only instead of reading them.

    Raises:
        VectorFormatError: a file is malformed, or the tokens and rows disagree.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp()) / "int8-table"
        >>> save_quantized_table(folder, quantize(np.eye(2, dtype=np.float32)), ["yes", "no"])
        >>> table, tokens, config = load_quantized_table(folder, mmap=True)
        >>> table, tokens, config
        (QuantizedTable(2, 2, scheme='int8'), ['yes', 'no'], {})
    """
    from .io.tables import CONFIG_FILE, VOCAB_FILE, read_vocab_json

    root = Path(directory)
    table = QuantizedTable.load(root / QUANTIZED_FILE, mmap=mmap)
    tokens = read_vocab_json(root / VOCAB_FILE)["tokens"]
    if len(tokens) != table.num_embeddings:
        raise VectorFormatError(
            f"{VOCAB_FILE}: holds {len(tokens)} tokens, but {QUANTIZED_FILE} has "
            f"{table.num_embeddings} rows; they must match"
        )
    try:
        config = json.loads((root / CONFIG_FILE).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise VectorFormatError(f"{CONFIG_FILE}: not valid UTF-8 JSON ({err})") from err
    if not isinstance(config, dict):
        raise VectorFormatError(f"{CONFIG_FILE}: expected a JSON object")
    return table, tokens, config


# ---------------------------------------------------------------------------------------------
# The format registry's functions (reader, sniffer, peeker of the "quantized" format)


def read_quantized_vectors(
    directory: str | os.PathLike[str],
    *,
    limit: int | None = None,
    dtype: DTypeLike | None = None,
    progress: bool | None = None,
    duplicates: str = "error",
    encoding: str = "utf-8",
    unicode_errors: str = "strict",
) -> tuple[list[str], NDArray[np.floating]]:
    """A quantized table directory as ``(tokens, matrix)``: the registry's reader, so
    ``Vectors.load``, ``embtable similar``/``evaluate``/``convert``/``info`` read quantized
    tables like any other vectors.

    The fused rows are memory-mapped and dequantized 65536 at a time straight into the result,
    so the peak is the float matrix itself (``dtype=np.float16`` halves it; the default is
    float32). ``limit`` keeps the first rows, and only those are dequantized. ``progress``,
    ``duplicates``, ``encoding`` and ``unicode_errors`` have no effect (a table holds UTF-8
    JSON and no repeated tokens).

    Raises:
        VectorFormatError: a file of the directory is malformed.
        OptionError: ``limit`` is negative.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp()) / "q"
        >>> save_quantized_table(folder, quantize(np.eye(3, dtype=np.float32)), ["a", "b", "c"])
        >>> read_quantized_vectors(folder, limit=2)
        (['a', 'b'], array([[1., 0., 0.],
               [0., 1., 0.]], dtype=float32))
    """
    from .io._parse import float_dtype

    del progress, duplicates, encoding, unicode_errors  # no effect on a table
    table, tokens, _ = load_quantized_table(directory, mmap=True)
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)):
            raise OptionTypeError(f"limit must be an integer or None, got {limit!r}")
        if limit < 0:
            raise OptionError(f"limit must be >= 0, got {limit}")
        table = QuantizedTable(
            table.data[:limit], table.embedding_dim, table.scheme, scale_dtype=table.scale_dtype
        )
        tokens = tokens[:limit]
    target = np.float32 if dtype is None else float_dtype(dtype)
    return tokens, table.dequantize(dtype=target)


def sniff_quantized_table(probe: Any) -> bool:
    """Whether ``probe`` (an :class:`embtable.io._detect.Probe`) is a quantized table
    directory: one holding ``quantized.safetensors``.

    Example:
        >>> import tempfile, pathlib
        >>> from embtable.io._detect import Probe
        >>> folder = pathlib.Path(tempfile.mkdtemp()) / "q"
        >>> save_quantized_table(folder, quantize(np.eye(2, dtype=np.float32)), ["a", "b"])
        >>> sniff_quantized_table(Probe(folder, None)), sniff_quantized_table(Probe("/", None))
        (True, False)
    """
    return bool(probe.is_dir) and os.path.isfile(os.path.join(probe.path, QUANTIZED_FILE))


def peek_quantized_table(directory: str | os.PathLike[str]) -> Any:
    """The shape, scheme and first tokens of a quantized table directory, from the safetensors
    header and ``vocab.json`` (no row is read): an :class:`embtable.io.registry.Summary` whose
    ``dtype`` is ``"int8"`` or ``"int4"``.

    Raises:
        VectorFormatError: a file is malformed, or the tokens and rows disagree.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp()) / "q"
        >>> table = quantize(np.ones((2, 5), np.float32), "int4")
        >>> save_quantized_table(folder, table, ["a", "b"])
        >>> peek_quantized_table(folder)
        Summary(rows=2, dim=5, dtype='int4', tokens=('a', 'b'), source='safetensors header')
    """
    from .io.registry import Summary

    table, tokens, _ = load_quantized_table(directory, mmap=True)
    return Summary(
        rows=table.num_embeddings,
        dim=table.embedding_dim,
        dtype=table.scheme,
        tokens=tuple(tokens[:10]),
        source="safetensors header",
    )


# ---------------------------------------------------------------------------------------------
# Layers


def _table_of(weight: Any, scheme: Scheme) -> QuantizedTable:
    if isinstance(weight, QuantizedTable):
        return weight
    source = getattr(weight, "weight", weight)  # a float layer gives its weight
    return quantize(source, scheme)


def _inference_only(layer: object) -> FrozenWeightError:
    name = type(layer).__name__
    return FrozenWeightError(
        f"{name} is inference-only: a quantized table has no gradient; train a float "
        f"Embedding/EmbeddingBag and quantize it afterwards ({name}.from_float)"
    )


class QuantizedEmbedding:
    """``Embedding`` lookups on a quantized table (inference only).

    Args:
        table: a :class:`QuantizedTable`.
        padding_idx: validated and kept (it does not change a lookup, as in torch).

    Shape:
        ids ``(*)`` → ``(*, embedding_dim)`` float32.

    Example:
        >>> from embtable import Embedding
        >>> emb = QuantizedEmbedding.from_float(Embedding(10, 4, rng=0), "int8")
        >>> emb
        QuantizedEmbedding(10, 4, scheme='int8')
        >>> emb([[1, 2], [3, 4]]).shape
        (2, 2, 4)
    """

    def __init__(self, table: QuantizedTable, padding_idx: int | None = None) -> None:
        if not isinstance(table, QuantizedTable):
            raise OptionTypeError(f"table must be a QuantizedTable, got {type(table).__name__}")
        self.table = table
        self.padding_idx = F.check_padding_idx(padding_idx, table.num_embeddings)

    @classmethod
    def from_float(
        cls, weight: Any, scheme: Scheme = "int8", *, padding_idx: int | None = None
    ) -> QuantizedEmbedding:
        """Quantize a float table (an array, a ``Parameter`` or an ``Embedding``); a layer's
        own ``padding_idx`` is kept unless one is given.

        Example:
            >>> from embtable import Embedding
            >>> QuantizedEmbedding.from_float(Embedding(5, 2, padding_idx=0, rng=0), "int4")
            QuantizedEmbedding(5, 2, scheme='int4', padding_idx=0)
        """
        if padding_idx is None:
            padding_idx = getattr(weight, "padding_idx", None)
        return cls(_table_of(weight, scheme), padding_idx)

    @property
    def num_embeddings(self) -> int:
        return self.table.num_embeddings

    @property
    def embedding_dim(self) -> int:
        return self.table.embedding_dim

    def parameters(self) -> Iterator[Parameter]:
        """No trainable parameters (an optimizer over them refuses an empty list).

        Example:
            >>> list(QuantizedEmbedding.from_float(np.eye(2)).parameters())
            []
        """
        return iter(())

    def forward(self, ids: ArrayLike) -> NDArray[np.float32]:
        """Look up ``ids``; see :meth:`QuantizedTable.embedding`.

        Example:
            >>> emb = QuantizedEmbedding.from_float(np.arange(6.0).reshape(3, 2))
            >>> emb.forward([[2], [0]])
            array([[[4., 5.]],
            <BLANKLINE>
                   [[0., 1.]]], dtype=float32)
        """
        return self.table.embedding(ids, self.padding_idx)

    __call__ = forward

    def backward(self, ids: ArrayLike, grad_output: ArrayLike) -> None:
        """Always raises: quantized tables are inference-only.

        Raises:
            FrozenWeightError: always.

        Example:
            >>> emb = QuantizedEmbedding.from_float(np.eye(2))
            >>> emb.backward([0], np.ones((1, 2)))  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            embtable._errors.FrozenWeightError: QuantizedEmbedding is inference-only: ...
        """
        raise _inference_only(self)

    def __repr__(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}, scheme={self.table.scheme!r}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        return f"{type(self).__name__}({text})"


class QuantizedEmbeddingBag:
    """``EmbeddingBag`` pooling on a quantized table (inference only), dequantizing in the
    pooling kernel.

    Args:
        table: a :class:`QuantizedTable`.
        mode: ``"sum"`` (the default, as torch's quantized ``EmbeddingBag``), ``"mean"`` or
            ``"max"``.
        include_last_offset: ``offsets`` has ``B + 1`` entries.
        padding_idx: ids left out of the pooling and the mean's count.

    Shape:
        ids ``(N,)`` with offsets ``(B,)``, or ids ``(B, N)`` → ``(B, embedding_dim)`` float32.

    Example:
        >>> bag = QuantizedEmbeddingBag.from_float(np.arange(8.0).reshape(4, 2), "int8")
        >>> bag([0, 1, 3], [0, 2])
        array([[2., 4.],
               [6., 7.]], dtype=float32)
    """

    def __init__(
        self,
        table: QuantizedTable,
        mode: str = "sum",
        *,
        include_last_offset: bool = False,
        padding_idx: int | None = None,
    ) -> None:
        if not isinstance(table, QuantizedTable):
            raise OptionTypeError(f"table must be a QuantizedTable, got {type(table).__name__}")
        self.table = table
        self.mode = F.check_mode(mode, sparse=False, scale_grad_by_freq=False)
        self.include_last_offset = bool(include_last_offset)
        self.padding_idx = F.check_padding_idx(
            padding_idx, table.num_embeddings, wording="module_bag"
        )

    @classmethod
    def from_float(
        cls,
        weight: Any,
        scheme: Scheme = "int8",
        *,
        mode: str | None = None,
        include_last_offset: bool | None = None,
        padding_idx: int | None = None,
    ) -> QuantizedEmbeddingBag:
        """Quantize a float table (an array, a ``Parameter`` or an ``EmbeddingBag``, whose mode,
        ``include_last_offset`` and ``padding_idx`` are kept unless given).

        Example:
            >>> from embtable import EmbeddingBag
            >>> float_bag = EmbeddingBag(6, 3, mode="max", padding_idx=1, rng=0)
            >>> QuantizedEmbeddingBag.from_float(float_bag, "int8")
            QuantizedEmbeddingBag(6, 3, scheme='int8', mode='max', padding_idx=1)
            >>> QuantizedEmbeddingBag.from_float(float_bag, "int4", mode="sum")
            QuantizedEmbeddingBag(6, 3, scheme='int4', mode='sum', padding_idx=1)
        """
        return cls(
            _table_of(weight, scheme),
            mode if mode is not None else getattr(weight, "mode", "sum"),
            include_last_offset=(
                include_last_offset
                if include_last_offset is not None
                else getattr(weight, "include_last_offset", False)
            ),
            padding_idx=padding_idx
            if padding_idx is not None
            else getattr(weight, "padding_idx", None),
        )

    @property
    def num_embeddings(self) -> int:
        return self.table.num_embeddings

    @property
    def embedding_dim(self) -> int:
        return self.table.embedding_dim

    def parameters(self) -> Iterator[Parameter]:
        """No trainable parameters.

        Example:
            >>> list(QuantizedEmbeddingBag.from_float(np.eye(2)).parameters())
            []
        """
        return iter(())

    def forward(
        self,
        ids: ArrayLike,
        offsets: ArrayLike | None = None,
        per_sample_weights: ArrayLike | None = None,
    ) -> NDArray[np.float32]:
        """Pool the bags; see :meth:`QuantizedTable.embedding_bag`.

        Example:
            >>> bag = QuantizedEmbeddingBag.from_float(np.arange(8.0).reshape(4, 2), mode="mean")
            >>> bag.forward([0, 2, 3, 1], [0, 3], per_sample_weights=[1.0, 1.0, 1.0, 2.0])
            array([[3.3333335, 4.3333335],
                   [4.       , 6.       ]], dtype=float32)
        """
        return self.table.embedding_bag(
            ids,
            offsets,
            mode=self.mode,
            per_sample_weights=per_sample_weights,
            include_last_offset=self.include_last_offset,
            padding_idx=self.padding_idx,
        )

    __call__ = forward

    def backward(self, *args: Any, **kwargs: Any) -> None:
        """Always raises: quantized tables are inference-only.

        Raises:
            FrozenWeightError: always.

        Example:
            >>> bag = QuantizedEmbeddingBag.from_float(np.eye(2))
            >>> bag.backward([0, 1], [0], np.ones((1, 2)))  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            embtable._errors.FrozenWeightError: QuantizedEmbeddingBag is inference-only: ...
        """
        raise _inference_only(self)

    def __repr__(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}, scheme={self.table.scheme!r}"
        text += f", mode={self.mode!r}"
        if self.include_last_offset:
            text += ", include_last_offset=True"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        return f"{type(self).__name__}({text})"
