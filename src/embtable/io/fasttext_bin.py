"""fastText's ``.bin`` model format: reading and writing.

A model file is, in order (little-endian, as fastText writes it on x86 and ARM):

=====================  ============================================================================
field                  bytes
=====================  ============================================================================
magic, version         int32 793712314, int32 version (11 or 12; files before fastText 0.2 have
                       neither, and also lack the three fields marked *new* below)
args                   int32 dim, ws, epoch, minCount, neg, wordNgrams, loss (1 hs, 2 ns,
                       3 softmax, 4 ova), model (1 cbow, 2 skipgram, 3 supervised), bucket, minn,
                       maxn, lrUpdateRate; float64 t
dictionary             int32 size, nwords, nlabels; int64 ntokens; int64 pruneidx_size (*new*,
                       -1 unless pruned); ``size`` entries of word bytes, NUL, int64 count,
                       int8 type (0 word, 1 label), words first; ``pruneidx_size`` int32 pairs
quant_input (*new*)    bool: 1 for a quantized (``.ftz``) model
input matrix           int64 rows (``nwords + bucket``), int64 cols (``dim``), float32 data
qout (*new*)           bool
output matrix          int64 rows (``nwords``; ``nlabels`` for supervised models), int64 cols,
                       float32 data
=====================  ============================================================================

Version-11 supervised models use no character n-grams (fastText sets ``maxn = 0`` for them).
Quantized models (``.ftz``: product-quantized matrices with their codebooks, and a pruned
dictionary) are refused with a message saying so.

Reading is bounded: every count is checked against the bytes left in the file before anything
is allocated, and every error is a :class:`~embtable.VectorFormatError` naming the file and the
byte offset. Plain files are memory-mapped and the matrices copied out with one ``memcpy``
each; gzip/bzip2 files are decompressed into memory first.
"""

from __future__ import annotations

import mmap as mmap_module
import os
import struct
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._errors import OptionError, VectorFormatError
from ._atomic import atomic_file
from ._open import display_name, open_binary_read, open_regular

__all__ = [
    "FASTTEXT_MAGIC",
    "FASTTEXT_VERSION",
    "FastTextArgs",
    "FastTextModel",
    "peek_fasttext_bin",
    "read_fasttext_bin",
    "read_fasttext_model",
    "sniff_fasttext_bin",
    "write_fasttext_bin",
    "write_fasttext_model",
]

#: The first int32 of a fastText model file (fastText >= 0.2).
FASTTEXT_MAGIC = 793712314
#: The newest format version this module reads, and the one it writes.
FASTTEXT_VERSION = 12

_MAGIC_BYTES = struct.pack("<i", FASTTEXT_MAGIC)
_ARGS = struct.Struct("<12id")
_ARG_NAMES = (
    "dim",
    "ws",
    "epoch",
    "min_count",
    "neg",
    "word_ngrams",
    "loss",
    "model",
    "bucket",
    "minn",
    "maxn",
    "lr_update_rate",
    "t",
)
_LOSSES = {1: "hs", 2: "ns", 3: "softmax", 4: "ova"}
_MODELS = {1: "cbow", 2: "skipgram", 3: "supervised"}
_ENTRY_MIN_BYTES = 10  # an empty word: NUL, int64 count, int8 type
_WRITE_CHUNK = 1 << 24  # bytes per write of a matrix


@dataclass
class FastTextArgs:
    """The training arguments stored in a model's header (fastText's ``Args::save``).

    ``loss`` is 1 hs, 2 ns, 3 softmax, 4 ova; ``model`` is 1 cbow, 2 skipgram, 3 supervised.
    Defaults are fastText's for skipgram.

    Example:
        >>> FastTextArgs(dim=100).model_name, FastTextArgs(dim=100).loss_name
        ('skipgram', 'ns')
    """

    dim: int
    ws: int = 5
    epoch: int = 5
    min_count: int = 5
    neg: int = 5
    word_ngrams: int = 1
    loss: int = 2
    model: int = 2
    bucket: int = 2_000_000
    minn: int = 3
    maxn: int = 6
    lr_update_rate: int = 100
    t: float = 1e-4

    @property
    def model_name(self) -> str:
        return _MODELS.get(self.model, f"unknown ({self.model})")

    @property
    def loss_name(self) -> str:
        return _LOSSES.get(self.loss, f"unknown ({self.loss})")


