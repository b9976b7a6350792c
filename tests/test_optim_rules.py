"""The table of row-update rules: each kernel equals its NumPy twin; RowwiseAdagrad's rule."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from embtable import optim
from embtable.optim._rules import RULES
from embtable.parameter import Parameter
from embtable.sparse import RowSparseGrad


def test_the_table_is_the_single_source():
    """Every rule is a RowOptimizer rule whose buffers are the table's state entries."""
    import typing

    import embtable.torch as et
    from embtable.torch import _optim

    assert set(typing.get_args(_optim.Rule)) == set(RULES)
    named = {name for r in RULES.values() for name in r.optimizers}
    assert named <= set(optim.__all__)
    torch = pytest.importorskip("torch")
    for name, entry in RULES.items():
        opt = et.RowOptimizer(name, lr=0.1, initial_accumulator_value=0.25).bind_(torch.zeros(5, 3))
        buffers = {key: value for key, value in opt.named_buffers() if key != "step"}
        assert {key: tuple(value.shape) for key, value in buffers.items()} == {
            spec.name: spec.shape((5, 3)) for spec in entry.state
        }
        for spec in entry.state:
            assert float(buffers[spec.name].flatten()[0]) == spec.initial(
                {"initial_accumulator_value": 0.25}
            )


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("adagrad", {"lr": -1.0}, "Invalid learning rate: -1.0 (expected lr >= 0.0)"),
        ("rowwise_adagrad", {"lr": 0.1, "lr_decay": -2}, "Invalid lr_decay value: -2"),
        ("adam", {"lr": 0.1, "betas": (0.9, 1.0)}, "Invalid beta parameter at index 1: 1.0"),
        ("adam", {"lr": 0.1, "eps": float("nan")}, "Invalid epsilon value: nan"),
        ("sgd", {"lr": 0.1, "betas": (2.0, 0.5)}, "Invalid beta parameter at index 0: 2.0"),
    ],
)
def test_row_optimizer_checks_are_the_tables(name, options, message):
    """RowOptimizer and embtable.optim raise the same errors for the same bad values."""
    import re

    import embtable.torch as et
    from embtable._errors import OptionError

    with pytest.raises(OptionError, match=re.escape(message)):
        et.RowOptimizer(name, **options)
    if name != "sgd":
        with pytest.raises(OptionError, match=re.escape(message)):
            RULES[name].check(options)


def test_row_optimizer_refuses_a_learning_rate_that_is_not_a_number():
    import embtable.torch as et
    from embtable._errors import OptionTypeError

    with pytest.raises(OptionTypeError, match=r"lr must be a real number, got str '0\.1'"):
        et.RowOptimizer("adam", lr="0.1")


@pytest.mark.parametrize("name", sorted(RULES))
def test_row_optimizer_follows_embtable_optim_step_by_step(name):
    """The fused optimizer and embtable.optim's class for the same rule give the same weights
    (lr_decay included: row-wise Adagrad applies it as Adagrad does)."""
    torch = pytest.importorskip("torch")
    import embtable.torch as et

    options = {
        "sgd": ({}, lambda p: optim.SGD([p], lr=0.3)),
        "adagrad": (
            {"lr_decay": 0.1, "initial_accumulator_value": 0.2},
            lambda p: optim.Adagrad([p], lr=0.3, lr_decay=0.1, initial_accumulator_value=0.2),
        ),
        "rowwise_adagrad": (
            {"lr_decay": 0.1, "initial_accumulator_value": 0.2},
            lambda p: optim.RowwiseAdagrad(
                [p], lr=0.3, lr_decay=0.1, initial_accumulator_value=0.2
            ),
        ),
        "adam": ({}, lambda p: optim.SparseAdam([p], lr=0.3)),
    }
    extra, make = options[name]
    rng = np.random.default_rng(5)
    start = rng.standard_normal((8, 3)).astype(np.float32)
    weight = torch.from_numpy(start.copy())
    fused = et.RowOptimizer(name, lr=0.3, **extra).bind_(weight)
    p = Parameter(start.copy())
    reference = make(p)
    for rows in ([1, 4], [0, 4, 7], [4]):
        values = rng.standard_normal((len(rows), 3)).astype(np.float32)
        fused.apply_rows_(weight, RowSparseGrad(np.array(rows), values.copy(), num_rows=8))
        p.grad = RowSparseGrad(np.array(rows), values.copy(), num_rows=8)
        reference.step()
    np.testing.assert_array_equal(weight.numpy(), p.data)


