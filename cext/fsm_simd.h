/*
 * fsm_simd.h -- portable SIMD primitives on GCC/Clang vector extensions.
 *
 * Vectors are FSM_W bytes, the native width of the instruction set the
 * including translation unit is compiled for: 64 (AVX-512: 16 floats or 8
 * doubles), 32 (AVX2) or 16 (SSE2 / NEON).  The kernels are compiled once per
 * ISA at its width (fsm_isa_v4.c, _v3.c, _v1.c) and fsm_dispatch.c picks one
 * set when the module is loaded.  (Wider-than-native vectors are not an
 * option: GCC keeps them in memory and scalarizes their compares and
 * shuffles, which made the AVX2 build of the 64-byte kernels ~3x slower.)
 * Explicit vectors instead of auto-vectorization: GCC will not vectorize the
 * exp selects or NaN-propagating max reductions unless allowed to ignore IEEE
 * semantics (the fast-math flags), which we refuse: they break NaN/inf and
 * flush denormals process-wide.
 *
 * The primitives are written once, in fsm_simd_t.h, and instantiated here for
 * float32 and float64 (fsm_splat_f32, fsm_splat_f64, ...) with the per-type
 * constants of fsm_type_f32.h / fsm_type_f64.h.  What is specific to one
 * type follows: float32 sums accumulated in double, the float32 operations
 * computed in double and rounded once, the float64 log1p.
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

/* Butterflies over n lanes: STEP(v, permutation) for the permutations that
 * swap halves, quarters, ... (lane i <-> lane i ^ d, d = n/2, ..., 1). */
#define FSM_BUTTERFLY_16(STEP, v)                                                          \
    STEP(v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7)                          \
    STEP(v, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11)                          \
    STEP(v, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13)                          \
    STEP(v, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14)
#define FSM_BUTTERFLY_8(STEP, v)                                                           \
    STEP(v, 4, 5, 6, 7, 0, 1, 2, 3)                                                        \
    STEP(v, 2, 3, 0, 1, 6, 7, 4, 5)                                                        \
    STEP(v, 1, 0, 3, 2, 5, 4, 7, 6)
#define FSM_BUTTERFLY_4(STEP, v) STEP(v, 2, 3, 0, 1) STEP(v, 1, 0, 3, 2)
#define FSM_BUTTERFLY_2(STEP, v) STEP(v, 1, 0)
#define FSM_IOTA_16 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
#define FSM_IOTA_8 0, 1, 2, 3, 4, 5, 6, 7
#define FSM_IOTA_4 0, 1, 2, 3
#define FSM_IOTA_2 0, 1
/* ... for the lane counts of each type at this width */
#if FSM_W == 64
#define FSM_BUTTERFLY_f32 FSM_BUTTERFLY_16
#define FSM_BUTTERFLY_f64 FSM_BUTTERFLY_8
#define FSM_IOTA_f32 FSM_IOTA_16
#define FSM_IOTA_f64 FSM_IOTA_8
#elif FSM_W == 32
#define FSM_BUTTERFLY_f32 FSM_BUTTERFLY_8
#define FSM_BUTTERFLY_f64 FSM_BUTTERFLY_4
#define FSM_IOTA_f32 FSM_IOTA_8
#define FSM_IOTA_f64 FSM_IOTA_4
#else
#define FSM_BUTTERFLY_f32 FSM_BUTTERFLY_4
#define FSM_BUTTERFLY_f64 FSM_BUTTERFLY_2
#define FSM_IOTA_f32 FSM_IOTA_4
#define FSM_IOTA_f64 FSM_IOTA_2
#endif

/* k / 2 for the two factors of 2^k in exp: float32 shifts (arithmetic, floor);
 * float64 halves by the magic-number rounding again (to nearest), since
 * AVX2 has no 64-bit arithmetic shift. */
