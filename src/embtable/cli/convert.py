"""``embtable convert``: convert vectors between file formats."""

from __future__ import annotations

import argparse
import os

from embtable.cli._common import FORMATS, HelpFormatter, fail, load_vectors

__all__ = ["add_parser", "output_format", "run"]

_EXAMPLE = """\
Formats: embtable (a table directory), word2vec (text, with a "V D" header), word2vec-binary,
glove (text, no header) and fasttext (fastText's .vec text, which is word2vec text). The input
format is detected unless --from is given; the output format defaults from OUT's name: a name
ending in .bin is word2vec-binary, .vec fasttext, .txt word2vec, anything else an embtable
directory. A .gz or .bz2 suffix compresses text output.

examples:
  embtable convert out/default vectors.bin
  embtable convert glove.6B.50d.txt glove-table --from glove --to embtable
  embtable convert vectors.bin vectors.txt.gz --to word2vec
"""


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``convert`` sub-command to ``commands``."""
    parser = commands.add_parser(
        "convert",
        help="convert vectors between formats",
        description="Convert vectors between embtable, word2vec, GloVe and fastText formats.",
        epilog=_EXAMPLE,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("input", metavar="IN", help="input file or table directory")
    parser.add_argument("output", metavar="OUT", help="output file or table directory")
    parser.add_argument(
        "--from",
        dest="source_format",
        choices=FORMATS,
        default=None,
        help="input format (default: detected)",
    )
    parser.add_argument(
        "--to",
        dest="target_format",
        choices=FORMATS,
        default=None,
        help="output format (default: from OUT's name)",
    )
    parser.set_defaults(run=run)


def output_format(path: str) -> str:
    """Guess the output format from a path's name.

    Example:
        >>> [output_format(p) for p in ["v.bin", "v.vec", "v.txt.gz", "table"]]
        ['word2vec-binary', 'fasttext', 'word2vec', 'embtable']
    """
    name = path.lower()
    for suffix in (".gz", ".bz2"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    if name.endswith(".bin"):
        return "word2vec-binary"
    if name.endswith(".vec"):
        return "fasttext"
    if name.endswith(".txt"):
        return "word2vec"
    return "embtable"


def run(args: argparse.Namespace) -> int:
    """Convert; return the exit status."""
    if os.path.exists(args.output) and os.path.realpath(args.input) == os.path.realpath(
        args.output
    ):
        return fail(f"IN and OUT are the same path ({args.output}); write to a new path")
    target = args.target_format or output_format(args.output)
    if (
        target == "embtable"
        and args.source_format in (None, "embtable")
        and os.path.isdir(args.input)
        and os.path.isfile(os.path.join(args.input, "vocab.json"))
    ):
        return _copy_table(args.input, args.output)
    vectors = load_vectors(args.input, args.source_format)
    try:
        vectors.save(args.output, format=target)
    except ValueError as err:  # e.g. a token that the text format cannot hold
        return fail(f"cannot write {args.output} as {target}: {err}")
    rows, dim = vectors.matrix.shape
    print(f"wrote {rows:,} x {dim} vectors to {os.fspath(args.output)} ({target})")
    return 0


def _copy_table(source: str, target: str) -> int:
    """A table directory to another: the vocabulary (counts, specials) and the settings too."""
    from embtable.io.tables import CONFIG_FILE, VOCAB_FILE, load_table, save_table
    from embtable.text import Vocab

    weight, _, config = load_table(source)
    vocab = Vocab.load(os.path.join(source, VOCAB_FILE))
    save_table(target, weight, vocab, config)
    rows, dim = weight.shape
    kept = f"{VOCAB_FILE} and {CONFIG_FILE} kept"
    print(f"wrote {rows:,} x {dim} vectors to {target} (embtable; {kept})")
    return 0
