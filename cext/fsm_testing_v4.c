/* The test-only kernels (fastsoftmax._testing) for x86-64-v4 (AVX-512): see fsm_isa.h. */
#define FSM_LEVEL 4
#define FSM_INSTANCE_LIST FSM_TESTING_KERNELS
#include "fsm_instances.h"
