"""Issue 6, part 1: the bad-input matrix -- never crash, never lie.

Every public function meets every kind of bad or unusual input: odd labels,
special and degenerate logits, unusual memory layouts, bad out= / grad_out=
buffers and bad arguments.  Each case must end in either a clear exception
(the right class, and a message that names the argument and what was
expected: asserted with a regex) or the SciPy / torch answer.  No case may
write to an input array (checked against copies for every case).

The whole table runs in ONE child interpreter (tests/_subproc.py), so that a
segfault or an abort is a test failure naming the case, not the end of the
session; after a crash the runner starts a new child at the next case.  The
child only calls fastsoftmax and sends back what each call returned or
raised with copies of its inputs; the references (SciPy, torch, formulas) are
computed here, in the pytest process.

A known library bug is recorded by giving its case ``bug="..."`` (what is
wrong, and where): the test is then ``xfail(strict=True)``, so fixing the bug
turns it into a failure until the annotation is removed.  No case carries one
at present: the bugs this table found (argument names in the messages of
nll_loss / categorical_cross_entropy, huge tied logits, zero classes, integer
targets with the logits' shape, huge thread counts, axis=None for the losses,
NaN / inf class weights, non-numeric binary weights) are fixed.
"""
from __future__ import annotations

import atexit
import inspect
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

import fastsoftmax as fs
from _helpers import assert_same, make_base, with_layout

inf, nan = np.inf, np.nan
BIG_THREADS = 10 ** 6          # far more threads than any machine should start
HUGE_THREADS = 2 ** 40         # does not even fit a C int


# =========================================================== expectations

@dataclass(frozen=True)
class Ref:
    """The call returns the SciPy / torch / formula answer (see ``reference``).

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


# =========================================================== input builders

def X(shape=(6, 5), dtype=np.float64, seed=0, scale=3.0):
    return make_base(shape, dtype, seed=seed, scale=scale)


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


def call_args(fname, main, target=None, **kw):
    """(args, kwargs) for fname with ``main`` as its first argument and a valid
    target made up to match main's shape (class axis ``kw['axis']``) unless given."""
    if fname in SOFTMAX_FAMILY + SIGMOID_FAMILY:
        return (main,), kw
    if target is None:
        shape = _shape_of(main)
        if fname in CE_FAMILY + ("nll_loss", "categorical_cross_entropy"):
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


# =========================================================== the table

def _logit_value_cases(fname):
    """Special and degenerate values of the main input, for one function."""
    arg = main_name(fname)
    cases = []

    def add(cid, build, expect, **kw):
        cases.append(Case(f"{fname}:input/{cid}", fname, build, expect, **kw))

    if fname in PROB_INPUT:
        # probabilities: NaN propagates; outside [0, 1] (inf included) is an error
        bce_like = fname in BCE_FAMILY
        p = lambda: unit((6, 5))                                  # noqa: E731

        def with_(i, j, v):
            def b():
                a = p()
                a[i, j] = v
                return call_args(fname, a)
            return b

        add("nan", with_(2, 1, nan), REF)
        outside = Raises(ValueError, r"probs must lie in \[0, 1\]")
        add("posinf", with_(1, 1, inf), outside)
        add("neginf", with_(1, 1, -inf), outside)
        add("above_one", with_(0, 0, 1.5), outside)
        add("negative", with_(0, 0, -0.25), outside)
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
        def with_(i, j, v):
            def b():
                a = X()
                a[i, j] = v
                return call_args(fname, a)
            return b

        add("nan", with_(2, 1, nan), REF)
        add("posinf", with_(1, 3, inf), REF)
        add("neginf", with_(3, 0, -inf), REF)

        def all_neginf():
            a = X()
            a[4, :] = -inf
            return call_args(fname, a)
        add("all_neginf_row", all_neginf, REF)

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


def _layout_cases(fname):
    """The main input (and the target, where there is one) in every layout:
    the answer is the reference and, for the compiled kernels, bitwise the
    C-contiguous answer."""
    cases = []
    compiled = fname in THREADED
    exp = BITWISE if compiled else REF
    for kind in LAYOUTS:
        for dt in ((np.float64, np.float32) if compiled else (np.float64,)):
            def b(kind=kind, dt=dt):
                base = value_for(fname, (6, 5), dt)
                main = layout(base, kind)
                args, kw = call_args(fname, main)
                return args, kw
            cases.append(Case(f"{fname}:layout/{kind}-{np.dtype(dt).name}", fname, b, exp))
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


