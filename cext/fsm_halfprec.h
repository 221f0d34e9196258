/*
 * fsm_halfprec.h -- 16-bit storage (float16, bfloat16) for the softmax family
 * and the fused cross-entropy with class-index targets: kernel_softmax_h16,
 * kernel_log_softmax_h16, kernel_logsumexp_h16 and kernel_ce_index_h16.
 *
 * The kernels compute exactly what the float32 kernels compute on the
 * float32 values of the input, and round each result once to the storage
 * type.  Two ways, by row length:
 *   long rows (more than the float32 kernels' short-row path takes) of
 *     log_softmax, logsumexp and the cross-entropy without label smoothing:
 *     copies of the float32 row functions (the online pass's block_max and
 *     block_sumexp, the gradient and log_softmax writes) that convert each
 *     vector in registers as they load it and round each result vector as
 *     they store it -- the same operations on the same float32 values in the
 *     same order, so the same float32 results; nothing row-sized is touched;
 *   otherwise (short rows, softmax, whose long-row path keeps the row's
 *     exponentials in its output, and label smoothing, whose weighted row
 *     sum is one reduction): the block of rows of one driver chunk (~16K
 *     elements, or one row) is converted into the caller's per-thread
 *     float32 scratch block, the float32 kernel itself runs on it, and its
 *     results are rounded into the 16-bit output.
 * Either way the 16-bit input and output are each read or written once in
 * memory, and no temporary is larger than a chunk per thread.
 *
 * Conversions are integer bit operations on GCC vector extensions at every
 * ISA level (also the baseline and non-x86 targets: no F16C intrinsics to
 * guard), with the rounding of NumPy's astype:
 *   float16 -> float32: exact (subnormals scaled by 2^112 in float, exact);
 *     NaN keeps its sign and payload (NumPy does not quiet it);
 *   float32 -> float16: round to nearest even, overflow to inf, subnormal
 *     results rounded once (the float addition of 0.5, whose ulp is the
 *     smallest float16 subnormal), NaN -> NaN with the top payload bits
 *     (at least one set), as NumPy;
 *   bfloat16 -> float32: the 16 bits shifted up (exact);
 *   float32 -> bfloat16: round to nearest even (add 0x7fff + the lowest kept
 *     bit), finite values past the largest bfloat16 to inf, NaN -> the
 *     quiet NaN 0x7fc0 with its sign (never inf; ml_dtypes' choice).
 * The float32 kernels' handling of subnormals needs no FTZ/DAZ, and neither
 * do these conversions (the build never uses -ffast-math).
 *
 * Included by fsm_instances.h in its float32 block, after the float32 kernel
 * headers: the 16-bit kernels call kernel_*_f32.
 */
#ifndef FSM_HALFPREC_H
#define FSM_HALFPREC_H

#include "fsm_kernels.h"
#include "fsm_simd.h"

/* the kind argument of the 16-bit kernels */
#define FSM_HALF_F16 0
#define FSM_HALF_BF16 1

/* FSM_LANES_f32 16-bit codes */
typedef uint16_t fsm_vh __attribute__((vector_size(FSM_W / 2)));

/* the lane tricks below that reinterpret 16-bit pairs as 32-bit words */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FSM_HALF_PAIRS 1
#else
#define FSM_HALF_PAIRS 0
#endif

FSM_INLINE fsm_vu fsm_half_sel(fsm_vi m, fsm_vu a, fsm_vu b)
{
    return (a & (fsm_vu)m) | (b & ~(fsm_vu)m);
}

/* float16 codes (one per 32-bit lane) -> float32 values, exactly */
FSM_INLINE fsm_vf fsm_f16_to_f32(fsm_vu h)
{
    const fsm_vu em = h & 0x7fffu;                   /* exponent and mantissa */
    const fsm_vu sign = (h & 0x8000u) << 16;
    /* normals and subnormals: the bits shifted into place, times 2^(127-15) */
    const fsm_vf f = (fsm_vf)(em << 13) * 0x1p112f;
    const fsm_vi special = (fsm_vi)em >= 0x7c00;     /* inf or NaN */
    return (fsm_vf)(fsm_half_sel(special, (em << 13) | 0x7f800000u, (fsm_vu)f) | sign);
}

/* float32 values -> float16 codes (one per 32-bit lane), rounded to nearest even */
FSM_INLINE fsm_vu fsm_f32_to_f16(fsm_vf x)
{
    const fsm_vu u = (fsm_vu)x;
    const fsm_vu sign = (u >> 16) & 0x8000u;
    const fsm_vu a = u & 0x7fffffffu;
    /* normal results: rebias (-112 << 23), add half an ulp minus 1 and the
     * lowest kept bit (ties to even), drop 13 bits; rounds up to inf by itself */
    const fsm_vu norm = (a + (0xc8000fffu + ((a >> 13) & 1u))) >> 13;
    /* subnormal results (|x| < 2^-14): the float addition rounds */
    const fsm_vu sub = (fsm_vu)((fsm_vf)a + 0.5f) - 0x3f000000u;
    const fsm_vu pay = (a >> 13) & 0x3ffu;
    const fsm_vu nan = 0x7c00u | pay | ((fsm_vu)(pay == 0) & 1u);
    fsm_vu o = fsm_half_sel((fsm_vi)a < 0x38800000, sub, norm);
    o = fsm_half_sel((fsm_vi)a >= 0x47800000, (fsm_vu){0} + 0x7c00u, o);
    o = fsm_half_sel((fsm_vi)a > 0x7f800000, nan, o);
    return o | sign;
}

FSM_INLINE fsm_vf fsm_bf16_to_f32(fsm_vu h) { return (fsm_vf)(h << 16); }

/* float32 values -> bfloat16 codes (one per 32-bit lane), rounded to nearest even */
FSM_INLINE fsm_vu fsm_f32_to_bf16(fsm_vf x)
{
    const fsm_vu u = (fsm_vu)x;
    const fsm_vu r = (u + (0x7fffu + ((u >> 16) & 1u))) >> 16;
    const fsm_vu nan = ((u >> 16) & 0x8000u) | 0x7fc0u;
    return fsm_half_sel((fsm_vi)(u & 0x7fffffffu) > 0x7f800000, nan, r);
}

