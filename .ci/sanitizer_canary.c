/*
 * Two known bugs, built with the same flags as the extensions by
 * .ci/sanitize.sh and called (ctypes) from a grandchild Python process
 * before the tests run: the step proves that the runtimes are preloaded,
 * that UBSan and ASan both report in recover mode, that child processes
 * write their own per-PID log files and that the log reader finds both
 * reports.  Without it a broken set-up would look like a clean run.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* UBSan: load of a misaligned double (offset 1 byte). */
double canary_misaligned_load(int offset)
{
    char *buf = malloc(32);
    double v;
    memset(buf, 0, 32);
    v = *(const double *)(buf + offset);
    free(buf);
    return v;
}

/* ASan: heap-buffer-overflow, reading one element past a 4-element block. */
int canary_heap_overflow(int n)
{
    int *a = malloc(4 * sizeof(int));
    int v;
    memset(a, 0, 4 * sizeof(int));
    v = a[n];
    free(a);
    return v;
}
