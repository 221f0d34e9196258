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

import os

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
IMPLS = list(_bench.LINEAR_IMPLS)
MODES = list(_bench.LINEAR_MODES)


# one definition of the problem, the implementations and the memory probe,
# shared with ``python -m fastsoftmax bench --linear``
make_inputs = _bench.linear_inputs
implementation = _bench.linear_impl


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
    probe = _bench.linear_probe(impl, mode, SIZE, DTYPE, threads)
    seconds, extra = probe["seconds"], probe["peak_extra"]
    benchmark.extra_info.update(impl=impl, mode=mode, size=list(SIZE), dtype=DTYPE,
                                threads=threads, peak_extra_mib=extra / 2**20,
                                probe_call_s=seconds,
                                logits_mib=n * v * np.dtype(DTYPE).itemsize / 2**20)
    print(f"\n{impl} {mode}: peak extra memory {extra / 2**20:.0f} MiB "
          f"(logits: {n * v * np.dtype(DTYPE).itemsize / 2**20:.0f} MiB), "
          f"one call in a fresh process {seconds:.2f} s")
    with _bench.torch_threads(threads if impl == "torch" else None):
        benchmark.pedantic(fn, args=inputs, rounds=3, iterations=1, warmup_rounds=1)
