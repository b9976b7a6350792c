"""Kernels in child processes (issue 10): a forked child, or a torch DataLoader worker, calls a
kernel after its parent ran parallel (OpenMP) kernels; a spawned child works too.

Before the fix GNU OpenMP killed such a child with SIGTERM. Each scenario runs in a fresh
interpreter with a timeout, so a breakage fails the test instead of hanging it, and the parent
process asserts that it really ran a parallel kernel before forking.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

TIMEOUT = 240  # seconds for a whole scenario (numba may compile on a cold cache)

PRELUDE = """
import multiprocessing as mp
import numpy as np
from embtable import functional as F
from embtable.kernels import _parallel

weight = np.random.default_rng(0).standard_normal((50_000, 32)).astype(np.float32)
ids = np.random.default_rng(1).integers(0, 50_000, 8192)
expected = F.embedding(ids, weight)  # large enough for the parallel twin
grad = F.embedding_backward(ids, expected, 50_000)
assert getattr(_parallel, "_parallel_launched", True), "the parent ran no parallel kernel"


def work(seed):
    rows = np.random.default_rng(seed).integers(0, 50_000, 8192)
    out = F.embedding(rows, weight)
    back = F.embedding_backward(rows, out, 50_000, sparse=True)
    bags = F.embedding_bag(rows, weight, np.arange(0, 8192, 64), mode="max")
    assert np.array_equal(out, weight[rows]) and back.nnz > 0 and bags.shape == (128, 32)
    return float(out.sum())
"""


def _run(body: str, **env: str) -> subprocess.CompletedProcess[str]:
    script = textwrap.dedent(PRELUDE) + "\n" + textwrap.dedent(body)
    environment = {**os.environ, "NUMBA_NUM_THREADS": "2", "EMBTABLE_ADAPT_TO_LOAD": "0", **env}
    environment.pop("NUMBA_DISABLE_JIT", None)
    try:
        result = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env=environment,
        )
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"the scenario hung for {TIMEOUT} s: {error.stderr!r}")
    assert result.returncode == 0, (result.returncode, result.stdout[-2000:], result.stderr[-4000:])
    return result


@pytest.mark.skipif(sys.platform == "win32", reason="no fork on Windows")
@pytest.mark.parametrize("layer", ["default", "workqueue"])
def test_a_forked_child_runs_kernels_after_the_parent_ran_parallel_ones(layer):
    env = {} if layer == "default" else {"NUMBA_THREADING_LAYER": layer}
    result = _run(
        """
        ctx = mp.get_context("fork")
        with ctx.Pool(2) as pool:
            sums = pool.map_async(work, range(4), chunksize=1).get(timeout=120)
        assert sums == [work(seed) for seed in range(4)]  # the parent still runs in parallel
        child = ctx.Process(target=work, args=(7,))
        child.start()
        child.join(120)
        assert child.exitcode == 0, child.exitcode
        print("ok", sums[0])
        """,
        **env,
    )
    assert result.stdout.startswith("ok")


def test_a_spawned_child_runs_kernels():
    result = _run(
        """
        if __name__ == "__main__":
            ctx = mp.get_context("spawn")
            with ctx.Pool(1) as pool:
                print("ok", pool.apply(np.add, (1, 2)))
        """
    )
    assert result.stdout.startswith("ok 3")


@pytest.mark.skipif(sys.platform == "win32", reason="no fork on Windows")
def test_a_torch_dataloader_with_two_workers_for_two_epochs():
    pytest.importorskip("torch")
    result = _run(
        """
        import torch
        from torch.utils.data import DataLoader, Dataset

        class Bags(Dataset):
            def __len__(self):
                return 8

            def __getitem__(self, index):
                return torch.from_numpy(np.array(work(index), dtype=np.float32))

        loader = DataLoader(
            Bags(), batch_size=2, num_workers=2, multiprocessing_context="fork", timeout=120
        )
        for epoch in range(2):
            total = sum(float(batch.sum()) for batch in loader)
            F.embedding(ids, weight)  # the parent runs parallel kernels between the epochs
        assert abs(total - sum(work(i) for i in range(8))) < 1e-3 * max(1.0, abs(total))
        print("ok")
        """
    )
    assert result.stdout.startswith("ok")
