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
 * pass 2 writes out element by element, each element read before it is
 * stored: out may be g or y itself (in place).  Short contiguous rows go a
 * chunk of rows at a time with full-width vectors.  Special values come from the
 * arithmetic alone, as in PyTorch: a NaN product (0 * inf included) makes
 * its whole row NaN.
 */
#include "fsm_kernels.h"
#include "fsm_simd.h"
#include "fsm_rowpass.h"
#include "fsm_shortrows.h"

#ifndef FSM_T
#error "a template: include fsm_type_f32.h or fsm_type_f64.h first"
#endif
#if (FSM_TID == 32 && !defined(FSM_BACKWARD_F32)) || (FSM_TID == 64 && !defined(FSM_BACKWARD_F64))
#if FSM_TID == 32
#define FSM_BACKWARD_F32
#else
#define FSM_BACKWARD_F64
#endif

/* sum(g[0:n] * y[0:n]) (y == NULL: sum(g)), the terms in FSM_T, summed in
 * double.  n >= FSM_LANES: the tail is the row's last vector with the lanes
 * already summed masked out (no partial loads). */
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
    for (; j + FSM_LANES <= n; j += FSM_LANES) {
        FSM_VT gv = FSM_FN(fsm_loadu)(g + j);
        if (y) gv = gv * FSM_FN(fsm_loadu)(y + j);
        FSM_FN(fsm_dacc_add)(&a0, gv);
    }
    if (j < n && n >= FSM_LANES) {
        FSM_VT gv = FSM_FN(fsm_loadu)(g + n - FSM_LANES);
        if (y) gv = gv * FSM_FN(fsm_loadu)(y + n - FSM_LANES);
        FSM_FN(fsm_dacc_add)(&a1, (FSM_VT)((FSM_IVT)gv & ~FSM_FN(head_mask)(n - j)));
    } else if (j < n) {
        FSM_VT gv = FSM_FN(fsm_load_tail)(g + j, n - j, 0);
        if (y) gv = gv * FSM_FN(fsm_load_tail)(y + j, n - j, 0);
        FSM_FN(fsm_dacc_add)(&a1, gv);
    }
    return FSM_FN(fsm_dacc_sum)(&a0) + FSM_FN(fsm_dacc_sum)(&a1);
}

/* The elementwise pass of one row: o = y (g - c) (lg == 0) or g - exp(y) c.
 * n >= FSM_LANES: the row's last vector is loaded before any store and
 * stored again over the overlap (out may be g or y itself). */
FSM_INLINE FSM_VT FSM_FN(bw_elem)(FSM_VT gv, FSM_VT yv, FSM_VT c, const int lg)
{
    return lg ? gv - FSM_FN(fsm_vexp)(yv) * c : yv * (gv - c);
}

FSM_INLINE void FSM_FN(bw_row)(const FSM_T *g, const FSM_T *y, FSM_T *o, ptrdiff_t n,
                               FSM_VT c, const int lg)
{
    ptrdiff_t j = 0;
    if (n >= FSM_LANES) {
        const FSM_VT gt = FSM_FN(fsm_loadu)(g + n - FSM_LANES), yt = FSM_FN(fsm_loadu)(y + n - FSM_LANES);
        for (; j + FSM_LANES <= n; j += FSM_LANES)
            FSM_FN(fsm_storeu)(o + j, FSM_FN(bw_elem)(FSM_FN(fsm_loadu)(g + j), FSM_FN(fsm_loadu)(y + j), c, lg));
        if (j < n) FSM_FN(fsm_storeu)(o + n - FSM_LANES, FSM_FN(bw_elem)(gt, yt, c, lg));
        return;
    }
    if (n > 0)
        FSM_FN(fsm_store_tail)(o, FSM_FN(bw_elem)(FSM_FN(fsm_load_tail)(g, n, 0),
                                                  FSM_FN(fsm_load_tail)(y, n, 0), c, lg), n);
}

/* bw_row with non-temporal stores (fsm_simd.h) for the aligned whole vectors of o; the
 * same element values.  Each element is read before it is stored, and no
 * store overlaps another, so o may be g or y itself. */
FSM_INLINE void FSM_FN(bw_row_stream)(const FSM_T *g, const FSM_T *y, FSM_T *o, ptrdiff_t n,
                                      FSM_VT c, const int lg)
{
    const ptrdiff_t head = FSM_FN(stream_head)(o, n);
    if (head)
        FSM_FN(fsm_store_tail)(o, FSM_FN(bw_elem)(FSM_FN(fsm_load_tail)(g, head, 0),
                                                  FSM_FN(fsm_load_tail)(y, head, 0), c, lg), head);
    ptrdiff_t j = head;
    for (; j + FSM_LANES <= n; j += FSM_LANES)
        FSM_FN(fsm_stream)(o + j, FSM_FN(bw_elem)(FSM_FN(fsm_loadu)(g + j), FSM_FN(fsm_loadu)(y + j), c, lg));
    if (j < n)
        FSM_FN(fsm_store_tail)(o + j, FSM_FN(bw_elem)(FSM_FN(fsm_load_tail)(g + j, n - j, 0),
                                                      FSM_FN(fsm_load_tail)(y + j, n - j, 0), c, lg),
                               n - j);
    fsm_stream_fence();
}

