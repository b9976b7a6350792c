"""The ``embtable`` command line, end to end on a tiny corpus."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from embtable.cli.__main__ import main
from embtable.io import load_table
from embtable.vectors import Vectors

LEE = Path(__file__).parent.parent / "data" / "lee_background.cor"
COMMANDS = ["train", "similar", "evaluate", "convert", "info"]


def embtable(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run ``python -m embtable.cli ARGS`` in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "embtable.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A table trained by the CLI on the first 100 Lee documents."""
    root = tmp_path_factory.mktemp("cli")
    corpus = root / "lee.txt"
    corpus.write_text("\n".join(LEE.read_text().splitlines()[:100]) + "\n")
    out = root / "table"
    result = embtable(
        "train",
        corpus,
        "-o",
        out,
        "--dim",
        "12",
        "--epochs",
        "2",
        "--threads",
        "1",
        "--seed",
        "4",
        "--min-count",
        "3",
        "--word2vec-text",
        root / "v.txt",
        "--word2vec-binary",
        root / "v.bin",
    )
    assert result.returncode == 0, result.stderr
    assert "trained" in result.stderr and result.stdout == ""
    return out


def test_train_writes_a_table_meta_and_word2vec_files(trained):
    weight, tokens, config = load_table(trained)
    assert weight.shape == (len(tokens), 12) and weight.dtype == np.float32
    assert config == {"num_embeddings": len(tokens), "embedding_dim": 12, "tokenizer": "regex"}
    meta = json.loads((trained / "meta.json").read_text())
    assert meta["hyperparameters"]["seed"] == 4 and meta["hyperparameters"]["epochs"] == 2
    assert meta["corpus"]["vocab_size"] == len(tokens)
    assert meta["corpus"]["files"][0].endswith("lee.txt")
    assert meta["training"]["words"] == 2 * meta["corpus"]["retained_words"]
    assert meta["training"]["words_per_second"] > 0
    for name, fmt in (("v.txt", "word2vec"), ("v.bin", "word2vec-binary")):
        vectors = Vectors.load(trained.parent / name, format=fmt)
        assert vectors.tokens == tokens
        assert_array_equal(vectors.matrix, weight)


def test_seeded_single_thread_cli_runs_are_identical(trained, tmp_path):
    result = embtable(
        "train",
        trained.parent / "lee.txt",
        "-o",
        tmp_path / "again",
        "--dim",
        "12",
        "--epochs",
        "2",
        "--threads",
        "1",
        "--seed",
        "4",
        "--min-count",
        "3",
    )
    assert result.returncode == 0, result.stderr
    assert_array_equal(load_table(tmp_path / "again")[0], load_table(trained)[0])


def test_similar_prints_k_neighbours_per_word(trained):
    result = embtable("similar", trained, "the", "said", "-k", "3")
    assert result.returncode == 0, result.stderr
    blocks = result.stdout.strip().split("\n\n")
    assert [block.splitlines()[0] for block in blocks] == ["the:", "said:"]
    for block in blocks:
        rows = block.splitlines()[1:]
        assert len(rows) == 3
        scores = [float(row.split()[0]) for row in rows]
        assert scores == sorted(scores, reverse=True) and all(-1 <= s <= 1 for s in scores)


def test_convert_and_info_round_trip(trained, tmp_path):
    result = embtable("convert", trained, tmp_path / "v.vec")
    assert result.returncode == 0, result.stderr
    assert "(fasttext)" in result.stdout
    back = tmp_path / "back"
    result = embtable("convert", tmp_path / "v.vec", back, "--from", "fasttext", "--to", "embtable")
    assert result.returncode == 0, result.stderr
    assert Vectors.load(back) == Vectors.load(trained)
    result = embtable("info", trained)
    assert result.returncode == 0, result.stderr
    assert re.search(r"vectors: [\d,]+ x 12 float32", result.stdout)
    assert re.search(r"hyperparameters: .*\bdim=12\b", result.stdout)


def test_evaluate_prints_both_bundled_scores(trained):
    result = embtable("evaluate", trained)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("word pairs (WordSim-353): Spearman ")
    assert lines[1].startswith("analogies (Google analogies): accuracy ")


