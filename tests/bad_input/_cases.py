"""The case language of the bad-input matrix, its input builders and the
case groups several op families share.

A **case** (:class:`Case`) is one call of one public function: ``build()``
makes fresh arguments, ``expect`` says what must happen:

* :class:`Ref` -- the call returns the reference answer (``fastsoftmax.slow``
  called with the same arguments), to the rounding of the result dtype;
  ``bitwise`` also demands bitwise the answer of the same call on
  C-contiguous native copies, ``returns`` that the result be the ``out=`` /
  ``grad_out=`` array passed in;
* :class:`Raises` -- the call raises that exception (or a subclass) with a
  message matching a regex (naming the argument and what was expected);
* :class:`RefOrRaises` -- either.

And whatever the expectation, the call never writes to an input (except the
declared ``mutable`` ones) and never crashes the interpreter.  A case with
``bug="..."`` is a known library bug: a strict xfail.

Case ids are ``"<function>:<group>/<what>"``; each test module of this
directory builds the table of one op family from the groups here and its
own (see ``FAMILIES``).
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Callable

import numpy as np

import fastsoftmax as fs
from _helpers import make_base, with_layout

inf, nan = np.inf, np.nan
BIG_THREADS = 10 ** 6          # far more threads than any machine should start
HUGE_THREADS = 2 ** 40         # does not even fit a C int


# =========================================================== expectations

@dataclass(frozen=True)
class Ref:
    """The call returns the reference answer: ``fastsoftmax.slow`` with the same
    arguments, to the rounding of the result dtype (``_checks.reference``).

    bitwise: also bitwise equal to the same call on C-contiguous native
    copies of the inputs (layout must never change a compiled result).
    returns: name of the argument the result (or the gradient) must be."""
    bitwise: bool = False
    returns: str | None = None


@dataclass(frozen=True)
class Raises:
    """The call raises ``exc`` (or a subclass) with a message matching ``pattern``."""
    exc: type
    pattern: str


@dataclass(frozen=True)
class RefOrRaises:
    """Either answer is acceptable: the call raises as ``raises`` says, or
    returns what ``ref`` says (for inputs where refusing and computing are
    both reasonable; no case needs it at present)."""
    raises: Raises
    ref: Ref = Ref()


REF = Ref()
BITWISE = Ref(bitwise=True)


@dataclass
class Case:
    id: str
    fname: str                     # the public function (also picks the reference)
    build: Callable                # () -> (args, kwargs), fresh arrays each time
    expect: object
    mutable: tuple = ()            # inputs the call may legitimately write (out=x)
    bug: str | None = None         # known library bug: strict xfail
    limit_as: bool = False         # run under an address-space limit (thread storms)
    call: Callable | None = None   # instead of fs.<fname> (e.g. set_num_threads first)

    @property
    def fn(self):
        return self.call or getattr(fs, self.fname)


def collector(fname, group):
    """``(cases, add)``: a new list, and ``add(what, build, expect, **flags)``
    appending ``Case(f"{fname}:{group}{what}", fname, build, expect, **flags)``."""
    cases = []

    def add(what, build, expect, **flags):
        cases.append(Case(f"{fname}:{group}{what}", fname, build, expect, **flags))
    return cases, add


# =========================================================== input builders

def X(shape=(6, 5), dtype=np.float64, seed=0, scale=3.0):
    return make_base(shape, dtype, seed=seed, scale=scale)


def with_value(make_args, index, value, base=X):
    """A build: ``make_args(a)`` of a fresh ``a = base()`` with ``a[index] = value``
    (``index`` a row or a ``(row, column)`` place)."""
    def build():
        a = base()
        a[index] = value
        return make_args(a)
    return build


def logit_special_cases(add, make_args):
    """Add the special values of a logits input, each against the reference:
    a NaN, a +inf and a -inf in X(), and a row of -inf only."""
    add("nan", with_value(make_args, (2, 1), nan), REF)
    add("posinf", with_value(make_args, (1, 3), inf), REF)
    add("neginf", with_value(make_args, (3, 0), -inf), REF)
    add("all_neginf_row", with_value(make_args, 4, -inf), REF)


def layout_grid(fname, build, expect, dtypes=(np.float64, np.float32)):
    """The cases ``layout/<kind>-<dtype>`` of ``fname``, for every layout of
    LAYOUTS and every dtype of ``dtypes``: ``build(kind, dtype)`` makes the
    arguments, laid out as ``kind``."""
    return [Case(f"{fname}:layout/{kind}-{np.dtype(dt).name}", fname,
                 lambda kind=kind, dt=dt: build(kind, dt), expect)
            for kind in LAYOUTS for dt in dtypes]


def table_of(functions, *groups):
    """Every case of a family, in a fixed order (the child runs them): for
    each function of ``functions``, the cases of each of ``groups`` in turn."""
    return [case for fname in functions for group in groups for case in group(fname)]


def labels(batch_shape, n_classes, dtype=np.int64, seed=1):
    if n_classes == 0:
        return np.full(batch_shape, -100, dtype=np.int64).astype(dtype, casting="unsafe")
    rng = np.random.default_rng(seed)
    return rng.integers(0, n_classes, size=batch_shape).astype(dtype)


def soft_labels(shape, seed=2, axis=-1):
    rng = np.random.default_rng(seed)
    t = rng.random(shape)
    if t.size:
        t /= t.sum(axis=axis, keepdims=True)
    return t


def unit(shape, seed=3):
    """Probabilities strictly inside (0, 1)."""
    return np.random.default_rng(seed).uniform(0.05, 0.95, size=shape)


def bits(shape, seed=4):
    return np.random.default_rng(seed).integers(0, 2, size=shape).astype(np.float64)


def _shape_of(v):
    try:
        return np.shape(v)
    except ValueError:          # ragged
        return ()


_TMPDIR = []


def memmap_of(a, mode="r"):
    """``a`` stored in a file and opened as np.memmap (read-only by default)."""
    if not _TMPDIR:
        _TMPDIR.append(tempfile.mkdtemp(prefix="fsm_memmap_"))
        atexit.register(shutil.rmtree, _TMPDIR[0], True)
    path = os.path.join(_TMPDIR[0], f"m{len(os.listdir(_TMPDIR[0]))}.bin")
    w = np.memmap(path, dtype=a.dtype, mode="w+", shape=a.shape)
    w[...] = a
    w.flush()
    del w
    return np.memmap(path, dtype=a.dtype, mode=mode, shape=a.shape)


def layout(a, kind):
    """``a`` (same values) in one of the memory layouts of the matrix."""
    if kind == "memmap":
        return memmap_of(a)
    if kind == "broadcast":        # zero stride along the first axis (read-only)
        return np.broadcast_to(a[:1], a.shape)
    if kind == "broadcast_last":   # zero stride along the last axis
        return np.broadcast_to(a[..., :1], a.shape)
    if kind == "transposed":       # a transposed view of a C array: F order
        return np.ascontiguousarray(a.T).T
    return with_layout(a, kind)    # C F strided negative readonly byteswapped unaligned


LAYOUTS = ("C", "F", "transposed", "strided", "negative", "readonly", "byteswapped",
           "unaligned", "memmap", "broadcast", "broadcast_last")


# =========================================================== the families

SOFTMAX_FAMILY = ("softmax", "log_softmax", "logsumexp")
SIGMOID_FAMILY = ("sigmoid", "log_sigmoid")
CE_FAMILY = ("cross_entropy", "cross_entropy_and_grad")
BCE_FAMILY = ("binary_cross_entropy", "binary_cross_entropy_and_grad")
BCEL_FAMILY = ("binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_and_grad")
LINEAR_FAMILY = ("linear_cross_entropy", "linear_cross_entropy_and_grad")
ALL_FUNCTIONS = (SOFTMAX_FAMILY + SIGMOID_FAMILY + CE_FAMILY + ("nll_loss",
                 "categorical_cross_entropy") + BCE_FAMILY + BCEL_FAMILY + LINEAR_FAMILY)
# functions with a num_threads argument / an axis argument
THREADED = SOFTMAX_FAMILY + CE_FAMILY
WITH_AXIS = SOFTMAX_FAMILY + CE_FAMILY + ("nll_loss", "categorical_cross_entropy")
MAIN_ARG = {f: "x" for f in SOFTMAX_FAMILY + SIGMOID_FAMILY}
MAIN_ARG.update({f: "logits" for f in CE_FAMILY + BCEL_FAMILY})
MAIN_ARG.update({"nll_loss": "log_probs", "categorical_cross_entropy": "probs"})
MAIN_ARG.update({f: "probs" for f in BCE_FAMILY})
MAIN_ARG.update({f: "hidden" for f in LINEAR_FAMILY})
# functions whose main input must be probabilities
PROB_INPUT = ("categorical_cross_entropy",) + BCE_FAMILY
# the focal losses (test_focal.py): class-index targets / binary targets
FOCAL_FAMILY = ("focal_loss", "focal_loss_and_grad")
SIGMOID_FOCAL_FAMILY = ("sigmoid_focal_loss", "sigmoid_focal_loss_and_grad")
MAIN_ARG.update({f: "logits" for f in FOCAL_FAMILY + SIGMOID_FOCAL_FAMILY})


def call_args(fname, main, target=None, **kw):
    """(args, kwargs) for fname with ``main`` as its first argument and a valid
    target made up to match main's shape (class axis ``kw['axis']``) unless given."""
    if fname in SOFTMAX_FAMILY + SIGMOID_FAMILY:
        return (main,), kw
    if target is None:
        shape = _shape_of(main)
        if fname in CE_FAMILY + ("nll_loss", "categorical_cross_entropy") + FOCAL_FAMILY:
            ax = kw.get("axis", -1)
            ax = -1 if not isinstance(ax, int) else ax
            if len(shape) == 0:
                target = np.int64(0)
            else:
                ax %= len(shape)
                batch = shape[:ax] + shape[ax + 1:]
                target = labels(batch, shape[ax])
        else:  # binary: same shape, 0/1
            target = bits(shape)
    return (main, target), kw


