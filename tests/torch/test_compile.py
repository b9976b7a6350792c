"""``torch.compile(fullgraph=True)`` over the ``embtable::*`` custom ops (:mod:`embtable.torch._ops`)."""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")

import embtable.torch as et  # noqa: E402
from embtable._errors import BagIndexError, EmbeddingIndexError  # noqa: E402
from embtable.torch import _ops  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_dynamo() -> None:
    torch._dynamo.reset()  # each test compiles its own modules; no recompile-limit carry-over


def _compiled(module: torch.nn.Module) -> torch.nn.Module:
    return torch.compile(module, backend="aot_eager", fullgraph=True)  # type: ignore[return-value]


def _run(module: torch.nn.Module, *args: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    module.zero_grad()
    out = module(*args)
    (out * torch.arange(1.0, out.shape[-1] + 1)).sum().backward()
    return out.detach(), module.weight.grad.clone()


IDS = torch.tensor([[1, 2, 0, 2], [5, 2, 9, 0]])


@pytest.mark.parametrize(
    "options",
    [{}, {"padding_idx": 0}, {"padding_idx": -1}, {"scale_grad_by_freq": True}],
    ids=["plain", "padding", "padding-negative", "scale_grad_by_freq"],
)
def test_embedding_matches_eager_and_torch(options: dict[str, object]) -> None:
    torch.manual_seed(0)
    module = et.Embedding(10, 3, **options)
    eager = copy.deepcopy(module)
    reference = torch.nn.Embedding(10, 3, **options)
    reference.load_state_dict(module.state_dict())
    compiled = _compiled(module)
    for ids in (IDS, IDS[0], IDS.int()):
        out, grad = _run(compiled, ids)
        eager_out, eager_grad = _run(eager, ids)
        torch_out, torch_grad = _run(reference, ids)
        assert torch.equal(out, eager_out) and torch.equal(grad, eager_grad)
        torch.testing.assert_close(out, torch_out)
        torch.testing.assert_close(grad, torch_grad)


def test_embedding_max_norm_renorms_the_parameter() -> None:
    torch.manual_seed(0)
    module = et.Embedding(10, 3, max_norm=1.0)
    eager = copy.deepcopy(module)
    out, grad = _run(_compiled(module), IDS)
    eager_out, eager_grad = _run(eager, IDS)
    torch.testing.assert_close(out, eager_out)
    torch.testing.assert_close(grad, eager_grad)
    torch.testing.assert_close(module.weight, eager.weight)
    assert module.weight[IDS.unique()].norm(dim=1).max() <= 1.0 + 1e-6


def test_model_trains_under_compile() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(et.Embedding(20, 4, padding_idx=0), torch.nn.Linear(4, 1))
    eager = copy.deepcopy(model)
    compiled = _compiled(model)
    ids = torch.randint(0, 20, (8, 5))
    for net in (compiled, eager):
        optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
        for _ in range(3):
            optimizer.zero_grad()
            net(ids).pow(2).mean().backward()
            optimizer.step()
    for got, want in zip(model.parameters(), eager.parameters(), strict=True):
        torch.testing.assert_close(got, want)


def test_bad_ids_raise_embtable_errors_at_run_time() -> None:
    compiled = _compiled(et.Embedding(10, 3))
    compiled(IDS)
    with pytest.raises(EmbeddingIndexError, match="index 10 at position"):
        compiled(torch.tensor([[1, 10, 2, 3], [0, 0, 0, 0]]))
    bag = _compiled(et.EmbeddingBag(10, 3, mode="sum"))
    with pytest.raises(BagIndexError, match="index -1"):
        bag(torch.tensor([1, -1]), torch.tensor([0, 1]))


def test_bad_ids_dtype_raises_while_tracing() -> None:
    module = et.Embedding(10, 3)
    with pytest.raises(
        RuntimeError, match=r"indices must be an integer tensor, got torch\.float32"
    ):
        module(IDS.float())  # eager message
    with pytest.raises(
        RuntimeError, match=r"indices must be an integer tensor, got torch\.float32"
    ):
        _compiled(module)(IDS.float())  # fullgraph: Dynamo's Unsupported, naming the error


_BAG_CASES = [
    (mode, options)
    for mode in ("sum", "mean", "max")
    for options in ({}, {"padding_idx": 0}, {"scale_grad_by_freq": True})
    if not (mode == "max" and options)  # max mode takes no frequency scaling
] + [("max", {"padding_idx": 0})]


@pytest.mark.parametrize(("mode", "options"), _BAG_CASES)
def test_embedding_bag_matches_eager(mode: str, options: dict[str, object]) -> None:
    torch.manual_seed(0)
    module = et.EmbeddingBag(10, 3, mode=mode, **options)
    eager = copy.deepcopy(module)
    compiled = _compiled(module)
    calls = [
        (IDS,),
        (IDS.reshape(-1), torch.tensor([0, 3, 3])),  # an empty bag in the middle
    ]
    for args in calls:
        out, grad = _run(compiled, *args)
        eager_out, eager_grad = _run(eager, *args)
        assert torch.equal(out, eager_out) and torch.equal(grad, eager_grad)
    if not options.get("scale_grad_by_freq"):  # torch's CPU count differs (pytorch#190063)
        reference = torch.nn.EmbeddingBag(10, 3, mode=mode, **options)
        reference.load_state_dict(eager.state_dict())
        for args in calls:
            torch.testing.assert_close(_run(reference, *args), _run(eager, *args))


def _sample_inputs() -> list[tuple[object, tuple[object, ...]]]:
    weight = torch.randn(10, 3, dtype=torch.float64, requires_grad=True)
    grad = torch.randn(2, 4, 3, dtype=torch.float64)
    bag_grad = torch.randn(3, 3, dtype=torch.float64)
    offsets = torch.tensor([0, 3, 3])
    flat = IDS.reshape(-1)
    bag_size = torch.tensor([3, 0, 5])
    return [
        (torch.ops.embtable.embedding, (IDS, weight, 0, True)),
        (torch.ops.embtable.embedding, (IDS, weight, None, False)),
        (torch.ops.embtable.embedding_dense_backward, (grad, IDS, 10, 0, True)),
        (torch.ops.embtable.embedding_renorm, (weight.detach().clone(), IDS, 1.0, 2.0)),
        (torch.ops.embtable.embedding_bag, (flat, weight, offsets, "mean", False, 0, False)),
        (torch.ops.embtable.embedding_bag, (IDS, weight, None, "max", False, None, False)),
        (
            torch.ops.embtable.embedding_bag_dense_backward,
            (
                bag_grad,
                flat,
                offsets,
                bag_size,
                torch.empty(0, 0).long(),
                10,
                "sum",
                False,
                None,
                True,
            ),
        ),
    ]


def test_opcheck() -> None:
    for op, args in _sample_inputs():
        torch.library.opcheck(op, args)


def test_eager_calls_do_not_use_the_ops(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object) -> None:
        raise AssertionError("eager call reached the custom ops")

    monkeypatch.setattr(_ops, "embedding", fail)
    monkeypatch.setattr(_ops, "embedding_bag", fail)
    et.Embedding(10, 3)(IDS).sum().backward()
    et.EmbeddingBag(10, 3)(IDS).sum().backward()


def test_uncovered_options_run_eagerly_behind_a_graph_break() -> None:
    # sparse gradients, fused optimizers, bag max_norm / per_sample_weights: the eager path
    torch.manual_seed(0)
    with pytest.raises(torch._dynamo.exc.Unsupported):
        _compiled(et.Embedding(10, 3, sparse=True))(IDS)
    module = et.Embedding(10, 3, sparse=True)
    eager = copy.deepcopy(module)
    compiled = torch.compile(module, backend="aot_eager")
    compiled(IDS).sum().backward()
    eager(IDS).sum().backward()
    assert module.weight.grad.is_sparse
    torch.testing.assert_close(module.weight.grad.to_dense(), eager.weight.grad.to_dense())
    bag = et.EmbeddingBag(10, 3, mode="sum", max_norm=1.0)
    eager_bag = copy.deepcopy(bag)
    psw = torch.rand(IDS.shape)
    out = torch.compile(bag, backend="aot_eager")(IDS, per_sample_weights=psw)
    torch.testing.assert_close(out, eager_bag(IDS, per_sample_weights=psw))
    torch.testing.assert_close(bag.weight, eager_bag.weight)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch-internal (inductor imports)
def test_inductor_fullgraph() -> None:  # the default backend (about 15 s here: a C++ build)
    torch.manual_seed(0)
    model = torch.nn.Sequential(et.Embedding(20, 4, padding_idx=0), torch.nn.Linear(4, 1))
    eager = copy.deepcopy(model)
    ids = torch.randint(0, 20, (8, 5))
    torch.compile(model, fullgraph=True)(ids).sum().backward()
    eager(ids).sum().backward()
    for got, want in zip(model.parameters(), eager.parameters(), strict=True):
        torch.testing.assert_close(got.grad, want.grad)
