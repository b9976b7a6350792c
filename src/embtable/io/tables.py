"""embtable's own table format: a directory of three files.

``weights.safetensors``
    A `safetensors <https://huggingface.co/docs/safetensors>`_ file holding one tensor,
    ``"weight"``, of shape ``(V, D)`` and dtype F16, F32 or F64, with the metadata
    ``{"format": "embtable-table", "version": "1"}``. The safetensors layout is: 8 bytes, the
    little-endian length ``N`` of a JSON header; ``N`` bytes of JSON
    (``{"weight": {"dtype": "F32", "shape": [V, D], "data_offsets": [0, V*D*4]}, ...}``); then the
    raw little-endian row-major data. :func:`load_table` with ``mmap=True`` maps that data
    read-only (``numpy.memmap``), so a table larger than memory is paged in on use, never
    copied.
``vocab.json``
    ``{"format": "embtable-vocab", "version": 1, "tokens": [...]}``: token ``i`` names row ``i``.
    It may also hold ``"counts"`` (one integer per token), ``"specials"``, ``"unk_token"`` and
    ``"pad_token"``; :meth:`embtable.text.Vocab.save` writes this same file, and
    :meth:`embtable.text.Vocab.load` reads it.
``config.json``
    A JSON object of free-form settings (e.g. how the table was trained), returned as saved.

Example:
    >>> import tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> save_table(tmp.name, np.arange(6.0).reshape(3, 2), ["<pad>", "cat", "dog"], {"dim": 2})
    >>> weight, tokens, config = load_table(tmp.name, mmap=True)
    >>> weight
    memmap([[0., 1.],
            [2., 3.],
            [4., 5.]])
    >>> tokens, config
    (['<pad>', 'cat', 'dog'], {'dim': 2})
    >>> del weight
    >>> tmp.cleanup()
"""

from __future__ import annotations

import json
import os
import struct
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from .._errors import OptionError, OptionTypeError, ShapeError, VectorFormatError
from ._atomic import atomic_directory, atomic_file, check_output
from ._open import open_regular

__all__ = [
    "CONFIG_FILE",
    "TABLE_FORMAT_VERSION",
    "VOCAB_FILE",
    "VOCAB_FORMAT_VERSION",
    "WEIGHTS_FILE",
    "load_table",
    "read_json",
    "read_table_vectors",
    "read_vocab_json",
    "save_table",
    "write_table_vectors",
    "write_vocab_json",
]

WEIGHTS_FILE = "weights.safetensors"
VOCAB_FILE = "vocab.json"
CONFIG_FILE = "config.json"
TABLE_FORMAT_VERSION = 1
VOCAB_FORMAT_VERSION = 1

_DTYPES = {"F16": np.dtype("<f2"), "F32": np.dtype("<f4"), "F64": np.dtype("<f8")}
_NAMES = {dtype: name for name, dtype in _DTYPES.items()}
_MAX_HEADER = 100 * 1024 * 1024  # safetensors' own limit on the JSON header
_MAX_DIM = 1 << 24  # as the text readers: a larger dimension is taken for a corrupt header
_JSON_MAX_DEPTH = 64  # deeper JSON is refused before parsing (Python's parser recurses)
_WRITE_STEP = 1 << 24  # bytes of weights written per call


