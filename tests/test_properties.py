"""Property-based tests (Hypothesis) of the softmax family on random arrays."""
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastsoftmax as fs
from fastsoftmax import slow
from _helpers import assert_same, with_layout

# Deterministic (derandomize: examples derived from the test itself, no
# example database), no deadline (timings are noisy on a shared machine).
SETTINGS = settings(max_examples=100, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

TOL = {np.float64: dict(sum=1e-12, rtol=1e-13, atol=1e-13, tiny=1e-300),
       np.float32: dict(sum=1e-5, rtol=1e-6, atol=1e-6, tiny=1e-30)}


def arrays_and_axis(dtype, bound=50.0):
    """(x, axis): finite arrays of 1-3 dims, sides 1-20, elements in
    [-bound, bound] (including subnormals and signed zeros), a random axis
    (negative too) or None."""
    elements = st.floats(-bound, bound, allow_nan=False, allow_infinity=False,
                         width=np.dtype(dtype).itemsize * 8)
    shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=20)

    @st.composite
    def strat(draw):
        x = draw(hnp.arrays(dtype, shapes, elements=elements))
        axis = draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)))
        return x, axis

    return strat()


def float_cases(bound=50.0):
    return st.sampled_from([np.float64, np.float32]).flatmap(
        lambda dt: st.tuples(st.just(dt), arrays_and_axis(dt, bound)))


@SETTINGS
@given(float_cases())
def test_softmax_is_a_distribution(case):
    dtype, (x, axis) = case
    p = fs.softmax(x, axis=axis)
    assert p.dtype == dtype and p.shape == x.shape
    assert np.all(p >= 0) and np.all(p <= 1)
    s = np.sum(p.astype(np.float64), axis=axis)
    np.testing.assert_allclose(s, 1.0, rtol=0, atol=TOL[dtype]["sum"])
    # the largest input gets the largest probability
    if axis is None:
        assert p.ravel()[np.argmax(x)] == p.max()


@SETTINGS
@given(float_cases())
def test_log_softmax_is_log_of_softmax(case):
    dtype, (x, axis) = case
    t = TOL[dtype]
    p = fs.softmax(x, axis=axis).astype(np.float64)
    lp = fs.log_softmax(x, axis=axis)
    assert lp.dtype == dtype and lp.shape == x.shape
    assert np.all(lp <= 0)
    keep = p > t["tiny"]
    np.testing.assert_allclose(lp[keep], np.log(p[keep]), rtol=t["rtol"], atol=t["atol"])
    # and both agree with x - logsumexp(x)
    lse = fs.logsumexp(x, axis=axis, keepdims=True).astype(np.float64)
    err = np.abs(lp - (x.astype(np.float64) - lse))
    assert np.all(err <= t["rtol"] * np.abs(lp) + t["atol"] * np.maximum(1, np.abs(lse)))


def _dyadic(x, bits):
    """x rounded to a multiple of 2**-bits (so that x + c is exact)."""
    return (np.round(x.astype(np.float64) * 2.0 ** bits) / 2.0 ** bits).astype(x.dtype)


@SETTINGS
@given(float_cases(), st.integers(-1000, 1000))
def test_shift_invariance_exact(case, c):
    """x on a grid of 2**-20 (float64) / 2**-10 (float32): x + c is exact and
    so is every x - max, so softmax and log_softmax must not change at all."""
    dtype, (x, axis) = case
    x = _dyadic(x, 20 if dtype == np.float64 else 10)
    xc = x + dtype(c)
    assert np.array_equal(xc - dtype(c), x)       # the shift is exact
    assert_same(fs.softmax(xc, axis=axis), fs.softmax(x, axis=axis))
    assert_same(fs.log_softmax(xc, axis=axis), fs.log_softmax(x, axis=axis))
    lse, lse_c = fs.logsumexp(x, axis=axis), fs.logsumexp(xc, axis=axis)
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(lse_c, lse + dtype(c), rtol=4 * eps, atol=4 * eps * (abs(c) + 60))


