"""Helpers shared by the sub-commands: error reporting, loading vectors, format choices.

The formats come from the registry (:mod:`embtable.io.registry`), so every command offers the
same names and a new format reaches the command line by its registry entry alone.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import TYPE_CHECKING, Any

from embtable.io import registry

if TYPE_CHECKING:
    from embtable.vectors import Vectors

__all__: list[str] = []

PROG = "embtable"

FORMATS = registry.readable()
"""Formats the commands read (``--format``, ``--from``); ``fasttext`` is fastText's ``.vec``."""

WRITE_FORMATS = registry.writable()
"""Formats ``convert --to`` writes."""


def formats_help() -> str:
    """One line per format of the registry: its name, what it is, and its suffixes.

    Example:
        >>> print(formats_help().splitlines()[0])
          word2vec         word2vec text: a "V D" header, then "token n1 ... nD" lines (.txt, .vec)
    """
    lines = []
    for entry in registry.FORMATS:
        suffixes = f" ({', '.join(entry.suffixes)})" if entry.suffixes else ""
        lines.append(f"  {entry.name:<16} {entry.description}{suffixes}")
    return "\n".join(lines)


def positive_int(text: str) -> int:
    """An argparse ``type`` for counts: an integer >= 1.

    Example:
        >>> positive_int("3")
        3
        >>> positive_int("0")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: must be an integer >= 1, got '0'
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def fail(message: str) -> int:
    """Print ``embtable: error: message`` (one line) on standard error and return 1."""
    line = " ".join(message.split())  # one line, whatever the message holds
    print(f"{PROG}: error: {line}", file=sys.stderr)
    return 1


def describe_os_error(err: OSError) -> str:
    """One line for an ``OSError``: its reason and the path, without the errno prefix."""
    reason = err.strerror or str(err)
    if err.filename is not None:
        return f"{reason}: {os.fspath(err.filename)}"
    return reason


# Python spellings of options in library messages ("pass duplicates='first' or 'last'"),
# rewritten to the flags of the running command.
_FLAGS = {
    "duplicates": ("--duplicates",),
    "unicode_errors": ("--unicode-errors",),
    "format": ("--format", "--from"),
    "projection": ("--projection",),
}
_PYTHON_OPTION = re.compile(
    rf"\b(?P<name>{'|'.join(_FLAGS)})=(?P<q>['\"])(?P<value>[\w-]+)(?P=q)"
    r"(?P<alternative> or (?P<q2>['\"])(?P<value2>[\w-]+)(?P=q2))?"
)


def cli_message(message: str, flags: set[str] | frozenset[str]) -> str:
    """Rewrite the Python options a library message suggests into the command's flags.

    ``flags`` are the option strings of the running command; a suggestion the command has no
    flag for is left as it is.

    Example:
        >>> cli_message("duplicate 'a'; pass duplicates='first' or 'last' to keep one",
        ...             {"--duplicates"})
        "duplicate 'a'; pass --duplicates first or --duplicates last to keep one"
        >>> cli_message("headerless files are GloVe (format='glove')", {"--from"})
        'headerless files are GloVe (--from glove)'
    """

    def replace(match: re.Match[str]) -> str:
        flag = next((f for f in _FLAGS[match["name"]] if f in flags), None)
        if flag is None:
            return match[0]
        text = f"{flag} {match['value']}"
        if match["alternative"]:
            text += f" or {flag} {match['value2']}"
        return text

    return _PYTHON_OPTION.sub(replace, message)


def add_load_options(parser: argparse.ArgumentParser, *, format_flag: str = "--format") -> None:
    """Add the input options every reading command takes: the format, ``--duplicates`` and
    ``--unicode-errors``.

    ``format_flag`` is ``--format`` (``dest="format"``) or ``--from`` (``dest="source_format"``).
    """
    dest = "format" if format_flag == "--format" else "source_format"
    parser.add_argument(
        format_flag,
        dest=dest,
        choices=registry.readable(),
        default=None,
        help="input format (default: detected)",
    )
    parser.add_argument(
        "--duplicates",
        choices=("error", "first", "last"),
        default="error",
        help="a token that repeats: an error, or keep its first or last vector",
    )
    parser.add_argument(
        "--unicode-errors",
        dest="unicode_errors",
        choices=("strict", "replace", "ignore"),
        default="strict",
        help="tokens that are not valid UTF-8: an error, or replace or drop the bad bytes",
    )


def load_options(args: argparse.Namespace) -> dict[str, Any]:
    """The reading options of :func:`add_load_options` that ``args`` holds, non-defaults only."""
    options: dict[str, Any] = {}
    if getattr(args, "duplicates", "error") != "error":
        options["duplicates"] = args.duplicates
    if getattr(args, "unicode_errors", "strict") != "strict":
        options["unicode_errors"] = args.unicode_errors
    return options


def load_vectors(path: str, fmt: str | None = None, **options: Any) -> Vectors:
    """Load vectors from a table directory or a vectors file (format detected when ``None``).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        OutputError: ``path`` is a FIFO, device or socket (refused without blocking).
        VectorFormatError: the file is malformed.
    """
    from embtable.io._atomic import check_input_file
    from embtable.vectors import Vectors

    if not os.path.exists(path):
        raise FileNotFoundError(2, "no such file or directory", path)
    if not os.path.isdir(path):
        check_input_file(path)
    return Vectors.load(path, format=fmt or "auto", **options)


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
