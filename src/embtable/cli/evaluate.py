"""``embtable evaluate``: word-similarity correlation and analogy accuracy.

Scores go to standard output, one line per evaluation set (and one per section with
``--sections``); a warning about rows with NaN or inf goes to standard error. See :func:`run`
for an example.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import TYPE_CHECKING

from embtable._errors import OptionError
from embtable.cli._common import (
    HelpFormatter,
    add_load_options,
    load_options,
    load_vectors,
    positive_int,
)

if TYPE_CHECKING:
    from embtable.evaluate import AnalogyResult, WordPairsResult

__all__ = [
    "add_parser",
    "format_analogies",
    "format_pairs",
    "format_sections",
    "resolve_set",
    "run",
]

_EXAMPLE = """\
With no --pairs or --analogies both default sets run: WordSim-353 (Spearman correlation of
cosine similarity with human scores) and the Google analogies (3CosAdd accuracy). Pairs or
questions with a word outside the first --restrict-vocab words are skipped and counted.
Bundled sets by name: wordsim353, simlex (SimLex-999), google; any other name is a file.

examples:
  embtable evaluate out/default
  embtable evaluate out/default --pairs simlex --pairs wordsim353
  embtable evaluate out/default --analogies google --restrict-vocab 30000 --sections
  embtable evaluate glove.6B.50d.txt --format glove --analogies questions-words.txt
  embtable evaluate out/default --pairs men.txt --delimiter space   # a space-separated file
"""

_TITLES = {
    "wordsim353.tsv": "WordSim-353",
    "simlex999.txt": "SimLex-999",
    "questions-words.txt": "Google analogies",
}
_DELIMITERS = {"tab": "\t", "space": " ", "comma": ",", "whitespace": None}


def _delimiter(text: str) -> str | None:
    """``tab``, ``space``, ``comma``, ``whitespace`` (any run of it), or the characters given
    (``\\t`` read as a tab)."""
    if text in _DELIMITERS:
        return _DELIMITERS[text]
    text = text.replace("\\t", "\t")
    if not text:
        raise argparse.ArgumentTypeError("must not be empty; use 'whitespace' for any run of it")
    return text


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` sub-command to ``commands``.

    Example:
        >>> import argparse
        >>> commands = argparse.ArgumentParser(prog="embtable").add_subparsers()
        >>> add_parser(commands)
        >>> parser = commands.choices["evaluate"]
        >>> args = parser.parse_args(["t", "--pairs", "simlex", "--delimiter", "space"])
        >>> args.pairs, args.delimiter, args.restrict_vocab
        (['simlex'], ' ', 300000)
    """
    parser = commands.add_parser(
        "evaluate",
        help="evaluate vectors on word similarity and analogies",
        description="Evaluate vectors on word-pair similarity and word analogies, with "
        "gensim's rules (its evaluate_word_pairs and evaluate_word_analogies give the same "
        "figures).",
        epilog=_EXAMPLE,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "directory", metavar="DIR", help="an embtable table directory, or a vectors file"
    )
    parser.add_argument(
        "--pairs",
        metavar="SET",
        action="append",
        default=None,
        help="word pairs with a human score: a bundled set (wordsim353, simlex) or a file of "
        "'word1 word2 score' lines; may be repeated",
    )
    parser.add_argument(
        "--analogies",
        metavar="SET",
        action="append",
        default=None,
        help="analogy questions: the bundled 'google' set or a file in word2vec's "
        "questions-words.txt format; may be repeated",
    )
    parser.add_argument(
        "--restrict-vocab",
        dest="restrict_vocab",
        type=positive_int,
        default=300000,
        metavar="N",
        help="only the first N words count as known, and analogies search only them "
        "(gensim's default; 30000 gives the usual analogy score)",
    )
    parser.add_argument(
        "--delimiter",
        type=_delimiter,
        default="\t",
        metavar="D",
        help="field separator of --pairs files: tab, space, comma, whitespace (any run of "
        "spaces and tabs) or the characters themselves (default: tab)",
    )
    parser.add_argument(
        "--sections",
        action="store_true",
        help="also print the accuracy of each section of the analogy questions",
    )
    parser.add_argument(
        "--case-sensitive",
        dest="case_sensitive",
        action="store_true",
        help="compare words as they are (default: upper-case both sides, as gensim)",
    )
    add_load_options(parser)
    parser.set_defaults(run=run)


def resolve_set(name: str) -> tuple[str | None, str]:
    """``(path, title)`` of an evaluation set given on the command line.

    An existing file wins; otherwise a bundled set's short or file name gives ``path=None``
    and the bundled file name as its title.

    Raises:
        OptionError: neither a file nor a bundled set.

    Example:
        >>> resolve_set("simlex")
        (None, 'simlex999.txt')
    """
    from embtable.evaluate import BUNDLED_DATASETS, BUNDLED_NAMES

    if os.path.exists(name):
        return name, name
    bundled = BUNDLED_NAMES.get(name, name)
    if bundled in BUNDLED_DATASETS:
        return None, bundled
    raise OptionError(
        f"{name}: no such file, nor a bundled evaluation set (bundled: {', '.join(BUNDLED_NAMES)})"
    )


