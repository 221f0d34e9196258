# cython: language_level=3, boundscheck=False, wraparound=False
# cython: initializedcheck=False, cdivision=True
"""Compiled drivers of the fused cross-entropy kernels (private).

Rows are split into chunks whose size depends only on the shape; each chunk's
loss sum is stored in ``partial[chunk]`` and the Python layer adds those up in
order, so the reduced loss is bitwise the same for any number of threads (and
whichever thread computes a chunk: they are handed out dynamically) and the
extra memory is O(chunks), not O(N x C).
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int64_t

cdef extern from "fsm_rowops.h" nogil:
    double fsm_ce_index_f32(const float *x, Py_ssize_t ldx, Py_ssize_t nrows, Py_ssize_t ncols,
                            const int64_t *target, int64_t ignore_index,
                            const float *weight, double wsum, double eps, double z_loss,
                            double *loss_rows, float *grad, Py_ssize_t ldg, double scale)
    double fsm_ce_index_f64(const double *x, Py_ssize_t ldx, Py_ssize_t nrows, Py_ssize_t ncols,
                            const int64_t *target, int64_t ignore_index,
                            const double *weight, double wsum, double eps, double z_loss,
                            double *loss_rows, double *grad, Py_ssize_t ldg, double scale)
    double fsm_ce_prob_f32(const float *x, Py_ssize_t ldx, Py_ssize_t nrows, Py_ssize_t ncols,
                           const float *t, Py_ssize_t ldt, const float *weight, double eps,
                           double z_loss,
                           double *loss_rows, float *grad, Py_ssize_t ldg, double scale)
    double fsm_ce_prob_f64(const double *x, Py_ssize_t ldx, Py_ssize_t nrows, Py_ssize_t ncols,
                           const double *t, Py_ssize_t ldt, const double *weight, double eps,
                           double z_loss,
                           double *loss_rows, double *grad, Py_ssize_t ldg, double scale)

    int fsm_isa_init(const char *request)
    const char *fsm_isa_selected()


def _init_isa():
    # the same choice as fastsoftmax._kernels (which warns about bad values)
    import os
    fsm_isa_init(os.environ.get("FASTSOFTMAX_ISA", "").strip().lower().encode())


def isa_selected():
    return fsm_isa_selected().decode()


_init_isa()


cdef enum:
    CHUNK_ELEMS = 16384


def rows_per_chunk(Py_ssize_t ncols):
    """Rows per chunk for a row length: the partial sums' granularity."""
    if ncols >= CHUNK_ELEMS:
        return 1
    return CHUNK_ELEMS // (ncols if ncols > 0 else 1)


cdef inline double _ce_index_rows(const floating *x, Py_ssize_t nrows, Py_ssize_t ncols,
                                  const int64_t *target, int64_t ignore_index,
                                  const floating *weight, double wsum, double eps,
                                  double z_loss, double *loss_rows, floating *grad,
                                  double scale) noexcept nogil:
    if floating is float:
        return fsm_ce_index_f32(x, ncols, nrows, ncols, target, ignore_index, weight, wsum,
                                eps, z_loss, loss_rows, grad, ncols, scale)
    else:
        return fsm_ce_index_f64(x, ncols, nrows, ncols, target, ignore_index, weight, wsum,
                                eps, z_loss, loss_rows, grad, ncols, scale)


cdef inline double _ce_prob_rows(const floating *x, Py_ssize_t nrows, Py_ssize_t ncols,
                                 const floating *t, const floating *weight, double eps,
                                 double z_loss, double *loss_rows, floating *grad,
                                 double scale) noexcept nogil:
    if floating is float:
        return fsm_ce_prob_f32(x, ncols, nrows, ncols, t, ncols, weight, eps, z_loss,
                               loss_rows, grad, ncols, scale)
    else:
        return fsm_ce_prob_f64(x, ncols, nrows, ncols, t, ncols, weight, eps, z_loss,
                               loss_rows, grad, ncols, scale)


def ce_index(const floating[:, ::1] x, const int64_t[::1] target, int64_t ignore_index,
             const floating[::1] weight, double wsum, double eps, double z_loss,
             double[::1] partial, double[::1] loss_rows, floating[:, ::1] grad,
             double scale, int n_threads):
    """Fused cross-entropy with class-index targets.

    ``weight``, ``loss_rows`` and ``grad`` may be None.  ``partial`` has one
    slot per chunk (see rows_per_chunk) and receives each chunk's loss sum.
    ``z_loss`` adds ``z_loss * lse**2`` per counted row (and its gradient).
    """
    cdef Py_ssize_t nrows = x.shape[0], ncols = x.shape[1]
    cdef Py_ssize_t rpc = rows_per_chunk(ncols)
    cdef Py_ssize_t nchunks = partial.shape[0], ch, r0, r1
    cdef const floating *wp = &weight[0] if weight is not None else NULL
    cdef double *lp = &loss_rows[0] if loss_rows is not None else NULL
    cdef floating *gp = &grad[0, 0] if grad is not None else NULL
    if nrows == 0:
        return
    with nogil:
        for ch in prange(nchunks, schedule="dynamic", num_threads=n_threads):
            r0 = ch * rpc
            r1 = min(r0 + rpc, nrows)
            partial[ch] = _ce_index_rows(
                &x[r0, 0], r1 - r0, ncols, &target[r0], ignore_index, wp, wsum, eps, z_loss,
                lp + r0 if lp != NULL else NULL, gp + r0 * ncols if gp != NULL else NULL,
                scale)


def ce_prob(const floating[:, ::1] x, const floating[:, ::1] t, const floating[::1] weight,
            double eps, double z_loss, double[::1] partial, double[::1] loss_rows,
            floating[:, ::1] grad, double scale, int n_threads):
    """Fused cross-entropy with probability targets (same shape as x)."""
    cdef Py_ssize_t nrows = x.shape[0], ncols = x.shape[1]
    cdef Py_ssize_t rpc = rows_per_chunk(ncols)
    cdef Py_ssize_t nchunks = partial.shape[0], ch, r0, r1
    cdef const floating *wp = &weight[0] if weight is not None else NULL
    cdef double *lp = &loss_rows[0] if loss_rows is not None else NULL
    cdef floating *gp = &grad[0, 0] if grad is not None else NULL
    if nrows == 0:
        return
    with nogil:
        for ch in prange(nchunks, schedule="dynamic", num_threads=n_threads):
            r0 = ch * rpc
            r1 = min(r0 + rpc, nrows)
            partial[ch] = _ce_prob_rows(
                &x[r0, 0], r1 - r0, ncols, &t[r0, 0], wp, eps, z_loss,
                lp + r0 if lp != NULL else NULL, gp + r0 * ncols if gp != NULL else NULL,
                scale)
