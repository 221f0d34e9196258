"""Concurrency and process safety.

* 8 Python threads calling every public function at once, on different data,
  with the default thread count and with num_threads=2, get bitwise the
  serial results (also from a ThreadPoolExecutor, whose workers get a share
  of the CPUs, and with per-thread ``num_threads`` blocks).
* A process that has used the OpenMP kernels can fork (multiprocessing
  "fork" Pool) and the children compute, serially, bitwise the parent's
  results without hanging; "spawn" and "forkserver" pools work too.  These
  run in a child interpreter under a timeout, so a hang is a failure.
* A long call releases the GIL: another Python thread makes progress during
  a (4096, 32000) float32 cross_entropy_and_grad (progress is counted,
  never timed).
"""
import os
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import fastsoftmax as fs
from _helpers import assert_same, computing_functions
from _subproc import describe_returncode, run_file, run_python

N_PY_THREADS = 8
# 300 x 257 = 77100 elements: above the serial threshold (2**16), several
# row chunks, a SIMD tail in every row
SHAPE = (300, 257)


def make_data(seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(SHAPE) * 4).astype(np.float32)
    x[3, 5] = np.nan
    x[7, :] = -np.inf
    y_all = rng.integers(0, SHAPE[1], SHAPE[0])
    y = y_all.copy()
    y[::11] = -100
    soft = rng.random(SHAPE).astype(np.float32)
    soft /= soft.sum(axis=1, keepdims=True)
    p = rng.uniform(0.01, 0.99, SHAPE)
    bits = rng.integers(0, 2, SHAPE).astype(np.float64)
    w = rng.uniform(0.5, 2.0, SHAPE[1]).astype(np.float32)
    mask = rng.random(SHAPE) > 0.3
    hidden = rng.standard_normal((SHAPE[0], 48)).astype(np.float32)
    weight = (rng.standard_normal((SHAPE[1], 48)) * 0.3).astype(np.float32)
    finite = np.nan_to_num(x, nan=0.0, neginf=-30.0).astype(np.float64)
    return dict(x=x, y=y, y_all=y_all, soft=soft, p=p, bits=bits, w=w, mask=mask,
                x64=x.astype(np.float64), finite=finite, hidden=hidden, weight=weight)


