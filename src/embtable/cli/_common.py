"""Helpers shared by the sub-commands: error reporting and loading vectors."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from embtable.vectors import Vectors

__all__: list[str] = []

PROG = "embtable"

FORMATS = ("embtable", "word2vec", "word2vec-binary", "glove", "fasttext")
"""Formats the commands read and write; ``fasttext`` is fastText's ``.vec`` text."""


def fail(message: str) -> int:
    """Print ``embtable: error: message`` on standard error and return exit status 1."""
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 1


def describe_os_error(err: OSError) -> str:
    """One line for an ``OSError``: its reason and the path, without the errno prefix."""
    reason = err.strerror or str(err)
    if err.filename is not None:
        return f"{reason}: {os.fspath(err.filename)}"
    return reason


def load_vectors(path: str, fmt: str | None = None) -> Vectors:
    """Load vectors from a table directory or a vectors file (format detected when ``None``).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        VectorFormatError: the file is malformed.
    """
    from embtable.vectors import Vectors

    if not os.path.exists(path):
        raise FileNotFoundError(2, "no such file or directory", path)
    return Vectors.load(path, format=fmt or "auto")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keep the examples' line breaks and show defaults."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        is_flag = action.nargs == 0  # a switch: its default is implied by its name
        if (
            "%(default)" not in text
            and not is_flag
            and action.default not in (None, False, argparse.SUPPRESS)
        ):
            text += " (default: %(default)s)"
        return text