def value_for(fname, shape=(6, 5), dtype=np.float64):
    """A 'logits' array for the logit-taking functions, probabilities for the others."""
    if fname in PROB_INPUT:
        return unit(shape).astype(dtype)
    return X(shape, dtype)


# ----------------------------------------------------------- shared messages

def dtype_msg(name, what):
    return rf"{name} must have a real numeric dtype \(float, int or bool\), got {what}"


def main_name(fname):
    return MAIN_ARG[fname]


def small(fname, **kw):
    """A builder of a small valid call of ``fname`` (6 x 5) with the options ``kw``."""
    return lambda: call_args(fname, value_for(fname, (6, 5)), **kw)


def hidden(shape=(6, 4), dtype=np.float64, seed=11):
    """The ``hidden`` argument of a linear cross-entropy."""
    return X(shape, dtype, seed=seed, scale=1.0)


def weight(shape=(5, 4), dtype=np.float64, seed=12):
    """The ``weight`` argument of a linear cross-entropy (a vocabulary of 5)."""
    return X(shape, dtype, seed=seed, scale=1.0)


def linear_args(h=None, w=None, t=None, **kw):
    """(args, kwargs) of a linear cross-entropy: ``hidden()``, ``weight()`` and
    valid labels unless given."""
    h = hidden() if h is None else h
    w = weight() if w is None else w
    if t is None:
        batch = _shape_of(h)[:-1]
        t = labels(batch, 5)
    return (h, w, t), kw


