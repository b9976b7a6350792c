"""Tell a vectors file's format from its bytes (see :func:`detect_format`)."""

from __future__ import annotations

import os
import re
from typing import Literal

from .._errors import VectorFormatError
from ._open import open_binary_read
from ._parse import display_name
from .fasttext import FASTTEXT_BIN_MAGIC
from .tables import WEIGHTS_FILE

__all__ = ["detect_format"]

Format = Literal["word2vec", "word2vec-binary", "glove", "embtable"]
_HEADER = re.compile(rb"\s*(\d+)\s+(\d+)\s*")
_TEXT_NUMBER_BYTES = frozenset(b"0123456789+-.eEnaifNAIFtyTY \t\r\n")


def detect_format(path: str | os.PathLike[str]) -> Format:
    """Tell the format of a vectors file or table directory.

    The rule, in order:

    1. a directory is an embtable table (it must hold ``weights.safetensors``);
    2. a file starting with fastText's ``.bin`` magic is refused (a model, not vectors);
    3. a file whose first line is exactly two integers has a word2vec header. It is
       ``"word2vec-binary"`` if, after the header, the ``4 * D`` bytes following the first
       token's space hold a byte that cannot occur in a written number (digits, signs, ``.``,
       ``e``, ``nan``/``inf`` letters and whitespace); otherwise ``"word2vec"`` text (this
       covers fastText ``.vec`` too). Random float32 bytes pass as text with odds below
       ``(30/256) ** (4 * D)``;
    4. anything else is ``"glove"`` (no header), unless its first 64 bytes hold a NUL byte:
       binary data (e.g. an old fastText ``.bin`` model) is refused. A GloVe file whose first
       line is a number token with a single number, e.g. ``"10 5"``, reads as a header: pass
       ``format="glove"`` then.

    Compressed files (gzip, bzip2) are looked into.

    Raises:
        FileNotFoundError: ``path`` does not exist, or a directory lacks ``weights.safetensors``.
        VectorFormatError: ``path`` is a fastText ``.bin`` model or other binary data, or empty.

    Example:
        >>> import tempfile, pathlib
        >>> tmp = tempfile.TemporaryDirectory()
        >>> path = pathlib.Path(tmp.name) / "vectors.txt"
        >>> _ = path.write_text("2 1\\ncat 0.5\\ndog 1\\n")
        >>> detect_format(path)
        'word2vec'
        >>> _ = path.write_text("cat 0.5\\ndog 1\\n")
        >>> detect_format(path)
        'glove'
        >>> tmp.cleanup()
    """
    if os.path.isdir(path):
        if not os.path.isfile(os.path.join(path, WEIGHTS_FILE)):
            raise FileNotFoundError(
                f"{os.fspath(path)!r} is a directory without {WEIGHTS_FILE}, so not an "
                f"embtable table"
            )
        return "embtable"
    with open_binary_read(path) as stream:
        head = stream.read(1 << 16)
        if not head:
            raise VectorFormatError(f"{display_name(path)}: the file is empty")
        if head.startswith(FASTTEXT_BIN_MAGIC):
            raise VectorFormatError(
                f"{display_name(path)}: this is a fastText .bin model, not a vectors file; "
                f"load the .vec file that fastText writes next to it"
            )
        newline = head.find(b"\n")
        first = head if newline < 0 else head[: newline + 1]
        header = _HEADER.fullmatch(first)
        if header is None:
            if b"\x00" in head[:64]:
                raise VectorFormatError(
                    f"{display_name(path)}: binary data where a word2vec header or a GloVe "
                    f"line should start; if this is a fastText .bin model, load the .vec file "
                    f"that fastText writes next to it"
                )
            return "glove"
        dim = int(header.group(2))
        sample = head[len(first) :]
        sample += stream.read(max(0, min(4 * dim, 1 << 20) + 4096 - len(sample)))
    space = sample.find(b" ")
    data = sample[space + 1 : space + 1 + 4 * dim] if space >= 0 else b""
    if any(byte not in _TEXT_NUMBER_BYTES for byte in data):
        return "word2vec-binary"
    return "word2vec"
