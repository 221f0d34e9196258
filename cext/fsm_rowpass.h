/*
 * fsm_rowpass.h -- the online max + sum-of-exponentials pass over one row
 * (row_state, row_lse), shared by the softmax family (fsm_softmax.h) and the
 * cross-entropy (fsm_crossentropy.h).  A template: included once per type
 * after fsm_type_f32.h or fsm_type_f64.h (a second inclusion for the same
 * type is empty).
 *
 * All arithmetic runs on the vectors of fsm_simd.h, including each row's
 * tail, which is loaded padded with a neutral value (-inf): every element of
 * a row goes through the same code, and lanes are combined in a fixed order,
 * so each row's result is deterministic and independent of threading.
 */
#include "fsm_simd.h"

#ifndef FSM_T
#error "a template: include fsm_type_f32.h or fsm_type_f64.h first"
#endif
#if (FSM_TID == 32 && !defined(FSM_ROWPASS_F32)) || (FSM_TID == 64 && !defined(FSM_ROWPASS_F64))
#if FSM_TID == 32
#define FSM_ROWPASS_F32
#else
#define FSM_ROWPASS_F64
#endif

/* Block length of the online pass: 8-16 KiB, so the second sweep over a
 * block (exponentials after its max) is served from L1. */
#ifndef FSM_BLOCK
#define FSM_BLOCK 2048
#endif

/* lanes k < FSM_LANES - rem all ones (0 < rem < FSM_LANES), without a compare */
FSM_INLINE FSM_IVT FSM_FN(head_mask)(ptrdiff_t rem)
{
    return (FSM_IVT)(FSM_FN(fsm_iota)() - (int)(FSM_LANES - rem)) >> FSM_SIGN_SHIFT;
}

/* Max of x[0:n], NaN-propagating (a NaN anywhere gives NaN); -inf if n == 0.
 * The loop takes the NaN-ignoring max (one vmaxps) and flags non-finite
 * elements with x * 0 + z (one FMA); only a flagged block is rescanned.
 * With mn != NULL also *mn = the min (meaningful for finite blocks only:
 * whether the block can take fsm_vexp_near, see FSM_NEAR).
 * back: x[n - FSM_LANES] is readable (the tail is then one full vector). */
