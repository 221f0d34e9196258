"""fastsoftmax.dask: lazy block-wise kernels on Dask arrays, checked against
the in-memory functions, locally and on a real multi-process cluster."""
import doctest
import os
import threading
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import fastsoftmax as fs  # noqa: E402
from fastsoftmax import _core, _threads  # noqa: E402
from fastsoftmax import dask as fsd  # noqa: E402

SYNC = dict(scheduler="sync")
RTOL = {np.float64: 1e-12, np.float32: 2e-6}
REDUCTIONS = ("mean", "sum", "none")


def _cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _unpooled_default():
    # what get_num_threads() would give the calling thread outside any pool
    # (omp_get_max_threads() is per thread: ask in the thread itself)
    return max(1, min(_core.omp_max_threads(), _cpus()))


@pytest.fixture(scope="module")
def client():
    """A real cluster: two worker processes with one thread each."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=40) as cluster, \
            distributed.Client(cluster, set_as_default=False) as c:
        yield c


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def _logits(shape, dtype=np.float64, seed=0, scale=4.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def _ce_case(n=1000, c=37, dtype=np.float64, seed=1, ignore_every=7):
    rng = np.random.default_rng(seed)
    x = _logits((n, c), dtype, seed)
    y = rng.integers(0, c, n)
    y[::ignore_every] = -100
    w = rng.random(c) + 0.1
    t = fs.softmax(rng.standard_normal((n, c)) * 2).astype(dtype)
    return x, y, w, t


def _check_ce(got, want, dtype, reduction):
    if reduction == "none":
        assert got.shape == want.shape and got.dtype == want.dtype
    else:
        assert type(got) is type(want), (type(got), type(want))
    assert_allclose(got, want, rtol=RTOL[dtype], atol=0)


# ------------------------------------------------------------ softmax family

@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, np.int32])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_elementwise_matches_in_memory_bitwise(name, dtype, no_warnings):
    x = _logits((1000, 37), np.float64, seed=2)
    if np.dtype(dtype).kind == "i":
        x = np.round(x).astype(dtype)
    else:
        x = x.astype(dtype)
    dx = da.from_array(x, chunks=(128, 37))
    res = getattr(fsd, name)(dx)
    assert isinstance(res, da.Array) and res.chunks == dx.chunks
    want = getattr(fs, name)(x)
    assert res.dtype == want.dtype
    # every row goes through the same kernel: bitwise the in-memory result
    assert_array_equal(res.compute(**SYNC), want)


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_elementwise_any_axis(name, axis):
    x = _logits((6, 7, 8), seed=3)
    chunks = [3, 4, 5]
    chunks[axis] = -1
    res = getattr(fsd, name)(da.from_array(x, chunks=tuple(chunks)), axis=axis)
    assert_array_equal(res.compute(**SYNC), getattr(fs, name)(x, axis=axis))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_elementwise_axis_none_and_0d(name):
    x = _logits((6, 7), seed=4)
    with pytest.warns(fsd.RechunkWarning):
        res = getattr(fsd, name)(da.from_array(x, chunks=3), axis=None)
    assert_array_equal(res.compute(**SYNC), getattr(fs, name)(x, axis=None))
    r0 = getattr(fsd, name)(da.from_array(np.float32(3.0))).compute(**SYNC)
    assert r0 == getattr(fs, name)(np.float32(3.0)) and r0.dtype == np.float32


def test_numpy_input_is_wrapped(no_warnings):
    x = _logits((50, 9), seed=5)
    res = fsd.softmax(x, axis=0)
    assert isinstance(res, da.Array)
    assert_array_equal(res.compute(**SYNC), fs.softmax(x, axis=0))


# ------------------------------------------------------------ logsumexp

@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [0, 1, -1, None])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_logsumexp_tree_reduction_without_rechunking(dtype, axis, keepdims, no_warnings):
    x = _logits((300, 41), dtype, seed=6, scale=20.0)
    dx = da.from_array(x, chunks=(64, 10))      # the reduced axis is split
    res = fsd.logsumexp(dx, axis=axis, keepdims=keepdims)
    want = fs.logsumexp(x, axis=axis, keepdims=keepdims)
    got = res.compute(**SYNC)
    assert got.shape == want.shape and got.dtype == want.dtype
    assert_allclose(got, want, rtol=4 * np.finfo(dtype).eps)
    if axis is None and not keepdims:
        assert type(got) is type(want)        # a NumPy scalar


def test_logsumexp_one_chunk_along_axis_is_bitwise():
    x = _logits((300, 41), seed=7)
    got = fsd.logsumexp(da.from_array(x, chunks=(64, 41)), axis=1).compute(**SYNC)
    assert_array_equal(got, fs.logsumexp(x, axis=1))


def test_logsumexp_special_values_and_precision_across_chunks():
    inf, nan = np.inf, np.nan
    rows = [[1.0, inf], [inf, inf], [-inf, -inf], [1.0, -inf], [inf, -inf], [nan, 1.0],
            [inf, nan], [-inf, nan], [0.0, -40.0], [-40.0, 0.0], [-inf, 0.0], [3.0, 3.0]]
    x = np.array(rows)
    got = fsd.logsumexp(da.from_array(x, chunks=1), axis=1).compute(**SYNC)
    want = fs.logsumexp(x, axis=1)
    assert_array_equal(np.isnan(got), np.isnan(want))
    assert_allclose(got, want, rtol=1e-15, atol=0)
    # one term dominating, split over chunks: SciPy's log1p precision is kept
    assert got[8] == pytest.approx(4.248354255291589e-18, rel=1e-12)
    assert got[9] == pytest.approx(4.248354255291589e-18, rel=1e-12)


def test_logsumexp_dtypes_and_edge_shapes():
    h = np.arange(7, dtype=np.float16)
    got = fsd.logsumexp(da.from_array(h, chunks=2)).compute(**SYNC)
    assert got.dtype == np.float16 and got == fs.logsumexp(h)   # float32 partials
    i = np.arange(12).reshape(3, 4)
    assert_allclose(fsd.logsumexp(da.from_array(i, chunks=2), axis=0).compute(**SYNC),
                    fs.logsumexp(i, axis=0), rtol=1e-15)
    for shape, axis in [((3, 0), 1), ((3, 0), None), ((0, 3), 0), ((0, 3), 1)]:
        z = np.zeros(shape)
        got = fsd.logsumexp(da.from_array(z, chunks=1), axis=axis).compute(**SYNC)
        assert_array_equal(got, fs.logsumexp(z, axis=axis))


# ------------------------------------------------------------ rechunking

def test_split_class_axis_is_rechunked_with_a_warning():
    x = _logits((400, 30), seed=8)
    dx = da.from_array(x, chunks=(100, 7))
    assert issubclass(fsd.RechunkWarning, UserWarning)
    with pytest.warns(fsd.RechunkWarning, match=r"axis 1 \(length 30, 5 chunks\)") as rec:
        res = fsd.softmax(dx)
    assert rec[0].filename == __file__          # points at the caller
    assert "rechunk({1: -1})" in str(rec[0].message)
    assert res.chunks == ((100,) * 4, (30,))
    assert_array_equal(res.compute(**SYNC), fs.softmax(x))
    y = np.arange(400) % 30
    with pytest.warns(fsd.RechunkWarning) as rec:
        loss, grad = fsd.cross_entropy_and_grad(dx, y)
    assert rec[0].filename == __file__
    assert grad.chunks == ((100,) * 4, (30,))
    assert_allclose(loss.compute(**SYNC), fs.cross_entropy(x, y), rtol=1e-13)


def test_rechunking_a_large_class_axis_keeps_blocks_small():
    x = _logits((2000, 400), seed=9)
    dx = da.from_array(x, chunks=(2000, 50))     # 800 kB blocks
    with dask.config.set({"array.chunk-size": "256KiB"}), \
            pytest.warns(fsd.RechunkWarning):
        res = fsd.log_softmax(dx)
    assert res.chunks[1] == (400,)
    biggest = max(res.chunks[0]) * 400 * 8
    assert biggest <= 2000 * 50 * 8            # no block larger than before
    assert_array_equal(res.compute(**SYNC), fs.log_softmax(x))


def test_target_chunks_are_aligned_silently(no_warnings):
    x, y, w, t = _ce_case(n=600, c=11)
    dx = da.from_array(x, chunks=(100, 11))
    dy = da.from_array(y, chunks=77)
    dt = da.from_array(t, chunks=(250, 5))
    assert_allclose(fsd.cross_entropy(dx, dy, weight=w).compute(**SYNC),
                    fs.cross_entropy(x, y, weight=w), rtol=1e-13)
    assert_allclose(fsd.cross_entropy(dx, dt).compute(**SYNC),
                    fs.cross_entropy(x, t), rtol=1e-13)


# ------------------------------------------------------------ cross-entropy

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("opts", [{}, {"weight": True}, {"label_smoothing": 0.2},
                                  {"weight": True, "label_smoothing": 0.1,
                                   "ignore_index": 3}], ids=str)
def test_cross_entropy_index_targets(opts, dtype, reduction):
    x, y, w, _ = _ce_case(dtype=dtype)
    if "ignore_index" in opts:
        y = np.where(y == -100, 3, y)
    kw = dict(opts, weight=w if opts.get("weight") else None, reduction=reduction)
    dx = da.from_array(x, chunks=(90, 37))
    loss = fsd.cross_entropy(dx, y, **kw)
    assert isinstance(loss, da.Array)
    _check_ce(loss.compute(**SYNC), fs.cross_entropy(x, y, **kw), dtype, reduction)
    lg = fsd.cross_entropy_and_grad(dx, y, **kw)
    assert all(isinstance(a, da.Array) for a in lg)
    got_loss, got_grad = dask.compute(*lg, **SYNC)
    want_loss, want_grad = fs.cross_entropy_and_grad(x, y, **kw)
    _check_ce(got_loss, want_loss, dtype, reduction)
    assert got_grad.dtype == want_grad.dtype
    assert_allclose(got_grad, want_grad, rtol=RTOL[dtype],
                    atol=RTOL[dtype] * np.abs(want_grad).max())


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cross_entropy_probability_targets(dtype, reduction):
    x, _, w, t = _ce_case(dtype=dtype, seed=11)
    for kw in [dict(reduction=reduction),
               dict(reduction=reduction, weight=w, label_smoothing=0.3)]:
        dx = da.from_array(x, chunks=(128, 37))
        _check_ce(fsd.cross_entropy(dx, t, **kw).compute(**SYNC),
                  fs.cross_entropy(x, t, **kw), dtype, reduction)
        got_loss, got_grad = dask.compute(*fsd.cross_entropy_and_grad(dx, t, **kw), **SYNC)
        want_loss, want_grad = fs.cross_entropy_and_grad(x, t, **kw)
        _check_ce(got_loss, want_loss, dtype, reduction)
        assert_allclose(got_grad, want_grad, rtol=RTOL[dtype],
                        atol=RTOL[dtype] * np.abs(want_grad).max())


def test_cross_entropy_float16_block_sums_do_not_overflow():
    # each block's loss sum (~75000) is beyond float16's range: the block sums
    # must be kept in float32, as the in-memory function keeps its partial sums
    rng = np.random.default_rng(15)
    x = (rng.standard_normal((60000, 10)) * 2).astype(np.float16)
    y = rng.integers(0, 10, 60000)
    dx = da.from_array(x, chunks=(30000, 10))
    want = fs.cross_entropy(x, y)
    got = fsd.cross_entropy(dx, y).compute(**SYNC)
    assert got.dtype == np.float16 and np.isfinite(got) and got == want
    loss, grad = dask.compute(*fsd.cross_entropy_and_grad(dx, y), **SYNC)
    want_loss, want_grad = fs.cross_entropy_and_grad(x, y)
    assert loss == want_loss and grad.dtype == np.float16
    # one float16 rounding apart (the 1/N scale is applied after the kernel)
    assert_allclose(grad.astype(np.float64), want_grad, rtol=1e-3,
                    atol=float(np.finfo(np.float16).smallest_subnormal))
    none = fsd.cross_entropy(dx, y, reduction="none").compute(**SYNC)
    assert none.dtype == np.float16
    assert_array_equal(none, fs.cross_entropy(x, y, reduction="none"))


@pytest.mark.parametrize("index_target", [True, False])
def test_cross_entropy_class_axis_in_the_middle(index_target):
    rng = np.random.default_rng(12)
    x = _logits((6, 5, 8), seed=12)
    t = rng.integers(0, 5, (6, 8)) if index_target else fs.softmax(_logits((6, 5, 8)), axis=1)
    dx = da.from_array(x, chunks=(4, 5, 3))
    for reduction in REDUCTIONS:
        kw = dict(axis=1, weight=rng.random(5), label_smoothing=0.1, reduction=reduction)
        got_loss, got_grad = dask.compute(*fsd.cross_entropy_and_grad(dx, t, **kw), **SYNC)
        want_loss, want_grad = fs.cross_entropy_and_grad(x, t, **kw)
        assert_allclose(got_loss, want_loss, rtol=1e-13)
        assert_allclose(got_grad, want_grad, rtol=1e-13, atol=1e-16)
        assert_allclose(fsd.cross_entropy(dx, t, **kw).compute(**SYNC), want_loss, rtol=1e-13)


def test_mean_is_global_not_a_mean_of_block_means():
    # block 0: 10 samples, 9 ignored; block 1: 10 samples, none ignored
    x = _logits((20, 4), seed=13)
    y = np.array([0] + [-100] * 9 + [1, 2, 3, 0, 1, 2, 3, 0, 1, 2])
    w = np.array([1.0, 2.0, 3.0, 4.0])
    dx = da.from_array(x, chunks=(10, 4))
    got = fsd.cross_entropy(dx, y, weight=w).compute(**SYNC)
    want = fs.cross_entropy(x, y, weight=w)
    block_means = [fs.cross_entropy(x[i:i + 10], y[i:i + 10], weight=w) for i in (0, 10)]
    assert got == pytest.approx(want, rel=1e-14)
    assert abs(np.mean(block_means) - want) > 0.1
    # and the gradient is that of the global mean
    _, g = dask.compute(*fsd.cross_entropy_and_grad(dx, y, weight=w), **SYNC)
    assert_allclose(g, fs.cross_entropy_and_grad(x, y, weight=w)[1], rtol=1e-14, atol=1e-17)


def test_all_ignored_and_empty_batch():
    x = _logits((30, 5), seed=14)
    y = np.full(30, -100)
    dx = da.from_array(x, chunks=(10, 5))
    loss, grad = dask.compute(*fsd.cross_entropy_and_grad(dx, y), **SYNC)
    assert np.isnan(loss) and np.isnan(fs.cross_entropy(x, y))
    assert_array_equal(grad, np.zeros_like(x))               # 0, not NaN
    assert fsd.cross_entropy(dx, y, reduction="sum").compute(**SYNC) == 0.0
    e = da.zeros((0, 5), chunks=(10, 5))
    got = fsd.cross_entropy(e, np.zeros(0, dtype=np.int64)).compute(**SYNC)
    assert np.isnan(got) and np.isnan(fs.cross_entropy(np.zeros((0, 5)), np.zeros(0, int)))
    g = fsd.cross_entropy_and_grad(e, np.zeros(0, dtype=np.int64))[1].compute(**SYNC)
    assert g.shape == (0, 5)


def test_loss_and_grad_of_a_block_come_from_one_kernel_call(monkeypatch):
    calls = []
    real = fsd._cross_entropy_and_grad

    def counting(*args, **kwargs):
        calls.append(kwargs["reduction"])
        return real(*args, **kwargs)

    monkeypatch.setattr(fsd, "_cross_entropy_and_grad", counting)
    x, y, _, _ = _ce_case(n=500, c=8)
    dx = da.from_array(x, chunks=(50, 8))                     # 10 blocks
    for reduction in REDUCTIONS:
        calls.clear()
        loss, grad = fsd.cross_entropy_and_grad(dx, y, reduction=reduction)
        assert calls == []                                    # lazy
        for scheduler in ("sync", "threads"):
            calls.clear()
            dask.compute(loss, grad, scheduler=scheduler)
            assert len(calls) == 10
            # never a per-block mean
            assert set(calls) == {"none" if reduction == "none" else "sum"}
        calls.clear()
        grad.compute(**SYNC)
        assert len(calls) == 10


def test_per_block_calls_never_use_the_mean(monkeypatch):
    seen = []
    real = fsd._cross_entropy

    def spy(*args, **kwargs):
        seen.append(kwargs["reduction"])
        return real(*args, **kwargs)

    monkeypatch.setattr(fsd, "_cross_entropy", spy)
    x, y, _, _ = _ce_case(n=300, c=6)
    fsd.cross_entropy(da.from_array(x, chunks=(100, 6)), y).compute(**SYNC)
    assert seen == ["sum"] * 3


def test_argument_errors_are_raised_at_call_time():
    dx = da.from_array(_logits((20, 4)), chunks=(5, 4))
    y = np.zeros(20, dtype=np.int64)
    with pytest.raises(ValueError, match="reduction must be one of"):
        fsd.cross_entropy(dx, y, reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        fsd.cross_entropy(dx, y, label_smoothing=1.5)
    with pytest.raises(ValueError, match="weight must have shape"):
        fsd.cross_entropy(dx, y, weight=np.ones(3))
    with pytest.raises(ValueError, match="target has shape"):
        fsd.cross_entropy(dx, np.zeros(19, dtype=np.int64))
    with pytest.raises(TypeError, match="class indices must be integers"):
        fsd.cross_entropy(dx, np.zeros(20))
    with pytest.raises(TypeError, match="target must hold integer class indices"):
        fsd.cross_entropy_and_grad(dx, np.zeros(20, dtype=bool))
    with pytest.raises(ValueError, match="at least one dimension"):
        fsd.cross_entropy(da.from_array(np.float64(1.0)), y)
    with pytest.raises(ValueError, match="num_threads must be a positive integer"):
        fsd.softmax(dx, num_threads=0)
    with pytest.raises(TypeError, match="num_threads must be a positive integer"):
        fsd.logsumexp(dx, num_threads=1.5)
    with pytest.raises(np.exceptions.AxisError):
        fsd.log_softmax(dx, axis=2)
    with pytest.raises(TypeError, match="got complex128"):
        fsd.softmax(da.zeros((3, 3), dtype=complex))
    with pytest.raises(TypeError, match="masked arrays"):
        fsd.softmax(da.ma.masked_array(da.zeros((3, 3)), mask=da.zeros((3, 3), dtype=bool)))
    unknown = da.from_array(_logits((20, 4)), chunks=(5, 4))
    unknown = unknown[unknown[:, 0] > -np.inf]     # chunk sizes now unknown
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        fsd.cross_entropy(unknown, y)


def test_bad_class_index_reported_at_compute_with_its_global_position():
    dx = da.from_array(_logits((100, 4)), chunks=(10, 4))
    y = np.zeros(100, dtype=np.int64)
    y[57] = 4
    for reduction in REDUCTIONS:
        loss = fsd.cross_entropy(dx, y, reduction=reduction)
        with pytest.raises(IndexError, match=r"target\[57\] = 4 is not a class index"):
            loss.compute(**SYNC)
        with pytest.raises(IndexError, match=r"target\[57\] = 4"):
            dask.compute(*fsd.cross_entropy_and_grad(dx, y, reduction=reduction), **SYNC)


def test_num_threads_is_forwarded_to_every_block(monkeypatch):
    seen = []
    real = fsd._softmax

    def spy(*args, **kwargs):
        seen.append(kwargs["num_threads"])
        return real(*args, **kwargs)

    monkeypatch.setattr(fsd, "_softmax", spy)
    dx = da.from_array(_logits((40, 5)), chunks=(10, 5))
    fsd.softmax(dx, num_threads=3).compute(**SYNC)
    assert seen == [3] * 4
    seen.clear()
    fsd.softmax(dx).compute(**SYNC)
    assert seen == [None] * 4          # the worker's default, decided in the worker


def test_threaded_scheduler_blocks_get_the_workers_share():
    def block_threads(b):
        share = max(1, min(_unpooled_default(), _cpus() // workers))
        return np.full(b.shape, fs.get_num_threads() == share)

    x = da.zeros(8, chunks=1)
    for workers in (1, 2, 3):
        got = x.map_blocks(block_threads, dtype=bool).compute(scheduler="threads",
                                                               num_workers=workers)
        assert got.all()


def test_distributed_threadpool_is_recognised():
    # distributed vendors its own ThreadPoolExecutor class (not a subclass of
    # the standard library's): its worker threads must get their share too
    from distributed.threadpoolexecutor import ThreadPoolExecutor

    for k in (1, 2, 5):
        ex = ThreadPoolExecutor(k)
        try:
            got, unpooled = ex.submit(lambda: (fs.get_num_threads(),
                                               _unpooled_default())).result()
            size = ex.submit(_threads._pool_size).result()
        finally:
            ex.shutdown()
        assert size == k
        assert got == max(1, min(unpooled, _cpus() // k))


def test_module_docstring_examples():
    res = doctest.testmod(fsd, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0
    assert res.failed == 0


# ------------------------------------------------------------ on a real cluster

def _memmap_source(tmp_path, shape=(20000, 50)):
    path = tmp_path / "logits.f32"
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=shape)
    rng = np.random.default_rng(20)
    for i in range(0, shape[0], 5000):
        mm[i:i + 5000] = (rng.standard_normal((min(5000, shape[0] - i), shape[1])) * 4)
    mm.flush()
    return np.memmap(path, dtype=np.float32, mode="r", shape=shape)


def test_cluster_softmax_family(client):
    x = _logits((3000, 64), seed=21)
    dx = da.from_array(x, chunks=(500, 64))
    sm, lsm, lse, lse_all = dask.compute(
        fsd.softmax(dx), fsd.log_softmax(dx), fsd.logsumexp(dx, axis=0),
        fsd.logsumexp(dx, axis=None), scheduler=client)
    assert_array_equal(sm, fs.softmax(x))
    assert_array_equal(lsm, fs.log_softmax(x))
    assert_allclose(lse, fs.logsumexp(x, axis=0), rtol=1e-14)
    assert_allclose(lse_all, fs.logsumexp(x, axis=None), rtol=1e-14)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cluster_cross_entropy_and_grad(client, reduction):
    x, y, w, t = _ce_case(n=4000, c=37, seed=22)
    dx = da.from_array(x, chunks=(500, 37))
    dy = da.from_array(y, chunks=500)
    for target in (dy, t):
        kw = dict(weight=w, label_smoothing=0.1, reduction=reduction)
        loss, (loss2, grad) = dask.compute(fsd.cross_entropy(dx, target, **kw),
                                           fsd.cross_entropy_and_grad(dx, target, **kw),
                                           scheduler=client)
        tn = y if target is dy else t
        want_loss, want_grad = fs.cross_entropy_and_grad(x, tn, **kw)
        _check_ce(loss, want_loss, np.float64, reduction)
        _check_ce(loss2, want_loss, np.float64, reduction)
        assert_allclose(grad, want_grad, rtol=1e-12, atol=1e-12 * np.abs(want_grad).max())


def test_cluster_memmap_source_many_blocks(client, tmp_path):
    mm = _memmap_source(tmp_path)
    x = np.asarray(mm)
    dx = da.from_array(mm, chunks=(1000, 50))
    assert dx.numblocks == (20, 1)
    rng = np.random.default_rng(23)
    y = rng.integers(0, 50, 20000)
    y[rng.random(20000) < 0.1] = -100
    w = (rng.random(50) + 0.5).astype(np.float32)
    dy = da.from_array(y, chunks=1000)
    kw = dict(weight=w, label_smoothing=0.05)
    sm, lse, loss, (loss2, grad) = dask.compute(
        fsd.softmax(dx), fsd.logsumexp(dx, axis=None), fsd.cross_entropy(dx, dy, **kw),
        fsd.cross_entropy_and_grad(dx, dy, **kw), scheduler=client)
    assert_array_equal(sm, fs.softmax(x))
    assert_allclose(lse, fs.logsumexp(x, axis=None), rtol=2e-6)
    want_loss, want_grad = fs.cross_entropy_and_grad(x, y, **kw)
    assert loss.dtype == np.float32 and loss2.dtype == np.float32
    assert_allclose([loss, loss2], [want_loss] * 2, rtol=2e-6)
    assert grad.dtype == np.float32
    assert_allclose(grad, want_grad, rtol=2e-6, atol=2e-6 * np.abs(want_grad).max())
    # the same graph on the local threaded scheduler
    got = fsd.cross_entropy(dx, dy, reduction="sum", **kw).compute(scheduler="threads")
    assert_allclose(got, fs.cross_entropy(x, y, reduction="sum", **kw), rtol=2e-6)


def _worker_thread_info():
    return (fs.get_num_threads(), _threads._pool_size(), os.environ.get("OMP_NUM_THREADS"),
            threading.current_thread() is threading.main_thread())


def test_cluster_workers_use_their_share(client):
    infos = [client.submit(_worker_thread_info, pure=False, workers=[w]).result()
             for w in client.scheduler_info()["workers"]]
    assert len(infos) == 2
    for n, pool, omp_env, is_main in infos:
        assert not is_main and pool == 1          # threads_per_worker=1
        assert 1 <= n <= _cpus()
        # distributed's nanny starts workers with OMP_NUM_THREADS=1 (its
        # distributed.nanny.pre-spawn-environ default): the stack's rule
        if omp_env == "1":
            assert n == 1


# ------------------------------------------------------------ data in the graph

@pytest.fixture
def default_client():
    """An in-process client, set as the default scheduler (as users do)."""
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1,
                            dashboard_address=None) as c:
        yield c


def _memmap(tmp_path, shape=(1000, 10)):
    m = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.float32,
                                  shape=shape)
    m[:] = np.random.default_rng(0).standard_normal(shape)
    m.flush()
    return np.load(tmp_path / "x.npy", mmap_mode="r")


def test_embedded_memmap_warns_with_a_client(default_client, tmp_path):
    m = _memmap(tmp_path)
    y = np.zeros(m.shape[0], dtype=np.int64)
    x = da.from_array(m, chunks=(250, -1))
    with pytest.warns(fsd.EmbeddedDataWarning, match="memmap"):
        loss = fsd.cross_entropy(x, y)
    assert_allclose(loss.compute(), fs.cross_entropy(np.asarray(m), y), rtol=1e-6)


def test_large_in_memory_array_warns_with_a_client(default_client, monkeypatch):
    x = da.from_array(np.ones((1000, 10)), chunks=(250, -1))   # 80 kB
    with warnings.catch_warnings():
        warnings.simplefilter("error", fsd.EmbeddedDataWarning)
        fsd.softmax(x)
    monkeypatch.setattr(fsd, "EMBEDDED_LIMIT_BYTES", 50_000)
    with pytest.warns(fsd.EmbeddedDataWarning, match="MiB of in-memory arrays"):
        fsd.softmax(x)
    with pytest.warns(fsd.EmbeddedDataWarning, match="MiB of in-memory arrays"):
        fsd.softmax(np.ones((1000, 10)))     # wrapped by the front end: the same


def test_no_warning_for_data_the_workers_read(default_client, tmp_path):
    """Data the tasks load themselves (an .npy stack) carries no data."""
    da.to_npy_stack(tmp_path / "stack", da.ones((1000, 10), chunks=(250, -1)))
    x = da.from_npy_stack(tmp_path / "stack")
    with warnings.catch_warnings():
        warnings.simplefilter("error", fsd.EmbeddedDataWarning)
        out = fsd.softmax(x).compute()
    assert_allclose(out, np.full((1000, 10), 0.1))


def test_no_warning_without_a_client(tmp_path):
    m = _memmap(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", fsd.EmbeddedDataWarning)
        fsd.softmax(da.from_array(m, chunks=(250, -1)))
