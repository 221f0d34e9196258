"""The vectorized exp behind every kernel (test-only ``_testing.exp``), over the
whole range of each precision, against NumPy's float64 / longdouble exp."""
import numpy as np
import pytest
from numpy.testing import assert_array_equal

from fastsoftmax import _testing
from _helpers import F32_SUBNORMAL_ULP, F64_SUBNORMAL_ULP, LONGDOUBLE_IS_WIDER

F32_TINY = float(np.finfo(np.float32).smallest_normal)
F64_TINY = float(np.finfo(np.float64).smallest_normal)
F32_OVERFLOW = 88.72283172607422        # largest float32 x with exp(x) finite
F64_OVERFLOW = 709.782712893384         # largest float64 x with exp(x) finite


def kexp(x):
    x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    _testing.exp(x, out)
    return out


def _f32_special_args():
    f32 = np.float32
    around_overflow = np.nextafter(f32(F32_OVERFLOW), f32(np.inf)).astype(f32)
    vals = [np.inf, -np.inf, np.nan, -np.nan, 0.0, -0.0, 1.0, -1.0,
            F32_OVERFLOW, around_overflow, 88.8, 89.0, 89.5, 100.0, 1e10, 3.4e38,
            -87.33654, -87.4, -90.0, -95.0, -100.0, -103.0, -103.27, -103.96,
            -103.972, -103.9721, -103.97208, -103.978, -103.98, -104.0, -104.5, -110.0,
            -1e10, -3.4e38, 1e-45, -1e-45, 1e-38, -1e-38, 1e-7, -1e-7]
    x = np.array(vals, dtype=np.float32)
    # every float32 around the subnormal and overflow thresholds
    lo = np.float32(-104.0).view(np.int32)
    sub = np.arange(lo - 2000, lo + 1, dtype=np.int32).view(np.float32)      # -104.0 .. -103.97
    # the normal/subnormal edge
    sub2 = np.arange(np.float32(-87.4).view(np.int32), np.float32(-87.3).view(np.int32),
                     dtype=np.int32).view(np.float32)
    hi = np.float32(F32_OVERFLOW).view(np.int32)
    top = np.arange(hi - 2000, hi + 2000, dtype=np.int32).view(np.float32)
    return np.concatenate([x, sub, sub2, top])


def _check_f32(x):
    got = kexp(x)
    assert got.dtype == np.float32
    with np.errstate(over="ignore"):
        exact = np.exp(x.astype(np.float64))              # ~0.5 ulp of float64
        rounded = exact.astype(np.float32)
    # NaN in, NaN out; and nothing else NaN
    assert_array_equal(np.isnan(got), np.isnan(x))
    # overflow exactly where the correctly rounded result overflows
    assert_array_equal(np.isposinf(got), np.isposinf(rounded))
    fin = np.isfinite(rounded)
    g, e, r = got[fin].astype(np.float64), exact[fin], rounded[fin]
    assert np.all(g >= 0)
    normal = np.abs(r) >= F32_TINY
    ulp = np.spacing(r[normal]).astype(np.float64)
    err = np.abs(g[normal] - e[normal]) / ulp
    assert err.max(initial=0) <= 2.0, f"{err.max()} ulp at x={x[fin][normal][np.argmax(err)]}"
    # subnormal (and zero) results: within one subnormal ulp
    sub_err = np.abs(g[~normal] - e[~normal]) / F32_SUBNORMAL_ULP
    assert sub_err.max(initial=0) <= 1.0, f"{sub_err.max()} subnormal ulp"
    return got


def test_exp_float32_dense_grid():
    x = np.linspace(-104.0, 89.0, 4_000_001).astype(np.float32)
    got = _check_f32(x)
    assert np.count_nonzero(got == 0) > 0 and np.count_nonzero(np.isinf(got)) > 0


