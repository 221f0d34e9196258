/*
 * fsm_simd_t.h -- the SIMD primitives of one element type, written once:
 * included by fsm_simd.h only, once per type, between fsm_type_f32.h (or
 * fsm_type_f64.h) and fsm_type_undef.h, which bind FSM_T, FSM_VT, FSM_FN and
 * the type's constants.  No include guard, on purpose.
 *
 * exp method: x = k*ln2 + r with |r| <= ln2/2, exp(r) by a polynomial
 * (FSM_EXP_POLY), times 2^k.  2^k is applied as two factors so that
 * subnormal results are rounded once instead of flushed; k comes from the
 * bits of a "magic number" addition (no float->int64 converts, absent before
 * AVX-512).  exp(a - b) takes the rounding error of a - b into the reduced
 * argument (TwoSum): for float32 and |a - b| = 80 that error alone would be
 * 4e-6.
 */
#ifndef FSM_T
#error "fsm_simd_t.h is a template: fsm_simd.h includes it once per type"
#endif

/* the steps of the butterflies of fsm_allmax_nonan and fsm_allsum */
#ifndef FSM_MAX_STEP
#define FSM_MAX_STEP(v, ...) v = FSM_FN(fsm_vmax_nonan)(v, __builtin_shufflevector(v, v, __VA_ARGS__));
#define FSM_SUM_STEP(v, ...) v = v + __builtin_shufflevector(v, v, __VA_ARGS__);
#define FSM_MIN_STEP(v, ...) v = FSM_FN(fsm_vmin_fast)(v, __builtin_shufflevector(v, v, __VA_ARGS__));
#endif

/* a in every lane; (0 - 0) + a turns a -0.0 into +0.0 (as it always has) */
FSM_INLINE FSM_VT FSM_FN(fsm_splat)(FSM_T a) { return (FSM_VT){0} - (FSM_T)0 + a; }
FSM_INLINE FSM_VT FSM_FN(fsm_sel)(FSM_IVT m, FSM_VT a, FSM_VT b)
{
    return (FSM_VT)(((FSM_IVT)a & m) | ((FSM_IVT)b & ~m));
}
FSM_INLINE FSM_VT FSM_FN(fsm_loadu)(const FSM_T *p)
{
    FSM_VT v;
    memcpy(&v, p, sizeof v);
    return v;
}
/* the first n <= LANES elements of p, the other lanes set to pad */
FSM_INLINE FSM_VT FSM_FN(fsm_load_tail)(const FSM_T *p, ptrdiff_t n, FSM_T pad)
{
    FSM_T buf[FSM_LANES];
    FSM_VT v = FSM_FN(fsm_splat)(pad);
    memcpy(buf, &v, sizeof v);
    memcpy(buf, p, (size_t)n * sizeof(FSM_T));
    memcpy(&v, buf, sizeof v);
    return v;
}
FSM_INLINE void FSM_FN(fsm_storeu)(FSM_T *p, FSM_VT v) { memcpy(p, &v, sizeof v); }
/* The elements of a row of n at p before its first FSM_W-byte boundary (all n
 * when p is not aligned to its element): stored plainly, the rest of the
 * row's whole vectors can be streamed. */
FSM_INLINE ptrdiff_t FSM_FN(stream_head)(const FSM_T *p, ptrdiff_t n)
{
    if ((uintptr_t)p % sizeof(FSM_T)) return n;
    const ptrdiff_t head = (ptrdiff_t)(((FSM_W - (uintptr_t)p % FSM_W) % FSM_W) / sizeof(FSM_T));
    return head < n ? head : n;
}
/* A non-temporal store of a whole vector at p (aligned to FSM_W bytes): the
 * line is written without being read first.  Inline assembly, because the
 * intrinsics cannot be inlined into these target-less helpers; a plain store
 * off x86-64.  Callers end each row so written with fsm_stream_fence(). */
