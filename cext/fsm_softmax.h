/*
 * fsm_softmax.h -- the softmax family: kernel_softmax, kernel_log_softmax and
 * kernel_logsumexp on a block of rows (fsm_rows), each row by the short-row
 * path (fsm_shortrows.h) or the online pass (fsm_rowpass.h).  A template,
 * like fsm_rowpass.h.
 */
#include "fsm_kernels.h"
#include "fsm_simd.h"
#include "fsm_rowpass.h"
#include "fsm_shortrows.h"

#ifndef FSM_T
#error "a template: include fsm_type_f32.h or fsm_type_f64.h first"
#endif
#if (FSM_TID == 32 && !defined(FSM_SOFTMAX_F32)) || (FSM_TID == 64 && !defined(FSM_SOFTMAX_F64))
#if FSM_TID == 32
#define FSM_SOFTMAX_F32
#else
#define FSM_SOFTMAX_F64
#endif

/* Softmax of rows [0, nrows) of contiguous rows of n <= FSM_SLANES elements:
 * per-row max (masked vectors + butterfly), then ONE full-width exp pass
 * over the whole chunk against a per-element buffer of row maxima, per-row
 * sums (butterfly, a fixed pairwise order), and a full-width scaling pass.
 * Returns 0 if the chunk holds an infinity or a NaN (the caller then uses the
 * general path for it, which implements SciPy's special values). */
FSM_INLINE int FSM_FN(softmax_small_chunk)(const FSM_T *x, FSM_T *out, ptrdiff_t rows, ptrdiff_t n,
                                       ptrdiff_t avail, const FSM_IVT *lanes, const int sk)
{
    FSM_T mbuf[FSM_SMALL_CHUNK + FSM_SLANES];
    const FSM_T ninf = -(FSM_T)INFINITY;
    const FSM_VT zero = FSM_FN(fsm_splat)(0);
    const ptrdiff_t tot = rows * n;
    FSM_VT z = zero, vs[FSM_SK];
    /* avail: elements readable from x (rest of the array) */
    for (ptrdiff_t i = 0; i < rows; i++) z = FSM_FN(short_row_max)(x, i, n, avail, lanes, mbuf, vs, z, sk);
    if (FSM_FN(fsm_allsum)(z)[0] != 0) return 0;
    ptrdiff_t j = 0;
    for (; j + FSM_LANES <= tot; j += FSM_LANES)
        FSM_FN(fsm_storeu)(out + j, FSM_FN(fsm_vexp_le)(FSM_FN(fsm_loadu)(x + j), FSM_FN(fsm_loadu)(mbuf + j)));
    if (j < tot)
        FSM_FN(fsm_store_tail)(out + j, FSM_FN(fsm_vexp_le)(FSM_FN(fsm_load_tail)(x + j, tot - j, ninf),
                                                    FSM_FN(fsm_loadu)(mbuf + j)), tot - j);
    for (ptrdiff_t i = 0; i < rows; i++) {
        FSM_VT s = FSM_FN(short_row_sum)(out + i * n, n, tot - i * n, lanes, sk);
        FSM_FN(short_row_splat)(mbuf + i * n, n, FSM_FN(fsm_splat)((FSM_T)(1.0 / (double)s[0])), sk);
    }
    for (j = 0; j + FSM_LANES <= tot; j += FSM_LANES)
        FSM_FN(fsm_storeu)(out + j, FSM_FN(fsm_loadu)(out + j) * FSM_FN(fsm_loadu)(mbuf + j));
    if (j < tot)
        FSM_FN(fsm_store_tail)(out + j, FSM_FN(fsm_load_tail)(out + j, tot - j, 0) * FSM_FN(fsm_loadu)(mbuf + j),
                           tot - j);
    return 1;
}

/* Rows up to this many elements keep their exponentials in out during the
 * sum and are rescaled from cache: one exp per element instead of two. */
#ifndef FSM_SOFTMAX_STORE_MAX
#define FSM_SOFTMAX_STORE_MAX (512 * FSM_BLOCK)
#endif

/* out[0:n] = exp(x - m) (x <= m, m finite); returns their sum (float lanes
 * over groups of 8 vectors, then double, as block_sumexp).  back: x[n - FSM_LANES]
 * and out[n - FSM_LANES] are in this block (n >= FSM_LANES). */
