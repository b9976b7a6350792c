"""A training corpus: text read once, in blocks, into ``int32`` ids kept on disk.

:meth:`Corpus.from_files` reads text (plain, gzip or bzip2; ``"-"`` is standard input) in blocks
of about a megabyte of lines.
Each block is tokenised (:class:`~embtable.train._tokens.LineTokenizer`,
the exact rule of :func:`embtable.text.regex_tokenize` at C speed for most lines), its tokens are
numbered in order of first appearance and appended to a temporary file; counts are added up as
it goes. Then the vocabulary is chosen (``min_count``, ``max_final_vocab``, ``max_vocab``), and a
second sweep over the temporary file, in chunks, maps provisional ids to vocabulary ids, drops
the words outside it, and writes the retained ids and the sentence offsets to two more temporary
files. The corpus's :attr:`~Corpus.ids` and :attr:`~Corpus.sentence_offsets` are read-only
memory maps of those files, and the trainer reads them one chunk at a time.

Memory: the word-to-id dictionary of every distinct token (about 100 bytes per type), one block
of text and its tokens (a few tens of MB), and the counts; the corpus itself lives in unnamed
temporary files (4 bytes per token for the provisional ids, 4 per retained word and 8 per
sentence for the result), removed by the operating system when the corpus is garbage collected
or the process ends, even by ``kill -9``. ``temp_dir`` (default: :func:`tempfile.gettempdir`,
i.e. ``$TMPDIR``) says where they go; on a ``tmpfs`` they are memory again.
"""

from __future__ import annotations

import dataclasses
import io
import os
import sys
import tempfile
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from embtable._errors import CorpusError, OptionError, OptionTypeError
from embtable.train._progress import bar as progress_bar

if TYPE_CHECKING:
    from embtable.text.vocab import Vocab

__all__ = ["Corpus"]

_BLOCK_CHARS = 1 << 18
"""Characters of text tokenised at a time."""

_SWEEP_IDS = 1 << 20
"""Provisional ids remapped at a time in the second sweep."""

TOKENIZERS = ("regex", "regex-cased", "whitespace")


def _check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise OptionTypeError(f"{name} must be an integer >= {low}, got {value!r}")
    if value < low:
        raise OptionError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


class _FirstSeen(dict):  # type: ignore[type-arg]
    """Token -> provisional id in order of first appearance; ``None`` (end of line) is -1."""

    def __init__(self) -> None:
        super().__init__()
        self[None] = -1

    def __missing__(self, token: str) -> int:
        value = self[token] = len(self) - 1
        return value


class _Spool:
    """An append-only ``dtype`` array in an unnamed temporary file (or in memory).

    :meth:`read` copies a range out with ``os.pread``, so reading a chunk maps nothing and the
    process's resident memory stays at one chunk however large the file is.
    """

    def __init__(self, dtype: type, temp_dir: str | None, in_memory: bool) -> None:
        self.dtype = np.dtype(dtype)
        self.size = 0
        self._parts: list[NDArray[Any]] | None = [] if in_memory else None
        self._file: IO[bytes] | None = None
        if not in_memory:
            try:
                self._file = tempfile.TemporaryFile(dir=temp_dir)
            except OSError as err:
                raise CorpusError(
                    f"cannot create a temporary file for the corpus in "
                    f"{temp_dir or tempfile.gettempdir()!r}: {err.strerror or err}; "
                    "pass temp_dir (--temp-dir) or set TMPDIR to a writable directory"
                ) from None
            # closed (and so removed: it has no name) when the spool is garbage collected
            self._finalizer = weakref.finalize(self, self._file.close)

    def append(self, values: NDArray[Any]) -> None:
        values = np.ascontiguousarray(values, dtype=self.dtype)
        self.size += values.shape[0]
        if self._parts is not None:
            self._parts.append(values)
        else:
            assert self._file is not None
            try:
                self._file.write(values.data)
            except OSError as err:
                raise CorpusError(
                    f"cannot write the corpus's temporary file: {err.strerror or err} "
                    "(is the disk full? pass temp_dir or set TMPDIR)"
                ) from None

    def _joined(self) -> NDArray[Any]:
        assert self._parts is not None
        if len(self._parts) != 1:
            joined = np.concatenate(self._parts) if self._parts else np.zeros(0, self.dtype)
            self._parts = [_frozen(joined)]
        return self._parts[0]

    def array(self) -> NDArray[Any]:
        """The values written so far, read-only (a memory map for a file spool)."""
        if self._parts is not None:
            return self._joined()
        assert self._file is not None
        self._file.flush()
        if self.size == 0:
            return _frozen(np.zeros(0, self.dtype))
        mapped = np.memmap(self._file, dtype=self.dtype, mode="r", shape=(self.size,))
        return mapped.view(np.ndarray)

    def read(self, start: int, stop: int) -> NDArray[Any]:
        """A read-only copy of entries ``start .. stop - 1``."""
        if self._parts is not None:
            return self._joined()[start:stop]
        assert self._file is not None
        self._file.flush()
        itemsize = self.dtype.itemsize
        data = os.pread(self._file.fileno(), (stop - start) * itemsize, start * itemsize)
        if len(data) != (stop - start) * itemsize:  # pragma: no cover - our own file shrank
            raise CorpusError("the corpus's temporary file was truncated")
        return np.frombuffer(data, dtype=self.dtype)

    def close(self) -> None:
        if self._file is not None:
            self._finalizer()  # a memory map keeps its own handle


