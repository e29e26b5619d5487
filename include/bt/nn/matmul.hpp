// Float matrix multiply for the transformer: C[M,N] = A[M,K] · B[K,N] (+ C if accumulate),
// all row-major with leading dimensions (lda >= K, ldb >= N, ldc >= N).
//
// sgemm_ref is the textbook triple loop (one float accumulator per output, k ascending) and
// stays the test oracle. sgemm_path runs one implementation: Scalar (blocked, portable),
// AVX2 (+FMA) or AVX-512 (AVX512IFMA uses the AVX-512 kernel); sgemm picks the path from
// bt::simd_path() (BT_SIMD forces one). The SIMD kernels use fused multiply-add and a
// different summation order, so they agree with the reference to float rounding, not
// bit-exactly: |C - C_ref| <= 1e-5 · sum_k |A_ik·B_kj| (+1e-30) is what the tests require.
// The Scalar path keeps the reference's order (ascending k, separate multiply and add) and
// so matches it bit for bit unless the compiler contracts a·b + c into FMA (GCC with
// -std=c++17 does not; the test prints the measured error per path).
// Single-threaded: the model parallelizes over images, each worker calling sgemm.
#pragma once

#include "bt/cpu.hpp"

#include <cstddef>

namespace bt::nn {

void sgemm_ref(std::size_t M, std::size_t N, std::size_t K, const float* A, std::size_t lda, const float* B,
               std::size_t ldb, float* C, std::size_t ldc, bool accumulate);
void sgemm_path(SimdPath path, std::size_t M, std::size_t N, std::size_t K, const float* A, std::size_t lda,
                const float* B, std::size_t ldb, float* C, std::size_t ldc, bool accumulate);
void sgemm(std::size_t M, std::size_t N, std::size_t K, const float* A, std::size_t lda, const float* B,
           std::size_t ldb, float* C, std::size_t ldc, bool accumulate);
// Whether sgemm_path(p, ...) can run here (the CPU has the features, incl. FMA for AVX2).
bool sgemm_path_supported(SimdPath p);

// The single-core float32 FMA peak of `path`, measured (not looked up): a register-only loop
// of 12 independent vector FMAs (2 flops per lane) timed for about `seconds`. For Scalar it
// returns 0 (no meaningful vector peak). Used by bt_bench to put GFLOP/s in context.
double fma_peak_gflops(SimdPath path, double seconds = 0.2);

// out[cols, rows] = in[rows, cols]ᵀ (ld of in = cols, of out = rows).
void transpose(const float* in, std::size_t rows, std::size_t cols, float* out);

}  // namespace bt::nn
