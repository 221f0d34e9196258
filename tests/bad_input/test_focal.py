"""Bad and unusual input for focal_loss(_and_grad) and
sigmoid_focal_loss(_and_grad).

Special and degenerate logits, every dtype and memory layout (of the target
too), class-index targets out of range, ignored or of the wrong kind,
alpha= (per-class weights; the sigmoid's scalar), gamma=, reductions, axes
and thread counts: each call raises a clear exception (naming the argument)
or returns the reference answer (``fastsoftmax.slow``) and never writes to
its input.  The table runs in a child interpreter (``_runner``).
"""
from __future__ import annotations

import numpy as np

from bad_input._cases import (BIG_THREADS, BITWISE, FAMILIES, FOCAL_FAMILY, HUGE_THREADS, REF,
                              SIGMOID_FOCAL_FAMILY, X, Raises, axis_cases, big_threads_input,
                              bits, call_args, collector, inf, layout_cases, nan,
                              reduction_cases, small, value_cases)
from bad_input._table_tests import (  # noqa: F401  (this table's two tests)
    test_bad_input, test_every_function_of_the_family_has_cases)

FUNCTIONS = FAMILIES["test_focal"]


def focal_value_cases(fname):
    """The shared value cases, with the answers of a loss over a class axis
    (no 0-d logits) for the softmax focal loss."""
    cases = value_cases(fname)
    if fname not in FOCAL_FAMILY:
        return cases
    cases = [c for c in cases if not c.id.endswith(("/zero_d", "/python_scalar"))]
    extra, add = collector(fname, "input/")
    msg = r"logits must have at least one dimension"
    add("zero_d", lambda: call_args(fname, np.float64(1.5), target=np.int64(0)),
        Raises(ValueError, msg))
    add("python_scalar", lambda: call_args(fname, 1.5, target=0), Raises(ValueError, msg))
    add("one_dim", lambda: call_args(fname, np.array([0.5, 2.0, -1.0])), REF)

    def neginf_target():    # -inf exactly at every target class: loss +inf
        a = X()
        args, kw = call_args(fname, a)
        a[np.arange(6), args[1]] = -inf
        return args, kw
    add("neginf_at_target_rows", neginf_target, REF)
    add("p_y_one", lambda: call_args(fname, np.array([[0.0, -inf, -inf], [0.0, -800.0, -900.0]]),
                                     target=np.array([0, 0]), gamma=0.5, reduction="none"), REF)
    add("huge_ties_per_sample", lambda: call_args(
        fname, np.array([[1e20] * 4, [1e30, 1e30, -1e30, 0.0], [1e15, 1e15, 0, 0]]),
        target=np.array([1, 0, 1]), reduction="none"), REF)
    return cases + extra


def focal_args_cases(fname):
    """gamma=, alpha= (per class), class-index targets and ignore_index."""
    cases, add = collector(fname, "args/")
    gmsg = r"gamma must be finite and >= 0, got "
    add("gamma_negative", small(fname, gamma=-1.0), Raises(ValueError, gmsg + "-1.0"))
    add("gamma_nan", small(fname, gamma=nan), Raises(ValueError, gmsg + "nan"))
    add("gamma_inf", small(fname, gamma=inf), Raises(ValueError, gmsg + "inf"))
    add("gamma_str", small(fname, gamma="2"), Raises(TypeError, r"gamma must be a real number"))
    add("gamma_none", small(fname, gamma=None), Raises(TypeError, r"gamma must be a real number"))
    add("gamma_bool", small(fname, gamma=True), Raises(TypeError, r"gamma must be a real number"))
    for g in (0, 0.5, 1, 2.0, 5.5, np.float32(1.5)):
        add(f"gamma_{g}", small(fname, gamma=g), REF)
    amsg = r"alpha must have shape \(5,\) \(one weight per class\), got "
    add("alpha_short", small(fname, alpha=np.ones(4)), Raises(ValueError, amsg + r"\(4,\)"))
    add("alpha_2d", small(fname, alpha=np.ones((5, 1))), Raises(ValueError, amsg + r"\(5, 1\)"))
    add("alpha_scalar", small(fname, alpha=0.25), Raises(ValueError, amsg + r"\(\)"))
    add("alpha_strings", small(fname, alpha=np.array(list("abcde"))),
        Raises(TypeError, r"alpha must be real numbers, got dtype <U1"))
    add("alpha_masked", small(fname, alpha=np.ma.ones(5)),
        Raises(TypeError, r"alpha: masked arrays are not supported"))
    add("alpha_ok", small(fname, alpha=np.array([0.5, 2.0, 1.0, 0.0, 3.0])), REF)
    add("alpha_list_int", small(fname, alpha=[1, 2, 3, 4, 5]), REF)
    add("alpha_byteswapped_strided", small(
        fname, alpha=np.array([0.5, 2.0, 1.0, 0.0, 3.0]).astype(">f8")[::-1]), REF)

    def tgt(values, dtype=np.int64, **kw):
        return lambda: ((X((6, 5)), np.array(values, dtype=dtype)), kw)
    also = r" and not ignore_index \(-100\)"
    add("target_out_of_range", tgt([0, 1, 5, 2, 3, 4]),
        Raises(IndexError, rf"target\[2\] = 5 is not a class index in \[0, 5\){also}"))
    add("target_negative", tgt([0, 1, 2, -1, 3, 4]),
        Raises(IndexError, rf"target\[3\] = -1 is not a class index in \[0, 5\){also}"))
    add("target_float", tgt([0.0, 1, 2, 3, 4, 0], np.float64),
        Raises(TypeError, r"target must hold integer class indices, got dtype float64"))
    add("target_bool", tgt([True, False, True, True, False, False], bool),
        Raises(TypeError, r"target must hold integer class indices, got dtype bool"))
    add("target_shape", tgt([0, 1, 2, 3, 4]),
        Raises(ValueError, r"target has shape \(5,\), expected \(6,\)"))
    add("target_probabilities", lambda: ((X((6, 5)), np.full((6, 5), 0.2)), {}),
        Raises(TypeError, r"target must hold integer class indices"))
    for dt in ("int8", "uint8", "int32", "uint64"):
        add(f"target_{dt}", tgt([0, 1, 4, 2, 3, 4], dt), REF)
    add("all_ignored", tgt([-100] * 6), REF)
    add("all_ignored_sum", tgt([-100] * 6, reduction="sum"), REF)
    add("ignore_index_is_a_class", tgt([0, 2, 4, 2, 3, 4], ignore_index=2), REF)
    add("ignore_index_not_int", tgt([0] * 6, ignore_index=1.5),
        Raises(TypeError, r"ignore_index must be an integer, got 1.5"))
    add("zero_classes_all_ignored", lambda: ((np.zeros((3, 0)), np.full(3, -100)), {}), REF)
    add("zero_classes_bad_target", lambda: ((np.zeros((3, 0)), np.zeros(3, np.int64)), {}),
        Raises(IndexError, r"target\[0\] = 0 is not a class index in \[0, 0\)"))
    return cases


