"""pytest-benchmark suite: fastsoftmax vs the NumPy reference, torch and SciPy.

Run with ``python -m pytest benchmarks`` (not part of the default test run).
The shapes, ops, input makers and implementations come from
:mod:`fastsoftmax._bench`, the module behind ``python -m fastsoftmax bench``;
here pytest-benchmark does the timing and the reporting, one group per op and
shape so its table compares the implementations side by side.

Options
-------
``--bench-quick`` or ``FASTSOFTMAX_BENCH_QUICK=1``
    Use the small shape set (``_bench.QUICK_SHAPES``).
``--bench-dtype float64`` or ``FASTSOFTMAX_BENCH_DTYPE=float64``
    Input dtype (default float32).
"""
from __future__ import annotations

import os

import pytest

import fastsoftmax
from fastsoftmax import _bench


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
    return _bench.QUICK_SHAPES if _quick(config) else _bench.DEFAULT_SHAPES


def pytest_generate_tests(metafunc):
    if "shape" in metafunc.fixturenames:
        metafunc.parametrize("shape", _shapes(metafunc.config), ids=_bench.format_shape)


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
    """Threads for fastsoftmax and torch (fastsoftmax's default)."""
    return fastsoftmax.get_num_threads()


@pytest.fixture
def run_op(benchmark, dtype, threads):
    """``run_op(op_name, impl, shape)``: benchmark one implementation.

    Skips when the implementation's library is not installed or the op has no
    such implementation.
    """
    def run(op_name: str, impl: str, shape: tuple[int, ...]):
        op = _bench.OPS[op_name]
        args = op.make_inputs(shape, dtype)
        fn = _bench.bind(op, impl, args, threads)
        if fn is None:
            pytest.skip(f"no {impl} implementation of {op_name}")
        benchmark.group = f"{op_name} {_bench.format_shape(shape)} {dtype}"
        benchmark.name = impl  # so the group's table reads as a comparison
        nbytes = op.bytes_moved(shape, args[0].itemsize)
        benchmark.extra_info.update(op=op_name, impl=impl, shape=list(shape),
                                    dtype=dtype, threads=threads, bytes_moved=nbytes)
        with _bench.torch_threads(threads if impl == "torch" else None):
            benchmark.pedantic(fn, rounds=_bench.suggested_rounds(shape),
                               iterations=1, warmup_rounds=1)
        if benchmark.stats is not None:  # None under --benchmark-disable
            benchmark.extra_info["gbps_median"] = nbytes / benchmark.stats.stats.median / 1e9
    return run
