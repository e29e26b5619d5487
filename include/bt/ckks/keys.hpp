// CKKS keys and their generation.
//
// SecretKey: ternary s (uniform by default, or sparse of Hamming weight h), kept as its
// small coefficients and in NTT form over Q ∪ P; all of it in wiped memory.
// PublicKey: (b, a) = (-a·s + e, a) over Q ∪ P (encryption divides by P at the end,
// which leaves only rounding noise: Lattigo and OpenFHE do the same).
// SwitchingKey (hybrid key switching, Han–Ki 2020): for each of the dnum digits Q_j of
// the chain, (b_j, a_j) over Q ∪ P with b_j = -a_j·s + e_j + P·Q̃_j·s', where Q̃_j is 1
// modulo the primes of digit j and 0 modulo the other chain primes; it turns a
// ciphertext component that decrypts under s' into one that decrypts under s.
// RelinKey switches from s², a Galois key for element g from σ_g(s). Every a_j is
// expanded from a public seed, so keys serialize seed-compressed (half the size).
//
// Randomness: KeyGenerator draws from the OS CSPRNG. A fixed seed makes runs
// reproducible and is INSECURE (it prints a warning once per process): tests only.
#pragma once

#include "bt/ckks/encoder.hpp"
#include "bt/random.hpp"
#include "bt/secure.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

namespace bt::ckks {

struct SecretKey {
    std::uint64_t fingerprint = 0;         // of the parameters
    SecureVector<std::int8_t> coeffs;      // N ternary coefficients
    SecureVector<u64> ntt;                 // (q_count + p_count) × N, NTT form over Q ∪ P
    const u64* limb(std::size_t rns_index, std::size_t n) const { return ntt.data() + rns_index * n; }
};

struct PublicKey {
    std::uint64_t fingerprint = 0;
    Seed seed{};  // a expands from (seed, stream 0)
    Poly b, a;  // q_count + p_count limbs (Q ∪ P), NTT
};

struct SwitchingKey {
    std::uint64_t fingerprint = 0;
    Seed seed{};              // a_j expand from (seed, stream j)
    // Levels the key serves: 0 … max_level. Its polynomials have limbs q_0 … q_max_level
    // then the special primes, and there are digits_at(max_level) of them: a key used only
    // at low levels is a fraction of the size (and an RLWE sample over a smaller modulus).
    std::size_t max_level = 0;
    std::vector<Poly> b, a;   // per digit, max_level + 1 + p_count limbs, NTT (owned keys)
    // A mapped key (bt/ckks/keycache.hpp) owns no polynomials: per digit, the first word of
    // b_j and of a_j in a read-only mapping of an expanded key cache, which `mapping` keeps
    // alive. The words are laid out exactly as an owned Poly's (limb after limb, N words).
    std::vector<const u64*> mapped_b, mapped_a;
    std::shared_ptr<const void> mapping;
    bool mapped() const { return mapping != nullptr; }
    // A seeded key holds only its b_j: key switching regenerates each limb of a_j from the
    // seed when it needs it (sample_uniform_public, ~0.13 ms per limb of 2^16 words on one
    // AVX-512 core): half the memory, for a little time (see drop_uniform_halves).
    bool seeded = false;
    std::size_t digits() const { return mapped() ? mapped_b.size() : b.size(); }
    // Bytes of owned polynomials (0 for a mapped key) and of the mapped words.
    std::size_t size_bytes() const;
    std::size_t mapped_bytes(const Params& P) const;
    // Limb of this key holding RNS index ri (ri <= max_level, or a special prime).
    std::size_t key_limb(const Params& P, std::size_t ri) const {
        return ri <= max_level ? ri : max_level + 1 + (ri - P.q_count());
    }
    // The N words of b_j / a_j for RNS index ri, owned or mapped.
    const u64* b_limb(const Params& P, std::size_t j, std::size_t ri) const {
        return mapped() ? mapped_b[j] + key_limb(P, ri) * P.N() : b[j].limb(key_limb(P, ri));
    }
    // The a_j limb; a seeded key writes it into `scratch` (N words) and returns scratch.
    const u64* a_limb(const Params& P, std::size_t j, std::size_t ri, u64* scratch) const;
};

// Makes a key seeded: its a_j are released and regenerated at every use (bit-identical
// results). No effect on a mapped key (its words cost no anonymous memory).
void drop_uniform_halves(SwitchingKey& key);

struct RelinKey {
    SwitchingKey key;
};

struct GaloisKeys {
    std::uint64_t fingerprint = 0;
    std::map<std::uint64_t, SwitchingKey> keys;  // by Galois element
    bool has(std::uint64_t g) const { return keys.count(g) != 0; }
    std::vector<std::uint64_t> elements() const;
    std::size_t size_bytes() const;                      // owned bytes
    std::size_t mapped_bytes(const Params& P) const;     // bytes of mapped keys
};

class KeyGenerator {
public:
    // fixed_seed: reproducible and insecure (warns once); nullopt: OS CSPRNG.
    explicit KeyGenerator(ParamsPtr params, std::optional<Seed> fixed_seed = std::nullopt);
    // Draws from `prng`, whose seed the caller keeps secret (a resumable client derives
    // all its keys from one secret seed drawn from the OS). No warning is printed: a caller
    // that passes a known seed must warn itself.
    KeyGenerator(ParamsPtr params, Prng&& prng);
    const ParamsPtr& params() const { return params_; }

