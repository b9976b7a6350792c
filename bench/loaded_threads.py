"""2-thread kernels on a loaded machine: the throughput they keep beside one busy process.

Run ``python bench/loaded_threads.py``. For each configuration (a threading layer, an OpenMP wait
policy, a spin count: settings read once per process) a child interpreter times each workload in
rounds that alternate quiet and busy (Q B B Q ...): one busy-looping process is started at the
beginning and stopped (``SIGSTOP``) or resumed (``SIGCONT``) before each round, so both conditions
see the same other load from the rest of the machine. A round calls the workload for about
``--round-ms`` of wall time; every variant and workload runs in every round (their order
alternating), so that the drift of the machine's other load hits them alike. The table shows the
median wall time per call of each condition with its spread (25th-75th percentile), and the
throughput kept: the quiet time over the busy time of adjacent rounds (median and spread over the
pairs), for the same variant and against ``2 fixed``.

Each configuration runs its workloads in the same child as ``2 fixed`` (2 numba threads, the
parallel twins whatever the load: ``_parallel.ADAPT_TO_LOAD`` off), ``2 adaptive`` (2 threads,
embtable's default: the serial twin while other processes leave under 2 cores free) and ``1``
(1 thread). The last column compares each busy round with the adjacent quiet round of
``2 fixed`` (the target: at least half). After each switch the child waits ``--settle-ms``, so
that the load seen by the adaptive choice (looked at every 0.1 s) is the round's.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import cpu_model  # noqa: E402

CONFIGS = {
    "omp": {},
    "omp-passive": {"OMP_WAIT_POLICY": "PASSIVE"},
    "omp-spin10k": {"GOMP_SPINCOUNT": "10000"},
    "workqueue": {"NUMBA_THREADING_LAYER": "workqueue"},
}


def workloads(rows: int, dim: int, bags: int):
    """name -> call: the kernels of a training step on a ``rows x dim`` float32 table."""
    from embtable import functional as F
    from embtable import optim
    from embtable.parameter import Parameter

    rng = np.random.default_rng(0)
    weight = rng.standard_normal((rows, dim), dtype=np.float32)
    sizes = rng.integers(10, 31, bags)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    ids = rng.integers(0, rows, int(sizes.sum()), dtype=np.int64)
    grad_bags = rng.standard_normal((bags, dim), dtype=np.float32)
    grad_ids = rng.standard_normal((ids.size, dim), dtype=np.float32)
    state = np.zeros(rows, np.float32)
    fused_weight = weight.copy()
    param = Parameter(weight.copy())
    adagrad = optim.Adagrad([param], lr=1e-2)
    sparse_grad = F.embedding_backward(ids, grad_ids, rows, sparse=True)
    renorm_weight = weight * 2

    def bag_forward():
        F.bag_forward(weight, F.plan_bags(ids, rows, offsets, mode="sum"))

    def fused_step():
        plan = F.plan_bags(ids, rows, offsets, mode="sum")
        F.bag_forward(fused_weight, plan)
        F.embedding_bag_rowwise_adagrad_(fused_weight, state, plan, grad_bags, lr=0.1, eps=1e-8)

    def dense_backward():
        F.embedding_backward(ids, grad_ids, rows)

    def adagrad_step():
        param.grad = sparse_grad
        adagrad.step()

    def renorm():
        F.embedding(ids, renorm_weight, max_norm=1.0)

    return {
        "bag_forward": bag_forward,
        "fused_step": fused_step,
        "dense_backward": dense_backward,
        "adagrad_step": adagrad_step,
        "renorm": renorm,
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def child(args: argparse.Namespace) -> None:
    import numba

    from embtable.kernels import _parallel

    calls = workloads(args.rows, args.dim, args.bags)
    names = [name for name in args.ops.split(",") if name]
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    os.kill(spinner.pid, signal.SIGSTOP)
    results: dict[str, dict[str, list[float]]] = {}
    variants = {"2 fixed": (2, False), "2 adaptive": (2, True), "1": (1, False)}
    chosen = args.variants.split(",")
    for variant in chosen:
        threads, adapt = variants[variant]
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        _parallel.ADAPT_TO_LOAD = adapt
        for name in names:
            for _ in range(3):  # compile, warm the caches and the allocator
                calls[name]()
            results[f"{name}/{variant}"] = {"quiet": [], "busy": []}
    try:
        for round_ in range(2 * args.rounds):
            busy = round_ % 4 in (1, 2)  # Q B B Q: each busy round is next to a quiet one
            os.kill(spinner.pid, signal.SIGCONT if busy else signal.SIGSTOP)
            time.sleep(args.settle_ms / 1e3)  # the load a look at /proc/stat sees
            order = chosen if round_ % 2 == 0 else chosen[::-1]
            for variant in order:  # every variant and op in every round: drift hits all alike
                threads, adapt = variants[variant]
                numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
                _parallel.ADAPT_TO_LOAD = adapt
                for name in names:
                    call = calls[name]
                    count = 0
                    start = time.perf_counter()
                    while True:
                        call()
                        count += 1
                        elapsed = time.perf_counter() - start
                        if elapsed > args.round_ms / 1e3:
                            break
                    results[f"{name}/{variant}"]["busy" if busy else "quiet"].append(
                        elapsed / count
                    )
    finally:
        spinner.kill()
        spinner.wait()
    layer = numba.threading_layer()
    print(json.dumps({"layer": layer, "results": results}))


def pair_ratios(quiet: list[float], busy: list[float]) -> list[float]:
    """quiet / busy time of each busy round and the quiet round next to it (Q B B Q ...)."""
    # rounds 4k .. 4k+3 are Q B B Q: busy 2j pairs with quiet 2j, busy 2j+1 with quiet 2j+1
    return [q / b for q, b in zip(quiet, busy, strict=False)]


def summarize(label: str, payload: dict, quiet_two: dict) -> list[str]:
    lines = []
    for key, times in payload["results"].items():
        quiet, busy = times["quiet"], times["busy"]
        q, b = statistics.median(quiet), statistics.median(busy)
        name, threads = key.split("/")
        kept = pair_ratios(quiet, busy)
        versus = pair_ratios(quiet_two[name], busy)
        lines.append(
            f"| {label} ({payload['layer']}) | {name} | {threads} | {q * 1e3:.2f} "
            f"({percentile(quiet, 0.25) * 1e3:.2f}-{percentile(quiet, 0.75) * 1e3:.2f}) | "
            f"{b * 1e3:.2f} ({percentile(busy, 0.25) * 1e3:.2f}-{percentile(busy, 0.75) * 1e3:.2f})"
            f" | {statistics.median(kept):.0%} ({percentile(kept, 0.25):.0%}-"
            f"{percentile(kept, 0.75):.0%}) | {statistics.median(versus):.0%} "
            f"({percentile(versus, 0.25):.0%}-{percentile(versus, 0.75):.0%}) |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default=",".join(CONFIGS), help=",".join(CONFIGS))
    parser.add_argument("--ops", default="bag_forward,fused_step,dense_backward,adagrad_step")
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--bags", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=8, help="rounds per condition")
    parser.add_argument("--round-ms", type=float, default=60.0)
    parser.add_argument("--settle-ms", type=float, default=150.0, help="pause after a switch")
    parser.add_argument("--variants", default="2 fixed,2 adaptive,1")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0
    print(f"CPU: {cpu_model()}, {os.cpu_count()} CPUs; load average {os.getloadavg()}")
    print(
        f"{args.rows} x {args.dim} float32, {args.bags} bags of 10-30 ids; {args.rounds} rounds "
        f"of {args.round_ms:.0f} ms per condition; wall ms per call, median (25-75th pct)\n"
    )
    print(
        "| config | op | threads | quiet ms | busy ms | kept: quiet/busy of adjacent rounds | "
        "busy vs the adjacent quiet round of 2 fixed |"
    )
    print("|---|---|---|---|---|---|---|")
    forwarded = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--child"]
    for label in args.configs.split(","):
        env = {**os.environ, **CONFIGS[label]}
        output = subprocess.run(
            [sys.executable, __file__, "--child", *forwarded],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        payload = json.loads(output.strip().splitlines()[-1])
        quiet_two = {
            key.split("/")[0]: times["quiet"]
            for key, times in payload["results"].items()
            if key.endswith("/2 fixed")
        }
        print("\n".join(summarize(label, payload, quiet_two)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
