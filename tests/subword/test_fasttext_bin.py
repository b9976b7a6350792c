"""fastText .bin models: reading (pre-0.2 and version 12, gensim-trained), vectors of unseen
words against gensim, neighbours, writing back, and the catalogue of malformed files."""

from __future__ import annotations

import logging
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from embtable import OptionError, VectorFormatError
from embtable.fasttext import FastTextVectors
from embtable.io.fasttext_bin import (
    FastTextArgs,
    FastTextModel,
    read_fasttext_bin,
    read_fasttext_model,
    sniff_fasttext_bin,
    write_fasttext_bin,
    write_fasttext_model,
)
from embtable.vectors import Vectors

gensim_fasttext = pytest.importorskip("gensim.models.fasttext")

DATA = Path(__file__).resolve().parents[1] / "data"
LEE_BIN = DATA / "lee_fasttext.bin"
UNSEEN = ["computerz", "naïve", "日本語", "xyzzy", "q", "", "Qwerty123", "governmentally"]


@pytest.fixture(autouse=True)
def _quiet_gensim():
    # gensim logs a warning for words without n-grams; filterwarnings=error is about warnings
    logging.getLogger("gensim").setLevel(logging.ERROR)


@pytest.fixture(scope="module")
def lee():
    return FastTextVectors.load_bin(LEE_BIN)


@pytest.fixture(scope="module")
def lee_gensim():
    return gensim_fasttext.load_facebook_model(str(LEE_BIN))


def _corpus(limit=120):
    lines = (DATA / "lee_background.cor").read_text(encoding="utf-8").splitlines()[:limit]
    return [line.lower().split() for line in lines]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small model gensim trains and saves in fastText's format (version 12)."""
    model = gensim_fasttext.FastText(
        vector_size=12,
        window=3,
        min_count=3,
        epochs=2,
        bucket=3000,
        min_n=2,
        max_n=5,
        workers=1,
        seed=1,
        sg=1,
    )
    sentences = _corpus()
    model.build_vocab(sentences)
    model.train(sentences, total_examples=len(sentences), epochs=2)
    path = tmp_path_factory.mktemp("ft") / "trained.bin"
    gensim_fasttext.save_facebook_model(model, str(path))
    return path, gensim_fasttext.load_facebook_model(str(path))


def test_reads_the_pre_magic_format(lee, lee_gensim):
    model = read_fasttext_model(LEE_BIN)
    assert model.version == 0 and model.args.model_name == "skipgram"
    assert (model.args.minn, model.args.maxn, model.args.bucket, model.args.dim) == (3, 6, 1000, 10)
    assert lee.tokens == lee_gensim.wv.index_to_key
    assert lee.input_matrix.shape == (len(lee) + 1000, 10)


def test_in_vocabulary_vectors_match_gensim(lee, lee_gensim):
    # gensim gives "</s>" n-grams; fastText does not (Dictionary::initNgrams), nor does embtable
    eos = lee.token_to_id["</s>"]
    others = np.arange(len(lee)) != eos
    assert_allclose(lee.matrix[others], lee_gensim.wv.vectors[others], atol=1e-6)
    assert_array_equal(lee["</s>"], lee.input_matrix[eos])


@pytest.mark.parametrize("word", UNSEEN)
def test_unseen_words_match_gensim(lee, lee_gensim, word):
    assert word not in lee
    assert_allclose(lee[word], lee_gensim.wv[word], atol=1e-6)


def test_batched_lookup_equals_one_by_one(lee, lee_gensim):
    words = [*UNSEEN, "the", "government", "</s>"]
    batch = lee[words]
    for row, word in zip(batch, words, strict=True):
        assert_array_equal(row, lee[word])


def test_subword_vector_is_the_mean_of_its_rows(lee):
    for word in ["computerz", "government"]:
        rows = lee.subword_rows(word)
        assert_allclose(lee[word], lee.input_matrix[rows].mean(axis=0), rtol=1e-6, atol=1e-7)
    assert lee.subword_rows("government")[0] == lee.token_to_id["government"]


@pytest.mark.parametrize("query", ["government", "computerz", "xyzzyx"])
def test_neighbours_match_gensim(lee, lee_gensim, query):
    ours = lee.most_similar(query, topn=10)
    theirs = lee_gensim.wv.most_similar(query, topn=10)
    assert [w for w, _ in ours] == [w for w, _ in theirs]
    assert_allclose([s for _, s in ours], [s for _, s in theirs], atol=1e-5)
    assert lee.similarity(query, "the") == pytest.approx(
        float(lee_gensim.wv.similarity(query, "the")), abs=1e-5
    )


