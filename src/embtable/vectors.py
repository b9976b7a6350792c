"""Pre-trained word vectors: loading, saving, gensim-style queries and alignment to a vocabulary.

The queries follow gensim's ``KeyedVectors`` (names, argument order, which words are left out of
the answer), so gensim code runs unchanged; the differences are listed in :class:`Vectors`.

Example:
    >>> tokens = ["king", "queen", "man", "woman", "apple"]
    >>> matrix = np.array(
    ...     [[0.9, 0.8, 0.1], [0.9, 0.1, 0.8], [0.1, 0.9, 0.1], [0.1, 0.1, 0.9], [-1, 0, 0]]
    ... )
    >>> vectors = Vectors(tokens, matrix)
    >>> vectors
    Vectors(5 tokens, dim=3, dtype=float64)
    >>> [(word, round(score, 3)) for word, score in vectors.most_similar("king", topn=2)]
    [('man', 0.745), ('queen', 0.664)]
    >>> vectors.most_similar(positive=["king", "woman"], negative=["man"], topn=1)[0][0]
    'queen'
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from ._errors import (
    OptionError,
    OptionTypeError,
    PaddingIndexError,
    ShapeError,
    TokenError,
    WeightDTypeError,
)

__all__ = ["Coverage", "Vectors", "VectorsCheck"]

# The names of embtable.io.registry's formats (the registry is the one list; these are for
# type checkers).
LoadFormat = Literal[
    "auto",
    "word2vec",
    "word2vec-binary",
    "glove",
    "fasttext",
    "fasttext-bin",
    "embtable",
    "projector",
    "quantized",
]
SaveFormat = Literal[
    "word2vec", "word2vec-binary", "glove", "fasttext", "fasttext-bin", "embtable", "projector"
]
_COSMUL_EPSILON = 1e-6  # gensim's most_similar_cosmul
_NORM_CHUNK = 1 << 16  # rows per chunk when normalising or checking the matrix
_SCORE_BUDGET = 1 << 22  # scores (floats) held at once by a batched query

Key = str | NDArray[np.floating]
"""A query term: a token, or a ``(D,)`` vector."""
Term = Key | tuple[Key, float]
"""A query term, optionally weighted as gensim's ``(key, weight)`` pairs."""


@dataclass(frozen=True)
class Coverage:
    """How many tokens of a vocabulary :meth:`Vectors.align` found vectors for.

    Special tokens (``vocab.specials``) are not counted.

    Attributes:
        total: non-special tokens looked up.
        matched: found as they are.
        lowercase_matched: found only in lower case.
        missing: not found (``len(missing_tokens)``).
        missing_tokens: the tokens not found, in id order.

    Example:
        >>> Coverage(4, matched=2, lowercase_matched=1, missing=1, missing_tokens=("emu",)).ratio
        0.75
    """

    total: int
    matched: int
    lowercase_matched: int
    missing: int
    missing_tokens: tuple[str, ...]

    @property
    def ratio(self) -> float:
        """Share of tokens found, ``(matched + lowercase_matched) / total`` (1.0 when empty).

        Example:
            >>> Coverage(0, 0, 0, 0, ()).ratio
            1.0
        """
        if self.total == 0:
            return 1.0
        return (self.matched + self.lowercase_matched) / self.total


@dataclass(frozen=True)
class VectorsCheck:
    """What :meth:`Vectors.check` found: rows that cosine queries cannot use.

    Attributes:
        nonfinite_rows: rows holding a NaN or an infinity (or, in float64 tables, numbers so
            large that the row's norm overflows), ascending.
        nonfinite_tokens: their tokens.
        zero_rows: rows of norm 0 (their cosine with anything is 0).

    Example:
        >>> check = Vectors(["a", "b", "c"], np.array([[1.0, 0], [np.nan, 1], [0, 0]])).check()
        >>> check
        VectorsCheck(nonfinite_rows=(1,), nonfinite_tokens=('b',), zero_rows=(2,))
        >>> check.ok, check.nonfinite
        (False, 1)
    """

    nonfinite_rows: tuple[int, ...]
    nonfinite_tokens: tuple[str, ...]
    zero_rows: tuple[int, ...]

    @property
    def nonfinite(self) -> int:
        """How many rows are not finite (``len(nonfinite_rows)``).

        Example:
            >>> VectorsCheck((4, 9), ("a", "b"), ()).nonfinite
            2
        """
        return len(self.nonfinite_rows)

    @property
    def ok(self) -> bool:
        """Every row is finite.

        Example:
            >>> VectorsCheck((), (), (0,)).ok
            True
        """
        return not self.nonfinite_rows


