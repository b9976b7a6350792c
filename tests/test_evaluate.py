from __future__ import annotations

import math
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from embtable import VectorFormatError
from embtable._errors import OptionError
from embtable.evaluate import (
    bundled_path,
    evaluate_analogies,
    evaluate_word_pairs,
    pearson,
    spearman,
)
from embtable.vectors import Vectors

DATA = Path(__file__).parent / "data"
EVAL = Path(__file__).parents[1] / "src" / "embtable" / "data" / "eval"
SHIPPED = ["word2vec_pre_kv_c", "euclidean_vectors.bin", "test_glove.txt"]


def _keyed(name):
    KeyedVectors = pytest.importorskip("gensim.models").KeyedVectors  # noqa: N806
    vectors = Vectors.load(DATA / name)
    keyed = KeyedVectors(vectors.dim)
    keyed.add_vectors(vectors.tokens, vectors.matrix)
    return vectors, keyed


def test_statistics_against_hand_values() -> None:
    assert spearman([1, 2, 3], [3, 2, 1]) == (-1.0, 0.0)
    rho, _ = spearman([1, 2, 2, 3], [1, 3, 3, 2])  # ties get average ranks
    assert rho == pytest.approx(1 / 3)
    r, p = pearson([1, 2, 3, 4], [2, 4, 6, 9])
    assert r == pytest.approx(11.5 / np.sqrt(5 * 26.75)) and 0 < p < 0.01
    assert all(math.isnan(v) for v in pearson([1, 1, 1], [1, 2, 3]))
    with pytest.raises(
        ValueError, match=re.escape("need two sequences of equal length >= 2, got lengths 2 and 3")
    ):
        pearson([1, 2], [1, 2, 3])


