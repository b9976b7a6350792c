"""The ``embtable`` command line: ``train``, ``similar``, ``evaluate``, ``convert``, ``info``,
``explore``.

Run it as ``embtable`` (the console script), ``python -m embtable`` or
``python -m embtable.cli``; ``embtable --help``
lists the commands and ``embtable COMMAND --help`` shows each one's options and an example.
One module per sub-command; :mod:`embtable.cli.__main__` holds :func:`main`.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line on ``argv`` (default ``sys.argv[1:]``); return the exit status.

    See :func:`embtable.cli.__main__.main`.

    Example:
        >>> main(["info", "no/such/table"])
        1
    """
    from embtable.cli.__main__ import main as _main

    return _main(argv)
