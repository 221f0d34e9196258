"""Special values, empty and 0-d inputs, extreme magnitudes, argument errors."""
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import fastsoftmax as fs
from _helpers import (FUNC_NAMES, FUNCS, MORE_ACCURATE_THAN_SCIPY, SPECIAL_ROWS,
                      assert_same, make_base, scipy_ref)

inf, nan = np.inf, np.nan
ELEMENTWISE = ("softmax", "log_softmax")


# ------------------------------------------------------------ special values

@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("row", SPECIAL_ROWS, ids=str)
@pytest.mark.parametrize("name", FUNC_NAMES)
def test_special_rows_match_scipy(name, row, dtype):
    x = np.array(row, dtype=dtype)
    got = FUNCS[name](x)
    assert np.asarray(got).dtype == np.dtype(dtype)
    ref = np.asarray(scipy_ref(name, x.astype(np.float64))).astype(dtype)
    # the NaN / +inf / -inf (and zero) pattern exactly SciPy's ...
    more_accurate = (name, tuple(row)) in MORE_ACCURATE_THAN_SCIPY
    assert_nonfinite_pattern(got, ref, zeros=not more_accurate)
    # ... and the finite values to rounding
    rtol = {np.float64: 1e-14, np.float32: 1e-6, np.float16: 1e-3}[dtype]
    if more_accurate:
        # SciPy loses what we keep (see test_logsumexp_keeps_precision...)
        assert_allclose(got, ref, rtol=rtol, atol=1e-17)
    else:
        assert_allclose(got, ref, rtol=rtol, atol=0, equal_nan=True)


def assert_nonfinite_pattern(got, ref, zeros=True):
    got, ref = np.asarray(got), np.asarray(ref)
    assert_array_equal(np.isnan(got), np.isnan(ref), err_msg="NaN pattern")
    assert_array_equal(np.isposinf(got), np.isposinf(ref), err_msg="+inf pattern")
    assert_array_equal(np.isneginf(got), np.isneginf(ref), err_msg="-inf pattern")
    # zeros too (exp(-inf) = 0 exactly, -0.0 == 0.0)
    if zeros:
        assert_array_equal(got == 0, ref == 0, err_msg="zero pattern")


@pytest.mark.parametrize("name", FUNC_NAMES)
def test_special_rows_along_axis_0(name):
    """The same rows as columns of one 2-D array, reduced along axis 0."""
    width = max(len(r) for r in SPECIAL_ROWS)
    for n in range(1, width + 1):
        rows = [r for r in SPECIAL_ROWS if len(r) == n]
        x = np.array(rows, dtype=np.float64).T            # (n, k) columns
        got = FUNCS[name](x, axis=0)
        expected = np.stack([np.asarray(FUNCS[name](np.array(r))) for r in rows], axis=-1)
        assert_same(got, expected)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", FUNC_NAMES)
