/*
 * fsm_kernels.h -- the C interface of the kernels, called by the Cython
 * drivers (_core.pyx; _testing.pyx for the test-only ones).
 *
 * Contract (the callers guarantee it, nothing is validated): every pointer
 * is aligned for its type; row i of a block is at data + i * stride with
 * stride >= ncols (the drivers pass C-contiguous blocks, stride == ncols,
 * which the short-row paths need: other strides take the general path);
 * outputs never partially overlap inputs (out == x, exactly in place, is
 * allowed for softmax and log_softmax only); class indices are in
 * [0, ncols) or equal to ignore_index.  The kernels never allocate on the
 * heap and never touch Python objects.  Deterministic per row: each row is
 * computed with a fixed order of operations, so its result does not depend
 * on the rows around it, on how rows are split between calls or threads,
 * nor on the thread that computes it; the cross-entropy's returned loss
 * sum adds the rows of one call in order.
 *
 * The functions and structs are generated from fsm_kernel_list.h:
 *   void fsm_softmax_f32(fsm_rows_f32 x, fsm_out_f32 out), ... _f64, etc.
 * Each runs the kernels of the ISA level chosen by fsm_isa_init.
 */
#ifndef FSM_KERNELS_H
#define FSM_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include "fsm_kernel_list.h"

#define FSM_STRUCT_FIELD(type, name) type name;
#define FSM_TYPED_STRUCT(P, name, FIELDS)                                                  \
    typedef struct { FIELDS(FSM_STRUCT_FIELD, float) } fsm_##name##_f32;                   \
    typedef struct { FIELDS(FSM_STRUCT_FIELD, double) } fsm_##name##_f64;
#define FSM_UNTYPED_STRUCT(P, name, FIELDS)                                                \
    typedef struct { FIELDS(FSM_STRUCT_FIELD, void) } fsm_##name;
FSM_TYPED_STRUCTS(FSM_TYPED_STRUCT, _)
FSM_UNTYPED_STRUCTS(FSM_UNTYPED_STRUCT, _)

#define FSM_PUBLIC_DECL(P, SFX, ret, name, params, args) ret fsm_##name##_##SFX params;
FSM_KERNELS(FSM_PUBLIC_DECL, _, float, f32)
FSM_KERNELS(FSM_PUBLIC_DECL, _, double, f64)
/* defined in the test-only module only */
FSM_TESTING_KERNELS(FSM_PUBLIC_DECL, _, float, f32)
FSM_TESTING_KERNELS(FSM_PUBLIC_DECL, _, double, f64)

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

/* Test-only module: runs the level named name (one of the names
 * fsm_isa_selected returns); returns 0 if there is none of that name. */
int fsm_testing_select(const char *name);

#endif /* FSM_KERNELS_H */
