/* The baseline kernels, built with the compiler's own flags (SSE2 on x86-64,
 * NEON on arm64, ...): see fsm_isa.h.  The vector width follows those flags
 * (a build with -march=native on an AVX-512 machine gets 64-byte vectors). */
#define FSM_ISA v1
#if defined(__AVX512F__) && defined(__AVX512BW__)
#define FSM_W 64
#elif defined(__AVX2__)
#define FSM_W 32
#else
#define FSM_W 16
#endif
#include "fsm_kernels.h"
