"""softmax, log_softmax, logsumexp: values, dtypes, axes, layouts and out=."""
import doctest
import importlib
import zlib

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import fastsoftmax as fs
from fastsoftmax import slow
from _helpers import (ACCURACY_SHAPES, F32_SUBNORMAL_ULP, FUNC_NAMES, FUNCS, LAYOUTS,
                      LONGDOUBLE_IS_WIDER, WRITABLE_LAYOUTS, assert_same, check_layout,
                      make_array, make_base, scipy_ref, with_layout)

EPS64 = np.finfo(np.float64).eps
ELEMENTWISE = ("softmax", "log_softmax")


def expected_shape(name, shape, axis, keepdims=False):
    if name != "logsumexp":
        return shape
    if axis is None:
        return (1,) * len(shape) if keepdims else ()
    axis %= len(shape)
    if keepdims:
        return shape[:axis] + (1,) + shape[axis + 1:]
    return shape[:axis] + shape[axis + 1:]


def _seed(*parts):
    """A deterministic seed per test case (hash() of str is salted per run)."""
    return zlib.crc32(repr(parts).encode())


# ------------------------------------------------------------ accuracy, float64

@pytest.mark.parametrize("scale", [1.0, 30.0])
@pytest.mark.parametrize("shape", ACCURACY_SHAPES, ids=str)
@pytest.mark.parametrize("name", FUNC_NAMES)
def test_float64_matches_scipy(name, shape, scale):
    x = make_base(shape, np.float64, seed=_seed(name, shape, scale), scale=scale)
    got = FUNCS[name](x)
    ref = scipy_ref(name, x)
    assert got.dtype == np.float64 and got.shape == ref.shape
    if name == "log_softmax":
        # Our (x - m) - log1p(others) is more accurate than SciPy's
        # (x - m) - log(sum) near 0, so allow SciPy's own absolute error
        # there: a few ulp of the row's logsumexp.
        lse = scipy_ref("logsumexp", x, keepdims=True)
        atol = 1e-14 * np.maximum(1.0, np.abs(lse))
        err = np.abs(got - ref)
        assert np.all(err <= 1e-13 * np.abs(ref) + atol), err.max()
    else:
        assert_allclose(got, ref, rtol=1e-13, atol=0)


@pytest.mark.skipif(not LONGDOUBLE_IS_WIDER, reason="np.longdouble is not wider than float64 here")
@pytest.mark.parametrize("scale", [1.0, 30.0])
@pytest.mark.parametrize("shape", ACCURACY_SHAPES, ids=str)
@pytest.mark.parametrize("name", FUNC_NAMES)
def test_float64_against_longdouble(name, shape, scale):
    """Tighter than the SciPy comparison (SciPy itself is off by up to
    |x - max| * eps in the exponent): a few ulp of the exact value."""
    x = make_base(shape, np.float64, seed=_seed("ld", name, shape, scale), scale=scale)
    got = FUNCS[name](x).astype(np.longdouble)
    m, L, t = slow._logsumexp_parts(x)
    ref = slow._extended(name, x)
    if name == "softmax":
        # exp of the exact difference (~1 ulp), one division, one product
        bound = 8 * EPS64 * ref
    elif name == "log_softmax":
        # (x - m) and log1p(others) each rounded, then their difference
        bound = 4 * EPS64 * (np.abs(t) + L)
    else:
        bound = 4 * EPS64 * np.squeeze(np.abs(m) + L, axis=-1)
    err = np.abs(got - ref)
    assert np.all(err <= bound), float(np.max(err / bound))


def test_log_softmax_keeps_relative_precision_near_zero():
    # log_softmax of the dominant entry is -log1p(exp(-d)) ~ -exp(-d); the
    # naive (x - m) - log(sum) would return exactly 0 for d > 37.
    d = np.array([5.0, 20.0, 36.0, 40.0, 100.0, 700.0])
    x = np.stack([np.zeros_like(d), -d], axis=1)
    got = fs.log_softmax(x, axis=1)
    assert_allclose(got[:, 0], -np.log1p(np.exp(-d)), rtol=1e-15)
    assert_allclose(got[:, 1], -d - np.log1p(np.exp(-d)), rtol=1e-15)
    assert np.all(got[:, 0] < 0)


