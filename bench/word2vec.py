"""Benchmark embtable's word2vec trainer against gensim's Word2Vec on the same corpus.

Both train with negative sampling (``negative=5, window=5, vector_size=100, min_count=5,
sample=1e-3``), skip-gram and CBOW, with the same threads and epochs, on the same text: the
bundled State of the Union corpus (or ``--corpus FILE``), tokenised once by
:func:`embtable.text.regex_tokenize` and written pre-tokenised (lines cut at 1,000 tokens), which
embtable reads with ``tokenizer="whitespace"`` and gensim streams with ``LineSentence``. Each run
is a fresh subprocess (so peak memory is its own), the tools' order reversed on every other seed.
For skip-gram, embtable also runs with ``shared_negatives=True`` (Ji et al.'s minibatched rule).
Reported, per tool:

- **training throughput on one basis**: words kept (after ``min_count``) x epochs / training
  seconds, and gensim's *effective* words/s (words left after sub-sampling, the figure gensim
  logs; for embtable the expected count, ``sum(count x keep-probability)``);
- **vocabulary scan**: seconds to read the corpus and build the vocabulary (embtable: the whole
  :meth:`~embtable.train.Corpus.from_files`; gensim: ``build_vocab``);
- **quality with gensim's own evaluators** (``KeyedVectors.evaluate_word_pairs`` on gensim's
  WordSim-353 and SimLex-999, ``evaluate_word_analogies`` on its Google analogies restricted to
  the 30,000 most frequent words), the mean over seeds;
- **peak RSS** of the process (``VmHWM``), whose maximum over seeds is shown.

``--hs`` trains both with hierarchical softmax instead (``hs=1, negative=0``; embtable
``hs=True, negative=0``), skip-gram and CBOW, without the shared-negatives variant.

``--busy`` repeats the measurement with one extra busy process (``python -c 'while 1: pass'``)
competing for the cores, killed afterwards.

Usage:
    python bench/word2vec.py [--quick] [--seeds 3] [--epochs 5] [--threads 2] [--busy]
        [--architectures skipgram,cbow] [--corpus FILE] [--hs]

``--quick`` trains one seed for one epoch of dimension 50 on the first 20 addresses, skip-gram
only: a smoke test (seconds), not a measurement.

``--fasttext`` instead compares fastText training (character n-grams ``3..6``, ``--buckets``
rows, default 200,000) with gensim's ``FastText``, both in this process, one seed, alternating
A B B A over ``--rounds`` (default 1) per architecture: training words/s (wall and, from
``time.process_time``, CPU seconds), the same quality scores, and a **rare-words check**: the
corpus's words seen 1..4 times (below ``min_count``, so unseen by both models) that are a
vocabulary word plus an inflection (``s``, ``es``, ``ed``, ``ing``, ``ly``, ``er``, ``ers``);
for each, the rank of its stem among all vocabulary words by cosine to the unseen word's
vector: the share with the stem in the top 10 and the median rank.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as stream:
            for line in stream:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gensim_data(name: str) -> str:
    import gensim

    return str(Path(gensim.__file__).parent / "test" / "test_data" / name)


def _scores(tokens: list[str], matrix) -> dict[str, float]:
    """WordSim-353, SimLex-999 (Spearman) and analogies@30k (%) by gensim's evaluators."""
    import numpy as np
    from gensim.models import KeyedVectors

    vectors = KeyedVectors(vector_size=matrix.shape[1])
    vectors.add_vectors(tokens, np.asarray(matrix, dtype=np.float32))
    ws = vectors.evaluate_word_pairs(_gensim_data("wordsim353.tsv"))[1][0]
    simlex = vectors.evaluate_word_pairs(_gensim_data("simlex999.txt"))[1][0]
    analogy, _ = vectors.evaluate_word_analogies(
        _gensim_data("questions-words.txt"), restrict_vocab=30_000
    )
    return {"wordsim353": float(ws), "simlex999": float(simlex), "analogy": 100.0 * analogy}


