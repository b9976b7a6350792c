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

Fork: GNU OpenMP cannot run in a process forked from one that already used it (numba's OpenMP
layer then kills the child with SIGTERM). An ``os.register_at_fork`` hook therefore switches a
forked child to the serial twins when its parent has launched a parallel kernel on a layer that is
not fork-safe (anything but ``workqueue`` and ``tbb``). The child computes the same results, on one
thread, as torch's DataLoader workers do (they set one intra-op thread). A parent that never ran a
parallel kernel forks children that may use the parallel twins themselves. ``spawn`` and
``forkserver`` children start fresh and are unaffected.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import numba as nb

from ._cache import CACHE

__all__ = ["FORK_SAFE_LAYERS", "PARALLEL_MIN_WORK", "launch_blocks", "pick", "serial_only", "twins"]

# Below this many scalar updates (ids x dim), a parallel launch costs more than it saves
# (measured on 2 cores with OpenMP: a gather of 1024 x 64 ran 4.7 us serially, 3.8 us parallel).
PARALLEL_MIN_WORK = 1 << 16

# numba's threading layers that keep working in a forked child (numba's documentation).
FORK_SAFE_LAYERS = frozenset({"tbb", "workqueue"})

_parallel_launched = False  # this process has picked a parallel twin at least once
_serial_only = False  # a forked child of such a process, on a layer that is not fork-safe


def _launched_layer() -> str:
    """numba's threading layer, or ``""`` while none has been started."""
    try:
        return str(nb.threading_layer())
    except ValueError:  # numba: "Threading layer is not initialized."
        return ""


def _after_fork_in_child() -> None:
    global _serial_only
    if _parallel_launched and _launched_layer() not in FORK_SAFE_LAYERS:
        _serial_only = True


os.register_at_fork(after_in_child=_after_fork_in_child)


def serial_only() -> bool:
    """Whether this process runs only serial twins (a forked child of a process that ran
    parallel kernels on a fork-unsafe threading layer).

    Example:
        >>> serial_only()
        False
    """
    return _serial_only


def twins(factory: Callable[[bool], Callable[..., Any]]) -> tuple[Any, Any]:
    """Compile ``factory(False)`` serially and ``factory(True)`` with ``parallel=True``."""
    serial = nb.njit(cache=CACHE, nogil=True)(factory(False))
    parallel = nb.njit(cache=CACHE, nogil=True, parallel=True)(factory(True))
    return serial, parallel


def pick(kernel: tuple[Any, Any], work: int) -> Any:
    """The parallel twin for large work on the main thread with more than one numba thread,
    except in a forked child that must stay serial (see the module's docstring)."""
    global _parallel_launched
    serial, parallel = kernel
    if (
        work >= PARALLEL_MIN_WORK
        and not _serial_only
        and threading.current_thread() is threading.main_thread()
        and nb.get_num_threads() > 1
    ):
        _parallel_launched = True
        return parallel
    return serial


def launch_blocks(kernel: tuple[Any, Any], work: int, *args: Any) -> Any:
    """Run the twin :func:`pick` chooses of a kernel scheduled by blocks: its last two arguments
    are the number of workers (one per numba thread, or 1 serially) and the shared block counter
    they take blocks from (:mod:`embtable.kernels._atomic`). Returns the kernel's result."""
    import numpy as np

    chosen = pick(kernel, work)
    workers = nb.get_num_threads() if chosen is kernel[1] else 1
    return chosen(*args, workers, np.zeros(1, dtype=np.int64))