def sigmoid_args_cases(fname):
    """alpha= (scalar), gamma= and the target of the sigmoid focal loss."""
    cases, add = collector(fname, "args/")
    m = lambda: X((2, 4))                                                 # noqa: E731

    def b(t=None, **kw):
        return lambda: ((m(), bits((2, 4)) if t is None else t), kw)
    add("alpha_nan", b(alpha=nan), Raises(ValueError, r"alpha must be finite, got nan"))
    add("alpha_inf", b(alpha=-inf), Raises(ValueError, r"alpha must be finite, got -inf"))
    add("alpha_str", b(alpha="x"), Raises(TypeError, r"alpha must be None or a real number"))
    add("alpha_array", b(alpha=np.ones(4)),
        Raises(TypeError, r"alpha must be None or a real number"))
    for a in (None, -1.0, 0.0, 0.25, 1.0, 1.5, np.float32(0.5)):
        add(f"alpha_{a}", b(alpha=a), REF)
    gmsg = r"gamma must be finite and >= 0, got "
    add("gamma_negative", b(gamma=-0.5), Raises(ValueError, gmsg + "-0.5"))
    add("gamma_nan", b(gamma=nan), Raises(ValueError, gmsg + "nan"))
    add("gamma_str", b(gamma="x"), Raises(TypeError, r"gamma must be a real number"))
    for g in (0.0, 0.3, 1, 2.0, 4.5):
        add(f"gamma_{g}", b(gamma=g), REF)
    add("target_soft", b(t=np.array([[0.2, 0.9, 0.5, 0.0], [1.0, 0.7, 0.1, 0.3]])), REF)
    add("target_nan", b(t=np.array([[0, nan, 1, 1], [0, 0, 1, 0.5]])), REF)
    add("target_outside_0_1", b(t=np.array([[2.0, -1, 1, 1], [0, 0, 1, 0.5]]), gamma=2.0), REF)
    add("target_bool", b(t=np.eye(2, 4, dtype=bool)), REF)
    add("target_list", b(t=[[0, 1, 1, 0], [1, 1, 0, 0]]), REF)
    add("target_wrong_shape", b(t=np.ones(4)),
        Raises(ValueError, r"target has shape \(4,\), expected \(2, 4\) \(the shape of logits\)"))
    add("target_strings", b(t=np.full((2, 4), "a")),
        Raises(TypeError, r"target must be real numbers, got dtype <U1"))
    add("target_masked", b(t=np.ma.ones((2, 4))),
        Raises(TypeError, r"target: masked arrays are not supported"))
    add("saturated", lambda: ((np.array([[800.0, -800.0, 1e30, -1e30]]),
                               np.array([[1.0, 0.0, 0.0, 1.0]])), {}), REF)
    return cases


def threads_cases(fname):
    """num_threads=: bad counts raise; any valid one gives bitwise one answer."""
    cases, add = collector(fname, "args/")
    nt_msg = r"num_threads must be a positive integer or None, got "
    add("num_threads_zero", small(fname, num_threads=0), Raises(ValueError, nt_msg + "0"))
    add("num_threads_float", small(fname, num_threads=2.0), Raises(TypeError, nt_msg + "2.0"))
    add("num_threads_bool", small(fname, num_threads=True), Raises(TypeError, nt_msg + "True"))
    add("num_threads_2", lambda: (lambda a, k: (a, dict(k, num_threads=2)))(
        *big_threads_input(fname)), BITWISE)
    add("num_threads_1e6", lambda: (lambda a, k: (a, dict(k, num_threads=BIG_THREADS)))(
        *big_threads_input(fname)), BITWISE, limit_as=True)
    add("num_threads_2_40_small_input", small(fname, num_threads=HUGE_THREADS), BITWISE)
    return cases


def table():
    """Every case of the family, in a fixed order (the child runs them)."""
    cases = []
    for fname in FUNCTIONS:
        cases += focal_value_cases(fname)
        cases += layout_cases(fname)
        cases += reduction_cases(fname)
        cases += threads_cases(fname)
        if fname in FOCAL_FAMILY:
            cases += axis_cases(fname)
            cases += focal_args_cases(fname)
        else:
            assert fname in SIGMOID_FOCAL_FAMILY
            cases += sigmoid_args_cases(fname)
    return cases


CASES = table()