@pytest.mark.parametrize("name", sorted(RULES))
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_row_optimizer_on_half_tables_runs_the_tables_kernel_on_copied_rows(name, dtype):
    """A half table: its touched rows and their float32 state are stepped by the rule's kernel
    on float32 copies and written back (the other rows untouched, bit for bit)."""
    torch = pytest.importorskip("torch")
    import embtable.torch as et

    half = getattr(torch, dtype)
    rng = np.random.default_rng(6)
    start = torch.from_numpy(rng.standard_normal((8, 3)).astype(np.float32)).to(half)
    weight, single = start.clone(), start.float()
    opt_half = et.RowOptimizer(name, lr=0.3).bind_(weight)
    opt_single = et.RowOptimizer(name, lr=0.3).bind_(single)
    for rows in ([1, 4], [0, 4, 7]):
        values = torch.from_numpy(rng.standard_normal((len(rows), 3)).astype(np.float32))
        index = torch.tensor([rows])
        opt_half.apply_rows_(
            weight, torch.sparse_coo_tensor(index, values.to(half), (8, 3), check_invariants=True)
        )
        opt_single.apply_rows_(
            single,
            torch.sparse_coo_tensor(index, values.to(half).float(), (8, 3), check_invariants=True),
        )
        single.copy_(single.to(half).float())  # the half table rounds after each step
    assert torch.equal(weight[[2, 3, 5, 6]], start[[2, 3, 5, 6]])
    np.testing.assert_allclose(weight.float().numpy(), single.numpy(), rtol=1e-2, atol=1e-2)
    for key, buffer in opt_half.named_buffers():
        assert buffer.dtype == (torch.int64 if key == "step" else torch.float32), key


def _args(name, rng, weight, rows, values):
    n, dim = values.shape
    if name == "sgd":
        return (np.arange(n, dtype=np.int64), values, np.zeros((0, dim), weight.dtype))
    if name == "adam":
        return (values, rng.random(weight.shape), rng.random(weight.shape), np.zeros((0, dim)))
    spec = RULES[name].state[0]
    return (values, rng.random(spec.shape(weight.shape)))


@settings(max_examples=25, deadline=None)
@given(
    name=st.sampled_from(sorted(RULES)),
    seed=st.integers(0, 2**16),
    dim=st.integers(1, 9),
    step=st.integers(1, 5),
)
def test_each_kernel_equals_its_twin(name, seed, dim, step):
    rng = np.random.default_rng(seed)
    weight = rng.standard_normal((12, dim))
    rows = np.sort(rng.choice(12, size=5, replace=False)).astype(np.int64)
    values = rng.standard_normal((5, dim))
    rule = RULES[name]
    hyper = {"lr": 0.1, "eps": 1e-8, "betas": (0.9, 0.99), "weight_decay": 0.01, "step": step}
    scalars = [v if isinstance(v, bool) else np.float64(v) for v in rule.scalars(**hyper)]
    args = _args(name, rng, weight, rows, values)
    expected_w, expected_args = weight.copy(), [a.copy() for a in args]
    rule.kernel_function()(weight, rows, *args, *scalars)
    rule.kernel_function(reference=True)(expected_w, rows, *expected_args, *scalars)
    assert_allclose(weight, expected_w, rtol=1e-12, atol=1e-14)
    for got, want in zip(args, expected_args, strict=True):
        assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def _reference(weight, accumulator, steps, lr, eps):
    weight, accumulator = weight.astype(np.float64), accumulator.astype(np.float64)
    for rows, values in steps:
        accumulator[rows] += (values**2).mean(axis=1)
        weight[rows] -= (lr / (np.sqrt(accumulator[rows]) + eps))[:, None] * values
    return weight, accumulator


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rowwise_adagrad_matches_numpy(dtype):
    rng = np.random.default_rng(0)
    start = rng.standard_normal((20, 6)).astype(dtype)
    p = Parameter(start.copy())
    opt = optim.RowwiseAdagrad([p], lr=0.1, eps=1e-8)
    steps = []
    for _ in range(10):
        rows = np.unique(rng.integers(0, 20, 7)).astype(np.int64)
        values = rng.standard_normal((len(rows), 6)).astype(dtype)
        steps.append((rows, values.astype(np.float64)))
        p.grad = RowSparseGrad(rows, values, num_rows=20)
        opt.step()
    weight, accumulator = _reference(start, np.zeros(20), steps, 0.1, 1e-8)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert opt.state[p]["sum"].shape == (20,)
    assert_allclose(opt.state[p]["sum"], accumulator, rtol=tol)
    assert_allclose(p.data, weight, rtol=tol, atol=tol)


