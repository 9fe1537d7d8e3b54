// Luz's GEMM for AVX-512F: 8 × 32 float tiles and 8 × 16 double tiles (16 of the 32 vector
// registers hold C). Measured against 12 × 32 and 14 × 32 on Sapphire Rapids, 8 rows were as
// fast on large products and faster on small ones, where fewer rows are wasted at the edge.
#include "GEMMInstances.h"

#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)

#define GEMM_T float
#define GEMM_LANES 16
#define GEMM_MR 8
#define GEMM_NV 2
#define GEMM_KC 256
#define GEMM_MC 288
#define GEMM_NC 1024
#define GEMM_FN(name) luz_gemm_avx512_f32_##name
#include "GEMMKernel.inc"
#include "GEMMUndefine.inc"

#define GEMM_T double
#define GEMM_LANES 8
#define GEMM_MR 8
#define GEMM_NV 2
#define GEMM_KC 256
#define GEMM_MC 288
#define GEMM_NC 512
#define GEMM_FN(name) luz_gemm_avx512_f64_##name
#include "GEMMKernel.inc"
#include "GEMMUndefine.inc"

#pragma clang attribute pop
#endif
