/*
 * fsm_rowops_impl.h -- softmax, log_softmax, logsumexp row kernels, written
 * once and instantiated for float and double by fsm_rowops.c.  The online
 * pass they share with the losses is in fsm_rowcore_impl.h.
 */

FSM_CLONES void FN(fsm_softmax)(const T *x, ptrdiff_t ldx, T *out, ptrdiff_t ldo,
                                ptrdiff_t nrows, ptrdiff_t ncols)
{
    for (ptrdiff_t i = 0; i < nrows; i++) {
        const T *xi = x + i * ldx;
        T *oi = out + i * ldo;
        T m;
        double acc, cnt;
        FN(row_state)(xi, ncols, &m, &acc, &cnt);
        /* SciPy: a row with a NaN, a +inf, or only -inf is all NaN */
        const VT mv = FN(fsm_splat)(m);
        const VT scale = isfinite(m) ? FN(fsm_splat)((T)(1.0 / (acc + cnt))) : FN(fsm_splat)((T)NAN);
        ptrdiff_t j = 0;
        for (; j + LANES <= ncols; j += LANES)
            FN(fsm_storeu)(oi + j, FN(fsm_vexp_diff)(FN(fsm_loadu)(xi + j), mv) * scale);
        if (j < ncols) {
            VT e = FN(fsm_vexp_diff)(FN(fsm_load_tail)(xi + j, ncols - j, 0), mv);
            FN(fsm_store_tail)(oi + j, e * scale, ncols - j);
        }
    }
}

FSM_CLONES void FN(fsm_log_softmax)(const T *x, ptrdiff_t ldx, T *out, ptrdiff_t ldo,
                                    ptrdiff_t nrows, ptrdiff_t ncols)
{
    for (ptrdiff_t i = 0; i < nrows; i++) {
        const T *xi = x + i * ldx;
        T *oi = out + i * ldo;
        T m;
        double acc, cnt;
        FN(row_state)(xi, ncols, &m, &acc, &cnt);
        /* (x - m) - log(sum exp(x - m)) in double, rounded once: SciPy's
         * formula, more accurate near 0 than x - logsumexp.  A non-finite max
         * is replaced by 0, as SciPy does, which yields its special values:
         * -inf / NaN with a +inf in the row, NaN for an all -inf row. */
        double shift = isfinite(m) ? (double)m : 0.0;
        double lse = isfinite(m) ? log1p(acc + (cnt - 1.0)) : (double)m;
        ptrdiff_t j = 0;
        for (; j + LANES <= ncols; j += LANES)
            FN(fsm_storeu)(oi + j, FN(fsm_sub2_double)(FN(fsm_loadu)(xi + j), shift, lse));
        if (j < ncols)
            FN(fsm_store_tail)(oi + j, FN(fsm_sub2_double)(FN(fsm_load_tail)(xi + j, ncols - j, 0), shift, lse),
                               ncols - j);
    }
}

FSM_CLONES void FN(fsm_logsumexp)(const T *x, ptrdiff_t ldx, T *out,
                                  ptrdiff_t nrows, ptrdiff_t ncols)
{
    for (ptrdiff_t i = 0; i < nrows; i++) out[i] = (T)FN(row_lse)(x + i * ldx, ncols);
}


/* Elementwise exp: not part of the API, exposed so the tests can check the
 * vectorized exp against float64 numpy over the whole range. */
FSM_CLONES void FN(fsm_exp)(const T *x, T *out, ptrdiff_t n)
{
    ptrdiff_t j = 0;
    for (; j + LANES <= n; j += LANES) FN(fsm_storeu)(out + j, FN(fsm_vexp)(FN(fsm_loadu)(x + j)));
    if (j < n) FN(fsm_store_tail)(out + j, FN(fsm_vexp)(FN(fsm_load_tail)(x + j, n - j, 0)), n - j);
}
