from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from embtable import VectorFormatError
from embtable._errors import EmbeddingIndexError
from embtable.text import Vocab

DATA = [["b", "a", "c"], ["a", "b", "d"], ["a", "e"]]

tokens_strategy = st.lists(st.lists(st.text(min_size=1, max_size=5), max_size=8), max_size=8)


def test_build_orders_specials_then_count_then_first_occurrence() -> None:
    vocab = Vocab.build(DATA)
    assert vocab.id_to_token == ["<unk>", "<pad>", "a", "b", "c", "d", "e"]
    assert_array_equal(vocab.counts, [0, 0, 3, 2, 1, 1, 1])
    assert vocab.counts.dtype == np.int64
    assert vocab.token_to_id == {t: i for i, t in enumerate(vocab.id_to_token)}
    assert (vocab.unk_id, vocab.pad_id, vocab.specials) == (0, 1, ("<unk>", "<pad>"))


def test_build_min_freq_and_max_size_counts_non_specials() -> None:
    assert Vocab.build(DATA, min_freq=2).id_to_token == ["<unk>", "<pad>", "a", "b"]
    assert Vocab.build(DATA, max_size=3).id_to_token == ["<unk>", "<pad>", "a", "b", "c"]
    assert Vocab.build(DATA, max_size=0).id_to_token == ["<unk>", "<pad>"]


def test_specials_in_data_are_not_counted() -> None:
    vocab = Vocab.build([["<unk>", "x", "<pad>"]])
    assert vocab.id_to_token == ["<unk>", "<pad>", "x"]
    assert_array_equal(vocab.counts, [0, 0, 1])


def test_no_specials() -> None:
    vocab = Vocab.build(DATA, specials=(), unk_token=None, pad_token=None)
    assert vocab.id_to_token[:2] == ["a", "b"]
    assert vocab.unk_id is None and vocab.pad_id is None
    with pytest.raises(
        KeyError, match=re.escape("token 'zzz' is not in the vocabulary of 5 tokens")
    ):
        vocab["zzz"]


def test_from_counts_keeps_mapping_order_for_ties() -> None:
    vocab = Vocab.from_counts({"z": 2, "y": 2, "x": 5}, specials=["<unk>"], pad_token=None)
    assert vocab.id_to_token == ["<unk>", "x", "z", "y"]


def test_lookups() -> None:
    vocab = Vocab.build(DATA)
    assert vocab["a"] == 2 and vocab["unknown"] == 0
    assert "a" in vocab and "unknown" not in vocab and len(vocab) == 7
    assert_array_equal(vocab.lookup_indices(["e", "nope", "a"]), [6, 0, 2])
    assert vocab.lookup_indices([]).dtype == np.int64
    assert vocab.lookup_tokens(np.array([[2, 3], [0, 6]])) == ["a", "b", "<unk>", "e"]
    assert list(vocab) == vocab.id_to_token


def test_lookup_tokens_errors() -> None:
    vocab = Vocab.build(DATA)
    with pytest.raises(
        EmbeddingIndexError,
        match=re.escape(
            "id 7 at position 1 is out of range for a vocabulary of 7 tokens (valid: 0..6)"
        ),
    ):
        vocab.lookup_tokens([1, 7])
    with pytest.raises(IndexError, match=re.escape("id -1 at position (1, 0)")):
        vocab.lookup_tokens([[1], [-1]])
    with pytest.raises(TypeError, match=re.escape("ids must be integers, got float64")):
        vocab.lookup_tokens([1.0])


def test_encode_pads_and_truncates() -> None:
    vocab = Vocab.build(DATA)
    ids, lengths = vocab.encode(["A b c d", "e", ""], max_length=3)
    assert_array_equal(ids, [[2, 3, 4], [6, 1, 1], [1, 1, 1]])
    assert_array_equal(lengths, [3, 1, 0])
    assert ids.dtype == lengths.dtype == np.int64
    ids, lengths = vocab.encode([["a", "zz"]], tokenizer="whitespace")  # pre-tokenised
    assert_array_equal(ids, [[2, 0]])
    ids, lengths = vocab.encode([])
    assert ids.shape == (0, 0) and lengths.shape == (0,)
    rows, lengths = vocab.encode(["a b", "c"], padding=False)
    assert [r.tolist() for r in rows] == [[2, 3], [4]]


