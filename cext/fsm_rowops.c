/*
 * fsm_rowops.c -- ISA dispatch.  The kernels are compiled once per ISA level
 * at that level's native vector width (fsm_isa.h, fsm_rowops_v*.c); this file
 * chooses one level when the extension module is loaded (fsm_isa_init, called
 * at import with $FASTSOFTMAX_ISA) and routes the public functions of
 * fsm_rowops.h to it through a table of function pointers.  The choice is
 * made once per process, so a result never depends on which thread or call
 * computes it.
 */
#include <string.h>
#include "fsm_isa.h"
#include "fsm_rowops.h"

typedef struct {
    int level;            /* 1, 3 or 4 */
    const char *name;
#define FSM_TABLE_ENTRIES(T, SFX)                                                          \
    void (*softmax_##SFX)(const T *, ptrdiff_t, T *, ptrdiff_t, ptrdiff_t, ptrdiff_t);     \
    void (*log_softmax_##SFX)(const T *, ptrdiff_t, T *, ptrdiff_t, ptrdiff_t, ptrdiff_t); \
    void (*logsumexp_##SFX)(const T *, ptrdiff_t, T *, ptrdiff_t, ptrdiff_t);              \
    void (*exp_##SFX)(const T *, T *, ptrdiff_t);                                          \
    void (*sigmoid_##SFX)(const T *, T *, ptrdiff_t);                                      \
    void (*log_sigmoid_##SFX)(const T *, T *, ptrdiff_t);                                  \
    double (*ce_index_##SFX)(const T *, ptrdiff_t, ptrdiff_t, ptrdiff_t, const int64_t *, \
                             int64_t, const T *, double, double, double, double *, T *,    \
                             ptrdiff_t, double);                                           \
    double (*ce_prob_##SFX)(const T *, ptrdiff_t, ptrdiff_t, ptrdiff_t, const T *,         \
                            ptrdiff_t, const T *, double, double, double *, T *, ptrdiff_t, \
                            double);
    FSM_TABLE_ENTRIES(float, f32)
    FSM_TABLE_ENTRIES(double, f64)
} fsm_table;

#define FSM_TABLE_INIT(SFX, ISA)                                                    \
    fsm_softmax_##SFX##_##ISA, fsm_log_softmax_##SFX##_##ISA,                       \
    fsm_logsumexp_##SFX##_##ISA, fsm_exp_##SFX##_##ISA, fsm_sigmoid_##SFX##_##ISA,  \
    fsm_log_sigmoid_##SFX##_##ISA, fsm_ce_index_##SFX##_##ISA, fsm_ce_prob_##SFX##_##ISA
#define FSM_TABLE(level, name, ISA) {level, name, FSM_TABLE_INIT(f32, ISA), FSM_TABLE_INIT(f64, ISA)}

static const fsm_table fsm_tables[] = {
#if FSM_MULTI_ISA
    FSM_TABLE(4, "x86-64-v4 (AVX-512)", v4),
    FSM_TABLE(3, "x86-64-v3 (AVX2+FMA)", v3),
#endif
    FSM_TABLE(1, "baseline", v1),
};
#define FSM_NTABLES ((int)(sizeof fsm_tables / sizeof fsm_tables[0]))

/* the baseline until fsm_isa_init runs */
static const fsm_table *fsm_cur = &fsm_tables[FSM_NTABLES - 1];

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

#define FSM_DEFINE(T, SFX)                                                                 \
    void fsm_softmax_##SFX(const T *x, ptrdiff_t ldx, T *out, ptrdiff_t ldo,              \
                           ptrdiff_t nrows, ptrdiff_t ncols)                               \
    { fsm_cur->softmax_##SFX(x, ldx, out, ldo, nrows, ncols); }                            \
    void fsm_log_softmax_##SFX(const T *x, ptrdiff_t ldx, T *out, ptrdiff_t ldo,          \
                               ptrdiff_t nrows, ptrdiff_t ncols)                           \
    { fsm_cur->log_softmax_##SFX(x, ldx, out, ldo, nrows, ncols); }                        \
    void fsm_logsumexp_##SFX(const T *x, ptrdiff_t ldx, T *out,                           \
                             ptrdiff_t nrows, ptrdiff_t ncols)                             \
    { fsm_cur->logsumexp_##SFX(x, ldx, out, nrows, ncols); }                               \
    void fsm_exp_##SFX(const T *x, T *out, ptrdiff_t n) { fsm_cur->exp_##SFX(x, out, n); } \
    void fsm_sigmoid_##SFX(const T *x, T *out, ptrdiff_t n)                               \
    { fsm_cur->sigmoid_##SFX(x, out, n); }                                                 \
    void fsm_log_sigmoid_##SFX(const T *x, T *out, ptrdiff_t n)                           \
    { fsm_cur->log_sigmoid_##SFX(x, out, n); }                                             \
    double fsm_ce_index_##SFX(const T *x, ptrdiff_t ldx, ptrdiff_t nrows, ptrdiff_t ncols, \
                              const int64_t *target, int64_t ignore_index,                 \
                              const T *weight, double wsum, double eps, double z_loss,     \
                              double *loss_rows, T *grad, ptrdiff_t ldg, double scale)     \
    {                                                                                      \
        return fsm_cur->ce_index_##SFX(x, ldx, nrows, ncols, target, ignore_index, weight, \
                                       wsum, eps, z_loss, loss_rows, grad, ldg, scale);    \
    }                                                                                      \
    double fsm_ce_prob_##SFX(const T *x, ptrdiff_t ldx, ptrdiff_t nrows, ptrdiff_t ncols,  \
                             const T *t, ptrdiff_t ldt, const T *weight, double eps,       \
                             double z_loss, double *loss_rows, T *grad, ptrdiff_t ldg,     \
                             double scale)                                                 \
    {                                                                                      \
        return fsm_cur->ce_prob_##SFX(x, ldx, nrows, ncols, t, ldt, weight, eps, z_loss,   \
                                      loss_rows, grad, ldg, scale);                        \
    }

FSM_DEFINE(float, f32)
FSM_DEFINE(double, f64)

const char *fsm_isa_compiled(void)
{
#if FSM_MULTI_ISA
    return "x86-64-v4 (AVX-512), x86-64-v3 (AVX2+FMA), baseline";
#else
    return "baseline";
#endif
}

const char *fsm_isa_selected(void) { return fsm_cur->name; }
