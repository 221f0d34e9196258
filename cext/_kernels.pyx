# cython: language_level=3, boundscheck=False, wraparound=False
# cython: initializedcheck=False, cdivision=True
"""Compiled drivers: split rows between OpenMP threads, call the C row kernels.

Private module.  The Python layer (fastsoftmax.softmax, ...) validates every
argument, allocates the outputs and hands over C-contiguous 2-D arrays; these
functions only release the GIL and partition rows.  Each row is computed by
exactly one call of a C kernel, so the result is bitwise the same for any
number of threads.
"""
from cython cimport floating
from cython.parallel cimport prange

cdef extern from "fsm_rowops.h" nogil:
    void fsm_softmax_f32(const float *x, Py_ssize_t ldx, float *out, Py_ssize_t ldo,
                         Py_ssize_t nrows, Py_ssize_t ncols)
    void fsm_softmax_f64(const double *x, Py_ssize_t ldx, double *out, Py_ssize_t ldo,
                         Py_ssize_t nrows, Py_ssize_t ncols)
    void fsm_log_softmax_f32(const float *x, Py_ssize_t ldx, float *out, Py_ssize_t ldo,
                             Py_ssize_t nrows, Py_ssize_t ncols)
    void fsm_log_softmax_f64(const double *x, Py_ssize_t ldx, double *out, Py_ssize_t ldo,
                             Py_ssize_t nrows, Py_ssize_t ncols)
    void fsm_logsumexp_f32(const float *x, Py_ssize_t ldx, float *out,
                           Py_ssize_t nrows, Py_ssize_t ncols)
    void fsm_logsumexp_f64(const double *x, Py_ssize_t ldx, double *out,
                           Py_ssize_t nrows, Py_ssize_t ncols)
    void fsm_exp_f32(const float *x, float *out, Py_ssize_t n)
    void fsm_exp_f64(const double *x, double *out, Py_ssize_t n)
    void fsm_sigmoid_f32(const float *x, float *out, Py_ssize_t n)
    void fsm_sigmoid_f64(const double *x, double *out, Py_ssize_t n)
    void fsm_log_sigmoid_f32(const float *x, float *out, Py_ssize_t n)
    void fsm_log_sigmoid_f64(const double *x, double *out, Py_ssize_t n)
    const char *fsm_isa_selected()
    const char *fsm_isa_compiled()
    int fsm_isa_init(const char *request)

cdef extern from "fsm_omp.h" nogil:
    int fsm_openmp_enabled()
    int fsm_omp_max_threads()


def _init_isa():
    # FASTSOFTMAX_ISA=avx512|avx2|baseline caps the instruction set the
    # kernels use (default: the best this CPU supports).  Read once, here.
    import os
    import warnings
    req = os.environ.get("FASTSOFTMAX_ISA", "").strip().lower()
    status = fsm_isa_init(req.encode())
    if status == 1:
        warnings.warn(f"FASTSOFTMAX_ISA={req!r} is not one of avx512, avx2, baseline: "
                      f"ignored (using {isa_selected()})", RuntimeWarning, stacklevel=2)
    elif status == 2:
        warnings.warn(f"FASTSOFTMAX_ISA={req!r} is not available on this CPU or in this "
                      f"build: using {isa_selected()}", RuntimeWarning, stacklevel=2)


def openmp_enabled():
    return bool(fsm_openmp_enabled())


def omp_max_threads():
    return fsm_omp_max_threads()


def isa_selected():
    return fsm_isa_selected().decode()


def isa_compiled():
    return fsm_isa_compiled().decode()


_init_isa()


# Rows are handed out in chunks of about this many elements: large enough that
# the per-call cost (ISA dispatch, loop set-up) vanishes, small enough to
# balance the load.  Chunks go to whichever thread is free next
# (schedule="dynamic"), so a thread whose core is taken by another process
# delays the call by one chunk, not by its static share.  The geometry depends
# only on the shape, never on the thread count or on which thread runs a
# chunk: the results do not either.
cdef enum:
    CHUNK_ELEMS = 16384