def _label_cases(fname):
    """Class-index targets: range, ignore_index, dtypes, wrong kinds and shapes."""
    cases = []
    x = lambda: X((6, 5))                                                 # noqa: E731
    if fname == "categorical_cross_entropy":
        x = lambda: unit((6, 5))                                          # noqa: E731
    has_ignore = fname in CE_FAMILY + ("nll_loss",)
    also = r" and not ignore_index \(-100\)" if has_ignore else ""

    def add(cid, build, expect, **kw):
        cases.append(Case(f"{fname}:labels/{cid}", fname, build, expect, **kw))

    def tgt(values, dtype=np.int64):
        return lambda: ((x(), np.array(values, dtype=dtype)), {})

    add("out_of_range", tgt([0, 1, 5, 2, 3, 4]),
        Raises(IndexError, rf"target\[2\] = 5 is not a class index in \[0, 5\){also}"))
    add("negative", tgt([0, 1, 2, -1, 3, 4]),
        Raises(IndexError, rf"target\[3\] = -1 is not a class index in \[0, 5\){also}"))
    add("huge_uint64", tgt([0, 1, 2, 2 ** 64 - 1, 3, 4], np.uint64),
        Raises(IndexError, r"target\[3\] = 18446744073709551615 is not a class index"))
    add("int64_min", tgt([0, 1, 2, -2 ** 63, 3, 4]),
        Raises(IndexError, r"target\[3\] = -9223372036854775808 is not a class index"))
    for dt in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"):
        add(f"dtype_{dt}", tgt([0, 1, 4, 2, 3, 4], dt), REF)
    add("python_list", lambda: ((x(), [0, 1, 4, 2, 3, 4]), {}), REF)
    add("float_labels", tgt([0.0, 1.0, 4.0, 2.0, 3.0, 4.0], np.float64),
        Raises(TypeError, r"target has (a floating )?dtype.*(float64).*class indices must "
                          r"be integers" if fname != "nll_loss" else
               r"target must hold integer class indices, got dtype float64"))
    add("bool_labels", tgt([True, False, True, True, False, False], bool),
        Raises(TypeError, r"target (must hold integer class indices.*got dtype bool|"
                          r"has dtype bool and the shape of class indices)"))
    add("string_labels", tgt(list("abcdef"), "<U1"),
        Raises(TypeError, r"target (must hold integer class indices|must be numeric|"
                          r"has dtype).*<U1"))
    add("object_labels", tgt([0, 1, 2, 3, 4, 0], object),
        Raises(TypeError, r"target (must hold integer class indices|must be numeric|"
                          r"has dtype).*object"))
    add("masked_labels", lambda: ((x(), np.ma.array([0, 1, 2, 3, 4, 0])), {}),
        Raises(TypeError, r"target: masked arrays are not supported"))
    add("too_short", tgt([0, 1, 2, 3, 4]),
        Raises(ValueError, r"target has shape \(5,\).*expected .*\(6,\)"))
    add("extra_dim", lambda: ((x(), np.zeros((6, 1), np.int64)), {}),
        Raises(ValueError, r"target has shape \(6, 1\).*expected .*\(6,\)"))
    add("zero_d_for_batch", lambda: ((x(), np.int64(1)), {}),
        Raises(ValueError, r"target has shape \(\).*expected .*\(6,\)"))
    add("unbatched_scalar_target", lambda: ((x()[0], 3), {}), REF)
    if fname in CE_FAMILY:
        add("int_same_shape_as_logits", lambda: ((x(), np.zeros((6, 5), np.int64)), {}),
            Raises(TypeError, r"target has an integer dtype \(int64\) and the input's shape "
                              r"\(6, 5\): class probabilities must be floating"))
        add("prob_wrong_shape", lambda: ((x(), soft_labels((6, 4))), {}),
            Raises(ValueError, r"target has shape \(6, 4\); expected \(6, 5\) for class "
                               r"probabilities or \(6,\) for class indices"))
        add("prob_target", lambda: ((x(), soft_labels((6, 5))), {}), REF)
        add("prob_target_float16", lambda: ((x().astype(np.float32),
                                              soft_labels((6, 5)).astype(np.float16)), {}), REF)
        add("prob_target_nan", lambda: ((x(), np.where(np.eye(6, 5) > 0, nan,
                                                       soft_labels((6, 5)))), {}), REF)
        add("prob_target_negative", lambda: ((x(), soft_labels((6, 5)) - 0.1), {}), REF)
    if has_ignore:
        add("equal_ignore_index", tgt([0, -100, 4, -100, 3, 4]), REF)
        add("all_ignored", tgt([-100] * 6), REF)
        add("ignore_index_is_a_class",
            lambda: ((x(), np.array([0, 2, 4, 2, 3, 4])), {"ignore_index": 2}), REF)
        add("ignore_index_uint8", lambda: ((x(), np.array([0, 255, 4, 255, 3, 4], np.uint8)),
                                           {"ignore_index": 255}), REF)
        add("ignore_index_not_int", lambda: ((x(), np.zeros(6, np.int64)),
                                             {"ignore_index": 1.5}),
            Raises(TypeError, r"ignore_index must be an integer, got 1.5"))
        add("ignore_index_bool", lambda: ((x(), np.zeros(6, np.int64)),
                                          {"ignore_index": True}),
            Raises(TypeError, r"ignore_index must be an integer, got True"))
        add("ignore_index_too_big", lambda: ((x(), np.zeros(6, np.int64)),
                                             {"ignore_index": 2 ** 70}),
            Raises(ValueError, r"ignore_index must fit in a 64-bit integer"))
    if fname == "categorical_cross_entropy":
        add("onehot_int", lambda: ((x(), np.eye(6, 5, dtype=np.int64)), {}), REF)
        add("onehot_bool", lambda: ((x(), np.eye(6, 5, dtype=bool)), {}), REF)
        add("wrong_shape_2d", lambda: ((x(), np.ones((6, 4))), {}),
            Raises(ValueError, r"target has shape \(6, 4\); expected \(6, 5\).*or \(6,\)"))
    return cases


def _binary_target_cases(fname):
    cases = []
    arg = main_name(fname)
    main = (lambda: unit((2, 4))) if fname in BCE_FAMILY else (lambda: X((2, 4)))

    def add(cid, build, expect, **kw):
        cases.append(Case(f"{fname}:target/{cid}", fname, build, expect, **kw))

    add("nan", lambda: ((main(), np.array([[0, nan, 1, 1], [0, 0, 1, 0.5]])), {}), REF)
    add("outside_0_1", lambda: ((main(), np.array([[2.0, -1, 1, 1], [0, 0, 1, 0.5]])), {}),
        REF)
    add("bool", lambda: ((main(), np.eye(2, 4, dtype=bool)), {}), REF)
    add("int", lambda: ((main(), np.eye(2, 4, dtype=np.int8)), {}), REF)
    add("list", lambda: ((main(), [[0, 1, 1, 0], [1, 1, 0, 0]]), {}), REF)
    add("wrong_shape", lambda: ((main(), np.ones(4)), {}),
        Raises(ValueError, rf"target has shape \(4,\), expected \(2, 4\) \(the shape of {arg}\)"))
    add("strings", lambda: ((main(), np.full((2, 4), "a")), {}),
        Raises(TypeError, r"target must be real numbers, got dtype <U1"))
    add("complex", lambda: ((main(), np.ones((2, 4), complex)), {}),
        Raises(TypeError, r"target must be real numbers, got dtype complex128"))
    add("masked", lambda: ((main(), np.ma.ones((2, 4))), {}),
        Raises(TypeError, r"target: masked arrays are not supported"))
    return cases


def _out_cases(fname):
    """out= of the softmax family and the sigmoids."""
    cases = []
    lse = fname == "logsumexp"

    def add(cid, build, expect, **kw):
        cases.append(Case(f"{fname}:out/{cid}", fname, build, expect, **kw))

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


def _grad_out_cases(fname):
    cases = []

    def add(cid, build, expect, **kw):
        cases.append(Case(f"{fname}:grad_out/{cid}", fname, build, expect, **kw))

    def with_g(make_g, dtype=np.float64, prob=False):
        def b():
            x = X((6, 5), dtype)
            t = soft_labels((6, 5)).astype(dtype) if prob else labels((6,), 5)
            return (x, t), {"grad_out": make_g(x, t)}
        return b

    returns_g = Ref(returns="grad_out")
    add("wrong_dtype", with_g(lambda x, t: np.empty(x.shape, np.float32)),
        Raises(TypeError, r"grad_out has dtype float32, expected float64"))
    add("wrong_shape", with_g(lambda x, t: np.empty((6, 4))),
        Raises(ValueError, r"grad_out has shape \(6, 4\), expected \(6, 5\)"))
    add("not_an_array", with_g(lambda x, t: [0.0] * 30),
        Raises(TypeError, r"grad_out must be a numpy.ndarray, got list"))
    add("readonly", with_g(lambda x, t: layout(np.empty(x.shape), "readonly")),
        Raises(ValueError, r"grad_out is read-only"))
    add("byteswapped", with_g(lambda x, t: np.empty(x.shape, ">f8")),
        Raises(TypeError, r"grad_out has dtype >f8, expected float64"))
    for kind in ("F", "strided", "negative", "unaligned"):
        add(f"layout_{kind}", with_g(lambda x, t, kind=kind: layout(np.zeros(x.shape), kind)),
            returns_g)
    add("float32", with_g(lambda x, t: np.empty(x.shape, np.float32), np.float32), returns_g)
    add("memmap_writable", with_g(lambda x, t: memmap_of(np.zeros(x.shape), mode="r+")),
        returns_g)
    add("alias_logits", with_g(lambda x, t: x), returns_g, mutable=("arg0",))

    def alias_capped():
        x = X((6, 5))
        return (x, labels((6,), 5)), {"grad_out": x, "softcap": 2.0, "z_loss": 1e-2}
    add("alias_logits_softcap_z_loss", alias_capped, returns_g, mutable=("arg0",))
    add("alias_prob_target", with_g(lambda x, t: t, prob=True), returns_g, mutable=("arg1",))

    def overlap():
        buf = X((7, 5)).ravel()
        x = buf[:30].reshape(6, 5)
        return (x, labels((6,), 5)), {"grad_out": buf[3:33].reshape(6, 5)}
    add("partial_overlap_logits", overlap, returns_g, mutable=("arg0",))
    return cases


