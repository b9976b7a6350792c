"""``embtable similar``: the nearest neighbours of words by cosine similarity."""

from __future__ import annotations

import argparse

from embtable.cli._common import FORMATS, HelpFormatter, fail, load_vectors

__all__ = ["add_parser", "run"]

_EXAMPLE = """\
examples:
  embtable similar out/default war
  embtable similar out/default january france three -k 5
  embtable similar glove.6B.50d.txt tea --format glove
"""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``similar`` sub-command to ``commands``."""
    parser = commands.add_parser(
        "similar",
        help="print the nearest neighbours of words",
        description="Print the K nearest neighbours (cosine similarity) of each WORD.",
        epilog=_EXAMPLE,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "directory", metavar="DIR", help="an embtable table directory, or a vectors file"
    )
    parser.add_argument("words", nargs="+", metavar="WORD", help="words to look up")
    parser.add_argument("-k", type=_positive_int, default=10, help="neighbours per word")
    parser.add_argument(
        "--format", choices=FORMATS, default=None, help="format of DIR (default: detected)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the neighbours; return the exit status (1 if a word is unknown)."""
    vectors = load_vectors(args.directory, args.format)
    unknown = [word for word in args.words if word not in vectors]
    if unknown:
        listed = ", ".join(repr(word) for word in unknown)
        return fail(
            f"{listed} not in the vocabulary of {args.directory} ({len(vectors):,} words); "
            f"words are case-sensitive (the trainer lower-cases)"
        )
    for index, word in enumerate(args.words):
        if index:
            print()
        print(f"{word}:")
        for neighbour, score in vectors.most_similar(word, k=args.k):
            print(f"  {score:7.4f}  {neighbour}")
    return 0
