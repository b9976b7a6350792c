"""Skip-gram with negative sampling (word2vec SGNS), trained by a compiled Hogwild kernel.

The pieces follow ``word2vec.c`` (Mikolov et al., 2013) and gensim 4:

- a vocabulary of words seen at least ``min_count`` times, the ``max_vocab`` most frequent kept,
  sorted by descending count (ties in order of first appearance). word2vec has no ``<unk>`` or
  ``<pad>``, so the :class:`~embtable.text.Vocab` is built with ``specials=()`` and words outside
  it are dropped from the corpus before training;
- sub-sampling of frequent words: a word of count ``c`` among ``N`` retained words is kept with
  probability ``(sqrt(c / (sample * N)) + 1) * sample * N / c`` (capped at 1), precomputed per word;
- a shrunk window: each centre word draws its window uniformly from ``1 .. window``;
- noise words drawn from the unigram distribution raised to the power 0.75, by Walker's alias
  method (exact, O(1) per draw, two arrays of ``V`` entries);
- a learning rate decaying linearly from ``alpha`` to ``min_alpha`` over all epochs' words;
- input rows initialised uniform in ``(-0.5 / D, 0.5 / D)`` and output rows at zero.

Both tables are :class:`embtable.Embedding` layers; the kernel updates their ``weight.data``
arrays in place, reading and writing only the rows a pair touches.

Memory: the corpus is held once as ``int32`` ids (4 bytes per word, 8 MB for two million words)
plus one ``int64`` offset per sentence, so it must fit in memory; that is fine for corpora of up to
a few hundred million words. A sentence is one line of text; lines longer than
``max_sentence_length`` words are cut into pieces of that length (gensim truncates them instead).

Threads run Hogwild, each over every ``threads``-th job of about 10,000 words and with its own
``word2vec.c`` generator seeded from ``seed``; with ``threads=1`` a seeded run is
bit-reproducible.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from embtable.layers import Embedding
    from embtable.text.vocab import Vocab
    from embtable.vectors import Vectors

__all__ = ["Corpus", "SkipGramModel", "alias_table", "keep_probabilities", "train_sgns"]

_BLOCK_WORDS = 100_000
"""Corpus words each thread trains on per kernel call; the progress bar moves between calls."""

_JOB_WORDS = 10_000
"""Sentences are dealt to the threads in jobs of this many corpus words (gensim's batch)."""


@dataclass(frozen=True, eq=False)
class Corpus:
    """A tokenised corpus held as ``int32`` ids into a vocabulary.

    Build one with :meth:`from_files` (streams text or gzip/bz2 files) or :meth:`from_sentences`.

    Attributes:
        vocab: the :class:`~embtable.text.Vocab`, ids sorted by descending count, no specials.
        ids: ``int32 (N,)``, the retained words of every sentence, back to back.
        sentence_offsets: ``int64 (S + 1,)``; sentence ``s`` is ``ids[offsets[s]:offsets[s + 1]]``.
        tokens_read: tokens read, including those dropped by ``min_count`` or ``max_vocab``.
        files: the files read, in order (empty for in-memory sentences).
        min_count, max_vocab, max_sentence_length: the options it was built with.
        tokenizer: the :func:`~embtable.text.get_tokenizer` name the files were split with
            (``"regex"`` or ``"regex-cased"``); ``None`` for sentences tokenised by the caller.

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

    def __len__(self) -> int:
        """Return the number of retained words."""
        return int(self.ids.shape[0])

    @property
    def counts(self) -> NDArray[np.int64]:
        """``int64 (V,)``: how often each vocabulary word occurs in the corpus."""
        return self.vocab.counts

    @classmethod
    def from_files(
        cls,
        paths: Sequence[str | os.PathLike[str]],
        *,
        min_count: int = 5,
        max_vocab: int | None = None,
        lower: bool = True,
        max_sentence_length: int = 10_000,
    ) -> Corpus:
        """Read, tokenise and index text files, one sentence per line.

        Files are streamed line by line (plain text, ``.gz`` or ``.bz2``) with
        :func:`embtable.text.regex_tokenize`, in one pass that counts words and records
        provisional ids; rare words are then dropped and ids remapped.

        Args:
            paths: one or more files.
            min_count: drop words seen fewer times.
            max_vocab: keep at most this many words (the most frequent); ``None`` keeps all.
            lower: lower-case the text before tokenising.
            max_sentence_length: cut longer lines into pieces of this many retained words.

        Raises:
            FileNotFoundError: a file does not exist.
            ValueError: no file was given, or an option is out of range.
        """
        from embtable.text.tokenize import iter_lines, regex_tokenize

        paths = [os.fspath(p) for p in paths]
        if not paths:
            raise ValueError("Corpus.from_files needs at least one file, got none")
        for path in paths:
            if not os.path.isfile(path):
                raise FileNotFoundError(f"corpus file not found: {path}")
        sentences = (regex_tokenize(line, lower=lower) for line in iter_lines(paths))
        corpus = cls.from_sentences(
            sentences,
            min_count=min_count,
            max_vocab=max_vocab,
            max_sentence_length=max_sentence_length,
        )
        tokenizer = "regex" if lower else "regex-cased"
        return dataclasses.replace(corpus, files=tuple(paths), tokenizer=tokenizer)

    @classmethod
    def from_sentences(
        cls,
        sentences: Iterable[Sequence[str]],
        *,
        min_count: int = 5,
        max_vocab: int | None = None,
        max_sentence_length: int = 10_000,
    ) -> Corpus:
        """Index already tokenised sentences (see :meth:`from_files` for the options).

        Raises:
            ValueError: an option is out of range.
        """
        from embtable.text.vocab import Vocab

        _check_int("min_count", min_count, 1)
        if max_vocab is not None:
            _check_int("max_vocab", max_vocab, 1)
        _check_int("max_sentence_length", max_sentence_length, 1)
        first_seen: dict[str, int] = {}
        chunks: list[NDArray[np.int32]] = []
        lengths: list[int] = []
        for sentence in sentences:
            if isinstance(sentence, str):
                raise TypeError(
                    f"sentences must be sequences of tokens, got the string {sentence[:40]!r}; "
                    "split it first (e.g. embtable.text.regex_tokenize)"
                )
            get = first_seen.setdefault
            provisional = [get(token, len(first_seen)) for token in sentence]
            chunks.append(np.asarray(provisional, dtype=np.int32))
            lengths.append(len(provisional))
        all_ids = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int32)
        counts = np.bincount(all_ids, minlength=len(first_seen))
        # Descending count, ties by first appearance (a stable sort), as word2vec.c and gensim.
        order = np.argsort(-counts, kind="stable")
        order = order[counts[order] >= min_count]
        if max_vocab is not None:
            order = order[:max_vocab]
        tokens = list(first_seen)
        vocab = Vocab.from_counts(
            {tokens[i]: int(counts[i]) for i in order},
            specials=(),
            min_freq=min_count,
            unk_token=None,
            pad_token=None,
        )
        remap = np.full(len(first_seen), -1, dtype=np.int32)
        to_id = vocab.token_to_id
        remap[order] = [to_id[tokens[i]] for i in order]
        mapped = remap[all_ids]
        kept = mapped >= 0
        ids = np.ascontiguousarray(mapped[kept])
        line_ends = np.cumsum(lengths, dtype=np.int64)
        kept_before = np.concatenate(([0], np.cumsum(kept, dtype=np.int64)))
        kept_per_line = np.diff(np.concatenate(([0], kept_before[line_ends])))
        offsets = _split_sentences(kept_per_line, max_sentence_length)
        return cls(
            vocab,
            ids,
            offsets,
            int(all_ids.shape[0]),
            (),
            min_count,
            max_vocab,
            max_sentence_length,
        )


def _split_sentences(lengths: NDArray[np.int64], max_length: int) -> NDArray[np.int64]:
    """Sentence offsets for lines of ``lengths`` words, empty lines dropped, long ones cut."""
    pieces = (lengths + max_length - 1) // max_length
    sizes = np.full(int(pieces.sum()), max_length, dtype=np.int64)
    last = np.cumsum(pieces) - 1
    has_piece = pieces > 0
    sizes[last[has_piece]] = lengths[has_piece] - (pieces[has_piece] - 1) * max_length
    return np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)


def _check_int(name: str, value: object, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def _check_float(name: str, value: object, low: float, high: float = math.inf) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.floating, np.integer))
        or not low <= value <= high
    ):
        raise ValueError(f"{name} must be a number in [{low}, {high}], got {value!r}")


def keep_probabilities(counts: NDArray[np.int64], sample: float) -> NDArray[np.float64]:
    """Return word2vec's probability of keeping each word under sub-sampling.

    ``(sqrt(c / t) + 1) * t / c`` with ``t = sample * counts.sum()``, capped at 1; ``sample=0``
    keeps every word.

    Example:
        >>> keep_probabilities(np.array([900, 90, 10]), 1e-2).round(4)
        array([0.1165, 0.4444, 1.    ])
    """
    counts = np.asarray(counts, dtype=np.float64)
    if sample <= 0 or counts.size == 0:
        return np.ones_like(counts)
    threshold = sample * counts.sum()
    with np.errstate(divide="ignore"):
        keep = (np.sqrt(counts / threshold) + 1.0) * threshold / counts
    return np.minimum(keep, 1.0)


def alias_table(weights: NDArray[np.floating]) -> tuple[NDArray[np.float64], NDArray[np.int32]]:
    """Build Walker's alias table for drawing ``i`` with probability ``weights[i] / sum``.

    Draw ``i`` uniformly, keep it with probability ``accept[i]``, otherwise take ``alias[i]``.

    Returns:
        ``(accept, alias)``: float64 and int32 arrays of ``len(weights)``.

    Example:
        >>> accept, alias = alias_table(np.array([3.0, 1.0]))
        >>> accept, alias
        (array([1. , 0.5]), array([0, 0], dtype=int32))
        >>> (accept + np.bincount(alias, weights=1 - accept, minlength=2)) / 2
        array([0.75, 0.25])
    """
    weights = np.asarray(weights, dtype=np.float64)
    n = weights.shape[0]
    scaled = weights * (n / weights.sum())
    accept = np.ones(n, dtype=np.float64)
    alias = np.arange(n, dtype=np.int32)
    small = [i for i in range(n) if scaled[i] < 1.0]
    large = [i for i in range(n) if scaled[i] >= 1.0]
    while small and large:
        s = small.pop()
        g = large[-1]
        accept[s] = scaled[s]
        alias[s] = g
        scaled[g] -= 1.0 - scaled[s]
        if scaled[g] < 1.0:
            large.pop()
            small.append(g)
    # Whatever is left holds probability 1 up to rounding.
    return accept, alias


def _to_threshold(probability: NDArray[np.float64]) -> NDArray[np.uint64]:
    """Encode probabilities as the kernel's ``uint64`` thresholds on 32 random bits."""
    return np.round(np.clip(probability, 0.0, 1.0) * 2.0**32).astype(np.uint64)


@dataclass(eq=False)
class SkipGramModel:
    """The result of :func:`train_sgns`: the vocabulary, both tables and the run's record.

    Attributes:
        vocab: the corpus vocabulary; row ``i`` of each table is ``vocab.id_to_token[i]``.
        input: the input (word) vectors, the ones to use as embeddings.
        output: the output (context) vectors.
        config: the hyper-parameters of the run.
        stats: corpus statistics and timings (see :meth:`save`).
        epoch_losses: the mean SGNS loss per (centre, context) pair, one entry per epoch.
    """

    vocab: Vocab
    input: Embedding
    output: Embedding
    config: dict[str, Any]
    stats: dict[str, Any]
    epoch_losses: list[float]

    def vectors(self) -> Vectors:
        """Return the input vectors as :class:`~embtable.vectors.Vectors` (shares memory)."""
        from embtable.vectors import Vectors

        return Vectors(list(self.vocab.id_to_token), self.input.weight.data)

    def save(
        self,
        directory: str | os.PathLike[str],
        *,
        word2vec_text: str | os.PathLike[str] | None = None,
        word2vec_binary: str | os.PathLike[str] | None = None,
    ) -> None:
        """Write the input table as an embtable table directory, plus ``meta.json``.

        The directory holds ``weights.safetensors``, ``vocab.json`` and ``config.json``
        (:func:`embtable.io.save_table`) and ``meta.json``: the hyper-parameters, the corpus
        statistics (files, tokens read, vocabulary size, retained words), the time taken and
        the words per second. Optionally also writes word2vec text or binary files.
        """
        from embtable.io.tables import save_table

        directory = Path(directory)
        save_table(
            directory,
            self.input.weight.data,
            self.vocab,
            {
                "num_embeddings": len(self.vocab),
                "embedding_dim": int(self.input.weight.data.shape[1]),
                "tokenizer": self.config.get("tokenizer"),
            },
        )
        meta = {
            "model": "skip-gram negative sampling",
            "trainer": "embtable.train.train_sgns",
            "hyperparameters": self.config,
            "corpus": self.stats["corpus"],
            "training": self.stats["training"],
            "epoch_losses": self.epoch_losses,
        }
        (directory / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        if word2vec_text is not None:
            self.vectors().save(word2vec_text, format="word2vec")
        if word2vec_binary is not None:
            self.vectors().save(word2vec_binary, format="word2vec-binary")


def train_sgns(
    corpus: Corpus,
    *,
    dim: int = 100,
    window: int = 5,
    negative: int = 5,
    sample: float = 1e-3,
    epochs: int = 5,
    alpha: float = 0.025,
    min_alpha: float = 1e-4,
    threads: int | None = None,
    seed: int = 0,
    progress: bool | None = None,
) -> SkipGramModel:
    """Train skip-gram negative-sampling embeddings on ``corpus``.

    Args:
        corpus: a :class:`Corpus`.
        dim: the embedding dimension ``D``.
        window: the largest context window; each centre word draws ``1 .. window``.
        negative: noise words per positive pair.
        sample: the sub-sampling threshold (0 disables sub-sampling).
        epochs: passes over the corpus.
        alpha: the starting learning rate; min_alpha: the final one (linear decay).
        threads: compiled threads (Hogwild); ``None`` uses numba's thread count.
        seed: seeds the initial vectors and every thread's generator.
        progress: show a tqdm bar (words/s, learning rate, running loss); ``None`` shows it
            when standard error is a terminal.

    Returns:
        a :class:`SkipGramModel` whose ``input.weight.data`` holds the word vectors.

    Raises:
        ValueError: an option is out of range, or the corpus has fewer than two words.

    Note:
        With ``threads=1`` two runs with the same seed give bit-identical tables; with more
        threads the lock-free updates race and results vary slightly from run to run.

    Example:
        >>> sentences = [["the", "cat", "sat", "on", "the", "mat"]] * 50
        >>> corpus = Corpus.from_sentences(sentences, min_count=1)
        >>> model = train_sgns(corpus, dim=8, epochs=3, sample=0, threads=1, progress=False)
        >>> model.input.weight.data.shape, model.stats["training"]["words"]
        ((5, 8), 900)
        >>> [round(loss, 1) for loss in model.epoch_losses]
        [2.9, 2.4, 2.4]
    """
    import numba

    from embtable.kernels.sgns import train_sgns_block
    from embtable.layers import Embedding

    _check_int("dim", dim, 1)
    _check_int("window", window, 1)
    _check_int("negative", negative, 0)
    _check_float("sample", sample, 0.0)
    _check_int("epochs", epochs, 1)
    _check_float("alpha", alpha, 0.0)
    _check_float("min_alpha", min_alpha, 0.0, float(alpha))
    _check_int("seed", seed, 0)
    max_threads = numba.config.NUMBA_NUM_THREADS
    if threads is None:
        threads = max_threads
    if (
        isinstance(threads, bool)
        or not isinstance(threads, (int, np.integer))
        or not (1 <= threads <= max_threads)
    ):
        raise ValueError(
            f"threads must be an integer in 1..{max_threads} (NUMBA_NUM_THREADS), got {threads!r}"
        )
    vocab_size = len(corpus.vocab)
    if len(corpus) < 2 or vocab_size < 1:
        raise ValueError(
            f"the corpus has {len(corpus)} retained words in a vocabulary of {vocab_size}; "
            "training needs at least 2 (lower min_count or add text)"
        )
    dim, window, negative, epochs, threads, seed = (
        int(value) for value in (dim, window, negative, epochs, threads, seed)
    )
    sample, alpha, min_alpha = float(sample), float(alpha), float(min_alpha)
    config = {
        "dim": dim,
        "window": window,
        "negative": negative,
        "sample": sample,
        "epochs": epochs,
        "alpha": alpha,
        "min_alpha": min_alpha,
        "threads": threads,
        "seed": seed,
        "tokenizer": corpus.tokenizer,
        "min_count": corpus.min_count,
        "max_vocab": corpus.max_vocab,
        "max_sentence_length": corpus.max_sentence_length,
    }

    rng = np.random.default_rng(seed)
    initial = (rng.random((vocab_size, dim), dtype=np.float32) - np.float32(0.5)) / np.float32(dim)
    input_table = Embedding(vocab_size, dim, _weight=initial)
    output_table = Embedding(vocab_size, dim, _weight=np.zeros((vocab_size, dim), np.float32))
    weight_in = input_table.weight.data
    weight_out = output_table.weight.data

    counts = corpus.counts
    keep = _to_threshold(keep_probabilities(counts, sample))
    accept, alias = alias_table(counts.astype(np.float64) ** 0.75)
    accept_threshold = _to_threshold(accept)

    offsets = corpus.sentence_offsets
    n_sentences = offsets.shape[0] - 1
    n_words = len(corpus)
    max_length = int(np.diff(offsets).max(initial=0))
    # Jobs of about _JOB_WORDS words dealt to the threads in turn, so that the threads move
    # through the corpus side by side (as gensim's job queue does); contiguous halves would
    # train on distant parts of an ordered corpus (e.g. 1790 and 2021) at the same time.
    owner = (offsets[:-1] // _JOB_WORDS) % threads
    order = np.argsort(owner, kind="stable").astype(np.int64)
    per_thread = np.bincount(owner, minlength=threads)
    stops = np.cumsum(per_thread).astype(np.int64)
    starts = stops - per_thread
    rng_state = np.random.SeedSequence(seed).generate_state(threads, dtype=np.uint64)
    loss = np.zeros(threads, dtype=np.float64)
    pairs = np.zeros(threads, dtype=np.int64)
    words_read = np.zeros(threads, dtype=np.int64)
    total_words = n_words * epochs

    if progress is None:
        progress = sys.stderr.isatty()
    from tqdm.auto import tqdm

    epoch_losses: list[float] = []
    words_done = 0

    def train_block(next_sentence: NDArray[np.int64], words_per_thread: int) -> None:
        train_sgns_block(
            corpus.ids,
            offsets,
            order,
            max_length,
            next_sentence,
            stops,
            words_per_thread,
            keep,
            accept_threshold,
            alias,
            weight_in,
            weight_out,
            window,
            negative,
            np.float32(alpha),
            np.float32(min_alpha),
            words_done,
            total_words,
            rng_state,
            loss,
            pairs,
            words_read,
        )

    bar = None
    previous_threads = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        train_block(starts.copy(), 0)  # compiles, or loads numba's cache; trains nothing
        bar = tqdm(
            total=total_words,
            unit="word",
            unit_scale=True,
            disable=not progress,
            desc="train",
            smoothing=0.1,
        )
        started = time.perf_counter()
        for epoch in range(epochs):
            next_sentence = starts.copy()
            epoch_loss = 0.0
            epoch_pairs = 0
            while np.any(next_sentence < stops):
                train_block(next_sentence, _BLOCK_WORDS)
                block_words = int(words_read.sum())
                words_done += block_words
                epoch_loss += float(loss.sum())
                epoch_pairs += int(pairs.sum())
                if progress:
                    done = min(words_done / total_words, 1.0)
                    bar.set_postfix(
                        epoch=f"{epoch + 1}/{epochs}",
                        lr=f"{alpha - (alpha - min_alpha) * done:.5f}",
                        loss=f"{float(loss.sum()) / max(int(pairs.sum()), 1):.4f}",
                        refresh=False,
                    )
                    bar.update(block_words)
            if epoch_pairs == 0:
                raise ValueError(
                    f"epoch {epoch + 1} trained no (word, context) pair: the corpus has "
                    f"{n_words} retained words in sentences too short or too sub-sampled to "
                    f"pair (lower sample={sample} or min_count, or add text)"
                )
            epoch_losses.append(epoch_loss / epoch_pairs)
        seconds = time.perf_counter() - started
    finally:
        numba.set_num_threads(previous_threads)
        if bar is not None:
            bar.close()
    stats = {
        "corpus": {
            "files": list(corpus.files),
            "tokens": corpus.tokens_read,
            "vocab_size": vocab_size,
            "retained_words": n_words,
            "sentences": int(n_sentences),
        },
        "training": {
            "seconds": round(seconds, 3),
            "words": words_done,
            "words_per_second": round(words_done / seconds, 1) if seconds > 0 else None,
            "threads": threads,
        },
    }
    return SkipGramModel(corpus.vocab, input_table, output_table, config, stats, epoch_losses)
