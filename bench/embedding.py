"""embtable's kernels against torch's CPU implementation, side by side in one process.

Run ``python bench/embedding.py`` (or ``make bench``); ``--quick`` runs a tiny grid for the smoke
test. Prints a markdown table: the fastest of interleaved rounds (A B, B A, ...) after a warm-up,
the ratio torch/embtable (above 1 means embtable is faster), embtable's effective bandwidth, and
each side's peak resident memory above the pre-call level.

Effective bandwidth counts the bytes an ideal implementation must move: the gathered rows and the
output for a lookup; plus the gradient rows read and the rows written for a backward (a dense
backward also writes its whole ``(V, D)`` result); plus each touched row of the weight and of the
optimizer state, read and written, for an optimizer step.

Peak memory is read from the kernel's high-water mark (``VmHWM``), which is reset before each
measured call by writing 5 to ``/proc/self/clear_refs``; where that is not allowed, the column says
n/a.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import embtable
from embtable import functional as F
from embtable import optim
from embtable.parameter import Parameter

try:
    import torch
except ImportError:  # pragma: no cover - the bench extra installs torch
    sys.exit("the benchmark compares with torch: pip install 'embtable[bench]'")

import numba
from _memory import peak_extra

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the helpers beside this script
from _machine import cpu_model, set_threads

WARMUP_SECONDS = 0.5  # --quick: 0.02
CLOCK = time.perf_counter  # --threads 1: time.thread_time (stable on a shared machine)


def _calls_per_round(call: Callable[[], object]) -> int:
    """Warm ``call`` up and return how many calls last about 5 ms.

    Warm-up: numba compilation, torch's first call, and the kernel's first transparent huge pages
    for NumPy's large outputs (their first faults can stall on memory compaction): at least 3
    calls and 0.5 s, so the rounds measure the steady state of a training loop (the first lookups
    of a process run at half speed for a few tenths of a second). Each round times enough calls
    to last about 5 ms, so that cases of microseconds are not measured at the timer's and the
    scheduler's resolution (as timeit does).
    """
    start = CLOCK()
    for count in range(100_000):
        call()
        if count >= 2 and CLOCK() - start > WARMUP_SECONDS:
            break
    per_call = (CLOCK() - start) / (count + 1)
    return max(1, min(1000, int(0.005 / max(per_call, 1e-9))))


def side_by_side(*calls: Callable[[], object], repeats: int) -> list[float]:
    """Seconds per call of each of ``calls``, timed in interleaved rounds (A B, B A, ...).

    Each side runs ``2 * repeats`` rounds, alternating the order so that neither side always
    follows the other, and the fastest round is kept: on a shared machine the noise only ever
    adds time, so the minimum is the stable estimate (the rule of this project's benchmarks).
    """
    counts = [_calls_per_round(call) for call in calls]
    times: list[list[float]] = [[] for _ in calls]
    for round_ in range(2 * repeats):
        order = range(len(calls)) if round_ % 2 == 0 else reversed(range(len(calls)))
        for side in order:
            call, count = calls[side], counts[side]
            start = CLOCK()
            for _ in range(count):
                call()
            times[side].append((CLOCK() - start) / count)
    return [min(side) for side in times]


def fastest_time(call: Callable[[], object], repeats: int) -> float:
    """Seconds per call of one call on its own (the machine's reference rates)."""
    return side_by_side(call, repeats=repeats)[0]


@dataclass
class Row:
    op: str
    case: str
    ours: float
    theirs: float
    nbytes: float
    ours_mib: float | None
    theirs_mib: float | None
    note: str = ""

    def cells(self) -> list[str]:
        def mib(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.0f}"

        return [
            self.op,
            self.case,
            f"{self.ours * 1e3:.3f}",
            f"{self.theirs * 1e3:.3f}",
            f"{self.theirs / self.ours:.2f}",
            f"{self.nbytes / self.ours / 1e9:.1f}",
            mib(self.ours_mib),
            mib(self.theirs_mib),
            self.note,
        ]


HEADER = [
    "op",
    "case",
    "embtable ms",
    "torch ms",
    "torch/embtable",
    "embtable GB/s",
    "embtable peak MiB",
    "torch peak MiB",
    "note",
]


def make_ids(rng: np.random.Generator, batch: int, rows: int, distribution: str) -> np.ndarray:
    if distribution == "uniform":
        return rng.integers(0, rows, batch, dtype=np.int64)
    return ((rng.zipf(1.1, batch) - 1) % rows).astype(np.int64)


def bench_forward(weight, ids, repeats):
    tw, tids = torch.from_numpy(weight), torch.from_numpy(ids)
    ours, theirs = side_by_side(
        lambda: F.embedding(ids, weight),
        lambda: torch.nn.functional.embedding(tids, tw),
        repeats=repeats,
    )
    nbytes = 2 * ids.size * weight.shape[1] * weight.itemsize + ids.nbytes
    return (
        ours,
        theirs,
        nbytes,
        peak_extra(lambda: F.embedding(ids, weight)),
        peak_extra(lambda: torch.nn.functional.embedding(tids, tw)),
    )


def bench_dense(weight, ids, grad_output, repeats):
    tids, tgrad = torch.from_numpy(ids), torch.from_numpy(grad_output)
    tw = torch.from_numpy(weight).requires_grad_()

    def ours_step():
        F.embedding(ids, weight)
        return F.embedding_backward(ids, grad_output, weight.shape[0])

    def theirs_step():
        tw.grad = None
        torch.nn.functional.embedding(tids, tw).backward(tgrad)
        return tw.grad

    ours, theirs = side_by_side(ours_step, theirs_step, repeats=repeats)
    row_bytes = weight.shape[1] * weight.itemsize
    nbytes = ids.size * row_bytes * 4 + ids.nbytes * 2 + weight.nbytes
    return ours, theirs, nbytes, peak_extra(ours_step), peak_extra(theirs_step)


def bench_sparse_step(weight, ids, grad_output, name, repeats):
    """Forward, row-sparse backward and one optimizer step; checks both give the same weights."""
    ours_weight = Parameter(weight.copy())
    theirs_weight = torch.nn.Parameter(torch.from_numpy(weight.copy()))
    tids, tgrad = torch.from_numpy(ids), torch.from_numpy(grad_output)
    if name == "SparseAdam":
        ours_opt = optim.SparseAdam([ours_weight], lr=1e-3)
        theirs_opt = torch.optim.SparseAdam([theirs_weight], lr=1e-3)
    else:
        ours_opt = optim.Adagrad([ours_weight], lr=1e-2)
        theirs_opt = torch.optim.Adagrad([theirs_weight], lr=1e-2)

    def ours_step():
        F.embedding(ids, ours_weight.data)
        ours_weight.grad = F.embedding_backward(ids, grad_output, weight.shape[0], sparse=True)
        ours_opt.step()
        ours_weight.grad = None

    def theirs_step():
        torch.nn.functional.embedding(tids, theirs_weight, sparse=True).backward(tgrad)
        theirs_opt.step()
        theirs_opt.zero_grad()

    ours_step()
    theirs_step()
    difference = float(np.max(np.abs(ours_weight.data - theirs_weight.detach().numpy())))
    ours, theirs = side_by_side(ours_step, theirs_step, repeats=repeats)
    unique = np.unique(ids).size
    row_bytes = weight.shape[1] * weight.itemsize
    state_rows = 4 if name == "SparseAdam" else 2  # moments or accumulator, read and written
    nbytes = ids.size * row_bytes * 3 + unique * row_bytes * (2 + state_rows) + ids.nbytes * 2
    return (
        ours,
        theirs,
        nbytes,
        peak_extra(ours_step),
        peak_extra(theirs_step),
        f"max abs diff after the first step {difference:.1e}" if difference else "",
    )


def bench_bag(weight, ids, offsets, grad_output, mode, repeats):
    tids, toffsets, tgrad = (torch.from_numpy(a) for a in (ids, offsets, grad_output))
    tw = torch.from_numpy(weight).requires_grad_()

    def ours_step():
        plan = F.plan_bags(ids, weight.shape[0], offsets, mode=mode)
        _, state = F.bag_forward(weight, plan)
        return F.bag_backward(plan, grad_output, state)

    def theirs_step():
        tw.grad = None
        torch.nn.functional.embedding_bag(tids, tw, toffsets, mode=mode).backward(tgrad)
        return tw.grad

    ours, theirs = side_by_side(ours_step, theirs_step, repeats=repeats)
    row_bytes = weight.shape[1] * weight.itemsize
    nbytes = ids.size * row_bytes * 3 + weight.nbytes + ids.nbytes * 2
    return ours, theirs, nbytes, peak_extra(ours_step), peak_extra(theirs_step)


def fbgemm_rowwise_adagrad(rows, dim):
    """FBGEMM's CPU table-batched embedding with EXACT_ROWWISE_ADAGRAD, or None without it."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from fbgemm_gpu.split_embedding_configs import EmbOptimType
            from fbgemm_gpu.split_table_batched_embeddings_ops_common import (
                EmbeddingLocation,
                PoolingMode,
            )
            from fbgemm_gpu.split_table_batched_embeddings_ops_training import (
                ComputeDevice,
                SplitTableBatchedEmbeddingBagsCodegen,
            )
    except ImportError:  # a benchmark peer only, never a dependency
        return None
    return SplitTableBatchedEmbeddingBagsCodegen(
        [(rows, dim, EmbeddingLocation.HOST, ComputeDevice.CPU)],
        optimizer=EmbOptimType.EXACT_ROWWISE_ADAGRAD,
        learning_rate=0.1,
        eps=1e-8,
        pooling_mode=PoolingMode.SUM,
    )


def bench_bag_forward(weight, ids, offsets, mode, repeats, tbe):
    """Bag forward only (plan + pool), against torch; FBGEMM's forward in the note."""
    tids, toffsets = torch.from_numpy(ids), torch.from_numpy(offsets)
    tw = torch.from_numpy(weight)

    def ours():
        return F.bag_forward(weight, F.plan_bags(ids, weight.shape[0], offsets, mode=mode))

    sides = [ours, lambda: torch.nn.functional.embedding_bag(tids, tw, toffsets, mode=mode)]
    if tbe is not None and mode == "sum":
        full = torch.from_numpy(np.append(offsets, ids.size))
        sides.append(lambda: tbe(tids, full))
    ours_t, theirs_t, *fbgemm = side_by_side(*sides, repeats=repeats)
    note = ""
    if fbgemm:
        fb = fbgemm[0]
        note = f"FBGEMM {fb * 1e3:.3f} ms, FBGEMM/embtable {fb / ours_t:.2f}"
    nbytes = ids.size * weight.shape[1] * weight.itemsize + ids.nbytes
    return ours_t, theirs_t, nbytes, None, None, note


def bench_fused_rowwise(weight, ids, offsets, grad_output, repeats, tbe):
    """Forward + backward + row-wise Adagrad: embtable's fused step against FBGEMM's."""
    tids = torch.from_numpy(ids)
    full = torch.from_numpy(np.append(offsets, ids.size))
    tgrad = torch.from_numpy(grad_output)
    ours_weight = weight.copy()
    state = np.zeros(weight.shape[0], weight.dtype)

    def ours():
        plan = F.plan_bags(ids, weight.shape[0], offsets, mode="sum")
        F.bag_forward(ours_weight, plan)
        F.embedding_bag_rowwise_adagrad_(ours_weight, state, plan, grad_output, lr=0.1, eps=1e-8)

    def theirs():
        tbe(tids, full).backward(tgrad)

    ours_t, theirs_t = side_by_side(ours, theirs, repeats=repeats)
    row_bytes = weight.shape[1] * weight.itemsize
    unique = np.unique(ids).size
    nbytes = ids.size * row_bytes * 2 + unique * row_bytes * 2 + ids.nbytes * 2
    return ours_t, theirs_t, nbytes, None, None, "theirs = FBGEMM EXACT_ROWWISE_ADAGRAD"


def bench_max_norm(weight, ids, repeats):
    ours_weight, theirs_weight = weight * 2, torch.from_numpy(weight * 2)
    tids = torch.from_numpy(ids)
    ours, theirs = side_by_side(
        lambda: F.embedding(ids, ours_weight, max_norm=1.0),
        lambda: torch.nn.functional.embedding(tids, theirs_weight, max_norm=1.0),
        repeats=repeats,
    )
    nbytes = 3 * ids.size * weight.shape[1] * weight.itemsize + ids.nbytes
    return (
        ours,
        theirs,
        nbytes,
        peak_extra(lambda: F.embedding(ids, ours_weight, max_norm=1.0)),
        peak_extra(lambda: torch.nn.functional.embedding(tids, theirs_weight, max_norm=1.0)),
    )


def reference_rates(quick: bool) -> str:
    """The machine's memory rates that bound a lookup: a sequential copy and a random-row gather
    (NumPy's single-threaded ``take``), in GB/s counting bytes read plus written."""
    rows, dim, batch = (20_000, 32, 20_000) if quick else (1_000_000, 128, 1 << 20)
    rng = np.random.default_rng(1)
    table = rng.standard_normal((rows, dim), dtype=np.float32)
    out = np.empty((batch, dim), np.float32)
    ids = rng.integers(0, rows, batch)
    source = np.resize(table, out.shape)
    copy = fastest_time(lambda: np.copyto(out, source), 3)
    take = fastest_time(lambda: np.take(table, ids, axis=0, out=out), 3)
    nbytes = 2 * out.nbytes
    return (
        f"machine reference: sequential copy {nbytes / copy / 1e9:.1f} GB/s, random "
        f"{dim * 4}-byte-row gather with numpy.take (1 thread) {nbytes / take / 1e9:.1f} GB/s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny grid, for the smoke test")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument(
        "--ops",
        default="forward,dense,sparse,bag,bag_forward,fused,max_norm",
        help="comma-separated subset of forward,dense,sparse,bag,bag_forward,fused,max_norm",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--busy",
        type=int,
        default=0,
        help="run this many busy-looping processes beside the benchmark (a loaded machine)",
    )
    args = parser.parse_args(argv)
    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)
    ]
    try:
        return run(args)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def run(args: argparse.Namespace) -> int:
    ops = set(args.ops.split(","))

    global CLOCK
    if args.threads == 1:
        CLOCK = time.thread_time
    set_threads(args.threads)  # checked at the end too
    if args.quick:
        global WARMUP_SECONDS
        WARMUP_SECONDS = 0.02
        tables, batches, repeats = [(1000, 16), (5000, 8)], [64, 2048], args.repeats or 2
        sparse_table, bag_tables = (5000, 8), [(1000, 16)]
        bags = 64
    else:
        tables = [(50_000, 64), (1_000_000, 128), (5_000_000, 32)]
        batches, repeats = [4096, 65536, 1 << 20], args.repeats or 5
        sparse_table, bag_tables = (1_000_000, 128), [(50_000, 64), (1_000_000, 128)]
        bags = 4096

    print(
        f"embtable {embtable.__version__}, torch {torch.__version__}, numba {numba.__version__}, "
        f"numpy {np.__version__}; threads: torch {torch.get_num_threads()}, numba "
        f"{numba.get_num_threads()} ({os.cpu_count()} CPUs, "
        f"{cpu_model()})"
    )
    print(
        f"fastest of {2 * repeats} interleaved rounds per side (each at least ~5 ms of calls) "
        f"after a warm-up, in "
        f"{'thread CPU time' if args.threads == 1 else 'wall time'}; "
        f"float32 tables; {args.busy} busy processes beside; ratio > 1: embtable faster\n"
    )
    print(reference_rates(args.quick) + "\n")
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "---|" * len(HEADER))
    rng = np.random.default_rng(0)
    results: dict[str, list[float]] = {}

    def emit(row: Row) -> None:
        results.setdefault(row.op, []).append(row.theirs / row.ours)
        print("| " + " | ".join(row.cells()) + " |", flush=True)

    for rows, dim in tables:
        weight = rng.standard_normal((rows, dim), dtype=np.float32)
        for batch in batches:
            for distribution in ("uniform", "zipf"):
                ids = make_ids(rng, batch, rows, distribution)
                case = f"{rows}x{dim}, {batch} ids, {distribution}"
                if "forward" in ops:
                    emit(Row("forward", case, *bench_forward(weight, ids, repeats)))
                if "dense" in ops:
                    grad_output = rng.standard_normal((batch, dim), dtype=np.float32)
                    emit(
                        Row(
                            "forward + dense backward",
                            case,
                            *bench_dense(weight, ids, grad_output, repeats),
                        )
                    )
                if "max_norm" in ops:
                    emit(Row("max_norm forward", case, *bench_max_norm(weight, ids, repeats)))
        del weight

    if "sparse" in ops:
        rows, dim = sparse_table
        weight = rng.standard_normal((rows, dim), dtype=np.float32)
        for batch in batches:
            for distribution in ("uniform", "zipf"):
                ids = make_ids(rng, batch, rows, distribution)
                grad_output = rng.standard_normal((batch, dim), dtype=np.float32)
                for name in ("SparseAdam", "Adagrad"):
                    case = f"{rows}x{dim}, {batch} ids, {distribution}"
                    emit(
                        Row(
                            f"sparse step ({name})",
                            case,
                            *bench_sparse_step(weight, ids, grad_output, name, repeats),
                        )
                    )
        del weight

    if ops & {"bag", "bag_forward", "fused"}:
        for rows, dim in bag_tables:
            weight = rng.standard_normal((rows, dim), dtype=np.float32)
            tbe = fbgemm_rowwise_adagrad(rows, dim) if ops & {"bag_forward", "fused"} else None
            for distribution in ("uniform", "zipf"):
                sizes = rng.integers(10, 31, bags)  # ~20 ids a bag
                offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
                ids = make_ids(rng, int(sizes.sum()), rows, distribution)
                grad_output = rng.standard_normal((bags, dim), dtype=np.float32)
                case = f"{rows}x{dim}, {bags} bags of ~20, {distribution}"
                for mode in ("sum", "mean", "max") if "bag_forward" in ops else ():
                    emit(
                        Row(
                            f"bag {mode} forward",
                            case,
                            *bench_bag_forward(weight, ids, offsets, mode, repeats, tbe),
                        )
                    )
                if "fused" in ops and tbe is not None:
                    emit(
                        Row(
                            "fused bag-sum + row-wise Adagrad step",
                            case,
                            *bench_fused_rowwise(weight, ids, offsets, grad_output, repeats, tbe),
                        )
                    )
                for mode in ("sum", "mean") if "bag" in ops else ():
                    emit(
                        Row(
                            f"bag {mode} fwd+bwd",
                            case,
                            *bench_bag(weight, ids, offsets, grad_output, mode, repeats),
                        )
                    )
            del weight

    print("\n| op | median torch/embtable | min | max |\n|---|---|---|---|")
    for op, ratios in results.items():
        print(f"| {op} | {statistics.median(ratios):.2f} | {min(ratios):.2f} | {max(ratios):.2f} |")
    if torch.get_num_threads() != args.threads:
        print(
            f"torch ended on {torch.get_num_threads()} threads, not {args.threads}: the figures "
            "above are void",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
