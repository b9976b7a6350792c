"""Run ``bench/vectors.py --quick`` so a broken benchmark fails CI (no speed assertions)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parents[1] / "bench" / "vectors.py"


def test_bench_vectors_quick_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-W", "ignore::ResourceWarning", str(BENCH), "--quick", "--repeats", "1"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "| case | embtable | gensim | ratio |" in result.stdout
    assert "| load GloVe text 20000x50 |" in result.stdout
    assert "| most_similar k=10 over 20000 rows |" in result.stdout
