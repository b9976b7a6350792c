"""fastText's n-grams and FNV-1a hash, and the seeded MurmurHash3 of HashIndexer, against gensim,
published test vectors, the pure-Python twins, and other processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embtable.subword import (
    HashIndexer,
    SubwordIndexer,
    char_ngrams,
    encode_tokens,
    fasttext_hash,
    murmurhash3_32,
)

gensim_inner = pytest.importorskip("gensim.models.fasttext_inner")

WORDS = ["cat", "héllo", "日本語", "naïve", "", "a", "straße", "x" * 40, "😀ok", "a\x00b"]
words = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=12)


@pytest.mark.parametrize("word", WORDS)
@pytest.mark.parametrize(("minn", "maxn"), [(3, 6), (1, 3), (0, 0), (2, 2), (5, 3)])
def test_ngrams_and_hashes_match_gensim(word, minn, maxn):
    expected = gensim_inner.compute_ngrams_bytes(word, minn, maxn)
    assert char_ngrams(word, minn, maxn) == expected
    assert [fasttext_hash(n) for n in expected] == [gensim_inner.ft_hash_bytes(n) for n in expected]


@settings(max_examples=200, deadline=None)
@given(st.lists(words, max_size=6), st.integers(0, 4), st.integers(0, 7), st.integers(1, 5000))
def test_kernel_bags_match_the_reference(tokens, minn, maxn, bucket):
    vocab = ["known", *sorted(set(tokens))[:2]]
    vocab = list(dict.fromkeys(vocab))
    indexer = SubwordIndexer(vocab, minn=minn, maxn=maxn, bucket=bucket)
    ids, offsets = indexer.index(tokens)
    ends = [*offsets[1:].tolist(), ids.size]
    for t, token in enumerate(tokens):
        row = [vocab.index(token)] if token in vocab else []
        grams = [] if token == "</s>" else char_ngrams(token, minn, maxn)
        expected = row + [len(vocab) + gensim_inner.ft_hash_bytes(g) % bucket for g in grams]
        assert ids[offsets[t] : ends[t]].tolist() == expected


def test_signed_char_quirk_changes_non_ascii_hashes():
    # unsigned FNV-1a of b"\xc3\xa9" differs: fastText sign-extends bytes >= 0x80
    unsigned = 2166136261
    for byte in "é".encode():
        unsigned = ((unsigned ^ byte) * 16777619) & 0xFFFFFFFF
    assert fasttext_hash("é") != unsigned
    assert fasttext_hash("a") == 0xE40C292C  # ASCII: the textbook FNV-1a value


@pytest.mark.parametrize(
    ("data", "seed", "expected"),
    [
        (b"", 0, 0),
        (b"", 1, 0x514E28B7),
        (b"", 0xFFFFFFFF, 0x81F16F39),
        (b"hello", 0, 0x248BFA47),
        (b"Hello, world!", 1234, 0xFAF6CDB3),
        (b"The quick brown fox jumps over the lazy dog", 0x9747B28C, 0x2FA826CD),
        (b"abc", 0, 0xB3DD93FA),
        (b"aaaa", 0x9747B28C, 0x5A97808A),
        (b"a", 0x9747B28C, 0x7FA09EA6),
    ],
)
def test_murmurhash3_published_vectors(data, seed, expected):
    assert murmurhash3_32(data, seed) == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(words, max_size=8), st.integers(1, 10**6), st.integers(1, 4), st.integers(0, 2**31))
def test_hash_indexer_matches_the_reference(tokens, buckets, hashes, seed):
    ids, offsets = HashIndexer(buckets, num_hashes=hashes, seed=seed).index(tokens)
    assert offsets.tolist() == [hashes * t for t in range(len(tokens))]
    expected = [murmurhash3_32(t, seed + k) % buckets for t in tokens for k in range(hashes)]
    assert ids.tolist() == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=8))
def test_integer_tokens_hash_their_int64_bytes(values):
    ids, _ = HashIndexer(977, num_hashes=2, seed=3).index(np.array(values, dtype=np.int64))
    expected = [
        murmurhash3_32(np.int64(v).tobytes(), 3 + k) % 977 for v in values for k in range(2)
    ]
    assert ids.tolist() == expected
    if values:
        assert HashIndexer(977, num_hashes=2, seed=3).index(values)[0].tolist() == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(words, max_size=8), st.booleans())
def test_encode_tokens_bounds(tokens, marks):
    buffer, begins, ends = encode_tokens(tokens, marks=marks)
    for token, begin, end in zip(tokens, begins, ends, strict=True):
        raw = token.encode()
        assert bytes(buffer[begin:end]) == (b"<" + raw + b">" if marks else raw)


_CHILD = """
import json, sys
from embtable.subword import HashIndexer, SubwordIndexer
tokens = json.loads(sys.argv[1])
print(json.dumps([
    HashIndexer(10007, num_hashes=3, seed=11).index(tokens)[0].tolist(),
    SubwordIndexer(["cat"], bucket=10007).index(tokens)[0].tolist(),
]))
"""


def test_hashes_are_the_same_in_other_processes():
    tokens = ["cat", "naïve", "日本", "user:42", ""]
    outputs = []
    for hash_seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run(
            [sys.executable, "-c", _CHILD, json.dumps(tokens)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=True,
        )
        outputs.append(json.loads(result.stdout))
    here = [
        HashIndexer(10007, num_hashes=3, seed=11).index(tokens)[0].tolist(),
        SubwordIndexer(["cat"], bucket=10007).index(tokens)[0].tolist(),
    ]
    assert outputs[0] == outputs[1] == here
    # golden values: a change of hash function must be deliberate (saved tables depend on it)
    assert here[0][:3] == [murmurhash3_32("cat", 11 + k) % 10007 for k in range(3)]
