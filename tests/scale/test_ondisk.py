"""Trainable tables on disk: create, open, train, reopen, roll back, and survive kills."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import embtable
from embtable import Embedding, FrozenWeightError, OptionError, OutputError, VectorFormatError
from embtable import optim as eo
from embtable.ondisk import DiskEmbedding, create_table, open_table

ROWS, DIM = 64, 6

OPTIMIZERS = {
    "sgd": lambda params: eo.SGD(params, lr=0.1, weight_decay=0.01),
    "adagrad": lambda params: eo.Adagrad(params, lr=0.1, initial_accumulator_value=0.5),
    "rowwise-adagrad": lambda params: eo.RowwiseAdagrad(
        params, lr=0.1, initial_accumulator_value=0.5
    ),
    "adam": lambda params: eo.Adam(params, lr=0.01),
    "adamw-amsgrad": lambda params: eo.AdamW(params, lr=0.01, amsgrad=True),
    "sparse-adam": lambda params: eo.SparseAdam(params, lr=0.01),
}


def _batches(count, seed=1):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        ids = rng.zipf(1.5, 20) % ROWS
        yield ids, rng.standard_normal((20, DIM)).astype(np.float32)


def _train(emb, opt, batches):
    for ids, grad in batches:
        emb(ids)
        emb.backward(ids, grad)
        opt.step()
        opt.zero_grad()


def _reference(name, steps, dtype=np.float32, seed=1):
    """The same training in memory: the trajectory the table on disk must follow."""
    emb = Embedding(ROWS, DIM, sparse=True, rng=0, dtype=dtype)
    opt = OPTIMIZERS[name](emb.parameters())
    _train(emb, opt, _batches(steps, seed))
    return emb, opt


def _state_arrays(opt, weight):
    return {k: v for k, v in opt.state[weight].items() if isinstance(v, np.ndarray)}


def test_create_writes_safetensors_equal_to_embedding_init(tmp_path):
    from safetensors.numpy import load_file

    emb = create_table(tmp_path / "t", ROWS, DIM, rng=0, padding_idx=3)
    expected = Embedding(ROWS, DIM, padding_idx=3, rng=0).weight.data
    assert_array_equal(emb.weight.data, expected)
    assert repr(emb) == "DiskEmbedding('t', 64, 6, padding_idx=3, sparse=True)"
    emb.close()
    assert_array_equal(load_file(str(tmp_path / "t" / "weights.safetensors"))["weight"], expected)
    manifest = json.loads((tmp_path / "t" / "manifest.json").read_text())
    assert (manifest["checkpoint"], manifest["padding_idx"], manifest["dtype"]) == (1, 3, "float32")


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_dtypes_and_array_init(tmp_path, rng, dtype):
    init = rng.standard_normal((ROWS, DIM)).astype(dtype)
    with create_table(tmp_path / "t", ROWS, DIM, dtype=dtype, init=init) as emb:
        assert emb.weight.dtype == dtype
        assert_array_equal(emb.weight.data, init)
    with create_table(tmp_path / "z", 10**6, 4, init="zeros") as big:  # a sparse file
        assert big(np.array([999_999])).tolist() == [[0.0] * 4]
    assert os.stat(tmp_path / "z" / "weights.safetensors").st_blocks * 512 < 10**6


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_training_on_disk_equals_training_in_memory_across_reopen(tmp_path, name):
    emb = create_table(tmp_path / "t", ROWS, DIM, rng=0)
    opt = OPTIMIZERS[name](emb.parameters())
    emb.attach(opt)
    batches = list(_batches(8))
    _train(emb, opt, batches[:4])
    emb.close()  # checkpoints
    emb = open_table(tmp_path / "t")
    opt = OPTIMIZERS[name](emb.parameters())
    emb.attach(opt)
    _train(emb, opt, batches[4:])
    reference, reference_opt = _reference(name, 8)
    assert_array_equal(emb.weight.data, reference.weight.data)
    expected_state = _state_arrays(reference_opt, reference.weight)
    got_state = _state_arrays(opt, emb.weight)
    assert sorted(got_state) == sorted(expected_state)
    for key, value in expected_state.items():
        assert_array_equal(got_state[key], value)
        assert np.shares_memory(got_state[key], emb._maps[key])  # the state is the mapped file
    assert opt.state[emb.weight].get("step") == reference_opt.state[reference.weight].get("step")
    emb.close()


def test_float16_table_trains_like_memory(tmp_path):
    emb = create_table(tmp_path / "t", ROWS, DIM, rng=0, dtype=np.float16)
    opt = OPTIMIZERS["adagrad"](emb.parameters())
    emb.attach(opt)
    _train(emb, opt, _batches(5))
    reference, _ = _reference("adagrad", 5, dtype=np.float16)
    assert_array_equal(emb.weight.data, reference.weight.data)
    emb.close()


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_state_layout_matches_the_optimizers_own(name):
    """Guards the table of state names in ondisk.py against drift in embtable.optim."""
    from embtable.ondisk import _state_layout, _state_shape

    reference, opt = _reference(name, 2)
    group = opt.param_groups[0]
    layout, stepped = _state_layout(opt, group)
    state = opt.state[reference.weight]
    assert sorted(layout) == sorted(_state_arrays(opt, reference.weight))
    assert ("step" in state) == stepped
    for key in layout:  # the files have the state's own shape: (V, D), or (V,) per row
        assert _state_shape(type(opt).__name__, (ROWS, DIM)) == state[key].shape


@pytest.mark.parametrize("name", ["adam", "rowwise-adagrad"])  # (V, D) and (V,) state
def test_uncheckpointed_steps_roll_back_on_open(tmp_path, name):
    emb = create_table(tmp_path / "t", ROWS, DIM, rng=0)
    opt = OPTIMIZERS[name](emb.parameters())
    emb.attach(opt)
    _train(emb, opt, _batches(3))
    assert emb.checkpoint(metadata={"epoch": 1}) == 1
    weight = emb.weight.data.copy()
    state = {k: v.copy() for k, v in _state_arrays(opt, emb.weight).items()}
    _train(emb, opt, _batches(4, seed=9))
    emb.flush()  # the new rows are on disk, but not a checkpoint
    assert not np.array_equal(emb.weight.data, weight)
    emb.close(checkpoint=False)
    again = open_table(tmp_path / "t")
    opt = OPTIMIZERS[name](again.parameters())
    again.attach(opt)
    assert_array_equal(again.weight.data, weight)
    for key, value in state.items():
        assert_array_equal(opt.state[again.weight][key], value)
    assert opt.state[again.weight]["step"] == 3
    assert (again.checkpoints, again.metadata) == (1, {"epoch": 1})
    again.close()


def test_max_norm_renorm_is_journaled(tmp_path):
    emb = create_table(tmp_path / "t", ROWS, DIM, rng=0, max_norm=0.5)
    before = emb.weight.data.copy()
    emb(np.array([1, 2, 3]))
    assert not np.array_equal(emb.weight.data, before)
    emb.close(checkpoint=False)
    with open_table(tmp_path / "t", mode="r") as again:
        assert_array_equal(again.weight.data, before)


def test_read_only_mode_applies_a_pending_log_in_memory_only(tmp_path):
    emb = create_table(tmp_path / "t", ROWS, DIM, rng=0)
    opt = eo.SGD(emb.parameters(), lr=1.0)
    emb.attach(opt)
    checkpointed = emb.weight.data.copy()
    _train(emb, opt, _batches(2))
    emb.flush()
    trained = emb.weight.data.copy()
    emb.close(checkpoint=False)
    with open_table(tmp_path / "t", mode="r") as reader:
        assert_array_equal(reader.weight.data, checkpointed)
        assert reader.weight.requires_grad is False
        with pytest.raises(FrozenWeightError, match="does not require gradients"):
            reader.backward([1], np.ones((1, DIM), np.float32))
        with pytest.raises(FrozenWeightError, match="open read-only"):
            reader.checkpoint()
    from safetensors.numpy import load_file  # the file itself is untouched

    assert_array_equal(load_file(str(tmp_path / "t" / "weights.safetensors"))["weight"], trained)


def test_one_writer_at_a_time(tmp_path):
    emb = create_table(tmp_path / "t", 4, 2)
    with pytest.raises(OutputError, match="is open read-write in another process"):
        open_table(tmp_path / "t")
    emb.close()
    open_table(tmp_path / "t").close()


def test_errors(tmp_path):
    create_table(tmp_path / "t", 4, 2).close()
    with pytest.raises(OutputError, match="it exists; open it with open_table"):
        create_table(tmp_path / "t", 4, 2)
    with pytest.raises(OptionError, match=re.escape("mode must be 'r+' (read-write) or 'r'")):
        open_table(tmp_path / "t", mode="w")  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="init must be 'normal', 'zeros' or an array"):
        create_table(tmp_path / "u", 4, 2, init="ones")  # type: ignore[arg-type]
    with pytest.raises(
        embtable.ShapeError, match=re.escape("init must have the table's shape (4, 2)")
    ):
        create_table(tmp_path / "u", 4, 2, init=np.zeros((3, 2)))
    with pytest.raises(embtable.WeightDTypeError, match="float16, float32 or float64, got int32"):
        create_table(tmp_path / "u", 4, 2, dtype=np.int32)
    assert not (tmp_path / "u").exists()
    with open_table(tmp_path / "t") as emb:
        with pytest.raises(OptionError, match="momentum buffer over every row"):
            emb.attach(eo.SGD(emb.parameters(), lr=0.1, momentum=0.9))
        with pytest.raises(OptionError, match="does not hold this table's weight"):
            emb.attach(eo.SGD(Embedding(4, 2).parameters(), lr=0.1))
        emb.attach(eo.Adagrad(emb.parameters()))
    with open_table(tmp_path / "t") as emb:
        with pytest.raises(
            OptionError, match=re.escape("the table's optimizer state is Adagrad ['sum']")
        ):
            emb.attach(eo.SparseAdam(emb.parameters()))
    (tmp_path / "t" / "manifest.json").write_text("{")
    with pytest.raises(VectorFormatError, match="not a valid JSON manifest"):
        open_table(tmp_path / "t")
    with pytest.raises(FileNotFoundError):
        open_table(tmp_path / "missing")


# -- kills ---------------------------------------------------------------------------------------

_CHILD = """
import os, sys
import numpy as np
sys.path.insert(0, {src!r})
sys.path.insert(0, {tests!r})
import embtable.ondisk as ondisk
import embtable.io._atomic as atomic
from test_ondisk import OPTIMIZERS, _batches, _train

