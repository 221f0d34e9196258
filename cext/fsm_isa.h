/*
 * fsm_isa.h -- the kernels are compiled once per instruction set, each at its
 * native vector width (fsm_simd.h), into functions suffixed by the level:
 *   _v4  x86-64-v4 (AVX-512), 64-byte vectors     fsm_rowops_v4.c
 *   _v3  x86-64-v3 (AVX2+FMA), 32-byte vectors    fsm_rowops_v3.c
 *   _v1  baseline, the compiler's own flags       fsm_rowops_v1.c
 * fsm_rowops.c picks one level when the module is loaded (fsm_isa_init) and
 * the public functions of fsm_rowops.h call that level's kernels.
 *
 * The v4 and v3 levels exist only with GCC >= 12 on x86-64 (per-function
 * target pragmas and __builtin_cpu_supports("x86-64-vN")), and not when
 * FASTSOFTMAX_NO_CLONES is defined; other compilers and platforms get the
 * baseline level only.
 */
#ifndef FSM_ISA_H
#define FSM_ISA_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && defined(__x86_64__) && \
    defined(__linux__) && !defined(FASTSOFTMAX_NO_CLONES)
#define FSM_MULTI_ISA 1
#else
#define FSM_MULTI_ISA 0
#endif

#define FSM_CAT2(a, b) a##_##b
#define FSM_CAT(a, b) FSM_CAT2(a, b)

#define FSM_DECLARE_ISA(T, SFX, ISA)                                                          \
    void fsm_softmax_##SFX##_##ISA(const T *x, ptrdiff_t ldx, T *out, ptrdiff_t ldo,         \
                                   ptrdiff_t nrows, ptrdiff_t ncols);                         \
    void fsm_log_softmax_##SFX##_##ISA(const T *x, ptrdiff_t ldx, T *out, ptrdiff_t ldo,     \
                                       ptrdiff_t nrows, ptrdiff_t ncols);                     \
    void fsm_logsumexp_##SFX##_##ISA(const T *x, ptrdiff_t ldx, T *out,                      \
                                     ptrdiff_t nrows, ptrdiff_t ncols);                       \
    void fsm_exp_##SFX##_##ISA(const T *x, T *out, ptrdiff_t n);                             \
    void fsm_sigmoid_##SFX##_##ISA(const T *x, T *out, ptrdiff_t n);                         \
    void fsm_log_sigmoid_##SFX##_##ISA(const T *x, T *out, ptrdiff_t n);                     \
    double fsm_ce_index_##SFX##_##ISA(const T *x, ptrdiff_t ldx, ptrdiff_t nrows,            \
                                      ptrdiff_t ncols, const int64_t *target,                 \
                                      int64_t ignore_index, const T *weight, double wsum,     \
                                      double eps, double z_loss, double *loss_rows, T *grad,  \
                                      ptrdiff_t ldg,                                          \
                                      double scale);                                          \
    double fsm_ce_prob_##SFX##_##ISA(const T *x, ptrdiff_t ldx, ptrdiff_t nrows,             \
                                     ptrdiff_t ncols, const T *t, ptrdiff_t ldt,              \
                                     const T *weight, double eps, double z_loss,              \
                                     double *loss_rows, T *grad,                              \
                                     ptrdiff_t ldg, double scale);

#define FSM_DECLARE_LEVEL(ISA) FSM_DECLARE_ISA(float, f32, ISA) FSM_DECLARE_ISA(double, f64, ISA)

FSM_DECLARE_LEVEL(v1)
#if FSM_MULTI_ISA
FSM_DECLARE_LEVEL(v3)
FSM_DECLARE_LEVEL(v4)
#endif

#endif /* FSM_ISA_H */