def calls(d, nt):
    """(name, thunk) for every public function; nt = num_threads (None: default)."""
    x, y = d["x"], d["y"]
    return [
        ("softmax", lambda: fs.softmax(x, num_threads=nt)),
        ("softmax_axis0", lambda: fs.softmax(d["x64"], axis=0, num_threads=nt)),
        ("softmax_where_temperature", lambda: fs.softmax(x, where=d["mask"], temperature=1.7,
                                                         num_threads=nt)),
        ("log_softmax", lambda: fs.log_softmax(x, num_threads=nt)),
        ("logsumexp", lambda: fs.logsumexp(x, num_threads=nt)),
        ("cross_entropy", lambda: fs.cross_entropy(x, y, num_threads=nt)),
        ("cross_entropy_none", lambda: fs.cross_entropy(x, y, reduction="none", weight=d["w"],
                                                        label_smoothing=0.1, num_threads=nt)),
        ("cross_entropy_and_grad", lambda: fs.cross_entropy_and_grad(x, y, num_threads=nt)),
        ("cross_entropy_and_grad_prob", lambda: fs.cross_entropy_and_grad(
            x, d["soft"], reduction="sum", num_threads=nt)),
        ("cross_entropy_and_grad_zloss_softcap", lambda: fs.cross_entropy_and_grad(
            x, y, z_loss=1e-3, softcap=5.0, num_threads=nt)),
        ("nll_loss", lambda: fs.nll_loss(fs.log_softmax(x, num_threads=nt), y)),
        ("categorical_cross_entropy", lambda: fs.categorical_cross_entropy(d["p"], d["y_all"])),
        ("binary_cross_entropy", lambda: fs.binary_cross_entropy(d["p"], d["bits"])),
        ("binary_cross_entropy_and_grad", lambda: fs.binary_cross_entropy_and_grad(
            d["p"], d["bits"])),
        ("binary_cross_entropy_with_logits", lambda: fs.binary_cross_entropy_with_logits(
            d["finite"], d["bits"])),
        ("binary_cross_entropy_with_logits_and_grad",
         lambda: fs.binary_cross_entropy_with_logits_and_grad(d["finite"], d["bits"],
                                                              pos_weight=2.0)),
        ("linear_cross_entropy", lambda: fs.linear_cross_entropy(
            d["hidden"], d["weight"], y, num_threads=nt)),
        ("linear_cross_entropy_and_grad_tiled", lambda: fs.linear_cross_entropy_and_grad(
            d["hidden"], d["weight"], y, chunk_size=100, label_smoothing=0.1, num_threads=nt)),
        ("sigmoid", lambda: fs.sigmoid(x)),
        ("log_sigmoid", lambda: fs.log_sigmoid(x)),
        ("focal_loss", lambda: fs.focal_loss(x, y, alpha=d["w"], num_threads=nt)),
        ("focal_loss_and_grad", lambda: fs.focal_loss_and_grad(x, y, gamma=0.5,
                                                               reduction="none",
                                                               num_threads=nt)),
        ("sigmoid_focal_loss", lambda: fs.sigmoid_focal_loss(x, d["bits"], num_threads=nt)),
        ("sigmoid_focal_loss_and_grad", lambda: fs.sigmoid_focal_loss_and_grad(
            d["finite"], d["soft"], gamma=1.5, reduction="mean", num_threads=nt)),
        ("cross_entropy_gradient_hessian", lambda: fs.cross_entropy_gradient_hessian(
            x, d["y_all"], sample_weight=d["p"][:, 0], num_threads=nt)),
        ("binary_cross_entropy_gradient_hessian",
         lambda: fs.binary_cross_entropy_gradient_hessian(d["finite"], d["p"], num_threads=nt)),
        ("softmax_backward", lambda: fs.softmax_backward(d["soft"], d["soft"], num_threads=nt)),
        ("log_softmax_backward", lambda: fs.log_softmax_backward(
            d["x64"], np.log(d["p"]), num_threads=nt)),
        ("kl_div", lambda: fs.kl_div(d["x64"], d["soft"], reduction="batchmean",
                                     num_threads=nt)),
        ("distillation_loss", lambda: fs.distillation_loss(d["finite"], d["x64"],
                                                           temperature=2.0, num_threads=nt)),
        ("distillation_loss_and_grad", lambda: fs.distillation_loss_and_grad(
            x, d["soft"], temperature=3.0, target=y, alpha=0.3, num_threads=nt)),
    ]


CALL_NAMES = [name for name, _ in calls(make_data(0), None)]


def test_calls_cover_every_public_function():
    # every computing function of the public API appears in calls()
    public = computing_functions()
    covered = {n for n in public if any(c == n or c.startswith(n + "_") for c in CALL_NAMES)}
    assert covered == public


def assert_same_result(got, want, what):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want), what
        for g, w in zip(got, want):
            assert_same(g, w)
    else:
        assert_same(got, want)


@pytest.fixture(scope="module")
def data_and_serial():
    """Each Python thread's data, and the serial (num_threads=1) results."""
    data = [make_data(100 + i) for i in range(N_PY_THREADS)]
    serial = [{name: f() for name, f in calls(d, 1)} for d in data]
    return data, serial


