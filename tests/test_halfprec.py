"""16-bit input read by the kernels (float16, bfloat16): softmax, log_softmax,
logsumexp and the fused cross-entropy with class indices.

The contract: bitwise "compute in float32, then round once" -- the float32
function on the float32 values of the input, rounded to the input's dtype by
NumPy's (float16) or ml_dtypes' (bfloat16) astype -- for random and special
inputs, every row length class (short rows, the online pass, long rows), any
axis and layout, 1, 2 and 3 threads, and every compiled ISA level.  bfloat16
also within one bfloat16 ulp of the float64 reference ``fastsoftmax.slow``.
ml_dtypes is optional: the bfloat16 tests skip without it.
"""
from __future__ import annotations

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import slow
from _subproc import run_python

F16 = np.dtype(np.float16)
try:
    import ml_dtypes
    BF16: np.dtype | None = np.dtype(ml_dtypes.bfloat16)
except ImportError:  # pragma: no cover - ml_dtypes is an optional test dependency
    BF16 = None

DTYPES = [pytest.param(F16, id="float16"),
          pytest.param(BF16, id="bfloat16",
                       marks=pytest.mark.skipif(BF16 is None, reason="needs ml_dtypes"))]
LENGTHS = list(range(1, 71)) + [1000, 32000]


def bits(a):
    return np.ascontiguousarray(np.asarray(a)).view(np.uint16)


def same16(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(bits(a), bits(b))


def special_rows(n, dt, rng):
    """Rows of length n: random at several scales, huge, subnormal, +-0,
    all-equal, -inf rows, NaN and +inf."""
    f16 = np.finfo(np.float16)
    rows = [rng.standard_normal(n) * s for s in (0.1, 3.0, 30.0, 3000.0)]
    rows.append(np.full(n, 7.0))
    rows.append(np.full(n, -np.inf))
    r = rng.standard_normal(n) * 3
    r[0] = -np.inf
    rows.append(r)
    r = rng.standard_normal(n) * 3
    r[n // 2] = np.nan
    rows.append(r)
    r = rng.standard_normal(n)
    r[-1] = np.inf
    rows.append(r)
    rows.append(rng.choice([0.0, -0.0, float(f16.smallest_subnormal), -6e-8, 1e-6], n))
    rows.append(rng.choice([65504.0, -65504.0, 60000.0, 1.0], n))
    x = np.array(rows)
    with np.errstate(over="ignore", invalid="ignore"):
        return x.astype(np.float32).astype(dt)


def ref_row_op(op, x, dt, **kw):
    with np.errstate(all="ignore"):
        return getattr(fs, op)(x.astype(np.float32), **kw).astype(dt)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("op", ["softmax", "log_softmax", "logsumexp"])
def test_rows_bitwise_all_lengths(op, dt):
    rng = np.random.default_rng(len(op))
    for n in LENGTHS:
        x = special_rows(n, dt, rng)
        with np.errstate(all="ignore"):
            got = getattr(fs, op)(x, axis=-1)
        assert got.dtype == dt
        same16(got, ref_row_op(op, x, dt, axis=-1))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("op", ["softmax", "log_softmax", "logsumexp"])
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
@pytest.mark.parametrize("axis", [0, 1, -1, None])
def test_rows_axes_layouts(op, dt, layout, axis):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((37, 50)) * 4).astype(dt)
    if layout == "F":
        x = np.asfortranarray(x)
    elif layout == "strided":
        x = np.asarray(x.astype(np.float32).repeat(2, axis=1).astype(dt))[:, ::2]
    got = getattr(fs, op)(x, axis=axis)
    same16(got, ref_row_op(op, x, dt, axis=axis))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_out_and_in_place(op, dt):
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((300, 129)) * 4).astype(dt)
    ref = ref_row_op(op, x, dt)
    out = np.empty_like(x)
    assert getattr(fs, op)(x, out=out) is out
    same16(out, ref)
    y = x.copy()
    getattr(fs, op)(y, out=y)
    same16(y, ref)


