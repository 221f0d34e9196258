/*
 * fsm_crossentropy.h -- the fused cross-entropy: kernel_ce_index (class-index
 * targets) and kernel_ce_prob (probability targets).  A template, like
 * fsm_rowpass.h.
 *
 * One call handles a block of rows and returns the sum of their losses in
 * double (rows in order), or writes each row's loss when loss_rows != NULL.
 * The logits are read once from memory by the online pass (row_state); the
 * gradient pass re-reads the row from cache.  No N x C temporary exists.
 *
 * Integer targets, per row i with target y != ignore_index (PyTorch):
 *   l_i = (1-eps) w[y] (lse - x[y]) + (eps/C) sum_c w[c] (lse - x[c])
 *   g[c] = s (p[c] Q - q[c]),  q = (1-eps) w[y] onehot(y) + (eps/C) w,  Q = sum q
 * Probability targets t, t' = (1-eps) t + eps/C:
 *   l_i = sum_c w[c] t'[c] (lse - x[c])     (a term with t'[c] == 0 is 0: xlogy)
 *   g[c] = s (p[c] Q - w[c] t'[c]),  Q = sum_c w[c] t'[c]
 * s is the reduction's scale (1/denominator for "mean", else 1).
 * With sample weights (opt->sample_weight != NULL) row i's loss is multiplied
 * by its weight sw[i] and its gradient's scale s becomes s * sw[i], in the
 * same pass (NULL: the factors are left out, not multiplied by 1).
 * z_loss adds z * lse^2 to every counted row's loss (PaLM's auxiliary term)
 * and 2 z lse p[c] s to its gradient: Q above grows by 2 z lse.
 */
#include "fsm_kernels.h"
#include "fsm_simd.h"
#include "fsm_rowpass.h"
#include "fsm_shortrows.h"

#ifndef FSM_T
#error "a template: include fsm_type_f32.h or fsm_type_f64.h first"
#endif
#if (FSM_TID == 32 && !defined(FSM_CROSSENTROPY_F32)) || (FSM_TID == 64 && !defined(FSM_CROSSENTROPY_F64))
#if FSM_TID == 32
#define FSM_CROSSENTROPY_F32
#else
#define FSM_CROSSENTROPY_F64
#endif


/* sum_c w[c] (m - x[c]) (w == NULL: plain sum), accumulated in double */
FSM_INLINE double FSM_FN(row_wdot)(const FSM_T *x, const FSM_T *w, ptrdiff_t n, FSM_T m)
{
    const FSM_VT mv = FSM_FN(fsm_splat)(m);
    FSM_DACC a;
    FSM_FN(fsm_dacc_zero)(&a);
    const FSM_VT one = FSM_FN(fsm_splat)(1);
    ptrdiff_t j = 0;
    for (; j + FSM_LANES <= n; j += FSM_LANES) {
        FSM_VT wv = w ? FSM_FN(fsm_loadu)(w + j) : one;
        FSM_FN(fsm_dacc_add)(&a, wv * (mv - FSM_FN(fsm_loadu)(x + j)));
    }
    if (j < n) {
        FSM_VT wv = w ? FSM_FN(fsm_load_tail)(w + j, n - j, 0) : one;
        FSM_FN(fsm_dacc_add)(&a, wv * (mv - FSM_FN(fsm_load_tail)(x + j, n - j, m)));
    }
    return FSM_FN(fsm_dacc_sum)(&a);
}

/* g = coef * exp(x - m) - (w ? w * wcoef : wcoef), for one row; with
 * stored != 0, g holds exp(x - m) already (rows_state stored it) and x is
 * not read */