def _big_threads_input(fname):
    """An input large enough for the parallel path (> 2**16 elements)."""
    x = X((600, 128), np.float64, seed=6)
    return call_args(fname, x)


def _argument_cases(fname):
    cases = []

    def add(cid, build, expect, **kw):
        cases.append(Case(f"{fname}:args/{cid}", fname, build, expect, **kw))

    def small(**kw):
        return lambda: call_args(fname, value_for(fname, (6, 5)), **kw)

    if fname in THREADED:
        nt_msg = r"num_threads must be a positive integer or None, got "
        add("num_threads_zero", small(num_threads=0), Raises(ValueError, nt_msg + "0"))
        add("num_threads_negative", small(num_threads=-3), Raises(ValueError, nt_msg + "-3"))
        add("num_threads_float", small(num_threads=2.0), Raises(TypeError, nt_msg + "2.0"))
        add("num_threads_bool", small(num_threads=True), Raises(TypeError, nt_msg + "True"))
        add("num_threads_str", small(num_threads="2"), Raises(TypeError, nt_msg + "'2'"))
        add("num_threads_numpy_int", small(num_threads=np.int32(2)), BITWISE)
        add("num_threads_more_than_cpus", lambda: (lambda a, k: (a, dict(k, num_threads=8)))(
            *_big_threads_input(fname)), BITWISE)
        # a huge count is capped (_threads.resolve): the call runs, on fewer threads,
        # and gives bitwise the answer of any other count
        add("num_threads_1e6_small_input", small(num_threads=BIG_THREADS), BITWISE)
        add("num_threads_1e6", lambda: (lambda a, k: (a, dict(k, num_threads=BIG_THREADS)))(
            *_big_threads_input(fname)), BITWISE, limit_as=True)
        add("num_threads_2_40", lambda: (lambda a, k: (a, dict(k, num_threads=HUGE_THREADS)))(
            *_big_threads_input(fname)), BITWISE, limit_as=True)
        add("num_threads_2_40_small_input", small(num_threads=HUGE_THREADS), BITWISE)

        def via_set_num_threads(*args, **kw):
            fs.set_num_threads(BIG_THREADS)
            try:
                return getattr(fs, fname)(*args, **kw)
            finally:
                fs.set_num_threads(None)
        if fname in ("softmax", "cross_entropy"):   # (each crash costs a new child)
            add("set_num_threads_1e6", lambda: _big_threads_input(fname), BITWISE,
                limit_as=True, call=via_set_num_threads)
    if fname in WITH_AXIS:
        add("axis_out_of_range", small(axis=2),
            Raises(np.exceptions.AxisError, r"axis 2 is out of bounds for array of dimension 2"))
        add("axis_negative_out_of_range", small(axis=-3),
            Raises(np.exceptions.AxisError, r"axis -3 is out of bounds for array of dimension 2"))
        add("axis_float", small(axis=1.0),
            Raises(TypeError, r"axis must be an integer or None, got 1.0"))
        if fname not in SOFTMAX_FAMILY:
            add("axis_none", small(axis=None),
                Raises(TypeError, r"axis must be an integer, got None \(the losses need one "
                                  r"class axis\)"))
    if fname not in SOFTMAX_FAMILY + SIGMOID_FAMILY:
        red = r"reduction must be one of 'none', 'mean', 'sum'; got "
        add("reduction_unknown", small(reduction="avg"), Raises(ValueError, red + "'avg'"))
        add("reduction_none_object", small(reduction=None), Raises(ValueError, red + "None"))
        add("reduction_upper", small(reduction="MEAN"), Raises(ValueError, red + "'MEAN'"))
        for r in ("none", "sum", "mean"):
            add(f"reduction_{r}", small(reduction=r), REF)
    if fname in CE_FAMILY + ("nll_loss",):
        wmsg = r"weight must have shape \(5,\) \(one weight per class\), got "
        add("weight_short", small(weight=np.ones(4)), Raises(ValueError, wmsg + r"\(4,\)"))
        add("weight_long", small(weight=np.ones(6)), Raises(ValueError, wmsg + r"\(6,\)"))
        add("weight_2d", small(weight=np.ones((5, 1))), Raises(ValueError, wmsg + r"\(5, 1\)"))
        add("weight_scalar", small(weight=2.0), Raises(ValueError, wmsg + r"\(\)"))
        add("weight_strings", small(weight=np.array(list("abcde"))),
            Raises(TypeError, r"weight must be real numbers, got dtype <U1"))
        add("weight_complex", small(weight=np.ones(5, complex)),
            Raises(TypeError, r"weight must be real numbers, got dtype complex128"))
        add("weight_masked", small(weight=np.ma.ones(5)),
            Raises(TypeError, r"weight: masked arrays are not supported"))
        add("weight_ok", small(weight=np.array([0.5, 2.0, 1.0, 0.0, 3.0])), REF)
        add("weight_list", small(weight=[0.5, 2.0, 1.0, 1.0, 3.0]), REF)
        add("weight_int", small(weight=np.arange(1, 6)), REF)
        # a NaN / inf weight of a class no sample has as target: torch's loss and
        # gradient are finite (the class weight only enters through w[y])
        for cid, bad in (("weight_nan", nan), ("weight_inf", inf)):
            add(cid, lambda bad=bad: call_args(
                fname, X((6, 5)), target=np.array([0, 2, 3, 4, 0, 2]),
                weight=np.array([1.0, bad, 1.0, 2.0, 1.0])), REF)
        add("weight_strided_byteswapped", small(
            weight=np.array([0.5, 2.0, 1.0, 0.0, 3.0]).astype(">f8")[::-1]), REF)
    if fname in CE_FAMILY:
        ls = r"label_smoothing must be in \[0, 1\], got "
        add("label_smoothing_above_one", small(label_smoothing=1.5),
            Raises(ValueError, ls + "1.5"))
        add("label_smoothing_negative", small(label_smoothing=-0.1),
            Raises(ValueError, ls + "-0.1"))
        add("label_smoothing_nan", small(label_smoothing=nan), Raises(ValueError, ls + "nan"))
        add("label_smoothing_str", small(label_smoothing="x"),
            Raises(TypeError, r"label_smoothing must be a real number, got 'x'"))
        add("label_smoothing_ok", small(label_smoothing=0.2, weight=np.arange(1.0, 6.0)), REF)
        add("label_smoothing_one", small(label_smoothing=1.0), REF)
    if fname == "categorical_cross_entropy":
        add("eps_half", small(eps=0.5), Raises(ValueError, r"eps must be in \[0, 0.5\), got 0.5"))
        add("eps_negative", small(eps=-1e-7),
            Raises(ValueError, r"eps must be in \[0, 0.5\), got -1e-07"))
        add("eps_str", small(eps="x"), Raises(TypeError, r"eps must be a real number, got 'x'"))
        add("eps_zero", small(eps=0.0), REF)
    if fname in BCE_FAMILY + BCEL_FAMILY:
        arg = main_name(fname)
        m = (lambda: unit((2, 4))) if fname in BCE_FAMILY else (lambda: X((2, 4)))

        def bw(**kw):
            return lambda: ((m(), bits((2, 4))), kw)
        add("weight_not_broadcastable", bw(weight=np.ones(3)),
            Raises(ValueError, rf"weight of shape \(3,\) does not broadcast to {arg}'s "
                               rf"shape \(2, 4\)"))
        add("weight_enlarges", bw(weight=np.ones((3, 2, 4))),
            Raises(ValueError, r"weight of shape \(3, 2, 4\) does not broadcast"))
        add("weight_row", bw(weight=np.array([1.0, 2.0, 0.5, 0.0])), REF)
        add("weight_column", bw(weight=np.array([[2.0], [0.5]])), REF)
        add("weight_strings", bw(weight=np.array(list("abcd"))),
            Raises(TypeError, r"weight must be real numbers, got dtype <U1"))
        add("weight_complex", bw(weight=np.ones(4, complex)),
            Raises(TypeError, r"weight must be real numbers, got dtype complex128"))
        add("weight_masked", bw(weight=np.ma.ones(4)),
            Raises(TypeError, r"weight: masked arrays are not supported"))
        if fname in BCEL_FAMILY:
            add("pos_weight_not_broadcastable", bw(pos_weight=np.ones(3)),
                Raises(ValueError, r"pos_weight of shape \(3,\) does not broadcast to "
                                   r"logits's shape \(2, 4\)"))
            add("pos_weight_row", bw(pos_weight=np.array([1.0, 3.0, 0.5, 0.0])), REF)
            add("pos_weight_scalar", bw(pos_weight=2.0), REF)
            add("pos_weight_and_weight", bw(pos_weight=np.array([1.0, 3.0, 0.5, 2.0]),
                                            weight=np.array([[2.0], [0.5]])), REF)
            add("pos_weight_strings", bw(pos_weight=np.array(list("abcd"))),
                Raises(TypeError, r"pos_weight must be real numbers, got dtype <U1"))
            add("pos_weight_complex", bw(pos_weight=np.ones(4, complex)),
                Raises(TypeError, r"pos_weight must be real numbers, got dtype complex128"))
    params = inspect.signature(getattr(fs, fname)).parameters
    if "where" in params:
        x65 = lambda: X((6, 5))                                          # noqa: E731
        add("where_int", lambda: ((x65(),), {"where": np.ones((6, 5), int)}),
            Raises(TypeError, r"where must be a boolean array, got dtype int64"))
        add("where_shape", lambda: ((x65(),), {"where": np.ones((6, 4), bool)}),
            Raises(ValueError, r"where of shape \(6, 4\) does not broadcast to the input's "
                               r"shape \(6, 5\)"))
        add("where_masked", lambda: ((x65(),), {"where": np.ma.ones((6, 5), bool)}),
            Raises(TypeError, r"where: masked arrays are not supported"))
        add("where_strings", lambda: ((x65(),), {"where": np.full((6, 5), "a")}),
            Raises(TypeError, r"where must be a boolean array, got dtype <U1"))

        def where_ok(**kw):
            def b():
                x = X((6, 5))
                x[0, 1] = nan                      # masked-out NaN / inf take no part
                x[1, 2] = inf
                m = np.random.default_rng(7).random((6, 5)) > 0.4
                m[0, 1] = m[1, 2] = False
                m[3] = False                       # an empty row
                return (x,), dict(kw, where=m)
            return b
        add("where_ok", where_ok(), REF)
        add("where_ok_with_out_alias", lambda: (lambda a, k: (a, dict(k, out=a[0])))(
            *where_ok()()), Ref(returns="out"), mutable=("arg0",))
        add("where_broadcast_row", lambda: ((x65(),), {"where": [True, False, True, True,
                                                                 False]}), REF)
        add("where_axis_none", where_ok(axis=None), REF)
        tmsg = r"temperature must be finite and > 0, got "
        add("temperature_zero", small(temperature=0), Raises(ValueError, tmsg + "0.0"))
        add("temperature_negative", small(temperature=-1.0), Raises(ValueError, tmsg + "-1.0"))
        add("temperature_nan", small(temperature=nan), Raises(ValueError, tmsg + "nan"))
        add("temperature_inf", small(temperature=inf), Raises(ValueError, tmsg + "inf"))
        add("temperature_str", small(temperature="hot"),
            Raises(TypeError, r"temperature must be a positive real number, got 'hot'"))
        add("temperature_bool", small(temperature=True),
            Raises(TypeError, r"temperature must be a positive real number, got True"))
        add("temperature_array", small(temperature=np.array([1.0, 2.0])),
            Raises(TypeError, r"temperature must be a positive real number"))
        add("temperature_ok", small(temperature=0.5), REF)
        add("temperature_and_where", where_ok(temperature=3.0), REF)
    if "z_loss" in params:
        add("z_loss_negative", small(z_loss=-1.0),
            Raises(ValueError, r"z_loss must be finite and >= 0, got -1.0"))
        add("z_loss_nan", small(z_loss=nan), Raises(ValueError, r"z_loss must be finite and "
                                                                r">= 0, got nan"))
        add("z_loss_str", small(z_loss="x"), Raises(TypeError, r"z_loss must be a real number"))
        add("z_loss_none", small(z_loss=None), Raises(TypeError, r"z_loss must be a real "
                                                                 r"number, got None"))
        add("softcap_zero", small(softcap=0), Raises(ValueError, r"softcap must be finite and "
                                                                 r"> 0, got 0.0"))
        add("softcap_negative", small(softcap=-2.0), Raises(ValueError, r"softcap must be "
                                                                        r"finite and > 0"))
        add("softcap_inf", small(softcap=inf), Raises(ValueError, r"softcap must be finite"))
        add("softcap_str", small(softcap="x"), Raises(TypeError, r"softcap must be None or a "
                                                                 r"real number, got 'x'"))
        for red in ("mean", "none"):
            add(f"z_loss_softcap_ok_{red}", lambda red=red: call_args(
                fname, X((6, 5)), target=np.array([0, -100, 4, 2, 3, 4]), z_loss=1e-2,
                softcap=2.5, weight=np.arange(1.0, 6.0), reduction=red), REF)
        add("softcap_readonly_broadcast_input", lambda: call_args(
            fname, np.broadcast_to(X((1, 5)), (6, 5)), softcap=2.0, z_loss=1e-3), REF)
    if fname == "logsumexp":
        add("keepdims", small(keepdims=True), REF)
        add("axis_none", small(axis=None), REF)
    if fname in ("softmax", "log_softmax"):
        add("axis_none", small(axis=None), REF)
    return cases


