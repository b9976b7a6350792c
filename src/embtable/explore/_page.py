"""Build the explorer page: one self-contained HTML file with the data and script inline."""

from __future__ import annotations

import base64
import html
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._errors import OptionError, OptionTypeError, ShapeError
from ._projection import Projection, project_2d
from ._training import TrainingLog, read_training_log

if TYPE_CHECKING:
    from embtable.vectors import Vectors

__all__ = ["PRECISIONS", "PageInfo", "Precision", "build_page", "quantize_rows", "write_page"]

Precision = Literal["auto", "float32", "int8"]
PRECISIONS: tuple[Precision, ...] = ("auto", "float32", "int8")
"""How :func:`build_page` embeds the vectors; ``"auto"`` picks by size (see there)."""

DEFAULT_WORDS = 5000
FLOAT32_LIMIT = 250_000
"""``precision="auto"`` embeds float32 up to this many numbers (words x dims), int8 above."""

_MARKER = re.compile(r"@@(TITLE|STYLE|SCRIPT|DATA)@@")


def _template(name: str) -> str:
    return (resources.files("embtable.explore") / "template" / name).read_text(encoding="utf-8")


def quantize_rows(matrix: ArrayLike) -> NDArray[np.int8]:
    """Scale each row by its own largest magnitude to the int8 range ``-127 .. 127`` and round.

    This is how the page embeds large tables: one byte per number instead of four. Cosine
    ignores a row's scale, so the page renormalises the decoded rows and need not store the
    per-row scale; what changes is the rounding of each number to 1/254 of its row's range.
    Zero rows stay zero.

    Shape:
        ``(N, D)`` → ``(N, D)`` int8.

    Raises:
        ShapeError: ``matrix`` is not 2-D.

    Example:
        >>> quantize_rows(np.array([[0.5, -1.0, 0.25], [0.0, 0.0, 0.0]]))
        array([[  64, -127,   32],
               [   0,    0,    0]], dtype=int8)
    """
    rows = np.asarray(matrix, dtype=np.float64)
    if rows.ndim != 2:
        raise ShapeError(f"matrix must be 2-D, got shape {rows.shape}")
    peak = np.abs(rows).max(axis=1, keepdims=True, initial=0.0)
    peak[peak == 0] = 1
    return np.rint(rows / peak * 127).astype(np.int8)


def _finite_rows(matrix: NDArray[np.floating]) -> NDArray[np.bool_]:
    """Which rows hold only finite numbers (read in chunks: the matrix may be memory-mapped)."""
    finite = np.empty(matrix.shape[0], dtype=bool)
    for begin in range(0, matrix.shape[0], 65536):
        finite[begin : begin + 65536] = np.isfinite(matrix[begin : begin + 65536]).all(axis=1)
    return finite


