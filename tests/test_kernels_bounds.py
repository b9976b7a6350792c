"""The vectorised bound checks (embtable.kernels.bounds) against plain NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from embtable.kernels import bounds


def first_out_of_range(ids, num_rows):
    bad = np.flatnonzero((ids < 0) | (ids >= num_rows))
    return int(bad[0]) if bad.size else -1


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("size", [0, 1, 2047, 2048, 2049, 7000])
def test_find_out_of_range_matches_numpy(rng, dtype, size):
    for trial in range(12):
        ids = rng.integers(0, 100, size).astype(dtype)
        if size and trial % 3:
            ids[rng.integers(0, size, 1 + trial % 4)] = -1 if trial % 2 else 100
        assert bounds.find_out_of_range(ids, 100) == first_out_of_range(ids, 100)


def test_find_out_of_range_reports_the_first_bad_id_across_blocks():
    ids = np.zeros(5000, np.int64)
    ids[[4500, 2049, 3000]] = [7, -2, 9]
    assert bounds.find_out_of_range(ids, 5) == 2049


@pytest.mark.parametrize("include_last_offset", [False, True])
def test_bag_starts_from_offsets_matches_numpy(rng, include_last_offset):
    for trial in range(30):
        num_ids = int(rng.integers(0, 50))
        offsets = np.sort(rng.integers(0, num_ids + 1, int(rng.integers(1, 8))))
        offsets[0] = 0
        if trial % 3 == 0 and offsets.size > 2:
            offsets[1], offsets[2] = offsets[2] + 1, offsets[1]  # a decrease
        if include_last_offset:
            expected = offsets.copy()
            if expected[-1] < num_ids and (expected.size < 2 or expected[-2] <= expected[-1]):
                expected[-1] = num_ids
        else:
            expected = np.append(offsets, num_ids)
        steps = np.flatnonzero(np.diff(expected) < 0)
        starts = np.empty(expected.size, np.int64)
        position = bounds.bag_starts_from_offsets(offsets, num_ids, include_last_offset, starts)
        assert_array_equal(starts, expected)
        assert position == (int(steps[0]) if steps.size else -1)
