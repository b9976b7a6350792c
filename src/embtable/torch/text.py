"""The vocabulary-and-table unit as a ``torch.nn.Module``, and pre-trained vectors for torch.

:class:`TextEmbedding` is :class:`embtable.text.TextEmbedding` for torch models: texts in, a
``(B, L, D)`` tensor (or ``LongTensor`` ids) out, ``<pad>`` as the table's ``padding_idx``,
``<unk>`` for unknown words, and the same directory on disk, so a table saved by one loads in the
other (and ``embtable train`` writes it too). The table may be a subword or hashed
:class:`embtable.torch.subword.IndexedEmbedding`; unknown words and ragged batches follow the
rule of :mod:`embtable.text.text_embedding` (subword vector, ``<unk>``, or zeros; padded with
``<pad>`` or zeros; :meth:`TextEmbedding.pool` for one vector per text).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import numpy as np
import torch

from .._errors import OptionError, OptionTypeError
from ..layers import aligned_rows
from ..text.text_embedding import (
    bag_offsets,
    build_vocab,
    check_pairing,
    encode_padded,
    layer_settings,
    read_text_embedding,
    table_config,
    token_lists,
)
from ..text.tokenize import Tokenizer
from ..text.vocab import Vocab
from .modules import Embedding
from .subword import IndexedEmbedding

__all__ = ["TextEmbedding", "embedding_from_vectors"]


def embedding_from_vectors(
    cls: type[Embedding],
    vectors: Any,
    vocab: Any,
    *,
    oov: str = "random",
    freeze: bool = True,
    padding_idx: int | str | None = "vocab",
    rng: int | np.random.Generator | None = None,
    lowercase_fallback: bool = True,
    **options: Any,
) -> Embedding:
    """``cls.from_pretrained`` on ``vectors.align(vocab, ...)``; see ``Embedding.from_vectors``.

    Example:
        >>> from embtable.torch import EmbeddingBag
        >>> from embtable.vectors import Vectors
        >>> vectors = Vectors(["cat", "dog"], np.array([[1.0, 0.0], [0.0, 1.0]], np.float32))
        >>> vocab = Vocab.build([["cat", "dog", "cow"]])
        >>> bag = embedding_from_vectors(EmbeddingBag, vectors, vocab, oov="zeros", mode="sum")
        >>> bag
        EmbeddingBag(5, 2, mode='sum', padding_idx=1)
        >>> bag.coverage.missing_tokens
        ('cow',)
        >>> bag(torch.tensor([[2, 3], [4, 3]]))
        tensor([[1., 1.],
                [0., 1.]])
    """
    matrix, padding_idx, coverage = aligned_rows(
        vectors,
        vocab,
        oov=oov,
        padding_idx=padding_idx,
        rng=rng,
        lowercase_fallback=lowercase_fallback,
    )
    module = cls.from_pretrained(
        torch.from_numpy(np.ascontiguousarray(matrix)),
        freeze=freeze,
        padding_idx=padding_idx,
        **options,
    )
    module.coverage = coverage
    return module


class TextEmbedding(torch.nn.Module):
    """A :class:`~embtable.text.Vocab` paired with an :class:`embtable.torch.Embedding`.

    Args:
        vocab: the vocabulary; its ``<pad>`` becomes the table's ``padding_idx``.
        embedding: a table with ``len(vocab)`` rows, or ``None`` for a fresh one of
            ``embedding_dim`` columns (torch's N(0, 1) initialisation).
        embedding_dim: the width of a fresh table.
        tokenizer: a tokenizer name or callable.
        **options: ``Embedding`` options for a fresh table (``sparse``, ``max_norm``, ``device``,
            ``dtype``, ``optimizer``...).

    Note:
        The vocabulary is not a tensor, so it is not in ``state_dict()``; :meth:`save` writes
        both.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> vocab = Vocab.build([["the", "cat", "sat"]])
        >>> unit = TextEmbedding(vocab, embedding_dim=4)
        >>> unit(["the cat", "a cat sat"]).shape
        torch.Size([2, 3, 4])
        >>> unit.encode(["the cat", "a cat sat"])[0]
        tensor([[2, 3, 1],
                [0, 3, 4]])
        >>> unit.pool(["the cat", "a cat sat"]).shape
        torch.Size([2, 4])
    """

    def __init__(
        self,
        vocab: Vocab | None,
        embedding: Embedding | IndexedEmbedding | None = None,
        *,
        embedding_dim: int | None = None,
        tokenizer: str | Tokenizer = "regex",
        **options: Any,
    ) -> None:
        super().__init__()
        if isinstance(embedding, IndexedEmbedding):
            if vocab is None:
                words = getattr(embedding.indexer, "words", None)
                vocab = None if words is None else Vocab(words)
        elif vocab is None:
            raise OptionError("a TextEmbedding over an Embedding needs its vocabulary")
        else:
            if embedding is None:
                if embedding_dim is None:
                    raise OptionTypeError("give an embedding, or embedding_dim for a fresh table")
                embedding = Embedding(
                    len(vocab), embedding_dim, padding_idx=vocab.pad_id, **options
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
        **options: Any,
    ) -> TextEmbedding:
        """Build the vocabulary from ``texts`` and a fresh table for it.

        Example:
            >>> _ = torch.manual_seed(0)
            >>> unit = TextEmbedding.from_texts(["the cat sat", "the dog"], 4)
            >>> unit.vocab.id_to_token
            ['<unk>', '<pad>', 'the', 'cat', 'sat', 'dog']
            >>> unit.embedding
            Embedding(6, 4, padding_idx=1)
        """
        vocab = build_vocab(
            texts, tokenizer=tokenizer, min_freq=min_freq, max_size=max_size, specials=specials
        )
        return cls(vocab, embedding_dim=embedding_dim, tokenizer=tokenizer, **options)

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
        """Pair ``vocab`` with the rows of pre-trained ``vectors``; ``embedding.coverage``
        reports how many tokens were found.

        Example:
            >>> from embtable.vectors import Vectors
            >>> vectors = Vectors(["cat", "dog"], np.array([[1.0, 0.0], [0.0, 1.0]], np.float32))
            >>> vocab = Vocab.build([["cat", "dog", "cow"]])
            >>> unit = TextEmbedding.from_vectors(vectors, vocab, oov="zeros")
            >>> unit.embedding.coverage.matched, unit.embedding.coverage.missing_tokens
            (2, ('cow',))
            >>> unit(["dog cat"])
            tensor([[[0., 1.],
                     [1., 0.]]])
            >>> unit.embedding.weight.requires_grad  # frozen unless freeze=False
            False
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

    def _vocab(self) -> Vocab:
        if self.vocab is None:
            raise OptionError("this TextEmbedding has no vocabulary (a hashed table): no ids")
        return self.vocab

    def encode(
        self, texts: Iterable[str | Sequence[str]], *, max_length: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded ids ``(B, L)`` and lengths ``(B,)`` as ``LongTensor`` on the table's device:
        ``<unk>`` for unknown words and ``<pad>`` for padding, or ``-1`` without them.

        Example:
            >>> unit = TextEmbedding.from_texts(["the cat sat"], 2)
            >>> ids, lengths = unit.encode(["the cat", "a cat sat"])
            >>> ids  # "a" is <unk> (0); the short text is padded with <pad> (1)
            tensor([[2, 3, 1],
                    [0, 3, 4]])
            >>> lengths
            tensor([2, 3])
            >>> unit.encode(["a cat sat"], max_length=2)[0]
            tensor([[0, 3]])
        """
        ids, lengths = encode_padded(self._vocab(), token_lists(texts, self.tokenizer, max_length))
        device = self.embedding.weight.device
        return torch.from_numpy(ids).to(device), torch.from_numpy(lengths).to(device)

    def encode_bags(
        self, texts: Iterable[str | Sequence[str]], *, max_length: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Flat ids and offsets as ``LongTensor``, for an ``EmbeddingBag`` (unknown words
        without ``<unk>`` left out).

        Example:
            >>> from embtable.torch import EmbeddingBag
            >>> unit = TextEmbedding.from_texts(["the cat", "the dog"], 3)
            >>> ids, offsets = unit.encode_bags(["the cat", "dog"])
            >>> ids, offsets
            (tensor([2, 3, 4]), tensor([0, 2]))
            >>> bag = EmbeddingBag.from_pretrained(unit.embedding.weight, mode="sum")
            >>> bag(ids, offsets).shape
            torch.Size([2, 3])
        """
        ids, lengths = encode_padded(self._vocab(), token_lists(texts, self.tokenizer, max_length))
        keep = (np.arange(ids.shape[1]) < lengths[:, None]) & (ids >= 0)
        device = self.embedding.weight.device
        flat, offsets = ids[keep], bag_offsets(keep.sum(axis=1))
        return torch.from_numpy(flat).to(device), torch.from_numpy(offsets).to(device)

    def _token_vectors(self, lists: Sequence[Sequence[str]]) -> tuple[torch.Tensor, np.ndarray]:
        """Every token's vector, flat ``(N, D)``, and which are real (not zero-vector unknown
        words)."""
        flat = [token for tokens in lists for token in tokens]
        if isinstance(self.embedding, IndexedEmbedding):
            return self.embedding(flat), np.ones(len(flat), dtype=np.bool_)
        vocab = self._vocab()
        unk = -1 if vocab.unk_id is None else vocab.unk_id
        get = vocab.token_to_id.get
        ids = np.array([get(token, unk) for token in flat], dtype=np.int64)
        known = ids >= 0
        weight = self.embedding.weight
        found = self.embedding(torch.from_numpy(ids[known]).to(weight.device))
        out = found.new_zeros((ids.size, self.embedding.embedding_dim))
        out = out.index_put((torch.from_numpy(np.flatnonzero(known)).to(weight.device),), found)
        return out, known

    def forward(
        self, texts: Iterable[str | Sequence[str]], *, max_length: int | None = None
    ) -> torch.Tensor:
        """The vectors of a batch of texts, ``(B, L, D)``: see the rule for unknown words and
        padding in :mod:`embtable.text.text_embedding`.

        Example:
            >>> from embtable.vectors import Vectors
            >>> vectors = Vectors(["cat", "dog"], np.array([[1.0, 2.0], [3.0, 4.0]], np.float32))
            >>> unit = TextEmbedding.from_vectors(vectors, Vocab.build([["cat", "dog"]]))
            >>> unit(["dog cat", "cat"])  # the short text is padded with the zero <pad> row
            tensor([[[3., 4.],
                     [1., 2.]],
            <BLANKLINE>
                    [[1., 2.],
                     [0., 0.]]])
            >>> unit(["cat dog cat"], max_length=2).shape
            torch.Size([1, 2, 2])
        """
        lists = token_lists(texts, self.tokenizer, max_length)
        if not isinstance(self.embedding, IndexedEmbedding):
            ids, _ = encode_padded(self._vocab(), lists)
            if (ids >= 0).all():
                return self.embedding(torch.from_numpy(ids).to(self.embedding.weight.device))
        vectors, _ = self._token_vectors(lists)
        lengths = np.array([len(tokens) for tokens in lists], dtype=np.int64)
        width = int(lengths.max()) if lengths.size else 0
        mask = torch.from_numpy(np.arange(width) < lengths[:, None]).to(vectors.device)
        out = vectors.new_zeros((len(lists), width, vectors.shape[-1]))
        return out.masked_scatter(mask.unsqueeze(-1), vectors)

    def pool(
        self,
        texts: Iterable[str | Sequence[str]],
        *,
        mode: Literal["mean", "sum"] = "mean",
        max_length: int | None = None,
    ) -> torch.Tensor:
        """One vector per text, ``(B, D)``: the mean (or sum) of its words' vectors, padding and
        zero-vector unknown words left out; an empty text gives zeros.

        Example:
            >>> from embtable.vectors import Vectors
            >>> vectors = Vectors(["cat", "dog"], np.array([[1.0, 2.0], [3.0, 4.0]], np.float32))
            >>> unit = TextEmbedding.from_vectors(vectors, Vocab.build([["cat", "dog"]]))
            >>> unit.pool(["dog cat", "cat", ""])
            tensor([[2., 3.],
                    [1., 2.],
                    [0., 0.]])
            >>> unit.pool(["dog cat"], mode="sum")
            tensor([[4., 6.]])
        """
        if mode not in ("mean", "sum"):
            raise OptionError(f"mode must be 'mean' or 'sum', got {mode!r}")
        lists = token_lists(texts, self.tokenizer, max_length)
        vectors, real = self._token_vectors(lists)
        lengths = np.array([len(tokens) for tokens in lists], dtype=np.int64)
        bag_of = np.repeat(np.arange(len(lists)), lengths)
        device = vectors.device
        keep = torch.from_numpy(np.flatnonzero(real)).to(device)
        index = torch.from_numpy(bag_of).to(device)[keep]
        out = vectors.new_zeros((len(lists), vectors.shape[-1])).index_add(0, index, vectors[keep])
        if mode == "mean":
            counts = np.bincount(bag_of[real], minlength=len(lists)).clip(min=1)
            out = out / torch.from_numpy(counts).to(device=device, dtype=out.dtype).unsqueeze(1)
        return out

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Write the table directory (``weights.safetensors``, ``vocab.json``, ``config.json``).

        Raises:
            OptionError: the table is a subword or hashed one (not one row per word), or
                bfloat16.

        Example:
            >>> import os, tempfile
            >>> unit = TextEmbedding.from_texts(["the cat"], 3)
            >>> with tempfile.TemporaryDirectory() as folder:
            ...     unit.save(folder)
            ...     sorted(os.listdir(folder))
            ['config.json', 'vocab.json', 'weights.safetensors']
        """
        from ..io.tables import save_table

        layer = self.embedding
        if isinstance(layer, IndexedEmbedding) or self.vocab is None:
            raise OptionError(
                "a TextEmbedding over a subword or hashed table cannot be saved as a table "
                "directory (its rows are not one per word); save its state_dict()"
            )
        config = table_config(self.tokenizer, layer, layer.weight.requires_grad)
        weight = layer.weight.detach().cpu()
        if weight.dtype == torch.bfloat16:
            raise OptionError("bfloat16 tables cannot be saved; convert to float32 first")
        save_table(directory, weight.numpy(), self.vocab, config)

    @classmethod
    def load(
        cls,
        directory: str | os.PathLike[str],
        *,
        mmap: bool = False,
        tokenizer: str | Tokenizer | None = None,
        device: torch.device | str | None = None,
    ) -> TextEmbedding:
        """Read a directory written by :meth:`save`, the NumPy twin's ``save`` or
        ``embtable train``.

        Args:
            directory: the table directory.
            mmap: map the table instead of reading it. The mapping is copy-on-write: the file
                is never modified, and the layer is frozen.
            tokenizer: override the saved tokenizer.
            device: move the table there (a copy, unless it is the CPU).

        Example:
            >>> import tempfile
            >>> unit = TextEmbedding.from_texts(["the cat", "the dog"], 3)
            >>> with tempfile.TemporaryDirectory() as folder:
            ...     unit.save(folder)
            ...     back = TextEmbedding.load(folder)
            ...     mapped = TextEmbedding.load(folder, mmap=True)  # copy-on-write, frozen
            ...     torch.equal(mapped.embedding.weight, unit.embedding.weight)
            ...     mapped.embedding.weight.requires_grad
            True
            False
            >>> back
            TextEmbedding(
              vocab=5 tokens, tokenizer='regex'
              (embedding): Embedding(5, 3, padding_idx=1)
            )
            >>> torch.equal(back(["the dog"]), unit(["the dog"]))
            True
        """
        weight, vocab, config = read_text_embedding(directory, mmap=mmap)
        if mmap:
            # torch tensors must be writable: map the same bytes copy-on-write.
            mapped = weight
            weight = np.memmap(
                mapped.filename or os.path.join(os.fspath(directory), "weights.safetensors"),
                dtype=mapped.dtype,
                mode="c",
                offset=mapped.offset,
                shape=mapped.shape,
            )
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            tensor = torch.from_numpy(np.asarray(weight))
        if device is not None:
            tensor = tensor.to(device)
        trainable = bool(config.get("requires_grad", True)) and not mmap
        embedding = Embedding.from_pretrained(
            tensor,
            freeze=not trainable,
            padding_idx=config.get("padding_idx", vocab.pad_id),
            **layer_settings(config),
        )
        saved_tokenizer = config.get("tokenizer") or "regex"  # None: trained on token lists
        return cls(
            vocab, embedding, tokenizer=tokenizer if tokenizer is not None else saved_tokenizer
        )

    def extra_repr(self) -> str:
        """The vocabulary size and the tokenizer, shown in ``repr(unit)``.

        Example:
            >>> unit = TextEmbedding.from_texts(["the cat"], 3)
            >>> unit.extra_repr()
            "vocab=4 tokens, tokenizer='regex'"
            >>> unit
            TextEmbedding(
              vocab=4 tokens, tokenizer='regex'
              (embedding): Embedding(4, 3, padding_idx=1)
            )
        """
        words = "none" if self.vocab is None else f"{len(self.vocab)} tokens"
        return f"vocab={words}, tokenizer={self.tokenizer!r}"
