"""Readers and writers of vectors files, and embtable's own table format.

One module per format: :mod:`~embtable.io.word2vec` (text and binary), :mod:`~embtable.io.glove`,
:mod:`~embtable.io.fasttext` (``.vec``) and :mod:`~embtable.io.tables` (safetensors + JSON).
Readers return ``(tokens, matrix)``, check the whole file and raise
:class:`~embtable.VectorFormatError` naming the file and line; gzip and bzip2 files are read
transparently. Most users want :meth:`embtable.vectors.Vectors.load` instead.
"""

from __future__ import annotations

from ._detect import detect_format
from .fasttext import read_fasttext_vec, write_fasttext_vec
from .glove import read_glove, write_glove
from .tables import load_table, save_table
from .word2vec import (
    read_word2vec_binary,
    read_word2vec_text,
    write_word2vec_binary,
    write_word2vec_text,
)

__all__ = [
    "detect_format",
    "load_table",
    "read_fasttext_vec",
    "read_glove",
    "read_word2vec_binary",
    "read_word2vec_text",
    "save_table",
    "write_fasttext_vec",
    "write_glove",
    "write_word2vec_binary",
    "write_word2vec_text",
]