FSM_INLINE fsm_vu fsm_half_loadu(const uint16_t *p)
{
    fsm_vh h;
    memcpy(&h, p, sizeof h);
    return __builtin_convertvector(h, fsm_vu);
}
FSM_INLINE void fsm_half_storeu(uint16_t *p, fsm_vu v)
{
    fsm_vh h = __builtin_convertvector(v, fsm_vh);
    memcpy(p, &h, sizeof h);
}

/* dst[0:n] = the float32 values of the 16-bit codes src[0:n] */
FSM_INLINE void fsm_half_to_f32(int kind, const uint16_t *src, float *dst, ptrdiff_t n)
{
    ptrdiff_t j = 0;
    if (kind == FSM_HALF_BF16)
        for (; j + FSM_LANES_f32 <= n; j += FSM_LANES_f32)
            fsm_storeu_f32(dst + j, fsm_bf16_to_f32(fsm_half_loadu(src + j)));
    else
        for (; j + FSM_LANES_f32 <= n; j += FSM_LANES_f32)
            fsm_storeu_f32(dst + j, fsm_f16_to_f32(fsm_half_loadu(src + j)));
    if (j < n) {
        uint16_t buf[FSM_LANES_f32] = {0};
        memcpy(buf, src + j, (size_t)(n - j) * sizeof(uint16_t));
        const fsm_vu h = fsm_half_loadu(buf);
        fsm_store_tail_f32(dst + j, kind == FSM_HALF_BF16 ? fsm_bf16_to_f32(h) : fsm_f16_to_f32(h),
                           n - j);
    }
}

/* dst[0:n] = the 16-bit codes of src[0:n], each rounded to nearest even */
FSM_INLINE void fsm_f32_to_half(int kind, const float *src, uint16_t *dst, ptrdiff_t n)
{
    ptrdiff_t j = 0;
    if (kind == FSM_HALF_BF16)
        for (; j + FSM_LANES_f32 <= n; j += FSM_LANES_f32)
            fsm_half_storeu(dst + j, fsm_f32_to_bf16(fsm_loadu_f32(src + j)));
    else
        for (; j + FSM_LANES_f32 <= n; j += FSM_LANES_f32)
            fsm_half_storeu(dst + j, fsm_f32_to_f16(fsm_loadu_f32(src + j)));
    if (j < n) {
        const fsm_vf v = fsm_load_tail_f32(src + j, n - j, 0);
        uint16_t buf[FSM_LANES_f32];
        fsm_half_storeu(buf, kind == FSM_HALF_BF16 ? fsm_f32_to_bf16(v) : fsm_f32_to_f16(v));
        memcpy(dst + j, buf, (size_t)(n - j) * sizeof(uint16_t));
    }
}

/* the rows of x as contiguous float32 rows at s (stride ncols) */
FSM_INLINE fsm_rows_f32 fsm_half_stage(int kind, fsm_half_rows x, float *s)
{
    /* contiguous rows as one run: short rows are mostly a vector's tail */
    if (x.stride == x.ncols) fsm_half_to_f32(kind, x.data, s, x.nrows * x.ncols);
    else
        for (ptrdiff_t i = 0; i < x.nrows; i++)
            fsm_half_to_f32(kind, x.data + i * x.stride, s + i * x.ncols, x.ncols);
    return (fsm_rows_f32){.data = s, .stride = x.ncols, .nrows = x.nrows, .ncols = x.ncols};
}

/* the contiguous float32 rows at s rounded into out (rows of stride ldo) */
FSM_INLINE void fsm_half_unstage(int kind, const float *s, uint16_t *out, ptrdiff_t ldo,
                                 ptrdiff_t nrows, ptrdiff_t ncols)
{
    if (ldo == ncols) fsm_f32_to_half(kind, s, out, nrows * ncols);   /* as fsm_half_stage */
    else
        for (ptrdiff_t i = 0; i < nrows; i++)
            fsm_f32_to_half(kind, s + i * ncols, out + i * ldo, ncols);
}

/* ------------------------------------------------ rows read in blocks
 * Long rows (more than the short-row paths take) are read block by block
 * (FSM_BLOCK elements, as the online pass of fsm_rowpass.h): each block is
 * converted into a float32 buffer of the stack (L1-resident) and handed to
 * the float32 block functions themselves, in the float32 row functions'
 * order, so every float32 value and sum is theirs.  The 16-bit row is read
 * once from memory per pass and no row-sized scratch is touched. */

/* the float32 value of one 16-bit code */
FSM_INLINE float fsm_half_scalar(int kind, uint16_t h)
{
    uint16_t hb[FSM_LANES_f32] = {h};
    float f[FSM_LANES_f32];
    fsm_half_to_f32(kind, hb, f, 1);
    return f[0];
}

/* bfloat16 codes at p as float32 values: each code interleaved above a
 * zero half (one shuffle; little-endian) */
#if FSM_W == 64
#define FSM_ZIP_IDX 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23, \
                    8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31
#elif FSM_W == 32
#define FSM_ZIP_IDX 0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15
#else
#define FSM_ZIP_IDX 0, 4, 1, 5, 2, 6, 3, 7
#endif
typedef uint16_t fsm_vh2 __attribute__((vector_size(FSM_W)));
FSM_INLINE fsm_vf fsm_bf16_ld(const uint16_t *p)
{
#if FSM_HALF_PAIRS
    fsm_vh h;
    memcpy(&h, p, sizeof h);
    const fsm_vh z = {0};
    const fsm_vh2 r = __builtin_shufflevector(z, h, FSM_ZIP_IDX);
    return (fsm_vf)r;
#else
    return fsm_bf16_to_f32(fsm_half_loadu(p));
#endif
}