def test_gensim_trained_version_12_model(trained):
    path, model = trained
    ours = FastTextVectors.load_bin(path)
    assert read_fasttext_model(path).version == 12
    assert ours.tokens == model.wv.index_to_key
    assert (ours.subwords.minn, ours.subwords.maxn, ours.subwords.bucket) == (2, 5, 3000)
    assert_allclose(ours.matrix, model.wv.vectors, atol=1e-6)
    for word in UNSEEN:
        assert_allclose(ours[word], model.wv[word], atol=1e-6)


def test_write_then_gensim_reads_it_back(tmp_path, trained):
    path, _model = trained
    ours = FastTextVectors.load_bin(path, output=True)
    out = tmp_path / "again.bin"
    ours.save_bin(out)
    assert out.read_bytes() == path.read_bytes()  # the same bytes as gensim wrote
    back = gensim_fasttext.load_facebook_model(str(out))
    assert back.wv.index_to_key == ours.tokens
    for word in ["computerz", "naïve", ours.tokens[5]]:
        assert_allclose(back.wv[word], ours[word], atol=1e-6)


def test_write_of_the_pre_magic_model_is_read_by_gensim(tmp_path, lee):
    out = tmp_path / "lee12.bin"
    write_fasttext_bin(out, lee)  # no output matrix read: a zero one is written
    assert sniff_fasttext_bin(out.read_bytes()[:8])
    back = gensim_fasttext.load_facebook_model(str(out))
    assert_allclose(back.wv["computerz"], lee["computerz"], atol=1e-6)
    again = FastTextVectors.load_bin(out, output=True)
    assert again == lee
    assert not again.output_matrix.any()


def test_plain_vectors_become_a_model_without_ngrams(tmp_path):
    vectors = Vectors(["b", "a", "c"], np.arange(6, dtype=np.float32).reshape(3, 2))
    out = tmp_path / "plain.bin"
    write_fasttext_bin(out, vectors)
    back = read_fasttext_bin(out)
    assert back.tokens == vectors.tokens and np.array_equal(back.matrix, vectors.matrix)
    assert not back.has_subwords
    with pytest.raises(KeyError, match="no n-gram buckets"):
        back["zzz"]
    theirs = gensim_fasttext.load_facebook_model(str(out))
    assert theirs.wv.index_to_key == ["b", "a", "c"]
    assert_array_equal(theirs.wv["a"], vectors["a"])


def test_supervised_models_read_words_and_labels(tmp_path):
    rng = np.random.default_rng(0)
    args = FastTextArgs(dim=3, model=3, loss=3, bucket=20, minn=0, maxn=0, word_ngrams=2)
    model = FastTextModel(
        args,
        ["good", "bad", "movie"],
        rng.normal(size=(23, 3)).astype(np.float32),
        labels=["__label__pos", "__label__neg"],
        output_matrix=rng.normal(size=(2, 3)).astype(np.float32),
    )
    path = tmp_path / "sup.bin"
    write_fasttext_model(path, model)
    vectors = FastTextVectors.load_bin(path, output=True)
    assert vectors.labels == ["__label__pos", "__label__neg"]
    assert_array_equal(vectors["bad"], model.input_matrix[1])  # maxn = 0: the word row alone
    assert_array_equal(vectors.output_matrix, model.output_matrix)
    assert not vectors.has_subwords
    # version 11 supervised models use no n-grams even when maxn says so (fastText's rule)
    raw = bytearray(path.read_bytes())
    raw[4:8] = struct.pack("<i", 11)
    struct.pack_into("<i", raw, 8 + 40, 6)  # args.maxn = 6
    (tmp_path / "sup11.bin").write_bytes(bytes(raw))
    assert read_fasttext_model(tmp_path / "sup11.bin").args.maxn == 0


def test_fasttext_itself_reads_what_embtable_writes(tmp_path, lee):
    fasttext = pytest.importorskip("fasttext")
    out = tmp_path / "for_fasttext.bin"
    lee.save_bin(out)
    model = fasttext.load_model(str(out))
    for word in ["computerz", "the", "naïve"]:
        assert_allclose(model.get_word_vector(word), lee[word], atol=1e-6)


def test_gzip_model_and_mmap(tmp_path, lee):
    import gzip

    out = tmp_path / "lee.bin.gz"
    out.write_bytes(gzip.compress(LEE_BIN.read_bytes()))
    assert FastTextVectors.load_bin(out) == lee
    mapped = FastTextVectors.load_bin(LEE_BIN, mmap=True)
    assert isinstance(mapped.input_matrix, np.memmap) and mapped == lee


