"""linear_cross_entropy(_and_grad) vs torch and NumPy at N=4096, D=1024, V=32000.

Run with ``python -m pytest benchmarks/test_bench_linear.py``.  Each group
compares fastsoftmax (tiled: the logits never exist), torch
(``F.cross_entropy(F.linear(h, w), y)``, with ``.backward()`` for the
gradient) and NumPy (the full logits in the input dtype, then the
reference cross-entropy and its gradient).  Besides the times, every
implementation's peak memory is measured once in a fresh subprocess
(VmHWM minus the resident size once the inputs exist) and stored in the
benchmark's ``extra_info`` (``peak_extra_mib``; shown with ``-s``).

Options: ``FASTSOFTMAX_BENCH_LINEAR="N,D,V"`` changes the problem size;
``FASTSOFTMAX_BENCH_DTYPE=float64`` the dtype.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fastsoftmax
from fastsoftmax import _bench

if not hasattr(fastsoftmax, "linear_cross_entropy"):
    pytest.skip("fastsoftmax.linear_cross_entropy is not in this build",
                allow_module_level=True)

SIZE = tuple(int(s) for s in os.environ.get("FASTSOFTMAX_BENCH_LINEAR",
                                            "4096,1024,32000").split(","))
DTYPE = os.environ.get("FASTSOFTMAX_BENCH_DTYPE", "float32")
IMPLS = ["fastsoftmax", "numpy", "torch"]
MODES = ["loss", "loss_and_grad"]


def make_inputs(n, d, v, dtype="float32", seed=0):
    """Hidden states (N, D), an nn.Linear-style weight (V, D) and labels (N,)."""
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((n, d), dtype=np.dtype(dtype).type)
    w = rng.standard_normal((v, d), dtype=np.dtype(dtype).type)
    w *= 1.0 / np.sqrt(d)  # logits of order 1, as in a trained model
    y = rng.integers(0, v, n)
    return h, w, y


def implementation(impl, mode):
    """``f(h, w, y)`` for one implementation, or None if unavailable."""
    grad = mode == "loss_and_grad"
    if impl == "fastsoftmax":
        fn = (fastsoftmax.linear_cross_entropy_and_grad if grad
              else fastsoftmax.linear_cross_entropy)
        return fn
    if impl == "numpy":
        from fastsoftmax import _reference as ref

        def numpy_impl(h, w, y):
            logits = h @ w.T
            loss = ref.cross_entropy(logits, y, dtype=logits.dtype)
            if not grad:
                return loss
            g = ref.cross_entropy_grad(logits, y, dtype=logits.dtype)
            del logits
            return loss, g @ w, g.T @ h
        return numpy_impl
    try:
        import torch
    except ImportError:
        return None
    F = torch.nn.functional

    def torch_impl(h, w, y):
        th, tw, ty = torch.from_numpy(h), torch.from_numpy(w), torch.from_numpy(y)
        if not grad:
            with torch.no_grad():
                return F.cross_entropy(F.linear(th, tw), ty)
        th = th.detach().requires_grad_(True)
        tw = tw.detach().requires_grad_(True)
        loss = F.cross_entropy(F.linear(th, tw), ty)
        loss.backward()
        return loss.detach(), th.grad, tw.grad
    return torch_impl


_PROBE = """
import json, sys, time
sys.path.insert(0, {here!r})
import test_bench_linear as b

def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024

impl, mode = sys.argv[1], sys.argv[2]
h, w, y = b.make_inputs(*b.SIZE, b.DTYPE)
fn = b.implementation(impl, mode)
small = b.make_inputs(64, 16, 128, b.DTYPE)
fn(*small)  # imports, thread pools and lazy initialisation
base = status("VmRSS")
t0 = time.perf_counter()
out = fn(h, w, y)
seconds = time.perf_counter() - t0
peak = status("VmHWM")
print(json.dumps({{"seconds": seconds, "peak_extra": peak - base, "peak": peak}}))
"""


def peak_memory(impl, mode, threads):
    """(seconds of one cold call, extra peak bytes) in a fresh subprocess."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    code = _PROBE.format(here=os.path.dirname(os.path.abspath(__file__)))
    res = subprocess.run([sys.executable, "-c", code, impl, mode], capture_output=True,
                         text=True, env=env, timeout=1800)
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-2000:])
    r = json.loads(res.stdout.strip().splitlines()[-1])
    return r["seconds"], r["peak_extra"]


@pytest.fixture(scope="module")
def inputs():
    return make_inputs(*SIZE, DTYPE)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("mode", MODES)
def test_linear_cross_entropy(benchmark, inputs, mode, impl, threads):
    fn = implementation(impl, mode)
    if fn is None:
        pytest.skip(f"{impl} is not installed")
    n, d, v = SIZE
    benchmark.group = f"linear_cross_entropy {mode} {n}x{d}x{v} {DTYPE}"
    benchmark.name = impl
    seconds, extra = peak_memory(impl, mode, threads)
    benchmark.extra_info.update(impl=impl, mode=mode, size=list(SIZE), dtype=DTYPE,
                                threads=threads, peak_extra_mib=extra / 2**20,
                                cold_call_s=seconds,
                                logits_mib=n * v * np.dtype(DTYPE).itemsize / 2**20)
    print(f"\n{impl} {mode}: peak extra memory {extra / 2**20:.0f} MiB "
          f"(logits: {n * v * np.dtype(DTYPE).itemsize / 2**20:.0f} MiB), "
          f"cold call {seconds:.2f} s")
    with _bench.torch_threads(threads if impl == "torch" else None):
        benchmark.pedantic(fn, args=inputs, rounds=3, iterations=1, warmup_rounds=1)