@pytest.mark.parametrize("value", [inf, -inf, nan])
@pytest.mark.parametrize("pos", [0, 7, 15, 16, 2047, 2048, 5000, 6148])
def test_special_value_inside_long_row(name, value, pos, dtype):
    """One special value at various positions of a 6149-element row: in a
    SIMD tail, at vector and online-block (2048) boundaries, in the last
    block; the other rows stay finite."""
    x = make_base((3, 6149), dtype, seed=pos, scale=3.0)
    x[1, pos] = value
    got = FUNCS[name](x)
    ref = np.asarray(scipy_ref(name, x.astype(np.float64)))
    # rows 0 and 2 are untouched by the special value
    finite_rows = FUNCS[name](x[[0, 2]])
    assert_same(np.asarray(got)[[0, 2]], finite_rows)
    # row 1: SciPy's pattern
    g1, r1 = np.asarray(got)[1], ref[1]
    assert_array_equal(np.isnan(g1), np.isnan(r1))
    assert_array_equal(np.isposinf(g1), np.isposinf(r1))
    assert_array_equal(np.isneginf(g1), np.isneginf(r1))
    if value == -inf:
        if name == "softmax":
            assert g1[pos] == 0
        elif name == "log_softmax":
            assert g1[pos] == -inf
    else:
        assert np.any(np.isnan(g1) | np.isposinf(g1))
    if value == -inf:
        # -inf is an ordinary element: exp(-inf) = 0
        rtol = 1e-13 if dtype == np.float64 else 1e-5
        mask = np.isfinite(r1)
        assert_allclose(g1[mask], r1[mask], rtol=rtol, atol=1e-30)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nan_after_inf_and_inf_after_nan(dtype):
    # a NaN anywhere wins over +inf, whichever block comes first
    for first, second in [(inf, nan), (nan, inf)]:
        x = np.zeros(5000, dtype=dtype)
        x[10], x[4500] = first, second
        assert np.isnan(fs.logsumexp(x))
        assert np.all(np.isnan(fs.softmax(x)))
        assert np.all(np.isnan(fs.log_softmax(x)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_all_minus_inf_then_finite_block(dtype):
    # the online max starts at -inf and the first finite block comes late
    x = np.full(5000, -inf, dtype=dtype)
    x[4999] = 2.0
    x[3000] = 1.0
    sm = fs.softmax(x)
    assert sm[4999] == pytest.approx(1 / (1 + np.exp(-1.0)), rel=1e-6)
    assert sm[3000] == pytest.approx(np.exp(-1.0) / (1 + np.exp(-1.0)), rel=1e-6)
    assert np.count_nonzero(sm) == 2
    assert fs.logsumexp(x) == pytest.approx(2.0 + np.log1p(np.exp(-1.0)), rel=1e-6)
    ls = fs.log_softmax(x)
    assert np.all(np.isneginf(np.delete(ls, [3000, 4999])))


def test_max_in_later_block_and_ties_across_blocks():
    n = 3 * 2048 + 5
    x = np.zeros(n)
    x[100] = x[5000] = x[n - 1] = 3.0             # ties in three blocks
    ref = np.log(3 * np.exp(3.0) + (n - 3))
    assert fs.logsumexp(x) == pytest.approx(ref, rel=1e-15)
    sm = fs.softmax(x)
    assert sm[100] == sm[5000] == sm[n - 1]
    assert_allclose(sm.sum(), 1.0, rtol=1e-14)
    x = np.linspace(-10.0, 50.0, n)                # max in the last block
    assert_allclose(fs.logsumexp(x), scipy_ref("logsumexp", x), rtol=1e-14)
    assert_allclose(fs.logsumexp(x[::-1]), scipy_ref("logsumexp", x), rtol=1e-14)


def test_logsumexp_keeps_precision_when_one_term_dominates():
    assert fs.logsumexp(np.array([0.0, -40.0])) == pytest.approx(4.248354255291589e-18, rel=1e-14)
    assert fs.logsumexp(np.array([0.0, -40.0])) == pytest.approx(
        float(scipy_ref("logsumexp", np.array([0.0, -40.0]))), rel=1e-14)
    assert fs.logsumexp(np.array([0.0, -40.0], np.float32)) == pytest.approx(
        4.248354255291589e-18, rel=1e-6)
    assert fs.logsumexp(np.array([-700.0, 0.0, -700.0])) == pytest.approx(
        2 * np.exp(-700.0), rel=1e-14)
    assert fs.log_softmax(np.array([0.0, -40.0]))[0] == pytest.approx(
        -4.248354255291589e-18, rel=1e-14)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_no_overflow_for_large_inputs(dtype):
    big = np.finfo(dtype).max
    x = np.array([[big, big], [big, -big], [-big, -big], [1000.0, 1000.0]], dtype=dtype)
    assert_array_equal(fs.softmax(x), [[0.5, 0.5], [1.0, 0.0], [0.5, 0.5], [0.5, 0.5]])
    assert_array_equal(fs.softmax(x), scipy_ref("softmax", x))
    ls = fs.log_softmax(x)
    assert_allclose(ls[[0, 2, 3]], -np.log(2), rtol=1e-6)
    assert ls[1, 0] == 0 and ls[1, 1] == -inf
    lse = fs.logsumexp(x)
    assert np.all(np.isfinite(lse))
    assert lse[3] == pytest.approx(1000 + np.log(2), rel=1e-7)
    assert lse[0] == big and lse[1] == big and lse[2] == -big
    assert_allclose(fs.logsumexp(x).astype(np.float64),
                    scipy_ref("logsumexp", x.astype(np.float64)), rtol=1e-7)


def test_docstring_special_examples():
    assert_array_equal(fs.softmax(np.array([[1000.0, 1000.0], [0.0, -inf]]), axis=1),
                       [[0.5, 0.5], [1.0, 0.0]])
    assert_array_equal(fs.log_softmax(np.array([1000.0, 1.0])), [0.0, -999.0])
    assert_allclose(fs.logsumexp(np.array([[1e4, 1e4], [0.0, -40.0]]), axis=1),
                    [1e4 + np.log(2), 4.24835426e-18], rtol=1e-8)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_subnormal_and_signed_zero_inputs(dtype):
    tiny = np.finfo(dtype).smallest_subnormal
    x = np.array([tiny, -tiny, 0.0, -0.0], dtype=dtype)
    assert_allclose(fs.softmax(x), 0.25, rtol=1e-7)
    assert_allclose(fs.logsumexp(x), np.log(4), rtol=1e-7)
    assert_array_equal(fs.softmax(np.array([-0.0], dtype=dtype)), [1.0])
    assert_array_equal(fs.log_softmax(np.array([-0.0, 0.0], dtype=dtype)),
                       np.full(2, -np.log(2), dtype=dtype))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_subnormal_results_are_not_flushed(dtype):
    """Results in the subnormal range stay subnormal, in the kernels and in
    NumPy after them: a build with -ffast-math (or -Ofast) would flush them to
    zero, in the whole process once its runtime is loaded."""
    tiny = np.finfo(dtype).smallest_normal
    depth = -100.0 if dtype == np.float32 else -720.0   # exp(depth): subnormal
    x = np.array([0.0, depth], dtype=dtype)
    p = fs.softmax(x)
    assert 0 < p[1] < tiny
    assert_allclose(p[1], np.exp(np.float64(depth)), rtol=1e-6,
                    atol=np.finfo(dtype).smallest_subnormal)   # one subnormal step
    s = fs.sigmoid(np.array([depth], dtype=dtype))
    assert 0 < s[0] < tiny
    assert dtype(tiny / 4) * dtype(1.0) > 0          # NumPy's own arithmetic, after the kernels


# ------------------------------------------------------------ empty

EMPTY_CASES = [((0,), -1), ((0,), None), ((0, 3), -1), ((0, 3), 0), ((3, 0), -1),
               ((3, 0), 0), ((0, 0), 0), ((2, 0, 3), 1), ((2, 0, 3), 0), ((2, 0, 3), None),
               ((4, 0), None)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, np.int64])
@pytest.mark.parametrize("shape,axis", EMPTY_CASES, ids=str)
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_empty_elementwise(name, shape, axis, dtype):
    x = np.zeros(shape, dtype=dtype)
    got = FUNCS[name](x, axis=axis)
    assert isinstance(got, np.ndarray)
    assert got.shape == shape
    assert got.dtype == (np.float64 if dtype == np.int64 else np.dtype(dtype))
    out = np.empty(shape, dtype=got.dtype)
    assert FUNCS[name](x, axis=axis, out=out) is out


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("shape,axis", EMPTY_CASES, ids=str)
def test_empty_logsumexp(shape, axis, keepdims, dtype):
    x = np.zeros(shape, dtype=dtype)
    got = np.asarray(fs.logsumexp(x, axis=axis, keepdims=keepdims))
    # the shape NumPy's reductions give
    assert got.shape == np.sum(x, axis=axis, keepdims=keepdims).shape
    assert got.dtype == np.dtype(dtype)
    if axis is None or shape[axis] == 0:
        # an empty reduction: log(0) = -inf
        assert np.all(np.isneginf(got))
    if x.ndim > 1 and axis is not None:
        # SciPy >= 1.15 agrees (it fails for axis=None on empty input)
        assert_array_equal(got, np.asarray(scipy_ref("logsumexp", x.astype(np.float64),
                                                     axis=axis, keepdims=keepdims)))


def test_empty_rows_of_softmax_are_empty():
    assert fs.softmax(np.zeros((3, 0)), axis=1).shape == (3, 0)
    assert_array_equal(fs.logsumexp(np.zeros((3, 0)), axis=1), [-inf, -inf, -inf])
    assert fs.logsumexp(np.zeros((3, 0)), axis=0).shape == (0,)
    r = fs.logsumexp(np.zeros(0))
    assert type(r) is np.float64 and r == -inf


# ------------------------------------------------------------ 0-d input

@pytest.mark.parametrize("axis", [0, -1, None])
@pytest.mark.parametrize("value", [3.0, -1e300, 0.0])
def test_zero_dim_is_a_one_element_vector(value, axis):
    sm = fs.softmax(value, axis=axis)
    ls = fs.log_softmax(value, axis=axis)
    lse = fs.logsumexp(value, axis=axis)
    for r in (sm, ls, lse):
        assert type(r) is np.float64
    assert sm == 1.0 and ls == 0.0 and lse == value
    assert_allclose(scipy_ref("softmax", np.float64(value)), sm)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32, np.bool_])
