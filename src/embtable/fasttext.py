"""fastText models as vectors: every word gets a vector, seen in training or not.

:class:`FastTextVectors` is a :class:`~embtable.vectors.Vectors` whose rows are the vocabulary's
word vectors (what fastText's ``.vec`` holds: the mean of each word's row and its n-gram rows),
and which also keeps the model's input matrix, so a word outside the vocabulary gets the mean of
its character n-gram rows, as fastText's ``getWordVector`` and gensim's
``load_facebook_model(...).wv[word]`` compute it. Lookups of many words at once are batched
(the n-grams hashed in a compiled kernel, the rows pooled by
:func:`embtable.functional.embedding_bag`).

``word in vectors`` tells vocabulary membership, as for any ``Vectors``; ``vectors[word]`` and
the queries (``most_similar``, ``similarity``) answer for unknown words too. Evaluation
(:mod:`embtable.evaluate`) uses the vocabulary's rows, as for any ``Vectors``.

Example:
    >>> from embtable.fasttext import FastTextVectors
    >>> rng = np.random.default_rng(0)
    >>> model = FastTextVectors(["cat", "dog"], rng.normal(size=(2 + 50, 4)).astype(np.float32),
    ...                         minn=3, maxn=4, bucket=50)
    >>> model
    FastTextVectors(2 words, dim=4, minn=3, maxn=4, bucket=50)
    >>> "cats" in model, model["cats"].shape  # unknown, but its n-grams have rows
    (False, (4,))
    >>> len(model.most_similar("cats", topn=2))  # neighbours of an unknown word
    2
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import functional as F
from ._errors import OptionError, OptionTypeError, ShapeError, TokenError
from .io.fasttext_bin import (
    FastTextArgs,
    FastTextModel,
    read_fasttext_model,
    write_fasttext_model,
)
from .subword import SubwordIndexer, encode_tokens, subword_bags
from .vectors import Vectors

__all__ = ["FastTextVectors"]

_EOS = "</s>"


class FastTextVectors(Vectors):
    """Word vectors of a fastText model, with vectors for unseen words from their n-grams.

    Args:
        tokens: the ``nwords`` words.
        input_matrix: ``(nwords + bucket, D)`` float: the word rows, then the n-gram buckets
            (fastText's input matrix; kept without copying).
        minn, maxn, bucket: the n-grams (see :class:`~embtable.subword.SubwordIndexer`).
        counts: word counts (``(nwords,)``), kept for writing back.
        args: the model's :class:`~embtable.io.fasttext_bin.FastTextArgs` (the other training
            settings), kept for writing back.
        labels: a supervised model's labels.
        output_matrix: the model's output matrix, when read.

    Attributes:
        subwords: the :class:`~embtable.subword.SubwordIndexer` of the model.
        input_matrix, output_matrix, labels, args.

    Raises:
        ShapeError: ``input_matrix`` does not have ``len(tokens) + bucket`` rows.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> vectors = FastTextVectors(
        ...     ["cat", "dog"], rng.random((12, 4), np.float32), minn=3, maxn=3, bucket=10
        ... )
        >>> vectors["cats"].shape, "cats" in vectors.token_to_id  # an unseen word has a vector
        ((4,), False)
    """

    def __init__(
        self,
        tokens: Sequence[str],
        input_matrix: ArrayLike,
        *,
        minn: int = 3,
        maxn: int = 6,
        bucket: int = 2_000_000,
        counts: ArrayLike | None = None,
        args: FastTextArgs | None = None,
        labels: Sequence[str] = (),
        output_matrix: ArrayLike | None = None,
        _word_bytes: Any = None,
    ) -> None:
        tokens = list(tokens)
        inputs = np.asanyarray(input_matrix)
        if inputs.ndim != 2 or inputs.shape[0] != len(tokens) + bucket:
            raise ShapeError(
                f"input_matrix must have shape ({len(tokens)} + {bucket}, D) = (nwords + "
                f"bucket, D), got {inputs.shape}"
            )
        if inputs.dtype.kind != "f":
            raise OptionTypeError(f"input_matrix must be floating, got {inputs.dtype}")
        probe = SubwordIndexer([], minn=minn, maxn=maxn, bucket=bucket)  # checks the options
        nwords = len(tokens)
        if _word_bytes is None:
            _word_bytes = encode_tokens(tokens, marks=True)
        composed = _pool(
            inputs,
            subword_bags(
                *_word_bytes,
                np.arange(nwords, dtype=np.int64),
                np.fromiter((t != _EOS for t in tokens), dtype=np.bool_, count=nwords),
                minn=probe.minn,
                maxn=probe.maxn,
                bucket=probe.bucket,
                nwords=nwords,
            ),
            nwords,
        )
        super().__init__(tokens, composed)
        self.input_matrix = inputs
        self.subwords = SubwordIndexer(self, minn=minn, maxn=maxn, bucket=bucket)
        self.counts = None if counts is None else np.asarray(counts, dtype=np.int64)
        self.args = (
            args
            if args is not None
            else FastTextArgs(dim=int(inputs.shape[1]), bucket=bucket, minn=minn, maxn=maxn)
        )
        self.labels = list(labels)
        self.output_matrix = None if output_matrix is None else np.asarray(output_matrix)

    # -- files ------------------------------------------------------------------------------

    @classmethod
    def from_model(cls, model: FastTextModel) -> FastTextVectors:
        """The vectors of a :class:`~embtable.io.fasttext_bin.FastTextModel` (as read).

        Example:
            >>> rng = np.random.default_rng(0)
            >>> vectors = FastTextVectors(
            ...     ["cat", "dog"], rng.random((12, 4), np.float32), minn=3, maxn=3, bucket=10
            ... )
            >>> FastTextVectors.from_model(vectors.to_model()) == vectors
            True
        """
        args = model.args
        word_counts = None if model.counts is None else model.counts[: len(model.words)]
        vectors = cls(
            model.words,
            model.input_matrix,
            minn=args.minn,
            maxn=args.maxn,
            bucket=args.bucket,
            counts=word_counts,
            args=args,
            labels=model.labels,
            output_matrix=model.output_matrix,
            _word_bytes=model.word_bytes,
        )
        vectors.label_counts = None if model.counts is None else model.counts[len(model.words) :]
        vectors.ntokens = model.ntokens
        return vectors

    @classmethod
    def load_bin(
        cls,
        path: str | os.PathLike[str],
        *,
        output: bool = False,
        mmap: bool = False,
        unicode_errors: str = "strict",
    ) -> FastTextVectors:
        """Read a fastText ``.bin`` model (see
        :func:`embtable.io.fasttext_bin.read_fasttext_model`).

        Raises:
            VectorFormatError: a malformed, truncated or quantized model; names the byte offset.

        Example:
            >>> import os, tempfile
            >>> rng = np.random.default_rng(0)
            >>> vectors = FastTextVectors(
            ...     ["cat", "dog"], rng.random((12, 4), np.float32), minn=3, maxn=3, bucket=10
            ... )
            >>> with tempfile.TemporaryDirectory() as folder:
            ...     path = os.path.join(folder, "model.bin")
            ...     vectors.save_bin(path)
            ...     again = FastTextVectors.load_bin(path)
            >>> again == vectors, again.tokens
            (True, ['cat', 'dog'])
        """
        return cls.from_model(
            read_fasttext_model(path, output=output, mmap=mmap, unicode_errors=unicode_errors)
        )

    def to_model(self) -> FastTextModel:
        """The :class:`~embtable.io.fasttext_bin.FastTextModel` to write (args, words, counts,
        matrices).

        Example:
            >>> rng = np.random.default_rng(0)
            >>> vectors = FastTextVectors(
            ...     ["cat", "dog"], rng.random((12, 4), np.float32), minn=3, maxn=3, bucket=10
            ... )
            >>> model = vectors.to_model()
            >>> model.words, model.input_matrix.shape, model.args.bucket
            (['cat', 'dog'], (12, 4), 10)
        """
        counts = None
        if self.counts is not None:
            label_counts = getattr(self, "label_counts", None)
            if label_counts is None or len(label_counts) != len(self.labels):
                label_counts = np.ones(len(self.labels), dtype=np.int64)
            counts = np.concatenate([self.counts, label_counts])
        elif self.labels:
            counts = np.concatenate(
                [np.arange(len(self), 0, -1), np.ones(len(self.labels))]
            ).astype(np.int64)
        return FastTextModel(
            args=self.args,
            words=list(self.tokens),
            labels=list(self.labels),
            counts=counts,
            ntokens=getattr(self, "ntokens", None),
            input_matrix=self.input_matrix,  # type: ignore[arg-type]
            output_matrix=self.output_matrix,  # type: ignore[arg-type]
        )

    def save_bin(self, path: str | os.PathLike[str]) -> None:
        """Write the model as a fastText ``.bin`` (gensim's ``load_facebook_model`` and
        fastText read it back; without an output matrix a zero one is written).

        Example:
            >>> import os, tempfile
            >>> rng = np.random.default_rng(0)
            >>> vectors = FastTextVectors(
            ...     ["cat", "dog"], rng.random((12, 4), np.float32), minn=3, maxn=3, bucket=10
            ... )
            >>> with tempfile.TemporaryDirectory() as folder:
            ...     vectors.save_bin(os.path.join(folder, "model.bin"))
            ...     os.listdir(folder)
            ['model.bin']
        """
        write_fasttext_model(path, self.to_model())

    # -- lookups ----------------------------------------------------------------------------

    @property
    def has_subwords(self) -> bool:
        """Whether unknown words get vectors (the model has n-gram buckets and ``maxn > 0``)."""
        return self.subwords.bucket > 0 and self.subwords.maxn > 0

    def vectors_for(self, words: Iterable[str]) -> NDArray[np.floating]:
        """The vectors of many words at once, ``(T, D)``: vocabulary rows for known words,
        the mean of the n-gram rows for the others (zeros for a word without n-grams).

        Example:
            >>> model = FastTextVectors(["a"], np.arange(6.0).reshape(3, 2), minn=1, maxn=1,
            ...                         bucket=2)
            >>> model.vectors_for(["a", "zz"]).shape
            (2, 2)
        """
        bags = self.subwords.index(words)
        return _pool(self.input_matrix, bags, len(bags[1]))

    def subword_rows(self, word: str) -> NDArray[np.int64]:
        """The input-matrix rows that make ``word``'s vector (its own row first, if any).

        Example:
            >>> model = FastTextVectors(["ab"], np.zeros((11, 2)), minn=2, maxn=2, bucket=10)
            >>> model.subword_rows("ab")
            array([0, 1, 7, 2])
        """
        rows, _ = self.subwords.index([word])
        return rows

    def _oov_vector(self, token: str) -> NDArray[np.floating]:
        if not self.has_subwords:
            raise TokenError(
                f"token {token!r} is not among the {len(self)} words, and this model has no "
                f"n-gram buckets to build a vector from"
            )
        return self.vectors_for([token])[0]

    def __getitem__(self, token_or_tokens: str | Sequence[str]) -> NDArray[np.floating]:
        """The vector of a word (its row when known, else the mean of its n-gram rows), or the
        ``(n, D)`` vectors of a list of words.

        Raises:
            TokenError: an unknown word and no n-gram buckets (``bucket == 0``).
        """
        if isinstance(token_or_tokens, (list, tuple)):
            if not self.has_subwords:
                return super().__getitem__(token_or_tokens)
            return self.vectors_for(token_or_tokens)
        row = self.token_to_id.get(token_or_tokens)  # type: ignore[call-overload]
        if row is not None:
            return self.matrix[row]
        if not isinstance(token_or_tokens, str):
            return super().__getitem__(token_or_tokens)
        return self._oov_vector(token_or_tokens)

    def get(self, token: str, default: Any = None) -> Any:
        """The vector of ``token`` (n-grams for unknown words), or ``default`` when there is
        none.

        Example:
            >>> rng = np.random.default_rng(0)
            >>> vectors = FastTextVectors(
            ...     ["cat", "dog"], rng.random((12, 4), np.float32), minn=3, maxn=3, bucket=10
            ... )
            >>> vectors.get("cats").shape
            (4,)
            >>> words_only = FastTextVectors(["cat"], np.ones((1, 4)), bucket=0)  # no n-grams
            >>> words_only.get("dog", "none")
            'none'
        """
        try:
            return self[token]
        except TokenError:
            return default

    def get_vector(self, token: str, norm: bool = False) -> NDArray[np.floating]:
        """The vector of ``token``, known or not; with ``norm=True`` of unit length.

        Example:
            >>> rng = np.random.default_rng(0)
            >>> vectors = FastTextVectors(
            ...     ["cat", "dog"], rng.random((12, 4), np.float32), minn=3, maxn=3, bucket=10
            ... )
            >>> round(float(np.linalg.norm(vectors.get_vector("cats", norm=True))), 5)
            1.0
        """
        if token in self.token_to_id:
            return super().get_vector(token, norm)
        vector = self._oov_vector(token)
        if not norm:
            return vector
        length = float(np.linalg.norm(vector.astype(np.float64)))
        return vector if length == 0 else (vector / length).astype(vector.dtype)

    # Query hooks of Vectors: an unknown word is its n-gram vector (and, not being a row, is
    # not excluded from its own neighbours).

    def _term_vector(self, key: Any, rows: list[int], what: str) -> NDArray[np.floating]:
        if isinstance(key, str) and key not in self.token_to_id:
            return self._normalised(self._oov_vector(key), f"the vector of {key!r}")
        return super()._term_vector(key, rows, what)  # type: ignore[misc]

    def _value_query(self, word_or_vector: str | ArrayLike) -> NDArray[np.floating]:
        if isinstance(word_or_vector, str) and word_or_vector not in self.token_to_id:
            word_or_vector = self._oov_vector(word_or_vector)
        return super()._value_query(word_or_vector)  # type: ignore[misc]

    def similarity(self, w1: str, w2: str) -> float:
        """Cosine similarity of two words, known or not (0.0 when either vector is zero).

        Example:
            >>> rng = np.random.default_rng(0)
            >>> vectors = FastTextVectors(
            ...     ["cat", "dog"], rng.random((12, 4), np.float32), minn=3, maxn=3, bucket=10
            ... )
            >>> round(vectors.similarity("cats", "cats"), 5)  # "cats" is not in the vocabulary
            1.0
            >>> -1 <= vectors.similarity("cat", "dogs") <= 1
            True
        """
        if w2 in self.token_to_id:
            return super().similarity(w1, w2)
        return (
            self.similarity(w2, w1)
            if w1 in self.token_to_id
            else float(
                np.clip(self._value_query(w1).astype(np.float64) @ self._value_query(w2), -1, 1)
            )
        )

    def add_vectors(self, keys: Any, weights: ArrayLike, replace: bool = False) -> None:
        """Not for fastText models: their words are tied to the input matrix's rows.

        Raises:
            OptionError: always; make a plain ``Vectors(vectors.tokens, vectors.matrix)``
                to add words to.

        Example:
            >>> rng = np.random.default_rng(0)
            >>> vectors = FastTextVectors(
            ...     ["cat", "dog"], rng.random((12, 4), np.float32), minn=3, maxn=3, bucket=10
            ... )
            >>> vectors.add_vectors(["emu"], np.zeros((1, 4)))  # doctest: +ELLIPSIS
            Traceback (most recent call last):
                ...
            embtable._errors.OptionError: a FastTextVectors' words are fixed by its input matrix...
        """
        raise OptionError(
            "a FastTextVectors' words are fixed by its input matrix (word rows, then n-gram "
            "buckets); add vectors to Vectors(vectors.tokens, vectors.matrix) instead"
        )

    # -- comparison and display -----------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FastTextVectors):
            return NotImplemented
        mine, theirs = self.subwords, other.subwords
        return (
            super().__eq__(other) is True
            and (mine.minn, mine.maxn, mine.bucket) == (theirs.minn, theirs.maxn, theirs.bucket)
            and np.array_equal(self.input_matrix, other.input_matrix)
            and self.labels == other.labels
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        indexer = self.subwords
        labels = f", {len(self.labels)} labels" if self.labels else ""
        return (
            f"FastTextVectors({len(self)} words{labels}, dim={self.dim}, minn={indexer.minn}, "
            f"maxn={indexer.maxn}, bucket={indexer.bucket})"
        )


def _pool(
    table: NDArray[np.floating], bags: tuple[NDArray[np.int64], NDArray[np.int64]], count: int
) -> NDArray[np.floating]:
    """Mean of each bag's rows of ``table`` (zeros for an empty bag), ``(count, D)``."""
    ids, offsets = bags
    if count == 0:
        return np.zeros((0, table.shape[1]), dtype=table.dtype)
    if table.dtype not in (np.float32, np.float64):
        raise OptionError(f"the input matrix must be float32 or float64, got {table.dtype}")
    return F.embedding_bag(ids, table, offsets, mode="mean")
