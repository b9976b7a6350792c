"""``embtable.torch.TextEmbedding`` and ``Embedding.from_vectors``, and exchange with NumPy."""

from __future__ import annotations

from pathlib import Path

import pytest
from numpy.testing import assert_array_equal

torch = pytest.importorskip("torch")

import embtable.text  # noqa: E402
import embtable.torch as et  # noqa: E402
from embtable.text import Vocab  # noqa: E402
from embtable.vectors import Vectors  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def glove():
    return Vectors.load(DATA / "test_glove.txt", format="glove")


def test_from_vectors_matches_numpy(glove):
    vocab = Vocab.build([["the", "The", "of", "zzz"]])
    ours = et.Embedding.from_vectors(glove, vocab, oov="zeros")
    numpy_layer = embtable.Embedding.from_vectors(glove, vocab, oov="zeros")
    assert isinstance(ours, torch.nn.Embedding) and not ours.weight.requires_grad
    assert ours.padding_idx == vocab.pad_id
    assert_array_equal(ours.weight.numpy(), numpy_layer.weight.data)
    assert ours.coverage == numpy_layer.coverage


def test_module_encodes_and_trains(glove):
    vocab = Vocab.build([["the", "of", "and"]])
    unit = et.TextEmbedding.from_vectors(glove, vocab, oov="zeros", freeze=False, sparse=True)
    out = unit(["the of", "and zzz"])
    assert out.shape == (2, 2, glove.dim)
    out.sum().backward()
    grad = unit.embedding.weight.grad.coalesce()
    assert vocab.pad_id not in grad.indices()[0].tolist()
    assert "embedding.weight" in unit.state_dict()


@pytest.mark.parametrize("mmap", [False, True])
def test_directory_is_shared_with_numpy(tmp_path, mmap):
    _ = torch.manual_seed(0)
    unit = et.TextEmbedding.from_texts(["a b b c", "b d"], 4, max_norm=3.0)
    unit.save(tmp_path)
    numpy_unit = embtable.text.TextEmbedding.load(tmp_path)
    assert_array_equal(numpy_unit.embedding.weight.data, unit.embedding.weight.detach().numpy())
    assert numpy_unit.embedding.max_norm == 3.0
    back = et.TextEmbedding.load(tmp_path, mmap=mmap)
    assert back.vocab == unit.vocab and back.embedding.max_norm == 3.0
    assert back.embedding.weight.requires_grad is (not mmap)
    before = (tmp_path / "weights.safetensors").read_bytes()
    with torch.no_grad():
        back.embedding.weight.mul_(10)  # copy-on-write under mmap: the file never changes
        back(["a b"])  # max_norm renormalises in place, too
    assert (tmp_path / "weights.safetensors").read_bytes() == before
