"""Two-dimensional projections of word vectors: PCA in NumPy, t-SNE and UMAP when installed."""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._errors import OptionError, ShapeError

__all__ = ["PROJECTIONS", "Projection", "project_2d"]

Projection = Literal["pca", "tsne", "umap"]
PROJECTIONS: tuple[Projection, ...] = ("pca", "tsne", "umap")
"""The projection methods :func:`project_2d` knows, in the order the CLI lists them."""

_EXTRAS = {"tsne": ("sklearn", "scikit-learn"), "umap": ("umap", "umap-learn")}


def _unit_rows(matrix: NDArray[np.floating]) -> NDArray[np.float64]:
    rows = np.asarray(matrix, dtype=np.float64)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    norms[norms == 0] = 1
    return rows / norms


def _pca(unit: NDArray[np.float64]) -> tuple[NDArray[np.float64], list[float]]:
    centred = unit - unit.mean(axis=0)
    _, singular, components = np.linalg.svd(centred, full_matrices=False)
    components = components[:2]
    # A fixed sign per axis (the largest loading positive), so that reruns draw the same picture.
    biggest = np.argmax(np.abs(components), axis=1)
    components = components * np.sign(components[np.arange(components.shape[0]), biggest])[:, None]
    coords = centred @ components.T
    variance = singular**2
    total = float(variance.sum())
    explained = [float(v / total) if total > 0 else 0.0 for v in variance[:2]]
    if coords.shape[1] < 2:  # one dimension, or a single row: pad the missing axis with zeros
        coords = np.hstack([coords, np.zeros((coords.shape[0], 2 - coords.shape[1]))])
        explained += [0.0] * (2 - len(explained))
    return coords, explained


def _import_extra(method: str):  # type: ignore[no-untyped-def]
    module, package = _EXTRAS[method]
    try:
        if method == "tsne":
            from sklearn.manifold import TSNE

            return TSNE
        with warnings.catch_warnings():
            # umap-learn warns on import when TensorFlow (for ParametricUMAP) is missing.
            warnings.filterwarnings("ignore", "Tensorflow not installed", ImportWarning)
            from umap import UMAP

        return UMAP
    except ImportError as err:
        raise OptionError(
            f"projection {method!r} needs the package {package!r}, which is not installed "
            f"(import {module!r} failed: {err}); install it with `pip install {package}` "
            f"or use projection='pca'"
        ) from err


def project_2d(
    matrix: ArrayLike, *, method: Projection = "pca", seed: int = 0
) -> tuple[NDArray[np.float64], dict[str, object]]:
    """Project the rows of ``matrix`` to two dimensions, by cosine geometry.

    Rows are scaled to unit length first, so that the picture reflects cosine similarity (the
    measure the neighbour queries use). ``"pca"`` centres them and takes the two leading
    principal axes (NumPy's SVD; each axis's sign is fixed so that reruns agree). ``"tsne"``
    (scikit-learn) and ``"umap"`` (umap-learn) run with the cosine metric and ``seed``.

    Args:
        matrix: ``(N, D)`` floating rows.
        method: ``"pca"``, ``"tsne"`` or ``"umap"``.
        seed: the random state of t-SNE and UMAP (PCA is deterministic).

    Returns:
        ``(coords, info)``: ``(N, 2)`` float64 coordinates, and a dict naming the method
        (with ``"explained"``, the share of variance of each PCA axis).

    Shape:
        matrix ``(N, D)`` → coords ``(N, 2)``.

    Raises:
        ShapeError: ``matrix`` is not 2-D or has no rows.
        OptionError: an unknown method, or the package a method needs is not installed.

    Example:
        >>> rows = np.array([[1.0, 0, 0], [0.9, 0.1, 0], [0, 0, 1], [0, 0.1, 0.9]])
        >>> coords, info = project_2d(rows)
        >>> coords.round(3)
        array([[ 0.707, -0.055],
               [ 0.703,  0.055],
               [-0.707, -0.055],
               [-0.703,  0.055]])
        >>> [round(share, 3) for share in info["explained"]]
        [0.994, 0.006]
    """
    if method not in PROJECTIONS:
        raise OptionError(
            f"projection must be one of {', '.join(map(repr, PROJECTIONS))}, got {method!r}"
        )
    array = np.asarray(matrix)
    if array.ndim != 2 or array.shape[0] == 0 or array.dtype.kind not in "fiu":
        raise ShapeError(
            f"matrix must be a 2-D numeric array with at least one row, got shape {array.shape} "
            f"and dtype {array.dtype}"
        )
    unit = _unit_rows(array)
    if method == "pca":
        coords, explained = _pca(unit)
        return coords, {"method": "pca", "explained": explained}
    estimator_class = _import_extra(method)
    count = unit.shape[0]
    if count < 4:
        raise OptionError(
            f"projection {method!r} needs at least 4 words, got {count}; use projection='pca'"
        )
    if method == "tsne":
        estimator = estimator_class(
            n_components=2,
            metric="cosine",
            init="pca",
            perplexity=float(min(30.0, (count - 1) / 3)),
            random_state=seed,
        )
    else:
        estimator = estimator_class(
            n_components=2,
            metric="cosine",
            n_neighbors=min(15, count - 1),
            random_state=seed,
            n_jobs=1,  # a seed makes UMAP serial anyway; saying so avoids its warning
        )
    coords = np.asarray(estimator.fit_transform(unit), dtype=np.float64)
    return coords, {"method": method}
