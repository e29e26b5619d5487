// Negacyclic number-theoretic transform over Z_q[X]/(X^N + 1), N = 2^4 … 2^17.
//
// Forward: a(X) -> (a(ψ^(2·brv(k)+1)))_k, output in bit-reversed order (Cooley–Tukey
// butterflies with ψ-powers stored in bit-reversed order, Longa–Naehrig 2016). Inverse:
// Gentleman–Sande butterflies undoing it, including the factor N^{-1}. In NTT form a
// negacyclic product is an element-wise product.
//
// Three tiers, one name each (STYLE.md): ntt_forward_ref (textbook, the test oracle),
// the fast scalar kernel (Harvey 2014 lazy butterflies), and AVX2 / AVX-512 / AVX-512
// IFMA kernels in their own files (src/math/ntt_avx2.cpp, ntt_avx512.cpp). ntt_forward
// picks the path in force (bt/cpu.hpp); ntt_forward_path runs a given one (tests, bench).
//
// Lazy ranges: the forward transform accepts inputs in [0, in_factor·q) with in_factor in
// {1, 2, 4} and returns [0, out_factor·q) with out_factor in {1, 4}; the inverse accepts
// in_factor in {1, 2} and returns out_factor in {1, 2}. Lazy outputs are congruent to
// the reduced ones; reduce them with reduce_from_lazy when needed.
#pragma once

#include "bt/cpu.hpp"
#include "bt/modarith.hpp"

#include <cstddef>
#include <vector>

namespace bt {

// Precomputed tables for one (N, q). Immutable; share freely between threads.
class NTTTables {
public:
    // q prime, q ≡ 1 mod 2N, q < 2^62, N a power of two in [16, 2^17].
    NTTTables(std::size_t N, u64 q);

    std::size_t N() const { return n_; }
    int log_n() const { return log_n_; }
    const Modulus& modulus() const { return mod_; }
    u64 q() const { return mod_.value; }
    u64 psi() const { return psi_; }  // the primitive 2N-th root used
    // IFMA kernels apply only below 2^50 (lazy values up to 4q must fit in 52 bits).
    bool ifma_capable() const { return mod_.value < (u64{1} << 50); }

    // Forward: w[i] = ψ^brv(i) (i in [1, N)), with Shoup factors floor(w·2^64/q).
    const u64* fwd() const { return fwd_.data(); }
    const u64* fwd_shoup() const { return fwd_shoup_.data(); }
    // Inverse: wi[i] = ψ^-brv(i), same layout.
    const u64* inv() const { return inv_.data(); }
    const u64* inv_shoup() const { return inv_shoup_.data(); }
    // 52-bit Shoup factors floor(w·2^52/q) for the IFMA kernels (empty unless ifma_capable).
    const u64* fwd_shoup52() const { return fwd_shoup52_.data(); }
    const u64* inv_shoup52() const { return inv_shoup52_.data(); }
    u64 inv_n() const { return inv_n_; }              // N^{-1} mod q
    u64 inv_n_shoup() const { return inv_n_shoup_; }  // its 64-bit Shoup factor
    u64 inv_n_shoup52() const { return inv_n_shoup52_; }

private:
    std::size_t n_;
    int log_n_;
    Modulus mod_;
    u64 psi_;
    std::vector<u64> fwd_, fwd_shoup_, inv_, inv_shoup_, fwd_shoup52_, inv_shoup52_;
    u64 inv_n_, inv_n_shoup_, inv_n_shoup52_ = 0;
};

// Bit reversal of the low `bits` bits of x.
std::size_t bit_reverse(std::size_t x, int bits);

// ---------------------------------------------------------------- the transforms
// Textbook reference: plain modular arithmetic, no laziness. [0, q) -> [0, q).
void ntt_forward_ref(u64* a, const NTTTables& t);
void ntt_inverse_ref(u64* a, const NTTTables& t);
// O(N^2) evaluation at the odd powers of ψ, independent of any butterfly (oracle of the
// oracle, small N only). [0, q) -> [0, q), bit-reversed output order as ntt_forward.
void ntt_forward_naive(u64* a, const NTTTables& t);

// The path in force (BT_SIMD / best available).
void ntt_forward(u64* a, const NTTTables& t, unsigned in_factor = 1, unsigned out_factor = 1);
void ntt_inverse(u64* a, const NTTTables& t, unsigned in_factor = 1, unsigned out_factor = 1);
// A given path; throws std::invalid_argument if this CPU/build lacks it. Under
// AVX512IFMA, primes of 50 bits or more use the 64-bit AVX-512 kernel.
void ntt_forward_path(SimdPath p, u64* a, const NTTTables& t, unsigned in_factor = 1,
                      unsigned out_factor = 1);
void ntt_inverse_path(SimdPath p, u64* a, const NTTTables& t, unsigned in_factor = 1,
                      unsigned out_factor = 1);

// Whole RNS polynomials: `limbs` residue vectors of N words, limb-major
// (data[l·N + i]), limb l transformed with tables[l]. [0, q_l) -> [0, q_l).
void ntt_forward_rns(u64* data, const NTTTables* const* tables, std::size_t limbs);
void ntt_inverse_rns(u64* data, const NTTTables* const* tables, std::size_t limbs);

// x in [0, factor·q) -> [0, q) for factor in {1, 2, 4}.
void reduce_from_lazy(u64* a, std::size_t n, u64 q, unsigned factor);

}  // namespace bt
