# cython: language_level=3, boundscheck=False, wraparound=False
# cython: initializedcheck=False, cdivision=True
"""fastsoftmax._testing: test-only hooks into the kernels (private).

``exp`` is the vectorised exponential behind every kernel, elementwise, at
the instruction set fastsoftmax._core selected, and ``exp_diff`` the
``exp(x - max)`` of the row kernels, for tests/test_exp_accuracy.py.
``pairwise_sum`` is the sum the cross-entropy drivers combine their partial
sums with, for tests/test_tiny_calls.py.
"""
from cython cimport floating

from fastsoftmax import _core

from fsm_kernels cimport *  # generated from cext/fsm_kernel_list.h by setup.py

# the level _core chose (which warns about a bad FASTSOFTMAX_ISA)
if not fsm_testing_select(_core.isa_selected().encode()):
    raise ImportError(f"no test kernels for {_core.isa_selected()!r}")


def exp(const floating[::1] x, floating[::1] out):
    """Elementwise vectorised exp of a 1-D array into out."""
    with nogil:
        if floating is float:
            fsm_exp_f32(&x[0], &out[0], x.shape[0])
        else:
            fsm_exp_f64(&x[0], &out[0], x.shape[0])


def exp_diff(const floating[::1] x, floating b, floating[::1] out, bint near):
    """out = exp(x - b) elementwise (every x <= b finite) by the row kernels'
    exponential: the uncompensated difference where near (x within 8 of b,
    float32), else the TwoSum-compensated one."""
    with nogil:
        if floating is float:
            fsm_exp_diff_f32(&x[0], b, &out[0], x.shape[0], near)
        else:
            fsm_exp_diff_f64(&x[0], b, &out[0], x.shape[0], near)


cdef extern from "fsm_pairwise.h" nogil:
    double fsm_pairwise_sum(const double *a, Py_ssize_t n)


def pairwise_sum(const double[::1] a):
    """The sum of a 1-D float64 array as the cross-entropy drivers combine
    their partial sums (fsm_pairwise.h: numpy.sum's order)."""
    return fsm_pairwise_sum(&a[0], a.shape[0])
