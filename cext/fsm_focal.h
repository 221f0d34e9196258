/*
 * fsm_focal.h -- the focal losses: kernel_focal_index (softmax focal loss,
 * class-index targets, fused like kernel_ce_index) and kernel_sigmoid_focal
 * (the elementwise sigmoid focal loss).  A template, like fsm_rowpass.h.
 *
 * Softmax focal loss of a row with target y != ignore_index, with
 * nlp = -log p_y = (m - x[y]) + L and q = 1 - p_y:
 *   l = a[y] q^g nlp
 *   g[c] = s K (p[c] - onehot(y)[c]),   K = a[y] q^g (1 + g p_y nlp / q)
 * (d/dx_c of -q^g log p_y is (q^g - g q^(g-1) p_y log p_y)(p_c - [c == y]);
 * q^(g-1) is written q^g / q so that nothing is infinite as p_y -> 1, where
 * nlp / q -> 1, and the term is 0 where p_y = 0.)  The gradient therefore
 * has the cross-entropy's shape: one online pass for m and L, a per-row
 * scalar K, and the gradient pass of fsm_crossentropy.h.  q is 1 - p_y
 * for p_y <= 1/2 and -expm1(-nlp) above, so a row with p_y close to 1
 * keeps q's relative precision, and the target's entry is -K q (not
 * K p_y - K).  For g = 0 the loss is bitwise that of kernel_ce_index with
 * weight a and no smoothing, and so is the gradient away from the target.
 *
 * Sigmoid focal loss, per element (torchvision's definition), in double:
 *   s = sigmoid(x), sn = sigmoid(-x), ce = (1 - t) x + softplus(-x)
 *   w = 1 - p_t = s (1 - t) + sn t,   l = a_t ce w^g,  a_t = alpha t + (1 - alpha)(1 - t)
 *   dl/dx = a_t ((s (1 - t) - sn t) w^g + g ce (1 - 2t) w^g (s sn / w))
 * w and ce formed without cancellation (w never as 1 - p_t, ce never as
 * (1 - t) x + softplus(-x) with x < 0), with torch's NaN and inf for
 * infinite logits.  The second term of the gradient is 0 where s sn / w is 0
 * (saturated logits, +-inf included), its limit.
 */
#include "fsm_kernels.h"
#include "fsm_simd.h"
#include "fsm_rowpass.h"
#include "fsm_shortrows.h"
#include "fsm_crossentropy.h"

#ifndef FSM_T
#error "a template: include fsm_type_f32.h or fsm_type_f64.h first"
#endif
#if (FSM_TID == 32 && !defined(FSM_FOCAL_F32)) || (FSM_TID == 64 && !defined(FSM_FOCAL_F64))
#if FSM_TID == 32
#define FSM_FOCAL_F32
#else
#define FSM_FOCAL_F64
#endif

#ifndef FSM_FOCAL_COMMON
#define FSM_FOCAL_COMMON
/* q^g with the common exponents exact */
FSM_INLINE double fsm_focal_pow(double q, double g)
{
    return g == 0.0 ? 1.0 : g == 1.0 ? q : g == 2.0 ? q * q : pow(q, g);
}

/* The loss of a counted row from nlp = -log p_y >= 0 (a: the target's
 * alpha), in *K the gradient's factor (see the header comment) and in *Q
 * the gradient's entry at the target class, -K q: formed from q, not as
 * K p_y - K, which would cancel where p_y is close to 1. */
FSM_INLINE double fsm_focal_row(double nlp, double a, double g, double *K, double *Q)
{
    const double py = exp(-nlp);
    const double q = py > 0.5 ? -expm1(-nlp) : 1.0 - py;
    const double qg = fsm_focal_pow(q, g);
    const double r = q > 0.0 ? nlp / q : 1.0;           /* -log(1 - q) / q -> 1 */
    const double t = py > 0.0 ? g * py * r : 0.0;       /* p_y = 0: nlp = inf, term 0 */
    *K = a * (qg * (1.0 + t));
    *Q = -(*K * q);
    return a * (qg * nlp);
}
#endif

/* Short contiguous rows (n <= FSM_SLANES): as ce_index_small.  Returns 0
 * (nothing written) if the chunk holds an inf or a NaN. */
