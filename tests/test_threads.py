"""Thread count handling, bitwise reproducibility across thread counts, GIL."""
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax._threads import PARALLEL_MIN_ELEMENTS
from _helpers import FUNC_NAMES, FUNCS, assert_same, make_base

THREAD_COUNTS = (1, 2, 3, 8)
# (3000, 100): many short rows, several row chunks; (7, 50000): a few long
# rows, one chunk per row; both above the serial threshold.
PARALLEL_SHAPES = [(3000, 100), (7, 50000)]


def test_parallel_shapes_are_above_the_serial_threshold():
    for shape in PARALLEL_SHAPES:
        assert np.prod(shape) > PARALLEL_MIN_ELEMENTS


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", PARALLEL_SHAPES, ids=str)
@pytest.mark.parametrize("name", FUNC_NAMES)
def test_bitwise_identical_for_any_thread_count(name, shape, dtype):
    x = make_base(shape, dtype, seed=31, scale=20.0)
    # a few special values in some rows
    x[1, 3] = np.inf
    x[2, 5] = np.nan
    x[4, :] = -np.inf
    results = [FUNCS[name](x, num_threads=n) for n in THREAD_COUNTS]
    for r in results[1:]:
        assert_same(r, results[0])
    # and through the global setting / the default
    fs.set_num_threads(2)
    assert_same(FUNCS[name](x), results[0])
    fs.set_num_threads(None)
    assert_same(FUNCS[name](x), results[0])


@pytest.mark.parametrize("name", FUNC_NAMES)
def test_bitwise_identical_along_axis_0(name):
    x = make_base((500, 300), np.float64, seed=32, scale=5.0)
    results = [FUNCS[name](x, axis=0, num_threads=n) for n in THREAD_COUNTS]
    for r in results[1:]:
        assert_same(r, results[0])


@pytest.mark.parametrize("name", FUNC_NAMES)
def test_parallel_result_is_right(name):
    # the threaded result is the serial per-row result, row by row
    x = make_base((3000, 100), np.float64, seed=33, scale=3.0)
    r = FUNCS[name](x, num_threads=3)
    for i in (0, 1, 163, 164, 1500, 2999):        # chunk boundaries at multiples of 163
        assert_same(r[i], FUNCS[name](x[i]))


@pytest.mark.parametrize("name", FUNC_NAMES)
@pytest.mark.parametrize("bad", [0, -1, -8])
def test_num_threads_nonpositive_raises_value_error(name, bad):
    x = np.ones((3, 4))
    with pytest.raises(ValueError, match="num_threads must be a positive integer or None"):
        FUNCS[name](x, num_threads=bad)
    big = np.ones((3000, 100))
    with pytest.raises(ValueError, match="num_threads must be a positive integer"):
        FUNCS[name](big, num_threads=bad)


@pytest.mark.parametrize("name", FUNC_NAMES)
@pytest.mark.parametrize("bad", [1.5, 2.0, "2", True, [2]], ids=repr)
def test_num_threads_non_integer_raises_type_error(name, bad):
    with pytest.raises(TypeError, match="num_threads must be a positive integer or None"):
        FUNCS[name](np.ones((3, 4)), num_threads=bad)


@pytest.mark.parametrize("name", FUNC_NAMES)
def test_num_threads_accepts_numpy_integers(name):
    x = make_base((3000, 100), np.float64, seed=34)
    assert_same(FUNCS[name](x, num_threads=np.int64(2)), FUNCS[name](x, num_threads=1))


@pytest.mark.parametrize("name", FUNC_NAMES)
@pytest.mark.parametrize("bad,exc", [(0, ValueError), (-1, ValueError), (1.5, TypeError)])
def test_num_threads_validated_for_empty_input(name, bad, exc):
    # regression: validation used to be skipped when there was no work
    # (softmax(np.empty((0, 3)), num_threads=0) returned silently)
    for shape in [(0, 3), (0,), (3, 0)]:
        with pytest.raises(exc, match="num_threads must be a positive integer"):
            FUNCS[name](np.empty(shape), num_threads=bad)


# ------------------------------------------------------------ global setting

@pytest.fixture
def restore_threads():
    yield
    fs.set_num_threads(None)


def test_set_get_round_trip(restore_threads):
    default = fs.get_num_threads()
    assert isinstance(default, int) and default >= 1
    for n in (1, 3, 7):
        fs.set_num_threads(n)
        assert fs.get_num_threads() == (n if fs.openmp_enabled() else 1)
    fs.set_num_threads(np.int32(2))
    assert fs.get_num_threads() == (2 if fs.openmp_enabled() else 1)
    assert type(fs.get_num_threads()) is int
    fs.set_num_threads(None)
    assert fs.get_num_threads() == default


def test_set_num_threads_errors(restore_threads):
    fs.set_num_threads(2)
    for bad in (0, -3):
        with pytest.raises(ValueError, match="n must be a positive integer or None"):
            fs.set_num_threads(bad)
    for bad in (1.5, "4", True, 2.0):
        with pytest.raises(TypeError, match="n must be a positive integer or None"):
            fs.set_num_threads(bad)
    # a failed call leaves the setting alone
    assert fs.get_num_threads() == (2 if fs.openmp_enabled() else 1)