FSM_INLINE fsm_vi fsm_exp_half_k_f32(fsm_vi k, fsm_vf kf, fsm_vf magic)
{
    (void)kf;
    (void)magic;
    return k >> 1;
}
FSM_INLINE fsm_vl fsm_exp_half_k_f64(fsm_vl k, fsm_vd kf, fsm_vd magic)
{
    (void)k;
    fsm_vd t1 = kf * 0.5 + magic;
    return (fsm_vl)((fsm_vul)t1 - (fsm_vul)magic);
}

/* ------------------------------------------------ the generic primitives */

/* Rows of at least this many bytes write their output with non-temporal
 * stores (fsm_stream): an output that large goes to memory anyway, and a
 * plain store first reads each destination line, a quarter of the traffic
 * of a pass that reads two rows and writes one. */
#ifndef FSM_STREAM_MIN_BYTES
#define FSM_STREAM_MIN_BYTES 65536
#endif

/* Orders the non-temporal stores before what follows: later loads of the
 * row (a gradient's target element) and other threads once the call
 * returns.  Once a row of at least FSM_STREAM_MIN_BYTES, so its cost is
 * nothing. */
static inline __attribute__((always_inline)) void fsm_stream_fence(void)
{
#if defined(__x86_64__)
    __asm__ volatile("sfence" ::: "memory");
#endif
}

/* float32 rows (blocks) spanning less than this take fsm_vexp_near: the
 * rounding of x - max it skips is at most half an ulp of a number below 8,
 * 2^-22 relative (docs/semantics.md, accuracy); FSM_NEAR_RANGE in the
 * templates, fsm_halfprec.h's 16-bit rows directly */
#define FSM_NEAR_RANGE_f32 8.0f

#include "fsm_type_f32.h"
#include "fsm_simd_t.h"
#include "fsm_type_undef.h"

#include "fsm_type_f64.h"
#include "fsm_simd_t.h"
#include "fsm_type_undef.h"

/* ------------------------------------------------ float64 only */

/* sum of the lanes of a double vector in a fixed pairwise order */
FSM_INLINE double fsm_hsum_vd(fsm_vd v)
{
#if FSM_W == 64
    return ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
#elif FSM_W == 32
    return (v[0] + v[2]) + (v[1] + v[3]);
#else
    return v[0] + v[1];
#endif
}

/* fdlibm's log kernel on a normal u > 0 (others: garbage): u = 2^k * m with
 * m in [sqrt(2)/2, sqrt(2)), *kd = k - kadj (a known exponent offset; 0 folds
 * away), *f = m - 1, *hfsq = f * f / 2; returns q * (hfsq + R), so that
 * log(u) = kd ln2_hi - ((hfsq - (q * (hfsq + R) + kd ln2_lo)) - f) with ln2
 * split as below.  Integer work on the bits only: no compares, no int64 ->
 * double conversion.  Shared by fsm_vlog1p_f64 and fsm_vlog_pos_f64
 * (fsm_divergence.h), which add their own corrections. */
#define FSM_LN2_HI_f64 6.93147180369123816490e-01
#define FSM_LN2_LO_f64 1.90821492927058770002e-10
FSM_INLINE fsm_vd fsm_vlog_kernel_f64(fsm_vd u, fsm_vd kadj, fsm_vd *kd, fsm_vd *f, fsm_vd *hfsq)
{
    fsm_vul hx = (fsm_vul)u + (0x3ff0000000000000ull - 0x3fe6a09e00000000ull);
    *kd = ((fsm_vd)((hx >> 52) + 0x4330000000000000ull) - (4503599627370496.0 + 1023.0)) - kadj;
    fsm_vd m = (fsm_vd)((hx & 0x000fffffffffffffull) + 0x3fe6a09e00000000ull);
    *f = m - 1.0;
    *hfsq = 0.5 * *f * *f;
    fsm_vd q = *f / (2.0 + *f);
    fsm_vd z = q * q, w = z * z;
    fsm_vd t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01 + w * 1.531383769920937332e-01));
    fsm_vd t2 = z * (6.666666666666735130e-01 + w * (2.857142874366239149e-01 +
                     w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01)));
    fsm_vd R = t2 + t1;
    return q * (*hfsq + R);
}

