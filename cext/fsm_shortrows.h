/*
 * fsm_shortrows.h -- helpers of the short-row paths (rows of at most 128 bytes,
 * contiguous, handled a chunk of rows at a time with full-width vectors):
 * per-row max and sum by butterflies, and lse_small_chunk, the max and
 * log1p(others) of every row of a chunk, shared by log_softmax, logsumexp
 * (fsm_softmax.h) and the index-target cross-entropy (fsm_crossentropy.h).
 * A template, like fsm_rowpass.h.
 */
#include "fsm_simd.h"

#ifndef FSM_T
#error "a template: include fsm_type_f32.h or fsm_type_f64.h first"
#endif
#if (FSM_TID == 32 && !defined(FSM_SHORTROWS_F32)) || (FSM_TID == 64 && !defined(FSM_SHORTROWS_F64))
#if FSM_TID == 32
#define FSM_SHORTROWS_F32
#else
#define FSM_SHORTROWS_F64
#endif

/* Elements per chunk of the short-row path (stack buffer of this size). */
#ifndef FSM_SMALL_CHUNK
#define FSM_SMALL_CHUNK 1024
#endif

/* Short rows: up to FSM_SLANES = 128 bytes of elements (32 floats, 16 doubles)
 * at every ISA, i.e. FSM_SK native vectors per row (2 for AVX-512, 4 for AVX2,
 * 8 for SSE2).  Piece k of a row is lanes [k * FSM_LANES, (k + 1) * FSM_LANES).
 * A row's sum adds its FSM_SK pieces in turn, then the lanes by a butterfly:
 * FSM_SK - 1 + log2(FSM_LANES) additions deep (float32: 5 with AVX-512, 6
 * with AVX2, 9 with SSE2), so with terms >= 0 its relative error is below
 * that many units of FSM_T's rounding (float32: 5.4e-7 at most).  Beyond 128
 * bytes rows take the general path, summed in double. */
#ifndef FSM_SLANES
#define FSM_SLANES_BYTES 128
#define FSM_SLANES ((ptrdiff_t)(FSM_SLANES_BYTES / sizeof(FSM_T)))
#define FSM_SK (FSM_SLANES_BYTES / FSM_W)
#endif

/* The statements, compiled twice with a constant sk (the pieces per row the
 * short-row helpers handle): FSM_SK / 2 for rows of at most half of
 * FSM_SLANES, FSM_SK for the others, so that rows of up to 64 bytes cost
 * what they did before the short rows grew to 128 (measured: rows of 9-16
 * floats 10-15% slower with one copy for both). */
#define FSM_SHORT_SPLIT(n, ...)                                                            \
    do {                                                                                   \
        if ((n) <= FSM_SLANES / 2) { const int sk = FSM_SK / 2; __VA_ARGS__; }             \
        else { const int sk = FSM_SK; __VA_ARGS__; }                                       \
    } while (0)

/* The short-row driver of a kernel over nrows contiguous rows of n <= FSM_SLANES:
 * under FSM_SHORT_SPLIT, the lane masks of a row of n, then `setup` (the
 * declarations the chunks share: stack buffers, or empty), the chunks of at
 * most FSM_SMALL_CHUNK / n rows, then `done` (the caller's return, or empty).
 * The statements run once per chunk with sk, lanes (FSM_SK masks), i0 (the
 * chunk's first row) and r (its rows) in scope; `continue` moves to the next
 * chunk.  A macro, not an inline function taking the step, so that sk stays
 * a constant in each copy of the step; setup and done sit inside each copy
 * as the kernels had them, so that they compile to the code they did. */
#define FSM_SHORT_CHUNKS(n, nrows, setup, done, ...)                                       \
    FSM_SHORT_SPLIT(n, {                                                                   \
        FSM_IVT lanes[FSM_SK];                                                             \
        FSM_FN(short_lanes)(n, lanes, sk);                                                 \
        const ptrdiff_t rpc = FSM_SMALL_CHUNK / (n);                                       \
        setup;                                                                             \
        for (ptrdiff_t i0 = 0; i0 < (nrows); i0 += rpc) {                                  \
            const ptrdiff_t r = (nrows) - i0 < rpc ? (nrows) - i0 : rpc;                   \
            __VA_ARGS__;                                                                   \
        }                                                                                  \
        done;                                                                              \
    })

/* p[0:FSM_LANES], of which only the first lim >= 1 are readable; pad elsewhere */
FSM_INLINE FSM_VT FSM_FN(load_lim)(const FSM_T *p, ptrdiff_t lim, FSM_T pad)
{
    return lim >= FSM_LANES ? FSM_FN(fsm_loadu)(p) : FSM_FN(fsm_load_tail)(p, lim, pad);
}

/* lanes[k]: all ones where lane k * FSM_LANES + l < n */
FSM_INLINE void FSM_FN(short_lanes)(ptrdiff_t n, FSM_IVT *lanes, const int sk)
{
    for (int k = 0; k < sk; k++)
        lanes[k] = (FSM_IVT)(FSM_FN(fsm_iota)() + (int)(k * FSM_LANES) < (FSM_IVT){0} + (int)n);
}

/* Max of each short row of x (n <= FSM_SLANES, rows * n elements, avail of them
 * readable), broadcast to mbuf[i * n : i * n + n]; vs receives the last
 * row's pieces with the lanes past n set to -inf.  Returns in *z a vector
 * that is NaN in some lane iff the rows hold an inf or a NaN. */
