"""Row primitives of the SGNS training kernel (:mod:`embtable.kernels.sgns`).

Each function works on one row (a contiguous 1-D array, usually ``weight[i]``) and is compiled
with ``inline="always"``, so a calling kernel pays no call overhead and LLVM sees the whole loop.
They trust their inputs: same length, same floating dtype, no bounds checks.

``dot_rows`` sums with four interleaved accumulators. That fixes the order of the float32
additions (the result is reproducible run to run, without ``fastmath``) and still lets LLVM
vectorise the loop; it differs from a strict left-to-right sum by rounding only.

Example:
    >>> import numpy as np
    >>> from embtable.kernels.rows import axpy_row, dot_rows
    >>> x = np.arange(6, dtype=np.float32)
    >>> y = np.ones(6, dtype=np.float32)
    >>> float(dot_rows(x, y))
    15.0
    >>> axpy_row(np.float32(2.0), x, y)
    >>> y
    array([ 1.,  3.,  5.,  7.,  9., 11.], dtype=float32)
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._cache import CACHE

__all__ = ["axpy_row", "dot_rows"]


@njit(cache=CACHE, nogil=True, inline="always")
def dot_rows(x, y):  # pragma: no cover - compiled
    """Return ``sum(x * y)`` in the rows' dtype, with four interleaved partial sums."""
    n = x.shape[0]
    s0 = np.float32(0.0)  # numba unifies this with float64 rows to float64
    s1 = s0
    s2 = s0
    s3 = s0
    k = 0
    while k + 4 <= n:
        s0 += x[k] * y[k]
        s1 += x[k + 1] * y[k + 1]
        s2 += x[k + 2] * y[k + 2]
        s3 += x[k + 3] * y[k + 3]
        k += 4
    while k < n:
        s0 += x[k] * y[k]
        k += 1
    return (s0 + s1) + (s2 + s3)


@njit(cache=CACHE, nogil=True, inline="always")
def axpy_row(alpha, x, y):  # pragma: no cover - compiled
    """Add ``alpha * x`` to ``y`` in place (BLAS ``axpy`` on one row)."""
    for k in range(x.shape[0]):
        y[k] += alpha * x[k]
