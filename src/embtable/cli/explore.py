"""``embtable explore``: write a self-contained HTML page to look at and query the vectors."""

from __future__ import annotations

import argparse
import sys

from embtable.cli._common import HelpFormatter, add_load_options, load_options, positive_int

__all__ = ["add_parser", "run"]

_EXAMPLE = """\
examples:
  embtable explore out/default -o explore.html     # open it in a browser (no network needed)
  embtable explore out/default -o page.html --words 10000 --precision int8
  embtable explore glove.6B.50d.txt -o glove.html --projection tsne   # needs scikit-learn
"""


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``explore`` sub-command to ``commands``.

    Example:
        >>> parser = argparse.ArgumentParser(prog="embtable")
        >>> add_parser(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["explore", "out/default", "-o", "page.html", "--words", "50"])
        >>> args.directory, args.output, args.words, args.projection, args.precision
        ('out/default', 'page.html', 50, 'pca', 'auto')
    """
    from embtable.explore import DEFAULT_WORDS, PRECISIONS, PROJECTIONS

    parser = commands.add_parser(
        "explore",
        help="write an HTML page to look at and query the vectors",
        description=(
            "Write one self-contained HTML file: a 2-D map of the most frequent words (zoom,\n"
            "pan, hover labels), a search box listing a word's nearest neighbours (cosine,\n"
            "ranked as `embtable similar` ranks them, among the words shown), an analogy box\n"
            "(king - man + woman) and, for a table directory, the training curves. The page\n"
            "loads nothing: it opens from a file:// URL with no network."
        ),
        epilog=_EXAMPLE,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "directory", metavar="TABLE", help="an embtable table directory, or a vectors file"
    )
    parser.add_argument(
        "-o", "--output", default="explore.html", metavar="PAGE", help="the HTML file to write"
    )
    parser.add_argument(
        "--words",
        type=positive_int,
        default=DEFAULT_WORDS,
        metavar="N",
        help="show the N most frequent words",
    )
    parser.add_argument(
        "--projection",
        choices=PROJECTIONS,
        default="pca",
        help="pca (NumPy); tsne needs scikit-learn, umap needs umap-learn",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="vectors in the page: float32 (exact ranking), int8 (a quarter of the size; close "
        "scores may swap), auto (float32 up to 250,000 numbers)",
    )
    parser.add_argument("--title", default=None, help="the page title (default: the TABLE name)")
    parser.add_argument("--no-training", action="store_true", help="leave out the training curves")
    parser.add_argument("--seed", type=int, default=0, help="random state of tsne and umap")
    add_load_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Write the page; print its path on standard output and a summary on standard error.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "v.txt").write_text("3 2\\na 1 0\\nb 0 1\\nc 1 1\\n")
        >>> parser = argparse.ArgumentParser(prog="embtable")
        >>> add_parser(parser.add_subparsers(dest="command"))
        >>> argv = ["explore", str(folder / "v.txt"), "-o", str(folder / "p.html")]
        >>> args = parser.parse_args(argv)
        >>> run(args)  # doctest: +ELLIPSIS
        /.../p.html
        0
    """
    import os

    from embtable.explore import write_page
    from embtable.io._atomic import check_input_file

    if not os.path.exists(args.directory):
        raise FileNotFoundError(2, "no such file or directory", args.directory)
    if not os.path.isdir(args.directory):
        check_input_file(args.directory)  # a FIFO or device would block
    info = write_page(
        args.directory,
        args.output,
        format=args.format or "auto",
        **load_options(args),
        words=args.words,
        projection=args.projection,
        precision=args.precision,
        training=not args.no_training,
        title=args.title,
        seed=args.seed,
    )
    shown = f"{info.words:,} of {info.total:,}" if info.words < info.total else f"{info.words:,}"
    curves = f", training curves from {info.training}" if info.training else ""
    print(
        f"wrote {info.path} ({info.size / 1e6:.2f} MB): {shown} words, {info.dim} dimensions, "
        f"{info.projection.upper() if info.projection == 'pca' else info.projection}, "
        f"{info.precision} vectors{curves}",
        file=sys.stderr,
    )
    print(info.path)
    return 0