# The test module of each op family and the functions it covers (every
# public computing function belongs to exactly one; tests/bad_input/test_coverage.py).
FAMILIES = {
    "test_softmax_family": SOFTMAX_FAMILY,
    "test_sigmoid": SIGMOID_FAMILY,
    "test_cross_entropy": CE_FAMILY + ("nll_loss", "categorical_cross_entropy"),
    "test_binary_losses": BCE_FAMILY + BCEL_FAMILY,
    "test_linear": LINEAR_FAMILY,
    "test_focal": FOCAL_FAMILY + SIGMOID_FOCAL_FAMILY,
    "test_gradient_boosting": ("cross_entropy_gradient_hessian",
                               "binary_cross_entropy_gradient_hessian"),
    "test_backward": ("softmax_backward", "log_softmax_backward"),
    "test_divergence": ("kl_div", "distillation_loss", "distillation_loss_and_grad"),
}


# =========================================================== shared case groups

def value_cases(fname):
    """Special and degenerate values of the main input: NaN, infinities, huge
    and tiny values, empty and one-class inputs, every real dtype, and the
    types no function accepts."""
    arg = main_name(fname)
    cases, add = collector(fname, "input/")

    def args(a):
        return call_args(fname, a)

    if fname in PROB_INPUT:
        # probabilities: NaN propagates; outside [0, 1] (inf included) is an error
        bce_like = fname in BCE_FAMILY
        p = lambda: unit((6, 5))                                  # noqa: E731

        add("nan", with_value(args, (2, 1), nan, base=p), REF)
        outside = Raises(ValueError, r"probs must lie in \[0, 1\]")
        add("posinf", with_value(args, (1, 1), inf, base=p), outside)
        add("neginf", with_value(args, (1, 1), -inf, base=p), outside)
        add("above_one", with_value(args, (0, 0), 1.5, base=p), outside)
        add("negative", with_value(args, (0, 0), -0.25, base=p), outside)
        add("exact_zero_and_one", lambda: call_args(fname, np.array(
            [[0.0, 1.0, 0.5], [1.0, 0.0, 0.25]])), REF)
        add("tiny", lambda: call_args(fname, np.full((3, 4), 5e-324)), REF)
        add("float16", lambda: call_args(fname, p().astype(np.float16)), REF)
        add("float32", lambda: call_args(fname, p().astype(np.float32)), REF)
        add("int01", lambda: call_args(fname, np.array([[0, 1, 1], [1, 0, 0]])), REF)
        add("bool", lambda: call_args(fname, np.array([[False, True], [True, True]])), REF)
        add("python_list", lambda: call_args(fname, [[0.2, 0.3, 0.5], [0.9, 0.05, 0.05]]),
            REF)
        add("empty_rows", lambda: call_args(fname, np.zeros((0, 4))), REF)
        add("zero_classes", lambda: call_args(
            fname, np.zeros((3, 0)), target=None if bce_like else np.zeros((3, 0))), REF)
        add("one_class", lambda: call_args(fname, np.full((4, 1), 0.75),
                                           target=None if bce_like else np.ones((4, 1))),
            REF)
        add("ndim5", lambda: call_args(fname, unit((2, 3, 2, 1, 4))), REF)
        if bce_like:
            add("zero_d", lambda: call_args(fname, np.float64(0.25), target=1.0), REF)
            add("python_scalar", lambda: call_args(fname, 0.25, target=0.0), REF)
        else:
            add("zero_d", lambda: call_args(fname, np.float64(0.25), target=np.int64(0)),
                Raises(ValueError, r"probs must have at least one dimension"))
    else:
        logit_special_cases(add, args)

        def neginf_target():  # -inf exactly at a target class: loss +inf
            a = X()
            args, kw = call_args(fname, a)
            if fname in CE_FAMILY + ("nll_loss",):
                a[np.arange(6), args[1]] = -inf
            else:
                a[0, 0] = -inf
            return args, kw
        add("neginf_at_target", neginf_target, REF)
        add("huge", lambda: call_args(fname, np.array(
            [[1e30, -1e30, 0.0, 1e30], [1e300, 1e299, -1e300, 3.0], [-1e30, -1e30, -1e30, -1e30]])),
            REF)
        add("huge_float32", lambda: call_args(fname, np.array(
            [[1e30, -1e30, 0.0], [3e38, -3e38, 3e38]], np.float32)), REF)
        if fname in CE_FAMILY:
            # ties at a huge maximum: the per-sample loss is log(#ties), O(1)
            add("huge_ties_per_sample", lambda: call_args(
                fname, np.array([[1e20] * 4, [1e30, 1e30, -1e30, 0.0], [1e15, 1e15, 0, 0]]),
                target=np.array([1, 0, 1]), reduction="none"), REF)
            add("huge_ties_per_sample_float32", lambda: call_args(
                fname, np.array([[1e30, 1e30, 1e30], [3e38, -3e38, 3e38]], np.float32),
                target=np.array([0, 2]), reduction="none"), REF)
        add("tiny", lambda: call_args(fname, np.array(
            [[5e-324, -5e-324, 0.0, -0.0], [1e-310, 2e-310, 3e-310, 4e-310]])), REF)
        add("tiny_float32", lambda: call_args(fname, np.array(
            [[1e-45, -1e-45, 0.0], [1e-40, 2e-40, 3e-40]], np.float32)), REF)
        add("empty_rows", lambda: call_args(fname, np.zeros((0, 5))), REF)
        add("empty_rows_3d", lambda: call_args(fname, np.zeros((2, 0, 5))), REF)
        add("zero_classes", lambda: call_args(fname, np.zeros((3, 0))), REF)
        add("zero_classes_and_rows", lambda: call_args(fname, np.zeros((0, 0))), REF)
        if fname in CE_FAMILY:
            add("zero_classes_prob_target",
                lambda: call_args(fname, np.zeros((3, 0)), target=np.zeros((3, 0)),
                                  reduction="none"), REF)
        add("one_class", lambda: call_args(fname, X((4, 1))), REF)
        add("ndim5_axis1", lambda: call_args(fname, X((2, 3, 2, 1, 4)), axis=1)
            if fname in WITH_AXIS else call_args(fname, X((2, 3, 2, 1, 4))), REF)
        add("python_list", lambda: call_args(fname, [[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]]), REF)
        if fname in THREADED + ("nll_loss",):
            add("one_dim", lambda: call_args(fname, np.array([0.5, 2.0, -1.0])), REF)
        for dt in ("float16", "float32", "int8", "int16", "int32", "int64", "uint8",
                   "uint16", "uint32", "uint64", "bool"):
            add(f"dtype_{dt}", lambda dt=dt: call_args(fname, X((6, 5), np.dtype(dt))), REF)
        if fname in CE_FAMILY + ("nll_loss",):
            add("zero_d", lambda: call_args(fname, np.float64(1.5), target=np.int64(0)),
                Raises(ValueError, rf"{arg} must have at least one dimension"))
            add("python_scalar", lambda: call_args(fname, 1.5, target=0),
                Raises(ValueError, rf"{arg} must have at least one dimension"))
        else:
            add("zero_d", lambda: call_args(fname, np.float64(1.5)), REF)
            add("python_scalar", lambda: call_args(fname, 1.5), REF)

    # types no function accepts
    add("complex", lambda: call_args(fname, np.ones((2, 3), complex)),
        Raises(TypeError, dtype_msg(arg, "complex128")))
    add("object", lambda: call_args(fname, np.array([[1, None], [2, 3]], dtype=object)),
        Raises(TypeError, dtype_msg(arg, "object")))
    add("strings", lambda: call_args(fname, np.array([["a", "b"], ["c", "d"]])),
        Raises(TypeError, dtype_msg(arg, "<U1")))
    add("python_str", lambda: call_args(fname, "abc"),
        Raises(TypeError, dtype_msg(arg, "<U3")))
    add("datetime", lambda: call_args(fname, np.array([[1, 2]], dtype="M8[s]")),
        Raises(TypeError, dtype_msg(arg, r"datetime64\[s\]")))
    if np.dtype(np.longdouble).itemsize > 8:
        add("longdouble", lambda: call_args(fname, np.full((2, 3), 0.5, np.longdouble)),
            Raises(TypeError, rf"{arg} has dtype float128, which is not supported"))
    add("masked", lambda: call_args(fname, np.ma.array(np.full((2, 3), 0.5),
                                                       mask=[[0, 1, 0], [0, 0, 0]])),
        Raises(TypeError, rf"{arg}: masked arrays are not supported"))
    add("ragged", lambda: call_args(fname, [[0.5, 0.5], [0.5]], target=np.zeros(2)),
        Raises(TypeError, rf"{arg} must be array-like of real numbers"))
    return cases