FSM_INLINE double FSM_FN(block_expstore)(const FSM_T *x, FSM_T *out, ptrdiff_t n, FSM_T m,
                                          const int near)
{
    const FSM_T ninf = -(FSM_T)INFINITY;
    const FSM_VT mv = FSM_FN(fsm_splat)(m), zero = FSM_FN(fsm_splat)(0);
    const char *pf = (const char *)(x + n);
    FSM_DACC a;
    FSM_FN(fsm_dacc_zero)(&a);
    ptrdiff_t j = 0;
    /* the last vector, read before anything is stored (out may be x) */
    FSM_VT vt = n >= FSM_LANES ? FSM_FN(fsm_loadu)(x + n - FSM_LANES) : zero;
    for (; j + 8 * FSM_LANES <= n; j += 8 * FSM_LANES) {
        FSM_VT s0 = zero, s1 = zero;
        for (int g = 0; g < FSM_W / 8; g++) __builtin_prefetch(pf + (j + g * 64 / (ptrdiff_t)sizeof(FSM_T)) * (ptrdiff_t)sizeof(FSM_T));
        for (int g = 0; g < 8; g += 2) {
            FSM_VT e0 = FSM_FN(fsm_vexp_row)(near, FSM_FN(fsm_loadu)(x + j + g * FSM_LANES), mv);
            FSM_VT e1 = FSM_FN(fsm_vexp_row)(near, FSM_FN(fsm_loadu)(x + j + (g + 1) * FSM_LANES), mv);
            FSM_FN(fsm_storeu)(out + j + g * FSM_LANES, e0);
            FSM_FN(fsm_storeu)(out + j + (g + 1) * FSM_LANES, e1);
            s0 += e0;
            s1 += e1;
        }
        FSM_FN(fsm_dacc_add)(&a, s0 + s1);
    }
    FSM_VT s = zero;
    for (; j + FSM_LANES <= n; j += FSM_LANES) {
        FSM_VT e = FSM_FN(fsm_vexp_row)(near, FSM_FN(fsm_loadu)(x + j), mv);
        FSM_FN(fsm_storeu)(out + j, e);
        s += e;
    }
    if (j < n && n >= FSM_LANES) {
        FSM_VT e = FSM_FN(fsm_vexp_row)(near, vt, mv);
        FSM_FN(fsm_storeu)(out + n - FSM_LANES, e);                  /* same values again */
        s += (FSM_VT)((FSM_IVT)e & ~FSM_FN(head_mask)(n - j));           /* counted once */
    } else if (j < n) {
        FSM_VT e = FSM_FN(fsm_vexp_row)(near, FSM_FN(fsm_load_tail)(x + j, n - j, ninf), mv);
        FSM_FN(fsm_store_tail)(out + j, e, n - j);
        /* the -inf lanes: 0 from fsm_vexp_le, not from fsm_vexp_near */
        s += near ? (FSM_VT)((FSM_IVT)e & FSM_FN(head_mask)(FSM_LANES - (n - j))) : e;
    }
    FSM_FN(fsm_dacc_add)(&a, s);
    return FSM_FN(fsm_dacc_sum)(&a);
}

/* out[0:n] *= f */
FSM_INLINE void FSM_FN(block_scale)(FSM_T *out, ptrdiff_t n, FSM_T f)
{
    const FSM_VT fv = FSM_FN(fsm_splat)(f);
    ptrdiff_t j = 0;
    FSM_VT vt = n >= FSM_LANES ? FSM_FN(fsm_loadu)(out + n - FSM_LANES) : fv;   /* before any store */
    for (; j + FSM_LANES <= n; j += FSM_LANES) FSM_FN(fsm_storeu)(out + j, FSM_FN(fsm_loadu)(out + j) * fv);
    if (j < n && n >= FSM_LANES) FSM_FN(fsm_storeu)(out + n - FSM_LANES, vt * fv);
    else if (j < n) FSM_FN(fsm_store_tail)(out + j, FSM_FN(fsm_load_tail)(out + j, n - j, 0) * fv, n - j);
}

/* out[0:n] = (FSM_T)((double)out[0:n] * f): a factor that is not a normal FSM_T
 * (float32: below ~1e-38) applied in double, so each result is rounded once */
FSM_INLINE void FSM_FN(block_scale_wide)(FSM_T *out, ptrdiff_t n, double f)
{
    for (ptrdiff_t j = 0; j < n; j++) {
        FSM_T v;                                       /* memcpy: out may be unaligned */
        memcpy(&v, out + j, sizeof v);
        v = (FSM_T)((double)v * f);
        memcpy(out + j, &v, sizeof v);
    }
}

