"""``embtable similar`` and ``embtable evaluate``: analogies, case folding, per-word errors,
bundled sets by name, and ``python -m embtable``."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embtable.cli import evaluate as evaluate_command
from embtable.cli import similar as similar_command
from embtable.cli.__main__ import main
from embtable.evaluate import bundled_path, evaluate_analogies, evaluate_word_pairs
from embtable.vectors import Vectors

WORDS = (
    "king queen man woman war peace january february france paris three four tea coffee "
    "congress money cash dollar currency wealth tiger cat happy glad uncle athens greece "
    "baghdad iraq"
).split()


def _vectors(rng: np.random.Generator, extra: int = 0) -> Vectors:
    """The words above with ``king - man + woman = queen`` planted, fillers, a NaN row and a
    zero row."""
    tokens = [*WORDS, *(f"filler{i}" for i in range(extra)), "broken", "<pad>"]
    matrix = rng.normal(size=(len(tokens), 16)).astype(np.float32)
    male, royal, female = np.eye(16, dtype=np.float32)[:3] * 3
    matrix[0], matrix[2], matrix[3] = male + royal, male, male + female
    matrix[1] = male + royal + female + rng.normal(scale=0.05, size=16)
    matrix[-2, 3] = np.nan
    matrix[-1] = 0
    return Vectors(tokens, matrix)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A directory laid out as the help's examples expect: ``out/default`` (a table whose
    tokenizer lower-cases), ``glove.6B.50d.txt``, ``questions-words.txt``, ``men.txt``."""
    root = tmp_path_factory.mktemp("query")
    vectors = _vectors(np.random.default_rng(0))
    vectors.save(root / "out" / "default", format="embtable", config={"tokenizer": "regex"})
    Vectors(vectors.tokens[:-2], vectors.matrix[:-2]).save(
        root / "glove.6B.50d.txt", format="glove"
    )
    with bundled_path("google") as path:
        shutil.copy(path, root / "questions-words.txt")
    (root / "men.txt").write_text("king queen 40\nman woman 35\ntea coffee 44\nwar cat 3\n")
    return root


def run(capsys, *argv: str | Path) -> tuple[int, str, str]:
    status = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_analogy_in_similar(workspace, capsys) -> None:
    table = workspace / "out" / "default"
    status, out, err = run(capsys, "similar", table, "king", "-", "man", "+", "woman", "-k", "3")
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "king - man + woman:"
    expected = Vectors.load(table).most_similar(
        positive=["king", "woman"], negative=["man"], topn=3
    )
    assert [line.split()[1] for line in lines[1:]] == [word for word, _ in expected]
    assert expected[0][0] == "queen"
    assert [float(line.split()[0]) for line in lines[1:]] == pytest.approx(
        [score for _, score in expected], abs=5e-5
    )


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["king", "-", "-", "man"], "two operators in a row in 'king - - man'"),
        (["king", "man", "+", "woman"], "'man' follows another word without '+' or '-'"),
        (["king", "-"], "'king -' ends with an operator"),
    ],
)
def test_malformed_analogies_are_one_line_errors(workspace, capsys, words, message) -> None:
    status, out, err = run(capsys, "similar", workspace / "out" / "default", *words)
    assert status == 1 and out == ""
    assert err.startswith("embtable: error: ") and message in err and err.count("\n") == 1


def test_a_leading_minus_subtracts(workspace, capsys) -> None:
    status, out, _ = run(capsys, "similar", workspace / "out" / "default", "-", "war", "-k", "2")
    assert status == 0 and out.startswith("- war:\n")


