"""word2vec's text and binary formats.

Both start with a header line ``"<count> <dimension>"``. The text format follows it with one line
per vector, ``token n1 n2 ... nD``; the binary format with ``token``, one space and ``D``
little-endian float32 numbers per vector (word2vec.c puts a line break after each vector, gensim
does not; both are read, and the writer puts one, as word2vec.c does).

Reading checks everything: the header, the count of numbers on each line, that each is a
number, that the file holds as many vectors as the header declares (no fewer: truncated; no
more), and repeated tokens (``duplicates="error"``, ``"first"`` or ``"last"``). Each failure
raises :class:`~embtable.VectorFormatError` naming the file and line (text) or record (binary).
Files ending in ``.gz`` or ``.bz2`` (told by their first bytes when reading) are decompressed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from . import _parse
from ._parse import Duplicates

__all__ = [
    "read_word2vec_binary",
    "read_word2vec_text",
    "write_word2vec_binary",
    "write_word2vec_text",
]


def read_word2vec_text(
    path: str | os.PathLike[str],
    *,
    limit: int | None = None,
    dtype: DTypeLike = np.float32,
    duplicates: Duplicates = "error",
    progress: bool | None = None,
    encoding: str = "utf-8",
    unicode_errors: str = "strict",
) -> tuple[list[str], NDArray[np.floating]]:
    """Read a word2vec text file.

    Args:
        path: the file (plain, gzip or bzip2).
        limit: read only the first ``limit`` vectors.
        dtype: floating dtype of the returned matrix.
        duplicates: what to do with a repeated token: ``"error"`` raises, ``"first"`` keeps
            the first vector, ``"last"`` keeps the last (at the first one's position).
        progress: draw a tqdm bar; ``None`` draws one for files of 64 MiB and more when
            stderr is a terminal.
        encoding: encoding of the tokens.
        unicode_errors: ``"strict"`` raises on undecodable tokens; ``"replace"``, ``"ignore"``.

    Returns:
        ``(tokens, matrix)``.

    Shape:
        matrix ``(len(tokens), D)``.

    Raises:
        VectorFormatError: malformed file; the message names the file and line.

    Example:
        >>> import tempfile, pathlib
        >>> tmp = tempfile.TemporaryDirectory()
        >>> path = pathlib.Path(tmp.name) / "tiny.txt"
        >>> _ = path.write_text("2 3\\ncat 1 0 0.5\\ndog 0 1 -2e-1\\n")
        >>> tokens, matrix = read_word2vec_text(path)
        >>> tokens
        ['cat', 'dog']
        >>> matrix
        array([[ 1. ,  0. ,  0.5],
               [ 0. ,  1. , -0.2]], dtype=float32)
        >>> tmp.cleanup()
    """
    return _parse.read_text(
        path,
        header=True,
        limit=limit,
        dtype=dtype,
        progress=progress,
        duplicates=duplicates,
        encoding=encoding,
        unicode_errors=unicode_errors,
    )


def read_word2vec_binary(
    path: str | os.PathLike[str],
    *,
    limit: int | None = None,
    dtype: DTypeLike = np.float32,
    duplicates: Duplicates = "error",
    progress: bool | None = None,
    encoding: str = "utf-8",
    unicode_errors: str = "strict",
) -> tuple[list[str], NDArray[np.floating]]:
    """Read a word2vec binary file; arguments as :func:`read_word2vec_text`.

    Raises:
        VectorFormatError: bad header, truncated file, trailing data or a repeated token; the
            message names the file and the record.

    Example:
        >>> import tempfile, pathlib
        >>> tmp = tempfile.TemporaryDirectory()
        >>> path = pathlib.Path(tmp.name) / "tiny.bin"
        >>> write_word2vec_binary(path, ["cat", "dog"], np.arange(4.0).reshape(2, 2))
        >>> path.read_bytes()[:14]
        b'2 2\\ncat \\x00\\x00\\x00\\x00\\x00\\x00'
        >>> read_word2vec_binary(path)
        (['cat', 'dog'], array([[0., 1.],
               [2., 3.]], dtype=float32))
        >>> tmp.cleanup()
    """
    return _parse.read_binary(
        path,
        limit=limit,
        dtype=dtype,
        progress=progress,
        duplicates=duplicates,
        encoding=encoding,
        unicode_errors=unicode_errors,
    )


def write_word2vec_text(
    path: str | os.PathLike[str], tokens: Sequence[str], matrix: ArrayLike
) -> None:
    """Write a word2vec text file (compressed when ``path`` ends in ``.gz`` or ``.bz2``).

    Numbers are written in the shortest form that reads back to the same value of the
    matrix's dtype, so a float32 table round-trips exactly.

    Raises:
        ShapeError: ``matrix`` is not 2-D, or does not have one row per token.
        OptionError: a token is empty, holds whitespace (it could not be read back) or is
            not UTF-8 encodable.
        OutputError: the file cannot be written; an old file at ``path`` stays as it was
            (the file is replaced atomically: a reader never sees a partial file).

    Example:
        >>> import tempfile, pathlib
        >>> tmp = tempfile.TemporaryDirectory()
        >>> path = pathlib.Path(tmp.name) / "tiny.txt"
        >>> write_word2vec_text(path, ["cat", "dog"], np.array([[0.1, 2], [3, -4]], np.float32))
        >>> print(path.read_text(), end="")
        2 2
        cat 0.1 2.0
        dog 3.0 -4.0
        >>> tmp.cleanup()
    """
    _parse.write_text(path, tokens, np.asarray(matrix), header=True)


def write_word2vec_binary(
    path: str | os.PathLike[str], tokens: Sequence[str], matrix: ArrayLike
) -> None:
    """Write a word2vec binary file; the numbers are stored as float32 (the format's only type).

    Raises:
        ShapeError, OptionError, OutputError: as :func:`write_word2vec_text`.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "vectors.bin"
        >>> write_word2vec_binary(path, ["cat"], np.array([[1.0, -0.5]]))
        >>> path.read_bytes()
        b'1 2\\ncat \\x00\\x00\\x80?\\x00\\x00\\x00\\xbf\\n'
    """
    _parse.write_binary(path, tokens, np.asarray(matrix))
