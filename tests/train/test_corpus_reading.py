"""The streamed corpus reader: exact tokens, options, stdin, encodings, and owned, checked ids."""

from __future__ import annotations

import gzip
import io
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from embtable._errors import CorpusError, OptionError
from embtable.text import Vocab, regex_tokenize
from embtable.train import Corpus, train_word2vec
from embtable.train._tokens import LineTokenizer

LEE = Path(__file__).parent.parent / "data" / "lee_background.cor"

# Letters, digits, apostrophes, ASCII and non-ASCII punctuation, accents (precomposed and
# combining), Greek capitals (context-dependent lower-casing), CJK, odd whitespace.
_ALPHABET = list("abcXYZ019_ '’\"-.,;!?()“”—–…°•\t\x0b\x0c\x1c") + [  # noqa: RUF001, RUF005
    "é",
    "e\u0301",
    "\u0301",
    "Σ",
    "ΑΣ",
    "東",
    "に",
    "İ",
    "ß",
    "\u00a0",
    "\u2028",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_ALPHABET), max_size=30).map("".join), max_size=6))
def test_fast_tokenizer_equals_regex_tokenize(lines):
    for name, lower in (("regex", True), ("regex-cased", False)):
        tokens: list[str | None] = []
        LineTokenizer(name).extend(lines, tokens)
        expected: list[str | None] = []
        for line in lines:
            expected += regex_tokenize(line, lower=lower)
            expected.append(None)
        assert tokens == expected, (name, lines)
    tokens = []
    LineTokenizer("whitespace").extend(lines, tokens)
    assert tokens == [t for line in lines for t in [*line.split(), None]]


def test_from_files_matches_indexing_the_tokenised_lines():
    corpus = Corpus.from_files([LEE], min_count=5)
    lines = LEE.read_text(encoding="utf-8").splitlines()
    reference = Corpus.from_sentences((regex_tokenize(line) for line in lines), min_count=5)
    assert corpus.vocab.id_to_token == reference.vocab.id_to_token
    assert_array_equal(corpus.vocab.counts, reference.vocab.counts)
    assert_array_equal(corpus.ids, reference.ids)
    assert_array_equal(corpus.sentence_offsets, reference.sentence_offsets)
    assert corpus.tokens_read == reference.tokens_read == sum(map(len, map(regex_tokenize, lines)))
    assert (corpus.tokenizer, corpus.files) == ("regex", (str(LEE),))


def test_ids_are_read_only_memory_maps_nobody_can_write():
    corpus = Corpus.from_files([LEE], min_count=5)
    for array in (corpus.ids, corpus.sentence_offsets):
        assert not array.flags.writeable
        with pytest.raises(ValueError):
            array.setflags(write=True)
        with pytest.raises(ValueError):
            array.view().setflags(write=True)


def test_the_corpus_owns_a_copy_of_caller_arrays():
    vocab = Vocab(["a", "b"], counts=[3, 2])
    ids = np.array([0, 1, 0, 1, 0], dtype=np.int32)
    offsets = np.array([0, 2, 5])
    corpus = Corpus(vocab, ids, offsets, 5)
    ids[0] = 10**6  # the caller reuses its buffers: the corpus keeps what was checked
    offsets[1] = 99
    assert corpus.ids[0] == 0 and corpus.sentence_offsets[1] == 2
    with pytest.raises(ValueError):
        corpus.ids.setflags(write=True)
    assert isinstance(corpus.ids.base, bytes)  # immutable memory: no view can write it


@pytest.mark.parametrize(
    ("ids", "offsets", "message"),
    [
        ([0, 2, 1], [0, 3], "corpus id 2 at position 1 is outside the vocabulary's 0..1"),
        ([0, -1, 1], [0, 3], "corpus id -1"),
        ([0, 10**12], [0, 2], "corpus id 1000000000000 is outside"),
        ([0, 1, 1], [0, 2], "must start at 0 and end at len(ids) = 3, got 0 .. 2"),
        ([0, 1, 1], [1, 3], "must start at 0"),
        ([0, 1, 1], [0, 2, 1, 3], "sentence_offsets decrease at sentence 1: 2 then 1"),
        ([[0, 1]], [0, 2], "must be a 1-D integer array"),
        ([0.0, 1.0], [0, 2], "must be a 1-D integer array"),
    ],
)
def test_malformed_corpus_objects_are_refused_not_trained(ids, offsets, message):
    vocab = Vocab(["a", "b"], counts=[2, 1])
    with pytest.raises(CorpusError, match=re.escape(message)):
        Corpus(vocab, np.array(ids), np.array(offsets), 3)


