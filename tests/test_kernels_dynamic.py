"""Kernels that hand out blocks of work from a shared counter: every block is done exactly once
and reductions (the first bad id) are the same as a sequential pass, whatever the thread count."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from embtable.kernels import load

numba = pytest.importorskip("numba")


@pytest.mark.parametrize("num_ids", [0, 1, 255, 256, 257, 5000])
def test_gather_writes_every_row_once(rng, threads, num_ids):
    weight = rng.standard_normal((300, 24)).astype(np.float32)
    ids = rng.integers(0, 300, num_ids)
    out = np.full((num_ids, 24), np.nan, np.float32)
    assert load("gather").gather_rows(weight, ids, out) == -1
    assert_array_equal(out, weight[ids])


@pytest.mark.parametrize("bad_positions", [[4999], [300, 4000], [10, 2600, 2601], [0, 256, 4999]])
def test_gather_reports_the_first_bad_id_across_blocks(rng, threads, bad_positions):
    weight = rng.standard_normal((300, 8)).astype(np.float32)
    ids = rng.integers(0, 300, 5000)
    for k, position in enumerate(bad_positions):
        ids[position] = 300 + k if k % 2 == 0 else -1 - k
    out = np.zeros((5000, 8), np.float32)
    assert load("gather").gather_rows(weight, ids, out) == min(bad_positions)
    good = np.ones(5000, bool)
    good[bad_positions] = False
    assert_array_equal(out[good], weight[ids[good]])


def test_fetch_add_hands_out_each_block_once_to_many_workers():
    from numba import njit, prange

    from embtable.kernels._atomic import fetch_add

    @njit(parallel=True)
    def claim(workers, num_blocks, counter, owner):
        for _worker in prange(workers):
            block = fetch_add(counter, 0, 1)
            while block < num_blocks:
                owner[block] += 1
                block = fetch_add(counter, 0, 1)

    owner = np.zeros(1000, np.int64)
    counter = np.zeros(1, np.int64)
    claim(8, 1000, counter, owner)
    assert_array_equal(owner, np.ones(1000, np.int64))
    assert counter[0] == 1000 + 8  # each worker's last claim is past the end


@pytest.mark.parametrize("num_bags", [1, 31, 32, 33, 700])
def test_bag_kernels_pool_every_bag_once(rng, threads, num_bags):
    weight = rng.standard_normal((100, 64)).astype(np.float32)
    sizes = rng.integers(0, 6, num_bags)
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    ids = rng.integers(0, 100, int(starts[-1]))
    for mode in (0, 2):
        out = np.full((num_bags, 64), np.nan, np.float32)
        size = np.full(num_bags, -1, np.int64)
        argmax = np.zeros((num_bags, 64) if mode == 2 else (0, 0), np.int64)
        load("bag").bag_reduce(
            weight, ids, starts, np.empty(0, np.float32), False, mode, -1, out, size, argmax
        )
        assert_array_equal(size, sizes)
        expected = [
            (weight[ids[a:b]].sum(0) if mode == 0 else weight[ids[a:b]].max(0))
            if b > a
            else np.zeros(64, np.float32)
            for a, b in itertools.pairwise(starts)
        ]
        np.testing.assert_allclose(out, np.array(expected), rtol=1e-5, atol=1e-6)