def _hammer(data, serial, nt, reps=1, runner="threads"):
    errors = []
    done = []
    barrier = threading.Barrier(N_PY_THREADS)

    def work(i):
        try:
            barrier.wait(timeout=60)
            for rep in range(reps):
                # a different call order in each thread and repetition
                todo = calls(data[i], nt)
                shift = (i * 5 + rep) % len(todo)
                for name, f in todo[shift:] + todo[:shift]:
                    assert_same_result(f(), serial[i][name], name)
            done.append(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append((i, repr(exc)))

    if runner == "threads":
        threads = [threading.Thread(target=work, args=(i,)) for i in range(N_PY_THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert not any(t.is_alive() for t in threads), "a thread hung"
    else:
        with ThreadPoolExecutor(max_workers=N_PY_THREADS) as pool:
            list(pool.map(work, range(N_PY_THREADS), timeout=300))
    assert not errors, errors
    assert sorted(done) == list(range(N_PY_THREADS))


@pytest.mark.parametrize("nt", [None, 2], ids=["default_threads", "num_threads_2"])
def test_eight_python_threads_match_serial_bitwise(data_and_serial, nt):
    data, serial = data_and_serial
    _hammer(data, serial, nt)


def test_thread_pool_executor_matches_serial_bitwise(data_and_serial):
    """Pool workers get a share of the CPUs by default (fastsoftmax._threads);
    whatever the share, the results are the serial ones."""
    data, serial = data_and_serial
    _hammer(data, serial, None, reps=1, runner="pool")


def test_num_threads_blocks_are_per_thread(data_and_serial):
    """Concurrent ``with fs.num_threads(k)`` blocks in different threads see
    their own k (and the results stay the serial ones)."""
    data, serial = data_and_serial
    default = fs.get_num_threads()
    seen, after, errors = {}, {}, []
    barrier = threading.Barrier(4)

    def work(i):
        try:
            with fs.num_threads(i + 1):
                barrier.wait(timeout=60)
                for _ in range(3):
                    seen.setdefault(i, set()).add(fs.get_num_threads())
                    assert_same(fs.softmax(data[i]["x"]), serial[i]["softmax"])
                    time.sleep(0.001)
            after[i] = fs.get_num_threads()
        except BaseException as exc:  # noqa: BLE001
            errors.append(repr(exc))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert seen == {i: {i + 1 if fs.openmp_enabled() else 1} for i in range(4)}
    assert after == {i: default for i in range(4)}


# ------------------------------------------------------------------ processes

POOL_SCRIPT = r'''
import json, multiprocessing as mp, os, sys
import numpy as np
import fastsoftmax as fs

# The default of a quiet machine in the parent and in every child: the
# children running at once would otherwise see each other's load and rightly
# take one thread each (fastsoftmax._cpuload).
fs._threads._LOAD = None

SHAPE = (400, 300)          # 120000 elements: the parallel path in the parent


def data(seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(SHAPE) * 3).astype(np.float32)
    y = rng.integers(0, SHAPE[1], SHAPE[0])
    return x, y


def compute(seed, nt):
    x, y = data(seed)
    loss, grad = fs.cross_entropy_and_grad(x, y, num_threads=nt)
    return {
        "softmax": fs.softmax(x, num_threads=nt).tobytes(),
        "log_softmax": fs.log_softmax(x, axis=0, num_threads=nt).tobytes(),
        "logsumexp": fs.logsumexp(x, num_threads=nt).tobytes(),
        "cross_entropy": np.float32(fs.cross_entropy(x, y, num_threads=nt)).tobytes(),
        "ce_grad": grad.tobytes(), "ce_loss": np.float32(loss).tobytes(),
        "bce_logits": np.float64(fs.binary_cross_entropy_with_logits(
            x, (x > 0).astype(np.float32))).tobytes(),
    }


def work(task):
    seed, nt = task
    return os.getpid(), fs.get_num_threads(), compute(seed, nt)


if __name__ == "__main__":
    method = sys.argv[1]
    # the parent uses the OpenMP thread pool first
    assert fs.get_num_threads() >= 1
    parent = {(s, nt): compute(s, nt) for s in (0, 1) for nt in (None, 2)}
    parent_threads = fs.get_num_threads()
    ctx = mp.get_context(method)
    tasks = [(s, nt) for s in (0, 1) for nt in (None, 2)] * 2
    with ctx.Pool(2) as pool:
        results = pool.map_async(work, tasks).get(timeout=120)
    mismatches = [(t, k) for t, (_, _, r) in zip(tasks, results)
                  for k in r if r[k] != parent[t][k]]
    print(json.dumps({
        "parent_pid": os.getpid(), "parent_threads": parent_threads,
        "child_pids": sorted({pid for pid, _, _ in results}),
        "child_threads": sorted({n for _, n, _ in results}),
        "mismatches": [repr(m) for m in mismatches], "n_results": len(results),
    }))
'''


def _run_pool(method, tmp_path):
    import json
    script = tmp_path / "pool_script.py"
    script.write_text(POOL_SCRIPT)
    # a script file: spawn / forkserver children import it as __mp_main__
    try:
        proc = run_file(script, [method], timeout=240)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{method} pool: the process hung ({exc})", pytrace=False)
    assert proc.returncode == 0, (
        f"{method} pool: {describe_returncode(proc.returncode)}\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_fork_pool_after_parallel_use(tmp_path):
    """libgomp is not fork-safe: the forked children must fall back to one
    thread (os.register_at_fork) -- and so not hang -- and compute bitwise
    the parent's results, with num_threads given or not."""
    r = _run_pool("fork", tmp_path)
    assert r["n_results"] == 8
    assert r["mismatches"] == []
    assert r["parent_pid"] not in r["child_pids"] and len(r["child_pids"]) >= 1
    assert r["child_threads"] == [1]


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_spawn_and_forkserver_pools(tmp_path, method):
    import multiprocessing as mp
    if method not in mp.get_all_start_methods():
        pytest.skip(f"no {method} start method")
    r = _run_pool(method, tmp_path)
    assert r["n_results"] == 8
    assert r["mismatches"] == []
    # fresh interpreters: not a forked child, the usual default applies
    assert all(n >= 1 for n in r["child_threads"])
    if fs.openmp_enabled() and r["parent_threads"] > 1:
        assert max(r["child_threads"]) > 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_fork_child_of_fork_child_and_num_threads_block():
    """A grandchild is serial too, and an explicit num_threads / num_threads()
    block in a forked child cannot re-enable the (unsafe) thread pool."""
    code = textwrap.dedent(r"""
        import os, numpy as np, fastsoftmax as fs
        x = np.random.default_rng(0).standard_normal((500, 300))
        ref = fs.logsumexp(x, num_threads=2)
        def child(depth):
            with fs.num_threads(2):
                ok = fs.get_num_threads() == 1
            fs.set_num_threads(2)
            ok = ok and fs.get_num_threads() == 1
            ok = ok and np.array_equal(fs.logsumexp(x, num_threads=2), ref)
            if depth == 1:
                pid = os.fork()
                if pid == 0:
                    os._exit(0 if child(2) else 3)
                _, status = os.waitpid(pid, 0)
                ok = ok and status == 0
            return ok
        pid = os.fork()
        if pid == 0:
            os._exit(0 if child(1) else 3)
        _, status = os.waitpid(pid, 0)
        print("ok" if status == 0 else f"bad {status}")
    """)
    proc = run_python(code, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"


# ------------------------------------------------------------------ the GIL

@pytest.mark.skipif(not getattr(sys, "_is_gil_enabled", lambda: True)(),
                    reason="free-threaded build: no GIL")
def test_long_fused_call_releases_the_gil():
    """While a (4096, 32000) float32 cross_entropy_and_grad runs, a Python
    thread that needs the GIL keeps counting.  With a 5 s switch interval the
    interpreter would not take the GIL away from the calling thread during
    the call, so any progress means the call released it itself.  A control
    (pure Python holding the GIL) shows no progress; nothing is timed."""
    rng = np.random.default_rng(0)
    logits = rng.random((4096, 32000), dtype=np.float32)
    logits *= 8
    target = rng.integers(0, 32000, 4096)
    grad = np.empty_like(logits)

    counter = [0]
    stop = threading.Event()
    started = threading.Event()

    def ticker():
        started.set()
        while not stop.is_set():
            counter[0] += 1
            time.sleep(1e-4)       # gives the GIL back after every tick

    old = sys.getswitchinterval()
    t = threading.Thread(target=ticker)
    sys.setswitchinterval(5.0)
    try:
        t.start()
        started.wait()
        time.sleep(0.01)
        # control: a pure-Python loop holding the GIL: the ticker is frozen
        before = counter[0]
        s = 0
        for i in range(300_000):
            s += i
        control = counter[0] - before
        before = counter[0]
        loss, g = fs.cross_entropy_and_grad(logits, target, grad_out=grad)
        during = counter[0] - before
    finally:
        stop.set()
        sys.setswitchinterval(old)
        t.join()
    assert g is grad and np.isfinite(loss)
    assert control == 0, f"control: the ticker ran {control} times while the GIL was held"
    assert during > 0, "the ticker never ran during the call: the GIL was held"
