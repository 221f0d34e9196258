"""Bad and unusual input for binary_cross_entropy(_and_grad) and
binary_cross_entropy_with_logits(_and_grad).

Special and degenerate probabilities / logits, every dtype and memory layout
(of the target too), targets of every kind, weight= and pos_weight=
(broadcasting, wrong shapes and types) and reductions: each call raises a
clear exception or returns the reference answer (``fastsoftmax.slow``) and
never writes to its input.  The table runs in a child interpreter
(``_runner``).
"""
from __future__ import annotations

import numpy as np

from bad_input._cases import (BCEL_FAMILY, BCE_FAMILY, FAMILIES, REF, Raises, X, bits, collector,
                              layout_cases, main_name, nan, reduction_cases, table_of, unit,
                              value_cases)
from bad_input._sample_weight_cases import sample_weight_cases
from bad_input._table_tests import (  # noqa: F401  (this table's two tests)
    test_bad_input, test_every_function_of_the_family_has_cases)

FUNCTIONS = FAMILIES["test_binary_losses"]


def weight_cases(fname):
    """weight= and pos_weight= (with logits): broadcasting, shapes that do
    not broadcast or would enlarge the loss, wrong types."""
    cases, add = collector(fname, "args/")
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
    return cases


def target_cases(fname):
    """The 0 / 1 (or soft) target: NaN, outside [0, 1], bool, int, a list,
    the wrong shape or type."""
    cases, add = collector(fname, "target/")
    arg = main_name(fname)
    main = (lambda: unit((2, 4))) if fname in BCE_FAMILY else (lambda: X((2, 4)))

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


CASES = table_of(FUNCTIONS, value_cases, layout_cases, reduction_cases, weight_cases,
                 target_cases, sample_weight_cases)