/* one vector of float32 values from FSM_LANES_f32 16-bit codes at p */
FSM_INLINE fsm_vf fsm_half_ld(int kind, const uint16_t *p)
{
    if (kind == FSM_HALF_BF16) return fsm_bf16_ld(p);
    return fsm_f16_to_f32(fsm_half_loadu(p));
}
/* the first n < FSM_LANES_f32 values at p, the other lanes pad */
FSM_INLINE fsm_vf fsm_half_ld_tail(int kind, const uint16_t *p, ptrdiff_t n, float pad)
{
    float buf[FSM_LANES_f32];
    fsm_half_to_f32(kind, p, buf, n);
    return fsm_load_tail_f32(buf, n, pad);
}

/* bfloat16, two vectors at a time, for the elementwise passes and the max
 * (where lane order does not matter): the 2 * FSM_LANES_f32 codes at p as
 * the float32 values of the even elements and of the odd ones -- one load,
 * two integer operations (little-endian: code 2i is the low half of 32-bit
 * word i) */
FSM_INLINE void fsm_bf16_ld2(const uint16_t *p, fsm_vf *even, fsm_vf *odd)
{
    fsm_vu w;
    memcpy(&w, p, sizeof w);
    *even = (fsm_vf)(w << 16);
    *odd = (fsm_vf)(w & 0xffff0000u);
}
/* ... and back: the codes of even and odd elements, interleaved at p */
FSM_INLINE void fsm_bf16_st2(uint16_t *p, fsm_vf even, fsm_vf odd)
{
    const fsm_vu w = fsm_f32_to_bf16(even) | (fsm_f32_to_bf16(odd) << 16);
    memcpy(p, &w, sizeof w);
}

/* block_max_f32 (fsm_rowpass.h) of 16-bit codes, converted in registers:
 * the same operations on the same float32 values */
FSM_INLINE float fsm_half_block_max_min(int kind, const uint16_t *x, ptrdiff_t n, const int back,
                                         float *mn)
{
    const float ninf = -INFINITY;
    fsm_vf m0 = fsm_splat_f32(ninf), m1 = m0, m2 = m0, m3 = m0;
    fsm_vf n0 = fsm_splat_f32(INFINITY), n1 = n0;
    fsm_vf z0 = fsm_splat_f32(0), z1 = z0;
    const ptrdiff_t L = FSM_LANES_f32;
    ptrdiff_t j = 0;
    for (; j + 4 * L <= n; j += 4 * L) {
        fsm_vf v0, v1, v2, v3;
        if (kind == FSM_HALF_BF16 && FSM_HALF_PAIRS) {
            /* the same 4 L elements in other lanes: the max of all is the same */
            fsm_bf16_ld2(x + j, &v0, &v1);
            fsm_bf16_ld2(x + j + 2 * L, &v2, &v3);
        } else {
            v0 = fsm_half_ld(kind, x + j), v1 = fsm_half_ld(kind, x + j + L);
            v2 = fsm_half_ld(kind, x + j + 2 * L), v3 = fsm_half_ld(kind, x + j + 3 * L);
        }
        m0 = fsm_vmax_fast_f32(m0, v0);
        m1 = fsm_vmax_fast_f32(m1, v1);
        m2 = fsm_vmax_fast_f32(m2, v2);
        m3 = fsm_vmax_fast_f32(m3, v3);
        if (mn) {
            n0 = fsm_vmin_fast_f32(fsm_vmin_fast_f32(n0, v0), v1);
            n1 = fsm_vmin_fast_f32(fsm_vmin_fast_f32(n1, v2), v3);
        }
        z0 = (v0 * 0 + z0) + v1 * 0;
        z1 = (v2 * 0 + z1) + v3 * 0;
    }
    for (; j + L <= n; j += L) {
        fsm_vf v = fsm_half_ld(kind, x + j);
        m0 = fsm_vmax_fast_f32(m0, v);
        if (mn) n0 = fsm_vmin_fast_f32(n0, v);
        z0 = v * 0 + z0;
    }
    if (j < n && back) {
        /* as block_max_min_f32: the lanes seen already masked */
        const fsm_vi h = head_mask_f32(n - j);
        fsm_vf v = fsm_half_ld(kind, x + n - L);
        m1 = fsm_vmax_fast_f32(m1, fsm_sel_f32(h, fsm_splat_f32(ninf), v));
        if (mn) n1 = fsm_vmin_fast_f32(n1, fsm_sel_f32(h, fsm_splat_f32(INFINITY), v));
        z1 = (fsm_vf)((fsm_vi)v & ~h) * 0 + z1;
    } else if (j < n) {
        fsm_vf v = fsm_half_ld_tail(kind, x + j, n - j, 0);
        m1 = fsm_vmax_fast_f32(m1, fsm_half_ld_tail(kind, x + j, n - j, ninf));
        if (mn) n1 = fsm_vmin_fast_f32(n1, fsm_half_ld_tail(kind, x + j, n - j, INFINITY));
        z1 = v * 0 + z1;
    }
    m0 = fsm_vmax_fast_f32(fsm_vmax_fast_f32(m0, m1), fsm_vmax_fast_f32(m2, m3));
    float m = fsm_allmax_nonan_f32(m0)[0];
    float z = fsm_allsum_f32(z0 + z1)[0];
    if (mn) *mn = fsm_allmin_nonan_f32(fsm_vmin_fast_f32(n0, n1))[0];
    if (z != z) {
        for (ptrdiff_t k = 0; k < n; k++) {
            const float v = fsm_half_scalar(kind, x[k]);
            if (v != v) return v;
        }
    }
    return m;
}

FSM_INLINE float fsm_half_block_max(int kind, const uint16_t *x, ptrdiff_t n, const int back)
{
    return fsm_half_block_max_min(kind, x, n, back, (float *)0);
}