FSM_INLINE void FSM_FN(fsm_stream)(FSM_T *p, FSM_VT v)
{
#if defined(__x86_64__) && (FSM_W == 64 || FSM_W == 32)
    __asm__ volatile("vmovntps %1, %0" : "=m"(*(FSM_VT *)p) : "v"(v));
#elif defined(__x86_64__)
    __asm__ volatile("movntps %1, %0" : "=m"(*(FSM_VT *)p) : "x"(v));
#else
    memcpy(p, &v, sizeof v);
#endif
}
FSM_INLINE void FSM_FN(fsm_store_tail)(FSM_T *p, FSM_VT v, ptrdiff_t n)
{
    FSM_T buf[FSM_LANES];
    memcpy(buf, &v, sizeof v);
    memcpy(p, buf, (size_t)n * sizeof(FSM_T));
}

/* p(r) by Horner's rule, then 1 + r + r^2 p(r) */
FSM_INLINE FSM_VT FSM_FN(fsm_exp_poly)(FSM_VT r)
{
    static const FSM_T c[] = {FSM_EXP_POLY};
    FSM_VT p = FSM_FN(fsm_splat)(c[0]);
    for (size_t i = 1; i < sizeof c / sizeof c[0]; i++) p = p * r + c[i];
    return p * (r * r) + r + (FSM_T)1;
}

/* exp(hi + lo), |lo| <= ulp(hi); max error ~1 ulp (tests/test_exp_accuracy.py) */
FSM_INLINE FSM_VT FSM_FN(fsm_vexp_core)(FSM_VT hi, FSM_VT lo)
{
    const FSM_VT magic = FSM_FN(fsm_splat)(FSM_EXP_MAGIC);
    FSM_VT xc = FSM_FN(fsm_sel)(hi > FSM_EXP_CLAMP_HI, FSM_FN(fsm_splat)(FSM_EXP_CLAMP_HI), hi);
    xc = FSM_FN(fsm_sel)(xc < FSM_EXP_CLAMP_LO, FSM_FN(fsm_splat)(FSM_EXP_CLAMP_LO), xc);
    FSM_VT t = xc * FSM_LOG2E + magic;
    FSM_IVT k = (FSM_IVT)((FSM_UVT)t - (FSM_UVT)magic);
    FSM_VT kf = t - magic;
    FSM_VT r = xc - kf * FSM_LN2_HI;
    r = (r - kf * FSM_LN2_LO) + lo;
    FSM_VT p = FSM_FN(fsm_exp_poly)(r);
    FSM_IVT k1 = FSM_FN(fsm_exp_half_k)(k, kf, magic);
    FSM_IVT k2 = k - k1;
    FSM_VT s1 = (FSM_VT)((FSM_UVT)(k1 + FSM_EXP_BIAS) << FSM_MANT_BITS);
    FSM_VT s2 = (FSM_VT)((FSM_UVT)(k2 + FSM_EXP_BIAS) << FSM_MANT_BITS);
    FSM_VT y = (p * s1) * s2;                        /* overflows to inf by itself */
    y = FSM_FN(fsm_sel)(hi < -FSM_EXP_ZERO, FSM_FN(fsm_splat)(0), y);
    y = FSM_FN(fsm_sel)(hi != hi, hi, y);            /* NaN in, NaN out */
    return y;
}

FSM_INLINE FSM_VT FSM_FN(fsm_vexp)(FSM_VT x)
{
    return FSM_FN(fsm_vexp_core)(x, FSM_FN(fsm_splat)(-(FSM_T)0));
}

/* exp(a - b) without the rounding error of the subtraction */
FSM_INLINE FSM_VT FSM_FN(fsm_vexp_diff)(FSM_VT a, FSM_VT b)
{
    FSM_VT hi = a - b;
    FSM_VT bb = hi - a;
    FSM_VT lo = (a - (hi - bb)) + (-b - bb);
    lo = FSM_FN(fsm_sel)((hi - hi) == (FSM_T)0, lo, FSM_FN(fsm_splat)(0));  /* inf/NaN hi */
    return FSM_FN(fsm_vexp_core)(hi, lo);
}

