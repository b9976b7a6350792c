"""embtable.optim against torch.optim (the reference), the NumPy kernel twins and hand formulas."""

from __future__ import annotations

import copy
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import embtable.optim as eo
from embtable._errors import EmbtableError, ShapeError, SparseGradientError, WeightDTypeError
from embtable.kernels import _reference_optim as ref
from embtable.parameter import Parameter
from embtable.sparse import RowSparseGrad

torch = pytest.importorskip("torch")
F = torch.nn.functional
# torch's own sparse Adagrad step warns once per process about its invariant checks
pytestmark = pytest.mark.filterwarnings(
    "ignore:Sparse invariant checks are implicitly disabled:UserWarning"
)

V, D = 11, 3  # rows 9 and 10 are never touched by IDS
TOL = {np.float32: {"rtol": 1e-5, "atol": 1e-6}, np.float64: {"rtol": 1e-12, "atol": 1e-13}}
DTYPES = [np.float32, np.float64]

# 5 steps of ids: duplicates, an explicitly zero row (id 6 at step 2), an empty gradient (step 3).
IDS = [
    np.array([1, 4, 4, 7]),
    np.array([[0, 4], [8, 8]]),
    np.array([4, 6, 2, 5]),
    np.array([], dtype=np.int64),
    np.array([7, 1, 3, 3, 3]),
]
ZERO_ID = (2, 4)  # (step, id): row 4 (touched before) gets an explicitly zero gradient row


# -- gradient sequences ----------------------------------------------------------------------------
def sparse_grads(dtype, seed=0):
    """[(torch sparse grad as autograd makes it, RowSparseGrad)] for the 5 steps."""
    rng = np.random.default_rng(seed)
    out = []
    for step, ids in enumerate(IDS):
        grad_output = rng.standard_normal((*ids.shape, D)).astype(dtype)
        if step == ZERO_ID[0]:
            grad_output[ids == ZERO_ID[1]] = 0
        w = torch.zeros(V, D, dtype=torch.from_numpy(np.zeros(0, dtype)).dtype, requires_grad=True)
        F.embedding(torch.from_numpy(ids), w, sparse=True).backward(torch.from_numpy(grad_output))
        g = w.grad.coalesce()
        ours = RowSparseGrad(g.indices()[0].numpy().copy(), g.values().numpy().copy(), V)
        out.append((w.grad, ours))
    assert ZERO_ID[1] in out[ZERO_ID[0]][1].rows
    assert not out[ZERO_ID[0]][1].values[list(out[ZERO_ID[0]][1].rows).index(ZERO_ID[1])].any()
    return out


def dense_grads(dtype, seed=1):
    rng = np.random.default_rng(seed)
    grads = [rng.standard_normal((V, D)).astype(dtype) for _ in range(5)]
    grads[2][3] = 0
    return [(torch.from_numpy(g.copy()), g) for g in grads]


def initial_weight(dtype, seed=2):
    return np.random.default_rng(seed).standard_normal((V, D)).astype(dtype)


def state_as_dense(value):
    if isinstance(value, RowSparseGrad):
        return value.to_dense()
    if torch.is_tensor(value):
        return value.to_dense().numpy() if value.is_sparse else value.numpy()
    return np.asarray(value)


def run_both(name, kwargs, grads, dtype):
    """Drive torch and embtable with the same gradients; compare weights and state every step."""
    w0 = initial_weight(dtype)
    tp = torch.nn.Parameter(torch.from_numpy(w0.copy()))
    topt = getattr(torch.optim, name)([tp], **kwargs)
    p = Parameter(w0.copy())
    opt = getattr(eo, name)([p], **kwargs)
    for step, (tgrad, grad) in enumerate(grads):
        tp.grad = tgrad.clone()
        topt.step()
        p.grad = grad.copy()
        opt.step()
        np.testing.assert_allclose(
            p.data, tp.detach().numpy(), **TOL[dtype], err_msg=f"weight at step {step}"
        )
        tstate, state = topt.state[tp], opt.state[p]
        assert set(state) == set(tstate), (set(state), set(tstate))
        for key, tvalue in tstate.items():
            np.testing.assert_allclose(
                state_as_dense(state[key]),
                state_as_dense(tvalue),
                **TOL[dtype],
                err_msg=f"state {key!r} at step {step}",
            )
    assert p.data.dtype == dtype
    return p, opt


