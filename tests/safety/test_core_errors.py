"""One error promise in the core (issue 10): every error is an ``EmbtableError`` subclass, bad
input never reaches numba (no ``TypingError``), a failed optimizer step changes nothing, and a
bounded fuzz of the functional entry points raises nothing else.
"""

from __future__ import annotations

import ast
import inspect
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

import embtable
from embtable import _errors, optim
from embtable import functional as F
from embtable._errors import (
    EmbtableError,
    FrozenWeightError,
    ModeError,
    OptionError,
    OptionTypeError,
    WeightDTypeError,
)
from embtable.layers import EmbeddingBag
from embtable.parameter import Parameter
from embtable.sparse import RowSparseGrad

SRC = Path(embtable.__file__).parent
CORE_FILES = [
    *sorted(
        str(path.relative_to(Path(embtable.__file__).parent))
        for path in (Path(embtable.__file__).parent / "functional").glob("*.py")
    ),
    "layers.py",
    *sorted(
        str(path.relative_to(Path(embtable.__file__).parent))
        for path in (Path(embtable.__file__).parent / "optim").glob("*.py")
    ),
    "sparse.py",
    "parameter.py",
    "kernels/__init__.py",
    "kernels/_cache.py",
    "kernels/_parallel.py",
    "kernels/_atomic.py",
    "kernels/_simd.py",
    "kernels/bag.py",
    "kernels/bounds.py",
    "kernels/gather.py",
    "kernels/optim.py",
    "kernels/renorm.py",
    "kernels/rows.py",
    "kernels/scatter.py",
]
PLAIN = {"ValueError", "TypeError", "KeyError", "RuntimeError", "IndexError", "AssertionError"}


def test_every_error_class_is_an_embtable_error():
    classes = [
        value
        for value in vars(_errors).values()
        if inspect.isclass(value) and issubclass(value, BaseException)
    ]
    assert len(classes) >= 18
    for cls in classes:
        assert issubclass(cls, EmbtableError), cls
    assert set(_errors.__all__) == {cls.__name__ for cls in classes}


@pytest.mark.parametrize("name", CORE_FILES)
def test_core_files_raise_no_plain_builtin_errors(name):
    tree = ast.parse((SRC / name).read_text(), filename=name)
    plain = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(target, ast.Name) and target.id in PLAIN:
                plain.append(f"{name}:{node.lineno} raise {target.id}")
    assert not plain


# -- the same condition, the same error ----------------------------------------------------------


