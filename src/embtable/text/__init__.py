"""Text workflow: tokenisers, streaming corpora and :class:`Vocab`.

Example:
    >>> from embtable.text import Vocab
    >>> vocab = Vocab.build([["the", "cat"], ["the", "hat"]], max_size=2)
    >>> vocab.encode(["The hat", "a cat"])
    (array([[2, 0],
           [0, 3]]), array([2, 2]))
"""

from __future__ import annotations

from .text_embedding import TextEmbedding
from .tokenize import (
    Tokenizer,
    get_tokenizer,
    iter_lines,
    iter_tokenized,
    regex_tokenize,
    whitespace_tokenize,
)
from .vocab import Vocab

__all__ = [
    "TextEmbedding",
    "Tokenizer",
    "Vocab",
    "get_tokenizer",
    "iter_lines",
    "iter_tokenized",
    "regex_tokenize",
    "whitespace_tokenize",
]
