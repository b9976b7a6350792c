"""Open plain, gzip and bzip2 files transparently.

The compression is told by the file's first bytes (its *magic*), not by its name: gzip files
start with ``1f 8b`` and bzip2 files with ``BZh``. When writing, the suffix decides (``.gz``,
``.bz2``; anything else is written plain), because there are no bytes to look at yet.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import os
from collections.abc import Iterator
from typing import IO, Literal

__all__: list[str] = []

_GZIP_MAGIC = b"\x1f\x8b"
_BZIP2_MAGIC = b"BZh"

Compression = Literal["gzip", "bz2", None]


def _sniff_compression(path: str | os.PathLike[str]) -> Compression:
    """Return ``"gzip"``, ``"bz2"`` or ``None`` from the first bytes of ``path``."""
    with open(path, "rb") as raw:
        head = raw.read(3)
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    if head.startswith(_BZIP2_MAGIC):
        return "bz2"
    return None


def _suffix_compression(path: str | os.PathLike[str]) -> Compression:
    name = os.fspath(path).lower()
    if name.endswith(".gz"):
        return "gzip"
    if name.endswith(".bz2"):
        return "bz2"
    return None


def open_binary_read(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open ``path`` for reading bytes, decompressing gzip or bzip2 by magic."""
    compression = _sniff_compression(path)
    if compression == "gzip":
        return gzip.open(path, "rb")
    if compression == "bz2":
        return bz2.open(path, "rb")
    return open(path, "rb")


@contextlib.contextmanager
def reading_with_raw(path: str | os.PathLike[str]) -> Iterator[tuple[IO[bytes], IO[bytes]]]:
    """Yield ``(stream, raw)``: decompressed bytes, and the raw file (``tell()`` = progress)."""
    compression = _sniff_compression(path)
    with open(path, "rb") as raw:
        if compression == "gzip":
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                yield stream, raw
        elif compression == "bz2":
            with bz2.BZ2File(raw, "rb") as stream:
                yield stream, raw
        else:
            yield raw, raw


def open_text_read(
    path: str | os.PathLike[str], *, encoding: str = "utf-8", errors: str = "strict"
) -> IO[str]:
    """Open ``path`` for reading text (universal newlines), decompressing by magic."""
    return io.TextIOWrapper(open_binary_read(path), encoding=encoding, errors=errors)


def open_binary_write(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open ``path`` for writing bytes, compressing when its name ends in ``.gz`` or ``.bz2``."""
    compression = _suffix_compression(path)
    if compression == "gzip":
        # mtime=0 keeps the output byte-for-byte reproducible.
        return gzip.GzipFile(path, "wb", mtime=0)  # type: ignore[return-value]
    if compression == "bz2":
        return bz2.open(path, "wb")
    return open(path, "wb")


def is_compressed(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` starts with a gzip or bzip2 magic number."""
    return _sniff_compression(path) is not None