# ------------------------------------------------------------ accuracy, float32

def _float32_check(name, x32):
    x64 = x32.astype(np.float64)
    got = FUNCS[name](x32)
    assert got.dtype == np.float32
    got = got.astype(np.float64)
    if name == "softmax":
        ref = scipy_ref(name, x64)
        # Entries below the float32 normal range keep an absolute, not
        # relative, accuracy: the exponential itself is then a float32
        # subnormal (<= 1 ulp = 2**-149 off) and the product with the scale
        # is rounded again.
        assert_allclose(got, ref, rtol=1e-6, atol=2 * F32_SUBNORMAL_ULP)
    elif name == "logsumexp":
        ref = scipy_ref(name, x64)
        # m + log1p(s): m is exact, s (a sum of float32 exponentials) has a
        # relative error ~1e-7, which moves log1p(s) by at most that much
        # of L = log1p(s); a subnormal result is within one subnormal ulp.
        _, L, _ = slow._logsumexp_parts(x64, dtype=np.float64)
        L = np.squeeze(L, axis=-1)
        err = np.abs(got - ref)
        assert np.all(err <= 1e-6 * (np.abs(ref) + L) + F32_SUBNORMAL_ULP), err.max()
    else:
        # SciPy's float64 log_softmax is not accurate to 1e-6 relative near
        # 0 (where it rounds -1e-20 to 0): use the extended-precision reference.
        ref = slow.log_softmax(x64)
        assert_allclose(got, ref, rtol=1e-6, atol=0)


@pytest.mark.parametrize("scale", [1.0, 30.0])
@pytest.mark.parametrize("shape", ACCURACY_SHAPES, ids=str)
@pytest.mark.parametrize("name", FUNC_NAMES)
def test_float32_accuracy(name, shape, scale):
    x32 = make_base(shape, np.float32, seed=_seed("f32", name, shape, scale), scale=scale)
    if scale == 30.0 and shape[-1] >= 33:
        # the point of the large spread: exponents of -100 and less
        spread = np.max(x32, axis=-1, keepdims=True) - x32
        assert spread.max() > 90
    _float32_check(name, x32)


@pytest.mark.parametrize("name", FUNC_NAMES)
def test_float32_inexact_differences(name):
    """x - max is not representable in float32 (max = 50.3, |x - max| up to
    87): exp must not see the rounded difference (that alone would be
    ~80 * 6e-8 = 5e-6 relative)."""
    rng = np.random.default_rng(11)
    x = (np.float32(50.3) - rng.uniform(0, 87, size=(64, 129))).astype(np.float32)
    x[:, 7] = np.float32(50.3)
    d32 = x - np.float32(50.3)
    assert np.any(d32.astype(np.float64) != x.astype(np.float64) - np.float64(np.float32(50.3)))
    _float32_check(name, x)


@pytest.mark.parametrize("span", [7.99, 8.01])
@pytest.mark.parametrize("top", [0.7, 3.0, -2.0, 12.0])
@pytest.mark.parametrize("ncols", [100, 1000, 5000])
@pytest.mark.parametrize("name", FUNC_NAMES)
def test_float32_rows_around_the_near_span(name, ncols, top, span):
    """Rows spanning just under 8 take exp from the rounded x - max (up to
    2**-22 relative more error, where x - max is inexact: the max near 0),
    rows just over it the compensated difference: both within 1e-6."""
    rng = np.random.default_rng(_seed("near", name, ncols, top, span))
    x = np.float32(top) - rng.uniform(0, span, size=(16, ncols)).astype(np.float32)
    x[:, 0] = np.float32(top)
    x[:, -1] = np.float32(top) - np.float32(span)
    _float32_check(name, x)


# ------------------------------------------------------------ dtypes

@pytest.mark.parametrize("name", FUNC_NAMES)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("axis", [0, -1, None])
def test_result_dtype_and_shape(name, dtype, axis):
    x = make_base((4, 9), dtype, seed=3)
    got = FUNCS[name](x, axis=axis)
    assert got.dtype == np.dtype(dtype)
    assert np.shape(got) == expected_shape(name, x.shape, axis)


