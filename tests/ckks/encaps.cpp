// Tests for sparse-secret encapsulation (src/ckks/bootstrap.cpp) and the bootstrapping
// configuration built on it: each key switch against decryption with the secret it
// should decrypt under (s' is known to the test only), ModRaise's |I| <= (h+1)/2 bound
// with exact CRT, EvalMod with its change of variable folded out, the encapsulation ring
// (explicit primes, security classification), and small-ring bootstrapping with a DENSE
// main secret, full and sparse packing.
#include "doctest/doctest.h"

#include "ckks_test_util.hpp"
#include "bt/ckks/bootstrap.hpp"

#include <cmath>
#include <random>
#include <vector>

using namespace bt;
using namespace bt::ckks;

using bt_test::seed_of;

namespace {

// N = 2^11, DENSE uniform ternary main secret, built like N16_QP1725_T_enc: q_0 52 bits,
// 5 levels at 2^40 (3 for computation, 2 for SlotsToCoeffs), 8 x 60 bits (EvalMod: K = 16,
// degree 63, 2 double angles), 2 x 56 bits (CoeffsToSlots); 3 special primes of 61 bits.
// Insecure only because N is small (tests only).
ParamsPtr enc_params() {
    ParamsLiteral lit;
    lit.log_n = 11;
    lit.log_q = {52, 40, 40, 40, 40, 40};
    for (int i = 0; i < 8; ++i) lit.log_q.push_back(60);
    lit.log_q.push_back(56);
    lit.log_q.push_back(56);
    lit.log_p = {61, 61, 61};
    lit.log_scale = 40;
    lit.insecure = true;
    lit.name = "boot_enc_test";
    static ParamsPtr P = Params::create(lit);
    return P;
}

SecureVector<std::int8_t> copy(const SecureVector<std::int8_t>& v) { return SecureVector<std::int8_t>(v.begin(), v.end()); }

// Centred coefficients of the decryption (Σ c_i s^i) of ct, at its level, as long double.
std::vector<long double> raw_decrypt(const Params& P, const Ciphertext& ct, const SecretKey& sk) {
    const Decryptor dec(std::shared_ptr<const Params>(&P, [](const Params*) {}), sk);
    Poly m = dec.decrypt(ct).poly;
    from_ntt(P, m, ct.level);
    std::vector<long double> out(P.N());
    std::vector<u64> res(ct.level + 1);
    for (std::size_t k = 0; k < P.N(); ++k) {
        for (std::size_t l = 0; l <= ct.level; ++l) res[l] = m.limb(l)[k];
        out[k] = P.basis_q(ct.level).compose_centered(res.data());
    }
    return out;
}

}  // namespace

