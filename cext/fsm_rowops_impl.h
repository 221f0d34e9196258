/*
 * fsm_rowops_impl.h -- softmax, log_softmax, logsumexp row kernels, written
 * once and instantiated for float and double by fsm_rowops.c.  The online
 * pass they share with the losses is in fsm_rowcore_impl.h.
 */

/* Elements per chunk of the short-row path (stack buffer of this size). */
#define FSM_SMALL_CHUNK 1024

/* Short rows: up to SLANES = 64 bytes of elements (16 floats, 8 doubles) at
 * every ISA, i.e. SK native vectors per row (1 for AVX-512, 2 for AVX2, 4 for
 * SSE2).  Piece k of a row is lanes [k * LANES, (k + 1) * LANES). */
#define SLANES ((ptrdiff_t)(64 / sizeof(T)))
#define SK (64 / FSM_W)

/* p[0:LANES], of which only the first lim >= 1 are readable; pad elsewhere */
FSM_INLINE VT FN(load_lim)(const T *p, ptrdiff_t lim, T pad)
{
    return lim >= LANES ? FN(fsm_loadu)(p) : FN(fsm_load_tail)(p, lim, pad);
}

/* lanes[k]: all ones where lane k * LANES + l < n */
FSM_INLINE void FN(short_lanes)(ptrdiff_t n, IVT *lanes)
{
    for (int k = 0; k < SK; k++)
        lanes[k] = (IVT)(FN(fsm_iota)() + (int)(k * LANES) < (IVT){0} + (int)n);
}

/* Max of each short row of x (n <= SLANES, rows * n elements, avail of them
 * readable), broadcast to mbuf[i * n : i * n + n]; vs receives the last
 * row's pieces with the lanes past n set to -inf.  Returns in *z a vector
 * that is NaN in some lane iff the rows hold an inf or a NaN. */
FSM_INLINE VT FN(short_row_max)(const T *x, ptrdiff_t i, ptrdiff_t n, ptrdiff_t avail,
                                const IVT *lanes, T *mbuf, VT *vs, VT z)
{
    const VT vninf = FN(fsm_splat)(-(T)INFINITY);
    VT mx = vninf;
    for (int k = 0; k < SK; k++) {
        if (k * LANES >= n) { vs[k] = vninf; continue; }
        const ptrdiff_t off = i * n + k * LANES;
        VT vm = (VT)((IVT)FN(load_lim)(x + off, avail - off, 0) & lanes[k]);
        z = vm * 0 + z;                       /* NaN if an inf or a NaN */
        vs[k] = (VT)((IVT)vm | ((IVT)vninf & ~lanes[k]));
        mx = k == 0 ? vs[0] : FN(fsm_vmax_nonan)(mx, vs[k]);
    }
    mx = FN(fsm_allmax_nonan)(mx);
    for (int k = 0; k < SK; k++)
        if (k * LANES < n) FN(fsm_storeu)(mbuf + i * n + k * LANES, mx);
    return z;
}

/* sum of p[0:n] (n <= SLANES; lim >= n elements readable), as a broadcast */
FSM_INLINE VT FN(short_row_sum)(const T *p, ptrdiff_t n, ptrdiff_t lim, const IVT *lanes)
{
    VT s = FN(fsm_splat)(0);
    for (int k = 0; k < SK; k++) {
        if (k * LANES >= n) break;
        VT e = (VT)((IVT)FN(load_lim)(p + k * LANES, lim - k * LANES, 0) & lanes[k]);
        s = k == 0 ? e : s + e;   /* not 0 + e: one add less on the chain */
    }
    return FN(fsm_allsum)(s);
}

/* p[0:SLANES] = v (rows overlap: each row's store is overwritten by the next) */
FSM_INLINE void FN(short_row_splat)(T *p, ptrdiff_t n, VT v)
{
    for (int k = 0; k < SK; k++)
        if (k * LANES < n) FN(fsm_storeu)(p + k * LANES, v);
}