FSM_INLINE FSM_T FSM_FN(block_max_min)(const FSM_T *x, ptrdiff_t n, const int back, FSM_T *mn)
{
    const FSM_T ninf = -(FSM_T)INFINITY;
    FSM_VT m0 = FSM_FN(fsm_splat)(ninf), m1 = m0, m2 = m0, m3 = m0;
    FSM_VT n0 = FSM_FN(fsm_splat)((FSM_T)INFINITY), n1 = n0;
    FSM_VT z0 = FSM_FN(fsm_splat)(0), z1 = z0;
    ptrdiff_t j = 0;
    for (; j + 4 * FSM_LANES <= n; j += 4 * FSM_LANES) {
        FSM_VT v0 = FSM_FN(fsm_loadu)(x + j), v1 = FSM_FN(fsm_loadu)(x + j + FSM_LANES);
        FSM_VT v2 = FSM_FN(fsm_loadu)(x + j + 2 * FSM_LANES), v3 = FSM_FN(fsm_loadu)(x + j + 3 * FSM_LANES);
        m0 = FSM_FN(fsm_vmax_fast)(m0, v0);
        m1 = FSM_FN(fsm_vmax_fast)(m1, v1);
        m2 = FSM_FN(fsm_vmax_fast)(m2, v2);
        m3 = FSM_FN(fsm_vmax_fast)(m3, v3);
        if (mn) {
            n0 = FSM_FN(fsm_vmin_fast)(FSM_FN(fsm_vmin_fast)(n0, v0), v1);
            n1 = FSM_FN(fsm_vmin_fast)(FSM_FN(fsm_vmin_fast)(n1, v2), v3);
        }
        z0 = (v0 * 0 + z0) + v1 * 0;
        z1 = (v2 * 0 + z1) + v3 * 0;
    }
    for (; j + FSM_LANES <= n; j += FSM_LANES) {
        FSM_VT v = FSM_FN(fsm_loadu)(x + j);
        m0 = FSM_FN(fsm_vmax_fast)(m0, v);
        if (mn) n0 = FSM_FN(fsm_vmin_fast)(n0, v);
        z0 = v * 0 + z0;
    }
    if (j < n && back) {
        /* the last FSM_LANES elements (x[n - FSM_LANES] is readable), those
         * seen already masked: they may lie before x, in a block that an
         * in-place softmax has overwritten already */
        const FSM_IVT h = FSM_FN(head_mask)(n - j);
        FSM_VT v = FSM_FN(fsm_loadu)(x + n - FSM_LANES);
        m1 = FSM_FN(fsm_vmax_fast)(m1, FSM_FN(fsm_sel)(h, FSM_FN(fsm_splat)(ninf), v));
        if (mn) n1 = FSM_FN(fsm_vmin_fast)(n1, FSM_FN(fsm_sel)(h, FSM_FN(fsm_splat)((FSM_T)INFINITY), v));
        z1 = (FSM_VT)((FSM_IVT)v & ~h) * 0 + z1;
    } else if (j < n) {
        FSM_VT v = FSM_FN(fsm_load_tail)(x + j, n - j, 0);
        m1 = FSM_FN(fsm_vmax_fast)(m1, FSM_FN(fsm_load_tail)(x + j, n - j, ninf));
        if (mn) n1 = FSM_FN(fsm_vmin_fast)(n1, FSM_FN(fsm_load_tail)(x + j, n - j, (FSM_T)INFINITY));
        z1 = v * 0 + z1;
    }
    m0 = FSM_FN(fsm_vmax_fast)(FSM_FN(fsm_vmax_fast)(m0, m1), FSM_FN(fsm_vmax_fast)(m2, m3));
    FSM_T m = FSM_FN(fsm_allmax_nonan)(m0)[0];
    FSM_T z = FSM_FN(fsm_allsum)(z0 + z1)[0];
    if (mn) {
        *mn = FSM_FN(fsm_allmin_nonan)(FSM_FN(fsm_vmin_fast)(n0, n1))[0];
    }
    if (z != z) {
        /* an infinity or a NaN: look for a NaN */
        for (ptrdiff_t k = 0; k < n; k++)
            if (x[k] != x[k]) return x[k];
    }
    return m;
}

FSM_INLINE FSM_T FSM_FN(block_max)(const FSM_T *x, ptrdiff_t n, const int back)
{
    return FSM_FN(block_max_min)(x, n, back, (FSM_T *)0);
}

/* Whether exp(x - m) may use fsm_vexp_near for a block with min mn whose
 * elements are all finite, m the (running) max: it spans less than
 * FSM_NEAR_RANGE (a compile-time 0 where FSM_NEAR_RANGE is 0: float64). */
#define FSM_NEAR(m, mn) (FSM_NEAR_RANGE > 0 && (m) - (mn) < FSM_NEAR_RANGE)
/* block_max_min's min pointer: NULL (no min computed) where never near */
#define FSM_NEAR_MIN(p) (FSM_NEAR_RANGE > 0 ? (p) : (FSM_T *)0)

/* Adds sum(exp(x - m)) over x[0:n] (x <= m, m finite) to *acc.  With count,
 * the elements equal to m are left out of the sum and counted in *cnt
 * instead (without, none equals m): keeping the max terms (exactly 1 each)
 * apart lets the caller form log1p(others) + m, exact where one term
 * dominates: logsumexp([0, -40]) = 4.25e-18, not 0 (as SciPy computes it).
 * Lanes are summed in FSM_T over groups of 8 vectors (2 interleaved chains of
 * 4: a relative error below 4 ulp for these positive terms) and the group
 * sums in double.  back: as for block_max. */