def run(args: argparse.Namespace) -> int:
    """Print the scores; return the exit status.

    Example:
        >>> import tempfile, numpy as np
        >>> from embtable.cli.__main__ import main
        >>> from embtable.vectors import Vectors
        >>> tmp = tempfile.TemporaryDirectory()
        >>> Vectors(["king", "queen", "cabbage"], np.array([[1.0, 0], [1, 0.2], [0, 1]])).save(
        ...     tmp.name + "/t", format="embtable")
        >>> main(["evaluate", tmp.name + "/t", "--analogies", "google"])  # doctest: +ELLIPSIS
        analogies (Google analogies): accuracy 0.0000 (0/0), 19544 of 19544 questions out of ...
        0
        >>> tmp.cleanup()
    """
    from embtable.evaluate import bundled_path, evaluate_analogies, evaluate_word_pairs

    both = args.pairs is None and args.analogies is None
    pair_sets = [resolve_set(name) for name in args.pairs or (["wordsim353"] if both else [])]
    analogy_sets = [resolve_set(name) for name in args.analogies or (["google"] if both else [])]
    vectors = load_vectors(args.directory, args.format, **load_options(args))
    check = vectors.check()
    if not check.ok:
        example = ", ".join(repr(token) for token in check.nonfinite_tokens[:3])
        print(
            f"embtable: warning: {check.nonfinite:,} rows hold NaN or inf (e.g. {example}); "
            f"correlations that use them are NaN and questions that use them count as wrong",
            file=sys.stderr,
        )
    options = {"restrict_vocab": args.restrict_vocab, "case_insensitive": not args.case_sensitive}
    for path, title in pair_sets:
        with bundled_path(title) if path is None else contextlib.nullcontext(path) as file:
            result = evaluate_word_pairs(vectors, file, delimiter=args.delimiter, **options)
        _warn_skipped(path or title, result.skipped_lines, "word, word, number")
        print(format_pairs(result, _TITLES.get(title, title) if path is None else path))
    for path, title in analogy_sets:
        with bundled_path(title) if path is None else contextlib.nullcontext(path) as file:
            answers = evaluate_analogies(vectors, file, **options)
        _warn_skipped(path or title, answers.skipped_lines, "4 words")
        print(format_analogies(answers, _TITLES.get(title, title) if path is None else path))
        if args.sections:
            print(format_sections(answers))
    return 0


def _warn_skipped(name: str, lines: tuple[int, ...], expected: str) -> None:
    """Say on standard error which lines of an evaluation file were skipped (gensim only logs
    them), so that a wrong delimiter or a damaged file does not pass unnoticed.

    Example:
        >>> import contextlib, io
        >>> with contextlib.redirect_stderr(io.StringIO()) as err:
        ...     _warn_skipped("men.txt", (3, 8), "word, word, number")
        >>> print(err.getvalue().strip())
        embtable: warning: men.txt: skipped 2 lines that are not word, word, number (lines 3, 8)
    """
    if not lines:
        return
    shown = ", ".join(str(line) for line in lines[:5]) + (", ..." if len(lines) > 5 else "")
    plural, verb = ("s", "are") if len(lines) > 1 else ("", "is")
    print(
        f"embtable: warning: {name}: skipped {len(lines)} line{plural} that {verb} not "
        f"{expected} (line{plural} {shown})",
        file=sys.stderr,
    )


def format_pairs(result: WordPairsResult, name: str | None) -> str:
    """One line for a word-pair evaluation result.

    Example:
        >>> from embtable.evaluate import WordPairsResult
        >>> print(format_pairs(WordPairsResult(0.5, 0.01, 0.25, 0.02, 0.1, 9, 1, ()), "MEN"))
        word pairs (MEN): Spearman 0.2500, Pearson 0.5000, 9 pairs, 1 out of vocabulary (10.0%)
    """
    return (
        f"word pairs ({name or 'WordSim-353'}): Spearman {result.spearman:.4f}, "
        f"Pearson {result.pearson:.4f}, {result.pairs} pairs, {result.oov} out of vocabulary "
        f"({result.oov_ratio:.1%})"
    )


def format_analogies(result: AnalogyResult, name: str | None) -> str:
    """One line for an analogy evaluation result.

    Example:
        >>> from embtable.evaluate import AnalogyResult, AnalogySection
        >>> section = AnalogySection("family", (("A", "B", "C", "D"),), ())
        >>> print(format_analogies(AnalogyResult(1.0, (section,), 4, 3, 0.75, ()), "mine"))
        analogies (mine): accuracy 1.0000 (1/1), 3 of 4 questions out of vocabulary (75.0%)
    """
    answered = result.correct + result.incorrect
    return (
        f"analogies ({name or 'Google analogies'}): accuracy {result.accuracy:.4f} "
        f"({result.correct}/{answered}), {result.oov} of {result.questions} questions out of "
        f"vocabulary ({result.oov_ratio:.1%})"
    )


def format_sections(result: AnalogyResult) -> str:
    """One indented line per section: its accuracy and counts.

    Example:
        >>> from embtable.evaluate import AnalogyResult, AnalogySection
        >>> sections = (
        ...     AnalogySection("family", (("A", "B", "C", "D"),), (("A", "B", "E", "F"),)),
        ...     AnalogySection("gram1-adjective-to-adverb", (), ()),
        ... )
        >>> print(format_sections(AnalogyResult(0.5, sections, 4, 2, 0.5, ())))
          family                       accuracy 0.5000 (1/2)
          gram1-adjective-to-adverb    no questions in the vocabulary
    """
    width = max((len(section.name) for section in result.sections), default=0)
    lines = []
    for section in result.sections:
        answered = len(section.correct) + len(section.incorrect)
        if answered:
            text = f"accuracy {section.accuracy:.4f} ({len(section.correct)}/{answered})"
        else:
            text = "no questions in the vocabulary"
        lines.append(f"  {section.name:<{max(width, 27)}}  {text}")
    return "\n".join(lines)
