"""Tokenisers, and streaming of lines and tokens from (compressed) text files.

:func:`regex_tokenize` is the default. Its rule, for any script:

* text is first put in Unicode NFC form, so ``"e" + U+0301`` and ``"é"`` give the same token;
* a *word* is a run of letters, digits, underscores and combining marks (so Devanagari
  ``"हु"`` and Hangul ``"안녕하세요"`` stay whole), which may hold apostrophes between
  letters: ``"don't"``, ``"rock'n'roll"``, ``"l'été"`` (ASCII and typographic
  apostrophes both count). A combining mark only continues a word: one with no letter
  before it (at the start of the text, or after a space or punctuation) is dropped;
* CJK ideographs, Hiragana and Katakana are written without spaces, and no dictionary is at
  hand to segment them, so **each such character is a token of its own** (as BERT's basic
  tokenizer does): ``"東京に行く"`` gives ``["東", "京", "に", "行", "く"]``. The Kana
  blocks' punctuation (``"・"``, ``"゛"``, ``"゜"``, U+30A0 double hyphen) is dropped like
  any other. Hangul is spaced like Latin script and keeps whole words;
* everything else (punctuation, symbols, emoji, whitespace) separates tokens and is dropped;
  numbers split at ``.`` and ``,`` (``"3.14"`` gives ``["3", "14"]``);
* with ``lower=True`` (the default) tokens are lower-cased with :meth:`str.lower`.
"""

from __future__ import annotations

import functools
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from typing import Union

from .._errors import OptionError, OptionTypeError
from ..io._open import iter_text_lines

__all__ = [
    "Tokenizer",
    "get_tokenizer",
    "iter_lines",
    "iter_tokenized",
    "regex_tokenize",
    "whitespace_tokenize",
]

Tokenizer = Callable[[str], list[str]]
PathOrPaths = Union[str, "os.PathLike[str]", Iterable[Union[str, "os.PathLike[str]"]]]

# Han (with extensions and compatibility ideographs), Hiragana, Katakana (and its extensions):
# their letters only. The Kana blocks' punctuation and symbols are left out, so they are
# dropped as everywhere else: U+30A0 (double hyphen), U+30FB (・, middle dot) and U+309B,
# U+309C (゛゜, spacing sound marks); the combining sound marks U+3099, U+309A are marks.
_CJK_RANGES = (
    "\u3005\u3007\u3021-\u3029\u3038-\u303b"
    "\u3041-\u3096\u309d-\u309f\u30a1-\u30fa\u30fc-\u30ff\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
    "\U00020000-\U0003134f"
)
_APOSTROPHES = "'\u2019"


@functools.cache
def _combining_mark_ranges() -> str:
    """A regex character-class body of every combining mark (categories Mn, Mc, Me)."""
    parts = []
    start = previous = None
    for code in range(0x110000):
        if unicodedata.category(chr(code)).startswith("M"):
            if previous is not None and code == previous + 1:
                previous = code
                continue
            if start is not None:
                parts.append((start, previous))
            start = previous = code
    if start is not None:
        parts.append((start, previous))
    return "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
        for a, b in parts
    )


@functools.cache
def _word_pattern() -> re.Pattern[str]:
    marks = _combining_mark_ranges()
    base = f"[^\\W{_CJK_RANGES}]"
    # a combining mark continues a word but never starts one: a stray leading mark is dropped
    part = f"{base}(?:{base}|[{marks}])*"
    word = f"{part}(?:[{_APOSTROPHES}]{part})*"
    return re.compile(f"[{_CJK_RANGES}]|{word}")


def whitespace_tokenize(text: str) -> list[str]:
    """Split ``text`` at runs of whitespace (``str.split()``); nothing else changes.

    Example:
        >>> whitespace_tokenize("  The cat,\\tthe hat.\\n")
        ['The', 'cat,', 'the', 'hat.']
    """
    return text.split()


def regex_tokenize(text: str, lower: bool = True) -> list[str]:
    """Split ``text`` into words with the Unicode-aware rule of this module's docstring.

    Args:
        text: any string.
        lower: lower-case the tokens.

    Returns:
        The tokens, in order.

    Example:
        >>> regex_tokenize("Don't panic: l'Été à Zürich costs 3.50€!")
        ["don't", 'panic', "l'été", 'à', 'zürich', 'costs', '3', '50']
        >>> regex_tokenize("서울에 갑니다. 東京に行く", lower=False)
        ['서울에', '갑니다', '東', '京', 'に', '行', 'く']
        >>> regex_tokenize("नमस्ते दुनिया")
        ['नमस्ते', 'दुनिया']
    """
    if not isinstance(text, str):
        raise OptionTypeError(f"text must be a str, got {type(text).__name__}")
    text = unicodedata.normalize("NFC", text)
    tokens = _word_pattern().findall(text)
    if lower:
        return [token.lower() for token in tokens]
    return tokens