SGD_OPTIONS = [
    {"lr": 0.1},
    {"lr": 0.1, "momentum": 0.9},
    {"lr": 0.1, "momentum": 0.9, "dampening": 0.3},
    {"lr": 0.1, "momentum": 0.9, "nesterov": True},
    {"lr": 0.1, "momentum": 0.5, "maximize": True},
    {"lr": 0.1, "maximize": True},
]
SGD_DECAY_OPTIONS = [
    {"lr": 0.1, "weight_decay": 0.2},
    {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.2},
    {"lr": 0.1, "momentum": 0.8, "dampening": 0.1, "weight_decay": 0.2, "maximize": True},
]
ADAGRAD_OPTIONS = [
    {"lr": 0.1},
    {"lr": 0.1, "lr_decay": 0.1},
    {"lr": 0.1, "initial_accumulator_value": 0.5},
    {"lr": 0.1, "eps": 1e-3},
    {"lr": 0.1, "lr_decay": 0.05, "maximize": True},
]
ADAGRAD_DECAY_OPTIONS = [
    {"lr": 0.1, "weight_decay": 0.2},
    {"lr": 0.1, "weight_decay": 0.2, "lr_decay": 0.1, "maximize": True},
]
ADAM_OPTIONS = [
    {"lr": 0.1},
    {"lr": 0.1, "amsgrad": True},
    {"lr": 0.1, "weight_decay": 0.2},
    {"lr": 0.1, "maximize": True},
    {"lr": 0.1, "betas": (0.3, 0.5), "eps": 1e-3},  # lerp weight >= 0.5: torch's other branch
    {"lr": 0.1, "weight_decay": 0.2, "amsgrad": True, "maximize": True},
]
SPARSE_ADAM_OPTIONS = [
    {"lr": 0.1},
    {"lr": 0.1, "maximize": True},
    {"lr": 0.1, "betas": (0.5, 0.9), "eps": 1e-3},
]


# -- torch parity: dense gradients ---------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("SGD", o) for o in SGD_OPTIONS + SGD_DECAY_OPTIONS]
    + [("Adagrad", o) for o in ADAGRAD_OPTIONS + ADAGRAD_DECAY_OPTIONS]
    + [("Adam", o) for o in ADAM_OPTIONS]
    + [("AdamW", o) for o in [{"lr": 0.1}, *ADAM_OPTIONS]],
)
def test_dense_trajectory_matches_torch(name, kwargs, dtype):
    run_both(name, kwargs, dense_grads(dtype), dtype)


# -- torch parity: row-sparse gradients ----------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("SGD", o) for o in SGD_OPTIONS]
    + [("Adagrad", o) for o in ADAGRAD_OPTIONS]
    + [("SparseAdam", o) for o in SPARSE_ADAM_OPTIONS],
)
def test_sparse_trajectory_matches_torch(name, kwargs, dtype):
    w0 = initial_weight(dtype)
    p, _opt = run_both(name, kwargs, sparse_grads(dtype), dtype)
    touched = np.unique(np.concatenate([ids.ravel() for ids in IDS]))
    untouched = np.setdiff1d(np.arange(V), touched)
    assert len(untouched) > 0
    np.testing.assert_array_equal(p.data[untouched], w0[untouched])


def test_sparse_adam_counts_empty_steps_and_moves_zero_rows():
    p = Parameter(np.zeros((3, 1)))
    opt = eo.SparseAdam([p], lr=0.1)
    p.grad = RowSparseGrad([0, 1], [[1.0], [1.0]], 3)
    opt.step()
    p.grad = RowSparseGrad([], np.zeros((0, 1)), 3)
    before = p.data.copy()
    opt.step()
    np.testing.assert_array_equal(p.data, before)  # no rows: nothing moves ...
    assert opt.state[p]["step"] == 2  # ... but the step counts
    p.grad = RowSparseGrad([0], [[0.0]], 3)
    opt.step()
    assert p.data[0, 0] < before[0, 0]  # an explicit zero row still moves, on its momentum
    assert p.data[1, 0] == before[1, 0]
    np.testing.assert_allclose(opt.state[p]["exp_avg"][:, 0], [0.1 * 0.9, 0.1, 0])


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "Adam", "AdamW", "SparseAdam"])
def test_embedding_layer_end_to_end(name):
    layers = pytest.importorskip("embtable.layers")
    emb = layers.Embedding(6, 2, sparse=True, rng=0)
    w0 = emb.weight.data.copy()
    tw = torch.nn.Parameter(torch.from_numpy(emb.weight.data.copy()))
    opt = getattr(eo, name)(emb.parameters(), lr=0.1)
    topt = getattr(torch.optim, name)([tw], lr=0.1)
    for ids in (np.array([1, 1, 4]), np.array([0, 4])):
        grad_output = np.ones((len(ids), 2), dtype=np.float32)
        opt.zero_grad()
        emb.backward(ids, grad_output)
        opt.step()
        topt.zero_grad()
        sparse = name in ("SGD", "Adagrad", "SparseAdam")
        F.embedding(torch.from_numpy(ids), tw, sparse=sparse).backward(
            torch.from_numpy(grad_output)
        )
        topt.step()
    if name in ("SGD", "Adagrad", "SparseAdam"):
        np.testing.assert_allclose(emb.weight.data, tw.detach().numpy(), rtol=1e-5, atol=1e-6)
    else:  # lazy Adam(W) differs from torch's dense Adam(W) by design: touched rows move
        assert not np.array_equal(emb.weight.data[[0, 1, 4]], w0[[0, 1, 4]])
    np.testing.assert_array_equal(emb.weight.data[[2, 3, 5]], w0[[2, 3, 5]])


