"""Sharded tables over torch.distributed (gloo on loopback), 2 and 3 processes, against the
unsharded embtable.torch layers run on the concatenation of the ranks' batches."""

from __future__ import annotations

import importlib.util
import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
import torch.distributed as dist  # noqa: E402

import embtable.torch as et  # noqa: E402
from embtable.torch.distributed import (  # noqa: E402
    ShardedEmbeddingBag,
    initial_table,
    row_bounds,
)

HERE = Path(__file__).resolve().parent
SRC = HERE.parents[1] / "src"
_spec = importlib.util.spec_from_file_location("distributed_worker", HERE / "distributed_worker.py")
worker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(worker)

pytestmark = pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is missing")


def launch(scenario: str, world: int, directory: Path) -> list[dict]:
    """Run ``world`` ranks of a scenario; fail (never hang) if any rank fails or stalls."""
    (directory / "store").unlink(missing_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env["GLOO_SOCKET_IFNAME"] = "lo"
    env["OMP_NUM_THREADS"] = "1"
    env["NUMBA_NUM_THREADS"] = "1"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(HERE / "distributed_worker.py"),
                scenario,
                str(rank),
                str(world),
                str(directory),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in range(world)
    ]
    outputs = []
    try:
        for proc in procs:
            out, _ = proc.communicate(timeout=300)
            outputs.append(out)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for rank, (proc, out) in enumerate(zip(procs, outputs, strict=False)):
        assert proc.returncode == 0, f"rank {rank} of {scenario} failed:\n{out}"
    return [torch.load(directory / f"rank-{rank}.pt", weights_only=False) for rank in range(world)]


def concatenated(world: int, step: int, empty_rank: int | None):
    parts = worker.batches(world, step, empty_rank=empty_rank)
    ids = torch.cat([p[0] for p in parts])
    starts = torch.tensor([0] + [len(p[0]) for p in parts]).cumsum(0)
    offsets = torch.cat([p[1] + starts[r] for r, p in enumerate(parts)])
    psw = torch.cat([p[2] for p in parts])
    target = torch.cat([p[3] for p in parts])
    return ids, offsets, psw, target


def reference_bag(
    mode: str, rule: str, world: int, *, padding_idx=3, steps=worker.STEPS, empty_rank=None
):
    weight = initial_table(worker.V, worker.D, seed=7, padding_idx=padding_idx)
    bag = et.EmbeddingBag(
        worker.V,
        worker.D,
        mode=mode,
        padding_idx=padding_idx,
        sparse=rule == "sparse",
        _weight=weight.clone(),
        optimizer=worker.optimizer(rule) if rule in worker.RULES else None,
    )
    sgd = None if rule in worker.RULES else torch.optim.SGD(bag.parameters(), lr=0.1)
    outs = []
    for step in range(steps):
        ids, offsets, psw, target = concatenated(world, step, empty_rank)
        out = bag(ids, offsets, psw if mode != "max" else None)
        (out * target).sum().backward()
        if sgd is not None:
            sgd.step()
            sgd.zero_grad()
        outs.append(out.detach())
    return outs, bag


def test_row_bounds_are_contiguous_and_balanced():
    for rows in range(30):
        for world in range(1, 6):
            bounds = row_bounds(rows, world)
            sizes = [b - a for a, b in itertools.pairwise(bounds)]
            assert bounds[0] == 0 and bounds[-1] == rows and max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("world", [3])  # uneven shards (11 rows) and an empty rank
