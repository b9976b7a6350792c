"""Readers and writers of vectors files, and embtable's own table format.

One module per format: :mod:`~embtable.io.word2vec` (text and binary), :mod:`~embtable.io.glove`,
:mod:`~embtable.io.fasttext` (``.vec``) and :mod:`~embtable.io.tables` (safetensors + JSON).
Readers return ``(tokens, matrix)``, check the whole file and raise
:class:`~embtable.VectorFormatError` naming the file and line; gzip and bzip2 files are read
transparently. Writers replace their file or directory atomically. :mod:`embtable.io.registry`
is the one table of formats (names, readers, writers, sniffers, suffixes) that detection,
:class:`~embtable.vectors.Vectors` and the command line use. Most users want
:meth:`embtable.vectors.Vectors.load` instead.
"""

from __future__ import annotations

from . import registry
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
    "registry",
    "save_table",
    "write_fasttext_vec",
    "write_glove",
    "write_word2vec_binary",
    "write_word2vec_text",
]
