"""``embtable train``: options and outputs checked first, stdin, encodings, resume, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from embtable.cli.__main__ import main
from embtable.io import load_table
from embtable.train import SkipGramModel

LEE = Path(__file__).parent.parent / "data" / "lee_background.cor"
SMALL = ["--dim", "8", "--epochs", "1", "--threads", "1", "--progress", "off"]


def embtable(*args: str | Path, stdin: bytes | None = None, cwd: Path | None = None):
    return subprocess.run(
        [sys.executable, "-m", "embtable.cli", *map(str, args)],
        capture_output=True,
        input=stdin,
        timeout=300,
        check=False,
        cwd=cwd,
    )


@pytest.fixture()
def latin1(tmp_path) -> Path:
    path = tmp_path / "latin1.txt"
    path.write_bytes(("un café au lait et un café noir\n" * 30).encode("latin-1"))
    return path


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--negative", "0"], "negative must be an integer >= 1, got 0"),
        (["--negative", "0"], "embtable train --hs"),
        (["--hs", "--shared-negatives"], "hs (hierarchical softmax) is not implemented with"),
        (["--alpha", "0"], "alpha must be a finite number in (0.0, 10.0], got 0.0"),
        (["--threads", "999"], "threads must be an integer in 1.."),
        (["--min-alpha", "1"], "min_alpha must be a finite number in [0.0, 0.025], got 1.0"),
        (["--ns-exponent", "3"], "ns_exponent must be a finite number in [-1.0, 1.0]"),
        (["--sample", "nan"], "sample must be a finite number"),
        (["--checkpoint-every", "0"], "--checkpoint-every must be a number of minutes > 0"),
    ],
)
def test_bad_options_fail_before_the_corpus_is_read(latin1, tmp_path, capsys, option, message):
    # The corpus is not UTF-8: had it been read, that would have been the error.
    status = main(["train", str(latin1), "-o", str(tmp_path / "out"), *SMALL, *option])
    err = capsys.readouterr().err
    assert status == 1 and message in err and "latin1" not in err, err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_window_zero_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--window", "0"])
    assert exit_info.value.code == 2
    assert "--window: must be an integer >= 1, got '0'" in capsys.readouterr().err


def test_bad_outputs_fail_before_training(latin1, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    cases = [
        (["-o", str(tmp_path / "file")], "it exists and is not a directory"),
        (
            ["-o", str(tmp_path / "out"), "--word2vec-binary", str(tmp_path / "no_dir" / "x.bin")],
            "does not exist",
        ),
        (["-o", str(tmp_path / "out"), "--word2vec-text", str(tmp_path)], "it is a directory"),
    ]
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        cases.append((["-o", str(locked / "out")], "is not writable"))
    for option, message in cases:
        status = main(["train", str(latin1), *SMALL, *option])
        err = capsys.readouterr().err
        assert status == 1 and message in err and "latin1" not in err, (option, err)
    assert not (tmp_path / "out").exists()


def test_encoding_option_and_its_hint(latin1, tmp_path, capsys):
    status = main(["train", str(latin1), "-o", str(tmp_path / "a"), *SMALL, "--min-count", "1"])
    assert status == 1 and "--encoding" in capsys.readouterr().err
    status = main(
        [
            "train",
            str(latin1),
            "-o",
            str(tmp_path / "a"),
            *SMALL,
            "--min-count",
            "1",
            "--encoding",
            "latin-1",
            "--sample",
            "0",
        ]
    )
    assert status == 0
    assert "café" in load_table(tmp_path / "a")[1]


def test_stdin_pretokenised_summary_on_stdout(tmp_path):
    text = "".join(f"Hello , World ! line {i % 7}\n" for i in range(300)).encode()
    result = embtable(
        "train",
        "-",
        "-o",
        tmp_path / "t",
        *SMALL,
        "--tokenizer",
        "whitespace",
        "--min-count",
        "1",
        "--max-sentence-length",
        "4",
        stdin=text,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().startswith("trained ")
    assert b"corpus: 1 file(s)" in result.stderr and b"trained" not in result.stderr
    tokens = load_table(tmp_path / "t")[1]
    assert {"Hello", ",", "World", "!"} <= set(tokens)
    meta = json.loads((tmp_path / "t" / "meta.json").read_text())
    assert meta["corpus"]["files"] == ["-"] and meta["corpus"]["sentences"] == 600
    assert (tmp_path / "t" / "training.csv").is_file()


def test_own_corpus_needs_an_output(capsys):
    assert main(["train", str(LEE), *SMALL]) == 1
    assert "-o/--output DIR is needed" in capsys.readouterr().err


def test_bundled_corpus_defaults_to_out_default(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "default").write_text("in the way")  # so nothing is trained
    assert main(["train", "--progress", "off"]) == 1
    err = capsys.readouterr().err
    assert "cannot write a table directory at 'out/default'" in err


def test_resume_continues_and_refuses_new_options(tmp_path, capsys):
    from embtable.train import Corpus, train_word2vec

    class StopTraining(Exception):  # noqa: N818 - a signal, not an error
        pass

    def stop(end):
        if end.epoch == 1:
            raise StopTraining

    corpus = Corpus.from_files([LEE], min_count=5)
    options = dict(dim=8, epochs=2, threads=1, seed=3, progress=False)
    whole = train_word2vec(corpus, **options)
    with pytest.raises(StopTraining):
        train_word2vec(corpus, **options, checkpoint_dir=tmp_path / "run", callbacks=[stop])
    assert main(["train", "--resume", str(tmp_path / "run"), "--dim", "5"]) == 1
    assert "drop --dim" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "run"), "--progress", "off"]) == 0
    out = capsys.readouterr().out
    assert "trained" in out and "final loss" in out
    resumed = SkipGramModel.load(tmp_path / "run")
    assert resumed.complete
    assert_array_equal(resumed.input.weight.data, whole.input.weight.data)


def test_ctrl_c_leaves_a_loadable_checkpoint(tmp_path):
    corpus = tmp_path / "lee.txt"
    corpus.write_bytes(LEE.read_bytes())
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "embtable.cli",
            "train",
            str(corpus),
            "-o",
            str(tmp_path / "o"),
            "--dim",
            "8",
            "--epochs",
            "500",
            "--threads",
            "1",
            "--progress",
            "on",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    seen = b""
    deadline = time.monotonic() + 240
    while b"loss" not in seen and time.monotonic() < deadline:  # a chunk has been trained
        seen += os.read(process.stderr.fileno(), 4096)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert b"continue with: embtable train --resume" in err
    model = SkipGramModel.load(tmp_path / "o")
    assert not model.complete and model.state["words_done"] > 0
    weight, tokens, _ = load_table(tmp_path / "o")
    assert weight.shape == (len(tokens), 8) and np.isfinite(weight).all()


def test_subwords_write_a_fasttext_bin(tmp_path, capsys):
    from embtable.fasttext import FastTextVectors

    out = tmp_path / "model.bin"
    status = main(
        [
            "train",
            str(LEE),
            "-o",
            str(out),
            *SMALL,
            "--subwords",
            "3-5",
            "--buckets",
            "5000",
            "--architecture",
            "cbow",
        ]
    )
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "cbow" in captured.out and str(out) in captured.out
    vectors = FastTextVectors.load_bin(out)
    assert (vectors.subwords.minn, vectors.subwords.maxn, vectors.subwords.bucket) == (3, 5, 5000)
    assert vectors.args.model_name == "cbow"
    assert "governmentalism" not in vectors.token_to_id
    assert np.linalg.norm(vectors["governmentalism"]) > 0


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--buckets", "10"], "--buckets goes with --subwords"),
        (["--subwords", "6-3"], "1 <= minn <= maxn"),
        (["--subwords", "3-6", "--shared-negatives"], "shared_negatives"),
        (["--subwords", "3-6", "--hs"], "not implemented with subwords"),
    ],
)
def test_bad_subword_options_fail_before_the_corpus_is_read(
    latin1, tmp_path, capsys, option, message
):
    status = main(["train", str(latin1), "-o", str(tmp_path / "out.bin"), *SMALL, *option])
    err = capsys.readouterr().err
    assert status == 1 and message in err and "latin1" not in err, err
    assert not (tmp_path / "out.bin").exists()


def test_hs_with_negative_zero_trains_hierarchical_softmax_alone(tmp_path, capsys):
    out = tmp_path / "hs"
    status = main(["train", str(LEE), "-o", str(out), *SMALL, "--hs", "--negative", "0"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    meta = json.loads((out / "meta.json").read_text())
    assert meta["model"] == "skipgram hierarchical softmax"
    assert meta["hyperparameters"]["hs"] is True and meta["hyperparameters"]["negative"] == 0
    model = SkipGramModel.load(out)
    assert model.output_hs is not None and model.output_hs.weight.data.any()
    assert not model.output.weight.data.any()
    assert main(["train", "--resume", str(out), "--hs"]) == 1
    assert "drop --hs" in capsys.readouterr().err


class _InterruptAfter:
    """Wraps a kernel; raises SIGINT (as Ctrl-C would) after ``calls`` kernel calls."""

    def __init__(self, kernel, calls: int) -> None:
        self.kernel, self.calls, self.count = kernel, calls, 0

    def __call__(self, *args):
        self.kernel(*args)
        if args[2].shape[0]:  # not the compiling warm-up call
            self.count += 1
            if self.count == self.calls:
                signal.raise_signal(signal.SIGINT)


def test_subword_run_checkpoints_on_ctrl_c_and_resumes_to_the_same_bin(
    tmp_path, capsys, monkeypatch
):
    import embtable.kernels.fasttext_train as kernels
    import embtable.train.sgns as trainer

    monkeypatch.setattr(trainer, "_BLOCK_WORDS", 9_000)  # several chunks per epoch
    options = [*SMALL, "--epochs", "2", "--subwords", "3-5", "--buckets", "2000"]
    whole = tmp_path / "whole.bin"
    assert main(["train", str(LEE), "-o", str(whole), *options]) == 0
    assert whole.is_file() and not Path(str(whole) + ".checkpoint").exists()
    monkeypatch.setattr(
        kernels, "train_fasttext_block", _InterruptAfter(kernels.train_fasttext_block, 4)
    )
    out = tmp_path / "ft.bin"
    checkpoint = tmp_path / "ft.bin.checkpoint"
    assert main(["train", str(LEE), "-o", str(out), *options]) == 130
    err = capsys.readouterr().err
    assert f"continue with: embtable train --resume {checkpoint}" in err
    assert not out.exists() and SkipGramModel.load(checkpoint).subwords == (3, 5, 2000)
    monkeypatch.setattr(kernels, "train_fasttext_block", kernels.train_fasttext_block.kernel)
    assert main(["train", "--resume", str(checkpoint), "--progress", "off"]) == 0
    assert str(out) in capsys.readouterr().out
    assert out.read_bytes() == whole.read_bytes()
    assert not checkpoint.exists()
