/*
 * fsm_testing.c -- dispatch of the test-only kernels (fastsoftmax._testing),
 * built like fsm_dispatch.c from their own list, FSM_TESTING_KERNELS.  The
 * level is not chosen here: fsm_testing_select runs the one whose name the
 * production module (fastsoftmax._core) reports, so the tests check the code
 * the kernels really run.
 */
#include <string.h>
#include "fsm_isa.h"

FSM_ISA_LEVELS(FSM_LEVEL_DECLS, FSM_TESTING_KERNELS)

typedef struct { FSM_TABLE_FIELDS(FSM_TESTING_KERNELS) } fsm_testing_table;

static const fsm_testing_table fsm_testing_tables[] = {
    FSM_ISA_LEVELS(FSM_LEVEL_TABLE, FSM_TESTING_KERNELS)
};
#define FSM_NTESTING ((int)(sizeof fsm_testing_tables / sizeof fsm_testing_tables[0]))

static const fsm_testing_table *fsm_testing_cur = &fsm_testing_tables[FSM_NTESTING - 1];

FSM_BOTH_TYPES(FSM_TESTING_KERNELS, FSM_FORWARDER, fsm_testing_cur)

int fsm_testing_select(const char *name)
{
    for (int k = 0; k < FSM_NTESTING; k++) {
        if (!strcmp(fsm_testing_tables[k].name, name)) {
            fsm_testing_cur = &fsm_testing_tables[k];
            return 1;
        }
    }
    return 0;
}
