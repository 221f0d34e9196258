"""TEMPORARY: the contract of the compiled module ``fastsoftmax._core``, in
Python, on top of today's ``_kernels`` and ``_losses``.

``fastsoftmax._driver`` imports this module in place of ``_core`` until the
compiled module exists; then this file is deleted and that one import is
pointed at ``_core``.  It implements exactly the contract (same names,
arguments and results) and nothing more: the preconditions (C-contiguous,
aligned, native-endian arrays of the stated dtypes; class indices already
checked) are the caller's, as they will be for ``_core``.  What it adds to the
extension modules is what the compiled driver will own: sizing the
cross-entropy chunk partials, running the softcap row-chunk loop, and
summing the partials.
"""
from __future__ import annotations

import numpy as np

from . import _kernels, _losses

openmp_enabled = _kernels.openmp_enabled
omp_max_threads = _kernels.omp_max_threads
isa_selected = _kernels.isa_selected
isa_compiled = _kernels.isa_compiled


def softmax(x, out, n_threads):
    _kernels.softmax(x, out, n_threads)


def log_softmax(x, out, n_threads):
    _kernels.log_softmax(x, out, n_threads)


def logsumexp(x, out, n_threads):
    _kernels.logsumexp(x, out, n_threads)


def sigmoid(x, out, n_threads):
    _kernels.logistic(x, out, False, n_threads)


def log_sigmoid(x, out, n_threads):
    _kernels.logistic(x, out, True, n_threads)


# Rows the softcap path transforms at a time: about this many bytes of
# logits, so its temporaries are O(chunk), never N x C.
_EXTRA_CHUNK_BYTES = 32 << 20


def cross_entropy_index(x, target, *, ignore_index, weight, label_smoothing, z_loss,
                        softcap, scale, loss_rows, grad, x_is_scratch, n_threads):
    wsum = float(x.shape[1]) if weight is None else float(weight.sum(dtype=np.float64))

    def kernel(xs, tc, pc, lr, gc):
        _losses.ce_index(xs, tc, ignore_index, weight, wsum, label_smoothing, z_loss, pc,
                         lr, gc, scale, n_threads)

    return _run(kernel, x, target, softcap, loss_rows, grad, x_is_scratch, ignore_index)


def cross_entropy_prob(x, target, *, weight, label_smoothing, z_loss, softcap, scale,
                       loss_rows, grad, x_is_scratch, n_threads):
    def kernel(xs, tc, pc, lr, gc):
        _losses.ce_prob(xs, tc, weight, label_smoothing, z_loss, pc, lr, gc, scale,
                        n_threads)

    return _run(kernel, x, target, softcap, loss_rows, grad, x_is_scratch, None)


def _run(kernel, x, t, softcap, loss_rows, grad, scratch, ignore_index):
    """The fused kernel over all rows, one partial sum per chunk of rows.

    The z-loss term is computed by the kernel itself.  Without softcap this is
    one kernel call.  With it, the rows are processed in chunks of about
    _EXTRA_CHUNK_BYTES (a multiple of the kernel's partial-sum granularity, so
    the partials are filled exactly as by one call): the chunk is soft-capped
    (``c * tanh(x / c)``) into a chunk buffer (into ``x`` itself when
    ``scratch``), the kernel runs on it, and the gradient is multiplied by the
    softcap's derivative ``1 - tanh**2``.  Ignored rows keep zero loss and
    gradient.
    """
    nrows, ncols = x.shape
    rpc = _losses.rows_per_chunk(ncols)
    partial = np.zeros(-(-nrows // rpc), dtype=np.float64)
    if softcap is None:
        kernel(x, t, partial, loss_rows, grad)
        return float(partial.sum())
    rows = max(rpc, _EXTRA_CHUNK_BYTES // max(1, ncols * x.itemsize) // rpc * rpc)
    rows = min(rows, max(nrows, 1))
    xs_buf = None if scratch else np.empty((rows, ncols), dtype=x.dtype)
    for r0 in range(0, nrows, rows):
        r1 = min(r0 + rows, nrows)
        xs = x[r0:r1] if scratch else xs_buf[:r1 - r0]
        np.divide(x[r0:r1], softcap, out=xs)
        np.tanh(xs, out=xs)
        xs *= softcap
        tc = t[r0:r1]
        lr = None if loss_rows is None else loss_rows[r0:r1]
        gc = None if grad is None else grad[r0:r1]
        kernel(xs, tc, partial[r0 // rpc:-(-r1 // rpc)], lr, gc)
        if gc is not None:
            # d(c tanh(x/c))/dx = 1 - tanh(x/c)**2, from the capped values
            np.divide(xs, softcap, out=xs)
            np.square(xs, out=xs)
            np.subtract(1, xs, out=xs)
            gc *= xs
            if ignore_index is not None:  # 0 * (NaN or inf) in an ignored row stays 0
                gc[np.flatnonzero(tc == ignore_index)] = 0
    return float(partial.sum())
