"""Pre-trained word vectors: loading, saving, neighbours, analogies and alignment to a vocabulary.

Example:
    >>> tokens = ["king", "queen", "man", "woman", "apple"]
    >>> matrix = np.array(
    ...     [[0.9, 0.8, 0.1], [0.9, 0.1, 0.8], [0.1, 0.9, 0.1], [0.1, 0.1, 0.9], [-1, 0, 0]]
    ... )
    >>> vectors = Vectors(tokens, matrix)
    >>> vectors
    Vectors(5 tokens, dim=3, dtype=float64)
    >>> [(word, round(score, 3)) for word, score in vectors.most_similar("king", k=2)]
    [('man', 0.745), ('queen', 0.664)]
    >>> vectors.analogy("man", "king", "woman")[0][0]
    'queen'
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from ._errors import PaddingIndexError, ShapeError

__all__ = ["Coverage", "Vectors"]

LoadFormat = Literal["auto", "word2vec", "word2vec-binary", "glove", "fasttext", "embtable"]
SaveFormat = Literal["word2vec", "word2vec-binary", "glove", "fasttext", "embtable"]
_LOAD_FORMATS = ("auto", "word2vec", "word2vec-binary", "glove", "fasttext", "embtable")
_SAVE_FORMATS = _LOAD_FORMATS[1:]
_COSMUL_EPSILON = 1e-6  # gensim's most_similar_cosmul


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
    """

    total: int
    matched: int
    lowercase_matched: int
    missing: int
    missing_tokens: tuple[str, ...]

    @property
    def ratio(self) -> float:
        """Share of tokens found, ``(matched + lowercase_matched) / total`` (1.0 when empty)."""
        if self.total == 0:
            return 1.0
        return (self.matched + self.lowercase_matched) / self.total