def save_table(
    directory: str | os.PathLike[str],
    weight: ArrayLike,
    tokens: Sequence[str] | Any,
    config: Mapping[str, Any] | None = None,
    *,
    extra_files: Mapping[str, bytes] | None = None,
) -> None:
    """Write a table directory: ``weights.safetensors``, ``vocab.json`` and ``config.json``.

    The directory is built beside ``directory`` and swapped in whole at the end
    (:func:`embtable.io._atomic.atomic_directory`): a reader, or a process killed mid-write,
    sees the old table or the new one, never a mix; files of an old table that the new one
    does not hold are gone. Every input is checked before anything is written.

    Args:
        directory: the table directory (created, or replaced).
        weight: the ``(V, D)`` float16/32/64 table.
        tokens: ``V`` distinct token strings, or an :class:`embtable.text.Vocab` (its counts,
            specials, unk and pad tokens are saved too).
        config: a JSON-serialisable mapping, saved as ``config.json``.
        extra_files: more files of the directory, name to bytes (e.g. a trainer's
            ``meta.json``), written in the same atomic swap.

    Raises:
        ShapeError: ``weight`` is not 2-D or does not have one row per token.
        OptionTypeError: ``weight`` is not float16/32/64, a token is not a string, or
            ``config`` is not JSON-serialisable.
        OptionError: tokens repeat or are not UTF-8 encodable, or an extra file's name is not
            a plain file name or is one of the three table files.
        OutputError: the directory cannot be written (not writable, a file, a full disk); the
            old table is untouched then.

    Example:
        >>> import tempfile, pathlib
        >>> tmp = pathlib.Path(tempfile.mkdtemp()) / "table"
        >>> save_table(tmp, np.eye(2, dtype=np.float32), ["a", "b"], extra_files={"x.txt": b"1"})
        >>> sorted(p.name for p in tmp.iterdir())
        ['config.json', 'vocab.json', 'weights.safetensors', 'x.txt']
    """
    array = np.asarray(weight)
    if array.ndim != 2:
        raise ShapeError(f"weight must be a 2-D (tokens, dimension) array, got shape {array.shape}")
    if array.dtype.kind != "f" or array.dtype.itemsize not in (2, 4, 8):
        raise OptionTypeError(
            f"weight must be a float16, float32 or float64 array, got dtype {array.dtype}"
        )
    vocab_document = _vocab_document_of(tokens)
    if len(vocab_document["tokens"]) != array.shape[0]:
        raise ShapeError(
            f"got {len(vocab_document['tokens'])} tokens for a weight of {array.shape[0]} rows; "
            f"they must match"
        )
    try:
        config_text = json.dumps(dict(config or {}), ensure_ascii=False, indent=2)
    except (TypeError, ValueError) as err:  # an object JSON cannot hold, or a circular one
        raise OptionTypeError(f"config cannot be saved as JSON: {err}") from None
    config_bytes = _utf8(config_text, "config")
    vocab_bytes = _encode_vocab(vocab_document)
    extras = dict(extra_files or {})
    for name, data in extras.items():
        if (
            not isinstance(name, str)
            or not name
            or name != os.path.basename(name)
            or name in (".", "..", WEIGHTS_FILE, VOCAB_FILE, CONFIG_FILE)
        ):
            raise OptionError(
                f"extra file name {name!r} must be a plain file name other than "
                f"{WEIGHTS_FILE}, {VOCAB_FILE} and {CONFIG_FILE}"
            )
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise OptionTypeError(
                f"extra file {name!r} must be given as bytes, got {type(data).__name__}"
            )
    check_output(directory, "directory")
    little = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    with atomic_directory(directory) as staging:
        _write_safetensors(staging / WEIGHTS_FILE, little)
        for name, data in (
            (VOCAB_FILE, vocab_bytes),
            (CONFIG_FILE, config_bytes),
            *extras.items(),
        ):
            (staging / name).write_bytes(bytes(data))


def _write_safetensors(path: Path, array: NDArray[np.floating]) -> None:
    """Write one tensor, ``"weight"``, as a safetensors file, streaming the data.

    The layout is safetensors' own: the 8-byte little-endian header length, the JSON header
    padded with spaces to a multiple of 8, then the row-major little-endian data.
    """
    header = {
        "__metadata__": {"format": "embtable-table", "version": str(TABLE_FORMAT_VERSION)},
        "weight": {
            "dtype": _NAMES[array.dtype.newbyteorder("<")],
            "shape": list(array.shape),
            "data_offsets": [0, array.nbytes],
        },
    }
    text = json.dumps(header, separators=(",", ":")).encode("ascii")
    text += b" " * (-len(text) % 8)
    flat = array.reshape(-1).view(np.uint8)
    with open(path, "xb") as out:  # inside a fresh staging directory
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        for begin in range(0, flat.size, _WRITE_STEP):
            out.write(flat[begin : begin + _WRITE_STEP].data)