def test_statistics_against_scipy(rng) -> None:
    stats = pytest.importorskip("scipy.stats")
    for n in (3, 5, 30, 353):
        x = rng.normal(size=n)
        y = x + rng.normal(size=n)
        y[: n // 3] = np.round(y[: n // 3])  # some ties
        ours_r, ours_p = pearson(x, y)
        theirs = stats.pearsonr(x, y)
        assert ours_r == pytest.approx(theirs[0], abs=1e-12)
        assert ours_p == pytest.approx(theirs[1], abs=1e-10)
        ours_rho, ours_p = spearman(x, y)
        theirs = stats.spearmanr(x, y)
        assert ours_rho == pytest.approx(theirs[0], abs=1e-12)
        assert ours_p == pytest.approx(theirs[1], abs=1e-10)


@pytest.mark.parametrize("name", SHIPPED[:2])
@pytest.mark.parametrize("dataset", ["wordsim353.tsv", "simlex999.txt"])
@pytest.mark.parametrize("restrict_vocab", [300000, 500])
@pytest.mark.parametrize("case_insensitive", [True, False])
@pytest.mark.parametrize("dummy4unknown", [False, True])
def test_word_pairs_equal_gensim(
    name, dataset, restrict_vocab, case_insensitive, dummy4unknown
) -> None:
    vectors, keyed = _keyed(name)
    options = dict(
        restrict_vocab=restrict_vocab,
        case_insensitive=case_insensitive,
        dummy4unknown=dummy4unknown,
    )
    (r, r_p), (rho, rho_p), oov_percent = keyed.evaluate_word_pairs(EVAL / dataset, **options)
    ours = evaluate_word_pairs(vectors, EVAL / dataset, **options)
    assert ours.pearson == pytest.approx(r, abs=1e-6)
    assert ours.spearman == pytest.approx(rho, abs=1e-6)
    assert ours.pearson_pvalue == pytest.approx(r_p, abs=1e-6)
    assert ours.spearman_pvalue == pytest.approx(rho_p, abs=1e-6)
    assert ours.oov_ratio * 100 == pytest.approx(oov_percent, abs=1e-9)
    assert ours.skipped_lines == ()


@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.parametrize("restrict_vocab", [300000, 500])
@pytest.mark.parametrize("case_insensitive", [True, False])
@pytest.mark.parametrize("dummy4unknown", [False, True])
def test_analogies_equal_gensim(name, restrict_vocab, case_insensitive, dummy4unknown) -> None:
    vectors, keyed = _keyed(name)
    options = dict(
        restrict_vocab=restrict_vocab,
        case_insensitive=case_insensitive,
        dummy4unknown=dummy4unknown,
    )
    score, sections = keyed.evaluate_word_analogies(EVAL / "questions-words.txt", **options)
    ours = evaluate_analogies(vectors, **options)  # the bundled file is the same
    assert ours.accuracy == pytest.approx(score, abs=1e-3)
    assert [s.name for s in ours.sections] == [s["section"] for s in sections[:-1]]
    assert [len(s.correct) for s in ours.sections] == [len(s["correct"]) for s in sections[:-1]]
    assert [len(s.incorrect) for s in ours.sections] == [len(s["incorrect"]) for s in sections[:-1]]
    assert ours.questions == 19544


def test_analogies_of_a_hand_made_table_are_right(tmp_path) -> None:
    path = tmp_path / "q.txt"
    path.write_text(
        ": family\nman king woman queen\nman king woman girl\nbroken line\n: other\nman woman king queen\n"
    )
    vectors = Vectors(
        ["man", "woman", "king", "queen", "girl"],
        np.array([[1.0, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1], [0.2, 1, -1]]),
    )
    result = evaluate_analogies(vectors, path)
    assert [s.name for s in result.sections] == ["family", "other"]
    assert result.sections[0].correct == (("MAN", "KING", "WOMAN", "QUEEN"),)
    assert result.sections[0].accuracy == 0.5 and result.sections[1].accuracy == 1.0
    assert result.accuracy == pytest.approx(2 / 3)
    assert result.skipped_lines == (4,)
    assert (result.correct, result.incorrect, result.oov) == (2, 1, 0)


def test_word_pairs_skips_and_reports_bad_lines(tmp_path) -> None:
    path = tmp_path / "pairs.tsv"
    path.write_text("# comment\na\tb\t1.0\na\tc\t2\nheader\tline\tscore\nb\tc\t3.5\nb\tzz\t1\n")
    vectors = Vectors(["a", "b", "c"], np.array([[1.0, 0], [1, 1], [0, 1]]))
    result = evaluate_word_pairs(vectors, path)
    assert result.skipped_lines == (4,)
    assert (result.pairs, result.oov, result.oov_ratio) == (3, 1, 0.25)


def test_error_paths(tmp_path) -> None:
    vectors = Vectors(["a"], np.ones((1, 2)))
    empty = tmp_path / "pairs.tsv"
    empty.write_text("x\ty\t1\n")
    with pytest.raises(
        VectorFormatError,
        match=re.escape(
            "pairs.tsv: no usable word pair: all 1 pairs have a word outside the first 1 tokens"
        ),
    ):
        evaluate_word_pairs(vectors, empty)
    empty.write_text("# only a comment\n")
    with pytest.raises(
        VectorFormatError, match=re.escape("pairs.tsv: no usable word pair: no pair in the file")
    ):
        evaluate_word_pairs(vectors, empty)
    orphan = tmp_path / "q.txt"
    orphan.write_text("a b c d\n")
    with pytest.raises(
        VectorFormatError, match=re.escape("q.txt:1: a question before the first ': section' line")
    ):
        evaluate_analogies(vectors, orphan)
    orphan.write_text(": only a header\n")
    with pytest.raises(VectorFormatError, match=re.escape("q.txt: no analogy question found")):
        evaluate_analogies(vectors, orphan)
    orphan.write_text(": header\na b c\nd e f g h\n")
    with pytest.raises(
        VectorFormatError,
        match=re.escape(
            "q.txt:2: no analogy question found: the line is not 4 words (nor are 1 more line)"
        ),
    ):
        evaluate_analogies(vectors, orphan)
    for evaluate in (evaluate_analogies, evaluate_word_pairs):
        with pytest.raises(
            ValueError, match=re.escape("restrict_vocab must be None or an integer >= 1, got 0")
        ):
            evaluate(vectors, restrict_vocab=0)
        with pytest.raises(TypeError, match="restrict_vocab must be None or an integer"):
            evaluate(vectors, restrict_vocab=2.5)
    with pytest.raises(
        ValueError, match=re.escape("no bundled evaluation set 'men.txt'; bundled: wordsim353.tsv")
    ):
        with bundled_path("men.txt"):
            pass


def test_bundled_files_are_the_shared_ones() -> None:
    for name in ["wordsim353.tsv", "simlex999.txt", "questions-words.txt"]:
        with bundled_path(name) as path:
            text = Path(path).read_text(encoding="utf-8")
        assert len(text) > 5000
    with bundled_path("questions-words.txt") as path, open(path, encoding="utf-8") as lines:
        assert sum(1 for line in lines if not line.startswith(":")) == 19544


def _tiny_vectors() -> Vectors:
    return Vectors(["a", "b"], np.array([[1.0, 0], [0, 1]]))


@pytest.mark.parametrize(
    ("evaluate", "content", "message"),
    [
        (
            evaluate_word_pairs,
            b"a\tb\t1\ncaf\xe9\tb\t3\n",
            "pairs.txt:2: the bytes b'\\xe9' are not valid utf-8",
        ),
        (
            evaluate_analogies,
            b": s\r\na b a b\r\n\xff b a b\r\n",
            "pairs.txt:3: the bytes b'\\xff' are not valid utf-8",
        ),
    ],
)
def test_undecodable_file_names_the_line(tmp_path, evaluate, content, message) -> None:
    path = tmp_path / "pairs.txt"
    path.write_bytes(content)
    with pytest.raises(VectorFormatError, match=re.escape(message)):
        evaluate(_tiny_vectors(), path)


@pytest.mark.parametrize("evaluate", [evaluate_word_pairs, evaluate_analogies])
def test_truncated_compressed_file(tmp_path, evaluate) -> None:
    import gzip

    data = gzip.compress(b": s\n" + b"a\tb\t1\n" * 50000)
    path = tmp_path / "pairs.txt.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        VectorFormatError,
        match=re.escape("pairs.txt.gz: the compressed file is truncated or corrupt"),
    ):
        evaluate(_tiny_vectors(), path)


