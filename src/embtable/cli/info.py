"""``embtable info``: describe a table directory or a vectors file."""

from __future__ import annotations

import argparse
import os
from typing import Any

from embtable.cli._common import HelpFormatter, add_load_options, load_options

__all__ = ["add_parser", "run"]

_EXAMPLE = """\
Prints the format, the shape, the first tokens, a table's config.json, and for a table written
by `embtable train` its training record (meta.json: hyper-parameters, corpus statistics, time).
The shape comes without parsing a number: from the header of word2vec and fastText files, by
counting the lines of a GloVe file, from the safetensors header of a table. --check reads every
number (checking the whole file) and counts the rows holding NaN or infinity.

examples:
  embtable info out/default
  embtable info vectors.bin
  embtable info glove.6B.50d.txt --check
"""

_META_SECTIONS = ("hyperparameters", "corpus", "training")


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``info`` sub-command to ``commands``.

    Example:
        >>> parser = argparse.ArgumentParser(prog="embtable")
        >>> add_parser(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["info", "vectors.txt", "--check"])
        >>> args.directory, args.format, args.check
        ('vectors.txt', None, True)
    """
    parser = commands.add_parser(
        "info",
        help="describe a table directory or vectors file",
        description="Describe a table directory or a vectors file.",
        epilog=_EXAMPLE,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("directory", metavar="DIR", help="a table directory or a vectors file")
    add_load_options(parser)
    parser.add_argument(
        "--check",
        action="store_true",
        help="read every number, and count the rows holding NaN or infinity",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the description; return the exit status.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "g.txt").write_text("cat 1 0\\ndog 0 1\\n")
        >>> parser = argparse.ArgumentParser(prog="embtable")
        >>> add_parser(parser.add_subparsers(dest="command"))
        >>> run(parser.parse_args(["info", str(folder / "g.txt")]))  # doctest: +ELLIPSIS
        path:    /.../g.txt
        format:  glove
        vectors: 2 x 2 (lines counted)
        tokens:  cat, dog
        0
    """
    import numpy as np

    from embtable._errors import VectorFormatError
    from embtable.io import registry
    from embtable.io._atomic import check_input_file
    from embtable.io._detect import detect_format
    from embtable.io.tables import CONFIG_FILE, read_json

    path = args.directory
    if not os.path.exists(path):
        raise FileNotFoundError(2, "no such file or directory", path)
    if not os.path.isdir(path):
        check_input_file(path)
    fmt = args.format or detect_format(path)
    summary = registry.peek(path, fmt)
    entry = registry.get(fmt)
    config = meta = None
    if entry.directory and os.path.isfile(os.path.join(path, CONFIG_FILE)):
        config = read_json(os.path.join(path, CONFIG_FILE))
        if not isinstance(config, dict):
            raise VectorFormatError(
                f"{CONFIG_FILE}: expected a JSON object, found {type(config).__name__}"
            )
    meta_path = os.path.join(path, "meta.json")
    if entry.directory and os.path.isfile(meta_path):
        meta = _read_meta(meta_path)
    print(f"path:    {os.fspath(path)}")
    print(f"format:  {fmt}")
    dtype = f" {summary.dtype}" if summary.dtype else ""
    print(f"vectors: {summary.rows:,} x {summary.dim}{dtype} ({summary.source})")
    more = ", ..." if summary.rows > len(summary.tokens) else ""
    print(f"tokens:  {', '.join(_shown(token) for token in summary.tokens)}{more}")
    if config:
        print(f"config:  {_pairs(config)}")
    if meta is not None:
        print("training (meta.json):")
        for section in _META_SECTIONS:
            if section in meta:
                print(f"  {section}: {_pairs(meta[section])}")
    if args.check:
        tokens, matrix = registry.as_pair(registry.read(path, format=fmt, **load_options(args)))
        bad = np.flatnonzero(~np.isfinite(matrix).all(axis=1))
        if bad.size:
            first = ", ".join(repr(tokens[i]) for i in bad[:5].tolist())
            print(
                f"check:   {bad.size:,} of {len(tokens):,} rows hold NaN or infinity "
                f"(first: {first})"
            )
        else:
            print(f"check:   all {len(tokens):,} rows read; every number is finite")
    return 0


def _read_meta(meta_path: str) -> dict[str, Any]:
    """``meta.json`` of a trained table, checked: an object whose sections are objects."""
    from embtable._errors import VectorFormatError
    from embtable.io._open import open_regular
    from embtable.io.tables import parse_json

    with open_regular(meta_path) as stream:
        meta = parse_json(stream.read(), meta_path)
    if not isinstance(meta, dict):
        raise VectorFormatError(
            f"{meta_path}: not a valid meta.json: expected a JSON object, got {type(meta).__name__}"
        )
    for section in _META_SECTIONS:
        if section in meta and not isinstance(meta[section], dict):
            raise VectorFormatError(
                f"{meta_path}: not a valid meta.json: {section!r} must be a JSON object, got "
                f"{type(meta[section]).__name__}"
            )
    return meta


_TOKEN_CHARS = 40  # longer tokens are cut in the listing (a token may hold 16 MiB)


def _shown(token: str) -> str:
    """``token`` for the one-line listing: line breaks escaped, cut after 40 characters."""
    text = token if token.isprintable() else repr(token)[1:-1]
    return text if len(text) <= _TOKEN_CHARS else text[: _TOKEN_CHARS - 1] + "\u2026"


def _pairs(values: dict[str, Any]) -> str:
    """``key=value, ...`` on one line (nested values as their JSON-like repr)."""
    return ", ".join(f"{key}={value}" for key, value in values.items())
