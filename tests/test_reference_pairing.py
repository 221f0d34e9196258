"""``fastsoftmax.slow`` pairs with the public API, function by function.

* The names: ``slow`` defines exactly the computing functions of
  ``fastsoftmax`` (a new public function needs its reference).
* The signatures: the same parameters, kinds and defaults, name by name, so
  that every test can call both with the same arguments.
* The answers: on generated inputs (shapes, dtypes, memory layouts, special
  values and the options of each function) the public function and its
  reference agree to the rounding of the result dtype, with the same dtype,
  shape and NaN / +inf / -inf pattern.
* The reference itself agrees with SciPy and torch, the libraries whose
  semantics it writes down (docs/semantics.md).
"""
from __future__ import annotations

import inspect
import zlib

import numpy as np
import pytest
import scipy.special

import fastsoftmax as fs
from fastsoftmax import slow
from _helpers import (LAYOUTS, SPECIAL_ROWS, assert_matches_reference, computing_functions,
                      make_base, with_layout)

inf, nan = np.inf, np.nan

PUBLIC = sorted(computing_functions())


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


# ------------------------------------------------------------ names and signatures

def test_slow_defines_exactly_the_public_computing_functions():
    assert sorted(slow.__all__) == PUBLIC
    defined = sorted(n for n, v in vars(slow).items()
                     if inspect.isfunction(v) and not n.startswith("_")
                     and v.__module__ == slow.__name__)
    assert defined == PUBLIC


@pytest.mark.parametrize("name", PUBLIC)
def test_signature_is_the_public_one(name):
    assert inspect.signature(getattr(slow, name)) == inspect.signature(getattr(fs, name))


# ------------------------------------------------------------ generated calls

# Per result dtype: relative tolerance, and absolute tolerance per unit of
# the problem's magnitude (the results are differences of terms that large).
TOL = {np.dtype(np.float64): (1e-11, 1e-13), np.dtype(np.float32): (2e-5, 2e-6),
       np.dtype(np.float16): (3e-3, 1e-3)}
SHAPES = [(1, 1), (7, 5), (3, 4, 6), (64, 33), (2, 1000), (5,)]
FLOATS = (np.float64, np.float32, np.float16)
N_CALLS = 12        # generated calls per function


def _values(rng, shape, dtype, layout, specials, scale=3.0):
    """Values of ``shape`` and ``dtype`` in ``layout``, with some NaN, +inf
    and -inf entries and an all -inf row when ``specials``."""
    x = make_base(shape, dtype, seed=int(rng.integers(2 ** 31)), scale=scale)
    if specials and x.dtype.kind == "f" and x.size > 2:
        flat = x.reshape(-1)
        for v in (nan, inf, -inf):
            flat[rng.integers(flat.size)] = v
        if x.ndim > 1:
            x[(0,) * (x.ndim - 1)] = -inf
    return with_layout(x, layout)


def _draw(rng, options):
    """One value of each option ({name: choices}), None meaning "not passed"."""
    kw = {}
    for k, choices in options.items():
        v = choices[rng.integers(len(choices))]
        if v is not None:
            kw[k] = v
    return kw


def _softmax_family(name, rng, i):
    shape = SHAPES[i % len(SHAPES)]
    dtype = (FLOATS + (np.int32, np.bool_))[i % 5]
    x = _values(rng, shape, dtype, LAYOUTS[i % len(LAYOUTS)], specials=i % 2 == 1)
    axis = [-1, 0, None][i % 3]
    kw = {"axis": axis}
    if name == "logsumexp":
        kw["keepdims"] = bool(i % 2)
    elif i % 4 == 1:
        kw["temperature"] = 0.5
    elif i % 4 == 3:
        kw["where"] = rng.random(shape) < 0.7
        kw["temperature"] = _draw(rng, {"t": [None, 3.0]}).get("t")
    return (x,), kw