def test_training_equals_the_unsharded_layer(world, tmp_path):
    results = launch("train", world, tmp_path)
    empty = world - 1
    bounds = row_bounds(worker.V, world)
    for key in results[0]:
        kind, *rest = key.split("/")
        if kind != "bag":
            continue
        mode, rule = rest
        # The unsharded layer has no fused optimizer in max mode; fused SGD == dense SGD there.
        ref_rule = "dense" if mode == "max" else rule
        ref_outs, ref = reference_bag(mode, ref_rule, world, empty_rank=empty)
        for step in range(worker.STEPS):
            sharded = torch.cat([r[key]["outs"][step] for r in results])
            torch.testing.assert_close(
                sharded, ref_outs[step], atol=1e-5, rtol=1e-5, msg=f"{key} step {step}"
            )
        for rank, r in enumerate(results):
            assert r[key]["rows"] == (bounds[rank], bounds[rank + 1])
            torch.testing.assert_close(
                r[key]["shard"],
                ref.weight.detach()[bounds[rank] : bounds[rank + 1]],
                atol=1e-5,
                rtol=1e-5,
                msg=key,
            )
        assert results[empty][key]["outs"][0].shape == (0, worker.D)
    # Embedding (not bags), fused Adam.
    weight = initial_table(worker.V, worker.D, seed=7, padding_idx=3)
    emb = et.Embedding(
        worker.V,
        worker.D,
        padding_idx=3,
        _weight=weight.clone(),
        optimizer=worker.optimizer("adam"),
    )
    for step in range(worker.STEPS):
        ids = concatenated(world, step, empty)[0]
        out = emb(ids)
        (out * out).sum().backward()
        torch.testing.assert_close(
            torch.cat([r["emb/adam"]["outs"][step] for r in results]),
            out.detach(),
            atol=1e-5,
            rtol=1e-5,
        )
    torch.testing.assert_close(
        torch.cat([r["emb/adam"]["shard"] for r in results]),
        emb.weight.detach(),
        atol=1e-5,
        rtol=1e-5,
    )
    # Table-wise: every row on the last rank.
    ref_outs, ref = reference_bag("sum", "sgd", world, padding_idx=None, steps=1)
    torch.testing.assert_close(
        torch.cat([r["table/sgd"]["outs"][0] for r in results]), ref_outs[0], atol=1e-5, rtol=1e-5
    )
    assert [r["table/sgd"]["rows"] for r in results][-1] == (0, worker.V)
    assert all(r["table/sgd"]["shard"].shape[0] == 0 for r in results[:-1])
    torch.testing.assert_close(
        results[-1]["table/sgd"]["shard"], ref.weight.detach(), atol=1e-5, rtol=1e-5
    )


def test_a_bad_id_on_one_rank_stops_every_rank_with_a_clear_error(tmp_path):
    results = launch("bad_id", 3, tmp_path)
    name, bases, message = results[1]["error"]
    assert name == "BagIndexError" and "IndexError" in bases
    assert str(worker.V) in message
    for rank in (0, 2):
        name, bases, message = results[rank]["error"]
        assert name == "DistributedError" and "EmbtableError" in bases
        assert "rank 1" in message and "BagIndexError" in message
    for r in results:  # the group is usable afterwards
        assert r["after"].shape == (1, worker.D)


def test_checkpoint_loads_into_another_world_size(tmp_path):
    saved = launch("save", 3, tmp_path)
    full = torch.cat([r["shard"] for r in saved])
    loaded = launch("load", 2, tmp_path)
    bounds = row_bounds(worker.V, 2)
    _ref_outs, ref = reference_bag("sum", "adam", 3, padding_idx=None, steps=2)
    torch.testing.assert_close(full, ref.weight.detach(), atol=1e-5, rtol=1e-5)
    for rank, r in enumerate(loaded):
        assert r["rows"] == (bounds[rank], bounds[rank + 1])
        assert torch.equal(r["shard"], full[bounds[rank] : bounds[rank + 1]])
        assert int(r["state"]["step"]) == 2
        torch.testing.assert_close(
            r["state"]["exp_avg"],
            ref.optimizer.exp_avg[bounds[rank] : bounds[rank + 1]],
            atol=1e-6,
            rtol=1e-5,
        )
    names = sorted(p.name for p in (tmp_path / "checkpoint").iterdir())
    assert names.count("manifest.json") == 1 and sum(n.endswith(".safetensors") for n in names) == 3
    # A second save replaces the first generation's files.
    launch("save", 2, tmp_path)
    names = sorted(p.name for p in (tmp_path / "checkpoint").iterdir())
    assert sum(n.endswith(".safetensors") for n in names) == 2


def test_needs_an_initialised_group():
    from embtable import DistributedError

    if dist.is_initialized():
        pytest.skip("a process group is already initialised in this process")
    with pytest.raises(DistributedError, match="init_process_group"):
        ShardedEmbeddingBag(10, 4)
