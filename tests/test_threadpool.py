"""Thread counts like the rest of the stack: OMP_NUM_THREADS, threadpoolctl,
set_num_threads, the thread-local num_threads() context manager, and the
thread-pool share inside pools."""
import asyncio
import concurrent.futures as cf
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import _core, _threads
from fastsoftmax._threads import PARALLEL_MIN_ELEMENTS, resolve

needs_openmp = pytest.mark.skipif(not fs.openmp_enabled(), reason="serial build")
BIG = PARALLEL_MIN_ELEMENTS * 2


def _cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _default():
    """The default of the calling thread were it outside any pool, with no
    settings.  (omp_get_max_threads() is per thread: a module that calls
    omp_set_num_threads at import, as torch.set_num_threads does when torch's
    libgomp is the one loaded, changes it for the main thread only.)"""
    return max(1, min(_core.omp_max_threads(), _cpus())) if fs.openmp_enabled() else 1


def _fresh_default():
    """The default in a new plain thread."""
    return _in_thread(_default)


@pytest.fixture
def threadpoolctl():
    return pytest.importorskip("threadpoolctl")


def _in_thread(fn):
    """fn() run in a new plain thread; its result or exception."""
    out = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as exc:  # pragma: no cover - re-raised below
            out["error"] = exc

    t = threading.Thread(target=run)
    t.start()
    t.join(60)
    if "error" in out:
        raise out["error"]
    return out["value"]


def _run_python(code, **env):
    full_env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    full_env.update(env)
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full_env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


# ------------------------------------------------------------ threadpoolctl

def test_threadpool_info_lists_our_openmp_runtime(threadpoolctl):
    # in a fresh process: which OpenMP libraries appear when fastsoftmax is imported
    out = _run_python("""
        import json, numpy, threadpoolctl
        before = {i["filepath"] for i in threadpoolctl.threadpool_info()
                  if i["user_api"] == "openmp"}
        import fastsoftmax
        info = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "openmp"]
        print(json.dumps({"openmp": fastsoftmax.openmp_enabled(),
                          "threads": fastsoftmax.get_num_threads(),
                          "new": [i for i in info if i["filepath"] not in before],
                          "all": info}))
    """)
    import json
    res = json.loads(out)
    if not res["openmp"]:
        pytest.skip("serial build: no OpenMP runtime")
    libs = res["new"] or res["all"]          # numpy could have loaded the same one
    assert libs, "threadpoolctl does not see the kernels' OpenMP runtime"
    assert any(i["internal_api"] == "openmp" for i in libs)
    # the pool size it reports is what the kernels default to (before the CPU cap)
    assert res["threads"] <= max(i["num_threads"] for i in libs)


@needs_openmp
def test_threadpool_limits_openmp_is_followed(threadpoolctl):
    before = fs.get_num_threads()
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert fs.get_num_threads() == 1
        assert resolve(None, BIG) == 1
    assert fs.get_num_threads() == before
    with threadpoolctl.threadpool_limits(limits=1):          # all APIs
        assert fs.get_num_threads() == 1
    assert fs.get_num_threads() == before
    if before >= 2:
        with threadpoolctl.threadpool_limits(1, user_api="openmp"):
            with threadpoolctl.threadpool_limits(2, user_api="openmp"):
                assert fs.get_num_threads() == 2
            assert fs.get_num_threads() == 1
    # an explicit setting wins over the OpenMP limit
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        with fs.num_threads(2):
            assert fs.get_num_threads() == 2


@needs_openmp
def test_threadpool_limits_is_per_thread_with_libgomp(threadpoolctl):
    """omp_set_num_threads (what threadpoolctl calls) sets the calling
    thread's ICV only: a limit set in one thread does not apply to calls made
    from other threads.  (set_num_threads does.)  Documented in get_num_threads."""
    fresh = _fresh_default()
    if fresh < 2:
        pytest.skip("one CPU: cannot tell a limit of 1 from the default")
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert fs.get_num_threads() == 1
        assert _in_thread(fs.get_num_threads) == fresh
        fs.set_num_threads(1)
        assert _in_thread(fs.get_num_threads) == 1


def _count_threads_code(limit):
    # libgomp starts its pool on the first parallel region with > 1 thread
    # and keeps it: the number of OS threads of the process tells whether a
    # call ran multithreaded.  The limited calls come first.  (The estimate of
    # other processes' load is off: the unlimited call must use the default
    # of a quiet machine.)
    return f"""
        import os, numpy as np, fastsoftmax as fs
        fs._threads._LOAD = None
        def nthreads():
            return len(os.listdir("/proc/self/task"))
        x = np.random.default_rng(0).standard_normal((4000, 100))
        y = np.zeros(4000, dtype=np.int64)
        def work():
            fs.softmax(x); fs.logsumexp(x); fs.cross_entropy_and_grad(x, y)
        start = nthreads()
        {limit}
        limited = nthreads()
        work()
        print(start, limited, nthreads(), fs.get_num_threads())
    """


