"""A bag's pooled row held in vector registers: LLVM IR written for one embedding width.

numba compiles ``acc[d] += row[d]`` over a local array as a load, an add and a store per vector
for every id, because it cannot tell LLVM that the accumulator and the table never alias. FBGEMM's
generated code (which torch's CPU ``EmbeddingBag`` calls) keeps the bag being pooled in registers
and only loads each row once. :func:`pool_bag` does the same from numba: it is an ``@intrinsic``
whose code generator writes the id loop itself, with the accumulator an LLVM vector value
(``<W x float>``) that lives in registers for the whole bag, the row loaded as one vector (a
float16 row converted in registers: ``vcvtph2ps`` on x86), the row
:data:`~._prefetch.PREFETCH_DISTANCE` ids ahead prefetched, and the result stored once.

Wide rows are pooled in column blocks of at most :data:`BLOCK_BYTES` of accumulator (a pass over
the bag's ids per block), so the accumulator never spills out of the register file. Within a
block each feature is summed in id order, exactly as the plain loop does, so the results are
bitwise those of the generic kernel (no reassociation, no fused multiply-add).

Callers must pass a table whose rows are contiguous (``weight.strides[1] == weight.itemsize``)
and an ``out`` with contiguous rows; :func:`contiguous_rows` says whether an array qualifies.

Example:
    >>> import numpy as np
    >>> from numba import njit
    >>> @njit
    ... def first_bag(weight, ids, out):
    ...     return pool_bag(4, False, False, weight, ids, 0, ids.shape[0], -1, ids, out, 0)
    >>> out = np.zeros((1, 4), np.float32)
    >>> first_bag(np.arange(12, dtype=np.float32).reshape(3, 4), np.array([0, 2]), out)
    2
    >>> out
    array([[ 8., 10., 12., 14.]], dtype=float32)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.errors import NumbaTypeError
from numba.extending import intrinsic

from ._prefetch import PREFETCH_DISTANCE

__all__ = ["BLOCK_BYTES", "contiguous_rows", "pool_bag"]

BLOCK_BYTES = 512
"""The most accumulator bytes pooled in one pass (16 AVX2 or 8 AVX-512 registers' worth)."""

_LINE = 64
_I64 = ir.IntType(64)
_I32 = ir.IntType(32)
_I8P = ir.IntType(8).as_pointer()


def contiguous_rows(array: np.ndarray[Any, Any]) -> bool:
    """Whether ``array`` is 2-D with contiguous rows (any row stride), as :func:`pool_bag` needs.

    Example:
        >>> a = np.zeros((4, 6), np.float32)
        >>> contiguous_rows(a), contiguous_rows(a[::2]), contiguous_rows(a[:, ::2])
        (True, True, False)
    """
    return array.ndim == 2 and (array.shape[1] <= 1 or array.strides[1] == array.itemsize)


def _element(context: Any, dtype: types.Type) -> ir.Type:
    return context.get_value_type(dtype)


def _pointer(builder: ir.IRBuilder, base: ir.Value, offset: ir.Value, pointee: ir.Type) -> ir.Value:
    address = builder.add(builder.ptrtoint(base, _I64), offset)
    return builder.inttoptr(address, pointee.as_pointer())


_BITS = {ir.HalfType: 16, ir.FloatType: 32, ir.DoubleType: 64}


def _bits(kind: ir.Type) -> int:
    return _BITS[type(kind.element if isinstance(kind, ir.VectorType) else kind)]


def _convert(builder: ir.IRBuilder, value: ir.Value, source: ir.Type, target: ir.Type) -> ir.Value:
    """``value`` (a float or a float vector) converted from ``source`` to ``target``."""
    if _bits(source) == _bits(target):
        return value
    if _bits(source) < _bits(target):
        return builder.fpext(value, target)
    return builder.fptrunc(value, target)


def _literal(value: types.Type, kind: type, what: str) -> Any:
    if not isinstance(value, kind):
        raise NumbaTypeError(f"pool_bag: {what} must be a compile-time constant, got {value}")
    return value.literal_value


@intrinsic(prefer_literal=True)
def pool_bag(
    typingctx,
    width,
    weighted,
    half,
    weight,
    ids,
    begin,
    end,
    padding_idx,
    per_sample_weights,
    out,
    bag,
):  # pragma: no cover - compiled
    """Pool one bag of a table of ``width`` columns (``width``, ``weighted`` and ``half`` are
    compile-time constants: closure variables of the calling kernel).

    ``pool_bag(width, weighted, half, weight, ids, begin, end, padding_idx, per_sample_weights,
    out, b)`` adds the rows ``weight[ids[i]]`` for ``i`` in ``begin .. end`` (times
    ``per_sample_weights[i]`` when ``weighted``), skipping ``padding_idx``, into ``out[b]``
    (overwritten, in ``out``'s dtype), and returns how many ids were not padding.
    ``per_sample_weights`` is ignored (any 1-D array) when not ``weighted``. ``half``: the table
    holds float16 bits in a ``uint16`` array (numba has no float16 arrays), widened to ``out``'s
    dtype as they are loaded.

    One global intrinsic with constant arguments, rather than one intrinsic object per width, so
    that numba's on-disk cache key (the kernel's bytecode and closure values) stays the same from
    one process to the next.
    """
    width = _literal(width, types.IntegerLiteral, "width")
    weighted = _literal(weighted, types.BooleanLiteral, "weighted")
    half = _literal(half, types.BooleanLiteral, "half")
    sig = types.int64(
        types.literal(width),
        types.literal(weighted),
        types.literal(half),
        weight,
        ids,
        begin,
        end,
        padding_idx,
        per_sample_weights,
        out,
        bag,
    )

    def codegen(context, builder, signature, args):
        w_ty, ids_ty, begin_ty, end_ty, pad_ty, psw_ty, out_ty, bag_ty = signature.args[3:]
        args = args[3:]
        table = context.make_array(w_ty)(context, builder, args[0])
        id_array = context.make_array(ids_ty)(context, builder, args[1])
        psw = context.make_array(psw_ty)(context, builder, args[5])
        target = context.make_array(out_ty)(context, builder, args[6])
        start = context.cast(builder, args[2], begin_ty, types.int64)
        stop = context.cast(builder, args[3], end_ty, types.int64)
        pad = context.cast(builder, args[4], pad_ty, types.int64)
        bag_index = context.cast(builder, args[7], bag_ty, types.int64)

        row_stride = builder.extract_value(table.strides, 0)
        id_stride = builder.extract_value(id_array.strides, 0)
        psw_stride = builder.extract_value(psw.strides, 0)
        out_row = builder.add(
            builder.ptrtoint(target.data, _I64),
            builder.mul(bag_index, builder.extract_value(target.strides, 0)),
        )
        num_ids = builder.extract_value(id_array.shape, 0)
        last_id = builder.sub(num_ids, _I64(1))
        elem = ir.HalfType() if half else _element(context, w_ty.dtype)
        acc_elem = _element(context, out_ty.dtype)
        psw_elem = _element(context, psw_ty.dtype)
        id_elem = _element(context, ids_ty.dtype)
        item = context.get_abi_sizeof(elem)
        acc_item = context.get_abi_sizeof(acc_elem)
        block = max(1, min(width, BLOCK_BYTES // acc_item))
        prefetch_type = ir.FunctionType(ir.VoidType(), [_I8P, _I32, _I32, _I32])
        prefetch = cgutils.get_or_insert_function(builder.module, prefetch_type, "llvm.prefetch.p0")
        count = cgutils.alloca_once_value(builder, _I64(0))

        def load_id(position):
            pointer = _pointer(builder, id_array.data, builder.mul(position, id_stride), id_elem)
            return context.cast(builder, builder.load(pointer), ids_ty.dtype, types.int64)

        for first in range(0, width, block):
            lanes = min(block, width - first)
            vector = ir.VectorType(elem, lanes)
            acc_vector = ir.VectorType(acc_elem, lanes)
            acc = cgutils.alloca_once_value(builder, ir.Constant(acc_vector, None))
            builder.store(_I64(0), count)
            column_bytes = first * item
            with cgutils.for_range_slice(builder, start, stop, _I64(1)) as (i, _):
                ahead = builder.add(i, _I64(PREFETCH_DISTANCE))
                ahead = builder.select(builder.icmp_signed("<", ahead, last_id), ahead, last_id)
                ahead_row = builder.add(
                    builder.ptrtoint(table.data, _I64),
                    builder.mul(load_id(ahead), row_stride),
                )
                for line in range(column_bytes, column_bytes + lanes * item, _LINE):
                    address = builder.inttoptr(builder.add(ahead_row, _I64(line)), _I8P)
                    builder.call(prefetch, [address, _I32(0), _I32(3), _I32(1)])
                row = load_id(i)
                with builder.if_then(builder.icmp_signed("!=", row, pad), likely=True):
                    offset = builder.add(builder.mul(row, row_stride), _I64(column_bytes))
                    source = builder.load(_pointer(builder, table.data, offset, vector), align=item)
                    value = _convert(builder, source, vector, acc_vector)
                    if weighted:
                        scale_pointer = _pointer(
                            builder, psw.data, builder.mul(i, psw_stride), psw_elem
                        )
                        scale = _convert(builder, builder.load(scale_pointer), psw_elem, acc_elem)
                        lanes_of_scale = builder.insert_element(
                            ir.Constant(acc_vector, ir.Undefined), scale, _I32(0)
                        )
                        broadcast = builder.shuffle_vector(
                            lanes_of_scale,
                            ir.Constant(acc_vector, ir.Undefined),
                            ir.Constant(ir.VectorType(_I32, lanes), [0] * lanes),
                        )
                        value = builder.fmul(broadcast, value)
                    builder.store(builder.fadd(builder.load(acc), value), acc)
                    builder.store(builder.add(builder.load(count), _I64(1)), count)
            destination = builder.inttoptr(
                builder.add(out_row, _I64(first * acc_item)), acc_vector.as_pointer()
            )
            builder.store(builder.load(acc), destination, align=acc_item)
        return builder.load(count)

    return sig, codegen
