"""The record of a training run, as the explorer page draws it."""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from .._errors import VectorFormatError

__all__ = ["COLUMN_NAMES", "TRAINING_COLUMNS", "TrainingLog", "read_training_log"]

TRAINING_COLUMNS = ("epoch", "words", "loss", "lr", "words_per_sec")
"""The series the page draws (``words`` or ``epoch`` on the x axis), by their short names."""

COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "epoch": ("epoch",),
    "words": ("words", "words_done"),
    "loss": ("loss",),
    "lr": ("lr", "learning_rate"),
    "words_per_sec": ("words_per_sec", "words_per_second"),
}
"""The header names read for each series: the short ones, and those ``embtable train`` writes
(:data:`embtable.train.sgns.CSV_COLUMNS`); the first present wins."""

_CSV = "training.csv"
_META = "meta.json"


@dataclass(frozen=True)
class TrainingLog:
    """Training curves: one list per column, ``None`` where a row had no number.

    Attributes:
        columns: ``{name: values}`` for the names of :data:`TRAINING_COLUMNS` that were found,
            in that order; all lists have the same length.
        source: the file they came from (``"training.csv"``, or ``"meta.json"`` for the
            per-epoch losses of a table written before ``training.csv`` existed).

    Example:
        >>> log = TrainingLog({"epoch": [1.0, 2.0], "loss": [2.9, None]}, "meta.json")
        >>> len(log), log.columns["loss"]
        (2, [2.9, None])
    """

    columns: dict[str, list[float | None]] = field(default_factory=dict)
    source: str = _CSV

    def __len__(self) -> int:
        """The number of rows (0 for an empty log)."""
        return max((len(values) for values in self.columns.values()), default=0)


def _number(text: str | None) -> float | None:
    if text is None or text.strip() == "":
        return None
    value = float(text)  # ValueError for text that is not a number; the caller names the line
    return value if math.isfinite(value) else None


def _read_csv(path: Path) -> TrainingLog:
    with open(path, encoding="utf-8", newline="") as stream:
        reader = csv.DictReader(stream)
        header = reader.fieldnames or []
        sources = {}  # series -> the header name it is read from
        for series in TRAINING_COLUMNS:
            found = next((name for name in COLUMN_NAMES[series] if name in header), None)
            if found is not None:
                sources[series] = found
        columns: dict[str, list[float | None]] = {series: [] for series in sources}
        for row in reader:
            for series, name in sources.items():
                try:
                    columns[series].append(_number(row.get(name)))
                except ValueError:
                    raise VectorFormatError(
                        f"{path}:{reader.line_num}: column {name!r} holds {row.get(name)!r}, "
                        f"not a number"
                    ) from None
    return TrainingLog(columns, _CSV)


def _read_meta(path: Path) -> TrainingLog | None:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise VectorFormatError(f"{path}: not valid UTF-8 JSON ({err})") from err
    losses = meta.get("epoch_losses") if isinstance(meta, dict) else None
    if not isinstance(losses, list) or not losses:
        return None
    values: list[float | None] = []
    for loss in losses:
        if isinstance(loss, bool) or not isinstance(loss, (int, float)):
            raise VectorFormatError(f"{path}: epoch_losses holds {loss!r}, not a number")
        values.append(float(loss) if math.isfinite(loss) else None)
    epochs: list[float | None] = [float(epoch) for epoch in range(1, len(values) + 1)]
    return TrainingLog({"epoch": epochs, "loss": values}, _META)


def read_training_log(directory: str | os.PathLike[str]) -> TrainingLog | None:
    """Read the training record of a table directory, if it has one.

    ``training.csv`` (written by ``embtable train``: a header line, then one row per
    interval) is read for the series of :data:`TRAINING_COLUMNS` it has, under either name of
    :data:`COLUMN_NAMES` (``words_done`` for ``words``, ``learning_rate`` for ``lr``,
    ``words_per_second`` for ``words_per_sec``); other columns are ignored and missing ones
    left out; empty cells and non-finite numbers become ``None``.
    Without it, ``meta.json``'s ``epoch_losses`` give one loss per epoch.

    Returns:
        a :class:`TrainingLog`, or ``None`` when the directory holds neither record (or
        ``directory`` is a vectors file, not a directory).

    Raises:
        VectorFormatError: a cell is not a number, or ``meta.json`` is not valid JSON; the
            message names the file and line.

    Example:
        >>> import tempfile, pathlib
        >>> table = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (table / "training.csv").write_text("epoch,words,loss\\n1,500,2.9\\n1,1000,2.5\\n")
        >>> log = read_training_log(table)
        >>> log.columns, log.source
        ({'epoch': [1.0, 1.0], 'words': [500.0, 1000.0], 'loss': [2.9, 2.5]}, 'training.csv')
    """
    root = Path(directory)
    if not root.is_dir():
        return None
    if (root / _CSV).is_file():
        return _read_csv(root / _CSV)
    if (root / _META).is_file():
        return _read_meta(root / _META)
    return None
