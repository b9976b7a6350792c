"""Reading is bounded: no more memory than the header and the file justify, no blocking.

Peak allocations are measured with tracemalloc (NumPy reports its buffers to it); the files
are synthetic and made in ``tmp_path`` (sparse where large).
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import threading
import time
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest

from embtable import OutputError, VectorFormatError
from embtable.io import (
    _parse,
    detect_format,
    load_table,
    read_fasttext_vec,
    read_glove,
    read_word2vec_binary,
    read_word2vec_text,
    registry,
)

MiB = 1 << 20


def _peak(call) -> tuple[int, object]:
    """Peak traced allocation (bytes) during ``call()``, and its result or exception."""
    tracemalloc.start()
    try:
        try:
            outcome: object = call()
        except Exception as err:  # the outcome is inspected by the caller
            outcome = err
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, outcome


def _gzip_of(parts, path: Path) -> None:
    """Write the gzip of the concatenated ``parts`` (bytes, or ints meaning that many NULs)."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
    zeros = bytes(MiB)
    with open(path, "wb") as out:
        for part in parts:
            if isinstance(part, int):
                for _ in range(part // MiB):
                    out.write(compressor.compress(zeros))
            else:
                out.write(compressor.compress(part))
        out.write(compressor.flush())


def test_gzip_binary_with_a_small_header_and_a_huge_tail_reads_in_chunks(tmp_path) -> None:
    path = tmp_path / "v.bin.gz"
    record = b"cat " + np.ones(4, "<f4").tobytes() + b"\n"
    _gzip_of([b"1 4\n", record, 64 * MiB], path)
    assert path.stat().st_size < 1_000_000  # a small file that decompresses to 64 MiB
    peak, outcome = _peak(lambda: read_word2vec_binary(path))
    assert isinstance(outcome, VectorFormatError), outcome
    assert str(outcome) == (
        "v.bin.gz:1: the header declares 1 vectors, but more data follows the last of them "
        "(from byte 25)"
    )
    assert peak < 3 * _parse._CHUNK + MiB, f"peak {peak / MiB:.1f} MiB"


def test_plain_binary_with_a_huge_tail_reads_in_chunks(tmp_path) -> None:
    path = tmp_path / "v.bin"
    with open(path, "wb") as out:
        out.write(b"1 4\ncat " + np.ones(4, "<f4").tobytes() + b"\n")
        out.truncate(64 * MiB)  # sparse: 64 MiB of NULs on no disk
    peak, outcome = _peak(lambda: read_word2vec_binary(path))
    assert isinstance(outcome, VectorFormatError), outcome
    assert peak < 3 * _parse._CHUNK + MiB, f"peak {peak / MiB:.1f} MiB"


def test_compressed_binary_with_a_huge_count_allocates_by_the_data(tmp_path) -> None:
    path = tmp_path / "v.bin.gz"
    record = b"cat " + np.ones(1000, "<f4").tobytes() + b"\n"
    path.write_bytes(gzip.compress(b"100000000 1000\n" + record))
    peak, outcome = _peak(lambda: read_word2vec_binary(path))
    assert isinstance(outcome, VectorFormatError)
    assert "record 2 of 100000000" in str(outcome)
    assert peak < 200 * MiB  # not the 400 GB the header declares


def test_text_parser_memory_is_a_small_multiple_of_the_longest_line(tmp_path) -> None:
    dim = 300_000
    path = tmp_path / "long.txt"
    row = " ".join(["0.123456"] * dim)
    path.write_text(f"a {row}\nb {row}\n")
    size = path.stat().st_size  # about 5 MiB, within one read block
    peak, outcome = _peak(lambda: read_glove(path))
    assert not isinstance(outcome, Exception), outcome
    tokens, matrix = outcome  # type: ignore[misc]
    assert tokens == ["a", "b"] and matrix.shape == (2, dim)
    assert peak < 7 * size, f"peak {peak / size:.1f} x the file"  # was 29x


def test_a_line_longer_than_the_maximum_is_an_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(_parse, "MAX_LINE_BYTES", 1 * MiB)
    monkeypatch.setattr(_parse, "_CHUNK", 256 * 1024)
    path = tmp_path / "g.txt"
    path.write_text("a 1 2\n" + "b " + " ".join(["1.5"] * 400_000) + "\nc 1 2\n")
    peak, outcome = _peak(lambda: read_glove(path))
    assert isinstance(outcome, VectorFormatError)
    assert str(outcome) == (
        "g.txt:2: the line is longer than 1048576 bytes, embtable's maximum line length; "
        "the file is not a vectors file, or is corrupt"
    )
    assert peak < 8 * MiB
    path.write_bytes(b"2 3\n" + b"7" * (3 * MiB))  # no line break at all
    with pytest.raises(VectorFormatError, match=r"g\.txt:2: the line is longer than 1048576"):
        read_word2vec_text(path)


def test_a_binary_token_without_end_is_an_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(_parse, "MAX_LINE_BYTES", 1 * MiB)
    monkeypatch.setattr(_parse, "_CHUNK", 256 * 1024)
    path = tmp_path / "v.bin"
    path.write_bytes(b"1 2\n" + b"x" * (3 * MiB))
    peak, outcome = _peak(lambda: read_word2vec_binary(path))
    assert isinstance(outcome, VectorFormatError)
    assert str(outcome).startswith("v.bin: record 1 (byte 4): no token ends within 1048576 bytes")
    assert peak < 8 * MiB


def test_detection_reads_a_bounded_prefix(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(_parse, "MAX_LINE_BYTES", 1 * MiB)
    path = tmp_path / "v.txt"
    with open(path, "wb") as out:
        out.write(b"2 3\nabc ")
        out.write(b"1 " * (8 * MiB))  # 16 MiB of numbers without a line break
    peak, outcome = _peak(lambda: detect_format(path))
    assert outcome == "word2vec"  # the text reader then names the long line
    assert peak < 4 * MiB


class _FifoGuard:
    """Unblocks a reader stuck on a FIFO (so that a regression fails instead of hanging)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.unblocked = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        deadline = time.monotonic() + 10
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # ENXIO: nobody has the FIFO open for reading
                time.sleep(0.05)
                continue
            os.close(fd)  # the blocked reader sees the end of the file
            self.unblocked = True
            return

    def __enter__(self) -> _FifoGuard:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


READERS = {
    "detect_format": detect_format,
    "read_word2vec_text": read_word2vec_text,
    "read_word2vec_binary": read_word2vec_binary,
    "read_glove": read_glove,
    "read_fasttext_vec": read_fasttext_vec,
    "registry.read": registry.read,
    "registry.peek": lambda path: registry.peek(path, "glove"),
}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("reader", sorted(READERS))
def test_every_reader_refuses_a_fifo_without_blocking(reader, tmp_path) -> None:
    fifo = tmp_path / "v.txt"
    os.mkfifo(fifo)
    with _FifoGuard(fifo) as guard, pytest.raises(OutputError) as caught:
        READERS[reader](fifo)
    assert not guard.unblocked, "the reader blocked on the FIFO"
    assert (
        str(caught.value)
        == f"[Errno 22] cannot read {str(fifo)!r}: it is a FIFO, not a regular file"
    )


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_is_refused(tmp_path) -> None:
    with pytest.raises(OutputError, match="it is a character device, not a regular file"):
        read_glove("/dev/zero")  # would never end


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_table_file_that_is_a_fifo_is_refused(tmp_path) -> None:
    from embtable.io import save_table

    save_table(tmp_path / "t", np.ones((1, 2), np.float32), ["a"])
    (tmp_path / "t" / "config.json").unlink()
    os.mkfifo(tmp_path / "t" / "config.json")
    with (
        _FifoGuard(tmp_path / "t" / "config.json") as guard,
        pytest.raises(OutputError, match="it is a FIFO"),
    ):
        load_table(tmp_path / "t")
    assert not guard.unblocked


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("command", [["info"], ["convert", "{out}"], ["similar", "war"]])
def test_cli_refuses_a_fifo(command, tmp_path) -> None:
    fifo = tmp_path / "v.txt"
    os.mkfifo(fifo)
    args = [part.format(out=tmp_path / "out.bin") for part in command]
    args.insert(1, str(fifo))
    result = subprocess.run(
        [sys.executable, "-m", "embtable.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert (
        result.stderr
        == f"embtable: error: cannot read {str(fifo)!r}: it is a FIFO, not a regular file\n"
    )


@pytest.mark.parametrize("compress", [None, "gzip", "bz2"])
def test_text_lines_are_bounded_and_the_long_one_is_named(tmp_path, monkeypatch, compress) -> None:
    # iter_text_lines (pair lists, corpora read by lines) once built a line as long as the
    # file; it holds at most MAX_LINE_CHARS characters, as the vectors parsers hold 16 MiB.
    import bz2

    from embtable.io import _open

    assert _open.MAX_LINE_CHARS == _parse.MAX_LINE_BYTES
    monkeypatch.setattr(_open, "MAX_LINE_CHARS", 64)
    data = b"short line\n" + b"x" * 64 + b"\n" + "\u00e9".encode() * 64 + b"\n" + b"y" * 65
    pack = {None: bytes, "gzip": gzip.compress, "bz2": bz2.compress}[compress]
    path = tmp_path / "pairs.txt"
    path.write_bytes(pack(data))
    lines = _open.iter_text_lines(path)
    assert [next(lines) for _ in range(3)] == [
        "short line\n",
        "x" * 64 + "\n",
        "\u00e9" * 64 + "\n",
    ]
    with pytest.raises(VectorFormatError, match=r"^pairs\.txt:4: the line is longer than 64 "):
        next(lines)


def test_text_lines_of_a_huge_line_stay_in_bounded_memory(tmp_path) -> None:
    from embtable.io._open import MAX_LINE_CHARS, iter_text_lines

    path = tmp_path / "one-line.txt"
    with open(path, "wb") as out:
        out.truncate(8 * MAX_LINE_CHARS)  # sparse: 128 MiB of NUL bytes, no line break
    peak, result = _peak(lambda: list(iter_text_lines(path)))
    assert isinstance(result, VectorFormatError), result
    assert "one-line.txt:1: the line is longer than" in str(result)
    assert peak < 4 * MAX_LINE_CHARS, peak  # the whole line would be 8


class _CountingReads:
    """A stream wrapper counting its ``read`` calls."""

    def __init__(self, stream) -> None:
        self.stream, self.reads = stream, 0

    def read(self, size: int = -1) -> bytes:
        self.reads += 1
        return self.stream.read(size)

    def readline(self, size: int = -1) -> bytes:
        return self.stream.readline(size)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.stream.close()


def test_a_long_binary_token_is_read_in_doubling_steps(tmp_path, monkeypatch, capsys) -> None:
    # `embtable info` on a word2vec binary file whose first token is 16 MiB took 10 s: detection
    # and the peeker read it 64 KiB / 4 KiB at a time, copying and searching all of it each time.
    from embtable.cli.__main__ import main
    from embtable.io import _detect, _open, _peek

    path = tmp_path / "long.bin"
    path.write_bytes(b"2 4\n" + b"\x01" * (4 * MiB) + b" " + bytes(16) + b"b " + bytes(16))
    streams: list[_CountingReads] = []

    def counting(path):
        streams.append(_CountingReads(_open.open_binary_read(path)))
        return streams[-1]

    monkeypatch.setattr(_detect, "open_binary_read", counting)
    monkeypatch.setattr(_peek, "open_binary_read", counting)
    assert main(["info", str(path)]) == 0
    assert len(streams) == 2  # detection, then the peeker
    assert all(stream.reads < 20 for stream in streams), [s.reads for s in streams]
    out = capsys.readouterr().out
    assert "vectors: 2 x 4 float32 (header)" in out
    assert "tokens:  \\x01\\x01" in out and "\u2026, b" in out  # the long token shown cut
    assert max(len(line) for line in out.splitlines()) < 200


def test_peek_of_a_text_file_names_an_over_long_line(tmp_path, monkeypatch) -> None:
    # a line longer than the maximum was cut by readline and its rest shown as the next token
    monkeypatch.setattr(_parse, "MAX_LINE_BYTES", 64)
    path = tmp_path / "v.txt"
    path.write_bytes(b"2 1\na 1\n" + b"x" * 70 + b" 1\n")
    with pytest.raises(VectorFormatError, match=r"^v\.txt:3: the line is longer than 64 bytes"):
        registry.peek(path)