/* out[0:n] = 0 */
FSM_INLINE void FSM_FN(block_zero)(FSM_T *out, ptrdiff_t n)
{
    const FSM_VT zero = FSM_FN(fsm_splat)(0);
    ptrdiff_t j = 0;
    for (; j + FSM_LANES <= n; j += FSM_LANES) FSM_FN(fsm_storeu)(out + j, zero);
    if (j < n) FSM_FN(fsm_store_tail)(out + j, zero, n - j);
}

/* Softmax of one row of n <= FSM_SOFTMAX_STORE_MAX elements: blockwise online
 * max; each block's exp(x - running max) is stored in out and summed, then
 * every block is rescaled by exp(its max - row max) / sum (one rounding, as
 * the 1 / sum scale of the two-pass form).  The second pass reads only out,
 * never x: out may be x (in place), so x no longer holds the input there.
 * A block whose factor is not a normal FSM_T with margin is scaled in double;
 * a block that was never stored (the running max was still -inf, so every
 * element is -inf) is 0. */
FSM_INLINE void FSM_FN(softmax_row_store)(const FSM_T *xi, FSM_T *oi, ptrdiff_t n)
{
    FSM_T mb[FSM_SOFTMAX_STORE_MAX / FSM_BLOCK + 1];
    FSM_T m = -(FSM_T)INFINITY;
    double sum = 0.0;
    ptrdiff_t nb = 0;
    for (ptrdiff_t b = 0; b < n; b += FSM_BLOCK, nb++) {
        ptrdiff_t len = n - b < FSM_BLOCK ? n - b : FSM_BLOCK;
        FSM_T bmn;
        FSM_T bm = FSM_FN(block_max_min)(xi + b, len, b + len >= FSM_LANES, FSM_NEAR_MIN(&bmn));
        if (bm != bm || bm == (FSM_T)INFINITY) { m = bm; break; }
        if (bm > m) {
            sum = isfinite(m) ? sum * exp((double)m - (double)bm) : 0.0;
            m = bm;
        }
        mb[nb] = m;
        if (!isfinite(m)) continue;
        if (FSM_NEAR(m, bmn)) sum += FSM_FN(block_expstore)(xi + b, oi + b, len, m, 1);
        else sum += FSM_FN(block_expstore)(xi + b, oi + b, len, m, 0);
    }
    ptrdiff_t j = 0;
    if (!isfinite(m)) {
        const FSM_VT nan = FSM_FN(fsm_splat)((FSM_T)NAN);
        for (; j + FSM_LANES <= n; j += FSM_LANES) FSM_FN(fsm_storeu)(oi + j, nan);
        if (j < n) FSM_FN(fsm_store_tail)(oi + j, nan, n - j);
        return;
    }
    const double inv = 1.0 / sum;
    nb = 0;
    for (ptrdiff_t b = 0; b < n; b += FSM_BLOCK, nb++) {
        ptrdiff_t len = n - b < FSM_BLOCK ? n - b : FSM_BLOCK;
        if (!isfinite(mb[nb])) {                   /* not stored: all -inf */
            FSM_FN(block_zero)(oi + b, len);
            continue;
        }
        double f = mb[nb] == m ? inv : exp((double)mb[nb] - (double)m) * inv;
        if (f >= 1e-30) FSM_FN(block_scale)(oi + b, len, (FSM_T)f);   /* normal, with margin */
        else FSM_FN(block_scale_wide)(oi + b, len, f);
    }
}

/* Rows of at most FSM_GROUP_MAX elements (fsm_rowpass.h) go
 * FSM_SOFTMAX_GROUP at a time through softmax_group. */
#ifndef FSM_SOFTMAX_GROUP
#define FSM_SOFTMAX_GROUP 4
#endif

/* softmax_row_store of FSM_SOFTMAX_GROUP rows of LANES < n <= FSM_GROUP_MAX
 * elements (one block each), stage by stage across the rows: the same
 * operations on each row as softmax_row_store, so the same results, but the
 * rows' independent chains (max butterfly, sum, division) are in flight
 * together instead of one row waiting for the next.  For rows of 17-128
 * floats those chains, not the arithmetic, set the time.  A group holding an
 * infinity or a NaN goes row by row. */
