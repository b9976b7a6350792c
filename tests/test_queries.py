"""gensim-style queries on ``Vectors``, checked against gensim's ``KeyedVectors`` built from the
same matrix."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from embtable._errors import OptionError, OptionTypeError, ShapeError, TokenError
from embtable.vectors import Vectors, VectorsCheck

DATA = Path(__file__).parent / "data"
RTOL = 1e-5  # gensim divides by float32 norms after the dot; embtable normalises first


@pytest.fixture(scope="module")
def glove() -> Vectors:
    return Vectors.load(DATA / "test_glove.txt")


@pytest.fixture(scope="module")
def keyed(glove):
    KeyedVectors = pytest.importorskip("gensim.models").KeyedVectors  # noqa: N806
    keyed = KeyedVectors(glove.dim)
    keyed.add_vectors(glove.tokens, glove.matrix)
    return keyed


def assert_same(ours, theirs) -> None:
    assert [t for t, _ in ours] == [t for t, _ in theirs]
    assert_allclose([s for _, s in ours], [s for _, s in theirs], rtol=RTOL, atol=1e-6)


@pytest.mark.parametrize(
    "call",
    [
        {"positive": "the"},
        {"positive": ["the"], "topn": 3},
        {"positive": ["é", "ö"]},
        {"positive": ["é", "ö"], "negative": ["the"], "topn": 4},
        {"negative": ["the"], "topn": 4},
        {"positive": [("é", 2.0), "ö"], "negative": [("the", -0.5)]},
        {"positive": [("é", 0.5)], "negative": [("the", 0.5)]},  # gensim: the weight as given
        {"positive": ["é"], "restrict_vocab": 20, "topn": 30},
        {"positive": ["é", "ö"], "topn": 74},
    ],
)
def test_most_similar_matches_gensim(glove, keyed, call) -> None:
    assert_same(glove.most_similar(**call), keyed.most_similar(**call))


def test_most_similar_vectors_and_mixtures(glove, keyed, rng) -> None:
    vector = rng.normal(size=glove.dim).astype(np.float32)
    for call in [
        {"positive": vector},
        {"positive": [vector, "é"], "negative": ["the"]},
        {"positive": [(vector, 3.0)]},
        {"positive": np.stack([vector, glove["ö"]])},  # a 2-D array: its rows are terms
    ]:
        assert_same(glove.most_similar(**call), keyed.most_similar(**call))
    assert_same(glove.similar_by_vector(vector, 5), keyed.similar_by_vector(vector, 5))
    assert_same(glove.similar_by_word("é", 5), keyed.similar_by_word("é", 5))
    assert_same(glove.similar_by_key("é", 5), keyed.similar_by_key("é", 5))
    # a list of numbers is one vector (gensim would read ints as row numbers)
    assert glove.most_similar(vector.tolist(), topn=3) == glove.most_similar(vector, topn=3)


def test_a_words_own_vector_returns_it_at_most_one(glove, keyed) -> None:
    for word in glove.tokens[:20]:
        ours = glove.most_similar(glove[word], topn=2)
        theirs = keyed.most_similar(keyed[word], topn=2)
        assert ours[0][0] == theirs[0][0] == word  # gensim does not exclude a vector's token
        assert ours[0][1] <= 1.0 and ours[0][1] == pytest.approx(1.0, abs=1e-6)
    scores = glove.most_similar("the", topn=None)
    assert scores.max() <= 1.0 and scores.min() >= -1.0


def test_topn_none_returns_every_cosine(glove, keyed) -> None:
    assert_allclose(
        glove.most_similar("é", topn=None), keyed.most_similar("é", topn=None), rtol=RTOL, atol=1e-6
    )
    assert glove.most_similar("é", topn=None, restrict_vocab=10).shape == (10,)
    assert glove.most_similar("the", topn=0) == []


def test_positional_and_keyword_conventions(glove, keyed) -> None:
    assert_same(glove.most_similar("the", topn=3), keyed.most_similar("the", topn=3))
    assert glove.most_similar("the", k=3) == glove.most_similar("the", topn=3)  # embtable's alias
    assert glove.most_similar(["é", "ö"], ["the"], 2) == glove.most_similar(
        positive=["é", "ö"], negative=["the"], topn=2
    )
    assert_array_equal(glove[["é", "the"]], keyed[["é", "the"]])
    assert glove[["é"]].shape == (1, 50)
    with pytest.raises(
        OptionTypeError,
        match=re.escape(
            "negative must be a word, a vector, or a list of words, vectors and (word, weight) "
            "pairs, got int 3; the number of neighbours is topn=3"
        ),
    ):
        glove.most_similar("the", 3)
    with pytest.raises(OptionError, match=re.escape("pass topn or its alias k, not both")):
        glove.most_similar("the", topn=3, k=4)


@pytest.mark.filterwarnings("ignore:Call to deprecated `init_sims`:DeprecationWarning")
def test_cosmul_matches_gensim(glove, keyed, rng) -> None:
    vector = rng.normal(size=glove.dim).astype(np.float32)
    for call in [
        {"positive": ["é", "ö"], "negative": ["the"]},
        {"positive": "é"},
        {"positive": ["é", vector], "negative": "the", "topn": 6},
    ]:
        assert_same(glove.most_similar_cosmul(**call), keyed.most_similar_cosmul(**call))
    assert_allclose(
        glove.most_similar_cosmul(["é"], ["the"], topn=None),
        keyed.most_similar_cosmul(["é"], ["the"], topn=None),
        rtol=RTOL,
    )
    with pytest.raises(OptionTypeError, match="not \\(word, weight\\) pairs"):
        glove.most_similar_cosmul([("é", 2.0)])
    with pytest.raises(OptionError, match="needs at least one positive"):
        glove.most_similar_cosmul(negative=["é"])


def test_similarities_and_distances_match_gensim(glove, keyed, rng) -> None:
    words = glove.tokens[5:12]
    assert glove.doesnt_match(words) == keyed.doesnt_match(words)
    ours = glove.rank_by_centrality(words)
    theirs = keyed.rank_by_centrality(words)
    assert [w for _, w in ours] == [w for _, w in theirs]
    assert_allclose([s for s, _ in ours], [s for s, _ in theirs], rtol=RTOL)
    assert glove.n_similarity(words[:3], words[3:]) == pytest.approx(
        float(keyed.n_similarity(words[:3], words[3:])), rel=RTOL
    )
    assert glove.distance("é", "the") == pytest.approx(float(keyed.distance("é", "the")), abs=1e-6)
    assert_allclose(glove.distances("é"), keyed.distances("é"), atol=1e-6)
    assert_allclose(glove.distances("é", words), keyed.distances("é", words), atol=1e-6)
    vector = rng.normal(size=glove.dim).astype(np.float32)
    assert_allclose(glove.distances(vector, words), keyed.distances(vector, words), atol=1e-6)
    for first, second in [("the", "é"), ("é", glove.tokens[40]), ("ö", "the")]:
        assert glove.closer_than(first, second) == keyed.closer_than(first, second)
        assert glove.rank(first, second) == keyed.rank(first, second)


@pytest.mark.parametrize("pre_normalize", [True, False])
@pytest.mark.parametrize("post_normalize", [True, False])
def test_get_mean_vector_matches_gensim(glove, keyed, rng, pre_normalize, post_normalize) -> None:
    vector = rng.normal(size=glove.dim).astype(np.float32)
    keys = ["é", "the", vector, "not-a-word"]
    weights = [1.0, -0.5, 2.0, 7.0]
    for options in [{}, {"weights": weights}]:
        ours = glove.get_mean_vector(
            keys, pre_normalize=pre_normalize, post_normalize=post_normalize, **options
        )
        theirs = keyed.get_mean_vector(
            keys, pre_normalize=pre_normalize, post_normalize=post_normalize, **options
        )
        assert_allclose(ours, theirs, rtol=RTOL, atol=1e-7)
    with pytest.raises(TokenError, match="'not-a-word'"):
        glove.get_mean_vector(keys, ignore_missing=False)
    with pytest.raises(ShapeError, match=re.escape("weights must have one value per key (4)")):
        glove.get_mean_vector(keys, weights=[1.0])
    with pytest.raises(OptionError, match="no keys"):
        glove.get_mean_vector([])


@pytest.mark.parametrize("replace", [False, True])
def test_add_vectors_matches_gensim(glove, replace, rng) -> None:
    KeyedVectors = pytest.importorskip("gensim.models").KeyedVectors  # noqa: N806
    ours = Vectors(list(glove.tokens), glove.matrix.copy())
    theirs = KeyedVectors(glove.dim)
    theirs.add_vectors(glove.tokens, glove.matrix)
    old = ours.most_similar("é", topn=3)  # builds the caches that add_vectors must drop
    new = rng.normal(size=(3, glove.dim)).astype(np.float32)
    keys = ["brand-new", "é", "another"]
    ours.add_vectors(keys, new, replace=replace)
    theirs.add_vectors(keys, new, replace=replace)
    assert ours.tokens == theirs.index_to_key
    assert_array_equal(ours.matrix, theirs.vectors)
    assert ours.matrix.dtype == np.float32
    assert_same(ours.most_similar("brand-new"), theirs.most_similar("brand-new"))
    assert (ours.most_similar("é", topn=3) == old) is not replace
    ours.add_vectors("single", new[0])
    ours["another"] = new[1] * 2  # __setitem__ replaces
    assert_array_equal(ours["another"], new[1] * 2)
    with pytest.raises(OptionError, match=re.escape("key 'x' appears twice in keys, at 0 and 1")):
        ours.add_vectors(["x", "x"], new[:2])
    with pytest.raises(ShapeError, match=re.escape("weights must have shape (2, 50)")):
        ours.add_vectors(["x", "y"], new)


def test_batch_most_similar_equals_one_at_a_time(glove, rng) -> None:
    words = glove.tokens[:9]
    for ours, word in zip(glove.batch_most_similar(words, topn=5), words, strict=True):
        assert_same(ours, glove.most_similar(word, topn=5))
    queries = rng.normal(size=(11, glove.dim))
    batched = glove.batch_most_similar(queries, topn=4, restrict_vocab=30)
    for ours, query in zip(batched, queries, strict=True):
        assert_same(ours, glove.most_similar(query, topn=4, restrict_vocab=30))
    assert_allclose(
        glove.batch_most_similar(queries, topn=None)[3],
        glove.most_similar(queries[3], topn=None),
        atol=1e-6,
    )
    with pytest.raises(OptionError, match=re.escape("query row 1 has norm 0.0")):
        glove.batch_most_similar(np.stack([queries[0], np.zeros(50)]))
    with pytest.raises(ShapeError, match=re.escape("queries must have shape (n, 50), got (3,)")):
        glove.batch_most_similar(np.ones(3))


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(1, 40),
    topn=st.integers(0, 45),
    scale=st.floats(0.01, 100),
)
def test_batch_and_scaling_laws(seed, rows, topn, scale) -> None:
    rng = np.random.default_rng(seed)
    vectors = Vectors([f"w{i}" for i in range(rows)], rng.normal(size=(rows, 4)))
    queries = rng.normal(size=(3, 4))
    batched = vectors.batch_most_similar(queries, topn=topn)
    for query, answer in zip(queries, batched, strict=True):
        assert_same(answer, vectors.most_similar(query, topn=topn))
        assert_same(answer, vectors.most_similar(query * scale, topn=topn))
        assert len(answer) == min(topn, rows)
        assert all(-1 <= score <= 1 for _, score in answer)


def test_unknown_words_raise_token_error_naming_them(glove) -> None:
    message = "token 'nope' is not among the 76 tokens of these vectors"
    calls = [
        lambda: glove.most_similar("nope"),
        lambda: glove.most_similar(positive=["é"], negative=["nope"]),
        lambda: glove[["é", "nope"]],
        lambda: glove.doesnt_match(["é", "nope"]),
        lambda: glove.n_similarity(["é"], ["nope"]),
        lambda: glove.distance("é", "nope"),
        lambda: glove.distances("é", ["nope"]),
        lambda: glove.rank("é", "nope"),
        lambda: glove.closer_than("nope", "é"),
        lambda: glove.batch_most_similar(["é", "nope"]),
        lambda: glove.most_similar_cosmul(["nope"]),
        lambda: glove.similar_by_word("nope"),
    ]
    for call in calls:
        with pytest.raises(TokenError, match=re.escape(message)) as info:
            call()
        assert isinstance(info.value, KeyError) and str(info.value) == message


def test_query_argument_errors(glove) -> None:
    with pytest.raises(OptionError, match="needs at least one word or vector"):
        glove.most_similar()
    with pytest.raises(OptionTypeError, match="must hold words, vectors or"):
        glove.most_similar([{"é"}])
    with pytest.raises(OptionError, match=re.escape("the combined query (the weighted mean")):
        glove.most_similar(positive=["é"], negative=["é"])
    with pytest.raises(OptionError, match="restrict_vocab must be None or an integer >= 1, got 0"):
        glove.most_similar("é", restrict_vocab=0)
    with pytest.raises(
        OptionTypeError, match=re.escape("topn must be None or an integer >= 0, got 2.5")
    ):
        glove.most_similar("é", topn=2.5)
    with pytest.raises(OptionError, match="ws1 is empty"):
        glove.n_similarity([], ["é"])
    with pytest.raises(OptionError, match="cannot rank an empty list"):
        glove.doesnt_match([])


# -- rows with NaN or inf -------------------------------------------------------------------------


@pytest.fixture
def broken(rng) -> Vectors:
    matrix = rng.normal(size=(30, 6)).astype(np.float32)
    matrix[3, 2] = np.nan
    matrix[7] = np.inf
    matrix[11] = 0
    return Vectors([f"w{i}" for i in range(30)], matrix)


def test_check_reports_nonfinite_and_zero_rows(broken) -> None:
    check = broken.check()
    assert check == VectorsCheck(
        nonfinite_rows=(3, 7), nonfinite_tokens=("w3", "w7"), zero_rows=(11,)
    )
    assert (check.nonfinite, check.ok) == (2, False)
    assert Vectors(["a"], np.ones((1, 2))).check().ok


def test_nonfinite_rows_are_never_neighbours_on_any_path(broken, rng) -> None:
    bad = {"w3", "w7"}
    answers = [
        broken.most_similar("w0", topn=30),
        broken.most_similar(rng.normal(size=6), topn=30),
        broken.most_similar(["w0", "w1"], ["w2"], topn=30),
        broken.most_similar_cosmul(["w0", "w1"], ["w2"], topn=30),
        *broken.batch_most_similar(["w0", "w5"], topn=30),
        *broken.batch_most_similar(rng.normal(size=(2, 6)), topn=30),
        broken.analogy("w2", "w0", "w1", k=30),
    ]
    for answer in answers:
        words = {word for word, _ in answer}
        assert not words & bad
        assert all(math.isfinite(score) for _, score in answer)
    assert len(broken.most_similar("w0", topn=30)) == 27  # 30 rows less w0, w3, w7
    scores = broken.most_similar("w0", topn=None)
    assert np.isnan(scores[[3, 7]]).all() and np.isfinite(np.delete(scores, [3, 7])).all()
    assert "w3" not in broken.closer_than("w0", "w1")


def test_a_nonfinite_query_raises_on_every_path(broken) -> None:
    word_message = re.escape("the vector of 'w3' (row 3) holds NaN or inf")
    for call in [
        lambda: broken.most_similar("w3"),
        lambda: broken.most_similar(["w0", "w3"]),
        lambda: broken.most_similar_cosmul(["w0"], ["w3"]),
        lambda: broken.batch_most_similar(["w0", "w3"]),
        lambda: broken.analogy("w0", "w3", "w1"),
        lambda: broken.rank("w0", "w3"),
        lambda: broken.doesnt_match(["w0", "w3"]),
    ]:
        with pytest.raises(OptionError, match=word_message):
            call()
    with pytest.raises(OptionError, match=re.escape("the query vector holds NaN or inf")):
        broken.most_similar(broken.matrix[3])
    with pytest.raises(OptionError, match=re.escape("query row 0 has norm nan")):
        broken.batch_most_similar(broken.matrix[[3]])
    with pytest.raises(OptionError, match=re.escape("the vector of 'w11' (row 11) is zero")):
        broken.most_similar("w11")


def test_similarity_values_are_nan_like_gensims(broken) -> None:
    KeyedVectors = pytest.importorskip("gensim.models").KeyedVectors  # noqa: N806
    keyed = KeyedVectors(6)
    keyed.add_vectors(broken.tokens, broken.matrix)
    with np.errstate(invalid="ignore"):
        assert math.isnan(keyed.similarity("w0", "w3"))
    assert math.isnan(broken.similarity("w0", "w3")) and math.isnan(broken.distance("w3", "w0"))
    assert np.isnan(broken.distances("w0")[[3, 7]]).all()
    assert broken.similarity("w0", "w11") == 0.0  # a zero row: cosine 0 (gensim: NaN)


# -- review: every method against gensim on random tables, and the edges found there ---------------


def _pair_of(matrix: np.ndarray):
    KeyedVectors = pytest.importorskip("gensim.models").KeyedVectors  # noqa: N806
    tokens = [f"w{i}" for i in range(len(matrix))]
    keyed = KeyedVectors(matrix.shape[1], dtype=matrix.dtype)
    keyed.add_vectors(tokens, matrix)
    return Vectors(tokens, matrix), keyed


@pytest.mark.filterwarnings("ignore:Call to deprecated `init_sims`:DeprecationWarning")
@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(8, 60),
    dim=st.integers(2, 12),
    dtype=st.sampled_from([np.float32, np.float64]),
    topn=st.integers(1, 70),
    restrict_vocab=st.one_of(st.none(), st.integers(1, 70)),
)
def test_every_query_equals_gensim_on_random_tables(
    seed, rows, dim, dtype, topn, restrict_vocab
) -> None:
    rng = np.random.default_rng(seed)
    matrix = (rng.normal(size=(rows, dim)) * rng.uniform(0.1, 10, size=(rows, 1))).astype(dtype)
    ours, theirs = _pair_of(matrix)
    words = [f"w{i}" for i in rng.choice(rows, size=5, replace=False)]
    vector = (rng.normal(size=dim) * 4).astype(dtype)  # not unit: vectors enter as given
    options = {"topn": topn, "restrict_vocab": restrict_vocab}
    for positive, negative in [
        (words[0], None),
        (words[:2], words[2:3]),
        ([words[0], vector], [words[1]]),
        ([(words[0], 2.0), words[3]], [(words[4], 0.5)]),
        (vector, None),
    ]:
        assert_same(
            ours.most_similar(positive, negative, **options),
            theirs.most_similar(positive, negative, **options),
        )
    cosmul = {"topn": topn}  # gensim's cosmul ignores restrict_vocab
    for positive, negative in [(words[:2], words[2:3]), ([words[0], vector], [words[1]])]:
        shifted = (2 - ours.distances(negative[0])) / 2  # cos' of every row with the negative
        if shifted.min() > 0.01:  # else 1 / (cos' + 1e-6) amplifies float32 rounding unboundedly
            mine = ours.most_similar_cosmul(positive, negative, **cosmul)
            gensims = theirs.most_similar_cosmul(positive, negative, **cosmul)
            assert [w for w, _ in mine] == [w for w, _ in gensims]
            assert_allclose([s for _, s in mine], [s for _, s in gensims], rtol=2e-4)
    assert_allclose(ours.distances(words[0]), theirs.distances(words[0]), atol=1e-6)
    assert_allclose(ours.distances(vector, words), theirs.distances(vector, words), atol=1e-6)
    assert ours.n_similarity(words[:2], words[2:]) == pytest.approx(
        float(theirs.n_similarity(words[:2], words[2:])), abs=1e-6
    )
    assert ours.doesnt_match(words) == theirs.doesnt_match(words)
    for use_norm in (True, False):
        mine = ours.rank_by_centrality(words, use_norm=use_norm)
        gensims = theirs.rank_by_centrality(words, use_norm=use_norm)
        assert [w for _, w in mine] == [w for _, w in gensims]
        assert_allclose([s for s, _ in mine], [s for s, _ in gensims], rtol=1e-5, atol=1e-6)
    for first, second in [(words[0], words[1]), (words[2], words[3])]:
        assert ours.closer_than(first, second) == theirs.closer_than(first, second)
        assert ours.rank(first, second) == theirs.rank(first, second)
    keys = [words[0], vector, words[1]]
    for pre in (True, False):
        for post in (True, False):
            assert_allclose(
                ours.get_mean_vector(
                    keys, [1.0, -0.5, 2.0], pre_normalize=pre, post_normalize=post
                ),
                theirs.get_mean_vector(
                    keys, [1.0, -0.5, 2.0], pre_normalize=pre, post_normalize=post
                ),
                rtol=1e-5,
                atol=1e-6,
            )
    assert_array_equal(ours[words], theirs[words])
    assert (
        ours.most_similar(words[0], topn=None).dtype
        == theirs.most_similar(words[0], topn=None).dtype
    )
    assert ours.distances(words[0]).dtype == theirs.distances(words[0]).dtype
    # last: gensim 4.4's similarity scales float64 rows to unit length in place (BLAS dscal
    # through a read-only view), which would change every later gensim answer
    assert ours.similarity(words[0], words[1]) == pytest.approx(
        float(theirs.similarity(words[0], words[1])), abs=1e-6
    )


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(1, 30),
    topn=st.integers(0, 35),
    restrict_vocab=st.one_of(st.none(), st.integers(1, 35)),
    dtype=st.sampled_from([np.float16, np.float32, np.float64]),
)
def test_most_similar_equals_a_brute_force_ranking(seed, rows, topn, restrict_vocab, dtype) -> None:
    """Small-integer rows, many of them repeated (exact ties), some zero, NaN or inf: the answer
    is the ``topn`` best eligible rows by a float64 ranking, ties in row order."""
    rng = np.random.default_rng(seed)
    distinct = rng.integers(-3, 4, size=(max(1, rows // 3), 3))
    matrix = distinct[rng.integers(0, len(distinct), size=rows)].astype(dtype)
    matrix[rng.random(rows) < 0.1] = 0
    matrix[rng.random(rows) < 0.1, 0] = np.nan
    matrix[rng.random(rows) < 0.05, 1] = np.inf
    tokens = [f"w{i}" for i in range(rows)]
    vectors = Vectors(tokens, matrix)
    wide = matrix.astype(np.float64)
    with np.errstate(invalid="ignore"):
        norms = np.linalg.norm(wide, axis=1)
    usable = np.isfinite(norms) & (norms > 0)
    unit = np.where(usable[:, None], wide / np.where(usable, norms, 1)[:, None], 0)
    searched = rows if restrict_vocab is None else min(restrict_vocab, rows)
    candidates = np.flatnonzero(usable)
    queries = [tokens[i] for i in rng.permutation(candidates)[:3]]
    for positive, negative in [(queries[:1], []), (queries[:2], queries[2:])]:
        if not positive:
            continue
        mean = unit[[tokens.index(w) for w in positive]].sum(0) - unit[
            [tokens.index(w) for w in negative]
        ].sum(0)
        if np.linalg.norm(mean) < 1e-6:  # cancels out: raises (checked elsewhere)
            continue
        scores = unit[:searched] @ (mean / np.linalg.norm(mean))
        used = {tokens.index(w) for w in positive + negative}
        eligible = [i for i in range(searched) if np.isfinite(norms[i]) and i not in used]
        got = vectors.most_similar(positive, negative, topn=topn, restrict_vocab=restrict_vocab)
        rows_got = [tokens.index(w) for w, _ in got]
        values = np.array([s for _, s in got])
        assert len(rows_got) == len(set(rows_got)) == min(topn, len(eligible))
        assert set(rows_got) <= set(eligible)
        assert_allclose(values, scores[rows_got], atol=1e-6)  # float16 tables score in float32
        assert np.all(np.diff(values) <= 0) and np.all(np.abs(values) <= 1)
        left_out = sorted(set(eligible) - set(rows_got))
        if rows_got and left_out:
            assert values.min() >= scores[left_out].max() - 1e-6
        for position, row in enumerate(rows_got):  # exact ties (equal rows) keep row order
            twins = [i for i in eligible if i < row and np.array_equal(matrix[i], matrix[row])]
            assert all(i in rows_got[:position] for i in twins)


@pytest.mark.filterwarnings("ignore:Call to deprecated `init_sims`:DeprecationWarning")
def test_cosmul_takes_a_vector_as_given_like_gensim(glove, keyed, rng) -> None:
    """A vector term's products are |v| cos, which the old code clipped into [-1, 1]."""
    vector = (rng.normal(size=glove.dim) * 5).astype(np.float32)
    for call in [{"positive": ["é", vector]}, {"positive": ["é"], "negative": [vector]}]:
        ours = glove.most_similar_cosmul(**call, topn=8)
        theirs = keyed.most_similar_cosmul(**call, topn=8)
        assert [w for w, _ in ours] == [w for w, _ in theirs]
        assert_allclose([s for _, s in ours], [s for _, s in theirs], rtol=1e-4)
    assert max(s for _, s in glove.most_similar_cosmul(["é", vector], topn=3)) > 1


