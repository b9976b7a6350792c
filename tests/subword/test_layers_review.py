"""Layer checks against torch's own EmbeddingBag on the same ``(ids, offsets)``, hash
determinism across processes and id dtypes, and the edges (empty inputs, empty strings,
very long words)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose

from embtable.subword import HashEmbedding, HashIndexer, SubwordEmbedding

WORDS = ["cat", "dog", "naïf", "日本", "</s>"]
TOKENS = ["cat", "cats", "", "日本語😀", "x" * 500, "dog", "cat"]


@pytest.mark.parametrize("sparse", [False, True])
def test_torch_layer_equals_torch_embedding_bag(sparse):
    torch = pytest.importorskip("torch")
    from embtable.torch import subword as ts

    layer = ts.SubwordEmbedding(WORDS, 5, minn=2, maxn=4, bucket=31, sparse=sparse)
    reference = torch.nn.EmbeddingBag.from_pretrained(
        layer.weight.detach().clone(), freeze=False, mode="mean", sparse=sparse
    )
    ids, offsets = layer.bags(TOKENS)
    out = layer(TOKENS)
    expected = reference(ids, offsets)
    torch.testing.assert_close(out, expected)
    grad = torch.randn(out.shape, generator=torch.Generator().manual_seed(1))
    out.backward(grad)
    expected.backward(grad)
    assert layer.weight.grad.is_sparse == sparse
    torch.testing.assert_close(
        layer.weight.grad.to_dense() if sparse else layer.weight.grad,
        reference.weight.grad.to_dense() if sparse else reference.weight.grad,
    )


def test_numpy_backward_equals_torch_autograd():
    torch = pytest.importorskip("torch")
    layer = SubwordEmbedding(WORDS, 4, minn=1, maxn=3, bucket=17, rng=0)
    ids, offsets = layer.indexer.index(TOKENS)
    weight = torch.tensor(layer.weight.data, requires_grad=True)
    out = torch.nn.functional.embedding_bag(
        torch.from_numpy(ids), weight, torch.from_numpy(offsets), mode="mean"
    )
    grad = np.random.default_rng(2).normal(size=out.shape).astype(np.float32)
    out.backward(torch.from_numpy(grad))
    assert_allclose(layer(TOKENS), out.detach().numpy(), rtol=1e-6)
    layer.backward(TOKENS, grad)
    # the 500-character word adds ~1500 float32 terms into few buckets: order-of-sum rounding
    assert_allclose(layer.weight.grad, weight.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_hashes_are_the_same_in_other_processes():
    code = (
        "from embtable.subword import HashIndexer, SubwordIndexer;"
        "print(HashIndexer(1000, num_hashes=3, seed=7).index(['a', 'é', '日本', ''])[0].tolist(),"
        "SubwordIndexer(['cat'], minn=2, maxn=3, bucket=97).index(['cats', 'ñ'])[0].tolist())"
    )
    outputs = set()
    for seed in ("0", "1", "random"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        outputs.add(run.stdout)
    assert len(outputs) == 1


def test_integer_ids_hash_the_same_in_every_dtype():
    indexer = HashIndexer(1000, num_hashes=2, seed=3)
    values = [0, 1, 42, 2**31 - 1]
    rows = [
        indexer.index(np.array(values, dtype=dtype))[0].tolist()
        for dtype in (np.int32, np.int64, np.uint64)
    ]
    assert rows[0] == rows[1] == rows[2]
    layer = HashEmbedding(1000, 3, rng=0)
    assert_allclose(layer(np.array(values, np.int32)), layer(np.array(values, np.uint64)))


def test_empty_inputs_and_empty_strings():
    layer = SubwordEmbedding(WORDS, 4, minn=2, maxn=4, bucket=31, rng=0)
    assert layer([]).shape == (0, 4)
    empty = layer([""])  # "<>": no n-gram of length 2..4 but "<>" itself
    assert empty.shape == (1, 4) and np.isfinite(empty).all()
    hashed = HashEmbedding(10, 2, rng=0)
    assert hashed([]).shape == (0, 2)
    assert hashed([""]).shape == (1, 2)
