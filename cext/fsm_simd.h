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

FSM_INLINE fsm_vf fsm_splat_f32(float a) { return (fsm_vf){0} + a; }
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
    fsm_vf v = fsm_splat_f32(pad);
    for (ptrdiff_t k = 0; k < n; k++) v[k] = p[k];
    return v;
}
FSM_INLINE void fsm_storeu_f32(float *p, fsm_vf v) { memcpy(p, &v, sizeof v); }
FSM_INLINE void fsm_store_tail_f32(float *p, fsm_vf v, ptrdiff_t n)
{
    for (ptrdiff_t k = 0; k < n; k++) p[k] = v[k];
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

/* float32 sums are accumulated in double */
typedef struct { fsm_vd lo, hi; } fsm_dacc_f32;
FSM_INLINE void fsm_dacc_zero_f32(fsm_dacc_f32 *a) { a->lo = (fsm_vd){0}; a->hi = (fsm_vd){0}; }
FSM_INLINE void fsm_dacc_add_f32(fsm_dacc_f32 *a, fsm_vf v)
{
    fsm_vf8 l = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7);
    fsm_vf8 h = __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
    a->lo += __builtin_convertvector(l, fsm_vd);
    a->hi += __builtin_convertvector(h, fsm_vd);
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

/* ---------------------------------------------------------------- float64 */

FSM_INLINE fsm_vd fsm_splat_f64(double a) { return (fsm_vd){0} + a; }
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
    fsm_vd v = fsm_splat_f64(pad);
    for (ptrdiff_t k = 0; k < n; k++) v[k] = p[k];
    return v;
}
FSM_INLINE void fsm_storeu_f64(double *p, fsm_vd v) { memcpy(p, &v, sizeof v); }
FSM_INLINE void fsm_store_tail_f64(double *p, fsm_vd v, ptrdiff_t n)
{
    for (ptrdiff_t k = 0; k < n; k++) p[k] = v[k];
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

typedef struct { fsm_vd v; } fsm_dacc_f64;
FSM_INLINE void fsm_dacc_zero_f64(fsm_dacc_f64 *a) { a->v = (fsm_vd){0}; }
FSM_INLINE void fsm_dacc_add_f64(fsm_dacc_f64 *a, fsm_vd v) { a->v += v; }
FSM_INLINE double fsm_dacc_sum_f64(const fsm_dacc_f64 *a) { return fsm_hsum_vd(a->v); }

FSM_INLINE fsm_vd fsm_sub2_double_f64(fsm_vd x, double a, double b) { return (x - a) - b; }

#endif /* FSM_SIMD_H */
