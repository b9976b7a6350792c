"""``embtable info``: describe a table directory or a vectors file."""

from __future__ import annotations

import argparse
import json
import os

from embtable.cli._common import FORMATS, HelpFormatter, fail, load_vectors

__all__ = ["add_parser", "run"]

_EXAMPLE = """\
Prints the format, the shape and dtype, the first tokens, and for a table written by
`embtable train` its training record (meta.json: hyper-parameters, corpus statistics, time).

examples:
  embtable info out/default
  embtable info vectors.bin
"""


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``info`` sub-command to ``commands``."""
    parser = commands.add_parser(
        "info",
        help="describe a table directory or vectors file",
        description="Describe a table directory or a vectors file.",
        epilog=_EXAMPLE,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("directory", metavar="DIR", help="a table directory or a vectors file")
    parser.add_argument(
        "--format", choices=FORMATS, default=None, help="format of DIR (default: detected)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the description; return the exit status."""
    from embtable.io import detect_format

    vectors = load_vectors(args.directory, args.format)
    fmt = args.format or detect_format(args.directory)
    meta = None
    meta_path = os.path.join(args.directory, "meta.json")
    if os.path.isdir(args.directory) and os.path.isfile(meta_path):
        try:
            with open(meta_path, encoding="utf-8") as stream:
                meta = json.load(stream)
            if not isinstance(meta, dict):
                raise ValueError(f"expected a JSON object, got {type(meta).__name__}")
        except ValueError as err:  # json.JSONDecodeError is a ValueError
            return fail(f"{meta_path}: not a valid meta.json: {err}")
    rows, dim = vectors.matrix.shape
    print(f"path:    {os.fspath(args.directory)}")
    print(f"format:  {fmt}")
    print(f"vectors: {rows:,} x {dim} {vectors.matrix.dtype}")
    head = ", ".join(vectors.tokens[:10])
    print(f"tokens:  {head}{', ...' if rows > 10 else ''}")
    if meta is not None:
        print("training (meta.json):")
        for section in ("hyperparameters", "corpus", "training"):
            values = meta.get(section, {})
            text = ", ".join(f"{key}={value}" for key, value in values.items())
            print(f"  {section}: {text}")
    return 0
