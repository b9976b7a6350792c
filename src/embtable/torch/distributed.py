"""Embedding tables sharded over ``torch.distributed``: each rank holds a slice of the rows.

:class:`ShardedEmbedding` and :class:`ShardedEmbeddingBag` split a ``(V, D)`` table over the
ranks of a process group, row-wise (rank ``r`` owns a contiguous block of rows, sizes differing
by at most one) or table-wise (``sharding="table"``: one rank owns every row, the others none,
which is how :class:`ShardedEmbeddingBagCollection` spreads several tables). One forward:

1. every rank checks its local batch (ids, offsets, per-sample weights) with
   :mod:`embtable.functional`'s checks, and sends the outcome with its row counts (one
   ``all_to_all``): a bad id on one rank raises on *every* rank (the bad rank its own
   :class:`~embtable.BagIndexError`, the others a :class:`~embtable.DistributedError` naming the
   rank and its message) before any data moves, so nothing hangs;
2. each rank sends the *unique* ids of its batch to their owners (``all_to_all_single``), the
   owners gather those rows with the embtable kernels and send them back;
3. the rank pools (or looks up) its batch on the small table of fetched rows with
   :mod:`embtable.torch.functional`, so every option of the unsharded layer keeps its meaning.

The backward sends each fetched row's gradient back to its owner, which sums what the ranks sent
for the same row and then either applies the fused :class:`~embtable.torch.RowOptimizer` rule to
its shard (no gradient tensor, as in the unsharded layer) or gives the shard weight a gradient
(sparse COO with ``sparse=True``, dense otherwise) for a torch optimizer. The results equal the
unsharded layer run on the concatenation of the ranks' batches, within float32 rounding.

Collectives need every rank: each rank calls ``forward`` the same number of times, and calls
``backward`` on a loss that depends on the output (an empty local batch is fine). gloo on CPU
and NCCL on GPUs both work; the group's timeout (``init_process_group(timeout=...)``) bounds a
rank that never arrives.

Checkpoints: :meth:`ShardedEmbeddingBag.save` writes one safetensors file per rank (its rows and
their optimizer state) and a ``manifest.json`` naming the files and their row ranges;
:meth:`~ShardedEmbeddingBag.load` reads it into any world size. Each file is written atomically
and the manifest last, under a fresh generation name, so a killed save leaves the previous
checkpoint whole. The directory must be visible to every rank (one machine, or a shared
filesystem).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.distributed as dist

from .. import functional as NF
from .._errors import (
    DistributedError,
    EmbtableError,
    OptionError,
    OptionTypeError,
    ShapeError,
    VectorFormatError,
    WeightDTypeError,
)
from . import functional as TF
from ._optim import RowOptimizer

__all__ = [
    "ShardedEmbedding",
    "ShardedEmbeddingBag",
    "ShardedEmbeddingBagCollection",
    "initial_table",
    "row_bounds",
]

Sharding = Literal["row", "table"]
_INIT_CHUNK = 65536  # rows drawn per seeded chunk: the initial table does not depend on the world
_MANIFEST = "manifest.json"
_FORMAT = "embtable-sharded-table"


def row_bounds(num_embeddings: int, world_size: int) -> list[int]:
    """Row-wise shard boundaries: rank ``r`` owns rows ``bounds[r] .. bounds[r + 1] - 1``.

    The first ``num_embeddings % world_size`` ranks get one row more than the others.

    Example:
        >>> row_bounds(10, 3)
        [0, 4, 7, 10]
        >>> row_bounds(2, 4)
        [0, 1, 2, 2, 2]
    """
    if world_size < 1:
        raise OptionError(f"world_size must be at least 1, got {world_size}")
    if num_embeddings < 0:
        raise ShapeError(f"num_embeddings must be non-negative, got {num_embeddings}")
    base, extra = divmod(num_embeddings, world_size)
    bounds = [0]
    for rank in range(world_size):
        bounds.append(bounds[-1] + base + (1 if rank < extra else 0))
    return bounds


def _group_rank_world(group: dist.ProcessGroup | None) -> tuple[int, int]:
    if not dist.is_available() or not dist.is_initialized():
        raise DistributedError(
            "torch.distributed is not initialised: call torch.distributed.init_process_group "
            "(backend 'gloo' on CPU, 'nccl' on GPUs) on every rank first"
        )
    return dist.get_rank(group), dist.get_world_size(group)


def _initial_rows(
    start: int, stop: int, dim: int, seed: int, dtype: torch.dtype, total: int
) -> torch.Tensor:
    """Rows ``start..stop-1`` of a ``total``-row N(0, 1) table drawn in seeded chunks of rows,
    so that every world size (and :meth:`ShardedEmbeddingBag.initial_table`) sees one table."""
    out = torch.empty((stop - start, dim), dtype=dtype)
    chunk = start // _INIT_CHUNK
    while chunk * _INIT_CHUNK < stop:
        lo, hi = chunk * _INIT_CHUNK, min((chunk + 1) * _INIT_CHUNK, total)
        generator = torch.Generator().manual_seed(seed * 1_000_003 + chunk)
        block = torch.randn((hi - lo, dim), generator=generator, dtype=dtype)
        a, b = max(lo, start), min(hi, stop)
        out[a - start : b - start] = block[a - lo : b - lo]
        chunk += 1
    return out


def initial_table(
    num_embeddings: int,
    embedding_dim: int,
    *,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    padding_idx: int | None = None,
) -> torch.Tensor:
    """The whole table a sharded layer built with ``seed`` (and no ``_weight``) starts from,
    the same for every world size: for comparisons with an unsharded layer.

    Example:
        >>> initial_table(5, 2, seed=1, padding_idx=0)[0].tolist()
        [0.0, 0.0]
    """
    table = _initial_rows(0, num_embeddings, embedding_dim, seed, dtype, num_embeddings)
    if padding_idx is not None:
        table[padding_idx % num_embeddings] = 0
    return table


class _Plan:
    """Who asks whom for which rows in one forward (kept for the backward)."""

    __slots__ = ("bytes_sent", "recv_counts", "recv_ids", "send_counts", "uniq")

    def __init__(
        self,
        uniq: torch.Tensor,
        send_counts: list[int],
        recv_counts: list[int],
        recv_ids: torch.Tensor,
    ) -> None:
        self.uniq = uniq
        self.send_counts = send_counts
        self.recv_counts = recv_counts
        self.recv_ids = recv_ids
        self.bytes_sent = 0

    def rows_to_others(self, rank: int, *, serving: bool) -> int:
        """Rows this rank sends to other ranks: those it serves, or (backward) their grads."""
        counts = self.recv_counts if serving else self.send_counts
        return sum(counts) - counts[rank]


class _Exchange(torch.autograd.Function):
    """Fetch rows from their owners; the backward returns their gradients to the owners."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, weight: torch.Tensor, table: _ShardedBase, plan: _Plan
    ) -> torch.Tensor:
        with torch.no_grad():
            served = table._serve(weight, plan.recv_ids)
            fetched = table._all_to_all(served, plan.recv_counts, plan.send_counts)
        plan.bytes_sent += (
            plan.rows_to_others(table.rank, serving=True)
            * table.embedding_dim
            * served.element_size()
        )
        ctx.table = table
        ctx.plan = plan
        ctx.weight = weight
        return fetched

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, None, None]:  # type: ignore[override]
        table: _ShardedBase = ctx.table
        plan: _Plan = ctx.plan
        grad = grad.detach().contiguous()
        plan.bytes_sent += (
            plan.rows_to_others(table.rank, serving=False)
            * table.embedding_dim
            * grad.element_size()
        )
        received = table._all_to_all(grad, plan.send_counts, plan.recv_counts)
        return table._owner_update(ctx.weight, plan.recv_ids, received), None, None


