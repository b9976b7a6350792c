"""``embtable evaluate``: word-similarity correlation and analogy accuracy."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from embtable.cli._common import FORMATS, HelpFormatter, load_vectors

if TYPE_CHECKING:
    from embtable.evaluate import AnalogyResult, WordPairsResult

__all__ = ["add_parser", "run"]

_EXAMPLE = """\
With no option both bundled sets run: WordSim-353 (Spearman correlation of cosine similarity
with human scores) and the Google analogies (3CosAdd accuracy). Pairs or questions with a word
outside the vocabulary are skipped and counted.

examples:
  embtable evaluate out/default
  embtable evaluate out/default --pairs simlex999.txt
  embtable evaluate glove.6B.50d.txt --format glove --analogies questions-words.txt
"""


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` sub-command to ``commands``."""
    parser = commands.add_parser(
        "evaluate",
        help="evaluate vectors on word similarity and analogies",
        description="Evaluate vectors on word-pair similarity and word analogies.",
        epilog=_EXAMPLE,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "directory", metavar="DIR", help="an embtable table directory, or a vectors file"
    )
    parser.add_argument(
        "--pairs",
        metavar="FILE",
        default=None,
        help="word pairs with a human score, tab-separated (default: bundled WordSim-353)",
    )
    parser.add_argument(
        "--analogies",
        metavar="FILE",
        default=None,
        help="analogy questions in word2vec's questions-words.txt format "
        "(default: bundled Google analogies)",
    )
    parser.add_argument(
        "--format", choices=FORMATS, default=None, help="format of DIR (default: detected)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the scores; return the exit status."""
    from embtable.evaluate import evaluate_analogies, evaluate_word_pairs

    vectors = load_vectors(args.directory, args.format)
    both = args.pairs is None and args.analogies is None
    if args.pairs is not None or both:
        print(format_pairs(evaluate_word_pairs(vectors, args.pairs), args.pairs))
    if args.analogies is not None or both:
        print(format_analogies(evaluate_analogies(vectors, args.analogies), args.analogies))
    return 0


def format_pairs(result: WordPairsResult, path: str | None) -> str:
    """One line for a word-pair evaluation result."""
    name = path or "WordSim-353"
    return (
        f"word pairs ({name}): Spearman {result.spearman:.4f}, Pearson {result.pearson:.4f}, "
        f"{result.pairs} pairs, {result.oov} out of vocabulary ({result.oov_ratio:.1%})"
    )


def format_analogies(result: AnalogyResult, path: str | None) -> str:
    """One line for an analogy evaluation result."""
    name = path or "Google analogies"
    answered = result.correct + result.incorrect
    return (
        f"analogies ({name}): accuracy {result.accuracy:.4f} ({result.correct}/{answered}), "
        f"{result.oov} of {result.questions} questions out of vocabulary ({result.oov_ratio:.1%})"
    )
