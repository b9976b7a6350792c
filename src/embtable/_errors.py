"""Every exception embtable raises.

Each class subclasses what torch raises for the same condition, so ``except`` clauses written for
torch keep working, and :class:`EmbtableError` catches them all.
"""

from __future__ import annotations

__all__ = [
    "BagIndexError",
    "CorpusError",
    "DistributedError",
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
    "ShapeError",
    "SparseGradientError",
    "TokenError",
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
    """A backward pass into a weight that does not require gradients, or an in-place optimizer
    step on a read-only weight array."""


class VectorFormatError(EmbtableError, ValueError):
    """A malformed vectors or vocabulary file; the message names the file and line."""


class OptionError(EmbtableError, ValueError):
    """An option or argument has a value outside its valid range (``max_norm=-1``, ``lr=-0.1``,
    ``negative=0``); the message names the option, the value and the valid range."""


class OptionTypeError(EmbtableError, TypeError):
    """An option or argument has the wrong type (a string where a number is needed)."""


class TokenError(EmbtableError, KeyError):
    """A token is not in a vocabulary or vectors table (``KeyError``, as a ``dict`` raises).

    ``str()`` of the error is its message, not the quoted repr ``KeyError`` would print.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()


class OutputError(EmbtableError, OSError):
    """A file cannot be read or written as asked: a FIFO or device where a regular file is
    needed, an output that is not writable, a full disk. The message names the path."""


class CorpusError(EmbtableError, ValueError):
    """A training corpus is malformed: ids out of range, offsets that do not tile the ids,
    an empty or undecodable corpus."""


class DistributedError(EmbtableError, RuntimeError):
    """A collective operation failed on some rank (a bad id on one rank, a timeout, a world
    size a checkpoint cannot be loaded into)."""
