"""z_loss and softcap of cross_entropy / cross_entropy_and_grad: against the
reference ``fastsoftmax.slow``, finite differences and torch (the terms
written explicitly), the chunked path's invariants, and the untouched default
path."""
from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import _core
from fastsoftmax import slow

REDUCTIONS = ["mean", "sum", "none"]
EXTRAS = [dict(z_loss=1e-2), dict(softcap=3.0), dict(z_loss=0.1, softcap=2.0)]
EXTRA_IDS = ["z", "cap", "z+cap"]


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def make(shape=(40, 23), axis=-1, dtype=np.float64, kind="index", seed=0, scale=3.0,
         n_ignored=4):
    rng = _rng("zsc", shape, axis, kind, seed)
    x = (rng.standard_normal(shape) * scale).astype(dtype)
    c = shape[axis]
    batch = tuple(np.delete(shape, axis % len(shape)))
    if kind == "index":
        t = rng.integers(0, c, batch)
        flat = t.reshape(-1)
        flat[rng.choice(flat.size, size=min(n_ignored, flat.size), replace=False)] = -100
    else:
        t = rng.random(shape)
        t /= t.sum(axis=axis, keepdims=True)
        t = t.astype(dtype)
    return x, t, rng.random(c) + 0.5


def reference(x, t, axis=-1, **kw):
    """(loss, grad) of the reference ``fastsoftmax.slow`` on float64 copies."""
    t = np.asarray(t)
    return slow.cross_entropy_and_grad(np.asarray(x, dtype=np.float64),
                                       t if t.dtype.kind in "iu" else t.astype(np.float64),
                                       axis=axis, **kw)


def assert_close(got, expect, rtol, what=""):
    got = np.asarray(got, dtype=np.float64)
    expect = np.asarray(expect, dtype=np.float64)
    scale = float(np.abs(expect).max()) if expect.size else 1.0
    scale = scale or 1.0  # an exactly-zero expectation: rounding of O(1) terms
    np.testing.assert_allclose(got, expect, rtol=rtol, atol=rtol * scale, err_msg=what)


# ------------------------------------------------------------ against the reference

