// Residue number system: a basis of pairwise-coprime word-size moduli, exact CRT
// (big integers), fast base conversion (ModUp / ModDown in key switching), and exact
// division-and-rounding by the last modulus (rescaling).
//
// Layout: an RNS polynomial is limb-major, data[limb · n + i]. The kernels here work on
// coefficients (not NTT form); the CKKS layer moves between the two.
//
// References: fast base conversion as in Bajard–Eynard–Hasan–Zucca 2016 and
// Halevi–Polyakov–Shoup 2019; hybrid key switching (ModUp / ModDown with special primes)
// as in Han–Ki 2020.
#pragma once

#include "bt/bigint.hpp"
#include "bt/modarith.hpp"

#include <vector>

namespace bt {

class RNSBasis {
public:
    RNSBasis() = default;
    // Pairwise-coprime moduli, each in [2, 2^62); throws otherwise.
    explicit RNSBasis(const std::vector<u64>& moduli);

    std::size_t size() const { return mods_.size(); }
    const Modulus& operator[](std::size_t i) const { return mods_[i]; }
    const std::vector<Modulus>& moduli() const { return mods_; }
    std::vector<u64> values() const;
    const BigUInt& product() const { return product_; }  // Q = Π q_i
    // (Q/q_i)^{-1} mod q_i and its Shoup factor.
    u64 qhat_inv(std::size_t i) const { return qhat_inv_[i]; }
    u64 qhat_inv_shoup(std::size_t i) const { return qhat_inv_shoup_[i]; }
    // Sub-basis of moduli [first, first + count).
    RNSBasis slice(std::size_t first, std::size_t count) const;
    // Concatenation (moduli must stay pairwise coprime).
    RNSBasis concat(const RNSBasis& other) const;