cdef inline Py_ssize_t _rows_per_chunk(Py_ssize_t ncols) noexcept nogil:
    if ncols >= CHUNK_ELEMS:
        return 1
    return CHUNK_ELEMS // (ncols if ncols > 0 else 1)


cdef inline void _softmax_rows(const floating *x, floating *out, Py_ssize_t nrows,
                               Py_ssize_t ncols, int op) noexcept nogil:
    # op: 0 softmax, 1 log_softmax, 2 logsumexp (out has one value per row)
    if floating is float:
        if op == 0:
            fsm_softmax_f32(x, ncols, out, ncols, nrows, ncols)
        elif op == 1:
            fsm_log_softmax_f32(x, ncols, out, ncols, nrows, ncols)
        else:
            fsm_logsumexp_f32(x, ncols, out, nrows, ncols)
    else:
        if op == 0:
            fsm_softmax_f64(x, ncols, out, ncols, nrows, ncols)
        elif op == 1:
            fsm_log_softmax_f64(x, ncols, out, ncols, nrows, ncols)
        else:
            fsm_logsumexp_f64(x, ncols, out, nrows, ncols)


cdef void _run_rows(const floating[:, ::1] x, floating *out, int op,
                    int n_threads) noexcept nogil:
    cdef Py_ssize_t nrows = x.shape[0], ncols = x.shape[1]
    cdef Py_ssize_t rpc = _rows_per_chunk(ncols)
    cdef Py_ssize_t nchunks = (nrows + rpc - 1) // rpc
    cdef Py_ssize_t ostride = 1 if op == 2 else ncols
    cdef Py_ssize_t ch, r0, r1
    if nrows == 0:
        return
    if n_threads <= 1 or nchunks <= 1:
        _softmax_rows(&x[0, 0], out, nrows, ncols, op)
        return
    for ch in prange(nchunks, schedule="dynamic", num_threads=n_threads):
        r0 = ch * rpc
        r1 = min(r0 + rpc, nrows)
        _softmax_rows(&x[r0, 0], out + r0 * ostride, r1 - r0, ncols, op)


def softmax(const floating[:, ::1] x, floating[:, ::1] out, int n_threads):
    with nogil:
        _run_rows(x, &out[0, 0], 0, n_threads)


def log_softmax(const floating[:, ::1] x, floating[:, ::1] out, int n_threads):
    with nogil:
        _run_rows(x, &out[0, 0], 1, n_threads)


def logsumexp(const floating[:, ::1] x, floating[::1] out, int n_threads):
    with nogil:
        _run_rows(x, &out[0], 2, n_threads)


def exp(const floating[::1] x, floating[::1] out):
    """Elementwise vectorized exp (for the accuracy tests only)."""
    with nogil:
        if floating is float:
            fsm_exp_f32(&x[0], &out[0], x.shape[0])
        else:
            fsm_exp_f64(&x[0], &out[0], x.shape[0])


cdef inline void _logistic(const floating *x, floating *out, Py_ssize_t n,
                           bint log) noexcept nogil:
    if floating is float:
        if log:
            fsm_log_sigmoid_f32(x, out, n)
        else:
            fsm_sigmoid_f32(x, out, n)
    else:
        if log:
            fsm_log_sigmoid_f64(x, out, n)
        else:
            fsm_sigmoid_f64(x, out, n)


def logistic(const floating[::1] x, floating[::1] out, bint log, int n_threads):
    """Elementwise sigmoid (log=False) or log-sigmoid (log=True) of a 1-D array."""
    cdef Py_ssize_t n = x.shape[0], nchunks, ch, j0, j1
    if n == 0:
        return
    nchunks = (n + CHUNK_ELEMS - 1) // CHUNK_ELEMS
    with nogil:
        if n_threads <= 1 or nchunks <= 1:
            _logistic(&x[0], &out[0], n, log)
        else:
            for ch in prange(nchunks, schedule="dynamic", num_threads=n_threads):
                j0 = ch * CHUNK_ELEMS
                j1 = min(j0 + CHUNK_ELEMS, n)
                _logistic(&x[j0], &out[j0], j1 - j0, log)
