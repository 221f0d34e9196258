/* fsm_omp.h -- OpenMP queries that also compile without OpenMP (serial build). */
#ifndef FSM_OMP_H
#define FSM_OMP_H
#ifdef _OPENMP
#include <omp.h>
static inline int fsm_openmp_enabled(void) { return 1; }
static inline int fsm_omp_max_threads(void) { return omp_get_max_threads(); }
#else
static inline int fsm_openmp_enabled(void) { return 0; }
static inline int fsm_omp_max_threads(void) { return 1; }
#endif
#endif
