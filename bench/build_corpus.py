"""Build a larger benchmark corpus from the bundled one: its lines repeated, gzip-compressed.

The bundled State of the Union corpus (1.8M tokens) repeated ``--times`` times (default 10:
18M tokens, about 107 MB of text, 36 MB compressed) measures how the corpus reader and the
trainer scale with the corpus (time per token, bytes of memory per token), not embedding quality:
repeated text adds no new contexts.

Usage:
    python bench/build_corpus.py [--times 10] [-o out/bench/sotu_x10.txt.gz]
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--times", type=int, default=10, help="repetitions of the corpus")
    parser.add_argument(
        "-o", "--output", default=os.path.join("out", "bench", "sotu_x10.txt.gz"), help="file"
    )
    args = parser.parse_args(argv)
    if args.times < 1:
        parser.error(f"--times must be >= 1, got {args.times}")
    from embtable.io._atomic import atomic_file
    from embtable.io._open import open_binary_read
    from embtable.train import bundled_corpus

    with open_binary_read(bundled_corpus()) as stream:
        text = stream.read()
    if not text.endswith(b"\n"):
        text += b"\n"
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with atomic_file(args.output) as out:
        for _ in range(args.times):
            out.write(text)
    print(
        f"wrote {args.output}: the bundled corpus x{args.times} "
        f"({len(text) * args.times / 1e6:.0f} MB of text)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
