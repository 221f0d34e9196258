"""Bad and unusual input for cross_entropy_gradient_hessian and
binary_cross_entropy_gradient_hessian.

Special and degenerate raw predictions, every dtype and memory layout (of the
targets and weights too), class labels given as floats, out-of-range and
non-integer labels, targets outside [0, 1], sample weights of the wrong
shape or type, gradient_out= / hessian_out= buffers (wrong, read-only,
overlapping), axes and thread counts: each call raises a clear exception or
returns the reference answer (``fastsoftmax.slow``) and never writes to its
input.  The table runs in a child interpreter (``_runner``).
"""
from __future__ import annotations

import numpy as np

from bad_input._cases import (BIG_THREADS, BITWISE, FAMILIES, REF, Case, Raises, X, collector,
                              dtype_msg, inf, layout, layout_grid, logit_special_cases, nan,
                              table_of)
from bad_input._table_tests import (  # noqa: F401  (this table's two tests)
    test_bad_input, test_every_function_of_the_family_has_cases)

FUNCTIONS = FAMILIES["test_gradient_boosting"]
MULTI, BINARY = FUNCTIONS
OUTS = ("gradient_out", "hessian_out")


def labels(n, c, seed=1, dtype=np.float64):
    return np.random.default_rng(seed).integers(0, c, n).astype(dtype)


def targets01(shape, seed=2):
    t = np.random.default_rng(seed).random(shape)
    t.reshape(-1)[::2] = np.round(t.reshape(-1)[::2])
    return t


def args_for(fname, x, **kw):
    """(args, kwargs) with a valid target for raw predictions ``x``."""
    x_arr = np.asarray(x)
    if fname == MULTI:
        ax = kw.get("axis", -1)
        ax = ax % x_arr.ndim if x_arr.ndim else 0
        batch = x_arr.shape[:ax] + x_arr.shape[ax + 1:]
        c = x_arr.shape[ax] if x_arr.ndim else 1
        t = np.random.default_rng(1).integers(0, max(c, 1), batch).astype(np.float64)
    else:
        t = targets01(x_arr.shape)
    return (x, t), kw


def value_cases(fname):
    cases, add = collector(fname, "input/")

    logit_special_cases(add, lambda a: args_for(fname, a))
    add("huge", lambda: args_for(fname, np.array(
        [[1e30, -1e30, 0.0, 1e30], [1e300, 1e299, -1e300, 3.0], [-1e30, -1e30, -1e30, -1e30]])),
        REF)
    add("huge_float32", lambda: args_for(fname, np.array(
        [[1e30, -1e30, 0.0], [3e38, -3e38, 3e38]], np.float32)), REF)
    add("tiny", lambda: args_for(fname, np.array(
        [[5e-324, -5e-324, 0.0, -0.0], [1e-310, 2e-310, 3e-310, 4e-310]])), REF)
    add("empty_rows", lambda: args_for(fname, np.zeros((0, 5))), REF)
    add("one_class", lambda: args_for(fname, X((4, 1))), REF)
    add("ndim4", lambda: args_for(fname, X((2, 3, 2, 4))), REF)
    add("python_list", lambda: args_for(fname, [[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]]), REF)
    for dt in ("float16", "float32", "int8", "int64", "uint16", "bool"):
        add(f"dtype_{dt}", lambda dt=dt: args_for(fname, X((6, 5), np.dtype(dt))), REF)
    if fname == MULTI:
        add("zero_classes_no_rows", lambda: args_for(fname, np.zeros((0, 0))), REF)
        add("zero_classes", lambda: ((np.zeros((3, 0)), np.zeros(3)), {}),
            Raises(IndexError, r"target\[0\] = 0.0 is not a class index in \[0, 0\)"))
        add("one_dim", lambda: args_for(fname, np.array([0.5, 2.0, -1.0])), REF)
        add("axis0", lambda: args_for(fname, X((5, 6)), axis=0), REF)
        add("zero_d", lambda: ((np.float64(1.5), np.float64(0.0)), {}),
            Raises(ValueError, r"raw_prediction must have at least one dimension"))
    else:
        add("zero_classes", lambda: args_for(fname, np.zeros((3, 0))), REF)
        add("zero_d", lambda: ((np.float64(1.5), 1.0), {}), REF)
        add("python_scalar", lambda: ((-2.5, 0.0), {}), REF)
        add("column", lambda: ((X((6, 1)), targets01((6,))), {"sample_weight": np.ones(6)}),
            REF)
    add("complex", lambda: args_for(fname, np.ones((2, 3), complex)),
        Raises(TypeError, dtype_msg("raw_prediction", "complex128")))
    add("strings", lambda: args_for(fname, np.array([["a", "b"], ["c", "d"]])),
        Raises(TypeError, dtype_msg("raw_prediction", "<U1")))
    add("object", lambda: args_for(fname, np.array([[1, None], [2, 3]], dtype=object)),
        Raises(TypeError, dtype_msg("raw_prediction", "object")))
    add("masked", lambda: args_for(fname, np.ma.array(np.full((2, 3), 0.5),
                                                      mask=[[0, 1, 0], [0, 0, 0]])),
        Raises(TypeError, r"raw_prediction: masked arrays are not supported"))
    add("ragged", lambda: (([[0.5, 0.5], [0.5]], np.zeros(2)), {}),
        Raises(TypeError, r"raw_prediction must be array-like of real numbers"))
    return cases


