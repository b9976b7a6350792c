"""Train a table on disk (possibly larger than RAM) with Zipf ids: steps/s and peak RSS.

Not a test: it writes ``rows x dim`` floats (plus the optimizer state: as large again per state
array for Adagrad and Adam, one float per row for row-wise Adagrad, none for SGD) to disk. The
table is made by :func:`embtable.ondisk.create_table` (``--init zeros``, the default, writes a
sparse file instantly; ``--init normal`` streams N(0, 1) rows to disk in 65536-row chunks, the
time reported as "create"; a table larger than a quarter of RAM starts out of the page cache,
so its rows come from disk), trained with a row-sparse optimizer for ``--steps`` steps of
``--batch`` ids drawn from Zipf(``--zipf``) over ranks scattered across the table (a
multiplicative hash, so hot rows do not share pages), and checkpointed every
``--checkpoint-every`` steps. Prints steps/s, the checkpoint times, the undo log's share and
the peak resident memory (``ru_maxrss``: includes the file pages mapped in; the anonymous part,
the process's own memory, is printed beside it).

The issue's case, a 64M x 128 float32 table (30.5 GiB; row-wise Adagrad adds 0.24 GiB of state)
on a 23 GiB machine::

    nice -n 19 ionice -c3 python bench/out_of_core.py --rows 64000000 --dim 128 \
        --optimizer rowwise-adagrad --init normal --prefetch alternate --steps 100 \
        --checkpoint-every 50 \
        --dir /work/tmp-ooc

Quick (smoke) run: ``python bench/out_of_core.py --quick``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from embtable import optim
from embtable.ondisk import create_table

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the helpers beside this script
from _machine import cpu_model

OPTIMIZERS = {
    "sgd": (optim.SGD, {"lr": 0.05}, 0),
    "adagrad": (optim.Adagrad, {"lr": 0.05}, 1),
    "rowwise-adagrad": (optim.RowwiseAdagrad, {"lr": 0.05}, 0),
    "sparse-adam": (optim.SparseAdam, {"lr": 0.001}, 2),
}
GiB = 1 << 30


def memory_total() -> int:
    with open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def process_memory() -> dict[str, int]:
    """Peak and current resident memory of this process, split into its own (anonymous) memory
    and the mapped file pages (/proc/self/status; empty elsewhere)."""
    found = {}
    try:
        with open("/proc/self/status") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                    found[key] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return found


def zipf_rows(rng: np.random.Generator, rows: int, count: int, exponent: float) -> np.ndarray:
    ranks = rng.zipf(exponent, count).astype(np.uint64) - np.uint64(1)
    # Scatter the ranks over the table (odd multiplier: a bijection mod 2**64) so that the hot
    # rows are not all on the first pages.
    return ((ranks * np.uint64(0x9E3779B97F4A7C15)) % np.uint64(rows)).astype(np.int64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=4096, help="ids per step")
    parser.add_argument("--zipf", type=float, default=1.1)
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adagrad")
    parser.add_argument("--init", choices=["zeros", "normal"], default="zeros")
    parser.add_argument("--checkpoint-every", type=int, default=100)
    parser.add_argument("--no-journal", action="store_true", help="turn the undo log off")
    parser.add_argument(
        "--prefetch",
        choices=["off", "on", "alternate"],
        default="off",
        help="emb.prefetch(the next batch) before each step; alternate: in blocks of 10 steps, "
        "off and on in turn, timed apart",
    )

    parser.add_argument("--dir", default=None, help="where to create the table (a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the table afterwards")
    parser.add_argument("--quick", action="store_true", help="a tiny run (smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.steps, args.batch, args.checkpoint_every = 20_000, 20, 256, 10
    optimizer_class, options, state_arrays = OPTIMIZERS[args.optimizer]
    table_bytes = args.rows * args.dim * 4
    need = table_bytes * (1 + state_arrays)
    if args.optimizer == "rowwise-adagrad":
        need += args.rows * 4
    workdir = Path(tempfile.mkdtemp(prefix="embtable-ooc-", dir=args.dir))
    free = shutil.disk_usage(workdir).free
    print("# embtable out-of-core training")
    print(
        f"\nCPU: {cpu_model()} ({os.cpu_count()} logical CPUs), RAM {memory_total() / GiB:.1f} "
        f"GiB; disk free at {workdir}: {free / GiB:.1f} GiB"
    )
    print(
        f"table {args.rows:,} x {args.dim} float32 = {table_bytes / GiB:.2f} GiB, plus "
        f"the {args.optimizer} state: {need / GiB:.2f} GiB on disk"
    )
    if need > free * 0.9:
        shutil.rmtree(workdir)
        sys.exit(f"not enough disk: {need / GiB:.1f} GiB needed, {free / GiB:.1f} GiB free")
    try:
        start = time.perf_counter()
        emb = create_table(
            workdir / "table",
            args.rows,
            args.dim,
            init=args.init,
            rng=0,
            journal=not args.no_journal,
        )
        created = time.perf_counter() - start
        start = time.perf_counter()
        opt = emb.make_optimizer(optimizer_class, **options)  # no in-memory state
        attached = time.perf_counter() - start
        rng = np.random.default_rng(0)
        grad = rng.standard_normal((args.batch, args.dim), dtype=np.float32) * 0.01
        for _ in range(3):  # warm-up (numba first calls), not timed
            ids = zipf_rows(rng, args.rows, args.batch, args.zipf)
            emb(ids)
            emb.backward(ids, grad)
            opt.step()
            opt.zero_grad()
        journal_time = 0.0
        checkpoint_times = []
        unique = []
        step_times: dict[bool, list[float]] = {False: [], True: []}
        upcoming = zipf_rows(rng, args.rows, args.batch, args.zipf)
        start = time.perf_counter()
        for step in range(1, args.steps + 1):
            ids, upcoming = upcoming, zipf_rows(rng, args.rows, args.batch, args.zipf)
            began = time.perf_counter()
            prefetch = args.prefetch == "on" or (
                args.prefetch == "alternate" and (step - 1) // 10 % 2 == 1
            )
            if prefetch:  # the next batch's rows are read while this one trains
                emb.prefetch(upcoming)
            emb(ids)
            before = time.perf_counter()
            emb.backward(ids, grad)
            journal_time += time.perf_counter() - before  # the backward includes the journal
            unique.append(len(emb.weight.grad.rows))
            opt.step()
            opt.zero_grad()
            step_times[prefetch].append(time.perf_counter() - began)
            if step % args.checkpoint_every == 0:
                before = time.perf_counter()
                emb.checkpoint(metadata={"step": step})
                checkpoint_times.append(time.perf_counter() - before)
            if step % 10 == 0:  # progress, for runs that take minutes
                print(
                    f"step {step}: {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True
                )
        elapsed = time.perf_counter() - start
        memory = process_memory()
        before = time.perf_counter()
        emb.close()  # a last checkpoint
        closed = time.perf_counter() - before
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(
            "\n| rows | dim | GiB on disk | optimizer | journal | prefetch | steps | "
            "ids/step | "
            "unique rows/step | steps/s | backward+journal share | checkpoint s (mean) | "
            "peak RSS GiB |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        mean_checkpoint = np.mean(checkpoint_times) if checkpoint_times else float("nan")
        print(
            f"| {args.rows:,} | {args.dim} | {need / GiB:.2f} | {args.optimizer} | "
            f"{'off' if args.no_journal else 'on'} | {args.prefetch} | "
            f"{args.steps} | {args.batch} | "
            f"{np.mean(unique):.0f} | {args.steps / elapsed:.1f} | "
            f"{journal_time / elapsed:.0%} | {mean_checkpoint:.2f} | {peak / GiB:.2f} |"
        )
        print(
            f"\ncreate ({args.init}): {created:.1f} s; attach: {attached:.1f} s; training loop "
            f"{elapsed:.1f} s; checkpoints {', '.join(f'{t:.1f}' for t in checkpoint_times)} s; "
            f"close (checkpoint) {closed:.1f} s"
        )
        print(
            "steps/s, checkpoints left out: "
            + ", ".join(
                f"prefetch {'on' if key else 'off'} {len(times) / sum(times):.2f} "
                f"({len(times)} steps; per step median {np.median(times):.3f} s)"
                for key, times in step_times.items()
                if times
            )
        )
        print(
            "memory at the end of the loop: "
            + ", ".join(f"{key} {value / GiB:.2f} GiB" for key, value in memory.items())
        )
    finally:
        if args.keep:
            print(f"kept: {workdir / 'table'}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