class _Store:
    """The spools behind a corpus that :func:`_build` wrote (and so needs no second check)."""

    def __init__(self, ids: _Spool, offsets: _Spool) -> None:
        self.ids_spool, self.offsets_spool = ids, offsets
        self.ids, self.offsets = ids.array(), offsets.array()


def _frozen(array: NDArray[Any]) -> NDArray[Any]:
    """A read-only array whose memory nobody can write: a copy in immutable ``bytes``."""
    return np.frombuffer(np.ascontiguousarray(array).tobytes(), dtype=array.dtype)


def _is_frozen(array: NDArray[Any]) -> bool:
    """Whether no view of ``array`` can be made writable (bytes-backed or a read-only map)."""
    if array.flags.writeable:
        return False
    probe = array.view()
    try:
        probe.setflags(write=True)
    except ValueError:
        return True
    return False


def _split_sentences(lengths: NDArray[np.int64], max_length: int) -> NDArray[np.int64]:
    """Sentence lengths for lines of ``lengths`` words: empty lines dropped, long ones cut."""
    pieces = (lengths + max_length - 1) // max_length
    sizes = np.full(int(pieces.sum()), max_length, dtype=np.int64)
    last = np.cumsum(pieces) - 1
    has_piece = pieces > 0
    sizes[last[has_piece]] = lengths[has_piece] - (pieces[has_piece] - 1) * max_length
    return sizes


def _choose_vocabulary(
    counts: NDArray[np.int64],
    min_count: int,
    max_vocab: int | None,
    max_final_vocab: int | None,
) -> NDArray[np.int64]:
    """Provisional ids of the words kept, most frequent first (ties by first appearance)."""
    order = np.argsort(-counts, kind="stable")
    effective = min_count
    if max_final_vocab is not None and max_final_vocab < order.shape[0]:
        # gensim's rule: raise min_count above the count of the first word past the limit.
        effective = max(min_count, int(counts[order[max_final_vocab]]) + 1)
    order = order[counts[order] >= effective]
    if max_vocab is not None:
        order = order[:max_vocab]
    return order


