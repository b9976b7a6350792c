"""The SGNS kernel and the row primitives against pure-Python twins."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from embtable.train.sgns import _to_threshold, alias_table, keep_probabilities

_MASK = (1 << 64) - 1

NO_HS = (
    False,
    np.zeros(1, np.int64),
    np.zeros(0, np.uint8),
    np.zeros(0, np.int32),
    np.zeros((0, 1), np.float32),
)
"""The kernel's hierarchical-softmax arguments when it is off."""


def _lcg(state: int) -> tuple[int, int]:
    state = (state * 25214903917 + 11) & _MASK
    return state, state >> 32


def _dot(x: np.ndarray, y: np.ndarray) -> np.float32:
    """The kernel's four interleaved float32 partial sums."""
    sums = [np.float32(0.0)] * 4
    n = x.shape[0]
    k = 0
    while k + 4 <= n:
        for lane in range(4):
            sums[lane] = np.float32(sums[lane] + x[k + lane] * y[k + lane])
        k += 4
    while k < n:
        sums[0] = np.float32(sums[0] + x[k] * y[k])
        k += 1
    return np.float32(np.float32(sums[0] + sums[1]) + np.float32(sums[2] + sums[3]))


def sgns_block_twin(
    ids,
    offsets,
    keep,
    accept,
    alias,
    w_in,
    w_out,
    window,
    negative,
    alpha,
    min_alpha,
    total_words,
    state,
    *,
    hs=None,
    cbow=False,
    cbow_mean=True,
):
    """One thread, the whole corpus, one call: the kernel's loop in plain Python.

    ``hs``: ``(offsets, codes, points, table)`` trains hierarchical softmax too (first, as
    word2vec.c does); ``negative=0`` skips negative sampling.
    """
    one = np.float32(1.0)
    vocab_size = w_in.shape[0]

    def sigmoid_step(source, row, label, lr):
        score = min(max(_dot(source, row), np.float32(-30)), np.float32(30))
        if label:
            odds = np.float32(math.exp(-float(score)))
            return lr * odds / (one + odds), math.log1p(float(odds))
        odds = np.float32(math.exp(float(score)))
        return -lr * odds / (one + odds), math.log1p(float(odds))

    def update(source, centre, lr, state):
        """Output-layer updates against ``source``; return ``(grad of source, loss, state)``."""
        hidden = np.zeros(w_in.shape[1], np.float32)
        pair_loss = 0.0
        if hs is not None:
            hs_offsets, hs_codes, hs_points, table = hs
            for k in range(int(hs_offsets[centre]), int(hs_offsets[centre + 1])):
                row = table[hs_points[k]]
                grad, step_loss = sigmoid_step(source, row, hs_codes[k] == 0, lr)
                pair_loss += step_loss
                hidden += grad * row
                row += grad * source
        for d in range(negative + 1 if negative > 0 else 0):
            if d == 0:
                target = centre
            else:
                state, bits = _lcg(state)
                target = (bits * vocab_size) >> 32
                state, bits = _lcg(state)
                if bits >= int(accept[target]):
                    target = int(alias[target])
                if target == centre:
                    continue
            row = w_out[target]
            grad, step_loss = sigmoid_step(source, row, d == 0, lr)
            pair_loss += step_loss
            hidden += grad * row
            row += grad * source
        return hidden, pair_loss, state

    loss = 0.0
    pairs = 0
    read = 0
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
            span = [
                j for j in range(max(0, i - reach), min(len(sentence), i + reach + 1)) if j != i
            ]
            if cbow:
                if not span:
                    continue
                mean = np.zeros(w_in.shape[1], np.float32)
                for j in span:
                    mean += w_in[sentence[j]]
                inverse = one / np.float32(len(span))
                if cbow_mean:
                    mean *= inverse
                hidden, pair_loss, state = update(mean, centre, lr, state)
                if not cbow_mean:
                    hidden *= inverse
                for j in span:
                    w_in[sentence[j]] += hidden
                loss += pair_loss
                pairs += 1
                continue
            for j in span:
                context = w_in[sentence[j]]
                hidden, pair_loss, state = update(context, centre, lr, state)
                context += hidden
                loss += pair_loss
                pairs += 1
    return state, loss, pairs, read


def _inputs(rng, vocab_size=7, dim=6, words=60):
    counts = np.bincount(rng.integers(0, vocab_size, words), minlength=vocab_size) + 1
    ids = rng.choice(vocab_size, size=words, p=counts / counts.sum()).astype(np.int32)
    offsets = np.array([0, 13, 13, 40, words], dtype=np.int64)
    keep = _to_threshold(keep_probabilities(np.bincount(ids, minlength=vocab_size), 0.05))
    accept, alias = alias_table(counts.astype(np.float64) ** 0.75)
    w_in = ((rng.random((vocab_size, dim), dtype=np.float32) - 0.5) / dim).astype(np.float32)
    w_out = (rng.random((vocab_size, dim), dtype=np.float32) * 0.1).astype(np.float32)
    return ids, offsets, keep, _to_threshold(accept), alias, w_in, w_out