/* Softmax of rows [0, nrows) of contiguous rows of n <= SLANES elements:
 * per-row max (masked vectors + butterfly), then ONE full-width exp pass
 * over the whole chunk against a per-element buffer of row maxima, per-row
 * sums (butterfly, a fixed pairwise order), and a full-width scaling pass.
 * Returns 0 if the chunk holds an infinity or a NaN (the caller then uses the
 * general path for it, which implements SciPy's special values). */
FSM_INLINE int FN(softmax_small_chunk)(const T *x, T *out, ptrdiff_t rows, ptrdiff_t n,
                                       ptrdiff_t avail, const IVT *lanes)
{
    T mbuf[FSM_SMALL_CHUNK + 64 / sizeof(T)];
    const T ninf = -(T)INFINITY;
    const VT zero = FN(fsm_splat)(0);
    const ptrdiff_t tot = rows * n;
    VT z = zero, vs[SK];
    /* avail: elements readable from x (rest of the array) */
    for (ptrdiff_t i = 0; i < rows; i++) z = FN(short_row_max)(x, i, n, avail, lanes, mbuf, vs, z);
    if (FN(fsm_allsum)(z)[0] != 0) return 0;
    ptrdiff_t j = 0;
    for (; j + LANES <= tot; j += LANES)
        FN(fsm_storeu)(out + j, FN(fsm_vexp_le)(FN(fsm_loadu)(x + j), FN(fsm_loadu)(mbuf + j)));
    if (j < tot)
        FN(fsm_store_tail)(out + j, FN(fsm_vexp_le)(FN(fsm_load_tail)(x + j, tot - j, ninf),
                                                    FN(fsm_loadu)(mbuf + j)), tot - j);
    for (ptrdiff_t i = 0; i < rows; i++) {
        VT s = FN(short_row_sum)(out + i * n, n, tot - i * n, lanes);
        FN(short_row_splat)(mbuf + i * n, n, FN(fsm_splat)((T)(1.0 / (double)s[0])));
    }
    for (j = 0; j + LANES <= tot; j += LANES)
        FN(fsm_storeu)(out + j, FN(fsm_loadu)(out + j) * FN(fsm_loadu)(mbuf + j));
    if (j < tot)
        FN(fsm_store_tail)(out + j, FN(fsm_load_tail)(out + j, tot - j, 0) * FN(fsm_loadu)(mbuf + j),
                           tot - j);
    return 1;
}

/* Rows up to this many elements keep their exponentials in out during the
 * sum and are rescaled from cache: one exp per element instead of two. */
#ifndef FSM_SOFTMAX_STORE_MAX
#define FSM_SOFTMAX_STORE_MAX (512 * FSM_BLOCK)
#endif

/* out[0:n] = exp(x - m) (x <= m, m finite); returns their sum (float lanes
 * over groups of 8 vectors, then double, as block_sumexp).  back: x[n - LANES]
 * and out[n - LANES] are in this block (n >= LANES). */
