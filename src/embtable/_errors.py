"""Every exception embtable raises.

Each class subclasses what torch raises for the same condition, so ``except`` clauses written for
torch keep working, and :class:`EmbtableError` catches them all.
"""

from __future__ import annotations

__all__ = [
    "BagIndexError",
    "EmbeddingIndexError",
    "EmbtableError",
    "FrozenWeightError",
    "IdsTypeError",
    "ModeError",
    "OffsetsError",
    "PaddingIndexError",
    "ShapeError",
    "SparseGradientError",
    "VectorFormatError",
    "WeightDTypeError",
]


class EmbtableError(Exception):
    """Base class of every error embtable raises on purpose."""


class EmbeddingIndexError(EmbtableError, IndexError, RuntimeError):
    """An id lies outside ``0 .. num_embeddings - 1``.

    torch raises ``IndexError`` (and ``RuntimeError`` for a lookup into a 0-row table); this
    class is both.
    """


class BagIndexError(EmbeddingIndexError):
    """An ``EmbeddingBag`` id is out of range (torch raises ``RuntimeError`` there)."""


class PaddingIndexError(EmbtableError, ValueError, AssertionError, RuntimeError):
    """``padding_idx`` lies outside ``-V .. V - 1``.

    torch raises ``AssertionError`` from the modules and ``RuntimeError`` from
    ``F.embedding_bag``; this class is both, and a ``ValueError``.
    """


class ShapeError(EmbtableError, ValueError, AssertionError, RuntimeError):
    """An array or size has the wrong shape.

    torch asserts on ``_weight`` and ``from_pretrained`` shapes and raises ``RuntimeError`` for a
    negative size or a weight that is not 2-D; this class is all of those.
    """


class IdsTypeError(EmbtableError, TypeError, RuntimeError):
    """Ids are not integers (torch raises ``RuntimeError`` naming 'indices')."""


class WeightDTypeError(EmbtableError, TypeError, RuntimeError):
    """A weight's dtype cannot do what was asked, e.g. train an integer table."""


class OffsetsError(EmbtableError, ValueError, RuntimeError):
    """``EmbeddingBag`` offsets are missing, misshapen, decreasing or out of bounds."""


class ModeError(EmbtableError, ValueError, NotImplementedError):
    """An ``EmbeddingBag`` mode, or an option that the mode does not support."""


class SparseGradientError(EmbtableError, RuntimeError):
    """A gradient layout an optimizer cannot take (e.g. ``SparseAdam`` with a dense gradient)."""


class FrozenWeightError(EmbtableError, RuntimeError):
    """A backward pass into a weight that does not require gradients."""


class VectorFormatError(EmbtableError, ValueError):
    """A malformed vectors or vocabulary file; the message names the file and line."""