FSM_INLINE void FSM_FN(row_grad_base_from)(const FSM_T *x, ptrdiff_t n, FSM_T m, FSM_T coef,
                                           const FSM_T *w, FSM_T wcoef, FSM_T *g, const int stored)
{
    const FSM_VT mv = FSM_FN(fsm_splat)(m), cv = FSM_FN(fsm_splat)(coef), wc = FSM_FN(fsm_splat)(wcoef);
    ptrdiff_t j = 0;
    if (!stored && n * (ptrdiff_t)sizeof(FSM_T) >= FSM_STREAM_MIN_BYTES) {
        /* a long row: the head to g's vector boundary plainly, then whole
         * vectors with non-temporal stores (fsm_simd.h) */
        const ptrdiff_t head = FSM_FN(stream_head)(g, n);
        if (head) {
            FSM_VT sub = w ? FSM_FN(fsm_load_tail)(w, head, 0) * wc : wc;
            FSM_VT e = FSM_FN(fsm_vexp_le)(FSM_FN(fsm_load_tail)(x, head, 0), mv);
            FSM_FN(fsm_store_tail)(g, e * cv - sub, head);
        }
        for (j = head; j + FSM_LANES <= n; j += FSM_LANES) {
            FSM_VT sub = w ? FSM_FN(fsm_loadu)(w + j) * wc : wc;
            FSM_FN(fsm_stream)(g + j, FSM_FN(fsm_vexp_le)(FSM_FN(fsm_loadu)(x + j), mv) * cv - sub);
        }
    }
    for (; j + FSM_LANES <= n; j += FSM_LANES) {
        FSM_VT sub = w ? FSM_FN(fsm_loadu)(w + j) * wc : wc;
        FSM_VT e = stored ? FSM_FN(fsm_loadu)(g + j) : FSM_FN(fsm_vexp_le)(FSM_FN(fsm_loadu)(x + j), mv);
        FSM_FN(fsm_storeu)(g + j, e * cv - sub);
    }
    if (j < n) {
        FSM_VT sub = w ? FSM_FN(fsm_load_tail)(w + j, n - j, 0) * wc : wc;
        FSM_VT e = stored ? FSM_FN(fsm_load_tail)(g + j, n - j, 0)
                          : FSM_FN(fsm_vexp_le)(FSM_FN(fsm_load_tail)(x + j, n - j, 0), mv);
        FSM_FN(fsm_store_tail)(g + j, e * cv - sub, n - j);
    }
    if (!stored && n * (ptrdiff_t)sizeof(FSM_T) >= FSM_STREAM_MIN_BYTES) fsm_stream_fence();
}

FSM_INLINE void FSM_FN(row_grad_base)(const FSM_T *x, ptrdiff_t n, FSM_T m, FSM_T coef,
                                  const FSM_T *w, FSM_T wcoef, FSM_T *g)
{
    FSM_FN(row_grad_base_from)(x, n, m, coef, w, wcoef, g, 0);
}

FSM_INLINE void FSM_FN(row_fill)(FSM_T *g, ptrdiff_t n, FSM_T v)
{
    for (ptrdiff_t j = 0; j < n; j++) g[j] = v;
}

/* Index-target cross-entropy of a chunk of short contiguous rows (n <= FSM_SLANES):
 * lse_small_chunk gives every row's max and log1p(others) with full-width
 * exponentials over the whole chunk, then the gradient is one full-width pass
 * against per-element buffers of the row coefficients.  Returns 0 (nothing
 * written) if the chunk holds an inf or a NaN: the caller then goes row by
 * row through the general path, which implements the special values. */