    SecretKey secret_key();
    PublicKey public_key(const SecretKey& sk);
    // max_level: the highest level the key will be used at (default: the top).
    RelinKey relin_key(const SecretKey& sk, std::size_t max_level = SIZE_MAX);
    // Keys for the given Galois elements (see galois_elements_for_steps).
    // on_key (may be empty) is called after each key is made (progress of long runs).
    // seeded: each key's a_j are released as soon as it is made (drop_uniform_halves), so the
    // set never holds more than one expanded key (files and memory-lean runs).
    GaloisKeys galois_keys(const SecretKey& sk, const std::vector<std::uint64_t>& elements,
                           std::size_t max_level = SIZE_MAX, const std::function<void()>& on_key = {},
                           bool seeded = false);
    // Galois elements of left rotations by `steps` (negative: right) with `slots` slots
    // (0: N/2), plus conjugation if asked. Duplicates and the identity are dropped.
    std::vector<std::uint64_t> galois_elements_for_steps(const std::vector<long>& steps, std::size_t slots = 0,
                                                         bool conjugation = false) const;
    // A switching key from an arbitrary s' (NTT over Q ∪ P, indexed by RNS index) to sk.
    SwitchingKey switching_key(const SecretKey& sk, const u64* s_prime_ntt, std::size_t max_level = SIZE_MAX);
    // The N ternary coefficients of a fresh sparse secret of Hamming weight h (in wiped
    // memory), whatever the parameters' own secret distribution: the ephemeral secret of
    // sparse-secret encapsulation.
    SecureVector<std::int8_t> sparse_ternary_coeffs(std::size_t h);
    // A generator for other parameters (same N) whose randomness is drawn from this one:
    // reproducible if this one has a fixed seed, OS-seeded otherwise; no new warning.
    KeyGenerator derive(ParamsPtr other);

private:
    void sample_error_ntt(Poly& e, std::size_t limbs_q, bool with_p);
    ParamsPtr params_;
    Encoder encoder_;
    Prng prng_;
};

// Bytes a switching key limited to `max_level` holds in memory (its b and a halves), known
// before it is made: digits_at(max_level) × 2 polynomials × (max_level + 1 + p) limbs × N words.
std::size_t switching_key_bytes(const Params& P, std::size_t max_level);

// Expands the uniform polynomial `a` of digit `stream` from a seed: limbs q_0 … q_max_level
// then the special primes (default: all of Q ∪ P), NTT form (a uniform polynomial is
// uniform in either form). Each limb has its own stream, fixed by its RNS index, so a
// level-limited key's limbs equal the full key's.
void expand_uniform_poly(const Params& P, const Seed& seed, std::uint64_t stream, Poly& a,
                         std::size_t max_level = SIZE_MAX);
// One limb of it (RNS index ri, N words): what a seeded key regenerates at use.
void expand_uniform_limb(const Params& P, const Seed& seed, std::uint64_t stream, std::size_t ri, u64* out);

// A secret key from its N ternary coefficients: the NTT form over Q ∪ P is derived.
SecretKey secret_key_from_coeffs(const Params& P, SecureVector<std::int8_t> coeffs);

// Throws with a clear message if a key or ciphertext fingerprint differs from params.
void check_fingerprint(const Params& P, std::uint64_t fp, const char* what);

}  // namespace bt::ckks
