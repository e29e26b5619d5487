// CKKS encryption (public key or secret key) and decryption.
//
// Public-key encryption at level l: (v·b + e_0, v·a + e_1) over Q_l ∪ P divided by P
// (ModDown), plus m; v uniform ternary, e_0, e_1 discrete Gaussian. The division leaves
// only rounding noise (about the size of s), not v·e + e_0 + e_1·s. Secret-key (symmetric) encryption:
// (-a·s + e + m, a) with a expanded from a fresh public seed, which
// encrypt_symmetric_seeded returns so that the ciphertext can be stored as (c_0, seed).
// Randomness from the OS CSPRNG; a fixed seed is reproducible and INSECURE (tests).
#pragma once

#include "bt/ckks/ciphertext.hpp"
#include "bt/ckks/keys.hpp"

namespace bt::ckks {

class Encryptor {
public:
    Encryptor(ParamsPtr params, const PublicKey& pk, std::optional<Seed> fixed_seed = std::nullopt);
    // Symmetric mode (the client): encrypts with the secret key.
    Encryptor(ParamsPtr params, const SecretKey& sk, std::optional<Seed> fixed_seed = std::nullopt);
    // Symmetric mode drawing from `prng` (its seed kept secret by the caller; no warning).
    Encryptor(ParamsPtr params, const SecretKey& sk, Prng&& prng);

    Ciphertext encrypt(const Plaintext& pt);
    // Symmetric only: also returns the seed of c_1.
    Ciphertext encrypt_symmetric_seeded(const Plaintext& pt, Seed& seed_out);
    // A fresh encryption of zero at `level`, scale, slots.
    Ciphertext encrypt_zero(std::size_t level, double scale, std::size_t slots);

private:
    void sample_small(Poly& out, std::size_t level, bool gaussian, bool with_p);
    ParamsPtr params_;
    const PublicKey* pk_ = nullptr;
    const SecretKey* sk_ = nullptr;
    Prng prng_;
};

class Decryptor {
public:
    Decryptor(ParamsPtr params, const SecretKey& sk);
    // Σ c_i s^i at the ciphertext's level, as a plaintext with its scale and slots.
    Plaintext decrypt(const Ciphertext& ct) const;

private:
    ParamsPtr params_;
    const SecretKey& sk_;
};

// Decrypts and decodes, keeping the real parts of the slots (for a real message the
// imaginary parts are noise only). The one "decrypt to reals" of the code base.
std::vector<double> decrypt_real(const Decryptor& dec, const Encoder& enc, const Ciphertext& ct);

// Regenerates c_1 of a seeded symmetric ciphertext at `level` (see Encryptor).
void expand_seeded_c1(const Params& P, const Seed& seed, std::size_t level, Poly& c1);

}  // namespace bt::ckks
