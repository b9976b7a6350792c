"""The skip-gram trainer: corpus indexing, reproducibility, learning, saving."""

from __future__ import annotations

import bz2
import gzip
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from embtable import Embedding
from embtable._errors import CorpusError, OptionError, OptionTypeError
from embtable.io import load_table
from embtable.train import (
    Corpus,
    alias_table,
    bundled_corpus,
    keep_probabilities,
    train_sgns,
    train_word2vec,
)

LEE = Path(__file__).parent.parent / "data" / "lee_background.cor"


@pytest.fixture(scope="module")
def lee() -> Corpus:
    return Corpus.from_files([LEE], min_count=5)


def test_corpus_orders_by_count_then_first_appearance():
    corpus = Corpus.from_sentences(
        [["b", "a", "c", "x"], ["a", "b", "d"], ["c", "d", "a"]], min_count=2
    )
    assert corpus.vocab.id_to_token == ["a", "b", "c", "d"]
    assert corpus.vocab.specials == ()
    assert_array_equal(corpus.counts, [3, 2, 2, 2])
    assert_array_equal(corpus.ids, [1, 0, 2, 0, 1, 3, 2, 3, 0])
    assert_array_equal(corpus.sentence_offsets, [0, 3, 6, 9])
    assert (corpus.tokens_read, len(corpus)) == (10, 9)


def test_corpus_max_vocab_drops_sentences_left_empty_and_cuts_long_ones():
    sentences = [["a"] * 7 + ["b"] * 3, ["c", "c"], [], ["a", "b", "a"]]
    corpus = Corpus.from_sentences(sentences, min_count=1, max_vocab=2, max_sentence_length=4)
    assert corpus.vocab.id_to_token == ["a", "b"]
    assert_array_equal(corpus.sentence_offsets, [0, 4, 8, 10, 13])
    assert corpus.ids.dtype == np.int32 and len(corpus) == 13


def test_corpus_from_files_reads_plain_gzip_and_bzip2(tmp_path):
    text = "The cat sat.\nthe dog sat\n"
    (tmp_path / "a.txt").write_text(text, encoding="utf-8")
    (tmp_path / "b.gz").write_bytes(gzip.compress(text.encode()))
    (tmp_path / "c.bz2").write_bytes(bz2.compress(text.encode()))
    paths = [tmp_path / "a.txt", tmp_path / "b.gz", tmp_path / "c.bz2"]
    corpus = Corpus.from_files(paths, min_count=3)
    assert corpus.vocab.id_to_token == ["the", "sat", "cat", "dog"]
    assert corpus.files == tuple(str(p) for p in paths)
    assert len(corpus.sentence_offsets) == 7
    cased = Corpus.from_files(paths[:1], min_count=1, lower=False)
    assert cased.vocab.id_to_token == ["sat", "The", "cat", "the", "dog"]


def test_corpus_errors(tmp_path):
    missing = tmp_path / "missing.txt"
    with pytest.raises(FileNotFoundError, match=r"no such file or directory: .*missing\.txt"):
        Corpus.from_files([missing])
    with pytest.raises(CorpusError, match="at least one file"):
        Corpus.from_files([])
    with pytest.raises(OptionError, match=r"min_count must be an integer >= 1, got 0"):
        Corpus.from_sentences([["a"]], min_count=0)


def test_keep_probabilities_is_word2vec_formula():
    counts = np.array([5000, 700, 30, 1])
    sample = 1e-3
    threshold = sample * counts.sum()
    expected = [min(1.0, (math.sqrt(c / threshold) + 1) * threshold / c) for c in counts]
    assert_allclose(keep_probabilities(counts, sample), expected)
    assert_array_equal(keep_probabilities(counts, 0.0), np.ones(4))


@pytest.mark.parametrize("size", [1, 2, 5, 300])
def test_alias_table_reproduces_the_distribution(rng, size):
    weights = rng.random(size) ** 3 + 1e-3
    accept, alias = alias_table(weights)
    probability = (accept + np.bincount(alias, weights=1 - accept, minlength=size)) / size
    assert_allclose(probability, weights / weights.sum(), rtol=1e-9, atol=1e-12)


def test_tables_are_embeddings_initialised_like_word2vec(lee):
    model = train_sgns(
        lee, dim=20, epochs=1, threads=1, seed=3, progress=False, alpha=1e-30, min_alpha=0.0
    )
    assert isinstance(model.input, Embedding) and isinstance(model.output, Embedding)
    weight = model.input.weight.data
    assert weight.shape == (len(lee.vocab), 20) and weight.dtype == np.float32
    assert np.abs(weight).max() <= 0.5 / 20 and weight.std() > 0.1 / 20
    assert np.abs(model.output.weight.data).max() < 1e-25  # alpha ~0: ~nothing moved from zero


def test_single_thread_seeded_runs_are_bit_identical(lee):
    runs = [
        train_sgns(lee, dim=16, epochs=1, threads=1, seed=seed, progress=False)
        for seed in (5, 5, 6)
    ]
    assert_array_equal(runs[0].input.weight.data, runs[1].input.weight.data)
    assert_array_equal(runs[0].output.weight.data, runs[1].output.weight.data)
    assert runs[0].epoch_losses == runs[1].epoch_losses
    assert not np.array_equal(runs[0].input.weight.data, runs[2].input.weight.data)


def test_loss_decreases_and_two_threads_train_too(lee):
    for threads in (1, 2):
        model = train_sgns(lee, dim=32, epochs=4, threads=threads, seed=0, progress=False)
        losses = model.epoch_losses
        assert len(losses) == 4 and all(np.isfinite(losses))
        assert losses[-1] < losses[0] - 0.05, losses
        assert model.stats["training"]["words"] == 4 * len(lee)


