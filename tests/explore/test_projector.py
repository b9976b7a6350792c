"""TensorBoard projector export: the exact bytes of the three files, round trips, refusals,
and (when tensorboard is installed) the real projector plugin serving the export."""

from __future__ import annotations

import importlib.util
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from embtable import OptionError, OptionTypeError, OutputError, ShapeError, VectorFormatError
from embtable.io._detect import Probe
from embtable.io.projector import (
    CONFIG_FILE,
    METADATA_FILE,
    TENSORS_FILE,
    peek_projector,
    read_projector,
    sniff_projector,
    write_projector,
)
from embtable.text import Vocab
from embtable.vectors import Vectors

DATA = Path(__file__).resolve().parents[1] / "data"
GLOVE = DATA / "test_glove.txt"


def test_exact_bytes(tmp_path: Path) -> None:
    matrix = np.array([[0.1, -2.0, 3.5e-8], [1e20, 0.0, -0.0]], dtype=np.float32)
    write_projector(tmp_path / "p", ["naïve", "two words"], matrix)
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == [
        METADATA_FILE,
        CONFIG_FILE,
        TENSORS_FILE,
    ]
    assert (tmp_path / "p" / TENSORS_FILE).read_bytes() == (
        b"0.1\t-2.0\t3.5e-08\n1e+20\t0.0\t-0.0\n"
    )
    # One column: no header line, one label per line (spaces allowed), UTF-8.
    assert (tmp_path / "p" / METADATA_FILE).read_bytes() == "naïve\ntwo words\n".encode()
    assert (tmp_path / "p" / CONFIG_FILE).read_text(encoding="utf-8") == (
        "embeddings {\n"
        '  tensor_name: "embtable"\n'
        '  tensor_path: "tensors.tsv"\n'
        '  metadata_path: "metadata.tsv"\n'
        "  tensor_shape: 2\n"
        "  tensor_shape: 3\n"
        "}\n"
    )


def test_tensor_lines_are_tab_separated_floats_one_row_per_line(tmp_path: Path) -> None:
    vectors = Vectors.load(GLOVE)
    write_projector(tmp_path / "p", vectors.tokens, vectors.matrix)
    lines = (tmp_path / "p" / TENSORS_FILE).read_text(encoding="ascii").split("\n")
    assert lines[-1] == "" and len(lines) == len(vectors) + 1
    for line, row in zip(lines[:-1], vectors.matrix, strict=True):
        fields = line.split("\t")
        assert len(fields) == vectors.dim
        assert all(re.fullmatch(r"-?\d+(\.\d+)?(e[+-]\d+)?", f) for f in fields)
        np.testing.assert_array_equal(np.array(fields, dtype=np.float32), row)  # exact
    labels = (tmp_path / "p" / METADATA_FILE).read_text(encoding="utf-8").split("\n")
    assert labels[:-1] == vectors.tokens and labels[-1] == ""
    assert not any("\t" in label for label in labels)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_round_trip(tmp_path: Path, dtype: type, rng: np.random.Generator) -> None:
    matrix = rng.standard_normal((7, 3)).astype(dtype)
    tokens = [f"t{i}" for i in range(7)]
    write_projector(tmp_path / "p", tokens, matrix)
    read_tokens, read_matrix = read_projector(tmp_path / "p", dtype=dtype)
    assert read_tokens == tokens
    np.testing.assert_array_equal(read_matrix, matrix)
    assert read_projector(tmp_path / "p", limit=2)[0] == tokens[:2]


def test_vocab_tokens_and_a_replaced_directory(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "stale.txt").write_text("old")
    with pytest.raises(OutputError, match="holds other files"):  # not an earlier export
        write_projector(tmp_path / "p", ["a"], np.eye(1, 2))
    (tmp_path / "p" / "stale.txt").unlink()
    write_projector(tmp_path / "p", ["a"], np.eye(1, 2), tensor_name="old")
    (tmp_path / "p" / "stale.txt").write_text("old")  # a file beside an earlier export
    write_projector(tmp_path / "p", Vocab(["a", "b"]), np.eye(2), tensor_name='my "run"')
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == [
        METADATA_FILE,
        CONFIG_FILE,
        TENSORS_FILE,
    ]
    assert 'tensor_name: "my \\"run\\""' in (tmp_path / "p" / CONFIG_FILE).read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]  # no staging left behind


