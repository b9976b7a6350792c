"""Trainable tables on disk: a memory-mapped table and its optimizer state, with checkpoints.

A table on disk is a directory::

    table/
      weights.safetensors           the (V, D) table: safetensors, one tensor "weight"
      optim.<name>.safetensors      one file per optimizer state array (the table's dtype, its
                                    shape or, for a per-row state, (V,))
      manifest.json                 sizes, layer options, checkpoint counter, optimizer step
      undo.log                      pre-images of the rows changed since the last checkpoint

:func:`create_table` writes one (swapped in whole); :func:`open_table` maps it read-write and
returns a :class:`DiskEmbedding`, an :class:`embtable.Embedding` (``sparse=True``) whose
``weight.data`` *is* the mapped file: lookups page rows in, and the optimizers of
:mod:`embtable.optim` update the rows of a row-sparse gradient in place. A table larger than RAM
trains as fast as its working set allows; the kernel writes dirty pages back on its own.
:meth:`DiskEmbedding.attach` gives an optimizer its state as mapped files beside the table
(SGD without momentum: none; Adagrad: ``sum``; RowwiseAdagrad: ``sum``, one value per row, a
``(V,)`` file; Adam, AdamW: ``exp_avg``, ``exp_avg_sq``, and ``max_exp_avg_sq`` with amsgrad;
SparseAdam: ``exp_avg``, ``exp_avg_sq``).

Checkpoints and crashes
-----------------------
The mapped files change in place, so a process killed between checkpoints would leave rows of
several steps, and weights out of step with their optimizer state. An undo log prevents that.
Before a step changes a row for the first time since the last checkpoint (:meth:`backward`
knows the rows: those of the gradient; a ``max_norm`` lookup: its ids), the row's current bytes
in the weight and in every state array are appended to ``undo.log`` and fsynced. Then
:meth:`DiskEmbedding.checkpoint`:

1. msyncs and fsyncs the weight and state files (every change is on disk);
2. replaces ``manifest.json`` atomically with the checkpoint counter and the epoch ``e + 1``, the
   optimizer's step count, and the caller's metadata;
3. replaces ``undo.log`` atomically with an empty log of epoch ``e + 1``.

:func:`open_table` reads the manifest; if ``undo.log`` belongs to the manifest's epoch, its
complete records (each one checksummed; a torn last record is one whose rows were never
changed) are written back, in reverse order, and synced: the table and its state are exactly
the last checkpoint again. A kill at any point of a checkpoint leaves either the old
checkpoint (before step 2: the old log rolls the files back) or the new one (after step 2: the
old log's epoch no longer matches and is discarded). Changes made to ``weight.data`` by hand,
outside ``backward`` and lookups, are not journaled; :meth:`~DiskEmbedding.checkpoint` right
after them. ``journal=False`` turns the log off (faster, but a kill leaves a mix of steps).

Tables larger than RAM
----------------------
The maps are advised ``MADV_RANDOM``: a page fault reads its own page, not the read-ahead window
around it (8 MiB on this machine's disk). A file that :func:`create_table` or
:meth:`~DiskEmbedding.attach` writes and that is larger than a quarter of RAM leaves the page
cache once written, so the rows written later dirty single pages rather than the 2 MiB folios
of the sequential write. :meth:`DiskEmbedding.prefetch` starts the disk reads of a batch's rows
(call it on the next batch before stepping the current one).

One process opens a table read-write at a time (an advisory ``flock`` on the directory);
``mode="r"`` maps it read-only (copy-on-write, with a pending undo log applied in memory only).

Example:
    >>> import tempfile, pathlib
    >>> from embtable.optim import Adagrad
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "table"
    >>> emb = create_table(path, 1000, 4, init="zeros")
    >>> opt = Adagrad(emb.parameters(), lr=0.5)
    >>> emb.attach(opt)
    >>> emb(np.array([3, 7]))
    array([[0., 0., 0., 0.],
           [0., 0., 0., 0.]], dtype=float32)
    >>> emb.backward(np.array([3, 7]), np.ones((2, 4), np.float32))
    >>> opt.step()
    >>> emb.checkpoint()
    1
    >>> emb.close()
    >>> again = open_table(path)
    >>> opt = Adagrad(again.parameters(), lr=0.5)
    >>> again.attach(opt)
    >>> again(np.array([3])), opt.state[again.weight]["step"]
    (array([[-0.5, -0.5, -0.5, -0.5]], dtype=float32), 1)
    >>> again.close()
"""

from __future__ import annotations

import errno
import fcntl
import json
import mmap
import os
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from ._errors import (
    FrozenWeightError,
    OptionError,
    OptionTypeError,
    OutputError,
    ShapeError,
    VectorFormatError,
    WeightDTypeError,
)
from .layers import Embedding
from .sparse import RowSparseGrad

__all__ = [
    "MANIFEST_FILE",
    "UNDO_FILE",
    "WEIGHTS_FILE",
    "DiskEmbedding",
    "create_table",
    "open_table",
]

WEIGHTS_FILE = "weights.safetensors"
MANIFEST_FILE = "manifest.json"
UNDO_FILE = "undo.log"
_STATE_PREFIX = "optim."
_FORMAT = "embtable-ondisk"
_VERSION = 1
_CHUNK_ROWS = 1 << 16
_UNDO_MAGIC = b"EMBTUNDO"
_RECORD_MAGIC = b"ROWS"
_RECORD_HEAD = struct.Struct("<4sQI")  # magic, row count, crc32 of the payload
_FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


# ---------------------------------------------------------------------------------------------
# safetensors headers, written and read here so that tables can be streamed and memory-mapped.

