from __future__ import annotations

import bz2
import gzip
import re
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from embtable import VectorFormatError
from embtable.io import (
    detect_format,
    read_word2vec_binary,
    read_word2vec_text,
    write_word2vec_binary,
    write_word2vec_text,
)

DATA = Path(__file__).parents[1] / "data"


def test_golden_text_bytes(tmp_path) -> None:
    path = tmp_path / "v.txt"
    write_word2vec_text(path, ["a", "ü"], np.array([[0.5, -1.25], [1e-8, 3e38]], np.float32))
    assert path.read_bytes() == "2 2\na 0.5 -1.25\nü 1e-08 3e+38\n".encode()
    tokens, matrix = read_word2vec_text(path)
    assert tokens == ["a", "ü"]
    assert_array_equal(matrix, np.array([[0.5, -1.25], [1e-8, 3e38]], np.float32))


def test_golden_binary_bytes(tmp_path) -> None:
    path = tmp_path / "v.bin"
    write_word2vec_binary(path, ["a", "b"], np.array([[1.0], [-2.0]]))
    assert path.read_bytes() == b"2 1\na \x00\x00\x80?\nb \x00\x00\x00\xc0\n"
    assert read_word2vec_binary(path)[0] == ["a", "b"]


def test_reads_c_tool_text_file() -> None:
    tokens, matrix = read_word2vec_text(DATA / "word2vec_pre_kv_c")
    assert matrix.shape == (1750, 10) and matrix.dtype == np.float32
    assert tokens[:3] == ["the", "to", "of"]


@pytest.mark.parametrize("compress", [None, "gz", "bz2"])
@pytest.mark.parametrize("binary", [False, True])
def test_round_trip(tmp_path, rng, compress, binary) -> None:
    tokens = [f"tok{i}é" for i in range(257)]
    matrix = rng.normal(size=(257, 7)).astype(np.float32)
    path = tmp_path / ("v.bin" if binary else "v.txt")
    if compress:
        path = path.with_name(path.name + "." + compress)
    (write_word2vec_binary if binary else write_word2vec_text)(path, tokens, matrix)
    magic = path.read_bytes()[:3]
    assert magic.startswith({None: b"2", "gz": b"\x1f\x8b", "bz2": b"BZh"}[compress])
    got_tokens, got = (read_word2vec_binary if binary else read_word2vec_text)(path)
    assert got_tokens == tokens
    assert_array_equal(got, matrix)
    assert detect_format(path) == ("word2vec-binary" if binary else "word2vec")


def test_limit_and_dtype(tmp_path) -> None:
    tokens, matrix = read_word2vec_text(DATA / "word2vec_pre_kv_c", limit=5, dtype=np.float64)
    assert len(tokens) == 5 and matrix.shape == (5, 10) and matrix.dtype == np.float64
    tokens, matrix = read_word2vec_binary(DATA / "euclidean_vectors.bin", limit=3)
    assert matrix.shape == (3, 10)
    assert read_word2vec_text(DATA / "word2vec_pre_kv_c", limit=0)[1].shape == (0, 10)


@pytest.mark.parametrize("binary", [False, True])
def test_gensim_writes_embtable_reads(tmp_path, rng, binary) -> None:
    KeyedVectors = pytest.importorskip("gensim.models").KeyedVectors  # noqa: N806

    keyed = KeyedVectors(6)
    words = ["the", "Straße", "東京", "naïve", "x"]
    keyed.add_vectors(words, rng.normal(size=(5, 6)).astype(np.float32))
    path = tmp_path / "gensim.w2v"
    keyed.save_word2vec_format(path, binary=binary)
    tokens, matrix = (read_word2vec_binary if binary else read_word2vec_text)(path)
    assert tokens == words
    assert_array_equal(matrix, keyed.vectors)


@pytest.mark.parametrize("binary", [False, True])
def test_embtable_writes_gensim_reads(tmp_path, rng, binary) -> None:
    KeyedVectors = pytest.importorskip("gensim.models").KeyedVectors  # noqa: N806

    words = ["the", "Straße", "東京", "naïve", "x"]
    matrix = rng.normal(size=(5, 6)).astype(np.float32)
    path = tmp_path / "ours.w2v"
    (write_word2vec_binary if binary else write_word2vec_text)(path, words, matrix)
    keyed = KeyedVectors.load_word2vec_format(path, binary=binary)
    assert keyed.index_to_key == words
    assert_array_equal(keyed.vectors, matrix)


@pytest.mark.parametrize(
    ("name", "binary", "kwargs"),
    [("word2vec_pre_kv_c", False, {}), ("euclidean_vectors.bin", True, {})],
)
def test_shipped_files_equal_gensim(name, binary, kwargs) -> None:
    KeyedVectors = pytest.importorskip("gensim.models").KeyedVectors  # noqa: N806

    keyed = KeyedVectors.load_word2vec_format(DATA / name, binary=binary, **kwargs)
    tokens, matrix = (read_word2vec_binary if binary else read_word2vec_text)(DATA / name)
    assert tokens == keyed.index_to_key
    assert_array_equal(matrix, keyed.vectors)