def test_rank_by_centrality_of_raw_vectors_is_gensims(glove, keyed) -> None:
    words = glove.tokens[5:12]
    ours = glove.rank_by_centrality(words, use_norm=False)
    theirs = keyed.rank_by_centrality(words, use_norm=False)
    assert [w for _, w in ours] == [w for _, w in theirs]
    assert_allclose([s for s, _ in ours], [s for s, _ in theirs], rtol=1e-5)
    assert max(s for s, _ in ours) > 1  # projections on the unit mean, not cosines


def test_returned_rows_are_read_only_so_the_cache_stays_true() -> None:
    matrix = np.array([[1.0, 0], [0, 1], [1, 0.1]])
    vectors = Vectors(["a", "b", "c"], matrix)
    assert vectors.most_similar("a", topn=1)[0][0] == "c"
    for row in (
        vectors["b"],
        vectors.get("b"),
        vectors.get_vector("b"),
        vectors.get_vector("b", True),
    ):
        with pytest.raises(ValueError, match="read-only"):
            row[0] = 1.0
    assert_array_equal(vectors.matrix, [[1.0, 0], [0, 1], [1, 0.1]])
    assert matrix.flags.writeable  # the caller's array is left as it was
    copy = vectors[["b"]]
    copy[0, 0] = 7.0  # a list gives a copy, which may be changed
    assert vectors["b"][0] == 0.0
    vectors["b"] = [1.0, 0]  # the supported way: refreshes the cache
    assert vectors.most_similar("a", topn=1)[0][0] == "b"
    vectors.matrix[1] = [0, 1]  # in place, behind the cache's back ...
    vectors.fill_norms(force=True)  # ... then refreshed, as in gensim
    assert vectors.most_similar("a", topn=1)[0][0] == "c"
    assert vectors.similarity("a", "b") == 0.0


