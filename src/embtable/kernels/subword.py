"""Subword and hashing kernels: fastText's character n-grams, seeded MurmurHash3, and the scan
of a fastText dictionary.

Strings arrive as one UTF-8 byte buffer and their bounds: string ``t`` is
``buffer[begins[t]:ends[t]]``. Hashes are computed in 64-bit integers and masked to 32
bits after every step, so the result is the same on every platform and in every process (no
Python ``hash()``, no seeds drawn at start-up). The NumPy/Python twins live in
:mod:`embtable.subword` (``fasttext_hash``, ``char_ngrams``, ``murmurhash3_32``).
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = [
    "copy_words",
    "fill_subword_rows",
    "murmur3_rows",
    "scan_fasttext_entries",
]

_MASK32 = 0xFFFFFFFF
_FNV_OFFSET = 2166136261
_FNV_PRIME = 16777619


@nb.njit(cache=True, nogil=True, inline="always")
def _fnv_step(h, byte):
    # fastText hashes ``int8_t(c)``: bytes >= 0x80 are sign-extended to 32 bits.
    value = np.uint64(byte)
    if value >= 128:
        value = value | np.uint64(0xFFFFFF00)
    return ((h ^ value) * np.uint64(_FNV_PRIME)) & np.uint64(_MASK32)


@nb.njit(cache=True, nogil=True)
def _ngram_loop(buffer, begin, end, minn, maxn, bucket, out, cursor, base):
    """Walk fastText's n-grams of ``<`` + word + ``>`` (bytes ``begin .. end`` of ``buffer``,
    marks included) and write ``base + hash % bucket`` from ``cursor``. Returns the cursor
    after the last n-gram."""
    for i in range(begin, end):
        if (buffer[i] & 0xC0) == 0x80:
            continue
        h = np.uint64(_FNV_OFFSET)
        j = i
        n = 1
        while j < end and n <= maxn:
            h = _fnv_step(h, buffer[j])
            j += 1
            while j < end and (buffer[j] & 0xC0) == 0x80:
                h = _fnv_step(h, buffer[j])
                j += 1
            if n >= minn and not (n == 1 and (i == begin or j == end)):
                out[cursor] = base + np.int64(h % np.uint64(bucket))
                cursor += 1
            n += 1
    return cursor


@nb.njit(cache=True, nogil=True)
def fill_subword_rows(
    buffer, begins, ends, word_ids, with_ngrams, minn, maxn, bucket, nwords, offsets, rows
):
    """Write each token's bag from ``offsets[t]`` (set here): its word id first (when
    ``word_ids[t] >= 0``), then ``nwords + hash(ngram) % bucket`` for each n-gram in fastText's
    order (when ``with_ngrams[t]`` and ``bucket > 0``). Strings carry the ``<`` ``>`` marks;
    ``rows`` must hold every row (``len(string) * max(0, maxn - max(minn, 1) + 1) + 1`` per
    token bounds it). Returns the number of rows written."""
    cursor = 0
    for t in range(begins.shape[0]):
        offsets[t] = cursor
        if word_ids[t] >= 0:
            rows[cursor] = word_ids[t]
            cursor += 1
        if with_ngrams[t] and bucket > 0:
            cursor = _ngram_loop(
                buffer, begins[t], ends[t], minn, maxn, bucket, rows, cursor, nwords
            )
    return cursor


@nb.njit(cache=True, nogil=True, inline="always")
def _rotl32(x, r):
    return ((x << np.uint64(r)) | (x >> np.uint64(32 - r))) & np.uint64(_MASK32)


@nb.njit(cache=True, nogil=True)
def _murmur3(buffer, begin, end, seed):
    c1 = np.uint64(0xCC9E2D51)
    c2 = np.uint64(0x1B873593)
    mask = np.uint64(_MASK32)
    h = np.uint64(seed) & mask
    length = end - begin
    blocks = length // 4
    for b in range(blocks):
        p = begin + 4 * b
        k = (
            np.uint64(buffer[p])
            | (np.uint64(buffer[p + 1]) << np.uint64(8))
            | (np.uint64(buffer[p + 2]) << np.uint64(16))
            | (np.uint64(buffer[p + 3]) << np.uint64(24))
        )
        k = (k * c1) & mask
        k = _rotl32(k, 15)
        k = (k * c2) & mask
        h = h ^ k
        h = _rotl32(h, 13)
        h = (h * np.uint64(5) + np.uint64(0xE6546B64)) & mask
    tail = begin + 4 * blocks
    rest = length & 3
    k = np.uint64(0)
    if rest >= 3:
        k = k ^ (np.uint64(buffer[tail + 2]) << np.uint64(16))
    if rest >= 2:
        k = k ^ (np.uint64(buffer[tail + 1]) << np.uint64(8))
    if rest >= 1:
        k = k ^ np.uint64(buffer[tail])
        k = (k * c1) & mask
        k = _rotl32(k, 15)
        k = (k * c2) & mask
        h = h ^ k
    h = h ^ np.uint64(length)
    h = h ^ (h >> np.uint64(16))
    h = (h * np.uint64(0x85EBCA6B)) & mask
    h = h ^ (h >> np.uint64(13))
    h = (h * np.uint64(0xC2B2AE35)) & mask
    h = h ^ (h >> np.uint64(16))
    return h


@nb.njit(cache=True, nogil=True)
def murmur3_rows(buffer, begins, ends, seeds, num_buckets, rows):
    """``rows[t * H + k] = murmur3_32(string t, seeds[k]) % num_buckets`` for ``H`` seeds."""
    num_hashes = seeds.shape[0]
    buckets = np.uint64(num_buckets)
    for t in range(begins.shape[0]):
        for k in range(num_hashes):
            h = _murmur3(buffer, begins[t], ends[t], seeds[k])
            rows[t * num_hashes + k] = np.int64(h % buckets)


@nb.njit(cache=True, nogil=True)
def scan_fasttext_entries(data, position, begins, ends, counts, types):
    """Walk ``len(begins)`` dictionary entries (word bytes, NUL, little-endian int64 count,
    int8 type) from ``position``: each word's bytes are ``data[begins[i]:ends[i]]``. Returns the
    offset after the last entry, or ``-1 - i`` when entry ``i`` runs past the end of ``data``."""
    size = data.shape[0]
    for i in range(begins.shape[0]):
        begins[i] = position
        while position < size and data[position] != 0:
            position += 1
        if position + 10 > size:
            return -1 - i
        ends[i] = position
        value = np.int64(0)
        for b in range(8):
            value |= np.int64(data[position + 1 + b]) << np.int64(8 * b)
        counts[i] = value
        types[i] = np.int8(data[position + 9])
        position += 10
    return position


@nb.njit(cache=True, nogil=True)
def copy_words(data, begins, ends, marks, out, out_begins):
    """Copy word ``i`` (``data[begins[i]:ends[i]]``) to ``out`` from ``out_begins[i]``, inside
    ``<`` ``>`` when ``marks``, each followed by a NUL separator."""
    for i in range(begins.shape[0]):
        cursor = out_begins[i]
        if marks:
            out[cursor] = 60  # "<"
            cursor += 1
        for p in range(begins[i], ends[i]):
            out[cursor] = data[p]
            cursor += 1
        if marks:
            out[cursor] = 62  # ">"
            cursor += 1
        out[cursor] = 0
