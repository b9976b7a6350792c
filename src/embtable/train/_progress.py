"""Progress bars of the corpus reader and the trainer: tqdm on standard error, sized to fit."""

from __future__ import annotations

import os
import sys
from typing import Any

__all__ = ["bar"]


def _columns() -> int | None:
    """The width of standard error's terminal, else ``$COLUMNS``, else ``None`` (tqdm's own)."""
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError, AttributeError):
        pass
    text = os.environ.get("COLUMNS", "")
    return int(text) if text.isdigit() and int(text) > 0 else None


def bar(*, total: int | None, unit: str, desc: str, enabled: bool, **options: Any) -> Any:
    """A tqdm bar whose left part (``desc``: the essentials) survives a narrow terminal.

    tqdm first shortens the bar itself to fit ``ncols``, and only then trims the line's right
    end, so what matters (epoch, loss, learning rate) goes first and the rate last.

    Example:
        >>> with bar(total=10, unit="word", desc="epoch 1/1", enabled=False) as progress:
        ...     progress.update(10)
    """
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        unit=unit,
        unit_scale=True,
        desc=desc,
        disable=not enabled,
        file=sys.stderr,
        ncols=_columns(),
        bar_format="{desc} {percentage:3.0f}%|{bar}| {rate_fmt}",
        **options,
    )