def test_max_mode_with_sparse_is_a_mode_error_everywhere(rng):
    weight = rng.standard_normal((4, 2))
    calls = [
        lambda: F.check_mode("max", sparse=True, scale_grad_by_freq=False),
        lambda: F.plan_bags([0, 1], 4, [0], mode="max", sparse=True),
        lambda: F.embedding_bag([0, 1], weight, [0], mode="max", sparse=True),
        lambda: F.embedding_bag_backward(
            [0, 1], np.ones((1, 2)), weight, [0], mode="max", sparse=True
        ),
        lambda: EmbeddingBag(4, 2, mode="max", sparse=True),
    ]
    plan = F.plan_bags([0, 1], 4, [0], mode="max")
    out, state = F.bag_forward(weight, plan)
    calls.append(lambda: F.bag_backward(plan, np.ones_like(out), state, sparse=True))
    for call in calls:
        with pytest.raises(ModeError, match="max mode does not support sparse weights"):
            call()


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda w: F.embedding([1], w, max_norm=-1),
            OptionError,
            "max_norm must be >= 0, got -1.0",
        ),
        (lambda w: F.embedding([1], w, max_norm="a"), OptionTypeError, "max_norm must be a real"),
        (lambda w: F.embedding([1], w, padding_idx="a"), OptionTypeError, "padding_idx must be"),
        (
            lambda w: F.embedding_backward([1], np.ones((1, 2)), "4"),
            OptionTypeError,
            "num_embeddings must be an integer >= 0, got str '4'",
        ),
        (lambda w: F.embedding_backward([], np.ones((0, 2)), -1), EmbtableError, "got -1"),
        (lambda w: optim.SGD([Parameter(w)], lr=-1), OptionError, "Invalid learning rate: -1"),
        (lambda w: optim.SGD([Parameter(w)], lr="fast"), OptionTypeError, "lr must be a real"),
        (lambda w: optim.Adam([Parameter(w)], betas=(0.9, None)), OptionTypeError, "betas[1]"),
        (lambda w: optim.SGD([], lr=0.1), OptionError, "empty parameter list"),
        (lambda w: optim.SGD(Parameter(w), lr=0.1), OptionTypeError, "should be an iterable"),
        (
            lambda w: RowSparseGrad([0.5], np.ones((1, 2)), 4),
            EmbtableError,
            "rows must be integers",
        ),
        (lambda w: RowSparseGrad([0], np.ones((1, 2)), -4), EmbtableError, "num_rows must be >= 0"),
        (lambda w: RowSparseGrad([1, 1], np.ones((2, 2)), 4), EmbtableError, "sorted and unique"),
        (lambda w: RowSparseGrad([9], np.ones((1, 2)), 4), EmbtableError, "row 9 at position 0"),
    ],
)
def test_bad_options_raise_embtable_errors_naming_the_value(call, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace("[", r"\[")) as info:
        call(np.ones((4, 2)))
    assert isinstance(info.value, EmbtableError)


# -- numba never sees what it cannot type -------------------------------------------------------

BIG = np.dtype(">f8")
LONG = np.dtype(np.longdouble)
needs_longdouble = pytest.mark.skipif(
    LONG.itemsize <= 8, reason="long double is float64 on this platform"
)


@needs_longdouble
def test_float128_tables_look_up_and_refuse_the_rest(rng):
    weight = rng.standard_normal((5, 3)).astype(LONG)
    assert_array_equal(F.embedding([[4, 0]], weight), weight[[[4, 0]]])
    p = Parameter(weight)
    p.grad = RowSparseGrad([1], np.ones((1, 3)), 5)
    for call in (
        lambda: F.embedding_bag([1, 2], weight, [0]),
        lambda: F.embedding_renorm_(weight, [1], 1.0),
        lambda: F.embedding([1], weight, max_norm=1.0),
        lambda: F.embedding_backward([1], np.ones((1, 3), LONG), 5),
        lambda: optim.SGD([p], lr=0.1).step(),
    ):
        with pytest.raises(WeightDTypeError, match="float16, float32 or float64"):
            call()


def test_foreign_byte_order_gradients_are_converted(rng):
    ids = np.array([0, 2, 2, 1])
    grad = rng.standard_normal((4, 3))
    native = F.embedding_backward(ids, grad, 4)
    assert_array_equal(F.embedding_backward(ids, grad.astype(BIG), 4), native)
    swapped = F.embedding_backward(ids, grad.astype(BIG), 4, sparse=True)
    assert_array_equal(swapped.to_dense(), native)
    assert swapped.values.dtype == np.float64
    weight = rng.standard_normal((4, 3))
    for mode in ("sum", "mean", "max"):
        bag_grad = rng.standard_normal((2, 3))
        native = F.embedding_bag_backward(ids, bag_grad, weight, [0, 2], mode=mode)[0]
        swapped = F.embedding_bag_backward(ids, bag_grad.astype(BIG), weight, [0, 2], mode=mode)[0]
        assert_array_equal(swapped, native)
    psw = rng.standard_normal(4)
    out = F.embedding_bag(ids, weight, [0, 2], mode="sum", per_sample_weights=psw.astype(BIG))
    assert_array_equal(
        out, F.embedding_bag(ids, weight, [0, 2], mode="sum", per_sample_weights=psw)
    )


