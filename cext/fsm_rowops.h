/*
 * fsm_rowops.h -- row-block kernels called by the Cython drivers (_kernels.pyx).
 *
 * Each function processes rows [0, nrows) of a row-major block whose rows are
 * ld elements apart.  They never allocate, never validate and never touch
 * Python objects: the Python layer has already checked everything and the
 * Cython layer hands each OpenMP thread its own range of rows.  Every row is
 * computed by exactly one call with a fixed order of operations, so results
 * do not depend on how rows are split between threads.
 */
#ifndef FSM_ROWOPS_H
#define FSM_ROWOPS_H

#include <stddef.h>
#include <stdint.h>

#define FSM_DECLARE(T, SFX)                                                        \
    void fsm_softmax_##SFX(const T *x, ptrdiff_t ldx, T *out, ptrdiff_t ldo,      \
                           ptrdiff_t nrows, ptrdiff_t ncols);                      \
    void fsm_log_softmax_##SFX(const T *x, ptrdiff_t ldx, T *out, ptrdiff_t ldo,  \
                               ptrdiff_t nrows, ptrdiff_t ncols);                  \
    void fsm_logsumexp_##SFX(const T *x, ptrdiff_t ldx, T *out,                   \
                             ptrdiff_t nrows, ptrdiff_t ncols);              \
    void fsm_exp_##SFX(const T *x, T *out, ptrdiff_t n);                          \
    void fsm_sigmoid_##SFX(const T *x, T *out, ptrdiff_t n);                      \
    void fsm_log_sigmoid_##SFX(const T *x, T *out, ptrdiff_t n);                  \
    double fsm_ce_index_##SFX(const T *x, ptrdiff_t ldx, ptrdiff_t nrows, ptrdiff_t ncols, \
                              const int64_t *target, int64_t ignore_index,         \
                              const T *weight, double wsum, double eps,            \
                              double z_loss, double *loss_rows, T *grad,           \
                              ptrdiff_t ldg, double scale);                        \
    double fsm_ce_prob_##SFX(const T *x, ptrdiff_t ldx, ptrdiff_t nrows, ptrdiff_t ncols, \
                             const T *t, ptrdiff_t ldt, const T *weight, double eps, \
                             double z_loss, double *loss_rows, T *grad, ptrdiff_t ldg, \
                             double scale);

FSM_DECLARE(float, f32)
FSM_DECLARE(double, f64)

#undef FSM_DECLARE

/* Chooses the ISA level the functions above run (call once, at load time,
 * before any kernel runs): the best the CPU supports, or at most the one
 * named by request ("avx512", "avx2", "baseline"; NULL or "" for automatic).
 * Returns 0, 1 if request is not a known name (automatic choice made), or 2
 * if the requested level is not available (not compiled in or not supported
 * by this CPU: the best available one below it is used). */
int fsm_isa_init(const char *request);
/* Name of the instruction set the kernels dispatch to. */
const char *fsm_isa_selected(void);
/* Comma-separated list of the instruction sets compiled in. */
const char *fsm_isa_compiled(void);

#endif /* FSM_ROWOPS_H */
