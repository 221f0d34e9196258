/*
 * fsm_rowcore_impl.h -- the online max + sum-of-exponentials pass over one
 * row, shared by the softmax family (fsm_rowops_impl.h) and the losses
 * (fsm_losses_impl.h).  Instantiated per type: the includer defines T, SFX,
 * VT and FN/LANES/DACC (see fsm_rowops.c).
 *
 * All arithmetic runs on the vectors of fsm_simd.h, including each row's
 * tail, which is loaded padded with a neutral value (-inf): every element of
 * a row goes through the same code, and lanes are combined in a fixed order,
 * so each row's result is deterministic and independent of threading.
 */

/* Block length of the online pass: 8-16 KiB, so the second sweep over a
 * block (exponentials after its max) is served from L1. */
#ifndef FSM_BLOCK
#define FSM_BLOCK 2048
#endif

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

