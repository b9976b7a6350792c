"""``embtable train``: learn word2vec (skip-gram or CBOW) embeddings from text files."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from embtable.cli._common import HelpFormatter, fail

__all__ = ["DEFAULT_OUTPUT", "add_parser", "run"]

DEFAULT_OUTPUT = os.path.join("out", "default")
"""Where ``embtable train`` without a corpus (the bundled one) writes, unless ``-o`` says."""

_EXAMPLE = """\
Each line of a corpus file is a sentence; files may be plain text, .gz or .bz2, and "-" reads
standard input. Words are lower-cased and split by embtable.text.regex_tokenize (--tokenizer
whitespace: the text is pre-tokenised, tokens separated by spaces). The output directory holds
the table (weights.safetensors, vocab.json, config.json), the output (context) table
output.safetensors (with --hs also output_hs.safetensors, the inner nodes), meta.json
(hyper-parameters, corpus statistics, time taken, the optimizer position), training.csv (loss,
learning rate and words/s per interval) and, with matplotlib installed, training.png. It is
written atomically at the end, every --checkpoint-every minutes and on Ctrl-C; --resume DIR
continues an unfinished run. The summary goes to standard output, progress and status to
standard error.

examples:
  embtable train                                     # the bundled corpus, into out/default
  embtable train news.txt.gz books/*.txt -o out/news --dim 300 --epochs 10 --threads 4
  embtable train corpus.txt -o out/c --architecture cbow --word2vec-binary out/c.bin
  embtable train corpus.txt -o out/hs --hs --negative 0   # hierarchical softmax
  zcat big.txt.gz | embtable train - -o out/big --checkpoint-every 30
  embtable train --resume out/big                    # continue after Ctrl-C or a crash
  embtable train corpus.txt -o out/ft.bin --subwords 3-6 --buckets 2000000   # fastText
  embtable train --resume out/ft.bin.checkpoint      # continue it after Ctrl-C

With --subwords MIN-MAX the model is fastText's (skip-gram or CBOW on character n-grams, so
unseen words get vectors) and -o names the fastText .bin file to write (written atomically at
the end), which fastText and gensim's load_facebook_model read. Its checkpoints (every
--checkpoint-every minutes, on Ctrl-C) go to the directory OUTPUT.checkpoint (both tables, the
n-gram buckets included, and the optimizer position), removed once the .bin is written;
--resume OUTPUT.checkpoint continues and writes OUTPUT (or -o FILE).
"""

# Training options: name -> (default, help). Their defaults are applied after parsing, so that
# --resume can tell which ones were given (the checkpoint's own are used then).
_TRAINING: dict[str, tuple[Any, str]] = {
    "architecture": ("skipgram", "skipgram or cbow"),
    "cbow_sum": (False, "CBOW sums the context vectors instead of averaging them"),
    "dim": (100, "embedding dimension"),
    "window": (5, "largest context window"),
    "no_shrink_windows": (False, "always use the whole window (default: draw 1..WINDOW)"),
    "shared_negatives": (
        False,
        "skip-gram: one set of noise words per window, as a small matrix product (faster; "
        "Ji et al. 2016); default: word2vec's per-pair rule",
    ),
    "negative": (5, "noise words per example (>= 1; 0 with --hs: hierarchical softmax alone)"),
    "hs": (
        False,
        "also train hierarchical softmax (word2vec's -hs 1, gensim's hs=1); with --negative 0 "
        "it is the only output layer",
    ),
    "ns_exponent": (0.75, "exponent of the noise distribution (-1..1)"),
    "sample": (1e-3, "sub-sampling threshold of frequent words (0: off)"),
    "epochs": (5, "passes over the corpus"),
    "alpha": (0.025, "starting learning rate"),
    "min_alpha": (1e-4, "final learning rate (linear decay)"),
    "threads": (None, "training threads (default: numba's thread count, NUMBA_NUM_THREADS)"),
    "seed": (0, "random seed; with --threads 1 runs are bit-reproducible"),
    "subwords": (None, "train fastText on character n-grams of MIN-MAX characters, e.g. 3-6"),
    "buckets": (2_000_000, "n-gram rows with --subwords"),
}
_CORPUS: dict[str, tuple[Any, str]] = {
    "min_count": (5, "drop words seen fewer times"),
    "max_vocab": (None, "keep only the N most frequent words"),
    "max_final_vocab": (None, "raise --min-count until at most N words remain (gensim's rule)"),
    "tokenizer": (None, "regex (default), regex-cased, or whitespace for pre-tokenised text"),
    "no_lower": (False, "keep the text's case (same as --tokenizer regex-cased)"),
    "encoding": ("utf-8", "text encoding of the corpus"),
    "max_sentence_length": (10_000, "cut longer lines into pieces of this many words"),
}


def _integer(low: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}")
        return value

    return parse


def _range(text: str) -> tuple[int, int]:
    low, sep, high = text.partition("-")
    try:
        if sep and low.strip().isdigit() and high.strip().isdigit():
            return int(low), int(high)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"expected MIN-MAX, two integers such as 3-6, got {text!r}")


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``train`` sub-command to ``commands``.

    Example:
        >>> parser = argparse.ArgumentParser(prog="embtable")
        >>> add_parser(parser.add_subparsers())
        >>> args = parser.parse_args(["train", "text.txt", "-o", "out", "--hs", "--negative", "0"])
        >>> args.corpus, args.output, args.hs, args.negative, args.run is run
        (['text.txt'], 'out', True, 0, True)
    """
    parser = commands.add_parser(
        "train",
        help="train word2vec (skip-gram or CBOW) embeddings on text",
        description="Train word2vec embeddings (skip-gram or CBOW) with negative sampling "
        "and/or hierarchical softmax, or fastText's with --subwords.",
        epilog=_EXAMPLE,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "corpus",
        nargs="*",
        metavar="CORPUS",
        help="text files, one sentence per line, or - for standard input "
        "(default: the bundled State of the Union corpus)",
    )
    parser.add_argument(
        "-o",
        "--output",
        default=None,
        metavar="DIR",
        help=f"output directory, replaced atomically (default for the bundled corpus: "
        f"{DEFAULT_OUTPUT})",
    )
    parser.add_argument(
        "--resume",
        metavar="DIR",
        default=None,
        help="continue the unfinished run saved in DIR (its options are used; the corpus is "
        "read again from the files it names unless CORPUS is given)",
    )
    parser.add_argument(
        "--checkpoint-every",
        type=_number,
        default=None,
        metavar="MINUTES",
        help="also save the output directory every MINUTES minutes while training",
    )
    group = parser.add_argument_group("training options")
    kinds = {
        "dim": _integer(1),
        "window": _integer(1),
        "negative": _integer(0),
        "epochs": _integer(1),
        "threads": _integer(1),
        "seed": _integer(0),
        "subwords": _range,
        "buckets": _integer(1),
        "ns_exponent": _number,
        "sample": _number,
        "alpha": _number,
        "min_alpha": _number,
        "min_count": _integer(1),
        "max_vocab": _integer(1),
        "max_final_vocab": _integer(1),
        "max_sentence_length": _integer(1),
    }
    for table, target in ((_TRAINING, group), (_CORPUS, parser.add_argument_group("corpus"))):
        for name, (default, text) in table.items():
            flag = "--" + name.replace("_", "-")
            shown = "" if default in (None, False) else f" (default: {default})"
            if isinstance(default, bool):
                target.add_argument(flag, action="store_true", default=argparse.SUPPRESS, help=text)
            elif name == "architecture":
                target.add_argument(
                    flag, choices=("skipgram", "cbow"), default=argparse.SUPPRESS, help=text + shown
                )
            elif name == "tokenizer":
                target.add_argument(
                    flag,
                    choices=("regex", "regex-cased", "whitespace"),
                    default=argparse.SUPPRESS,
                    help=text,
                )
            elif name == "encoding":
                target.add_argument(flag, default=argparse.SUPPRESS, help=text + shown)
            else:
                target.add_argument(
                    flag,
                    type=kinds[name],
                    default=argparse.SUPPRESS,
                    metavar=(
                        "MIN-MAX" if name == "subwords" else "N" if name.startswith("max") else None
                    ),
                    help=text + shown,
                )
    parser.add_argument(
        "--temp-dir",
        default=None,
        metavar="DIR",
        help="where the corpus's temporary id files go (default: $TMPDIR)",
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
    parser.add_argument(
        "--progress",
        choices=("auto", "on", "off"),
        default="auto",
        help="progress bars on standard error (auto: when it is a terminal)",
    )
    parser.set_defaults(run=run)


def _given(args: argparse.Namespace, table: dict[str, tuple[Any, str]]) -> dict[str, Any]:
    return {name: getattr(args, name) for name in table if hasattr(args, name)}


def _check_file_output(path: str, option: str) -> None:
    from embtable._errors import OutputError
    from embtable.io._atomic import check_output

    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise OutputError(
            2, f"cannot write {option} {path!r}: the directory {parent!r} does not exist"
        )
    check_output(path, "file")


def run(args: argparse.Namespace) -> int:
    """Check every option and output, read the corpus, train and save; return the exit status.

    Example:
        >>> import contextlib, io, pathlib, tempfile
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "corpus.txt").write_text("the cat sat on the mat\\n" * 50)
        >>> parser = argparse.ArgumentParser(prog="embtable")
        >>> add_parser(parser.add_subparsers())
        >>> args = parser.parse_args(["train", str(folder / "corpus.txt"), "-o",
        ...     str(folder / "out"), "--min-count", "1", "--dim", "4", "--epochs", "1",
        ...     "--threads", "1", "--progress", "off"])
        >>> with contextlib.redirect_stdout(io.StringIO()) as summary:
        ...     status = run(args)
        >>> status, summary.getvalue().startswith("trained 5 x 4 skipgram vectors on 300 words")
        (0, True)
        >>> sorted(p.name for p in (folder / "out").iterdir())[:3]
        ['config.json', 'meta.json', 'output.safetensors']
    """
    from embtable.io._atomic import check_input_file, check_output
    from embtable.train import bundled_corpus, check_training_options

    progress = {"auto": None, "on": True, "off": False}[args.progress]
    every = None
    if args.checkpoint_every is not None:
        if not args.checkpoint_every > 0 or args.checkpoint_every == float("inf"):
            return fail(
                f"--checkpoint-every must be a number of minutes > 0, got {args.checkpoint_every}"
            )
        every = args.checkpoint_every * 60.0
    for option, path in (
        ("--word2vec-text", args.word2vec_text),
        ("--word2vec-binary", args.word2vec_binary),
    ):
        if path is not None:
            _check_file_output(path, option)
    paths = list(args.corpus)
    for path in paths:
        if path != "-":
            check_input_file(path)
    if paths.count("-") > 1:
        return fail("standard input ('-') can be read only once")

    if args.resume is not None:
        given = sorted(_given(args, _TRAINING) | _given(args, _CORPUS))
        if given:
            return fail(
                "--resume continues with the checkpoint's own options; drop "
                + ", ".join("--" + name.replace("_", "-") for name in given)
            )
        return _resume(args, paths, progress, every)

    training = {name: default for name, (default, _) in _TRAINING.items()} | _given(args, _TRAINING)
    subwords = training["subwords"]
    if args.output is None:
        if paths:
            return fail("-o/--output DIR is needed when training on your own corpus")
        args.output = DEFAULT_OUTPUT + (".bin" if subwords else "")
    if subwords is None and "buckets" in _given(args, _TRAINING):
        return fail("--buckets goes with --subwords MIN-MAX")
    corpus_options = {name: default for name, (default, _) in _CORPUS.items()} | _given(
        args, _CORPUS
    )
    options = {
        "architecture": training["architecture"],
        "cbow_mean": not training["cbow_sum"],
        "dim": training["dim"],
        "window": training["window"],
        "negative": training["negative"],
        "hs": training["hs"],
        "ns_exponent": training["ns_exponent"],
        "sample": training["sample"],
        "shrink_windows": not training["no_shrink_windows"],
        "shared_negatives": training["shared_negatives"],
        "epochs": training["epochs"],
        "alpha": training["alpha"],
        "min_alpha": training["min_alpha"],
        "threads": training["threads"],
        "seed": training["seed"],
    }
    check_training_options(**options)  # every option before the corpus is read
    if subwords is not None:
        from embtable.train.sgns import _check_subwords

        _check_subwords(
            subwords,
            training["buckets"],
            {
                "architecture": training["architecture"],
                "cbow_mean": not training["cbow_sum"],
                "shared_negatives": training["shared_negatives"],
                "hs": training["hs"],
            },
        )
        _check_file_output(args.output, "-o")
        check_output(_checkpoint_of(args.output), "directory")
    else:
        check_output(args.output, "directory")
    tokenizer = corpus_options["tokenizer"]
    if tokenizer is None:
        tokenizer = "regex-cased" if corpus_options["no_lower"] else "regex"
    elif corpus_options["no_lower"]:
        return fail("--no-lower goes with the regex tokenizer; with --tokenizer, drop it")
    from embtable.train import Corpus, train_word2vec

    corpus = Corpus.from_files(
        paths or [bundled_corpus()],
        min_count=corpus_options["min_count"],
        max_vocab=corpus_options["max_vocab"],
        max_final_vocab=corpus_options["max_final_vocab"],
        tokenizer=tokenizer,
        encoding=corpus_options["encoding"],
        max_sentence_length=corpus_options["max_sentence_length"],
        temp_dir=args.temp_dir,
        progress=progress,
    )
    _report_corpus(corpus)
    try:
        model = train_word2vec(
            corpus,
            **options,
            progress=progress,
            checkpoint_dir=_checkpoint_of(args.output) if subwords else args.output,
            checkpoint_every=every,
            subwords=subwords,
            buckets=training["buckets"],
        )
    except KeyboardInterrupt:
        return _interrupted(_checkpoint_of(args.output) if subwords else args.output)
    if subwords:
        _write_bin(model, args.output, _checkpoint_of(args.output))
    return _finish(model, args)


_CHECKPOINT_SUFFIX = ".checkpoint"
"""A fastText run's checkpoint directory is its ``.bin`` path plus this."""


def _checkpoint_of(bin_path: str) -> str:
    """The checkpoint directory of the fastText run that writes ``bin_path``."""
    return bin_path + _CHECKPOINT_SUFFIX


def _write_bin(model: Any, bin_path: str, checkpoint: str) -> None:
    """Write the finished fastText model, then drop its checkpoint ``BIN.checkpoint`` (the .bin
    holds it all; a checkpoint directory of another name is left as it is)."""
    import shutil

    model.save_bin(bin_path)
    if os.path.abspath(checkpoint) == os.path.abspath(_checkpoint_of(bin_path)):
        shutil.rmtree(checkpoint)


def _resume(
    args: argparse.Namespace, paths: list[str], progress: bool | None, every: float | None
) -> int:
    from embtable.io._atomic import check_output
    from embtable.train import Corpus, SkipGramModel, resume_training

    saved = SkipGramModel.load(args.resume)
    bin_path = None
    if saved.subwords is not None:  # -o names the fastText .bin to write at the end
        bin_path = args.output
        if bin_path is None:
            directory = os.path.normpath(args.resume)
            if not directory.endswith(_CHECKPOINT_SUFFIX):
                return fail(
                    f"{args.resume} holds a fastText (subword) run: give -o FILE.bin, the file "
                    "to write at the end"
                )
            bin_path = directory[: -len(_CHECKPOINT_SUFFIX)]
        _check_file_output(bin_path, "-o")
    elif args.output is not None and os.path.abspath(args.output) != os.path.abspath(args.resume):
        return fail("--resume DIR writes into DIR; drop -o or give the same directory")
    check_output(args.resume, "directory")
    corpus = None
    if paths:
        config = saved.config
        corpus = Corpus.from_files(
            paths,
            tokenizer=config.get("tokenizer") or "regex",
            encoding=config.get("encoding") or "utf-8",
            max_sentence_length=int(config.get("max_sentence_length", 10_000)),
            vocab=saved.vocab,
            temp_dir=args.temp_dir,
            progress=progress,
        )
    del saved
    try:
        model = resume_training(
            args.resume, corpus, progress=progress, checkpoint_every=every, temp_dir=args.temp_dir
        )
    except KeyboardInterrupt:
        return _interrupted(args.resume)
    if bin_path is not None:
        _write_bin(model, bin_path, args.resume)
        args.output = bin_path
    else:
        args.output = args.resume
    return _finish(model, args)


def _report_corpus(corpus: Any) -> None:
    print(
        f"corpus: {len(corpus.files)} file(s), {corpus.tokens_read:,} tokens, "
        f"{len(corpus.vocab):,} words kept (seen >= {corpus.min_count} times), "
        f"{len(corpus):,} words retained in {corpus.sentences:,} sentences",
        file=sys.stderr,
    )


def _interrupted(directory: str) -> int:
    from embtable.cli._common import PROG

    print(
        f"{PROG}: interrupted; the model so far is saved in {directory} (a loadable table); "
        f"continue with: embtable train --resume {directory}",
        file=sys.stderr,
    )
    return 130


def _finish(model: Any, args: argparse.Namespace) -> int:
    vectors = model.vectors()
    if args.word2vec_text is not None:
        vectors.save(args.word2vec_text, format="word2vec")
    if args.word2vec_binary is not None:
        vectors.save(args.word2vec_binary, format="word2vec-binary")
    training = model.stats["training"]
    rate = training["words_per_second"] or 0.0
    print(
        f"trained {len(model.vocab):,} x {model.config['dim']} {model.config['architecture']} "
        f"vectors on {training['words']:,} words in {training['seconds']:.1f} s "
        f"({rate:,.0f} words/s, {training['threads']} threads, final loss "
        f"{model.epoch_losses[-1]:.4f}); wrote {model.stats.get('output', args.output)}"
    )
    return 0
