"""Quantized tables: FBGEMM's bytes, dequantizing lookups and bags, files, layers, torch."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import embtable.functional as F
from embtable import (
    BagIndexError,
    EmbeddingIndexError,
    FrozenWeightError,
    ModeError,
    OffsetsError,
    OptionError,
    ShapeError,
    VectorFormatError,
    WeightDTypeError,
)
from embtable.quantized import (
    QuantizedEmbedding,
    QuantizedEmbeddingBag,
    QuantizedTable,
    _halves,
    dequantize,
    load_quantized_table,
    quantize,
    row_bytes,
    save_quantized_table,
)

SCHEMES = ["int8", "int4"]


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _table(rng, rows=50, dim=8, scale=1.0):
    weight = (rng.standard_normal((rows, dim)) * scale).astype(np.float32)
    weight[0] = 0.25  # a constant row: zero range
    return weight


def _close(got, expected):
    """Equal within float32 rounding of the terms: the kernel sums ``w * scale * q`` and the
    biases separately, so cancellation allows an error relative to the largest value."""
    expected = np.asarray(expected)
    atol = 2e-6 * max(float(np.abs(expected).max(initial=0.0)), 1.0) * 10
    assert_allclose(got, expected, rtol=1e-5, atol=atol)


def _tolerance(table):
    """Half a quantization step of the widest row: the bound on a feature's error."""
    return float(table.scales.max()) / 2 * 1.0001 + 1e-6


# -- bytes ---------------------------------------------------------------------------------


def test_int8_golden_bytes():
    table = quantize(np.array([[0.0, 1.0, 3.0]], dtype=np.float32), "int8")
    codes = bytes(table.data[0, :3])
    scale, bias = np.frombuffer(bytes(table.data[0, 3:]), "<f4")
    assert codes == bytes([0, 85, 255])
    assert (scale, bias) == (np.float32(3.0) / np.float32(255.0), 0.0)


def test_int4_golden_bytes():
    table = quantize(np.array([[0.0, 15.0, 7.0]], dtype=np.float32), "int4")
    assert table.data.shape == (1, 6)  # ceil(3 / 2) code bytes + two float16
    assert bytes(table.data[0, :2]) == bytes([0x00 | (15 << 4), 7])
    scale, bias = np.frombuffer(bytes(table.data[0, 2:]), "<f2")
    assert (scale, bias) == (1.0, 0.0)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("dim", [2, 8, 50, 128])
@pytest.mark.parametrize("scale", [1e-3, 1.0, 300.0])
def test_bytes_equal_torch_prepack(rng, scheme, dim, scale):
    torch = pytest.importorskip("torch")
    weight = _table(rng, 64, dim, scale)
    prepack = (
        torch.ops.quantized.embedding_bag_byte_prepack
        if scheme == "int8"
        else torch.ops.quantized.embedding_bag_4bit_prepack
    )
    expected = prepack(torch.from_numpy(weight)).numpy()
    assert_array_equal(quantize(weight, scheme).data, expected)


@pytest.mark.parametrize("dim", [1, 3, 7, 127])
def test_int8_odd_widths_equal_torch(rng, dim):
    torch = pytest.importorskip("torch")
    weight = _table(rng, 20, dim)
    expected = torch.ops.quantized.embedding_bag_byte_prepack(torch.from_numpy(weight)).numpy()
    assert_array_equal(quantize(weight, "int8").data, expected)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_other_float_dtypes_quantize_their_float32_values(rng, scheme, dtype):
    weight = _table(rng).astype(dtype)
    assert quantize(weight, scheme) == quantize(weight.astype(np.float32), scheme)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("dim", [1, 2, 5, 8, 33])
def test_error_is_at_most_half_a_step(rng, scheme, dim):
    weight = _table(rng, 40, dim, 3.0)
    table = quantize(weight, scheme)
    error = np.abs(table.dequantize() - weight)
    # int4 rounds the bias (the row minimum) to float16 first: that rounding adds to the bound
    bias_error = np.abs(weight.min(axis=1) - table.biases)
    bound = np.abs(table.scales) / 2 * 1.001 + bias_error + 1e-6
    assert np.all(error <= bound[:, None])
    assert_array_equal(table.dequantize()[0], weight[0])  # a constant row is exact


