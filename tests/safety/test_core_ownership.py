"""Checked objects own what they were checked on (issue 10): bag plans, bag states, row-sparse
gradients and optimizer state cannot be changed behind a kernel's back.

Each test would make a kernel read or write outside an array before the fix (a segfault or a
silent stray write); now the object kept its own copy, or the change is caught with an
``EmbtableError`` before any kernel runs.
"""

from __future__ import annotations

import dataclasses
import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from embtable import functional as F
from embtable import optim
from embtable._errors import (
    BagIndexError,
    EmbeddingIndexError,
    FrozenWeightError,
    OffsetsError,
    ShapeError,
    SparseGradientError,
    WeightDTypeError,
)
from embtable.parameter import Parameter
from embtable.sparse import RowSparseGrad

HUGE = 10**12


@pytest.fixture
def table() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)


# -- BagPlan ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_a_plan_keeps_its_own_ids_offsets_and_weights(table, mode):
    ids = np.array([1, 2, 4, 5, 4])
    offsets = np.array([0, 2])
    psw = np.array([0.5, 1.0, 2.0, 1.0, 3.0], dtype=np.float32) if mode != "max" else None
    plan = F.plan_bags(ids, 6, offsets, mode=mode, per_sample_weights=psw)
    expected, state = F.bag_forward(table, plan)
    ids[1] = HUGE  # the caller reuses its buffers
    offsets[1] = HUGE
    if psw is not None:
        psw[:] = np.nan
    out, state = F.bag_forward(table, plan)
    assert_array_equal(out, expected)
    grad, _ = F.bag_backward(plan, np.ones_like(out), state)
    reference = F.embedding_bag_backward(
        [1, 2, 4, 5, 4],
        np.ones_like(out),
        table,
        [0, 2],
        mode=mode,
        per_sample_weights=None if psw is None else [0.5, 1.0, 2.0, 1.0, 3.0],
    )[0]
    assert_array_equal(grad, reference)


def test_plan_arrays_are_read_only_for_good():
    plan = F.plan_bags(
        np.array([[1, 2], [0, 3]]), 4, mode="sum", per_sample_weights=np.ones((2, 2))
    )
    for array in (plan.ids, plan.bag_starts, plan.per_sample_weights):
        assert not array.flags.writeable
        with pytest.raises(ValueError):
            array[0] = 3
        with pytest.raises(ValueError):
            array.setflags(write=True)  # backed by immutable memory, not only flagged


def test_a_plan_built_by_hand_is_copied_and_checked(table):
    ids = np.array([0, 5, 2])
    plan = F.BagPlan(ids, np.array([0, 1, 3]), None, "sum", None, 6)
    ids[0] = HUGE
    out, _ = F.bag_forward(table, plan)
    assert_array_equal(out, np.stack([table[0], table[5] + table[2]]))
    with pytest.raises(BagIndexError, match="index 1000000000000 at position"):
        F.BagPlan(np.array([HUGE]), np.array([0, 1]), None, "sum", None, 6)
    with pytest.raises(BagIndexError):
        F.BagPlan(np.array([-1]), np.array([0, 1]), None, "sum", None, 6)
    with pytest.raises(OffsetsError, match="non-decreasing from 0 to len"):
        F.BagPlan(np.array([0, 1]), np.array([0, 5]), None, "sum", None, 6)
    with pytest.raises(OffsetsError):
        F.BagPlan(np.array([0, 1]), np.array([0, 2, 1, 2]), None, "sum", None, 6)
    with pytest.raises(ShapeError):
        F.BagPlan(np.array([0, 1]), np.array([0, 2]), np.ones(3), "sum", None, 6)
    good = F.plan_bags([0, 1], 6, [0], mode="sum")
    with pytest.raises(BagIndexError):
        dataclasses.replace(good, ids=np.array([0, HUGE]))


def test_a_reshaped_or_restrided_plan_is_refused(table):
    plan = F.plan_bags(np.arange(6), 6, [0, 3], mode="sum")
    plan.ids.shape = (2, 3)  # numpy lets an array's shape be reassigned in place
    with pytest.raises(ShapeError, match="plan the bags again"):
        F.bag_forward(table, plan)
    plan.ids.shape = (6,)
    F.bag_forward(table, plan)
    with warnings.catch_warnings():  # deprecated in NumPy 2.4, still possible
        warnings.simplefilter("ignore", DeprecationWarning)
        plan.bag_starts.strides = (0,)  # all entries read bag_starts[0]
    with pytest.raises(ShapeError, match="plan the bags again"):
        F.bag_forward(table, plan)