@dataclass
class FastTextModel:
    """Everything a dense fastText ``.bin`` holds.

    Attributes:
        args: the header's :class:`FastTextArgs` (``args.maxn`` already 0 for a version-11
            supervised model, as fastText reads it).
        words: the ``nwords`` words, row order.
        labels: the labels of a supervised model (``__label__...``), empty otherwise.
        counts: ``(nwords + nlabels,)`` int64 occurrence counts, words then labels.
        ntokens: tokens seen in training.
        input_matrix: ``(nwords + bucket, dim)`` float32: word rows, then n-gram buckets.
        output_matrix: ``(nwords or nlabels, dim)`` float32, or ``None`` when not read.
        version: the file's format version (0 for a file without magic number).
        word_bytes: each word's raw bytes inside ``<`` ``>`` marks as ``(buffer, begins, ends)``,
            for hashing exactly what fastText hashed (set by the reader).

    Example:
        >>> from embtable.fasttext import FastTextVectors
        >>> vectors = FastTextVectors(["cat"], np.zeros((11, 4), np.float32), bucket=10)
        >>> model = vectors.to_model()
        >>> model.words, model.input_matrix.shape, model.args.dim
        (['cat'], (11, 4), 4)
    """

    args: FastTextArgs
    words: list[str]
    input_matrix: NDArray[np.float32]
    labels: list[str] = field(default_factory=list)
    counts: NDArray[np.int64] | None = None
    ntokens: int | None = None
    output_matrix: NDArray[np.float32] | None = None
    version: int = FASTTEXT_VERSION
    word_bytes: tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.int64]] | None = None


def sniff_fasttext_bin(head: Any) -> bool:
    """Whether a file's first bytes (or a registry ``Probe``'s ``head``) are a fastText
    model's: the magic number 793712314.

    Pre-0.2 models, which have no magic number, are not recognised (load them with
    ``format="fasttext-bin"``).

    Example:
        >>> sniff_fasttext_bin((793712314).to_bytes(4, "little") + (12).to_bytes(4, "little"))
        True
        >>> sniff_fasttext_bin(b"3 300\\n")
        False
    """
    head = getattr(head, "head", head)
    return bytes(head[:4]) == _MAGIC_BYTES