@pytest.mark.parametrize("name", FUNC_NAMES)
def test_float16_is_computed_in_float32(name):
    x16 = make_base((16, 37), np.float16, seed=5, scale=4.0)
    got = FUNCS[name](x16)
    assert got.dtype == np.float16
    via32 = FUNCS[name](x16.astype(np.float32))
    assert_same(got, np.asarray(via32).astype(np.float16))
    # and close to the float64 value: float16 rounding (2**-11) dominates
    ref = scipy_ref(name, x16.astype(np.float64))
    assert_allclose(got.astype(np.float64), ref, rtol=2.0 ** -10, atol=2.0 ** -24)


@pytest.mark.parametrize("name", FUNC_NAMES)
@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8,
                                   np.uint16, np.uint32, np.uint64, np.bool_])
def test_integer_and_bool_compute_in_float64(name, dtype):
    x = make_base((6, 11), dtype, seed=7)
    got = FUNCS[name](x)
    assert got.dtype == np.float64
    x64 = x.astype(np.float64)
    assert_same(got, FUNCS[name](x64))
    # SciPy differs for small ints (float16 via NumPy promotion) and unsigned
    # (wrap-around in x - max): compare with it on the float64 values.
    assert_allclose(got, scipy_ref(name, x64), rtol=1e-13, atol=1e-15)


def test_unsigned_extremes():
    # x - max must not wrap around in the unsigned type
    x = np.array([0, 2 ** 64 - 1], dtype=np.uint64)
    assert_array_equal(fs.softmax(x), [0.0, 1.0])
    x = np.array([0, 1, 255], dtype=np.uint8)
    assert_allclose(fs.log_softmax(x), [-255 - np.exp(-254.0), -254 - np.exp(-254.0),
                                         -np.exp(-254.0) - np.exp(-255.0)], rtol=1e-15)


@pytest.mark.parametrize("name", FUNC_NAMES)
def test_python_lists_and_scalars(name):
    f = FUNCS[name]
    assert_same(f([1.0, 2.0, 3.0]), f(np.array([1.0, 2.0, 3.0])))
    assert_same(f([[1, 2], [3, 5]]), f(np.array([[1.0, 2.0], [3.0, 5.0]])))
    assert_same(f([True, False]), f(np.array([1.0, 0.0])))


def test_known_values():
    assert_allclose(fs.softmax(np.array([1.0, 2.0, 3.0])),
                    [0.09003057317038046, 0.24472847105479767, 0.6652409557748219],
                    rtol=1e-15)
    assert_allclose(fs.log_softmax(np.array([1.0, 2.0, 3.0])),
                    [-2.4076059644443806, -1.4076059644443806, -0.4076059644443806],
                    rtol=1e-15)
    assert float(fs.logsumexp(np.array([0.0, 0.0]))) == pytest.approx(np.log(2), rel=1e-16)
    assert_array_equal(fs.softmax(np.zeros(5)), np.full(5, 0.2))
    assert_allclose(fs.logsumexp(np.zeros((2, 1000)), axis=1), np.log(1000), rtol=1e-15)


@pytest.mark.parametrize("modname", ["fastsoftmax.softmax", "fastsoftmax._threads"])
def test_docstring_examples(modname):
    mod = importlib.import_module(modname)
    res = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0
    assert res.failed == 0


# ------------------------------------------------------------ axes

AXIS_SHAPES = {1: (37,), 2: (5, 19), 3: (3, 4, 17), 4: (2, 3, 5, 6)}


def _axis_cases():
    for ndim, shape in AXIS_SHAPES.items():
        for axis in [None, *range(-ndim, ndim)]:
            yield shape, axis


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,axis", list(_axis_cases()), ids=str)
@pytest.mark.parametrize("name", FUNC_NAMES)
def test_axis(name, shape, axis, dtype):
    x = make_base(shape, dtype, seed=_seed("axis", shape, axis), scale=3.0)
    f = FUNCS[name]
    got = f(x, axis=axis)
    assert np.shape(got) == expected_shape(name, shape, axis)
    # exactly the last-axis computation on the moved (or flattened) array
    if axis is None:
        same = f(x.ravel())
        same = np.asarray(same).reshape(np.shape(got))
    else:
        moved = np.ascontiguousarray(np.moveaxis(x, axis, -1))
        same = f(moved)
        if name != "logsumexp":
            same = np.moveaxis(same, -1, axis)
    assert_same(got, same)
    # and the right values
    ref = scipy_ref(name, x.astype(np.float64), axis=axis)
    if dtype == np.float64:
        assert_allclose(got, ref, rtol=1e-13, atol=1e-14)
    else:
        assert_allclose(np.asarray(got, dtype=np.float64), ref, rtol=1e-6, atol=1e-6)
    if name == "softmax":
        tol = 1e-12 if dtype == np.float64 else 1e-5
        assert_allclose(np.sum(got, axis=axis), 1.0, rtol=0, atol=tol)


