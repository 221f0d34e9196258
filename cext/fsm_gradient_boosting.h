/*
 * fsm_gradient_boosting.h -- the gradient and the diagonal hessian of the
 * multinomial and binomial log-losses with respect to the raw predictions,
 * the objectives of gradient-boosted trees: kernel_ce_grad_hess (one row of
 * classes per sample) and kernel_bce_grad_hess (elementwise).  A template,
 * like fsm_rowpass.h.
 *
 * Multinomial, per row with class label y and sample weight s (1 without):
 *   p = softmax(x),  g[c] = s (p[c] - [c == y]),  h[c] = s p[c] (1 - p[c]).
 * Long rows: the online pass (row_state) reads the row once from memory, then
 * one sweep from cache writes g and h.  Short contiguous rows: the softmax of
 * a chunk of rows (softmax_block) is written into g, then one full-width pass
 * over the chunk turns it into g and h while it is in L1.  A row without a
 * distribution (a NaN, a +inf, or only -inf) is NaN in g and h, as softmax.
 *
 * Binomial, elementwise with target t and weight s, e = exp(-|x|) in (0, 1]:
 *   q = e / (1 + e) = min(p, 1 - p),  h = s q / (1 + e) = s p (1 - p),
 *   g = s ((1 - t) - q) for x >= 0 (p = 1 - q), s (q - t) below (p = q),
 * so nothing overflows and neither p - 1 nor 1 - p is formed by cancellation.
 */
#include "fsm_kernels.h"
#include "fsm_simd.h"
#include "fsm_rowpass.h"
#include "fsm_shortrows.h"
#include "fsm_softmax.h"
#include "fsm_elementwise.h"

#ifndef FSM_T
#error "a template: include fsm_type_f32.h or fsm_type_f64.h first"
#endif
#if (FSM_TID == 32 && !defined(FSM_GRADIENT_BOOSTING_F32)) || \
    (FSM_TID == 64 && !defined(FSM_GRADIENT_BOOSTING_F64))
#if FSM_TID == 32
#define FSM_GRADIENT_BOOSTING_F32
#else
#define FSM_GRADIENT_BOOSTING_F64
#endif

FSM_INLINE void FSM_FN(gb_fill)(FSM_T *p, ptrdiff_t n, FSM_T v)
{
    for (ptrdiff_t j = 0; j < n; j++) p[j] = v;
}

/* g and h of one row from its online pass (m, acc, cnt: row_state); the
 * target's class patched after the sweep with the same p the sweep computed
 * for it */
FSM_INLINE void FSM_FN(gh_row)(const FSM_T *xi, ptrdiff_t n, int64_t y, FSM_T s,
                               FSM_T m, double acc, double cnt, FSM_T *gi, FSM_T *hi,
                               const int stored)
{
    ptrdiff_t j = 0;
    if (!isfinite(m)) {
        FSM_FN(gb_fill)(gi, n, (FSM_T)NAN);
        FSM_FN(gb_fill)(hi, n, (FSM_T)NAN);
        return;
    }
    const FSM_VT mv = FSM_FN(fsm_splat)(m), inv = FSM_FN(fsm_splat)((FSM_T)(1.0 / (acc + cnt)));
    const FSM_VT sv = FSM_FN(fsm_splat)(s), one = FSM_FN(fsm_splat)(1);
    for (; j + FSM_LANES <= n; j += FSM_LANES) {
        FSM_VT e = stored ? FSM_FN(fsm_loadu)(gi + j) : FSM_FN(fsm_vexp_le)(FSM_FN(fsm_loadu)(xi + j), mv);
        FSM_VT p = e * inv;
        FSM_FN(fsm_storeu)(gi + j, p * sv);
        FSM_FN(fsm_storeu)(hi + j, (p * (one - p)) * sv);
    }
    if (j < n) {
        FSM_VT e = stored ? FSM_FN(fsm_load_tail)(gi + j, n - j, 0)
                          : FSM_FN(fsm_vexp_le)(FSM_FN(fsm_load_tail)(xi + j, n - j, -(FSM_T)INFINITY), mv);
        FSM_VT p = e * inv;
        FSM_FN(fsm_store_tail)(gi + j, p * sv, n - j);
        FSM_FN(fsm_store_tail)(hi + j, (p * (one - p)) * sv, n - j);
    }
    FSM_T py = (FSM_FN(fsm_vexp_le)(FSM_FN(fsm_splat)(xi[y]), mv) * inv)[0];
    gi[y] = (py - (FSM_T)1) * s;
}

/* Short contiguous rows (n <= FSM_SLANES), rows [0, rows) of a chunk of at
 * most FSM_SMALL_CHUNK elements: g holds the rows' softmax on entry. */
FSM_INLINE void FSM_FN(gh_small_chunk)(ptrdiff_t rows, ptrdiff_t n, const int64_t *target,
                                       const FSM_T *sw, FSM_T *g, FSM_T *h, const int sk)
{
    FSM_T py[FSM_SMALL_CHUNK];
    FSM_T sbuf[FSM_SMALL_CHUNK + FSM_SLANES];
    for (ptrdiff_t i = 0; i < rows; i++) py[i] = g[i * n + target[i]];
    if (sw)
        for (ptrdiff_t i = 0; i < rows; i++) FSM_FN(short_row_splat)(sbuf + i * n, n, FSM_FN(fsm_splat)(sw[i]), sk);
    const ptrdiff_t tot = rows * n;
    const FSM_VT one = FSM_FN(fsm_splat)(1);
    ptrdiff_t j = 0;
    for (; j < tot; j += FSM_LANES) {
        const ptrdiff_t r = tot - j;
        FSM_VT p = r >= FSM_LANES ? FSM_FN(fsm_loadu)(g + j) : FSM_FN(fsm_load_tail)(g + j, r, 0);
        FSM_VT sv = sw ? FSM_FN(fsm_loadu)(sbuf + j) : one;
        FSM_VT gv = p * sv, hv = (p * (one - p)) * sv;
        if (r >= FSM_LANES) {
            FSM_FN(fsm_storeu)(g + j, gv);
            FSM_FN(fsm_storeu)(h + j, hv);
        } else {
            FSM_FN(fsm_store_tail)(g + j, gv, r);
            FSM_FN(fsm_store_tail)(h + j, hv, r);
        }
    }
    for (ptrdiff_t i = 0; i < rows; i++)
        g[i * n + target[i]] = (py[i] - (FSM_T)1) * (sw ? sw[i] : (FSM_T)1);
}

