"""The serial twin on a loaded machine: :func:`embtable.kernels._parallel.pick` launches the
parallel twin only while other processes leave at least two cores free, measured from
``/proc/stat`` less this process's own CPU time; it changes no numba setting."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from embtable.kernels import _parallel

numba = pytest.importorskip("numba")

TWINS = ("serial", "parallel")  # stand-ins: pick only chooses between the two


class FakeMachine:
    """A clock, this process's CPU time and the cores' busy time, all set by the test."""

    def __init__(self, monkeypatch):
        self.wall = 100.0
        self.own = 0.0
        self.busy = 0.0
        monkeypatch.setattr(_parallel.time, "monotonic", lambda: self.wall)
        monkeypatch.setattr(_parallel.time, "process_time", lambda: self.own)
        monkeypatch.setattr(_parallel, "_busy_seconds", lambda cores: self.busy)
        monkeypatch.setattr(_parallel, "_our_cores", lambda: frozenset({0, 1}))
        monkeypatch.setattr(_parallel, "_load_checked", -1.0)
        monkeypatch.setattr(_parallel, "_load_sample", None)
        monkeypatch.setattr(_parallel, "_free", float("inf"))

    def run(self, seconds, own_cores, other_cores):
        self.wall += seconds
        self.own += seconds * own_cores
        self.busy += seconds * (own_cores + other_cores)


@pytest.fixture
def machine(monkeypatch):
    monkeypatch.setattr(_parallel, "ADAPT_TO_LOAD", True)
    monkeypatch.setattr(_parallel.nb, "get_num_threads", lambda: 2)
    return FakeMachine(monkeypatch)


def test_free_cores_subtracts_this_process_from_the_busy_time(machine):
    assert _parallel.free_cores() == float("inf")  # one look: nothing to compare yet
    machine.run(0.5, own_cores=2.0, other_cores=0.0)  # our own 2 threads: the machine is ours
    assert _parallel.free_cores() == pytest.approx(2.0)
    machine.run(0.5, own_cores=1.0, other_cores=1.0)  # one busy process beside us
    assert _parallel.free_cores() == pytest.approx(1.0)
    machine.run(0.5, own_cores=0.0, other_cores=5.0)  # more than the cores: none free, not < 0
    assert _parallel.free_cores() == 0.0


def test_free_cores_looks_at_most_every_interval(machine):
    _parallel.free_cores()
    machine.run(0.5, own_cores=0.0, other_cores=0.0)
    assert _parallel.free_cores() == pytest.approx(2.0)
    machine.run(_parallel.LOAD_INTERVAL / 2, own_cores=0.0, other_cores=2.0)
    assert _parallel.free_cores() == pytest.approx(2.0)  # the last look still holds
    machine.run(_parallel.LOAD_INTERVAL, own_cores=0.0, other_cores=2.0)
    assert _parallel.free_cores() == pytest.approx(0.0)  # both cores busy since the last look


def test_pick_runs_the_serial_twin_while_fewer_than_two_cores_are_free(machine):
    work = _parallel.PARALLEL_MIN_WORK
    assert _parallel.pick(TWINS, work) == "parallel"  # no measurement yet
    machine.run(0.5, own_cores=1.0, other_cores=1.0)
    assert _parallel.pick(TWINS, work) == "serial"
    machine.run(0.5, own_cores=1.0, other_cores=0.4)
    assert _parallel.pick(TWINS, work) == "parallel"
    machine.run(0.5, own_cores=1.0, other_cores=1.0)
    assert _parallel.pick(TWINS, work - 1) == "serial"  # small work: serial whatever the load


def test_pick_ignores_the_load_when_told_to(machine, monkeypatch):
    _parallel.free_cores()
    machine.run(0.5, own_cores=0.0, other_cores=2.0)
    assert _parallel.pick(TWINS, _parallel.PARALLEL_MIN_WORK) == "serial"
    monkeypatch.setattr(_parallel, "ADAPT_TO_LOAD", False)
    assert _parallel.pick(TWINS, _parallel.PARALLEL_MIN_WORK) == "parallel"


def test_the_trainers_keep_their_threads_on_a_loaded_machine(machine, monkeypatch):
    """The trainer kernels ask for ``adapt=False``: their lanes are taken one at a time, so the
    caller's ``threads`` stays an explicit request however busy the machine is."""
    from embtable.kernels import fasttext_train, sgns

    _parallel.free_cores()
    machine.run(0.5, own_cores=0.0, other_cores=2.0)
    assert _parallel.pick(TWINS, _parallel.PARALLEL_MIN_WORK) == "serial"
    assert _parallel.pick(TWINS, _parallel.PARALLEL_MIN_WORK, adapt=False) == "parallel"
    for module, twins in ((sgns, "_TRAIN_SGNS_BLOCK"), (fasttext_train, "_TRAIN_FASTTEXT_BLOCK")):
        monkeypatch.setattr(module, twins, (lambda *a: "serial", lambda *a: "parallel"))
    assert sgns.train_sgns_block() == "parallel"
    assert fasttext_train.train_fasttext_block() == "parallel"


