/*
 * fsm_losses_impl.h -- fused cross-entropy row kernels, instantiated for float
 * and double by fsm_rowops.c (T, SFX, VT, FN, LANES, DACC defined there).
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
 * z_loss adds z * lse^2 to every counted row's loss (PaLM's auxiliary term)
 * and 2 z lse p[c] s to its gradient: Q above grows by 2 z lse.
 */

/* sum_c w[c] (m - x[c]) (w == NULL: plain sum), accumulated in double */
FSM_INLINE double FN(row_wdot)(const T *x, const T *w, ptrdiff_t n, T m)
{
    const VT mv = FN(fsm_splat)(m);
    DACC a;
    FN(fsm_dacc_zero)(&a);
    const VT one = FN(fsm_splat)(1);
    ptrdiff_t j = 0;
    for (; j + LANES <= n; j += LANES) {
        VT wv = w ? FN(fsm_loadu)(w + j) : one;
        FN(fsm_dacc_add)(&a, wv * (mv - FN(fsm_loadu)(x + j)));
    }
    if (j < n) {
        VT wv = w ? FN(fsm_load_tail)(w + j, n - j, 0) : one;
        FN(fsm_dacc_add)(&a, wv * (mv - FN(fsm_load_tail)(x + j, n - j, m)));
    }
    return FN(fsm_dacc_sum)(&a);
}

/* g = coef * exp(x - m) - (w ? w * wcoef : wcoef), for one row */
FSM_INLINE void FN(row_grad_base)(const T *x, ptrdiff_t n, T m, T coef,
                                  const T *w, T wcoef, T *g)
{
    const VT mv = FN(fsm_splat)(m), cv = FN(fsm_splat)(coef), wc = FN(fsm_splat)(wcoef);
    ptrdiff_t j = 0;
    for (; j + LANES <= n; j += LANES) {
        VT sub = w ? FN(fsm_loadu)(w + j) * wc : wc;
        FN(fsm_storeu)(g + j, FN(fsm_vexp_le)(FN(fsm_loadu)(x + j), mv) * cv - sub);
    }
    if (j < n) {
        VT sub = w ? FN(fsm_load_tail)(w + j, n - j, 0) * wc : wc;
        VT e = FN(fsm_vexp_le)(FN(fsm_load_tail)(x + j, n - j, 0), mv);
        FN(fsm_store_tail)(g + j, e * cv - sub, n - j);
    }
}

FSM_INLINE void FN(row_fill)(T *g, ptrdiff_t n, T v)
{
    for (ptrdiff_t j = 0; j < n; j++) g[j] = v;
}

/* Index-target cross-entropy of a chunk of short contiguous rows (n <= SLANES):
 * lse_small_chunk gives every row's max and log1p(others) with full-width
 * exponentials over the whole chunk, then the gradient is one full-width pass
 * against per-element buffers of the row coefficients.  Returns 0 (nothing
 * written) if the chunk holds an inf or a NaN: the caller then goes row by
 * row through the general path, which implements the special values. */