def test_add_vectors_to_a_memory_mapped_table_copies(tmp_path) -> None:
    Vectors(["a", "b"], np.eye(2, dtype=np.float32)).save(tmp_path / "t", format="embtable")
    mapped = Vectors.load(tmp_path / "t", mmap=True)
    assert not mapped.matrix.flags.writeable
    assert mapped.most_similar("a", topn=1) == [("b", 0.0)]
    mapped.add_vectors(["c", "a"], [[1.0, 1], [0, 1]], replace=True)
    assert mapped.matrix.flags.writeable and mapped.tokens == ["a", "b", "c"]
    assert mapped.most_similar("a", topn=1)[0][0] == "b"  # a is now [0, 1]
    assert Vectors.load(tmp_path / "t") == Vectors(["a", "b"], np.eye(2, dtype=np.float32))
    with pytest.raises(TypeError, match=re.escape("weights must be numbers, got an array of <U1")):
        mapped.add_vectors(["d"], [["x", "y"]])
    with pytest.raises(ShapeError, match="weights must be 2 vectors of 2 numbers"):
        mapped.add_vectors(["d", "e"], [[1.0, 2], [3]])
    assert len(mapped) == 3


def test_float16_tables_score_in_float32(rng) -> None:
    matrix = rng.normal(size=(50, 40))
    half = Vectors([f"w{i}" for i in range(50)], matrix.astype(np.float16))
    wide = Vectors(half.tokens, half.matrix.astype(np.float64))
    ours, exact = half.most_similar("w0", topn=10), wide.most_similar("w0", topn=10)
    assert [w for w, _ in ours] == [w for w, _ in exact]
    assert_allclose([s for _, s in ours], [s for _, s in exact], atol=1e-6)
    assert half.most_similar("w0", topn=None).dtype == np.float32
    assert half.get_vector("w0", norm=True).dtype == np.float16
    assert half.get_mean_vector(["w0", "w1"]).dtype == np.float16
    big = np.full(40, 1e5)  # beyond float16 (65504), fine for the query
    assert half.most_similar(big, topn=1) == half.most_similar(big / 1e5, topn=1)
    assert len(half.batch_most_similar(np.stack([big, -big]), topn=2)) == 2
    assert_allclose(half.distances(big), wide.distances(big), atol=1e-6)