def peek_fasttext_bin(path: str | os.PathLike[str]) -> Any:
    """The registry's :class:`~embtable.io.registry.Summary` of a model: its word count and
    dimension from the header and its first 10 words, without reading the matrices.

    Raises:
        VectorFormatError: as :func:`read_fasttext_model`, for the parts read.

    Example:
        >>> import os, tempfile
        >>> from embtable.fasttext import FastTextVectors
        >>> vectors = FastTextVectors(["cat", "dog"], np.zeros((12, 4), np.float32), bucket=10)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     vectors.save_bin(os.path.join(folder, "model.bin"))
        ...     summary = peek_fasttext_bin(os.path.join(folder, "model.bin"))
        >>> summary.rows, summary.dim, summary.tokens
        (2, 4, ('cat', 'dog'))
    """
    from ..kernels import subword as kernels
    from .registry import Summary

    name = display_name(path)
    buffer, closer = _map_file(path)
    try:
        cursor = _Cursor(buffer, name)
        cursor.need(8, "the header")
        has_magic = struct.unpack_from("<i", buffer, 0)[0] == FASTTEXT_MAGIC
        cursor.position = 8 if has_magic else 0
        start = cursor.position
        args = FastTextArgs(
            **dict(zip(_ARG_NAMES, cursor.unpack(_ARGS, "the args header"), strict=True))
        )
        _check_args(cursor, args, start, has_magic)
        size, nwords, _ = cursor.unpack("<3i", "the dictionary sizes")
        cursor.unpack("<qq" if has_magic else "<q", "the dictionary counts")
        shown = max(0, min(10, nwords, size))
        data = np.frombuffer(buffer, dtype=np.uint8)
        begins, ends = np.empty(shown, np.int64), np.empty(shown, np.int64)
        counts, types = np.empty(shown, np.int64), np.empty(shown, np.int8)
        if kernels.scan_fasttext_entries(data, cursor.position, begins, ends, counts, types) < 0:
            raise cursor.error("truncated: the dictionary runs past the end of the file")
        words = tuple(
            bytes(data[b:e]).decode("utf-8", "backslashreplace")
            for b, e in zip(begins, ends, strict=True)
        )
        del data
        return Summary(
            rows=int(nwords),
            dim=int(args.dim),
            dtype="float32",
            tokens=words,
            source=f"header (fastText {args.model_name} model, version "
            f"{struct.unpack_from('<i', buffer, 4)[0] if has_magic else 0})",
        )
    finally:
        if closer is not None:
            try:
                closer.close()
            except BufferError:  # a traceback still holds a view: the map closes when freed
                pass


# ---------------------------------------------------------------------------------------------
# Reading


class _Cursor:
    """Reads little-endian fields from a byte buffer, raising a located error on truncation."""

    def __init__(self, data: Any, name: str) -> None:
        self.data = data
        self.size = len(data)
        self.name = name
        self.position = 0

    def error(self, message: str, position: int | None = None) -> VectorFormatError:
        at = self.position if position is None else position
        return VectorFormatError(f"{self.name}: byte {at}: {message}")

    def need(self, size: int, what: str) -> None:
        if size > self.size - self.position:
            raise self.error(
                f"truncated: {what} needs {size} bytes, only {self.size - self.position} are "
                f"left in the file of {self.size} bytes"
            )

    def unpack(self, fmt: str | struct.Struct, what: str) -> tuple[Any, ...]:
        layout = fmt if isinstance(fmt, struct.Struct) else struct.Struct(fmt)
        self.need(layout.size, what)
        values = layout.unpack_from(self.data, self.position)
        self.position += layout.size
        return values

    def flag(self, what: str) -> bool:
        (value,) = self.unpack("<B", what)
        if value > 1:
            raise self.error(f"{what} must be a bool (0 or 1), got {value}", self.position - 1)
        return bool(value)


def _check_args(cursor: _Cursor, args: FastTextArgs, start: int, magic: bool) -> None:
    def field_error(name: str, message: str) -> VectorFormatError:
        offset = start + 4 * _ARG_NAMES.index(name)
        hint = (
            ""
            if magic
            else (
                " (the file has no fastText magic number, so it was read as a pre-0.2 model; it is "
                "probably not a fastText model at all)"
            )
        )
        return cursor.error(f"args.{name}: {message}{hint}", offset)

    if not 1 <= args.dim <= 1 << 20:
        raise field_error("dim", f"expected 1..{1 << 20}, got {args.dim}")
    if args.loss not in _LOSSES:
        raise field_error("loss", f"expected 1..4 (hs, ns, softmax, ova), got {args.loss}")
    if args.model not in _MODELS:
        raise field_error("model", f"expected 1..3 (cbow, skipgram, supervised), got {args.model}")
    for name in ("bucket", "minn", "maxn", "ws", "epoch", "neg", "word_ngrams"):
        if getattr(args, name) < 0:
            raise field_error(name, f"must be >= 0, got {getattr(args, name)}")


