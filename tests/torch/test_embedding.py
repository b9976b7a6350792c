"""Parity of ``embtable.torch.Embedding`` / ``functional.embedding`` with torch (spec sections 2-5).

Every behavioural test runs on both paths (the ``path`` fixture): embtable's kernels and the
forced torch-ops fallback.
"""

from __future__ import annotations

import copy
import io
import pickle
import re

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal

import embtable.torch as et
from embtable import EmbeddingIndexError, IdsTypeError, PaddingIndexError

IDS_SHAPES = [(), (0,), (2, 0), (7,), (3, 4, 5)]


def _pair(num_embeddings=10, dim=3, *, dtype=torch.float32, **kwargs):
    """An embtable module and a torch module with the same (cloned) weight."""
    torch.manual_seed(0)
    ours = et.Embedding(num_embeddings, dim, dtype=dtype, **kwargs)
    theirs = torch.nn.Embedding(num_embeddings, dim, dtype=dtype, **kwargs)
    with torch.no_grad():
        theirs.weight.copy_(ours.weight)
    return ours, theirs


def _ids(rng, shape, num_embeddings, dtype=torch.int64):
    return torch.from_numpy(rng.integers(0, num_embeddings, size=shape)).to(dtype)


# ---------------------------------------------------------------------------------------------
# Module surface


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"padding_idx": 0},
        {
            "padding_idx": -1,
            "max_norm": 1.0,
            "norm_type": 1.0,
            "scale_grad_by_freq": True,
            "sparse": True,
        },
        {"max_norm": 2},
    ],
)
def test_constructor_init_repr_state_dict_match_torch(kwargs):
    torch.manual_seed(3)
    ours = et.Embedding(10, 3, **kwargs)
    torch.manual_seed(3)
    theirs = torch.nn.Embedding(10, 3, **kwargs)
    assert torch.equal(ours.weight, theirs.weight)  # bitwise: the same init.normal_ draw
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    for name in torch.nn.Embedding.__constants__:
        assert getattr(ours, name) == getattr(theirs, name)
    assert isinstance(ours, torch.nn.Embedding)


def test_device_dtype_and_freeze():
    emb = et.Embedding(4, 2, device="cpu", dtype=torch.float64, _freeze=True)
    assert emb.weight.dtype == torch.float64 and not emb.weight.requires_grad
    with pytest.raises(RuntimeError, match="Only Tensors of floating point"):
        et.Embedding(4, 2, dtype=torch.long)
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        et.Embedding(4, 2, padding_idx=4)
    with pytest.raises(AssertionError, match="Shape of weight does not match"):
        et.Embedding(4, 2, _weight=torch.zeros(3, 2))


def test_from_pretrained_shares_storage_and_keeps_padding_row():
    table = torch.arange(8.0).reshape(4, 2)
    emb = et.Embedding.from_pretrained(table, padding_idx=-1)
    assert type(emb) is et.Embedding
    assert emb.weight.data_ptr() == table.data_ptr()
    assert emb.padding_idx == 3 and not emb.weight.requires_grad
    assert_array_equal(emb(torch.tensor([3])).numpy(), [[6.0, 7.0]])
    with pytest.raises(
        AssertionError, match="Embeddings parameter is expected to be 2-dimensional"
    ):
        et.Embedding.from_pretrained(torch.zeros(3))
    frozen_int = et.Embedding.from_pretrained(torch.arange(6).reshape(3, 2))
    assert_array_equal(frozen_int(torch.tensor([2])).numpy(), [[4, 5]])


def test_state_dict_exchange_both_ways():
    ours, theirs = _pair(padding_idx=2)
    fresh_torch = torch.nn.Embedding(10, 3, padding_idx=2)
    fresh_torch.load_state_dict(ours.state_dict())
    assert torch.equal(fresh_torch.weight, ours.weight)
    fresh_ours = et.Embedding(10, 3, padding_idx=2)
    fresh_ours.load_state_dict(theirs.state_dict())
    assert torch.equal(fresh_ours.weight, theirs.weight)
    buffer = io.BytesIO()
    torch.save(ours.state_dict(), buffer)
    buffer.seek(0)
    assert torch.equal(torch.load(buffer)["weight"], ours.weight)


