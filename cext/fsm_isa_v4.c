/* The kernels for x86-64-v4 (AVX-512), on 64-byte vectors: see fsm_isa.h. */
#define FSM_LEVEL 4
#include "fsm_instances.h"
