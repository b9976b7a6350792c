from __future__ import annotations

import numpy as np
import pytest


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
