"""The explorer page's data, built without a browser: what is embedded, how, and the errors."""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from embtable import OptionError, OptionTypeError, OutputError, ShapeError, VectorFormatError
from embtable.cli import explore as explore_cli
from embtable.explore import (
    FLOAT32_LIMIT,
    TrainingLog,
    build_page,
    project_2d,
    quantize_rows,
    read_training_log,
    write_page,
)
from embtable.io.tables import save_table
from embtable.text import Vocab
from embtable.vectors import Vectors

DATA = Path(__file__).resolve().parents[1] / "data"
GLOVE = DATA / "test_glove.txt"


def page_data(page: str) -> dict:
    match = re.search(
        r'<script id="embtable-data" type="application/json">(.*?)</script>', page, re.S
    )
    assert match is not None
    return json.loads(match.group(1))


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1
    return matrix / norms


def vectors_unit(vectors: Vectors) -> np.ndarray:
    """The unit vectors the queries of Vectors use."""
    return np.stack([vectors.get_vector(token, norm=True) for token in vectors.tokens])


@pytest.fixture
def vectors(rng: np.random.Generator) -> Vectors:
    tokens = [f"w{i}" for i in range(40)]
    return Vectors(tokens, rng.standard_normal((40, 6)).astype(np.float32))


# -- what the page embeds ------------------------------------------------------------------


def test_float32_page_embeds_the_unit_vectors_bit_for_bit(vectors: Vectors) -> None:
    data = page_data(build_page(vectors, precision="float32"))
    assert data["words"] == vectors.tokens and data["dim"] == 6 and data["total"] == 40
    embedded = np.frombuffer(base64.b64decode(data["vectors"]), dtype="<f4").reshape(40, 6)
    np.testing.assert_array_equal(embedded, vectors_unit(vectors))  # what `similar` ranks with
    assert data["rank"] == list(range(40))  # no counts: rows are taken as frequency-ordered


def test_int8_page_embeds_quantized_rows(vectors: Vectors) -> None:
    data = page_data(build_page(vectors, precision="int8"))
    codes = np.frombuffer(base64.b64decode(data["vectors"]), dtype=np.int8).reshape(40, 6)
    np.testing.assert_array_equal(codes, quantize_rows(vectors_unit(vectors)))
    assert data["precision"] == "int8"


def test_auto_precision_switches_to_int8_above_the_limit(rng: np.random.Generator) -> None:
    dim = 250
    rows = FLOAT32_LIMIT // dim
    tokens = [f"w{i}" for i in range(rows + 1)]
    vectors = Vectors(tokens, rng.standard_normal((rows + 1, dim)).astype(np.float32))
    assert page_data(build_page(vectors, words=rows))["precision"] == "float32"
    assert page_data(build_page(vectors, words=rows + 1))["precision"] == "int8"


def test_most_frequent_words_by_counts_skip_specials_and_keep_row_order(vectors: Vectors) -> None:
    counts = [5] * 40
    counts[30], counts[10], counts[20], counts[0] = 50, 40, 40, 99
    page = build_page(vectors, words=4, counts=counts, skip=["w0", "absent"])
    data = page_data(page)
    # w30 (50), then w10 and w20 (40, tied: row order), then the first 5 (w1); w0 is skipped.
    assert data["words"] == ["w1", "w10", "w20", "w30"]
    assert data["rank"] == [3, 1, 2, 0]
    assert data["total"] == 39
    assert "the 4 words shown (the most frequent of 39)" in data["notes"][0]


def test_coordinates_fill_the_unit_square_keeping_the_aspect(vectors: Vectors) -> None:
    data = page_data(build_page(vectors))
    packed = np.frombuffer(base64.b64decode(data["xy"]), dtype="<u2").reshape(40, 2) / 65535
    coords, _ = project_2d(vectors.matrix)
    extent = np.ptp(coords, axis=0)
    assert packed.min() >= 0 and packed.max() <= 1
    wide = int(np.argmax(extent))
    assert packed[:, wide].min() == 0 and packed[:, wide].max() == 1
    np.testing.assert_allclose(np.ptp(packed, axis=0), extent / extent.max(), atol=2 / 65535)


@pytest.mark.parametrize(
    "token", ["</script><script>alert(1)</script>", "a&b<!--", "\u2028x", "é\"'"]
)
def test_tokens_and_titles_cannot_break_out_of_the_page(token: str) -> None:
    vectors = Vectors([token, "plain"], np.array([[1.0, 0], [0, 1]]))
    page = build_page(vectors, title='<b>t</b> & "q"')
    assert page.count("</script>") == 2  # the data block's and the script's own
    assert "<b>t</b>" not in page and "&lt;b&gt;t&lt;/b&gt; &amp; &quot;q&quot;" in page
    assert page_data(page)["words"] == [token, "plain"]