FSM_INLINE double FN(block_expstore)(const T *x, T *out, ptrdiff_t n, T m)
{
    const T ninf = -(T)INFINITY;
    const VT mv = FN(fsm_splat)(m), zero = FN(fsm_splat)(0);
    const char *pf = (const char *)(x + n);
    DACC a;
    FN(fsm_dacc_zero)(&a);
    ptrdiff_t j = 0;
    /* the last vector, read before anything is stored (out may be x) */
    VT vt = n >= LANES ? FN(fsm_loadu)(x + n - LANES) : zero;
    for (; j + 8 * LANES <= n; j += 8 * LANES) {
        VT s0 = zero, s1 = zero;
        for (int g = 0; g < FSM_W / 8; g++) __builtin_prefetch(pf + (j + g * 64 / (ptrdiff_t)sizeof(T)) * (ptrdiff_t)sizeof(T));
        for (int g = 0; g < 8; g += 2) {
            VT e0 = FN(fsm_vexp_le)(FN(fsm_loadu)(x + j + g * LANES), mv);
            VT e1 = FN(fsm_vexp_le)(FN(fsm_loadu)(x + j + (g + 1) * LANES), mv);
            FN(fsm_storeu)(out + j + g * LANES, e0);
            FN(fsm_storeu)(out + j + (g + 1) * LANES, e1);
            s0 += e0;
            s1 += e1;
        }
        FN(fsm_dacc_add)(&a, s0 + s1);
    }
    VT s = zero;
    for (; j + LANES <= n; j += LANES) {
        VT e = FN(fsm_vexp_le)(FN(fsm_loadu)(x + j), mv);
        FN(fsm_storeu)(out + j, e);
        s += e;
    }
    if (j < n && n >= LANES) {
        VT e = FN(fsm_vexp_le)(vt, mv);
        FN(fsm_storeu)(out + n - LANES, e);                  /* same values again */
        s += (VT)((IVT)e & ~FN(head_mask)(n - j));           /* counted once */
    } else if (j < n) {
        VT e = FN(fsm_vexp_le)(FN(fsm_load_tail)(x + j, n - j, ninf), mv);
        FN(fsm_store_tail)(out + j, e, n - j);
        s += e;
    }
    FN(fsm_dacc_add)(&a, s);
    return FN(fsm_dacc_sum)(&a);
}

/* out[0:n] *= f */
FSM_INLINE void FN(block_scale)(T *out, ptrdiff_t n, T f)
{
    const VT fv = FN(fsm_splat)(f);
    ptrdiff_t j = 0;
    VT vt = n >= LANES ? FN(fsm_loadu)(out + n - LANES) : fv;   /* before any store */
    for (; j + LANES <= n; j += LANES) FN(fsm_storeu)(out + j, FN(fsm_loadu)(out + j) * fv);
    if (j < n && n >= LANES) FN(fsm_storeu)(out + n - LANES, vt * fv);
    else if (j < n) FN(fsm_store_tail)(out + j, FN(fsm_load_tail)(out + j, n - j, 0) * fv, n - j);
}

/* out[0:n] = (T)((double)out[0:n] * f): a factor that is not a normal T
 * (float32: below ~1e-38) applied in double, so each result is rounded once */
FSM_INLINE void FN(block_scale_wide)(T *out, ptrdiff_t n, double f)
{
    for (ptrdiff_t j = 0; j < n; j++) {
        T v;                                       /* memcpy: out may be unaligned */
        memcpy(&v, out + j, sizeof v);
        v = (T)((double)v * f);
        memcpy(out + j, &v, sizeof v);
    }
}

/* out[0:n] = 0 */
FSM_INLINE void FN(block_zero)(T *out, ptrdiff_t n)
{
    const VT zero = FN(fsm_splat)(0);
    ptrdiff_t j = 0;
    for (; j + LANES <= n; j += LANES) FN(fsm_storeu)(out + j, zero);
    if (j < n) FN(fsm_store_tail)(out + j, zero, n - j);
}

/* Softmax of one row of n <= FSM_SOFTMAX_STORE_MAX elements: blockwise online
 * max; each block's exp(x - running max) is stored in out and summed, then
 * every block is rescaled by exp(its max - row max) / sum (one rounding, as
 * the 1 / sum scale of the two-pass form).  The second pass reads only out,
 * never x: out may be x (in place), so x no longer holds the input there.
 * A block whose factor is not a normal T with margin is scaled in double;
 * a block that was never stored (the running max was still -inf, so every
 * element is -inf) is 0. */
