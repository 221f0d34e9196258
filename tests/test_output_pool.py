"""The pool of reused output buffers: reuse only of memory no array uses,
its bound, release, threads, fork and the environment variable."""
from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import _pool

from _helpers import computing_functions

SHAPE = (512, 1024)     # 2 MiB of float32: pooled


@pytest.fixture(autouse=True)
def fresh_pool():
    """Each test starts with an empty pool of the default bound."""
    fs.set_output_pool(None)
    fs.release_output_pool()
    yield
    fs.set_output_pool(None)
    fs.release_output_pool()


def _x(shape=SHAPE, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def test_a_dropped_output_is_reused():
    x = _x()
    p = fs.softmax(x)
    ptr = p.ctypes.data
    hits = fs.get_output_pool()["hits"]
    del p
    q = fs.softmax(x)
    assert q.ctypes.data == ptr
    assert fs.get_output_pool()["hits"] == hits + 1


def _derived(p, keep):
    if keep == "output":
        return p
    if keep == "view":
        return p[3:7]
    if keep == "memoryview":
        return memoryview(p)
    if keep == "transpose":
        return p.T
    return [p[0]]


@pytest.mark.parametrize("keep", ["output", "view", "memoryview", "transpose", "list"])
def test_memory_in_use_is_never_handed_out(keep):
    x = _x()
    p = fs.softmax(x)
    ref = p.copy()
    held = _derived(p, keep)
    ptr = p.ctypes.data
    del p
    gc.collect()
    q = fs.softmax(_x(seed=1))
    assert q.ctypes.data != ptr
    got = np.asarray(held if keep != "list" else held[0])
    want = {"output": ref, "view": ref[3:7], "memoryview": ref, "transpose": ref.T,
            "list": ref[0]}[keep]
    assert np.array_equal(got, want)   # untouched by the second call


def test_torch_view_keeps_the_block():
    torch = pytest.importorskip("torch")
    x = _x()
    p = fs.softmax(x)
    t = torch.from_numpy(p)
    ref = t.clone()
    ptr = p.ctypes.data
    del p
    q = fs.softmax(_x(seed=1))
    assert q.ctypes.data != ptr
    assert torch.equal(t, ref)


def _labels():
    return np.arange(SHAPE[0]) % SHAPE[1]


def _log_probs(seed):
    # NumPy, not fastsoftmax: an input must not take blocks of the pool
    z = _x(seed=seed)
    z -= z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _probs(seed):
    return np.exp(_log_probs(seed))


def _binary_targets():
    return (np.random.default_rng(3).random(SHAPE) < 0.3).astype(np.float32)


# Every public function that returns an array the size of its input, the
# call that makes it (a SHAPE float32 input: 2 MiB, pooled) and which of its
# results are such arrays.  test_every_large_output_is_listed keeps the
# table complete.
LARGE_OUTPUTS = {
    "softmax": (lambda: fs.softmax(_x()), None),
    "log_softmax": (lambda: fs.log_softmax(_x()), None),
    "sigmoid": (lambda: fs.sigmoid(_x()), None),
    "log_sigmoid": (lambda: fs.log_sigmoid(_x()), None),
    "cross_entropy_and_grad": (lambda: fs.cross_entropy_and_grad(_x(), _labels()), (1,)),
    "binary_cross_entropy_with_logits_and_grad": (
        lambda: fs.binary_cross_entropy_with_logits_and_grad(_x(), _binary_targets(),
                                                             reduction="none"), (0, 1)),
    "focal_loss_and_grad": (lambda: fs.focal_loss_and_grad(_x(), _labels()), (1,)),
    "sigmoid_focal_loss": (lambda: fs.sigmoid_focal_loss(_x(), _binary_targets()), None),
    "sigmoid_focal_loss_and_grad": (
        lambda: fs.sigmoid_focal_loss_and_grad(_x(), _binary_targets()), (0, 1)),
    "cross_entropy_gradient_hessian": (
        lambda: fs.cross_entropy_gradient_hessian(_x(), _labels()), (0, 1)),
    "binary_cross_entropy_gradient_hessian": (
        lambda: fs.binary_cross_entropy_gradient_hessian(_x(), _binary_targets()), (0, 1)),
    "softmax_backward": (lambda: fs.softmax_backward(_x(seed=1), _probs(2)), None),
    "log_softmax_backward": (
        lambda: fs.log_softmax_backward(_x(seed=1), _log_probs(2)), None),
    "kl_div": (lambda: fs.kl_div(_log_probs(0), _probs(1), reduction="none"), None),
    "distillation_loss_and_grad": (
        lambda: fs.distillation_loss_and_grad(_x(), _x(seed=1), target=_labels()), (1,)),
}

# The public functions whose results are scalars or one value per row (or
# that compute in NumPy): nothing of the input's size to pool.
NO_LARGE_OUTPUT = {
    "logsumexp", "cross_entropy", "nll_loss", "categorical_cross_entropy",
    "binary_cross_entropy", "binary_cross_entropy_and_grad", "binary_cross_entropy_with_logits",
    "focal_loss", "distillation_loss", "linear_cross_entropy", "linear_cross_entropy_and_grad"}


def test_every_large_output_is_listed():
    assert set(LARGE_OUTPUTS) | NO_LARGE_OUTPUT == computing_functions()
    assert not set(LARGE_OUTPUTS) & NO_LARGE_OUTPUT


def _large(result, which):
    return [result] if which is None else [result[k] for k in which]


@pytest.mark.parametrize("name", sorted(LARGE_OUTPUTS))
def test_large_outputs_are_pooled_and_equal_unpooled(name):
    call, which = LARGE_OUTPUTS[name]
    fs.set_output_pool(0)
    want = _large(call(), which)
    assert fs.get_output_pool()["blocks"] == 0
    fs.set_output_pool(None)
    hits = fs.get_output_pool()["hits"]
    for _ in range(3):
        got = _large(call(), which)
        for g, w in zip(got, want):
            assert g.dtype == w.dtype and g.shape == w.shape
            assert g.flags.c_contiguous and g.flags.writeable and g.flags.aligned
            assert np.array_equal(g, w, equal_nan=True)
            assert g.nbytes >= _pool.MIN_BYTES
        del got, g, w
    # the second and third calls reuse what the first returned
    assert fs.get_output_pool()["hits"] >= hits + 2 * len(want)


def test_small_outputs_are_not_pooled():
    p = fs.softmax(_x((8, 10)))
    assert p.base is None
    assert fs.get_output_pool()["blocks"] == 0


def test_bound_and_release():
    nbytes = SHAPE[0] * SHAPE[1] * 4
    fs.set_output_pool(2 * nbytes)
    a, b = fs.softmax(_x()), fs.softmax(_x())
    c = fs.softmax(_x())            # the pool is full of blocks in use: a plain array
    assert c.base is None
    state = fs.get_output_pool()
    assert state["held_bytes"] == 2 * nbytes == state["in_use_bytes"]
    del a
    assert fs.get_output_pool()["in_use_bytes"] == nbytes
    assert fs.release_output_pool() == nbytes
    assert fs.get_output_pool()["held_bytes"] == nbytes      # b's block is still in use
    del b, c
    assert fs.release_output_pool() == nbytes
    assert fs.get_output_pool()["blocks"] == 0


def test_unused_blocks_make_room_oldest_first():
    nbytes = SHAPE[0] * SHAPE[1] * 4
    fs.set_output_pool(2 * nbytes)
    fs.softmax(_x())                                   # dropped at once: unused
    big = fs.softmax(_x((1024, 1024)))                 # 2x the size: needs all the room
    assert big.base is not None and big.base.nbytes == 2 * nbytes
    assert fs.get_output_pool()["blocks"] == 1


def test_disabled_pool():
    fs.set_output_pool(0)
    p = fs.softmax(_x())
    assert p.base is None
    assert fs.get_output_pool()["blocks"] == 0


def test_lowering_the_bound_drops_unused_blocks():
    fs.softmax(_x())
    assert fs.get_output_pool()["blocks"] == 1
    fs.set_output_pool(1 << 20)
    assert fs.get_output_pool()["blocks"] == 0


@pytest.mark.parametrize("bad", [-1, 1.5, "1G", True])
def test_bad_bound(bad):
    with pytest.raises(ValueError if bad == -1 else TypeError, match="max_bytes"):
        fs.set_output_pool(bad)


def test_threads():
    """Concurrent calls never share a buffer: each result stays its own."""
    xs = [_x(seed=s) for s in range(4)]
    wants = [fs.softmax(x) for x in xs]
    errors = []

    def work(i):
        for _ in range(20):
            p = fs.softmax(xs[i])
            q = fs.softmax(xs[(i + 1) % 4])
            if not (np.array_equal(p, wants[i]) and np.array_equal(q, wants[(i + 1) % 4])):
                errors.append(i)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_child_uses_the_pool():
    code = """
import os, numpy as np, fastsoftmax as fs
x = np.ones((512, 1024), np.float32)
p = fs.softmax(x)
pid = os.fork()
if pid == 0:
    q = fs.softmax(x * 2)
    ok = np.array_equal(q, np.full_like(x, 1 / 1024)) and np.array_equal(p, q)
    os._exit(0 if ok else 1)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status), np.array_equal(p, np.full_like(x, 1 / 1024)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.split() == ["0", "True"]


@pytest.mark.parametrize(("text", "want"), [("512M", 512 << 20), ("2g", 2 << 30),
                                            ("1048576", 1 << 20), ("0", 0), ("off", 0),
                                            ("64MiB", 64 << 20)])
def test_parse_size(text, want):
    assert _pool.parse_size(text) == want


def test_environment_variable():
    code = "import fastsoftmax as fs; print(fs.get_output_pool()['max_bytes'])"
    env = dict(os.environ, FASTSOFTMAX_OUTPUT_POOL="256M")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True, env=env)
    assert out.stdout.strip() == str(256 << 20)
    env["FASTSOFTMAX_OUTPUT_POOL"] = "lots"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True, env=env)
    assert out.stdout.strip() == str(_pool.DEFAULT_MAX_BYTES)
    assert "FASTSOFTMAX_OUTPUT_POOL='lots'" in out.stderr
