"""Bad and unusual input for kl_div, distillation_loss and
distillation_loss_and_grad.

Special and degenerate values of both inputs, every dtype and memory layout
(of the second input and of the targets too), shapes that differ, the
options (reduction, log_target, temperature, alpha, ignore_index, targets,
axis, num_threads, grad_out) with wrong types and values: each call raises a
clear exception or returns the reference answer (``fastsoftmax.slow``), the
compiled answer bitwise independent of the layout, and never writes to its
input.  The table runs in a child interpreter (``_runner``).
"""
from __future__ import annotations

import numpy as np

from bad_input._cases import (BIG_THREADS, BITWISE, FAMILIES, HUGE_THREADS, LAYOUTS, REF, Raises,
                              Ref, X, collector, dtype_msg, labels, layout, soft_labels, table_of)
from bad_input._table_tests import (  # noqa: F401  (this table's two tests)
    test_bad_input, test_every_function_of_the_family_has_cases)

FUNCTIONS = FAMILIES["test_divergence"]
DISTILL = ("distillation_loss", "distillation_loss_and_grad")
MAIN = {"kl_div": "input", "distillation_loss": "student_logits",
        "distillation_loss_and_grad": "student_logits"}
SECOND = {"kl_div": "target", "distillation_loss": "teacher_logits",
          "distillation_loss_and_grad": "teacher_logits"}
inf, nan = np.inf, np.nan


def log_probs(shape=(6, 5), dtype=np.float64, seed=0):
    x = X(shape, np.float64, seed=seed)
    if x.size and x.ndim:
        x = x - np.log(np.sum(np.exp(x), axis=-1, keepdims=True))
    return x.astype(dtype)


def first(fname, shape=(6, 5), dtype=np.float64):
    return log_probs(shape, dtype) if fname == "kl_div" else X(shape, dtype)


def second(fname, shape=(6, 5), dtype=np.float64):
    if fname == "kl_div":
        return soft_labels(shape).astype(dtype) if len(shape) else np.float64(0.5)
    return X(shape, dtype, seed=7)


def args_of(fname, a, b=None, **kw):
    """(args, kwargs) with ``a`` first and a valid second input of its shape."""
    if b is None:
        b = second(fname, np.shape(a))
    return (a, b), kw


def small(fname, **kw):
    return lambda: args_of(fname, first(fname), **kw)