def test_foreign_byte_order_weights_are_refused_where_a_kernel_computes(rng):
    weight = rng.standard_normal((4, 3)).astype(BIG)
    assert_array_equal(F.embedding([3, 1], weight), weight[[3, 1]])  # a lookup moves bits
    with pytest.raises(WeightDTypeError, match="native byte order"):
        F.embedding_bag([0, 1], weight, [0])
    with pytest.raises(WeightDTypeError, match="native byte order"):
        F.embedding_bag_backward(
            [0, 1], np.ones((1, 3)), weight, [0], mode="sum", per_sample_weights=np.ones(2)
        )
    p = Parameter(weight)
    p.grad = RowSparseGrad([1], np.ones((1, 3)), 4)
    with pytest.raises(WeightDTypeError, match="foreign byte order"):
        optim.Adagrad([p], lr=0.1).step()


def test_read_only_weights(rng):
    weight = rng.standard_normal((4, 3))
    weight.setflags(write=False)
    assert F.embedding_bag([0, 1], weight, [0], mode="max").shape == (1, 3)  # reading is fine
    with pytest.raises(OptionError, match="the weight is read-only") as info:
        F.embedding([1], weight, max_norm=0.1)
    assert isinstance(info.value, ValueError)
    for name in ("SGD", "Adagrad", "Adam", "AdamW", "SparseAdam"):
        p = Parameter(weight)
        p.grad = RowSparseGrad([1], np.ones((1, 3)), 4)
        with pytest.raises(FrozenWeightError, match="read-only"):
            getattr(optim, name)([p], lr=0.1).step()
        if name != "SparseAdam":
            p.grad = np.ones((4, 3))
            with pytest.raises(FrozenWeightError, match="read-only"):
                getattr(optim, name)([p], lr=0.1).step()


# -- a failed step changes no parameter and no state ---------------------------------------------


def _snapshot(opt: optim.Optimizer) -> list:
    out = []
    for group in opt.param_groups:
        for p in group["params"]:
            state = {
                k: (v.to_dense() if isinstance(v, RowSparseGrad) else np.copy(v))
                for k, v in opt.state.get(p, {}).items()
            }
            out.append((p.data.copy(), state))
    return out


def _assert_same(before: list, after: list) -> None:
    assert len(before) == len(after)
    for (data0, state0), (data1, state1) in zip(before, after, strict=True):
        assert_array_equal(data0, data1)
        assert state0.keys() == state1.keys()
        for key in state0:
            assert_array_equal(state0[key], state1[key])


def _bad_second(kind: str, p: Parameter, group: dict) -> None:
    if kind == "float128":
        p.data = p.data.astype(np.longdouble)
    elif kind == "big-endian":
        p.data = p.data.astype(BIG)
    elif kind == "read-only":
        p.data.setflags(write=False)
    elif kind == "complex-grad":
        p.grad = np.ones(p.shape, dtype=complex)
    elif kind == "lr-string":
        group["lr"] = "0.1"
    elif kind == "resized":
        p.data = np.ones((7, 3))
        p.grad = np.ones((7, 3))


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "Adam", "AdamW"])
@pytest.mark.parametrize(
    "kind", ["float128", "big-endian", "read-only", "complex-grad", "lr-string", "resized"]
)
@pytest.mark.parametrize("sparse", [False, True])
def test_a_failed_step_changes_nothing(name, kind, sparse):
    if kind == "float128" and LONG.itemsize <= 8:
        pytest.skip("long double is float64 on this platform")
    first, second = Parameter(np.ones((4, 3))), Parameter(np.full((4, 3), 2.0))
    opt = getattr(optim, name)(
        [{"params": [first]}, {"params": [second]}],
        lr=0.1,
        **({"momentum": 0.9} if name == "SGD" else {}),
    )

    def grads() -> None:
        for p in (first, second):
            p.grad = RowSparseGrad([1, 3], np.ones((2, 3)), 4) if sparse else np.ones((4, 3))

    grads()
    opt.step()  # some state exists
    grads()
    _bad_second(kind, second, opt.param_groups[1])  # resized: its state no longer fits
    before = _snapshot(opt)
    with pytest.raises(EmbtableError):
        opt.step()
    _assert_same(before, _snapshot(opt))