_SUFFIXES = ("s", "es", "ed", "ing", "ly", "er", "ers")


def _rare_inflections(path: str, vocab: set[str], min_count: int = 5) -> list[tuple[str, str]]:
    """(rare word, its stem) for words seen ``1 .. min_count - 1`` times whose stem (the word
    less one of the suffixes, at least 3 letters) is in ``vocab``."""
    from collections import Counter

    counts: Counter[str] = Counter()
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            counts.update(line.split())
    pairs = []
    for word, count in counts.items():
        if count >= min_count or word in vocab or not word.isalpha():
            continue
        for suffix in _SUFFIXES:
            stem = word[: -len(suffix)]
            if word.endswith(suffix) and len(stem) >= 3 and stem in vocab:
                pairs.append((word, stem))
                break
    return sorted(pairs)


def _rare_scores(pairs: list[tuple[str, str]], tokens: list[str], matrix, vector_of) -> dict:
    """Share of rare words whose stem is among the 10 nearest vocabulary words, median rank."""
    import numpy as np

    normed = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    index = {t: i for i, t in enumerate(tokens)}
    ranks = []
    for word, stem in pairs:
        query = np.asarray(vector_of(word), dtype=np.float32)
        cosines = normed @ (query / max(float(np.linalg.norm(query)), 1e-12))
        ranks.append(int((cosines > cosines[index[stem]]).sum()) + 1)
    ranks_array = np.asarray(ranks)
    return {
        "rare_words": len(pairs),
        "rare_top10": 100.0 * float((ranks_array <= 10).mean()) if ranks else float("nan"),
        "rare_median_rank": float(np.median(ranks_array)) if ranks else float("nan"),
    }


def _fasttext_run(tool: str, architecture: str, path: str, options: dict, pairs_cache: dict):
    """One fastText training run in this process; returns its measurements."""
    import numpy as np

    dim, epochs, threads = options["dim"], options["epochs"], options["threads"]
    if tool == "embtable":
        from embtable.train import Corpus, train_word2vec

        corpus = Corpus.from_files([path], min_count=5, tokenizer="whitespace", progress=False)
        train_word2vec(  # warm-up: numba compiles or loads its cache
            Corpus.from_sentences([["ab", "bc", "cd"]] * 30, min_count=1),
            dim=8,
            epochs=1,
            threads=threads,
            architecture=architecture,
            sample=0,
            subwords=(3, 6),
            buckets=10,
            progress=False,
        )
        wall, cpu = time.perf_counter(), time.process_time()
        model = train_word2vec(
            corpus,
            architecture=architecture,
            dim=dim,
            window=5,
            negative=5,
            sample=1e-3,
            epochs=epochs,
            threads=threads,
            seed=1,
            subwords=(3, 6),
            buckets=options["buckets"],
            progress=False,
        )
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        vectors = model.fasttext_vectors()
        tokens, matrix, kept = list(vectors.tokens), np.asarray(vectors.matrix), len(corpus)
        vector_of = vectors.__getitem__
    else:
        from gensim.models import FastText
        from gensim.models.word2vec import LineSentence

        sentences = LineSentence(path, max_sentence_length=10_000)
        model = FastText(
            vector_size=dim,
            sg=int(architecture == "skipgram"),
            hs=0,
            negative=5,
            window=5,
            min_count=5,
            sample=1e-3,
            workers=threads,
            seed=1,
            min_n=3,
            max_n=6,
            bucket=options["buckets"],
            alpha=0.025,
            min_alpha=1e-4,
        )
        model.build_vocab(sentences)
        kept = int(sum(model.wv.get_vecattr(w, "count") for w in model.wv.index_to_key))
        wall, cpu = time.perf_counter(), time.process_time()
        model.train(sentences, total_words=model.corpus_total_words, epochs=epochs)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        tokens, matrix = list(model.wv.index_to_key), np.asarray(model.wv.vectors)
        vector_of = model.wv.__getitem__
    if "pairs" not in pairs_cache:
        pairs_cache["pairs"] = _rare_inflections(path, set(tokens))
    row = {"seconds": wall, "cpu_seconds": cpu, "kept_words_per_second": kept * epochs / wall}
    row.update(_scores(tokens, matrix))
    row.update(_rare_scores(pairs_cache["pairs"], tokens, matrix, vector_of))
    return row