def test_zero_dim_dtypes(dtype):
    x = np.array(3, dtype=dtype)
    want = np.float64 if np.dtype(dtype).kind in "ib" else dtype
    assert type(fs.softmax(x)) is want and fs.softmax(x) == 1
    assert type(fs.log_softmax(x)) is want and fs.log_softmax(x) == 0
    assert type(fs.logsumexp(x)) is want and fs.logsumexp(x) == x
    assert type(fs.softmax(dtype(3))) is want      # a NumPy scalar as input


def test_zero_dim_special_values():
    assert np.isnan(fs.softmax(inf)) and np.isnan(fs.softmax(-inf)) and np.isnan(fs.softmax(nan))
    assert np.isnan(fs.log_softmax(inf)) and np.isnan(fs.log_softmax(-inf))
    assert fs.logsumexp(inf) == inf and fs.logsumexp(-inf) == -inf
    assert np.isnan(fs.logsumexp(nan))


def test_zero_dim_keepdims_value():
    # the value is 3.0 whatever shape keepdims gives (SciPy: (1,), NumPy: ())
    assert np.asarray(fs.logsumexp(3.0, keepdims=True)).item() == 3.0


@pytest.mark.parametrize("name", FUNC_NAMES)
def test_zero_dim_out(name):
    out = np.empty(())
    r = FUNCS[name](np.float64(2.0), out=out)
    assert r is out
    assert out[()] == {"softmax": 1.0, "log_softmax": 0.0, "logsumexp": 2.0}[name]
    out32 = np.empty((), np.float32)
    assert fs.logsumexp(np.ones(4, np.float32), out=out32) is out32
    assert out32[()] == pytest.approx(1 + np.log(4), rel=1e-7)


