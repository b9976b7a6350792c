"""Vocabulary + table as one unit, and ``Embedding.from_vectors`` on real GloVe rows."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from embtable import Embedding, ShapeError
from embtable.text import TextEmbedding, Vocab
from embtable.vectors import Vectors

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def glove():
    return Vectors.load(DATA / "test_glove.txt", format="glove")


def test_from_vectors_aligns_rows_and_reports_coverage(glove):
    vocab = Vocab.build([["the", "The", "of", "zzzunknownzzz"]])
    emb = Embedding.from_vectors(glove, vocab, oov="zeros")
    assert emb.padding_idx == vocab.pad_id == 1
    assert not emb.weight.requires_grad
    assert_array_equal(emb.weight.data[vocab["the"]], glove["the"])
    assert_array_equal(emb.weight.data[vocab["The"]], glove["the"])  # lower-case fallback
    assert_array_equal(emb.weight.data[vocab["zzzunknownzzz"]], 0)
    assert_array_equal(emb.weight.data[vocab.pad_id], 0)
    coverage = emb.coverage
    assert (coverage.matched, coverage.lowercase_matched, coverage.missing) == (2, 1, 1)
    assert coverage.missing_tokens == ("zzzunknownzzz",)


def test_from_vectors_random_oov_is_seeded_and_trainable(glove):
    vocab = Vocab.build([["the", "qqqq"]])
    first = Embedding.from_vectors(glove, vocab, rng=0, freeze=False)
    second = Embedding.from_vectors(glove, vocab, rng=0, freeze=False)
    assert first.weight.requires_grad
    assert_array_equal(first.weight.data, second.weight.data)
    assert np.any(first.weight.data[vocab["qqqq"]] != 0)


def test_text_embedding_looks_up_texts_with_unk_and_pad(glove):
    vocab = Vocab.build([["the", "of", "and"]])
    unit = TextEmbedding.from_vectors(glove, vocab, oov="zeros")
    vectors = unit(["the of", "and xyzzy the"])
    assert vectors.shape == (2, 3, glove.dim)
    assert_array_equal(vectors[0, 2], 0)  # padding position
    ids, lengths = unit.encode(["the of", "and xyzzy the"])
    assert ids[1, 1] == vocab.unk_id and lengths.tolist() == [2, 3]
    flat, offsets = unit.encode_bags(["the of", "and"])
    assert flat.tolist() == [vocab["the"], vocab["of"], vocab["and"]] and offsets.tolist() == [0, 2]


@pytest.mark.parametrize("mmap", [False, True])
def test_save_and_load_round_trip(tmp_path, mmap):
    unit = TextEmbedding.from_texts(["a b b c", "b d"], 5, rng=0, max_norm=2.0)
    unit.save(tmp_path / "table")
    assert sorted(p.name for p in (tmp_path / "table").iterdir()) == [
        "config.json",
        "vocab.json",
        "weights.safetensors",
    ]
    loaded = TextEmbedding.load(tmp_path / "table", mmap=mmap)
    assert loaded.vocab == unit.vocab
    assert repr(loaded.embedding) == repr(unit.embedding)
    assert_array_equal(loaded.embedding.weight.data, unit.embedding.weight.data)
    if mmap:
        data = loaded.embedding.weight.data
        assert not data.flags.owndata and not data.flags.writeable  # a view of the mapping
        assert not loaded.embedding.weight.requires_grad
        with pytest.raises(
            ValueError, match="max_norm renormalises rows in place, but the weight is read-only"
        ):
            loaded(["b d"])
        loaded.embedding.max_norm = unit.embedding.max_norm = None
    else:
        assert loaded.embedding.weight.requires_grad
    assert_array_equal(loaded(["b d"]), unit.embedding(unit.encode(["b d"])[0]))


def test_mismatched_table_is_refused():
    vocab = Vocab.build([["a", "b"]])
    with pytest.raises(
        ShapeError, match=re.escape("the table has 3 rows but the vocabulary has 4 tokens")
    ):
        TextEmbedding(vocab, Embedding(3, 2, padding_idx=1))
    with pytest.raises(
        ValueError,
        match=re.escape("the table's padding_idx None is not the vocabulary's <pad> id 1"),
    ):
        TextEmbedding(vocab, Embedding(4, 2))
    with pytest.raises(TypeError, match="give an embedding, or embedding_dim"):
        TextEmbedding(vocab)


def test_callable_tokenizer_cannot_be_saved(tmp_path):
    unit = TextEmbedding(Vocab.build([["a"]]), embedding_dim=2, tokenizer=str.split, rng=0)
    assert unit.encode(["a a"])[0].tolist() == [[2, 2]]
    with pytest.raises(ValueError, match="callable tokenizer cannot be saved"):
        unit.save(tmp_path)
