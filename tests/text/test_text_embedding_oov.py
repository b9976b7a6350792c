"""Issue 12: a TextEmbedding loaded from ``embtable train`` output takes unknown words and ragged
texts; subword and hashed tables give every word a vector."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from embtable import Embedding, OptionError
from embtable.subword import HashEmbedding, SubwordEmbedding
from embtable.text import TextEmbedding, Vocab

TEXTS = ["red green blue", "green zzzunknown", "", "blue"]


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory):
    from embtable.train import Corpus, train_word2vec

    corpus = Corpus.from_sentences([["red", "green", "blue", "red"]] * 20, min_count=1)
    model = train_word2vec(corpus, dim=4, epochs=1, threads=1, seed=0, progress=False)
    directory = tmp_path_factory.mktemp("train") / "model"
    model.save(directory)
    return directory


def test_train_output_takes_unknown_words_and_ragged_texts(trained_dir):
    unit = TextEmbedding.load(trained_dir)
    assert unit.vocab.unk_id is None and unit.vocab.pad_id is None  # word2vec has no specials
    out = unit(TEXTS)  # before: "ValueError: cannot pad" and KeyError for the unknown word
    assert out.shape == (4, 3, 4)
    weight = unit.embedding.weight.data
    assert_array_equal(out[0], weight[unit.vocab.lookup_indices(["red", "green", "blue"])])
    assert_array_equal(out[1, 0], weight[unit.vocab.token_to_id["green"]])
    assert_array_equal(out[1, 1:], 0)  # unknown word, then padding: zero vectors
    assert_array_equal(out[2], 0)
    ids, lengths = unit.encode(TEXTS)
    assert ids[1].tolist() == [unit.vocab.token_to_id["green"], -1, -1]
    assert lengths.tolist() == [3, 2, 0, 1]
    pooled = unit.pool(TEXTS)
    assert_allclose(pooled[0], out[0].mean(axis=0), rtol=1e-6)
    assert_array_equal(pooled[1], out[1, 0])  # the unknown word is left out of the mean
    assert_array_equal(pooled[2], 0)
    assert_allclose(unit.pool(TEXTS, mode="sum")[0], out[0].sum(axis=0), rtol=1e-6)
    flat, offsets = unit.encode_bags(TEXTS)
    assert offsets.tolist() == [0, 3, 4, 4] and flat.size == 5


def test_vocab_with_specials_keeps_unk_and_pad_rows():
    vocab = Vocab.build([["red", "green"]])
    unit = TextEmbedding(vocab, embedding_dim=3, rng=0)
    out = unit(TEXTS)
    assert_array_equal(out[1, 1], unit.embedding.weight.data[vocab.unk_id])
    assert_array_equal(out[3, 1:], 0)  # the <pad> row
    ids, _ = unit.encode(TEXTS)
    assert ids[3].tolist() == [vocab.unk_id, vocab.pad_id, vocab.pad_id]  # "blue" is unknown


def test_subword_table_gives_unknown_words_vectors():
    layer = SubwordEmbedding(["red", "green", "blue"], 4, bucket=500, rng=0)
    unit = TextEmbedding(None, layer)
    out = unit(["greens bluish", "red"])
    assert out.shape == (2, 2, 4)
    assert_allclose(out[0], layer(["greens", "bluish"]), rtol=1e-6)
    assert np.abs(out[0]).min() > 0
    assert_array_equal(out[1, 1], 0)
    assert_allclose(unit.pool(["greens bluish"])[0], out[0].mean(axis=0), rtol=1e-6)
    with pytest.raises(OptionError, match="cannot be saved as a table directory"):
        unit.save("unused")


def test_hash_table_needs_no_vocabulary():
    unit = TextEmbedding(None, HashEmbedding(64, 2, rng=0))
    assert unit.vocab is None and unit(["any words at all"]).shape == (1, 4, 2)
    with pytest.raises(OptionError, match="no vocabulary"):
        unit.encode(["x"])


def test_plain_table_needs_a_vocabulary():
    with pytest.raises(OptionError, match="needs its vocabulary"):
        TextEmbedding(None, Embedding(3, 2))


def test_torch_text_embedding_follows_the_same_rule(trained_dir):
    torch = pytest.importorskip("torch")
    from embtable.torch import TextEmbedding as TorchTextEmbedding
    from embtable.torch.subword import SubwordEmbedding as TorchSubword

    numpy_unit = TextEmbedding.load(trained_dir)
    unit = TorchTextEmbedding.load(trained_dir)
    out = unit(TEXTS)
    assert_allclose(out.detach().numpy(), numpy_unit(TEXTS))
    assert_allclose(unit.pool(TEXTS).detach().numpy(), numpy_unit.pool(TEXTS), rtol=1e-6)
    unit.pool(TEXTS).sum().backward()
    grad = unit.embedding.weight.grad
    assert grad is not None and torch.isfinite(grad).all()
    ids, lengths = unit.encode(TEXTS)
    assert ids[1, 1].item() == -1 and lengths.tolist() == [3, 2, 0, 1]

    _ = torch.manual_seed(0)
    sub = TorchTextEmbedding(None, TorchSubword(["red", "green"], 4, bucket=100, sparse=True))
    vectors = sub(["greenish reds", "red"])
    assert vectors.shape == (2, 2, 4) and torch.equal(vectors[1, 1], torch.zeros(4))
    vectors.sum().backward()
    assert sub.embedding.weight.grad.is_sparse