@pytest.mark.parametrize("dt", DTYPES)
def test_logsumexp_out_keepdims(dt):
    x = (np.random.default_rng(5).standard_normal((20, 33)) * 4).astype(dt)
    out = np.empty((20, 1), dt)
    assert fs.logsumexp(x, axis=1, keepdims=True, out=out) is out
    same16(out, ref_row_op("logsumexp", x, dt, axis=1, keepdims=True))
    s = fs.logsumexp(x, axis=None)
    assert isinstance(s, dt.type)
    same16(s, ref_row_op("logsumexp", x, dt, axis=None))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("op", ["softmax", "log_softmax", "logsumexp"])
@pytest.mark.parametrize("shape", [(3000, 7), (700, 100), (5, 40000)])
def test_threads_bitwise(op, dt, shape):
    x = (np.random.default_rng(6).standard_normal(shape) * 4).astype(dt)
    f = getattr(fs, op)
    r1 = f(x, num_threads=1)
    for nt in (2, 3):
        same16(f(x, num_threads=nt), r1)
    same16(r1, ref_row_op(op, x, dt))


def _ulps_bf16(a, ref64):
    """|a - ref| in units of the bfloat16 spacing at ref (finite refs)."""
    a = np.asarray(a).astype(np.float64)
    spacing = np.spacing(np.abs(ref64).astype(np.float32)) * 2.0**16
    return np.abs(a - ref64) / np.maximum(spacing, np.finfo(np.float32).tiny * 2.0**16)


@pytest.mark.skipif(BF16 is None, reason="needs ml_dtypes")
@pytest.mark.parametrize("op", ["softmax", "log_softmax", "logsumexp"])
def test_bfloat16_within_one_ulp_of_reference(op):
    rng = np.random.default_rng(8)
    for n in (5, 33, 1000, 32000):
        x = (rng.standard_normal((6, n)) * 5).astype(BF16)
        got = getattr(fs, op)(x)
        ref = getattr(slow, op)(x.astype(np.float64))
        ok = np.isfinite(ref)
        assert (_ulps_bf16(got, ref)[ok] <= 1.0).all()


@pytest.mark.parametrize("dt", DTYPES)
def test_identity_of_every_code(dt):
    """logsumexp of one-element rows is the element: every 16-bit code goes
    through the load and store conversions unchanged (NaN stays NaN)."""
    codes = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    x = codes.view(dt).reshape(-1, 1)
    with np.errstate(all="ignore"):
        got = fs.logsumexp(x, axis=1)
    f = x.reshape(-1).astype(np.float32)
    nan = np.isnan(f)
    keep = ~nan & ~((f == 0) & np.signbit(f))   # -0 + log1p(0) is +0
    np.testing.assert_array_equal(bits(got)[keep], codes[keep])
    assert np.isnan(got[nan].astype(np.float32)).all()
    with np.errstate(all="ignore"):
        same16(got, ref_row_op("logsumexp", x, dt, axis=1))


@pytest.mark.parametrize("dt", DTYPES)
def test_rounding_ties_overflow_subnormals(dt):
    """log_softmax of [0, v] rows gives v - log1p(exp(v)) ~ v for v << 0 and
    softmax [0, -v] gives exp(-v): results spread over every exponent, ties
    included, the overflow to inf (float16) and subnormal results."""
    v = np.linspace(-80, 0, 4001).astype(np.float32)
    x = np.stack([np.zeros_like(v), v], axis=1).astype(dt)
    for op in ("softmax", "log_softmax", "logsumexp"):
        same16(getattr(fs, op)(x), ref_row_op(op, x, dt))
    big = np.array([[65504.0, -65504.0], [60000.0, -60000.0]], np.float32).astype(dt)
    same16(fs.log_softmax(big), ref_row_op("log_softmax", big, dt))


# ------------------------------------------------------------------ cross-entropy

