"""Optimizers for :class:`~embtable.parameter.Parameter` tables, with torch's API and arithmetic.

The framework (param groups, state, checks, state dicts) is :mod:`embtable.optim._framework`;
each rule's optimizer is one module (:mod:`~embtable.optim.sgd`, :mod:`~embtable.optim.adagrad`,
:mod:`~embtable.optim.adam`, :mod:`~embtable.optim.rowwise_adagrad`), and the row-sparse update
rules they run (state layout, checks, kernel scalars, numba kernel and NumPy twin) are one table,
:data:`embtable.optim._rules.RULES`, shared with :class:`embtable.torch.RowOptimizer`.
See :mod:`embtable.optim._framework` for the differences from torch.
"""

from __future__ import annotations

from ._framework import Optimizer, StateFactory  # noqa: F401  (StateFactory: a type users annotate with)
from ._framework import __doc__ as _framework_doc
from .adagrad import Adagrad
from .adam import Adam, AdamW, SparseAdam
from .rowwise_adagrad import RowwiseAdagrad
from .sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RowwiseAdagrad", "SparseAdam"]
__doc__ = (__doc__ or "") + "\n" + (_framework_doc or "")