def _fasttext_bench(path: str, options: dict, architectures: list[str], rounds: int) -> None:
    """Print the fastText table (see the module's docstring)."""
    import gensim

    print(f"# fastText (subword) training: embtable vs gensim {gensim.__version__} FastText")
    print()
    print(
        f"n-grams 3..6, {options['buckets']:,} buckets, dim {options['dim']}, "
        f"{options['epochs']} epoch(s), {options['threads']} threads, seed 1, {rounds} round(s) "
        f"A B B A in one process; CPU {_cpu_name()}, load average before "
        f"{os.getloadavg()[0]:.1f} (a shared, loaded machine: speeds are noisy)"
    )
    print()
    print(
        "| architecture | tool | words/s (best) | CPU s (min) | WS353 | SimLex | analogy % | "
        "rare: stem in top 10, % | rare: median stem rank |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    cache: dict = {}
    for architecture in architectures:
        rows: dict[str, list[dict]] = {"embtable": [], "gensim": []}
        for round_ in range(rounds):
            order = ["embtable", "gensim"] if round_ % 2 == 0 else ["gensim", "embtable"]
            for tool in order:
                row = _fasttext_run(tool, architecture, path, options, cache)
                rows[tool].append(row)
                print(f"{architecture} {tool}: {row}", file=sys.stderr)
        best = {}
        for tool, runs in rows.items():
            last = runs[-1]
            best[tool] = max(r["kept_words_per_second"] for r in runs)
            print(
                f"| {architecture} | {tool} | {best[tool]:,.0f} | "
                f"{min(r['cpu_seconds'] for r in runs):.1f} | {last['wordsim353']:.3f} | "
                f"{last['simlex999']:.3f} | {last['analogy']:.2f} | {last['rare_top10']:.1f} | "
                f"{last['rare_median_rank']:.0f} |"
            )
        print(
            f"| {architecture} | embtable / gensim | x{best['embtable'] / best['gensim']:.2f} "
            f"| | | | | | ({cache['pairs'].__len__()} rare words) |"
        )
    print()


def _peak_rss_bytes() -> int:
    """This process's peak resident memory (``VmHWM``; ``ru_maxrss`` would include the
    parent's peak, which Linux carries across ``exec``)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # pragma: no cover


def _worker(job: dict) -> dict:
    """One training run in this (fresh) process; returns its measurements."""
    import numpy as np

    if job["tool"] == "reading":
        return _reading(job["corpus"])
    options = job["options"]
    sg = job["architecture"] == "skipgram"
    if job["tool"] in ("embtable", "embtable-shared"):
        from embtable.train import Corpus, keep_probabilities, train_word2vec

        started = time.perf_counter()
        corpus = Corpus.from_files(
            [job["corpus"]], min_count=5, tokenizer="whitespace", progress=False
        )
        scan = time.perf_counter() - started
        train_word2vec(  # warm-up: numba compiles or loads its cache
            Corpus.from_sentences([["a", "b", "c"]] * 30, min_count=1),
            dim=8,
            epochs=1,
            threads=options["threads"],
            architecture=job["architecture"],
            sample=0,
            progress=False,
        )
        started, cpu = time.perf_counter(), time.process_time()
        model = train_word2vec(
            corpus,
            architecture=job["architecture"],
            dim=options["dim"],
            window=5,
            negative=0 if options.get("hs") else 5,
            hs=bool(options.get("hs")),
            sample=1e-3,
            epochs=options["epochs"],
            threads=options["threads"],
            seed=job["seed"],
            shared_negatives=job["tool"] == "embtable-shared",
            progress=False,
        )
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
        counts = corpus.counts
        kept = len(corpus)
        effective = float((counts * keep_probabilities(counts, 1e-3)).sum()) * options["epochs"]
        tokens, matrix = list(model.vocab.id_to_token), model.input.weight.data
    else:
        from gensim.models import Word2Vec
        from gensim.models.word2vec import LineSentence

        sentences = LineSentence(job["corpus"], max_sentence_length=10_000)
        model = Word2Vec(
            vector_size=options["dim"],
            sg=int(sg),
            hs=int(bool(options.get("hs"))),
            negative=0 if options.get("hs") else 5,
            window=5,
            min_count=5,
            sample=1e-3,
            workers=options["threads"],
            seed=job["seed"],
            alpha=0.025,
            min_alpha=1e-4,
        )
        started = time.perf_counter()
        model.build_vocab(sentences)
        scan = time.perf_counter() - started
        kept = int(sum(model.wv.get_vecattr(w, "count") for w in model.wv.index_to_key))
        started, cpu = time.perf_counter(), time.process_time()
        effective, _ = model.train(
            sentences, total_words=model.corpus_total_words, epochs=options["epochs"]
        )
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
        tokens, matrix = list(model.wv.index_to_key), model.wv.vectors
    result = {
        "seconds": seconds,
        "scan_seconds": scan,
        "kept_words_per_second": kept * options["epochs"] / seconds,
        "kept_words_per_cpu_second": kept * options["epochs"] / cpu,
        "effective_words_per_second": float(effective) / seconds,
        "peak_rss_mb": _peak_rss_bytes() / 2**20,
        "kept": kept,
        "vocab": len(tokens),
        "cpu_seconds": time.process_time(),
    }
    result.update(_scores(tokens, np.asarray(matrix)))
    return result


def _reading(path: str) -> dict:
    """Read ``path`` with the default (regex) tokenizer; time and memory per token."""
    import embtable.train  # noqa: F401 - imports paid before the baseline
    from embtable.train import Corpus

    Corpus.from_sentences([["a"]], min_count=1)  # lazy imports paid before the baseline
    with open("/proc/self/clear_refs", "w") as handle:  # reset VmHWM to the current RSS
        handle.write("5")
    before = _status("VmRSS")
    wall, cpu = time.perf_counter(), time.process_time()
    corpus = Corpus.from_files([path], min_count=5, progress=False)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = _peak_rss_bytes() - before
    tokens = corpus.tokens_read
    return {
        "tokens": tokens,
        "kept": len(corpus),
        "vocab": len(corpus.vocab),
        "seconds": wall,
        "cpu_seconds": cpu,
        "us_per_token": 1e6 * cpu / tokens,
        "peak_bytes_per_token": peak / tokens,
        "peak_extra_mb": peak / 2**20,
        "anon_mb": _status("RssAnon") / 2**20,
    }


def _status(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def _pretokenise(source: str, target: Path, quick: bool) -> None:
    """Write ``source`` tokenised by regex_tokenize, at most 1,000 tokens a line."""
    from embtable.text import iter_lines, regex_tokenize

    with open(target, "w", encoding="utf-8") as out:
        for number, line in enumerate(iter_lines(source)):
            if quick and number >= 20:
                break
            tokens = regex_tokenize(line)
            for start in range(0, len(tokens), 1000):
                out.write(" ".join(tokens[start : start + 1000]) + "\n")


def _run_job(job: dict) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(job)],
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{job['tool']} run failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _measure(corpus: str, options: dict, seeds: list[int], architectures: list[str]) -> dict:
    results: dict = {}
    for architecture in architectures:
        shared = architecture == "skipgram" and not options.get("hs")
        tools = ["gensim", "embtable"] + (["embtable-shared"] if shared else [])
        rows: dict[str, list[dict]] = {tool: [] for tool in tools}
        for seed in seeds:
            order = tools if seed % 2 else tools[::-1]
            for tool in order:
                job = {
                    "tool": tool,
                    "architecture": architecture,
                    "seed": seed,
                    "corpus": corpus,
                    "options": options,
                }
                row = _run_job(job)
                rows[tool].append(row)
                print(
                    f"{architecture} seed {seed} {tool:15s}: {row['kept_words_per_second']:10,.0f} "
                    f"kept words/s, {row['seconds']:.1f} s, WS353 {row['wordsim353']:.3f} "
                    f"SimLex {row['simlex999']:.3f} analogy {row['analogy']:.2f}%, "
                    f"peak {row['peak_rss_mb']:.0f} MB",
                    file=sys.stderr,
                )
        results[architecture] = rows
    return results


def median(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def mean(rows: list[dict], key: str) -> float:
    return statistics.fmean(r[key] for r in rows)


def _table(results: dict, title: str) -> None:
    print(f"## {title}")
    print()
    print("| metric | embtable | gensim | difference |")
    print("|---|---:|---:|---:|")
    for architecture, rows in results.items():
        for variant in [tool for tool in rows if tool != "gensim"]:
            ours, theirs = rows[variant], rows["gensim"]
            label = architecture + (" --shared-negatives" if variant == "embtable-shared" else "")
            a, b = median(ours, "kept_words_per_second"), median(theirs, "kept_words_per_second")
            print(
                f"| {label}: training words/s, kept words x epochs / s (median) | "
                f"{a:,.0f} | {b:,.0f} | x{a / b:.2f} |"
            )
            a, b = (
                median(ours, "kept_words_per_cpu_second"),
                median(theirs, "kept_words_per_cpu_second"),
            )
            print(
                f"| {label}: kept words x epochs / CPU s, all threads (median) | "
                f"{a:,.0f} | {b:,.0f} | x{a / b:.2f} |"
            )
            a, b = (
                median(ours, "effective_words_per_second"),
                median(theirs, "effective_words_per_second"),
            )
            print(
                f"| {label}: effective words/s, after sub-sampling (median) | "
                f"{a:,.0f} | {b:,.0f} | x{a / b:.2f} |"
            )
            a, b = median(ours, "scan_seconds"), median(theirs, "scan_seconds")
            print(f"| {label}: corpus scan, s (median) | {a:.2f} | {b:.2f} | x{b / a:.2f} |")
            for key, name in (
                ("wordsim353", "WordSim-353 Spearman"),
                ("simlex999", "SimLex-999 Spearman"),
                ("analogy", "analogy@30k, %"),
            ):
                a, b = mean(ours, key), mean(theirs, key)
                precision = 2 if key == "analogy" else 4
                print(
                    f"| {label}: {name} (mean) | {a:.{precision}f} | {b:.{precision}f} | "
                    f"{a - b:+.{precision}f} |"
                )
            a = max(r["peak_rss_mb"] for r in ours)
            b = max(r["peak_rss_mb"] for r in theirs)
            print(f"| {label}: peak RSS, MB (max) | {a:.0f} | {b:.0f} | x{a / b:.2f} |")
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke test")
    parser.add_argument("--seeds", type=int, default=3, help="seeds to average over")
    parser.add_argument("--epochs", type=int, default=5, help="epochs for both trainers")
    parser.add_argument("--threads", type=int, default=2, help="threads for both trainers")
    parser.add_argument("--architectures", default="skipgram,cbow", help="comma-separated")
    parser.add_argument("--corpus", default=None, help="text file (default: the bundled one)")
    parser.add_argument("--busy", action="store_true", help="also measure next to a busy process")
    parser.add_argument(
        "--hs", action="store_true", help="hierarchical softmax (hs=1, negative=0) for both tools"
    )
    parser.add_argument(
        "--reading",
        nargs="*",
        default=None,
        metavar="FILE",
        help="only measure corpus reading (time and peak memory per token) on FILEs "
        "(default: the bundled corpus)",
    )
    parser.add_argument(
        "--fasttext", action="store_true", help="compare fastText training with gensim's FastText"
    )
    parser.add_argument("--buckets", type=int, default=200_000, help="n-gram rows (--fasttext)")
    parser.add_argument("--rounds", type=int, default=1, help="A B B A rounds (--fasttext)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        print(json.dumps(_worker(json.loads(args.worker))))
        return 0
    try:
        import gensim
    except ImportError:
        print("bench/word2vec.py needs gensim: pip install 'embtable[bench]'", file=sys.stderr)
        return 1
    import numba
    import numpy as np

    from embtable.train import bundled_corpus

    if args.reading is not None:
        print(
            f"# corpus reading (embtable.train.Corpus.from_files, regex tokenizer), CPU "
            f"{_cpu_name()}, load average {os.getloadavg()[0]:.1f}"
        )
        print()
        print("| corpus | tokens | vocabulary | CPU s | us/token | peak extra RSS | bytes/token |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for path in args.reading or [bundled_corpus()]:
            row = _run_job({"tool": "reading", "corpus": path})
            print(
                f"| {os.path.basename(path)} | {row['tokens']:,} | {row['vocab']:,} | "
                f"{row['cpu_seconds']:.2f} | {row['us_per_token']:.3f} | "
                f"{row['peak_extra_mb']:.0f} MB | {row['peak_bytes_per_token']:.1f} |"
            )
        return 0

    options = {"dim": 100, "epochs": args.epochs, "threads": args.threads, "hs": args.hs}
    seeds = list(range(1, args.seeds + 1))
    architectures = args.architectures.split(",")
    if args.quick:
        options.update(dim=50, epochs=1)
        seeds, architectures = [1], ["skipgram"]
    if args.fasttext:
        options["buckets"] = args.buckets
        with tempfile.TemporaryDirectory() as tmp:
            text = Path(tmp) / "corpus.tok.txt"
            _pretokenise(args.corpus or bundled_corpus(), text, args.quick)
            _fasttext_bench(str(text), options, architectures, max(args.rounds, 1))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        text = Path(tmp) / "corpus.tok.txt"
        _pretokenise(args.corpus or bundled_corpus(), text, args.quick)
        quiet = _measure(str(text), options, seeds, architectures)
        busy = None
        if args.busy:
            spinner = subprocess.Popen([sys.executable, "-c", "while 1: pass"])
            try:
                busy = _measure(str(text), options, seeds, architectures)
            finally:
                spinner.kill()
                spinner.wait()
    sample = quiet[architectures[0]]["embtable"][0]
    layer = "hierarchical softmax (hs=1, negative=0)" if args.hs else "negative sampling"
    print(f"# word2vec with {layer}: embtable vs gensim {gensim.__version__}")
    print()
    print(
        f"corpus: {args.corpus or 'bundled State of the Union'}, {sample['kept']:,} words kept "
        f"({sample['vocab']:,} in the vocabulary), {options['epochs']} epoch(s), dim "
        f"{options['dim']}, {options['threads']} threads, seeds {seeds}"
        f"{' (--quick: not a measurement)' if args.quick else ''}"
    )
    print(
        f"numpy {np.__version__}, numba {numba.__version__}, python "
        f"{platform.python_version()}, CPU {_cpu_name()} ({os.cpu_count()} logical), "
        f"load average before: {os.getloadavg()[0]:.1f}"
    )
    print()
    _table(quiet, "as the machine is")
    if busy is not None:
        _table(busy, "with one extra busy process")
    return 0


if __name__ == "__main__":
    sys.exit(main())
