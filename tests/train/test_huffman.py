"""Huffman codes of hierarchical softmax against gensim's _assign_binary_codes, and the laws."""

from __future__ import annotations

import heapq

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from embtable.train.huffman import huffman_codes


def _gensim_codes(counts):
    from gensim.models.keyedvectors import KeyedVectors
    from gensim.models.word2vec import _assign_binary_codes

    kv = KeyedVectors(2)
    for i in range(len(counts)):
        kv.key_to_index[str(i)] = i
        kv.index_to_key.append(str(i))
    kv.allocate_vecattrs(attrs=["count"], types=[np.int64])
    for i, n in enumerate(counts):
        kv.set_vecattr(i, "count", int(n))
    _assign_binary_codes(kv)
    return (
        [kv.get_vecattr(i, "code").tolist() for i in range(len(counts))],
        [kv.get_vecattr(i, "point").tolist() for i in range(len(counts))],
    )


def _split(offsets, values):
    return [values[offsets[w] : offsets[w + 1]].tolist() for w in range(len(offsets) - 1)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 1000), min_size=2, max_size=60))
@example([1, 1])  # ties: gensim orders heap items by count alone, not by (count, index)
@example([3, 3, 3, 3, 1, 1, 7])
def test_codes_equal_gensims(counts):
    offsets, codes, points = huffman_codes(np.array(counts))
    want_codes, want_points = _gensim_codes(counts)
    assert _split(offsets, codes) == want_codes
    assert _split(offsets, points) == want_points


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 10_000), min_size=2, max_size=80))
def test_codes_are_prefix_free_and_optimal(counts):
    offsets, codes, points = huffman_codes(np.array(counts))
    words = [tuple(c) for c in _split(offsets, codes)]
    assert len(set(words)) == len(words)
    for a in words:
        for b in words:
            assert a == b or a != b[: len(a)]
    # Optimal: the weighted length equals the Huffman cost (sum of all merge weights).
    heap = list(counts)
    heapq.heapify(heap)
    cost = 0
    while len(heap) > 1:
        merged = heapq.heappop(heap) + heapq.heappop(heap)
        cost += merged
        heapq.heappush(heap, merged)
    assert sum(c * len(w) for c, w in zip(counts, words, strict=True)) == cost
    # Points are inner nodes 0..V-2, the root (V-2) first, and as long as the codes.
    assert points.min() >= 0 and points.max() == len(counts) - 2
    assert all(p[0] == len(counts) - 2 for p in _split(offsets, points))


def test_one_word_has_an_empty_code():
    offsets, codes, points = huffman_codes(np.array([7]))
    assert offsets.tolist() == [0, 0] and codes.size == 0 and points.size == 0