# -- bounded fuzz: the functional entry points raise only EmbtableError --------------------------

# Mostly valid values, so that most calls reach the kernels; a few of every kind of bad one.
ID_DTYPES = [np.int64] * 12 + [np.int32] * 4 + [np.int8, np.uint8, np.uint64, np.float32, np.bool_]
ID_VALUES = [0, 1, 2, 3, 4] * 8 + [-1, 5, 2**31, 2**40, 2**63 - 1]
WEIGHT_DTYPES = (
    [np.float32] * 8
    + [np.float64] * 6
    + [np.float16] * 4
    + [
        np.int64,
        np.complex64,
        BIG,
        np.longdouble,
    ]
)


@st.composite
def ids_arrays(draw):
    shape = draw(st.sampled_from([(6,)] * 6 + [(3,), (2, 3)] * 4 + [(0,), (1, 0), (2, 1, 2), ()]))
    dtype = np.dtype(draw(st.sampled_from(ID_DTYPES)))
    count = math.prod(shape)
    values = draw(st.lists(st.sampled_from(ID_VALUES), min_size=count, max_size=count))
    with np.errstate(all="ignore"):
        array = np.array(values, dtype=np.int64)
        array = array.astype(dtype) if dtype.kind != "b" else array > 0
    array = array.reshape(shape)
    if array.ndim and draw(st.booleans()):
        array = array[::-1]  # a view with negative strides
    return array.tolist() if draw(st.integers(0, 5)) == 0 else array


@st.composite
def weights(draw):
    dim = draw(st.sampled_from([3, 3, 3, 1, 0]))
    shape = draw(st.sampled_from([(5, dim)] * 16 + [(0, dim), (5,), (5, dim, 1)]))
    dtype = np.dtype(draw(st.sampled_from(WEIGHT_DTYPES)))
    weight = np.arange(math.prod(shape), dtype=np.float64).reshape(shape).astype(dtype)
    layout = draw(st.sampled_from(["C", "C", "F", "slice"]))
    if layout == "F":
        weight = np.asfortranarray(weight)
    elif layout == "slice" and weight.ndim == 2:
        weight = np.repeat(weight, 2, axis=1)[:, ::2]  # not contiguous
    if draw(st.integers(0, 4)) == 0:
        weight.setflags(write=False)
    return weight


options = st.fixed_dictionaries(
    {
        "padding_idx": st.sampled_from([None] * 8 + [0, -1, 4, 5, -6, 2**40, "a", 1.5]),
        "max_norm": st.sampled_from([None] * 8 + [1.0, 1.0, -1.0, math.nan, "x", 0]),
        "mode": st.sampled_from(["sum", "mean", "max"] * 5 + ["median", None, ["sum"]]),
        "sparse": st.booleans(),
        "scale_grad_by_freq": st.booleans(),
        "include_last_offset": st.booleans(),
    }
)


@st.composite
def offsets_for(draw, ids, include_last_offset):
    """Valid bag starts for 1-D ids most of the time; sometimes a malformed one."""
    if draw(st.integers(0, 5)) == 0:
        return draw(
            st.sampled_from([[0, 3, 1], [1], [0, 99], [], [-1, 0], [[0]], np.array([0.0]), None])
        )
    n = len(ids) if np.ndim(ids) == 1 else 0
    cuts = sorted(draw(st.lists(st.integers(0, n), min_size=0, max_size=3)))
    return [0, *cuts, n] if include_last_offset else [0, *cuts]


