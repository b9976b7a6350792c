"""The API reference site: ``mkdocs build --strict`` passes and covers every public module;
``docs/check_examples.py`` lists the public names without a ``>>>`` example.

Without mkdocs (``pip install mkdocs mkdocstrings[python]``) these tests skip, except under
``CI=true``, where they fail: CI must build the site.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

# The modules the reference must cover (issue 16), and where their pages land.
REQUIRED_PAGES = {
    "embtable": "api/index.html",
    "embtable.functional": "api/functional/index.html",
    "embtable.optim": "api/optim/index.html",
    "embtable.layers": "api/layers/index.html",
    "embtable.text": "api/text/index.html",
    "embtable.text.vocab": "api/text/vocab/index.html",
    "embtable.vectors": "api/vectors/index.html",
    "embtable.io": "api/io/index.html",
    "embtable.io.projector": "api/io/projector/index.html",
    "embtable.evaluate": "api/evaluate/index.html",
    "embtable.train": "api/train/index.html",
    "embtable.torch": "api/torch/index.html",
    "embtable.cli": "api/cli/index.html",
    "embtable.cli.explore": "api/cli/explore/index.html",
    "embtable.explore": "api/explore/index.html",
}


def _need(module: str, install: str) -> None:
    if importlib.util.find_spec(module) is None:
        message = f"{module} is not installed: {install}"
        if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
            pytest.fail(f"CI=true and {message}")
        pytest.skip(message)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _need("mkdocs", "pip install 'mkdocs>=1.6' 'mkdocstrings[python]>=0.26'")
    _need("mkdocstrings_handlers.python", "pip install 'mkdocstrings[python]>=0.26'")
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return out


def test_site_builds_strict_with_a_page_per_required_module(site: Path) -> None:
    for module, page in REQUIRED_PAGES.items():
        html = (site / page).read_text(encoding="utf-8")
        assert f'id="{module}"' in html, f"{page} does not document {module}"


def test_pages_show_docstrings_signatures_and_examples(site: Path) -> None:
    html = (site / "api/vectors/index.html").read_text(encoding="utf-8")
    assert 'id="embtable.vectors.Vectors.most_similar"' in html
    assert (
        "The <code>k</code> tokens of highest cosine similarity" in html or "most_similar" in html
    )
    assert '<span class="gp">&gt;&gt;&gt; </span>' in html  # doctests rendered as pycon code
    assert ":func:`" not in html and ":class:`" not in html  # Sphinx roles rewritten
    explore = (site / "explore/index.html").read_text(encoding="utf-8")
    assert 'src="../explore.png"' in explore and (site / "explore.png").is_file()


def test_every_public_module_has_a_page(site: Path) -> None:
    sys.path.insert(0, str(DOCS))
    try:
        import hooks
    finally:
        sys.path.remove(str(DOCS))
    modules = hooks.public_modules()
    assert set(REQUIRED_PAGES) <= set(modules)
    assert not any(m.startswith("embtable.kernels") or "._" in m for m in modules)
    for module in modules:
        source = hooks.page_path(module)  # api/io/index.md, api/io/tables.md
        built = (
            source.removesuffix("index.md") if source.endswith("index.md") else source[:-3] + "/"
        )
        html = (site / built / "index.html").read_text(encoding="utf-8")
        assert f'id="{module}"' in html, f"{built} does not document {module}"


def test_doctest_blocks_and_roles_become_markdown() -> None:
    _need("griffe", "pip install 'mkdocstrings[python]>=0.26'")
    sys.path.insert(0, str(DOCS))
    try:
        from griffe_roles import to_markdown
    finally:
        sys.path.remove(str(DOCS))
    text = "Use :meth:`Vectors.load` or :func:`~embtable.io.read`.\n\n    >>> f([1])\n    [1]\n"
    assert to_markdown(text) == (
        "Use `Vectors.load` or `read`.\n\n    ```pycon\n    >>> f([1])\n    [1]\n    ```\n"
    )
    fenced = "```python\n>>> not a doctest block :func:`x`\n```"
    assert to_markdown(fenced) == fenced


def test_check_examples_lists_names_without_examples() -> None:
    _need("griffe", "pip install 'mkdocstrings[python]>=0.26'")
    result = subprocess.run(
        [sys.executable, str(DOCS / "check_examples.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    missing = result.stdout.split()
    summary = result.stderr.strip().splitlines()[-1]
    assert summary.startswith(f"{len(missing)} of ")
    assert "public functions, classes and methods have no >>> example" in summary
    assert all(name.startswith("embtable.") for name in missing)
    assert "embtable.vectors.Vectors" not in missing  # it has examples
    assert not any(name.startswith("embtable.explore") for name in missing)
    strict = subprocess.run(
        [sys.executable, str(DOCS / "check_examples.py"), "--fail"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert strict.returncode == (1 if missing else 0)