@dataclass(frozen=True, eq=False)
class Corpus:
    """A tokenised corpus held as read-only ``int32`` ids into a vocabulary.

    Build one with :meth:`from_files` (streams text or gzip/bz2 files, or standard input) or
    :meth:`from_sentences`. The constructor checks that every id is in range and that the
    offsets tile the ids, and keeps arrays nobody can change afterwards (its own read-only copy,
    or the read-only memory maps :meth:`from_files` makes), so the trainer can trust them.

    Attributes:
        vocab: the :class:`~embtable.text.Vocab`, ids sorted by descending count, no specials.
        ids: ``int32 (N,)``, the retained words of every sentence, back to back (read-only).
        sentence_offsets: ``int64 (S + 1,)``; sentence ``s`` is ``ids[offsets[s]:offsets[s + 1]]``.
        tokens_read: tokens read, including those dropped by ``min_count`` or ``max_vocab``.
        files: the files read, in order (empty for in-memory sentences; ``"-"`` for stdin).
        min_count, max_vocab, max_sentence_length, max_final_vocab: the options it was built with.
        tokenizer: ``"regex"``, ``"regex-cased"`` or ``"whitespace"`` (pre-tokenised text), the
            rule the files were split with; ``None`` for sentences tokenised by the caller.
        encoding: the files' text encoding.

    Raises:
        CorpusError: an id is outside ``0 .. len(vocab) - 1``, or the offsets do not start at 0,
            decrease, or do not end at ``len(ids)``.

    Example:
        >>> corpus = Corpus.from_sentences([["a", "b", "a"], ["c", "a", "b"]], min_count=2)
        >>> corpus.vocab.id_to_token
        ['a', 'b']
        >>> corpus.ids
        array([0, 1, 0, 0, 1], dtype=int32)
        >>> corpus.sentence_offsets
        array([0, 3, 5])
        >>> corpus.tokens_read, len(corpus)
        (6, 5)
    """

    vocab: Vocab
    ids: NDArray[np.int32]
    sentence_offsets: NDArray[np.int64]
    tokens_read: int
    files: tuple[str, ...] = field(default=())
    min_count: int = 1
    max_vocab: int | None = None
    max_sentence_length: int = 10_000
    tokenizer: str | None = None
    encoding: str = "utf-8"
    max_final_vocab: int | None = None
    _store: _Store | None = field(default=None, repr=False)
    vocab_size: int = field(init=False)

    def __post_init__(self) -> None:
        vocab_size = len(self.vocab)
        store = self._store
        if (
            isinstance(store, _Store)
            and store.ids is self.ids
            and store.offsets is self.sentence_offsets
        ):
            object.__setattr__(self, "vocab_size", vocab_size)
            return  # written by _build, which produced only ids below its vocabulary's size
        object.__setattr__(self, "_store", None)
        ids = np.asarray(self.ids)
        offsets = np.asarray(self.sentence_offsets)
        if ids.ndim != 1 or ids.dtype.kind not in "iu":
            raise CorpusError(
                f"corpus ids must be a 1-D integer array, got shape {ids.shape} and dtype "
                f"{ids.dtype}"
            )
        if offsets.ndim != 1 or offsets.dtype.kind not in "iu" or offsets.shape[0] < 1:
            raise CorpusError(
                f"sentence_offsets must be a 1-D integer array of at least one entry, got shape "
                f"{offsets.shape} and dtype {offsets.dtype}"
            )
        if ids.dtype != np.int32 or not _is_frozen(ids):
            if ids.size and (int(ids.min()) < 0 or int(ids.max()) > np.iinfo(np.int32).max):
                bad = int(ids.min()) if int(ids.min()) < 0 else int(ids.max())
                raise CorpusError(
                    f"corpus id {bad} is outside the vocabulary's 0..{vocab_size - 1}"
                )
            ids = _frozen(ids.astype(np.int32, copy=False))
        if offsets.dtype != np.int64 or not _is_frozen(offsets):
            offsets = _frozen(offsets.astype(np.int64, copy=False))
        # The checks run on the arrays kept, which nobody can change afterwards.
        for start in range(0, ids.shape[0], _SWEEP_IDS):
            part = ids[start : start + _SWEEP_IDS]
            low, high = int(part.min()), int(part.max())
            if low < 0 or high >= vocab_size:
                bad = low if low < 0 else high
                where = start + int(np.flatnonzero(part == bad)[0])
                raise CorpusError(
                    f"corpus id {bad} at position {where} is outside the vocabulary's "
                    f"0..{vocab_size - 1}"
                )
        if int(offsets[0]) != 0 or int(offsets[-1]) != ids.shape[0]:
            raise CorpusError(
                f"sentence_offsets must start at 0 and end at len(ids) = {ids.shape[0]}, got "
                f"{int(offsets[0])} .. {int(offsets[-1])}"
            )
        for start in range(0, offsets.shape[0] - 1, _SWEEP_IDS):
            step = np.diff(offsets[start : start + _SWEEP_IDS + 1])
            if step.size and int(step.min()) < 0:
                where = start + int(np.argmin(step))
                raise CorpusError(
                    f"sentence_offsets decrease at sentence {where}: "
                    f"{int(offsets[where])} then {int(offsets[where + 1])}"
                )
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "sentence_offsets", offsets)
        object.__setattr__(self, "vocab_size", vocab_size)

    def __len__(self) -> int:
        """Return the number of retained words."""
        return int(self.ids.shape[0])

    @property
    def counts(self) -> NDArray[np.int64]:
        """``int64 (V,)``: how often each vocabulary word occurs in the corpus."""
        return np.asarray(self.vocab.counts, dtype=np.int64)

    @property
    def sentences(self) -> int:
        """The number of sentences (lines, after cutting long ones; empty ones dropped)."""
        return int(self.sentence_offsets.shape[0] - 1)

    def chunk(self, first: int, last: int) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
        """The ids and offsets of sentences ``first .. last - 1``, offsets rebased to 0.

        Read with ``os.pread`` from the temporary files of :meth:`from_files` (nothing stays
        mapped), or sliced from memory.

        Example:
            >>> corpus = Corpus.from_sentences([["a", "b"], ["b"], ["a", "a"]], min_count=1)
            >>> corpus.chunk(1, 3)
            (array([1, 0, 0], dtype=int32), array([0, 1, 3]))
        """
        if not 0 <= first <= last <= self.sentences:
            raise OptionError(
                f"chunk({first}, {last}) is outside the corpus's 0..{self.sentences} sentences"
            )
        if self._store is not None and self._store.offsets_spool._file is not None:
            offsets = self._store.offsets_spool.read(first, last + 1)
            ids = self._store.ids_spool.read(int(offsets[0]), int(offsets[-1]))
        else:
            offsets = self.sentence_offsets[first : last + 1]
            ids = self.ids[int(offsets[0]) : int(offsets[-1])]
        return ids, offsets - offsets[0]

    def iter_sentences(self) -> Iterator[list[str]]:
        """Yield each sentence as a list of tokens (e.g. to give gensim the same text).

        Example:
            >>> corpus = Corpus.from_sentences([["a", "b", "a"], ["b"]], min_count=1)
            >>> list(corpus.iter_sentences())
            [['a', 'b', 'a'], ['b']]
        """
        tokens = self.vocab.id_to_token
        offsets = self.sentence_offsets
        for s in range(self.sentences):
            yield [tokens[i] for i in self.ids[offsets[s] : offsets[s + 1]].tolist()]

    @classmethod
    def from_files(
        cls,
        paths: Sequence[str | os.PathLike[str]],
        *,
        min_count: int = 5,
        max_vocab: int | None = None,
        max_final_vocab: int | None = None,
        lower: bool = True,
        tokenizer: str | None = None,
        encoding: str = "utf-8",
        max_sentence_length: int = 10_000,
        vocab: Vocab | None = None,
        temp_dir: str | os.PathLike[str] | None = None,
        progress: bool | None = None,
    ) -> Corpus:
        """Read, tokenise and index text files, one sentence per line.

        Args:
            paths: one or more files (plain, ``.gz`` or ``.bz2``, told by their first bytes);
                ``"-"`` reads standard input (plain or gzip).
            min_count: drop words seen fewer times.
            max_vocab: keep at most this many words (the most frequent); ``None`` keeps all.
            max_final_vocab: gensim's option: raise ``min_count`` just enough that at most this
                many words remain (ties are dropped together, so there may be fewer).
            lower: lower-case the words (ignored when ``tokenizer`` is given).
            tokenizer: ``"regex"`` (:func:`embtable.text.regex_tokenize`, lower-cased),
                ``"regex-cased"``, or ``"whitespace"`` for pre-tokenised text (tokens separated
                by spaces, kept as they are). Default: ``"regex"`` or ``"regex-cased"`` by
                ``lower``.
            encoding: the text encoding of the files.
            max_sentence_length: cut longer lines into pieces of this many retained words.
            vocab: use this vocabulary (no specials) instead of building one: words outside it
                are dropped (how a checkpoint's corpus is rebuilt on resume).
            temp_dir: where the corpus's temporary files go (default ``$TMPDIR``).
            progress: show a tqdm bar of the bytes read; ``None``: when stderr is a terminal.

        Raises:
            FileNotFoundError: a file does not exist.
            OutputError: a path is a directory, FIFO or device.
            CorpusError: no file was given, text that is not valid ``encoding`` (naming the
                file and line), a truncated compressed file.
            OptionError: an option is out of range.

        Example:
            >>> import tempfile, pathlib
            >>> tmp = tempfile.TemporaryDirectory()
            >>> path = pathlib.Path(tmp.name) / "corpus.txt"
            >>> _ = path.write_text("The cat sat.\\nThe dog sat!\\n")
            >>> corpus = Corpus.from_files([path], min_count=2)
            >>> corpus.vocab.id_to_token, corpus.ids, corpus.sentence_offsets
            (['the', 'sat'], array([0, 1, 0, 1], dtype=int32), array([0, 2, 4]))
            >>> del corpus; tmp.cleanup()
        """
        from embtable.io._atomic import check_input_file

        from ._tokens import LineTokenizer

        names = [os.fspath(p) for p in paths]
        if not names:
            raise CorpusError("Corpus.from_files needs at least one file, got none")
        if tokenizer is None:
            tokenizer = "regex" if lower else "regex-cased"
        if tokenizer not in TOKENIZERS:
            raise OptionError(
                f"tokenizer must be one of {', '.join(map(repr, TOKENIZERS))}, got {tokenizer!r}"
            )
        _check_encoding(encoding)
        options = _check_options(min_count, max_vocab, max_final_vocab, max_sentence_length)
        if names.count("-") > 1:
            raise CorpusError("standard input ('-') can be read only once")
        for name in names:
            if name != "-":
                check_input_file(name)
        if progress is None:
            progress = sys.stderr.isatty()
        split = LineTokenizer(tokenizer)
        temp = None if temp_dir is None else os.fspath(temp_dir)

        def blocks() -> Iterator[list[str | None]]:
            for name in names:
                for lines in _read_line_blocks(name, encoding, progress):
                    tokens: list[str | None] = []
                    split.extend(lines, tokens)
                    yield tokens

        corpus = _build(blocks(), options, vocab, temp, in_memory=False)
        return dataclasses.replace(
            corpus, files=tuple(names), tokenizer=tokenizer, encoding=encoding
        )

    @classmethod
    def from_sentences(
        cls,
        sentences: Iterable[Sequence[str]],
        *,
        min_count: int = 5,
        max_vocab: int | None = None,
        max_final_vocab: int | None = None,
        max_sentence_length: int = 10_000,
        vocab: Vocab | None = None,
    ) -> Corpus:
        """Index already tokenised sentences, in memory (see :meth:`from_files` for the options).

        Raises:
            OptionError: an option is out of range.
            OptionTypeError: a sentence is a string rather than a sequence of tokens.

        Example:
            >>> Corpus.from_sentences([["x", "y"], ["y"]], min_count=1).vocab.id_to_token
            ['y', 'x']
        """
        options = _check_options(min_count, max_vocab, max_final_vocab, max_sentence_length)

        def blocks() -> Iterator[list[str | None]]:
            tokens: list[str | None] = []
            for sentence in sentences:
                if isinstance(sentence, str):
                    raise OptionTypeError(
                        f"sentences must be sequences of tokens, got the string "
                        f"{sentence[:40]!r}; split it first (e.g. embtable.text.regex_tokenize)"
                    )
                tokens += sentence
                tokens.append(None)
                if len(tokens) >= _SWEEP_IDS:
                    yield tokens
                    tokens = []
            yield tokens

        return _build(blocks(), options, vocab, None, in_memory=True)