def _linear_cases(fname):
    """linear_cross_entropy[_and_grad](hidden, weight, target): the logits
    hidden @ weight.T + bias never exist; the answer is torch's cross-entropy
    of those logits (and its gradients w.r.t. hidden, weight and bias)."""
    cases = []

    def add(cid, build, expect, **kw):
        cases.append(Case(f"{fname}:{cid}", fname, build, expect, **kw))

    def H(shape=(6, 4), dtype=np.float64, seed=11):
        return X(shape, dtype, seed=seed, scale=1.0)

    def W(shape=(5, 4), dtype=np.float64, seed=12):
        return X(shape, dtype, seed=seed, scale=1.0)

    def args(h=None, w=None, t=None, **kw):
        h = H() if h is None else h
        w = W() if w is None else w
        if t is None:
            batch = _shape_of(h)[:-1]
            t = labels(batch, 5)
        return (h, w, t), kw

    def hval(i, j, v):
        def b():
            h = H()
            h[i, j] = v
            return args(h)
        return b
    add("hidden/nan", hval(2, 1, nan), REF)
    add("hidden/posinf", hval(1, 3, inf), REF)
    add("hidden/huge", lambda: args(H() * 1e150), REF)
    add("hidden/tiny", lambda: args(H() * 1e-310), REF)
    add("hidden/empty_rows", lambda: args(np.zeros((0, 4))), REF)
    # (a regression test: 0 features raised "cannot reshape array of size 0")
    add("hidden/zero_features", lambda: args(np.zeros((6, 0)), np.zeros((5, 0))), REF)
    add("hidden/ndim3", lambda: args(H((2, 3, 4))), REF)
    add("hidden/one_dim", lambda: args(H((4,)), t=np.int64(2)), REF)
    add("hidden/list", lambda: args([[0.5, 1.0, -1.0, 2.0]] * 3), REF)
    add("hidden/float32", lambda: args(H(dtype=np.float32), W(dtype=np.float32)), REF)
    add("hidden/float16", lambda: args(H(dtype=np.float16), W(dtype=np.float16)), REF)
    add("hidden/float32_weight_float64", lambda: args(H(dtype=np.float32)), REF)
    add("hidden/int", lambda: args(np.arange(24).reshape(6, 4) % 3), REF)
    add("hidden/zero_d", lambda: args(np.float64(1.0), t=np.int64(0)),
        Raises(ValueError, r"hidden must have at least one dimension"))
    add("hidden/complex", lambda: args(np.ones((6, 4), complex)),
        Raises(TypeError, r"hidden must have a real numeric dtype, got complex128"))
    add("hidden/strings", lambda: args(np.full((6, 4), "a")),
        Raises(TypeError, r"hidden must have a real numeric dtype, got <U1"))
    add("hidden/masked", lambda: args(np.ma.ones((6, 4))),
        Raises(TypeError, r"hidden: masked arrays are not supported"))
    if np.dtype(np.longdouble).itemsize > 8:
        add("hidden/longdouble", lambda: args(np.ones((6, 4), np.longdouble)),
            Raises(TypeError, r"hidden has dtype float128, which is not supported"))
    for kind in ("F", "strided", "negative", "readonly", "byteswapped", "unaligned",
                 "memmap", "broadcast"):
        add(f"layout/hidden-{kind}", lambda kind=kind: args(layout(H(), kind)), REF)
        add(f"layout/weight-{kind}", lambda kind=kind: args(w=layout(W(), kind)), REF)
    add("layout/target-byteswapped", lambda: args(t=labels((6,), 5).astype(">i8")), REF)
    add("weight/one_dim", lambda: args(w=np.ones(4)),
        Raises(ValueError, r"weight must be 2-D \(vocabulary, features\), got shape \(4,\)"))
    add("weight/features_mismatch", lambda: args(w=W((5, 3))),
        Raises(ValueError, r"hidden has 4 features but weight has shape \(5, 3\) "
                           r"\(expected \(V, 4\)\)"))
    add("weight/empty_vocabulary", lambda: args(w=np.zeros((0, 4)), t=np.full(6, -100)),
        Raises(ValueError, r"weight has no rows: the vocabulary is empty"))
    add("weight/strings", lambda: args(w=np.full((5, 4), "a")),
        Raises(TypeError, r"weight must have a real numeric dtype, got <U1"))
    add("weight/nan", lambda: args(w=np.where(np.eye(5, 4) > 0, nan, W())), REF)
    add("bias/ok", lambda: args(bias=np.linspace(-1, 1, 5)), REF)
    add("bias/wrong_shape", lambda: args(bias=np.ones(4)),
        Raises(ValueError, r"bias must have shape \(5,\), got \(4,\)"))
    add("bias/complex", lambda: args(bias=np.ones(5, complex)),
        Raises(TypeError, r"bias must have a real numeric dtype, got complex128"))
    add("target/out_of_range", lambda: args(t=np.array([0, 1, 5, 2, 3, 4])),
        Raises(IndexError, r"target\[2\] = 5 is not a class index in \[0, 5\) and not "
                           r"ignore_index \(-100\)"))
    add("target/negative", lambda: args(t=np.array([0, 1, -1, 2, 3, 4])),
        Raises(IndexError, r"target\[2\] = -1 is not a class index"))
    add("target/float", lambda: args(t=np.zeros(6)),
        Raises(TypeError, r"target must hold integer class indices, got dtype float64"))
    add("target/bool", lambda: args(t=np.zeros(6, bool)),
        Raises(TypeError, r"target must hold integer class indices, got dtype bool"))
    add("target/wrong_shape", lambda: args(t=np.zeros(5, np.int64)),
        Raises(ValueError, r"target has shape \(5,\), expected \(6,\)"))
    add("target/uint8", lambda: args(t=labels((6,), 5, np.uint8)), REF)
    add("target/ignored", lambda: args(t=np.array([0, -100, 4, -100, 3, 4])), REF)
    add("target/all_ignored", lambda: args(t=np.full(6, -100)), REF)
    for r in ("none", "sum"):
        add(f"args/reduction_{r}", lambda r=r: args(reduction=r), REF)
    add("args/reduction_unknown", lambda: args(reduction="avg"),
        Raises(ValueError, r"reduction must be one of 'none', 'mean', 'sum'; got 'avg'"))
    add("args/label_smoothing_bad", lambda: args(label_smoothing=2.0),
        Raises(ValueError, r"label_smoothing must be in \[0, 1\], got 2.0"))
    add("args/z_loss_bad", lambda: args(z_loss=-1.0),
        Raises(ValueError, r"z_loss must be finite and >= 0"))
    add("args/softcap_bad", lambda: args(softcap=0.0),
        Raises(ValueError, r"softcap must be finite and > 0"))
    add("args/ignore_index_bad", lambda: args(ignore_index=0.5),
        Raises(TypeError, r"ignore_index must be an integer, got 0.5"))
    add("args/chunk_size_zero", lambda: args(chunk_size=0),
        Raises(ValueError, r"chunk_size must be a positive integer or None, got 0"))
    add("args/chunk_size_float", lambda: args(chunk_size=2.5),
        Raises(TypeError, r"chunk_size must be an integer, got 2.5"))
    for cs in (1, 2, 5, 10 ** 9):
        add(f"args/chunk_size_{cs}", lambda cs=cs: args(
            chunk_size=cs, label_smoothing=0.1, bias=np.linspace(-1, 1, 5),
            t=np.array([0, -100, 4, 2, 3, 4])), REF)
    add("args/everything_tiled", lambda: args(
        chunk_size=2, label_smoothing=0.2, z_loss=1e-2, softcap=1.5,
        bias=np.linspace(-1, 1, 5), t=np.array([0, -100, 4, 2, 3, 4]), reduction="mean"), REF)
    add("args/everything_whole", lambda: args(
        label_smoothing=0.2, z_loss=1e-2, softcap=1.5, bias=np.linspace(-1, 1, 5),
        t=np.array([0, -100, 4, 2, 3, 4]), reduction="none"), REF)
    nt_msg = r"num_threads must be a positive integer or None, got "
    add("args/num_threads_zero", lambda: args(num_threads=0), Raises(ValueError, nt_msg + "0"))
    add("args/num_threads_float", lambda: args(num_threads=1.5),
        Raises(TypeError, nt_msg + "1.5"))

    def big(**kw):  # a tile above the serial threshold: the parallel kernels run
        return lambda: args(H((300, 8)), W((300, 8)), labels((300,), 300), **kw)
    # a huge count is capped (_threads.resolve): the call runs, on fewer threads
    add("args/num_threads_1e6", big(num_threads=BIG_THREADS), REF, limit_as=True)
    add("args/num_threads_2_40", big(num_threads=HUGE_THREADS), REF, limit_as=True)
    add("args/num_threads_2", big(num_threads=2), REF)
    return cases


