"""TensorBoard's Embedding Projector format: a directory of three files.

``tensors.tsv``
    One vector per line, its numbers separated by tabs, no header and no label column (the
    projector takes a non-numeric first field for a label). Numbers are written in the
    shortest form that reads back to the same value of the matrix's dtype.
``metadata.tsv``
    One label (the token) per line, in row order, no header: with a single column the
    projector reads every line as a label, and with tabs it would take the first line for
    column names. It skips blank lines, so tokens must be non-empty and hold no tab or line
    break.
``projector_config.pbtxt``
    A ``ProjectorConfig`` in protobuf text format naming the two files and the shape::

        embeddings {
          tensor_name: "embtable"
          tensor_path: "tensors.tsv"
          metadata_path: "metadata.tsv"
          tensor_shape: 12133
          tensor_shape: 100
        }

``tensorboard --logdir DIR`` shows it in the Projector tab; the standalone projector
(projector.tensorflow.org, "Load") takes the two ``.tsv`` files.

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "projector"
    >>> write_projector(folder, ["cat", "dog"], np.array([[0.5, 1], [-2, 0.25]], np.float32))
    >>> print((folder / "tensors.tsv").read_text().replace("\\t", " <tab> "), end="")
    0.5 <tab> 1.0
    -2.0 <tab> 0.25
    >>> print((folder / "metadata.tsv").read_text(), end="")
    cat
    dog
    >>> read_projector(folder)
    (['cat', 'dog'], array([[ 0.5 ,  1.  ],
           [-2.  ,  0.25]], dtype=float32))
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from .._errors import OptionError, OptionTypeError, ShapeError, VectorFormatError
from ._atomic import atomic_directory, check_input_file

if TYPE_CHECKING:
    from ._detect import Probe
    from .registry import Summary

__all__ = [
    "CONFIG_FILE",
    "METADATA_FILE",
    "TENSORS_FILE",
    "peek_projector",
    "read_projector",
    "sniff_projector",
    "write_projector",
]

TENSORS_FILE = "tensors.tsv"
METADATA_FILE = "metadata.tsv"
CONFIG_FILE = "projector_config.pbtxt"
_SHOWN = 10  # first tokens a peek shows
_ROWS_PER_WRITE = 8192


def _tokens_of(tokens: Sequence[str] | Any) -> list[str]:
    """A list of strings from a sequence or an :class:`embtable.text.Vocab`."""
    return list(getattr(tokens, "id_to_token", tokens))


def _check(tokens: list[str], matrix: NDArray[Any]) -> None:
    if matrix.ndim != 2:
        raise ShapeError(f"matrix must be 2-D (tokens, dimension), got shape {matrix.shape}")
    if matrix.dtype.kind not in "fiu":
        raise OptionTypeError(f"matrix must hold numbers, got dtype {matrix.dtype}")
    if len(tokens) != matrix.shape[0]:
        raise ShapeError(
            f"got {len(tokens)} tokens for a matrix of {matrix.shape[0]} rows; they must match"
        )
    if matrix.shape[1] < 2:
        raise ShapeError(
            f"TensorBoard's projector needs vectors of 2 or more dimensions, got {matrix.shape[1]}"
        )
    for index, token in enumerate(tokens):
        if not isinstance(token, str):
            raise OptionTypeError(f"token {index} must be a string, got {type(token).__name__}")
        if not token.strip() or any(c in token for c in "\t\n\r"):
            raise OptionError(
                f"token {index} ({token!r}) cannot be a projector label: labels must hold "
                f"something besides spaces, and no tab or line break (metadata.tsv is one "
                f"label per line)"
            )
        try:
            token.encode("utf-8")
        except UnicodeEncodeError as err:
            raise OptionError(
                f"token {index} ({token!r}) is not encodable as UTF-8 ({err.reason})"
            ) from None
    finite = np.isfinite(matrix).all(axis=1)
    if not finite.all():
        row = int(np.argmin(finite))
        raise OptionError(
            f"the vector of token {row} ({tokens[row]!r}) holds NaN or infinity, which the "
            f"projector cannot read"
        )


def _quoted(text: str) -> str:
    """A protobuf text-format string literal (UTF-8 kept, quotes and controls escaped)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f'"{escaped}"'


