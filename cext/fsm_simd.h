/*
 * fsm_simd.h -- portable SIMD primitives on GCC/Clang vector extensions.
 *
 * Vectors are FSM_W bytes, the native width of the instruction set the
 * including translation unit is compiled for: 64 (AVX-512: 16 floats or 8
 * doubles), 32 (AVX2) or 16 (SSE2 / NEON).  The kernels are compiled once per
 * ISA at its width (fsm_rowops_v4.c, _v3.c, _v1.c) and fsm_rowops.c picks one
 * set when the module is loaded.  (Wider-than-native vectors are not an
 * option: GCC keeps them in memory and scalarizes their compares and
 * shuffles, which made the AVX2 build of the 64-byte kernels ~3x slower.)
 * Explicit vectors instead of auto-vectorization: GCC will not vectorize the
 * exp selects or NaN-propagating max reductions unless allowed to ignore IEEE
 * semantics (the fast-math flags), which we refuse: they break NaN/inf and
 * flush denormals process-wide.
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

/* Forced inlining: each helper is compiled inside its caller, for the caller's
 * ISA (an out-of-line copy would pass vectors by a different ABI). */
#define FSM_INLINE static inline __attribute__((always_inline))

#ifndef FSM_W
#error "FSM_W (vector bytes: 64, 32 or 16) must be defined by the includer"
#endif
#if FSM_W != 64 && FSM_W != 32 && FSM_W != 16
#error "FSM_W must be 64, 32 or 16"
#endif

typedef float fsm_vf __attribute__((vector_size(FSM_W)));
typedef float fsm_vfh __attribute__((vector_size(FSM_W / 2)));    /* half a vector */
typedef int32_t fsm_vi __attribute__((vector_size(FSM_W)));
typedef uint32_t fsm_vu __attribute__((vector_size(FSM_W)));
typedef double fsm_vd __attribute__((vector_size(FSM_W)));
typedef double fsm_vd2 __attribute__((vector_size(2 * FSM_W)));  /* LANES_f32 doubles */
typedef int64_t fsm_vl __attribute__((vector_size(FSM_W)));
typedef uint64_t fsm_vul __attribute__((vector_size(FSM_W)));

#define FSM_LANES_f32 (FSM_W / 4)
#define FSM_LANES_f64 (FSM_W / 8)

