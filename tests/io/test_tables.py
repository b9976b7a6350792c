from __future__ import annotations

import json
import re
import struct

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from embtable import EmbtableError, VectorFormatError
from embtable.io import load_table, save_table
from embtable.text import Vocab


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("mmap", [False, True])
def test_round_trip(tmp_path, rng, dtype, mmap) -> None:
    weight = rng.normal(size=(5, 3)).astype(dtype)
    tokens = ["<pad>", "a", "é", "東京", "z"]
    save_table(tmp_path / "t", weight, tokens, {"lr": 0.1, "name": "ü"})
    got, got_tokens, config = load_table(tmp_path / "t", mmap=mmap)
    assert_array_equal(got, weight)
    assert got.dtype == dtype
    assert got_tokens == tokens and config == {"lr": 0.1, "name": "ü"}
    if mmap:
        assert isinstance(got, np.memmap) and not got.flags.writeable
        with pytest.raises(ValueError):
            got[0, 0] = 1
    else:
        assert got.flags.writeable and not isinstance(got, np.memmap)
    del got


def test_layout_is_safetensors_plus_json(tmp_path) -> None:
    weight = np.arange(6, dtype=np.float32).reshape(3, 2)
    save_table(tmp_path, weight, ["a", "b", "c"])
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "config.json",
        "vocab.json",
        "weights.safetensors",
    ]
    raw = (tmp_path / "weights.safetensors").read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length])
    assert header["weight"] == {"dtype": "F32", "shape": [3, 2], "data_offsets": [0, 24]}
    assert header["__metadata__"] == {"format": "embtable-table", "version": "1"}
    assert raw[8 + length :] == weight.tobytes()
    assert json.loads((tmp_path / "vocab.json").read_text()) == {
        "format": "embtable-vocab",
        "version": 1,
        "tokens": ["a", "b", "c"],
    }
    assert json.loads((tmp_path / "config.json").read_text()) == {}
    from safetensors.numpy import load_file

    assert_array_equal(load_file(tmp_path / "weights.safetensors")["weight"], weight)


def test_reads_file_written_by_safetensors(tmp_path) -> None:
    from safetensors.numpy import save_file

    weight = np.arange(8, dtype=np.float64).reshape(4, 2)
    save_file(
        {"weight": weight, "other": np.zeros(3, np.float32)}, tmp_path / "weights.safetensors"
    )
    (tmp_path / "vocab.json").write_text(
        '{"format": "embtable-vocab", "version": 1, "tokens": ["a", "b", "c", "d"]}'
    )
    (tmp_path / "config.json").write_text("{}")
    got, _, _ = load_table(tmp_path, mmap=True)
    assert_array_equal(got, weight)
    del got


def test_vocab_is_saved_whole_and_loadable(tmp_path) -> None:
    vocab = Vocab.build([["a", "b", "a"]])
    save_table(tmp_path, np.zeros((len(vocab), 2), np.float32), vocab)
    assert Vocab.load(tmp_path / "vocab.json") == vocab


def test_empty_table(tmp_path) -> None:
    save_table(tmp_path, np.zeros((0, 4), np.float32), [])
    for mmap in (False, True):
        weight, tokens, _ = load_table(tmp_path, mmap=mmap)
        assert weight.shape == (0, 4) and tokens == []


@pytest.mark.parametrize(
    ("weight", "tokens", "message"),
    [
        (
            np.zeros((2, 2), np.int32),
            ["a", "b"],
            "weight must be a float16, float32 or float64 array, got dtype int32",
        ),
        (np.zeros(2), ["a", "b"], "weight must be a 2-D (tokens, dimension) array, got shape (2,)"),
        (np.zeros((2, 2)), ["a"], "got 1 tokens for a weight of 2 rows; they must match"),
        (np.zeros((2, 2)), ["a", "a"], "token 'a' appears twice, at ids 0 and 1"),
        (np.zeros((1, 2)), [3], "token 0 must be a string, got int"),
    ],
)
def test_save_errors_write_nothing(tmp_path, weight, tokens, message) -> None:
    with pytest.raises(EmbtableError, match=re.escape(message)):
        save_table(tmp_path / "t", weight, tokens)
    assert not (tmp_path / "t").exists()


