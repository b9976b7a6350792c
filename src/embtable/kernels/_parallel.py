"""Serial and parallel twins of a kernel, and the rule that picks one per call.

numba compiles a ``prange`` loop either as a plain loop (``parallel=False``) or as a launch on its
threading layer. A launch costs microseconds, so small inputs run serially. Calls from a thread
other than the main one also run serially: numba's ``workqueue`` layer must not be entered from
two threads at once, and which layer numba picked is only known after the first launch.

Threading layer: embtable leaves numba's choice alone (OpenMP where it is available, as here;
``NUMBA_THREADING_LAYER`` overrides it). Measured on 2 idle cores next to torch in one process,
a 4096 x 32 gather took 9.5 us on OpenMP, 18 us serially and 93 us on ``workqueue``. OpenMP
threads wait actively, like torch's: on an oversubscribed machine (more busy threads than cores)
a launch can stall for milliseconds, which is why :func:`pick` runs serially while other
processes keep the cores busy (see Load below).

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

Load: a parallel kernel needs a free core per thread. When other processes keep the cores busy,
the operating system deschedules one of the kernel's threads for a time slice (milliseconds) and
the loop's end waits for it, while OpenMP's waiting threads spin; with one busy process beside a
2-core run, 2-thread bag sums kept 23-33 % of their quiet throughput. :func:`pick` therefore
measures, at most every :data:`LOAD_INTERVAL` seconds, how many of this process's cores the other
processes used since the last look (``/proc/stat``'s busy time on the cores this process may run
on, less this process's own CPU time), and runs the serial twin while fewer than two cores are
free. Both twins compute the same results, so the choice only changes the time. It changes no
numba or OpenMP setting (thread count, threading layer, wait policy stay the user's). Set
``EMBTABLE_ADAPT_TO_LOAD=0`` (read at import) or :data:`ADAPT_TO_LOAD` to ``False`` to launch
the parallel twins whatever the load (the tests that force them do). Where ``/proc/stat`` cannot
be read, the load is taken as zero.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import numba as nb

from ._cache import CACHE

__all__ = [
    "ADAPT_TO_LOAD",
    "FORK_SAFE_LAYERS",
    "LOAD_INTERVAL",
    "PARALLEL_MIN_WORK",
    "free_cores",
    "launch_blocks",
    "pick",
    "serial_only",
    "twins",
]

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
    global _serial_only, _stat_fd, _load_sample, _load_checked
    if _parallel_launched and _launched_layer() not in FORK_SAFE_LAYERS:
        _serial_only = True
    # the child's CPU time starts afresh, and it opens its own /proc/stat
    if _stat_fd >= 0:
        try:
            os.close(_stat_fd)
        except OSError:
            pass
    _stat_fd, _load_sample, _load_checked = -1, None, -1.0


os.register_at_fork(after_in_child=_after_fork_in_child)


ADAPT_TO_LOAD = os.environ.get("EMBTABLE_ADAPT_TO_LOAD", "1").strip() != "0"
"""Whether :func:`pick` runs the serial twin while other processes leave fewer than 2 cores free."""

LOAD_INTERVAL = 0.1
"""Seconds between two looks at the machine's load (``/proc/stat`` counts in 10 ms ticks)."""

_TICK = 1.0 / (os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100)
_load_checked = -1.0  # time.monotonic() of the last look, -1 before the first
_load_sample: tuple[float, float, float] | None = None  # (wall, busy CPU s of our cores, own CPU s)
_free = float("inf")  # free cores at the last look
_stat_fd = -1  # /proc/stat, opened at the first look (and again in a forked child)