FSM_INLINE void FSM_FN(block_sumexp_store)(const FSM_T *x, ptrdiff_t n, FSM_T m,
                                           double *acc, double *cnt, const int count,
                                           const int back, FSM_T *e_out, const int near)
{
    /* the next block is read by block_max as soon as this one is summed:
     * fetch it during this compute-bound loop */
    const char *pf = (const char *)(x + n);
    const FSM_T ninf = -(FSM_T)INFINITY;
    const FSM_VT mv = FSM_FN(fsm_splat)(m), zero = FSM_FN(fsm_splat)(0);
    FSM_DACC a;
    FSM_FN(fsm_dacc_zero)(&a);
    /* minus the per-lane counts of lanes below m (k = -1 there), exact: a
     * block is < 2^24; the max lanes are the lanes seen (nv vectors, padding
     * included, which is below m) less those: one integer add per vector */
    FSM_IVT below = (FSM_IVT){0};
    ptrdiff_t j = 0;
    for (; j + 8 * FSM_LANES <= n; j += 8 * FSM_LANES) {
        FSM_VT s0 = zero, s1 = zero;
        for (int g = 0; g < FSM_W / 8; g++) __builtin_prefetch(pf + (j + g * 64 / (ptrdiff_t)sizeof(FSM_T)) * (ptrdiff_t)sizeof(FSM_T));
        for (int g = 0; g < 8; g += 2) {
            FSM_VT v0 = FSM_FN(fsm_loadu)(x + j + g * FSM_LANES);
            FSM_VT v1 = FSM_FN(fsm_loadu)(x + j + (g + 1) * FSM_LANES);
            FSM_VT e0 = FSM_FN(fsm_vexp_row)(near, v0, mv), e1 = FSM_FN(fsm_vexp_row)(near, v1, mv);
            if (e_out) {
                FSM_FN(fsm_storeu)(e_out + j + g * FSM_LANES, e0);
                FSM_FN(fsm_storeu)(e_out + j + (g + 1) * FSM_LANES, e1);
            }
            if (count) {
                /* x == m exactly where x - m (<= 0) is zero: mask from the
                 * sign of (x - m) + 0 (+0 also for -0 - +0) */
                FSM_IVT k0 = (FSM_IVT)((v0 - mv) + 0) >> FSM_SIGN_SHIFT, k1 = (FSM_IVT)((v1 - mv) + 0) >> FSM_SIGN_SHIFT;
                e0 = (FSM_VT)((FSM_IVT)e0 & k0);
                e1 = (FSM_VT)((FSM_IVT)e1 & k1);
                below += k0 + k1;
            }
            s0 += e0;
            s1 += e1;
        }
        FSM_FN(fsm_dacc_add)(&a, s0 + s1);
    }
    FSM_VT s = zero;
    for (;; j += FSM_LANES) {
        FSM_VT v;
        int part = 0;   /* 1: the overlapping last vector, 2: a partial one */
        FSM_IVT h = (FSM_IVT){0};
        if (j + FSM_LANES <= n) v = FSM_FN(fsm_loadu)(x + j);
        else if (j < n && back) {
            /* the last FSM_LANES elements, those already summed set to -inf */
            h = FSM_FN(head_mask)(n - j);
            v = FSM_FN(fsm_loadu)(x + n - FSM_LANES);
            v = (FSM_VT)(((FSM_IVT)v & ~h) | ((FSM_IVT)FSM_FN(fsm_splat)(ninf) & h));
            part = 1;
        }
        else if (j < n) { v = FSM_FN(fsm_load_tail)(x + j, n - j, ninf); part = 2; }  /* exp(-inf) = 0 */
        else break;
        FSM_VT e = FSM_FN(fsm_vexp_row)(near, v, mv);
        /* fsm_vexp_near does not give 0 for the -inf lanes: masked */
        if (near && part == 1) e = (FSM_VT)((FSM_IVT)e & ~h);
        else if (near && part == 2) e = (FSM_VT)((FSM_IVT)e & FSM_FN(head_mask)(FSM_LANES - (n - j)));
        if (e_out) {
            if (part == 0) FSM_FN(fsm_storeu)(e_out + j, e);
            else if (part == 1)   /* keep the lanes stored already */
                FSM_FN(fsm_storeu)(e_out + n - FSM_LANES,
                                   FSM_FN(fsm_sel)(h, FSM_FN(fsm_loadu)(e_out + n - FSM_LANES), e));
            else FSM_FN(fsm_store_tail)(e_out + j, e, n - j);
        }
        if (count) {
            FSM_IVT k = (FSM_IVT)((v - mv) + 0) >> FSM_SIGN_SHIFT;
            e = (FSM_VT)((FSM_IVT)e & k);
            below += k;
        }
        s += e;
    }
    FSM_FN(fsm_dacc_add)(&a, s);
    *acc += FSM_FN(fsm_dacc_sum)(&a);
    if (count) {
        const ptrdiff_t nv = (n + FSM_LANES - 1) / FSM_LANES;   /* the vectors of both loops */
        FSM_VT b = __builtin_convertvector(below, FSM_VT);
        *cnt += (double)nv * FSM_LANES + (double)FSM_FN(fsm_allsum)(b)[0];
    }
}

