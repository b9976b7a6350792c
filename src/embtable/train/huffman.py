"""The Huffman tree of hierarchical softmax (word2vec's ``hs=1``): per-word codes and points.

Built as gensim 4 builds it (``gensim.models.word2vec._build_heap`` and
``_assign_binary_codes``): a heap of ``(count, index)`` items, the two smallest merged into inner
node ``V + i`` at step ``i``; walking down from the root, the left child adds bit 0 and the right
child bit 1. A word's *points* are the inner nodes on its path (numbered ``0 .. V - 2``, the root
last, ``V - 2``), its *code* the bits taken; row ``p`` of the hierarchical-softmax output table
belongs to inner node ``p``. Same counts in the same order give gensim's codes exactly.
"""

from __future__ import annotations

import heapq

import numpy as np
from numpy.typing import NDArray

__all__ = ["huffman_codes"]


class _Node:
    """A heap item ordered by its count alone, as gensim's ``Heapitem`` is: equal counts are
    not ordered by index, so ties fall as heapq's sifting leaves them (gensim's tree exactly)."""

    __slots__ = ("count", "index")

    def __init__(self, count: int, index: int) -> None:
        self.count = count
        self.index = index

    def __lt__(self, other: _Node) -> bool:
        return self.count < other.count


def huffman_codes(
    counts: NDArray[np.integer],
) -> tuple[NDArray[np.int64], NDArray[np.uint8], NDArray[np.int32]]:
    """Return the Huffman codes of words with these counts: ``(offsets, codes, points)``.

    Word ``w``'s code is ``codes[offsets[w]:offsets[w + 1]]`` (bits from the root down) and
    ``points[offsets[w]:offsets[w + 1]]`` the inner nodes it passes (root first). One word gets
    an empty code (there is no inner node).

    Example:
        >>> offsets, codes, points = huffman_codes(np.array([5, 2, 1, 1]))
        >>> [codes[offsets[w]:offsets[w + 1]].tolist() for w in range(4)]
        [[1], [0, 0], [0, 1, 0], [0, 1, 1]]
        >>> [points[offsets[w]:offsets[w + 1]].tolist() for w in range(4)]
        [[2], [2, 1], [2, 1, 0], [2, 1, 0]]
    """
    counts = np.asarray(counts, dtype=np.int64)
    size = int(counts.shape[0])
    if size <= 1:
        return np.zeros(size + 1, np.int64), np.zeros(0, np.uint8), np.zeros(0, np.int32)
    heap = [_Node(int(c), i) for i, c in enumerate(counts.tolist())]
    heapq.heapify(heap)
    left = np.empty(size - 1, dtype=np.int64)
    right = np.empty(size - 1, dtype=np.int64)
    for i in range(size - 1):
        first = heapq.heappop(heap)
        second = heapq.heappop(heap)
        left[i], right[i] = first.index, second.index
        heapq.heappush(heap, _Node(first.count + second.count, size + i))
    word_codes: list[list[int]] = [[] for _ in range(size)]
    word_points: list[list[int]] = [[] for _ in range(size)]
    stack: list[tuple[int, list[int], list[int]]] = [(2 * size - 2, [], [])]
    while stack:
        node, code, path = stack.pop()
        if node < size:
            word_codes[node], word_points[node] = code, path
            continue
        inner = node - size
        path = [*path, inner]
        stack.append((int(left[inner]), [*code, 0], path))
        stack.append((int(right[inner]), [*code, 1], path))
    lengths = np.fromiter((len(c) for c in word_codes), dtype=np.int64, count=size)
    offsets = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    codes = np.fromiter((b for c in word_codes for b in c), dtype=np.uint8, count=int(offsets[-1]))
    points = np.fromiter(
        (p for c in word_points for p in c), dtype=np.int32, count=int(offsets[-1])
    )
    return offsets, codes, points
