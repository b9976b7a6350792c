"""Route an unmodified model through embtable: :func:`patch` and :func:`convert`.

Two ways, for two situations:

- :func:`convert` swaps the ``torch.nn.Embedding`` / ``torch.nn.EmbeddingBag`` modules of an
  existing model for :class:`embtable.torch.Embedding` / :class:`~embtable.torch.EmbeddingBag`
  in place. The new modules take over the old ones' state as it is (the same ``weight``
  ``Parameter`` object, so an optimizer built on ``model.parameters()`` keeps working, and the
  same options, device, dtype, ``requires_grad``, training flag and hooks).
- :func:`patch` replaces ``torch.nn.Embedding``, ``torch.nn.EmbeddingBag`` and
  ``torch.nn.functional.embedding`` / ``embedding_bag`` by embtable's while it is active (a
  context manager, or ``start()`` / ``stop()``), so that models built and called meanwhile use
  embtable, including code that calls ``F.embedding`` directly. ``stop()`` puts back exactly the
  objects it found.

embtable's torch-ops path calls torch's own functions as they were when :mod:`embtable.torch`
was imported, so a patched ``torch.nn.functional`` never calls back into itself.
"""

from __future__ import annotations

import copy
from types import ModuleType, TracebackType
from typing import Any

import torch

from .._errors import OptionError, OptionTypeError
from . import functional as _functional
from .modules import Embedding, EmbeddingBag

__all__ = ["convert", "patch"]


def _targets() -> list[tuple[ModuleType, str, Any]]:
    """Every attribute that :func:`patch` replaces, with its replacement."""
    return [
        (torch.nn, "Embedding", Embedding),
        (torch.nn, "EmbeddingBag", EmbeddingBag),
        (torch.nn.modules, "Embedding", Embedding),
        (torch.nn.modules, "EmbeddingBag", EmbeddingBag),
        (torch.nn.modules.sparse, "Embedding", Embedding),
        (torch.nn.modules.sparse, "EmbeddingBag", EmbeddingBag),
        (torch.nn.functional, "embedding", _functional.embedding),
        (torch.nn.functional, "embedding_bag", _functional.embedding_bag),
    ]


class patch:  # noqa: N801 - used like a function: ``with embtable.torch.patch(): ...``
    """Make ``torch.nn`` use embtable while active; restore torch exactly afterwards.

    Replaced: ``torch.nn.Embedding`` and ``torch.nn.EmbeddingBag`` (also under
    ``torch.nn.modules`` and ``torch.nn.modules.sparse``), ``torch.nn.functional.embedding``
    and ``torch.nn.functional.embedding_bag``. Modules constructed while the patch is active are
    embtable's; torch modules built before it run through embtable's functions (their
    ``forward`` calls ``torch.nn.functional.embedding``). Names bound earlier with
    ``from torch.nn import Embedding`` keep torch's class: use :func:`convert` for those.

    Usable as a context manager or with :meth:`start` / :meth:`stop` (e.g. in a test fixture).
    Patches nest: each ``stop`` restores what its ``start`` found.

    Example:
        >>> import torch, embtable.torch as et
        >>> with et.patch():
        ...     layer = torch.nn.Embedding(10, 3)
        ...     type(layer).__module__
        'embtable.torch.modules'
        >>> torch.nn.Embedding is et.Embedding
        False
        >>> p = et.patch().start()
        >>> torch.nn.functional.embedding is et.functional.embedding
        True
        >>> p.stop()
    """

    def __init__(self) -> None:
        self._saved: list[tuple[ModuleType, str, Any]] | None = None

    @property
    def active(self) -> bool:
        """Whether :meth:`start` has run and :meth:`stop` not yet."""
        return self._saved is not None

    def start(self) -> patch:
        """Install embtable's classes and functions into ``torch.nn``; returns ``self``.

        Raises:
            OptionError: this patch is already active.

        Example:
            >>> import torch, embtable.torch as et
            >>> original = torch.nn.Embedding
            >>> p = et.patch().start()
            >>> p.active, torch.nn.Embedding is et.Embedding
            (True, True)
            >>> layer = torch.nn.Embedding(4, 2)  # code that builds torch layers gets embtable's
            >>> type(layer).__module__
            'embtable.torch.modules'
            >>> p.stop()
            >>> torch.nn.Embedding is original
            True
        """
        if self._saved is not None:
            raise OptionError("this patch is already active; call stop() first")
        targets = _targets()
        self._saved = [(owner, name, owner.__dict__[name]) for owner, name, _ in targets]
        for owner, name, replacement in targets:
            setattr(owner, name, replacement)
        return self

    def stop(self) -> None:
        """Put back the objects that :meth:`start` replaced (in reverse order).

        Raises:
            OptionError: this patch is not active.

        Example:
            >>> import torch, embtable.torch as et
            >>> original = torch.nn.functional.embedding
            >>> outer = et.patch().start()
            >>> inner = et.patch().start()  # patches nest
            >>> inner.stop()  # restores what inner found: outer's patch
            >>> torch.nn.functional.embedding is et.functional.embedding
            True
            >>> outer.stop()
            >>> torch.nn.functional.embedding is original, outer.active
            (True, False)
            >>> outer.stop()
            Traceback (most recent call last):
                ...
            embtable._errors.OptionError: this patch is not active; call start() first
        """
        if self._saved is None:
            raise OptionError("this patch is not active; call start() first")
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved = None

    def __enter__(self) -> patch:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


