"""The core benchmark scripts run (no speed is asserted: speed belongs to the benchmarks)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_embedding_bench_quick():
    pytest.importorskip("torch")
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "embedding.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "| forward |" in result.stdout and "| op | median torch/embtable |" in result.stdout


def test_startup_bench_quick():
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "startup.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "`import embtable`" in result.stdout and "| embedding |" in result.stdout