/* block_sumexp_f32 (fsm_rowpass.h) of 16-bit codes, converted in registers */
FSM_INLINE void fsm_half_block_sumexp(int kind, const uint16_t *x, ptrdiff_t n, float m,
                                      double *acc, double *cnt, const int count, const int back,
                                      const int near)
{
    const char *pf = (const char *)(x + n);
    const float ninf = -INFINITY;
    const fsm_vf mv = fsm_splat_f32(m), zero = fsm_splat_f32(0);
    const ptrdiff_t L = FSM_LANES_f32;
    fsm_dacc_f32 a;
    fsm_dacc_zero_f32(&a);
    fsm_vi below = (fsm_vi){0};
    ptrdiff_t j = 0;
    for (; j + 8 * L <= n; j += 8 * L) {
        fsm_vf s0 = zero, s1 = zero;
        for (int g = 0; g < FSM_W / 16; g++) __builtin_prefetch(pf + (j + g * 32) * 2);
        for (int g = 0; g < 8; g += 2) {
            fsm_vf v0 = fsm_half_ld(kind, x + j + g * L);
            fsm_vf v1 = fsm_half_ld(kind, x + j + (g + 1) * L);
            fsm_vf e0 = fsm_vexp_row_f32(near, v0, mv);
            fsm_vf e1 = fsm_vexp_row_f32(near, v1, mv);
            if (count) {
                fsm_vi k0 = (fsm_vi)((v0 - mv) + 0) >> 31, k1 = (fsm_vi)((v1 - mv) + 0) >> 31;
                e0 = (fsm_vf)((fsm_vi)e0 & k0);
                e1 = (fsm_vf)((fsm_vi)e1 & k1);
                below += k0 + k1;
            }
            s0 += e0;
            s1 += e1;
        }
        fsm_dacc_add_f32(&a, s0 + s1);
    }
    fsm_vf s = zero;
    for (;; j += L) {
        fsm_vf v;
        fsm_vi valid = ~(fsm_vi){0};   /* the lanes not seen yet and not padding */
        if (j + L <= n) v = fsm_half_ld(kind, x + j);
        else if (j < n && back) {
            fsm_vi h = head_mask_f32(n - j);
            v = fsm_half_ld(kind, x + n - L);
            v = (fsm_vf)(((fsm_vi)v & ~h) | ((fsm_vi)fsm_splat_f32(ninf) & h));
            valid = ~h;
        }
        else if (j < n) {
            v = fsm_half_ld_tail(kind, x + j, n - j, ninf);
            valid = head_mask_f32(L - (n - j));
        }
        else break;
        fsm_vf e = fsm_vexp_row_f32(near, v, mv);
        if (near) e = (fsm_vf)((fsm_vi)e & valid);   /* fsm_vexp_near gives no 0 for -inf */
        if (count) {
            fsm_vi k = (fsm_vi)((v - mv) + 0) >> 31;
            e = (fsm_vf)((fsm_vi)e & k);
            below += k;
        }
        s += e;
    }
    fsm_dacc_add_f32(&a, s);
    *acc += fsm_dacc_sum_f32(&a);
    if (count) {
        /* as block_sumexp_store_f32: the lanes seen less those below m */
        const ptrdiff_t nv = (n + L - 1) / L;
        *cnt += (double)nv * L + (double)fsm_allsum_f32(__builtin_convertvector(below, fsm_vf))[0];
    }
}

/* row_state_f32 (fsm_rowpass.h) of a 16-bit row: the same block passes on
 * the same float32 values, in the same order. */
FSM_INLINE void fsm_half_row_state(int kind, const uint16_t *x, ptrdiff_t n, float *m_out,
                                   double *acc_out, double *cnt_out)
{
    float m = -INFINITY;
    double acc = 0.0, cnt = 0.0;
    for (ptrdiff_t b = 0; b < n; b += FSM_BLOCK) {
        ptrdiff_t len = n - b < FSM_BLOCK ? n - b : FSM_BLOCK;
        const int back = b + len >= FSM_LANES_f32;
        float bmn;
        float bm = fsm_half_block_max_min(kind, x + b, len, back, &bmn);
        if (bm != bm) { m = bm; break; }
        if (bm > m) {
            acc = isfinite(m) && isfinite(bm) ? (acc + cnt) * exp((double)m - (double)bm) : 0.0;
            cnt = 0.0;
            m = bm;
        }
        if (!isfinite(m)) continue;
        if (m - bmn < FSM_NEAR_RANGE_f32) {   /* as row_state_f32: fsm_vexp_near */
            if (bm == m) fsm_half_block_sumexp(kind, x + b, len, m, &acc, &cnt, 1, back, 1);
            else fsm_half_block_sumexp(kind, x + b, len, m, &acc, &cnt, 0, back, 1);
        }
        else if (bm == m) fsm_half_block_sumexp(kind, x + b, len, m, &acc, &cnt, 1, back, 0);
        else fsm_half_block_sumexp(kind, x + b, len, m, &acc, &cnt, 0, back, 0);
    }
    *m_out = m;
    *acc_out = acc;
    *cnt_out = cnt;
}

/* row_grad_base_f32 (fsm_crossentropy.h) without class weights, of 16-bit
 * codes, into 16-bit codes: g = coef * exp(x - m) - wcoef, then g[y] -= d in
 * double (ce_index_rows' target term), each element rounded once */