/* block_sumexp_store without the store */
FSM_INLINE void FSM_FN(block_sumexp)(const FSM_T *x, ptrdiff_t n, FSM_T m,
                                     double *acc, double *cnt, const int count, const int back,
                                     const int near)
{
    FSM_FN(block_sumexp_store)(x, n, m, acc, cnt, count, back, (FSM_T *)0, near);
}

/* One sweep over a row from memory: running max m, with the sum rescaled each
 * time the max grows (online softmax), block by block.  On return the row's
 * logsumexp is m + log1p(acc + cnt - 1) for finite m; otherwise m itself is
 * the answer (+inf: some element is +inf; -inf: all are -inf or the row is
 * empty; NaN: some element is NaN). */
FSM_INLINE void FSM_FN(row_state)(const FSM_T *x, ptrdiff_t n, FSM_T *m_out,
                                 double *acc_out, double *cnt_out)
{
    FSM_T m = -(FSM_T)INFINITY;
    double acc = 0.0, cnt = 0.0;
    for (ptrdiff_t b = 0; b < n; b += FSM_BLOCK) {
        ptrdiff_t len = n - b < FSM_BLOCK ? n - b : FSM_BLOCK;
        const int back = b + len >= FSM_LANES;   /* x[b + len - FSM_LANES] is in the row */
        FSM_T bmn;
        FSM_T bm = FSM_FN(block_max_min)(x + b, len, back, FSM_NEAR_MIN(&bmn));
        if (bm != bm) { m = bm; break; }
        if (bm > m) {
            /* exact difference in double, libm exp: once per block */
            acc = isfinite(m) && isfinite(bm) ? (acc + cnt) * exp((double)m - (double)bm) : 0.0;
            cnt = 0.0;
            m = bm;
        }
        if (!isfinite(m)) continue;
        if (FSM_NEAR(m, bmn)) {
            if (bm == m) FSM_FN(block_sumexp)(x + b, len, m, &acc, &cnt, 1, back, 1);
            else FSM_FN(block_sumexp)(x + b, len, m, &acc, &cnt, 0, back, 1);
        }
        else if (bm == m) FSM_FN(block_sumexp)(x + b, len, m, &acc, &cnt, 1, back, 0);
        else FSM_FN(block_sumexp)(x + b, len, m, &acc, &cnt, 0, back, 0);  /* all below m */
    }
    *m_out = m;
    *acc_out = acc;
    *cnt_out = cnt;
}

/* row_state of rows [0, r) of x, row k at x + k * ldx, into m[k], acc[k],
 * cnt[k], except the rows with skip[k] != 0 (skip may be NULL), whose
 * outputs are left alone.  Rows of at most FSM_GROUP_MAX elements go stage
 * by stage across the rows, max then sum: the same steps as row_state (the
 * row is one block), so the same results, but the rows' latency chains (the
 * max butterfly, the sum) overlap instead of one row waiting for the next,
 * which is what limits rows of 33-256 floats.  With e != NULL (such rows
 * only) row k's exponentials exp(x - m) are also stored at e + k * lde, for
 * a gradient pass that then needs no exp of its own.  Longer rows go one by one:
 * their own arithmetic hides those chains, and a row's sum then overlaps
 * the memory reads of the next (block_sumexp prefetches it). */
