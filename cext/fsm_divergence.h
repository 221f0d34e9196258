/*
 * fsm_divergence.h -- the divergence losses: kernel_kl_div (the elementwise
 * Kullback-Leibler term and its sum) and kernel_distill (knowledge
 * distillation: cross-entropy of the student's logits plus the KL divergence
 * between the tempered teacher and student distributions, loss and gradient
 * fused).  A template, like fsm_rowpass.h.
 *
 * kl_div, on n contiguous elements (PyTorch's torch.nn.functional.kl_div):
 *   log_target = 0:  xlogy(t, t) - t x     (t = 0 gives 0 - 0 x: NaN for an
 *                                           infinite x, as torch)
 *   log_target = 1:  exp(t) (t - x)
 * computed in double (float32: rounded once), the terms summed in double.
 *
 * distill, per row of student logits s and teacher logits t (C classes),
 * 1/T = inv_temperature, u = t/T and v = s/T:
 *   p = softmax(u), q = softmax(v), KL = sum_c p_c (log p_c - log q_c)
 *     = (sum_c e_c (t_c - s_c)) / (S_p T) - (m_t - m_s) / T + log(S_q / S_p)
 *   with e_c = exp((t_c - m_t) / T), S_p = sum e, S_q = sum exp((s_c - m_s) / T);
 *   CE = lse(s) - s[y] for a counted row (target != ignore_index);
 *   grad = ce_scale (softmax(s) - onehot(y)) + kl_scale (q - p).
 * One sweep over both rows from memory, block by block (online maxima, the
 * sums rescaled when a maximum grows, as row_state); the gradient is a second
 * sweep, from cache for rows that fit in it.  Special values as torch's
 * composition of log_softmax, softmax and kl_div: a row of s or t with a NaN,
 * a +inf or only -inf has NaN losses and a NaN gradient; a -inf student logit
 * where p > 0 makes KL +inf, where p == 0 NaN (0 * log 0 in torch's product).
 */
#include "fsm_kernels.h"
#include "fsm_simd.h"
#include "fsm_rowpass.h"

#ifndef FSM_T
#error "a template: include fsm_type_f32.h or fsm_type_f64.h first"
#endif

/* ------------------------------------------------------------------ float64 helpers */
#ifndef FSM_DIVERGENCE_COMMON
#define FSM_DIVERGENCE_COMMON

/* Vector compares are avoided below: GCC scalarizes some of them (double
 * compares of 64-byte vectors among them); the masks come from sign bits
 * (arithmetic shifts) instead, as in fsm_simd_t.h. */
#define FSM_SIGN_MASK_f64(v) ((fsm_vl)(v) >> 63)

/* log(u) for u > 0 finite, subnormals included (scaled by 2^54 first):
 * fsm_vlog_kernel_f64 (fsm_simd.h) as in fsm_vlog1p_f64, without the log1p correction.
 * +inf gives a finite value, a NaN or a negative u garbage: callers mask them. */
FSM_INLINE fsm_vd fsm_vlog_pos_f64(fsm_vd u)
{
    const fsm_vd zero = {0};
    /* u below the smallest normal: its bits below those of 2^-1022 */
    const fsm_vl sub = ((fsm_vl)u - 0x0010000000000000ll) >> 63;
    u = fsm_sel_f64(sub, u * 18014398509481984.0, u);   /* * 2^54 */
    const fsm_vd kadj = (fsm_vd)((fsm_vl)(zero + 54.0) & sub);
    fsm_vd kd, f, hfsq;
    fsm_vd qr = fsm_vlog_kernel_f64(u, kadj, &kd, &f, &hfsq);
    return kd * FSM_LN2_HI_f64 - ((hfsq - (qr + kd * FSM_LN2_LO_f64)) - f);
}

/* exp(x) over the whole range, compare-free: the method of fsm_vexp_core
 * (clamped argument, 2^k as two factors, so that results overflow to inf and
 * subnormal ones are rounded once); 0 below -FSM_EXP_ZERO, NaN for NaN. */
