// CKKS key generation (see bt/ckks/keys.hpp).
#include "bt/ckks/keys.hpp"

#include "bt/eltwise.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace bt::ckks {

namespace {

void warn_fixed_seed(const char* who) {
    static std::atomic<bool> warned{false};
    if (!warned.exchange(true))
        std::fprintf(stderr, "WARNING: %s uses a fixed seed: reproducible and INSECURE, for tests only.\n", who);
}

Prng make_prng(const std::optional<Seed>& fixed, const char* who) {
    if (fixed) {
        warn_fixed_seed(who);
        return Prng(*fixed, 0x6b657967656eull);
    }
    return Prng::from_os();
}

}  // namespace

void check_fingerprint(const Params& P, std::uint64_t fp, const char* what) {
    if (fp != P.fingerprint()) {
        char buf[256];
        std::snprintf(buf, sizeof buf,
                      "%s was made for other CKKS parameters (fingerprint %016llx, expected %016llx for %s): "
                      "use keys and ciphertexts made with the same parameters",
                      what, static_cast<unsigned long long>(fp), static_cast<unsigned long long>(P.fingerprint()),
                      P.name().empty() ? "these parameters" : P.name().c_str());
        throw std::invalid_argument(buf);
    }
}

std::size_t SwitchingKey::size_bytes() const {
    std::size_t s = 0;
    for (const Poly& p : b) s += p.data.size() * 8;
    for (const Poly& p : a) s += p.data.size() * 8;
    return s;
}

const u64* SwitchingKey::a_limb(const Params& P, std::size_t j, std::size_t ri, u64* scratch) const {
    if (mapped()) return mapped_a[j] + key_limb(P, ri) * P.N();
    if (!seeded) return a[j].limb(key_limb(P, ri));
    expand_uniform_limb(P, seed, j, ri, scratch);
    return scratch;
}

void drop_uniform_halves(SwitchingKey& key) {
    if (key.mapped() || key.seeded) return;
    key.a.clear();
    key.a.shrink_to_fit();
    key.seeded = true;
}

std::size_t SwitchingKey::mapped_bytes(const Params& P) const {
    return mapped() ? 2 * mapped_b.size() * (max_level + 1 + P.p_count()) * P.N() * sizeof(u64) : 0;
}

std::size_t switching_key_bytes(const Params& P, std::size_t max_level) {
    const std::size_t l = std::min(max_level, P.max_level());
    return P.digits_at(l) * 2 * (l + 1 + P.p_count()) * P.N() * sizeof(u64);
}

std::vector<std::uint64_t> GaloisKeys::elements() const {
    std::vector<std::uint64_t> v;
    for (const auto& kv : keys) v.push_back(kv.first);
    return v;
}

std::size_t GaloisKeys::size_bytes() const {
    std::size_t s = 0;
    for (const auto& kv : keys) s += kv.second.size_bytes();
    return s;
}

std::size_t GaloisKeys::mapped_bytes(const Params& P) const {
    std::size_t s = 0;
    for (const auto& kv : keys) s += kv.second.mapped_bytes(P);
    return s;
}

void expand_uniform_poly(const Params& P, const Seed& seed, std::uint64_t stream, Poly& a, std::size_t max_level) {
    if (max_level > P.max_level()) max_level = P.max_level();
    const std::size_t limbs = max_level + 1 + P.p_count();
    a = Poly(P.N(), limbs, true);
    for_each_limb(limbs, P.N(), [&](std::size_t i) {
        // One independent ChaCha20 stream per (digit, RNS index): expansion parallelizes and
        // any limb can be regenerated alone.
        expand_uniform_limb(P, seed, stream, rns_index(P, max_level, i), a.limb(i));
    });
}

void expand_uniform_limb(const Params& P, const Seed& seed, std::uint64_t stream, std::size_t ri, u64* out) {
    sample_uniform_public(seed, (stream << 8) | ri, P.modulus(ri).value, out, P.N());
}

KeyGenerator::KeyGenerator(ParamsPtr params, std::optional<Seed> fixed_seed)
    : params_(std::move(params)), encoder_(params_), prng_(make_prng(fixed_seed, "KeyGenerator")) {}

KeyGenerator::KeyGenerator(ParamsPtr params, Prng&& prng)
    : params_(std::move(params)), encoder_(params_), prng_(std::move(prng)) {}

