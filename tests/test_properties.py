"""Hypothesis laws: the lookup is a one-hot product, and the backward is its adjoint."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose, assert_array_equal

from embtable import functional as F

rows = st.integers(1, 12)
dims = st.integers(0, 5)


@st.composite
def tables_and_ids(draw):
    num_rows, dim = draw(rows), draw(dims)
    weight = draw(hnp.arrays(np.float64, (num_rows, dim), elements=st.floats(-100, 100)))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5))
    ids = draw(hnp.arrays(np.int64, shape, elements=st.integers(0, num_rows - 1)))
    padding_idx = draw(st.none() | st.integers(-num_rows, num_rows - 1))
    return weight, ids, padding_idx


@settings(max_examples=60, deadline=None)
@given(tables_and_ids())
def test_lookup_equals_one_hot_product(case):
    weight, ids, _ = case
    one_hot = np.eye(len(weight))[ids]
    assert_allclose(F.embedding(ids, weight), one_hot @ weight, atol=0)


@settings(max_examples=60, deadline=None)
@given(tables_and_ids(), st.booleans())
def test_backward_equals_one_hot_transpose_product(case, sparse):
    weight, ids, padding_idx = case
    grad_output = np.random.default_rng(ids.size).standard_normal((*ids.shape, weight.shape[1]))
    one_hot = np.eye(len(weight))[ids.reshape(-1)]
    expected = one_hot.T @ grad_output.reshape(ids.size, weight.shape[1])
    if padding_idx is not None:
        expected[padding_idx % len(weight)] = 0
    grad = F.embedding_backward(ids, grad_output, len(weight), padding_idx, sparse=sparse)
    assert_allclose(grad.to_dense() if sparse else grad, expected, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(tables_and_ids())
def test_adjoint_identity(case):
    # <embedding(W), G> == <W, embedding_backward(G)>
    weight, ids, _ = case
    grad_output = np.random.default_rng(1).standard_normal((*ids.shape, weight.shape[1]))
    left = np.sum(F.embedding(ids, weight) * grad_output)
    right = np.sum(weight * F.embedding_backward(ids, grad_output, len(weight)))
    assert_allclose(left, right, rtol=1e-9, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(tables_and_ids(), st.sampled_from(["sum", "mean", "max"]))
def test_bag_of_2d_ids_equals_reduced_lookup_without_padding(case, mode):
    weight, ids, _ = case
    ids = ids.reshape(ids.shape[0] if ids.ndim else 1, -1) if ids.size else ids.reshape(0, 1)
    rows_ = F.embedding(ids, weight)
    out = F.embedding_bag(ids, weight, mode=mode)
    if ids.shape[1] == 0:
        assert_array_equal(out, np.zeros((ids.shape[0], weight.shape[1])))
        return
    expected = {
        "sum": rows_.sum(1),
        "mean": rows_.mean(1),
        "max": rows_.max(1) if rows_.size else rows_.sum(1),
    }[mode]
    assert_allclose(out, expected, rtol=1e-12, atol=1e-9)