_REPLACEMENTS: dict[type, type] = {
    torch.nn.Embedding: Embedding,
    torch.nn.EmbeddingBag: EmbeddingBag,
}


def _converted(module: torch.nn.Module) -> torch.nn.Module:
    """An embtable module holding ``module``'s state (the same parameters and buffers)."""
    cls = _REPLACEMENTS[type(module)]
    new = cls.__new__(cls)
    # the module's containers are copied (parameters, buffers, hooks are the same objects), so
    # that later changes to the old module do not reach the new one
    new.__dict__.update(
        {
            key: copy.copy(value) if isinstance(value, dict) else value
            for key, value in module.__dict__.items()
        }
    )
    new.optimizer = None
    return new


def convert(model: torch.nn.Module) -> torch.nn.Module:
    """Swap every ``torch.nn.Embedding`` / ``torch.nn.EmbeddingBag`` in ``model`` for embtable's.

    Only modules of exactly those types are swapped (subclasses may override ``forward``).
    Each new module keeps the old one's ``weight`` (the same ``Parameter``: values, device,
    dtype, ``requires_grad``, and optimizers that hold it), options (``padding_idx``,
    ``max_norm``, ``sparse``, ``mode``, ...), training flag and hooks; a module shared by several
    parents becomes one shared embtable module.

    Args:
        model: any module; changed in place.

    Returns:
        ``model``, or its replacement when ``model`` itself is an ``Embedding`` or
        ``EmbeddingBag``.

    Example:
        >>> import torch, embtable.torch as et
        >>> model = torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Linear(4, 2))
        >>> weight = model[0].weight
        >>> model = et.convert(model)
        >>> type(model[0]).__name__, model[0].weight is weight
        ('Embedding', True)
    """
    if not isinstance(model, torch.nn.Module):
        raise OptionTypeError(f"convert() expects a torch.nn.Module, got {type(model).__name__}")
    memo: dict[int, torch.nn.Module] = {}

    def visit(module: torch.nn.Module) -> torch.nn.Module:
        key = id(module)
        if key in memo:
            return memo[key]
        if type(module) in _REPLACEMENTS:
            memo[key] = _converted(module)
            return memo[key]
        memo[key] = module
        for name, child in list(module._modules.items()):
            if child is not None:
                replacement = visit(child)
                if replacement is not child:
                    module._modules[name] = replacement
        return module

    return visit(model)
