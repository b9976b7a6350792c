"""The format registry: one table that detection, reading, writing and the CLI agree on."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from embtable import OptionError
from embtable.cli.__main__ import build_parser, main
from embtable.io import detect_format, registry

TOKENS = ["cat", "dog", "café"]
MATRIX = np.array([[0.5, -1.0], [2.0, 0.25], [1e-3, 3.0]], np.float32)


def _choices(command: str, flag: str) -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._subparsers._group_actions).choices[command]  # type: ignore[union-attr]
    return list(sub._option_string_actions[flag].choices)


def test_the_cli_offers_the_registry_formats() -> None:
    assert _choices("convert", "--from") == list(registry.readable())
    assert _choices("convert", "--to") == list(registry.writable())
    assert _choices("info", "--format") == list(registry.readable())


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("v.txt", "word2vec"),
        ("v.TXT.GZ", "word2vec"),
        ("v.bin", "word2vec-binary"),
        ("v.bin.bz2", "word2vec-binary"),
        ("wiki.en.vec", "fasttext"),
        ("table", "embtable"),
        ("out/glove.6B", "embtable"),
        ("run.2024-01", "embtable"),
    ],
)
def test_format_for_path(name, expected) -> None:
    assert registry.format_for_path(name) == expected


@pytest.mark.parametrize("name", ["out.json", "v.npy", "v.gz", "t.csv.bz2"])
def test_format_for_path_refuses_names_it_cannot_tell(name) -> None:
    with pytest.raises(
        OptionError, match=re.escape(f"cannot tell the format from the name {name!r}")
    ):
        registry.format_for_path(name)


@pytest.mark.parametrize("fmt", ["word2vec", "word2vec-binary", "glove", "fasttext", "embtable"])
def test_write_then_read_each_format(tmp_path, fmt) -> None:
    entry = registry.get(fmt)
    name = "out" + (entry.suffixes[0] if entry.suffixes else "")
    assert registry.write(tmp_path / name, TOKENS, MATRIX, format=fmt) == fmt
    tokens, matrix = registry.read(tmp_path / name, format=fmt)
    assert tokens == TOKENS
    assert_array_equal(matrix, MATRIX)
    detected = detect_format(tmp_path / name)
    assert detected == ("word2vec" if fmt == "fasttext" else fmt)
    summary = registry.peek(tmp_path / name)
    assert (summary.rows, summary.dim, summary.tokens) == (3, 2, tuple(TOKENS))


def test_the_name_alone_picks_the_format_for_save_and_convert(tmp_path) -> None:
    """``write(path)`` and ``embtable convert IN path`` pick the same format from a name."""
    source = tmp_path / "in.txt"
    registry.write(source, TOKENS, MATRIX)
    for name in ["a.bin", "a.vec", "a.txt.gz", "table"]:
        written = registry.write(tmp_path / "api" / name, TOKENS, MATRIX)
        assert main(["convert", str(source), str(tmp_path / "cli" / name)]) == 0
        assert detect_format(tmp_path / "cli" / name) == detect_format(tmp_path / "api" / name)
        assert written == registry.format_for_path(name)


def test_read_options_keep_vectors_load_semantics(tmp_path) -> None:
    registry.write(tmp_path / "t", TOKENS, MATRIX)
    tokens, matrix = registry.read(tmp_path / "t", mmap=True, limit=2)
    assert tokens == TOKENS[:2] and not matrix.flags.writeable
    _, matrix = registry.read(tmp_path / "t", dtype=np.float64)
    assert matrix.dtype == np.float64
    _, matrix = registry.read(  # every default given, as Vectors.load passes them
        tmp_path / "t",
        limit=None,
        dtype=None,
        progress=None,
        duplicates="error",
        encoding="utf-8",
        unicode_errors="strict",
        mmap=False,
    )
    assert matrix.dtype == np.float32


def test_a_new_format_is_one_entry(tmp_path, monkeypatch) -> None:
    """An entry with a new name and suffix reaches detection, reading, writing and the CLI."""
    glove = registry.get("glove")
    extra = dataclasses.replace(
        glove, name="glove-alias", suffixes=(".glv",), sniffer=None, description="a test entry"
    )
    monkeypatch.setattr(registry, "FORMATS", (*registry.FORMATS, extra))
    assert registry.format_for_path("v.glv") == "glove-alias"
    registry.write(tmp_path / "v.glv", TOKENS, MATRIX)
    assert registry.read(tmp_path / "v.glv", format="glove-alias")[0] == TOKENS
    assert "glove-alias" in _choices("convert", "--to")
    assert (
        main(["convert", str(tmp_path / "v.glv"), str(tmp_path / "w.glv"), "--from", "glove-alias"])
        == 0
    )
    assert (tmp_path / "w.glv").read_text() == (tmp_path / "v.glv").read_text()


def test_shared_suffixes_default_to_the_first_entry_and_allow_the_others(tmp_path) -> None:
    assert registry.format_for_path("v.txt") == "word2vec"
    registry.check_output_name("v.txt", "glove")  # glove lists .txt too
    # fastText .vec is word2vec text byte for byte: each takes the other's suffix.
    registry.check_output_name("v.txt", "fasttext")
    registry.check_output_name("v.vec", "word2vec")
    assert registry.format_for_path("v.vec") == "fasttext"  # the main owner of .vec
    with pytest.raises(OptionError, match=r"names the 'word2vec' format, not 'word2vec-binary'"):
        registry.check_output_name("v.txt", "word2vec-binary")


def test_get_and_names() -> None:
    assert registry.names() == tuple(entry.name for entry in registry.FORMATS)
    assert len(set(registry.names())) == len(registry.names())
    for entry in registry.FORMATS:
        for role in ("reader", "writer", "sniffer", "peeker"):
            if getattr(entry, role) is not None:
                assert callable(entry.function(role)), (entry.name, role)
        assert all(s == s.lower() and s.startswith(".") for s in entry.suffixes)
    with pytest.raises(OptionError, match="format must be one of 'word2vec'"):
        registry.get("npy")


def test_fasttext_bin_models_have_an_entry(tmp_path) -> None:
    from embtable.io.fasttext import FASTTEXT_BIN_MAGIC

    path = tmp_path / "model.bin"
    path.write_bytes(FASTTEXT_BIN_MAGIC + (12).to_bytes(4, "little") + bytes(64))
    from embtable.io import detect_format

    assert detect_format(path) == "fasttext-bin"


def test_io_modules_write_only_through_the_atomic_helpers() -> None:
    """No writer of io/ opens files for writing by itself (the helpers do)."""
    io_dir = Path(registry.__file__).parent
    offenders = []
    for path in io_dir.glob("*.py"):
        if path.name in {"_atomic.py", "fasttext_bin.py", "projector.py"}:
            continue
        text = path.read_text()
        for pattern in (
            r"open\([^)]*['\"][wax]b?['\"]",
            r"(?<!_parse)\.write_(bytes|text)\(",
            r"save_file\(",
        ):
            for match in re.finditer(pattern, text):
                line = text.count("\n", 0, match.start()) + 1
                context = text.splitlines()[line - 1]
                if ">>>" in context or "staging" in context:
                    continue  # doctest examples; files inside an atomic_directory
                offenders.append(f"{path.name}:{line}: {context.strip()}")
    assert offenders == []


_TOKEN = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Zs", "Cc"), blacklist_characters="\u2028\u2029\x85"
    ),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    tokens=st.lists(_TOKEN, min_size=1, max_size=6, unique=True),
    fmt=st.sampled_from(["word2vec", "word2vec-binary", "glove", "fasttext", "embtable"]),
    data=st.data(),
)
def test_every_writable_format_reads_back_exactly(tmp_path_factory, tokens, fmt, data) -> None:
    """Law: read(write(tokens, matrix)) == (tokens, matrix) for float32 tables, every format."""
    matrix = data.draw(
        st.lists(
            st.lists(st.floats(width=32, allow_nan=False), min_size=3, max_size=3),
            min_size=len(tokens),
            max_size=len(tokens),
        ).map(lambda rows: np.array(rows, np.float32))
    )
    entry = registry.get(fmt)
    path = tmp_path_factory.mktemp("law") / ("out" + (entry.suffixes[0] if entry.suffixes else ""))
    registry.write(path, tokens, matrix, format=fmt)
    read_tokens, read_matrix = registry.read(path, format=fmt)
    assert read_tokens == tokens
    assert_array_equal(read_matrix, matrix)


def test_the_format_names_of_vectors_type_hints_are_the_registrys() -> None:
    # vectors.py spells the names out for type checkers; they must not drift from the registry
    import typing

    from embtable import vectors

    assert typing.get_args(vectors.LoadFormat) == ("auto", *registry.readable())
    assert typing.get_args(vectors.SaveFormat) == registry.writable()
