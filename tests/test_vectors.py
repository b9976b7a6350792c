from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from embtable import VectorFormatError
from embtable._errors import PaddingIndexError, ShapeError
from embtable.text import Vocab
from embtable.vectors import Coverage, Vectors

DATA = Path(__file__).parent / "data"


@pytest.fixture
def glove() -> Vectors:
    return Vectors.load(DATA / "test_glove.txt")


def test_load_auto_detects_every_format(tmp_path, glove) -> None:
    for fmt, name in [
        ("word2vec", "a.txt"),
        ("word2vec-binary", "a.bin"),
        ("glove", "a.glove.gz"),
        ("fasttext", "a.vec.bz2"),
        ("embtable", "table"),
    ]:
        glove.save(tmp_path / name, format=fmt)
        loaded = Vectors.load(tmp_path / name)
        assert loaded == glove, fmt
    assert Vectors.load(DATA / "euclidean_vectors.bin").matrix.shape == (2747, 10)


def test_embtable_mmap_dtype_limit(tmp_path, glove) -> None:
    glove.save(tmp_path / "t", format="embtable", config={"source": "glove"})
    mapped = Vectors.load(tmp_path / "t", mmap=True, limit=10)
    assert not mapped.matrix.flags.owndata and not mapped.matrix.flags.writeable  # no copy
    assert len(mapped) == 10
    assert Vectors.load(tmp_path / "t", dtype=np.float64).matrix.dtype == np.float64
    with pytest.raises(
        ValueError,
        match=re.escape("mmap=True needs an embtable table directory; 'glove' files are parsed"),
    ):
        Vectors.load(DATA / "test_glove.txt", mmap=True)


def test_container_protocol(glove) -> None:
    assert len(glove) == 76 and glove.dim == 50 and "the" in glove and "zzz" not in glove
    assert_array_equal(glove["the"], glove.matrix[0])
    assert glove.get("zzz") is None and glove.tokens[0] == "the"
    assert repr(glove) == "Vectors(76 tokens, dim=50, dtype=float32)"
    with pytest.raises(
        KeyError, match=re.escape("token 'zzz' is not among the 76 tokens of these vectors")
    ):
        glove["zzz"]


def test_most_similar_matches_brute_force(glove, rng) -> None:
    unit = glove.matrix / np.linalg.norm(glove.matrix, axis=1, keepdims=True)
    for word in ["the", "ö", glove.tokens[40]]:
        scores = unit @ unit[glove.token_to_id[word]]
        order = [i for i in np.argsort(-scores, kind="stable") if glove.tokens[i] != word][:7]
        got = glove.most_similar(word, k=7)
        assert [t for t, _ in got] == [glove.tokens[i] for i in order]
        assert_allclose([s for _, s in got], scores[order], rtol=1e-5)
    vector = rng.normal(size=50)
    assert (
        glove.most_similar(vector, k=3)[0][0]
        == glove.tokens[int(np.argmax(unit @ (vector / np.linalg.norm(vector))))]
    )
    assert len(glove.most_similar("the", k=1000)) == 75
    assert glove.most_similar("the", k=0) == []
    assert "ö" not in [t for t, _ in glove.most_similar("the", k=75, exclude=["ö"])]
    assert {t for t, _ in glove.most_similar("the", k=10, restrict_vocab=5)} <= set(
        glove.tokens[1:5]
    )


