#ifndef LUZ_GEMM_INSTANCES_H
#define LUZ_GEMM_INSTANCES_H
// The instances of GEMMKernel.inc, one per instruction set and scalar type.
#include <stdlib.h>

#define LUZ_GEMM_DECLARE(isa)                                                                      \
    void luz_gemm_##isa##_f32_run(int, int, long, long, long, float, const float *, long,         \
                                  const float *, long, float, float *, long);                      \
    void luz_gemm_##isa##_f64_run(int, int, long, long, long, double, const double *, long,       \
                                  const double *, long, double, double *, long);                  \
    long luz_gemm_##isa##_f32_packed_b_count(long, long);                                          \
    long luz_gemm_##isa##_f64_packed_b_count(long, long);                                          \
    void luz_gemm_##isa##_f32_pack_b_whole(int, const float *, long, long, long, float *);         \
    void luz_gemm_##isa##_f64_pack_b_whole(int, const double *, long, long, long, double *);       \
    void luz_gemm_##isa##_f32_packed_b_run(long, long, float, const float *, long, const float *, long, long, \
                                           float, float *, long);                                  \
    void luz_gemm_##isa##_f64_packed_b_run(long, long, double, const double *, long, const double *, long,  \
                                           long, double, double *, long);

LUZ_GEMM_DECLARE(portable)
#if defined(__x86_64__)
LUZ_GEMM_DECLARE(avx2)
LUZ_GEMM_DECLARE(avx512)
#endif

#endif