@pytest.mark.parametrize("name", FUNC_NAMES)
def test_axis_accepts_numpy_integers(name):
    x = make_base((4, 6), np.float64, seed=2)
    assert_same(FUNCS[name](x, axis=np.int64(0)), FUNCS[name](x, axis=0))
    assert_same(FUNCS[name](x, axis=np.int8(-1)), FUNCS[name](x, axis=1))


@pytest.mark.parametrize("name", FUNC_NAMES)
def test_default_axis_is_last(name):
    x = make_base((3, 4, 5), np.float64, seed=4)
    assert_same(FUNCS[name](x), FUNCS[name](x, axis=-1))
    assert_same(FUNCS[name](x), FUNCS[name](x, axis=2))


def test_size_one_axes():
    # moved views with length-1 dimensions (C-contiguous with odd strides)
    x = make_base((3, 1, 5), np.float64, seed=6)
    assert_array_equal(fs.softmax(x, axis=1), np.ones_like(x))
    assert_array_equal(fs.log_softmax(x, axis=1), np.zeros_like(x))
    assert_same(fs.logsumexp(x, axis=1), x[:, 0, :])
    assert_same(fs.softmax(x, axis=2), fs.softmax(x[:, 0, :])[:, None, :])
    assert_same(fs.logsumexp(x, axis=0), fs.logsumexp(np.ascontiguousarray(x.T), axis=-1).T)


SIZE_ONE_CASES = [((1, 5), 0), ((5, 1), 1), ((1, 1, 4), 1), ((2, 1, 1, 3), 2), ((1, 7), 1),
                  ((7, 1), 0), ((1,), 0), ((1,), None), ((1, 1), None)]


@pytest.mark.parametrize("shape,axis", SIZE_ONE_CASES, ids=str)
@pytest.mark.parametrize("name", FUNC_NAMES)
def test_length_one_dimensions(name, shape, axis):
    """Views whose moved axes include length-1 dimensions are "C-contiguous"
    with arbitrary strides on those dimensions: the kernels must cope."""
    x = make_base(shape, np.float64, seed=25)
    f = FUNCS[name]
    if axis is None:
        expected = np.asarray(f(x.ravel())).reshape(np.shape(f(x, axis=None)))
    else:
        expected = f(np.ascontiguousarray(np.moveaxis(x, axis, -1)))
        if name != "logsumexp":
            expected = np.moveaxis(expected, -1, axis)
    assert_same(f(x, axis=axis), expected)
    if name == "logsumexp":
        kd = fs.logsumexp(x, axis=axis, keepdims=True)
        assert kd.ndim == x.ndim
        assert_same(kd.ravel(), np.ravel(expected))
        return
    out = np.empty_like(x)
    assert f(x, axis=axis, out=out) is out
    assert_same(out, expected)
    y = x.copy()
    assert f(y, axis=axis, out=y) is y
    assert_same(y, expected)
    # a length-1 axis: softmax is 1, log_softmax is 0
    if axis is not None and shape[axis] == 1:
        assert np.all(out == (1.0 if name == "softmax" else 0.0))


# ------------------------------------------------------------ layouts

LAYOUT_DTYPES = [np.float64, np.float32, np.float16, np.int32]


