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

// Whether `isa` runs the AVX2 instance: AVX2 or AVX-512 asked for, and the processor has AVX2.
static int uses_avx2(int isa) {
#if defined(__x86_64__)
    return isa != LUZ_GEMM_PORTABLE && luz_gemm_isa_supported(LUZ_GEMM_AVX2);
#else
    (void)isa;
    return 0;
#endif
}

void luz_gelu_f32_with(int isa, const float *x, float *y, long n) {
#if defined(__x86_64__)
    if (uses_avx2(isa)) {
        luz_act_avx2_gelu_f32(x, y, n);
        return;
    }
#endif
    (void)isa;
    luz_act_portable_gelu_f32(x, y, n);
}

void luz_gelu_backward_f32_with(int isa, const float *gradient, const float *x, float *out, long n) {
#if defined(__x86_64__)
    if (uses_avx2(isa)) {
        luz_act_avx2_gelu_backward_f32(gradient, x, out, n);
        return;
    }
#endif
    (void)isa;
    luz_act_portable_gelu_backward_f32(gradient, x, out, n);
}

// `luz_<name>_f32_with`, for a kernel of one input and one output.
#if defined(__x86_64__)
#define UNARY_ENTRY(name)                                                                          \
    void luz_##name##_f32_with(int isa, const float *x, float *y, long n) {                        \
        if (uses_avx2(isa)) luz_act_avx2_##name##_f32(x, y, n);                                    \
        else luz_act_portable_##name##_f32(x, y, n);                                               \
    }                                                                                              \
    void luz_##name##_f32(const float *x, float *y, long n) { luz_##name##_f32_with(luz_gemm_isa(), x, y, n); }
#else
#define UNARY_ENTRY(name)                                                                          \
    void luz_##name##_f32_with(int isa, const float *x, float *y, long n) {                        \
        (void)isa;                                                                                 \
        luz_act_portable_##name##_f32(x, y, n);                                                    \
    }                                                                                              \
    void luz_##name##_f32(const float *x, float *y, long n) { luz_##name##_f32_with(luz_gemm_isa(), x, y, n); }
#endif

UNARY_ENTRY(sigmoid)
UNARY_ENTRY(tanh)

void luz_gelu_f32(const float *x, float *y, long n) { luz_gelu_f32_with(luz_gemm_isa(), x, y, n); }

void luz_gelu_backward_f32(const float *gradient, const float *x, float *out, long n) {
    luz_gelu_backward_f32_with(luz_gemm_isa(), gradient, x, out, n);
}
