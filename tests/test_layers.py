"""The NumPy layers against ``torch.nn.Embedding`` / ``EmbeddingBag`` (spec sections 2, 6)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import embtable
from embtable import Embedding, EmbeddingBag, RowSparseGrad

torch = pytest.importorskip("torch")


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({}, "Embedding(10, 3)"),
        ({"padding_idx": -1}, "Embedding(10, 3, padding_idx=9)"),
        ({"max_norm": 2}, "Embedding(10, 3, max_norm=2)"),
        (
            {
                "padding_idx": 9,
                "max_norm": 1.0,
                "norm_type": 1.0,
                "scale_grad_by_freq": True,
                "sparse": True,
            },
            "Embedding(10, 3, padding_idx=9, max_norm=1.0, norm_type=1.0, scale_grad_by_freq=True, sparse=True)",
        ),
    ],
)
def test_embedding_repr_matches_torch(kwargs, text):
    assert repr(Embedding(10, 3, **kwargs)) == text
    assert repr(torch.nn.Embedding(10, 3, **kwargs)) == text


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"mode": "sum"},
        {
            "max_norm": 1.0,
            "norm_type": 1.5,
            "scale_grad_by_freq": True,
            "mode": "sum",
            "padding_idx": -2,
        },
        {"sparse": True, "include_last_offset": True},
    ],
)
def test_bag_repr_matches_torch(kwargs):
    assert repr(EmbeddingBag(10, 3, **kwargs)) == repr(torch.nn.EmbeddingBag(10, 3, **kwargs))


def test_init_is_standard_normal_with_zero_padding_row():
    emb = Embedding(2000, 50, padding_idx=3, rng=0)
    data = np.delete(emb.weight.data, 3, axis=0)
    assert abs(data.mean()) < 0.01 and abs(data.std() - 1) < 0.01
    assert_array_equal(emb.weight.data[3], 0)
    assert emb.weight.dtype == np.float32 and emb.weight.requires_grad


def test_seeded_init_is_reproducible_and_reset_redraws():
    a, b = Embedding(5, 4, rng=7), Embedding(5, 4, rng=np.random.default_rng(7))
    assert_array_equal(a.weight.data, b.weight.data)
    before = a.weight.data.copy()
    data = a.weight.data
    a.reset_parameters()
    assert a.weight.data is data  # in place
    assert not np.array_equal(before, a.weight.data)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_dtype(dtype):
    emb = Embedding(4, 3, dtype=dtype, rng=0)
    assert emb.weight.dtype == dtype and emb([1, 2]).dtype == dtype


def test_weight_is_shared_and_padding_row_kept():
    # As in torch (spec 2.1 step 5): _weight shares storage and reset_parameters is not called.
    array = np.ones((4, 2), np.float32)
    emb = Embedding(4, 2, padding_idx=0, _weight=array)
    assert emb.weight.data is array
    assert_array_equal(emb(0), [1, 1])


def test_from_pretrained():
    array = np.arange(6.0).reshape(3, 2)
    emb = Embedding.from_pretrained(array, padding_idx=-1)
    assert emb.weight.data is array and not emb.weight.requires_grad and emb.padding_idx == 2
    assert_array_equal(emb([2, 0]), [[4, 5], [0, 1]])
    trainable = Embedding.from_pretrained(array, freeze=False)
    assert trainable.weight.requires_grad

    class Sub(Embedding):
        pass

    assert type(Sub.from_pretrained(array)) is Sub


def test_bag_from_pretrained():
    array = np.arange(6.0).reshape(3, 2)
    bag = EmbeddingBag.from_pretrained(array, mode="sum")
    assert bag.weight.data is array and not bag.weight.requires_grad
    assert_array_equal(bag([[0, 2]]), [[4, 6]])
    assert EmbeddingBag.from_pretrained(array, freeze=False).weight.requires_grad


def test_attributes_are_read_on_every_call(rng):
    emb = Embedding(5, 2, rng=0)
    emb.sparse = True
    emb.backward([1, 1], np.ones((2, 2)))
    assert isinstance(emb.weight.grad, RowSparseGrad)


def test_parameters_and_array_protocol():
    emb = Embedding(3, 2, rng=0)
    (param,) = emb.parameters()
    assert param is emb.weight
    assert np.asarray(emb.weight) is emb.weight.data
    assert isinstance(emb.weight, embtable.Parameter)


def test_state_dict_round_trip_and_torch_exchange():
    emb = Embedding(4, 3, rng=0)
    ours = emb.state_dict()
    assert list(ours) == ["weight"]
    theirs = torch.nn.Embedding(4, 3)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.items()})
    assert_array_equal(theirs.weight.detach().numpy(), emb.weight.data)
    other = Embedding(4, 3, rng=1)
    data = other.weight.data
    other.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert other.weight.data is data  # copied in place
    assert_array_equal(other.weight.data, emb.weight.data)


def test_load_state_dict_checks_keys_and_shapes():
    emb = Embedding(4, 3, rng=0)
    with pytest.raises(embtable.ShapeError, match=re.escape("unexpected keys ['bias']")) as error:
        emb.load_state_dict({"weight": np.zeros((4, 3)), "bias": np.zeros(3)})
    assert isinstance(error.value, RuntimeError)  # what torch raises
    with pytest.raises(embtable.ShapeError, match="size mismatch for weight"):
        emb.load_state_dict({"weight": np.zeros((5, 3))})


def test_gradients_accumulate_like_autograd(rng):
    ids = rng.integers(0, 6, size=(4, 3))
    grad_output = rng.standard_normal((4, 3, 2)).astype(np.float32)
    weight = rng.standard_normal((6, 2)).astype(np.float32)
    for sparse in (False, True):
        ours = Embedding(6, 2, padding_idx=2, sparse=sparse, _weight=weight.copy())
        theirs = torch.nn.Embedding(
            6, 2, padding_idx=2, sparse=sparse, _weight=torch.from_numpy(weight.copy())
        )
        for _ in range(2):
            ours(ids)
            ours.backward(ids, grad_output)
            theirs(torch.from_numpy(ids)).backward(torch.from_numpy(grad_output))
        expected = theirs.weight.grad.to_dense() if sparse else theirs.weight.grad
        grad = ours.weight.grad.to_dense() if sparse else ours.weight.grad
        assert_allclose(grad, expected.numpy(), rtol=1e-6)
    ours.zero_grad()
    assert ours.weight.grad is None


def test_sparse_plus_dense_gradient_becomes_dense():
    emb = Embedding(3, 2, sparse=True, rng=0)
    emb.backward([1], np.ones((1, 2)))
    emb.sparse = False
    emb.backward([1, 2], np.ones((2, 2)))
    assert_array_equal(emb.weight.grad, [[0, 0], [2, 2], [1, 1]])


def test_bag_module_backward_returns_per_sample_weight_grad(rng):
    weight = rng.standard_normal((7, 3))
    ours = EmbeddingBag(7, 3, mode="sum", _weight=weight.copy(), padding_idx=0)
    theirs = torch.nn.EmbeddingBag(
        7, 3, mode="sum", _weight=torch.from_numpy(weight.copy()), padding_idx=0
    )
    ids, offsets, psw = np.array([1, 0, 3, 6, 6]), np.array([0, 2]), rng.standard_normal(5)
    t_psw = torch.from_numpy(psw).requires_grad_()
    out = theirs(torch.from_numpy(ids), torch.from_numpy(offsets), t_psw)
    assert_allclose(ours(ids, offsets, psw), out.detach().numpy(), rtol=1e-12)
    grad_output = rng.standard_normal((2, 3))
    out.backward(torch.from_numpy(grad_output))
    psw_grad = ours.backward(ids, grad_output, offsets, psw)
    assert_allclose(psw_grad, t_psw.grad.numpy(), rtol=1e-12)
    assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-12)
    assert ours.backward(ids, grad_output, offsets) is None


def test_seed_walkthrough():
    # The seed material: a vocabulary, a padded batch, one SGD step.
    vocab = {"<unk>": 0, "<pad>": 1}
    for word in "you need to know how to code".split():
        vocab.setdefault(word, len(vocab))
    emb = Embedding(len(vocab), 3, padding_idx=vocab["<pad>"], rng=0)
    ids = np.array(
        [
            [vocab.get(w, vocab["<unk>"]) for w in "you need to run".split()],
            [vocab["code"], vocab["<pad>"], vocab["<pad>"], vocab["<pad>"]],
        ]
    )
    assert ids[0, 3] == vocab["<unk>"]
    before = emb.weight.data.copy()
    out = emb(ids)
    emb.backward(ids, np.ones_like(out))
    emb.weight.data -= 0.1 * emb.weight.grad
    moved = np.flatnonzero(np.any(emb.weight.data != before, axis=1))
    assert sorted(moved) == sorted({int(i) for i in ids.ravel()} - {vocab["<pad>"]})
    assert_array_equal(emb.weight.data[vocab["<pad>"]], 0)


def test_frozen_bag_still_gives_per_sample_weight_gradients():
    # spec 8: psw.grad works even when the weight is frozen
    bag = EmbeddingBag.from_pretrained(np.ones((3, 2)), mode="sum")
    psw_grad = bag.backward([0, 1], np.ones((1, 2)), [0], per_sample_weights=[1.0, 2.0])
    assert_array_equal(psw_grad, [2.0, 2.0])
    assert bag.weight.grad is None


def test_subclass_forward_is_called():
    class Doubling(Embedding):
        def forward(self, ids):
            return 2 * super().forward(ids)

    assert_array_equal(Doubling(3, 2, _weight=np.ones((3, 2)))([0]), [[2.0, 2.0]])


def test_gradient_has_the_weights_dtype():
    emb = Embedding(3, 2, rng=0)
    emb.backward([1], np.ones((1, 2), np.float64))
    assert emb.weight.grad.dtype == np.float32


def test_array_plus_row_sparse_grad():
    grad = RowSparseGrad(np.array([1]), np.ones((1, 2)), num_rows=3)
    assert_array_equal(np.zeros((3, 2)) + grad, [[0, 0], [1, 1], [0, 0]])


def test_layer_max_norm_matches_torch(rng):
    weight = rng.standard_normal((8, 4)).astype(np.float32) * 3
    ours = Embedding(8, 4, max_norm=1.0, norm_type=1.5, _weight=weight.copy())
    theirs = torch.nn.Embedding(
        8, 4, max_norm=1.0, norm_type=1.5, _weight=torch.from_numpy(weight.copy())
    )
    ids = np.array([[1, 2], [2, 7]])
    assert_allclose(ours(ids), theirs(torch.from_numpy(ids)).detach().numpy(), rtol=1e-6)
    assert_allclose(ours.weight.data, theirs.weight.detach().numpy(), rtol=1e-6)
    bag = EmbeddingBag(8, 4, max_norm=1.0, mode="sum", _weight=weight.copy())
    torch_bag = torch.nn.EmbeddingBag(
        8, 4, max_norm=1.0, mode="sum", _weight=torch.from_numpy(weight.copy())
    )
    assert_allclose(bag(ids), torch_bag(torch.from_numpy(ids)).detach().numpy(), rtol=1e-6)
    assert_allclose(bag.weight.data, torch_bag.weight.detach().numpy(), rtol=1e-6)
