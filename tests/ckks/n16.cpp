// The N = 2^16 SEAL-comparison preset exercised end to end once (suite "ckks-slow"):
// encryption, multiply+relinearize+rescale, rotation, with precision printed in bits.
// Keys: one relinearization key and one rotation key (~120 MB each).
#include "doctest/doctest.h"

#include "bt/ckks/encryptor.hpp"
#include "bt/ckks/evaluator.hpp"

#include <cmath>
#include <random>

using namespace bt;
using namespace bt::ckks;

TEST_SUITE("ckks-slow") {

TEST_CASE("n16: encrypt, multiply+relin+rescale, rotate at N = 2^16 (60 + 21 x 50-bit chain)") {
    auto P = preset("N16_QP1530_T_seal");
    CHECK(P->secure());
    MESSAGE(P->summary());
    KeyGenerator kg(P);  // OS randomness: the real thing
    const SecretKey sk = kg.secret_key();
    const PublicKey pk = kg.public_key(sk);
    const RelinKey rk = kg.relin_key(sk);
    const GaloisKeys gk = kg.galois_keys(sk, kg.galois_elements_for_steps({5}));
    const Encoder enc(P);
    Encryptor encryptor(P, pk);
    const Decryptor dec(P, sk);
    const Evaluator ev(P, &rk, &gk);
    const std::size_t n = P->max_slots();
    std::mt19937_64 rng(16);
    std::uniform_real_distribution<double> u(-1, 1);
    std::vector<double> x(n), y(n);
    for (std::size_t i = 0; i < n; ++i) {
        x[i] = u(rng);
        y[i] = u(rng);
    }
    auto bits = [&](const Ciphertext& c, const std::vector<double>& want, const std::string& what) {
        const auto z = enc.decode(dec.decrypt(c));
        double mx = 0, sum = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const double e = std::abs(z[i] - cplx(want[i], 0));
            mx = std::max(mx, e);
            sum += e;
        }
        MESSAGE(what << ": precision max " << -std::log2(mx) << " bits, mean " << -std::log2(sum / static_cast<double>(n)) << " bits");
        return -std::log2(mx);
    };
    const std::size_t L = P->max_level();
    const Ciphertext cx = encryptor.encrypt(enc.encode(x, L)), cy = encryptor.encrypt(enc.encode(y, L));
    // Scale 2^50. The public-key noise is the ModDown rounding, ≈ |s|·sqrt(N)/2 ≈ 2^13.7 per
    // slot at N = 2^16: mean ≈ 36 bits, max over 2^15 slots ≈ 33.5 (measured 36.4 / 33.5;
    // at a 40-bit scale that is 26.4 / 23.5). Thresholds leave 1.5 bits of margin.
    CHECK(bits(cx, x, "N=2^16 fresh public-key encryption (scale 2^50)") > 32);
    std::vector<double> xy(n), rot(n);
    for (std::size_t i = 0; i < n; ++i) {
        xy[i] = x[i] * y[i];
        rot[i] = x[(i + 5) % n];
    }
    const Ciphertext m = ev.multiply_relin_rescale(cx, cy);
    CHECK(m.level == L - 1);
    CHECK(bits(m, xy, "N=2^16 multiply+relin+rescale") > 32);
    CHECK(bits(ev.rotate(cx, 5), rot, "N=2^16 rotate by 5") > 31.5);
}

TEST_CASE("params: a secure literal needs the error width the security table assumes") {
    ParamsLiteral lit = preset_literal("N16_QP1533_T");
    lit.sigma = 1.0;
    CHECK_THROWS_WITH_AS(Params::create(lit), doctest::Contains("below the 3.19"), std::invalid_argument);
    lit.sigma = 3.2;
    CHECK_NOTHROW(Params::create(lit));
}

}  // TEST_SUITE

// The secure training preset bootstrapped once, as the trainer does it: 1024 slots,
// dense uniform ternary main secret with sparse-secret encapsulation (h = 32), the
// recommended configuration. Keys: 27 Galois keys (mostly at the top level), the
// relinearization key at EvalMod's level and the two encapsulation keys, about 5.6 GB;
// the whole case takes ~20 s on 2 cores with AVX-512 (~30 s with BT_SIMD=scalar).
#include "bt/ckks/bootstrap.hpp"

TEST_SUITE("ckks-slow") {

TEST_CASE("n16: bootstrapping 1024 slots with N16_QP1735_T_enc (encapsulation h = 32)") {
    auto P = preset("N16_QP1735_T_enc");
    REQUIRE(P->secure());
    CHECK(P->secret_dist() == SecretDist::Ternary);
    CHECK(P->log_qp() <= he_standard_max_log_qp(16));
    const std::size_t slots = 1024;
    CkksBootstrapper bs(P, recommended_bootstrap_config(slots));
    MESSAGE(bs.describe());
    REQUIRE(bs.encapsulation_ring());
    CHECK(bs.encapsulation_ring()->secure());
    CHECK(bs.output_level() == 15);
    KeyGenerator kg(P);  // OS randomness: the real thing
    const SecretKey sk = kg.secret_key();
    const PublicKey pk = kg.public_key(sk);
    const RelinKey rk = bs.make_relin_key(kg, sk);
    const GaloisKeys gk = bs.make_galois_keys(kg, sk);
    const EncapsulationKeys ek = bs.make_encapsulation_keys(kg, sk);
    MESSAGE("keys: " << gk.keys.size() << " Galois keys " << gk.size_bytes() / 1048576 << " MiB, relinearization "
                     << rk.key.size_bytes() / 1048576 << " MiB, encapsulation " << ek.size_bytes() / 1048576
                     << " MiB (s -> s' " << ek.to_sparse.size_bytes() / 1024 << " KiB)");
    bs.set_keys(&rk, &gk, &ek);
    const Encoder enc(P);
    Encryptor e(P, pk);
    const Decryptor dec(P, sk);
    std::mt19937_64 rng(1024);
    std::uniform_real_distribution<double> u(-1, 1);
    std::vector<cplx> z(slots);
    for (auto& v : z) v = cplx(u(rng), u(rng));
    const Ciphertext r = bs.bootstrap(e.encrypt(enc.encode(z, 0, 0, slots)));
    CHECK(r.level == 15);
    CHECK(r.scale == P->nominal_scale(15));
    const auto got = enc.decode(dec.decrypt(r));
    double mx = 0, sum = 0;
    for (std::size_t i = 0; i < slots; ++i) {
        const double err = std::abs(got[i] - z[i]);
        mx = std::max(mx, err);
        sum += err;
    }
    const double bits_mean = -std::log2(sum / static_cast<double>(slots)), bits_max = -std::log2(mx);
    MESSAGE("N = 2^16 bootstrap, 1024 slots: precision mean " << bits_mean << " bits, max " << bits_max
                                                              << " bits, 15 levels left");
    // Measured 25.4 / 23.6 bits. The bar (mean >= 20, max >= 16) with no margin
    // taken off it: the test fails exactly when the bar is missed.
    CHECK(bits_mean >= 20);
    CHECK(bits_max >= 16);
    // The refreshed ciphertext computes: one multiplication at 2^40.
    const Evaluator ev(P, &rk);
    const auto sq = enc.decode(dec.decrypt(ev.multiply_relin_rescale(r, r)));
    CHECK(std::abs(sq[3] - z[3] * z[3]) < 1e-4);
}

}  // TEST_SUITE