def test_encode_errors() -> None:
    no_pad = Vocab.build(DATA, specials=["<unk>"], pad_token=None)
    with pytest.raises(ValueError, match=re.escape("cannot pad: this vocabulary has no pad_token")):
        no_pad.encode(["a"])
    vocab = Vocab.build(DATA)
    with pytest.raises(
        TypeError, match=re.escape("texts must be an iterable of texts, got a single str")
    ):
        vocab.encode("a b")
    with pytest.raises(
        ValueError, match=re.escape("max_length must be None or an integer >= 0, got -1")
    ):
        vocab.encode(["a"], max_length=-1)
    strict = Vocab.build(DATA, specials=["<pad>"], unk_token=None)
    with pytest.raises(
        KeyError, match=re.escape("token 'q' at position 1 of text 1 is not in the vocabulary")
    ):
        strict.encode(["a", "b q"])


def test_encode_bags() -> None:
    vocab = Vocab.build(DATA)
    ids, offsets = vocab.encode_bags(["a b", "", "c d e"], max_length=2)
    assert_array_equal(ids, [2, 3, 4, 5])
    assert_array_equal(offsets, [0, 2, 2])
    ids, offsets = vocab.encode_bags([])
    assert ids.shape == offsets.shape == (0,)
    assert ids.dtype == offsets.dtype == np.int64


@given(tokens_strategy, st.integers(0, 4) | st.none())
def test_encode_properties(token_lists, max_length) -> None:
    vocab = Vocab.build(token_lists)
    ids, lengths = vocab.encode(token_lists, max_length=max_length)
    bag_ids, offsets = vocab.encode_bags(token_lists, max_length=max_length)
    for row, tokens in enumerate(token_lists):
        kept = tokens if max_length is None else tokens[:max_length]
        assert lengths[row] == len(kept)
        assert vocab.lookup_tokens(ids[row, : lengths[row]]) == list(kept)
        assert (ids[row, lengths[row] :] == vocab.pad_id).all()
    expected = [i for row in range(len(token_lists)) for i in ids[row, : lengths[row]].tolist()]
    assert bag_ids.tolist() == expected
    assert_array_equal(
        offsets, np.concatenate(([0], np.cumsum(lengths)[:-1])) if len(lengths) else []
    )


@given(tokens_strategy, st.integers(1, 3), st.integers(0, 10) | st.none())
def test_save_load_round_trip(tmp_path_factory, token_lists, min_freq, max_size) -> None:
    vocab = Vocab.build(token_lists, min_freq=min_freq, max_size=max_size)
    path = tmp_path_factory.mktemp("vocab") / "vocab.json"
    vocab.save(path)
    loaded = Vocab.load(path)
    assert loaded == vocab
    assert loaded.id_to_token == vocab.id_to_token
    assert_array_equal(loaded.counts, vocab.counts)
    assert (loaded.unk_id, loaded.pad_id) == (vocab.unk_id, vocab.pad_id)


def test_saved_json_layout(tmp_path) -> None:
    Vocab.build([["é", "a", "é"]]).save(tmp_path / "v.json")
    document = json.loads((tmp_path / "v.json").read_text(encoding="utf-8"))
    assert document == {
        "format": "embtable-vocab",
        "version": 1,
        "tokens": ["<unk>", "<pad>", "é", "a"],
        "counts": [0, 0, 2, 1],
        "specials": ["<unk>", "<pad>"],
        "unk_token": "<unk>",
        "pad_token": "<pad>",
    }
    assert "é" in (tmp_path / "v.json").read_text(encoding="utf-8")  # not \u-escaped


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("[1, 2", "v.json:1: not valid JSON"),
        (
            '{"format": "other"}',
            'v.json: expected a JSON object with "format": "embtable-vocab", found \'other\'',
        ),
        (
            '{"format": "embtable-vocab", "version": 2, "tokens": []}',
            "v.json: vocabulary format version 2 is not supported",
        ),
        (
            '{"format": "embtable-vocab", "version": 1, "tokens": [1]}',
            'v.json: "tokens" must be a list of strings',
        ),
        (
            '{"format": "embtable-vocab", "version": 1, "tokens": ["a", "a"]}',
            "v.json: token 'a' appears twice, at ids 0 and 1",
        ),
        (
            '{"format": "embtable-vocab", "version": 1, "tokens": ["a"], "counts": [1, 2]}',
            'v.json: "counts" must be a list of 1 integers >= 0',
        ),
        (
            '{"format": "embtable-vocab", "version": 1, "tokens": ["a"], "specials": ["b"]}',
            'v.json: "specials" must be a list of tokens of the vocabulary',
        ),
        (
            '{"format": "embtable-vocab", "version": 1, "tokens": ["a"], "specials": [], "unk_token": "a"}',
            "v.json: \"unk_token\" 'a' must be null or one of the specials []",
        ),
        (
            '{"format": "embtable-vocab", "version": 1, "tokens": ["a", "b"], "specials": ["b"]}',
            "v.json: \"specials\" ['b'] must be the first tokens",
        ),
    ],
)
def test_load_errors(tmp_path, document, message) -> None:
    (tmp_path / "v.json").write_text(document, encoding="utf-8")
    with pytest.raises(VectorFormatError, match=re.escape(message)):
        Vocab.load(tmp_path / "v.json")


