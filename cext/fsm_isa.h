/*
 * fsm_isa.h -- the kernels are compiled once per instruction set, each at its
 * native vector width (fsm_simd.h), into entry points suffixed by the level:
 *   _v4  x86-64-v4 (AVX-512), 64-byte vectors     fsm_isa_v4.c
 *   _v3  x86-64-v3 (AVX2+FMA), 32-byte vectors    fsm_isa_v3.c
 *   _v1  baseline, the compiler's own flags       fsm_isa_v1.c
 * (fsm_testing_v4.c, _v3.c, _v1.c: the test-only kernels, the same way.)
 * fsm_dispatch.c picks one level when the module is loaded (fsm_isa_init)
 * and the public functions of fsm_kernels.h call that level's entry points
 * through a table of function pointers.
 *
 * The v4 and v3 levels exist only with GCC >= 12 on x86-64 Linux
 * (per-function target attributes and __builtin_cpu_supports("x86-64-vN")),
 * and not when FASTSOFTMAX_NO_CLONES is defined; other compilers and
 * platforms get the baseline level only.
 *
 * This header also holds the macros that derive, from a kernel list of
 * fsm_kernel_list.h, each level's entry-point declarations, the dispatch
 * table and the forwarders; and, for a translation unit that defines
 * FSM_LEVEL (4, 3 or 1) before including it, that level's FSM_ISA (name
 * suffix), FSM_W (vector bytes) and FSM_TARGET (entry points' attribute).
 */
#ifndef FSM_ISA_H
#define FSM_ISA_H

#include "fsm_kernels.h"

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && defined(__x86_64__) && \
    defined(__linux__) && !defined(FASTSOFTMAX_NO_CLONES)
#define FSM_MULTI_ISA 1
#else
#define FSM_MULTI_ISA 0
#endif

/* The levels compiled in, best first: L(P, level, ISA, name); baseline last. */
#if FSM_MULTI_ISA
#define FSM_ISA_LEVELS(L, P)                                                               \
    L(P, 4, v4, "x86-64-v4 (AVX-512)")                                                     \
    L(P, 3, v3, "x86-64-v3 (AVX2+FMA)")                                                    \
    L(P, 1, v1, "baseline")
#define FSM_ISA_COMPILED "x86-64-v4 (AVX-512), x86-64-v3 (AVX2+FMA), baseline"
#else
#define FSM_ISA_LEVELS(L, P) L(P, 1, v1, "baseline")
#define FSM_ISA_COMPILED "baseline"
#endif

/* ret is void, int or double: the forwarders return the entry point's value */
#define FSM_RETURN_void
#define FSM_RETURN_int return
#define FSM_RETURN_double return

/* X macros over a kernel list (P is the level suffix ISA, or the table) */
#define FSM_ENTRY_DECL(ISA, SFX, ret, name, params, args)                                  \
    ret fsm_##name##_##SFX##_##ISA params;
#define FSM_ENTRY_FIELD(P, SFX, ret, name, params, args) ret (*name##_##SFX) params;
#define FSM_ENTRY_INIT(ISA, SFX, ret, name, params, args) fsm_##name##_##SFX##_##ISA,
#define FSM_FORWARDER(CUR, SFX, ret, name, params, args)                                   \
    ret fsm_##name##_##SFX params { FSM_RETURN_##ret CUR->name##_##SFX args; }

/* Over both element types */
#define FSM_BOTH_TYPES(LIST, X, P) LIST(X, P, float, f32) LIST(X, P, double, f64)
/* L of FSM_ISA_LEVELS: one level's entry-point declarations */
#define FSM_LEVEL_DECLS(LIST, level, ISA, name) FSM_BOTH_TYPES(LIST, FSM_ENTRY_DECL, ISA)
/* L of FSM_ISA_LEVELS: one level's dispatch table entry */
#define FSM_LEVEL_TABLE(LIST, level, ISA, name)                                            \
    {level, name, FSM_BOTH_TYPES(LIST, FSM_ENTRY_INIT, ISA)},

/* The dispatch table type of a kernel list: the level, its name, one function
 * pointer per kernel and type. */
#define FSM_TABLE_FIELDS(LIST)                                                             \
    int level;  /* 1, 3 or 4 */                                                            \
    const char *name;                                                                      \
    FSM_BOTH_TYPES(LIST, FSM_ENTRY_FIELD, _)

/* ------------------------------------------------------- one level's unit */
#ifdef FSM_LEVEL
#if FSM_LEVEL == 4
#define FSM_ISA v4
#define FSM_W 64
#elif FSM_LEVEL == 3
#define FSM_ISA v3
#define FSM_W 32
#elif FSM_LEVEL == 1
/* the baseline, built with the compiler's own flags (SSE2 on x86-64, NEON on
 * arm64, ...): the vector width follows those flags (a build with
 * -march=native on an AVX-512 machine gets 64-byte vectors) */
#define FSM_ISA v1
#if defined(__AVX512F__) && defined(__AVX512BW__)
#define FSM_W 64
#elif defined(__AVX2__)
#define FSM_W 32
#else
#define FSM_W 16
#endif
#else
#error "FSM_LEVEL must be 4, 3 or 1"
#endif
/* Whether this level is compiled in (v4 and v3 only with FSM_MULTI_ISA). */
#define FSM_LEVEL_ENABLED (FSM_LEVEL == 1 || FSM_MULTI_ISA)
/* On the entry points only: the always_inline helpers they call are compiled
 * inside them.  (A "#pragma GCC target" for the whole file made GCC fold the
 * vector selects into two-instruction xor blends: short rows 15% slower.) */
#if FSM_LEVEL == 4
#define FSM_TARGET __attribute__((target("arch=x86-64-v4")))
#elif FSM_LEVEL == 3
#define FSM_TARGET __attribute__((target("arch=x86-64-v3")))
#else
#define FSM_TARGET
#endif
#endif /* FSM_LEVEL */

#endif /* FSM_ISA_H */