KeyGenerator KeyGenerator::derive(ParamsPtr other) {
    if (other->N() != params_->N())
        throw std::invalid_argument("KeyGenerator::derive: ring dimension " + std::to_string(other->N()) +
                                    " differs from " + std::to_string(params_->N()));
    Seed s;
    prng_.fill(s.data(), s.size());
    KeyGenerator g(std::move(other), Prng(s, 0x646572697665ull));
    secure_wipe(s.data(), s.size());
    return g;
}

SecureVector<std::int8_t> KeyGenerator::sparse_ternary_coeffs(std::size_t h) {
    const std::size_t N = params_->N();
    if (h < 1 || h > N)
        throw std::invalid_argument("sparse_ternary_coeffs: Hamming weight " + std::to_string(h) + " outside [1, N = " +
                                    std::to_string(N) + "]");
    SecureVector<std::int8_t> c(N);
    sample_sparse_ternary(prng_, h, c.data(), N);
    return c;
}

SecretKey secret_key_from_coeffs(const Params& P, SecureVector<std::int8_t> coeffs) {
    const std::size_t N = P.N(), limbs = P.q_count() + P.p_count();
    if (coeffs.size() != N) throw std::invalid_argument("secret_key_from_coeffs: expected N coefficients");
    SecretKey sk;
    sk.fingerprint = P.fingerprint();
    sk.coeffs = std::move(coeffs);
    sk.ntt.resize(limbs * N);
    for_each_limb(limbs, N, [&](std::size_t i) {
        const u64 q = P.modulus(i).value;
        u64* dst = sk.ntt.data() + i * N;
        for (std::size_t k = 0; k < N; ++k) dst[k] = from_signed_ct(sk.coeffs[k], q);
        ntt_forward(dst, P.ntt(i));
    });
    return sk;
}

SecretKey KeyGenerator::secret_key() {
    const Params& P = *params_;
    const std::size_t N = P.N();
    SecureVector<std::int8_t> coeffs(N);
    if (P.secret_dist() == SecretDist::SparseTernary)
        sample_sparse_ternary(prng_, static_cast<std::size_t>(P.hamming_weight()), coeffs.data(), N);
    else
        sample_ternary(prng_, coeffs.data(), N);
    return secret_key_from_coeffs(P, std::move(coeffs));
}

void KeyGenerator::sample_error_ntt(Poly& e, std::size_t limbs_q, bool with_p) {
    const Params& P = *params_;
    const std::size_t N = P.N();
    SecureVector<std::int64_t> g(N);
    sample_gaussian(prng_, P.sigma(), g.data(), N);
    const std::size_t limbs = limbs_q + (with_p ? P.p_count() : 0);
    e = Poly(N, limbs, true);
    for_each_limb(limbs, N, [&](std::size_t i) {
        const std::size_t ri = i < limbs_q ? i : P.q_count() + (i - limbs_q);
        const u64 q = P.modulus(ri).value;
        u64* dst = e.limb(i);
        for (std::size_t k = 0; k < N; ++k) dst[k] = from_signed_ct(g[k], q);
        ntt_forward(dst, P.ntt(ri));
    });
}

PublicKey KeyGenerator::public_key(const SecretKey& sk) {
    const Params& P = *params_;
    check_fingerprint(P, sk.fingerprint, "the secret key");
    const std::size_t N = P.N();
    PublicKey pk;
    pk.fingerprint = P.fingerprint();
    prng_.fill(pk.seed.data(), pk.seed.size());
    const std::size_t limbs = P.q_count() + P.p_count();
    expand_uniform_poly(P, pk.seed, 0, pk.a);
    sample_error_ntt(pk.b, P.q_count(), true);
    for_each_limb(limbs, N, [&](std::size_t i) {
        const Modulus& m = P.modulus(i);
        u64* b = pk.b.limb(i);
        const u64* a = pk.a.limb(i);
        const u64* s = sk.limb(i, N);
        for (std::size_t k = 0; k < N; ++k) b[k] = sub_mod(b[k], mul_mod(a[k], s[k], m), m.value);  // e - a·s
    });
    return pk;  // (the error was accumulated into b in place: no copy of e remains)
}

