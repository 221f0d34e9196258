"""The load estimate behind the default thread count (fastsoftmax._cpuload):
parsing /proc/stat, the rate limit, subtracting our own CPU time, robustness
without /proc, and that it never changes an explicit setting.  Policy only:
no timing."""
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import _cpuload, _threads
from fastsoftmax._cpuload import CpuLoad, parse_proc_stat
from fastsoftmax._threads import PARALLEL_MIN_ELEMENTS, resolve

needs_openmp = pytest.mark.skipif(not fs.openmp_enabled(), reason="serial build")
BIG = PARALLEL_MIN_ELEMENTS * 2

# A real /proc/stat (Linux 6.x, 2 CPUs), cut short after the cpu lines.
STAT = b"""\
cpu  193044 0 36737 73947 357 0 120 1615 0 0
cpu0 91330 0 17371 43345 35 0 16 782 0 0
cpu1 101713 0 19366 30601 322 0 104 833 0 0
intr 956562 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
ctxt 2213412
btime 1764606000
processes 31412
procs_running 3
procs_blocked 0
softirq 1025512 2 258102 1 55401 0 0 41633 335431 0 334942
"""


def test_parse_real_stat():
    got = parse_proc_stat(STAT)
    assert got == {
        0: (91330 + 17371 + 16 + 782, 91330 + 17371 + 43345 + 35 + 16 + 782),
        1: (101713 + 19366 + 104 + 833, 101713 + 19366 + 30601 + 322 + 104 + 833),
    }


def test_parse_guest_time_is_not_counted_twice():
    # guest (field 9) and guest_nice (10) are already included in user/nice
    got = parse_proc_stat(b"cpu3 10 0 0 90 0 0 0 0 7 7\n")
    assert got == {3: (10, 100)}


def test_parse_old_kernels_and_garbage():
    text = (b"cpu  1 2 3 4\n"
            b"cpu0 1 2 3 4\n"                 # 2.4 kernels: four fields
            b"cpu1 5 0 5 90 10 0 0\n"          # 2.6.0-10: no steal
            b"cpu2 x y z\n"                    # garbage: skipped
            b"cpu3 1 2\n"                      # too short: skipped
            b"cpux 1 2 3 4\n"                  # not a CPU number
            b"intr 1 2 3\n"
            b"cpu4 1 1 1 1\n")                 # after the cpu block: ignored
    assert parse_proc_stat(text) == {0: (6, 10), 1: (10, 110)}
    assert parse_proc_stat(b"") == {}
    assert parse_proc_stat(b"\x00\xff garbage\n") == {}


class FakeMachine:
    """A /proc/stat file, a wall clock and our process's CPU time, advanced by hand."""

    def __init__(self, tmp_path, ncpus=2):
        self.path = tmp_path / "stat"
        self.t = 0.0
        self.own = 5.0
        self.ticks = {c: [0, 0] for c in range(ncpus)}    # busy, idle (1/100 s)
        self.write()

    def write(self):
        lines = [f"cpu{c} {b} 0 0 {i} 0 0 0 0 0 0" for c, (b, i) in self.ticks.items()]
        self.path.write_text("cpu  0 0 0 0\n" + "\n".join(lines) + "\nintr 0\n")

    def run(self, seconds, busy, own=0.0):
        """Advance by ``seconds`` with CPU c busy a fraction busy[c] of it (all
        processes, ours included) and our process using ``own`` CPU-seconds."""
        self.t += seconds
        self.own += own
        for c, frac in busy.items():
            b = round(100 * seconds * frac)
            self.ticks[c][0] += b
            self.ticks[c][1] += round(100 * seconds) - b
        self.write()

    def probe(self, **kw):
        # reading the fake file costs no time unless a test says so: a slow
        # read on a loaded machine would otherwise space the looks out
        kw.setdefault("cost_clock", lambda: 0.0)
        return CpuLoad(str(self.path), clock=lambda: self.t, own_cpu_time=lambda: self.own,
                       **kw)


def test_one_busy_cpu_leaves_one(tmp_path):
    m = FakeMachine(tmp_path)
    load = m.probe()
    assert load.free_cpus({0, 1}) is None          # no window yet
    m.run(0.5, {0: 0.0, 1: 1.0})
    assert load.free_cpus({0, 1}) == 1
    assert load.others({0, 1}) == pytest.approx(1.0)
    assert load.free_cpus({0}) == 1                # CPU 0 is free
    assert load.free_cpus({1}) == 1                # never below one


