"""Intrinsic evaluation of word vectors: word-pair similarity and word analogies.

Both functions reproduce gensim's ``KeyedVectors.evaluate_word_pairs`` and
``evaluate_word_analogies`` (gensim 4.x) rule for rule, so their figures can be compared:

* only the first ``restrict_vocab`` tokens of the vectors count as known;
* with ``case_insensitive=True`` tokens and test words are upper-cased (:meth:`str.upper`), and
  among case variants of a token the first one in table order wins;
* a pair or question with an unknown word is skipped and counted as out-of-vocabulary; with
  ``dummy4unknown=True`` it is kept instead, with similarity 0 or as a wrong answer;
* word pairs: Spearman (average ranks for ties) and Pearson correlation of the file's scores
  with the cosine similarities; lines starting with ``#`` are comments;
* analogies ``a b c d``: 3CosAdd over the first ``restrict_vocab`` rows, ranked by the cosine
  with the normalised mean of ``b̂``, ``ĉ`` and ``-â``; the five best rows other than the
  rows of ``a``, ``b``, ``c`` are scanned for the first one that is not a case variant of them,
  and the question counts as correct when it is ``d``.

The analogy search is gensim's arithmetic done faster: the questions go through blocked matrix
products against the rows, and since only the best answer counts, each question keeps its
running best row (its own three rows masked) instead of sorting candidates; only a question
whose best row is a case variant of one of its words goes through gensim's five-candidate
scan. Rows with NaN or inf are never answers (nor are zero rows: gensim's cosine is NaN
there), and a question that uses such a row counts as wrong; a word pair that uses one
gives NaN correlations, as scipy and gensim do.

Lines that do not parse (not 3 fields with a number, or not 4 words) are skipped, like
gensim does, and listed in the result's ``skipped_lines`` rather than only logged.

Out-of-vocabulary ratios are fractions in ``[0, 1]``; gensim reports the same in percent.

Example:
    >>> vectors = Vectors(["man", "woman", "king", "queen"],
    ...                   np.array([[1.0, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1]]))
    >>> result = evaluate_analogies(vectors)  # the bundled Google set
    >>> result.correct, result.incorrect, result.sections[1].name
    (2, 0, 'capital-world')

Without a ``path`` the data sets bundled in ``embtable/data/eval`` are used: WordSim-353
(``"wordsim353.tsv"``) for pairs and the Google analogy set (``"questions-words.txt"``);
``"simlex999.txt"`` is bundled too (see :func:`bundled_path`, which also takes the short names
``"wordsim353"``, ``"simlex"`` and ``"google"``).
"""

from __future__ import annotations

import contextlib
import importlib.resources
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._errors import OptionError, OptionTypeError, ShapeError, VectorFormatError
from .io._open import iter_text_lines
from .vectors import Vectors

__all__ = [
    "BUNDLED_DATASETS",
    "BUNDLED_NAMES",
    "AnalogyResult",
    "AnalogySection",
    "WordPairsResult",
    "bundled_path",
    "evaluate_analogies",
    "evaluate_word_pairs",
    "pearson",
    "spearman",
]

#: Evaluation sets shipped in ``embtable/data/eval``.
BUNDLED_DATASETS = ("wordsim353.tsv", "simlex999.txt", "questions-words.txt")
#: Short names of the bundled sets, as the command line's ``--pairs``/``--analogies`` take them.
BUNDLED_NAMES = {
    "wordsim353": "wordsim353.tsv",
    "simlex": "simlex999.txt",
    "simlex999": "simlex999.txt",
    "google": "questions-words.txt",
}
_TOPN = 5  # gensim's evaluate_word_analogies asks most_similar for 5 answers
_QUESTION_BLOCK = 256  # questions per matrix product in the analogy search
_ROW_CHUNK = 8192  # rows per matrix product (a block's scores stay in cache)