def test_undecodable_words(tmp_path):
    args = FastTextArgs(dim=2, bucket=5, minn=1, maxn=2)
    good = FastTextModel(args, ["ok", "caf\udce9"], np.ones((7, 2), np.float32))
    path = tmp_path / "latin1.bin"
    write_fasttext_model(path, good)  # surrogateescape: the byte 0xE9 itself
    with pytest.raises(
        VectorFormatError, match=r"latin1.bin: byte \d+: dictionary entry 1 .*not valid UTF-8"
    ):
        read_fasttext_model(path)
    exact = FastTextVectors.load_bin(path, unicode_errors="surrogateescape")
    assert exact.tokens == ["ok", "caf\udce9"]
    again = tmp_path / "again.bin"
    exact.save_bin(again)
    assert again.read_bytes() == path.read_bytes()


# -- the catalogue of malformed files ------------------------------------------------------------


def _tiny(tmp_path) -> tuple[Path, bytes]:
    args = FastTextArgs(dim=2, bucket=3, minn=2, maxn=3)
    model = FastTextModel(args, ["ab", "cd"], np.arange(10, dtype=np.float32).reshape(5, 2))
    path = tmp_path / "tiny.bin"
    write_fasttext_model(path, model)
    return path, path.read_bytes()


HEADER = 8 + 56  # magic, version, args
DICT = HEADER + 4 * 3 + 8 + 8
ENTRIES = DICT + 2 * (2 + 1 + 9)
INPUT = ENTRIES + 1  # after quant_input


def _mutations():
    def patch(offset, fmt, value):
        def apply(raw):
            raw = bytearray(raw)
            struct.pack_into(fmt, raw, offset, value)
            return bytes(raw)

        return apply

    return [
        ("empty", lambda raw: b"", r"byte 0: truncated: the header needs 8 bytes"),
        ("header cut", lambda raw: raw[:40], r"byte 8: truncated: the args header needs 56"),
        ("newer version", patch(4, "<i", 13), r"byte 4: format version 13 is newer than 12"),
        ("bad dim", patch(8, "<i", 0), r"byte 8: args.dim: expected 1\.\.\d+, got 0"),
        ("bad loss", patch(8 + 24, "<i", 9), r"byte 32: args.loss: expected 1\.\.4"),
        ("bad model", patch(8 + 28, "<i", 0), r"byte 36: args.model: expected 1\.\.3"),
        ("negative bucket", patch(8 + 32, "<i", -1), r"byte 40: args.bucket: must be >= 0"),
        ("sizes disagree", patch(HEADER, "<i", 3), r"dictionary sizes are inconsistent"),
        (
            "huge dictionary",
            lambda raw: patch(HEADER + 4, "<i", 2**31 - 2)(patch(HEADER, "<i", 2**31 - 2)(raw)),
            r"truncated or corrupt: 2147483646 dictionary entries need at least",
        ),
        (
            "bad entry type",
            patch(DICT + 12 + 11, "<B", 1),
            r"dictionary entry 1 has type 1; expected 0",
        ),
        (
            "quantized",
            patch(ENTRIES, "<B", 1),
            r"quantized fastText model \(\.ftz.*dense models only",
        ),
        ("bad bool", patch(ENTRIES, "<B", 7), r"quant_input must be a bool"),
        ("pruned", patch(DICT - 8, "<q", 0), r"dictionary is pruned .* not quantized"),
        (
            "wrong rows",
            patch(INPUT, "<q", 6),
            r"the input matrix has shape \(6, 2\); expected \(5, 2\)",
        ),
        (
            "huge matrix",
            lambda raw: patch(INPUT, "<q", 2**40)(patch(8 + 32, "<i", 2**31 - 1)(raw)),
            r"input matrix has shape",
        ),
        (
            "matrix cut",
            lambda raw: raw[: INPUT + 16 + 12],
            r"truncated: the input matrix \(5 x 2 float32\) needs 40 bytes",
        ),
        (
            "output cut",
            lambda raw: raw[:-4],
            r"truncated: the output matrix \(2 x 2 float32\) needs 16",
        ),
        ("trailing", lambda raw: raw + b"\x00\x01", r"2 unexpected bytes after the output matrix"),
        ("entry cut", lambda raw: raw[: DICT + 21], r"dictionary entry 1 of 2 runs past the end"),
        (
            "entries cut",
            lambda raw: raw[: DICT + 5],
            r"2 dictionary entries need at least 20 bytes, only 5",
        ),
        ("no magic", lambda raw: b"garbage!" * 20, r"args\.\w+: .*no fastText magic number"),
    ]


@pytest.mark.parametrize(
    ("case", "mutate", "message"), _mutations(), ids=[m[0] for m in _mutations()]
)
def test_malformed_files_name_the_byte(tmp_path, case, mutate, message):
    path, raw = _tiny(tmp_path)
    read_fasttext_model(path)  # the unmodified file is fine
    bad = tmp_path / "bad.bin"
    bad.write_bytes(mutate(raw))
    with pytest.raises(
        VectorFormatError, match=r"bad\.bin: byte \d+: .*" if case != "empty" else "bad.bin"
    ):
        read_fasttext_model(bad)
    with pytest.raises(VectorFormatError, match=message):
        read_fasttext_model(bad)