@pytest.mark.parametrize(
    ("tokens", "matrix", "error", "message"),
    [
        (["a", ""], np.eye(2), OptionError, "token 1 ('') cannot be a projector label"),
        (["a", "  "], np.eye(2), OptionError, "token 1 ('  ') cannot be a projector label"),
        (["a\tb", "c"], np.eye(2), OptionError, "token 0 ('a\\tb') cannot be a projector label"),
        (["a", "b\n"], np.eye(2), OptionError, "token 1 ('b\\n') cannot be a projector label"),
        (["a", 3], np.eye(2), OptionTypeError, "token 1 must be a string, got int"),
        (["a"], np.eye(2), ShapeError, "got 1 tokens for a matrix of 2 rows; they must match"),
        (["a", "b"], np.ones((2, 1)), ShapeError, "needs vectors of 2 or more dimensions, got 1"),
        (["a"], np.ones(2), ShapeError, "matrix must be 2-D (tokens, dimension), got shape (2,)"),
        (
            ["a", "b"],
            np.array([[1, np.inf], [0, 1]]),
            OptionError,
            "the vector of token 0 ('a') holds NaN or infinity",
        ),
        (
            ["a", "b"],
            np.array([["x", "y"], ["z", "w"]]),
            OptionTypeError,
            "matrix must hold numbers, got dtype <U1",
        ),
    ],
)
def test_refusals_write_nothing(tmp_path: Path, tokens, matrix, error, message) -> None:
    with pytest.raises(error, match=re.escape(message)):
        write_projector(tmp_path / "p", tokens, matrix)
    assert list(tmp_path.iterdir()) == []


def test_output_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "p").write_text("x")
    with pytest.raises(OutputError, match="it is a file"):
        write_projector(tmp_path / "p", ["a", "b"], np.eye(2))
    assert (tmp_path / "p").read_text() == "x"


def test_read_tensorboard_style_directories(tmp_path: Path) -> None:
    # A config naming other files, blank lines, CRLF and a metadata file with a header.
    (tmp_path / CONFIG_FILE).write_text(
        'embeddings {\n  tensor_name: "x"\n  tensor_path: "vecs.tsv"\n'
        '  metadata_path: "meta.tsv"\n}\n'
    )
    (tmp_path / "vecs.tsv").write_text("1\t2\r\n\n3\t4\n")
    (tmp_path / "meta.tsv").write_text("word\tcount\ncat\t5\ndog\t3\n")
    tokens, matrix = read_projector(tmp_path)
    assert tokens == ["cat", "dog"]
    np.testing.assert_array_equal(matrix, [[1, 2], [3, 4]])
    assert sniff_projector(Probe(tmp_path, None))


@pytest.mark.parametrize(
    ("tensors", "metadata", "message"),
    [
        (
            "1\t2\n3\n",
            "a\nb\n",
            "tensors.tsv:2: expected 2 tab-separated numbers (as on line 1), found 1",
        ),
        ("1\t2\n3\tx\n", "a\nb\n", "tensors.tsv:2: 'x' is not a number"),
        (
            "1\t2\n3\t4\n",
            "a\n",
            "metadata.tsv: holds 1 labels for the 2 rows of tensors.tsv; they must match",
        ),
        (
            "1\t2\n3\t4\n",
            "a\na\n",
            "metadata.tsv: row 2: duplicate token 'a', first seen at metadata.tsv: row 1",
        ),
    ],
)
def test_malformed_directories(tmp_path: Path, tensors: str, metadata: str, message: str) -> None:
    (tmp_path / TENSORS_FILE).write_text(tensors)
    (tmp_path / METADATA_FILE).write_text(metadata)
    with pytest.raises(VectorFormatError, match=re.escape(message)):
        read_projector(tmp_path)


def test_peek(tmp_path: Path) -> None:
    vectors = Vectors.load(GLOVE)
    write_projector(tmp_path / "p", vectors.tokens, vectors.matrix)
    summary = peek_projector(tmp_path / "p")
    assert (summary.rows, summary.dim, summary.source) == (76, 50, CONFIG_FILE)
    assert summary.tokens == tuple(vectors.tokens[:10])
    (tmp_path / "p" / CONFIG_FILE).unlink()
    assert peek_projector(tmp_path / "p").source == "lines counted"
    assert peek_projector(tmp_path / "p").rows == 76