def test_words_fold_as_the_tables_tokenizer(workspace, capsys, tmp_path) -> None:
    table = workspace / "out" / "default"
    status, out, err = run(capsys, "similar", table, "War", "-k", "2")
    assert (status, err) == (0, "") and out.startswith("War:\n")
    assert out == run(capsys, "similar", table, "war", "-k", "2")[1].replace("war:", "War:", 1)
    # a table whose tokenizer keeps case: War is not war
    vectors = Vectors.load(table)
    vectors.save(tmp_path / "cased", format="embtable", config={"tokenizer": "regex-cased"})
    status, out, err = run(capsys, "similar", tmp_path / "cased", "War")
    assert status == 1 and out == "" and "'War' not in the vocabulary" in err
    # a vectors file: as typed, else lower case with a note
    status, out, err = run(capsys, "similar", workspace / "glove.6B.50d.txt", "Tea", "-k", "1")
    assert status == 0 and out.startswith("Tea:\n")
    assert err == "embtable: note: 'Tea' is not in the table; using 'tea'\n"


def test_unknown_words_do_not_abort_the_list(workspace, capsys) -> None:
    table = workspace / "out" / "default"
    status, out, err = run(capsys, "similar", table, "war", "zzzq", "peace", "broken", "-k", "2")
    assert status == 1
    assert [block.splitlines()[0] for block in out.strip().split("\n\n")] == ["war:", "peace:"]
    errors = err.splitlines()
    assert len(errors) == 2 and all(line.startswith("embtable: error: ") for line in errors)
    assert errors[0].startswith("embtable: error: 'zzzq' not in the vocabulary of ")
    assert "broken: the vector of 'broken' (row" in errors[1] and "NaN or inf" in errors[1]
    assert "embtable info --check counts such rows" in errors[1]


def test_nan_rows_never_neighbours_in_similar(workspace, capsys) -> None:
    table = workspace / "out" / "default"
    status, out, _ = run(capsys, "similar", table, "war", "-k", "100")
    assert status == 0 and "broken" not in out
    assert len(out.splitlines()) == 1 + len(WORDS) - 1 + 1  # header, words less war, <pad>


def test_restrict_vocab_in_similar(workspace, capsys) -> None:
    table = workspace / "out" / "default"
    status, out, _ = run(capsys, "similar", table, "war", "-k", "100", "--restrict-vocab", "4")
    assert status == 0
    assert sorted(line.split()[1] for line in out.splitlines()[1:]) == sorted(WORDS[:4])


def test_evaluate_bundled_sets_by_name(workspace, capsys) -> None:
    table = workspace / "out" / "default"
    vectors = Vectors.load(table)
    status, out, err = run(capsys, "evaluate", table, "--pairs", "simlex", "--pairs", "wordsim353")
    assert status == 0
    assert "2 rows hold NaN or inf" not in err and "1 rows hold NaN or inf" in err
    first, second = out.splitlines()
    with bundled_path("simlex") as path:
        simlex = evaluate_word_pairs(vectors, path)
    assert first == evaluate_command.format_pairs(simlex, "SimLex-999")
    assert second.startswith("word pairs (WordSim-353): Spearman ")


def test_evaluate_sections_and_restrict_vocab(workspace, capsys) -> None:
    table = workspace / "out" / "default"
    status, out, _ = run(capsys, "evaluate", table, "--analogies", "google", "--sections")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith("analogies (Google analogies): accuracy ")
    assert len(lines) == 1 + 14 and lines[1].startswith("  capital-common-countries ")
    result = evaluate_analogies(Vectors.load(table))
    assert lines[1:] == evaluate_command.format_sections(result).splitlines()
    status, out, _ = run(
        capsys, "evaluate", table, "--analogies", "google", "--restrict-vocab", "3"
    )
    assert status == 0 and "19544 of 19544 questions out of vocabulary" in out


def test_evaluate_delimiter_and_case(workspace, capsys) -> None:
    table = workspace / "out" / "default"
    men = workspace / "men.txt"
    status, out, _ = run(capsys, "evaluate", table, "--pairs", men, "--delimiter", "space")
    assert status == 0 and ", 4 pairs, 0 out of vocabulary" in out
    status, _, err = run(capsys, "evaluate", table, "--pairs", men)  # tab: nothing parses
    assert status == 1 and "separated by '\\t'" in err and "\t" not in err
    upper = workspace / "upper.txt"
    upper.write_text("KING QUEEN 4\nman woman 3\ntea coffee 5\n")
    status, out, _ = run(
        capsys, "evaluate", table, "--pairs", upper, "--delimiter", " ", "--case-sensitive"
    )
    assert status == 0 and ", 2 pairs, 1 out of vocabulary" in out