def test_numpy_strings_and_odd_keys() -> None:
    vectors = Vectors(["a", "b", "c"], np.array([[1.0, 0], [0, 1], [1, 1]]))
    words = np.array(["a", "c"])
    assert_array_equal(vectors[words], vectors[["a", "c"]])
    assert vectors.batch_most_similar(words, topn=1) == vectors.batch_most_similar(["a", "c"], 1)
    assert vectors.most_similar(np.str_("a"), topn=1) == vectors.most_similar("a", topn=1)
    assert ["a"] not in vectors and vectors.get(["a"], "none") == "none"  # unhashable: absent
    assert_allclose(vectors.distances("a", "c"), vectors.distances("a", ["c"]))  # not 'c' chars
    with pytest.raises(TokenError, match="token 0 is not among"):
        vectors[0]  # an int is never a row number
    with pytest.raises(OptionTypeError, match=r"got int 1$"):  # no topn hint for positive
        vectors.most_similar(1)
    with pytest.raises(OptionTypeError, match="queries must be a list of words or"):
        vectors.batch_most_similar([["a", "b"]])


def test_nonfinite_or_huge_value_queries_give_nan_without_warnings() -> None:
    vectors = Vectors(["a", "b"], np.array([[1.0, 0], [1, 1]]))
    for bad in ([np.nan, 1.0], [np.inf, 1.0], [1e200, 1e200]):
        assert np.isnan(vectors.distances(np.array(bad))).all()  # filterwarnings=error: none
        with pytest.raises(OptionError, match="cosine needs a nonzero finite vector"):
            vectors.most_similar(np.array(bad))
    assert_array_equal(vectors.distances(np.zeros(2)), [1.0, 1.0])  # zero: cosine 0


