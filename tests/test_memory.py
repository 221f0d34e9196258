"""Memory: no leaks, O(N) extra memory for the fused losses, 64-bit indexing.

Everything runs in child interpreters: the RSS measurements need a process of
their own, and an indexing bug must be a failing test, not a dead session.

* 10,000 calls of every public function (and of its error paths) on small
  arrays: the resident set does not grow (< 2 MB after a warm-up).
* cross_entropy at (2048, 32000) float32 -- 262 MB of logits -- needs O(N)
  extra memory, not N x C: the peak RSS (VmHWM, reset through
  /proc/self/clear_refs before each call) grows by < 16 MB; with the gradient,
  by the gradient itself + < 16 MB; with a soft-cap / z-loss, by a few 16 MB
  chunks.
* Row offsets beyond 2**31 bytes (always run) and beyond 2**31 elements
  (slow) index correctly.  The arrays are anonymous memory maps that are
  never written except for a few marked rows: reading the untouched pages
  maps the kernel's shared zero page, so a 2 GiB / 8 GiB input costs page
  tables and a few MB of RAM, not its size.
"""
import json
import os
import textwrap

import pytest

from _subproc import describe_returncode, run_python

MB = 1 << 20


def _run_json(code, timeout=300, env=None):
    proc = run_python(textwrap.dedent(code), timeout=timeout, env=env)
    assert proc.returncode == 0, (
        f"child {describe_returncode(proc.returncode)}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ leaks

LEAK_SCRIPT = r'''
import json, os, sys, warnings
import numpy as np
import fastsoftmax as fs

warnings.simplefilter("ignore")
PAGE = os.sysconf("SC_PAGE_SIZE")
N_CALLS = int(sys.argv[1]) if len(sys.argv) > 1 else 10000


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


rng = np.random.default_rng(0)
x = rng.standard_normal((8, 16))
x32 = x.astype(np.float32)
y = rng.integers(0, 16, 8)
y[2] = -100
soft = rng.random((8, 16)); soft /= soft.sum(1, keepdims=True)
p = rng.uniform(0.05, 0.95, (8, 16))
bits = (p > 0.5).astype(np.float64)
out = np.empty_like(x)
lse_out = np.empty(8)
grad = np.empty_like(x)
mask = rng.random((8, 16)) > 0.3
hidden, weight = rng.standard_normal((8, 6)), rng.standard_normal((16, 6))


def raises(f):
    def g():
        try:
            f()
        except Exception:
            pass
        else:
            raise AssertionError("expected an exception")
    return g


CALLS = {
    "softmax": lambda: fs.softmax(x),
    "softmax_float32_transposed_axis0": lambda: fs.softmax(x32.T, axis=0),
    "softmax_where_temperature": lambda: fs.softmax(x, where=mask, temperature=2.0),
    "log_softmax_out": lambda: fs.log_softmax(x, out=out),
    "logsumexp": lambda: fs.logsumexp(x, axis=0),
    "logsumexp_out": lambda: fs.logsumexp(x, out=lse_out),
    "cross_entropy": lambda: fs.cross_entropy(x, y),
    "cross_entropy_none_weight_smoothing": lambda: fs.cross_entropy(
        x32, y, weight=np.ones(16), label_smoothing=0.1, reduction="none"),
    "cross_entropy_and_grad": lambda: fs.cross_entropy_and_grad(x, y),
    "cross_entropy_and_grad_prob_grad_out": lambda: fs.cross_entropy_and_grad(
        x, soft, grad_out=grad),
    "cross_entropy_and_grad_zloss_softcap": lambda: fs.cross_entropy_and_grad(
        x, y, z_loss=1e-3, softcap=3.0),
    "nll_loss": lambda: fs.nll_loss(x, y, weight=np.ones(16)),
    "categorical_cross_entropy": lambda: fs.categorical_cross_entropy(p, soft),
    "binary_cross_entropy": lambda: fs.binary_cross_entropy(p, bits),
    "binary_cross_entropy_and_grad": lambda: fs.binary_cross_entropy_and_grad(p, bits),
    "binary_cross_entropy_with_logits": lambda: fs.binary_cross_entropy_with_logits(
        x, bits, pos_weight=np.full(16, 2.0)),
    "binary_cross_entropy_with_logits_and_grad":
        lambda: fs.binary_cross_entropy_with_logits_and_grad(x, bits),
    "sigmoid": lambda: fs.sigmoid(x),
    "log_sigmoid": lambda: fs.log_sigmoid(x),
    "linear_cross_entropy": lambda: fs.linear_cross_entropy(hidden, weight, y),
    "linear_cross_entropy_and_grad_tiled": lambda: fs.linear_cross_entropy_and_grad(
        hidden, weight, y, chunk_size=5),
    "focal_loss": lambda: fs.focal_loss(x32, y, alpha=np.ones(16)),
    "focal_loss_and_grad": lambda: fs.focal_loss_and_grad(x, y, gamma=0.5, reduction="none"),
    "sigmoid_focal_loss": lambda: fs.sigmoid_focal_loss(x, bits),
    "sigmoid_focal_loss_and_grad": lambda: fs.sigmoid_focal_loss_and_grad(
        x32, soft, reduction="sum"),
    "error_focal_alpha_shape": raises(lambda: fs.focal_loss(x, y, alpha=np.ones(3))),
    "cross_entropy_gradient_hessian": lambda: fs.cross_entropy_gradient_hessian(
        x, np.maximum(y, 0), sample_weight=p[:, 0], gradient_out=out, hessian_out=grad),
    "binary_cross_entropy_gradient_hessian": lambda: fs.binary_cross_entropy_gradient_hessian(
        x, bits),
    "softmax_backward": lambda: fs.softmax_backward(x, p, out=out),
    "log_softmax_backward": lambda: fs.log_softmax_backward(x, np.log(p)),
    "kl_div": lambda: fs.kl_div(fs.log_softmax(x), soft, reduction="batchmean"),
    "kl_div_none_log_target": lambda: fs.kl_div(x32, x32, reduction="none", log_target=True),
    "distillation_loss": lambda: fs.distillation_loss(x, x[::-1], temperature=2.0, target=y),
    "distillation_loss_and_grad": lambda: fs.distillation_loss_and_grad(
        x32, x32[::-1], temperature=0.5, grad_out=np.empty_like(x32)),
    "error_temperature": raises(lambda: fs.distillation_loss(x, x, temperature=0.0)),
    # error paths: the exception, its message and traceback must not leak
    "error_target_out_of_range": raises(lambda: fs.cross_entropy(x, y + 100)),
    "error_bad_reduction": raises(lambda: fs.cross_entropy_and_grad(x, y, reduction="x")),
    "error_out_shape": raises(lambda: fs.softmax(x, out=np.empty((8, 15)))),
    "error_dtype": raises(lambda: fs.logsumexp(np.ones(3, complex))),
    "error_masked": raises(lambda: fs.log_softmax(np.ma.ones(3))),
    "error_num_threads": raises(lambda: fs.softmax(x, num_threads=0)),
    "error_probs": raises(lambda: fs.binary_cross_entropy(p + 1, bits)),
}

only = sys.argv[2:] or list(CALLS)
growth = {}
for name in only:
    f = CALLS[name]
    for _ in range(500):            # warm-up: caches, pools, first allocations
        f()
    before = rss()
    for _ in range(N_CALLS):
        f()
    growth[name] = rss() - before
print(json.dumps({"growth": growth, "calls": N_CALLS}))
'''


def test_leak_script_covers_every_public_function():
    from _helpers import computing_functions
    public = computing_functions()
    names = set()
    for line in LEAK_SCRIPT.splitlines():
        line = line.strip()
        if line.startswith('"') and '":' in line:
            names.add(line.split('"')[1])
    assert {n for n in public if any(c == n or c.startswith(n + "_") for c in names)} == public


def test_repeated_calls_do_not_grow_rss(tmp_path):
    script = tmp_path / "leak.py"
    script.write_text(LEAK_SCRIPT)
    from _subproc import run_file
    proc = run_file(script, ["10000"], timeout=600)
    assert proc.returncode == 0, (
        f"child {describe_returncode(proc.returncode)}:\n{proc.stderr[-3000:]}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    grown = {k: v for k, v in r["growth"].items() if v >= 2 * MB}
    assert not grown, (f"RSS grew by >= 2 MB over {r['calls']} calls: "
                       f"{ {k: f'{v / MB:.2f} MB' for k, v in grown.items()} }")


# ------------------------------------------------------------------ O(N) memory

FUSED_SCRIPT = r'''
import json, os
import numpy as np
import fastsoftmax as fs

N, C = 2048, 32000
KB = 1024


def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * KB
    raise KeyError(key)


def reset_peak():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def extra(f):
    """Peak RSS during f() above the RSS before it (the result is kept
    until the peak is read, then dropped)."""
    reset_peak()
    base = status("VmRSS")
    r = f()
    peak = status("VmHWM")
    del r
    return peak - base


rng = np.random.default_rng(0)
logits = rng.random((N, C), dtype=np.float32)   # generated in place: no temporary
logits *= 8
target = rng.integers(0, C, N)
target[::7] = -100
soft = rng.random((N, C), dtype=np.float32)
soft /= soft.sum(axis=1, keepdims=True)
grad = np.empty_like(logits)
grad.fill(0)                                     # touched: part of the baseline
hidden = rng.standard_normal((N, 256)).astype(np.float32)
weight = (rng.standard_normal((C, 256)) * 0.05).astype(np.float32)
# warm-up on small arrays: thread pools, first-use allocations
fs.cross_entropy_and_grad(logits[:64], target[:64], softcap=5.0, z_loss=1e-4)
fs.linear_cross_entropy_and_grad(hidden[:8], weight[:100], target[:8] % 100)
fs.logsumexp(logits[:64])

res = {
    "ce_mean": extra(lambda: fs.cross_entropy(logits, target)),
    "ce_sum_smoothing_weight": extra(lambda: fs.cross_entropy(
        logits, target, reduction="sum", label_smoothing=0.1,
        weight=np.ones(C, np.float32))),
    "ce_none": extra(lambda: fs.cross_entropy(logits, target, reduction="none")),
    "ce_prob_mean": extra(lambda: fs.cross_entropy(logits, soft)),
    "ce_softcap_zloss": extra(lambda: fs.cross_entropy(logits, target, softcap=30.0,
                                                       z_loss=1e-4)),
    "ce_grad_out": extra(lambda: fs.cross_entropy_and_grad(logits, target, grad_out=grad)),
    "ce_grad_new": extra(lambda: fs.cross_entropy_and_grad(logits, target)),
    "ce_grad_softcap_zloss_grad_out": extra(lambda: fs.cross_entropy_and_grad(
        logits, target, softcap=30.0, z_loss=1e-4, grad_out=grad)),
    "logsumexp": extra(lambda: fs.logsumexp(logits)),
    "linear_ce": extra(lambda: fs.linear_cross_entropy(hidden, weight, target)),
    "grad_bytes": grad.nbytes, "logits_bytes": logits.nbytes,
    "linear_grad_bytes": hidden.nbytes + weight.nbytes,
}
res["linear_ce_and_grad"] = extra(lambda: fs.linear_cross_entropy_and_grad(
    hidden, weight, target))
print(json.dumps(res))
'''


@pytest.fixture(scope="module")
def fused_memory(tmp_path_factory):
    if not os.path.exists("/proc/self/clear_refs"):
        pytest.skip("needs /proc/self/clear_refs to reset the peak RSS")
    from _subproc import run_file
    script = tmp_path_factory.mktemp("mem") / "fused.py"
    script.write_text(FUSED_SCRIPT)
    proc = run_file(script, timeout=600)
    assert proc.returncode == 0, (
        f"child {describe_returncode(proc.returncode)}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _fmt(r):
    return {k: f"{v / MB:.1f} MB" for k, v in r.items()}


@pytest.mark.parametrize("key", ["ce_mean", "ce_sum_smoothing_weight", "ce_none",
                                 "ce_prob_mean", "ce_grad_out", "logsumexp"])
def test_fused_cross_entropy_needs_o_n_extra_memory(fused_memory, key):
    """Far below the 262 MB of one N x C float32 array."""
    assert fused_memory[key] < 16 * MB, _fmt(fused_memory)


def test_fused_cross_entropy_and_grad_extra_is_the_gradient(fused_memory):
    r = fused_memory
    assert r["ce_grad_new"] < r["grad_bytes"] + 16 * MB, _fmt(r)


@pytest.mark.parametrize("key", ["ce_softcap_zloss", "ce_grad_softcap_zloss_grad_out"])
def test_softcap_and_z_loss_work_in_chunks(fused_memory, key):
    """The soft-cap / z-loss path stages rows in ~16 MB chunks (a capped copy,
    softmax rows for the z-loss gradient): a few chunks, never N x C."""
    assert fused_memory[key] < 64 * MB, _fmt(fused_memory)


def test_linear_cross_entropy_never_holds_the_logits(fused_memory):
    """hidden (2048, 256) @ weight.T (32000, 256): the logits would be
    262 MB; tiles of ~32 MB (and, with gradients, a gradient tile and
    tile-sized scratch) are all that may exist beyond the outputs."""
    r = fused_memory
    assert r["linear_ce"] < 48 * MB, _fmt(r)
    # measured here: outputs + ~114 MB (logits tile, gradient tile, scratch,
    # and NumPy's contiguous copy of the transposed gradient tile in G.T @ H)
    assert r["linear_ce_and_grad"] < r["linear_grad_bytes"] + 4 * 32 * MB, _fmt(r)


# ------------------------------------------------------------------ 64-bit indexing

INDEX_SCRIPT = r'''
import json, mmap, sys
import numpy as np
import fastsoftmax as fs

rows, cols = int(sys.argv[1]), 1024            # a row is 4 KiB: one page
nbytes = rows * cols * 4
MAP_NORESERVE = getattr(mmap, "MAP_NORESERVE", 0x4000)
buf = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_NORESERVE)
if hasattr(buf, "madvise") and hasattr(mmap, "MADV_NOHUGEPAGE"):
    buf.madvise(mmap.MADV_NOHUGEPAGE)          # one written element: one 4 KiB page
x = np.frombuffer(buf, dtype=np.float32).reshape(rows, cols)

# marked rows: a few thousand spread over the array, and both sides of the
# 2**31-byte and 2**31-element boundaries; the others stay all-zero pages
marked = set(range(0, rows, max(1, rows // 2000)))
for b in (2**31 // (cols * 4), 2**31 // cols):
    marked |= {b - 1, b, b + 1}
marked |= {rows - 2, rows - 1}
marked = np.array(sorted(i for i in marked if 0 <= i < rows))
col = (marked * 7) % cols
val = (1 + (marked % 13)).astype(np.float32)
x[marked, col] = val

lse = fs.logsumexp(x, num_threads=2)
y = np.zeros(rows, dtype=np.int64)
y[marked] = col
loss = fs.cross_entropy(x, y, reduction="none", num_threads=2)

# expected: log(1023 + e^v) and log(1023 + e^v) - v on the marked rows,
# log(1024) and log(1024) - 0 on every other row
want_lse = np.full(rows, np.log(1024.0))
want_lse[marked] = np.log(1023.0 + np.exp(val.astype(np.float64)))
want_loss = want_lse.copy()
want_loss[marked] -= val
err_lse = np.abs(lse - want_lse) / np.abs(want_lse)
err_loss = np.abs(loss - want_loss) / np.abs(want_loss)
bad = np.flatnonzero((err_lse > 1e-6) | (err_loss > 1e-6))
print(json.dumps({"rows": rows, "elements": rows * cols, "bytes": nbytes,
                  "n_marked": int(marked.size), "bad_rows": bad[:10].tolist(),
                  "n_bad": int(bad.size), "max_err": float(max(err_lse.max(),
                                                               err_loss.max()))}))
'''


def _mem_available():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _run_index(rows, tmp_path, need):
    if not os.path.exists("/proc/meminfo"):
        pytest.skip("Linux only (anonymous zero-page mappings)")
    if _mem_available() < 2 * need:
        pytest.skip(f"needs {2 * need / MB:.0f} MB available")
    from _subproc import run_file
    script = tmp_path / "index64.py"
    script.write_text(INDEX_SCRIPT)
    proc = run_file(script, [rows], timeout=600)
    if proc.returncode != 0 and ("MemoryError" in proc.stderr
                                 or "Cannot allocate" in proc.stderr):
        pytest.skip("the address space for the mapping is not available here")
    assert proc.returncode == 0, (
        f"child {describe_returncode(proc.returncode)} (64-bit indexing?):\n"
        f"{proc.stderr[-3000:]}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["n_bad"] == 0, r
    return r


def test_row_offsets_beyond_2_31_bytes(tmp_path):
    """(2**19 + 1, 1024) float32: 2 GiB + 4 KiB, the last row starts at byte
    2**31 (an int32 byte offset would wrap).  Costs ~1 s and a few MB."""
    r = _run_index(2 ** 19 + 1, tmp_path, need=64 * MB)
    assert r["bytes"] > 2 ** 31


LONG_ROW_SCRIPT = r'''
import json, mmap, sys
import numpy as np
import fastsoftmax as fs

n = int(sys.argv[1])                               # one row of n float32
MAP_NORESERVE = getattr(mmap, "MAP_NORESERVE", 0x4000)
buf = mmap.mmap(-1, 4 * n, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_NORESERVE)
if hasattr(buf, "madvise") and hasattr(mmap, "MADV_NOHUGEPAGE"):
    buf.madvise(mmap.MADV_NOHUGEPAGE)
x = np.frombuffer(buf, dtype=np.float32).reshape(1, n)
pos = np.array([0, 2**31 - 1, 2**31, 2**31 + 1, n - 1])
pos = pos[pos < n]
val = np.array([3.0, 5.0, 7.0, 9.0, 11.0][:pos.size], dtype=np.float32)
x[0, pos] = val
lse = float(fs.logsumexp(x, num_threads=2)[0])
losses = [float(fs.cross_entropy(x, np.array([p]), reduction="sum")) for p in pos[-3:]]
want = np.log((n - pos.size) + np.exp(val.astype(np.float64)).sum())
want_losses = [want - float(v) for v in val[-3:]]
err = max([abs(lse - want) / want] + [abs(a - b) / b for a, b in zip(losses, want_losses)])
print(json.dumps({"n": n, "lse": lse, "want": want, "losses": losses,
                  "want_losses": want_losses, "max_err": err}))
'''


@pytest.mark.slow
def test_one_row_longer_than_2_31_elements(tmp_path):
    """A single row of 2**31 + 16 float32 (8 GiB of address space, zero
    pages): column indices past 2**31, the target class among them."""
    if _mem_available() < 512 * MB:
        pytest.skip("needs 512 MB available")
    from _subproc import run_file
    script = tmp_path / "long_row.py"
    script.write_text(LONG_ROW_SCRIPT)
    proc = run_file(script, [2 ** 31 + 16], timeout=900)
    assert proc.returncode == 0, (
        f"child {describe_returncode(proc.returncode)} (64-bit column index?):\n"
        f"{proc.stderr[-3000:]}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["max_err"] < 1e-6, r


@pytest.mark.slow
def test_more_than_2_31_elements(tmp_path):
    """(2**21 + 1, 1024) float32: 2**31 + 1024 elements (8 GiB of address
    space, mostly the shared zero page): the last row starts at element
    2**31, so an int32 element offset (row * ldx) would wrap."""
    r = _run_index(2 ** 21 + 1, tmp_path, need=256 * MB)
    assert r["elements"] > 2 ** 31