def _map_file(path: str | os.PathLike[str]) -> tuple[Any, Any]:
    """``(buffer, closer)``: the file's bytes (mapped when plain, decompressed when not)."""
    with open_regular(path) as raw:
        head = raw.read(3)
        size = os.fstat(raw.fileno()).st_size
        if head[:2] == b"\x1f\x8b" or head == b"BZh":
            pass
        elif size == 0:
            return b"", None
        else:
            mapped = mmap_module.mmap(raw.fileno(), 0, access=mmap_module.ACCESS_READ)
            return mapped, mapped
    with open_binary_read(path) as stream:
        return stream.read(), None


def read_fasttext_model(
    path: str | os.PathLike[str],
    *,
    output: bool = False,
    mmap: bool = False,
    unicode_errors: str = "strict",
) -> FastTextModel:
    """Read a dense fastText ``.bin`` model (skipgram, cbow or supervised; versions 11, 12 and
    the pre-0.2 format without magic number; plain, gzip or bzip2).

    Args:
        path: the file.
        output: also read the output matrix (needed only to write the model back for more
            training; it is checked either way).
        mmap: map the input matrix read-only from a plain file instead of copying it.
        unicode_errors: how to decode words that are not UTF-8 (``"strict"`` raises;
            ``"surrogateescape"`` keeps the bytes exactly, so hashes and writing back are
            unaffected; ``"replace"``...).

    Raises:
        VectorFormatError: not a fastText model, a truncated or malformed one, a quantized
            (``.ftz``) model, or a word that is not UTF-8; the message names the byte offset.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.bin"
        >>> model = FastTextModel(FastTextArgs(dim=2, bucket=4, minn=2, maxn=3),
        ...                       ["hi"], np.ones((5, 2), np.float32))
        >>> write_fasttext_model(path, model)
        >>> back = read_fasttext_model(path)
        >>> back.words, back.input_matrix.shape, back.args.bucket, back.version
        (['hi'], (5, 2), 4, 12)
    """
    name = display_name(path)
    buffer, closer = _map_file(path)
    try:
        return _parse(
            buffer,
            name,
            path,
            output=output,
            mmap=mmap and closer is not None,
            unicode_errors=unicode_errors,
        )
    finally:
        if closer is not None:
            try:
                closer.close()
            except BufferError:  # a traceback still holds a view: the map closes when freed
                pass


