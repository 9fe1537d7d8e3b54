// Luz's float32 activation kernels (ActivationKernel.inc) for each instruction set, and the
// entry points that pick one: AVX2 with FMA where the processor has it (the same test as the
// GEMM's), else the portable instance.
#include "CLuzBLAS.h"

// The portable instance keeps its eight-lane vectors in pairs of registers; its helpers are
// always inlined, so the warning that such vectors change the calling convention is moot.
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wpsabi"
#define ACT_FN(name) luz_act_portable_##name
#include "ActivationKernel.inc"
#undef ACT_FN
#undef ACT_SPLAT
#undef ACT_LANES
#pragma clang diagnostic pop

#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define ACT_FN(name) luz_act_avx2_##name
#include "ActivationKernel.inc"
#undef ACT_FN
#undef ACT_SPLAT
#undef ACT_LANES
#pragma clang attribute pop
#endif

// The instance of kernel `name` that `isa` runs: the AVX2 one when AVX2 or AVX-512 is asked for
// and the processor has AVX2, else the portable one.
#if defined(__x86_64__)
#define ACT_INSTANCE(isa, name)                                                                    \
    ((isa) != LUZ_GEMM_PORTABLE && luz_gemm_isa_supported(LUZ_GEMM_AVX2) ? luz_act_avx2_##name     \
                                                                         : luz_act_portable_##name)
#else
#define ACT_INSTANCE(isa, name) ((void)(isa), luz_act_portable_##name)
#endif

void luz_gelu_f32_with(int isa, const float *x, float *y, long n) { ACT_INSTANCE(isa, gelu_f32)(x, y, n); }

void luz_gelu_backward_f32_with(int isa, const float *gradient, const float *x, float *out, long n) {
    ACT_INSTANCE(isa, gelu_backward_f32)(gradient, x, out, n);
}

void luz_sigmoid_f32_with(int isa, const float *x, float *y, long n) { ACT_INSTANCE(isa, sigmoid_f32)(x, y, n); }

void luz_tanh_f32_with(int isa, const float *x, float *y, long n) { ACT_INSTANCE(isa, tanh_f32)(x, y, n); }

float luz_exp_shifted_f32_with(int isa, float *x, long n, float shift) {
    return ACT_INSTANCE(isa, exp_shifted_f32)(x, n, shift);
}

// On the instruction set the GEMM chose: the best this processor has.
void luz_gelu_f32(const float *x, float *y, long n) { luz_gelu_f32_with(luz_gemm_isa(), x, y, n); }

void luz_gelu_backward_f32(const float *gradient, const float *x, float *out, long n) {
    luz_gelu_backward_f32_with(luz_gemm_isa(), gradient, x, out, n);
}

void luz_sigmoid_f32(const float *x, float *y, long n) { luz_sigmoid_f32_with(luz_gemm_isa(), x, y, n); }

void luz_tanh_f32(const float *x, float *y, long n) { luz_tanh_f32_with(luz_gemm_isa(), x, y, n); }

float luz_exp_shifted_f32(float *x, long n, float shift) { return luz_exp_shifted_f32_with(luz_gemm_isa(), x, n, shift); }