def test_every_truncation_is_a_format_error(tmp_path):
    _path, raw = _tiny(tmp_path)
    for size in range(len(raw)):
        cut = tmp_path / "cut.bin"
        cut.write_bytes(raw[:size])
        with pytest.raises(VectorFormatError, match=re.escape("cut.bin: byte ")):
            read_fasttext_model(cut)


# -- models written by fastText itself ------------------------------------------------------------

FIXTURES = Path(__file__).resolve().parent / "data"


def test_fasttext_supervised_model_matches_fasttext():
    import json

    vectors = FastTextVectors.load_bin(FIXTURES / "fasttext_supervised.bin", output=True)
    assert vectors.labels == ["__label__b", "__label__a"]
    assert vectors.args.model_name == "supervised" and vectors.args.word_ngrams == 2
    assert vectors.output_matrix.shape == (2, 10)
    expected = json.loads((FIXTURES / "fasttext_supervised_vectors.json").read_text("utf-8"))
    for word, vector in expected.items():
        assert_allclose(vectors[word], vector, atol=1e-6)


def test_quantized_models_are_refused_by_name():
    with pytest.raises(
        VectorFormatError,
        match=r"fasttext_supervised\.ftz: byte \d+: this is a quantized fastText model \(\.ftz",
    ):
        FastTextVectors.load_bin(FIXTURES / "fasttext_supervised.ftz")


def test_registry_style_calls(tmp_path, lee):
    out = tmp_path / "registry.bin"
    write_fasttext_bin(out, lee.tokens, lee.matrix, vectors=lee)  # the whole subword model
    assert read_fasttext_bin(out, limit=None, dtype=None) == lee
    write_fasttext_bin(out, lee.tokens, lee.matrix)  # (path, tokens, matrix): no n-grams
    plain = read_fasttext_bin(out)
    assert not plain.has_subwords and np.array_equal(plain.matrix, lee.matrix)
    with pytest.raises(OptionError, match="no option 'config'"):
        write_fasttext_bin(out, lee.tokens, lee.matrix, config={})
    with pytest.raises(OptionError, match="limit=5 does not apply"):
        read_fasttext_bin(out, limit=5)
    assert sniff_fasttext_bin(out.read_bytes()[:64])
    from embtable.io.fasttext_bin import peek_fasttext_bin

    summary = peek_fasttext_bin(LEE_BIN)
    assert (summary.rows, summary.dim, summary.tokens[:3]) == (1762, 10, ("the", "to", "of"))


def test_fasttext_vectors_work_with_evaluation_and_refuse_new_words(lee):
    from embtable.evaluate import evaluate_analogies, evaluate_word_pairs

    assert evaluate_word_pairs(lee).pairs > 0
    assert 0 <= evaluate_analogies(lee).accuracy <= 1
    with pytest.raises(OptionError, match="fixed by its input matrix"):
        lee["brandnew"] = np.zeros(lee.dim, np.float32)
    assert lee.get("xyzzy") is not None and lee.get_vector("xyzzy", norm=True).shape == (10,)


@pytest.mark.parametrize("suffix", ["", ".gz", ".bz2"])
def test_hostile_headers_allocate_nothing_big(tmp_path, suffix):
    import bz2
    import gzip
    import tracemalloc

    path, raw = _tiny(tmp_path)
    read_fasttext_model(path)  # imports and compiles outside the measurement
    wrap = {"": bytes, ".gz": gzip.compress, ".bz2": bz2.compress}[suffix]
    hostile = {
        "entries": lambda r: struct.pack_into("<ii", r, HEADER, 2**31 - 1, 2**31 - 1),
        "bucket": lambda r: struct.pack_into("<i", r, 8 + 32, 2**31 - 1),
        "rows": lambda r: struct.pack_into("<q", r, INPUT, 2**62),
        "negative rows": lambda r: struct.pack_into("<q", r, INPUT, -(2**62)),
        "dim": lambda r: struct.pack_into("<i", r, 8, 1 << 20),
        "pruned": lambda r: struct.pack_into("<q", r, DICT - 8, 2**62),
    }
    for case, mutate in hostile.items():
        bad = bytearray(raw)
        mutate(bad)
        path = tmp_path / f"hostile.bin{suffix}"
        path.write_bytes(wrap(bytes(bad)))
        tracemalloc.start()
        try:
            with pytest.raises(VectorFormatError, match=r"hostile\.bin.*: byte \d+: "):
                read_fasttext_model(path)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 1 << 20, (case, peak)