def _parse(
    buffer: Any,
    name: str,
    path: str | os.PathLike[str],
    *,
    output: bool,
    mmap: bool,
    unicode_errors: str,
) -> FastTextModel:
    from ..kernels import subword as kernels

    cursor = _Cursor(buffer, name)
    cursor.need(8, "the header")
    magic, version = struct.unpack_from("<ii", buffer, 0)
    has_magic = magic == FASTTEXT_MAGIC
    if has_magic:
        cursor.position = 8
        if version > FASTTEXT_VERSION:
            raise cursor.error(
                f"format version {version} is newer than {FASTTEXT_VERSION}, the newest this "
                f"reader knows",
                4,
            )
        if version < 0:
            raise cursor.error(f"format version must be >= 0, got {version}", 4)
    else:
        version = 0
    start = cursor.position
    values = cursor.unpack(_ARGS, "the args header")
    args = FastTextArgs(**dict(zip(_ARG_NAMES, values, strict=True)))
    _check_args(cursor, args, start, has_magic)
    if version == 11 and args.model == 3:
        args.maxn = 0  # fastText: "old supervised models do not use char ngrams"

    dict_start = cursor.position
    size, nwords, nlabels = cursor.unpack("<3i", "the dictionary sizes")
    (ntokens,) = cursor.unpack("<q", "the dictionary's token count")
    pruneidx_size = -1
    if has_magic:
        (pruneidx_size,) = cursor.unpack("<q", "the dictionary's pruning index size")
    if size < 0 or nwords < 0 or nlabels < 0 or nwords + nlabels != size:
        raise cursor.error(
            f"dictionary sizes are inconsistent: size {size}, nwords {nwords}, nlabels "
            f"{nlabels} (need size == nwords + nlabels, all >= 0)",
            dict_start,
        )
    if size * _ENTRY_MIN_BYTES > cursor.size - cursor.position:
        raise cursor.error(
            f"truncated or corrupt: {size} dictionary entries need at least "
            f"{size * _ENTRY_MIN_BYTES} bytes, only {cursor.size - cursor.position} are left",
            dict_start,
        )
    data = np.frombuffer(buffer, dtype=np.uint8)
    begins = np.empty(size, dtype=np.int64)
    ends = np.empty(size, dtype=np.int64)
    counts = np.empty(size, dtype=np.int64)
    types = np.empty(size, dtype=np.int8)
    after = kernels.scan_fasttext_entries(data, cursor.position, begins, ends, counts, types)
    if after < 0:
        entry = -1 - after
        raise cursor.error(
            f"truncated: dictionary entry {entry} of {size} runs past the end of the file",
            int(begins[entry]),
        )
    expected_types = np.zeros(size, dtype=np.int8)
    expected_types[nwords:] = 1
    wrong = np.flatnonzero(types != expected_types)
    if wrong.size:
        entry = int(wrong[0])
        raise cursor.error(
            f"dictionary entry {entry} has type {int(types[entry])}; expected "
            f"{int(expected_types[entry])} ({nwords} words, then {nlabels} labels)",
            int(ends[entry]) + 9,
        )
    negative = np.flatnonzero(counts < 0)
    if negative.size:
        entry = int(negative[0])
        raise cursor.error(
            f"dictionary entry {entry} has a negative count {int(counts[entry])}",
            int(ends[entry]) + 1,
        )
    cursor.position = after
    tokens = _decode_words(data, begins, ends, cursor, unicode_errors)
    if len(set(tokens)) != len(tokens):
        seen: dict[str, int] = {}
        for entry, token in enumerate(tokens):
            first = seen.setdefault(token, entry)
            if first != entry:
                raise cursor.error(
                    f"dictionary entries {first} and {entry} are both {token!r}",
                    int(begins[entry]),
                )
    if pruneidx_size > 0:
        if pruneidx_size > (cursor.size - cursor.position) // 8:
            raise cursor.error(
                f"truncated: the pruning index of {pruneidx_size} pairs needs "
                f"{8 * pruneidx_size} bytes, only {cursor.size - cursor.position} are left"
            )
        cursor.position += 8 * pruneidx_size

    quantized = cursor.flag("quant_input") if has_magic else False
    if quantized:
        raise cursor.error(
            "this is a quantized fastText model (.ftz, made by `fasttext quantize`): its input "
            "matrix is product-quantized (codebooks and codes) and its dictionary pruned; "
            "embtable reads dense models only, so use the .bin model it was quantized from",
            cursor.position - 1,
        )
    if pruneidx_size >= 0:
        raise cursor.error(
            f"the dictionary is pruned (pruneidx_size {pruneidx_size}) but the model is not "
            f"quantized; fastText itself refuses such files (fastText issue #332)",
            dict_start + 20,
        )
    input_matrix = _read_matrix(
        cursor,
        "input matrix",
        args.dim,
        nwords + args.bucket,
        f"nwords + bucket = {nwords} + {args.bucket}",
        copy=True,
        path=path if mmap else None,
    )
    if has_magic:
        cursor.flag("qout")
    output_rows = nlabels if args.model == 3 else nwords
    output_matrix = _read_matrix(
        cursor,
        "output matrix",
        args.dim,
        output_rows,
        "nlabels" if args.model == 3 else "nwords",
        copy=output,
        path=None,
    )
    if cursor.position != cursor.size:
        raise cursor.error(
            f"{cursor.size - cursor.position} unexpected bytes after the output matrix"
        )
    word_bytes = _marked_words(data, begins[:nwords], ends[:nwords])
    return FastTextModel(
        args=args,
        words=tokens[:nwords],
        labels=tokens[nwords:],
        counts=counts,
        ntokens=int(ntokens),
        input_matrix=input_matrix,  # type: ignore[arg-type]
        output_matrix=output_matrix,
        version=version,
        word_bytes=word_bytes,
    )