@pytest.mark.parametrize(
    ("shape", "scheme"), [((0, 4), "int8"), ((3, 0), "int8"), ((0, 0), "int4"), ((3, 0), "int4")]
)
def test_empty_tables(shape, scheme):
    table = quantize(np.zeros(shape, np.float32), scheme)
    assert table.data.shape == (shape[0], row_bytes(scheme, shape[1]))
    assert table.dequantize().shape == shape
    assert table.embedding_bag(np.zeros(0, np.int64), [0, 0]).shape == (2, shape[1])


@pytest.mark.parametrize(
    ("value", "scheme", "message"),
    [
        (np.nan, "int8", "weight[2, 1] = nan is not finite"),
        (np.inf, "int4", "weight[2, 1] = inf is not within +-65504 (float16)"),
        (1e6, "int4", "weight[2, 1] = 1000000.0 is not within +-65504 (float16)"),
    ],
)
def test_unquantizable_values_are_named(value, scheme, message):
    weight = np.zeros((4, 3), np.float32)
    weight[2, 1] = value
    with pytest.raises(OptionError, match=re.escape(message)):
        quantize(weight, scheme)


def test_bad_arguments():
    with pytest.raises(OptionError, match=re.escape("scheme must be 'int8' or 'int4', got 'int2'")):
        quantize(np.zeros((2, 2), np.float32), "int2")  # type: ignore[arg-type]
    with pytest.raises(WeightDTypeError, match="floating-point"):
        quantize(np.zeros((2, 2), np.int64))
    with pytest.raises(ShapeError, match=re.escape("must be 2-D, got an array of shape (4,)")):
        quantize(np.zeros(4, np.float32))
    with pytest.raises(ShapeError, match=re.escape("expected data of shape (V, 12), got (2, 11)")):
        QuantizedTable(np.zeros((2, 11), np.uint8), 4, "int8")
    with pytest.raises(WeightDTypeError, match="uint8"):
        QuantizedTable(np.zeros((2, 12), np.int8), 4, "int8")


# -- lookups and bags ---------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("dim", [1, 4, 7, 64])
@pytest.mark.parametrize("id_dtype", [np.int32, np.int64, np.uint8])
def test_embedding_equals_dequantized_rows(rng, scheme, dim, id_dtype):
    table = quantize(_table(rng, 30, dim), scheme)
    ids = rng.integers(0, 30, (3, 4)).astype(id_dtype)
    assert_array_equal(table.embedding(ids), table.dequantize()[ids])
    assert_array_equal(dequantize(table, ids), table.dequantize()[ids])


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 3])
@pytest.mark.parametrize("dim", [1, 5, 16, 128])
def test_bag_equals_float_bag_of_dequantized_table(rng, scheme, mode, padding_idx, dim):
    table = quantize(_table(rng, 40, dim), scheme)
    ids = rng.integers(0, 40, 300)
    ids[::7] = 3
    offsets = np.sort(rng.integers(0, 300, 30))
    offsets[0] = 0
    offsets[5] = offsets[6]  # an empty bag
    got = table.embedding_bag(ids, offsets, mode=mode, padding_idx=padding_idx)
    expected = F.embedding_bag(ids, table.dequantize(), offsets, mode=mode, padding_idx=padding_idx)
    _close(got, expected)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("mode", ["sum", "mean"])