FSM_INLINE int FSM_FN(focal_index_small)(const FSM_T *x, ptrdiff_t rows, ptrdiff_t n,
                                         ptrdiff_t avail, const FSM_IVT *lanes,
                                         const int64_t *target, const FSM_T *alpha,
                                         const fsm_focal_options *opt, double *loss_rows,
                                         FSM_T *grad, double *total, const int sk)
{
    const int64_t ignore_index = opt->ignore_index;
    const double g = opt->gamma, scale = opt->grad_scale;
    FSM_T mbuf[FSM_SMALL_CHUNK + FSM_SLANES], ebuf[FSM_SMALL_CHUNK + 2 * FSM_SLANES];
    double lse[FSM_SMALL_CHUNK + FSM_LANES_f64];
    if (!FSM_FN(lse_small_chunk)(x, rows, n, avail, lanes, mbuf, ebuf, lse, sk)) return 0;
    double coef[FSM_SMALL_CHUNK + FSM_LANES_f64];   /* per row: scale * K, then / sum */
    double qy[FSM_SMALL_CHUNK];                     /* per row: the target's entry */
    double sum = 0.0;
    for (ptrdiff_t i = 0; i < rows; i++) {
        const int64_t y = target[i];
        double loss = 0.0;
        coef[i] = 0.0;
        if (y != ignore_index) {
            const double m = (double)mbuf[i * n], L = lse[i];
            const double a = alpha ? (double)alpha[y] : 1.0;
            double K, Q;
            loss = fsm_focal_row((m - (double)x[i * n + y]) + L, a, g, &K, &Q);
            coef[i] = scale * K;
            qy[i] = scale * Q;
        }
        if (loss_rows) loss_rows[i] = loss;
        sum += loss;
    }
    *total += sum;
    if (!grad) return 1;
    for (ptrdiff_t i = 0; i < rows; i += FSM_LANES_f64) {
        if (i + FSM_LANES_f64 > rows)
            for (ptrdiff_t k = rows; k < i + FSM_LANES_f64; k++) { lse[k] = 0.0; coef[k] = 0.0; }
        fsm_storeu_f64(coef + i, fsm_loadu_f64(coef + i) * fsm_vexp_f64(-fsm_loadu_f64(lse + i)));
    }
    FSM_T cbuf[FSM_SMALL_CHUNK + FSM_SLANES];
    for (ptrdiff_t i = 0; i < rows; i++)
        FSM_FN(short_row_splat)(cbuf + i * n, n, FSM_FN(fsm_splat)((FSM_T)coef[i]), sk);
    const ptrdiff_t tot = rows * n;
    ptrdiff_t j = 0;
    for (; j + FSM_LANES <= tot; j += FSM_LANES) {
        FSM_VT e = FSM_FN(fsm_vexp_le)(FSM_FN(fsm_loadu)(x + j), FSM_FN(fsm_loadu)(mbuf + j));
        FSM_FN(fsm_storeu)(grad + j, e * FSM_FN(fsm_loadu)(cbuf + j));
    }
    if (j < tot) {
        FSM_VT e = FSM_FN(fsm_vexp_le)(FSM_FN(fsm_load_tail)(x + j, tot - j, 0), FSM_FN(fsm_loadu)(mbuf + j));
        FSM_FN(fsm_store_tail)(grad + j, e * FSM_FN(fsm_loadu)(cbuf + j), tot - j);
    }
    for (ptrdiff_t i = 0; i < rows; i++) {
        const int64_t y = target[i];
        if (y == ignore_index) continue;
        grad[i * n + y] = (FSM_T)qy[i];
    }
    return 1;
}

