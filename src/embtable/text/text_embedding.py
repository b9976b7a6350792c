"""A vocabulary and its embedding table as one unit, saved and loaded as one directory.

``<pad>`` is the table's ``padding_idx`` and ``<unk>`` the id of unknown words, so texts go in and
vectors (or ids, for a model) come out, with no bookkeeping left to the caller. The directory is
embtable's table format (:mod:`embtable.io.tables`): ``weights.safetensors``, ``vocab.json`` and
``config.json`` (the layer's settings and the tokenizer), and it can be loaded memory-mapped and
read-only for tables larger than memory.

The table may also be a subword or hashed layer (:class:`~embtable.subword.SubwordEmbedding`,
:class:`~embtable.subword.HashEmbedding`, any :class:`~embtable.subword.IndexedEmbedding`):
then every word gets a real vector, seen in training or not.

**The rule for unknown words and ragged batches** (the same in :mod:`embtable.torch.text`):

* a word of the vocabulary gets its row;
* an unknown word gets, in this order: its subword/hash vector when the table is an
  ``IndexedEmbedding``; the ``<unk>`` row when the vocabulary has an ``<unk>``; else the zero
  vector (and ``encode`` gives it the id ``-1``), as a vocabulary from ``embtable train`` has
  no specials;
* texts of different lengths are padded to the longest: padding positions get the ``<pad>``
  row when the vocabulary has a ``<pad>`` (the table's ``padding_idx``: zero, and never
  trained), else the zero vector (``encode`` pads with ``-1`` then); ``lengths`` tells the real
  lengths;
* :meth:`TextEmbedding.pool` gives one vector per text instead, ``(B, D)``: the mean (or sum)
  of its words' vectors, padding and zero-vector unknown words left out; an empty text gives
  zeros.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from .. import functional as F
from .._errors import OptionError, OptionTypeError, ShapeError
from ..io.tables import load_table, save_table
from ..layers import Embedding
from .tokenize import Tokenizer, get_tokenizer
from .vocab import Vocab

__all__ = [
    "TextEmbedding",
    "build_vocab",
    "check_pairing",
    "encode_padded",
    "layer_settings",
    "read_text_embedding",
    "table_config",
    "token_lists",
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
    """A :class:`Vocab` of the tokens of ``texts`` (see :meth:`Vocab.build`).

    Example:
        >>> build_vocab(["the cat", "the dog"]).id_to_token
        ['<unk>', '<pad>', 'the', 'cat', 'dog']
    """
    tokenize = get_tokenizer(tokenizer)
    return Vocab.build(
        (tokenize(text) for text in texts),
        specials=specials,
        min_freq=min_freq,
        max_size=max_size,
    )


def token_lists(
    texts: Iterable[str | Sequence[str]],
    tokenizer: str | Tokenizer,
    max_length: int | None,
) -> list[Sequence[str]]:
    """Tokenise ``texts`` (strings, or token sequences kept as they are), each cut to
    ``max_length`` tokens.

    Raises:
        OptionTypeError: a single string instead of a list of texts.
        OptionError: a bad ``max_length``.

    Example:
        >>> token_lists(["The cat sat", ["kept", "as", "is"]], "regex", max_length=2)
        [['the', 'cat'], ['kept', 'as']]
    """
    from .._errors import OptionTypeError

    if isinstance(texts, str):
        raise OptionTypeError(
            "texts must be an iterable of texts, got a single str; wrap it in a list"
        )
    if max_length is not None and (
        isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 0
    ):
        raise OptionError(f"max_length must be None or an integer >= 0, got {max_length!r}")
    tokenize = get_tokenizer(tokenizer)
    lists = [text if not isinstance(text, str) else tokenize(text) for text in texts]
    return lists if max_length is None else [tokens[:max_length] for tokens in lists]


def encode_padded(
    vocab: Vocab, lists: Sequence[Sequence[str]]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Ids ``(B, L)`` and lengths ``(B,)`` by the module's rule: unknown words are ``<unk>``
    (or ``-1`` without one), padding is ``<pad>`` (or ``-1`` without one).

    Example:
        >>> vocab = Vocab(["a", "b"])  # no specials, as embtable train writes
        >>> encode_padded(vocab, [["a", "zzz"], ["b"]])
        (array([[ 0, -1],
               [ 1, -1]]), array([2, 1]))
    """
    lengths = np.array([len(tokens) for tokens in lists], dtype=np.int64)
    width = int(lengths.max()) if lengths.size else 0
    pad = -1 if vocab.pad_id is None else vocab.pad_id
    unk = -1 if vocab.unk_id is None else vocab.unk_id
    out = np.full((len(lists), width), pad, dtype=np.int64)
    get = vocab.token_to_id.get
    for row, tokens in enumerate(lists):
        out[row, : len(tokens)] = [get(token, unk) for token in tokens]
    return out, lengths


