"""The torch-ops path on a CUDA device (skipped where there is none): the same results as the
kernel path on CPU."""

from __future__ import annotations

import pytest
import torch
from numpy.testing import assert_allclose

import embtable.torch as et

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

IDS = torch.tensor([1, 2, 4, 5, 4, 3, 2, 9, 0, 0])


def _both(make):
    """The same module on CPU (kernels) and on CUDA (torch ops), with equal weights."""
    torch.manual_seed(0)
    cpu = make()
    cuda = make().cuda()
    cuda.load_state_dict(cpu.state_dict())
    return cpu, cuda


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("padding_idx", [None, 0])
@pytest.mark.parametrize("scale_grad_by_freq", [False, True])
def test_embedding_on_cuda(sparse, padding_idx, scale_grad_by_freq):
    cpu, cuda = _both(
        lambda: et.Embedding(
            10, 3, padding_idx=padding_idx, sparse=sparse, scale_grad_by_freq=scale_grad_by_freq
        )
    )
    assert not et.functional.uses_kernels(cuda.weight)
    ids = IDS.reshape(2, 5)
    grad = torch.randn(2, 5, 3)
    out = cuda(ids.cuda())
    assert torch.equal(out.cpu(), cpu(ids))
    out.backward(grad.cuda())
    cpu(ids).backward(grad)
    assert cuda.weight.grad.is_sparse == sparse
    assert_allclose(
        cuda.weight.grad.to_dense().cpu(), cpu.weight.grad.to_dense(), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 0])
def test_bag_on_cuda(mode, padding_idx):
    scale = mode != "max"
    cpu, cuda = _both(
        lambda: et.EmbeddingBag(10, 3, mode=mode, padding_idx=padding_idx, scale_grad_by_freq=scale)
    )
    offsets = torch.tensor([0, 2, 2, 7])
    psw = torch.rand(len(IDS)) if mode != "max" else None
    out = cuda(IDS.cuda(), offsets.cuda(), None if psw is None else psw.cuda())
    expected = cpu(IDS, offsets, psw)
    assert_allclose(out.detach().cpu(), expected.detach(), rtol=1e-5, atol=1e-6)
    out.sum().backward()
    expected.sum().backward()
    assert_allclose(cuda.weight.grad.cpu(), cpu.weight.grad, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("rule", ["sgd", "adagrad", "rowwise_adagrad", "adam"])
def test_fused_optimizer_on_cuda(rule):
    cpu, cuda = _both(lambda: et.Embedding(10, 3, optimizer=et.RowOptimizer(rule, lr=0.1)))
    for _ in range(3):
        cpu(IDS).pow(2).sum().backward()
        cuda(IDS.cuda()).pow(2).sum().backward()
    assert cuda.weight.grad is None
    for name, value in cpu.state_dict().items():
        assert_allclose(cuda.state_dict()[name].cpu(), value, rtol=1e-5, atol=1e-6, err_msg=name)


def test_errors_and_max_norm_on_cuda():
    table = torch.full((10, 3), 5.0, device="cuda")
    with pytest.raises(IndexError, match="index 10 at position"):
        et.functional.embedding(torch.tensor([1, 10], device="cuda"), table, max_norm=1.0)
    assert torch.equal(table, torch.full((10, 3), 5.0, device="cuda"))
    with pytest.raises(RuntimeError, match="offsets must be non-decreasing"):
        et.functional.embedding_bag(IDS.cuda(), table, torch.tensor([0, 5, 3], device="cuda"))
    et.functional.embedding(torch.tensor([1], device="cuda"), table, max_norm=1.0)
    assert_allclose(table[1].norm().item(), 1.0, rtol=1e-5)