@SETTINGS
@given(float_cases(), st.floats(-30, 30, allow_nan=False))
def test_shift_invariance(case, c):
    """Any moderate shift: equal up to the rounding of x + c itself."""
    dtype, (x, axis) = case
    p = fs.softmax(x, axis=axis).astype(np.float64)
    xc = (x.astype(np.float64) + c).astype(dtype)
    pc = fs.softmax(xc, axis=axis).astype(np.float64)
    # x + c is rounded by up to 0.5 ulp(|x| + |c|) <= 80 * eps / 2 in each
    # element; exp turns an argument error d into a relative error d
    eps = float(np.finfo(dtype).eps)
    keep = p > TOL[dtype]["tiny"]
    np.testing.assert_allclose(pc[keep], p[keep], rtol=200 * eps, atol=0)


@SETTINGS
@given(float_cases(bound=300.0))
def test_logsumexp_matches_reference(case):
    dtype, (x, axis) = case
    got = fs.logsumexp(x, axis=axis)
    assert np.asarray(got).dtype == dtype
    x64 = x.astype(np.float64)
    ax = -1 if axis is None else axis
    xx = x64.ravel() if axis is None else x64
    ref = slow.logsumexp(x64, axis=axis)
    m, L, _ = slow._logsumexp_parts(xx, axis=ax, dtype=np.float64)
    m, L = np.squeeze(m, axis=ax), np.squeeze(L, axis=ax)
    # m exact, L = log1p(others) with the relative error of the summed
    # exponentials, the result rounded once (to a subnormal: within one
    # subnormal ulp, e.g. logsumexp([0, -92]) = 1.1e-40 in float32)
    k = 4 * np.finfo(np.float64).eps if dtype == np.float64 else 1e-6
    sub_ulp = float(np.finfo(dtype).smallest_subnormal)
    err = np.abs(np.asarray(got, dtype=np.float64) - ref)
    assert np.all(err <= k * (np.abs(ref) + np.abs(m) + L) + sub_ulp)
    # keepdims only changes the shape
    kd = fs.logsumexp(x, axis=axis, keepdims=True)
    assert kd.ndim == x.ndim
    assert_same(kd.ravel(), np.ravel(got))


@SETTINGS
@given(float_cases())
def test_softmax_matches_reference(case):
    dtype, (x, axis) = case
    ref = slow.softmax(x.astype(np.float64), axis=axis)
    got = fs.softmax(x, axis=axis).astype(np.float64)
    rtol = 1e-13 if dtype == np.float64 else 1e-6
    atol = 1e-300 if dtype == np.float64 else 2 * 2.0 ** -149
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol)


@SETTINGS
@given(float_cases(), st.sampled_from(["F", "strided", "negative", "byteswapped", "unaligned"]))
def test_layout_does_not_change_results(case, layout):
    dtype, (x, axis) = case
    y = with_layout(x, layout)
    for f in (fs.softmax, fs.log_softmax):
        assert_same(f(y, axis=axis), f(x, axis=axis))
        z = with_layout(x, layout if layout != "byteswapped" else "C")
        assert f(z, axis=axis, out=z) is z
        assert_same(z, f(x, axis=axis))
    assert_same(fs.logsumexp(y, axis=axis), fs.logsumexp(x, axis=axis))


@SETTINGS
@given(arrays_and_axis(np.float64), st.data())
def test_permuting_along_the_axis_permutes_softmax(xa, data):
    x, axis = xa
    ax = -1 if axis is None else axis
    xx = x.ravel() if axis is None else x
    n = xx.shape[ax]
    perm = np.array(data.draw(st.permutations(range(n))), dtype=np.intp)
    xp = np.take(xx, perm, axis=ax)
    # equal up to the order of the summation
    np.testing.assert_allclose(fs.softmax(xp, axis=ax),
                               np.take(fs.softmax(xx, axis=ax), perm, axis=ax),
                               rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(fs.log_softmax(xp, axis=ax),
                               np.take(fs.log_softmax(xx, axis=ax), perm, axis=ax),
                               rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(fs.logsumexp(xp, axis=ax), fs.logsumexp(xx, axis=ax),
                               rtol=1e-14, atol=1e-14)
