"""``embtable similar``: nearest neighbours of words, and analogies, by cosine similarity.

Each WORD is a query of its own. When the words hold ``+`` or ``-`` they form one analogy
instead: ``king - man + woman`` asks ``most_similar(positive=["king", "woman"],
negative=["man"])``, with the query words left out of the answer. A lone ``-`` (or ``+``) is
looked up as a word when the table has it (GloVe does).

Words are folded as the table's tokenizer folds its tokens: a table trained with the ``regex``
tokenizer (the default, which lower-cases) is searched in lower case, so ``War`` finds ``war``;
one trained with a tokenizer that keeps case (``regex-cased``, ``whitespace``) as typed. Vector
files, and tables that name no tokenizer, are searched as typed, falling back to lower case
(with a note on standard error) when the word as typed is absent. A word that is still unknown
is reported on standard error and the remaining queries go on; the exit status is then 1.

Results go to standard output, one block per query (see :func:`run`)::

    war:
       0.8123  wars
       ...
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from embtable._errors import EmbtableError, OptionError
from embtable.cli._common import (
    HelpFormatter,
    add_load_options,
    fail,
    load_options,
    load_vectors,
    positive_int,
)

if TYPE_CHECKING:
    from embtable.vectors import Vectors

__all__ = ["Query", "add_parser", "parse_queries", "run", "word_folder"]

_EXAMPLE = """\
examples:
  embtable similar out/default war
  embtable similar out/default january france three -k 5
  embtable similar out/default king - man + woman        # an analogy
  embtable similar glove.6B.50d.txt tea --format glove --restrict-vocab 100000
"""

_LOWERCASING_TOKENIZERS = frozenset({"regex"})
"""Tokenizers of :mod:`embtable.text.tokenize` that lower-case every token."""


@dataclass(frozen=True)
class Query:
    """One query of ``embtable similar``: words added (``positive``) and subtracted.

    Example:
        >>> Query(("king", "woman"), ("man",)).label
        'king - man + woman'
    """

    positive: tuple[str, ...]
    negative: tuple[str, ...] = ()
    text: str = ""

    @property
    def label(self) -> str:
        """The query as typed (``king - man + woman``), or its one word."""
        if self.text:
            return self.text
        terms = [self.positive[0]] if self.positive else []
        terms += [f"- {word}" for word in self.negative]
        terms += [f"+ {word}" for word in self.positive[1:]]
        return " ".join(terms)


def parse_queries(words: list[str]) -> list[Query]:
    """Read the command line's words: one query per word, or one analogy if ``+``/``-`` occur.

    Raises:
        OptionError: an operator without a word after it, or two words with no operator
            between them inside an analogy.

    Example:
        >>> [q.label for q in parse_queries(["war", "peace"])]
        ['war', 'peace']
        >>> query, = parse_queries(["king", "-", "man", "+", "woman"])
        >>> query.positive, query.negative
        (('king', 'woman'), ('man',))
    """
    if not any(word in ("+", "-") for word in words):
        return [Query((word,)) for word in words]
    positive: list[str] = []
    negative: list[str] = []
    sign: str | None = "+"  # the first word is added unless a '-' comes first
    for word in words:
        if word in ("+", "-"):
            if sign is not None and (positive or negative):
                raise OptionError(f"two operators in a row in {' '.join(words)!r}")
            sign = word
            continue
        if sign is None:
            raise OptionError(
                f"{word!r} follows another word without '+' or '-' in {' '.join(words)!r}; "
                f"an analogy reads like 'king - man + woman'"
            )
        (positive if sign == "+" else negative).append(word)
        sign = None
    if sign is not None:
        raise OptionError(f"{' '.join(words)!r} ends with an operator; a word must follow it")
    return [Query(tuple(positive), tuple(negative), text=" ".join(words))]


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``similar`` sub-command to ``commands``.

    Example:
        >>> import argparse
        >>> commands = argparse.ArgumentParser(prog="embtable").add_subparsers()
        >>> add_parser(commands)
        >>> args = commands.choices["similar"].parse_args(["table", "king", "-", "man", "-k", "3"])
        >>> args.words, args.k
        (['king', '-', 'man'], 3)
    """
    parser = commands.add_parser(
        "similar",
        help="print the nearest neighbours of words, or solve an analogy",
        description="Print the K nearest neighbours (cosine similarity) of each WORD, or of "
        "an analogy written with + and - (king - man + woman). Words are folded as the "
        "table's tokenizer folds its tokens.",
        epilog=_EXAMPLE,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "directory", metavar="DIR", help="an embtable table directory, or a vectors file"
    )
    parser.add_argument(
        "words", nargs="+", metavar="WORD", help="words to look up, or an analogy (a - b + c)"
    )
    parser.add_argument("-k", type=positive_int, default=10, help="neighbours per query")
    parser.add_argument(
        "--restrict-vocab",
        dest="restrict_vocab",
        type=positive_int,
        default=None,
        metavar="N",
        help="search only the first N rows (the most frequent words of a table in frequency order)",
    )
    add_load_options(parser)
    parser.set_defaults(run=run)


