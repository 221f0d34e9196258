"""Training step of a classifier's loss: forward + backward on torch tensors.

(And of a softmax: ``fastsoftmax.torch.softmax(x, 1).backward(g)``, whose
backward runs the compiled backward kernel, against ``torch.softmax``.)

``fastsoftmax.torch.cross_entropy(x, y).backward()`` (one fused pass in the
forward computes the loss and the gradient; the backward hands the gradient
over) against ``torch.nn.functional.cross_entropy(x, y).backward()``
(log_softmax, nll, then their two backward passes), float32, the default
thread counts of both libraries.  One pytest-benchmark group per shape::

    python -m pytest benchmarks/test_bench_torch.py
    python -m pytest benchmarks/test_bench_torch.py --bench-quick   # small shapes

Both run in this process, timed once each: noisy on a shared machine.
"""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import fastsoftmax
import fastsoftmax.torch as fst
from conftest import _quick

SHAPES = [(2048, 32000), (1_000_000, 10)]
QUICK_SHAPES = [(256, 4000), (100_000, 10)]
IMPLEMENTATIONS = {"fastsoftmax.torch": fst.cross_entropy,
                   "torch": torch.nn.functional.cross_entropy}


def pytest_generate_tests(metafunc):
    if "ce_shape" in metafunc.fixturenames:
        shapes = QUICK_SHAPES if _quick(metafunc.config) else SHAPES
        metafunc.parametrize("ce_shape", shapes, ids=lambda s: "x".join(map(str, s)))


_cache: dict = {}


def _inputs(shape):
    if shape not in _cache:
        _cache.clear()  # one shape's inputs at a time (2048 x 32000 is 262 MB)
        g = torch.Generator().manual_seed(0)
        _cache[shape] = (torch.randn(shape, generator=g),
                         torch.randint(0, shape[1], (shape[0],), generator=g))
    return _cache[shape]


def _time_step(benchmark, op, impl, shape, step):
    """Time ``step`` (a forward + backward returning the leaf's gradient) as
    the group "<op> forward+backward <shape> float32"."""
    benchmark.group = f"{op} forward+backward {'x'.join(map(str, shape))} float32"
    benchmark.name = impl
    benchmark.extra_info.update(shape=list(shape), torch_threads=torch.get_num_threads(),
                                fastsoftmax_threads=fastsoftmax.get_num_threads())
    grad = benchmark.pedantic(step, rounds=5, iterations=1, warmup_rounds=1)
    assert grad.shape == tuple(shape)


@pytest.mark.parametrize("impl", list(IMPLEMENTATIONS))
def test_cross_entropy_forward_backward(benchmark, impl, ce_shape):
    x0, y = _inputs(ce_shape)
    loss_fn = IMPLEMENTATIONS[impl]

    def step():
        x = x0.detach().requires_grad_(True)  # a fresh leaf: no accumulation
        loss_fn(x, y).backward()
        return x.grad

    _time_step(benchmark, "cross_entropy", impl, ce_shape, step)


SOFTMAX_IMPLEMENTATIONS = {"fastsoftmax.torch": fst.softmax, "torch": torch.softmax}


@pytest.mark.parametrize("impl", list(SOFTMAX_IMPLEMENTATIONS))
def test_softmax_forward_backward(benchmark, impl, ce_shape):
    x0, _ = _inputs(ce_shape)
    g = torch.rand(ce_shape, generator=torch.Generator().manual_seed(1))
    softmax = SOFTMAX_IMPLEMENTATIONS[impl]

    def step():
        x = x0.detach().requires_grad_(True)
        softmax(x, 1).backward(g)
        return x.grad

    _time_step(benchmark, "softmax", impl, ce_shape, step)