def value_cases(fname):
    """Special values, degenerate shapes and every dtype, of each input."""
    cases, add = collector(fname, "input/")
    arg = MAIN[fname]

    def with_(i, j, v, which=0):
        def b():
            a, t = first(fname), second(fname)
            (a, t)[which][i, j] = v
            return (a, t), {}
        return b

    for which, side in ((0, "first"), (1, "second")):
        add(f"{side}_nan", with_(2, 1, nan, which), REF)
        add(f"{side}_posinf", with_(1, 3, inf, which), REF)
        add(f"{side}_neginf", with_(3, 0, -inf, which), REF)
        add(f"{side}_zero", with_(3, 0, 0.0, which), REF)
        add(f"{side}_negative", with_(4, 2, -2.5, which), REF)

        def all_neginf(which=which):
            a, t = first(fname), second(fname)
            (a, t)[which][4, :] = -inf
            return (a, t), {}
        add(f"{side}_all_neginf_row", all_neginf, REF)
    add("both_neginf", lambda: (lambda a, t: (a.__setitem__((1, 1), -inf),
                                              t.__setitem__((1, 1), -inf), ((a, t), {}))[2])(
        first(fname), second(fname)), REF)
    add("huge", lambda: args_of(fname, np.array([[1e30, -1e30, 0.0], [1e300, -1e300, 3.0]])),
        REF)
    add("huge_float32", lambda: args_of(fname, np.array([[1e30, -1e30, 0.0], [3e38, -3e38, 3e38]],
                                                        np.float32)), REF)
    add("tiny", lambda: args_of(fname, np.array([[5e-324, -5e-324, 0.0], [1e-310, 2e-310, 0]])),
        REF)
    add("empty_rows", lambda: args_of(fname, np.zeros((0, 5))), REF)
    add("empty_rows_3d", lambda: args_of(fname, np.zeros((2, 0, 5))), REF)
    add("zero_classes", lambda: args_of(fname, np.zeros((3, 0)), np.zeros((3, 0))), REF)
    add("zero_classes_and_rows", lambda: args_of(fname, np.zeros((0, 0)), np.zeros((0, 0))),
        REF)
    add("one_class", lambda: args_of(fname, np.zeros((4, 1)), np.ones((4, 1))), REF)
    add("ndim5_axis1", lambda: args_of(fname, first(fname, (2, 3, 2, 1, 4)), axis=1), REF)
    add("one_dim", lambda: args_of(fname, first(fname, (7,))), REF)
    add("python_lists", lambda: ((([[0.0, -1.0], [-2.0, 0.5]]), [[0.25, 0.75], [1.0, 0.0]]),
                                 {}), REF)
    for dt in ("float16", "float32", "int8", "int64", "uint8", "bool"):
        add(f"dtype_{dt}", lambda dt=dt: args_of(fname, X((6, 5), np.dtype(dt))), REF)
        add(f"second_dtype_{dt}", lambda dt=dt: args_of(
            fname, first(fname), X((6, 5), np.dtype(dt))), REF)
    add("float32_and_float64", lambda: args_of(fname, first(fname, dtype=np.float32),
                                               second(fname)), REF)
    if fname == "kl_div":
        add("zero_d", lambda: args_of(fname, np.float64(-0.5), np.float64(0.25)), REF)
        add("python_scalars", lambda: ((-0.5, 0.25), {}), REF)
    else:
        add("zero_d", lambda: args_of(fname, np.float64(1.5), np.float64(0.5)),
            Raises(ValueError, rf"{arg} must have at least one dimension"))
    # types no function accepts
    add("complex", lambda: args_of(fname, np.ones((2, 3), complex), np.ones((2, 3))),
        Raises(TypeError, dtype_msg(arg, "complex128")))
    add("strings", lambda: args_of(fname, np.array([["a", "b"]]), np.ones((1, 2))),
        Raises(TypeError, dtype_msg(arg, "<U1")))
    add("object", lambda: args_of(fname, np.array([[1, None]], dtype=object), np.ones((1, 2))),
        Raises(TypeError, dtype_msg(arg, "object")))
    if np.dtype(np.longdouble).itemsize > 8:
        add("longdouble", lambda: args_of(fname, np.full((2, 3), 0.5, np.longdouble),
                                          np.ones((2, 3))),
            Raises(TypeError, rf"{arg} has dtype float128, which is not supported"))
    add("masked", lambda: args_of(fname, np.ma.array(np.full((2, 3), 0.5),
                                                     mask=[[0, 1, 0], [0, 0, 0]]), np.ones((2, 3))),
        Raises(TypeError, rf"{arg}: masked arrays are not supported"))
    add("ragged", lambda: args_of(fname, [[0.5, 0.5], [0.5]], np.ones((2, 2))),
        Raises(TypeError, rf"{arg} must be array-like of real numbers"))
    # the second input
    sec = SECOND[fname]
    add("second_wrong_shape", lambda: args_of(fname, first(fname), np.ones(5)),
        Raises(ValueError, rf"{sec} has shape \(5,\), expected \(6, 5\) \(the shape of {arg}\)"))
    add("second_transposed_shape", lambda: args_of(fname, first(fname), np.ones((5, 6))),
        Raises(ValueError, rf"{sec} has shape \(5, 6\), expected \(6, 5\)"))
    add("second_complex", lambda: args_of(fname, first(fname), np.ones((6, 5), complex)),
        Raises(TypeError, rf"{sec} must be real numbers, got dtype complex128"))
    add("second_strings", lambda: args_of(fname, first(fname), np.full((6, 5), "a")),
        Raises(TypeError, rf"{sec} must be real numbers, got dtype <U1"))
    add("second_masked", lambda: args_of(fname, first(fname), np.ma.ones((6, 5))),
        Raises(TypeError, rf"{sec}: masked arrays are not supported"))
    return cases