FSM_INLINE void FN(softmax_row_store)(const T *xi, T *oi, ptrdiff_t n)
{
    T mb[FSM_SOFTMAX_STORE_MAX / FSM_BLOCK + 1];
    T m = -(T)INFINITY;
    double sum = 0.0;
    ptrdiff_t nb = 0;
    for (ptrdiff_t b = 0; b < n; b += FSM_BLOCK, nb++) {
        ptrdiff_t len = n - b < FSM_BLOCK ? n - b : FSM_BLOCK;
        T bm = FN(block_max_impl)(xi + b, len, b + len >= LANES);
        if (bm != bm || bm == (T)INFINITY) { m = bm; break; }
        if (bm > m) {
            sum = isfinite(m) ? sum * exp((double)m - (double)bm) : 0.0;
            m = bm;
        }
        mb[nb] = m;
        if (isfinite(m)) sum += FN(block_expstore)(xi + b, oi + b, len, m);
    }
    ptrdiff_t j = 0;
    if (!isfinite(m)) {
        const VT nan = FN(fsm_splat)((T)NAN);
        for (; j + LANES <= n; j += LANES) FN(fsm_storeu)(oi + j, nan);
        if (j < n) FN(fsm_store_tail)(oi + j, nan, n - j);
        return;
    }
    const double inv = 1.0 / sum;
    nb = 0;
    for (ptrdiff_t b = 0; b < n; b += FSM_BLOCK, nb++) {
        ptrdiff_t len = n - b < FSM_BLOCK ? n - b : FSM_BLOCK;
        if (!isfinite(mb[nb])) {                   /* not stored: all -inf */
            FN(block_zero)(oi + b, len);
            continue;
        }
        double f = mb[nb] == m ? inv : exp((double)mb[nb] - (double)m) * inv;
        if (f >= 1e-30) FN(block_scale)(oi + b, len, (T)f);   /* normal, with margin */
        else FN(block_scale_wide)(oi + b, len, f);
    }
}

FSM_INLINE void FN(softmax_rows)(const T *x, ptrdiff_t ldx, T *out, ptrdiff_t ldo,
                                 ptrdiff_t nrows, ptrdiff_t ncols)
{
    if (ncols > LANES && ncols <= FSM_SOFTMAX_STORE_MAX) {
        for (ptrdiff_t i = 0; i < nrows; i++) FN(softmax_row_store)(x + i * ldx, out + i * ldo, ncols);
        return;
    }
    for (ptrdiff_t i = 0; i < nrows; i++) {
        const T *xi = x + i * ldx;
        T *oi = out + i * ldo;
        T m;
        double acc, cnt;
        FN(row_state)(xi, ncols, &m, &acc, &cnt);
        ptrdiff_t j = 0;
        if (!isfinite(m)) {
            /* SciPy: a row with a NaN, a +inf, or only -inf is all NaN */
            const VT nan = FN(fsm_splat)((T)NAN);
            for (; j + LANES <= ncols; j += LANES) FN(fsm_storeu)(oi + j, nan);
            if (j < ncols) FN(fsm_store_tail)(oi + j, nan, ncols - j);
            continue;
        }
        const VT mv = FN(fsm_splat)(m);
        const VT scale = FN(fsm_splat)((T)(1.0 / (acc + cnt)));
        if (ncols >= LANES) {
            /* tail: the last LANES elements, loaded before any store (out may
             * be x); the overlap is stored again with the same values */
            VT vt = FN(fsm_loadu)(xi + ncols - LANES);
            for (; j + LANES <= ncols; j += LANES)
                FN(fsm_storeu)(oi + j, FN(fsm_vexp_le)(FN(fsm_loadu)(xi + j), mv) * scale);
            if (j < ncols) FN(fsm_storeu)(oi + ncols - LANES, FN(fsm_vexp_le)(vt, mv) * scale);
            continue;
        }
        if (j < ncols) {
            VT e = FN(fsm_vexp_le)(FN(fsm_load_tail)(xi + j, ncols - j, -(T)INFINITY), mv);
            FN(fsm_store_tail)(oi + j, e * scale, ncols - j);
        }
    }
}