FSM_INLINE int FSM_FN(ce_index_small)(const FSM_T *x, ptrdiff_t rows, ptrdiff_t n, ptrdiff_t avail,
                                      const FSM_IVT *lanes, const int64_t *target,
                                      const FSM_T *weight, const fsm_ce_options *opt,
                                      double *loss_rows, FSM_T *grad, double *total, const int sk)
{
    const int64_t ignore_index = opt->ignore_index;
    const double wsum = opt->weight_sum, eps = opt->label_smoothing, z = opt->z_loss;
    const double scale = opt->grad_scale;
    const double *sw = opt->sample_weight;   /* rows of this chunk: the caller offsets it */
    FSM_T mbuf[FSM_SMALL_CHUNK + FSM_SLANES], ebuf[FSM_SMALL_CHUNK + 2 * FSM_SLANES];
    double lse[FSM_SMALL_CHUNK + FSM_LANES_f64];
    if (!FSM_FN(lse_small_chunk)(x, rows, n, avail, lanes, mbuf, ebuf, lse, sk)) return 0;
    const double eps_c = eps / (double)n;
    double coef[FSM_SMALL_CHUNK + FSM_LANES_f64];   /* per row: scale * Q, then / sum */
    double sum = 0.0;
    for (ptrdiff_t i = 0; i < rows; i++) {
        const FSM_T *xi = x + i * n;
        const int64_t y = target[i];
        double loss = 0.0;
        coef[i] = 0.0;
        if (y != ignore_index) {
            const double m = (double)mbuf[i * n], L = lse[i];
            const double wy = weight ? (double)weight[y] : 1.0;
            loss = (1.0 - eps) * wy * ((m - (double)xi[y]) + L);
            if (eps != 0.0) {
                double wd = 0.0;
                for (ptrdiff_t c = 0; c < n; c++)
                    wd += (weight ? (double)weight[c] : 1.0) * (m - (double)xi[c]);
                loss += eps_c * (wsum * L + wd);
            }
            const double lse = m + L;
            loss += z * lse * lse;
            const double si = sw ? scale * sw[i] : scale;
            if (sw) loss *= sw[i];
            coef[i] = si * ((1.0 - eps) * wy + (eps != 0.0 ? eps_c * wsum : 0.0)
                            + 2.0 * z * lse);
        }
        if (loss_rows) loss_rows[i] = loss;
        sum += loss;
    }
    *total += sum;
    if (!grad) return 1;
    /* coef[i] / sum_i with sum_i = exp(L_i), LANES_f64 rows at a time */
    for (ptrdiff_t i = 0; i < rows; i += FSM_LANES_f64) {
        if (i + FSM_LANES_f64 > rows)
            for (ptrdiff_t k = rows; k < i + FSM_LANES_f64; k++) { lse[k] = 0.0; coef[k] = 0.0; }
        fsm_storeu_f64(coef + i, fsm_loadu_f64(coef + i) * fsm_vexp_f64(-fsm_loadu_f64(lse + i)));
    }
    /* per-element coefficient and smoothing term, row by row (overlapping
     * full-vector stores, each row overwriting the previous one's spill) */
    FSM_T cbuf[FSM_SMALL_CHUNK + FSM_SLANES], dbuf[FSM_SMALL_CHUNK + FSM_SLANES];
    const FSM_VT zero = FSM_FN(fsm_splat)(0);
    FSM_VT wvec[FSM_SK], wterm[FSM_SK];   /* the class weights; times the smoothing's factor */
    for (int k = 0; k < sk; k++) {
        wvec[k] = wterm[k] = zero;
        if (eps != 0.0 && k * FSM_LANES < n) {
            wvec[k] = weight ? FSM_FN(load_lim)(weight + k * FSM_LANES, n - k * FSM_LANES, 0) : FSM_FN(fsm_splat)(1);
            wterm[k] = wvec[k] * FSM_FN(fsm_splat)((FSM_T)(scale * eps_c));
        }
    }
    for (ptrdiff_t i = 0; i < rows; i++) {
        FSM_FN(short_row_splat)(cbuf + i * n, n, FSM_FN(fsm_splat)((FSM_T)coef[i]), sk);
        const int keep = target[i] != ignore_index;
        /* with sample weights the smoothing term is the row's own */
        const FSM_VT rowf = FSM_FN(fsm_splat)((FSM_T)((sw ? scale * sw[i] : scale) * eps_c));
        for (int k = 0; k < sk; k++)
            if (k * FSM_LANES < n)
                FSM_FN(fsm_storeu)(dbuf + i * n + k * FSM_LANES,
                                   !keep ? zero : sw ? wvec[k] * rowf : wterm[k]);
    }
    const ptrdiff_t tot = rows * n;
    ptrdiff_t j = 0;
    for (; j + FSM_LANES <= tot; j += FSM_LANES) {
        FSM_VT e = FSM_FN(fsm_vexp_le)(FSM_FN(fsm_loadu)(x + j), FSM_FN(fsm_loadu)(mbuf + j));
        FSM_FN(fsm_storeu)(grad + j, e * FSM_FN(fsm_loadu)(cbuf + j) - FSM_FN(fsm_loadu)(dbuf + j));
    }
    if (j < tot) {
        FSM_VT e = FSM_FN(fsm_vexp_le)(FSM_FN(fsm_load_tail)(x + j, tot - j, 0), FSM_FN(fsm_loadu)(mbuf + j));
        FSM_FN(fsm_store_tail)(grad + j, e * FSM_FN(fsm_loadu)(cbuf + j) - FSM_FN(fsm_loadu)(dbuf + j), tot - j);
    }
    for (ptrdiff_t i = 0; i < rows; i++) {
        const int64_t y = target[i];
        if (y == ignore_index) continue;
        const double wy = weight ? (double)weight[y] : 1.0;
        const double si = sw ? scale * sw[i] : scale;
        grad[i * n + y] = (FSM_T)((double)grad[i * n + y] - si * (1.0 - eps) * wy);
    }
    return 1;
}