FSM_INLINE double FSM_FN(focal_index_rows)(const FSM_T *x, ptrdiff_t ldx, ptrdiff_t nrows,
                                           ptrdiff_t ncols, const int64_t *target,
                                           const FSM_T *alpha, const fsm_focal_options *opt,
                                           double *loss_rows, FSM_T *grad, ptrdiff_t ldg)
{
    const int64_t ignore_index = opt->ignore_index;
    const double g = opt->gamma, scale = opt->grad_scale;
    double total = 0.0;
    FSM_FN(row_group) st;
    const int stored = grad && FSM_ROW_GROUP_STORES(ncols);   /* as in ce_index_rows */
    for (ptrdiff_t i = 0; i < nrows; i++) {
        const ptrdiff_t k = FSM_FN(row_group_state)(&st, x, ldx, nrows, ncols, i, target,
                                                    ignore_index, grad, ldg);
        const FSM_T *xi = x + i * ldx;
        const int64_t y = target[i];
        double loss = 0.0;
        if (y == ignore_index) {
            if (grad) FSM_FN(row_fill)(grad + i * ldg, ncols, 0);
        } else {
            const FSM_T m = st.m[k];
            const double acc = st.acc[k], cnt = st.cnt[k];
            double K = 0.0, Q = 0.0;
            const double L = isfinite(m) ? log1p(acc + (cnt - 1.0)) : 0.0;
            const double a = alpha ? (double)alpha[y] : 1.0;
            if (isfinite(m)) loss = fsm_focal_row(((double)m - (double)xi[y]) + L, a, g, &K, &Q);
            else loss = NAN;   /* a NaN, a +inf or only -inf: no distribution */
            if (grad) {
                FSM_T *gi = grad + i * ldg;
                if (isfinite(m)) {
                    FSM_FN(row_grad_base_from)(xi, ncols, m, (FSM_T)(scale * K / (acc + cnt)),
                                               NULL, (FSM_T)0, gi, stored);
                    gi[y] = (FSM_T)(scale * Q);
                } else {
                    FSM_FN(row_fill)(gi, ncols, (FSM_T)NAN);
                }
            }
        }
        if (loss_rows) loss_rows[i] = loss;
        total += loss;
    }
    return total;
}

/* Index targets (fsm_kernel_list.h): target[i] in [0, ncols) or ignore_index. */
FSM_INLINE double FSM_FN(kernel_focal_index)(FSM_FN(fsm_rows) xr, const int64_t *target,
                                             const FSM_T *alpha, const fsm_focal_options *opt,
                                             FSM_FN(fsm_ce_out) out)
{
    const FSM_T *x = xr.data;
    const ptrdiff_t ldx = xr.stride, nrows = xr.nrows, ncols = xr.ncols;
    double *loss_rows = out.loss_rows;
    FSM_T *grad = out.grad;
    const ptrdiff_t ldg = out.grad_stride;
    double total = 0.0;
    if (ncols >= 1 && ncols <= FSM_SLANES && ldx == ncols && (!grad || ldg == ncols)) {
        FSM_SHORT_CHUNKS(ncols, nrows, , return total, {
            if (FSM_FN(focal_index_small)(x + i0 * ncols, r, ncols, (nrows - i0) * ncols, lanes,
                                          target + i0, alpha, opt,
                                          loss_rows ? loss_rows + i0 : NULL,
                                          grad ? grad + i0 * ncols : NULL, &total, sk))
                continue;
            total += FSM_FN(focal_index_rows)(x + i0 * ncols, ldx, r, ncols, target + i0, alpha,
                                              opt, loss_rows ? loss_rows + i0 : NULL,
                                              grad ? grad + i0 * ncols : NULL, ldg);
        });
    }
    return FSM_FN(focal_index_rows)(x, ldx, nrows, ncols, target, alpha, opt, loss_rows, grad, ldg);
}

/* ------------------------------------------------------------ sigmoid focal */

/* n <= FSM_LANES_f64 elements of p as a double vector, the others 0 */
FSM_INLINE fsm_vd FSM_FN(sfocal_load)(const FSM_T *p, ptrdiff_t n)
{
#if FSM_TID == 32
    fsm_vfh h;
    if (n >= FSM_LANES_f64) memcpy(&h, p, sizeof h);
    else {
        float buf[FSM_LANES_f64] = {0};
        memcpy(buf, p, (size_t)n * sizeof(float));
        memcpy(&h, buf, sizeof h);
    }
    return __builtin_convertvector(h, fsm_vd);
#else
    if (n >= FSM_LANES_f64) return fsm_loadu_f64(p);
    return fsm_load_tail_f64(p, n, 0);
#endif
}

/* the first n <= FSM_LANES_f64 lanes of v into p, rounded to FSM_T */
FSM_INLINE void FSM_FN(sfocal_store)(FSM_T *p, fsm_vd v, ptrdiff_t n)
{
#if FSM_TID == 32
    fsm_vfh h = __builtin_convertvector(v, fsm_vfh);
    if (n >= FSM_LANES_f64) memcpy(p, &h, sizeof h);
    else memcpy(p, &h, (size_t)n * sizeof(float));
#else
    if (n >= FSM_LANES_f64) fsm_storeu_f64(p, v);
    else fsm_store_tail_f64(p, v, n);
#endif
}