CE_OPTIONS = [dict(), dict(reduction="sum"), dict(reduction="none"),
              dict(label_smoothing=0.1), dict(z_loss=1e-3), dict(ignore_index=2)]


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("kw", CE_OPTIONS, ids=lambda k: ",".join(k) or "default")
@pytest.mark.parametrize("n", [1, 7, 33, 1000, 32000])
def test_cross_entropy_bitwise(dt, kw, n):
    rng = np.random.default_rng(n)
    rows = 40 if n < 32000 else 3
    x = (rng.standard_normal((rows, n)) * 4).astype(dt)
    t = rng.integers(0, n, rows)
    t[::5] = kw.get("ignore_index", -100)
    loss, grad = fs.cross_entropy_and_grad(x, t, **kw)
    loss32, grad32 = fs.cross_entropy_and_grad(x.astype(np.float32), t, **kw)
    assert grad.dtype == dt
    same16(grad, grad32.astype(dt))
    # float16: the loss in float16 (as before); bfloat16: in float32
    ldt = F16 if dt == F16 else np.dtype(np.float32)
    assert np.asarray(loss).dtype == ldt
    np.testing.assert_array_equal(np.asarray(loss), np.asarray(loss32).astype(ldt))
    np.testing.assert_array_equal(np.asarray(fs.cross_entropy(x, t, **kw)), np.asarray(loss))


@pytest.mark.parametrize("dt", DTYPES)
def test_cross_entropy_weights_axis_threads(dt):
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((8, 60, 5)) * 4).astype(dt)      # classes on axis 1
    t = rng.integers(0, 60, (8, 5))
    w = rng.random(60)
    sw = rng.random((8, 5))
    kw = dict(axis=1, weight=w, sample_weight=sw)
    l1, g1 = fs.cross_entropy_and_grad(x, t, num_threads=1, **kw)
    for nt in (2, 3):
        l, g = fs.cross_entropy_and_grad(x, t, num_threads=nt, **kw)
        np.testing.assert_array_equal(np.asarray(l), np.asarray(l1))
        same16(g, g1)
    l32, g32 = fs.cross_entropy_and_grad(x.astype(np.float32), t, **kw)
    same16(g1, g32.astype(dt))
    big = (rng.standard_normal((2000, 300)) * 4).astype(dt)
    tb = rng.integers(0, 300, 2000)
    l1, g1 = fs.cross_entropy_and_grad(big, tb, num_threads=1)
    for nt in (2, 3):
        l, g = fs.cross_entropy_and_grad(big, tb, num_threads=nt)
        np.testing.assert_array_equal(np.asarray(l), np.asarray(l1))
        same16(g, g1)


@pytest.mark.parametrize("dt", DTYPES)
def test_cross_entropy_special_values(dt):
    rng = np.random.default_rng(12)
    x = special_rows(50, dt, rng)
    t = rng.integers(0, 50, x.shape[0])
    with np.errstate(all="ignore"):
        l, g = fs.cross_entropy_and_grad(x, t, reduction="none")
        l32, g32 = fs.cross_entropy_and_grad(x.astype(np.float32), t, reduction="none")
    same16(g, g32.astype(dt))
    ldt = F16 if dt == F16 else np.dtype(np.float32)
    np.testing.assert_array_equal(l, l32.astype(ldt))


@pytest.mark.skipif(BF16 is None, reason="needs ml_dtypes")
def test_cross_entropy_bfloat16_other_options_work():
    """softcap and probability targets take the float32-copy route: the same
    answers as float32 input, the gradient rounded to bfloat16."""
    rng = np.random.default_rng(13)
    x = (rng.standard_normal((30, 20)) * 4).astype(BF16)
    t = rng.integers(0, 20, 30)
    l, g = fs.cross_entropy_and_grad(x, t, softcap=5.0)
    l32, g32 = fs.cross_entropy_and_grad(x.astype(np.float32), t, softcap=5.0)
    same16(g, g32.astype(BF16))
    assert np.asarray(l).dtype == np.float32 and l == l32
    p = fs.softmax(rng.standard_normal((30, 20)))
    l, g = fs.cross_entropy_and_grad(x, p)
    l32, g32 = fs.cross_entropy_and_grad(x.astype(np.float32), p.astype(np.float32))
    same16(g, g32.astype(BF16))
    assert l == l32