FSM_INLINE double FSM_FN(ce_index_rows)(const FSM_T *x, ptrdiff_t ldx, ptrdiff_t nrows,
                                        ptrdiff_t ncols, const int64_t *target,
                                        const FSM_T *weight, const fsm_ce_options *opt,
                                        double *loss_rows, FSM_T *grad, ptrdiff_t ldg)
{
    const int64_t ignore_index = opt->ignore_index;
    const double wsum = opt->weight_sum, eps = opt->label_smoothing, z = opt->z_loss;
    const double scale = opt->grad_scale;
    const double *sw = opt->sample_weight;   /* rows of this call: the caller offsets it */
    double total = 0.0;
    const double eps_c = ncols > 0 ? eps / (double)ncols : 0.0;
    FSM_FN(row_group) st;
    /* grouped rows get their exponentials stored in the gradient by the
     * online pass, so the gradient pass computes no exp (the same values) */
    const int stored = grad && FSM_ROW_GROUP_STORES(ncols);
    for (ptrdiff_t i = 0; i < nrows; i++) {
        const ptrdiff_t k = FSM_FN(row_group_state)(&st, x, ldx, nrows, ncols, i, target,
                                                    ignore_index, grad, ldg);
        const FSM_T *xi = x + i * ldx;
        const int64_t y = target[i];
        double loss = 0.0;
        if (y == ignore_index) {
            if (grad) FSM_FN(row_fill)(grad + i * ldg, ncols, 0);
        } else {
            const FSM_T m = st.m[k];
            const double acc = st.acc[k], cnt = st.cnt[k];
            /* lse - x = (m - x) + L: exact where m is huge (four tied logits
             * of 1e20 still give log 4) */
            const double L = isfinite(m) ? log1p(acc + (cnt - 1.0)) : 0.0;
            const double wy = weight ? (double)weight[y] : 1.0;
            loss = (1.0 - eps) * wy * (((double)m - (double)xi[y]) + L);
            if (eps != 0.0)
                loss += eps_c * (wsum * L + FSM_FN(row_wdot)(xi, weight, ncols, m));
            const double lse = (double)m + L;
            loss += z * lse * lse;
            /* a NaN, a +inf or only -inf in the row: no distribution (torch: NaN) */
            if (!isfinite(m)) loss = NAN;
            if (sw) loss *= sw[i];
            const double si = sw ? scale * sw[i] : scale;
            if (grad) {
                FSM_T *gi = grad + i * ldg;
                if (isfinite(m)) {
                    /* without smoothing the class weights other than w[y] play no
                     * part: an inf or NaN weight elsewhere must not leak in */
                    const double q_total = (1.0 - eps) * wy + (eps != 0.0 ? eps_c * wsum : 0.0)
                                           + 2.0 * z * lse;
                    FSM_FN(row_grad_base_from)(xi, ncols, m, (FSM_T)(si * q_total / (acc + cnt)),
                                               eps != 0.0 ? weight : NULL, (FSM_T)(si * eps_c),
                                               gi, stored);
                    gi[y] = (FSM_T)((double)gi[y] - si * (1.0 - eps) * wy);
                } else {
                    FSM_FN(row_fill)(gi, ncols, (FSM_T)NAN);
                }
            }
        }
        if (loss_rows) loss_rows[i] = loss;
        total += loss;
    }
    return total;
}

