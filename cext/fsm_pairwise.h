/*
 * fsm_pairwise.h -- the sum of a double array in NumPy's order.
 *
 * The cross-entropy drivers combine their per-chunk partial sums with this
 * function instead of ``numpy.sum`` (whose call costs more than a small
 * problem's whole kernel).  The loss totals must keep their bits, so this is
 * NumPy's own pairwise summation of a contiguous float64 array
 * (``np.add.reduce``): blocks of up to 128 elements summed with 8 interleaved
 * accumulators, halves (cut at a multiple of 8) above that, all added to the
 * reduction's initial value 0.0.  tests/test_tiny_calls.py compares it with
 * ``numpy.sum`` bit for bit.  Plain C: no -ffast-math anywhere, so the
 * compiler keeps the order of the additions.
 */
#ifndef FSM_PAIRWISE_H
#define FSM_PAIRWISE_H

#include <stddef.h>

static double fsm_pairwise_block(const double *a, ptrdiff_t n)
{
    if (n < 8) {
        double res = 0.0;
        for (ptrdiff_t i = 0; i < n; i++) res += a[i];
        return res;
    }
    if (n <= 128) {
        double r[8];
        ptrdiff_t i;
        for (int k = 0; k < 8; k++) r[k] = a[k];
        for (i = 8; i < n - (n % 8); i += 8)
            for (int k = 0; k < 8; k++) r[k] += a[i + k];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += a[i];
        return res;
    }
    ptrdiff_t n2 = n / 2;
    n2 -= n2 % 8;
    return fsm_pairwise_block(a, n2) + fsm_pairwise_block(a + n2, n - n2);
}

/* numpy.sum(a[:n]) of a contiguous float64 array, bit for bit */
static inline double fsm_pairwise_sum(const double *a, ptrdiff_t n)
{
    return 0.0 + fsm_pairwise_block(a, n);
}

#endif
