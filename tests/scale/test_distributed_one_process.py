"""Sharded tables in a world of one process: table names the collection cannot hold, and a
sparse backward that warns nothing (run in a fresh interpreter with warnings as errors, since
torch warns about sparse invariant checks only once per process)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
import torch.distributed as dist  # noqa: E402

from embtable import EmbtableError  # noqa: E402
from embtable.torch.distributed import ShardedEmbeddingBagCollection  # noqa: E402

SRC = Path(__file__).resolve().parents[2] / "src"

pytestmark = pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is missing")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("items", "clashes with the attribute torch.nn.ModuleDict.items"),
        ("training", "clashes with the attribute torch.nn.ModuleDict.training"),
        ("", "must be non-empty"),
        ("a.b", "no '.', '/'"),
        ("../escape", "no '.', '/'"),
        ("/tmp/escape", "no '.', '/'"),
        ("a\\b", "no '.', '/'"),
    ],
)
def test_table_names_that_cannot_name_a_submodule_and_a_folder_are_refused(name, message):
    spec = {"num_embeddings": 4, "embedding_dim": 2}
    with pytest.raises(EmbtableError, match=message) as caught:
        ShardedEmbeddingBagCollection({name: spec, "user": spec})
    assert isinstance(caught.value, ValueError)
    assert repr(name) in str(caught.value)


def test_table_names_and_tables_must_have_the_right_types():
    with pytest.raises(TypeError, match="table names must be strings, got 1"):
        ShardedEmbeddingBagCollection({1: {"num_embeddings": 4, "embedding_dim": 2}})
    with pytest.raises(TypeError, match="tables must be a mapping"):
        ShardedEmbeddingBagCollection([("user", {"num_embeddings": 4, "embedding_dim": 2})])


SPARSE_BACKWARD = """
import tempfile, warnings
import torch, torch.distributed as dist
from embtable.torch import RowOptimizer
from embtable.torch.distributed import ShardedEmbedding, ShardedEmbeddingBag

warnings.simplefilter("error")
folder = tempfile.TemporaryDirectory()
dist.init_process_group(
    "gloo", init_method=f"file://{folder.name}/store", rank=0, world_size=1
)
weight = torch.arange(20.0).reshape(10, 2)
ids = torch.tensor([[1, 2], [2, 0], [9, 2]])

emb = ShardedEmbedding(10, 2, padding_idx=0, sparse=True, _weight=weight)
reference = torch.nn.Embedding.from_pretrained(weight, freeze=False, padding_idx=0, sparse=True)
(emb(ids) * 3).sum().backward()
(reference(ids) * 3).sum().backward()
assert emb.weight.grad.is_sparse
assert torch.equal(emb.weight.grad.to_dense(), reference.weight.grad.to_dense())

bag = ShardedEmbeddingBag(10, 2, mode="sum", sparse=True, _weight=weight)
reference = torch.nn.EmbeddingBag.from_pretrained(weight, freeze=False, mode="sum", sparse=True)
bag(ids).sum().backward()
reference(ids).sum().backward()
assert torch.equal(bag.weight.grad.to_dense(), reference.weight.grad.to_dense())

fused = ShardedEmbeddingBag(10, 2, mode="sum", _weight=weight,
                            optimizer=RowOptimizer("rowwise_adagrad", lr=0.1))
fused(ids).sum().backward()
assert fused.weight.grad is None and not torch.equal(fused.weight.detach(), weight)
dist.destroy_process_group()
print("ok")
"""


def test_a_sparse_backward_equals_torch_and_warns_nothing():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env["GLOO_SOCKET_IFNAME"] = "lo"
    env["OMP_NUM_THREADS"] = "1"
    env["NUMBA_NUM_THREADS"] = "1"
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(SPARSE_BACKWARD)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "ok"
