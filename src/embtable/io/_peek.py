"""Shapes and first tokens of vectors files without parsing their numbers (``embtable info``).

The registry names these as its entries' ``peeker`` (:func:`embtable.io.registry.peek`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._errors import VectorFormatError
from . import _parse
from ._open import display_name, open_binary_read
from .registry import Summary

__all__ = ["peek_glove", "peek_table", "peek_word2vec_binary", "peek_word2vec_text"]

_SHOWN = 10  # first tokens shown
_CHUNK = 1 << 23


def _decode(token: bytes) -> str:
    return token.decode("utf-8", "replace")


def peek_word2vec_text(path: str | os.PathLike[str]) -> Summary:
    """The header's ``(rows, dim)`` and the first tokens of a word2vec text (or ``.vec``) file.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "v.txt"
        >>> _ = path.write_text("2 1\\na 0.5\\nb 1\\n")
        >>> peek_word2vec_text(path)
        Summary(rows=2, dim=1, dtype=None, tokens=('a', 'b'), source='header')
    """
    name = display_name(path)
    with open_binary_read(path) as stream:
        rows, dim = _parse.parse_header(stream.readline(_parse._MAX_HEADER_BYTES), name)
        tokens: list[str] = []
        line_no = 1
        while len(tokens) < min(rows, _SHOWN):
            line = stream.readline(_parse.MAX_LINE_BYTES + 1)
            line_no += 1
            if not line:
                break
            # a cut line would show its continuation as the next token: the parser's error
            _parse._check_line_length(len(line.rstrip(b"\r\n")), name, line_no)
            fields = line.split(maxsplit=1)
            if fields:
                tokens.append(_decode(fields[0]))
    return Summary(rows=rows, dim=dim, dtype=None, tokens=tuple(tokens), source="header")


def peek_word2vec_binary(path: str | os.PathLike[str]) -> Summary:
    """The header's ``(rows, dim)`` and the first tokens of a word2vec binary file.

    Example:
        >>> import tempfile, pathlib
        >>> from embtable.io import write_word2vec_binary
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "v.bin"
        >>> write_word2vec_binary(path, ["a", "b"], np.ones((2, 3), np.float32))
        >>> peek_word2vec_binary(path)
        Summary(rows=2, dim=3, dtype='float32', tokens=('a', 'b'), source='header')
    """
    name = display_name(path)
    with open_binary_read(path) as stream:
        rows, dim = _parse.parse_header(stream.readline(_parse._MAX_HEADER_BYTES), name)
        tokens: list[str] = []
        buf = b""
        for record in range(min(rows, _SHOWN)):
            searched = 0  # buf[:searched] holds no space
            while (space := buf.find(b" ", searched)) < 0:
                # reads that double with the token: linear in its length, not quadratic
                more = stream.read(max(4096, len(buf)))
                if not more or len(buf) > _parse.MAX_LINE_BYTES:
                    raise VectorFormatError(
                        f"{name}: record {record + 1} of {rows}: the file is truncated or not "
                        f"word2vec binary"
                    )
                searched = len(buf)
                buf += more
            token, buf = buf[:space], buf[space + 1 :]
            tokens.append(_decode(token.lstrip(b"\n")))
            skip = 4 * dim - len(buf)
            if skip > 0:
                skipped = stream.read(skip)
                if len(skipped) < skip:
                    raise VectorFormatError(
                        f"{name}: record {record + 1} of {rows}: the file is truncated"
                    )
                buf = b""
            else:
                buf = buf[4 * dim :]
    return Summary(rows=rows, dim=dim, dtype="float32", tokens=tuple(tokens), source="header")


def peek_glove(path: str | os.PathLike[str]) -> Summary:
    """Count the non-blank lines of a GloVe file and the fields of its first one.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "g.txt"
        >>> _ = path.write_text("a 1 2\\n \\nb 3 4")
        >>> peek_glove(path)
        Summary(rows=2, dim=2, dtype=None, tokens=('a', 'b'), source='lines counted')
    """
    name = display_name(path)
    rows = 0
    dim: int | None = None
    tokens: list[str] = []
    pending = b""
    line = 1
    with open_binary_read(path) as stream:
        while True:
            block = stream.read(_CHUNK)
            data = pending + block
            if block:
                cut = data.rfind(b"\n") + 1
                data, pending = data[:cut], data[cut:]
                if len(pending) > _parse.MAX_LINE_BYTES:
                    long_line = line + data.count(b"\n")
                    raise VectorFormatError(
                        f"{name}:{long_line}: the line is longer than "
                        f"{_parse.MAX_LINE_BYTES} bytes, embtable's maximum line length"
                    )
            if len(tokens) < _SHOWN:
                for text in data.splitlines()[: 4 * _SHOWN]:
                    fields = text.split()
                    if fields and len(tokens) < _SHOWN:
                        tokens.append(_decode(fields[0]))
                        if dim is None:
                            dim = len(fields) - 1
            rows += _count_filled_lines(data)
            line += data.count(b"\n")
            if not block:
                break
    if dim is None:
        raise VectorFormatError(f"{name}: the file is empty (it holds no vector line)")
    return Summary(rows=rows, dim=dim, dtype=None, tokens=tuple(tokens), source="lines counted")


def _count_filled_lines(data: bytes) -> int:
    """Lines of ``data`` holding a byte other than space, tab, CR and LF."""
    if not data:
        return 0
    buf = np.frombuffer(data, dtype=np.uint8)
    filled = (buf != 32) & (buf != 9) & (buf != 10) & (buf != 13)
    # count of filled bytes before each line end: a line is filled if it rises
    before = np.cumsum(filled, dtype=np.int32)[np.flatnonzero(buf == 10)]
    ends = np.concatenate(([0], before))
    total = int(np.count_nonzero(np.diff(ends)))
    tail = int(np.count_nonzero(filled)) - int(ends[-1])  # a last line without "\n"
    return total + (tail > 0)


def peek_table(directory: str | os.PathLike[str]) -> Summary:
    """A table's shape and dtype from its safetensors header, and its first tokens.

    Example:
        >>> import tempfile, pathlib
        >>> from embtable.io import save_table
        >>> tmp = pathlib.Path(tempfile.mkdtemp()) / "table"
        >>> save_table(tmp, np.ones((2, 3), np.float16), ["a", "b"])
        >>> peek_table(tmp)
        Summary(rows=2, dim=3, dtype='float16', tokens=('a', 'b'), source='safetensors header')
    """
    from ._open import open_regular
    from .tables import VOCAB_FILE, WEIGHTS_FILE, _read_safetensors_header, read_vocab_json

    root = Path(directory)
    with open_regular(root / WEIGHTS_FILE) as stream:
        dtype, shape, _ = _read_safetensors_header(stream, root / WEIGHTS_FILE)
    tokens = read_vocab_json(root / VOCAB_FILE)["tokens"]
    if len(tokens) != shape[0]:
        raise VectorFormatError(
            f"{VOCAB_FILE}: holds {len(tokens)} tokens, but {WEIGHTS_FILE} has {shape[0]} rows; "
            f"they must match"
        )
    return Summary(
        rows=shape[0],
        dim=shape[1],
        dtype=str(dtype.newbyteorder("=")),
        tokens=tuple(tokens[:_SHOWN]),
        source="safetensors header",
    )
