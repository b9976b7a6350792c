"""Routing an unmodified model through embtable: ``embtable.torch.patch()`` and ``convert()``."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from numpy.testing import assert_allclose

import embtable.torch as et
from embtable._errors import OptionError
from embtable.torch import _patch

IDS = torch.tensor([[1, 2, 0, 7], [7, 7, 3, 19]])


class Model(torch.nn.Module):
    """Uses ``nn.Embedding``, ``nn.EmbeddingBag`` and ``F.embedding`` directly."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(20, 4, padding_idx=0, scale_grad_by_freq=True)
        self.bag = torch.nn.EmbeddingBag(20, 4, mode="sum", sparse=True)
        self.table = torch.nn.Parameter(torch.randn(20, 4))
        self.head = torch.nn.Linear(12, 2)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        looked_up = self.emb(ids).mean(1)
        pooled = self.bag(ids)
        direct = F.embedding(ids, self.table, max_norm=2.0).mean(1)
        return self.head(torch.cat([looked_up, pooled, direct], dim=1))


def _originals() -> list[object]:
    return [owner.__dict__[name] for owner, name, _ in _patch._targets()]


def _outputs_and_grads(model: torch.nn.Module) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    out = model(IDS)
    out.pow(2).sum().backward()
    grads = {
        name: p.grad.to_dense() if p.grad.is_sparse else p.grad
        for name, p in model.named_parameters()
        if p.grad is not None
    }
    return out.detach(), grads


def _assert_same(ours, theirs):
    assert_allclose(ours[0], theirs[0], rtol=1e-5, atol=1e-6)
    assert ours[1].keys() == theirs[1].keys()
    for name in ours[1]:
        assert_allclose(ours[1][name], theirs[1][name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_patch_routes_a_model_and_matches_torch():
    torch.manual_seed(0)
    stock = Model()
    before = _originals()
    with et.patch() as active:
        assert active.active
        torch.manual_seed(0)
        patched = Model()  # built while patched: embtable's modules, torch's initialisation
        assert type(patched.emb) is et.Embedding and type(patched.bag) is et.EmbeddingBag
        assert F.embedding is et.functional.embedding
        # a torch module built before the patch runs through embtable's functions too
        assert torch.equal(stock.emb(torch.tensor([3], dtype=torch.uint8)), stock.emb.weight[[3]])
        result = _outputs_and_grads(patched)
    assert _originals() == before
    assert not active.active
    for owner, name, _ in _patch._targets():
        assert getattr(owner, name) is owner.__dict__[name]
    assert torch.nn.Embedding.__module__ == "torch.nn.modules.sparse"
    with pytest.raises(RuntimeError, match="Long, Int"):  # torch's own behaviour is back
        stock.emb(torch.tensor([3], dtype=torch.uint8))
    _assert_same(result, _outputs_and_grads(stock))


def test_patch_start_stop_nesting_and_errors():
    before = _originals()
    outer = et.patch().start()
    with pytest.raises(OptionError, match="already active"):
        outer.start()
    inner = et.patch().start()
    inner.stop()
    assert torch.nn.Embedding is et.Embedding  # the outer patch is still in place
    outer.stop()
    assert _originals() == before
    with pytest.raises(OptionError, match="not active"):
        outer.stop()
    with pytest.raises(ZeroDivisionError), et.patch():
        1 / 0  # noqa: B018
    assert _originals() == before


def test_convert_keeps_weights_options_and_grads():
    torch.manual_seed(0)
    model = Model()
    model.bag.weight.requires_grad_(False)
    model.eval()
    reference = copy.deepcopy(model)
    weight = model.emb.weight
    optimizer = torch.optim.SGD([model.emb.weight], lr=0.1)
    calls = []
    model.emb.register_forward_hook(lambda module, args, out: calls.append(type(module).__name__))
    state = model.state_dict()
    assert et.convert(model) is model
    assert type(model.emb) is et.Embedding and type(model.bag) is et.EmbeddingBag
    assert model.emb.weight is weight and not model.bag.weight.requires_grad
    assert (model.emb.padding_idx, model.emb.scale_grad_by_freq) == (0, True)
    assert (model.bag.mode, model.bag.sparse, model.bag.training) == ("sum", True, False)
    assert model.emb.optimizer is None and model.state_dict().keys() == state.keys()
    with et.patch():  # F.embedding in forward: routed too, as a user would run it
        _assert_same(_outputs_and_grads(model), _outputs_and_grads(reference))
    assert calls == ["Embedding"]
    optimizer.step()
    assert not torch.equal(model.emb.weight, reference.emb.weight)


def test_convert_shared_root_and_subclasses():
    class Custom(torch.nn.Embedding):
        pass

    shared = torch.nn.Embedding(5, 2)
    model = torch.nn.ModuleDict({"a": shared, "b": shared, "c": Custom(5, 2)})
    et.convert(model)
    assert model["a"] is model["b"] and type(model["a"]) is et.Embedding
    assert type(model["c"]) is Custom
    root = torch.nn.EmbeddingBag(5, 2, mode="max", padding_idx=1)
    converted = et.convert(root)
    assert type(converted) is et.EmbeddingBag and converted.weight is root.weight
    assert (converted.mode, converted.padding_idx) == ("max", 1)
    assert torch.equal(converted(torch.tensor([[0, 2]])), root(torch.tensor([[0, 2]])))
    with pytest.raises(TypeError, match=r"expects a torch\.nn\.Module"):
        et.convert("model")  # type: ignore[arg-type]
