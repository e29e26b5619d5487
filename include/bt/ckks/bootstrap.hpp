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

}  // namespace bt::ckks
