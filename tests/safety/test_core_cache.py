"""numba's on-disk cache when nothing obvious is writable (issue 10).

With an unwritable package folder and ``$HOME``, numba raised ``cannot cache function ...: no
locator available`` at the first kernel. Each scenario copies the package to a temp dir where
``kernels/__pycache__`` and ``~/.cache`` are plain files (so no directory can be made there, even
as root) and runs a kernel in a fresh interpreter.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import embtable

TIMEOUT = 300

SCRIPT = """
import numpy as np
from embtable import functional as F
out = F.embedding([2, 0], np.arange(6.0).reshape(3, 2))
assert out.tolist() == [[4.0, 5.0], [0.0, 1.0]]
from embtable.kernels import _cache
print(_cache.CACHE, _cache.cache_dir())
"""


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """A copy of the package whose in-tree cache dir cannot exist, and a $HOME without one."""
    package = tmp_path / "site" / "embtable"
    shutil.copytree(
        Path(embtable.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__")
    )
    (package / "kernels" / "__pycache__").write_text("not a directory")
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / ".cache").write_text("not a directory")
    (tmp_path / "tmp").mkdir()
    return tmp_path


def _run(sandbox: Path, tmpdir: Path, prefix: str = "") -> list[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"NUMBA_CACHE_DIR", "XDG_CACHE_HOME", "PYTHONPATH", "NUMBA_DISABLE_JIT"}
    }
    env.update(
        HOME=str(sandbox / "home"),
        TMPDIR=str(tmpdir),
        PYTHONPATH=str(sandbox / "site"),
    )
    result = subprocess.run(
        [sys.executable, "-c", prefix + SCRIPT],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        cwd=sandbox,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "no locator available" not in result.stderr
    return result.stdout.split()


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_kernels_fall_back_to_a_private_temp_cache(sandbox):
    cache, where = _run(sandbox, sandbox / "tmp")
    assert cache == "True"
    path = Path(where)
    assert path.parent == sandbox / "tmp" and path.name == f"embtable-numba-{os.getuid()}"
    assert path.stat().st_mode & 0o777 == 0o700
    assert any(path.rglob("*.nbi")), "nothing was cached there"
    cache, again = _run(sandbox, sandbox / "tmp")  # the second start reuses it
    assert again == where


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_a_shared_temp_cache_dir_is_not_trusted(sandbox):
    shared = sandbox / "tmp" / f"embtable-numba-{os.getuid()}"
    shared.mkdir()
    shared.chmod(0o777)  # anyone could plant compiled code here
    cache, where = _run(sandbox, sandbox / "tmp")
    assert cache == "True" and Path(where) != shared and Path(where).parent == sandbox / "tmp"
    assert not any(shared.iterdir())


def test_kernels_run_uncached_when_nothing_is_writable(sandbox):
    unusable = sandbox / "no-tmp"
    unusable.write_text("not a directory")
    # tempfile would fall back to /tmp when TMPDIR is unusable; pin its choice instead
    prefix = f"import tempfile\ntempfile.tempdir = {str(unusable)!r}\n"
    assert _run(sandbox, unusable, prefix=prefix) == ["False", "None"]
