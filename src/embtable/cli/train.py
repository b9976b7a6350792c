"""``embtable train``: learn skip-gram (word2vec SGNS) embeddings from text files."""

from __future__ import annotations

import argparse
import os
import sys

from embtable.cli._common import HelpFormatter, fail

__all__ = ["add_parser", "run"]

_EXAMPLE = """\
Each line of a corpus file is a sentence; files may be plain text, .gz or .bz2. Words are
lower-cased and split by embtable.text.regex_tokenize. The output directory holds the table
(weights.safetensors, vocab.json, config.json) and meta.json (hyper-parameters, corpus
statistics, time taken).

examples:
  embtable train -o out/default                      # the bundled State of the Union corpus
  embtable train news.txt.gz books/*.txt -o out/news --dim 300 --epochs 10 --threads 4
  embtable train corpus.txt -o out/c --word2vec-binary out/c.bin
"""


def _positive_int(text: str) -> int:
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def _natural(text: str) -> int:
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not value >= 0.0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``train`` sub-command to ``commands``."""
    parser = commands.add_parser(
        "train",
        help="train skip-gram negative-sampling embeddings on text",
        description="Train word2vec skip-gram negative-sampling (SGNS) embeddings.",
        epilog=_EXAMPLE,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "corpus",
        nargs="*",
        metavar="CORPUS",
        help="text files, one sentence per line (default: the bundled State of the Union corpus)",
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="DIR",
        help="output directory (created; its files are replaced)",
    )
    parser.add_argument("--dim", type=_positive_int, default=100, help="embedding dimension")
    parser.add_argument(
        "--window",
        type=_positive_int,
        default=5,
        help="largest context window (each word draws 1..WINDOW)",
    )
    parser.add_argument("--negative", type=_natural, default=5, help="noise words per pair")
    parser.add_argument(
        "--min-count", type=_positive_int, default=5, help="drop words seen fewer times"
    )
    parser.add_argument(
        "--max-vocab",
        type=_positive_int,
        default=None,
        metavar="N",
        help="keep only the N most frequent words (default: all)",
    )
    parser.add_argument(
        "--sample",
        type=_non_negative_float,
        default=1e-3,
        help="sub-sampling threshold of frequent words (0: off)",
    )
    parser.add_argument("--epochs", type=_positive_int, default=5, help="passes over the corpus")
    parser.add_argument(
        "--alpha", type=_non_negative_float, default=0.025, help="starting learning rate"
    )
    parser.add_argument(
        "--min-alpha",
        type=_non_negative_float,
        default=1e-4,
        help="final learning rate (linear decay)",
    )
    parser.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        help="training threads (default: numba's thread count, NUMBA_NUM_THREADS)",
    )
    parser.add_argument(
        "--seed",
        type=_natural,
        default=0,
        help="random seed; with --threads 1 runs are bit-reproducible",
    )
    parser.add_argument(
        "--no-lower",
        dest="lower",
        action="store_false",
        help="keep the text's case (by default every word is lower-cased)",
    )
    parser.add_argument(
        "--word2vec-text",
        metavar="FILE",
        default=None,
        help="also write the vectors in word2vec text format",
    )
    parser.add_argument(
        "--word2vec-binary",
        metavar="FILE",
        default=None,
        help="also write the vectors in word2vec binary format",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Train and save; return the exit status."""
    from embtable.train import Corpus, bundled_corpus, train_sgns

    paths = list(args.corpus) or [bundled_corpus()]
    for path in paths:
        if not os.path.exists(path):
            return fail(f"corpus file not found: {path}")
        if not os.path.isfile(path):
            return fail(f"corpus path is not a file: {path}")
    if args.min_alpha > args.alpha:
        return fail(f"--min-alpha {args.min_alpha} must not exceed --alpha {args.alpha}")
    try:
        corpus = Corpus.from_files(
            paths, min_count=args.min_count, max_vocab=args.max_vocab, lower=args.lower
        )
        print(
            f"corpus: {len(paths)} file(s), {corpus.tokens_read:,} tokens, "
            f"{len(corpus.vocab):,} words seen >= {args.min_count} times, "
            f"{len(corpus):,} words retained",
            file=sys.stderr,
        )
        model = train_sgns(
            corpus,
            dim=args.dim,
            window=args.window,
            negative=args.negative,
            sample=args.sample,
            epochs=args.epochs,
            alpha=args.alpha,
            min_alpha=args.min_alpha,
            threads=args.threads,
            seed=args.seed,
        )
    except ValueError as err:  # an unusable corpus (too small, not UTF-8)
        return fail(str(err))
    model.save(args.output, word2vec_text=args.word2vec_text, word2vec_binary=args.word2vec_binary)
    training = model.stats["training"]
    print(
        f"trained {len(model.vocab):,} x {args.dim} vectors on {training['words']:,} words in "
        f"{training['seconds']:.1f} s ({training['words_per_second']:,.0f} words/s, "
        f"{training['threads']} threads, final loss {model.epoch_losses[-1]:.4f}); "
        f"wrote {args.output}",
        file=sys.stderr,
    )
    return 0
