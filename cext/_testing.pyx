# cython: language_level=3, boundscheck=False, wraparound=False
# cython: initializedcheck=False, cdivision=True
"""fastsoftmax._testing: test-only hooks into the kernels (private).

``exp`` is the vectorised exponential behind every kernel, elementwise, at
the instruction set fastsoftmax._core selected, for tests/test_exp_accuracy.py.
"""
from cython cimport floating

from fastsoftmax import _core

cdef extern from "fsm_rowops.h" nogil:
    void fsm_exp_f32(const float *x, float *out, Py_ssize_t n)
    void fsm_exp_f64(const double *x, double *out, Py_ssize_t n)
    int fsm_isa_init(const char *request)

# the level _core chose (which warns about a bad FASTSOFTMAX_ISA)
fsm_isa_init(_core.isa_selected().split(" ")[0].encode())


def exp(const floating[::1] x, floating[::1] out):
    """Elementwise vectorised exp of a 1-D array into out."""
    with nogil:
        if floating is float:
            fsm_exp_f32(&x[0], &out[0], x.shape[0])
        else:
            fsm_exp_f64(&x[0], &out[0], x.shape[0])
