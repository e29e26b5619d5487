// CKKS bootstrapping: the interface the training loop calls, the secret-key stand-in
// used to test higher circuits in seconds, and the first stage, ModRaise.
//
// Bootstrapping (Cheon–Han–Kim–Kim–Song 2018; Chen–Chillotti–Song 2019; Han–Ki 2020;
// Bossuat et al. 2021/2022) refreshes a ciphertext that has run out of levels:
//   ModRaise       level-0 ciphertext read modulo the whole chain: decrypts to m + q_0·I
//   CoeffsToSlots  homomorphic inverse DFT: the coefficients of m + q_0·I into slots
//   EvalMod        x -> x mod q_0 by a scaled cosine (Chebyshev) and double-angle steps
//   SlotsToCoeffs  homomorphic DFT back: a fresh encryption of m at a high level
// Each stage is a separate, separately tested function reporting its depth.
#pragma once

#include "bt/ckks/encryptor.hpp"
#include "bt/ckks/evaluator.hpp"
#include "bt/ckks/polyeval.hpp"
#include "bt/ckks/lintrans.hpp"

#include <atomic>
#include <functional>
#include <mutex>
#include <memory>

namespace bt::ckks {

class Bootstrapper {
public:
    virtual ~Bootstrapper() = default;
    // A refreshed encryption of the same slots at output_level() with the nominal scale
    // of that level. The input may be at any level; its scale is taken into account.
    virtual Ciphertext bootstrap(const Ciphertext& ct) const = 0;
    virtual std::size_t output_level() const = 0;
    // How many times bootstrap() has run.
    std::size_t calls() const { return calls_.load(); }
    virtual const char* name() const = 0;

protected:
    mutable std::atomic<std::size_t> calls_{0};
};

// The stand-in: decrypts and re-encrypts at the output level. It holds the SECRET key,
// so it only exists for tests and for the client-side plaintext twin; a server never
// gets one. Same interface and output level/scale as the real bootstrapper.
class SecretKeyBootstrapper : public Bootstrapper {
public:
    SecretKeyBootstrapper(ParamsPtr params, const SecretKey& sk, std::size_t output_level,
                          std::optional<Seed> fixed_seed = std::nullopt);
    Ciphertext bootstrap(const Ciphertext& ct) const override;
    std::size_t output_level() const override { return out_level_; }
    const char* name() const override { return "secret-key stand-in (INSECURE: tests only)"; }

private:
    ParamsPtr params_;
    Encoder encoder_;
    Decryptor decryptor_;
    mutable Encryptor encryptor_;
    mutable std::mutex mu_;
    std::size_t out_level_;
};

// ModRaise: a level-0 ciphertext (mod q_0) re-read modulo q_0 … q_level: each coefficient's
// residue in [0, q_0), centred to (-q_0/2, q_0/2], is lifted to every modulus. The result
// decrypts to m + q_0·I with I a small integer polynomial (|I| about sqrt(h) for a secret
// of Hamming weight h). Scale unchanged. Depth 0.
Ciphertext mod_raise(const Params& P, const Ciphertext& ct, std::size_t level);

// EvalMod (Han–Ki 2020: scaled cosine and double angles). Input slots hold real values
//     t = x / q_0 = I + δ,   I an integer with |I| <= K, |δ| small (the message),
// and the output slots hold sin(2πt)/(2π) = δ - (2π)²δ³/6 + …, i.e. t mod 1 up to the
// cubic term. Steps: c = cos(2π(t - 1/4)/2^r) by Chebyshev interpolation on
// [-K-1, K+1]; r double angles c <- 2c² - 1 give cos(2π(t - 1/4)) = sin(2πt); the factor
// 1/(2π) is folded into the scale (free). Depth: polyeval_depth(cosine) + r.
// Levels crossed should have primes near the working scale (bootstrapping levels of
// ~60 bits with the input at scale ≈ q of its level).
struct EvalModConfig {
    double K = 16;          // bound on |I|
    int double_angles = 3;  // r
    int degree = 63;        // Chebyshev degree of the scaled cosine
    // The input slots hold u = t/(K+1) in [-1, 1] instead of t: the caller folded the
    // change of variable into the step producing the input (the bootstrapper folds it
    // into CoeffsToSlots), which saves its level. The twin still takes t.
    bool unit_input = false;
};

class EvalMod {
public:
    explicit EvalMod(const EvalModConfig& cfg);
    const EvalModConfig& config() const { return cfg_; }
    const ChebyshevPoly& cosine() const { return cos_; }
    int depth() const { return poly_depth() + cfg_.double_angles; }
    // Levels of the cosine part (with the change of variable unless unit_input).
    int poly_depth() const { return polyeval_depth(cfg_.unit_input ? cos_.on_unit_interval() : cos_); }
    // Max |cos approximation - cos| on the interval (float64, dense grid).
    double interpolation_error() const { return interp_err_; }
    // Encrypted: t (or u = t/(K+1) if unit_input; real slots) at level >= depth(), scale near q of its level. The
    // result is depth() levels lower; its scale is 2π times the working scale.
    Ciphertext apply(const Evaluator& ev, const Ciphertext& t) const;
    // The float64 twin: the same steps (same polynomial, same evaluation order).
    double twin(double t) const;

private:
    EvalModConfig cfg_;
    ChebyshevPoly cos_;
    double interp_err_ = 0;
};

// ---------------------------------------------------------------- sparse-secret encapsulation
// Bossuat, Troncoso-Pastoriza, Hubaux, "Bootstrapping for Approximate Homomorphic
// Encryption with Negligible Failure-Probability by Using Sparse-Secret Encapsulation",
// ACNS 2022.
//
// The main secret s is dense (uniform ternary: the HomomorphicEncryption.org bound on
// log2(QP) applies and Params enforces it). ModRaise of a ciphertext under s decrypts to
// m + q_0·I whose coefficients have standard deviation about sqrt(N/18) ≈ 60 at N = 2^16
// (maxima near 300), which would need a very wide EvalMod interval. Instead bootstrapping switches the level-0 input to an
// EPHEMERAL sparse ternary secret s' of Hamming weight h before ModRaise, and back to s
// right after it:
//   1. (c0, c1) mod q_0 under s --[key s -> s' over q_0·p']--> (c0', c1') mod q_0 under s'
//   2. ModRaise: c0' + c1'·s' = m + e + q_0·I over the integers, and since every
//      coefficient of c0', c1' is in (-q_0/2, q_0/2] and s' has h entries ±1,
//      |c0' + c1'·s'| <= (h+1)·q_0/2, so |I| <= (h+1)/2 (+ |m+e|/q_0 < 1/2). For h = 32:
//      |I| <= 16 for EVERY coefficient, deterministically (given |m·Δ_0 + e| < q_0/2,
//      i.e. message coefficients below 2^9 for the preset's q_0/Δ_0 = 2^10; the sparse-
//      packing trace keeps I on the subring positions unchanged and removes the rest);
//      EvalMod with K = 16 never sees
//      an out-of-range input. Failure probability per bootstrap (|I| > K): 0. (For
//      comparison, the exact Irwin–Hall tail gives 2^-68.5 per N = 2^16 bootstrap at
//      K = 14 and 2^-36.6 at K = 12; we keep the deterministic K = 16.)
//   3. key s' -> s over the whole chain at the top level, then CoeffsToSlots … as usual.
//
// Security. The server holds two keys involving s', never s' itself:
//   - s -> s' : an RLWE sample under the SPARSE secret s' over the small ring modulus
//     q_0·p' only (one chain prime, one special prime; N = 2^16, log2(q_0·p') ≈ 111 for
//     our preset: 50 + 61 bits, h = 32). This is the configuration Bossuat et al. use
//     and that Lattigo's presets ship (N16QP1546H192H32: h = 32 at q_0·p_0 = 60 + 61 =
//     121 bits), which they argue, from lattice-estimator runs that include the hybrid
//     attacks on sparse secrets, keeps >= 128-bit security: the modulus is tiny for the
//     dimension (the dense-secret HE-standard bound at N = 2^16 is 1747 bits; N = 2^12
//     already allows 109), so the sparsity does not bring
//     the attack cost down to 128 bits. Our modulus is smaller than
//     theirs (111 <= 121 bits), which only makes the instance harder. Params encodes
//     exactly this one exception (sparse_secret_max_log_qp: N = 2^16, h >= 32, 121 bits);
//     any other sparse-secret ring is flagged insecure. We did not rerun the estimator.
//   - s' -> s : an RLWE sample under the DENSE main secret s at the full modulus (the
//     HE-standard bound holds), encrypting s' like any rotation key encrypts σ(s).
// s' is sampled inside key generation, lives in wiped memory (SecureVector) and is
// destroyed when key generation returns; nothing stores or returns it.

struct EncapsulationKeys {
    SwitchingKey to_sparse;  // s -> s', over {q_0, p'} (the encapsulation ring, level 0)
    SwitchingKey to_dense;   // s' -> s, over the main chain, top level
    std::size_t size_bytes() const { return to_sparse.size_bytes() + to_dense.size_bytes(); }
};

// The encapsulation ring: the main ring's N, q_0 and first special prime p_0, sparse
// ternary secret of weight h. Secure (by the exception above) for N = 2^16, h >= 32.
ParamsPtr encapsulation_params(const Params& main, std::size_t h);
// The two keys for a GIVEN ephemeral secret (coefficients, weight h): the building block,
// exposed so that tests can check the key switches against decryption with s'. Servers
// use CkksBootstrapper::make_encapsulation_keys, which samples and wipes s' itself.
EncapsulationKeys make_encapsulation_keys(KeyGenerator& kg, const SecretKey& sk, const ParamsPtr& encaps,
                                          const SecureVector<std::int8_t>& ephemeral);
// Step 1: a level-0 ciphertext under s -> the same message under s' (mod q_0).
Ciphertext switch_to_sparse(const Params& main, const ParamsPtr& encaps, const Ciphertext& ct,
                            const SwitchingKey& to_sparse);
// Step 3: a ciphertext under s' (main ring, any level up to the key's) -> under s.
void switch_to_dense_inplace(const Evaluator& ev, Ciphertext& ct, const SwitchingKey& to_dense);

// ---------------------------------------------------------------- the bootstrapper
struct BootstrapConfig {
    std::size_t slots = 0;          // 0: N/2 (full packing); else a smaller power of two (sparse)
    std::size_t cts_budget = 3;     // CoeffsToSlots stages (= levels)
    std::size_t stc_budget = 3;     // SlotsToCoeffs stages (= levels)
    EvalModConfig evalmod;          // (the bootstrapper always sets unit_input)
    // Sparse-secret encapsulation: Hamming weight h of the ephemeral secret (0: none;
    // then the main secret must itself be sparse with (h+1)/2 <= K).
    std::size_t ephemeral_weight = 0;
    // Key memory: DoubleHoistedFewKeys evaluates the transforms' giant steps by Horner's
    // rule (two keys per stage instead of one per giant step, ~1 key switch more per
    // stage); compact keeps each transform plaintext as its 2n coefficients and builds
    // its RNS form at every use (one NTT per limb) instead of holding (level+1+k)·N words.
    LTMethod dft_method = LTMethod::DoubleHoisted;
    bool compact_cts = false, compact_stc = false;
};

// The recommended configuration for the N16_QP1735_T_enc preset (and the small test
// rings built like it): encapsulation h = 32, K = 16 (deterministic), degree 63, two
// double angles (EvalMod depth 8), CoeffsToSlots and SlotsToCoeffs 3 levels each,
// Horner giant steps (fewer keys); compact transform plaintexts for slots = 0 or >= 2^15
// (full packing at N = 2^16), precomputed ones below (faster, the trainer's 1024 slots).
BootstrapConfig recommended_bootstrap_config(std::size_t slots);
// The same with speed bought by memory: one key per giant step (DoubleHoisted) and
// precomputed transform plaintexts (bt_train --prefer speed).
BootstrapConfig speed_bootstrap_config(std::size_t slots);

// The real thing: ModRaise, CoeffsToSlots, EvalMod, SlotsToCoeffs, each a separate
// function. Level plan from the top level L: CoeffsToSlots L -> L - c, EvalMod ->
// L - c - e, SlotsToCoeffs -> output_level() = L - c - e - s. Input: any level; a
// ciphertext above level 0 is first brought to level 0 at the nominal scale Δ_0, and a
// level-0 input must already have scale Δ_0 (the plan's scales are fixed in advance).
// Output: nominal scale of output_level(), exactly.
class CkksBootstrapper : public Bootstrapper {
public:
    CkksBootstrapper(ParamsPtr params, const BootstrapConfig& cfg);
    // The Galois elements its keys must cover (CoeffsToSlots, SlotsToCoeffs, trace).
    std::vector<std::uint64_t> galois_elements() const;
    // Exactly the keys bootstrapping needs, each limited to the levels it serves:
    // CoeffsToSlots and the trace run at the top; SlotsToCoeffs only up to its input
    // level; relinearization only up to EvalMod's input level.
    RelinKey make_relin_key(KeyGenerator& kg, const SecretKey& sk) const;
    // seeded: every key used once per bootstrap holds only its b_j (see drop_uniform_halves);
    // the few used several times (seeded_elements() excludes them) stay expanded.
    // all_seeded: every key seeded (keys made only to be written to files). Each key is
    // seeded as soon as it is made, so at most one is ever held expanded.
    // have: keys already made (another bootstrapper's): an element it holds at the level
    // needed here or above is skipped.
    GaloisKeys make_galois_keys(KeyGenerator& kg, const SecretKey& sk, const std::function<void()>& on_key = {},
                                bool seeded = false, bool all_seeded = false, const GaloisKeys* have = nullptr) const;
    // Each Galois element with the highest level its key serves.
    std::vector<std::pair<std::uint64_t, std::size_t>> galois_key_levels() const;
    // The rotation keys make_galois_keys seeds: all but the transforms' repeated Horner steps.
    std::vector<std::uint64_t> seeded_elements() const;
    // The encapsulation keys (config ephemeral_weight > 0): samples the ephemeral secret,
    // builds both keys, wipes the secret. Throws if the config has no encapsulation.
    EncapsulationKeys make_encapsulation_keys(KeyGenerator& kg, const SecretKey& sk) const;
    // Keys: relinearization (EvalMod), the Galois keys above, and the encapsulation keys
    // if configured. Not owned.
    void set_keys(const RelinKey* rk, const GaloisKeys* gk, const EncapsulationKeys* ek = nullptr);
    const ParamsPtr& encapsulation_ring() const { return enc_params_; }  // null without encapsulation