def layout_cases(fname):
    """The main input (and the target, where there is one) in every layout:
    the answer is the reference and, for the compiled kernels, bitwise the
    C-contiguous answer."""
    compiled = fname in THREADED
    exp = BITWISE if compiled else REF

    def b(kind, dt):
        return call_args(fname, layout(value_for(fname, (6, 5), dt), kind))
    cases = layout_grid(fname, b, exp, (np.float64, np.float32) if compiled else (np.float64,))
    if fname in WITH_AXIS:
        def b_axis0():
            return call_args(fname, layout(value_for(fname, (5, 6)), "F"), axis=0)
        cases.append(Case(f"{fname}:layout/F-axis0", fname, b_axis0, exp))
    if fname not in SOFTMAX_FAMILY + SIGMOID_FAMILY:
        for kind in ("strided", "negative", "readonly", "byteswapped", "unaligned",
                     "memmap", "broadcast"):
            def bt(kind=kind):
                main = value_for(fname, (6, 5))
                args, kw = call_args(fname, main)
                t = args[1]
                if t.ndim == 1 and kind == "broadcast":
                    t = np.broadcast_to(t[:1], t.shape)
                else:
                    t = layout(t, kind)
                return (main, t), kw
            cases.append(Case(f"{fname}:layout/target-{kind}", fname, bt, exp))
    if compiled:
        # a large input in a non-trivial layout also goes through the threads
        def b_big():
            a = X((700, 130), np.float32, seed=5)
            return call_args(fname, layout(a, "negative"), num_threads=2)
        cases.append(Case(f"{fname}:layout/negative-parallel", fname, b_big, BITWISE))
    return cases


