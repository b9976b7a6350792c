"""Root conftest: doctest collection imports every module, so skip adapters whose framework is
missing."""

from __future__ import annotations

import importlib.util

collect_ignore_glob: list[str] = []
if importlib.util.find_spec("torch") is None:
    collect_ignore_glob += ["src/embtable/torch/*", "tests/torch/*", "examples/*"]
