/*
 * fsm_simd.h -- portable SIMD primitives on GCC/Clang vector extensions.
 *
 * Vectors are 64 bytes (16 floats or 8 doubles).  The compiler lowers each
 * operation to one AVX-512 instruction, two AVX2 ones or four SSE2 ones,
 * depending on the ISA the enclosing function is compiled for (the kernels
 * are built once per ISA with target_clones, see fsm_rowops.c).  Explicit
 * vectors instead of auto-vectorization: GCC will not vectorize the exp
 * selects or NaN-propagating max reductions without -ffast-math, which we
 * refuse (it breaks NaN/inf and flushes denormals process-wide).
 *
 * exp method (both precisions): x = k*ln2 + r with |r| <= ln2/2, exp(r) by a
 * polynomial, times 2^k.  2^k is applied as two factors so that subnormal
 * results are rounded once instead of flushed; k comes from the bits of a
 * "magic number" addition (no float->int64 converts, absent before AVX-512).
 * exp(a - b) takes the rounding error of a - b into the reduced argument
 * (TwoSum): for float32 and |a - b| = 80 that error alone would be 4e-6.
 */
#ifndef FSM_SIMD_H
#define FSM_SIMD_H

#include <stdint.h>
#include <string.h>
#include <math.h>
#include <stddef.h>

/* Forced inlining: each helper must be compiled inside every ISA clone of its
 * caller.  An out-of-line copy would be built for baseline x86-64 and pass
 * 64-byte vectors by a different ABI than an AVX-512 caller expects. */
#define FSM_INLINE static inline __attribute__((always_inline))

typedef float fsm_vf __attribute__((vector_size(64)));
typedef float fsm_vf8 __attribute__((vector_size(32)));
typedef int32_t fsm_vi __attribute__((vector_size(64)));
typedef uint32_t fsm_vu __attribute__((vector_size(64)));
typedef double fsm_vd __attribute__((vector_size(64)));
typedef int64_t fsm_vl __attribute__((vector_size(64)));
typedef uint64_t fsm_vul __attribute__((vector_size(64)));

#define FSM_LANES_f32 16
#define FSM_LANES_f64 8

/* ---------------------------------------------------------------- float32 */

/* -0.0 + a: keeps the sign of a zero (0.0 + -0.0 would give +0.0) */
FSM_INLINE fsm_vf fsm_splat_f32(float a) { return (fsm_vf){0} - 0.0f + a; }
FSM_INLINE fsm_vf fsm_sel_f32(fsm_vi m, fsm_vf a, fsm_vf b)
{
    return (fsm_vf)(((fsm_vi)a & m) | ((fsm_vi)b & ~m));
}
FSM_INLINE fsm_vf fsm_loadu_f32(const float *p)
{
    fsm_vf v;
    memcpy(&v, p, sizeof v);
    return v;
}
/* the first n < 16 elements of p, the other lanes set to pad */
FSM_INLINE fsm_vf fsm_load_tail_f32(const float *p, ptrdiff_t n, float pad)
{
    float buf[16];
    fsm_vf v = fsm_splat_f32(pad);
    memcpy(buf, &v, sizeof v);
    memcpy(buf, p, (size_t)n * sizeof(float));
    memcpy(&v, buf, sizeof v);
    return v;
}
FSM_INLINE void fsm_storeu_f32(float *p, fsm_vf v) { memcpy(p, &v, sizeof v); }
FSM_INLINE void fsm_store_tail_f32(float *p, fsm_vf v, ptrdiff_t n)
{
    float buf[16];
    memcpy(buf, &v, sizeof v);
    memcpy(p, buf, (size_t)n * sizeof(float));
}

