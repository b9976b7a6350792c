from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _parallel_whatever_the_load(monkeypatch):
    """Every test chooses kernel twins by size and thread alone, not by the machine's load (a
    loaded CI machine would otherwise turn parallel twins serial at random);
    ``tests/test_kernels_load.py`` tests the load-adaptive choice itself by turning it back on."""
    monkeypatch.setattr("embtable.kernels._parallel.ADAPT_TO_LOAD", False)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(params=[1, 2], ids=["1-thread", "2-threads"])
def threads(request, monkeypatch):
    """Run with 1 or 2 numba threads, and launch the parallel twins even for small inputs and
    whatever the machine's load (the load-adaptive choice would run serial twins on a busy one)."""
    numba = pytest.importorskip("numba")
    monkeypatch.setattr("embtable.kernels._parallel.PARALLEL_MIN_WORK", 0)
    monkeypatch.setattr("embtable.kernels._parallel.ADAPT_TO_LOAD", False)
    previous = numba.get_num_threads()
    numba.set_num_threads(min(request.param, numba.config.NUMBA_NUM_THREADS))
    yield request.param
    numba.set_num_threads(previous)