FSM_TARGET void FSM_API(FN(fsm_softmax))(const T *x, ptrdiff_t ldx, T *out, ptrdiff_t ldo,
                              ptrdiff_t nrows, ptrdiff_t ncols)
{
    if (ncols >= 1 && ncols <= SLANES && ldx == ncols && ldo == ncols) {
        IVT lanes[SK];
        FN(short_lanes)(ncols, lanes);
        ptrdiff_t rpc = FSM_SMALL_CHUNK / ncols;
        for (ptrdiff_t i0 = 0; i0 < nrows; i0 += rpc) {
            ptrdiff_t r = nrows - i0 < rpc ? nrows - i0 : rpc;
            if (FN(softmax_small_chunk)(x + i0 * ncols, out + i0 * ncols, r, ncols,
                                        (nrows - i0) * ncols, lanes))
                continue;
            /* an inf or a NaN in the chunk: row by row, the general path only
             * for the rows holding one, so that a row's result never depends
             * on its neighbours (nor on how rows are split between threads) */
            for (ptrdiff_t i = i0; i < i0 + r; i++)
                if (!FN(softmax_small_chunk)(x + i * ncols, out + i * ncols, 1, ncols,
                                             (nrows - i) * ncols, lanes))
                    FN(softmax_rows)(x + i * ncols, ldx, out + i * ncols, ldo, 1, ncols);
        }
        return;
    }
    FN(softmax_rows)(x, ldx, out, ldo, nrows, ncols);
}

/* Short rows (n <= SLANES, contiguous) for logsumexp and log_softmax: per-row
 * max and count of max-equal elements (butterflies), one full-width exp pass
 * over the chunk with the max-equal terms left out, per-row butterfly sums,
 * lse[i] = log1p(others) as in row_lse.  Returns 0 if the chunk holds an inf
 * or a NaN (the caller goes row by row, see fsm_softmax). */
FSM_INLINE int FN(lse_small_chunk)(const T *x, ptrdiff_t rows, ptrdiff_t n, ptrdiff_t avail,
                                   const IVT *lanes, T *mbuf, T *ebuf, double *lse)
{
    const T ninf = -(T)INFINITY;
    const VT zero = FN(fsm_splat)(0), one = FN(fsm_splat)(1);
    const ptrdiff_t tot = rows * n;
    VT z = zero, vs[SK];
    for (ptrdiff_t i = 0; i < rows; i++) {
        z = FN(short_row_max)(x, i, n, avail, lanes, mbuf, vs, z);
        VT mv = FN(fsm_loadu)(mbuf + i * n);
        VT c = zero;
        for (int k = 0; k < SK; k++) {
            if (k * LANES >= n) break;
            IVT below = (IVT)((vs[k] - mv) + 0) >> SHIFT;    /* pad lanes: -inf, below */
            c = k == 0 ? (VT)((IVT)one & ~below) : c + (VT)((IVT)one & ~below);
        }
        lse[i] = (double)FN(fsm_allsum)(c)[0];   /* count */
    }
    if (FN(fsm_allsum)(z)[0] != 0) return 0;
    ptrdiff_t j = 0;
    for (; j < tot; j += LANES) {
        VT v = j + LANES <= tot ? FN(fsm_loadu)(x + j) : FN(fsm_load_tail)(x + j, tot - j, ninf);
        VT mb = FN(fsm_loadu)(mbuf + j);
        VT e = FN(fsm_vexp_le)(v, mb);
        FN(fsm_storeu)(ebuf + j, (VT)((IVT)e & ((IVT)((v - mb) + 0) >> SHIFT)));
    }
    for (ptrdiff_t i = 0; i < rows; i++) {
        /* ebuf holds whole vectors up to the end of the last row */
        T acc = FN(short_row_sum)(ebuf + i * n, n, SLANES, lanes)[0];
        lse[i] = (double)acc + (lse[i] - 1.0);
    }
    /* log1p, LANES_f64 rows at a time (lse has room for a padded last vector) */
    for (ptrdiff_t i = 0; i < rows; i += FSM_LANES_f64) {
        if (i + FSM_LANES_f64 > rows)
            for (ptrdiff_t k = rows; k < i + FSM_LANES_f64; k++) lse[k] = 0.0;
        fsm_storeu_f64(lse + i, fsm_vlog1p_f64(fsm_loadu_f64(lse + i)));
    }
    return 1;
}