FSM_INLINE fsm_vd fsm_vexp_any_f64(fsm_vd x)
{
    const fsm_vd zero = {0};
    const fsm_vd magic = zero + 6755399441055744.0;      /* 1.5 * 2^52 */
    fsm_vd xc = fsm_sel_f64(FSM_SIGN_MASK_f64(710.0 - x), zero + 710.0, x);
    xc = fsm_sel_f64(FSM_SIGN_MASK_f64(xc + 746.0), zero - 746.0, xc);
    fsm_vd t = xc * 1.4426950408889634074 + magic;
    fsm_vl k = (fsm_vl)((fsm_vul)t - (fsm_vul)magic);
    fsm_vd kf = t - magic;
    fsm_vd r = xc - kf * 6.93147180369123816490e-01;
    r = r - kf * 1.90821492927058770002e-10;
    fsm_vd p = fsm_exp_poly_f64(r);
    fsm_vl k1 = fsm_exp_half_k_f64(k, kf, magic);
    fsm_vl k2 = k - k1;
    fsm_vd s1 = (fsm_vd)((fsm_vul)(k1 + 1023) << 52);
    fsm_vd s2 = (fsm_vd)((fsm_vul)(k2 + 1023) << 52);
    fsm_vd y = (p * s1) * s2;
    y = (fsm_vd)((fsm_vl)y & ~FSM_SIGN_MASK_f64(x + 745.1332191019412));  /* below: 0 */
    const fsm_vl nan = (0x7ff0000000000000ll - ((fsm_vl)x & 0x7fffffffffffffffll)) >> 63;
    return fsm_sel_f64(nan, x, y);
}

/* the kl_div term of each lane, in double */
FSM_INLINE fsm_vd fsm_kl_term_f64(fsm_vd x, fsm_vd t, const int log_target)
{
    const fsm_vd zero = {0};
    if (log_target) return fsm_vexp_any_f64(t) * (t - x);
    /* xlogy(t, t) = t log t: 0 for t == 0 (t log 1), NaN for t < 0 (and -inf,
     * -NaN), NaN for NaN (t * ...), +inf for +inf (inf * a positive value) */
    const fsm_vl b = (fsm_vl)t;
    const fsm_vl tzero = ((b & 0x7fffffffffffffffll) - 1) >> 63;
    const fsm_vl neg = (b >> 63) & ~tzero;
    fsm_vd lt = fsm_vlog_pos_f64(fsm_sel_f64(tzero, zero + 1.0, t));
    lt = fsm_sel_f64(neg, zero + (double)NAN, lt);
    return t * lt - t * x;
}
#endif /* FSM_DIVERGENCE_COMMON */

#if (FSM_TID == 32 && !defined(FSM_DIVERGENCE_F32)) || (FSM_TID == 64 && !defined(FSM_DIVERGENCE_F64))
#if FSM_TID == 32
#define FSM_DIVERGENCE_F32
#else
#define FSM_DIVERGENCE_F64
#endif

/* ------------------------------------------------------------------ kl_div */

#if FSM_TID == 32
/* a float vector's terms as two double vectors; *lo, *hi */
FSM_INLINE void FSM_FN(kl_terms)(FSM_VT x, FSM_VT t, const int log_target, fsm_vd *lo, fsm_vd *hi)
{
    fsm_vd2 dx = __builtin_convertvector(x, fsm_vd2), dt = __builtin_convertvector(t, fsm_vd2);
    *lo = fsm_kl_term_f64(FSM_LO_d2(dx), FSM_LO_d2(dt), log_target);
    *hi = fsm_kl_term_f64(FSM_HI_d2(dx), FSM_HI_d2(dt), log_target);
}
FSM_INLINE FSM_VT FSM_FN(kl_round)(fsm_vd lo, fsm_vd hi)
{
    fsm_vfh rl = __builtin_convertvector(lo, fsm_vfh), rh = __builtin_convertvector(hi, fsm_vfh);
    return FSM_JOIN_f32(rl, rh);
}
#else
FSM_INLINE void FSM_FN(kl_terms)(FSM_VT x, FSM_VT t, const int log_target, fsm_vd *lo, fsm_vd *hi)
{
    *lo = fsm_kl_term_f64(x, t, log_target);
    *hi = (fsm_vd){0};
}
FSM_INLINE FSM_VT FSM_FN(kl_round)(fsm_vd lo, fsm_vd hi) { (void)hi; return lo; }
#endif