def test_training_log_is_embedded(vectors: Vectors) -> None:
    log = TrainingLog({"epoch": [1.0, 2.0], "loss": [2.5, None]}, "training.csv")
    data = page_data(build_page(vectors, training=log))
    assert data["training"] == {
        "source": "training.csv",
        "columns": {"epoch": [1.0, 2.0], "loss": [2.5, None]},
    }
    assert (
        page_data(build_page(vectors, training=TrainingLog({}, "training.csv")))["training"] is None
    )


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"words": 0}, OptionError, "words must be >= 1, got 0"),
        ({"words": True}, OptionTypeError, "words must be an integer, got bool True"),
        ({"words": 2.5}, OptionTypeError, "words must be an integer, got float 2.5"),
        (
            {"precision": "int4"},
            OptionError,
            "precision must be one of 'auto', 'float32', 'int8', got 'int4'",
        ),
        (
            {"projection": "mds"},
            OptionError,
            "projection must be one of 'pca', 'tsne', 'umap', got 'mds'",
        ),
        ({"counts": [1, 2]}, ShapeError, "counts has 2 entries for 40 tokens; they must match"),
        (
            {"skip": [f"w{i}" for i in range(40)]},
            ShapeError,
            "no words to show: the vectors hold 40 tokens, 40 skipped and 0 with NaN or infinity",
        ),
    ],
)
def test_bad_options_raise(vectors: Vectors, options: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        build_page(vectors, **options)


def test_non_finite_vectors_are_left_out_as_queries_leave_them_out() -> None:
    vectors = Vectors(["ok", "bad", "fine"], np.array([[1.0, 0], [np.nan, 1], [0, np.inf]]))
    data = page_data(build_page(vectors))
    assert data["words"] == ["ok"] and data["total"] == 1
    assert "2 vectors holding NaN or infinity are left out" in " ".join(data["notes"])
    with pytest.raises(ShapeError, match=re.escape("1 skipped and 2 with NaN or infinity")):
        build_page(vectors, skip=["ok"])


# -- quantisation --------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 8), st.integers(1, 40)),
        elements=st.floats(-1e3, 1e3, allow_subnormal=False),
    )
)
def test_quantize_rows_keeps_each_row_within_half_a_step(matrix: np.ndarray) -> None:
    codes = quantize_rows(matrix)
    peak = np.abs(matrix).max(axis=1, keepdims=True)
    assert codes.dtype == np.int8 and np.abs(codes.astype(int)).max() <= 127
    nonzero = peak[:, 0] > 0
    assert (np.abs(codes[nonzero]).max(axis=1) == 127).all()
    assert (codes[~nonzero] == 0).all()
    scale = np.where(peak > 0, peak, 1) / 127
    assert (np.abs(codes * scale - matrix) <= scale / 2 * (1 + 1e-9)).all()


def test_int8_cosines_stay_close_on_real_vectors() -> None:
    unit = unit_rows(Vectors.load(GLOVE).matrix.astype(np.float64))
    codes = quantize_rows(unit).astype(np.float64)
    decoded = unit_rows(codes)
    assert np.abs(decoded @ decoded.T - unit @ unit.T).max() < 0.01


def test_quantize_rows_needs_a_matrix() -> None:
    with pytest.raises(ShapeError, match=re.escape("matrix must be 2-D, got shape (3,)")):
        quantize_rows(np.ones(3))


# -- projection ----------------------------------------------------------------------------


def test_pca_projects_onto_the_leading_axes_of_the_unit_rows(rng: np.random.Generator) -> None:
    matrix = rng.standard_normal((30, 5)) * np.array([5, 3, 1, 0.5, 0.1])
    coords, info = project_2d(matrix)
    unit = unit_rows(matrix)
    centred = unit - unit.mean(axis=0)
    _, singular, components = np.linalg.svd(centred, full_matrices=False)
    reference = centred @ components[:2].T
    np.testing.assert_allclose(np.abs(coords), np.abs(reference), atol=1e-12)
    np.testing.assert_allclose(info["explained"], singular[:2] ** 2 / (singular**2).sum())
    again, _ = project_2d(matrix.astype(np.float32))
    np.testing.assert_allclose(again, coords, atol=1e-5)  # same signs on every run