def test_errors_are_one_line_without_traceback(tmp_path):
    result = embtable("similar", tmp_path / "missing", "war")
    assert result.returncode == 1
    assert result.stderr == f"embtable: error: no such file or directory: {tmp_path / 'missing'}\n"


@pytest.mark.parametrize("command", [[], *([c] for c in COMMANDS)])
def test_every_command_has_help_with_an_example(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: embtable")
    assert "examples:" in out and "  embtable " in out.split("examples:")[1]


def test_python_m_help_lists_the_commands():
    result = embtable("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout


def _error(capsys, *argv: str | Path) -> str:
    assert main([str(a) for a in argv]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert [line for line in lines if "error" in line] == lines[-1:]
    return lines[-1] + "\n"


def test_missing_corpus_file(tmp_path, capsys):
    err = _error(capsys, "train", tmp_path / "nope.txt", "-o", tmp_path / "out")
    assert err == f"embtable: error: corpus file not found: {tmp_path / 'nope.txt'}\n"
    assert not (tmp_path / "out").exists()


def test_corpus_too_small(tmp_path, capsys):
    (tmp_path / "tiny.txt").write_text("one two three\n")
    err = _error(capsys, "train", tmp_path / "tiny.txt", "-o", tmp_path / "out")
    assert err.startswith("embtable: error: the corpus has 0 retained words")


def test_malformed_vectors_file_in_convert(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("2 3\ncat 0.1 0.2 0.3\ndog 0.1 0.2\n")
    err = _error(capsys, "convert", bad, tmp_path / "out.bin")
    assert err.startswith("embtable: error: bad.txt:3: ")
    assert not (tmp_path / "out.bin").exists()


def test_unknown_word_in_similar(trained, capsys):
    assert main(["similar", str(trained), "the", "zzzq", "-k", "2"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        line for line in captured.err.splitlines() if line.startswith("embtable: error: ")
    ]
    assert captured.err.startswith("embtable: error: 'zzzq' not in the vocabulary of ")


def test_convert_refuses_the_same_path_and_keeps_a_tables_vocabulary(trained, tmp_path, capsys):
    err = _error(capsys, "convert", trained, trained)
    assert err.startswith("embtable: error: IN and OUT are the same path")
    assert main(["convert", str(trained), str(tmp_path / "copy")]) == 0
    original = json.loads((trained / "vocab.json").read_text())
    copied = json.loads((tmp_path / "copy" / "vocab.json").read_text())
    assert copied == original and "counts" in copied
    config = json.loads((tmp_path / "copy" / "config.json").read_text())
    assert config == json.loads((trained / "config.json").read_text())
    assert config["tokenizer"] == "regex"


def test_convert_reports_tokens_a_text_format_cannot_hold(tmp_path, capsys):
    from embtable.io import save_table

    save_table(tmp_path / "spaced", np.ones((2, 3), np.float32), ["a b", "c"])
    err = _error(capsys, "convert", tmp_path / "spaced", tmp_path / "out.txt")
    assert err.startswith(f"embtable: error: cannot write {tmp_path / 'out.txt'} as word2vec: ")


def test_info_with_a_malformed_meta_json(trained, tmp_path, capsys):
    import shutil

    copy = tmp_path / "table"
    shutil.copytree(trained, copy)
    (copy / "meta.json").write_text("{not json")
    err = _error(capsys, "info", copy)
    assert err.startswith(f"embtable: error: {copy / 'meta.json'}:1: not valid JSON (")
    assert capsys.readouterr().out == ""


def test_missing_directory(tmp_path, capsys):
    for command in (["info"], ["evaluate"], ["similar"], ["convert"]):
        args = [*command, tmp_path / "nothing"]
        args += {"similar": ["war"], "convert": [tmp_path / "x.txt"]}.get(command[0], [])
        err = _error(capsys, *args)
        assert err == f"embtable: error: no such file or directory: {tmp_path / 'nothing'}\n"


def test_directory_without_a_table(tmp_path, capsys):
    err = _error(capsys, "info", tmp_path)
    assert err.startswith("embtable: error: ") and "weights.safetensors" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "-o", "x", "--dim", "0"],
        ["train"],
        ["similar", "d"],
        ["frobnicate"],
        ["convert", "a", "b", "--to", "xml"],
        ["similar", "d", "w", "-k", "zero"],
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "usage: embtable" in capsys.readouterr().err
