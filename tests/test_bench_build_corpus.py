"""bench/build_corpus.py's public-corpus readers on small stand-ins for the three packages."""

from __future__ import annotations

import gzip
import importlib.util
import io
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("build_corpus", ROOT / "bench" / "build_corpus.py")
build_corpus = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_corpus)


def _tar(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_brown_drops_tags_and_skips_the_other_files(tmp_path):
    archive = _tar(
        tmp_path / "brown.tgz",
        {
            "package/ca01": b"\n\tThe/at jury/nn said/vbd ./.\n\n\tIt/pps ran/vbd\n",
            "package/README": b"BROWN CORPUS\n",
            "package/cats.txt": b"ca01 news\n",
        },
    )
    assert list(build_corpus.brown_lines(archive)) == ["The jury said .", "It ran"]


def test_shakespeare_keeps_one_spelling_per_play_in_paragraphs(tmp_path):
    archive = _tar(
        tmp_path / "plays.tar.gz",
        {
            "s/texts/lear_gut.txt": b"Kent.\nI thought the King\nhad more affected\n\nGlou.\n",
            "s/texts/lear_gut_f.txt": b"Kent. I thought the King\n",
            "s/texts/metadata.txt": b"[lear_gut]\n",
        },
    )
    assert list(build_corpus.shakespeare_lines(archive)) == [
        "Kent. I thought the King had more affected",
        "Glou.",
    ]


def test_gcide_drops_markup_sources_and_entities(tmp_path):
    dictionary = tmp_path / "dict-gcide" / "usr" / "share" / "dictd" / "gcide.dict.dz"
    dictionary.parent.mkdir(parents=True)
    text = (
        'Abjurer \\Ab*jur"er\\, n.\n   One who abjures.\n   [1913 Webster]\n\n'
        'Zythem \\Zy"them\\ (z[imac]th[e^]m), n. See {Zythum}. [R.]\n'
    )
    with gzip.open(dictionary, "wt", encoding="utf-8") as out:
        out.write(text)
    lines = list(build_corpus.gcide_lines(tmp_path / "unused.deb", tmp_path))
    assert lines == ["Abjurer Abjurer, n. One who abjures.", "Zythem Zythem n. See Zythum."]