def test_pick_stays_serial_off_the_main_thread_whatever_the_load(machine):
    chosen = []
    thread = threading.Thread(target=lambda: chosen.append(_parallel.pick(TWINS, 1 << 30)))
    thread.start()
    thread.join()
    assert chosen == ["serial"]


def test_without_proc_stat_the_load_counts_as_zero(machine, monkeypatch):
    monkeypatch.setattr(_parallel, "_busy_seconds", lambda cores: None)
    machine.run(1.0, own_cores=0.0, other_cores=2.0)
    assert _parallel.free_cores() == float("inf")
    assert _parallel.pick(TWINS, _parallel.PARALLEL_MIN_WORK) == "parallel"


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="no /proc/stat")
def test_busy_seconds_reads_this_machine():
    cores = _parallel._our_cores()
    first = _parallel._busy_seconds(cores)
    sum(range(2_000_000))  # some CPU time of our own
    second = _parallel._busy_seconds(cores)
    assert first is not None and second is not None
    assert 0 < first <= second


def test_an_adaptive_launch_leaves_numba_settings_alone(monkeypatch):
    """The kernels' results and numba's thread count are the same whatever the load."""
    from embtable.kernels import load

    monkeypatch.setattr(_parallel, "PARALLEL_MIN_WORK", 0)
    weight = np.random.default_rng(0).standard_normal((500, 16)).astype(np.float32)
    ids = np.random.default_rng(1).integers(0, 500, 3000)
    before = numba.get_num_threads()
    outs = []
    for free in (0.0, 1.0, 8.0):
        monkeypatch.setattr(_parallel, "free_cores", lambda free=free: free)
        out = np.zeros((3000, 16), np.float32)
        assert load("gather").gather_rows(weight, ids, out) == -1
        outs.append(out)
        assert numba.get_num_threads() == before
    for out in outs:
        np.testing.assert_array_equal(out, weight[ids])


@pytest.mark.parametrize(("value", "expected"), [("0", "False"), ("1", "True"), (None, "True")])
def test_the_environment_variable_turns_the_adaptive_choice_off(value, expected):
    env = {key: item for key, item in os.environ.items() if key != "EMBTABLE_ADAPT_TO_LOAD"}
    if value is not None:
        env["EMBTABLE_ADAPT_TO_LOAD"] = value
    code = "from embtable.kernels import _parallel; print(_parallel.ADAPT_TO_LOAD)"
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == expected


@pytest.mark.skipif(not hasattr(os, "fork") or not os.path.exists("/proc/stat"), reason="no fork")
def test_a_forked_child_measures_its_own_load():
    """The child opens its own /proc/stat and does not compare its CPU time with its parent's."""
    _parallel.free_cores()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running the parent's cleanup
        fresh = _parallel._stat_fd == -1 and _parallel._load_sample is None
        _parallel.free_cores()
        measured = _parallel._stat_fd >= 0 and _parallel._load_sample is not None
        os.write(write, b"ok" if fresh and measured else b"stale")
        os._exit(0)
    os.close(write)
    answer = os.read(read, 16)
    os.close(read)
    os.waitpid(pid, 0)
    assert answer == b"ok"
