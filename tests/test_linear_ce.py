"""linear_cross_entropy(_and_grad): the loss of ``hidden @ weight.T + bias``
computed in tiles, against the cross-entropy of the full float64 logits (the
reference ``fastsoftmax.slow`` and torch autograd), finite differences, and a
peak-memory check."""
from __future__ import annotations

import doctest
import importlib
import itertools
import json
import os
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import slow
from fastsoftmax import linear as linear_mod

lce = fs.linear_cross_entropy
lce_grad = fs.linear_cross_entropy_and_grad

N, D, V = 37, 16, 1000
# whole vocabulary (default and explicit), tiles that do not divide V, one
# that does, a tile of one column and one wider than V
CHUNKS = [None, 1, 7, 333, 250, 999, 1000, 4096]
REDUCTIONS = ["mean", "sum", "none"]
# every combination of the options, (label_smoothing, z_loss, softcap, bias?)
OPTIONS = list(itertools.product([0.0, 0.1], [0.0, 1e-2], [None, 3.0], [False, True]))


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def make(n=N, d=D, v=V, dtype=np.float64, seed=0, n_ignored=3, scale=1.0):
    rng = _rng("linear", n, d, v, seed)
    h = (rng.standard_normal((n, d)) * scale).astype(dtype)
    w = (rng.standard_normal((v, d)) * scale).astype(dtype)
    b = rng.standard_normal(v).astype(dtype)
    y = rng.integers(0, v, n)
    y[rng.choice(n, size=min(n_ignored, n), replace=False)] = -100
    return h, w, b, y


def reference(h, w, y, b=None, **kw):
    """(loss, grad_hidden, grad_weight, grad_bias or None) of ``fastsoftmax.slow``
    on float64 copies: the full logits' cross-entropy and its gradients."""
    h, w = np.asarray(h, dtype=np.float64), np.asarray(w, dtype=np.float64)
    b = None if b is None else np.asarray(b, dtype=np.float64)
    got = slow.linear_cross_entropy_and_grad(h, w, y, bias=b, **kw)
    return got if b is not None else got + (None,)


def assert_close(got, expect, rtol, what=""):
    got = np.asarray(got, dtype=np.float64)
    expect = np.asarray(expect, dtype=np.float64)
    scale = float(np.abs(expect).max()) if expect.size else 1.0
    np.testing.assert_allclose(got, expect, rtol=rtol, atol=rtol * scale, err_msg=what)


def check_all(got, expect, bias, rtol, what=""):
    loss, gh, gw = got[:3]
    assert_close(loss, expect[0], rtol, what + " loss")
    assert_close(gh, expect[1], rtol, what + " grad_hidden")
    assert_close(gw, expect[2], rtol, what + " grad_weight")
    if bias:
        assert len(got) == 4
        assert_close(got[3], expect[3], rtol, what + " grad_bias")
    else:
        assert len(got) == 3


# ------------------------------------------------------------ against the full logits

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("chunk_size", [c for c in CHUNKS if c != 1], ids=str)
def test_every_option_float64(chunk_size, reduction):
    h, w, b, y = make()
    for eps, z, cap, with_bias in OPTIONS:
        kw = dict(label_smoothing=eps, reduction=reduction, z_loss=z, softcap=cap)
        bias = b if with_bias else None
        what = f"eps={eps} z={z} softcap={cap} bias={with_bias}"
        expect = reference(h, w, y, bias, **kw)
        got = lce_grad(h, w, y, bias=bias, chunk_size=chunk_size, **kw)
        check_all(got, expect, with_bias, 1e-11, what)
        loss = lce(h, w, y, bias=bias, chunk_size=chunk_size, **kw)
        assert_close(loss, expect[0], 1e-11, what + " forward")
        # the forward is the very loss the gradient call returns
        np.testing.assert_array_equal(loss, got[0])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_tile_of_one_column(reduction):
    # one vocabulary column per tile: 1000 tiles, every merge exercised
    h, w, b, y = make()
    for eps, z, cap, with_bias in [(0.0, 0.0, None, False), (0.1, 1e-2, 3.0, True)]:
        kw = dict(label_smoothing=eps, reduction=reduction, z_loss=z, softcap=cap)
        bias = b if with_bias else None
        expect = reference(h, w, y, bias, **kw)
        check_all(lce_grad(h, w, y, bias=bias, chunk_size=1, **kw), expect, with_bias,
                  1e-11, f"eps={eps} z={z} softcap={cap}")


