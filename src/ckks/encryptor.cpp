// CKKS encryption and decryption (see bt/ckks/encryptor.hpp).
#include "bt/ckks/encryptor.hpp"

#include "bt/ckks/keyswitch.hpp"
#include "bt/eltwise.hpp"
#include "bt/secure.hpp"

#include <cstdio>
#include <stdexcept>
#include <string>

namespace bt::ckks {

namespace {

Prng encryptor_prng(const std::optional<Seed>& fixed) {
    if (fixed) {
        static bool warned = false;
        if (!warned) {
            warned = true;
            std::fprintf(stderr, "WARNING: Encryptor uses a fixed seed: reproducible and INSECURE, for tests only.\n");
        }
        return Prng(*fixed, 0x656e6372797074ull);
    }
    return Prng::from_os();
}

void check_plaintext(const Params& P, const Plaintext& pt) {
    if (pt.level > P.max_level() || pt.poly.limbs != pt.level + 1 || pt.poly.n != P.N() || !pt.poly.ntt)
        throw std::invalid_argument("encrypt: malformed plaintext (level " + std::to_string(pt.level) + ", " +
                                    std::to_string(pt.poly.limbs) + " limbs): encode it with these parameters");
}

}  // namespace

void expand_seeded_c1(const Params& P, const Seed& seed, std::size_t level, Poly& c1) {
    c1 = Poly(P.N(), level + 1, true);
    for_each_limb(level + 1, P.N(), [&](std::size_t i) {
        sample_uniform_public(seed, 0x100000 + i, P.q(i), c1.limb(i), P.N());  // c1 is public
    });
}

Encryptor::Encryptor(ParamsPtr params, const PublicKey& pk, std::optional<Seed> fixed_seed)
    : params_(std::move(params)), pk_(&pk), prng_(encryptor_prng(fixed_seed)) {
    check_fingerprint(*params_, pk.fingerprint, "the public key");
}

Encryptor::Encryptor(ParamsPtr params, const SecretKey& sk, Prng&& prng)
    : params_(std::move(params)), sk_(&sk), prng_(std::move(prng)) {
    check_fingerprint(*params_, sk.fingerprint, "the secret key");
}

Encryptor::Encryptor(ParamsPtr params, const SecretKey& sk, std::optional<Seed> fixed_seed)
    : params_(std::move(params)), sk_(&sk), prng_(encryptor_prng(fixed_seed)) {
    check_fingerprint(*params_, sk.fingerprint, "the secret key");
}

void Encryptor::sample_small(Poly& out, std::size_t level, bool gaussian, bool with_p) {
    const Params& P = *params_;
    const std::size_t N = P.N();
    SecureVector<std::int64_t> v(N);
    if (gaussian) {
        sample_gaussian(prng_, P.sigma(), v.data(), N);
    } else {
        SecureVector<std::int8_t> t(N);
        sample_ternary(prng_, t.data(), N);
        for (std::size_t k = 0; k < N; ++k) v[k] = t[k];
    }
    const std::size_t limbs = level + 1 + (with_p ? P.p_count() : 0);
    out = Poly(N, limbs, true);
    for_each_limb(limbs, N, [&](std::size_t i) {
        const std::size_t ri = rns_index(P, level, i);
        const u64 q = P.modulus(ri).value;
        for (std::size_t k = 0; k < N; ++k) out.limb(i)[k] = from_signed_ct(v[k], q);
        ntt_forward(out.limb(i), P.ntt(ri));
    });
}

Ciphertext Encryptor::encrypt(const Plaintext& pt) {
    if (sk_) {
        Seed unused;
        return encrypt_symmetric_seeded(pt, unused);
    }
    const Params& P = *params_;
    check_plaintext(P, pt);
    const std::size_t l = pt.level, N = P.N(), limbs = l + 1 + P.p_count();
    // (v·b + e_0, v·a + e_1) over Q_l ∪ P, then ModDown by P: the noise v·e + e_0 + e_1·s
    // shrinks by P and what remains is the rounding of ModDown.
    Poly v, e0, e1;
    sample_small(v, l, false, true);
    sample_small(e0, l, true, true);
    sample_small(e1, l, true, true);
    Ciphertext ct;
    ct.fingerprint = P.fingerprint();
    ct.level = l;
    ct.scale = pt.scale;
    ct.slots = pt.slots;
    ct.parts.assign(2, Poly(N, limbs, true));
    for_each_limb(limbs, N, [&](std::size_t i) {
        const std::size_t ri = rns_index(P, l, i);
        const Modulus& m = P.modulus(ri);
        const u64 q = m.value;
        const u64 *b = pk_->b.limb(ri), *a = pk_->a.limb(ri), *vi = v.limb(i);
        u64* c0 = ct.parts[0].limb(i);
        u64* c1 = ct.parts[1].limb(i);
        for (std::size_t k = 0; k < N; ++k) {
            c0[k] = add_mod(mul_mod(vi[k], b[k], m), e0.limb(i)[k], q);
            c1[k] = add_mod(mul_mod(vi[k], a[k], m), e1.limb(i)[k], q);
        }
    });
    v.wipe();  // the ephemeral randomness would decrypt this ciphertext
    e0.wipe();
    e1.wipe();
    mod_down(P, ct.parts[0], l);
    mod_down(P, ct.parts[1], l);
    poly_add(P, l, ct.parts[0], ct.parts[0], pt.poly, l + 1);
    return ct;
}

Ciphertext Encryptor::encrypt_symmetric_seeded(const Plaintext& pt, Seed& seed_out) {
    if (!sk_) throw std::logic_error("encrypt_symmetric_seeded: this Encryptor holds a public key, not a secret key");
    const Params& P = *params_;
    check_plaintext(P, pt);
    const std::size_t l = pt.level, N = P.N();
    prng_.fill(seed_out.data(), seed_out.size());
    Ciphertext ct;
    ct.fingerprint = P.fingerprint();
    ct.level = l;
    ct.scale = pt.scale;
    ct.slots = pt.slots;
    ct.parts.resize(2);
    expand_seeded_c1(P, seed_out, l, ct.parts[1]);
    sample_small(ct.parts[0], l, true, false);  // e
    for_each_limb(l + 1, N, [&](std::size_t i) {
        const Modulus& m = P.modulus(i);
        const u64 q = m.value;
        const u64 *a = ct.parts[1].limb(i), *s = sk_->limb(i, N);
        u64* c0 = ct.parts[0].limb(i);
        for (std::size_t k = 0; k < N; ++k)
            c0[k] = add_mod(sub_mod(c0[k], mul_mod(a[k], s[k], m), q), pt.poly.limb(i)[k], q);  // e - a·s + m
    });
    return ct;
}

Ciphertext Encryptor::encrypt_zero(std::size_t level, double scale, std::size_t slots) {
    Plaintext z;
    z.poly = Poly(params_->N(), level + 1, true);
    z.level = level;
    z.scale = scale;
    z.slots = slots == 0 ? params_->max_slots() : slots;
    return encrypt(z);
}

Decryptor::Decryptor(ParamsPtr params, const SecretKey& sk) : params_(std::move(params)), sk_(sk) {
    check_fingerprint(*params_, sk.fingerprint, "the secret key");
}

Plaintext Decryptor::decrypt(const Ciphertext& ct) const {
    const Params& P = *params_;
    check_fingerprint(P, ct.fingerprint, "the ciphertext");
    if (ct.size() < 2 || ct.level > P.max_level())
        throw std::invalid_argument("decrypt: malformed ciphertext (" + std::to_string(ct.size()) + " parts, level " +
                                    std::to_string(ct.level) + ")");
    const std::size_t l = ct.level, N = P.N();
    Plaintext pt;
    pt.level = l;
    pt.scale = ct.scale;
    pt.slots = ct.slots;
    pt.poly = ct.parts[0];
    for_each_limb(l + 1, N, [&](std::size_t i) {
        const Modulus& m = P.modulus(i);
        const u64* s = sk_.limb(i, N);
        u64* out = pt.poly.limb(i);
        // Horner: ((c_k s + c_{k-1}) s + ...) + c_0
        std::vector<u64> acc(ct.parts.back().limb(i), ct.parts.back().limb(i) + N);
        for (std::size_t p = ct.size() - 1; p-- > 0;) {
            const u64* c = ct.parts[p].limb(i);
            for (std::size_t k = 0; k < N; ++k) acc[k] = mul_add_mod(c[k], acc[k], s[k], m);
        }
        for (std::size_t k = 0; k < N; ++k) out[k] = acc[k];
        secure_wipe(acc.data(), acc.size() * sizeof(u64));  // c_1 + c_2·s would reveal s
    });
    return pt;
}

std::vector<double> decrypt_real(const Decryptor& dec, const Encoder& enc, const Ciphertext& ct) {
    const std::vector<cplx> z = enc.decode(dec.decrypt(ct));
    std::vector<double> re(z.size());
    for (std::size_t i = 0; i < z.size(); ++i) re[i] = z[i].real();
    return re;
}

}  // namespace bt::ckks
