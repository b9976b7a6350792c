"""The explorer page in a real headless Chromium: it loads from file:// without errors or
requests, its search lists the neighbours `embtable similar` prints, its analogy box answers
as Vectors.analogy does, hover and zoom work, and a screenshot shows a picture."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from explore_browser import Browser, decode_png, find_chromium
from explore_twin import int8_neighbours

from embtable.cli.__main__ import main
from embtable.explore import write_page
from embtable.io.tables import save_table
from embtable.vectors import Vectors

DATA = Path(__file__).resolve().parents[1] / "data"
GLOVE = DATA / "test_glove.txt"  # 76 rows of GloVe 6B 50d, non-ASCII words included
WORD2VEC = DATA / "word2vec_pre_kv_c"  # 1750 x 10, word2vec C tool output
INSTALL = (
    "apt-get install -y chromium (Debian), or set EMBTABLE_CHROMIUM to a Chromium or Chrome binary"
)


# Tokens that are markup, quotes, bidi controls or very long: shown as text, never run.
HOSTILE = [
    "</script><img src=x onerror=document.title='pwned'>",
    '"quoted"',
    "<b>bold</b>",
    "a&amp;b",
    "${x}",
    "\u202eltr",
    "\u00e9" * 300,
]


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


# Here rather than in a tests/explore/conftest.py: under --doctest-modules a second conftest.py
# clashes with tests/torch/conftest.py when both directories are collected in one command.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """A headless Chromium shared by the module's tests. Without Chromium the tests skip, saying
    how to install it, except under ``CI=true``, where they fail: CI must run them."""
    binary = find_chromium()
    if binary is None:
        message = f"the explorer's browser tests need Chromium, which is not installed: {INSTALL}"
        if _in_ci():
            pytest.fail(f"CI=true and {message}")
        pytest.skip(message)
    session = Browser(binary)
    try:
        yield session
    finally:
        session.close()


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pages")
    table = root / "glove-table"
    vectors = Vectors.load(GLOVE)
    save_table(table, vectors.matrix, vectors.tokens, {"dim": vectors.dim})
    # A training record with the loss and learning rate but no words_per_sec column.
    (table / "training.csv").write_text(
        "epoch,words,loss,lr\n"
        + "".join(
            f"{1 + i // 5},{(i + 1) * 1000},{3.0 - 0.1 * i:.2f},{0.025 * (1 - i / 10):.5f}\n"
            for i in range(10)
        ),
        encoding="utf-8",
    )
    out = {
        "glove": root / "glove.html",
        "table": root / "table.html",
        "restricted": root / "restricted.html",
        "int8": root / "int8.html",
        "single": root / "single.html",
        "zero": root / "zero.html",
        "hostile": root / "hostile.html",
    }
    write_page(GLOVE, out["glove"])
    write_page(table, out["table"])
    write_page(WORD2VEC, out["restricted"], words=500, precision="float32")
    write_page(WORD2VEC, out["int8"], precision="int8")
    Vectors(["alone"], np.array([[0.5, -1.0, 2.0]])).save(root / "single.txt")
    write_page(root / "single.txt", out["single"])
    Vectors(["x", "nil", "y", "-x"], np.array([[1.0, 0], [0, 0], [0.6, 0.8], [-1, 0]])).save(
        root / "zero.txt"
    )
    write_page(root / "zero.txt", out["zero"])
    save_table(root / "hostile", np.eye(len(HOSTILE), 4, dtype=np.float32) + 0.1, HOSTILE)
    write_page(root / "hostile", out["hostile"], title=HOSTILE[0])
    return out


def _open(browser: Browser, page: Path) -> None:
    browser.events.clear()
    browser.open(page.as_uri())
    assert browser.evaluate("document.body.dataset.ready") == "true"


def _results(browser: Browser, list_id: str) -> list[tuple[str, float]]:
    found = browser.evaluate(
        f"[...document.querySelectorAll('#{list_id} li')]"
        ".map(li => [li.dataset.word, Number(li.dataset.score), li.textContent])"
    )
    for word, score, text in found:
        assert word in text and f"{score:.4f}"[:-1] in text  # the list shows what it holds
    return [(word, score) for word, score, _ in found]


def _search(browser: Browser, word: str) -> list[tuple[str, float]]:
    browser.type_into("#search", word)
    return _results(browser, "neighbours")


def _similar_cli(path: Path, word: str, k: int, capsys: pytest.CaptureFixture[str]) -> list:
    capsys.readouterr()
    assert main(["similar", str(path), word, "-k", str(k)]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [re.match(r"^\s+(-?\d+\.\d+)\s+(\S.*)$", line) for line in lines]
    return [(m.group(2), float(m.group(1))) for m in rows if m]


def test_page_loads_from_file_without_errors_or_requests(browser: Browser, pages) -> None:
    for page in pages.values():
        _open(browser, page)
        assert browser.errors() == []
        assert browser.requests() == [page.as_uri()]  # the page itself, nothing else


@pytest.mark.parametrize("word", ["the", "year", "percent", "ö", "हु", "she"])
def test_search_lists_the_neighbours_embtable_similar_prints(
    browser: Browser, pages, word: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _open(browser, pages["glove"])
    shown = _search(browser, word)
    expected = _similar_cli(GLOVE, word, 10, capsys)
    assert [w for w, _ in shown] == [w for w, _ in expected]
    np.testing.assert_allclose([s for _, s in shown], [s for _, s in expected], atol=5e-5)
    # ... and the scores agree with Vectors.most_similar to float32 rounding.
    reference = Vectors.load(GLOVE).most_similar(word, k=10)
    assert [w for w, _ in shown] == [w for w, _ in reference]
    np.testing.assert_allclose([s for _, s in shown], [s for _, s in reference], atol=1e-6)
    assert browser.errors() == []


def test_neighbour_count_follows_the_k_box(browser: Browser, pages) -> None:
    _open(browser, pages["glove"])
    browser.type_into("#k", "3")
    shown = _search(browser, "year")
    assert [w for w, _ in shown] == [w for w, _ in Vectors.load(GLOVE).most_similar("year", k=3)]


def test_search_among_the_most_frequent_words_is_restrict_vocab(browser: Browser, pages) -> None:
    vectors = Vectors.load(WORD2VEC)
    _open(browser, pages["restricted"])
    for word in vectors.tokens[:400:37]:
        shown = _search(browser, word)
        expected = vectors.most_similar(word, k=10, restrict_vocab=500)
        assert [w for w, _ in shown] == [w for w, _ in expected]
        np.testing.assert_allclose([s for _, s in shown], [s for _, s in expected], atol=1e-6)


def test_int8_page_ranks_as_its_numpy_twin(browser: Browser, pages) -> None:
    vectors = Vectors.load(WORD2VEC)
    unit = np.stack([vectors.get_vector(token, norm=True) for token in vectors.tokens])
    _open(browser, pages["int8"])
    assert "int8 vectors" in browser.evaluate("document.getElementById('summary').textContent")
    for row in range(0, len(vectors), 97):
        shown = _search(browser, vectors.tokens[row])
        expected = int8_neighbours(unit, row, 10)
        assert shown == [(vectors.tokens[i], score) for i, score in expected]


def test_unknown_word_suggests_and_case_folds(browser: Browser, pages) -> None:
    _open(browser, pages["glove"])
    assert _search(browser, "zzzz") == []
    status = browser.evaluate("document.getElementById('search-status').textContent")
    assert "zzzz" in status and "not among the 76 words" in status
    assert _search(browser, "perc") == []
    assert "percent" in browser.evaluate("document.getElementById('search-status').textContent")
    folded = _search(browser, "The")
    assert [w for w, _ in folded] == [w for w, _ in Vectors.load(GLOVE).most_similar("the")]


@pytest.mark.parametrize(
    ("expression", "a", "b", "c"),
    [
        ("he - his + her", "his", "he", "her"),
        ("year -percent +people", "percent", "year", "people"),
    ],
)
def test_analogy_box_answers_as_vectors_analogy(
    browser: Browser, pages, expression: str, a: str, b: str, c: str
) -> None:
    _open(browser, pages["glove"])
    browser.type_into("#analogy", expression)
    shown = _results(browser, "analogy-results")
    expected = Vectors.load(GLOVE).analogy(a, b, c, k=10)
    assert [w for w, _ in shown] == [w for w, _ in expected]
    np.testing.assert_allclose([s for _, s in shown], [s for _, s in expected], atol=1e-5)
    status = browser.evaluate("document.getElementById('analogy-status').textContent")
    assert status.endswith(f"\u2248 {expected[0][0]}")
    browser.type_into("#analogy", "he - nosuchword")
    assert _results(browser, "analogy-results") == []
    assert "nosuchword" in browser.evaluate("document.getElementById('analogy-status').textContent")
    assert browser.errors() == []


def test_training_curves_are_drawn_from_training_csv(browser: Browser, pages) -> None:
    _open(browser, pages["table"])
    assert browser.evaluate("document.getElementById('training').hidden") is False
    series = browser.evaluate(
        "[...document.querySelectorAll('#charts .chart')].map(c => c.dataset.series)"
    )
    assert series == ["loss", "lr"]  # words_per_sec is missing from the file
    paths = browser.evaluate("document.querySelectorAll('#charts path').length")
    assert paths == 2
    _open(browser, pages["glove"])  # a vectors file has no training record
    assert browser.evaluate("document.getElementById('training').hidden") is True


def test_hover_shows_the_word_and_wheel_zooms(browser: Browser, pages) -> None:
    _open(browser, pages["glove"])
    px, py = browser.evaluate("embtableExplorer.pointOnScreen('percent')")
    x, y = round(px), round(py)  # mouse events land on whole pixels
    browser.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})
    assert browser.evaluate("document.getElementById('tooltip').hidden") is False
    tooltip = browser.evaluate("document.getElementById('tooltip').textContent")
    assert tooltip.split()[0] == "percent"
    other = browser.evaluate("embtableExplorer.pointOnScreen('year')")
    browser.send(
        "Input.dispatchMouseEvent",
        {"type": "mouseWheel", "x": x, "y": y, "deltaX": 0, "deltaY": -462},
    )
    zoom = browser.evaluate("embtableExplorer.zoom()")
    assert zoom == pytest.approx(np.exp(462 * 0.0015), rel=1e-6)
    # The map scales by the zoom around the cursor: the point under it stays put.
    for word, (old_x, old_y) in (("percent", (px, py)), ("year", other)):
        new = browser.evaluate(f"embtableExplorer.pointOnScreen('{word}')")
        expected = (x + (old_x - x) * zoom, y + (old_y - y) * zoom)
        assert new == pytest.approx(expected, abs=1e-6)
    browser.evaluate("document.getElementById('zoom-reset').click()")
    assert browser.evaluate("embtableExplorer.zoom()") == 1


def test_screenshot_is_not_blank(browser: Browser, pages, tmp_path: Path) -> None:
    _open(browser, pages["glove"])
    _search(browser, "year")
    full = browser.screenshot()
    (tmp_path / "explore.png").write_bytes(full)
    small = browser.send(
        "Page.captureScreenshot",
        {"format": "png", "clip": {"x": 0, "y": 0, "width": 1280, "height": 800, "scale": 0.25}},
    )["data"]
    import base64

    image = decode_png(base64.b64decode(small))
    assert image.shape[:2] == (200, 320)
    pixels = image.reshape(-1, image.shape[2])[:, :3]
    colours = {tuple(p) for p in pixels.tolist()}
    assert len(colours) > 200  # text, points, highlight colours, anti-aliasing
    plot = image[20:, :230, :3].astype(int)  # the map, left of the side panel
    assert (plot.sum(axis=2) < 600).sum() > 50  # drawn points and labels, not only background
    orange = (plot[..., 0] > 180) & (plot[..., 1] < 140) & (plot[..., 2] < 80)
    assert orange.any()  # the highlighted query word


def test_a_one_word_page_answers_with_nothing(browser: Browser, pages) -> None:
    _open(browser, pages["single"])
    assert _search(browser, "alone") == []
    browser.type_into("#analogy", "alone + alone")
    assert _results(browser, "analogy-results") == []
    assert browser.errors() == []


def test_zero_vectors_score_zero_and_cannot_be_queried(browser: Browser, pages) -> None:
    _open(browser, pages["zero"])
    shown = _search(browser, "x")
    assert [w for w, _ in shown] == ["y", "nil", "-x"]
    assert [s for _, s in shown] == pytest.approx([0.6, 0.0, -1.0], abs=1e-7)
    expected = Vectors.load(pages["zero"].with_name("zero.txt")).most_similar("x", k=3)
    assert [w for w, _ in expected] == ["y", "nil", "-x"]
    assert _search(browser, "nil") == []
    status = browser.evaluate("document.getElementById('search-status').textContent")
    assert "has a zero vector" in status
    browser.type_into("#analogy", "x + -x")
    assert _results(browser, "analogy-results") == []
    assert "zero vector" in browser.evaluate(
        "document.getElementById('analogy-status').textContent"
    )
    assert browser.errors() == []


def test_the_page_stands_alone(pages, tmp_path: Path) -> None:
    html = pages["glove"].read_text(encoding="utf-8")
    assert re.search(r"(src|href)\s*=|url\(|@import|fetch\(|XMLHttpRequest", html) is None
    moved = tmp_path / "elsewhere.html"
    shutil.copy(pages["glove"], moved)  # nothing refers to files beside it
    data = json.loads(
        re.search(
            r'<script id="embtable-data" type="application/json">(.*?)</script>', html, re.S
        ).group(1)
    )
    assert len(data["words"]) == 76 and data["precision"] == "float32"


def test_hostile_tokens_stay_text_and_long_labels_are_cut(browser: Browser, pages) -> None:
    _open(browser, pages["hostile"])
    assert browser.evaluate("document.title").startswith(HOSTILE[0])
    for token in HOSTILE:
        shown = _search(browser, token)
        assert {w for w, _ in shown} == set(HOSTILE) - {token}
    assert browser.evaluate("document.querySelectorAll('img, b').length") == 0
    assert browser.evaluate("document.title").startswith(HOSTILE[0])  # no handler ran
    # a 300-character token is labelled with its first 39 characters and an ellipsis on the map
    cut = browser.evaluate(f"embtableExplorer.label({json.dumps(HOSTILE[-1])})")
    assert cut == "\u00e9" * 39 + "\u2026"
    assert browser.evaluate("embtableExplorer.label('<b>bold</b>')") == "<b>bold</b>"
    assert browser.errors() == []