@pytest.mark.parametrize("chunk_size", [None, 1, 333, 1000], ids=str)
def test_float32(chunk_size):
    h, w, b, y = make(dtype=np.float32)
    for eps, z, cap, with_bias in OPTIONS[::3] + [OPTIONS[-1]]:
        kw = dict(label_smoothing=eps, z_loss=z, softcap=cap)
        bias = b if with_bias else None
        got = lce_grad(h, w, y, bias=bias, chunk_size=chunk_size, **kw)
        assert all(g.dtype == np.float32 for g in got)
        check_all(got, reference(h, w, y, bias, **kw), with_bias, 5e-6,
                  f"eps={eps} z={z} softcap={cap}")


@pytest.mark.parametrize("tile_bytes", [4096, 60_000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_default_tiling_with_small_tiles(monkeypatch, tile_bytes, dtype):
    """A small tile budget forces several row blocks (whole-vocabulary path,
    accumulating grad_weight over blocks) or the vocabulary-tiled default."""
    monkeypatch.setattr(linear_mod, "TILE_BYTES", tile_bytes)
    h, w, b, y = make(n=150, v=300, dtype=dtype)
    rtol = 5e-6 if dtype == np.float32 else 1e-11
    for kw in [dict(), dict(label_smoothing=0.2, z_loss=1e-3, softcap=4.0)]:
        check_all(lce_grad(h, w, y, bias=b, **kw), reference(h, w, y, b, **kw), True,
                  rtol, str(kw))
        for chunk_size in (None, 64, 300):
            assert_close(lce(h, w, y, bias=b, chunk_size=chunk_size, **kw),
                         reference(h, w, y, b, **kw)[0], rtol)


def _problem(n, v, dtype=np.float32, chunk_size=None, want_grad=True):
    return linear_mod._Problem(np.zeros((n, 8), dtype), np.zeros((v, 8), dtype),
                               np.zeros(n, np.int64), None, -100, 0.0, "mean", 0.0, None,
                               chunk_size, want_grad)


def test_tiling_choice():
    item, tile = 4, linear_mod.TILE_BYTES
    # gradients: whole vocabulary while a block of >= 64 rows (or all rows) fits
    p = _problem(4096, 32000)
    assert p.full and p.vt == 32000 and p.nb == tile // (32000 * item)
    p = _problem(4096, 1 << 20)
    assert not p.full and p.nb == 1024 and p.nb * p.vt * item <= tile
    # the loss alone: blocks of 1024 rows by vocabulary tiles
    p = _problem(4096, 32000, want_grad=False)
    assert not p.full and p.nb == 1024 and p.vt == tile // (1024 * item)
    # ... unless the whole vocabulary fits
    p = _problem(500, 1000, want_grad=False)
    assert p.full and p.nb == 500
    # chunk_size is the vocabulary tile width
    p = _problem(10, 100, np.float64, chunk_size=30)
    assert not p.full and p.vt == 30 and p.nb == 10
    p = _problem(10, 100, np.float64, chunk_size=100, want_grad=False)
    assert p.full


def test_batch_dims_and_reduction_none():
    h, w, b, y = make(n=24)
    h3, y3 = h.reshape(2, 3, 4, D), y.reshape(2, 3, 4)
    loss = lce(h3, w, y3, reduction="none", chunk_size=100)
    assert loss.shape == (2, 3, 4)
    assert_close(loss.reshape(-1), reference(h, w, y, reduction="none")[0], 1e-12)
    assert np.all(loss.reshape(-1)[y == -100] == 0)
    got = lce_grad(h3, w, y3, bias=b)
    assert got[1].shape == h3.shape and got[2].shape == w.shape and got[3].shape == b.shape
    check_all((got[0], got[1].reshape(h.shape), got[2], got[3]), reference(h, w, y, b), True,
              1e-11)
    # a single sample: hidden (D,), target ()
    loss = lce(h[0], w, y[0] if y[0] != -100 else 5, reduction="none")
    assert np.ndim(loss) == 0


def test_ignore_index_values():
    h, w, b, y = make(n=20, n_ignored=0)
    y[:4] = 7  # ignore_index may be a valid class id
    for chunk_size in (None, 5):
        got = lce_grad(h, w, y, bias=b, ignore_index=7, chunk_size=chunk_size)
        check_all(got, reference(h, w, y, b, ignore_index=7), True, 1e-11)
        assert np.all(got[1][:4] == 0)


@pytest.mark.parametrize("chunk_size", [None, 64])
def test_all_ignored_and_empty(chunk_size):
    h, w, b, y = make(n=5)
    y[:] = -100
    assert np.isnan(lce(h, w, y, chunk_size=chunk_size))
    assert lce(h, w, y, reduction="sum", chunk_size=chunk_size) == 0
    loss, gh, gw, gb = lce_grad(h, w, y, bias=b, chunk_size=chunk_size)
    assert np.isnan(loss) and not gh.any() and not gw.any() and not gb.any()
    # no samples at all
    h0, y0 = np.zeros((0, D)), np.zeros(0, np.int64)
    assert np.isnan(lce(h0, w, y0, chunk_size=chunk_size))
    assert lce(h0, w, y0, reduction="none", chunk_size=chunk_size).shape == (0,)
    loss, gh, gw, gb = lce_grad(h0, w, y0, bias=b, chunk_size=chunk_size)
    assert gh.shape == (0, D) and gw.shape == w.shape and not gw.any() and not gb.any()


def test_ignored_rows_with_nonfinite_hidden():
    """An ignored sample contributes 0 even with NaN / inf features, in every path."""
    h, w, b, y = make(n=10, n_ignored=0)
    h[2] = np.nan
    h[5, 0] = np.inf
    y[[2, 5]] = -100
    clean = np.delete(np.arange(10), [2, 5])
    for kw in [dict(), dict(z_loss=1e-2, softcap=3.0, label_smoothing=0.1)]:
        for chunk_size in (None, 64):
            loss, gh, gw, gb = lce_grad(h, w, y, bias=b, chunk_size=chunk_size,
                                        reduction="sum", **kw)
            expect = reference(h[clean], w, y[clean], b, reduction="sum", **kw)
            assert_close(loss, expect[0], 1e-11)
            assert np.all(gh[[2, 5]] == 0)
            assert_close(gh[clean], expect[1], 1e-11)
            # (grad_weight = G.T @ H: 0 * NaN features is NaN there, as in torch)


def test_bias_masks_vocabulary():
    """A -inf bias removes words from the softmax (padding of the vocabulary)."""
    h, w, b, y = make(n=12, v=50, n_ignored=0)
    y %= 40
    b[40:] = -np.inf
    for chunk_size in (None, 7):
        loss, gh, gw, gb = lce_grad(h, w, y, bias=b, chunk_size=chunk_size)
        expect = reference(h, w[:40], y, b[:40])
        assert_close(loss, expect[0], 1e-11)
        assert_close(gh, expect[1], 1e-11)
        assert_close(gw[:40], expect[2], 1e-11)
        assert np.all(gw[40:] == 0) and np.all(gb[40:] == 0)


def test_dtypes():
    h, w, b, y = make(n=20, v=70)
    expect = reference(h.astype(np.float16), w.astype(np.float16), y, b.astype(np.float16))
    got = lce_grad(h.astype(np.float16), w.astype(np.float16), y, bias=b.astype(np.float16))
    assert all(g.dtype == np.float16 for g in got)
    check_all(got, expect, True, 3e-3)
    # mixed precision promotes (weight cast tile by tile); integer inputs are float64
    for hh, ww in [(h, w.astype(np.float32)), (h.astype(np.float32), w)]:
        got = lce_grad(hh, ww, y, bias=b, chunk_size=None)
        assert all(g.dtype == np.float64 for g in got)
        check_all(got, reference(hh, ww, y, b), True, 1e-11)
        check_all(lce_grad(hh, ww, y, bias=b, chunk_size=9), reference(hh, ww, y, b), True,
                  1e-11)
    hi, wi = np.rint(h * 3).astype(np.int32), np.rint(w * 3).astype(np.int64)
    got = lce_grad(hi, wi, y)
    assert got[0].dtype == np.float64
    check_all(got, reference(hi, wi, y), False, 1e-11)
    # non-native byte order and non-contiguous layouts
    wb = w.astype(w.dtype.newbyteorder())
    hf = np.asfortranarray(h)
    ws = np.repeat(w, 2, axis=0)[::2]
    for hh, ww in [(h, wb), (hf, w), (h, ws), (hf, np.asfortranarray(w))]:
        check_all(lce_grad(hh, ww, y, bias=b), reference(h, w, y, b), True, 1e-11)
        check_all(lce_grad(hh, ww, y, bias=b, chunk_size=8), reference(h, w, y, b), True,
                  1e-11)
    # any integer target dtype
    for tdt in (np.int8, np.int16, np.int32, np.uint16):
        yy = np.where(y < 0, 5, y % 100).astype(tdt)
        assert_close(lce(h, w, yy), reference(h, w, yy)[0], 1e-12)


def test_thread_count_does_not_change_results():
    # large enough that the kernels run multithreaded
    h, w, b, y = make(n=300, d=8, v=2048, dtype=np.float32)
    for chunk_size in (None, 500):
        kw = dict(bias=b, chunk_size=chunk_size, label_smoothing=0.1, z_loss=1e-3,
                  softcap=5.0)
        one = lce_grad(h, w, y, num_threads=1, **kw)
        two = lce_grad(h, w, y, num_threads=2, **kw)
        for a, c in zip(one, two):
            np.testing.assert_array_equal(a, c)


def test_matches_fused_cross_entropy():
    """The whole-vocabulary path is cross_entropy(_and_grad) of each block."""
    h, w, b, y = make(n=40, v=120)
    logits = h @ w.T + b
    for kw in [dict(), dict(label_smoothing=0.3, z_loss=0.1, softcap=2.0)]:
        loss, g = fs.cross_entropy_and_grad(logits, y, **kw)
        got = lce_grad(h, w, y, bias=b, **kw)
        assert_close(got[0], loss, 1e-13)
        assert_close(got[1], g @ w, 1e-13)
        assert_close(got[2], g.T @ h, 1e-13)
        assert_close(got[3], g.sum(0), 1e-13)


# ------------------------------------------------------------ finite differences

def _fd_check(fun, x, grad, n_probe=12, h=1e-6, seed=0):
    rng = _rng("fd", x.shape, seed)
    flat = x.reshape(-1)
    for i in rng.choice(flat.size, size=min(n_probe, flat.size), replace=False):
        old = flat[i]
        flat[i] = old + h
        fp = fun()
        flat[i] = old - h
        fm = fun()
        flat[i] = old
        fd = (fp - fm) / (2 * h)
        g = grad.reshape(-1)[i]
        assert abs(fd - g) <= 1e-6 * max(1.0, abs(g)), (i, fd, g)


@pytest.mark.parametrize("chunk_size", [None, 13])
@pytest.mark.parametrize("kw", [dict(z_loss=0.05), dict(softcap=1.5),
                                dict(z_loss=0.05, softcap=1.5, label_smoothing=0.2)],
                         ids=["z_loss", "softcap", "both"])
def test_finite_differences(kw, chunk_size):
    h, w, b, y = make(n=9, d=5, v=40, n_ignored=2, scale=1.5)
    loss, gh, gw, gb = lce_grad(h, w, y, bias=b, chunk_size=chunk_size, **kw)

    def f():
        return float(lce(h, w, y, bias=b, chunk_size=chunk_size, **kw))
    _fd_check(f, h, gh, seed=1)
    _fd_check(f, w, gw, seed=2)
    _fd_check(f, b, gb, seed=3)


# ------------------------------------------------------------ argument checking

def test_errors():
    h, w, b, y = make(n=6, v=20)
    with pytest.raises(ValueError, match="features"):
        lce(h, w[:, :5], y)
    with pytest.raises(ValueError, match="2-D"):
        lce(h, w[0], y)
    with pytest.raises(ValueError, match="empty"):
        lce(h, w[:0], y)
    with pytest.raises(ValueError, match="bias"):
        lce(h, w, y, bias=b[:3])
    with pytest.raises(TypeError, match="integer"):
        lce(h, w, y.astype(float))
    with pytest.raises(ValueError, match="shape"):
        lce(h, w, y[:3])
    with pytest.raises(IndexError):
        lce(h, w, np.full(6, 20))
    with pytest.raises(TypeError):
        lce(h.astype(complex), w, y)
    with pytest.raises(ValueError, match="reduction"):
        lce(h, w, y, reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        lce(h, w, y, label_smoothing=1.5)
    for bad in (-1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match="z_loss"):
            lce(h, w, y, z_loss=bad)
    for bad in (0.0, -2.0, np.inf, np.nan):
        with pytest.raises(ValueError, match="softcap"):
            lce(h, w, y, softcap=bad)
    with pytest.raises(TypeError, match="softcap"):
        lce(h, w, y, softcap="big")
    for bad in (0, -3):
        with pytest.raises(ValueError, match="chunk_size"):
            lce(h, w, y, chunk_size=bad)
    with pytest.raises(TypeError, match="chunk_size"):
        lce(h, w, y, chunk_size=2.5)
    with pytest.raises(ValueError):
        lce(h, w, y, num_threads=0)


def test_docstring_examples():
    mod = importlib.import_module("fastsoftmax.linear")
    res = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0 and res.failed == 0


# ------------------------------------------------------------ torch

def _torch_loss(torch, h, w, y, b, ignore_index=-100, label_smoothing=0.0,
                reduction="mean", z_loss=0.0, softcap=None):
    F = torch.nn.functional
    logits = F.linear(h, w, b)
    if softcap is not None:
        logits = softcap * torch.tanh(logits / softcap)
    loss = F.cross_entropy(logits, y, ignore_index=ignore_index,
                           label_smoothing=label_smoothing, reduction="none")
    if z_loss:
        keep = y != ignore_index
        loss = loss + torch.where(keep, z_loss * torch.logsumexp(logits, -1) ** 2, 0.0)
    if reduction == "none":
        return loss
    total = loss.sum()
    return total / (y != ignore_index).sum() if reduction == "mean" else total


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("chunk_size", [None, 333])
def test_torch_autograd(dtype, chunk_size):
    torch = pytest.importorskip("torch")
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    h, w, b, y = make(dtype=dtype)
    rtol = 1e-11 if dtype == np.float64 else 5e-5
    for (eps, z, cap, with_bias), reduction in itertools.product(OPTIONS[::2] + OPTIONS[-1:],
                                                                 REDUCTIONS):
        kw = dict(label_smoothing=eps, reduction=reduction, z_loss=z, softcap=cap)
        th = torch.from_numpy(h).to(tdt).requires_grad_(True)
        tw = torch.from_numpy(w).to(tdt).requires_grad_(True)
        tb = torch.from_numpy(b).to(tdt).requires_grad_(True) if with_bias else None
        tl = _torch_loss(torch, th, tw, torch.from_numpy(y), tb, **kw)
        tl.sum().backward()
        got = lce_grad(h, w, y, bias=b if with_bias else None, chunk_size=chunk_size, **kw)
        expect = [tl.detach().numpy(), th.grad.numpy(), tw.grad.numpy()]
        if with_bias:
            expect.append(tb.grad.numpy())
        check_all(got, expect, with_bias, rtol, str(kw))


# ------------------------------------------------------------ peak memory

_MEMORY_SCRIPT = textwrap.dedent("""
    import json, resource, sys, time
    import numpy as np
    import fastsoftmax as fs

    def vm_hwm():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def vm_rss():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024

    n, d, v = 4096, 512, 131072
    rng = np.random.default_rng(0)
    w = np.empty((v, d), dtype=np.float32)
    for i in range(0, v, 8192):  # drawn in slices: no float64 temporary
        w[i:i + 8192] = rng.standard_normal((8192, d), dtype=np.float32) * 0.05
    h = rng.standard_normal((n, d), dtype=np.float32)
    y = rng.integers(0, v, n)
    with_grad = sys.argv[1] == "grad"
    fs.linear_cross_entropy(h[:8], w[:64], y[:8] % 64)  # imports and lazy setup
    base = vm_rss()
    t0 = time.perf_counter()
    if with_grad:
        res = fs.linear_cross_entropy_and_grad(h, w, y)
        loss = float(res[0])
    else:
        loss = float(fs.linear_cross_entropy(h, w, y))
    seconds = time.perf_counter() - t0
    peak = vm_hwm()
    print(json.dumps({"base": base, "peak": peak, "extra": peak - base,
                      "outputs": (w.nbytes + h.nbytes) if with_grad else 0,
                      "seconds": seconds, "loss": loss}))
""")


def _run_memory_probe(mode):
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "2")
    out = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT, mode], capture_output=True,
                         text=True, check=True, env=env, timeout=900)
    return json.loads(out.stdout.strip().splitlines()[-1])


LOGITS_BYTES = 4096 * 131072 * 4  # 2 GiB: what the logits alone would take


# measured: loss ~3 s on an idle 2-core machine (13 s under a load of 5),
# 32 MiB extra; loss and gradients ~10 s (36 s under load), ~100 MiB extra
# besides the 264 MiB of gradients
@pytest.mark.parametrize("mode", ["loss", pytest.param("grad", marks=pytest.mark.slow)])
def test_peak_memory_far_below_logits(mode):
    r = _run_memory_probe(mode)
    # the forward keeps one tile of logits; the gradient pass also one tile of
    # dL/dlogits, chunk temporaries and its outputs (grad_weight: 256 MiB)
    extra = r["extra"] - r["outputs"]
    print(f"\n{mode}: {r['seconds']:.1f} s, peak RSS {r['peak'] / 2**20:.0f} MiB, "
          f"extra over inputs {r['extra'] / 2**20:.0f} MiB (outputs "
          f"{r['outputs'] / 2**20:.0f} MiB), loss {r['loss']:.4f}")
    assert extra < 256 * 2**20, r
    assert extra < LOGITS_BYTES / 8
    assert np.isfinite(r["loss"])