point = {point!r}
emb = ondisk.open_table({path!r})
opt = OPTIMIZERS["adagrad"](emb.parameters())
emb.attach(opt)
batches = list(_batches(8))
_train(emb, opt, batches[:3])
emb.checkpoint()                      # checkpoint 1: three steps
_train(emb, opt, batches[3:5])
if point == "between-checkpoints":
    emb.flush()
    os._exit(9)
if point == "torn-record":
    real_write = os.write
    def torn(fd, data):
        real_write(fd, bytes(data)[: len(data) // 2])
        os._exit(9)
    ondisk.os.write = torn
    _train(emb, opt, [batches[5]])
if point == "after-sync":
    real_fsync = ondisk._fsync_path
    def die(path):
        real_fsync(path)
        os._exit(9)
    ondisk._fsync_path = die
if point == "after-manifest":
    real_write_bytes = atomic.atomic_write_bytes
    def die_after(path, data):
        real_write_bytes(path, data)
        if str(path).endswith("manifest.json"):
            os._exit(9)
    atomic.atomic_write_bytes = die_after
emb.checkpoint()                      # checkpoint 2: five steps
os._exit(0)
"""


def _run_child(tmp_path, point):
    script = _CHILD.format(
        src=str(Path(embtable.__file__).parents[1]),
        tests=str(Path(__file__).parent),
        point=point,
        path=str(tmp_path / "t"),
    )
    return subprocess.run([sys.executable, "-c", script], timeout=120).returncode


@pytest.mark.parametrize(
    ("point", "steps", "code"),
    [
        ("between-checkpoints", 3, 9),
        ("torn-record", 3, 9),
        ("after-sync", 3, 9),
        ("after-manifest", 5, 9),
    ],
)
def test_a_kill_leaves_the_last_checkpoint(tmp_path, point, steps, code):
    create_table(tmp_path / "t", ROWS, DIM, rng=0).close()
    assert _run_child(tmp_path, point) == code
    reference, reference_opt = _reference("adagrad", steps)
    with open_table(tmp_path / "t") as emb:
        opt = OPTIMIZERS["adagrad"](emb.parameters())
        emb.attach(opt)
        assert_array_equal(emb.weight.data, reference.weight.data)
        assert_array_equal(
            opt.state[emb.weight]["sum"], reference_opt.state[reference.weight]["sum"]
        )
        assert opt.state[emb.weight]["step"] == steps


def test_sigkill_at_a_random_moment_leaves_a_checkpoint(tmp_path):
    create_table(tmp_path / "t", ROWS, DIM, rng=0).close()
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(Path(embtable.__file__).parents[1])!r})
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import embtable.ondisk as ondisk
        from test_ondisk import OPTIMIZERS, _batches, _train
        emb = ondisk.open_table({str(tmp_path / "t")!r})
        opt = OPTIMIZERS["adagrad"](emb.parameters())
        emb.attach(opt)
        print("ready", flush=True)
        for ids, grad in _batches(100000):
            _train(emb, opt, [(ids, grad)])
            if opt.state[emb.weight]["step"] % 7 == 0:
                emb.checkpoint()
                print("checkpoint", flush=True)
        """
    )
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE) as child:
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        assert child.stdout.readline() == b"checkpoint\n"
        time.sleep(np.random.default_rng().uniform(0.0, 0.5))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    with open_table(tmp_path / "t") as emb:
        opt = OPTIMIZERS["adagrad"](emb.parameters())
        emb.attach(opt)
        steps = opt.state[emb.weight]["step"]
        # one checkpoint from closing the new table, then one per 7 steps
        assert steps >= 7 and steps % 7 == 0 and emb.checkpoints == steps // 7 + 1
        reference, reference_opt = _reference("adagrad", steps)
        assert_array_equal(emb.weight.data, reference.weight.data)
        assert_array_equal(
            opt.state[emb.weight]["sum"], reference_opt.state[reference.weight]["sum"]
        )