class Vectors:
    """A table of word vectors: ``tokens[i]`` has the vector ``matrix[i]``.

    Cosine queries use a row-normalised copy of the matrix, built once on first use (zero rows
    stay zero; float16 tables get a float32 copy, for BLAS speed and accuracy). Change vectors
    through :meth:`add_vectors` or ``vectors[token] = ...``, which refresh it; the vectors that
    ``vectors[token]``, :meth:`get` and :meth:`get_vector` return are read-only views (as
    gensim's), so they cannot change the table behind the cache's back. After writing into
    ``matrix`` (or the array given to the constructor) in place, call
    ``fill_norms(force=True)``: the cache cannot see such writes, and queries would answer from
    the old vectors.

    The query methods are gensim's (``KeyedVectors``), with its names, argument order and
    results: :meth:`most_similar` takes ``positive``/``negative`` lists of words, vectors or
    ``(word, weight)`` pairs and leaves the query words out of the answer. Where embtable
    differs from gensim 4.4:

    * keys are strings only: an ``int`` is never read as a row number, and a list of numbers is
      one vector;
    * an unknown word raises :class:`~embtable.TokenError` everywhere (gensim's ``n_similarity``,
      ``doesnt_match`` and ``rank_by_centrality`` skip unknown words);
    * cosines are clipped to ``[-1, 1]`` (gensim can return 1.0000001);
    * rows with a NaN or an infinity (:meth:`check`) are never neighbours and cannot be a
      query: a word, vector or combination that is not finite, or of norm 0, raises
      :class:`~embtable.OptionError` (gensim returns NaN scores, or ranks NaN rows anyhow);
    * zero rows score 0 against everything (gensim: NaN);
    * ``restrict_vocab`` also limits :meth:`most_similar_cosmul` (gensim ignores it there);
    * ``topn`` below 0 and ``restrict_vocab`` below 1 raise (gensim returns ``[]`` for the
      first and searches every row for ``restrict_vocab=0``); ``clip_start``/``clip_end`` are
      not offered (use ``restrict_vocab``);
    * similarity values are Python floats (gensim: ``numpy.float32``); arrays keep the table's
      dtype, except that float16 tables score in float32.

    Args:
        tokens: distinct token strings.
        matrix: ``(len(tokens), D)`` floating array, kept without copying.

    Raises:
        ShapeError: ``matrix`` is not 2-D with one row per token.
        WeightDTypeError: ``matrix`` is not floating (a ``TypeError``).
        OptionTypeError: a token is not a string (a ``TypeError``).
        OptionError: a token repeats (a ``ValueError``).

    Example:
        >>> vectors = Vectors(["a", "b"], np.eye(2))
        >>> vectors["b"], len(vectors), "a" in vectors
        (array([0., 1.]), 2, True)
    """

    def __init__(self, tokens: Sequence[str], matrix: ArrayLike) -> None:
        array = np.asarray(matrix)
        if array.ndim != 2 or array.shape[0] != len(tokens):
            raise ShapeError(
                f"matrix must have shape ({len(tokens)}, D), one row per token, got {array.shape}"
            )
        if array.dtype.kind != "f":
            raise WeightDTypeError(
                f"matrix must be floating, got {array.dtype}; convert with "
                f"matrix.astype(np.float32)"
            )
        token_to_id: dict[str, int] = {}
        for index, token in enumerate(tokens):
            if not isinstance(token, str):  # an int key would read as a row number elsewhere
                raise OptionTypeError(
                    f"tokens must be strings, got {type(token).__name__} {token!r} at row {index}"
                )
            first = token_to_id.setdefault(token, index)
            if first != index:
                raise OptionError(f"token {token!r} appears twice, at rows {first} and {index}")
        self._tokens = list(tokens)
        self._token_to_id = token_to_id
        self._matrix = array
        self._forget_caches()

    def _forget_caches(self) -> None:
        # the dtype queries compute in: the table's, but at least float32 (numpy has no BLAS
        # for float16, and float16 sums of D products lose 2-3 digits)
        self._work_dtype = np.promote_types(self._matrix.dtype, np.float32)
        self._unit: NDArray[np.floating] | None = None
        self._norms: NDArray[np.float64] | None = None
        self._bad_rows: NDArray[np.int64] | None = None

    # -- loading and saving -----------------------------------------------------------------

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        format: LoadFormat = "auto",
        limit: int | None = None,
        dtype: DTypeLike | None = None,
        progress: bool | None = None,
        duplicates: Literal["error", "first", "last"] = "error",
        encoding: str = "utf-8",
        unicode_errors: str = "strict",
        mmap: bool = False,
    ) -> Vectors:
        """Load vectors from a file or an embtable table directory.

        Args:
            path: a word2vec (text or binary), GloVe or fastText ``.vec`` file, plain or
                gzip/bzip2-compressed, or a table directory (:mod:`embtable.io.tables`).
            format: ``"auto"`` tells the format by :func:`embtable.io.detect_format`'s rule.
            limit: keep the first ``limit`` vectors (files are read no further).
            dtype: floating dtype of the matrix; ``None`` is float32 for files and the stored
                dtype for tables.
            progress: a tqdm bar; ``None`` shows one for files of 64 MiB and more when
                stderr is a terminal.
            duplicates: a repeated token raises (``"error"``), or keeps its ``"first"`` or
                ``"last"`` vector.
            encoding, unicode_errors: how to decode tokens.
            mmap: map a table's weights read-only instead of reading them (tables only).

        Raises:
            VectorFormatError: malformed file; the message names the file and line.
            OptionError: an unknown ``format`` or ``duplicates``, or ``mmap`` with a text file.

        Example:
            >>> import tempfile, pathlib
            >>> tmp = tempfile.TemporaryDirectory()
            >>> path = pathlib.Path(tmp.name) / "glove.txt"
            >>> _ = path.write_text("cat 0.1 0.2\\ndog 0.3 0.4\\n")
            >>> vectors = Vectors.load(path)  # headerless text: GloVe
            >>> vectors.tokens, vectors.matrix.dtype
            (['cat', 'dog'], dtype('float32'))
            >>> tmp.cleanup()
        """
        from .io import registry

        data = registry.read(
            path,
            format=format,
            limit=limit,
            dtype=dtype,
            progress=progress,
            duplicates=duplicates,
            encoding=encoding,
            unicode_errors=unicode_errors,
            mmap=mmap,
        )
        if isinstance(data, Vectors):  # a format whose reader builds a whole model (fastText)
            return data
        return cls(*data)

    def save(
        self,
        path: str | os.PathLike[str],
        *,
        format: SaveFormat | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        """Write the vectors; files ending in ``.gz``/``.bz2`` are compressed.

        The file is replaced atomically: a reader (or a killed writer) sees the old file or
        the new one, never a mix.

        Args:
            path: the file, or the directory of a directory format.
            format: a format of :mod:`embtable.io.registry` (``"word2vec"`` text,
                ``"word2vec-binary"``, ``"glove"``, ``"fasttext"`` ``.vec``, ``"embtable"`` a
                table directory, ``"projector"``, ...); ``None`` takes it from the name exactly
                as ``embtable convert`` does (``.txt`` word2vec text, ``.bin`` word2vec binary,
                ``.vec`` fastText, no suffix a table directory).
            config: ``config.json`` of an embtable table.

        Raises:
            OptionError: an unknown format, a name whose suffix names another format, or a
                token the format cannot hold (whitespace in a text format).
            OutputError: the output cannot be written; the old file stays as it was.

        Example:
            >>> import tempfile, pathlib
            >>> tmp = tempfile.TemporaryDirectory()
            >>> vectors = Vectors(["a", "b"], np.eye(2, dtype=np.float32))
            >>> vectors.save(pathlib.Path(tmp.name) / "v.bin")  # the name says word2vec binary
            >>> Vectors.load(pathlib.Path(tmp.name) / "v.bin") == vectors
            True
            >>> tmp.cleanup()
        """
        from .io import registry

        options: dict[str, Any] = {} if config is None else {"config": config}
        registry.write(path, self._tokens, self._matrix, format=format, **options)

    # -- container protocol -----------------------------------------------------------------

    @property
    def tokens(self) -> list[str]:
        """The tokens, row order (do not modify).

        Example:
            >>> Vectors(["a", "b"], np.eye(2)).tokens
            ['a', 'b']
        """
        return self._tokens

    @property
    def index_to_key(self) -> list[str]:
        """gensim's name for :attr:`tokens`.

        Example:
            >>> Vectors(["a", "b"], np.eye(2)).index_to_key
            ['a', 'b']
        """
        return self._tokens

    @property
    def matrix(self) -> NDArray[np.floating]:
        """The ``(len, dim)`` matrix.

        Example:
            >>> Vectors(["a"], np.array([[1.0, 2.0]])).matrix
            array([[1., 2.]])
        """
        return self._matrix

    @property
    def vectors(self) -> NDArray[np.floating]:
        """gensim's name for :attr:`matrix`.

        Example:
            >>> Vectors(["a"], np.array([[1.0, 2.0]])).vectors.shape
            (1, 2)
        """
        return self._matrix

    @property
    def dim(self) -> int:
        """Vector dimension ``D``.

        Example:
            >>> Vectors(["a"], np.zeros((1, 3))).dim
            3
        """
        return int(self._matrix.shape[1])

    @property
    def vector_size(self) -> int:
        """gensim's name for :attr:`dim`.

        Example:
            >>> Vectors(["a"], np.zeros((1, 3))).vector_size
            3
        """
        return self.dim

    @property
    def token_to_id(self) -> dict[str, int]:
        """Row of each token (do not modify).

        Example:
            >>> Vectors(["a", "b"], np.eye(2)).token_to_id
            {'a': 0, 'b': 1}
        """
        return self._token_to_id

    @property
    def key_to_index(self) -> dict[str, int]:
        """gensim's name for :attr:`token_to_id` (do not modify).

        Example:
            >>> Vectors(["a", "b"], np.eye(2)).key_to_index["b"]
            1
        """
        return self._token_to_id

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, token: object) -> bool:
        try:
            return token in self._token_to_id
        except TypeError:  # an unhashable key, such as a list, is no token
            return False

    def __iter__(self) -> Iterator[str]:
        return iter(self._tokens)

    def __getitem__(self, token_or_tokens: str | Sequence[str]) -> NDArray[np.floating]:
        """The vector of a token (a read-only view of its row), or the ``(n, D)`` rows of a list
        (or 1-D array) of tokens (a copy).

        Raises:
            TokenError: an unknown token, naming it.

        Example:
            >>> vectors = Vectors(["a", "b"], np.array([[1.0, 2], [3, 4]]))
            >>> vectors["a"]
            array([1., 2.])
            >>> vectors[["b", "a"]]
            array([[3., 4.],
                   [1., 2.]])
            >>> vectors["a"][0] = 5  # change vectors with vectors["a"] = [5.0, 2]
            Traceback (most recent call last):
            ...
            ValueError: assignment destination is read-only
        """
        if isinstance(token_or_tokens, np.ndarray) and token_or_tokens.ndim == 1:
            token_or_tokens = token_or_tokens.tolist()
        if isinstance(token_or_tokens, (list, tuple)):
            rows = [self._row(token) for token in token_or_tokens]
            return self._matrix[np.array(rows, dtype=np.int64)].reshape(len(rows), self.dim)
        return self._row_view(self._row(token_or_tokens))  # type: ignore[arg-type]

    def _row_view(self, row: int) -> NDArray[np.floating]:
        """A read-only view of a row (gensim's ``get_vector`` does the same): a write through
        it would change the table without refreshing the normalised copy."""
        view = self._matrix[row]
        view.flags.writeable = False
        return view

    def __setitem__(self, tokens: str | Sequence[str], rows: ArrayLike) -> None:
        """Set the vectors of tokens, adding the new ones (``add_vectors(..., replace=True)``).

        Example:
            >>> vectors = Vectors(["a"], np.array([[1.0, 2]]))
            >>> vectors["b"] = [3.0, 4]
            >>> vectors.tokens, vectors["b"]
            (['a', 'b'], array([3., 4.]))
        """
        self.add_vectors(tokens, rows, replace=True)

    def get(self, token: str, default: Any = None) -> Any:
        """The vector of ``token``, or ``default`` when absent.

        Example:
            >>> Vectors(["a"], np.ones((1, 2))).get("b", "none")
            'none'
        """
        row = self._token_to_id.get(token) if token in self else None
        return default if row is None else self._row_view(row)

    def get_index(self, token: str) -> int:
        """The row of ``token`` (gensim's ``get_index``; an ``int`` is not read as a row).

        Raises:
            TokenError: an unknown token.

        Example:
            >>> Vectors(["a", "b"], np.ones((2, 2))).get_index("b")
            1
        """
        return self._row(token)

    def get_vector(self, token: str, norm: bool = False) -> NDArray[np.floating]:
        """The vector of ``token`` (read-only); with ``norm=True`` scaled to unit length (zero
        and non-finite rows give zeros), in the table's dtype (gensim's name).

        Example:
            >>> Vectors(["a"], np.array([[3.0, 4]])).get_vector("a", norm=True)
            array([0.6, 0.8])
        """
        row = self._row(token)
        if not norm:
            return self._row_view(row)
        unit = self._unit_matrix()[row]
        if unit.dtype != self._matrix.dtype:  # a float16 table's float32 copy
            unit = unit.astype(self._matrix.dtype)
            unit.flags.writeable = False
        return unit

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vectors):
            return NotImplemented
        return (
            self._tokens == other._tokens
            and self._matrix.dtype == other._matrix.dtype
            and np.array_equal(self._matrix, other._matrix, equal_nan=True)  # NaN rows round-trip
        )

    __hash__ = None  # type: ignore[assignment]

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the tokens and the matrix, not the caches (rebuilt on first use)."""
        state = self.__dict__.copy()
        for cache in ("_unit", "_norms", "_bad_rows"):
            state[cache] = None
        return state

    def __repr__(self) -> str:
        return f"Vectors({len(self)} tokens, dim={self.dim}, dtype={self._matrix.dtype})"

    def _row(self, token: str) -> int:
        try:
            return self._token_to_id[token]
        except (KeyError, TypeError):  # TypeError: an unhashable key such as a list
            raise TokenError(
                f"token {token!r} is not among the {len(self)} tokens of these vectors"
            ) from None

    def add_vectors(
        self, keys: str | Sequence[str], weights: ArrayLike, replace: bool = False
    ) -> None:
        """Append tokens and their vectors (gensim's ``add_vectors``).

        A token already present keeps its vector unless ``replace``. The matrix becomes a new
        array: the old one is never written, so a read-only or memory-mapped table (``mmap=True``)
        gains the rows in memory and its file stays as it is.

        Args:
            keys: a token or a list of distinct tokens.
            weights: their vectors, ``(D,)`` for one token or ``(len(keys), D)``.
            replace: overwrite the vectors of tokens already present.

        Raises:
            ShapeError: ``weights`` does not have one ``D``-vector per key.
            WeightDTypeError: ``weights`` are not numbers (a ``TypeError``).
            OptionError: a key repeats in ``keys``.
            OptionTypeError: a key is not a string.

        Example:
            >>> vectors = Vectors(["a"], np.array([[1.0, 2]]))
            >>> vectors.add_vectors(["a", "b"], [[0.0, 0], [3, 4]])
            >>> vectors.tokens, vectors.matrix
            (['a', 'b'], array([[1., 2.],
                   [3., 4.]]))
        """
        single = isinstance(keys, str)
        key_list = [keys] if single else list(keys)  # type: ignore[list-item]
        try:
            rows = np.asarray(weights)
        except ValueError as err:  # a ragged list
            raise ShapeError(
                f"weights must be {len(key_list)} vectors of {self.dim} numbers: {err}"
            ) from None
        if rows.dtype.kind not in "fiub":
            raise WeightDTypeError(f"weights must be numbers, got an array of {rows.dtype}")
        if single:
            rows = rows.reshape(1, -1) if rows.ndim == 1 else rows
        if rows.ndim != 2 or rows.shape != (len(key_list), self.dim):
            raise ShapeError(
                f"weights must have shape ({len(key_list)}, {self.dim}), one vector per key, "
                f"got {np.shape(weights)}"
            )
        seen: dict[str, int] = {}
        for position, key in enumerate(key_list):
            if not isinstance(key, str):
                raise OptionTypeError(
                    f"keys must be strings, got {type(key).__name__} {key!r} at position {position}"
                )
            first = seen.setdefault(key, position)
            if first != position:
                raise OptionError(f"key {key!r} appears twice in keys, at {first} and {position}")
        new = [position for position, key in enumerate(key_list) if key not in self._token_to_id]
        old = [position for position, key in enumerate(key_list) if key in self._token_to_id]
        if not new and not (replace and old):
            return
        matrix = np.concatenate((self._matrix, rows[new].astype(self._matrix.dtype)))
        if replace and old:
            matrix[[self._token_to_id[key_list[p]] for p in old]] = rows[old]
        for position in new:
            self._token_to_id[key_list[position]] = len(self._tokens)
            self._tokens.append(key_list[position])
        self._matrix = matrix
        self._forget_caches()

    # -- the normalised matrix and its bad rows -------------------------------------------------

    def _row_norms(self) -> NDArray[np.float64]:
        """L2 norms of the rows, computed in float64 (NaN or inf for rows that are not finite)."""
        if self._norms is None:
            norms = np.empty(len(self), dtype=np.float64)
            for begin in range(0, len(self), _NORM_CHUNK):
                chunk = self._matrix[begin : begin + _NORM_CHUNK].astype(np.float64)
                with np.errstate(over="ignore", invalid="ignore"):
                    norms[begin : begin + _NORM_CHUNK] = np.sqrt(
                        np.einsum("ij,ij->i", chunk, chunk)
                    )
            self._norms = norms
            self._bad_rows = np.flatnonzero(~np.isfinite(norms))
        return self._norms

    def _bad(self) -> NDArray[np.int64]:
        """Rows that are not finite, ascending."""
        self._row_norms()
        assert self._bad_rows is not None
        return self._bad_rows

    def _unit_matrix(self) -> NDArray[np.floating]:
        """Rows scaled to unit length in float64, then cast to the work dtype (gensim's
        ``unitvec``); zero rows and rows that are not finite are zero."""
        if self._unit is None:
            norms = self._row_norms()
            unit = np.empty(self._matrix.shape, dtype=self._work_dtype)
            for begin in range(0, len(self), _NORM_CHUNK):
                chunk = self._matrix[begin : begin + _NORM_CHUNK].astype(np.float64)
                scale = norms[begin : begin + _NORM_CHUNK].copy()
                usable = np.isfinite(scale) & (scale > 0)
                scale[~usable] = np.inf  # zero and non-finite rows become 0 ...
                chunk[~usable] = 0  # ... without inf * 0 = NaN
                unit[begin : begin + _NORM_CHUNK] = chunk * (1.0 / scale)[:, None]
            unit.flags.writeable = False
            self._unit = unit
        return self._unit

    def fill_norms(self, force: bool = False) -> None:
        """Build the row norms and the normalised copy of the matrix now (gensim's name).

        Queries build them on first use, so this is only needed with ``force=True``: after
        writing into :attr:`matrix` in place, which the cache cannot see.

        Example:
            >>> vectors = Vectors(["a", "b", "c"], np.array([[1.0, 0], [0, 1], [1, 0.1]]))
            >>> vectors.most_similar("a", topn=1)[0][0]
            'c'
            >>> vectors.matrix[1] = [1, 0]  # in place: the cache still holds the old row
            >>> vectors.fill_norms(force=True)
            >>> vectors.most_similar("a", topn=1)[0][0]
            'b'
        """
        if force:
            self._forget_caches()
        self._unit_matrix()

    def check(self) -> VectorsCheck:
        """Find the rows that cosine queries cannot use: NaN or infinite values, and zero rows.

        Queries never return a non-finite row as a neighbour, and raise when asked about one;
        :func:`embtable.evaluate.evaluate_word_pairs` gives NaN correlations when a pair uses
        one.

        Example:
            >>> vectors = Vectors(["a", "b"], np.array([[1.0, 0], [np.inf, 1]]))
            >>> vectors.check().nonfinite_tokens
            ('b',)
        """
        norms = self._row_norms()
        bad = self._bad().tolist()
        return VectorsCheck(
            nonfinite_rows=tuple(bad),
            nonfinite_tokens=tuple(self._tokens[row] for row in bad),
            zero_rows=tuple(np.flatnonzero(norms == 0).tolist()),
        )

    # -- building a query -----------------------------------------------------------------------

    def _searched(self, restrict_vocab: int | None) -> int:
        """How many rows a query searches: all, or the first ``restrict_vocab``."""
        if restrict_vocab is None:
            return len(self)
        message = f"restrict_vocab must be None or an integer >= 1, got {restrict_vocab!r}"
        if isinstance(restrict_vocab, bool) or not isinstance(restrict_vocab, (int, np.integer)):
            raise OptionTypeError(message)
        if restrict_vocab < 1:
            raise OptionError(message)
        return min(int(restrict_vocab), len(self))

    @staticmethod
    def _topn(topn: int | None, k: int | None = None) -> int | None:
        name = "topn"
        if k is not None:
            if topn not in (None, 10) and topn != k:
                raise OptionError(f"pass topn or its alias k, not both (topn={topn!r}, k={k!r})")
            topn, name = k, "k"
        if topn is None:
            return None
        if isinstance(topn, bool) or not isinstance(topn, (int, np.integer)):
            raise OptionTypeError(f"{name} must be None or an integer >= 0, got {topn!r}")
        if topn < 0:
            raise OptionError(f"{name} must be None or an integer >= 0, got {topn!r}")
        return int(topn)

    def _usable_row(self, token: str) -> int:
        """The row of ``token``, which must be finite and nonzero to be a cosine query."""
        row = self._row(token)
        norm = self._row_norms()[row]
        if not np.isfinite(norm):
            raise OptionError(
                f"the vector of {token!r} (row {row}) holds NaN or inf; cosine needs a nonzero "
                f"finite vector (Vectors.check() lists such rows)"
            )
        if norm == 0:
            raise OptionError(
                f"the vector of {token!r} (row {row}) is zero; cosine needs a nonzero finite vector"
            )
        return row

    def _as_vector(self, value: ArrayLike, what: str) -> NDArray[np.floating]:
        """A query vector as given, in the work dtype; it must be finite there."""
        try:
            vector = np.asarray(value)
            if vector.dtype.kind not in "fiu":
                raise TypeError(f"got an array of {vector.dtype}")
            with np.errstate(over="ignore"):  # an overflow is found just below
                vector = vector.astype(self._work_dtype)
        except (TypeError, ValueError) as err:
            raise OptionTypeError(f"{what} must be a vector of {self.dim} numbers: {err}") from None
        if vector.shape != (self.dim,):
            raise ShapeError(f"{what} must have shape ({self.dim},), got {vector.shape}")
        if not np.isfinite(vector).all():
            raise OptionError(
                f"{what} holds NaN or inf (or numbers beyond {self._work_dtype}); cosine needs "
                f"a nonzero finite vector"
            )
        return vector

    def _normalised(self, vector: NDArray[np.floating], what: str) -> NDArray[np.floating]:
        """``vector`` scaled to unit length in float64 and cast to the work dtype (gensim's
        ``unitvec``)."""
        wide = vector.astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            norm = float(np.sqrt(wide @ wide))
        if not np.isfinite(norm) or norm == 0:
            raise OptionError(f"{what} has norm {norm}; cosine needs a nonzero finite vector")
        return (wide * (1.0 / norm)).astype(self._work_dtype)

    def _terms(self, value: Any, sign: float, name: str) -> list[tuple[Any, float, bool]]:
        """gensim's reading of ``positive``/``negative``: ``(key, weight, weighted)`` triples."""
        if value is None:
            return []
        if isinstance(value, str):
            return [(value, sign, False)]
        if isinstance(value, np.ndarray):
            if value.ndim == 1:
                return [(value, sign, False)]
            if value.ndim == 2:
                return [(row, sign, False) for row in value]
            raise ShapeError(
                f"{name} must be a vector or a 2-D array of vectors, got {value.shape}"
            )
        if not isinstance(value, Iterable) or isinstance(value, (bytes, dict)):
            hint = (
                f"; the number of neighbours is topn={value!r}"
                if name == "negative" and isinstance(value, (int, np.integer))
                else ""
            )
            raise OptionTypeError(
                f"{name} must be a word, a vector, or a list of words, vectors and (word, weight) "
                f"pairs, got {type(value).__name__} {value!r}{hint}"
            )
        items = list(value)
        if items and all(_is_number(item) for item in items):
            return [(np.asarray(items), sign, False)]  # a list of numbers is one vector
        terms: list[tuple[Any, float, bool]] = []
        for item in items:
            if isinstance(item, (str, np.ndarray)):
                terms.append((item, sign, False))
            elif (
                isinstance(item, (tuple, list))
                and len(item) == 2
                and isinstance(item[0], (str, np.ndarray))
                and _is_number(item[1])
            ):
                terms.append((item[0], float(item[1]), True))  # gensim: the weight as given
            elif isinstance(item, (tuple, list)) and item and all(_is_number(x) for x in item):
                terms.append((np.asarray(item), sign, False))
            else:
                raise OptionTypeError(
                    f"{name} must hold words, vectors or (word, weight) pairs, got "
                    f"{type(item).__name__} {item!r}"
                )
        return terms

    def _term_vector(self, key: Any, rows: list[int], what: str) -> NDArray[np.floating]:
        """A term's vector in a mean: a word's unit row (its row added to ``rows``), or the
        vector as given. (A hook: :class:`embtable.fasttext.FastTextVectors` composes unknown
        words here.)"""
        if isinstance(key, str):
            row = self._usable_row(key)
            rows.append(row)
            return self._unit_matrix()[row]
        return self._as_vector(key, what)

    def _query(self, positive: Any, negative: Any) -> tuple[NDArray[np.floating], list[int]]:
        """The unit query of gensim's ``most_similar`` and the rows of its words.

        The weighted mean of the unit vectors of the words and the vectors as given (weights 1
        for ``positive``, -1 for ``negative``, or those of ``(key, weight)`` pairs; divided by
        the sum of the absolute weights), scaled to unit length.
        """
        if isinstance(positive, str) and negative is None and positive in self._token_to_id:
            row = self._usable_row(positive)  # one known word: its unit row
            return self._unit_matrix()[row], [row]
        terms = self._terms(positive, 1.0, "positive") + self._terms(negative, -1.0, "negative")
        if not terms:
            raise OptionError("a query needs at least one word or vector in positive or negative")
        rows: list[int] = []
        single_vector = len(terms) == 1 and not isinstance(terms[0][0], str)
        what = "the query vector"
        mean = np.zeros(self.dim, dtype=self._work_dtype)
        total = 0.0
        for index, (key, weight, _) in enumerate(terms):
            term_what = what if single_vector else f"query vector {index}"
            mean += weight * self._term_vector(key, rows, term_what)
            total += abs(weight)
        if total > 0:
            mean = mean / total
        if not single_vector:
            what = "the combined query (the weighted mean of positive and negative)"
        return self._normalised(mean, what), rows

    def _exclude_ids(self, exclude: Iterable[str]) -> list[int]:
        if isinstance(exclude, str):
            exclude = [exclude]
        return [self._row(word) for word in exclude]

    def _top(
        self,
        scores: NDArray[np.floating],
        k: int,
        excluded: Iterable[int],
        *,
        clip: bool = True,
    ) -> list[tuple[str, float]]:
        """The ``k`` best rows of ``scores`` (modified in place) other than ``excluded`` and the
        rows that are not finite; ties keep row order; cosines clipped to ``[-1, 1]``."""
        bad = self._bad()
        masked = {i for i in excluded if i < scores.size}
        masked.update(bad[: np.searchsorted(bad, scores.size)].tolist())
        scores[list(masked)] = -np.inf
        k = min(k, scores.size - len(masked))
        if k <= 0:
            return []
        # The k best, ties kept in row order: every row above the k-th best score, then the
        # first rows equal to it (argpartition alone picks tied rows in no set order).
        threshold = np.partition(scores, scores.size - k)[scores.size - k]
        above = np.flatnonzero(scores > threshold)
        tied = np.flatnonzero(scores == threshold)[: k - above.size]
        best = np.concatenate((above, tied))
        best = best[np.lexsort((best, -scores[best]))]
        tokens = self._tokens
        values = scores[best]
        clipped = (np.clip(values, -1.0, 1.0) if clip else values).tolist()
        return [(tokens[i], score) for i, score in zip(best.tolist(), clipped, strict=True)]

    def _all_scores(self, scores: NDArray[np.floating]) -> NDArray[np.floating]:
        """Scores of every row, as gensim's ``topn=None``: clipped, NaN for non-finite rows."""
        scores = np.clip(scores, -1.0, 1.0, out=scores)
        bad = self._bad()
        scores[..., bad[: np.searchsorted(bad, scores.shape[-1])]] = np.nan
        return scores

    # -- neighbours -----------------------------------------------------------------------------

    def most_similar(
        self,
        positive: Term | Sequence[Term] | ArrayLike | None = None,
        negative: Term | Sequence[Term] | ArrayLike | None = None,
        topn: int | None = 10,
        *,
        restrict_vocab: int | None = None,
        indexer: Any = None,
        exclude: Iterable[str] = (),
        k: int | None = None,
    ) -> Any:
        """The ``topn`` tokens most similar to a word, a vector, or a combination (gensim's).

        The query is the weighted mean of the unit vectors of the words and of the vectors
        as given (weight 1 for ``positive``, -1 for ``negative``, or the weight of a
        ``(key, weight)`` pair; divided by the sum of the absolute weights), and tokens are
        ranked by their cosine with it. The query's words are left out of the answer; a
        vector's own token is not (it scores 1.0). Rows with NaN or inf are never returned.

        Args:
            positive: a word, a ``(D,)`` vector, a list of words, vectors and
                ``(key, weight)`` pairs, or a ``(n, D)`` array of vectors; a list of numbers is
                one vector.
            negative: the same, counted negatively.
            topn: how many to return; ``None`` returns the cosines of all searched rows as an
                array (NaN for rows that are not finite).
            restrict_vocab: search only the first ``restrict_vocab`` rows.
            indexer: an approximate index with ``indexer.most_similar(unit_vector, topn)``
                (gensim's seam, e.g. its ``AnnoyIndexer``); its answer is returned as it is.
            exclude: more tokens to leave out.
            k: alias of ``topn``.

        Returns:
            ``[(token, cosine), ...]``, best first; ties keep row order.

        Raises:
            TokenError: an unknown word, naming it.
            ShapeError: a vector of another dimension.
            OptionError: no query term; a zero, NaN or inf query (or word vector); ``topn`` or
                ``restrict_vocab`` out of range.
            OptionTypeError: a term that is not a word, vector or pair (e.g. an ``int``).

        Example:
            >>> vectors = Vectors(["x", "y", "xy"], np.array([[1.0, 0], [0, 1], [1, 1]]))
            >>> vectors.most_similar("x", topn=1)
            [('xy', 0.7071067811865475)]
            >>> [(w, round(c, 4)) for w, c in vectors.most_similar(np.array([1.0, 0.1]), topn=2)]
            [('x', 0.995), ('xy', 0.774)]
            >>> vectors.most_similar(positive=["xy"], negative=["y"], topn=1)
            [('x', 0.9238795325112867)]
            >>> vectors.most_similar(["x", ("y", 0.5)], topn=1)[0][0]
            'xy'
        """
        topn = self._topn(topn, k)
        query, rows = self._query(positive, negative)
        if indexer is not None and topn is not None:
            return indexer.most_similar(query, topn)
        scores = self._unit_matrix()[: self._searched(restrict_vocab)] @ query
        if topn is None:
            return self._all_scores(scores)
        return self._top(scores, topn, rows + self._exclude_ids(exclude))

    def similar_by_word(
        self, word: str, topn: int | None = 10, restrict_vocab: int | None = None
    ) -> Any:
        """``most_similar(positive=[word], ...)`` (gensim's ``similar_by_word``).

        Example:
            >>> vectors = Vectors(["x", "y", "xy"], np.array([[1.0, 0], [0, 1], [1, 1]]))
            >>> vectors.similar_by_word("y", 1)
            [('xy', 0.7071067811865475)]
        """
        if not isinstance(word, str):
            raise OptionTypeError(f"word must be a string, got {type(word).__name__} {word!r}")
        return self.most_similar(positive=[word], topn=topn, restrict_vocab=restrict_vocab)

    similar_by_key = similar_by_word

    def similar_by_vector(
        self, vector: ArrayLike, topn: int | None = 10, restrict_vocab: int | None = None
    ) -> Any:
        """``most_similar(positive=[vector], ...)`` (gensim's ``similar_by_vector``); the
        vector's own token is not left out.

        Example:
            >>> vectors = Vectors(["x", "y", "xy"], np.array([[1.0, 0], [0, 1], [1, 1]]))
            >>> vectors.similar_by_vector(vectors["x"], topn=2)
            [('x', 1.0), ('xy', 0.7071067811865475)]
        """
        return self.most_similar(
            positive=[np.asarray(vector)], topn=topn, restrict_vocab=restrict_vocab
        )

    def batch_most_similar(
        self,
        queries: Sequence[str] | ArrayLike,
        topn: int | None = 10,
        *,
        restrict_vocab: int | None = None,
    ) -> Any:
        """:meth:`most_similar` for many words or vectors at once, by blocked matrix products.

        Args:
            queries: a list of words (each left out of its own answer) or an ``(n, D)`` array of
                vectors (each scaled to unit length).
            topn: neighbours per query; ``None`` returns the ``(n, rows)`` cosines.
            restrict_vocab: search only the first ``restrict_vocab`` rows.

        Returns:
            one list ``[(token, cosine), ...]`` per query: what :meth:`most_similar` returns
            for it, up to the last bits of the cosines (a matrix product rounds differently
            from a matrix-vector one).

        Raises:
            TokenError, OptionError, ShapeError: as :meth:`most_similar`; a query row that is
                zero or not finite names its index.

        Example:
            >>> vectors = Vectors(["x", "y", "xy"], np.array([[1.0, 0], [0, 1], [1, 1]]))
            >>> [answer[0][0] for answer in vectors.batch_most_similar(["x", "y"], topn=1)]
            ['xy', 'xy']
            >>> vectors.batch_most_similar(np.array([[0.0, 2], [3, 0]]), topn=1)
            [[('y', 1.0)], [('x', 1.0)]]
        """
        topn = self._topn(topn)
        unit = self._unit_matrix()
        searched = self._searched(restrict_vocab)
        if isinstance(queries, np.ndarray) and queries.dtype.kind in "UO" and queries.ndim == 1:
            queries = queries.tolist()  # an array of words
        if isinstance(queries, (list, tuple)) and all(isinstance(q, str) for q in queries):
            own = [self._usable_row(word) for word in queries]
            matrix = unit[np.array(own, dtype=np.int64)].reshape(len(own), self.dim)
        else:
            own = None
            try:
                raw = np.asarray(queries)
                if raw.dtype.kind not in "fiu":
                    raise TypeError(f"got an array of {raw.dtype}")
                raw = raw.astype(np.float64)
            except (TypeError, ValueError) as err:
                raise OptionTypeError(
                    f"queries must be a list of words or an (n, {self.dim}) array of vectors: {err}"
                ) from None
            if raw.ndim != 2 or raw.shape[1] != self.dim:
                raise ShapeError(f"queries must have shape (n, {self.dim}), got {raw.shape}")
            matrix = np.empty(raw.shape, dtype=self._work_dtype)
            for index, vector in enumerate(raw):
                matrix[index] = self._normalised(vector, f"query row {index}")
        block = max(1, _SCORE_BUDGET // max(1, searched))
        if topn is None:
            return self._all_scores(matrix @ unit[:searched].T)
        results: list[list[tuple[str, float]]] = []
        for begin in range(0, len(matrix), block):
            scores = matrix[begin : begin + block] @ unit[:searched].T
            for offset, row_scores in enumerate(scores):
                excluded = [] if own is None else [own[begin + offset]]
                results.append(self._top(row_scores, topn, excluded))
        return results

    def most_similar_cosmul(
        self,
        positive: Key | Sequence[Key] | ArrayLike | None = None,
        negative: Key | Sequence[Key] | ArrayLike | None = None,
        topn: int | None = 10,
        *,
        restrict_vocab: int | None = None,
    ) -> Any:
        """Rank by 3CosMul (Levy & Goldberg, 2014), as gensim's ``most_similar_cosmul``.

        A token ``x`` scores ``prod(cos'(x, p)) / (prod(cos'(x, n)) + 1e-6)`` over the positive
        terms ``p`` and negative terms ``n``, with ``cos' = (cos + 1) / 2``; words enter as unit
        vectors and vectors as given, as in gensim (so a vector ``v`` contributes
        ``(1 + v · x̂) / 2``, a shifted cosine only when ``|v| = 1``). The query words are left
        out of the answer.

        Raises:
            OptionError: no positive term; a word or vector that is not finite.
            OptionTypeError: a ``(key, weight)`` pair (gensim's cosmul takes none).

        Example:
            >>> vectors = Vectors(
            ...     ["man", "woman", "king", "queen"],
            ...     np.array([[1.0, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1]]),
            ... )
            >>> found = vectors.most_similar_cosmul(["king", "woman"], ["man"], topn=1)
            >>> [(word, round(score, 4)) for word, score in found]
            [('queen', 1.0459)]
        """
        topn = self._topn(topn)
        positive_terms = self._terms(positive, 1.0, "positive")
        negative_terms = self._terms(negative, -1.0, "negative")
        if any(weighted for _, _, weighted in positive_terms + negative_terms):
            raise OptionTypeError(
                "most_similar_cosmul takes words and vectors, not (word, weight) pairs"
            )
        if not positive_terms:
            raise OptionError("most_similar_cosmul needs at least one positive word or vector")
        rows: list[int] = []
        search = self._unit_matrix()[: self._searched(restrict_vocab)]

        def shifted(terms: list[tuple[Any, float, bool]], name: str) -> NDArray[np.floating]:
            columns = np.stack(
                [
                    self._term_vector(key, rows, f"{name} vector {i}")
                    for i, (key, _, _) in enumerate(terms)
                ],
                axis=1,
            )
            products = search @ columns
            # a word's column is a unit vector: clip its cosines' rounding to [-1, 1]; a vector
            # enters as given, so its column holds |v| cos (gensim's dot products), unclipped
            unit = np.array([isinstance(key, str) for key, _, _ in terms])
            products[:, unit] = np.clip(products[:, unit], -1.0, 1.0)
            return np.prod((1 + products) / 2, axis=1)

        numerator = shifted(positive_terms, "positive")
        denominator = (
            shifted(negative_terms, "negative") if negative_terms else 1.0
        )  # empty product
        scores = numerator / (denominator + _COSMUL_EPSILON)
        if topn is None:
            bad = self._bad()
            scores[bad[: np.searchsorted(bad, scores.size)]] = np.nan
            return scores
        return self._top(scores, topn, rows, clip=False)

    def analogy(
        self,
        a: str,
        b: str,
        c: str,
        *,
        k: int = 1,
        method: Literal["3cosadd", "3cosmul"] = "3cosadd",
        restrict_vocab: int | None = None,
    ) -> list[tuple[str, float]]:
        """Solve ``a : b :: c : ?`` (e.g. ``man : king :: woman : queen``).

        ``"3cosadd"`` is ``most_similar(positive=[b, c], negative=[a])``: tokens ``x`` ranked by
        ``cos(x, b̂ - â + ĉ)`` (Mikolov et al.); ``"3cosmul"`` is
        ``most_similar_cosmul(positive=[b, c], negative=[a])``: ``cos'(x, b) cos'(x, c) /
        (cos'(x, a) + ε)`` with ``cos' = (cos + 1) / 2`` (Levy & Goldberg, 2014) and
        ``ε = 1e-6`` (as gensim; the paper used 0.001). ``a``, ``b`` and ``c`` are never
        answers.

        Returns:
            ``[(token, score), ...]``, best first.

        Raises:
            TokenError: an unknown token, naming it.
            OptionError: an unknown ``method``.

        Example:
            >>> vectors = Vectors(
            ...     ["man", "woman", "king", "queen"],
            ...     np.array([[1.0, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1]]),
            ... )
            >>> vectors.analogy("man", "king", "woman")[0][0]
            'queen'
        """
        if method not in ("3cosadd", "3cosmul"):
            raise OptionError(f"method must be '3cosadd' or '3cosmul', got {method!r}")
        query = self.most_similar if method == "3cosadd" else self.most_similar_cosmul
        return query(positive=[b, c], negative=[a], topn=k, restrict_vocab=restrict_vocab)

    # -- similarities and distances -------------------------------------------------------------

    def _cosines(
        self, query: NDArray[np.floating], rows: NDArray[np.int64] | None
    ) -> NDArray[np.floating]:
        """Cosines of a unit (or zero, or NaN) query with ``rows`` (all when ``None``), clipped;
        NaN for rows that are not finite."""
        unit = self._unit_matrix()
        scores = np.clip((unit if rows is None else unit[rows]) @ query, -1.0, 1.0)
        bad = self._bad()
        if bad.size:
            if rows is None:
                scores[bad] = np.nan
            else:
                scores[np.isin(rows, bad)] = np.nan
        return scores

    def _value_query(self, word_or_vector: str | ArrayLike) -> NDArray[np.floating]:
        """A word's unit row (NaN if not finite) or a vector scaled to unit length (zero stays
        zero): the query of similarity values, which follow gensim in giving NaN. (A hook, as
        :meth:`_term_vector`.)"""
        if isinstance(word_or_vector, str):
            row = self._row(word_or_vector)
            if not np.isfinite(self._row_norms()[row]):
                return np.full(self.dim, np.nan, dtype=self._work_dtype)
            return self._unit_matrix()[row]
        try:
            vector = np.asarray(word_or_vector, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise OptionTypeError(
                f"the vector must be a word or {self.dim} numbers: {err}"
            ) from None
        if vector.shape != (self.dim,):
            raise ShapeError(f"the vector must have shape ({self.dim},), got {vector.shape}")
        with np.errstate(over="ignore", invalid="ignore"):
            norm = float(np.sqrt(vector @ vector))
        if not np.isfinite(norm):  # NaN or inf in, NaN out (as gensim), without warnings
            return np.full(self.dim, np.nan, dtype=self._work_dtype)
        return (vector * (1.0 / norm if norm > 0 else 0.0)).astype(self._work_dtype)

    def similarity(self, w1: str, w2: str) -> float:
        """Cosine similarity of two tokens (0.0 when either vector is zero, NaN when either is
        not finite).

        Example:
            >>> Vectors(["x", "y"], np.array([[1.0, 0], [1, 1]])).similarity("x", "y")
            0.7071067811865475
        """
        return float(self._cosines(self._value_query(w1), np.array([self._row(w2)]))[0])

    def distance(self, w1: str, w2: str) -> float:
        """Cosine distance ``1 - similarity(w1, w2)``.

        Example:
            >>> Vectors(["x", "y"], np.array([[1.0, 0], [0, 1]])).distance("x", "y")
            1.0
        """
        return 1.0 - self.similarity(w1, w2)

    def distances(
        self, word_or_vector: str | ArrayLike, other_words: Sequence[str] = ()
    ) -> NDArray[np.floating]:
        """Cosine distances from a word or vector to ``other_words``, or to every token
        (itself included) when empty; NaN for rows that are not finite.

        Example:
            >>> Vectors(["x", "y", "z"], np.array([[1.0, 0], [0, 1], [-1, 0]])).distances("x")
            array([0., 1., 2.])
        """
        if isinstance(other_words, str):
            other_words = [other_words]  # one word, not its characters
        rows = (
            np.array([self._row(word) for word in other_words], dtype=np.int64)
            if len(other_words)
            else None
        )
        return 1 - self._cosines(self._value_query(word_or_vector), rows)

    def closer_than(self, key1: str, key2: str) -> list[str]:
        """Tokens closer to ``key1`` than ``key2`` is (by cosine distance), in row order.

        Raises:
            OptionError: ``key1`` or ``key2`` is zero or not finite.

        Example:
            >>> vectors = Vectors(["x", "y", "xy"], np.array([[1.0, 0], [0, 1], [1, 1]]))
            >>> vectors.closer_than("x", "y")
            ['xy']
        """
        first = self._usable_row(key1)
        second = self._usable_row(key2)
        distances = self.distances(key1)
        closer = np.flatnonzero(distances < distances[second])
        return [self._tokens[row] for row in closer.tolist() if row != first]

    def rank(self, key1: str, key2: str) -> int:
        """Rank of ``key2`` among the neighbours of ``key1``: ``len(closer_than(key1, key2)) + 1``.

        Example:
            >>> Vectors(["x", "y", "xy"], np.array([[1.0, 0], [0, 1], [1, 1]])).rank("x", "y")
            2
        """
        return len(self.closer_than(key1, key2)) + 1

    def n_similarity(self, ws1: Sequence[str], ws2: Sequence[str]) -> float:
        """Cosine similarity of the mean vectors of two lists of tokens (gensim's).

        Raises:
            OptionError: an empty list.
            TokenError: an unknown token (gensim skips it).

        Example:
            >>> vectors = Vectors(["a", "b", "c"], np.array([[1.0, 0], [0, 1], [1, 1]]))
            >>> round(vectors.n_similarity(["a", "b"], ["c"]), 6)
            1.0
        """
        means = []
        for name, words in (("ws1", ws1), ("ws2", ws2)):
            words = [words] if isinstance(words, str) else list(words)
            if not words:
                raise OptionError(f"{name} is empty; n_similarity needs a token on each side")
            means.append(self.get_mean_vector(words, pre_normalize=False, ignore_missing=False))
        first, second = (self._value_query(mean) for mean in means)
        with np.errstate(invalid="ignore"):
            return float(np.clip(first @ second, -1.0, 1.0))

    def get_mean_vector(
        self,
        keys: Sequence[Key],
        weights: ArrayLike | None = None,
        pre_normalize: bool = True,
        post_normalize: bool = False,
        ignore_missing: bool = True,
    ) -> NDArray[np.floating]:
        """The weighted mean of the vectors of ``keys`` (gensim's ``get_mean_vector``).

        Args:
            keys: tokens and ``(D,)`` vectors.
            weights: one weight per key (default 1); the sum is divided by the sum of the
                absolute weights of the keys used.
            pre_normalize: use the tokens' unit vectors (vectors are used as given).
            post_normalize: scale the mean to unit length.
            ignore_missing: skip unknown tokens; ``False`` raises :class:`~embtable.TokenError`.

        Raises:
            OptionError: no keys.
            ShapeError: ``weights`` of another length, or a vector of another dimension.

        Example:
            >>> vectors = Vectors(["a", "b"], np.array([[2.0, 0], [0, 4]]))
            >>> vectors.get_mean_vector(["a", "b"])
            array([0.5, 0.5])
            >>> vectors.get_mean_vector(["a", "b", "zz"], pre_normalize=False)
            array([1., 2.])
        """
        keys = [keys] if isinstance(keys, str) else list(keys)
        if not keys:
            raise OptionError("cannot compute the mean of no keys")
        weight_array = (
            np.ones(len(keys), dtype=self._matrix.dtype)
            if weights is None
            else np.asarray(weights, dtype=self._matrix.dtype).reshape(-1)
        )
        if weight_array.shape != (len(keys),):
            raise ShapeError(
                f"weights must have one value per key ({len(keys)}), got {weight_array.size}"
            )
        mean = np.zeros(self.dim, dtype=self._matrix.dtype)
        total = 0.0
        for key, weight in zip(keys, weight_array, strict=True):
            if isinstance(key, str):
                row = self._token_to_id.get(key)
                if row is None:
                    if ignore_missing:
                        continue
                    self._row(key)  # raises TokenError
                if pre_normalize:
                    vector = (
                        self._unit_matrix()[row]
                        if np.isfinite(self._row_norms()[row])
                        else np.full(self.dim, np.nan, dtype=self._matrix.dtype)
                    )
                else:
                    vector = self._matrix[row]
            else:
                vector = np.asarray(key, dtype=self._matrix.dtype)
                if vector.shape != (self.dim,):
                    raise ShapeError(
                        f"a key vector must have shape ({self.dim},), got {vector.shape}"
                    )
            mean += weight * vector
            total += abs(float(weight))
        if total > 0:
            mean = mean / total
        if post_normalize:
            mean = self._value_query(mean)
        return mean

    def rank_by_centrality(
        self, words: Sequence[str], use_norm: bool = True
    ) -> list[tuple[float, str]]:
        """Tokens ranked by cosine with the normalised mean of their vectors (gensim's).

        Args:
            words: the tokens.
            use_norm: average unit vectors (``False``: the vectors as they are, scored by their
                dot product with the unit mean, as gensim: not cosines).

        Returns:
            ``[(cosine, token), ...]``, most central first (ties: the greater token first).

        Raises:
            OptionError: no words, or a word whose vector is zero or not finite.
            TokenError: an unknown word (gensim skips it).

        Example:
            >>> vectors = Vectors(["a", "b", "c"], np.array([[1.0, 0], [1, 0.1], [-0.5, 1]]))
            >>> [word for _, word in vectors.rank_by_centrality(["a", "b", "c"])]
            ['b', 'a', 'c']
        """
        words = [words] if isinstance(words, str) else list(words)
        if not words:
            raise OptionError("cannot rank an empty list of words")
        rows = np.array([self._usable_row(word) for word in words], dtype=np.int64)
        chosen = (self._unit_matrix() if use_norm else self._matrix)[rows]
        mean = self._normalised(chosen.sum(axis=0) / len(words), "the mean of the words")
        scores = chosen @ mean
        if use_norm:
            scores = np.clip(scores, -1.0, 1.0)  # cosines; raw rows give projections
        return sorted(zip(scores.tolist(), words, strict=True), reverse=True)

    def doesnt_match(self, words: Sequence[str]) -> str:
        """The token of ``words`` furthest from the mean of them all (gensim's).

        Example:
            >>> vectors = Vectors(
            ...     ["cat", "dog", "car"], np.array([[1.0, 0.1], [0.9, 0.2], [-0.1, 1]])
            ... )
            >>> vectors.doesnt_match(["cat", "dog", "car"])
            'car'
        """
        return self.rank_by_centrality(words)[-1][1]

    # -- alignment to a vocabulary --------------------------------------------------------------

    def align(
        self,
        vocab: Any,
        *,
        oov: Literal["random", "zeros", "mean"] = "random",
        padding_idx: int | None = None,
        rng: int | np.random.Generator | None = None,
        lowercase_fallback: bool = True,
    ) -> tuple[NDArray[np.floating], Coverage]:
        """Build the ``(len(vocab), D)`` matrix whose row ``i`` is the vector of token ``i``.

        Args:
            vocab: an :class:`embtable.text.Vocab` or a sequence of tokens.
            oov: rows of tokens without a vector: ``"random"`` draws
                ``normal(0, matrix.std())`` from ``rng``, ``"zeros"``, or ``"mean"`` (the mean
                vector of the whole table).
            padding_idx: the row to set to zero; ``None`` uses ``vocab.pad_id`` when there is
                one. Negative values count from the end.
            rng: seed or ``numpy.random.Generator`` for ``"random"``.
            lowercase_fallback: look a token up in lower case when it is absent as it is.

        Returns:
            ``(matrix, coverage)``; the matrix has the dtype of these vectors.

        Shape:
            ``(len(vocab), self.dim)``.

        Raises:
            PaddingIndexError: ``padding_idx`` outside ``-len(vocab) .. len(vocab) - 1``.
            OptionError: an unknown ``oov``, or ``"random"``/``"mean"`` on an empty table.

        Example:
            >>> vectors = Vectors(["cat", "dog"], np.array([[1.0, 2.0], [3.0, 4.0]]))
            >>> from embtable.text import Vocab
            >>> vocab = Vocab.build([["cat", "Dog", "emu"]])
            >>> matrix, coverage = vectors.align(vocab, oov="zeros")
            >>> matrix
            array([[0., 0.],
                   [0., 0.],
                   [1., 2.],
                   [3., 4.],
                   [0., 0.]])
            >>> coverage
            Coverage(total=3, matched=1, lowercase_matched=1, missing=1, missing_tokens=('emu',))
            >>> round(coverage.ratio, 3)
            0.667
        """
        if oov not in ("random", "zeros", "mean"):
            raise OptionError(f"oov must be 'random', 'zeros' or 'mean', got {oov!r}")
        tokens = list(vocab.id_to_token) if hasattr(vocab, "id_to_token") else list(vocab)
        specials = set(getattr(vocab, "specials", ()))
        size = len(tokens)
        if padding_idx is None:
            padding_idx = getattr(vocab, "pad_id", None)
        elif (
            isinstance(padding_idx, bool)
            or not isinstance(padding_idx, (int, np.integer))
            or not -size <= padding_idx < size
        ):
            raise PaddingIndexError(
                f"padding_idx {padding_idx!r} is out of range for a vocabulary of {size} tokens "
                f"(valid: {-size}..{size - 1})"
            )
        elif padding_idx < 0:
            padding_idx += size
        if oov != "zeros" and len(self) == 0:
            raise OptionError(f"oov={oov!r} needs a non-empty table; use oov='zeros'")

        rows = np.full(size, -1, dtype=np.int64)
        matched = lowercase_matched = 0
        missing: list[str] = []
        lookup = self._token_to_id
        for index, token in enumerate(tokens):
            row = lookup.get(token)
            lowered = False
            if row is None and lowercase_fallback:
                row = lookup.get(token.lower())
                lowered = row is not None
            if row is not None:
                rows[index] = row
            if token in specials:
                continue
            if row is None:
                missing.append(token)
            elif lowered:
                lowercase_matched += 1
            else:
                matched += 1
        found = rows >= 0
        out = np.empty((size, self.dim), dtype=self._matrix.dtype)
        out[found] = self._matrix[rows[found]]
        absent = ~found
        if oov == "zeros":
            out[absent] = 0
        elif oov == "mean":
            out[absent] = self._matrix.mean(axis=0)
        else:
            generator = np.random.default_rng(rng)
            scale = float(self._matrix.std())
            out[absent] = generator.normal(0.0, scale, size=(int(absent.sum()), self.dim))
        if padding_idx is not None:
            out[padding_idx] = 0
        coverage = Coverage(
            total=matched + lowercase_matched + len(missing),
            matched=matched,
            lowercase_matched=lowercase_matched,
            missing=len(missing),
            missing_tokens=tuple(missing),
        )
        return out, coverage


def _is_number(value: object) -> bool:
    """A real number that is not a bool (gensim's ``(key, weight)`` weights, vector entries)."""
    return isinstance(value, Real) and not isinstance(value, (bool, np.bool_))