/* the terms of x[0:n] (log-probabilities) and t[0:n] (targets) into out
 * (when not NULL); returns their sum (double lanes, combined in a fixed
 * order).  The padding lanes of the tail are masked out of the sum. */
FSM_INLINE double FSM_FN(kl_div_run)(const FSM_T *x, const FSM_T *t, FSM_T *out, ptrdiff_t n,
                                     const int log_target)
{
    fsm_vd a0 = {0}, a1 = {0};
    ptrdiff_t j = 0;
    for (; j + FSM_LANES <= n; j += FSM_LANES) {
        fsm_vd lo, hi;
        FSM_FN(kl_terms)(FSM_FN(fsm_loadu)(x + j), FSM_FN(fsm_loadu)(t + j), log_target, &lo, &hi);
        if (out) FSM_FN(fsm_storeu)(out + j, FSM_FN(kl_round)(lo, hi));
        a0 += lo;
        a1 += hi;
    }
    if (j < n) {
        fsm_vd lo, hi;
        /* padding x = 0, t = 0: a term of 0 (both forms) */
        FSM_FN(kl_terms)(FSM_FN(fsm_load_tail)(x + j, n - j, 0), FSM_FN(fsm_load_tail)(t + j, n - j, 0),
                         log_target, &lo, &hi);
        if (out) FSM_FN(fsm_store_tail)(out + j, FSM_FN(kl_round)(lo, hi), n - j);
        a0 += lo;
        a1 += hi;
    }
    return fsm_hsum_vd(a0 + a1);
}

FSM_INLINE double FSM_FN(kernel_kl_div)(const FSM_T *x, const FSM_T *t, FSM_T *out, ptrdiff_t n,
                                        int log_target)
{
    return log_target ? FSM_FN(kl_div_run)(x, t, out, n, 1) : FSM_FN(kl_div_run)(x, t, out, n, 0);
}

/* ------------------------------------------------------------------ distillation */

FSM_INLINE void FSM_FN(distill_fill)(FSM_T *g, ptrdiff_t n, FSM_T v)
{
    for (ptrdiff_t j = 0; j < n; j++) g[j] = v;
}

/* lanes k < r (0 <= r <= FSM_LANES) all ones, without a compare */
FSM_INLINE FSM_IVT FSM_FN(live_lanes)(ptrdiff_t r)
{
    return (FSM_FN(fsm_iota)() - (int)r) >> FSM_SIGN_SHIFT;
}

/* a term e (t - s), or for e == 0 (exactly: e >= +0 from fsm_vexp_le) 0 * s:
 * 0, or NaN for s = -inf */
FSM_INLINE FSM_VT FSM_FN(kl_w_term)(FSM_VT e, FSM_VT s, FSM_VT t)
{
    const FSM_IVT ezero = ((FSM_IVT)e - 1) >> FSM_SIGN_SHIFT;
    return FSM_FN(fsm_sel)(ezero, s * 0, e * (t - s));
}

/* The tempered sums of one block, both maxima finite (ms, mt; for a row whose
 * elements so far are all -inf the caller passes 0): adds
 *   sum exp((s - ms) / T) to *sq, sum e to *sp, sum e (t - s) to *w,
 * e = exp((t - mt) / T); a term with e == 0 is 0, or NaN where s = -inf
 * (torch's 0 * log 0).  Lanes summed in FSM_T over groups of 4 vectors, then
 * in double. */