def write_projector(
    path: str | os.PathLike[str],
    tokens: Sequence[str] | Any,
    matrix: ArrayLike,
    *,
    tensor_name: str = "embtable",
) -> None:
    """Write a TensorBoard projector directory (replaced whole, atomically).

    Args:
        path: the directory to write ``tensors.tsv``, ``metadata.tsv`` and
            ``projector_config.pbtxt`` into; an existing directory is replaced.
        tokens: one label per row (a list of strings or an :class:`embtable.text.Vocab`).
        matrix: the ``(len(tokens), D)`` vectors, ``D >= 2``.
        tensor_name: the name the projector lists the tensor under.

    Raises:
        ShapeError: ``matrix`` is not 2-D with one row per token, or has fewer than 2 columns.
        OptionTypeError: the matrix does not hold numbers, or a token is not a string.
        OptionError: a token is blank or holds a tab or line break, or a vector holds NaN or
            infinity; nothing is written then.
        OutputError: the directory cannot be written; an old one stays as it was.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp()) / "p"
        >>> write_projector(folder, ["a", "b"], np.eye(2), tensor_name="demo")
        >>> print((folder / "projector_config.pbtxt").read_text(), end="")
        embeddings {
          tensor_name: "demo"
          tensor_path: "tensors.tsv"
          metadata_path: "metadata.tsv"
          tensor_shape: 2
          tensor_shape: 2
        }
    """
    labels = _tokens_of(tokens)
    array = np.asarray(matrix)
    _check(labels, array)
    if not isinstance(tensor_name, str) or not tensor_name:
        raise OptionError(f"tensor_name must be a non-empty string, got {tensor_name!r}")
    rows, dim = array.shape
    config = (
        "embeddings {\n"
        f"  tensor_name: {_quoted(tensor_name)}\n"
        f'  tensor_path: "{TENSORS_FILE}"\n'
        f'  metadata_path: "{METADATA_FILE}"\n'
        f"  tensor_shape: {rows}\n"
        f"  tensor_shape: {dim}\n"
        "}\n"
    )
    with atomic_directory(path) as staging:
        with open(staging / TENSORS_FILE, "wb") as out:
            for begin in range(0, rows, _ROWS_PER_WRITE):
                texts = array[begin : begin + _ROWS_PER_WRITE].astype(str).tolist()
                out.write("".join("\t".join(row) + "\n" for row in texts).encode("ascii"))
        (staging / METADATA_FILE).write_bytes("".join(f"{t}\n" for t in labels).encode("utf-8"))
        (staging / CONFIG_FILE).write_bytes(config.encode("utf-8"))


_FIELD = re.compile(r'^\s*(tensor_path|metadata_path)\s*:\s*"((?:[^"\\]|\\.)*)"', re.M)


def _config_paths(root: Path) -> tuple[Path, Path | None]:
    """The tensor and metadata files of the first embedding named in the config."""
    config = root / CONFIG_FILE
    found: dict[str, str] = {}
    if config.is_file():
        check_input_file(config)
        try:
            text = config.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise VectorFormatError(f"{CONFIG_FILE}: not valid UTF-8 ({err.reason})") from err
        start = text.find("embeddings")
        end = text.find("embeddings", start + 1)
        block = text[start : end if end > 0 else len(text)] if start >= 0 else ""
        for key, value in _FIELD.findall(block):
            found.setdefault(key, re.sub(r"\\(.)", r"\1", value))
    tensors = root / found.get("tensor_path", TENSORS_FILE)
    metadata = found.get("metadata_path")
    if metadata is None:
        return tensors, (root / METADATA_FILE) if (root / METADATA_FILE).is_file() else None
    return tensors, root / metadata


