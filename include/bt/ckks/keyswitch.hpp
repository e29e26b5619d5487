// Hybrid key switching (Han–Ki 2020, after Gentry–Halevi–Smart 2012), the one routine
// behind relinearization, rotation and conjugation.
//
// To switch a component d (decrypting under s') at level l: cut the chain Q_l into
// digits Q_j of α = |P| limbs; raise each [d]_{Q_j} to Q_l ∪ P by fast base conversion
// (ModUp — its u·Q_j error vanishes against the gadget Q̃_j); take the inner product of
// the digits with the key (b_j, a_j); divide by P with ModDown. Noise added is about
// (Σ_j |[d]_{Q_j}|·e_j)/P + rounding, small when P is at least as large as each digit.
//
// Hoisting (Halevi–Shoup 2018): the decomposition of d does not depend on the key, and
// a Galois automorphism commutes with it (a permutation in NTT form), so many
// rotations of one ciphertext share one decomposition; inner_product takes the
// permutation and reads the digits through it.
#pragma once

#include "bt/ckks/keys.hpp"
#include "bt/rns.hpp"

#include <memory>
#include <vector>

namespace bt::ckks {

struct KeySwitchLevel {
    std::size_t level = 0;
    std::vector<std::size_t> digit_begin, digit_end;  // limb ranges of the digits in Q_l
    // Per digit: conversion from the digit's primes to the complement, ordered
    // q_0 … q_l without the digit, then p_0 … p_{k-1}.
    std::vector<std::unique_ptr<BaseConverter>> modup;
    std::unique_ptr<BaseConverter> p_to_q;            // P -> Q_l
    std::vector<u64> p_inv, p_inv_shoup;              // P^{-1} mod q_i
};

// A decomposed component: digits over Q_l ∪ P (l+1+k limbs: q_0 … q_l, p_0 … p_{k-1}), NTT.
struct Decomposition {
    std::size_t level = 0;
    std::vector<Poly> digits;
};

// Refuses a key that does not serve `level` or has fewer than `digits` digits.
void check_switching_key(const SwitchingKey& key, std::size_t level, std::size_t digits);
// ModUp of every digit of d (NTT form, level+1 limbs).
Decomposition decompose(const Params& P, const Poly& d, std::size_t level);
// acc0 / acc1 (Q_l ∪ P, NTT) = Σ_j σ(digit_j) ⊙ (b_j, a_j), σ the permutation if given.
void inner_product(const Params& P, const Decomposition& dec, const SwitchingKey& key, Poly& acc0, Poly& acc1,
                   const std::vector<std::uint32_t>* perm = nullptr);
// decompose + inner_product without storing the digits: output limb by output limb,
// each digit's limb is converted and transformed in cache and multiplied into the
// accumulators at once (one key switch: no hoisting to share the digits with). The same
// words as decompose followed by inner_product.
void switch_key_fused(const Params& P, const Poly& d, std::size_t level, const SwitchingKey& key, Poly& acc0,
                      Poly& acc1, const std::vector<std::uint32_t>* perm = nullptr);
// ModDown: acc over Q_l ∪ P (NTT) -> round(acc / P) over Q_l (NTT), in place. Unbiased
// rounding (exact centred conversion): a biased error would pile up in a few slots.
// With add_to (level+1 limbs, NTT), the result is added to it instead and acc is left
// as scratch (one pass less over memory than mod_down followed by an addition).
void mod_down(const Params& P, Poly& acc, std::size_t level, Poly* add_to = nullptr);

}  // namespace bt::ckks
