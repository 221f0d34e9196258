"""Thread counts: num_threads= of the threaded functions and of the linear
cross-entropy, and set_num_threads.

Bad counts raise a clear exception; any valid count -- including counts far
above the CPUs and 2**40, which do not fit a C int -- gives bitwise the
answer of any other count (the compiled functions) or the reference answer,
without starting a thread storm (the huge counts run under an address-space
limit, in a child interpreter: ``_runner``).
"""
from __future__ import annotations

import numpy as np

import fastsoftmax as fs
from bad_input._cases import (BIG_THREADS, BITWISE, HUGE_THREADS, LINEAR_FAMILY, REF, THREADED,
                              Raises, big_threads_input, collector, hidden, labels, linear_args,
                              small, table_of, weight)
from bad_input._table_tests import (  # noqa: F401  (this table's two tests)
    test_bad_input, test_every_function_of_the_family_has_cases)

FUNCTIONS = THREADED + LINEAR_FAMILY


def num_threads_cases(fname):
    """num_threads= of softmax, log_softmax, logsumexp and the
    cross-entropy, and a huge set_num_threads."""
    cases, add = collector(fname, "args/")
    nt_msg = r"num_threads must be a positive integer or None, got "
    add("num_threads_zero", small(fname, num_threads=0), Raises(ValueError, nt_msg + "0"))
    add("num_threads_negative", small(fname, num_threads=-3), Raises(ValueError, nt_msg + "-3"))
    add("num_threads_float", small(fname, num_threads=2.0), Raises(TypeError, nt_msg + "2.0"))
    add("num_threads_bool", small(fname, num_threads=True), Raises(TypeError, nt_msg + "True"))
    add("num_threads_str", small(fname, num_threads="2"), Raises(TypeError, nt_msg + "'2'"))
    add("num_threads_numpy_int", small(fname, num_threads=np.int32(2)), BITWISE)
    add("num_threads_more_than_cpus", lambda: (lambda a, k: (a, dict(k, num_threads=8)))(
        *big_threads_input(fname)), BITWISE)
    # a huge count is capped (_threads.resolve): the call runs, on fewer threads,
    # and gives bitwise the answer of any other count
    add("num_threads_1e6_small_input", small(fname, num_threads=BIG_THREADS), BITWISE)
    add("num_threads_1e6", lambda: (lambda a, k: (a, dict(k, num_threads=BIG_THREADS)))(
        *big_threads_input(fname)), BITWISE, limit_as=True)
    add("num_threads_2_40", lambda: (lambda a, k: (a, dict(k, num_threads=HUGE_THREADS)))(
        *big_threads_input(fname)), BITWISE, limit_as=True)
    add("num_threads_2_40_small_input", small(fname, num_threads=HUGE_THREADS), BITWISE)

    def via_set_num_threads(*args, **kw):
        fs.set_num_threads(BIG_THREADS)
        try:
            return getattr(fs, fname)(*args, **kw)
        finally:
            fs.set_num_threads(None)
    if fname in ("softmax", "cross_entropy"):   # (each crash costs a new child)
        add("set_num_threads_1e6", lambda: big_threads_input(fname), BITWISE,
            limit_as=True, call=via_set_num_threads)
    return cases


def linear_num_threads_cases(fname):
    """num_threads= of the linear cross-entropy."""
    cases, add = collector(fname, "")
    nt_msg = r"num_threads must be a positive integer or None, got "
    add("args/num_threads_zero", lambda: linear_args(num_threads=0),
        Raises(ValueError, nt_msg + "0"))
    add("args/num_threads_float", lambda: linear_args(num_threads=1.5),
        Raises(TypeError, nt_msg + "1.5"))

    def big(**kw):  # a tile above the serial threshold: the parallel kernels run
        return lambda: linear_args(hidden((300, 8)), weight((300, 8)), labels((300,), 300),
                                   **kw)
    # a huge count is capped (_threads.resolve): the call runs, on fewer threads
    add("args/num_threads_1e6", big(num_threads=BIG_THREADS), REF, limit_as=True)
    add("args/num_threads_2_40", big(num_threads=HUGE_THREADS), REF, limit_as=True)
    add("args/num_threads_2", big(num_threads=2), REF)
    return cases


CASES = table_of(THREADED, num_threads_cases) + table_of(LINEAR_FAMILY, linear_num_threads_cases)