def load_table(
    directory: str | os.PathLike[str], *, mmap: bool = False
) -> tuple[NDArray[np.floating], list[str], dict[str, Any]]:
    """Read a table directory written by :func:`save_table`.

    Args:
        directory: the table directory.
        mmap: map the weights read-only instead of reading them (no copy; for tables larger
            than memory).

    Returns:
        ``(weight, tokens, config)``; ``weight`` is a read-only ``numpy.memmap`` with
        ``mmap=True``, a writable array otherwise.

    Raises:
        FileNotFoundError: a file of the layout is missing.
        OutputError: a file of the layout is not a regular file (a FIFO, a device).
        VectorFormatError: a file is malformed, or the weight rows and tokens disagree.

    Example:
        >>> import tempfile, pathlib
        >>> tmp = pathlib.Path(tempfile.mkdtemp()) / "table"
        >>> save_table(tmp, np.arange(4.0, dtype=np.float32).reshape(2, 2), ["a", "b"])
        >>> load_table(tmp)
        (array([[0., 1.],
               [2., 3.]], dtype=float32), ['a', 'b'], {})
    """
    root = Path(directory)
    with open_regular(root / WEIGHTS_FILE) as stream:
        dtype, shape, offset = _read_safetensors_header(stream, root / WEIGHTS_FILE)
        count = shape[0] * shape[1]
        if mmap:
            if count == 0:
                weight: NDArray[np.floating] = np.zeros(shape, dtype=dtype)
                weight.flags.writeable = False
            else:
                weight = np.memmap(stream, dtype=dtype, mode="r", offset=offset, shape=shape)
        else:
            stream.seek(offset)
            weight = np.fromfile(stream, dtype=dtype, count=count).reshape(shape)
            weight = weight.astype(dtype.newbyteorder("="), copy=False)
    tokens = read_vocab_json(root / VOCAB_FILE)["tokens"]
    if len(tokens) != shape[0]:
        raise VectorFormatError(
            f"{VOCAB_FILE}: holds {len(tokens)} tokens, but {WEIGHTS_FILE} has {shape[0]} rows; "
            f"they must match"
        )
    config = read_json(root / CONFIG_FILE)
    if not isinstance(config, dict):
        raise VectorFormatError(
            f"{CONFIG_FILE}: expected a JSON object, found {type(config).__name__}"
        )
    return weight, tokens, config


def read_table_vectors(
    directory: str | os.PathLike[str],
    *,
    limit: int | None = None,
    dtype: DTypeLike | None = None,
    mmap: bool = False,
    progress: bool | None = None,
    duplicates: str = "error",
    encoding: str = "utf-8",
    unicode_errors: str = "strict",
) -> tuple[list[str], NDArray[np.floating]]:
    """A table's ``(tokens, weight)``: the registry's reader of the ``"embtable"`` format.

    ``limit`` keeps the first rows (a view with ``mmap=True``), ``dtype`` converts (``None``
    keeps the stored dtype). ``progress``, ``duplicates``, ``encoding`` and
    ``unicode_errors`` have no effect: a table holds UTF-8 JSON and no repeated tokens.

    Example:
        >>> import tempfile, pathlib
        >>> tmp = pathlib.Path(tempfile.mkdtemp()) / "table"
        >>> save_table(tmp, np.eye(2, dtype=np.float32), ["a", "b"])
        >>> read_table_vectors(tmp, limit=1, dtype=np.float64)
        (['a'], array([[1., 0.]]))
    """
    from ._parse import float_dtype

    del progress, duplicates, encoding, unicode_errors  # no effect on a table
    weight, tokens, _ = load_table(directory, mmap=mmap)
    if limit is not None:
        weight, tokens = weight[:limit], tokens[:limit]
    if dtype is not None and float_dtype(dtype) != weight.dtype:
        weight = weight.astype(float_dtype(dtype))
    return tokens, weight


def write_table_vectors(
    directory: str | os.PathLike[str],
    tokens: Sequence[str] | Any,
    matrix: ArrayLike,
    *,
    config: Mapping[str, Any] | None = None,
) -> None:
    """The registry's writer of the ``"embtable"`` format: :func:`save_table` with the
    arguments in the order of the other writers.

    Example:
        >>> import tempfile, pathlib
        >>> tmp = pathlib.Path(tempfile.mkdtemp()) / "table"
        >>> write_table_vectors(tmp, ["a"], np.ones((1, 2), np.float32), config={"x": 1})
        >>> load_table(tmp)[2]
        {'x': 1}
    """
    save_table(directory, matrix, tokens, config)


