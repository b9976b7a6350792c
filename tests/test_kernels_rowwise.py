"""The fused bag backward + row-wise Adagrad step against its NumPy twin and FBGEMM's rule."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from embtable import functional as F
from embtable._errors import FrozenWeightError, ModeError, OptionError, ShapeError
from embtable.kernels import load

numba = pytest.importorskip("numba")


@pytest.fixture(autouse=True)
def _parallel_whatever_the_load(monkeypatch):
    """The parallel twins run here even on a loaded machine (see kernels/_parallel.py)."""
    monkeypatch.setattr("embtable.kernels._parallel.ADAPT_TO_LOAD", False)


def explicit(weight, state, ids, offsets, grad_output, mode, lr, eps, psw=None, pad=None):
    """The rule written out with a dense gradient, row by row."""
    starts = np.append(offsets, len(ids))
    grad = np.zeros_like(weight)
    for b in range(len(offsets)):
        members = [i for i in range(starts[b], starts[b + 1]) if ids[i] != pad]
        for i in members:
            factor = 1.0 if psw is None else psw[i]
            if mode == "mean":
                factor /= len(members)
            grad[ids[i]] += factor * grad_output[b]
    for row in np.unique([i for i in ids if i != pad]):
        state[row] += np.mean(grad[row] ** 2)
        weight[row] -= lr / (np.sqrt(state[row]) + eps) * grad[row]


@pytest.mark.parametrize("mode", ["sum", "mean"])
@pytest.mark.parametrize("weighted", [False, True])
def test_matches_the_explicit_rule(rng, threads, mode, weighted):
    weight = rng.standard_normal((40, 12))
    sizes = rng.integers(0, 9, 30)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    ids = ((rng.zipf(1.3, int(sizes.sum())) - 1) % 40).astype(np.int64)
    psw = rng.random(ids.size) if weighted else None
    grad_output = rng.standard_normal((30, 12))
    expected, expected_state = weight.copy(), np.full(40, 0.1)
    state = expected_state.copy()
    plan = F.plan_bags(
        ids, 40, offsets, mode=mode, per_sample_weights=psw, padding_idx=3, weight_dtype=np.float64
    )
    for _ in range(3):
        F.embedding_bag_rowwise_adagrad_(weight, state, plan, grad_output, lr=0.1, eps=1e-8)
        explicit(expected, expected_state, ids, offsets, grad_output, mode, 0.1, 1e-8, psw, 3)
    assert_allclose(weight, expected, rtol=1e-12, atol=1e-12)
    assert_allclose(state, expected_state, rtol=1e-12)


def test_kernel_matches_its_numpy_twin(rng, threads):
    module = load("rowwise")
    weight = rng.standard_normal((300, 32), dtype=np.float32)
    ids = ((rng.zipf(1.1, 2000) - 1) % 300).astype(np.int64)
    starts = np.concatenate([[0], np.sort(rng.integers(0, 2000, 99)), [2000]]).astype(np.int64)
    grad_output = rng.standard_normal((100, 32), dtype=np.float32)
    results = []
    for step in (module.bag_rowwise_adagrad_, module.bag_rowwise_adagrad_reference):
        w, s = weight.copy(), np.zeros(300, np.float32)
        step(w, s, ids, starts, grad_output, None, 5, np.float32(0.05), np.float32(1e-8))
        results.append((w, s))
    assert_allclose(results[0][0], results[1][0], rtol=1e-5, atol=1e-6)
    assert_allclose(results[0][1], results[1][1], rtol=1e-5)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fbgemm_gpu's optional modules
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_matches_fbgemm_exact_rowwise_adagrad(rng):
    """fbgemm-gpu-cpu is a benchmark peer, never a dependency: skipped where it is missing."""
    pytest.importorskip("fbgemm_gpu")
    torch = pytest.importorskip("torch")
    from fbgemm_gpu.split_embedding_configs import EmbOptimType
    from fbgemm_gpu.split_table_batched_embeddings_ops_common import (
        EmbeddingLocation,
        PoolingMode,
    )
    from fbgemm_gpu.split_table_batched_embeddings_ops_training import (
        ComputeDevice,
        SplitTableBatchedEmbeddingBagsCodegen,
    )

    rows, dim = 500, 16
    tbe = SplitTableBatchedEmbeddingBagsCodegen(
        [(rows, dim, EmbeddingLocation.HOST, ComputeDevice.CPU)],
        optimizer=EmbOptimType.EXACT_ROWWISE_ADAGRAD,
        learning_rate=0.1,
        eps=1e-8,
        pooling_mode=PoolingMode.SUM,
    )
    weight = tbe.split_embedding_weights()[0].detach().numpy().copy()
    state = np.zeros(rows, np.float32)
    sizes = rng.integers(1, 20, 64)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    ids = rng.integers(0, rows, int(sizes.sum())).astype(np.int64)
    grad_output = rng.standard_normal((64, dim), dtype=np.float32)
    plan = F.plan_bags(ids, rows, offsets[:-1], mode="sum")
    for _ in range(3):
        out = tbe(torch.from_numpy(ids), torch.from_numpy(offsets))
        out.backward(torch.from_numpy(grad_output))
        F.embedding_bag_rowwise_adagrad_(weight, state, plan, grad_output, lr=0.1, eps=1e-8)
    assert_allclose(weight, tbe.split_embedding_weights()[0].detach().numpy(), atol=1e-5)


def test_everything_is_checked_before_a_write(rng):
    weight = rng.standard_normal((10, 4))
    state = np.zeros(10)
    before = weight.copy()
    plan = F.plan_bags([1, 2], 10, [0], mode="sum")
    with pytest.raises(ShapeError):
        F.embedding_bag_rowwise_adagrad_(weight, state, plan, np.ones((2, 4)), lr=0.1)
    with pytest.raises(OptionError):
        F.embedding_bag_rowwise_adagrad_(weight, state, plan, np.ones((1, 4)), lr=-1.0)
    with pytest.raises(ModeError):
        max_plan = F.plan_bags([1, 2], 10, [0], mode="max")
        F.embedding_bag_rowwise_adagrad_(weight, state, max_plan, np.ones((1, 4)), lr=0.1)
    frozen = state.copy()
    frozen.setflags(write=False)
    with pytest.raises(FrozenWeightError):
        F.embedding_bag_rowwise_adagrad_(weight, frozen, plan, np.ones((1, 4)), lr=0.1)
    assert (weight == before).all() and (state == 0).all()
