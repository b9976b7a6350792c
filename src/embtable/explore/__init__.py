"""See word vectors: a self-contained HTML explorer page (``embtable explore``).

:func:`write_page` turns a table directory or vectors file into one HTML file that shows a
2-D map of the most frequent words (:func:`project_2d`: PCA, or t-SNE / UMAP when
scikit-learn / umap-learn are installed), with zoom, pan and hover labels, a search box that
lists a word's nearest neighbours and an analogy box (``king - man + woman``), both computed
in the page from the embedded vectors, and the training curves of the table
(:func:`read_training_log`). The file loads nothing: it opens from ``file://`` with no network.

Example:
    >>> import numpy as np
    >>> from embtable.vectors import Vectors
    >>> vectors = Vectors(["red", "green", "blue"], np.array([[1.0, 0], [0.6, 0.8], [0, 1]]))
    >>> page = build_page(vectors, title="colours")
    >>> len(page) < 40_000, '"words":["red","green","blue"]' in page
    (True, True)
"""

from __future__ import annotations

from ._page import (
    DEFAULT_WORDS,
    FLOAT32_LIMIT,
    PRECISIONS,
    PageInfo,
    Precision,
    build_page,
    quantize_rows,
    write_page,
)
from ._projection import PROJECTIONS, Projection, project_2d
from ._training import COLUMN_NAMES, TRAINING_COLUMNS, TrainingLog, read_training_log

__all__ = [
    "COLUMN_NAMES",
    "DEFAULT_WORDS",
    "FLOAT32_LIMIT",
    "PRECISIONS",
    "PROJECTIONS",
    "TRAINING_COLUMNS",
    "PageInfo",
    "Precision",
    "Projection",
    "TrainingLog",
    "build_page",
    "project_2d",
    "quantize_rows",
    "read_training_log",
    "write_page",
]
