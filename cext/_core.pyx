# cython: language_level=3, boundscheck=False, wraparound=False
# cython: initializedcheck=False, cdivision=True
"""fastsoftmax._core: the compiled drivers of the C kernels (private).

The Python layer validates every argument and hands over C-contiguous,
aligned, native-order arrays (see CORE_API in the repository's notes); these
functions never check them.  Rows are split into chunks whose size depends
only on the shape (``_rows_per_chunk``), each chunk is computed by one call
of a C kernel, and the chunks are shared between OpenMP threads
dynamically: a chunk's result never depends on which thread computes it,
so every answer is bitwise the same for any number of threads.
"""
import os
import warnings

import numpy as np

from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int64_t

from fsm_kernels cimport *  # generated from cext/fsm_kernel_list.h by setup.py


# ------------------------------------------------------------------ module state

def openmp_enabled():
    """Whether the kernels were compiled with OpenMP."""
    return bool(fsm_openmp_enabled())


def omp_max_threads():
    """``omp_get_max_threads()`` (1 without OpenMP)."""
    return fsm_omp_max_threads()


def isa_selected():
    """Name of the instruction set the kernels run, e.g. ``"x86-64-v4 (AVX-512)"``."""
    return fsm_isa_selected().decode()


def isa_compiled():
    """Comma-separated names of the instruction sets compiled in."""
    return fsm_isa_compiled().decode()


def _init_isa():
    # FASTSOFTMAX_ISA=avx512|avx2|baseline caps the instruction set the
    # kernels use (default: the best this CPU supports).  Read once, here.
    req = os.environ.get("FASTSOFTMAX_ISA", "").strip().lower()
    status = fsm_isa_init(req.encode())
    if status == 1:
        warnings.warn(f"FASTSOFTMAX_ISA={req!r} is not one of avx512, avx2, baseline: "
                      f"ignored (using {isa_selected()})", RuntimeWarning, stacklevel=2)
    elif status == 2:
        warnings.warn(f"FASTSOFTMAX_ISA={req!r} is not available on this CPU or in this "
                      f"build: using {isa_selected()}", RuntimeWarning, stacklevel=2)


_init_isa()


# ------------------------------------------------------------------ chunk policy

# Rows are handed out in chunks of about this many elements: large enough that
# the per-call cost (ISA dispatch, loop set-up) vanishes, small enough to share
# the work evenly.  The chunk geometry depends only on the shape, never on the
# thread count: it is also the granularity of the cross-entropy's partial sums.
cdef enum:
    CHUNK_ELEMS = 16384

# Rows the softcap path transforms at a time: about this many bytes of logits
# (a multiple of the partial-sum granularity), so its temporaries are O(chunk),
# never N x C.  A module attribute, read at each call.
SOFTCAP_CHUNK_BYTES = 32 << 20


cdef inline Py_ssize_t _rows_per_chunk(Py_ssize_t ncols) noexcept nogil:
    if ncols >= CHUNK_ELEMS:
        return 1
    return CHUNK_ELEMS // (ncols if ncols > 0 else 1)


cdef inline Py_ssize_t _n_chunks(Py_ssize_t n, Py_ssize_t per_chunk) noexcept nogil:
    return (n + per_chunk - 1) // per_chunk


# ------------------------------------------------------------------ softmax family

cdef enum RowOp:
    SOFTMAX
    LOG_SOFTMAX
    LOGSUMEXP


cdef inline void _row_op(RowOp op, const floating *x, floating *out, Py_ssize_t nrows,
                         Py_ssize_t ncols) noexcept nogil:
    # rows [0, nrows) of x into out (one value per row for logsumexp)
    if floating is float:
        if op == SOFTMAX:
            fsm_softmax_f32(fsm_rows_f32(x, ncols, nrows, ncols), fsm_out_f32(out, ncols))
        elif op == LOG_SOFTMAX:
            fsm_log_softmax_f32(fsm_rows_f32(x, ncols, nrows, ncols), fsm_out_f32(out, ncols))
        else:
            fsm_logsumexp_f32(fsm_rows_f32(x, ncols, nrows, ncols), out)
    else:
        if op == SOFTMAX:
            fsm_softmax_f64(fsm_rows_f64(x, ncols, nrows, ncols), fsm_out_f64(out, ncols))
        elif op == LOG_SOFTMAX:
            fsm_log_softmax_f64(fsm_rows_f64(x, ncols, nrows, ncols), fsm_out_f64(out, ncols))
        else:
            fsm_logsumexp_f64(fsm_rows_f64(x, ncols, nrows, ncols), out)


cdef void _run_rows(RowOp op, const floating[:, ::1] x, floating *out,
                    int n_threads) noexcept nogil:
    cdef Py_ssize_t nrows = x.shape[0], ncols = x.shape[1]
    cdef Py_ssize_t rpc = _rows_per_chunk(ncols), nchunks = _n_chunks(nrows, rpc)
    cdef Py_ssize_t ostride = 1 if op == LOGSUMEXP else ncols
    cdef Py_ssize_t ch, r0, r1
    if nrows == 0:
        return
    if n_threads <= 1 or nchunks <= 1:
        _row_op(op, &x[0, 0], out, nrows, ncols)
        return
    for ch in prange(nchunks, schedule="dynamic", chunksize=1, num_threads=n_threads):
        r0 = ch * rpc
        r1 = min(r0 + rpc, nrows)
        _row_op(op, &x[r0, 0], out + r0 * ostride, r1 - r0, ncols)


