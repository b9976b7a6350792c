"""Atomic writes: a reader of a path sees the old content or the new, never a mix or a prefix.

Every writer in embtable goes through this module:

* :func:`atomic_file` writes a file through a temporary file in the same directory, flushes and
  fsyncs it, gives it the mode a plain ``open`` would (the user's umask, or the mode of the file
  it replaces), then ``os.replace``-s it over the target and fsyncs the directory;
* :func:`atomic_directory` builds a directory beside the target and swaps it in with one
  ``renameat2(RENAME_EXCHANGE)`` on Linux (two renames elsewhere, where a reader can find the
  target missing for an instant, but never half-written);
* :func:`check_output` runs before long work (training, a conversion) so that an unwritable
  output is reported before the work, not after;
* :func:`check_input_file` refuses FIFOs, devices and sockets, which would block or never end.

A process killed mid-write leaves a hidden ``.NAME.embtable-tmp-PID-XXXX`` beside the target;
the next write to the same target removes those whose process is gone.
"""

from __future__ import annotations

import bz2
import contextlib
import ctypes
import ctypes.util
import errno
import gzip
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Literal

from .._errors import OutputError

__all__ = [
    "atomic_directory",
    "atomic_file",
    "atomic_write_bytes",
    "check_input_file",
    "check_output",
]

_TMP_TAG = ".embtable-tmp-"


def _umask() -> int:
    """The process umask, read without changing it where Linux allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # pragma: no cover - non-Linux
    os.umask(mask)  # pragma: no cover
    return mask  # pragma: no cover


def _file_mode(target: Path) -> int:
    """The mode a new file at ``target`` gets: the replaced file's, else ``0o666 & ~umask``."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        return 0o666 & ~_umask()


def _temp_path(target: Path) -> Path:
    return target.with_name(f".{target.name}{_TMP_TAG}{os.getpid()}-{secrets.token_hex(4)}")


def _remove_stale_temps(target: Path) -> None:
    """Remove temporaries of ``target`` left by processes that no longer run."""
    prefix = f".{target.name}{_TMP_TAG}"
    try:
        names = os.listdir(target.parent or ".")
    except OSError:
        return
    for name in names:
        if not name.startswith(prefix):
            continue
        pid_text = name[len(prefix) :].split("-", 1)[0]
        if not pid_text.isdigit():
            continue
        pid = int(pid_text)
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
            continue  # still running: maybe another writer at work
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        stale = target.parent / name
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                stale.unlink()


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # pragma: no cover - a platform without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on directories
        pass
    finally:
        os.close(fd)


def _describe(err: OSError, path: Path, what: str) -> OutputError:
    reason = err.strerror or str(err)
    return OutputError(err.errno or errno.EIO, f"cannot {what} {os.fspath(path)!r}: {reason}")


