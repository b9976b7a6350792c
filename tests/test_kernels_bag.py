"""The width-specialised, prefetching bag kernel against a sequential NumPy twin.

Each width in ``WIDTHS`` has its own compiled kernel and every other width runs the generic one;
all of them must add a bag's rows in id order (two at a time in the sum loop), so sums and maxima
match a left-to-right loop bitwise, for every thread count, with padding anywhere in a bag.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from embtable import functional as F
from embtable.kernels import load

numba = pytest.importorskip("numba")


def sequential(weight, ids, starts, psw, mode, pad):
    """Pool each bag left to right, one row at a time (the order the kernel promises)."""
    num_bags, dim = len(starts) - 1, weight.shape[1]
    out = np.zeros((num_bags, dim), weight.dtype)
    size = np.zeros(num_bags, np.int64)
    winners = np.full((num_bags, dim), -1, np.int64)
    for b in range(num_bags):
        acc = np.zeros(dim, weight.dtype)
        for i in range(starts[b], starts[b + 1]):
            row = ids[i]
            if row == pad:
                continue
            if mode == 2:
                better = weight[row] > acc if size[b] else np.ones(dim, bool)
                acc = np.where(better, weight[row], acc)
                winners[b] = np.where(better, row, winners[b])
            elif psw is not None:
                acc = acc + psw[i] * weight[row]
            else:
                acc = acc + weight[row]
            size[b] += 1
        out[b] = acc / size[b] if mode == 1 and size[b] else acc
    return out, size, winners


@pytest.mark.parametrize("dim", [*load("bag").WIDTHS, 1, 7, 20, 130])
@pytest.mark.parametrize("mode", [0, 1, 2])
def test_every_width_matches_a_sequential_loop(rng, threads, dim, mode):
    weight = rng.standard_normal((50, dim), dtype=np.float32)
    ids = rng.integers(0, 50, 700)
    ids[::13] = 4  # padding at odd and even positions, and whole-padding bags below
    starts = np.concatenate([[0, 0, 1, 2, 2], np.sort(rng.integers(3, 700, 60)), [700]])
    ids[starts[5] : starts[5] + 3] = 4
    starts = starts.astype(np.int64)
    num_bags = len(starts) - 1
    for psw in (None, rng.random(700, dtype=np.float32)) if mode != 2 else (None,):
        out = np.full((num_bags, dim), np.nan, np.float32)  # every row must be written
        size = np.zeros(num_bags, np.int64)
        argmax = np.zeros((num_bags, dim) if mode == 2 else (0, 0), np.int64)
        weights = psw if psw is not None else np.empty(0, np.float32)
        load("bag").bag_reduce(
            weight, ids, starts, weights, psw is not None, mode, 4, out, size, argmax
        )
        expected, expected_size, winners = sequential(weight, ids, starts, psw, mode, 4)
        assert_array_equal(size, expected_size)
        if mode == 1:
            assert_allclose(out, expected, rtol=1e-6, atol=0)
        else:
            assert_array_equal(out, expected)
        if mode == 2:
            assert_array_equal(argmax, winners)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bag_forward_sums_agree_with_torch(rng, dtype):
    torch = pytest.importorskip("torch")
    weight = rng.standard_normal((1000, 64)).astype(dtype)
    sizes = rng.integers(0, 30, 200)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    ids = rng.integers(0, 1000, int(sizes.sum()))
    ours, _ = F.bag_forward(weight, F.plan_bags(ids, 1000, offsets, mode="sum"))
    theirs = torch.nn.functional.embedding_bag(
        torch.from_numpy(ids), torch.from_numpy(weight), torch.from_numpy(offsets), mode="sum"
    )
    assert_allclose(ours, theirs.numpy(), rtol=1e-6 if dtype == np.float32 else 1e-12, atol=1e-6)


def _bags(rng, num_rows, num_ids, pad):
    ids = rng.integers(0, num_rows, num_ids)
    ids[::11] = pad
    starts = np.concatenate([[0, 0, 1], np.sort(rng.integers(1, num_ids, 40)), [num_ids]])
    return ids, starts.astype(np.int64)


@pytest.mark.parametrize("dim", [8, 64, 256, 3, 130])
@pytest.mark.parametrize("mode", [0, 1])
@pytest.mark.parametrize("weighted", [False, True])
def test_float16_tables_are_pooled_in_float32_registers(rng, threads, dim, mode, weighted):
    """A float16 table goes to the kernel as it is: each row is widened as it is loaded, and the
    result equals pooling the table converted to float32 first, bit for bit."""
    half = rng.standard_normal((40, dim)).astype(np.float16)
    ids, starts = _bags(rng, 40, 500, pad=5)
    psw = rng.random(500, dtype=np.float32) if weighted else None
    num_bags = len(starts) - 1
    bag = load("bag")
    assert bag.pools_half(half, mode)
    results = []
    for table in (half, half.astype(np.float32)):
        out = np.full((num_bags, dim), np.nan, np.float32)
        size = np.zeros(num_bags, np.int64)
        weights = psw if weighted else np.empty(0, np.float32)
        bag.bag_reduce(
            table, ids, starts, weights, weighted, mode, 5, out, size, np.empty((0, 0), np.int64)
        )
        results.append((out, size))
    assert_array_equal(results[0][0], results[1][0])
    assert_array_equal(results[0][1], results[1][1])
    expected, _, _ = sequential(half.astype(np.float32), ids, starts, psw, mode, 5)
    assert_allclose(results[0][0], expected, rtol=1e-6, atol=0)


def test_float16_is_not_pooled_in_max_mode_or_with_strided_columns():
    table = np.zeros((4, 16), np.float16)
    bag = load("bag")
    assert not bag.pools_half(table, 2)
    assert not bag.pools_half(table[:, ::2], 0)
    assert not bag.pools_half(table.astype(np.float32), 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", [0, 1])
def test_strided_tables_and_float64_weights_match_the_loop(rng, threads, dtype, mode):
    """Row views with a larger row stride take the register kernel; column-strided views and
    float64 per-sample weights give the same sums as the sequential loop."""
    base = rng.standard_normal((80, 128)).astype(dtype)
    ids, starts = _bags(rng, 40, 400, pad=7)
    psw = rng.random(400).astype(dtype)
    num_bags = len(starts) - 1
    for table in (base[::2], base[:40, ::2], base[:40, :64]):
        dim = table.shape[1]
        for weights in (None, psw):
            out = np.full((num_bags, dim), np.nan, dtype)
            size = np.zeros(num_bags, np.int64)
            load("bag").bag_reduce(
                table,
                ids,
                starts,
                weights if weights is not None else np.empty(0, dtype),
                weights is not None,
                mode,
                7,
                out,
                size,
                np.empty((0, 0), np.int64),
            )
            expected, expected_size, _ = sequential(table, ids, starts, weights, mode, 7)
            assert_array_equal(size, expected_size)
            if mode == 1:
                assert_allclose(out, expected, rtol=1e-6 if dtype == np.float32 else 1e-14, atol=0)
            else:
                assert_array_equal(out, expected)
