"""NumPy twins of the page's queries, computed the way its script computes them."""

from __future__ import annotations

import numpy as np

from embtable.explore import quantize_rows


def int8_neighbours(unit: np.ndarray, row: int, k: int) -> list[tuple[int, float]]:
    """The page's int8 ranking: integer dot products over the products of the code norms.

    The page sums ``codes[i] * codes[row]`` exactly (integers below 2**53) and divides by
    ``|codes[i]| * |codes[row]|``, so these scores are bit-identical to the page's.
    """
    codes = quantize_rows(unit).astype(np.int64)
    norms = np.sqrt((codes * codes).sum(axis=1).astype(np.float64))
    dots = (codes @ codes[row]).astype(np.float64)
    scale = norms * norms[row]
    scores = np.divide(dots, scale, out=np.zeros_like(dots), where=scale > 0)
    scores[row] = -np.inf
    order = np.lexsort((np.arange(scores.size), -scores))[:k]
    return [(int(i), float(scores[i])) for i in order]
