"""PyTorch drop-in: ``torch.nn.Embedding`` / ``EmbeddingBag`` on embtable's kernels.

Replace ``torch.nn.Embedding`` by ``embtable.torch.Embedding`` (and ``EmbeddingBag``,
``torch.nn.functional.embedding`` / ``embedding_bag`` by :mod:`embtable.torch.functional`) and
nothing else changes: constructor, attributes, initialisation (bitwise torch's for the same seed),
``repr``, ``state_dict`` (exchangeable both ways with torch's modules), autograd (dense and sparse
COO gradients that torch's ``SGD``, ``SparseAdam`` and ``Adagrad`` accept, ``no_grad``,
``inference_mode``, ``gradcheck``, double backward of ``Embedding``, per-sample-weight gradients),
``max_norm`` as an in-place update that torch's version counter sees, ``deepcopy`` and pickling.

How it works: CPU tensors of float16/float32/float64 are viewed as NumPy arrays without copying,
and a ``torch.autograd.Function`` calls :mod:`embtable.functional` (checks and numba kernels).
Anything else (CUDA, MPS, meta, bfloat16, which NumPy lacks, integer or complex tables, tensor
subclasses, ``torch.func`` transforms, forward-mode AD) takes a torch-ops path with the same
semantics and embtable's validation (:func:`~embtable.torch.functional.uses_kernels` tells which).
``torch.jit.script`` is not supported on the kernel path; ``torch.jit.trace`` is: while it
records, calls go through torch ops or embtable's custom ops, so a traced module (trainable,
frozen, under ``no_grad`` or ``inference_mode``) follows its input. Batched gradients work on
every path: ``torch.autograd.grad(..., is_grads_batched=True)``, ``gradcheck`` /
``gradgradcheck`` with ``check_batched_grad=True``, ``torch.func.vmap``, ``jacrev`` and (for
``Embedding``; torch's ``embedding_bag`` has none) ``jacfwd`` and forward-mode AD; a batched
gradient of a sparse layer is returned dense, and a layer with a fused optimizer refuses one.
To route an unmodified model through embtable, see :func:`patch` and :func:`convert`.
Under ``torch.compile`` (also ``fullgraph=True``), ``Embedding`` with a dense gradient
(``padding_idx``, ``scale_grad_by_freq``, ``max_norm``) and ``EmbeddingBag`` in sum/mean/max
with a dense gradient run as torch custom ops (``embtable::*``, :mod:`embtable.torch._ops`); sparse
gradients, fused optimizers and bag ``max_norm`` / ``per_sample_weights`` run eagerly behind a graph
break.

Update-in-backward: ``Embedding(V, D, optimizer=RowOptimizer("adagrad", lr=0.1))`` applies
the optimizer to the touched rows inside the backward (SGD, Adagrad, row-wise Adagrad, lazy Adam),
never materialises a weight gradient, and keeps its state as buffers in the module's
``state_dict`` (``optimizer.*``). See :class:`RowOptimizer`.

Differences from torch (deliberate; each is pinned by ``tests/torch/divergences.py``):

- ``sparse=True`` with ``scale_grad_by_freq=True`` works (torch raises at backward).
- EmbeddingBag ``scale_grad_by_freq`` divides by each id's real count (torch's CPU kernel uses
  the count of another id, pytorch#190063).
- ``per_sample_weights`` work in ``mode='mean'``: weighted sum over the non-padding count
  (torch raises ``NotImplementedError``).
- Every check runs before anything is written: with ``max_norm``, a call that raises (bad id,
  bad mode, bad offsets) leaves the weight untouched (torch renormalises first).
- Negative ids are never wrapped, also with ``max_norm`` (torch's renorm wraps -1 and modifies
  the last row before raising).
- ``max_norm < 0`` raises ``ValueError`` (torch flips the rows' signs).
- EmbeddingBag offsets are validated completely (non-decreasing and in bounds); torch leaves
  decreasing offsets undefined. With ``include_last_offset`` a last offset below
  ``len(input)`` ends the last bag there, as in torch (pytorch#89677).
- Error types are torch's (``IndexError`` for Embedding ids, ``RuntimeError`` for bag ids,
  ``AssertionError`` for ``padding_idx``, ...) via embtable's subclasses; the messages are
  embtable's (they name the bad value, its position and the valid range) and end with torch's
  phrase (``index out of range in self``, ``Expected idx >= 0 && idx < num_embeddings``,
  ``Long, Int``); an out-of-range EmbeddingBag ``padding_idx`` in ``F.embedding_bag`` is also
  an ``AssertionError``.
- Ids of any integer dtype are accepted (torch: int32/int64 only).
- The double backward of ``Embedding`` with ``scale_grad_by_freq`` is the true adjoint (torch's
  ignores the scaling); the sparse gradient is differentiable as a dense adjoint.
- 2-D EmbeddingBag input with zero columns gives empty bags (torch: "step must be nonzero").
- With ``include_last_offset`` and ``offsets[-1] < len(input)``, the last bag runs to the end of
  ``input`` on every path (torch's ``padding_idx`` and max kernels, and its test for
  pytorch#89677; its sum and mean kernels without ``padding_idx`` disagree with each other).
- The sparse gradient the backward returns has sorted unique rows and is flagged coalesced
  (torch's is not; ``.grad`` loses the flag when autograd accumulates it, the rows stay
  unique); the values are the same after
  ``.coalesce()``, and torch's optimizers accept both.
- ``per_sample_weights`` need not have the weight's dtype (torch raises ``RuntimeError``).

Example:
    >>> import torch
    >>> import embtable.torch as et
    >>> _ = torch.manual_seed(0)
    >>> emb = et.Embedding(10, 3, padding_idx=0, sparse=True)
    >>> out = emb(torch.tensor([[0, 2], [2, 5]]))
    >>> out.sum().backward()
    >>> emb.weight.grad.coalesce().indices()
    tensor([[2, 5]])
"""

from __future__ import annotations

from typing import Any

try:
    import torch as _torch  # noqa: F401
except ModuleNotFoundError as error:  # pragma: no cover - exercised in a subprocess
    if error.name != "torch":
        raise
    raise ModuleNotFoundError(
        "embtable.torch needs PyTorch, which is not installed; install it with "
        "`pip install 'embtable[torch]'` (or see https://pytorch.org for a CUDA build)",
        name="torch",
    ) from error

from . import functional
from ._optim import RowOptimizer
from ._patch import convert, patch
from .modules import Embedding, EmbeddingBag

__all__ = [
    "Embedding",
    "EmbeddingBag",
    "HashEmbedding",
    "IndexedEmbedding",
    "QuotientRemainderEmbedding",
    "RowOptimizer",
    "SubwordEmbedding",
    "TextEmbedding",
    "convert",
    "functional",
    "patch",
]

# Pulled in on first use: TextEmbedding needs the text and I/O stack, the subword layers their
# hashing kernels.
_LAZY = {
    "TextEmbedding": ".text",
    "HashEmbedding": ".subword",
    "IndexedEmbedding": ".subword",
    "QuotientRemainderEmbedding": ".subword",
    "SubwordEmbedding": ".subword",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
