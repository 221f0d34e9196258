/*
 * fsm_type_f64.h -- binds the type parameters of the templates (fsm_simd_t.h
 * and the kernel headers) to float64: see fsm_type_f32.h.
 */
#define FSM_T double
#define FSM_SFX f64
#define FSM_TID 64
#define FSM_FN(name) name##_f64
#define FSM_UT uint64_t
#define FSM_VT fsm_vd
#define FSM_IVT fsm_vl
#define FSM_UVT fsm_vul
#define FSM_LANES FSM_LANES_f64
#define FSM_SIGN_SHIFT 63
#define FSM_DACC fsm_dacc_f64
#define FSM_BUTTERFLY FSM_BUTTERFLY_f64
#define FSM_IOTA FSM_IOTA_f64

/* exp: the Taylor polynomial of degree 13 on |r| <= ln2/2 (truncation
 * < 5e-18): p(r) = (exp(r) - 1 - r) / r^2, coefficients 1/13! ... 1/2! */
#define FSM_EXP_POLY 1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, \
                     1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0,     \
                     1.0 / 24.0, 1.0 / 6.0, 0.5
#define FSM_EXP_MAGIC 6755399441055744.0   /* 1.5 * 2^52 */
#define FSM_EXP_MAGIC_BITS 0x4338000000000000ull
#define FSM_EXP_CLAMP_HI 710.0
#define FSM_EXP_CLAMP_LO -746.0
#define FSM_EXP_ZERO 745.1332191019412
#define FSM_LOG2E 1.4426950408889634074
#define FSM_LN2_HI 6.93147180369123816490e-01  /* fdlibm ln2 split */
#define FSM_LN2_LO 1.90821492927058770002e-10
/* float64 keeps the compensated difference everywhere (its 8 eps bound) */
#define FSM_NEAR_RANGE 0.0
#define FSM_ASM_SFX "pd"
#define FSM_MANT_BITS 52
#define FSM_EXP_BIAS 1023
#define FSM_TWO_M64 5.42101086242752217e-20
