"""Quantized ``Embedding`` / ``EmbeddingBag`` modules for PyTorch inference (int8, int4).

The modules hold their table as a ``uint8`` buffer ``weight`` in FBGEMM's fused row-wise layout
(:mod:`embtable.quantized`), the same bytes as ``torch.ops.quantized.embedding_bag_byte_prepack``
and ``embedding_bag_4bit_prepack``, so a ``state_dict`` holds exactly torch's prepacked table.
``forward`` views the CPU tensors as NumPy arrays (no copy) and runs embtable's dequantizing
kernels; the checks and errors are :mod:`embtable.functional`'s.

They are inference-only: the table is a buffer, not a parameter, so it has no gradient and an
optimizer over the module's parameters refuses an empty list. ``requires_grad_(True)``, and
per-sample weights that require a gradient, raise :class:`~embtable.FrozenWeightError`.

Example:
    >>> import torch
    >>> import embtable.torch as et
    >>> from embtable.torch.quantized import QuantizedEmbeddingBag
    >>> _ = torch.manual_seed(0)
    >>> bag = QuantizedEmbeddingBag.from_float(et.EmbeddingBag(10, 4, mode="sum"), "int8")
    >>> bag
    QuantizedEmbeddingBag(10, 4, scheme='int8', mode='sum')
    >>> bag(torch.tensor([1, 2, 3]), torch.tensor([0, 2])).shape
    torch.Size([2, 4])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .. import functional as F
from .._errors import FrozenWeightError, OptionTypeError
from ..quantized import QuantizedTable, Scheme, quantize, row_bytes

__all__ = ["QuantizedEmbedding", "QuantizedEmbeddingBag"]


def _ids(tensor: Any, what: str) -> Any:
    if isinstance(tensor, torch.Tensor):
        if tensor.device.type != "cpu":
            raise OptionTypeError(
                f"quantized tables run on the CPU; {what} is on {tensor.device} "
                f"(move it with .cpu())"
            )
        return tensor.detach().numpy() if tensor.requires_grad else tensor.numpy()
    return tensor


def _float_source(weight: Any) -> np.ndarray[Any, Any]:
    source = getattr(weight, "weight", weight)
    if isinstance(source, torch.Tensor):
        return source.detach().cpu().float().numpy()
    return np.asarray(source)


class _Quantized(torch.nn.Module):
    """The table buffer, its scheme and the inference-only guard, shared by both modules."""

    weight: torch.Tensor

    def __init__(self, num_embeddings: int, embedding_dim: int, scheme: Scheme) -> None:
        super().__init__()
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        self.scheme: Scheme = scheme
        width = row_bytes(scheme, self.embedding_dim)
        self.register_buffer("weight", torch.zeros(self.num_embeddings, width, dtype=torch.uint8))
        self._view: tuple[Any, ...] = ()

    def table(self) -> QuantizedTable:
        """The buffer as a :class:`~embtable.quantized.QuantizedTable` (sharing its memory).

        The view is built (and the buffer validated) once, then reused while ``weight`` is the
        same tensor over the same memory (``load_state_dict`` copies into it in place; assigning
        a new tensor, ``.to()`` or ``set_()`` make a new view).

        Example:
            >>> import torch
            >>> emb = QuantizedEmbedding.from_float(torch.eye(2), "int8")
            >>> emb.table()
            QuantizedTable(2, 2, scheme='int8')
        """
        weight = self._buffers["weight"]
        view = self._view
        if (
            view
            and view[0] is weight
            and view[1] == (weight.data_ptr(), weight.shape, weight.stride())
        ):
            return view[2]
        table = QuantizedTable(weight.numpy(), self.embedding_dim, self.scheme)
        if weight.is_contiguous():  # else the table is a copy, which in-place writes miss
            self._view = (weight, (weight.data_ptr(), weight.shape, weight.stride()), table)
        return table

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_view"] = ()  # a cache: rebuilt, never stored
        return state

    def set_table(self, table: QuantizedTable) -> None:
        """Copy ``table``'s rows into the buffer (same size and scheme)."""
        self.table()  # validates the buffer
        if table.scheme != self.scheme or table.embedding_dim != self.embedding_dim:
            raise OptionTypeError(
                f"a {table.scheme} table of width {table.embedding_dim} cannot fill a "
                f"{self.scheme} module of width {self.embedding_dim}"
            )
        if table.scale_dtype != self.table().scale_dtype:
            raise OptionTypeError(
                f"a {table.scheme} table with {table.scale_dtype} scales cannot fill a torch "
                f"module: torch's quantized EmbeddingBag layout has "
                f"{self.table().scale_dtype} scales (quantize without scale_dtype)"
            )
        self.weight.copy_(torch.from_numpy(np.asarray(table.data)))

    def requires_grad_(self, requires_grad: bool = True) -> _Quantized:
        if requires_grad:
            raise FrozenWeightError(
                f"{type(self).__name__} is inference-only: a quantized table has no gradient; "
                f"train a float embtable.torch module and quantize it afterwards (from_float)"
            )
        return self

    def _extra(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}, scheme={self.scheme!r}"


