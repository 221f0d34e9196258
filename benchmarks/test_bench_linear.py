"""linear_cross_entropy(_and_grad) vs torch and NumPy at N=4096, D=1024, V=32000.

Run with ``python -m pytest benchmarks/test_bench_linear.py``.  Each group
compares fastsoftmax (tiled: the logits never exist), torch
(``F.cross_entropy(F.linear(h, w), y)``, with ``.backward()`` for the
gradient) and NumPy (the full logits in the input dtype, then the
reference cross-entropy and its gradient).  Besides the times, every
implementation's peak memory is measured once in a fresh subprocess (the
probe of ``python -m fastsoftmax bench --linear``: VmHWM minus the resident
size once the inputs exist) and stored in the benchmark's ``extra_info``
(``peak_extra_mib``; shown with ``-s``).

Options: ``FASTSOFTMAX_BENCH_LINEAR="N,D,V"`` changes the problem size;
``FASTSOFTMAX_BENCH_DTYPE=float64`` the dtype.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from fastsoftmax._bench import inputs, registry, runner

SIZE = tuple(int(s) for s in os.environ.get(
    "FASTSOFTMAX_BENCH_LINEAR", ",".join(map(str, inputs.LINEAR_SIZE))).split(","))
DTYPE = os.environ.get("FASTSOFTMAX_BENCH_DTYPE", "float32")
PAIRS = [(op, impl) for op in registry.linear_ops()
         for impl, entry in registry.IMPLEMENTATIONS.items() if op in entry.bindings]


@pytest.fixture(scope="module")
def args():
    return inputs.make_linear_inputs(SIZE, DTYPE)


@pytest.mark.parametrize(("op_name", "impl"), PAIRS, ids=[f"{o}-{i}" for o, i in PAIRS])
def test_linear_cross_entropy(benchmark, args, op_name, impl, threads):
    if not registry.available(impl):
        pytest.skip(f"{impl} is not installed")
    n, d, v = SIZE
    benchmark.group = f"{op_name} {n}x{d}x{v} {DTYPE}"
    benchmark.name = impl
    probe = runner.run_linear(SIZE, [impl], dtype=DTYPE, threads=threads, rounds=1,
                              ops=[op_name])["results"][impl][op_name]
    seconds, extra = probe["seconds"], probe["peak_extra"]
    logits_mib = n * v * np.dtype(DTYPE).itemsize / 2**20
    benchmark.extra_info.update(impl=impl, op=op_name, size=list(SIZE), dtype=DTYPE,
                                threads=threads, probe_call_s=seconds, logits_mib=logits_mib,
                                peak_extra_mib=None if extra is None else extra / 2**20)
    if extra is not None:
        print(f"\n{impl} {op_name}: peak extra memory {extra / 2**20:.0f} MiB "
              f"(logits: {logits_mib:.0f} MiB), one call in a fresh process {seconds:.2f} s")
    fn = registry.bind(op_name, impl, args)
    with registry.thread_count(impl, threads):
        benchmark.pedantic(fn, rounds=3, iterations=1, warmup_rounds=1)