def _regex_tokenize_cased(text: str) -> list[str]:
    return regex_tokenize(text, lower=False)


_NAMED: dict[str, Tokenizer] = {
    "regex": regex_tokenize,
    "regex-cased": _regex_tokenize_cased,
    "whitespace": whitespace_tokenize,
}


def get_tokenizer(name_or_callable: str | Tokenizer) -> Tokenizer:
    """Return a tokeniser by name, or ``name_or_callable`` itself when it is callable.

    Args:
        name_or_callable: ``"regex"`` (:func:`regex_tokenize`, lower-cased), ``"regex-cased"``,
            ``"whitespace"`` (:func:`whitespace_tokenize`), or any callable taking a string
            and returning a list of strings (e.g. a spaCy or SentencePiece wrapper).

    Raises:
        ValueError: an unknown name.
        TypeError: neither a string nor a callable.

    Example:
        >>> get_tokenizer("whitespace")("a b")
        ['a', 'b']
        >>> get_tokenizer(str.split) is str.split
        True
    """
    if isinstance(name_or_callable, str):
        try:
            return _NAMED[name_or_callable]
        except KeyError:
            raise OptionError(
                f"unknown tokenizer {name_or_callable!r}; valid names: "
                f"{', '.join(repr(n) for n in _NAMED)}, or pass a callable"
            ) from None
    if callable(name_or_callable):
        return name_or_callable
    raise OptionTypeError(
        f"tokenizer must be a name ({', '.join(repr(n) for n in _NAMED)}) or a callable, "
        f"got {type(name_or_callable).__name__}"
    )


def _as_paths(paths: PathOrPaths) -> list[str | os.PathLike[str]]:
    if isinstance(paths, (str, os.PathLike)):
        return [paths]
    result = list(paths)
    for path in result:
        if not isinstance(path, (str, os.PathLike)):
            raise OptionTypeError(f"paths must be paths or an iterable of paths, got {path!r}")
    return result


def iter_lines(
    paths: PathOrPaths, *, encoding: str = "utf-8", errors: str = "strict"
) -> Iterator[str]:
    """Yield the lines of one or more files, one at a time, without their line breaks.

    gzip and bzip2 files are decompressed on the fly (told by their first bytes, whatever
    their name); the files are never read whole. ``\\n``, ``\\r\\n`` and ``\\r`` end lines.

    Args:
        paths: a path, or an iterable of paths read in order.
        encoding: text encoding.
        errors: decoding error handling: ``"strict"`` raises, ``"replace"``, ``"ignore"``.

    Raises:
        VectorFormatError: with ``errors="strict"``, bytes that are not valid ``encoding``
            (naming the file and line); a truncated or corrupt gzip/bzip2 file.

    Example:
        >>> import gzip, tempfile, pathlib
        >>> tmp = tempfile.TemporaryDirectory()
        >>> path = pathlib.Path(tmp.name) / "corpus.txt.gz"
        >>> _ = path.write_bytes(gzip.compress("one line\\r\\nzwei Zeilen\\n".encode()))
        >>> list(iter_lines(path))
        ['one line', 'zwei Zeilen']
        >>> tmp.cleanup()
    """
    for path in _as_paths(paths):
        for line in iter_text_lines(path, encoding=encoding, errors=errors):
            yield line.rstrip("\n")


def iter_tokenized(
    paths: PathOrPaths,
    tokenizer: str | Tokenizer = "regex",
    *,
    encoding: str = "utf-8",
    errors: str = "strict",
) -> Iterator[list[str]]:
    """Yield the tokens of each line of ``paths`` (one list per line, empty lines included).

    Example:
        >>> import tempfile, pathlib
        >>> tmp = tempfile.TemporaryDirectory()
        >>> path = pathlib.Path(tmp.name) / "corpus.txt"
        >>> _ = path.write_text("The cat.\\n\\nThe HAT!\\n")
        >>> list(iter_tokenized(path))
        [['the', 'cat'], [], ['the', 'hat']]
        >>> tmp.cleanup()
    """
    tokenize = get_tokenizer(tokenizer)
    for line in iter_lines(paths, encoding=encoding, errors=errors):
        yield tokenize(line)
