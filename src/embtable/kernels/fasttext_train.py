"""Compiled fastText training kernel: skip-gram or CBOW on character n-grams, negative sampling.

A word's input vector is the mean of its *bag*: its own row and the rows of its character
n-grams (fastText's layout: words first, then the n-gram buckets; the caller precomputes every
vocabulary word's bag once, with :func:`embtable.subword.subword_bags`). The updates are
fastText's (``src/fasttext.cc``, ``src/model.cc``): in skip-gram the centre word's bag predicts
each context word (one positive and ``negative`` noise updates of the output rows); in CBOW the
mean of all the rows of the window's context bags predicts the centre word. In both, the
gradient of the mean goes whole, not divided, to every row of the bag (fastText normalises it
only for supervised models).

fastText's skip-gram recomputes the centre's bag mean from its rows before every context word
and adds each context's gradient to every row at once. Here the mean is computed once per centre
word and moved by each gradient as those row updates would move it (by the gradient times
``sum(m_u^2) / L`` for a bag of ``L`` rows in which row ``u`` appears ``m_u`` times: 1 without
repeated rows), and the rows receive the summed gradient once, after the window. In exact
arithmetic both give the same tables on one thread; here they differ by float32 rounding, and
a bag costs two passes over its rows per centre word instead of two per context word
(``python bench/word2vec.py --fasttext``: the README has the figures).

The sentence loop, sub-sampling, shrunk windows, per-lane generators and learning-rate schedule
are those of :mod:`embtable.kernels.sgns` (same arguments, plus the bags), so a trainer calls
either kernel the same way. Trusts its inputs and never raises.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._parallel import PARALLEL_MIN_WORK, pick, twins
from .rows import axpy_row
from .sgns import _ONE, _ZERO, _update_targets, keep_words, sentence_lr, window_bounds

__all__ = ["train_fasttext_block"]


def _train_fasttext_block(parallel):
    def train_fasttext_block(
        ids,
        sentence_offsets,
        sentence_order,
        max_length,
        next_sentence,
        stop_sentence,
        words_per_thread,
        keep_threshold,
        alias_threshold,
        alias_index,
        weight_in,
        weight_out,
        window,
        negative,
        alpha,
        min_alpha,
        words_done,
        total_words,
        rng_state,
        loss,
        pairs,
        words_read,
        cbow,
        shrink_windows,
        bag_offsets,
        bag_rows,
    ):  # pragma: no cover - compiled
        """Train on each lane's run of sentences, as
        :func:`embtable.kernels.sgns.train_sgns_block` does, with subword bags.

        Args (beyond those of ``train_sgns_block``, whose ``cbow_mean`` is always true here and
        ``shared_negatives`` false):
            weight_in: ``float32 (V + bucket, D)``: word rows, then n-gram rows.
            weight_out: ``float32 (V, D)``.
            bag_offsets: ``int64 (V + 1,)``; word ``w``'s bag is
                ``bag_rows[bag_offsets[w]:bag_offsets[w + 1]]`` (never empty: it holds ``w``).
            bag_rows: ``int32``: rows of ``weight_in``.
        """
        if parallel:  # the flag lives in the closure; see _parallel.twins
            pass
        n_threads = next_sentence.shape[0]
        dim = weight_in.shape[1]
        vocab_size = np.uint64(weight_out.shape[0])
        window_u = np.uint64(window)
        lr_span = np.float32(alpha - min_alpha)
        for t in prange(n_threads):
            buffer = np.empty(max_length, dtype=np.int32)
            hidden_grad = np.empty(dim, dtype=weight_in.dtype)
            hidden = np.empty(dim, dtype=weight_in.dtype)
            total_grad = np.empty(dim, dtype=weight_in.dtype)
            targets = np.empty(negative + 1, dtype=np.int32)
            state = rng_state[t]
            thread_loss = 0.0
            thread_pairs = 0
            read = 0
            position = next_sentence[t]
            while position < stop_sentence[t] and read < words_per_thread:
                s = sentence_order[position]
                start = sentence_offsets[s]
                end = sentence_offsets[s + 1]
                lr = sentence_lr(words_done, start, total_words, alpha, lr_span, min_alpha)
                read += end - start
                position += 1
                length, state = keep_words(ids, start, end, keep_threshold, buffer, state)
                for i in range(length):
                    centre = buffer[i]
                    lo, hi, state = window_bounds(
                        i, length, window, window_u, shrink_windows, state
                    )
                    if not cbow:
                        first = bag_offsets[centre]
                        last = bag_offsets[centre + 1]
                        inverse = _ONE / np.float32(last - first)
                        # The bag's mean once per centre word; each context's gradient moves
                        # every row of the bag by the same amount, so the mean moves by it
                        # times sum(m_u^2)/L for rows of multiplicity m_u (1 without repeats).
                        repeats = 0
                        for r in range(first, last):
                            for q in range(first, r):
                                if bag_rows[q] == bag_rows[r]:
                                    repeats += 1
                        shift = _ONE + np.float32(2 * repeats) * inverse
                        hidden[:] = _ZERO
                        for r in range(first, last):
                            axpy_row(_ONE, weight_in[bag_rows[r]], hidden)
                        for k in range(dim):
                            hidden[k] *= inverse
                        total_grad[:] = _ZERO
                        for j in range(lo, hi):
                            if j == i:
                                continue
                            hidden_grad[:] = _ZERO
                            state, pair_loss = _update_targets(
                                hidden,
                                buffer[j],
                                weight_out,
                                hidden_grad,
                                negative,
                                state,
                                vocab_size,
                                alias_threshold,
                                alias_index,
                                lr,
                                targets,
                            )
                            for k in range(dim):
                                total_grad[k] += hidden_grad[k]
                                hidden[k] += shift * hidden_grad[k]
                            thread_loss += pair_loss
                            thread_pairs += 1
                        for r in range(first, last):
                            axpy_row(_ONE, total_grad, weight_in[bag_rows[r]])
                        continue
                    # CBOW: the mean of every row of the context words' bags.
                    hidden[:] = _ZERO
                    count = 0
                    for j in range(lo, hi):
                        if j == i:
                            continue
                        word = buffer[j]
                        for r in range(bag_offsets[word], bag_offsets[word + 1]):
                            axpy_row(_ONE, weight_in[bag_rows[r]], hidden)
                            count += 1
                    if count == 0:
                        continue
                    inverse = _ONE / np.float32(count)
                    for k in range(dim):
                        hidden[k] *= inverse
                    hidden_grad[:] = _ZERO
                    state, pair_loss = _update_targets(
                        hidden,
                        centre,
                        weight_out,
                        hidden_grad,
                        negative,
                        state,
                        vocab_size,
                        alias_threshold,
                        alias_index,
                        lr,
                        targets,
                    )
                    for j in range(lo, hi):
                        if j == i:
                            continue
                        word = buffer[j]
                        for r in range(bag_offsets[word], bag_offsets[word + 1]):
                            axpy_row(_ONE, hidden_grad, weight_in[bag_rows[r]])
                    thread_loss += pair_loss
                    thread_pairs += 1
            next_sentence[t] = position
            rng_state[t] = state
            loss[t] = thread_loss
            pairs[t] = thread_pairs
            words_read[t] = read

    return train_fasttext_block


_TRAIN_FASTTEXT_BLOCK = twins(_train_fasttext_block)


def train_fasttext_block(*args):
    """Run the parallel or the serial twin, as :func:`embtable.kernels.sgns.train_sgns_block`
    does; both give the same result."""
    return pick(_TRAIN_FASTTEXT_BLOCK, PARALLEL_MIN_WORK, adapt=False)(*args)
