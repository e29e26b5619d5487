// Private declarations of the SIMD kernels behind bt/rns.hpp (fast base conversion).
#pragma once

#include "bt/modarith.hpp"

#include <cstddef>

namespace bt::detail {

constexpr std::size_t kWideIfmaMaxRows = 64;  // the most rows base_conv_target_wide_ifma takes

#if defined(__x86_64__)
// One target limb of a base conversion, for a block of len coefficients:
//   out[k] = Σ_i y[i·stride + k] · c[i]  (minus v[k]·am if v) mod b,
// fully reduced. Requires b < 2^50, c[i] < b, y < 2^61, at most 64 rows of which at most
// 7 have y >= 2^52 (those are listed in big_rows; they are split as y_lo + y_hi·2^52).
// AVX-512 IFMA + DQ.
void base_conv_target_ifma(const u64* y, std::size_t stride, const unsigned* small_rows, std::size_t nsmall,
                           const unsigned* big_rows, std::size_t nbig, const u64* c, const u64* v, u64 am,
                           std::size_t len, u64 b, u64* out);
// The same for targets 2^50 <= b < 2^62 (the 60- and 61-bit primes of bootstrapping and
// the special primes), at most 64 rows with y < 2^62: each product is reduced by
// Shoup's method with cp[i] = floor(c[i]·2^64 / b) (its quotient estimate from six IFMA
// products, at most 2 low), then accumulated in [0, b). v[k] (if v) enters as one more
// row with the constant b_am = (b - am) mod b and its factor b_amp. AVX-512 IFMA + DQ.
void base_conv_target_wide_ifma(const u64* y, std::size_t stride, std::size_t rows, const u64* c, const u64* cp,
                                const u64* v, u64 b_am, u64 b_amp, std::size_t len, u64 b, u64* out);
// v[k] = round(Σ_i y[i·stride + k] · inv_a[i]) in double precision (AVX-512 DQ).
void base_conv_overflow_avx512(const u64* y, std::size_t stride, std::size_t rows, const double* inv_a,
                               std::size_t len, u64* v);
#endif

}  // namespace bt::detail
