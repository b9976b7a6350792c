"""Kernels that hand out blocks of work from a shared counter: every block is done exactly once
and reductions (the first bad id) are the same as a sequential pass, whatever the thread count.

The parallel twins run here whatever the machine's load (``ADAPT_TO_LOAD`` off)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from embtable.kernels import load

numba = pytest.importorskip("numba")


@pytest.fixture(autouse=True)
def _parallel_whatever_the_load(monkeypatch):
    monkeypatch.setattr("embtable.kernels._parallel.ADAPT_TO_LOAD", False)


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


@pytest.mark.parametrize("num_rows", [1, 63, 64, 65, 700])
def test_optimizer_kernels_update_every_row_once(rng, threads, num_rows):
    """Blocks of 64 rows: each row updated exactly once (as the NumPy twins do, to rounding), and
    bitwise the same as the serial twin."""
    from embtable.kernels import _reference_optim as twin

    kernels = load("optim")
    table = rng.standard_normal((1000, 16)).astype(np.float32)
    rows = rng.permutation(1000)[:num_rows]
    grad = rng.standard_normal((num_rows, 16)).astype(np.float32)
    cases = {
        "adagrad_rows_": lambda: (np.abs(table), np.float32(0.1), np.float32(1e-10), 0.0, False),
        "rowwise_adagrad_rows_": lambda: (
            np.abs(table[:, 0]).copy(),
            np.float32(0.1),
            np.float32(1e-8),
            np.float32(0.01),
            True,
        ),
    }
    for name, state_and_scalars in cases.items():
        ours, theirs = table.copy(), table.copy()
        ours_state, *scalars = state_and_scalars()
        theirs_state = ours_state.copy()
        getattr(kernels, name)(ours, rows, grad, ours_state, *scalars)
        getattr(twin, name)(theirs, rows, grad, theirs_state, *scalars)
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7, err_msg=name)
        np.testing.assert_allclose(ours_state, theirs_state, rtol=1e-6, err_msg=name)
        # the serial twin on one worker: bitwise the same whatever the thread count
        serial, serial_state = table.copy(), state_and_scalars()[0]
        kernel = getattr(kernels, "_" + name.upper())[0]
        kernel(serial, rows, grad, serial_state, *scalars, 1, np.zeros(1, np.int64))
        assert_array_equal(ours, serial, err_msg=name)
        assert_array_equal(ours_state, serial_state, err_msg=name)
    ours, theirs = table.copy(), table.copy()
    positions = np.arange(num_rows)
    buffers = [np.zeros((num_rows, 16), np.float32) for _ in range(2)]
    scalars = (np.float32(0.1), np.float32(0.9), np.float32(1.0), np.float32(0), False, False, True)
    kernels.sgd_rows_(ours, rows, positions, grad, buffers[0], *scalars)
    twin.sgd_rows_(theirs, rows, positions, grad, buffers[1], *scalars)
    assert_array_equal(ours, theirs)
    assert_array_equal(buffers[0], buffers[1])


@pytest.mark.parametrize("num_rows", [1, 3, 64, 65, 300])
def test_renorm_and_scatter_cover_every_row_once(rng, threads, num_rows):
    from embtable.kernels import _reference as twin

    weight = 3 * rng.standard_normal((num_rows, 8)).astype(np.float32)
    expected = weight.copy()
    rows = rng.permutation(num_rows)
    load("renorm").renorm_rows_(weight, rows, 1.0, 2.0)
    twin.renorm_rows_(expected, rows, 1.0, 2.0)
    np.testing.assert_allclose(weight, expected, rtol=1e-6)
    assert np.all(np.linalg.norm(weight, axis=1) <= 1.0 + 1e-5)

    ids = rng.integers(0, num_rows, 4 * num_rows + 7)
    src = rng.standard_normal((ids.size, 8)).astype(np.float32)
    out = np.zeros((num_rows, 8), np.float32)
    reference = np.zeros_like(out)
    load("scatter").scatter_add_rows(ids, src, None, None, 0, out)
    twin.scatter_add_rows(ids, src, None, None, 0, reference)
    assert_array_equal(out, reference)  # input order per row, so bitwise

    order, unique_rows, bounds = load("scatter").group_rows(ids, num_rows, 0)
    sums = np.zeros((unique_rows.size, 8), np.float32)
    load("scatter").segment_sum_rows(order, bounds, src, None, None, False, sums)
    assert_array_equal(sums, reference[unique_rows])
