"""torch's wording, appended to embtable's error messages at the adapter's boundary.

embtable's messages name the bad value, its position and the valid range; code written against
torch matches torch's phrases (``pytest.raises(IndexError, match="index out of range in
self")``). The adapter keeps embtable's message and adds torch's phrase for the condition.
"""

from __future__ import annotations

__all__ = ["BAG_INDEX_PHRASE", "INDEX_PHRASE", "add_torch_phrase"]

#: torch's message for an out-of-range ``Embedding`` id (``index_select``'s check).
INDEX_PHRASE = "index out of range in self"
#: torch's message for an out-of-range ``EmbeddingBag`` id.
BAG_INDEX_PHRASE = "Expected idx >= 0 && idx < num_embeddings"


def add_torch_phrase(error: BaseException, phrase: str) -> None:
    """Append ``(phrase)`` to ``error``'s message in place, once.

    Example:
        >>> error = IndexError("index 12 at position (1,) is out of range")
        >>> add_torch_phrase(error, INDEX_PHRASE)
        >>> add_torch_phrase(error, INDEX_PHRASE)
        >>> str(error)
        'index 12 at position (1,) is out of range (index out of range in self)'
    """
    if error.args and isinstance(error.args[0], str) and phrase not in error.args[0]:
        error.args = (f"{error.args[0]} ({phrase})", *error.args[1:])
