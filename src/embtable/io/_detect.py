"""Tell a vectors file's format from its bytes (see :func:`detect_format`)."""

from __future__ import annotations

import os
import re
from typing import IO, Literal

from .._errors import VectorFormatError
from ._open import open_binary_read
from ._parse import UTF8_BOM, display_name
from .fasttext import FASTTEXT_BIN_MAGIC
from .tables import WEIGHTS_FILE

__all__ = ["detect_format"]

Format = Literal["word2vec", "word2vec-binary", "glove", "embtable"]
_HEADER = re.compile(rb"\s*(\d+)\s+(\d+)\s*")
_TEXT_NUMBER_BYTES = b"0123456789+-.eEnaifNAIFtyTY \t\r"  # bytes of written numbers


def detect_format(path: str | os.PathLike[str]) -> Format:
    """Tell the format of a vectors file or table directory.

    The rule, in order:

    1. a directory is an embtable table (it must hold ``weights.safetensors``);
    2. a file starting with fastText's ``.bin`` magic is refused (a model, not vectors);
    3. a file whose first line is exactly two integers ``N D`` has a word2vec header. It is
       ``"word2vec"`` text (this covers fastText ``.vec`` too) if the first record's line (up
       to its ``\n``) holds, after the token, only bytes of written numbers (digits, signs,
       ``.``, ``e``/``E``, ``nan``/``inf`` letters, spaces, tabs, ``\r``); otherwise
       ``"word2vec-binary"``. (A text line with another count than ``D`` stays text, so the
       text reader names the line; a header without records reads as text too.) Random
       float32 bytes pass as text with odds below ``(30/256) ** (4 * D)``;
    4. anything else is ``"glove"`` (no header), unless its first 64 bytes hold a NUL byte:
       binary data (e.g. an old fastText ``.bin`` model) is refused. A GloVe file whose first
       line is a number token with a single number, e.g. ``"10 5"``, reads as a header: pass
       ``format="glove"`` then.

    Compressed files (gzip, bzip2) are looked into, and a leading UTF-8 BOM is skipped.

    Raises:
        FileNotFoundError: ``path`` does not exist, or a directory lacks ``weights.safetensors``.
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
    if os.path.isdir(path):
        if not os.path.isfile(os.path.join(path, WEIGHTS_FILE)):
            raise FileNotFoundError(
                f"{os.fspath(path)!r} is a directory without {WEIGHTS_FILE}, so not an "
                f"embtable table"
            )
        return "embtable"
    with open_binary_read(path) as stream:
        head = stream.read(1 << 16)
        if not head:
            raise VectorFormatError(f"{display_name(path)}: the file is empty")
        if head.startswith(FASTTEXT_BIN_MAGIC):
            raise VectorFormatError(
                f"{display_name(path)}: this is a fastText .bin model, not a vectors file; "
                f"load the .vec file that fastText writes next to it"
            )
        head = head.removeprefix(UTF8_BOM)
        newline = head.find(b"\n")
        first = head if newline < 0 else head[: newline + 1]
        header = _HEADER.fullmatch(first)
        if header is None:
            if b"\x00" in head[:64]:
                raise VectorFormatError(
                    f"{display_name(path)}: binary data where a word2vec header or a GloVe "
                    f"line should start; if this is a fastText .bin model, load the .vec file "
                    f"that fastText writes next to it"
                )
            return "glove"
        record = _first_record_line(head[len(first) :], stream)
    return "word2vec" if _is_text_record(record) else "word2vec-binary"


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
    while True:
        newline = data.find(b"\n", checked)
        if newline >= 0:
            return data[:newline]
        token_end = _token_end(data)
        if token_end is not None and data[max(token_end, checked) :].translate(
            None, _TEXT_NUMBER_BYTES
        ):
            return data
        checked = len(data)
        more = stream.read(1 << 16)
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