# -- where torch refuses: the lazy row-wise rules --------------------------------------------------
def lazy_expected(name, kwargs, w0, grads):
    """Hand formulas in float64, row by row, with textbook (not torch's) operation order."""
    w = w0.astype(np.float64).copy()
    lr = kwargs["lr"]
    wd = kwargs.get("weight_decay", 1e-2 if name == "AdamW" else 0.0)
    sign = -1.0 if kwargs.get("maximize") else 1.0
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    vmax = np.zeros_like(w)
    acc = np.full_like(w, kwargs.get("initial_accumulator_value", 0.0))
    buf = {}
    for t, grad in enumerate(grads, start=1):
        if name == "SGD":
            mom = kwargs.get("momentum", 0.0)
            damp = kwargs.get("dampening", 0.0)
            pairs = zip(grad.rows, grad.values, strict=True)
            eff = {int(r): sign * g + wd * w[r] for r, g in pairs}
            rows = sorted(set(buf) | set(eff)) if mom else sorted(eff)
            for r in rows:
                g = eff.get(r, np.zeros(w.shape[1]))
                if mom:
                    buf[r] = g.copy() if t == 1 else mom * buf.get(r, 0.0) + (1 - damp) * g
                    step = g + mom * buf[r] if kwargs.get("nesterov") else buf[r]
                else:
                    step = g
                w[r] = w[r] - lr * step
        elif name == "Adagrad":
            clr = lr / (1 + (t - 1) * kwargs.get("lr_decay", 0.0))
            for r, g in zip(grad.rows, grad.values, strict=True):
                g = sign * g + wd * w[r]
                acc[r] += g * g
                w[r] = w[r] - clr * g / (np.sqrt(acc[r]) + kwargs.get("eps", 1e-10))
        else:
            b1, b2 = kwargs.get("betas", (0.9, 0.999))
            eps = kwargs.get("eps", 1e-8)
            for r, g in zip(grad.rows, grad.values, strict=True):
                g = sign * g
                if name == "AdamW":
                    w[r] = w[r] * (1 - lr * wd)
                else:
                    g = g + wd * w[r]
                m[r] = b1 * m[r] + (1 - b1) * g
                v[r] = b2 * v[r] + (1 - b2) * g * g
                vmax[r] = np.maximum(vmax[r], v[r])
                second = vmax[r] if kwargs.get("amsgrad") else v[r]
                m_hat = m[r] / (1 - b1**t)
                w[r] = w[r] - lr * m_hat / (np.sqrt(second / (1 - b2**t)) + eps)
    return w


def reference_run(name, kwargs, w0, grads):
    """The same steps through the NumPy twins of the kernels."""
    dtype = w0.dtype
    t = dtype.type
    w = w0.copy()
    lr = kwargs["lr"]
    wd = kwargs.get("weight_decay", 1e-2 if name == "AdamW" else 0.0)
    maximize = kwargs.get("maximize", False)
    state = {
        "exp_avg": np.zeros_like(w),
        "exp_avg_sq": np.zeros_like(w),
        "max": np.zeros_like(w),
        "sum": np.full_like(w, kwargs.get("initial_accumulator_value", 0.0)),
    }
    for step, grad in enumerate(grads, start=1):
        rows, values = grad.rows, grad.values
        if name == "SGD":
            assert kwargs.get("momentum", 0) == 0
            ref.sgd_rows_(
                w,
                rows,
                np.arange(len(rows)),
                values,
                np.empty((0, w.shape[1]), dtype),
                t(lr),
                t(0),
                t(1),
                t(wd),
                False,
                maximize,
                False,
            )
        elif name == "Adagrad":
            clr = lr / (1 + (step - 1) * kwargs.get("lr_decay", 0.0))
            ref.adagrad_rows_(
                w, rows, values, state["sum"], t(clr), t(kwargs.get("eps", 1e-10)), t(wd), maximize
            )
        else:
            b1, b2 = kwargs.get("betas", (0.9, 0.999))
            ref.adam_rows_(
                w,
                rows,
                values,
                state["exp_avg"],
                state["exp_avg_sq"],
                state["max"],
                t(1 - b1),
                t(b2),
                t(1 - b2),
                t(kwargs.get("eps", 1e-8)),
                t(wd),
                t(1 - lr * wd),
                t(lr / (1 - b1**step)),
                t((1 - b2**step) ** 0.5),
                name == "AdamW",
                kwargs.get("amsgrad", False),
                maximize,
                False,
            )
    return w


