"""What machine a benchmark ran on: printed by every script, never assumed."""

from __future__ import annotations

import platform
import sys


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def set_threads(threads: int) -> None:
    """Give numba and torch ``threads`` threads each, numba first: starting numba's OpenMP layer
    can reset the process's OpenMP thread count, which torch uses (torch then ran on 2 threads
    in 1-thread tables, and ``thread_time`` counted only the calling thread's share). Exits if
    torch does not end up on ``threads``."""
    import numba
    import torch

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    torch.set_num_threads(threads)
    if torch.get_num_threads() != threads:
        sys.exit(f"torch runs on {torch.get_num_threads()} threads, not {threads}")
