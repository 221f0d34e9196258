"""Bad and unusual input for softmax, log_softmax and logsumexp.

Special and degenerate values, every dtype and memory layout, axes, where=,
temperature= and keepdims=, and out= buffers (wrong, read-only, aliasing the
input): each call raises a clear exception or returns the reference answer
(``fastsoftmax.slow``), bitwise independent of the layout, and never writes
to its input.  The table runs in a child interpreter (``_runner``); thread
counts are in test_thread_counts.py.
"""
from __future__ import annotations

import numpy as np

from bad_input._cases import (FAMILIES, REF, X, Raises, Ref, axis_cases, collector, inf,
                              layout_cases, nan, out_cases, small, value_cases)
from bad_input._table_tests import (  # noqa: F401  (this table's two tests)
    test_bad_input, test_every_function_of_the_family_has_cases)

FUNCTIONS = FAMILIES["test_softmax_family"]


def where_temperature_cases(fname):
    """where= (wrong dtype, shape or type; masked-out NaN / inf; a row with
    no True entry) and temperature= (zero, negative, non-finite, wrong types)."""
    cases, add = collector(fname, "args/")
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
    add("temperature_zero", small(fname, temperature=0), Raises(ValueError, tmsg + "0.0"))
    add("temperature_negative", small(fname, temperature=-1.0), Raises(ValueError, tmsg + "-1.0"))
    add("temperature_nan", small(fname, temperature=nan), Raises(ValueError, tmsg + "nan"))
    add("temperature_inf", small(fname, temperature=inf), Raises(ValueError, tmsg + "inf"))
    add("temperature_str", small(fname, temperature="hot"),
        Raises(TypeError, r"temperature must be a positive real number, got 'hot'"))
    add("temperature_bool", small(fname, temperature=True),
        Raises(TypeError, r"temperature must be a positive real number, got True"))
    add("temperature_array", small(fname, temperature=np.array([1.0, 2.0])),
        Raises(TypeError, r"temperature must be a positive real number"))
    add("temperature_ok", small(fname, temperature=0.5), REF)
    add("temperature_and_where", where_ok(temperature=3.0), REF)
    return cases


def keepdims_and_axis_none_cases(fname):
    """keepdims=True; axis=None (all the elements)."""
    cases, add = collector(fname, "args/")
    if fname == "logsumexp":
        add("keepdims", small(fname, keepdims=True), REF)
    add("axis_none", small(fname, axis=None), REF)
    return cases


def table():
    """Every case of the family, in a fixed order (the child runs them)."""
    cases = []
    for fname in FUNCTIONS:
        cases += value_cases(fname)
        cases += layout_cases(fname)
        cases += axis_cases(fname)
        if fname != "logsumexp":
            cases += where_temperature_cases(fname)
        cases += keepdims_and_axis_none_cases(fname)
        cases += out_cases(fname)
    return cases


CASES = table()
