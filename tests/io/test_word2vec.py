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
        (b"", "v.txt: the file is empty"),
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
            "v.bin:1: the header declares 1 vectors, but more data follows the last of them (from byte 10)",
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


@pytest.mark.parametrize(
    "content",
    [
        b"2 3\ncat 1 0 0\ndog 0 1 0\n",  # short numbers: 4*D bytes run past the line
        b"2 3\r\ncat 1 0 0\r\ndog 0 1 0\r\n",  # CRLF
        b"2 2\ncat 0.1 0.2\ndog 0.3 0.4\n",
        b"2 2\ncat 0.1234 0.2345\ndog 0.3 0.4\n",
        b"1 2\ncat nan -inf\n",
        b"1 1\nx 1",  # no final line break
        b"1 2\n\ncat\t1e-3 +2\n",  # blank line, tab, exponent and sign
        b"\xef\xbb\xbf2 3\ncat 1 0 0\ndog 0 1 0\n",  # UTF-8 BOM
    ],
)
def test_detects_text_with_short_numbers(tmp_path, content) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(content)
    assert detect_format(path) == "word2vec"
    tokens, matrix = read_word2vec_text(path)
    assert matrix.shape[0] == len(tokens)
    gz = tmp_path / "f.txt.gz"
    gz.write_bytes(gzip.compress(content))
    assert detect_format(gz) == "word2vec"


def test_detects_gensim_integer_text(tmp_path) -> None:
    gensim = pytest.importorskip("gensim")
    path = tmp_path / "g.txt"
    kv = gensim.models.KeyedVectors(3)
    kv.add_vectors(["a", "b"], np.array([[1, 0, 0], [0, 1, 0]], np.float32))
    kv.save_word2vec_format(str(path))
    assert detect_format(path) == "word2vec"
    from embtable.vectors import Vectors

    assert Vectors.load(path).tokens == ["a", "b"]


@pytest.mark.parametrize(
    "matrix",
    [
        np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),  # bytes 00 00 80 3f
        np.full((2, 3), np.frombuffer(b"\x01\n\x00\x00", "<f4")[0]),  # "\n" inside the data
        np.full((2, 3), np.frombuffer(b"12e\x00", "<f4")[0]),  # number bytes, then one not
    ],
)
@pytest.mark.parametrize("newline", [True, False])
def test_detects_binary(tmp_path, matrix, newline) -> None:
    path = tmp_path / "f.bin"
    write_word2vec_binary(path, ["cat", "dog"], matrix)
    if not newline:  # gensim writes no line break after a vector
        data = path.read_bytes().replace(b"\ndog", b"dog")
        path.write_bytes(data[:-1])
    assert detect_format(path) == "word2vec-binary"
    assert read_word2vec_binary(path)[0] == ["cat", "dog"]


def test_detects_glove_like_header_as_text_and_reports_counts(tmp_path) -> None:
    # a first record with number bytes but another count stays text, so the error names it
    path = tmp_path / "v.txt"
    path.write_bytes(b"10 5\n20 6\n")
    assert detect_format(path) == "word2vec"


def test_utf8_bom_before_header(tmp_path) -> None:
    path = tmp_path / "v.txt"
    path.write_bytes(b"\xef\xbb\xbf1 2\ncat 1 2\n")
    assert read_word2vec_text(path)[0] == ["cat"]
    binary = tmp_path / "v.bin"
    write_word2vec_binary(binary, ["cat"], np.ones((1, 2)))
    binary.write_bytes(b"\xef\xbb\xbf" + binary.read_bytes())
    assert detect_format(binary) == "word2vec-binary"
    assert read_word2vec_binary(binary)[0] == ["cat"]


@pytest.mark.parametrize("suffix", [".gz", ".bz2"])
@pytest.mark.parametrize("binary", [False, True])
def test_truncated_or_corrupt_compressed_file(tmp_path, suffix, binary) -> None:
    path = tmp_path / f"v{suffix}"
    tokens = [f"w{i}" for i in range(5000)]
    matrix = np.arange(5000 * 8, dtype=np.float32).reshape(5000, 8) / 7
    (write_word2vec_binary if binary else write_word2vec_text)(path, tokens, matrix)
    data = path.read_bytes()
    read = read_word2vec_binary if binary else read_word2vec_text
    message = f"v{suffix}: the compressed file is truncated or corrupt"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(VectorFormatError, match=re.escape(message)):
        read(path)
    path.write_bytes(data[:40] + b"\xff" * 64 + data[104:])
    with pytest.raises(VectorFormatError, match=re.escape(message)):
        read(path)
    # detection reads the first 64 KiB: a gzip file cut later is still told (bzip2 decodes
    # 900 kB blocks whole), one cut sooner fails
    if suffix == ".gz":
        path.write_bytes(data[: len(data) - 30])
        assert detect_format(path) == ("word2vec-binary" if binary else "word2vec")
    path.write_bytes(data[:60])
    with pytest.raises(VectorFormatError, match=re.escape(message)):
        detect_format(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"99999999999 100\nab",
            "v.bin: record 1 of 99999999999 (byte 16): the file is truncated; it ends inside a "
            "token (its size leaves room for at most 0 vectors of 100 numbers: the header "
            "'99999999999 100' may be corrupt)",
        ),
        (
            b"1000000 2\ncat \x00\x00\x80?\x00\x00\x80?\n",
            "v.bin: record 2 of 1000000 (byte 22): the file is truncated; it ends (its size "
            "leaves room for at most 1 vectors of 2 numbers: the header '1000000 2' may be "
            "corrupt)",
        ),
        (
            b"1 9999999999\nab",
            "v.bin:1: the header declares dimension 9999999999, more than the 16777216 "
            "embtable reads; the header is corrupt",
        ),
    ],
)
def test_corrupt_header_count_does_not_allocate(tmp_path, content, message) -> None:
    path = tmp_path / "v.bin"
    path.write_bytes(content)
    with pytest.raises(VectorFormatError, match=re.escape(message)):
        read_word2vec_binary(path)
    gz = tmp_path / "v.bin.gz"
    gz.write_bytes(gzip.compress(content))
    with pytest.raises(
        VectorFormatError,
        match=re.escape("the file is truncated")
        if b"9999999999\n" not in content
        else re.escape("the header is corrupt"),
    ):
        read_word2vec_binary(gz)


def test_corrupt_header_count_text(tmp_path) -> None:
    path = tmp_path / "v.txt"
    path.write_bytes(b"99999999999 2\ncat 1 2\n")
    with pytest.raises(
        VectorFormatError,
        match=re.escape(
            "v.txt:1: the header declares 99999999999 vectors, but the file holds 1; "
            "the file is truncated"
        ),
    ):
        read_word2vec_text(path)


def test_compressed_binary_grows_its_matrix(tmp_path, rng, monkeypatch) -> None:
    from embtable.io import _parse

    monkeypatch.setattr(_parse, "_GROW_ROWS_BYTES", 3 * 4 * 5)  # start at 3 rows, then double
    tokens = [f"w{i}" for i in range(37)]
    matrix = rng.normal(size=(37, 5)).astype(np.float32)
    path = tmp_path / "v.bin.gz"
    write_word2vec_binary(path, tokens, matrix)
    read_tokens, read_matrix = read_word2vec_binary(path)
    assert read_tokens == tokens
    assert_array_equal(read_matrix, matrix)
    assert_array_equal(read_word2vec_binary(path, limit=10)[1], matrix[:10])