@contextlib.contextmanager
def bundled_path(name: str) -> Iterator[str]:
    """A context manager giving a filesystem path to a bundled evaluation set.

    Args:
        name: a file name of :data:`BUNDLED_DATASETS` or a short name of
            :data:`BUNDLED_NAMES` (``"simlex"``).

    Raises:
        OptionError: ``name`` is neither (a ``ValueError``).

    Example:
        >>> with bundled_path("wordsim353.tsv") as path, open(path, encoding="utf-8") as f:
        ...     print(f.readline().strip())
        # The WordSimilarity-353 Test Collection (http://www.cs.technion.ac.il/~gabr/resources/data/wordsim353/)
    """
    name = BUNDLED_NAMES.get(name, name)
    if name not in BUNDLED_DATASETS:
        raise OptionError(
            f"no bundled evaluation set {name!r}; bundled: {', '.join(BUNDLED_DATASETS)} "
            f"(short names: {', '.join(BUNDLED_NAMES)})"
        )
    resource = importlib.resources.files("embtable").joinpath("data", "eval", name)
    with importlib.resources.as_file(resource) as path:
        yield os.fspath(path)


@contextlib.contextmanager
def _resolve(path: str | os.PathLike[str] | None, default: str) -> Iterator[str]:
    if path is None:
        with bundled_path(default) as bundled:
            yield bundled
    else:
        yield os.fspath(path)


# -- statistics -------------------------------------------------------------------------------