/* NaN-propagating max */
FSM_INLINE FSM_VT FSM_FN(fsm_vmax)(FSM_VT acc, FSM_VT v)
{
    return FSM_FN(fsm_sel)((v > acc) | (v != v), v, acc);
}
FSM_INLINE FSM_T FSM_FN(fsm_hmax)(FSM_VT v)
{
    FSM_T m = v[0];
    for (int k = 1; k < FSM_LANES; k++) m = ((v[k] > m) | (v[k] != v[k])) ? v[k] : m;
    return m;
}

/* exp(a - b) for finite b and a <= b, a = -inf (gives 0) or a NaN (gives
 * NaN): the softmax case, where the argument is never positive.  Same
 * reduction, TwoSum-corrected argument and polynomial as fsm_vexp_diff (so
 * the same results), fewer operations: no clamp (results below -FSM_EXP_ZERO
 * are masked to 0 at the end, whatever the polynomial gave), and 2^k applied
 * as 2^(k+64) * 2^-64, both factors normal, so subnormal results are still
 * rounded once.  A NaN a gives NaN or 0: callers deal with NaN rows first. */
FSM_INLINE FSM_VT FSM_FN(fsm_vexp_le)(FSM_VT a, FSM_VT b)
{
    const FSM_VT magic = FSM_FN(fsm_splat)(FSM_EXP_MAGIC);
    FSM_VT hi = a - b;
    FSM_VT bb = hi - a;
    FSM_VT lo = (a - (hi - bb)) + (-b - bb);
    FSM_VT xc = hi;   /* no clamp: below -FSM_EXP_ZERO the result is masked to 0 below */
    FSM_VT t = xc * FSM_LOG2E + magic;
    FSM_VT kf = t - magic;
    FSM_VT r = xc - kf * FSM_LN2_HI;
    r = (r - kf * FSM_LN2_LO) + lo;
    FSM_VT p = FSM_FN(fsm_exp_poly)(r);
    /* bits of 2^(k+64): k sits in the low bits of t */
    FSM_VT s = (FSM_VT)(((FSM_UVT)t << FSM_MANT_BITS) +
                        (FSM_UT)(((FSM_UT)FSM_EXP_BIAS + 64 - FSM_EXP_MAGIC_BITS) << FSM_MANT_BITS));
    FSM_VT y = (p * s) * FSM_TWO_M64;
    /* 0 below -FSM_EXP_ZERO (and for a = -inf): the mask is the sign of
     * hi + FSM_EXP_ZERO (an arithmetic shift; GCC scalarizes some vector
     * compares) */
    return (FSM_VT)((FSM_IVT)y & ~((FSM_IVT)(hi + FSM_EXP_ZERO) >> FSM_SIGN_SHIFT));
}

/* exp(a - b) for finite a and b with b - FSM_NEAR_RANGE < a <= b (the
 * elements of a row that spans less than FSM_NEAR_RANGE, b its max): the
 * difference as rounded, without fsm_vexp_le's TwoSum correction (its error,
 * half an ulp of a number below FSM_NEAR_RANGE, is below 2^-22 for float32),
 * and no clamp, mask or split 2^k, since every result is a normal number.
 * AVX-512 applies 2^k with one vscalefps (inline assembly, as fsm_stream). */
FSM_INLINE FSM_VT FSM_FN(fsm_vexp_near)(FSM_VT a, FSM_VT b)
{
    const FSM_VT magic = FSM_FN(fsm_splat)(FSM_EXP_MAGIC);
    FSM_VT hi = a - b;
    FSM_VT t = hi * FSM_LOG2E + magic;
    FSM_VT kf = t - magic;
#if defined(__x86_64__) && (FSM_W == 64 || FSM_W == 32)
    /* one fused multiply-add with ln2 rounded to FSM_T: |k| <= 12 here, so
     * the constant's error adds at most 12 * 2e-9 to r (float32) */
    FSM_VT r = hi - kf * (FSM_T)0.693147180559945309417232121458176568;
#else
    FSM_VT r = hi - kf * FSM_LN2_HI;   /* no FMA: the product must be exact */
    r = r - kf * FSM_LN2_LO;
#endif
    FSM_VT p = FSM_FN(fsm_exp_poly)(r);
#if defined(__x86_64__) && FSM_W == 64
    FSM_VT y;
    __asm__("vscalef" FSM_ASM_SFX " %2, %1, %0" : "=v"(y) : "v"(p), "v"(kf));
    return y;
#else
    return p * (FSM_VT)(((FSM_UVT)t << FSM_MANT_BITS) +
                        (FSM_UT)(((FSM_UT)FSM_EXP_BIAS - FSM_EXP_MAGIC_BITS) << FSM_MANT_BITS));
#endif
}

