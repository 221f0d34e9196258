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
 */

/* sum_c w[c] x[c] (w == NULL: plain sum), accumulated in double */
FSM_INLINE double FN(row_wdot)(const T *x, const T *w, ptrdiff_t n)
{
    DACC a;
    FN(fsm_dacc_zero)(&a);
    const VT one = FN(fsm_splat)(1);
    ptrdiff_t j = 0;
    for (; j + LANES <= n; j += LANES) {
        VT wv = w ? FN(fsm_loadu)(w + j) : one;
        FN(fsm_dacc_add)(&a, wv * FN(fsm_loadu)(x + j));
    }
    if (j < n) {
        VT wv = w ? FN(fsm_load_tail)(w + j, n - j, 0) : one;
        FN(fsm_dacc_add)(&a, wv * FN(fsm_load_tail)(x + j, n - j, 0));
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
        FN(fsm_storeu)(g + j, FN(fsm_vexp_diff)(FN(fsm_loadu)(x + j), mv) * cv - sub);
    }
    if (j < n) {
        VT sub = w ? FN(fsm_load_tail)(w + j, n - j, 0) * wc : wc;
        VT e = FN(fsm_vexp_diff)(FN(fsm_load_tail)(x + j, n - j, 0), mv);
        FN(fsm_store_tail)(g + j, e * cv - sub, n - j);
    }
}

FSM_INLINE void FN(row_fill)(T *g, ptrdiff_t n, T v)
{
    for (ptrdiff_t j = 0; j < n; j++) g[j] = v;
}

FSM_CLONES double FN(fsm_ce_index)(const T *x, ptrdiff_t ldx, ptrdiff_t nrows, ptrdiff_t ncols,
                                   const int64_t *target, int64_t ignore_index,
                                   const T *weight, double wsum, double eps,
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
            const double lse = isfinite(m) ? (double)m + log1p(acc + (cnt - 1.0)) : (double)m;
            const double wy = weight ? (double)weight[y] : 1.0;
            loss = (1.0 - eps) * wy * (lse - (double)xi[y]);
            if (eps != 0.0)
                loss += eps_c * (lse * wsum - FN(row_wdot)(xi, weight, ncols));
            /* a NaN, a +inf or only -inf in the row: no distribution (torch: NaN) */
            if (!isfinite(m)) loss = NAN;
            if (grad) {
                T *gi = grad + i * ldg;
                if (isfinite(m)) {
                    const double q_total = (1.0 - eps) * wy + eps_c * wsum;
                    FN(row_grad_base)(xi, ncols, m, (T)(scale * q_total / (acc + cnt)),
                                      weight, (T)(scale * eps_c), gi);
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

FSM_CLONES double FN(fsm_ce_prob)(const T *x, ptrdiff_t ldx, ptrdiff_t nrows, ptrdiff_t ncols,
                                  const T *t, ptrdiff_t ldt, const T *weight, double eps,
                                  double *loss_rows, T *grad, ptrdiff_t ldg, double scale)
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
        const double lse = isfinite(m) ? (double)m + log1p(acc + (cnt - 1.0)) : (double)m;
        const VT lv = FN(fsm_splat)((T)lse);
        /* sum_c w t' (lse - x) and Q = sum_c w t'; lse - x in T: for float32
         * the loss is then accurate to ~1e-7 relative per term */
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
            FN(fsm_dacc_add)(&la, FN(fsm_sel)(tp == zero, zero, wt * (lv - xv)));
        }
        const double loss = isfinite(m) ? FN(fsm_dacc_sum)(&la) : NAN;
        if (grad) {
            T *gi = grad + i * ldg;
            if (isfinite(m)) {
                const double q_total = FN(fsm_dacc_sum)(&qa);
                const VT mv = FN(fsm_splat)(m);
                const VT cv = FN(fsm_splat)((T)(scale * q_total / (acc + cnt)));
                const VT sv = FN(fsm_splat)((T)scale);
                for (ptrdiff_t j = 0; j < ncols; j += LANES) {
                    ptrdiff_t r = ncols - j;
                    VT xv = r >= LANES ? FN(fsm_loadu)(xi + j) : FN(fsm_load_tail)(xi + j, r, 0);
                    VT tv = r >= LANES ? FN(fsm_loadu)(ti + j) : FN(fsm_load_tail)(ti + j, r, 0);
                    VT wv = weight ? (r >= LANES ? FN(fsm_loadu)(weight + j)
                                                 : FN(fsm_load_tail)(weight + j, r, 0)) : one;
                    VT gv = FN(fsm_vexp_diff)(xv, mv) * cv - sv * (wv * (tv * keepv + addv));
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
