// The built-in GEMM's entry points: the cases BLAS defines without a product (k = 0, alpha = 0),
// and the choice of instruction set, made once from what the processor reports.
#include "CLuzBLAS.h"
#include "GEMMInstances.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

typedef void (*gemm_f32_fn)(int, int, long, long, long, float, const float *, long, const float *,
                            long, float, float *, long);
typedef void (*gemm_f64_fn)(int, int, long, long, long, double, const double *, long, const double *,
                            long, double, double *, long);

#if defined(__x86_64__)
// The state the operating system saves on a context switch (XCR0): vector registers the
// processor has but the system does not save cannot be used.
static unsigned long long saved_state(void) {
    unsigned int low, high;
    __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
    return ((unsigned long long)high << 32) | low;
}
#endif

static int detect_isa(int isa) {
    switch (isa) {
    case LUZ_GEMM_PORTABLE: return 1;
#if defined(__x86_64__)
    case LUZ_GEMM_AVX2:
    case LUZ_GEMM_AVX512: {
        unsigned int eax, ebx, ecx, edx;
        if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
        int fma = (ecx >> 12) & 1, osxsave = (ecx >> 27) & 1, avx = (ecx >> 28) & 1;
        if (!(fma && osxsave && avx)) return 0;
        unsigned long long state = saved_state();
        if ((state & 0x6) != 0x6) return 0;  // SSE and AVX registers
        if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
        int avx2 = (ebx >> 5) & 1, avx512f = (ebx >> 16) & 1;
        if (isa == LUZ_GEMM_AVX2) return avx2;
        return avx2 && avx512f && (state & 0xE0) == 0xE0;  // opmask and the 512-bit registers
    }
#endif
    default: return 0;
    }
}

// What detect_isa found, +1 (0: not asked yet). `cpuid` traps to the hypervisor on a virtual
// machine, thousands of cycles, so it is asked once per instruction set.
static int supported[3];

int luz_gemm_isa_supported(int isa) {
    if (isa < 0 || isa > 2) return 0;
    int known = __atomic_load_n(&supported[isa], __ATOMIC_RELAXED);
    if (known) return known - 1;
    int found = detect_isa(isa);
    __atomic_store_n(&supported[isa], found + 1, __ATOMIC_RELAXED);
    return found;
}

const char *luz_gemm_isa_name(int isa) {
    switch (isa) {
    case LUZ_GEMM_AVX512: return "avx512";
    case LUZ_GEMM_AVX2: return "avx2";
#if defined(__aarch64__)
    case LUZ_GEMM_PORTABLE: return "neon";
#else
    case LUZ_GEMM_PORTABLE: return "sse2";
#endif
    default: return "unknown";
    }
}

static int chosen_isa = -1;

int luz_gemm_isa(void) {
    int isa = __atomic_load_n(&chosen_isa, __ATOMIC_RELAXED);
    if (isa >= 0) return isa;
    isa = luz_gemm_isa_supported(LUZ_GEMM_AVX512) ? LUZ_GEMM_AVX512
        : luz_gemm_isa_supported(LUZ_GEMM_AVX2)   ? LUZ_GEMM_AVX2
                                                  : LUZ_GEMM_PORTABLE;
    __atomic_store_n(&chosen_isa, isa, __ATOMIC_RELAXED);
    return isa;
}


// C = beta · C, the whole product when there is nothing to multiply (BLAS reads no C for beta 0).
#define SCALE_C(c, m, n, ldc, beta)                                                                \
    do {                                                                                           \
        if ((beta) == 1) break;                                                                    \
        for (long i = 0; i < (m); i++)                                                             \
            for (long j = 0; j < (n); j++)                                                         \
                (c)[i * (ldc) + j] = (beta) == 0 ? 0 : (beta) * (c)[i * (ldc) + j];                \
    } while (0)

// The entry point of one scalar type: the cases without a product, then the instance of the
// instruction set asked for (the portable one when the processor lacks it).
#if defined(__x86_64__)
#define RUN_ON(isa, type, run)                                                                     \
    switch (isa) {                                                                                 \
    case LUZ_GEMM_AVX512: run = luz_gemm_avx512_##type##_run; break;                               \
    case LUZ_GEMM_AVX2: run = luz_gemm_avx2_##type##_run; break;                                   \
    default: break;                                                                                \
    }
#else
#define RUN_ON(isa, type, run)
#endif

#define GEMM_ENTRY_POINTS(type, T)                                                                 \
    void luz_gemm_##type##_with(int isa, int transA, int transB, long m, long n, long k, T alpha,   \
                                const T *a, long lda, const T *b, long ldb, T beta, T *c, long ldc) { \
        if (m <= 0 || n <= 0) return;                                                              \
        if (k <= 0 || alpha == 0) {                                                                \
            SCALE_C(c, m, n, ldc, beta);                                                           \
            return;                                                                                \
        }                                                                                          \
        if (!luz_gemm_isa_supported(isa)) isa = LUZ_GEMM_PORTABLE;                                 \
        gemm_##type##_fn run = luz_gemm_portable_##type##_run;                                     \
        RUN_ON(isa, type, run)                                                                     \
        run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);                         \
    }

GEMM_ENTRY_POINTS(f32, float)
GEMM_ENTRY_POINTS(f64, double)