def test_rowwise_adagrad_state_factory():
    made = []

    def factory(name, shape, dtype):
        made.append((name, shape, dtype))
        return np.empty(shape, dtype)

    p = Parameter(np.zeros((4, 2)))
    opt = optim.RowwiseAdagrad([p], lr=0.1, initial_accumulator_value=0.5, state_factory=factory)
    p.grad = np.ones((4, 2))
    opt.step()
    assert made == [("sum", (4,), np.dtype(np.float64))]
    assert_allclose(opt.state[p]["sum"], 1.5)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_rowwise_adagrad_matches_fbgemm():
    torch = pytest.importorskip("torch")
    pytest.importorskip("fbgemm_gpu")
    from fbgemm_gpu.split_embedding_configs import EmbOptimType
    from fbgemm_gpu.split_table_batched_embeddings_ops_common import EmbeddingLocation
    from fbgemm_gpu.split_table_batched_embeddings_ops_training import (
        ComputeDevice,
        SplitTableBatchedEmbeddingBagsCodegen,
    )

    rng = np.random.default_rng(1)
    num, dim = 50, 8
    tbe = SplitTableBatchedEmbeddingBagsCodegen(
        [(num, dim, EmbeddingLocation.HOST, ComputeDevice.CPU)],
        optimizer=EmbOptimType.EXACT_ROWWISE_ADAGRAD,
        learning_rate=0.1,
        eps=1e-8,
    )
    start = rng.standard_normal((num, dim)).astype(np.float32)
    with torch.no_grad():
        tbe.split_embedding_weights()[0].copy_(torch.from_numpy(start))
    p = Parameter(start.copy())
    opt = optim.RowwiseAdagrad([p], lr=0.1, eps=1e-8)
    for _ in range(5):
        ids = rng.integers(0, num, 12)
        out = tbe(torch.from_numpy(ids), torch.tensor([0, 12]))
        grad_out = rng.standard_normal((1, dim)).astype(np.float32)
        out.backward(torch.from_numpy(grad_out))
        rows, counts = np.unique(ids, return_counts=True)
        p.grad = RowSparseGrad(rows.astype(np.int64), counts[:, None] * grad_out, num_rows=num)
        opt.step()
    theirs = tbe.split_embedding_weights()[0].detach().numpy()
    assert_allclose(p.data, theirs, rtol=1e-5, atol=1e-6)


STATE_FACTORY_CASES = [
    (
        lambda p, f: optim.Adagrad([p], lr=0.1, initial_accumulator_value=0.5, state_factory=f),
        ["sum"],
    ),
    (
        lambda p, f: optim.Adam([p], lr=0.1, amsgrad=True, state_factory=f),
        ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"],
    ),
    (lambda p, f: optim.AdamW([p], lr=0.1, state_factory=f), ["exp_avg", "exp_avg_sq"]),
    (lambda p, f: optim.SparseAdam([p], lr=0.1, state_factory=f), ["exp_avg", "exp_avg_sq"]),
]


@pytest.mark.parametrize(("make", "names"), STATE_FACTORY_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_state_factory_arrays_hold_the_same_state_as_memory(tmp_path, make, names, dtype):
    """Each state array comes from the factory (here files), once, and steps as in memory."""
    made = []

    def factory(name, shape, array_dtype):
        made.append((name, shape, np.dtype(array_dtype)))
        path = tmp_path / f"{name}.bin"
        return np.memmap(path, dtype=array_dtype, mode="w+", shape=shape)

    rng = np.random.default_rng(3)
    start = rng.standard_normal((6, 3)).astype(dtype)
    on_disk, in_memory = Parameter(start.copy()), Parameter(start.copy())
    opt_disk, opt_memory = make(on_disk, factory), make(in_memory, None)
    for rows in ([1, 4], [0, 4, 5], [4]):
        values = rng.standard_normal((len(rows), 3)).astype(dtype)
        for p, opt in ((on_disk, opt_disk), (in_memory, opt_memory)):
            p.grad = RowSparseGrad(np.array(rows), values.copy(), num_rows=6)
            opt.step()
    assert sorted(made) == sorted((name, (6, 3), np.dtype(dtype)) for name in names)
    np.testing.assert_array_equal(on_disk.data, in_memory.data)
    for name in names:
        state = opt_disk.state[on_disk][name]
        assert isinstance(state, np.memmap), name
        np.testing.assert_array_equal(state, opt_memory.state[in_memory][name], err_msg=name)
        state.flush()  # the file holds the state
        on_file = np.fromfile(tmp_path / f"{name}.bin", dtype=dtype).reshape(6, 3)
        np.testing.assert_array_equal(on_file, opt_memory.state[in_memory][name], err_msg=name)


def test_a_state_factory_that_returns_the_wrong_array_is_named():
    from embtable._errors import ShapeError

    p = Parameter(np.zeros((4, 2), np.float32))
    opt = optim.Adam([p], lr=0.1, state_factory=lambda name, shape, dtype: np.zeros(3, dtype))
    p.grad = RowSparseGrad(np.array([1]), np.ones((1, 2), np.float32), num_rows=4)
    with pytest.raises(ShapeError, match=r"state_factory\('exp_avg', \(4, 2\), float32\)"):
        opt.step()
