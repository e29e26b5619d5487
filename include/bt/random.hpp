// Randomness: a CSPRNG and the samplers CKKS needs.
//
// Prng is the ChaCha20 stream (RFC 8439 block function; 64-bit block counter in words
// 12-13, 64-bit stream id in words 14-15) keyed by a 32-byte seed. Seeds come from the
// OS (getrandom) via Prng::from_os(); a given seed expands deterministically, which
// is what seed-compressed keys and ciphertexts need (the public "a" polynomial is sent
// as its seed). A Prng built from a fixed seed is reproducible and therefore insecure
// for secrets: callers that offer a fixed seed must say so (see ckks key generation).
// State and buffered output are wiped on destruction.
//
// Samplers write RNS-independent small values (int8 / int64) that callers lift into
// each modulus with from_signed_ct, so no branch depends on a secret value.
#pragma once

#include "bt/modarith.hpp"

#include <array>
#include <cstdint>

namespace bt {

using Seed = std::array<std::uint8_t, 32>;

// 32 bytes from the OS CSPRNG (getrandom, blocking until the pool is initialised).
// Throws std::runtime_error if the OS refuses.
Seed os_random_seed();

// The ChaCha20 block function: state words 12..15 given explicitly. out = 64 bytes.
void chacha20_block(const Seed& key, const std::uint32_t words12_15[4], std::uint8_t out[64]);

class Prng {
public:
    explicit Prng(const Seed& seed, std::uint64_t stream = 0);
    static Prng from_os(std::uint64_t stream = 0) { return Prng(os_random_seed(), stream); }
    ~Prng();
    Prng(const Prng&) = delete;
    Prng& operator=(const Prng&) = delete;
    Prng(Prng&& o) noexcept;
    Prng& operator=(Prng&&) = delete;

    void fill(void* out, std::size_t bytes);
    std::uint64_t next_u64();
    std::uint32_t next_u32();

private:
    void refill();
    Seed key_;
    std::uint64_t counter_ = 0, stream_ = 0;
    std::uint8_t buf_[64];
    std::size_t pos_ = 64;
};

// Uniform in [0, q) for any q >= 1: rejection sampling on the smallest covering bit
// mask, so no modulo bias (expected < 2 draws per value).
void sample_uniform_mod(Prng& prng, u64 q, u64* out, std::size_t n);
// The same values as sample_uniform_mod(Prng(seed, stream), q, out, n), word for word, about
// ten times faster (sixteen ChaCha20 blocks per call, AVX-512 when available; no per-word
// buffering or wiping): for PUBLIC uniform data only, the "a" polynomials that keys and
// seed-compressed ciphertexts expand from their public seeds.
void sample_uniform_public(const Seed& seed, std::uint64_t stream, u64 q, u64* out, std::size_t n);
// Sixteen ChaCha20 blocks counter … counter + 15 of (seed, stream) on a given SIMD path:
// out[w·16 + b] = word w of block counter + b (the kernel behind sample_uniform_public,
// exposed for tests against chacha20_block).
enum class SimdPath : int;
// sample_uniform_public on a given SIMD path (tests and benchmarks; throws
// std::invalid_argument if this CPU or build lacks it). The AVX-512 paths also do the
// rejection step eight words at a time.
void sample_uniform_public_path(const Seed& seed, std::uint64_t stream, u64 q, u64* out, std::size_t n,
                                SimdPath path);
void chacha20_x16(const Seed& seed, std::uint64_t counter, std::uint64_t stream, std::uint32_t out[256],
                  SimdPath path);

// Uniform ternary: each coefficient -1, 0, 1 with probability 1/3.
void sample_ternary(Prng& prng, std::int8_t* out, std::size_t n);
// Sparse ternary with exactly h nonzero coefficients (each ±1 with probability 1/2),
// positions uniformly random. Constant-time: a fixed sorting network on random keys,
// so the memory access pattern does not depend on the chosen positions.
void sample_sparse_ternary(Prng& prng, std::size_t h, std::int8_t* out, std::size_t n);
// Discrete Gaussian with parameter sigma (standard deviation), support [-bound, bound]
// (bound = ceil(6 sigma) by default), by inversion of a 63-bit cumulative table scanned
// in full for every sample (time independent of the value drawn).
void sample_gaussian(Prng& prng, double sigma, std::int64_t* out, std::size_t n, int bound = 0);

constexpr double kDefaultSigma = 3.2;  // HomomorphicEncryption.org standard error width

}  // namespace bt
