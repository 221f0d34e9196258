/*
 * fsm_halfprec.h -- 16-bit storage (float16, bfloat16) for the softmax family
 * and the fused cross-entropy with class-index targets: kernel_softmax_h16,
 * kernel_log_softmax_h16, kernel_logsumexp_h16 and kernel_ce_index_h16.
 *
 * The kernels compute exactly what the float32 kernels compute on the
 * float32 values of the input, and round each result once to the storage
 * type.  A block of rows (one driver chunk: ~16K elements, or one row) is
 * converted vector by vector into a float32 scratch block that stays in
 * cache, the float32 kernel runs on it (so every float32 intermediate, and
 * the order of every sum, is the float32 kernel's own), and the float32
 * results are rounded vector by vector into the 16-bit output.  The scratch
 * (the caller's, per thread) is O(one chunk), never N x C; the 16-bit input
 * and output are each read or written once in memory.
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
    for (ptrdiff_t i = 0; i < x.nrows; i++)
        fsm_half_to_f32(kind, x.data + i * x.stride, s + i * x.ncols, x.ncols);
    return (fsm_rows_f32){.data = s, .stride = x.ncols, .nrows = x.nrows, .ncols = x.ncols};
}

/* the contiguous float32 rows at s rounded into out (rows of stride ldo) */
FSM_INLINE void fsm_half_unstage(int kind, const float *s, uint16_t *out, ptrdiff_t ldo,
                                 ptrdiff_t nrows, ptrdiff_t ncols)
{
    for (ptrdiff_t i = 0; i < nrows; i++)
        fsm_f32_to_half(kind, s + i * ncols, out + i * ldo, ncols);
}

/* The kernels (fsm_kernel_list.h).  scratch: nrows * ncols floats (softmax,
 * log_softmax), plus nrows (logsumexp), or twice nrows * ncols (ce_index
 * with a gradient).  The float32 softmax and log_softmax run in place on the
 * scratch block (allowed, and the same results as out of place). */
FSM_INLINE void kernel_softmax_h16(fsm_half_rows x, fsm_half_out out, int kind, float *scratch)
{
    fsm_rows_f32 r = fsm_half_stage(kind, x, scratch);
    kernel_softmax_f32(r, (fsm_out_f32){.data = scratch, .stride = x.ncols});
    fsm_half_unstage(kind, scratch, out.data, out.stride, x.nrows, x.ncols);
}

FSM_INLINE void kernel_log_softmax_h16(fsm_half_rows x, fsm_half_out out, int kind, float *scratch)
{
    fsm_rows_f32 r = fsm_half_stage(kind, x, scratch);
    kernel_log_softmax_f32(r, (fsm_out_f32){.data = scratch, .stride = x.ncols});
    fsm_half_unstage(kind, scratch, out.data, out.stride, x.nrows, x.ncols);
}

FSM_INLINE void kernel_logsumexp_h16(fsm_half_rows x, uint16_t *out, int kind, float *scratch)
{
    float *lse = scratch + x.nrows * x.ncols;
    kernel_logsumexp_f32(fsm_half_stage(kind, x, scratch), lse);
    fsm_f32_to_half(kind, lse, out, x.nrows);
}

FSM_INLINE double kernel_ce_index_h16(fsm_half_rows x, const int64_t *target, const float *weight,
                                      const fsm_ce_options *opt, fsm_half_ce_out out, int kind,
                                      float *scratch)
{
    float *g = out.grad ? scratch + x.nrows * x.ncols : NULL;
    fsm_rows_f32 r = fsm_half_stage(kind, x, scratch);
    double total = kernel_ce_index_f32(
        r, target, weight, opt,
        (fsm_ce_out_f32){.loss_rows = out.loss_rows, .grad = g, .grad_stride = x.ncols});
    if (g) fsm_half_unstage(kind, g, out.grad, out.grad_stride, x.nrows, x.ncols);
    return total;
}

#endif /* FSM_HALFPREC_H */
