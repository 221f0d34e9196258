/*
 * fsm_elementwise.h -- elementwise kernels on n contiguous elements:
 * kernel_sigmoid, kernel_log_sigmoid and the test-only kernel_exp.  A
 * template, like fsm_rowpass.h.
 */
#include "fsm_simd.h"

#ifndef FSM_T
#error "a template: include fsm_type_f32.h or fsm_type_f64.h first"
#endif
#if (FSM_TID == 32 && !defined(FSM_ELEMENTWISE_F32)) || (FSM_TID == 64 && !defined(FSM_ELEMENTWISE_F64))
#if FSM_TID == 32
#define FSM_ELEMENTWISE_F32
#else
#define FSM_ELEMENTWISE_F64
#endif

/* Elementwise exp: test-only (FSM_TESTING_KERNELS), so that the tests can
 * check the vectorized exp against NumPy over the whole range. */
FSM_INLINE void FSM_FN(kernel_exp)(const FSM_T *x, FSM_T *out, ptrdiff_t n)
{
    ptrdiff_t j = 0;
    for (; j + FSM_LANES <= n; j += FSM_LANES) FSM_FN(fsm_storeu)(out + j, FSM_FN(fsm_vexp)(FSM_FN(fsm_loadu)(x + j)));
    if (j < n) FSM_FN(fsm_store_tail)(out + j, FSM_FN(fsm_vexp)(FSM_FN(fsm_load_tail)(x + j, n - j, 0)), n - j);
}

/* Elementwise exp(x - b), x <= b finite, by the row kernels' exponential:
 * fsm_vexp_near (near != 0: x within FSM_NEAR_RANGE of b) or the
 * compensated fsm_vexp_le.  Test-only, for their error bounds. */
FSM_INLINE void FSM_FN(kernel_exp_diff)(const FSM_T *x, FSM_T b, FSM_T *out, ptrdiff_t n, int near)
{
    const FSM_VT bv = FSM_FN(fsm_splat)(b);
    for (ptrdiff_t j = 0; j < n; j += FSM_LANES) {
        const ptrdiff_t len = n - j < FSM_LANES ? n - j : FSM_LANES;
        FSM_VT v = FSM_FN(fsm_load_tail)(x + j, len, b);
        FSM_FN(fsm_store_tail)(out + j, near ? FSM_FN(fsm_vexp_near)(v, bv) : FSM_FN(fsm_vexp_le)(v, bv), len);
    }
}

/* Logistic sigmoid (scipy.special.expit): with e = exp(-|x|) in (0, 1],
 * 1 / (1 + e) for x >= 0 and e / (1 + e) below, so nothing overflows and
 * tiny results keep their relative precision (subnormals included). */
FSM_INLINE FSM_VT FSM_FN(vsigmoid_e)(FSM_VT x)
{
    return FSM_FN(fsm_vexp)(FSM_FN(fsm_sel)(x < 0, x, -x));   /* exp(-|x|); NaN stays NaN */
}

FSM_INLINE void FSM_FN(kernel_sigmoid)(const FSM_T *x, FSM_T *out, ptrdiff_t n)
{
    const FSM_VT one = FSM_FN(fsm_splat)(1);
    ptrdiff_t j = 0;
    for (; j < n; j += FSM_LANES) {
        FSM_VT v = j + FSM_LANES <= n ? FSM_FN(fsm_loadu)(x + j) : FSM_FN(fsm_load_tail)(x + j, n - j, 0);
        FSM_VT e = FSM_FN(vsigmoid_e)(v), d = one + e;
        FSM_VT r = FSM_FN(fsm_sel)(v >= 0, one, e) / d;        /* NaN: e / d = NaN */
        if (j + FSM_LANES <= n) FSM_FN(fsm_storeu)(out + j, r);
        else FSM_FN(fsm_store_tail)(out + j, r, n - j);
    }
}

/* log(sigmoid(x)) = -(log1p(exp(-|x|)) - min(x, 0)) (scipy.special.log_expit):
 * never -inf for finite x, -0.0 for large x as SciPy. */
FSM_INLINE void FSM_FN(kernel_log_sigmoid)(const FSM_T *x, FSM_T *out, ptrdiff_t n)
{
    ptrdiff_t j = 0;
    for (; j < n; j += FSM_LANES) {
        FSM_VT v = j + FSM_LANES <= n ? FSM_FN(fsm_loadu)(x + j) : FSM_FN(fsm_load_tail)(x + j, n - j, 0);
        FSM_VT r = FSM_FN(fsm_vlog_sigmoid)(v, FSM_FN(vsigmoid_e)(v));
        r = FSM_FN(fsm_sel)(v != v, v, r);                 /* log1p kernel wants s >= 0 */
        if (j + FSM_LANES <= n) FSM_FN(fsm_storeu)(out + j, r);
        else FSM_FN(fsm_store_tail)(out + j, r, n - j);
    }
}

#endif
