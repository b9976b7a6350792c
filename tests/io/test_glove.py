from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from embtable import VectorFormatError
from embtable.io import detect_format, read_glove, write_glove

DATA = Path(__file__).parents[1] / "data"


def test_reads_real_glove_rows_with_non_ascii_words() -> None:
    tokens, matrix = read_glove(DATA / "test_glove.txt")
    assert matrix.shape == (76, 50)
    assert tokens[:3] == ["the", "ö", "é"]
    assert matrix[0, :3].tolist() == np.array([0.418, 0.24968, -0.41242], np.float32).tolist()
    assert detect_format(DATA / "test_glove.txt") == "glove"


# gensim's no_header reader leaves a file open (its bug, not ours)
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_equals_gensim_no_header() -> None:
    KeyedVectors = pytest.importorskip("gensim.models").KeyedVectors  # noqa: N806
    keyed = KeyedVectors.load_word2vec_format(DATA / "test_glove.txt", no_header=True)
    tokens, matrix = read_glove(DATA / "test_glove.txt")
    assert tokens == keyed.index_to_key
    assert_array_equal(matrix, keyed.vectors)


def test_golden_round_trip(tmp_path) -> None:
    path = tmp_path / "g.txt"
    write_glove(path, ["a", "b"], np.array([[0.1, 2.0], [-3.5, 0.0]], np.float32))
    assert path.read_text() == "a 0.1 2.0\nb -3.5 0.0\n"
    assert read_glove(path)[0] == ["a", "b"]


def test_crlf_blank_lines_and_no_final_newline(tmp_path) -> None:
    path = tmp_path / "g.txt"
    path.write_bytes(b"a 1 2\r\n\r\nb 3 4")
    tokens, matrix = read_glove(path)
    assert tokens == ["a", "b"] and matrix.tolist() == [[1, 2], [3, 4]]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"the 0.4 0.2\ntea 0.5\n",
            "glove.6B.50d.txt:2: expected 2 numbers after the token 'tea', found 1",
        ),
        (b"lonely\n", "glove.6B.50d.txt:1: expected numbers after the token 'lonely', found none"),
        (
            b"a 1 2\nb 1 0,5\n",
            "glove.6B.50d.txt:2: number 2 after the token 'b' is not a number: '0,5'",
        ),
        (
            b"a 1\nb 2\na 3\n",
            "glove.6B.50d.txt:3: duplicate token 'a', first seen at glove.6B.50d.txt:1",
        ),
        (b"", "glove.6B.50d.txt: the file is empty (it holds no vector line)"),
        (b"\n\n  \r\n\t\n", "glove.6B.50d.txt: the file is empty (it holds no vector line)"),
        (b"\xef\xbb\xbf", "glove.6B.50d.txt: the file is empty (it holds no vector line)"),
    ],
)
def test_errors(tmp_path, content, message) -> None:
    path = tmp_path / "glove.6B.50d.txt"
    path.write_bytes(content)
    with pytest.raises(VectorFormatError, match=re.escape(message)):
        read_glove(path)


def test_limit_stops_early(tmp_path) -> None:
    path = tmp_path / "g.txt"
    path.write_bytes(b"a 1\nb 2\nbroken\n")
    assert read_glove(path, limit=2)[0] == ["a", "b"]


def test_bad_limit_and_dtype(tmp_path) -> None:
    with pytest.raises(
        ValueError, match=re.escape("limit must be None or an integer >= 0, got -1")
    ):
        read_glove(DATA / "test_glove.txt", limit=-1)
    with pytest.raises(
        TypeError,
        match=re.escape("dtype must be a floating dtype (float16, float32, float64), got int32"),
    ):
        read_glove(DATA / "test_glove.txt", dtype=np.int32)


def test_empty_file_with_limit_zero_reads_nothing(tmp_path) -> None:
    path = tmp_path / "g.txt"
    path.write_bytes(b"")
    tokens, matrix = read_glove(path, limit=0)
    assert tokens == [] and matrix.shape == (0, 0)


def test_utf8_bom_is_skipped(tmp_path) -> None:
    path = tmp_path / "g.txt"
    path.write_bytes(b"\xef\xbb\xbfcat 1 2\r\ndog 3 4\r\n")
    assert detect_format(path) == "glove"
    tokens, matrix = read_glove(path)
    assert tokens == ["cat", "dog"]
    assert_array_equal(matrix, np.array([[1, 2], [3, 4]], np.float32))
    # only at the start: elsewhere it is part of a token
    path.write_bytes(b"cat 1 2\n\xef\xbb\xbfdog 3 4\n")
    assert read_glove(path)[0] == ["cat", "\ufeffdog"]


@pytest.mark.parametrize("suffix", [".gz", ".bz2"])
def test_truncated_or_corrupt_compressed_file(tmp_path, suffix) -> None:
    import bz2
    import gzip

    compress = gzip.compress if suffix == ".gz" else bz2.compress
    data = compress(b"".join(b"w%d 0.5 0.25\n" % i for i in range(20000)))
    path = tmp_path / f"glove.txt{suffix}"
    path.write_bytes(data[: len(data) // 2])
    message = f"glove.txt{suffix}: the compressed file is truncated or corrupt"
    with pytest.raises(VectorFormatError, match=re.escape(message)):
        read_glove(path)
    path.write_bytes(data[:12] + b"\xff" * 64 + data[76:])
    with pytest.raises(VectorFormatError, match=re.escape(message)):
        read_glove(path)
