"""The fast paths of plan_bags and bag_forward against their full checks.

``plan_bags``' common call (1-D int32/int64 ids and offsets as ndarrays, no per-sample weights,
no sparse/scale options) copies and checks everything in one kernel pass
(``kernels.bounds.plan_offset_bags``); ``bag_forward`` on a float32/float64 table in sum or
mean mode skips re-validation. Each must give bitwise the plan, output and errors of the full
path. The full path is reached here by passing ``num_embeddings`` as a NumPy integer (or the
weight as a ``Parameter``), which the fast paths do not take.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from embtable import functional as F
from embtable._errors import BagIndexError, EmbtableError, ShapeError
from embtable.kernels import bounds
from embtable.parameter import Parameter

HUGE = 10**12


def full_plan(ids, num_embeddings, offsets, **options):
    """plan_bags through its full checks (a NumPy integer row count skips the fast path)."""
    return F.plan_bags(ids, np.int64(num_embeddings), offsets, **options)


def outcome(plan, *args, **options):
    """``plan(*args, **options)``, or the type and text of the error it raised."""
    try:
        return plan(*args, **options)
    except EmbtableError as error:
        return type(error), str(error)


def assert_same_plan(fast, full):
    assert isinstance(fast, F.BagPlan) and isinstance(full, F.BagPlan), (fast, full)
    for name in ("ids", "bag_starts"):
        got, want = getattr(fast, name), getattr(full, name)
        assert got.dtype == want.dtype and got.shape == want.shape
        assert_array_equal(got, want)
        assert not got.flags.writeable and F._immutable(got)
        with pytest.raises(ValueError):
            got.setflags(write=True)
    if full.per_sample_weights is None:
        assert fast.per_sample_weights is None
    else:
        got, want = fast.per_sample_weights, full.per_sample_weights
        assert got.dtype == want.dtype and F._immutable(got)
        assert_array_equal(got, want)
    assert (fast.mode, fast.padding_idx, fast.num_embeddings) == (
        full.mode,
        full.padding_idx,
        full.num_embeddings,
    )
    assert type(fast.num_embeddings) is int


def random_case(rng, trial):
    num_rows = int(rng.integers(1, 40))
    num_ids = int(rng.integers(0, 60))
    dtype = (np.int32, np.int64)[trial % 2]
    ids = rng.integers(0, num_rows, num_ids).astype(dtype)
    offsets = np.sort(rng.integers(0, num_ids + 1, int(rng.integers(1, 9))))
    offsets[0] = 0
    offsets = offsets.astype((np.int64, np.int32)[trial % 3 == 0])
    kind = trial % 9
    if kind == 1 and num_ids:
        ids[rng.integers(0, num_ids)] = num_rows + int(rng.integers(0, 3))  # too large
    elif kind == 2 and num_ids:
        ids[rng.integers(0, num_ids)] = -1 - int(rng.integers(0, 3))  # negative
    elif kind == 3 and offsets.size > 2:
        offsets[1], offsets[2] = offsets[2] + 1, offsets[1]  # a decrease
    elif kind == 4:
        offsets[0] = 1  # does not start at 0
    elif kind == 5:
        offsets[-1] = num_ids + 1  # past the end
    elif kind == 6:
        ids = ids[::2]  # strided ids
    return ids, num_rows, offsets


@pytest.mark.parametrize("include_last_offset", [False, True])
@pytest.mark.parametrize("mode", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("two_d", [False, True])
def test_fast_plans_and_errors_equal_the_full_checks(rng, mode, include_last_offset, two_d):
    for trial in range(150):
        ids, num_rows, offsets = random_case(rng, trial)
        if two_d:  # (B, N) ids, no offsets; sometimes offsets anyway, or non-contiguous ids
            ids = np.resize(ids, (int(rng.integers(0, 5)), int(rng.integers(0, 6))))
            ids = ids.T if trial % 7 == 0 else ids
            offsets = offsets if trial % 11 == 0 else None
        psw = None
        if trial % 5 == 0:
            psw = rng.standard_normal(ids.shape).astype((np.float32, np.float64)[trial % 2])
            psw = psw[:-1] if trial % 15 == 0 else psw  # a wrong shape
            psw = psw.astype(np.int64) if trial % 25 == 0 else psw  # a wrong dtype
        padding_idx = (None, 0, -1, num_rows)[trial % 4]
        options = dict(
            mode=mode,
            include_last_offset=include_last_offset,
            padding_idx=padding_idx,
            per_sample_weights=psw,
            sparse=trial % 6 == 1,
            scale_grad_by_freq=trial % 8 == 3,
            weight_dtype=(np.float32, np.float64, np.float16)[trial % 3],
        )
        fast = outcome(F.plan_bags, ids, num_rows, offsets, **options)
        full = outcome(full_plan, ids, num_rows, offsets, **options)
        if isinstance(full, tuple):
            assert fast == full, (trial, ids, offsets)
        else:
            assert_same_plan(fast, full)


def test_the_fast_plan_keeps_its_own_copies(rng):
    ids = rng.integers(0, 6, 5000)
    offsets = np.array([0, 2, 2, 4000])
    plan = F.plan_bags(ids, 6, offsets, mode="sum")
    assert type(plan.ids.base) is bytes  # the fast path's fresh buffer (the full path reshapes)
    assert type(full_plan(ids, 6, offsets, mode="sum").ids.base) is np.ndarray
    assert type(F.plan_bags(ids.reshape(50, 100), 6, mode="sum").ids.base) is bytes
    expected = ids.copy()
    ids[:] = HUGE
    offsets[1] = HUGE
    assert_array_equal(plan.ids, expected)
    assert_array_equal(plan.bag_starts, [0, 2, 2, 4000, 5000])


def test_a_bad_id_in_the_fast_path_names_its_position():
    ids = np.zeros(5000, np.int32)
    ids[[4500, 2049]] = [7, -2]
    with pytest.raises(BagIndexError) as info:
        F.plan_bags(ids, 5, np.array([0, 10]), mode="sum")
    assert "index -2 at position (2049,)" in str(info.value)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("size", [0, 2, 2047, 2048, 2049, 7000])
def test_copy_ids_checked_copies_and_finds_the_first_bad_id(rng, dtype, size):
    for trial in range(8):
        ids = rng.integers(0, 100, size).astype(dtype)
        if size and trial % 2:
            ids[rng.integers(0, size, 1 + trial % 3)] = (-1, 100, 2**30)[trial % 3]
        bad = np.flatnonzero((ids < 0) | (ids >= 100))
        out = np.full(size, -7, dtype)
        assert bounds.copy_ids_checked(ids, 100, out) == (int(bad[0]) if bad.size else -1)
        if not bad.size:  # after a bad id the copy may stop
            assert_array_equal(out, ids)


def test_fresh_frozen_arrays_are_immutable_and_unshared():
    for count, dtype in ((0, np.int32), (1, np.int32), (3, np.int64), (1000, np.int64)):
        first = F._fresh_frozen(count, np.dtype(dtype))
        second = F._fresh_frozen(count, np.dtype(dtype))
        assert first.shape == (count,) and first.dtype == dtype and F._immutable(first)
        assert not first.flags.writeable
        if count:
            assert not np.may_share_memory(first, second)


@pytest.mark.parametrize("mode", ["sum", "mean"])
@pytest.mark.parametrize("dim", [16, 64, 20])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_bag_forward_equals_the_full_path(rng, mode, dim, dtype):
    weight = rng.standard_normal((30, dim)).astype(dtype)
    for padding_idx in (None, 3):
        ids = rng.integers(0, 30, 400)
        offsets = np.sort(rng.integers(0, 400, 50))
        offsets[0] = 0
        plan = F.plan_bags(ids, 30, offsets, mode=mode, padding_idx=padding_idx)
        fast, fast_state = F.bag_forward(weight, plan)
        full, full_state = F.bag_forward(Parameter(weight), plan)  # the full path
        assert fast.dtype == full.dtype == dtype
        assert_array_equal(fast, full)
        assert_array_equal(fast_state.bag_size, full_state.bag_size)
        assert fast_state.max_indices is None
        strided = np.asfortranarray(weight)  # columns not contiguous: the generic kernel
        assert_array_equal(F.bag_forward(strided, plan)[0], full)


def test_fast_bag_forward_keeps_the_weight_checks():
    plan = F.plan_bags(np.array([0, 1]), 3, np.array([0]), mode="sum")
    with pytest.raises(ShapeError, match="3 rows"):
        F.bag_forward(np.zeros((4, 8), np.float32), plan)
    plan.ids.shape = (2, 1)
    with pytest.raises(ShapeError, match="plan the bags again"):
        F.bag_forward(np.zeros((3, 8), np.float32), plan)
