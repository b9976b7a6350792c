# ruff: noqa: F401  (every name, private ones included, is re-exported for F.x callers)
"""Embedding semantics on NumPy arrays: every check, then a kernel.

This module is where torch's behaviour is decided: argument checks and their errors, padding,
``max_norm``, bags and their offsets. The layers (:mod:`embtable.layers`) and the PyTorch adapter
(:mod:`embtable.torch`) both call it, so an error has the same type and text on every path. The
loops themselves live in :mod:`embtable.kernels`, which validates nothing.

Every function validates all of its inputs before it writes anything, so a call that raises
mutates nothing (torch's ``max_norm`` renormalises before some of its checks; embtable does not).

Ownership: what a kernel trusts is checked on arrays the caller cannot change. Ids are copied
before they are checked wherever they feed a kernel that does not bound-check them (backward,
``max_norm``, bags); a :class:`BagPlan` keeps read-only copies of its ids, bag bounds and
per-sample weights, backed by immutable memory; :func:`bag_backward` checks the
:class:`BagState` it is given. Weights are never copied.

Layout: :mod:`._checks` (argument checks and ownership), :mod:`._lookup` (``embedding`` and its
backward) and :mod:`._bags` (bag plans, forward, backward and the fused step); every name is
imported here, so ``embtable.functional.x`` is the one way to reach them.
"""

from __future__ import annotations

from ._bags import (
    _BAG,
    _PLAN_KERNEL,
    BagPlan,
    BagState,
    _bag,
    _check_bag_options,
    _check_offsets,
    _check_plan_weight,
    _check_state,
    _freeze_psw,
    _local_table,
    _plan_kernels,
    _psw_shape_error,
    bag_backward,
    bag_forward,
    bag_sizes,
    embedding_bag,
    embedding_bag_backward,
    embedding_bag_rowwise_adagrad_,
    plan_bags,
)
from ._checks import (
    _FLOAT_DTYPES,
    _INT64,
    _KERNEL_ID_DTYPES,
    _MODES,
    _NATIVE_KERNEL_DTYPES,
    _NEW_BYTES,
    _NO_PADDING,
    PADDING_MESSAGES,
    BagMode,
    _as_ids,
    _as_weight,
    _bounds,
    _check_grad_output,
    _check_num_embeddings,
    _check_psw_dtype,
    _compute_dtype,
    _fresh_frozen,
    _frozen,
    _immutable,
    _index_error,
    _kernel_ids,
    check_float_weight,
    check_ids,
    check_max_norm,
    check_mode,
    check_padding_idx,
    check_renormalisable,
)
from ._lookup import (
    _GATHER,
    _gather,
    _gather_dtype,
    _renorm_validated_,
    _scatter,
    embedding,
    embedding_backward,
    embedding_renorm_,
)

__all__ = [
    "BagPlan",
    "BagState",
    "bag_backward",
    "bag_forward",
    "bag_sizes",
    "check_float_weight",
    "check_ids",
    "check_max_norm",
    "check_mode",
    "check_padding_idx",
    "check_renormalisable",
    "embedding",
    "embedding_backward",
    "embedding_bag",
    "embedding_bag_backward",
    "embedding_bag_rowwise_adagrad_",
    "embedding_renorm_",
    "plan_bags",
]