def table() -> list:
    """Every case of the matrix, in a fixed order (the child runs this)."""
    cases = []
    for fname in ALL_FUNCTIONS:
        if fname in LINEAR_FAMILY:
            cases += _linear_cases(fname)
            continue
        cases += _logit_value_cases(fname)
        cases += _layout_cases(fname)
        cases += _argument_cases(fname)
        if fname in CE_FAMILY + ("nll_loss", "categorical_cross_entropy"):
            cases += _label_cases(fname)
        if fname in BCE_FAMILY + BCEL_FAMILY:
            cases += _binary_target_cases(fname)
        if fname in SOFTMAX_FAMILY + SIGMOID_FAMILY:
            cases += _out_cases(fname)
        if fname == "cross_entropy_and_grad":
            cases += _grad_out_cases(fname)
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    return cases


CASES = table()
CASE_BY_ID = {c.id: c for c in CASES}


# =========================================================== references

def _bind(fname, rec):
    """The call's arguments by name, from the pre-call copies the child sent."""
    inputs = rec["inputs"]
    args = [inputs[f"arg{i}"] for i in range(rec["nargs"])]
    kwargs = {k: v for k, v in inputs.items() if not k.startswith("arg")}
    sig = inspect.signature(getattr(fs, fname))
    b = sig.bind(*args, **kwargs)
    b.apply_defaults()
    return dict(b.arguments)


