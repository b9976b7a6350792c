"""Tell a vectors file's format from its bytes (see :func:`detect_format`)."""

from __future__ import annotations

import os
import re
from typing import IO

from .._errors import VectorFormatError
from . import _parse
from ._open import open_binary_read
from ._parse import UTF8_BOM, display_name
from .fasttext import FASTTEXT_BIN_MAGIC
from .tables import WEIGHTS_FILE

__all__ = [
    "Probe",
    "detect_format",
    "sniff_glove",
    "sniff_table",
    "sniff_word2vec_binary",
    "sniff_word2vec_text",
]

_HEADER = re.compile(rb"\s*(\d+)\s+(\d+)\s*")
_TEXT_NUMBER_BYTES = b"0123456789+-.eEnaifNAIFtyTY \t\r"  # bytes of written numbers
_HEAD_BYTES = 1 << 16


class Probe:
    """What sniffers look at: a path, whether it is a directory, and its first bytes.

    ``head`` is the first 64 KiB, decompressed, without a UTF-8 BOM (empty for a directory).
    :meth:`first_record` reads further, as little as it can.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "v.txt"
        >>> _ = path.write_text("1 2\\ncat 0.5 1\\n")
        >>> with open_binary_read(path) as stream:
        ...     probe = Probe(path, stream)
        ...     probe.header, probe.first_record()
        (b'1 2\\n', b'cat 0.5 1')
    """

    def __init__(self, path: str | os.PathLike[str], stream: IO[bytes] | None) -> None:
        self.path = path
        self.is_dir = stream is None
        self._stream = stream
        self.raw_head = b"" if stream is None else stream.read(_HEAD_BYTES)
        self.head = self.raw_head.removeprefix(UTF8_BOM)
        newline = self.head.find(b"\n")
        first = self.head if newline < 0 else self.head[: newline + 1]
        #: the first line (with its ``\\n``) if it is a word2vec header ``"N D"``, else None
        self.header = first if first and _HEADER.fullmatch(first) else None
        self._record: bytes | None = None

    def first_record(self) -> bytes:
        """The first non-blank line after the header (without its ``\\n``), read as needed.

        Reading stops early at a byte that no written number holds after the token (one such
        byte already makes the record binary), and after ``MAX_LINE_BYTES``.
        """
        if self._record is None:
            assert self._stream is not None and self.header is not None
            self._record = _first_record_line(self.head[len(self.header) :], self._stream)
        return self._record


def sniff_table(probe: Probe) -> bool:
    """A directory holding ``weights.safetensors``."""
    return probe.is_dir and os.path.isfile(os.path.join(probe.path, WEIGHTS_FILE))


def sniff_word2vec_text(probe: Probe) -> bool:
    """A ``"N D"`` header followed by a text record (or by nothing)."""
    return probe.header is not None and _is_text_record(probe.first_record())


def sniff_word2vec_binary(probe: Probe) -> bool:
    """A ``"N D"`` header followed by a record that is not text."""
    return probe.header is not None and not _is_text_record(probe.first_record())


def sniff_glove(probe: Probe) -> bool:
    """No header, and no NUL byte in the first 64 bytes (text, not binary data)."""
    return (
        not probe.is_dir
        and bool(probe.head)
        and probe.header is None
        and b"\x00" not in probe.head[:64]
    )


