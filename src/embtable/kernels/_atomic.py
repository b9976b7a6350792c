"""An atomic counter for kernels that hand out work dynamically.

numba's ``prange`` splits its iterations between the threads up front (OpenMP's static
schedule), so when the operating system deschedules one thread (another process wants the core)
the others finish their share and wait for it at the end of the loop. A kernel that runs
``prange(workers)`` with one iteration per thread, and inside it takes the next block of work from
a shared counter with :func:`fetch_add`, lets a running thread take the blocks a descheduled one
has not started: on a loaded machine the loop ends when the work is done, not when the slowest
thread's fixed share is.

Example:
    >>> import numpy as np
    >>> from numba import njit
    >>> @njit
    ... def take_two(counter):
    ...     return fetch_add(counter, 0, 1), fetch_add(counter, 0, 1)
    >>> counter = np.zeros(1, np.int64)
    >>> take_two(counter), counter
    ((0, 1), array([2]))
"""

from __future__ import annotations

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["fetch_add"]


@intrinsic
def fetch_add(typingctx, array, index, value):  # pragma: no cover - compiled
    """Atomically add ``value`` to the integer ``array[index]``; returns the value before."""
    if not isinstance(array, types.Array) or not isinstance(array.dtype, types.Integer):
        return None
    sig = array.dtype(array, index, value)

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        data = context.make_array(array_type)(context, builder, args[0])
        pointer = cgutils.get_item_pointer(
            context, builder, array_type, data, [args[1]], wraparound=False
        )
        amount = context.cast(builder, args[2], signature.args[2], array_type.dtype)
        return builder.atomic_rmw("add", pointer, amount, "monotonic")

    return sig, codegen