def test_evaluate_unknown_set_is_one_line(workspace, capsys) -> None:
    status, out, err = run(capsys, "evaluate", workspace / "out" / "default", "--pairs", "men")
    assert (status, out) == (1, "")
    assert err == (
        "embtable: error: men: no such file, nor a bundled evaluation set "
        "(bundled: wordsim353, simlex, simlex999, google)\n"
    )


def _examples(module) -> list[list[str]]:
    text = module._EXAMPLE.split("examples:")[1]
    return [
        shlex.split(line.split("#")[0])[1:]
        for line in text.splitlines()
        if line.strip().startswith("embtable ")
    ]


@pytest.mark.parametrize(
    "argv", _examples(similar_command) + _examples(evaluate_command), ids=" ".join
)
def test_every_help_example_works(workspace, capsys, monkeypatch, argv) -> None:
    monkeypatch.chdir(workspace)
    status, out, err = run(capsys, *argv)
    assert status == 0, err
    assert out and "error" not in err


def _python_m(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "embtable", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_python_m_embtable_runs_the_command_line(workspace) -> None:
    result = _python_m("--help")
    assert result.returncode == 0 and result.stdout.startswith("usage: embtable")
    result = _python_m("similar", workspace / "out" / "default", "king", "-", "man", "+", "woman")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2][0] == "king - man + woman:"
    assert result.stdout.splitlines()[1].split()[1] == "queen"
    result = _python_m("similar", workspace / "out" / "default", "zzzq")
    assert result.returncode == 1 and result.stderr.startswith("embtable: error: 'zzzq'")


