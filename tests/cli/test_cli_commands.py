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
    assert "trained" in result.stdout + result.stderr
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
    assert err.startswith("embtable: error: ") and err.endswith(f"{tmp_path / 'nope.txt'}\n")
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
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert any(
        line.startswith("embtable: error: ") and "'zzzq'" in line for line in err.splitlines()
    ), err


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


def _glove(tmp_path: Path, text: str = "cat 1 0\ndog 0 1\ncat 1 1\n") -> Path:
    path = tmp_path / "g.txt"
    path.write_text(text)
    return path


def test_convert_duplicates_option_is_the_one_the_error_names(tmp_path, capsys):
    source = _glove(tmp_path)
    err = _error(capsys, "convert", source, tmp_path / "out.bin", "--from", "glove")
    assert err.startswith(
        "embtable: error: g.txt:3: duplicate token 'cat', first seen at g.txt:1; "
    )
    assert err.endswith("pass --duplicates first or --duplicates last to keep one\n")
    assert (
        main(
            [
                "convert",
                str(source),
                str(tmp_path / "out.bin"),
                "--from",
                "glove",
                "--duplicates",
                "last",
            ]
        )
        == 0
    )
    loaded = Vectors.load(tmp_path / "out.bin")
    assert loaded.tokens == ["cat", "dog"]
    assert_array_equal(loaded.matrix, [[1, 1], [0, 1]])


def test_hints_name_the_flags_of_the_command(tmp_path, capsys):
    bad = tmp_path / "h.txt"
    bad.write_text("a b\n1 2\n")
    err = _error(capsys, "convert", bad, tmp_path / "o.txt", "--from", "word2vec")
    assert "headerless files are GloVe format (--from glove)" in err
    err = _error(capsys, "info", bad, "--format", "word2vec")
    assert "headerless files are GloVe format (--format glove)" in err


@pytest.mark.parametrize(
    ("out", "extra", "message"),
    [
        (
            "out.json",
            [],
            "cannot tell the format from the name 'out.json': no format has the suffix '.json'",
        ),
        (
            "out.gz",
            [],
            "cannot tell the format from the name 'out.gz': .gz says how to compress, not which format",
        ),
        (
            "v.bin",
            ["--to", "glove"],
            "the name 'v.bin' ends in '.bin', which names the 'word2vec-binary' format, not 'glove'; name the output with one of: .txt",
        ),
        (
            "v.vec",
            ["--to", "embtable"],
            "the name 'v.vec' ends in '.vec', which names the 'fasttext' format, not 'embtable'",
        ),
        (
            "table.gz",
            ["--to", "embtable"],
            "the name 'table.gz' ends in '.gz', but the 'embtable' format is not compressed",
        ),
    ],
)
def test_convert_refuses_an_output_name_of_another_format(tmp_path, capsys, out, extra, message):
    err = _error(capsys, "convert", _glove(tmp_path, "a 1 2\n"), tmp_path / out, *extra)
    assert err == f"embtable: error: {message}" + err[len("embtable: error: ") + len(message) :]
    assert list(p.name for p in tmp_path.iterdir()) == ["g.txt"]  # nothing written


def test_convert_accepts_a_shared_suffix_and_directory_names_with_dots(tmp_path, capsys):
    source = _glove(tmp_path, "a 1 2\n")
    assert main(["convert", str(source), str(tmp_path / "v.txt"), "--to", "glove"]) == 0
    assert Vectors.load(tmp_path / "v.txt", format="glove").tokens == ["a"]
    assert main(["convert", str(source), str(tmp_path / "glove.6B")]) == 0
    assert (tmp_path / "glove.6B" / "weights.safetensors").is_file()
    assert main(["convert", str(source), str(tmp_path / "out.json"), "--to", "embtable"]) == 0
    assert "(embtable)" in capsys.readouterr().out


def test_convert_checks_the_output_before_reading(tmp_path, capsys, monkeypatch):
    from embtable.io import registry

    def no_read(*args, **kwargs):
        raise AssertionError("read before the output was checked")

    monkeypatch.setattr(registry, "read", no_read)
    (tmp_path / "file").write_text("x")
    err = _error(capsys, "convert", _glove(tmp_path, "a 1 2\n"), tmp_path / "file" / "v.txt")
    assert err.startswith("embtable: error: cannot write ") and "is not a directory" in err


