// AVX2 + FMA sgemm kernel. The build compiles this file with -mavx2 -mbmi2 only, so FMA
// is enabled per function with a target attribute; it runs only when the CPU has both.
// Register tile: 6 rows × 16 columns = 12 ymm accumulators; column tails use
// maskload/maskstore, row tails the same kernel instantiated for fewer rows.
#include "matmul_kernels.hpp"

#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>

namespace bt::nn::detail {

namespace {

#define BT_FMA __attribute__((target("avx2,fma")))

template <std::size_t MR>
BT_FMA void tile_avx2(std::size_t kc, const float* A, std::size_t lda, const float* B, std::size_t ldb, float* C,
                      std::size_t ldc, __m256i m0, __m256i m1, bool accumulate) {
    __m256 c0[MR], c1[MR];
#pragma GCC unroll 8
    for (std::size_t r = 0; r < MR; ++r) {
        float* c = C + r * ldc;
        c0[r] = accumulate ? _mm256_maskload_ps(c, m0) : _mm256_setzero_ps();
        c1[r] = accumulate ? _mm256_maskload_ps(c + 8, m1) : _mm256_setzero_ps();
    }
    for (std::size_t k = 0; k < kc; ++k) {
        const __m256 b0 = _mm256_maskload_ps(B + k * ldb, m0);
        const __m256 b1 = _mm256_maskload_ps(B + k * ldb + 8, m1);
#pragma GCC unroll 8
        for (std::size_t r = 0; r < MR; ++r) {
            const __m256 a = _mm256_broadcast_ss(A + r * lda + k);
            c0[r] = _mm256_fmadd_ps(a, b0, c0[r]);
            c1[r] = _mm256_fmadd_ps(a, b1, c1[r]);
        }
    }
#pragma GCC unroll 8
    for (std::size_t r = 0; r < MR; ++r) {
        float* c = C + r * ldc;
        _mm256_maskstore_ps(c, m0, c0[r]);
        _mm256_maskstore_ps(c + 8, m1, c1[r]);
    }
}

__m256i mask_for(std::size_t n) {
    const int k = static_cast<int>(std::min<std::size_t>(n, 8));
    return _mm256_setr_epi32(k > 0 ? -1 : 0, k > 1 ? -1 : 0, k > 2 ? -1 : 0, k > 3 ? -1 : 0, k > 4 ? -1 : 0,
                             k > 5 ? -1 : 0, k > 6 ? -1 : 0, k > 7 ? -1 : 0);
}

}  // namespace

BT_FMA void sgemm_avx2(std::size_t M, std::size_t N, std::size_t K, const float* A, std::size_t lda, const float* B,
                       std::size_t ldb, float* C, std::size_t ldc, bool accumulate) {
    if (K == 0) {
        if (!accumulate)
            for (std::size_t i = 0; i < M; ++i) std::fill(C + i * ldc, C + i * ldc + N, 0.0f);
        return;
    }
    for (std::size_t k0 = 0; k0 < K; k0 += kSgemmKC) {
        const std::size_t kc = std::min(kSgemmKC, K - k0);
        const bool acc = accumulate || k0 > 0;
        for (std::size_t j0 = 0; j0 < N; j0 += 16) {
            const std::size_t nc = std::min<std::size_t>(16, N - j0);
            const __m256i m0 = mask_for(nc), m1 = mask_for(nc > 8 ? nc - 8 : 0);
            const float* b = B + k0 * ldb + j0;
            std::size_t i0 = 0;
            for (; i0 + 6 <= M; i0 += 6)
                tile_avx2<6>(kc, A + i0 * lda + k0, lda, b, ldb, C + i0 * ldc + j0, ldc, m0, m1, acc);
            const float* a = A + i0 * lda + k0;
            float* c = C + i0 * ldc + j0;
            switch (M - i0) {
                case 5: tile_avx2<5>(kc, a, lda, b, ldb, c, ldc, m0, m1, acc); break;
                case 4: tile_avx2<4>(kc, a, lda, b, ldb, c, ldc, m0, m1, acc); break;
                case 3: tile_avx2<3>(kc, a, lda, b, ldb, c, ldc, m0, m1, acc); break;
                case 2: tile_avx2<2>(kc, a, lda, b, ldb, c, ldc, m0, m1, acc); break;
                case 1: tile_avx2<1>(kc, a, lda, b, ldb, c, ldc, m0, m1, acc); break;
                default: break;
            }
        }
    }
}

}  // namespace bt::nn::detail

#endif  // __x86_64__

#if defined(__x86_64__)
namespace bt::nn::detail {

BT_FMA float fma_loop_avx2(std::size_t iters) {
    __m256 acc[12];
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(static_cast<float>(i) * 1e-3f);
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    for (std::size_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    }
    __m256 s = acc[0];
    for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, acc[i]);
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
}

}  // namespace bt::nn::detail
#endif