SwitchingKey KeyGenerator::switching_key(const SecretKey& sk, const u64* s_prime, std::size_t max_level) {
    const Params& P = *params_;
    check_fingerprint(P, sk.fingerprint, "the secret key");
    if (max_level > P.max_level()) max_level = P.max_level();
    const std::size_t N = P.N(), nq = P.q_count();
    const std::size_t limbs = max_level + 1 + P.p_count();
    SwitchingKey key;
    key.fingerprint = P.fingerprint();
    key.max_level = max_level;
    prng_.fill(key.seed.data(), key.seed.size());
    // P mod q_i for the gadget term.
    std::vector<u64> p_mod_q(nq);
    for (std::size_t i = 0; i < nq; ++i) p_mod_q[i] = P.basis_p().product().mod_word(P.q(i));
    for (std::size_t j = 0; j < P.digits_at(max_level); ++j) {
        Poly a, e;
        expand_uniform_poly(P, key.seed, j, a, max_level);
        sample_error_ntt(e, max_level + 1, true);
        Poly b(N, limbs, true);
        for_each_limb(limbs, N, [&](std::size_t i) {
            const std::size_t ri = rns_index(P, max_level, i);
            const Modulus& m = P.modulus(ri);
            const u64* ai = a.limb(i);
            const u64* ei = e.limb(i);
            const u64* si = sk.limb(ri, N);
            u64* bi = b.limb(i);
            const bool in_digit = ri < nq && P.digit_of(ri) == j;
            const u64 g = in_digit ? p_mod_q[ri] : 0;
            const u64* spi = s_prime + ri * N;
            for (std::size_t k = 0; k < N; ++k) {
                u64 v = sub_mod(ei[k], mul_mod(ai[k], si[k], m), m.value);  // e - a·s
                if (in_digit) v = add_mod(v, mul_mod(g, spi[k], m), m.value);  // + P·s' on digit j
                bi[k] = v;
            }
        });
        e.wipe();  // with b and a, e would give s away
        key.b.push_back(std::move(b));
        key.a.push_back(std::move(a));
    }
    return key;
}

RelinKey KeyGenerator::relin_key(const SecretKey& sk, std::size_t max_level) {
    const Params& P = *params_;
    const std::size_t N = P.N(), limbs = P.q_count() + P.p_count();
    SecureVector<u64> s2(limbs * N);
    for_each_limb(limbs, N, [&](std::size_t i) {
        const Modulus& m = P.modulus(i);
        const u64* s = sk.limb(i, N);
        for (std::size_t k = 0; k < N; ++k) s2[i * N + k] = mul_mod(s[k], s[k], m);
    });
    return RelinKey{switching_key(sk, s2.data(), max_level)};
}

std::vector<std::uint64_t> KeyGenerator::galois_elements_for_steps(const std::vector<long>& steps, std::size_t slots,
                                                                   bool conjugation) const {
    std::vector<std::uint64_t> out;
    for (long s : steps) {
        const std::uint64_t g = encoder_.galois_element(s, slots);
        if (g != 1 && std::find(out.begin(), out.end(), g) == out.end()) out.push_back(g);
    }
    const std::uint64_t conj = 2 * params_->N() - 1;
    if (conjugation && std::find(out.begin(), out.end(), conj) == out.end()) out.push_back(conj);
    return out;
}

GaloisKeys KeyGenerator::galois_keys(const SecretKey& sk, const std::vector<std::uint64_t>& elements,
                                     std::size_t max_level, const std::function<void()>& on_key, bool seeded) {
    const Params& P = *params_;
    const std::size_t N = P.N(), limbs = P.q_count() + P.p_count();
    GaloisKeys gk;
    gk.fingerprint = P.fingerprint();
    SecureVector<u64> sg(limbs * N);
    for (std::uint64_t g : elements) {
        if (g % 2 == 0 || g >= 2 * N)
            throw std::invalid_argument("galois_keys: " + std::to_string(g) + " is not an odd element below 2N");
        const auto perm = automorphism_permutation(N, g);
        for (std::size_t i = 0; i < limbs; ++i) {
            const u64* s = sk.limb(i, N);
            for (std::size_t k = 0; k < N; ++k) sg[i * N + k] = s[perm[k]];
        }
        SwitchingKey& k = gk.keys.emplace(g, switching_key(sk, sg.data(), max_level)).first->second;
        if (seeded) drop_uniform_halves(k);
        if (on_key) on_key();
    }
    return gk;
}

}  // namespace bt::ckks