def test_exp_float32_special_and_threshold_arguments():
    # the thresholds named above are the right ones
    with np.errstate(over="ignore"):
        assert np.isfinite(np.exp(np.float64(np.float32(F32_OVERFLOW))).astype(np.float32))
        assert np.isinf(np.exp(np.float64(np.float32(88.72284))).astype(np.float32))
        assert np.isinf(np.exp(np.nextafter(F64_OVERFLOW, np.inf)))
    assert np.float32(F32_OVERFLOW) == F32_OVERFLOW and np.isfinite(np.exp(F64_OVERFLOW))
    x = _f32_special_args()
    got = _check_f32(x)
    d = dict(zip(map(float, x[:12]), got[:12]))
    assert np.isinf(kexp(np.array([np.inf], np.float32))[0])
    assert kexp(np.array([-np.inf], np.float32))[0] == 0.0
    assert d[0.0] == 1.0 and kexp(np.array([-0.0], np.float32))[0] == 1.0
    assert np.isfinite(kexp(np.array([F32_OVERFLOW], np.float32))[0])
    assert np.isposinf(kexp(np.array([88.72284], np.float32))[0])
    # smallest subnormal and exact zero around ln(2**-150) = -103.972077...
    assert kexp(np.array([-103.97], np.float32))[0] == np.float32(F32_SUBNORMAL_ULP)
    assert kexp(np.array([-103.98, -104.0, -1e30], np.float32)).tolist() == [0.0, 0.0, 0.0]


def test_exp_float32_random_arguments():
    rng = np.random.default_rng(51)
    x = rng.uniform(-110, 95, 1_000_000).astype(np.float32)
    _check_f32(x)
    # small arguments, where exp(x) - 1 ~ x matters
    _check_f32((rng.standard_normal(200_000) * 1e-3).astype(np.float32))


def _check_f64(x):
    got = kexp(x)
    assert got.dtype == np.float64
    with np.errstate(over="ignore"):
        ref = np.exp(x)                                    # ~0.5 ulp itself
    assert_array_equal(np.isnan(got), np.isnan(x))
    assert_array_equal(np.isposinf(got), np.isposinf(ref))
    fin = np.isfinite(ref)
    g, r = got[fin], ref[fin]
    assert np.all(g >= 0)
    normal = r >= F64_TINY
    err = np.abs(g[normal] - r[normal]) / np.spacing(r[normal])
    assert err.max(initial=0) <= 2.0, f"{err.max()} ulp at x={x[fin][normal][np.argmax(err)]}"
    sub_err = np.abs(g[~normal] - r[~normal]) / F64_SUBNORMAL_ULP
    assert sub_err.max(initial=0) <= 1.0, f"{sub_err.max()} subnormal ulp"
    return got


def test_exp_float64_dense_grid():
    x = np.linspace(-745.2, 709.78, 2_000_001)
    got = _check_f64(x)
    assert got[0] == 0.0 and np.isfinite(got[-1]) and got[-1] > 1e308


@pytest.mark.skipif(not LONGDOUBLE_IS_WIDER, reason="np.longdouble is not wider than float64 here")
def test_exp_float64_against_longdouble():
    # against an (almost) exact reference: < 1 ulp (np.exp itself is ~0.5)
    rng = np.random.default_rng(52)
    x = rng.uniform(-708.0, 709.0, 200_000)
    got = kexp(x).astype(np.longdouble)
    exact = np.exp(x.astype(np.longdouble))
    err = np.abs(got - exact) / np.spacing(exact.astype(np.float64)).astype(np.longdouble)
    assert float(err.max()) < 1.0


def test_exp_float64_special_and_threshold_arguments():
    above = np.nextafter(F64_OVERFLOW, np.inf)
    x = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 1.0, F64_OVERFLOW, above, 709.79, 710.0,
                  710.5, 1e300, np.finfo(np.float64).max, -708.3964, -708.4, -720.0, -740.0,
                  -745.0, -745.1332191019411, -745.13321910194122, -745.1332191019412,
                  -745.14, -745.2, -746.0, -800.0, -1e300, -np.finfo(np.float64).max,
                  5e-324, -5e-324, 1e-300, 1e-17, -1e-17])
    rng = np.random.default_rng(53)
    near = np.concatenate([
        np.linspace(-745.2, -708.3, 100_001),              # subnormal results
        F64_OVERFLOW + np.arange(-1000, 1000) * np.spacing(F64_OVERFLOW),
        rng.uniform(-1e-8, 1e-8, 10_000),
    ])
    got = _check_f64(np.concatenate([x, near]))[:x.size]
    assert got[0] == np.inf and got[1] == 0.0 and np.isnan(got[2])
    assert got[3] == 1.0 and got[4] == 1.0
    assert np.isfinite(got[6]) and np.isposinf(got[7]) and np.isposinf(got[9])
    assert got[18] == 5e-324                       # just above ln(2**-1075): 2**-1074
    assert got[21] == 0.0 and got[22] == 0.0 and got[23] == 0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_every_tail_length(dtype):
    # lengths 1..40 cover every partial-vector tail of both precisions
    rng = np.random.default_rng(54)
    for n in range(1, 41):
        x = (rng.standard_normal(n) * 10).astype(dtype)
        got = kexp(x)
        assert got.shape == (n,)
        np.testing.assert_allclose(got, np.exp(x.astype(np.float64)),
                                   rtol=3 * np.finfo(dtype).eps)