/* Short contiguous rows (n <= FSM_SLANES), a chunk of rows at a time: the
 * row sums from masked full vectors (summed in double), then one full-width
 * pass over the chunk against a per-element buffer of the row sums.  The
 * chunk's reads all come before its stores, element by element. */
FSM_INLINE void FSM_FN(bw_small_chunk)(const FSM_T *g, const FSM_T *y, FSM_T *o, ptrdiff_t rows,
                                       ptrdiff_t n, ptrdiff_t avail, const FSM_IVT *lanes,
                                       const int lg, const int sk)
{
    FSM_T cbuf[FSM_SMALL_CHUNK + FSM_SLANES];
    for (ptrdiff_t i = 0; i < rows; i++) {
        FSM_DACC a;
        FSM_FN(fsm_dacc_zero)(&a);
        for (int k = 0; k < sk; k++) {
            if (k * FSM_LANES >= n) break;
            const ptrdiff_t off = i * n + k * FSM_LANES;
            FSM_VT gv = FSM_FN(load_lim)(g + off, avail - off, 0);
            if (!lg) gv = gv * FSM_FN(load_lim)(y + off, avail - off, 0);
            FSM_FN(fsm_dacc_add)(&a, (FSM_VT)((FSM_IVT)gv & lanes[k]));
        }
        FSM_FN(short_row_splat)(cbuf + i * n, n, FSM_FN(fsm_splat)((FSM_T)FSM_FN(fsm_dacc_sum)(&a)), sk);
    }
    const ptrdiff_t tot = rows * n;
    ptrdiff_t j = 0;
    for (; j + FSM_LANES <= tot; j += FSM_LANES)
        FSM_FN(fsm_storeu)(o + j, FSM_FN(bw_elem)(FSM_FN(fsm_loadu)(g + j), FSM_FN(fsm_loadu)(y + j),
                                                  FSM_FN(fsm_loadu)(cbuf + j), lg));
    if (j < tot)
        FSM_FN(fsm_store_tail)(o + j, FSM_FN(bw_elem)(FSM_FN(fsm_load_tail)(g + j, tot - j, 0),
                                                      FSM_FN(fsm_load_tail)(y + j, tot - j, 0),
                                                      FSM_FN(fsm_loadu)(cbuf + j), lg), tot - j);
}

/* rows up to this many bytes have their y prefetched before pass 1 */
#ifndef FSM_BW_PREFETCH_MAX
#define FSM_BW_PREFETCH_MAX 16384
#endif

FSM_INLINE void FSM_FN(bw_block)(FSM_FN(fsm_rows) gr, FSM_FN(fsm_rows) yr, FSM_FN(fsm_out) out,
                                 const int lg)
{
    const ptrdiff_t n = gr.ncols, nrows = gr.nrows;
    if (n >= 1 && n <= FSM_SLANES && gr.stride == n && yr.stride == n && out.stride == n) {
        FSM_SHORT_CHUNKS(n, nrows, , return,
                         FSM_FN(bw_small_chunk)(gr.data + i0 * n, yr.data + i0 * n, out.data + i0 * n,
                                                r, n, (nrows - i0) * n, lanes, lg, sk));
    }
    const int stream = n * (ptrdiff_t)sizeof(FSM_T) >= FSM_STREAM_MIN_BYTES;
    for (ptrdiff_t i = 0; i < nrows; i++) {
        const FSM_T *g = gr.data + i * gr.stride, *y = yr.data + i * yr.stride;
        /* log_softmax's pass 1 reads g only: ask for y's row now, so that
         * pass 2 does not wait for it (measured: rows of 96-112 classes from
         * memory ran 2x slower without) */
        if (lg && n * (ptrdiff_t)sizeof(FSM_T) <= FSM_BW_PREFETCH_MAX)
            for (ptrdiff_t k = 0; k < n; k += 64 / (ptrdiff_t)sizeof(FSM_T)) __builtin_prefetch(y + k);
        const FSM_VT c = FSM_FN(fsm_splat)((FSM_T)FSM_FN(bw_rowsum)(g, lg ? NULL : y, n));
        if (stream) FSM_FN(bw_row_stream)(g, y, out.data + i * out.stride, n, c, lg);
        else FSM_FN(bw_row)(g, y, out.data + i * out.stride, n, c, lg);
    }
}

FSM_INLINE void FSM_FN(kernel_softmax_backward)(FSM_FN(fsm_rows) gr, FSM_FN(fsm_rows) yr,
                                                FSM_FN(fsm_out) out)
{
    FSM_FN(bw_block)(gr, yr, out, 0);
}

FSM_INLINE void FSM_FN(kernel_log_softmax_backward)(FSM_FN(fsm_rows) gr, FSM_FN(fsm_rows) yr,
                                                    FSM_FN(fsm_out) out)
{
    FSM_FN(bw_block)(gr, yr, out, 1);
}

#endif
