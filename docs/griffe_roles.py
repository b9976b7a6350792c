"""Griffe extension: turn embtable's reST-flavoured docstrings into Markdown for the site.

Two rewrites, applied to every docstring before mkdocstrings parses its sections:

* doctest blocks (a ``>>>`` line, its ``...`` continuations and its expected output, up to a
  blank line) are fenced as ``pycon`` code, wherever they sit: the docstrings title their
  examples ``Example:``, which griffe renders as an admonition whose body is Markdown, where
  ``[...]`` output would read as links;
* Sphinx roles (``:func:`~embtable.io.detect_format```, ``:class:`Vectors```) become code spans,
  ``~`` keeping only the last name as in Sphinx; Markdown would print the role literally.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|data|exc|obj|const|term):`(~?)([^`]+)`")


def _code(match: re.Match[str]) -> str:
    short, target = match.groups()
    target = target.strip()
    if "<" in target and target.endswith(">"):  # :func:`title <target>`
        target = target.split("<", 1)[0].strip()
    if short:
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def to_markdown(text: str) -> str:
    """Fence doctest blocks and rewrite Sphinx roles outside code.

    Example:
        >>> print(to_markdown("See :func:`~a.b`.\\n\\n>>> f()\\n[1]\\n\\nEnd."))
        See `b`.
        <BLANKLINE>
        ```pycon
        >>> f()
        [1]
        ```
        <BLANKLINE>
        End.
    """
    lines = text.split("\n")
    out: list[str] = []
    fenced = False
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        if stripped.startswith("```"):
            fenced = not fenced
            out.append(line)
            i += 1
            continue
        if not fenced and stripped.startswith(">>>"):
            indent = line[: len(line) - len(stripped)]
            out.append(f"{indent}```pycon")
            while i < len(lines) and lines[i].strip() and lines[i].startswith(indent):
                out.append(lines[i])
                i += 1
            out.append(f"{indent}```")
            continue
        out.append(line if fenced else _ROLE.sub(_code, line))
        i += 1
    return "\n".join(out)


class SphinxRoles(griffe.Extension):
    """Rewrite every docstring with :func:`to_markdown`."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)
