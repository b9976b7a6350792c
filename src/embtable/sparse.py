"""Row-sparse gradients: sorted unique rows and their summed values."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["RowSparseGrad"]


class RowSparseGrad:
    """A gradient that is zero outside a few rows of a ``(num_rows, dim)`` table.

    It is always coalesced: ``rows`` is sorted, holds no duplicates, and ``values[i]`` is the
    gradient of row ``rows[i]``. This is what torch's sparse COO gradient becomes after
    ``.coalesce()``.

    Args:
        rows: sorted unique row ids, ``(n,)`` int64.
        values: ``(n, dim)`` gradient rows.
        num_rows: the table's row count ``V``.

    Example:
        >>> g = RowSparseGrad(np.array([1, 3]), np.ones((2, 2)), num_rows=4)
        >>> g.to_dense()
        array([[0., 0.],
               [1., 1.],
               [0., 0.],
               [1., 1.]])
        >>> (g + g).values
        array([[2., 2.],
               [2., 2.]])
    """

    __slots__ = ("num_rows", "rows", "values")
    __array_ufunc__ = None  # ``array + grad`` defers to ``__radd__``

    def __init__(self, rows: Any, values: Any, num_rows: int) -> None:
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        values = np.ascontiguousarray(values)
        if rows.ndim != 1 or values.ndim != 2 or len(rows) != len(values):
            raise ValueError(
                f"a row-sparse gradient needs rows (n,) and values (n, dim), "
                f"got rows {rows.shape} and values {values.shape}"
            )
        if len(rows) and (rows[0] < 0 or rows[-1] >= num_rows or np.any(np.diff(rows) <= 0)):
            raise ValueError(
                f"rows must be sorted, unique and within 0..{num_rows - 1}, got {rows.tolist()}"
            )
        self.rows: NDArray[np.int64] = rows
        self.values: NDArray[Any] = values
        self.num_rows = int(num_rows)

    @property
    def shape(self) -> tuple[int, int]:
        """The dense shape ``(num_rows, dim)``."""
        return (self.num_rows, self.values.shape[1])

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.values.dtype

    @property
    def nnz(self) -> int:
        """The number of stored rows."""
        return len(self.rows)

    def to_dense(self) -> NDArray[Any]:
        """The gradient as a ``(num_rows, dim)`` array."""
        dense = np.zeros(self.shape, dtype=self.values.dtype)
        dense[self.rows] = self.values
        return dense

    def copy(self) -> RowSparseGrad:
        return RowSparseGrad(self.rows.copy(), self.values.copy(), self.num_rows)

    def __add__(self, other: object) -> Any:
        """Sum with another row-sparse gradient (stays sparse) or a dense array (becomes dense)."""
        if isinstance(other, RowSparseGrad):
            if other.shape != self.shape:
                raise ValueError(f"cannot add gradients of shapes {self.shape} and {other.shape}")
            rows, inverse = np.unique(np.concatenate([self.rows, other.rows]), return_inverse=True)
            dtype = np.result_type(self.values, other.values)
            values = np.zeros((len(rows), self.shape[1]), dtype=dtype)
            values[inverse[: self.nnz]] += self.values
            values[inverse[self.nnz :]] += other.values
            return RowSparseGrad(rows, values, self.num_rows)
        if isinstance(other, np.ndarray):
            dense = np.array(other, copy=True)
            dense[self.rows] += self.values
            return dense
        return NotImplemented

    __radd__ = __add__

    def __repr__(self) -> str:
        return f"RowSparseGrad(shape={self.shape}, nnz={self.nnz}, dtype={self.dtype})"
