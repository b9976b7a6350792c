"""The lean dispatch of ``embtable.torch``'s ``embedding``: torch's own op first where it is
cheaper and its result is embtable's, embtable's general path for everything torch refuses.

Each test pins that the fast dispatch keeps embtable's semantics: the values and gradients
(bitwise torch's where the same op runs), embtable's errors with torch's phrase, any integer id
dtype, ``padding_idx`` checked on every call, and nothing skipped for parametrized or swapped
weights.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import embtable.torch as et  # noqa: E402
from embtable._errors import (  # noqa: E402
    EmbeddingIndexError,
    IdsTypeError,
    OptionTypeError,
    PaddingIndexError,
    ShapeError,
)
from embtable.torch import _autograd  # noqa: E402


def _pair(rows: int = 50, dim: int = 7, dtype: torch.dtype = torch.float32, **options):
    torch.manual_seed(0)
    theirs = torch.nn.Embedding(rows, dim, **options).to(dtype)
    ours = et.Embedding(rows, dim, **options).to(dtype)
    with torch.no_grad():
        ours.weight.copy_(theirs.weight)
    return ours, theirs


def _ids(count: int, rows: int) -> torch.Tensor:
    ids = torch.randint(0, rows, (count,), generator=torch.Generator().manual_seed(1))
    ids[:5] = 2  # a repeated row (the padding row where there is one)
    return ids


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("padding_idx", [None, 2, -48])
def test_training_calls_up_to_the_bounds_are_torchs_op_bit_for_bit(dtype, padding_idx):
    ours, theirs = _pair(dtype=dtype, padding_idx=padding_idx)
    ids = _ids(_autograd.TORCH_NATIVE_MAX_IDS, 50).reshape(-1, 8)
    out, expected = ours(ids), theirs(ids)
    assert type(out.grad_fn) is type(expected.grad_fn)  # torch's node, not a custom one
    grad_output = torch.randn(out.shape, dtype=dtype)
    out.backward(grad_output)
    expected.backward(grad_output)
    assert torch.equal(out, expected)
    assert torch.equal(ours.weight.grad, theirs.weight.grad)
    assert not ours.weight.grad[2].any() or padding_idx is None


def test_larger_tables_take_embtables_node_with_the_same_gradient(monkeypatch):
    ours, theirs = _pair()
    ids = _ids(256, 50)
    monkeypatch.setattr(_autograd, "TORCH_NATIVE_MAX_BYTES", ours.weight.nbytes - 1)
    out = ours(ids)
    assert type(out.grad_fn) is not type(theirs(ids).grad_fn)
    out.sum().backward()
    theirs(ids).sum().backward()
    assert torch.equal(ours.weight.grad, theirs.weight.grad)


@pytest.mark.parametrize("grad", ["no_grad", "inference_mode", "frozen", "training"])
@pytest.mark.parametrize("bad", [50, -1])
def test_a_bad_id_raises_embtables_error_with_torchs_phrase(grad, bad):
    ours, _ = _pair()
    ids = torch.tensor([[1, 2], [bad, 3]])
    if grad == "frozen":
        ours.weight.requires_grad_(False)
    context = {"no_grad": torch.no_grad, "inference_mode": torch.inference_mode}.get(
        grad, torch.enable_grad
    )
    with context(), pytest.raises(EmbeddingIndexError) as caught:
        ours(ids)
    message = str(caught.value)
    assert f"index {bad} at position (1, 0)" in message
    assert "50 rows" in message and message.endswith("(index out of range in self)")
    assert isinstance(caught.value, IndexError)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.int32])
@pytest.mark.parametrize("grad", [False, True])
def test_any_integer_id_dtype_gives_the_int64_result(dtype, grad):
    ours, theirs = _pair()
    ids = _ids(40, 50)
    with torch.set_grad_enabled(grad):
        out = ours(ids.to(dtype))
        expected = theirs(ids)
    assert torch.equal(out, expected)
    if grad:
        out.sum().backward()
        expected.sum().backward()
        assert torch.equal(ours.weight.grad, theirs.weight.grad)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bool])
@pytest.mark.parametrize("grad", [False, True])
def test_non_integer_ids_raise_embtables_type_error(dtype, grad):
    ours, _ = _pair()
    with torch.set_grad_enabled(grad), pytest.raises(IdsTypeError, match="Long, Int"):
        ours(torch.tensor([1, 0]).to(dtype))


@pytest.mark.parametrize("grad", [False, True])
def test_padding_idx_is_checked_on_every_call(grad):
    ours, _ = _pair(padding_idx=0)
    ids = torch.tensor([1, 2])
    ours.padding_idx = 50  # set after construction: torch's op would ignore it
    with torch.set_grad_enabled(grad), pytest.raises(PaddingIndexError, match="50"):
        ours(ids)
    ours.padding_idx = 1.0
    with torch.set_grad_enabled(grad), pytest.raises(OptionTypeError):
        ours(ids)
    ours.padding_idx = -1  # wrapped, as in torch's functional form
    with torch.set_grad_enabled(grad):
        out = ours(torch.tensor([1, 49]))
    assert torch.equal(out, ours.weight.detach()[[1, 49]])
    if grad:
        out.sum().backward()
        assert not ours.weight.grad[49].any() and ours.weight.grad[1].all()


@pytest.mark.parametrize("shape", [(50,), (50, 7, 2)])
@pytest.mark.parametrize("grad", [False, True])
def test_a_table_that_is_not_2d_raises_shape_error(shape, grad):
    weight = torch.randn(shape, requires_grad=grad)
    with pytest.raises(ShapeError):
        et.functional.embedding(torch.tensor([1, 2]), weight)


def test_a_failing_max_norm_call_mutates_nothing():
    ours, _ = _pair(max_norm=0.5)
    before = ours.weight.detach().clone()
    with pytest.raises(EmbeddingIndexError):
        ours(torch.tensor([1, 2, 50]))
    assert torch.equal(ours.weight.detach(), before)


def test_large_lookups_without_grad_use_the_kernel_with_the_same_values(monkeypatch):
    ours, theirs = _pair()
    ids = _ids(300, 50)
    monkeypatch.setattr(_autograd, "TORCH_GATHER_MAX_ELEMENTS", 7 * 100)
    with torch.no_grad():
        assert torch.equal(ours(ids), theirs(ids))
        with pytest.raises(EmbeddingIndexError, match="index out of range in self"):
            ours(torch.cat([ids, torch.tensor([50])]))


def test_parametrized_and_swapped_weights_are_looked_up_by_the_module():
    ours, _ = _pair()
    ids = torch.tensor([3, 4])
    replacement = torch.zeros(50, 7)
    out = torch.func.functional_call(ours, {"weight": replacement}, (ids,))
    assert torch.equal(out, torch.zeros(2, 7))

    class Double(torch.nn.Module):
        def forward(self, weight: torch.Tensor) -> torch.Tensor:
            return 2 * weight

    expected = 2 * ours.weight.detach()[ids]
    torch.nn.utils.parametrize.register_parametrization(ours, "weight", Double())
    assert torch.equal(ours(ids).detach(), expected)


def test_integer_and_bfloat16_tables_without_grad_match_torch():
    ids = torch.tensor([[0, 3], [2, 2]])
    table = torch.arange(12).reshape(4, 3)
    assert torch.equal(et.Embedding.from_pretrained(table)(ids), table[ids])
    half = torch.randn(4, 3).to(torch.bfloat16)
    with torch.no_grad():
        assert torch.equal(et.functional.embedding(ids, half), half[ids])


def test_forced_torch_ops_path_is_not_skipped(monkeypatch):
    calls = []
    from embtable.torch import _fallback

    original = _fallback.embedding

    def spy(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(_fallback, "embedding", spy)
    monkeypatch.setattr(et.functional, "FORCE_TORCH_OPS", True)
    ours, theirs = _pair()
    ids = torch.tensor([1, 2])
    assert torch.equal(ours(ids), theirs(ids))
    assert calls == [1]


def test_bag_modules_look_up_swapped_and_parametrized_weights():
    bag = et.EmbeddingBag(10, 3, mode="sum")
    ids, offsets = torch.tensor([1, 2, 3]), torch.tensor([0, 2])
    out = torch.func.functional_call(bag, {"weight": torch.ones(10, 3)}, (ids, offsets))
    assert torch.equal(out, torch.tensor([[2.0] * 3, [1.0] * 3]))

    class Double(torch.nn.Module):
        def forward(self, weight: torch.Tensor) -> torch.Tensor:
            return 2 * weight

    expected = 2 * bag(ids, offsets).detach()
    torch.nn.utils.parametrize.register_parametrization(bag, "weight", Double())
    assert torch.equal(bag(ids, offsets).detach(), expected)
