"""Run every documented divergence from torch (``divergences.py``) on both paths."""

from __future__ import annotations

import pytest
from divergences import CHECKS, REASONS

import embtable.torch


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_divergence(path, name):
    CHECKS[name]()


def test_every_divergence_has_a_reason_and_is_documented():
    assert set(CHECKS) == set(REASONS)
    assert all(len(reason) > 20 for reason in REASONS.values())
    assert "Differences from torch" in embtable.torch.__doc__