def test_constructor_and_build_errors() -> None:
    with pytest.raises(ValueError, match=re.escape("token 'a' appears twice, at ids 0 and 2")):
        Vocab(["a", "b", "a"])
    with pytest.raises(
        ValueError, match=re.escape("specials ('<unk>',) must be the first 1 tokens")
    ):
        Vocab(["a", "<unk>"], specials=["<unk>"])
    with pytest.raises(
        ValueError, match=re.escape("unk_token '<unk>' is not among the specials ()")
    ):
        Vocab.build(DATA, specials=())
    with pytest.raises(ValueError, match=re.escape("min_freq must be an integer >= 1, got 0")):
        Vocab.build(DATA, min_freq=0)
    with pytest.raises(
        ValueError, match=re.escape("max_size must be None or an integer >= 0, got -2")
    ):
        Vocab.build(DATA, max_size=-2)
    with pytest.raises(ValueError, match=re.escape("specials must be distinct")):
        Vocab.build(DATA, specials=["<unk>", "<unk>"], pad_token=None)
    with pytest.raises(
        TypeError,
        match=re.escape("token_lists must yield lists of tokens, item 0 is the str 'a b'"),
    ):
        Vocab.build(["a b"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=re.escape("counts must hold 2 integers >= 0")):
        Vocab(["a", "b"], counts=[1])


def test_from_files_streams_compressed(tmp_path) -> None:
    import gzip

    path = tmp_path / "corpus.gz"
    path.write_bytes(gzip.compress(b"The cat.\nthe hat\n"))
    vocab = Vocab.from_files([path, path], min_freq=2)
    assert vocab.id_to_token == ["<unk>", "<pad>", "the", "cat", "hat"]
    assert_array_equal(vocab.counts, [0, 0, 4, 2, 2])


def test_eq_and_repr() -> None:
    assert Vocab.build(DATA) == Vocab.build(DATA)
    assert Vocab.build(DATA) != Vocab.build(DATA, max_size=1)
    assert Vocab.build(DATA).__eq__(3) is NotImplemented
    assert repr(Vocab.build(DATA)) == (
        "Vocab(7 tokens: '<unk>', '<pad>', 'a', 'b', 'c', ...; unk='<unk>', pad='<pad>')"
    )


def test_lookup_indices_of_an_iterator_without_unk() -> None:
    vocab = Vocab.build([["a"]], specials=(), unk_token=None, pad_token=None)
    message = "token 'zz' at position 1 is not in the vocabulary of 1 tokens"
    with pytest.raises(KeyError, match=re.escape(message)):
        vocab.lookup_indices(iter(["a", "zz"]))
    with pytest.raises(KeyError, match=re.escape(message)):
        vocab.lookup_indices(token for token in ["a", "zz"])
    assert_array_equal(vocab.lookup_indices(iter(["a"])), [0])


def test_save_unencodable_token_writes_nothing(tmp_path) -> None:
    vocab = Vocab.build([["a", "\ud800"]])
    path = tmp_path / "vocab.json"
    with pytest.raises(
        ValueError,
        match=re.escape("token 3 ('\\ud800') cannot be saved: it is not encodable as UTF-8"),
    ):
        vocab.save(path)
    assert not path.exists()


@pytest.mark.parametrize(
    ("ids", "shown"),
    [
        (np.array([2**64 - 1], np.uint64), "id 18446744073709551615 at position 0"),
        (np.array([1, 2**63], np.uint64), "id 9223372036854775808 at position 1"),
        (np.array([[0], [255]], np.uint8), "id 255 at position (1, 0)"),
        (np.array([-1], np.int8), "id -1 at position 0"),
    ],
)
def test_lookup_tokens_reports_the_real_id(ids, shown) -> None:
    vocab = Vocab.build([["a"]])
    with pytest.raises(EmbeddingIndexError, match=re.escape(shown)):
        vocab.lookup_tokens(ids)
    assert vocab.lookup_tokens(np.array([2], np.uint64)) == ["a"]
