"""A token ↔ id vocabulary with counts, special tokens, encoding and JSON persistence."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._errors import EmbeddingIndexError, OptionError, OptionTypeError, TokenError
from ..io.tables import read_vocab_json, write_vocab_json
from .tokenize import PathOrPaths, Tokenizer, get_tokenizer, iter_tokenized

__all__ = ["Vocab"]


class Vocab:
    """A vocabulary: ids ``0 .. len - 1`` for distinct tokens, specials first.

    Usually made with :meth:`build`, :meth:`from_files`, :meth:`from_counts` or :meth:`load`.

    Args:
        id_to_token: the tokens, token ``i`` having id ``i``; no repeats.
        counts: one count per token (default zeros).
        specials: the special tokens, which must be the first ``len(specials)`` tokens.
        unk_token: the special that unknown tokens map to, or ``None`` (unknown tokens raise).
        pad_token: the special used to pad :meth:`encode`, or ``None``.

    Attributes:
        id_to_token: ``list[str]``, token of each id.
        token_to_id: ``dict[str, int]``, id of each token.
        counts: ``int64`` array aligned with the ids (0 for specials).
        specials: ``tuple[str, ...]``.
        unk_id, pad_id: ids of ``unk_token`` and ``pad_token``, or ``None``.

    Raises:
        ValueError: repeated tokens, specials that are not the leading tokens, an unk or pad
            token that is not a special, or counts of another length or negative.

    Example:
        >>> vocab = Vocab.build([["the", "cat"], ["the", "hat"]])
        >>> vocab
        Vocab(5 tokens: '<unk>', '<pad>', 'the', 'cat', 'hat'; unk='<unk>', pad='<pad>')
        >>> vocab["the"], vocab["dog"], "cat" in vocab, len(vocab)
        (2, 0, True, 5)
        >>> vocab.counts
        array([0, 0, 2, 1, 1])
    """

    def __init__(
        self,
        id_to_token: Sequence[str],
        *,
        counts: ArrayLike | None = None,
        specials: Sequence[str] = (),
        unk_token: str | None = None,
        pad_token: str | None = None,
    ) -> None:
        tokens = list(id_to_token)
        token_to_id: dict[str, int] = {}
        for index, token in enumerate(tokens):
            if not isinstance(token, str):
                raise OptionTypeError(f"token {index} must be a str, got {type(token).__name__}")
            first = token_to_id.setdefault(token, index)
            if first != index:
                raise OptionError(f"token {token!r} appears twice, at ids {first} and {index}")
        specials = tuple(specials)
        if tuple(tokens[: len(specials)]) != specials:
            raise OptionError(
                f"specials {specials} must be the first {len(specials)} tokens, "
                f"found {tuple(tokens[: len(specials)])}"
            )
        for role, token in (("unk_token", unk_token), ("pad_token", pad_token)):
            if token is not None and token not in specials:
                raise OptionError(
                    f"{role} {token!r} is not among the specials {specials}; add it to "
                    f"specials or pass {role}=None"
                )
        if counts is None:
            count_array = np.zeros(len(tokens), dtype=np.int64)
        else:
            count_array = np.array(counts, dtype=np.int64).reshape(-1)
            if count_array.shape != (len(tokens),) or (count_array < 0).any():
                raise OptionError(
                    f"counts must hold {len(tokens)} integers >= 0, one per token, "
                    f"got shape {count_array.shape}"
                )
        count_array.flags.writeable = False
        self.id_to_token: list[str] = tokens
        self.token_to_id: dict[str, int] = token_to_id
        self.counts: NDArray[np.int64] = count_array
        self.specials: tuple[str, ...] = specials
        self.unk_token = unk_token
        self.pad_token = pad_token
        self.unk_id: int | None = None if unk_token is None else token_to_id[unk_token]
        self.pad_id: int | None = None if pad_token is None else token_to_id[pad_token]

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        token_lists: Iterable[Iterable[str]],
        *,
        specials: Sequence[str] = ("<unk>", "<pad>"),
        min_freq: int = 1,
        max_size: int | None = None,
        unk_token: str | None = "<unk>",
        pad_token: str | None = "<pad>",
    ) -> Vocab:
        """Count tokens and build a vocabulary.

        Ordering: ``specials`` take ids ``0, 1, ...`` in the order given; then come the other
        tokens by descending count, tokens of equal count in the order they first occur.
        Occurrences of a special token in the data are not counted (its count stays 0).

        Args:
            token_lists: an iterable of token iterables (e.g. :func:`iter_tokenized`); read once.
            specials: special tokens, placed first.
            min_freq: drop tokens seen fewer times than this.
            max_size: keep at most this many *non-special* tokens (the most frequent);
                ``None`` keeps all. The vocabulary has ``len(specials) + max_size`` tokens at most.
            unk_token: the special unknown tokens map to, or ``None``.
            pad_token: the special used for padding, or ``None``.

        Raises:
            ValueError: ``min_freq < 1``, ``max_size < 0``, repeated specials, or an unk/pad
                token missing from ``specials``.
            TypeError: ``token_lists`` yields a plain string (pass lists of tokens).

        Example:
            >>> data = [["b", "a", "c"], ["a", "b", "d"], ["a"]]
            >>> Vocab.build(data, max_size=2).id_to_token
            ['<unk>', '<pad>', 'a', 'b']
            >>> Vocab.build(data, specials=(), unk_token=None, pad_token=None).id_to_token
            ['a', 'b', 'c', 'd']
        """
        counter: Counter[str] = Counter()
        for index, tokens in enumerate(token_lists):
            if isinstance(tokens, str):
                raise OptionTypeError(
                    f"token_lists must yield lists of tokens, item {index} is the str "
                    f"{tokens[:40]!r}; tokenize it first (e.g. Vocab.from_files or iter_tokenized)"
                )
            counter.update(tokens)
        return cls.from_counts(
            counter,
            specials=specials,
            min_freq=min_freq,
            max_size=max_size,
            unk_token=unk_token,
            pad_token=pad_token,
        )

    @classmethod
    def from_counts(
        cls,
        counts: Mapping[str, int],
        *,
        specials: Sequence[str] = ("<unk>", "<pad>"),
        min_freq: int = 1,
        max_size: int | None = None,
        unk_token: str | None = "<unk>",
        pad_token: str | None = "<pad>",
    ) -> Vocab:
        """Build a vocabulary from token counts; ties keep the mapping's order.

        Arguments and ordering as :meth:`build`.

        Example:
            >>> Vocab.from_counts({"x": 1, "y": 3, "z": 1}, min_freq=1).id_to_token
            ['<unk>', '<pad>', 'y', 'x', 'z']
        """
        if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
            raise OptionError(f"min_freq must be an integer >= 1, got {min_freq!r}")
        if max_size is not None and (
            isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 0
        ):
            raise OptionError(f"max_size must be None or an integer >= 0, got {max_size!r}")
        specials = tuple(specials)
        if len(set(specials)) != len(specials):
            raise OptionError(f"specials must be distinct, got {specials}")
        special_set = set(specials)
        items = [
            (token, int(count))
            for token, count in counts.items()
            if token not in special_set and count >= min_freq
        ]
        items.sort(key=lambda item: -item[1])  # stable: ties keep first-occurrence order
        if max_size is not None:
            items = items[:max_size]
        return cls(
            [*specials, *(token for token, _ in items)],
            counts=[0] * len(specials) + [count for _, count in items],
            specials=specials,
            unk_token=unk_token,
            pad_token=pad_token,
        )

    @classmethod
    def from_files(
        cls,
        paths: PathOrPaths,
        *,
        tokenizer: str | Tokenizer = "regex",
        encoding: str = "utf-8",
        **build_kwargs: Any,
    ) -> Vocab:
        """Build a vocabulary from text files, streamed line by line (gzip/bzip2 too).

        Args:
            paths: a path or an iterable of paths.
            tokenizer: a tokenizer name or callable (see :func:`get_tokenizer`).
            encoding: the files' encoding.
            **build_kwargs: passed to :meth:`build`.

        Example:
            >>> import tempfile, pathlib
            >>> tmp = tempfile.TemporaryDirectory()
            >>> path = pathlib.Path(tmp.name) / "corpus.txt"
            >>> _ = path.write_text("The cat sat.\\nThe cat!\\n")
            >>> Vocab.from_files(path, specials=["<unk>"], pad_token=None).id_to_token
            ['<unk>', 'the', 'cat', 'sat']
            >>> tmp.cleanup()
        """
        return cls.build(iter_tokenized(paths, tokenizer, encoding=encoding), **build_kwargs)

    # -- lookups --------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.id_to_token)

    def __contains__(self, token: object) -> bool:
        return token in self.token_to_id

    def __getitem__(self, token: str) -> int:
        """The id of ``token``; unknown ones give ``unk_id``, or ``KeyError`` without one."""
        found = self.token_to_id.get(token)
        if found is not None:
            return found
        if self.unk_id is not None:
            return self.unk_id
        raise TokenError(
            f"token {token!r} is not in the vocabulary of {len(self)} tokens, which has no "
            f"unk_token to map it to"
        )

    def __iter__(self):
        return iter(self.id_to_token)

    def lookup_indices(self, tokens: Iterable[str]) -> NDArray[np.int64]:
        """Ids of ``tokens`` (unknown → ``unk_id``), as a 1-D int64 array.

        Raises:
            KeyError: an unknown token and no ``unk_token``; names the token and position.

        Example:
            >>> Vocab.build([["a", "b"]]).lookup_indices(["b", "zzz", "a"])
            array([3, 0, 2])
        """
        return np.array(self._ids(tokens, where=""), dtype=np.int64)

    def _ids(self, tokens: Iterable[str], where: str) -> list[int]:
        get = self.token_to_id.get
        unk = self.unk_id
        if isinstance(tokens, str):
            raise OptionTypeError(
                f"expected an iterable of tokens{where}, got the str {tokens[:40]!r}"
            )
        tokens = tokens if isinstance(tokens, Sequence) else list(tokens)  # iterated twice
        ids = [get(token, unk) for token in tokens]
        if unk is None and None in ids:
            position = ids.index(None)
            raise TokenError(
                f"token {tokens[position]!r} at position {position}{where} is not in the "
                f"vocabulary of {len(self)} tokens, which has no unk_token to map it to"
            )
        return ids  # type: ignore[return-value]

    def lookup_tokens(self, ids: ArrayLike) -> list[str]:
        """Tokens of ``ids`` (any shape, flattened in C order).

        Raises:
            EmbeddingIndexError: an id outside ``0 .. len - 1`` (an ``IndexError``).
            TypeError: non-integer ids.

        Example:
            >>> Vocab.build([["a", "b"]]).lookup_tokens([3, 2, 0])
            ['b', 'a', '<unk>']
        """
        array = np.asarray(ids)
        if array.size and array.dtype.kind not in "iu":
            raise OptionTypeError(f"ids must be integers, got {array.dtype}")
        flat = array.reshape(-1)
        # compare in the ids' own dtype: casting uint64 to int64 first would wrap 2**64 - 1
        # to -1 and report that
        bad = np.flatnonzero(
            (flat >= len(self)) | ((flat < 0) if flat.dtype.kind == "i" else False)
        )
        if bad.size:
            position = np.unravel_index(int(bad[0]), array.shape) if array.ndim > 1 else int(bad[0])
            where = tuple(int(p) for p in position) if array.ndim > 1 else position
            raise EmbeddingIndexError(
                f"id {int(flat[bad[0]])} at position {where} is out of range for a vocabulary "
                f"of {len(self)} tokens (valid: 0..{len(self) - 1})"
            )
        table = self.id_to_token
        return [table[i] for i in flat.astype(np.int64, copy=False).tolist()]

    # -- encoding -------------------------------------------------------------------------

    def _token_lists(
        self, texts: Iterable[str | Sequence[str]], tokenizer: str | Tokenizer
    ) -> list[Sequence[str]]:
        if isinstance(texts, str):
            raise OptionTypeError(
                "texts must be an iterable of texts, got a single str; wrap it in a list"
            )
        tokenize = get_tokenizer(tokenizer)
        return [text if not isinstance(text, str) else tokenize(text) for text in texts]

    def _encode_lists(
        self,
        texts: Iterable[str | Sequence[str]],
        tokenizer: str | Tokenizer,
        max_length: int | None,
    ) -> list[list[int]]:
        if max_length is not None and (
            isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 0
        ):
            raise OptionError(f"max_length must be None or an integer >= 0, got {max_length!r}")
        encoded = []
        for index, tokens in enumerate(self._token_lists(texts, tokenizer)):
            ids = self._ids(tokens, where=f" of text {index}")
            encoded.append(ids if max_length is None else ids[:max_length])
        return encoded

    def encode(
        self,
        texts: Iterable[str | Sequence[str]],
        *,
        tokenizer: str | Tokenizer = "regex",
        max_length: int | None = None,
        padding: bool = True,
    ) -> (
        tuple[NDArray[np.int64], NDArray[np.int64]]
        | tuple[list[NDArray[np.int64]], NDArray[np.int64]]
    ):
        """Turn texts into id arrays.

        Args:
            texts: strings (tokenised with ``tokenizer``) or already tokenised sequences.
            tokenizer: a tokenizer name or callable (see :func:`get_tokenizer`).
            max_length: keep at most this many ids per text (the first ones).
            padding: pad to the longest text with ``pad_id`` and return one array;
                ``False`` returns a list of 1-D arrays.

        Returns:
            ``(ids, lengths)``: ``ids`` int64 ``(B, L)`` padded (or a list of ``B`` arrays),
            and ``lengths`` int64 ``(B,)``, the count of real ids in each row.

        Shape:
            ``B = len(texts)``, ``L = max(lengths)`` (0 when every text is empty).

        Raises:
            ValueError: ``padding=True`` on a vocabulary without ``pad_token``; bad
                ``max_length``.
            KeyError: an unknown token and no ``unk_token``.

        Example:
            >>> vocab = Vocab.build([["the", "cat", "sat"]])
            >>> vocab.encode(["The cat sat", "the dog"])
            (array([[2, 3, 4],
                   [2, 0, 1]]), array([3, 2]))
        """
        if padding and self.pad_id is None:
            raise OptionError(
                "cannot pad: this vocabulary has no pad_token; build it with one, "
                "or call encode(..., padding=False)"
            )
        encoded = self._encode_lists(texts, tokenizer, max_length)
        lengths = np.array([len(ids) for ids in encoded], dtype=np.int64)
        if not padding:
            return [np.array(ids, dtype=np.int64) for ids in encoded], lengths
        width = int(lengths.max()) if lengths.size else 0
        out = np.full((len(encoded), width), self.pad_id, dtype=np.int64)
        for row, ids in enumerate(encoded):
            out[row, : len(ids)] = ids
        return out, lengths

    def encode_bags(
        self,
        texts: Iterable[str | Sequence[str]],
        *,
        tokenizer: str | Tokenizer = "regex",
        max_length: int | None = None,
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Turn texts into ``(ids, offsets)`` for an ``EmbeddingBag``.

        Returns:
            ``ids`` int64 ``(N,)``, every text's ids one after another, and ``offsets`` int64
            ``(B,)``, where each text starts in ``ids`` (``offsets[0] == 0``; an empty text
            gives an empty bag).

        Example:
            >>> vocab = Vocab.build([["the", "cat", "sat"]])
            >>> vocab.encode_bags(["The cat sat", "", "sat"], max_length=2)
            (array([2, 3, 4]), array([0, 2, 2]))
        """
        encoded = self._encode_lists(texts, tokenizer, max_length)
        lengths = np.array([len(ids) for ids in encoded], dtype=np.int64)
        offsets = np.zeros(len(encoded), dtype=np.int64)
        np.cumsum(lengths[:-1], out=offsets[1:])
        flat = [i for ids in encoded for i in ids]
        return np.array(flat, dtype=np.int64), offsets

    # -- persistence ----------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the vocabulary as JSON (the ``vocab.json`` format of :mod:`embtable.io.tables`).

        Example:
            >>> import tempfile, pathlib
            >>> tmp = tempfile.TemporaryDirectory()
            >>> vocab = Vocab.build([["naïve", "café", "café"]])
            >>> vocab.save(pathlib.Path(tmp.name) / "vocab.json")
            >>> Vocab.load(pathlib.Path(tmp.name) / "vocab.json") == vocab
            True
            >>> tmp.cleanup()
        """
        write_vocab_json(
            path,
            self.id_to_token,
            counts=self.counts.tolist(),
            specials=self.specials,
            unk_token=self.unk_token,
            pad_token=self.pad_token,
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Vocab:
        """Read a vocabulary written by :meth:`save` (or a table's ``vocab.json``).

        Raises:
            VectorFormatError: the file is not a valid vocabulary; names the file.

        Example:
            >>> import os, tempfile
            >>> vocab = Vocab.build([["the", "cat", "the"]])
            >>> with tempfile.TemporaryDirectory() as folder:
            ...     vocab.save(os.path.join(folder, "vocab.json"))
            ...     again = Vocab.load(os.path.join(folder, "vocab.json"))
            >>> again.id_to_token, again.pad_id
            (['<unk>', '<pad>', 'the', 'cat'], 1)
        """
        document = read_vocab_json(path)
        specials = document["specials"]
        if document["tokens"][: len(specials)] != specials:
            from .._errors import VectorFormatError

            raise VectorFormatError(
                f'{os.path.basename(os.fspath(path))}: "specials" {specials} must be the first '
                f"tokens"
            )
        return cls(
            document["tokens"],
            counts=document["counts"],
            specials=specials,
            unk_token=document["unk_token"],
            pad_token=document["pad_token"],
        )

    # -- comparison and display -----------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocab):
            return NotImplemented
        return (
            self.id_to_token == other.id_to_token
            and np.array_equal(self.counts, other.counts)
            and self.specials == other.specials
            and self.unk_token == other.unk_token
            and self.pad_token == other.pad_token
        )

    __hash__ = None  # type: ignore[assignment]  # mutable-looking container: unhashable

    def __repr__(self) -> str:
        shown = ", ".join(repr(t) for t in self.id_to_token[:5])
        if len(self) > 5:
            shown += ", ..."
        return f"Vocab({len(self)} tokens: {shown}; unk={self.unk_token!r}, pad={self.pad_token!r})"
