"""Open plain, gzip and bzip2 files transparently.

The compression is told by the file's first bytes (its *magic*), not by its name: gzip files
start with ``1f 8b`` and bzip2 files with ``BZh``. When writing
(:func:`embtable.io._atomic.atomic_file`), the suffix decides (``.gz``, ``.bz2``; anything
else is written plain), because there are no bytes to look at yet. Every file is opened by
:func:`open_regular`, which refuses FIFOs, devices and directories without blocking.
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import errno
import functools
import gzip
import io
import os
import stat
import zlib
from collections.abc import Iterator
from typing import IO, Any, Literal

from .._errors import OutputError, VectorFormatError

__all__: list[str] = []

# What gzip and bz2 raise on a truncated (EOFError) or corrupt (zlib.error, BadGzipFile and
# bz2's "Invalid data stream", both OSError) compressed stream.
_DECOMPRESSION_ERRORS = (EOFError, OSError, zlib.error)

#: The longest line :func:`iter_text_lines` yields, in characters: the parsers' 16 MiB
#: (:data:`embtable.io._parse.MAX_LINE_BYTES`; a UTF-8 line has no more characters than bytes).
MAX_LINE_CHARS = 1 << 24

_GZIP_MAGIC = b"\x1f\x8b"
_BZIP2_MAGIC = b"BZh"

Compression = Literal["gzip", "bz2", None]


def display_name(path: str | os.PathLike[str]) -> str:
    """The name used in error messages: the file's base name."""
    return os.path.basename(os.fspath(path)) or os.fspath(path)


def corrupt_compressed_error(path: str | os.PathLike[str]) -> VectorFormatError:
    """The error for a compressed file that ends early or holds bad data."""
    return VectorFormatError(f"{display_name(path)}: the compressed file is truncated or corrupt")


class _CheckedStream(io.BufferedIOBase):
    """A decompressing stream whose truncation and corruption errors name the file.

    gzip and bz2 raise a bare ``EOFError`` (truncated) or ``OSError``/``zlib.error`` (corrupt)
    from whichever read meets the problem; this wrapper turns them into
    :class:`~embtable.VectorFormatError` naming the file.
    """

    def __init__(
        self, stream: IO[bytes], path: str | os.PathLike[str], raw: IO[bytes] | None = None
    ) -> None:
        super().__init__()
        self._stream = stream
        self._path = path
        self._raw = raw  # closed with the stream when the stream owns it

    def _call(self, method: str, *args: Any) -> Any:
        try:
            return getattr(self._stream, method)(*args)
        except _DECOMPRESSION_ERRORS as err:
            raise corrupt_compressed_error(self._path) from err

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        return self._call("read", -1 if size is None else size)

    def read1(self, size: int = -1) -> bytes:
        return self._call("read1", size)

    def readinto(self, buffer: Any) -> int:
        return self._call("readinto", buffer)

    def readline(self, size: int | None = -1) -> bytes:
        return self._call("readline", -1 if size is None else size)

    def close(self) -> None:
        if not self.closed:
            try:
                self._stream.close()
                if self._raw is not None:
                    self._raw.close()
            finally:
                super().close()


