"""The vocabulary-and-table unit as a ``torch.nn.Module``, and pre-trained vectors for torch.

:class:`TextEmbedding` is :class:`embtable.text.TextEmbedding` for torch models: texts in, a
``(B, L, D)`` tensor (or ``LongTensor`` ids) out, ``<pad>`` as the table's ``padding_idx``,
``<unk>`` for unknown words, and the same directory on disk, so a table saved by one loads in the
other (and ``embtable train`` writes it too).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

from ..layers import aligned_rows
from ..text.text_embedding import (
    build_vocab,
    check_pairing,
    layer_settings,
    read_text_embedding,
    table_config,
)
from ..text.tokenize import Tokenizer
from ..text.vocab import Vocab
from .modules import Embedding

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
    """``cls.from_pretrained`` on ``vectors.align(vocab, ...)``; see ``Embedding.from_vectors``."""
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
    """

    def __init__(
        self,
        vocab: Vocab,
        embedding: Embedding | None = None,
        *,
        embedding_dim: int | None = None,
        tokenizer: str | Tokenizer = "regex",
        **options: Any,
    ) -> None:
        super().__init__()
        if embedding is None:
            if embedding_dim is None:
                raise TypeError("give an embedding, or embedding_dim for a fresh table")
            embedding = Embedding(len(vocab), embedding_dim, padding_idx=vocab.pad_id, **options)
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
        """Build the vocabulary from ``texts`` and a fresh table for it."""
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
        reports how many tokens were found."""
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

    def encode(
        self, texts: Iterable[str | Sequence[str]], *, max_length: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded ids ``(B, L)`` and lengths ``(B,)`` as ``LongTensor`` on the table's device."""
        ids, lengths = self.vocab.encode(texts, tokenizer=self.tokenizer, max_length=max_length)
        device = self.embedding.weight.device
        return torch.from_numpy(ids).to(device), torch.from_numpy(lengths).to(device)

    def encode_bags(
        self, texts: Iterable[str | Sequence[str]], *, max_length: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Flat ids and offsets as ``LongTensor``, for an ``EmbeddingBag``."""
        ids, offsets = self.vocab.encode_bags(
            texts, tokenizer=self.tokenizer, max_length=max_length
        )
        device = self.embedding.weight.device
        return torch.from_numpy(ids).to(device), torch.from_numpy(offsets).to(device)

    def forward(
        self, texts: Iterable[str | Sequence[str]], *, max_length: int | None = None
    ) -> torch.Tensor:
        """The vectors of a batch of texts, ``(B, L, D)``; padding positions get the pad row."""
        ids, _ = self.encode(texts, max_length=max_length)
        return self.embedding(ids)

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Write the table directory (``weights.safetensors``, ``vocab.json``, ``config.json``)."""
        from ..io.tables import save_table

        layer = self.embedding
        config = table_config(self.tokenizer, layer, layer.weight.requires_grad)
        weight = layer.weight.detach().cpu()
        if weight.dtype == torch.bfloat16:
            raise ValueError("bfloat16 tables cannot be saved; convert to float32 first")
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
        """
        weight, vocab, config = read_text_embedding(directory, mmap=mmap)
        if mmap:
            # torch tensors must be writable: map the same bytes copy-on-write.
            mapped = weight
            weight = np.memmap(
                mapped.filename,
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
        saved_tokenizer = config.get("tokenizer", "regex")
        return cls(
            vocab, embedding, tokenizer=tokenizer if tokenizer is not None else saved_tokenizer
        )

    def extra_repr(self) -> str:
        return f"vocab={len(self.vocab)} tokens, tokenizer={self.tokenizer!r}"