def test_disk_embedding_is_an_embedding(tmp_path):
    with create_table(tmp_path / "t", 4, 2) as emb:
        assert isinstance(emb, Embedding) and isinstance(emb, DiskEmbedding)


@pytest.mark.parametrize("name", ["adagrad", "rowwise-adagrad", "sparse-adam"])
def test_make_optimizer_allocates_no_state_in_memory(tmp_path, name):
    emb = create_table(tmp_path / "t", ROWS, DIM, rng=0)
    kind = {
        "adagrad": eo.Adagrad,
        "rowwise-adagrad": eo.RowwiseAdagrad,
        "sparse-adam": eo.SparseAdam,
    }[name]
    options = {
        "adagrad": {"lr": 0.1, "initial_accumulator_value": 0.5},
        "rowwise-adagrad": {"lr": 0.1, "initial_accumulator_value": 0.5},
        "sparse-adam": {"lr": 0.01},
    }
    opt = emb.make_optimizer(kind, **options[name])
    assert [p for g in opt.param_groups for p in g["params"]] == [emb.weight]
    assert list(opt.state) == [emb.weight]
    for key, value in _state_arrays(opt, emb.weight).items():
        assert np.shares_memory(value, emb._maps[key])
    _train(emb, opt, _batches(4))
    reference, _ = _reference(name, 4)
    assert_array_equal(emb.weight.data, reference.weight.data)
    emb.close()


