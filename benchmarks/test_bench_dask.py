"""The Dask front end on a LocalCluster, with the data on the workers.

Run with ``python -m pytest benchmarks/test_bench_dask.py`` (needs the
``dask`` extra).  A 2-process ``LocalCluster`` (one thread each) holds
logits and labels that the workers generated themselves (persisted, so no
task carries data from the client: see the Dask section of the README for
why that matters); each group compares ``fastsoftmax.dask.cross_entropy``
with the same loss written in Dask + NumPy (a stable log-softmax by
blocks), both computed to a float on the client.

Options: ``FASTSOFTMAX_BENCH_DASK="N,C"`` changes the problem size (default
2000000,100; ``FASTSOFTMAX_BENCH_QUICK=1``: 200000,100).
"""
from __future__ import annotations

import os

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from fastsoftmax import dask as fsd  # noqa: E402

_QUICK = os.environ.get("FASTSOFTMAX_BENCH_QUICK", "").strip().lower() not in ("", "0", "false",
                                                                                "no")
SIZE = tuple(int(s) for s in os.environ.get(
    "FASTSOFTMAX_BENCH_DASK", "200000,100" if _QUICK else "2000000,100").split(","))
DTYPE = os.environ.get("FASTSOFTMAX_BENCH_DTYPE", "float32")
CHUNK_ROWS = max(1, SIZE[0] // 8)


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=40) as cluster, \
            distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def data(client):
    """Logits and labels generated on the workers and kept there."""
    n, c = SIZE
    rng = da.random.default_rng(0)
    x = rng.standard_normal((n, c), chunks=(CHUNK_ROWS, -1), dtype=DTYPE)
    y = rng.integers(0, c, n, chunks=CHUNK_ROWS)
    x, y = client.persist([x, y])
    distributed.wait([x, y])
    return x, y


def _pick(b, t):
    return np.take_along_axis(b, t.astype(np.intp), axis=1)[:, 0]


def dask_numpy_cross_entropy(x, y):
    """The mean cross-entropy in Dask + NumPy: what a Dask user writes."""
    m = x.max(axis=1, keepdims=True)
    lse = da.log(da.exp(x - m).sum(axis=1)) + m[:, 0]
    picked = da.map_blocks(_pick, x, y[:, None], drop_axis=1, dtype=x.dtype)
    return (lse - picked).mean()


IMPLS = {
    "fastsoftmax": lambda x, y: fsd.cross_entropy(x, y),
    "dask+numpy": dask_numpy_cross_entropy,
}


def test_implementations_agree(data):
    x, y = data
    want = dask_numpy_cross_entropy(x.astype(np.float64), y).compute()
    np.testing.assert_allclose(IMPLS["fastsoftmax"](x, y).compute(), want, rtol=1e-5)


@pytest.mark.parametrize("impl", list(IMPLS))
def test_dask_cross_entropy(benchmark, data, impl):
    x, y = data
    n, c = SIZE
    benchmark.group = f"dask cross_entropy {n}x{c} {DTYPE}, LocalCluster 2x1, data on workers"
    benchmark.name = impl
    benchmark.extra_info.update(impl=impl, shape=[n, c], dtype=DTYPE, workers=2,
                                chunk_rows=CHUNK_ROWS)
    fn = IMPLS[impl]
    benchmark.pedantic(lambda: fn(x, y).compute(), rounds=5, iterations=1, warmup_rounds=1)
