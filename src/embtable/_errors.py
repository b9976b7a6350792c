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
    """Base class of every error embtable raises on purpose.

    Example:
        >>> import numpy as np
        >>> from embtable import Embedding
        >>> try:
        ...     Embedding(3, 2)(np.array([0, 7]))
        ... except EmbtableError as err:
        ...     print(type(err).__name__)
        EmbeddingIndexError
    """


class EmbeddingIndexError(EmbtableError, IndexError, RuntimeError):
    """An id lies outside ``0 .. num_embeddings - 1``.

    torch raises ``IndexError`` (and ``RuntimeError`` for a lookup into a 0-row table); this
    class is both.

    Example:
        >>> import numpy as np
        >>> from embtable import Embedding
        >>> Embedding(3, 2)(np.array([[0, 1], [2, 5]]))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        embtable._errors.EmbeddingIndexError: index 5 at position (1, 1) is out of range for an ...
    """


class BagIndexError(EmbeddingIndexError):
    """An ``EmbeddingBag`` id is out of range (torch raises ``RuntimeError`` there).

    Example:
        >>> import numpy as np
        >>> from embtable import EmbeddingBag
        >>> EmbeddingBag(3, 2)(np.array([0, 1, 4]), np.array([0, 2]))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        embtable._errors.BagIndexError: index 4 at position (2,) is out of range for an ...
    """


class PaddingIndexError(EmbtableError, ValueError, AssertionError, RuntimeError):
    """``padding_idx`` lies outside ``-V .. V - 1``.

    torch raises ``AssertionError`` from the modules and ``RuntimeError`` from
    ``F.embedding_bag``; this class is both, and a ``ValueError``.

    Example:
        >>> from embtable import Embedding
        >>> Embedding(3, 2, padding_idx=3)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        embtable._errors.PaddingIndexError: Padding_idx must be within num_embeddings: got 3, ...
    """


class ShapeError(EmbtableError, ValueError, AssertionError, RuntimeError):
    """An array or size has the wrong shape.

    torch asserts on ``_weight`` and ``from_pretrained`` shapes and raises ``RuntimeError`` for a
    negative size or a weight that is not 2-D; this class is all of those.

    Example:
        >>> import numpy as np
        >>> from embtable import Embedding
        >>> Embedding(3, 2, _weight=np.zeros((2, 2)))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        embtable._errors.ShapeError: Shape of weight does not match num_embeddings and ...
    """


class IdsTypeError(EmbtableError, TypeError, RuntimeError):
    """Ids are not integers (torch raises ``RuntimeError`` naming 'indices').

    Example:
        >>> import numpy as np
        >>> from embtable import Embedding
        >>> Embedding(3, 2)(np.array([0.0, 1.0]))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        embtable._errors.IdsTypeError: ids must be an integer array, got float64; convert with ...
    """


class WeightDTypeError(EmbtableError, TypeError, RuntimeError):
    """A weight's dtype cannot do what was asked, e.g. train an integer table.

    Example:
        >>> import numpy as np
        >>> from embtable import Embedding
        >>> int_table = np.arange(6).reshape(3, 2)
        >>> Embedding.from_pretrained(int_table, freeze=False)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        embtable._errors.WeightDTypeError: Only Tensors of floating point and complex dtype can ...
    """


class OffsetsError(EmbtableError, ValueError, RuntimeError):
    """``EmbeddingBag`` offsets are missing, misshapen, decreasing or out of bounds.

    Example:
        >>> import numpy as np
        >>> from embtable import EmbeddingBag
        >>> EmbeddingBag(3, 2)(np.array([0, 1, 2]), np.array([1, 2]))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        embtable._errors.OffsetsError: offsets[0] has to be 0, i.e., the first sequence in the ...
    """


class ModeError(EmbtableError, ValueError, NotImplementedError):
    """An ``EmbeddingBag`` mode, or an option that the mode does not support.

    Example:
        >>> from embtable import EmbeddingBag
        >>> EmbeddingBag(3, 2, mode="median")
        Traceback (most recent call last):
        ...
        embtable._errors.ModeError: mode has to be one of sum, mean or max, got 'median'
    """


class SparseGradientError(EmbtableError, RuntimeError):
    """A gradient layout an optimizer cannot take (e.g. ``SparseAdam`` with a dense gradient).

    Example:
        >>> import numpy as np
        >>> from embtable import RowSparseGrad
        >>> RowSparseGrad(np.array([2, 1]), np.ones((2, 2)), 3)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        embtable._errors.SparseGradientError: a row-sparse gradient: rows must be sorted and ...
    """