@pytest.mark.parametrize(
    ("window", "negative", "scale"),
    [(1, 0, 1.0), (1, 3, 1.0), (4, 3, 1.0), (4, 0, 1.0), (2, 40, 1.0), (2, 40, 300.0)],
)
def test_kernel_matches_python_twin(rng, window, negative, scale):
    """``scale`` 300 makes scores pass the +-30 clip and the loss product overflow guard."""
    from embtable.kernels.sgns import train_sgns_block

    ids, offsets, keep, accept, alias, w_in, w_out = _inputs(rng)
    w_in *= np.float32(scale)
    w_out *= np.float32(scale)
    twin_in, twin_out = w_in.copy(), w_out.copy()
    seed_state = 12345
    next_sentence = np.zeros(1, np.int64)
    stop = np.array([len(offsets) - 1], np.int64)
    rng_state = np.array([seed_state], np.uint64)
    loss, pairs, read = np.zeros(1), np.zeros(1, np.int64), np.zeros(1, np.int64)
    train_sgns_block(
        ids,
        offsets,
        np.arange(4),
        27,
        next_sentence,
        stop,
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
        False,
        True,
        True,
        False,
        *NO_HS,
    )
    state, twin_loss, twin_pairs, twin_read = sgns_block_twin(
        ids,
        offsets,
        keep,
        accept,
        alias,
        twin_in,
        twin_out,
        window,
        negative,
        0.05,
        0.001,
        2 * len(ids),
        seed_state,
    )
    assert int(rng_state[0]) == state
    assert (int(pairs[0]), int(read[0]), int(next_sentence[0])) == (twin_pairs, twin_read, 4)
    assert twin_pairs > 0
    assert np.isfinite(loss[0])
    assert_allclose(loss[0], twin_loss, rtol=1e-5)
    assert_allclose(w_in, twin_in, rtol=1e-5, atol=1e-7)
    assert_allclose(w_out, twin_out, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    ("cbow", "cbow_mean", "window", "negative", "scale"),
    [
        (False, True, 2, 0, 1.0),
        (False, True, 3, 4, 1.0),
        (True, True, 3, 0, 1.0),
        (True, False, 2, 3, 1.0),
        (False, True, 2, 0, 300.0),
    ],
)
def test_hierarchical_softmax_kernel_matches_python_twin(
    rng, cbow, cbow_mean, window, negative, scale
):
    """``hs`` alone (negative 0) and with negative sampling, skip-gram and CBOW (mean, sum):
    the kernel and the twin agree to float32 rounding, and the inner-node rows learn."""
    from embtable.kernels.sgns import train_sgns_block
    from embtable.train.huffman import huffman_codes

    ids, offsets, keep, accept, alias, w_in, w_out = _inputs(rng)
    vocab_size, dim = w_in.shape
    w_in *= np.float32(scale)
    hs_offsets, hs_codes, hs_points = huffman_codes(np.bincount(ids, minlength=vocab_size))
    table = (rng.random((vocab_size - 1, dim), dtype=np.float32) - 0.5) * np.float32(0.2 * scale)
    twin_in, twin_out, twin_table, initial = w_in.copy(), w_out.copy(), table.copy(), table.copy()
    rng_state = np.array([4321], np.uint64)
    next_sentence = np.zeros(1, np.int64)
    loss, pairs, read = np.zeros(1), np.zeros(1, np.int64), np.zeros(1, np.int64)
    train_sgns_block(
        ids,
        offsets,
        np.arange(4),
        27,
        next_sentence,
        np.array([4], np.int64),
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
        cbow_mean,
        True,
        False,
        True,
        hs_offsets,
        hs_codes,
        hs_points,
        table,
    )
    state, twin_loss, twin_pairs, twin_read = sgns_block_twin(
        ids,
        offsets,
        keep,
        accept,
        alias,
        twin_in,
        twin_out,
        window,
        negative,
        0.05,
        0.001,
        2 * len(ids),
        4321,
        hs=(hs_offsets, hs_codes, hs_points, twin_table),
        cbow=cbow,
        cbow_mean=cbow_mean,
    )
    assert int(rng_state[0]) == state
    assert (int(pairs[0]), int(read[0])) == (twin_pairs, twin_read)
    assert twin_pairs > 0 and np.isfinite(loss[0])
    assert_allclose(loss[0], twin_loss, rtol=1e-5)
    assert_allclose(w_in, twin_in, rtol=1e-5, atol=1e-6 * scale)
    assert_allclose(table, twin_table, rtol=1e-5, atol=1e-6 * scale)
    assert_allclose(w_out, twin_out, rtol=1e-5, atol=1e-7)
    assert not np.array_equal(table, initial)
    if negative == 0:  # hierarchical softmax alone leaves the negative-sampling table as it was
        assert_array_equal(w_out, twin_out)