def _corrupt(tmp_path, edit) -> None:
    save_table(tmp_path, np.ones((2, 2), np.float32), ["a", "b"])
    edit(tmp_path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: (d / "weights.safetensors").write_bytes(b"\x01"),
            "weights.safetensors: 1 bytes is too short for a safetensors file",
        ),
        (
            lambda d: (d / "weights.safetensors").write_bytes(
                (d / "weights.safetensors").read_bytes()[:-1]
            ),
            "weights.safetensors: tensor 'weight' of shape [2, 2] needs 16 bytes, but its data_offsets are [0, 16] in a data section of 15 bytes",
        ),
        (
            lambda d: (d / "weights.safetensors").write_bytes(struct.pack("<Q", 999) + b"{}"),
            "weights.safetensors: the header length 999 exceeds the 2 bytes that follow it",
        ),
        (
            lambda d: (d / "weights.safetensors").write_bytes(struct.pack("<Q", 2) + b"{]"),
            "weights.safetensors: the safetensors header is not valid JSON",
        ),
        (
            lambda d: (d / "weights.safetensors").write_bytes(
                struct.pack("<Q", 12) + b'{"w": {}}   '
            ),
            "weights.safetensors: no tensor named 'weight' (found ['w'])",
        ),
        (
            lambda d: (d / "vocab.json").write_text(
                '{"format": "embtable-vocab", "version": 1, "tokens": ["a"]}'
            ),
            "vocab.json: holds 1 tokens, but weights.safetensors has 2 rows",
        ),
        (
            lambda d: (d / "config.json").write_text("[]"),
            "config.json: expected a JSON object, found list",
        ),
        (lambda d: (d / "config.json").write_text("{"), "config.json:1: not valid JSON"),
    ],
)
def test_load_errors(tmp_path, edit, message) -> None:
    _corrupt(tmp_path, edit)
    with pytest.raises(VectorFormatError, match=re.escape(message)):
        load_table(tmp_path)


def test_unsupported_dtype(tmp_path) -> None:
    from safetensors.numpy import save_file

    save_table(tmp_path, np.ones((2, 2), np.float32), ["a", "b"])
    save_file({"weight": np.ones((2, 2), np.int8)}, tmp_path / "weights.safetensors")
    with pytest.raises(
        VectorFormatError,
        match=re.escape(
            "weights.safetensors: tensor 'weight' has dtype 'I8'; supported: F16, F32, F64"
        ),
    ):
        load_table(tmp_path)


def test_missing_file(tmp_path) -> None:
    with pytest.raises(FileNotFoundError):
        load_table(tmp_path)


def _edit_weight_entry(directory, **changes) -> None:
    path = directory / "weights.safetensors"
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length])
    header["weight"].update(changes)
    encoded = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + raw[8 + length :])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"data_offsets": [-8, 16]},
            "weights.safetensors: tensor 'weight' of shape [2, 3] needs 24 bytes, but its "
            "data_offsets are [-8, 16]",
        ),
        (
            {"data_offsets": ["0", "24"]},
            "weights.safetensors: tensor 'weight' of shape [2, 3] needs 24 bytes, but its "
            "data_offsets are ['0', '24']",
        ),
        (
            {"data_offsets": [0.0, 24.0]},
            "weights.safetensors: tensor 'weight' of shape [2, 3] needs 24 bytes, but its "
            "data_offsets are [0.0, 24.0]",
        ),
        (
            {"dtype": ["F32"]},
            "weights.safetensors: tensor 'weight' has dtype ['F32']; supported: F16, F32, F64",
        ),
        (
            {"shape": [True, 3]},
            "weights.safetensors: tensor 'weight' must be 2-D with integer sizes >= 0, "
            "has shape [True, 3]",
        ),
    ],
)
@pytest.mark.parametrize("mmap", [False, True])
def test_bad_safetensors_entries(tmp_path, changes, message, mmap) -> None:
    save_table(tmp_path, np.ones((2, 3), np.float32), ["a", "b"])
    _edit_weight_entry(tmp_path, **changes)
    with pytest.raises(VectorFormatError, match=re.escape(message)):
        load_table(tmp_path, mmap=mmap)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"specials": [["a"]]}, 'vocab.json: "specials" must be a list of tokens'),
        ({"specials": [1]}, 'vocab.json: "specials" must be a list of tokens'),
        (
            {"specials": ["a"], "unk_token": ["a"]},
            "vocab.json: \"unk_token\" ['a'] must be null or one of the specials ['a']",
        ),
    ],
)
def test_bad_vocab_specials(tmp_path, fields, message) -> None:
    save_table(tmp_path, np.ones((2, 3), np.float32), ["a", "b"])
    document = {"format": "embtable-vocab", "version": 1, "tokens": ["a", "b"], **fields}
    (tmp_path / "vocab.json").write_text(json.dumps(document))
    with pytest.raises(VectorFormatError, match=re.escape(message)):
        load_table(tmp_path)
    with pytest.raises(VectorFormatError, match=re.escape(message)):
        Vocab.load(tmp_path / "vocab.json")


def test_config_not_utf8(tmp_path) -> None:
    save_table(tmp_path, np.ones((2, 3), np.float32), ["a", "b"])
    (tmp_path / "config.json").write_bytes(b"\xff\xfe")
    with pytest.raises(
        VectorFormatError,
        match=re.escape("config.json: not valid UTF-8 (byte 0: invalid start byte)"),
    ):
        load_table(tmp_path)


@pytest.mark.parametrize(
    ("tokens", "config", "message"),
    [
        (["a", "\ud800"], {}, "token 1 ('\\ud800') cannot be saved: it is not encodable as UTF-8"),
        (["a", "b"], {"x": "\udcff"}, "config cannot be saved as UTF-8: it holds '\\udcff'"),
    ],
)
def test_unencodable_text_writes_nothing(tmp_path, tokens, config, message) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        save_table(tmp_path / "t", np.ones((2, 3), np.float32), tokens, config)
    assert not (tmp_path / "t").exists()