def test_deepcopy_and_pickle(rng):
    ours, _ = _pair(max_norm=1.0, sparse=True)
    for clone in (copy.deepcopy(ours), pickle.loads(pickle.dumps(ours))):
        assert type(clone) is et.Embedding and repr(clone) == repr(ours)
        assert clone.weight.data_ptr() != ours.weight.data_ptr()
        ids = _ids(rng, (5,), 10)
        assert torch.equal(clone(ids), ours(ids))
        clone(ids).sum().backward()
        assert clone.weight.grad.is_sparse


def test_attributes_are_read_on_every_call(path):
    ours, theirs = _pair()
    ours.padding_idx = theirs.padding_idx = 1
    ours.sparse = theirs.sparse = True
    ids = torch.tensor([1, 2, 2])
    ours(ids).sum().backward()
    theirs(ids).sum().backward()
    assert ours.weight.grad.is_sparse
    assert_array_equal(
        ours.weight.grad.coalesce().indices(), theirs.weight.grad.coalesce().indices()
    )


# ---------------------------------------------------------------------------------------------
# Forward


@pytest.mark.parametrize("shape", IDS_SHAPES)
@pytest.mark.parametrize("ids_dtype", [torch.int32, torch.int64])
@pytest.mark.parametrize("padding_idx", [None, 0, -1])
def test_lookup_matches_torch(path, rng, shape, ids_dtype, padding_idx):
    ours, theirs = _pair(padding_idx=padding_idx)
    ids = _ids(rng, shape, 10, ids_dtype)
    out = ours(ids)
    expected = theirs(ids)
    assert out.shape == expected.shape and out.dtype == expected.dtype
    assert_array_equal(out.detach().numpy(), expected.detach().numpy())
    assert out.requires_grad


@pytest.mark.parametrize("dtype", [torch.float16, torch.float64, torch.bfloat16])
def test_lookup_dtypes(path, rng, dtype):
    ours, theirs = _pair(dtype=dtype)
    ids = _ids(rng, (4, 5), 10)
    assert torch.equal(ours(ids), theirs(ids))


@pytest.mark.parametrize("shape", [(0, 3), (4, 0)])
def test_empty_tables(path, shape):
    table = torch.zeros(shape, requires_grad=True)
    ids = torch.zeros((0,), dtype=torch.long) if shape[0] == 0 else torch.tensor([1, 3])
    out = et.functional.embedding(ids, table)
    expected = torch.nn.functional.embedding(ids, table)
    assert out.shape == expected.shape
    out.sum().backward()
    assert table.grad.shape == shape


def test_non_contiguous_inputs(path, rng):
    table = torch.randn(3, 10, dtype=torch.float64).t()
    ids = _ids(rng, (6, 4), 10).t()
    assert torch.equal(
        et.functional.embedding(ids, table), torch.nn.functional.embedding(ids, table)
    )


def test_output_is_fresh_and_contiguous(path):
    table = torch.randn(5, 2)
    out = et.functional.embedding(torch.tensor([1, 1]), table)
    assert out.is_contiguous() and out._base is None
    out.zero_()
    assert table.abs().sum() > 0


# ---------------------------------------------------------------------------------------------
# Backward


@pytest.mark.parametrize("shape", IDS_SHAPES)
@pytest.mark.parametrize("padding_idx", [None, 0, -1])
@pytest.mark.parametrize("scale_grad_by_freq", [False, True])
def test_dense_gradient_matches_torch(path, rng, shape, padding_idx, scale_grad_by_freq):
    ours, theirs = _pair(padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq)
    ids = _ids(rng, shape, 10)
    grad = torch.from_numpy(rng.standard_normal((*shape, 3)).astype(np.float32))
    ours(ids).backward(grad)
    theirs(ids).backward(grad)
    assert not ours.weight.grad.is_sparse
    assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("shape", IDS_SHAPES)
