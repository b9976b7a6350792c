"""Parity of :mod:`embtable.functional` and the NumPy layers with torch (spec sections 2-8).

Lookups must match exactly; gradients and reductions within a stated tolerance. Where embtable
deliberately differs from torch (a quirk or UB in the spec), the test says so and checks
embtable's own rule.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import embtable
from embtable import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

DTYPES = [np.float32, np.float64, np.float16]
TOL = {np.float32: 1e-5, np.float64: 1e-12, np.float16: 2e-3}
ID_SHAPES = [(), (0,), (2, 0), (7,), (3, 4), (3, 4, 5)]


def table(rng, rows, dim, dtype=np.float32):
    return rng.standard_normal((rows, dim)).astype(dtype)


def ids_of(rng, shape, rows, dtype=np.int64):
    return rng.integers(0, rows, size=shape).astype(dtype)


def sparse_to_dense(grad):
    return grad.coalesce().to_dense().numpy()


# ---------------------------------------------------------------------------------------------
# Forward


@pytest.mark.parametrize("shape", ID_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("id_dtype", [np.int64, np.int32])
def test_lookup_matches_torch_exactly(rng, shape, dtype, id_dtype):
    weight = table(rng, 10, 3, dtype)
    ids = ids_of(rng, shape, 10, id_dtype)
    ours = F.embedding(ids, weight)
    theirs = TF.embedding(torch.from_numpy(ids), torch.from_numpy(weight)).numpy()
    assert ours.shape == theirs.shape == (*shape, 3)
    assert ours.dtype == weight.dtype
    assert_array_equal(ours, theirs)


def test_lookup_of_python_int_and_nested_list(rng):
    weight = table(rng, 5, 2)
    assert_array_equal(F.embedding(3, weight), weight[3])
    assert_array_equal(F.embedding([[1, 2], [4, 0]], weight), weight[[[1, 2], [4, 0]]])
    assert F.embedding([], weight).shape == (0, 2)


def test_lookup_accepts_small_unsigned_ids(rng):
    weight = table(rng, 300, 2)
    ids = np.array([0, 255, 7], dtype=np.uint8)
    assert_array_equal(F.embedding(ids, weight), weight[ids])
    assert_array_equal(F.embedding(np.array([299], np.uint64), weight), weight[[299]])


def test_lookup_of_empty_ids_from_empty_table():
    assert F.embedding(np.zeros(0, np.int64), np.zeros((0, 4))).shape == (0, 4)


def test_lookup_works_on_zero_width_table():
    assert F.embedding([1, 2], np.zeros((3, 0))).shape == (2, 0)


def test_output_is_a_fresh_array(rng):
    weight = table(rng, 4, 2)
    out = F.embedding([1], weight)
    out[...] = 99
    assert not np.any(weight == 99)


def test_non_contiguous_weight_and_ids(rng):
    weight = table(rng, 10, 6)[:, ::2]
    ids = ids_of(rng, (4, 6), 10)[:, ::2]
    theirs = TF.embedding(torch.from_numpy(ids.copy()), torch.from_numpy(weight.copy()))
    assert_array_equal(F.embedding(ids, weight), theirs.numpy())


def test_padding_row_is_returned_as_it_is(rng):
    # torch: padding_idx has no effect on the forward value (spec 3.2)
    weight = table(rng, 5, 2)
    assert_array_equal(F.embedding([1, 1], weight, padding_idx=1), weight[[1, 1]])


def test_integer_table_lookup():
    weight = np.arange(12).reshape(4, 3)
    assert_array_equal(F.embedding([3, 0], weight), weight[[3, 0]])


# ---------------------------------------------------------------------------------------------
# max_norm


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, 0.5, float("inf"), 0.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_renorm_matches_torch(rng, norm_type, dtype):
    weight = table(rng, 12, 4, dtype) * 3
    ids = ids_of(rng, (5, 3), 12)
    theirs = torch.from_numpy(weight.copy())
    expected = TF.embedding(torch.from_numpy(ids), theirs, max_norm=1.5, norm_type=norm_type)
    ours = F.embedding(ids, weight, max_norm=1.5, norm_type=norm_type)
    tol = 1e-6 if dtype == np.float32 else 1e-12
    assert_allclose(ours, expected.numpy(), rtol=tol, atol=tol)
    assert_allclose(weight, theirs.numpy(), rtol=tol, atol=tol)  # same rows touched, in place


def test_renorm_touches_only_referenced_rows_and_each_once():
    weight = np.array([[3.0, 4.0], [6.0, 8.0], [0.3, 0.4]])
    F.embedding([0, 0, 2, 0], weight, max_norm=1.0)
    assert_allclose(weight[0], [0.6, 0.8], rtol=1e-6)
    assert_array_equal(weight[1], [6.0, 8.0])
    assert_array_equal(weight[2], [0.3, 0.4])


def test_renorm_row_at_the_bound_is_untouched():
    weight = np.array([[3.0, 4.0]])
    F.embedding([0], weight, max_norm=5.0)
    assert_array_equal(weight, [[3.0, 4.0]])


def test_renorm_float16_storage(rng):
    weight = table(rng, 6, 4, np.float16) * 3
    theirs = torch.from_numpy(weight.copy())
    TF.embedding(torch.tensor([0, 1, 5]), theirs, max_norm=1.0)
    F.embedding([0, 1, 5], weight, max_norm=1.0)
    assert_allclose(weight.astype(np.float32), theirs.float().numpy(), rtol=2e-3, atol=2e-3)


def test_negative_max_norm_is_an_error_not_a_sign_flip():
    # torch quirk (spec 4, 11.3): a negative max_norm flips signs. embtable refuses it.
    weight = np.ones((2, 2))
    with pytest.raises(ValueError, match=re.escape("max_norm must be >= 0, got -1.0")):
        F.embedding([0], weight, max_norm=-1.0)
    assert_array_equal(weight, np.ones((2, 2)))


def test_failed_call_with_max_norm_mutates_nothing():
    # torch quirk (spec 3.2): index -1 renormalises the last row, then raises.
    weight = np.full((3, 2), 5.0)
    with pytest.raises(IndexError):
        F.embedding([0, -1], weight, max_norm=1.0)
    assert_array_equal(weight, np.full((3, 2), 5.0))


# ---------------------------------------------------------------------------------------------
# Backward


def torch_grad(ids, grad_output, weight, **options):
    w = torch.from_numpy(weight.copy()).requires_grad_()
    out = TF.embedding(torch.from_numpy(ids), w, **options)
    out.backward(torch.from_numpy(grad_output))
    return w.grad


@pytest.mark.parametrize("shape", ID_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("padding_idx", [None, 0, -1])
@pytest.mark.parametrize("scale_grad_by_freq", [False, True])
def test_dense_backward_matches_torch(rng, shape, dtype, padding_idx, scale_grad_by_freq):
    weight = table(rng, 8, 3, dtype)
    ids = ids_of(rng, shape, 8)
    grad_output = rng.standard_normal((*shape, 3)).astype(dtype)
    expected = torch_grad(
        ids, grad_output, weight, padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq
    ).numpy()
    ours = F.embedding_backward(
        ids, grad_output, 8, padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq
    )
    assert ours.dtype == expected.dtype
    assert_allclose(ours.astype(np.float64), expected, rtol=TOL[dtype], atol=TOL[dtype])


def test_dense_backward_is_bitwise_index_add(rng):
    # spec 5.1: float32 is bitwise equal to zeros.index_add_(0, idx, grad) without options.
    ids = rng.zipf(1.1, 50_000).astype(np.int64) % 1000
    grad_output = rng.standard_normal((50_000, 16)).astype(np.float32)
    expected = torch.zeros(1000, 16).index_add_(
        0, torch.from_numpy(ids), torch.from_numpy(grad_output)
    )
    assert_array_equal(F.embedding_backward(ids, grad_output, 1000), expected.numpy())


@pytest.mark.parametrize("shape", ID_SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("padding_idx", [None, 2])
def test_sparse_backward_matches_torch_after_coalescing(rng, shape, dtype, padding_idx):
    weight = table(rng, 6, 3, dtype)
    ids = ids_of(rng, shape, 6)
    grad_output = rng.standard_normal((*shape, 3)).astype(dtype)
    ours = F.embedding_backward(ids, grad_output, 6, padding_idx=padding_idx, sparse=True)
    if shape == () and padding_idx is not None:
        # torch 2.13 fails here ("too many indices for tensor of dimension 0"): compare with
        # the dense gradient instead.
        dense = torch_grad(ids, grad_output, weight, padding_idx=padding_idx).numpy()
        assert_allclose(ours.to_dense(), dense, rtol=TOL[dtype], atol=TOL[dtype])
        return
    expected = torch_grad(ids, grad_output, weight, padding_idx=padding_idx, sparse=True).coalesce()
    assert isinstance(ours, embtable.RowSparseGrad)
    assert_array_equal(ours.rows, expected.indices()[0].numpy())
    assert_allclose(ours.values, expected.values().numpy(), rtol=TOL[dtype], atol=TOL[dtype])
    assert ours.shape == (6, 3)


def test_sparse_backward_with_scale_grad_by_freq(rng):
    # torch raises at backward time (spec 5.2); embtable supports it and matches the dense rule.
    ids = ids_of(rng, (40,), 7)
    grad_output = rng.standard_normal((40, 4))
    dense = F.embedding_backward(ids, grad_output, 7, scale_grad_by_freq=True)
    sparse = F.embedding_backward(ids, grad_output, 7, scale_grad_by_freq=True, sparse=True)
    assert_allclose(sparse.to_dense(), dense, rtol=1e-12)


def test_sparse_backward_all_padding_is_empty():
    grad = F.embedding_backward([1, 1], np.ones((2, 3)), 4, padding_idx=1, sparse=True)
    assert grad.nnz == 0 and grad.values.shape == (0, 3)


def test_backward_equals_one_hot_transpose_product(rng):
    ids = ids_of(rng, (30,), 9)
    grad_output = rng.standard_normal((30, 5))
    one_hot = np.eye(9)[ids]
    assert_allclose(F.embedding_backward(ids, grad_output, 9), one_hot.T @ grad_output, atol=1e-12)


def test_max_norm_backward_counts_rows(rng):
    # spec 4: the renorm is a constant for the gradient
    weight = table(rng, 5, 3) * 10
    ids = np.array([0, 0, 3])
    F.embedding(ids, weight, max_norm=1.0)
    assert_array_equal(F.embedding_backward(ids, np.ones((3, 3)), 5)[:, 0], [2, 0, 0, 1, 0])


# ---------------------------------------------------------------------------------------------
# EmbeddingBag


def torch_bag(weight, ids, offsets=None, psw=None, **options):
    w = torch.from_numpy(weight.copy()).requires_grad_()
    t_psw = None if psw is None else torch.from_numpy(psw.copy()).requires_grad_()
    out = TF.embedding_bag(
        torch.from_numpy(ids),
        w,
        None if offsets is None else torch.from_numpy(offsets),
        per_sample_weights=t_psw,
        **options,
    )
    return w, t_psw, out


BAG_CASES = [
    # ids, offsets: includes an empty bag in the middle and at the end
    (np.array([1, 2, 4, 5, 4, 3, 2, 9]), np.array([0, 4])),
    (np.array([1, 2, 4, 5, 4, 3, 2, 9]), np.array([0, 3, 3, 8])),
    (np.array([0, 0, 3]), np.array([0, 1])),
    (np.zeros(0, np.int64), np.array([0, 0])),
    (np.array([[1, 2, 3], [4, 4, 0]]), None),
    (np.zeros((0, 3), np.int64), None),
]


@pytest.mark.parametrize(("ids", "offsets"), BAG_CASES)
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 4])
@pytest.mark.parametrize("dtype", DTYPES)
def test_bag_forward_and_backward_match_torch(rng, ids, offsets, mode, padding_idx, dtype):
    weight = table(rng, 10, 3, dtype)
    options = {"mode": mode, "padding_idx": padding_idx}
    w, _, expected = torch_bag(weight, ids, offsets, **options)
    ours = F.embedding_bag(ids, weight, offsets, **options)
    assert ours.shape == expected.shape and ours.dtype == weight.dtype
    assert_allclose(
        ours.astype(np.float64),
        expected.detach().double().numpy(),
        rtol=TOL[dtype],
        atol=TOL[dtype],
    )
    grad_output = rng.standard_normal(expected.shape).astype(dtype)
    expected.backward(torch.from_numpy(grad_output))
    grad, _ = F.embedding_bag_backward(ids, grad_output, weight, offsets, **options)
    assert_allclose(
        grad.astype(np.float64), w.grad.double().numpy(), rtol=TOL[dtype], atol=TOL[dtype]
    )


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_bag_sparse_backward_matches_torch(rng, mode):
    weight = table(rng, 10, 4)
    ids, offsets = np.array([1, 2, 4, 5, 4, 3, 2, 9, 4]), np.array([0, 4, 4])
    w, _, out = torch_bag(weight, ids, offsets, mode=mode, sparse=True, padding_idx=9)
    grad_output = rng.standard_normal(out.shape).astype(np.float32)
    out.backward(torch.from_numpy(grad_output))
    expected = w.grad.coalesce()
    ours, _ = F.embedding_bag_backward(
        ids, grad_output, weight, offsets, mode=mode, sparse=True, padding_idx=9
    )
    assert_array_equal(ours.rows, expected.indices()[0].numpy())
    assert_allclose(ours.values, expected.values().numpy(), rtol=1e-5, atol=1e-6)


def test_bag_include_last_offset_matches_torch(rng):
    weight = table(rng, 10, 3)
    ids, offsets = np.array([1, 2, 4, 5, 4, 3]), np.array([0, 2, 2, 6])
    _, _, expected = torch_bag(weight, ids, offsets, mode="sum", include_last_offset=True)
    ours = F.embedding_bag(ids, weight, offsets, mode="sum", include_last_offset=True)
    assert ours.shape == (3, 3)
    assert_allclose(ours, expected.detach().numpy(), rtol=1e-6)


def test_bag_include_last_offset_single_offset_and_no_ids():
    assert F.embedding_bag(
        np.zeros(0, np.int64), np.ones((3, 2)), [0], include_last_offset=True
    ).shape == (0, 2)


@pytest.mark.parametrize("padding_idx", [None, 2])
def test_bag_per_sample_weights_sum_matches_torch(rng, padding_idx):
    weight = table(rng, 10, 3, np.float64)
    ids, offsets = np.array([1, 2, 4, 2, 4, 3]), np.array([0, 2, 5])
    psw = rng.standard_normal(6)
    w, t_psw, out = torch_bag(weight, ids, offsets, psw, mode="sum", padding_idx=padding_idx)
    ours = F.embedding_bag(
        ids, weight, offsets, mode="sum", per_sample_weights=psw, padding_idx=padding_idx
    )
    assert_allclose(ours, out.detach().numpy(), rtol=1e-12)
    grad_output = rng.standard_normal(out.shape)
    out.backward(torch.from_numpy(grad_output))
    grad, psw_grad = F.embedding_bag_backward(
        ids,
        grad_output,
        weight,
        offsets,
        mode="sum",
        per_sample_weights=psw,
        padding_idx=padding_idx,
    )
    assert_allclose(grad, w.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert_allclose(psw_grad, t_psw.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_bag_per_sample_weights_in_mean_mode(rng):
    # torch raises NotImplementedError; embtable divides the weighted sum by the bag's count.
    weight = table(rng, 6, 2, np.float64)
    ids, offsets, psw = np.array([1, 2, 5, 0]), np.array([0, 3]), np.array([0.5, 2.0, 1.0, 3.0])
    out = F.embedding_bag(ids, weight, offsets, mode="mean", per_sample_weights=psw, padding_idx=5)
    assert_allclose(out[0], (0.5 * weight[1] + 2.0 * weight[2]) / 2)
    assert_allclose(out[1], 3.0 * weight[0])
    grad_output = rng.standard_normal((2, 2))
    grad, psw_grad = F.embedding_bag_backward(
        ids, grad_output, weight, offsets, mode="mean", per_sample_weights=psw, padding_idx=5
    )
    assert_allclose(grad[1], 0.5 * grad_output[0] / 2)
    assert_allclose(
        psw_grad,
        [
            weight[1] @ grad_output[0] / 2,
            weight[2] @ grad_output[0] / 2,
            0.0,
            weight[0] @ grad_output[1],
        ],
    )


def test_bag_scale_grad_by_freq_uses_the_right_count():
    # torch CPU quirk (spec 8, #190063): idx [1, 1, 3] in one sum bag gives row 3 a grad of 0.5.
    weight = np.ones((4, 2))
    grad, _ = F.embedding_bag_backward(
        [1, 1, 3], np.ones((1, 2)), weight, [0], mode="sum", scale_grad_by_freq=True
    )
    assert_array_equal(grad, [[0, 0], [1, 1], [0, 0], [1, 1]])


def test_bag_max_ties_route_to_first_and_nan_rules():
    weight = np.array([[1.0, np.nan], [1.0, 2.0], [np.nan, 0.0]])
    out = F.embedding_bag([[0, 1], [2, 1]], weight, mode="max")
    # feature 0: tie 1.0/1.0 keeps the first; a NaN arriving first sticks, a later one is ignored
    assert_array_equal(out[0], [1.0, np.nan])
    assert_array_equal(out[1], [np.nan, 2.0])
    grad, _ = F.embedding_bag_backward([[0, 1]], np.ones((1, 2)), weight[:, :], mode="max")
    assert_array_equal(grad[:, 0], [1, 0, 0])


def test_bag_two_dimensional_with_zero_columns_gives_zero_bags():
    # torch quirk (spec 7.1): raises "step must be nonzero". embtable: B empty bags.
    out = F.embedding_bag(np.zeros((3, 0), np.int64), np.ones((4, 2)), mode="mean")
    assert_array_equal(out, np.zeros((3, 2)))


def test_bag_2d_equals_reduced_lookup(rng):
    weight = table(rng, 9, 4, np.float64)
    ids = ids_of(rng, (5, 6), 9)
    rows = F.embedding(ids, weight)
    assert_allclose(F.embedding_bag(ids, weight, mode="sum"), rows.sum(1))
    assert_allclose(F.embedding_bag(ids, weight, mode="mean"), rows.mean(1))
    assert_array_equal(F.embedding_bag(ids, weight, mode="max"), rows.max(1))


def test_bag_max_norm_renormalises_all_ids(rng):
    weight = table(rng, 6, 3) * 5
    theirs = torch.from_numpy(weight.copy())
    ids, offsets = np.array([0, 1, 5, 2]), np.array([0, 2])
    expected = TF.embedding_bag(
        torch.from_numpy(ids), theirs, torch.from_numpy(offsets), max_norm=1.0
    )
    ours = F.embedding_bag(ids, weight, offsets, max_norm=1.0)
    assert_allclose(ours, expected.numpy(), rtol=1e-5)
    assert_allclose(weight, theirs.numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    ("id_dtype", "offset_dtype"), [(np.int32, np.int32), (np.int32, np.int64), (np.uint8, np.int64)]
)
def test_bag_with_narrow_and_mixed_integer_dtypes(rng, id_dtype, offset_dtype):
    weight = table(rng, 10, 3)
    ids, offsets = np.array([1, 2, 4, 5, 4, 3], id_dtype), np.array([0, 2, 2], offset_dtype)
    expected = TF.embedding_bag(
        torch.from_numpy(ids.astype(np.int64)),
        torch.from_numpy(weight),
        torch.from_numpy(offsets.astype(np.int64)),
        mode="sum",
    )
    assert_allclose(F.embedding_bag(ids, weight, offsets, mode="sum"), expected.numpy(), rtol=1e-6)


def test_bag_with_non_contiguous_inputs(rng):
    weight = table(rng, 10, 8, np.float64)[:, ::2]
    ids = rng.integers(0, 10, (6, 8))[:, ::2]
    psw = rng.random((6, 8))[:, ::2]
    grad_output = rng.standard_normal((6, 8))[:, ::2]
    w, t_psw, out = torch_bag(
        np.ascontiguousarray(weight),
        np.ascontiguousarray(ids),
        None,
        np.ascontiguousarray(psw),
        mode="sum",
    )
    assert_allclose(
        F.embedding_bag(ids, weight, mode="sum", per_sample_weights=psw),
        out.detach().numpy(),
        rtol=1e-12,
    )
    out.backward(torch.from_numpy(np.ascontiguousarray(grad_output)))
    grad, psw_grad = F.embedding_bag_backward(
        ids, grad_output, weight, mode="sum", per_sample_weights=psw
    )
    assert_allclose(grad, w.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert_allclose(psw_grad.reshape(6, 4), t_psw.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_float16_sparse_backward(rng):
    ids = ids_of(rng, (50,), 9)
    grad_output = rng.standard_normal((50, 4)).astype(np.float16)
    sparse = F.embedding_backward(ids, grad_output, 9, sparse=True, padding_idx=0)
    dense = F.embedding_backward(ids, grad_output, 9, padding_idx=0)
    assert sparse.dtype == np.float16
    assert_allclose(
        sparse.to_dense().astype(np.float32), dense.astype(np.float32), rtol=1e-3, atol=1e-3
    )


def test_large_inputs_on_the_parallel_kernels_match_torch(rng):
    # ids x dim above PARALLEL_MIN_WORK, Zipf-heavy duplicates
    weight = table(rng, 20_000, 32)
    ids = ((rng.zipf(1.1, 1 << 16) - 1) % 20_000).astype(np.int64)
    grad_output = rng.standard_normal((1 << 16, 32)).astype(np.float32)
    assert_array_equal(
        F.embedding(ids, weight),
        TF.embedding(torch.from_numpy(ids), torch.from_numpy(weight)).numpy(),
    )
    expected = torch_grad(ids, grad_output, weight, padding_idx=0).numpy()
    assert_array_equal(F.embedding_backward(ids, grad_output, 20_000, padding_idx=0), expected)
    sparse = F.embedding_backward(ids, grad_output, 20_000, padding_idx=0, sparse=True)
    assert_allclose(sparse.to_dense(), expected, rtol=1e-5, atol=1e-4)
    offsets = np.arange(0, 1 << 16, 16)
    for mode in ("sum", "mean", "max"):
        w, _, out = torch_bag(weight, ids, offsets, mode=mode)
        assert_allclose(
            F.embedding_bag(ids, weight, offsets, mode=mode),
            out.detach().numpy(),
            rtol=1e-5,
            atol=1e-5,
        )
        bag_grad = rng.standard_normal(out.shape).astype(np.float32)
        out.backward(torch.from_numpy(bag_grad))
        grad, _ = F.embedding_bag_backward(ids, bag_grad, weight, offsets, mode=mode)
        assert_allclose(grad, w.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_include_last_offset_below_len_ids_ends_the_last_bag_at_the_end_like_torch():
    """pytorch#89677: with include_last_offset, offsets[-1] < len(ids) is valid in torch."""
    torch = pytest.importorskip("torch")
    weight = np.arange(12.0, dtype=np.float32).reshape(6, 2)
    ids, offsets = np.array([0, 1, 2, 3, 4]), np.array([0, 2, 3])
    for mode in ("sum", "mean", "max"):
        ours = F.embedding_bag(ids, weight, offsets, mode=mode, include_last_offset=True)
        theirs = torch.nn.functional.embedding_bag(
            torch.from_numpy(ids),
            torch.from_numpy(weight),
            torch.from_numpy(offsets),
            mode=mode,
            include_last_offset=True,
            padding_idx=5,  # torch's padding_idx/max kernels: the last bag runs to the end
        )
        np.testing.assert_allclose(ours, theirs.numpy(), err_msg=mode)
        assert ours.shape == (2, 2)