FSM_INLINE void FSM_FN(softmax_group)(const FSM_T *x, ptrdiff_t ldx, FSM_T *out, ptrdiff_t ldo,
                                      ptrdiff_t n)
{
    FSM_T m[FSM_SOFTMAX_GROUP], mn[FSM_SOFTMAX_GROUP];
    double f[FSM_SOFTMAX_GROUP];
    int finite = 1;
    for (int r = 0; r < FSM_SOFTMAX_GROUP; r++) {
        m[r] = FSM_FN(block_max_min)(x + r * ldx, n, 1, FSM_NEAR_MIN(mn + r));
        finite &= m[r] - m[r] == 0;                /* neither NaN nor +-inf */
    }
    if (!finite) {
        for (int r = 0; r < FSM_SOFTMAX_GROUP; r++)
            FSM_FN(softmax_row_store)(x + r * ldx, out + r * ldo, n);
        return;
    }
    for (int r = 0; r < FSM_SOFTMAX_GROUP; r++)
        f[r] = 0.0 + (FSM_NEAR(m[r], mn[r])
                      ? FSM_FN(block_expstore)(x + r * ldx, out + r * ldo, n, m[r], 1)
                      : FSM_FN(block_expstore)(x + r * ldx, out + r * ldo, n, m[r], 0));
    for (int r = 0; r < FSM_SOFTMAX_GROUP; r++) f[r] = 1.0 / f[r];
    for (int r = 0; r < FSM_SOFTMAX_GROUP; r++) {
        if (f[r] >= 1e-30) FSM_FN(block_scale)(out + r * ldo, n, (FSM_T)f[r]);
        else FSM_FN(block_scale_wide)(out + r * ldo, n, f[r]);
    }
}

FSM_INLINE void FSM_FN(softmax_rows)(const FSM_T *x, ptrdiff_t ldx, FSM_T *out, ptrdiff_t ldo,
                                 ptrdiff_t nrows, ptrdiff_t ncols)
{
    if (ncols > FSM_LANES && ncols <= FSM_SOFTMAX_STORE_MAX) {
        ptrdiff_t i = 0;
        if (ncols <= FSM_GROUP_MAX)
            for (; i + FSM_SOFTMAX_GROUP <= nrows; i += FSM_SOFTMAX_GROUP)
                FSM_FN(softmax_group)(x + i * ldx, ldx, out + i * ldo, ldo, ncols);
        for (; i < nrows; i++) FSM_FN(softmax_row_store)(x + i * ldx, out + i * ldo, ncols);
        return;
    }
    for (ptrdiff_t i = 0; i < nrows; i++) {
        const FSM_T *xi = x + i * ldx;
        FSM_T *oi = out + i * ldo;
        FSM_T m;
        double acc, cnt;
        FSM_FN(row_state)(xi, ncols, &m, &acc, &cnt);
        ptrdiff_t j = 0;
        if (!isfinite(m)) {
            /* SciPy: a row with a NaN, a +inf, or only -inf is all NaN */
            const FSM_VT nan = FSM_FN(fsm_splat)((FSM_T)NAN);
            for (; j + FSM_LANES <= ncols; j += FSM_LANES) FSM_FN(fsm_storeu)(oi + j, nan);
            if (j < ncols) FSM_FN(fsm_store_tail)(oi + j, nan, ncols - j);
            continue;
        }
        const FSM_VT mv = FSM_FN(fsm_splat)(m);
        const FSM_VT scale = FSM_FN(fsm_splat)((FSM_T)(1.0 / (acc + cnt)));
        if (ncols >= FSM_LANES) {
            /* tail: the last FSM_LANES elements, loaded before any store (out may
             * be x); the overlap is stored again with the same values */
            FSM_VT vt = FSM_FN(fsm_loadu)(xi + ncols - FSM_LANES);
            for (; j + FSM_LANES <= ncols; j += FSM_LANES)
                FSM_FN(fsm_storeu)(oi + j, FSM_FN(fsm_vexp_le)(FSM_FN(fsm_loadu)(xi + j), mv) * scale);
            if (j < ncols) FSM_FN(fsm_storeu)(oi + ncols - FSM_LANES, FSM_FN(fsm_vexp_le)(vt, mv) * scale);
            continue;
        }
        if (j < ncols) {
            FSM_VT e = FSM_FN(fsm_vexp_le)(FSM_FN(fsm_load_tail)(xi + j, ncols - j, -(FSM_T)INFINITY), mv);
            FSM_FN(fsm_store_tail)(oi + j, e * scale, ncols - j);
        }
    }
}