def test_exp_does_not_write_past_the_end():
    for dtype in (np.float32, np.float64):
        buf = np.full(40, -7.0, dtype=dtype)
        x = np.ones(23, dtype=dtype)
        _testing.exp(x, buf[:23])
        assert np.all(buf[23:] == -7.0)
        np.testing.assert_allclose(buf[:23], np.e, rtol=3 * np.finfo(dtype).eps)


# ------------------------------------------- exp(x - max), as the row kernels take it

NEAR_RANGE = 8.0        # float32 rows spanning less than this skip the compensation
NEAR_DIFF = 2.0 ** -22  # the relative error that skipping it may add: half an ulp of |x - b| < 8


def kexp_diff(x, b, near):
    x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    _testing.exp_diff(x, x.dtype.type(b), out, near)
    return out


def _below(b, span, count):
    """About ``count`` float32 values of (b - span, b], evenly spaced in their
    bit patterns (so every binade, tiny |x| included, is sampled), plus b."""
    b, lo = np.float32(b), np.float32(b - span)
    parts = [np.array([b], np.float32)]
    for a, c in ((max(lo, np.float32(0)), b), (lo, min(b, np.float32(-0.0)))):
        if not a < c and not (a == c == 0):
            continue
        ia, ic = np.abs(np.array([a, c], np.float32)).view(np.int32)
        i0, i1 = sorted((int(ia), int(ic)))
        step = max(1, (i1 - i0) // count)
        mag = np.arange(i0, i1 + 1, step, dtype=np.int32).view(np.float32)
        parts.append(mag if c > 0 else -mag)
    x = np.concatenate(parts)
    return x[(x > lo) & (x <= b)]


@pytest.mark.parametrize("b", [0.0, 0.7, 1.0, 2.5, 3.0, 7.9, -1.5, -7.5, 40.0, -300.0, 1e4])
def test_exp_diff_near_error_bound(b):
    # Rows spanning less than NEAR_RANGE take exp(x - b) from the rounded
    # difference: within 2 ulp (the exponential's own bound) plus NEAR_DIFF
    # relative, over every binade of (b - 8, b]; where x - b is exact (b far
    # from 0, or x within a factor 2 of b) within the 2 ulp alone.
    x = _below(b, NEAR_RANGE, 1 << 21)
    got = kexp_diff(x, b, True).astype(np.float64)
    comp = kexp_diff(x, b, False)
    exact = np.exp(x.astype(np.float64) - np.float64(np.float32(b)))
    assert np.all(exact >= np.exp(-NEAR_RANGE))
    ulp = np.spacing(exact.astype(np.float32)).astype(np.float64)
    err = np.abs(got - exact)
    bound = 2 * ulp + NEAR_DIFF * exact
    worst = np.argmax(err / bound)
    assert np.all(err <= bound), f"{err[worst] / bound[worst]} of the bound at x={x[worst]}"
    # the compensated difference keeps the 2-ulp bound alone
    assert np.all(np.abs(comp - exact) <= 2 * ulp)
    d = x.astype(np.float64) - np.float64(np.float32(b))
    exact_diff = d == (x - np.float32(b)).astype(np.float64)
    assert np.all(err[exact_diff] <= 2 * ulp[exact_diff])


def test_exp_diff_near_every_tail_length():
    x = np.linspace(-7.0, 0.0, 40, dtype=np.float32)
    for n in range(1, 40):
        assert_array_equal(kexp_diff(x[:n], 0.5, True), kexp_diff(x, 0.5, True)[:n])