_ST_DTYPES: dict[str, np.dtype[Any]] = {
    "U8": np.dtype("u1"),
    "U16": np.dtype("<u2"),
    "F16": np.dtype("<f2"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
}
_ST_NAMES = {dtype: name for name, dtype in _ST_DTYPES.items()}
_MAX_HEADER = 100 * 1024 * 1024  # safetensors' own limit on the JSON header


@dataclass(frozen=True)
class _TensorInfo:
    """Where a tensor lies in a safetensors file: dtype, shape and absolute byte offset."""

    dtype: np.dtype[Any]
    shape: tuple[int, ...]
    offset: int

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize


def _safetensors_header(
    tensors: Mapping[str, tuple[np.dtype[Any], tuple[int, ...]]], metadata: Mapping[str, str]
) -> tuple[bytes, dict[str, int]]:
    """The 8-byte length, the JSON header (space-padded to a multiple of 8), and each tensor's
    absolute data offset; tensors are laid out in the mapping's order, without gaps."""
    entries: dict[str, Any] = {"__metadata__": dict(metadata)}
    relative: dict[str, int] = {}
    position = 0
    for name, (dtype, shape) in tensors.items():
        size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        entries[name] = {
            "dtype": _ST_NAMES[dtype.newbyteorder("<") if dtype.itemsize > 1 else dtype],
            "shape": [int(n) for n in shape],
            "data_offsets": [position, position + size],
        }
        relative[name] = position
        position += size
    text = json.dumps(entries, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    start = 8 + len(text)
    return struct.pack("<Q", len(text)) + text, {k: start + v for k, v in relative.items()}


def _read_safetensors_header(path: Path) -> tuple[dict[str, _TensorInfo], dict[str, str]]:
    """The tensors and metadata of the safetensors file ``path``, checked against its size.

    Raises:
        VectorFormatError: not safetensors, a dtype other than U8/U16/F16/F32/F64, or a tensor
            that does not fit in the file; the message names the file.
    """
    name = path.name
    size = path.stat().st_size
    with open(path, "rb") as stream:
        prefix = stream.read(8)
        if len(prefix) < 8:
            raise VectorFormatError(
                f"{name}: {size} bytes is too short for a safetensors file (8-byte header length)"
            )
        (length,) = struct.unpack("<Q", prefix)
        if length > min(size - 8, _MAX_HEADER):
            raise VectorFormatError(
                f"{name}: the header length {length} exceeds the {size - 8} bytes that follow "
                f"it; the file is truncated or not safetensors"
            )
        raw = stream.read(length)
    try:
        header = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise VectorFormatError(f"{name}: the safetensors header is not valid JSON") from err
    if not isinstance(header, dict):
        raise VectorFormatError(f"{name}: the safetensors header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise VectorFormatError(f"{name}: __metadata__ must map names to strings")
    begin = 8 + length
    tensors: dict[str, _TensorInfo] = {}
    for key, entry in header.items():
        dtype = _ST_DTYPES.get(entry.get("dtype")) if isinstance(entry, dict) else None
        if dtype is None:
            raise VectorFormatError(
                f"{name}: tensor {key!r} has dtype "
                f"{entry.get('dtype') if isinstance(entry, dict) else entry!r}; supported: "
                f"{', '.join(_ST_DTYPES)}"
            )
        shape, offsets = entry.get("shape"), entry.get("data_offsets")
        if not isinstance(shape, list) or not all(_is_count(n) for n in shape):
            raise VectorFormatError(f"{name}: tensor {key!r} has a bad shape {shape!r}")
        info = _TensorInfo(dtype, tuple(shape), begin + (offsets[0] if offsets else 0))
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(_is_count(n) for n in offsets)
            or offsets[1] - offsets[0] != info.nbytes
            or begin + offsets[1] > size
        ):
            raise VectorFormatError(
                f"{name}: tensor {key!r} of shape {shape} needs {info.nbytes} bytes, but its "
                f"data_offsets are {offsets!r} in a data section of {size - begin} bytes; the "
                f"file is truncated or corrupt"
            )
        tensors[key] = info
    return tensors, metadata


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _map_tensor(path: Path, info: _TensorInfo, mode: str) -> np.ndarray[Any, Any]:
    """``info``'s tensor of ``path`` as a ``numpy.memmap`` (``"r"`` or ``"r+"``); an empty
    tensor (which ``mmap`` cannot map) as a plain empty array."""
    if info.nbytes == 0:
        empty = np.zeros(info.shape, dtype=info.dtype)
        empty.flags.writeable = mode != "r"
        return empty
    return np.memmap(path, dtype=info.dtype, mode=mode, offset=info.offset, shape=info.shape)


# ---------------------------------------------------------------------------------------------
# Array files


def _check_dtype(dtype: DTypeLike) -> np.dtype[Any]:
    resolved = np.dtype(dtype)
    if resolved not in _FLOAT_DTYPES:
        raise WeightDTypeError(f"a table on disk is float16, float32 or float64, got {resolved}")
    return resolved


def _write_array_file(
    path: Path,
    shape: tuple[int, ...],
    dtype: np.dtype[Any],
    fill: float | str | NDArray[Any],
    *,
    rng: np.random.Generator | None = None,
    padding_idx: int | None = None,
) -> None:
    """Write a one-tensor safetensors file atomically, streaming it in row chunks.

    ``fill`` is a constant (0 leaves a sparse file: the bytes are never written), ``"normal"``
    (N(0, 1) from ``rng``, drawn in row order as :class:`embtable.Embedding` draws it) or an
    array of ``shape``. The ``padding_idx`` row of a ``"normal"`` table is zero.
    """
    from .io._atomic import atomic_file

    header, offsets = _safetensors_header(
        {"weight": (dtype, shape)}, {"format": _FORMAT, "version": str(_VERSION)}
    )
    rows, tail = shape[0], shape[1:]
    total = offsets["weight"] + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    little = dtype.newbyteorder("<")
    with atomic_file(path, compression="none") as out:
        out.write(header)
        if isinstance(fill, (int, float)) and float(fill) == 0.0:
            out.truncate(total)
            return
        draw = np.float64 if dtype == np.float64 else np.float32
        for start in range(0, rows, _CHUNK_ROWS):
            stop = min(start + _CHUNK_ROWS, rows)
            if isinstance(fill, str):
                assert rng is not None
                block = rng.standard_normal((stop - start, *tail), dtype=draw).astype(little)
                if padding_idx is not None and start <= padding_idx < stop:
                    block[padding_idx - start] = 0
            elif isinstance(fill, np.ndarray):
                block = np.ascontiguousarray(fill[start:stop], dtype=little)
            else:
                block = np.full((stop - start, *tail), fill, dtype=little)
            out.write(block.data)
    _drop_cached_pages(path)


def _drop_cached_pages(path: Path) -> None:
    """Evict the (clean, just fsynced) pages of ``path`` from the page cache when the file is
    larger than a quarter of this machine's memory.

    A file written sequentially sits in the page cache in large folios (up to 2 MiB on Linux
    6.x with ext4 or xfs). Writing one 512-byte row of such a folio through the mapping marks
    the whole folio dirty: a checkpoint after a step over 2000 scattered rows of a 0.5 GiB
    table wrote all of its 484 MiB back, and for a table larger than RAM the dirty folios also
    throttle the steps. With the pages evicted, rows fault back in as single pages and the same
    checkpoint writes 8.8 MiB. A smaller table keeps its pages: reading it back row by row
    would cost more than rewriting it whole at a checkpoint. Without ``posix_fadvise`` (or
    ``sysconf``) this does nothing.
    """
    advice = getattr(os, "POSIX_FADV_DONTNEED", None)
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return
    if advice is None or path.stat().st_size <= memory // 4:
        return
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(descriptor, 0, 0, advice)
    finally:
        os.close(descriptor)


def _map_file(path: Path, mode: str, expected: tuple[tuple[int, ...], np.dtype[Any]]) -> Any:
    """Map the ``"weight"`` tensor of ``path`` (``"r+"``, or ``"c"`` copy-on-write)."""
    tensors, _ = _read_safetensors_header(path)
    info = tensors.get("weight")
    shape, dtype = expected
    if info is None or info.shape != shape or info.dtype != dtype.newbyteorder("<"):
        found = "none" if info is None else f"{info.dtype} {list(info.shape)}"
        raise VectorFormatError(
            f"{path.name}: expected a 'weight' tensor of {dtype} {list(shape)} (from "
            f"{MANIFEST_FILE}), found {found}"
        )
    array = _map_tensor(path, info, mode)
    _advise_random(array)
    return array


def _advise_random(array: Any) -> None:
    """Tell the kernel that ``array``'s mapping is read at random (``MADV_RANDOM``).

    A page fault on a file mapping otherwise reads the pages around it too (the device's
    read-ahead window, 128 KiB to 8 MiB): for scattered rows of a table larger than RAM that
    multiplies the bytes read from disk by up to 2048 and fills the page cache with rows nobody
    asked for. Without ``madvise`` (not Linux or macOS) this does nothing.
    """
    mapping = getattr(array, "_mmap", None)  # numpy.memmap keeps its mmap.mmap there
    advice = getattr(mmap, "MADV_RANDOM", None)
    if mapping is not None and advice is not None:
        mapping.madvise(advice)


def _fsync_path(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# ---------------------------------------------------------------------------------------------
# Optimizer state layouts: which arrays each row-sparse optimizer keeps, and their start value.


def _state_layout(optimizer: Any, group: Mapping[str, Any]) -> tuple[dict[str, float], bool]:
    """``({state name: initial value}, whether the state counts steps)`` for ``optimizer``.

    Raises:
        OptionError: SGD with momentum (its buffer is a sparse array over every row ever
            touched, which has no fixed place on disk).
        OptionTypeError: an optimizer that is not one of :mod:`embtable.optim`'s.
    """
    from . import optim

    if isinstance(optimizer, optim.SGD):
        if group["momentum"] != 0:
            raise OptionError(
                f"SGD(momentum={group['momentum']}) keeps a momentum buffer over every row ever "
                f"touched, which cannot live on disk; use momentum=0, Adagrad or SparseAdam"
            )
        return {}, False
    if isinstance(optimizer, (optim.Adagrad, optim.RowwiseAdagrad)):
        return {"sum": float(group["initial_accumulator_value"])}, True
    if isinstance(optimizer, optim.SparseAdam):
        return {"exp_avg": 0.0, "exp_avg_sq": 0.0}, True
    if isinstance(optimizer, optim.Adam):  # and AdamW
        layout = {"exp_avg": 0.0, "exp_avg_sq": 0.0}
        if group["amsgrad"]:
            layout["max_exp_avg_sq"] = 0.0
        return layout, True
    raise OptionTypeError(
        f"a table on disk trains with embtable.optim's SGD, Adagrad, RowwiseAdagrad, Adam, AdamW "
        f"or SparseAdam, got {type(optimizer).__name__}"
    )


# Optimizers whose state arrays hold one value per row, shape (V,), rather than the table's.
_PER_ROW_STATE = ("RowwiseAdagrad",)


def _state_shape(optimizer_class: str, table: tuple[int, int]) -> tuple[int, ...]:
    """The shape of each state array of the optimizer named ``optimizer_class``."""
    return table[:1] if optimizer_class in _PER_ROW_STATE else table


# ---------------------------------------------------------------------------------------------
# The undo log


def _undo_header(epoch: int, names: list[str]) -> bytes:
    listing = json.dumps(names).encode("utf-8")
    return _UNDO_MAGIC + struct.pack("<IQI", _VERSION, epoch, len(listing)) + listing


def _read_undo(path: Path) -> tuple[int, list[str], Any] | None:
    """``(epoch, array names, open file positioned at the first record)`` or ``None`` when
    ``path`` is missing or is not an undo log (a torn header: nothing was journaled)."""
    try:
        stream = open(path, "rb")  # returned to the caller, who closes it
    except FileNotFoundError:
        return None
    fixed = stream.read(len(_UNDO_MAGIC) + 16)
    if len(fixed) < len(_UNDO_MAGIC) + 16 or not fixed.startswith(_UNDO_MAGIC):
        stream.close()
        return None
    version, epoch, size = struct.unpack("<IQI", fixed[len(_UNDO_MAGIC) :])
    listing = stream.read(size)
    if version != _VERSION or len(listing) < size:
        stream.close()
        return None
    return epoch, json.loads(listing), stream


def _row_width(array: NDArray[Any]) -> int:
    """How many values one row of ``array`` holds (1 for a per-row state array)."""
    return int(np.prod(array.shape[1:], dtype=np.int64))


def _replay_undo(stream: Any, arrays: list[NDArray[Any]]) -> int:
    """Write the pre-images of every complete record back into ``arrays``; return the number of
    rows restored. A record that is short or fails its checksum ends the log: it was being
    written when the process died, before any of its rows changed."""
    restored = 0
    widths = [_row_width(array) for array in arrays]
    while True:
        head = stream.read(_RECORD_HEAD.size)
        if len(head) < _RECORD_HEAD.size:
            return restored
        magic, count, checksum = _RECORD_HEAD.unpack(head)
        sizes = [count * w * array.dtype.itemsize for array, w in zip(arrays, widths, strict=True)]
        payload = stream.read(count * 8 + sum(sizes))
        if magic != _RECORD_MAGIC or len(payload) < count * 8 + sum(sizes):
            return restored
        if zlib.crc32(payload) != checksum:
            return restored
        rows = np.frombuffer(payload, "<i8", count)
        position = count * 8
        for array, width, size in zip(arrays, widths, sizes, strict=True):
            block = np.frombuffer(payload, array.dtype, count * width, position)
            array[rows] = block.reshape((count, *array.shape[1:]))
            position += size
        restored += int(count)


# ---------------------------------------------------------------------------------------------
# Creating and opening


def _manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")


def create_table(
    path: str | os.PathLike[str],
    num_embeddings: int,
    embedding_dim: int,
    *,
    dtype: DTypeLike = np.float32,
    init: Literal["normal", "zeros"] | ArrayLike = "normal",
    rng: int | np.random.Generator | None = None,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    journal: bool = True,
) -> DiskEmbedding:
    """Create a table directory on disk and open it read-write.

    The directory is built beside ``path`` and swapped in whole, so a kill leaves no half
    table. ``init="zeros"`` writes a sparse file (instant, whatever the size); ``"normal"``
    draws N(0, 1) in chunks of 65536 rows (the same numbers as ``Embedding(..., rng=rng)``), and
    an array is copied in (e.g. pre-trained vectors, or a ``numpy.memmap``).

    Args:
        path: the directory to create (it must not exist).
        num_embeddings, embedding_dim: the table's size ``(V, D)``.
        dtype: float16, float32 or float64.
        init: ``"normal"``, ``"zeros"`` or a ``(V, D)`` array.
        rng: seed or generator for ``"normal"``.
        padding_idx, max_norm, norm_type, scale_grad_by_freq: the layer's options, saved in
            the manifest.
        journal: keep the undo log (see the module docstring).

    Returns:
        The table opened with ``mode="r+"`` (see :func:`open_table`).

    Raises:
        OutputError: ``path`` exists, or cannot be written.
        ShapeError: a negative size, or an ``init`` array of another shape.
        WeightDTypeError: a dtype that is not float16/32/64.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "t"
        >>> emb = create_table(path, 5, 3, rng=0)
        >>> emb
        DiskEmbedding('t', 5, 3, sparse=True)
        >>> bool(np.array_equal(emb.weight.data, Embedding(5, 3, rng=0).weight.data))
        True
        >>> emb.close()
    """
    from .io._atomic import atomic_directory, atomic_write_bytes, check_output
    from .layers import _check_size, _make_generator

    rows = _check_size(num_embeddings, "num_embeddings")
    dim = _check_size(embedding_dim, "embedding_dim")
    resolved = _check_dtype(dtype)
    from .functional import check_max_norm, check_padding_idx

    pad = check_padding_idx(padding_idx, rows)
    if max_norm is not None:
        check_max_norm(max_norm, norm_type)
    fill: float | str | NDArray[Any]
    generator = None
    if isinstance(init, str):
        if init not in ("normal", "zeros"):
            raise OptionError(f"init must be 'normal', 'zeros' or an array, got {init!r}")
        fill = 0.0 if init == "zeros" else "normal"
        generator = _make_generator(rng) if init == "normal" else None
    else:
        fill = np.asanyarray(init)
        if fill.shape != (rows, dim):
            raise ShapeError(f"init must have the table's shape {(rows, dim)}, got {fill.shape}")
    target = Path(path)
    if target.exists() or target.is_symlink():
        raise OutputError(
            errno.EEXIST,
            f"cannot create a table at {os.fspath(target)!r}: it exists; open it with "
            f"open_table, or remove it first",
        )
    check_output(target, "directory")
    manifest = {
        "format": _FORMAT,
        "version": _VERSION,
        "num_embeddings": rows,
        "embedding_dim": dim,
        "dtype": resolved.name,
        "padding_idx": pad,
        "max_norm": max_norm,
        "norm_type": float(norm_type),
        "scale_grad_by_freq": bool(scale_grad_by_freq),
        "checkpoint": 0,
        "epoch": 0,
        "optimizer": None,
        "metadata": {},
    }
    with atomic_directory(target) as staging:
        _write_array_file(
            staging / WEIGHTS_FILE, (rows, dim), resolved, fill, rng=generator, padding_idx=pad
        )
        atomic_write_bytes(staging / MANIFEST_FILE, _manifest_bytes(manifest))
        atomic_write_bytes(staging / UNDO_FILE, _undo_header(0, ["weight"]))
    return open_table(target, mode="r+", journal=journal)


def open_table(
    path: str | os.PathLike[str], mode: Literal["r+", "r"] = "r+", *, journal: bool = True
) -> DiskEmbedding:
    """Open a table directory written by :func:`create_table`, memory-mapped.

    With ``mode="r+"`` the weight (and, after :meth:`DiskEmbedding.attach`, the optimizer
    state) is the mapped file itself, and any changes since the last checkpoint are rolled
    back first (see the module docstring). With ``mode="r"`` the mapping is copy-on-write and
    frozen (``requires_grad=False``): lookups only, the files are never written.

    Raises:
        FileNotFoundError: no manifest at ``path``.
        VectorFormatError: a malformed manifest or table file, naming it.
        OutputError: another process has the table open read-write.
        OptionError: a mode other than ``"r+"`` or ``"r"``.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "t"
        >>> create_table(path, 4, 2, init=np.arange(8.0).reshape(4, 2)).close()
        >>> with open_table(path, mode="r") as emb:
        ...     emb(np.array([3]))
        array([[6., 7.]], dtype=float32)
    """
    if mode not in ("r+", "r"):
        raise OptionError(f"mode must be 'r+' (read-write) or 'r' (read-only), got {mode!r}")
    return DiskEmbedding._open(Path(path), mode, journal)


def _read_manifest(root: Path) -> dict[str, Any]:
    path = root / MANIFEST_FILE
    from .io._atomic import check_input_file

    check_input_file(path)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise VectorFormatError(f"{path}: not a valid JSON manifest ({err})") from err
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
        raise VectorFormatError(f"{path}: not an embtable on-disk table manifest")
    if manifest.get("version") != _VERSION:
        raise VectorFormatError(
            f"{path}: on-disk table version {manifest.get('version')!r}; this embtable reads "
            f"version {_VERSION}"
        )
    for key in ("num_embeddings", "embedding_dim", "checkpoint", "epoch"):
        if not _is_count(manifest.get(key)):
            raise VectorFormatError(f"{path}: {key!r} must be an integer >= 0")
    if manifest.get("dtype") not in [d.name for d in _FLOAT_DTYPES]:
        raise VectorFormatError(f"{path}: dtype {manifest.get('dtype')!r} is not a float dtype")
    return manifest


class DiskEmbedding(Embedding):
    """An :class:`~embtable.Embedding` whose table (and optimizer state) are memory-mapped
    files, with crash-consistent checkpoints. Made by :func:`open_table` and
    :func:`create_table`; the module docstring describes the files and the undo log.

    It is a full ``Embedding`` (``sparse=True``): ``forward``, ``backward`` into a
    :class:`~embtable.RowSparseGrad`, and any optimizer of :mod:`embtable.optim` stepping it.

    Example:
        >>> import tempfile, pathlib
        >>> from embtable.optim import SparseAdam
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "t"
        >>> with create_table(path, 100, 8, rng=0) as emb:
        ...     opt = SparseAdam(emb.parameters(), lr=0.01)
        ...     emb.attach(opt)
        ...     for step in range(3):
        ...         emb.backward([1, 5, 5], np.ones((3, 8), np.float32))
        ...         opt.step()
        ...         opt.zero_grad()
        ...     emb.checkpoint(metadata={"epoch": 1})
        1
        >>> for name in sorted(p.name for p in path.iterdir()):
        ...     print(name)
        manifest.json
        optim.exp_avg.safetensors
        optim.exp_avg_sq.safetensors
        undo.log
        weights.safetensors
    """

    path: Path
    mode: str

    @classmethod
    def _open(cls, root: Path, mode: str, journal: bool) -> DiskEmbedding:
        manifest = _read_manifest(root)
        lock = os.open(root, os.O_RDONLY)
        try:
            fcntl.flock(lock, (fcntl.LOCK_EX if mode == "r+" else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock)
            raise OutputError(
                errno.EBUSY,
                f"the table {os.fspath(root)!r} is open read-write in another process (or "
                f"read-only, for mode='r+'); close it there first",
            ) from None
        try:
            return cls._map(root, mode, journal, manifest, lock)
        except BaseException:
            os.close(lock)
            raise

    @classmethod
    def _map(
        cls, root: Path, mode: str, journal: bool, manifest: dict[str, Any], lock: int
    ) -> DiskEmbedding:
        shape = (manifest["num_embeddings"], manifest["embedding_dim"])
        dtype = np.dtype(manifest["dtype"])
        map_mode = "r+" if mode == "r+" else "c"
        weight = _map_file(root / WEIGHTS_FILE, map_mode, (shape, dtype))
        states: dict[str, Any] = {}
        optimizer = manifest.get("optimizer")
        state_shape = _state_shape((optimizer or {}).get("class", ""), shape)
        for name in (optimizer or {}).get("state", []):
            states[name] = _map_file(
                root / f"{_STATE_PREFIX}{name}.safetensors", map_mode, (state_shape, dtype)
            )
        self = cls.__new__(cls)
        Embedding.__init__(
            self,
            shape[0],
            shape[1],
            manifest.get("padding_idx"),
            manifest.get("max_norm"),
            manifest.get("norm_type", 2.0),
            manifest.get("scale_grad_by_freq", False),
            True,
            _weight=np.asarray(weight),
            _freeze=mode == "r",
        )
        self.path = root
        self.mode = mode
        self._manifest = manifest
        self._lock = lock
        self._maps = {"weight": weight, **states}
        self._optimizer: Any = None
        self._journal_on = bool(journal) and mode == "r+"
        self._undo_fd = -1
        self._undo_names = ["weight"]
        self._saved = np.zeros(shape[0], dtype=bool)
        self._fds: dict[str, int] = {}  # read-only descriptors for prefetch, opened on first use
        self._recover()
        return self

    # -- the undo log ---------------------------------------------------------------------------

    def _recover(self) -> None:
        """Roll the files back to the last checkpoint with the undo log, then start a new log."""
        found = _read_undo(self.path / UNDO_FILE)
        if found is not None:
            epoch, names, stream = found
            with stream:
                if epoch == self._manifest["epoch"]:
                    missing = [name for name in names if name not in self._maps]
                    if missing:
                        raise VectorFormatError(
                            f"{self.path / UNDO_FILE}: journals the arrays {names}, but the "
                            f"table has no {missing}"
                        )
                    arrays = [self._maps[name] for name in names]
                    if _replay_undo(stream, arrays) and self.mode == "r+":
                        self._sync()
        if self.mode == "r+":
            self._start_log(self._manifest["epoch"])

    def _start_log(self, epoch: int) -> None:
        from .io._atomic import atomic_write_bytes

        if self._undo_fd >= 0:
            os.close(self._undo_fd)
            self._undo_fd = -1
        self._undo_names = list(self._maps)
        atomic_write_bytes(self.path / UNDO_FILE, _undo_header(epoch, self._undo_names))
        self._undo_fd = os.open(self.path / UNDO_FILE, os.O_WRONLY | os.O_APPEND)
        self._saved[:] = False

    def _journal(self, rows: NDArray[np.integer]) -> None:
        """Save the current bytes of ``rows`` (weight and state) before a step changes them."""
        if not self._journal_on or rows.size == 0:
            return
        rows = np.asarray(rows, dtype=np.int64)
        rows = np.unique(rows[~self._saved[rows]])
        arrays = [self._maps[name] for name in self._undo_names]
        for start in range(0, len(rows), _CHUNK_ROWS):
            chunk = rows[start : start + _CHUNK_ROWS]
            parts = [chunk.astype("<i8").tobytes()]
            parts += [np.ascontiguousarray(array[chunk]).tobytes() for array in arrays]
            payload = b"".join(parts)
            record = _RECORD_HEAD.pack(_RECORD_MAGIC, len(chunk), zlib.crc32(payload)) + payload
            view = memoryview(record)
            while view:
                written = os.write(self._undo_fd, view)
                view = view[written:]
        if len(rows):
            os.fdatasync(self._undo_fd)
            self._saved[rows] = True

    # -- training -------------------------------------------------------------------------------

    def forward(self, ids: ArrayLike) -> NDArray[Any]:
        """Look up ``ids``; with ``max_norm`` the renormalised rows are journaled first.

        Example:
            >>> import tempfile, pathlib
            >>> path = pathlib.Path(tempfile.mkdtemp()) / "t"
            >>> with create_table(path, 4, 2, init=np.arange(8.0).reshape(4, 2)) as emb:
            ...     emb.forward(np.array([[3, 0]]))
            array([[[6., 7.],
                    [0., 1.]]], dtype=float32)
        """
        if self.max_norm is not None and self._journal_on:
            from .functional import check_ids

            flat, _ = check_ids(ids, self.num_embeddings)
            self._journal(flat)
        return super().forward(ids)

    def prefetch(self, ids: ArrayLike) -> int:
        """Ask the kernel to start reading the rows ``ids`` of the table and of its optimizer
        state from disk, and return at once (``posix_fadvise(WILLNEED)`` on their pages).

        For a table larger than RAM a lookup waits for each row that is not in the page cache,
        one disk read after another. Prefetching the next batch's ids before working on the
        current one lets the device read them all at the same time, while this process
        computes. The result never changes; rows already in memory cost a look-up each.

        Returns:
            The number of pages asked for (a row that straddles two pages counts both).

        Raises:
            IndexError: an id outside ``[0, num_embeddings)`` (as a lookup raises it).

        Example:
            >>> import tempfile, pathlib
            >>> path = pathlib.Path(tempfile.mkdtemp()) / "t"
            >>> with create_table(path, 100_000, 128, init="zeros") as emb:
            ...     emb.prefetch(np.array([[5, 99_990], [5, 6]]))  # rows 5 and 6 share a page
            ...     emb.prefetch(np.array([99_999]))  # this row straddles two pages
            2
            2
        """
        from .functional import check_ids

        flat, _ = check_ids(ids, self.num_embeddings)
        advice = getattr(os, "POSIX_FADV_WILLNEED", None)
        rows = np.unique(flat)
        if advice is None or rows.size == 0:
            return 0
        page = mmap.PAGESIZE
        asked = 0
        for name, array in self._maps.items():
            if not isinstance(array, np.memmap):
                continue
            width = _row_width(array) * array.dtype.itemsize
            first = (array.offset + rows * width) // page
            pages = np.union1d(first, (array.offset + (rows + 1) * width - 1) // page)
            breaks = np.flatnonzero(np.diff(pages) != 1) + 1
            starts = pages[np.r_[0, breaks]]
            lengths = np.diff(np.r_[0, breaks, len(pages)])
            descriptor = self._fds.get(name)
            if descriptor is None:
                descriptor = os.open(self.path / _file_name(name), os.O_RDONLY)
                self._fds[name] = descriptor
            for start, length in zip(starts.tolist(), lengths.tolist(), strict=True):
                os.posix_fadvise(descriptor, start * page, length * page, advice)
            asked += len(pages)
        return asked

    def backward(self, ids: ArrayLike, grad_output: ArrayLike) -> None:
        """Accumulate the row-sparse gradient (as :meth:`Embedding.backward`), then journal
        its rows: the rows the next optimizer step changes.

        Example:
            >>> import tempfile, pathlib
            >>> with create_table(pathlib.Path(tempfile.mkdtemp()) / "t", 10, 2) as emb:
            ...     emb.backward(np.array([4, 1, 4]), np.ones((3, 2), np.float32))
            ...     emb.weight.grad.rows, emb.weight.grad.values
            (array([1, 4]), array([[1., 1.],
                   [2., 2.]], dtype=float32))
        """
        super().backward(ids, grad_output)
        grad = self.weight.grad
        if isinstance(grad, RowSparseGrad):
            self._journal(grad.rows)
        elif grad is not None:  # a dense gradient (sparse was turned off): every row
            self._journal(np.arange(self.num_embeddings, dtype=np.int64))

    def attach(self, optimizer: Any) -> None:
        """Give ``optimizer`` this table's state as mapped files (created on first use).

        The state files live beside the table; their step count comes from the manifest (for a
        table larger than RAM use :meth:`make_optimizer`: ``Adagrad`` allocates its whole
        state when it is built). The
        optimizer's hyper-parameters are its own (the manifest records those of the last
        checkpoint). Attach before the first step; do not ``load_state_dict`` afterwards (it
        would copy the state into memory).

        Raises:
            OptionError: the table's optimizer state belongs to another optimizer, the
                optimizer does not hold this table's weight, or it already has state for it;
                SGD with momentum.
            FrozenWeightError: the table is open read-only.

        Example:
            >>> import tempfile, pathlib
            >>> from embtable.optim import SparseAdam
            >>> with create_table(pathlib.Path(tempfile.mkdtemp()) / "t", 10, 2) as emb:
            ...     opt = SparseAdam(emb.parameters(), lr=0.01)
            ...     emb.attach(opt)
            ...     sorted(p.name for p in emb.path.glob("optim.*"))
            ['optim.exp_avg.safetensors', 'optim.exp_avg_sq.safetensors']
        """
        if self.mode != "r+":
            raise FrozenWeightError(
                f"the table {os.fspath(self.path)!r} is open read-only (mode='r'); open it with "
                f"mode='r+' to train it"
            )
        group = (
            next(
                (g for g in optimizer.param_groups if any(p is self.weight for p in g["params"])),
                None,
            )
            if hasattr(optimizer, "param_groups")
            else None
        )
        if group is None:
            raise OptionError(
                "the optimizer does not hold this table's weight; build it with emb.parameters()"
            )
        layout, stepped = _state_layout(optimizer, group)
        saved = self._manifest.get("optimizer")
        kind = type(optimizer).__name__
        if saved is not None and (saved["class"] != kind or saved["state"] != list(layout)):
            raise OptionError(
                f"the table's optimizer state is {saved['class']} {saved['state']}; got {kind} "
                f"with state {list(layout)}. Open a fresh table, or use {saved['class']}"
            )
        existing = optimizer.state.get(self.weight) or {}
        if existing.get("step", 0) or existing.get("momentum_buffer") is not None:
            raise OptionError(
                "the optimizer already has state for this table (it stepped before attach); "
                "attach right after building the optimizer"
            )
        shape = _state_shape(kind, (self.num_embeddings, self.embedding_dim))
        for name, start in layout.items():
            file = self.path / f"{_STATE_PREFIX}{name}.safetensors"
            if name not in self._maps:
                _write_array_file(file, shape, self.weight.dtype, start)
                self._maps[name] = _map_file(file, "r+", (shape, self.weight.dtype))
        state: dict[str, Any] = {}
        if stepped:
            state["step"] = int((saved or {}).get("step") or 0)
        state.update({name: np.asarray(self._maps[name]) for name in layout})
        optimizer.state[self.weight] = state
        self._optimizer = optimizer
        self._manifest["optimizer"] = {
            "class": kind,
            "state": list(layout),
            "step": state.get("step"),
            "hyperparameters": _plain(group),
        }
        if list(self._maps) != self._undo_names:
            self._commit(None, count=False)  # a new epoch whose log journals the state too

    def make_optimizer(self, optimizer_class: type, **options: Any) -> Any:
        """Build ``optimizer_class(self.parameters(), **options)`` and :meth:`attach` it, without
        ever allocating its state in memory.

        ``Adagrad`` (like torch's) allocates ``state["sum"]`` for every row in its constructor:
        as large as the table, which for a table larger than RAM cannot be allocated. This builds
        the optimizer over a zero-row placeholder, then gives its (only) param group this
        table's weight and attaches the mapped state.

        Example:
            >>> import tempfile, pathlib
            >>> from embtable.optim import Adagrad
            >>> with create_table(pathlib.Path(tempfile.mkdtemp()) / "t", 10, 2) as emb:
            ...     opt = emb.make_optimizer(Adagrad, lr=0.1)
            ...     sorted(opt.state[emb.weight])
            ['step', 'sum']
        """
        from .parameter import Parameter

        placeholder = Parameter(np.empty((0, self.embedding_dim), dtype=self.weight.dtype))
        optimizer = optimizer_class([placeholder], **options)
        optimizer.state.pop(placeholder, None)
        optimizer.param_groups[0]["params"] = [self.weight]
        self.attach(optimizer)
        return optimizer

    # -- durability -----------------------------------------------------------------------------

    def _sync(self) -> None:
        for name, array in self._maps.items():
            if isinstance(array, np.memmap):
                array.flush()
            _fsync_path(self.path / _file_name(name))

    def flush(self) -> None:
        """Write the changed pages of the weight and state back to their files (msync and
        fsync). Not a checkpoint: the next open still rolls back to the last one.

        Example:
            >>> import tempfile, pathlib
            >>> with create_table(pathlib.Path(tempfile.mkdtemp()) / "t", 3, 2) as emb:
            ...     emb.flush()
        """
        if self.mode == "r+":
            self._sync()

    def checkpoint(self, *, metadata: Mapping[str, Any] | None = None) -> int:
        """Make the current weight and optimizer state the table's durable state.

        Args:
            metadata: JSON-serialisable settings kept in the manifest (e.g. the epoch), read
                back with :attr:`metadata`.

        Returns:
            The checkpoint counter (1 for the first checkpoint).

        Raises:
            FrozenWeightError: the table is open read-only.
            OptionError: the attached optimizer's state arrays were replaced (e.g. by
                ``load_state_dict``), so they no longer live on disk.

        Example:
            >>> import tempfile, pathlib
            >>> from embtable.optim import SGD
            >>> path = pathlib.Path(tempfile.mkdtemp()) / "t"
            >>> emb = create_table(path, 10, 2, init="zeros")
            >>> opt = emb.make_optimizer(SGD, lr=1.0)
            >>> emb.backward(np.array([2]), np.ones((1, 2), np.float32))
            >>> opt.step()
            >>> emb.checkpoint(metadata={"epoch": 1})
            1
            >>> emb.close(checkpoint=False)
            >>> with open_table(path, mode="r") as again:
            ...     again.checkpoints, again.metadata, again(np.array([2]))
            (1, {'epoch': 1}, array([[-1., -1.]], dtype=float32))
        """
        if self.mode != "r+":
            raise FrozenWeightError(
                f"cannot checkpoint {os.fspath(self.path)!r}: it is open read-only (mode='r')"
            )
        return self._commit(metadata, count=True)

    def _commit(self, metadata: Mapping[str, Any] | None, *, count: bool) -> int:
        """Steps 1-3 of a checkpoint (module docstring); ``count`` bumps the counter."""
        from .io._atomic import atomic_write_bytes

        manifest = dict(self._manifest)
        if self._optimizer is not None:
            state = self._optimizer.state.get(self.weight, {})
            for name in manifest["optimizer"]["state"]:
                value = state.get(name)
                if not (
                    isinstance(value, np.ndarray) and np.shares_memory(value, self._maps[name])
                ):
                    raise OptionError(
                        f"the optimizer's state {name!r} is no longer the mapped file (was "
                        f"load_state_dict called after attach?); re-open the table and attach"
                    )
            group = next(
                g
                for g in self._optimizer.param_groups
                if any(p is self.weight for p in g["params"])
            )
            manifest["optimizer"] = {
                **manifest["optimizer"],
                "step": state.get("step"),
                "hyperparameters": _plain(group),
            }
        if metadata is not None:
            try:
                json.dumps(dict(metadata))
            except TypeError as err:
                raise OptionTypeError(
                    f"checkpoint metadata must be JSON-serialisable: {err}"
                ) from err
            manifest["metadata"] = dict(metadata)
        self._sync()
        manifest["checkpoint"] += int(count)
        manifest["epoch"] += 1
        atomic_write_bytes(self.path / MANIFEST_FILE, _manifest_bytes(manifest))
        self._manifest = manifest
        self._start_log(manifest["epoch"])
        return int(manifest["checkpoint"])

    @property
    def checkpoints(self) -> int:
        """How many checkpoints the table has had (0 right after :func:`create_table`)."""
        return int(self._manifest["checkpoint"])

    @property
    def metadata(self) -> dict[str, Any]:
        """The metadata of the last checkpoint."""
        return dict(self._manifest.get("metadata") or {})

    def close(self, *, checkpoint: bool = True) -> None:
        """Checkpoint (``mode="r+"``, unless ``checkpoint=False``: then the next open rolls
        back to the last checkpoint), unmap the files and release the lock.

        Example:
            >>> import tempfile, pathlib
            >>> from embtable.optim import SGD
            >>> path = pathlib.Path(tempfile.mkdtemp()) / "t"
            >>> emb = create_table(path, 10, 2, init="zeros")
            >>> emb.weight.data[5] = 1.0      # by hand: not journaled, not checkpointed
            >>> emb.close()                   # checkpoints: the change is kept
            >>> emb = open_table(path)
            >>> opt = emb.make_optimizer(SGD, lr=1.0)
            >>> emb.backward(np.array([5]), np.ones((1, 2), np.float32))
            >>> opt.step()
            >>> emb.close(checkpoint=False)   # the step rolls back on the next open
            >>> with open_table(path, mode="r") as again:
            ...     again(np.array([5]))
            array([[1., 1.]], dtype=float32)
        """
        if self._lock < 0:
            return
        try:
            if self.mode == "r+" and checkpoint:
                self.checkpoint()
        finally:
            if self._undo_fd >= 0:
                os.close(self._undo_fd)
                self._undo_fd = -1
            for descriptor in self._fds.values():
                os.close(descriptor)
            self._fds = {}
            self._maps = {}
            self._optimizer = None
            os.close(self._lock)
            self._lock = -1

    def __enter__(self) -> DiskEmbedding:
        return self

    def __exit__(self, kind: Any, value: Any, traceback: Any) -> None:
        """Close; checkpoint only when the block ended without an exception."""
        self.close(checkpoint=kind is None)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path.name!r}, {self.extra_repr()})"


def _file_name(array: str) -> str:
    """The file of the array ``array`` ("weight" or a state name) in a table directory."""
    return WEIGHTS_FILE if array == "weight" else f"{_STATE_PREFIX}{array}.safetensors"


def _plain(group: Mapping[str, Any]) -> dict[str, Any]:
    """A param group's JSON-representable hyper-parameters (no parameters)."""
    plain: dict[str, Any] = {}
    for key, value in group.items():
        if key == "params":
            continue
        if isinstance(value, tuple):
            value = list(value)
        try:
            json.dumps(value)
        except TypeError:
            value = repr(value)
        plain[key] = value
    return plain
