/*
 * fsm_type_f32.h -- binds the type parameters of the templates (fsm_simd_t.h
 * and the kernel headers) to float32: the element and vector types, and the
 * constants of the vectorised exp.  fsm_type_undef.h unbinds them.
 */
#define FSM_T float
#define FSM_SFX f32
#define FSM_TID 32                    /* for the templates' per-type guards */
#define FSM_FN(name) name##_f32       /* name of a per-type function */
#define FSM_UT uint32_t               /* unsigned integer of the same width */
#define FSM_VT fsm_vf                 /* vector of FSM_T */
#define FSM_IVT fsm_vi                /* signed integer vector, same lanes (masks) */
#define FSM_UVT fsm_vu                /* unsigned integer vector, same lanes */
#define FSM_LANES FSM_LANES_f32
#define FSM_SIGN_SHIFT 31             /* arithmetic shift that spreads the sign bit */
#define FSM_DACC fsm_dacc_f32         /* double accumulator of FSM_VT sums */
#define FSM_BUTTERFLY FSM_BUTTERFLY_f32
#define FSM_IOTA FSM_IOTA_f32

/* exp: x = k ln2 + r, |r| <= ln2/2; exp(r) = 1 + r + r^2 p(r), p of degree 4
 * (coefficients highest first), fitted for the least maximum relative error
 * of the whole over |r| <= ln2/2: 0.84 ulp with float32 Horner steps, as
 * Cephes' degree-5 p, one multiply-add fewer */
#define FSM_EXP_POLY 1.3814612757e-03f, 8.3687100559e-03f, 4.1668388993e-02f, 1.6666521132e-01f, \
                     4.9999994040e-01f
#define FSM_EXP_MAGIC 12582912.0f     /* 1.5 * 2^23: k from the bits of x/ln2 + magic */
#define FSM_EXP_MAGIC_BITS 0x4b400000u
#define FSM_EXP_CLAMP_HI 89.0f        /* the argument's clamp (then inf by itself) */
#define FSM_EXP_CLAMP_LO -104.0f
#define FSM_EXP_ZERO 103.97820281982422f  /* below -FSM_EXP_ZERO: exp is 0 */
#define FSM_LOG2E 1.44269504088896341f
#define FSM_LN2_HI 0.693359375f       /* ln2 split: k * FSM_LN2_HI exact */
#define FSM_LN2_LO -2.12194440e-4f
#define FSM_NEAR_RANGE FSM_NEAR_RANGE_f32   /* fsm_simd.h: where fsm_vexp_near applies */
#define FSM_ASM_SFX "ps"              /* the packed-single suffix of x86 mnemonics */
#define FSM_MANT_BITS 23
#define FSM_EXP_BIAS 127
#define FSM_TWO_M64 5.42101086242752217e-20f  /* 2^-64 */
