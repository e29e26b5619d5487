// AVX-512 sgemm kernel (compiled with the AVX-512 flags; run only when the CPU has them).
// Register tile: 6 rows × 32 columns = 12 zmm accumulators; per k step two B loads and
// six broadcasts of A feed twelve FMAs. Column tails use masked loads and stores; row
// tails use the same kernel instantiated for fewer rows.
#include "matmul_kernels.hpp"

#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>

namespace bt::nn::detail {

namespace {

template <std::size_t MR>
void tile_avx512(std::size_t kc, const float* A, std::size_t lda, const float* B, std::size_t ldb, float* C,
                 std::size_t ldc, __mmask16 m0, __mmask16 m1, bool accumulate) {
    __m512 c0[MR], c1[MR];
#pragma GCC unroll 8
    for (std::size_t r = 0; r < MR; ++r) {
        float* c = C + r * ldc;
        c0[r] = accumulate ? _mm512_maskz_loadu_ps(m0, c) : _mm512_setzero_ps();
        c1[r] = accumulate ? _mm512_maskz_loadu_ps(m1, c + 16) : _mm512_setzero_ps();
    }
    for (std::size_t k = 0; k < kc; ++k) {
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, B + k * ldb);
        const __m512 b1 = _mm512_maskz_loadu_ps(m1, B + k * ldb + 16);
#pragma GCC unroll 8
        for (std::size_t r = 0; r < MR; ++r) {
            const __m512 a = _mm512_set1_ps(A[r * lda + k]);
            c0[r] = _mm512_fmadd_ps(a, b0, c0[r]);
            c1[r] = _mm512_fmadd_ps(a, b1, c1[r]);
        }
    }
#pragma GCC unroll 8
    for (std::size_t r = 0; r < MR; ++r) {
        float* c = C + r * ldc;
        _mm512_mask_storeu_ps(c, m0, c0[r]);
        _mm512_mask_storeu_ps(c + 16, m1, c1[r]);
    }
}

__mmask16 mask_for(std::size_t n) { return n >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u); }

}  // namespace

void sgemm_avx512(std::size_t M, std::size_t N, std::size_t K, const float* A, std::size_t lda, const float* B,
                  std::size_t ldb, float* C, std::size_t ldc, bool accumulate) {
    if (K == 0) {
        if (!accumulate)
            for (std::size_t i = 0; i < M; ++i) std::fill(C + i * ldc, C + i * ldc + N, 0.0f);
        return;
    }
    for (std::size_t k0 = 0; k0 < K; k0 += kSgemmKC) {
        const std::size_t kc = std::min(kSgemmKC, K - k0);
        const bool acc = accumulate || k0 > 0;
        for (std::size_t j0 = 0; j0 < N; j0 += 32) {
            const std::size_t nc = std::min<std::size_t>(32, N - j0);
            const __mmask16 m0 = mask_for(nc), m1 = mask_for(nc > 16 ? nc - 16 : 0);
            const float* b = B + k0 * ldb + j0;
            std::size_t i0 = 0;
            for (; i0 + 6 <= M; i0 += 6)
                tile_avx512<6>(kc, A + i0 * lda + k0, lda, b, ldb, C + i0 * ldc + j0, ldc, m0, m1, acc);
            const float* a = A + i0 * lda + k0;
            float* c = C + i0 * ldc + j0;
            switch (M - i0) {
                case 5: tile_avx512<5>(kc, a, lda, b, ldb, c, ldc, m0, m1, acc); break;
                case 4: tile_avx512<4>(kc, a, lda, b, ldb, c, ldc, m0, m1, acc); break;
                case 3: tile_avx512<3>(kc, a, lda, b, ldb, c, ldc, m0, m1, acc); break;
                case 2: tile_avx512<2>(kc, a, lda, b, ldb, c, ldc, m0, m1, acc); break;
                case 1: tile_avx512<1>(kc, a, lda, b, ldb, c, ldc, m0, m1, acc); break;
                default: break;
            }
        }
    }
}

}  // namespace bt::nn::detail

#endif  // __x86_64__

#if defined(__x86_64__)
namespace bt::nn::detail {

float fma_loop_avx512(std::size_t iters) {
    __m512 acc[12];
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i) * 1e-3f);
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (std::size_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    }
    __m512 s = acc[0];
    for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, acc[i]);
    float out[16];
    _mm512_storeu_ps(out, s);
    float t = 0.0f;
    for (float x : out) t += x;
    return t;
}

}  // namespace bt::nn::detail
#endif
