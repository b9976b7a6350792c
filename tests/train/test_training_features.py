"""CBOW, the options gensim users expect, callbacks, checkpoints and resume, the training record."""

from __future__ import annotations

import csv
import json
import re
import signal
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from embtable._errors import OptionError, OutputError
from embtable.io import load_table
from embtable.train import (
    CSV_COLUMNS,
    Corpus,
    SkipGramModel,
    resume_training,
    train_word2vec,
)

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


@pytest.mark.parametrize("cbow_mean", [True, False])
def test_cbow_learns_as_well_as_gensim(lee, cbow_mean):
    gensim = pytest.importorskip("gensim.models")
    rng = np.random.default_rng(0)
    left, right = _pmi_pairs(lee)
    options = dict(dim=40, epochs=8, window=5, negative=5, sample=1e-3, threads=1)
    ours = train_word2vec(
        lee, architecture="cbow", cbow_mean=cbow_mean, seed=1, progress=False, **options
    )
    assert ours.epoch_losses[-1] < ours.epoch_losses[0]
    sentences = list(lee.iter_sentences())
    theirs = gensim.Word2Vec(
        sentences,
        sg=0,
        cbow_mean=int(cbow_mean),
        vector_size=40,
        window=5,
        negative=5,
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


def test_shared_negatives_learn_like_the_per_pair_rule(lee):
    rng = np.random.default_rng(0)
    left, right = _pmi_pairs(lee)
    options = dict(dim=40, epochs=8, threads=1, seed=1, progress=False)
    classic = train_word2vec(lee, **options)
    shared = train_word2vec(lee, shared_negatives=True, **options)
    assert shared.config["shared_negatives"] and not classic.config["shared_negatives"]
    assert not np.array_equal(shared.input.weight.data, classic.input.weight.data)
    a = _closeness(shared.input.weight.data, left, right, rng)
    b = _closeness(classic.input.weight.data, left, right, rng)
    assert a > 0.2 and a > b - 0.1, (a, b)
    assert shared.epoch_losses[-1] < shared.epoch_losses[0]
    with pytest.raises(OptionError, match="shared_negatives is a skip-gram rule"):
        train_word2vec(lee, architecture="cbow", shared_negatives=True, progress=False)


def test_options_change_the_result_and_are_recorded(lee):
    base = dict(dim=8, epochs=1, threads=1, seed=2, progress=False)
    reference = train_word2vec(lee, **base).input.weight.data
    for option in (
        {"ns_exponent": 0.0},
        {"shrink_windows": False},
        {"architecture": "cbow"},
        {"architecture": "cbow", "cbow_mean": False},
    ):
        model = train_word2vec(lee, **base, **option)
        assert not np.array_equal(model.input.weight.data, reference), option
        assert all(model.config[k] == v for k, v in option.items())
        assert np.isfinite(model.epoch_losses).all()


def test_callbacks_see_every_epoch(lee):
    seen = []
    model = train_word2vec(lee, dim=8, epochs=3, threads=1, progress=False, callbacks=[seen.append])
    assert [end.epoch for end in seen] == [1, 2, 3]
    assert [end.loss for end in seen] == model.epoch_losses
    assert seen[-1].model is model and seen[-1].words_done == 3 * len(lee)
    assert seen[0].learning_rate > seen[-1].learning_rate == pytest.approx(1e-4)


class _InterruptAfter:
    """Wraps the kernel; raises SIGINT (as Ctrl-C would) after ``calls`` kernel calls."""

    def __init__(self, kernel, calls: int) -> None:
        self.kernel, self.calls, self.count = kernel, calls, 0

    def __call__(self, *args):
        self.kernel(*args)
        if args[2].shape[0]:  # not the compiling warm-up call
            self.count += 1
            if self.count == self.calls:
                signal.raise_signal(signal.SIGINT)


@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_ctrl_c_mid_epoch_then_resume_equals_one_run_bit_for_bit(
    lee, tmp_path, monkeypatch, architecture
):
    import embtable.kernels.sgns as kernels
    import embtable.train.sgns as trainer

    monkeypatch.setattr(trainer, "_BLOCK_WORDS", 7_000)  # several chunks per epoch
    options = dict(architecture=architecture, dim=12, epochs=3, threads=1, seed=4, progress=False)
    whole = train_word2vec(lee, **options)
    monkeypatch.setattr(kernels, "train_sgns_block", _InterruptAfter(kernels.train_sgns_block, 13))
    with pytest.raises(KeyboardInterrupt):
        train_word2vec(lee, **options, checkpoint_dir=tmp_path / "run")
    monkeypatch.undo()
    monkeypatch.setattr(trainer, "_BLOCK_WORDS", 7_000)
    saved = SkipGramModel.load(tmp_path / "run")
    assert not saved.complete and saved.state["epoch"] == 1 and saved.state["sentence"] > 0
    weight, tokens, _ = load_table(tmp_path / "run")  # a loadable table at once
    assert tokens == lee.vocab.id_to_token and weight.shape == (len(tokens), 12)
    resumed = resume_training(tmp_path / "run", progress=False)  # re-reads LEE itself
    assert resumed.complete
    assert_array_equal(resumed.input.weight.data, whole.input.weight.data)
    assert_array_equal(resumed.output.weight.data, whole.output.weight.data)
    assert resumed.epoch_losses == whole.epoch_losses
    assert [r["words_done"] for r in resumed.history] == [r["words_done"] for r in whole.history]
    again = SkipGramModel.load(tmp_path / "run")
    assert again.complete and again.epoch_losses == whole.epoch_losses
    with pytest.raises(OptionError, match="the run there is complete"):
        resume_training(tmp_path / "run", lee, progress=False)


def test_two_threads_resume_to_equal_quality(lee, tmp_path):
    class StopTraining(Exception):  # noqa: N818 - a signal, not an error
        pass

    def stop(end):
        if end.epoch == 2:
            raise StopTraining

    options = dict(dim=24, epochs=5, threads=2, seed=0, progress=False)
    whole = train_word2vec(lee, **options)
    with pytest.raises(StopTraining):
        train_word2vec(lee, **options, checkpoint_dir=tmp_path / "r", callbacks=[stop])
    resumed = resume_training(tmp_path / "r", lee, progress=False)
    # Hogwild threads race, so equality is statistical: the same losses within noise.
    assert len(resumed.epoch_losses) == 5
    assert abs(resumed.epoch_losses[-1] - whole.epoch_losses[-1]) < 0.03
    rng = np.random.default_rng(1)
    left, right = _pmi_pairs(lee)
    a = _closeness(resumed.input.weight.data, left, right, rng)
    b = _closeness(whole.input.weight.data, left, right, rng)
    assert abs(a - b) < 0.05, (a, b)


def test_resume_refuses_another_corpus(lee, tmp_path):
    class StopTraining(Exception):  # noqa: N818 - a signal, not an error
        pass

    def stop(end):
        raise StopTraining

    with pytest.raises(StopTraining):
        train_word2vec(
            lee,
            dim=4,
            epochs=2,
            threads=1,
            progress=False,
            checkpoint_dir=tmp_path / "r",
            callbacks=[stop],
        )
    other = Corpus.from_sentences([["the", "of", "the"]] * 40, min_count=1)
    from embtable._errors import CorpusError

    with pytest.raises(CorpusError, match="differs from the checkpoint"):
        resume_training(tmp_path / "r", other, progress=False)


def test_periodic_checkpoints(lee, tmp_path, monkeypatch):
    import embtable.train.sgns as trainer

    monkeypatch.setattr(trainer, "_BLOCK_WORDS", 20_000)
    saves = []
    original = SkipGramModel.save

    def counting_save(self, directory, **kw):
        saves.append(dict(self.state))
        return original(self, directory, **kw)

    monkeypatch.setattr(SkipGramModel, "save", counting_save)
    train_word2vec(
        lee,
        dim=4,
        epochs=2,
        threads=1,
        progress=False,
        checkpoint_dir=tmp_path / "c",
        checkpoint_every=1e-9,
    )
    assert len(saves) >= 6 and saves[-1]["complete"]
    assert any(not s["complete"] and s["sentence"] > 0 for s in saves)


def test_training_csv_records_every_chunk(lee, tmp_path, monkeypatch):
    import embtable.train.sgns as trainer

    monkeypatch.setattr(trainer, "_BLOCK_WORDS", 10_000)
    model = train_word2vec(lee, dim=8, epochs=2, threads=1, progress=False)
    model.save(tmp_path / "m")
    with open(tmp_path / "m" / "training.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == len(model.history) >= 8
    words = [int(r["words_done"]) for r in rows]
    assert words == sorted(words) and words[-1] == 2 * len(lee)
    assert {r["epoch"] for r in rows} == {"1", "2"}
    rates = [float(r["learning_rate"]) for r in rows]
    assert rates == sorted(rates, reverse=True) and rates[-1] == pytest.approx(1e-4)
    assert all(float(r["loss"]) > 0 and float(r["words_per_second"]) > 0 for r in rows)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert not (tmp_path / "m" / "training.png").exists()
    else:
        assert (tmp_path / "m" / "training.png").read_bytes()[:4] == b"\x89PNG"
    meta = json.loads((tmp_path / "m" / "meta.json").read_text())
    assert meta["state"]["complete"] and meta["format_version"] == 2


def test_the_bar_ends_on_the_final_loss(lee, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    model = train_word2vec(lee, dim=8, epochs=2, threads=1, progress=True)
    lines = [re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", s) for s in capsys.readouterr().err.split("\r")]
    bars = [line.strip() for line in lines if "loss" in line]
    assert bars and all(len(line) <= 60 for line in bars)
    last = re.search(r"loss (\d+\.\d+) lr (\d+\.\d+)", bars[-1])
    assert last and last.group(1) == f"{model.epoch_losses[-1]:.4f}"
    assert last.group(2) == "0.00010"


def test_outputs_are_checked_before_training(lee, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="it exists and is not a directory"):
        train_word2vec(lee, dim=4, epochs=1, progress=False, checkpoint_dir=tmp_path / "file")
    model = train_word2vec(lee, dim=4, epochs=1, threads=1, progress=False)
    with pytest.raises(OutputError, match="does not exist"):
        model.save(tmp_path / "t", word2vec_binary=tmp_path / "no_dir" / "x.bin")
    assert not (tmp_path / "t").exists()
    with pytest.raises(OptionError, match="checkpoint_every needs checkpoint_dir"):
        train_word2vec(lee, dim=4, epochs=1, progress=False, checkpoint_every=5)


def test_a_table_saved_by_an_older_embtable_is_not_resumable(lee, tmp_path):
    from embtable._errors import VectorFormatError
    from embtable.io import save_table

    save_table(tmp_path / "old", np.zeros((2, 3), np.float32), ["a", "b"])
    (tmp_path / "old" / "meta.json").write_text('{"hyperparameters": {}}')
    with pytest.raises(VectorFormatError, match=r"no output\.safetensors"):
        resume_training(tmp_path / "old", lee)