/* exp(hi + lo), |lo| <= ulp(hi); max error ~1 ulp (tests/test_exp_accuracy.py) */
FSM_INLINE fsm_vf fsm_vexp_core_f32(fsm_vf hi, fsm_vf lo)
{
    const fsm_vf magic = fsm_splat_f32(12582912.0f);  /* 1.5 * 2^23 */
    fsm_vf xc = fsm_sel_f32(hi > 89.0f, fsm_splat_f32(89.0f), hi);
    xc = fsm_sel_f32(xc < -104.0f, fsm_splat_f32(-104.0f), xc);
    fsm_vf t = xc * 1.44269504088896341f + magic;
    fsm_vi k = (fsm_vi)((fsm_vu)t - (fsm_vu)magic);
    fsm_vf kf = t - magic;
    fsm_vf r = xc - kf * 0.693359375f;               /* ln2 split: k*hi exact */
    r = (r - kf * -2.12194440e-4f) + lo;
    /* minimax polynomial for (exp(r) - 1 - r) / r^2 (Cephes expf) */
    fsm_vf p = fsm_splat_f32(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    fsm_vi k1 = k >> 1;
    fsm_vi k2 = k - k1;
    fsm_vf s1 = (fsm_vf)((fsm_vu)(k1 + 127) << 23);
    fsm_vf s2 = (fsm_vf)((fsm_vu)(k2 + 127) << 23);
    fsm_vf y = (p * s1) * s2;                        /* overflows to inf by itself */
    y = fsm_sel_f32(hi < -103.97820281982422f, fsm_splat_f32(0.0f), y);
    y = fsm_sel_f32(hi != hi, hi, y);                /* NaN in, NaN out */
    return y;
}

FSM_INLINE fsm_vf fsm_vexp_f32(fsm_vf x) { return fsm_vexp_core_f32(x, fsm_splat_f32(-0.0f)); }

/* exp(a - b) without the rounding error of the subtraction */
FSM_INLINE fsm_vf fsm_vexp_diff_f32(fsm_vf a, fsm_vf b)
{
    fsm_vf hi = a - b;
    fsm_vf bb = hi - a;
    fsm_vf lo = (a - (hi - bb)) + (-b - bb);
    lo = fsm_sel_f32((hi - hi) == 0.0f, lo, fsm_splat_f32(0.0f));  /* inf/NaN hi */
    return fsm_vexp_core_f32(hi, lo);
}

/* NaN-propagating max */
FSM_INLINE fsm_vf fsm_vmax_f32(fsm_vf acc, fsm_vf v)
{
    return fsm_sel_f32((v > acc) | (v != v), v, acc);
}
FSM_INLINE float fsm_hmax_f32(fsm_vf v)
{
    float m = v[0];
    for (int k = 1; k < 16; k++) m = ((v[k] > m) | (v[k] != v[k])) ? v[k] : m;
    return m;
}

/* exp(a - b) for finite b and a <= b, a = -inf (gives 0) or a NaN (gives
 * NaN): the softmax case, where the argument is never positive.  Same
 * reduction, TwoSum-corrected argument and polynomial as fsm_vexp_diff_f32
 * (so the same results), fewer operations: no clamp (results below -103.98
 * are masked to 0 at the end, whatever the polynomial gave), and 2^k applied as
 * 2^(k+64) * 2^-64, both factors normal, so subnormal results are still
 * rounded once.  A NaN a gives NaN or 0: callers deal with NaN rows first. */
FSM_INLINE fsm_vf fsm_vexp_le_f32(fsm_vf a, fsm_vf b)
{
    const fsm_vf magic = fsm_splat_f32(12582912.0f);  /* 1.5 * 2^23 */
    fsm_vf hi = a - b;
    fsm_vf bb = hi - a;
    fsm_vf lo = (a - (hi - bb)) + (-b - bb);
    fsm_vf xc = hi;   /* no clamp: below -103.98 the result is masked to 0 below */
    fsm_vf t = xc * 1.44269504088896341f + magic;
    fsm_vf kf = t - magic;
    fsm_vf r = xc - kf * 0.693359375f;
    r = (r - kf * -2.12194440e-4f) + lo;
    fsm_vf p = fsm_splat_f32(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    /* bits of 2^(k+64): k sits in the low bits of t */
    fsm_vf s = (fsm_vf)(((fsm_vu)t << 23) + (uint32_t)((191u - 0x4b400000u) << 23));
    fsm_vf y = (p * s) * 5.42101086242752217e-20f;  /* 2^-64 */
    /* 0 below -103.978 (and for a = -inf): the mask is the sign of hi + 103.978
     * (an arithmetic shift; GCC scalarizes some vector compares) */
    return (fsm_vf)((fsm_vi)y & ~((fsm_vi)(hi + 103.97820281982422f) >> 31));
}

/* max ignoring NaN (keeps acc when v is NaN): one vmaxps */
FSM_INLINE fsm_vf fsm_vmax_nonan_f32(fsm_vf acc, fsm_vf v)
{
    return fsm_sel_f32(v > acc, v, acc);
}
/* max of non-NaN lanes (a NaN gives either operand: callers detect NaNs
 * separately).  v where acc - v < 0, from the sign bit: compare-free, since
 * GCC scalarizes 64-byte vector compares when building for AVX2 (2.8x faster
 * block_max there; the same speed with AVX-512). */
FSM_INLINE fsm_vf fsm_vmax_fast_f32(fsm_vf acc, fsm_vf v)
{
    return fsm_sel_f32((fsm_vi)(acc - v) >> 31, v, acc);
}
/* max of all lanes ignoring NaN, broadcast to every lane (fixed butterfly) */
FSM_INLINE fsm_vf fsm_allmax_nonan_f32(fsm_vf v)
{
    v = fsm_vmax_nonan_f32(v, __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));
    v = fsm_vmax_nonan_f32(v, __builtin_shufflevector(v, v, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11));
    v = fsm_vmax_nonan_f32(v, __builtin_shufflevector(v, v, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13));
    v = fsm_vmax_nonan_f32(v, __builtin_shufflevector(v, v, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14));
    return v;
}
/* sum of all lanes in a fixed pairwise order, broadcast to every lane */
FSM_INLINE fsm_vf fsm_allsum_f32(fsm_vf v)
{
    v = v + __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
    v = v + __builtin_shufflevector(v, v, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11);
    v = v + __builtin_shufflevector(v, v, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
    v = v + __builtin_shufflevector(v, v, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
    return v;
}
/* lane index vector */
FSM_INLINE fsm_vi fsm_iota_f32(void)
{
    return (fsm_vi){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
}

/* float32 sums are accumulated in double */
typedef struct { fsm_vd lo, hi; } fsm_dacc_f32;
FSM_INLINE void fsm_dacc_zero_f32(fsm_dacc_f32 *a) { a->lo = (fsm_vd){0}; a->hi = (fsm_vd){0}; }
typedef double fsm_vd16 __attribute__((vector_size(128)));
FSM_INLINE void fsm_dacc_add_f32(fsm_dacc_f32 *a, fsm_vf v)
{
    /* one 16-wide conversion: vcvtps2pd zmm <- ymm twice on AVX-512 (the
     * shuffle-to-halves form was lowered through xmm pieces) */
    fsm_vd16 d = __builtin_convertvector(v, fsm_vd16);
    a->lo += __builtin_shufflevector(d, d, 0, 1, 2, 3, 4, 5, 6, 7);
    a->hi += __builtin_shufflevector(d, d, 8, 9, 10, 11, 12, 13, 14, 15);
}
FSM_INLINE double fsm_hsum_vd(fsm_vd v)
{
    /* fixed pairwise order */
    return ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
}
FSM_INLINE double fsm_dacc_sum_f32(const fsm_dacc_f32 *a) { return fsm_hsum_vd(a->lo + a->hi); }

/* (T)(((double)x - a) - b) for each lane: one rounding to float32 */
FSM_INLINE fsm_vf fsm_sub2_double_f32(fsm_vf x, double a, double b)
{
    fsm_vf8 l = __builtin_shufflevector(x, x, 0, 1, 2, 3, 4, 5, 6, 7);
    fsm_vf8 h = __builtin_shufflevector(x, x, 8, 9, 10, 11, 12, 13, 14, 15);
    fsm_vd dl = (__builtin_convertvector(l, fsm_vd) - a) - b;
    fsm_vd dh = (__builtin_convertvector(h, fsm_vd) - a) - b;
    fsm_vf8 rl = __builtin_convertvector(dl, fsm_vf8);
    fsm_vf8 rh = __builtin_convertvector(dh, fsm_vf8);
    return __builtin_shufflevector(rl, rh, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}

/* per lane (float)(((double)x - (double)m) - l[k]): one rounding to float32 */
FSM_INLINE fsm_vf fsm_sub2v_double_f32(fsm_vf x, fsm_vf m, const double *l)
{
    fsm_vd16 dx = __builtin_convertvector(x, fsm_vd16), dm = __builtin_convertvector(m, fsm_vd16);
    fsm_vd lo, hi;
    memcpy(&lo, l, sizeof lo);
    memcpy(&hi, l + 8, sizeof hi);
    fsm_vd rl = (__builtin_shufflevector(dx, dx, 0, 1, 2, 3, 4, 5, 6, 7) -
                 __builtin_shufflevector(dm, dm, 0, 1, 2, 3, 4, 5, 6, 7)) - lo;
    fsm_vd rh = (__builtin_shufflevector(dx, dx, 8, 9, 10, 11, 12, 13, 14, 15) -
                 __builtin_shufflevector(dm, dm, 8, 9, 10, 11, 12, 13, 14, 15)) - hi;
    fsm_vf8 fl = __builtin_convertvector(rl, fsm_vf8), fh = __builtin_convertvector(rh, fsm_vf8);
    return __builtin_shufflevector(fl, fh, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}
/* l[0:16] = a */
FSM_INLINE void fsm_store_dsplat_f32(double *l, double a)
{
    fsm_vd v = (fsm_vd){0} + a;
    memcpy(l, &v, sizeof v);
    memcpy(l + 8, &v, sizeof v);
}

/* ---------------------------------------------------------------- float64 */

FSM_INLINE fsm_vd fsm_splat_f64(double a) { return (fsm_vd){0} - 0.0 + a; }
FSM_INLINE fsm_vd fsm_sel_f64(fsm_vl m, fsm_vd a, fsm_vd b)
{
    return (fsm_vd)(((fsm_vl)a & m) | ((fsm_vl)b & ~m));
}
FSM_INLINE fsm_vd fsm_loadu_f64(const double *p)
{
    fsm_vd v;
    memcpy(&v, p, sizeof v);
    return v;
}
/* the first n < 8 elements of p, the other lanes set to pad */
FSM_INLINE fsm_vd fsm_load_tail_f64(const double *p, ptrdiff_t n, double pad)
{
    double buf[8];
    fsm_vd v = fsm_splat_f64(pad);
    memcpy(buf, &v, sizeof v);
    memcpy(buf, p, (size_t)n * sizeof(double));
    memcpy(&v, buf, sizeof v);
    return v;
}
FSM_INLINE void fsm_storeu_f64(double *p, fsm_vd v) { memcpy(p, &v, sizeof v); }
FSM_INLINE void fsm_store_tail_f64(double *p, fsm_vd v, ptrdiff_t n)
{
    double buf[8];
    memcpy(buf, &v, sizeof v);
    memcpy(p, buf, (size_t)n * sizeof(double));
}

/* Taylor polynomial of degree 13 on |r| <= ln2/2 (truncation < 5e-18) */
FSM_INLINE fsm_vd fsm_vexp_core_f64(fsm_vd hi, fsm_vd lo)
{
    const fsm_vd magic = fsm_splat_f64(6755399441055744.0);  /* 1.5 * 2^52 */
    fsm_vd xc = fsm_sel_f64(hi > 710.0, fsm_splat_f64(710.0), hi);
    xc = fsm_sel_f64(xc < -746.0, fsm_splat_f64(-746.0), xc);
    fsm_vd t = xc * 1.4426950408889634074 + magic;
    fsm_vl k = (fsm_vl)((fsm_vul)t - (fsm_vul)magic);
    fsm_vd kf = t - magic;
    fsm_vd r = xc - kf * 6.93147180369123816490e-01;  /* fdlibm ln2 split */
    r = (r - kf * 1.90821492927058770002e-10) + lo;
    fsm_vd p = fsm_splat_f64(1.0 / 6227020800.0);
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * (r * r) + r + 1.0;
    /* halve k by the same rounding trick: AVX2 has no 64-bit arithmetic shift */
    fsm_vd t1 = kf * 0.5 + magic;
    fsm_vl k1 = (fsm_vl)((fsm_vul)t1 - (fsm_vul)magic);
    fsm_vl k2 = k - k1;
    fsm_vd s1 = (fsm_vd)((fsm_vul)(k1 + 1023) << 52);
    fsm_vd s2 = (fsm_vd)((fsm_vul)(k2 + 1023) << 52);
    fsm_vd y = (p * s1) * s2;
    y = fsm_sel_f64(hi < -745.1332191019412, fsm_splat_f64(0.0), y);
    y = fsm_sel_f64(hi != hi, hi, y);
    return y;
}

FSM_INLINE fsm_vd fsm_vexp_f64(fsm_vd x) { return fsm_vexp_core_f64(x, fsm_splat_f64(-0.0)); }

FSM_INLINE fsm_vd fsm_vexp_diff_f64(fsm_vd a, fsm_vd b)
{
    fsm_vd hi = a - b;
    fsm_vd bb = hi - a;
    fsm_vd lo = (a - (hi - bb)) + (-b - bb);
    lo = fsm_sel_f64((hi - hi) == 0.0, lo, fsm_splat_f64(0.0));
    return fsm_vexp_core_f64(hi, lo);
}

FSM_INLINE fsm_vd fsm_vmax_f64(fsm_vd acc, fsm_vd v)
{
    return fsm_sel_f64((v > acc) | (v != v), v, acc);
}
FSM_INLINE double fsm_hmax_f64(fsm_vd v)
{
    double m = v[0];
    for (int k = 1; k < 8; k++) m = ((v[k] > m) | (v[k] != v[k])) ? v[k] : m;
    return m;
}

/* exp(a - b) for finite b and a <= b, -inf or NaN: see fsm_vexp_le_f32 */
FSM_INLINE fsm_vd fsm_vexp_le_f64(fsm_vd a, fsm_vd b)
{
    const fsm_vd magic = fsm_splat_f64(6755399441055744.0);  /* 1.5 * 2^52 */
    fsm_vd hi = a - b;
    fsm_vd bb = hi - a;
    fsm_vd lo = (a - (hi - bb)) + (-b - bb);
    fsm_vd xc = hi;   /* no clamp: see fsm_vexp_le_f32 */
    fsm_vd t = xc * 1.4426950408889634074 + magic;
    fsm_vd kf = t - magic;
    fsm_vd r = xc - kf * 6.93147180369123816490e-01;
    r = (r - kf * 1.90821492927058770002e-10) + lo;
    fsm_vd p = fsm_splat_f64(1.0 / 6227020800.0);
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * (r * r) + r + 1.0;
    fsm_vd s = (fsm_vd)(((fsm_vul)t << 52) + (uint64_t)((1087ull - 0x4338000000000000ull) << 52));
    fsm_vd y = (p * s) * 5.42101086242752217e-20;  /* 2^-64 */
    return (fsm_vd)((fsm_vl)y & ~((fsm_vl)(hi + 745.1332191019412) >> 63));
}

/* log1p(s) for finite s >= 0 (fdlibm's log kernel, error < 1 ulp, plus the
 * log1p correction (s - (u - 1)) / u for the rounding of u = 1 + s).  Integer
 * work on the bits only: no compares, no int64 -> double conversion. */
FSM_INLINE fsm_vd fsm_vlog1p_f64(fsm_vd s)
{
    fsm_vd u = s + 1.0;
    fsm_vd c = (s - (u - 1.0)) / u;
    /* u = 2^k * m with m in [sqrt(2)/2, sqrt(2)) */
    fsm_vul hx = (fsm_vul)u + (0x3ff0000000000000ull - 0x3fe6a09e00000000ull);
    fsm_vd kd = (fsm_vd)((hx >> 52) + 0x4330000000000000ull) - (4503599627370496.0 + 1023.0);
    fsm_vd m = (fsm_vd)((hx & 0x000fffffffffffffull) + 0x3fe6a09e00000000ull);
    fsm_vd f = m - 1.0;
    fsm_vd hfsq = 0.5 * f * f;
    fsm_vd q = f / (2.0 + f);
    fsm_vd z = q * q, w = z * z;
    fsm_vd t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01 + w * 1.531383769920937332e-01));
    fsm_vd t2 = z * (6.666666666666735130e-01 + w * (2.857142874366239149e-01 +
                     w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01)));
    fsm_vd R = t2 + t1;
    return kd * 6.93147180369123816490e-01 -
           ((hfsq - (q * (hfsq + R) + (kd * 1.90821492927058770002e-10 + c))) - f);
}

FSM_INLINE fsm_vd fsm_vmax_nonan_f64(fsm_vd acc, fsm_vd v)
{
    return fsm_sel_f64(v > acc, v, acc);
}
FSM_INLINE fsm_vd fsm_vmax_fast_f64(fsm_vd acc, fsm_vd v)
{
    return fsm_sel_f64((fsm_vl)(acc - v) >> 63, v, acc);
}
FSM_INLINE fsm_vd fsm_allmax_nonan_f64(fsm_vd v)
{
    v = fsm_vmax_nonan_f64(v, __builtin_shufflevector(v, v, 4, 5, 6, 7, 0, 1, 2, 3));
    v = fsm_vmax_nonan_f64(v, __builtin_shufflevector(v, v, 2, 3, 0, 1, 6, 7, 4, 5));
    v = fsm_vmax_nonan_f64(v, __builtin_shufflevector(v, v, 1, 0, 3, 2, 5, 4, 7, 6));
    return v;
}
FSM_INLINE fsm_vd fsm_allsum_f64(fsm_vd v)
{
    v = v + __builtin_shufflevector(v, v, 4, 5, 6, 7, 0, 1, 2, 3);
    v = v + __builtin_shufflevector(v, v, 2, 3, 0, 1, 6, 7, 4, 5);
    v = v + __builtin_shufflevector(v, v, 1, 0, 3, 2, 5, 4, 7, 6);
    return v;
}
FSM_INLINE fsm_vl fsm_iota_f64(void) { return (fsm_vl){0, 1, 2, 3, 4, 5, 6, 7}; }

typedef struct { fsm_vd v; } fsm_dacc_f64;
FSM_INLINE void fsm_dacc_zero_f64(fsm_dacc_f64 *a) { a->v = (fsm_vd){0}; }
FSM_INLINE void fsm_dacc_add_f64(fsm_dacc_f64 *a, fsm_vd v) { a->v += v; }
FSM_INLINE double fsm_dacc_sum_f64(const fsm_dacc_f64 *a) { return fsm_hsum_vd(a->v); }

FSM_INLINE fsm_vd fsm_sub2_double_f64(fsm_vd x, double a, double b) { return (x - a) - b; }
FSM_INLINE fsm_vd fsm_sub2v_double_f64(fsm_vd x, fsm_vd m, const double *l)
{
    return (x - m) - fsm_loadu_f64(l);
}
FSM_INLINE void fsm_store_dsplat_f64(double *l, double a) { fsm_storeu_f64(l, fsm_splat_f64(a)); }

#endif /* FSM_SIMD_H */