LAZY_CASES = (
    [("SGD", o) for o in SGD_DECAY_OPTIONS]
    + [("Adagrad", o) for o in ADAGRAD_DECAY_OPTIONS]
    + [("Adam", o) for o in ADAM_OPTIONS]
    + [("AdamW", o) for o in [{"lr": 0.1}, *ADAM_OPTIONS]]
)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "kwargs"), LAZY_CASES)
def test_lazy_rule_where_torch_refuses(name, kwargs, dtype):
    grads = sparse_grads(dtype)
    # torch refuses these (the reason embtable has a rule of its own)
    tp = torch.nn.Parameter(torch.from_numpy(initial_weight(dtype)))
    tp.grad = grads[0][0].clone()
    with pytest.raises(RuntimeError, match="sparse"):
        getattr(torch.optim, name)([tp], **kwargs).step()

    w0 = initial_weight(dtype)
    p = Parameter(w0.copy())
    opt = getattr(eo, name)([p], **kwargs)
    for _, grad in grads:
        p.grad = grad
        opt.step()
    ours = [g for _, g in grads]
    expected = lazy_expected(name, kwargs, w0, ours)
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-12}
    np.testing.assert_allclose(p.data, expected, **tol)
    if kwargs.get("momentum", 0) == 0:
        np.testing.assert_allclose(p.data, reference_run(name, kwargs, w0, ours), **TOL[dtype])
    touched = np.unique(np.concatenate([g.rows for g in ours]))
    untouched = np.setdiff1d(np.arange(V), touched)
    np.testing.assert_array_equal(p.data[untouched], w0[untouched])
    for key, value in opt.state[p].items():
        if isinstance(value, np.ndarray) and key != "sum":
            np.testing.assert_array_equal(value[untouched], 0)
    if name in ("Adam", "AdamW"):
        assert opt.state[p]["step"] == 5


def test_lazy_adamw_decays_only_touched_rows():
    w0 = np.ones((3, 1))
    p = Parameter(w0.copy())
    opt = eo.AdamW([p], lr=0.1, weight_decay=0.5)
    p.grad = RowSparseGrad(np.array([1]), np.zeros((1, 1)), 3)
    opt.step()
    # zero gradient: m = v = 0, so the row moves only by the decay 1 - 0.1 * 0.5
    np.testing.assert_array_equal(p.data, [[1.0], [0.95], [1.0]])


# -- kernels against their NumPy twins -----------------------------------------------------------
def _kernel_inputs(dtype, seed):
    rng = np.random.default_rng(seed)
    weight = rng.standard_normal((12, 4)).astype(dtype)
    rows = np.array([0, 3, 4, 9, 11])
    values = rng.standard_normal((5, 4)).astype(dtype)
    values[2] = 0
    return rng, weight, rows, values


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("flags", [(False, False, False), (True, True, False), (True, False, True)])
def test_sgd_kernel_matches_reference(dtype, momentum, flags):
    kernels = pytest.importorskip("embtable.kernels.optim")
    nesterov, maximize, init_buffer = flags
    nesterov = nesterov and momentum > 0
    rng, weight, rows, values = _kernel_inputs(dtype, 0)
    grad_pos = np.arange(len(rows)) if init_buffer else np.array([0, -1, 1, 2, -1])
    buf = rng.standard_normal((len(rows), 4)).astype(dtype) if momentum else np.empty((0, 4), dtype)
    t = np.dtype(dtype).type
    args = (t(0.1), t(momentum), t(0.8), t(0.05), nesterov, maximize, init_buffer)
    w1, b1 = weight.copy(), buf.copy()
    kernels.sgd_rows_(w1, rows, grad_pos, values, b1, *args)
    w2, b2 = weight.copy(), buf.copy()
    ref.sgd_rows_(w2, rows, grad_pos, values, b2, *args)
    np.testing.assert_allclose(w1, w2, **TOL[dtype])
    np.testing.assert_allclose(b1, b2, **TOL[dtype])
    untouched = np.setdiff1d(np.arange(12), rows)
    np.testing.assert_array_equal(w1[untouched], weight[untouched])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
@pytest.mark.parametrize("maximize", [False, True])
def test_adagrad_kernel_matches_reference(dtype, weight_decay, maximize):
    kernels = pytest.importorskip("embtable.kernels.optim")
    rng, weight, rows, values = _kernel_inputs(dtype, 1)
    state = rng.random((12, 4)).astype(dtype)
    t = np.dtype(dtype).type
    args = (t(0.1), t(1e-10), t(weight_decay), maximize)
    w1, s1 = weight.copy(), state.copy()
    kernels.adagrad_rows_(w1, rows, values, s1, *args)
    w2, s2 = weight.copy(), state.copy()
    ref.adagrad_rows_(w2, rows, values, s2, *args)
    np.testing.assert_allclose(w1, w2, **TOL[dtype])
    np.testing.assert_allclose(s1, s2, **TOL[dtype])
    untouched = np.setdiff1d(np.arange(12), rows)
    np.testing.assert_array_equal(s1[untouched], state[untouched])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "flags",  # decoupled, amsgrad, maximize, sparse_adam
    [
        (False, False, False, True),
        (False, False, True, True),
        (False, False, False, False),
        (False, True, True, False),
        (True, True, False, False),
        (True, False, True, False),
    ],
)
@pytest.mark.parametrize("beta1", [0.9, 0.3])
def test_adam_kernel_matches_reference(dtype, flags, beta1):
    kernels = pytest.importorskip("embtable.kernels.optim")
    rng, weight, rows, values = _kernel_inputs(dtype, 2)
    m = rng.standard_normal((12, 4)).astype(dtype)
    v = rng.random((12, 4)).astype(dtype)
    vmax = (v + rng.random((12, 4))).astype(dtype) if flags[1] else np.empty((0, 4), dtype)
    t = np.dtype(dtype).type
    args = (t(1 - beta1), t(0.99), t(1 - 0.99), t(1e-8), t(0.1), t(0.99), t(0.3), t(0.2), *flags)
    outs = []
    for fn in (kernels.adam_rows_, ref.adam_rows_):
        arrays = [a.copy() for a in (weight, m, v, vmax)]
        fn(arrays[0], rows, values, arrays[1], arrays[2], arrays[3], *args)
        outs.append(arrays)
    for a, b in zip(*outs, strict=True):
        np.testing.assert_allclose(a, b, **TOL[dtype])
    untouched = np.setdiff1d(np.arange(12), rows)
    np.testing.assert_array_equal(outs[0][0][untouched], weight[untouched])
    np.testing.assert_array_equal(outs[0][1][untouched], m[untouched])


