// Luz's GEMM on 128-bit vectors, which every x86-64 (SSE2) and ARM64 (NEON) processor has:
// 6 × 8 float tiles and 6 × 4 double tiles (12 vector registers hold C; x86-64 has 16).
#include "GEMMInstances.h"

#define GEMM_T float
#define GEMM_LANES 4
#define GEMM_MR 6
#define GEMM_NV 2
#define GEMM_KC 256
#define GEMM_MC 96
#define GEMM_NC 2048
#define GEMM_FN(name) luz_gemm_portable_f32_##name
#include "GEMMKernel.inc"
#include "GEMMUndefine.inc"

#define GEMM_T double
#define GEMM_LANES 2
#define GEMM_MR 6
#define GEMM_NV 2
#define GEMM_KC 256
#define GEMM_MC 96
#define GEMM_NC 1024
#define GEMM_FN(name) luz_gemm_portable_f64_##name
#include "GEMMKernel.inc"
#include "GEMMUndefine.inc"