FSM_INLINE FSM_VT FSM_FN(short_row_max)(const FSM_T *x, ptrdiff_t i, ptrdiff_t n, ptrdiff_t avail,
                                const FSM_IVT *lanes, FSM_T *mbuf, FSM_VT *vs, FSM_VT z, const int sk)
{
    const FSM_VT vninf = FSM_FN(fsm_splat)(-(FSM_T)INFINITY);
    FSM_VT mx = vninf;
    for (int k = 0; k < sk; k++) {
        if (k * FSM_LANES >= n) { vs[k] = vninf; continue; }
        const ptrdiff_t off = i * n + k * FSM_LANES;
        FSM_VT vm = (FSM_VT)((FSM_IVT)FSM_FN(load_lim)(x + off, avail - off, 0) & lanes[k]);
        z = vm * 0 + z;                       /* NaN if an inf or a NaN */
        vs[k] = (FSM_VT)((FSM_IVT)vm | ((FSM_IVT)vninf & ~lanes[k]));
        mx = k == 0 ? vs[0] : FSM_FN(fsm_vmax_nonan)(mx, vs[k]);
    }
    mx = FSM_FN(fsm_allmax_nonan)(mx);
    for (int k = 0; k < sk; k++)
        if (k * FSM_LANES < n) FSM_FN(fsm_storeu)(mbuf + i * n + k * FSM_LANES, mx);
    return z;
}

/* sum of p[0:n] (n <= FSM_SLANES; lim >= n elements readable), as a broadcast */
FSM_INLINE FSM_VT FSM_FN(short_row_sum)(const FSM_T *p, ptrdiff_t n, ptrdiff_t lim, const FSM_IVT *lanes, const int sk)
{
    FSM_VT s = FSM_FN(fsm_splat)(0);
    for (int k = 0; k < sk; k++) {
        if (k * FSM_LANES >= n) break;
        FSM_VT e = (FSM_VT)((FSM_IVT)FSM_FN(load_lim)(p + k * FSM_LANES, lim - k * FSM_LANES, 0) & lanes[k]);
        s = k == 0 ? e : s + e;   /* not 0 + e: one add less on the chain */
    }
    return FSM_FN(fsm_allsum)(s);
}

/* p[0:FSM_SLANES] = v (rows overlap: each row's store is overwritten by the next) */
FSM_INLINE void FSM_FN(short_row_splat)(FSM_T *p, ptrdiff_t n, FSM_VT v, const int sk)
{
    for (int k = 0; k < sk; k++)
        if (k * FSM_LANES < n) FSM_FN(fsm_storeu)(p + k * FSM_LANES, v);
}

/* Short rows (n <= FSM_SLANES, contiguous) for logsumexp and log_softmax: per-row
 * max and count of max-equal elements (butterflies), one full-width exp pass
 * over the chunk with the max-equal terms left out, per-row butterfly sums,
 * lse[i] = log1p(others) as in row_lse.  Returns 0 if the chunk holds an inf
 * or a NaN (the caller goes row by row, see softmax_block in fsm_softmax.h). */
FSM_INLINE int FSM_FN(lse_small_chunk)(const FSM_T *x, ptrdiff_t rows, ptrdiff_t n, ptrdiff_t avail,
                                   const FSM_IVT *lanes, FSM_T *mbuf, FSM_T *ebuf, double *lse, const int sk)
{
    const FSM_T ninf = -(FSM_T)INFINITY;
    const FSM_VT zero = FSM_FN(fsm_splat)(0), one = FSM_FN(fsm_splat)(1);
    const ptrdiff_t tot = rows * n;
    FSM_VT z = zero, vs[FSM_SK];
    for (ptrdiff_t i = 0; i < rows; i++) {
        z = FSM_FN(short_row_max)(x, i, n, avail, lanes, mbuf, vs, z, sk);
        FSM_VT mv = FSM_FN(fsm_loadu)(mbuf + i * n);
        FSM_VT c = zero;
        for (int k = 0; k < sk; k++) {
            if (k * FSM_LANES >= n) break;
            FSM_IVT below = (FSM_IVT)((vs[k] - mv) + 0) >> FSM_SIGN_SHIFT;    /* pad lanes: -inf, below */
            c = k == 0 ? (FSM_VT)((FSM_IVT)one & ~below) : c + (FSM_VT)((FSM_IVT)one & ~below);
        }
        lse[i] = (double)FSM_FN(fsm_allsum)(c)[0];   /* count */
    }
    if (FSM_FN(fsm_allsum)(z)[0] != 0) return 0;
    ptrdiff_t j = 0;
    for (; j < tot; j += FSM_LANES) {
        FSM_VT v = j + FSM_LANES <= tot ? FSM_FN(fsm_loadu)(x + j) : FSM_FN(fsm_load_tail)(x + j, tot - j, ninf);
        FSM_VT mb = FSM_FN(fsm_loadu)(mbuf + j);
        FSM_VT e = FSM_FN(fsm_vexp_le)(v, mb);
        FSM_FN(fsm_storeu)(ebuf + j, (FSM_VT)((FSM_IVT)e & ((FSM_IVT)((v - mb) + 0) >> FSM_SIGN_SHIFT)));
    }
    for (ptrdiff_t i = 0; i < rows; i++) {
        /* ebuf holds whole vectors up to the end of the last row */
        FSM_T acc = FSM_FN(short_row_sum)(ebuf + i * n, n, FSM_SLANES, lanes, sk)[0];
        lse[i] = (double)acc + (lse[i] - 1.0);
    }
    /* log1p, LANES_f64 rows at a time (lse has room for a padded last vector) */
    for (ptrdiff_t i = 0; i < rows; i += FSM_LANES_f64) {
        if (i + FSM_LANES_f64 > rows)
            for (ptrdiff_t k = rows; k < i + FSM_LANES_f64; k++) lse[k] = 0.0;
        fsm_storeu_f64(lse + i, fsm_vlog1p_f64(fsm_loadu_f64(lse + i)));
    }
    return 1;
}

#endif