def _read_labels(path: Path) -> list[str]:
    check_input_file(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise VectorFormatError(f"{path.name}: not valid UTF-8 ({err.reason})") from err
    lines = [line.removesuffix("\r") for line in text.split("\n") if line.strip()]
    if lines and "\t" in lines[0]:  # a header of column names: the first column labels
        return [line.split("\t")[0] for line in lines[1:]]
    return lines


def read_projector(
    path: str | os.PathLike[str],
    *,
    limit: int | None = None,
    dtype: DTypeLike | None = None,
    duplicates: str = "error",
) -> tuple[list[str], NDArray[np.floating]]:
    """Read a projector directory: ``(tokens, matrix)``.

    The config's first ``embeddings`` block names the files (default ``tensors.tsv`` and
    ``metadata.tsv``); blank lines are skipped as the projector skips them. Labels come from
    the metadata's first column (a header line is dropped when it has tabs); without metadata
    the tokens are the row numbers ``"0"``, ``"1"``, ...

    Args:
        path: the directory.
        limit: keep the first ``limit`` rows.
        dtype: the matrix dtype (default float32).
        duplicates: a repeated label raises (``"error"``), or keeps its ``"first"`` or
            ``"last"`` row.

    Raises:
        FileNotFoundError: the tensor file is missing.
        VectorFormatError: a line is not tab-separated numbers, rows differ in length, or the
            metadata has another count of labels than the tensor has rows.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "tensors.tsv").write_text("1\\t2\\n\\n3\\t4\\n")
        >>> read_projector(folder)
        (['0', '1'], array([[1., 2.],
               [3., 4.]], dtype=float32))
    """
    from ._parse import check_duplicates_mode, check_limit, float_dtype, resolve_duplicates

    check_duplicates_mode(duplicates)
    check_limit(limit)
    target = float_dtype(np.float32 if dtype is None else dtype)
    root = Path(path)
    tensors, metadata = _config_paths(root)
    if not tensors.exists():
        raise FileNotFoundError(2, "no such file or directory", os.fspath(tensors))
    check_input_file(tensors)
    rows: list[list[str]] = []
    lines: list[int] = []
    with open(tensors, encoding="utf-8", errors="strict") as stream:
        for number, line in enumerate(stream, start=1):
            line = line.strip()
            if not line:
                continue
            if limit is not None and len(rows) >= limit:
                break
            fields = line.split("\t")
            if rows and len(fields) != len(rows[0]):
                raise VectorFormatError(
                    f"{tensors.name}:{number}: expected {len(rows[0])} tab-separated numbers "
                    f"(as on line {lines[0]}), found {len(fields)}"
                )
            rows.append(fields)
            lines.append(number)
    try:
        matrix = np.array(rows, dtype=np.float64).astype(target)
    except ValueError:
        for fields, number in zip(rows, lines, strict=True):
            for field in fields:
                try:
                    float(field)
                except ValueError:
                    raise VectorFormatError(
                        f"{tensors.name}:{number}: {field!r} is not a number"
                    ) from None
        raise VectorFormatError(  # pragma: no cover - a field that float() took
            f"{tensors.name}: numbers that NumPy cannot convert"
        ) from None
    if not rows:
        matrix = np.zeros((0, 0), dtype=target)
    if metadata is None:
        tokens = [str(i) for i in range(matrix.shape[0])]
    else:
        labels = _read_labels(metadata)
        if limit is None and len(labels) != matrix.shape[0]:
            raise VectorFormatError(
                f"{metadata.name}: holds {len(labels)} labels for the {matrix.shape[0]} rows of "
                f"{tensors.name}; they must match"
            )
        if len(labels) < matrix.shape[0]:
            raise VectorFormatError(
                f"{metadata.name}: holds {len(labels)} labels, fewer than the {matrix.shape[0]} "
                f"rows read from {tensors.name}"
            )
        tokens = labels[: matrix.shape[0]]
    return resolve_duplicates(
        tokens,
        matrix,
        lambda row: f"{metadata.name if metadata else tensors.name}: row {row + 1}",
        duplicates,  # type: ignore[arg-type]
    )


def sniff_projector(probe: Probe) -> bool:
    """A directory holding ``projector_config.pbtxt`` or ``tensors.tsv`` (and no table).

    Example:
        >>> import tempfile, pathlib
        >>> from embtable.io._detect import Probe
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> sniff_projector(Probe(folder, None))
        False
        >>> _ = (folder / "tensors.tsv").write_text("1\\t2\\n")
        >>> sniff_projector(Probe(folder, None))
        True
    """
    return probe.is_dir and any(
        os.path.isfile(os.path.join(probe.path, name)) for name in (CONFIG_FILE, TENSORS_FILE)
    )


def peek_projector(path: str | os.PathLike[str]) -> Summary:
    """The shape and first labels of a projector directory, reading one line of numbers.

    The row count comes from the config's ``tensor_shape`` when it has one, else from
    counting lines.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp()) / "p"
        >>> write_projector(folder, ["a", "b", "c"], np.ones((3, 4)))
        >>> peek_projector(folder)
        Summary(rows=3, dim=4, dtype=None, tokens=('a', 'b', 'c'), source='projector_config.pbtxt')
    """
    from .registry import Summary

    root = Path(path)
    tensors, metadata = _config_paths(root)
    check_input_file(tensors)
    shape: list[int] = []
    config = root / CONFIG_FILE
    if config.is_file():
        shape = [
            int(n)
            for n in re.findall(r"^\s*tensor_shape\s*:\s*(\d+)", config.read_text("utf-8"), re.M)
        ]
    rows = dim = 0
    counted = 0
    with open(tensors, encoding="utf-8") as stream:
        for line in stream:
            if line.strip():
                if counted == 0:
                    dim = len(line.strip().split("\t"))
                counted += 1
                if len(shape) == 2:
                    break
    if len(shape) == 2:
        rows, dim, source = shape[0], shape[1], CONFIG_FILE
    else:
        rows, source = counted, "lines counted"
    labels: list[str] = []
    if metadata is not None:
        labels = _read_labels(metadata)[:_SHOWN]
    else:
        labels = [str(i) for i in range(min(rows, _SHOWN))]
    return Summary(rows=rows, dim=dim, dtype=None, tokens=tuple(labels), source=source)