def _call(name, ids, weight, offsets, psw, opts, grad_dim):
    if name == "embedding":
        return F.embedding(
            ids, weight, opts["padding_idx"], opts["max_norm"], 2.0, opts["scale_grad_by_freq"]
        )
    if name == "embedding_backward":
        shape = (*np.shape(ids), grad_dim)
        return F.embedding_backward(
            ids,
            np.ones(shape),
            np.shape(weight)[0] if np.ndim(weight) else 3,
            opts["padding_idx"],
            opts["scale_grad_by_freq"],
            opts["sparse"],
        )
    if name == "embedding_renorm_":
        return F.embedding_renorm_(weight, ids, opts["max_norm"] if opts["max_norm"] else 1.0)
    kwargs = {
        "mode": opts["mode"],
        "per_sample_weights": psw,
        "include_last_offset": opts["include_last_offset"],
        "padding_idx": opts["padding_idx"],
        "sparse": opts["sparse"],
        "scale_grad_by_freq": opts["scale_grad_by_freq"],
    }
    if name == "embedding_bag":
        return F.embedding_bag(ids, weight, offsets, opts["max_norm"], **kwargs)
    if name == "embedding_bag_backward":
        num_bags = np.shape(ids)[0] if np.ndim(ids) == 2 else np.size(offsets)
        num_bags -= bool(opts["include_last_offset"] and np.ndim(ids) == 1)
        num_bags = max(num_bags, 0)  # include_last_offset with empty offsets: no bag
        return F.embedding_bag_backward(
            ids, np.ones((num_bags, grad_dim)), weight, offsets, **kwargs
        )
    # plan, then forward and backward
    plan = F.plan_bags(ids, np.shape(weight)[0] if np.ndim(weight) else 3, offsets, **kwargs)
    out, state = F.bag_forward(weight, plan)
    return F.bag_backward(plan, np.ones_like(out), state, weight=weight, sparse=opts["sparse"])


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    name=st.sampled_from(
        [
            "embedding",
            "embedding_backward",
            "embedding_renorm_",
            "embedding_bag",
            "embedding_bag_backward",
            "plan",
        ]
    ),
    ids=ids_arrays(),
    weight=weights(),
    data=st.data(),
    psw=st.sampled_from([None, None, "match", "match", np.ones(1), np.ones(3, dtype=np.int32)]),
    opts=options,
    grad_dim=st.sampled_from([None] * 6 + [0, 2]),
)
def test_functional_entry_points_raise_only_embtable_errors(
    name, ids, weight, data, psw, opts, grad_dim
):
    offsets = (
        data.draw(offsets_for(ids, opts["include_last_offset"])) if np.ndim(ids) == 1 else None
    )
    if grad_dim is None:  # mostly the right width
        grad_dim = np.shape(weight)[-1] if np.ndim(weight) else 3
    if isinstance(psw, str):
        psw = np.ones(np.shape(ids), dtype=np.float32)
    try:
        _call(name, ids, weight, offsets, psw, opts, grad_dim)
    except EmbtableError:
        pass


def test_a_loaded_state_that_lacks_entries_fails_before_any_update():
    first, second = Parameter(np.ones((4, 3))), Parameter(np.ones((4, 3)))
    opt = optim.Adam([first, second], lr=0.1)
    groups = [{**opt.defaults, "params": [0, 1]}]
    opt.load_state_dict({"state": {1: {"exp_avg": np.zeros((4, 3))}}, "param_groups": groups})
    first.grad = second.grad = np.ones((4, 3))
    with pytest.raises(OptionError, match=r"parameter 1: its optimizer state \['exp_avg'\] lacks"):
        opt.step()
    assert_array_equal(first.data, 1.0)
    assert not opt.state.get(first)
    for malformed in ({}, {"state": {}, "param_groups": [{}]}, {"state": [], "param_groups": []}):
        with pytest.raises(OptionTypeError, match="as state_dict"):
            opt.load_state_dict(malformed)