def test_kernels_single_thread_equal_multi_thread():
    numba = pytest.importorskip("numba")
    results = []
    before = numba.get_num_threads()
    try:
        for threads in (min(2, numba.config.NUMBA_NUM_THREADS), 1):
            numba.set_num_threads(threads)
            out = []
            for name, kwargs in [
                ("SGD", {"lr": 0.1, "momentum": 0.9}),
                ("Adagrad", {"lr": 0.1}),
                ("SparseAdam", {"lr": 0.1}),
                ("AdamW", {"lr": 0.1}),
            ]:
                p = Parameter(initial_weight(np.float32))
                opt = getattr(eo, name)([p], **kwargs)
                for _, grad in sparse_grads(np.float32):
                    p.grad = grad
                    opt.step()
                out.append(p.data)
            results.append(out)
    finally:
        numba.set_num_threads(before)
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)


# -- properties -----------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(["SGD", "Adagrad"]),
    rows=st.sets(st.integers(0, 7), max_size=8),
    seed=st.integers(0, 2**16),
    maximize=st.booleans(),
)
def test_sparse_step_equals_dense_step(name, rows, seed, maximize):
    rng = np.random.default_rng(seed)
    rows = np.array(sorted(rows), dtype=np.int64)
    w0 = rng.standard_normal((8, 3))
    grad = RowSparseGrad(rows, rng.standard_normal((len(rows), 3)), 8)
    results = []
    for g in (grad, grad.to_dense()):
        p = Parameter(w0.copy())
        opt = getattr(eo, name)([p], lr=0.3, maximize=maximize)
        for _ in range(2):
            p.grad = g
            opt.step()
        results.append(p.data)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-13, atol=1e-15)
    untouched = np.setdiff1d(np.arange(8), rows)
    np.testing.assert_array_equal(results[0][untouched], w0[untouched])


# -- float16 -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["SGD", "Adagrad", "Adam", "SparseAdam"])
def test_float16_sparse_steps_follow_float32(name):
    grads = [g for _, g in sparse_grads(np.float32)]
    w0 = initial_weight(np.float16)
    results = []
    for dtype in (np.float16, np.float32):
        p = Parameter(w0.astype(dtype))
        kwargs = {"lr": 0.01, "momentum": 0.5} if name == "SGD" else {"lr": 0.01}
        opt = getattr(eo, name)([p], **kwargs)
        for g in grads:
            p.grad = RowSparseGrad(g.rows, g.values.astype(dtype), V)
            opt.step()
        assert p.dtype == dtype
        results.append(p.data.astype(np.float32))
    np.testing.assert_allclose(results[0], results[1], rtol=5e-3, atol=5e-3)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("SGD", {"lr": 0.1, "momentum": 0.9}),
        ("Adagrad", {"lr": 0.1}),
        ("Adam", {"lr": 0.1, "amsgrad": True}),
        ("AdamW", {"lr": 0.1}),
    ],
)
def test_float16_dense_steps_follow_torch(name, kwargs):
    # NumPy and torch both round float16 after every operation; they agree to about one ulp.
    grads = [
        (torch.from_numpy(g.astype(np.float16)), g.astype(np.float16))
        for _, g in dense_grads(np.float32)
    ]
    w0 = initial_weight(np.float16)
    tp = torch.nn.Parameter(torch.from_numpy(w0.copy()))
    topt = getattr(torch.optim, name)([tp], **kwargs)
    p = Parameter(w0.copy())
    opt = getattr(eo, name)([p], **kwargs)
    for tgrad, grad in grads:
        tp.grad, p.grad = tgrad.clone(), grad
        topt.step()
        opt.step()
    assert p.dtype == np.float16
    np.testing.assert_allclose(
        p.data.astype(np.float64), tp.detach().double().numpy(), rtol=0, atol=4e-3
    )


