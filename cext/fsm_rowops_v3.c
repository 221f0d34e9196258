/* The kernels for x86-64-v3 (AVX2+FMA), on 32-byte vectors: see fsm_isa.h. */
#include "fsm_isa.h"
#if FSM_MULTI_ISA
#include <math.h>
#include <string.h>
/* on the entry points only: the always_inline helpers they call are compiled
 * inside them.  (A "#pragma GCC target" for the whole file made GCC fold the
 * vector selects into two-instruction xor blends: short rows 15% slower.) */
#define FSM_TARGET __attribute__((target("arch=x86-64-v3")))
#define FSM_ISA v3
#define FSM_W 32
#include "fsm_kernels.h"
#else
typedef int fsm_rowops_v3_empty;   /* ISO C: no empty translation unit */
#endif
