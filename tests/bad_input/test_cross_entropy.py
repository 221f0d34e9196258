"""Bad and unusual input for cross_entropy(_and_grad), nll_loss and
categorical_cross_entropy.

Special and degenerate logits / probabilities, every dtype and memory layout
(of the target too), class-index targets out of range, ignored, of every
integer dtype or of the wrong kind and shape, probability targets, class
weights, label smoothing, eps, z_loss and softcap, reductions, axes, and
grad_out= buffers: each call raises a clear exception (naming the argument)
or returns the reference answer (``fastsoftmax.slow``), bitwise independent
of the layout for the compiled cross-entropy, and never writes to its input.
The table runs in a child interpreter (``_runner``); thread counts are in
test_thread_counts.py.
"""
from __future__ import annotations

import numpy as np

from bad_input._cases import (CE_FAMILY, FAMILIES, REF, X, Raises, Ref, axis_cases, call_args,
                              collector, inf, labels, layout, layout_cases, memmap_of, nan,
                              reduction_cases, small, soft_labels, unit, value_cases)
from bad_input._sample_weight_cases import sample_weight_cases
from bad_input._table_tests import (  # noqa: F401  (this table's two tests)
    test_bad_input, test_every_function_of_the_family_has_cases)

FUNCTIONS = FAMILIES["test_cross_entropy"]


def class_weight_cases(fname):
    """weight= (one per class): wrong shapes and types, NaN / inf weights of
    classes no sample has as target, byte-swapped strided weights."""
    cases, add = collector(fname, "args/")
    wmsg = r"weight must have shape \(5,\) \(one weight per class\), got "
    add("weight_short", small(fname, weight=np.ones(4)), Raises(ValueError, wmsg + r"\(4,\)"))
    add("weight_long", small(fname, weight=np.ones(6)), Raises(ValueError, wmsg + r"\(6,\)"))
    add("weight_2d", small(fname, weight=np.ones((5, 1))), Raises(ValueError, wmsg + r"\(5, 1\)"))
    add("weight_scalar", small(fname, weight=2.0), Raises(ValueError, wmsg + r"\(\)"))
    add("weight_strings", small(fname, weight=np.array(list("abcde"))),
        Raises(TypeError, r"weight must be real numbers, got dtype <U1"))
    add("weight_complex", small(fname, weight=np.ones(5, complex)),
        Raises(TypeError, r"weight must be real numbers, got dtype complex128"))
    add("weight_masked", small(fname, weight=np.ma.ones(5)),
        Raises(TypeError, r"weight: masked arrays are not supported"))
    add("weight_ok", small(fname, weight=np.array([0.5, 2.0, 1.0, 0.0, 3.0])), REF)
    add("weight_list", small(fname, weight=[0.5, 2.0, 1.0, 1.0, 3.0]), REF)
    add("weight_int", small(fname, weight=np.arange(1, 6)), REF)
    # a NaN / inf weight of a class no sample has as target: torch's loss and
    # gradient are finite (the class weight only enters through w[y])
    for cid, bad in (("weight_nan", nan), ("weight_inf", inf)):
        add(cid, lambda bad=bad: call_args(
            fname, X((6, 5)), target=np.array([0, 2, 3, 4, 0, 2]),
            weight=np.array([1.0, bad, 1.0, 2.0, 1.0])), REF)
    add("weight_strided_byteswapped", small(
        fname, weight=np.array([0.5, 2.0, 1.0, 0.0, 3.0]).astype(">f8")[::-1]), REF)
    return cases


def label_smoothing_cases(fname):
    """label_smoothing= out of [0, 1], of the wrong type, and valid."""
    cases, add = collector(fname, "args/")
    ls = r"label_smoothing must be in \[0, 1\], got "
    add("label_smoothing_above_one", small(fname, label_smoothing=1.5),
        Raises(ValueError, ls + "1.5"))
    add("label_smoothing_negative", small(fname, label_smoothing=-0.1),
        Raises(ValueError, ls + "-0.1"))
    add("label_smoothing_nan", small(fname, label_smoothing=nan), Raises(ValueError, ls + "nan"))
    add("label_smoothing_str", small(fname, label_smoothing="x"),
        Raises(TypeError, r"label_smoothing must be a real number, got 'x'"))
    add("label_smoothing_ok", small(fname, label_smoothing=0.2, weight=np.arange(1.0, 6.0)), REF)
    add("label_smoothing_one", small(fname, label_smoothing=1.0), REF)
    return cases