def _decode_words(
    data: NDArray[np.uint8],
    begins: NDArray[np.int64],
    ends: NDArray[np.int64],
    cursor: _Cursor,
    unicode_errors: str,
) -> list[str]:
    """Decode every entry's bytes in one call (NUL-separated), locating a bad word."""
    from ..kernels import subword as kernels

    if begins.size == 0:
        return []
    lengths = ends - begins
    out_begins = np.zeros(begins.size, dtype=np.int64)
    np.cumsum(lengths[:-1] + 1, out=out_begins[1:])
    blob = np.empty(int(out_begins[-1] + lengths[-1] + 1), dtype=np.uint8)
    kernels.copy_words(data, begins, ends, False, blob, out_begins)
    raw = blob[:-1].tobytes()
    try:
        text = raw.decode("utf-8", unicode_errors)
    except UnicodeDecodeError as err:
        entry = int(np.searchsorted(out_begins, err.start, side="right") - 1)
        at = int(begins[entry] + err.start - out_begins[entry])
        word = bytes(data[begins[entry] : ends[entry]])
        raise cursor.error(
            f"dictionary entry {entry} ({word[:40]!r}) is not valid UTF-8 ({err.reason}); pass "
            f"unicode_errors='surrogateescape' to keep its bytes exactly, or 'replace'",
            at,
        ) from None
    except LookupError as err:
        raise OptionError(f"unknown unicode_errors handler {unicode_errors!r}") from err
    return text.split("\x00")


def _marked_words(
    data: NDArray[np.uint8], begins: NDArray[np.int64], ends: NDArray[np.int64]
) -> tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.int64]]:
    """The words' raw bytes inside ``<`` ``>`` marks: ``(buffer, begins, ends)``."""
    from ..kernels import subword as kernels

    lengths = ends - begins + 2
    out_begins = np.zeros(begins.size, dtype=np.int64)
    if begins.size:
        np.cumsum(lengths[:-1] + 1, out=out_begins[1:])
    total = int(out_begins[-1] + lengths[-1] + 1) if begins.size else 0
    buffer = np.empty(total, dtype=np.uint8)
    kernels.copy_words(data, begins, ends, True, buffer, out_begins)
    return buffer, out_begins, out_begins + lengths


def _read_matrix(
    cursor: _Cursor,
    what: str,
    dim: int,
    rows: int,
    rows_rule: str,
    *,
    copy: bool,
    path: str | os.PathLike[str] | None,
) -> NDArray[np.float32] | None:
    start = cursor.position
    m, n = cursor.unpack("<2q", f"the {what}'s shape")
    if n != dim or m != rows:
        raise cursor.error(
            f"the {what} has shape ({m}, {n}); expected ({rows}, {dim}) from the header "
            f"(rows: {rows_rule}, cols: dim)",
            start,
        )
    cursor.need(4 * m * n, f"the {what} ({m} x {n} float32)")
    offset = cursor.position
    cursor.position += 4 * m * n
    if path is not None:
        return np.memmap(path, dtype="<f4", mode="r", offset=offset, shape=(m, n))
    if not copy:
        return None
    view = np.frombuffer(cursor.data, dtype="<f4", count=m * n, offset=offset)
    return view.astype(np.float32).reshape(m, n)