class _ShardedBase(torch.nn.Module):
    """What the sharded layers share: the shard, the exchange, checkpoints."""

    weight: torch.nn.Parameter

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        *,
        padding_idx: int | None,
        sparse: bool,
        optimizer: RowOptimizer | None,
        sharding: Sharding,
        owner: int,
        process_group: dist.ProcessGroup | None,
        dtype: torch.dtype | None,
        device: torch.device | str | None,
        seed: int,
        _weight: torch.Tensor | None,
    ) -> None:
        super().__init__()
        if num_embeddings < 0 or embedding_dim < 0:
            raise ShapeError(
                f"num_embeddings and embedding_dim must be non-negative, "
                f"got {num_embeddings} and {embedding_dim}"
            )
        if sharding not in ("row", "table"):
            raise OptionError(f"sharding must be 'row' or 'table', got {sharding!r}")
        dtype = torch.get_default_dtype() if dtype is None else dtype
        if dtype not in (torch.float32, torch.float64):
            raise WeightDTypeError(
                f"a sharded table must be float32 or float64, got {dtype} "
                "(the rows travel between ranks in that dtype)"
            )
        self.process_group = process_group
        self.rank, self.world_size = _group_rank_world(process_group)
        if sharding == "table" and not 0 <= owner < self.world_size:
            raise OptionError(
                f"owner must be a rank of the group (0..{self.world_size - 1}), got {owner}"
            )
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        self.sharding: Sharding = sharding
        self.owner = int(owner)
        if sharding == "row":
            self.bounds = row_bounds(self.num_embeddings, self.world_size)
        else:
            self.bounds = [0] * (self.owner + 1) + [self.num_embeddings] * (
                self.world_size - self.owner
            )
        self.row_start = self.bounds[self.rank]
        self.row_stop = self.bounds[self.rank + 1]
        if padding_idx is not None:
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise OptionError(
                    f"padding_idx {padding_idx} is out of range for {self.num_embeddings} rows "
                    f"(valid: {-self.num_embeddings}..{self.num_embeddings - 1})"
                )
            padding_idx %= self.num_embeddings
        self.padding_idx = padding_idx
        self.sparse = bool(sparse)
        self.seed = int(seed)
        if _weight is not None:
            if tuple(_weight.shape) != (self.num_embeddings, self.embedding_dim):
                raise ShapeError(
                    f"_weight must be the whole table, shape "
                    f"({self.num_embeddings}, {self.embedding_dim}), got {tuple(_weight.shape)}"
                )
            local = _weight.detach()[self.row_start : self.row_stop].to(dtype).clone()
        else:
            local = _initial_rows(
                self.row_start, self.row_stop, self.embedding_dim, seed, dtype, self.num_embeddings
            )
            if self.padding_idx is not None and self.row_start <= self.padding_idx < self.row_stop:
                local[self.padding_idx - self.row_start] = 0
        self.weight = torch.nn.Parameter(local.to(device))
        self._device = self.weight.device
        self.optimizer: RowOptimizer | None = None
        if optimizer is not None:
            if not isinstance(optimizer, RowOptimizer):
                raise OptionError(
                    f"optimizer must be an embtable.torch.RowOptimizer, got {type(optimizer)!r}"
                )
            self.optimizer = optimizer.bind_(self.weight)
        self._last_plan: _Plan | None = None

    # -- communication --------------------------------------------------------------------

    def _all_to_all(
        self, tensor: torch.Tensor, send_counts: list[int], recv_counts: list[int]
    ) -> torch.Tensor:
        shape = (sum(recv_counts), *tensor.shape[1:])
        out = torch.empty(shape, dtype=tensor.dtype, device=tensor.device)
        dist.all_to_all_single(
            out,
            tensor.contiguous(),
            output_split_sizes=recv_counts,
            input_split_sizes=send_counts,
            group=self.process_group,
        )
        return out

    def _raise_agreed(self, error: EmbtableError | None) -> None:
        """Some rank's batch failed its checks: every rank learns which and why, and raises."""
        mine = None if error is None else f"{type(error).__name__}: {error}"
        messages: list[str | None] = [None] * self.world_size
        dist.all_gather_object(messages, mine, group=self.process_group)
        if error is not None:
            raise error
        rank, text = next((r, t) for r, t in enumerate(messages) if t is not None)
        raise DistributedError(
            f"rank {rank} of {self.world_size} rejected its batch ({text}); "
            "every rank stops at this forward"
        )

    def _plan(
        self, flat_ids: torch.Tensor, error: EmbtableError | None
    ) -> tuple[_Plan, torch.Tensor]:
        """Exchange the row counts (and, in the same message, whether this rank's batch passed
        its checks), then the unique ids, with their owners."""
        if error is None:
            if flat_ids.device.type == "cpu":  # NumPy's unique is several times torch's on CPU
                uniq_np, inverse_np = np.unique(flat_ids.numpy(), return_inverse=True)
                owners = np.searchsorted(np.asarray(self.bounds[1:]), uniq_np, side="right")
                counts = torch.from_numpy(np.bincount(owners, minlength=self.world_size))
                uniq, inverse = torch.from_numpy(uniq_np), torch.from_numpy(inverse_np.reshape(-1))
            else:
                uniq, inverse = torch.unique(flat_ids, sorted=True, return_inverse=True)
                bounds = torch.tensor(self.bounds[1:], dtype=torch.int64, device=uniq.device)
                owners = torch.searchsorted(bounds, uniq, right=True)
                counts = torch.bincount(owners, minlength=self.world_size)
            counts = counts.to(device=self._device, dtype=torch.int64)
        else:
            uniq = inverse = flat_ids.new_empty(0)
            counts = torch.zeros(self.world_size, dtype=torch.int64, device=self._device)
        send = torch.stack([counts, torch.full_like(counts, error is not None)], dim=1)
        recv = torch.empty_like(send)
        dist.all_to_all_single(recv, send, group=self.process_group)
        if error is not None or bool(recv[:, 1].any()):
            self._raise_agreed(error)
        send_counts, recv_counts = counts.tolist(), recv[:, 0].tolist()
        recv_ids = self._all_to_all(uniq, send_counts, recv_counts)
        plan = _Plan(uniq, send_counts, recv_counts, recv_ids)
        # Bytes to the other ranks only (what crosses the network): counts and unique ids.
        others = self.world_size - 1
        plan.bytes_sent = (
            others * send[0:1].nbytes + (sum(send_counts) - send_counts[self.rank]) * 8
        )
        return plan, inverse

    def _serve(self, weight: torch.Tensor, global_ids: torch.Tensor) -> torch.Tensor:
        """The owner's rows for ``global_ids`` (all within this rank's block)."""
        local = global_ids - self.row_start
        if local.numel() == 0:
            return weight.new_empty((0, self.embedding_dim))
        return TF.embedding(local, weight.detach())

    @torch.no_grad()
    def _owner_update(
        self, weight: torch.Tensor, global_ids: torch.Tensor, grads: torch.Tensor
    ) -> torch.Tensor | None:
        """Sum the ranks' gradients per row; apply the fused rule, or return the shard's grad."""
        shard = (self.row_stop - self.row_start, self.embedding_dim)
        pad = self.padding_idx
        local_pad = (
            pad - self.row_start
            if pad is not None and self.row_start <= pad < self.row_stop
            else None
        )
        local = global_ids - self.row_start
        if weight.device.type == "cpu":
            # embtable's own coalescing kernels (sort by row, segment sums).
            grad = NF.embedding_backward(
                local.numpy(), grads.numpy(), shard[0], padding_idx=local_pad, sparse=True
            )
            if self.optimizer is not None:
                self.optimizer.apply_rows_(weight, grad)
                return None
            rows = torch.from_numpy(grad.rows)
            values = torch.from_numpy(grad.values).to(weight.dtype)
        else:
            rows, inverse = torch.unique(local, sorted=True, return_inverse=True)
            values = torch.zeros((len(rows), shard[1]), dtype=grads.dtype, device=grads.device)
            values.index_add_(0, inverse, grads)
            if local_pad is not None:
                values[rows == local_pad] = 0
            if self.optimizer is not None:
                self.optimizer.apply_rows_(
                    weight,
                    torch.sparse_coo_tensor(
                        rows.unsqueeze(0), values, shard, check_invariants=False
                    ),
                )
                return None
        if self.sparse:
            return torch.sparse_coo_tensor(
                rows.unsqueeze(0), values, shard, check_invariants=False
            ).coalesce()
        dense = torch.zeros_like(weight)
        dense.index_copy_(0, rows.to(dense.device), values.to(dense.device))
        return dense

    def _fetch(
        self, ids: torch.Tensor, error: EmbtableError | None
    ) -> tuple[torch.Tensor, torch.Tensor, int | None]:
        """The fetched rows of the batch's unique ids, the batch's ids into them, and the
        padding id's position among them (or ``None``); raises on every rank if ``error`` is
        set on any."""
        flat = ids.reshape(-1).to(device=self._device, dtype=torch.int64) if error is None else ids
        plan, inverse = self._plan(flat, error)
        if torch.is_grad_enabled() and self.weight.requires_grad:
            fetched = _Exchange.apply(self.weight, self, plan)
        else:
            with torch.no_grad():
                served = self._serve(self.weight, plan.recv_ids)
                fetched = self._all_to_all(served, plan.recv_counts, plan.send_counts)
                plan.bytes_sent += (
                    plan.rows_to_others(self.rank, serving=True)
                    * self.embedding_dim
                    * served.element_size()
                )
        self._last_plan = plan
        padding = None
        if self.padding_idx is not None and plan.uniq.numel():
            position = int(torch.searchsorted(plan.uniq, self.padding_idx))
            if position < plan.uniq.numel() and int(plan.uniq[position]) == self.padding_idx:
                padding = position
        return fetched, inverse, padding

    @property
    def last_bytes_sent(self) -> int:
        """Bytes this rank sent for the last forward (counts, ids, rows) and, once it has run,
        its backward (row gradients)."""
        plan = getattr(self, "_last_plan", None)
        return 0 if plan is None else plan.bytes_sent

    # -- the whole table --------------------------------------------------------------------

    def initial_table(self) -> torch.Tensor:
        """The whole ``(V, D)`` table this layer started from when built without ``_weight``."""
        return initial_table(
            self.num_embeddings,
            self.embedding_dim,
            seed=self.seed,
            dtype=self.weight.dtype,
            padding_idx=self.padding_idx,
        )

    def gather_table(self) -> torch.Tensor:
        """The whole current table, assembled on every rank (a collective; small tables only)."""
        pieces: list[torch.Tensor | None] = [None] * self.world_size
        dist.all_gather_object(pieces, self.weight.detach().cpu(), group=self.process_group)
        return torch.cat([p for p in pieces if p is not None], dim=0)

    # -- checkpoints ------------------------------------------------------------------------

    def _state_tensors(self) -> dict[str, torch.Tensor]:
        tensors = {"weight": self.weight.detach().cpu().contiguous()}
        if self.optimizer is not None:
            for name, buffer in self.optimizer.named_buffers():
                if name != "step":
                    tensors[f"optimizer.{name}"] = buffer.detach().cpu().contiguous()
        return tensors

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Write a checkpoint of the whole table (a collective: every rank calls it).

        Each rank writes its rows and their optimizer state to one safetensors file; rank 0
        then writes ``manifest.json``. A save killed half-way leaves the previous checkpoint
        loadable.
        """
        from safetensors.torch import save as save_bytes

        from ..io._atomic import atomic_write_bytes, check_output

        target = Path(directory)
        check_output(target, "directory")
        if self.rank == 0:
            target.mkdir(parents=True, exist_ok=True)
        generation = [secrets.token_hex(6) if self.rank == 0 else None]
        dist.broadcast_object_list(generation, src=self._global_rank(0), group=self.process_group)
        dist.barrier(group=self.process_group)
        name = f"shard-{generation[0]}-{self.rank:05d}-of-{self.world_size:05d}.safetensors"
        metadata = {
            "format": _FORMAT,
            "row_start": str(self.row_start),
            "row_stop": str(self.row_stop),
        }
        atomic_write_bytes(target / name, save_bytes(self._state_tensors(), metadata=metadata))
        entry = {"file": name, "row_start": self.row_start, "row_stop": self.row_stop}
        entries: list[dict[str, Any] | None] = [None] * self.world_size
        dist.all_gather_object(entries, entry, group=self.process_group)
        if self.rank == 0:
            manifest = {
                "format": _FORMAT,
                "version": 1,
                "num_embeddings": self.num_embeddings,
                "embedding_dim": self.embedding_dim,
                "dtype": str(self.weight.dtype).removeprefix("torch."),
                "padding_idx": self.padding_idx,
                "optimizer": None if self.optimizer is None else self._optimizer_config(),
                "shards": sorted(
                    (e for e in entries if e is not None), key=lambda e: e["row_start"]
                ),
            }
            previous = _read_manifest(target) if (target / _MANIFEST).exists() else None
            atomic_write_bytes(target / _MANIFEST, json.dumps(manifest, indent=2).encode())
            keep = {e["file"] for e in manifest["shards"]}
            if previous is not None:
                for old in previous["shards"]:
                    if old["file"] not in keep:
                        (target / old["file"]).unlink(missing_ok=True)
        dist.barrier(group=self.process_group)

    def _global_rank(self, group_rank: int) -> int:
        if self.process_group is None:
            return group_rank
        return dist.get_global_rank(self.process_group, group_rank)

    def _optimizer_config(self) -> dict[str, Any]:
        assert self.optimizer is not None
        opt = self.optimizer
        return {
            "rule": opt.rule,
            "step": int(opt.step),
            "lr": opt.lr,
            "eps": opt.eps,
            "betas": list(opt.betas),
            "lr_decay": opt.lr_decay,
            "initial_accumulator_value": opt.initial_accumulator_value,
        }

    @torch.no_grad()
    def load(self, directory: str | os.PathLike[str]) -> None:
        """Load a checkpoint written by :meth:`save` with any world size (a collective).

        Each rank reads only the rows it owns, from whichever shard files hold them, with their
        optimizer state when this layer has a ``RowOptimizer`` of the same rule.

        Raises:
            VectorFormatError: the manifest or a shard is malformed or missing rows.
            ShapeError: the checkpoint's table has another shape than this layer.
        """
        from safetensors import safe_open

        target = Path(directory)
        manifest = _read_manifest(target)
        shape = (manifest["num_embeddings"], manifest["embedding_dim"])
        if shape != (self.num_embeddings, self.embedding_dim):
            raise ShapeError(
                f"the checkpoint in {os.fspath(target)!r} holds a {shape[0]} x {shape[1]} table; "
                f"this layer is {self.num_embeddings} x {self.embedding_dim}"
            )
        names = ["weight"]
        saved_opt = manifest.get("optimizer")
        if self.optimizer is not None:
            if saved_opt is None or saved_opt.get("rule") != self.optimizer.rule:
                raise VectorFormatError(
                    f"the checkpoint in {os.fspath(target)!r} has optimizer state "
                    f"{None if saved_opt is None else saved_opt.get('rule')!r}, "
                    f"this layer's optimizer is {self.optimizer.rule!r}"
                )
            names += [f"optimizer.{n}" for n, _ in self.optimizer.named_buffers() if n != "step"]
        pieces: dict[str, list[torch.Tensor]] = {n: [] for n in names}
        covered = self.row_start
        for shard in sorted(manifest["shards"], key=lambda s: s["row_start"]):
            lo, hi = max(shard["row_start"], self.row_start), min(shard["row_stop"], self.row_stop)
            if lo >= hi:
                continue
            if lo != covered:
                break
            path = target / shard["file"]
            try:
                with safe_open(str(path), framework="pt") as handle:  # type: ignore[no-untyped-call]
                    for name in names:
                        rows = handle.get_slice(name)
                        pieces[name].append(rows[lo - shard["row_start"] : hi - shard["row_start"]])
            except (OSError, KeyError) as err:
                raise VectorFormatError(
                    f"cannot read shard {os.fspath(path)!r} of the checkpoint: {err}"
                ) from None
            covered = hi
        if covered != self.row_stop:
            raise VectorFormatError(
                f"the checkpoint in {os.fspath(target)!r} has no rows "
                f"{covered}..{self.row_stop - 1}"
            )
        local = self.row_stop - self.row_start
        weight = (
            torch.cat(pieces["weight"])
            if pieces["weight"]
            else torch.empty((0, self.embedding_dim))
        )
        self.weight.copy_(weight.reshape(local, self.embedding_dim).to(self.weight))
        if self.optimizer is not None:
            assert saved_opt is not None
            for name, buffer in self.optimizer.named_buffers():
                if name == "step":
                    buffer.fill_(int(saved_opt["step"]))
                    continue
                parts = pieces[f"optimizer.{name}"]
                value = torch.cat(parts) if parts else buffer.new_empty(buffer.shape)
                buffer.copy_(value.reshape(buffer.shape).to(buffer))

    def extra_repr(self) -> str:
        text = (
            f"{self.num_embeddings}, {self.embedding_dim}, sharding={self.sharding!r}, "
            f"rows={self.row_start}..{self.row_stop - 1} on rank {self.rank} of {self.world_size}"
        )
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        if self.sparse:
            text += ", sparse=True"
        return text


def _read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / _MANIFEST
    try:
        document = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise VectorFormatError(
            f"{os.fspath(directory)!r} holds no sharded checkpoint (no {_MANIFEST})"
        ) from None
    except (ValueError, RecursionError) as err:
        raise VectorFormatError(f"{os.fspath(path)!r} is not valid JSON: {err}") from None
    ok = (
        isinstance(document, dict)
        and document.get("format") == _FORMAT
        and isinstance(document.get("num_embeddings"), int)
        and isinstance(document.get("embedding_dim"), int)
        and isinstance(document.get("shards"), list)
        and all(
            isinstance(s, dict)
            and isinstance(s.get("file"), str)
            and "/" not in s["file"]
            and isinstance(s.get("row_start"), int)
            and isinstance(s.get("row_stop"), int)
            for s in document["shards"]
        )
    )
    if not ok:
        raise VectorFormatError(f"{os.fspath(path)!r} is not an embtable sharded-table manifest")
    return document


def _check_table_names(tables: Any) -> None:
    """Each name must name a ``ModuleDict`` entry and a checkpoint folder under ``save``'s."""
    if not isinstance(tables, Mapping):
        raise OptionTypeError(
            f"tables must be a mapping of name -> ShardedEmbeddingBag arguments, "
            f"got {type(tables).__name__}"
        )
    container = torch.nn.ModuleDict()
    for name in tables:
        if not isinstance(name, str):
            raise OptionTypeError(f"table names must be strings, got {name!r}")
        if not name or any(c in name for c in "./\\"):
            raise OptionError(
                f"table name {name!r} must be non-empty and hold no '.', '/' or '\\' "
                "(it names a submodule and a checkpoint folder)"
            )
        if hasattr(container, name):
            raise OptionError(
                f"table name {name!r} clashes with the attribute torch.nn.ModuleDict.{name} "
                f"(the tables are a ModuleDict); rename it, e.g. {name + '_table'!r}"
            )


