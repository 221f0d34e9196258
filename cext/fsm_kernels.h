/*
 * fsm_kernels.h -- instantiates the row kernels for float32 and float64 at
 * one ISA level.  The includer (fsm_rowops_v4.c, _v3.c, _v1.c) defines
 * FSM_ISA (the name suffix: v4, v3, v1), FSM_W (the vector width in bytes)
 * and FSM_TARGET (the target attribute of the entry points, if any).
 */
#include <math.h>
#include "fsm_isa.h"
#include "fsm_simd.h"

#ifndef FSM_TARGET
#define FSM_TARGET
#endif

#define FSM_API(name) FSM_CAT(name, FSM_ISA)
#define FN(name) FSM_CAT(name, SFX)
#define LANES FSM_CAT(FSM_LANES, SFX)
#define DACC FSM_CAT(fsm_dacc, SFX)

#define T float
#define SFX f32
#define VT fsm_vf
#define IVT fsm_vi
#define SHIFT 31
#include "fsm_rowcore_impl.h"
#include "fsm_rowops_impl.h"
#include "fsm_losses_impl.h"
#undef T
#undef SFX
#undef VT
#undef IVT
#undef SHIFT

#define T double
#define SFX f64
#define VT fsm_vd
#define IVT fsm_vl
#define SHIFT 63
#include "fsm_rowcore_impl.h"
#include "fsm_rowops_impl.h"
#include "fsm_losses_impl.h"
#undef T
#undef SFX
#undef VT
#undef IVT
#undef SHIFT
