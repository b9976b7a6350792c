"""Fixtures for the PyTorch adapter's tests."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import embtable.torch.functional as etf  # noqa: E402

# torch's own sparse optimizers build sparse tensors without choosing whether to check their
# invariants, which warns once per process; the suite opts out explicitly (as torch's default).
torch.sparse.check_sparse_tensor_invariants.disable()


@pytest.fixture(params=["kernels", "torch_ops"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test on the kernel path and on the forced torch-ops fallback."""
    monkeypatch.setattr(etf, "FORCE_TORCH_OPS", request.param == "torch_ops")
    return request.param


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