@pytest.mark.filterwarnings("ignore:Call to deprecated `init_sims`:DeprecationWarning")
def test_most_similar_matches_gensim(glove) -> None:
    KeyedVectors = pytest.importorskip("gensim.models").KeyedVectors  # noqa: N806
    keyed = KeyedVectors(50)
    keyed.add_vectors(glove.tokens, glove.matrix)
    for word in ["the", "é", glove.tokens[60]]:
        theirs = keyed.most_similar(word, topn=5)
        ours = glove.most_similar(word, k=5)
        assert [t for t, _ in ours] == [t for t, _ in theirs]
        assert_allclose([s for _, s in ours], [s for _, s in theirs], rtol=1e-5)
    theirs = keyed.most_similar(positive=["é", "ö"], negative=["the"], topn=3)
    ours = glove.analogy("the", "é", "ö", k=3)
    assert [t for t, _ in ours] == [t for t, _ in theirs]
    assert_allclose([s for _, s in ours], [s for _, s in theirs], rtol=1e-5)
    theirs = keyed.most_similar_cosmul(positive=["é", "ö"], negative=["the"], topn=3)
    ours = glove.analogy("the", "é", "ö", k=3, method="3cosmul")
    assert [t for t, _ in ours] == [t for t, _ in theirs]
    assert_allclose([s for _, s in ours], [s for _, s in theirs], rtol=1e-5)
    assert glove.similarity("the", "é") == pytest.approx(
        float(keyed.similarity("the", "é")), rel=1e-6
    )


def test_query_errors(glove) -> None:
    with pytest.raises(
        ShapeError, match=re.escape("the query vector must have shape (50,), got (3,)")
    ):
        glove.most_similar([1.0, 2.0, 3.0])
    with pytest.raises(
        ValueError,
        match=re.escape("the query vector has norm 0.0; cosine needs a nonzero finite vector"),
    ):
        glove.most_similar(np.zeros(50))
    with pytest.raises(ValueError, match=re.escape("k must be None or an integer >= 0, got -1")):
        glove.most_similar("the", k=-1)
    with pytest.raises(KeyError, match=re.escape("token 'nope' is not among")):
        glove.analogy("the", "nope", "é")
    with pytest.raises(
        ValueError, match=re.escape("method must be '3cosadd' or '3cosmul', got 'pairdir'")
    ):
        glove.analogy("the", "é", "ö", method="pairdir")  # type: ignore[arg-type]


def test_constructor_errors() -> None:
    with pytest.raises(
        ShapeError, match=re.escape("matrix must have shape (2, D), one row per token, got (3, 2)")
    ):
        Vectors(["a", "b"], np.zeros((3, 2)))
    with pytest.raises(TypeError, match=re.escape("matrix must be floating, got int64")):
        Vectors(["a"], np.zeros((1, 2), dtype=np.int64))
    with pytest.raises(ValueError, match=re.escape("token 'a' appears twice, at rows 0 and 1")):
        Vectors(["a", "a"], np.zeros((2, 2)))
    for key in (1, b"a", None):
        with pytest.raises(
            TypeError,
            match=re.escape(f"tokens must be strings, got {type(key).__name__} {key!r} at row 1"),
        ):
            Vectors(["a", key], np.zeros((2, 2)))
    assert Vectors(np.array(["a", "b"]), np.eye(2)) == Vectors(["a", "b"], np.eye(2))


def test_load_save_argument_errors(tmp_path, glove) -> None:
    with pytest.raises(ValueError, match=re.escape("format must be one of 'auto', 'word2vec'")):
        Vectors.load(DATA / "test_glove.txt", format="csv")  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match=re.escape("format must be one of 'word2vec', 'word2vec-binary'")
    ):
        glove.save(tmp_path / "x", format="auto")  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match=re.escape("config is saved only with format='embtable', not 'glove'")
    ):
        glove.save(tmp_path / "x", format="glove", config={})
    bad = tmp_path / "bad.txt"
    bad.write_text("the 0.1 0.2\ntea 0.5\n")
    with pytest.raises(
        VectorFormatError,
        match=re.escape("bad.txt:2: expected 2 numbers after the token 'tea', found 1"),
    ):
        Vectors.load(bad)


def test_progress_bar_on_request(tmp_path, capsys) -> None:
    Vectors.load(DATA / "test_glove.txt", progress=True)
    assert "test_glove.txt" in capsys.readouterr().err


