"""``Embedding`` and ``EmbeddingBag``: drop-in replacements for ``torch.nn``'s.

They subclass ``torch.nn.Embedding`` and ``torch.nn.EmbeddingBag``, so the constructor (with
``device`` and ``dtype``), attributes, ``reset_parameters`` (``torch.nn.init.normal_``: with the
same seed the weights are bitwise torch's), ``from_pretrained``, ``extra_repr`` and ``state_dict``
are torch's own, and code that checks ``isinstance(m, torch.nn.Embedding)`` (e.g. weight
initialisers) keeps working. Only ``forward`` differs: it calls :mod:`embtable.torch.functional`.
The one addition is the keyword-only ``optimizer`` (update-in-backward, see
:class:`~embtable.torch.RowOptimizer`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .._errors import ModeError, OptionTypeError
from . import functional as F
from ._optim import RowOptimizer

__all__ = ["Embedding", "EmbeddingBag"]


def _attach(module: torch.nn.Module, optimizer: RowOptimizer | None) -> None:
    if optimizer is not None and not isinstance(optimizer, RowOptimizer):
        raise OptionTypeError(
            f"optimizer must be an embtable.torch.RowOptimizer, got {optimizer!r}"
        )
    if optimizer is None:
        module.optimizer = None
    else:
        module.optimizer = optimizer.bind_(module.weight)  # type: ignore[arg-type]


class Embedding(torch.nn.Embedding):
    """A lookup table: ``torch.nn.Embedding`` running on embtable's kernels.

    Args:
        num_embeddings, embedding_dim, padding_idx, max_norm, norm_type, scale_grad_by_freq,
            sparse, _weight, _freeze, device, dtype: exactly ``torch.nn.Embedding``'s.
        optimizer: a :class:`~embtable.torch.RowOptimizer` to apply in the backward
            (update-in-backward); the weight then never receives a ``.grad``.

    Shape:
        input ``(*)`` → ``(*, embedding_dim)``.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> emb = Embedding(10, 3, padding_idx=0)
        >>> emb
        Embedding(10, 3, padding_idx=0)
        >>> emb(torch.tensor([[0, 2], [5, 0]])).shape
        torch.Size([2, 2, 3])
        >>> _ = torch.manual_seed(0)
        >>> torch.equal(emb.weight, torch.nn.Embedding(10, 3, padding_idx=0).weight)
        True
    """

    optimizer: RowOptimizer | None

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: torch.Tensor | None = None,
        _freeze: bool = False,
        device: Any = None,
        dtype: torch.dtype | None = None,
        *,
        optimizer: RowOptimizer | None = None,
    ) -> None:
        super().__init__(
            num_embeddings,
            embedding_dim,
            padding_idx,
            max_norm,
            norm_type,
            scale_grad_by_freq,
            sparse,
            _weight,
            _freeze,
            device,
            dtype,
        )
        _attach(self, optimizer)

    def reset_parameters(self) -> None:
        """Redraw the weight from N(0, 1) (torch's ``init.normal_``), zero the padding row, and
        reset the optimizer state.

        Example:
            >>> emb = Embedding(4, 3, padding_idx=1)
            >>> with torch.no_grad():
            ...     _ = emb.weight.fill_(7.0)
            >>> emb.reset_parameters()
            >>> bool((emb.weight[1] == 0).all()), bool((emb.weight != 7).all())
            (True, True)
        """
        super().reset_parameters()
        if getattr(self, "optimizer", None) is not None:
            self.optimizer.reset_state()  # type: ignore[union-attr]

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """Row ``input[...]`` of the weight, as :func:`embtable.torch.functional.embedding`.

        Args:
            input: integer ids of any shape.

        Returns:
            ``(*input.shape, embedding_dim)``; differentiable in the weight.

        Example:
            >>> emb = Embedding.from_pretrained(torch.arange(8.0).reshape(4, 2))
            >>> emb(torch.tensor([[3, 0], [1, 1]]))
            tensor([[[6., 7.],
                     [0., 1.]],
            <BLANKLINE>
                    [[2., 3.],
                     [2., 3.]]])
        """
        weight = self._parameters.get("weight")  # nn.Module's own lookup costs ~1 us
        if weight is None:  # parametrized, swapped out or removed: the lookup decides
            weight = self.weight
        return F.embedding(
            input,
            weight,
            self.padding_idx,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
            self.sparse,
            optimizer=self.optimizer,
        )

    @classmethod
    def from_pretrained(  # type: ignore[override]
        cls,
        embeddings: torch.Tensor,
        freeze: bool = True,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        *,
        optimizer: RowOptimizer | None = None,
    ) -> Embedding:
        """torch's ``from_pretrained`` (the weight shares ``embeddings``' storage, the padding
        row is kept as given), plus ``optimizer``.

        Example:
            >>> table = torch.arange(6.0).reshape(3, 2)
            >>> emb = Embedding.from_pretrained(table, padding_idx=0)
            >>> emb, emb.weight.requires_grad
            (Embedding(3, 2, padding_idx=0), False)
            >>> emb(torch.tensor([0, 2]))
            tensor([[0., 1.],
                    [4., 5.]])
        """
        module = super().from_pretrained(
            embeddings, freeze, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse
        )
        if optimizer is not None:
            _attach(module, optimizer)
        return module  # type: ignore[return-value]

    @classmethod
    def from_vectors(
        cls,
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
        """A table whose row ``i`` is the pre-trained vector of ``vocab``'s token ``i``.

        The same as :meth:`embtable.Embedding.from_vectors` (``oov`` rule, zero padding row at
        the vocabulary's ``<pad>``, ``coverage`` attribute), as a torch module.

        Example:
            >>> from embtable.text import Vocab
            >>> from embtable.vectors import Vectors
            >>> vectors = Vectors(["cat", "dog"], np.array([[1.0, 2.0], [3.0, 4.0]], np.float32))
            >>> vocab = Vocab.build([["cat", "Dog", "emu"]])
            >>> emb = Embedding.from_vectors(vectors, vocab, oov="zeros")
            >>> emb
            Embedding(5, 2, padding_idx=1)
            >>> emb.coverage.matched, emb.coverage.lowercase_matched, emb.coverage.missing_tokens
            (1, 1, ('emu',))
            >>> emb(torch.tensor([2, 3]))
            tensor([[1., 2.],
                    [3., 4.]])
        """
        from .text import embedding_from_vectors

        return embedding_from_vectors(
            cls,
            vectors,
            vocab,
            oov=oov,
            freeze=freeze,
            padding_idx=padding_idx,
            rng=rng,
            lowercase_fallback=lowercase_fallback,
            **options,
        )


class EmbeddingBag(torch.nn.EmbeddingBag):
    """Sums, means or maxima of bags: ``torch.nn.EmbeddingBag`` running on embtable's kernels.

    Args:
        num_embeddings, embedding_dim, max_norm, norm_type, scale_grad_by_freq, mode, sparse,
            _weight, include_last_offset, padding_idx, device, dtype: exactly
            ``torch.nn.EmbeddingBag``'s.
        optimizer: a :class:`~embtable.torch.RowOptimizer` to apply in the backward (not in max
            mode).

    Shape:
        input ``(N,)`` with offsets ``(B,)``, or input ``(B, N)`` → ``(B, embedding_dim)``.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> bag = EmbeddingBag(10, 3, mode="sum")
        >>> bag
        EmbeddingBag(10, 3, mode='sum')
        >>> bag(torch.tensor([1, 2, 4, 5, 4, 3, 2, 9]), torch.tensor([0, 4])).shape
        torch.Size([2, 3])
    """

    optimizer: RowOptimizer | None

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        mode: str = "mean",
        sparse: bool = False,
        _weight: torch.Tensor | None = None,
        include_last_offset: bool = False,
        padding_idx: int | None = None,
        device: Any = None,
        dtype: torch.dtype | None = None,
        *,
        optimizer: RowOptimizer | None = None,
    ) -> None:
        super().__init__(
            num_embeddings,
            embedding_dim,
            max_norm,
            norm_type,
            scale_grad_by_freq,
            mode,
            sparse,
            _weight,
            include_last_offset,
            padding_idx,
            device,
            dtype,
        )
        if optimizer is not None and mode == "max":
            raise ModeError(
                "max mode does not support a fused optimizer (it needs sparse gradients)"
            )
        _attach(self, optimizer)

    def reset_parameters(self) -> None:
        """As :meth:`Embedding.reset_parameters`.

        Example:
            >>> bag = EmbeddingBag(4, 3, mode="sum", padding_idx=2)
            >>> with torch.no_grad():
            ...     _ = bag.weight.fill_(7.0)
            >>> bag.reset_parameters()
            >>> bool((bag.weight[2] == 0).all()), bool((bag.weight != 7).all())
            (True, True)
        """
        super().reset_parameters()
        if getattr(self, "optimizer", None) is not None:
            self.optimizer.reset_state()  # type: ignore[union-attr]

    def forward(
        self,
        input: torch.Tensor,
        offsets: torch.Tensor | None = None,
        per_sample_weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One reduced row per bag, as :func:`embtable.torch.functional.embedding_bag`.

        Args:
            input: 1-D ids with ``offsets`` (bag ``b`` starts at ``offsets[b]``), or 2-D ids
                ``(B, N)``, one bag per row.
            offsets: bag starts for 1-D ``input``.
            per_sample_weights: one weight per id (``mode="sum"`` only).

        Returns:
            ``(B, embedding_dim)``.

        Example:
            >>> bag = EmbeddingBag.from_pretrained(torch.arange(8.0).reshape(4, 2), mode="sum")
            >>> bag(torch.tensor([0, 1, 3]), torch.tensor([0, 2]))
            tensor([[2., 4.],
                    [6., 7.]])
            >>> bag(torch.tensor([[0, 1], [3, 3]]))
            tensor([[ 2.,  4.],
                    [12., 14.]])
        """
        weight = self._parameters.get("weight")  # as in Embedding.forward
        if weight is None:
            weight = self.weight
        return F.embedding_bag(
            input,
            weight,
            offsets,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
            self.mode,
            self.sparse,
            per_sample_weights,
            self.include_last_offset,
            self.padding_idx,
            optimizer=self.optimizer,
        )

    @classmethod
    def from_pretrained(  # type: ignore[override]
        cls,
        embeddings: torch.Tensor,
        freeze: bool = True,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        mode: str = "mean",
        sparse: bool = False,
        include_last_offset: bool = False,
        padding_idx: int | None = None,
        *,
        optimizer: RowOptimizer | None = None,
    ) -> EmbeddingBag:
        """torch's ``from_pretrained``, plus ``optimizer``.

        Example:
            >>> bag = EmbeddingBag.from_pretrained(torch.arange(6.0).reshape(3, 2))
            >>> bag, bag.mode, bag.weight.requires_grad
            (EmbeddingBag(3, 2, mode='mean'), 'mean', False)
            >>> bag(torch.tensor([[0, 2]]))
            tensor([[2., 3.]])
        """
        module = super().from_pretrained(
            embeddings,
            freeze,
            max_norm,
            norm_type,
            scale_grad_by_freq,
            mode,
            sparse,
            include_last_offset,
            padding_idx,
        )
        if optimizer is not None:
            if mode == "max":
                raise ModeError(
                    "max mode does not support a fused optimizer (it needs sparse gradients)"
                )
            _attach(module, optimizer)
        return module  # type: ignore[return-value]
