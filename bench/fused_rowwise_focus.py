"""Focused timing of the fused row-wise Adagrad step and plan_bags (issue 11), thread CPU time.

Run ``python bench/fused_rowwise_focus.py``: 1M x 128 and 50k x 64 tables, 4096 bags of 10-30
uniform ids; prints the minimum and the 20th percentile over interleaved rounds of: plan_bags,
bag_forward, the fused step, the whole training step, and FBGEMM's EXACT_ROWWISE_ADAGRAD
forward + backward when fbgemm_gpu is importable.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import cpu_model

from embtable import functional as F


def timed(call, rounds):
    times = []
    for _ in range(rounds):
        start = time.thread_time()
        call()
        times.append(time.thread_time() - start)
    return times


def run_case(rng, rows: int, dim: int, rounds: int) -> None:
    import torch
    from embedding import fbgemm_rowwise_adagrad

    weight = rng.standard_normal((rows, dim), dtype=np.float32)
    state = np.zeros(rows, np.float32)
    sizes = rng.integers(10, 31, 4096)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    ids = rng.integers(0, rows, int(sizes.sum()))
    grad = rng.standard_normal((4096, dim), dtype=np.float32)
    plan = F.plan_bags(ids, rows, offsets, mode="sum")
    tbe = fbgemm_rowwise_adagrad(rows, dim)
    tids = torch.from_numpy(ids)
    full = torch.from_numpy(np.append(offsets, ids.size))
    tgrad = torch.from_numpy(grad)

    def whole():
        p = F.plan_bags(ids, rows, offsets, mode="sum")
        F.bag_forward(weight, p)
        F.embedding_bag_rowwise_adagrad_(weight, state, p, grad, lr=0.1, eps=1e-8)

    calls = {
        "plan_bags": lambda: F.plan_bags(ids, rows, offsets, mode="sum"),
        "bag_forward": lambda: F.bag_forward(weight, plan),
        "fused step": lambda: F.embedding_bag_rowwise_adagrad_(
            weight, state, plan, grad, lr=0.1, eps=1e-8
        ),
        "whole step": whole,
    }
    if tbe is not None:
        calls["FBGEMM fwd+bwd"] = lambda: tbe(tids, full).backward(tgrad)
    results = {name: [] for name in calls}
    for call in calls.values():
        call()
        call()
    names = list(calls)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            results[name] += timed(calls[name], 1)
    print(f"{rows}x{dim}, 4096 bags of 10-30 uniform ({ids.size} ids):")
    for name, times in results.items():
        times = np.array(times) * 1e3
        print(f"  {name:16s} min {times.min():7.3f} ms  p20 {np.percentile(times, 20):7.3f} ms")


def main() -> int:
    import numba

    numba.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    print(f"CPU: {cpu_model()}, numba threads {numba.get_num_threads()}")
    import torch

    torch.set_num_threads(numba.get_num_threads())
    rng = np.random.default_rng(0)
    for rows, dim in ((1_000_000, 128), (50_000, 64)):
        run_case(rng, rows, dim, rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
