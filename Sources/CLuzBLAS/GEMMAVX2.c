// Luz's GEMM for AVX2 with FMA: 6 × 16 float tiles (12 of the 16 vector registers hold C) and
// 6 × 8 double tiles.
#include "GEMMInstances.h"

#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)

#define GEMM_T float
#define GEMM_LANES 8
#define GEMM_MR 6
#define GEMM_NV 2
#define GEMM_KC 256
#define GEMM_MC 96
#define GEMM_NC 2048
#define GEMM_FN(name) luz_gemm_avx2_f32_##name
#include "GEMMKernel.inc"
#include "GEMMUndefine.inc"

#define GEMM_T double
#define GEMM_LANES 4
#define GEMM_MR 6
#define GEMM_NV 2
#define GEMM_KC 256
#define GEMM_MC 96
#define GEMM_NC 1024
#define GEMM_FN(name) luz_gemm_avx2_f64_##name
#include "GEMMKernel.inc"
#include "GEMMUndefine.inc"

#pragma clang attribute pop
#endif