@pytest.mark.parametrize("name", FUNC_NAMES)
@pytest.mark.parametrize("axis", [1, -2, 5])
def test_zero_dim_bad_axis(name, axis):
    with pytest.raises(np.exceptions.AxisError, match="out of bounds"):
        FUNCS[name](3.0, axis=axis)


# ------------------------------------------------------------ errors

BAD_DTYPES = [
    (np.array([1 + 2j, 3j]), "real numeric dtype"),
    (np.array([1.0, 2.0], dtype=np.complex64), "real numeric dtype"),
    (np.array([1, None, 2], dtype=object), "real numeric dtype"),
    (np.array(["a", "b"]), "real numeric dtype"),
    (np.array([b"a", b"b"]), "real numeric dtype"),
    (np.array([1, 2], dtype="M8[s]"), "real numeric dtype"),
    (np.array([1, 2], dtype="m8[s]"), "real numeric dtype"),
    ("abc", "real numeric dtype"),
]


@pytest.mark.parametrize("x,msg", BAD_DTYPES, ids=lambda v: str(getattr(v, "dtype", v)))
@pytest.mark.parametrize("name", FUNC_NAMES)
def test_bad_dtype_raises_type_error(name, x, msg):
    with pytest.raises(TypeError, match=msg):
        FUNCS[name](x)


@pytest.mark.skipif(np.dtype(np.longdouble) == np.dtype(np.float64),
                    reason="longdouble is float64 here")
@pytest.mark.parametrize("name", FUNC_NAMES)
def test_longdouble_is_rejected(name):
    with pytest.raises(TypeError, match="not supported"):
        FUNCS[name](np.ones(3, dtype=np.longdouble))


