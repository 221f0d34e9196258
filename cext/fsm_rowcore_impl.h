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

/* Max of x[0:n], NaN-propagating (a NaN anywhere gives NaN); -inf if n == 0.
 * The loop takes the NaN-ignoring max (one vmaxps) and flags non-finite
 * elements with x * 0 + z (one FMA); only a flagged block is rescanned. */
FSM_INLINE T FN(block_max_impl)(const T *x, ptrdiff_t n, const int back)
{
    const T ninf = -(T)INFINITY;
    VT m0 = FN(fsm_splat)(ninf), m1 = m0, m2 = m0, m3 = m0;
    VT z0 = FN(fsm_splat)(0), z1 = z0;
    ptrdiff_t j = 0;
    for (; j + 4 * LANES <= n; j += 4 * LANES) {
        VT v0 = FN(fsm_loadu)(x + j), v1 = FN(fsm_loadu)(x + j + LANES);
        VT v2 = FN(fsm_loadu)(x + j + 2 * LANES), v3 = FN(fsm_loadu)(x + j + 3 * LANES);
        m0 = FN(fsm_vmax_fast)(m0, v0);
        m1 = FN(fsm_vmax_fast)(m1, v1);
        m2 = FN(fsm_vmax_fast)(m2, v2);
        m3 = FN(fsm_vmax_fast)(m3, v3);
        z0 = (v0 * 0 + z0) + v1 * 0;
        z1 = (v2 * 0 + z1) + v3 * 0;
    }
    for (; j + LANES <= n; j += LANES) {
        VT v = FN(fsm_loadu)(x + j);
        m0 = FN(fsm_vmax_fast)(m0, v);
        z0 = v * 0 + z0;
    }
    if (j < n && back) {
        /* the last LANES elements (x[n - LANES] is readable): repeats are harmless */
        VT v = FN(fsm_loadu)(x + n - LANES);
        m1 = FN(fsm_vmax_fast)(m1, v);
        z1 = v * 0 + z1;
    } else if (j < n) {
        VT v = FN(fsm_load_tail)(x + j, n - j, 0);
        m1 = FN(fsm_vmax_fast)(m1, FN(fsm_load_tail)(x + j, n - j, ninf));
        z1 = v * 0 + z1;
    }
    m0 = FN(fsm_vmax_fast)(FN(fsm_vmax_fast)(m0, m1), FN(fsm_vmax_fast)(m2, m3));
    T m = FN(fsm_allmax_nonan)(m0)[0];
    T z = FN(fsm_allsum)(z0 + z1)[0];
    if (z != z) {
        /* an infinity or a NaN: look for a NaN */
        for (ptrdiff_t k = 0; k < n; k++)
            if (x[k] != x[k]) return x[k];
    }
    return m;
}

FSM_INLINE T FN(block_max)(const T *x, ptrdiff_t n) { return FN(block_max_impl)(x, n, 0); }

/* lanes k < LANES - rem all ones (0 < rem < LANES), without a compare */
FSM_INLINE IVT FN(head_mask)(ptrdiff_t rem)
{
    return (IVT)(FN(fsm_iota)() - (int)(LANES - rem)) >> SHIFT;
}

/* sum over x[0:n] of exp(x - m) (x <= m), elements equal to m counted in *cnt
 * and left out of the sum if COUNT, else none equal m.  Lanes are summed in
 * float32 over groups of 8 vectors (2 interleaved chains of 4: a relative
 * error below 4 ulp for these positive terms) and the group sums in double. */
