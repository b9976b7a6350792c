"""Review of the lean dispatch of ``embtable.torch``'s ``embedding`` (issue 12, commits 7cbdd62
and 1204290): where torch's own op runs first, the result must still be embtable's.

The first two tests fail on those commits: a sparse COO table takes torch's op, whose sparse
``index_select`` wraps negative ids (embtable never wraps them) and whose ``nbytes`` raises before
embtable's checks. The others pin edge cases of the fast dispatch that hold and that
``tests/torch/test_small_calls.py`` does not cover: bitwise gradients across the native/node
switch with non-trivial gradients, double backward, forward-mode AD, inference mode, hooks that
move the weight out of ``_parameters``, and read-only memory-mapped tables.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import embtable.torch as et  # noqa: E402
from embtable._errors import EmbeddingIndexError, IdsTypeError  # noqa: E402
from embtable.torch import _autograd  # noqa: E402
from embtable.torch import functional as F  # noqa: E402


def _general(ids, weight, padding_idx=None):
    """The general path's decision for the same call (no lean dispatch)."""
    return F._embedding(ids, weight, padding_idx, None, 2.0, False, False, None)


# ---------------------------------------------------------------------------------------------
# Failing on 7cbdd62: sparse (COO) tables take torch's op.


@pytest.mark.parametrize("sparse_dims", [2, 1])
def test_a_sparse_table_does_not_wrap_a_negative_id(sparse_dims):
    table = torch.randn(4, 3, generator=torch.Generator().manual_seed(0)).to_sparse(sparse_dims)
    ids = torch.tensor([0, -1])
    with pytest.raises(EmbeddingIndexError, match="index out of range in self"):
        _general(ids, table)  # embtable's semantics: -1 is out of range, never wrapped
    with torch.no_grad(), pytest.raises(EmbeddingIndexError, match=r"index -1 at position \(1,\)"):
        F.embedding(ids, table)  # 7cbdd62: torch's sparse index_select gives the last row
    module = et.Embedding.from_pretrained(table)
    with pytest.raises(EmbeddingIndexError, match="index out of range in self"):
        module(ids)


@pytest.mark.parametrize(
    ("ids", "error"),
    [
        (torch.tensor([0, 9]), EmbeddingIndexError),
        (torch.tensor([True, False]), IdsTypeError),
    ],
)
def test_a_sparse_training_table_gets_embtables_checks_first(ids, error):
    table = torch.randn(4, 3).to_sparse().requires_grad_()
    with pytest.raises(error):
        _general(ids, table)
    # 7cbdd62: ``weight.nbytes`` raises torch's "nbytes is not defined for sparse tensors"
    # (a RuntimeError, not an EmbtableError) before any check of the ids
    with pytest.raises(error):
        F.embedding(ids, table)


# ---------------------------------------------------------------------------------------------
# Edge cases that hold.


def _native_and_node(ids, weight, grad_output, monkeypatch, **options):
    results = []
    for native in (True, False):
        with monkeypatch.context() as patch:
            if not native:
                patch.setattr(_autograd, "TORCH_NATIVE_MAX_IDS", -1)
            leaf = weight.detach().clone().requires_grad_()
            out = F.embedding(ids, leaf, **options)
            assert (type(out.grad_fn).__name__ == "EmbeddingBackward0") is native
            out.backward(grad_output)
            results.append((out.detach(), leaf.grad))
    return results


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("count", [1000, 1001, 2048])  # torch's backward turns parallel at 1000
@pytest.mark.parametrize("padding_idx", [None, 3, -1])
def test_native_and_node_gradients_are_bitwise_equal(dtype, count, padding_idx, monkeypatch):
    generator = torch.Generator().manual_seed(count)
    weight = torch.randn(6, 17, dtype=dtype, generator=generator)
    ids = torch.randint(0, 6, (count,), generator=generator)  # each row repeated ~300 times
    scales = torch.logspace(-6, 6, count, dtype=dtype).unsqueeze(1)  # order-sensitive sums
    grad_output = torch.randn(count, 17, dtype=dtype, generator=generator) * scales
    (native_out, native_grad), (node_out, node_grad) = _native_and_node(
        ids, weight, grad_output, monkeypatch, padding_idx=padding_idx
    )
    assert torch.equal(native_out, node_out)
    assert torch.equal(native_grad, node_grad)
    if padding_idx is not None:
        assert not native_grad[padding_idx].any()


