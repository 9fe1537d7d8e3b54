// Luz's float32 activation kernels (ActivationKernel.inc) for each instruction set, and the
// entry points that pick one: AVX-512 or AVX2 with FMA where the processor has them (the same
// tests as the GEMM's), else the portable instance.
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

// Sixteen lanes in 512-bit registers. A 16-lane vector returned from a function changes the
// calling convention without AVX-512; every such helper is inlined, so the warning is moot.
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wpsabi"
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#undef ACT_WIDTH
#define ACT_WIDTH 16
#define ACT_FN(name) luz_act_avx512_##name
#include "ActivationKernel.inc"
#undef ACT_FN
#undef ACT_SPLAT
#undef ACT_LANES
#undef ACT_WIDTH
#pragma clang attribute pop
#pragma clang diagnostic pop
#endif

// The instance of kernel `name` that `isa` runs: the AVX-512 one when AVX-512 is asked for and
// the processor has it, the AVX2 one when AVX2 or AVX-512 is asked for and the processor has
// AVX2, else the portable one.
#if defined(__x86_64__)
#define ACT_INSTANCE(isa, name)                                                                    \
    ((isa) == LUZ_GEMM_AVX512 && luz_gemm_isa_supported(LUZ_GEMM_AVX512)                          \
         ? luz_act_avx512_##name                                                                   \
         : ((isa) != LUZ_GEMM_PORTABLE && luz_gemm_isa_supported(LUZ_GEMM_AVX2) ? luz_act_avx2_##name \
                                                                                : luz_act_portable_##name))
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

float luz_max_f32_with(int isa, const float *x, long n) { return ACT_INSTANCE(isa, max_f32)(x, n); }
void luz_add_rows_f32_with(int isa, float *d, const float *s, long rows, long n) {
    ACT_INSTANCE(isa, add_rows_f32)(d, s, rows, n);
}

void luz_softmax_gradient_f32_with(int isa, const float *p, float *d, long n, float rowDot) {
    ACT_INSTANCE(isa, softmax_gradient_f32)(p, d, n, rowDot);
}

// On the instruction set the GEMM chose: the best this processor has.
void luz_gelu_f32(const float *x, float *y, long n) { luz_gelu_f32_with(luz_gemm_isa(), x, y, n); }

void luz_gelu_backward_f32(const float *gradient, const float *x, float *out, long n) {
    luz_gelu_backward_f32_with(luz_gemm_isa(), gradient, x, out, n);
}

void luz_sigmoid_f32(const float *x, float *y, long n) { luz_sigmoid_f32_with(luz_gemm_isa(), x, y, n); }

void luz_tanh_f32(const float *x, float *y, long n) { luz_tanh_f32_with(luz_gemm_isa(), x, y, n); }

float luz_exp_shifted_f32(float *x, long n, float shift) { return luz_exp_shifted_f32_with(luz_gemm_isa(), x, n, shift); }

float luz_max_f32(const float *x, long n) { return luz_max_f32_with(luz_gemm_isa(), x, n); }
void luz_add_rows_f32(float *d, const float *s, long rows, long n) { luz_add_rows_f32_with(luz_gemm_isa(), d, s, rows, n); }

void luz_softmax_gradient_f32(const float *p, float *d, long n, float rowDot) {
    luz_softmax_gradient_f32_with(luz_gemm_isa(), p, d, n, rowDot);
}