@needs_openmp
@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux /proc")
@pytest.mark.parametrize("how", ["threadpoolctl", "set_num_threads", "num_threads",
                                 "omp_num_threads"])
def test_limits_really_limit_the_kernels(how):
    limit = {
        "threadpoolctl": """
        import threadpoolctl
        with threadpoolctl.threadpool_limits(1, user_api="openmp"):
            work()
        """,
        "set_num_threads": """
        fs.set_num_threads(1)
        work()
        fs.set_num_threads(None)
        """,
        "num_threads": """
        with fs.num_threads(1):
            work()
        """,
        "omp_num_threads": "work()",
    }[how]
    if how == "threadpoolctl":
        pytest.importorskip("threadpoolctl")
    env = {"OMP_NUM_THREADS": "1"} if how == "omp_num_threads" else {}
    code = _count_threads_code(textwrap.indent(textwrap.dedent(limit).strip(), " " * 8)
                               .lstrip())
    start, limited, after, default = map(int, _run_python(code, **env).split())
    assert limited == start, "a limited call started OpenMP threads"
    if how == "omp_num_threads":
        assert default == 1 and after == start
    elif default >= 2:
        assert after > start, "the unlimited call did not run multithreaded"


@needs_openmp
def test_omp_num_threads_seen_by_threadpoolctl_too(threadpoolctl):
    out = _run_python("""
        import fastsoftmax, threadpoolctl
        n = [i["num_threads"] for i in threadpoolctl.threadpool_info()
             if i["user_api"] == "openmp"]
        print(fastsoftmax.get_num_threads(), min(n))
    """, OMP_NUM_THREADS="1")
    assert out.split() == ["1", "1"]


# ------------------------------------------------------------ num_threads()

@needs_openmp
def test_context_manager_restores_and_nests():
    default = fs.get_num_threads()
    with fs.num_threads(3) as cm:
        assert isinstance(cm, fs.num_threads) and cm.n == 3
        assert fs.get_num_threads() == 3
        assert resolve(None, BIG) == 3
        assert resolve(None, 10) == 1          # small arrays stay serial
        assert resolve(2, BIG) == 2            # an explicit argument wins
        with fs.num_threads(1):
            assert fs.get_num_threads() == 1
            with fs.num_threads(None):         # back to the default inside
                assert fs.get_num_threads() == default
            assert fs.get_num_threads() == 1
        assert fs.get_num_threads() == 3
    assert fs.get_num_threads() == default


@needs_openmp
def test_context_manager_restores_on_exception_and_works_as_decorator():
    default = fs.get_num_threads()
    with pytest.raises(RuntimeError):
        with fs.num_threads(5):
            raise RuntimeError
    assert fs.get_num_threads() == default

    @fs.num_threads(4)
    def f():
        return fs.get_num_threads()

    assert f() == 4 and f() == 4
    assert fs.get_num_threads() == default


def test_context_manager_validates_eagerly():
    for bad in (0, -2):
        with pytest.raises(ValueError, match="n must be a positive integer or None"):
            fs.num_threads(bad)
    for bad in (1.5, "2", True):
        with pytest.raises(TypeError, match="n must be a positive integer or None"):
            fs.num_threads(bad)
    assert fs.num_threads(np.int64(2)).n == 2
    assert type(fs.num_threads(np.int64(2)).n) is int
    assert repr(fs.num_threads(2)) == "fastsoftmax.num_threads(2)"


@needs_openmp
def test_context_manager_wins_over_set_num_threads():
    fs.set_num_threads(2)
    with fs.num_threads(5):
        assert fs.get_num_threads() == 5
        fs.set_num_threads(3)                 # changes the process-wide value ...
        assert fs.get_num_threads() == 5      # ... not this block's
    assert fs.get_num_threads() == 3
    with fs.num_threads(None):
        assert fs.get_num_threads() == 3      # None: the process-wide setting