def result_dtype(a):
    dt = np.asarray(a).dtype
    return dt.newbyteorder("=") if dt.kind == "f" else np.dtype(np.float64)


def _f64(a):
    return np.asarray(a).astype(np.float64)


def _ref_softmax_family(fname, b):
    import scipy.special as sp
    x = _f64(b["x"])
    if b.get("temperature") is not None:
        x = x / float(b["temperature"])
    if b.get("where") is not None:
        keep = np.broadcast_to(np.asarray(b["where"]), x.shape)
        x = np.where(keep, x, -inf)
        if b["axis"] is None:
            empty = np.broadcast_to(not keep.any(), x.shape)
        else:
            empty = np.broadcast_to(~keep.any(axis=b["axis"], keepdims=True), x.shape)
        b = dict(b, where=None, temperature=None, x=x)
        r = _ref_softmax_family(fname, b)
        return np.where(empty, 0.0 if fname == "softmax" else -inf, r)
    f = {"softmax": sp.softmax, "log_softmax": sp.log_softmax, "logsumexp": sp.logsumexp}[fname]
    kw = {"keepdims": bool(b["keepdims"])} if fname == "logsumexp" else {}
    axis = b["axis"]
    with np.errstate(all="ignore"):
        if x.size == 0 and fname != "logsumexp":
            return np.empty(x.shape)   # SciPy fails on an empty reduction axis
        if x.ndim == 0:          # a one-element vector, as SciPy treats it
            return np.asarray(f(x.reshape(1), axis=-1, **kw)).reshape(())
        return f(x, axis=axis, **kw)


def _torch():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F
    return torch, F


def _class_rows(x, axis):
    xm = np.moveaxis(x, axis, -1)
    return xm, xm.shape[-1], xm.shape[:-1]