/* log_softmax of rows [0, rows) from lse_small_chunk's results */
FSM_INLINE void FN(log_softmax_small_out)(const T *x, T *out, ptrdiff_t rows, ptrdiff_t n,
                                          T *mbuf, double *lse, double *lbuf)
{
    const ptrdiff_t tot = rows * n;
    for (ptrdiff_t i = 0; i < rows; i++) {
        /* lbuf[i * n : i * n + n] = lse[i], by whole double vectors */
        const fsm_vd l = fsm_splat_f64(lse[i]);
        for (ptrdiff_t k = 0; k < n; k += FSM_LANES_f64) fsm_storeu_f64(lbuf + i * n + k, l);
    }
    ptrdiff_t j = 0;
    for (; j + LANES <= tot; j += LANES)
        FN(fsm_storeu)(out + j, FN(fsm_sub2v_double)(FN(fsm_loadu)(x + j), FN(fsm_loadu)(mbuf + j), lbuf + j));
    if (j < tot)
        FN(fsm_store_tail)(out + j, FN(fsm_sub2v_double)(FN(fsm_load_tail)(x + j, tot - j, 0),
                                                         FN(fsm_loadu)(mbuf + j), lbuf + j), tot - j);
}

/* out row = (x - shift) - lse */
FSM_INLINE void FN(log_softmax_write)(const T *xi, T *oi, ptrdiff_t ncols, double shift, double lse)
{
    {
        ptrdiff_t j = 0;
        if (ncols >= LANES) {
            VT vt = FN(fsm_loadu)(xi + ncols - LANES);   /* see softmax_rows */
            for (; j + LANES <= ncols; j += LANES)
                FN(fsm_storeu)(oi + j, FN(fsm_sub2_double)(FN(fsm_loadu)(xi + j), shift, lse));
            if (j < ncols) FN(fsm_storeu)(oi + ncols - LANES, FN(fsm_sub2_double)(vt, shift, lse));
            return;
        }
        if (j < ncols)
            FN(fsm_store_tail)(oi + j, FN(fsm_sub2_double)(FN(fsm_load_tail)(xi + j, ncols - j, 0), shift, lse),
                               ncols - j);
    }
}

/* States of rows [0, r) (r <= LANES_f64) of a group: mm[k] = the row max,
 * l[k] = log1p(sum of exp(x - max) over all but one max element), or 0 where
 * the max is not finite.  vec: log1p over the whole group at once (vector);
 * otherwise one row, libm log1p. */
FSM_INLINE void FN(group_state)(const T *x, ptrdiff_t ldx, ptrdiff_t ncols, ptrdiff_t r,
                                int vec, double *mm, double *l)
{
    double s[FSM_LANES_f64];
    for (ptrdiff_t k = 0; k < FSM_LANES_f64; k++) {
        T m = 0;
        double acc = 0.0, cnt = 1.0;
        if (k < r) FN(row_state)(x + k * ldx, ncols, &m, &acc, &cnt);
        mm[k] = (double)m;
        s[k] = isfinite(m) ? acc + (cnt - 1.0) : 0.0;
    }
    if (vec) fsm_storeu_f64(l, fsm_vlog1p_f64(fsm_loadu_f64(s)));
    else l[0] = log1p(s[0]);
}

