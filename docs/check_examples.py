"""List the public functions, classes and methods of embtable whose docstring has no ``>>>``
example.

Usage: ``python docs/check_examples.py [--fail]`` from the repository root (needs griffe, which
``mkdocstrings[python]`` installs). The source is read statically, so ``embtable.torch`` is
checked without torch installed.

Public means: in a module none of whose dotted parts starts with ``_`` (the compiled kernels
of ``embtable.kernels`` excepted, as in the API site), named in its ``__all__`` (or, without
one, not starting with ``_``); for a class, also its methods not starting with ``_``
(properties excluded). An object exported by several modules counts once, under the first
public name found. ``--fail`` exits with status 1 when any name lacks an example.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import griffe

ROOT = Path(__file__).resolve().parents[1]
INTERNAL = ("embtable.kernels",)


def _is_public_module(path: str) -> bool:
    parts = path.split(".")
    if any(part.startswith("_") for part in parts):
        return False
    return not any(path == i or path.startswith(i + ".") for i in INTERNAL)


def _modules(module: griffe.Module) -> Iterator[griffe.Module]:
    if _is_public_module(module.path):
        yield module
    for member in module.modules.values():
        if not member.is_alias:
            yield from _modules(member)


def _exported(module: griffe.Module) -> Iterator[tuple[str, griffe.Object]]:
    names = module.exports
    if names is None:
        names = [name for name in module.members if not name.startswith("_")]
    for name in sorted(str(n) for n in names):
        member = module.members.get(name)
        if member is None:
            continue
        if member.is_alias:
            try:
                member = member.final_target
            except (griffe.AliasResolutionError, griffe.CyclicAliasError):
                continue  # defined outside embtable (e.g. a re-exported numpy name)
        if member.is_function or member.is_class:
            yield f"{module.path}.{name}", member


def _has_example(obj: griffe.Object) -> bool:
    text = obj.docstring.value if obj.docstring else ""
    return any(line.lstrip().startswith(">>>") for line in text.splitlines())


def public_objects() -> list[tuple[str, griffe.Object]]:
    """``(public name, object)`` for every public function, class and method, in module order."""
    package = griffe.load("embtable", search_paths=[str(ROOT / "src")], resolve_aliases=False)
    seen: set[str] = set()
    found: list[tuple[str, griffe.Object]] = []
    for module in _modules(package):
        for name, obj in _exported(module):
            if obj.path in seen:
                continue
            seen.add(obj.path)
            found.append((name, obj))
            if obj.is_class:
                for method_name, method in obj.members.items():
                    if method.is_alias or not method.is_function or method_name.startswith("_"):
                        continue
                    if "property" in method.labels or method.path in seen:
                        continue
                    seen.add(method.path)
                    found.append((f"{name}.{method_name}", method))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fail", action="store_true", help="exit 1 if any name lacks one")
    args = parser.parse_args(argv)
    objects = public_objects()
    missing = [(name, obj) for name, obj in objects if not _has_example(obj)]
    for name, _ in missing:
        print(name)
    errors = sum(obj.path.startswith("embtable._errors.") for _, obj in missing)
    print(
        f"{len(missing)} of {len(objects)} public functions, classes and methods have no "
        f">>> example ({errors} of them error classes)",
        file=sys.stderr,
    )
    return 1 if args.fail and missing else 0


if __name__ == "__main__":
    sys.exit(main())