def test_similar_output_closed_early_is_quiet(tmp_path) -> None:
    vectors = _vectors(np.random.default_rng(1), extra=3000)
    vectors.save(tmp_path / "big", format="embtable", config={"tokenizer": "regex"})
    with subprocess.Popen(
        [sys.executable, "-m", "embtable", "similar", str(tmp_path / "big"), *WORDS, "-k", "2000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline() == b"king:\n"
        process.stdout.close()  # as `| head -1` does
        errors = process.stderr.read()
        status = process.wait(timeout=120)
    assert errors == b""
    assert status in (141, -13)  # as a process killed by SIGPIPE


@pytest.mark.parametrize(
    ("option", "content", "message"),
    [
        ("--pairs", "", "bad.txt: no usable word pair: no pair in the file"),
        (
            "--pairs",
            "king queen 4\nwar peace 3\n",
            "bad.txt:1: no usable word pair: 'king queen 4'",
        ),
        ("--pairs", "king\tqueen\tfour\n", "bad.txt:1: no usable word pair: 'king\\tqueen\\tfour'"),
        ("--pairs", "zz\tyy\t1\n", "bad.txt: no usable word pair: all 1 pairs have a word outside"),
        ("--pairs", b"king\tqueen\t1\ncaf\xe9\tx\t2\n", "bad.txt:2: the bytes b'\\xe9' are not"),
        ("--analogies", "", "bad.txt: no analogy question found"),
        ("--analogies", "king queen man woman\n", "bad.txt:1: a question before the first"),
        ("--analogies", ": s\nking queen man\n", "bad.txt:2: no analogy question found: the line"),
        ("--analogies", b": s\nking queen \xff woman\n", "bad.txt:2: the bytes b'\\xff' are not"),
    ],
)
def test_malformed_evaluation_files_are_one_line_errors(
    workspace, capsys, tmp_path, option, content, message
) -> None:
    path = tmp_path / "bad.txt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    status, out, err = run(capsys, "evaluate", workspace / "glove.6B.50d.txt", option, path)
    assert (status, out) == (1, "")
    assert err.startswith("embtable: error: ") and err.count("\n") == 1, err
    assert message in err and "\t" not in err


def test_evaluate_warns_about_skipped_lines(workspace, capsys, tmp_path) -> None:
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("king\tqueen\t4\nwar peace 3\nman\twoman\t3\ntea\tcoffee\n")
    status, out, err = run(capsys, "evaluate", workspace / "glove.6B.50d.txt", "--pairs", pairs)
    assert status == 0 and ", 2 pairs, 0 out of vocabulary" in out
    assert err == (
        f"embtable: warning: {pairs}: skipped 2 lines that are not word, word, number "
        "(lines 2, 4)\n"
    )
    questions = tmp_path / "q.txt"
    questions.write_text(": s\nking queen man woman\nking queen\n")
    status, _, err = run(
        capsys, "evaluate", workspace / "glove.6B.50d.txt", "--analogies", questions
    )
    assert status == 0
    assert err == f"embtable: warning: {questions}: skipped 1 line that is not 4 words (line 3)\n"
    status, _, err = run(capsys, "evaluate", workspace / "glove.6B.50d.txt", "--pairs", "simlex")
    assert status == 0 and err == ""  # the bundled sets parse whole


def test_similar_with_odd_words(workspace, capsys) -> None:
    table = workspace / "out" / "default"
    for words, message in [
        (["-"], "'-' ends with an operator"),
        (["+"], "'+' ends with an operator"),
        (["king", "+", "-", "man"], "two operators in a row"),
    ]:
        status, out, err = run(capsys, "similar", table, *words)
        assert (status, out) == (1, "") and message in err and err.count("\n") == 1
    status, out, err = run(capsys, "similar", table, "king queen", "war", "-k", "1")
    assert status == 1 and out.startswith("war:\n")
    assert err == f"embtable: error: 'king queen' not in the vocabulary of {table} (31 words)\n"
    status, out, err = run(capsys, "similar", table, "king", "-", "zzq", "+", "Woman", "-k", "1")
    assert (status, out) == (1, "") and "'zzq' not in the vocabulary" in err
    status, out, err = run(capsys, "similar", table, "+", "King", "-k", "1")  # folded, as typed
    assert status == 0 and out.startswith("+ King:\n") and err == ""
    with_dash = Vectors.load(workspace / "glove.6B.50d.txt")
    with_dash.add_vectors(["-"], [with_dash["war"] * 2])
    with_dash.save(workspace / "dash.txt", format="glove")
    status, out, err = run(capsys, "similar", workspace / "dash.txt", "-", "-k", "1")
    assert (status, out, err) == (0, "-:\n   1.0000  war\n", "")  # a token of this table
    status, out, err = run(capsys, "similar", table, "king", "--restrict-vocab", "1")
    assert (status, out) == (0, "king:\n")
    assert err == (
        "embtable: note: king: no neighbours among the first 1 rows other than the query's words\n"
    )


def test_similar_answers_unseen_words_of_a_fasttext_model(capsys) -> None:
    """Issue 13: a fastText .bin answers for words outside its vocabulary, and says so."""
    from embtable.fasttext import FastTextVectors

    model = Path(__file__).parents[1] / "data" / "lee_fasttext.bin"
    vectors = FastTextVectors.load_bin(model)
    assert "governmentally" not in vectors
    code = main(["similar", str(model), "--format", "fasttext-bin", "governmentally", "-k", "3"])
    out = capsys.readouterr().out
    assert code == 0
    rows = len(vectors.subword_rows("governmentally"))
    assert out.splitlines()[0] == (
        f"governmentally:  ('governmentally' not in the vocabulary: from {rows} character n-grams)"
    )
    expected = vectors.most_similar("governmentally", topn=3)
    assert [line.split()[1] for line in out.splitlines()[1:4]] == [w for w, _ in expected]
