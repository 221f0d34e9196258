/*
 * fsm_kernel_list.h -- the one list of the kernels and of their argument
 * structs.  Everything else is derived from it:
 *   fsm_kernels.h       the structs and the public (dispatching) functions;
 *   fsm_isa.h           each ISA level's entry points, the dispatch tables
 *                       and the forwarders (used by fsm_dispatch.c,
 *                       fsm_testing.c and fsm_instances.h);
 *   fsm_kernels.pxd.in  the Cython declarations: setup.py runs the C
 *                       preprocessor on it into cext/fsm_kernels.pxd.
 * Adding a kernel: one X line below and its inline implementation
 * kernel_<name> (FSM_FN(kernel_<name>)) in the kernel header of its role,
 * taking the parameters of the X line.  Adding an option: one field in its
 * struct's list and the kernel that reads it (and the driver that sets it).
 *
 * No #include and no declaration here, only lists: the Cython template
 * includes this file and nothing else.
 */
#ifndef FSM_KERNEL_LIST_H
#define FSM_KERNEL_LIST_H

/* ------------------------------------------------------------ structs
 * A struct's fields: F(type, name); T is the element type (float or double)
 * for the structs that have one.  Pointers may be NULL only where said. */

/* Rows [0, nrows) of ncols elements each; row i starts at data + i * stride. */
#define FSM_ROWS_FIELDS(F, T)                                                              \
    F(const T *, data)                                                                     \
    F(ptrdiff_t, stride)                                                                   \
    F(ptrdiff_t, nrows)                                                                    \
    F(ptrdiff_t, ncols)

/* Where a row kernel writes row i: data + i * stride (the input's shape). */
#define FSM_OUT_FIELDS(F, T)                                                               \
    F(T *, data)                                                                           \
    F(ptrdiff_t, stride)

/* The scalar options of the fused cross-entropy (both target kinds; the
 * kernel reads those its target kind uses). */
#define FSM_CE_OPTIONS_FIELDS(F, T)                                                        \
    F(int64_t, ignore_index)     /* index targets: rows with it count 0 */                 \
    F(double, weight_sum)        /* index targets: sum of the class weights (ncols if none) */ \
    F(double, label_smoothing)   /* in [0, 1] */                                           \
    F(double, z_loss)            /* >= 0: z_loss * lse**2 per counted row */               \
    F(double, grad_scale)        /* the gradient's factor (1/denominator for "mean") */     \
    F(const double *, sample_weight) /* row i's loss and gradient times [i], or NULL */

/* What the fused cross-entropy writes besides the returned loss sum. */
#define FSM_CE_OUT_FIELDS(F, T)                                                            \
    F(double *, loss_rows)       /* (nrows,) per-row losses, or NULL */                    \
    F(T *, grad)                 /* (nrows, ncols) gradient, or NULL */                    \
    F(ptrdiff_t, grad_stride)

/* The scalar options of the softmax focal loss (fsm_focal.h). */
#define FSM_FOCAL_OPTIONS_FIELDS(F, T)                                                     \
    F(int64_t, ignore_index)     /* rows with it count 0 */                                \
    F(double, gamma)             /* the focusing exponent, >= 0 */                         \
    F(double, grad_scale)        /* the gradient's factor (1/denominator for "mean") */

/* The scalar options of the sigmoid focal loss (fsm_focal.h). */
#define FSM_SFOCAL_OPTIONS_FIELDS(F, T)                                                    \
    F(double, gamma)             /* the focusing exponent, >= 0 */                         \
    F(double, alpha)             /* the positives' weight (when use_alpha) */              \
    F(int, use_alpha)            /* 0: no alpha weighting */                               \
    F(double, grad_scale)        /* the gradient's factor (1/n for "mean") */

/* The scalar options of the distillation loss (kernel distill). */
#define FSM_DISTILL_OPTIONS_FIELDS(F, T)                                                   \
    F(int64_t, ignore_index)     /* rows with this target have no cross-entropy term */    \
    F(double, inv_temperature)   /* 1 / T, T finite > 0 */                                 \
    F(double, ce_scale)          /* the cross-entropy gradient's factor (0: none) */       \
    F(double, kl_scale)          /* the KL gradient's factor (0: none) */