# -- param groups, state dicts, frozen parameters, zero_grad ---------------------------------------
def test_param_groups_match_torch():
    w0 = initial_weight(np.float64)
    w1 = initial_weight(np.float64, seed=5)
    tps = [torch.nn.Parameter(torch.from_numpy(w.copy())) for w in (w0, w1)]
    ps = [Parameter(w.copy()) for w in (w0, w1)]
    topt = torch.optim.SGD(
        [{"params": [tps[0]]}, {"params": [tps[1]], "lr": 0.5}], lr=0.1, momentum=0.9
    )
    opt = eo.SGD([{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.5}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[1]["momentum"] == 0.9
    for (tg, g), (tg1, g1) in zip(sparse_grads(np.float64), dense_grads(np.float64), strict=True):
        tps[0].grad, tps[1].grad = tg.clone(), tg1.clone()
        ps[0].grad, ps[1].grad = g, g1
        topt.step()
        opt.step()
    for p, tp in zip(ps, tps, strict=True):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), **TOL[np.float64])


def test_add_param_group_and_repr():
    a, b = Parameter(np.zeros((2, 2))), Parameter(np.zeros((2, 2)))
    opt = eo.Adagrad([a], lr=0.1)
    opt.add_param_group({"params": b, "lr_decay": 0.5})
    assert opt.param_groups[1]["params"] == [b]
    assert opt.param_groups[1]["lr"] == 0.1
    assert repr(opt).startswith("Adagrad (\nParameter Group 0\n    eps: 1e-10\n")
    assert "Parameter Group 1" in repr(opt)


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "Adam", "AdamW", "SparseAdam"])
def test_state_dict_round_trip(name):
    kwargs = {"lr": 0.1, "momentum": 0.9} if name == "SGD" else {"lr": 0.1}
    if name in ("Adam", "AdamW"):
        kwargs["amsgrad"] = True
    grads = [g for _, g in sparse_grads(np.float64)]
    w0 = initial_weight(np.float64)
    straight = Parameter(w0.copy())
    opt = getattr(eo, name)([straight], **kwargs)
    for g in grads:
        straight.grad = g
        opt.step()

    first = Parameter(w0.copy())
    opt1 = getattr(eo, name)([first], **kwargs)
    for g in grads[:2]:
        first.grad = g
        opt1.step()
    saved = copy.deepcopy(opt1.state_dict())
    assert saved["param_groups"][0]["params"] == [0]
    assert set(saved["state"]) == {0}
    second = Parameter(first.data.copy())
    opt2 = getattr(eo, name)([second], lr=123.0)
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == 0.1
    assert opt2.param_groups[0]["params"] == [second]
    for g in grads[2:]:
        second.grad = g
        opt2.step()
    np.testing.assert_array_equal(second.data, straight.data)

    # same layout as torch's state_dict
    tp = torch.nn.Parameter(torch.from_numpy(w0.copy()))
    topt = getattr(torch.optim, name)([tp], **kwargs)
    tp.grad = (
        sparse_grads(np.float64)[0][0]
        if name in ("SGD", "Adagrad", "SparseAdam")
        else (torch.from_numpy(grads[0].to_dense()))
    )
    topt.step()
    tsaved = topt.state_dict()
    assert set(tsaved["state"][0]) == set(opt1.state_dict()["state"][0])
    assert set(saved["param_groups"][0]) <= set(tsaved["param_groups"][0])


def test_load_state_dict_errors():
    a, b = Parameter(np.zeros((2, 2))), Parameter(np.zeros((3, 2)))
    opt = eo.Adam([a, b])
    other = eo.Adam([a])
    with pytest.raises(
        ValueError,
        match=re.escape(
            "loaded state dict contains a parameter group that doesn't match the size of "
            "optimizer's group"
        ),
    ):
        opt.load_state_dict(other.state_dict())
    two_groups = eo.Adam([{"params": [a]}, {"params": [b]}])
    with pytest.raises(
        ValueError, match=re.escape("loaded state dict has a different number of parameter groups")
    ):
        opt.load_state_dict(two_groups.state_dict())
    a.grad = np.ones((2, 2))
    other.step()
    target = eo.Adam([b], lr=0.5)
    with pytest.raises(
        ShapeError,
        match=re.escape("state 'exp_avg' of parameter 0 has shape (2, 2), expected (3, 2)"),
    ):
        target.load_state_dict(other.state_dict())
    assert not target.state and target.param_groups[0]["lr"] == 0.5


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "Adam", "AdamW", "SparseAdam"])
def test_frozen_and_gradless_parameters_are_skipped(name):
    frozen = Parameter(np.ones((3, 2)), requires_grad=False)
    no_grad = Parameter(np.ones((3, 2)))
    live = Parameter(np.ones((3, 2)))
    opt = getattr(eo, name)([frozen, no_grad, live], lr=0.1)
    state_before = {k: dict(v) for k, v in opt.state.items()}
    sparse_grad = RowSparseGrad([0], np.ones((1, 2)), 3)
    frozen.grad = sparse_grad if name == "SparseAdam" else np.ones((3, 2))
    live.grad = RowSparseGrad([1], np.ones((1, 2)), 3)
    opt.step()
    np.testing.assert_array_equal(frozen.data, 1)
    np.testing.assert_array_equal(no_grad.data, 1)
    assert not np.array_equal(live.data, np.ones((3, 2)))
    for p in (frozen, no_grad):
        assert opt.state.get(p, {}).keys() == state_before.get(p, {}).keys()
        if "step" in opt.state.get(p, {}):
            assert opt.state[p]["step"] == 0


