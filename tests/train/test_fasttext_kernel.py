"""The fastText training kernel against a pure-Python twin, and against the word2vec kernel."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from embtable.train.sgns import _to_threshold, alias_table, keep_probabilities

NO_HS = (
    False,
    np.zeros(1, np.int64),
    np.zeros(0, np.uint8),
    np.zeros(0, np.int32),
    np.zeros((0, 1), np.float32),
)
"""train_sgns_block's hierarchical-softmax arguments when it is off."""

_MASK = (1 << 64) - 1


def _lcg(state: int) -> tuple[int, int]:
    state = (state * 25214903917 + 11) & _MASK
    return state, state >> 32


def _update(source, target_word, w_out, negative, state, accept, alias, lr):
    """One positive and ``negative`` noise updates; returns (state, loss, source's gradient)."""
    one = np.float32(1.0)
    vocab_size = w_out.shape[0]
    grad_in = np.zeros_like(source)
    loss = 0.0
    for d in range(negative + 1):
        if d == 0:
            target = target_word
        else:
            state, bits = _lcg(state)
            target = (bits * vocab_size) >> 32
            state, bits = _lcg(state)
            if bits >= int(accept[target]):
                target = int(alias[target])
            if target == target_word:
                continue
        row = w_out[target]
        score = np.float32(min(max(float(np.dot(source, row)), -30.0), 30.0))
        if d == 0:
            odds = np.float32(math.exp(-float(score)))
            grad = lr * odds / (one + odds)
        else:
            odds = np.float32(math.exp(float(score)))
            grad = -lr * odds / (one + odds)
        loss += math.log1p(float(odds))
        grad_in += grad * row
        row += grad * source
    return state, loss, grad_in


def fasttext_twin(
    ids,
    offsets,
    keep,
    accept,
    alias,
    w_in,
    w_out,
    bags,
    *,
    cbow,
    window,
    negative,
    alpha,
    min_alpha,
    total_words,
    state,
):
    """One lane, the whole corpus: fastText's skip-gram / CBOW with subword bags, in Python."""
    loss, pairs, read = 0.0, 0, 0
    for s in range(len(offsets) - 1):
        start, end = int(offsets[s]), int(offsets[s + 1])
        progress = min(read / total_words, 1.0)
        lr = max(
            np.float32(alpha) - np.float32(alpha - min_alpha) * np.float32(progress),
            np.float32(min_alpha),
        )
        read += end - start
        sentence = []
        for k in range(start, end):
            state, bits = _lcg(state)
            if bits < int(keep[ids[k]]):
                sentence.append(int(ids[k]))
        for i, centre in enumerate(sentence):
            state, bits = _lcg(state)
            reach = window - ((bits * window) >> 32)
            context = [
                j for j in range(max(0, i - reach), min(len(sentence), i + reach + 1)) if j != i
            ]
            if not cbow:
                for j in context:
                    rows = bags[centre]
                    hidden = w_in[rows].mean(axis=0, dtype=np.float32)
                    state, pair_loss, grad = _update(
                        hidden, sentence[j], w_out, negative, state, accept, alias, lr
                    )
                    for r in rows:
                        w_in[r] += grad
                    loss += pair_loss
                    pairs += 1
            elif context:
                rows = [r for j in context for r in bags[sentence[j]]]
                hidden = w_in[rows].mean(axis=0, dtype=np.float32)
                state, pair_loss, grad = _update(
                    hidden, centre, w_out, negative, state, accept, alias, lr
                )
                for r in rows:
                    w_in[r] += grad
                loss += pair_loss
                pairs += 1
    return state, loss, pairs, read


def _inputs(rng, vocab_size=7, bucket=11, dim=6, words=60):
    counts = np.bincount(rng.integers(0, vocab_size, words), minlength=vocab_size) + 1
    ids = rng.choice(vocab_size, size=words, p=counts / counts.sum()).astype(np.int32)
    offsets = np.array([0, 13, 13, 40, words], dtype=np.int64)
    keep = _to_threshold(keep_probabilities(np.bincount(ids, minlength=vocab_size), 0.05))
    accept, alias = alias_table(counts.astype(np.float64) ** 0.75)
    rows = vocab_size + bucket
    w_in = ((rng.random((rows, dim), dtype=np.float32) - 0.5) / dim).astype(np.float32)
    w_out = (rng.random((vocab_size, dim), dtype=np.float32) * 0.1).astype(np.float32)
    # Each word's bag: its row, then 0..4 bucket rows (one of them repeated, as n-grams can be).
    bags = []
    for word in range(vocab_size):
        size = int(rng.integers(0, 5)) if bucket else 0
        extra = list(vocab_size + rng.integers(0, max(bucket, 1), size))
        bags.append([word, *extra, *extra[:1]])
    bag_offsets = np.cumsum([0] + [len(b) for b in bags]).astype(np.int64)
    bag_rows = np.concatenate(bags).astype(np.int32)
    return (
        ids,
        offsets,
        keep,
        _to_threshold(accept),
        alias,
        w_in,
        w_out,
        bags,
        bag_offsets,
        bag_rows,
    )


