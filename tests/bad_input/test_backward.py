"""Bad and unusual input for softmax_backward and log_softmax_backward.

Special and degenerate values, every dtype and memory layout of both
inputs, mismatched shapes, axes, out= buffers (wrong, read-only, aliasing
either input, partially overlapping) and thread counts: each call raises a
clear exception or returns the reference answer (``fastsoftmax.slow``),
bitwise independent of the layout, and never writes to its input.  The table
runs in a child interpreter (``_runner``).
"""
from __future__ import annotations

import numpy as np

from bad_input._cases import (BIG_THREADS, BITWISE, FAMILIES, REF, Case, Raises, Ref, X,
                              collector, inf, layout, layout_grid, nan, table_of)
from bad_input._table_tests import (  # noqa: F401  (this table's two tests)
    test_bad_input, test_every_function_of_the_family_has_cases)

FUNCTIONS = FAMILIES["test_backward"]


def forward(fname, x, axis=-1):
    """The forward output the backward pass expects: probabilities or their logs."""
    x = np.asarray(x, dtype=np.float64)
    m = np.max(x, axis=axis, keepdims=True) if x.size else 0.0
    e = np.exp(x - m)
    p = e / e.sum(axis=axis, keepdims=True)
    return p if fname == "softmax_backward" else np.log(p)


def pair(fname, shape=(6, 5), dtype=np.float64, seed=0, **kw):
    g = X(shape, dtype, seed=seed)
    y = forward(fname, X(shape, seed=seed + 1), kw.get("axis", -1)).astype(dtype)
    return (g, y), kw


def value_cases(fname):
    cases, add = collector(fname, "input/")

    def with_(arg, i, j, v):
        def b():
            (g, y), kw = pair(fname)
            (g if arg == 0 else y)[i, j] = v
            return (g, y), kw
        return b
    for arg, name in ((0, "grad_output"), (1, "output")):
        add(f"{name}_nan", with_(arg, 2, 1, nan), REF)
        add(f"{name}_posinf", with_(arg, 1, 3, inf), REF)
        add(f"{name}_neginf", with_(arg, 3, 0, -inf), REF)
    # huge gradients, exact probabilities (no cancellation in the row sums)
    add("huge", lambda: ((np.array([[1e300, 0.0, -1e300], [1e300, 1e300, 1e300]]),
                          forward(fname, np.log([[2.0, 1.0, 1.0], [2.0, 1.0, 1.0]]))), {}),
        REF)
    add("empty_rows", lambda: pair(fname, (0, 5)), REF)
    add("zero_classes", lambda: ((np.zeros((3, 0)), np.zeros((3, 0))), {}), REF)
    add("one_class", lambda: pair(fname, (4, 1)), REF)
    add("ndim4_axis1", lambda: pair(fname, (2, 3, 2, 4), axis=1), REF)
    add("one_dim", lambda: pair(fname, (7,)), REF)
    add("zero_d", lambda: ((np.float64(0.5), np.float64(1.0 if "log" not in fname else 0.0)),
                           {}), REF)
    add("python_lists", lambda: (([[1.0, 2.0], [0.5, 0.25]], [[0.5, 0.5], [0.25, 0.75]]), {}),
        REF)
    for dt in ("float16", "float32", "int32", "bool"):
        add(f"dtype_{dt}", lambda dt=dt: ((X((6, 5), np.dtype(dt)),
                                           forward(fname, X((6, 5)))), {}), REF)
    add("mixed_float32_float64", lambda: ((X((6, 5), np.float32), forward(fname, X((6, 5)))),
                                          {}), REF)
    add("shape_mismatch", lambda: ((X((6, 5)), forward(fname, X((6, 4)))), {}),
        Raises(ValueError, r"output has shape \(6, 4\), expected \(6, 5\) \(the shape of "
                           r"grad_output\)"))
    add("complex", lambda: ((np.ones((2, 3), complex), np.ones((2, 3))), {}),
        Raises(TypeError, r"grad_output must have a real numeric dtype, got complex128"))
    add("output_strings", lambda: ((np.ones((2, 2)), np.array([["a", "b"], ["c", "d"]])), {}),
        Raises(TypeError, r"output must have a real numeric dtype, got <U1"))
    add("masked", lambda: ((np.ma.ones((2, 3)), np.ones((2, 3))), {}),
        Raises(TypeError, r"grad_output: masked arrays are not supported"))
    add("axis_out_of_range", lambda: (pair(fname)[0], {"axis": 2}),
        Raises(np.exceptions.AxisError, r"axis 2 is out of bounds"))
    add("axis_none", lambda: (pair(fname)[0], {"axis": None}),
        Raises(TypeError, r"axis must be an integer or None, got None|axis must be"))
    return cases


