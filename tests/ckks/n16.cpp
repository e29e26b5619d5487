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

}  // TEST_SUITE