def read_json(path: str | os.PathLike[str]) -> Any:
    """Parse a JSON file, every failure a :class:`~embtable.VectorFormatError` naming it.

    Besides invalid JSON and UTF-8 this refuses what Python's parser would crash or stall on:
    nesting deeper than 64 levels, and integers of more digits than Python converts.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        OutputError: ``path`` is not a regular file.
        VectorFormatError: the file is not valid JSON; the message names the file and line.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "config.json"
        >>> _ = path.write_text("[" * 100 + "]" * 100)
        >>> read_json(path)
        Traceback (most recent call last):
        ...
        embtable._errors.VectorFormatError: config.json:1: not valid JSON (nested deeper than 64 levels, at byte 64)
    """
    with open_regular(path) as stream:
        data = stream.read()
    return parse_json(data, Path(path).name)


def parse_json(data: bytes, name: str, subject: str = "") -> Any:
    """Parse JSON bytes as :func:`read_json` does.

    ``name`` (the file) and ``subject`` (what in it, e.g. ``"the safetensors header"``) are
    used in messages.
    """
    where = f"{name}: {subject} is" if subject else f"{name}:"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise VectorFormatError(
            f"{where} not valid UTF-8 (byte {err.start}: {err.reason})"
        ) from None
    problem = _json_depth_problem(text)
    if problem is not None:
        raise VectorFormatError(f"{_at(name, subject, problem[0])} not valid JSON ({problem[1]})")
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise VectorFormatError(
            f"{_at(name, subject, err.lineno)} not valid JSON ({err.msg})"
        ) from None
    except ValueError:  # an integer longer than Python's int conversion limit
        limit = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 4300
        raise VectorFormatError(
            f"{where} not valid JSON for embtable (an integer of more than {limit} digits)"
        ) from None
    except RecursionError:  # pragma: no cover - _json_depth_problem refuses such nesting first
        raise VectorFormatError(f"{where} not valid JSON (nested too deeply)") from None


def _at(name: str, subject: str, line: int) -> str:
    return f"{name}: {subject} is" if subject else f"{name}:{line}:"


def _json_depth_problem(text: str) -> tuple[int, str] | None:
    """``(line, reason)`` if arrays and objects nest deeper than :data:`_JSON_MAX_DEPTH`
    (brackets inside strings do not count), else ``None``."""
    if text.count("[") + text.count("{") <= _JSON_MAX_DEPTH:
        return None
    depth = 0
    in_string = escaped = False
    for position, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > _JSON_MAX_DEPTH:
                line = text.count("\n", 0, position) + 1
                return line, f"nested deeper than {_JSON_MAX_DEPTH} levels, at byte {position}"
        elif char in "]}":
            depth -= 1
    return None