class QuantizedEmbedding(_Quantized):
    """``torch.nn.Embedding`` lookups on an int8/int4 table (float32 output, inference only).

    Args:
        num_embeddings, embedding_dim: the table's size ``(V, D)``.
        scheme: ``"int8"`` or ``"int4"``.
        padding_idx: validated and kept; it does not change a lookup (as in torch).

    Shape:
        input ``(*)`` → ``(*, embedding_dim)``.

    Example:
        >>> import torch
        >>> emb = QuantizedEmbedding.from_float(torch.eye(3), "int8")
        >>> emb(torch.tensor([2, 0]))
        tensor([[0., 0., 1.],
                [1., 0., 0.]])
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        scheme: Scheme = "int8",
        padding_idx: int | None = None,
    ) -> None:
        super().__init__(num_embeddings, embedding_dim, scheme)
        self.padding_idx = F.check_padding_idx(padding_idx, self.num_embeddings)

    @classmethod
    def from_float(
        cls, module: Any, scheme: Scheme = "int8", *, padding_idx: int | None = None
    ) -> QuantizedEmbedding:
        """Quantize a float ``torch.nn.Embedding`` (or any module with a ``weight``, or a 2-D
        tensor or array); a module's ``padding_idx`` is kept unless one is given.

        Example:
            >>> import torch
            >>> _ = torch.manual_seed(0)
            >>> QuantizedEmbedding.from_float(torch.nn.Embedding(10, 4, padding_idx=2), "int4")
            QuantizedEmbedding(10, 4, scheme='int4', padding_idx=2)
        """
        table = quantize(_float_source(module), scheme)
        if padding_idx is None and isinstance(module, torch.nn.Module):
            padding_idx = getattr(module, "padding_idx", None)
        quantized = cls(table.num_embeddings, table.embedding_dim, scheme, padding_idx)
        quantized.set_table(table)
        return quantized

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """Look up and dequantize the rows named by ``input`` (any shape), as float32.

        Example:
            >>> import torch
            >>> emb = QuantizedEmbedding.from_float(torch.arange(6.0).reshape(3, 2), "int8")
            >>> emb.forward(torch.tensor([[2, 2], [0, 1]]))
            tensor([[[4., 5.],
                     [4., 5.]],
            <BLANKLINE>
                    [[0., 1.],
                     [2., 3.]]])
        """
        out = self.table().embedding(_ids(input, "input"), self.padding_idx)
        return torch.from_numpy(out)

    def extra_repr(self) -> str:
        """The constructor's arguments, as the module's ``repr`` shows them.

        Example:
            >>> QuantizedEmbedding(8, 3, "int4", padding_idx=0).extra_repr()
            "8, 3, scheme='int4', padding_idx=0"
        """
        text = self._extra()
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        return text


class QuantizedEmbeddingBag(_Quantized):
    """``torch.nn.EmbeddingBag`` pooling on an int8/int4 table, dequantizing inside the pooling
    kernel (float32 output, inference only).

    Args:
        num_embeddings, embedding_dim: the table's size ``(V, D)``.
        scheme: ``"int8"`` or ``"int4"``.
        mode: ``"sum"`` (the default, as ``torch.ao.nn.quantized.EmbeddingBag``), ``"mean"`` or
            ``"max"``.
        include_last_offset: ``offsets`` has ``B + 1`` entries.
        padding_idx: ids left out of the pooling and the mean's count.

    Shape:
        input ``(N,)`` with offsets ``(B,)``, or ``(B, N)`` → ``(B, embedding_dim)``.

    Example:
        >>> import torch
        >>> bag = QuantizedEmbeddingBag.from_float(torch.arange(8.0).reshape(4, 2), "int8")
        >>> bag(torch.tensor([[0, 1], [3, 3]]))
        tensor([[ 2.,  4.],
                [12., 14.]])
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        scheme: Scheme = "int8",
        mode: str = "sum",
        include_last_offset: bool = False,
        padding_idx: int | None = None,
    ) -> None:
        super().__init__(num_embeddings, embedding_dim, scheme)
        self.mode = F.check_mode(mode, sparse=False, scale_grad_by_freq=False)
        self.include_last_offset = bool(include_last_offset)
        self.padding_idx = F.check_padding_idx(
            padding_idx, self.num_embeddings, wording="module_bag"
        )

    @classmethod
    def from_float(
        cls,
        module: Any,
        scheme: Scheme = "int8",
        *,
        mode: str | None = None,
        include_last_offset: bool | None = None,
        padding_idx: int | None = None,
    ) -> QuantizedEmbeddingBag:
        """Quantize a float ``torch.nn.EmbeddingBag`` (or a module with a ``weight``, or a 2-D
        tensor or array), keeping its mode, ``include_last_offset`` and ``padding_idx`` unless
        given.

        Example:
            >>> import torch
            >>> _ = torch.manual_seed(0)
            >>> float_bag = torch.nn.EmbeddingBag(10, 4, mode="mean", include_last_offset=True)
            >>> QuantizedEmbeddingBag.from_float(float_bag, "int4")
            QuantizedEmbeddingBag(10, 4, scheme='int4', mode='mean', include_last_offset=True)
        """
        table = quantize(_float_source(module), scheme)
        settings = module if isinstance(module, torch.nn.Module) else None
        quantized = cls(
            table.num_embeddings,
            table.embedding_dim,
            scheme,
            mode if mode is not None else getattr(settings, "mode", "sum"),
            include_last_offset
            if include_last_offset is not None
            else getattr(settings, "include_last_offset", False),
            padding_idx if padding_idx is not None else getattr(settings, "padding_idx", None),
        )
        quantized.set_table(table)
        return quantized

    def forward(
        self,
        input: torch.Tensor,
        offsets: torch.Tensor | None = None,
        per_sample_weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Pool the bags of ``input`` (1-D with ``offsets``, or 2-D), dequantizing each row
        inside the pooling kernel; checks and errors as :func:`embtable.functional.plan_bags`.

        Raises:
            FrozenWeightError: ``per_sample_weights`` requires a gradient.

        Example:
            >>> import torch
            >>> bag = QuantizedEmbeddingBag.from_float(torch.arange(8.0).reshape(4, 2), "int8")
            >>> weights = torch.tensor([1.0, 2.0, 0.5])
            >>> bag.forward(torch.tensor([0, 1, 3]), torch.tensor([0, 2]), weights)
            tensor([[4.0000, 7.0000],
                    [3.0000, 3.5000]])
        """
        if isinstance(per_sample_weights, torch.Tensor) and per_sample_weights.requires_grad:
            raise FrozenWeightError(
                "QuantizedEmbeddingBag is inference-only: it computes no gradient for "
                "per_sample_weights; pass per_sample_weights.detach() or use a float EmbeddingBag"
            )
        out = self.table().embedding_bag(
            _ids(input, "input"),
            _ids(offsets, "offsets"),
            mode=self.mode,
            per_sample_weights=_ids(per_sample_weights, "per_sample_weights"),
            include_last_offset=self.include_last_offset,
            padding_idx=self.padding_idx,
        )
        return torch.from_numpy(out)

    def extra_repr(self) -> str:
        """The constructor's arguments, as the module's ``repr`` shows them.

        Example:
            >>> QuantizedEmbeddingBag(8, 3, "int8", mode="max", padding_idx=1).extra_repr()
            "8, 3, scheme='int8', mode='max', padding_idx=1"
        """
        text = self._extra() + f", mode={self.mode!r}"
        if self.include_last_offset:
            text += ", include_last_offset=True"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        return text