def _ref_cross_entropy(b, want_grad):
    torch, F = _torch()
    x = _f64(b["logits"])
    axis = b["axis"] % x.ndim
    xm, C, batch = _class_rows(x, axis)
    n = int(np.prod(batch, dtype=np.int64))
    t = np.asarray(b["target"])
    X_ = torch.tensor(xm.reshape(n, C), requires_grad=True)
    index = t.dtype.kind in "iu"
    if index:
        T = torch.tensor(t.astype(np.int64).reshape(n))
    else:
        T = torch.tensor(np.moveaxis(_f64(t), axis, -1).reshape(n, C))
    W = None if b["weight"] is None else torch.tensor(_f64(b["weight"]))
    kw = dict(weight=W, ignore_index=int(b["ignore_index"]),
              label_smoothing=float(b["label_smoothing"]))
    z, cap = float(b.get("z_loss") or 0.0), b.get("softcap")
    if z == 0.0 and cap is None:
        loss = F.cross_entropy(X_, T, reduction=b["reduction"], **kw)
    else:
        # the documented composition: CE of cap*tanh(x/cap), plus z*lse**2 for
        # every non-ignored sample, reduced with the cross-entropy's denominator
        xc = X_ if cap is None else cap * torch.tanh(X_ / cap)
        per = F.cross_entropy(xc, T, reduction="none", **kw)
        keep = (T != kw["ignore_index"]) if index else torch.ones(n, dtype=torch.bool)
        per = per + torch.where(keep, z * torch.logsumexp(xc, dim=-1) ** 2, 0.0)
        if b["reduction"] == "none":
            loss = per
        elif b["reduction"] == "sum":
            loss = per.sum()
        else:
            if index:
                w = torch.ones(C, dtype=torch.float64) if W is None else W
                denom = torch.where(keep, w[torch.where(keep, T, 0)], 0.0).sum()
            else:
                denom = torch.tensor(float(n), dtype=torch.float64)
            loss = per.sum() / denom
    if b["reduction"] == "none":
        value = loss.detach().numpy().reshape(batch)
    else:
        value = loss.detach().numpy()
    if not want_grad:
        return value
    (loss.sum() if b["reduction"] == "none" else loss).backward()
    g = X_.grad.numpy().reshape(xm.shape)
    return value, np.moveaxis(g, -1, axis)


def _ref_nll(b):
    torch, F = _torch()
    x = _f64(b["log_probs"])
    xm, C, batch = _class_rows(x, b["axis"] % x.ndim)
    n = int(np.prod(batch, dtype=np.int64))
    T = torch.tensor(np.asarray(b["target"]).astype(np.int64).reshape(n))
    W = None if b["weight"] is None else torch.tensor(_f64(b["weight"]))
    loss = F.nll_loss(torch.tensor(xm.reshape(n, C)), T, weight=W,
                      ignore_index=int(b["ignore_index"]), reduction=b["reduction"])
    v = loss.numpy()
    return v.reshape(batch) if b["reduction"] == "none" else v


def _ref_cce(b):
    """The documented formula (SEMANTICS.md): clip to [eps, 1-eps], mean over samples."""
    p = _f64(b["probs"])
    axis = b["axis"] % p.ndim
    eps = float(b["eps"])
    pm = np.clip(np.moveaxis(p, axis, -1), eps, 1 - eps)
    t = np.asarray(b["target"])
    if t.shape == p.shape:
        tm = np.moveaxis(_f64(t), axis, -1)
        loss = -np.where(tm == 0, 0.0, tm * np.log(pm)).sum(axis=-1)
    else:
        loss = -np.log(np.take_along_axis(pm, t.astype(np.intp)[..., None], axis=-1)[..., 0])
    r = b["reduction"]
    with np.errstate(invalid="ignore"):
        return loss if r == "none" else (loss.sum() if r == "sum" else loss.sum() / loss.size)


def _ref_bce(fname, b):
    torch, F = _torch()
    logits = "with_logits" in fname
    x = _f64(b["logits" if logits else "probs"])
    X_ = torch.tensor(x, requires_grad=True)
    T = torch.tensor(np.broadcast_to(_f64(b["target"]), x.shape).copy())
    W = None if b["weight"] is None else torch.tensor(np.broadcast_to(_f64(b["weight"]),
                                                                     x.shape).copy())
    if logits:
        PW = None if b["pos_weight"] is None else torch.tensor(_f64(b["pos_weight"]))
        loss = F.binary_cross_entropy_with_logits(X_, T, weight=W, pos_weight=PW,
                                                  reduction=b["reduction"])
    else:
        try:
            loss = F.binary_cross_entropy(X_, T, weight=W, reduction=b["reduction"])
        except RuntimeError:   # torch refuses NaN, and targets outside [0, 1]
            return _ref_bce_formula(fname, x, b)
    value = loss.detach().numpy()
    if not fname.endswith("_and_grad"):
        return value
    (loss.sum() if b["reduction"] == "none" else loss).backward()
    return value, X_.grad.numpy()


def _ref_bce_formula(fname, p, b):
    """SEMANTICS.md's binary cross-entropy, where torch raises instead."""
    t = _f64(b["target"])
    w = 1.0 if b["weight"] is None else _f64(b["weight"])
    with np.errstate(all="ignore"):
        loss = -w * (t * np.maximum(np.log(p), -100) + (1 - t) * np.maximum(np.log1p(-p), -100))
        grad = w * (p - t) / np.maximum((1 - p) * p, float(np.float32(1e-12)))
    r = b["reduction"]
    if r == "none":
        value = loss
    else:
        value = loss.sum() if r == "sum" else loss.sum() / loss.size
        if r == "mean":
            grad = grad / max(loss.size, 1)
    return (value, grad) if fname.endswith("_and_grad") else value


def _ref_linear(fname, b):
    """torch: cross_entropy(hidden @ weight.T + bias) and its gradients."""
    torch, F = _torch()
    h, w = _f64(b["hidden"]), _f64(b["weight"])
    batch, D = h.shape[:-1], h.shape[-1]
    n = int(np.prod(batch, dtype=np.int64))
    Ht = torch.tensor(h.reshape(n, D), requires_grad=True)
    Wt = torch.tensor(w, requires_grad=True)
    Bt = None if b["bias"] is None else torch.tensor(_f64(b["bias"]), requires_grad=True)
    logits = Ht @ Wt.T + (0 if Bt is None else Bt)
    T = torch.tensor(np.asarray(b["target"]).astype(np.int64).reshape(n))
    ii = int(b["ignore_index"])
    z, cap = float(b["z_loss"]), b["softcap"]
    xc = logits if cap is None else cap * torch.tanh(logits / cap)
    per = F.cross_entropy(xc, T, reduction="none", ignore_index=ii,
                          label_smoothing=float(b["label_smoothing"]))
    keep = T != ii
    per = per + torch.where(keep, z * torch.logsumexp(xc, dim=-1) ** 2, 0.0)
    r = b["reduction"]
    loss = per if r == "none" else (per.sum() if r == "sum" else per.sum() / keep.sum())
    value = loss.detach().numpy().reshape(batch) if r == "none" else loss.detach().numpy()
    if fname == "linear_cross_entropy":
        return value
    if r == "mean" and not keep.any():
        # all ignored: the loss is NaN, the documented gradients are 0
        grads = [np.zeros(h.shape), np.zeros(w.shape)] + ([] if Bt is None else
                                                          [np.zeros(Bt.shape)])
        return (value, *grads)
    (loss.sum() if r == "none" else loss).backward()
    grads = [Ht.grad.numpy().reshape(h.shape), Wt.grad.numpy()]
    if Bt is not None:
        grads.append(Bt.grad.numpy())
    return (value, *grads)


def _linear_dtype(b):
    kinds = [np.asarray(b[k]).dtype for k in ("hidden", "weight", "bias") if b[k] is not None]
    kinds = [k if k.kind == "f" else np.dtype(np.float64) for k in kinds]
    return np.result_type(*kinds).newbyteorder("=")