def _kernel(
    ids,
    offsets,
    keep,
    accept,
    alias,
    w_in,
    w_out,
    bag_offsets,
    bag_rows,
    *,
    cbow,
    window,
    negative,
    state,
):
    from embtable.kernels.fasttext_train import train_fasttext_block

    rng_state = np.array([state], np.uint64)
    next_sentence = np.zeros(1, np.int64)
    loss, pairs, read = np.zeros(1), np.zeros(1, np.int64), np.zeros(1, np.int64)
    train_fasttext_block(
        ids,
        offsets,
        np.arange(len(offsets) - 1),
        int(np.diff(offsets).max()),
        next_sentence,
        np.array([len(offsets) - 1], np.int64),
        10**9,
        keep,
        accept,
        alias,
        w_in,
        w_out,
        window,
        negative,
        np.float32(0.05),
        np.float32(0.001),
        0,
        2 * len(ids),
        rng_state,
        loss,
        pairs,
        read,
        cbow,
        True,
        bag_offsets,
        bag_rows,
    )
    return int(rng_state[0]), float(loss[0]), int(pairs[0]), int(read[0])


@pytest.mark.parametrize("cbow", [False, True])
@pytest.mark.parametrize(("window", "negative"), [(1, 0), (2, 3), (4, 5)])
def test_kernel_matches_python_twin(rng, cbow, window, negative):
    ids, offsets, keep, accept, alias, w_in, w_out, bags, bag_offsets, bag_rows = _inputs(rng)
    twin_in, twin_out, initial = w_in.copy(), w_out.copy(), w_in.copy()
    got = _kernel(
        ids,
        offsets,
        keep,
        accept,
        alias,
        w_in,
        w_out,
        bag_offsets,
        bag_rows,
        cbow=cbow,
        window=window,
        negative=negative,
        state=12345,
    )
    state, loss, pairs, read = fasttext_twin(
        ids,
        offsets,
        keep,
        accept,
        alias,
        twin_in,
        twin_out,
        bags,
        cbow=cbow,
        window=window,
        negative=negative,
        alpha=0.05,
        min_alpha=0.001,
        total_words=2 * len(ids),
        state=12345,
    )
    assert (got[0], got[2], got[3]) == (state, pairs, read)
    assert pairs > 0
    assert_allclose(got[1], loss, rtol=1e-4)
    assert_allclose(w_in, twin_in, rtol=1e-4, atol=1e-6)
    assert_allclose(w_out, twin_out, rtol=1e-4, atol=1e-6)
    assert not np.array_equal(w_in[len(bags) :], initial[len(bags) :])  # the n-gram rows learn


def test_cbow_with_one_row_bags_is_word2vec_cbow_bit_for_bit(rng):
    """Without n-grams (each bag is the word's own row), fastText's CBOW is word2vec's CBOW
    with ``cbow_mean``: the same arithmetic, the same random draws."""
    from embtable.kernels.sgns import train_sgns_block

    ids, offsets, keep, accept, alias, w_in, w_out, *_ = _inputs(rng, bucket=0)
    vocab_size = w_out.shape[0]
    ours_in, ours_out = w_in.copy(), w_out.copy()
    got = _kernel(
        ids,
        offsets,
        keep,
        accept,
        alias,
        ours_in,
        ours_out,
        np.arange(vocab_size + 1, dtype=np.int64),
        np.arange(vocab_size, dtype=np.int32),
        cbow=True,
        window=3,
        negative=4,
        state=99,
    )
    rng_state = np.array([99], np.uint64)
    loss, pairs, read = np.zeros(1), np.zeros(1, np.int64), np.zeros(1, np.int64)
    train_sgns_block(
        ids,
        offsets,
        np.arange(len(offsets) - 1),
        int(np.diff(offsets).max()),
        np.zeros(1, np.int64),
        np.array([len(offsets) - 1], np.int64),
        10**9,
        keep,
        accept,
        alias,
        w_in,
        w_out,
        3,
        4,
        np.float32(0.05),
        np.float32(0.001),
        0,
        2 * len(ids),
        rng_state,
        loss,
        pairs,
        read,
        True,
        True,
        True,
        False,
        *NO_HS,
    )
    assert got == (int(rng_state[0]), float(loss[0]), int(pairs[0]), int(read[0]))
    assert_array_equal(ours_in, w_in)
    assert_array_equal(ours_out, w_out)
