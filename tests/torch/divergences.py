"""Deliberate differences between embtable.torch and torch 2.13, one reason each.

Each ``check_*`` function shows torch's behaviour and embtable's on the same input;
``tests/torch/test_divergences.py`` runs them all (on both of embtable's paths). The list is
mirrored in the docstring of :mod:`embtable.torch`.
"""

from __future__ import annotations

import pytest
import torch
from numpy.testing import assert_allclose

import embtable.torch as et

REASONS = {
    "sparse_scale_grad_by_freq": "torch raises at backward (pytorch#189720); the scaled sparse gradient is well defined",
    "bag_scale_grad_by_freq_count": "torch's CPU kernel divides by another id's count (pytorch#190063)",
    "per_sample_weights_mean": "a weighted mean is well defined; torch raises NotImplementedError (pytorch#4068)",
    "max_norm_checks_before_writing": "a call that raises must not mutate the weight (torch renormalises first)",
    "negative_ids_not_wrapped_by_renorm": "torch's renorm wraps -1 and rescales the last row, then raises",
    "negative_max_norm": "torch flips the referenced rows' signs; a negative bound is a bug in the caller",
    "offsets_validated": "torch leaves decreasing offsets undefined (internal asserts, garbage)",
    "any_integer_ids": "uint8/int16 ids are unambiguous; torch accepts only int32/int64",
    "double_backward_scale_grad_by_freq": "torch's double backward ignores the scaling: not the adjoint",
    "sparse_0d_ids_with_padding": "torch's sparse backward raises IndexError for 0-d ids with padding_idx",
    "coalesced_sparse_grad": "a coalesced gradient is what the optimizers compute with; values are equal",
    "include_last_offset_short_last_bag": "torch's sum and mean kernels without padding_idx disagree (sum stops at offsets[-1], mean divides by the count to the end); its padding_idx and max kernels, and its test for pytorch#89677, run the last bag to the end",
    "per_sample_weights_any_float_dtype": "float16/32/64 weights for a table of another float dtype are unambiguous; torch's CPU kernel requires the table's dtype",
    "bag_2d_zero_columns": "torch raises 'step must be nonzero' from arange; (B, 0) is B empty bags",
}


def check_sparse_scale_grad_by_freq():
    for sparse in (True, False):
        emb = et.Embedding(5, 2, sparse=sparse, scale_grad_by_freq=True)
        emb(torch.tensor([1, 1, 2])).sum().backward()
        assert_allclose(emb.weight.grad.to_dense()[[1, 2]], torch.ones(2, 2))
    theirs = torch.nn.Embedding(5, 2, sparse=True, scale_grad_by_freq=True)
    with pytest.raises(
        RuntimeError, match="scale_grad_by_freq not supported with sparse gradients"
    ):
        theirs(torch.tensor([1, 1, 2])).sum().backward()


def check_bag_scale_grad_by_freq_count():
    ours = et.EmbeddingBag(5, 2, mode="sum", scale_grad_by_freq=True)
    theirs = torch.nn.EmbeddingBag(5, 2, mode="sum", scale_grad_by_freq=True)
    for module in (ours, theirs):
        module(torch.tensor([1, 1, 3]), torch.tensor([0])).sum().backward()
    assert_allclose(ours.weight.grad[3], [1.0, 1.0])  # correct: 3 occurs once
    assert_allclose(theirs.weight.grad[3], [0.5, 0.5])  # torch divides by count(1)


def check_per_sample_weights_mean():
    table = torch.arange(10.0).reshape(5, 2)
    psw = torch.tensor([1.0, 3.0, 2.0])
    out = et.functional.embedding_bag(
        torch.tensor([1, 2, 4]),
        table,
        torch.tensor([0]),
        mode="mean",
        per_sample_weights=psw,
        padding_idx=4,
    )
    assert_allclose(out, [[(1 * 2 + 3 * 4) / 2, (1 * 3 + 3 * 5) / 2]])
    with pytest.raises(NotImplementedError):
        torch.nn.functional.embedding_bag(
            torch.tensor([1, 2]), table, torch.tensor([0]), mode="mean", per_sample_weights=psw[:2]
        )


def check_max_norm_checks_before_writing():
    table = torch.full((3, 2), 5.0)
    with pytest.raises(RuntimeError):
        et.functional.embedding_bag(
            torch.tensor([0, 1]),
            table,
            torch.tensor([0]),
            max_norm=1.0,
            mode="max",
            per_sample_weights=torch.ones(2),
        )
    assert torch.equal(table, torch.full((3, 2), 5.0))
    with pytest.raises(NotImplementedError):
        torch.nn.functional.embedding_bag(
            torch.tensor([0, 1]),
            table,
            torch.tensor([0]),
            max_norm=1.0,
            mode="max",
            per_sample_weights=torch.ones(2),
        )
    assert table[0, 0] < 1  # torch renormalised before raising


def check_negative_ids_not_wrapped_by_renorm():
    table = torch.full((3, 2), 5.0)
    with pytest.raises(IndexError):
        et.functional.embedding(torch.tensor([-1]), table, max_norm=1.0)
    assert torch.equal(table[2], torch.full((2,), 5.0))
    with pytest.raises(IndexError):
        torch.nn.functional.embedding(torch.tensor([-1]), table, max_norm=1.0)
    assert table[2, 0] < 1


def check_negative_max_norm():
    table = torch.ones(3, 2)
    with pytest.raises(ValueError, match="max_norm must be >= 0"):
        et.functional.embedding(torch.tensor([0]), table, max_norm=-1.0)
    torch.nn.functional.embedding(torch.tensor([0]), table, max_norm=-1.0)
    assert table[0, 0] < 0