def _check_encoding(encoding: str) -> None:
    import codecs

    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise OptionError(
            f"encoding must be a text encoding Python knows (e.g. 'utf-8', 'latin-1'), "
            f"got {encoding!r}"
        ) from None


def _check_options(
    min_count: object, max_vocab: object, max_final_vocab: object, max_sentence_length: object
) -> dict[str, Any]:
    return {
        "min_count": _check_int("min_count", min_count, 1),
        "max_vocab": None if max_vocab is None else _check_int("max_vocab", max_vocab, 1),
        "max_final_vocab": None
        if max_final_vocab is None
        else _check_int("max_final_vocab", max_final_vocab, 1),
        "max_sentence_length": _check_int("max_sentence_length", max_sentence_length, 1),
    }


def _open_text(name: str, encoding: str) -> IO[str]:
    """A text stream of ``name`` (``"-"``: standard input, plain or gzip)."""
    from embtable.io._open import open_text_read

    if name == "-":
        raw = sys.stdin.buffer
        stream: IO[bytes] = raw
        peek = getattr(raw, "peek", None)
        if peek is not None and peek(2)[:2] == b"\x1f\x8b":
            import gzip

            stream = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
        return io.TextIOWrapper(stream, encoding=encoding)
    return open_text_read(name, encoding=encoding)