/* The multinomial kernel (fsm_kernel_list.h): target[i] in [0, ncols);
 * sample_weight: one per row, or NULL. */
FSM_INLINE void FSM_FN(kernel_ce_grad_hess)(FSM_FN(fsm_rows) xr, const int64_t *target,
                                            const FSM_T *sample_weight, FSM_FN(fsm_out) grad,
                                            FSM_FN(fsm_out) hess)
{
    const FSM_T *x = xr.data;
    const ptrdiff_t ldx = xr.stride, nrows = xr.nrows, n = xr.ncols;
    FSM_T *g = grad.data, *h = hess.data;
    const ptrdiff_t ldg = grad.stride, ldh = hess.stride;
    if (n >= 1 && n <= FSM_SLANES && ldx == n && ldg == n && ldh == n) {
        FSM_SHORT_SPLIT(n, {
            const ptrdiff_t rpc = FSM_SMALL_CHUNK / n;
            for (ptrdiff_t i0 = 0; i0 < nrows; i0 += rpc) {
                const ptrdiff_t r = nrows - i0 < rpc ? nrows - i0 : rpc;
                FSM_FN(softmax_block)(x + i0 * n, n, g + i0 * n, n, r, n);
                FSM_FN(gh_small_chunk)(r, n, target + i0, sample_weight ? sample_weight + i0 : NULL,
                                       g + i0 * n, h + i0 * n, sk);
            }
            return;
        });
    }
    FSM_FN(row_group) st;
    for (ptrdiff_t i = 0; i < nrows; i++) {
        const ptrdiff_t k = FSM_FN(row_group_state)(&st, x, ldx, nrows, n, i, NULL, 0, g, ldg);
        FSM_FN(gh_row)(x + i * ldx, n, target[i], sample_weight ? sample_weight[i] : (FSM_T)1,
                       st.m[k], st.acc[k], st.cnt[k], g + i * ldg, h + i * ldh,
                       FSM_ROW_GROUP_STORES(n));
    }
}

/* The binomial kernel (fsm_kernel_list.h): n elements; sample_weight: one per
 * element, or NULL.  Returns 1 if a target lies outside [0, 1] (or is NaN),
 * else 0: the check rides in the same pass instead of a NumPy scan that reads
 * the targets again and writes three masks. */
FSM_INLINE int FSM_FN(kernel_bce_grad_hess)(const FSM_T *x, const FSM_T *target,
                                            const FSM_T *sample_weight, FSM_T *grad,
                                            FSM_T *hess, ptrdiff_t n)
{
    const FSM_VT one = FSM_FN(fsm_splat)(1);
    /* t lies in [0, 1] iff the bits of u = t + 0 (-0 made +0), as an
     * unsigned integer, are at most those of 1.0: a NaN's or a negative
     * number's are above.  Or-ing u with (bits of 1.0) - u sets the sign bit
     * exactly when one is outside; integer operations, since GCC scalarizes
     * some 64-byte vector compares in these inlined helpers. */
    const FSM_UVT one_bits = (FSM_UVT)one;
    FSM_UVT flag = one_bits ^ one_bits;
    for (ptrdiff_t j = 0; j < n; j += FSM_LANES) {
        const ptrdiff_t r = n - j;
        const int full = r >= FSM_LANES;
        FSM_VT v = full ? FSM_FN(fsm_loadu)(x + j) : FSM_FN(fsm_load_tail)(x + j, r, 0);
        FSM_VT t = full ? FSM_FN(fsm_loadu)(target + j) : FSM_FN(fsm_load_tail)(target + j, r, 0);
        const FSM_UVT u = (FSM_UVT)(t + (FSM_T)0);
        flag |= u | (one_bits - u);
        FSM_VT e = FSM_FN(vsigmoid_e)(v), d = one + e;
        FSM_VT q = e / d;                                   /* NaN x: NaN */
        /* p (1 - p) = q (1 - q) with q = e / (1 + e) in (0, 1/2]: no
         * cancellation, and one division per element instead of two */
        FSM_VT hv = q * (one - q);
        FSM_VT gv = FSM_FN(fsm_sel)(v >= 0, (one - t) - q, q - t);
        if (sample_weight) {
            FSM_VT s = full ? FSM_FN(fsm_loadu)(sample_weight + j)
                            : FSM_FN(fsm_load_tail)(sample_weight + j, r, 0);
            gv = gv * s;
            hv = hv * s;
        }
        if (full) {
            FSM_FN(fsm_storeu)(grad + j, gv);
            FSM_FN(fsm_storeu)(hess + j, hv);
        } else {
            FSM_FN(fsm_store_tail)(grad + j, gv, r);
            FSM_FN(fsm_store_tail)(hess + j, hv, r);
        }
    }
    for (int k = 0; k < FSM_LANES; k++)
        if (flag[k] >> FSM_SIGN_SHIFT) return 1;
    return 0;
}

#endif
