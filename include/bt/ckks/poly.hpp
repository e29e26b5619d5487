// RNS polynomials for CKKS and the limb-wise operations on them.
//
// A Poly holds `limbs` residue vectors of N words, limb-major (data[limb·N + i]), in
// NTT form by default. Limb indices follow Params: 0 … L are q_0 … q_L, and in key
// material the special primes follow at q_count() … q_count()+k-1. The helpers take the
// list of RNS indices a Poly's limbs stand for, so the same code serves Q-only and
// Q ∪ P polynomials. Parallel over limbs with the process thread pool.
#pragma once

#include "bt/ckks/params.hpp"

#include <cstdint>
#include <functional>
#include <vector>

namespace bt::ckks {

struct Poly {
    std::size_t n = 0;      // ring dimension N
    std::size_t limbs = 0;  // number of residue vectors
    bool ntt = true;        // evaluation (NTT) form
    std::vector<u64> data;  // limbs × n

    Poly() = default;
    Poly(std::size_t n_, std::size_t limbs_, bool ntt_ = true) : n(n_), limbs(limbs_), ntt(ntt_), data(n_ * limbs_, 0) {}
    u64* limb(std::size_t i) { return data.data() + i * n; }
    const u64* limb(std::size_t i) const { return data.data() + i * n; }
    // Overwrites the residues with zeros (for polynomials derived from secrets: the NTT
    // forms of errors and of encryption randomness) before the memory is released.
    void wipe();
    // Keeps the first `count` limbs.
    void truncate(std::size_t count) {
        limbs = count;
        data.resize(count * n);
    }
};

// RNS index of limb i of a polynomial at `level` (0 … level are q_i) or of a Q_level ∪ P
// polynomial (limbs level+1 … are the special primes).
inline std::size_t rns_index(const Params& P, std::size_t level, std::size_t limb) {
    return limb <= level ? limb : P.q_count() + (limb - level - 1);
}

// Runs fn(limb) for each limb, in parallel when the ring is large enough to pay for it.
void for_each_limb(std::size_t limbs, std::size_t n, const std::function<void(std::size_t)>& fn);

// In-place transforms of every limb of a polynomial whose limbs are q_0 … q_level
// (and, with `with_p`, the special primes after them).
void to_ntt(const Params& P, Poly& a, std::size_t level, bool with_p = false);
void from_ntt(const Params& P, Poly& a, std::size_t level, bool with_p = false);

// r = a op b over the first `limbs` limbs, limb i reduced modulo rns_index(P, level, i).
void poly_add(const Params& P, std::size_t level, Poly& r, const Poly& a, const Poly& b, std::size_t limbs);
void poly_sub(const Params& P, std::size_t level, Poly& r, const Poly& a, const Poly& b, std::size_t limbs);
void poly_neg(const Params& P, std::size_t level, Poly& r, const Poly& a, std::size_t limbs);
void poly_mul(const Params& P, std::size_t level, Poly& r, const Poly& a, const Poly& b, std::size_t limbs);
void poly_mul_acc(const Params& P, std::size_t level, Poly& r, const Poly& a, const Poly& b, std::size_t limbs);
// r = a · c where c is given per limb (c[i] < modulus of limb i).
void poly_mul_scalar(const Params& P, std::size_t level, Poly& r, const Poly& a, const std::vector<u64>& c,
                     std::size_t limbs);

// Galois automorphism X -> X^g (g odd mod 2N) on NTT-form data: a permutation of the
// evaluation points. perm[k] is the source index of output k.
std::vector<std::uint32_t> automorphism_permutation(std::size_t n, std::uint64_t g);
void apply_automorphism_ntt(const Poly& a, Poly& r, const std::vector<std::uint32_t>& perm, std::size_t limbs);
// The same on coefficients (reference for tests): X^i -> ±X^(i·g mod N).
void apply_automorphism_coeff(const Params& P, std::size_t level, const Poly& a, Poly& r, std::uint64_t g,
                              std::size_t limbs);

}  // namespace bt::ckks