@pytest.mark.parametrize("dim", [16, 33])
def test_width_specialised_kernels_equal_the_generic_loop(rng, scheme, mode, dim):
    from embtable.kernels import quantized as K

    assert dim in K.SPECIALISED_WIDTHS
    table = quantize(_table(rng, 30, dim), scheme)
    ids = rng.integers(0, 30, 200)
    ids[::5] = 2
    starts = np.concatenate([[0, 0], np.sort(rng.integers(0, 200, 20)), [200]])  # empty bags
    weights = rng.standard_normal(200).astype(np.float32)
    results = []
    head = (table.data, table._scale_bias(), K._NO_HALVES if scheme == "int8" else _halves())
    for generic in (False, True):
        out = np.zeros((len(starts) - 1, dim), np.float32)
        size = np.zeros(len(starts) - 1, np.int64)
        code = int(mode == "mean")
        bad = K.bag_reduce(
            scheme, *head, ids, starts, True, weights, True, code, 2, out, size, generic=generic
        )  # fmt: skip
        assert bad == 0
        results.append((out, size))
    assert_array_equal(results[0][1], results[1][1])
    _close(results[0][0], results[1][0])
    expected = F.embedding_bag(
        ids, table.dequantize(), starts[:-1], mode=mode, per_sample_weights=weights,
        padding_idx=2,
    )  # fmt: skip
    _close(results[0][0], expected)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_weighted_bags(rng, scheme, mode):
    table = quantize(_table(rng, 40, 12), scheme)
    ids = rng.integers(0, 40, (6, 5))
    weights = rng.standard_normal((6, 5)).astype(np.float32)
    got = table.embedding_bag(ids, mode=mode, per_sample_weights=weights)
    expected = F.embedding_bag(ids, table.dequantize(), mode=mode, per_sample_weights=weights)
    _close(got, expected)


@settings(max_examples=30, deadline=None)
@given(
    st.integers(1, 9), st.sampled_from(SCHEMES), st.lists(st.integers(0, 11), max_size=40),
    st.integers(0, 2**32 - 1),
)  # fmt: skip
def test_law_bag_sum_is_sum_of_lookups(dim, scheme, ids, seed):
    weight = np.random.default_rng(seed).standard_normal((12, dim)).astype(np.float32)
    table = quantize(weight, scheme)
    flat = np.array(ids, dtype=np.int64)
    got = table.embedding_bag(flat, [0], mode="sum")[0]
    assert_allclose(got, table.embedding(flat).sum(axis=0), rtol=1e-5, atol=1e-4)


def test_large_bags_run_the_parallel_kernel(rng):
    table = quantize(_table(rng, 5000, 64), "int8")
    ids = rng.integers(0, 5000, 40_000)
    offsets = np.arange(0, 40_000, 40)
    expected = F.embedding_bag(ids, table.dequantize(), offsets, mode="mean")
    _close(table.embedding_bag(ids, offsets, mode="mean"), expected)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_errors_are_functionals(rng, scheme):
    table = quantize(_table(rng, 10, 4), scheme)
    before = table.data.copy()
    with pytest.raises(EmbeddingIndexError, match=re.escape("index 10 at position (1,)")):
        table.embedding([1, 10])
    with pytest.raises(BagIndexError, match=re.escape("index -1 at position (2,)")):
        table.embedding_bag([1, 2, -1], [0])
    with pytest.raises(OffsetsError, match="offsets\\[0\\] has to be 0"):
        table.embedding_bag([1, 2], [1])
    with pytest.raises(ModeError, match="mode has to be one of sum, mean or max"):
        table.embedding_bag([1, 2], [0], mode="median")
    assert_array_equal(table.data, before)


def _outcome(function, *args, **kwargs):
    """A call's result, or the type and message of what it raised (compared by the caller)."""
    try:
        return function(*args, **kwargs)
    except Exception as err:
        return type(err), str(err)


def _same_outcome(got, expected):
    if isinstance(expected, tuple):
        assert got == expected
    else:
        assert not isinstance(got, tuple), got
        _close(got, expected)


