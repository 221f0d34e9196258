/*
 * fsm_rowops.c -- instantiates the row kernels for float32 and float64 and
 * compiles each entry point for several instruction sets.
 *
 * GCC function multiversioning (target_clones) builds one copy per ISA and an
 * ifunc resolver that picks the best one when the library is loaded, so one
 * wheel built for baseline x86-64 still runs AVX-512 code on CPUs that have it
 * and AVX2+FMA code on those (like many AMD EPYCs) that stop there.
 * FASTSOFTMAX_NO_CLONES (set by setup.py) turns this off, e.g. for compilers
 * or platforms without ifunc support.
 */
#include <math.h>
#include "fsm_simd.h"
#include "fsm_rowops.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    defined(__linux__) && !defined(FASTSOFTMAX_NO_CLONES)
#define FSM_HAVE_CLONES 1
#define FSM_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FSM_HAVE_CLONES 0
#define FSM_CLONES
#endif

#define FSM_CAT2(a, b) a##_##b
#define FSM_CAT(a, b) FSM_CAT2(a, b)
#define FN(name) FSM_CAT(name, SFX)
#define LANES FSM_CAT(FSM_LANES, SFX)
#define DACC FSM_CAT(fsm_dacc, SFX)

#define T float
#define SFX f32
#define VT fsm_vf
#define IVT fsm_vi
#define SHIFT 31
#include "fsm_rowcore_impl.h"
#include "fsm_rowops_impl.h"
#include "fsm_losses_impl.h"
#undef T
#undef SFX
#undef VT
#undef IVT
#undef SHIFT

#define T double
#define SFX f64
#define VT fsm_vd
#define IVT fsm_vl
#define SHIFT 63
#include "fsm_rowcore_impl.h"
#include "fsm_rowops_impl.h"
#include "fsm_losses_impl.h"
#undef T
#undef SFX
#undef VT
#undef IVT
#undef SHIFT

const char *fsm_isa_compiled(void)
{
#if FSM_HAVE_CLONES
    return "x86-64-v4 (AVX-512), x86-64-v3 (AVX2+FMA), baseline";
#else
    return "baseline";
#endif
}

const char *fsm_isa_selected(void)
{
#if FSM_HAVE_CLONES
    /* the same tests the ifunc resolver makes for these arch levels */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4")) return "x86-64-v4 (AVX-512)";
    if (__builtin_cpu_supports("x86-64-v3")) return "x86-64-v3 (AVX2+FMA)";
    return "baseline";
#else
    return "baseline";
#endif
}