def target_cases(fname):
    cases, add = collector(fname, "target/")
    x = lambda: X((3, 4))                                           # noqa: E731
    if fname == MULTI:
        add("non_integer", lambda: ((x(), np.array([0.0, 1.5, 2.0])), {}),
            Raises(ValueError, r"target\[1\] = 1.5 is not a class label: labels must be "
                               r"integers in \[0, 4\)"))
        add("nan", lambda: ((x(), np.array([0.0, nan, 2.0])), {}),
            Raises(ValueError, r"target\[1\] = nan is not a class label"))
        add("inf", lambda: ((x(), np.array([0.0, inf, 2.0])), {}),
            Raises(ValueError, r"target\[1\] = inf is not a class label"))
        add("too_large_float", lambda: ((x(), np.array([0.0, 4.0, 2.0])), {}),
            Raises(IndexError, r"target\[1\] = 4.0 is not a class index in \[0, 4\)"))
        add("negative_int", lambda: ((x(), np.array([0, -1, 2])), {}),
            Raises(IndexError, r"target\[1\] = -1 is not a class index in \[0, 4\)"))
        add("huge_uint64", lambda: ((x(), np.array([0, 2 ** 63 + 1, 2], np.uint64)), {}),
            Raises(IndexError, r"target\[1\] = 9223372036854775809 is not a class index"))
        add("int_labels", lambda: ((x(), np.array([3, 1, 2], np.int8)), {}), REF)
        add("float32_labels", lambda: ((x(), np.array([3, 1, 2], np.float32)), {}), REF)
        add("list", lambda: ((x(), [3, 1, 0]), {}), REF)
        add("bool", lambda: ((x(), np.array([True, False, True])), {}),
            Raises(TypeError, r"target must hold class labels \(integers, or floats with "
                              r"integer values\), got dtype bool"))
        add("wrong_shape", lambda: ((x(), np.zeros(4)), {}),
            Raises(ValueError, r"target has shape \(4,\), expected \(3,\) \(raw_prediction's "
                               r"shape without the class axis\)"))
        add("strings", lambda: ((x(), np.array(["a", "b", "c"])), {}),
            Raises(TypeError, r"target must hold class labels"))
    else:
        add("outside", lambda: ((x(), np.full((3, 4), 1.5)), {}),
            Raises(ValueError, r"target must lie in \[0, 1\], got 1.5 \(element 0\)"))
        add("negative", lambda: ((x(), np.full((3, 4), -0.5)), {}),
            Raises(ValueError, r"target must lie in \[0, 1\], got -0.5"))
        add("nan", lambda: ((x(), np.where(np.eye(3, 4) > 0, nan, 0.0)), {}),
            Raises(ValueError, r"target must lie in \[0, 1\], got nan"))
        add("bool", lambda: ((x(), np.eye(3, 4, dtype=bool)), {}), REF)
        add("int", lambda: ((x(), np.eye(3, 4, dtype=np.int8)), {}), REF)
        add("soft", lambda: ((x(), np.full((3, 4), 0.3)), {}), REF)
        add("wrong_shape", lambda: ((x(), np.zeros(4)), {}),
            Raises(ValueError, r"target has shape \(4,\), expected \(3, 4\) \(the shape of "
                               r"raw_prediction\)"))
        add("strings", lambda: ((x(), np.full((3, 4), "a")), {}),
            Raises(TypeError, r"target must be real numbers, got dtype <U1"))
    add("masked", lambda: ((x(), np.ma.zeros((3,) if fname == MULTI else (3, 4))), {}),
        Raises(TypeError, r"target: masked arrays are not supported"))
    return cases


def weight_cases(fname):
    cases, add = collector(fname, "sample_weight/")
    shape = (3,) if fname == MULTI else (3, 4)

    def with_w(w):
        return lambda: args_for(fname, X((3, 4)), sample_weight=w() if callable(w) else w)
    add("ok", with_w(lambda: np.random.default_rng(3).uniform(0, 2, shape)), REF)
    add("zeros_and_negative", with_w(lambda: np.linspace(-1, 1, int(np.prod(shape))
                                                         ).reshape(shape)), REF)
    add("nan", with_w(lambda: np.where(np.arange(np.prod(shape)).reshape(shape) == 1, nan,
                                       1.0)), REF)
    add("list", with_w(lambda: np.ones(shape).tolist()), REF)
    add("float32", with_w(lambda: np.ones(shape, np.float32)), REF)
    add("wrong_shape", with_w(lambda: np.ones(5)),
        Raises(ValueError, r"sample_weight has shape \(5,\), expected"))
    add("strings", with_w(lambda: np.full(shape, "a")),
        Raises(TypeError, r"sample_weight must be real numbers, got dtype <U1"))
    add("complex", with_w(lambda: np.ones(shape, complex)),
        Raises(TypeError, r"sample_weight must be real numbers, got dtype complex128"))
    add("masked", with_w(lambda: np.ma.ones(shape)),
        Raises(TypeError, r"sample_weight: masked arrays are not supported"))
    return cases


