"""``embtable convert``: convert vectors between file formats."""

from __future__ import annotations

import argparse
import os
import textwrap

from embtable.cli._common import (
    HelpFormatter,
    add_load_options,
    fail,
    formats_help,
    load_options,
)

__all__ = ["add_parser", "output_format", "run"]

_RULES = (
    "The input format is detected unless --from is given. The output format is --to, or else "
    "told by OUT's name: {suffixes}, and a name without a file suffix an embtable table "
    "directory (e.g. out/glove.6B). A name whose suffix belongs to another format than --to, "
    "or to none (out.json), is refused. A .gz or .bz2 suffix compresses a text or binary "
    "output. OUT is replaced atomically: a reader, or an interrupted conversion, leaves the "
    "old OUT or the new one, never a mix."
)

_EXAMPLE = """\
formats:
{formats}

{rules}

examples:
  embtable convert out/default vectors.bin
  embtable convert glove.6B.50d.txt glove-table --from glove --to embtable
  embtable convert vectors.bin vectors.txt.gz --to word2vec
  embtable convert crawl.vec crawl-table --duplicates first
"""


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``convert`` sub-command to ``commands``.

    Example:
        >>> parser = argparse.ArgumentParser(prog="embtable")
        >>> add_parser(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["convert", "in.txt", "out.bin", "--from", "glove"])
        >>> args.input, args.output, args.source_format, args.target_format
        ('in.txt', 'out.bin', 'glove', None)
    """
    from embtable.io import registry

    parser = commands.add_parser(
        "convert",
        help="convert vectors between formats",
        description="Convert vectors between embtable, word2vec, GloVe and fastText formats.",
        epilog=_EXAMPLE.format(
            formats=formats_help(), rules=textwrap.fill(_RULES.format(suffixes=_suffixes()), 94)
        ),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("input", metavar="IN", help="input file or table directory")
    parser.add_argument("output", metavar="OUT", help="output file or table directory")
    add_load_options(parser, format_flag="--from")
    parser.add_argument(
        "--to",
        dest="target_format",
        choices=registry.writable(),
        default=None,
        help="output format (default: from OUT's name)",
    )
    parser.add_argument(
        "--quantize",
        choices=("int8", "int4"),
        default=None,
        help="write a quantized table directory: row-wise int8 or int4 codes with a scale and "
        "bias per row (FBGEMM's layout), for inference; queries and evaluation read it back",
    )
    parser.set_defaults(run=run)


def _suffixes() -> str:
    """``.txt word2vec, .bin word2vec-binary, ...``: the default format of each suffix."""
    from embtable.io import registry

    return ", ".join(f"{suffix} {name}" for suffix, name in registry._suffix_owners().items())


def output_format(path: str) -> str:
    """The output format a name asks for (:func:`embtable.io.registry.format_for_path`).

    Example:
        >>> [output_format(p) for p in ["v.bin", "v.vec", "v.txt.gz", "table"]]
        ['word2vec-binary', 'fasttext', 'word2vec', 'embtable']
    """
    from embtable.io import registry

    return registry.format_for_path(path)


def run(args: argparse.Namespace) -> int:
    """Convert; return the exit status.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "g.txt").write_text("cat 1 0\\ndog 0 1\\n")
        >>> parser = argparse.ArgumentParser(prog="embtable")
        >>> add_parser(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["convert", str(folder / "g.txt"), str(folder / "v.bin")])
        >>> run(args)  # doctest: +ELLIPSIS
        wrote 2 x 2 vectors to /.../v.bin (word2vec-binary)
        0
    """
    from embtable._errors import OptionError
    from embtable.io import registry
    from embtable.io._atomic import check_output

    if os.path.exists(args.output) and os.path.realpath(args.input) == os.path.realpath(
        args.output
    ):
        return fail(f"IN and OUT are the same path ({args.output}); write to a new path")
    if getattr(args, "quantize", None) is not None:
        return _quantize(args)
    if args.target_format is None:
        target = output_format(args.output)
    else:
        target = args.target_format
        registry.check_output_name(args.output, target)
    entry = registry.get(target)
    check_output(args.output, "directory" if entry.directory else "file")  # before reading
    if (
        target == "embtable"
        and args.source_format in (None, "embtable")
        and os.path.isdir(args.input)
        and os.path.isfile(os.path.join(args.input, "vocab.json"))
        and os.path.isfile(os.path.join(args.input, "weights.safetensors"))
    ):
        return _copy_table(args.input, args.output)
    data = registry.read(args.input, format=args.source_format or "auto", **load_options(args))
    tokens, matrix = registry.as_pair(data)
    whole = {}
    if not isinstance(data, tuple) and "vectors" in entry.write_options:
        whole["vectors"] = data  # the whole model (e.g. fastText subwords), not only rows
    try:
        registry.write(args.output, tokens, matrix, format=target, **whole)
    except OptionError as err:  # e.g. a token that the text format cannot hold
        return fail(f"cannot write {args.output} as {target}: {err}")
    rows, dim = matrix.shape
    print(f"wrote {rows:,} x {dim} vectors to {os.fspath(args.output)} ({target})")
    return 0


def _quantize(args: argparse.Namespace) -> int:
    """``convert IN OUT --quantize int8|int4``: a quantized table directory."""
    from embtable.io import registry
    from embtable.io._atomic import check_output
    from embtable.quantized import quantize, save_quantized_table

    if args.target_format not in (None, "quantized"):
        return fail(
            f"--quantize writes a quantized table directory; it cannot be combined with "
            f"--to {args.target_format}"
        )
    registry.check_output_name(args.output, "quantized")
    check_output(args.output, "directory")  # before reading
    data = registry.read(args.input, format=args.source_format or "auto", **load_options(args))
    tokens, matrix = registry.as_pair(data)
    table = quantize(matrix, args.quantize)
    source = {"source": os.fspath(args.input), "scheme": args.quantize}
    save_quantized_table(args.output, table, tokens, source)
    rows, dim = matrix.shape
    print(
        f"wrote {rows:,} x {dim} vectors to {os.fspath(args.output)} "
        f"(quantized {args.quantize}, {table.nbytes:,} bytes)"
    )
    return 0


def _copy_table(source: str, target: str) -> int:
    """A table directory to another: the vocabulary (counts, specials) and the settings too."""
    from embtable.io.tables import CONFIG_FILE, VOCAB_FILE, load_table, save_table
    from embtable.text import Vocab

    weight, _, config = load_table(source)
    vocab = Vocab.load(os.path.join(source, VOCAB_FILE))
    save_table(target, weight, vocab, config)
    rows, dim = weight.shape
    kept = f"{VOCAB_FILE} and {CONFIG_FILE} kept"
    print(f"wrote {rows:,} x {dim} vectors to {target} (embtable; {kept})")
    return 0