def read_fasttext_bin(
    path: str | os.PathLike[str],
    *,
    output: bool = False,
    mmap: bool = False,
    unicode_errors: str = "strict",
    **ignored: Any,
) -> Any:
    """Read a fastText ``.bin`` model as :class:`~embtable.fasttext.FastTextVectors` (word
    vectors, plus vectors for unseen words from their n-grams); arguments as
    :func:`read_fasttext_model`. Other keyword arguments of the registry's readers (``limit``,
    ``dtype``, ``progress``...) are not applicable to a model and must be left at their
    defaults.

    Raises:
        VectorFormatError: see :func:`read_fasttext_model`.
        OptionError: ``limit`` or ``dtype`` given.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.bin"
        >>> model = FastTextModel(FastTextArgs(dim=2, bucket=4, minn=2, maxn=3),
        ...                       ["hi"], np.ones((5, 2), np.float32))
        >>> write_fasttext_model(path, model)
        >>> read_fasttext_bin(path)
        FastTextVectors(1 words, dim=2, minn=2, maxn=3, bucket=4)
    """
    from ..fasttext import FastTextVectors

    for key, value in ignored.items():
        if key in ("limit", "dtype") and value is not None:
            raise OptionError(
                f"{key}={value!r} does not apply to a fastText .bin model (its matrix is "
                f"float32 and every word is needed for the n-gram rows)"
            )
    model = read_fasttext_model(path, output=output, mmap=mmap, unicode_errors=unicode_errors)
    return FastTextVectors.from_model(model)


# ---------------------------------------------------------------------------------------------
# Writing