def test_info_on_text_reads_no_numbers(tmp_path, capsys, monkeypatch):
    from embtable.io import _parse

    def no_parse(*args, **kwargs):
        raise AssertionError("info parsed the numbers")

    monkeypatch.setattr(_parse, "read_text", no_parse)
    monkeypatch.setattr(_parse, "read_binary", no_parse)
    glove = _glove(tmp_path, "the 1 x\n\nof 2 3\n")  # a bad number: not parsed, not noticed
    assert main(["info", str(glove)]) == 0
    out = capsys.readouterr().out
    assert "format:  glove\n" in out
    assert "vectors: 2 x 2 (lines counted)\n" in out
    assert "tokens:  the, of\n" in out
    w2v = tmp_path / "v.txt"
    w2v.write_text("400000 3\nthe 1 2 3\n")  # the header is taken at its word
    assert main(["info", str(w2v)]) == 0
    assert "vectors: 400,000 x 3 (header)\n" in capsys.readouterr().out


def test_info_check_reads_every_number_and_counts_non_finite_rows(tmp_path, capsys):
    glove = _glove(tmp_path, "a 1 2\nb nan 1\nc 1 inf\nd 0 0\n")
    assert main(["info", str(glove), "--check"]) == 0
    out = capsys.readouterr().out
    assert "check:   2 of 4 rows hold NaN or infinity (first: 'b', 'c')\n" in out
    bad = _glove(tmp_path, "a 1 2\nb 1 x\n")
    err = _error(capsys, "info", bad, "--check")
    assert err.startswith("embtable: error: g.txt:2: number 2 after the token 'b' is not a number")


def test_info_on_a_binary_file_and_a_table(trained, tmp_path, capsys):
    assert main(["info", str(trained.parent / "v.bin")]) == 0
    out = capsys.readouterr().out
    assert re.search(r"vectors: [\d,]+ x 12 float32 \(header\)", out)
    assert main(["info", str(trained)]) == 0
    out = capsys.readouterr().out
    assert "config:  num_embeddings=" in out and "(safetensors header)" in out


def test_a_closed_stdout_exits_quietly(trained):
    with subprocess.Popen(
        [sys.executable, "-m", "embtable.cli", "info", str(trained)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()  # as `| head` does, before anything is written
        stderr = process.stderr.read()
        assert process.wait(timeout=120) == 141
    assert stderr == b""


def test_a_bug_keeps_its_traceback(monkeypatch):
    from embtable.cli import info

    def broken(args):
        raise ZeroDivisionError("a bug, not a user error")

    monkeypatch.setattr(info, "run", broken)
    with pytest.raises(ZeroDivisionError):
        main(["info", "anything"])


def test_help_lists_the_registry_formats(capsys):
    from embtable.io import registry

    with pytest.raises(SystemExit):
        main(["convert", "--help"])
    out = capsys.readouterr().out
    for name in registry.names():
        assert f"  {name} " in out


def test_explore_errors_suggest_its_own_flags(tmp_path, capsys):
    # "use projection='pca'" named a Python argument; the command's flag is --projection
    Vectors(["a", "b"], np.eye(2, dtype=np.float32)).save(tmp_path / "v.txt")
    status = main(
        ["explore", str(tmp_path / "v.txt"), "--projection", "tsne", "-o", str(tmp_path / "p.html")]
    )
    err = capsys.readouterr().err
    assert status == 1 and len(err.splitlines()) == 1, err
    assert "use --projection pca" in err and "projection=" not in err


@pytest.mark.parametrize("scheme", ["int8", "int4"])
def test_convert_quantize_writes_a_table_that_queries_read(tmp_path, capsys, scheme) -> None:
    """Issue 14: `convert --quantize` writes a quantized directory that every command reads."""
    import numpy as np

    from embtable.quantized import dequantize, load_quantized_table
    from embtable.vectors import Vectors

    rng = np.random.default_rng(0)
    tokens = [f"w{i}" for i in range(50)]
    Vectors(tokens, rng.standard_normal((50, 32)).astype(np.float32)).save(tmp_path / "v.txt")
    out = tmp_path / "q"
    assert main(["convert", str(tmp_path / "v.txt"), str(out), "--quantize", scheme]) == 0
    assert f"(quantized {scheme}," in capsys.readouterr().out
    table, saved_tokens, _ = load_quantized_table(out)
    assert saved_tokens == tokens
    loaded = Vectors.load(out)  # detected, dequantized
    np.testing.assert_array_equal(loaded.matrix, dequantize(table))
    assert main(["similar", str(out), "w3", "-k", "2"]) == 0
    assert capsys.readouterr().out.startswith("w3:\n")
    assert (
        main(["convert", str(tmp_path / "v.txt"), str(tmp_path / "q.txt"), "--quantize", scheme])
        == 1
    )
    assert "names the 'word2vec' format, not 'quantized'" in capsys.readouterr().err
    assert not (tmp_path / "q.txt").exists()