def bag_offsets(lengths: NDArray[np.int64]) -> NDArray[np.int64]:
    """Where each text's tokens start in the flat token list, ``(B,)``."""
    offsets = np.zeros(lengths.size, dtype=np.int64)
    if lengths.size:
        np.cumsum(lengths[:-1], out=offsets[1:])
    return offsets


def _is_indexed(layer: Any) -> bool:
    from ..subword import IndexedEmbedding

    return isinstance(layer, IndexedEmbedding)


def check_pairing(vocab: Vocab, num_embeddings: int, padding_idx: int | None) -> None:
    """A table pairs with a vocabulary when it has one row per token and pads at ``<pad>``.

    Raises:
        ShapeError: the row count differs from the vocabulary's size.
        OptionError: ``padding_idx`` is not the vocabulary's ``<pad>`` id.

    Example:
        >>> vocab = build_vocab(["the cat"])
        >>> check_pairing(vocab, 4, padding_idx=1)  # 4 tokens, <pad> is id 1: fine
        >>> check_pairing(vocab, 5, padding_idx=1)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
            ...
        embtable._errors.ShapeError: the table has 5 rows but the vocabulary has 4 tokens; ...
    """
    if num_embeddings != len(vocab):
        raise ShapeError(
            f"the table has {num_embeddings} rows but the vocabulary has {len(vocab)} tokens; "
            f"they must match"
        )
    if padding_idx != vocab.pad_id:
        raise OptionError(
            f"the table's padding_idx {padding_idx} is not the vocabulary's <pad> id {vocab.pad_id}"
        )


