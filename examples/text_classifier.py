"""Train a small text classifier twice: with ``torch.nn`` and with ``embtable.torch``.

The model is plain PyTorch: ``EmbeddingBag(mode="mean") -> Linear``, trained on Rotten Tomatoes
review snippets (fresh vs rotten; plot summaries are dropped; train and test are split by movie).
The two runs differ by one alias, ``nn = torch.nn`` or ``nn = embtable.torch``, and start from the
same seed, so they see the same weights and batches and should follow the same loss curve up to
float rounding.

Usage:
    python examples/text_classifier.py [--epochs 5] [--quick] [--data PATH] [--seed 0]
"""

from __future__ import annotations

import argparse
import bz2
import csv
import io
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

import embtable.torch
from embtable.text import Vocab, regex_tokenize

DATA = Path(__file__).parent / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
LABELS = {"rotten": 0, "fresh": 1}


@dataclass
class Split:
    ids: torch.Tensor  # flat token ids of every text, one after another
    offsets: torch.Tensor  # where each text starts in ids
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The ids, offsets and labels of the texts ``rows``."""
        ends = torch.cat([self.offsets[1:], torch.tensor([len(self.ids)])])
        pieces = [self.ids[self.offsets[r] : ends[r]] for r in rows.tolist()]
        lengths = torch.tensor([len(p) for p in pieces])
        offsets = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)[:-1]])
        return torch.cat(pieces), offsets, self.labels[rows]


def load_data(
    path: Path = DATA, *, seed: int = 0, test_fraction: float = 0.2, limit: int | None = None
) -> tuple[Split, Split, Vocab]:
    """Read the reviews, split them by movie, build the vocabulary on the training texts."""
    with bz2.open(path, "rb") as raw:
        rows = [
            r
            for r in csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8"))
            if r["category"] in LABELS
        ]
    movies = sorted({r["movie_name"] for r in rows})
    order = np.random.default_rng(seed).permutation(len(movies))
    test_movies = {movies[i] for i in order[: int(len(movies) * test_fraction)]}
    train = [r for r in rows if r["movie_name"] not in test_movies]
    test = [r for r in rows if r["movie_name"] in test_movies]
    if limit is not None:
        train, test = train[:limit], test[: limit // 4]
    vocab = Vocab.build((regex_tokenize(r["text"]) for r in train), min_freq=2)

    def encode(part: list[dict[str, str]]) -> Split:
        ids, offsets = vocab.encode_bags([r["text"] for r in part], tokenizer="regex")
        labels = torch.tensor([LABELS[r["category"]] for r in part])
        return Split(torch.from_numpy(ids), torch.from_numpy(offsets), labels)

    return encode(train), encode(test), vocab


class TextClassifier(torch.nn.Module):
    """Mean of the token embeddings, then a linear layer; ``nn`` is ``torch.nn`` or
    ``embtable.torch`` (the only difference between the two runs)."""

    def __init__(self, nn: ModuleType, vocab_size: int, dim: int, padding_idx: int | None) -> None:
        super().__init__()
        self.embedding = nn.EmbeddingBag(vocab_size, dim, mode="mean", padding_idx=padding_idx)
        self.classifier = torch.nn.Linear(dim, len(LABELS))

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embedding(ids, offsets))


def train(
    nn: ModuleType,
    train_split: Split,
    test_split: Split,
    vocab: Vocab,
    *,
    epochs: int,
    seed: int = 0,
    dim: int = 64,
    batch_size: int = 64,
    lr: float = 0.01,
) -> list[dict[str, float]]:
    """Train one model; returns one record per epoch (train loss, test accuracy, seconds)."""
    torch.manual_seed(seed)
    model = TextClassifier(nn, len(vocab), dim, vocab.pad_id)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    history = []
    for _ in range(epochs):
        start = time.perf_counter()
        model.train()
        total, count = 0.0, 0
        for rows in torch.randperm(len(train_split), generator=generator).split(batch_size):
            ids, offsets, labels = train_split.batch(rows)
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(ids, offsets), labels)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(rows)
            count += len(rows)
        model.eval()
        with torch.no_grad():
            logits = model(test_split.ids, test_split.offsets)
            accuracy = float((logits.argmax(1) == test_split.labels).float().mean())
        history.append(
            {"loss": total / count, "accuracy": accuracy, "seconds": time.perf_counter() - start}
        )
    return history


def compare(
    *, epochs: int, quick: bool = False, seed: int = 0, path: Path = DATA
) -> dict[str, list[dict[str, float]]]:
    """Train with ``torch.nn`` and with ``embtable.torch`` on the same data and seed."""
    train_split, test_split, vocab = load_data(path, seed=seed, limit=2000 if quick else None)
    return {
        name: train(nn, train_split, test_split, vocab, epochs=epochs, seed=seed)
        for name, nn in (("torch.nn", torch.nn), ("embtable.torch", embtable.torch))
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument(
        "--quick", action="store_true", help="2,000 training texts, for a smoke test"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args(argv)
    histories = compare(epochs=args.epochs, quick=args.quick, seed=args.seed, path=args.data)
    print(
        "| epoch | torch.nn loss | embtable.torch loss | torch.nn acc | embtable.torch acc "
        "| torch.nn s | embtable.torch s |"
    )
    print("|---|---|---|---|---|---|---|")
    for epoch, (a, b) in enumerate(
        zip(histories["torch.nn"], histories["embtable.torch"], strict=True), 1
    ):
        print(
            f"| {epoch} | {a['loss']:.5f} | {b['loss']:.5f} | {a['accuracy']:.4f} "
            f"| {b['accuracy']:.4f} | {a['seconds']:.2f} | {b['seconds']:.2f} |"
        )


if __name__ == "__main__":
    main()
