"""Kernels for row-wise quantized tables: lookups and bags that dequantize as they read.

A quantized table is FBGEMM's *fused row-wise* layout, one ``uint8`` row per embedding:

- ``int8``: ``D`` bytes (one code per feature), then a float32 ``scale`` and a float32 ``bias``;
  feature ``d`` is ``scale * q[d] + bias``;
- ``int4``: ``ceil(D / 2)`` bytes (feature ``2k`` in the low nibble of byte ``k``, feature
  ``2k + 1`` in the high nibble), then a float16 ``scale`` and a float16 ``bias``.

The kernels receive the code bytes and a ``(V, 2)`` view of the scale and bias inside the same
buffer (``float32`` for int8; the raw ``uint16`` bits for int4, decoded through ``half_table``,
the 65536-entry float16 → float32 table), so no row is ever dequantized into a full float copy.

A bag adds ``w * scale * q[d]`` per feature and ``w * bias`` once per row (then adds the summed
bias to every feature): one multiply-add per feature. Modes are ``0`` sum, ``1`` mean, ``2`` max;
``padding_idx = -1`` means none. Types are trusted (see :mod:`embtable.functional`); the bags'
bounds and ids are checked inside the bag kernels, which return how many bags were invalid, so
that a bag call needs no checking pass of its own (the caller then raises functional's error).
The NumPy twins are :func:`embtable.quantized.dequantize` followed by a float bag, which the
tests compare against.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from ._cache import CACHE
from ._parallel import pick, twins

__all__ = [
    "PREFETCH_DISTANCE",
    "SPECIALISED_WIDTHS",
    "WIDTH_PREFETCH_DISTANCE",
    "bag_reduce",
    "bag_sum_kernel",
    "gather_int4",
    "gather_int8",
    "prefetch_lines",
]

# Widths that get a kernel of their own for sums and means (compiled on first use, cached per
# width); narrower tables and wider ones run the generic loops below. A specialised kernel
# holds the bag's accumulator in registers (D / 16 AVX-512 registers at D = 128).
SPECIALISED_WIDTHS = range(16, 1025)

# How many ids ahead a bag prefetches its rows. A random row of a large table is a cache miss;
# with the lines of rows requested far enough ahead the misses overlap. Measured on 1M x 128
# int8 rows, 1M uniform ids in bags of 64, one thread: 23 ms at distance 8, 16 ms at 16, 10 ms
# at 32 and 64 with the generic loops; the width-specialised kernels (about twice as fast per
# row) need more in flight: 6.2 ms at 48, 5.2 ms at 64 and at 96, 5.3 ms at 128.
PREFETCH_DISTANCE = 64
_LINE = 64

# The width-specialised kernels prefetch fewer ids ahead, with the offsets of a row's lines known
# when they compile (:func:`prefetch_lines`). Measured on 1M x 128 int8 rows, 1M uniform ids in
# bags of 64, one thread, a loaded 2-core AMD EPYC (thread time; torch's quint8 bag = 1): the
# runtime-loop prefetch 64 ahead 0.72-0.86, constant offsets 16 ahead 1.02-1.39, 24 ahead
# 1.08-1.41, 32 ahead 0.97-1.28, 48 ahead 1.12.
WIDTH_PREFETCH_DISTANCE = 24


@intrinsic
def prefetch_bytes(typingctx, array, row, byte):
    """Hint the CPU to load ``array[row]``'s byte ``byte`` into cache (``llvm.prefetch``, read,
    high locality); it never faults, whatever the address."""
    sig = types.void(array, row, byte)

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0])
        stride = builder.extract_value(data.strides, 0)
        offset = builder.add(builder.mul(args[1], stride), args[2])
        base = builder.ptrtoint(data.data, ir.IntType(64))
        byte_pointer = ir.IntType(8).as_pointer()
        pointer = builder.inttoptr(builder.add(base, offset), byte_pointer)
        i32 = ir.IntType(32)
        kind = ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32])
        function = cgutils.get_or_insert_function(builder.module, kind, "llvm.prefetch.p0")
        builder.call(function, [pointer, i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


def _line_offsets(row_bytes: int) -> list[int]:
    """The byte offsets :func:`prefetch_lines` requests in a row of ``row_bytes``: every 64th
    byte, and the last one unless it always shares the line of the last of those. Rows start at
    multiples of ``g = gcd(row_bytes, 64)`` within a line (a base aligned to ``g``), so the last
    byte falls in that line whenever fewer than ``g`` bytes follow it."""
    import math

    offsets = list(range(0, max(row_bytes, 1), _LINE))
    if row_bytes - 1 - offsets[-1] >= math.gcd(row_bytes, _LINE):
        offsets.append(row_bytes - 1)
    return offsets


@intrinsic(prefer_literal=True)
def prefetch_lines(typingctx, array, row, row_bytes):
    """Prefetch the lines of ``array[row]``, a row of ``row_bytes`` bytes (a compile-time
    constant): one ``llvm.prefetch`` per offset of :func:`_line_offsets`, with constant
    offsets and no loop. One global intrinsic with a literal argument, so that numba's cache
    keys stay the same from one process to the next (as in :mod:`._simd`)."""
    if not isinstance(row_bytes, types.IntegerLiteral):
        return None
    offsets = _line_offsets(row_bytes.literal_value)
    sig = types.void(array, row, types.literal(row_bytes.literal_value))

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0])
        stride = builder.extract_value(data.strides, 0)
        index = context.cast(builder, args[1], signature.args[1], types.int64)
        i64 = ir.IntType(64)
        base = builder.add(builder.ptrtoint(data.data, i64), builder.mul(index, stride))
        byte_pointer = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        kind = ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32])
        function = cgutils.get_or_insert_function(builder.module, kind, "llvm.prefetch.p0")
        for offset in offsets:
            pointer = builder.inttoptr(builder.add(base, i64(offset)), byte_pointer)
            builder.call(function, [pointer, i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


@nb.njit(cache=True, nogil=True, inline="always")
def _prefetch_row(codes, ids, position):
    """Prefetch the row ``ids[position]`` (the last id's past the end): its first byte, every
    64 bytes up to its last 64, and its last byte. That is one request per cache line except
    for a row that straddles one more line than its width needs (the line before its last is
    then left out); more requests, or a bounds branch instead of the clamp, measured slower
    (1M x 128 int8, 1M ids: 10 ms as written, 19 ms with a branch and a fourth request)."""
    row = np.int64(ids[min(position, ids.shape[0] - 1)])
    width = codes.shape[1]
    for line in range(0, width - _LINE, _LINE):
        prefetch_bytes(codes, row, line)
    prefetch_bytes(codes, row, width - 1)


def _decode(half_table, value):  # pragma: no cover - replaced by the overload in kernels
    """A scale or bias as float32: ``value`` itself when the table stores float32, or the
    float16 bits ``value`` (uint16) decoded through ``half_table``."""
    raise NotImplementedError


@overload(_decode, inline="always")
def _decode_impl(half_table, value):
    if isinstance(value, types.Float):
        return lambda half_table, value: value
    return lambda half_table, value: half_table[value]


@nb.njit(cache=True, nogil=True, inline="always")
def _bag_bounds(offsets, b, num_ids, include_last):
    """Bag ``b``'s ids ``start .. stop`` from torch-style ``offsets`` and whether they are
    valid. Bag ``b`` starts at ``offsets[b]`` and ends at ``offsets[b + 1]`` (the last bag
    without ``include_last`` ends at ``num_ids``); with ``include_last`` a last offset below
    ``num_ids`` that follows no decrease is raised to it, the rule of
    :func:`embtable.functional.plan_bags` (pytorch#89677). Valid: bag 0 starts at 0, no bag
    ends before it starts or after ``num_ids``. Every bag valid is exactly what ``plan_bags``
    accepts, so a kernel that checks its bags needs no separate pass over the offsets. Each bag
    is also checked to start at or after 0 on its own (implied by the others, unless another
    thread writes the offsets meanwhile): the ids a bag reads stay within ``ids``."""
    start = np.int64(offsets[b])
    stop = np.int64(offsets[b + 1]) if b + 1 < offsets.shape[0] else np.int64(num_ids)
    if include_last and b + 2 == offsets.shape[0] and start <= stop < num_ids:
        stop = np.int64(num_ids)
    valid = 0 <= start <= stop <= num_ids and (b != 0 or start == 0)
    return start, stop, valid


@intrinsic
def _stack_float32(typingctx, count):
    """A pointer to ``count`` (a literal) float32 slots on the stack, allocated once in the
    function's entry block. Viewed with ``numba.carray`` and indexed with constants only (the
    loops over a literal width unroll), LLVM promotes them to registers: the accumulator never
    touches memory inside a bag."""
    if not isinstance(count, types.IntegerLiteral):
        return None
    size = count.literal_value
    sig = types.CPointer(types.float32)(count)

    def codegen(context, builder, signature, args):
        slots = cgutils.alloca_once(builder, ir.ArrayType(ir.FloatType(), size))
        return builder.bitcast(slots, ir.FloatType().as_pointer())

    return sig, codegen


def _bag_sum_int8(parallel, dim, row_bytes):
    """Sum or mean bags of an int8 table ``dim`` features wide (``dim`` is a compile-time
    constant; a row is ``row_bytes`` bytes: codes, scale and bias). Per id: prefetch the lines
    of the row :data:`WIDTH_PREFETCH_DISTANCE` ids ahead (:func:`prefetch_lines`), then
    ``acc += (w * scale) * q`` over the whole row (uint8 → float32 conversion, multiply, add:
    vectorised), with ``w * bias`` summed apart and added once per bag, as FBGEMM does.

    The bags come straight from torch-style ``offsets`` (:func:`_bag_bounds`) and every bag and
    id is checked as it is read (one compare per id, no pass of its own); returns the number of
    bags with a bad bound or id (their ``out`` rows are left unspecified), 0 when all are
    valid."""
    width = dim  # closure constants: literal to numba, part of the cache key
    row_bytes = int(row_bytes)

    def bag_sum_int8(
        codes, scale_bias, half_table, ids, offsets, include_last, weights, use_weights, mean,
        padding_idx, out, bag_size,
    ):  # fmt: skip
        if parallel:  # the flag lives in the closure; see _parallel.twins
            pass
        num_rows = codes.shape[0]
        num_ids = ids.shape[0]
        bad = 0
        for b in nb.prange(out.shape[0]):
            start, stop, valid = _bag_bounds(offsets, b, num_ids, include_last)
            acc = nb.carray(_stack_float32(width), (width,))
            for d in range(width):
                acc[d] = np.float32(0.0)
            bias_sum = np.float32(0.0)
            count = 0
            for i in range(start, stop if valid else start):
                ahead = np.int64(ids[min(i + WIDTH_PREFETCH_DISTANCE, num_ids - 1)])
                prefetch_lines(codes, ahead, row_bytes)
                row = ids[i]
                if row < 0 or row >= num_rows:  # before the padding test: -1 means none
                    valid = False
                    break
                if row == padding_idx:
                    continue
                scale = _decode(half_table, scale_bias[row, 0])
                bias = _decode(half_table, scale_bias[row, 1])
                if use_weights:
                    scale *= weights[i]
                    bias *= weights[i]
                bias_sum += bias
                count += 1
                codes_row = codes[row]
                for d in range(width):
                    acc[d] += scale * np.float32(codes_row[d])
            bag_size[b] = count
            if not valid:
                bad += 1
            else:  # every valid bag is written, an empty one as zeros: out may be uninitialised
                use_mean = mean and count > 0
                inverse = np.float32(1.0) / np.float32(count) if use_mean else np.float32(1.0)
                for d in range(width):
                    out[b, d] = (acc[d] + bias_sum) * inverse
        return bad

    return bag_sum_int8


def _bag_sum_int4(parallel, dim, row_bytes):
    """The int4 twin of :func:`_bag_sum_int8`. Byte ``k`` of a row holds feature ``2k`` in its
    low nibble and ``2k + 1`` in its high one; both are unpacked in float32, exactly
    (``f = float(byte)``, ``high = floor(f / 16)``, ``low = f - 16 * high``: integer
    shifts and masks would widen to int64 in numba and halve the vector width), and summed
    into two accumulators, the even and the odd features, interleaved once per bag (so a row
    costs no shuffles). float16 scale and bias are decoded through ``half_table``."""
    width = dim
    row_bytes = int(row_bytes)
    pairs = dim // 2
    evens = pairs + dim % 2  # features 0, 2, 4, ...
    has_last = dim % 2 == 1

    def bag_sum_int4(
        codes, scale_bias, half_table, ids, offsets, include_last, weights, use_weights, mean,
        padding_idx, out, bag_size,
    ):  # fmt: skip
        if parallel:  # the flag lives in the closure; see _parallel.twins
            pass
        num_rows = codes.shape[0]
        num_ids = ids.shape[0]
        bad = 0
        for b in nb.prange(out.shape[0]):
            start, stop, valid = _bag_bounds(offsets, b, num_ids, include_last)
            even = nb.carray(_stack_float32(evens), (evens,))
            odd = nb.carray(_stack_float32(pairs), (pairs,))
            for k in range(evens):
                even[k] = np.float32(0.0)
            for k in range(pairs):
                odd[k] = np.float32(0.0)
            bias_sum = np.float32(0.0)
            count = 0
            for i in range(start, stop if valid else start):
                ahead = np.int64(ids[min(i + WIDTH_PREFETCH_DISTANCE, num_ids - 1)])
                prefetch_lines(codes, ahead, row_bytes)
                row = ids[i]
                if row < 0 or row >= num_rows:  # before the padding test: -1 means none
                    valid = False
                    break
                if row == padding_idx:
                    continue
                scale = half_table[scale_bias[row, 0]]
                bias = half_table[scale_bias[row, 1]]
                if use_weights:
                    scale *= weights[i]
                    bias *= weights[i]
                bias_sum += bias
                count += 1
                codes_row = codes[row]
                for k in range(pairs):
                    both = np.float32(codes_row[k])
                    high = np.floor(both * np.float32(0.0625))
                    even[k] += scale * (both - np.float32(16.0) * high)
                    odd[k] += scale * high
                if has_last:
                    even[pairs] += scale * np.float32(codes_row[pairs] & 15)
            bag_size[b] = count
            if not valid:
                bad += 1
            else:  # as in _bag_sum_int8: empty bags written as zeros
                use_mean = mean and count > 0
                inverse = np.float32(1.0) / np.float32(count) if use_mean else np.float32(1.0)
                for k in range(pairs):
                    out[b, 2 * k] = (even[k] + bias_sum) * inverse
                    out[b, 2 * k + 1] = (odd[k] + bias_sum) * inverse
                if has_last:
                    out[b, width - 1] = (even[pairs] + bias_sum) * inverse
        return bad

    return bag_sum_int4


_SPECIALISED: dict[tuple[str, int, int], tuple[object, object]] = {}
_CONTRACT = {"contract"}


def bag_sum_kernel(scheme: str, dim: int, row_bytes: int) -> tuple[object, object] | None:
    """The serial and parallel sum/mean kernels specialised for ``dim`` features of ``scheme``
    (``"int8"`` or ``"int4"``) in rows of ``row_bytes`` bytes, built on first use and kept for
    the process (numba caches them on disk per width); ``None`` for a width outside
    :data:`SPECIALISED_WIDTHS`."""
    if dim not in SPECIALISED_WIDTHS:
        return None
    key = (scheme, dim, row_bytes)
    kernel = _SPECIALISED.get(key)
    if kernel is None:
        factory = _bag_sum_int8 if scheme == "int8" else _bag_sum_int4
        # contract: the multiply-adds may become FMAs (one rounding instead of two, as FBGEMM)
        kernel = (
            nb.njit(cache=CACHE, nogil=True, fastmath=_CONTRACT)(factory(False, dim, row_bytes)),
            nb.njit(cache=CACHE, nogil=True, parallel=True, fastmath=_CONTRACT)(
                factory(True, dim, row_bytes)
            ),
        )
        _SPECIALISED[key] = kernel
    return kernel


def _gather_int8(parallel):
    def gather_int8(codes, scale_bias, half_table, ids, out):
        if parallel:  # the flag lives in the closure; see _parallel.twins
            pass
        dim = out.shape[1]
        for i in nb.prange(ids.shape[0]):
            row = ids[i]
            scale = _decode(half_table, scale_bias[row, 0])
            bias = _decode(half_table, scale_bias[row, 1])
            for d in range(dim):
                out[i, d] = scale * np.float32(codes[row, d]) + bias

    return gather_int8


def _gather_int4(parallel):
    def gather_int4(codes, scale_bias, half_table, ids, out):
        if parallel:  # the flag lives in the closure; see _parallel.twins
            pass
        dim = out.shape[1]
        pairs = dim // 2
        for i in nb.prange(ids.shape[0]):
            row = ids[i]
            scale = half_table[scale_bias[row, 0]]
            bias = half_table[scale_bias[row, 1]]
            for k in range(pairs):
                byte = codes[row, k]
                out[i, 2 * k] = scale * np.float32(byte & 15) + bias
                out[i, 2 * k + 1] = scale * np.float32(byte >> 4) + bias
            if dim % 2:
                out[i, dim - 1] = scale * np.float32(codes[row, pairs] & 15) + bias

    return gather_int4


@nb.njit(cache=True, nogil=True)
def _sum_int8(codes, scale_bias, half_table, ids, start, stop, weights, use_weights, padding_idx,
              target):  # fmt: skip
    """Add ``w * scale * q`` of the rows ``ids[start:stop]`` into ``target``, two rows per pass
    over the features (half the loads and stores of ``target``), prefetching ahead; returns
    ``(count, summed w * bias)``."""
    dim = target.shape[0]
    count = 0
    bias_sum = np.float32(0.0)
    i = start
    while i < stop:
        _prefetch_row(codes, ids, i + PREFETCH_DISTANCE)
        _prefetch_row(codes, ids, i + PREFETCH_DISTANCE + 1)
        first = ids[i]
        if i + 1 < stop and first != padding_idx and ids[i + 1] != padding_idx:
            second = ids[i + 1]
            scale0 = _decode(half_table, scale_bias[first, 0])
            scale1 = _decode(half_table, scale_bias[second, 0])
            bias0 = _decode(half_table, scale_bias[first, 1])
            bias1 = _decode(half_table, scale_bias[second, 1])
            if use_weights:
                scale0 *= weights[i]
                bias0 *= weights[i]
                scale1 *= weights[i + 1]
                bias1 *= weights[i + 1]
            bias_sum += bias0 + bias1
            row0 = codes[first]
            row1 = codes[second]
            for d in range(dim):
                target[d] += scale0 * np.float32(row0[d]) + scale1 * np.float32(row1[d])
            count += 2
            i += 2
            continue
        if first != padding_idx:
            scale0 = _decode(half_table, scale_bias[first, 0])
            bias0 = _decode(half_table, scale_bias[first, 1])
            if use_weights:
                scale0 *= weights[i]
                bias0 *= weights[i]
            bias_sum += bias0
            row0 = codes[first]
            for d in range(dim):
                target[d] += scale0 * np.float32(row0[d])
            count += 1
        i += 1
    return count, bias_sum


def _bag_reduce_int8(parallel):
    """Sum, mean or max bags of an int8 table of any width, from torch-style ``offsets``; the
    ids of a bag are checked in a pass over them before it is pooled (callers pass ids they
    own: the check and the reads are apart). Returns the number of bad bags, as
    :func:`_bag_sum_int8`."""

    def bag_reduce_int8(
        codes, scale_bias, half_table, ids, offsets, include_last, per_sample_weights,
        use_weights, mode, padding_idx, out, bag_size,
    ):  # fmt: skip
        if parallel:  # the flag lives in the closure; see _parallel.twins
            pass
        num_rows = codes.shape[0]
        num_ids = ids.shape[0]
        bad = 0
        dim = out.shape[1]
        for b in nb.prange(out.shape[0]):
            start, stop, valid = _bag_bounds(offsets, b, num_ids, include_last)
            for i in range(start, stop if valid else start):
                row = ids[i]
                if row < 0 or row >= num_rows:
                    valid = False
            if not valid:
                bad += 1
                start = stop = 0
            count = 0
            bias_sum = np.float32(0.0)
            for i in range(start, stop if mode == 2 else start):
                row = ids[i]
                if row == padding_idx:
                    continue
                scale = _decode(half_table, scale_bias[row, 0])
                bias = _decode(half_table, scale_bias[row, 1])
                if count == 0:
                    for d in range(dim):
                        out[b, d] = scale * np.float32(codes[row, d]) + bias
                else:
                    for d in range(dim):
                        value = scale * np.float32(codes[row, d]) + bias
                        if value > out[b, d]:
                            out[b, d] = value
                count += 1
            if mode != 2:
                count, bias_sum = _sum_int8(
                    codes, scale_bias, half_table, ids, start, stop,
                    per_sample_weights, use_weights, padding_idx, out[b],
                )  # fmt: skip
            bag_size[b] = count
            if mode != 2 and count > 0:
                if mode == 1:
                    inverse = np.float32(1.0) / np.float32(count)
                    for d in range(dim):
                        out[b, d] = (out[b, d] + bias_sum) * inverse
                else:
                    for d in range(dim):
                        out[b, d] += bias_sum
        return bad

    return bag_reduce_int8


@nb.njit(cache=True, nogil=True)
def _sum_int4(codes, scale_bias, half_table, ids, start, stop, weights, use_weights, padding_idx,
              target):  # fmt: skip
    """The int4 twin of :func:`_sum_int8`: two rows per pass over the bytes, each byte giving
    features ``2k`` (low nibble) and ``2k + 1`` (high nibble)."""
    dim = target.shape[0]
    pairs = dim // 2
    odd = dim % 2
    count = 0
    bias_sum = np.float32(0.0)
    i = start
    while i < stop:
        _prefetch_row(codes, ids, i + PREFETCH_DISTANCE)
        _prefetch_row(codes, ids, i + PREFETCH_DISTANCE + 1)
        first = ids[i]
        if i + 1 < stop and first != padding_idx and ids[i + 1] != padding_idx:
            second = ids[i + 1]
            scale0 = half_table[scale_bias[first, 0]]
            scale1 = half_table[scale_bias[second, 0]]
            bias0 = half_table[scale_bias[first, 1]]
            bias1 = half_table[scale_bias[second, 1]]
            if use_weights:
                scale0 *= weights[i]
                bias0 *= weights[i]
                scale1 *= weights[i + 1]
                bias1 *= weights[i + 1]
            bias_sum += bias0 + bias1
            row0 = codes[first]
            row1 = codes[second]
            for k in range(pairs):
                x = row0[k]
                y = row1[k]
                target[2 * k] += scale0 * np.float32(x & 15) + scale1 * np.float32(y & 15)
                target[2 * k + 1] += scale0 * np.float32(x >> 4) + scale1 * np.float32(y >> 4)
            if odd:
                target[dim - 1] += scale0 * np.float32(row0[pairs] & 15) + scale1 * np.float32(
                    row1[pairs] & 15
                )
            count += 2
            i += 2
            continue
        if first != padding_idx:
            scale0 = half_table[scale_bias[first, 0]]
            bias0 = half_table[scale_bias[first, 1]]
            if use_weights:
                scale0 *= weights[i]
                bias0 *= weights[i]
            bias_sum += bias0
            row0 = codes[first]
            for k in range(pairs):
                x = row0[k]
                target[2 * k] += scale0 * np.float32(x & 15)
                target[2 * k + 1] += scale0 * np.float32(x >> 4)
            if odd:
                target[dim - 1] += scale0 * np.float32(row0[pairs] & 15)
            count += 1
        i += 1
    return count, bias_sum


def _bag_reduce_int4(parallel):
    """The int4 twin of :func:`_bag_reduce_int8`."""

    def bag_reduce_int4(
        codes, scale_bias, half_table, ids, offsets, include_last, per_sample_weights,
        use_weights, mode, padding_idx, out, bag_size,
    ):  # fmt: skip
        if parallel:  # the flag lives in the closure; see _parallel.twins
            pass
        num_rows = codes.shape[0]
        num_ids = ids.shape[0]
        bad = 0
        dim = out.shape[1]
        pairs = dim // 2
        odd = dim % 2
        for b in nb.prange(out.shape[0]):
            start, stop, valid = _bag_bounds(offsets, b, num_ids, include_last)
            for i in range(start, stop if valid else start):
                row = ids[i]
                if row < 0 or row >= num_rows:
                    valid = False
            if not valid:
                bad += 1
                start = stop = 0
            count = 0
            bias_sum = np.float32(0.0)
            for i in range(start, stop if mode == 2 else start):
                row = ids[i]
                if row == padding_idx:
                    continue
                scale = half_table[scale_bias[row, 0]]
                bias = half_table[scale_bias[row, 1]]
                for k in range(pairs):
                    byte = codes[row, k]
                    low = scale * np.float32(byte & 15) + bias
                    high = scale * np.float32(byte >> 4) + bias
                    if count == 0 or low > out[b, 2 * k]:
                        out[b, 2 * k] = low
                    if count == 0 or high > out[b, 2 * k + 1]:
                        out[b, 2 * k + 1] = high
                if odd:
                    last = scale * np.float32(codes[row, pairs] & 15) + bias
                    if count == 0 or last > out[b, dim - 1]:
                        out[b, dim - 1] = last
                count += 1
            if mode != 2:
                count, bias_sum = _sum_int4(
                    codes, scale_bias, half_table, ids, start, stop,
                    per_sample_weights, use_weights, padding_idx, out[b],
                )  # fmt: skip
            bag_size[b] = count
            if mode != 2 and count > 0:
                if mode == 1:
                    inverse = np.float32(1.0) / np.float32(count)
                    for d in range(dim):
                        out[b, d] = (out[b, d] + bias_sum) * inverse
                else:
                    for d in range(dim):
                        out[b, d] += bias_sum
        return bad

    return bag_reduce_int4


_NO_HALVES = np.zeros(1, np.float32)  # the half_table argument of tables with float32 scales
_GATHER_INT8 = twins(_gather_int8)
_GATHER_INT4 = twins(_gather_int4)
_BAG_REDUCE_INT8 = twins(_bag_reduce_int8)
_BAG_REDUCE_INT4 = twins(_bag_reduce_int4)


def gather_int8(codes, scale_bias, ids, out, half_table=None):
    """``out[i] = scale[ids[i]] * codes[ids[i]] + bias[ids[i]]`` (float32 ``out``, ``(N, D)``).
    ``scale_bias`` is float32, or uint16 float16 bits decoded through ``half_table``."""
    table = _NO_HALVES if half_table is None else half_table
    pick(_GATHER_INT8, ids.shape[0] * out.shape[1])(codes, scale_bias, table, ids, out)


def gather_int4(codes, scale_bias, half_table, ids, out):
    """The int4 twin of :func:`gather_int8`: nibbles decoded, float16 scale and bias."""
    pick(_GATHER_INT4, ids.shape[0] * out.shape[1])(codes, scale_bias, half_table, ids, out)


def bag_reduce(
    scheme, codes, scale_bias, half_table, ids, offsets, include_last, per_sample_weights,
    use_weights, mode, padding_idx, out, bag_size, *, generic=False,
):  # fmt: skip
    """Pool each bag of an ``"int8"`` or ``"int4"`` table into the zero-filled ``out[b]``
    (``out.shape[0]`` bags, bounded by torch-style ``offsets``: see :func:`_bag_bounds`);
    ``bag_size[b]`` receives the number of non-padding ids (an empty or all-padding bag stays
    zero). ``scale_bias`` is float32, or uint16 float16 bits decoded through ``half_table``
    (int4, and FBGEMM's SBHalf int8 rows; :data:`_NO_HALVES` otherwise). Sums and means of a
    width in :data:`SPECIALISED_WIDTHS` run that width's own kernel unless ``generic``.

    ``out`` must be zero-filled for the generic kernels; the specialised ones write every valid
    bag (an empty one as zeros), so it may be uninitialised there.

    Returns the number of bags whose bounds or ids are invalid (0: ``out`` holds the result;
    otherwise ``out`` is unspecified and the caller raises :mod:`embtable.functional`'s error).
    Only the specialised kernels read each id once (a caller's ids may be passed as they are);
    the generic ones check a bag's ids before reading their rows, so they must get ids that
    nothing else can change (the frozen ids of a :class:`~embtable.functional.BagPlan`)."""
    work = ids.shape[0] * out.shape[1]
    special = None if generic or mode == 2 else bag_sum_kernel(scheme, out.shape[1], codes.shape[1])
    if special is not None:
        return pick(special, work)(
            codes, scale_bias, half_table, ids, offsets, include_last, per_sample_weights,
            use_weights, mode == 1, padding_idx, out, bag_size,
        )  # fmt: skip
    generic_kernel = _BAG_REDUCE_INT8 if scheme == "int8" else _BAG_REDUCE_INT4
    return pick(generic_kernel, work)(
        codes, scale_bias, half_table, ids, offsets, include_last, per_sample_weights,
        use_weights, mode, padding_idx, out, bag_size,
    )  # fmt: skip
