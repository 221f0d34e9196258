/*
 * fsm_backward.h -- the backward passes of the softmax family: given the
 * forward output y and the gradient g of a loss with respect to it, the
 * gradient with respect to the forward input, row by row.  A template, like
 * fsm_rowpass.h.
 *
 *   softmax:      out = y (g - sum(g y))
 *   log_softmax:  out = g - exp(y) sum(g)     (y the log-probabilities)
 *
 * Pass 1 sums the row (products in the element type, the sum in double);
 * pass 2 writes out element by element, each element read before its own
 * store: out may be g or y itself (in place).  Special values come from the
 * arithmetic alone, as in PyTorch: a NaN product (0 * inf included) makes
 * its whole row NaN.
 */
#include "fsm_kernels.h"
#include "fsm_simd.h"

#ifndef FSM_T
#error "a template: include fsm_type_f32.h or fsm_type_f64.h first"
#endif
#if (FSM_TID == 32 && !defined(FSM_BACKWARD_F32)) || (FSM_TID == 64 && !defined(FSM_BACKWARD_F64))
#if FSM_TID == 32
#define FSM_BACKWARD_F32
#else
#define FSM_BACKWARD_F64
#endif

/* sum(g[0:n] * y[0:n]) (y == NULL: sum(g)), the terms in FSM_T, summed in double */
FSM_INLINE double FSM_FN(bw_rowsum)(const FSM_T *g, const FSM_T *y, ptrdiff_t n)
{
    FSM_DACC a0, a1;
    FSM_FN(fsm_dacc_zero)(&a0);
    FSM_FN(fsm_dacc_zero)(&a1);
    ptrdiff_t j = 0;
    for (; j + 2 * FSM_LANES <= n; j += 2 * FSM_LANES) {
        FSM_VT g0 = FSM_FN(fsm_loadu)(g + j), g1 = FSM_FN(fsm_loadu)(g + j + FSM_LANES);
        if (y) {
            g0 = g0 * FSM_FN(fsm_loadu)(y + j);
            g1 = g1 * FSM_FN(fsm_loadu)(y + j + FSM_LANES);
        }
        FSM_FN(fsm_dacc_add)(&a0, g0);
        FSM_FN(fsm_dacc_add)(&a1, g1);
    }
    for (; j < n; j += FSM_LANES) {
        const ptrdiff_t r = n - j;
        FSM_VT gv = r >= FSM_LANES ? FSM_FN(fsm_loadu)(g + j) : FSM_FN(fsm_load_tail)(g + j, r, 0);
        if (y) gv = gv * (r >= FSM_LANES ? FSM_FN(fsm_loadu)(y + j) : FSM_FN(fsm_load_tail)(y + j, r, 0));
        FSM_FN(fsm_dacc_add)(&a0, gv);
    }
    return FSM_FN(fsm_dacc_sum)(&a0) + FSM_FN(fsm_dacc_sum)(&a1);
}

FSM_INLINE void FSM_FN(kernel_softmax_backward)(FSM_FN(fsm_rows) gr, FSM_FN(fsm_rows) yr,
                                                FSM_FN(fsm_out) out)
{
    const ptrdiff_t n = gr.ncols;
    for (ptrdiff_t i = 0; i < gr.nrows; i++) {
        const FSM_T *g = gr.data + i * gr.stride, *y = yr.data + i * yr.stride;
        FSM_T *o = out.data + i * out.stride;
        const FSM_VT dot = FSM_FN(fsm_splat)((FSM_T)FSM_FN(bw_rowsum)(g, y, n));
        for (ptrdiff_t j = 0; j < n; j += FSM_LANES) {
            const ptrdiff_t r = n - j;
            if (r >= FSM_LANES) {
                FSM_VT gv = FSM_FN(fsm_loadu)(g + j), yv = FSM_FN(fsm_loadu)(y + j);
                FSM_FN(fsm_storeu)(o + j, yv * (gv - dot));
            } else {
                FSM_VT gv = FSM_FN(fsm_load_tail)(g + j, r, 0), yv = FSM_FN(fsm_load_tail)(y + j, r, 0);
                FSM_FN(fsm_store_tail)(o + j, yv * (gv - dot), r);
            }
        }
    }
}

FSM_INLINE void FSM_FN(kernel_log_softmax_backward)(FSM_FN(fsm_rows) gr, FSM_FN(fsm_rows) yr,
                                                    FSM_FN(fsm_out) out)
{
    const ptrdiff_t n = gr.ncols;
    for (ptrdiff_t i = 0; i < gr.nrows; i++) {
        const FSM_T *g = gr.data + i * gr.stride, *y = yr.data + i * yr.stride;
        FSM_T *o = out.data + i * out.stride;
        const FSM_VT sum = FSM_FN(fsm_splat)((FSM_T)FSM_FN(bw_rowsum)(g, NULL, n));
        for (ptrdiff_t j = 0; j < n; j += FSM_LANES) {
            const ptrdiff_t r = n - j;
            if (r >= FSM_LANES) {
                FSM_VT gv = FSM_FN(fsm_loadu)(g + j), yv = FSM_FN(fsm_loadu)(y + j);
                FSM_FN(fsm_storeu)(o + j, gv - FSM_FN(fsm_vexp)(yv) * sum);
            } else {
                FSM_VT gv = FSM_FN(fsm_load_tail)(g + j, r, 0), yv = FSM_FN(fsm_load_tail)(y + j, r, 0);
                FSM_FN(fsm_store_tail)(o + j, gv - FSM_FN(fsm_vexp)(yv) * sum, r);
            }
        }
    }
}

#endif