FSM_INLINE int FN(ce_index_small)(const T *x, ptrdiff_t rows, ptrdiff_t n, ptrdiff_t avail,
                                  const IVT *lanes, const int64_t *target, int64_t ignore_index,
                                  const T *weight, double wsum, double eps, double z,
                                  double *loss_rows, T *grad, double scale, double *total)
{
    T mbuf[FSM_SMALL_CHUNK + 64 / sizeof(T)], ebuf[FSM_SMALL_CHUNK + 2 * 64 / sizeof(T)];
    double lse[FSM_SMALL_CHUNK + FSM_LANES_f64];
    if (!FN(lse_small_chunk)(x, rows, n, avail, lanes, mbuf, ebuf, lse)) return 0;
    const double eps_c = eps / (double)n;
    double coef[FSM_SMALL_CHUNK + FSM_LANES_f64];   /* per row: scale * Q, then / sum */
    double sum = 0.0;
    for (ptrdiff_t i = 0; i < rows; i++) {
        const T *xi = x + i * n;
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
            coef[i] = scale * ((1.0 - eps) * wy + (eps != 0.0 ? eps_c * wsum : 0.0)
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
    T cbuf[FSM_SMALL_CHUNK + 64 / sizeof(T)], dbuf[FSM_SMALL_CHUNK + 64 / sizeof(T)];
    const VT zero = FN(fsm_splat)(0);
    VT wterm[SK];
    for (int k = 0; k < SK; k++) {
        wterm[k] = zero;
        if (eps != 0.0 && k * LANES < n)
            wterm[k] = (weight ? FN(load_lim)(weight + k * LANES, n - k * LANES, 0) : FN(fsm_splat)(1))
                       * FN(fsm_splat)((T)(scale * eps_c));
    }
    for (ptrdiff_t i = 0; i < rows; i++) {
        FN(short_row_splat)(cbuf + i * n, n, FN(fsm_splat)((T)coef[i]));
        const int keep = target[i] != ignore_index;
        for (int k = 0; k < SK; k++)
            if (k * LANES < n) FN(fsm_storeu)(dbuf + i * n + k * LANES, keep ? wterm[k] : zero);
    }
    const ptrdiff_t tot = rows * n;
    ptrdiff_t j = 0;
    for (; j + LANES <= tot; j += LANES) {
        VT e = FN(fsm_vexp_le)(FN(fsm_loadu)(x + j), FN(fsm_loadu)(mbuf + j));
        FN(fsm_storeu)(grad + j, e * FN(fsm_loadu)(cbuf + j) - FN(fsm_loadu)(dbuf + j));
    }
    if (j < tot) {
        VT e = FN(fsm_vexp_le)(FN(fsm_load_tail)(x + j, tot - j, 0), FN(fsm_loadu)(mbuf + j));
        FN(fsm_store_tail)(grad + j, e * FN(fsm_loadu)(cbuf + j) - FN(fsm_loadu)(dbuf + j), tot - j);
    }
    for (ptrdiff_t i = 0; i < rows; i++) {
        const int64_t y = target[i];
        if (y == ignore_index) continue;
        const double wy = weight ? (double)weight[y] : 1.0;
        grad[i * n + y] = (T)((double)grad[i * n + y] - scale * (1.0 - eps) * wy);
    }
    return 1;
}

FSM_INLINE double FN(ce_index_rows)(const T *x, ptrdiff_t ldx, ptrdiff_t nrows, ptrdiff_t ncols,
                                     const int64_t *target, int64_t ignore_index,
                                     const T *weight, double wsum, double eps, double z,
                                     double *loss_rows, T *grad, ptrdiff_t ldg, double scale)
{
    double total = 0.0;
    const double eps_c = ncols > 0 ? eps / (double)ncols : 0.0;
    for (ptrdiff_t i = 0; i < nrows; i++) {
        const T *xi = x + i * ldx;
        const int64_t y = target[i];
        double loss = 0.0;
        if (y == ignore_index) {
            if (grad) FN(row_fill)(grad + i * ldg, ncols, 0);
        } else {
            T m;
            double acc, cnt;
            FN(row_state)(xi, ncols, &m, &acc, &cnt);
            /* lse - x = (m - x) + L: exact where m is huge (four tied logits
             * of 1e20 still give log 4) */
            const double L = isfinite(m) ? log1p(acc + (cnt - 1.0)) : 0.0;
            const double wy = weight ? (double)weight[y] : 1.0;
            loss = (1.0 - eps) * wy * (((double)m - (double)xi[y]) + L);
            if (eps != 0.0)
                loss += eps_c * (wsum * L + FN(row_wdot)(xi, weight, ncols, m));
            const double lse = (double)m + L;
            loss += z * lse * lse;
            /* a NaN, a +inf or only -inf in the row: no distribution (torch: NaN) */
            if (!isfinite(m)) loss = NAN;
            if (grad) {
                T *gi = grad + i * ldg;
                if (isfinite(m)) {
                    /* without smoothing the class weights other than w[y] play no
                     * part: an inf or NaN weight elsewhere must not leak in */
                    const double q_total = (1.0 - eps) * wy + (eps != 0.0 ? eps_c * wsum : 0.0)
                                           + 2.0 * z * lse;
                    FN(row_grad_base)(xi, ncols, m, (T)(scale * q_total / (acc + cnt)),
                                      eps != 0.0 ? weight : NULL, (T)(scale * eps_c), gi);
                    gi[y] = (T)((double)gi[y] - scale * (1.0 - eps) * wy);
                } else {
                    FN(row_fill)(gi, ncols, (T)NAN);
                }
            }
        }
        if (loss_rows) loss_rows[i] = loss;
        total += loss;
    }
    return total;
}

FSM_TARGET double FSM_API(FN(fsm_ce_index))(const T *x, ptrdiff_t ldx, ptrdiff_t nrows, ptrdiff_t ncols,
                                   const int64_t *target, int64_t ignore_index,
                                   const T *weight, double wsum, double eps, double z_loss,
                                   double *loss_rows, T *grad, ptrdiff_t ldg, double scale)
{
    double total = 0.0;
    if (ncols >= 1 && ncols <= SLANES && ldx == ncols && (!grad || ldg == ncols)) {
        IVT lanes[SK];
        FN(short_lanes)(ncols, lanes);
        const ptrdiff_t rpc = FSM_SMALL_CHUNK / ncols;
        for (ptrdiff_t i0 = 0; i0 < nrows; i0 += rpc) {
            const ptrdiff_t r = nrows - i0 < rpc ? nrows - i0 : rpc;
            if (FN(ce_index_small)(x + i0 * ncols, r, ncols, (nrows - i0) * ncols, lanes,
                                   target + i0, ignore_index, weight, wsum, eps, z_loss,
                                   loss_rows ? loss_rows + i0 : NULL,
                                   grad ? grad + i0 * ncols : NULL, scale, &total))
                continue;
            /* an inf or a NaN in the chunk: these rows through the general path */
            total += FN(ce_index_rows)(x + i0 * ncols, ldx, r, ncols, target + i0, ignore_index,
                                       weight, wsum, eps, z_loss,
                                       loss_rows ? loss_rows + i0 : NULL,
                                       grad ? grad + i0 * ncols : NULL, ldg, scale);
        }
        return total;
    }
    return FN(ce_index_rows)(x, ldx, nrows, ncols, target, ignore_index, weight, wsum, eps,
                             z_loss, loss_rows, grad, ldg, scale);
}

FSM_TARGET double FSM_API(FN(fsm_ce_prob))(const T *x, ptrdiff_t ldx, ptrdiff_t nrows, ptrdiff_t ncols,
                                  const T *t, ptrdiff_t ldt, const T *weight, double eps,
                                  double z_loss, double *loss_rows, T *grad, ptrdiff_t ldg,
                                  double scale)
{
    double total = 0.0;
    const T keep = (T)(1.0 - eps), add = (T)(ncols > 0 ? eps / (double)ncols : 0.0);
    const VT keepv = FN(fsm_splat)(keep), addv = FN(fsm_splat)(add);
    const VT zero = FN(fsm_splat)(0), one = FN(fsm_splat)(1);
    for (ptrdiff_t i = 0; i < nrows; i++) {
        const T *xi = x + i * ldx, *ti = t + i * ldt;
        T m;
        double acc, cnt;
        FN(row_state)(xi, ncols, &m, &acc, &cnt);
        const VT mv0 = FN(fsm_splat)(m);
        const double L = isfinite(m) ? log1p(acc + (cnt - 1.0)) : 0.0, lse = (double)m + L;
        const VT lv = FN(fsm_splat)((T)L);
        /* sum_c w t' ((m - x) + L) and Q = sum_c w t', in T per term (float32:
         * ~1e-7 relative), summed in double */
        DACC la, qa;
        FN(fsm_dacc_zero)(&la);
        FN(fsm_dacc_zero)(&qa);
        for (ptrdiff_t j = 0; j < ncols; j += LANES) {
            ptrdiff_t r = ncols - j;
            VT xv = r >= LANES ? FN(fsm_loadu)(xi + j) : FN(fsm_load_tail)(xi + j, r, 0);
            VT tv = r >= LANES ? FN(fsm_loadu)(ti + j) : FN(fsm_load_tail)(ti + j, r, 0);
            VT wv = weight ? (r >= LANES ? FN(fsm_loadu)(weight + j)
                                         : FN(fsm_load_tail)(weight + j, r, 0)) : one;
            VT tp = tv * keepv + addv;
            if (r < LANES) {  /* padding lanes contribute nothing */
                VT lanes = zero;
                for (ptrdiff_t k = 0; k < r; k++) lanes[k] = 1;
                tp = tp * lanes;
            }
            VT wt = wv * tp;
            FN(fsm_dacc_add)(&qa, wt);
            FN(fsm_dacc_add)(&la, FN(fsm_sel)(tp == zero, zero, wt * ((mv0 - xv) + lv)));
        }
        /* no class at all: 0 (torch); a row without a distribution: NaN */
        const double loss = isfinite(m) ? FN(fsm_dacc_sum)(&la) + z_loss * lse * lse
                            : ncols == 0 ? 0.0 : NAN;
        if (grad) {
            T *gi = grad + i * ldg;
            if (isfinite(m)) {
                const double q_total = FN(fsm_dacc_sum)(&qa) + 2.0 * z_loss * lse;
                const VT mv = FN(fsm_splat)(m);
                const VT cv = FN(fsm_splat)((T)(scale * q_total / (acc + cnt)));
                const VT sv = FN(fsm_splat)((T)scale);
                for (ptrdiff_t j = 0; j < ncols; j += LANES) {
                    ptrdiff_t r = ncols - j;
                    VT xv = r >= LANES ? FN(fsm_loadu)(xi + j) : FN(fsm_load_tail)(xi + j, r, 0);
                    VT tv = r >= LANES ? FN(fsm_loadu)(ti + j) : FN(fsm_load_tail)(ti + j, r, 0);
                    VT wv = weight ? (r >= LANES ? FN(fsm_loadu)(weight + j)
                                                 : FN(fsm_load_tail)(weight + j, r, 0)) : one;
                    VT gv = FN(fsm_vexp_le)(xv, mv) * cv - sv * (wv * (tv * keepv + addv));
                    if (r >= LANES) FN(fsm_storeu)(gi + j, gv);
                    else FN(fsm_store_tail)(gi + j, gv, r);
                }
            } else {
                FN(row_fill)(gi, ncols, (T)NAN);
            }
        }
        if (loss_rows) loss_rows[i] = loss;
        total += loss;
    }
    return total;
}