def _as_ids_tensor(value: Any, what: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        value = torch.as_tensor(np.asarray(value))
    return value


def _validate(check: Any) -> EmbtableError | None:
    try:
        check()
    except EmbtableError as err:
        return err
    return None


class ShardedEmbedding(_ShardedBase):
    """``torch.nn.Embedding`` whose rows are spread over the ranks of a process group.

    Args:
        num_embeddings: ``V``, rows of the whole table.
        embedding_dim: ``D``.
        padding_idx: as in ``nn.Embedding``: the row gets no gradient (it starts at zero).
        sparse: give the shard a sparse COO gradient (for ``torch.optim.SparseAdam`` / ``SGD``).
        optimizer: a fresh :class:`~embtable.torch.RowOptimizer` applied by the owners in the
            backward (no gradient tensor; ``weight.grad`` stays ``None``).
        sharding: ``"row"`` (contiguous blocks of rows per rank) or ``"table"`` (all rows on
            ``owner``).
        owner: the owning rank with ``sharding="table"``.
        process_group: the group to shard over (default: the world).
        dtype, device: of the shard (float32 or float64).
        seed: the initial N(0, 1) table is drawn in seeded chunks of rows, the same table for
            every world size (see :meth:`initial_table`).
        _weight: the whole initial table (the same on every rank); each rank keeps its rows.

    ``max_norm`` and ``scale_grad_by_freq`` are not offered: both depend on the whole batch of
    every rank.

    Shape:
        ids of any shape ``[*]`` (int32/int64, each rank its own batch) → ``[*, D]``.

    Example:
        >>> import tempfile, torch, torch.distributed as dist
        >>> folder = tempfile.TemporaryDirectory()
        >>> started = not dist.is_initialized()  # a world of one process; the tests run 2 and 3
        >>> if started:
        ...     dist.init_process_group(
        ...         "gloo", init_method=f"file://{folder.name}/store", rank=0, world_size=1
        ...     )
        >>> emb = ShardedEmbedding(10, 4, padding_idx=0)
        >>> emb
        ShardedEmbedding(10, 4, sharding='row', rows=0..9 on rank 0 of 1, padding_idx=0)
        >>> emb.weight.shape  # this rank's rows: all of them in a world of one
        torch.Size([10, 4])
        >>> ids = torch.tensor([[1, 2], [2, 0]])
        >>> torch.equal(emb(ids), torch.nn.functional.embedding(ids, emb.initial_table()))
        True
        >>> if started:
        ...     dist.destroy_process_group()
        >>> folder.cleanup()
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        *,
        sparse: bool = False,
        optimizer: RowOptimizer | None = None,
        sharding: Sharding = "row",
        owner: int = 0,
        process_group: dist.ProcessGroup | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
        seed: int = 0,
        _weight: torch.Tensor | None = None,
    ) -> None:
        super().__init__(
            num_embeddings,
            embedding_dim,
            padding_idx=padding_idx,
            sparse=sparse,
            optimizer=optimizer,
            sharding=sharding,
            owner=owner,
            process_group=process_group,
            dtype=dtype,
            device=device,
            seed=seed,
            _weight=_weight,
        )

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """Look up this rank's ``input`` ids (any shape) in the sharded table (a collective).

        Raises:
            EmbeddingIndexError: an id of this rank lies outside ``0 .. V - 1``.
            DistributedError: another rank's ids were bad (raised on every other rank).

        Example:
            >>> import tempfile, torch, torch.distributed as dist
            >>> folder = tempfile.TemporaryDirectory()
            >>> started = not dist.is_initialized()  # a world of one process; the tests run 2 and 3
            >>> if started:
            ...     dist.init_process_group(
            ...         "gloo", init_method=f"file://{folder.name}/store", rank=0, world_size=1
            ...     )
            >>> emb = ShardedEmbedding(10, 2, padding_idx=0, sparse=True,
            ...                        _weight=torch.arange(20.0).reshape(10, 2))
            >>> out = emb(torch.tensor([[1, 2], [2, 0]]))
            >>> out.detach()
            tensor([[[2., 3.],
                     [4., 5.]],
            <BLANKLINE>
                    [[4., 5.],
                     [0., 1.]]])
            >>> out.sum().backward()  # the owners get the row gradients (none for padding)
            >>> emb.weight.grad.to_dense()[:3]
            tensor([[0., 0.],
                    [1., 1.],
                    [2., 2.]])
            >>> if started:
            ...     dist.destroy_process_group()
            >>> folder.cleanup()
        """
        ids = _as_ids_tensor(input, "input")
        error = _validate(lambda: NF.check_ids(ids.detach().cpu().numpy(), self.num_embeddings))
        fetched, inverse, padding = self._fetch(ids, error)
        out = TF.embedding(inverse.reshape(ids.shape), fetched, padding_idx=padding)
        return out


class ShardedEmbeddingBag(_ShardedBase):
    """``torch.nn.EmbeddingBag`` whose rows are spread over the ranks of a process group.

    Takes :class:`ShardedEmbedding`'s arguments plus ``mode`` (``"sum"``, ``"mean"``,
    ``"max"``) and ``include_last_offset``; the forward takes ``(input, offsets,
    per_sample_weights)`` as ``nn.EmbeddingBag`` does, each rank its own bags.

    Example:
        >>> import tempfile, torch, torch.distributed as dist
        >>> folder = tempfile.TemporaryDirectory()
        >>> started = not dist.is_initialized()  # a world of one process; the tests run 2 and 3
        >>> if started:
        ...     dist.init_process_group(
        ...         "gloo", init_method=f"file://{folder.name}/store", rank=0, world_size=1
        ...     )
        >>> from embtable.torch import RowOptimizer
        >>> bag = ShardedEmbeddingBag(10, 4, mode="sum",
        ...                           optimizer=RowOptimizer("rowwise_adagrad", lr=0.1))
        >>> out = bag(torch.tensor([1, 2, 2, 7]), torch.tensor([0, 3]))
        >>> out.shape
        torch.Size([2, 4])
        >>> out.sum().backward()          # the owner of each row steps it; no .grad
        >>> bag.weight.grad is None
        True
        >>> if started:
        ...     dist.destroy_process_group()
        >>> folder.cleanup()
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        mode: str = "mean",
        *,
        padding_idx: int | None = None,
        include_last_offset: bool = False,
        sparse: bool = False,
        optimizer: RowOptimizer | None = None,
        sharding: Sharding = "row",
        owner: int = 0,
        process_group: dist.ProcessGroup | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
        seed: int = 0,
        _weight: torch.Tensor | None = None,
    ) -> None:
        NF.check_mode(mode, sparse=sparse, scale_grad_by_freq=False)
        super().__init__(
            num_embeddings,
            embedding_dim,
            padding_idx=padding_idx,
            sparse=sparse,
            optimizer=optimizer,
            sharding=sharding,
            owner=owner,
            process_group=process_group,
            dtype=dtype,
            device=device,
            seed=seed,
            _weight=_weight,
        )
        self.mode = mode
        self.include_last_offset = bool(include_last_offset)

    def forward(
        self,
        input: torch.Tensor,
        offsets: torch.Tensor | None = None,
        per_sample_weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Pool this rank's bags (``input`` and ``offsets`` as in ``nn.EmbeddingBag``, or a 2-D
        ``input`` of equal bags) from the sharded table (a collective).

        Raises:
            BagIndexError: an id of this rank lies outside ``0 .. V - 1``.
            OffsetsError: this rank's offsets are malformed.
            DistributedError: another rank's batch was bad (raised on every other rank).

        Example:
            >>> import tempfile, torch, torch.distributed as dist
            >>> folder = tempfile.TemporaryDirectory()
            >>> started = not dist.is_initialized()  # a world of one process; the tests run 2 and 3
            >>> if started:
            ...     dist.init_process_group(
            ...         "gloo", init_method=f"file://{folder.name}/store", rank=0, world_size=1
            ...     )
            >>> bag = ShardedEmbeddingBag(10, 2, mode="sum",
            ...                           _weight=torch.arange(20.0).reshape(10, 2))
            >>> out = bag(torch.tensor([1, 2, 2, 7]), torch.tensor([0, 3]),
            ...           per_sample_weights=torch.tensor([1.0, 0.5, 0.5, 2.0]))
            >>> out.detach()
            tensor([[ 6.,  8.],
                    [28., 30.]])
            >>> bag(torch.tensor([[1, 2], [7, 7]])).shape  # two bags of two
            torch.Size([2, 2])
            >>> if started:
            ...     dist.destroy_process_group()
            >>> folder.cleanup()
        """
        ids = _as_ids_tensor(input, "input")
        offsets_t = None if offsets is None else _as_ids_tensor(offsets, "offsets")

        def check() -> None:
            NF.plan_bags(
                ids.detach().cpu().numpy(),
                self.num_embeddings,
                None if offsets_t is None else offsets_t.detach().cpu().numpy(),
                mode=self.mode,
                per_sample_weights=None
                if per_sample_weights is None
                else per_sample_weights.detach().cpu().numpy(),
                include_last_offset=self.include_last_offset,
                padding_idx=self.padding_idx,
                sparse=self.sparse,
                weight_dtype=np.float32 if self.weight.dtype == torch.float32 else np.float64,
            )

        fetched, inverse, padding = self._fetch(ids, _validate(check))
        out = TF.embedding_bag(
            inverse.reshape(ids.shape),
            fetched,
            None if offsets_t is None else offsets_t.to(self._device),
            mode=self.mode,
            per_sample_weights=per_sample_weights,
            include_last_offset=self.include_last_offset,
            padding_idx=padding,
        )
        return out


class ShardedEmbeddingBagCollection(torch.nn.Module):
    """Several bag tables sharded together: table-wise (each table whole on one rank, the
    largest tables spread first) or row-wise (every table over every rank).

    Args:
        tables: name → keyword arguments of :class:`ShardedEmbeddingBag` (``num_embeddings``,
            ``embedding_dim``, ``mode``, ``optimizer``, ...).
        sharding: ``"table"`` or ``"row"``.
        process_group: the group (default: the world).

    The forward takes name → ``(input, offsets)`` (or ``(input, offsets, per_sample_weights)``)
    for every table and returns name → pooled ``(B, D)``; every rank passes every table (an
    empty batch is fine).

    Raises:
        OptionError: a table name cannot name a submodule and a checkpoint folder (empty, with
            ``.``, ``/`` or ``\\``, or a ``torch.nn.ModuleDict`` attribute such as ``items``).

    Example:
        >>> import tempfile, torch, torch.distributed as dist
        >>> folder = tempfile.TemporaryDirectory()
        >>> started = not dist.is_initialized()  # a world of one process; the tests run 2 and 3
        >>> if started:
        ...     dist.init_process_group(
        ...         "gloo", init_method=f"file://{folder.name}/store", rank=0, world_size=1
        ...     )
        >>> from embtable.torch import RowOptimizer
        >>> tables = ShardedEmbeddingBagCollection({
        ...     "user": {"num_embeddings": 100, "embedding_dim": 4, "mode": "sum"},
        ...     "item": {"num_embeddings": 50, "embedding_dim": 8,
        ...              "optimizer": RowOptimizer("rowwise_adagrad", lr=0.1)},
        ... })
        >>> tables.tables["user"]
        ShardedEmbeddingBag(100, 4, sharding='table', rows=0..99 on rank 0 of 1)
        >>> out = tables({"user": (torch.tensor([3, 99, 5]), torch.tensor([0, 2])),
        ...               "item": (torch.tensor([7]), torch.tensor([0]))})
        >>> {name: tuple(pooled.shape) for name, pooled in out.items()}
        {'user': (2, 4), 'item': (1, 8)}
        >>> if started:
        ...     dist.destroy_process_group()
        >>> folder.cleanup()
    """

    def __init__(
        self,
        tables: Mapping[str, Mapping[str, Any]],
        *,
        sharding: Sharding = "table",
        process_group: dist.ProcessGroup | None = None,
    ) -> None:
        super().__init__()
        _check_table_names(tables)
        _, world = _group_rank_world(process_group)
        load = [0] * world
        owners: dict[str, int] = {}
        by_size = sorted(
            tables,
            key=lambda n: -int(tables[n]["num_embeddings"]) * int(tables[n]["embedding_dim"]),
        )
        for name in by_size:
            rank = min(range(world), key=lambda r: (load[r], r))
            owners[name] = rank
            load[rank] += int(tables[name]["num_embeddings"]) * int(tables[name]["embedding_dim"])
        self.tables = torch.nn.ModuleDict(
            {
                name: ShardedEmbeddingBag(
                    **dict(spec),
                    sharding=sharding,
                    owner=owners[name],
                    process_group=process_group,
                )
                for name, spec in tables.items()
            }
        )

    def forward(
        self, batches: Mapping[str, Sequence[torch.Tensor | None]]
    ) -> dict[str, torch.Tensor]:
        """Pool each table's bags: name → ``(input, offsets[, per_sample_weights])`` in, name →
        ``(B, D)`` out (a collective: every rank names every table).

        Raises:
            OptionError: ``batches`` does not name every table exactly.

        Example:
            >>> import tempfile, torch, torch.distributed as dist
            >>> folder = tempfile.TemporaryDirectory()
            >>> started = not dist.is_initialized()  # a world of one process; the tests run 2 and 3
            >>> if started:
            ...     dist.init_process_group(
            ...         "gloo", init_method=f"file://{folder.name}/store", rank=0, world_size=1
            ...     )
            >>> tables = ShardedEmbeddingBagCollection({
            ...     "user": {"num_embeddings": 10, "embedding_dim": 2, "mode": "sum",
            ...              "_weight": torch.arange(20.0).reshape(10, 2)},
            ...     "item": {"num_embeddings": 5, "embedding_dim": 2, "mode": "max",
            ...              "_weight": torch.ones(5, 2)},
            ... })
            >>> nothing = torch.tensor([], dtype=torch.long)
            >>> out = tables({"user": (torch.tensor([1, 2, 3]), torch.tensor([0, 1])),
            ...               "item": (nothing, nothing)})
            >>> out["user"].detach()
            tensor([[ 2.,  3.],
                    [10., 12.]])
            >>> out["item"].shape  # an empty batch: no bags
            torch.Size([0, 2])
            >>> tables({"user": (torch.tensor([1]), torch.tensor([0]))})
            Traceback (most recent call last):
            ...
            embtable._errors.OptionError: the batch must name every table exactly: missing \