def test_prefetch_asks_for_the_pages_of_the_rows_and_changes_nothing(tmp_path):
    rows, dim = 4096, 128  # 512-byte rows: 8 to a page, one in 8 straddles two
    emb = create_table(tmp_path / "t", rows, dim, rng=0)
    opt = emb.make_optimizer(eo.RowwiseAdagrad, lr=0.1)  # a (V,) state: 1024 rows a page
    offset = emb._maps["weight"].offset
    ids = np.array([[7, 3000], [7, 4095]])
    expected = set()
    for row in (7, 3000, 4095):
        expected |= {(offset + row * 512) // 4096, (offset + row * 512 + 511) // 4096}
    state_offset = emb._maps["sum"].offset
    state_pages = {(state_offset + row * 4) // 4096 for row in (7, 3000, 4095)}
    state_pages |= {(state_offset + row * 4 + 3) // 4096 for row in (7, 3000, 4095)}
    before = emb.weight.data.copy()
    assert emb.prefetch(ids) == len(expected) + len(state_pages)
    descriptors = len(os.listdir("/proc/self/fd"))  # with the two opened for prefetch
    assert emb.prefetch([]) == 0
    assert_array_equal(emb(ids), before[ids])
    with pytest.raises(IndexError, match="4096"):
        emb.prefetch([4096])
    reference = Embedding(rows, dim, sparse=True, rng=0)
    reference_opt = eo.RowwiseAdagrad(reference.parameters(), lr=0.1)
    for table, optimizer in ((emb, opt), (reference, reference_opt)):
        table.backward(ids, np.ones((2, 2, dim), np.float32))
        optimizer.step()
    assert_array_equal(emb.weight.data, reference.weight.data)
    emb.close()  # closes the lock, the undo log and the two prefetch descriptors
    assert len(os.listdir("/proc/self/fd")) == descriptors - 4
