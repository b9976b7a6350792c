"""The example trains the same model with torch.nn and embtable.torch to the same loss."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

EXAMPLE = Path(__file__).parents[2] / "examples" / "text_classifier.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("text_classifier_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_swapping_the_embedding_module_keeps_the_loss_curve():
    example = _load_example()
    histories = example.compare(epochs=2, quick=True)
    ours, theirs = histories["embtable.torch"], histories["torch.nn"]
    np.testing.assert_allclose([h["loss"] for h in ours], [h["loss"] for h in theirs], rtol=1e-4)
    np.testing.assert_allclose(
        [h["accuracy"] for h in ours], [h["accuracy"] for h in theirs], atol=0.01
    )