def _our_cores() -> frozenset[int]:
    try:
        return frozenset(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # no affinity on this platform: every core
        return frozenset(range(os.cpu_count() or 1))


def _busy_seconds(cores: frozenset[int]) -> float | None:
    """CPU seconds the machine spent busy on ``cores`` since boot, or None without /proc/stat."""
    global _stat_fd
    try:
        if _stat_fd < 0:
            _stat_fd = os.open("/proc/stat", os.O_RDONLY)
        # the per-core lines come first; pread regenerates the file at offset 0 (no seek state)
        text = os.pread(_stat_fd, 4096 + 128 * (max(cores) + 1), 0)
        busy = 0
        for line in text.split(b"\n"):
            if not line.startswith(b"cpu"):
                break
            if line.startswith(b"cpu "):
                continue
            name, *fields = line.split()
            if int(name[3:]) in cores:
                # user nice system idle iowait irq softirq steal: all but idle and iowait
                values = [int(field) for field in fields[:8]]
                busy += sum(values) - values[3] - values[4]
    except (OSError, ValueError, IndexError):  # no /proc/stat, or not the format above
        _stat_fd = -1
        return None
    return busy * _TICK


def free_cores() -> float:
    """Cores of this process's affinity set that other processes left idle, measured over the
    time since the previous look (at most every :data:`LOAD_INTERVAL` seconds; ``inf`` until two
    looks exist or without ``/proc/stat``).

    Example:
        >>> free_cores() >= 0
        True
    """
    global _load_checked, _load_sample, _free
    now = time.monotonic()
    if now - _load_checked < LOAD_INTERVAL:
        return _free
    _load_checked = now
    cores = _our_cores()
    busy = _busy_seconds(cores)
    if busy is None:
        _free = float("inf")
        return _free
    sample = (now, busy, time.process_time())
    if _load_sample is not None:
        wall = sample[0] - _load_sample[0]
        others = (sample[1] - _load_sample[1]) - (sample[2] - _load_sample[2])
        _free = max(0.0, len(cores) - max(0.0, others) / wall)
    _load_sample = sample
    return _free


def serial_only() -> bool:
    """Whether this process runs only serial twins (a forked child of a process that ran
    parallel kernels on a fork-unsafe threading layer).

    Example:
        >>> serial_only()
        False
    """
    return _serial_only


_SERIAL = 0
"""The serial twin's flag: falsy like ``False`` but pickled differently, so that the serial twins
compiled with NumPy's error model (below) have cache entries of their own, apart from those of
earlier versions compiled with Python's."""


def twins(factory: Callable[[bool], Callable[..., Any]]) -> tuple[Any, Any]:
    """Compile ``factory(_SERIAL)`` serially and ``factory(True)`` with ``parallel=True``.

    The serial twin uses NumPy's error model (a float division by zero gives inf or nan, as in
    the parallel twin's loops, instead of raising): Python's model checks each division, and the
    check keeps LLVM from vectorising the loop (``adagrad_rows_`` on 40k x 64 rows, 1 thread,
    thread CPU time: 12.8-13.7 ms with Python's model, 3.8-4.4 ms with NumPy's, the parallel twin
    on one thread 3.5-5.3 ms; bitwise the same results). The kernels trust their inputs, so
    neither twin ever divides by zero on valid ones.
    """
    serial = nb.njit(cache=CACHE, nogil=True, error_model="numpy")(factory(_SERIAL))
    parallel = nb.njit(cache=CACHE, nogil=True, parallel=True)(factory(True))
    return serial, parallel


def pick(kernel: tuple[Any, Any], work: int, *, adapt: bool = True) -> Any:
    """The parallel twin for large work on the main thread with more than one numba thread and
    at least two cores free, except in a forked child that must stay serial (see the module's
    docstring). ``adapt=False`` skips the free-core test: for kernels whose threads take small
    lanes of work dynamically and run long (the trainers), where the caller's thread count is an
    explicit request and a descheduled thread holds up no other."""
    global _parallel_launched
    serial, parallel = kernel
    if (
        work >= PARALLEL_MIN_WORK
        and not _serial_only
        and threading.current_thread() is threading.main_thread()
        and nb.get_num_threads() > 1
        and (not (adapt and ADAPT_TO_LOAD) or free_cores() >= 1.5)  # a core per thread
    ):
        _parallel_launched = True
        return parallel
    return serial


def launch_blocks(kernel: tuple[Any, Any], work: int, *args: Any) -> Any:
    """Run the twin :func:`pick` chooses of a kernel scheduled by blocks: its last two arguments
    are the number of workers (one per numba thread, or 1 serially) and the shared block counter
    they take blocks from (:mod:`embtable.kernels._atomic`). Returns the kernel's result.

    On a machine with more cores than free ones the parallel twin runs on as many threads as
    there are free cores (numba's ``set_num_threads`` for this call only, then the caller's
    count again), so that no thread waits for a core.
    """
    import numpy as np

    chosen = pick(kernel, work)
    counter = np.zeros(1, dtype=np.int64)
    if chosen is not kernel[1]:
        return chosen(*args, 1, counter)
    threads = nb.get_num_threads()
    free = free_cores() if ADAPT_TO_LOAD else float("inf")
    workers = threads if free >= threads else max(2, int(free + 0.5))
    if workers == threads:
        return chosen(*args, workers, counter)
    nb.set_num_threads(workers)
    try:
        return chosen(*args, workers, counter)
    finally:
        nb.set_num_threads(threads)