def test_native_double_backward_is_torchs_with_padding():
    ids = torch.tensor([[1, 2, 2], [0, 9, 1]])
    table = torch.randn(10, 3, dtype=torch.float64)
    results = []
    for embedding in (F.embedding, torch.nn.functional.embedding):
        weight = table.clone().requires_grad_()
        grad_out = torch.randn(
            2, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1)
        )
        grad_out.requires_grad_()
        out = embedding(ids, weight, padding_idx=2)
        (grad_weight,) = torch.autograd.grad(out, weight, grad_out, create_graph=True)
        (grad_grad,) = torch.autograd.grad((grad_weight**2).sum(), grad_out)
        results.append((grad_weight.detach(), grad_grad))
    assert torch.equal(results[0][0], results[1][0])
    assert torch.equal(results[0][1], results[1][1])
    assert not results[0][1][0, 1].any()  # the padding position has no second-order gradient


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("requires_grad", [False, True])
def test_forward_ad_through_the_fast_dispatch_matches_torch(requires_grad):
    forward_ad = torch.autograd.forward_ad
    ids = torch.tensor([[1, 2], [2, 0]])
    table = torch.randn(4, 3, dtype=torch.float64)
    tangent = torch.randn(4, 3, dtype=torch.float64)
    results = []
    for embedding in (F.embedding, torch.nn.functional.embedding):
        with forward_ad.dual_level():
            dual = forward_ad.make_dual(table.clone().requires_grad_(requires_grad), tangent)
            out = embedding(ids, dual, padding_idx=2)
            results.append(forward_ad.unpack_dual(out).tangent.clone())
    assert torch.equal(results[0], results[1])
    assert torch.equal(results[0], tangent[ids])  # padding does not change forward values


def test_enable_grad_inside_inference_mode_is_torchs_no_grad_result():
    weight = torch.randn(10, 3, requires_grad=True)
    ids = torch.tensor([1, 2])
    with torch.inference_mode(), torch.enable_grad():
        ours = F.embedding(ids, weight, padding_idx=1)
        theirs = torch.nn.functional.embedding(ids, weight, padding_idx=1)
    assert ours.requires_grad is theirs.requires_grad is False
    assert ours.is_inference() and theirs.is_inference()
    assert torch.equal(ours, theirs)


def _hooked(module, hook):
    if hook == "prune":
        from torch.nn.utils import prune  # not imported by torch.nn.utils itself

        prune.random_unstructured(module, "weight", amount=0.5)
        return module.weight_orig
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # weight_norm's deprecation
        torch.nn.utils.weight_norm(module, dim=0)
    return module.weight_v


@pytest.mark.parametrize("hook", ["prune", "weight_norm"])
@pytest.mark.parametrize("bag", [False, True])
def test_hooks_that_move_the_weight_out_of_parameters_are_followed(hook, bag):
    results = []
    for library in (et, torch.nn):
        torch.manual_seed(0)
        module = library.EmbeddingBag(10, 3, mode="sum") if bag else library.Embedding(10, 3)
        leaf = _hooked(module, hook)
        assert "weight" not in module._parameters
        args = (
            (torch.tensor([1, 2, 3, 4]), torch.tensor([0, 2])) if bag else (torch.tensor([1, 4]),)
        )
        out = module(*args)
        out.sum().backward()
        results.append((out.detach(), leaf.grad))
    assert torch.equal(results[0][0], results[1][0])
    assert torch.equal(results[0][1], results[1][1])


def test_a_read_only_memory_mapped_table_looks_up_and_trains_without_writes(tmp_path):
    path = tmp_path / "table.npy"
    np.save(path, np.arange(30, dtype=np.float32).reshape(10, 3))
    array = np.load(path, mmap_mode="r")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "The given NumPy array is not writable"
        table = torch.from_numpy(array)
    ids = torch.tensor([[1, 2], [2, 9]])
    assert torch.equal(F.embedding(ids, table), table[ids])
    weight = table.requires_grad_()
    F.embedding(ids, weight, padding_idx=9).sum().backward()
    assert weight.grad[2].tolist() == [2.0, 2.0, 2.0] and not weight.grad[9].any()
    assert np.array_equal(array, np.arange(30, dtype=np.float32).reshape(10, 3))
    with pytest.raises(EmbeddingIndexError, match="index out of range in self"):
        F.embedding(torch.tensor([10]), weight)
