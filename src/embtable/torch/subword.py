"""Subword, hashed and compositional embeddings as ``torch.nn.Module``\\ s.

The twins of :mod:`embtable.subword`: the same :class:`~embtable.subword.Indexer` bags, pooled
by :func:`embtable.torch.functional.embedding_bag`, so sparse gradients, update-in-backward
(``optimizer=RowOptimizer(...)``) and ``state_dict`` (``weight``, ``optimizer.*``) are those of
:class:`embtable.torch.EmbeddingBag`. Tokens are strings (or integer ids for hashing); the bags
are computed on the CPU and moved to the table's device.

Example:
    >>> import torch
    >>> from embtable.torch.subword import SubwordEmbedding
    >>> _ = torch.manual_seed(0)
    >>> layer = SubwordEmbedding(["cat", "dog"], 4, bucket=100, sparse=True)
    >>> out = layer(["cat", "cats"])
    >>> out.shape
    torch.Size([2, 4])
    >>> out.sum().backward()
    >>> layer.weight.grad.is_sparse
    True
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch

from .._errors import OptionError, OptionTypeError
from ..subword import HashIndexer, Indexer, QuotientRemainderIndexer, SubwordIndexer
from . import functional as F
from ._optim import RowOptimizer
from .modules import Embedding

__all__ = [
    "HashEmbedding",
    "IndexedEmbedding",
    "QuotientRemainderEmbedding",
    "SubwordEmbedding",
]


class IndexedEmbedding(torch.nn.Module):
    """A table whose tokens are bags of rows chosen by an :class:`~embtable.subword.Indexer`.

    Args:
        indexer: the strategy; its ``num_rows`` and ``mode`` size and pool the table.
        embedding_dim: ``D``.
        max_norm, norm_type, scale_grad_by_freq, sparse, device, dtype: as
            ``torch.nn.EmbeddingBag``.
        _weight: an existing ``(num_rows, D)`` tensor to use as the table.
        _freeze: with ``_weight``, do not train it.
        optimizer: a :class:`~embtable.torch.RowOptimizer` applied in the backward.

    Shape:
        ``T`` tokens → ``(T, D)``.

    Example:
        >>> from embtable.subword import HashIndexer
        >>> _ = torch.manual_seed(0)
        >>> layer = IndexedEmbedding(HashIndexer(64, num_hashes=2), 3)
        >>> layer(["a", "b", "a"]).shape
        torch.Size([3, 3])
        >>> sorted(layer.state_dict())
        ['weight']
    """

    optimizer: RowOptimizer | None

    def __init__(
        self,
        indexer: Indexer,
        embedding_dim: int,
        *,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: torch.Tensor | None = None,
        _freeze: bool = False,
        device: Any = None,
        dtype: torch.dtype | None = None,
        optimizer: RowOptimizer | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(indexer, Indexer):
            raise OptionTypeError(
                f"indexer must be an embtable.subword.Indexer, got {type(indexer).__name__}"
            )
        self.indexer = indexer
        self.num_embeddings = indexer.num_rows
        self.embedding_dim = int(embedding_dim)
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        if _weight is None:
            self.weight = torch.nn.Parameter(
                torch.empty((self.num_embeddings, self.embedding_dim), device=device, dtype=dtype),
                requires_grad=not _freeze,
            )
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (self.num_embeddings, self.embedding_dim):
                raise OptionError(
                    f"_weight must have shape ({self.num_embeddings}, {self.embedding_dim}), "
                    f"got {tuple(_weight.shape)}"
                )
            self.weight = torch.nn.Parameter(_weight, requires_grad=not _freeze)
        if optimizer is not None and not isinstance(optimizer, RowOptimizer):
            raise OptionTypeError(
                f"optimizer must be an embtable.torch.RowOptimizer, got {optimizer!r}"
            )
        self.optimizer = None if optimizer is None else optimizer.bind_(self.weight)

    @property
    def mode(self) -> str:
        return self.indexer.mode

    def reset_parameters(self) -> None:
        """Redraw the table from N(0, 1) (``torch.nn.init.normal_``) and clear the optimizer's
        state, if any.

        Example:
            >>> import embtable.torch as et
            >>> from embtable.subword import VocabIndexer
            >>> layer = IndexedEmbedding(
            ...     VocabIndexer(["a", "b"]), 2, optimizer=et.RowOptimizer("adagrad", lr=0.1)
            ... )
            >>> layer(["a"]).sum().backward()  # one step: the state of row 0 grows
            >>> int(layer.optimizer.step)
            1
            >>> _ = torch.manual_seed(0)
            >>> layer.reset_parameters()
            >>> int(layer.optimizer.step), layer.optimizer.sum.abs().sum().item()
            (0, 0.0)
        """
        with torch.no_grad():
            torch.nn.init.normal_(self.weight)
        if getattr(self, "optimizer", None) is not None:
            self.optimizer.reset_state()  # type: ignore[union-attr]

    def bags(self, tokens: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """The indexer's ``(ids, offsets)`` as ``LongTensor`` on the table's device.

        Example:
            >>> from embtable.subword import HashIndexer
            >>> layer = IndexedEmbedding(HashIndexer(64, num_hashes=2), 3)
            >>> layer.bags(["a", "b"])  # two rows per token
            (tensor([50, 40,  3,  7]), tensor([0, 2]))
        """
        ids, offsets = self.indexer.index(tokens)
        device = self.weight.device
        return torch.from_numpy(ids).to(device), torch.from_numpy(offsets).to(device)

    def forward(self, tokens: Any) -> torch.Tensor:
        """The vector of each token: its bag of rows, pooled by the indexer's ``mode``.

        Shape:
            ``T`` tokens → ``(T, D)``.

        Example:
            >>> from embtable.subword import HashIndexer
            >>> _ = torch.manual_seed(0)
            >>> layer = IndexedEmbedding(HashIndexer(64, num_hashes=2), 3)
            >>> out = layer(["a", "b", "a"])
            >>> out.shape
            torch.Size([3, 3])
            >>> ids, _ = layer.bags(["a"])  # "a" is the sum of its two rows
            >>> torch.allclose(out[0], layer.weight[ids].sum(0))
            True
        """
        ids, offsets = self.bags(tokens)
        return F.embedding_bag(
            ids,
            self.weight,
            offsets,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
            self.mode,
            self.sparse,
            optimizer=self.optimizer,
        )

    def extra_repr(self) -> str:
        """The indexer and the width, inside ``repr(layer)``.

        Example:
            >>> from embtable.subword import HashIndexer
            >>> IndexedEmbedding(HashIndexer(64, num_hashes=2), 3)
            IndexedEmbedding(HashIndexer(num_buckets=64, num_hashes=2, seed=0), 3)
        """
        return f"{self.indexer!r}, {self.embedding_dim}"


class SubwordEmbedding(IndexedEmbedding):
    """fastText's word-plus-n-gram embedding (see :class:`embtable.subword.SubwordEmbedding`);
    a fresh table is uniform in ``±1 / embedding_dim``, fastText's initialisation.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> SubwordEmbedding(["hi"], 8, minn=2, maxn=3, bucket=50)
        SubwordEmbedding(words=1, embedding_dim=8, minn=2, maxn=3, bucket=50)
    """

    def __init__(
        self,
        words: Any,
        embedding_dim: int,
        *,
        minn: int = 3,
        maxn: int = 6,
        bucket: int = 2_000_000,
        **options: Any,
    ) -> None:
        super().__init__(
            SubwordIndexer(words, minn=minn, maxn=maxn, bucket=bucket), embedding_dim, **options
        )

    def reset_parameters(self) -> None:
        """Redraw the table uniformly in ``±1 / embedding_dim`` (fastText's initialisation) and
        clear the optimizer's state, if any.

        Example:
            >>> layer = SubwordEmbedding(["hi"], 4, minn=2, maxn=2, bucket=10)
            >>> _ = torch.manual_seed(0)
            >>> layer.reset_parameters()
            >>> layer.weight.shape, bool(layer.weight.abs().max() <= 0.25)
            (torch.Size([11, 4]), True)
        """
        bound = 1.0 / max(self.embedding_dim, 1)
        with torch.no_grad():
            torch.nn.init.uniform_(self.weight, -bound, bound)
        if getattr(self, "optimizer", None) is not None:
            self.optimizer.reset_state()  # type: ignore[union-attr]

    @classmethod
    def from_fasttext(cls, source: Any, *, freeze: bool = True, **options: Any) -> SubwordEmbedding:
        """The layer of a fastText ``.bin`` (a path or :class:`~embtable.fasttext.FastTextVectors`):
        its input matrix, copied into a float32 tensor; frozen unless ``freeze=False``.

        Example:
            >>> from embtable.fasttext import FastTextVectors
            >>> model = FastTextVectors(  # 1 word + 10 buckets of 2-grams
            ...     ["hi"], np.arange(22.0).reshape(11, 2), minn=2, maxn=2, bucket=10
            ... )
            >>> layer = SubwordEmbedding.from_fasttext(model)
            >>> layer, layer.weight.requires_grad
            (SubwordEmbedding(words=1, embedding_dim=2, minn=2, maxn=2, bucket=10), False)
            >>> out = layer(["hi", "ho"])  # "ho" is unknown: its n-grams answer
            >>> bool(np.allclose(out[1].numpy(), model["ho"]))
            True
        """
        from ..fasttext import FastTextVectors

        model = source if isinstance(source, FastTextVectors) else FastTextVectors.load_bin(source)
        indexer = model.subwords
        weight = torch.from_numpy(np.array(model.input_matrix, dtype=np.float32))
        return cls(
            model.tokens,
            weight.shape[1],
            minn=indexer.minn,
            maxn=indexer.maxn,
            bucket=indexer.bucket,
            _weight=weight,
            _freeze=freeze,
            **options,
        )

    def extra_repr(self) -> str:
        """The vocabulary size, width and n-gram settings, inside ``repr(layer)``.

        Example:
            >>> SubwordEmbedding(["hi", "ho"], 8, minn=2, maxn=3, bucket=50).extra_repr()
            'words=2, embedding_dim=8, minn=2, maxn=3, bucket=50'
        """
        indexer = self.indexer
        assert isinstance(indexer, SubwordIndexer)
        return (
            f"words={indexer.nwords}, embedding_dim={self.embedding_dim}, minn={indexer.minn}, "
            f"maxn={indexer.maxn}, bucket={indexer.bucket}"
        )


class HashEmbedding(IndexedEmbedding):
    """Bloom embeddings (see :class:`embtable.subword.HashEmbedding`).

    Example:
        >>> _ = torch.manual_seed(0)
        >>> layer = HashEmbedding(1000, 4, num_hashes=3, optimizer=None)
        >>> layer(torch.tensor([5, 10**9]).numpy()).shape
        torch.Size([2, 4])
    """

    def __init__(
        self,
        num_buckets: int,
        embedding_dim: int,
        *,
        num_hashes: int = 2,
        seed: int = 0,
        **options: Any,
    ) -> None:
        super().__init__(
            HashIndexer(num_buckets, num_hashes=num_hashes, seed=seed), embedding_dim, **options
        )

    def forward(self, tokens: Any) -> torch.Tensor:
        """The vector of each token: strings, or integer ids (a list, an array or a tensor,
        taken flat).

        Shape:
            ``T`` tokens → ``(T, D)``.

        Example:
            >>> _ = torch.manual_seed(0)
            >>> layer = HashEmbedding(100, 4, num_hashes=2)
            >>> layer(["user:42", "user:7"]).shape
            torch.Size([2, 4])
            >>> torch.equal(layer(torch.tensor([3, 7])), layer([3, 7]))  # a tensor of ids
            True
        """
        if isinstance(tokens, torch.Tensor):
            tokens = tokens.detach().cpu().numpy()
        return super().forward(tokens)

    def extra_repr(self) -> str:
        """The buckets, width and hashing, inside ``repr(layer)``.

        Example:
            >>> HashEmbedding(100, 4, num_hashes=3, seed=1)
            HashEmbedding(100, 4, num_hashes=3, seed=1)
        """
        indexer = self.indexer
        assert isinstance(indexer, HashIndexer)
        return (
            f"{indexer.num_buckets}, {self.embedding_dim}, num_hashes={indexer.num_hashes}, "
            f"seed={indexer.seed}"
        )


class QuotientRemainderEmbedding(torch.nn.Module):
    """The quotient-remainder compositional embedding (see
    :class:`embtable.subword.QuotientRemainderEmbedding`): two :class:`embtable.torch.Embedding`
    tables, ``quotient`` and ``remainder``, combined by ``"mult"`` or ``"add"``.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> layer = QuotientRemainderEmbedding(10**6, 8, num_collisions=1000)
        >>> layer(torch.tensor([[0, 999_999]])).shape
        torch.Size([1, 2, 8])
        >>> sorted(layer.state_dict())
        ['quotient.weight', 'remainder.weight']
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        *,
        num_collisions: int,
        operation: Literal["mult", "add"] = "mult",
        sparse: bool = False,
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if operation not in ("mult", "add"):
            raise OptionError(f"operation must be 'mult' or 'add', got {operation!r}")
        self.indexer = QuotientRemainderIndexer(num_embeddings, num_collisions=num_collisions)
        self.operation = operation
        self.num_embeddings = self.indexer.num_ids
        self.embedding_dim = int(embedding_dim)
        options = {"sparse": sparse, "device": device, "dtype": dtype}
        self.quotient = Embedding(self.indexer.num_quotients, embedding_dim, **options)
        self.remainder = Embedding(num_collisions, embedding_dim, **options)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """As the NumPy twin: ``"add"`` both N(0, 1/2); ``"mult"`` quotient N(0, 1), remainder
        ones (so each id starts at its quotient row).

        Example:
            >>> _ = torch.manual_seed(0)
            >>> layer = QuotientRemainderEmbedding(100, 2, num_collisions=8)
            >>> layer.reset_parameters()
            >>> layer.remainder.weight.unique().tolist()  # "mult": remainders start at 1
            [1.0]
            >>> torch.equal(layer(torch.tensor([19])), layer.quotient.weight[19 // 8][None])
            True
        """
        self.quotient.reset_parameters()
        self.remainder.reset_parameters()
        with torch.no_grad():
            if self.operation == "add":
                self.quotient.weight.mul_(0.5**0.5)
                self.remainder.weight.mul_(0.5**0.5)
            else:
                self.remainder.weight.fill_(1.0)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """The vector of each id: its quotient row times (or plus) its remainder row.

        Shape:
            ids ``(*)`` → ``(*, D)``.

        Example:
            >>> _ = torch.manual_seed(0)
            >>> layer = QuotientRemainderEmbedding(100, 2, num_collisions=8, operation="add")
            >>> out = layer(torch.tensor([[19, 99]]))
            >>> out.shape
            torch.Size([1, 2, 2])
            >>> q, r = layer.quotient.weight, layer.remainder.weight
            >>> torch.allclose(out[0, 0], q[19 // 8] + r[19 % 8])
            True

        Raises:
            OptionTypeError: ``ids`` is not a tensor (a ``TypeError``, as torch's).
        """
        if not isinstance(ids, torch.Tensor):
            raise OptionTypeError(
                f"QuotientRemainderEmbedding: ids must be a torch.Tensor of integer ids, got "
                f"{type(ids).__name__} (as torch.nn.Embedding; wrap them in torch.tensor(...))"
            )
        quotients, remainders = self.indexer.split(ids.detach().cpu().numpy())
        device = self.quotient.weight.device
        q = self.quotient(torch.from_numpy(quotients).to(device))
        r = self.remainder(torch.from_numpy(remainders).to(device))
        out = q * r if self.operation == "mult" else q + r
        return out.reshape(*ids.shape, self.embedding_dim)

    def extra_repr(self) -> str:
        """The size, width and combination, inside ``repr(layer)``.

        Example:
            >>> QuotientRemainderEmbedding(1000, 4, num_collisions=32).extra_repr()
            "1000, 4, num_collisions=32, operation='mult'"
        """
        return (
            f"{self.num_embeddings}, {self.embedding_dim}, "
            f"num_collisions={self.indexer.num_collisions}, operation={self.operation!r}"
        )