TEST_SUITE("ckks") {

TEST_CASE("encapsulation: the encapsulation ring shares q0 and p0, and its security is classified") {
    auto P = enc_params();
    auto E = encapsulation_params(*P, 32);
    CHECK(E->N() == P->N());
    CHECK(E->q_count() == 1);
    CHECK(E->p_count() == 1);
    CHECK(E->q(0) == P->q(0));
    CHECK(E->p()[0] == P->p()[0]);
    CHECK(E->secret_dist() == SecretDist::SparseTernary);
    CHECK(E->hamming_weight() == 32);
    CHECK_FALSE(E->secure());  // N = 2^11: a test ring
    // The real one: N = 2^16, log2(q0·p0) = 113 <= 121, h = 32: secure by the exception.
    auto P16 = preset("N16_QP1725_T_enc");
    CHECK(P16->secure());
    CHECK(P16->secret_dist() == SecretDist::Ternary);
    CHECK(P16->log_qp() <= 1747);
    auto E16 = encapsulation_params(*P16, 32);
    CHECK(E16->secure());
    CHECK(E16->log_qp() < 114);
    // A lighter ephemeral secret, or the same secret over a bigger modulus, is not.
    CHECK_THROWS_WITH_AS(encapsulation_params(*P16, 16), doctest::Contains("sparse secret (h = 16)"),
                         std::invalid_argument);
    ParamsLiteral big = preset_literal("N16_QP1725_T_enc");
    big.log_q.resize(3);
    big.log_p.resize(1);
    big.secret = SecretDist::SparseTernary;
    big.hamming_weight = 32;
    CHECK_THROWS_WITH_AS(Params::create(big), doctest::Contains("sparse-secret encapsulation bound"),
                         std::invalid_argument);
    // Explicit primes are validated.
    ParamsLiteral bad = preset_literal("N13_QP215_T");
    bad.q_primes = {P16->q(0), P16->q(1), P16->q(2), P16->q(3)};  // NTT primes for 2^16, not of these sizes
    CHECK_THROWS_WITH_AS(Params::create(bad), doctest::Contains("is not an NTT prime"), std::invalid_argument);
}

TEST_CASE("encapsulation: s -> s' at q0·p', ModRaise |I| <= (h+1)/2, s' -> s at the top (against decryption)") {
    auto P = enc_params();
    auto E = encapsulation_params(*P, 32);
    KeyGenerator kg(P, seed_of(61));
    const SecretKey sk = kg.secret_key();
    const SecureVector<std::int8_t> eph = kg.sparse_ternary_coeffs(32);
    std::size_t weight = 0;
    for (std::int8_t c : eph) weight += c != 0;
    CHECK(weight == 32);
    const EncapsulationKeys ek = make_encapsulation_keys(kg, sk, E, eph);
    CHECK(ek.to_sparse.max_level == 0);
    CHECK(ek.to_sparse.b.size() == 1);               // one digit: q_0
    CHECK(ek.to_sparse.b[0].limbs == 2);             // over {q_0, p'} only
    CHECK(ek.to_dense.max_level == P->max_level());  // the whole chain
    const SecretKey eph_main = secret_key_from_coeffs(*P, copy(eph));

    const Encoder enc(P);
    Encryptor e(P, sk, seed_of(62));
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> u(-1, 1);
    std::vector<cplx> z(P->max_slots());
    for (auto& v : z) v = cplx(u(rng), u(rng));
    const Ciphertext c0 = e.encrypt(enc.encode(z, 0));

    // 1. s -> s': decrypting the switched ciphertext with s' gives the plaintext that
    //    decrypting the input with s gives, up to the key-switching noise.
    const Ciphertext cs = switch_to_sparse(*P, E, c0, ek.to_sparse);
    CHECK(cs.level == 0);
    const auto ref = raw_decrypt(*P, c0, sk), got = raw_decrypt(*P, cs, eph_main);
    long double ks_noise = 0;
    for (std::size_t k = 0; k < P->N(); ++k) ks_noise = std::max(ks_noise, std::fabs(got[k] - ref[k]));
    // Noise: Σ_j [c1]_q0·e_j / p' (≈ q0·σ·sqrt(N) / p' < 1) plus rounding·s' (|s'|_1 = 32):
    // a few tens at most, against a scale of 2^40.
    MESSAGE("s -> s' key switch: max coefficient noise " << static_cast<double>(ks_noise));
    CHECK(ks_noise < 64);
    // The wrong secret does not decrypt it (the check can fail).
    const auto wrong = raw_decrypt(*P, cs, sk);
    long double diff = 0;
    for (std::size_t k = 0; k < P->N(); ++k) diff = std::max(diff, std::fabs(wrong[k] - ref[k]));
    CHECK(diff > 1e9L);

    // 2. ModRaise under s': every coefficient of I within (h+1)/2 = 16.
    const std::size_t L = P->max_level();
    Ciphertext raised = mod_raise(*P, cs, L);
    const auto up = raw_decrypt(*P, raised, eph_main);
    const long double q0 = static_cast<long double>(P->q(0));
    long double max_i = 0;
    bool integral = true;
    for (std::size_t k = 0; k < P->N(); ++k) {
        const long double I = (up[k] - got[k]) / q0;
        integral = integral && std::fabs(I - std::nearbyint(I)) < 1e-6L;
        max_i = std::max(max_i, std::fabs(I));
    }
    MESSAGE("ModRaise after encapsulation: max |I| = " << static_cast<double>(max_i) << " (bound 16)");
    CHECK(integral);
    CHECK(max_i <= 16);
    CHECK(max_i >= 1);

    // 3. s' -> s at the top level: decrypting with s gives m + q_0·I again.
    const Evaluator ev(P);
    switch_to_dense_inplace(ev, raised, ek.to_dense);
    const auto back = raw_decrypt(*P, raised, sk);
    long double back_noise = 0;
    for (std::size_t k = 0; k < P->N(); ++k) back_noise = std::max(back_noise, std::fabs(back[k] - up[k]));
    MESSAGE("s' -> s key switch at level " << L << ": max coefficient noise " << static_cast<double>(back_noise));
    // ModDown rounding times the dense s (||s||_1 ≈ 2N/3) plus Σ digit·e/P (digits <= P):
    // measured ~2^7; bound 2^10, which is 2^-50 of the ~2^60 scale CoeffsToSlots reads it at.
    CHECK(back_noise < 1024);
}

TEST_CASE("bootstrap: EvalMod with its change of variable folded out (K = 16, degree 63, 2 double angles)") {
    // EvalMod's own ring: every level ~59 bits, like bootstrapping's EvalMod levels.
    ParamsLiteral lit;
    lit.log_n = 12;
    lit.log_q = std::vector<int>(10, 59);
    lit.log_q[0] = 60;
    lit.log_p = {60, 60};
    lit.log_scale = 59;
    lit.insecure = true;
    lit.name = "evalmod_test";
    auto P = Params::create(lit);
    KeyGenerator kg(P, seed_of(63));
    const SecretKey sk = kg.secret_key();
    const RelinKey rk = kg.relin_key(sk);
    const Encoder enc(P);
    Encryptor e(P, sk, seed_of(64));
    const Decryptor dec(P, sk);
    const Evaluator ev(P, &rk);
    EvalModConfig cfg = recommended_bootstrap_config(0).evalmod;
    CHECK(cfg.unit_input);
    const EvalMod em(cfg);
    CHECK(em.depth() == 8);
    CHECK(EvalMod(EvalModConfig{16, 2, 63, false}).depth() == 9);  // the folded level
    MESSAGE("EvalMod K=16, r=2, degree 63: cosine interpolation error 2^" << std::log2(em.interpolation_error()));
    std::mt19937_64 rng(9);
    std::uniform_int_distribution<int> I(-16, 16);
    std::uniform_real_distribution<double> d(-1.0 / 4096, 1.0 / 4096);
    const std::size_t n = P->max_slots();
    std::vector<double> t(n), delta(n), unit(n);
    for (std::size_t i = 0; i < n; ++i) {
        delta[i] = d(rng);
        t[i] = I(rng) + delta[i];
        unit[i] = t[i] / 17;
    }
    const std::size_t L = P->max_level();
    const Ciphertext out = em.apply(ev, e.encrypt(enc.encode(unit, L)));
    CHECK(out.level == L - 8);
    const auto z = enc.decode(dec.decrypt(out));
    double err_mod = 0, err_twin = 0;
    for (std::size_t i = 0; i < n; ++i) {
        err_mod = std::max(err_mod, std::fabs(z[i].real() - delta[i]));
        err_twin = std::max(err_twin, std::fabs(z[i].real() - em.twin(t[i])));
    }
    MESSAGE("EvalMod (unit input) vs t mod 1: max 2^" << std::log2(err_mod) << "; vs twin 2^" << std::log2(err_twin));
    // sin(2πδ)/(2π) - δ <= (2π)²|δ|³/6 = 2^-31.7 for |δ| <= 2^-12; interpolation error
    // (below 2^-50 at degree 63 on 2π·17/4 radians) times 4 per double angle; the CKKS
    // noise at a 59-bit scale, divided by 17 before the cosine, times 16: bound 2^-26.
    CHECK(err_mod < std::ldexp(1.0, -26));
    CHECK(err_twin < std::ldexp(1.0, -26));
}

TEST_CASE("bootstrap: dense main secret with sparse-secret encapsulation, full and sparse packing") {
    auto P = enc_params();
    KeyGenerator kg(P, seed_of(65));
    const SecretKey sk = kg.secret_key();
    const Encoder enc(P);
    Encryptor e(P, sk, seed_of(66));
    const Decryptor dec(P, sk);
    {  // A dense secret without encapsulation is refused, and so are missing keys.
        BootstrapConfig plain = recommended_bootstrap_config(0);
        plain.ephemeral_weight = 0;
        CHECK_THROWS_WITH_AS(CkksBootstrapper(P, plain), doctest::Contains("enable sparse-secret encapsulation"),
                             std::invalid_argument);
        BootstrapConfig lowk = recommended_bootstrap_config(0);
        lowk.evalmod.K = 12;
        CHECK_THROWS_WITH_AS(CkksBootstrapper(P, lowk), doctest::Contains("raise K to at least 16"),
                             std::invalid_argument);
        CkksBootstrapper bs(P, recommended_bootstrap_config(0));
        CHECK_THROWS_WITH_AS(bs.set_keys(nullptr, nullptr), doctest::Contains("pass the keys from make_encapsulation_keys"),
                             std::invalid_argument);
    }
    for (std::size_t slots : {P->max_slots(), std::size_t{64}}) {
        BootstrapConfig cfg = recommended_bootstrap_config(slots);
        cfg.cts_budget = 2;
        cfg.stc_budget = 2;
        CkksBootstrapper bs(P, cfg);
        MESSAGE(bs.describe());
        CHECK(bs.output_level() == 3);
        const RelinKey rk = bs.make_relin_key(kg, sk);
        const GaloisKeys gk = bs.make_galois_keys(kg, sk);
        const EncapsulationKeys ek = bs.make_encapsulation_keys(kg, sk);
        bs.set_keys(&rk, &gk, &ek);
        std::mt19937_64 rng(slots + 1);
        std::uniform_real_distribution<double> u(-1, 1);
        std::vector<cplx> z(slots);
        for (auto& v : z) v = cplx(u(rng), u(rng));
        const Ciphertext r = bs.bootstrap(e.encrypt(enc.encode(z, 0, 0, slots)));
        CHECK(r.level == 3);
        CHECK(r.scale == P->nominal_scale(3));
        CHECK(r.slots == slots);
        const auto got = enc.decode(dec.decrypt(r));
        double mx = 0, sum = 0;
        for (std::size_t i = 0; i < slots; ++i) {
            const double err = std::abs(got[i] - z[i]);
            mx = std::max(mx, err);
            sum += err;
        }
        const double bits_max = -std::log2(mx), bits_mean = -std::log2(sum / static_cast<double>(slots));
        MESSAGE("bootstrap with encapsulation, " << slots << " slots: precision max " << bits_max << " bits, mean "
                                                 << bits_mean << " bits");
        // The bar at N = 2^16 is mean >= 20, max >= 16 bits; this ring's fresh
        // encryption noise alone is ~26 bits mean. Margins: 2 bits under the bar.
        CHECK(bits_mean > 20);
        CHECK(bits_max > 16);
        // A constant message: its polynomial is the constant 0.9·Δ (δ = 0.9·Δ/q0, the
        // largest a coefficient gets), where sin's cubic term is largest.
        const std::vector<cplx> k(slots, cplx(0.9, 0));
        const auto gk2 = enc.decode(dec.decrypt(bs.bootstrap(e.encrypt(enc.encode(k, 0, 0, slots)))));
        double kmax = 0;
        for (std::size_t i = 0; i < slots; ++i) kmax = std::max(kmax, std::abs(gk2[i] - k[i]));
        MESSAGE("  constant 0.9: max error 2^" << std::log2(kmax));
        CHECK(kmax < std::ldexp(1.0, -16));
    }
}

}  // TEST_SUITE