FSM_INLINE void FSM_FN(softmax_block)(const FSM_T *x, ptrdiff_t ldx, FSM_T *out, ptrdiff_t ldo,
                                       ptrdiff_t nrows, ptrdiff_t ncols)
{
    if (ncols >= 1 && ncols <= FSM_SLANES && ldx == ncols && ldo == ncols) {
        FSM_SHORT_CHUNKS(ncols, nrows, , , {
            if (FSM_FN(softmax_small_chunk)(x + i0 * ncols, out + i0 * ncols, r, ncols,
                                            (nrows - i0) * ncols, lanes, sk))
                continue;
            /* an inf or a NaN in the chunk: row by row, the general path only
             * for the rows holding one, so that a row's result never depends
             * on its neighbours (nor on how rows are split between threads) */
            for (ptrdiff_t i = i0; i < i0 + r; i++)
                if (!FSM_FN(softmax_small_chunk)(x + i * ncols, out + i * ncols, 1, ncols,
                                                 (nrows - i) * ncols, lanes, sk))
                    FSM_FN(softmax_rows)(x + i * ncols, ldx, out + i * ncols, ldo, 1, ncols);
        });
        return;
    }
    FSM_FN(softmax_rows)(x, ldx, out, ldo, nrows, ncols);
}

/* log_softmax of rows [0, rows) from lse_small_chunk's results */
FSM_INLINE void FSM_FN(log_softmax_small_out)(const FSM_T *x, FSM_T *out, ptrdiff_t rows, ptrdiff_t n,
                                          FSM_T *mbuf, double *lse, double *lbuf)
{
    const ptrdiff_t tot = rows * n;
    for (ptrdiff_t i = 0; i < rows; i++) {
        /* lbuf[i * n : i * n + n] = lse[i], by whole double vectors */
        const fsm_vd l = fsm_splat_f64(lse[i]);
        for (ptrdiff_t k = 0; k < n; k += FSM_LANES_f64) fsm_storeu_f64(lbuf + i * n + k, l);
    }
    ptrdiff_t j = 0;
    for (; j + FSM_LANES <= tot; j += FSM_LANES)
        FSM_FN(fsm_storeu)(out + j, FSM_FN(fsm_sub2v)(FSM_FN(fsm_loadu)(x + j), FSM_FN(fsm_loadu)(mbuf + j), lbuf + j));
    if (j < tot)
        FSM_FN(fsm_store_tail)(out + j, FSM_FN(fsm_sub2v)(FSM_FN(fsm_load_tail)(x + j, tot - j, 0),
                                                         FSM_FN(fsm_loadu)(mbuf + j), lbuf + j), tot - j);
}

/* out row = (x - shift) - lse */
FSM_INLINE void FSM_FN(log_softmax_write)(const FSM_T *xi, FSM_T *oi, ptrdiff_t ncols, double shift, double lse)
{
    {
        ptrdiff_t j = 0;
        if (ncols >= FSM_LANES) {
            FSM_VT vt = FSM_FN(fsm_loadu)(xi + ncols - FSM_LANES);   /* see softmax_rows */
            for (; j + FSM_LANES <= ncols; j += FSM_LANES)
                FSM_FN(fsm_storeu)(oi + j, FSM_FN(fsm_sub2)(FSM_FN(fsm_loadu)(xi + j), shift, lse));
            if (j < ncols) FSM_FN(fsm_storeu)(oi + ncols - FSM_LANES, FSM_FN(fsm_sub2)(vt, shift, lse));
            return;
        }
        if (j < ncols)
            FSM_FN(fsm_store_tail)(oi + j, FSM_FN(fsm_sub2)(FSM_FN(fsm_load_tail)(xi + j, ncols - j, 0), shift, lse),
                               ncols - j);
    }
}

/* log_softmax_write with non-temporal stores for the aligned whole vectors of
 * oi; the same values (each element read before it is stored: oi may be xi). */