def reference(fname, b):
    """(expected value(s) in float64, expected dtype) for a bound call."""
    import scipy.special as sp
    if fname in LINEAR_FAMILY:
        return _ref_linear(fname, b), _linear_dtype(b)
    main = b[MAIN_ARG[fname]]
    dt = result_dtype(main)
    if fname in SOFTMAX_FAMILY:
        return _ref_softmax_family(fname, b), dt
    if fname == "sigmoid":
        return sp.expit(_f64(main)), dt
    if fname == "log_sigmoid":
        return sp.log_expit(_f64(main)), dt
    if fname in CE_FAMILY:
        return _ref_cross_entropy(b, fname.endswith("_and_grad")), dt
    if fname == "nll_loss":
        return _ref_nll(b), dt
    if fname == "categorical_cross_entropy":
        return _ref_cce(b), dt
    return _ref_bce(fname, b), dt


TOL = {np.dtype(np.float64): dict(rtol=1e-10, atol=1e-12),
       np.dtype(np.float32): dict(rtol=2e-5, atol=2e-6),
       np.dtype(np.float16): dict(rtol=3e-3, atol=1e-3)}


def assert_matches(got, want, dtype, what="result"):
    """Same dtype and shape; the same NaN / +inf / -inf pattern; finite values
    equal to the dtype's rounding."""
    got_a = np.asarray(got)
    want = np.asarray(want, dtype=np.float64)
    assert got_a.dtype == dtype, f"{what}: dtype {got_a.dtype}, expected {dtype}"
    assert got_a.shape == want.shape, f"{what}: shape {got_a.shape}, expected {want.shape}"
    g = got_a.astype(np.float64)
    # what the exact answer rounds to in this dtype (overflow to inf included)
    with np.errstate(over="ignore"):
        want_r = want.astype(dtype).astype(np.float64)
    for name, f in (("NaN", np.isnan), ("+inf", np.isposinf), ("-inf", np.isneginf)):
        np.testing.assert_array_equal(f(g), f(want_r), err_msg=f"{what}: {name} pattern")
    fin = np.isfinite(want_r)
    np.testing.assert_allclose(g[fin], want[fin], err_msg=f"{what}: values", **TOL[dtype])


def check_reference(case, rec):
    b = _bind(case.fname, rec)
    want, dt = reference(case.fname, b)
    got = rec["result"]
    if case.fname.endswith("_and_grad"):
        assert isinstance(got, tuple) and len(got) == len(want), (
            f"expected a tuple of {len(want)} (loss, gradients), got {got!r}")
        for i, (g, w) in enumerate(zip(got, want)):
            assert_matches(g, w, dt, "loss" if i == 0 else f"gradient {i}")
    else:
        assert_matches(got, want, dt)
    exp = case.expect.ref if isinstance(case.expect, RefOrRaises) else case.expect
    if exp.returns:
        path = "1" if case.fname.endswith("_and_grad") else ""
        assert rec["identity"].get(path) == exp.returns, (
            f"the result is not the {exp.returns} array passed in ({rec['identity']})")
    if exp.bitwise:
        check_bitwise(case, rec)


def _contiguous_copy(v):
    if isinstance(v, np.ndarray):
        return np.ascontiguousarray(v, dtype=v.dtype.newbyteorder("="))
    return v


def check_bitwise(case, rec):
    """The compiled result equals the same call on C-contiguous native
    copies (run here, in-process: that is the ordinary, well-tested path)."""
    inputs = rec["inputs"]
    args = [_contiguous_copy(inputs[f"arg{i}"]) for i in range(rec["nargs"])]
    kwargs = {k: _contiguous_copy(v) for k, v in inputs.items()
              if not k.startswith("arg") and k not in ("out", "grad_out", "num_threads")}
    plain = getattr(fs, case.fname)(*args, **kwargs)
    got = rec["result"]
    if isinstance(plain, tuple):
        for g, p in zip(got, plain):
            assert_same(g, p)
    else:
        assert_same(got, plain)


def check_raises(expected, rec):
    excs = expected.exc if isinstance(expected.exc, tuple) else (expected.exc,)
    names = [e.__name__ for e in excs]
    assert rec["status"] == "raised", (
        f"expected {'/'.join(names)} matching {expected.pattern!r}, but the call returned "
        f"{rec.get('result')!r}")
    assert any(n in rec["mro"] for n in names), (
        f"expected {'/'.join(names)}, got {rec['type']}: {rec['message']}")
    assert re.search(expected.pattern, rec["message"]), (
        f"{rec['type']} message {rec['message']!r} does not match {expected.pattern!r}")


# =========================================================== the tests

@pytest.fixture(scope="module")
def outcomes():
    """Run the whole table once, in a child interpreter."""
    import time
    from _subproc import run_table
    for attempt in range(3):
        try:
            return run_table(os.path.abspath(__file__), "table", len(CASES), timeout=900)
        except RuntimeError as exc:
            # the child could not even start (e.g. the extension being rebuilt)
            if attempt == 2 or "before running a case" not in str(exc):
                raise
            time.sleep(10)


def _param(case):
    marks = [pytest.mark.xfail(strict=True, reason=case.bug)] if case.bug else []
    return pytest.param(case.id, id=case.id, marks=marks)


@pytest.mark.parametrize("case_id", [_param(c) for c in CASES])
def test_bad_input_matrix(outcomes, case_id):
    case = CASE_BY_ID[case_id]
    rec = outcomes.get(case_id)
    assert rec is not None, f"{case_id}: no outcome (the runner lost it)"
    if rec["status"] == "crashed":
        pytest.fail(f"{case_id} CRASHED the interpreter ({rec['how']}); stderr tail:\n"
                    f"{rec['stderr']}", pytrace=False)
    # never write to an input (out= / grad_out= aside, and the declared aliases)
    written = [k for k in rec["modified"] if k not in ("out", "grad_out") + case.mutable]
    assert not written, f"{case_id}: the call wrote to its input(s) {written}"
    exp = case.expect
    if isinstance(exp, Raises):
        check_raises(exp, rec)
    elif isinstance(exp, RefOrRaises):
        if rec["status"] == "raised":
            check_raises(exp.raises, rec)
        else:
            check_reference(case, rec)
    else:
        assert rec["status"] == "returned", (
            f"expected the reference answer, got {rec['type']}: {rec['message']}")
        check_reference(case, rec)


NOT_IN_MATRIX = {"get_num_threads", "set_num_threads", "num_threads", "openmp_enabled",
                 "show_config"}


def test_every_public_function_is_in_the_matrix():
    """A new public computing function must get its rows in this table."""
    public = {n for n in fs.__all__ if callable(getattr(fs, n)) and n not in NOT_IN_MATRIX}
    assert public == set(ALL_FUNCTIONS)
    covered = {c.fname for c in CASES}
    assert covered == public
