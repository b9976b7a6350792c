from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from embtable import VectorFormatError
from embtable.io import detect_format, read_fasttext_vec, write_fasttext_vec

DATA = Path(__file__).parents[1] / "data"


def test_reads_vec_like_gensim() -> None:
    tokens, matrix = read_fasttext_vec(DATA / "lee_fasttext.vec")
    assert matrix.shape == (1762, 10)
    KeyedVectors = pytest.importorskip("gensim.models").KeyedVectors  # noqa: N806
    keyed = KeyedVectors.load_word2vec_format(DATA / "lee_fasttext.vec")
    assert tokens == keyed.index_to_key
    assert_array_equal(matrix, keyed.vectors)
    assert detect_format(DATA / "lee_fasttext.vec") == "word2vec"


def test_bin_model_is_refused_clearly() -> None:
    message = "lee_fasttext.bin: this is a fastText .bin model, not a .vec vectors file; read it with format='fasttext-bin'"
    with pytest.raises(VectorFormatError, match=re.escape(message)):
        read_fasttext_vec(DATA / "lee_fasttext.bin")
    with pytest.raises(
        VectorFormatError, match=re.escape("lee_fasttext.bin: binary data where a word2vec header")
    ):
        detect_format(DATA / "lee_fasttext.bin")


def test_new_style_bin_magic_is_refused(tmp_path) -> None:
    path = tmp_path / "model.data"
    path.write_bytes((793712314).to_bytes(4, "little") + b"\x0c\x00\x00\x00" * 4)
    message = "model.data: this is a fastText .bin model, not a .vec vectors file"
    with pytest.raises(VectorFormatError, match=re.escape(message)):
        read_fasttext_vec(path)
    assert detect_format(path) == "fasttext-bin"  # the magic number names the format


def test_round_trip(tmp_path, rng) -> None:
    matrix = rng.normal(size=(3, 4)).astype(np.float32)
    write_fasttext_vec(tmp_path / "v.vec", ["</s>", "a", "b"], matrix)
    tokens, got = read_fasttext_vec(tmp_path / "v.vec")
    assert tokens == ["</s>", "a", "b"]
    assert_array_equal(got, matrix)