FSM_INLINE void FSM_FN(block_tempered)(const FSM_T *s, const FSM_T *t, ptrdiff_t n, FSM_T ms,
                                       FSM_T mt, FSM_T inv_t, double *sq, double *sp, double *w)
{
    const FSM_T ninf = -(FSM_T)INFINITY;
    const FSM_VT msv = FSM_FN(fsm_splat)(ms), mtv = FSM_FN(fsm_splat)(mt);
    const FSM_VT iv = FSM_FN(fsm_splat)(inv_t), zero = FSM_FN(fsm_splat)(0);
    FSM_DACC aq, ap, aw;
    FSM_FN(fsm_dacc_zero)(&aq);
    FSM_FN(fsm_dacc_zero)(&ap);
    FSM_FN(fsm_dacc_zero)(&aw);
    ptrdiff_t j = 0;
    for (; j + 4 * FSM_LANES <= n; j += 4 * FSM_LANES) {
        FSM_VT q = zero, p = zero, ww = zero;
        for (int g = 0; g < 4; g++) {
            FSM_VT sv = FSM_FN(fsm_loadu)(s + j + g * FSM_LANES), tv = FSM_FN(fsm_loadu)(t + j + g * FSM_LANES);
            FSM_VT eq = FSM_FN(fsm_vexp_le)((sv - msv) * iv, zero);
            FSM_VT ep = FSM_FN(fsm_vexp_le)((tv - mtv) * iv, zero);
            q += eq;
            p += ep;
            ww += FSM_FN(kl_w_term)(ep, sv, tv);
        }
        FSM_FN(fsm_dacc_add)(&aq, q);
        FSM_FN(fsm_dacc_add)(&ap, p);
        FSM_FN(fsm_dacc_add)(&aw, ww);
    }
    FSM_VT q = zero, p = zero, ww = zero;
    for (; j < n; j += FSM_LANES) {
        const ptrdiff_t r = n - j;
        FSM_VT sv, tv;
        FSM_IVT live;
        if (r >= FSM_LANES) {
            sv = FSM_FN(fsm_loadu)(s + j);
            tv = FSM_FN(fsm_loadu)(t + j);
            live = FSM_FN(live_lanes)(FSM_LANES);
        } else {
            sv = FSM_FN(fsm_load_tail)(s + j, r, ninf);
            tv = FSM_FN(fsm_load_tail)(t + j, r, ninf);
            live = FSM_FN(live_lanes)(r);
        }
        FSM_VT eq = FSM_FN(fsm_vexp_le)((sv - msv) * iv, zero);
        FSM_VT ep = FSM_FN(fsm_vexp_le)((tv - mtv) * iv, zero);
        q += eq;
        p += ep;
        ww += FSM_FN(fsm_sel)(live, FSM_FN(kl_w_term)(ep, sv, tv), zero);
    }
    FSM_FN(fsm_dacc_add)(&aq, q);
    FSM_FN(fsm_dacc_add)(&ap, p);
    FSM_FN(fsm_dacc_add)(&aw, ww);
    *sq += FSM_FN(fsm_dacc_sum)(&aq);
    *sp += FSM_FN(fsm_dacc_sum)(&ap);
    *w += FSM_FN(fsm_dacc_sum)(&aw);
}

/* What the first sweep over a row pair gives. */
typedef struct {
    FSM_T ms, mt;        /* the maxima of s and t */
    double acc, cnt;     /* sum exp(s - ms) as row_state: others, count of ties (ce only) */
    double sq, sp, w;    /* see block_tempered */
    int bad;             /* a NaN, a +inf or only -inf in s or t */
} FSM_FN(distill_state);

FSM_INLINE void FSM_FN(distill_sweep)(const FSM_T *s, const FSM_T *t, ptrdiff_t n, FSM_T inv_t,
                                      const int ce, FSM_FN(distill_state) *st)
{
    const FSM_T ninf = -(FSM_T)INFINITY;
    const double it = (double)inv_t;
    FSM_T ms = ninf, mt = ninf;
    double acc = 0.0, cnt = 0.0, sq = 0.0, sp = 0.0, w = 0.0;
    int bad = 0;
    for (ptrdiff_t b = 0; b < n; b += FSM_BLOCK) {
        const ptrdiff_t len = n - b < FSM_BLOCK ? n - b : FSM_BLOCK;
        const int back = b + len >= FSM_LANES;
        const FSM_T bms = FSM_FN(block_max)(s + b, len, back), bmt = FSM_FN(block_max)(t + b, len, back);
        if (bms != bms || bmt != bmt || bms == -ninf || bmt == -ninf) { bad = 1; break; }
        if (bms > ms) {
            /* a maximum that was -inf: the sums so far are 0 (scaled by 0: a NaN stays) */
            const int was = isfinite(ms);
            acc = was ? (acc + cnt) * exp((double)ms - (double)bms) : 0.0;
            cnt = 0.0;
            sq *= was ? exp(((double)ms - (double)bms) * it) : 0.0;
            ms = bms;
        }
        if (bmt > mt) {
            const double f = isfinite(mt) ? exp(((double)mt - (double)bmt) * it) : 0.0;
            sp *= f;
            w *= f;
            mt = bmt;
        }
        if (ce && isfinite(ms)) {
            if (bms == ms) FSM_FN(block_sumexp)(s + b, len, ms, &acc, &cnt, 1, back, 0);
            else FSM_FN(block_sumexp)(s + b, len, ms, &acc, &cnt, 0, back, 0);
        }
        FSM_FN(block_tempered)(s + b, t + b, len, isfinite(ms) ? ms : 0, isfinite(mt) ? mt : 0,
                               inv_t, &sq, &sp, &w);
    }
    if (n > 0 && (!isfinite(ms) || !isfinite(mt))) bad = 1;
    st->ms = ms;
    st->mt = mt;
    st->acc = acc;
    st->cnt = cnt;
    st->sq = sq;
    st->sp = sp;
    st->w = w;
    st->bad = bad;
}