@pytest.mark.parametrize("axis", [0, 1, -1, None])
@pytest.mark.parametrize("dtype", LAYOUT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", FUNC_NAMES)
def test_layouts_give_identical_results(name, layout, dtype, axis):
    base = make_base((4, 6, 21), dtype, seed=_seed("layout", dtype, axis), scale=2.0)
    x = with_layout(base, layout)
    check_layout(x, layout)
    before = x.copy()
    got = FUNCS[name](x, axis=axis)
    assert_same(got, FUNCS[name](base, axis=axis))
    # the input is never modified
    assert_same(x, before)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", FUNC_NAMES)
def test_layouts_large_parallel(name, layout):
    # big enough for several threads; odd row length for the vector tails
    base = make_base((300, 257), np.float32, seed=9, scale=10.0)
    x = with_layout(base, layout)
    for axis in (0, -1):
        assert_same(FUNCS[name](x, axis=axis, num_threads=2),
                    FUNCS[name](base, axis=axis, num_threads=1))


def test_slices_of_a_larger_array():
    big = make_base((10, 40), np.float64, seed=12)
    for view in (big[:, ::2], big[::3, 5:31], big[2:7, ::-3], big.T[::2]):
        for name in FUNC_NAMES:
            for axis in (0, 1, None):
                assert_same(FUNCS[name](view, axis=axis),
                            FUNCS[name](np.ascontiguousarray(view), axis=axis))


# ------------------------------------------------------------ out=

@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("axis", [0, -1, None])
@pytest.mark.parametrize("out_layout", WRITABLE_LAYOUTS)
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_out(name, out_layout, axis, dtype):
    x = make_base((5, 3, 13), dtype, seed=13)
    expected = FUNCS[name](x, axis=axis)
    out = with_layout(np.full(x.shape, np.nan, dtype=dtype), out_layout)
    r = FUNCS[name](x, axis=axis, out=out)
    assert r is out
    assert_same(out, expected)


@pytest.mark.parametrize("axis", [0, None])
@pytest.mark.parametrize("out_layout", WRITABLE_LAYOUTS)
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_out_1d(name, out_layout, axis):
    x = make_base((37,), np.float32, seed=26, scale=4.0)
    expected = FUNCS[name](x)
    out = with_layout(np.full(x.shape, np.nan, dtype=np.float32), out_layout)
    assert FUNCS[name](x, axis=axis, out=out) is out
    assert_same(out, expected)
    y = with_layout(x, out_layout)
    assert FUNCS[name](y, axis=axis, out=y) is y
    assert_same(y, expected)


@pytest.mark.parametrize("axis", [0, 1, None])
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_out_strided_leaves_gaps_alone(name, axis):
    x = make_base((6, 10), np.float64, seed=14)
    big = np.full((6, 20), -7.0)
    out = big[:, 1::2]
    FUNCS[name](x, axis=axis, out=out)
    assert_same(out, FUNCS[name](x, axis=axis))
    assert np.all(big[:, ::2] == -7.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("axis", [0, 1, -1, None])
@pytest.mark.parametrize("layout", WRITABLE_LAYOUTS)
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_in_place(name, layout, axis, dtype):
    base = make_base((4, 7, 9), dtype, seed=15, scale=3.0)
    expected = FUNCS[name](base, axis=axis)
    x = with_layout(base, layout)
    r = FUNCS[name](x, axis=axis, out=x)
    assert r is x
    assert_same(x, expected)


@pytest.mark.parametrize("shape", [(3000, 100), (7, 50000)], ids=str)
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_in_place_large_parallel(name, shape):
    base = make_base(shape, np.float64, seed=16, scale=5.0)
    expected = FUNCS[name](base, num_threads=1)
    x = base.copy()
    assert FUNCS[name](x, out=x, num_threads=2) is x
    assert_same(x, expected)


@pytest.mark.parametrize("shift", [1, 5, 13, -1, -13])
@pytest.mark.parametrize("axis", [0, 1, None])
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_out_partially_overlapping_input(name, axis, shift):
    """out and x are different, overlapping windows of one buffer."""
    base = make_base((6, 13), np.float64, seed=17)
    expected = FUNCS[name](base, axis=axis)
    buf = np.zeros(base.size + abs(shift))
    xs, os_ = (slice(shift, None), slice(None, -shift)) if shift > 0 else \
        (slice(None, shift), slice(-shift, None))
    x = buf[xs].reshape(base.shape)
    out = buf[os_].reshape(base.shape)
    x[...] = base
    assert FUNCS[name](x, axis=axis, out=out) is out
    assert_same(out, expected)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_out_for_integer_input_is_float64(name):
    x = make_base((3, 8), np.int64, seed=18)
    out = np.empty((3, 8))
    assert FUNCS[name](x, out=out) is out
    assert_same(out, FUNCS[name](x.astype(np.float64)))


def _lse_out_cases():
    for axis in (0, 1, 2, -1, None):
        for keepdims in (False, True):
            yield axis, keepdims


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("out_layout", ["C", "strided", "negative", "unaligned"])
@pytest.mark.parametrize("axis,keepdims", list(_lse_out_cases()), ids=str)
def test_logsumexp_out(axis, keepdims, out_layout, dtype):
    x = make_base((4, 5, 11), dtype, seed=19, scale=3.0)
    expected = np.asarray(fs.logsumexp(x, axis=axis, keepdims=keepdims))
    out = with_layout(np.full(expected.shape, np.nan, dtype=dtype), out_layout)
    r = fs.logsumexp(x, axis=axis, keepdims=keepdims, out=out)
    assert r is out
    assert isinstance(r, np.ndarray)
    assert_same(out, expected)


def test_logsumexp_out_overlapping_input():
    # keepdims over a length-1 axis: out has the input's shape and memory
    x = make_base((6, 1), np.float64, seed=20)
    expected = fs.logsumexp(x, axis=0, keepdims=True)
    y = make_base((1, 6), np.float64, seed=20)
    exp_y = fs.logsumexp(y, axis=0, keepdims=True)
    assert fs.logsumexp(y, axis=0, keepdims=True, out=y) is y
    assert_same(y, exp_y)
    buf = np.zeros(7)
    xin = buf[1:].reshape(6, 1)
    xin[...] = x
    out = buf[:6].reshape(1, 6)[:, :1]
    assert fs.logsumexp(xin, axis=0, keepdims=True, out=out) is out
    assert_same(out, expected)


# ------------------------------------------------------------ logsumexp specifics

@pytest.mark.parametrize("shape,axis", list(_axis_cases()), ids=str)
def test_logsumexp_keepdims(shape, axis):
    x = make_base(shape, np.float64, seed=21)
    kd = fs.logsumexp(x, axis=axis, keepdims=True)
    nkd = fs.logsumexp(x, axis=axis)
    assert kd.shape == expected_shape("logsumexp", shape, axis, keepdims=True)
    assert kd.ndim == x.ndim
    assert_array_equal(kd.ravel(), np.ravel(nkd))
    # broadcasts back against x: log_softmax = x - logsumexp
    assert_allclose(x - kd, fs.log_softmax(x, axis=axis), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("dtype,scalar", [(np.float64, np.float64), (np.float32, np.float32),
                                          (np.float16, np.float16), (np.int32, np.float64)])
def test_logsumexp_returns_numpy_scalar(dtype, scalar):
    x = make_base((9,), dtype, seed=22)
    r = fs.logsumexp(x)
    assert type(r) is scalar
    r = fs.logsumexp(make_base((3, 4), dtype, seed=22), axis=None)
    assert type(r) is scalar
    # keepdims keeps an array
    r = fs.logsumexp(x, keepdims=True)
    assert isinstance(r, np.ndarray) and r.shape == (1,)


def test_logsumexp_float32_in_float32_out():
    x = make_base((5, 40), np.float32, seed=23)
    r = fs.logsumexp(x, axis=1)
    assert r.dtype == np.float32
    assert type(fs.logsumexp(x[0])) is np.float32
    assert_allclose(r, scipy_ref("logsumexp", x.astype(np.float64), axis=1), rtol=1e-6)


def test_logsumexp_axis_none_equals_raveled():
    x = make_base((7, 9, 3), np.float64, seed=24, scale=5)
    assert fs.logsumexp(x, axis=None) == fs.logsumexp(x.ravel())
    assert_allclose(fs.logsumexp(x, axis=None), scipy_ref("logsumexp", x, axis=None),
                    rtol=1e-14)
    assert_same(fs.softmax(x, axis=None), fs.softmax(x.ravel()).reshape(x.shape))
    assert_allclose(fs.softmax(x, axis=None).sum(), 1.0, rtol=1e-13)


def test_make_array_layouts_hold_the_same_values():
    # guard for the helpers the other tests rely on
    base = make_base((3, 4, 5), np.float32, seed=1)
    for layout in LAYOUTS:
        a = make_array((3, 4, 5), np.float32, layout, seed=1)
        check_layout(a, layout)
        assert_array_equal(a, base)