def layout_cases(fname):
    cases = []
    def b(kind, dt):
        (g, y), kw = pair(fname, (6, 5), dt)
        return (layout(g, kind), layout(y, kind)), kw
    cases += layout_grid(fname, b, BITWISE)

    def b_axis0():
        (g, y), kw = pair(fname, (5, 6), axis=0)
        return (layout(g, "F"), layout(y, "F")), kw
    cases.append(Case(f"{fname}:layout/F-axis0", fname, b_axis0, BITWISE))

    def big():
        (g, y), kw = pair(fname, (700, 130), np.float32, seed=5)
        return (layout(g, "negative"), layout(y, "negative")), dict(kw, num_threads=2)
    cases.append(Case(f"{fname}:layout/negative-parallel", fname, big, BITWISE))
    return cases


def out_cases(fname):
    cases, add = collector(fname, "out/")
    returns_out = Ref(returns="out")

    def with_out(make):
        def b():
            (g, y), kw = pair(fname, (7, 33))
            return (g, y), dict(kw, out=make(g, y))
        return b
    add("wrong_dtype", with_out(lambda g, y: np.empty(g.shape, np.float32)),
        Raises(TypeError, r"out has dtype float32, expected float64"))
    add("wrong_shape", with_out(lambda g, y: np.empty((7, 32))),
        Raises(ValueError, r"out has shape \(7, 32\), expected \(7, 33\)"))
    add("readonly", with_out(lambda g, y: layout(np.empty(g.shape), "readonly")),
        Raises(ValueError, r"out is read-only"))
    add("not_an_array", with_out(lambda g, y: [0.0] * 7),
        Raises(TypeError, r"out must be a numpy.ndarray, got list"))
    for kind in ("F", "strided", "negative", "unaligned"):
        add(f"layout_{kind}", with_out(lambda g, y, kind=kind: layout(np.zeros(g.shape), kind)),
            returns_out)
    add("alias_grad_output", with_out(lambda g, y: g), returns_out, mutable=("arg0",))
    add("alias_output", with_out(lambda g, y: y), returns_out, mutable=("arg1",))

    def partial_overlap():
        (g, y), kw = pair(fname, (7, 33))
        buf = np.concatenate([g.ravel(), np.zeros(33)])
        gv = buf[:7 * 33].reshape(7, 33)
        return (gv, y), dict(kw, out=buf[33:].reshape(7, 33))
    add("partial_overlap", partial_overlap, returns_out, mutable=("arg0",))
    return cases


def thread_cases(fname):
    cases, add = collector(fname, "args/")
    nt_msg = r"num_threads must be a positive integer or None, got "
    add("num_threads_zero", lambda: pair(fname, num_threads=0), Raises(ValueError, nt_msg + "0"))
    add("num_threads_str", lambda: pair(fname, num_threads="2"),
        Raises(TypeError, nt_msg + "'2'"))
    add("num_threads_3", lambda: pair(fname, (300, 200), num_threads=3), BITWISE)
    add("num_threads_1e6", lambda: pair(fname, (400, 300), num_threads=BIG_THREADS), BITWISE,
        limit_as=True)
    return cases


CASES = table_of(FUNCTIONS, value_cases, layout_cases, out_cases, thread_cases)
