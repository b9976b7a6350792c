"""MkDocs hook: one API page per public module of ``src/embtable``, found by walking the tree.

A module is public when no part of its dotted name starts with ``_``. Each page holds a single
``::: module`` directive for mkdocstrings, which reads the docstrings statically (griffe), so
building the site imports nothing: ``embtable.torch`` is documented without torch installed.
Generated pages live under ``api/``; mkdocs builds the navigation from them.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "embtable"

# Public in name, internal in role: compiled loops that trust their inputs (see STYLE.md).
INTERNAL = ("embtable.kernels",)


def public_modules() -> list[str]:
    """Dotted names of the public modules and packages, sorted."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if any(part.startswith("_") for part in parts) or "__pycache__" in parts:
            continue
        name = ".".join(parts)
        if any(name == i or name.startswith(i + ".") for i in INTERNAL):
            continue
        names.append(name)
    return names


def page_path(module: str) -> str:
    """``embtable.io.tables`` -> ``api/io/tables.md``; packages get an ``index.md``."""
    parts = module.split(".")[1:]
    is_package = (PACKAGE.joinpath(*parts) / "__init__.py").is_file()
    if not parts:
        return "api/index.md"
    return "api/" + "/".join(parts) + ("/index.md" if is_package else ".md")


def api_nav() -> list:
    """The navigation of the API pages: one entry per module, packages as sections."""
    sections: dict[str, list] = {}
    entries: list = []
    for module in public_modules():
        path = page_path(module)
        parts = module.split(".")
        if path.endswith("/index.md") and len(parts) > 1:
            section: list = [{module: path}]
            sections[module] = section
            entries.append({module: section})
        elif len(parts) > 2 and ".".join(parts[:-1]) in sections:
            sections[".".join(parts[:-1])].append({module: path})
        else:
            entries.append({module: path})
    return entries


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    config["nav"] = [
        {"Home": "index.md"},
        {"The explorer page": "explore.md"},
        {"API reference": api_nav()},
    ]
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for module in public_modules():
        files.append(File.generated(config, page_path(module), content=f"::: {module}\n"))
    return files
