"""Serial twins compiled with Python's vs NumPy's error model: 1 thread, thread CPU time.

Run ``python bench/serial_error_model.py``: compiles the serial twin of a few kernels both ways
(``kernels/_parallel.twins`` uses NumPy's) and times them in interleaved rounds on a 50k x 64
float32 table, 40k unique rows (optimizer steps) and 4096 bags of 10-30 ids (mean pooling).
"""

import sys
import time
from pathlib import Path

import numba as nb
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import cpu_model

from embtable.kernels import bag
from embtable.kernels import optim as k

print(f"CPU: {cpu_model()}")
nb.set_num_threads(1)
rng = np.random.default_rng(0)
V, D = 50_000, 64
w = rng.standard_normal((V, D)).astype(np.float32)
rows = np.unique(rng.integers(0, V, 82_000))
n = rows.size
g = rng.standard_normal((n, D)).astype(np.float32)
f32 = np.float32
cases = {
    "adagrad_rows_": (
        k._adagrad_rows_,
        lambda: (w.copy(), rows, g, np.abs(w), f32(0.01), f32(1e-10), 0.0, False),
    ),
    "adam_rows_ (SparseAdam)": (
        k._adam_rows_,
        lambda: (
            w.copy(),
            rows,
            g,
            np.zeros_like(w),
            np.zeros_like(w),
            np.zeros((0, D), f32),
            f32(0.1),
            f32(0.999),
            f32(0.001),
            f32(1e-8),
            f32(0),
            f32(1),
            f32(0.001),
            f32(1),
            False,
            False,
            False,
            True,
        ),
    ),
}
sizes = rng.integers(10, 31, 4096)
starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
ids = rng.integers(0, V, int(starts[-1]))


def bag_args():
    return (
        w,
        ids,
        starts,
        np.empty(0, f32),
        False,
        1,
        -1,
        np.empty((4096, D), f32),
        np.empty(4096, np.int64),
        np.empty((0, 0), np.int64),
    )


cases["bag_reduce mean (generic width)"] = (lambda p: bag._bag_reduce(p, 0), bag_args)
for name, (factory, make) in cases.items():
    old = nb.njit(nogil=True)(factory(False))
    new = nb.njit(nogil=True, error_model="numpy")(factory(0))
    for f in (old, new):
        f(*make(), 1, np.zeros(1, np.int64))
    times = {"python": [], "numpy": []}
    for r in range(10):
        for label, f in (
            (("python", old), ("numpy", new)) if r % 2 == 0 else (("numpy", new), ("python", old))
        ):
            a = make()
            t = time.thread_time()
            f(*a, 1, np.zeros(1, np.int64))
            times[label].append(time.thread_time() - t)
    spans = {
        label: f"{min(values) * 1e3:.2f}-{np.percentile(values, 50) * 1e3:.2f} ms"
        for label, values in times.items()
    }
    print(f"{name}: Python's error model {spans['python']}, NumPy's {spans['numpy']} (min-median)")