def layout_cases(fname):
    cases = []
    def b(kind, dt):
        args, kw = args_for(fname, X((6, 5), dt))
        w = np.random.default_rng(4).uniform(0, 2, args[1].shape).astype(dt)
        return (layout(args[0], kind), layout(args[1], kind)), {"sample_weight": layout(w, kind)}
    cases += layout_grid(fname, b, BITWISE)

    def big():
        args, kw = args_for(fname, layout(X((700, 130), np.float32, seed=5), "negative"))
        return args, dict(kw, num_threads=2)
    cases.append(Case(f"{fname}:layout/negative-parallel", fname, big, BITWISE))
    return cases


def out_cases(fname):
    cases, add = collector(fname, "out/")

    def with_out(**outs):
        def b():
            args, kw = args_for(fname, X((6, 5)))
            return args, dict(kw, **{k: v(args[0]) for k, v in outs.items()})
        return b
    for name in OUTS:
        add(f"{name}_wrong_dtype", with_out(**{name: lambda x: np.empty(x.shape, np.float32)}),
            Raises(TypeError, rf"{name} has dtype float32, expected float64"))
        add(f"{name}_wrong_shape", with_out(**{name: lambda x: np.empty((6, 4))}),
            Raises(ValueError, rf"{name} has shape \(6, 4\), expected \(6, 5\)"))
        add(f"{name}_readonly", with_out(**{name: lambda x: layout(np.empty(x.shape),
                                                                    "readonly")}),
            Raises(ValueError, rf"{name} is read-only"))
        add(f"{name}_list", with_out(**{name: lambda x: [0.0] * 30}),
            Raises(TypeError, rf"{name} must be a numpy.ndarray, got list"))
        add(f"{name}_is_raw_prediction", with_out(**{name: lambda x: x}),
            Raises(ValueError, rf"{name} must not share memory with raw_prediction"))
        for kind in ("F", "strided", "negative", "unaligned"):
            add(f"{name}_layout_{kind}", with_out(**{name: lambda x, kind=kind: layout(
                np.zeros(x.shape), kind)}), REF, mutable=OUTS)

    def same_buffer():
        args, kw = args_for(fname, X((6, 5)))
        buf = np.zeros((6, 5))
        return args, dict(kw, gradient_out=buf, hessian_out=buf)
    add("both_the_same", same_buffer,
        Raises(ValueError, r"gradient_out and hessian_out must not share memory"))

    def interleaved():
        args, kw = args_for(fname, X((6, 5)))
        buf = np.zeros((6, 10))
        return args, dict(kw, gradient_out=buf[:, ::2], hessian_out=buf[:, 1::2])
    add("interleaved", interleaved, REF, mutable=OUTS)

    def float16():
        args, kw = args_for(fname, X((6, 5), np.float16))
        return args, dict(kw, gradient_out=np.zeros((6, 5), np.float16),
                          hessian_out=np.zeros((6, 5), np.float16))
    add("float16", float16, REF, mutable=OUTS)
    return cases


def arg_cases(fname):
    cases, add = collector(fname, "args/")
    nt_msg = r"num_threads must be a positive integer or None, got "
    small = lambda **kw: lambda: args_for(fname, X((6, 5)), **kw)   # noqa: E731
    add("num_threads_zero", small(num_threads=0), Raises(ValueError, nt_msg + "0"))
    add("num_threads_float", small(num_threads=2.0), Raises(TypeError, nt_msg + "2.0"))
    add("num_threads_2", small(num_threads=2), BITWISE)
    add("num_threads_1e6", lambda: args_for(fname, X((400, 300), seed=6),
                                            num_threads=BIG_THREADS), BITWISE, limit_as=True)
    if fname == MULTI:
        add("axis_out_of_range", small(axis=2),
            Raises(np.exceptions.AxisError, r"axis 2 is out of bounds"))
        add("axis_float", lambda: ((X((6, 5)), np.zeros(6)), {"axis": 1.0}),
            Raises(TypeError, r"axis must be an integer or None, got 1.0"))
    return cases


CASES = table_of(FUNCTIONS, value_cases, target_cases, weight_cases, layout_cases, out_cases,
                 arg_cases)