def open_regular(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open ``path`` for reading bytes, refusing anything but a regular file.

    The file is opened non-blocking and checked with ``fstat`` on the open descriptor, so a
    FIFO, device or socket is refused without blocking and without a race between a check
    and the open (:func:`embtable.io._atomic.check_input_file` checks a path ahead of work).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        OutputError: ``path`` is a directory, FIFO, device or socket.

    Example:
        >>> open_regular("/dev/zero")
        Traceback (most recent call last):
        ...
        embtable._errors.OutputError: [Errno 22] cannot read '/dev/zero': it is a character device, not a regular file
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise FileNotFoundError(
            errno.ENOENT, "no such file or directory", os.fspath(path)
        ) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OutputError(
                errno.EISDIR if stat.S_ISDIR(mode) else errno.EINVAL,
                f"cannot read {os.fspath(path)!r}: it is {_kind(mode)}, not a regular file",
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _kind(mode: int) -> str:
    """What a non-regular ``st_mode`` is, in words."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"  # pragma: no cover - no other kinds on POSIX


def _sniff_compression(path: str | os.PathLike[str]) -> Compression:
    """Return ``"gzip"``, ``"bz2"`` or ``None`` from the first bytes of ``path``."""
    with open_regular(path) as raw:
        head = raw.read(3)
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    if head.startswith(_BZIP2_MAGIC):
        return "bz2"
    return None


def open_binary_read(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open ``path`` for reading bytes, decompressing gzip or bzip2 by magic."""
    raw = open_regular(path)
    try:
        head = raw.read(3)
        raw.seek(0)
        if head.startswith(_GZIP_MAGIC):
            return _CheckedStream(gzip.GzipFile(fileobj=raw, mode="rb"), path, raw)  # type: ignore[arg-type]
        if head.startswith(_BZIP2_MAGIC):
            return _CheckedStream(bz2.BZ2File(raw, "rb"), path, raw)  # type: ignore[arg-type]
    except BaseException:
        raw.close()
        raise
    return raw


@contextlib.contextmanager
def reading_with_raw(path: str | os.PathLike[str]) -> Iterator[tuple[IO[bytes], IO[bytes]]]:
    """Yield ``(stream, raw)``: decompressed bytes, and the raw file (``tell()`` = progress)."""
    with open_regular(path) as raw:
        head = raw.read(3)
        raw.seek(0)
        compression: Compression = None
        if head.startswith(_GZIP_MAGIC):
            compression = "gzip"
        elif head.startswith(_BZIP2_MAGIC):
            compression = "bz2"
        if compression == "gzip":
            with _CheckedStream(gzip.GzipFile(fileobj=raw, mode="rb"), path) as stream:
                yield stream, raw
        elif compression == "bz2":
            with _CheckedStream(bz2.BZ2File(raw, "rb"), path) as stream:
                yield stream, raw
        else:
            yield raw, raw


def open_text_read(
    path: str | os.PathLike[str], *, encoding: str = "utf-8", errors: str = "strict"
) -> IO[str]:
    """Open ``path`` for reading text (universal newlines), decompressing by magic."""
    return io.TextIOWrapper(open_binary_read(path), encoding=encoding, errors=errors)


def iter_text_lines(
    path: str | os.PathLike[str], *, encoding: str = "utf-8", errors: str = "strict"
) -> Iterator[str]:
    """Yield the lines of ``path`` as :func:`open_text_read` reads them (line breaks kept).

    A line is held in memory whole, so lines are bounded: one longer than
    :data:`MAX_LINE_CHARS` characters before its line break (the 16 MiB of the vectors parsers) is an error rather
    than an allocation as large as the file (a corpus with one line per file, such as text8,
    is read by the trainer in blocks, not by lines).

    Raises:
        VectorFormatError: the text is not valid ``encoding`` (naming the file, line and
            bytes), a line is longer than :data:`MAX_LINE_CHARS`, or a compressed file is
            truncated or corrupt.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "pairs.txt"
        >>> _ = path.write_bytes(b"tiger cat 7.35\\r\\nbook paper 7.46")
        >>> list(iter_text_lines(path))
        ['tiger cat 7.35\\n', 'book paper 7.46']
    """
    with open_text_read(path, encoding=encoding, errors=errors) as stream:
        try:
            # readline with a limit: the bound costs one comparison a line (iterating the
            # stream itself has no limit and would build a line as long as the file)
            for line in iter(functools.partial(stream.readline, MAX_LINE_CHARS + 1), ""):
                if len(line) > MAX_LINE_CHARS and line[-1] != "\n":
                    raise _long_line_error(path, encoding, errors)
                yield line
        except UnicodeDecodeError as err:
            # The text layer decodes ahead in chunks, so the line is found in a second pass.
            line, bad = _locate_decode_error(path, encoding)
            shown = bad if bad is not None else err.object[err.start : err.end]
            raise VectorFormatError(
                f"{display_name(path)}:{line}: the bytes {bytes(shown)!r} are not valid "
                f"{encoding} ({err.reason}); re-encode the file as {encoding}, or pass the "
                f"encoding it uses"
            ) from err


def _long_line_error(path: str | os.PathLike[str], encoding: str, errors: str) -> VectorFormatError:
    """The error for a line over :data:`MAX_LINE_CHARS`, naming it (found in a second pass)."""
    line = 1
    with open_text_read(path, encoding=encoding, errors=errors) as stream:
        for text in iter(functools.partial(stream.readline, MAX_LINE_CHARS + 1), ""):
            if len(text) > MAX_LINE_CHARS and text[-1] != "\n":
                break
            line += 1
    return VectorFormatError(
        f"{display_name(path)}:{line}: the line is longer than {MAX_LINE_CHARS} characters, "
        f"embtable's maximum line length; the file is not line-oriented text, or is corrupt"
    )


def _locate_decode_error(path: str | os.PathLike[str], encoding: str) -> tuple[int, bytes | None]:
    """Return ``(line, bad bytes)`` of the first decoding error in ``path`` (1-based line)."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    line = 1
    last_was_cr = False

    def count(text: str) -> None:
        # universal newlines: "\n", "\r\n" and a lone "\r" each end one line
        nonlocal line, last_was_cr
        if text:
            line += text.count("\n") + text.count("\r") - text.count("\r\n")
            line -= last_was_cr and text.startswith("\n")
            last_was_cr = text.endswith("\r")

    with open_binary_read(path) as stream:
        for piece in stream:  # pieces end at b"\n": exact for ASCII-compatible encodings
            try:
                count(decoder.decode(piece))
            except UnicodeDecodeError as err:
                count(err.object[: err.start].decode(encoding, "replace"))
                return line, err.object[err.start : err.end]
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as err:
            return line, err.object[err.start : err.end]
    return line, None  # pragma: no cover - only called after a decoding error


def is_compressed(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` starts with a gzip or bzip2 magic number."""
    return _sniff_compression(path) is not None
