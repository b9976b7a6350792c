"""Start-up costs: ``import embtable``, and the first call of each kernel in a fresh process.

Run ``python bench/startup.py``. Each figure comes from a fresh interpreter. "cold" uses an empty
numba cache directory, so every kernel compiles; "warm" runs again on that directory, so every
kernel loads from the on-disk cache. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")

IMPORT = """
import time
start = time.perf_counter()
import embtable
print(time.perf_counter() - start)
"""

FIRST_CALLS = """
import json, time
import numpy as np
import embtable
from embtable import functional as F
rng = np.random.default_rng(0)
w = rng.standard_normal((1000, 16), dtype=np.float32)
ids = rng.integers(0, 1000, 4096)
g = np.ones((4096, 16), np.float32)
cases = {
    "embedding": lambda: F.embedding(ids, w),
    "max_norm": lambda: F.embedding(ids, w.copy(), max_norm=1.0),
    "dense backward": lambda: F.embedding_backward(ids, g, 1000),
    "sparse backward": lambda: F.embedding_backward(ids, g, 1000, sparse=True),
    "bag sum": lambda: F.embedding_bag(ids, w, np.arange(0, 4096, 16), mode="sum"),
    "bag max": lambda: F.embedding_bag(ids, w, np.arange(0, 4096, 16), mode="max"),
}
result = {}
for name, call in cases.items():
    start = time.perf_counter()
    call()
    result[name] = time.perf_counter() - start
print(json.dumps(result))
"""


def run(code: str, cache_dir: str) -> str:
    env = dict(os.environ, PYTHONPATH=SRC, NUMBA_CACHE_DIR=cache_dir)
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args(argv)
    repeats = 2 if args.quick else 5
    with tempfile.TemporaryDirectory() as cache_dir:
        imports = [float(run(IMPORT, cache_dir)) for _ in range(repeats)]
        cold = json.loads(run(FIRST_CALLS, cache_dir))
        warm = json.loads(run(FIRST_CALLS, cache_dir))
    print(
        f"`import embtable`: median {statistics.median(imports) * 1e3:.0f} ms over {repeats} "
        "fresh interpreters\n"
    )
    print("| first call in a fresh process | cold cache (compiles) ms | warm cache ms |")
    print("|---|---|---|")
    for name in cold:
        print(f"| {name} | {cold[name] * 1e3:.0f} | {warm[name] * 1e3:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
