"""``torch.nn.Embedding`` against ``embtable.torch.Embedding``, training steps included.

Run ``python bench/torch_adapter.py`` (``--quick`` runs tiny sizes for the smoke test). One process
prints a markdown table: the median time of each case over repeats after a warm-up (numba's
compilation and torch's first call happen there), for torch.nn and embtable.torch, the ratio
torch/embtable (above 1 means embtable is faster), and each side's peak memory above the level
before the call.

Cases, on an ``Embedding(V, D)`` with ids uniform or Zipf(1.1) distributed:

- ``forward``: the lookup, weight requiring grad (as in training).
- ``fwd+bwd dense``: lookup and backward to a dense ``(V, D)`` gradient.
- ``step SparseAdam``: torch: ``sparse=True``, backward, ``torch.optim.SparseAdam.step()``;
  embtable: ``optimizer=RowOptimizer("adam")``, the update happens inside the backward.
- ``step Adagrad``: the same with ``torch.optim.Adagrad`` / ``RowOptimizer("adagrad")``.

Peak memory: torch's CPU allocations are invisible to tracemalloc, so the benchmark reads the
process's resident high-water mark (``VmHWM``), reset before every measured call by writing 5 to
``/proc/self/clear_refs``; the peak is the largest ``VmHWM - VmRSS(before)`` over the repeats.
Where the reset is not allowed the column says n/a. Threads: ``torch.set_num_threads(2)`` and
numba's thread count 2.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

try:
    import torch
except ImportError:  # pragma: no cover - the bench extra installs torch
    sys.exit("this benchmark compares with torch: pip install 'embtable[bench]'")

import numba

import embtable
import embtable.torch as et

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _memory import MiB, reset_peak, status_bytes

THREADS = 2


def _measure(step: Callable[[], None], repeats: int) -> tuple[float, float | None]:
    """Median seconds and peak extra MiB of ``step`` (after two warm-up calls)."""
    step()
    step()
    times, peaks = [], []
    for _ in range(repeats):
        can_reset = reset_peak()
        before = status_bytes("VmRSS")
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
        if can_reset:
            peaks.append(max(0, status_bytes("VmHWM") - before) / MiB)
    return statistics.median(times), max(peaks) if peaks else None


def _ids(
    num_ids: int, num_embeddings: int, distribution: str, rng: np.random.Generator
) -> torch.Tensor:
    if distribution == "uniform":
        ids = rng.integers(0, num_embeddings, num_ids)
    else:
        ids = (rng.zipf(1.1, num_ids) - 1) % num_embeddings
    return torch.from_numpy(ids.astype(np.int64))


def _step(nn: str, op: str, num_embeddings: int, dim: int, ids: torch.Tensor) -> Callable[[], None]:
    """A closure running one iteration of ``op`` with torch.nn or embtable.torch."""
    torch.manual_seed(0)
    sparse = op.startswith("step")
    optimizer = None
    if nn == "torch.nn":
        module = torch.nn.Embedding(num_embeddings, dim, sparse=sparse)
        if op == "step SparseAdam":
            optimizer = torch.optim.SparseAdam(module.parameters(), lr=0.01)
        elif op == "step Adagrad":
            optimizer = torch.optim.Adagrad(module.parameters(), lr=0.01)
    else:
        rule = {"step SparseAdam": "adam", "step Adagrad": "adagrad"}.get(op)
        module = et.Embedding(
            num_embeddings, dim, optimizer=et.RowOptimizer(rule, lr=0.01) if rule else None
        )
    grad_output = torch.ones(len(ids), dim)

    def step() -> None:
        if optimizer is not None:
            optimizer.zero_grad()
        out = module(ids)
        if op != "forward":
            out.backward(grad_output)
            module.weight.grad = None if optimizer is None else module.weight.grad
        if optimizer is not None:
            optimizer.step()

    return step


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the smoke test")
    args = parser.parse_args(argv)
    torch.set_num_threads(THREADS)
    torch.sparse.check_sparse_tensor_invariants.disable()  # torch's default, chosen explicitly
    numba.set_num_threads(min(THREADS, numba.config.NUMBA_NUM_THREADS))
    if args.quick:
        tables, batches, repeats = [(2_000, 16)], [256], 2
    else:
        tables, batches, repeats = [(1_000_000, 128), (50_000, 64)], [4_096, 65_536], 5
    ops = ["forward", "fwd+bwd dense", "step SparseAdam", "step Adagrad"]
    print(
        f"embtable {embtable.__version__}, torch {torch.__version__}, numba {numba.__version__}, "
        f"numpy {np.__version__}, python {platform.python_version()}"
    )
    print(
        f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores visible; "
        f"torch threads {torch.get_num_threads()}, numba threads {numba.get_num_threads()}"
    )
    print(
        "time: median of repeats after warm-up; memory: peak RSS above the pre-call level (MiB)\n"
    )
    print(
        "| table | ids | op | torch.nn ms | embtable.torch ms | ratio "
        "| torch.nn MiB | embtable.torch MiB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for num_embeddings, dim in tables:
        for num_ids in batches:
            for distribution in ("uniform", "zipf"):
                ids = _ids(num_ids, num_embeddings, distribution, rng)
                for op in ops:
                    results = {}
                    for nn in ("torch.nn", "embtable.torch"):
                        results[nn] = _measure(_step(nn, op, num_embeddings, dim, ids), repeats)
                    (t_torch, m_torch), (t_ours, m_ours) = (
                        results["torch.nn"],
                        results["embtable.torch"],
                    )
                    memory = [f"{m:.1f}" if m is not None else "n/a" for m in (m_torch, m_ours)]
                    print(
                        f"| {num_embeddings}x{dim} | {num_ids} {distribution} | {op} "
                        f"| {t_torch * 1e3:.2f} | {t_ours * 1e3:.2f} | {t_torch / t_ours:.2f} "
                        f"| {memory[0]} | {memory[1]} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