def test_zero_grad():
    dense, sparse, none = (Parameter(np.zeros((3, 2))) for _ in range(3))
    opt = eo.SGD([dense, sparse, none])
    dense_grad = np.ones((3, 2))
    sparse_grad = RowSparseGrad([0, 2], np.ones((2, 2)), 3)
    dense.grad, sparse.grad = dense_grad, sparse_grad
    opt.zero_grad(set_to_none=False)
    assert dense.grad is dense_grad and not dense_grad.any()
    assert sparse.grad is sparse_grad and sparse_grad.nnz == 0 and sparse_grad.shape == (3, 2)
    assert none.grad is None
    opt.step()  # an empty sparse gradient and a zero dense gradient change nothing
    np.testing.assert_array_equal(dense.data, 0)
    opt.zero_grad()
    assert dense.grad is None and sparse.grad is None


def test_mixed_dense_then_sparse_momentum():
    """A dense momentum buffer meeting a sparse grad (and back) stays torch's dense result."""
    w0 = initial_weight(np.float64)
    tp = torch.nn.Parameter(torch.from_numpy(w0.copy()))
    topt = torch.optim.SGD([tp], lr=0.1, momentum=0.9)
    p = Parameter(w0.copy())
    opt = eo.SGD([p], lr=0.1, momentum=0.9)
    (td, gd), (ts, gs) = dense_grads(np.float64)[0], sparse_grads(np.float64)[0]
    for tg, g in [(td, gd), (ts, gs), (td, gd)]:
        tp.grad, p.grad = tg.clone(), g
        topt.step()
        opt.step()
    np.testing.assert_allclose(p.data, tp.detach().numpy(), **TOL[np.float64])
    # sparse buffer, then a dense gradient: torch raises, embtable densifies the buffer
    p2 = Parameter(w0.copy())
    opt2 = eo.SGD([p2], lr=0.1, momentum=0.9)
    p3 = Parameter(w0.copy())
    opt3 = eo.SGD([p3], lr=0.1, momentum=0.9)
    for g in (gs, gd):
        p2.grad, p3.grad = g, (g.to_dense() if isinstance(g, RowSparseGrad) else g)
        opt2.step()
        opt3.step()
    assert isinstance(opt2.state[p2]["momentum_buffer"], np.ndarray)
    np.testing.assert_allclose(p2.data, p3.data, rtol=1e-13)


# -- errors ---------------------------------------------------------------------------------------
HYPER_ERRORS = [
    ("SGD", {"lr": -1.0}, "Invalid learning rate: -1.0"),
    ("SGD", {"momentum": -0.5}, "Invalid momentum value: -0.5"),
    ("SGD", {"weight_decay": -0.1}, "Invalid weight_decay value: -0.1"),
    ("SGD", {"nesterov": True}, "Nesterov momentum requires a momentum and zero dampening"),
    (
        "SGD",
        {"nesterov": True, "momentum": 0.9, "dampening": 0.1},
        "Nesterov momentum requires a momentum and zero dampening",
    ),
    ("Adagrad", {"lr": -1.0}, "Invalid learning rate: -1.0"),
    ("Adagrad", {"lr_decay": -1.0}, "Invalid lr_decay value: -1.0"),
    ("Adagrad", {"weight_decay": -1.0}, "Invalid weight_decay value: -1.0"),
    (
        "Adagrad",
        {"initial_accumulator_value": -1.0},
        "Invalid initial_accumulator_value value: -1.0",
    ),
    ("Adagrad", {"eps": -1.0}, "Invalid epsilon value: -1.0"),
    ("Adam", {"lr": -1.0}, "Invalid learning rate: -1.0"),
    ("Adam", {"eps": -1.0}, "Invalid epsilon value: -1.0"),
    ("Adam", {"betas": (1.0, 0.999)}, "Invalid beta parameter at index 0: 1.0"),
    ("Adam", {"betas": (0.9, -0.1)}, "Invalid beta parameter at index 1: -0.1"),
    ("Adam", {"weight_decay": -1.0}, "Invalid weight_decay value: -1.0"),
    ("AdamW", {"weight_decay": -1.0}, "Invalid weight_decay value: -1.0"),
    ("AdamW", {"betas": (0.9, 1.5)}, "Invalid beta parameter at index 1: 1.5"),
    ("SparseAdam", {"lr": 0.0}, "Invalid learning rate: 0.0"),
    ("SparseAdam", {"eps": 0.0}, "Invalid epsilon value: 0.0"),
    ("SparseAdam", {"betas": (-0.1, 0.9)}, "Invalid beta parameter at index 0: -0.1"),
]


