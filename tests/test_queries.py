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