def _read_safetensors_header(
    stream: IO[bytes], path: Path
) -> tuple[np.dtype, tuple[int, int], int]:
    """Return ``(dtype, shape, data offset)`` of the ``"weight"`` tensor of the open ``path``."""
    name = path.name
    size = os.fstat(stream.fileno()).st_size
    prefix = stream.read(8)
    if len(prefix) < 8:
        raise VectorFormatError(
            f"{name}: {size} bytes is too short for a safetensors file (8-byte header length)"
        )
    (header_length,) = struct.unpack("<Q", prefix)
    if header_length > min(size - 8, _MAX_HEADER):
        raise VectorFormatError(
            f"{name}: the header length {header_length} exceeds the {size - 8} bytes that "
            f"follow it; the file is truncated or not safetensors"
        )
    header = parse_json(stream.read(header_length), name, "the safetensors header")
    entry = header.get("weight") if isinstance(header, dict) else None
    if not isinstance(entry, dict):
        found = sorted(k for k in header if k != "__metadata__") if isinstance(header, dict) else []
        raise VectorFormatError(
            f"{name}: no tensor named 'weight' (found {found}); embtable tables store one"
        )
    dtype_name = entry.get("dtype")
    dtype = _DTYPES.get(dtype_name) if isinstance(dtype_name, str) else None
    if dtype is None:
        raise VectorFormatError(
            f"{name}: tensor 'weight' has dtype {entry.get('dtype')!r}; supported: F16, F32, F64"
        )
    shape = entry.get("shape")
    offsets = entry.get("data_offsets")
    if not isinstance(shape, list) or len(shape) != 2 or not all(_is_count(n) for n in shape):
        raise VectorFormatError(
            f"{name}: tensor 'weight' must be 2-D with integer sizes >= 0, has shape {shape!r}"
        )
    if shape[1] > _MAX_DIM or (shape[0] > 0 and shape[1] < 1):
        raise VectorFormatError(
            f"{name}: tensor 'weight' has shape {shape}; embtable reads dimensions 1.."
            f"{_MAX_DIM} (0 only for a table of 0 rows): the header is corrupt"
        )
    begin = 8 + header_length
    nbytes = shape[0] * shape[1] * dtype.itemsize
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(_is_count(n) for n in offsets)
        or offsets[1] - offsets[0] != nbytes
        or begin + offsets[1] > size
    ):
        raise VectorFormatError(
            f"{name}: tensor 'weight' of shape {shape} needs {nbytes} bytes, but its "
            f"data_offsets are {offsets!r} in a data section of {size - begin} bytes; the file "
            f"is truncated or corrupt"
        )
    return dtype, (shape[0], shape[1]), begin + offsets[0]