def _table_tokenizer(path: str) -> str | None:
    """The tokenizer named by a table directory's ``config.json``; ``None`` for vector files
    and tables that name none."""
    from embtable.io.tables import CONFIG_FILE

    config_path = os.path.join(path, CONFIG_FILE)
    if not os.path.isfile(config_path):
        return None
    with open(config_path, encoding="utf-8") as handle:
        config = json.load(handle)  # already read once, and checked, by the table loader
    tokenizer = config.get("tokenizer") if isinstance(config, dict) else None
    return tokenizer if isinstance(tokenizer, str) else None


def word_folder(vectors: Vectors, path: str) -> Callable[[str], str]:
    """How to turn a typed word into a token of ``vectors`` (loaded from ``path``).

    A table whose tokenizer lower-cases is searched in lower case, one whose tokenizer keeps
    case as typed; a vectors file, or a table that names no tokenizer, as typed or in lower
    case (with a note on standard error) when only that is present.

    Example:
        >>> import numpy as np
        >>> from embtable.vectors import Vectors
        >>> fold = word_folder(Vectors(["war", "USA"], np.eye(2)), "vectors.txt")
        >>> fold("USA"), fold("War")
        ('USA', 'war')
    """
    tokenizer = _table_tokenizer(path) if os.path.isdir(path) else None
    if tokenizer is not None:
        return str.lower if tokenizer in _LOWERCASING_TOKENIZERS else str

    def fold(word: str) -> str:
        if word in vectors:
            return word
        lowered = word.lower()
        if lowered != word and lowered in vectors:
            print(
                f"embtable: note: {word!r} is not in the table; using {lowered!r}", file=sys.stderr
            )
            return lowered
        return word

    return fold


def run(args: argparse.Namespace) -> int:
    """Print the neighbours of each query; return 1 if any query failed, else 0.

    Example:
        >>> import tempfile, numpy as np
        >>> from embtable.cli.__main__ import main
        >>> from embtable.vectors import Vectors
        >>> tmp = tempfile.TemporaryDirectory()
        >>> Vectors(["a", "b", "ab"], np.array([[1.0, 0], [0, 1], [1, 1]])).save(
        ...     tmp.name + "/t", format="embtable", config={"tokenizer": "regex"})
        >>> main(["similar", tmp.name + "/t", "A", "-k", "1"])  # folded to 'a'
        A:
           0.7071  ab
        0
        >>> tmp.cleanup()
    """
    # a lone '+' or '-' is no analogy: it is looked up when the table has it as a token
    lone = len(args.words) == 1 and args.words[0] in ("+", "-")
    queries = [] if lone else parse_queries(args.words)  # syntax errors before the long load
    vectors = load_vectors(args.directory, args.format, **load_options(args))
    if lone:
        queries = (
            [Query((args.words[0],))] if args.words[0] in vectors else parse_queries(args.words)
        )
    fold = word_folder(vectors, args.directory)
    failed = 0
    printed = 0
    for query in queries:
        positive = [fold(word) for word in query.positive]
        negative = [fold(word) for word in query.negative]
        from_subwords = getattr(vectors, "has_subwords", False)  # a fastText model
        unknown = [
            word for word in positive + negative if word not in vectors and not from_subwords
        ]
        if unknown:
            failed += 1
            listed = ", ".join(repr(word) for word in unknown)
            fail(f"{listed} not in the vocabulary of {args.directory} ({len(vectors):,} words)")
            continue
        try:
            found = vectors.most_similar(
                positive=positive,
                negative=negative,
                topn=args.k,
                restrict_vocab=args.restrict_vocab,
            )
        except EmbtableError as err:  # e.g. a word whose vector is zero or NaN
            failed += 1
            hint = str(err).replace("Vectors.check() lists", "embtable info --check counts")
            fail(f"{query.label}: {hint}")
            continue
        if printed:
            print()
        printed += 1
        unseen = [word for word in positive + negative if word not in vectors]
        notes = [
            f"{word!r} not in the vocabulary: from {len(vectors.subword_rows(word))} "
            f"character n-grams"
            for word in unseen
        ]
        print(f"{query.label}:" + (f"  ({'; '.join(notes)})" if notes else ""))
        for neighbour, score in found:
            print(f"  {score:7.4f}  {neighbour}")
        if not found:  # every searched row is a query word (or not finite)
            searched = len(vectors) if args.restrict_vocab is None else args.restrict_vocab
            print(
                f"embtable: note: {query.label}: no neighbours among the first "
                f"{min(searched, len(vectors)):,} rows other than the query's words",
                file=sys.stderr,
            )
    return 1 if failed else 0