FSM_INLINE void FN(log_softmax_rows)(const T *x, ptrdiff_t ldx, T *out, ptrdiff_t ldo,
                                     ptrdiff_t nrows, ptrdiff_t ncols)
{
    /* (x - m) - log(sum exp(x - m)) in double, rounded once: SciPy's
     * formula, more accurate near 0 than x - logsumexp.  A non-finite max
     * is replaced by 0, as SciPy does, which yields its special values:
     * -inf / NaN with a +inf in the row, NaN for an all -inf row.
     * Rows of up to 4096 elements go LANES_f64 at a time (still in L1/L2 for the
     * write pass), so that log1p runs vectorized. */
    const ptrdiff_t g = ncols <= 4096 ? FSM_LANES_f64 : 1;
    for (ptrdiff_t i0 = 0; i0 < nrows; i0 += g) {
        double mm[FSM_LANES_f64], l[FSM_LANES_f64];
        ptrdiff_t r = nrows - i0 < g ? nrows - i0 : g;
        FN(group_state)(x + i0 * ldx, ldx, ncols, r, g > 1, mm, l);
        for (ptrdiff_t k = 0; k < r; k++)
            FN(log_softmax_write)(x + (i0 + k) * ldx, out + (i0 + k) * ldo, ncols,
                                  isfinite(mm[k]) ? mm[k] : 0.0,
                                  isfinite(mm[k]) ? l[k] : mm[k]);
    }
}

FSM_TARGET void FSM_API(FN(fsm_log_softmax))(const T *x, ptrdiff_t ldx, T *out, ptrdiff_t ldo,
                                  ptrdiff_t nrows, ptrdiff_t ncols)
{
    if (ncols >= 1 && ncols <= SLANES && ldx == ncols && ldo == ncols) {
        T mbuf[FSM_SMALL_CHUNK + 64 / sizeof(T)], ebuf[FSM_SMALL_CHUNK + 2 * 64 / sizeof(T)];
        double lse[FSM_SMALL_CHUNK + FSM_LANES_f64], lbuf[FSM_SMALL_CHUNK + 16];
        IVT lanes[SK];
        FN(short_lanes)(ncols, lanes);
        ptrdiff_t rpc = FSM_SMALL_CHUNK / ncols;
        for (ptrdiff_t i0 = 0; i0 < nrows; i0 += rpc) {
            ptrdiff_t r = nrows - i0 < rpc ? nrows - i0 : rpc;
            const T *xc = x + i0 * ncols;
            T *oc = out + i0 * ncols;
            if (FN(lse_small_chunk)(xc, r, ncols, (nrows - i0) * ncols, lanes, mbuf, ebuf, lse)) {
                FN(log_softmax_small_out)(xc, oc, r, ncols, mbuf, lse, lbuf);
                continue;
            }
            for (ptrdiff_t i = 0; i < r; i++) {
                if (FN(lse_small_chunk)(xc + i * ncols, 1, ncols, (nrows - i0 - i) * ncols, lanes,
                                        mbuf, ebuf, lse))
                    FN(log_softmax_small_out)(xc + i * ncols, oc + i * ncols, 1, ncols, mbuf, lse, lbuf);
                else
                    FN(log_softmax_rows)(xc + i * ncols, ldx, oc + i * ncols, ldo, 1, ncols);
            }
        }
        return;
    }
    FN(log_softmax_rows)(x, ldx, out, ldo, nrows, ncols);
}

