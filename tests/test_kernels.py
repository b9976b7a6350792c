"""The compiled kernels against their NumPy twins, with several threads and duplicate-heavy ids."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from embtable import functional as F
from embtable.kernels import _reference as ref
from embtable.kernels import load

numba = pytest.importorskip("numba")


def zipf_ids(rng, size, rows):
    return ((rng.zipf(1.1, size) - 1) % rows).astype(np.int64)


def test_small_inputs_and_worker_threads_run_serially(monkeypatch):
    import threading

    from embtable.kernels import _parallel

    kernel = ("serial", "parallel")
    monkeypatch.setattr(numba, "get_num_threads", lambda: 2)
    assert _parallel.pick(kernel, _parallel.PARALLEL_MIN_WORK - 1) == "serial"
    assert _parallel.pick(kernel, _parallel.PARALLEL_MIN_WORK) == "parallel"
    picked = []
    worker = threading.Thread(target=lambda: picked.append(_parallel.pick(kernel, 1 << 30)))
    worker.start()
    worker.join()
    assert picked == ["serial"]


def test_worker_threads_can_call_kernels_concurrently(rng):
    from concurrent.futures import ThreadPoolExecutor

    weight = rng.standard_normal((1000, 64)).astype(np.float32)
    ids = zipf_ids(rng, 1 << 15, 1000)
    expected = F.embedding_backward(ids, F.embedding(ids, weight), 1000)
    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(lambda _: F.embedding_backward(ids, F.embedding(ids, weight), 1000), range(8))
        )
    for result in results:
        assert_array_equal(result, expected)


@pytest.mark.parametrize("distribution", ["uniform", "zipf"])
def test_gather_matches_reference(rng, threads, distribution):
    weight = rng.standard_normal((500, 7)).astype(np.float32)
    ids = zipf_ids(rng, 5000, 500) if distribution == "zipf" else rng.integers(0, 500, 5000)
    out, expected = np.empty((5000, 7), np.float32), np.empty((5000, 7), np.float32)
    load("gather").gather_rows(weight, ids, out)
    ref.gather_rows(weight, ids, expected)
    assert_array_equal(out, expected)


@pytest.mark.parametrize("padding_idx", [-1, 0])
def test_dense_scatter_matches_reference_and_is_deterministic(rng, threads, padding_idx):
    ids = zipf_ids(rng, 20000, 300)
    src = rng.standard_normal((20000, 5)).astype(np.float32)
    scale = rng.random(20000).astype(np.float32)
    out = np.zeros((300, 5), np.float32)
    load("scatter").scatter_add_rows(ids, src, None, scale, padding_idx, out)
    expected = np.zeros((300, 5), np.float32)
    ref.scatter_add_rows(ids, src, None, scale, padding_idx, expected)
    assert_array_equal(out, expected)  # same order of additions, so bitwise equal


def test_results_do_not_depend_on_thread_count(rng, monkeypatch):
    monkeypatch.setattr("embtable.kernels._parallel.PARALLEL_MIN_WORK", 0)
    ids = zipf_ids(rng, 50000, 1000)
    grad_output = rng.standard_normal((50000, 8)).astype(np.float32)
    results = []
    previous = numba.get_num_threads()
    for count in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
        numba.set_num_threads(count)
        results.append(
            (
                F.embedding_backward(ids, grad_output, 1000),
                F.embedding_backward(ids, grad_output, 1000, sparse=True).values,
                F.embedding_backward(ids, grad_output, 1000, scale_grad_by_freq=True),
                F.embedding_bag(ids, grad_output[:1000], np.arange(0, 50000, 25), mode="mean"),
            )
        )
    numba.set_num_threads(previous)
    for first, second in zip(*results, strict=True):
        assert_array_equal(first, second)


@pytest.mark.parametrize("mode", [0, 1, 2])
def test_bag_reduce_matches_reference(rng, threads, mode):
    weight = rng.standard_normal((200, 6))
    ids = zipf_ids(rng, 3000, 200)
    starts = np.sort(rng.integers(0, 3000, 99))
    starts = np.concatenate([[0], starts, [3000]]).astype(np.int64)
    psw = rng.random(3000)
    use_weights = mode != 2
    outputs = []
    for module in (load("bag"), ref):
        out = np.zeros((100, 6))
        size = np.zeros(100, np.int64)
        argmax = np.zeros((100, 6), np.int64)
        module.bag_reduce(weight, ids, starts, psw, use_weights, mode, 3, out, size, argmax)
        outputs.append((out, size, argmax if mode == 2 else None))
    assert_allclose(outputs[0][0], outputs[1][0], rtol=1e-12, atol=1e-12)
    assert_array_equal(outputs[0][1], outputs[1][1])
    if mode == 2:
        assert_array_equal(outputs[0][2], outputs[1][2])


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, np.inf])
def test_renorm_matches_reference(rng, threads, norm_type):
    weight = rng.standard_normal((100, 9)) * 3
    rows = np.unique(zipf_ids(rng, 400, 100))
    expected = weight.copy()
    load("renorm").renorm_rows_(weight, rows, 2.0, norm_type)
    ref.renorm_rows_(expected, rows, 2.0, norm_type)
    assert_allclose(weight, expected, rtol=1e-12)


@pytest.mark.parametrize("num_rows", [300, 10**6])  # counting sort, and argsort for a huge table
@pytest.mark.parametrize("padding_idx", [-1, 0])
def test_group_rows_and_segment_sum_match_reference(rng, threads, num_rows, padding_idx):
    ids = zipf_ids(rng, 5000, num_rows)
    order, rows, bounds = load("scatter").group_rows(ids, num_rows, padding_idx)
    ref_order, ref_rows, ref_bounds = ref.group_rows(ids, num_rows, padding_idx)
    assert_array_equal(rows, ref_rows)
    assert_array_equal(bounds, ref_bounds)
    for g in range(len(rows)):  # same positions, in input order, within each group
        assert_array_equal(
            order[bounds[2 * g] : bounds[2 * g + 1]],
            ref_order[ref_bounds[2 * g] : ref_bounds[2 * g + 1]],
        )
    src = rng.standard_normal((50, 6))
    src_index = rng.integers(0, 50, 5000)
    scale = rng.random(5000)
    for divide in (False, True):
        out = np.zeros((len(rows), 6))
        expected = np.zeros((len(rows), 6))
        load("scatter").segment_sum_rows(order, bounds, src, src_index, scale, divide, out)
        ref.segment_sum_rows(order, bounds, src, src_index, scale, divide, expected)
        assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_scatter_max_grad_and_per_sample_weights_grad_match_reference(rng, threads):
    argmax = rng.integers(-1, 40, size=(300, 5))
    grad_output = rng.standard_normal((300, 5))
    out, expected = np.zeros((40, 5)), np.zeros((40, 5))
    load("bag").scatter_max_grad(argmax, grad_output, out)
    ref.scatter_max_grad(argmax, grad_output, expected)
    assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    weight = rng.standard_normal((40, 5))
    ids = zipf_ids(rng, 3000, 40)
    bag_of = np.sort(rng.integers(0, 300, 3000))
    bag_size = np.bincount(bag_of, minlength=300).astype(np.int64)
    for mode in (0, 1):
        out, expected = np.zeros(3000), np.zeros(3000)
        load("bag").per_sample_weights_grad(
            weight, ids, bag_of, grad_output, bag_size, mode, 2, out
        )
        ref.per_sample_weights_grad(weight, ids, bag_of, grad_output, bag_size, mode, 2, expected)
        assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
