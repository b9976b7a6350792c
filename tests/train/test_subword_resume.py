"""Subword (fastText) models: checkpoints and resume, bit for bit with one thread."""

from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from embtable.io import load_table
from embtable.train import Corpus, SkipGramModel, resume_training, train_word2vec

LEE = Path(__file__).parent.parent / "data" / "lee_background.cor"


@pytest.fixture(scope="module")
def lee() -> Corpus:
    return Corpus.from_files([LEE], min_count=5)


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
    import embtable.kernels.fasttext_train as kernels
    import embtable.train.sgns as trainer

    monkeypatch.setattr(trainer, "_BLOCK_WORDS", 9_000)  # several chunks per epoch
    options = dict(
        architecture=architecture,
        subwords=(3, 5),
        buckets=3_000,
        dim=8,
        epochs=2,
        threads=1,
        seed=6,
        progress=False,
    )
    whole = train_word2vec(lee, **options)
    monkeypatch.setattr(
        kernels, "train_fasttext_block", _InterruptAfter(kernels.train_fasttext_block, 5)
    )
    with pytest.raises(KeyboardInterrupt):
        train_word2vec(lee, **options, checkpoint_dir=tmp_path / "run")
    monkeypatch.undo()
    monkeypatch.setattr(trainer, "_BLOCK_WORDS", 9_000)
    saved = SkipGramModel.load(tmp_path / "run")
    assert not saved.complete and saved.state["sentence"] > 0
    assert saved.subwords == (3, 5, 3_000)
    assert saved.input.weight.data.shape == (len(lee.vocab) + 3_000, 8)
    assert not np.array_equal(saved.input.weight.data, whole.input.weight.data)
    # The table in the directory is usable at once: fastText's word vectors of the checkpoint.
    weight, tokens, _ = load_table(tmp_path / "run")
    assert tokens == lee.vocab.id_to_token
    assert_array_equal(weight, saved.fasttext_vectors().matrix)
    resumed = resume_training(tmp_path / "run", progress=False)  # re-reads LEE itself
    assert resumed.complete and resumed.epoch_losses == whole.epoch_losses
    assert_array_equal(resumed.input.weight.data, whole.input.weight.data)  # n-gram rows too
    assert_array_equal(resumed.output.weight.data, whole.output.weight.data)
    assert [r["words_done"] for r in resumed.history] == [r["words_done"] for r in whole.history]
    assert_array_equal(resumed.counts, whole.counts)
    resumed.save_bin(tmp_path / "resumed.bin")
    whole.save_bin(tmp_path / "whole.bin")
    assert (tmp_path / "resumed.bin").read_bytes() == (tmp_path / "whole.bin").read_bytes()


def test_a_checkpoint_without_its_ngram_table_is_refused(lee, tmp_path):
    from embtable._errors import VectorFormatError

    train_word2vec(
        lee,
        subwords=(3, 4),
        buckets=500,
        dim=4,
        epochs=1,
        threads=1,
        progress=False,
        checkpoint_dir=tmp_path / "run",
    )
    loaded = SkipGramModel.load(tmp_path / "run")
    assert loaded.complete and loaded.input.weight.data.shape == (len(lee.vocab) + 500, 4)
    (tmp_path / "run" / "input.safetensors").unlink()
    with pytest.raises(VectorFormatError, match=r"input\.safetensors: missing"):
        SkipGramModel.load(tmp_path / "run")
