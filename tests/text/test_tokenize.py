from __future__ import annotations

import bz2
import gzip
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from embtable import VectorFormatError
from embtable.text import (
    get_tokenizer,
    iter_lines,
    iter_tokenized,
    regex_tokenize,
    whitespace_tokenize,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, World!", ["hello", "world"]),
        ("Don't stop—it's rock'n'roll.", ["don't", "stop", "it's", "rock'n'roll"]),
        ("It\u2019s fine", ["it\u2019s", "fine"]),
        ("'quoted' words'", ["quoted", "words"]),
        ("Zürich, São Paulo, Ærøskøbing", ["zürich", "são", "paulo", "ærøskøbing"]),
        ("cafe\u0301 café", ["café", "café"]),  # NFC: both spellings give one token
        ("안녕하세요 세계!", ["안녕하세요", "세계"]),
        ("我爱北京", ["我", "爱", "北", "京"]),
        ("東京タワーに行く", ["東", "京", "タ", "ワ", "ー", "に", "行", "く"]),
        ("नमस्ते दुनिया", ["नमस्ते", "दुनिया"]),
        ("Привет, МИР", ["привет", "мир"]),
        ("pi=3.14, snake_case", ["pi", "3", "14", "snake_case"]),
        ("emoji 🙂 ok", ["emoji", "ok"]),
        ("", []),
    ],
)
def test_regex_tokenize_golden(text: str, expected: list[str]) -> None:
    assert regex_tokenize(text) == expected


def test_regex_tokenize_keeps_case_on_request() -> None:
    assert regex_tokenize("The CAT", lower=False) == ["The", "CAT"]


def test_regex_tokenize_rejects_non_strings() -> None:
    with pytest.raises(TypeError, match=re.escape("text must be a str, got bytes")):
        regex_tokenize(b"bytes")  # type: ignore[arg-type]


@given(st.text())
def test_regex_tokens_are_nonempty_substrings_without_space(text: str) -> None:
    for token in regex_tokenize(text, lower=False):
        assert token
        assert not any(c.isspace() for c in token)


@given(st.text())
def test_regex_tokenize_never_drops_letters(text: str) -> None:
    import unicodedata

    normal = unicodedata.normalize("NFC", text)
    letters = sorted(c for c in normal if c.isalpha())
    kept = sorted(c for token in regex_tokenize(text, lower=False) for c in token if c.isalpha())
    assert kept == letters


def test_whitespace_tokenize() -> None:
    assert whitespace_tokenize(" a\tb\nc  ") == ["a", "b", "c"]


def test_get_tokenizer_names_and_callables() -> None:
    assert get_tokenizer("regex") is regex_tokenize
    assert get_tokenizer("regex-cased")("The Cat") == ["The", "Cat"]
    assert get_tokenizer("whitespace") is whitespace_tokenize

    def mine(text: str) -> list[str]:
        return list(text)

    assert get_tokenizer(mine) is mine


def test_get_tokenizer_errors() -> None:
    with pytest.raises(
        ValueError,
        match=re.escape(
            "unknown tokenizer 'spacy'; valid names: 'regex', 'regex-cased', 'whitespace'"
        ),
    ):
        get_tokenizer("spacy")
    with pytest.raises(TypeError, match=re.escape("tokenizer must be a name")):
        get_tokenizer(3)  # type: ignore[arg-type]


@pytest.mark.parametrize("compress", [None, "gzip", "bz2"])
def test_iter_lines_plain_and_compressed(tmp_path, compress) -> None:
    payload = b"first line\r\nzweite Zeile\n\nlast without newline"
    path = tmp_path / "corpus.data"  # no telling suffix: the magic decides
    if compress == "gzip":
        payload = gzip.compress(payload)
    elif compress == "bz2":
        payload = bz2.compress(payload)
    path.write_bytes(payload)
    assert list(iter_lines(path)) == ["first line", "zweite Zeile", "", "last without newline"]