def softmax(const floating[:, ::1] x, floating[:, ::1] out, int n_threads):
    """Softmax of each row of x into out (which may be x)."""
    with nogil:
        _run_rows(SOFTMAX, x, &out[0, 0], n_threads)


def log_softmax(const floating[:, ::1] x, floating[:, ::1] out, int n_threads):
    """log_softmax of each row of x into out (which may be x)."""
    with nogil:
        _run_rows(LOG_SOFTMAX, x, &out[0, 0], n_threads)


def logsumexp(const floating[:, ::1] x, floating[::1] out, int n_threads):
    """logsumexp of each row of x into out (one value per row)."""
    with nogil:
        _run_rows(LOGSUMEXP, x, &out[0], n_threads)


# ------------------------------------------------------------------ elementwise

cdef inline void _logistic(bint log, const floating *x, floating *out,
                           Py_ssize_t n) noexcept nogil:
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


cdef void _run_logistic(bint log, const floating[::1] x, floating[::1] out,
                        int n_threads) noexcept nogil:
    cdef Py_ssize_t n = x.shape[0], nchunks = _n_chunks(n, CHUNK_ELEMS), ch, j0, j1
    if n == 0:
        return
    if n_threads <= 1 or nchunks <= 1:
        _logistic(log, &x[0], &out[0], n)
        return
    for ch in prange(nchunks, schedule="dynamic", chunksize=1, num_threads=n_threads):
        j0 = ch * CHUNK_ELEMS
        j1 = min(j0 + CHUNK_ELEMS, n)
        _logistic(log, &x[j0], &out[j0], j1 - j0)


def sigmoid(const floating[::1] x, floating[::1] out, int n_threads):
    """Elementwise logistic sigmoid of a 1-D array."""
    with nogil:
        _run_logistic(False, x, out, n_threads)


def log_sigmoid(const floating[::1] x, floating[::1] out, int n_threads):
    """Elementwise log-sigmoid of a 1-D array."""
    with nogil:
        _run_logistic(True, x, out, n_threads)


# ------------------------------------------------------------------ cross-entropy

# One fused cross-entropy problem, for rows [0, nrows): the targets, class
# weights and outputs (NULL where absent; untyped: the element type is the
# logits'), the kernel's options; partials[k] receives the loss sum of chunk k.
cdef struct CEProblem:
    Py_ssize_t nrows, ncols
    bint index_target
    const int64_t *target_index
    const void *target_prob
    const void *weight
    double *loss_rows
    void *grad
    fsm_ce_options options
    double *partials


cdef inline double _ce_chunk(const CEProblem *p, const floating *x, Py_ssize_t r0,
                             Py_ssize_t r1) noexcept nogil:
    # the loss sum of rows [r0, r1), whose logits start at x
    cdef Py_ssize_t n = p.ncols
    cdef double *lr = p.loss_rows + r0 if p.loss_rows != NULL else NULL
    cdef floating *g = <floating *>p.grad + r0 * n if p.grad != NULL else NULL
    cdef const floating *w = <const floating *>p.weight
    cdef const floating *t = <const floating *>p.target_prob + r0 * n
    if floating is float:
        if p.index_target:
            return fsm_ce_index_f32(fsm_rows_f32(x, n, r1 - r0, n), p.target_index + r0, w,
                                    &p.options, fsm_ce_out_f32(lr, g, n))
        return fsm_ce_prob_f32(fsm_rows_f32(x, n, r1 - r0, n), fsm_rows_f32(t, n, r1 - r0, n),
                               w, &p.options, fsm_ce_out_f32(lr, g, n))
    else:
        if p.index_target:
            return fsm_ce_index_f64(fsm_rows_f64(x, n, r1 - r0, n), p.target_index + r0, w,
                                    &p.options, fsm_ce_out_f64(lr, g, n))
        return fsm_ce_prob_f64(fsm_rows_f64(x, n, r1 - r0, n), fsm_rows_f64(t, n, r1 - r0, n),
                               w, &p.options, fsm_ce_out_f64(lr, g, n))


cdef void _ce_run(const CEProblem *p, const floating *x, Py_ssize_t r0, Py_ssize_t r1,
                  int n_threads) noexcept nogil:
    # rows [r0, r1) (r0 a multiple of the chunk rows), their logits at x:
    # fills the partials of their chunks
    cdef Py_ssize_t rpc = _rows_per_chunk(p.ncols), nchunks = _n_chunks(r1 - r0, rpc)
    cdef Py_ssize_t first = r0 // rpc, ch, a, b
    if n_threads <= 1 or nchunks <= 1:
        for ch in range(nchunks):
            a = r0 + ch * rpc
            b = min(a + rpc, r1)
            p.partials[first + ch] = _ce_chunk(p, x + (a - r0) * p.ncols, a, b)
        return
    for ch in prange(nchunks, schedule="dynamic", chunksize=1, num_threads=n_threads):
        a = r0 + ch * rpc
        b = min(a + rpc, r1)
        p.partials[first + ch] = _ce_chunk(p, x + (a - r0) * p.ncols, a, b)


