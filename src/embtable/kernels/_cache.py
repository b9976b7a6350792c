"""Where numba caches compiled kernels, chosen so that ``cache=True`` never fails.

numba looks for a writable cache directory next to the source (``kernels/__pycache__``), then
in the user-wide one (``$XDG_CACHE_HOME/numba`` or ``~/.cache/numba``); when neither is writable
(a read-only site-packages and ``$HOME``, as in many containers) decorating a ``cache=True``
function raises ``RuntimeError: cannot cache function ...: no locator available``. This module
runs when :mod:`embtable.kernels` is imported, before any kernel module is, and imports no
numba. Only in that case it points numba's cache at a private directory under the system temp
dir (``embtable-numba-<uid>``, mode 0700, refused if another user owns it), through
``NUMBA_CACHE_DIR`` (or numba's config when numba is already imported); when even that is
impossible it turns caching off (:data:`CACHE`), so kernels compile at every start.

A user's ``NUMBA_CACHE_DIR`` is left alone when it is usable. Setting numba's cache dir applies to
the whole process (numba has one setting), so in that fallback other ``cache=True`` functions of
the process are cached there too, which is where they would otherwise fail.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path

__all__ = ["CACHE", "cache_dir", "configure"]

CACHE = True
"""Whether kernels are decorated with ``cache=True``; false only when no directory is writable."""

_configured = False
_chosen: str | None = None


def _writable_dir(path: Path) -> bool:
    """Whether ``path`` is, or could be created as, a directory this process can write into."""
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            return False
        probe = probe.parent
    return probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)


def _user_wide() -> Path:
    """numba's user-wide cache directory on this platform (its ``appdirs`` rule)."""
    if os.name == "nt":
        base = os.environ.get("LOCALAPPDATA", os.path.expanduser("~"))
        return Path(base) / "numba"
    if sys.platform == "darwin":
        return Path(os.path.expanduser("~/Library/Caches")) / "numba"
    return Path(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache"))) / "numba"


def _private_temp_dir() -> str | None:
    """``<tmp>/embtable-numba-<uid>``, created 0700 and owned by us, or a fresh ``mkdtemp``."""
    base = Path(tempfile.gettempdir())
    uid = os.getuid() if hasattr(os, "getuid") else 0
    path = base / f"embtable-numba-{uid}"
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        info = path.lstat()
        private = (
            stat.S_ISDIR(info.st_mode)
            and (not hasattr(os, "getuid") or info.st_uid == uid)
            and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        )
        if private and os.access(path, os.W_OK | os.X_OK):
            return str(path)
        # someone else's directory (or a link): never load compiled code from it
        return tempfile.mkdtemp(prefix="embtable-numba-")
    except OSError:
        return None


def configure() -> None:
    """Make sure numba has somewhere to cache the kernels (idempotent, cheap after the first call).

    Example:
        >>> configure()
        >>> isinstance(CACHE, bool)
        True
    """
    global CACHE, _configured, _chosen
    if _configured:
        return
    _configured = True
    config = sys.modules.get("numba.core.config")  # set only when numba is already imported
    user_dir = (config.CACHE_DIR if config else "") or os.environ.get("NUMBA_CACHE_DIR", "")
    if user_dir and _writable_dir(Path(user_dir)):
        return
    if _writable_dir(Path(__file__).parent / "__pycache__") or _writable_dir(_user_wide()):
        return
    _chosen = _private_temp_dir()
    if _chosen is None:
        CACHE = False
    elif config is not None:
        config.CACHE_DIR = _chosen
    else:
        os.environ["NUMBA_CACHE_DIR"] = _chosen  # read by numba when it is imported


def cache_dir() -> str | None:
    """The fallback cache directory chosen by :func:`configure`, or ``None`` (numba's own).

    Example:
        >>> cache_dir() is None or isinstance(cache_dir(), str)
        True
    """
    return _chosen


configure()
