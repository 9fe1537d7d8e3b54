// Luz's GEMM for AVX-512F: 12 × 32 float tiles (24 of the 32 vector registers hold C) and
// 12 × 16 double tiles.
#include "GEMMInstances.h"

#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)

#define GEMM_T float
#define GEMM_LANES 16
#define GEMM_MR 12
#define GEMM_NV 2
#define GEMM_KC 256
#define GEMM_MC 144
#define GEMM_NC 2048
#define GEMM_FN(name) luz_gemm_avx512_f32_##name
#include "GEMMKernel.inc"
#include "GEMMUndefine.inc"

#define GEMM_T double
#define GEMM_LANES 8
#define GEMM_MR 12
#define GEMM_NV 2
#define GEMM_KC 256
#define GEMM_MC 144
#define GEMM_NC 1024
#define GEMM_FN(name) luz_gemm_avx512_f64_##name
#include "GEMMKernel.inc"
#include "GEMMUndefine.inc"

#pragma clang attribute pop
#endif
