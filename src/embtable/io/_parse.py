"""Shared readers and writers behind the word2vec, GloVe and fastText modules.

The text reader parses whole blocks of lines at once: it finds the fields of every line with
NumPy on the raw bytes, checks that each line holds the expected count of numbers, blanks the
tokens out and hands the rest of the block to ``np.fromstring`` (C ``strtod``). Only when a block
fails does it go line by line, to name the file, line and field that is wrong.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Literal

import numpy as np
from numpy.typing import DTypeLike, NDArray

from .._errors import OptionError, OptionTypeError, ShapeError, VectorFormatError
from ._atomic import atomic_file
from ._open import display_name, is_compressed, reading_with_raw

__all__: list[str] = []

Duplicates = Literal["error", "first", "last"]
_DUPLICATE_MODES = ("error", "first", "last")
_CHUNK = 1 << 23  # 8 MiB blocks
#: The longest line (or binary token) the readers hold in memory; a longer one is a
#: VectorFormatError. 16 MiB holds about 1.5 million written float32 numbers.
MAX_LINE_BYTES = 1 << 24
_PROGRESS_MIN_BYTES = 1 << 26  # a bar for files of 64 MiB and more, when stderr is a terminal
_SPACE, _TAB, _LF, _CR = 32, 9, 10, 13
UTF8_BOM = b"\xef\xbb\xbf"
_MAX_HEADER_BYTES = 4096  # a word2vec header line is two integers
MAX_DIM = 1 << 24  # a larger header dimension is taken for a corrupt header
_GROW_ROWS_BYTES = 1 << 26  # compressed binary files: first 64 MiB of rows, then doubling


def check_duplicates_mode(duplicates: str) -> None:
    if not isinstance(duplicates, str) or duplicates not in _DUPLICATE_MODES:
        raise OptionError(f"duplicates must be one of 'error', 'first', 'last', got {duplicates!r}")


def float_dtype(dtype: DTypeLike) -> np.dtype:
    """Check that ``dtype`` is a floating dtype and return it."""
    try:
        result = np.dtype(dtype)
    except TypeError:
        raise OptionTypeError(
            f"dtype must be a floating dtype (float16, float32, float64), got {dtype!r}"
        ) from None
    if result.kind != "f" or result.itemsize not in (2, 4, 8):
        raise OptionTypeError(
            f"dtype must be a floating dtype (float16, float32, float64), got {result}"
        )
    return result


@contextmanager
def progress_bar(
    path: str | os.PathLike[str], progress: bool | None
) -> Iterator[Callable[[int], None]]:
    """Yield ``update(raw_position)``; draws a tqdm bar if asked, or for big files on a TTY."""
    total = os.path.getsize(path)
    if progress is None:
        progress = total >= _PROGRESS_MIN_BYTES and sys.stderr.isatty()
    if not progress:
        yield lambda position: None
        return
    from tqdm.auto import tqdm

    with tqdm(total=total, unit="B", unit_scale=True, desc=display_name(path), leave=False) as bar:
        state = [0]

        def update(position: int) -> None:
            bar.update(position - state[0])
            state[0] = position

        yield update


def resolve_duplicates(
    tokens: list[str],
    matrix: NDArray[np.floating],
    where: Callable[[int], str],
    duplicates: Duplicates,
) -> tuple[list[str], NDArray[np.floating]]:
    """Apply the duplicate rule: raise naming both places, or keep the first or last row."""
    first_row: dict[str, int] = {}
    repeated: list[int] = []
    for row, token in enumerate(tokens):
        if first_row.setdefault(token, row) != row:
            if duplicates == "error":
                raise VectorFormatError(
                    f"{where(row)}: duplicate token {token!r}, first seen at "
                    f"{where(first_row[token])}; pass duplicates='first' or 'last' to keep one"
                )
            repeated.append(row)
    if not repeated:
        return tokens, matrix
    if duplicates == "last":
        last_row: dict[str, int] = {}
        for row, token in enumerate(tokens):
            last_row[token] = row
        # each token keeps the position of its first occurrence and the vector of its last
        keep = np.array(sorted(first_row.values()), dtype=np.int64)
        source = np.array([last_row[tokens[row]] for row in keep], dtype=np.int64)
    else:
        keep = source = np.array(sorted(first_row.values()), dtype=np.int64)
    return [tokens[row] for row in keep], np.ascontiguousarray(matrix[source])


def parse_header(line: bytes, name: str) -> tuple[int, int]:
    """Parse a word2vec header ``"<count> <dimension>"`` (a leading UTF-8 BOM is skipped)."""
    if not line:
        raise VectorFormatError(f"{name}: the file is empty")
    line = line.removeprefix(UTF8_BOM)
    fields = line.split()
    count = dim = -1
    if len(fields) == 2 and all(field.isdigit() and len(field) <= 20 for field in fields):
        count, dim = int(fields[0]), int(fields[1])
    if count < 0 or dim < 1:
        shown = line.rstrip(b"\r\n")[:80].decode("utf-8", "replace")
        raise VectorFormatError(
            f"{name}:1: expected a header '<count> <dimension>' (two integers, dimension >= 1), "
            f"found {shown!r}; headerless files are GloVe format (format='glove')"
        )
    if dim > MAX_DIM:
        raise VectorFormatError(
            f"{name}:1: the header declares dimension {dim}, more than the {MAX_DIM} embtable "
            f"reads; the header is corrupt"
        )
    return count, dim


def _check_line_length(length: int, name: str, line: int) -> None:
    """Refuse a line (still without its end) longer than :data:`MAX_LINE_BYTES`."""
    if length > MAX_LINE_BYTES:
        raise VectorFormatError(
            f"{name}:{line}: the line is longer than {MAX_LINE_BYTES} bytes, embtable's "
            f"maximum line length; the file is not a vectors file, or is corrupt"
        )


def _bad_number(field: bytes, dtype: np.dtype) -> bool:
    try:
        return np.fromstring(field, dtype=dtype, sep=" ").size != 1
    except ValueError:
        return True


def _parse_dtype(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)


class _TextReader:
    """Block parser for ``token n1 n2 ... nD`` lines."""

    def __init__(
        self, name: str, dim: int | None, dtype: np.dtype, encoding: str, errors: str
    ) -> None:
        self.name = name
        self.dim = dim
        self.dtype = dtype
        self.parse_dtype = _parse_dtype(dtype)
        self.encoding = encoding
        self.errors = errors
        self.tokens: list[str] = []
        self.line_numbers: list[NDArray[np.int64]] = []
        self.blocks: list[NDArray[np.floating]] = []
        self.rows = 0

    def feed(self, data: bytes, first_line: int, room: int) -> bool:
        """Parse the complete lines in ``data``; its first line is line ``first_line``.

        At most ``room`` rows are taken; returns whether non-blank lines were left over.
        """
        if not data:
            return False
        buf = np.frombuffer(data, dtype=np.uint8)
        newlines = np.flatnonzero(buf == _LF)
        ends = newlines if data.endswith(b"\n") else np.append(newlines, buf.size)
        starts = np.concatenate(([0], newlines + 1))[: ends.size]
        is_space = (buf == _SPACE) | (buf == _TAB) | (buf == _LF) | (buf == _CR)
        field_start = ~is_space
        field_start[1:] &= is_space[:-1]
        field_positions = np.flatnonzero(field_start)  # where each field begins
        del field_start
        # fields of a line: those beginning between its start and its end
        first_field = np.searchsorted(field_positions, starts)
        fields = np.searchsorted(field_positions, ends) - first_field
        line_numbers = first_line + np.arange(ends.size, dtype=np.int64)
        filled = fields > 0  # blank lines are skipped
        starts, fields, line_numbers = starts[filled], fields[filled], line_numbers[filled]
        first_field = first_field[filled]
        overflow = starts.size > room
        if overflow:
            starts, fields, line_numbers = starts[:room], fields[:room], line_numbers[:room]
            first_field = first_field[:room]
            data_end = int(ends[filled][room - 1])
        else:
            data_end = buf.size
        if starts.size == 0:
            return overflow
        token_starts = field_positions[first_field]
        del field_positions, first_field
        space_positions = np.append(np.flatnonzero(is_space), buf.size)
        del is_space
        token_ends = space_positions[np.searchsorted(space_positions, token_starts)]
        del space_positions
        tokens = self._decode_tokens(data, token_starts, token_ends, line_numbers)
        counts = fields - 1
        if self.dim is None:
            self.dim = int(counts[0])
            if self.dim < 1:
                raise VectorFormatError(
                    f"{self.name}:{line_numbers[0]}: expected numbers after the token "
                    f"{tokens[0]!r}, found none"
                )
        wrong = np.flatnonzero(counts != self.dim)
        if wrong.size:
            at = int(wrong[0])
            raise VectorFormatError(
                f"{self.name}:{line_numbers[at]}: expected {self.dim} numbers after the token "
                f"{tokens[at]!r}, found {counts[at]}"
            )
        marks = np.zeros(data_end + 1, dtype=np.int8)
        np.add.at(marks, token_starts, 1)
        np.add.at(marks, token_ends, -1)
        # marks are +1 at a token's start and -1 at its end: their running sum (0 or 1, so
        # int8 suffices) is 1 exactly on token bytes, which are blanked out
        inside = np.cumsum(marks[:-1], dtype=np.int8).view(np.bool_)
        del marks
        numeric = buf[:data_end].copy()
        numeric[inside] = _SPACE
        del inside
        text = numeric.tobytes()
        del numeric
        try:
            values = np.fromstring(text, dtype=self.parse_dtype, sep=" ")
        except ValueError:
            values = None
        del text
        if values is None or values.size != starts.size * self.dim:
            self._raise_bad_number(data, token_ends, ends[filled], line_numbers, tokens)
        matrix = values.reshape(starts.size, self.dim)
        if matrix.dtype != self.dtype:
            matrix = matrix.astype(self.dtype)
        self.tokens.extend(tokens)
        self.line_numbers.append(line_numbers)
        self.blocks.append(matrix)
        self.rows += starts.size
        return overflow

    def _decode_tokens(
        self,
        data: bytes,
        token_starts: NDArray[np.int64],
        token_ends: NDArray[np.int64],
        line_numbers: NDArray[np.int64],
    ) -> list[str]:
        encoding, errors = self.encoding, self.errors
        try:
            return [
                data[start:end].decode(encoding, errors)
                for start, end in zip(token_starts.tolist(), token_ends.tolist(), strict=True)
            ]
        except UnicodeDecodeError:
            for row, (start, end) in enumerate(
                zip(token_starts.tolist(), token_ends.tolist(), strict=True)
            ):
                try:
                    data[start:end].decode(encoding, errors)
                except UnicodeDecodeError as err:
                    raise VectorFormatError(
                        f"{self.name}:{line_numbers[row]}: the token {data[start:end]!r} is not "
                        f"valid {encoding} ({err.reason}); pass unicode_errors='replace' to load it"
                    ) from err
            raise  # pragma: no cover - the loop above always finds the culprit

    def _raise_bad_number(
        self,
        data: bytes,
        token_ends: NDArray[np.int64],
        line_ends: NDArray[np.int64],
        line_numbers: NDArray[np.int64],
        tokens: list[str],
    ) -> None:
        for row, (start, end) in enumerate(
            zip(token_ends.tolist(), line_ends.tolist(), strict=False)
        ):
            for position, field in enumerate(data[start:end].split(), start=1):
                if _bad_number(field, self.parse_dtype):
                    shown = field[:40].decode("utf-8", "replace")
                    raise VectorFormatError(
                        f"{self.name}:{line_numbers[row]}: number {position} after the token "
                        f"{tokens[row]!r} is not a number: {shown!r}"
                    )
        raise VectorFormatError(  # pragma: no cover - every failing block has a bad field
            f"{self.name}: could not parse the numbers of lines "
            f"{line_numbers[0]}..{line_numbers[-1]}"
        )

    def result(self) -> tuple[list[str], NDArray[np.floating], NDArray[np.int64]]:
        dim = self.dim if self.dim is not None else 0
        matrix = (
            np.concatenate(self.blocks) if self.blocks else np.empty((0, dim), dtype=self.dtype)
        )
        lines = (
            np.concatenate(self.line_numbers) if self.line_numbers else np.empty(0, dtype=np.int64)
        )
        return self.tokens, matrix, lines


def read_text(
    path: str | os.PathLike[str],
    *,
    header: bool,
    limit: int | None,
    dtype: DTypeLike,
    progress: bool | None,
    duplicates: Duplicates,
    encoding: str = "utf-8",
    unicode_errors: str = "strict",
) -> tuple[list[str], NDArray[np.floating]]:
    """Read ``token n1 ... nD`` lines, with or without a word2vec header."""
    check_duplicates_mode(duplicates)
    check_limit(limit)
    dtype = float_dtype(dtype)
    name = display_name(path)
    with reading_with_raw(path) as (stream, raw), progress_bar(path, progress) as update:
        line_no = 0
        declared: int | None = None
        dim: int | None = None
        if header:
            declared, dim = parse_header(stream.readline(_MAX_HEADER_BYTES), name)
            line_no = 1
        wanted = declared if declared is not None else sys.maxsize
        if limit is not None:
            wanted = min(wanted, limit)
        reader = _TextReader(name, dim, dtype, encoding, unicode_errors)
        pending = b""
        overflow = False
        first_block = True
        while reader.rows < wanted:
            block = stream.read(_CHUNK)
            update(raw.tell())
            if first_block and not header:
                block = block.removeprefix(UTF8_BOM)
            first_block = False
            at_end = not block
            data = pending + block
            del block
            if not at_end:
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    _check_line_length(len(data), name, line_no + 1)
                    pending = data
                    continue
                data, pending = data[:cut], data[cut:]
            else:
                pending = b""
            lines_in_data = data.count(b"\n")
            _check_line_length(len(pending), name, line_no + lines_in_data + 1)
            overflow = reader.feed(data, line_no + 1, wanted - reader.rows)
            del data
            line_no += lines_in_data
            if at_end:
                break
        if declared is not None and limit is None and not overflow:
            overflow = bool((pending + stream.read(_CHUNK)).strip())
        tokens, matrix, lines = reader.result()
    if not header and reader.dim is None and wanted > 0:
        raise VectorFormatError(f"{name}: the file is empty (it holds no vector line)")
    if declared is not None and (reader.rows < wanted or (limit is None and overflow)):
        found = f"more than {declared}" if reader.rows == declared else f"{reader.rows}"
        raise VectorFormatError(
            f"{name}:1: the header declares {declared} vectors, but the file holds {found}"
            + ("; the file is truncated" if reader.rows < declared else "")
        )

    def where(row: int) -> str:
        return f"{name}:{lines[row]}"

    return resolve_duplicates(tokens, matrix, where, duplicates)


def read_binary(
    path: str | os.PathLike[str],
    *,
    limit: int | None,
    dtype: DTypeLike,
    progress: bool | None,
    duplicates: Duplicates,
    encoding: str = "utf-8",
    unicode_errors: str = "strict",
) -> tuple[list[str], NDArray[np.floating]]:
    """Read word2vec binary: a text header, then ``token<space><D little-endian float32>``."""
    check_duplicates_mode(duplicates)
    check_limit(limit)
    dtype = float_dtype(dtype)
    name = display_name(path)
    compressed = is_compressed(path)
    with reading_with_raw(path) as (stream, raw), progress_bar(path, progress) as update:
        header_line = stream.readline(_MAX_HEADER_BYTES)
        declared, dim = parse_header(header_line, name)
        rows = declared if limit is None else min(declared, limit)
        width = 4 * dim
        # Allocate no more rows than the file can hold, so that a corrupt header count fails
        # as a truncated file instead of a huge allocation; a compressed file's decompressed
        # size is unknown, so its matrix starts at 64 MiB and doubles as records arrive.
        if compressed:
            capacity = None
            allocated = min(rows, max(1, _GROW_ROWS_BYTES // width))
        else:
            capacity = (os.path.getsize(path) - len(header_line)) // (width + 1)
            allocated = min(rows, capacity)
        matrix = np.empty((allocated, dim), dtype=np.dtype("<f4"))
        tokens: list[str] = []
        buf = b""
        pos = 0
        consumed = len(header_line)  # bytes of the stream before buf
        for row in range(rows):
            space = buf.find(b" ", pos)
            while space < 0 or len(buf) - space - 1 < width:
                if (space < 0 and len(buf) - pos > MAX_LINE_BYTES) or space - pos > MAX_LINE_BYTES:
                    raise VectorFormatError(
                        f"{name}: record {row + 1} (byte {consumed + pos}): no token ends within "
                        f"{MAX_LINE_BYTES} bytes (embtable's maximum token length); the file is "
                        f"not word2vec binary, or is corrupt"
                    )
                more = stream.read(_CHUNK)
                update(raw.tell())
                if not more:
                    _raise_truncated(
                        name, row, declared, consumed + pos, buf[pos:], width, capacity
                    )
                consumed += pos
                buf = buf[pos:] + more
                pos = 0
                space = buf.find(b" ")
            raw_token = buf[pos:space].lstrip(b"\n")
            try:
                tokens.append(raw_token.decode(encoding, unicode_errors))
            except UnicodeDecodeError as err:
                raise VectorFormatError(
                    f"{name}: record {row + 1} (byte {consumed + pos}): the token "
                    f"{raw_token[:40]!r} is not valid {encoding} ({err.reason}); "
                    f"pass unicode_errors='replace' to load it"
                ) from err
            if row == allocated:
                allocated = min(rows, max(1, 2 * allocated))
                grown = np.empty((allocated, dim), dtype=matrix.dtype)
                grown[:row] = matrix
                matrix = grown
            matrix[row] = np.frombuffer(buf, dtype="<f4", count=dim, offset=space + 1)
            pos = space + 1 + width
        if limit is None:
            # Read what follows in chunks, only until it holds more than whitespace: the
            # header said how much data to expect, and no more is kept in memory.
            offset = consumed + pos
            rest = buf[pos:]
            del buf
            while True:
                extra = len(rest) - len(rest.lstrip())
                if extra < len(rest):
                    raise VectorFormatError(
                        f"{name}:1: the header declares {declared} vectors, but more data "
                        f"follows the last of them (from byte {offset + extra})"
                    )
                offset += len(rest)
                rest = stream.read(_CHUNK)
                update(raw.tell())
                if not rest:
                    break
    result = matrix if matrix.dtype == dtype else matrix.astype(dtype)

    def where(row: int) -> str:
        return f"{name}: record {row + 1}"

    return resolve_duplicates(tokens, result, where, duplicates)


def _raise_truncated(
    name: str,
    row: int,
    declared: int,
    offset: int,
    rest: bytes,
    width: int,
    capacity: int | None,
) -> None:
    space = rest.find(b" ")
    if space < 0:
        detail = "it ends inside a token" if rest.strip() else "it ends"
    else:
        token = rest[:space].lstrip(b"\n").decode("utf-8", "replace")
        detail = (
            f"the token {token!r} has {len(rest) - space - 1} of its {width} bytes of vector data"
        )
    hint = ""
    if capacity is not None and declared > 2 * capacity + 1:
        hint = (
            f" (its size leaves room for at most {capacity} vectors of {width // 4} numbers: "
            f"the header '{declared} {width // 4}' may be corrupt)"
        )
    raise VectorFormatError(
        f"{name}: record {row + 1} of {declared} (byte {offset}): the file is truncated; "
        f"{detail}{hint}"
    )


def check_limit(limit: int | None) -> None:
    if limit is None:
        return
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)):
        raise OptionTypeError(f"limit must be None or an integer >= 0, got {limit!r}")
    if limit < 0:
        raise OptionError(f"limit must be None or an integer >= 0, got {limit!r}")


def check_writable_tokens(tokens: Sequence[str], matrix: NDArray[np.generic]) -> None:
    """Check what every text and binary writer needs: a 2-D float matrix with one row per
    non-empty, whitespace-free, UTF-8 encodable token.

    Raises:
        ShapeError: ``matrix`` is not 2-D, or the counts of tokens and rows differ.
        OptionTypeError: ``matrix`` is not floating, or a token is not a string.
        OptionError: a token is empty, holds whitespace or cannot be encoded as UTF-8.
    """
    if matrix.ndim != 2:
        raise ShapeError(f"matrix must be 2-D (tokens, dimension), got shape {matrix.shape}")
    if matrix.dtype.kind not in "fiu" or matrix.dtype.itemsize > 8:
        raise OptionTypeError(
            f"matrix must hold float16, float32 or float64 numbers, got dtype {matrix.dtype}"
        )
    if len(tokens) != matrix.shape[0]:
        raise ShapeError(
            f"got {len(tokens)} tokens for a matrix of {matrix.shape[0]} rows; they must match"
        )
    for index, token in enumerate(tokens):
        if not isinstance(token, str):
            raise OptionTypeError(f"token {index} must be a string, got {type(token).__name__}")
        if not token or any(c in token for c in " \t\n\r"):
            raise OptionError(
                f"token {index} ({token!r}) cannot be written to a vectors file: tokens must be "
                f"non-empty strings without spaces, tabs or line breaks"
            )
        check_encodable(token, index)


def check_encodable(token: str, index: int) -> None:
    """Refuse a token that UTF-8 cannot encode (a lone surrogate), naming it."""
    try:
        token.encode("utf-8")
    except UnicodeEncodeError as err:
        raise OptionError(
            f"token {index} ({token!r}) cannot be saved: {token[err.start : err.end]!r} is not "
            f"encodable as UTF-8 ({err.reason}); lone surrogates usually come from decoding "
            f"with errors='surrogateescape'"
        ) from None


def write_text(
    path: str | os.PathLike[str],
    tokens: Sequence[str],
    matrix: NDArray[np.floating],
    *,
    header: bool,
) -> None:
    """Write ``token n1 ... nD`` lines (numbers in the shortest form that reads back exactly).

    The file is replaced atomically (:func:`embtable.io._atomic.atomic_file`).
    """
    matrix = np.asarray(matrix)
    check_writable_tokens(tokens, matrix)
    with atomic_file(path) as out:
        if header:
            out.write(f"{matrix.shape[0]} {matrix.shape[1]}\n".encode())
        _write_rows(out, tokens, matrix)


def _write_rows(out: IO[bytes], tokens: Sequence[str], matrix: NDArray[np.floating]) -> None:
    step = 8192
    for begin in range(0, matrix.shape[0], step):
        texts = matrix[begin : begin + step].astype(str)
        lines = [
            f"{token} {' '.join(row)}\n"
            for token, row in zip(tokens[begin : begin + step], texts.tolist(), strict=True)
        ]
        out.write("".join(lines).encode("utf-8"))


def write_binary(
    path: str | os.PathLike[str], tokens: Sequence[str], matrix: NDArray[np.floating]
) -> None:
    """Write word2vec binary (float32 little-endian, a newline after each vector as word2vec.c).

    The file is replaced atomically (:func:`embtable.io._atomic.atomic_file`).
    """
    matrix = np.asarray(matrix)
    check_writable_tokens(tokens, matrix)
    with atomic_file(path) as out:
        out.write(f"{matrix.shape[0]} {matrix.shape[1]}\n".encode())
        step = 8192
        for begin in range(0, matrix.shape[0], step):
            data = np.ascontiguousarray(matrix[begin : begin + step], dtype="<f4")
            out.write(
                b"".join(
                    token.encode("utf-8") + b" " + row.tobytes() + b"\n"
                    for token, row in zip(tokens[begin : begin + step], data, strict=True)
                )
            )
