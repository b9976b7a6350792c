"""``bench/word2vec.py --quick`` runs (a smoke test: no speed assertions)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "bench" / "word2vec.py"


def test_word2vec_benchmark_quick_prints_its_table():
    pytest.importorskip("gensim")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "| metric | embtable | gensim | difference |" in lines
    rows = [line for line in lines if line.startswith("| skipgram: ")]
    assert len(rows) == 8, lines
    assert any("training words/s" in row for row in rows)
    assert any("SimLex-999" in row for row in rows)


def test_word2vec_benchmark_hs_quick_prints_its_table():
    pytest.importorskip("gensim")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--hs"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("# word2vec with hierarchical softmax (hs=1, negative=0)")
    rows = [line for line in lines if line.startswith("| skipgram: ")]
    assert len(rows) == 8 and not any("shared" in row for row in rows), lines


def test_word2vec_benchmark_fasttext_quick_prints_its_table():
    pytest.importorskip("gensim")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--fasttext", "--quick", "--buckets", "5000"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| skipgram | ")]
    assert len(rows) == 3, result.stdout
    assert "rare words" in rows[-1]