// The products against an operand packed once (GEMMKernel.inc's pack_b_whole and packed_b_run),
// on the instance of `isa` (the portable one when the processor lacks it): packing and product
// must name the same instruction set, whose panel width the layout depends on.
#if defined(__x86_64__)
#define PICK_ISA(isa, type, name, portable)                                                        \
    (!luz_gemm_isa_supported(isa) ? portable                                                       \
     : (isa) == LUZ_GEMM_AVX512   ? luz_gemm_avx512_##type##_##name                                \
     : (isa) == LUZ_GEMM_AVX2     ? luz_gemm_avx2_##type##_##name                                  \
                                  : portable)
#else
#define PICK_ISA(isa, type, name, portable) portable
#endif

#define PACKED_ENTRY_POINTS(type, T)                                                               \
    long luz_gemm_##type##_packed_b_count(int isa, long k, long n) {                               \
        return PICK_ISA(isa, type, packed_b_count, luz_gemm_portable_##type##_packed_b_count)(k, n); \
    }                                                                                              \
    void luz_gemm_##type##_pack_b(int isa, int transB, long k, long n, const T *b, long ldb, T *packed) { \
        PICK_ISA(isa, type, pack_b_whole, luz_gemm_portable_##type##_pack_b_whole)(transB, b, ldb, k, n, packed); \
    }                                                                                              \
    void luz_gemm_##type##_packed_b_run(int isa, long m, long k, T alpha, const T *a, long lda,    \
                                        const T *packed, long column, long columns, T beta, T *c, long ldc) { \
        PICK_ISA(isa, type, packed_b_run, luz_gemm_portable_##type##_packed_b_run)(                \
            m, k, alpha, a, lda, packed, column, columns, beta, c, ldc);                           \
    }

PACKED_ENTRY_POINTS(f32, float)
PACKED_ENTRY_POINTS(f64, double)

// MARK: - Thin products

// C = alpha · op(A) · op(B) + beta · C by direct loops, reading A and B where they lie: for
// products whose result has a few elements, each a sum of up to a few hundred terms (the weight
// gradients of the 2-wide layers of `luz-bench cshape`), where packing for register tiles and a
// library's dispatch cost more than the arithmetic. Four elements of a row of C are summed at
// once in registers (then two, then one), each one sum over the depth in order, so the result
// does not depend on how C is split between threads.
// With beta 0, C is not read; with alpha 0, neither are A and B.
#define THIN_STORE(j, sum)                                                                         \
    out[j] = beta == 0 ? alpha * (sum) : alpha * (sum) + beta * out[j]
#define THIN_ENTRY_POINT(type, T)                                                                  \
    void luz_gemm_##type##_thin(int transA, int transB, long m, long n, long k, T alpha,           \
                                const T *a, long lda, const T *b, long ldb, T beta, T *c, long ldc) { \
        long a_row = transA ? 1 : lda, a_depth = transA ? lda : 1;                                 \
        long b_depth = transB ? 1 : ldb, bc = transB ? ldb : 1;                                    \
        if (alpha == 0) k = 0; /* as BLAS: A and B are not read */                                 \
        for (long i = 0; i < m; i++) {                                                             \
            const T *a_i = a + i * a_row;                                                          \
            T *out = c + i * ldc;                                                                  \
            long j = 0;                                                                            \
            for (; j + 4 <= n; j += 4) {                                                           \
                T s0 = 0, s1 = 0, s2 = 0, s3 = 0;                                                  \
                const T *col = b + j * bc;                                                         \
                for (long p = 0; p < k; p++) {                                                     \
                    T x = a_i[p * a_depth];                                                        \
                    const T *r = col + p * b_depth;                                                \
                    s0 += x * r[0]; s1 += x * r[bc]; s2 += x * r[2 * bc]; s3 += x * r[3 * bc];     \
                }                                                                                  \
                THIN_STORE(j, s0); THIN_STORE(j + 1, s1); THIN_STORE(j + 2, s2); THIN_STORE(j + 3, s3); \
            }                                                                                      \
            if (j + 2 <= n) {                                                                      \
                T s0 = 0, s1 = 0;                                                                  \
                const T *col = b + j * bc;                                                         \
                for (long p = 0; p < k; p++) {                                                     \
                    T x = a_i[p * a_depth];                                                        \
                    const T *r = col + p * b_depth;                                                \
                    s0 += x * r[0]; s1 += x * r[bc];                                               \
                }                                                                                  \
                THIN_STORE(j, s0); THIN_STORE(j + 1, s1);                                          \
                j += 2;                                                                            \
            }                                                                                      \
            if (j < n) {                                                                           \
                T s0 = 0;                                                                          \
                const T *col = b + j * bc;                                                         \
                for (long p = 0; p < k; p++) s0 += a_i[p * a_depth] * col[p * b_depth];            \
                THIN_STORE(j, s0);                                                                 \
            }                                                                                      \
        }                                                                                          \
    }

THIN_ENTRY_POINT(f32, float)
THIN_ENTRY_POINT(f64, double)

long luz_gemm_panel_width(int isa, int double_precision) {
    if (!luz_gemm_isa_supported(isa)) isa = LUZ_GEMM_PORTABLE;
    switch (isa) {
    case LUZ_GEMM_AVX512: return double_precision ? 16 : 32;
    case LUZ_GEMM_AVX2: return double_precision ? 8 : 16;
    default: return double_precision ? 4 : 8;
    }
}
