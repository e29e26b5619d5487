// CKKS parameters: a user-facing literal validated into immutable parameters.
//
// The literal gives log N, the bit sizes of the modulus chain q_0 … q_L, the bit sizes
// of the special primes p_0 … p_{k-1} (hybrid key switching: the chain is cut into dnum
// digits of at least k limbs, wider where the digit's modulus stays 2^8 below P; see
// ParamsLiteral::digits_by_bits), the default scale 2^log_scale, the secret
// distribution and the error width. Validation picks the primes and refuses anything
// above the HomomorphicEncryption.org 128-bit bound on log2(Q·P) for a ternary secret
// unless the literal carries the explicit insecure opt-in, which prints a warning.
//
// Scale policy (per-level exact nominal scales). The "scale levels" are the levels
// 1 … c whose prime has log_scale bits (c is the top of that contiguous block; c = L for
// a chain without bootstrapping primes). Their nominal scales are defined top-down,
//     Δ_c = 2^log_scale,   Δ_{l-1} = Δ_l² / q_l,
// and each q_l is the unused NTT prime nearest to Δ_l, so Δ_l stays within a few 2^-20
// of 2^log_scale at every level (choosing the primes first and the scales after would
// make the drift double at each level). A product of two level-l operands at scale Δ_l
// rescales to exactly Δ_{l-1}: ciphertexts stay aligned without the user touching
// scales. Levels above c (bootstrapping) have nominal scale 2^log_scale; the circuits
// that use them manage their scales explicitly.
#pragma once

