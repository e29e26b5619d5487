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
};

class EvalMod {
public:
    explicit EvalMod(const EvalModConfig& cfg);
    const EvalModConfig& config() const { return cfg_; }
    const ChebyshevPoly& cosine() const { return cos_; }
    int depth() const { return polyeval_depth(cos_) + cfg_.double_angles; }
    // Max |cos approximation - cos| on the interval (float64, dense grid).
    double interpolation_error() const { return interp_err_; }
    // Encrypted: t (real slots) at level >= depth(), scale near q of its level. The
    // result is depth() levels lower; its scale is 2π times the working scale.
    Ciphertext apply(const Evaluator& ev, const Ciphertext& t) const;
    // The float64 twin: the same steps (same polynomial, same evaluation order).
    double twin(double t) const;

private:
    EvalModConfig cfg_;
    ChebyshevPoly cos_;
    double interp_err_ = 0;
};

// ---------------------------------------------------------------- the bootstrapper
struct BootstrapConfig {
    std::size_t slots = 0;          // 0: N/2 (full packing); else a smaller power of two (sparse)
    std::size_t cts_budget = 3;     // CoeffsToSlots stages (= levels)
    std::size_t stc_budget = 3;     // SlotsToCoeffs stages (= levels)
    EvalModConfig evalmod;
};

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
    GaloisKeys make_galois_keys(KeyGenerator& kg, const SecretKey& sk) const;
    // Keys: relinearization (EvalMod) and the Galois keys above. Not owned.
    void set_keys(const RelinKey* rk, const GaloisKeys* gk);

    Ciphertext bootstrap(const Ciphertext& ct) const override;
    std::size_t output_level() const override { return out_level_; }
    const char* name() const override { return "CKKS bootstrapping"; }

    // The stages (exposed for tests and timing).
    Ciphertext raise(const Ciphertext& ct) const;                       // ModRaise (+ trace), scale := S_em
    HomomorphicDFT::Split coeffs_to_slots(const Ciphertext& raised) const;
    Ciphertext eval_mod(const Ciphertext& t) const;                     // EvalMod, scale reinterpreted
    Ciphertext slots_to_coeffs(const HomomorphicDFT::Split& parts) const;
    std::size_t depth() const { return cts_->depth() + static_cast<std::size_t>(em_.depth()) + stc_->depth(); }
    std::string describe() const;

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
    std::size_t slots_, out_level_;
    double em_in_scale_ = 0;   // EvalMod's working scale (the raised ciphertext is read at it)
    double em_out_scale_ = 0;  // the scale EvalMod's result is reinterpreted at
};

}  // namespace bt::ckks