/* Lane permutations of the butterflies: swap halves, quarters, ... */
#if FSM_W == 64
#define FSM_SWAP16_8 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7
#define FSM_SWAP16_4 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11
#define FSM_SWAP16_2 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13
#define FSM_SWAP16_1 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14
#endif
#if FSM_W >= 32
#define FSM_SWAP8_4 4, 5, 6, 7, 0, 1, 2, 3
#define FSM_SWAP8_2 2, 3, 0, 1, 6, 7, 4, 5
#define FSM_SWAP8_1 1, 0, 3, 2, 5, 4, 7, 6
#endif
#define FSM_SWAP4_2 2, 3, 0, 1
#define FSM_SWAP4_1 1, 0, 3, 2
#define FSM_SWAP2_1 1, 0

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
/* the first n <= LANES elements of p, the other lanes set to pad */
FSM_INLINE fsm_vf fsm_load_tail_f32(const float *p, ptrdiff_t n, float pad)
{
    float buf[FSM_LANES_f32];
    fsm_vf v = fsm_splat_f32(pad);
    memcpy(buf, &v, sizeof v);
    memcpy(buf, p, (size_t)n * sizeof(float));
    memcpy(&v, buf, sizeof v);
    return v;
}
FSM_INLINE void fsm_storeu_f32(float *p, fsm_vf v) { memcpy(p, &v, sizeof v); }
FSM_INLINE void fsm_store_tail_f32(float *p, fsm_vf v, ptrdiff_t n)
{
    float buf[FSM_LANES_f32];
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
    for (int k = 1; k < FSM_LANES_f32; k++) m = ((v[k] > m) | (v[k] != v[k])) ? v[k] : m;
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
#if FSM_W == 64
    v = fsm_vmax_nonan_f32(v, __builtin_shufflevector(v, v, FSM_SWAP16_8));
    v = fsm_vmax_nonan_f32(v, __builtin_shufflevector(v, v, FSM_SWAP16_4));
    v = fsm_vmax_nonan_f32(v, __builtin_shufflevector(v, v, FSM_SWAP16_2));
    v = fsm_vmax_nonan_f32(v, __builtin_shufflevector(v, v, FSM_SWAP16_1));
#elif FSM_W == 32
    v = fsm_vmax_nonan_f32(v, __builtin_shufflevector(v, v, FSM_SWAP8_4));
    v = fsm_vmax_nonan_f32(v, __builtin_shufflevector(v, v, FSM_SWAP8_2));
    v = fsm_vmax_nonan_f32(v, __builtin_shufflevector(v, v, FSM_SWAP8_1));
#else
    v = fsm_vmax_nonan_f32(v, __builtin_shufflevector(v, v, FSM_SWAP4_2));
    v = fsm_vmax_nonan_f32(v, __builtin_shufflevector(v, v, FSM_SWAP4_1));
#endif
    return v;
}
/* sum of all lanes in a fixed pairwise order, broadcast to every lane */
FSM_INLINE fsm_vf fsm_allsum_f32(fsm_vf v)
{
#if FSM_W == 64
    v = v + __builtin_shufflevector(v, v, FSM_SWAP16_8);
    v = v + __builtin_shufflevector(v, v, FSM_SWAP16_4);
    v = v + __builtin_shufflevector(v, v, FSM_SWAP16_2);
    v = v + __builtin_shufflevector(v, v, FSM_SWAP16_1);
#elif FSM_W == 32
    v = v + __builtin_shufflevector(v, v, FSM_SWAP8_4);
    v = v + __builtin_shufflevector(v, v, FSM_SWAP8_2);
    v = v + __builtin_shufflevector(v, v, FSM_SWAP8_1);
#else
    v = v + __builtin_shufflevector(v, v, FSM_SWAP4_2);
    v = v + __builtin_shufflevector(v, v, FSM_SWAP4_1);
#endif
    return v;
}
/* lane index vector */
FSM_INLINE fsm_vi fsm_iota_f32(void)
{
#if FSM_W == 64
    return (fsm_vi){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
#elif FSM_W == 32
    return (fsm_vi){0, 1, 2, 3, 4, 5, 6, 7};
#else
    return (fsm_vi){0, 1, 2, 3};
#endif
}

/* the low and high halves of a float vector (LANES_f32 / 2 lanes each) */
#if FSM_W == 64
#define FSM_LO_f32(v) __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7)
#define FSM_HI_f32(v) __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15)
#define FSM_JOIN_f32(a, b) __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
#define FSM_LO_d2(v) __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7)
#define FSM_HI_d2(v) __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15)
#elif FSM_W == 32
#define FSM_LO_f32(v) __builtin_shufflevector(v, v, 0, 1, 2, 3)
#define FSM_HI_f32(v) __builtin_shufflevector(v, v, 4, 5, 6, 7)
#define FSM_JOIN_f32(a, b) __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7)
#define FSM_LO_d2(v) __builtin_shufflevector(v, v, 0, 1, 2, 3)
#define FSM_HI_d2(v) __builtin_shufflevector(v, v, 4, 5, 6, 7)
#else
#define FSM_LO_f32(v) __builtin_shufflevector(v, v, 0, 1)
#define FSM_HI_f32(v) __builtin_shufflevector(v, v, 2, 3)
#define FSM_JOIN_f32(a, b) __builtin_shufflevector(a, b, 0, 1, 2, 3)
#define FSM_LO_d2(v) __builtin_shufflevector(v, v, 0, 1)
#define FSM_HI_d2(v) __builtin_shufflevector(v, v, 2, 3)
#endif

/* float32 sums are accumulated in double: two double vectors per float one */
typedef struct { fsm_vd lo, hi; } fsm_dacc_f32;
FSM_INLINE void fsm_dacc_zero_f32(fsm_dacc_f32 *a) { a->lo = (fsm_vd){0}; a->hi = (fsm_vd){0}; }
FSM_INLINE void fsm_dacc_add_f32(fsm_dacc_f32 *a, fsm_vf v)
{
    /* one double-width conversion: vcvtps2pd zmm <- ymm twice on AVX-512 (the
     * shuffle-to-halves form was lowered through xmm pieces) */
    fsm_vd2 d = __builtin_convertvector(v, fsm_vd2);
    a->lo += FSM_LO_d2(d);
    a->hi += FSM_HI_d2(d);
}
FSM_INLINE double fsm_hsum_vd(fsm_vd v)
{
    /* fixed pairwise order */
#if FSM_W == 64
    return ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
#elif FSM_W == 32
    return (v[0] + v[2]) + (v[1] + v[3]);
#else
    return v[0] + v[1];
#endif
}
FSM_INLINE double fsm_dacc_sum_f32(const fsm_dacc_f32 *a) { return fsm_hsum_vd(a->lo + a->hi); }

/* (T)(((double)x - a) - b) for each lane: one rounding to float32 */
FSM_INLINE fsm_vf fsm_sub2_double_f32(fsm_vf x, double a, double b)
{
    fsm_vd2 d = __builtin_convertvector(x, fsm_vd2);
    fsm_vd dl = (FSM_LO_d2(d) - a) - b;
    fsm_vd dh = (FSM_HI_d2(d) - a) - b;
    fsm_vfh rl = __builtin_convertvector(dl, fsm_vfh);
    fsm_vfh rh = __builtin_convertvector(dh, fsm_vfh);
    return FSM_JOIN_f32(rl, rh);
}

/* per lane (float)(((double)x - (double)m) - l[k]): one rounding to float32 */
FSM_INLINE fsm_vf fsm_sub2v_double_f32(fsm_vf x, fsm_vf m, const double *l)
{
    fsm_vd2 dx = __builtin_convertvector(x, fsm_vd2), dm = __builtin_convertvector(m, fsm_vd2);
    fsm_vd lo, hi;
    memcpy(&lo, l, sizeof lo);
    memcpy(&hi, l + FSM_LANES_f64, sizeof hi);
    fsm_vd rl = (FSM_LO_d2(dx) - FSM_LO_d2(dm)) - lo;
    fsm_vd rh = (FSM_HI_d2(dx) - FSM_HI_d2(dm)) - hi;
    fsm_vfh fl = __builtin_convertvector(rl, fsm_vfh), fh = __builtin_convertvector(rh, fsm_vfh);
    return FSM_JOIN_f32(fl, fh);
}

/* log(sigmoid(x)) = -(log1p(exp(-|x|)) - min(x, 0)), in double, rounded once */
FSM_INLINE fsm_vd fsm_vlog1p_f64(fsm_vd s);
FSM_INLINE fsm_vf fsm_vlog_sigmoid_f32(fsm_vf x, fsm_vf e)
{
    fsm_vd2 dx = __builtin_convertvector(x, fsm_vd2), de = __builtin_convertvector(e, fsm_vd2);
    fsm_vd xl = FSM_LO_d2(dx), xh = FSM_HI_d2(dx);
    fsm_vd ml = (fsm_vd)((fsm_vl)xl & ((fsm_vl)xl >> 63)), mh = (fsm_vd)((fsm_vl)xh & ((fsm_vl)xh >> 63));
    fsm_vd rl = -(fsm_vlog1p_f64(FSM_LO_d2(de)) - ml);
    fsm_vd rh = -(fsm_vlog1p_f64(FSM_HI_d2(de)) - mh);
    fsm_vfh fl = __builtin_convertvector(rl, fsm_vfh), fh = __builtin_convertvector(rh, fsm_vfh);
    return FSM_JOIN_f32(fl, fh);
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
/* the first n <= LANES elements of p, the other lanes set to pad */
FSM_INLINE fsm_vd fsm_load_tail_f64(const double *p, ptrdiff_t n, double pad)
{
    double buf[FSM_LANES_f64];
    fsm_vd v = fsm_splat_f64(pad);
    memcpy(buf, &v, sizeof v);
    memcpy(buf, p, (size_t)n * sizeof(double));
    memcpy(&v, buf, sizeof v);
    return v;
}
FSM_INLINE void fsm_storeu_f64(double *p, fsm_vd v) { memcpy(p, &v, sizeof v); }
FSM_INLINE void fsm_store_tail_f64(double *p, fsm_vd v, ptrdiff_t n)
{
    double buf[FSM_LANES_f64];
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
    for (int k = 1; k < FSM_LANES_f64; k++) m = ((v[k] > m) | (v[k] != v[k])) ? v[k] : m;
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
#if FSM_W == 64
    v = fsm_vmax_nonan_f64(v, __builtin_shufflevector(v, v, FSM_SWAP8_4));
    v = fsm_vmax_nonan_f64(v, __builtin_shufflevector(v, v, FSM_SWAP8_2));
    v = fsm_vmax_nonan_f64(v, __builtin_shufflevector(v, v, FSM_SWAP8_1));
#elif FSM_W == 32
    v = fsm_vmax_nonan_f64(v, __builtin_shufflevector(v, v, FSM_SWAP4_2));
    v = fsm_vmax_nonan_f64(v, __builtin_shufflevector(v, v, FSM_SWAP4_1));
#else
    v = fsm_vmax_nonan_f64(v, __builtin_shufflevector(v, v, FSM_SWAP2_1));
#endif
    return v;
}
FSM_INLINE fsm_vd fsm_allsum_f64(fsm_vd v)
{
#if FSM_W == 64
    v = v + __builtin_shufflevector(v, v, FSM_SWAP8_4);
    v = v + __builtin_shufflevector(v, v, FSM_SWAP8_2);
    v = v + __builtin_shufflevector(v, v, FSM_SWAP8_1);
#elif FSM_W == 32
    v = v + __builtin_shufflevector(v, v, FSM_SWAP4_2);
    v = v + __builtin_shufflevector(v, v, FSM_SWAP4_1);
#else
    v = v + __builtin_shufflevector(v, v, FSM_SWAP2_1);
#endif
    return v;
}
FSM_INLINE fsm_vl fsm_iota_f64(void)
{
#if FSM_W == 64
    return (fsm_vl){0, 1, 2, 3, 4, 5, 6, 7};
#elif FSM_W == 32
    return (fsm_vl){0, 1, 2, 3};
#else
    return (fsm_vl){0, 1};
#endif
}

typedef struct { fsm_vd v; } fsm_dacc_f64;
FSM_INLINE void fsm_dacc_zero_f64(fsm_dacc_f64 *a) { a->v = (fsm_vd){0}; }
FSM_INLINE void fsm_dacc_add_f64(fsm_dacc_f64 *a, fsm_vd v) { a->v += v; }
FSM_INLINE double fsm_dacc_sum_f64(const fsm_dacc_f64 *a) { return fsm_hsum_vd(a->v); }

FSM_INLINE fsm_vd fsm_sub2_double_f64(fsm_vd x, double a, double b) { return (x - a) - b; }
FSM_INLINE fsm_vd fsm_sub2v_double_f64(fsm_vd x, fsm_vd m, const double *l)
{
    return (x - m) - fsm_loadu_f64(l);
}

FSM_INLINE fsm_vd fsm_vlog_sigmoid_f64(fsm_vd x, fsm_vd e)
{
    fsm_vd m = (fsm_vd)((fsm_vl)x & ((fsm_vl)x >> 63));   /* min(x, 0): x if negative */
    return -(fsm_vlog1p_f64(e) - m);
}

#endif /* FSM_SIMD_H */