def test_a_replaced_field_is_checked_again():
    import dataclasses

    corpus = Corpus.from_sentences([["a", "b", "a"]], min_count=1)
    with pytest.raises(CorpusError, match="corpus id 7"):
        dataclasses.replace(corpus, ids=np.array([0, 7, 1], dtype=np.int32))


def test_max_final_vocab_follows_gensim():
    gensim = pytest.importorskip("gensim.models")
    lines = [regex_tokenize(line) for line in LEE.read_text(encoding="utf-8").splitlines()]
    for limit in (50, 333, 1000):
        ours = Corpus.from_sentences(lines, min_count=2, max_final_vocab=limit)
        model = gensim.Word2Vec(min_count=2, max_final_vocab=limit, vector_size=4)
        model.build_vocab(lines)
        # the same words (gensim orders ties differently: reversed argsort)
        assert set(ours.vocab.id_to_token) == set(model.wv.index_to_key)
        assert len(ours.vocab) <= limit


def test_whitespace_tokenizer_keeps_pre_tokenised_text(tmp_path):
    path = tmp_path / "tokens.txt"
    path.write_text("Hello , World !\nHello again\n", encoding="utf-8")
    corpus = Corpus.from_files([path], min_count=1, tokenizer="whitespace")
    assert corpus.vocab.id_to_token == ["Hello", ",", "World", "!", "again"]
    assert_array_equal(corpus.sentence_offsets, [0, 4, 6])


def test_long_lines_are_cut_and_a_missing_final_newline_is_a_line(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("a b a b a b a\n\nb a", encoding="utf-8")
    corpus = Corpus.from_files([path], min_count=1, max_sentence_length=3)
    assert_array_equal(corpus.sentence_offsets, [0, 3, 6, 7, 9])


def test_standard_input_plain_and_gzip(monkeypatch):
    text = b"the cat sat\nthe dog sat\n"
    for data in (text, gzip.compress(text)):
        stdin = io.TextIOWrapper(io.BufferedReader(io.BytesIO(data)), encoding="utf-8")
        monkeypatch.setattr(sys, "stdin", stdin)
        corpus = Corpus.from_files(["-"], min_count=2)
        assert corpus.vocab.id_to_token == ["the", "sat"] and corpus.files == ("-",)
        assert not stdin.closed


def test_latin1_needs_the_encoding_option(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("un café au lait\nun café\n".encode("latin-1"))
    with pytest.raises(CorpusError, match=r"latin1\.txt:1: .*pass \(--encoding\) the encoding"):
        Corpus.from_files([path], min_count=1)
    corpus = Corpus.from_files([path], min_count=2, encoding="latin-1")
    assert corpus.vocab.id_to_token == ["un", "café"]
    with pytest.raises(OptionError, match="encoding must be a text encoding"):
        Corpus.from_files([path], encoding="no-such-codec")


def test_truncated_gzip_is_a_corpus_error(tmp_path):
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(LEE.read_bytes())[:5000])
    with pytest.raises(CorpusError, match="truncated or corrupt"):
        Corpus.from_files([path])


def test_a_directory_or_fifo_is_refused(tmp_path):
    import os

    from embtable._errors import OutputError

    with pytest.raises(OutputError, match="it is a directory"):
        Corpus.from_files([tmp_path])
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OutputError, match="a FIFO"):
        Corpus.from_files([fifo])


def test_resume_vocabulary_maps_words_to_the_given_ids(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("x y z y\nz q\n", encoding="utf-8")
    vocab = Vocab(["z", "y"], counts=[2, 2])
    corpus = Corpus.from_files([path], vocab=vocab)
    assert corpus.vocab is vocab
    assert_array_equal(corpus.ids, [1, 0, 1, 0])
    assert_array_equal(corpus.sentence_offsets, [0, 3, 4])


def test_a_memory_mapped_corpus_trains(tmp_path):
    corpus = Corpus.from_files([LEE], min_count=5, temp_dir=tmp_path)
    model = train_word2vec(corpus, dim=8, epochs=1, threads=1, progress=False)
    assert np.isfinite(model.epoch_losses[0])
