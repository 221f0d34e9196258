"""Fuzzing the softmax family and the cross-entropy against ``fastsoftmax.slow``.

Hypothesis draws the structure of a case -- shape, dtype, memory layout
(steps, negative steps, transposes), axis, injected NaN / +inf / -inf, all
-inf rows, and the loss options (weight, ignore_index, label_smoothing,
reduction, index vs probability targets, num_threads) -- and NumPy generates
the values from a drawn seed.  The results are compared with the reference
``fastsoftmax.slow`` called with the same arguments:

* the same dtype and shape as SciPy / torch give;
* the same NaN / +inf / -inf pattern;
* finite values within the rounding of the result dtype.

The run is bounded and deterministic (derandomize=True, no example
database): FASTSOFTMAX_FUZZ_EXAMPLES (default 200) sets the examples per
property, e.g. ``FASTSOFTMAX_FUZZ_EXAMPLES=5000 pytest tests/test_fuzz.py``.
"""
import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastsoftmax as fs
from fastsoftmax import slow

N_EXAMPLES = int(os.environ.get("FASTSOFTMAX_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=N_EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])

FLOATS = (np.float16, np.float32, np.float64)
INTS = (np.int8, np.int32, np.int64, np.uint8, np.bool_)
# tolerances of a result of this dtype: relative, and absolute per unit of
# the inputs' magnitude (log_softmax / losses subtract terms of that size)
TOL = {np.dtype(np.float64): (1e-12, 1e-14), np.dtype(np.float32): (2e-6, 2e-7),
       np.dtype(np.float16): (2e-3, 1e-3)}
inf, nan = np.inf, np.nan


# ------------------------------------------------------------------ strategies

@st.composite
def layouts(draw, ndim):
    """(permutation, steps): how the values are laid out in memory."""
    perm = draw(st.permutations(range(ndim))) if ndim > 1 else [0]
    steps = draw(st.lists(st.sampled_from([1, 1, 2, -1, -2]), min_size=ndim, max_size=ndim))
    return list(perm), steps


def lay_out(a, perm, steps, fill):
    """A view with a's values whose memory order is permuted axes with
    (negative) steps, the gaps holding ``fill``."""
    storage_shape = tuple(a.shape[p] * abs(steps[p]) for p in perm)
    storage = np.full(storage_shape, fill, dtype=a.dtype)
    view = storage[tuple(slice(None, None, steps[p]) for p in perm)]
    view = view.transpose(np.argsort(perm))
    view[...] = a
    assert view.shape == a.shape
    return view


@st.composite
def arrays(draw, min_ndim=1, max_ndim=4, max_side=9, dtypes=FLOATS + INTS, specials=True,
           min_side=0):
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    ndim = draw(st.integers(min_ndim, max_ndim))
    shape = tuple(draw(st.lists(st.integers(min_side, max_side), min_size=ndim,
                                max_size=ndim)))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    if dtype.kind == "f":
        scale = draw(st.sampled_from([1.0, 5.0, 30.0] + ([] if dtype == np.float16
                                                         else [1e3, 1e-30])))
        a = (rng.standard_normal(shape) * scale).astype(dtype)
        if specials and a.size and draw(st.booleans()):
            for _ in range(draw(st.integers(1, 3))):
                a.flat[draw(st.integers(0, a.size - 1))] = draw(st.sampled_from([nan, inf,
                                                                                 -inf]))
        if specials and a.size and a.ndim >= 1 and draw(st.booleans()):
            ax = draw(st.integers(0, a.ndim - 1))
            idx = [slice(None)] * a.ndim
            idx[ax] = draw(st.integers(0, a.shape[ax] - 1)) if a.shape[ax] else 0
            if a.shape[ax]:
                a[tuple(idx)] = -inf          # an all -inf slice (along other axes)
        fill = nan
    elif dtype.kind == "b":
        a = rng.integers(0, 2, shape).astype(bool)
        fill = True
    else:
        lo, hi = (0, 100) if dtype.kind == "u" else (-60, 60)
        a = rng.integers(lo, hi, shape).astype(dtype)
        fill = 99
    perm, steps = draw(layouts(a.ndim))
    if draw(st.booleans()):
        a = lay_out(a, perm, steps, fill)
    return a


# ------------------------------------------------------------------ comparison

def expected_dtype(x):
    return x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)


def magnitude(x):
    v = np.asarray(x, dtype=np.float64)
    v = v[np.isfinite(v)]
    return max(1.0, float(np.abs(v).max())) if v.size else 1.0


def assert_close(got, want, dtype, mag, what):
    got = np.asarray(got)
    assert got.dtype == dtype, f"{what}: dtype {got.dtype}, expected {dtype}"
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    g = got.astype(np.float64)
    with np.errstate(over="ignore"):
        wr = want.astype(dtype).astype(np.float64)   # the exact answer, rounded
    for name, f in (("NaN", np.isnan), ("+inf", np.isposinf), ("-inf", np.isneginf)):
        bad = f(g) != f(wr)
        assert not bad.any(), (f"{what}: {name} pattern differs at "
                               f"{np.argwhere(bad)[:5].tolist()}: got {g[bad][:5]}, "
                               f"expected {want[bad][:5]}")
    fin = np.isfinite(wr)
    rtol, atol = TOL[dtype]
    np.testing.assert_allclose(g[fin], want[fin], rtol=rtol, atol=atol * mag,
                               err_msg=what)


# ------------------------------------------------------------------ softmax family

@st.composite
def softmax_cases(draw):
    x = draw(arrays())
    axis = draw(st.one_of(st.none(), st.integers(-max(x.ndim, 1), max(x.ndim, 1) - 1)))
    nt = draw(st.sampled_from([None, 1, 2]))
    return x, axis, nt


@FUZZ
@given(softmax_cases(), st.sampled_from(["softmax", "log_softmax", "logsumexp"]))
def test_softmax_family_matches_reference(case, name):
    x, axis, nt = case
    before = x.copy()
    got = getattr(fs, name)(x, axis=axis, num_threads=nt)
    assert np.array_equal(x, before, equal_nan=True) and x.dtype == before.dtype
    want = getattr(slow, name)(x, axis=axis)
    assert_close(got, want, expected_dtype(x), magnitude(x), f"{name} axis={axis}")


@st.composite
def masked_cases(draw):
    x = draw(arrays(dtypes=FLOATS + (np.int32,)))
    axis = draw(st.one_of(st.none(), st.integers(-max(x.ndim, 1), max(x.ndim, 1) - 1)))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    where = None
    if draw(st.booleans()):
        # a mask of x's shape, or one that broadcasts (a size-1 leading axis)
        shape = x.shape if (x.ndim == 0 or draw(st.booleans())) else (1,) + x.shape[1:]
        where = rng.random(shape) < draw(st.sampled_from([0.0, 0.5, 0.9]))
    temperature = draw(st.sampled_from([None, None, 0.25, 3.0]))
    if where is None and temperature is None:
        temperature = 2.0
    return x, axis, where, temperature


@FUZZ
@given(masked_cases(), st.sampled_from(["softmax", "log_softmax"]))
def test_masked_and_tempered_softmax_match_reference(case, name):
    x, axis, where, temperature = case
    got = getattr(fs, name)(x, axis=axis, where=where, temperature=temperature)
    want = getattr(slow, name)(x, axis=axis, where=where, temperature=temperature)
    mag = magnitude(np.asarray(x, dtype=np.float64) / (temperature or 1.0))
    assert_close(got, want, expected_dtype(x), mag, f"{name} axis={axis} T={temperature}")


# ------------------------------------------------------------------ cross-entropy

@st.composite
def ce_cases(draw):
    x = draw(arrays(min_ndim=1, max_ndim=3, max_side=8, dtypes=FLOATS + (np.int32,),
                    min_side=1))
    axis = draw(st.integers(-x.ndim, x.ndim - 1))
    if x.ndim > 1 and draw(st.integers(0, 9)) == 0:      # sometimes an empty batch
        other = (axis + 1) % x.ndim
        x = np.take(x, [], axis=other)
    C = x.shape[axis]
    batch = x.shape[:axis % x.ndim] + x.shape[axis % x.ndim + 1:]
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    kw = {}
    kind = draw(st.sampled_from(["index", "index", "prob"]))
    if kind == "index":
        tdtype = np.dtype(draw(st.sampled_from([np.int64, np.int32, np.int8, np.uint8,
                                                np.uint16])))
        ignore = draw(st.sampled_from([-100, -1, 0, C - 1] if tdtype.kind == "i"
                                      else [0, C - 1, 255]))
        t = rng.integers(0, C, batch)
        t[rng.random(batch) < draw(st.sampled_from([0.0, 0.2, 1.0]))] = ignore
        t = t.astype(tdtype)
        kw["ignore_index"] = ignore
    else:
        tdtype = np.dtype(draw(st.sampled_from([np.float64, np.float32, np.float16])))
        t = rng.random(x.shape)
        t[rng.random(x.shape) < 0.3] = 0.0           # exact zeros (xlogy)
        if draw(st.booleans()) and t.size:
            t /= np.maximum(t.sum(axis=axis, keepdims=True), 1e-3)
        t = t.astype(tdtype)
    if draw(st.booleans()):
        perm, steps = draw(layouts(t.ndim))
        t = lay_out(t, perm, steps, 0 if t.dtype.kind in "iu" else nan) if t.ndim else t
    if draw(st.booleans()):
        w = rng.uniform(0.0, 2.0, C)
        w[rng.random(C) < 0.2] = 0.0
        kw["weight"] = w.astype(draw(st.sampled_from([np.float64, np.float32])))
    if draw(st.booleans()):
        kw["label_smoothing"] = draw(st.sampled_from([0.1, 0.5, 1.0]))
    if draw(st.integers(0, 3)) == 0:
        kw["z_loss"] = draw(st.sampled_from([1e-4, 0.1]))
    if draw(st.integers(0, 3)) == 0:
        kw["softcap"] = draw(st.sampled_from([0.5, 5.0, 30.0]))
    kw["reduction"] = draw(st.sampled_from(["mean", "sum", "none"]))
    kw["num_threads"] = draw(st.sampled_from([None, 1, 2]))
    return x, axis, t, kw


@FUZZ
@given(ce_cases(), st.booleans())
def test_cross_entropy_matches_reference(case, want_grad):
    x, axis, t, kw = case
    x_before, t_before = x.copy(), t.copy()
    w_before = None if kw.get("weight") is None else kw["weight"].copy()
    if want_grad:
        loss, grad = fs.cross_entropy_and_grad(x, t, axis=axis, **kw)
    else:
        loss, grad = fs.cross_entropy(x, t, axis=axis, **kw), None
    # the inputs are untouched
    assert np.array_equal(x, x_before, equal_nan=True)
    assert np.array_equal(t, t_before, equal_nan=True)
    if w_before is not None:
        assert np.array_equal(kw["weight"], w_before)
    dt = expected_dtype(x)
    if want_grad:
        want_loss, want_grad_arr = slow.cross_entropy_and_grad(x, t, axis=axis, **kw)
    else:
        want_loss = slow.cross_entropy(x, t, axis=axis, **kw)
    C = x.shape[axis]
    wmax = 1.0 if kw.get("weight") is None else max(1.0, float(np.max(kw["weight"])))
    n = max(1, int(np.prod(x.shape)) // max(C, 1))
    mag = magnitude(x) * wmax * (n if kw["reduction"] == "sum" else 1)
    assert_close(loss, want_loss, dt, mag, f"loss axis={axis} {kw}")
    if want_grad:
        assert grad.shape == x.shape
        # the z-loss term 2 z lse p is of the size of z * |logits|
        gmag = wmax * (1 + 2 * kw.get("z_loss", 0.0) * magnitude(x))
        assert_close(grad, want_grad_arr, dt, gmag, f"grad axis={axis} {kw}")