def test_co_occurring_words_end_up_closer_than_random_pairs(lee, rng):
    model = train_sgns(lee, dim=50, epochs=10, threads=1, seed=1, progress=False)
    # Small-corpus vectors share a common direction; remove it before comparing directions.
    centred = model.input.weight.data - model.input.weight.data.mean(axis=0)
    unit = centred / np.linalg.norm(centred, axis=1, keepdims=True)
    # Pairs of words adjacent in the text far more often than chance (high PMI, count >= 8).
    ids, counts, total = lee.ids, lee.counts, len(lee)
    adjacent = ids[:-1].astype(np.int64) * len(counts) + ids[1:]
    pair, seen = np.unique(adjacent, return_counts=True)
    left, right = pair // len(counts), pair % len(counts)
    pmi = np.log(seen * total / (counts[left] * counts[right]))
    chosen = (seen >= 8) & (left != right) & (pmi > 3)
    assert chosen.sum() >= 20
    close = np.einsum("ij,ij->i", unit[left[chosen]], unit[right[chosen]])
    a, b = rng.integers(0, len(counts), (2, 2000))
    random = np.einsum("ij,ij->i", unit[a], unit[b])
    assert close.mean() > random.mean() + 0.3, (close.mean(), random.mean())
    assert (close > np.quantile(random, 0.9)).mean() > 0.4


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("dim", 0, "dim must be an integer in 1..1048576, got 0"),
        ("window", 1.5, "window must be an integer, got 1.5"),
        ("window", 0, "window must be an integer in 1..65536, got 0"),
        ("negative", 0, "negative must be an integer >= 1, got 0"),
        ("negative", -1, "negative must be an integer >= 1, got -1"),
        ("sample", -1e-3, "sample must be a finite number in [0.0, 1.0], got -0.001"),
        ("alpha", 0, "alpha must be a finite number in (0.0, 10.0], got 0"),
        ("alpha", float("nan"), "alpha must be a finite number in (0.0, 10.0], got nan"),
        ("min_alpha", 0.5, "min_alpha must be a finite number in [0.0, 0.025], got 0.5"),
        ("threads", 0, "threads must be an integer in 1.."),
        ("threads", 10**6, "threads must be an integer in 1.."),
        ("ns_exponent", 2.0, "ns_exponent must be a finite number in [-1.0, 1.0], got 2.0"),
        ("architecture", "hs", "architecture must be 'skipgram' or 'cbow', got 'hs'"),
        ("epochs", 0, "epochs must be an integer in 1..1048576, got 0"),
    ],
)
def test_bad_options_raise_before_training(option, value, message):
    corpus = Corpus.from_sentences([["a", "b"]], min_count=1)
    with pytest.raises((OptionError, OptionTypeError), match=re.escape(message)):
        train_word2vec(corpus, progress=False, **{option: value})


def test_too_small_corpus():
    corpus = Corpus.from_sentences([["a"], ["b", "c"]], min_count=2)
    with pytest.raises(CorpusError, match="the corpus has 0 retained words"):
        train_sgns(corpus, progress=False)


def test_save_writes_a_table_and_meta(lee, tmp_path):
    model = train_sgns(lee, dim=8, epochs=1, threads=1, seed=0, progress=False)
    model.save(tmp_path / "out")
    weight, tokens, config = load_table(tmp_path / "out")
    assert_array_equal(weight, model.input.weight.data)
    assert tokens == model.vocab.id_to_token
    assert config == {
        "num_embeddings": len(tokens),
        "embedding_dim": 8,
        "tokenizer": model.config["tokenizer"],
    }
    meta = json.loads((tmp_path / "out" / "meta.json").read_text())
    assert meta["hyperparameters"]["dim"] == 8 and meta["hyperparameters"]["min_count"] == 5
    assert meta["corpus"]["files"] == [str(LEE)]
    assert meta["corpus"]["vocab_size"] == len(tokens)
    assert meta["corpus"]["retained_words"] == len(lee)
    assert meta["training"]["words_per_second"] > 0


def test_bundled_corpus_is_in_the_package():
    path = Path(bundled_corpus())
    assert path.is_file() and path.stat().st_size > 1_000_000
    assert (path.parent / "README.md").is_file()


def test_training_from_a_worker_thread_matches_the_main_thread(lee):
    # numba's workqueue layer must not be entered from two threads: outside the main thread the
    # trainer runs the serial twin of its kernel, with the same result for one thread.
    from concurrent.futures import ThreadPoolExecutor

    def train():
        return train_sgns(lee, dim=8, epochs=1, threads=1, seed=3, progress=False)

    main = train()
    with ThreadPoolExecutor(2) as pool:
        results = [future.result() for future in [pool.submit(train) for _ in range(2)]]
    for result in results:
        assert_array_equal(result.input.weight.data, main.input.weight.data)


def test_corpus_refuses_untokenised_strings():
    with pytest.raises(
        OptionTypeError,
        match=re.escape("sentences must be sequences of tokens, got the string 'the cat sat'"),
    ):
        Corpus.from_sentences(["the cat sat"], min_count=1)


def test_an_epoch_without_pairs_is_an_error():
    corpus = Corpus.from_sentences([["a"]] * 50, min_count=1)  # one-word sentences: no context
    with pytest.raises(CorpusError, match="epoch 1 trained no example"):
        train_sgns(corpus, dim=4, epochs=1, threads=1, progress=False)


def test_numpy_integer_options_save_as_json(lee, tmp_path):
    model = train_sgns(
        lee, dim=np.int64(4), epochs=np.int64(1), threads=np.int64(1), progress=False
    )
    model.save(tmp_path / "t")
    meta = json.loads((tmp_path / "t" / "meta.json").read_text())
    assert meta["hyperparameters"]["dim"] == 4