def _read_line_blocks(name: str, encoding: str, progress: bool) -> Iterator[list[str]]:
    """Yield lists of the lines of ``name``, about :data:`_BLOCK_CHARS` characters at a time."""
    from embtable._errors import VectorFormatError
    from embtable.io._open import display_name, iter_text_lines

    size = None if name == "-" else os.path.getsize(name)
    stream = _open_text(name, encoding)
    bar = progress_bar(
        total=size,
        unit="B",
        desc=f"read {display_name(name) if name != '-' else 'stdin'}",
        enabled=progress,
        leave=False,
    )
    try:
        rest = ""
        while True:
            try:
                text = stream.read(_BLOCK_CHARS)
            except UnicodeDecodeError:
                if name == "-":
                    raise CorpusError(
                        f"standard input is not valid {encoding}; pass the encoding it uses "
                        "(--encoding)"
                    ) from None
                try:  # the line-by-line reader names the line and the bytes
                    for _ in iter_text_lines(name, encoding=encoding):
                        pass
                except VectorFormatError as err:
                    raise CorpusError(
                        str(err).replace("pass the", "pass (--encoding) the")
                    ) from None
                raise  # pragma: no cover - both readers decode the same bytes
            except VectorFormatError as err:  # a truncated or corrupt compressed file
                raise CorpusError(str(err)) from None
            if not text:
                if rest:
                    yield [rest]
                return
            if progress and size:
                position = _raw_position(stream)
                if position is not None:
                    bar.update(position - bar.n)
            text = rest + text
            cut = text.rfind("\n")
            if cut < 0:
                rest = text  # a line longer than a block: keep reading
                continue
            rest = text[cut + 1 :]
            lines = text[:cut].split("\n")
            yield lines
    finally:
        bar.close()
        if name == "-":
            stream.detach()  # leave sys.stdin open
        else:
            stream.close()


