"""pytest-benchmark suite: fastsoftmax vs plain NumPy, torch, SciPy, onnxruntime, JAX.

Run with ``python -m pytest benchmarks`` (not part of the default test run).
The ops, implementations, shapes and input makers come from
:mod:`fastsoftmax._bench` (the harness of ``python -m fastsoftmax bench``);
here pytest-benchmark does the timing and the reporting, one group per op and
shape so its table compares the implementations side by side.  Unlike
``python -m fastsoftmax bench``, all implementations share this process and
each is timed once: use the command for numbers to publish.  (JAX's threads
cannot be set in a running process: here it runs with its default pool,
one thread per CPU, unless ``PJRT_NPROC`` is set.)

Options
-------
``--bench-quick`` or ``FASTSOFTMAX_BENCH_QUICK=1``
    Use the small shape set (``inputs.QUICK_SHAPES``).
``--bench-dtype float64`` or ``FASTSOFTMAX_BENCH_DTYPE=float64``
    Input dtype (default float32).
"""
from __future__ import annotations

import math
import os

import pytest

import fastsoftmax
from fastsoftmax._bench import inputs, registry


def pytest_addoption(parser):
    group = parser.getgroup("fastsoftmax benchmarks")
    group.addoption("--bench-quick", action="store_true", default=False,
                    help="benchmark the small shape set only "
                         "(also: FASTSOFTMAX_BENCH_QUICK=1)")
    group.addoption("--bench-dtype", choices=("float32", "float64"), default=None,
                    help="input dtype (default: $FASTSOFTMAX_BENCH_DTYPE or float32)")


def _quick(config) -> bool:
    env = os.environ.get("FASTSOFTMAX_BENCH_QUICK", "").strip().lower()
    return config.getoption("--bench-quick") or env not in ("", "0", "false", "no")


def _shapes(config):
    return inputs.QUICK_SHAPES if _quick(config) else inputs.DEFAULT_SHAPES


def pytest_generate_tests(metafunc):
    if "shape" in metafunc.fixturenames:
        metafunc.parametrize("shape", _shapes(metafunc.config), ids=inputs.format_shape)


def pytest_collection_modifyitems(session, config, items):
    # Shape-major order: make_logits caches only the last input (a 2048x32000
    # float32 one is 262 MB and takes ~1 s to draw), so run each shape's tests
    # together.  The sort is stable: within a shape, file order is kept.
    order = {shape: i for i, shape in enumerate(_shapes(config))}

    def shape_index(item):
        callspec = getattr(item, "callspec", None)
        return order.get(callspec.params.get("shape"), -1) if callspec else -1
    items.sort(key=shape_index)


@pytest.fixture(scope="session")
def dtype(pytestconfig) -> str:
    """Input dtype of the session."""
    return (pytestconfig.getoption("--bench-dtype")
            or os.environ.get("FASTSOFTMAX_BENCH_DTYPE", "float32"))


@pytest.fixture(scope="session")
def threads() -> int:
    """Threads of every implementation (fastsoftmax's default)."""
    return fastsoftmax.get_num_threads()


def suggested_rounds(shape, *, lo: int = 3, hi: int = 1000) -> int:
    """pytest-benchmark rounds for a shape: about 1e8 elements' worth, clipped.

    Keeps the suite to a few minutes: 3 rounds at 2048x32000, 1000 at 8x10.
    """
    return int(min(hi, max(lo, 100_000_000 // max(1, math.prod(shape)))))


@pytest.fixture
def run_op(benchmark, dtype, threads):
    """``run_op(op_name, impl, shape)``: benchmark one implementation.

    Skips when the implementation's library is not installed or it has no
    such op.
    """
    def run(op_name: str, impl: str, shape: tuple[int, ...]):
        if not registry.available(impl):
            pytest.skip(f"{impl} is not installed")
        args = registry.OPS[op_name].make_inputs(shape, dtype)
        with registry.thread_count(impl, threads):
            # bound with the threads set: onnxruntime makes its session here
            fn = registry.bind(op_name, impl, args)
        if fn is None:
            pytest.skip(f"no {impl} implementation of {op_name}")
        benchmark.group = f"{op_name} {inputs.format_shape(shape)} {dtype}"
        benchmark.name = impl  # so the group's table reads as a comparison
        read, written = registry.traffic(op_name, shape, dtype)
        benchmark.extra_info.update(op=op_name, impl=impl, shape=list(shape), dtype=dtype,
                                    threads=threads, bytes_moved=read + written)
        with registry.thread_count(impl, threads):
            benchmark.pedantic(fn, rounds=suggested_rounds(shape), iterations=1,
                               warmup_rounds=1)
        if benchmark.stats is not None:  # None under --benchmark-disable
            benchmark.extra_info["gbps_median"] = ((read + written)
                                                   / benchmark.stats.stats.median / 1e9)
    return run
