// Reference and portable float matmul, and the run-time dispatch; see bt/nn/matmul.hpp.
#include "bt/nn/matmul.hpp"

#include "matmul_kernels.hpp"

#include <algorithm>
#include <chrono>

namespace bt::nn {

void sgemm_ref(std::size_t M, std::size_t N, std::size_t K, const float* A, std::size_t lda, const float* B,
               std::size_t ldb, float* C, std::size_t ldc, bool accumulate) {
    for (std::size_t i = 0; i < M; ++i) {
        for (std::size_t j = 0; j < N; ++j) {
            float acc = accumulate ? C[i * ldc + j] : 0.0f;
            for (std::size_t k = 0; k < K; ++k) acc += A[i * lda + k] * B[k * ldb + j];
            C[i * ldc + j] = acc;
        }
    }
}

namespace {

// Portable: register tiles of 4 rows × 16 columns with fixed trip counts (so the compiler
// can keep them in vector registers without epilogues), broadcasting A[i,k] against a row
// of B; K in blocks so that the B block is reused from cache. Each output still sums its
// products in ascending k with separate multiply and add, as sgemm_ref does, so the two
// agree bit for bit (unless the compiler is told to contract into FMA).
constexpr std::size_t kMR = 4, kNR = 16;

void tile_scalar(std::size_t kc, const float* A, std::size_t lda, const float* B, std::size_t ldb, float* C,
                 std::size_t ldc) {
    float acc[kMR][kNR];
    for (std::size_t r = 0; r < kMR; ++r)
        for (std::size_t j = 0; j < kNR; ++j) acc[r][j] = C[r * ldc + j];
    for (std::size_t k = 0; k < kc; ++k) {
        const float* b = B + k * ldb;
        for (std::size_t r = 0; r < kMR; ++r) {
            const float a = A[r * lda + k];
            for (std::size_t j = 0; j < kNR; ++j) acc[r][j] += a * b[j];
        }
    }
    for (std::size_t r = 0; r < kMR; ++r)
        for (std::size_t j = 0; j < kNR; ++j) C[r * ldc + j] = acc[r][j];
}

void edge_scalar(std::size_t mr, std::size_t nr, std::size_t kc, const float* A, std::size_t lda, const float* B,
                 std::size_t ldb, float* C, std::size_t ldc) {
    for (std::size_t r = 0; r < mr; ++r)
        for (std::size_t k = 0; k < kc; ++k) {
            const float a = A[r * lda + k];
            for (std::size_t j = 0; j < nr; ++j) C[r * ldc + j] += a * B[k * ldb + j];
        }
}

void sgemm_scalar(std::size_t M, std::size_t N, std::size_t K, const float* A, std::size_t lda, const float* B,
                  std::size_t ldb, float* C, std::size_t ldc, bool accumulate) {
    if (!accumulate)
        for (std::size_t i = 0; i < M; ++i) std::fill(C + i * ldc, C + i * ldc + N, 0.0f);
    for (std::size_t k0 = 0; k0 < K; k0 += detail::kSgemmKC) {
        const std::size_t kc = std::min(K - k0, detail::kSgemmKC);
        for (std::size_t j0 = 0; j0 < N; j0 += kNR) {
            const std::size_t nr = std::min(kNR, N - j0);
            for (std::size_t i0 = 0; i0 < M; i0 += kMR) {
                const std::size_t mr = std::min(kMR, M - i0);
                const float* a = A + i0 * lda + k0;
                const float* b = B + k0 * ldb + j0;
                float* c = C + i0 * ldc + j0;
                if (mr == kMR && nr == kNR) tile_scalar(kc, a, lda, b, ldb, c, ldc);
                else edge_scalar(mr, nr, kc, a, lda, b, ldb, c, ldc);
            }
        }
    }
}

}  // namespace

namespace {

bool has_fma() {
#if defined(__x86_64__)
    static const bool f = __builtin_cpu_supports("fma");
    return f;
#else
    return false;
#endif
}

}  // namespace

bool sgemm_path_supported(SimdPath p) {
    if (p == SimdPath::Scalar) return true;
    if (!simd_path_supported(p)) return false;
    return p != SimdPath::AVX2 || has_fma();
}

void sgemm_path(SimdPath path, std::size_t M, std::size_t N, std::size_t K, const float* A, std::size_t lda,
                const float* B, std::size_t ldb, float* C, std::size_t ldc, bool accumulate) {
#if defined(__x86_64__)
    if (path == SimdPath::AVX512 || path == SimdPath::AVX512IFMA)
        return detail::sgemm_avx512(M, N, K, A, lda, B, ldb, C, ldc, accumulate);
    if (path == SimdPath::AVX2 && has_fma()) return detail::sgemm_avx2(M, N, K, A, lda, B, ldb, C, ldc, accumulate);
#else
    (void)path;
#endif
    sgemm_scalar(M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

void sgemm(std::size_t M, std::size_t N, std::size_t K, const float* A, std::size_t lda, const float* B,
           std::size_t ldb, float* C, std::size_t ldc, bool accumulate) {
    static const SimdPath path = simd_path();
    sgemm_path(path, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

double fma_peak_gflops(SimdPath path, double seconds) {
#if defined(__x86_64__)
    if (!sgemm_path_supported(path) || path == SimdPath::Scalar) return 0.0;
    const bool wide = path == SimdPath::AVX512 || path == SimdPath::AVX512IFMA;
    const double lanes = wide ? 16.0 : 8.0;
    std::size_t iters = 1 << 16;
    volatile float sink = 0.0f;
    for (;;) {
        const auto t0 = std::chrono::steady_clock::now();
        sink = sink + (wide ? detail::fma_loop_avx512(iters) : detail::fma_loop_avx2(iters));
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (s >= seconds || iters > (std::size_t{1} << 34)) return static_cast<double>(iters) * 12.0 * lanes * 2.0 / s * 1e-9;
        iters *= 2;
    }
#else
    (void)path;
    (void)seconds;
    return 0.0;
#endif
}

void transpose(const float* in, std::size_t rows, std::size_t cols, float* out) {
    constexpr std::size_t T = 16;
    for (std::size_t r0 = 0; r0 < rows; r0 += T)
        for (std::size_t c0 = 0; c0 < cols; c0 += T) {
            const std::size_t r1 = std::min(rows, r0 + T), c1 = std::min(cols, c0 + T);
            for (std::size_t r = r0; r < r1; ++r)
                for (std::size_t c = c0; c < c1; ++c) out[c * rows + r] = in[r * cols + c];
        }
}

}  // namespace bt::nn