def test_bag_backward_checks_the_state_it_is_given(table):
    plan = F.plan_bags([1, 2, 3], 6, [0, 1], mode="max")
    out, state = F.bag_forward(table, plan)
    state.max_indices[0, 0] = HUGE  # the backward would write gradient row 10**12
    with pytest.raises(BagIndexError, match=re.escape("outside -1 .. 5")):
        F.bag_backward(plan, np.ones_like(out), state)
    with pytest.raises(ShapeError, match="max_indices of shape"):
        F.bag_backward(plan, np.ones_like(out), F.BagState(state.bag_size, None))
    mean = F.plan_bags([1, 2, 3], 6, [0, 1], mode="mean", per_sample_weights=np.ones(3))
    out, state = F.bag_forward(table, mean)
    short = F.BagState(state.bag_size[:1], None)  # the psw kernel reads bag_size[bag]
    with pytest.raises(ShapeError, match="bag_size must be"):
        F.bag_backward(mean, np.ones_like(out), short, weight=table, per_sample_weights_grad=True)


def test_checked_ids_are_a_copy():
    ids = np.array([0, 1, 2])
    flat, _ = F.check_ids(ids, 3)
    assert not np.may_share_memory(flat, ids)


# -- RowSparseGrad ------------------------------------------------------------------------------


def test_a_sparse_gradient_copies_its_rows_and_values():
    rows, values = np.array([0, 2]), np.ones((2, 3))
    grad = RowSparseGrad(rows, values, 4)
    rows[1] = 10**10
    values[:] = 7.0
    assert_array_equal(grad.rows, [0, 2])
    assert_array_equal(grad.values, np.ones((2, 3)))
    with pytest.raises(AttributeError):
        grad.rows = np.array([10**10])  # type: ignore[misc]


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "Adam", "AdamW", "SparseAdam"])
@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda g: g.rows.__setitem__(0, 10**10), EmbeddingIndexError),
        (lambda g: g.rows.__setitem__(0, -1), EmbeddingIndexError),
        (lambda g: g.rows.__setitem__(0, 2), SparseGradientError),
        (lambda g: setattr(g.values, "shape", (6,)), ShapeError),
    ],
    ids=["huge-row", "negative-row", "duplicate-row", "reshaped-values"],
)
def test_optimizers_recheck_sparse_gradients_at_every_step(name, change, error):
    first, second = Parameter(np.ones((4, 3))), Parameter(np.ones((4, 3)))
    opt = getattr(optim, name)([first, second], lr=0.1)
    first.grad = RowSparseGrad([1], np.ones((1, 3)), 4)
    second.grad = RowSparseGrad([0, 2], np.ones((2, 3)), 4)
    state_before = {k: {n: np.copy(v) for n, v in s.items()} for k, s in opt.state.items()}
    change(second.grad)
    with pytest.raises(error):
        opt.step()
    assert_array_equal(first.data, 1.0)  # nothing was updated, not even the valid parameter
    assert_array_equal(second.data, 1.0)
    for p, state in opt.state.items():
        for key, value in state.items():
            assert_array_equal(value, state_before[p][key])


# -- optimizer state vs a parameter that changed --------------------------------------------------


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "Adam", "AdamW", "SparseAdam"])
def test_a_parameter_resized_under_its_optimizer_is_refused(name):
    kwargs = {"momentum": 0.9} if name == "SGD" else {}
    p = Parameter(np.ones((4, 3)))
    opt = getattr(optim, name)([p], lr=0.1, **kwargs)
    p.grad = RowSparseGrad([1], np.ones((1, 3)), 4)
    opt.step()
    p.data = np.ones((1000, 3))  # the table grew; the state did not
    p.grad = RowSparseGrad([999], np.ones((1, 3)), 1000)
    with pytest.raises(ShapeError, match="was the parameter replaced or resized"):
        opt.step()
    assert_array_equal(p.data, 1.0)


def test_a_parameter_cast_under_its_optimizer_is_refused():
    p = Parameter(np.ones((4, 3), dtype=np.float32))
    opt = optim.Adam([p], lr=0.1)
    p.grad = np.ones((4, 3), dtype=np.float32)
    opt.step()
    p.data = p.data.astype(np.float64)
    p.grad = np.ones((4, 3))
    with pytest.raises(WeightDTypeError, match="load_state_dict casts"):
        opt.step()


def test_a_read_only_weight_fails_before_any_update():
    writable = Parameter(np.ones((3, 2)))
    frozen_data = np.ones((3, 2))
    frozen_data.setflags(write=False)
    read_only = Parameter(frozen_data)
    opt = optim.Adam([writable, read_only], lr=0.1)
    writable.grad = RowSparseGrad([0], np.ones((1, 2)), 3)
    read_only.grad = RowSparseGrad([0], np.ones((1, 2)), 3)
    with pytest.raises(FrozenWeightError, match="parameter 1: the weight array is read-only"):
        opt.step()
    assert_array_equal(writable.data, 1.0)
    assert not opt.state  # Adam's state (and step count) did not advance
