"""The layers: :class:`Embedding` and :class:`EmbeddingBag`, holding state; semantics live in
:mod:`embtable.functional`."""

from __future__ import annotations

import numbers
import os
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from . import functional as F
from ._errors import FrozenWeightError, OptionTypeError, ShapeError, WeightDTypeError
from .parameter import Parameter

__all__ = ["Embedding", "EmbeddingBag", "Module", "aligned_rows"]


class Module:
    """The little of ``torch.nn.Module`` that a layer with one weight needs.

    Example:
        >>> layer = Embedding(4, 2, rng=0)
        >>> isinstance(layer, Module), [name for name, _ in layer.named_parameters()]
        (True, ['weight'])
    """

    weight: Parameter

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """Yield ``(name, parameter)`` pairs, as torch does.

        Example:
            >>> [(name, p.shape) for name, p in Embedding(5, 3).named_parameters()]
            [('weight', (5, 3))]
        """
        yield "weight", self.weight

    def parameters(self) -> Iterator[Parameter]:
        """Yield the layer's parameters (here: ``weight``), for an optimizer.

        Example:
            >>> from embtable import optim
            >>> layer = Embedding(5, 3, sparse=True, rng=0)
            >>> opt = optim.SGD(layer.parameters(), lr=0.1)
            >>> len(list(layer.parameters()))
            1
        """
        for _, parameter in self.named_parameters():
            yield parameter

    def zero_grad(self) -> None:
        """Drop the accumulated gradients (``grad = None``, as torch's default).

        Example:
            >>> layer = Embedding(5, 3, rng=0)
            >>> layer.backward(np.array([1, 2]), np.ones((2, 3), np.float32))
            >>> layer.weight.grad is None
            False
            >>> layer.zero_grad()
            >>> layer.weight.grad is None
            True
        """
        for parameter in self.parameters():
            parameter.grad = None

    def state_dict(self) -> dict[str, NDArray[Any]]:
        """``{"weight": array}``; the array is the layer's own, as torch shares storage.

        Example:
            >>> layer = Embedding(3, 2, rng=0)
            >>> state = layer.state_dict()
            >>> list(state), state["weight"] is layer.weight.data
            (['weight'], True)
        """
        return {name: parameter.data for name, parameter in self.named_parameters()}

    def load_state_dict(self, state_dict: Mapping[str, ArrayLike], strict: bool = True) -> None:
        """Copy arrays into the parameters in place, checking keys and shapes first.

        Raises:
            ShapeError: with ``strict``, a missing or unexpected key (torch raises
                ``RuntimeError``; this is one, and a ``ValueError``), or an array's shape differs
                from the parameter's.

        Example:
            >>> layer = Embedding(3, 2, rng=0)
            >>> layer.load_state_dict({"weight": np.arange(6.0).reshape(3, 2)})
            >>> layer.weight.data
            array([[0., 1.],
                   [2., 3.],
                   [4., 5.]], dtype=float32)
            >>> layer.load_state_dict({"weight": np.zeros((2, 2))})  # doctest: +ELLIPSIS
            Traceback (most recent call last):
                ...
            embtable._errors.ShapeError: size mismatch for weight: copying an array of shape...
        """
        own = dict(self.named_parameters())
        missing = sorted(set(own) - set(state_dict))
        unexpected = sorted(set(state_dict) - set(own))
        if strict and (missing or unexpected):
            raise ShapeError(
                f"Error(s) in loading state_dict for {type(self).__name__}: "
                f"missing keys {missing}, unexpected keys {unexpected}"
            )
        arrays = {}
        for name, value in state_dict.items():
            if name not in own:
                continue
            array = np.asarray(value)
            if array.shape != own[name].shape:
                raise ShapeError(
                    f"size mismatch for {name}: copying an array of shape {array.shape}, "
                    f"the shape in the current model is {own[name].shape}"
                )
            arrays[name] = array
        for name, array in arrays.items():
            own[name].data[...] = array

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The layer's computation; calling the layer calls it. Subclasses define it.

        Example:
            >>> Embedding(4, 2, rng=0).forward(np.array([1, 3])).shape
            (2, 2)
        """
        raise NotImplementedError

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def extra_repr(self) -> str:
        """The arguments shown inside the layer's ``repr``, as in torch.

        Example:
            >>> Embedding(10, 3, padding_idx=0).extra_repr()
            '10, 3, padding_idx=0'
        """
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


def _check_size(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise OptionTypeError(
            f"{name} must be an integer, got {type(value).__name__} {value!r} (valid: >= 0)"
        )
    if value < 0:
        raise ShapeError(
            f"Trying to create tensor with negative dimension {value}: {name} must be >= 0"
        )
    return int(value)


def _grad_like(layer: Embedding | EmbeddingBag, grad_output: ArrayLike) -> NDArray[Any]:
    """``grad_output`` in the weight's dtype (as torch's gradients are), as wide as the table."""
    grad = np.asarray(grad_output)
    if grad.ndim == 0 or grad.shape[-1] != layer.embedding_dim:
        raise ShapeError(
            f"grad_output must end in the embedding dimension {layer.embedding_dim}, "
            f"got shape {grad.shape}"
        )
    if grad.dtype.kind == "f" and layer.weight.dtype.kind == "f":
        grad = grad.astype(layer.weight.dtype, copy=False)
    return grad


def aligned_rows(
    vectors: Any,
    vocab: Any,
    *,
    oov: str,
    padding_idx: int | str | None,
    rng: int | np.random.Generator | None,
    lowercase_fallback: bool,
) -> tuple[NDArray[np.floating], int | None, Any]:
    """``vectors.align(vocab, ...)`` with ``padding_idx="vocab"`` resolved to ``vocab.pad_id``.

    Returns ``(matrix, padding_idx, coverage)``; shared by the NumPy and torch ``from_vectors``.

    Example:
        >>> from embtable.text import Vocab
        >>> from embtable.vectors import Vectors
        >>> vectors = Vectors(["cat", "dog"], np.array([[1.0, 0.0], [0.0, 1.0]], np.float32))
        >>> vocab = Vocab.build([["cat", "dog", "emu"]])
        >>> matrix, pad, coverage = aligned_rows(
        ...     vectors, vocab, oov="zeros", padding_idx="vocab", rng=0, lowercase_fallback=False
        ... )
        >>> matrix.shape, pad == vocab.pad_id
        ((5, 2), True)
    """
    if padding_idx == "vocab":
        padding_idx = getattr(vocab, "pad_id", None)
    matrix, coverage = vectors.align(
        vocab, oov=oov, padding_idx=padding_idx, rng=rng, lowercase_fallback=lowercase_fallback
    )
    return matrix, padding_idx, coverage  # type: ignore[return-value]


def _make_generator(rng: int | np.random.Generator | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, numbers.Integral) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise OptionTypeError(
        f"rng must be an int seed, a numpy.random.Generator or None, got {type(rng).__name__} "
        f"{rng!r}"
    )


def _init_weight(
    layer: Embedding | EmbeddingBag,
    num_embeddings: int,
    embedding_dim: int,
    weight: ArrayLike | None,
    requires_grad: bool,
    dtype: DTypeLike,
) -> None:
    """Set ``layer.weight``: a fresh N(0, 1) table, or ``_weight`` itself (shared, not copied)."""
    if weight is None:
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise WeightDTypeError(
                f"Only Tensors of floating point dtype can require gradients or be drawn from "
                f"N(0, 1); got dtype {dtype}"
            )
        layer.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype), requires_grad)
        layer.reset_parameters()
        return
    array = weight.data if isinstance(weight, Parameter) else np.asarray(weight)
    if array.shape != (num_embeddings, embedding_dim):
        raise ShapeError(
            f"Shape of weight does not match num_embeddings and embedding_dim: got "
            f"{array.shape}, expected {(num_embeddings, embedding_dim)}"
        )
    if requires_grad and array.dtype.kind != "f":
        raise WeightDTypeError(
            f"Only Tensors of floating point and complex dtype can require gradients; got "
            f"{array.dtype} (pass freeze=True / _freeze=True for an integer table)"
        )
    layer.weight = Parameter(array, requires_grad)


class Embedding(Module):
    """A lookup table of ``num_embeddings`` vectors of size ``embedding_dim``.

    The NumPy twin of ``torch.nn.Embedding``, with its constructor, attributes and semantics.
    Calling the layer looks up rows; :meth:`backward` accumulates the weight's gradient into
    ``weight.grad`` as torch's autograd would, for an optimizer from :mod:`embtable.optim`.

    Args:
        num_embeddings: the number of rows ``V``.
        embedding_dim: the size ``D`` of each row.
        padding_idx: a row that is zeroed at initialisation and never receives gradient;
            negative values count from the end and are stored wrapped.
        max_norm: renormalise, in place, each looked-up row whose ``norm_type``-norm exceeds it.
        norm_type: the p of the p-norm for ``max_norm``.
        scale_grad_by_freq: divide each row's gradient by the id's count in the batch.
        sparse: produce row-sparse gradients (:class:`~embtable.sparse.RowSparseGrad`).
        _weight: an existing ``(V, D)`` array to use as the table (shared, not copied, and its
            padding row is not zeroed, as in torch).
        _freeze: create the weight with ``requires_grad=False``.
        dtype: the table's dtype for a fresh table (float16, float32 or float64).
        rng: an int seed or a ``numpy.random.Generator`` for the N(0, 1) initialisation.

    Shape:
        ids ``(*)`` → ``(*, embedding_dim)``.

    Example:
        >>> emb = Embedding(10, 3, padding_idx=1, rng=0)
        >>> emb
        Embedding(10, 3, padding_idx=1)
        >>> emb([[1, 4], [4, 9]]).shape
        (2, 2, 3)
        >>> emb(1)
        array([0., 0., 0.], dtype=float32)
    """

    coverage: Any  # set by from_vectors: how many tokens had a pre-trained vector

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: ArrayLike | None = None,
        _freeze: bool = False,
        *,
        dtype: DTypeLike = np.float32,
        rng: int | np.random.Generator | None = None,
    ) -> None:
        self.num_embeddings = _check_size(num_embeddings, "num_embeddings")
        self.embedding_dim = _check_size(embedding_dim, "embedding_dim")
        self.padding_idx = F.check_padding_idx(padding_idx, self.num_embeddings)
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        self._rng = _make_generator(rng)
        _init_weight(self, self.num_embeddings, self.embedding_dim, _weight, not _freeze, dtype)

    def reset_parameters(self) -> None:
        """Redraw the weight from N(0, 1) in place and zero the padding row.

        Example:
            >>> layer = Embedding(4, 3, padding_idx=1, rng=0)
            >>> layer.weight.data[...] = 7
            >>> layer.reset_parameters()
            >>> bool((layer.weight.data[1] == 0).all()), bool((layer.weight.data != 7).all())
            (True, True)
        """
        data = self.weight.data
        draw_dtype = np.float64 if data.dtype == np.float64 else np.float32
        data[...] = self._rng.standard_normal(data.shape, dtype=draw_dtype)
        if self.padding_idx is not None:
            data[self.padding_idx] = 0

    def forward(self, ids: ArrayLike) -> NDArray[Any]:
        """Look up ``ids``; see :func:`embtable.functional.embedding`.

        Example:
            >>> layer = Embedding.from_pretrained(np.arange(6.0).reshape(3, 2))
            >>> layer.forward(np.array([[2, 0]]))
            array([[[4., 5.],
                    [0., 1.]]])
        """
        return F.embedding(
            ids,
            self.weight.data,
            self.padding_idx,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
            self.sparse,
        )

    def backward(self, ids: ArrayLike, grad_output: ArrayLike) -> None:
        """Accumulate the gradient of a lookup of ``ids`` into ``weight.grad``.

        Args:
            ids: the ids given to the forward.
            grad_output: the loss's gradient with respect to the forward's output,
                ``(*ids.shape, embedding_dim)``.

        Raises:
            FrozenWeightError: the weight does not require gradients.

        Example:
            >>> emb = Embedding(4, 2, padding_idx=0, sparse=True, rng=0)
            >>> emb.backward([0, 3, 3], np.ones((3, 2)))
            >>> emb.weight.grad.rows, emb.weight.grad.values
            (array([3]), array([[2., 2.]], dtype=float32))
        """
        if not self.weight.requires_grad:
            raise FrozenWeightError(
                "the weight does not require gradients (frozen); set weight.requires_grad = True "
                "to train it"
            )
        grad = F.embedding_backward(
            ids,
            _grad_like(self, grad_output),
            self.num_embeddings,
            self.padding_idx,
            self.scale_grad_by_freq,
            self.sparse,
        )
        self.weight.accumulate_grad(grad)

    @classmethod
    def from_pretrained(
        cls,
        embeddings: ArrayLike,
        freeze: bool = True,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
    ) -> Embedding:
        """A layer whose table is ``embeddings`` itself (shared, not copied).

        As in torch, the padding row is kept as given, not zeroed: the array is the caller's.
        An integer table is accepted when frozen.

        Raises:
            ShapeError: ``embeddings`` is not 2-D (also an ``AssertionError``, as in torch).

        Example:
            >>> emb = Embedding.from_pretrained(np.eye(3, dtype=np.float32))
            >>> emb(2), emb.weight.requires_grad
            (array([0., 0., 1.], dtype=float32), False)
        """
        array = embeddings.data if isinstance(embeddings, Parameter) else np.asarray(embeddings)
        if array.ndim != 2:
            raise ShapeError(
                f"Embeddings parameter is expected to be 2-dimensional, got shape {array.shape}"
            )
        rows, cols = array.shape
        return cls(
            rows,
            cols,
            padding_idx,
            max_norm,
            norm_type,
            scale_grad_by_freq,
            sparse,
            _weight=array,
            _freeze=freeze,
        )

    @staticmethod
    def open(
        path: str | os.PathLike[str], mode: Literal["r+", "r"] = "r+", *, journal: bool = True
    ) -> Embedding:
        """Open a table directory on disk, memory-mapped: :func:`embtable.ondisk.open_table`.

        With ``mode="r+"`` the weight is the mapped file, trained in place by the row-sparse
        optimizers (``emb.make_optimizer(...)``) and made durable by ``emb.checkpoint()``;
        ``mode="r"`` is a frozen, copy-on-write view. Tables are made by
        :func:`embtable.ondisk.create_table`.

        Example:
            >>> import tempfile, pathlib
            >>> from embtable.ondisk import create_table
            >>> path = pathlib.Path(tempfile.mkdtemp()) / "t"
            >>> create_table(path, 4, 2, init=np.arange(8.0).reshape(4, 2)).close()
            >>> with Embedding.open(path, mode="r") as emb:
            ...     emb(np.array([3]))
            array([[6., 7.]], dtype=float32)
        """
        from .ondisk import open_table

        return open_table(path, mode, journal=journal)

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

        Args:
            vectors: an :class:`embtable.vectors.Vectors` (anything with its ``align`` method).
            vocab: an :class:`embtable.text.Vocab` or a sequence of tokens.
            oov: rows of tokens without a vector: ``"random"`` (normal, with the table's
                spread), ``"zeros"`` or ``"mean"``.
            freeze: whether the table is frozen (``requires_grad=False``).
            padding_idx: the padding row, set to zero; by default the vocabulary's ``<pad>``
                id (``None`` for none).
            rng: seed or generator for ``oov="random"``.
            lowercase_fallback: match ``"Paris"`` to the vector of ``"paris"`` when only that
                one exists.
            **options: ``max_norm``, ``norm_type``, ``scale_grad_by_freq``, ``sparse``.

        Returns:
            The layer; its ``coverage`` attribute tells how many tokens were matched, matched in
            lower case, and missing.

        Example:
            >>> from embtable.text import Vocab
            >>> from embtable.vectors import Vectors
            >>> vectors = Vectors(["cat", "dog"], np.array([[1.0, 2.0], [3.0, 4.0]]))
            >>> vocab = Vocab.build([["cat", "Dog", "emu"]])
            >>> emb = Embedding.from_vectors(vectors, vocab, oov="zeros")
            >>> emb
            Embedding(5, 2, padding_idx=1)
            >>> emb.coverage.matched, emb.coverage.lowercase_matched, emb.coverage.missing_tokens
            (1, 1, ('emu',))
        """
        matrix, padding_idx, coverage = aligned_rows(
            vectors,
            vocab,
            oov=oov,
            padding_idx=padding_idx,
            rng=rng,
            lowercase_fallback=lowercase_fallback,
        )
        layer = cls.from_pretrained(matrix, freeze=freeze, padding_idx=padding_idx, **options)
        layer.coverage = coverage
        return layer

    def extra_repr(self) -> str:
        """The arguments of ``repr(layer)``, as torch prints them.

        Example:
            >>> Embedding(10, 3, max_norm=1.0, sparse=True)
            Embedding(10, 3, max_norm=1.0, sparse=True)
        """
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            text += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            text += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        if self.sparse is not False:
            text += ", sparse=True"
        return text