def _rank_average(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Ranks 1..n, tied values sharing the average of their ranks."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_values[1:] != sorted_values[:-1])))
    ends = np.append(starts[1:], values.size)  # exclusive
    average = (starts + ends + 1) / 2.0  # mean of ranks starts+1 .. ends
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat(average, ends - starts)
    return ranks


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta ``I_x(a, b)`` (continued fraction, Numerical Recipes 6.4)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x > (a + 1.0) / (a + b + 2.0):
        return 1.0 - _betainc(b, a, 1.0 - x)
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    fraction = d
    for m in range(1, 10000):
        m2 = 2 * m
        for numerator in (
            m * (b - m) * x / ((a + m2 - 1.0) * (a + m2)),
            -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            fraction *= c * d
        if abs(c * d - 1.0) < 1e-16:
            break
    return math.exp(log_front) * fraction / a


def _t_two_sided(t: float, df: int) -> float:
    """Two-sided p-value of Student's t with ``df`` degrees of freedom."""
    if math.isinf(t):
        return 0.0
    return _betainc(df / 2.0, 0.5, df / (df + t * t))


def _pearson_r(x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    """Pearson's r as ``scipy.stats.pearsonr`` computes it (normalise, then dot); NaN when an
    input is not finite (never clamped into ``[-1, 1]``)."""
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        return math.nan
    xm = x - x.mean()
    ym = y - y.mean()
    norm_x, norm_y = np.linalg.norm(xm), np.linalg.norm(ym)
    if norm_x == 0 or norm_y == 0:
        return math.nan
    return float(np.clip(np.dot(xm / norm_x, ym / norm_y), -1.0, 1.0))


def _corrcoef(x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    """Correlation as ``numpy.corrcoef`` (what ``scipy.stats.spearmanr`` uses on ranks)."""
    if np.all(x == x[0]) or np.all(y == y[0]):
        return math.nan
    return float(np.clip(np.corrcoef(x, y)[0, 1], -1.0, 1.0))


def pearson(x: ArrayLike, y: ArrayLike) -> tuple[float, float]:
    """Pearson correlation and its two-sided p-value (as ``scipy.stats.pearsonr``).

    Returns ``(nan, nan)`` when either input is constant or holds a NaN or an infinity (as
    scipy); the p-value is ``nan`` below 3 points.

    Raises:
        ShapeError: inputs of other lengths or fewer than 2 values (a ``ValueError``).

    Example:
        >>> r, p = pearson([1, 2, 3, 4], [1, 3, 2, 5])
        >>> round(r, 6), round(p, 6)
        (0.831522, 0.168478)
    """
    xs, ys = _pair(x, y)
    r = _pearson_r(xs, ys)
    n = xs.size
    if math.isnan(r) or n < 3:
        return r, math.nan
    if abs(r) == 1.0:
        return r, 0.0
    half = n / 2.0 - 1.0
    return r, min(1.0, 2.0 * _betainc(half, half, (1.0 - abs(r)) / 2.0))


def spearman(x: ArrayLike, y: ArrayLike) -> tuple[float, float]:
    """Spearman rank correlation (average ranks for ties) and its two-sided p-value.

    The p-value is the t-approximation with ``n - 2`` degrees of freedom, as
    ``scipy.stats.spearmanr``. Returns ``(nan, nan)`` when either input is constant or holds a
    NaN (scipy's default ``nan_policy="propagate"``); infinities rank like other numbers.

    Raises:
        ShapeError: inputs of other lengths or fewer than 2 values (a ``ValueError``).

    Example:
        >>> rho, p = spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7])
        >>> round(rho, 6), round(p, 6)
        (0.820783, 0.088587)
    """
    xs, ys = _pair(x, y)
    if np.isnan(xs).any() or np.isnan(ys).any():
        return math.nan, math.nan
    rho = _corrcoef(_rank_average(xs), _rank_average(ys))
    n = xs.size
    if math.isnan(rho) or n < 3:
        return rho, math.nan
    if abs(rho) == 1.0:
        return rho, 0.0
    t = rho * math.sqrt((n - 2) / ((rho + 1.0) * (1.0 - rho)))
    return rho, _t_two_sided(abs(t), n - 2)


def _pair(x: ArrayLike, y: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    xs = np.asarray(x, dtype=np.float64).reshape(-1)
    ys = np.asarray(y, dtype=np.float64).reshape(-1)
    if xs.size != ys.size or xs.size < 2:
        raise ShapeError(
            f"need two sequences of equal length >= 2, got lengths {xs.size} and {ys.size}"
        )
    return xs, ys


# -- shared vocabulary rule ---------------------------------------------------------------------


def _searched(vectors: Vectors, restrict_vocab: int | None) -> int:
    """How many rows count as known: the first ``restrict_vocab``, or all for ``None`` (as
    gensim's ``index_to_key[:restrict_vocab]``)."""
    if restrict_vocab is None:
        return len(vectors)
    message = f"restrict_vocab must be None or an integer >= 1, got {restrict_vocab!r}"
    if isinstance(restrict_vocab, bool) or not isinstance(restrict_vocab, (int, np.integer)):
        raise OptionTypeError(message)
    if restrict_vocab < 1:
        raise OptionError(message)
    return min(int(restrict_vocab), len(vectors))


def _known(vectors: Vectors, searched: int, case_insensitive: bool) -> dict[str, int]:
    """gensim's ``ok_vocab``: the first ``searched`` tokens; first case variant wins."""
    tokens = vectors.tokens[:searched]
    # built from the last row to the first, so that the first case variant wins
    keys = map(str.upper, reversed(tokens)) if case_insensitive else reversed(tokens)
    return dict(zip(keys, range(len(tokens) - 1, -1, -1), strict=True))


class _GensimUnit:
    """Rows normalised as gensim's ``matutils.unitvec`` does: in float64, then cast back.

    Cosines then round as gensim's do, which matters for tables of nearly parallel vectors.
    """

    def __init__(self, matrix: NDArray[np.floating]) -> None:
        self._matrix = matrix
        self._rows: dict[int, NDArray[np.floating]] = {}

    def __getitem__(self, row: int) -> NDArray[np.floating]:
        unit = self._rows.get(row)
        if unit is None:
            unit = _unitvec(self._matrix[row])
            self._rows[row] = unit
        return unit


def _unitvec(vector: NDArray[np.floating]) -> NDArray[np.floating]:
    wide = vector.astype(np.float64)
    norm = np.linalg.norm(wide)
    if norm > 0:
        wide = wide * (1.0 / norm)
    return wide.astype(vector.dtype)


def _others(skipped: int) -> str:
    """How many more lines failed as the first did, for an error message."""
    if skipped <= 1:
        return ""
    return f" (nor are {skipped - 1} more line{'s' if skipped > 2 else ''})"


# -- word pairs -------------------------------------------------------------------------------


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class WordPairsResult:
    """Result of :func:`evaluate_word_pairs`.

    Attributes:
        pearson, pearson_pvalue: Pearson's r and its two-sided p-value.
        spearman, spearman_pvalue: Spearman's rho and its two-sided p-value.
        oov_ratio: share of pairs with an unknown word, in ``[0, 1]`` (gensim: percent).
        pairs: pairs that entered the correlations (including dummies).
        oov: pairs with an unknown word.
        skipped_lines: 1-based numbers of lines that did not parse.

    Example:
        >>> WordPairsResult(0.5, 0.01, 0.4, 0.02, 0.25, 3, 1, ()).oov_ratio
        0.25
    """

    pearson: float
    pearson_pvalue: float
    spearman: float
    spearman_pvalue: float
    oov_ratio: float
    pairs: int
    oov: int
    skipped_lines: tuple[int, ...]


def evaluate_word_pairs(
    vectors: Vectors,
    path: str | os.PathLike[str] | None = None,
    *,
    delimiter: str | None = "\t",
    encoding: str = "utf-8",
    case_insensitive: bool = True,
    restrict_vocab: int | None = 300000,
    dummy4unknown: bool = False,
) -> WordPairsResult:
    """Correlate cosine similarities with human judgements (``word1<TAB>word2<TAB>score``).

    A pair that uses a row with NaN or inf makes both correlations NaN (as gensim and scipy),
    so a diverged model never scores well; :meth:`Vectors.check` lists such rows.

    Args:
        vectors: the vectors to evaluate.
        path: the pairs file; ``None`` uses the bundled WordSim-353.
        delimiter: field separator; ``None`` splits on any run of whitespace (e.g. MEN).
        encoding: the file's encoding.
        case_insensitive: compare upper-cased words (see the module docstring).
        restrict_vocab: only the first ``restrict_vocab`` tokens count as known (``None``:
            all).
        dummy4unknown: keep pairs with unknown words, with similarity 0.

    Raises:
        VectorFormatError: no usable pair in the file (naming its first line that did not
            parse); text that is not valid ``encoding`` (naming the file and line); a
            truncated or corrupt gzip/bzip2 file.

    Example:
        >>> vectors = Vectors(
        ...     ["tiger", "cat", "car", "automobile", "money", "cash", "bank"],
        ...     np.array([[1.0, 0.1], [0.9, 0.3], [0.1, 1], [0.2, 0.9], [-1, 0.2], [-0.9, 0.4],
        ...               [-0.5, 0.6]], dtype=np.float32),
        ... )
        >>> result = evaluate_word_pairs(vectors)  # the bundled WordSim-353
        >>> result.pairs, result.oov, round(result.spearman, 6), round(result.pearson, 6)
        (7, 346, 0.763763, 0.395575)
    """
    searched = _searched(vectors, restrict_vocab)
    known = _known(vectors, searched, case_insensitive)
    unit = _GensimUnit(vectors.matrix)
    gold: list[float] = []
    model: list[float] = []
    oov = 0
    skipped: list[int] = []
    first_skipped = ""
    with _resolve(path, "wordsim353.tsv") as file:
        for line_no, line in enumerate(iter_text_lines(file, encoding=encoding), start=1):
            if line.startswith("#"):
                continue
            fields = line.split(delimiter)
            value = _number(fields[2]) if len(fields) == 3 else None
            if value is None:
                if not skipped:
                    first_skipped = line.rstrip("\r\n")
                skipped.append(line_no)
                continue
            a, b = fields[0], fields[1]
            if case_insensitive:
                a, b = a.upper(), b.upper()
            row_a, row_b = known.get(a), known.get(b)
            if row_a is None or row_b is None:
                oov += 1
                if dummy4unknown:
                    gold.append(value)
                    model.append(0.0)
                continue
            gold.append(value)
            model.append(float(np.dot(unit[row_a], unit[row_b])))
    if not gold:
        separator = "whitespace" if delimiter is None else repr(delimiter)
        name = os.path.basename(file)
        if not skipped:
            raise VectorFormatError(
                f"{name}: no usable word pair: no pair in the file"
                if not oov
                else f"{name}: no usable word pair: all {oov} pairs have a word outside the "
                f"first {searched:,} tokens of the vectors"
            )
        hint = (
            ""
            if delimiter is None
            else "; for space-separated files pass delimiter=None "
            "(on the command line --delimiter whitespace)"
        )
        unknown = f"; {oov} pairs had unknown words" if oov else ""
        raise VectorFormatError(
            f"{name}:{skipped[0]}: no usable word pair: {first_skipped[:80]!r} is not word, "
            f"word, number separated by {separator}{_others(len(skipped))}{unknown}{hint}"
        )
    r, r_p = pearson(gold, model) if len(gold) > 1 else (math.nan, math.nan)
    rho, rho_p = spearman(gold, model) if len(gold) > 1 else (math.nan, math.nan)
    total = len(gold) if dummy4unknown else len(gold) + oov
    return WordPairsResult(
        pearson=r,
        pearson_pvalue=r_p,
        spearman=rho,
        spearman_pvalue=rho_p,
        oov_ratio=oov / total,
        pairs=len(gold),
        oov=oov,
        skipped_lines=tuple(skipped),
    )


# -- analogies --------------------------------------------------------------------------------

Quadruplet = tuple[str, str, str, str]


@dataclass(frozen=True)
class AnalogySection:
    """Results of one ``: section`` of an analogy file (words as compared, e.g. upper-cased).

    Example:
        >>> AnalogySection("family", (("A", "B", "C", "D"),), (("A", "B", "E", "F"),)).accuracy
        0.5
    """

    name: str
    correct: tuple[Quadruplet, ...]
    incorrect: tuple[Quadruplet, ...]

    @property
    def accuracy(self) -> float:
        """``correct / (correct + incorrect)``, 0.0 for a section without questions.

        Example:
            >>> AnalogySection("empty", (), ()).accuracy
            0.0
        """
        answered = len(self.correct) + len(self.incorrect)
        return len(self.correct) / answered if answered else 0.0


@dataclass(frozen=True)
class AnalogyResult:
    """Result of :func:`evaluate_analogies`.

    Attributes:
        accuracy: overall share of correct answers (0.0 when nothing was answered).
        sections: per-section results, in file order.
        questions: well-formed questions in the file.
        oov: questions with an unknown word.
        oov_ratio: ``oov / questions`` (gensim: percent).
        skipped_lines: 1-based numbers of lines that are not 4 words.

    Example:
        >>> section = AnalogySection("family", (("A", "B", "C", "D"),), ())
        >>> result = AnalogyResult(1.0, (section,), 3, 2, 2 / 3, ())
        >>> result.correct, result.incorrect
        (1, 0)
    """

    accuracy: float
    sections: tuple[AnalogySection, ...]
    questions: int
    oov: int
    oov_ratio: float
    skipped_lines: tuple[int, ...]

    @property
    def correct(self) -> int:
        """Correct answers over all sections.

        Example:
            >>> AnalogyResult(0.0, (), 0, 0, 0.0, ()).correct
            0
        """
        return sum(len(s.correct) for s in self.sections)

    @property
    def incorrect(self) -> int:
        """Wrong answers over all sections.

        Example:
            >>> AnalogyResult(0.0, (), 0, 0, 0.0, ()).incorrect
            0
        """
        return sum(len(s.incorrect) for s in self.sections)


def evaluate_analogies(
    vectors: Vectors,
    path: str | os.PathLike[str] | None = None,
    *,
    restrict_vocab: int | None = 300000,
    case_insensitive: bool = True,
    dummy4unknown: bool = False,
    encoding: str = "utf-8",
) -> AnalogyResult:
    """Accuracy on ``a b c d`` analogy questions grouped by ``: section`` lines (3CosAdd).

    Args:
        vectors: the vectors to evaluate.
        path: the questions file; ``None`` uses the bundled Google analogy set.
        restrict_vocab: only the first ``restrict_vocab`` rows are known and searched
            (``None``: all).
        case_insensitive: compare upper-cased words (see the module docstring).
        dummy4unknown: count questions with unknown words as wrong instead of skipping them.
        encoding: the file's encoding.

    Raises:
        VectorFormatError: a question before the first section line, or no question at all
            (naming the first line that is not 4 words); text that is not valid ``encoding``
            (naming the file and line); a truncated or corrupt gzip/bzip2 file.

    Example:
        >>> vectors = Vectors(
        ...     ["Athens", "Greece", "Baghdad", "Iraq", "banana"],
        ...     np.array([[1.0, 0, 0.1], [1, 1, 0.1], [0, 0, 1], [0.1, 1, 1], [0.3, 0.1, 0.3]]),
        ... )
        >>> result = evaluate_analogies(vectors)
        >>> result.accuracy, result.correct, result.questions, result.oov
        (1.0, 3, 19544, 19541)
        >>> result.sections[0].name, result.sections[0].correct
        ('capital-common-countries', (('ATHENS', 'GREECE', 'BAGHDAD', 'IRAQ'), ('BAGHDAD', 'IRAQ', 'ATHENS', 'GREECE')))
    """
    searched = _searched(vectors, restrict_vocab)
    known = _known(vectors, searched, case_insensitive)
    names: list[str] = []
    questions: list[tuple[int, Quadruplet]] = []  # (section index, words)
    skipped: list[int] = []
    with _resolve(path, "questions-words.txt") as file:
        for line_no, line in enumerate(iter_text_lines(file, encoding=encoding), start=1):
            if line.startswith(": "):
                names.append(line.lstrip(": ").strip())
                continue
            if not names:
                raise VectorFormatError(
                    f"{os.path.basename(file)}:{line_no}: a question before the first "
                    f"': section' line"
                )
            words = line.split()
            if len(words) != 4:
                skipped.append(line_no)
                continue
            if case_insensitive:
                words = [word.upper() for word in words]
            questions.append((len(names) - 1, (words[0], words[1], words[2], words[3])))
    if not questions:
        name = os.path.basename(file)
        if skipped:
            raise VectorFormatError(
                f"{name}:{skipped[0]}: no analogy question found: the line is not 4 words"
                f"{_others(len(skipped))}"
            )
        raise VectorFormatError(f"{name}: no analogy question found")

    answerable = [
        index for index, (_, words) in enumerate(questions) if all(word in known for word in words)
    ]
    verdicts = np.zeros(len(questions), dtype=bool)
    if answerable:
        rows = np.array(
            [[known[word] for word in questions[i][1][:3]] for i in answerable], dtype=np.int64
        )
        verdicts[answerable] = _answer_analogies(
            vectors,
            rows,
            [questions[i][1] for i in answerable],
            searched,
            case_insensitive,
        )
    answerable_set = set(answerable)
    correct: list[list[Quadruplet]] = [[] for _ in names]
    incorrect: list[list[Quadruplet]] = [[] for _ in names]
    oov = 0
    for index, (section, words) in enumerate(questions):
        if index not in answerable_set:
            oov += 1
            if dummy4unknown:
                incorrect[section].append(words)
        elif verdicts[index]:
            correct[section].append(words)
        else:
            incorrect[section].append(words)
    sections = tuple(
        AnalogySection(name, tuple(good), tuple(bad))
        for name, good, bad in zip(names, correct, incorrect, strict=True)
    )
    n_correct = sum(len(s.correct) for s in sections)
    n_answered = n_correct + sum(len(s.incorrect) for s in sections)
    return AnalogyResult(
        accuracy=n_correct / n_answered if n_answered else 0.0,
        sections=sections,
        questions=len(questions),
        oov=oov,
        oov_ratio=oov / len(questions),
        skipped_lines=tuple(skipped),
    )


class _AnalogySearch:
    """gensim's 3CosAdd arithmetic over the first ``searched`` rows of a table.

    Scores are ``(row · mean) / |row|`` in the table's dtype, as gensim's ``most_similar``
    computes them (``mean`` normalised in float64, then cast); rows that are not finite or
    zero never win.
    """

    def __init__(self, vectors: Vectors, searched: int) -> None:
        self.matrix = vectors.matrix[:searched]
        dtype = self.matrix.dtype
        with np.errstate(over="ignore", invalid="ignore"):
            norms = np.linalg.norm(self.matrix, axis=1)  # in the table's dtype, as gensim
        finite = np.isfinite(norms)
        self.skip = np.flatnonzero(~finite | (norms == 0))
        self.norms = np.where(finite & (norms > 0), norms, dtype.type(1)).astype(dtype)
        self.question_norms = norms

    def means(self, rows: NDArray[np.int64]) -> tuple[NDArray[np.floating], NDArray[np.bool_]]:
        """The unit query of each question ``(a, b, c)`` and whether it is finite."""
        dtype = self.matrix.dtype
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            unit = self.matrix[rows] / self.question_norms[rows][..., None]  # (Q, 3, D)
            # gensim: mean = ((0 + b̂) + ĉ) - â in the table's dtype, / 3 in float64, unitvec
            wide = ((unit[:, 1] + unit[:, 2]) - unit[:, 0]).astype(np.float64) / 3.0
            lengths = np.linalg.norm(wide, axis=1)
        usable = np.isfinite(lengths)
        lengths[~usable | (lengths == 0)] = 1  # gensim's unitvec leaves a zero mean as it is
        wide[~usable] = 0
        return (wide * (1.0 / lengths)[:, None]).astype(dtype), usable

    def best(self, means: NDArray[np.floating], rows: NDArray[np.int64]) -> NDArray[np.int64]:
        """The best row of each question other than its own three (lowest row on ties)."""
        searched = self.matrix.shape[0]
        best = np.full(len(means), -1, dtype=np.int64)
        for begin in range(0, len(means), _QUESTION_BLOCK):
            block = means[begin : begin + _QUESTION_BLOCK]
            own = rows[begin : begin + _QUESTION_BLOCK]
            count = len(block)
            top = np.full(count, -np.inf, dtype=self.matrix.dtype)
            top_row = best[begin : begin + count]
            lines = np.arange(count)
            for start in range(0, searched, _ROW_CHUNK):
                stop = min(start + _ROW_CHUNK, searched)
                scores = block @ self.matrix[start:stop].T
                scores /= self.norms[start:stop]
                skip = self.skip[(self.skip >= start) & (self.skip < stop)]
                scores[:, skip - start] = -np.inf
                question, column = np.nonzero((own >= start) & (own < stop))
                scores[question, own[question, column] - start] = -np.inf
                winner = scores.argmax(axis=1)
                value = scores[lines, winner]
                better = value > top
                top[better] = value[better]
                top_row[better] = winner[better] + start
        return best

    def candidates(self, means: NDArray[np.floating], wanted: int) -> list[list[int]]:
        """The best ``wanted`` rows of each question, best first (gensim's ``argsort``)."""
        searched = self.matrix.shape[0]
        result: list[list[int]] = []
        batch = max(1, (1 << 22) // max(1, searched))
        for begin in range(0, len(means), batch):
            scores = (self.matrix @ means[begin : begin + batch].T) / self.norms[:, None]
            scores[self.skip] = -np.inf
            if wanted < searched:
                top = np.argpartition(-scores, wanted, axis=0)[:wanted]
            else:
                top = np.broadcast_to(np.arange(searched)[:, None], scores.shape)
            for column in range(scores.shape[1]):
                rows = top[:, column]
                order = np.argsort(-scores[rows, column], kind="stable")
                result.append(rows[order].tolist())
        return result


def _answer_analogies(
    vectors: Vectors,
    rows: NDArray[np.int64],
    questions: list[Quadruplet],
    searched: int,
    case_insensitive: bool,
) -> NDArray[np.bool_]:
    """Whether gensim's ``evaluate_word_analogies`` answers each question right.

    gensim takes the 5 best rows other than the question's own and answers with the first
    that is not a case variant of ``a``, ``b`` or ``c`` (else the 5th). The best row decides
    unless it is such a variant; only those questions are scanned as gensim does.
    """
    search = _AnalogySearch(vectors, searched)
    means, usable = search.means(rows)
    best = search.best(means, rows)
    tokens = vectors.tokens
    verdicts = np.zeros(len(questions), dtype=bool)
    rescan: list[int] = []
    for index, (a, b, c, expected) in enumerate(questions):
        if not usable[index] or best[index] < 0:
            continue  # a question with a NaN word, or nothing to answer: wrong
        predicted = tokens[best[index]].upper() if case_insensitive else tokens[best[index]]
        if predicted in (a, b, c):
            rescan.append(index)
        else:
            verdicts[index] = predicted == expected
    if rescan:
        lists = search.candidates(means[rescan], _TOPN + 3)
        for index, candidates in zip(rescan, lists, strict=True):
            a, b, c, expected = questions[index]
            own = rows[index].tolist()
            predicted = None
            for row in [r for r in candidates if r not in own][:_TOPN]:
                predicted = tokens[row].upper() if case_insensitive else tokens[row]
                if predicted not in (a, b, c):
                    break
            verdicts[index] = predicted == expected
    return verdicts