def out_cases(fname):
    """out= of the softmax family and the sigmoids: wrong dtypes, shapes and
    types, read-only buffers, every writable layout, aliasing the input."""
    cases, add = collector(fname, "out/")
    lse = fname == "logsumexp"

    def oshape(shape):
        return shape[:-1] if lse else shape

    def with_out(make_out, dtype=np.float64, shape=(7, 33)):
        def b():
            x = X(shape, dtype)
            return (x,), {"out": make_out(x)}
        return b

    returns_out = Ref(returns="out")
    add("wrong_dtype", with_out(lambda x: np.empty(oshape(x.shape), np.float32)),
        Raises(TypeError, r"out has dtype float32, expected float64"))
    add("wrong_dtype_int_input", lambda: ((np.arange(12).reshape(3, 4),),
                                          {"out": np.empty(oshape((3, 4)), np.int64)}),
        Raises(TypeError, r"out has dtype int64, expected float64"))
    add("float16_ok", with_out(lambda x: np.empty(oshape(x.shape), np.float16), np.float16),
        returns_out)
    add("wrong_shape", with_out(lambda x: np.empty((6,) if lse else (7, 32))),
        Raises(ValueError, r"out has shape \(6,\), expected \(7,\)" if lse
               else r"out has shape \(7, 32\), expected \(7, 33\)"))
    add("wrong_shape_transposed", with_out(lambda x: np.empty((33, 7) if not lse else (33,))),
        Raises(ValueError, r"out has shape \(33(, 7)?,?\), expected \(7(, 33)?,?\)"))
    add("not_an_array", with_out(lambda x: [0.0] * (7 if lse else 7 * 33)),
        Raises(TypeError, r"out must be a numpy.ndarray, got list"))
    add("readonly", with_out(lambda x: layout(np.empty(oshape(x.shape)), "readonly")),
        Raises(ValueError, r"out is read-only"))
    add("broadcast_readonly", with_out(lambda x: np.broadcast_to(
        np.empty(oshape(x.shape)[-1:]), oshape(x.shape))),
        Raises(ValueError, r"out is read-only"))
    add("byteswapped", with_out(lambda x: np.empty(oshape(x.shape), ">f8")),
        Raises(TypeError, r"out has dtype >f8, expected float64"))
    for kind in ("F", "strided", "negative", "unaligned"):
        add(f"layout_{kind}", with_out(lambda x, kind=kind: layout(
            np.zeros(oshape(x.shape)), kind)), returns_out)
    add("memmap_writable", with_out(lambda x: memmap_of(np.zeros(oshape(x.shape)),
                                                         mode="r+")), returns_out)
    add("alias_input", lambda: (lambda x: ((x,), {"out": x[:, 0] if lse else x}))(X((7, 33))),
        returns_out, mutable=("arg0",))

    def partial_overlap():
        buf = X((8, 33)).ravel()
        x = buf[: 7 * 33].reshape(7, 33)
        out = buf[33 + (0 if not lse else 5): 33 + (7 * 33 if not lse else 12)]
        return (x,), {"out": out.reshape(oshape((7, 33)))}
    add("partial_overlap", partial_overlap, returns_out, mutable=("arg0",))
    if fname in SOFTMAX_FAMILY:
        add("alias_input_axis0", lambda: (lambda x: ((x,), {"axis": 0, "out": x[0] if lse else x}))(
            X((7, 33))), returns_out, mutable=("arg0",))
        add("alias_input_parallel", lambda: (lambda x: ((x,), {
            "out": x[:, 0] if lse else x, "num_threads": 2}))(X((700, 130))),
            returns_out, mutable=("arg0",))
    return cases