def check_offsets_validated():
    with pytest.raises(ValueError, match="offsets must be non-decreasing"):
        et.functional.embedding_bag(
            torch.tensor([1, 2, 3]), torch.ones(4, 2), torch.tensor([0, 2, 1])
        )
    with pytest.raises(
        ValueError, match=r"last offset must equal|offsets\[-1\] can not be greater"
    ):
        et.functional.embedding_bag(
            torch.tensor([1, 2, 3]),
            torch.ones(4, 2),
            torch.tensor([0, 4]),
            include_last_offset=True,
        )


def check_any_integer_ids():
    table = torch.arange(8.0).reshape(4, 2)
    assert torch.equal(
        et.functional.embedding(torch.tensor([3], dtype=torch.uint8), table), table[[3]]
    )
    with pytest.raises(RuntimeError, match="Long, Int"):
        torch.nn.functional.embedding(torch.tensor([3], dtype=torch.uint8), table)


def check_double_backward_scale_grad_by_freq():
    ids = torch.tensor([1, 1, 2])
    grad_out = torch.ones(3, 2, dtype=torch.float64, requires_grad=True)
    table = torch.zeros(4, 2, dtype=torch.float64, requires_grad=True)
    results = {}
    for name, fn in (("ours", et.functional.embedding), ("torch", torch.nn.functional.embedding)):
        (grad_w,) = torch.autograd.grad(
            fn(ids, table, scale_grad_by_freq=True), table, grad_out, create_graph=True
        )
        (results[name],) = torch.autograd.grad(grad_w.sum(), grad_out)
    assert_allclose(results["ours"][:, 0], [0.5, 0.5, 1.0])  # d/dg of sum_k sum_i g_i / c_k
    assert_allclose(results["torch"][:, 0], [1.0, 1.0, 1.0])


def check_sparse_0d_ids_with_padding():
    ours = et.Embedding(4, 2, padding_idx=0, sparse=True)
    ours(torch.tensor(2)).sum().backward()
    assert ours.weight.grad.coalesce().indices().tolist() == [[2]]
    theirs = torch.nn.Embedding(4, 2, padding_idx=0, sparse=True)
    with pytest.raises(IndexError):
        theirs(torch.tensor(2)).sum().backward()


def check_coalesced_sparse_grad():
    # The gradient the backward returns holds sorted unique rows, flagged coalesced (torch's is
    # neither). AccumulateGrad rebuilds the tensor for ``.grad`` and drops the flag, so the
    # flag is checked through ``autograd.grad``; the rows are unique and sorted either way.
    ours = et.Embedding(4, 2, sparse=True)
    theirs = torch.nn.Embedding(4, 2, sparse=True)
    ids = torch.tensor([3, 1, 3])
    (ours_grad,) = torch.autograd.grad(ours(ids).sum(), ours.weight)
    (theirs_grad,) = torch.autograd.grad(theirs(ids).sum(), theirs.weight)
    if et.functional.uses_kernels(ours.weight):
        assert ours_grad.is_coalesced()
        assert ours_grad._indices().tolist() == [[1, 3]]
    assert not theirs_grad.is_coalesced()
    assert torch.equal(ours_grad.to_dense(), theirs_grad.to_dense())


def check_per_sample_weights_any_float_dtype():
    table = torch.arange(8.0).reshape(4, 2)
    ids, offsets = torch.tensor([3, 1]), torch.tensor([0])
    psw = torch.tensor([0.5, 2.0], dtype=torch.float64)
    out = et.functional.embedding_bag(ids, table, offsets, mode="sum", per_sample_weights=psw)
    assert out.dtype == table.dtype
    assert torch.equal(out, (0.5 * table[3] + 2.0 * table[1]).unsqueeze(0))
    with pytest.raises(RuntimeError, match="have the same type as"):
        torch.nn.functional.embedding_bag(ids, table, offsets, mode="sum", per_sample_weights=psw)


def check_bag_2d_zero_columns():
    out = et.functional.embedding_bag(torch.zeros((3, 0), dtype=torch.long), torch.ones(4, 2))
    assert torch.equal(out, torch.zeros(3, 2))
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        torch.nn.functional.embedding_bag(torch.zeros((3, 0), dtype=torch.long), torch.ones(4, 2))


def check_include_last_offset_short_last_bag():
    table = torch.arange(20.0).reshape(10, 2)
    ids, offsets = torch.tensor([1, 2, 3, 4, 5]), torch.tensor([0, 2, 3])
    to_the_end = table[[3, 4, 5]]
    for mode, expected in (("sum", to_the_end.sum(0)), ("mean", to_the_end.mean(0))):
        ours = et.functional.embedding_bag(ids, table, offsets, mode=mode, include_last_offset=True)
        assert torch.equal(ours[1], expected)
        theirs = torch.nn.functional.embedding_bag(
            ids, table, offsets, mode=mode, include_last_offset=True
        )
        assert not torch.equal(theirs[1], expected)
        padded = torch.nn.functional.embedding_bag(
            ids, table, offsets, mode=mode, include_last_offset=True, padding_idx=9
        )
        assert torch.equal(padded[1], expected)
    assert torch.equal(
        torch.nn.functional.embedding_bag(
            ids, table, torch.tensor([0, 2, 3]), mode="sum", include_last_offset=True
        )[1],
        table[3],
    )


CHECKS = {name: globals()[f"check_{name}"] for name in REASONS}