/* The row kernels' exp(a - b): fsm_vexp_near where near (a constant at each
 * call site, so the choice is made at compile time), else fsm_vexp_le */
FSM_INLINE FSM_VT FSM_FN(fsm_vexp_row)(const int near, FSM_VT a, FSM_VT b)
{
    return near ? FSM_FN(fsm_vexp_near)(a, b) : FSM_FN(fsm_vexp_le)(a, b);
}

/* min of non-NaN lanes, as fsm_vmax_fast: one vminps on x86-64 (inline
 * assembly, as fsm_stream), else v where v - acc < 0 */
FSM_INLINE FSM_VT FSM_FN(fsm_vmin_fast)(FSM_VT acc, FSM_VT v)
{
#if defined(__x86_64__) && (FSM_W == 64 || FSM_W == 32)
    FSM_VT r;
    __asm__("vmin" FSM_ASM_SFX " %2, %1, %0" : "=v"(r) : "v"(acc), "v"(v));
    return r;
#elif defined(__x86_64__) && FSM_W == 16
    __asm__("min" FSM_ASM_SFX " %1, %0" : "+x"(acc) : "x"(v));
    return acc;
#else
    return FSM_FN(fsm_sel)((FSM_IVT)(v - acc) >> FSM_SIGN_SHIFT, v, acc);
#endif
}

/* max ignoring NaN (keeps acc when v is NaN): one vmaxps */
FSM_INLINE FSM_VT FSM_FN(fsm_vmax_nonan)(FSM_VT acc, FSM_VT v)
{
    return FSM_FN(fsm_sel)(v > acc, v, acc);
}
/* max of non-NaN lanes (a NaN gives either operand: callers detect NaNs
 * separately).  v where acc - v < 0, from the sign bit: compare-free, since
 * GCC scalarizes 64-byte vector compares when building for AVX2 (2.8x faster
 * block_max there; the same speed with AVX-512). */
FSM_INLINE FSM_VT FSM_FN(fsm_vmax_fast)(FSM_VT acc, FSM_VT v)
{
#if defined(__x86_64__) && (FSM_W == 64 || FSM_W == 32)
    FSM_VT r;
    __asm__("vmax" FSM_ASM_SFX " %2, %1, %0" : "=v"(r) : "v"(acc), "v"(v));
    return r;
#else
    return FSM_FN(fsm_sel)((FSM_IVT)(acc - v) >> FSM_SIGN_SHIFT, v, acc);
#endif
}
/* max of all lanes ignoring NaN, broadcast to every lane (fixed butterfly) */
FSM_INLINE FSM_VT FSM_FN(fsm_allmax_nonan)(FSM_VT v)
{
    FSM_BUTTERFLY(FSM_MAX_STEP, v)
    return v;
}
/* min of all lanes ignoring NaN, broadcast to every lane */
FSM_INLINE FSM_VT FSM_FN(fsm_allmin_nonan)(FSM_VT v)
{
    FSM_BUTTERFLY(FSM_MIN_STEP, v)
    return v;
}
/* sum of all lanes in a fixed pairwise order, broadcast to every lane */
FSM_INLINE FSM_VT FSM_FN(fsm_allsum)(FSM_VT v)
{
    FSM_BUTTERFLY(FSM_SUM_STEP, v)
    return v;
}
/* lane index vector */
FSM_INLINE FSM_IVT FSM_FN(fsm_iota)(void) { return (FSM_IVT){FSM_IOTA}; }
