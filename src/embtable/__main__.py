"""``python -m embtable``: the command line, as the ``embtable`` script (see :mod:`embtable.cli`).

Example:
    >>> import subprocess, sys
    >>> subprocess.run([sys.executable, "-m", "embtable", "--help"], capture_output=True,
    ...                text=True, check=True).stdout.startswith("usage: embtable")
    True
"""

from __future__ import annotations

import sys

from embtable.cli.__main__ import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