['item'], unknown []
            >>> if started:
            ...     dist.destroy_process_group()
            >>> folder.cleanup()
        """
        missing = sorted(set(self.tables) - set(batches))
        extra = sorted(set(batches) - set(self.tables))
        if missing or extra:
            raise OptionError(
                f"the batch must name every table exactly: missing {missing}, unknown {extra}"
            )
        return {name: self.tables[name](*batches[name]) for name in self.tables}

    def save(self, directory: str | os.PathLike[str]) -> None:
        """One checkpoint directory per table under ``directory`` (a collective).

        Example:
            >>> import tempfile, torch, torch.distributed as dist
            >>> folder = tempfile.TemporaryDirectory()
            >>> started = not dist.is_initialized()  # a world of one process; the tests run 2 and 3
            >>> if started:
            ...     dist.init_process_group(
            ...         "gloo", init_method=f"file://{folder.name}/store", rank=0, world_size=1
            ...     )
            >>> import os
            >>> tables = ShardedEmbeddingBagCollection({
            ...     "user": {"num_embeddings": 10, "embedding_dim": 2},
            ...     "item": {"num_embeddings": 5, "embedding_dim": 2},
            ... })
            >>> tables.save(f"{folder.name}/checkpoint")
            >>> sorted(os.listdir(f"{folder.name}/checkpoint"))
            ['item', 'user']
            >>> [name for name in sorted(os.listdir(f"{folder.name}/checkpoint/user"))
            ...  if not name.startswith("shard-")]
            ['manifest.json']
            >>> if started:
            ...     dist.destroy_process_group()
            >>> folder.cleanup()
        """
        for name, table in self.tables.items():
            table.save(Path(directory) / name)

    def load(self, directory: str | os.PathLike[str]) -> None:
        """Load :meth:`save`'s checkpoint into any world size (a collective).

        Example:
            >>> import tempfile, torch, torch.distributed as dist
            >>> folder = tempfile.TemporaryDirectory()
            >>> started = not dist.is_initialized()  # a world of one process; the tests run 2 and 3
            >>> if started:
            ...     dist.init_process_group(
            ...         "gloo", init_method=f"file://{folder.name}/store", rank=0, world_size=1
            ...     )
            >>> from embtable.torch import RowOptimizer
            >>> spec = {"user": {"num_embeddings": 10, "embedding_dim": 2, "mode": "sum",
            ...                  "optimizer": RowOptimizer("rowwise_adagrad", lr=0.1)}}
            >>> trained = ShardedEmbeddingBagCollection(spec)
            >>> out = trained({"user": (torch.tensor([1, 2]), torch.tensor([0]))})
            >>> out["user"].sum().backward()  # one rowwise_adagrad step on rows 1 and 2
            >>> trained.save(f"{folder.name}/checkpoint")
            >>> spec["user"]["optimizer"] = RowOptimizer("rowwise_adagrad", lr=0.1)
            >>> resumed = ShardedEmbeddingBagCollection(spec, sharding="row")
            >>> resumed.load(f"{folder.name}/checkpoint")  # rows and optimizer state
            >>> user = resumed.tables["user"]
            >>> torch.equal(user.weight, trained.tables["user"].weight), int(user.optimizer.step)
            (True, 1)
            >>> if started:
            ...     dist.destroy_process_group()
            >>> folder.cleanup()
        """
        for name, table in self.tables.items():
            table.load(Path(directory) / name)