#include "bt/modarith.hpp"
#include "bt/ntt.hpp"
#include "bt/rns.hpp"

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace bt::ckks {

struct KeySwitchLevel;  // bt/ckks/keyswitch.hpp

enum class SecretDist : int { Ternary = 0, SparseTernary = 1 };

struct ParamsLiteral {
    int log_n = 0;                  // ring dimension N = 2^log_n, 4 … 17
    std::vector<int> log_q;         // bit sizes of q_0 … q_L (20 … 61)
    std::vector<int> log_p;         // bit sizes of the special primes (20 … 61), at least one
    int log_scale = 40;             // default scale 2^log_scale
    SecretDist secret = SecretDist::Ternary;
    int hamming_weight = 0;         // for SparseTernary
    double sigma = 3.2;             // error standard deviation
    bool insecure = false;          // explicit opt-in to parameters above the 128-bit bound
    std::string name;               // preset name, if any
    // Explicit primes (optional; empty: chosen by validation). When given, one per entry
    // of log_q / log_p, each an NTT prime (≡ 1 mod 2N) of exactly that many bits. Used to
    // build a ring that shares primes with another one (the sparse-secret encapsulation
    // ring of bootstrapping shares q_0 and one special prime with the main ring).
    std::vector<u64> q_primes, p_primes;
    // Key-switching digits (Params::digits_at): false, |P| chain primes each (the classic
    // hybrid split); true, as many consecutive chain primes as keep the digit's modulus Q_j
    // 2^8 below P, and never fewer than |P| (fewer digits where the chain's primes are
    // smaller than the special ones). Every preset but the SEAL comparison one uses true.
    bool digits_by_bits = true;
};

// HomomorphicEncryption.org standard, 128-bit classical security, ternary secret:
// maximum log2(Q·P) for N = 2^log_n (log_n in 12 … 17); 0 if the table has no entry.
int he_standard_max_log_qp(int log_n);

// The bound used for a SPARSE ternary secret of Hamming weight h (0: none known, the
// parameters count as insecure). Only one entry, the sparse-secret encapsulation key of
// bootstrapping: N = 2^16, h >= 32, log2(Q·P) <= 121 -- the configuration of Bossuat,
// Troncoso-Pastoriza, Hubaux (ACNS 2022) and of the Lattigo presets built on it
// (N16QP1546H192H32: the ephemeral h = 32 key lives at q_0·p_0 = 60 + 61 bits), whose
// security they estimate with the lattice estimator (hybrid attacks on sparse secrets
// included) at >= 128 bits. A smaller modulus only makes the RLWE instance harder.
// See bt/ckks/bootstrap.hpp (sparse-secret encapsulation) for the whole argument.
int sparse_secret_max_log_qp(int log_n, int hamming_weight);

class Params {
public:
    // Validates and builds; throws std::invalid_argument with what was expected, what was
    // found and what to change.
    static std::shared_ptr<const Params> create(const ParamsLiteral& lit);

    const ParamsLiteral& literal() const { return lit_; }
    std::size_t N() const { return n_; }
    int log_n() const { return lit_.log_n; }
    std::size_t max_slots() const { return n_ / 2; }
    std::size_t max_level() const { return q_.size() - 1; }  // L
    std::size_t q_count() const { return q_.size(); }
    std::size_t p_count() const { return p_.size(); }
    // Hybrid key switching cuts Q into dnum digits of consecutive chain primes from q_0 up
    // (ParamsLiteral::digits_by_bits); at level l the digits are those of q_0 … q_l, the
    // last one possibly cut short.
    std::size_t dnum() const { return digit_start_.size(); }
    std::size_t digit_of(std::size_t i) const { return digit_of_[i]; }          // chain prime q_i's digit
    std::size_t digit_start(std::size_t j) const { return digit_start_[j]; }    // its first chain prime
    std::size_t digit_limbs(std::size_t j) const {
        return (j + 1 < digit_start_.size() ? digit_start_[j + 1] : q_.size()) - digit_start_[j];
    }
    std::size_t digits_at(std::size_t level) const { return digit_of_[level] + 1; }
    const std::vector<u64>& q() const { return q_; }
    const std::vector<u64>& p() const { return p_; }
    u64 q(std::size_t i) const { return q_[i]; }
    // Modulus of RNS index i over Q ∪ P: i < q_count() is q_i, else p_{i - q_count()}.
    const Modulus& modulus(std::size_t i) const { return ntt_[i].modulus(); }
    const NTTTables& ntt(std::size_t i) const { return ntt_[i]; }
    const NTTTables* const* ntt_ptrs() const { return ntt_ptr_.data(); }  // Q ∪ P order
    const RNSBasis& basis_q(std::size_t level) const { return basis_q_[level]; }  // q_0 … q_level
    const RNSBasis& basis_p() const { return basis_p_; }

    double log_q_total() const { return log_q_; }
    double log_qp() const { return log_q_ + log_p_; }
    int max_log_qp() const { return he_standard_max_log_qp(lit_.log_n); }
    bool secure() const { return secure_; }
    double default_scale() const;
    double nominal_scale(std::size_t level) const { return nominal_scale_[level]; }
    std::size_t top_scale_level() const { return top_scale_level_; }  // c
    SecretDist secret_dist() const { return lit_.secret; }
    int hamming_weight() const { return lit_.hamming_weight; }
    double sigma() const { return lit_.sigma; }
    const std::string& name() const { return lit_.name; }
    // 64-bit fingerprint of everything that must match between keys, ciphertexts and
    // parameters (N, primes, secret distribution, sigma, scale). Not a MAC.
    std::uint64_t fingerprint() const { return fingerprint_; }
    // Multi-line human-readable summary (chain, log QP vs bound, scale, dnum, levels).
    std::string summary() const;
    // Precomputed tables for hybrid key switching at a level (built on first use,
    // thread-safe, immutable afterwards).
    const KeySwitchLevel& keyswitch_level(std::size_t level) const;

private:
    Params() = default;
    ParamsLiteral lit_;
    std::size_t n_ = 0;
    std::vector<u64> q_, p_;
    std::vector<std::size_t> digit_of_, digit_start_;
    std::vector<NTTTables> ntt_;
    std::vector<const NTTTables*> ntt_ptr_;
    std::vector<RNSBasis> basis_q_;
    RNSBasis basis_p_;
    std::vector<double> nominal_scale_;
    std::size_t top_scale_level_ = 0;
    double log_q_ = 0, log_p_ = 0;
    bool secure_ = false;
    std::uint64_t fingerprint_ = 0;
    mutable std::mutex ks_mu_;
    mutable std::vector<std::shared_ptr<const KeySwitchLevel>> ks_;
};

using ParamsPtr = std::shared_ptr<const Params>;

// ---------------------------------------------------------------- presets
// Named by content: N<log N>_QP<log2 QP rounded>_<secret>[_<purpose>].
struct PresetInfo {
    std::string name;
    std::string purpose;
};
std::vector<PresetInfo> list_presets();
// The literal of a preset; throws with the list of names if unknown.
ParamsLiteral preset_literal(const std::string& name);
// Shorthand: Params::create(preset_literal(name)).
ParamsPtr preset(const std::string& name);

}  // namespace bt::ckks