def test_quiet_machine_leaves_all(tmp_path):
    m = FakeMachine(tmp_path)
    load = m.probe()
    m.run(0.2, {0: 0.05, 1: 0.0})
    assert load.free_cpus({0, 1}) == 2


def test_our_own_cpu_time_is_not_load(tmp_path):
    # both CPUs fully busy, all of it ours (say a 2-thread call and its
    # spinning OpenMP threads): nothing is taken by others
    m = FakeMachine(tmp_path)
    load = m.probe()
    m.run(1.0, {0: 1.0, 1: 1.0}, own=2.0)
    assert load.others({0, 1}) == pytest.approx(0.0)
    assert load.free_cpus({0, 1}) == 2
    # ours on one CPU, another process on the other
    m.run(1.0, {0: 1.0, 1: 1.0}, own=1.0)
    assert load.free_cpus({0, 1}) == 1


def test_half_busy_threshold(tmp_path):
    m = FakeMachine(tmp_path)
    load = m.probe()
    m.run(1.0, {0: 0.0, 1: 0.4})
    assert load.free_cpus({0, 1}) == 2             # under TAKEN_FRACTION: shared
    m.run(1.0, {0: 0.0, 1: 0.6})
    assert load.free_cpus({0, 1}) == 1
    assert _cpuload.TAKEN_FRACTION == 0.5


def test_many_cpus(tmp_path):
    m = FakeMachine(tmp_path, ncpus=8)
    load = m.probe()
    m.run(1.0, {c: (1.0 if c < 3 else 0.0) for c in range(8)})
    assert load.free_cpus(set(range(8))) == 5
    assert load.free_cpus({4, 5, 6, 7}) == 4       # only the CPUs we may use count
    assert load.free_cpus({0, 1, 2, 3}) == 1
    assert load.free_cpus({0, 1, 99}) == 1         # a CPU missing from the file: no data


def test_rate_limited(tmp_path, monkeypatch):
    m = FakeMachine(tmp_path)
    reads = []
    real = _cpuload._read
    monkeypatch.setattr(_cpuload, "_read", lambda p: reads.append(p) or real(p))
    load = m.probe(refresh=0.1)
    assert len(reads) == 1                          # primed at construction
    m.run(0.05, {0: 0.0, 1: 1.0})
    for _ in range(100):
        assert load.free_cpus({0, 1}) is None       # too early: not looked again
    assert len(reads) == 1
    m.run(0.05, {0: 0.0, 1: 1.0})
    for _ in range(100):
        assert load.free_cpus({0, 1}) == 1
    assert len(reads) == 2
    # the machine goes quiet: seen at the next look, not before
    m.run(0.05, {0: 0.0, 1: 0.0})
    assert load.free_cpus({0, 1}) == 1
    m.run(0.2, {0: 0.0, 1: 0.0})
    assert load.free_cpus({0, 1}) == 2
    assert len(reads) == 3


def test_no_proc_never_raises(tmp_path):
    load = CpuLoad(str(tmp_path / "missing"))
    for _ in range(3):
        assert load.free_cpus({0, 1}) is None
        assert load.others({0, 1}) is None
    load = CpuLoad(str(tmp_path), refresh=0.0)     # a directory: unreadable too
    assert load.free_cpus({0}) is None


def test_file_disappearing_and_coming_back(tmp_path):
    m = FakeMachine(tmp_path)
    load = m.probe()
    m.run(0.5, {0: 0.0, 1: 1.0})
    assert load.free_cpus({0, 1}) == 1
    m.path.unlink()
    m.t += 0.5
    assert load.free_cpus({0, 1}) is None          # no stale answer
    m.run(0.5, {0: 0.0, 1: 1.0})
    assert load.free_cpus({0, 1}) is None          # one sample is no window
    m.run(0.5, {0: 0.0, 1: 1.0})
    assert load.free_cpus({0, 1}) == 1


def test_counters_going_backwards_are_ignored(tmp_path):
    # a CPU taken offline and back resets nothing in practice, but a window
    # with no time elapsed on a CPU must not divide by zero
    m = FakeMachine(tmp_path)
    load = m.probe()
    m.t += 0.5
    m.write()                                       # no ticks anywhere
    assert load.free_cpus({0, 1}) == 2
    m.ticks[1] = [0, 0]
    m.run(0.5, {0: 0.0})
    assert load.free_cpus({0, 1}) == 2


