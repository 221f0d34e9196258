/*
 * fsm_rowops_impl.h -- the row kernels, written once and instantiated for
 * float and double by fsm_rowops.c (which defines T, SFX and VT).
 *
 * All arithmetic runs on the vectors of fsm_simd.h, including each row's
 * tail, which is loaded padded with a neutral value (-inf): every element of
 * a row goes through the same code, and lanes are combined in a fixed order,
 * so each row's result is deterministic and independent of threading.
 */

#define FSM_CAT2(a, b) a##_##b
#define FSM_CAT(a, b) FSM_CAT2(a, b)
#define FN(name) FSM_CAT(name, SFX)
#define LANES FSM_CAT(FSM_LANES, SFX)
#define DACC FSM_CAT(fsm_dacc, SFX)

/* Block length of the online pass: 8-16 KiB, so the second sweep over a
 * block (exponentials after its max) is served from L1. */
#define FSM_BLOCK 2048

/* Max of x[0:n], NaN-propagating (a NaN anywhere gives NaN); -inf if n == 0. */
FSM_INLINE T FN(block_max)(const T *x, ptrdiff_t n)
{
    const T ninf = -(T)INFINITY;
    VT m0 = FN(fsm_splat)(ninf), m1 = m0;
    ptrdiff_t j = 0;
    for (; j + 2 * LANES <= n; j += 2 * LANES) {
        m0 = FN(fsm_vmax)(m0, FN(fsm_loadu)(x + j));
        m1 = FN(fsm_vmax)(m1, FN(fsm_loadu)(x + j + LANES));
    }
    for (; j + LANES <= n; j += LANES) m0 = FN(fsm_vmax)(m0, FN(fsm_loadu)(x + j));
    if (j < n) m1 = FN(fsm_vmax)(m1, FN(fsm_load_tail)(x + j, n - j, ninf));
    return FN(fsm_hmax)(FN(fsm_vmax)(m0, m1));
}

/* Adds sum(exp(x - m)) over the elements below m to *acc and the number of
 * elements equal to m to *cnt (m finite).  Keeping the max terms (exactly 1
 * each) apart lets the caller form log1p(others) + m, exact where one term
 * dominates: logsumexp([0, -40]) = 4.25e-18, not 0 (as SciPy computes it). */
FSM_INLINE void FN(block_sumexp)(const T *x, ptrdiff_t n, T m,
                                    double *acc, double *cnt)
{
    const T ninf = -(T)INFINITY;
    const VT mv = FN(fsm_splat)(m), zero = FN(fsm_splat)(0), one = FN(fsm_splat)(1);
    DACC a;
    FN(fsm_dacc_zero)(&a);
    VT c = zero;                  /* per-lane counts, exact: a block is < 2^24 */
    ptrdiff_t j = 0;
    VT v;
    for (;; j += LANES) {
        if (j + LANES <= n) v = FN(fsm_loadu)(x + j);
        else if (j < n) v = FN(fsm_load_tail)(x + j, n - j, ninf);  /* exp(-inf) = 0 */
        else break;
        VT e = FN(fsm_vexp_diff)(v, mv);
        FN(fsm_dacc_add)(&a, FN(fsm_sel)(v == mv, zero, e));
        c += FN(fsm_sel)(v == mv, one, zero);
    }
    DACC ca;
    FN(fsm_dacc_zero)(&ca);
    FN(fsm_dacc_add)(&ca, c);
    *acc += FN(fsm_dacc_sum)(&a);
    *cnt += FN(fsm_dacc_sum)(&ca);
}

/* One sweep over a row from memory: running max m, with the sum rescaled each
 * time the max grows (online softmax), block by block.  On return the row's
 * logsumexp is m + log1p(acc + cnt - 1) for finite m; otherwise m itself is
 * the answer (+inf: some element is +inf; -inf: all are -inf or the row is
 * empty; NaN: some element is NaN). */
FSM_INLINE void FN(row_state)(const T *x, ptrdiff_t n, T *m_out,
                                 double *acc_out, double *cnt_out)
{
    T m = -(T)INFINITY;
    double acc = 0.0, cnt = 0.0;
    for (ptrdiff_t b = 0; b < n; b += FSM_BLOCK) {
        ptrdiff_t len = n - b < FSM_BLOCK ? n - b : FSM_BLOCK;
        T bm = FN(block_max)(x + b, len);
        if (bm != bm) { m = bm; break; }
        if (bm > m) {
            /* exact difference in double, libm exp: once per block */
            acc = isfinite(m) && isfinite(bm) ? (acc + cnt) * exp((double)m - (double)bm) : 0.0;
            cnt = 0.0;
            m = bm;
        }
        if (isfinite(m)) FN(block_sumexp)(x + b, len, m, &acc, &cnt);
    }
    *m_out = m;
    *acc_out = acc;
    *cnt_out = cnt;
}

FSM_INLINE double FN(row_lse)(const T *x, ptrdiff_t n)
{
    T m;
    double acc, cnt;
    FN(row_state)(x, n, &m, &acc, &cnt);
    if (!isfinite(m)) return (double)m;
    return (double)m + log1p(acc + (cnt - 1.0));
}

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

#undef FN
#undef LANES
#undef DACC
#undef FSM_CAT
#undef FSM_CAT2
#undef FSM_BLOCK
