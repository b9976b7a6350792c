"""Serial and parallel twins of a kernel, and the rule that picks one per call.

numba compiles a ``prange`` loop either as a plain loop (``parallel=False``) or as a launch on its
threading layer. A launch costs tens of microseconds, so small inputs run serially. Calls from a
thread other than the main one also run serially: numba's workqueue layer (the one embtable picks,
see below) must not be entered from two threads at once.

Threading layer: unless ``NUMBA_THREADING_LAYER`` is set, embtable asks numba for ``workqueue``.
OpenMP's active waiting stalled every parallel call for 4-16 ms on a loaded 2-core machine, and
more so next to torch's own OpenMP pool in the same process; the workqueue layer costs about
0.06 ms a launch and never stalls.

Both twins come from one Python function built by a factory whose closure holds the ``parallel``
flag: numba's on-disk cache keys compiled code by the bytecode and the closure, so the flag keeps
the serial and the parallel versions apart in the cache.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import numba as nb

__all__ = ["PARALLEL_MIN_WORK", "pick", "twins"]

if "NUMBA_THREADING_LAYER" not in os.environ:
    nb.config.THREADING_LAYER = "workqueue"

# Below this many scalar updates (ids x dim), a parallel launch (about 0.06-0.2 ms on the
# workqueue layer) costs more than it saves; measured with bench/embedding.py on 2 cores.
PARALLEL_MIN_WORK = 1 << 20


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