@pytest.mark.parametrize("padding_idx", [None, 0, -1])
@pytest.mark.parametrize("ids_dtype", [torch.int32, torch.int64])
def test_sparse_gradient_matches_torch(path, rng, shape, padding_idx, ids_dtype):
    ours, theirs = _pair(padding_idx=padding_idx, sparse=True)
    ids = _ids(rng, shape, 10, ids_dtype)
    grad = torch.from_numpy(rng.standard_normal((*shape, 3)).astype(np.float32))
    ours(ids).backward(grad)
    if shape == () and padding_idx is not None:  # torch raises IndexError here (divergences.py)
        ids, grad = ids.reshape(1), grad.reshape(1, 3)
    theirs(ids).backward(grad)
    ours_grad, their_grad = ours.weight.grad.coalesce(), theirs.weight.grad.coalesce()
    assert ours.weight.grad.layout == torch.sparse_coo
    assert ours.weight.grad._indices().dtype == torch.int64  # before any coalesce()
    assert_array_equal(ours_grad.indices().numpy(), their_grad.indices().numpy())
    assert_allclose(ours_grad.values().numpy(), their_grad.values().numpy(), rtol=1e-6, atol=1e-7)


def test_gradients_accumulate_like_torch(path, rng):
    for sparse in (False, True):
        ours, theirs = _pair(sparse=sparse)
        for _ in range(3):
            ids = _ids(rng, (6,), 10)
            ours(ids).sum().backward()
            theirs(ids).sum().backward()
        assert ours.weight.grad.layout == theirs.weight.grad.layout
        assert_allclose(ours.weight.grad.to_dense(), theirs.weight.grad.to_dense(), rtol=1e-6)


def test_float16_gradients(path, rng):
    ours, theirs = _pair(dtype=torch.float16)
    ids = _ids(rng, (20,), 10)
    ours(ids).float().pow(2).sum().backward()
    theirs(ids).float().pow(2).sum().backward()
    assert ours.weight.grad.dtype == torch.float16
    assert_allclose(ours.weight.grad.float(), theirs.weight.grad.float(), rtol=2e-3, atol=2e-3)


def test_frozen_weight_and_no_grad_modes(path):
    ours, _ = _pair(_freeze=True)
    assert not ours(torch.tensor([1])).requires_grad
    trainable, _ = _pair(sparse=True)
    with torch.no_grad():
        assert not trainable(torch.tensor([1])).requires_grad
    with torch.inference_mode():
        out = trainable(torch.tensor([1, 2]))
        assert not out.requires_grad and out.is_inference()


def test_gradcheck_and_gradgradcheck(path):
    table = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    ids = torch.tensor([[0, 2, 2], [5, 1, 2]])
    assert torch.autograd.gradcheck(lambda w: et.functional.embedding(ids, w), (table,))
    assert torch.autograd.gradgradcheck(lambda w: et.functional.embedding(ids, w) ** 2, (table,))


def test_double_backward_matches_torch(path, rng):
    ids = torch.tensor([[1, 2, 2], [0, 4, 1]])
    grad_out = torch.randn(2, 3, 3, dtype=torch.float64, requires_grad=True)
    weights = {}
    for name, fn in (("ours", et.functional.embedding), ("torch", torch.nn.functional.embedding)):
        table = torch.randn(
            5,
            3,
            dtype=torch.float64,
            generator=torch.Generator().manual_seed(1),
            requires_grad=True,
        )
        (grad_w,) = torch.autograd.grad(
            fn(ids, table, padding_idx=1), table, grad_out, create_graph=True
        )
        (grad_g,) = torch.autograd.grad((grad_w * torch.arange(15.0).reshape(5, 3)).sum(), grad_out)
        weights[name] = grad_g
    assert_allclose(weights["ours"], weights["torch"], rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# max_norm (spec section 4)


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.5, float("inf")])
def test_max_norm_renormalises_like_torch(path, rng, norm_type):
    ours, theirs = _pair(max_norm=1.0, norm_type=norm_type)
    with torch.no_grad():
        ours.weight.mul_(3)
        theirs.weight.mul_(3)
    ids = torch.tensor([[1, 2, 2], [7, 1, 0]])
    out, expected = ours(ids), theirs(ids)
    assert_allclose(out.detach(), expected.detach(), rtol=1e-6)
    assert_allclose(ours.weight.detach(), theirs.weight.detach(), rtol=1e-6)
    untouched = [3, 4, 5, 6, 8, 9]
    assert_array_equal(ours.weight[untouched].detach(), theirs.weight[untouched].detach())
    out.sum().backward()
    expected.sum().backward()
    assert_allclose(ours.weight.grad, theirs.weight.grad)


