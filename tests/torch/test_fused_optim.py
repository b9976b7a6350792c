"""Sparse gradients with torch's optimizers, and update-in-backward (``RowOptimizer``) against
torch's own optimizer trajectories (spec section 9), on both paths."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

import embtable.torch as et
from embtable._errors import OptionError
from embtable.torch._rowwise import rowwise_adagrad_rows_, rowwise_adagrad_rows_reference


@pytest.fixture(autouse=True)
def _parallel_whatever_the_load(monkeypatch):
    """The parallel twins run here even on a loaded machine (see kernels/_parallel.py)."""
    monkeypatch.setattr("embtable.kernels._parallel.ADAPT_TO_LOAD", False)


BATCHES = [
    torch.tensor([[1, 2, 2], [0, 7, 1]]),
    torch.tensor([[3, 3, 3], [1, 9, 0]]),
    torch.tensor([[5, 2, 8], [8, 8, 1]]),
]


def _loss(out):
    return (out * torch.linspace(-1, 1, out.numel()).reshape(out.shape)).sum() + out.pow(2).sum()


def _train(module, optimizer=None, steps=3, bag=False):
    for step in range(steps):
        ids = BATCHES[step % len(BATCHES)]
        if optimizer is not None:
            optimizer.zero_grad()
        _loss(module(ids)).backward()
        if optimizer is not None:
            optimizer.step()
    return module.weight.detach().clone()


OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.1),
    "sgd_momentum": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
    "adagrad": lambda p: torch.optim.Adagrad(p, lr=0.1),
    "sparse_adam": lambda p: torch.optim.SparseAdam(p, lr=0.1),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("padding_idx", [None, 0])
@pytest.mark.parametrize("bag", [False, True])
def test_torch_optimizers_accept_sparse_grads_and_match(path, name, padding_idx, bag):
    kwargs = {"padding_idx": padding_idx, "sparse": True}
    if bag:
        kwargs["mode"] = "sum"
    torch.manual_seed(0)
    ours = (et.EmbeddingBag if bag else et.Embedding)(10, 3, **kwargs)
    theirs = (torch.nn.EmbeddingBag if bag else torch.nn.Embedding)(10, 3, **kwargs)
    theirs.load_state_dict(ours.state_dict())
    got = _train(ours, OPTIMIZERS[name](ours.parameters()))
    expected = _train(theirs, OPTIMIZERS[name](theirs.parameters()))
    assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


DENSE_OPTIMIZERS = {
    "sgd": OPTIMIZERS["sgd"],
    "adagrad": OPTIMIZERS["adagrad"],
    "adam": lambda p: torch.optim.Adam(p, lr=0.1),  # SparseAdam refuses dense gradients
}


@pytest.mark.parametrize("name", list(DENSE_OPTIMIZERS))
def test_dense_optimizer_trajectories(path, name):
    torch.manual_seed(0)
    ours = et.Embedding(10, 3, padding_idx=1)
    theirs = torch.nn.Embedding(10, 3, padding_idx=1)
    theirs.load_state_dict(ours.state_dict())
    got = _train(ours, DENSE_OPTIMIZERS[name](ours.parameters()))
    expected = _train(theirs, DENSE_OPTIMIZERS[name](theirs.parameters()))
    assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Update-in-backward

FUSED = {
    "sgd": (lambda: et.RowOptimizer("sgd", lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    "adagrad": (
        lambda: et.RowOptimizer("adagrad", lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1),
        lambda p: torch.optim.Adagrad(p, lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1),
    ),
    "adam": (
        lambda: et.RowOptimizer("adam", lr=0.1, betas=(0.8, 0.99)),
        lambda p: torch.optim.SparseAdam(p, lr=0.1, betas=(0.8, 0.99)),
    ),
}


@pytest.mark.parametrize("name", list(FUSED))
@pytest.mark.parametrize("module", ["embedding", "bag_sum", "bag_mean"])
@pytest.mark.parametrize("padding_idx", [None, 0])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fused_matches_torch_optimizer(path, name, module, padding_idx, dtype):
    make_fused, make_torch = FUSED[name]
    torch.manual_seed(0)
    if module == "embedding":
        ours = et.Embedding(10, 3, padding_idx=padding_idx, dtype=dtype, optimizer=make_fused())
        theirs = torch.nn.Embedding(10, 3, padding_idx=padding_idx, dtype=dtype, sparse=True)
    else:
        mode = module.removeprefix("bag_")
        ours = et.EmbeddingBag(
            10, 3, mode=mode, padding_idx=padding_idx, dtype=dtype, optimizer=make_fused()
        )
        theirs = torch.nn.EmbeddingBag(
            10, 3, mode=mode, padding_idx=padding_idx, dtype=dtype, sparse=True
        )
    theirs.load_state_dict(ours.state_dict(), strict=False)
    got = _train(ours, steps=4)
    expected = _train(theirs, make_torch(theirs.parameters()), steps=4)
    assert ours.weight.grad is None
    assert int(ours.optimizer.step) == 4
    assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_fused_scale_grad_by_freq_and_float16(path):
    torch.manual_seed(0)
    ours = et.Embedding(10, 3, scale_grad_by_freq=True, optimizer=et.RowOptimizer("sgd", lr=1.0))
    before = ours.weight.detach().clone()
    ours(torch.tensor([1, 1, 2])).sum().backward()
    assert_allclose(
        before - ours.weight.detach(), np.isin(np.arange(10), [1, 2])[:, None] * np.ones(3)
    )
    half = et.Embedding(10, 3, dtype=torch.float16, optimizer=et.RowOptimizer("adagrad", lr=0.1))
    half(torch.tensor([1, 2])).float().sum().backward()
    assert half.optimizer.sum.dtype == torch.float32 and half.optimizer.sum[1].sum() > 0


def test_rowwise_adagrad_rule(path):
    torch.manual_seed(0)
    emb = et.Embedding(10, 4, optimizer=et.RowOptimizer("rowwise_adagrad", lr=0.5, eps=1e-8))
    weight = emb.weight.detach().clone().double().numpy()
    accumulator = np.zeros(10)
    for ids in BATCHES:
        ids = ids.reshape(-1)
        grad = np.zeros((10, 4))
        np.add.at(grad, ids.numpy(), 1.0)
        rows = np.unique(ids.numpy())
        rowwise_adagrad_rows_reference(weight, rows, grad[rows], accumulator, 0.5, 1e-8)
        emb(ids).sum().backward()
    assert emb.optimizer.sum.shape == (10,)
    assert_allclose(emb.optimizer.sum.numpy(), accumulator, rtol=1e-6)
    assert_allclose(emb.weight.detach().numpy(), weight, rtol=1e-5, atol=1e-6)


def test_rowwise_kernel_matches_its_twin(rng):
    weight = rng.standard_normal((20, 5)).astype(np.float32)
    accumulator = rng.random(20).astype(np.float32)
    rows = np.array([0, 3, 7, 19])
    grad = rng.standard_normal((4, 5)).astype(np.float32)
    expected_w, expected_a = weight.copy(), accumulator.copy()
    rowwise_adagrad_rows_(weight, rows, grad, accumulator, 0.1, 1e-10)
    rowwise_adagrad_rows_reference(expected_w, rows, grad, expected_a, 0.1, 1e-10)
    assert_allclose(weight, expected_w, rtol=1e-6)
    assert_allclose(accumulator, expected_a, rtol=1e-6)


def test_fused_state_dict_deepcopy_pickle_and_frozen():
    emb = et.Embedding(10, 3, optimizer=et.RowOptimizer("adam", lr=0.1))
    assert sorted(emb.state_dict()) == [
        "optimizer.exp_avg",
        "optimizer.exp_avg_sq",
        "optimizer.step",
        "weight",
    ]
    emb(torch.tensor([1, 2])).sum().backward()
    for clone in (copy.deepcopy(emb), pickle.loads(pickle.dumps(emb))):
        assert torch.equal(clone.optimizer.exp_avg, emb.optimizer.exp_avg)
        clone(torch.tensor([1])).sum().backward()
        assert int(clone.optimizer.step) == 2 and int(emb.optimizer.step) == 1
    restored = et.Embedding(10, 3, optimizer=et.RowOptimizer("adam", lr=0.1))
    restored.load_state_dict(emb.state_dict())
    assert torch.equal(restored.optimizer.exp_avg_sq, emb.optimizer.exp_avg_sq)
    plain = torch.nn.Embedding(10, 3)
    plain.load_state_dict(emb.state_dict(), strict=False)
    assert torch.equal(plain.weight, emb.weight)
    emb.weight.requires_grad_(False)
    before = emb.weight.clone()
    assert not emb(torch.tensor([1])).requires_grad
    assert torch.equal(emb.weight, before)


def test_fused_update_bumps_version():
    emb = et.Embedding(10, 3, optimizer=et.RowOptimizer("sgd", lr=0.1))
    saved = (emb.weight**2).sum()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        (emb(torch.tensor([1])).sum() + saved).backward()


def test_fused_api_errors():
    with pytest.raises(OptionError, match="unknown optimizer rule"):
        et.RowOptimizer("rmsprop", lr=0.1)
    with pytest.raises(ValueError, match="max mode does not support a fused optimizer"):
        et.EmbeddingBag(10, 3, mode="max", optimizer=et.RowOptimizer("sgd", lr=0.1))
    shared = et.RowOptimizer("sgd", lr=0.1)
    et.Embedding(10, 3, optimizer=shared)
    with pytest.raises(OptionError, match="already belongs to a table"):
        et.Embedding(10, 3, optimizer=shared)
    assert (
        repr(et.RowOptimizer("adam", lr=0.1))
        == "RowOptimizer('adam', lr=0.1, eps=1e-08, betas=(0.9, 0.999))"
    )


def test_fused_step_skips_a_frozen_bag_weight_when_only_psw_needs_grad():
    bag = et.EmbeddingBag(6, 2, mode="sum", optimizer=et.RowOptimizer("sgd", lr=1.0))
    bag.weight.requires_grad_(False)
    before = bag.weight.detach().clone()
    psw = torch.ones(3, requires_grad=True)
    bag(torch.tensor([1, 2, 2]), torch.tensor([0]), psw).sum().backward()
    assert torch.equal(bag.weight.detach(), before)
    assert int(bag.optimizer.step) == 0 and psw.grad is not None


def test_half_keeps_float32_optimizer_state():
    torch.manual_seed(0)
    layer = et.Embedding(4, 2, optimizer=et.RowOptimizer("adagrad", lr=0.01)).half()
    assert layer.optimizer.sum.dtype == torch.float32
    (layer(torch.tensor([1])).float() * 1e-4).sum().backward()
    assert torch.isfinite(layer.weight).all()


def test_fused_backward_from_threads_on_the_workqueue_layer(tmp_path):
    # numba's workqueue layer aborts the process on concurrent launches; off the main thread
    # every kernel, row-wise Adagrad included, must run serially.
    import os
    import subprocess
    import sys

    script = tmp_path / "threads.py"
    script.write_text(
        "import threading, torch, embtable.torch as et\n"
        "mods = [et.Embedding(1000, 64, optimizer=et.RowOptimizer(rule, lr=0.1))\n"
        "        for rule in ('rowwise_adagrad', 'adagrad', 'adam', 'sgd')]\n"
        "ids = torch.randint(0, 1000, (4096,))\n"
        "def work(m):\n"
        "    for _ in range(10): m(ids).sum().backward()\n"
        "threads = [threading.Thread(target=work, args=(m,)) for m in mods]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "print('ok')\n"
    )
    env = dict(os.environ, NUMBA_THREADING_LAYER="workqueue")
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"