@pytest.mark.parametrize(
    ("mode", "weighted"),
    [("sum", False), ("sum", True), ("mean", False), ("mean", True), ("max", False)],
)
@pytest.mark.parametrize("dim", [16, 12])
@pytest.mark.parametrize("padding_idx", [None, 3])
def test_float16_bag_forward_equals_float32_rows(rng, mode, weighted, dim, padding_idx):
    """float16 tables go to the bag kernel as they are (sum/mean): the same bits as pooling the
    rows converted to float32 first, then rounding the result to float16."""
    weight = rng.standard_normal((40, dim)).astype(np.float16)
    sizes = rng.integers(0, 12, 25)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    ids = rng.integers(0, 40, int(sizes.sum()))
    psw = rng.random(ids.size) if weighted else None
    options = dict(mode=mode, per_sample_weights=psw, padding_idx=padding_idx)
    plan = F.plan_bags(ids, 40, offsets, weight_dtype=np.float16, **options)
    out, state = F.bag_forward(weight, plan)
    wide = weight.astype(np.float32)
    expected, expected_state = F.bag_forward(
        wide, F.plan_bags(ids, 40, offsets, weight_dtype=np.float32, **options)
    )
    assert out.dtype == np.float16
    assert_array_equal(out, expected.astype(np.float16))
    assert_array_equal(state.bag_size, expected_state.bag_size)