def test_max_norm_bumps_version_and_breaks_saved_graphs_like_torch(path):
    for cls in (et.Embedding, torch.nn.Embedding):
        torch.manual_seed(0)
        emb = cls(5, 3, max_norm=100.0)  # no row changes; the version is bumped anyway
        before = emb.weight._version
        emb(torch.tensor([1, 2]))
        assert emb.weight._version == before + 1
        saved = (emb.weight**2).sum()  # saves weight at its current version
        out = emb(torch.tensor([1, 2]))
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            (saved + out.sum()).backward()


def test_max_norm_mutates_under_no_grad_inference_and_frozen(path):
    table = torch.tensor([[3.0, 4.0], [0.3, 0.4]])
    emb = et.Embedding.from_pretrained(table, max_norm=1.0)
    with torch.inference_mode():
        emb(torch.tensor([0, 0]))
    assert_allclose(table[0], [0.6, 0.8], rtol=1e-6)
    assert_array_equal(table[1], torch.tensor([0.3, 0.4]))


# ---------------------------------------------------------------------------------------------
# Errors (spec section 10): torch's exception types, embtable's messages, weight unchanged.


def test_out_of_range_ids_raise_index_error(path):
    ours, _ = _pair(max_norm=1.0)
    before = ours.weight.detach().clone()
    for bad in (10, -1):
        with pytest.raises(IndexError, match=re.escape(f"index {bad} at position (1,)")) as info:
            ours(torch.tensor([1, bad]))
        assert isinstance(info.value, EmbeddingIndexError)
        with pytest.raises(IndexError, match="index out of range in self"):
            torch.nn.functional.embedding(torch.tensor([1, bad]), before)
    assert torch.equal(ours.weight, before)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bool])
def test_non_integer_ids_raise_runtime_error(path, dtype):
    ours, _ = _pair()
    with pytest.raises(RuntimeError, match=r"indices must be an integer tensor.*Long, Int") as info:
        ours(torch.zeros(3, dtype=dtype))
    assert isinstance(info.value, IdsTypeError)


def test_padding_idx_out_of_range_in_functional(path):
    table = torch.zeros(5, 2)
    for bad in (5, -6):
        with pytest.raises(
            AssertionError, match="Padding_idx must be within num_embeddings"
        ) as info:
            et.functional.embedding(torch.tensor([1]), table, padding_idx=bad)
        assert isinstance(info.value, PaddingIndexError)


def test_non_tensor_arguments_raise_type_error():
    with pytest.raises(
        TypeError, match=re.escape("argument 'indices' (position 2) must be Tensor, not list")
    ):
        et.functional.embedding([1, 2], torch.zeros(3, 2))


def test_weight_must_be_2d(path):
    with pytest.raises(RuntimeError, match="'weight' must be 2-D"):
        et.functional.embedding(torch.tensor([0]), torch.zeros(3))


# ---------------------------------------------------------------------------------------------
# Path selection and threads


def test_path_selection():
    cpu = torch.zeros(3, 2)
    assert et.functional.uses_kernels(cpu, torch.tensor([1]))
    assert not et.functional.uses_kernels(cpu.to(torch.bfloat16))
    assert not et.functional.uses_kernels(torch.zeros(3, 2, device="meta"))
    assert not et.functional.uses_kernels(cpu.to(torch.complex64))