FSM_INLINE void fsm_half_row_grad(int kind, const uint16_t *x, ptrdiff_t n, float m, float coef,
                                  float wcoef, uint16_t *g, ptrdiff_t y, double d)
{
    const fsm_vf mv = fsm_splat_f32(m), cv = fsm_splat_f32(coef), wc = fsm_splat_f32(wcoef);
    const ptrdiff_t jy = y - y % FSM_LANES_f32;   /* the vector holding y */
    ptrdiff_t j = 0;
    if (kind == FSM_HALF_BF16 && FSM_HALF_PAIRS)
        for (; j + 2 * FSM_LANES_f32 <= n; j += 2 * FSM_LANES_f32) {
            fsm_vf a, b;   /* elementwise: the same values in other lanes */
            fsm_bf16_ld2(x + j, &a, &b);
            fsm_bf16_st2(g + j, fsm_vexp_le_f32(a, mv) * cv - wc, fsm_vexp_le_f32(b, mv) * cv - wc);
        }
    for (; j + FSM_LANES_f32 <= n; j += FSM_LANES_f32) {
        const fsm_vf v = fsm_vexp_le_f32(fsm_half_ld(kind, x + j), mv) * cv - wc;
        fsm_half_storeu(g + j, kind == FSM_HALF_BF16 ? fsm_f32_to_bf16(v) : fsm_f32_to_f16(v));
    }
    if (j < n && n >= FSM_LANES_f32) {
        /* the last FSM_LANES_f32 elements as one vector: the overlap is
         * stored again with the same values (elementwise) */
        const ptrdiff_t t = n - FSM_LANES_f32;
        fsm_vf v = fsm_vexp_le_f32(fsm_half_ld(kind, x + t), mv) * cv - wc;
        if (y >= j) v[y - t] = (float)((double)v[y - t] - d);
        fsm_half_storeu(g + t, kind == FSM_HALF_BF16 ? fsm_f32_to_bf16(v) : fsm_f32_to_f16(v));
    } else if (j < n) {
        float buf[FSM_LANES_f32];
        fsm_vf e = fsm_vexp_le_f32(fsm_half_ld_tail(kind, x + j, n - j, 0), mv);
        fsm_storeu_f32(buf, e * cv - wc);
        if (y >= j) buf[y - j] = (float)((double)buf[y - j] - d);
        fsm_f32_to_half(kind, buf, g + j, n - j);
    }
    if (y < j) {
        /* the vector holding y once more (the same operations), corrected;
         * after the tail, which may have stored y's element again */
        float buf[FSM_LANES_f32];
        fsm_storeu_f32(buf, fsm_vexp_le_f32(fsm_half_ld(kind, x + jy), mv) * cv - wc);
        buf[y - jy] = (float)((double)buf[y - jy] - d);
        fsm_f32_to_half(kind, buf + (y - jy), g + y, 1);
    }
}

/* the 16-bit codes of v, n times */
FSM_INLINE void fsm_half_fill(int kind, uint16_t *g, ptrdiff_t n, float v)
{
    const uint16_t h = kind == FSM_HALF_BF16 ? (uint16_t)fsm_f32_to_bf16(fsm_splat_f32(v))[0]
                                             : (uint16_t)fsm_f32_to_f16(fsm_splat_f32(v))[0];
    for (ptrdiff_t j = 0; j < n; j++) g[j] = h;
}

/* ce_index_rows_f32 (fsm_crossentropy.h) of 16-bit rows, without label
 * smoothing (its weighted row sum is one reduction over the whole row: those
 * calls take the scratch path): the same formulas; the gradient pass is
 * row_grad_base_f32 block by block (elementwise, blocks of whole vectors:
 * the same values), the target's correction applied in float32, then each
 * block rounded. */
FSM_INLINE double fsm_half_ce_rows(int kind, const uint16_t *x, ptrdiff_t ldx, ptrdiff_t nrows,
                                   ptrdiff_t ncols, const int64_t *target, const float *weight,
                                   const fsm_ce_options *opt, double *loss_rows, uint16_t *grad,
                                   ptrdiff_t ldg)
{
    const int64_t ignore_index = opt->ignore_index;
    const double eps = 0.0, z = opt->z_loss;
    const double scale = opt->grad_scale;
    const double *sw = opt->sample_weight;
    double total = 0.0;
    for (ptrdiff_t i = 0; i < nrows; i++) {
        const uint16_t *xi = x + i * ldx;
        const int64_t y = target[i];
        double loss = 0.0;
        if (y == ignore_index) {
            if (grad) fsm_half_fill(kind, grad + i * ldg, ncols, 0);
        } else {
            float m;
            double acc, cnt;
            fsm_half_row_state(kind, xi, ncols, &m, &acc, &cnt);
            const double L = isfinite(m) ? log1p(acc + (cnt - 1.0)) : 0.0;
            const double wy = weight ? (double)weight[y] : 1.0;
            loss = (1.0 - eps) * wy * (((double)m - (double)fsm_half_scalar(kind, xi[y])) + L);
            const double lse = (double)m + L;
            loss += z * lse * lse;
            if (!isfinite(m)) loss = NAN;
            if (sw) loss *= sw[i];
            const double si = sw ? scale * sw[i] : scale;
            if (grad) {
                uint16_t *gi = grad + i * ldg;
                if (isfinite(m)) {
                    const double q_total = (1.0 - eps) * wy + 0.0 + 2.0 * z * lse;
                    const float coef = (float)(si * q_total / (acc + cnt));
                    const float wcoef = (float)(si * 0.0);
                    fsm_half_row_grad(kind, xi, ncols, m, coef, wcoef, gi, y,
                                      si * (1.0 - eps) * wy);
                } else {
                    fsm_half_fill(kind, gi, ncols, NAN);
                }
            }
        }
        if (loss_rows) loss_rows[i] = loss;
        total += loss;
    }
    return total;
}

/* group_state_f32 (fsm_softmax.h) of 16-bit rows: rows [0, r) (r <=
 * LANES_f64) of a group, their max mm[k] and l[k] = log1p(sum of exp(x - max)
 * over all but one max element) (0 where the max is not finite); vec: log1p
 * over the whole group as a vector, else libm's for row 0 */
FSM_INLINE void fsm_half_group_state(int kind, const uint16_t *x, ptrdiff_t ldx, ptrdiff_t ncols,
                                     ptrdiff_t r, int vec, double *mm, double *l)
{
    double s[FSM_LANES_f64];
    for (ptrdiff_t k = 0; k < FSM_LANES_f64; k++) {
        float m = 0;
        double acc = 0.0, cnt = 1.0;
        if (k < r) fsm_half_row_state(kind, x + k * ldx, ncols, &m, &acc, &cnt);
        mm[k] = (double)m;
        s[k] = isfinite(m) ? acc + (cnt - 1.0) : 0.0;
    }
    if (vec) fsm_storeu_f64(l, fsm_vlog1p_f64(fsm_loadu_f64(s)));
    else l[0] = log1p(s[0]);
}