def _choose_rows(
    total: int, words: int, counts: Sequence[int] | None, skip: NDArray[np.bool_]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The rows of the ``words`` most frequent tokens, in row order, and their frequency ranks.

    Without counts the rows are taken as frequency-ordered (as word2vec, GloVe and embtable
    tables are written); ties in count keep row order.
    """
    candidates = np.flatnonzero(~skip).astype(np.int64)
    if counts is not None:
        by_count = np.asarray(counts, dtype=np.int64)[candidates]
        candidates = candidates[np.argsort(-by_count, kind="stable")]
    by_frequency = candidates[:words]
    order = np.argsort(by_frequency, kind="stable")
    return by_frequency[order], order.astype(np.int64)


def _pack_coordinates(coords: NDArray[np.float64]) -> bytes:
    """Fit the points into the unit square (one scale for both axes) as little-endian uint16."""
    low = coords.min(axis=0)
    extent = coords.max(axis=0) - low
    span = float(extent.max()) or 1.0
    square = (coords - low) / span + (1 - extent / span) / 2
    return np.rint(np.clip(square, 0, 1) * 65535).astype("<u2").tobytes()


def _script_json(document: dict[str, object]) -> str:
    """JSON that can sit inside ``<script>``: no ``<``, ``>``, ``&`` or line separators raw."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for raw, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, escaped)
    return text


def _notes(shown: int, total: int, precision: str, method: str, non_finite: int) -> list[str]:
    restricted = (
        f"the {shown:,} words shown (the most frequent of {total:,})"
        if shown < total
        else f"all {shown:,} words"
    )
    notes = [
        f"Neighbours and analogies are computed in this page, by cosine similarity over "
        f"{restricted}: best first, ties in row order, the query words left out, as "
        f"`embtable similar` and Vectors.most_similar / Vectors.analogy rank them"
        + (" (with restrict_vocab to these words)." if shown < total else "."),
    ]
    if non_finite:
        notes.append(
            f"{non_finite:,} vectors holding NaN or infinity are left out (cosine queries "
            f"never return them)."
        )
    if precision == "int8":
        notes.append(
            "The vectors are embedded as int8: each row scaled by its largest magnitude to "
            "-127..127 and rounded, then renormalised here. Scores move by up to about 0.005, so "
            "neighbours with close scores can swap places (on the bundled model the top 10 keep "
            "99% of their words, in the same order for 57% of the queries); rebuild with "
            "--precision float32 for the exact ranking (four times the size)."
        )
    else:
        notes.append(
            "The vectors are embedded as float32 unit vectors, so scores agree with "
            "`embtable similar` to about 1e-6 and the ranking is the same."
        )
    if method == "pca":
        notes.append(
            "The map shows the two principal axes of the unit vectors (PCA). Near points tend to "
            "be similar words, but neighbours can lie far apart: the map keeps little of 100 or "
            "300 dimensions."
        )
    else:
        notes.append(
            f"The map is a {'t-SNE' if method == 'tsne' else 'UMAP'} embedding (cosine metric): "
            "it keeps local neighbourhoods, not distances between clusters."
        )
    notes.append(
        "Drag to pan, scroll or double-click to zoom, 0 to show all; click a point to search it."
    )
    return notes


def build_page(
    vectors: Vectors,
    *,
    words: int = DEFAULT_WORDS,
    projection: Projection = "pca",
    precision: Precision = "auto",
    counts: Sequence[int] | None = None,
    skip: Iterable[str] = (),
    training: TrainingLog | None = None,
    title: str = "word vectors",
    seed: int = 0,
) -> str:
    """Return the explorer page of ``vectors`` as one self-contained HTML document.

    The page holds the ``words`` most frequent tokens (by ``counts``, else the first rows, the
    order vectors files are written in), their 2-D projection, and their unit vectors; its
    script draws the map and answers neighbour and analogy queries from those vectors, so the
    file opens from ``file://`` with no network (a Content-Security-Policy forbids any
    request). Neighbours rank as :meth:`~embtable.vectors.Vectors.most_similar` ranks them
    (cosine, ties in row order), restricted to the words shown.

    Args:
        vectors: the vectors.
        words: how many of the most frequent tokens to show.
        projection: ``"pca"`` (NumPy), ``"tsne"`` (scikit-learn) or ``"umap"`` (umap-learn);
            see :func:`~embtable.explore.project_2d`.
        precision: ``"float32"`` embeds unit vectors exactly (4 bytes a number), ``"int8"``
            one byte a number (:func:`quantize_rows`; close scores can swap places), and
            ``"auto"`` float32 up to :data:`FLOAT32_LIMIT` numbers, int8 above.
        counts: one count per token, to pick the most frequent.
        skip: tokens never shown (special tokens such as ``"<pad>"``); vectors holding NaN or
            infinity are never shown either (queries never return them).
        training: curves to draw beside the map (:func:`~embtable.explore.read_training_log`).
        title: shown in the page's heading and tab.
        seed: random state of t-SNE and UMAP.

    Raises:
        OptionError: ``words`` < 1, an unknown ``precision`` or ``projection``, or a
            projection whose package is missing.
        OptionTypeError: ``words`` is not an integer.
        ShapeError: ``counts`` has not one entry per token, or nothing is left to show.

    Example:
        >>> from embtable.vectors import Vectors
        >>> vectors = Vectors(["a", "b", "c"], np.array([[1.0, 0], [0.8, 0.6], [0, 1]]))
        >>> page = build_page(vectors, title="demo")
        >>> page.startswith("<!DOCTYPE html>"), "<title>demo" in page
        (True, True)
        >>> re.search(r"(src|href)=|url\\(|@import", page) is None  # nothing to fetch
        True
    """
    return _build(
        vectors,
        words=words,
        projection=projection,
        precision=precision,
        counts=counts,
        skip=skip,
        training=training,
        title=title,
        seed=seed,
    )[0]


def _build(
    vectors: Vectors,
    *,
    words: int,
    projection: Projection,
    precision: Precision,
    counts: Sequence[int] | None,
    skip: Iterable[str],
    training: TrainingLog | None,
    title: str,
    seed: int,
) -> tuple[str, str, int, int]:
    """:func:`build_page`, also returning the precision used, the words shown and the total."""
    if isinstance(words, bool) or not isinstance(words, (int, np.integer)):
        raise OptionTypeError(f"words must be an integer, got {type(words).__name__} {words!r}")
    if words < 1:
        raise OptionError(f"words must be >= 1, got {words}")
    if precision not in PRECISIONS:
        raise OptionError(
            f"precision must be one of {', '.join(map(repr, PRECISIONS))}, got {precision!r}"
        )
    total = len(vectors)
    if counts is not None and len(counts) != total:
        raise ShapeError(f"counts has {len(counts)} entries for {total} tokens; they must match")
    skipped = np.zeros(total, dtype=bool)
    skipped[[vectors.token_to_id[token] for token in skip if token in vectors]] = True
    specials = int(skipped.sum())
    non_finite = ~_finite_rows(vectors.matrix)
    skipped |= non_finite  # `embtable similar` never returns them either
    rows, ranks = _choose_rows(total, int(words), counts, skipped)
    if rows.size == 0:
        raise ShapeError(
            f"no words to show: the vectors hold {total} tokens, {specials} skipped and "
            f"{int(non_finite.sum())} with NaN or infinity"
        )
    # The unit vectors the queries of Vectors use, bit for bit.
    unit = np.stack([vectors.get_vector(vectors.tokens[i], norm=True) for i in rows.tolist()])
    coords, info = project_2d(unit, method=projection, seed=seed)
    if precision == "auto":
        precision = "float32" if unit.size <= FLOAT32_LIMIT else "int8"
    encoded = (
        quantize_rows(unit).tobytes()
        if precision == "int8"
        else np.ascontiguousarray(unit, dtype="<f4").tobytes()
    )
    document = {
        "title": title,
        "total": total - int(skipped.sum()),
        "dim": vectors.dim,
        "precision": precision,
        "projection": info,
        "words": [vectors.tokens[i] for i in rows.tolist()],
        "rank": ranks.tolist(),
        "xy": base64.b64encode(_pack_coordinates(coords)).decode("ascii"),
        "vectors": base64.b64encode(encoded).decode("ascii"),
        "training": None
        if training is None or len(training) == 0
        else {"source": training.source, "columns": training.columns},
        "notes": _notes(
            int(rows.size),
            total - int(skipped.sum()),
            precision,
            str(info["method"]),
            int(non_finite.sum()),
        ),
    }
    script = _template("page.js")  # holds no "</script" (tests/explore checks the page)
    parts = {
        "TITLE": html.escape(title),
        "STYLE": _template("page.css"),
        "SCRIPT": script,
        "DATA": _script_json(document),
    }
    page = _MARKER.sub(lambda match: parts[match.group(1)], _template("page.html"))
    return page, precision, int(rows.size), total - int(skipped.sum())


@dataclass(frozen=True)
class PageInfo:
    """What :func:`write_page` wrote.

    Attributes:
        path: the HTML file.
        size: its size in bytes.
        words: words shown; total: words in the table (special tokens not counted).
        dim: vector dimension.
        precision: ``"float32"`` or ``"int8"``.
        projection: ``"pca"``, ``"tsne"`` or ``"umap"``.
        training: the source of the curves shown (``"training.csv"``, ``"meta.json"``) or None.

    Example:
        >>> import tempfile, pathlib
        >>> from embtable.vectors import Vectors
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> Vectors(["a", "b", "c"], np.eye(3)).save(folder / "v.txt")
        >>> info = write_page(folder / "v.txt", folder / "page.html", words=2, title="demo")
        >>> info.words, info.total, info.dim, info.precision, info.projection, info.training
        (2, 3, 3, 'float32', 'pca', None)
    """

    path: str
    size: int
    words: int
    total: int
    dim: int
    precision: str
    projection: str
    training: str | None


def write_page(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    format: str = "auto",
    words: int = DEFAULT_WORDS,
    projection: Projection = "pca",
    precision: Precision = "auto",
    training: bool = True,
    title: str | None = None,
    seed: int = 0,
    duplicates: str = "error",
    unicode_errors: str = "strict",
) -> PageInfo:
    """Write the explorer page of a table directory or vectors file (see :func:`build_page`).

    For a table directory, the counts in ``vocab.json`` pick the most frequent words, its
    special tokens are left out, and ``training.csv`` (else ``meta.json``'s per-epoch losses)
    is drawn when ``training`` is true. The file is written atomically.

    Args:
        source: what :meth:`embtable.vectors.Vectors.load` reads.
        output: the HTML file to write.
        format: the format of ``source`` (``"auto"`` detects it).
        words, projection, precision, seed: as for :func:`build_page`.
        training: draw the training curves of a table directory.
        title: the page's title (default: the name of ``source``).
        duplicates, unicode_errors: as for :meth:`embtable.vectors.Vectors.load`.

    Raises:
        OutputError: ``output`` cannot be written (checked before any work).
        VectorFormatError: ``source`` or its ``training.csv`` is malformed.

    Example:
        >>> import tempfile, pathlib
        >>> from embtable.vectors import Vectors
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> Vectors(["a", "b", "c"], np.eye(3)).save(folder / "v.txt")
        >>> info = write_page(folder / "v.txt", folder / "page.html")
        >>> info.words, info.precision, (folder / "page.html").stat().st_size == info.size
        (3, 'float32', True)
    """
    from embtable.io._atomic import atomic_write_bytes, check_output
    from embtable.io.tables import VOCAB_FILE, read_vocab_json
    from embtable.vectors import Vectors

    check_output(output, "file")
    vectors = Vectors.load(
        source,
        format=format,  # type: ignore[arg-type]
        duplicates=duplicates,  # type: ignore[arg-type]
        unicode_errors=unicode_errors,
    )
    root = Path(source)
    counts = None
    skip: list[str] = []
    if root.is_dir() and (root / VOCAB_FILE).is_file():
        vocab = read_vocab_json(root / VOCAB_FILE)
        counts = vocab.get("counts")
        skip = [*vocab.get("specials", ()), *(vocab.get(k) for k in ("unk_token", "pad_token"))]
        skip = [token for token in skip if isinstance(token, str)]
    log = read_training_log(root) if training else None
    page, used, shown, total = _build(
        vectors,
        words=words,
        projection=projection,
        precision=precision,
        counts=counts,
        skip=skip,
        training=log,
        title=title if title is not None else (root.resolve().name or str(root)),
        seed=seed,
    )
    data = page.encode("utf-8")
    atomic_write_bytes(output, data)
    return PageInfo(
        path=os.fspath(output),
        size=len(data),
        words=shown,
        total=total,
        dim=vectors.dim,
        precision=used,
        projection=projection,
        training=log.source if log is not None and len(log) else None,
    )