/* Elementwise (fsm_kernel_list.h): loss[k] and grad[k] (each when not NULL)
 * of x[k] against target t[k]; returns the sum of the n losses (double, in
 * a fixed order). */
FSM_INLINE double FSM_FN(kernel_sigmoid_focal)(const FSM_T *x, const FSM_T *t,
                                               const fsm_sfocal_options *opt, FSM_T *loss,
                                               FSM_T *grad, ptrdiff_t n)
{
    const double g = opt->gamma, scale = opt->grad_scale;
    const int use_alpha = opt->use_alpha;
    const double al = opt->alpha;
    const fsm_vd zero = fsm_splat_f64(0), one = fsm_splat_f64(1);
    fsm_vd acc = zero;
    double wbuf[FSM_LANES_f64];
    for (ptrdiff_t j = 0; j < n; j += FSM_LANES_f64) {
        const ptrdiff_t r = n - j < FSM_LANES_f64 ? n - j : FSM_LANES_f64;
        const fsm_vd xv = FSM_FN(sfocal_load)(x + j, r), tv = FSM_FN(sfocal_load)(t + j, r);
        const fsm_vd e = fsm_vexp_f64(fsm_sel_f64(xv < 0, xv, -xv));      /* exp(-|x|) */
        const fsm_vd rd = one / (one + e);
        const fsm_vd s = fsm_sel_f64(xv >= 0, one, e) * rd;               /* sigmoid(x) */
        const fsm_vd sn = fsm_sel_f64(xv >= 0, e, one) * rd;              /* sigmoid(-x) */
        const fsm_vd l1 = fsm_vlog1p_f64(fsm_sel_f64(xv != xv, zero, e));
        const fsm_vd omt = one - tv;
        /* BCE with logits (1 - t) x + softplus(-x) = log1p(e) + (x < 0 ? -t x : (1 - t) x),
         * without cancellation; -inf: NaN, as torch's form gives (inf - inf) */
        fsm_vd ce = l1 + fsm_sel_f64(xv < 0, -(tv * xv), omt * xv);
        ce = fsm_sel_f64(xv == -INFINITY, fsm_splat_f64(NAN), ce);
        const fsm_vd w = s * omt + sn * tv;                                /* 1 - p_t */
        fsm_vd wg;
        if (g == 0.0) wg = one;
        else if (g == 1.0) wg = w;
        else if (g == 2.0) wg = w * w;
        else {
            memcpy(wbuf, &w, sizeof w);
            for (int k = 0; k < FSM_LANES_f64; k++) wbuf[k] = pow(wbuf[k], g);
            memcpy(&wg, wbuf, sizeof wg);
        }
        const fsm_vd at = use_alpha ? al * tv + (1.0 - al) * omt : one;
        fsm_vd lv = at * (ce * wg);
        const fsm_vd nanv = fsm_sel_f64(xv != xv, xv, zero);   /* NaN lanes stay NaN */
        lv = lv + nanv;
        if (r < FSM_LANES_f64) {
            fsm_vl keep = (fsm_vl)fsm_iota_f64() < (fsm_vl){0} + (int64_t)r;
            lv = fsm_sel_f64(keep, lv, zero);
        }
        acc += lv;
        if (loss) FSM_FN(sfocal_store)(loss + j, lv, r);
        if (grad) {
            const fsm_vd d1 = s * omt - tv * sn;                           /* d ce / dx */
            fsm_vd gv = d1 * wg;
            if (g != 0.0) {
                fsm_vd v = s * sn / w;                                      /* <= 1 for t in [0, 1] */
                v = fsm_sel_f64(w == 0, zero, v);
                fsm_vd t2 = ((g * ce) * (one - 2.0 * tv)) * (wg * v);
                gv = gv + fsm_sel_f64(v == 0, zero, t2);
            }
            gv = (scale * at) * gv + nanv;
            FSM_FN(sfocal_store)(grad + j, gv, r);
        }
    }
    return fsm_hsum_vd(acc);
}

#endif