def _write_matrix(
    out: IO[bytes], matrix: NDArray[np.floating] | None, shape: tuple[int, int]
) -> None:
    out.write(struct.pack("<2q", *shape))
    rows_per_chunk = max(1, _WRITE_CHUNK // max(4 * shape[1], 1))
    if matrix is None:
        zeros = bytes(4 * shape[1] * min(rows_per_chunk, shape[0]))
        for begin in range(0, shape[0], rows_per_chunk):
            count = min(rows_per_chunk, shape[0] - begin)
            out.write(zeros[: 4 * shape[1] * count])
        return
    for begin in range(0, shape[0], rows_per_chunk):
        chunk = np.ascontiguousarray(matrix[begin : begin + rows_per_chunk], dtype="<f4")
        out.write(memoryview(chunk).cast("B"))


def write_fasttext_model(path: str | os.PathLike[str], model: FastTextModel) -> None:
    """Write ``model`` as a version-12 fastText ``.bin`` (``.gz``/``.bz2`` names compressed).

    Without an output matrix, a zero one is written (fastText's and gensim's loaders need
    one; training continued from the file then starts its output layer from zero).

    Raises:
        OptionError: sizes that disagree (matrix shape vs words, bucket and dim), a word that
            holds NUL or cannot be encoded, or counts of the wrong length.

    Example:
        >>> import os, tempfile
        >>> from embtable.fasttext import FastTextVectors
        >>> model = FastTextVectors(["cat"], np.ones((11, 4), np.float32), bucket=10).to_model()
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     write_fasttext_model(os.path.join(folder, "model.bin"), model)
        ...     again = read_fasttext_model(os.path.join(folder, "model.bin"))
        >>> again.words, bool((again.input_matrix == 1).all())
        (['cat'], True)
    """
    args = model.args
    nwords, nlabels = len(model.words), len(model.labels)
    input_matrix = np.asarray(model.input_matrix)
    if input_matrix.shape != (nwords + args.bucket, args.dim):
        raise OptionError(
            f"the input matrix has shape {input_matrix.shape}; expected "
            f"({nwords + args.bucket}, {args.dim}) = (nwords + bucket, dim)"
        )
    output_rows = nlabels if args.model == 3 else nwords
    if model.output_matrix is not None and np.shape(model.output_matrix) != (output_rows, args.dim):
        raise OptionError(
            f"the output matrix has shape {np.shape(model.output_matrix)}; expected "
            f"({output_rows}, {args.dim})"
        )
    size = nwords + nlabels
    counts = (
        np.arange(size, 0, -1, dtype=np.int64)
        if model.counts is None
        else np.asarray(model.counts, dtype=np.int64).reshape(-1)
    )
    if counts.shape != (size,) or (counts < 0).any():
        raise OptionError(f"counts must hold {size} integers >= 0 (words, then labels)")
    ntokens = int(counts.sum()) if model.ntokens is None else int(model.ntokens)
    entries = []
    for index, token in enumerate([*model.words, *model.labels]):
        try:
            raw = token.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError as err:
            raise OptionError(f"token {index} {token!r} cannot be encoded as UTF-8") from err
        if b"\x00" in raw:
            raise OptionError(f"token {index} {token!r} holds NUL, which ends a word in .bin")
        entries.append(raw)
    types = np.zeros(size, dtype=np.uint8)
    types[nwords:] = 1
    with atomic_file(path) as out:
        out.write(struct.pack("<ii", FASTTEXT_MAGIC, FASTTEXT_VERSION))
        out.write(_ARGS.pack(*(getattr(args, name) for name in _ARG_NAMES)))
        out.write(struct.pack("<3iqq", size, nwords, nlabels, ntokens, -1))
        tails = [
            struct.pack("<qB", int(c), int(t)) for c, t in zip(counts.tolist(), types, strict=True)
        ]
        out.write(b"".join(raw + b"\x00" + tail for raw, tail in zip(entries, tails, strict=True)))
        out.write(b"\x00")  # quant_input
        _write_matrix(out, input_matrix, input_matrix.shape)  # type: ignore[arg-type]
        out.write(b"\x00")  # qout
        _write_matrix(out, model.output_matrix, (output_rows, args.dim))


def write_fasttext_bin(
    path: str | os.PathLike[str],
    tokens: Any,
    matrix: ArrayLike | None = None,
    **options: Any,
) -> None:
    """Write vectors as a fastText ``.bin`` model that fastText and gensim's
    ``load_facebook_model`` read.

    Args:
        path: the file.
        tokens: a token sequence with ``matrix``, or a vectors object: a
            :class:`~embtable.fasttext.FastTextVectors` (its subword model is written
            whole) or any :class:`~embtable.vectors.Vectors`;
            plain vectors become a model without n-grams (``bucket = 0``), whose unknown words
            have no vector.
        matrix: the rows when ``vectors`` is a token sequence.
        **options: ``vectors=`` a :class:`~embtable.fasttext.FastTextVectors` whose subword
            model to write whole (the registry's writers get ``(path, tokens, matrix)``; a
            caller holding the vectors object passes it here); no others.

    Raises:
        OptionError: an unknown option, or rows that do not match the tokens.

    Example:
        >>> import tempfile, pathlib
        >>> from embtable.vectors import Vectors
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "plain.bin"
        >>> write_fasttext_bin(path, Vectors(["a", "b"], np.eye(2, dtype=np.float32)))
        >>> read_fasttext_bin(path)["b"]
        array([0., 1.], dtype=float32)
    """
    from ..fasttext import FastTextVectors

    whole = options.pop("vectors", None)
    if options:
        raise OptionError(f"write_fasttext_bin takes no option {sorted(options)[0]!r}")
    if isinstance(whole, FastTextVectors):
        tokens, matrix = whole, None
    if isinstance(tokens, FastTextVectors):
        write_fasttext_model(path, tokens.to_model())
        return
    if matrix is None:
        tokens, rows = list(tokens.tokens), np.asarray(tokens.matrix)
    else:
        tokens, rows = list(tokens), np.asarray(matrix)
    if rows.ndim != 2 or rows.shape[0] != len(tokens):
        raise OptionError(f"matrix must have shape ({len(tokens)}, D), got {rows.shape}")
    args = FastTextArgs(dim=int(rows.shape[1]), bucket=0, minn=0, maxn=0, min_count=1)
    write_fasttext_model(path, FastTextModel(args, tokens, rows.astype(np.float32, copy=False)))
