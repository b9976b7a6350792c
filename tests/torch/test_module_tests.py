"""torch's own module tests for ``nn.Embedding`` / ``nn.EmbeddingBag``, run on embtable.torch.

``torch.testing._internal.common_nn.get_new_module_tests()`` (shipped in the torch wheel) holds
the entries that torch's ``test_nn.py`` turns into ``NewModuleTest`` cases: forward, gradcheck
with batched gradients, sparse Jacobians, non-contiguous inputs, ``repr``, pickling, type
conversions. This harness builds the same cases with ``embtable.torch.patch()`` active, so that
every module they construct (``nn.Embedding(...)`` inside their lambdas, or ``getattr(nn,
name)``) is embtable's, and runs each on both of embtable's paths; the same entries on stock
torch run alongside as the reference. ``expecttest`` is the one extra dependency of torch's
testing package.
"""

from __future__ import annotations

import contextlib
import warnings

import pytest
import torch

import embtable.torch as et

pytest.importorskip("expecttest", reason="torch's testing package needs expecttest")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from torch.testing._internal import common_nn


def _entries() -> list[dict[str, object]]:
    entries = []
    for params in common_nn.get_new_module_tests():
        name = str(params.get("module_name") or params.get("fullname", ""))
        if name.split("_")[0] in ("Embedding", "EmbeddingBag"):
            entries.append(params)
    return entries


ENTRIES = _entries()


def _entry_id(params: dict[str, object]) -> str:
    if "fullname" in params:
        return str(params["fullname"])
    return "_".join(str(p) for p in (params["module_name"], params.get("desc", "")) if p)


class _Case(common_nn.NNTestCase):
    """An ``NNTestCase`` to run a ``NewModuleTest`` against (CPU only), with the four hooks a
    module test calls: forward, backward, the parameters and their gradients, zeroing."""

    _do_cuda_memory_leak_check = False
    _do_cuda_non_default_stream = False

    def runTest(self) -> None:  # noqa: N802 - unittest's name
        """Unused: the harness calls the module test with this case."""

    def _forward(self, module, input):  # type: ignore[no-untyped-def]
        inputs = input if isinstance(input, tuple) else (input,)
        with torch.random.fork_rng():
            return module(*inputs)

    def _backward(self, module, input, output, grad_output, create_graph=False):  # type: ignore[no-untyped-def]
        output.backward(grad_output, retain_graph=True, create_graph=create_graph)
        grads = tuple(
            None if i.grad is None else i.grad.detach()
            for i in (input if isinstance(input, tuple) else (input,))
        )
        return grads if isinstance(input, tuple) else grads[0]

    def _get_parameters(self, module):  # type: ignore[no-untyped-def]
        parameters = list(module.parameters())
        return parameters, [p.grad for p in parameters]

    def _zero_grad_parameters(self, module):  # type: ignore[no-untyped-def]
        for parameter in module.parameters():
            if parameter.grad is not None:
                with torch.no_grad():
                    parameter.grad.zero_()
                parameter.grad.detach_()


def _run_entry(params: dict[str, object], built: list[type]) -> None:
    params = dict(params)
    params.pop("decorator", None)
    if "constructor" not in params:
        params["constructor"] = getattr(torch.nn, str(params.pop("module_name")))
    constructor = params["constructor"]

    def recording(*args: object, **kwargs: object) -> torch.nn.Module:
        module = constructor(*args, **kwargs)  # type: ignore[operator]
        built.append(type(module))
        return module

    params["constructor"] = recording
    params["test_cuda"] = False
    test = common_nn.NewModuleTest(**params)
    case = _Case()
    with warnings.catch_warnings():
        # torch's harness pickles modules with torch.save and converts dtypes; warnings from
        # torch's own utilities are not the subject here
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        test(case)


def test_the_entries_are_found():
    assert len(ENTRIES) == 11


@pytest.mark.parametrize("params", ENTRIES, ids=_entry_id)
def test_torch_module_test_on_embtable(path, params):
    built: list[type] = []
    with et.patch():
        _run_entry(params, built)
    assert built and all(cls in (et.Embedding, et.EmbeddingBag) for cls in built), built


@pytest.mark.parametrize("params", ENTRIES, ids=_entry_id)
def test_torch_module_test_on_stock_torch(params):
    built: list[type] = []
    with contextlib.nullcontext():
        _run_entry(params, built)
    assert built and all(cls in (torch.nn.Embedding, torch.nn.EmbeddingBag) for cls in built)
