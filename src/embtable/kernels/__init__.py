"""Compiled kernels: plain loops that trust their inputs.

Every check lives in :mod:`embtable.functional`; a kernel never raises and never validates. The
kernel modules import numba, so they are loaded on first use through :func:`load`, never at
``import embtable``. Each kernel has a NumPy twin that the tests compare against: in
:mod:`embtable.kernels._reference` (lookups, scatters, renorm, bags) and
:mod:`embtable.kernels._reference_optim` (optimizer steps); the SGNS kernel's twin lives in its
tests.

Conventions: ids are 1-D integer arrays, tables are C-contiguous 2-D arrays of float32 or float64
(float16 storage is handled by :mod:`embtable.functional`, which computes in float32), outputs are
preallocated and passed in, and "no padding" is ``padding_idx = -1``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .._errors import OptionError
from . import _cache  # noqa: F401  (a writable numba cache dir before any kernel is decorated)

__all__ = ["load"]

_MODULES = (
    "bounds",
    "gather",
    "scatter",
    "renorm",
    "bag",
    "optim",
    "rowwise",
    "sgns",
    "quantized",
    "subword",
)
_LOADED: dict[str, ModuleType] = {}


def load(name: str) -> ModuleType:
    """Import the kernel module ``name`` (compiling nothing until a kernel is called).

    Example:
        >>> load("gather").__name__
        'embtable.kernels.gather'
    """
    module = _LOADED.get(name)
    if module is None:
        if name not in _MODULES:
            raise OptionError(f"unknown kernel module {name!r}; expected one of {_MODULES}")
        module = _LOADED[name] = importlib.import_module(f"{__name__}.{name}")
    return module