def big_threads_input(fname):
    """An input large enough for the parallel path (> 2**16 elements)."""
    x = X((600, 128), np.float64, seed=6)
    return call_args(fname, x)


def axis_cases(fname):
    """Class / reduction axes out of range or of the wrong type."""
    cases, add = collector(fname, "args/")
    add("axis_out_of_range", small(fname, axis=2),
        Raises(np.exceptions.AxisError, r"axis 2 is out of bounds for array of dimension 2"))
    add("axis_negative_out_of_range", small(fname, axis=-3),
        Raises(np.exceptions.AxisError, r"axis -3 is out of bounds for array of dimension 2"))
    add("axis_float", small(fname, axis=1.0),
        Raises(TypeError, r"axis must be an integer or None, got 1.0"))
    if fname not in SOFTMAX_FAMILY:
        add("axis_none", small(fname, axis=None),
            Raises(TypeError, r"axis must be an integer, got None \(the losses need one "
                              r"class axis\)"))
    return cases


def reduction_cases(fname):
    """reduction= of the losses: unknown values, and each valid one."""
    cases, add = collector(fname, "args/")
    red = r"reduction must be one of 'none', 'mean', 'sum'; got "
    add("reduction_unknown", small(fname, reduction="avg"), Raises(ValueError, red + "'avg'"))
    add("reduction_none_object", small(fname, reduction=None), Raises(ValueError, red + "None"))
    add("reduction_upper", small(fname, reduction="MEAN"), Raises(ValueError, red + "'MEAN'"))
    for r in ("none", "sum", "mean"):
        add(f"reduction_{r}", small(fname, reduction=r), REF)
    return cases
