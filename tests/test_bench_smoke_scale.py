"""The query, quantized, out-of-core and sharded-table benchmark scripts run (no speed is
asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(script: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_queries_bench_quick():
    pytest.importorskip("gensim")
    out = run("queries.py", "--quick", "--no-single-thread", "--rounds", "1")
    assert "| case | embtable | gensim | ratio |" in out and "counts equal" in out


def test_distributed_bench_quick():
    pytest.importorskip("torch")
    out = run("distributed.py", "--quick", "--no-torchrec")
    assert "| 1 | embtable |" in out and "| 2 | embtable |" in out


def test_quantized_bench_quick():
    pytest.importorskip("torch")
    out = run("quantized.py", "--quick")
    assert "| width |" in out


def test_out_of_core_bench_quick():
    out = run("out_of_core.py", "--quick")
    assert "steps/s" in out
