// Private declarations of the per-path kernels behind bt/ntt.hpp and bt/eltwise.hpp.
// Only src/math/ includes this. The x86 kernels live in *_avx2.cpp / *_avx512.cpp,
// compiled with their own flags; they exist only in x86-64 builds.
#pragma once

#include "bt/ntt.hpp"

namespace bt::detail {

// ---- NTT, contracts as in bt/ntt.hpp
void ntt_forward_scalar(u64* a, const NTTTables& t, unsigned in_factor, unsigned out_factor);
void ntt_inverse_scalar(u64* a, const NTTTables& t, unsigned in_factor, unsigned out_factor);

#if defined(__x86_64__)
void ntt_forward_avx2(u64* a, const NTTTables& t, unsigned in_factor, unsigned out_factor);
void ntt_inverse_avx2(u64* a, const NTTTables& t, unsigned in_factor, unsigned out_factor);
// 64-bit AVX-512 path: any q < 2^62.
void ntt_forward_avx512(u64* a, const NTTTables& t, unsigned in_factor, unsigned out_factor);
void ntt_inverse_avx512(u64* a, const NTTTables& t, unsigned in_factor, unsigned out_factor);
// IFMA path: requires t.ifma_capable() (q < 2^50).
void ntt_forward_avx512ifma(u64* a, const NTTTables& t, unsigned in_factor, unsigned out_factor);
void ntt_inverse_avx512ifma(u64* a, const NTTTables& t, unsigned in_factor, unsigned out_factor);
#endif

}  // namespace bt::detail

#include "bt/eltwise.hpp"

namespace bt::detail {

// ---- element-wise, contracts as in bt/eltwise.hpp (b ignored for Neg/MulScalar, w for
// the others). Every path handles any n, including n not a multiple of the vector width.
void eltwise_scalar(EltOp op, u64* r, const u64* a, const u64* b, u64 w, std::size_t n, const Modulus& m);
#if defined(__x86_64__)
void eltwise_avx2(EltOp op, u64* r, const u64* a, const u64* b, u64 w, std::size_t n, const Modulus& m);
void eltwise_avx512(EltOp op, u64* r, const u64* a, const u64* b, u64 w, std::size_t n, const Modulus& m);
// IFMA: requires q < 2^50; the dispatcher falls back to eltwise_avx512 otherwise.
void eltwise_avx512ifma(EltOp op, u64* r, const u64* a, const u64* b, u64 w, std::size_t n,
                        const Modulus& m);
#endif
// eltwise_reduce_signed's kernels; the AVX-512 one requires q > 2^32.
void reduce_signed_scalar(u64* r, const u64* mag, const unsigned char* neg, std::size_t n, const Modulus& m);
#if defined(__x86_64__)
void reduce_signed_avx512(u64* r, const u64* mag, const unsigned char* neg, std::size_t n, const Modulus& m);
#endif

// ---- sixteen ChaCha20 blocks (src/math/chacha_x16.inc): out[w·16 + b] = word w of block
// counter + b.
#if defined(__x86_64__)
void chacha20_x16_avx2(const std::uint32_t key[8], std::uint64_t counter, std::uint64_t stream,
                       std::uint32_t out[256]);
void chacha20_x16_avx512(const std::uint32_t key[8], std::uint64_t counter, std::uint64_t stream,
                         std::uint32_t out[256]);
// sample_uniform_public's rejection step on one chacha20_x16 output: the 128 64-bit words in
// stream order, each ANDed with mask and kept if below q; writes the first `room` kept
// words to out and returns how many it wrote.
std::size_t uniform_accept_x16_avx512(const std::uint32_t buf[256], std::uint64_t mask, std::uint64_t q,
                                      std::uint64_t* out, std::size_t room);
#endif

}  // namespace bt::detail
