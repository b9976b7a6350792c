"""Entry point of the ``embtable`` command line (``embtable`` or ``python -m embtable.cli``).

Exit status: 0 on success, 1 for an error in the input (a missing or malformed file, an unknown
word; one line ``embtable: error: ...`` on standard error, no traceback), 2 for a usage error
(argparse's message), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from embtable._errors import EmbtableError
from embtable.cli import convert, evaluate, info, similar, train
from embtable.cli._common import PROG, HelpFormatter, describe_os_error, fail

__all__ = ["build_parser", "main"]

_EPILOG = """\
examples:
  embtable train -o out/default              # train on the bundled corpus
  embtable similar out/default war congress  # nearest neighbours
  embtable evaluate out/default              # WordSim-353 and Google analogies
  embtable convert out/default vectors.bin --to word2vec-binary
  embtable info out/default
"""


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the whole command line.

    Example:
        >>> parser = build_parser()
        >>> args = parser.parse_args(["similar", "out", "war", "-k", "3"])
        >>> args.command, args.directory, args.words, args.k
        ('similar', 'out', ['war'], 3)
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        package_version = version("embtable")
    except PackageNotFoundError:  # running from a source tree that is not installed
        package_version = "unknown"
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Train, inspect, evaluate and convert word embeddings.",
        epilog=_EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (train, similar, evaluate, convert, info):
        module.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line on ``argv`` (default ``sys.argv[1:]``); return the exit status.

    Example:
        >>> main(["info", "no/such/table"])
        1
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except EmbtableError as err:
        return fail(str(err))
    except OSError as err:
        return fail(describe_os_error(err))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
