"""A vocabulary and its embedding table as one unit, saved and loaded as one directory.

``<pad>`` is the table's ``padding_idx`` and ``<unk>`` the id of unknown words, so texts go in and
vectors (or ids, for a model) come out, with no bookkeeping left to the caller. The directory is
embtable's table format (:mod:`embtable.io.tables`): ``weights.safetensors``, ``vocab.json`` and
``config.json`` (the layer's settings and the tokenizer), and it can be loaded memory-mapped and
read-only for tables larger than memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._errors import ShapeError
from ..io.tables import load_table, save_table
from ..layers import Embedding
from .tokenize import Tokenizer, get_tokenizer
from .vocab import Vocab

__all__ = [
    "TextEmbedding",
    "build_vocab",
    "check_pairing",
    "layer_settings",
    "read_text_embedding",
    "table_config",
]

_FORMAT = "embtable-text-embedding"
_SETTINGS = ("max_norm", "norm_type", "scale_grad_by_freq", "sparse")


def build_vocab(
    texts: Iterable[str],
    *,
    tokenizer: str | Tokenizer = "regex",
    min_freq: int = 1,
    max_size: int | None = None,
    specials: Sequence[str] = ("<unk>", "<pad>"),
) -> Vocab:
    """A :class:`Vocab` of the tokens of ``texts`` (see :meth:`Vocab.build`)."""
    tokenize = get_tokenizer(tokenizer)
    return Vocab.build(
        (tokenize(text) for text in texts),
        specials=specials,
        min_freq=min_freq,
        max_size=max_size,
    )


def check_pairing(vocab: Vocab, num_embeddings: int, padding_idx: int | None) -> None:
    """A table pairs with a vocabulary when it has one row per token and pads at ``<pad>``.

    Raises:
        ShapeError: the row count differs from the vocabulary's size.
        ValueError: ``padding_idx`` is not the vocabulary's ``<pad>`` id.
    """
    if num_embeddings != len(vocab):
        raise ShapeError(
            f"the table has {num_embeddings} rows but the vocabulary has {len(vocab)} tokens; "
            f"they must match"
        )
    if padding_idx != vocab.pad_id:
        raise ValueError(
            f"the table's padding_idx {padding_idx} is not the vocabulary's <pad> id {vocab.pad_id}"
        )


def table_config(tokenizer: str | Tokenizer, layer: Any, requires_grad: bool) -> dict[str, Any]:
    """The ``config.json`` of a text-embedding directory: the layer's settings and tokenizer.

    Raises:
        ValueError: the tokenizer is a callable, which cannot be saved by name.
    """
    if not isinstance(tokenizer, str):
        raise ValueError(
            "a TextEmbedding with a callable tokenizer cannot be saved; use a tokenizer name "
            "('regex', 'regex-cased', 'whitespace') or pass the callable again to load()"
        )
    return {
        "format": _FORMAT,
        "version": 1,
        "tokenizer": tokenizer,
        "padding_idx": layer.padding_idx,
        "requires_grad": requires_grad,
        **{name: getattr(layer, name) for name in _SETTINGS},
    }


def read_text_embedding(
    directory: str | os.PathLike[str], *, mmap: bool = False
) -> tuple[NDArray[np.floating], Vocab, dict[str, Any]]:
    """Read a text-embedding directory: ``(weight, vocab, config)``.

    ``config`` holds ``padding_idx``, ``requires_grad``, ``tokenizer`` and the layer settings
    (``max_norm``, ``norm_type``, ``scale_grad_by_freq``, ``sparse``) that were saved; a table
    written by ``embtable train`` has only some of them.
    """
    weight, _, config = load_table(directory, mmap=mmap)
    vocab = Vocab.load(os.path.join(os.fspath(directory), "vocab.json"))
    return weight, vocab, config


def layer_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The ``Embedding`` keyword arguments stored in a ``config.json``."""
    return {name: config[name] for name in _SETTINGS if name in config}