#define FSM_ROWS_STATE_MAX 16   /* rows per rows_state call: its callers pass at most 8 */
#ifndef FSM_GROUP_MAX
#define FSM_GROUP_MAX ((ptrdiff_t)(1024 / sizeof(FSM_T)))   /* 256 floats, 128 doubles */
#endif
FSM_INLINE void FSM_FN(rows_state)(const FSM_T *x, ptrdiff_t ldx, ptrdiff_t n, ptrdiff_t r,
                                   const unsigned char *skip, FSM_T *m, double *acc, double *cnt,
                                   FSM_T *e, ptrdiff_t lde)
{
    if (n > FSM_GROUP_MAX) {
        for (ptrdiff_t k = 0; k < r; k++)
            if (!skip || !skip[k]) FSM_FN(row_state)(x + k * ldx, n, m + k, acc + k, cnt + k);
        return;
    }
    const int back = n >= FSM_LANES;   /* as row_state's for its one block */
    FSM_T mn[FSM_ROWS_STATE_MAX];
    for (ptrdiff_t k = 0; k < r; k++)
        if (!skip || !skip[k]) m[k] = FSM_FN(block_max_min)(x + k * ldx, n, back, FSM_NEAR_MIN(mn + k));
    for (ptrdiff_t k = 0; k < r; k++) {
        if (skip && skip[k]) continue;
        acc[k] = cnt[k] = 0.0;
        if (!isfinite(m[k])) continue;
        FSM_T *ek = e ? e + k * lde : (FSM_T *)0;
        if (FSM_NEAR(m[k], mn[k]))
            FSM_FN(block_sumexp_store)(x + k * ldx, n, m[k], acc + k, cnt + k, 1, back, ek, 1);
        else
            FSM_FN(block_sumexp_store)(x + k * ldx, n, m[k], acc + k, cnt + k, 1, back, ek, 0);
    }
}

/* The row states of a loop over rows in order, FSM_ROWS_GROUP rows at a time
 * (rows of at most FSM_GROUP_MAX elements; longer rows one by one, so that
 * each row's later passes read it from cache right after its online pass). */
#ifndef FSM_ROWS_GROUP
#define FSM_ROWS_GROUP 4
#endif
typedef struct {
    FSM_T m[FSM_ROWS_GROUP];
    double acc[FSM_ROWS_GROUP], cnt[FSM_ROWS_GROUP];
} FSM_FN(row_group);

/* For row i of rows [0, nrows) of x, visited in order: when i starts a group,
 * the row states of the group's rows (rows_state; those whose target is
 * ignore_index are skipped, when target != NULL), and, with e != NULL, for
 * grouped rows their exponentials at e + row * lde (see rows_state).  Returns
 * the index of row i's state in g; whether row i's exponentials were stored
 * is FSM_ROW_GROUP_STORES(ncols). */
#define FSM_ROW_GROUP_STORES(ncols) ((ncols) <= FSM_GROUP_MAX)
FSM_INLINE ptrdiff_t FSM_FN(row_group_state)(FSM_FN(row_group) *g, const FSM_T *x, ptrdiff_t ldx,
                                             ptrdiff_t nrows, ptrdiff_t ncols, ptrdiff_t i,
                                             const int64_t *target, int64_t ignore_index,
                                             FSM_T *e, ptrdiff_t lde)
{
    const ptrdiff_t group = ncols <= FSM_GROUP_MAX ? FSM_ROWS_GROUP : 1;
    const ptrdiff_t k = i % group;
    if (k == 0) {
        unsigned char skip[FSM_ROWS_GROUP];
        const ptrdiff_t r = nrows - i < group ? nrows - i : group;
        for (ptrdiff_t q = 0; q < r; q++) skip[q] = target && target[i + q] == ignore_index;
        FSM_FN(rows_state)(x + i * ldx, ldx, ncols, r, target ? skip : NULL, g->m, g->acc, g->cnt,
                           e && group > 1 ? e + i * lde : (FSM_T *)0, lde);
    }
    return k;
}

FSM_INLINE double FSM_FN(row_lse)(const FSM_T *x, ptrdiff_t n)
{
    FSM_T m;
    double acc, cnt;
    FSM_FN(row_state)(x, n, &m, &acc, &cnt);
    if (!isfinite(m)) return (double)m;
    return (double)m + log1p(acc + (cnt - 1.0));
}

#endif