def test_iter_lines_is_lazy_and_chains_files(tmp_path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("a1\na2\n")
    b.write_text("b1\n")
    lines = iter_lines([a, b])
    assert next(lines) == "a1"  # nothing read beyond what was asked
    assert list(lines) == ["a2", "b1"]


def test_iter_lines_rejects_bad_paths_and_bad_bytes(tmp_path) -> None:
    with pytest.raises(
        TypeError, match=re.escape("paths must be paths or an iterable of paths, got 3")
    ):
        list(iter_lines([3]))  # type: ignore[list-item]
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\n\xff\xfe\n")
    with pytest.raises(
        VectorFormatError,
        match=re.escape(
            "bad.txt:2: the bytes b'\\xff' are not valid utf-8 (invalid start byte); "
            "re-encode the file as utf-8, or pass the encoding it uses"
        ),
    ):
        list(iter_lines(bad))
    assert list(iter_lines(bad, errors="replace")) == ["ok", "\ufffd\ufffd"]


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (b"\xe9", 1),
        (b"a\r\nb\r\ncaf\xe9\n", 3),  # CRLF
        (b"a\rb\rc\r\xe9\n", 4),  # lone CR ends lines too
        (b"a\n" * 20000 + b"x\xe9\n", 20001),  # far beyond the text layer's first chunk
        (b"ok\n\xe2\x82", 2),  # cut inside a multi-byte character at the end
    ],
)
def test_iter_lines_names_the_line_of_undecodable_bytes(tmp_path, content, line) -> None:
    path = tmp_path / "corpus.txt"
    path.write_bytes(content)
    with pytest.raises(VectorFormatError, match=re.escape(f"corpus.txt:{line}: the bytes ")):
        list(iter_lines(path))
    gz = tmp_path / "corpus.txt.gz"
    gz.write_bytes(gzip.compress(content))
    with pytest.raises(VectorFormatError, match=re.escape(f"corpus.txt.gz:{line}: the bytes ")):
        list(iter_lines(gz))


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress])
def test_iter_lines_truncated_or_corrupt_compressed_file(tmp_path, compress) -> None:
    data = compress(("word " * 20 + "\n").encode() * 5000)
    truncated = tmp_path / "truncated.txt.gz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        VectorFormatError,
        match=re.escape("truncated.txt.gz: the compressed file is truncated or corrupt"),
    ):
        list(iter_lines(truncated))
    corrupt = tmp_path / "corrupt.txt.gz"
    corrupt.write_bytes(data[:12] + b"\xff" * 64 + data[76:])
    with pytest.raises(
        VectorFormatError,
        match=re.escape("corrupt.txt.gz: the compressed file is truncated or corrupt"),
    ):
        list(iter_lines(corrupt))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("カタ・カナ", ["カ", "タ", "カ", "ナ"]),  # U+30FB middle dot is punctuation
        ("ア\u30a0イ", ["ア", "イ"]),  # U+30A0 double hyphen
        ("か\u309b き\u309c", ["か", "き"]),  # spacing sound marks are symbols
        ("ー\u309dヽヿ", ["ー", "\u309d", "ヽ", "ヿ"]),  # length and iteration marks are letters
    ],
)
def test_kana_punctuation_is_dropped(text, expected) -> None:
    assert regex_tokenize(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\u0301abc", ["abc"]),  # a leading mark is dropped, not glued to the word
        ("x \u0301\u0302 y", ["x", "y"]),  # marks after a space are dropped
        ("(\u0301a)", ["a"]),
        ("a\u0301b", ["áb"]),  # NFC composes; a mark after a letter stays in the word
        ("\u0915\u093f", ["\u0915\u093f"]),  # Devanagari vowel sign continues the word
        ("l'\u0301a", ["l", "a"]),  # nor does a mark start the part after an apostrophe
    ],
)
def test_combining_marks_never_start_a_token(text, expected) -> None:
    assert regex_tokenize(text) == expected


def test_iter_tokenized_on_real_corpus() -> None:
    from pathlib import Path

    path = Path(__file__).parents[1] / "data" / "lee_background.cor"
    token_lists = list(iter_tokenized(path))
    assert len(token_lists) == 300
    assert sum(map(len, token_lists)) > 55_000
    assert token_lists[0][:4] == regex_tokenize(path.read_text().splitlines()[0])[:4]


def test_iter_tokenized_with_callable(tmp_path) -> None:
    path = tmp_path / "c.txt"
    path.write_text("a-b c\n")
    assert list(iter_tokenized(path, lambda s: s.split("-"))) == [["a", "b c"]]