/* logsumexp_block_f32's long-row path (fsm_softmax.h) of 16-bit rows */
FSM_INLINE void fsm_half_logsumexp_rows(int kind, const uint16_t *x, ptrdiff_t ldx, uint16_t *out,
                                        ptrdiff_t nrows, ptrdiff_t ncols)
{
    for (ptrdiff_t i0 = 0; i0 < nrows; i0 += FSM_LANES_f64) {
        double mm[FSM_LANES_f64], l[FSM_LANES_f64];
        float v[FSM_LANES_f64];
        ptrdiff_t r = nrows - i0 < FSM_LANES_f64 ? nrows - i0 : FSM_LANES_f64;
        fsm_half_group_state(kind, x + i0 * ldx, ldx, ncols, r, 1, mm, l);
        for (ptrdiff_t k = 0; k < r; k++) v[k] = (float)(isfinite(mm[k]) ? mm[k] + l[k] : mm[k]);
        fsm_f32_to_half(kind, v, out + i0, r);
    }
}

/* log_softmax_write_f32 (fsm_softmax.h) of a 16-bit row: out = (x - shift)
 * - lse in float32 (fsm_sub2), then rounded to 16 bits; out
 * may be x (each vector is read before it is written) */
FSM_INLINE void fsm_half_log_softmax_write(int kind, const uint16_t *xi, uint16_t *oi,
                                           ptrdiff_t ncols, double shift, double lse)
{
    ptrdiff_t j = 0;
    /* the last vector, read before anything is stored (out may be x) */
    const fsm_vf vt = ncols >= FSM_LANES_f32 ? fsm_half_ld(kind, xi + ncols - FSM_LANES_f32)
                                             : fsm_splat_f32(0);
    if (kind == FSM_HALF_BF16 && FSM_HALF_PAIRS)
        for (; j + 2 * FSM_LANES_f32 <= ncols; j += 2 * FSM_LANES_f32) {
            fsm_vf a, b;
            fsm_bf16_ld2(xi + j, &a, &b);
            fsm_bf16_st2(oi + j, fsm_sub2_f32(a, shift, lse),
                         fsm_sub2_f32(b, shift, lse));
        }
    for (; j + FSM_LANES_f32 <= ncols; j += FSM_LANES_f32) {
        const fsm_vf v = fsm_sub2_f32(fsm_half_ld(kind, xi + j), shift, lse);
        fsm_half_storeu(oi + j, kind == FSM_HALF_BF16 ? fsm_f32_to_bf16(v) : fsm_f32_to_f16(v));
    }
    if (j < ncols && ncols >= FSM_LANES_f32) {
        /* overlapping: the same values again (elementwise) */
        const fsm_vf v = fsm_sub2_f32(vt, shift, lse);
        fsm_half_storeu(oi + ncols - FSM_LANES_f32,
                        kind == FSM_HALF_BF16 ? fsm_f32_to_bf16(v) : fsm_f32_to_f16(v));
    } else if (j < ncols) {
        float buf[FSM_LANES_f32];
        fsm_storeu_f32(buf, fsm_sub2_f32(fsm_half_ld_tail(kind, xi + j, ncols - j, 0),
                                                shift, lse));
        fsm_f32_to_half(kind, buf, oi + j, ncols - j);
    }
}

/* log_softmax_rows_f32 (fsm_softmax.h) of 16-bit rows */
FSM_INLINE void fsm_half_log_softmax_rows(int kind, const uint16_t *x, ptrdiff_t ldx, uint16_t *out,
                                          ptrdiff_t ldo, ptrdiff_t nrows, ptrdiff_t ncols)
{
    const ptrdiff_t g = ncols <= 4096 ? FSM_LANES_f64 : 1;
    for (ptrdiff_t i0 = 0; i0 < nrows; i0 += g) {
        double mm[FSM_LANES_f64], l[FSM_LANES_f64];
        ptrdiff_t r = nrows - i0 < g ? nrows - i0 : g;
        fsm_half_group_state(kind, x + i0 * ldx, ldx, ncols, r, g > 1, mm, l);
        for (ptrdiff_t k = 0; k < r; k++)
            fsm_half_log_softmax_write(kind, x + (i0 + k) * ldx, out + (i0 + k) * ldo, ncols,
                                       isfinite(mm[k]) ? mm[k] : 0.0,
                                       isfinite(mm[k]) ? l[k] : mm[k]);
    }
}

/* block_expstore_f32 (fsm_softmax.h) of 16-bit codes: e[0:n] = exp(x - m)
 * in float32 (e: the caller's scratch, not x), returns their sum, in the
 * same order */
FSM_INLINE double fsm_half_block_expstore(int kind, const uint16_t *x, float *e, ptrdiff_t n,
                                          float m, const int near)
{
    const float ninf = -INFINITY;
    const fsm_vf mv = fsm_splat_f32(m), zero = fsm_splat_f32(0);
    const ptrdiff_t L = FSM_LANES_f32;
    const char *pf = (const char *)(x + n);
    fsm_dacc_f32 a;
    fsm_dacc_zero_f32(&a);
    ptrdiff_t j = 0;
    fsm_vf vt = n >= L ? fsm_half_ld(kind, x + n - L) : zero;
    for (; j + 8 * L <= n; j += 8 * L) {
        fsm_vf s0 = zero, s1 = zero;
        for (int g = 0; g < FSM_W / 16; g++) __builtin_prefetch(pf + (j + g * 32) * 2);
        for (int g = 0; g < 8; g += 2) {
            fsm_vf e0 = fsm_vexp_row_f32(near, fsm_half_ld(kind, x + j + g * L), mv);
            fsm_vf e1 = fsm_vexp_row_f32(near, fsm_half_ld(kind, x + j + (g + 1) * L), mv);
            fsm_storeu_f32(e + j + g * L, e0);
            fsm_storeu_f32(e + j + (g + 1) * L, e1);
            s0 += e0;
            s1 += e1;
        }
        fsm_dacc_add_f32(&a, s0 + s1);
    }
    fsm_vf s = zero;
    for (; j + L <= n; j += L) {
        fsm_vf v = fsm_vexp_row_f32(near, fsm_half_ld(kind, x + j), mv);
        fsm_storeu_f32(e + j, v);
        s += v;
    }
    if (j < n && n >= L) {
        fsm_vf v = fsm_vexp_row_f32(near, vt, mv);
        fsm_storeu_f32(e + n - L, v);
        s += (fsm_vf)((fsm_vi)v & ~head_mask_f32(n - j));
    } else if (j < n) {
        fsm_vf v = fsm_vexp_row_f32(near, fsm_half_ld_tail(kind, x + j, n - j, ninf), mv);
        fsm_store_tail_f32(e + j, v, n - j);
        s += near ? (fsm_vf)((fsm_vi)v & head_mask_f32(L - (n - j))) : v;   /* the -inf lanes */
    }
    fsm_dacc_add_f32(&a, s);
    return fsm_dacc_sum_f32(&a);
}

