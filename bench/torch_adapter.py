"""``torch.nn.Embedding`` against ``embtable.torch.Embedding``, training steps included.

Run ``python bench/torch_adapter.py`` (``--quick`` runs tiny sizes for the smoke test). One process
prints one markdown table per thread count (1 and 2 by default): for each case the best time per
call of torch.nn and of embtable.torch, the ratio torch/embtable (above 1 means embtable is
faster), and each side's peak memory above the level before the call.

Timing: both sides are built and warmed up first (numba's compilation and torch's first call
happen there); then the two are measured interleaved, ``torch, embtable, embtable, torch`` in
every round, each sample a batch of calls lasting at least ~2 ms; the figure is the minimum over
the samples (the run least disturbed by other processes). With one thread the clock is
``time.thread_time()`` (CPU time of this thread: other processes on a loaded machine do not
count); with more threads it is ``time.perf_counter()``, as the worker threads' time is real.

Cases, on an ``Embedding(V, D)`` (1M x 128, 50k x 64, 10k x 64) with 256, 4096 or 65536 ids,
uniform or Zipf(1.1) distributed:

- ``forward``: the lookup, weight requiring grad (as in training).
- ``fwd+bwd dense``: lookup and backward to a dense ``(V, D)`` gradient.
- ``step SparseAdam``: torch: ``sparse=True``, backward, ``torch.optim.SparseAdam.step()``;
  embtable: ``optimizer=RowOptimizer("adam")``, the update happens inside the backward.
- ``step Adagrad``: the same with ``torch.optim.Adagrad`` / ``RowOptimizer("adagrad")``.

Peak memory: torch's CPU allocations are invisible to tracemalloc, so the benchmark reads the
process's resident high-water mark (``VmHWM``), reset before the measured call by writing 5 to
``/proc/self/clear_refs``; the peak is ``VmHWM - VmRSS(before)`` of one call after the timing.
Where the reset is not allowed the column says n/a.
"""

from __future__ import annotations

import argparse
import os
import platform
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

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the helpers beside this script
from _machine import cpu_model, set_threads

THREADS = (1, 2)
MIN_SAMPLE_SECONDS = 0.002


def _calls_per_sample(step: Callable[[], None], clock: Callable[[], float]) -> int:
    """How many calls make a sample of at least ``MIN_SAMPLE_SECONDS``."""
    start = clock()
    step()
    elapsed = max(clock() - start, 1e-7)
    return max(1, min(1000, int(MIN_SAMPLE_SECONDS / elapsed) + 1))


def _sample(step: Callable[[], None], calls: int, clock: Callable[[], float]) -> float:
    start = clock()
    for _ in range(calls):
        step()
    return (clock() - start) / calls


def _peak_mib(step: Callable[[], None]) -> float | None:
    """Peak extra MiB of one call of ``step``."""
    if not reset_peak():
        return None
    before = status_bytes("VmRSS")
    step()
    return max(0, status_bytes("VmHWM") - before) / MiB


def _compare(
    theirs: Callable[[], None], ours: Callable[[], None], rounds: int, threads: int
) -> tuple[float, float]:
    """Best seconds per call of each, measured interleaved (theirs, ours, ours, theirs)."""
    clock = time.thread_time if threads == 1 else time.perf_counter
    for step in (theirs, ours):  # warm-up: compilation, first-touch allocations
        step()
        step()
    calls = {id(step): _calls_per_sample(step, clock) for step in (theirs, ours)}
    times: dict[int, list[float]] = {id(theirs): [], id(ours): []}
    for _ in range(rounds):
        for step in (theirs, ours, ours, theirs):
            times[id(step)].append(_sample(step, calls[id(step)], clock))
    return min(times[id(theirs)]), min(times[id(ours)])


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
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds per case")
    parser.add_argument(
        "--threads", default=None, help="comma-separated thread counts (default 1,2)"
    )
    parser.add_argument("--ops", default=None, help="comma-separated subset of the cases")
    parser.add_argument(
        "--tables", default=None, help="comma-separated VxD tables (default 1000000x128,...)"
    )
    parser.add_argument("--batches", default=None, help="comma-separated id counts")
    args = parser.parse_args(argv)
    torch.sparse.check_sparse_tensor_invariants.disable()  # torch's default, chosen explicitly
    if args.quick:
        tables, batches, rounds, thread_counts = [(2_000, 16)], [256], 2, (1,)
    else:
        tables = [(1_000_000, 128), (50_000, 64), (10_000, 64)]
        batches, rounds = [256, 4_096, 65_536], 5
        thread_counts = THREADS
    if args.rounds is not None:
        rounds = args.rounds
    if args.threads is not None:
        thread_counts = tuple(int(t) for t in args.threads.split(","))
    if args.tables is not None:
        tables = [tuple(int(n) for n in t.split("x")) for t in args.tables.split(",")]  # type: ignore[misc]
    if args.batches is not None:
        batches = [int(n) for n in args.batches.split(",")]
    ops = ["forward", "fwd+bwd dense", "step SparseAdam", "step Adagrad"]
    if args.ops is not None:
        ops = [op for op in ops if op in args.ops.split(",")]
    print(
        f"embtable {embtable.__version__}, torch {torch.__version__}, numba {numba.__version__}, "
        f"numpy {np.__version__}, python {platform.python_version()}"
    )
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores visible")
    print(
        "time: best per-call time over interleaved samples (torch, embtable, embtable, torch "
        f"per round, {rounds} rounds); memory: peak RSS above the pre-call level (MiB)"
    )
    for threads in thread_counts:
        set_threads(threads)
        clock = "time.thread_time" if threads == 1 else "time.perf_counter"
        print(
            f"\n{threads} thread(s): torch threads {torch.get_num_threads()}, numba threads "
            f"{numba.get_num_threads()}, clock {clock}\n"
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
                        theirs = _step("torch.nn", op, num_embeddings, dim, ids)
                        ours = _step("embtable.torch", op, num_embeddings, dim, ids)
                        t_torch, t_ours = _compare(theirs, ours, rounds, threads)
                        memory = [_peak_mib(step) for step in (theirs, ours)]
                        shown = [f"{m:.1f}" if m is not None else "n/a" for m in memory]
                        print(
                            f"| {num_embeddings}x{dim} | {num_ids} {distribution} | {op} "
                            f"| {t_torch * 1e3:.3f} | {t_ours * 1e3:.3f} "
                            f"| {t_torch / t_ours:.2f} | {shown[0]} | {shown[1]} |",
                            flush=True,
                        )
                        del theirs, ours
                        if torch.get_num_threads() != threads:
                            sys.exit(f"torch now runs on {torch.get_num_threads()} threads")


if __name__ == "__main__":
    main()
