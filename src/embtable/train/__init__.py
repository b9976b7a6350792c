"""Training embeddings from text: word2vec skip-gram with negative sampling.

:class:`Corpus` reads and indexes text, :func:`train_sgns` trains on it with a compiled,
multi-threaded kernel and returns a :class:`SkipGramModel` whose tables are
:class:`embtable.Embedding` layers. :func:`bundled_corpus` is the path of the corpus shipped
with embtable (US State of the Union addresses, public domain; see
``embtable/data/corpus/README.md``).

Example:
    >>> from embtable.train import Corpus, train_sgns
    >>> corpus = Corpus.from_sentences([["red", "green", "blue", "red"]] * 20, min_count=1)
    >>> model = train_sgns(corpus, dim=4, epochs=1, threads=1, seed=0, progress=False)
    >>> model.input
    Embedding(3, 4)
"""

from __future__ import annotations

from importlib import resources

from embtable.train.sgns import Corpus, SkipGramModel, alias_table, keep_probabilities, train_sgns

__all__ = [
    "BUNDLED_CORPUS",
    "Corpus",
    "SkipGramModel",
    "alias_table",
    "bundled_corpus",
    "keep_probabilities",
    "train_sgns",
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
