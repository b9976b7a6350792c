"""The one table of vectors formats: every reader, writer, sniffer and suffix embtable knows.

Format detection (:func:`detect_format`), :meth:`embtable.vectors.Vectors.load` and
:meth:`~embtable.vectors.Vectors.save`, and the command line (``--from``, ``--to``,
``--format``, the output name of ``convert``) all look formats up here, so a new format is one
:class:`FormatEntry` in :data:`FORMATS` plus its tests. Readers, writers, sniffers and peekers
are named by ``"module:function"`` and imported on first use, so the table costs nothing to
import and an entry may point to a module with heavy dependencies.

The contracts of the functions an entry names:

``reader(path, **options) -> (tokens, matrix)``
    ``options`` are those of :data:`READ_OPTIONS` that the entry lists in ``read_options``,
    passed only when the caller gave a value other than the default. A reader of a model that
    holds more than a matrix (fastText's subwords) may return a vectors object instead (with
    ``tokens`` and ``matrix`` attributes); :func:`read` passes it through.
``writer(path, tokens, matrix, **options)``
    ``options`` as ``write_options``; the writer must replace ``path`` atomically
    (:mod:`embtable.io._atomic`).
``sniffer(probe) -> bool``
    Whether the file or directory is in this format; ``probe`` is a
    :class:`embtable.io._detect.Probe` (the path, whether it is a directory, the first bytes
    decompressed). Sniffers are tried in table order and the first that claims a path wins.
``peeker(path) -> Summary``
    The shape and first tokens without reading every number (``embtable info``).

Example:
    >>> names()
    ('word2vec', 'word2vec-binary', 'glove', 'fasttext', 'fasttext-bin', 'embtable', 'projector', 'quantized')
    >>> [format_for_path(p) for p in ["v.bin", "v.vec", "v.txt.gz", "table"]]
    ['word2vec-binary', 'fasttext', 'word2vec', 'embtable']
    >>> get("glove").suffixes
    ('.txt',)
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._errors import OptionError, OptionTypeError

__all__ = [
    "COMPRESSION_SUFFIXES",
    "FORMATS",
    "READ_OPTIONS",
    "FormatEntry",
    "Summary",
    "as_pair",
    "check_output_name",
    "format_for_path",
    "get",
    "names",
    "peek",
    "read",
    "readable",
    "writable",
    "write",
]

#: Suffixes that compress a text or binary file (told by the magic bytes when reading).
COMPRESSION_SUFFIXES = (".gz", ".bz2")

#: Every option :func:`read` takes, with its default (a default value counts as not given).
READ_OPTIONS: dict[str, Any] = {
    "limit": None,
    "dtype": None,
    "progress": None,
    "duplicates": "error",
    "encoding": "utf-8",
    "unicode_errors": "strict",
    "mmap": False,
}

#: Every option :func:`write` takes, with its default: ``config`` (a table's
#: ``config.json``), ``vectors`` (the vectors object a reader returned, for a writer that
#: saves more than the matrix, e.g. a fastText model's subwords).
WRITE_OPTIONS: dict[str, Any] = {"config": None, "vectors": None}

_TEXT_OPTIONS = frozenset(
    {"limit", "dtype", "progress", "duplicates", "encoding", "unicode_errors"}
)


@dataclass(frozen=True)
class FormatEntry:
    """One vectors format.

    Attributes:
        name: what ``format=``, ``--from``, ``--to`` and ``--format`` call it.
        description: one line for help texts.
        reader, writer, sniffer, peeker: ``"module:function"`` (see the module docstring),
            or ``None`` when the format cannot be read, written, detected or peeked.
        suffixes: file-name endings that name this format (before a ``.gz``/``.bz2``), in
            lower case; when two entries share one, the first in the table is the default
            and the other is still accepted with an explicit format.
        directory: whether the format is a directory rather than a file.
        compressible: whether a ``.gz``/``.bz2`` suffix compresses the written file.
        read_options, write_options: the options of :data:`READ_OPTIONS` and
            :data:`WRITE_OPTIONS` that the reader and writer take.

    Example:
        >>> entry = get("word2vec")
        >>> entry.suffixes, entry.compressible, entry.directory
        (('.txt', '.vec'), True, False)
        >>> entry.reader
        'embtable.io.word2vec:read_word2vec_text'
    """

    name: str
    description: str
    reader: str | None = None
    writer: str | None = None
    sniffer: str | None = None
    peeker: str | None = None
    suffixes: tuple[str, ...] = ()
    directory: bool = False
    compressible: bool = False
    read_options: frozenset[str] = frozenset()
    write_options: frozenset[str] = frozenset()

    def function(self, role: str) -> Callable[..., Any]:
        """The function behind ``role`` (``"reader"``, ``"writer"``, ...), imported now.

        Raises:
            OptionError: the entry has no such function (e.g. a format that cannot be written).

        Example:
            >>> get("glove").function("reader").__name__
            'read_glove'
        """
        target = getattr(self, role)
        if target is None:
            verb = {"reader": "read", "writer": "written", "sniffer": "detected"}.get(role, role)
            raise OptionError(f"the {self.name!r} format cannot be {verb} by embtable")
        module, _, attribute = target.partition(":")
        return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class Summary:
    """What :func:`peek` tells of a vectors file or table without parsing its numbers.

    Attributes:
        rows: count of vectors (from a header, or lines counted).
        dim: vector dimension.
        dtype: the stored number type (e.g. ``"float32"``), or ``None`` for text.
        tokens: the first tokens (up to 10).
        source: how ``rows`` was found, e.g. ``"header"``, ``"lines counted"``.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "v.txt"
        >>> _ = path.write_text("2 3\\ncat 1 2 3\\ndog 4 5 6\\n")
        >>> summary = peek(path)
        >>> summary.rows, summary.dim, summary.tokens, summary.source
        (2, 3, ('cat', 'dog'), 'header')
    """

    rows: int
    dim: int
    dtype: str | None
    tokens: tuple[str, ...]
    source: str


FORMATS: tuple[FormatEntry, ...] = (
    FormatEntry(
        name="word2vec",
        description='word2vec text: a "V D" header, then "token n1 ... nD" lines',
        reader="embtable.io.word2vec:read_word2vec_text",
        writer="embtable.io.word2vec:write_word2vec_text",
        sniffer="embtable.io._detect:sniff_word2vec_text",
        peeker="embtable.io._peek:peek_word2vec_text",
        # fastText's .vec files are word2vec text byte for byte: either name fits either format.
        suffixes=(".txt", ".vec"),
        compressible=True,
        read_options=_TEXT_OPTIONS,
    ),
    FormatEntry(
        name="word2vec-binary",
        description='word2vec binary: a "V D" header, then token, space, D float32',
        reader="embtable.io.word2vec:read_word2vec_binary",
        writer="embtable.io.word2vec:write_word2vec_binary",
        sniffer="embtable.io._detect:sniff_word2vec_binary",
        peeker="embtable.io._peek:peek_word2vec_binary",
        suffixes=(".bin",),
        compressible=True,
        read_options=_TEXT_OPTIONS,
    ),
    FormatEntry(
        name="glove",
        description='GloVe text: "token n1 ... nD" lines, no header',
        reader="embtable.io.glove:read_glove",
        writer="embtable.io.glove:write_glove",
        sniffer="embtable.io._detect:sniff_glove",
        peeker="embtable.io._peek:peek_glove",
        suffixes=(".txt",),
        compressible=True,
        read_options=_TEXT_OPTIONS,
    ),
    FormatEntry(
        name="fasttext",
        description="fastText .vec text (word2vec text; detected as word2vec)",
        reader="embtable.io.fasttext:read_fasttext_vec",
        writer="embtable.io.fasttext:write_fasttext_vec",
        peeker="embtable.io._peek:peek_word2vec_text",
        suffixes=(".vec", ".txt"),
        compressible=True,
        read_options=_TEXT_OPTIONS,
    ),
    FormatEntry(
        name="fasttext-bin",
        description="a fastText .bin model: words and subword n-grams (vectors for unseen words)",
        reader="embtable.io.fasttext_bin:read_fasttext_bin",
        writer="embtable.io.fasttext_bin:write_fasttext_bin",
        sniffer="embtable.io.fasttext_bin:sniff_fasttext_bin",
        peeker="embtable.io.fasttext_bin:peek_fasttext_bin",
        suffixes=(".bin",),
        compressible=True,
        read_options=frozenset({"mmap", "unicode_errors"}),
        write_options=frozenset({"vectors"}),
    ),
    FormatEntry(
        name="embtable",
        description="an embtable table directory (weights.safetensors, vocab.json, config.json)",
        reader="embtable.io.tables:read_table_vectors",
        writer="embtable.io.tables:write_table_vectors",
        sniffer="embtable.io._detect:sniff_table",
        peeker="embtable.io._peek:peek_table",
        directory=True,
        # tables hold UTF-8 JSON and no repeated tokens: the text options have no effect
        read_options=frozenset({"mmap"}) | _TEXT_OPTIONS,
        write_options=frozenset({"config"}),
    ),
    FormatEntry(
        name="projector",
        description=(
            "a TensorBoard projector directory (tensors.tsv, metadata.tsv, projector_config.pbtxt)"
        ),
        reader="embtable.io.projector:read_projector",
        writer="embtable.io.projector:write_projector",
        sniffer="embtable.io.projector:sniff_projector",
        peeker="embtable.io.projector:peek_projector",
        directory=True,
        read_options=frozenset({"limit", "dtype", "duplicates"}),
    ),
    FormatEntry(
        name="quantized",
        description=(
            "an embtable quantized table directory (quantized.safetensors: int8/int4 rows in "
            "FBGEMM's layout, vocab.json, config.json); written by convert --quantize"
        ),
        reader="embtable.quantized:read_quantized_vectors",
        sniffer="embtable.quantized:sniff_quantized_table",
        peeker="embtable.quantized:peek_quantized_table",
        directory=True,
        read_options=_TEXT_OPTIONS,
    ),
)
"""The formats, in the order sniffers are tried, suffixes are matched and help lists them."""


def names() -> tuple[str, ...]:
    """The names of every format, in table order.

    Example:
        >>> "glove" in names()
        True
    """
    return tuple(entry.name for entry in FORMATS)


def readable() -> tuple[str, ...]:
    """The names of the formats embtable reads (the choices of ``--from``/``--format``).

    Example:
        >>> readable()[:2]
        ('word2vec', 'word2vec-binary')
    """
    return tuple(entry.name for entry in FORMATS if entry.reader is not None)


def writable() -> tuple[str, ...]:
    """The names of the formats embtable writes (the choices of ``convert --to``).

    Example:
        >>> "word2vec-binary" in writable()
        True
    """
    return tuple(entry.name for entry in FORMATS if entry.writer is not None)


def get(name: str) -> FormatEntry:
    """The entry of the format ``name``.

    Raises:
        OptionError: no format has that name; the message lists the names.

    Example:
        >>> get("word2vec-binary").suffixes
        ('.bin',)
        >>> get("npy")
        Traceback (most recent call last):
        ...
        embtable._errors.OptionError: format must be one of 'word2vec', 'word2vec-binary', 'glove', 'fasttext', 'fasttext-bin', 'embtable', 'projector', 'quantized', got 'npy'
    """
    for entry in FORMATS:
        if entry.name == name:
            return entry
    listed = ", ".join(repr(n) for n in names())
    raise OptionError(f"format must be one of {listed}, got {name!r}")


def _split_suffixes(path: str | os.PathLike[str]) -> tuple[str, str | None]:
    """``(format suffix, compression suffix)`` of a name, lower case (``""`` and ``None``
    when absent)."""
    name = Path(os.fspath(path)).name.lower()
    compression = next((s for s in COMPRESSION_SUFFIXES if name.endswith(s)), None)
    if compression is not None:
        name = name[: -len(compression)]
    return Path(name).suffix, compression


# A suffix that looks like a file type (".json", ".npy", ".csv"), not part of a directory
# name such as "glove.6B" or "run.2024-01".
_FILE_LIKE_SUFFIX = re.compile(r"\.[a-z][a-z0-9]{0,4}")


def format_for_path(path: str | os.PathLike[str]) -> str:
    """The format a name asks for when writing: its suffix (before ``.gz``/``.bz2``), or an
    embtable table directory for a name without a file suffix.

    The first entry of :data:`FORMATS` whose main (first) suffix it is wins, then the first
    that lists it at all: ``.txt`` is word2vec text, ``.bin`` word2vec binary, ``.vec``
    fastText text.

    Raises:
        OptionError: the name ends in a suffix that no format has (``out.json``: writing a
            directory of that name would surprise), or only in ``.gz``/``.bz2``.

    Example:
        >>> format_for_path("vectors.txt.bz2"), format_for_path("out/glove.6B")
        ('word2vec', 'embtable')
        >>> format_for_path("out.json")
        Traceback (most recent call last):
        ...
        embtable._errors.OptionError: cannot tell the format from the name 'out.json': no format has the suffix '.json' (suffixes: .txt word2vec, .bin word2vec-binary, .vec fasttext; no suffix: an embtable table directory); name the format
    """
    suffix, compression = _split_suffixes(path)
    for entry in sorted(FORMATS, key=lambda e: e.suffixes[:1] != (suffix,)):  # stable sort
        if suffix in entry.suffixes and (compression is None or entry.compressible):
            return entry.name
    if compression is None and not _FILE_LIKE_SUFFIX.fullmatch(suffix):
        return _default_directory_format()
    known = ", ".join(f"{s} {name}" for s, name in _suffix_owners().items())
    directory = _default_directory_format()
    if compression is not None and not suffix:
        problem = f"{compression} says how to compress, not which format"
    else:
        problem = f"no format has the suffix {suffix + (compression or '')!r}"
    raise OptionError(
        f"cannot tell the format from the name {Path(os.fspath(path)).name!r}: {problem} "
        f"(suffixes: {known}; no suffix: an {directory} table directory); name the format"
    )


def _default_directory_format() -> str:
    return next(entry.name for entry in FORMATS if entry.directory and entry.writer)


def _suffix_owners() -> dict[str, str]:
    """Each suffix and the format it names (its main owner first, as in format_for_path)."""
    owners: dict[str, str] = {}
    for entry in FORMATS:
        if entry.suffixes:
            owners.setdefault(entry.suffixes[0], entry.name)
    for entry in FORMATS:
        for suffix in entry.suffixes:
            owners.setdefault(suffix, entry.name)
    return owners


def check_output_name(path: str | os.PathLike[str], format: str) -> None:
    """Refuse an output name whose suffix names another format than ``format``.

    ``vectors.bin`` is fine for ``word2vec-binary`` (and for any other format listing
    ``.bin``), not for ``glove``; a ``.gz``/``.bz2`` suffix needs a compressible format; a
    directory format takes any name without a format's suffix.

    Raises:
        OptionError: naming the suffix, the format it names and the one asked for.

    Example:
        >>> check_output_name("v.txt", "glove")
        >>> check_output_name("v.bin", "glove")
        Traceback (most recent call last):
        ...
        embtable._errors.OptionError: the name 'v.bin' ends in '.bin', which names the 'word2vec-binary' format, not 'glove'; name the output with one of: .txt
    """
    entry = get(format)
    suffix, compression = _split_suffixes(path)
    shown = Path(os.fspath(path)).name
    if compression is not None and not entry.compressible:
        raise OptionError(
            f"the name {shown!r} ends in {compression!r}, but the {entry.name!r} format is "
            f"not compressed; drop {compression!r}"
        )
    owners = [
        e.name
        for e in sorted(FORMATS, key=lambda e: e.suffixes[:1] != (suffix,))
        if suffix and suffix in e.suffixes
    ]
    if owners and entry.name not in owners:
        wanted = ", ".join(entry.suffixes) if entry.suffixes else "no format's suffix"
        raise OptionError(
            f"the name {shown!r} ends in {suffix!r}, which names the {owners[0]!r} format, "
            f"not {entry.name!r}; name the output with one of: {wanted}"
        )


def _given(options: dict[str, Any], defaults: dict[str, Any], where: str) -> dict[str, Any]:
    """The options whose value is not the default; unknown option names are refused."""
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise OptionTypeError(
            f"{where} got unknown option(s) {', '.join(unknown)}; options: {', '.join(defaults)}"
        )
    given = {}
    for key, value in options.items():
        default = defaults[key]
        if value is default or (
            type(value) is type(default) and isinstance(value, (str, bool)) and value == default
        ):
            continue
        given[key] = value
    return given


def read(path: str | os.PathLike[str], format: str = "auto", **options: Any) -> Any:
    """Read a vectors file or table directory: ``(tokens, matrix)`` (or the vectors object
    of a format whose reader returns one, see the module docstring).

    Args:
        path: the file or directory.
        format: a name of :func:`readable`, or ``"auto"`` (:func:`detect_format`).
        **options: those of :data:`READ_OPTIONS` (``limit``, ``dtype``, ``progress``,
            ``duplicates``, ``encoding``, ``unicode_errors``, ``mmap``); an option the format
            does not take is refused unless it has its default value.

    Raises:
        OptionError: an unknown format, a bad ``limit``/``duplicates``, or an option the
            format does not take (``mmap=True`` with a text file).
        OptionTypeError: an unknown option name, or a non-floating ``dtype``.
        FileNotFoundError: ``path`` does not exist.
        OutputError: ``path`` is a FIFO, device or other non-regular file.
        VectorFormatError: the file is malformed (naming file and line or record).

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "v.txt"
        >>> _ = path.write_text("2 2\\na 1 0\\nb 0 1\\n")
        >>> read(path)
        (['a', 'b'], array([[1., 0.],
               [0., 1.]], dtype=float32))
        >>> read(path, mmap=True)
        Traceback (most recent call last):
        ...
        embtable._errors.OptionError: mmap=True needs an embtable table directory; 'word2vec' files are parsed into memory
    """
    from ._parse import check_duplicates_mode, check_limit, float_dtype

    if not isinstance(format, str):
        raise OptionTypeError(f"format must be a string, got {type(format).__name__}")
    if format != "auto" and format not in readable():
        listed = ", ".join(repr(n) for n in ("auto", *readable()))
        raise OptionError(f"format must be one of {listed}, got {format!r}")
    entry = None if format == "auto" else get(format)
    given = _given(options, READ_OPTIONS, "read()")
    check_duplicates_mode(options.get("duplicates", "error"))
    check_limit(options.get("limit"))
    if given.get("dtype") is not None:
        float_dtype(given["dtype"])
    if entry is None:
        from ._detect import detect_format

        entry = get(detect_format(path))
    refused = sorted(set(given) - entry.read_options)
    if refused:
        if "mmap" in refused:
            raise OptionError(
                f"mmap=True needs an embtable table directory; {entry.name!r} files are parsed "
                f"into memory"
            )
        raise OptionError(
            f"the {entry.name!r} format does not take the option(s) {', '.join(refused)}"
        )
    return entry.function("reader")(path, **given)


def as_pair(data: Any) -> tuple[list[str], NDArray[np.floating]]:
    """``(tokens, matrix)`` of what :func:`read` returned (a pair, or a vectors object).

    Example:
        >>> as_pair((["a"], np.ones((1, 2))))
        (['a'], array([[1., 1.]]))
    """
    if isinstance(data, tuple):
        return data
    return list(data.tokens), data.matrix


def write(
    path: str | os.PathLike[str],
    tokens: Sequence[str] | Any,
    matrix: ArrayLike,
    format: str | None = None,
    **options: Any,
) -> str:
    """Write vectors in ``format`` (default: :func:`format_for_path`); return the format.

    The name is checked against the format first (:func:`check_output_name`), then the output
    location (:func:`embtable.io._atomic.check_output`); the writer replaces the path
    atomically.

    Args:
        path: the file, or the directory of a directory format.
        tokens: one string per row (an :class:`embtable.text.Vocab` for ``"embtable"``).
        matrix: the ``(len(tokens), D)`` vectors.
        format: a name of :func:`writable`, or ``None`` to take it from ``path``'s name.
        **options: those of ``WRITE_OPTIONS`` (``config``, for ``"embtable"``).

    Raises:
        OptionError: an unknown or unwritable format, a name that names another format, an
            option the format does not take, or tokens the format cannot hold.
        ShapeError: ``matrix`` is not ``(len(tokens), D)``.
        OutputError: the output cannot be written; an old file or table stays as it was.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> write(folder / "v.bin", ["a"], np.ones((1, 2), np.float32))
        'word2vec-binary'
        >>> read(folder / "v.bin")
        (['a'], array([[1., 1.]], dtype=float32))
    """
    from ._atomic import check_output

    name = format_for_path(path) if format is None else format
    if not isinstance(name, str):
        raise OptionTypeError(f"format must be a string or None, got {type(name).__name__}")
    if name not in writable():
        listed = ", ".join(repr(n) for n in writable())
        raise OptionError(f"format must be one of {listed}, got {name!r}")
    entry = get(name)
    check_output_name(path, entry.name)
    given = _given(options, WRITE_OPTIONS, "write()")
    refused = sorted(set(given) - entry.write_options)
    if refused:
        owners = [e.name for e in FORMATS if set(refused) <= e.write_options]
        where = f"only with format={owners[0]!r}" if owners else "by no format"
        raise OptionError(f"{', '.join(refused)} is saved {where}, not {entry.name!r}")
    check_output(path, "directory" if entry.directory else "file")
    entry.function("writer")(path, tokens, matrix, **given)
    return entry.name


def peek(path: str | os.PathLike[str], format: str = "auto") -> Summary:
    """The shape and first tokens of a vectors file or table, without parsing its numbers.

    word2vec and fastText files answer from their header, GloVe files by counting lines,
    tables from the safetensors header and ``vocab.json``. Nothing is validated beyond what
    is read: :func:`read` checks a whole file.

    Raises:
        FileNotFoundError, OutputError, VectorFormatError: as :func:`read`.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "glove.txt"
        >>> _ = path.write_text("a 1 0\\nb 0 1\\n\\nc 1 1\\n")
        >>> peek(path)
        Summary(rows=3, dim=2, dtype=None, tokens=('a', 'b', 'c'), source='lines counted')
    """
    if format == "auto":
        from ._detect import detect_format

        format = detect_format(path)
    entry = get(format)
    if entry.peeker is None:
        tokens, matrix = as_pair(read(path, format=entry.name))
        return Summary(
            rows=int(matrix.shape[0]),
            dim=int(matrix.shape[1]),
            dtype=str(matrix.dtype),
            tokens=tuple(tokens[:10]),
            source="read in full",
        )
    return entry.function("peeker")(path)  # type: ignore[no-any-return]
