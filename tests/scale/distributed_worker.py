"""One rank of the sharded-table tests: ``python distributed_worker.py SCENARIO RANK WORLD DIR``.

Each scenario runs the same steps as the unsharded reference in ``test_distributed.py`` on this
rank's part of the batch and writes what it saw to ``DIR/rank-RANK.pt``. Imported by the test
for :func:`batches`, so importing it has no side effects.
"""

from __future__ import annotations

import sys
import traceback
from datetime import timedelta
from pathlib import Path

V, D = 11, 4  # 11 rows over 2 or 3 ranks: uneven shards
STEPS = 3
RULES = ("sgd", "adagrad", "rowwise_adagrad", "adam")


def batches(world: int, step: int, *, empty_rank: int | None = None):
    """Each rank's bags for one step: (ids, offsets, per_sample_weights, target) per rank."""
    import torch

    out = []
    for rank in range(world):
        generator = torch.Generator().manual_seed(1000 * step + rank)
        bags = 0 if rank == empty_rank else int(torch.randint(1, 5, (), generator=generator))
        sizes = torch.randint(0, 5, (bags,), generator=generator)
        ids = torch.randint(0, V, (int(sizes.sum()),), generator=generator)
        offsets = torch.cat([torch.zeros(1, dtype=torch.int64), sizes.cumsum(0)[:-1]])[:bags]
        psw = torch.rand(len(ids), generator=generator, dtype=torch.float32)
        target = torch.randn((bags, D), generator=generator)
        out.append((ids, offsets, psw, target))
    return out


def optimizer(rule: str):
    from embtable.torch import RowOptimizer

    return RowOptimizer(rule, lr=0.1)


def run(scenario: str, rank: int, world: int, directory: Path) -> dict:
    import torch

    from embtable.torch.distributed import ShardedEmbedding, ShardedEmbeddingBag

    result: dict = {}
    empty = world - 1  # the last rank has an empty batch in every step
    if scenario == "train":
        for mode in ("sum", "mean", "max"):
            for rule in (*RULES, "sparse", "dense"):
                if mode == "max" and rule not in ("sgd", "dense"):
                    continue  # max mode: fused SGD (which the unsharded layer lacks) and dense
                bag = ShardedEmbeddingBag(
                    V,
                    D,
                    mode,
                    padding_idx=3,
                    sparse=rule == "sparse",
                    optimizer=optimizer(rule) if rule in RULES else None,
                    seed=7,
                )
                sgd = None if rule in RULES else torch.optim.SGD(bag.parameters(), lr=0.1)
                outs = []
                for step in range(STEPS):
                    ids, offsets, psw, target = batches(world, step, empty_rank=empty)[rank]
                    weights = psw if mode != "max" else None
                    out = bag(ids, offsets, weights)
                    (out * target).sum().backward()
                    if sgd is not None:
                        sgd.step()
                        sgd.zero_grad()
                    outs.append(out.detach())
                result[f"bag/{mode}/{rule}"] = {
                    "outs": outs,
                    "shard": bag.weight.detach().clone(),
                    "rows": (bag.row_start, bag.row_stop),
                    "bytes": bag.last_bytes_sent,
                }
        emb = ShardedEmbedding(V, D, padding_idx=3, optimizer=optimizer("adam"), seed=7)
        outs = []
        for step in range(STEPS):
            ids = batches(world, step, empty_rank=empty)[rank][0]
            out = emb(ids)
            (out * out).sum().backward()
            outs.append(out.detach())
        result["emb/adam"] = {"outs": outs, "shard": emb.weight.detach().clone()}
        table = ShardedEmbeddingBag(
            V, D, "sum", sharding="table", owner=world - 1, seed=7, optimizer=optimizer("sgd")
        )
        ids, offsets, psw, target = batches(world, 0)[rank]
        out = table(ids, offsets, psw)
        (out * target).sum().backward()
        result["table/sgd"] = {
            "outs": [out.detach()],
            "shard": table.weight.detach().clone(),
            "rows": (table.row_start, table.row_stop),
        }
    elif scenario == "bad_id":
        bag = ShardedEmbeddingBag(V, D, "sum", optimizer=optimizer("sgd"))
        ids = torch.tensor([0, V if rank == 1 else 1, 2])
        try:
            bag(ids, torch.tensor([0]))
            result["error"] = None
        except Exception as err:  # the test checks the type and message of what each rank saw
            result["error"] = (
                type(err).__name__,
                [c.__name__ for c in type(err).__mro__],
                str(err),
            )
        # The group still works after the refused batch.
        out = bag(torch.tensor([1, 2]), torch.tensor([0]))
        result["after"] = out.detach()
    elif scenario.startswith("save"):
        bag = ShardedEmbeddingBag(V, D, "sum", optimizer=optimizer("adam"), seed=7)
        for step in range(2):
            ids, offsets, psw, target = batches(world, step)[rank]
            (bag(ids, offsets, psw) * target).sum().backward()
        bag.save(directory / "checkpoint")
        result["shard"] = bag.weight.detach().clone()
    elif scenario == "load":
        bag = ShardedEmbeddingBag(V, D, "sum", optimizer=optimizer("adam"), seed=99)
        bag.load(directory / "checkpoint")
        result["shard"] = bag.weight.detach().clone()
        result["rows"] = (bag.row_start, bag.row_stop)
        result["state"] = {n: b.clone() for n, b in bag.optimizer.named_buffers()}
    else:
        raise SystemExit(f"unknown scenario {scenario!r}")
    return result


def main() -> int:
    import torch
    import torch.distributed as dist

    scenario, rank, world, directory = (
        sys.argv[1],
        int(sys.argv[2]),
        int(sys.argv[3]),
        Path(sys.argv[4]),
    )
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"file://{directory / 'store'}",
        rank=rank,
        world_size=world,
        timeout=timedelta(seconds=60),
    )
    try:
        result = run(scenario, rank, world, directory)
        torch.save(result, directory / f"rank-{rank}.pt")
    except BaseException:
        traceback.print_exc()
        return 1
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
