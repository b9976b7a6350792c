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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._errors import VectorFormatError

__all__ = [
    "CONFIG_FILE",
    "TABLE_FORMAT_VERSION",
    "VOCAB_FILE",
    "VOCAB_FORMAT_VERSION",
    "WEIGHTS_FILE",
    "load_table",
    "read_vocab_json",
    "save_table",
    "write_vocab_json",
]

WEIGHTS_FILE = "weights.safetensors"
VOCAB_FILE = "vocab.json"
CONFIG_FILE = "config.json"
TABLE_FORMAT_VERSION = 1
VOCAB_FORMAT_VERSION = 1

_DTYPES = {"F16": np.dtype("<f2"), "F32": np.dtype("<f4"), "F64": np.dtype("<f8")}
_MAX_HEADER = 100 * 1024 * 1024  # safetensors' own limit on the JSON header


def save_table(
    directory: str | os.PathLike[str],
    weight: ArrayLike,
    tokens: Sequence[str] | Any,
    config: Mapping[str, Any] | None = None,
) -> None:
    """Write a table directory (created if missing; its three files are replaced).

    Args:
        directory: where to write ``weights.safetensors``, ``vocab.json`` and ``config.json``.
        weight: the ``(V, D)`` float16/32/64 table.
        tokens: ``V`` distinct token strings, or an :class:`embtable.text.Vocab` (its counts,
            specials, unk and pad tokens are saved too).
        config: a JSON-serialisable mapping, saved as ``config.json``.

    Raises:
        ValueError: ``weight`` is not 2-D floating, does not have one row per token, tokens
            repeat, are not strings or are not UTF-8 encodable, or ``config`` is not
            JSON-serialisable. Nothing is written then.
    """
    array = np.ascontiguousarray(weight)
    if array.ndim != 2 or array.dtype.kind != "f" or array.dtype.itemsize not in (2, 4, 8):
        raise ValueError(
            f"weight must be a 2-D float16, float32 or float64 array, "
            f"got shape {array.shape} and dtype {array.dtype}"
        )
    vocab_document = _vocab_document_of(tokens)
    if len(vocab_document["tokens"]) != array.shape[0]:
        raise ValueError(
            f"got {len(vocab_document['tokens'])} tokens for a weight of {array.shape[0]} rows; "
            f"they must match"
        )
    config_bytes = _utf8(json.dumps(dict(config or {}), ensure_ascii=False, indent=2), "config")
    vocab_bytes = _encode_vocab(vocab_document)

    from safetensors.numpy import save_file

    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    save_file(
        {"weight": array.astype(array.dtype.newbyteorder("<"), copy=False)},
        str(target / WEIGHTS_FILE),
        metadata={"format": "embtable-table", "version": str(TABLE_FORMAT_VERSION)},
    )
    (target / VOCAB_FILE).write_bytes(vocab_bytes)
    (target / CONFIG_FILE).write_bytes(config_bytes)


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
        VectorFormatError: a file is malformed, or the weight rows and tokens disagree.
    """
    root = Path(directory)
    dtype, shape, offset = _read_safetensors_header(root / WEIGHTS_FILE)
    count = shape[0] * shape[1]
    if mmap:
        if count == 0:
            weight: NDArray[np.floating] = np.zeros(shape, dtype=dtype)
            weight.flags.writeable = False
        else:
            weight = np.memmap(
                root / WEIGHTS_FILE, dtype=dtype, mode="r", offset=offset, shape=shape
            )
    else:
        with open(root / WEIGHTS_FILE, "rb") as stream:
            stream.seek(offset)
            weight = np.fromfile(stream, dtype=dtype, count=count).reshape(shape)
        weight = weight.astype(dtype.newbyteorder("="), copy=False)
    tokens = read_vocab_json(root / VOCAB_FILE)["tokens"]
    if len(tokens) != shape[0]:
        raise VectorFormatError(
            f"{VOCAB_FILE}: holds {len(tokens)} tokens, but {WEIGHTS_FILE} has {shape[0]} rows; "
            f"they must match"
        )
    config_path = root / CONFIG_FILE
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise VectorFormatError(f"{CONFIG_FILE}:{err.lineno}: not valid JSON ({err.msg})") from err
    except UnicodeDecodeError as err:
        raise VectorFormatError(f"{CONFIG_FILE}: not valid UTF-8 ({err.reason})") from err
    if not isinstance(config, dict):
        raise VectorFormatError(
            f"{CONFIG_FILE}: expected a JSON object, found {type(config).__name__}"
        )
    return weight, tokens, config


def _read_safetensors_header(path: Path) -> tuple[np.dtype, tuple[int, int], int]:
    """Return ``(dtype, shape, data offset)`` of the ``"weight"`` tensor of ``path``."""
    name = path.name
    size = path.stat().st_size
    with open(path, "rb") as stream:
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
        raw_header = stream.read(header_length)
    try:
        header = json.loads(raw_header)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise VectorFormatError(f"{name}: the safetensors header is not valid JSON") from err
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
            counts=[int(c) for c in tokens.counts],
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
            raise ValueError(f"token {index} must be a string, got {type(token).__name__}")
        if seen.setdefault(token, index) != index:
            raise ValueError(f"token {token!r} appears twice, at ids {seen[token]} and {index}")
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

    Raises:
        ValueError: a token is not a string, repeats or cannot be encoded as UTF-8 (e.g. a
            lone surrogate); nothing is written then.
    """
    document = _vocab_document(
        list(tokens),
        counts=None if counts is None else [int(c) for c in counts],
        specials=None if specials is None else list(specials),
        unk_token=unk_token,
        pad_token=pad_token,
    )
    data = _encode_vocab(document)  # before opening: a failure leaves no empty file
    Path(path).write_bytes(data)


def _utf8(text: str, what: str) -> bytes:
    try:
        return (text + "\n").encode("utf-8")
    except UnicodeEncodeError as err:
        raise ValueError(
            f"{what} cannot be saved as UTF-8: it holds {text[err.start : err.end]!r} "
            f"({err.reason})"
        ) from err


def _encode_vocab(document: dict[str, Any]) -> bytes:
    """``vocab.json``'s bytes; a token that UTF-8 cannot encode is named."""
    for index, token in enumerate(document["tokens"]):
        try:
            token.encode("utf-8")
        except UnicodeEncodeError as err:
            raise ValueError(
                f"token {index} ({token!r}) cannot be saved: it is not encodable as UTF-8 "
                f"({err.reason}); lone surrogates usually come from decoding with "
                f"errors='surrogateescape'"
            ) from err
    return _utf8(json.dumps(document, ensure_ascii=False), "the vocabulary")


def read_vocab_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check ``vocab.json``; returns its fields with defaults filled in.

    Returns:
        A dict with ``tokens`` (list), ``counts`` (list or ``None``), ``specials`` (list),
        ``unk_token`` and ``pad_token`` (str or ``None``).

    Raises:
        VectorFormatError: not JSON, another format or a newer version, or inconsistent fields.
    """
    name = Path(path).name
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise VectorFormatError(f"{name}:{err.lineno}: not valid JSON ({err.msg})") from err
    except UnicodeDecodeError as err:
        raise VectorFormatError(f"{name}: not valid UTF-8 ({err.reason})") from err
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
