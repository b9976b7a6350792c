"""Drop-in without surprises (issue 12): batched gradients, tracing, monkeypatching, torch's
error phrases, short last bags, the legacy argument order, meta and neg-bit tensors, owning what
was validated, and importing without torch.

Behavioural tests run on both paths (the ``path`` fixture) where both apply.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings

import pytest
import torch
from numpy.testing import assert_allclose

import embtable.torch as et
from embtable.torch import _fallback

IDS = torch.tensor([[0, 1, 1], [2, 5, 0]])


def _table(rows=6, dim=3, dtype=torch.float64, requires_grad=True):
    torch.manual_seed(0)
    return torch.randn(rows, dim, dtype=dtype, requires_grad=requires_grad)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (a crash fails the test instead of the run)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
    )


# ---------------------------------------------------------------------------------------------
# 1. Batched gradients and functorch transforms


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("options", [{}, {"padding_idx": 0}, {"scale_grad_by_freq": True}])
def test_embedding_is_grads_batched_matches_per_row_grads(path, sparse, options):
    if sparse and path == "torch_ops":
        pytest.skip("torch's own sparse embedding backward has no batching rule")
    weight = _table()
    out = et.functional.embedding(IDS, weight, sparse=sparse, **options)
    grads = torch.randn(4, *out.shape, dtype=torch.float64)
    (batched,) = torch.autograd.grad(out, weight, grads, is_grads_batched=True, retain_graph=True)
    for i in range(4):
        (single,) = torch.autograd.grad(out, weight, grads[i], retain_graph=True)
        assert_allclose(batched[i].detach(), single.to_dense(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 0])
def test_bag_is_grads_batched_matches_per_row_grads(path, mode, padding_idx):
    weight = _table()
    psw = None
    if mode != "max":
        psw = torch.rand(IDS.shape, dtype=torch.float64, requires_grad=True)
    out = et.functional.embedding_bag(
        IDS, weight, mode=mode, per_sample_weights=psw, padding_idx=padding_idx
    )
    inputs = (weight,) if psw is None else (weight, psw)
    grads = torch.randn(3, *out.shape, dtype=torch.float64)
    batched = torch.autograd.grad(out, inputs, grads, is_grads_batched=True, retain_graph=True)
    for i in range(3):
        single = torch.autograd.grad(out, inputs, grads[i], retain_graph=True)
        for b, s in zip(batched, single, strict=True):
            assert_allclose(b[i].detach(), s, rtol=1e-12, atol=1e-12)


def test_gradcheck_with_batched_grad(path):
    weight = _table()
    psw = torch.rand(IDS.shape, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda w: et.functional.embedding(IDS, w),
        (weight,),
        check_batched_grad=True,
    )
    assert torch.autograd.gradgradcheck(
        lambda w: et.functional.embedding(IDS, w), (weight,), check_batched_grad=True
    )
    assert torch.autograd.gradcheck(
        lambda w, p: et.functional.embedding_bag(IDS, w, mode="sum", per_sample_weights=p),
        (weight, psw),
        check_batched_grad=True,
    )
    assert torch.autograd.gradcheck(
        lambda w: et.functional.embedding_bag(IDS, w, mode="max"),
        (weight,),
        check_batched_grad=True,
    )


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")  # jacfwd
@pytest.mark.filterwarnings("ignore:There is a performance drop:UserWarning")  # torch's bag
def test_functorch_transforms_match_torch(path):
    weight = _table(requires_grad=False)
    for ours, theirs in (
        (et.functional.embedding, torch.nn.functional.embedding),
        (et.functional.embedding_bag, torch.nn.functional.embedding_bag),
    ):
        for transform in (torch.func.jacrev, torch.func.jacfwd):
            if transform is torch.func.jacfwd and ours is et.functional.embedding_bag:
                continue  # torch's embedding_bag has no forward-mode AD either
            expected = transform(lambda w, f=theirs: f(IDS, w))(weight)
            assert_allclose(transform(lambda w, f=ours: f(IDS, w))(weight), expected)
    vmapped = torch.func.vmap(lambda i: et.functional.embedding(i, weight))(IDS)
    assert_allclose(vmapped, torch.nn.functional.embedding(IDS, weight))


def test_fused_optimizer_refuses_batched_gradients():
    emb = et.Embedding(6, 3, optimizer=et.RowOptimizer("sgd", lr=0.1))
    out = emb(IDS)
    with pytest.raises(RuntimeError, match="cannot take batched gradients"):
        torch.autograd.grad(out, emb.weight, torch.ones(2, *out.shape), is_grads_batched=True)


# ---------------------------------------------------------------------------------------------
# 2. torch.jit.trace follows its input


def _trace(module, *example):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # "torch.jit.trace is deprecated"
        return torch.jit.trace(module, example)


@pytest.mark.parametrize("context", ["grad", "no_grad", "inference_mode"])
@pytest.mark.parametrize("frozen", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
def test_traced_embedding_follows_its_input(path, context, frozen, sparse):
    torch.manual_seed(0)
    table = torch.randn(10, 3)
    ours = et.Embedding.from_pretrained(table.clone(), freeze=frozen, sparse=sparse, padding_idx=0)
    theirs = torch.nn.Embedding.from_pretrained(table.clone(), freeze=frozen, padding_idx=0)
    guard = {"grad": torch.enable_grad, "no_grad": torch.no_grad}.get(context, torch.inference_mode)
    with guard():
        traced = _trace(ours, torch.tensor([1, 2]))
    for ids in (torch.tensor([3, 4, 9]), torch.tensor([[0, 7], [7, 8]])):
        with guard():
            assert torch.equal(traced(ids), theirs(ids))


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_traced_bag_follows_its_input(path, mode):
    torch.manual_seed(0)
    table = torch.randn(10, 3)
    ours = et.EmbeddingBag.from_pretrained(table.clone(), mode=mode, freeze=False)
    theirs = torch.nn.EmbeddingBag.from_pretrained(table.clone(), mode=mode)
    traced = _trace(ours, torch.tensor([1, 2, 3]), torch.tensor([0, 1]))
    ids, offsets = torch.tensor([4, 5, 6, 7, 8]), torch.tensor([0, 3])
    assert_allclose(traced(ids, offsets).detach(), theirs(ids, offsets), rtol=1e-6)
    with torch.no_grad():
        frozen = _trace(ours, torch.tensor([1, 2, 3]), torch.tensor([0, 1]))
        assert_allclose(frozen(ids, offsets), theirs(ids, offsets), rtol=1e-6)


def test_traced_trainable_module_trains_like_torch(path):
    torch.manual_seed(0)
    ours = et.Embedding(10, 3, padding_idx=2)
    theirs = torch.nn.Embedding(10, 3, padding_idx=2)
    with torch.no_grad():
        theirs.weight.copy_(ours.weight)
    traced = _trace(ours, torch.tensor([1, 2]))  # check_trace passes
    ids = torch.tensor([[2, 5], [5, 9]])
    traced(ids).pow(2).sum().backward()
    theirs(ids).pow(2).sum().backward()
    assert_allclose(ours.weight.grad, theirs.weight.grad)


def test_traced_module_still_checks_ids(path):
    traced = _trace(et.Embedding(10, 3), torch.tensor([1, 2]))
    # the TorchScript interpreter turns the error into a RuntimeError, with the message
    with pytest.raises(RuntimeError, match="index out of range in self"):
        traced(torch.tensor([10]))


# ---------------------------------------------------------------------------------------------
# 3. Monkeypatching torch.nn.functional does not recurse


def test_monkeypatched_functional_does_not_recurse(monkeypatch):
    monkeypatch.setattr(torch.nn.functional, "embedding", et.functional.embedding)
    monkeypatch.setattr(torch.nn.functional, "embedding_bag", et.functional.embedding_bag)
    table = torch.randn(5, 2).to(torch.bfloat16).requires_grad_()
    ids = torch.tensor([0, 4, 4])
    out = torch.nn.functional.embedding(ids, table)  # bfloat16: the torch-ops path
    out.sum().backward()
    assert torch.equal(out, table.detach()[ids])
    bag = torch.nn.functional.embedding_bag(ids, table, torch.tensor([0, 1]), mode="sum")
    assert bag.shape == (2, 2)
    assert torch.nn.Embedding(5, 2).to(torch.bfloat16)(ids).shape == (3, 2)
    assert _fallback.TORCH_EMBEDDING is not et.functional.embedding


# ---------------------------------------------------------------------------------------------
# 4. torch's phrases in embtable's messages


@pytest.mark.parametrize("bad", [10, -1])
def test_index_errors_carry_torch_phrases(path, bad):
    table = torch.randn(10, 2)
    with pytest.raises(IndexError, match=f"index {bad} at position .*index out of range in self"):
        et.functional.embedding(torch.tensor([1, bad]), table)
    with pytest.raises(IndexError, match="index out of range in self"):
        et.Embedding(10, 2)(torch.tensor([bad]))
    for ids, offsets in (
        (torch.tensor([[bad, 1]]), None),
        (torch.tensor([bad]), torch.tensor([0])),
    ):
        with pytest.raises(RuntimeError, match="Expected idx >= 0 && idx < num_embeddings"):
            et.functional.embedding_bag(ids, table, offsets, padding_idx=0)


def test_index_error_inside_grad_graph_carries_phrase(path):
    table = torch.randn(10, 2, requires_grad=True)
    with pytest.raises(IndexError, match="index out of range in self"):
        et.functional.embedding(torch.tensor([12]), table, sparse=True)
    big = torch.randint(0, 10, (300_000, 4))
    big[-1, -1] = 10
    with pytest.raises(
        IndexError, match=r"index 10 at position \(299999, 3\).*out of range in self"
    ):
        et.functional.embedding(big, table)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bool])
def test_ids_dtype_errors_name_long_int(path, dtype):
    table = torch.randn(10, 2)
    with pytest.raises(RuntimeError, match="Long, Int"):
        et.functional.embedding(torch.zeros(2, dtype=dtype), table)
    with pytest.raises(RuntimeError, match="Long, Int"):
        et.functional.embedding_bag(torch.zeros(2, dtype=dtype), table, torch.tensor([0]))
    with pytest.raises(RuntimeError, match=r"argument #2 'offsets'.*Long, Int"):
        et.functional.embedding_bag(torch.zeros(2, dtype=torch.long), table, torch.zeros(1))


# ---------------------------------------------------------------------------------------------
# 5. include_last_offset with a last offset before the end (pytorch#89677)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_include_last_offset_short_last_bag_matches_torch(path, mode):
    torch.manual_seed(0)
    # torch's padding_idx kernels (the ones its test for pytorch#89677 pins): the last bag runs
    # to the end of the input
    ours = et.EmbeddingBag(100, 3, mode=mode, include_last_offset=True, padding_idx=61)
    theirs = torch.nn.EmbeddingBag(100, 3, mode=mode, include_last_offset=True, padding_idx=61)
    with torch.no_grad():
        theirs.weight.copy_(ours.weight)
    ids = torch.tensor([0, 1, 2, 3, 99])
    for offsets in (torch.tensor([0, 3, 3]), torch.tensor([0, 3, 4]), torch.tensor([0, 0])):
        out, expected = ours(ids, offsets), theirs(ids, offsets)
        assert_allclose(out.detach(), expected.detach(), rtol=1e-6)
        assert_allclose(
            out.detach(), ours(ids, torch.cat([offsets[:-1], torch.tensor([5])])).detach()
        )
        out.sum().backward()
        expected.sum().backward()
        assert_allclose(ours.weight.grad, theirs.weight.grad, rtol=1e-6)
        ours.weight.grad = theirs.weight.grad = None


def test_include_last_offset_short_last_bag_per_sample_weights(path):
    table = _table(10, 2)
    psw = torch.rand(5, dtype=torch.float64, requires_grad=True)
    ids, offsets = torch.tensor([1, 2, 3, 4, 5]), torch.tensor([0, 2, 3])
    options = {"mode": "sum", "include_last_offset": True, "padding_idx": 9}
    out = et.functional.embedding_bag(ids, table, offsets, per_sample_weights=psw, **options)
    expected = torch.nn.functional.embedding_bag(
        ids, table, offsets, per_sample_weights=psw, **options
    )
    assert_allclose(out.detach(), expected.detach())
    (ours,) = torch.autograd.grad(out.sum(), psw)
    (theirs,) = torch.autograd.grad(expected.sum(), psw)
    assert_allclose(ours, theirs)


def test_include_last_offset_decreasing_last_offset_still_raises(path):
    with pytest.raises(ValueError, match=r"non-decreasing|last offset must equal"):
        et.functional.embedding_bag(
            torch.tensor([1, 2, 3]),
            torch.ones(4, 2),
            torch.tensor([0, 2, 1]),
            include_last_offset=True,
        )


# ---------------------------------------------------------------------------------------------
# 6. The legacy embedding_bag(weight, input) order


def test_legacy_argument_order_warns_and_swaps(path):
    table = torch.randn(10, 3)
    ids = torch.tensor([[1, 2], [3, 4]])
    with pytest.warns(
        UserWarning, match="Argument order of nn.functional.embedding_bag was changed"
    ):
        out = et.functional.embedding_bag(table, ids)
    assert_allclose(out, torch.nn.functional.embedding_bag(ids, table))


# ---------------------------------------------------------------------------------------------
# 7. meta offsets / per-sample weights with a CPU weight, neg-bit views


def test_meta_offsets_and_per_sample_weights_do_not_raise(path):
    table = torch.randn(10, 2)
    ids = torch.tensor([0, 1, 2, 3])
    for offsets, psw in (
        (torch.tensor([0, 3], device="meta"), None),
        (torch.tensor([0, 3]), torch.ones(4, device="meta")),
    ):
        expected = torch.nn.functional.embedding_bag(
            ids, table, offsets, mode="sum", per_sample_weights=psw
        )
        out = et.functional.embedding_bag(ids, table, offsets, mode="sum", per_sample_weights=psw)
        assert (out.shape, out.device, out.dtype) == (
            expected.shape,
            expected.device,
            expected.dtype,
        )


def test_neg_bit_weight_views(path):
    base = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    table = base._neg_view()
    assert table.is_neg()
    out = et.functional.embedding(IDS, table)
    assert_allclose(out.detach(), -base.detach()[IDS])
    out.sum().backward()
    expected = torch.zeros(6, 3, dtype=torch.float64).index_add_(
        0, IDS.reshape(-1), -torch.ones(6, 3, dtype=torch.float64)
    )
    assert_allclose(base.grad, expected)
    bag = et.functional.embedding_bag(IDS, table.detach(), mode="sum")
    assert_allclose(bag, torch.nn.functional.embedding_bag(IDS, table.detach(), mode="sum"))


# ---------------------------------------------------------------------------------------------
# 9. Without torch: a clear error naming the extra


def test_import_without_torch_names_the_extra():
    result = _run(
        """
        import importlib.abc, sys

        class HideTorch(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                return None

        sys.meta_path.insert(0, HideTorch())
        try:
            import embtable.torch
        except ModuleNotFoundError as error:
            print(type(error).__name__, error.name, "|", error)
        else:
            print("imported")
        """
    )
    assert result.returncode == 0, result.stderr
    assert "ModuleNotFoundError torch |" in result.stdout
    assert "pip install 'embtable[torch]'" in result.stdout


# ---------------------------------------------------------------------------------------------
# Issue 10: own what was validated; optimizer state follows the weight


def test_bag_ids_changed_between_forward_and_backward_is_safe():
    result = _run(
        """
        import torch, embtable.torch as et
        for sparse in (True, False):
            bag = et.EmbeddingBag(10, 3, mode="sum", sparse=sparse)
            ids = torch.tensor([1, 2, 3, 4])
            out = bag(ids, torch.tensor([0, 2]))
            ids.data[1] = 10**12  # bypasses autograd's version counter
            out.sum().backward()
            grad = bag.weight.grad.to_dense()
            assert grad[[1, 2, 3, 4]].eq(1).all() and grad.sum() == 12, grad
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


@pytest.mark.parametrize("rule", ["sgd", "adagrad", "rowwise_adagrad", "adam"])
def test_row_optimizer_follows_a_replaced_weight(rule):
    result = _run(
        f"""
        import torch, embtable.torch as et
        emb = et.Embedding(10, 4, optimizer=et.RowOptimizer({rule!r}, lr=0.1))
        emb.weight = torch.nn.Parameter(torch.randn(10**5, 16))
        ids = torch.tensor([0, 99_999, 99_999])
        before = emb.weight.detach().clone()
        emb(ids).sum().backward()
        changed = (emb.weight.detach() != before).any(dim=1).nonzero().flatten().tolist()
        assert changed == [0, 99_999], changed
        shapes = {{name: tuple(b.shape) for name, b in emb.optimizer.named_buffers()}}
        assert shapes.pop("step") == ()
        assert all(shape[:1] == (10**5,) for shape in shapes.values()), shapes
        assert int(emb.optimizer.step) == 1
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
