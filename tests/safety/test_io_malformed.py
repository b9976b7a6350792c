"""A catalogue of malformed files, JSON and arguments, each with its error type and message.

Every malformed file is a :class:`~embtable.VectorFormatError` naming the file and the line,
record or byte; every bad argument an :class:`~embtable.OptionError` or
:class:`~embtable.OptionTypeError`; none is a RecursionError, a bare ValueError from ``int``,
an AttributeError or a UnicodeEncodeError.
"""

from __future__ import annotations

import gzip
import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embtable import EmbtableError, OptionError, OptionTypeError, VectorFormatError
from embtable.io import (
    load_table,
    read_glove,
    read_word2vec_binary,
    read_word2vec_text,
    registry,
    save_table,
    write_glove,
    write_word2vec_binary,
    write_word2vec_text,
)
from embtable.io.tables import write_vocab_json

DEEP = b"[" * 100_000 + b"]" * 100_000
HUGE_INT = "1" * 5000


def _safetensors(header: dict | bytes, data: bytes = b"") -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def _weight(dtype="F32", shape=(2, 2), offsets=(0, 16)) -> dict:
    return {"weight": {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}}


def _vocab(**fields) -> bytes:
    document = {"format": "embtable-vocab", "version": 1, "tokens": ["a", "b"], **fields}
    return json.dumps(document).encode()


# (name of the case, {file of the table: new bytes}, error message, matched from the start)
TABLE_CASES = [
    (
        "deeply nested safetensors header",
        {"weights.safetensors": _safetensors(DEEP)},
        "weights.safetensors: the safetensors header is not valid JSON (nested deeper than 64 "
        "levels, at byte 64)",
    ),
    (
        "deeply nested vocab.json",
        {"vocab.json": DEEP},
        "vocab.json:1: not valid JSON (nested deeper than 64 levels, at byte 64)",
    ),
    (
        "deeply nested config.json",
        {"config.json": b'{"a":' * 50_000 + b"1" + b"}" * 50_000},
        "config.json:1: not valid JSON (nested deeper than 64 levels, at byte 320)",
    ),
    (
        "5,000-digit count in vocab.json",
        {
            "vocab.json": _vocab().replace(
                b'"b"]', b'"b"], "counts": [' + HUGE_INT.encode() + b", 1]"
            )
        },
        "vocab.json: not valid JSON for embtable (an integer of more than 4300 digits)",
    ),
    (
        "5,000-digit size in the safetensors header",
        {
            "weights.safetensors": _safetensors(
                json.dumps(_weight()).replace("[2, 2]", f"[{HUGE_INT}, 2]").encode(), bytes(16)
            )
        },
        "weights.safetensors: the safetensors header is not valid JSON for embtable (an "
        "integer of more than 4300 digits)",
    ),
    (
        "shape [0, 2**62]",
        {"weights.safetensors": _safetensors(_weight(shape=(0, 2**62), offsets=(0, 0)))},
        "weights.safetensors: tensor 'weight' has shape [0, 4611686018427387904]; embtable "
        "reads dimensions 1..16777216",
    ),
    (
        "shape that overflows the file",
        {"weights.safetensors": _safetensors(_weight(shape=(2**40, 2**20)), bytes(16))},
        "weights.safetensors: tensor 'weight' of shape [1099511627776, 1048576] needs",
    ),
    (
        "BF16 weights",
        {"weights.safetensors": _safetensors(_weight(dtype="BF16", offsets=(0, 8)), bytes(8))},
        "weights.safetensors: tensor 'weight' has dtype 'BF16'; supported: F16, F32, F64",
    ),
    (
        "integer weights",
        {"weights.safetensors": _safetensors(_weight(dtype="I32"), bytes(16))},
        "weights.safetensors: tensor 'weight' has dtype 'I32'; supported: F16, F32, F64",
    ),
    (
        "a string size",
        {"weights.safetensors": _safetensors(_weight(shape=("2", 2)), bytes(16))},
        "weights.safetensors: tensor 'weight' must be 2-D with integer sizes >= 0, has shape "
        "['2', 2]",
    ),
    (
        "a boolean size",
        {"weights.safetensors": _safetensors(_weight(shape=(True, 2)), bytes(16))},
        "weights.safetensors: tensor 'weight' must be 2-D with integer sizes >= 0",
    ),
    (
        "a header that is a list",
        {"weights.safetensors": _safetensors(b"[1, 2]")},
        "weights.safetensors: no tensor named 'weight' (found [])",
    ),
    (
        "truncated safetensors data",
        {"weights.safetensors": _safetensors(_weight(), bytes(15))},
        "weights.safetensors: tensor 'weight' of shape [2, 2] needs 16 bytes, but its "
        "data_offsets are [0, 16] in a data section of 15 bytes",
    ),
    (
        "tokens that are a string",
        {"vocab.json": _vocab(tokens="ab")},
        'vocab.json: "tokens" must be a list of strings',
    ),
    (
        "a lone surrogate token",
        {"vocab.json": _vocab().replace(b'"a"', b'"\\ud800"')},
        "vocab.json: token 0 ('\\ud800') holds '\\ud800', which is not a Unicode character",
    ),
    (
        "a version that is a string",
        {"vocab.json": _vocab(version="1")},
        "vocab.json: vocabulary format version '1' is not supported",
    ),
    (
        "boolean counts",
        {"vocab.json": _vocab(counts=[True, 1])},
        'vocab.json: "counts" must be a list of 2 integers >= 0, one per token',
    ),
    (
        "a config that is a list",
        {"config.json": b"[1]"},
        "config.json: expected a JSON object, found list",
    ),
    (
        "config.json that is not UTF-8",
        {"config.json": b'{"a": "\xff"}'},
        "config.json: not valid UTF-8 (byte 7: invalid start byte)",
    ),
    (
        "more tokens than rows",
        {"vocab.json": _vocab(tokens=["a", "b", "c"])},
        "vocab.json: holds 3 tokens, but weights.safetensors has 2 rows; they must match",
    ),
]