class EmbeddingBag(Module):
    """Sums, means or maxima of bags of embeddings, without the ``(N, D)`` intermediate.

    The NumPy twin of ``torch.nn.EmbeddingBag``, with its constructor (``mode`` sixth,
    ``padding_idx`` last). Unlike torch, ``per_sample_weights`` also works in ``mean`` mode, the
    mode is checked at construction, and offsets are validated completely.

    Args:
        num_embeddings: the number of rows ``V``.
        embedding_dim: the size ``D`` of each row.
        max_norm: renormalise, in place, each referenced row whose norm exceeds it.
        norm_type: the p of the p-norm for ``max_norm``.
        scale_grad_by_freq: divide each row's gradient by the id's count in the batch.
        mode: ``"sum"``, ``"mean"`` or ``"max"``.
        sparse: produce row-sparse gradients (not in ``max`` mode).
        _weight: an existing ``(V, D)`` float array to use as the table (shared).
        include_last_offset: offsets have ``B + 1`` entries, the last equal to ``len(ids)``.
        padding_idx: ids left out of every bag's pooling and count; its row starts at zero.
        dtype: the table's dtype for a fresh table.
        rng: an int seed or a ``numpy.random.Generator``.

    Shape:
        ids ``(N,)`` with offsets ``(B,)``, or ids ``(B, N)`` → ``(B, embedding_dim)``.

    Example:
        >>> bag = EmbeddingBag(10, 3, mode="sum", rng=0)
        >>> bag
        EmbeddingBag(10, 3, mode='sum')
        >>> bag([1, 2, 4, 5, 4, 3, 2, 9], [0, 4]).shape
        (2, 3)
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        mode: F.BagMode = "mean",
        sparse: bool = False,
        _weight: ArrayLike | None = None,
        include_last_offset: bool = False,
        padding_idx: int | None = None,
        *,
        dtype: DTypeLike = np.float32,
        rng: int | np.random.Generator | None = None,
    ) -> None:
        self.num_embeddings = _check_size(num_embeddings, "num_embeddings")
        self.embedding_dim = _check_size(embedding_dim, "embedding_dim")
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.mode: F.BagMode = F.check_mode(
            mode, sparse=sparse, scale_grad_by_freq=scale_grad_by_freq
        )
        self.sparse = sparse
        self.include_last_offset = include_last_offset
        self.padding_idx = F.check_padding_idx(
            padding_idx, self.num_embeddings, wording="module_bag"
        )
        self._rng = _make_generator(rng)
        given = None if _weight is None else np.asarray(getattr(_weight, "data", _weight))
        if given is not None and given.dtype.kind != "f":
            raise WeightDTypeError(
                f"EmbeddingBag needs a floating-point weight (float16, float32 or float64) to "
                f"pool, got {given.dtype}"
            )
        _init_weight(self, self.num_embeddings, self.embedding_dim, _weight, True, dtype)

    reset_parameters = Embedding.reset_parameters

    def forward(
        self,
        ids: ArrayLike,
        offsets: ArrayLike | None = None,
        per_sample_weights: ArrayLike | None = None,
    ) -> NDArray[np.floating]:
        """Pool the bags; see :func:`embtable.functional.embedding_bag`.

        Example:
            >>> bag = EmbeddingBag.from_pretrained(np.arange(6.0).reshape(3, 2), mode="sum")
            >>> bag.forward(np.array([0, 1, 2]), offsets=np.array([0, 2]))
            array([[2., 4.],
                   [4., 5.]])
        """
        return F.embedding_bag(
            ids,
            self.weight.data,
            offsets,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
            self.mode,
            self.sparse,
            per_sample_weights,
            self.include_last_offset,
            self.padding_idx,
        )

    def backward(
        self,
        ids: ArrayLike,
        grad_output: ArrayLike,
        offsets: ArrayLike | None = None,
        per_sample_weights: ArrayLike | None = None,
    ) -> NDArray[np.floating] | None:
        """Accumulate the weight's gradient into ``weight.grad``.

        Returns:
            The gradient with respect to ``per_sample_weights`` (same shape), or ``None`` when
            none were given.

        Raises:
            FrozenWeightError: the weight does not require gradients and no per-sample weights
                were given (with them, a frozen table still yields their gradient).

        Example:
            >>> bag = EmbeddingBag(4, 2, mode="sum", _weight=np.ones((4, 2)))
            >>> bag.backward([[1, 2]], np.ones((1, 2)), per_sample_weights=[[0.5, 2.0]])
            array([[2., 2.]])
            >>> bag.weight.grad[1:3]
            array([[0.5, 0.5],
                   [2. , 2. ]])
        """
        trainable = self.weight.requires_grad
        if not trainable and per_sample_weights is None:
            raise FrozenWeightError(
                "the weight does not require gradients (frozen); set weight.requires_grad = True "
                "to train it"
            )
        weight_grad, psw_grad = F.embedding_bag_backward(
            ids,
            _grad_like(self, grad_output),
            self.weight.data,
            offsets,
            scale_grad_by_freq=self.scale_grad_by_freq,
            mode=self.mode,
            sparse=self.sparse,
            per_sample_weights=per_sample_weights,
            include_last_offset=self.include_last_offset,
            padding_idx=self.padding_idx,
            weight_grad=trainable,
        )
        if weight_grad is not None:
            self.weight.accumulate_grad(weight_grad)
        if psw_grad is None or per_sample_weights is None:
            return None
        return psw_grad.reshape(np.shape(per_sample_weights))

    @classmethod
    def from_pretrained(
        cls,
        embeddings: ArrayLike,
        freeze: bool = True,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        mode: F.BagMode = "mean",
        sparse: bool = False,
        include_last_offset: bool = False,
        padding_idx: int | None = None,
    ) -> EmbeddingBag:
        """A bag layer whose table is ``embeddings`` itself (shared; padding row kept as given).

        Raises:
            ShapeError: ``embeddings`` is not 2-D.

        Example:
            >>> table = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
            >>> bag = EmbeddingBag.from_pretrained(table)
            >>> bag(np.array([[0, 1]])), bag.weight.data is table, bag.weight.requires_grad
            (array([[2., 3.]], dtype=float32), True, False)
        """
        array = embeddings.data if isinstance(embeddings, Parameter) else np.asarray(embeddings)
        if array.ndim != 2:
            raise ShapeError(
                f"Embeddings parameter is expected to be 2-dimensional, got shape {array.shape}"
            )
        rows, cols = array.shape
        layer = cls(
            rows,
            cols,
            max_norm,
            norm_type,
            scale_grad_by_freq,
            mode,
            sparse,
            array,
            include_last_offset,
            padding_idx,
        )
        layer.weight.requires_grad = not freeze
        return layer

    def extra_repr(self) -> str:
        """The arguments of ``repr(bag)``, as torch prints them.

        Example:
            >>> EmbeddingBag(10, 3, mode="max")
            EmbeddingBag(10, 3, mode='max')
        """
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm!r}"
        if self.norm_type != 2:
            text += f", norm_type={self.norm_type!r}"
        if self.scale_grad_by_freq is not False:
            text += f", scale_grad_by_freq={self.scale_grad_by_freq!r}"
        text += f", mode={self.mode!r}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx!r}"
        return text