/* Index targets (fsm_kernel_list.h): target[i] in [0, ncols) or ignore_index. */
FSM_INLINE double FSM_FN(kernel_ce_index)(FSM_FN(fsm_rows) xr, const int64_t *target,
                                          const FSM_T *weight, const fsm_ce_options *opt,
                                          FSM_FN(fsm_ce_out) out)
{
    const FSM_T *x = xr.data;
    const ptrdiff_t ldx = xr.stride, nrows = xr.nrows, ncols = xr.ncols;
    double *loss_rows = out.loss_rows;
    FSM_T *grad = out.grad;
    const ptrdiff_t ldg = out.grad_stride;
    double total = 0.0;
    if (ncols >= 1 && ncols <= FSM_SLANES && ldx == ncols && (!grad || ldg == ncols)) {
        /* setup o: the options with sample_weight offset to each chunk's rows */
        FSM_SHORT_CHUNKS(ncols, nrows, fsm_ce_options o = *opt, return total, {
            if (opt->sample_weight) o.sample_weight = opt->sample_weight + i0;
            if (FSM_FN(ce_index_small)(x + i0 * ncols, r, ncols, (nrows - i0) * ncols, lanes,
                                       target + i0, weight, &o,
                                       loss_rows ? loss_rows + i0 : NULL,
                                       grad ? grad + i0 * ncols : NULL, &total, sk))
                continue;
            /* an inf or a NaN in the chunk: these rows through the general path */
            total += FSM_FN(ce_index_rows)(x + i0 * ncols, ldx, r, ncols, target + i0, weight, &o,
                                           loss_rows ? loss_rows + i0 : NULL,
                                           grad ? grad + i0 * ncols : NULL, ldg);
        });
    }
    return FSM_FN(ce_index_rows)(x, ldx, nrows, ncols, target, weight, opt, loss_rows, grad, ldg);
}