@pytest.mark.parametrize("extra", EXTRAS, ids=EXTRA_IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("kind", ["index", "prob"])
@pytest.mark.parametrize("shape,axis", [((40, 23), -1), ((3, 17, 5), 1), ((1, 1), -1)],
                         ids=["2d", "3d-ax1", "1x1"])
def test_vs_reference(shape, axis, kind, dtype, extra):
    x, t, w = make(shape, axis, dtype, kind)
    if shape == (1, 1) and kind == "index":
        t = np.zeros(1, np.int64)
    rtol = 1e-12 if dtype == np.float64 else 2e-6
    for weight, eps, reduction in itertools.product([None, w], [0.0, 0.2], REDUCTIONS):
        kw = dict(weight=weight, label_smoothing=eps, reduction=reduction, **extra)
        what = f"weight={weight is not None} eps={eps} {reduction}"
        expect_loss, expect_grad = reference(x, t, axis, **kw)
        loss, grad = fs.cross_entropy_and_grad(x, t, axis=axis, **kw)
        assert loss.dtype == dtype and grad.dtype == dtype
        assert_close(loss, expect_loss, rtol, what + " loss")
        assert_close(grad, expect_grad, rtol, what + " grad")
        np.testing.assert_array_equal(fs.cross_entropy(x, t, axis=axis, **kw), loss)


def test_zloss_mean_denominator_is_the_cross_entropy_one():
    """mean = sum_i (CE_i + z lse_i^2) / sum of the non-ignored target weights."""
    x, t, w = make()
    keep = t != -100
    lse = slow.logsumexp(x)
    z = 0.05
    for weight in (None, w):
        wy = np.ones(len(t)) if weight is None else weight[np.where(keep, t, 0)]
        per = slow.cross_entropy(x, t, weight=weight, reduction="none")
        expect = (per.sum() + z * (lse[keep] ** 2).sum()) / wy[keep].sum()
        assert_close(fs.cross_entropy(x, t, weight=weight, z_loss=z), expect, 1e-13)
        # "none" is CE_i + z lse_i^2 for kept samples, 0 for ignored ones
        got = fs.cross_entropy(x, t, weight=weight, z_loss=z, reduction="none")
        assert_close(got, np.where(keep, per + z * lse ** 2, 0.0), 1e-13)


def test_softcap_is_the_loss_of_capped_logits():
    x, t, _ = make(scale=10.0)
    for c in (0.5, 5.0, 50.0):
        capped = c * np.tanh(x / c)
        assert np.abs(capped).max() < c + 1e-12
        # the loss is the fused kernel's on the capped chunk: bitwise the same
        np.testing.assert_array_equal(fs.cross_entropy(x, t, softcap=c),
                                      fs.cross_entropy(capped, t))
        np.testing.assert_array_equal(fs.cross_entropy(x, t, softcap=c, reduction="none"),
                                      fs.cross_entropy(capped, t, reduction="none"))
        _, g = fs.cross_entropy_and_grad(x, t, softcap=c)
        _, gc = fs.cross_entropy_and_grad(capped, t)
        assert_close(g, gc * (1 - np.tanh(x / c) ** 2), 1e-14)


def test_infinite_logits_are_capped():
    x, t, _ = make((4, 6), n_ignored=0)
    x[0, 1] = np.inf
    x[1, :] = -np.inf
    x[2, 3] = -np.inf
    loss = fs.cross_entropy(x, t, softcap=4.0, reduction="none")
    expect = slow.cross_entropy(x, t, softcap=4.0, reduction="none")
    assert np.all(np.isfinite(loss))
    assert_close(loss, expect, 1e-13)


# ------------------------------------------------------------ the default path

def test_defaults_take_the_plain_fused_path(monkeypatch):
    x, t, w = make((300, 70))
    plain = fs.cross_entropy_and_grad(x, t, weight=w, label_smoothing=0.1)
    # the same loss as one direct kernel call (the code before z_loss / softcap)
    keep = t != -100
    grad = np.empty_like(x)
    total = _core.cross_entropy_index(x, t, ignore_index=-100, weight=w, label_smoothing=0.1,
                                      z_loss=0.0, softcap=None, scale=1.0 / w[t[keep]].sum(),
                                      loss_rows=None, grad=grad, x_is_scratch=False,
                                      n_threads=1)
    np.testing.assert_array_equal(plain[0], total / w[t[keep]].sum())
    np.testing.assert_array_equal(plain[1], grad)

    # and the explicit defaults never touch the chunked machinery
    monkeypatch.setattr(_core, "SOFTCAP_CHUNK_BYTES", None)  # would fail if used
    for kw in (dict(), dict(z_loss=0.0, softcap=None), dict(z_loss=0)):
        got = fs.cross_entropy_and_grad(x, t, weight=w, label_smoothing=0.1, **kw)
        np.testing.assert_array_equal(got[0], plain[0])
        np.testing.assert_array_equal(got[1], plain[1])


@pytest.mark.parametrize("kind", ["index", "prob"])
@pytest.mark.parametrize("extra", EXTRAS, ids=EXTRA_IDS)
def test_many_chunks(monkeypatch, kind, extra):
    """Chunks of a few rows give the reference result; the CE part of the loss is
    bitwise the one-chunk result (same partial sums)."""
    x, t, w = make((203, 37), kind=kind)
    one = fs.cross_entropy_and_grad(x, t, weight=w, label_smoothing=0.1, **extra)
    for chunk_bytes in (1, 37 * 8 * 10):
        monkeypatch.setattr(_core, "SOFTCAP_CHUNK_BYTES", chunk_bytes)
        for reduction in REDUCTIONS:
            kw = dict(weight=w, label_smoothing=0.1, reduction=reduction, **extra)
            loss, grad = fs.cross_entropy_and_grad(x, t, **kw)
            e_loss, e_grad = reference(x, t, **kw)
            assert_close(loss, e_loss, 1e-12)
            assert_close(grad, e_grad, 1e-12)
        loss, grad = fs.cross_entropy_and_grad(x, t, weight=w, label_smoothing=0.1, **extra)
        np.testing.assert_array_equal(grad, one[1])
        if "z_loss" not in extra:
            np.testing.assert_array_equal(loss, one[0])
        else:
            assert_close(loss, one[0], 1e-15)


@pytest.mark.parametrize("kind", ["index", "prob"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_bitwise_identical_across_threads(kind, dtype):
    x, t, w = make((700, 300), dtype=dtype, kind=kind)
    kw = dict(weight=w, label_smoothing=0.1, z_loss=1e-3, softcap=6.0)
    one = fs.cross_entropy_and_grad(x, t, num_threads=1, **kw)
    two = fs.cross_entropy_and_grad(x, t, num_threads=2, **kw)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])
    np.testing.assert_array_equal(fs.cross_entropy(x, t, num_threads=1, reduction="none", **kw),
                                  fs.cross_entropy(x, t, num_threads=2, reduction="none", **kw))


# ------------------------------------------------------------ special values

@pytest.mark.parametrize("extra", EXTRAS, ids=EXTRA_IDS)
def test_ignored_rows_stay_zero_with_nonfinite_logits(extra):
    x, t, _ = make((6, 5), n_ignored=0)
    x[1] = np.nan
    x[3, 2] = np.inf
    x[4] = -np.inf
    t[[1, 3, 4]] = -100
    loss, grad = fs.cross_entropy_and_grad(x, t, reduction="none", **extra)
    assert np.all(loss[[1, 3, 4]] == 0) and np.all(grad[[1, 3, 4]] == 0)
    clean = [0, 2, 5]
    e_loss, e_grad = reference(x[clean], t[clean], reduction="none", **extra)
    assert_close(loss[clean], e_loss, 1e-13)
    assert_close(grad[clean], e_grad, 1e-13)


def test_nan_poisons_only_its_row():
    x, t, _ = make((5, 4), n_ignored=0)
    x[2, 1] = np.nan
    for extra in EXTRAS:
        loss, grad = fs.cross_entropy_and_grad(x, t, reduction="none", **extra)
        assert np.isnan(loss[2]) and np.isnan(grad[2]).all()
        assert np.isfinite(np.delete(loss, 2)).all()
        assert np.isfinite(np.delete(grad, 2, axis=0)).all()


def test_all_ignored_and_empty():
    x, t, _ = make((5, 4))
    t[:] = -100
    for extra in EXTRAS:
        loss, grad = fs.cross_entropy_and_grad(x, t, **extra)
        assert np.isnan(loss) and not grad.any()
        assert fs.cross_entropy(x, t, reduction="sum", **extra) == 0
        e = fs.cross_entropy_and_grad(np.zeros((0, 4)), np.zeros(0, np.int64), **extra)
        assert np.isnan(e[0]) and e[1].shape == (0, 4)


def test_layouts_float16_and_grad_out():
    x, t, _ = make((3, 11, 6), axis=1)
    kw = dict(z_loss=0.02, softcap=2.5, label_smoothing=0.1)
    e_loss, e_grad = reference(x, t, axis=1, **kw)
    for xx in (np.asfortranarray(x), x[:, ::-1][:, ::-1], x.astype(x.dtype.newbyteorder())):
        loss, grad = fs.cross_entropy_and_grad(xx, t, axis=1, **kw)
        assert_close(loss, e_loss, 1e-12)
        assert_close(grad, e_grad, 1e-12)
    g_out = np.empty(x.shape, order="F")
    _, grad = fs.cross_entropy_and_grad(x, t, axis=1, grad_out=g_out, **kw)
    assert grad is g_out
    assert_close(g_out, e_grad, 1e-12)
    # grad_out aliasing the logits
    xc = x.copy()
    _, grad = fs.cross_entropy_and_grad(xc, t, axis=1, grad_out=xc, **kw)
    assert_close(grad, e_grad, 1e-12)
    # float16 computes in float32
    h = x.astype(np.float16)
    loss, grad = fs.cross_entropy_and_grad(h, t, axis=1, **kw)
    assert loss.dtype == np.float16 and grad.dtype == np.float16
    e_loss, e_grad = reference(h, t, axis=1, **kw)
    assert_close(loss, e_loss, 2e-3)
    assert_close(grad, e_grad, 2e-3)


# ------------------------------------------------------------ finite differences

@pytest.mark.parametrize("kind", ["index", "prob"])
@pytest.mark.parametrize("extra", EXTRAS + [dict(z_loss=0.3, softcap=0.7)],
                         ids=EXTRA_IDS + ["strong"])
def test_finite_differences(kind, extra):
    x, t, w = make((6, 7), kind=kind, n_ignored=2, scale=2.0)
    for reduction, weight in [("mean", w), ("sum", None), ("none", None)]:
        kw = dict(weight=weight, label_smoothing=0.1, reduction=reduction, **extra)
        _, grad = fs.cross_entropy_and_grad(x, t, **kw)
        flat = x.reshape(-1)
        h = 1e-6
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + h
            fp = float(np.sum(fs.cross_entropy(x, t, **kw)))
            flat[i] = old - h
            fm = float(np.sum(fs.cross_entropy(x, t, **kw)))
            flat[i] = old
            fd = (fp - fm) / (2 * h)
            assert abs(fd - grad.reshape(-1)[i]) <= 1e-7 * max(1.0, abs(fd)), (i, fd)


# ------------------------------------------------------------ argument checking

def test_errors():
    x, t, _ = make((4, 3))
    for bad in (-0.1, np.nan, np.inf):
        with pytest.raises(ValueError, match="z_loss"):
            fs.cross_entropy(x, t, z_loss=bad)
    with pytest.raises(TypeError, match="z_loss"):
        fs.cross_entropy(x, t, z_loss="1e-4")
    with pytest.raises(TypeError, match="z_loss"):
        fs.cross_entropy(x, t, z_loss=None)
    for bad in (0, -1.0, np.inf, np.nan):
        with pytest.raises(ValueError, match="softcap"):
            fs.cross_entropy_and_grad(x, t, softcap=bad)
    with pytest.raises(TypeError, match="softcap"):
        fs.cross_entropy(x, t, softcap=[1.0])


def test_docstring_examples():
    import doctest
    import importlib
    mod = importlib.import_module("fastsoftmax.losses")
    res = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0 and res.failed == 0


# ------------------------------------------------------------ torch

@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("kind", ["index", "prob"])
def test_torch(kind, dtype):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    x, t, w = make((30, 19), kind=kind, dtype=dtype)
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    for extra, weight, eps, reduction in itertools.product(EXTRAS, [None, w], [0.0, 0.2],
                                                           REDUCTIONS):
        tx = torch.from_numpy(x).to(tdt).requires_grad_(True)
        tw = None if weight is None else torch.from_numpy(weight).to(tdt)
        logits = tx
        cap = extra.get("softcap")
        if cap is not None:
            logits = cap * torch.tanh(logits / cap)
        tt = torch.from_numpy(t) if kind == "index" else torch.from_numpy(t).to(tdt)
        loss = F.cross_entropy(logits, tt, weight=tw, label_smoothing=eps, reduction="none")
        z = extra.get("z_loss", 0.0)
        keep = (tt != -100) if kind == "index" else torch.ones(len(t), dtype=torch.bool)
        if z:
            loss = loss + torch.where(keep, z * torch.logsumexp(logits, -1) ** 2, 0.0)
        if reduction == "sum":
            loss = loss.sum()
        elif reduction == "mean":
            if kind == "prob":
                denom = len(t)
            elif tw is None:
                denom = keep.sum()
            else:
                denom = tw[torch.where(keep, tt, 0)][keep].sum()
            loss = loss.sum() / denom
        loss.sum().backward()
        got_loss, got_grad = fs.cross_entropy_and_grad(
            x, t, weight=weight, label_smoothing=eps, reduction=reduction, **extra)
        what = f"{extra} weight={weight is not None} eps={eps} {reduction}"
        assert_close(got_loss, loss.detach().numpy(), rtol, what)
        assert_close(got_grad, tx.grad.numpy(), rtol, what)