class TextEmbedding:
    """A :class:`Vocab` paired with an :class:`~embtable.Embedding` of one row per token.

    Args:
        vocab: the vocabulary; its ``<pad>`` becomes the table's ``padding_idx``.
        embedding: a table with ``len(vocab)`` rows, or ``None`` for a fresh N(0, 1) table of
            ``embedding_dim`` columns.
        embedding_dim: the width of a fresh table.
        tokenizer: a tokenizer name (``"regex"``, ``"regex-cased"``, ``"whitespace"``) or a
            callable; a name is saved with the directory, a callable is not.
        rng: seed or generator for a fresh table.
        **options: ``Embedding`` options for a fresh table (``max_norm``, ``sparse``, ...).

    Raises:
        ShapeError: ``embedding`` does not have one row per token.
        ValueError: ``embedding.padding_idx`` is not the vocabulary's ``<pad>`` id.

    Example:
        >>> vocab = Vocab.build([["the", "cat", "sat"], ["the", "dog"]])
        >>> text_embedding = TextEmbedding(vocab, embedding_dim=4, rng=0)
        >>> text_embedding
        TextEmbedding(vocab=6 tokens, Embedding(6, 4, padding_idx=1), tokenizer='regex')
        >>> ids, lengths = text_embedding.encode(["The cat", "a dog sat"])
        >>> ids
        array([[2, 3, 1],
               [0, 5, 4]])
        >>> text_embedding(["The cat", "a dog sat"]).shape
        (2, 3, 4)
    """

    def __init__(
        self,
        vocab: Vocab,
        embedding: Embedding | None = None,
        *,
        embedding_dim: int | None = None,
        tokenizer: str | Tokenizer = "regex",
        rng: int | np.random.Generator | None = None,
        **options: Any,
    ) -> None:
        if embedding is None:
            if embedding_dim is None:
                raise TypeError("give an embedding, or embedding_dim for a fresh table")
            embedding = Embedding(
                len(vocab), embedding_dim, padding_idx=vocab.pad_id, rng=rng, **options
            )
        elif embedding_dim is not None and embedding_dim != embedding.embedding_dim:
            raise ShapeError(
                f"embedding_dim {embedding_dim} does not match the table's width "
                f"{embedding.embedding_dim}"
            )
        check_pairing(vocab, embedding.num_embeddings, embedding.padding_idx)
        self.vocab = vocab
        self.embedding = embedding
        self.tokenizer = tokenizer

    @classmethod
    def from_texts(
        cls,
        texts: Iterable[str],
        embedding_dim: int,
        *,
        tokenizer: str | Tokenizer = "regex",
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = ("<unk>", "<pad>"),
        rng: int | np.random.Generator | None = None,
        **options: Any,
    ) -> TextEmbedding:
        """Build the vocabulary from ``texts`` and a fresh table for it.

        Example:
            >>> TextEmbedding.from_texts(["a b b", "b c"], 3, rng=0).vocab.id_to_token
            ['<unk>', '<pad>', 'b', 'a', 'c']
        """
        vocab = build_vocab(
            texts, tokenizer=tokenizer, min_freq=min_freq, max_size=max_size, specials=specials
        )
        return cls(vocab, embedding_dim=embedding_dim, tokenizer=tokenizer, rng=rng, **options)

    @classmethod
    def from_vectors(
        cls,
        vectors: Any,
        vocab: Vocab,
        *,
        oov: str = "random",
        freeze: bool = True,
        tokenizer: str | Tokenizer = "regex",
        rng: int | np.random.Generator | None = None,
        lowercase_fallback: bool = True,
        **options: Any,
    ) -> TextEmbedding:
        """Pair ``vocab`` with the rows of pre-trained ``vectors`` (see
        :meth:`Embedding.from_vectors`); ``embedding.coverage`` reports the match."""
        embedding = Embedding.from_vectors(
            vectors,
            vocab,
            oov=oov,
            freeze=freeze,
            padding_idx=vocab.pad_id,
            rng=rng,
            lowercase_fallback=lowercase_fallback,
            **options,
        )
        return cls(vocab, embedding, tokenizer=tokenizer)

    @property
    def padding_idx(self) -> int | None:
        return self.embedding.padding_idx

    @property
    def unk_id(self) -> int | None:
        return self.vocab.unk_id

    def encode(
        self, texts: Iterable[str | Sequence[str]], *, max_length: int | None = None
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Padded ids ``(B, L)`` and lengths ``(B,)``; unknown words become ``<unk>``."""
        ids, lengths = self.vocab.encode(texts, tokenizer=self.tokenizer, max_length=max_length)
        return ids, lengths  # type: ignore[return-value]

    def encode_bags(
        self, texts: Iterable[str | Sequence[str]], *, max_length: int | None = None
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Flat ids and offsets, for an ``EmbeddingBag``."""
        return self.vocab.encode_bags(texts, tokenizer=self.tokenizer, max_length=max_length)

    def __call__(
        self, texts: Iterable[str | Sequence[str]], *, max_length: int | None = None
    ) -> NDArray[np.floating]:
        """The vectors of a batch of texts, ``(B, L, D)``; padding positions get the zero row."""
        ids, _ = self.encode(texts, max_length=max_length)
        return self.embedding(ids)

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Write ``weights.safetensors``, ``vocab.json`` and ``config.json`` to ``directory``.

        Raises:
            ValueError: the tokenizer is a callable, which cannot be saved by name.
        """
        layer = self.embedding
        config = table_config(self.tokenizer, layer, layer.weight.requires_grad)
        save_table(directory, layer.weight.data, self.vocab, config)

    @classmethod
    def load(
        cls,
        directory: str | os.PathLike[str],
        *,
        mmap: bool = False,
        tokenizer: str | Tokenizer | None = None,
    ) -> TextEmbedding:
        """Read a directory written by :meth:`save` (or by ``embtable train``).

        Args:
            directory: the table directory.
            mmap: map the table read-only instead of reading it; the layer is then frozen.
            tokenizer: override the saved tokenizer (e.g. a callable).

        Example:
            >>> import tempfile
            >>> vocab = Vocab.build([["the", "cat"]])
            >>> original = TextEmbedding(vocab, embedding_dim=2, rng=0)
            >>> with tempfile.TemporaryDirectory() as tmp:
            ...     original.save(tmp)
            ...     loaded = TextEmbedding.load(tmp)
            >>> bool((loaded.embedding.weight.data == original.embedding.weight.data).all())
            True
        """
        weight, vocab, config = read_text_embedding(directory, mmap=mmap)
        trainable = bool(config.get("requires_grad", True)) and not mmap
        embedding = Embedding.from_pretrained(
            weight,
            freeze=not trainable,
            padding_idx=config.get("padding_idx", vocab.pad_id),
            **layer_settings(config),
        )
        saved_tokenizer = config.get("tokenizer", "regex")
        return cls(
            vocab, embedding, tokenizer=tokenizer if tokenizer is not None else saved_tokenizer
        )

    def __repr__(self) -> str:
        return (
            f"TextEmbedding(vocab={len(self.vocab)} tokens, {self.embedding!r}, "
            f"tokenizer={self.tokenizer!r})"
        )
