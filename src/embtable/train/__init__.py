"""Training embeddings from text: word2vec (skip-gram or CBOW) with negative sampling, and
fastText (the same on character n-grams: ``train_word2vec(..., subwords=(3, 6))``).

:class:`Corpus` reads and indexes text (streamed, its ids kept in temporary files),
:func:`train_word2vec` trains on it with a compiled, multi-threaded kernel and returns a
:class:`SkipGramModel` whose tables are :class:`embtable.Embedding` layers;
:func:`resume_training` continues a run from its checkpoint directory. :func:`bundled_corpus` is
the path of the corpus shipped with embtable (US State of the Union addresses, public domain;
see ``embtable/data/corpus/README.md``).

Example:
    >>> from embtable.train import Corpus, train_word2vec
    >>> corpus = Corpus.from_sentences([["red", "green", "blue", "red"]] * 20, min_count=1)
    >>> model = train_word2vec(corpus, dim=4, epochs=1, threads=1, seed=0, progress=False)
    >>> model.input
    Embedding(3, 4)
"""

from __future__ import annotations

from importlib import resources

from embtable.train.corpus import Corpus
from embtable.train.sgns import (
    CSV_COLUMNS,
    EpochEnd,
    SkipGramModel,
    alias_table,
    check_training_options,
    keep_probabilities,
    resume_training,
    train_sgns,
    train_word2vec,
)

__all__ = [
    "BUNDLED_CORPUS",
    "CSV_COLUMNS",
    "Corpus",
    "EpochEnd",
    "SkipGramModel",
    "alias_table",
    "bundled_corpus",
    "check_training_options",
    "keep_probabilities",
    "resume_training",
    "train_sgns",
    "train_word2vec",
]

BUNDLED_CORPUS = "sotu.txt.gz"
"""File name of the bundled corpus in ``embtable/data/corpus/``."""


def bundled_corpus() -> str:
    """Return the path of the bundled corpus (gzip text, one address per line).

    Example:
        >>> bundled_corpus().endswith("sotu.txt.gz")
        True
    """
    return str(resources.files("embtable") / "data" / "corpus" / BUNDLED_CORPUS)
