"""The public surface, and the promise that ``import embtable`` stays light."""

from __future__ import annotations

import subprocess
import sys

import embtable


def test_public_names():
    assert sorted(embtable.__all__) == sorted(
        [
            "BagIndexError",
            "CorpusError",
            "DistributedError",
            "Embedding",
            "EmbeddingBag",
            "EmbeddingIndexError",
            "EmbtableError",
            "FrozenWeightError",
            "IdsTypeError",
            "ModeError",
            "OffsetsError",
            "OptionError",
            "OptionTypeError",
            "OutputError",
            "PaddingIndexError",
            "Parameter",
            "RowSparseGrad",
            "ShapeError",
            "SparseGradientError",
            "TokenError",
            "VectorFormatError",
            "WeightDTypeError",
            "__version__",
            "functional",
            "optim",
        ]
    )


def test_import_loads_no_framework_and_compiles_nothing():
    code = (
        "import sys, embtable\n"
        "heavy = sorted(m for m in ('torch', 'numba', 'jax', 'gensim', 'scipy') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