# ------------------------------------------------------------------ every ISA level

CHILD = r'''
import sys, warnings
import numpy as np
warnings.simplefilter("error")
import fastsoftmax as fs
from fastsoftmax import _core
dts = [np.dtype(np.float16)]
try:
    import ml_dtypes
    dts.append(np.dtype(ml_dtypes.bfloat16))
except ImportError:
    pass
rng = np.random.default_rng(2)
bad = []
for dt in dts:
    for n in list(range(1, 40)) + [100, 1000, 5000, 40000]:
        x = (rng.standard_normal((4, n)) * 6).astype(dt)
        x[1, 0] = -np.inf
        if n > 2:
            x[2, 1] = np.nan
        x[3] = (rng.standard_normal(n) * 1e-5).astype(dt)
        with np.errstate(all="ignore"):
            for op in ("softmax", "log_softmax", "logsumexp"):
                f = getattr(fs, op)
                got = f(x)
                ref = f(x.astype(np.float32)).astype(dt)
                if not np.array_equal(got.view(np.uint16), ref.view(np.uint16)):
                    bad.append((op, dt.name, n))
            t = rng.integers(0, n, 4)
            l, g = fs.cross_entropy_and_grad(x, t, reduction="none")
            l32, g32 = fs.cross_entropy_and_grad(x.astype(np.float32), t, reduction="none")
            if not np.array_equal(g.view(np.uint16), g32.astype(dt).view(np.uint16)):
                bad.append(("ce", dt.name, n))
print("ISA", _core.isa_selected())
print("BAD", bad)
'''


@pytest.mark.parametrize("level", ["avx512", "avx2", "baseline"])
def test_every_isa_level(level):
    p = run_python(CHILD, timeout=300, env={"FASTSOFTMAX_ISA": level})
    if "not available" in p.stderr:
        pytest.skip(f"{level} not available here")
    assert p.returncode == 0, p.stderr
    assert "BAD []" in p.stdout, p.stdout


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("n", [17, 2047, 2049, 4100])
def test_cross_entropy_long_rows_read_in_blocks(dt, n):
    """Rows longer than the short-row path are read block by block in
    registers: block edges, the target in every position of a vector,
    negative sample weights (a -0 factor), z-loss, ignored and special rows."""
    rng = np.random.default_rng(n)
    rows = 48
    x = (rng.standard_normal((rows, n)) * 4).astype(dt)
    x[1, n // 3] = np.inf
    x[2, -1] = np.nan
    x[3] = -np.inf
    x[4, :n // 2] = -np.inf
    t = np.concatenate([rng.integers(0, n, rows - 20), (n - 1 - np.arange(20)) % n])
    t[5] = -100
    sw = rng.standard_normal(rows)
    for kw in (dict(), dict(z_loss=1e-2, sample_weight=sw, reduction="none"),
               dict(weight=rng.random(n), reduction="sum")):
        with np.errstate(all="ignore"):
            l, g = fs.cross_entropy_and_grad(x, t, **kw)
            l32, g32 = fs.cross_entropy_and_grad(x.astype(np.float32), t, **kw)
        same16(g, g32.astype(dt))
        ldt = F16 if dt == F16 else np.dtype(np.float32)
        np.testing.assert_array_equal(np.asarray(l), np.asarray(l32).astype(ldt))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("op", ["softmax", "log_softmax", "logsumexp"])
@pytest.mark.parametrize("axis", [None, 1, (0, 2), (0, 1, 2)])
def test_scipy_dropin_reads_16_bit(dt, op, axis):
    import fastsoftmax.scipy as fss
    x = (np.random.default_rng(14).standard_normal((4, 6, 3)) * 3).astype(dt)
    got = getattr(fss, op)(x, axis=axis)
    ref = getattr(fss, op)(x.astype(np.float32), axis=axis)
    same16(got, np.asarray(ref).astype(dt))