def test_meta_tensors_take_the_torch_path():
    table = torch.empty(10, 3, device="meta", requires_grad=True)
    out = et.functional.embedding(torch.tensor([[1, 2]], device="meta"), table)
    assert out.shape == (1, 2, 3) and out.device.type == "meta"


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_vmap_and_forward_ad_take_the_torch_path():
    table = torch.randn(6, 3, dtype=torch.float64)
    ids = torch.tensor([[0, 1], [5, 5]])
    batched = torch.func.vmap(lambda i: et.functional.embedding(i, table))(ids)
    assert torch.equal(batched, table[ids])
    tangent = torch.randn_like(table)
    _, jvp = torch.func.jvp(lambda w: et.functional.embedding(ids, w), (table,), (tangent,))
    assert torch.equal(jvp, tangent[ids])


@pytest.fixture
def one_thread():
    import numba

    threads = torch.get_num_threads(), numba.get_num_threads()
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    yield
    torch.set_num_threads(threads[0])
    numba.set_num_threads(threads[1])


@pytest.mark.parametrize("sparse", [False, True])
def test_core_subset_with_one_thread(one_thread, rng, sparse):
    ours, theirs = _pair(padding_idx=0, sparse=sparse)
    ids = _ids(rng, (50, 7), 10)
    grad = torch.randn(50, 7, 3)
    out = ours(ids)
    assert torch.equal(out, theirs(ids))
    out.backward(grad)
    theirs(ids).backward(grad)
    assert_allclose(
        ours.weight.grad.to_dense(), theirs.weight.grad.to_dense(), rtol=1e-6, atol=1e-6
    )
    bag = et.EmbeddingBag(10, 3, mode="mean", _weight=ours.weight.detach().clone())
    their_bag = torch.nn.EmbeddingBag(10, 3, mode="mean", _weight=ours.weight.detach().clone())
    assert_allclose(bag(ids).detach(), their_bag(ids).detach(), rtol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("padding_idx", [None, 2])
def test_small_training_calls_are_torchs_own_op_with_embtables_errors(dtype, padding_idx):
    from embtable.torch import _autograd

    torch.manual_seed(0)
    theirs = torch.nn.Embedding(50, 7, padding_idx=padding_idx).to(dtype)
    ours = et.Embedding(50, 7, padding_idx=padding_idx).to(dtype)
    ours.weight.data.copy_(theirs.weight.data)
    ids = torch.randint(0, 50, (_autograd.TORCH_NATIVE_MAX_IDS,))
    ids[:10] = 2  # repeated rows, padding included
    grad_output = torch.randn(len(ids), 7, dtype=dtype)
    out = ours(ids)
    assert type(out.grad_fn).__name__ == type(theirs(ids).grad_fn).__name__  # torch's node
    out.backward(grad_output)
    theirs(ids).backward(grad_output)
    assert torch.equal(out, theirs(ids))
    assert torch.equal(ours.weight.grad, theirs.weight.grad)  # the same bits
    # one id more, or a fused optimizer, sparse, scale_grad_by_freq: embtable's node, same grad
    more = torch.cat([ids, ids[:1]])
    for module in (ours, et.Embedding(50, 7, padding_idx=padding_idx, sparse=True).to(dtype)):
        module.weight.data.copy_(theirs.weight.data)
        theirs.weight.grad = module.weight.grad = None
        out = module(more)
        assert "Embedding" in type(out.grad_fn).__name__
        assert type(out.grad_fn).__name__ != type(theirs(more).grad_fn).__name__
        out.backward(torch.ones(len(more), 7, dtype=dtype))
        theirs(more).backward(torch.ones(len(more), 7, dtype=dtype))
        assert_allclose(module.weight.grad.to_dense(), theirs.weight.grad, rtol=1e-6)
    with pytest.raises(EmbeddingIndexError, match=r"50.*index out of range in self"):
        ours(torch.tensor([1, 50]))
    with pytest.raises(EmbeddingIndexError, match="index out of range in self"):
        et.functional.embedding(torch.tensor([-1]), ours.weight)