@pytest.mark.parametrize(("name", "kwargs", "message"), HYPER_ERRORS)
def test_hyper_parameter_errors_match_torch(name, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)) as torch_error:
        getattr(torch.optim, name)([torch.nn.Parameter(torch.zeros(2))], **kwargs)
    p = Parameter(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        getattr(eo, name)([p], **kwargs)
    assert str(error.value).startswith(str(torch_error.value))
    # a param-group override is checked too (torch does not)
    with pytest.raises(ValueError, match=re.escape(message)):
        getattr(eo, name)([{"params": [p], **kwargs}])


def test_integer_parameters_are_rejected():
    p = Parameter(np.zeros((2, 2), dtype=np.int64))
    p.grad = np.ones((2, 2), dtype=np.int64)
    with pytest.raises(
        WeightDTypeError,
        match=re.escape(
            "parameter 0: cannot train a int64 parameter; optimizers update float16, float32 or "
            "float64 arrays"
        ),
    ):
        eo.SGD([p], lr=1.0).step()
    np.testing.assert_array_equal(p.data, 0)


def test_dense_gradient_is_cast_to_the_parameter_dtype():
    p = Parameter(np.ones((2, 2), dtype=np.float32))
    opt = eo.Adam([p], lr=0.1)
    p.grad = np.ones((2, 2), dtype=np.float64)
    opt.step()
    assert p.dtype == np.float32 and opt.state[p]["exp_avg"].dtype == np.float32
    np.testing.assert_allclose(p.data, 0.9, rtol=1e-6)


def test_nan_learning_rate_is_rejected():
    with pytest.raises(ValueError, match=re.escape("Invalid learning rate: nan")):
        eo.SGD([Parameter(np.zeros((1, 1)))], lr=float("nan"))


def test_sparse_adam_rejects_dense_gradients_before_any_update():
    a, b = Parameter(np.ones((3, 2))), Parameter(np.ones((3, 2)))
    opt = eo.SparseAdam([a, b], lr=0.1)
    a.grad = RowSparseGrad([1], np.ones((1, 2)), 3)
    b.grad = np.ones((3, 2))
    message = "SparseAdam does not support dense gradients, please consider Adam instead"
    tp = torch.nn.Parameter(torch.ones(3, 2))
    tp.grad = torch.ones(3, 2)
    with pytest.raises(RuntimeError, match=re.escape(message)):
        torch.optim.SparseAdam([tp]).step()
    with pytest.raises(SparseGradientError, match=re.escape(message)) as error:
        opt.step()
    assert isinstance(error.value, RuntimeError) and isinstance(error.value, EmbtableError)
    np.testing.assert_array_equal(a.data, 1)
    assert not opt.state


@pytest.mark.parametrize(
    ("grad", "message"),
    [
        (
            np.ones((2, 2)),
            "parameter 1: gradient of shape (2, 2) does not match the parameter's shape (3, 2)",
        ),
        (
            RowSparseGrad([0], np.ones((1, 2)), 4),
            "parameter 1: a row-sparse gradient of shape (4, 2) does not match the parameter's "
            "shape (3, 2)",
        ),
        ([1.0, 2.0], "parameter 1: gradient of shape list does not match"),
    ],
)
def test_gradient_shape_errors_change_nothing(grad, message):
    a, b = Parameter(np.ones((3, 2))), Parameter(np.ones((3, 2)))
    opt = eo.Adam([a, b], lr=0.1)
    a.grad, b.grad = np.ones((3, 2)), grad
    with pytest.raises(ShapeError, match=re.escape(message)):
        opt.step()
    np.testing.assert_array_equal(a.data, 1)
    assert not opt.state


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ([], ValueError, "optimizer got an empty parameter list"),
        (
            Parameter(np.zeros((2, 2))),
            TypeError,
            "params argument given to the optimizer should be an iterable of Parameters or dicts, "
            "but got Parameter",
        ),
        (
            np.zeros((2, 2)),
            TypeError,
            "should be an iterable of Parameters or dicts, but got ndarray",
        ),
        (
            [np.zeros((2, 2))],
            TypeError,
            "optimizer can only optimize Parameters, but one of the params is numpy.ndarray",
        ),
        (
            [{"params": {1}}],
            TypeError,
            "optimizer parameters need to be organized in ordered collections",
        ),
    ],
)
def test_constructor_errors(params, error, message):
    with pytest.raises(error, match=re.escape(message)):
        eo.SGD(params)


def test_group_errors():
    a, b = Parameter(np.zeros((2, 2))), Parameter(np.zeros((2, 2)))
    with pytest.raises(
        ValueError,
        match=re.escape("optimizer contains a parameter group with duplicate parameters"),
    ):
        eo.SGD([a, a])
    opt = eo.SGD([a])
    with pytest.raises(
        ValueError, match=re.escape("some parameters appear in more than one parameter group")
    ):
        opt.add_param_group({"params": [b, a]})
    with pytest.raises(TypeError, match=re.escape("param_group must be a dict, but got list")):
        opt.add_param_group([b])
    with pytest.raises(ValueError, match=re.escape("unknown option(s) ['momentun']")):
        opt.add_param_group({"params": [b], "momentun": 0.9})
    assert len(opt.param_groups) == 1


def test_import_does_not_load_numba():
    code = "import sys, embtable.optim; assert 'numba' not in sys.modules, 'numba imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