/* 16-bit codes of e[0:n] * f (block_scale_f32: f a normal float), or of
 * (float)((double)e * f) (block_scale_wide_f32), elementwise */
FSM_INLINE void fsm_half_scale_store(int kind, const float *e, uint16_t *o, ptrdiff_t n,
                                     double f)
{
    float buf[FSM_BLOCK];
    const float *src = e;
    if (f >= 1e-30) {
        const fsm_vf fv = fsm_splat_f32((float)f);
        ptrdiff_t j = 0;
        for (; j + FSM_LANES_f32 <= n; j += FSM_LANES_f32) {
            const fsm_vf v = fsm_loadu_f32(e + j) * fv;
            fsm_half_storeu(o + j, kind == FSM_HALF_BF16 ? fsm_f32_to_bf16(v) : fsm_f32_to_f16(v));
        }
        if (j < n && n >= FSM_LANES_f32) {   /* the last vector again: the same values */
            const fsm_vf v = fsm_loadu_f32(e + n - FSM_LANES_f32) * fv;
            fsm_half_storeu(o + n - FSM_LANES_f32,
                            kind == FSM_HALF_BF16 ? fsm_f32_to_bf16(v) : fsm_f32_to_f16(v));
        } else if (j < n) {
            for (ptrdiff_t k = j; k < n; k++) buf[k - j] = e[k] * (float)f;
            fsm_f32_to_half(kind, buf, o + j, n - j);
        }
        return;
    }
    for (ptrdiff_t k = 0; k < n; k++) buf[k] = (float)((double)src[k] * f);
    fsm_f32_to_half(kind, buf, o, n);
}

/* softmax_row_store_f32 (fsm_softmax.h) of a 16-bit row of n elements
 * (FSM_LANES_f32 < n <= FSM_SOFTMAX_STORE_MAX): the exponentials kept in the
 * float32 scratch e (n floats), each block rescaled and rounded into o */
FSM_INLINE void fsm_half_softmax_row(int kind, const uint16_t *xi, uint16_t *oi, ptrdiff_t n,
                                     float *e)
{
    float mb[FSM_SOFTMAX_STORE_MAX / FSM_BLOCK + 1];
    float m = -INFINITY;
    double sum = 0.0;
    ptrdiff_t nb = 0;
    for (ptrdiff_t b = 0; b < n; b += FSM_BLOCK, nb++) {
        ptrdiff_t len = n - b < FSM_BLOCK ? n - b : FSM_BLOCK;
        float bmn;
        float bm = fsm_half_block_max_min(kind, xi + b, len, b + len >= FSM_LANES_f32, &bmn);
        if (bm != bm || bm == INFINITY) { m = bm; break; }
        if (bm > m) {
            sum = isfinite(m) ? sum * exp((double)m - (double)bm) : 0.0;
            m = bm;
        }
        mb[nb] = m;
        if (!isfinite(m)) continue;
        if (m - bmn < FSM_NEAR_RANGE_f32) sum += fsm_half_block_expstore(kind, xi + b, e + b, len, m, 1);
        else sum += fsm_half_block_expstore(kind, xi + b, e + b, len, m, 0);
    }
    if (!isfinite(m)) {
        fsm_half_fill(kind, oi, n, NAN);
        return;
    }
    const double inv = 1.0 / sum;
    nb = 0;
    for (ptrdiff_t b = 0; b < n; b += FSM_BLOCK, nb++) {
        ptrdiff_t len = n - b < FSM_BLOCK ? n - b : FSM_BLOCK;
        if (!isfinite(mb[nb])) {
            fsm_half_fill(kind, oi + b, len, 0);
            continue;
        }
        double f = mb[nb] == m ? inv : exp((double)mb[nb] - (double)m) * inv;
        fsm_half_scale_store(kind, e + b, oi + b, len, f);
    }
}

/* whether these rows go through the float32 kernels on a scratch copy: rows
 * of the float32 short-row path (FSM_SLANES_BYTES) and the grouped rows
 * (rows_state, softmax_group: up to 1024 bytes of float32, FSM_GROUP_MAX),
 * whose float32 kernels overlap the rows' latency chains; converting those
 * into a scratch block in L1 costs less than running their per-row copies
 * below one row at a time */
#define FSM_HALF_SCRATCH_MAX ((ptrdiff_t)(1024 / sizeof(float)))
#define FSM_HALF_SHORT(x) ((x).ncols >= 1 && (x).ncols <= FSM_HALF_SCRATCH_MAX)

/* The kernels (fsm_kernel_list.h).  scratch: nrows * ncols floats (softmax,
 * log_softmax), plus nrows (logsumexp), or twice nrows * ncols (ce_index
 * with a gradient).  The float32 softmax and log_softmax run in place on the
 * scratch block (allowed, and the same results as out of place). */
/* Rows of the staged softmax family go through the scratch in blocks of at
 * most this many elements (or one row), so that the staging stays in L1:
 * each row's result is independent of the rows it is computed with. */
#define FSM_HALF_STAGE 4096

/* rows [i0, i0 + r) of x, as a block of x */
FSM_INLINE fsm_half_rows fsm_half_sub(fsm_half_rows x, ptrdiff_t i0, ptrdiff_t r)
{
    return (fsm_half_rows){.data = x.data + i0 * x.stride, .stride = x.stride, .nrows = r,
                           .ncols = x.ncols};
}

