#ifndef CLUZBLAS_H
#define CLUZBLAS_H
// Luz's matrix products without a BLAS at build time:
//  - a loader that finds a BLAS library at run time (dlopen) and hands back its entry points;
//  - Luz's own GEMM (packed panels, register-blocked micro-kernels written with clang's vector
//    extensions, compiled for several instruction sets and chosen at run time), used when no
//    usable library is found, and its products against an operand packed once (the weight every
//    step of a recurrence multiplies by);
//  - float32 activation and row kernels (GELU and its gradient, sigmoid, tanh; a softmax row's
//    maximum, exponentials and gradient) compiled for the same instruction sets, which Swift's
//    own SIMD code is not.
// Every product is row-major: C = alpha · op(A) · op(B) + beta · C, op transposing when asked.

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: - A BLAS library found at run time

/// `cblas_sgemm` as the C interface of BLAS declares it (order, transposes, sizes as `int`:
/// the LP64 interface that Debian's OpenBLAS, BLIS, reference BLAS and MKL's `libmkl_rt` export).
typedef void (*luz_cblas_sgemm_fn)(int order, int transA, int transB, int m, int n, int k,
                                   float alpha, const float *a, int lda, const float *b, int ldb,
                                   float beta, float *c, int ldc);
/// `cblas_dgemm`, as `luz_cblas_sgemm_fn`.
typedef void (*luz_cblas_dgemm_fn)(int order, int transA, int transB, int m, int n, int k,
                                   double alpha, const double *a, int lda, const double *b, int ldb,
                                   double beta, double *c, int ldc);

/// The C interface's constants (the values every implementation of `cblas.h` uses).
enum { LUZ_CBLAS_ROW_MAJOR = 101, LUZ_CBLAS_NO_TRANS = 111, LUZ_CBLAS_TRANS = 112 };

/// A BLAS library opened with `dlopen`.
typedef struct {
    void *handle;
    luz_cblas_sgemm_fn sgemm;
    luz_cblas_dgemm_fn dgemm;
    /// The file the dynamic loader opened (its real path, from `dladdr`), or empty.
    char path[1024];
    /// The library's own description where it has one (`openblas_get_config`), or empty.
    char config[256];
} luz_blas_library;

/// Opens `name` (a path, or a file name the dynamic loader searches for) and looks up
/// `cblas_sgemm` and `cblas_dgemm`. On success fills `library`, switches the library's own
/// threads to one (Luz splits products across its own threads) and returns 1. On failure
/// closes what it opened, writes why into `reason` (at most `reason_capacity` bytes, the
/// loader's message or the missing symbol) and returns 0.
int luz_blas_open(const char *name, luz_blas_library *library, char *reason, size_t reason_capacity);

// MARK: - Luz's own GEMM

/// The instruction sets Luz's GEMM is compiled for.
enum {
    LUZ_GEMM_PORTABLE = 0,  // 128-bit vectors: SSE2 on x86-64, NEON on ARM64
    LUZ_GEMM_AVX2 = 1,      // AVX2 with FMA
    LUZ_GEMM_AVX512 = 2,    // AVX-512F
};

/// Whether this processor (and its operating system) runs the instruction set `isa`.
int luz_gemm_isa_supported(int isa);
/// The instruction set the built-in GEMM uses: the best this processor supports.
int luz_gemm_isa(void);
/// A short name for `isa`: "avx512", "avx2", "neon" or "sse2".
const char *luz_gemm_isa_name(int isa);

/// Row-major single-precision GEMM on the calling thread, with any transposes and leading
/// dimensions (`lda` ≥ the columns of A as stored, and so on), on the instruction set `isa`
/// (the portable one when the processor lacks it; `luz_gemm_isa()` is the best it has).
void luz_gemm_f32_with(int isa, int transA, int transB, long m, long n, long k,
                       float alpha, const float *a, long lda, const float *b, long ldb,
                       float beta, float *c, long ldc);
/// Row-major double-precision GEMM on the calling thread, as `luz_gemm_f32_with`.
void luz_gemm_f64_with(int isa, int transA, int transB, long m, long n, long k,
                       double alpha, const double *a, long lda, const double *b, long ldb,
                       double beta, double *c, long ldc);

/// Row-major GEMM by direct loops on the calling thread, for products whose result has a few
/// elements, too small for register tiles: each element one sum over the depth, in order.
void luz_gemm_f32_thin(int transA, int transB, long m, long n, long k,
                       float alpha, const float *a, long lda, const float *b, long ldb,
                       float beta, float *c, long ldc);
