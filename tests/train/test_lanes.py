"""Lanes (the streams of jobs that the threads take) train what one lane trains.

With several threads a chunk's jobs are dealt to ``4 x threads`` lanes, each with its own
generator. Whatever the dealing, every sentence must be trained once per epoch, at the learning
rate of its place in the corpus, with the same number of examples, and the result must be as
good as one lane's.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

import embtable.train.sgns as sgns
from embtable.train import Corpus, train_word2vec


def _zipf_corpus(seed: int = 0) -> Corpus:
    rng = np.random.default_rng(seed)
    sentences = [
        [f"w{int(x) % 400}" for x in rng.zipf(1.3, size=int(rng.integers(1, 1200)))]
        for _ in range(300)
    ]
    return Corpus.from_sentences(sentences, min_count=1)


def _topic_corpus(seed: int = 0) -> tuple[Corpus, list[list[str]]]:
    """Sentences drawn from one of 8 topics of 12 words each, plus common filler."""
    rng = np.random.default_rng(seed)
    topics = [[f"t{t}w{i}" for i in range(12)] for t in range(8)]
    filler = [f"f{i}" for i in range(20)]
    sentences = []
    for _ in range(3000):
        topic = topics[int(rng.integers(len(topics)))]
        words = [topic[int(k)] for k in rng.integers(0, 12, 8)]
        words += [filler[int(k)] for k in rng.integers(0, 20, 3)]
        rng.shuffle(words)
        sentences.append(words)
    return Corpus.from_sentences(sentences, min_count=1), topics


def _separation(model, topics) -> float:
    vectors = model.vectors()
    matrix = vectors[[w for topic in topics for w in topic]]
    matrix = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    cosines = matrix @ matrix.T
    labels = np.repeat(np.arange(len(topics)), len(topics[0]))
    same = labels[:, None] == labels[None, :]
    np.fill_diagonal(same, False)
    other = labels[:, None] != labels[None, :]
    return float(cosines[same].mean() - cosines[other].mean())


@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_many_lanes_follow_the_serial_schedule(monkeypatch, architecture):
    """8 lanes on one thread (the serial twin): the same words, examples and learning rates
    chunk by chunk as one lane, and a loss equal within noise."""
    corpus = _zipf_corpus()
    runs = {}
    for lanes in (1, 8):
        monkeypatch.setattr(sgns, "_lanes", lambda threads, n=lanes: n)
        runs[lanes] = train_word2vec(
            corpus,
            architecture=architecture,
            dim=8,
            epochs=2,
            threads=1,
            sample=0,
            shrink_windows=False,
            progress=False,
        )
    one, many = runs[1], runs[8]
    assert len(many.state["rng_state"]) == 8 == len(set(many.state["rng_state"]))
    for key in ("epoch", "words_done", "learning_rate"):
        assert [h[key] for h in many.history] == [h[key] for h in one.history]
    assert many.stats["training"]["words"] == one.stats["training"]["words"] == 2 * len(corpus)
    np.testing.assert_allclose(many.epoch_losses, one.epoch_losses, rtol=2e-3)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_two_threads_learn_as_well_as_one(architecture):
    corpus, topics = _topic_corpus()
    scores = {
        threads: np.mean(
            [
                _separation(
                    train_word2vec(
                        corpus,
                        architecture=architecture,
                        dim=16,
                        epochs=3,
                        threads=threads,
                        sample=0,
                        seed=seed,
                        progress=False,
                    ),
                    topics,
                )
                for seed in (0, 1)
            ]
        )
        for threads in (1, 2)
    }
    assert scores[1] > 0.3
    assert abs(scores[2] - scores[1]) < 0.05, scores