@pytest.mark.parametrize("shape", [(1, 4), (5, 1), (3, 2)])
def test_pca_of_tiny_tables(shape: tuple[int, int], rng: np.random.Generator) -> None:
    coords, info = project_2d(rng.standard_normal(shape))
    assert coords.shape == (shape[0], 2) and len(info["explained"]) == 2
    assert np.isfinite(coords).all()


@pytest.mark.parametrize("bad", [np.ones(3), np.ones((0, 3)), np.array([["a"]])])
def test_project_2d_refuses_non_matrices(bad: np.ndarray) -> None:
    with pytest.raises(
        ShapeError, match="matrix must be a 2-D numeric array with at least one row"
    ):
        project_2d(bad)


def _installed(method: str) -> bool:
    """Whether the estimator that ``method`` needs imports (as the library imports it)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # third-party import-time warnings
            if method == "tsne":
                from sklearn.manifold import TSNE  # noqa: F401
            else:
                from umap import UMAP  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.parametrize(("method", "package"), [("tsne", "scikit-learn"), ("umap", "umap-learn")])
def test_optional_projections(method: str, package: str, rng: np.random.Generator) -> None:
    matrix = rng.standard_normal((40, 8))
    if not _installed(method):
        with pytest.raises(
            OptionError, match=re.escape(f"projection {method!r} needs the package {package!r}")
        ):
            project_2d(matrix, method=method)
        return
    coords, info = project_2d(matrix, method=method, seed=0)
    assert coords.shape == (40, 2) and info == {"method": method} and np.isfinite(coords).all()
    with pytest.raises(OptionError, match=f"projection {method!r} needs at least 4 words, got 3"):
        project_2d(matrix[:3], method=method)


# -- training log --------------------------------------------------------------------------


def test_training_csv_with_missing_and_extra_columns(tmp_path: Path) -> None:
    (tmp_path / "training.csv").write_text(
        "epoch,loss,extra,words_per_sec\n1,2.5,x,1000\n1,,y,nan\n2,2.1,z,1200\n", encoding="utf-8"
    )
    log = read_training_log(tmp_path)
    assert log is not None and log.source == "training.csv" and len(log) == 3
    assert log.columns == {
        "epoch": [1.0, 1.0, 2.0],
        "loss": [2.5, None, 2.1],
        "words_per_sec": [1000.0, None, 1200.0],
    }


def test_training_csv_as_embtable_train_writes_it(tmp_path: Path) -> None:
    (tmp_path / "training.csv").write_text(
        "epoch,words_done,loss,learning_rate,words_per_second,seconds\n"
        "1,200000,3.1,0.0249,410000.5,0.49\n1,400000,2.8,0.0248,420000,0.95\n",
        encoding="utf-8",
    )
    log = read_training_log(tmp_path)
    assert log is not None and log.columns == {
        "epoch": [1.0, 1.0],
        "words": [200000.0, 400000.0],
        "loss": [3.1, 2.8],
        "lr": [0.0249, 0.0248],
        "words_per_sec": [410000.5, 420000.0],
    }


def test_training_csv_with_a_bad_cell_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "training.csv").write_text("epoch,loss\n1,2.5\n2,oops\n", encoding="utf-8")
    with pytest.raises(
        VectorFormatError,
        match=re.escape("training.csv:3: column 'loss' holds 'oops', not a number"),
    ):
        read_training_log(tmp_path)


def test_meta_json_epoch_losses_are_the_fallback(tmp_path: Path) -> None:
    (tmp_path / "meta.json").write_text(json.dumps({"epoch_losses": [2.9, 2.4]}), encoding="utf-8")
    log = read_training_log(tmp_path)
    assert log == TrainingLog({"epoch": [1.0, 2.0], "loss": [2.9, 2.4]}, "meta.json")
    (tmp_path / "meta.json").write_text(json.dumps({"model": "x"}), encoding="utf-8")
    assert read_training_log(tmp_path) is None
    (tmp_path / "meta.json").write_text("{", encoding="utf-8")
    with pytest.raises(VectorFormatError, match=re.escape("meta.json: not valid UTF-8 JSON")):
        read_training_log(tmp_path)


def test_no_training_record(tmp_path: Path) -> None:
    assert read_training_log(tmp_path) is None
    assert read_training_log(GLOVE) is None  # a vectors file, not a table directory


# -- writing the page ----------------------------------------------------------------------


def test_write_page_of_a_table_uses_its_counts_specials_and_training(tmp_path: Path) -> None:
    vectors = Vectors.load(GLOVE)
    tokens = ["<pad>", *vectors.tokens[:20]]
    counts = [0, *range(1, 21)]  # rarest first: the page must reorder by count
    vocab = Vocab(tokens, counts=counts, specials=["<pad>"], pad_token="<pad>")
    matrix = np.vstack([np.zeros((1, vectors.dim), np.float32), vectors.matrix[:20]])
    save_table(tmp_path / "table", matrix, vocab)
    (tmp_path / "table" / "training.csv").write_text("words,loss\n10,3\n20,2\n", encoding="utf-8")
    info = write_page(tmp_path / "table", tmp_path / "page.html", words=5)
    data = page_data((tmp_path / "page.html").read_text(encoding="utf-8"))
    assert data["words"] == tokens[16:21] and data["rank"] == [4, 3, 2, 1, 0]
    assert (info.words, info.total, info.dim, info.precision, info.training) == (
        5,
        20,
        50,
        "float32",
        "training.csv",
    )
    assert info.size == os.path.getsize(tmp_path / "page.html")
    assert data["title"] == "table"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html", "table"]  # no temporaries


def test_write_page_checks_the_output_before_loading(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    with pytest.raises(OutputError, match="it is a directory"):
        write_page(tmp_path / "no-such-table", tmp_path / "taken")


# -- the sub-command -----------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="embtable")
    explore_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser


def test_cli_writes_the_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "glove.html"
    args = _parser().parse_args(
        ["explore", str(GLOVE), "-o", str(output), "--words", "30", "--title", "GloVe"]
    )
    assert args.run(args) == 0
    captured = capsys.readouterr()
    assert captured.out == f"{output}\n"
    assert captured.err.startswith(f"wrote {output} (0.0")
    assert "30 of 76 words, 50 dimensions, PCA, float32 vectors" in captured.err
    data = page_data(output.read_text(encoding="utf-8"))
    assert len(data["words"]) == 30 and data["title"] == "GloVe"


def test_cli_without_training_curves(tmp_path: Path) -> None:
    save_table(tmp_path / "t", np.eye(3), ["a", "b", "c"])
    (tmp_path / "t" / "training.csv").write_text("words,loss\n1,2\n", encoding="utf-8")
    args = _parser().parse_args(
        ["explore", str(tmp_path / "t"), "-o", str(tmp_path / "p.html"), "--no-training"]
    )
    assert args.run(args) == 0
    assert page_data((tmp_path / "p.html").read_text(encoding="utf-8"))["training"] is None


def test_cli_load_options(tmp_path: Path) -> None:
    (tmp_path / "v.txt").write_bytes(b"a 1 0\na 0 1\nb\xff 1 1\n")
    out = tmp_path / "p.html"
    args = _parser().parse_args(["explore", str(tmp_path / "v.txt"), "-o", str(out)])
    with pytest.raises(VectorFormatError, match="is not valid utf-8"):
        args.run(args)
    argv = ["--unicode-errors", "replace"]
    args = _parser().parse_args(["explore", str(tmp_path / "v.txt"), "-o", str(out), *argv])
    with pytest.raises(VectorFormatError, match="duplicate token 'a'"):
        args.run(args)
    assert not out.exists()
    argv = ["--format", "glove", "--duplicates", "last", "--unicode-errors", "replace"]
    args = _parser().parse_args(["explore", str(tmp_path / "v.txt"), "-o", str(out), *argv])
    assert args.run(args) == 0
    data = page_data(out.read_text(encoding="utf-8"))
    assert data["words"] == ["a", "b\ufffd"]
    embedded = np.frombuffer(base64.b64decode(data["vectors"]), dtype="<f4").reshape(2, 2)
    np.testing.assert_array_equal(embedded[0], [0, 1])  # the last vector of 'a'


def test_cli_missing_table(tmp_path: Path) -> None:
    args = _parser().parse_args(["explore", str(tmp_path / "nope"), "-o", str(tmp_path / "p.html")])
    with pytest.raises(FileNotFoundError):
        args.run(args)
    assert not (tmp_path / "p.html").exists()


@pytest.mark.parametrize(
    "argv", [["--words", "0"], ["--projection", "mds"], ["--precision", "int4"]]
)
def test_cli_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _parser().parse_args(["explore", "t", *argv])
    assert exit_info.value.code == 2


def test_templates_cannot_close_their_own_elements() -> None:
    from importlib import resources

    folder = resources.files("embtable.explore") / "template"
    script = (folder / "page.js").read_text(encoding="utf-8").lower()
    style = (folder / "page.css").read_text(encoding="utf-8").lower()
    assert "</script" not in script and "<!--" not in script
    assert "</style" not in style
    assert "http://" not in style and "https://" not in style and "url(" not in style
