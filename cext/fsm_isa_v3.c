/* The kernels for x86-64-v3 (AVX2+FMA), on 32-byte vectors: see fsm_isa.h. */
#define FSM_LEVEL 3
#include "fsm_instances.h"