/* log1p(s) for finite s >= 0 (fdlibm's log kernel, error < 1 ulp, plus the
 * log1p correction (s - (u - 1)) / u for the rounding of u = 1 + s). */
FSM_INLINE fsm_vd fsm_vlog1p_f64(fsm_vd s)
{
    fsm_vd u = s + 1.0;
    fsm_vd c = (s - (u - 1.0)) / u;
    fsm_vd kd, f, hfsq;
    fsm_vd qr = fsm_vlog_kernel_f64(u, (fsm_vd){0}, &kd, &f, &hfsq);
    return kd * FSM_LN2_HI_f64 - ((hfsq - (qr + (kd * FSM_LN2_LO_f64 + c))) - f);
}

/* ------------------------------------------------ float32: work in double */

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

/* Sums are accumulated in double: two double vectors per float one (float32),
 * one (float64). */
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
FSM_INLINE double fsm_dacc_sum_f32(const fsm_dacc_f32 *a) { return fsm_hsum_vd(a->lo + a->hi); }

typedef struct { fsm_vd v; } fsm_dacc_f64;
FSM_INLINE void fsm_dacc_zero_f64(fsm_dacc_f64 *a) { a->v = (fsm_vd){0}; }
FSM_INLINE void fsm_dacc_add_f64(fsm_dacc_f64 *a, fsm_vd v) { a->v += v; }
FSM_INLINE double fsm_dacc_sum_f64(const fsm_dacc_f64 *a) { return fsm_hsum_vd(a->v); }

/* log_softmax's (x - a) - b in the element type, a the row max (exactly a T)
 * and b = log(sum exp(x - a)) >= 0 rounded to T: two roundings, yet within
 * 2 ulp-units (2^-23 relative for float32) of the exact value, because x - a
 * <= 0 <= b makes |(x - a) - b| = |x - a| + b bound both rounding errors
 * (docs/semantics.md, accuracy).  Double arithmetic (one rounding) cost
 * four conversions per vector: half the time of a row of 100 floats. */
FSM_INLINE fsm_vf fsm_sub2_f32(fsm_vf x, double a, double b)
{
    return (x - (float)a) - (float)b;
}
FSM_INLINE fsm_vd fsm_sub2_f64(fsm_vd x, double a, double b) { return (x - a) - b; }

/* per lane (x - m) - (T)l[k], as fsm_sub2 */
FSM_INLINE fsm_vf fsm_sub2v_f32(fsm_vf x, fsm_vf m, const double *l)
{
    fsm_vd lo, hi;
    memcpy(&lo, l, sizeof lo);
    memcpy(&hi, l + FSM_LANES_f64, sizeof hi);
    fsm_vfh fl = __builtin_convertvector(lo, fsm_vfh), fh = __builtin_convertvector(hi, fsm_vfh);
    return (x - m) - FSM_JOIN_f32(fl, fh);
}
FSM_INLINE fsm_vd fsm_sub2v_f64(fsm_vd x, fsm_vd m, const double *l)
{
    return (x - m) - fsm_loadu_f64(l);
}

/* log(sigmoid(x)) = -(log1p(exp(-|x|)) - min(x, 0)) from e = exp(-|x|), in
 * double (float32: rounded once) */
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
FSM_INLINE fsm_vd fsm_vlog_sigmoid_f64(fsm_vd x, fsm_vd e)
{
    fsm_vd m = (fsm_vd)((fsm_vl)x & ((fsm_vl)x >> 63));   /* min(x, 0): x if negative */
    return -(fsm_vlog1p_f64(e) - m);
}

#endif /* FSM_SIMD_H */