def test_default_is_capped_by_available_cpus():
    n = fs.get_num_threads()
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    assert 1 <= n <= cpus


def test_openmp_enabled_is_bool():
    assert isinstance(fs.openmp_enabled(), bool)
    if not fs.openmp_enabled():
        assert fs.get_num_threads() == 1


def _run_python(code, **env):
    full_env = dict(os.environ, **env)
    proc = subprocess.run([sys.executable, "-c", code], env=full_env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.mark.skipif(not fs.openmp_enabled(), reason="serial build")
def test_omp_num_threads_is_the_default():
    code = "import fastsoftmax as f; print(f.get_num_threads())"
    assert _run_python(code, OMP_NUM_THREADS="1") == "1"
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        cpus = os.cpu_count() or 1
    if cpus >= 2:
        assert _run_python(code, OMP_NUM_THREADS="2") == "2"
    # capped by the CPUs the process may use
    assert int(_run_python(code, OMP_NUM_THREADS="512")) <= cpus


def _affinity_change_code():
    return r"""
import os
import fastsoftmax as fs
before = fs.get_num_threads()
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
print(before, fs.get_num_threads())
"""


@pytest.mark.skipif(not fs.openmp_enabled() or not hasattr(os, "sched_setaffinity")
                    or len(os.sched_getaffinity(0)) < 2, reason="needs OpenMP and 2 CPUs")
def test_default_follows_affinity_changed_after_import():
    before, after = _run_python(_affinity_change_code(), OMP_NUM_THREADS="2").split()
    if before != "2":
        pytest.skip(f"default is {before} threads here (CPU quota?)")
    assert after == "1"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_forked_child_runs_serially_and_correctly():
    """GNU libgomp is not fork-safe: after fork the child must not use the
    OpenMP pool (it could hang), and must still compute correctly."""
    code = r"""
import os, numpy as np, fastsoftmax as fs
x = np.random.default_rng(0).standard_normal((3000, 100))
ref = fs.softmax(x, num_threads=2)          # parent starts the thread pool
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    ok = fs.get_num_threads() == 1 and np.array_equal(fs.softmax(x, num_threads=2), ref)
    os.write(w, b"ok" if ok else b"bad")
    os._exit(0)
os.close(w)
print(os.read(r, 10).decode())
os.waitpid(pid, 0)
"""
    assert _run_python(code) == "ok"


# ------------------------------------------------------------ GIL

@pytest.mark.parametrize("name", FUNC_NAMES)
def test_concurrent_python_threads(name):
    """The kernels release the GIL; concurrent calls from Python threads
    (each possibly using OpenMP threads) give the serial results."""
    xs = [make_base((2000, 257), np.float32, seed=40 + i, scale=10.0) for i in range(2)]
    expected = [FUNCS[name](x, num_threads=1) for x in xs]
    results = [[None] * 4 for _ in xs]
    errors = []
    barrier = threading.Barrier(len(xs))

    def work(i):
        try:
            barrier.wait()
            for k in range(4):
                results[i][k] = FUNCS[name](xs[i], num_threads=1 + k % 2)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    for i in range(len(xs)):
        for r in results[i]:
            assert_same(r, expected[i])


def _other_thread_progress(fn, calls=5):
    """How many of ``calls`` calls of fn let another Python thread run.

    With a switch interval far longer than one call, CPython does not take
    the GIL away from a running thread, so the ticker thread (which gives the
    GIL back for 0.1 ms after every tick) can only run while fn has released
    the GIL itself.  Counts progress, never measures time."""
    ticks = []
    stop = threading.Event()
    started = threading.Event()

    def ticker():
        started.set()
        while not stop.is_set():
            ticks.append(1)
            time.sleep(1e-4)       # releases the GIL

    old = sys.getswitchinterval()
    t = threading.Thread(target=ticker)
    sys.setswitchinterval(5.0)
    try:
        t.start()
        started.wait()
        progressed = 0
        for _ in range(calls):
            before = len(ticks)
            fn()
            progressed += len(ticks) > before
    finally:
        stop.set()
        sys.setswitchinterval(old)
        t.join()
    return progressed


@pytest.mark.skipif(not getattr(sys, "_is_gil_enabled", lambda: True)(),
                    reason="free-threaded build: no GIL")
@pytest.mark.parametrize("name", FUNC_NAMES)
def test_gil_is_released_during_a_call(name):
    x = make_base((8, 400_000), np.float64, seed=41)   # C-contiguous: no NumPy copy
    # control: pure Python work holding the GIL lets the other thread run never
    assert _other_thread_progress(lambda: sum(range(200_000)), calls=3) == 0
    # ten kernel calls per count: one logsumexp call lasts ~2 ms, too short a
    # window for the ticker to be scheduled in on a loaded machine
    assert _other_thread_progress(
        lambda: [FUNCS[name](x, num_threads=1) for _ in range(10)]) >= 3