@contextlib.contextmanager
def atomic_file(
    path: str | os.PathLike[str],
    *,
    compression: Literal["auto", "none", "gzip", "bz2"] = "auto",
) -> Iterator[IO[bytes]]:
    """Write ``path`` atomically: yield a binary handle, and replace ``path`` when the block ends.

    With ``compression="auto"`` a name ending in ``.gz`` or ``.bz2`` is compressed. Missing
    parent directories are created. If the block raises (or the process dies), ``path`` keeps
    its old content and the temporary is removed (by the next write, after a kill).

    Raises:
        OutputError: the directory is missing or not writable, or the disk is full; the message
            names the path. The old file is untouched then.

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "hello.txt"
        >>> with atomic_file(target) as out:
        ...     _ = out.write(b"hello")
        >>> target.read_bytes()
        b'hello'
    """
    target = Path(path)
    if compression == "auto":
        suffix = target.suffix.lower()
        compression = "gzip" if suffix == ".gz" else "bz2" if suffix == ".bz2" else "none"
    check_output(target, "file")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)  # as check_output allows
    except OSError as err:
        raise _describe(err, target.parent, "create the directory") from None
    _remove_stale_temps(target)
    temp = _temp_path(target)
    try:
        raw = open(temp, "xb")
    except OSError as err:
        raise _describe(err, target, "write") from None
    try:
        stream: IO[bytes]
        if compression == "gzip":
            # mtime=0 keeps the output byte-for-byte reproducible.
            stream = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0)  # type: ignore[assignment]
        elif compression == "bz2":
            stream = bz2.BZ2File(raw, "wb")  # type: ignore[assignment]
        else:
            stream = raw
        try:
            yield stream
            if stream is not raw:
                stream.close()
            raw.flush()
            os.fsync(raw.fileno())
            os.fchmod(raw.fileno(), _file_mode(target))
        except OSError as err:
            raise _describe(err, target, "write") from None
        finally:
            raw.close()
        try:
            os.replace(temp, target)
        except OSError as err:
            raise _describe(err, target, "replace") from None
        _fsync_directory(target.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (no compression).

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.json"
        >>> atomic_write_bytes(target, b"{}")
        >>> target.read_bytes()
        b'{}'
    """
    with atomic_file(path, compression="none") as out:
        out.write(data)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths with one ``renameat2(RENAME_EXCHANGE)``; False if unsupported."""
    name = ctypes.util.find_library("c")
    if name is None:  # pragma: no cover - no C library to ask
        return False
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):  # pragma: no cover - glibc < 2.28, musl, macOS
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):  # pragma: no cover - old kernel or fs
        return False
    raise OSError(code, os.strerror(code), os.fspath(b))


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Build a directory beside ``path`` and swap it in when the block ends.

    The block writes plain files into the yielded directory. Files of an existing ``path`` that
    the block does not write are gone afterwards: the new directory replaces the old one whole.
    So an existing ``path`` is replaced only if it is empty or an earlier output (it holds a
    ``*.safetensors`` file, or a registry sniffer recognises it); any other directory (a
    user's folder named by mistake) is refused, before the block and again before the swap.
    If the block raises, ``path`` is untouched and the new directory is removed.

    Raises:
        OutputError: ``path`` exists and is not a directory, or is a directory of other files,
            or its parent is not writable.

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "table"
        >>> with atomic_directory(target) as staging:
        ...     _ = (staging / "a.txt").write_text("new")
        >>> sorted(p.name for p in target.iterdir())
        ['a.txt']
    """
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise OutputError(
            errno.ENOTDIR, f"cannot write a table directory at {os.fspath(target)!r}: it is a file"
        )
    if target.is_dir():
        _check_replaceable(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _describe(err, target.parent, "create the directory") from None
    _remove_stale_temps(target)
    staging = _temp_path(target)
    try:
        os.mkdir(staging, 0o777)  # the umask applies, as for any directory
    except OSError as err:
        raise _describe(err, target, "write") from None
    try:
        yield staging
        for child in staging.iterdir():
            if child.is_file():
                with open(child, "rb+") as handle:
                    os.fsync(handle.fileno())
        _fsync_directory(staging)
        if target.is_dir():
            _check_replaceable(target)  # again: it may have been filled during the work
        if target.exists():
            if _exchange(staging, target):
                shutil.rmtree(staging, ignore_errors=True)  # staging now holds the old one
            else:  # pragma: no cover - exercised only without renameat2
                backup = _temp_path(target)
                os.rename(target, backup)
                os.rename(staging, target)
                shutil.rmtree(backup, ignore_errors=True)
        else:
            os.rename(staging, target)
        _fsync_directory(target.parent)
    except BaseException as err:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
        if isinstance(err, OSError) and not isinstance(err, OutputError):
            raise _describe(err, target, "write") from None
        raise


def check_output(path: str | os.PathLike[str], kind: Literal["file", "directory"]) -> None:
    """Fail now if ``path`` could not be written as a ``kind`` later.

    Checks that the nearest existing ancestor is a writable directory, that ``path`` is not
    an existing entry of the other kind, and that an existing directory is one
    :func:`atomic_directory` may replace (empty, or an earlier output). Creates nothing.

    Raises:
        OutputError: naming the path and the reason.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> check_output(folder / "new" / "table", "directory")
        >>> (folder / "f").write_text("x") and None
        >>> check_output(folder / "f", "directory")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        embtable._errors.OutputError: [Errno 20] cannot write a table directory at '.../f': it exists and is not a directory
    """
    target = Path(path)
    if target.exists() or target.is_symlink():
        if kind == "directory" and not target.is_dir():
            raise OutputError(
                errno.ENOTDIR,
                f"cannot write a table directory at {os.fspath(target)!r}: "
                "it exists and is not a directory",
            )
        if kind == "file" and target.is_dir():
            raise OutputError(
                errno.EISDIR,
                f"cannot write the file {os.fspath(target)!r}: it is a directory",
            )
        if kind == "file" and target.exists() and not stat.S_ISREG(os.stat(target).st_mode):
            # (a dangling symbolic link is no obstacle: the write replaces the link)
            raise OutputError(
                errno.EINVAL,
                f"cannot write the file {os.fspath(target)!r}: it is not a regular file",
            )
        if kind == "file" and target.exists() and not os.access(target, os.W_OK):
            # a rename needs only the directory's permission; a plain open would refuse a
            # read-only file, so its owner's protection is kept
            raise OutputError(
                errno.EACCES,
                f"cannot write the file {os.fspath(target)!r}: it is read-only (make it "
                f"writable to replace it)",
            )
    if kind == "directory" and target.is_dir():
        _check_replaceable(target)
    ancestor = target.parent if str(target.parent) else Path(".")
    while not ancestor.exists():
        if ancestor.parent == ancestor:
            break
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputError(
            errno.ENOTDIR,
            f"cannot write {os.fspath(target)!r}: {os.fspath(ancestor)!r} is not a directory",
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputError(
            errno.EACCES,
            f"cannot write {os.fspath(target)!r}: the directory {os.fspath(ancestor)!r} "
            "is not writable",
        )


def _check_replaceable(target: Path) -> None:
    """Refuse to swap out an existing directory that holds something other than an earlier
    output: it must be empty, or hold a ``*.safetensors`` file, or be a directory format that a
    registry sniffer recognises (a projector export). A directory swap removes every file of
    the old directory, so ``convert vectors.txt ~/data`` must not replace ``~/data``.
    """
    try:
        names = [name for name in os.listdir(target) if _TMP_TAG not in name]
    except OSError as err:
        raise _describe(err, target, "read the directory") from None
    if not names or any(
        name.endswith(".safetensors") and (target / name).is_file() for name in names
    ):
        return
    from ._detect import Probe
    from .registry import FORMATS

    probe = Probe(target, None)
    if any(
        entry.directory and entry.sniffer is not None and entry.function("sniffer")(probe)
        for entry in FORMATS
    ):
        return
    shown = ", ".join(sorted(names)[:3]) + (", ..." if len(names) > 3 else "")
    raise OutputError(
        errno.ENOTEMPTY,
        f"cannot write a table directory at {os.fspath(target)!r}: it is a directory that holds "
        f"other files ({shown}), not an earlier table, and writing replaces the directory whole; "
        f"name a new or empty directory",
    )


def check_input_file(path: str | os.PathLike[str]) -> None:
    """Refuse a path that is not a regular file (a FIFO, device or socket would block or never
    end; a directory is not a file).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        OutputError: it is not a regular file.

    Example:
        >>> check_input_file("/dev/null")
        Traceback (most recent call last):
        ...
        embtable._errors.OutputError: [Errno 22] cannot read '/dev/null': it is a character device, not a regular file
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(
            errno.ENOENT, "no such file or directory", os.fspath(path)
        ) from None
    if stat.S_ISREG(mode):
        return
    from ._open import _kind

    kind = _kind(mode)
    raise OutputError(
        errno.EISDIR if stat.S_ISDIR(mode) else errno.EINVAL,
        f"cannot read {os.fspath(path)!r}: it is {kind}, not a regular file",
    )