@pytest.mark.parametrize(
    ("files", "message"), [c[1:] for c in TABLE_CASES], ids=[c[0] for c in TABLE_CASES]
)
def test_malformed_tables(tmp_path, files, message) -> None:
    table = tmp_path / "t"
    save_table(table, np.ones((2, 2), np.float32), ["a", "b"])
    for name, data in files.items():
        (table / name).write_bytes(data)
    with pytest.raises(VectorFormatError) as caught:
        load_table(table)
    assert str(caught.value).startswith(message), str(caught.value)
    if "config.json" not in files:  # embtable info peeks at the other two files
        with pytest.raises(VectorFormatError) as peeked:
            registry.peek(table)
        assert str(peeked.value) == str(caught.value)


def _gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


# (name, file name, bytes, reader, message)
FILE_CASES = [
    (
        "5,000-digit header",
        "h.txt",
        f"{HUGE_INT} 3\na 1 2 3\n".encode(),
        read_word2vec_text,
        "h.txt:1: expected a header '<count> <dimension>' (two integers, dimension >= 1)",
    ),
    (
        "header with a sign",
        "h.txt",
        b"+2 1\na 1\nb 2\n",
        read_word2vec_text,
        "h.txt:1: expected a header '<count> <dimension>'",
    ),
    (
        "dimension past the maximum",
        "h.txt",
        b"1 99999999999\na 1\n",
        read_word2vec_text,
        "h.txt:1: the header declares dimension 99999999999, more than the 16777216 embtable reads",
    ),
    (
        "truncated text",
        "t.txt",
        b"3 2\na 1 2\nb 1 2\n",
        read_word2vec_text,
        "t.txt:1: the header declares 3 vectors, but the file holds 2; the file is truncated",
    ),
    (
        "truncated binary",
        "t.bin",
        b"2 2\na " + bytes(8) + b"\nb " + bytes(3),
        read_word2vec_binary,
        "t.bin: record 2 of 2 (byte 14): the file is truncated; the token 'b' has 3 of its 8 bytes",
    ),
    (
        "truncated gzip",
        "g.txt.gz",
        _gz(b"a 1 2\n" * 1000)[:-30],
        read_glove,
        "g.txt.gz: the compressed file is truncated or corrupt",
    ),
    (
        "a lone-surrogate token's bytes",
        "s.txt",
        b"\xed\xa0\x80 1 2\n",
        read_glove,
        "s.txt:1: the token b'\\xed\\xa0\\x80' is not valid utf-8 (invalid continuation byte)",
    ),
    (
        "a field that is no number",
        "n.txt",
        b"a 1 2\nb 1 x\n",
        read_glove,
        "n.txt:2: number 2 after the token 'b' is not a number: 'x'",
    ),
    (
        "a short line",
        "n.txt",
        b"a 1 2\nb 1\n",
        read_glove,
        "n.txt:2: expected 2 numbers after the token 'b', found 1",
    ),
    ("an empty file", "e.txt", b"", read_glove, "e.txt: the file is empty"),
]


@pytest.mark.parametrize(
    ("name", "content", "reader", "message"),
    [c[1:] for c in FILE_CASES],
    ids=[c[0] for c in FILE_CASES],
)
def test_malformed_files(tmp_path, name, content, reader, message) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(VectorFormatError) as caught:
        reader(path)
    assert str(caught.value).startswith(message), str(caught.value)


SURROGATE = "\ud800"


