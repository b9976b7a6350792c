"""Entry point of the ``embtable`` command line (``embtable`` or ``python -m embtable.cli``).

Exit status: 0 on success; 1 for an error in the input or the environment (a missing or
malformed file, an unknown word, an unwritable output: one line ``embtable: error: ...`` on
standard error, no traceback); 2 for a usage error (argparse's message); 130 when interrupted;
141 (as a process killed by SIGPIPE) when standard output is closed early, e.g. by ``| head``,
without a message.

Only embtable's own errors (:class:`~embtable.EmbtableError`) and operating-system errors
(``OSError``: a missing file, a permission) become that one line; any other exception is a bug
and keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from embtable._errors import EmbtableError
from embtable.cli import convert, evaluate, explore, info, similar, train
from embtable.cli._common import PROG, HelpFormatter, cli_message, describe_os_error, fail

__all__ = ["build_parser", "main"]

_EPILOG = """\
examples:
  embtable train -o out/default              # train on the bundled corpus
  embtable similar out/default war congress  # nearest neighbours
  embtable evaluate out/default              # WordSim-353 and Google analogies
  embtable convert out/default vectors.bin --to word2vec-binary
  embtable info out/default
  embtable explore out/default -o explore.html  # a page to look at the vectors
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
    for module in (train, similar, evaluate, convert, info, explore):
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
        status = int(args.run(args))
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return status
    except BrokenPipeError:
        return _broken_pipe()
    except EmbtableError as err:
        text = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        return fail(cli_message(text, _flags(parser, args.command)))
    except OSError as err:
        return fail(describe_os_error(err))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


_SIGPIPE_STATUS = 128 + 13


def _broken_pipe() -> int:
    """Standard output was closed by its reader: stop quietly, as a SIGPIPE-killed process.

    Later writes (Python flushes ``sys.stdout`` at exit) go to ``/dev/null`` so that no
    second error is printed.
    """
    if sys.stdout is sys.__stdout__ and sys.stdout is not None:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):  # pragma: no cover - no file descriptor to redirect
            pass
    return _SIGPIPE_STATUS


def _flags(parser: argparse.ArgumentParser, command: str) -> set[str]:
    """The option strings of sub-command ``command``."""
    for action in parser._subparsers._group_actions if parser._subparsers else ():
        choices = getattr(action, "choices", None)
        if isinstance(choices, dict) and command in choices:
            return set(choices[command]._option_string_actions)
    return set()  # pragma: no cover - every command has a sub-parser


if __name__ == "__main__":
    sys.exit(main())
