/*
 * fsm_dispatch.c -- ISA dispatch of the production kernels.  The kernels are
 * compiled once per ISA level at that level's native vector width (fsm_isa.h,
 * fsm_isa_v*.c); this file chooses one level when the extension module is
 * loaded (fsm_isa_init, called once at import with $FASTSOFTMAX_ISA) and
 * routes the public functions of fsm_kernels.h to it through a table of
 * function pointers.  The choice is made once per process, so a result never
 * depends on which thread or call computes it.
 */
#include <string.h>
#include "fsm_isa.h"

FSM_ISA_LEVELS(FSM_LEVEL_DECLS, FSM_KERNELS)

typedef struct { FSM_TABLE_FIELDS(FSM_KERNELS) } fsm_table;

static const fsm_table fsm_tables[] = { FSM_ISA_LEVELS(FSM_LEVEL_TABLE, FSM_KERNELS) };
#define FSM_NTABLES ((int)(sizeof fsm_tables / sizeof fsm_tables[0]))

/* the baseline until fsm_isa_init runs */
static const fsm_table *fsm_cur = &fsm_tables[FSM_NTABLES - 1];

FSM_BOTH_TYPES(FSM_KERNELS, FSM_FORWARDER, fsm_cur)

static int fsm_cpu_has(int level)
{
#if FSM_MULTI_ISA
    __builtin_cpu_init();
    if (level == 4) return __builtin_cpu_supports("x86-64-v4");
    if (level == 3) return __builtin_cpu_supports("x86-64-v3");
#endif
    return level == 1;
}

int fsm_isa_init(const char *request)
{
    int want = 4, status = 0;
    if (request && *request) {
        if (!strcmp(request, "avx512") || !strcmp(request, "x86-64-v4")) want = 4;
        else if (!strcmp(request, "avx2") || !strcmp(request, "x86-64-v3")) want = 3;
        else if (!strcmp(request, "baseline")) want = 1;
        else status = 1;  /* unknown: automatic choice */
    }
    for (int k = 0; k < FSM_NTABLES; k++) {
        if (fsm_tables[k].level > want || !fsm_cpu_has(fsm_tables[k].level)) continue;
        if (status == 0 && request && *request && fsm_tables[k].level != want) status = 2;
        fsm_cur = &fsm_tables[k];
        return status;
    }
    fsm_cur = &fsm_tables[FSM_NTABLES - 1];
    return status;
}

const char *fsm_isa_compiled(void) { return FSM_ISA_COMPILED; }

const char *fsm_isa_selected(void) { return fsm_cur->name; }