# -- NaN, case variants, names and delimiters ------------------------------------------------------


def test_correlations_of_nan_data_are_nan_like_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    x, y = [1.0, np.nan, 3, 4, 2], [1.0, 2, 3, 5, 4]
    for ours, theirs in [(pearson, stats.pearsonr), (spearman, stats.spearmanr)]:
        r, p = ours(x, y)
        assert math.isnan(r) and math.isnan(p)  # never clamped into r = 1.0
        assert math.isnan(theirs(x, y)[0])
        r, p = ours(y, x)
        assert math.isnan(r) and math.isnan(p)
    assert all(math.isnan(v) for v in pearson([1.0, np.inf, 3], [1, 2, 3]))
    inf = [1.0, np.inf, 3, 4, 2]  # infinities rank like numbers, as scipy's spearmanr
    assert spearman(inf, y)[0] == pytest.approx(stats.spearmanr(inf, y)[0], abs=1e-12)


def _with_nan_rows(name, rows):
    vectors, _ = _keyed(name)
    matrix = vectors.matrix.copy()
    matrix[rows, 1] = np.nan
    broken = Vectors(vectors.tokens, matrix)
    KeyedVectors = pytest.importorskip("gensim.models").KeyedVectors  # noqa: N806
    keyed = KeyedVectors(broken.dim)
    keyed.add_vectors(broken.tokens, broken.matrix)
    return broken, keyed