/* A row whose KL came out non-finite: each -inf student logit gives +inf
 * where p > 0 and NaN where p == 0 (exactly, against the final maximum);
 * without one, the value stands. */
FSM_INLINE double FSM_FN(distill_kl_fixup)(const FSM_T *s, const FSM_T *t, ptrdiff_t n, FSM_T mt,
                                           FSM_T inv_t, double kl)
{
    const FSM_T ninf = -(FSM_T)INFINITY;
    const FSM_VT mtv = FSM_FN(fsm_splat)(mt), iv = FSM_FN(fsm_splat)(inv_t), zero = FSM_FN(fsm_splat)(0);
    int found = 0, nan = 0;
    for (ptrdiff_t j = 0; j < n; j += FSM_LANES) {
        const ptrdiff_t r = n - j < FSM_LANES ? n - j : FSM_LANES;
        FSM_VT sv = FSM_FN(fsm_load_tail)(s + j, r, 0), tv = FSM_FN(fsm_load_tail)(t + j, r, mt);
        FSM_VT ep = FSM_FN(fsm_vexp_le)((tv - mtv) * iv, zero);
        for (ptrdiff_t k = 0; k < r; k++) {
            if (sv[k] == ninf) {
                found = 1;
                if (ep[k] == 0) nan = 1;
            }
        }
    }
    if (!found) return kl;
    return nan ? (double)NAN : (double)INFINITY;
}

/* g = cs exp(s - ms) + cq exp((s - ms) / T) - cp exp((t - mt) / T) over a row */
FSM_INLINE void FSM_FN(distill_grad_row)(const FSM_T *s, const FSM_T *t, ptrdiff_t n, FSM_T ms,
                                         FSM_T mt, FSM_T inv_t, FSM_T cs, FSM_T cq, FSM_T cp,
                                         const int ce, const int kl, FSM_T *g)
{
    const FSM_VT msv = FSM_FN(fsm_splat)(ms), mtv = FSM_FN(fsm_splat)(mt);
    const FSM_VT iv = FSM_FN(fsm_splat)(inv_t), zero = FSM_FN(fsm_splat)(0);
    const FSM_VT csv = FSM_FN(fsm_splat)(cs), cqv = FSM_FN(fsm_splat)(cq), cpv = FSM_FN(fsm_splat)(cp);
    for (ptrdiff_t j = 0; j < n; j += FSM_LANES) {
        const ptrdiff_t r = n - j;
        FSM_VT sv, tv;
        if (r >= FSM_LANES) {
            sv = FSM_FN(fsm_loadu)(s + j);
            tv = FSM_FN(fsm_loadu)(t + j);
        } else {
            sv = FSM_FN(fsm_load_tail)(s + j, r, ms);
            tv = FSM_FN(fsm_load_tail)(t + j, r, mt);
        }
        FSM_VT v = zero;
        if (ce) v = FSM_FN(fsm_vexp_le)(sv, msv) * csv;
        if (kl) {
            FSM_VT eq = FSM_FN(fsm_vexp_le)((sv - msv) * iv, zero);
            FSM_VT ep = FSM_FN(fsm_vexp_le)((tv - mtv) * iv, zero);
            v = (v + eq * cqv) - ep * cpv;
        }
        if (r >= FSM_LANES) FSM_FN(fsm_storeu)(g + j, v);
        else FSM_FN(fsm_store_tail)(g + j, v, r);
    }
}