def eps_cases(fname):
    """eps= of categorical_cross_entropy: out of [0, 0.5), wrong type, 0."""
    cases, add = collector(fname, "args/")
    add("eps_half", small(fname, eps=0.5),
        Raises(ValueError, r"eps must be in \[0, 0.5\), got 0.5"))
    add("eps_negative", small(fname, eps=-1e-7),
        Raises(ValueError, r"eps must be in \[0, 0.5\), got -1e-07"))
    add("eps_str", small(fname, eps="x"), Raises(TypeError, r"eps must be a real number, got 'x'"))
    add("eps_zero", small(fname, eps=0.0), REF)
    return cases


def z_loss_softcap_cases(fname):
    """z_loss= and softcap=: out of range, wrong types, and valid
    (with ignored samples, weights, a read-only broadcast input)."""
    cases, add = collector(fname, "args/")
    add("z_loss_negative", small(fname, z_loss=-1.0),
        Raises(ValueError, r"z_loss must be finite and >= 0, got -1.0"))
    add("z_loss_nan", small(fname, z_loss=nan), Raises(ValueError, r"z_loss must be finite and "
                                                            r">= 0, got nan"))
    add("z_loss_str", small(fname, z_loss="x"), Raises(TypeError, r"z_loss must be a real number"))
    add("z_loss_none", small(fname, z_loss=None), Raises(TypeError, r"z_loss must be a real "
                                                             r"number, got None"))
    add("softcap_zero", small(fname, softcap=0), Raises(ValueError, r"softcap must be finite and "
                                                             r"> 0, got 0.0"))
    add("softcap_negative", small(fname, softcap=-2.0), Raises(ValueError, r"softcap must be "
                                                                    r"finite and > 0"))
    add("softcap_inf", small(fname, softcap=inf), Raises(ValueError, r"softcap must be finite"))
    add("softcap_str", small(fname, softcap="x"), Raises(TypeError, r"softcap must be None or a "
                                                             r"real number, got 'x'"))
    for red in ("mean", "none"):
        add(f"z_loss_softcap_ok_{red}", lambda red=red: call_args(
            fname, X((6, 5)), target=np.array([0, -100, 4, 2, 3, 4]), z_loss=1e-2,
            softcap=2.5, weight=np.arange(1.0, 6.0), reduction=red), REF)
    add("softcap_readonly_broadcast_input", lambda: call_args(
        fname, np.broadcast_to(X((1, 5)), (6, 5)), softcap=2.0, z_loss=1e-3), REF)
    return cases


def label_cases(fname):
    """Class-index targets: range, ignore_index, dtypes, wrong kinds and shapes
    (and, for cross_entropy, probability targets)."""
    cases, add = collector(fname, "labels/")
    x = lambda: X((6, 5))                                                 # noqa: E731
    if fname == "categorical_cross_entropy":
        x = lambda: unit((6, 5))                                          # noqa: E731
    has_ignore = fname in CE_FAMILY + ("nll_loss",)
    also = r" and not ignore_index \(-100\)" if has_ignore else ""

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


def grad_out_cases(fname):
    """grad_out= of cross_entropy_and_grad: wrong dtype, shape or type,
    read-only, every writable layout, aliasing the logits or the target."""
    cases, add = collector(fname, "grad_out/")

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


def table():
    """Every case of the family, in a fixed order (the child runs them)."""
    cases = []
    for fname in FUNCTIONS:
        cases += value_cases(fname)
        cases += layout_cases(fname)
        cases += axis_cases(fname)
        cases += reduction_cases(fname)
        if fname != "categorical_cross_entropy":
            cases += class_weight_cases(fname)
        if fname in CE_FAMILY:
            cases += label_smoothing_cases(fname)
            cases += z_loss_softcap_cases(fname)
        if fname == "categorical_cross_entropy":
            cases += eps_cases(fname)
        cases += label_cases(fname)
        if fname == "cross_entropy_and_grad":
            cases += grad_out_cases(fname)
        if fname in CE_FAMILY:
            cases += sample_weight_cases(fname)
    return cases


CASES = table()