def test_word_pairs_with_a_nan_row_are_nan_like_gensim() -> None:
    vectors, _ = _keyed("euclidean_vectors.bin")
    pairs = [
        line.split("\t")[:2]
        for line in (EVAL / "wordsim353.tsv").read_text().splitlines()
        if not line.startswith("#")
    ]
    used = next(a for a, b in pairs if a in vectors and b in vectors)
    vectors, keyed = _with_nan_rows("euclidean_vectors.bin", [vectors.token_to_id[used]])
    result = evaluate_word_pairs(vectors)
    assert math.isnan(result.pearson) and math.isnan(result.spearman)
    assert math.isnan(result.pearson_pvalue) and math.isnan(result.spearman_pvalue)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (r, _), (rho, _), _ = keyed.evaluate_word_pairs(EVAL / "wordsim353.tsv")
    assert math.isnan(r) and math.isnan(rho)


def test_analogies_with_nan_rows_equal_gensim() -> None:
    vectors, keyed = _with_nan_rows("word2vec_pre_kv_c", [0, 3, 50, 400, 1000])
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, sections = keyed.evaluate_word_analogies(EVAL / "questions-words.txt")
    ours = evaluate_analogies(vectors)
    assert [len(s.correct) for s in ours.sections] == [len(s["correct"]) for s in sections[:-1]]
    assert [len(s.incorrect) for s in ours.sections] == [len(s["incorrect"]) for s in sections[:-1]]
    nan_tokens = {vectors.tokens[row].upper() for row in (0, 3, 50, 400, 1000)}
    for section in ours.sections:
        for question in section.correct:
            assert not nan_tokens & set(question)  # a question with a NaN word is never right


def _planted_capitals(rng) -> Vectors:
    """Capitals and countries of the first Google section with ``country = city + offset``,
    fillers, and title-case variants that lie closer to the query than the answer does."""
    lines = (EVAL / "questions-words.txt").read_text().split(": ")[1].splitlines()[1:]
    pairs = sorted({(q.split()[0].lower(), q.split()[1].lower()) for q in lines})
    dim = 16
    offset = rng.normal(size=dim) * 2
    tokens, rows = [], []
    for city, country in pairs:
        place = rng.normal(size=dim)
        tokens += [city, country]
        rows += [place, place + offset + rng.normal(scale=0.3, size=dim)]
    tokens += [f"filler{i}" for i in range(300)]
    rows += list(rng.normal(size=(300, dim)))
    for token, row in list(zip(tokens[: 2 * len(pairs)], rows, strict=False)):
        tokens.append(token.title())
        rows.append(row + rng.normal(scale=0.01, size=dim))
    return Vectors(tokens, np.array(rows, dtype=np.float32))


@pytest.mark.parametrize("case_insensitive", [True, False])
@pytest.mark.parametrize("restrict_vocab", [300000, 100])
def test_analogies_with_case_variants_equal_gensim(
    monkeypatch, rng, case_insensitive, restrict_vocab
) -> None:
    """A title-case variant of ``b`` or ``c`` is often the best row; gensim skips it and takes
    the next candidate, which embtable does by its five-candidate scan."""
    import embtable.evaluate as evaluation

    vectors = _planted_capitals(rng)
    KeyedVectors = pytest.importorskip("gensim.models").KeyedVectors  # noqa: N806
    keyed = KeyedVectors(vectors.dim)
    keyed.add_vectors(vectors.tokens, vectors.matrix)
    scans = []
    original = evaluation._AnalogySearch.candidates
    monkeypatch.setattr(
        evaluation._AnalogySearch,
        "candidates",
        lambda self, means, wanted: scans.append(len(means)) or original(self, means, wanted),
    )
    options = dict(restrict_vocab=restrict_vocab, case_insensitive=case_insensitive)
    _, sections = keyed.evaluate_word_analogies(EVAL / "questions-words.txt", **options)
    ours = evaluate_analogies(vectors, **options)
    assert [len(s.correct) for s in ours.sections] == [len(s["correct"]) for s in sections[:-1]]
    assert [len(s.incorrect) for s in ours.sections] == [len(s["incorrect"]) for s in sections[:-1]]
    if case_insensitive and restrict_vocab > len(vectors):
        assert sum(scans) > 50 and ours.correct > 100  # the scan ran and found right answers
    if not case_insensitive:
        assert not scans  # exact-case words have no variant to skip


