"""Peak resident memory of one call, read from the kernel's high-water mark.

``VmHWM`` in ``/proc/self/status`` is reset before the call by writing 5 to
``/proc/self/clear_refs`` (Linux); where that is not allowed, the peak is unknown (``None``).
"""

from __future__ import annotations

from collections.abc import Callable

MiB = 1 << 20


def status_bytes(field: str) -> int:
    """A ``/proc/self/status`` field (``"VmRSS"``, ``"VmHWM"``) in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def reset_peak() -> bool:
    """Reset ``VmHWM`` to the current resident size; False where the kernel refuses."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def peak_extra(call: Callable[[], object]) -> float | None:
    """Peak resident memory during ``call`` above the level before it, in MiB."""
    if not reset_peak():
        return None
    before = status_bytes("VmRSS")
    result = call()
    peak = status_bytes("VmHWM")
    del result
    return max(0.0, (peak - before) / MiB)