FSM_INLINE void FN(block_sumexp_impl)(const T *x, ptrdiff_t n, T m,
                                      double *acc, double *cnt, const int count, const int back)
{
    /* the next block is read by block_max as soon as this one is summed:
     * fetch it during this compute-bound loop */
    const char *pf = (const char *)(x + n);
    const T ninf = -(T)INFINITY;
    const VT mv = FN(fsm_splat)(m), zero = FN(fsm_splat)(0), one = FN(fsm_splat)(1);
    DACC a;
    FN(fsm_dacc_zero)(&a);
    VT c = zero;                  /* per-lane counts, exact: a block is < 2^24 */
    ptrdiff_t j = 0;
    for (; j + 8 * LANES <= n; j += 8 * LANES) {
        VT s0 = zero, s1 = zero;
        for (int g = 0; g < FSM_W / 8; g++) __builtin_prefetch(pf + (j + g * 64 / (ptrdiff_t)sizeof(T)) * (ptrdiff_t)sizeof(T));
        for (int g = 0; g < 8; g += 2) {
            VT v0 = FN(fsm_loadu)(x + j + g * LANES);
            VT v1 = FN(fsm_loadu)(x + j + (g + 1) * LANES);
            VT e0 = FN(fsm_vexp_le)(v0, mv), e1 = FN(fsm_vexp_le)(v1, mv);
            if (count) {
                /* x == m exactly where x - m (<= 0) is zero: mask from the
                 * sign of (x - m) + 0 (+0 also for -0 - +0) */
                IVT k0 = (IVT)((v0 - mv) + 0) >> SHIFT, k1 = (IVT)((v1 - mv) + 0) >> SHIFT;
                e0 = (VT)((IVT)e0 & k0);
                e1 = (VT)((IVT)e1 & k1);
                c += (VT)((IVT)one & ~k0);
                c += (VT)((IVT)one & ~k1);
            }
            s0 += e0;
            s1 += e1;
        }
        FN(fsm_dacc_add)(&a, s0 + s1);
    }
    VT s = zero;
    for (;; j += LANES) {
        VT v;
        if (j + LANES <= n) v = FN(fsm_loadu)(x + j);
        else if (j < n && back) {
            /* the last LANES elements, those already summed set to -inf */
            IVT h = FN(head_mask)(n - j);
            v = FN(fsm_loadu)(x + n - LANES);
            v = (VT)(((IVT)v & ~h) | ((IVT)FN(fsm_splat)(ninf) & h));
        }
        else if (j < n) v = FN(fsm_load_tail)(x + j, n - j, ninf);  /* exp(-inf) = 0 */
        else break;
        VT e = FN(fsm_vexp_le)(v, mv);
        if (count) {
            IVT k = (IVT)((v - mv) + 0) >> SHIFT;
            e = (VT)((IVT)e & k);
            c += (VT)((IVT)one & ~k);
        }
        s += e;
    }
    FN(fsm_dacc_add)(&a, s);
    *acc += FN(fsm_dacc_sum)(&a);
    if (count) *cnt += (double)FN(fsm_allsum)(c)[0];
}

/* Adds sum(exp(x - m)) over the elements below m to *acc and the number of
 * elements equal to m to *cnt (m finite).  Keeping the max terms (exactly 1
 * each) apart lets the caller form log1p(others) + m, exact where one term
 * dominates: logsumexp([0, -40]) = 4.25e-18, not 0 (as SciPy computes it). */
FSM_INLINE void FN(block_sumexp)(const T *x, ptrdiff_t n, T m,
                                    double *acc, double *cnt)
{
    FN(block_sumexp_impl)(x, n, m, acc, cnt, 1, 0);
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
        const int back = b + len >= LANES;   /* x[b + len - LANES] is in the row */
        T bm = FN(block_max_impl)(x + b, len, back);
        if (bm != bm) { m = bm; break; }
        if (bm > m) {
            /* exact difference in double, libm exp: once per block */
            acc = isfinite(m) && isfinite(bm) ? (acc + cnt) * exp((double)m - (double)bm) : 0.0;
            cnt = 0.0;
            m = bm;
        }
        if (!isfinite(m)) continue;
        if (bm == m) FN(block_sumexp_impl)(x + b, len, m, &acc, &cnt, 1, back);
        else FN(block_sumexp_impl)(x + b, len, m, &acc, &cnt, 0, back);  /* all below m */
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

