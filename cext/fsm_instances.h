/*
 * fsm_instances.h -- one ISA level's entry points.  Included once by each
 * fsm_isa_v*.c (fsm_testing_v*.c), which defines FSM_LEVEL (and, for the
 * test-only kernels, FSM_INSTANCE_LIST): for each kernel of the list
 * (default FSM_KERNELS) and each element type, defines
 *   FSM_TARGET ret fsm_<name>_<sfx>_<isa>(params) { kernel_<name>_<sfx>(args) }
 * where kernel_<name>_<sfx> is the always-inline implementation of the
 * kernel headers, so that it is compiled inside the entry point, for its ISA.
 */
#include "fsm_isa.h"

#if FSM_LEVEL_ENABLED
#ifndef FSM_INSTANCE_LIST
#define FSM_INSTANCE_LIST FSM_KERNELS
#endif

#include "fsm_simd.h"

/* declared first: the compiler checks each definition against the list */
FSM_BOTH_TYPES(FSM_INSTANCE_LIST, FSM_ENTRY_DECL, FSM_ISA)

#define FSM_ENTRY_DEF(ISA, SFX, ret, name, params, args)                                   \
    FSM_TARGET ret fsm_##name##_##SFX##_##ISA params                                       \
    { FSM_RETURN_##ret kernel_##name##_##SFX args; }

#include "fsm_type_f32.h"
#include "fsm_softmax.h"
#include "fsm_elementwise.h"
#include "fsm_crossentropy.h"
#include "fsm_focal.h"
#include "fsm_gradient_boosting.h"
#include "fsm_backward.h"
#include "fsm_divergence.h"
#include "fsm_halfprec.h"   /* 16-bit storage: calls the float32 kernels above */
FSM_INSTANCE_LIST(FSM_ENTRY_DEF, FSM_ISA, float, f32)
#include "fsm_type_undef.h"

#include "fsm_type_f64.h"
#include "fsm_softmax.h"
#include "fsm_elementwise.h"
#include "fsm_crossentropy.h"
#include "fsm_focal.h"
#include "fsm_gradient_boosting.h"
#include "fsm_backward.h"
#include "fsm_divergence.h"
FSM_INSTANCE_LIST(FSM_ENTRY_DEF, FSM_ISA, double, f64)
#include "fsm_type_undef.h"

#else
typedef int fsm_instances_empty;   /* ISO C: no empty translation unit */
#endif