    // Exact CRT: residues (one per modulus) -> x in [0, Q).
    BigUInt reconstruct(const u64* residues, std::size_t stride = 1) const;
    // x (any size) -> residues mod each q_i.
    void decompose(const BigUInt& x, u64* residues, std::size_t stride = 1) const;
    // Centred value of the residues, x - Q if x > Q/2, as long double (decoding).
    long double reconstruct_centered(const u64* residues, std::size_t stride = 1) const;
    // The same value by Garner's mixed-radix conversion with balanced digits in
    // (-q_i/2, q_i/2] (which, for odd moduli, represent exactly the centred residues),
    // in word arithmetic: O(size²) modular products, no big integers. Equal to
    // reconstruct_centered up to long double rounding. The decoder's path.
    long double compose_centered(const u64* residues, std::size_t stride = 1) const;

private:
    std::vector<Modulus> mods_;
    BigUInt product_, half_product_;
    std::vector<BigUInt> qhat_;  // Q / q_i
    std::vector<u64> qhat_inv_, qhat_inv_shoup_;
    std::vector<u64> garner_inv_;        // [i · size + j] = q_j^{-1} mod q_i, j < i
    std::vector<long double> radix_;     // Π_{j<i} q_j as long double
};

// Fast (approximate) base conversion from basis A to basis B:
//   out_j = Σ_i [x_i · (A/a_i)^{-1}]_{a_i} · (A/a_i)  mod b_j  =  x + u·A  (mod b_j)
// for a per-coefficient u in [0, |A|). Key switching absorbs the u·A term as noise.
class BaseConverter {
public:
    BaseConverter(const RNSBasis& from, const RNSBasis& to);
    const RNSBasis& from() const { return from_; }
    const RNSBasis& to() const { return to_; }
    // in: |A| limbs of n coefficients in [0, a_i); out: |B| limbs in [0, b_j). No aliasing.
    void convert(const u64* in, u64* out, std::size_t n) const;
    // The same with target limb j written at out[j] (limbs scattered in a larger
    // polynomial: key switching converts straight into place, with no copy).
    void convert(const u64* in, u64* const* out, std::size_t n) const;
    // Exact conversion of the centred representative x_c in [-A/2, A/2) (A odd):
    // subtracts round(Σ_i y_i / a_i)·A, the overflow computed in double precision
    // (Halevi–Polyakov–Shoup 2019). Exact unless x mod A lies within about 2^-45·A of
    // A/2, where the result may be off by ±A (a ±1 in ModDown, for example). The overflow
    // is the same on every target and SIMD path (products rounded, then summed in order
    // i = 0, 1, …, then rounded to nearest, ties to even; no fused multiply-add), so
    // that case too gives the same words everywhere.
    void convert_centered(const u64* in, u64* out, std::size_t n) const;
    // convert() in two halves, for callers that produce one target limb at a time:
    // y = x · (A/a_i)^{-1} mod a_i for source limb i (in place allowed), then target limb
    // j from the y's (source limb i at y + i·stride). Bit-identical to convert()'s limb j.
    // With v (from overflow()), target limb j of convert_centered() instead.
    void scale_source(std::size_t i, const u64* x, u64* y, std::size_t n) const;
    void convert_target(const u64* y, std::size_t stride, std::size_t j, u64* out, std::size_t n,
                        const u64* v = nullptr) const;
    // v[k] = round(Σ_i y_i[k] / a_i), the centred conversion's overflow, as convert_centered
    // computes it.
    void overflow(const u64* y, std::size_t stride, u64* v, std::size_t n) const;

private:
    void convert_impl(const u64* in, u64* const* out, std::size_t n, bool centered) const;
    // acc[k] = Σ_i y[i·stride + k] · c[i] (not reduced; < 2^128) for target limb j.
    void accumulate(const u64* y, std::size_t stride, const u64* c, std::size_t j, std::size_t len, u128* acc) const;
    // Which kernel computes target limb j (the same in convert_impl and convert_target;
    // every kernel gives the same words): the portable one, IFMA for b_j < 2^50 (sources
    // below 2^61, at most 7 of them at 2^52 or more), IFMA with Shoup products for
    // 2^50 <= b_j < 2^62 (sources below 2^62, at most 64 of them).
    // Chosen once, in the constructor (the SIMD path is fixed for the process).
    enum class TargetKernel { Portable, Ifma, WideIfma };
    std::vector<TargetKernel> kernel_;  // per target limb
    // The IFMA kernels' source condition (below 2^61, at most 7 at 2^52 or more), which
    // also selects the AVX-512 overflow kernel.
    bool ifma_sources_ = false;
    // Target limb j for len coefficients with a chosen SIMD kernel; false (nothing written)
    // for TargetKernel::Portable, which the callers run blockwise.
    bool target_simd(TargetKernel kind, const u64* y, std::size_t stride, std::size_t j, u64* out, std::size_t len,
                     const u64* v) const;
    std::vector<unsigned> small_rows_, big_rows_;  // source moduli below / above 2^52
    int max_from_bits_ = 0;
    RNSBasis from_, to_;
    std::vector<u64> qhat_mod_b_;        // [j · |A| + i] = (A/a_i) mod b_j
    std::vector<u64> qhat_mod_b_shoup_;  // [j · |A| + i] = floor(qhat_mod_b_ · 2^64 / b_j)
    std::vector<u64> a_mod_b_;           // A mod b_j
    std::vector<u64> neg_a_mod_b_, neg_a_mod_b_shoup_;  // (-A) mod b_j and its Shoup factor
    std::vector<double> inv_a_;    // 1 / a_i
};

// ModDown for hybrid key switching: given x in basis Q ∪ P as x_Q (|Q| limbs) and x_P
// (|P| limbs), overwrite x_Q with (x - [x]_P,centred) · P^{-1} mod Q = round(x / P).
// Unbiased rounding matters: a constant bias in every coefficient of a ciphertext
// concentrates in a few slots of the canonical embedding. Coefficient domain.
class ModDown {
public:
    ModDown(const RNSBasis& Q, const RNSBasis& P);
    void apply(u64* x_q, const u64* x_p, std::size_t n) const;

private:
    BaseConverter conv_;
    std::vector<u64> p_inv_, p_inv_shoup_;  // P^{-1} mod q_i
};

// Rescale: x in basis {q_0 … q_l} (l+1 limbs, coefficient domain) -> round(x / q_l) in
// basis {q_0 … q_{l-1}}, exactly: floor((x + floor(q_l/2)) / q_l). Overwrites the first
// l limbs of `data`; the last limb is consumed.
void divide_round_by_last(u64* data, std::size_t n, const RNSBasis& basis);

}  // namespace bt