def _raw_position(stream: IO[str]) -> int | None:
    """Bytes of the underlying (possibly compressed) file read so far, if known."""
    buffer = getattr(stream, "buffer", None)
    inner = getattr(buffer, "_stream", buffer)  # io._open's checked decompressing stream
    fileobj = getattr(inner, "fileobj", None) or getattr(inner, "_fp", None)
    target = fileobj if fileobj is not None else inner
    try:
        return int(target.tell())  # type: ignore[union-attr]
    except (AttributeError, OSError, ValueError):
        return None


def _build(
    blocks: Iterator[list[str | None]],
    options: dict[str, Any],
    vocab: Vocab | None,
    temp_dir: str | None,
    *,
    in_memory: bool,
) -> Corpus:
    """Number the tokens of ``blocks``, choose the vocabulary, write the retained ids."""
    from embtable.text.vocab import Vocab

    first_seen = _FirstSeen()
    number = first_seen.__getitem__
    provisional = _Spool(np.int32, temp_dir, in_memory)
    counts = np.zeros(0, dtype=np.int64)
    tokens_read = 0
    try:
        for tokens in blocks:
            try:
                ids = np.fromiter(map(number, tokens), dtype=np.int32, count=len(tokens))
            except TypeError:
                bad = next(t for t in tokens if t is not None and not isinstance(t, str))
                raise OptionTypeError(
                    f"tokens must be strings, got {type(bad).__name__} {bad!r}"
                ) from None
            words = ids[ids >= 0]
            tokens_read += words.shape[0]
            seen = np.bincount(words, minlength=len(first_seen) - 1)
            seen[: counts.shape[0]] += counts
            counts = seen
            provisional.append(ids)
        names: list[str] = list(first_seen)[1:]
        del first_seen
        if vocab is None:
            order = _choose_vocabulary(
                counts, options["min_count"], options["max_vocab"], options["max_final_vocab"]
            )
            chosen = Vocab(
                [names[i] for i in order.tolist()],
                counts=counts[order],
                specials=(),
                unk_token=None,
                pad_token=None,
            )
            remap = np.full(len(names) + 1, -1, dtype=np.int32)
            remap[order + 1] = np.arange(order.shape[0], dtype=np.int32)
        else:
            if vocab.specials:
                raise OptionError(
                    f"a training vocabulary has no special tokens, got {vocab.specials}"
                )
            chosen = vocab
            to_id = vocab.token_to_id
            remap = np.array([-1] + [to_id.get(name, -1) for name in names], dtype=np.int32)
        remap[0] = -2  # the end of a line
        ids_spool = _Spool(np.int32, temp_dir, in_memory)
        offsets_spool = _Spool(np.int64, temp_dir, in_memory)
        offsets_spool.append(np.zeros(1, dtype=np.int64))
        _sweep(provisional, remap, options["max_sentence_length"], ids_spool, offsets_spool)
        store = _Store(ids_spool, offsets_spool)
    finally:
        provisional.close()
    return Corpus(
        chosen,
        store.ids,
        store.offsets,
        tokens_read,
        (),
        options["min_count"],
        options["max_vocab"],
        options["max_sentence_length"],
        None,
        "utf-8",
        options["max_final_vocab"],
        store,
    )


