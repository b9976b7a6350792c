"""The indexer seam's layers, NumPy and torch: pooling laws, gradients, sparse gradients, fused
optimizers, state_dict, and the quotient-remainder embedding."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from embtable import EmbeddingIndexError, OptionError, OptionTypeError, TokenError
from embtable.optim import SGD
from embtable.subword import (
    HashEmbedding,
    HashIndexer,
    IndexedEmbedding,
    QuotientRemainderEmbedding,
    QuotientRemainderIndexer,
    SubwordEmbedding,
    SubwordIndexer,
    VocabIndexer,
    indexer_from_config,
)
from embtable.text import Vocab

WORDS = ["the", "cat", "sat", "</s>", "naïve"]
words = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=10)


def _bags(ids, offsets):
    ends = [*offsets[1:].tolist(), ids.size][: offsets.size]
    return [ids[b:e] for b, e in zip(offsets.tolist(), ends, strict=True)]


@settings(max_examples=60, deadline=None)
@given(st.lists(words, max_size=6))
def test_subword_vector_is_the_mean_of_its_rows(tokens):
    layer = SubwordEmbedding(WORDS, 3, minn=2, maxn=4, bucket=97, rng=0)
    out = layer(tokens)
    assert out.shape == (len(tokens), 3)
    for vector, rows in zip(out, _bags(*layer.indexer.index(tokens)), strict=True):
        expected = layer.weight.data[rows].mean(axis=0) if rows.size else np.zeros(3)
        assert_allclose(vector, expected, rtol=1e-5, atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(st.lists(words, max_size=6), st.integers(1, 4))
def test_hash_vector_is_the_sum_of_its_rows(tokens, hashes):
    layer = HashEmbedding(50, 2, num_hashes=hashes, seed=7, rng=0, dtype=np.float64)
    out = layer(tokens)
    for vector, rows in zip(out, _bags(*layer.indexer.index(tokens)), strict=True):
        assert rows.size == hashes
        assert_allclose(vector, layer.weight.data[rows].sum(axis=0))


@pytest.mark.parametrize("sparse", [False, True])
def test_backward_is_the_adjoint_of_forward(sparse):
    rng = np.random.default_rng(0)
    layer = SubwordEmbedding(
        WORDS, 4, minn=2, maxn=3, bucket=31, sparse=sparse, rng=0, dtype=np.float64
    )
    tokens = ["cat", "cats", "cat", "</s>", "日本"]
    grad = rng.normal(size=(len(tokens), 4))
    layer.backward(tokens, grad)
    dense = layer.weight.grad.to_dense() if sparse else layer.weight.grad
    # <layer(W), G> == <W, backward(G)>, the forward being linear in W
    assert np.sum(layer(tokens) * grad) == pytest.approx(np.sum(layer.weight.data * dense))


def test_optimizer_trains_only_touched_rows():
    layer = HashEmbedding(40, 3, num_hashes=2, sparse=True, rng=0)
    before = layer.weight.data.copy()
    optimizer = SGD(layer.parameters(), lr=0.5)
    layer.backward(["user:1"], np.ones((1, 3), np.float32))
    optimizer.step()
    touched = np.flatnonzero((layer.weight.data != before).any(axis=1))
    assert set(touched.tolist()) == set(layer.indexer.index(["user:1"])[0].tolist())


def test_state_dict_round_trip():
    layer = SubwordEmbedding(WORDS, 2, bucket=10, rng=0)
    other = SubwordEmbedding(WORDS, 2, bucket=10, rng=1)
    other.load_state_dict(layer.state_dict())
    assert_array_equal(other(["cats"]), layer(["cats"]))
    assert sorted(layer.state_dict()) == ["weight"]


def test_fresh_subword_table_is_fasttext_uniform():
    layer = SubwordEmbedding(WORDS, 8, bucket=1000, rng=0)
    assert np.abs(layer.weight.data).max() <= 1 / 8
    assert layer.weight.data.std() == pytest.approx((1 / 8) / np.sqrt(3), rel=0.05)


def test_vocab_indexer_unknown_words():
    vocab = Vocab.build([["a", "b"]])  # has <unk>
    assert VocabIndexer(vocab).index(["b", "zz"])[0].tolist() == [vocab["b"], vocab.unk_id]
    plain = ["a", "b"]
    ids, offsets = VocabIndexer(plain).index(["zz", "b", "zz", "a"])
    assert ids.tolist() == [1, 0] and offsets.tolist() == [0, 0, 1, 1]
    with pytest.raises(TokenError, match="token 'zz' at position 0"):
        VocabIndexer(plain, oov="error").index(["zz"])
    with pytest.raises(OptionError, match="needs a vocabulary with an unk_token"):
        VocabIndexer(plain, oov="unk")


def test_indexers_rebuild_from_their_config():
    for indexer in [
        HashIndexer(11, num_hashes=3, seed=4),
        QuotientRemainderIndexer(100, num_collisions=7),
    ]:
        again = indexer_from_config(indexer.config())
        assert repr(again) == repr(indexer)
        assert_array_equal(again.index([1, 2])[0], indexer.index([1, 2])[0])
    subword = SubwordIndexer(WORDS, minn=2, maxn=5, bucket=9)
    again = indexer_from_config(subword.config(), words=WORDS)
    assert_array_equal(again.index(["cats"])[0], subword.index(["cats"])[0])
    with pytest.raises(OptionError, match="unknown indexer kind 'nope'"):
        indexer_from_config({"kind": "nope"})


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: SubwordIndexer(["a", "a"]), OptionError, "word 'a' appears twice"),
        (lambda: SubwordIndexer([], minn=-1), OptionError, "minn must be >= 0, got -1"),
        (lambda: HashIndexer(0), OptionError, "num_buckets must be >= 1, got 0"),
        (lambda: HashIndexer(5, num_hashes=1.5), OptionTypeError, "num_hashes must be an integer"),
        (lambda: SubwordIndexer([]).index("word"), OptionTypeError, "wrap it in a list"),
        (lambda: SubwordIndexer([]).index(["ok", 3]), OptionTypeError, "got int 3 at position 1"),
        (lambda: HashIndexer(5).index(["\ud800"]), TokenError, "cannot be encoded as UTF-8"),
        (
            lambda: QuotientRemainderIndexer(10, num_collisions=3).index([10]),
            EmbeddingIndexError,
            r"valid: 0\.\.9",
        ),
        (lambda: IndexedEmbedding("hash", 2), OptionTypeError, "indexer must be"),
    ],
)
def test_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize("operation", ["mult", "add"])
def test_quotient_remainder(operation):
    layer = QuotientRemainderEmbedding(
        50, 3, num_collisions=8, operation=operation, rng=0, dtype=np.float64
    )
    ids = np.array([[0, 49], [8, 9]])
    q = layer.weight_quotient.data[ids // 8]
    r = layer.weight_remainder.data[ids % 8]
    assert_allclose(layer(ids), q * r if operation == "mult" else q + r)
    # distinct ids never share both rows
    rows = {(i // 8, i % 8) for i in range(50)}
    assert len(rows) == 50
    grad = np.random.default_rng(1).normal(size=(2, 2, 3))
    layer.backward(ids, grad)
    if operation == "add":
        indexed = layer.as_indexed()
        assert_allclose(indexed(ids.reshape(-1)), layer(ids).reshape(-1, 3))
    else:
        with pytest.raises(OptionError, match="'mult' has no indexer form"):
            layer.as_indexed()
    # the product rule, checked against finite differences of <layer(W), G>
    weight = layer.weight_quotient.data
    eps = 1e-6
    weight[0, 1] += eps
    up = np.sum(layer(ids) * grad)
    weight[0, 1] -= 2 * eps
    down = np.sum(layer(ids) * grad)
    weight[0, 1] += eps
    assert layer.weight_quotient.grad[0, 1] == pytest.approx((up - down) / (2 * eps), rel=1e-5)


# -- torch twins ------------------------------------------------------------------------------


def test_torch_twins_match_numpy_and_train():
    torch = pytest.importorskip("torch")
    import embtable.torch as et
    from embtable.torch import subword as ts

    numpy_layer = SubwordEmbedding(WORDS, 4, minn=2, maxn=4, bucket=53, rng=0)
    weight = torch.from_numpy(numpy_layer.weight.data.copy())
    layer = ts.SubwordEmbedding(WORDS, 4, minn=2, maxn=4, bucket=53, _weight=weight, sparse=True)
    tokens = ["cat", "cats", "naïf", "</s>"]
    out = layer(tokens)
    assert_allclose(out.detach().numpy(), numpy_layer(tokens), rtol=1e-6)
    grad = torch.randn(out.shape, generator=torch.Generator().manual_seed(0))
    out.backward(grad)
    assert layer.weight.grad.is_sparse
    numpy_layer.backward(tokens, grad.numpy())
    assert_allclose(
        layer.weight.grad.to_dense().numpy(), numpy_layer.weight.grad, rtol=1e-5, atol=1e-7
    )

    fused = ts.HashEmbedding(64, 3, num_hashes=2, optimizer=et.RowOptimizer("adagrad", lr=0.1))
    before = fused.weight.detach().clone()
    fused(["a", "b"]).sum().backward()
    assert fused.weight.grad is None
    changed = (fused.weight.detach() != before).any(dim=1).nonzero().flatten().tolist()
    assert set(changed) == set(fused.indexer.index(["a", "b"])[0].tolist())
    assert sorted(fused.state_dict()) == ["optimizer.step", "optimizer.sum", "weight"]
    copy = ts.HashEmbedding(64, 3, num_hashes=2, optimizer=et.RowOptimizer("adagrad", lr=0.1))
    copy.load_state_dict(fused.state_dict())
    assert torch.equal(copy(["a"]), fused(["a"]))


def test_torch_quotient_remainder_gradients_match_numpy():
    torch = pytest.importorskip("torch")
    from embtable.torch.subword import QuotientRemainderEmbedding as TorchQR

    numpy_layer = QuotientRemainderEmbedding(30, 2, num_collisions=4, rng=0, dtype=np.float64)
    numpy_layer.weight_remainder.data[...] = np.random.default_rng(2).normal(size=(4, 2))
    layer = TorchQR(30, 2, num_collisions=4, dtype=torch.float64)
    with torch.no_grad():
        layer.quotient.weight.copy_(torch.from_numpy(numpy_layer.weight_quotient.data))
        layer.remainder.weight.copy_(torch.from_numpy(numpy_layer.weight_remainder.data))
    ids = np.array([3, 29, 3, 4])
    grad = np.random.default_rng(3).normal(size=(4, 2))
    out = layer(torch.from_numpy(ids))
    out.backward(torch.from_numpy(grad))
    numpy_layer.backward(ids, grad)
    assert_allclose(out.detach().numpy(), numpy_layer(ids))
    assert_allclose(layer.quotient.weight.grad.numpy(), numpy_layer.weight_quotient.grad)
    assert_allclose(layer.remainder.weight.grad.numpy(), numpy_layer.weight_remainder.grad)


def test_torch_quotient_remainder_refuses_a_list_as_torch_does():
    torch = pytest.importorskip("torch")
    from embtable.torch.subword import QuotientRemainderEmbedding as TorchQR

    layer = TorchQR(30, 2, num_collisions=4)
    with pytest.raises(OptionTypeError, match="got list") as info:
        layer([3, 4])
    assert isinstance(info.value, TypeError)
    assert layer(torch.tensor([3, 4])).shape == (2, 2)


def test_from_fasttext_gives_the_model_vectors():
    from pathlib import Path

    from embtable.fasttext import FastTextVectors

    path = Path(__file__).resolve().parents[1] / "data" / "lee_fasttext.bin"
    model = FastTextVectors.load_bin(path)
    layer = SubwordEmbedding.from_fasttext(model)
    tokens = ["government", "computerz", "the"]
    assert_allclose(layer(tokens), model[tokens], rtol=1e-6)
    assert not layer.weight.requires_grad
    pytest.importorskip("torch")
    from embtable.torch.subword import SubwordEmbedding as TorchSubword

    torch_layer = TorchSubword.from_fasttext(path, freeze=False)
    assert_allclose(torch_layer(tokens).detach().numpy(), model[tokens], rtol=1e-6)
    assert torch_layer.weight.requires_grad
