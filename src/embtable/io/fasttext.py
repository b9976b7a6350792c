"""fastText's ``.vec`` text format.

A ``.vec`` file is word2vec text: a ``"<count> <dimension>"`` header, then
``token n1 ... nD`` lines (fastText ends each with a space, which is accepted). fastText's
``.bin`` *models* (subword buckets and training state) are not vectors files: reading one raises
:class:`~embtable.VectorFormatError` pointing to the ``.vec`` that fastText writes next to it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from .._errors import VectorFormatError
from . import _parse
from ._open import open_binary_read
from ._parse import Duplicates

__all__ = ["FASTTEXT_BIN_MAGIC", "read_fasttext_vec", "write_fasttext_vec"]

#: The first four bytes of a fastText ``.bin`` model (int32 793712314, little-endian).
FASTTEXT_BIN_MAGIC = (793712314).to_bytes(4, "little")


def read_fasttext_vec(
    path: str | os.PathLike[str],
    *,
    limit: int | None = None,
    dtype: DTypeLike = np.float32,
    duplicates: Duplicates = "error",
    progress: bool | None = None,
    encoding: str = "utf-8",
    unicode_errors: str = "strict",
) -> tuple[list[str], NDArray[np.floating]]:
    """Read a fastText ``.vec`` file; arguments as :func:`embtable.io.word2vec.read_word2vec_text`.

    Raises:
        VectorFormatError: the file is a fastText ``.bin`` model (the message says to read it
            with ``format='fasttext-bin'``), or is malformed (the message names the file and
            line).

    Example:
        >>> import tempfile, pathlib
        >>> tmp = tempfile.TemporaryDirectory()
        >>> path = pathlib.Path(tmp.name) / "wiki.vec"
        >>> _ = path.write_text("2 2\\n</s> 0.5 -1 \\nthe 2 3 \\n")
        >>> read_fasttext_vec(path)
        (['</s>', 'the'], array([[ 0.5, -1. ],
               [ 2. ,  3. ]], dtype=float32))
        >>> tmp.cleanup()
    """
    _reject_bin_model(path)
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


def write_fasttext_vec(
    path: str | os.PathLike[str], tokens: Sequence[str], matrix: ArrayLike
) -> None:
    """Write a fastText ``.vec`` file (the same bytes as word2vec text).

    Raises:
        ShapeError, OptionError, OutputError: as
            :func:`embtable.io.word2vec.write_word2vec_text`.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "crawl.vec"
        >>> write_fasttext_vec(path, ["cat"], np.array([[0.5, 1.0]], np.float32))
        >>> print(path.read_text(), end="")
        1 2
        cat 0.5 1.0
    """
    _parse.write_text(path, tokens, np.asarray(matrix), header=True)


def _reject_bin_model(path: str | os.PathLike[str]) -> None:
    with open_binary_read(path) as stream:
        head = stream.read(64)
    # fastText >= 0.2 models start with a magic number; older ones with the int32 dimension
    if head.startswith(FASTTEXT_BIN_MAGIC) or (
        os.fspath(path).lower().endswith(".bin") and b"\x00" in head
    ):
        raise VectorFormatError(
            f"{_parse.display_name(path)}: this is a fastText .bin model, not a .vec vectors "
            f"file; read it with format='fasttext-bin' (embtable.io.fasttext_bin, or "
            f"`--from fasttext-bin` on the command line), or load the .vec file beside it"
        )
