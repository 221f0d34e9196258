/*
 * cross_driver.c -- a tiny check of the C kernels without Python, for
 * .ci/cross_check.sh: linked statically with the kernels built for another
 * CPU (aarch64) and run under qemu-user, and first natively as a check of
 * the driver itself.  Calls the kernels' dispatching entry points only in
 * the five wrappers below and fsm_isa_init/_selected/_compiled in main; if
 * that interface changes, cross_check.sh reports that this file no longer
 * compiles and skips the run (the compile-only check of the kernels still
 * runs): update the wrappers.
 *
 * Checks, on row lengths that cover the vector bodies and every tail, that
 * softmax rows sum to 1 and match a double-precision formula, log_softmax
 * and logsumexp against it, and a few known values.  Exit status 0 = pass.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- the only lines that know the kernel API: one row of n elements ---- */
#include "fsm_kernels.h"
#define ROWS(SFX, x, n) ((fsm_rows_##SFX){.data = (x), .stride = (n), .nrows = 1, .ncols = (n)})
#define OUT(SFX, o, n) ((fsm_out_##SFX){.data = (o), .stride = (n)})
static void softmax_f32(const float *x, float *out, int n)
{ fsm_softmax_f32(ROWS(f32, x, n), OUT(f32, out, n)); }
static void softmax_f64(const double *x, double *out, int n)
{ fsm_softmax_f64(ROWS(f64, x, n), OUT(f64, out, n)); }
static void log_softmax_f64(const double *x, double *out, int n)
{ fsm_log_softmax_f64(ROWS(f64, x, n), OUT(f64, out, n)); }
static void logsumexp_f32(const float *x, float *out, int n) { fsm_logsumexp_f32(ROWS(f32, x, n), out); }
static void logsumexp_f64(const double *x, double *out, int n) { fsm_logsumexp_f64(ROWS(f64, x, n), out); }
/* ------------------------------------------------------------------------- */

static int failures = 0;

static void check(int ok, const char *what, int ncols, int j, double got, double want)
{
    if (!ok) {
        if (failures < 20)
            printf("FAIL %s ncols=%d j=%d got %.17g want %.17g\n", what, ncols, j, got, want);
        failures++;
    }
}

static double rel_err(double got, double want)
{
    double d = fabs(got - want), m = fabs(want);
    return m > 0 ? d / m : d;
}

/* x[j] for a row of length n: deterministic, spread over about 40 units */
static double value(int n, int j) { return 20.0 * sin(0.7 * j + 0.1 * n) - 0.01 * j; }

static void check_row_f64(int n)
{
    double *x = malloc(n * sizeof *x), *p = malloc(n * sizeof *p), *lp = malloc(n * sizeof *lp);
    double lse, m = -INFINITY, s = 0.0, sum = 0.0;
    for (int j = 0; j < n; j++) { x[j] = value(n, j); if (x[j] > m) m = x[j]; }
    for (int j = 0; j < n; j++) s += exp(x[j] - m);
    softmax_f64(x, p, n);
    log_softmax_f64(x, lp, n);
    logsumexp_f64(x, &lse, n);
    for (int j = 0; j < n; j++) {
        double want = exp(x[j] - m) / s;
        sum += p[j];
        check(rel_err(p[j], want) < 1e-13, "softmax_f64", n, j, p[j], want);
        check(fabs(lp[j] - (x[j] - m - log(s))) < 1e-13 * (1.0 + fabs(x[j] - m - log(s))),
              "log_softmax_f64", n, j, lp[j], x[j] - m - log(s));
    }
    check(fabs(sum - 1.0) < 1e-13, "softmax_f64 row sum", n, -1, sum, 1.0);
    check(rel_err(lse, m + log(s)) < 1e-14, "logsumexp_f64", n, -1, lse, m + log(s));
    free(x); free(p); free(lp);
}

static void check_row_f32(int n)
{
    float *x = malloc(n * sizeof *x), *p = malloc(n * sizeof *p), lse;
    double m = -INFINITY, s = 0.0, sum = 0.0;
    for (int j = 0; j < n; j++) { x[j] = (float)value(n, j); if (x[j] > m) m = x[j]; }
    for (int j = 0; j < n; j++) s += exp((double)x[j] - m);
    softmax_f32(x, p, n);
    logsumexp_f32(x, &lse, n);
    for (int j = 0; j < n; j++) {
        double want = exp((double)x[j] - m) / s;
        sum += p[j];
        /* the documented float32 accuracy: 1e-6 relative of a float64 computation */
        check(rel_err(p[j], want) < 1e-6 || want < 1e-30, "softmax_f32", n, j, p[j], want);
    }
    check(fabs(sum - 1.0) < 1e-5, "softmax_f32 row sum", n, -1, sum, 1.0);
    check(rel_err(lse, m + log(s)) < 1e-6, "logsumexp_f32", n, -1, lse, m + log(s));
    free(x); free(p);
}

int main(void)
{
    static const int lengths[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 1000, 4099};
    fsm_isa_init(NULL);
    printf("kernels compiled: %s; selected: %s\n", fsm_isa_compiled(), fsm_isa_selected());

    for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
        check_row_f64(lengths[k]);
        check_row_f32(lengths[k]);
    }

    /* known values */
    double x3[3] = {1.0, 2.0, 3.0}, p3[3];
    const double want3[3] = {0.090030573170380458, 0.24472847105479765, 0.66524095577482189};
    softmax_f64(x3, p3, 3);
    for (int j = 0; j < 3; j++) check(rel_err(p3[j], want3[j]) < 1e-15, "softmax([1,2,3])", 3, j,
                                      p3[j], want3[j]);
    double big[2] = {1000.0, 1000.0}, lse;
    logsumexp_f64(big, &lse, 2);   /* no overflow */
    check(rel_err(lse, 1000.0 + log(2.0)) < 1e-15, "logsumexp([1000,1000])", 2, -1, lse,
          1000.0 + log(2.0));
    float inf_row[3] = {-INFINITY, 0.0f, -INFINITY}, pinf[3];
    softmax_f32(inf_row, pinf, 3);
    check(pinf[0] == 0.0f && pinf[1] == 1.0f && pinf[2] == 0.0f, "softmax([-inf,0,-inf])", 3, 1,
          pinf[1], 1.0);

    if (failures) {
        printf("%d check(s) failed\n", failures);
        return 1;
    }
    printf("all kernel checks passed\n");
    return 0;
}