/* What the distillation kernel writes. */
#define FSM_DISTILL_OUT_FIELDS(F, T)                                                       \
    F(double *, ce_sum)          /* the counted rows' summed cross-entropy */              \
    F(double *, kl_sum)          /* every row's summed KL divergence */                    \
    F(T *, grad)                 /* (nrows, ncols) gradient, or NULL */                    \
    F(ptrdiff_t, grad_stride)

/* 16-bit storage (fsm_halfprec.h): rows of float16 or bfloat16 codes, as
 * fsm_rows / fsm_out / fsm_ce_out with uint16_t elements. */
#define FSM_HALF_ROWS_FIELDS(F, T)                                                         \
    F(const uint16_t *, data)                                                              \
    F(ptrdiff_t, stride)                                                                   \
    F(ptrdiff_t, nrows)                                                                    \
    F(ptrdiff_t, ncols)
#define FSM_HALF_OUT_FIELDS(F, T)                                                          \
    F(uint16_t *, data)                                                                    \
    F(ptrdiff_t, stride)
#define FSM_HALF_CE_OUT_FIELDS(F, T)                                                       \
    F(double *, loss_rows)       /* (nrows,) per-row losses, or NULL */                    \
    F(uint16_t *, grad)          /* (nrows, ncols) gradient, or NULL */                    \
    F(ptrdiff_t, grad_stride)

/* The structs: S(P, name, FIELDS); a typed struct is fsm_<name>_f32 and
 * fsm_<name>_f64, an untyped one fsm_<name>.  P is passed through. */
#define FSM_TYPED_STRUCTS(S, P)                                                            \
    S(P, rows, FSM_ROWS_FIELDS)                                                            \
    S(P, out, FSM_OUT_FIELDS)                                                              \
    S(P, ce_out, FSM_CE_OUT_FIELDS)                                                        \
    S(P, distill_out, FSM_DISTILL_OUT_FIELDS)
#define FSM_UNTYPED_STRUCTS(S, P)                                                          \
    S(P, ce_options, FSM_CE_OPTIONS_FIELDS)                                                \
    S(P, focal_options, FSM_FOCAL_OPTIONS_FIELDS)                                          \
    S(P, sfocal_options, FSM_SFOCAL_OPTIONS_FIELDS)                                        \
    S(P, distill_options, FSM_DISTILL_OPTIONS_FIELDS)                                      \
    S(P, half_rows, FSM_HALF_ROWS_FIELDS)                                                  \
    S(P, half_out, FSM_HALF_OUT_FIELDS)                                                    \
    S(P, half_ce_out, FSM_HALF_CE_OUT_FIELDS)

/* ------------------------------------------------------------ kernels
 * X(P, SFX, ret, name, (parameters), (arguments)) for element type T and
 * name suffix SFX (f32, f64); ret is void, int or double; P is passed through.
 * The public function is fsm_<name>_<SFX>, the entry point of ISA level v
 * fsm_<name>_<SFX>_<v>, the inline implementation kernel_<name>_<SFX>. */