def layout_cases(fname):
    """Both inputs (and the targets) in every layout: bitwise the C answer."""
    cases, add = collector(fname, "layout/")
    for kind in LAYOUTS:
        for dt in (np.float64, np.float32):
            add(f"{kind}-{np.dtype(dt).name}", lambda kind=kind, dt=dt: args_of(
                fname, layout(first(fname, dtype=dt), kind), layout(second(fname, dtype=dt), kind)),
                BITWISE)
            add(f"second-{kind}-{np.dtype(dt).name}", lambda kind=kind, dt=dt: args_of(
                fname, first(fname, dtype=dt), layout(second(fname, dtype=dt), kind)), BITWISE)
    add("F-axis0", lambda: args_of(fname, layout(first(fname, (5, 6)), "F"), axis=0), BITWISE)
    if fname in DISTILL:
        for kind in ("strided", "negative", "readonly", "byteswapped", "unaligned", "memmap"):
            add(f"target-{kind}", lambda kind=kind: args_of(
                fname, first(fname), target=layout(labels((6,), 5), kind)), BITWISE)
    add("negative-parallel", lambda: args_of(
        fname, layout(first(fname, (700, 130), np.float32), "negative"), num_threads=2), BITWISE)
    return cases


def option_cases(fname):
    """The options: each valid value, and wrong types and values."""
    cases, add = collector(fname, "args/")
    add("axis_out_of_range", small(fname, axis=2),
        Raises(np.exceptions.AxisError, r"axis 2 is out of bounds for array of dimension 2"))
    add("axis_negative_out_of_range", small(fname, axis=-3),
        Raises(np.exceptions.AxisError, r"axis -3 is out of bounds for array of dimension 2"))
    add("axis_float", small(fname, axis=1.0),
        Raises(TypeError, r"axis must be an integer or None, got 1.0"))
    add("axis_none", small(fname, axis=None),
        Raises(TypeError, r"axis must be an integer, got None"))
    add("axis_0", small(fname, axis=0), REF)
    nt = r"num_threads must be a positive integer or None, got "
    add("num_threads_zero", small(fname, num_threads=0), Raises(ValueError, nt + "0"))
    add("num_threads_negative", small(fname, num_threads=-3), Raises(ValueError, nt + "-3"))
    add("num_threads_float", small(fname, num_threads=2.0), Raises(TypeError, nt + "2.0"))
    add("num_threads_str", small(fname, num_threads="2"), Raises(TypeError, nt + "'2'"))
    add("num_threads_numpy_int", small(fname, num_threads=np.int32(2)), BITWISE)
    add("num_threads_1e6_small_input", small(fname, num_threads=BIG_THREADS), BITWISE)
    add("num_threads_2_40", lambda: args_of(fname, first(fname, (600, 128)),
                                            num_threads=HUGE_THREADS), BITWISE, limit_as=True)
    if fname == "kl_div":
        red = r"reduction must be one of 'none', 'mean', 'sum', 'batchmean'; got "
        add("reduction_unknown", small(fname, reduction="avg"), Raises(ValueError, red + "'avg'"))
        add("reduction_none_object", small(fname, reduction=None),
            Raises(ValueError, red + "None"))
        add("reduction_upper", small(fname, reduction="BATCHMEAN"),
            Raises(ValueError, red + "'BATCHMEAN'"))
        for r in ("none", "sum", "mean", "batchmean"):
            add(f"reduction_{r}", small(fname, reduction=r), REF)
            add(f"reduction_{r}_log_target", lambda r=r: args_of(
                fname, first(fname), np.log(second(fname)), reduction=r, log_target=True), REF)
        lt = r"log_target must be True or False, got "
        add("log_target_int", small(fname, log_target=1), Raises(TypeError, lt + "1"))
        add("log_target_none", small(fname, log_target=None), Raises(TypeError, lt + "None"))
        add("log_target_str", small(fname, log_target="yes"), Raises(TypeError, lt + "'yes'"))
        add("log_target_numpy_bool", small(fname, log_target=np.True_), REF)
        return cases
    tm = r"temperature must be "
    for v, exc, msg in ((0.0, ValueError, r"finite and > 0, got 0.0"),
                        (-1.0, ValueError, r"finite and > 0, got -1.0"),
                        (inf, ValueError, r"finite and > 0, got inf"),
                        (nan, ValueError, r"finite and > 0, got nan"),
                        ("2", TypeError, r"a positive real number, got '2'"),
                        (True, TypeError, r"a positive real number, got True"),
                        (None, TypeError, r"a positive real number, got None")):
        add(f"temperature_{v}", small(fname, temperature=v), Raises(exc, tm + msg))
    for v in (1e-3, 0.5, 4, np.float32(2.0), 1e3):
        add(f"temperature_ok_{v}", small(fname, temperature=v), REF)
    for v, exc, msg in ((nan, ValueError, r"alpha must be finite, got nan"),
                        (inf, ValueError, r"alpha must be finite, got inf"),
                        ("0.5", TypeError, r"alpha must be a real number, got '0.5'"),
                        (None, TypeError, r"alpha must be a real number, got None"),
                        (False, TypeError, r"alpha must be a real number, got False")):
        add(f"alpha_{v}", small(fname, alpha=v, target=labels((6,), 5)), Raises(exc, msg))
    for v in (0.0, 0.25, 1.0, -0.5, 2.0):
        add(f"alpha_ok_{v}", small(fname, alpha=v, target=labels((6,), 5)), REF)
    add("alpha_without_target", small(fname, alpha=0.9), REF)
    # targets
    add("target_ok", small(fname, target=labels((6,), 5)), REF)
    add("target_uint8", small(fname, target=labels((6,), 5, dtype=np.uint8)), REF)
    add("target_list", small(fname, target=[0, 1, 2, 3, 4, 0]), REF)
    add("target_ignored", small(fname, target=np.array([0, -100, 2, -100, 4, 0])), REF)
    add("target_all_ignored", small(fname, target=np.full(6, -100)), REF)
    add("target_ignore_index_4", small(fname, target=np.array([0, 4, 2, 4, 4, 0]),
                                       ignore_index=4), REF)
    add("target_out_of_range", small(fname, target=np.array([0, 5, 2, 3, 4, 0])),
        Raises(IndexError, r"target\[1\] = 5 is not a class index in \[0, 5\) and not "
                           r"ignore_index \(-100\)"))
    add("target_negative", small(fname, target=np.array([0, 1, -1, 3, 4, 0])),
        Raises(IndexError, r"target\[2\] = -1 is not a class index"))
    add("target_float", small(fname, target=np.zeros(6)),
        Raises(TypeError, r"target must hold integer class indices, got dtype float64"))
    add("target_wrong_shape", small(fname, target=np.zeros(5, dtype=np.int64)),
        Raises(ValueError, r"target has shape \(5,\), expected \(6,\)"))
    add("target_prob_shape", small(fname, target=np.zeros((6, 5), dtype=np.int64)),
        Raises(ValueError, r"target has shape \(6, 5\), expected \(6,\)"))
    add("target_masked", small(fname, target=np.ma.array(np.zeros(6, dtype=np.int64))),
        Raises(TypeError, r"target: masked arrays are not supported"))
    add("ignore_index_float", small(fname, target=labels((6,), 5), ignore_index=1.5),
        Raises(TypeError, r"ignore_index must be an integer, got 1.5"))
    add("ignore_index_huge", small(fname, target=labels((6,), 5), ignore_index=2 ** 70),
        Raises(ValueError, r"ignore_index must fit in a 64-bit integer"))
    if fname == "distillation_loss_and_grad":
        returns = Ref(returns="grad_out")
        add("grad_out_ok", lambda: args_of(fname, first(fname), grad_out=np.empty((6, 5))),
            returns)
        for kind in ("F", "strided", "negative", "unaligned"):
            add(f"grad_out_{kind}", lambda kind=kind: args_of(
                fname, first(fname), grad_out=layout(np.zeros((6, 5)), kind)), returns)
        add("grad_out_wrong_dtype", lambda: args_of(fname, first(fname),
                                                    grad_out=np.empty((6, 5), np.float32)),
            Raises(TypeError, r"grad_out has dtype float32, expected float64"))
        add("grad_out_wrong_shape", lambda: args_of(fname, first(fname),
                                                    grad_out=np.empty((5, 6))),
            Raises(ValueError, r"grad_out has shape \(5, 6\), expected \(6, 5\)"))
        add("grad_out_readonly", lambda: args_of(fname, first(fname),
                                                 grad_out=layout(np.empty((6, 5)), "readonly")),
            Raises(ValueError, r"grad_out is read-only"))
        add("grad_out_list", lambda: args_of(fname, first(fname), grad_out=[0.0] * 30),
            Raises(TypeError, r"grad_out must be a numpy.ndarray, got list"))

        def alias_teacher():
            s, t = first(fname), second(fname)
            return (s, t), {"grad_out": t}
        add("grad_out_is_teacher", alias_teacher, returns, mutable=("arg1",))
    return cases


CASES = table_of(FUNCTIONS, value_cases, layout_cases, option_cases)