def detect_format(path: str | os.PathLike[str]) -> str:
    """Tell the format of a vectors file or table directory.

    The sniffers of :data:`embtable.io.registry.FORMATS` are asked in table order; for the
    built-in formats the rule is:

    1. a directory is an embtable table (it must hold ``weights.safetensors``);
    2. a file whose first line is exactly two integers ``N D`` has a word2vec header. It is
       ``"word2vec"`` text (this covers fastText ``.vec`` too) if the first record's line (up
       to its ``\\n``) holds, after the token, only bytes of written numbers (digits, signs,
       ``.``, ``e``/``E``, ``nan``/``inf`` letters, spaces, tabs, ``\\r``); otherwise
       ``"word2vec-binary"``. (A text line with another count than ``D`` stays text, so the
       text reader names the line; a header without records reads as text too.) Random
       float32 bytes pass as text with odds below ``(30/256) ** (4 * D)``;
    3. anything else is ``"glove"`` (no header), unless its first 64 bytes hold a NUL byte;
       a GloVe file whose first line is a number token with a single number, e.g.
       ``"10 5"``, reads as a header: pass ``format="glove"`` then.

    A file no sniffer claims is refused: a fastText ``.bin`` model (its magic number), or
    binary data. Compressed files (gzip, bzip2) are looked into, and a leading UTF-8 BOM is
    skipped.

    Raises:
        FileNotFoundError: ``path`` does not exist, or a directory lacks ``weights.safetensors``.
        OutputError: ``path`` is a FIFO, device or socket (refused without blocking).
        VectorFormatError: ``path`` is a fastText ``.bin`` model or other binary data, empty,
            or a truncated or corrupt compressed file.

    Example:
        >>> import tempfile, pathlib
        >>> tmp = tempfile.TemporaryDirectory()
        >>> path = pathlib.Path(tmp.name) / "vectors.txt"
        >>> _ = path.write_text("2 1\\ncat 0.5\\ndog 1\\n")
        >>> detect_format(path)
        'word2vec'
        >>> _ = path.write_text("cat 0.5\\ndog 1\\n")
        >>> detect_format(path)
        'glove'
        >>> tmp.cleanup()
    """
    from .registry import FORMATS

    if os.path.isdir(path):
        return _sniff(Probe(path, None), FORMATS)
    with open_binary_read(path) as stream:
        probe = Probe(path, stream)
        if not probe.raw_head:
            raise VectorFormatError(f"{display_name(path)}: the file is empty")
        return _sniff(probe, FORMATS)


def _sniff(probe: Probe, formats: tuple) -> str:  # type: ignore[type-arg]
    for entry in formats:
        if entry.sniffer is not None and entry.function("sniffer")(probe):
            return str(entry.name)
    name = display_name(probe.path)
    if probe.is_dir:
        raise FileNotFoundError(
            f"{os.fspath(probe.path)!r} is a directory without {WEIGHTS_FILE}, so not an "
            f"embtable table"
        )
    names = [entry.name for entry in formats]
    hint = (
        "pass format='fasttext-bin'"
        if "fasttext-bin" in names
        else "load the .vec file that fastText writes next to it"
    )
    if probe.raw_head.startswith(FASTTEXT_BIN_MAGIC):
        raise VectorFormatError(
            f"{name}: this is a fastText .bin model, not a vectors file; {hint}"
        )
    raise VectorFormatError(
        f"{name}: binary data where a word2vec header or a GloVe line should start; if this "
        f"is a fastText .bin model, {hint}"
    )


def _first_record_line(data: bytes, stream: IO[bytes]) -> bytes:
    """The first non-blank line after the header (without its ``\n``), read as needed.

    Reading stops early at a byte that no written number holds after the token, since one
    such byte already makes the record binary.
    """
    data = data.lstrip(b" \t\r\n")
    while not data:
        more = stream.read(1 << 16)
        if not more:
            return b""
        data = more.lstrip(b" \t\r\n")
    checked = 0  # data[:checked] is known to hold no line break
    token_end: int | None = None
    while True:
        newline = data.find(b"\n", checked)
        if newline >= 0:
            return data[:newline]
        if len(data) > _parse.MAX_LINE_BYTES:
            return data  # as text: the text reader names the over-long line
        if token_end is None:
            token_end = _token_end(data)
        if token_end is not None and data[max(token_end, checked) :].translate(
            None, _TEXT_NUMBER_BYTES
        ):
            return data
        checked = len(data)
        # reads that double with the line (linear in a long token, not quadratic), up to
        # just past MAX_LINE_BYTES
        more = stream.read(max(1 << 16, min(len(data), _parse.MAX_LINE_BYTES + 1 - len(data))))
        if not more:
            return data
        data += more


def _token_end(line: bytes) -> int | None:
    """Where the first field of ``line`` ends (its first space or tab), or ``None``."""
    ends = [i for i in (line.find(b" "), line.find(b"\t")) if i >= 0]
    return min(ends) if ends else None


def _is_text_record(line: bytes) -> bool:
    if not line:
        return True  # no record at all: the text reader reports the missing vectors
    token_end = _token_end(line)
    if token_end is None:
        return False
    # Only number bytes: text. A count of fields other than ``dim`` still reads as text, so
    # that the text reader names the line and the counts, rather than the binary reader
    # misreading digits as float32 bytes.
    return not line[token_end:].translate(None, _TEXT_NUMBER_BYTES)
