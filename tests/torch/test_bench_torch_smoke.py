"""``bench/torch_adapter.py --quick`` runs and prints its table (no speed assertions)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "bench" / "torch_adapter.py"


def test_torch_adapter_bench_quick():
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| 2000x16")]
    assert len(rows) == 8  # 1 table x 1 batch x 2 distributions x 4 ops
    assert "| torch.nn ms | embtable.torch ms | ratio |" in result.stdout