class FrozenWeightError(EmbtableError, RuntimeError):
    """A backward pass into a weight that does not require gradients, or an in-place optimizer
    step on a read-only weight array.

    Example:
        >>> import numpy as np
        >>> from embtable import Embedding
        >>> emb = Embedding.from_pretrained(np.arange(6.0).reshape(3, 2))  # freeze=True
        >>> emb.backward(np.array([0, 2]), np.ones((2, 2)))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        embtable._errors.FrozenWeightError: the weight does not require gradients (frozen); set ...
    """


class VectorFormatError(EmbtableError, ValueError):
    """A malformed vectors or vocabulary file; the message names the file and line.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from embtable.vectors import Vectors
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = Path(folder, "glove.txt")
        ...     _ = path.write_text("king 0.5 0.25\\nqueen 0.75\\n")
        ...     Vectors.load(path)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        embtable._errors.VectorFormatError: glove.txt:2: expected 2 numbers after the token ...
    """


class OptionError(EmbtableError, ValueError):
    """An option or argument has a value outside its valid range (``max_norm=-1``, ``lr=-0.1``,
    ``negative=0``); the message names the option, the value and the valid range.

    Example:
        >>> import numpy as np
        >>> from embtable import Parameter, optim
        >>> optim.SGD([Parameter(np.zeros((3, 2)))], lr=-0.1)
        Traceback (most recent call last):
        ...
        embtable._errors.OptionError: Invalid learning rate: -0.1 (expected lr >= 0.0)
    """


class OptionTypeError(EmbtableError, TypeError):
    """An option or argument has the wrong type (a string where a number is needed).

    Example:
        >>> from embtable import Embedding
        >>> Embedding(3, "2")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        embtable._errors.OptionTypeError: embedding_dim must be an integer, got str '2' (valid: ...
    """


class TokenError(EmbtableError, KeyError):
    """A token is not in a vocabulary or vectors table (``KeyError``, as a ``dict`` raises).

    ``str()`` of the error is its message, not the quoted repr ``KeyError`` would print.

    Example:
        >>> import numpy as np
        >>> from embtable.vectors import Vectors
        >>> vectors = Vectors(["king", "queen"], np.eye(2))
        >>> vectors["prince"]
        Traceback (most recent call last):
        ...
        embtable._errors.TokenError: token 'prince' is not among the 2 tokens of these vectors
        >>> try:
        ...     vectors["prince"]
        ... except KeyError as err:  # what a dict lookup raises
        ...     print(err)
        token 'prince' is not among the 2 tokens of these vectors
    """

    def __str__(self) -> str:
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()


class OutputError(EmbtableError, OSError):
    """A file cannot be read or written as asked: a FIFO or device where a regular file is
    needed, an output that is not writable, a full disk. The message names the path.

    Example:
        >>> import tempfile
        >>> import numpy as np
        >>> from pathlib import Path
        >>> from embtable.vectors import Vectors
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     _ = Path(folder, "notes.txt").write_text("keep me")
        ...     Vectors(["a", "b"], np.eye(2)).save(folder)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        embtable._errors.OutputError: [Errno 39] cannot write a table directory at '...': it is ...
    """


class CorpusError(EmbtableError, ValueError):
    """A training corpus is malformed: ids out of range, offsets that do not tile the ids,
    an empty or undecodable corpus.

    Example:
        >>> from embtable.train import Corpus
        >>> Corpus.from_files([])
        Traceback (most recent call last):
        ...
        embtable._errors.CorpusError: Corpus.from_files needs at least one file, got none
    """


class DistributedError(EmbtableError, RuntimeError):
    """A collective operation failed on some rank (a bad id on one rank, a timeout, a world
    size a checkpoint cannot be loaded into).

    ``embtable.torch.distributed`` raises it, for instance when ``ShardedEmbedding`` is built
    before ``torch.distributed.init_process_group``; code written for torch catches it as a
    ``RuntimeError``.

    Example:
        >>> try:
        ...     raise DistributedError("rank 1: id 12 is out of range for shard 1 (rows 5..9)")
        ... except RuntimeError as err:
        ...     print(f"{type(err).__name__}: {err}")
        DistributedError: rank 1: id 12 is out of range for shard 1 (rows 5..9)
    """