    Ciphertext bootstrap(const Ciphertext& ct) const override;
    std::size_t output_level() const override { return out_level_; }
    const char* name() const override { return "CKKS bootstrapping"; }

    // The stages (exposed for tests and timing).
    Ciphertext raise(const Ciphertext& ct) const;  // (s -> s') ModRaise (s' -> s) (+ trace), scale := S_em
    HomomorphicDFT::Split coeffs_to_slots(const Ciphertext& raised) const;
    Ciphertext eval_mod(const Ciphertext& t) const;                     // EvalMod, scale reinterpreted
    // EvalMod on both parts of a CoeffsToSlots result; with full packing the real and
    // imaginary parts run as two tasks of the thread pool (each single-threaded inside),
    // which parallelises better than EvalMod's small per-limb steps.
    void eval_mod(HomomorphicDFT::Split& parts) const;
    Ciphertext slots_to_coeffs(const HomomorphicDFT::Split& parts) const;
    std::size_t depth() const { return cts_->depth() + static_cast<std::size_t>(em_.depth()) + stc_->depth(); }
    std::string describe() const;
    // Memory, known before any key exists: the keys make_relin_key, make_galois_keys and
    // make_encapsulation_keys produce (exactly), and the precomputed transform plaintexts
    // this object holds.
    std::size_t key_bytes() const;
    // The make_galois_keys part of key_bytes() (seeded: as make_galois_keys(…, seeded) holds them).
    std::size_t galois_key_bytes(bool seeded = false) const;
    // Switching keys of the top level used by one bootstrap (CoeffsToSlots, the trace and the
    // encapsulation) and of the others: the cost of regenerating seeded keys' a_j.
    std::size_t top_key_switches() const;
    std::size_t memory_bytes() const;
    // Compact transforms (BootstrapConfig::compact_cts/compact_stc) made precomputed: their
    // plaintexts built once (bit-identical results, faster, precomputed_bytes() held). Call
    // before bootstrapping from several threads; not concurrently with bootstrap().
    void precompute_transforms();
    std::size_t precomputed_bytes() const { return cts_->precomputed_bytes() + stc_->precomputed_bytes(); }
    bool transforms_compact() const { return cfg_.compact_cts || cfg_.compact_stc; }

private:
    // Elements used at the top level (CoeffsToSlots, trace) and the others (SlotsToCoeffs).
    std::vector<std::uint64_t> top_elements() const;
    std::vector<std::uint64_t> low_elements() const;
    ParamsPtr params_;
    BootstrapConfig cfg_;
    Encoder encoder_;
    EvalMod em_;
    std::unique_ptr<HomomorphicDFT> cts_, stc_;
    std::unique_ptr<Evaluator> ev_;
    ParamsPtr enc_params_;
    const EncapsulationKeys* ek_ = nullptr;
    std::size_t slots_, out_level_;
    double em_in_scale_ = 0;   // EvalMod's working scale (the raised ciphertext is read at it)
    double em_out_scale_ = 0;  // the scale EvalMod's result is reinterpreted at
};

}  // namespace bt::ckks
