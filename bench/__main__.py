"""``python -m bench``: run every benchmark script in turn (``--quick`` for a smoke run)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

SCRIPTS = [
    "startup.py",
    "embedding.py",
    "torch_adapter.py",
    "vectors.py",
    "queries.py",
    "quantized.py",
    "distributed.py",
    "out_of_core.py",
    "word2vec.py",
]


def main() -> int:
    here = Path(__file__).resolve().parent
    for script in SCRIPTS:
        path = here / script
        if not path.exists():
            continue
        print(f"\n## {script}\n", flush=True)
        sys.argv = [str(path), *sys.argv[1:]]
        try:
            runpy.run_path(str(path), run_name="__main__")
        except SystemExit as stop:
            if stop.code not in (0, None):
                return int(stop.code) if isinstance(stop.code, int) else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
