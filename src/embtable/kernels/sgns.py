"""Compiled word2vec training kernel: skip-gram or CBOW, with negative sampling and/or
hierarchical softmax.

The kernel is a plain loop in the shape of ``word2vec.c``'s ``TrainModelThread``: for each
sentence it drops sub-sampled words, then for every centre word it draws a shrunk window
``1 .. window`` (or takes the whole window) and, for skip-gram, for every context word in it,
makes one positive and ``negative`` noise updates; the context word's input row is the one that
learns (``word2vec.c`` and gensim do the same). For CBOW the mean (or sum) of the window's
context rows makes one positive and ``negative`` noise updates, and its gradient goes to every
context row (gensim's ``cbow_mean`` rule). With hierarchical softmax (``hs``) the same input
(context row or window mean) first updates the inner nodes on the centre word's Huffman path
(:func:`_update_hs`); ``negative=0`` then skips negative sampling.
Updates are lock-free (Hogwild): the threads of the ``prange`` write the shared tables
without locks, which is how word2vec and gensim train, and which converges because each update
touches few rows.

Each thread owns a list of sentences (the caller interleaves them, so that the threads move
through the corpus side by side) and its own random state (the ``word2vec.c``
linear congruential generator), so a run with one thread and a given seed is bit-reproducible.
Sigmoids are exact (``e / (1 + e)`` with ``e = exp(-+f)`` in float32, no lookup table; scores
are clipped to +-30, which moves a sigmoid by less than 1e-13 and keeps ``exp`` finite) and the
loss, the SGNS negative log-likelihood ``-log s(f_pos) - sum log s(-f_neg)``, is accumulated per
thread in float64. No ``fastmath``: :func:`~embtable.kernels.rows.dot_rows` vectorises without it
(measured: ``fastmath=True`` gained nothing), and results stay reproducible.

The kernel trusts its inputs (see :func:`embtable.train.sgns.train_sgns` for the checks) and
never raises. ``tests/train/test_sgns_kernel.py`` holds its pure-Python twin, which the tests
compare it with on tiny inputs.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ._cache import CACHE
from ._parallel import PARALLEL_MIN_WORK, pick, twins
from ._prefetch import prefetch_row
from .rows import axpy_row, dot_rows

__all__ = ["lcg_next", "train_sgns_block"]

_LCG_MULTIPLIER = np.uint64(25214903917)
_LCG_INCREMENT = np.uint64(11)
_SHIFT_32 = np.uint64(32)
_ZERO = np.float32(0.0)
_ONE = np.float32(1.0)
_SCORE_CLIP = np.float32(30.0)


@njit(cache=CACHE, nogil=True, inline="always")
def lcg_next(state):  # pragma: no cover - compiled
    """Advance the ``word2vec.c`` generator; return ``(new_state, 32 random bits as uint64)``."""
    state = state * _LCG_MULTIPLIER + _LCG_INCREMENT
    return state, state >> _SHIFT_32


@njit(cache=CACHE, nogil=True, inline="always")
def sentence_lr(words_done, start, total_words, alpha, lr_span, min_alpha):  # pragma: no cover
    """The learning rate of a sentence: linear decay by the sentence's place in the corpus,
    whichever lane (and thread) trains it."""
    progress = (words_done + start) / total_words
    if progress > 1.0:
        progress = 1.0
    lr = np.float32(alpha) - lr_span * np.float32(progress)
    if lr < min_alpha:
        lr = np.float32(min_alpha)
    return lr


@njit(cache=CACHE, nogil=True, inline="always")
def keep_words(ids, start, end, keep_threshold, buffer, state):  # pragma: no cover - compiled
    """Sub-sample ``ids[start:end]`` into ``buffer``; return ``(kept, new_state)``."""
    length = 0
    for k in range(start, end):
        word = ids[k]
        state, bits = lcg_next(state)
        if bits < keep_threshold[word]:
            buffer[length] = word
            length += 1
    return length, state


@njit(cache=CACHE, nogil=True, inline="always")
def window_bounds(i, length, window, window_u, shrink_windows, state):  # pragma: no cover
    """The context ``lo..hi-1`` around position ``i`` (a reach drawn from 1..window when
    ``shrink_windows``); return ``(lo, hi, new_state)``."""
    if shrink_windows:
        state, bits = lcg_next(state)
        reach = np.int64(window_u - ((bits * window_u) >> _SHIFT_32))
    else:
        reach = np.int64(window)
    lo = i - reach
    if lo < 0:
        lo = 0
    hi = i + reach + 1
    if hi > length:
        hi = length
    return lo, hi, state


@njit(cache=CACHE, nogil=True, inline="always")
def _update_targets(
    source,
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
):  # pragma: no cover - compiled
    """One positive and ``negative`` noise updates of ``weight_out`` rows against ``source``.

    Adds the gradient for ``source`` into ``hidden_grad``; returns ``(state, loss)``. The noise
    words are drawn first, into ``targets`` (``int32 (negative + 1,)``, scratch; ``-1`` marks a
    draw of the centre word, which is skipped), and their rows prefetched, so that their cache
    misses overlap; the updates then run in the order of the draws, as word2vec's do.
    """
    targets[0] = centre
    row_bytes = weight_out.shape[1] * weight_out.itemsize
    for d in range(1, negative + 1):
        state, bits = lcg_next(state)
        target = np.int32((bits * vocab_size) >> _SHIFT_32)
        state, bits = lcg_next(state)
        if bits >= alias_threshold[target]:
            target = alias_index[target]
        if target == centre:
            targets[d] = -1
            continue
        targets[d] = target
        prefetch_row(weight_out, targets, d, row_bytes)
    # The example's loss is sum log(1 + odds) = log prod (1 + odds): one log per example
    # instead of one per score. Each factor is below exp(30).
    loss = 0.0
    loss_product = 1.0
    for d in range(negative + 1):
        target = targets[d]
        if target < 0:
            continue
        target_row = weight_out[target]
        score = dot_rows(source, target_row)
        # Clipping changes sigmoid(score) by under 1e-13 and keeps exp finite.
        if score > _SCORE_CLIP:
            score = _SCORE_CLIP
        elif score < -_SCORE_CLIP:
            score = -_SCORE_CLIP
        if d == 0:
            # 1 - sigmoid(score) = e / (1 + e), loss -log sigmoid(score)
            odds = np.float32(math.exp(-score))
            grad = lr * odds / (_ONE + odds)
        else:
            # -sigmoid(score) = -e / (1 + e), loss -log sigmoid(-score)
            odds = np.float32(math.exp(score))
            grad = -lr * odds / (_ONE + odds)
        loss_product *= 1.0 + np.float64(odds)
        if loss_product > 1e250:  # only with dozens of negatives
            loss += math.log(loss_product)
            loss_product = 1.0
        axpy_row(grad, target_row, hidden_grad)
        axpy_row(grad, source, target_row)
    return state, loss + math.log(loss_product)


@njit(cache=CACHE, nogil=True, inline="always")
def _update_hs(
    source, word, weight_hs, hidden_grad, hs_offsets, hs_codes, hs_points, lr
):  # pragma: no cover - compiled
    """Hierarchical softmax: update the inner-node rows on ``word``'s Huffman path against
    ``source``.

    ``word2vec.c``'s rule: for each inner node ``p`` on the path, with bit ``c`` of the code,
    ``f = sigmoid(source . weight_hs[p])`` and ``g = lr * (1 - c - f)``; ``g * weight_hs[p]``
    goes into ``hidden_grad`` and ``g * source`` into ``weight_hs[p]``. Sigmoids are exact, as in
    :func:`_update_targets` (no ``MAX_EXP`` skip). Returns the loss
    ``-sum log sigmoid((1 - 2c) f)``.
    """
    loss = 0.0
    loss_product = 1.0
    for k in range(hs_offsets[word], hs_offsets[word + 1]):
        node_row = weight_hs[hs_points[k]]
        score = dot_rows(source, node_row)
        if score > _SCORE_CLIP:
            score = _SCORE_CLIP
        elif score < -_SCORE_CLIP:
            score = -_SCORE_CLIP
        if hs_codes[k] == 0:  # label 1: g = lr * (1 - sigmoid(score))
            odds = np.float32(math.exp(-score))
            grad = lr * odds / (_ONE + odds)
        else:  # label 0: g = -lr * sigmoid(score)
            odds = np.float32(math.exp(score))
            grad = -lr * odds / (_ONE + odds)
        loss_product *= 1.0 + np.float64(odds)
        if loss_product > 1e250:  # only on paths of dozens of nodes
            loss += math.log(loss_product)
            loss_product = 1.0
        axpy_row(grad, node_row, hidden_grad)
        axpy_row(grad, source, node_row)
    return loss + math.log(loss_product)


@njit(cache=CACHE, nogil=True, inline="always")
def _shared_window(
    buffer,
    i,
    lo,
    hi,
    weight_in,
    weight_out,
    negative,
    state,
    vocab_size,
    alias_threshold,
    alias_index,
    lr,
    targets,
    scores,
    grad_in,
    grad_out,
):  # pragma: no cover - compiled
    """Skip-gram on one window with shared noise words (Ji et al., 2016).

    The centre word and ``negative`` noise words drawn once (those equal to the centre are
    skipped, as word2vec does) are the targets ``T``; the window's context rows ``C`` score
    them all at once, ``S = C T^T`` (a small matrix product whose target rows stay in cache),
    the gradient ``G = lr * (label - sigmoid(S))`` gives ``dC = G T`` and ``dT = G^T C``, both
    from the values before the update, and both are then added. Returns
    ``(state, loss, pairs)``.
    """
    dim = weight_in.shape[1]
    centre = buffer[i]
    targets[0] = centre
    n_targets = 1
    for _ in range(negative):
        state, bits = lcg_next(state)
        target = np.int32((bits * vocab_size) >> _SHIFT_32)
        state, bits = lcg_next(state)
        if bits >= alias_threshold[target]:
            target = alias_index[target]
        if target != centre:
            targets[n_targets] = target
            n_targets += 1
    loss = 0.0
    rows = 0
    for j in range(lo, hi):
        if j == i:
            continue
        context_row = weight_in[buffer[j]]
        loss_product = 1.0
        for b in range(n_targets):
            score = dot_rows(context_row, weight_out[targets[b]])
            if score > _SCORE_CLIP:
                score = _SCORE_CLIP
            elif score < -_SCORE_CLIP:
                score = -_SCORE_CLIP
            if b == 0:
                odds = np.float32(math.exp(-score))
                scores[rows, b] = lr * odds / (_ONE + odds)
            else:
                odds = np.float32(math.exp(score))
                scores[rows, b] = -lr * odds / (_ONE + odds)
            loss_product *= 1.0 + np.float64(odds)
            if loss_product > 1e250:
                loss += math.log(loss_product)
                loss_product = 1.0
        loss += math.log(loss_product)
        rows += 1
    # dC = G T and dT = G^T C, from the rows as they were.
    grad_out[:n_targets, :] = _ZERO
    a = 0
    for j in range(lo, hi):
        if j == i:
            continue
        context_row = weight_in[buffer[j]]
        for k in range(dim):
            grad_in[a, k] = _ZERO
        for b in range(n_targets):
            g = scores[a, b]
            axpy_row(g, weight_out[targets[b]], grad_in[a])
            axpy_row(g, context_row, grad_out[b])
        a += 1
    a = 0
    for j in range(lo, hi):
        if j == i:
            continue
        axpy_row(_ONE, grad_in[a], weight_in[buffer[j]])
        a += 1
    for b in range(n_targets):
        axpy_row(_ONE, grad_out[b], weight_out[targets[b]])
    return state, loss, rows


def _train_sgns_block(parallel):
    def train_sgns_block(
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
        cbow_mean,
        shrink_windows,
        shared_negatives,
        hs,
        hs_offsets,
        hs_codes,
        hs_points,
        weight_hs,
    ):  # pragma: no cover - compiled
        """Train on the next ``words_per_thread`` corpus words of each thread's run of sentences.

        Args:
            ids: ``int32 (N,)`` word ids of the whole corpus, sentences back to back.
            sentence_offsets: ``int64 (S + 1,)``; sentence ``s`` is
                ``ids[offsets[s]:offsets[s+1]]``.
            sentence_order: ``int64 (S,)``: the sentences in the order the threads take them;
                thread ``t`` trains on ``sentence_order[next_sentence[t]:stop_sentence[t]]``.
            max_length: the length of the longest sentence.
            next_sentence: ``int64 (T,)``, in/out: each thread's next position in the order.
            stop_sentence: ``int64 (T,)``: one past each thread's last position in the order.
            words_per_thread: a thread stops after the sentence that reaches this many corpus words.
            keep_threshold: ``uint64 (V,)``: a word is kept when 32 random bits are ``<`` this
                (``round(p * 2**32)`` for keep-probability ``p``).
            alias_threshold: ``uint64 (V,)`` (same encoding) and alias_index ``int32 (V,)``: the
                alias table of the noise distribution (Walker's method).
            weight_in: ``float32 (V, D)``, updated in place (context rows).
            weight_out: ``float32 (V, D)``, updated in place (target rows).
            window: the largest window; each centre draws ``1 .. window``.
            negative: noise words per positive pair.
            alpha: the starting learning rate; min_alpha the final one.
            words_done: corpus words trained on before this call (``sentence_offsets`` count
                from there: the learning rate of sentence ``s`` is set by
                ``words_done + sentence_offsets[s]``).
            total_words: corpus words of the whole run (epochs times corpus size).
            rng_state: ``uint64 (T,)``, in/out: each thread's generator.
            loss: ``float64 (T,)``, out: the loss summed over this call's pairs.
            pairs: ``int64 (T,)``, out: the number of (centre, context) pairs trained.
            words_read: ``int64 (T,)``, out: corpus words read (before sub-sampling).
            cbow: train CBOW (the window's context rows predict the centre word) instead of
                skip-gram (each context row predicts the centre word on its own).
            cbow_mean: CBOW averages the context rows (else sums them, and divides the error
                among them, as gensim does).
            shrink_windows: each centre draws its window from ``1 .. window`` (else always
                ``window``, and no random number is drawn for it).
            shared_negatives: skip-gram draws one set of noise words per centre word, shared by
                all its context words, and updates the window as one small matrix product
                (:func:`_shared_window`); else each pair draws its own (word2vec's rule).
            hs: also train hierarchical softmax (:func:`_update_hs`, before the noise words,
                as ``word2vec.c`` orders them); with ``negative == 0`` it is the only output
                layer. Not with ``shared_negatives``.
            hs_offsets: ``int64 (V + 1,)``, hs_codes ``uint8`` and hs_points ``int32``: the
                Huffman codes of :func:`embtable.train.huffman.huffman_codes` (word ``w``'s
                path is ``hs_offsets[w]:hs_offsets[w + 1]``); empty without ``hs``.
            weight_hs: ``float32 (V - 1, D)``, updated in place: a row per inner node of the
                tree (``(0, D)`` without ``hs``).
        """
        if parallel:  # the flag lives in the closure; see _parallel.twins
            pass
        n_threads = next_sentence.shape[0]
        dim = weight_in.shape[1]
        vocab_size = np.uint64(weight_in.shape[0])
        window_u = np.uint64(window)
        lr_span = np.float32(alpha - min_alpha)
        for t in prange(n_threads):
            buffer = np.empty(max_length, dtype=np.int32)
            hidden_grad = np.empty(dim, dtype=weight_in.dtype)
            hidden = np.empty(dim, dtype=weight_in.dtype)
            targets = np.empty(negative + 1, dtype=np.int32)
            scores = np.empty((2 * window, negative + 1), dtype=weight_in.dtype)
            grad_in = np.empty((2 * window, dim), dtype=weight_in.dtype)
            grad_out = np.empty((negative + 1, dim), dtype=weight_in.dtype)
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
                    if shared_negatives and not cbow:
                        state, window_loss, window_pairs = _shared_window(
                            buffer,
                            i,
                            lo,
                            hi,
                            weight_in,
                            weight_out,
                            negative,
                            state,
                            vocab_size,
                            alias_threshold,
                            alias_index,
                            lr,
                            targets,
                            scores,
                            grad_in,
                            grad_out,
                        )
                        thread_loss += window_loss
                        thread_pairs += window_pairs
                        continue
                    if not cbow:
                        for j in range(lo, hi):
                            if j == i:
                                continue
                            context_row = weight_in[buffer[j]]
                            hidden_grad[:] = _ZERO
                            pair_loss = 0.0
                            if hs:
                                pair_loss += _update_hs(
                                    context_row,
                                    centre,
                                    weight_hs,
                                    hidden_grad,
                                    hs_offsets,
                                    hs_codes,
                                    hs_points,
                                    lr,
                                )
                            if negative > 0:
                                state, noise_loss = _update_targets(
                                    context_row,
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
                                pair_loss += noise_loss
                            axpy_row(_ONE, hidden_grad, context_row)
                            thread_loss += pair_loss
                            thread_pairs += 1
                        continue
                    # CBOW: the context rows' sum (or mean) predicts the centre word.
                    hidden[:] = _ZERO
                    count = 0
                    for j in range(lo, hi):
                        if j != i:
                            axpy_row(_ONE, weight_in[buffer[j]], hidden)
                            count += 1
                    if count == 0:
                        continue
                    inverse = _ONE / np.float32(count)
                    if cbow_mean:
                        for k in range(dim):
                            hidden[k] *= inverse
                    hidden_grad[:] = _ZERO
                    pair_loss = 0.0
                    if hs:
                        pair_loss += _update_hs(
                            hidden,
                            centre,
                            weight_hs,
                            hidden_grad,
                            hs_offsets,
                            hs_codes,
                            hs_points,
                            lr,
                        )
                    if negative > 0:
                        state, noise_loss = _update_targets(
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
                        pair_loss += noise_loss
                    if not cbow_mean:  # gensim: a summed input shares its error among the rows
                        for k in range(dim):
                            hidden_grad[k] *= inverse
                    for j in range(lo, hi):
                        if j != i:
                            axpy_row(_ONE, hidden_grad, weight_in[buffer[j]])
                    thread_loss += pair_loss
                    thread_pairs += 1
            next_sentence[t] = position
            rng_state[t] = state
            loss[t] = thread_loss
            pairs[t] = thread_pairs
            words_read[t] = read

    return train_sgns_block


_TRAIN_SGNS_BLOCK = twins(_train_sgns_block)


def train_sgns_block(*args):
    """Run the parallel twin (one ``prange`` iteration per thread of the block) when numba has
    more than one thread, or the serial twin: outside the main thread, where numba's workqueue
    layer must not be entered, and in a forked child that must stay serial
    (:func:`embtable.kernels._parallel.pick`), whatever the machine's load (the lanes are
    taken one at a time, so a descheduled thread holds up no other). Both twins give the same
    result."""
    return pick(_TRAIN_SGNS_BLOCK, PARALLEL_MIN_WORK, adapt=False)(*args)