FSM_TARGET void FSM_API(FN(fsm_logsumexp))(const T *x, ptrdiff_t ldx, T *out,
                                ptrdiff_t nrows, ptrdiff_t ncols)
{
    if (ncols >= 1 && ncols <= SLANES && ldx == ncols) {
        T mbuf[FSM_SMALL_CHUNK + 64 / sizeof(T)], ebuf[FSM_SMALL_CHUNK + 2 * 64 / sizeof(T)];
        double lse[FSM_SMALL_CHUNK + FSM_LANES_f64];
        IVT lanes[SK];
        FN(short_lanes)(ncols, lanes);
        ptrdiff_t rpc = FSM_SMALL_CHUNK / ncols;
        for (ptrdiff_t i0 = 0; i0 < nrows; i0 += rpc) {
            ptrdiff_t r = nrows - i0 < rpc ? nrows - i0 : rpc;
            const T *xc = x + i0 * ncols;
            if (FN(lse_small_chunk)(xc, r, ncols, (nrows - i0) * ncols, lanes, mbuf, ebuf, lse)) {
                for (ptrdiff_t i = 0; i < r; i++) out[i0 + i] = (T)((double)mbuf[i * ncols] + lse[i]);
                continue;
            }
            for (ptrdiff_t i = 0; i < r; i++) {
                if (FN(lse_small_chunk)(xc + i * ncols, 1, ncols, (nrows - i0 - i) * ncols, lanes,
                                        mbuf, ebuf, lse))
                    out[i0 + i] = (T)((double)mbuf[0] + lse[0]);
                else
                    out[i0 + i] = (T)FN(row_lse)(xc + i * ncols, ncols);
            }
        }
        return;
    }
    /* LANES_f64 rows at a time, so that log1p runs vectorized (as row_lse otherwise) */
    for (ptrdiff_t i0 = 0; i0 < nrows; i0 += FSM_LANES_f64) {
        double mm[FSM_LANES_f64], l[FSM_LANES_f64];
        ptrdiff_t r = nrows - i0 < FSM_LANES_f64 ? nrows - i0 : FSM_LANES_f64;
        FN(group_state)(x + i0 * ldx, ldx, ncols, r, 1, mm, l);
        for (ptrdiff_t k = 0; k < r; k++)
            out[i0 + k] = (T)(isfinite(mm[k]) ? mm[k] + l[k] : mm[k]);
    }
}


/* Elementwise exp: not part of the API, exposed so the tests can check the
 * vectorized exp against float64 numpy over the whole range. */
FSM_TARGET void FSM_API(FN(fsm_exp))(const T *x, T *out, ptrdiff_t n)
{
    ptrdiff_t j = 0;
    for (; j + LANES <= n; j += LANES) FN(fsm_storeu)(out + j, FN(fsm_vexp)(FN(fsm_loadu)(x + j)));
    if (j < n) FN(fsm_store_tail)(out + j, FN(fsm_vexp)(FN(fsm_load_tail)(x + j, n - j, 0)), n - j);
}

/* Logistic sigmoid (scipy.special.expit): with e = exp(-|x|) in (0, 1],
 * 1 / (1 + e) for x >= 0 and e / (1 + e) below, so nothing overflows and
 * tiny results keep their relative precision (subnormals included). */
FSM_INLINE VT FN(vsigmoid_e)(VT x)
{
    return FN(fsm_vexp)(FN(fsm_sel)(x < 0, x, -x));   /* exp(-|x|); NaN stays NaN */
}

FSM_TARGET void FSM_API(FN(fsm_sigmoid))(const T *x, T *out, ptrdiff_t n)
{
    const VT one = FN(fsm_splat)(1);
    ptrdiff_t j = 0;
    for (; j < n; j += LANES) {
        VT v = j + LANES <= n ? FN(fsm_loadu)(x + j) : FN(fsm_load_tail)(x + j, n - j, 0);
        VT e = FN(vsigmoid_e)(v), d = one + e;
        VT r = FN(fsm_sel)(v >= 0, one, e) / d;        /* NaN: e / d = NaN */
        if (j + LANES <= n) FN(fsm_storeu)(out + j, r);
        else FN(fsm_store_tail)(out + j, r, n - j);
    }
}

/* log(sigmoid(x)) = -(log1p(exp(-|x|)) - min(x, 0)) (scipy.special.log_expit):
 * never -inf for finite x, -0.0 for large x as SciPy. */
FSM_TARGET void FSM_API(FN(fsm_log_sigmoid))(const T *x, T *out, ptrdiff_t n)
{
    ptrdiff_t j = 0;
    for (; j < n; j += LANES) {
        VT v = j + LANES <= n ? FN(fsm_loadu)(x + j) : FN(fsm_load_tail)(x + j, n - j, 0);
        VT r = FN(fsm_vlog_sigmoid)(v, FN(vsigmoid_e)(v));
        r = FN(fsm_sel)(v != v, v, r);                 /* log1p kernel wants s >= 0 */
        if (j + LANES <= n) FN(fsm_storeu)(out + j, r);
        else FN(fsm_store_tail)(out + j, r, n - j);
    }
}