def _sweep(
    provisional: _Spool,
    remap: NDArray[np.int32],
    max_length: int,
    ids_out: _Spool,
    offsets_out: _Spool,
) -> None:
    """Map provisional ids to vocabulary ids in chunks; write retained ids and offsets."""
    carry = 0  # retained words of the line that runs into the next chunk
    written = 0
    for start in range(0, provisional.size, _SWEEP_IDS):
        part = provisional.read(start, min(start + _SWEEP_IDS, provisional.size))
        mapped = remap[part.astype(np.int64) + 1]
        stream = mapped[mapped != -1]
        ends = np.flatnonzero(stream == -2)
        words = stream[stream >= 0]
        ids_out.append(words)
        if ends.shape[0]:
            before = ends - np.arange(ends.shape[0])  # words of this chunk before each end
            lengths = np.diff(before, prepend=0)
            lengths[0] += carry
            carry = words.shape[0] - int(before[-1])
            sizes = _split_sentences(lengths.astype(np.int64), max_length)
            offsets_out.append(written + np.cumsum(sizes))
            written += int(sizes.sum())
        else:
            carry += words.shape[0]
    if carry:  # text without a final line end (from_sentences always ends its lines)
        sizes = _split_sentences(np.array([carry], dtype=np.int64), max_length)
        offsets_out.append(written + np.cumsum(sizes))
