"""Hierarchical softmax (``hs=True``): quality against gensim, checkpoints and resume, options."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from embtable._errors import OptionError
from embtable.train import Corpus, SkipGramModel, resume_training, train_word2vec

LEE = Path(__file__).parent.parent / "data" / "lee_background.cor"


@pytest.fixture(scope="module")
def lee() -> Corpus:
    return Corpus.from_files([LEE], min_count=5)


def _pmi_pairs(corpus: Corpus):
    """Pairs of words adjacent far more often than chance (count >= 8, PMI > 3)."""
    ids, counts, total = np.asarray(corpus.ids), corpus.counts, len(corpus)
    adjacent = ids[:-1].astype(np.int64) * len(counts) + ids[1:]
    pair, seen = np.unique(adjacent, return_counts=True)
    left, right = pair // len(counts), pair % len(counts)
    pmi = np.log(seen * total / (counts[left] * counts[right]))
    chosen = (seen >= 8) & (left != right) & (pmi > 3)
    return left[chosen], right[chosen]


def _closeness(matrix: np.ndarray, left, right, rng) -> float:
    """Mean cosine of the PMI pairs minus that of random pairs (common direction removed)."""
    centred = matrix - matrix.mean(axis=0)
    unit = centred / np.linalg.norm(centred, axis=1, keepdims=True)
    close = np.einsum("ij,ij->i", unit[left], unit[right]).mean()
    a, b = rng.integers(0, len(matrix), (2, 3000))
    return float(close - np.einsum("ij,ij->i", unit[a], unit[b]).mean())


@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_hierarchical_softmax_learns_as_well_as_gensim(lee, architecture):
    """``hs=True, negative=0`` against gensim's ``hs=1, negative=0`` on the Lee corpus: the
    same tree (gensim's), so the closeness of strongly associated pairs is within noise.

    The tolerance, 0.1 of closeness, is the one the CBOW and shared-negatives tests use: on
    this 60k-word corpus gensim's own seeds spread by about 0.03, and a broken update (a
    wrong sign, the wrong path, the table not learning) gives closeness near 0.
    """
    gensim = pytest.importorskip("gensim.models")
    rng = np.random.default_rng(0)
    left, right = _pmi_pairs(lee)
    options = dict(dim=40, epochs=8, window=5, sample=1e-3, threads=1)
    ours = train_word2vec(
        lee, architecture=architecture, hs=True, negative=0, seed=1, progress=False, **options
    )
    assert ours.output_hs is not None and ours.output_hs.weight.data.shape == (
        len(lee.vocab) - 1,
        40,
    )
    assert not ours.output.weight.data.any()  # negative sampling's table is not trained
    assert ours.epoch_losses[-1] < ours.epoch_losses[0]
    theirs = gensim.Word2Vec(
        list(lee.iter_sentences()),
        sg=int(architecture == "skipgram"),
        hs=1,
        negative=0,
        vector_size=40,
        window=5,
        sample=1e-3,
        min_count=1,
        workers=1,
        epochs=8,
        seed=1,
    )
    order = [theirs.wv.key_to_index[w] for w in lee.vocab.id_to_token]
    ours_score = _closeness(ours.input.weight.data, left, right, rng)
    gensim_score = _closeness(theirs.wv.vectors[order], left, right, rng)
    assert ours_score > 0.2
    assert ours_score > gensim_score - 0.1, (ours_score, gensim_score)


class _Stop(Exception):  # noqa: N818 - a signal, not an error
    pass


def _stop_after_first(end):
    if end.epoch == 1:
        raise _Stop


@pytest.mark.parametrize(("architecture", "negative"), [("skipgram", 0), ("cbow", 3)])
def test_resume_equals_one_run_bit_for_bit(lee, tmp_path, architecture, negative):
    options = dict(
        architecture=architecture,
        hs=True,
        negative=negative,
        dim=8,
        epochs=2,
        threads=1,
        seed=5,
        progress=False,
    )
    whole = train_word2vec(lee, **options)
    with pytest.raises(_Stop):
        train_word2vec(
            lee, **options, checkpoint_dir=tmp_path / "run", callbacks=[_stop_after_first]
        )
    meta = json.loads((tmp_path / "run" / "meta.json").read_text())
    expected = "hierarchical softmax" + (" + negative sampling" if negative else "")
    assert meta["model"] == f"{architecture} {expected}"
    assert (tmp_path / "run" / "output_hs.safetensors").is_file()
    saved = SkipGramModel.load(tmp_path / "run")
    assert not saved.complete and saved.config["hs"] is True
    assert saved.output_hs is not None and not np.array_equal(
        saved.output_hs.weight.data, whole.output_hs.weight.data
    )
    resumed = resume_training(tmp_path / "run", lee, progress=False)
    assert resumed.complete and resumed.epoch_losses == whole.epoch_losses
    assert_array_equal(resumed.input.weight.data, whole.input.weight.data)
    assert_array_equal(resumed.output.weight.data, whole.output.weight.data)
    assert_array_equal(resumed.output_hs.weight.data, whole.output_hs.weight.data)
    again = SkipGramModel.load(tmp_path / "run")
    assert_array_equal(again.output_hs.weight.data, whole.output_hs.weight.data)


def test_a_checkpoint_without_its_hs_table_is_refused(lee, tmp_path):
    from embtable._errors import VectorFormatError

    train_word2vec(
        lee,
        hs=True,
        negative=0,
        dim=4,
        epochs=1,
        threads=1,
        progress=False,
        checkpoint_dir=tmp_path / "run",
    )
    (tmp_path / "run" / "output_hs.safetensors").unlink()
    with pytest.raises(VectorFormatError, match=r"output_hs\.safetensors: missing"):
        SkipGramModel.load(tmp_path / "run")


def test_hs_with_negative_sampling_differs_from_either_alone(lee):
    base = dict(dim=8, epochs=1, threads=1, seed=2, progress=False)
    both = train_word2vec(lee, hs=True, negative=5, **base)
    alone = train_word2vec(lee, hs=True, negative=0, **base)
    plain = train_word2vec(lee, negative=5, **base)
    assert both.output.weight.data.any() and not alone.output.weight.data.any()
    assert plain.output_hs is None and plain.config["hs"] is False
    assert not np.array_equal(both.input.weight.data, alone.input.weight.data)
    assert not np.array_equal(both.input.weight.data, plain.input.weight.data)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(negative=0), "pass hs=True"),
        (dict(hs=True, shared_negatives=True), "not implemented with shared_negatives"),
        (dict(hs=True, subwords=(3, 5), buckets=100), "not implemented with subwords"),
        (dict(hs=True, negative=-1), "negative must be an integer in 0..1000"),
    ],
)
def test_bad_combinations_are_refused_before_training(options, message):
    corpus = Corpus.from_sentences([["a", "b"]] * 3, min_count=1)
    with pytest.raises(OptionError, match=message):
        train_word2vec(corpus, threads=1, progress=False, **options)


def test_hs_option_must_be_a_bool():
    from embtable._errors import OptionTypeError

    corpus = Corpus.from_sentences([["a", "b"]] * 3, min_count=1)
    with pytest.raises(OptionTypeError, match="hs must be True or False, got 1"):
        train_word2vec(corpus, hs=1, threads=1, progress=False)
