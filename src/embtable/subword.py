"""Vectors for every token: the indexer seam, and subword, hashed and compositional embeddings.

An :class:`Indexer` turns a batch of tokens into ``(ids, offsets)`` bags, one bag per token:
token ``t`` owns the rows ``ids[offsets[t]:offsets[t + 1]]`` of a table of ``num_rows`` rows
(the last token's bag runs to the end), pooled by ``mode`` (``"sum"`` or ``"mean"``). The bags
go to :func:`embtable.functional.embedding_bag` unchanged, so every strategy gets the
``EmbeddingBag`` pooling, backward, sparse gradients and fused optimizers for free:

================================  ==========================================  ========
indexer                           rows of a token                             mode
================================  ==========================================  ========
:class:`VocabIndexer`             its vocabulary id (``<unk>`` when unknown)  sum
:class:`SubwordIndexer`           word row, then fastText's character n-grams mean
:class:`HashIndexer`              ``num_hashes`` seeded MurmurHash3 buckets   sum
:class:`QuotientRemainderIndexer` ``id // m`` and ``nq + id % m``             sum
================================  ==========================================  ========

A new strategy is one new subclass of :class:`Indexer` (its ``index`` and ``config``), and
:class:`IndexedEmbedding` (NumPy) and :class:`embtable.torch.IndexedEmbedding` (torch) make a
layer of it.

**Row layout of subword tables** (fastText's, kept so that fastText models load as they are
and a subword trainer can write them back): rows ``0 .. nwords - 1`` are the words, in
vocabulary order, and rows ``nwords .. nwords + bucket - 1`` the n-gram buckets. A word's bag
is its own row (when it is in the vocabulary) followed by the rows of the n-grams of
``"<" + word + ">"`` of ``minn .. maxn`` characters (UTF-8 code points; the lone marks ``<``
and ``>`` are not n-grams), hashed with 32-bit FNV-1a over the bytes *as signed chars* (the
quirk every released fastText model was trained with) modulo ``bucket``. Repeated n-grams
count each time; ``</s>`` has no n-grams. The vector is the mean of the bag's rows.

Hashes are pure functions of the token's bytes (never Python's ``hash()``), so the rows are the
same in every process and on every platform.

Example:
    >>> from embtable.subword import SubwordEmbedding
    >>> layer = SubwordEmbedding(["cat", "dog"], 4, minn=3, maxn=4, bucket=100, rng=0)
    >>> layer
    SubwordEmbedding(words=2, embedding_dim=4, minn=3, maxn=4, bucket=100)
    >>> layer(["cat", "cats"]).shape  # "cats" is not a word: its n-grams answer
    (2, 4)
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, Literal

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from ._errors import EmbeddingIndexError, OptionError, OptionTypeError, TokenError
from .layers import EmbeddingBag, Module

__all__ = [
    "HashEmbedding",
    "HashIndexer",
    "IndexedEmbedding",
    "Indexer",
    "QuotientRemainderEmbedding",
    "QuotientRemainderIndexer",
    "SubwordEmbedding",
    "SubwordIndexer",
    "VocabIndexer",
    "char_ngrams",
    "encode_tokens",
    "fasttext_hash",
    "indexer_from_config",
    "murmurhash3_32",
    "subword_bags",
]

Mode = Literal["sum", "mean"]
Bags = tuple[NDArray[np.int64], NDArray[np.int64]]

_EOS = "</s>"
_MASK32 = 0xFFFFFFFF


# ---------------------------------------------------------------------------------------------
# Pure-Python hashes: the reference twins of embtable.kernels.subword.


def fasttext_hash(data: bytes | str) -> int:
    """fastText's 32-bit FNV-1a hash, bytes taken as *signed* chars (``Dictionary::hash``).

    Example:
        >>> fasttext_hash("<ca")
        1066916747
        >>> fasttext_hash("é") == fasttext_hash("é".encode())
        True
    """
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else bytes(data)
    h = 2166136261
    for byte in raw:
        h = ((h ^ (byte | 0xFFFFFF00 if byte >= 128 else byte)) * 16777619) & _MASK32
    return h


def char_ngrams(word: str | bytes, minn: int, maxn: int) -> list[bytes]:
    """The character n-grams of ``"<" + word + ">"`` in fastText's order (``computeSubwords``).

    Characters are UTF-8 code points; n-grams have ``minn .. maxn`` of them, and the lone
    boundary marks are left out.

    Example:
        >>> char_ngrams("cat", 3, 4)
        [b'<ca', b'<cat', b'cat', b'cat>', b'at>']
    """
    raw = word.encode("utf-8", "surrogateescape") if isinstance(word, str) else bytes(word)
    marked = b"<" + raw + b">"
    out = []
    size = len(marked)
    for i in range(size):
        if marked[i] & 0xC0 == 0x80:
            continue
        j, n = i, 1
        while j < size and n <= maxn:
            j += 1
            while j < size and marked[j] & 0xC0 == 0x80:
                j += 1
            if n >= minn and not (n == 1 and (i == 0 or j == size)):
                out.append(marked[i:j])
            n += 1
    return out


def murmurhash3_32(data: bytes | str, seed: int = 0) -> int:
    """MurmurHash3 x86 32-bit of ``data`` (UTF-8 for a ``str``) with ``seed``, unsigned.

    Example:
        >>> hex(murmurhash3_32(b"hello"))
        '0x248bfa47'
        >>> murmurhash3_32(b"", seed=1)
        1364076727
    """
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else bytes(data)
    c1, c2 = 0xCC9E2D51, 0x1B873593

    def rotl(x: int, r: int) -> int:
        return ((x << r) | (x >> (32 - r))) & _MASK32

    h = seed & _MASK32
    blocks = len(raw) // 4
    for b in range(blocks):
        k = int.from_bytes(raw[4 * b : 4 * b + 4], "little")
        k = rotl((k * c1) & _MASK32, 15)
        h ^= (k * c2) & _MASK32
        h = (rotl(h, 13) * 5 + 0xE6546B64) & _MASK32
    tail = raw[4 * blocks :]
    if tail:
        k = int.from_bytes(tail, "little")
        k = rotl((k * c1) & _MASK32, 15)
        h ^= (k * c2) & _MASK32
    h ^= len(raw)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _MASK32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _MASK32
    return h ^ (h >> 16)


# ---------------------------------------------------------------------------------------------
# Checks shared by the indexers.


def _check_int(value: Any, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise OptionTypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < low or (high is not None and value > high):
        valid = f">= {low}" if high is None else f"{low}..{high}"
        raise OptionError(f"{name} must be {valid}, got {value}")
    return int(value)


def _token_list(tokens: Iterable[str], what: str = "tokens") -> list[str]:
    if isinstance(tokens, (str, bytes)):
        raise OptionTypeError(
            f"{what} must be a sequence of str, got the single {type(tokens).__name__} "
            f"{tokens[:40]!r}; wrap it in a list"
        )
    listed = tokens if isinstance(tokens, list) else list(tokens)
    for position, token in enumerate(listed):
        if not isinstance(token, str):
            raise OptionTypeError(
                f"{what} must be str, got {type(token).__name__} {token!r} at position {position}"
            )
    return listed


def encode_tokens(
    tokens: Sequence[str], *, marks: bool
) -> tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.int64]]:
    """One UTF-8 buffer for ``tokens`` (``"<" + token + ">"`` with ``marks``) and each token's
    byte bounds ``(buffer, begins, ends)``.

    Strings decoded with ``errors="surrogateescape"`` give back their original bytes.

    Raises:
        TokenError: a token holds a lone surrogate that UTF-8 cannot encode.

    Example:
        >>> buffer, begins, ends = encode_tokens(["ab", "é"], marks=True)
        >>> bytes(buffer[begins[1]:ends[1]]), begins.tolist(), ends.tolist()
        (b'<\\xc3\\xa9>', [0, 5], [4, 9])
    """
    count = len(tokens)
    if count == 0:
        empty = np.zeros(0, dtype=np.int64)
        return np.zeros(0, dtype=np.uint8), empty, empty
    open_mark, close_mark = ("<", ">") if marks else ("", "")
    joined = open_mark + (close_mark + "\x00" + open_mark).join(tokens) + close_mark
    try:
        raw = joined.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        for position, token in enumerate(tokens):
            try:
                token.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError as err:
                raise TokenError(
                    f"token {token!r} at position {position} cannot be encoded as UTF-8 "
                    f"({err.reason} at character {err.start})"
                ) from None
        raise  # pragma: no cover - some token must have failed
    buffer = np.frombuffer(raw, dtype=np.uint8)
    if joined.count("\x00") != count - 1:
        # a token holds NUL itself: measure each token instead of splitting on NUL
        lengths = np.fromiter(
            (len(t.encode("utf-8", "surrogateescape")) + len(open_mark) * 2 for t in tokens),
            dtype=np.int64,
            count=count,
        )
        begins = np.zeros(count, dtype=np.int64)
        np.cumsum(lengths[:-1] + 1, out=begins[1:])
        return buffer, begins, begins + lengths
    separators = np.flatnonzero(buffer == 0).astype(np.int64)
    begins = np.concatenate(([0], separators + 1))
    ends = np.concatenate((separators, [buffer.size]))
    return buffer, begins, ends


def _kernels() -> Any:
    from .kernels import subword

    return subword


def subword_bags(
    buffer: NDArray[np.uint8],
    begins: NDArray[np.int64],
    ends: NDArray[np.int64],
    word_ids: NDArray[np.int64],
    with_ngrams: NDArray[np.bool_],
    *,
    minn: int,
    maxn: int,
    bucket: int,
    nwords: int,
) -> Bags:
    """fastText's bags of encoded tokens: token ``t`` is ``buffer[begins[t]:ends[t]]``, the
    UTF-8 bytes of ``"<" + token + ">"`` (see :func:`encode_tokens`); its bag is its word row
    ``word_ids[t]`` (none when ``-1``), then, when ``with_ngrams[t]``, the rows
    ``nwords + fasttext_hash(ngram) % bucket`` of its n-grams.

    Example:
        >>> buffer, begins, ends = encode_tokens(["at"], marks=True)
        >>> subword_bags(buffer, begins, ends, np.array([-1]), np.array([True]),
        ...              minn=3, maxn=3, bucket=10, nwords=1)
        (array([5, 7]), array([0]))
    """
    count = begins.shape[0]
    if count == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    word_ids = np.ascontiguousarray(word_ids, dtype=np.int64)
    with_ngrams = np.ascontiguousarray(with_ngrams, dtype=np.bool_)
    per_char = max(0, int(maxn) - max(int(minn), 1) + 1) if bucket > 0 else 0
    bound = int((ends - begins).sum()) * per_char + count
    offsets = np.empty(count, dtype=np.int64)
    rows = np.empty(bound, dtype=np.int64)
    total = _kernels().fill_subword_rows(
        buffer,
        begins,
        ends,
        word_ids,
        with_ngrams,
        int(minn),
        int(maxn),
        int(bucket),
        int(nwords),
        offsets,
        rows,
    )
    rows = rows[:total].copy() if total < bound // 2 else rows[:total]
    return rows, offsets


# ---------------------------------------------------------------------------------------------
# The seam.


class Indexer:
    """Turns tokens into bags of table rows: the seam every token-to-vector strategy implements.

    Subclasses set ``num_rows`` (the table's row count) and ``mode`` (how a bag is pooled), and
    implement :meth:`index` and :meth:`config`; passing ``kind="..."`` in the class statement
    registers the class for :func:`indexer_from_config` (and so for saving and loading).

    Example:
        >>> class FirstLetter(Indexer):  # kind="first-letter" would register it by that name
        ...     num_rows, mode = 26, "sum"
        ...     def index(self, tokens):
        ...         ids = np.array([ord(t[0]) - ord("a") for t in tokens], dtype=np.int64)
        ...         return ids, np.arange(len(ids), dtype=np.int64)
        ...     def config(self):
        ...         return {"kind": "first-letter"}
        >>> FirstLetter().index(["cat", "bat"])
        (array([2, 1]), array([0, 1]))
    """

    num_rows: int
    mode: Mode
    kind: ClassVar[str] = ""
    _registry: ClassVar[dict[str, type[Indexer]]] = {}

    def __init_subclass__(cls, kind: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if kind is not None:
            cls.kind = kind
            Indexer._registry[kind] = cls

    def index(self, tokens: Any) -> Bags:
        """``(ids, offsets)``: the rows of each token, as ``EmbeddingBag`` input.

        Shape:
            ``T`` tokens → ids ``(N,)`` int64 and offsets ``(T,)`` int64, non-decreasing,
            ``offsets[0] == 0`` (when ``T > 0``).

        Example:
            >>> HashIndexer(1000, num_hashes=2).index(["cat", "dog"])[1]  # two rows per token
            array([0, 2])
        """
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """JSON-able settings that :func:`indexer_from_config` rebuilds the indexer from.

        Example:
            >>> HashIndexer(1000, num_hashes=2, seed=0).config()
            {'kind': 'hash', 'num_buckets': 1000, 'num_hashes': 2, 'seed': 0}
        """
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **context: Any) -> Indexer:
        """Rebuild from :meth:`config` (``context`` carries what is saved elsewhere, e.g. the
        vocabulary).

        Example:
            >>> settings = {"kind": "hash", "num_buckets": 64, "num_hashes": 2, "seed": 1}
            >>> HashIndexer.from_config(settings)
            HashIndexer(num_buckets=64, num_hashes=2, seed=1)
        """
        settings = {key: value for key, value in config.items() if key != "kind"}
        return cls(**settings, **context)

    def __call__(self, tokens: Any) -> Bags:
        return self.index(tokens)


def indexer_from_config(config: Mapping[str, Any], **context: Any) -> Indexer:
    """The indexer that ``config`` (from :meth:`Indexer.config`) describes.

    Raises:
        OptionError: an unknown ``kind``.

    Example:
        >>> indexer_from_config({"kind": "hash", "num_buckets": 10, "num_hashes": 2, "seed": 0})
        HashIndexer(num_buckets=10, num_hashes=2, seed=0)
    """
    kind = config.get("kind")
    cls = Indexer._registry.get(kind)  # type: ignore[arg-type]
    if cls is None:
        raise OptionError(
            f"unknown indexer kind {kind!r}; expected one of {sorted(Indexer._registry)}"
        )
    return cls.from_config(config, **context)


def _one_per_token(ids: list[int] | NDArray[np.int64]) -> Bags:
    array = np.asarray(ids, dtype=np.int64)
    return array, np.arange(array.size, dtype=np.int64)


class VocabIndexer(Indexer, kind="vocab"):
    """One row per token: its id in a :class:`~embtable.text.Vocab` (or token list).

    Args:
        vocab: a ``Vocab`` or a sequence of distinct tokens (row ``i`` is token ``i``).
        oov: unknown tokens map to ``"unk"`` (the vocabulary's ``<unk>``), to ``"zeros"`` (an
            empty bag: the zero vector), or raise (``"error"``). ``None`` picks ``"unk"`` when
            the vocabulary has an ``unk_id``, else ``"zeros"``.

    Raises:
        OptionError: an unknown ``oov``, or ``"unk"`` without an ``unk_id``.

    Example:
        >>> VocabIndexer(["a", "b"]).index(["b", "zzz", "a"])  # "zzz": an empty bag
        (array([1, 0]), array([0, 1, 1]))
    """

    def __init__(self, vocab: Any, *, oov: Literal["unk", "zeros", "error"] | None = None) -> None:
        if hasattr(vocab, "token_to_id"):
            self.tokens = list(vocab.id_to_token)
            self.token_to_id: dict[str, int] = dict(vocab.token_to_id)
            unk_id = getattr(vocab, "unk_id", None)
        else:
            self.tokens = _token_list(vocab, "vocab")
            self.token_to_id = {token: row for row, token in enumerate(self.tokens)}
            if len(self.token_to_id) != len(self.tokens):
                raise OptionError("vocab tokens must be distinct")
            unk_id = None
        if oov is None:
            oov = "unk" if unk_id is not None else "zeros"
        if oov not in ("unk", "zeros", "error"):
            raise OptionError(f"oov must be 'unk', 'zeros', 'error' or None, got {oov!r}")
        if oov == "unk" and unk_id is None:
            raise OptionError("oov='unk' needs a vocabulary with an unk_token")
        self.oov = oov
        self.unk_id = unk_id
        self.num_rows = len(self.tokens)
        self.mode: Mode = "sum"

    def index(self, tokens: Iterable[str]) -> Bags:
        """One row per known token; an unknown one as ``oov`` says (here: an empty bag).

        Example:
            >>> VocabIndexer(["a", "b"]).index(["b", "a"])
            (array([1, 0]), array([0, 1]))
        """
        listed = _token_list(tokens)
        get = self.token_to_id.get
        ids = [get(token, -1) for token in listed]
        array = np.array(ids, dtype=np.int64)
        unknown = array < 0
        if not unknown.any():
            return array, np.arange(array.size, dtype=np.int64)
        if self.oov == "error":
            position = int(np.flatnonzero(unknown)[0])
            raise TokenError(
                f"token {listed[position]!r} at position {position} is not in the vocabulary "
                f"of {self.num_rows} tokens"
            )
        if self.oov == "unk":
            array[unknown] = self.unk_id
            return array, np.arange(array.size, dtype=np.int64)
        kept = ~unknown
        offsets = np.zeros(array.size, dtype=np.int64)
        np.cumsum(kept[:-1], out=offsets[1:])
        return array[kept], offsets

    def config(self) -> dict[str, Any]:
        """The settings; the vocabulary itself is saved beside them.

        Example:
            >>> VocabIndexer(["a", "b"]).config()
            {'kind': 'vocab', 'oov': 'zeros'}
        """
        return {"kind": self.kind, "oov": self.oov}

    def __repr__(self) -> str:
        return f"VocabIndexer({self.num_rows} tokens, oov={self.oov!r})"


class SubwordIndexer(Indexer, kind="subword"):
    """fastText's bags: a word's own row, then its character n-gram buckets (mean-pooled).

    Args:
        words: the vocabulary: a ``Vocab``, or a sequence of distinct words; word ``i`` owns
            row ``i``.
        minn, maxn: the n-gram lengths in characters (fastText's defaults: 3 and 6).
        bucket: the number of n-gram rows, after the words (fastText's default: 2,000,000);
            0 gives no n-grams (unknown words then have an empty bag, the zero vector).

    Attributes:
        nwords: the word count; ``num_rows = nwords + bucket``.

    Raises:
        OptionError: negative sizes, repeated words.

    Example:
        >>> indexer = SubwordIndexer(["cat"], minn=3, maxn=3, bucket=10)
        >>> indexer.index(["cat", "at"])  # cat: its row 0 and 3 n-grams; "at": 2 n-grams
        (array([0, 8, 2, 7, 5, 7]), array([0, 4]))
    """

    def __init__(
        self,
        words: Any,
        *,
        minn: int = 3,
        maxn: int = 6,
        bucket: int = 2_000_000,
    ) -> None:
        self.minn = _check_int(minn, "minn", 0)
        self.maxn = _check_int(maxn, "maxn", 0)
        self.bucket = _check_int(bucket, "bucket", 0, 2**31 - 1)
        if hasattr(words, "token_to_id"):  # a Vocab or Vectors: share its mapping
            self.words: list[str] = (
                words.id_to_token if hasattr(words, "id_to_token") else words.tokens
            )
            self.word_to_id: dict[str, int] = words.token_to_id
        else:
            self.words = _token_list(words, "words")
            self.word_to_id = {}
            for row, word in enumerate(self.words):
                first = self.word_to_id.setdefault(word, row)
                if first != row:
                    raise OptionError(f"word {word!r} appears twice, at rows {first} and {row}")
        self.nwords = len(self.words)
        self.num_rows = self.nwords + self.bucket
        self.mode: Mode = "mean"

    def index(self, tokens: Iterable[str]) -> Bags:
        """Each token's word row (when it is a word), then its n-gram rows; ``"</s>"`` has no
        n-grams (an empty bag unless it is a word).

        Shape:
            ``T`` tokens → ids ``(N,)`` int64 and offsets ``(T,)`` int64.

        Example:
            >>> indexer = SubwordIndexer(["cat"], minn=3, maxn=3, bucket=10)
            >>> ids, offsets = indexer.index(["cat", "</s>", "at"])
            >>> ids, offsets  # cat: row 0 + 3 n-grams; </s>: empty; at: 2 n-grams
            (array([0, 8, 2, 7, 5, 7]), array([0, 4, 4]))
            >>> np.diff(np.append(offsets, ids.size)).tolist()  # rows per token
            [4, 0, 2]
        """
        listed = _token_list(tokens)
        count = len(listed)
        # C-level loops: map over dict.get, and a list scan for "</s>" (rare in queries)
        word_ids = np.fromiter(
            map(self.word_to_id.get, listed, itertools.repeat(-1, count)), np.int64, count
        )
        with_ngrams = np.ones(count, dtype=np.bool_)
        if _EOS in listed:
            with_ngrams[[i for i, t in enumerate(listed) if t == _EOS]] = False
        return self.index_encoded(*encode_tokens(listed, marks=True), word_ids, with_ngrams)

    def index_encoded(
        self,
        buffer: NDArray[np.uint8],
        begins: NDArray[np.int64],
        ends: NDArray[np.int64],
        word_ids: NDArray[np.int64],
        with_ngrams: NDArray[np.bool_],
    ) -> Bags:
        """:meth:`index` on tokens already encoded (see :func:`subword_bags`): for callers that
        keep a corpus as one UTF-8 buffer and look the word ids up themselves.

        Example:
            >>> indexer = SubwordIndexer(["cat"], minn=3, maxn=3, bucket=10)
            >>> buffer, begins, ends = encode_tokens(["cat", "at"], marks=True)
            >>> word_ids = np.array([0, -1])  # "at" is not a word
            >>> with_ngrams = np.array([False, True])  # "cat": its word row only
            >>> indexer.index_encoded(buffer, begins, ends, word_ids, with_ngrams)
            (array([0, 5, 7]), array([0, 1]))
        """
        return subword_bags(
            buffer,
            begins,
            ends,
            word_ids,
            with_ngrams,
            minn=self.minn,
            maxn=self.maxn,
            bucket=self.bucket,
            nwords=self.nwords,
        )

    def ngram_rows(self, word: str) -> NDArray[np.int64]:
        """The n-gram rows of ``word`` alone (no word row), in fastText's order.

        Example:
            >>> SubwordIndexer([], minn=3, maxn=3, bucket=10).ngram_rows("at")
            array([4, 6])
        """
        buffer, begins, ends = encode_tokens([word], marks=True)
        rows, _ = self.index_encoded(
            buffer, begins, ends, np.full(1, -1, dtype=np.int64), np.ones(1, dtype=np.bool_)
        )
        return rows

    def config(self) -> dict[str, Any]:
        """The n-gram settings; the words are saved beside them (``words=`` when rebuilding).

        Example:
            >>> indexer = SubwordIndexer(["cat"], minn=3, maxn=3, bucket=10)
            >>> indexer.config()
            {'kind': 'subword', 'minn': 3, 'maxn': 3, 'bucket': 10}
            >>> indexer_from_config(indexer.config(), words=["cat"])
            SubwordIndexer(words=1, minn=3, maxn=3, bucket=10)
        """
        return {"kind": self.kind, "minn": self.minn, "maxn": self.maxn, "bucket": self.bucket}

    def __repr__(self) -> str:
        return (
            f"SubwordIndexer(words={self.nwords}, minn={self.minn}, maxn={self.maxn}, "
            f"bucket={self.bucket})"
        )


class HashIndexer(Indexer, kind="hash"):
    """The hashing trick with several hashes (Bloom embeddings, as thinc/spaCy's ``HashEmbed``):
    each token owns ``num_hashes`` rows of ``num_buckets``, summed.

    Row ``k`` of a token is ``murmurhash3_32(key, seed + k) % num_buckets``, where the key is
    the token's UTF-8 bytes, or for integer tokens (ids, categorical features) the 8 bytes of the
    id as a little-endian int64. Two tokens share a row for one hash at random, but rarely for
    all of them.

    Args:
        num_buckets: the table's rows.
        num_hashes: rows per token.
        seed: the first hash's seed (``0 .. 2**32 - num_hashes``).

    Example:
        >>> indexer = HashIndexer(num_buckets=1000, num_hashes=2, seed=0)
        >>> indexer.index(["cat"])
        (array([759, 671]), array([0]))
        >>> indexer.index(np.array([7, 7]))[0]  # integer ids: the same rows for the same id
        array([267, 602, 267, 602])
    """

    def __init__(self, num_buckets: int, *, num_hashes: int = 2, seed: int = 0) -> None:
        self.num_buckets = _check_int(num_buckets, "num_buckets", 1)
        self.num_hashes = _check_int(num_hashes, "num_hashes", 1, 64)
        self.seed = _check_int(seed, "seed", 0, 2**32 - self.num_hashes)
        self.num_rows = self.num_buckets
        self.mode: Mode = "sum"

    def _encode(
        self, tokens: Any
    ) -> tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.int64]]:
        if isinstance(tokens, np.ndarray) and tokens.dtype.kind in "iub":
            ids = np.ascontiguousarray(tokens.reshape(-1), dtype="<i8")
            begins = np.arange(ids.size, dtype=np.int64) * 8
            return ids.view(np.uint8), begins, begins + 8
        listed = tokens if isinstance(tokens, list) else list(tokens)
        if listed and all(
            isinstance(t, numbers.Integral) and not isinstance(t, bool) for t in listed
        ):
            return self._encode(np.array(listed, dtype=np.int64))
        return encode_tokens(_token_list(listed), marks=False)

    def index(self, tokens: Any) -> Bags:
        """Rows of string tokens, or of integer tokens (a list or an integer array).

        Shape:
            ``T`` tokens → ids ``(T * num_hashes,)`` int64 and offsets ``(T,)`` int64.

        Example:
            >>> indexer = HashIndexer(1000, num_hashes=2)
            >>> indexer.index(["cat", "dog"])  # two rows per token
            (array([759, 671, 203, 592]), array([0, 2]))
            >>> indexer.index([7, 10**12])[0]  # integer ids (a list or an array)
            array([267, 602, 348, 666])
        """
        buffer, begins, ends = self._encode(tokens)
        count = begins.shape[0]
        rows = np.empty(count * self.num_hashes, dtype=np.int64)
        if count:
            seeds = np.arange(self.seed, self.seed + self.num_hashes, dtype=np.uint64)
            _kernels().murmur3_rows(buffer, begins, ends, seeds, self.num_buckets, rows)
        return rows, np.arange(count, dtype=np.int64) * self.num_hashes

    def config(self) -> dict[str, Any]:
        """All the settings: :func:`indexer_from_config` rebuilds the same rows from them.

        Example:
            >>> indexer = HashIndexer(1000, num_hashes=2, seed=7)
            >>> indexer.config()
            {'kind': 'hash', 'num_buckets': 1000, 'num_hashes': 2, 'seed': 7}
            >>> rebuilt = indexer_from_config(indexer.config())
            >>> bool(np.array_equal(rebuilt.index(["cat"])[0], indexer.index(["cat"])[0]))
            True
        """
        return {
            "kind": self.kind,
            "num_buckets": self.num_buckets,
            "num_hashes": self.num_hashes,
            "seed": self.seed,
        }

    def __repr__(self) -> str:
        return (
            f"HashIndexer(num_buckets={self.num_buckets}, num_hashes={self.num_hashes}, "
            f"seed={self.seed})"
        )


class QuotientRemainderIndexer(Indexer, kind="quotient-remainder"):
    """The quotient-remainder trick (Shi et al., KDD 2020), in its ``add`` form: id ``i`` owns
    row ``i // m`` of a quotient table and row ``i % m`` of a remainder table, summed, so
    ``num_ids`` ids need ``ceil(num_ids / m) + m`` rows and no two ids share both.

    The two tables are one: the quotient rows first, then the remainder rows. The paper's
    ``mult`` form (an element-wise product of the two rows) is not a pooling of rows, so it is
    not an indexer; :class:`QuotientRemainderEmbedding` with ``operation="mult"`` implements it.

    Args:
        num_ids: ids are ``0 .. num_ids - 1``.
        num_collisions: ``m``, the remainder table's rows.

    Raises:
        EmbeddingIndexError: (from :meth:`index`) an id outside ``0 .. num_ids - 1``.

    Example:
        >>> indexer = QuotientRemainderIndexer(num_ids=10, num_collisions=4)
        >>> indexer.num_rows, indexer.index([0, 5, 9])
        (7, (array([0, 3, 1, 4, 2, 4]), array([0, 2, 4])))
    """

    def __init__(self, num_ids: int, *, num_collisions: int) -> None:
        self.num_ids = _check_int(num_ids, "num_ids", 1)
        self.num_collisions = _check_int(num_collisions, "num_collisions", 1)
        self.num_quotients = math.ceil(self.num_ids / self.num_collisions)
        self.num_rows = self.num_quotients + self.num_collisions
        self.mode: Mode = "sum"

    def split(self, ids: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """``(ids // m, ids % m)``, after checking the range.

        Raises:
            EmbeddingIndexError: an id outside ``0 .. num_ids - 1``.
            OptionTypeError: ids that are not integers.

        Example:
            >>> indexer = QuotientRemainderIndexer(10, num_collisions=4)
            >>> indexer.split([[0, 5], [9, 3]])  # flattened
            (array([0, 1, 2, 0]), array([0, 1, 1, 3]))
        """
        array = np.asarray(ids)
        if array.size and array.dtype.kind not in "iu":
            raise OptionTypeError(f"ids must be integers, got {array.dtype}")
        flat = array.reshape(-1).astype(np.int64)
        bad = np.flatnonzero((flat < 0) | (flat >= self.num_ids))
        if bad.size:
            raise EmbeddingIndexError(
                f"id {int(flat[bad[0]])} at position {int(bad[0])} is out of range for "
                f"{self.num_ids} ids (valid: 0..{self.num_ids - 1})"
            )
        return flat // self.num_collisions, flat % self.num_collisions

    def index(self, tokens: ArrayLike) -> Bags:
        """Two rows per id: its quotient row, then ``num_quotients +`` its remainder.

        Example:
            >>> indexer = QuotientRemainderIndexer(10, num_collisions=4)  # 3 quotient rows
            >>> indexer.index([5, 9])  # 5: rows 1 and 3 + 1; 9: rows 2 and 3 + 1
            (array([1, 4, 2, 4]), array([0, 2]))
        """
        quotients, remainders = self.split(tokens)
        rows = np.empty(2 * quotients.size, dtype=np.int64)
        rows[0::2] = quotients
        rows[1::2] = self.num_quotients + remainders
        return rows, np.arange(quotients.size, dtype=np.int64) * 2

    def config(self) -> dict[str, Any]:
        """All the settings, for :func:`indexer_from_config`.

        Example:
            >>> indexer = QuotientRemainderIndexer(10, num_collisions=4)
            >>> indexer.config()
            {'kind': 'quotient-remainder', 'num_ids': 10, 'num_collisions': 4}
            >>> indexer_from_config(indexer.config())
            QuotientRemainderIndexer(num_ids=10, num_collisions=4)
        """
        return {
            "kind": self.kind,
            "num_ids": self.num_ids,
            "num_collisions": self.num_collisions,
        }

    def __repr__(self) -> str:
        return (
            f"QuotientRemainderIndexer(num_ids={self.num_ids}, "
            f"num_collisions={self.num_collisions})"
        )


# ---------------------------------------------------------------------------------------------
# NumPy layers.


class IndexedEmbedding(Module):
    """A table whose tokens are bags of rows chosen by an :class:`Indexer`, pooled by an
    :class:`~embtable.EmbeddingBag`: ``layer(tokens)`` is ``(T, embedding_dim)``.

    Args:
        indexer: the strategy (its ``num_rows`` and ``mode`` size and pool the table).
        embedding_dim: the width ``D``.
        max_norm, norm_type, scale_grad_by_freq, sparse: as ``EmbeddingBag``.
        _weight: an existing ``(num_rows, D)`` float table (shared, not copied).
        freeze: with ``_weight``, make it not require gradients.
        dtype: a fresh table's dtype.
        rng: seed or generator of a fresh table (N(0, 1), as ``EmbeddingBag``).

    Shape:
        ``T`` tokens → ``(T, D)``.

    Example:
        >>> layer = IndexedEmbedding(HashIndexer(50, num_hashes=3), 2, sparse=True, rng=0)
        >>> layer(["a", "b"]).shape
        (2, 2)
        >>> layer.backward(["a", "b"], np.ones((2, 2)))
        >>> layer.weight.grad.rows.size  # at most 6 rows were touched
        6
    """

    def __init__(
        self,
        indexer: Indexer,
        embedding_dim: int,
        *,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: ArrayLike | None = None,
        freeze: bool = False,
        dtype: DTypeLike = np.float32,
        rng: int | np.random.Generator | None = None,
    ) -> None:
        if not isinstance(indexer, Indexer):
            raise OptionTypeError(
                f"indexer must be an embtable.subword.Indexer, got {type(indexer).__name__}"
            )
        self.indexer = indexer
        self.bag = EmbeddingBag(
            indexer.num_rows,
            embedding_dim,
            max_norm,
            norm_type,
            scale_grad_by_freq,
            indexer.mode,
            sparse,
            _weight,
            dtype=dtype,
            rng=rng,
        )
        self.weight = self.bag.weight
        if _weight is None:
            self.reset_parameters()
        elif freeze:
            self.weight.requires_grad = False

    @property
    def num_embeddings(self) -> int:
        return self.bag.num_embeddings

    @property
    def embedding_dim(self) -> int:
        return self.bag.embedding_dim

    @property
    def mode(self) -> Mode:
        return self.indexer.mode

    @property
    def sparse(self) -> bool:
        return self.bag.sparse

    def reset_parameters(self) -> None:
        """Redraw the table from N(0, 1) (subclasses: their own initialisation).

        Example:
            >>> layer = IndexedEmbedding(VocabIndexer(["a", "b"]), 2, rng=0)
            >>> layer.weight.data[...] = 0
            >>> layer.reset_parameters()
            >>> bool((layer.weight.data != 0).all())
            True
        """
        self.bag.reset_parameters()

    def forward(self, tokens: Any) -> NDArray[np.floating]:
        """The vector of each token, ``(T, D)``.

        Example:
            >>> layer = IndexedEmbedding(VocabIndexer(["a", "b"]), 2, rng=0)
            >>> bool(np.array_equal(layer.forward(["b"])[0], layer.weight.data[1]))
            True
        """
        ids, offsets = self.indexer.index(tokens)
        return self.bag(ids, offsets)

    def backward(self, tokens: Any, grad_output: ArrayLike) -> None:
        """Accumulate the gradient of :meth:`forward` into ``weight.grad``.

        Example:
            >>> layer = IndexedEmbedding(VocabIndexer(["a", "b"]), 2, rng=0)
            >>> layer.backward(["b"], np.ones((1, 2)))
            >>> layer.weight.grad
            array([[0., 0.],
                   [1., 1.]], dtype=float32)
        """
        ids, offsets = self.indexer.index(tokens)
        self.bag.backward(ids, grad_output, offsets)

    def extra_repr(self) -> str:
        """The indexer and the width, inside ``repr(layer)``.

        Example:
            >>> IndexedEmbedding(HashIndexer(50, num_hashes=3), 2).extra_repr()
            'HashIndexer(num_buckets=50, num_hashes=3, seed=0), 2'
        """
        return f"{self.indexer!r}, {self.embedding_dim}"


class SubwordEmbedding(IndexedEmbedding):
    """fastText's embedding: word rows plus hashed character n-gram rows, mean-pooled.

    The row layout is fastText's (words, then buckets; see :mod:`embtable.subword`), so
    :meth:`from_fasttext` shares a ``.bin`` model's input matrix as it is and a trainer can save
    the table back as one. A fresh table is uniform in ``±1 / embedding_dim`` (fastText's).

    Args:
        words: the vocabulary (``Vocab`` or distinct words).
        embedding_dim: ``D``.
        minn, maxn, bucket: the n-grams (see :class:`SubwordIndexer`).
        **options: :class:`IndexedEmbedding`'s (``sparse``, ``_weight``, ``freeze``, ``rng``...).

    Example:
        >>> layer = SubwordEmbedding(["hello"], 3, bucket=1000, rng=0)
        >>> vector = layer(["hellos"])[0]
        >>> rows = layer.indexer.ngram_rows("hellos")
        >>> bool(np.allclose(vector, layer.weight.data[rows].mean(axis=0)))
        True
    """

    def __init__(
        self,
        words: Any,
        embedding_dim: int,
        *,
        minn: int = 3,
        maxn: int = 6,
        bucket: int = 2_000_000,
        **options: Any,
    ) -> None:
        super().__init__(
            SubwordIndexer(words, minn=minn, maxn=maxn, bucket=bucket), embedding_dim, **options
        )

    def reset_parameters(self) -> None:
        """Redraw the table uniformly in ``±1 / embedding_dim`` (fastText's initialisation).

        Example:
            >>> layer = SubwordEmbedding(["hello"], 4, bucket=100, rng=0)
            >>> layer.reset_parameters()
            >>> bool(np.abs(layer.weight.data).max() <= 0.25)
            True
        """
        data = self.weight.data
        bound = 1.0 / max(self.embedding_dim, 1)
        data[...] = self.bag._rng.uniform(-bound, bound, size=data.shape)

    @classmethod
    def from_fasttext(cls, source: Any, *, freeze: bool = True, **options: Any) -> SubwordEmbedding:
        """The layer of a fastText model: a path to a ``.bin`` file or a
        :class:`~embtable.fasttext.FastTextVectors`; the table is its input matrix (shared).

        Example:
            >>> from embtable.fasttext import FastTextVectors
            >>> model = FastTextVectors(["hi"], np.ones((11, 2), np.float32), minn=2, maxn=2,
            ...                         bucket=10)
            >>> SubwordEmbedding.from_fasttext(model)
            SubwordEmbedding(words=1, embedding_dim=2, minn=2, maxn=2, bucket=10)
        """
        from .fasttext import FastTextVectors

        model = source if isinstance(source, FastTextVectors) else FastTextVectors.load_bin(source)
        indexer = model.subwords
        return cls(
            model.tokens,
            model.input_matrix.shape[1],
            minn=indexer.minn,
            maxn=indexer.maxn,
            bucket=indexer.bucket,
            _weight=model.input_matrix,
            freeze=freeze,
            **options,
        )

    def extra_repr(self) -> str:
        """The vocabulary size, width and n-gram settings, inside ``repr(layer)``.

        Example:
            >>> SubwordEmbedding(["hello"], 3, bucket=1000).extra_repr()
            'words=1, embedding_dim=3, minn=3, maxn=6, bucket=1000'
        """
        indexer = self.indexer
        assert isinstance(indexer, SubwordIndexer)
        return (
            f"words={indexer.nwords}, embedding_dim={self.embedding_dim}, minn={indexer.minn}, "
            f"maxn={indexer.maxn}, bucket={indexer.bucket}"
        )


class HashEmbedding(IndexedEmbedding):
    """Bloom embeddings: ``num_hashes`` seeded hashes of each token (a string or an integer id)
    into ``num_buckets`` rows, summed; no vocabulary, so no token is ever unknown.

    Args:
        num_buckets: the table's rows.
        embedding_dim: ``D``.
        num_hashes, seed: see :class:`HashIndexer`.
        **options: :class:`IndexedEmbedding`'s.

    Example:
        >>> layer = HashEmbedding(100, 4, num_hashes=2, rng=0)
        >>> bool(np.array_equal(layer(["user:42"]), layer(["user:42"])))
        True
        >>> layer(np.array([3, 10**12])).shape  # unbounded integer ids
        (2, 4)
    """

    def __init__(
        self,
        num_buckets: int,
        embedding_dim: int,
        *,
        num_hashes: int = 2,
        seed: int = 0,
        **options: Any,
    ) -> None:
        super().__init__(
            HashIndexer(num_buckets, num_hashes=num_hashes, seed=seed), embedding_dim, **options
        )

    def extra_repr(self) -> str:
        """The buckets, width and hashing, inside ``repr(layer)``.

        Example:
            >>> HashEmbedding(100, 4, num_hashes=2).extra_repr()
            '100, 4, num_hashes=2, seed=0'
        """
        indexer = self.indexer
        assert isinstance(indexer, HashIndexer)
        return (
            f"{indexer.num_buckets}, {self.embedding_dim}, num_hashes={indexer.num_hashes}, "
            f"seed={indexer.seed}"
        )


class QuotientRemainderEmbedding(Module):
    """Compositional embedding of ``num_embeddings`` ids with two small tables (Shi et al.,
    KDD 2020): id ``i`` combines row ``i // m`` of ``weight_quotient`` with row ``i % m`` of
    ``weight_remainder``, by ``"mult"`` (element-wise product, the paper's default) or
    ``"add"``.

    ``"add"`` is :class:`QuotientRemainderIndexer` through an ``EmbeddingBag`` (see
    :meth:`as_indexed`); ``"mult"`` is not a pooling of rows, so this layer computes it from two
    lookups and their product rule. Initialisation: see :meth:`reset_parameters`.

    Args:
        num_embeddings: ids are ``0 .. num_embeddings - 1``.
        embedding_dim: ``D``.
        num_collisions: ``m``.
        operation: ``"mult"`` or ``"add"``.
        dtype, rng: of the fresh tables.

    Shape:
        ids ``(*)`` → ``(*, D)``.

    Example:
        >>> layer = QuotientRemainderEmbedding(1000, 4, num_collisions=32, rng=0)
        >>> layer.weight_quotient.shape, layer.weight_remainder.shape
        ((32, 4), (32, 4))
        >>> layer([[1, 999]]).shape
        (1, 2, 4)
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        *,
        num_collisions: int,
        operation: Literal["mult", "add"] = "mult",
        dtype: DTypeLike = np.float32,
        rng: int | np.random.Generator | None = None,
    ) -> None:
        from .layers import Embedding

        if operation not in ("mult", "add"):
            raise OptionError(f"operation must be 'mult' or 'add', got {operation!r}")
        self.indexer = QuotientRemainderIndexer(num_embeddings, num_collisions=num_collisions)
        self.operation = operation
        self.num_embeddings = self.indexer.num_ids
        self.embedding_dim = _check_int(embedding_dim, "embedding_dim", 0)
        generator = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
        self.quotient = Embedding(
            self.indexer.num_quotients, embedding_dim, dtype=dtype, rng=generator
        )
        self.remainder = Embedding(num_collisions, embedding_dim, dtype=dtype, rng=generator)
        self.reset_parameters()

    @property
    def weight_quotient(self) -> Any:
        return self.quotient.weight

    @property
    def weight_remainder(self) -> Any:
        return self.remainder.weight

    def named_parameters(self) -> Any:
        """Both tables, for an optimizer.

        Example:
            >>> layer = QuotientRemainderEmbedding(1000, 4, num_collisions=32)
            >>> [name for name, _ in layer.named_parameters()]
            ['weight_quotient', 'weight_remainder']
        """
        yield "weight_quotient", self.quotient.weight
        yield "weight_remainder", self.remainder.weight

    def reset_parameters(self) -> None:
        """``"add"``: both tables N(0, 1/2) (their sum is N(0, 1)); ``"mult"``: the remainder
        table starts at ones and the quotient table N(0, 1), so each id starts at its quotient
        row, as a plain N(0, 1) table.

        Example:
            >>> layer = QuotientRemainderEmbedding(100, 4, num_collisions=8, rng=0)
            >>> layer.reset_parameters()
            >>> bool((layer.weight_remainder.data == 1).all())  # "mult": remainders start at 1
            True
        """
        self.quotient.reset_parameters()
        self.remainder.reset_parameters()
        if self.operation == "add":
            self.quotient.weight.data *= np.sqrt(0.5)
            self.remainder.weight.data *= np.sqrt(0.5)
        else:
            self.remainder.weight.data[...] = 1

    def forward(self, ids: ArrayLike) -> NDArray[np.floating]:
        """The vector of each id: its quotient row times (or plus) its remainder row.

        Example:
            >>> layer = QuotientRemainderEmbedding(100, 2, num_collisions=8, rng=0)
            >>> q, r = layer.weight_quotient.data, layer.weight_remainder.data
            >>> bool(np.array_equal(layer.forward([[19]])[0, 0], q[19 // 8] * r[19 % 8]))
            True
        """
        shape = np.shape(ids)
        quotients, remainders = self.indexer.split(ids)
        q = self.quotient(quotients)
        r = self.remainder(remainders)
        out = q * r if self.operation == "mult" else q + r
        return out.reshape(*shape, self.embedding_dim)

    def backward(self, ids: ArrayLike, grad_output: ArrayLike) -> None:
        """Accumulate both tables' gradients (the product rule for ``"mult"``).

        Example:
            >>> layer = QuotientRemainderEmbedding(100, 2, num_collisions=8, operation="add")
            >>> layer.backward([19], np.ones((1, 2)))
            >>> layer.weight_quotient.grad[2], layer.weight_remainder.grad[3]
            (array([1., 1.], dtype=float32), array([1., 1.], dtype=float32))
        """
        quotients, remainders = self.indexer.split(ids)
        grad = np.asarray(grad_output).reshape(quotients.size, self.embedding_dim)
        if self.operation == "mult":
            q = self.quotient(quotients)
            r = self.remainder(remainders)
            self.quotient.backward(quotients, grad * r)
            self.remainder.backward(remainders, grad * q)
        else:
            self.quotient.backward(quotients, grad)
            self.remainder.backward(remainders, grad)

    def as_indexed(self) -> IndexedEmbedding:
        """For ``"add"``: the same layer as an :class:`IndexedEmbedding` over one stacked table
        (a copy), with the bag machinery (sparse gradients, fused optimizers).

        Raises:
            OptionError: ``operation="mult"``.

        Example:
            >>> layer = QuotientRemainderEmbedding(100, 2, num_collisions=8, operation="add", rng=0)
            >>> indexed = layer.as_indexed()
            >>> bool(np.allclose(indexed([5, 99]), layer([5, 99])))
            True
        """
        if self.operation != "add":
            raise OptionError("only operation='add' is a bag of rows; 'mult' has no indexer form")
        stacked = np.concatenate([self.quotient.weight.data, self.remainder.weight.data])
        return IndexedEmbedding(self.indexer, self.embedding_dim, _weight=stacked)

    def extra_repr(self) -> str:
        """The size, width and combination, inside ``repr(layer)``.

        Example:
            >>> QuotientRemainderEmbedding(1000, 4, num_collisions=32).extra_repr()
            "1000, 4, num_collisions=32, operation='mult'"
        """
        return (
            f"{self.num_embeddings}, {self.embedding_dim}, "
            f"num_collisions={self.indexer.num_collisions}, operation={self.operation!r}"
        )
