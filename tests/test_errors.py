"""Every row of the spec's error catalogue (section 10) that applies to the NumPy layer.

Each test checks the type (including the torch-compatible base class), the message, and that a
failed call mutated nothing.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import embtable
from embtable import functional as F
from embtable._errors import (
    BagIndexError,
    EmbeddingIndexError,
    FrozenWeightError,
    IdsTypeError,
    ModeError,
    OffsetsError,
    PaddingIndexError,
    ShapeError,
    WeightDTypeError,
)


def test_error_classes_subclass_what_torch_raises():
    assert issubclass(EmbeddingIndexError, IndexError)
    assert issubclass(BagIndexError, RuntimeError) and issubclass(BagIndexError, IndexError)
    assert issubclass(PaddingIndexError, AssertionError) and issubclass(
        PaddingIndexError, ValueError
    )
    assert issubclass(ShapeError, AssertionError) and issubclass(ShapeError, RuntimeError)
    assert issubclass(IdsTypeError, TypeError) and issubclass(IdsTypeError, RuntimeError)
    assert issubclass(ModeError, ValueError) and issubclass(ModeError, NotImplementedError)
    for cls in (
        EmbeddingIndexError,
        PaddingIndexError,
        ShapeError,
        IdsTypeError,
        ModeError,
        OffsetsError,
    ):
        assert issubclass(cls, embtable.EmbtableError)


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        (
            [3, 10],
            "index 10 at position (1,) is out of range for an embedding table of 10 rows (valid: 0..9)",
        ),
        (
            [[0, 1], [-1, 2]],
            "index -1 at position (1, 0) is out of range for an embedding table of 10 rows (valid: 0..9)",
        ),
        (12, "index 12 at position () is out of range"),
        (np.array([2**62]), f"index {2**62} at position (0,)"),
        (np.array([5, 2**63 + 1], dtype=np.uint64), f"index {2**63 + 1} at position (1,)"),
    ],
)
def test_out_of_range_id(ids, message):
    weight = np.ones((10, 3))
    with pytest.raises(EmbeddingIndexError, match=re.escape(message)):
        F.embedding(ids, weight)


def test_lookup_into_empty_table():
    with pytest.raises(
        IndexError, match=re.escape("for an embedding table of 0 rows (the table has no rows)")
    ):
        F.embedding([0], np.zeros((0, 3)))


@pytest.mark.parametrize("ids", [np.array([1.0]), [0.5, 1], np.array([True]), ["a"]])
def test_non_integer_ids(ids):
    with pytest.raises(IdsTypeError, match="ids must be an integer array, got"):
        F.embedding(ids, np.ones((3, 2)))


def test_non_integer_ids_are_a_type_error_with_a_hint():
    with pytest.raises(
        TypeError, match=re.escape("got float32; convert with ids.astype(np.int64)")
    ):
        F.embedding(np.zeros(2, np.float32), np.ones((3, 2)))


@pytest.mark.parametrize("weight", [np.ones(3), np.ones((2, 2, 2)), np.float64(1.0)])
def test_weight_not_2d(weight):
    with pytest.raises(ShapeError, match="'weight' must be 2-D"):
        F.embedding([0], weight)


@pytest.mark.parametrize("padding_idx", [10, -11])
def test_padding_idx_out_of_range(padding_idx):
    message = f"Padding_idx must be within num_embeddings: got {padding_idx}, valid -10..9"
    with pytest.raises(PaddingIndexError, match=re.escape(message)):
        embtable.Embedding(10, 3, padding_idx=padding_idx)
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        F.embedding([0], np.ones((10, 3)), padding_idx=padding_idx)
    with pytest.raises(AssertionError, match=r"^padding_idx must be within num_embeddings"):
        embtable.EmbeddingBag(10, 3, padding_idx=padding_idx)
    with pytest.raises(RuntimeError, match="padding_idx must be within the number of embeddings"):
        F.embedding_bag([0], np.ones((10, 3)), [0], padding_idx=padding_idx)


def test_padding_idx_zero_on_empty_table_is_checked():
    # torch: not range-checked, fails later with an IndexError (spec 2.1)
    with pytest.raises(PaddingIndexError, match="the table has no rows"):
        embtable.Embedding(0, 3, padding_idx=0)


def test_float_padding_idx():
    with pytest.raises(
        TypeError, match=re.escape("padding_idx must be an integer or None, got float 1.0")
    ):
        embtable.Embedding(10, 3, padding_idx=1.0)


def test_weight_shape_mismatch():
    message = "Shape of weight does not match num_embeddings and embedding_dim: got (3, 4), expected (10, 3)"
    with pytest.raises(AssertionError, match=re.escape(message)):
        embtable.Embedding(10, 3, _weight=np.ones((3, 4)))
    with pytest.raises(ShapeError, match=re.escape(message)):
        embtable.EmbeddingBag(10, 3, _weight=np.ones((3, 4)))


def test_from_pretrained_not_2d():
    with pytest.raises(
        AssertionError, match="Embeddings parameter is expected to be 2-dimensional"
    ):
        embtable.Embedding.from_pretrained(np.ones(3))
    with pytest.raises(ShapeError, match="Embeddings parameter is expected to be 2-dimensional"):
        embtable.EmbeddingBag.from_pretrained(np.ones((1, 2, 3)))


def test_negative_size():
    with pytest.raises(RuntimeError, match="Trying to create tensor with negative dimension -1"):
        embtable.Embedding(-1, 3)


def test_float_size():
    with pytest.raises(
        TypeError, match=re.escape("num_embeddings must be an integer, got float 2.0")
    ):
        embtable.Embedding(2.0, 3)


def test_integer_table_must_be_frozen():
    with pytest.raises(
        WeightDTypeError,
        match="Only Tensors of floating point and complex dtype can require gradients",
    ):
        embtable.Embedding.from_pretrained(np.arange(6).reshape(3, 2), freeze=False)
    with pytest.raises(RuntimeError, match="Only Tensors of floating point"):
        embtable.Embedding(3, 2, dtype=np.int64)
    frozen = embtable.Embedding.from_pretrained(np.arange(6).reshape(3, 2))
    assert_array_equal(frozen([2]), [[4, 5]])


def test_integer_table_with_max_norm():
    with pytest.raises(WeightDTypeError, match="max_norm needs a floating-point weight"):
        F.embedding([0], np.arange(6).reshape(3, 2), max_norm=1.0)


def test_backward_into_frozen_table():
    emb = embtable.Embedding.from_pretrained(np.ones((3, 2)))
    with pytest.raises(FrozenWeightError, match="the weight does not require gradients"):
        emb.backward([0], np.ones((1, 2)))


def test_backward_grad_output_shape():
    with pytest.raises(
        ShapeError, match=re.escape("grad_output must have shape (2, 4), got (3, 4)")
    ):
        F.embedding_backward([0, 1], np.ones((3, 4)), 5)
    with pytest.raises(ShapeError, match=re.escape("grad_output must have shape (*ids.shape, D)")):
        F.embedding_backward([0, 1], np.ones(2), 5)
    with pytest.raises(TypeError, match="grad_output must be a floating-point array, got int64"):
        F.embedding_backward([0, 1], np.ones((2, 3), np.int64), 5)


# --- EmbeddingBag


def test_bag_offsets_missing():
    with pytest.raises(ValueError, match="offsets has to be a 1D Tensor but got None"):
        F.embedding_bag([0, 1], np.ones((3, 2)))


def test_bag_offsets_not_1d():
    with pytest.raises(OffsetsError, match="offsets has to be a 1D Tensor"):
        F.embedding_bag([0, 1], np.ones((3, 2)), np.array(0))


def test_bag_2d_input_with_offsets():
    with pytest.raises(ValueError, match="if input is 2D, then offsets has to be None"):
        F.embedding_bag([[0, 1]], np.ones((3, 2)), [0])


@pytest.mark.parametrize("ids", [np.array(1), np.zeros((1, 1, 1), np.int64)])
def test_bag_input_rank(ids):
    with pytest.raises(
        ValueError, match=f"input has to be 1D or 2D Tensor, but got Tensor of dimension {ids.ndim}"
    ):
        F.embedding_bag(ids, np.ones((3, 2)), None)


def test_bag_weight_not_2d():
    with pytest.raises(ShapeError, match="'weight' must be 2-D"):
        F.embedding_bag([0], np.ones(3), [0])


def test_bag_bad_mode():
    with pytest.raises(ValueError, match="mode has to be one of sum, mean or max, got 'foo'"):
        F.embedding_bag([0], np.ones((3, 2)), [0], mode="foo")
    with pytest.raises(ModeError, match="mode has to be one of sum, mean or max"):
        embtable.EmbeddingBag(3, 2, mode="Sum")  # checked at construction, unlike torch


def test_bag_max_with_sparse_or_scaling():
    with pytest.raises(ValueError, match="max mode does not support sparse weights"):
        embtable.EmbeddingBag(3, 2, mode="max", sparse=True)
    with pytest.raises(
        ValueError, match="max mode does not support scaling the gradient by the frequency"
    ):
        F.embedding_bag([0], np.ones((3, 2)), [0], mode="max", scale_grad_by_freq=True)


def test_bag_per_sample_weights_with_max():
    with pytest.raises(
        NotImplementedError,
        match="per_sample_weights is only supported for mode='sum' and mode='mean'",
    ):
        F.embedding_bag([0, 1], np.ones((3, 2)), [0], mode="max", per_sample_weights=[1.0, 1.0])


def test_bag_per_sample_weights_shape():
    with pytest.raises(ValueError, match=re.escape("must have the same shape as the input ((2,))")):
        F.embedding_bag([0, 1], np.ones((3, 2)), [0], mode="sum", per_sample_weights=[1.0])


def test_bag_integer_weight():
    with pytest.raises(RuntimeError, match="embedding_bag needs a floating-point weight"):
        F.embedding_bag([0], np.ones((3, 2), np.int64), [0], mode="sum")


@pytest.mark.parametrize(
    ("offsets", "options", "message"),
    [
        ([1, 2], {}, "offsets[0] has to be 0"),
        (
            [0, 5],
            {},
            "offsets[-1] can not be greater than input's length 4 but got offsets[-1] of 5",
        ),
        ([0, 3, 1], {}, "offsets must be non-decreasing, got offsets[1] = 3 > offsets[2] = 1"),
        ([0, -1, 2], {}, "offsets must be non-decreasing"),
        ([], {}, "offsets is empty but there are 4 ids"),
        (
            [],
            {"include_last_offset": True},
            "include_last_offset: number of offset should be at least 1",
        ),
        (
            [0, 2, 5],
            {"include_last_offset": True},
            "offsets[-1] can not be greater than input's length 4",
        ),
        (np.array([0.0, 1.0]), {}, "offsets must be an integer array, got float64"),
    ],
)
def test_bag_invalid_offsets(offsets, options, message):
    # torch checks only offsets[0] and offsets[-1]; the rest is UB there (spec 7.2).
    weight = np.ones((5, 2))
    with pytest.raises((OffsetsError, IdsTypeError), match=re.escape(message)):
        F.embedding_bag([0, 1, 2, 3], weight, offsets, max_norm=0.5, **options)
    assert_array_equal(weight, np.ones((5, 2)))  # the renorm did not run


def test_bag_offsets_errors_are_runtime_errors():
    with pytest.raises(RuntimeError, match="offsets"):
        F.embedding_bag([0, 1], np.ones((3, 2)), [1])


def test_bag_index_out_of_range():
    weight = np.full((3, 2), 4.0)
    with pytest.raises(
        RuntimeError,
        match=re.escape(
            "index 3 at position (2,) is out of range for an embedding table of 3 rows"
        ),
    ):
        F.embedding_bag([0, 1, 3], weight, [0], max_norm=1.0)
    assert_array_equal(weight, np.full((3, 2), 4.0))
    with pytest.raises(BagIndexError):
        F.embedding_bag([[0, -1]], weight)


def test_bag_has_no_freeze_argument():
    with pytest.raises(TypeError, match="_freeze"):
        embtable.EmbeddingBag(3, 2, _freeze=True)


# --- widths and row counts must agree (a mismatch must never reach a kernel)


def test_layer_backward_grad_output_width():
    emb = embtable.Embedding(4, 3, rng=0)
    with pytest.raises(
        ShapeError,
        match=re.escape("grad_output must end in the embedding dimension 3, got shape (1, 1)"),
    ):
        emb.backward([1], np.ones((1, 1)))
    bag = embtable.EmbeddingBag(4, 3, mode="max", rng=0)
    with pytest.raises(ShapeError, match="grad_output must end in the embedding dimension 3"):
        bag.backward([[1, 3]], np.ones((1, 1)))
    assert emb.weight.grad is None and bag.weight.grad is None


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_bag_backward_grad_output_width(mode):
    weight = np.arange(12.0).reshape(4, 3)
    with pytest.raises(
        ShapeError, match=re.escape("grad_output must have shape (1, 3), got (1, 1)")
    ):
        F.embedding_bag_backward([[1, 3]], np.ones((1, 1)), weight, mode=mode)


def test_bag_backward_per_sample_weights_width():
    weight = np.ones((1000, 4))
    with pytest.raises(
        ShapeError, match=re.escape("grad_output must have shape (1, 4), got (1, 1)")
    ):
        F.embedding_bag_backward(
            [999], np.ones((1, 1)), weight, [0], mode="sum", per_sample_weights=[1.0]
        )


def test_bag_forward_weight_must_match_the_plan():
    plan = F.plan_bags([9], 10, [0], mode="sum")
    with pytest.raises(
        ShapeError, match="the bags were planned for a table of 10 rows, got a weight of 5 rows"
    ):
        F.bag_forward(np.ones((5, 2)), plan)


def test_gradient_shape_must_match_the_parameter():
    param = embtable.Parameter(np.zeros((4, 3)))
    param.accumulate_grad(np.ones((4, 3)))
    with pytest.raises(
        ShapeError,
        match=re.escape(
            "a gradient of shape (4, 1) cannot accumulate into a parameter of shape (4, 3)"
        ),
    ):
        param.accumulate_grad(np.ones((4, 1)))


def test_public_renorm_validates():
    weight = np.full((3, 2), 5.0)
    with pytest.raises(EmbeddingIndexError, match=re.escape("index -1 at position (0,)")):
        F.embedding_renorm_(weight, [-1], 1.0)  # not wrapped
    with pytest.raises(EmbeddingIndexError, match=re.escape("index 3 at position (0,)")):
        F.embedding_renorm_(weight[:3], np.array([3]), 1.0)
    with pytest.raises(ValueError, match="max_norm must be >= 0"):
        F.embedding_renorm_(weight, [0], -1.0)
    with pytest.raises(WeightDTypeError, match="max_norm needs a floating-point weight"):
        F.embedding_renorm_(np.full((3, 2), 5), [0], 1.0)
    read_only = np.full((3, 2), 5.0)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="the weight is read-only"):
        F.embedding_renorm_(read_only, [0], 1.0)
    assert_array_equal(weight, np.full((3, 2), 5.0))


def test_bag_rejects_integer_tables_even_frozen():
    with pytest.raises(
        WeightDTypeError, match=r"EmbeddingBag needs a floating-point weight .* to pool, got int64"
    ):
        embtable.EmbeddingBag.from_pretrained(np.arange(6).reshape(3, 2), freeze=True)


def test_lookup_into_empty_table_is_also_a_runtime_error():
    with pytest.raises(RuntimeError, match="the table has no rows"):
        F.embedding([0], np.zeros((0, 3)))


def test_foreign_byte_order():
    weight = np.arange(6.0).reshape(3, 2).astype(">f4")
    assert_array_equal(F.embedding([2, 0], weight), [[4, 5], [0, 1]])
    with pytest.raises(WeightDTypeError, match="native byte order"):
        F.embedding_bag([0], weight, [0])


def test_first_bad_id_is_reported_on_the_parallel_path(monkeypatch):
    monkeypatch.setattr("embtable.kernels._parallel.PARALLEL_MIN_WORK", 0)
    ids = np.zeros(100_000, np.int64)
    ids[[70_000, 30_001, 99_999]] = [-5, 17, 10**9]
    with pytest.raises(
        EmbeddingIndexError, match=re.escape("index 17 at position (30001,) is out of range")
    ):
        F.embedding(ids, np.ones((10, 4), np.float32))
