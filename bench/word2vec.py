"""Benchmark embtable's skip-gram trainer against gensim's Word2Vec on the same corpus.

Both train skip-gram with negative sampling (``sg=1, negative=5, window=5, vector_size=100,
min_count=5, sample=1e-3``) with the same number of threads and epochs, on the same sentences:
the bundled State of the Union corpus tokenised once by :class:`embtable.train.Corpus` (gensim
gets those token lists, so both see the same vocabulary). Both sets of vectors are scored by the
same code, :func:`embtable.evaluate.evaluate_word_pairs` (WordSim-353 Spearman) and
:func:`embtable.evaluate.evaluate_analogies` (Google analogies, 3CosAdd accuracy), and the
scores are averaged over ``--seeds`` seeds. Words/s is corpus words times epochs over the
training call's wall time (the median over seeds), after a warm-up run of each trainer.

Usage:
    python bench/word2vec.py [--quick] [--seeds 3] [--epochs 5] [--threads 2]

``--quick`` trains one seed for one epoch on the first 20 addresses: a smoke test (seconds),
not a measurement.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import sys
import time

import numpy as np


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as stream:
            for line in stream:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _corpus(quick: bool):
    from embtable.text import iter_lines, regex_tokenize
    from embtable.train import Corpus, bundled_corpus

    path = bundled_corpus()
    if not quick:
        return Corpus.from_files([path], min_count=5)
    lines = itertools.islice(iter_lines(path), 20)
    return Corpus.from_sentences((regex_tokenize(line) for line in lines), min_count=5)


def _sentences(corpus) -> list[list[str]]:
    tokens = corpus.vocab.id_to_token
    offsets = corpus.sentence_offsets
    return [
        [tokens[i] for i in corpus.ids[offsets[s] : offsets[s + 1]]]
        for s in range(len(offsets) - 1)
    ]


def _scores(tokens: list[str], matrix: np.ndarray) -> tuple[float, float]:
    from embtable.evaluate import evaluate_analogies, evaluate_word_pairs
    from embtable.vectors import Vectors

    vectors = Vectors(tokens, np.ascontiguousarray(matrix, dtype=np.float32))
    return evaluate_word_pairs(vectors).spearman, evaluate_analogies(vectors).accuracy


def _run_gensim(sentences, options, seed: int):
    from gensim.models import Word2Vec

    model = Word2Vec(
        vector_size=options["dim"],
        sg=1,
        hs=0,
        negative=5,
        window=5,
        min_count=5,
        sample=1e-3,
        workers=options["threads"],
        seed=seed,
        alpha=0.025,
        min_alpha=1e-4,
    )
    model.build_vocab(sentences)
    started = time.perf_counter()
    model.train(sentences, total_examples=len(sentences), epochs=options["epochs"])
    seconds = time.perf_counter() - started
    return seconds, list(model.wv.index_to_key), model.wv.vectors


def _run_embtable(corpus, options, seed: int):
    from embtable.train import train_sgns

    started = time.perf_counter()
    model = train_sgns(
        corpus,
        dim=options["dim"],
        window=5,
        negative=5,
        sample=1e-3,
        epochs=options["epochs"],
        alpha=0.025,
        min_alpha=1e-4,
        threads=options["threads"],
        seed=seed,
        progress=False,
    )
    seconds = time.perf_counter() - started
    return seconds, list(model.vocab.id_to_token), model.input.weight.data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke test")
    parser.add_argument("--seeds", type=int, default=3, help="seeds to average over")
    parser.add_argument("--epochs", type=int, default=5, help="epochs for both trainers")
    parser.add_argument("--threads", type=int, default=2, help="threads for both trainers")
    args = parser.parse_args(argv)
    try:
        import gensim
    except ImportError:
        print("bench/word2vec.py needs gensim: pip install 'embtable[bench]'", file=sys.stderr)
        return 1
    import numba

    import embtable  # noqa: F401

    options = {"dim": 100, "epochs": args.epochs, "threads": args.threads}
    seeds = list(range(1, args.seeds + 1))
    if args.quick:
        options.update(dim=50, epochs=1)
        seeds = [1]
    corpus = _corpus(args.quick)
    sentences = _sentences(corpus)
    words = len(corpus) * options["epochs"]

    # Warm-up: numba compiles (or loads its cache), gensim starts its threads.
    warm = {"dim": 8, "epochs": 1, "threads": options["threads"]}
    _run_embtable(corpus, warm, 0)
    _run_gensim(sentences[:2], warm, 0)

    results: dict[str, list[tuple[float, float, float]]] = {"embtable": [], "gensim": []}
    for seed in seeds:
        for name, runner, data in (
            ("gensim", _run_gensim, sentences),
            ("embtable", _run_embtable, corpus),
        ):
            seconds, tokens, matrix = runner(data, options, seed)
            spearman, accuracy = _scores(tokens, matrix)
            results[name].append((words / seconds, spearman, accuracy))
            print(
                f"seed {seed} {name:8s}: {words / seconds:12,.0f} words/s  "
                f"WordSim-353 {spearman:.4f}  analogies {accuracy:.4f}",
                file=sys.stderr,
            )

    def summary(name: str) -> tuple[float, float, float]:
        rows = results[name]
        return (
            statistics.median(r[0] for r in rows),
            statistics.fmean(r[1] for r in rows),
            statistics.fmean(r[2] for r in rows),
        )

    ours, theirs = summary("embtable"), summary("gensim")
    print(f"# word2vec skip-gram: embtable vs gensim {gensim.__version__}")
    print()
    print(
        f"corpus: {len(corpus):,} words ({len(corpus.vocab):,} in the vocabulary), "
        f"{options['epochs']} epoch(s), dim {options['dim']}, {options['threads']} threads, "
        f"seeds {seeds}{' (--quick: not a measurement)' if args.quick else ''}"
    )
    print(
        f"numpy {np.__version__}, numba {numba.__version__}, python "
        f"{platform.python_version()}, CPU {_cpu_name()} ({os.cpu_count()} logical)"
    )
    print()
    print("| metric | embtable | gensim | difference |")
    print("|---|---:|---:|---:|")
    print(
        f"| training words/s (median) | {ours[0]:,.0f} | {theirs[0]:,.0f} | "
        f"x{ours[0] / theirs[0]:.2f} |"
    )
    print(
        f"| WordSim-353 Spearman (mean) | {ours[1]:.4f} | {theirs[1]:.4f} | "
        f"{ours[1] - theirs[1]:+.4f} |"
    )
    print(
        f"| analogy accuracy, % (mean) | {100 * ours[2]:.2f} | {100 * theirs[2]:.2f} | "
        f"{100 * (ours[2] - theirs[2]):+.2f} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
