"""``Parameter``: a weight array with its gradient and a ``requires_grad`` flag."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._errors import ShapeError
from .sparse import RowSparseGrad

__all__ = ["Parameter"]


class Parameter:
    """A trainable array, as ``torch.nn.Parameter`` is for tensors.

    ``data`` is the NumPy array itself (updated in place by layers and optimizers), ``grad`` is
    ``None``, a dense array of ``data``'s shape, or a :class:`RowSparseGrad`. The parameter can be
    used wherever an array is expected (``np.asarray(p)`` returns ``p.data`` without a copy).

    Example:
        >>> p = Parameter(np.zeros((2, 3), dtype=np.float32))
        >>> p.shape, p.requires_grad, p.grad is None
        ((2, 3), True, True)
        >>> np.asarray(p) is p.data
        True
    """

    __slots__ = ("data", "grad", "requires_grad")

    def __init__(self, data: NDArray[Any], requires_grad: bool = True) -> None:
        self.data: NDArray[Any] = data
        self.grad: NDArray[Any] | RowSparseGrad | None = None
        self.requires_grad = bool(requires_grad)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> NDArray[Any]:
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, key: Any) -> Any:
        return self.data[key]

    def accumulate_grad(self, grad: NDArray[Any] | RowSparseGrad) -> None:
        """Add ``grad`` to ``self.grad``, as torch's autograd accumulates into ``.grad``.

        Sparse plus sparse stays sparse; any dense term makes the sum dense.

        Example:
            >>> from embtable.sparse import RowSparseGrad
            >>> p = Parameter(np.zeros((3, 2)))
            >>> p.accumulate_grad(RowSparseGrad([1], np.ones((1, 2)), num_rows=3))
            >>> p.accumulate_grad(RowSparseGrad([1, 2], np.ones((2, 2)), num_rows=3))
            >>> p.grad.rows.tolist(), p.grad.values.tolist()
            ([1, 2], [[2.0, 2.0], [1.0, 1.0]])
        """
        if grad.shape != self.data.shape:
            raise ShapeError(
                f"a gradient of shape {grad.shape} cannot accumulate into a parameter of shape "
                f"{self.data.shape}"
            )
        current = self.grad
        if current is not None and (
            not isinstance(current, (np.ndarray, RowSparseGrad)) or current.shape != self.data.shape
        ):
            raise ShapeError(
                f"the parameter's current .grad ({type(current).__name__} of shape "
                f"{getattr(current, 'shape', None)}) does not have the parameter's shape "
                f"{self.data.shape}; set .grad = None (zero_grad()) first"
            )
        if self.grad is None:
            self.grad = grad
        elif isinstance(self.grad, RowSparseGrad):
            self.grad = self.grad + grad
        elif not self.grad.flags.writeable:
            self.grad = grad + self.grad  # a read-only gradient is replaced, not written
        elif isinstance(grad, RowSparseGrad):
            self.grad[grad.rows] += grad.values
        else:
            self.grad += grad

    def __repr__(self) -> str:
        return (
            f"Parameter(shape={self.shape}, dtype={self.dtype}, requires_grad={self.requires_grad})"
        )