cdef double _cross_entropy(CEProblem *p, const floating[:, ::1] x, object target_rows,
                           object weight, object softcap, object grad, bint x_is_scratch,
                           int n_threads) except? -1.0:
    # fills p's partials (softcap: chunk by chunk of capped logits) and
    # returns their NumPy sum
    cdef Py_ssize_t nrows = x.shape[0], ncols = x.shape[1]
    cdef Py_ssize_t rpc = _rows_per_chunk(ncols), rows, r0, r1
    cdef const floating[:, ::1] xs_view
    partials = np.zeros(_n_chunks(nrows, rpc), dtype=np.float64)
    cdef double[::1] pv = partials
    p.nrows, p.ncols = nrows, ncols
    p.partials = &pv[0] if pv.shape[0] else NULL
    p.options.weight_sum = (<double>ncols if weight is None
                            else float(weight.sum(dtype=np.float64)))
    if nrows == 0:
        return float(partials.sum())
    if softcap is None:
        with nogil:
            _ce_run(p, &x[0, 0], 0, nrows, n_threads)
        return float(partials.sum())
    # softcap: c * tanh(x / c) chunk by chunk, into a chunk buffer (into x itself
    # when it is scratch), then the kernel; the gradient times 1 - tanh**2.
    xa = x.base
    rows = max(rpc, SOFTCAP_CHUNK_BYTES // max(1, ncols * xa.itemsize) // rpc * rpc)
    rows = min(rows, max(nrows, 1))
    xs_buf = None if x_is_scratch else np.empty((rows, ncols), dtype=xa.dtype)
    for r0 in range(0, nrows, rows):
        r1 = min(r0 + rows, nrows)
        xs = xa[r0:r1] if x_is_scratch else xs_buf[:r1 - r0]
        np.divide(xa[r0:r1], softcap, out=xs)
        np.tanh(xs, out=xs)
        xs *= softcap
        xs_view = xs
        with nogil:
            _ce_run(p, &xs_view[0, 0], r0, r1, n_threads)
        if grad is not None:
            # d(c tanh(x/c))/dx = 1 - tanh(x/c)**2, from the capped values
            gc = grad[r0:r1]
            np.divide(xs, softcap, out=xs)
            np.square(xs, out=xs)
            np.subtract(1, xs, out=xs)
            gc *= xs
            if target_rows is not None:  # 0 * (NaN or inf) in an ignored row stays 0
                gc[np.flatnonzero(target_rows[r0:r1] == p.options.ignore_index)] = 0
    return float(partials.sum())


def cross_entropy_index(const floating[:, ::1] x, const int64_t[::1] target, *,
                        int64_t ignore_index, weight, double label_smoothing,
                        double z_loss, softcap, double scale, double[::1] loss_rows,
                        floating[:, ::1] grad, bint x_is_scratch, int n_threads):
    """Fused cross-entropy of the rows of x with class-index targets.

    Writes the per-row losses into loss_rows and the gradient into grad (each
    when not None); returns the sum of the row losses.
    """
    cdef CEProblem p
    cdef const floating[::1] w = weight
    p.index_target = True
    p.target_index = &target[0]
    p.target_prob = NULL
    p.weight = &w[0] if w is not None else NULL
    p.options = fsm_ce_options(ignore_index=ignore_index, weight_sum=0.0,
                               label_smoothing=label_smoothing, z_loss=z_loss,
                               grad_scale=scale)
    p.loss_rows = &loss_rows[0] if loss_rows is not None else NULL
    p.grad = &grad[0, 0] if grad is not None else NULL
    return _cross_entropy(&p, x, None if softcap is None else target.base, weight,
                          softcap, None if grad is None else grad.base, x_is_scratch,
                          n_threads)


def cross_entropy_prob(const floating[:, ::1] x, const floating[:, ::1] target, *, weight,
                       double label_smoothing, double z_loss, softcap, double scale,
                       double[::1] loss_rows, floating[:, ::1] grad, bint x_is_scratch,
                       int n_threads):
    """Fused cross-entropy of the rows of x with probability targets (x's shape).

    Writes the per-row losses into loss_rows and the gradient into grad (each
    when not None); returns the sum of the row losses.
    """
    cdef CEProblem p
    cdef const floating[::1] w = weight
    p.index_target = False
    p.target_index = NULL
    p.target_prob = &target[0, 0]
    p.weight = &w[0] if w is not None else NULL
    p.options = fsm_ce_options(ignore_index=0, weight_sum=0.0,
                               label_smoothing=label_smoothing, z_loss=z_loss,
                               grad_scale=scale)
    p.loss_rows = &loss_rows[0] if loss_rows is not None else NULL
    p.grad = &grad[0, 0] if grad is not None else NULL
    return _cross_entropy(&p, x, None, weight, softcap, None if grad is None else grad.base,
                          x_is_scratch, n_threads)