BAD_BAGS = [
    # (ids, offsets, include_last_offset): each breaks one rule the kernels check
    ([1, 2, 10], [0, 1], False),  # an id past the end
    ([1, -1, 3], [0, 2], False),  # a negative id (-1 is also the kernels' "no padding")
    ([1, 2, 3], [1, 2], False),  # offsets[0] != 0
    ([1, 2, 3], [0, 2, 1], False),  # decreasing
    ([1, 2, 3], [0, 4], False),  # a start past the end
    ([1, 2, 3], [0, 1, 4], True),  # a last offset past the end
    ([1, 2, 3], [0, 3, 2], True),  # a decrease into the last offset
    ([1, 2, 3], [0], True),  # include_last_offset with one offset: no bag
    ([1, 2, 3], [], False),  # no offsets
    ([], [0, 0], True),  # no ids, one empty bag
    ([1, 2, 3], [0, 1, 2], True),  # a last offset below len(ids): the last bag runs to the end
]


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize(("ids", "offsets", "include_last"), BAD_BAGS)
def test_width_kernels_check_bags_as_functional(scheme, dtype, ids, offsets, include_last):
    # at width 16 the call goes straight to the width's kernel, which checks bounds and ids as it
    # pools; what it refuses and what it returns must be exactly functional's
    weight = np.arange(160, dtype=np.float32).reshape(10, 16) / 7
    table = quantize(weight, scheme)
    ids, offsets = np.array(ids, dtype), np.array(offsets, dtype)
    for mode in ("sum", "mean"):
        options = dict(mode=mode, include_last_offset=include_last)
        got = _outcome(table.embedding_bag, ids, offsets, **options)
        expected = _outcome(F.embedding_bag, ids, table.dequantize(), offsets, **options)
        _same_outcome(got, expected)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(SCHEMES),
    st.lists(st.integers(-2, 12), max_size=30),
    st.lists(st.integers(-1, 31), max_size=6),
    st.booleans(),
    st.sampled_from([None, 0, 3, -1]),
    st.booleans(),
)  # fmt: skip
def test_law_checked_kernels_agree_with_functional(
    scheme, ids, offsets, include_last, padding_idx, weighted
):
    weight = np.linspace(-3, 5, 12 * 17, dtype=np.float32).reshape(12, 17)
    table = quantize(weight, scheme)
    flat = np.array(ids, np.int64)
    bounds = np.array(offsets, np.int64)
    psw = np.linspace(-1, 2, flat.size, dtype=np.float32) if weighted else None
    options = dict(
        per_sample_weights=psw, include_last_offset=include_last, padding_idx=padding_idx
    )
    got = _outcome(table.embedding_bag, flat, bounds, **options)
    expected = _outcome(F.embedding_bag, flat, table.dequantize(), bounds, mode="sum", **options)
    _same_outcome(got, expected)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("weighted", [False, True])
def test_bag_agrees_with_torch_quantized_op(rng, scheme, weighted):
    # torch's quantized bag ops implement sum only (torch 2.13 returns the sum for mode=1 too)
    torch = pytest.importorskip("torch")
    weight = _table(rng, 200, 32)
    table = quantize(weight, scheme)
    ids = rng.integers(0, 200, 500)
    offsets = np.sort(rng.integers(0, 500, 40))
    offsets[0] = 0
    weights = rng.standard_normal(500).astype(np.float32) if weighted else None
    op = (
        torch.ops.quantized.embedding_bag_byte_rowwise_offsets
        if scheme == "int8"
        else torch.ops.quantized.embedding_bag_4bit_rowwise_offsets
    )
    expected = op(
        torch.from_numpy(table.data),
        torch.from_numpy(ids),
        torch.from_numpy(offsets),
        mode=0,
        per_sample_weights=None if weights is None else torch.from_numpy(weights),
    ).numpy()
    got = table.embedding_bag(ids, offsets, mode="sum", per_sample_weights=weights)
    _close(got, expected)


# -- files ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("mmap", [False, True])
def test_save_load_roundtrip_is_safetensors(rng, tmp_path, scheme, mmap):
    from safetensors.numpy import load_file, safe_open

    table = quantize(_table(rng, 30, 7), scheme)
    path = tmp_path / "q.safetensors"
    table.save(path, metadata={"source": "test"})
    loaded = QuantizedTable.load(path, mmap=mmap)
    assert loaded == table
    assert isinstance(loaded.data, np.memmap) == mmap
    assert_array_equal(load_file(str(path))["weight"], table.data)
    with safe_open(str(path), "np") as handle:
        assert handle.metadata() == {
            "source": "test",
            "format": "embtable-quantized",
            "version": "1",
            "scale_dtype": "float32" if scheme == "int8" else "float16",
            "scheme": scheme,
            "embedding_dim": "7",
            "layout": "fbgemm-fused-rowwise",
        }