/// `luz_gemm_f32_thin` in double precision.
void luz_gemm_f64_thin(int transA, int transB, long m, long n, long k,
                       double alpha, const double *a, long lda, const double *b, long ldb,
                       double beta, double *c, long ldc);

// MARK: - Products against an operand packed once

/// The columns of one panel of a packed operand on `isa` (single or double precision): a
/// product's column ranges start at multiples of it.
long luz_gemm_panel_width(int isa, int double_precision);
/// The scalars `luz_gemm_f32_pack_b` writes for op(B) of k × n on `isa`.
long luz_gemm_f32_packed_b_count(int isa, long k, long n);
/// Packs op(B) (k × n, row-major, transposed when asked) for `luz_gemm_f32_packed_b_run` on `isa`.
void luz_gemm_f32_pack_b(int isa, int transB, long k, long n, const float *b, long ldb, float *packed);
/// C[·][column ..< column + columns] = alpha · A · op(B) + beta · C on the calling thread, with
/// op(B) packed by `luz_gemm_f32_pack_b` on the same `isa`, A (m × k, row-major) not transposed,
/// `column` a multiple of `luz_gemm_panel_width`. Each element is one sum over the whole depth.
void luz_gemm_f32_packed_b_run(int isa, long m, long k, float alpha, const float *a, long lda,
                               const float *packed, long column, long columns, float beta, float *c, long ldc);
/// `luz_gemm_f32_packed_b_count` in double precision.
long luz_gemm_f64_packed_b_count(int isa, long k, long n);
/// `luz_gemm_f32_pack_b` in double precision.
void luz_gemm_f64_pack_b(int isa, int transB, long k, long n, const double *b, long ldb, double *packed);
/// `luz_gemm_f32_packed_b_run` in double precision.
void luz_gemm_f64_packed_b_run(int isa, long m, long k, double alpha, const double *a, long lda,
                               const double *packed, long column, long columns, double beta, double *c, long ldc);

// MARK: - Activations

/// GELU, y = x · Φ(x), over `n` float32 values (`x` and `y` may be the same), on the calling
/// thread, with AVX-512, or AVX2 and FMA, where the processor has them.
void luz_gelu_f32(const float *x, float *y, long n);
/// GELU's gradient, out = gradient · (Φ(x) + x · φ(x)), over `n` float32 values.
void luz_gelu_backward_f32(const float *gradient, const float *x, float *out, long n);
/// The logistic function 1 / (1 + e^−x) over `n` float32 values (`x` and `y` may be the same).
void luz_sigmoid_f32(const float *x, float *y, long n);
/// tanh over `n` float32 values (`x` and `y` may be the same).
void luz_tanh_f32(const float *x, float *y, long n);
/// `luz_sigmoid_f32` on the instruction set `isa`.
void luz_sigmoid_f32_with(int isa, const float *x, float *y, long n);
/// `luz_tanh_f32` on the instruction set `isa`.
void luz_tanh_f32_with(int isa, const float *x, float *y, long n);
/// `luz_gelu_f32` on the instruction set `isa` (the portable one when the processor lacks it).
void luz_gelu_f32_with(int isa, const float *x, float *y, long n);
/// `luz_gelu_backward_f32` on the instruction set `isa`.
void luz_gelu_backward_f32_with(int isa, const float *gradient, const float *x, float *out, long n);
/// x ← e^(x − shift) over `n` float32 values, returning their sum (a softmax's exponentials
/// with the row maximum as `shift`; −∞ gives exactly 0).
float luz_exp_shifted_f32(float *x, long n, float shift);
/// `luz_exp_shifted_f32` on the instruction set `isa`.
float luz_exp_shifted_f32_with(int isa, float *x, long n, float shift);
/// The largest of `n` float32 values (−∞ for none; NaN is passed over).
float luz_max_f32(const float *x, long n);
/// `luz_max_f32` on the instruction set `isa`.
float luz_max_f32_with(int isa, const float *x, long n);
/// d ← d + each of `rows` rows of `n` float32 values at `s` (one after another), row by row:
/// the inner loop of a sum over a dimension with elements after it.
void luz_add_rows_f32(float *d, const float *s, long rows, long n);
/// `luz_add_rows_f32` on the instruction set `isa`.
void luz_add_rows_f32_with(int isa, float *d, const float *s, long rows, long n);
/// d ← p ⊙ (d − rowDot) over `n` float32 values: a row of the softmax backward (dP in, dS out).
void luz_softmax_gradient_f32(const float *p, float *d, long n, float rowDot);
/// `luz_softmax_gradient_f32` on the instruction set `isa`.
void luz_softmax_gradient_f32_with(int isa, const float *p, float *d, long n, float rowDot);

#ifdef __cplusplus
}
#endif

#endif
