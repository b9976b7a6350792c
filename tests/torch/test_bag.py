"""Parity of ``embtable.torch.EmbeddingBag`` / ``functional.embedding_bag`` with torch
(spec sections 6-8), on both paths."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal

import embtable.torch as et
from embtable import BagIndexError, ModeError, OffsetsError

IDS = torch.tensor([1, 2, 4, 5, 4, 3, 2, 9, 0, 0])
# (offsets, include_last_offset): plain, with an empty bag, CSR, a single bag, empty bags only
OFFSETS = [
    (torch.tensor([0, 4]), False),
    (torch.tensor([0, 2, 2, 7]), False),
    (torch.tensor([0, 3, 3, 10]), True),
    (torch.tensor([0]), False),
]


def _pair(mode="mean", *, dtype=torch.float32, **kwargs):
    torch.manual_seed(0)
    ours = et.EmbeddingBag(10, 3, mode=mode, dtype=dtype, **kwargs)
    theirs = torch.nn.EmbeddingBag(10, 3, mode=mode, dtype=dtype, **kwargs)
    with torch.no_grad():
        theirs.weight.copy_(ours.weight)
    return ours, theirs


def test_constructor_repr_state_dict_match_torch():
    for kwargs in (
        {},
        {
            "max_norm": 1.0,
            "norm_type": 1.5,
            "scale_grad_by_freq": True,
            "mode": "sum",
            "padding_idx": -2,
            "include_last_offset": True,
        },
    ):
        torch.manual_seed(1)
        ours = et.EmbeddingBag(10, 3, **kwargs)
        torch.manual_seed(1)
        theirs = torch.nn.EmbeddingBag(10, 3, **kwargs)
        assert torch.equal(ours.weight, theirs.weight)
        assert repr(ours) == repr(theirs)
        assert list(ours.state_dict()) == ["weight"]
        for name in ("mode", "padding_idx", "include_last_offset", "sparse", "max_norm"):
            assert getattr(ours, name) == getattr(theirs, name)
    with pytest.raises(TypeError, match="unexpected keyword argument '_freeze'"):
        et.EmbeddingBag(3, 2, _freeze=True)
    with pytest.raises(AssertionError, match="padding_idx must be within num_embeddings"):
        et.EmbeddingBag(3, 2, padding_idx=3)


def test_from_pretrained_state_dict_deepcopy_pickle():
    table = torch.randn(10, 3)
    ours = et.EmbeddingBag.from_pretrained(table, freeze=False, mode="sum")
    assert ours.weight.data_ptr() == table.data_ptr() and ours.weight.requires_grad
    theirs = torch.nn.EmbeddingBag(10, 3, mode="sum")
    theirs.load_state_dict(ours.state_dict())
    back = et.EmbeddingBag(10, 3, mode="sum")
    back.load_state_dict(theirs.state_dict())
    offsets = torch.tensor([0, 3])
    for clone in (back, copy.deepcopy(ours), pickle.loads(pickle.dumps(ours))):
        assert torch.equal(clone(IDS, offsets), theirs(IDS, offsets))


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("offsets_case", range(len(OFFSETS)))
@pytest.mark.parametrize("padding_idx", [None, 0])
def test_forward_and_gradient_match_torch(path, rng, mode, offsets_case, padding_idx):
    offsets, include_last_offset = OFFSETS[offsets_case]
    ours, theirs = _pair(mode, padding_idx=padding_idx, include_last_offset=include_last_offset)
    out, expected = ours(IDS, offsets), theirs(IDS, offsets)
    assert out.shape == expected.shape and out.dtype == expected.dtype
    assert_allclose(out.detach(), expected.detach(), rtol=1e-6, atol=1e-7)
    grad = torch.from_numpy(rng.standard_normal(tuple(out.shape)).astype(np.float32))
    out.backward(grad)
    expected.backward(grad)
    assert_allclose(ours.weight.grad, theirs.weight.grad, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("mode", ["sum", "mean"])
@pytest.mark.parametrize("padding_idx", [None, 0])
def test_sparse_gradient_matches_torch(path, rng, mode, padding_idx):
    ours, theirs = _pair(mode, padding_idx=padding_idx, sparse=True)
    offsets = torch.tensor([0, 2, 2, 7])
    grad = torch.randn(4, 3)
    ours(IDS, offsets).backward(grad)
    theirs(IDS, offsets).backward(grad)
    ours_grad, their_grad = ours.weight.grad.coalesce(), theirs.weight.grad.coalesce()
    assert_array_equal(ours_grad.indices(), their_grad.indices())
    assert_allclose(ours_grad.values(), their_grad.values(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("padding_idx", [None, 0])
@pytest.mark.parametrize("frozen", [False, True])
def test_per_sample_weights_sum_mode(path, padding_idx, frozen):
    ours, theirs = _pair("sum", padding_idx=padding_idx)
    ours.weight.requires_grad_(not frozen)
    theirs.weight.requires_grad_(not frozen)
    offsets = torch.tensor([0, 2, 2, 7])
    psw = torch.rand(len(IDS), requires_grad=True)
    their_psw = psw.detach().clone().requires_grad_()
    out, expected = ours(IDS, offsets, psw), theirs(IDS, offsets, their_psw)
    assert_allclose(out.detach(), expected.detach(), rtol=1e-6, atol=1e-7)
    grad = torch.randn(4, 3)
    out.backward(grad)
    expected.backward(grad)
    assert_allclose(psw.grad, their_psw.grad, rtol=1e-5, atol=1e-6)
    if not frozen:
        assert_allclose(ours.weight.grad, theirs.weight.grad, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_2d_input_matches_torch(path, mode):
    ours, theirs = _pair(mode, include_last_offset=True)  # ignored for 2-D input
    ids = IDS.reshape(2, 5)
    out, expected = ours(ids), theirs(ids)
    assert_allclose(out.detach(), expected.detach(), rtol=1e-6)
    out.sum().backward()
    expected.sum().backward()
    assert_allclose(ours.weight.grad, theirs.weight.grad, rtol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float64, torch.bfloat16])
def test_dtypes(path, dtype):
    ours, theirs = _pair("sum", dtype=dtype)
    offsets = torch.tensor([0, 4])
    tolerance = {torch.float16: 2e-3, torch.bfloat16: 2e-2, torch.float64: 1e-12}[dtype]
    out, expected = ours(IDS, offsets), theirs(IDS, offsets)
    assert out.dtype == dtype
    assert_allclose(
        out.detach().double(), expected.detach().double(), rtol=tolerance, atol=tolerance
    )
    out.float().sum().backward()
    expected.float().sum().backward()
    assert_allclose(ours.weight.grad.double(), theirs.weight.grad.double(), rtol=tolerance)


def test_max_norm_renormalises_all_ids(path):
    ours, theirs = _pair("sum", max_norm=1.0)
    offsets = torch.tensor([0, 4])
    before = ours.weight._version
    out, expected = ours(IDS, offsets), theirs(IDS, offsets)
    assert ours.weight._version == before + 1
    assert_allclose(ours.weight.detach(), theirs.weight.detach(), rtol=1e-6)
    assert_allclose(out.detach(), expected.detach(), rtol=1e-6)


def test_empty_input_and_empty_bags(path):
    ours, theirs = _pair("max", sparse=False)
    ids, offsets = torch.tensor([], dtype=torch.long), torch.tensor([0, 0])
    out, expected = ours(ids, offsets), theirs(ids, offsets)
    assert torch.equal(out, expected) and out.shape == (2, 3)
    out.sum().backward()
    assert torch.equal(ours.weight.grad, torch.zeros(10, 3))


def test_no_grad_inference_mode_and_frozen(path):
    ours, _ = _pair("sum")
    offsets = torch.tensor([0, 4])
    with torch.no_grad():
        assert not ours(IDS, offsets).requires_grad
    with torch.inference_mode():
        assert ours(IDS, offsets).is_inference()
    ours.weight.requires_grad_(False)
    assert not ours(IDS, offsets).requires_grad


def test_gradcheck(path):
    table = torch.randn(10, 3, dtype=torch.float64, requires_grad=True)
    psw = torch.rand(len(IDS), dtype=torch.float64, requires_grad=True)
    offsets = torch.tensor([0, 2, 2, 7])
    for mode in ("sum", "mean"):
        assert torch.autograd.gradcheck(
            lambda w, p, mode=mode: et.functional.embedding_bag(
                IDS, w, offsets, mode=mode, per_sample_weights=p
            ),
            (table, psw),
        )
    assert torch.autograd.gradcheck(
        lambda w: et.functional.embedding_bag(IDS, w, offsets, mode="max"), (table,)
    )


def test_double_backward_is_not_implemented_like_torch(path):
    ours, _ = _pair("sum")
    out = ours(IDS, torch.tensor([0, 4]))
    (grad,) = torch.autograd.grad(out.pow(2).sum(), ours.weight, create_graph=True)
    with pytest.raises(NotImplementedError, match="_embedding_bag_backward"):
        grad.sum().backward()


# ---------------------------------------------------------------------------------------------
# Errors: torch's types (spec section 10), embtable's messages, the weight unchanged.


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (
            lambda w: et.functional.embedding_bag(IDS, w),
            ValueError,
            "offsets has to be a 1D Tensor but got None",
        ),
        (
            lambda w: et.functional.embedding_bag(IDS, w, torch.tensor([[0]])),
            ValueError,
            "offsets has to be a 1D Tensor",
        ),
        (
            lambda w: et.functional.embedding_bag(IDS.reshape(2, 5), w, torch.tensor([0])),
            ValueError,
            "if input is 2D, then offsets has to be None",
        ),
        (
            lambda w: et.functional.embedding_bag(IDS.reshape(1, 2, 5), w),
            ValueError,
            "input has to be 1D or 2D Tensor",
        ),
        (
            lambda w: et.functional.embedding_bag(IDS, w, torch.tensor([0]), mode="foo"),
            ValueError,
            "mode has to be one of sum, mean or max",
        ),
        (
            lambda w: et.functional.embedding_bag(
                IDS, w, torch.tensor([0]), mode="max", sparse=True
            ),
            ValueError,
            "max mode does not support sparse weights",
        ),
        (
            lambda w: et.functional.embedding_bag(
                IDS, w, torch.tensor([0]), mode="max", scale_grad_by_freq=True
            ),
            ValueError,
            "max mode does not support scaling the gradient by the frequency",
        ),
        (
            lambda w: et.functional.embedding_bag(
                IDS, w, torch.tensor([0]), mode="max", per_sample_weights=torch.ones(10)
            ),
            NotImplementedError,
            "per_sample_weights is only supported for mode='sum'",
        ),
        (
            lambda w: et.functional.embedding_bag(
                IDS, w, torch.tensor([0]), per_sample_weights=torch.ones(9)
            ),
            ValueError,
            "must have the same shape as the input",
        ),
        (
            lambda w: et.functional.embedding_bag(IDS, w, torch.tensor([1])),
            RuntimeError,
            "offsets[0] has to be 0",
        ),
        (
            lambda w: et.functional.embedding_bag(IDS, w, torch.tensor([0, 11])),
            RuntimeError,
            "offsets[-1] can not be greater than input's length",
        ),
        (
            lambda w: et.functional.embedding_bag(
                IDS, w, torch.tensor([], dtype=torch.long), include_last_offset=True
            ),
            RuntimeError,
            "include_last_offset: number of offset should be at least 1",
        ),
        (
            lambda w: et.functional.embedding_bag(IDS + 1, w, torch.tensor([0])),
            RuntimeError,
            "index 10 at position (7,) is out of range",
        ),
        (
            lambda w: et.functional.embedding_bag(IDS, w, torch.tensor([0]), padding_idx=10),
            RuntimeError,
            "padding_idx must be within the number of embeddings",
        ),
        (
            lambda w: et.functional.embedding_bag(IDS.float(), w, torch.tensor([0])),
            RuntimeError,
            "indices must be an integer tensor",
        ),
        (
            lambda w: et.functional.embedding_bag(IDS, w[0], torch.tensor([0])),
            ValueError,
            "weight has to be a 2D Tensor",
        ),
    ],
)
def test_errors(path, call, error, fragment):
    table = torch.randn(10, 3)
    before = table.clone()
    with pytest.raises(error, match=__import__("re").escape(fragment)):
        call(table)
    assert torch.equal(table, before)


def test_error_classes_are_embtables(path):
    table = torch.randn(10, 3)
    with pytest.raises(BagIndexError):
        et.functional.embedding_bag(IDS + 1, table, torch.tensor([0]))
    with pytest.raises(OffsetsError):
        et.functional.embedding_bag(IDS, table, torch.tensor([0, 5, 3]))
    with pytest.raises(ModeError):
        et.functional.embedding_bag(IDS, table, torch.tensor([0]), mode="MEAN")