/* The production kernels (fastsoftmax._core). */
#define FSM_KERNELS(X, P, T, SFX)                                                          \
    X(P, SFX, void, softmax, (fsm_rows_##SFX x, fsm_out_##SFX out), (x, out))              \
    X(P, SFX, void, log_softmax, (fsm_rows_##SFX x, fsm_out_##SFX out), (x, out))          \
    X(P, SFX, void, logsumexp, (fsm_rows_##SFX x, T *out), (x, out))                       \
    X(P, SFX, void, sigmoid, (const T *x, T *out, ptrdiff_t n), (x, out, n))               \
    X(P, SFX, void, log_sigmoid, (const T *x, T *out, ptrdiff_t n), (x, out, n))           \
    X(P, SFX, double, ce_index,                                                            \
      (fsm_rows_##SFX x, const int64_t *target, const T *weight,                           \
       const fsm_ce_options *opt, fsm_ce_out_##SFX out),                                   \
      (x, target, weight, opt, out))                                                       \
    X(P, SFX, double, ce_prob,                                                             \
      (fsm_rows_##SFX x, fsm_rows_##SFX target, const T *weight,                           \
       const fsm_ce_options *opt, fsm_ce_out_##SFX out),                                   \
      (x, target, weight, opt, out))                                                       \
    X(P, SFX, double, focal_index,                                                         \
      (fsm_rows_##SFX x, const int64_t *target, const T *alpha,                            \
       const fsm_focal_options *opt, fsm_ce_out_##SFX out),                                \
      (x, target, alpha, opt, out))                                                        \
    X(P, SFX, double, sigmoid_focal,                                                       \
      (const T *x, const T *target, const fsm_sfocal_options *opt, T *loss, T *grad,       \
       ptrdiff_t n),                                                                       \
      (x, target, opt, loss, grad, n))                                                     \
    X(P, SFX, void, ce_grad_hess,                                                          \
      (fsm_rows_##SFX x, const int64_t *target, const T *sample_weight,                    \
       fsm_out_##SFX grad, fsm_out_##SFX hess),                                            \
      (x, target, sample_weight, grad, hess))                                              \
    X(P, SFX, int, bce_grad_hess,                                                          \
      (const T *x, const T *target, const T *sample_weight, T *grad, T *hess, ptrdiff_t n), \
      (x, target, sample_weight, grad, hess, n))                                           \
    X(P, SFX, void, softmax_backward,                                                      \
      (fsm_rows_##SFX grad_output, fsm_rows_##SFX output, fsm_out_##SFX out),              \
      (grad_output, output, out))                                                          \
    X(P, SFX, void, log_softmax_backward,                                                  \
      (fsm_rows_##SFX grad_output, fsm_rows_##SFX output, fsm_out_##SFX out),              \
      (grad_output, output, out))                                                          \
    X(P, SFX, double, kl_div, (const T *x, const T *t, T *out, ptrdiff_t n, int log_target), \
      (x, t, out, n, log_target))                                                          \
    X(P, SFX, void, distill,                                                               \
      (fsm_rows_##SFX s, fsm_rows_##SFX t, const int64_t *target,                          \
       const fsm_distill_options *opt, fsm_distill_out_##SFX out),                         \
      (s, t, target, opt, out))                                                            \
    FSM_HALF_KERNELS_##SFX(X, P)

/* The 16-bit storage kernels (fsm_halfprec.h), listed with the float32 ones
 * (they compute in float32; name suffix h16): kind is 0 for float16, 1 for
 * bfloat16; scratch is the caller's float32 block (see fsm_halfprec.h).  widen and
 * narrow are the conversions alone (n codes to float32, exact; n floats to codes,
 * rounded to nearest even): the drivers that stage chunks for the float32 kernels
 * of the other functions use them. */
#define FSM_HALF_KERNELS_f64(X, P)
#define FSM_HALF_KERNELS_f32(X, P)                                                         \
    X(P, h16, void, softmax, (fsm_half_rows x, fsm_half_out out, int kind, float *scratch), \
      (x, out, kind, scratch))                                                             \
    X(P, h16, void, log_softmax,                                                           \
      (fsm_half_rows x, fsm_half_out out, int kind, float *scratch), (x, out, kind, scratch)) \
    X(P, h16, void, logsumexp, (fsm_half_rows x, uint16_t *out, int kind, float *scratch),  \
      (x, out, kind, scratch))                                                             \
    X(P, h16, double, ce_index,                                                            \
      (fsm_half_rows x, const int64_t *target, const float *weight,                        \
       const fsm_ce_options *opt, fsm_half_ce_out out, int kind, float *scratch),          \
      (x, target, weight, opt, out, kind, scratch))                                        \
    X(P, h16, void, widen, (const uint16_t *src, float *dst, ptrdiff_t n, int kind),       \
      (src, dst, n, kind))                                                                 \
    X(P, h16, void, narrow, (const float *src, uint16_t *dst, ptrdiff_t n, int kind),      \
      (src, dst, n, kind))

/* The test-only kernels (fastsoftmax._testing): not in the production module. */
#define FSM_TESTING_KERNELS(X, P, T, SFX)                                                  \
    X(P, SFX, void, exp, (const T *x, T *out, ptrdiff_t n), (x, out, n))                   \
    X(P, SFX, void, exp_diff, (const T *x, T b, T *out, ptrdiff_t n, int near),            \
      (x, b, out, n, near))

#endif /* FSM_KERNEL_LIST_H */