def test_load_refuses_other_files(tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "plain.safetensors"
    save_file({"weight": np.zeros((2, 3), np.float32)}, str(path))
    with pytest.raises(VectorFormatError, match="not an embtable quantized table"):
        QuantizedTable.load(path)
    path.write_bytes(b"\x10\x00")
    with pytest.raises(VectorFormatError, match="too short for a safetensors file"):
        QuantizedTable.load(path)


def test_table_directory_roundtrip_and_vectors(rng, tmp_path):
    from embtable.evaluate import evaluate_word_pairs
    from embtable.vectors import Vectors

    tokens = [f"w{i}" for i in range(20)]
    table = quantize(_table(rng, 20, 6), "int4")
    save_quantized_table(tmp_path / "t", table, tokens, {"from": "test"})
    loaded, loaded_tokens, config = load_quantized_table(tmp_path / "t", mmap=True)
    assert (loaded == table, loaded_tokens, config) == (True, tokens, {"from": "test"})
    vectors = loaded.to_vectors(loaded_tokens)
    expected = Vectors(tokens, table.dequantize())
    assert vectors == expected
    assert vectors.most_similar("w3", k=3) == expected.most_similar("w3", k=3)
    assert loaded.to_vectors(tokens, dtype=np.float16).matrix.dtype == np.float16
    result = evaluate_word_pairs(vectors, dummy4unknown=True)
    assert result.pairs == 353
    with pytest.raises(ShapeError, match="got 2 tokens for a quantized table of 20 rows"):
        save_quantized_table(tmp_path / "u", table, ["a", "b"])


# -- layers --------------------------------------------------------------------------------------


def test_numpy_layers_from_float_layers(rng):
    from embtable import Embedding, EmbeddingBag

    emb = Embedding(20, 6, padding_idx=2, rng=0)
    quantized = QuantizedEmbedding.from_float(emb, "int8")
    assert repr(quantized) == "QuantizedEmbedding(20, 6, scheme='int8', padding_idx=2)"
    ids = rng.integers(0, 20, (4, 3))
    assert_allclose(quantized(ids), emb(ids), atol=_tolerance(quantized.table))
    bag = EmbeddingBag(20, 6, mode="max", padding_idx=1, rng=0)
    qbag = QuantizedEmbeddingBag.from_float(bag, "int4")
    assert repr(qbag) == "QuantizedEmbeddingBag(20, 6, scheme='int4', mode='max', padding_idx=1)"
    expected = F.embedding_bag(ids, qbag.table.dequantize(), mode="max", padding_idx=1)
    assert_allclose(qbag(ids), expected, rtol=1e-6)
    assert list(quantized.parameters()) == [] and list(qbag.parameters()) == []
    for layer in (quantized, qbag):
        with pytest.raises(FrozenWeightError, match="is inference-only"):
            layer.backward(ids, np.ones((4, 3, 6)))


# -- torch -------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", SCHEMES)
def test_torch_modules(rng, scheme):
    torch = pytest.importorskip("torch")
    from embtable.torch import quantized as tq

    dense = torch.nn.EmbeddingBag(50, 16, mode="sum")
    ours = tq.QuantizedEmbeddingBag.from_float(dense, scheme)
    ids = torch.from_numpy(rng.integers(0, 50, 60))
    offsets = torch.tensor([0, 10, 10, 33])
    op = (
        torch.ops.quantized.embedding_bag_byte_rowwise_offsets
        if scheme == "int8"
        else torch.ops.quantized.embedding_bag_4bit_rowwise_offsets
    )
    expected = op(ours.weight, ids, offsets, mode=0)
    torch.testing.assert_close(ours(ids, offsets), expected, rtol=1e-5, atol=1e-4)
    state = ours.state_dict()
    assert state["weight"].dtype == torch.uint8
    restored = tq.QuantizedEmbeddingBag(50, 16, scheme)
    restored.load_state_dict(state)
    assert torch.equal(restored(ids, offsets), ours(ids, offsets))
    emb = tq.QuantizedEmbedding.from_float(torch.nn.Embedding(50, 16, padding_idx=0), scheme)
    assert emb.padding_idx == 0
    assert torch.equal(emb(ids[:5]), torch.from_numpy(emb.table().dequantize(ids[:5].numpy())))
    assert list(emb.parameters()) == []
    with pytest.raises(FrozenWeightError, match="inference-only"):
        emb.requires_grad_()
    with pytest.raises(FrozenWeightError, match="per_sample_weights"):
        ours(ids, offsets, torch.ones(60, requires_grad=True))
    with pytest.raises(IndexError, match=re.escape("index 50 at position (0,)")):
        emb(torch.tensor([50]))


# -- the format registry's functions ---------------------------------------------------------------


def test_read_quantized_vectors_dequantizes_in_chunks_and_queries(rng, tmp_path):
    from embtable.io._detect import Probe
    from embtable.quantized import (
        peek_quantized_table,
        read_quantized_vectors,
        sniff_quantized_table,
    )
    from embtable.vectors import Vectors

    weight = _table(rng, 70, 16)
    table = quantize(weight, "int4")
    tokens = [f"w{i}" for i in range(70)]
    save_quantized_table(tmp_path / "q", table, tokens)
    got_tokens, matrix = read_quantized_vectors(tmp_path / "q")
    assert got_tokens == tokens and matrix.dtype == np.float32
    assert_array_equal(matrix, table.dequantize())
    half_tokens, half = read_quantized_vectors(tmp_path / "q", limit=5, dtype="float16")
    assert half_tokens == tokens[:5] and half.dtype == np.float16
    assert_array_equal(half, table.dequantize()[:5].astype(np.float16))
    vectors = Vectors(got_tokens, matrix)
    assert vectors.most_similar("w3", topn=3) == table.to_vectors(tokens).most_similar("w3", topn=3)
    with pytest.raises(OptionError, match="limit must be >= 0, got -1"):
        read_quantized_vectors(tmp_path / "q", limit=-1)

    assert sniff_quantized_table(Probe(tmp_path / "q", None))
    assert not sniff_quantized_table(Probe(tmp_path, None))
    summary = peek_quantized_table(tmp_path / "q")
    assert (summary.rows, summary.dim, summary.dtype) == (70, 16, "int4")
    assert summary.tokens == tuple(tokens[:10])
    (tmp_path / "q" / "quantized.safetensors").write_bytes(b"junk")
    with pytest.raises(VectorFormatError):
        peek_quantized_table(tmp_path / "q")


# -- int8 rows with float16 scale and bias (FBGEMM's SBHalf) ------------------------------------


def _sbhalf_reference(weight):
    """FBGEMM's FloatToFusedNBitRowwiseQuantizedSBHalf(bit_rate=8), written out row by row."""
    rows, dim = weight.shape
    out = np.zeros((rows, dim + 4), np.uint8)
    for r in range(rows):
        x = weight[r].astype(np.float32)
        low = np.float16(x.min())
        spread = np.float32(x.max()) - np.float32(low)
        scale = np.float16(np.float32(1.0) if spread == 0 else spread / np.float32(255))
        scale = np.float16(1.0) if scale == 0 else scale
        inverse = np.float32(1.0) / np.float32(scale)
        codes = np.clip(np.rint((x - np.float32(low)) * inverse), 0, 255).astype(np.uint8)
        out[r, :dim] = codes
        out[r, dim:] = np.array([scale, low], "<f2").view(np.uint8)
    return out


@pytest.mark.parametrize("dim", [3, 16, 128])
def test_int8_half_scales_layout_lookups_bags_and_files(rng, tmp_path, dim):
    weight = _table(rng, 40, dim)
    table = quantize(weight, "int8", scale_dtype="float16")
    assert table.scale_dtype == "float16" and table.data.shape == (40, dim + 4)
    assert row_bytes("int8", dim, "float16") == dim + 4
    assert_array_equal(table.data, _sbhalf_reference(weight))
    assert np.abs(table.dequantize() - weight).max() <= _tolerance(table)
    ids = rng.integers(0, 40, 300)
    offsets = np.sort(rng.integers(0, 300, 30))
    offsets[0] = 0
    weights = rng.standard_normal(300).astype(np.float32)
    for mode in ("sum", "mean", "max"):
        psw = weights if mode == "sum" else None
        got = table.embedding_bag(ids, offsets, mode=mode, per_sample_weights=psw, padding_idx=4)
        expected = F.embedding_bag(
            ids, table.dequantize(), offsets, mode=mode, per_sample_weights=psw, padding_idx=4
        )
        _close(got, expected)
    table.save(tmp_path / "h.safetensors")
    loaded = QuantizedTable.load(tmp_path / "h.safetensors", mmap=True)
    assert loaded == table and loaded.scale_dtype == "float16"
    assert loaded != quantize(weight, "int8")
    assert "scale_dtype='float16'" in repr(table)
    with pytest.raises(OptionError, match="scale_dtype for int4 rows must be 'float16'"):
        quantize(weight, "int4", scale_dtype="float32")
    with pytest.raises(OptionError, match="within"):
        quantize(np.full((1, 2), 1e6, np.float32), "int8", scale_dtype="float16")


def test_int8_half_scales_refused_by_torch_modules(rng):
    pytest.importorskip("torch")
    from embtable.torch.quantized import QuantizedEmbeddingBag as TorchBag

    module = TorchBag(10, 8, "int8")
    with pytest.raises(TypeError, match="float32 scales"):
        module.set_table(quantize(_table(rng, 10, 8), "int8", scale_dtype="float16"))


@pytest.mark.parametrize("scheme", SCHEMES)
def test_torch_module_table_view_follows_its_buffer(rng, scheme):
    # the module reuses its table view between calls; every way of changing the buffer shows
    torch = pytest.importorskip("torch")
    import copy

    from embtable.torch import quantized as tq

    first, second = _table(rng, 20, 16), _table(rng, 20, 16) + 3
    bag = tq.QuantizedEmbeddingBag.from_float(torch.from_numpy(first), scheme)
    ids, offsets = torch.tensor([1, 2, 3, 19]), torch.tensor([0, 2])
    expected = [
        torch.from_numpy(quantize(w, scheme).embedding_bag(ids.numpy(), offsets.numpy()))
        for w in (first, second)
    ]
    assert torch.equal(bag(ids, offsets), expected[0])
    other = tq.QuantizedEmbeddingBag.from_float(torch.from_numpy(second), scheme)
    bag.load_state_dict(other.state_dict())  # copied in place
    assert torch.equal(bag(ids, offsets), expected[1])
    bag.weight = torch.from_numpy(quantize(first, scheme).data)  # a new tensor
    assert torch.equal(bag(ids, offsets), expected[0])
    bag.weight.set_(other.weight.clone())  # the same tensor over new memory
    assert torch.equal(bag(ids, offsets), expected[1])
    clone = copy.deepcopy(bag)
    assert clone._view == ()
    clone.weight.copy_(torch.from_numpy(quantize(first, scheme).data))
    assert torch.equal(clone(ids, offsets), expected[0])
    assert torch.equal(bag(ids, offsets), expected[1])


def test_prefetched_offsets_reach_every_line_of_a_row():
    # the width kernels prefetch a row's lines at constant offsets: for rows of any size starting
    # where a table of such rows puts them (multiples of gcd(size, 64) within a line), each line
    # the row touches holds one of them, and there is at most one more than the lines of a row
    import math

    from embtable.kernels.quantized import _line_offsets

    for size in range(1, 1100):
        offsets = _line_offsets(size)
        for start in range(0, 64, math.gcd(size, 64)):
            lines = set(range(start // 64, (start + size - 1) // 64 + 1))
            hit = [(start + offset) // 64 for offset in offsets]
            assert set(hit) == lines, (size, start)
        assert len(offsets) <= -(-size // 64) + 1