# -- error paths --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"",
            "v.txt:1: expected a header '<count> <dimension>' (two integers, dimension >= 1), found ''",
        ),
        (
            b"2 x\na 1\n",
            "v.txt:1: expected a header '<count> <dimension>' (two integers, dimension >= 1), found '2 x'",
        ),
        (b"1 0\n", "v.txt:1: expected a header"),
        (b"2 2\na 1 2\nb 1\n", "v.txt:3: expected 2 numbers after the token 'b', found 1"),
        (b"2 2\na 1 2\nb 1 2 3\n", "v.txt:3: expected 2 numbers after the token 'b', found 3"),
        (b"2 2\na 1 2\nb 1 zz\n", "v.txt:3: number 2 after the token 'b' is not a number: 'zz'"),
        (
            b"2 2\na 1 2\nb 1 1.5.3\n",
            "v.txt:3: number 2 after the token 'b' is not a number: '1.5.3'",
        ),
        (
            b"3 2\na 1 2\nb 1 2\n",
            "v.txt:1: the header declares 3 vectors, but the file holds 2; the file is truncated",
        ),
        (
            b"1 2\na 1 2\nb 1 2\n",
            "v.txt:1: the header declares 1 vectors, but the file holds more than 1",
        ),
        (
            b"2 2\na 1 2\na 3 4\n",
            "v.txt:3: duplicate token 'a', first seen at v.txt:2; pass duplicates='first' or 'last' to keep one",
        ),
        (b"1 2\n\xff\xfe 1 2\n", "v.txt:2: the token b'\\xff\\xfe' is not valid utf-8"),
    ],
)
def test_text_errors(tmp_path, content, message) -> None:
    path = tmp_path / "v.txt"
    path.write_bytes(content)
    with pytest.raises(VectorFormatError, match=re.escape(message)):
        read_word2vec_text(path)


def test_error_line_numbers_cross_block_boundaries(tmp_path, monkeypatch) -> None:
    from embtable.io import _parse

    monkeypatch.setattr(_parse, "_CHUNK", 64)  # many small blocks
    lines = [f"w{i} {i} {i + 1}" for i in range(100)]
    lines[77] = "w77 1"
    path = tmp_path / "v.txt"
    path.write_text("100 2\n" + "\n".join(lines) + "\n")
    with pytest.raises(
        VectorFormatError,
        match=re.escape("v.txt:79: expected 2 numbers after the token 'w77', found 1"),
    ):
        read_word2vec_text(path)
    lines[77] = "w77 1 2"
    path.write_text("100 2\n" + "\n".join(lines) + "\n")
    tokens, matrix = read_word2vec_text(path)
    assert tokens[99] == "w99" and matrix[99].tolist() == [99, 100]


def test_duplicates_rules(tmp_path) -> None:
    path = tmp_path / "v.txt"
    path.write_bytes(b"3 1\na 1\nb 2\na 3\n")
    assert read_word2vec_text(path, duplicates="first")[0] == ["a", "b"]
    assert read_word2vec_text(path, duplicates="first")[1].ravel().tolist() == [1, 2]
    assert read_word2vec_text(path, duplicates="last")[1].ravel().tolist() == [3, 2]
    with pytest.raises(
        ValueError,
        match=re.escape("duplicates must be one of 'error', 'first', 'last', got 'keep'"),
    ):
        read_word2vec_text(path, duplicates="keep")  # type: ignore[arg-type]


def test_unicode_errors_replace(tmp_path) -> None:
    path = tmp_path / "v.txt"
    path.write_bytes(b"1 1\n\xff 1\n")
    assert read_word2vec_text(path, unicode_errors="replace")[0] == ["\ufffd"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"2 2\na \x00\x00\x80?\x00\x00\x80?",
            "v.bin: record 2 of 2 (byte 14): the file is truncated; it ends",
        ),
        (
            b"2 2\na \x00\x00\x80?\x00\x00\x80?b \x00\x00",
            "v.bin: record 2 of 2 (byte 14): the file is truncated; the token 'b' has 2 of its 8 bytes of vector data",
        ),
        (
            b"1 1\na \x00\x00\x80?junk",
            "v.bin:1: the header declares 1 vectors, but 4 more bytes follow the last of them",
        ),
        (
            b"2 1\na \x00\x00\x80?a \x00\x00\x80?",
            "v.bin: record 2: duplicate token 'a', first seen at v.bin: record 1",
        ),
        (b"two 1\n", "v.bin:1: expected a header"),
    ],
)
def test_binary_errors(tmp_path, content, message) -> None:
    path = tmp_path / "v.bin"
    path.write_bytes(content)
    with pytest.raises(VectorFormatError, match=re.escape(message)):
        read_word2vec_binary(path)


@pytest.mark.parametrize(
    ("tokens", "matrix", "message"),
    [
        (["a b"], np.zeros((1, 2)), "token 0 ('a b') cannot be written to a vectors file"),
        ([""], np.zeros((1, 2)), "token 0 ('') cannot be written"),
        (["a"], np.zeros((2, 2)), "got 1 tokens for a matrix of 2 rows; they must match"),
        (["a"], np.zeros(2), "matrix must be 2-D (tokens, dimension), got shape (2,)"),
    ],
)
def test_write_errors_write_nothing(tmp_path, tokens, matrix, message) -> None:
    path = tmp_path / "v.txt"
    with pytest.raises(ValueError, match=re.escape(message)):
        write_word2vec_text(path, tokens, matrix)
    assert not path.exists()


def test_compressed_text_reading(tmp_path) -> None:
    raw = (DATA / "word2vec_pre_kv_c").read_bytes()
    for name, data in (("v.gz", gzip.compress(raw)), ("v.bz2", bz2.compress(raw))):
        (tmp_path / name).write_bytes(data)
        assert_array_equal(
            read_word2vec_text(tmp_path / name)[1],
            read_word2vec_text(DATA / "word2vec_pre_kv_c")[1],
        )
