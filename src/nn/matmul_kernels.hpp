// Internal: the per-ISA sgemm kernels behind bt/nn/matmul.hpp (same contract as sgemm_ref).
#pragma once

#include <cstddef>

namespace bt::nn::detail {

#if defined(__x86_64__)
void sgemm_avx2(std::size_t M, std::size_t N, std::size_t K, const float* A, std::size_t lda, const float* B,
                std::size_t ldb, float* C, std::size_t ldc, bool accumulate);
void sgemm_avx512(std::size_t M, std::size_t N, std::size_t K, const float* A, std::size_t lda, const float* B,
                  std::size_t ldb, float* C, std::size_t ldc, bool accumulate);
#endif

// K is processed in blocks of this many so that a B panel (KC × 32 floats) stays in L1.
constexpr std::size_t kSgemmKC = 128;

}  // namespace bt::nn::detail

namespace bt::nn::detail {
#if defined(__x86_64__)
// `iters` rounds of 12 independent vector FMAs (register-only): the FMA throughput peak.
// Returns a value derived from the accumulators so the loop is not optimized away.
float fma_loop_avx2(std::size_t iters);
float fma_loop_avx512(std::size_t iters);
#endif
}  // namespace bt::nn::detail