def test_real_proc_stat():
    if not os.path.exists("/proc/stat"):
        pytest.skip("no /proc/stat")
    load = CpuLoad(refresh=0.0)
    cpus = os.sched_getaffinity(0)
    free = load.free_cpus(cpus)
    assert free is None or 1 <= free <= len(cpus)


# ------------------------------------------------------------ the default

class FixedLoad:
    """Stands for _threads._LOAD: a fixed number of free CPUs."""

    def __init__(self, free):
        self.free = free
        self.calls = 0

    def free_cpus(self, cpus):
        self.calls += 1
        return self.free


@pytest.fixture
def one_free(monkeypatch):
    load = FixedLoad(1)
    monkeypatch.setattr(_threads, "_LOAD", load)
    monkeypatch.setattr(_threads, "_OMP_NUM_THREADS_SET", False)
    return load


def _quiet_default():
    return max(1, min(_threads.core.omp_max_threads(), _threads._available_cpus()))


@needs_openmp
def test_busy_cpus_lower_the_default(one_free):
    if _quiet_default() < 2:
        pytest.skip("one CPU: the default is one thread anyway")
    assert fs.get_num_threads() == 1
    assert resolve(None, BIG) == 1
    assert one_free.calls >= 2
    one_free.free = 64
    assert fs.get_num_threads() == _quiet_default()    # never raises the count


@needs_openmp
def test_explicit_settings_are_never_lowered(one_free):
    assert resolve(2, BIG) == 2
    assert resolve(3, BIG) == 3
    with fs.num_threads(2):
        assert fs.get_num_threads() == 2
        assert resolve(None, BIG) == 2
    fs.set_num_threads(2)
    assert fs.get_num_threads() == 2
    assert resolve(None, BIG) == 2
    fs.set_num_threads(None)
    calls = one_free.calls
    for n in (1, 2, 5):
        resolve(n, BIG)
    assert one_free.calls == calls                      # not even consulted


@needs_openmp
def test_omp_num_threads_in_the_environment_is_left_alone(monkeypatch, one_free):
    monkeypatch.setattr(_threads, "_OMP_NUM_THREADS_SET", True)
    assert fs.get_num_threads() == _quiet_default()
    assert one_free.calls == 0


def test_small_calls_do_not_look(one_free):
    # arrays under the parallel threshold never consult the estimate
    x = np.ones((8, 10), dtype=np.float32)
    fs.softmax(x)
    fs.logsumexp(x)
    fs.cross_entropy(x, np.zeros(8, dtype=np.int64))
    fs.softmax(x.T, axis=0)
    fs.sigmoid(x)
    assert resolve(None, PARALLEL_MIN_ELEMENTS - 1) == 1
    assert one_free.calls == 0


def test_no_estimate_keeps_the_default(monkeypatch):
    monkeypatch.setattr(_threads, "_LOAD", FixedLoad(None))
    monkeypatch.setattr(_threads, "_OMP_NUM_THREADS_SET", False)
    assert fs.get_num_threads() == (_quiet_default() if fs.openmp_enabled() else 1)


def test_omp_num_threads_flag_is_read_from_the_environment():
    code = "import fastsoftmax._threads as t; print(t._OMP_NUM_THREADS_SET)"
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    for value, want in ((None, "False"), ("2", "True"), ("", "False")):
        e = dict(env) if value is None else dict(env, OMP_NUM_THREADS=value)
        out = subprocess.run([sys.executable, "-c", code], env=e, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == want


def test_slow_proc_stat_is_read_less_often(tmp_path, monkeypatch):
    # where reading the file takes long (many CPUs), looks are spaced so that
    # they take at most 1/LOOK_COST_BOUND of the time
    m = FakeMachine(tmp_path)
    reads = []
    real = _cpuload._read

    def slow_read(path):
        reads.append(path)
        time.sleep(0.002)
        return real(path)

    monkeypatch.setattr(_cpuload, "_read", slow_read)
    load = m.probe(refresh=0.1, cost_clock=time.perf_counter)
    assert _cpuload.LOOK_COST_BOUND * 0.002 > 0.15
    m.run(0.15, {0: 0.0, 1: 1.0})
    assert load.free_cpus({0, 1}) is None and len(reads) == 1
    m.run(1.0, {0: 0.0, 1: 1.0})
    assert load.free_cpus({0, 1}) == 1 and len(reads) == 2
