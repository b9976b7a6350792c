"""Serial and parallel twins of a kernel, and the rule that picks one per call.

numba compiles a ``prange`` loop either as a plain loop (``parallel=False``) or as a launch on its
threading layer. A launch costs microseconds, so small inputs run serially. Calls from a thread
other than the main one also run serially: numba's ``workqueue`` layer must not be entered from
two threads at once, and which layer numba picked is only known after the first launch.

Threading layer: embtable leaves numba's choice alone (OpenMP where it is available, as here;
``NUMBA_THREADING_LAYER`` overrides it). Measured on 2 idle cores next to torch in one process,
a 4096 x 32 gather took 9.5 us on OpenMP, 18 us serially and 93 us on ``workqueue``. OpenMP
threads wait actively, like torch's: on an oversubscribed machine (more busy threads than cores)
a launch can stall for milliseconds; there, set ``NUMBA_NUM_THREADS=1`` or
``NUMBA_THREADING_LAYER=workqueue``.

Both twins come from one Python function built by a factory whose closure holds the ``parallel``
flag: numba's on-disk cache keys compiled code by the bytecode and the closure, so the flag keeps
the serial and the parallel versions apart in the cache.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numba as nb

__all__ = ["PARALLEL_MIN_WORK", "pick", "twins"]

# Below this many scalar updates (ids x dim), a parallel launch costs more than it saves
# (measured on 2 cores with OpenMP: a gather of 1024 x 64 ran 4.7 us serially, 3.8 us parallel).
PARALLEL_MIN_WORK = 1 << 16


def twins(factory: Callable[[bool], Callable[..., Any]]) -> tuple[Any, Any]:
    """Compile ``factory(False)`` serially and ``factory(True)`` with ``parallel=True``."""
    serial = nb.njit(cache=True, nogil=True)(factory(False))
    parallel = nb.njit(cache=True, nogil=True, parallel=True)(factory(True))
    return serial, parallel


def pick(kernel: tuple[Any, Any], work: int) -> Any:
    """The parallel twin for large work on the main thread with more than one numba thread."""
    serial, parallel = kernel
    if (
        work >= PARALLEL_MIN_WORK
        and nb.get_num_threads() > 1
        and threading.current_thread() is threading.main_thread()
    ):
        return parallel
    return serial