def table_config(tokenizer: str | Tokenizer, layer: Any, requires_grad: bool) -> dict[str, Any]:
    """The ``config.json`` of a text-embedding directory: the layer's settings and tokenizer.

    Raises:
        OptionError: the tokenizer is a callable, which cannot be saved by name.

    Example:
        >>> from embtable import Embedding
        >>> config = table_config("regex", Embedding(4, 2, padding_idx=1), requires_grad=True)
        >>> config["tokenizer"], config["padding_idx"], config["sparse"]
        ('regex', 1, False)
    """
    if not isinstance(tokenizer, str):
        raise OptionError(
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

    Example:
        >>> import tempfile
        >>> text = TextEmbedding.from_texts(["the cat", "the dog"], 3, rng=0)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     text.save(folder)
        ...     weight, vocab, config = read_text_embedding(folder)
        >>> weight.shape, vocab.id_to_token[2], config["tokenizer"]
        ((5, 3), 'the', 'regex')
    """
    weight, _, config = load_table(directory, mmap=mmap)
    vocab = Vocab.load(os.path.join(os.fspath(directory), "vocab.json"))
    return weight, vocab, config


def layer_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The ``Embedding`` keyword arguments stored in a ``config.json``.

    Example:
        >>> layer_settings({"tokenizer": "regex", "max_norm": 1.0, "sparse": True})
        {'max_norm': 1.0, 'sparse': True}
    """
    return {name: config[name] for name in _SETTINGS if name in config}


class TextEmbedding:
    """A :class:`Vocab` paired with an :class:`~embtable.Embedding` of one row per token, or
    with a subword/hashed :class:`~embtable.subword.IndexedEmbedding` (unknown words and ragged
    batches: see the module's rule).

    Args:
        vocab: the vocabulary; its ``<pad>`` becomes the table's ``padding_idx``. With an
            ``IndexedEmbedding`` it may be ``None`` (it is then the layer's words, if any).
        embedding: a table with ``len(vocab)`` rows, an ``IndexedEmbedding``, or ``None`` for
            a fresh N(0, 1) table of ``embedding_dim`` columns.
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
        >>> text_embedding.pool(["The cat", "a dog sat"]).shape
        (2, 4)

        With subwords, unseen words get vectors:

        >>> from embtable.subword import SubwordEmbedding
        >>> layer = SubwordEmbedding(["cat", "dog"], 4, bucket=1000, rng=0)
        >>> unit = TextEmbedding(None, layer)
        >>> vectors = unit(["cats and dogs", "cat"])
        >>> vectors.shape, bool(vectors[0, 0].any()), bool(vectors[1, 1].any())
        ((2, 3, 4), True, False)
    """

    def __init__(
        self,
        vocab: Vocab | None,
        embedding: Any = None,
        *,
        embedding_dim: int | None = None,
        tokenizer: str | Tokenizer = "regex",
        rng: int | np.random.Generator | None = None,
        **options: Any,
    ) -> None:
        if embedding is not None and _is_indexed(embedding):
            if vocab is None:
                words = getattr(embedding.indexer, "words", None)
                vocab = None if words is None else Vocab(words)
        elif vocab is None:
            raise OptionError("a TextEmbedding over an Embedding needs its vocabulary")
        elif embedding is None:
            if embedding_dim is None:
                raise OptionTypeError("give an embedding, or embedding_dim for a fresh table")
            embedding = Embedding(
                len(vocab), embedding_dim, padding_idx=vocab.pad_id, rng=rng, **options
            )
        if embedding_dim is not None and embedding_dim != embedding.embedding_dim:
            raise ShapeError(
                f"embedding_dim {embedding_dim} does not match the table's width "
                f"{embedding.embedding_dim}"
            )
        if not _is_indexed(embedding):
            check_pairing(vocab, embedding.num_embeddings, embedding.padding_idx)  # type: ignore[arg-type]
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
        :meth:`Embedding.from_vectors`); ``embedding.coverage`` reports the match.

        Example:
            >>> from embtable.vectors import Vectors
            >>> vectors = Vectors(["cat", "dog"], np.array([[1.0, 0.0], [0.0, 1.0]], np.float32))
            >>> text = TextEmbedding.from_vectors(vectors, build_vocab(["cat dog"]), rng=0)
            >>> text.embedding(np.array([text.vocab.token_to_id["dog"]]))
            array([[0., 1.]], dtype=float32)
        """
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
        return getattr(self.embedding, "padding_idx", None)

    @property
    def unk_id(self) -> int | None:
        return None if self.vocab is None else self.vocab.unk_id

    def _vocab(self) -> Vocab:
        if self.vocab is None:
            raise OptionError("this TextEmbedding has no vocabulary (a hashed table): no ids")
        return self.vocab

    def encode(
        self, texts: Iterable[str | Sequence[str]], *, max_length: int | None = None
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Padded ids ``(B, L)`` and lengths ``(B,)``: unknown words are ``<unk>`` and padding
        is ``<pad>``, or ``-1`` where the vocabulary lacks them.

        Example:
            >>> unit = TextEmbedding(Vocab(["a", "b"]), embedding_dim=2, rng=0)
            >>> unit.encode(["a b", "zzz"])
            (array([[ 0,  1],
                   [-1, -1]]), array([2, 1]))
        """
        return encode_padded(self._vocab(), token_lists(texts, self.tokenizer, max_length))

    def encode_bags(
        self, texts: Iterable[str | Sequence[str]], *, max_length: int | None = None
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Flat ids and offsets, for an ``EmbeddingBag`` (unknown words without ``<unk>`` are
        left out).

        Example:
            >>> text = TextEmbedding.from_texts(["the cat", "the dog"], 3, rng=0)
            >>> text.encode_bags(["the cat", "dog"])
            (array([2, 3, 4]), array([0, 2]))
        """
        ids, lengths = self.encode(texts, max_length=max_length)
        keep = (np.arange(ids.shape[1]) < lengths[:, None]) & (ids >= 0)
        return ids[keep], bag_offsets(keep.sum(axis=1))

    def _token_vectors(
        self, lists: Sequence[Sequence[str]]
    ) -> tuple[NDArray[np.floating], NDArray[np.bool_]]:
        """The vectors of every token, flat ``(N, D)``, and which of them are real (not
        unknown words without a vector)."""
        flat = [token for tokens in lists for token in tokens]
        if _is_indexed(self.embedding):
            return self.embedding(flat), np.ones(len(flat), dtype=np.bool_)
        vocab = self._vocab()
        unk = -1 if vocab.unk_id is None else vocab.unk_id
        get = vocab.token_to_id.get
        ids = np.array([get(token, unk) for token in flat], dtype=np.int64)
        known = ids >= 0
        out = np.zeros((ids.size, self.embedding.embedding_dim), dtype=self.embedding.weight.dtype)
        out[known] = self.embedding(ids[known])
        return out, known

    def __call__(
        self, texts: Iterable[str | Sequence[str]], *, max_length: int | None = None
    ) -> NDArray[np.floating]:
        """The vectors of a batch of texts, ``(B, L, D)``, ``L`` the longest text; see the
        module's rule for unknown words and padding."""
        lists = token_lists(texts, self.tokenizer, max_length)
        if not _is_indexed(self.embedding):
            ids, _ = encode_padded(self._vocab(), lists)
            if (ids >= 0).all():
                return self.embedding(ids)
        vectors, _ = self._token_vectors(lists)
        lengths = np.array([len(tokens) for tokens in lists], dtype=np.int64)
        width = int(lengths.max()) if lengths.size else 0
        out = np.zeros((len(lists), width, self.embedding.embedding_dim), dtype=vectors.dtype)
        out[np.arange(width) < lengths[:, None]] = vectors
        return out

    def pool(
        self,
        texts: Iterable[str | Sequence[str]],
        *,
        mode: Literal["mean", "sum"] = "mean",
        max_length: int | None = None,
    ) -> NDArray[np.floating]:
        """One vector per text, ``(B, D)``: the mean (or sum) of its words' vectors; padding and
        unknown words without a vector are left out, and an empty text gives zeros.

        Example:
            >>> unit = TextEmbedding(Vocab(["a", "b"]), Embedding(2, 1, _weight=[[1.0], [3.0]]))
            >>> unit.pool(["a b zzz", "", "b"])
            array([[2.],
                   [0.],
                   [3.]])
        """
        if mode not in ("mean", "sum"):
            raise OptionError(f"mode must be 'mean' or 'sum', got {mode!r}")
        lists = token_lists(texts, self.tokenizer, max_length)
        vectors, real = self._token_vectors(lists)
        lengths = np.array([len(tokens) for tokens in lists], dtype=np.int64)
        bag_of = np.repeat(np.arange(len(lists)), lengths)[real]
        counts = np.bincount(bag_of, minlength=len(lists))
        return F.embedding_bag(np.flatnonzero(real), vectors, bag_offsets(counts), mode=mode)

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Write ``weights.safetensors``, ``vocab.json`` and ``config.json`` to ``directory``.

        Raises:
            OptionError: the tokenizer is a callable, which cannot be saved by name, or the
                table is a subword or hashed one (not one row per word).

        Example:
            >>> import os, tempfile
            >>> text = TextEmbedding.from_texts(["the cat"], 3, rng=0)
            >>> with tempfile.TemporaryDirectory() as folder:
            ...     text.save(folder)
            ...     sorted(os.listdir(folder))
            ['config.json', 'vocab.json', 'weights.safetensors']
        """
        layer = self.embedding
        if _is_indexed(layer) or self.vocab is None:
            raise OptionError(
                "a TextEmbedding over a subword or hashed table cannot be saved as a table "
                "directory (its rows are not one per word); save the layer's state_dict(), or "
                "a fastText model with FastTextVectors.save_bin"
            )
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
        saved_tokenizer = config.get("tokenizer") or "regex"  # None: trained on token lists
        return cls(
            vocab, embedding, tokenizer=tokenizer if tokenizer is not None else saved_tokenizer
        )

    def __repr__(self) -> str:
        words = "none" if self.vocab is None else f"{len(self.vocab)} tokens"
        return f"TextEmbedding(vocab={words}, {self.embedding!r}, tokenizer={self.tokenizer!r})"