/* the lanes of v summed in double (one vector: the order of FSM_DACC) */
FSM_INLINE double FSM_FN(vsum_double)(FSM_VT v)
{
    FSM_DACC a;
    FSM_FN(fsm_dacc_zero)(&a);
    FSM_FN(fsm_dacc_add)(&a, v);
    return FSM_FN(fsm_dacc_sum)(&a);
}

/* A whole row of n <= FSM_LANES elements in one vector each of s and t (avail:
 * elements readable from s and t; below FSM_LANES the row is loaded padded):
 * the row's KL, its cross-entropy (counted rows) and its gradient from one
 * set of exponentials.  The same operations as distill_sweep and
 * distill_grad_row on such a row, so the same results.  Returns 0, having
 * written nothing, when the row holds an inf or a NaN (the general path
 * implements the special values). */
FSM_INLINE int FSM_FN(distill_short_row)(const FSM_T *s, const FSM_T *t, ptrdiff_t n,
                                         ptrdiff_t avail, FSM_T inv_t, const int counted,
                                         const int64_t y, const fsm_distill_options *opt,
                                         FSM_T *g, double *ce_total, double *kl_total)
{
    const FSM_T ninf = -(FSM_T)INFINITY;
    const FSM_VT vninf = FSM_FN(fsm_splat)(ninf), zero = FSM_FN(fsm_splat)(0);
    const FSM_VT one = FSM_FN(fsm_splat)(1), iv = FSM_FN(fsm_splat)(inv_t);
    const FSM_IVT live = FSM_FN(live_lanes)(n);
    const FSM_VT s0 = avail >= FSM_LANES ? FSM_FN(fsm_loadu)(s) : FSM_FN(fsm_load_tail)(s, n, 0);
    const FSM_VT t0 = avail >= FSM_LANES ? FSM_FN(fsm_loadu)(t) : FSM_FN(fsm_load_tail)(t, n, 0);
    /* x * 0 is NaN for an inf or a NaN */
    if (FSM_FN(fsm_allsum)(FSM_FN(fsm_sel)(live, s0 * 0 + t0 * 0, zero))[0] != 0) return 0;
    const FSM_VT sv = FSM_FN(fsm_sel)(live, s0, vninf), tv = FSM_FN(fsm_sel)(live, t0, vninf);
    const FSM_T ms = FSM_FN(fsm_allmax_nonan)(sv)[0], mt = FSM_FN(fsm_allmax_nonan)(tv)[0];
    const FSM_VT msv = FSM_FN(fsm_splat)(ms), mtv = FSM_FN(fsm_splat)(mt);
    const FSM_VT eq = FSM_FN(fsm_vexp_le)((sv - msv) * iv, zero);
    const FSM_VT ep = FSM_FN(fsm_vexp_le)((tv - mtv) * iv, zero);
    const double sq = FSM_FN(vsum_double)(eq), sp = FSM_FN(vsum_double)(ep);
    const double w = FSM_FN(vsum_double)(FSM_FN(fsm_sel)(live, FSM_FN(kl_w_term)(ep, sv, tv), zero));
    *kl_total += (w / sp - ((double)mt - (double)ms)) * opt->inv_temperature + log(sq / sp);
    FSM_VT e = zero;
    double acc = 0.0, cnt = 0.0;
    if (counted) {
        /* as block_sumexp's count mode: the terms below the maximum, and the ties */
        e = FSM_FN(fsm_vexp_le)(sv, msv);
        const FSM_IVT k = (FSM_IVT)((sv - msv) + 0) >> FSM_SIGN_SHIFT;
        acc = FSM_FN(vsum_double)((FSM_VT)((FSM_IVT)e & k));
        cnt = (double)FSM_FN(fsm_allsum)((FSM_VT)((FSM_IVT)one & ~k))[0];
        *ce_total += ((double)ms - (double)s[y]) + log1p(acc + (cnt - 1.0));
    }
    if (g) {
        const double ce_scale = opt->ce_scale, kl_scale = opt->kl_scale;
        const int ce = counted && ce_scale != 0.0;
        FSM_VT v = zero;
        if (ce) v = e * FSM_FN(fsm_splat)((FSM_T)(ce_scale / (acc + cnt)));
        if (kl_scale != 0.0)
            v = (v + eq * FSM_FN(fsm_splat)((FSM_T)(kl_scale / sq)))
                - ep * FSM_FN(fsm_splat)((FSM_T)(kl_scale / sp));
        FSM_FN(fsm_store_tail)(g, v, n);
        if (ce) g[y] = (FSM_T)((double)g[y] - ce_scale);
    }
    return 1;
}

