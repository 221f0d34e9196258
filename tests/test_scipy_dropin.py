"""``fastsoftmax.scipy``: a drop-in for scipy.special's softmax, log_softmax,
logsumexp, expit and log_expit.

Three groups of tests:

* SciPy's own tests for these functions (scipy/special/tests/test_logsumexp.py,
  classes TestLogSumExp, TestSoftmax, TestLogSoftmax; test_logit.py, classes
  TestExpit, TestLogExpit; SciPy 1.17), adapted to NumPy only and run against
  both ``scipy.special`` and ``fastsoftmax.scipy`` (the ``special`` fixture):
  whatever SciPy asserts of itself holds for the drop-in.
* Parity grids: the same calls to both, compared for type, dtype, shape and
  value (or exception type), over dtypes, shapes, axes (int, None, tuples),
  keepdims, return_sign, special values, empty and 0-d input.
* The drop-in's own contract: signatures, no SciPy import at import time, the
  compiled path without SciPy, dispatch to SciPy, ufunc keywords, and the
  documented deviations.
"""
from __future__ import annotations

import inspect
import itertools as it
import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal, assert_equal

scipy_special = pytest.importorskip("scipy.special")

import fastsoftmax as fs  # noqa: E402
from fastsoftmax import scipy as fsp  # noqa: E402

from _helpers import SPECIAL_ROWS  # noqa: E402

NAMES = ("softmax", "log_softmax", "logsumexp", "expit", "log_expit")


@pytest.fixture(params=[scipy_special, fsp], ids=["scipy", "fastsoftmax"])
def special(request):
    """The module under test: SciPy itself, then the drop-in."""
    return request.param


@pytest.fixture
def no_scipy(monkeypatch):
    """Make ``import scipy`` / ``import scipy.special`` fail, as if SciPy were
    not installed (fastsoftmax.scipy imports it at call time only)."""
    for mod in ("scipy", "scipy.special"):
        monkeypatch.setitem(sys.modules, mod, None)


# ------------------------------------------------------------------ helpers

def xp_assert_close(actual, desired, rtol=None, atol=0):
    """scipy._lib._array_api_no_0d.xp_assert_close for NumPy: same dtype and
    shape (a NumPy scalar counts as 0-d), values close, NaN equal to NaN;
    default rtol = 4 * sqrt(eps) of the dtype."""
    a, d = np.asarray(actual), np.asarray(desired)
    assert a.shape == d.shape, (a.shape, d.shape)
    assert a.dtype == d.dtype, (a.dtype, d.dtype)
    if rtol is None:
        rtol = np.finfo(a.dtype).eps ** 0.5 * 4 if a.dtype.kind in "fc" else 1e-7
    assert_allclose(a, d, rtol=rtol, atol=atol, equal_nan=True)


def xp_assert_equal(actual, desired):
    """scipy's xp_assert_equal (no-0d variant) for NumPy."""
    a, d = np.asarray(actual), np.asarray(desired)
    assert a.shape == d.shape, (a.shape, d.shape)
    assert a.dtype == d.dtype, (a.dtype, d.dtype)
    assert_array_equal(a, d)