def test_edges_of_topn_and_restrict_vocab() -> None:
    vectors = Vectors(["a", "b", "c"], np.array([[1.0, 0], [0, 1], [1, 1]]))
    assert len(vectors.most_similar("a", topn=10**18)) == 2
    assert vectors.most_similar("a", topn=np.int64(1)) == vectors.most_similar("a", topn=1)
    assert vectors.most_similar("a", restrict_vocab=10**30, topn=5) == vectors.most_similar("a")
    assert vectors.most_similar("a", restrict_vocab=1) == []  # only 'a' itself is searched
    assert vectors.most_similar(["a", "a"], topn=2) == vectors.most_similar("a", topn=2)
    assert vectors.most_similar(["a", "c"], ["a"], topn=1) == [
        ("b", pytest.approx(0.7071067811865475))
    ]
    for bad in (-1, 0):
        with pytest.raises(
            OptionError, match=f"restrict_vocab must be None or an integer >= 1, got {bad}"
        ):
            vectors.most_similar("a", restrict_vocab=bad)
    with pytest.raises(OptionError, match="topn must be None or an integer >= 0, got -1"):
        vectors.most_similar("a", topn=-1)
    with pytest.raises(OptionTypeError, match="topn must be None or an integer >= 0, got True"):
        vectors.most_similar("a", topn=True)
    empty = Vectors([], np.zeros((0, 2)))
    assert empty.most_similar(np.ones(2)) == [] and empty.batch_most_similar(np.ones((1, 2))) == [
        []
    ]
    assert empty.most_similar(np.ones(2), topn=None).shape == (0,)
    assert empty.check().ok and empty.distances(np.ones(2)).shape == (0,)
    one = Vectors(["a"], np.ones((1, 2)))
    assert (
        one.most_similar("a") == [] and one.rank("a", "a") == 1 and one.doesnt_match(["a"]) == "a"
    )


def test_pickles_leave_the_caches_out_and_nan_tables_equal_themselves(broken) -> None:
    import pickle

    big = Vectors([f"w{i}" for i in range(4000)], np.ones((4000, 32), dtype=np.float32))
    big.most_similar("w0")  # builds the normalised copy
    assert len(pickle.dumps(big)) < 1.3 * big.matrix.nbytes  # the matrix, not the matrix twice
    broken.most_similar("w0")
    data = pickle.dumps(broken)
    restored = pickle.loads(data)
    assert restored == broken  # NaN rows compare equal to themselves
    assert restored.most_similar("w0") == broken.most_similar("w0")
    assert restored.check() == broken.check()
