"""embtable: embedding layers with torch-exact semantics on NumPy, and the work around them.

Importing embtable loads NumPy only: the numba kernels compile on first use, and torch is
imported only by :mod:`embtable.torch`.

Example:
    >>> import numpy as np
    >>> import embtable
    >>> emb = embtable.Embedding(10, 3, padding_idx=0, rng=0)
    >>> emb([[0, 2], [5, 0]]).shape
    (2, 2, 3)
"""

from __future__ import annotations

from . import functional, optim
from ._errors import (
    BagIndexError,
    CorpusError,
    DistributedError,
    EmbeddingIndexError,
    EmbtableError,
    FrozenWeightError,
    IdsTypeError,
    ModeError,
    OffsetsError,
    OptionError,
    OptionTypeError,
    OutputError,
    PaddingIndexError,
    ShapeError,
    SparseGradientError,
    TokenError,
    VectorFormatError,
    WeightDTypeError,
)
from .layers import Embedding, EmbeddingBag
from .parameter import Parameter
from .sparse import RowSparseGrad

__version__ = "0.1.0"

__all__ = [
    "BagIndexError",
    "CorpusError",
    "DistributedError",
    "Embedding",
    "EmbeddingBag",
    "EmbeddingIndexError",
    "EmbtableError",
    "FrozenWeightError",
    "IdsTypeError",
    "ModeError",
    "OffsetsError",
    "OptionError",
    "OptionTypeError",
    "OutputError",
    "PaddingIndexError",
    "Parameter",
    "RowSparseGrad",
    "ShapeError",
    "SparseGradientError",
    "TokenError",
    "VectorFormatError",
    "WeightDTypeError",
    "__version__",
    "functional",
    "optim",
]