/* Distillation (fsm_kernel_list.h): target NULL (no cross-entropy term) or
 * class indices in [0, ncols) or ignore_index.  Writes the rows' summed
 * cross-entropy (counted rows) and summed KL (every row) into out. */
FSM_INLINE void FSM_FN(kernel_distill)(FSM_FN(fsm_rows) sr, FSM_FN(fsm_rows) tr,
                                       const int64_t *target, const fsm_distill_options *opt,
                                       FSM_FN(fsm_distill_out) out)
{
    const ptrdiff_t nrows = sr.nrows, n = sr.ncols;
    const double it = opt->inv_temperature, ce_scale = opt->ce_scale, kl_scale = opt->kl_scale;
    const FSM_T inv_t = (FSM_T)it;
    /* rows of one vector, contiguous: the short path */
    const int short_rows = n >= 1 && n <= FSM_LANES && sr.stride == n && tr.stride == n;
    double ce_total = 0.0, kl_total = 0.0;
    for (ptrdiff_t i = 0; i < nrows; i++) {
        const FSM_T *s = sr.data + i * sr.stride, *t = tr.data + i * tr.stride;
        FSM_T *g = out.grad ? out.grad + i * out.grad_stride : NULL;
        const int counted = target != NULL && target[i] != opt->ignore_index;
        const int64_t y = counted ? target[i] : 0;
        if (short_rows && FSM_FN(distill_short_row)(s, t, n, (nrows - i) * n, inv_t, counted, y, opt,
                                                    g, &ce_total, &kl_total))
            continue;
        FSM_FN(distill_state) st;
        FSM_FN(distill_sweep)(s, t, n, inv_t, counted, &st);
        if (n == 0) continue;   /* no class: KL 0, no counted row (indices are checked) */
        if (st.bad) {
            if (counted) ce_total += (double)NAN;
            kl_total += (double)NAN;
            if (g) FSM_FN(distill_fill)(g, n, (FSM_T)NAN);
            continue;
        }
        if (counted)
            ce_total += ((double)st.ms - (double)s[y]) + log1p(st.acc + (st.cnt - 1.0));
        double kl = (st.w / st.sp - ((double)st.mt - (double)st.ms)) * it + log(st.sq / st.sp);
        if (!isfinite(kl)) kl = FSM_FN(distill_kl_fixup)(s, t, n, st.mt, inv_t, kl);
        kl_total += kl;
        if (g) {
            const int ce = counted && ce_scale != 0.0, klg = kl_scale != 0.0;
            const FSM_T cs = ce ? (FSM_T)(ce_scale / (st.acc + st.cnt)) : 0;
            const FSM_T cq = (FSM_T)(kl_scale / st.sq), cp = (FSM_T)(kl_scale / st.sp);
            if (ce && klg) FSM_FN(distill_grad_row)(s, t, n, st.ms, st.mt, inv_t, cs, cq, cp, 1, 1, g);
            else if (ce) FSM_FN(distill_grad_row)(s, t, n, st.ms, st.mt, inv_t, cs, cq, cp, 1, 0, g);
            else if (klg) FSM_FN(distill_grad_row)(s, t, n, st.ms, st.mt, inv_t, cs, cq, cp, 0, 1, g);
            else FSM_FN(distill_fill)(g, n, 0);
            if (ce) g[y] = (FSM_T)((double)g[y] - ce_scale);
        }
    }
    *out.ce_sum = ce_total;
    *out.kl_sum = kl_total;
}

#endif
