"""Row-sparse gradients: sorted unique rows and their summed values."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._errors import (
    EmbeddingIndexError,
    IdsTypeError,
    OptionTypeError,
    ShapeError,
    SparseGradientError,
    WeightDTypeError,
)

__all__ = ["RowSparseGrad", "check_rows"]


def check_rows(
    rows: NDArray[np.integer], num_rows: int, *, what: str = "a row-sparse gradient"
) -> None:
    """Raise unless ``rows`` is sorted, unique and within ``0 .. num_rows - 1`` (O(n));
    ``what`` names the array in the message.

    Example:
        >>> check_rows(np.array([0, 2]), 3)
        >>> try:
        ...     check_rows(np.array([2, 0]), 3)
        ... except SparseGradientError as error:
        ...     print(error)
        a row-sparse gradient: rows must be sorted and unique, got rows[0] = 2 >= rows[1] = 0
    """
    if not len(rows):
        return
    low, high = int(rows.min()), int(rows.max())
    if low < 0 or high >= num_rows:
        bad = low if low < 0 else high
        position = int(np.flatnonzero(rows == bad)[0])
        valid = f"0..{num_rows - 1}" if num_rows else "none: the table has no rows"
        raise EmbeddingIndexError(
            f"{what}: row {bad} at position {position} is out of range for a table of "
            f"{num_rows} rows (valid: {valid})"
        )
    steps = np.diff(rows)
    if np.any(steps <= 0):
        i = int(np.flatnonzero(steps <= 0)[0])
        raise SparseGradientError(
            f"{what}: rows must be sorted and unique, got rows[{i}] = {int(rows[i])} >= "
            f"rows[{i + 1}] = {int(rows[i + 1])}"
        )


class RowSparseGrad:
    """A gradient that is zero outside a few rows of a ``(num_rows, dim)`` table.

    It is always coalesced: ``rows`` is sorted, holds no duplicates, and ``values[i]`` is the
    gradient of row ``rows[i]``. This is what torch's sparse COO gradient becomes after
    ``.coalesce()``.

    The gradient owns its arrays: the constructor copies ``rows`` and ``values`` (values in
    native byte order), so reusing the buffers they came from changes nothing here. ``rows`` and
    ``values`` cannot be reassigned; their contents can still be written, so the optimizers of
    :mod:`embtable.optim` check the rows (sorted, unique, in range) and the values' shape again
    at every step.

    Args:
        rows: sorted unique row ids, ``(n,)`` integers.
        values: ``(n, dim)`` gradient rows (real numbers).
        num_rows: the table's row count ``V``.

    Raises:
        ShapeError: ``rows`` is not 1-D, ``values`` not 2-D, their lengths differ, or
            ``num_rows`` is negative.
        IdsTypeError: ``rows`` are not integers.
        WeightDTypeError: ``values`` are not real numbers (complex, object, strings).
        EmbeddingIndexError: a row is outside ``0 .. num_rows - 1``.
        SparseGradientError: the rows are not sorted and unique.

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

    __slots__ = ("_dim", "_rows", "_values", "num_rows")
    __array_ufunc__ = None  # ``array + grad`` defers to ``__radd__``

    def __init__(self, rows: Any, values: Any, num_rows: int) -> None:
        if isinstance(num_rows, bool) or not isinstance(num_rows, numbers.Integral):
            raise OptionTypeError(
                f"num_rows must be an integer, got {type(num_rows).__name__} {num_rows!r}"
            )
        if num_rows < 0:
            raise ShapeError(f"num_rows must be >= 0, got {num_rows}")
        rows_in = np.asarray(rows)
        if rows_in.size == 0 and rows_in.dtype == np.float64:
            rows_in = rows_in.astype(np.int64)  # [] is an empty row list
        if rows_in.dtype.kind not in "iu":
            raise IdsTypeError(f"rows must be integers, got {rows_in.dtype}")
        values_in = np.asarray(values)
        if values_in.dtype.kind not in "iuf":
            raise WeightDTypeError(
                f"values must be real numbers (integer or floating-point), got {values_in.dtype}"
            )
        if rows_in.ndim != 1 or values_in.ndim != 2 or len(rows_in) != len(values_in):
            raise ShapeError(
                f"a row-sparse gradient needs rows (n,) and values (n, dim), "
                f"got rows {rows_in.shape} and values {values_in.shape}"
            )
        # copy first, then check the copy: the caller's buffers may change afterwards
        own_rows = np.array(rows_in, dtype=np.int64, copy=True, order="C")
        own_values = np.array(values_in, dtype=values_in.dtype.newbyteorder("="), copy=True)
        check_rows(own_rows, int(num_rows))
        self._rows: NDArray[np.int64] = own_rows
        self._values: NDArray[Any] = own_values
        self._dim = int(own_values.shape[1])
        self.num_rows = int(num_rows)

    @classmethod
    def _from_owned(cls, rows: NDArray[np.int64], values: NDArray[Any], num_rows: int) -> Any:
        """Wrap arrays that embtable has just computed (coalesced, in range, not shared): no
        copy, no check."""
        grad = cls.__new__(cls)
        grad._rows, grad._values, grad.num_rows = rows, values, int(num_rows)
        grad._dim = int(values.shape[1])
        return grad

    @property
    def rows(self) -> NDArray[np.int64]:
        """The sorted unique row ids, ``(nnz,)`` int64."""
        return self._rows

    @property
    def values(self) -> NDArray[Any]:
        """The gradient rows, ``(nnz, dim)``."""
        return self._values

    def _clear(self) -> None:
        """Drop every row, keeping ``dim`` and the dtype (``zero_grad(set_to_none=False)``)."""
        self._rows = np.empty(0, dtype=np.int64)
        self._values = np.empty((0, self._dim), self._values.dtype)

    @property
    def shape(self) -> tuple[int, int]:
        """The dense shape ``(num_rows, dim)``."""
        return (self.num_rows, self._dim)

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.values.dtype

    @property
    def nnz(self) -> int:
        """The number of stored rows."""
        return len(self.rows)

    def to_dense(self) -> NDArray[Any]:
        """The gradient as a ``(num_rows, dim)`` array.

        Example:
            >>> RowSparseGrad([2], np.array([[1.0, 2.0]]), num_rows=3).to_dense()
            array([[0., 0.],
                   [0., 0.],
                   [1., 2.]])
        """
        dense = np.zeros(self.shape, dtype=self.values.dtype)
        dense[self.rows] = self.values
        return dense

    def copy(self) -> RowSparseGrad:
        """An independent copy.

        Example:
            >>> grad = RowSparseGrad([0, 2], np.ones((2, 2)), num_rows=4)
            >>> twin = grad.copy()
            >>> twin.rows.tolist(), twin.values is grad.values
            ([0, 2], False)
        """
        return RowSparseGrad._from_owned(self._rows.copy(), self._values.copy(), self.num_rows)

    def __add__(self, other: object) -> Any:
        """Sum with another row-sparse gradient (stays sparse) or a dense array (becomes dense)."""
        if isinstance(other, RowSparseGrad):
            if other.shape != self.shape:
                raise ShapeError(f"cannot add gradients of shapes {self.shape} and {other.shape}")
            rows, inverse = np.unique(np.concatenate([self.rows, other.rows]), return_inverse=True)
            dtype = np.result_type(self.values, other.values)
            values = np.zeros((len(rows), self.shape[1]), dtype=dtype)
            values[inverse[: self.nnz]] += self.values
            values[inverse[self.nnz :]] += other.values
            return RowSparseGrad._from_owned(rows.astype(np.int64), values, self.num_rows)
        if isinstance(other, np.ndarray):
            if other.shape != self.shape:
                raise ShapeError(f"cannot add gradients of shapes {self.shape} and {other.shape}")
            dense = np.array(other, copy=True)
            dense[self.rows] += self.values
            return dense
        return NotImplemented

    __radd__ = __add__

    def __repr__(self) -> str:
        return f"RowSparseGrad(shape={self.shape}, nnz={self.nnz}, dtype={self.dtype})"
