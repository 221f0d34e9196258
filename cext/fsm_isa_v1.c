/* The kernels for the baseline level, with the compiler's own flags: see fsm_isa.h. */
#define FSM_LEVEL 1
#include "fsm_instances.h"
