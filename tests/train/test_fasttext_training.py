"""fastText (subword) training: unseen words get vectors, and the .bin is gensim's."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from embtable._errors import OptionError, OptionTypeError
from embtable.train import Corpus, SkipGramModel, train_word2vec

_STEMS = ["walk", "talk", "jump", "paint", "climb", "kick", "cook", "clean", "count", "print"]
_SUFFIXES = ["", "s", "ed", "er"]
_HELD_OUT = "ing"  # never in the corpus: "walking" etc. are unseen words


def _corpus(seed: int = 0) -> Corpus:
    """Each sentence is about one stem: its inflections among generic filler words."""
    rng = np.random.default_rng(seed)
    filler = [f"f{i}" for i in range(30)]
    sentences = []
    for _ in range(1500):
        stem = _STEMS[int(rng.integers(len(_STEMS)))]
        words = [stem + _SUFFIXES[int(k)] for k in rng.integers(0, len(_SUFFIXES), 4)]
        words += [filler[int(k)] for k in rng.integers(0, len(filler), 4)]
        rng.shuffle(words)
        sentences.append(words)
    return Corpus.from_sentences(sentences, min_count=1)


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="module")
def models() -> dict:
    corpus = _corpus()
    return {
        arch: train_word2vec(
            corpus,
            architecture=arch,
            dim=24,
            epochs=3,
            threads=1,
            sample=0,
            seed=1,
            subwords=(3, 5),
            buckets=5000,
            progress=False,
        )
        for arch in ("skipgram", "cbow")
    }


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_unseen_inflections_are_nearest_their_own_stem(models, arch):
    vectors = models[arch].fasttext_vectors()
    assert vectors.input_matrix.shape == (len(vectors) + 5000, 24)
    wins = 0
    for stem in _STEMS:
        unseen = stem + _HELD_OUT
        assert unseen not in vectors.token_to_id
        query = vectors[unseen]
        own = np.mean([_cos(query, vectors[stem + s]) for s in _SUFFIXES])
        others = np.mean(
            [_cos(query, vectors[o + s]) for o in _STEMS if o != stem for s in _SUFFIXES]
        )
        wins += own > others + 0.1
    assert wins >= 9


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_training_learns_the_stems_topics(models, arch):
    """Words of one stem end up closer to each other than to another stem's words, beyond
    what shared characters give an untrained model."""
    vectors = models[arch].fasttext_vectors()
    same = np.mean([_cos(vectors[s + "s"], vectors[s + "er"]) for s in _STEMS])
    across = np.mean(
        [_cos(vectors[a + "s"], vectors[b + "er"]) for a in _STEMS for b in _STEMS if a != b]
    )
    assert same - across > 0.3


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_bin_loads_in_gensim_with_the_same_vectors(models, arch, tmp_path):
    gensim_fasttext = pytest.importorskip("gensim.models.fasttext")
    model = models[arch]
    path = tmp_path / "model.bin"
    model.save_bin(path)
    loaded = gensim_fasttext.load_facebook_model(str(path))
    ours = model.fasttext_vectors()
    assert loaded.wv.min_n == 3 and loaded.wv.max_n == 5 and loaded.wv.bucket == 5000
    assert loaded.sg == (arch == "skipgram")
    words = ["walks", "f3", "walking", "printing", "unrelated", "xq"]
    for word in words:
        assert_allclose(loaded.wv[word], ours[word], atol=1e-6)
    assert_allclose(loaded.wv.vectors_ngrams, model.input.weight.data[len(ours) :], atol=0)


def test_vectors_of_a_subword_model_are_fasttext_vectors(models):
    from embtable.fasttext import FastTextVectors

    vectors = models["cbow"].vectors()
    assert isinstance(vectors, FastTextVectors)
    assert vectors.args.model_name == "cbow"


def test_bad_subword_options_are_refused(tmp_path):
    corpus = Corpus.from_sentences([["a", "b", "c"]] * 10, min_count=1)
    common = dict(dim=4, epochs=1, threads=1, sample=0, progress=False)
    with pytest.raises(OptionError, match="minn <= maxn"):
        train_word2vec(corpus, subwords=(5, 3), **common)
    with pytest.raises(OptionTypeError, match="pair of integers"):
        train_word2vec(corpus, subwords=3, **common)
    with pytest.raises(OptionError, match="buckets"):
        train_word2vec(corpus, subwords=(3, 6), buckets=0, **common)
    with pytest.raises(OptionError, match="shared_negatives"):
        train_word2vec(corpus, subwords=(3, 6), shared_negatives=True, **common)
    with pytest.raises(OptionError, match="cbow_mean"):
        train_word2vec(corpus, subwords=(3, 6), architecture="cbow", cbow_mean=False, **common)
    with pytest.raises(OptionError, match="hierarchical softmax"):
        train_word2vec(corpus, subwords=(3, 6), hs=True, **common)
    plain = train_word2vec(corpus, **common)
    with pytest.raises(OptionError, match="without subwords"):
        plain.save_bin(tmp_path / "x.bin")
    sub = train_word2vec(corpus, subwords=(2, 3), buckets=10, **common)
    sub.save(tmp_path / "table")  # a checkpoint: the whole input table, n-gram rows included
    assert_array_equal(
        SkipGramModel.load(tmp_path / "table").input.weight.data, sub.input.weight.data
    )