def test_bundled_sets_by_short_name() -> None:
    for short, name in [("simlex", "simlex999.txt"), ("wordsim353", "wordsim353.tsv")]:
        with bundled_path(short) as path, bundled_path(name) as same:
            assert path == same
    with bundled_path("google") as path:
        assert path.endswith("questions-words.txt")
    with pytest.raises(OptionError, match=re.escape("(short names: wordsim353, simlex")):
        with bundled_path("men"):
            pass


def test_word_pairs_on_whitespace_and_error_message_names_the_delimiter(tmp_path) -> None:
    vectors = Vectors(["a", "b", "c"], np.array([[1.0, 0], [1, 1], [0, 1]]))
    path = tmp_path / "men.txt"
    path.write_text("a b 1.0\nb  c\t3\na c 2\n")
    result = evaluate_word_pairs(vectors, path, delimiter=None)
    assert result.pairs == 3 and result.skipped_lines == ()
    with pytest.raises(
        VectorFormatError,
        match=re.escape(
            "men.txt:1: no usable word pair: 'a b 1.0' is not word, word, number separated by "
            "'\\t' (nor are 2 more lines); for space-separated files pass delimiter=None (on "
            "the command line --delimiter whitespace)"
        ),
    ):
        evaluate_word_pairs(vectors, path)


@pytest.mark.parametrize("name", SHIPPED[:2])
def test_restrict_vocab_none_searches_every_row_as_gensim(name) -> None:
    vectors, keyed = _keyed(name)
    score, sections = keyed.evaluate_word_analogies(
        EVAL / "questions-words.txt", restrict_vocab=None
    )
    ours = evaluate_analogies(vectors, restrict_vocab=None)
    assert [len(s.correct) for s in ours.sections] == [len(s["correct"]) for s in sections[:-1]]
    assert ours.accuracy == pytest.approx(score, abs=1e-3)
    assert ours == evaluate_analogies(vectors, restrict_vocab=len(vectors))
    (r, _), (rho, _), oov = keyed.evaluate_word_pairs(EVAL / "wordsim353.tsv", restrict_vocab=None)
    pairs = evaluate_word_pairs(vectors, restrict_vocab=None)
    assert (pairs.pearson, pairs.spearman) == (
        pytest.approx(r, abs=1e-6),
        pytest.approx(rho, abs=1e-6),
    )
    assert pairs.oov_ratio * 100 == pytest.approx(oov)


@pytest.mark.parametrize(("row_chunk", "question_block"), [(7, 5), (1000, 1), (64, 33)])
def test_blocked_search_across_chunk_boundaries_equals_gensim(
    monkeypatch, rng, row_chunk, question_block
) -> None:
    """Small blocks make every question's best row and own rows fall in many row chunks."""
    import embtable.evaluate as evaluation

    monkeypatch.setattr(evaluation, "_ROW_CHUNK", row_chunk)
    monkeypatch.setattr(evaluation, "_QUESTION_BLOCK", question_block)
    KeyedVectors = pytest.importorskip("gensim.models").KeyedVectors  # noqa: N806
    for vectors in (_keyed("euclidean_vectors.bin")[0], _planted_capitals(rng)):
        keyed = KeyedVectors(vectors.dim)
        keyed.add_vectors(vectors.tokens, vectors.matrix)
        _, sections = keyed.evaluate_word_analogies(EVAL / "questions-words.txt")
        ours = evaluate_analogies(vectors)
        assert [len(s.correct) for s in ours.sections] == [len(s["correct"]) for s in sections[:-1]]
        assert [len(s.incorrect) for s in ours.sections] == [
            len(s["incorrect"]) for s in sections[:-1]
        ]
    assert ours.correct > 100
