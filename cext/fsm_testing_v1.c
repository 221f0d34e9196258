/* The test-only kernels (fastsoftmax._testing) for the baseline level: see fsm_isa.h. */
#define FSM_LEVEL 1
#define FSM_INSTANCE_LIST FSM_TESTING_KERNELS
#include "fsm_instances.h"