@pytest.mark.skipif(
    importlib.util.find_spec("tensorboard") is None, reason="tensorboard is not installed"
)
def test_tensorboard_projector_plugin_serves_the_export(tmp_path: Path) -> None:
    vectors = Vectors.load(GLOVE)
    write_projector(tmp_path, vectors.tokens, vectors.matrix, tensor_name="glove")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tensorboard's own import-time deprecations
        from tensorboard.backend.event_processing import plugin_event_multiplexer
        from tensorboard.plugins import base_plugin
        from tensorboard.plugins.projector import projector_plugin
        from werkzeug import test as werkzeug_test
        from werkzeug import wrappers

        context = base_plugin.TBContext(
            logdir=str(tmp_path), multiplexer=plugin_event_multiplexer.EventMultiplexer()
        )
        apps = projector_plugin.ProjectorPlugin(context).get_plugin_apps()

        def get(route: str, **query: str) -> bytes:
            environ = werkzeug_test.EnvironBuilder(path=route, query_string=query).get_environ()
            response = wrappers.Response.from_app(apps[route], environ)
            assert response.status_code == 200, response.get_data()
            return response.get_data()

        assert get("/runs") == b'["."]'
        info = get("/info", run=".")
        tensor = get("/tensor", run=".", name="glove", num_rows="1000")
        metadata = get("/metadata", run=".", name="glove", num_rows="1000")
    import json

    embedding = json.loads(info)["embeddings"][0]
    assert embedding["tensorShape"] == [76, 50]
    assert embedding["tensorPath"] == TENSORS_FILE and embedding["metadataPath"] == METADATA_FILE
    np.testing.assert_array_equal(
        np.frombuffer(tensor, dtype=np.float32).reshape(76, 50), vectors.matrix
    )
    assert metadata.decode("utf-8").split("\n")[:-1] == vectors.tokens


# The registry entry proposed for embtable.io.registry.FORMATS (after the "embtable" entry, so
# that a table stays the default directory format); used here until the registry has it.
PROJECTOR_ENTRY = dict(
    name="projector",
    description="TensorBoard projector directory (tensors.tsv, metadata.tsv, "
    "projector_config.pbtxt)",
    reader="embtable.io.projector:read_projector",
    writer="embtable.io.projector:write_projector",
    sniffer="embtable.io.projector:sniff_projector",
    peeker="embtable.io.projector:peek_projector",
    directory=True,
    read_options=frozenset({"limit", "dtype", "duplicates"}),
)


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch):
    from embtable.io import registry

    if "projector" not in registry.names():
        entry = registry.FormatEntry(**PROJECTOR_ENTRY)
        monkeypatch.setattr(registry, "FORMATS", (*registry.FORMATS, entry))
    return registry


def test_registry_entry_round_trip_and_detection(registry, tmp_path: Path) -> None:
    vectors = Vectors.load(GLOVE)
    assert registry.write(tmp_path / "p", vectors.tokens, vectors.matrix, format="projector") == (
        "projector"
    )
    from embtable.io import detect_format

    assert detect_format(tmp_path / "p") == "projector"
    tokens, matrix = registry.as_pair(registry.read(tmp_path / "p"))
    assert tokens == vectors.tokens
    np.testing.assert_array_equal(matrix, vectors.matrix)
    assert registry.read(tmp_path / "p", limit=3)[0] == vectors.tokens[:3]
    assert registry.peek(tmp_path / "p").rows == 76
    assert registry.format_for_path(tmp_path / "out") == "embtable"  # still the default


def test_convert_to_projector(registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from embtable.cli.__main__ import main

    assert main(["convert", str(GLOVE), str(tmp_path / "proj"), "--to", "projector"]) == 0
    assert "(projector)" in capsys.readouterr().out
    assert (tmp_path / "proj" / METADATA_FILE).read_text(encoding="utf-8").split("\n")[0] == "the"
    assert main(["info", str(tmp_path / "proj")]) == 0
    assert "76" in capsys.readouterr().out