def _call(fn, *args, **kw):
    """(result, None) or (None, exception); warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            try:
                return fn(*args, **kw), None
            except Exception as exc:  # noqa: BLE001 - compared below
                return None, exc


def _tolerances(dtype, x, name):
    """rtol, atol for comparing with SciPy.  log_softmax: SciPy's log(sum) form
    has an absolute error of a few eps times the input's magnitude (ours is
    more accurate near 0); float16: SciPy rounds every float16 operation."""
    dt = np.dtype(dtype)
    if dt.kind != "f" or dt.char == "g":  # complex, longdouble: SciPy computes them
        return 0, 0
    eps = float(np.finfo(dt).eps)
    x = np.asarray(x)
    finite = x[np.isfinite(x)] if x.dtype.kind in "fc" else x
    scale = float(np.max(np.abs(finite))) if finite.size else 1.0
    # exp(x - max) has condition number |x - max| <= 2 * scale
    rtol = 4 * eps * max(2 * scale, 1.0) + {2: 4, 4: 16, 8: 64}[dt.itemsize] * eps
    atol = 8 * eps * max(scale, 1.0) if name == "log_softmax" or dt.itemsize == 2 else 0
    return rtol, atol


def assert_same_as_scipy(name, *args, **kw):
    """fastsoftmax.scipy.<name>(*args, **kw) gives what scipy.special does:
    the same exception type, or results of the same Python type, dtype and
    shape whose values agree (NaN where SciPy has NaN)."""
    ref, ref_exc = _call(getattr(scipy_special, name), *args, **kw)
    res, res_exc = _call(getattr(fsp, name), *args, **kw)
    if ref_exc is not None or res_exc is not None:
        assert ref_exc is not None and res_exc is not None, (ref_exc, res_exc)
        assert isinstance(res_exc, type(ref_exc)) or isinstance(ref_exc, type(res_exc)), (
            ref_exc, res_exc)
        return
    refs = ref if isinstance(ref, tuple) else (ref,)
    ress = res if isinstance(res, tuple) else (res,)
    assert type(ref) is type(res)
    assert len(refs) == len(ress)
    for r, f in zip(refs, ress):
        assert type(f) is type(r), (type(f), type(r))
        r_a, f_a = np.asarray(r), np.asarray(f)
        assert f_a.shape == r_a.shape and f_a.dtype == r_a.dtype, (
            f_a.shape, r_a.shape, f_a.dtype, r_a.dtype)
        rtol, atol = _tolerances(r_a.dtype, args[0] if args else 0, name)
        assert_allclose(f_a, r_a, rtol=rtol, atol=atol, equal_nan=True)


# =================================================================== SciPy's tests
# scipy/special/tests/test_logsumexp.py::TestLogSumExp

_FLT = ["float32", "float64", "int32", "int64", "complex64", "complex128"]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
class TestLogSumExp:
    def test_logsumexp(self, special):
        logsumexp = special.logsumexp
        xp_assert_equal(logsumexp(np.asarray([])), np.asarray(-np.inf))

        a = np.arange(200., dtype=np.float64)
        xp_assert_close(logsumexp(a), np.log(np.sum(np.exp(a))))

        xp_assert_close(logsumexp(np.asarray([1000., 1000.])),
                        np.asarray(1000.0 + math.log(2.0)))
        n = 1000
        xp_assert_close(logsumexp(np.full((n,), 10000)), np.asarray(10000.0 + math.log(n)))

        x = np.asarray([1e-40] * 1000000)
        logx = np.log(x)
        X, logX = np.stack([x, x]), np.stack([logx, logx])
        xp_assert_close(np.exp(logsumexp(logX)), np.sum(X))
        xp_assert_close(np.exp(logsumexp(logX, axis=0)), np.sum(X, axis=0))
        xp_assert_close(np.exp(logsumexp(logX, axis=1)), np.sum(X, axis=1))

        inf, nan = np.asarray([np.inf]), np.asarray([np.nan])
        xp_assert_equal(logsumexp(inf), inf[0])
        xp_assert_equal(logsumexp(-inf), -inf[0])
        xp_assert_equal(logsumexp(nan), nan[0])
        xp_assert_equal(logsumexp(np.asarray([-np.inf, -np.inf])), -inf[0])

        a = np.asarray([[1e10, 1e-10], [-1e10, -np.inf]])
        ref = np.asarray([1e10, -1e10])
        xp_assert_close(logsumexp(a, axis=-1), ref)
        xp_assert_close(logsumexp(a, axis=-1, keepdims=True), ref[:, None])
        xp_assert_close(logsumexp(a, axis=(-1, -2)), np.asarray(1e10))

    def test_logsumexp_b(self, special):
        a = np.arange(200., dtype=np.float64)
        b = np.arange(200., 0., -1.)
        xp_assert_close(special.logsumexp(a, b=b), np.log(np.sum(b * np.exp(a))))
        xp_assert_close(special.logsumexp(np.asarray([1000, 1000]), b=np.asarray([1.2, 1.2])),
                        np.asarray(1000 + math.log(2 * 1.2)))
        x = np.asarray([1e-40] * 100000)
        b = np.linspace(1, 1000, 100000)
        logX, B = np.stack((np.log(x), np.log(x))), np.stack((b, b))
        X = np.stack((x, x))
        xp_assert_close(np.exp(special.logsumexp(logX, b=B)), np.sum(B * X))
        xp_assert_close(np.exp(special.logsumexp(logX, b=B, axis=0)), np.sum(B * X, axis=0))
        xp_assert_close(np.exp(special.logsumexp(logX, b=B, axis=1)), np.sum(B * X, axis=1))

    def test_logsumexp_sign(self, special):
        r, s = special.logsumexp(np.asarray([1, 1, 1]), b=np.asarray([1, -1, -1]),
                                 return_sign=True)
        xp_assert_close(r, np.asarray(1.))
        xp_assert_equal(s, np.asarray(-1.))

    def test_logsumexp_sign_zero(self, special):
        r, s = special.logsumexp(np.asarray([1, 1]), b=np.asarray([1, -1]), return_sign=True)
        assert not np.isfinite(r) and not np.isnan(r) and r < 0
        assert s == 0

    def test_logsumexp_sign_shape(self, special):
        a = np.ones((1, 2, 3, 4))
        b = np.ones_like(a)
        r, s = special.logsumexp(a, axis=2, b=b, return_sign=True)
        assert r.shape == s.shape == (1, 2, 4)
        r, s = special.logsumexp(a, axis=(1, 3), b=b, return_sign=True)
        assert r.shape == s.shape == (1, 3)
        # the same without b: the compiled path of the drop-in
        r, s = special.logsumexp(a, axis=(1, 3), return_sign=True)
        assert r.shape == s.shape == (1, 3)

    def test_logsumexp_complex_sign(self, special):
        a = np.asarray([1 + 1j, 2 - 1j, -2 + 3j])
        r, s = special.logsumexp(a, return_sign=True)
        expected_sumexp = np.sum(np.exp(a))
        xp_assert_close(s, expected_sumexp / np.abs(expected_sumexp))
        xp_assert_close(s * np.exp(r), expected_sumexp)

    def test_logsumexp_shape(self, special):
        a = np.ones((1, 2, 3, 4))
        b = np.ones_like(a)
        assert special.logsumexp(a, axis=2, b=b).shape == (1, 2, 4)
        assert special.logsumexp(a, axis=(1, 3), b=b).shape == (1, 3)
        assert special.logsumexp(a, axis=(1, 3)).shape == (1, 3)

    def test_logsumexp_b_zero(self, special):
        xp_assert_close(special.logsumexp(np.asarray([1, 10000]), b=np.asarray([1, 0])),
                        np.asarray(1.))

    def test_logsumexp_b_shape(self, special):
        special.logsumexp(np.zeros((4, 1, 2, 1)), b=np.ones((3, 1, 5)))

    @pytest.mark.parametrize("arg", (1, [1, 2, 3]))
    def test_xp_invalid_input(self, special, arg):
        assert special.logsumexp(arg) == special.logsumexp(np.asarray(np.atleast_1d(arg)))

    def test_array_like(self, special):
        xp_assert_close(special.logsumexp([1000, 1000]), np.asarray(1000.0 + math.log(2.0)))

    @pytest.mark.parametrize("dtype", _FLT)
    def test_dtypes_a(self, special, dtype):
        dt = np.dtype(dtype)
        desired_dtype = np.float64 if dt.kind == "i" else dt
        xp_assert_close(special.logsumexp(np.asarray([1000., 1000.], dtype=dt)),
                        np.asarray(1000.0 + math.log(2.0), dtype=desired_dtype))

    def test_dtypes_ab(self, special):
        # all 36 (dtype_a, dtype_b) pairs in one test
        for dtype_a, dtype_b in it.product(_FLT, repeat=2):
            a = np.asarray([2, 1], dtype=dtype_a)
            b = np.asarray([1, -1], dtype=dtype_b)
            desired_dtype = np.result_type(a.dtype, b.dtype)
            if desired_dtype.kind == "i":
                desired_dtype = np.dtype(np.float64)
            desired = np.asarray(math.log(math.exp(2) - math.exp(1)), dtype=desired_dtype)
            xp_assert_close(special.logsumexp(a, b=b), desired)

    def test_gh18295(self, special):
        a = np.asarray([0.0, -40.0])
        xp_assert_close(special.logsumexp(a), np.logaddexp(a[0], a[1]))

    @pytest.mark.parametrize("dtype", ["complex64", "complex128"])
    def test_gh21610(self, special, dtype):
        rng = np.random.default_rng(324984329582349862)
        shape = (10, 100)
        x = (rng.uniform(1, 40, shape) + 1.j * rng.uniform(1, 40, shape)).astype(dtype)
        res = special.logsumexp(x, axis=1)
        ref = np.log(np.sum(np.exp(x), axis=1))
        assert np.all(np.abs(np.imag(res)) < np.pi)
        xp_assert_close(res, ref)
        out, sgn = special.logsumexp(x, return_sign=True, axis=1)
        ref = np.sum(np.exp(x), axis=1)
        assert np.all(np.abs(np.imag(sgn)) < np.pi)
        xp_assert_close(out, np.real(np.log(ref)))
        xp_assert_close(sgn, ref / np.abs(ref))

    def test_gh21709_small_imaginary(self, special):
        res = special.logsumexp(np.asarray([0, 0. + 2.2204460492503132e-17j]))
        ref = 0.6931471805599453 + 1.1102230246251566e-17j
        xp_assert_close(np.real(res), np.asarray(ref.real))
        xp_assert_close(np.imag(res), np.asarray(ref.imag), atol=0, rtol=1e-15)

    def test_gh22601_infinite_elements(self, special):
        values = [-np.inf, np.inf, complex(-np.inf, 0.), complex(-np.inf, -0.),
                  complex(-np.inf, np.inf), complex(-np.inf, -np.inf), complex(np.inf, 0.),
                  complex(np.inf, -0.), complex(np.inf, np.inf), complex(np.inf, -np.inf),
                  complex(-np.inf, 0.7533), complex(-np.inf, 2.3562),
                  complex(-np.inf, 3.9270), complex(-np.inf, 5.4978),
                  complex(np.inf, 0.7533), complex(np.inf, 2.3562),
                  complex(np.inf, 3.9270), complex(np.inf, 5.4978)]
        with np.errstate(all="ignore"):
            for x, y in it.product(values, repeat=2):
                res = special.logsumexp(np.asarray([x, y]))
                ref = np.log(np.sum(np.exp(np.asarray([x, y]))))
                xp_assert_equal(res, ref)

    def test_no_writeback(self, special):
        a, b = np.asarray([5., 4.]), np.asarray([3., 2.])
        special.logsumexp(a)
        special.logsumexp(a, b=b)
        xp_assert_equal(a, np.asarray([5., 4.]))
        xp_assert_equal(b, np.asarray([3., 2.]))

    def test_gh22903(self, special):
        a = np.asarray([3.06409428, 0.37251854, 3.87471931])
        b = np.asarray([1.88190708, 2.84174795, -0.85016884])
        xp_assert_close(special.logsumexp(a, b=b),
                        special.logsumexp(a, b=b, return_sign=True)[0])
        b = np.asarray([1.88190708, 2.84174795, -3.85016884])
        xp_assert_close(special.logsumexp(a, b=b), np.asarray(np.nan))

    @pytest.mark.parametrize("a, b, sign_ref", [([np.inf], None, 1.), ([np.inf], [-1.], -1.)])
    def test_gh23548(self, special, a, b, sign_ref):
        val, sign = special.logsumexp(np.asarray(a), b=None if b is None else np.asarray(b),
                                      return_sign=True)
        assert np.isinf(val)
        xp_assert_equal(sign, np.asarray(sign_ref))


# scipy/special/tests/test_logsumexp.py::TestSoftmax

class TestSoftmax:
    def test_softmax_fixtures(self, special):
        softmax = special.softmax
        xp_assert_close(softmax(np.asarray([1000., 0., 0., 0.])),
                        np.asarray([1., 0., 0., 0.]), rtol=1e-13)
        xp_assert_close(softmax(np.asarray([1., 1.])), np.asarray([.5, .5]), rtol=1e-13)
        xp_assert_close(softmax(np.asarray([0., 1.])), np.asarray([1., np.e]) / (1 + np.e),
                        rtol=1e-13)
        # mpmath references (SciPy's)
        x = np.arange(4, dtype=np.float64)
        expected = np.asarray([0.03205860328008499, 0.08714431874203256,
                               0.23688281808991013, 0.6439142598879722])
        xp_assert_close(softmax(x), expected, rtol=1e-13)
        xp_assert_close(softmax(x + 100), expected, rtol=1e-13)  # translation
        # axis=None: the whole array, shape preserved
        xp_assert_close(softmax(x.reshape(2, 2)), expected.reshape(2, 2), rtol=1e-13)

    def test_softmax_multi_axes(self, special):
        softmax = special.softmax
        xp_assert_close(softmax(np.asarray([[1000., 0.], [1000., 0.]]), axis=0),
                        np.asarray([[.5, .5], [.5, .5]]), rtol=1e-13)
        xp_assert_close(softmax(np.asarray([[1000., 0.], [1000., 0.]]), axis=1),
                        np.asarray([[1., 0.], [1., 0.]]), rtol=1e-13)
        x = np.asarray([[-25., 0., 25., 50.], [1., 325., 749., 750.]])
        expected = np.asarray([[2.678636961770877e-33, 1.9287498479371314e-22,
                                1.3887943864771144e-11, 0.999999999986112],
                               [0.0, 1.9444526359919372e-185,
                                0.2689414213699951, 0.7310585786300048]])
        xp_assert_close(softmax(x, axis=1), expected, rtol=1e-13)
        xp_assert_close(softmax(x.T, axis=0), expected.T, rtol=1e-13)
        # 3-d input, tuple axis
        xp_assert_close(softmax(x.reshape(2, 2, 2), axis=(1, 2)), expected.reshape(2, 2, 2),
                        rtol=1e-13)

    def test_softmax_int_array(self, special):
        xp_assert_close(special.softmax(np.asarray([1000, 0, 0, 0])),
                        np.asarray([1., 0., 0., 0.]), rtol=1e-13)

    def test_softmax_scalar(self, special):
        xp_assert_close(special.softmax(1000), np.asarray(1.), rtol=1e-13)

    def test_softmax_array_like(self, special):
        xp_assert_close(special.softmax([1000, 0, 0, 0]), np.asarray([1., 0., 0., 0.]),
                        rtol=1e-13)


# scipy/special/tests/test_logsumexp.py::TestLogSoftmax

def _log_softmax_data_2d():
    expect = [-3.4401896985611953, -2.4401896985611953,
              -1.4401896985611953, -0.44018969856119533]  # mpmath (SciPy's)
    return np.arange(8, dtype=np.float64).reshape(2, 4), np.asarray([expect, expect])


class TestLogSoftmax:
    def test_log_softmax_basic(self, special):
        xp_assert_close(special.log_softmax(np.asarray([1000., 1.])),
                        np.asarray([0., -999.]), rtol=1e-13)

    def test_log_softmax_int_array(self, special):
        xp_assert_close(special.log_softmax(np.asarray([1000, 1])),
                        np.asarray([0., -999.]), rtol=1e-13)

    def test_log_softmax_scalar(self, special):
        xp_assert_close(special.log_softmax(1.0), 0.0, rtol=1e-13)

    def test_log_softmax_array_like(self, special):
        xp_assert_close(special.log_softmax([1000, 1]), np.asarray([0., -999.]), rtol=1e-13)

    @pytest.mark.parametrize("offset", [0, 100])
    def test_log_softmax_translation(self, special, offset):
        x, expect = _log_softmax_data_2d()
        xp_assert_close(special.log_softmax(x[0] + offset), expect[0], rtol=1e-13)

    def test_log_softmax_noneaxis(self, special):
        x, expect = _log_softmax_data_2d()
        xp_assert_close(special.log_softmax(x[0].reshape(2, 2)), expect[0].reshape(2, 2),
                        rtol=1e-13)

    @pytest.mark.parametrize("axis_2d, expected_2d", [
        (0, np.log(0.5) * np.ones((2, 2))),
        (1, [[0., -999.], [0., -999.]]),
    ])
    def test_axes(self, special, axis_2d, expected_2d):
        x = np.asarray([[1000., 1.], [1000., 1.]])
        xp_assert_close(special.log_softmax(x, axis=axis_2d),
                        np.asarray(expected_2d, dtype=x.dtype), rtol=1e-13)

    def test_log_softmax_2d_axis1(self, special):
        x, expect = _log_softmax_data_2d()
        xp_assert_close(special.log_softmax(x, axis=1), expect, rtol=1e-13)

    def test_log_softmax_2d_axis0(self, special):
        x, expect = _log_softmax_data_2d()
        xp_assert_close(special.log_softmax(x.T, axis=0), expect.T, rtol=1e-13)

    def test_log_softmax_3d(self, special):
        x, expect = _log_softmax_data_2d()
        xp_assert_close(special.log_softmax(x.reshape(2, 2, 2), axis=(1, 2)),
                        expect.reshape(2, 2, 2), rtol=1e-13)


# scipy/special/tests/test_logit.py::TestExpit

class TestExpit:
    def check_expit_out(self, special, dtype, expected):
        a = np.linspace(-4, 4, 10).astype(dtype)
        actual = special.expit(a)
        assert_allclose(actual, expected, atol=1.5e-7, rtol=0)
        assert_equal(actual.dtype, np.dtype(dtype))

    def test_float32(self, special):
        expected = np.array([0.01798621, 0.04265125, 0.09777259, 0.20860852, 0.39068246,
                             0.60931754, 0.79139149, 0.9022274, 0.95734876, 0.98201376],
                            dtype=np.float32)
        self.check_expit_out(special, "f4", expected)

    def test_float64(self, special):
        expected = np.array([0.01798621, 0.04265125, 0.0977726, 0.20860853, 0.39068246,
                             0.60931754, 0.79139147, 0.9022274, 0.95734875, 0.98201379])
        self.check_expit_out(special, "f8", expected)

    def test_large(self, special):
        # longdouble is passed to SciPy by the drop-in
        for dtype in (np.float32, np.float64, np.longdouble):
            for n in (88, 89, 709, 710, 11356, 11357):
                n = np.array(n, dtype=dtype)
                with np.errstate(over="ignore"):
                    assert_allclose(special.expit(n), 1.0, atol=1e-20)
                    assert_allclose(special.expit(-n), 0.0, atol=1e-20)
                    assert_equal(special.expit(n).dtype, dtype)
                    assert_equal(special.expit(-n).dtype, dtype)


# scipy/special/tests/test_logit.py::TestLogExpit

class TestLogExpit:
    def test_large_negative(self, special):
        x = np.array([-10000.0, -750.0, -500.0, -35.0])
        assert_equal(special.log_expit(x), x)

    def test_large_positive(self, special):
        y = special.log_expit(np.array([750.0, 1000.0, 10000.0]))
        assert_equal(y, np.array([-0.0, -0.0, -0.0]))
        assert np.all(np.signbit(y))  # the drop-in keeps SciPy's -0.0 too

    def test_basic_float64(self, special):
        x = np.array([-32, -20, -10, -3, -1, -0.1, -1e-9,
                      0, 1e-9, 0.1, 1, 10, 100, 500, 710, 725, 735])
        expected = [-32.000000000000014, -20.000000002061153,  # mpmath (SciPy's)
                    -10.000045398899218, -3.048587351573742,
                    -1.3132616875182228, -0.7443966600735709,
                    -0.6931471810599453, -0.6931471805599453,
                    -0.6931471800599454, -0.6443966600735709,
                    -0.3132616875182228, -4.539889921686465e-05,
                    -3.720075976020836e-44, -7.124576406741286e-218,
                    -4.47628622567513e-309, -1.36930634e-315,
                    -6.217e-320]
        assert_allclose(special.log_expit(x), expected, rtol=1e-15)

    def test_basic_float32(self, special):
        x = np.array([-32, -20, -10, -3, -1, -0.1, -1e-9,
                      0, 1e-9, 0.1, 1, 10, 100], dtype=np.float32)
        expected = np.array([-32.0, -20.0, -10.000046, -3.0485873,
                             -1.3132616, -0.7443967, -0.6931472,
                             -0.6931472, -0.6931472, -0.64439666,
                             -0.3132617, -4.5398898e-05, -3.8e-44], dtype=np.float32)
        assert_allclose(special.log_expit(x), expected, rtol=5e-7)


# =================================================================== parity grids

def _inputs(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.standard_normal(shape) > 0
    if dt.kind in "iu":
        info = np.iinfo(dt)
        # a range in which SciPy's integer subtraction of the maximum cannot wrap
        lo, hi = (0, 0) if dt.kind == "u" else (max(info.min // 2, -60), min(info.max // 2, 60))
        return rng.integers(lo, hi + 1, size=shape).astype(dt)
    x = rng.standard_normal(shape) * 4
    if dt.kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dt)


SHAPES = [(), (1,), (7,), (3, 5), (2, 3, 4), (2, 1, 3, 2), (0,), (0, 3), (3, 0), (2, 0, 3)]
GRID_DTYPES = ["float16", "float32", "float64", ">f8", "int8", "int16", "int32", "int64",
               "uint8", "bool", "longdouble", "complex128"]


def _axis_choices(ndim):
    yield None
    yield from range(-max(ndim, 1), max(ndim, 1) + 1)  # the last one is out of range
    for r in range(ndim + 1):
        yield from it.combinations(range(ndim), r)
    if ndim:
        yield (0, -ndim)  # a repeated axis
        yield tuple(range(ndim - 1, -1, -1))  # unsorted
    yield (0,)  # a tuple on 0-d input: AxisError in both


def _is_scipy_empty_axis_bug(shape, axis, ndim_min=2):
    """SciPy 1.17's logsumexp fails on empty input for axis None or a tuple
    with two or more dimensions (IndexError), and gives the wrong shape for
    axis=(); the drop-in returns -inf of the right shape (see
    test_logsumexp_empty_where_scipy_fails)."""
    if math.prod(shape) != 0:
        return False
    return (isinstance(axis, tuple) and (len(axis) != 1 or len(shape) >= ndim_min)) or (
        axis is None and len(shape) >= ndim_min)


@pytest.mark.parametrize("dtype", GRID_DTYPES)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_family_grid(name, dtype):
    for shape in SHAPES:
        x = _inputs(shape, dtype)
        for axis in _axis_choices(len(shape)):
            assert_same_as_scipy(name, x, axis=axis)


@pytest.mark.parametrize("dtype", GRID_DTYPES)
def test_logsumexp_grid(dtype):
    for shape in SHAPES:
        x = _inputs(shape, dtype, seed=1)
        for axis in _axis_choices(len(shape)):
            if _is_scipy_empty_axis_bug(shape, axis):
                continue
            for keepdims, return_sign in it.product([False, True], repeat=2):
                assert_same_as_scipy("logsumexp", x, axis=axis, keepdims=keepdims,
                                     return_sign=return_sign)


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1), (1, 0), ()])
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
def test_special_values(name, axis):
    """NaN / inf patterns (tests/_helpers.SPECIAL_ROWS), also with return_sign."""
    for row in SPECIAL_ROWS:
        for dtype in (np.float32, np.float64):
            x = np.array([row, row[::-1]], dtype=dtype)
            if name == "logsumexp":
                assert_same_as_scipy(name, x, axis=axis, return_sign=True)
            assert_same_as_scipy(name, x, axis=axis)


@pytest.mark.parametrize("shape,axis", [
    ((64, 300, 40), (0, 2)),    # reduced axes not adjacent: transposed copy
    ((40, 300, 64), (1, 2)),    # trailing axes: merged without a copy
    ((300, 4096), None),
    ((4096, 300), 0),
], ids=str)
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
def test_large_multithreaded(name, shape, axis):
    x = _inputs(shape, np.float32, seed=3)
    assert_same_as_scipy(name, x, axis=axis)
    assert_same_as_scipy(name, x.astype(np.float64), axis=axis)


@pytest.mark.parametrize("name", ["expit", "log_expit"])
def test_logistic_grid(name):
    values = np.concatenate([np.linspace(-50, 50, 201), [-1e4, -800, -40, 0.0, -0.0, 40, 800,
                                                          1e4, np.inf, -np.inf, np.nan]])
    for dtype in ["float16", "float32", "float64", ">f4", "int8", "int64", "uint16", "bool",
                  "longdouble", "complex128", "object"]:
        with np.errstate(all="ignore"):
            x = values.astype(dtype)
        for shape in [(), (3,), (2, 3)]:
            xs = x[:math.prod(shape)].reshape(shape)
            assert_same_as_scipy(name, xs)
            assert_same_as_scipy(name, xs.T)
        assert_same_as_scipy(name, x)
        assert_same_as_scipy(name, x[::-3])


@pytest.mark.parametrize("value", [0.5, -3, True, [1, 2], [[1.0], [2.0]], np.float32(3),
                                   np.int8(-4), 2 + 1j])
@pytest.mark.parametrize("name", NAMES)
def test_python_and_numpy_scalars_and_lists(name, value):
    assert_same_as_scipy(name, value)


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_raises_as_scipy(name):
    for bad in ["abc", [[1, 2], [3]], np.array(["a", "b"]), np.array([1, None], dtype=object)]:
        assert_same_as_scipy(name, bad)


@pytest.mark.parametrize("axis", [True, 1.0, [0], "0", (0, 0), (0, 2), 2, -3])
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
def test_bad_axis_raises_as_scipy(name, axis):
    for x in (np.ones((2, 2)), np.ones((2, 2), dtype=np.int8), np.ones((2, 2), dtype=bool),
              np.ones((0, 2))):
        if name == "logsumexp" and x.size == 0 and not isinstance(axis, int):
            continue  # SciPy's empty-input bug: IndexError before the axis check
        assert_same_as_scipy(name, x, axis=axis)


# =================================================================== the drop-in's contract

def _unannotated(sig):
    """The signature without annotations (ours are typed, SciPy's are not)."""
    return sig.replace(
        parameters=[p.replace(annotation=p.empty) for p in sig.parameters.values()],
        return_annotation=sig.empty)


@pytest.mark.parametrize("name", NAMES)
def test_signatures_are_scipys(name):
    ours = inspect.signature(getattr(fsp, name))
    theirs = inspect.signature(getattr(scipy_special, name))
    assert str(_unannotated(ours)) == str(_unannotated(theirs))
    assert [(p.name, p.kind, p.default) for p in ours.parameters.values()] == \
        [(p.name, p.kind, p.default) for p in theirs.parameters.values()]


def test_all_and_default_axis():
    assert sorted(fsp.__all__) == sorted(NAMES)
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    # SciPy's default is axis=None (all elements), not fastsoftmax's -1
    assert_allclose(fsp.softmax(x), fs.softmax(x, axis=None), rtol=0)
    assert float(fsp.softmax(x).sum()) == pytest.approx(1.0)
    assert fsp.logsumexp(x) == fs.logsumexp(x, axis=None)


def test_scipy_is_not_imported_at_import_time():
    code = ("import sys, fastsoftmax.scipy as s, fastsoftmax; "
            "s.softmax([1.0, 2.0]); s.logsumexp([1.0], axis=(0,)); s.expit(0.5); "
            "print(sorted(m for m in sys.modules if m == 'scipy' or m.startswith('scipy.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "[]"


def test_compiled_path_needs_no_scipy(no_scipy):
    """Every call the kernels cover runs with SciPy unimportable."""
    x = _inputs((3, 4, 5), np.float32)
    for name in ("softmax", "log_softmax"):
        f = getattr(fsp, name)
        for axis in (None, 0, -1, (0, 2), (2, 1), ()):
            f(x, axis=axis)
        f(np.arange(5, dtype=np.int8))
        f(3.0)
    for axis in (None, 1, (0, 2)):
        for kd, rs in it.product([False, True], repeat=2):
            fsp.logsumexp(x, axis=axis, keepdims=kd, return_sign=rs)
    fsp.logsumexp(np.zeros((0, 3)), axis=None)
    fsp.logsumexp([True, False])
    for name in ("expit", "log_expit"):
        f = getattr(fsp, name)
        f(x)
        f(np.arange(3))
        f(np.float16(1.0))
        f(x, out=np.empty(x.shape, np.float64))
        f(x, (np.empty(x.shape, np.float32),))


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_without_scipy_the_other_cases_raise_clearly(no_scipy):
    with pytest.raises(NotImplementedError, match=r"logsumexp: b= \(weights\).*pip install scipy"):
        fsp.logsumexp([1.0, 2.0], b=[1.0, -1.0])
    for name in ("softmax", "log_softmax", "logsumexp"):
        with pytest.raises(NotImplementedError, match="dtype complex128"):
            getattr(fsp, name)(np.array([1j, 2.0]))
        with pytest.raises(NotImplementedError, match="longdouble|float128"):
            getattr(fsp, name)(np.array([1.0, 2.0], dtype=np.longdouble))
        with pytest.raises(TypeError, match="dtype <U1"):
            getattr(fsp, name)(np.array(["a"]))
    for name in ("expit", "log_expit"):
        f = getattr(fsp, name)
        with pytest.raises(NotImplementedError, match="keyword.*where"):
            f(np.ones(2), where=np.array([True, False]), out=np.zeros(2))
        with pytest.raises(NotImplementedError, match="keyword.*dtype"):
            f(np.ones(2), dtype=np.float32)
        with pytest.raises(NotImplementedError, match="type matrix"):
            f(np.matrix([[1.0]]))
        with pytest.raises(NotImplementedError, match="longdouble|float128"):
            f(np.ones(2, dtype=np.longdouble))
        with pytest.raises(TypeError, match="complex"):
            f(np.ones(2, dtype=complex))


class _ArrayLikeObject:
    """Not an ndarray: exposes __array__ only (like a CPU tensor of another library)."""

    def __init__(self, a):
        self.a = np.asarray(a)

    def __array__(self, dtype=None, copy=None):
        return self.a if dtype is None else self.a.astype(dtype)


class _UfuncContainer(_ArrayLikeObject):
    """A container that takes over ufuncs (like pandas or xarray objects)."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inputs = [i.a if isinstance(i, _UfuncContainer) else i for i in inputs]
        return _UfuncContainer(getattr(ufunc, method)(*inputs, **kwargs))


def test_non_numpy_arrays():
    x = _ArrayLikeObject([[1.0, 2.0], [3.0, 5.0]])
    for name in ("softmax", "log_softmax", "logsumexp", "expit", "log_expit"):
        assert_same_as_scipy(name, x)
    # __array_ufunc__ containers keep their type through expit, as with the ufunc
    c = _UfuncContainer([1.0, -2.0])
    for name in ("expit", "log_expit"):
        res = getattr(fsp, name)(c)
        assert isinstance(res, _UfuncContainer)
        assert_array_equal(res.a, getattr(scipy_special, name)(c.a))


def test_non_numpy_arrays_without_scipy(no_scipy):
    x = _ArrayLikeObject([[1.0, 2.0], [3.0, 5.0]])
    # SciPy (without SCIPY_ARRAY_API) converts to NumPy; so does the drop-in
    assert_allclose(fsp.softmax(x, axis=1), fs.softmax(x.a, axis=1), rtol=0)
    assert_allclose(fsp.logsumexp(x), fs.logsumexp(x.a, axis=None), rtol=0)
    assert_allclose(fsp.expit(x), fs.sigmoid(x.a), rtol=0)


@pytest.mark.parametrize("name", ["expit", "log_expit"])
def test_ufunc_out(name):
    f, ref = getattr(fsp, name), getattr(scipy_special, name)
    x = np.linspace(-5, 5, 12).reshape(3, 4)
    for out_dtype in (np.float64, np.float32, np.longdouble, np.complex128):
        out = np.full(x.shape, 7, dtype=out_dtype)
        assert f(x, out=out) is out                       # keyword
        assert_allclose(out, ref(x).astype(out_dtype), rtol=1e-6)
        out2 = np.full(x.shape, 7, dtype=out_dtype)
        assert f(x, out2) is out2                         # positional
        assert_array_equal(out2, out)
        out3 = np.full(x.shape, 7, dtype=out_dtype)
        assert f(x, out=(out3,)) is out3                  # 1-tuple, as a ufunc
        assert_array_equal(out3, out)
    big = np.zeros((2, 3, 4))
    assert f(x, out=big) is big                           # broadcasting into out
    assert_allclose(big[1], ref(x), rtol=1e-15)
    y = x.copy()
    f(y, out=y)                                           # in place
    assert_allclose(y, ref(x), rtol=1e-15)
    for bad_out in (np.zeros(3), np.zeros((4, 3))):
        with pytest.raises(ValueError):
            f(x, out=bad_out)
        with pytest.raises(ValueError):
            ref(x, out=bad_out)
    for bad_out in (np.zeros(x.shape, dtype=np.int64), np.zeros(x.shape, dtype=bool)):
        with pytest.raises(TypeError):                    # same_kind casting
            f(x, out=bad_out)
        with pytest.raises(TypeError):
            ref(x, out=bad_out)
    with pytest.raises(TypeError):
        ref(x, out=[0.0] * 12)
    with pytest.raises(TypeError):
        f(x, out=[0.0] * 12)


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
@pytest.mark.parametrize("name", ["expit", "log_expit"])
def test_other_ufunc_keywords_go_to_scipy(name):
    f, ref = getattr(fsp, name), getattr(scipy_special, name)
    x = np.linspace(-3, 3, 6)
    mask = x > 0
    out, out_ref = np.zeros(6), np.zeros(6)
    f(x, out=out, where=mask)
    ref(x, out=out_ref, where=mask)
    assert_array_equal(out, out_ref)
    assert f(x, dtype=np.float32).dtype == np.float32
    assert f(x, signature="f->f").dtype == np.float32
    assert f(x, order="F").dtype == np.float64
    assert f(x.astype(np.float32), casting="unsafe", dtype=np.float64).dtype == np.float64
    for sub in (np.matrix([[1.0, -1.0]]), np.ma.array([1.0, 2.0], mask=[False, True])):
        res = f(sub)
        assert type(res) is type(ref(sub))
        assert_array_equal(np.ma.getdata(res), np.ma.getdata(ref(sub)))
    with pytest.raises(TypeError):
        f(x, dtype=np.float32, signature="f->f")  # the ufunc's own error


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
def test_masked_arrays_ignore_the_mask_as_in_scipy(name):
    x = np.ma.array([1.0, 2.0, 3.0], mask=[False, True, False])
    assert_same_as_scipy(name, x)
    assert type(getattr(fsp, name)(x)) is type(getattr(scipy_special, name)(x))


def test_b_and_complex_are_scipy_exactly():
    rng = np.random.default_rng(7)
    a = rng.standard_normal((4, 5))
    b = rng.standard_normal((4, 5))
    for kw in ({}, {"axis": 1}, {"axis": (0, 1), "keepdims": True}, {"return_sign": True}):
        r1 = fsp.logsumexp(a, b=b, **kw)
        r2 = scipy_special.logsumexp(a, b=b, **kw)
        for u, v in zip(np.atleast_1d(r1) if not isinstance(r1, tuple) else r1,
                        np.atleast_1d(r2) if not isinstance(r2, tuple) else r2):
            assert_array_equal(u, v)
    z = a + 1j * b
    for name in ("softmax", "log_softmax", "logsumexp"):
        assert_array_equal(getattr(fsp, name)(z, axis=1), getattr(scipy_special, name)(z, axis=1))


def test_zero_dim_and_scalars():
    assert type(fsp.softmax(np.float32(2))) is np.float32
    assert type(fsp.log_softmax(np.array(2.0))) is np.float64
    assert type(fsp.logsumexp(np.float16(2))) is np.float16
    # SciPy's logsumexp works on at least 1-d input: keepdims gives shape (1,)
    assert fsp.logsumexp(np.float64(3), keepdims=True).shape == (1,)
    assert fsp.logsumexp(np.float64(3), axis=(0,)) == 3.0
    # ... while softmax takes the NumPy reduction's rules for 0-d input
    assert fsp.softmax(np.array(3.0), axis=0) == 1.0
    with pytest.raises(np.exceptions.AxisError):
        fsp.softmax(np.array(3.0), axis=(0,))


def test_empty_input():
    # SciPy takes the maximum over the reduced axes first: ValueError if empty
    for name in ("softmax", "log_softmax"):
        f = getattr(fsp, name)
        with pytest.raises(ValueError, match="zero-size array"):
            f(np.array([]))
        with pytest.raises(ValueError, match="zero-size array"):
            f(np.zeros((0, 3)), axis=0)
        res = f(np.zeros((0, 3), dtype=np.float32), axis=1)
        assert res.shape == (0, 3) and res.dtype == np.float32
        assert f(np.zeros((0, 3), dtype=np.int8), axis=(1,)).dtype == np.float16
    r, s = fsp.logsumexp(np.array([], dtype=np.float32), return_sign=True)
    assert r == -np.inf and s == -1.0 and type(s) is np.float32  # SciPy's sign of -inf
    assert_array_equal(fsp.logsumexp(np.zeros((0, 3)), axis=0), np.full(3, -np.inf))


def test_logsumexp_empty_where_scipy_fails():
    """Documented deviation: SciPy 1.17 raises IndexError for empty input of two
    or more dimensions with axis None or a tuple (and gives the wrong shape for
    axis=()); the drop-in returns -inf of the right shape."""
    x = np.zeros((2, 0, 3))
    assert fsp.logsumexp(x) == -np.inf
    assert_array_equal(fsp.logsumexp(x, axis=(0, 1)), np.full(3, -np.inf))
    assert fsp.logsumexp(x, axis=(0, 1), keepdims=True).shape == (1, 1, 3)
    assert fsp.logsumexp(x, axis=(0, 2)).shape == (0,)
    assert fsp.logsumexp(x, axis=()).shape == (2, 0, 3)
    ref, exc = _call(scipy_special.logsumexp, x)
    if exc is None:  # fixed in a later SciPy: then the answers must agree
        assert ref == -np.inf


def test_no_runtime_warnings_and_same_values():
    """Documented deviation: SciPy warns (and raises under np.errstate(all=
    'raise')) on +inf and on underflow; the drop-in is silent, same values."""
    x = np.array([[1.0, np.inf], [-np.inf, -np.inf], [0.0, -800.0]])
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        ref = scipy_special.softmax(x, axis=1)
    assert rec  # "invalid value encountered in subtract"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            res = fsp.softmax(x, axis=1)
            fsp.log_softmax(x, axis=1)
            fsp.logsumexp(x, axis=1, return_sign=True)
    assert_array_equal(res, ref)


@pytest.mark.parametrize("f", [fs.sigmoid, fs.log_sigmoid, fsp.expit, fsp.log_expit],
                         ids=["sigmoid", "log_sigmoid", "expit", "log_expit"])
def test_logistic_silent_under_errstate_raise(f):
    x = np.array([-1000.0, -710.0, 0.0, 710.0, 1000.0])
    with np.errstate(all="raise"):
        scipy_special.expit(x)
        scipy_special.log_expit(x)
        f(x)


@pytest.mark.parametrize("dtype", ["uint8", "uint32", "uint64"])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_unsigned_input_is_exact(name, dtype):
    """Documented deviation: SciPy subtracts the maximum in the unsigned type,
    which wraps around (NaN results); the drop-in converts first."""
    x = np.array([1, 2, 3], dtype=dtype)
    res = getattr(fsp, name)(x)
    rdt = {1: np.float16}.get(np.dtype(dtype).itemsize, np.float64)
    assert res.dtype == rdt
    assert_allclose(res.astype(np.float64), getattr(fs, name)(np.array([1.0, 2.0, 3.0])),
                    rtol=2e-3 if rdt == np.float16 else 1e-15)
    assert not np.isfinite(_call(getattr(scipy_special, name), x)[0]).all()  # NaN or -inf


def test_integer_result_dtypes_follow_scipy():
    for dtype, rdt in [("int8", np.float16), ("uint8", np.float16), ("int16", np.float32),
                       ("uint16", np.float32), ("int32", np.float64), ("int64", np.float64)]:
        x = np.array([1, 2, 3], dtype=dtype)
        with np.errstate(all="ignore"):  # SciPy's uint8 subtraction wraps around
            assert fsp.softmax(x).dtype == rdt == scipy_special.softmax(x).dtype
        assert fsp.log_softmax(x).dtype == rdt
        assert fsp.logsumexp(x).dtype == np.float64 == scipy_special.logsumexp(x).dtype
        assert fsp.expit(x).dtype == np.float64 == scipy_special.expit(x).dtype
    with pytest.raises(TypeError, match="boolean"):
        fsp.softmax(np.array([True, False]))
    with pytest.raises(TypeError):
        scipy_special.softmax(np.array([True, False]))


def test_expit_keeps_subnormal_results():
    """Documented deviation: expit(-720) is 2e-313 (SciPy: 0)."""
    assert float(fsp.expit(-720.0)) == pytest.approx(math.exp(-720.0), rel=1e-9)
    assert fsp.expit(-800.0) == 0.0


def test_inputs_are_never_modified():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((4, 6, 5))
    keep = x.copy()
    for name in ("softmax", "log_softmax", "logsumexp", "expit", "log_expit"):
        getattr(fsp, name)(x)
    for axis in ((0, 2), (2, 0), 1):
        fsp.softmax(x, axis=axis)
        fsp.logsumexp(x, axis=axis, keepdims=True, return_sign=True)
    assert_array_equal(x, keep)


def test_results_are_c_contiguous_for_tuple_axes():
    x = np.asfortranarray(_inputs((5, 6, 7), np.float64))
    for axis in ((0, 2), (2, 0), (1, 2), (0, 1)):
        res = fsp.softmax(x, axis=axis)
        assert res.flags.c_contiguous
        assert_allclose(res.sum(axis=axis), 1.0, rtol=1e-14)