class Vectors:
    """A table of word vectors: ``tokens[i]`` has the vector ``matrix[i]``.

    Cosine queries use a row-normalised copy of the matrix, built once on first use (zero rows
    stay zero); modifying ``matrix`` in place afterwards leaves that cache stale.

    Args:
        tokens: distinct token strings.
        matrix: ``(len(tokens), D)`` floating array, kept without copying.

    Raises:
        ShapeError: ``matrix`` is not 2-D with one row per token.
        TypeError: ``matrix`` is not floating.
        ValueError: a token repeats.
    """

    def __init__(self, tokens: Sequence[str], matrix: ArrayLike) -> None:
        array = np.asarray(matrix)
        if array.ndim != 2 or array.shape[0] != len(tokens):
            raise ShapeError(
                f"matrix must have shape ({len(tokens)}, D), one row per token, got {array.shape}"
            )
        if array.dtype.kind != "f":
            raise TypeError(
                f"matrix must be floating, got {array.dtype}; convert with "
                f"matrix.astype(np.float32)"
            )
        token_to_id: dict[str, int] = {}
        for index, token in enumerate(tokens):
            first = token_to_id.setdefault(token, index)
            if first != index:
                raise ValueError(f"token {token!r} appears twice, at rows {first} and {index}")
        self._tokens = list(tokens)
        self._token_to_id = token_to_id
        self._matrix = array
        self._unit: NDArray[np.floating] | None = None

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
            ValueError: an unknown ``format`` or ``duplicates``, or ``mmap`` with a text file.
        """
        from . import io as vio
        from .io import _parse

        if format not in _LOAD_FORMATS:
            raise ValueError(
                f"format must be one of {', '.join(repr(f) for f in _LOAD_FORMATS)}, got {format!r}"
            )
        _parse.check_duplicates_mode(duplicates)
        _parse.check_limit(limit)
        if format == "auto":
            format = vio.detect_format(path)
        if format == "embtable":
            weight, tokens, _ = vio.load_table(path, mmap=mmap)
            if limit is not None:
                weight, tokens = weight[:limit], tokens[:limit]
            if dtype is not None and np.dtype(dtype) != weight.dtype:
                weight = weight.astype(_parse.float_dtype(dtype))
            return cls(tokens, weight)
        if mmap:
            raise ValueError(
                f"mmap=True needs an embtable table directory; {format!r} files are parsed "
                f"into memory"
            )
        readers = {
            "word2vec": vio.read_word2vec_text,
            "word2vec-binary": vio.read_word2vec_binary,
            "glove": vio.read_glove,
            "fasttext": vio.read_fasttext_vec,
        }
        tokens, matrix = readers[format](
            path,
            limit=limit,
            dtype=np.float32 if dtype is None else dtype,
            duplicates=duplicates,
            progress=progress,
            encoding=encoding,
            unicode_errors=unicode_errors,
        )
        return cls(tokens, matrix)

    def save(
        self,
        path: str | os.PathLike[str],
        *,
        format: SaveFormat = "word2vec",
        config: dict[str, Any] | None = None,
    ) -> None:
        """Write the vectors; files ending in ``.gz``/``.bz2`` are compressed.

        Args:
            path: the file, or the directory for ``format="embtable"``.
            format: ``"word2vec"`` (text, the default), ``"word2vec-binary"`` (float32),
                ``"glove"``, ``"fasttext"`` (``.vec``) or ``"embtable"`` (a table directory).
            config: ``config.json`` of an embtable table.

        Raises:
            ValueError: an unknown format, or a token with whitespace (text formats).

        Example:
            >>> import tempfile, pathlib
            >>> tmp = tempfile.TemporaryDirectory()
            >>> vectors = Vectors(["a", "b"], np.eye(2, dtype=np.float32))
            >>> vectors.save(pathlib.Path(tmp.name) / "v.bin", format="word2vec-binary")
            >>> Vectors.load(pathlib.Path(tmp.name) / "v.bin") == vectors
            True
            >>> tmp.cleanup()
        """
        from . import io as vio

        if format not in _SAVE_FORMATS:
            raise ValueError(
                f"format must be one of {', '.join(repr(f) for f in _SAVE_FORMATS)}, got {format!r}"
            )
        if format == "embtable":
            vio.save_table(path, self._matrix, self._tokens, config)
            return
        if config is not None:
            raise ValueError(f"config is saved only with format='embtable', not {format!r}")
        writers = {
            "word2vec": vio.write_word2vec_text,
            "word2vec-binary": vio.write_word2vec_binary,
            "glove": vio.write_glove,
            "fasttext": vio.write_fasttext_vec,
        }
        writers[format](path, self._tokens, self._matrix)

    # -- container protocol -----------------------------------------------------------------

    @property
    def tokens(self) -> list[str]:
        """The tokens, row order (do not modify)."""
        return self._tokens

    @property
    def matrix(self) -> NDArray[np.floating]:
        """The ``(len, dim)`` matrix."""
        return self._matrix

    @property
    def dim(self) -> int:
        """Vector dimension ``D``."""
        return int(self._matrix.shape[1])

    @property
    def token_to_id(self) -> dict[str, int]:
        """Row of each token (do not modify)."""
        return self._token_to_id

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._token_to_id

    def __iter__(self) -> Iterator[str]:
        return iter(self._tokens)

    def __getitem__(self, token: str) -> NDArray[np.floating]:
        """The vector of ``token`` (a view of its row)."""
        return self._matrix[self._row(token)]

    def get(self, token: str, default: Any = None) -> Any:
        """The vector of ``token``, or ``default`` when absent."""
        row = self._token_to_id.get(token)
        return default if row is None else self._matrix[row]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vectors):
            return NotImplemented
        return (
            self._tokens == other._tokens
            and self._matrix.dtype == other._matrix.dtype
            and np.array_equal(self._matrix, other._matrix)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Vectors({len(self)} tokens, dim={self.dim}, dtype={self._matrix.dtype})"

    def _row(self, token: str) -> int:
        try:
            return self._token_to_id[token]
        except KeyError:
            raise KeyError(
                f"token {token!r} is not among the {len(self)} tokens of these vectors"
            ) from None

    # -- cosine queries -----------------------------------------------------------------------

    def _unit_matrix(self) -> NDArray[np.floating]:
        if self._unit is None:
            norms = np.linalg.norm(self._matrix, axis=1, keepdims=True)
            norms[norms == 0] = 1
            unit = self._matrix / norms
            unit.flags.writeable = False
            self._unit = unit
        return self._unit

    def _query(self, word_or_vector: str | ArrayLike, name: str) -> NDArray[np.floating]:
        if isinstance(word_or_vector, str):
            return self._unit_matrix()[self._row(word_or_vector)]
        vector = np.asarray(word_or_vector, dtype=self._matrix.dtype)
        if vector.shape != (self.dim,):
            raise ShapeError(f"{name} must have shape ({self.dim},), got {vector.shape}")
        norm = np.linalg.norm(vector)
        if not norm > 0:
            raise ValueError(f"{name} has norm {norm}; cosine needs a nonzero finite vector")
        return vector / norm

    def _top(
        self, scores: NDArray[np.floating], k: int, excluded: Iterable[int]
    ) -> list[tuple[str, float]]:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise ValueError(f"k must be an integer >= 0, got {k!r}")
        excluded = [i for i in excluded if i < scores.size]
        scores[excluded] = -np.inf
        k = min(int(k), scores.size - len(set(excluded)))
        if k <= 0:
            return []
        # The k best, ties kept in row order: every row above the k-th best score, then the
        # first rows equal to it (argpartition alone picks tied rows in no set order).
        # NaN ranks below every number, but above the excluded rows (-inf).
        ranked = np.where(np.isnan(scores), np.finfo(scores.dtype).min, scores)
        threshold = np.partition(ranked, ranked.size - k)[ranked.size - k]
        above = np.flatnonzero(ranked > threshold)
        tied = np.flatnonzero(ranked == threshold)[: k - above.size]
        best = np.concatenate((above, tied))
        best = best[np.lexsort((best, -ranked[best]))]
        tokens = self._tokens
        return [(tokens[i], float(scores[i])) for i in best.tolist()]

    def _restricted(self, restrict_vocab: int | None) -> NDArray[np.floating]:
        unit = self._unit_matrix()
        if restrict_vocab is None:
            return unit
        if (
            isinstance(restrict_vocab, bool)
            or not isinstance(restrict_vocab, int)
            or restrict_vocab < 1
        ):
            raise ValueError(
                f"restrict_vocab must be None or an integer >= 1, got {restrict_vocab!r}"
            )
        return unit[:restrict_vocab]

    def _exclude_ids(self, exclude: Iterable[str]) -> list[int]:
        if isinstance(exclude, str):
            exclude = [exclude]
        return [self._row(word) for word in exclude]

    def most_similar(
        self,
        word_or_vector: str | ArrayLike,
        k: int = 10,
        *,
        exclude: Iterable[str] = (),
        restrict_vocab: int | None = None,
    ) -> list[tuple[str, float]]:
        """The ``k`` tokens of highest cosine similarity, best first.

        Args:
            word_or_vector: a token (itself excluded from the answer) or a ``(D,)`` vector.
            k: how many to return.
            exclude: more tokens to leave out.
            restrict_vocab: search only the first ``restrict_vocab`` rows.

        Returns:
            ``[(token, cosine), ...]``; ties keep row order.

        Raises:
            KeyError: an unknown token, naming it.
            ShapeError: a vector of another dimension.
            ValueError: a zero vector.

        Example:
            >>> vectors = Vectors(["x", "y", "xy"], np.array([[1.0, 0], [0, 1], [1, 1]]))
            >>> [(word, round(cosine, 4)) for word, cosine in vectors.most_similar([1.0, 0.1], k=2)]
            [('x', 0.995), ('xy', 0.774)]
        """
        query = self._query(word_or_vector, "the query vector")
        excluded = self._exclude_ids(exclude)
        if isinstance(word_or_vector, str):
            excluded.append(self._row(word_or_vector))
        scores = self._restricted(restrict_vocab) @ query
        return self._top(scores, k, excluded)

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two tokens (0.0 when either vector is zero).

        Example:
            >>> Vectors(["x", "y"], np.array([[1.0, 0], [1, 1]])).similarity("x", "y")
            0.7071067811865475
        """
        unit = self._unit_matrix()
        return float(unit[self._row(a)] @ unit[self._row(b)])

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

        ``"3cosadd"`` ranks tokens ``x`` by ``cos(x, b̂ - â + ĉ)`` (Mikolov et al.);
        ``"3cosmul"`` by ``cos'(x, b) cos'(x, c) / (cos'(x, a) + ε)`` with
        ``cos' = (cos + 1) / 2`` (Levy & Goldberg, 2014) and ``ε = 1e-6`` (as gensim's
        ``most_similar_cosmul``; the paper used 0.001). ``a``, ``b`` and ``c`` are never
        answers.

        Returns:
            ``[(token, score), ...]``, best first.

        Raises:
            KeyError: an unknown token, naming it.
            ValueError: an unknown ``method``.
        """
        if method not in ("3cosadd", "3cosmul"):
            raise ValueError(f"method must be '3cosadd' or '3cosmul', got {method!r}")
        unit = self._unit_matrix()
        rows = [self._row(a), self._row(b), self._row(c)]
        search = self._restricted(restrict_vocab)
        if method == "3cosadd":
            target = unit[rows[1]] - unit[rows[0]] + unit[rows[2]]
            norm = np.linalg.norm(target)
            scores = search @ (target / norm if norm > 0 else target)
        else:
            cosines = (search @ unit[rows].T + 1) / 2
            scores = cosines[:, 1] * cosines[:, 2] / (cosines[:, 0] + _COSMUL_EPSILON)
        return self._top(scores, k, rows)

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
            ValueError: an unknown ``oov``, or ``"random"``/``"mean"`` on an empty table.

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
            raise ValueError(f"oov must be 'random', 'zeros' or 'mean', got {oov!r}")
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
            raise ValueError(f"oov={oov!r} needs a non-empty table; use oov='zeros'")

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
