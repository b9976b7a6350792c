"""Writes are atomic: a writer killed at a random point leaves the old output or the new one.

Each test starts one helper process that imports embtable once, writes version A of an output,
then, per trial, forks a child that writes the other version over it and SIGKILLs the child
after a random delay (up to 1.2 times a measured full write), and loads what is left. The
output must load as exactly A or B: never a mix, a prefix or an error. GloVe text has no row
count, so only atomic replacement keeps a killed write from leaving a prefix that loads.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from embtable import OutputError
from embtable.io import load_table, read_word2vec_text, save_table, write_word2vec_text

WRITERS = ["word2vec", "word2vec-binary", "glove", "fasttext", "vocab", "table"]
TRIALS = 8

_HELPER = textwrap.dedent(
    r"""
    import json, os, random, signal, sys, time
    import numpy as np
    from embtable.io import (load_table, read_fasttext_vec, read_glove, read_word2vec_binary,
        read_word2vec_text, save_table, write_fasttext_vec, write_glove, write_word2vec_binary,
        write_word2vec_text)
    from embtable.io.tables import read_vocab_json, write_vocab_json

    kind, folder, trials, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    rows = {"word2vec": 3000, "glove": 3000, "fasttext": 3000, "word2vec-binary": 20000,
            "vocab": 30000, "table": 40000}[kind]

    def version(tag):
        tokens = [f"{tag}{i}" for i in range(rows)]
        value = 1.5 if tag == "A" else -2.25
        matrix = np.full((rows, 16), value, np.float32) + np.arange(rows, dtype=np.float32)[:, None]
        return tokens, matrix

    versions = {tag: version(tag) for tag in "AB"}

    def write(path, tag):
        tokens, matrix = versions[tag]
        if kind == "word2vec":
            write_word2vec_text(path, tokens, matrix)
        elif kind == "word2vec-binary":
            write_word2vec_binary(path, tokens, matrix)
        elif kind == "glove":
            write_glove(path, tokens, matrix)
        elif kind == "fasttext":
            write_fasttext_vec(path, tokens, matrix)
        elif kind == "vocab":
            write_vocab_json(path, tokens, counts=list(range(rows)))
        else:
            save_table(path, matrix, tokens, {"version": tag}, extra_files={"meta.json": tag.encode()})

    def load(path):
        if kind == "vocab":
            document = read_vocab_json(path)
            return document["tokens"], document["counts"]
        if kind == "table":
            weight, tokens, config = load_table(path)
            with open(os.path.join(path, "meta.json"), "rb") as meta:
                return tokens, weight.tobytes(), config, meta.read()
        reader = {"word2vec": read_word2vec_text, "word2vec-binary": read_word2vec_binary,
                  "glove": read_glove, "fasttext": read_fasttext_vec}[kind]
        tokens, matrix = reader(path)
        return tokens, matrix.tobytes()

    target = os.path.join(folder, "out")
    calibration = os.path.join(folder, "calibration")
    write(target, "A")
    expected = {"A": load(target)}
    start = time.perf_counter()
    write(calibration, "B")
    duration = time.perf_counter() - start
    expected["B"] = load(calibration)
    rng = random.Random(seed)
    current = "A"
    results = []
    for trial in range(trials):
        new = "B" if current == "A" else "A"
        delay = rng.uniform(0, 1.2 * duration)
        pid = os.fork()
        if pid == 0:
            try:
                write(target, new)
            finally:
                os._exit(0)
        time.sleep(delay)
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        try:
            state = load(target)
            result = next((tag for tag, value in expected.items() if value == state), "a mix")
        except Exception as err:
            result = f"{type(err).__name__}: {err}"
        results.append({"delay": round(delay, 4), "killed": os.WIFSIGNALED(status),
                        "result": result})
        current = result if result in expected else current
    write(target, "B")  # a complete write after the kills: it removes their temporaries
    print(json.dumps({"duration": duration, "results": results,
                      "left": sorted(os.listdir(folder))}))
    """
)


def _run_helper(kind: str, folder, seed: int) -> dict:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, "-c", _HELPER, kind, str(folder), str(TRIALS), str(seed)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("kind", WRITERS)
def test_a_killed_writer_leaves_the_old_or_the_new_output(kind, tmp_path) -> None:
    report = _run_helper(kind, tmp_path, seed=WRITERS.index(kind))
    outcomes = [trial["result"] for trial in report["results"]]
    assert set(outcomes) <= {"A", "B"}, report
    assert report["left"] == ["calibration", "out"], report  # no temporaries left behind


def test_files_keep_the_umask(tmp_path) -> None:
    old = os.umask(0o027)
    try:
        save_table(tmp_path / "t", np.ones((2, 2), np.float32), ["a", "b"])
        write_word2vec_text(tmp_path / "v.txt", ["a"], np.ones((1, 2), np.float32))
    finally:
        os.umask(old)
    modes = {
        p.name: stat.S_IMODE(p.stat().st_mode)
        for p in [*(tmp_path / "t").iterdir(), tmp_path / "v.txt"]
    }
    assert modes == {
        "weights.safetensors": 0o640,
        "vocab.json": 0o640,
        "config.json": 0o640,
        "v.txt": 0o640,
    }
    assert stat.S_IMODE((tmp_path / "t").stat().st_mode) == 0o750


def test_a_replaced_file_keeps_its_mode(tmp_path) -> None:
    path = tmp_path / "v.txt"
    write_word2vec_text(path, ["a"], np.ones((1, 2), np.float32))
    path.chmod(0o600)
    write_word2vec_text(path, ["b"], np.ones((1, 2), np.float32))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_word2vec_text(path)[0] == ["b"]


_FULL_DISK = textwrap.dedent(
    r"""
    import resource, signal, sys
    import numpy as np
    from embtable import OutputError
    from embtable.io import save_table, write_glove
    folder = sys.argv[1]
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 16, 1 << 16))
    big = np.ones((10000, 8), np.float32)
    tokens = [f"w{i}" for i in range(10000)]
    for call in (lambda: save_table(folder + "/table", big, tokens),
                 lambda: write_glove(folder + "/g.txt", tokens, big)):
        try:
            call()
        except OutputError as err:
            print(f"OutputError: {err}")
    """
)


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE semantics")
def test_a_full_disk_is_an_output_error_and_keeps_the_old_output(tmp_path) -> None:
    save_table(tmp_path / "table", np.zeros((2, 2), np.float32), ["old", "table"])
    write_word2vec_text(tmp_path / "g.txt", ["old"], np.zeros((1, 2), np.float32))
    before = sorted(os.listdir(tmp_path))
    result = subprocess.run(
        [sys.executable, "-c", _FULL_DISK, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2, result.stdout
    assert all(line.startswith("OutputError: [Errno 27] cannot write") for line in lines), lines
    assert "File too large" in lines[0]
    assert load_table(tmp_path / "table")[1] == ["old", "table"]
    assert read_word2vec_text(tmp_path / "g.txt")[0] == ["old"]
    assert sorted(os.listdir(tmp_path)) == before  # no temporaries left


def test_an_unwritable_directory_is_an_output_error(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(
        OutputError, match=r"cannot write a table directory at .*: it exists and is not a directory"
    ):
        save_table(blocker, np.ones((1, 1), np.float32), ["a"])
    with pytest.raises(OutputError, match=r"cannot write .*v\.txt.: .*file. is not a directory"):
        write_word2vec_text(blocker / "v.txt", ["a"], np.ones((1, 1), np.float32))
    assert blocker.read_text() == "x"


def test_save_table_swaps_the_whole_directory(tmp_path) -> None:
    target = tmp_path / "t"
    save_table(target, np.ones((1, 2), np.float32), ["a"], extra_files={"meta.json": b"{}"})
    save_table(target, np.zeros((2, 2), np.float32), ["b", "c"])
    assert sorted(p.name for p in target.iterdir()) == [
        "config.json",
        "vocab.json",
        "weights.safetensors",
    ]  # the old meta.json does not linger beside the new weights
    assert load_table(target)[1] == ["b", "c"]
    assert sorted(os.listdir(tmp_path)) == ["t"]


def test_the_safetensors_file_is_read_by_safetensors(tmp_path) -> None:
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    from safetensors import safe_open

    weight = np.arange(15, dtype=np.float16).reshape(5, 3)
    save_table(tmp_path / "t", weight, list("abcde"))
    loaded = safetensors_numpy.load_file(tmp_path / "t" / "weights.safetensors")
    np.testing.assert_array_equal(loaded["weight"], weight)
    assert loaded["weight"].dtype == np.float16
    with safe_open(tmp_path / "t" / "weights.safetensors", "np") as handle:
        assert handle.metadata() == {"format": "embtable-table", "version": "1"}


def test_a_directory_of_other_files_is_not_replaced(tmp_path) -> None:
    # `embtable convert vectors.txt ~/data` once swapped ~/data for a table, deleting its files
    # (the input among them); a directory that is not an earlier output is refused.
    from embtable.cli.__main__ import main
    from embtable.io import registry

    data = tmp_path / "data"
    data.mkdir()
    source = data / "vectors.txt"
    write_word2vec_text(source, ["a", "b"], np.eye(2, dtype=np.float32))
    (data / "notes").mkdir()
    for call in (
        lambda: save_table(data, np.ones((1, 2), np.float32), ["a"]),
        lambda: registry.write(data, ["a"], np.ones((1, 2), np.float32), format="projector"),
    ):
        with pytest.raises(OutputError, match=r"holds other files \(notes, vectors\.txt\)"):
            call()
    assert main(["convert", str(source), str(data)]) == 1
    assert sorted(os.listdir(data)) == ["notes", "vectors.txt"]
    # an empty directory, and an earlier table or projector export, are replaced as before
    (tmp_path / "empty").mkdir()
    for target, fmt in (("empty", "embtable"), ("table", "embtable"), ("proj", "projector")):
        for _ in range(2):
            registry.write(tmp_path / target, ["a"], np.ones((1, 2), np.float32), format=fmt)
    assert registry.read(tmp_path / "proj")[0] == ["a"]


def test_a_dangling_symlink_output_is_replaced_by_the_file(tmp_path) -> None:
    # the check before writing followed the link and failed with "No such file or directory"
    link = tmp_path / "v.txt"
    link.symlink_to(tmp_path / "gone" / "nowhere.txt")
    write_word2vec_text(link, ["a"], np.ones((1, 2), np.float32))
    assert not link.is_symlink() and read_word2vec_text(link)[0] == ["a"]


_READ_ONLY = textwrap.dedent(
    r"""
    import os, sys
    import numpy as np
    from embtable import OutputError
    from embtable.io import write_word2vec_text
    if os.getuid() == 0:
        os.setuid(65534)  # root may write anything: check as an ordinary user
    try:
        write_word2vec_text(sys.argv[1], ["new"], np.ones((1, 2), np.float32))
    except OutputError as err:
        print(f"OutputError: {err}")
    """
)


@pytest.mark.skipif(sys.platform != "linux", reason="setuid in the helper")
def test_a_read_only_file_is_not_replaced() -> None:
    # a rename needs only the directory's write permission, so a chmod 0444 file was replaced
    import shutil
    import tempfile

    folder = tempfile.mkdtemp()  # not tmp_path: its parents are closed to the helper's user
    try:
        os.chmod(folder, 0o777)
        target = os.path.join(folder, "v.txt")
        write_word2vec_text(target, ["old"], np.ones((1, 2), np.float32))
        os.chmod(target, 0o444)
        result = subprocess.run(
            [sys.executable, "-c", _READ_ONLY, target],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        kept = read_word2vec_text(target)[0]
    finally:
        shutil.rmtree(folder)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OutputError: [Errno 13] cannot write the file"), result.stdout
    assert "it is read-only" in result.stdout
    assert kept == ["old"]