/* Probability targets (fsm_kernel_list.h): target has x's shape. */
FSM_INLINE double FSM_FN(kernel_ce_prob)(FSM_FN(fsm_rows) xr, FSM_FN(fsm_rows) target,
                                         const FSM_T *weight, const fsm_ce_options *opt,
                                         FSM_FN(fsm_ce_out) out)
{
    const FSM_T *x = xr.data, *t = target.data;
    const ptrdiff_t ldx = xr.stride, nrows = xr.nrows, ncols = xr.ncols, ldt = target.stride;
    const double eps = opt->label_smoothing, z_loss = opt->z_loss, scale = opt->grad_scale;
    const double *sw = opt->sample_weight;
    double *loss_rows = out.loss_rows;
    FSM_T *grad = out.grad;
    const ptrdiff_t ldg = out.grad_stride;
    double total = 0.0;
    const FSM_T keep = (FSM_T)(1.0 - eps), add = (FSM_T)(ncols > 0 ? eps / (double)ncols : 0.0);
    const FSM_VT keepv = FSM_FN(fsm_splat)(keep), addv = FSM_FN(fsm_splat)(add);
    const FSM_VT zero = FSM_FN(fsm_splat)(0), one = FSM_FN(fsm_splat)(1);
    FSM_FN(row_group) st;
    for (ptrdiff_t i = 0; i < nrows; i++) {
        const ptrdiff_t k = FSM_FN(row_group_state)(&st, x, ldx, nrows, ncols, i, NULL, 0, NULL, 0);
        const FSM_T *xi = x + i * ldx, *ti = t + i * ldt;
        const FSM_T m = st.m[k];
        const double acc = st.acc[k], cnt = st.cnt[k];
        const FSM_VT mv0 = FSM_FN(fsm_splat)(m);
        const double L = isfinite(m) ? log1p(acc + (cnt - 1.0)) : 0.0, lse = (double)m + L;
        const FSM_VT lv = FSM_FN(fsm_splat)((FSM_T)L);
        /* sum_c w t' ((m - x) + L) and Q = sum_c w t', in FSM_T per term (float32:
         * ~1e-7 relative), summed in double */
        FSM_DACC la, qa;
        FSM_FN(fsm_dacc_zero)(&la);
        FSM_FN(fsm_dacc_zero)(&qa);
        for (ptrdiff_t j = 0; j < ncols; j += FSM_LANES) {
            ptrdiff_t r = ncols - j;
            FSM_VT xv = r >= FSM_LANES ? FSM_FN(fsm_loadu)(xi + j) : FSM_FN(fsm_load_tail)(xi + j, r, 0);
            FSM_VT tv = r >= FSM_LANES ? FSM_FN(fsm_loadu)(ti + j) : FSM_FN(fsm_load_tail)(ti + j, r, 0);
            FSM_VT wv = weight ? (r >= FSM_LANES ? FSM_FN(fsm_loadu)(weight + j)
                                         : FSM_FN(fsm_load_tail)(weight + j, r, 0)) : one;
            FSM_VT tp = tv * keepv + addv;
            if (r < FSM_LANES) {  /* padding lanes contribute nothing */
                FSM_VT lanes = zero;
                for (ptrdiff_t k = 0; k < r; k++) lanes[k] = 1;
                tp = tp * lanes;
            }
            FSM_VT wt = wv * tp;
            FSM_FN(fsm_dacc_add)(&qa, wt);
            FSM_FN(fsm_dacc_add)(&la, FSM_FN(fsm_sel)(tp == zero, zero, wt * ((mv0 - xv) + lv)));
        }
        /* no class at all: 0 (torch); a row without a distribution: NaN */
        double loss = isfinite(m) ? FSM_FN(fsm_dacc_sum)(&la) + z_loss * lse * lse
                      : ncols == 0 ? 0.0 : NAN;
        if (sw) loss *= sw[i];
        const double si = sw ? scale * sw[i] : scale;
        if (grad) {
            FSM_T *gi = grad + i * ldg;
            if (isfinite(m)) {
                const double q_total = FSM_FN(fsm_dacc_sum)(&qa) + 2.0 * z_loss * lse;
                const FSM_VT mv = FSM_FN(fsm_splat)(m);
                const FSM_VT cv = FSM_FN(fsm_splat)((FSM_T)(si * q_total / (acc + cnt)));
                const FSM_VT sv = FSM_FN(fsm_splat)((FSM_T)si);
                for (ptrdiff_t j = 0; j < ncols; j += FSM_LANES) {
                    ptrdiff_t r = ncols - j;
                    FSM_VT xv = r >= FSM_LANES ? FSM_FN(fsm_loadu)(xi + j) : FSM_FN(fsm_load_tail)(xi + j, r, 0);
                    FSM_VT tv = r >= FSM_LANES ? FSM_FN(fsm_loadu)(ti + j) : FSM_FN(fsm_load_tail)(ti + j, r, 0);
                    FSM_VT wv = weight ? (r >= FSM_LANES ? FSM_FN(fsm_loadu)(weight + j)
                                                 : FSM_FN(fsm_load_tail)(weight + j, r, 0)) : one;
                    FSM_VT gv = FSM_FN(fsm_vexp_le)(xv, mv) * cv - sv * (wv * (tv * keepv + addv));
                    if (r >= FSM_LANES) FSM_FN(fsm_storeu)(gi + j, gv);
                    else FSM_FN(fsm_store_tail)(gi + j, gv, r);
                }
            } else {
                FSM_FN(row_fill)(gi, ncols, (FSM_T)NAN);
            }
        }
        if (loss_rows) loss_rows[i] = loss;
        total += loss;
    }
    return total;
}

#endif
