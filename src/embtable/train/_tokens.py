"""Fast tokenising of corpus lines, with the exact result of :func:`embtable.text.regex_tokenize`.

The corpus reader spends most of its time splitting text. :func:`regex_tokenize` runs a regular
expression with a large Unicode character class per line (about 0.9 us per token). Most lines of
most corpora use only ASCII, a few apostrophes and non-ASCII punctuation, and for those the rule
of :mod:`embtable.text.tokenize` reduces to string methods that run in C:

* ``str.translate`` maps every character that separates tokens (ASCII punctuation and the
  non-ASCII separators met so far) to a space and, when lower-casing, ASCII capitals to small
  letters (for ASCII words, lower-casing before or after splitting gives the same tokens);
* an apostrophe (``'`` or ``U+2019``) stays in a token only between two word characters: those
  next to a space, another apostrophe or the line's ends become spaces (``str.replace``);
* ``str.split`` cuts the rest.

A line holding any other non-ASCII character (a letter, a combining mark, an ideograph, a
character that NFC normalisation would change) goes to :func:`regex_tokenize` itself. A non-ASCII
character counts as a separator only when :func:`regex_tokenize` finds no token in it, it is no
apostrophe or combining mark, and NFC leaves it unchanged; each is classified once per reader.
``tests/train/test_corpus_reading.py`` checks the equality on random text (hypothesis).
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Iterable

from embtable.text.tokenize import _APOSTROPHES, _word_pattern, regex_tokenize

__all__ = ["LineTokenizer"]

_WORD_CHARS = frozenset(string.ascii_letters + string.digits + "_")
_APOSTROPHE_PAIRS = tuple(a + b for a in _APOSTROPHES for b in _APOSTROPHES)


def _is_separator(char: str) -> bool:
    """Whether :func:`regex_tokenize` treats ``char`` as pure separator in every context."""
    if char in _APOSTROPHES or unicodedata.category(char).startswith("M"):
        return False
    if unicodedata.normalize("NFC", char) != char:
        return False
    return not _word_pattern().findall(char)


def _drop_loose_apostrophes(text: str) -> str:
    """Turn each apostrophe that is not between two word characters into a space.

    ``text`` holds only ASCII word characters, spaces and apostrophes here.
    """
    text = f" {text} "
    while any(pair in text for pair in _APOSTROPHE_PAIRS):
        for pair in _APOSTROPHE_PAIRS:
            text = text.replace(pair, "  ")
    for mark in _APOSTROPHES:
        text = text.replace(" " + mark, "  ").replace(mark + " ", "  ")
    return text


class LineTokenizer:
    """Split lines into tokens: ``"regex"``, ``"regex-cased"`` or ``"whitespace"``.

    :meth:`extend` appends each line's tokens to a list, followed by ``None`` as the end of the
    line, so that a whole block of lines becomes one flat list.

    Example:
        >>> tokens = []
        >>> LineTokenizer("regex").extend(["Don't 'panic'!", "Über-cool"], tokens)
        >>> tokens
        ["don't", 'panic', None, 'über', 'cool', None]
    """

    def __init__(self, name: str) -> None:
        if name not in ("regex", "regex-cased", "whitespace"):
            from embtable._errors import OptionError

            raise OptionError(
                f"tokenizer must be 'regex', 'regex-cased' or 'whitespace', got {name!r}"
            )
        self.name = name
        self._lower = name == "regex"
        table: dict[int, str] = {
            code: " " for code in range(128) if chr(code) not in _WORD_CHARS and chr(code) != "'"
        }
        if self._lower:
            table.update({ord(c): c.lower() for c in string.ascii_uppercase})
        self._table = table
        self._classified: set[str] = set()

    def _fast_form(self, line: str) -> str | None:
        """``line`` with separators as spaces, or ``None`` when it needs the full rule."""
        text = line.translate(self._table)
        if text.isascii() or text.replace("\u2019", "").isascii():
            return text
        fresh = {c for c in text if c > "\x7f" and c not in self._classified and c != "\u2019"}
        if not fresh:
            return None
        for char in fresh:
            self._classified.add(char)
            if _is_separator(char):
                self._table[ord(char)] = " "
        text = line.translate(self._table)
        return text if text.replace("\u2019", "").isascii() else None

    def extend(self, lines: Iterable[str], tokens: list[str | None]) -> None:
        """Append the tokens of each of ``lines``, then ``None``, to ``tokens``."""
        append = tokens.append
        if self.name == "whitespace":
            for line in lines:
                tokens += line.split()
                append(None)
            return
        for line in lines:
            text = self._fast_form(line)
            if text is None:
                tokens += regex_tokenize(line, lower=self._lower)
            else:
                if "'" in text or "\u2019" in text:
                    text = _drop_loose_apostrophes(text)
                tokens += text.split()
            append(None)
