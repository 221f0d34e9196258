/* The test-only kernels (fastsoftmax._testing) for x86-64-v3 (AVX2+FMA): see fsm_isa.h. */
#define FSM_LEVEL 3
#define FSM_INSTANCE_LIST FSM_TESTING_KERNELS
#include "fsm_instances.h"
