// CKKS homomorphic operations.
//
// Every operation checks its operands (parameters fingerprint, level, scale, slots, key
// availability) and throws std::invalid_argument saying what was expected and what was
// found. The evaluator holds no mutable state: one Evaluator may serve many threads.
//
// Scale policy (see bt/ckks/params.hpp): at level l the nominal scale is Δ_l, and a
// level-l product rescales to exactly Δ_{l-1}. Operands at different levels are aligned
// automatically: the higher one is brought down to the lower level by a multiplication
// with an integer constant chosen so that, after one rescale, its scale equals the
// other's up to a relative 2^-40 (this spends its extra levels, which it has). Additions
// need equal scales up to a relative 2^-30 (so no value drifts by more than that);
// anything else is an error naming both scales. mul_const encodes the constant at the
// ciphertext's nominal scale (rescale afterwards); mul_int needs no rescale.
#pragma once

#include "bt/ckks/ciphertext.hpp"
#include "bt/ckks/encoder.hpp"
#include "bt/ckks/keys.hpp"
#include "bt/ckks/keyswitch.hpp"

#include <utility>
#include <vector>

namespace bt::ckks {

class Evaluator {
public:
    explicit Evaluator(ParamsPtr params, const RelinKey* rk = nullptr, const GaloisKeys* gk = nullptr);
    void set_relin_key(const RelinKey* rk);
    void set_galois_keys(const GaloisKeys* gk);
    const ParamsPtr& params() const { return params_; }
    const Encoder& encoder() const { return encoder_; }
    // The Galois keys in use (nullptr if none): circuits that key-switch by themselves
    // (double-hoisted linear transforms) read them here.
    const GaloisKeys* galois_keys() const { return gk_; }

    // ---- addition
    Ciphertext add(const Ciphertext& a, const Ciphertext& b) const;
    Ciphertext sub(const Ciphertext& a, const Ciphertext& b) const;
    void add_inplace(Ciphertext& a, const Ciphertext& b) const;
    void sub_inplace(Ciphertext& a, const Ciphertext& b) const;
    void negate_inplace(Ciphertext& a) const;
    void add_plain_inplace(Ciphertext& a, const Plaintext& p) const;  // same level and scale
    void sub_plain_inplace(Ciphertext& a, const Plaintext& p) const;
    void add_const_inplace(Ciphertext& a, double c) const;            // c in every slot

    // ---- multiplication
    // Tensor product (3 parts), no relinearization or rescale; levels aligned first.
    Ciphertext multiply(const Ciphertext& a, const Ciphertext& b) const;
    // The tensor product at `level`, both operands at or above it (their higher limbs
    // are dropped for free: nothing is copied).
    Ciphertext multiply_at(const Ciphertext& a, const Ciphertext& b, std::size_t level) const;
    // Σ_t a_t ⊗ b_t: the sum of tensor products (3 parts, no relinearization or rescale),
    // every operand relinearized and at one level, every product at one scale. The same
    // words as multiply() of each pair added in order, in one pass over the operands
    // (blocks of coefficients accumulated in cache instead of a product written and re-read
    // per pair).
    Ciphertext tensor_sum(const std::vector<std::pair<const Ciphertext*, const Ciphertext*>>& terms) const;
    // multiply + relinearize + rescale.
    Ciphertext multiply_relin_rescale(const Ciphertext& a, const Ciphertext& b) const;
    void mul_plain_inplace(Ciphertext& a, const Plaintext& p) const;  // same level; scales multiply
    void mul_const_inplace(Ciphertext& a, double c) const;            // scale × Δ_level; rescale next
    // The same with the constant encoded at an explicit scale: round(c·const_scale), the
    // ciphertext's scale multiplied by const_scale (scale-exact circuits choose it so
    // that terms meet at one scale).
    void mul_const_inplace(Ciphertext& a, double c, double const_scale) const;
    // a += c·b for a constant c encoded at scale a.scale / b.scale (so the sum needs no
    // alignment); b at a's level or above (dropped for free), a.scale / b.scale >= 1.
    void add_scaled_inplace(Ciphertext& a, const Ciphertext& b, double c) const;
    // Σ_t c_t·x_t at `level` and `scale`: each constant encoded at scale / x_t.scale (>= 1)
    // exactly as mul_const_inplace(x_t, c_t, scale / x_t.scale) would, terms at or above
    // `level` (dropped for free), same parts and slots. One pass over each term.
    Ciphertext weighted_sum(const std::vector<std::pair<double, const Ciphertext*>>& terms, std::size_t level,
                            double scale) const;
    void mul_int_inplace(Ciphertext& a, long long k) const;           // no scale change
    void relinearize_inplace(Ciphertext& a) const;
    void rescale_inplace(Ciphertext& a) const;
    Ciphertext rescale(const Ciphertext& a) const;

    // ---- levels
    void drop_to_level_inplace(Ciphertext& a, std::size_t level) const;   // scale unchanged
    // Brings a to `level` with scale `scale` (one rescale): see the policy above.
    void adjust_to_inplace(Ciphertext& a, std::size_t level, double scale) const;
    // The same into a new ciphertext, copying only the limbs the adjustment reads
    // (q_0 … q_{level+1}), not the whole of a.
    Ciphertext adjusted_to(const Ciphertext& a, std::size_t level, double scale) const;

    // ---- rotations
    Ciphertext rotate(const Ciphertext& a, long steps) const;  // left by steps (negative: right)
    Ciphertext conjugate(const Ciphertext& a) const;
    Ciphertext apply_galois(const Ciphertext& a, std::uint64_t g) const;
    // Several rotations of one ciphertext sharing one decomposition (hoisting).
    std::vector<Ciphertext> rotate_hoisted(const Ciphertext& a, const std::vector<long>& steps) const;
    // Σ_{i<window} rot(a, i·stride), window a power of two: log2(window) rotations.
    Ciphertext rotate_and_sum(const Ciphertext& a, std::size_t window, long stride = 1) const;

    // Key switching of one component d (NTT, level l) with `key`: (u0, u1) over Q_l.
    void switch_key(const Poly& d, std::size_t level, const SwitchingKey& key, Poly& u0, Poly& u1) const;

private:
    // σ_g(a) from a's decomposed c1 (hoisted rotations share it), or, without one, by a
    // fused key switch.
    Ciphertext galois_from(const Ciphertext& a, const Decomposition* dec, std::uint64_t g,
                           const SwitchingKey& key) const;
    void check(const Ciphertext& a, const char* op) const;
    Ciphertext tensor(const Ciphertext& a, const Ciphertext& b, std::size_t level) const;
    void align(Ciphertext& a, Ciphertext& b) const;
    void check_same_scale(double sa, double sb, std::size_t level, const char* op) const;
    const SwitchingKey& galois_key(std::uint64_t g, long steps, const char* op) const;
    std::string describe_steps() const;
    ParamsPtr params_;
    Encoder encoder_;
    const RelinKey* rk_ = nullptr;
    const GaloisKeys* gk_ = nullptr;
};

// log2 of a scale, for messages: "2^40.00".
std::string scale_str(double scale);

}  // namespace bt::ckks