def test_kernel_follows_the_order_stops_after_words_per_thread_and_resumes(rng):
    from embtable.kernels.sgns import train_sgns_block

    ids, offsets, keep, accept, alias, w_in, w_out = _inputs(rng)  # lengths 13, 0, 27, 20
    order = np.array([3, 1, 0, 2], np.int64)
    position = np.array([0], np.int64)
    state = np.array([7], np.uint64)
    loss, pairs, read = np.zeros(1), np.zeros(1, np.int64), np.zeros(1, np.int64)
    args = (keep, accept, alias, w_in, w_out, 2, 2, np.float32(0.025), np.float32(0.0001))
    expected = [(1, 0, 1), (13, 20, 3), (1, 33, 4), (1, 60, 4)]
    reads = []
    for words_per_thread, words_done, after in expected:
        train_sgns_block(
            ids,
            offsets,
            order,
            27,
            position,
            np.array([4]),
            words_per_thread,
            *args,
            words_done,
            100,
            state,
            loss,
            pairs,
            read,
            False,
            True,
            True,
            False,
            *NO_HS,
        )
        assert int(position[0]) == after
        reads.append(int(read[0]))
    assert reads == [20, 13, 27, 0]  # the empty sentence adds nothing; past the end reads none
    assert int(pairs[0]) == 0 and loss[0] == 0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dim", [0, 1, 3, 4, 7, 100])
def test_row_primitives_match_numpy(rng, dtype, dim):
    from embtable.kernels.rows import axpy_row, dot_rows

    x = rng.standard_normal(dim).astype(dtype)
    y = rng.standard_normal(dim).astype(dtype)
    assert_allclose(dot_rows(x, y), np.dot(x, y), rtol=1e-5, atol=1e-6)
    if dtype == np.float32:
        assert_array_equal(dot_rows(x, y), _dot(x, y))
    expected = y + dtype(0.5) * x
    axpy_row(dtype(0.5), x, y)
    assert_allclose(y, expected, rtol=1e-6)


def shared_window_twin(ids, offsets, keep, accept, alias, w_in, w_out, window, negative, lr, state):
    """One thread, constant learning rate: skip-gram with one noise set per window, in Python."""
    one = np.float32(1.0)
    vocab_size = w_in.shape[0]
    loss, pairs = 0.0, 0
    for s in range(len(offsets) - 1):
        sentence = []
        for k in range(int(offsets[s]), int(offsets[s + 1])):
            state, bits = _lcg(state)
            if bits < int(keep[ids[k]]):
                sentence.append(int(ids[k]))
        for i, centre in enumerate(sentence):
            state, bits = _lcg(state)
            reach = window - ((bits * window) >> 32)
            context = [
                sentence[j]
                for j in range(max(0, i - reach), min(len(sentence), i + reach + 1))
                if j != i
            ]
            if not context:
                continue
            targets = [centre]
            for _ in range(negative):
                state, bits = _lcg(state)
                target = (bits * vocab_size) >> 32
                state, bits = _lcg(state)
                if bits >= int(accept[target]):
                    target = int(alias[target])
                if target != centre:
                    targets.append(target)
            grads = np.zeros((len(context), len(targets)), np.float32)
            for a, word in enumerate(context):
                for b, target in enumerate(targets):
                    score = min(
                        max(_dot(w_in[word], w_out[target]), np.float32(-30)), np.float32(30)
                    )
                    if b == 0:
                        odds = np.float32(math.exp(-float(score)))
                        grads[a, b] = lr * odds / (one + odds)
                    else:
                        odds = np.float32(math.exp(float(score)))
                        grads[a, b] = -lr * odds / (one + odds)
                    loss += math.log1p(float(odds))
            rows_in = w_in[context].copy()
            rows_out = w_out[targets].copy()
            for a, word in enumerate(context):
                w_in[word] += grads[a] @ rows_out
            for b, target in enumerate(targets):
                w_out[target] += grads[:, b] @ rows_in
            pairs += len(context)
    return state, loss, pairs


@pytest.mark.parametrize(("window", "negative"), [(1, 1), (3, 4), (2, 20)])
def test_shared_negatives_kernel_matches_python_twin(rng, window, negative):
    from embtable.kernels.sgns import train_sgns_block

    ids, offsets, keep, accept, alias, w_in, w_out = _inputs(rng)
    twin_in, twin_out = w_in.copy(), w_out.copy()
    rng_state = np.array([99], np.uint64)
    loss, pairs, read = np.zeros(1), np.zeros(1, np.int64), np.zeros(1, np.int64)
    lr = np.float32(0.05)
    train_sgns_block(
        ids,
        offsets,
        np.arange(4),
        27,
        np.zeros(1, np.int64),
        np.array([4], np.int64),
        10**9,
        keep,
        accept,
        alias,
        w_in,
        w_out,
        window,
        negative,
        lr,
        lr,
        0,
        2 * len(ids),
        rng_state,
        loss,
        pairs,
        read,
        False,
        True,
        True,
        True,
        *NO_HS,
    )
    state, twin_loss, twin_pairs = shared_window_twin(
        ids, offsets, keep, accept, alias, twin_in, twin_out, window, negative, lr, 99
    )
    assert int(rng_state[0]) == state and int(pairs[0]) == twin_pairs > 0
    assert_allclose(loss[0], twin_loss, rtol=1e-5)
    assert_allclose(w_in, twin_in, rtol=1e-4, atol=1e-6)
    assert_allclose(w_out, twin_out, rtol=1e-4, atol=1e-6)