@pytest.mark.parametrize("name", FUNC_NAMES)
def test_masked_and_ragged_inputs_are_rejected(name):
    with pytest.raises(TypeError, match="masked arrays are not supported"):
        FUNCS[name](np.ma.array([1.0, 2.0], mask=[0, 1]))
    with pytest.raises(TypeError, match="array-like of real numbers"):
        FUNCS[name]([[1.0, 2.0], [3.0]])


@pytest.mark.parametrize("shape,axis", [((5,), 1), ((5,), -2), ((2, 3), 2), ((2, 3), -3),
                                        ((2, 3, 4), 3), ((2, 3, 4, 5), -5), ((2, 3), 100)])
@pytest.mark.parametrize("name", FUNC_NAMES)
def test_bad_axis_raises_axis_error(name, shape, axis):
    x = np.ones(shape)
    with pytest.raises(np.exceptions.AxisError, match="out of bounds") as info:
        FUNCS[name](x, axis=axis)
    # AxisError is both a ValueError and an IndexError
    assert isinstance(info.value, ValueError) and isinstance(info.value, IndexError)


@pytest.mark.parametrize("axis", [1.0, "0", (0, 1), [0], np.float64(0.0)], ids=repr)
@pytest.mark.parametrize("name", FUNC_NAMES)
def test_non_integer_axis_raises_type_error(name, axis):
    with pytest.raises(TypeError, match="axis must be an integer or None"):
        FUNCS[name](np.ones((2, 3)), axis=axis)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_out_errors(name):
    f = FUNCS[name]
    x = np.ones((5, 12))
    with pytest.raises(ValueError, match=r"out has shape \(5, 11\), expected \(5, 12\)"):
        f(x, out=np.empty((5, 11)))
    with pytest.raises(ValueError, match="out has shape"):
        f(x, out=np.empty((12, 5)))
    with pytest.raises(ValueError, match="out has shape"):
        f(x, out=np.empty(60))
    with pytest.raises(TypeError, match="out has dtype float32, expected float64"):
        f(x, out=np.empty((5, 12), np.float32))
    with pytest.raises(TypeError, match="out has dtype float64, expected float32"):
        f(x.astype(np.float32), out=np.empty((5, 12)))
    with pytest.raises(TypeError, match="out has dtype float32, expected float64"):
        f(x.astype(np.int64), out=np.empty((5, 12), np.float32))
    with pytest.raises(TypeError, match="out has dtype float32, expected float16"):
        f(x.astype(np.float16), out=np.empty((5, 12), np.float32))
    with pytest.raises(TypeError, match="out must be a numpy.ndarray"):
        f(x, out=[0.0] * 60)
    ro = np.empty((5, 12))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out is read-only"):
        f(x, out=ro)
    xr = x.copy()
    xr.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        f(xr, out=xr)
    assert_array_equal(xr, 1.0)


def test_logsumexp_out_errors():
    x = np.ones((5, 12))
    with pytest.raises(ValueError, match=r"out has shape \(12,\), expected \(5,\)"):
        fs.logsumexp(x, out=np.empty(12))
    with pytest.raises(ValueError, match=r"expected \(5,\)"):
        fs.logsumexp(x, out=np.empty((5, 1)))
    with pytest.raises(ValueError, match=r"expected \(5, 1\)"):
        fs.logsumexp(x, keepdims=True, out=np.empty(5))
    with pytest.raises(ValueError, match=r"expected \(\)"):
        fs.logsumexp(x, axis=None, out=np.empty(1))
    with pytest.raises(TypeError, match="out has dtype float32, expected float64"):
        fs.logsumexp(x, out=np.empty(5, np.float32))
    with pytest.raises(TypeError, match="out must be a numpy.ndarray"):
        fs.logsumexp(x, out=[0.0] * 5)
    ro = np.empty(5)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out is read-only"):
        fs.logsumexp(x, out=ro)


@pytest.mark.parametrize("name", FUNC_NAMES)
def test_failed_call_leaves_out_untouched(name):
    x = np.ones((4, 6))
    out = np.full((4, 5) if name != "logsumexp" else (5,), 7.0)
    with pytest.raises(ValueError, match="out has shape"):
        FUNCS[name](x, out=out)
    assert np.all(out == 7.0)