def _sigmoid(name, rng, i):
    shape = SHAPES[i % len(SHAPES)]
    dtype = (FLOATS + (np.int8,))[i % 4]
    return (_values(rng, shape, dtype, LAYOUTS[i % len(LAYOUTS)], specials=i % 2 == 1,
                    scale=[3.0, 300.0][i % 2 == 0]),), {}


def _class_axis(shape, i):
    return -1 if len(shape) < 3 or i % 2 else 1


def _index_target(rng, shape, axis, ignore_index, frac=0.2):
    c = shape[axis]
    batch = shape[:axis % len(shape)] + shape[axis % len(shape) + 1:]
    y = rng.integers(0, c, size=batch)
    y[rng.random(batch) < frac] = ignore_index
    return y


def _cross_entropy(name, rng, i):
    shape = SHAPES[i % (len(SHAPES) - 1)]
    axis = _class_axis(shape, i)
    x = _values(rng, shape, FLOATS[i // 2 % 2], LAYOUTS[i % len(LAYOUTS)],
                specials=i % 4 == 3)
    c = shape[axis]
    kw = _draw(rng, {"label_smoothing": [None, 0.1, 1.0], "reduction": ["mean", "sum", "none"],
                     "z_loss": [None, 1e-2], "softcap": [None, None, 4.0]})
    kw["axis"] = axis
    if i % 3 == 2:       # probabilities
        t = rng.random(shape)
        t[rng.random(shape) < 0.2] = 0.0
        target = with_layout(t / np.maximum(t.sum(axis=axis, keepdims=True), 1e-3), "F")
    else:
        tdtype = np.dtype([np.int64, np.uint8, np.int32][i % 3])
        kw["ignore_index"] = c - 1 if i % 2 or tdtype.kind == "u" else -100
        target = _index_target(rng, shape, axis, kw["ignore_index"]).astype(tdtype)
    if i % 2:
        kw["weight"] = rng.uniform(0.25, 2.0, c)
    return (x, target), kw


def _nll_loss(name, rng, i):
    (x, target), kw = _cross_entropy("cross_entropy", rng, 3 * i)   # index targets
    kw = {k: v for k, v in kw.items() if k in ("axis", "weight", "ignore_index", "reduction")}
    lp = np.moveaxis(slow.log_softmax(np.moveaxis(x, kw["axis"], -1)), -1, kw["axis"])
    return (lp, target), kw


def _categorical(name, rng, i):
    shape = SHAPES[i % (len(SHAPES) - 1)]
    axis = _class_axis(shape, i)
    p = rng.dirichlet(np.ones(shape[axis]), size=shape[:axis % len(shape)]
                      + shape[axis % len(shape) + 1:])
    p = with_layout(np.moveaxis(p, -1, axis).astype(FLOATS[i // 2 % 2]),
                    LAYOUTS[i % len(LAYOUTS)])
    if i % 2:
        target = _index_target(rng, shape, axis, 0, frac=0.0)
    else:
        target = rng.random(shape)
    kw = _draw(rng, {"eps": [None, 1e-3, 0.0], "reduction": ["mean", "sum", "none"]})
    return (p, target), dict(kw, axis=axis)


def _binary(name, rng, i):
    shape = SHAPES[i % len(SHAPES)]
    dtype = FLOATS[i // 2 % 2]
    if "with_logits" in name:
        x = _values(rng, shape, dtype, LAYOUTS[i % len(LAYOUTS)], specials=i % 4 == 3,
                    scale=[3.0, 30.0][i % 2])
    else:
        p = rng.uniform(0.0, 1.0, shape)
        p.reshape(-1)[::7] = np.round(p.reshape(-1)[::7])     # some exact 0 and 1
        x = with_layout(p.astype(dtype), LAYOUTS[i % len(LAYOUTS)])
    t = rng.random(shape).astype(dtype)
    t.reshape(-1)[::3] = np.round(t.reshape(-1)[::3])
    kw = _draw(rng, {"reduction": ["mean", "sum", "none"],
                     "weight": [None, rng.uniform(0.2, 2.0, shape[-1:]),
                                rng.uniform(0.2, 2.0, shape)]})
    if "with_logits" in name and i % 2:
        kw["pos_weight"] = rng.uniform(0.5, 3.0, shape[-1:])
    return (x, t), kw


def _linear(name, rng, i):
    n, d, v = [(6, 4, 5), (37, 16, 100), (1, 3, 7), (50, 8, 300)][i % 4]
    dtype = FLOATS[i // 2 % 2]
    h = with_layout(make_base((n, d), dtype, seed=int(rng.integers(2 ** 31))),
                    LAYOUTS[i % len(LAYOUTS)])
    w = make_base((v, d), dtype, seed=int(rng.integers(2 ** 31)))
    y = _index_target(rng, (n, v), -1, -100)
    if i % 5 == 4 and n > 1:      # leading batch dimensions
        m = n // 2
        h, y = h[:2 * m].reshape(2, m, d), y[:2 * m].reshape(2, m)
    kw = _draw(rng, {"label_smoothing": [None, 0.1], "reduction": ["mean", "sum", "none"],
                     "z_loss": [None, 1e-2], "softcap": [None, 3.0],
                     "chunk_size": [None, 3, 64]})
    if i % 2:
        kw["bias"] = rng.standard_normal(v).astype(dtype)
    return (h, w, y), kw


def _focal(name, rng, i):
    (x, target), kw = _cross_entropy("cross_entropy", rng, 3 * i)   # index targets
    kw = {k: v for k, v in kw.items() if k in ("axis", "ignore_index", "reduction")}
    kw.update(_draw(rng, {"gamma": [None, 0.0, 0.5, 3.0]}))
    if i % 2:
        kw["alpha"] = rng.uniform(0.25, 2.0, x.shape[kw["axis"]])
    return (x, target), kw


def _sigmoid_focal(name, rng, i):
    (x, t), kw = _binary("binary_cross_entropy_with_logits", rng, i)
    kw = _draw(rng, {"reduction": ["mean", "sum", "none"], "gamma": [None, 0.0, 0.5, 3.0],
                     "alpha": [None, 0.25, -1.0]})
    if "alpha" not in kw and i % 3 == 0:
        kw["alpha"] = None
    return (x, t), kw
def _kl_div(name, rng, i):
    shape = SHAPES[i % len(SHAPES)]
    axis = _class_axis(shape, i)
    x = _values(rng, shape, FLOATS[i // 2 % 3], LAYOUTS[i % len(LAYOUTS)], specials=i % 4 == 3)
    lp = np.moveaxis(slow.log_softmax(np.moveaxis(x.astype(np.float64), axis, -1)), -1, axis)
    lp = with_layout(lp.astype(x.dtype), LAYOUTS[(i + 1) % len(LAYOUTS)])
    kw = _draw(rng, {"reduction": ["mean", "sum", "none", "batchmean"],
                     "log_target": [None, True, False]})
    t = rng.dirichlet(np.ones(shape[axis]), size=shape[:axis % len(shape)]
                      + shape[axis % len(shape) + 1:])
    t = np.moveaxis(t, -1, axis)
    t[rng.random(shape) < 0.2] = 0.0
    if kw.get("log_target"):
        with np.errstate(divide="ignore"):
            t = np.log(t)
    return (lp, t), dict(kw, axis=axis)


def _distillation(name, rng, i):
    shape = SHAPES[i % (len(SHAPES) - 1)]
    axis = _class_axis(shape, i)
    dtype = FLOATS[i // 2 % 3]
    s = _values(rng, shape, dtype, LAYOUTS[i % len(LAYOUTS)], specials=i % 4 == 3)
    t = _values(rng, shape, dtype, LAYOUTS[(i + 2) % len(LAYOUTS)], specials=False)
    kw = _draw(rng, {"temperature": [None, 2.0, 0.5, 10.0], "alpha": [None, 0.0, 0.3, 1.0]})
    if i % 3:
        kw["ignore_index"] = -1 if i % 2 else -100
        kw["target"] = _index_target(rng, shape, axis, kw["ignore_index"])
    return (s, t), dict(kw, axis=axis)


GENERATORS = {
    "softmax": _softmax_family, "log_softmax": _softmax_family, "logsumexp": _softmax_family,
    "sigmoid": _sigmoid, "log_sigmoid": _sigmoid,
    "cross_entropy": _cross_entropy, "cross_entropy_and_grad": _cross_entropy,
    "nll_loss": _nll_loss, "categorical_cross_entropy": _categorical,
    "binary_cross_entropy": _binary, "binary_cross_entropy_and_grad": _binary,
    "binary_cross_entropy_with_logits": _binary,
    "binary_cross_entropy_with_logits_and_grad": _binary,
    "linear_cross_entropy": _linear, "linear_cross_entropy_and_grad": _linear,
    "focal_loss": _focal, "focal_loss_and_grad": _focal,
    "sigmoid_focal_loss": _sigmoid_focal, "sigmoid_focal_loss_and_grad": _sigmoid_focal,
    "kl_div": _kl_div, "distillation_loss": _distillation,
    "distillation_loss_and_grad": _distillation,
}


def _gradient_hessian(name, rng, i):
    shape = SHAPES[i % len(SHAPES)]
    dtype = FLOATS[i // 2 % 3]
    x = _values(rng, shape, dtype, LAYOUTS[i % len(LAYOUTS)], specials=i % 4 == 3,
                scale=[3.0, 30.0][i % 2])
    kw = {}
    if name == "binary_cross_entropy_gradient_hessian":
        t = rng.random(shape)
        t.reshape(-1)[::3] = np.round(t.reshape(-1)[::3])
        if i % 2:
            kw["sample_weight"] = rng.uniform(0.0, 2.0, shape)
        return (x, t), kw
    axis = _class_axis(shape, i)
    c = shape[axis]
    batch = shape[:axis % len(shape)] + shape[axis % len(shape) + 1:]
    y = rng.integers(0, c, size=batch).astype([np.float64, np.int64][i % 2])
    kw["axis"] = axis
    if i % 3:
        kw["sample_weight"] = rng.uniform(0.0, 2.0, batch)
    return (x, y), kw


def _backward(name, rng, i):
    shape = SHAPES[i % len(SHAPES)]
    dtype = FLOATS[i // 2 % 3]
    axis = _class_axis(shape, i)
    x = _values(rng, shape, dtype, LAYOUTS[i % len(LAYOUTS)], specials=i % 4 == 3)
    forward = slow.softmax if name == "softmax_backward" else slow.log_softmax
    with np.errstate(all="ignore"):
        y = forward(x, axis=axis)
    g = with_layout(make_base(shape, dtype, seed=int(rng.integers(2 ** 31))), "F")
    return (g, y), {"axis": axis}


GENERATORS.update({
    "cross_entropy_gradient_hessian": _gradient_hessian,
    "binary_cross_entropy_gradient_hessian": _gradient_hessian,
    "softmax_backward": _backward, "log_softmax_backward": _backward,
})


def test_every_public_function_has_a_generator():
    assert sorted(GENERATORS) == PUBLIC


def _magnitude(*arrays):
    """The largest finite |value| of the arrays, at least 1."""
    m = 1.0
    for a in arrays:
        if a is None:
            continue
        v = np.asarray(a, dtype=np.float64)
        v = np.abs(v[np.isfinite(v)])
        if v.size:
            m = max(m, float(v.max()))
    return m


@pytest.mark.parametrize("i", range(N_CALLS))
@pytest.mark.parametrize("name", PUBLIC)
def test_public_function_matches_its_reference(name, i):
    args, kw = GENERATORS[name](name, _rng(name, i), i)
    with np.errstate(all="ignore"):      # inf * 0 in the special values
        got = getattr(fs, name)(*args, **kw)
    want = getattr(slow, name)(*args, **kw)
    if not isinstance(want, tuple):
        got, want = (got,), (want,)
    assert isinstance(got, tuple) and len(got) == len(want)
    reduced = kw.get("reduction", "none") != "none"
    for k, (g, w) in enumerate(zip(got, want)):
        dtype = np.asarray(w).dtype
        rtol, atol = TOL[dtype]
        # a reduced loss sums many terms; a gradient is relative to its own size
        mag = _magnitude(w) if k else _magnitude(w, *args[:1]) * (
            max(1, np.size(args[0]) // max(1, np.shape(args[0])[-1] if np.ndim(args[0]) else 1))
            if reduced else 1)
        assert_matches_reference(g, w, rtol=rtol, atol=atol * mag,
                                 what=f"{name} output {k} {kw}")


def test_out_and_grad_out_are_honoured():
    x = make_base((4, 6), seed=1)
    for name in ("softmax", "log_softmax", "sigmoid", "log_sigmoid"):
        out = np.empty_like(x)
        assert getattr(slow, name)(x, out=out) is out
        assert_matches_reference(out, getattr(fs, name)(x), rtol=1e-14, atol=0)
    out = np.empty(4)
    assert slow.logsumexp(x, out=out) is out
    g = np.empty_like(x)
    loss, grad = slow.cross_entropy_and_grad(x, np.array([0, 1, 2, 3]), grad_out=g)
    assert grad is g


# ------------------------------------------------------------ the reference's own anchors

@pytest.mark.parametrize("row", SPECIAL_ROWS, ids=str)
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
def test_softmax_family_special_values_are_scipys(name, row):
    x = np.array(row)
    with np.errstate(all="ignore"):
        want = getattr(scipy.special, name)(x)
    got = getattr(slow, name)(x)
    # SciPy loses the tiny log_softmax of [0, -40] that the reference keeps
    atol = 1e-16 if (name, tuple(row)) == ("log_softmax", (0.0, -40.0)) else 0.0
    assert_matches_reference(got, want, rtol=1e-15, atol=atol)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
def test_softmax_family_values_are_scipys(name):
    x = make_base((40, 300), seed=2, scale=10.0)
    for axis in (0, -1, None):
        want = getattr(scipy.special, name)(x, axis=axis)
        atol = 1e-13 * (1 + np.abs(scipy.special.logsumexp(x, axis=axis, keepdims=True)))
        if name != "log_softmax":
            atol = 0
        np.testing.assert_allclose(getattr(slow, name)(x, axis=axis), want, rtol=1e-13,
                                   atol=np.max(atol))


def test_sigmoids_are_scipys():
    x = np.concatenate([make_base((2000,), seed=3, scale=30.0),
                        [0.0, -0.0, 700.0, -700.0, 1e308, -1e308, inf, -inf, nan]])
    normal = scipy.special.expit(x) >= np.finfo(np.float64).tiny
    assert_matches_reference(slow.sigmoid(x)[normal], scipy.special.expit(x)[normal],
                             rtol=1e-15, atol=0)
    # below the normal range SciPy flushes to 0; the reference keeps the subnormals
    assert (slow.sigmoid(np.array([-720.0])) > 0).all()
    assert_matches_reference(slow.log_sigmoid(x), scipy.special.log_expit(x), rtol=1e-15,
                             atol=0)


def test_bce_with_logits_is_the_naive_form():
    """The stable form is ``-(pw t log sigmoid(x) + (1 - t) log(1 - sigmoid(x)))``,
    written with SciPy's log_expit."""
    rng = _rng("naive-bce-with-logits")
    x, t = 5 * rng.standard_normal((6, 5)), rng.random((6, 5))
    w, pw = rng.uniform(0.2, 2.0, (6, 1)), rng.uniform(0.2, 4.0, 5)
    log_expit = scipy.special.log_expit
    naive = -(pw * t * log_expit(x) + (1 - t) * log_expit(-x)) * w
    got = slow.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw,
                                                reduction="none")
    np.testing.assert_allclose(got, naive, rtol=1e-12, atol=1e-14)


def _torch():
    torch = pytest.importorskip("torch")
    return torch, torch.nn.functional


@pytest.mark.parametrize("eps", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("kind", ["index", "prob"])
def test_cross_entropy_is_torchs(kind, eps):
    """Including the special rows: NaN, +inf, all -inf and -inf at the target."""
    torch, F = _torch()
    rng = _rng("torch-ce", kind, eps)
    x = 3 * rng.standard_normal((12, 7))
    x[1, 2], x[2, 4], x[3], x[4, 0] = nan, inf, -inf, -inf
    w = rng.uniform(0.25, 2.0, 7)
    if kind == "index":
        t = rng.integers(0, 7, 12)
        t[4], t[5] = 0, -100
        tt = torch.tensor(t)
    else:
        t = rng.dirichlet(np.ones(7), 12)
        tt = torch.tensor(t)
    for reduction in ("none", "sum", "mean"):
        xt = torch.tensor(x, requires_grad=True)
        want = F.cross_entropy(xt, tt, weight=torch.tensor(w), label_smoothing=eps,
                               reduction=reduction)
        (want.sum() if reduction == "none" else want).backward()
        loss, grad = slow.cross_entropy_and_grad(x, t, weight=w, label_smoothing=eps,
                                                 reduction=reduction)
        assert_matches_reference(loss, want.detach().numpy(), rtol=1e-13, atol=1e-13)
        g = xt.grad.numpy()
        if kind == "index":
            g = np.where((t == -100)[:, None], 0.0, g)   # an ignored row's gradient is 0
        assert_matches_reference(grad, g, rtol=1e-12, atol=1e-14)


def test_binary_cross_entropies_are_torchs():
    torch, F = _torch()
    rng = _rng("torch-bce")
    p = rng.uniform(0, 1, (9, 4))
    p[0, :2] = 0.0, 1.0
    x = 5 * rng.standard_normal((9, 4))
    x[1, :2] = 1000.0, -1000.0
    t = rng.random((9, 4))
    w, pw = rng.uniform(0.2, 2.0, 4), rng.uniform(0.5, 3.0, 4)
    for reduction in ("none", "sum", "mean"):
        pt = torch.tensor(p, requires_grad=True)
        want = F.binary_cross_entropy(pt, torch.tensor(t), weight=torch.tensor(w),
                                      reduction=reduction)
        (want.sum() if reduction == "none" else want).backward()
        loss, grad = slow.binary_cross_entropy_and_grad(p, t, weight=w, reduction=reduction)
        assert_matches_reference(loss, want.detach().numpy(), rtol=1e-13, atol=1e-13)
        assert_matches_reference(grad, pt.grad.numpy(), rtol=1e-12, atol=1e-12)
        xt = torch.tensor(x, requires_grad=True)
        want = F.binary_cross_entropy_with_logits(xt, torch.tensor(t), weight=torch.tensor(w),
                                                  pos_weight=torch.tensor(pw),
                                                  reduction=reduction)
        (want.sum() if reduction == "none" else want).backward()
        loss, grad = slow.binary_cross_entropy_with_logits_and_grad(
            x, t, weight=w, pos_weight=pw, reduction=reduction)
        assert_matches_reference(loss, want.detach().numpy(), rtol=1e-13, atol=1e-13)
        assert_matches_reference(grad, xt.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_linear_cross_entropy_is_torchs():
    torch, F = _torch()
    rng = _rng("torch-linear")
    h, w, b = rng.standard_normal((10, 6)), rng.standard_normal((15, 6)), rng.standard_normal(15)
    y = rng.integers(0, 15, 10)
    y[3] = -100
    ht, wt, bt = (torch.tensor(a, requires_grad=True) for a in (h, w, b))
    want = F.cross_entropy(F.linear(ht, wt, bt), torch.tensor(y), label_smoothing=0.1)
    want.backward()
    got = slow.linear_cross_entropy_and_grad(h, w, y, bias=b, label_smoothing=0.1)
    for g, t_ in zip(got, (want, ht.grad, wt.grad, bt.grad)):
        assert_matches_reference(g, t_.detach().numpy(), rtol=1e-12, atol=1e-14)