@pytest.mark.parametrize(
    "write",
    [
        lambda p: write_word2vec_text(p / "v.txt", [SURROGATE], np.ones((1, 2))),
        lambda p: write_word2vec_binary(p / "v.bin", [SURROGATE], np.ones((1, 2))),
        lambda p: write_glove(p / "v.txt", ["ok", SURROGATE], np.ones((2, 2))),
        lambda p: save_table(p / "t", np.ones((1, 2)), [SURROGATE]),
        lambda p: write_vocab_json(p / "vocab.json", [SURROGATE]),
    ],
    ids=["word2vec", "word2vec-binary", "glove", "table", "vocab"],
)
def test_writing_a_lone_surrogate_is_an_option_error_and_writes_nothing(tmp_path, write) -> None:
    with pytest.raises(OptionError, match=re.escape("('\\ud800') cannot be saved")):
        write(tmp_path)
    assert list(tmp_path.iterdir()) == []


ARGUMENT_CASES = [
    (
        lambda p: read_glove(p, dtype=np.int32),
        OptionTypeError,
        "dtype must be a floating dtype (float16, float32, float64), got int32",
    ),
    (
        lambda p: read_glove(p, dtype=np.longdouble),
        OptionTypeError,
        "dtype must be a floating dtype (float16, float32, float64), got float128",
    ),
    (
        lambda p: read_glove(p, limit=-1),
        OptionError,
        "limit must be None or an integer >= 0, got -1",
    ),
    (
        lambda p: read_glove(p, limit="3"),
        OptionTypeError,
        "limit must be None or an integer >= 0, got '3'",
    ),
    (
        lambda p: read_glove(p, duplicates="keep"),
        OptionError,
        "duplicates must be one of 'error', 'first', 'last', got 'keep'",
    ),
    (
        lambda p: write_glove(p.parent / "c.txt", ["a"], np.ones((1, 2), complex)),
        OptionTypeError,
        "matrix must hold float16, float32 or float64 numbers, got dtype complex128",
    ),
    (
        lambda p: save_table(p.parent / "c", np.ones((1, 2), np.longdouble), ["a"]),
        OptionTypeError,
        "weight must be a float16, float32 or float64 array, got dtype float128",
    ),
    (
        lambda p: save_table(p.parent / "c", np.ones((1, 2)), ["a"], {"x": object()}),
        OptionTypeError,
        "config cannot be saved as JSON: Object of type object is not JSON serializable",
    ),
    (
        lambda p: registry.read(p, format="word2vec", mmap=True),
        OptionError,
        "mmap=True needs an embtable table directory; 'word2vec' files are parsed into memory",
    ),
    (lambda p: registry.read(p, chunk=3), OptionTypeError, "read() got unknown option(s) chunk"),
    (
        lambda p: registry.read(p, format="csv"),
        OptionError,
        "format must be one of 'auto', 'word2vec'",
    ),
    (
        lambda p: registry.write(p.parent / "out.json", ["a"], np.ones((1, 2))),
        OptionError,
        "cannot tell the format from the name 'out.json': no format has the suffix '.json'",
    ),
    (
        lambda p: registry.write(
            p.parent / "v.txt", ["a"], np.ones((1, 2)), format="glove", config={}
        ),
        OptionError,
        "config is saved only with format='embtable', not 'glove'",
    ),
]


@pytest.mark.parametrize(("call", "error", "message"), ARGUMENT_CASES)
def test_bad_arguments(tmp_path, call, error, message) -> None:
    path = tmp_path / "g.txt"
    path.write_text("a 1 2\n")
    with pytest.raises(error) as caught:
        call(path)
    assert str(caught.value).startswith(message), str(caught.value)
    assert isinstance(caught.value, EmbtableError)


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "embtable.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "meta.json",
            b'{"hyperparameters": [1, 2]}',
            "meta.json: not a valid meta.json: 'hyperparameters' must be a JSON object, got list",
        ),
        ("meta.json", b"[1]", "meta.json: not a valid meta.json: expected a JSON object, got list"),
        ("meta.json", DEEP, "meta.json:1: not valid JSON (nested deeper than 64 levels"),
        ("config.json", b'"text"', "config.json: expected a JSON object, found str"),
        ("vocab.json", _vocab(tokens=[1, 2]), 'vocab.json: "tokens" must be a list of strings'),
    ],
)
def test_info_on_a_table_with_wrong_types_is_one_line(tmp_path, name, content, message) -> None:
    table = tmp_path / "t"
    save_table(table, np.ones((2, 2), np.float32), ["a", "b"], extra_files={"meta.json": b"{}"})
    (table / name).write_bytes(content)
    result = _cli("info", table)
    assert result.returncode == 1, result
    assert result.stderr.startswith("embtable: error: ") and result.stderr.count("\n") == 1, (
        result.stderr
    )
    assert message in result.stderr
    assert "Traceback" not in result.stderr