FSM_INLINE void FSM_FN(log_softmax_write_stream)(const FSM_T *xi, FSM_T *oi, ptrdiff_t ncols,
                                                 double shift, double lse)
{
    const ptrdiff_t head = FSM_FN(stream_head)(oi, ncols);
    if (head)
        FSM_FN(fsm_store_tail)(oi, FSM_FN(fsm_sub2)(FSM_FN(fsm_load_tail)(xi, head, 0), shift, lse),
                               head);
    ptrdiff_t j = head;
    for (; j + FSM_LANES <= ncols; j += FSM_LANES)
        FSM_FN(fsm_stream)(oi + j, FSM_FN(fsm_sub2)(FSM_FN(fsm_loadu)(xi + j), shift, lse));
    if (j < ncols)
        FSM_FN(fsm_store_tail)(oi + j, FSM_FN(fsm_sub2)(FSM_FN(fsm_load_tail)(xi + j, ncols - j, 0),
                                                                shift, lse), ncols - j);
    fsm_stream_fence();
}

/* States of rows [0, r) (r <= LANES_f64) of a group: mm[k] = the row max,
 * l[k] = log1p(sum of exp(x - max) over all but one max element), or 0 where
 * the max is not finite.  vec: log1p over the whole group at once (vector);
 * otherwise one row, libm log1p. */
FSM_INLINE void FSM_FN(group_state)(const FSM_T *x, ptrdiff_t ldx, ptrdiff_t ncols, ptrdiff_t r,
                                int vec, double *mm, double *l)
{
    double s[FSM_LANES_f64], acc[FSM_LANES_f64], cnt[FSM_LANES_f64];
    FSM_T m[FSM_LANES_f64];
    FSM_FN(rows_state)(x, ldx, ncols, r, NULL, m, acc, cnt, NULL, 0);
    for (ptrdiff_t k = 0; k < FSM_LANES_f64; k++) {
        if (k >= r) { m[k] = 0; acc[k] = 0.0; cnt[k] = 1.0; }
        mm[k] = (double)m[k];
        s[k] = isfinite(m[k]) ? acc[k] + (cnt[k] - 1.0) : 0.0;
    }
    if (vec) fsm_storeu_f64(l, fsm_vlog1p_f64(fsm_loadu_f64(s)));
    else l[0] = log1p(s[0]);
}

FSM_INLINE void FSM_FN(log_softmax_rows)(const FSM_T *x, ptrdiff_t ldx, FSM_T *out, ptrdiff_t ldo,
                                     ptrdiff_t nrows, ptrdiff_t ncols)
{
    /* (x - m) - log(sum exp(x - m)) (fsm_sub2): SciPy's formula, more
     * accurate near 0 than x - logsumexp.  A non-finite max
     * is replaced by 0, as SciPy does, which yields its special values:
     * -inf / NaN with a +inf in the row, NaN for an all -inf row.
     * Rows of up to 4096 elements go LANES_f64 at a time (still in L1/L2 for the
     * write pass), so that log1p runs vectorized. */
    const ptrdiff_t g = ncols <= 4096 ? FSM_LANES_f64 : 1;
    const int stream = ncols * (ptrdiff_t)sizeof(FSM_T) >= FSM_STREAM_MIN_BYTES;
    for (ptrdiff_t i0 = 0; i0 < nrows; i0 += g) {
        double mm[FSM_LANES_f64], l[FSM_LANES_f64];
        ptrdiff_t r = nrows - i0 < g ? nrows - i0 : g;
        FSM_FN(group_state)(x + i0 * ldx, ldx, ncols, r, g > 1, mm, l);
        for (ptrdiff_t k = 0; k < r; k++) {
            const double shift = isfinite(mm[k]) ? mm[k] : 0.0, lse = isfinite(mm[k]) ? l[k] : mm[k];
            if (stream)
                FSM_FN(log_softmax_write_stream)(x + (i0 + k) * ldx, out + (i0 + k) * ldo, ncols, shift, lse);
            else
                FSM_FN(log_softmax_write)(x + (i0 + k) * ldx, out + (i0 + k) * ldo, ncols, shift, lse);
        }
    }
}