def test_align_rows_coverage_and_padding() -> None:
    vectors = Vectors(["cat", "dog", "<unk>"], np.array([[1.0, 2.0], [3.0, 4.0], [9.0, 9.0]]))
    vocab = Vocab.build([["cat", "Dog", "emu", "emu"]])  # <unk> <pad> emu cat Dog
    matrix, coverage = vectors.align(vocab, oov="zeros")
    assert_array_equal(matrix, [[9, 9], [0, 0], [0, 0], [1, 2], [3, 4]])
    assert coverage == Coverage(
        total=3, matched=1, lowercase_matched=1, missing=1, missing_tokens=("emu",)
    )
    assert coverage.ratio == pytest.approx(2 / 3)
    matrix, coverage = vectors.align(vocab, oov="mean", lowercase_fallback=False, padding_idx=-1)
    assert_array_equal(matrix[2], [13 / 3, 5])  # mean of the whole table
    assert_array_equal(matrix[4], [0, 0])  # padding row, even though missing
    assert_array_equal(matrix[1], [13 / 3, 5])  # <pad> not padding when padding_idx is given
    assert coverage.missing_tokens == ("emu", "Dog")
    assert Coverage(0, 0, 0, 0, ()).ratio == 1.0


def test_align_random_is_seeded_and_scaled(rng) -> None:
    vectors = Vectors([f"w{i}" for i in range(200)], rng.normal(0, 0.5, size=(200, 8)))
    tokens = [f"x{i}" for i in range(300)]
    first, _ = vectors.align(tokens, rng=7)
    second, coverage = vectors.align(tokens, rng=np.random.default_rng(7))
    assert_array_equal(first, second)
    assert coverage.missing == 300 and coverage.ratio == 0.0
    assert first.std() == pytest.approx(vectors.matrix.std(), rel=0.1)


def test_align_errors() -> None:
    vectors = Vectors(["a"], np.ones((1, 2)))
    with pytest.raises(
        PaddingIndexError,
        match=re.escape(
            "padding_idx 3 is out of range for a vocabulary of 2 tokens (valid: -2..1)"
        ),
    ):
        vectors.align(["a", "b"], padding_idx=3)
    with pytest.raises(
        ValueError, match=re.escape("oov must be 'random', 'zeros' or 'mean', got 'skip'")
    ):
        vectors.align(["a"], oov="skip")  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match=re.escape("oov='random' needs a non-empty table; use oov='zeros'")
    ):
        Vectors([], np.zeros((0, 2))).align(["a"])


@pytest.mark.parametrize("k", [1, 5, 199])
def test_most_similar_ties_keep_row_order(k) -> None:
    matrix = np.zeros((200, 3))
    matrix[:, 0] = 1
    matrix[0] = [1, 1, 0]
    vectors = Vectors([f"w{i}" for i in range(200)], matrix)
    expected = [f"w{i}" for i in range(1, k + 1)]
    assert [word for word, _ in vectors.most_similar("w0", k=k)] == expected
    # w0 scores 0.707 against the query, every other row 1.0: the top k are w1..wk
    assert [word for word, _ in vectors.most_similar([1.0, 0, 0], k=k)] == expected


def test_most_similar_ties_across_scores() -> None:
    # rows 1, 3, 5 tie above rows 0, 2, 4 (which tie too); the cut falls inside the second tie
    matrix = np.array([[1, 1], [1, 0], [1, 1], [1, 0], [1, 1], [1, 0], [0, 1]], float)
    vectors = Vectors([f"w{i}" for i in range(7)], matrix)
    found = vectors.most_similar([1.0, 0], k=5)
    assert [word for word, _ in found] == ["w1", "w3", "w5", "w0", "w2"]
    assert [word for word, _ in vectors.most_similar([1.0, 0], k=5, exclude=["w3"])] == [
        "w1",
        "w5",
        "w0",
        "w2",
        "w4",
    ]
