"""GloVe's text format: ``token n1 n2 ... nD`` per line, no header.

The dimension is the count of numbers on the first line, and every other line must have as
many. Reading checks the counts, the numbers and repeated tokens (``duplicates``) and names the
file and line of the first problem in a :class:`~embtable.VectorFormatError`. Files ending in
``.gz``/``.bz2`` (told by their first bytes when reading) are decompressed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from . import _parse
from ._parse import Duplicates

__all__ = ["read_glove", "write_glove"]


def read_glove(
    path: str | os.PathLike[str],
    *,
    limit: int | None = None,
    dtype: DTypeLike = np.float32,
    duplicates: Duplicates = "error",
    progress: bool | None = None,
    encoding: str = "utf-8",
    unicode_errors: str = "strict",
) -> tuple[list[str], NDArray[np.floating]]:
    """Read a GloVe file; arguments as :func:`embtable.io.word2vec.read_word2vec_text`.

    Shape:
        matrix ``(len(tokens), D)``.

    Raises:
        VectorFormatError: a line with another count of numbers than the first, a field that
            is not a number, an undecodable token or a repeated token.

    Example:
        >>> import tempfile, pathlib
        >>> tmp = tempfile.TemporaryDirectory()
        >>> path = pathlib.Path(tmp.name) / "glove.txt"
        >>> _ = path.write_text("the 0.418 0.24968\\ncafé -0.5 1e-3\\n", encoding="utf-8")
        >>> read_glove(path)
        (['the', 'café'], array([[ 0.418  ,  0.24968],
               [-0.5    ,  0.001  ]], dtype=float32))
        >>> _ = path.write_text("the 0.418 0.24968\\ntea 0.5\\n")
        >>> read_glove(path)
        Traceback (most recent call last):
        ...
        embtable._errors.VectorFormatError: glove.txt:2: expected 2 numbers after the token 'tea', found 1
        >>> tmp.cleanup()
    """
    return _parse.read_text(
        path,
        header=False,
        limit=limit,
        dtype=dtype,
        progress=progress,
        duplicates=duplicates,
        encoding=encoding,
        unicode_errors=unicode_errors,
    )


def write_glove(path: str | os.PathLike[str], tokens: Sequence[str], matrix: ArrayLike) -> None:
    """Write a GloVe file (numbers in their shortest exact form).

    Raises:
        ShapeError, OptionError, OutputError: as
            :func:`embtable.io.word2vec.write_word2vec_text`.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "glove.txt"
        >>> write_glove(path, ["cat", "dog"], np.array([[0.5, 1.0], [-2.0, 0.25]]))
        >>> print(path.read_text(), end="")
        cat 0.5 1.0
        dog -2.0 0.25
    """
    _parse.write_text(path, tokens, np.asarray(matrix), header=False)