@needs_openmp
def test_context_manager_is_thread_local_set_num_threads_is_global():
    default = fs.get_num_threads()
    fresh = _fresh_default()
    inside = threading.Event()
    release = threading.Event()
    seen = {}

    def worker():
        with fs.num_threads(7):
            seen["worker"] = fs.get_num_threads()
            inside.set()
            release.wait(30)
            seen["worker_end"] = fs.get_num_threads()

    t = threading.Thread(target=worker)
    t.start()
    try:
        assert inside.wait(30)
        # another thread's block does not affect this one, nor new threads
        assert fs.get_num_threads() == default
        assert _in_thread(fs.get_num_threads) == fresh
        with fs.num_threads(2):
            assert fs.get_num_threads() == 2
        # the process-wide setting is seen by every thread without a block
        fs.set_num_threads(4)
        assert fs.get_num_threads() == 4 and _in_thread(fs.get_num_threads) == 4
    finally:
        release.set()
        t.join(30)
    assert seen == {"worker": 7, "worker_end": 7}
    fs.set_num_threads(None)
    assert fs.get_num_threads() == default


@needs_openmp
def test_context_manager_concurrent_threads_one_instance():
    """Many threads entering and leaving (even the same instance) at once each
    see their own value and end where they started."""
    shared = fs.num_threads(6)
    barrier = threading.Barrier(8)
    errors = []

    def worker(i):
        try:
            barrier.wait(30)
            for k in range(200):
                with fs.num_threads(1 + (i + k) % 4):
                    assert fs.get_num_threads() == 1 + (i + k) % 4
                    with shared:
                        assert fs.get_num_threads() == 6
                    assert fs.get_num_threads() == 1 + (i + k) % 4
            assert fs.get_num_threads() == _default()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


@needs_openmp
def test_context_manager_is_local_to_asyncio_tasks():
    """Interleaved blocks of two tasks on one event-loop thread do not
    restore each other's values (a threading.local would)."""
    async def task(n, first, second):
        with fs.num_threads(n):
            await first.wait()
            got = fs.get_num_threads()
            second.set()
        return got, fs.get_num_threads()

    async def run():
        e1, e2, e3 = asyncio.Event(), asyncio.Event(), asyncio.Event()
        # task A enters first, task B enters second; A leaves first
        ta = asyncio.create_task(task(2, e1, e2))
        tb = asyncio.create_task(task(3, e2, e3))
        await asyncio.sleep(0)
        e1.set()                              # A runs, then sets e2: B runs
        ra, rb = await asyncio.gather(ta, tb)
        return ra, rb, fs.get_num_threads()

    ra, rb, after = asyncio.run(run())
    assert ra == (2, _default())
    assert rb == (3, _default())
    assert after == _default()


def test_serial_or_forked_always_one(monkeypatch):
    monkeypatch.setattr(_threads, "_forked_child", True)
    with fs.num_threads(4):
        assert fs.get_num_threads() == 1
        assert resolve(None, BIG) == 1


# ------------------------------------------------------------ thread pools

@needs_openmp
@pytest.mark.parametrize("workers", [1, 2, 3, 64])
def test_pool_threads_default_to_their_share(workers):
    with cf.ThreadPoolExecutor(workers) as ex:
        got, unpooled = ex.submit(lambda: (fs.get_num_threads(), _default())).result()
        size = ex.submit(_threads._pool_size).result()
        small = ex.submit(resolve, None, 10).result()
    assert size == workers
    assert got == max(1, min(unpooled, _cpus() // workers))
    assert small == 1
    # outside pools: the default
    assert fs.get_num_threads() == _default()
    assert _in_thread(fs.get_num_threads) == _fresh_default()
    assert _threads._pool_size() == 0


@needs_openmp
def test_explicit_settings_win_in_pools(threadpoolctl):
    with cf.ThreadPoolExecutor(64) as ex:
        assert ex.submit(fs.get_num_threads).result() == 1
        fs.set_num_threads(2)
        assert ex.submit(fs.get_num_threads).result() == 2
        fs.set_num_threads(None)

        def with_block():
            with fs.num_threads(3):
                return fs.get_num_threads()

        assert ex.submit(with_block).result() == 3

        def with_omp_limit():
            with threadpoolctl.threadpool_limits(1, user_api="openmp"):
                return fs.get_num_threads()

        assert ex.submit(with_omp_limit).result() == 1


def test_pool_detection_is_cached_per_thread(monkeypatch):
    calls = []
    real = _threads._find_pool_size

    def counting(thread):
        calls.append(thread)
        return real(thread)

    monkeypatch.setattr(_threads, "_find_pool_size", counting)
    with cf.ThreadPoolExecutor(1) as ex:
        def many():
            for _ in range(100):
                fs.get_num_threads()
            return threading.current_thread()

        t1 = ex.submit(many).result()
        t2 = ex.submit(many).result()
    assert t1 is t2
    assert calls.count(t1) <= 1
