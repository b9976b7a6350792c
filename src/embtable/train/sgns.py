"""word2vec (skip-gram or CBOW) with negative sampling and/or hierarchical softmax, trained by
a compiled Hogwild kernel.

The pieces follow ``word2vec.c`` (Mikolov et al., 2013) and gensim 4:

- a vocabulary of words seen at least ``min_count`` times (:class:`~embtable.train.Corpus`);
- sub-sampling of frequent words: a word of count ``c`` among ``N`` retained words is kept with
  probability ``(sqrt(c / (sample * N)) + 1) * sample * N / c`` (capped at 1), precomputed per word;
- a shrunk window: each centre word draws its window uniformly from ``1 .. window``
  (``shrink_windows=False`` always uses ``window``);
- noise words drawn from the unigram distribution raised to the power ``ns_exponent`` (0.75),
  by Walker's alias method (exact, O(1) per draw, two arrays of ``V`` entries);
- a learning rate decaying linearly from ``alpha`` to ``min_alpha`` over all epochs' words;
- input rows initialised uniform in ``(-0.5 / D, 0.5 / D)`` and output rows at zero;
- with ``hs=True``, hierarchical softmax on gensim's Huffman tree
  (:func:`~embtable.train.huffman.huffman_codes`, rebuilt from the vocabulary's counts, so also
  on a resume), its inner-node rows in :attr:`SkipGramModel.output_hs`, alone (``negative=0``)
  or beside negative sampling.

With ``subwords=(minn, maxn)`` the model is fastText's (:mod:`embtable.kernels.fasttext_train`):
the input table has ``V + buckets`` rows (words, then hashed character n-grams, the layout of
:class:`embtable.subword.SubwordEmbedding`), each word's bag of rows is computed once from the
vocabulary, and the result saves as a fastText ``.bin`` (:meth:`SkipGramModel.save_bin`).

Both tables are :class:`embtable.Embedding` layers; the kernel updates their ``weight.data``
arrays in place, reading and writing only the rows an example touches.

Memory: the two tables, the vocabulary, and one chunk of the corpus at a time: the corpus's ids
live in temporary files (:class:`~embtable.train.Corpus`), read ``threads x 100,000`` words per
kernel call with ``os.pread`` (:meth:`~embtable.train.Corpus.chunk`), so a corpus of any size
trains in the memory of its vocabulary and tables.

Threads run Hogwild over *lanes*: a chunk's jobs of about 10,000 words are dealt in turn to
``4 x threads`` lanes, each with its own ``word2vec.c`` generator seeded from ``seed``, and the
threads take lanes dynamically, so a thread slowed by another process does not hold the others
up at the end of a chunk (with one thread there is one lane, in corpus order);
with ``threads=1`` a seeded run is
bit-reproducible, and a run resumed from a checkpoint gives the same tables bit for bit as one
run without a break.

Checkpoints (:func:`train_word2vec` with ``checkpoint_dir``; :func:`resume_training`): the output
directory holds the input table (a normal table directory, loadable at any time), the output
table (``output.safetensors``; with ``hs`` also ``output_hs.safetensors``), the optimizer
position in ``meta.json`` (epoch, position in the epoch, words done, every thread's generator
state, the epoch's loss so far) and the training record ``training.csv``; each save swaps the
whole directory in atomically. A subword model's directory holds its word vectors as fastText
composes them as the table, and the whole input table (words, then n-gram buckets) in
``input.safetensors``; the n-gram settings are in ``meta.json``.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from embtable._errors import (
    CorpusError,
    OptionError,
    OptionTypeError,
    OutputError,
    VectorFormatError,
)
from embtable.train.corpus import Corpus

if TYPE_CHECKING:
    from embtable.fasttext import FastTextVectors
    from embtable.layers import Embedding
    from embtable.text.vocab import Vocab
    from embtable.vectors import Vectors

__all__ = [
    "Corpus",
    "EpochEnd",
    "SkipGramModel",
    "alias_table",
    "check_training_options",
    "keep_probabilities",
    "resume_training",
    "train_sgns",
    "train_word2vec",
]

_BLOCK_WORDS = 100_000
"""Corpus words per thread in one kernel call (a chunk); progress, records and checkpoints
happen between calls."""

_JOB_WORDS = 10_000
"""Sentences are dealt to the lanes in jobs of this many corpus words (gensim's batch)."""

_LANES_PER_THREAD = 4
"""With several threads, each chunk is split into this many lanes per thread, each with its own
generator, that the threads take dynamically; one thread runs one lane (word2vec's order)."""


def _lanes(threads: int) -> int:
    """Lanes (independent streams of jobs, each with its own generator) for ``threads``."""
    return 1 if threads == 1 else threads * _LANES_PER_THREAD


CSV_COLUMNS = ("epoch", "words_done", "loss", "learning_rate", "words_per_second", "seconds")
"""The columns of ``training.csv``: one row per chunk of about ``threads x 100,000`` words."""

FORMAT_VERSION = 2
"""Version of the checkpoint layout in ``meta.json``."""


def _check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise OptionTypeError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        span = f">= {low}" if high is None else f"in {low}..{high}"
        raise OptionError(f"{name} must be an integer {span}, got {value!r}")
    return int(value)


def _check_float(
    name: str, value: object, low: float, high: float = math.inf, *, open_low: bool = False
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise OptionTypeError(f"{name} must be a number, got {value!r}")
    number = float(value)
    bad = not math.isfinite(number) or number > high or number < low or (open_low and number == low)
    if bad:
        left = "(" if open_low else "["
        raise OptionError(f"{name} must be a finite number in {left}{low}, {high}], got {value!r}")
    return number


def check_training_options(
    *,
    architecture: str = "skipgram",
    cbow_mean: bool = True,
    dim: int = 100,
    window: int = 5,
    negative: int = 5,
    hs: bool = False,
    ns_exponent: float = 0.75,
    sample: float = 1e-3,
    shrink_windows: bool = True,
    shared_negatives: bool = False,
    epochs: int = 5,
    alpha: float | None = None,
    min_alpha: float = 1e-4,
    threads: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Check the training options (before any corpus is read); return them normalised.

    See :func:`train_word2vec` for their meaning. ``alpha=None`` is 0.025 (gensim's default for
    both architectures); ``threads=None`` is numba's thread count.

    Raises:
        OptionError: a value out of range (the message names the option, the value and the range):
            ``negative=0`` without ``hs=True`` (no output layer would learn; gensim also
            refuses), ``hs`` with ``shared_negatives``, ``alpha=0``, ``window=0``, more threads
            than ``NUMBA_NUM_THREADS``, ...
        OptionTypeError: a value of the wrong type.

    Example:
        >>> check_training_options(dim=8, threads=1)["dim"]
        8
        >>> check_training_options(negative=0, hs=True, threads=1)["negative"]
        0
        >>> check_training_options(negative=0)
        Traceback (most recent call last):
        ...
        embtable._errors.OptionError: negative must be an integer >= 1, got 0 (with negative=0 no output layer learns; pass hs=True, or embtable train --hs, to train hierarchical softmax instead)
    """
    import numba

    if architecture not in ("skipgram", "cbow"):
        raise OptionError(f"architecture must be 'skipgram' or 'cbow', got {architecture!r}")
    for name, flag in (
        ("cbow_mean", cbow_mean),
        ("shrink_windows", shrink_windows),
        ("shared_negatives", shared_negatives),
        ("hs", hs),
    ):
        if not isinstance(flag, (bool, np.bool_)):
            raise OptionTypeError(f"{name} must be True or False, got {flag!r}")
    if shared_negatives and architecture == "cbow":
        raise OptionError(
            "shared_negatives is a skip-gram rule; CBOW already makes one example (one set of "
            "noise words) per window"
        )
    if hs and shared_negatives:
        raise OptionError(
            "hs (hierarchical softmax) is not implemented with shared_negatives; drop one "
            "(hs trains with word2vec's per-pair rule)"
        )
    if (
        not hs
        and isinstance(negative, (int, np.integer))
        and not isinstance(negative, bool)
        and negative < 1
    ):
        raise OptionError(
            f"negative must be an integer >= 1, got {negative!r} (with negative=0 no output "
            "layer learns; pass hs=True, or embtable train --hs, to train hierarchical softmax "
            "instead)"
        )
    alpha = 0.025 if alpha is None else alpha
    options: dict[str, Any] = {
        "architecture": architecture,
        "cbow_mean": bool(cbow_mean),
        "dim": _check_int("dim", dim, 1, 1 << 20),
        "window": _check_int("window", window, 1, 1 << 16),
        "negative": _check_int("negative", negative, 0 if hs else 1, 1000),
        "hs": bool(hs),
        "ns_exponent": _check_float("ns_exponent", ns_exponent, -1.0, 1.0),
        "sample": _check_float("sample", sample, 0.0, 1.0),
        "shrink_windows": bool(shrink_windows),
        "shared_negatives": bool(shared_negatives),
        "epochs": _check_int("epochs", epochs, 1, 1 << 20),
        "alpha": _check_float("alpha", alpha, 0.0, 10.0, open_low=True),
    }
    options["min_alpha"] = _check_float("min_alpha", min_alpha, 0.0, options["alpha"])
    max_threads = int(numba.config.NUMBA_NUM_THREADS)
    if threads is None:
        threads = max_threads
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
        raise OptionTypeError(f"threads must be an integer, got {threads!r}")
    if not 1 <= threads <= max_threads:
        raise OptionError(
            f"threads must be an integer in 1..{max_threads} (NUMBA_NUM_THREADS, by default the "
            f"number of cores), got {threads!r}"
        )
    options["threads"] = int(threads)
    options["seed"] = _check_int("seed", seed, 0, (1 << 63) - 1)
    return options


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


@dataclass(frozen=True)
class EpochEnd:
    """What a callback of :func:`train_word2vec` receives after each epoch.

    Attributes:
        epoch: the epoch just finished, from 1.
        epochs: all epochs of the run.
        loss: its mean loss per example.
        words_done: corpus words trained on so far, all epochs.
        learning_rate: the learning rate reached.
        seconds: training time so far.
        model: the model being trained (its tables are live: copy what you keep).

    Example:
        >>> corpus = Corpus.from_sentences([["a", "b", "c", "d"]] * 30, min_count=1)
        >>> seen = []
        >>> _ = train_word2vec(corpus, dim=4, epochs=2, sample=0, threads=1, progress=False,
        ...                    callbacks=[seen.append])
        >>> [(end.epoch, end.epochs, end.words_done) for end in seen]
        [(1, 2, 120), (2, 2, 240)]
        >>> seen[0].loss > seen[1].loss > 0
        True
    """

    epoch: int
    epochs: int
    loss: float
    words_done: int
    learning_rate: float
    seconds: float
    model: SkipGramModel


@dataclass(eq=False)
class SkipGramModel:
    """The result of :func:`train_word2vec`: the vocabulary, both tables and the run's record.

    (The name is historical: a CBOW model is the same class, with
    ``config["architecture"] == "cbow"``.)

    Attributes:
        vocab: the corpus vocabulary; row ``i`` of each table is ``vocab.id_to_token[i]``.
        input: the input (word) vectors, the ones to use as embeddings.
        output: the output (context) vectors.
        config: the hyper-parameters of the run.
        stats: corpus statistics and timings (see :meth:`save`).
        epoch_losses: the mean loss per example (skip-gram: per (centre, context) pair; CBOW:
            per centre word), one entry per finished epoch.
        history: the training record, one dict per chunk with the keys of :data:`CSV_COLUMNS`.
        state: the optimizer position (see the module's docstring); ``state["complete"]`` is
            true once every epoch has run.
        counts: the vocabulary's counts (kept for a fastText ``.bin``), or ``None``.
        output_hs: with ``config["hs"]``, the hierarchical-softmax table: one row per inner
            node of the Huffman tree (``max(V - 1, 1)`` rows; gensim's ``syn1``), else ``None``.

    Example:
        >>> corpus = Corpus.from_sentences([["a", "b", "c", "d"]] * 30, min_count=1)
        >>> model = train_word2vec(corpus, dim=4, epochs=1, threads=1, progress=False,
        ...                        hs=True, negative=0)
        >>> model.vocab.id_to_token, model.input, model.output_hs
        (['a', 'b', 'c', 'd'], Embedding(4, 4), Embedding(3, 4))
        >>> model.config["hs"], model.complete
        (True, True)
    """

    vocab: Vocab
    input: Embedding
    output: Embedding
    config: dict[str, Any]
    stats: dict[str, Any]
    epoch_losses: list[float]
    history: list[dict[str, Any]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    counts: NDArray[np.int64] | None = None
    output_hs: Embedding | None = None

    @property
    def subwords(self) -> tuple[int, int, int] | None:
        """``(minn, maxn, bucket)`` of a fastText (subword) model, else ``None``."""
        value = self.config.get("subwords")
        if not value:
            return None
        return int(value[0]), int(value[1]), int(self.config["buckets"])

    def vectors(self) -> Vectors:
        """Return the input vectors as :class:`~embtable.vectors.Vectors` (shares memory).

        A subword model gives :class:`~embtable.fasttext.FastTextVectors`: each word's vector
        is the mean of its word and n-gram rows, and unseen words get one from their n-grams.

        Example:
            >>> corpus = Corpus.from_sentences([["a", "b", "c"]] * 30, min_count=1)
            >>> model = train_word2vec(corpus, dim=4, epochs=1, threads=1, progress=False)
            >>> vectors = model.vectors()
            >>> vectors.tokens, vectors["b"].shape
            (['a', 'b', 'c'], (4,))
            >>> bool(np.shares_memory(vectors.matrix, model.input.weight.data))
            True
        """
        if self.subwords is not None:
            return self.fasttext_vectors()
        from embtable.vectors import Vectors

        return Vectors(list(self.vocab.id_to_token), self.input.weight.data)

    def fasttext_vectors(self) -> FastTextVectors:
        """The model as :class:`~embtable.fasttext.FastTextVectors` (words, buckets, counts,
        both matrices and fastText's header arguments), sharing the tables' memory.

        Raises:
            OptionError: the model was trained without subwords.

        Example:
            >>> corpus = Corpus.from_sentences([["walk", "walked", "walks"]] * 30, min_count=1)
            >>> model = train_word2vec(corpus, dim=4, epochs=1, threads=1, sample=0,
            ...                        subwords=(3, 4), buckets=50, progress=False)
            >>> model.fasttext_vectors()["walking"].shape  # an unseen word
            (4,)
        """
        from embtable.fasttext import FastTextVectors
        from embtable.io.fasttext_bin import FastTextArgs

        if self.subwords is None:
            raise OptionError("this model was trained without subwords (pass subwords=(3, 6))")
        minn, maxn, bucket = self.subwords
        config = self.config
        args = FastTextArgs(
            dim=int(config["dim"]),
            ws=int(config["window"]),
            epoch=int(config["epochs"]),
            min_count=int(config.get("min_count") or 1),
            neg=int(config["negative"]),
            loss=2,
            model=1 if config["architecture"] == "cbow" else 2,
            bucket=bucket,
            minn=minn,
            maxn=maxn,
            t=float(config["sample"]),
        )
        vectors = FastTextVectors(
            list(self.vocab.id_to_token),
            self.input.weight.data,
            minn=minn,
            maxn=maxn,
            bucket=bucket,
            counts=self.counts,
            args=args,
            output_matrix=self.output.weight.data,
        )
        vectors.ntokens = int(self.stats.get("corpus", {}).get("tokens") or 0) or None
        return vectors

    def save_bin(self, path: str | os.PathLike[str]) -> None:
        """Write a subword model as a fastText ``.bin`` (atomically), which fastText and
        gensim's ``load_facebook_model`` read.

        Raises:
            OptionError: the model was trained without subwords.

        Example:
            >>> import tempfile, pathlib
            >>> from embtable.fasttext import FastTextVectors
            >>> corpus = Corpus.from_sentences([["walk", "walked", "walks"]] * 30, min_count=1)
            >>> model = train_word2vec(corpus, dim=4, epochs=1, threads=1, sample=0,
            ...                        subwords=(3, 4), buckets=50, progress=False)
            >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.bin"
            >>> model.save_bin(path)
            >>> again = FastTextVectors.load_bin(path)
            >>> again.tokens == model.vocab.id_to_token, again.subwords.bucket
            (True, 50)
        """
        self.fasttext_vectors().save_bin(path)

    @property
    def complete(self) -> bool:
        """Whether every epoch has run (false for a checkpoint taken mid-run)."""
        return bool(self.state.get("complete", True))

    def training_csv(self) -> str:
        """Return the training record as CSV text (the content of ``training.csv``).

        Example:
            >>> corpus = Corpus.from_sentences([["a", "b", "c"]] * 30, min_count=1)
            >>> model = train_word2vec(corpus, dim=4, epochs=1, sample=0, threads=1, progress=False)
            >>> model.training_csv().splitlines()[0]
            'epoch,words_done,loss,learning_rate,words_per_second,seconds'
        """
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.history)
        return out.getvalue()

    def save(
        self,
        directory: str | os.PathLike[str],
        *,
        word2vec_text: str | os.PathLike[str] | None = None,
        word2vec_binary: str | os.PathLike[str] | None = None,
    ) -> None:
        """Write the model to a table directory, atomically; optionally word2vec files too.

        The directory holds ``weights.safetensors``, ``vocab.json`` and ``config.json`` (the
        input table, :func:`embtable.io.save_table`), ``output.safetensors`` (the output
        table), ``meta.json`` (hyper-parameters, corpus statistics, time taken, words per second,
        losses and the optimizer position, from which :func:`resume_training` continues),
        ``training.csv`` and, when matplotlib is installed, ``training.png``. The directory is
        swapped in whole: a reader (or a kill) sees the old one or the new one. Each word2vec
        file is written atomically too.

        A subword (fastText) model saves the same way, as a checkpoint: ``weights.safetensors``
        then holds its word vectors as fastText composes them (the mean of each word's row and
        n-gram rows, a table usable at once), ``input.safetensors`` the whole input table
        (``V + buckets`` rows: words, then n-gram buckets) that training continues from, and
        ``meta.json`` the n-gram settings; :meth:`save_bin` writes the fastText ``.bin``.

        Raises:
            OutputError: an output cannot be written (checked before anything is written).

        Example:
            >>> import tempfile, pathlib
            >>> corpus = Corpus.from_sentences([["a", "b", "c"]] * 30, min_count=1)
            >>> model = train_word2vec(corpus, dim=4, epochs=1, threads=1, progress=False)
            >>> folder = pathlib.Path(tempfile.mkdtemp())
            >>> model.save(folder / "model", word2vec_text=folder / "vectors.txt")
            >>> sorted(p.name for p in (folder / "model").iterdir() if p.suffix != ".png")
            ['config.json', 'meta.json', 'output.safetensors', 'training.csv', 'vocab.json', 'weights.safetensors']
            >>> (folder / "vectors.txt").read_text().splitlines()[0]
            '3 4'
        """
        from safetensors.numpy import save as safetensors_bytes

        from embtable.io._atomic import check_output
        from embtable.io.tables import save_table

        check_output(directory, "directory")
        for extra in (word2vec_text, word2vec_binary):
            if extra is not None:
                parent = Path(extra).absolute().parent
                if not parent.is_dir():
                    raise OutputError(
                        errno.ENOENT,
                        f"cannot write {os.fspath(extra)!r}: the directory {str(parent)!r} "
                        "does not exist",
                    )
                check_output(extra, "file")
        meta = {
            "format_version": FORMAT_VERSION,
            "model": _model_name(self.config),
            "trainer": "embtable.train.train_word2vec",
            "hyperparameters": self.config,
            "corpus": self.stats["corpus"],
            "training": self.stats["training"],
            "epoch_losses": self.epoch_losses,
            "state": self.state,
        }
        files = {
            "output.safetensors": safetensors_bytes(
                {"weight": np.ascontiguousarray(self.output.weight.data)}
            ),
            "meta.json": (json.dumps(meta, indent=2) + "\n").encode("utf-8"),
            "training.csv": self.training_csv().encode("utf-8"),
        }
        if self.output_hs is not None:
            files["output_hs.safetensors"] = safetensors_bytes(
                {"weight": np.ascontiguousarray(self.output_hs.weight.data)}
            )
        table = self.input.weight.data
        if self.subwords is not None:
            files["input.safetensors"] = safetensors_bytes({"weight": np.ascontiguousarray(table)})
            table = np.ascontiguousarray(self.fasttext_vectors().matrix, dtype=np.float32)
        picture = _training_png(self.history)
        if picture is not None:
            files["training.png"] = picture
        if word2vec_text is not None:
            self.vectors().save(word2vec_text, format="word2vec")
        if word2vec_binary is not None:
            self.vectors().save(word2vec_binary, format="word2vec-binary")
        save_table(
            directory,
            table,
            self.vocab,
            {
                "num_embeddings": len(self.vocab),
                "embedding_dim": int(table.shape[1]),
                "tokenizer": self.config.get("tokenizer"),
            },
            extra_files=files,
        )

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> SkipGramModel:
        """Read a model (or a checkpoint) written by :meth:`save`.

        Raises:
            VectorFormatError: a file is missing or malformed, or the two tables disagree.

        Example:
            >>> import tempfile, pathlib
            >>> corpus = Corpus.from_sentences([["a", "b", "c"]] * 30, min_count=1)
            >>> model = train_word2vec(corpus, dim=4, epochs=1, sample=0, threads=1, progress=False)
            >>> path = pathlib.Path(tempfile.mkdtemp()) / "model"
            >>> model.save(path)
            >>> again = SkipGramModel.load(path)
            >>> bool((again.output.weight.data == model.output.weight.data).all()), again.complete
            (True, True)
        """
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        from embtable.io.tables import load_table
        from embtable.layers import Embedding
        from embtable.text.vocab import Vocab

        path = Path(directory)
        meta_path = path / "meta.json"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise VectorFormatError(
                f"{path}: no meta.json; not a directory written by embtable train"
            ) from None
        except (ValueError, RecursionError) as err:
            raise VectorFormatError(f"{meta_path}: not valid JSON ({err})") from None
        if not isinstance(meta, dict) or not isinstance(meta.get("hyperparameters"), dict):
            raise VectorFormatError(f"{meta_path}: no 'hyperparameters' object")
        weight, _tokens, _ = load_table(path)
        vocab = Vocab.load(path / "vocab.json")
        try:
            output = load_file(str(path / "output.safetensors"))["weight"]
        except FileNotFoundError:
            raise VectorFormatError(
                f"{path}: no output.safetensors (written by embtable before checkpoints); "
                "the table loads, but training cannot continue from it"
            ) from None
        except (SafetensorError, KeyError, OSError) as err:
            raise VectorFormatError(f"{path / 'output.safetensors'}: unreadable ({err})") from None
        if output.shape != weight.shape or output.dtype != np.float32 or weight.dtype != np.float32:
            raise VectorFormatError(
                f"{path}: the output table is {output.shape} {output.dtype}, the input table "
                f"{weight.shape} {weight.dtype}; both must be the same float32 shape"
            )
        rows, dim = weight.shape
        output_hs = None
        if meta["hyperparameters"].get("hs"):
            output_hs = _load_weight(path / "output_hs.safetensors", (max(rows - 1, 1), dim))
        inputs = np.array(weight, dtype=np.float32)
        if meta["hyperparameters"].get("subwords"):
            buckets = meta["hyperparameters"].get("buckets")
            if isinstance(buckets, bool) or not isinstance(buckets, int) or buckets < 1:
                raise VectorFormatError(
                    f"{meta_path}: buckets must be an integer >= 1, got {buckets!r}"
                )
            inputs = _load_weight(path / "input.safetensors", (rows + buckets, dim))
        history = []
        csv_path = path / "training.csv"
        if csv_path.is_file():
            for row in csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8"))):
                history.append(_csv_row(row, csv_path))
        counts = None
        if meta["hyperparameters"].get("subwords"):
            counts = np.asarray(vocab.counts, dtype=np.int64)
        return cls(
            vocab,
            Embedding(inputs.shape[0], dim, _weight=inputs),
            Embedding(rows, dim, _weight=np.array(output, dtype=np.float32)),
            dict(meta["hyperparameters"]),
            {"corpus": meta.get("corpus", {}), "training": meta.get("training", {})},
            [float(x) for x in meta.get("epoch_losses", [])],
            history,
            dict(meta.get("state") or {"complete": True}),
            counts=counts,
            output_hs=None
            if output_hs is None
            else Embedding(len(output_hs), dim, _weight=output_hs),
        )


def _model_name(config: dict[str, Any]) -> str:
    """``meta.json``'s ``model``: the architecture and its output layers."""
    layers = []
    if config.get("hs"):
        layers.append("hierarchical softmax")
    if int(config.get("negative", 1)) > 0:
        layers.append("negative sampling")
    return f"{config.get('architecture', 'skipgram')} " + " + ".join(layers)


def _load_weight(path: Path, shape: tuple[int, int]) -> NDArray[np.float32]:
    """The ``weight`` tensor of a checkpoint's safetensors file, checked to be float32 ``shape``."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        weight = load_file(str(path))["weight"]
    except FileNotFoundError:
        raise VectorFormatError(
            f"{path}: missing; the checkpoint's configuration needs it to continue training"
        ) from None
    except (SafetensorError, KeyError, OSError) as err:
        raise VectorFormatError(f"{path}: unreadable ({err})") from None
    if weight.shape != shape or weight.dtype != np.float32:
        raise VectorFormatError(
            f"{path}: the table is {weight.shape} {weight.dtype}; expected float32 {shape}"
        )
    return np.array(weight, dtype=np.float32)


def _csv_row(row: dict[str, str], path: Path) -> dict[str, Any]:
    try:
        return {
            "epoch": int(row["epoch"]),
            "words_done": int(row["words_done"]),
            "loss": float(row["loss"]),
            "learning_rate": float(row["learning_rate"]),
            "words_per_second": float(row["words_per_second"]),
            "seconds": float(row["seconds"]),
        }
    except (KeyError, TypeError, ValueError) as err:
        raise VectorFormatError(f"{path}: a malformed row {row!r} ({err})") from None


def _training_png(history: list[dict[str, Any]]) -> bytes | None:
    """``training.png`` (loss and learning rate against words), or ``None`` without matplotlib."""
    if not history:
        return None
    try:  # a Figure without pyplot: no backend is chosen, no window can open
        from matplotlib.figure import Figure
    except ImportError:
        return None

    words = [row["words_done"] for row in history]
    figure = Figure(figsize=(7, 4), dpi=100)
    axes = figure.add_subplot()
    axes.plot(words, [row["loss"] for row in history], color="tab:blue")
    axes.set_xlabel("words trained on")
    axes.set_ylabel("loss per example", color="tab:blue")
    rate = axes.twinx()
    rate.plot(words, [row["learning_rate"] for row in history], color="tab:orange")
    rate.set_ylabel("learning rate", color="tab:orange")
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


class _Interrupt:
    """Turn SIGINT into a flag read between kernel calls, so that the state stays consistent."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> _Interrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:  # a second Ctrl-C: stop at once
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _chunk_bounds(offsets: NDArray[np.int64], start: int, words: int) -> int:
    """The sentence that ends the chunk starting at sentence ``start`` (at least ``words``)."""
    target = int(offsets[start]) + words
    end = int(np.searchsorted(offsets, target, side="left"))
    return max(start + 1, min(end, offsets.shape[0] - 1))


def train_word2vec(
    corpus: Corpus,
    *,
    architecture: Literal["skipgram", "cbow"] = "skipgram",
    cbow_mean: bool = True,
    dim: int = 100,
    window: int = 5,
    negative: int = 5,
    hs: bool = False,
    ns_exponent: float = 0.75,
    sample: float = 1e-3,
    shrink_windows: bool = True,
    shared_negatives: bool = False,
    epochs: int = 5,
    alpha: float | None = None,
    min_alpha: float = 1e-4,
    threads: int | None = None,
    seed: int = 0,
    progress: bool | None = None,
    callbacks: Sequence[Callable[[EpochEnd], object]] = (),
    checkpoint_dir: str | os.PathLike[str] | None = None,
    checkpoint_every: float | None = None,
    subwords: tuple[int, int] | None = None,
    buckets: int = 2_000_000,
) -> SkipGramModel:
    """Train word2vec embeddings (skip-gram or CBOW; negative sampling and/or hierarchical
    softmax) on ``corpus``.

    Args:
        corpus: a :class:`Corpus`.
        architecture: ``"skipgram"`` (each context word predicts the centre word) or ``"cbow"``
            (the window's context words together predict it).
        cbow_mean: CBOW averages the context vectors (``False``: sums them).
        dim: the embedding dimension ``D``.
        window: the largest context window.
        negative: noise words per example (at least 1; 0 with ``hs`` trains hierarchical
            softmax alone).
        hs: also train hierarchical softmax (Morin and Bengio, 2005; word2vec's ``-hs 1``,
            gensim's ``hs=1``): each example updates the inner nodes on its target word's
            Huffman path (:func:`embtable.train.huffman.huffman_codes`, gensim's tree), in the
            table :attr:`SkipGramModel.output_hs`. Not with ``shared_negatives`` or
            ``subwords``.
        ns_exponent: the noise distribution is the unigram counts to this power (in -1..1).
        sample: the sub-sampling threshold (0 disables sub-sampling).
        shrink_windows: each centre word draws its window from ``1 .. window`` (word2vec's
            weighting of near words); ``False`` always uses ``window``.
        shared_negatives: skip-gram only: one set of noise words per centre word, shared by
            its whole window, trained as one small matrix product (the minibatched formulation
            of Ji et al., "Parallelizing Word2Vec in Shared and Distributed Memory", 2016/2019).
            Faster; not the same updates as word2vec's per-pair rule (the default), so results
            differ (quality is the same within noise: ``bench/word2vec.py``).
        epochs: passes over the corpus.
        alpha: the starting learning rate (default 0.025); min_alpha: the final one (linear decay).
        threads: compiled threads (Hogwild); ``None`` uses numba's thread count.
        seed: seeds the initial vectors and every thread's generator.
        progress: show a tqdm bar on stderr (epoch, running loss of the epoch, learning rate,
            words/s); ``None`` shows it when standard error is a terminal.
        callbacks: called with an :class:`EpochEnd` after each epoch; one that raises stops
            the run (after a checkpoint, when ``checkpoint_dir`` is given).
        checkpoint_dir: save the model there (:meth:`SkipGramModel.save`, atomically) every
            ``checkpoint_every`` seconds, on Ctrl-C (then re-raise ``KeyboardInterrupt``) and at
            the end; :func:`resume_training` continues from it.
        checkpoint_every: seconds between checkpoints (``None``: only on Ctrl-C and at the end).
        subwords: ``(minn, maxn)``: train fastText instead (Bojanowski et al., 2017): a word's
            input vector is the mean of its own row and the rows of its character n-grams of
            ``minn .. maxn`` characters, hashed into ``buckets`` rows after the words
            (:class:`~embtable.subword.SubwordEmbedding`'s layout), and every one of those rows
            learns. The model then gives vectors for unseen words
            (:meth:`SkipGramModel.fasttext_vectors`) and saves as fastText ``.bin``
            (:meth:`SkipGramModel.save_bin`); checkpoints and :func:`resume_training` work as
            for words. Not with ``shared_negatives``, ``cbow_mean=False`` or ``hs``.
        buckets: n-gram rows with ``subwords`` (fastText's default, 2,000,000).

    Returns:
        a :class:`SkipGramModel` whose ``input.weight.data`` holds the word vectors.

    Raises:
        OptionError, OptionTypeError: an option is out of range (before any work).
        OutputError: ``checkpoint_dir`` cannot be written (before any work).
        CorpusError: the corpus has fewer than two words, or an epoch trained no example.

    Note:
        With ``threads=1`` two runs with the same seed give bit-identical tables, and the
        skip-gram rule is the one of embtable's earlier releases (same seed, same tables); with
        more threads the lock-free updates race and results vary slightly from run to run.

    Example:
        >>> sentences = [["the", "cat", "sat", "on", "the", "mat"]] * 50
        >>> corpus = Corpus.from_sentences(sentences, min_count=1)
        >>> model = train_word2vec(corpus, dim=8, epochs=3, sample=0, threads=1, progress=False)
        >>> model.input.weight.data.shape, model.stats["training"]["words"]
        ((5, 8), 900)
        >>> [round(loss, 1) for loss in model.epoch_losses]
        [2.9, 2.4, 2.4]
        >>> cbow = train_word2vec(corpus, architecture="cbow", dim=8, threads=1, progress=False)
        >>> cbow.config["architecture"], len(cbow.epoch_losses)
        ('cbow', 5)
    """
    from embtable.layers import Embedding

    options = check_training_options(
        architecture=architecture,
        cbow_mean=cbow_mean,
        dim=dim,
        window=window,
        negative=negative,
        hs=hs,
        ns_exponent=ns_exponent,
        sample=sample,
        shrink_windows=shrink_windows,
        shared_negatives=shared_negatives,
        epochs=epochs,
        alpha=alpha,
        min_alpha=min_alpha,
        threads=threads,
        seed=seed,
    )
    every = _check_checkpointing(checkpoint_dir, checkpoint_every)
    subword_options = _check_subwords(subwords, buckets, options)
    if not isinstance(corpus, Corpus):
        raise OptionTypeError(
            f"corpus must be an embtable.train.Corpus, got {type(corpus).__name__}"
        )
    vocab_size = corpus.vocab_size
    if len(corpus) < 2 or vocab_size < 1:
        raise CorpusError(
            f"the corpus has {len(corpus)} retained words in a vocabulary of {vocab_size}; "
            "training needs at least 2 (lower min_count or add text)"
        )
    config = {
        **options,
        "tokenizer": corpus.tokenizer,
        "encoding": corpus.encoding,
        "min_count": corpus.min_count,
        "max_vocab": corpus.max_vocab,
        "max_final_vocab": corpus.max_final_vocab,
        "max_sentence_length": corpus.max_sentence_length,
        **subword_options,
    }
    dim = options["dim"]
    rng = np.random.default_rng(options["seed"])
    rows = vocab_size + int(subword_options.get("buckets", 0))
    initial = (rng.random((rows, dim), dtype=np.float32) - np.float32(0.5)) / np.float32(dim)
    model = SkipGramModel(
        corpus.vocab,
        Embedding(rows, dim, _weight=initial),
        Embedding(vocab_size, dim, _weight=np.zeros((vocab_size, dim), np.float32)),
        config,
        {"corpus": _corpus_stats(corpus), "training": {}},
        [],
        [],
        {
            "complete": False,
            "epoch": 0,
            "sentence": 0,
            "words_done": 0,
            "epoch_loss": 0.0,
            "epoch_examples": 0,
            "seconds": 0.0,
            "rng_state": [
                int(x)
                for x in np.random.SeedSequence(options["seed"]).generate_state(
                    _lanes(options["threads"]), dtype=np.uint64
                )
            ],
        },
    )
    model.counts = np.asarray(corpus.counts, dtype=np.int64).copy()
    if options["hs"]:
        inner = max(vocab_size - 1, 1)
        model.output_hs = Embedding(inner, dim, _weight=np.zeros((inner, dim), np.float32))
    return _run(model, corpus, progress, callbacks, checkpoint_dir, every)


def _check_subwords(subwords: object, buckets: object, options: dict[str, Any]) -> dict[str, Any]:
    """Check the fastText options; return the config entries they add (none without them)."""
    if subwords is None:
        return {}
    if (
        not isinstance(subwords, (tuple, list))
        or len(subwords) != 2
        or any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) for n in subwords)
    ):
        raise OptionTypeError(f"subwords must be a pair of integers (minn, maxn), got {subwords!r}")
    minn, maxn = int(subwords[0]), int(subwords[1])
    if not 1 <= minn <= maxn <= 100:
        raise OptionError(
            f"subwords must be (minn, maxn) with 1 <= minn <= maxn <= 100, got {subwords!r}"
        )
    bucket = _check_int("buckets", buckets, 1, (1 << 31) - 1)
    if options["shared_negatives"]:
        raise OptionError("shared_negatives is not implemented with subwords")
    if options.get("hs"):
        raise OptionError(
            "hs (hierarchical softmax) is not implemented with subwords; train fastText with "
            "negative sampling"
        )
    if options["architecture"] == "cbow" and not options["cbow_mean"]:
        raise OptionError(
            "subword CBOW averages the context (fastText's rule): cbow_mean=False is not "
            "implemented with subwords"
        )
    return {"subwords": [minn, maxn], "buckets": bucket}


def train_sgns(corpus: Corpus, **options: Any) -> SkipGramModel:
    """Skip-gram negative sampling: :func:`train_word2vec` with ``architecture="skipgram"``.

    Example:
        >>> corpus = Corpus.from_sentences([["red", "green", "blue", "red"]] * 20, min_count=1)
        >>> train_sgns(corpus, dim=4, epochs=1, threads=1, progress=False).input
        Embedding(3, 4)
    """
    if options.get("architecture", "skipgram") != "skipgram":
        raise OptionError(
            f"train_sgns trains skip-gram; got architecture={options['architecture']!r} "
            "(use train_word2vec)"
        )
    return train_word2vec(corpus, **options)


def _check_checkpointing(
    checkpoint_dir: str | os.PathLike[str] | None, checkpoint_every: float | None
) -> float | None:
    from embtable.io._atomic import check_output

    if checkpoint_every is not None:
        checkpoint_every = _check_float(
            "checkpoint_every", checkpoint_every, 0.0, 1e9, open_low=True
        )
        if checkpoint_dir is None:
            raise OptionError("checkpoint_every needs checkpoint_dir, the directory to save into")
    if checkpoint_dir is not None:
        check_output(checkpoint_dir, "directory")
    return checkpoint_every


def _corpus_stats(corpus: Corpus) -> dict[str, Any]:
    return {
        "files": list(corpus.files),
        "tokens": corpus.tokens_read,
        "vocab_size": corpus.vocab_size,
        "retained_words": len(corpus),
        "sentences": corpus.sentences,
    }


def resume_training(
    directory: str | os.PathLike[str],
    corpus: Corpus | None = None,
    *,
    progress: bool | None = None,
    callbacks: Sequence[Callable[[EpochEnd], object]] = (),
    checkpoint_every: float | None = None,
    temp_dir: str | os.PathLike[str] | None = None,
) -> SkipGramModel:
    """Continue the run saved in ``directory`` (a checkpoint of :func:`train_word2vec`).

    The corpus is read again from the files recorded in ``meta.json`` with the checkpoint's
    vocabulary and tokeniser (or pass ``corpus``, e.g. for one read from standard input); it
    must give the same words as before. Training continues from the saved position with the
    saved tables, learning rate and generator states, checkpointing into ``directory``.

    Raises:
        VectorFormatError: ``directory`` holds no readable checkpoint.
        CorpusError: the corpus differs from the one the checkpoint was trained on.
        OptionError: the checkpoint's thread count exceeds this machine's.

    Example:
        >>> import tempfile, pathlib
        >>> corpus = Corpus.from_sentences([["a", "b", "c", "d"]] * 40, min_count=1)
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "run"
        >>> options = dict(dim=4, epochs=2, sample=0, threads=1, progress=False)
        >>> whole = train_word2vec(corpus, **options)
        >>> class Stop(Exception):
        ...     pass
        >>> def stop(end):  # stop after the first epoch, as Ctrl-C or a crash would
        ...     if end.epoch == 1:
        ...         raise Stop
        >>> first = train_word2vec(corpus, **options, checkpoint_dir=path, callbacks=[stop])
        Traceback (most recent call last):
        ...
        embtable.train.sgns.Stop
        >>> resumed = resume_training(path, corpus, progress=False)
        >>> bool((resumed.input.weight.data == whole.input.weight.data).all())
        True
    """
    import numba

    model = SkipGramModel.load(directory)
    if model.complete:
        raise OptionError(f"{directory}: the run there is complete; nothing to resume")
    state = model.state
    config = model.config
    every = _check_checkpointing(directory, checkpoint_every)
    needed = config.get("threads")
    if (
        not isinstance(needed, int)
        or not 1 <= needed <= int(numba.config.NUMBA_NUM_THREADS)
        or len(state.get("rng_state", ())) != _lanes(needed)
    ):
        raise OptionError(
            f"{directory}: the checkpoint ran {needed!r} threads "
            f"({len(state.get('rng_state', ()))} generator states); this machine allows "
            f"1..{numba.config.NUMBA_NUM_THREADS} (NUMBA_NUM_THREADS)"
        )
    if corpus is None:
        files = model.stats["corpus"].get("files") or []
        if not files or "-" in files:
            raise CorpusError(
                f"{directory}: the checkpoint's corpus was not read from files ({files!r}); "
                "pass the corpus again"
            )
        corpus = Corpus.from_files(
            files,
            tokenizer=config.get("tokenizer") or "regex",
            encoding=config.get("encoding") or "utf-8",
            max_sentence_length=int(config.get("max_sentence_length", 10_000)),
            min_count=int(config.get("min_count", 1)),
            vocab=model.vocab,
            temp_dir=temp_dir,
            progress=progress,
        )
    saved = model.stats["corpus"]
    now = _corpus_stats(corpus)
    for key in ("vocab_size", "retained_words", "sentences"):
        if saved.get(key) != now[key]:
            raise CorpusError(
                f"the corpus differs from the checkpoint's: {key} {now[key]} now, "
                f"{saved.get(key)} then"
            )
    if corpus.vocab.id_to_token != model.vocab.id_to_token:
        raise CorpusError("the corpus's vocabulary differs from the checkpoint's")
    model.counts = np.asarray(corpus.counts, dtype=np.int64).copy()
    return _run(model, corpus, progress, callbacks, directory, every)


def _run(
    model: SkipGramModel,
    corpus: Corpus,
    progress: bool | None,
    callbacks: Sequence[Callable[[EpochEnd], object]],
    checkpoint_dir: str | os.PathLike[str] | None,
    checkpoint_every: float | None,
) -> SkipGramModel:
    """Train ``model`` from ``model.state`` to the end, recording and checkpointing."""
    import numba

    from embtable.kernels.sgns import train_sgns_block

    config, state = model.config, model.state
    kernel: Callable[..., None] = train_sgns_block
    threads, epochs = int(config["threads"]), int(config["epochs"])
    alpha, min_alpha = float(config["alpha"]), float(config["min_alpha"])
    weight_in = model.input.weight.data
    weight_out = model.output.weight.data
    counts = corpus.counts
    keep = _to_threshold(keep_probabilities(counts, float(config["sample"])))
    noise = counts.astype(np.float64) ** float(config["ns_exponent"])
    accept, alias = alias_table(noise)
    accept_threshold = _to_threshold(accept)
    offsets = corpus.sentence_offsets
    n_words = len(corpus)
    total_words = n_words * epochs
    chunk_words = threads * _BLOCK_WORDS
    lanes = _lanes(threads)
    rng_state = np.array(state["rng_state"], dtype=np.uint64)
    loss = np.zeros(lanes, dtype=np.float64)
    pairs = np.zeros(lanes, dtype=np.int64)
    words_read = np.zeros(lanes, dtype=np.int64)
    flags: tuple[Any, ...] = (
        config["architecture"] == "cbow",
        bool(config["cbow_mean"]),
        bool(config["shrink_windows"]),
        bool(config.get("shared_negatives", False)),
        *_hs_arrays(model, counts),
    )
    if model.subwords is not None:
        from embtable.kernels.fasttext_train import train_fasttext_block

        kernel = train_fasttext_block
        flags = (
            config["architecture"] == "cbow",
            bool(config["shrink_windows"]),
            *_subword_bags(model),
        )

    def call(ids, chunk_offsets, order, max_length: int, next_sentence, stops, words_done) -> None:
        # Threads take lanes one at a time (dynamic scheduling): a thread that another process
        # slowed down holds up no other.
        with numba.parallel_chunksize(1):
            _call(ids, chunk_offsets, order, max_length, next_sentence, stops, words_done)

    def _call(ids, chunk_offsets, order, max_length: int, next_sentence, stops, words_done):
        kernel(
            ids,
            chunk_offsets,
            order,
            max_length,
            next_sentence,
            stops,
            1 << 62,
            keep,
            accept_threshold,
            alias,
            weight_in,
            weight_out,
            int(config["window"]),
            int(config["negative"]),
            np.float32(alpha),
            np.float32(min_alpha),
            words_done,
            total_words,
            rng_state,
            loss,
            pairs,
            words_read,
            *flags,
        )

    if progress is None:
        progress = sys.stderr.isatty()
    from embtable.train._progress import bar as progress_bar

    def save_checkpoint() -> None:
        if checkpoint_dir is not None:
            model.save(checkpoint_dir)

    previous_threads = numba.get_num_threads()
    numba.set_num_threads(threads)
    bar = None
    try:
        # Compiles, or loads numba's cache; trains nothing (no thread has a sentence).
        empty = np.zeros(lanes, dtype=np.int64)
        call(
            np.zeros(1, np.int32),
            np.zeros(2, np.int64),
            np.zeros(0, np.int64),
            0,
            empty,
            empty.copy(),
            0,
        )
        rng_state[:] = np.array(state["rng_state"], dtype=np.uint64)
        bar = progress_bar(
            total=total_words,
            unit="word",
            desc=f"epoch {int(state['epoch']) + 1}/{epochs}",
            enabled=progress,
            initial=int(state["words_done"]),
            smoothing=0.1,
        )
        started = time.perf_counter() - float(state["seconds"])
        last_checkpoint = time.perf_counter()
        with _Interrupt() as interrupt:
            while state["epoch"] < epochs:
                epoch = state["epoch"]
                while state["sentence"] < corpus.sentences:
                    first = state["sentence"]
                    last = _chunk_bounds(offsets, first, chunk_words)
                    chunk_ids, span = corpus.chunk(first, last)
                    words_done = int(state["words_done"])
                    # Jobs of about _JOB_WORDS words dealt to the lanes in turn, so that they
                    # move through the corpus side by side (as gensim's job queue does).
                    owner = ((span[:-1] + int(offsets[first])) // _JOB_WORDS) % lanes
                    order = np.argsort(owner, kind="stable").astype(np.int64)
                    per_thread = np.bincount(owner, minlength=lanes)
                    stops = np.cumsum(per_thread).astype(np.int64)
                    next_sentence = stops - per_thread
                    tick = time.perf_counter()
                    call(
                        chunk_ids,
                        span,
                        order,
                        int(np.diff(span).max()),
                        next_sentence,
                        stops,
                        words_done,
                    )
                    chunk_seconds = time.perf_counter() - tick
                    chunk = int(words_read.sum())
                    chunk_loss, chunk_pairs = float(loss.sum()), int(pairs.sum())
                    state["words_done"] = words_done + chunk
                    state["epoch_loss"] += chunk_loss
                    state["epoch_examples"] += chunk_pairs
                    state["sentence"] = last
                    state["rng_state"] = [int(x) for x in rng_state]
                    state["seconds"] = time.perf_counter() - started
                    rate = _rate(alpha, min_alpha, state["words_done"], total_words)
                    model.history.append(
                        {
                            "epoch": epoch + 1,
                            "words_done": state["words_done"],
                            "loss": round(chunk_loss / max(chunk_pairs, 1), 6),
                            "learning_rate": round(rate, 8),
                            "words_per_second": round(chunk / max(chunk_seconds, 1e-9), 1),
                            "seconds": round(state["seconds"], 3),
                        }
                    )
                    running = state["epoch_loss"] / max(state["epoch_examples"], 1)
                    bar.set_description_str(
                        f"epoch {epoch + 1}/{epochs} loss {running:.4f} lr {rate:.5f}",
                        refresh=False,
                    )
                    bar.update(chunk)
                    if interrupt.requested:
                        _finish_stats(model, corpus)
                        save_checkpoint()
                        raise KeyboardInterrupt
                    if (
                        checkpoint_every is not None
                        and time.perf_counter() - last_checkpoint >= checkpoint_every
                    ):
                        _finish_stats(model, corpus)
                        save_checkpoint()
                        last_checkpoint = time.perf_counter()
                if state["epoch_examples"] == 0:
                    raise CorpusError(
                        f"epoch {epoch + 1} trained no example: the corpus has {n_words} "
                        f"retained words in sentences too short or too sub-sampled to pair "
                        f"(lower sample={config['sample']} or min_count, or add text)"
                    )
                model.epoch_losses.append(state["epoch_loss"] / state["epoch_examples"])
                state.update(epoch=epoch + 1, sentence=0, epoch_loss=0.0, epoch_examples=0)
                state["complete"] = state["epoch"] >= epochs
                _finish_stats(model, corpus)
                end = EpochEnd(
                    epoch + 1,
                    epochs,
                    model.epoch_losses[-1],
                    int(state["words_done"]),
                    _rate(alpha, min_alpha, state["words_done"], total_words),
                    float(state["seconds"]),
                    model,
                )
                try:
                    for callback in callbacks:
                        callback(end)
                except BaseException:  # the run stops; what it learnt is kept, then re-raised
                    save_checkpoint()
                    raise
    finally:
        numba.set_num_threads(previous_threads)
        if bar is not None:
            bar.close()
    _finish_stats(model, corpus)
    save_checkpoint()
    return model


def _hs_arrays(model: SkipGramModel, counts: NDArray[np.int64]) -> tuple[Any, ...]:
    """The kernel's hierarchical-softmax arguments: ``(hs, offsets, codes, points, table)``;
    the Huffman codes are rebuilt from the vocabulary's counts (on a resume too), and the
    arrays are empty without ``hs``."""
    if not model.config.get("hs"):
        dim = int(model.input.weight.data.shape[1])
        return (
            False,
            np.zeros(1, np.int64),
            np.zeros(0, np.uint8),
            np.zeros(0, np.int32),
            np.zeros((0, dim), np.float32),
        )
    from embtable.train.huffman import huffman_codes

    assert model.output_hs is not None
    offsets, codes, points = huffman_codes(counts)
    return True, offsets, codes, points, model.output_hs.weight.data


def _subword_bags(model: SkipGramModel) -> tuple[NDArray[np.int64], NDArray[np.int32]]:
    """Every vocabulary word's bag (its row, then its n-gram rows), computed once:
    ``(offsets (V + 1,), rows)``."""
    from embtable.subword import SubwordIndexer

    assert model.subwords is not None
    minn, maxn, bucket = model.subwords
    indexer = SubwordIndexer(model.vocab.id_to_token, minn=minn, maxn=maxn, bucket=bucket)
    rows, offsets = indexer.index(model.vocab.id_to_token)
    bounds = np.append(offsets, rows.shape[0]).astype(np.int64)
    return bounds, rows.astype(np.int32)


def _rate(alpha: float, min_alpha: float, words_done: int, total_words: int) -> float:
    done = min(words_done / total_words, 1.0) if total_words else 1.0
    return max(alpha - (alpha - min_alpha) * done, min_alpha)


def _finish_stats(model: SkipGramModel, corpus: Corpus) -> None:
    seconds = float(model.state["seconds"])
    words = int(model.state["words_done"])
    model.stats = {
        "corpus": _corpus_stats(corpus),
        "training": {
            "seconds": round(seconds, 3),
            "words": words,
            "words_per_second": round(words / seconds, 1) if seconds > 0 else None,
            "threads": int(model.config["threads"]),
        },
    }