def _is_count(value: object) -> bool:
    """Whether a JSON value is an integer >= 0 (``true`` is not)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _vocab_document_of(tokens: Sequence[str] | Any) -> dict[str, Any]:
    if hasattr(tokens, "id_to_token") and hasattr(tokens, "counts"):
        return _vocab_document(
            list(tokens.id_to_token),
            counts=_integers(tokens.counts),
            specials=list(tokens.specials),
            unk_token=tokens.unk_token,
            pad_token=tokens.pad_token,
        )
    return _vocab_document(list(tokens))


def _vocab_document(
    tokens: list[str],
    *,
    counts: list[int] | None = None,
    specials: list[str] | None = None,
    unk_token: str | None = None,
    pad_token: str | None = None,
) -> dict[str, Any]:
    seen: dict[str, int] = {}
    for index, token in enumerate(tokens):
        if not isinstance(token, str):
            raise OptionTypeError(f"token {index} must be a string, got {type(token).__name__}")
        if seen.setdefault(token, index) != index:
            raise OptionError(f"token {token!r} appears twice, at ids {seen[token]} and {index}")
    document: dict[str, Any] = {
        "format": "embtable-vocab",
        "version": VOCAB_FORMAT_VERSION,
        "tokens": tokens,
    }
    if counts is not None:
        document["counts"] = counts
    if specials is not None:
        document["specials"] = specials
        document["unk_token"] = unk_token
        document["pad_token"] = pad_token
    return document


def write_vocab_json(
    path: str | os.PathLike[str],
    tokens: Sequence[str],
    *,
    counts: Sequence[int] | None = None,
    specials: Sequence[str] | None = None,
    unk_token: str | None = None,
    pad_token: str | None = None,
) -> None:
    """Write ``vocab.json`` (the layout in this module's docstring).

    The file is replaced atomically (:func:`embtable.io._atomic.atomic_file`).

    Raises:
        OptionTypeError: a token is not a string, or a count not an integer.
        OptionError: a token repeats or cannot be encoded as UTF-8 (e.g. a lone surrogate);
            nothing is written then.
        OutputError: the file cannot be written; an old file stays as it was.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "vocab.json"
        >>> write_vocab_json(path, ["a", "b"], counts=[3, 1])
        >>> read_vocab_json(path)["counts"]
        [3, 1]
    """
    document = _vocab_document(
        list(tokens),
        counts=None if counts is None else _integers(counts),
        specials=None if specials is None else list(specials),
        unk_token=unk_token,
        pad_token=pad_token,
    )
    data = _encode_vocab(document)  # before opening: a failure leaves no empty file
    with atomic_file(path, compression="none") as out:
        out.write(data)


def _integers(values: Sequence[int]) -> list[int]:
    """``values`` as Python ints (NumPy integers included), refusing anything else."""
    result: list[int] = []
    for index, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise OptionTypeError(f"count {index} must be an integer, got {value!r}")
        result.append(int(value))
    return result


def _utf8(text: str, what: str) -> bytes:
    try:
        return (text + "\n").encode("utf-8")
    except UnicodeEncodeError as err:
        raise OptionError(
            f"{what} cannot be saved as UTF-8: it holds {text[err.start : err.end]!r} "
            f"({err.reason})"
        ) from None


def _encode_vocab(document: dict[str, Any]) -> bytes:
    """``vocab.json``'s bytes; a token that UTF-8 cannot encode is named."""
    for index, token in enumerate(document["tokens"]):
        try:
            token.encode("utf-8")
        except UnicodeEncodeError as err:
            raise OptionError(
                f"token {index} ({token!r}) cannot be saved: it is not encodable as UTF-8 "
                f"({err.reason}); lone surrogates usually come from decoding with "
                f"errors='surrogateescape'"
            ) from None
    return _utf8(json.dumps(document, ensure_ascii=False), "the vocabulary")


def read_vocab_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check ``vocab.json``; returns its fields with defaults filled in.

    Returns:
        A dict with ``tokens`` (list), ``counts`` (list or ``None``), ``specials`` (list),
        ``unk_token`` and ``pad_token`` (str or ``None``).

    Raises:
        VectorFormatError: not JSON, another format or a newer version, or inconsistent fields.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "vocab.json"
        >>> head = '{"format": "embtable-vocab", "version": 1, '
        >>> body = '"tokens": ["<unk>", "cat"], "specials": ["<unk>"], "unk_token": "<unk>"}'
        >>> _ = path.write_text(head + body)
        >>> document = read_vocab_json(path)
        >>> document["tokens"], document["unk_token"], document["counts"]
        (['<unk>', 'cat'], '<unk>', None)
        >>> _ = path.write_text(head + '"tokens": ["cat", "cat"]}')
        >>> read_vocab_json(path)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        embtable._errors.VectorFormatError: vocab.json: ...
    """
    name = Path(path).name
    document = read_json(path)
    if not isinstance(document, dict) or document.get("format") != "embtable-vocab":
        found = document.get("format") if isinstance(document, dict) else type(document).__name__
        raise VectorFormatError(
            f'{name}: expected a JSON object with "format": "embtable-vocab", found {found!r}'
        )
    version = document.get("version")
    if not isinstance(version, int) or not 1 <= version <= VOCAB_FORMAT_VERSION:
        raise VectorFormatError(
            f"{name}: vocabulary format version {version!r} is not supported "
            f"(this embtable reads 1..{VOCAB_FORMAT_VERSION}); upgrade embtable"
        )
    tokens = document.get("tokens")
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise VectorFormatError(f'{name}: "tokens" must be a list of strings')
    seen: dict[str, int] = {}
    for index, token in enumerate(tokens):
        try:
            token.encode("utf-8")
        except UnicodeEncodeError as err:
            raise VectorFormatError(
                f"{name}: token {index} ({token!r}) holds {token[err.start : err.end]!r}, "
                f"which is not a Unicode character (a lone surrogate written as a JSON escape)"
            ) from None
        if seen.setdefault(token, index) != index:
            raise VectorFormatError(
                f"{name}: token {token!r} appears twice, at ids {seen[token]} and {index}"
            )
    counts = document.get("counts")
    if counts is not None and (
        not isinstance(counts, list)
        or len(counts) != len(tokens)
        or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts)
    ):
        raise VectorFormatError(
            f'{name}: "counts" must be a list of {len(tokens)} integers >= 0, one per token'
        )
    specials = document.get("specials", [])
    if not isinstance(specials, list) or not all(
        isinstance(s, str) and s in seen for s in specials
    ):
        raise VectorFormatError(f'{name}: "specials" must be a list of tokens of the vocabulary')
    result: dict[str, Any] = {"tokens": tokens, "counts": counts, "specials": specials}
    for key in ("unk_token", "pad_token"):
        value = document.get(key)
        if value is not None and (not isinstance(value, str) or value not in specials):
            raise VectorFormatError(
                f'{name}: "{key}" {value!r} must be null or one of the specials {specials}'
            )
        result[key] = value
    return result