FSM_INLINE ptrdiff_t fsm_half_stage_rows(ptrdiff_t ncols)
{
    return ncols > 0 && ncols < FSM_HALF_STAGE ? FSM_HALF_STAGE / ncols : 1;
}

FSM_INLINE void kernel_softmax_h16(fsm_half_rows x, fsm_half_out out, int kind, float *scratch)
{
    if (!FSM_HALF_SHORT(x) && x.ncols > FSM_LANES_f32 && x.ncols <= FSM_SOFTMAX_STORE_MAX) {
        /* the float32 kernel's softmax_row_store rows, read in registers */
        for (ptrdiff_t i = 0; i < x.nrows; i++) {
            if (kind == FSM_HALF_BF16)
                fsm_half_softmax_row(FSM_HALF_BF16, x.data + i * x.stride,
                                     out.data + i * out.stride, x.ncols, scratch);
            else
                fsm_half_softmax_row(FSM_HALF_F16, x.data + i * x.stride,
                                     out.data + i * out.stride, x.ncols, scratch);
        }
        return;
    }
    const ptrdiff_t rb = fsm_half_stage_rows(x.ncols);
    for (ptrdiff_t i0 = 0; i0 < x.nrows; i0 += rb) {
        const ptrdiff_t r = x.nrows - i0 < rb ? x.nrows - i0 : rb;
        fsm_rows_f32 s = fsm_half_stage(kind, fsm_half_sub(x, i0, r), scratch);
        kernel_softmax_f32(s, (fsm_out_f32){.data = scratch, .stride = x.ncols});
        fsm_half_unstage(kind, scratch, out.data + i0 * out.stride, out.stride, r, x.ncols);
    }
}

FSM_INLINE void kernel_log_softmax_h16(fsm_half_rows x, fsm_half_out out, int kind, float *scratch)
{
    if (!FSM_HALF_SHORT(x)) {   /* long rows: read in registers, kind a constant */
        if (kind == FSM_HALF_BF16)
            fsm_half_log_softmax_rows(FSM_HALF_BF16, x.data, x.stride, out.data, out.stride,
                                      x.nrows, x.ncols);
        else
            fsm_half_log_softmax_rows(FSM_HALF_F16, x.data, x.stride, out.data, out.stride,
                                      x.nrows, x.ncols);
        return;
    }
    const ptrdiff_t rb = fsm_half_stage_rows(x.ncols);
    for (ptrdiff_t i0 = 0; i0 < x.nrows; i0 += rb) {
        const ptrdiff_t r = x.nrows - i0 < rb ? x.nrows - i0 : rb;
        fsm_rows_f32 s = fsm_half_stage(kind, fsm_half_sub(x, i0, r), scratch);
        kernel_log_softmax_f32(s, (fsm_out_f32){.data = scratch, .stride = x.ncols});
        fsm_half_unstage(kind, scratch, out.data + i0 * out.stride, out.stride, r, x.ncols);
    }
}

FSM_INLINE void kernel_logsumexp_h16(fsm_half_rows x, uint16_t *out, int kind, float *scratch)
{
    if (!FSM_HALF_SHORT(x)) {
        if (kind == FSM_HALF_BF16)
            fsm_half_logsumexp_rows(FSM_HALF_BF16, x.data, x.stride, out, x.nrows, x.ncols);
        else
            fsm_half_logsumexp_rows(FSM_HALF_F16, x.data, x.stride, out, x.nrows, x.ncols);
        return;
    }
    const ptrdiff_t rb = fsm_half_stage_rows(x.ncols);
    float *lse = scratch + x.nrows * x.ncols;
    for (ptrdiff_t i0 = 0; i0 < x.nrows; i0 += rb) {
        const ptrdiff_t r = x.nrows - i0 < rb ? x.nrows - i0 : rb;
        kernel_logsumexp_f32(fsm_half_stage(kind, fsm_half_sub(x, i0, r), scratch), lse + i0);
    }
    fsm_f32_to_half(kind, lse, out, x.nrows);
}

FSM_INLINE double kernel_ce_index_h16(fsm_half_rows x, const int64_t *target, const float *weight,
                                      const fsm_ce_options *opt, fsm_half_ce_out out, int kind,
                                      float *scratch)
{
    if (x.ncols > FSM_HALF_SCRATCH_MAX && opt->label_smoothing == 0.0) {
        /* (ncols == 0 takes the scratch path, as the float32 kernel's general one) */
        /* two copies, kind a constant in each */
        if (kind == FSM_HALF_BF16)
            return fsm_half_ce_rows(FSM_HALF_BF16, x.data, x.stride, x.nrows, x.ncols, target,
                                    weight, opt, out.loss_rows, out.grad, out.grad_stride);
        return fsm_half_ce_rows(FSM_HALF_F16, x.data, x.stride, x.nrows, x.ncols, target,
                                weight, opt, out.loss_rows, out.grad, out.grad_stride);
    }
    float *g = out.grad ? scratch + x.nrows * x.ncols : NULL;
    fsm_rows_f32 r = fsm_half_stage(kind, x, scratch);
    double total = kernel_ce_index_f32(
        r, target, weight, opt,
        (fsm_ce_out_f32){.loss_rows = out.loss_rows, .grad = g, .grad_stride = x.ncols});
    if (g) fsm_half_unstage(kind, g, out.grad, out.grad_stride, x.nrows, x.ncols);
    return total;
}

/* ------------------------------------------------ conversions alone
 * For the drivers that stage a chunk of 16-bit operands into float32 for a
 * float32 kernel and round its float32 results back (fastsoftmax._core). */
FSM_INLINE void kernel_widen_h16(const uint16_t *src, float *dst, ptrdiff_t n, int kind)
{
    fsm_half_to_f32(kind, src, dst, n);
}

FSM_INLINE void kernel_narrow_h16(const float *src, uint16_t *dst, ptrdiff_t n, int kind)
{
    fsm_f32_to_half(kind, src, dst, n);
}

#endif /* FSM_HALFPREC_H */