FSM_INLINE void FSM_FN(log_softmax_block)(const FSM_T *x, ptrdiff_t ldx, FSM_T *out,
                                           ptrdiff_t ldo, ptrdiff_t nrows, ptrdiff_t ncols)
{
    if (ncols >= 1 && ncols <= FSM_SLANES && ldx == ncols && ldo == ncols) {
        FSM_SHORT_CHUNKS(ncols, nrows,
            /* setup */ FSM_T mbuf[FSM_SMALL_CHUNK + FSM_SLANES];
                        FSM_T ebuf[FSM_SMALL_CHUNK + 2 * FSM_SLANES];
                        double lse[FSM_SMALL_CHUNK + FSM_LANES_f64];
                        double lbuf[FSM_SMALL_CHUNK + 16],
            /* done */ return, {
            const FSM_T *xc = x + i0 * ncols;
            FSM_T *oc = out + i0 * ncols;
            if (FSM_FN(lse_small_chunk)(xc, r, ncols, (nrows - i0) * ncols, lanes, mbuf, ebuf, lse, sk)) {
                FSM_FN(log_softmax_small_out)(xc, oc, r, ncols, mbuf, lse, lbuf);
                continue;
            }
            for (ptrdiff_t i = 0; i < r; i++) {
                if (FSM_FN(lse_small_chunk)(xc + i * ncols, 1, ncols, (nrows - i0 - i) * ncols, lanes,
                                            mbuf, ebuf, lse, sk))
                    FSM_FN(log_softmax_small_out)(xc + i * ncols, oc + i * ncols, 1, ncols, mbuf, lse, lbuf);
                else
                    FSM_FN(log_softmax_rows)(xc + i * ncols, ldx, oc + i * ncols, ldo, 1, ncols);
            }
        });
    }
    FSM_FN(log_softmax_rows)(x, ldx, out, ldo, nrows, ncols);
}

FSM_INLINE void FSM_FN(logsumexp_block)(const FSM_T *x, ptrdiff_t ldx, FSM_T *out,
                                         ptrdiff_t nrows, ptrdiff_t ncols)
{
    if (ncols >= 1 && ncols <= FSM_SLANES && ldx == ncols) {
        FSM_SHORT_CHUNKS(ncols, nrows,
            /* setup */ FSM_T mbuf[FSM_SMALL_CHUNK + FSM_SLANES];
                        FSM_T ebuf[FSM_SMALL_CHUNK + 2 * FSM_SLANES];
                        double lse[FSM_SMALL_CHUNK + FSM_LANES_f64],
            /* done */ return, {
            const FSM_T *xc = x + i0 * ncols;
            if (FSM_FN(lse_small_chunk)(xc, r, ncols, (nrows - i0) * ncols, lanes, mbuf, ebuf, lse, sk)) {
                for (ptrdiff_t i = 0; i < r; i++) out[i0 + i] = (FSM_T)((double)mbuf[i * ncols] + lse[i]);
                continue;
            }
            for (ptrdiff_t i = 0; i < r; i++) {
                if (FSM_FN(lse_small_chunk)(xc + i * ncols, 1, ncols, (nrows - i0 - i) * ncols, lanes,
                                            mbuf, ebuf, lse, sk))
                    out[i0 + i] = (FSM_T)((double)mbuf[0] + lse[0]);
                else
                    out[i0 + i] = (FSM_T)FSM_FN(row_lse)(xc + i * ncols, ncols);
            }
        });
    }
    /* LANES_f64 rows at a time, so that log1p runs vectorized (as row_lse otherwise) */
    for (ptrdiff_t i0 = 0; i0 < nrows; i0 += FSM_LANES_f64) {
        double mm[FSM_LANES_f64], l[FSM_LANES_f64];
        ptrdiff_t r = nrows - i0 < FSM_LANES_f64 ? nrows - i0 : FSM_LANES_f64;
        FSM_FN(group_state)(x + i0 * ldx, ldx, ncols, r, 1, mm, l);
        for (ptrdiff_t k = 0; k < r; k++)
            out[i0 + k] = (FSM_T)(isfinite(mm[k]) ? mm[k] + l[k] : mm[k]);
    }
}

/* The kernels (fsm_kernel_list.h): out may be x itself for softmax and
 * log_softmax; logsumexp writes one value per row. */
FSM_INLINE void FSM_FN(kernel_softmax)(FSM_FN(fsm_rows) x, FSM_FN(fsm_out) out)
{
    FSM_FN(softmax_block)(x.data, x.stride, out.data, out.stride, x.nrows, x.ncols);
}

FSM_INLINE void FSM_FN(kernel_log_softmax)(FSM_FN(fsm_rows) x, FSM_FN(fsm_out) out)
{
    FSM_FN(log_softmax_block)(x.data, x.stride, out.data, out.stride, x.nrows, x.ncols);
}

FSM_INLINE void FSM_FN(kernel_logsumexp)(FSM_FN(fsm_rows) x, FSM_T *out)
{
    FSM_FN(logsumexp_block)(x.data, x.stride, out, x.nrows, x.ncols);
}

#endif
