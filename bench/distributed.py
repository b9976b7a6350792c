"""Sharded tables over torch.distributed: time and bytes sent per training step.

Run ``python bench/distributed.py`` (``--quick`` for the smoke test). For 1, 2 and 4 processes
(gloo on loopback, one thread each) it trains a row-wise sharded ``ShardedEmbeddingBag`` (sum,
fused row-wise Adagrad) on Zipf-distributed ids, each rank its own batch, and prints per step the
median wall time, the median thread CPU time and the bytes each rank sent (ids, rows and row
gradients of the all-to-alls). Where ``torchrec`` imports (``pip install torchrec==1.8.0`` with
``fbgemm-gpu-cpu==1.8.0``, the torch 2.13 pairing), its row-wise sharded ``EmbeddingBagCollection``
with fused ``EXACT_ROWWISE_ADAGRAD`` runs the same work in the same processes.

With more processes than cores the figures measure the machine's oversubscription, not the
layer: read them with the core count the script prints.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the helpers beside this script
from _machine import cpu_model

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"


def zipf_batch(rank: int, step: int, rows: int, bags: int, pooling: int):
    import numpy as np
    import torch

    rng = np.random.default_rng(1000 * step + rank)
    ids = (rng.zipf(1.1, bags * pooling) - 1) % rows
    return torch.from_numpy(ids.astype(np.int64)), torch.arange(0, bags * pooling, pooling)


def embtable_side(rank: int, world: int, args: argparse.Namespace) -> dict:
    import torch

    from embtable.torch import RowOptimizer
    from embtable.torch.distributed import ShardedEmbeddingBag

    bag = ShardedEmbeddingBag(
        args.rows, args.dim, "sum", optimizer=RowOptimizer("rowwise_adagrad", lr=0.05)
    )
    walls, cpus, sent = [], [], []
    for step in range(args.warmup + args.steps):
        ids, offsets = zipf_batch(rank, step, args.rows, args.bags, args.pooling)
        torch.distributed.barrier()
        wall, cpu = time.perf_counter(), time.thread_time()
        out = bag(ids, offsets)
        out.sum().backward()
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        if step >= args.warmup:
            walls.append(wall)
            cpus.append(cpu)
            sent.append(bag.last_bytes_sent)  # forward and backward
    return {"wall": walls, "cpu": cpus, "bytes": sent}


def torchrec_side(rank: int, world: int, args: argparse.Namespace) -> dict | None:
    try:
        import torchrec
        from fbgemm_gpu.split_embedding_configs import EmbOptimType
        from torchrec.distributed.embeddingbag import EmbeddingBagCollectionSharder
        from torchrec.distributed.model_parallel import DistributedModelParallel
        from torchrec.distributed.planner import EmbeddingShardingPlanner, Topology
        from torchrec.distributed.planner.types import ParameterConstraints
        from torchrec.distributed.types import ShardingType
    except Exception as err:  # any import failure: the peer is optional
        return {"error": f"{type(err).__name__}: {err}"}
    import torch

    table = torchrec.EmbeddingBagConfig(
        name="t", embedding_dim=args.dim, num_embeddings=args.rows, feature_names=["f"]
    )
    ebc = torchrec.EmbeddingBagCollection(tables=[table], device=torch.device("meta"))
    sharder = EmbeddingBagCollectionSharder(
        fused_params={
            "optimizer": EmbOptimType.EXACT_ROWWISE_ADAGRAD,
            "learning_rate": 0.05,
            "eps": 1e-10,
        }
    )
    # TorchRec 1.8 offers no row-wise sharding on CPU (allowed there: data_parallel,
    # table_wise, column_wise, table_column_wise): fall back to table-wise and say so.
    plan, sharding = None, ""
    for sharding in (ShardingType.ROW_WISE.value, ShardingType.TABLE_WISE.value):
        planner = EmbeddingShardingPlanner(
            topology=Topology(world_size=world, compute_device="cpu"),
            constraints={"t": ParameterConstraints(sharding_types=[sharding])},
        )
        try:
            plan = planner.collective_plan(ebc, [sharder], torch.distributed.GroupMember.WORLD)
            break
        except RuntimeError:
            continue
    if plan is None:
        return {"error": "TorchRec's planner found no CPU sharding for the table"}
    model = DistributedModelParallel(ebc, device=torch.device("cpu"), plan=plan, sharders=[sharder])
    walls, cpus = [], []
    for step in range(args.warmup + args.steps):
        ids, _offsets = zipf_batch(rank, step, args.rows, args.bags, args.pooling)
        lengths = torch.full((args.bags,), args.pooling, dtype=torch.int64)
        features = torchrec.KeyedJaggedTensor(keys=["f"], values=ids, lengths=lengths)
        torch.distributed.barrier()
        wall, cpu = time.perf_counter(), time.thread_time()
        out = model(features).values()
        out.sum().backward()
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        if step >= args.warmup:
            walls.append(wall)
            cpus.append(cpu)
    return {"wall": walls, "cpu": cpus, "sharding": sharding}


def worker(rank: int, world: int, store: str, out: str, args: argparse.Namespace) -> None:
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"file://{store}",
        rank=rank,
        world_size=world,
        timeout=timedelta(seconds=120),
    )
    try:
        result = {"embtable": embtable_side(rank, world, args)}
        if not args.no_torchrec:
            result["torchrec"] = torchrec_side(rank, world, args)
        Path(out).write_text(json.dumps(result))
    finally:
        dist.destroy_process_group()


def run_world(world: int, args: argparse.Namespace) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
        env.update(GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
        argv = [
            sys.executable,
            __file__,
            "--worker",
            "--world",
            str(world),
            "--store",
            f"{tmp}/store",
            "--out",
            tmp,
        ]
        argv += [
            f"--{k}={v}"
            for k, v in (
                ("rows", args.rows),
                ("dim", args.dim),
                ("bags", args.bags),
                ("pooling", args.pooling),
                ("steps", args.steps),
                ("warmup", args.warmup),
            )
        ]
        if args.no_torchrec:
            argv.append("--no-torchrec")
        procs = [subprocess.Popen([*argv, "--rank", str(r)], env=env) for r in range(world)]
        for proc in procs:
            if proc.wait(timeout=1800) != 0:
                raise SystemExit(f"a rank of the {world}-process run failed")
        return [json.loads(Path(tmp, f"rank-{r}.json").read_text()) for r in range(world)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--bags", type=int, default=2048, help="bags per rank and step")
    parser.add_argument("--pooling", type=int, default=20, help="ids per bag")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--worlds", default="1,2,4")
    parser.add_argument("--no-torchrec", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rank", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--world", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--store", default="", help=argparse.SUPPRESS)
    parser.add_argument("--out", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.rank, args.world, args.store, f"{args.out}/rank-{args.rank}.json", args)
        return
    if args.quick:
        args.rows, args.dim, args.bags, args.pooling, args.steps, args.warmup = (
            5000,
            16,
            64,
            5,
            3,
            1,
        )
        args.worlds = "1,2"
    print(
        f"CPU: {cpu_model()}, {os.cpu_count()} cores; table {args.rows} x {args.dim} float32, "
        f"{args.bags} bags x {args.pooling} Zipf(1.1) ids per rank and step, "
        f"fused row-wise Adagrad, gloo, 1 thread per process"
    )
    print()
    print(
        "| processes | library | ms/step (wall, median) | ms/step (thread CPU, median) "
        "| bytes sent per rank per step |"
    )
    print("|---|---|---|---|---|")
    for world in [int(w) for w in args.worlds.split(",")]:
        results = run_world(world, args)
        for library in ("embtable", "torchrec"):
            sides = [r.get(library) for r in results]
            if not sides or sides[0] is None:
                continue
            if "error" in sides[0]:
                print(f"| {world} | {library} | not run: {sides[0]['error'][:80]} | | |")
                continue
            wall = statistics.median(
                max(s["wall"][i] for s in sides) for i in range(len(sides[0]["wall"]))
            )
            cpu = statistics.median(
                statistics.mean(s["cpu"][i] for s in sides) for i in range(len(sides[0]["cpu"]))
            )
            sent = (
                statistics.median(
                    statistics.mean(s["bytes"][i] for s in sides)
                    for i in range(len(sides[0]["bytes"]))
                )
                if "bytes" in sides[0]
                else None
            )
            sent_text = "n/a" if sent is None else f"{sent / 1e6:.2f} MB"
            name = library if "sharding" not in sides[0] else f"{library} ({sides[0]['sharding']})"
            print(f"| {world} | {name} | {wall * 1e3:.1f} | {cpu * 1e3:.1f} | {sent_text} |")


if __name__ == "__main__":
    main()
