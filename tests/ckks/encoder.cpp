// Tests for src/ckks/encoder.cpp: the special FFT against direct float64 evaluation of
// the canonical embedding, encode/decode precision in bits, sparse slots, and the
// properties the scheme relies on: products of polynomials multiply slots, X -> X^(5^r)
// rotates them, X -> X^(-1) conjugates them.
#include "doctest/doctest.h"

#include "bt/ckks/encoder.hpp"

#include <cmath>
#include <random>

using namespace bt;
using namespace bt::ckks;

namespace {

std::vector<cplx> random_slots(std::size_t n, std::uint64_t seed, bool real = false) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(-1, 1);
    std::vector<cplx> z(n);
    for (auto& x : z) x = cplx(u(rng), real ? 0.0 : u(rng));
    return z;
}

double max_err(const std::vector<cplx>& a, const std::vector<cplx>& b) {
    double e = 0;
    for (std::size_t i = 0; i < a.size(); ++i) e = std::max(e, std::abs(a[i] - b[i]));
    return e;
}

ParamsPtr test_params() {
    static ParamsPtr p = preset("N12_test");
    return p;
}

}  // namespace

TEST_SUITE("ckks") {

TEST_CASE("encoder: special FFT equals direct evaluation z_j = sum_k w_k xi^(5^j k)") {
    const Encoder enc(test_params());
    const double pi = std::acos(-1.0);
    for (std::size_t n : {1u, 2u, 8u, 64u, 2048u}) {
        auto w = random_slots(n, n);
        std::vector<cplx> direct(n);
        for (std::size_t j = 0; j < n; ++j) {
            std::uint64_t g = 1;
            for (std::size_t t = 0; t < j; ++t) g = g * 5 % (4 * n);
            cplx acc = 0;
            for (std::size_t k = 0; k < n; ++k)
                acc += w[k] * std::polar(1.0, 2 * pi * static_cast<double>((g * k) % (4 * n)) / (4.0 * static_cast<double>(n)));
            direct[j] = acc;
        }
        auto fast = w;
        enc.fft_special(fast.data(), n);
        CAPTURE(n);
        CHECK(max_err(fast, direct) < 1e-12 * static_cast<double>(n));
        enc.fft_special_inv(fast.data(), n);
        CHECK(max_err(fast, w) < 1e-13 * std::log2(2.0 * static_cast<double>(n)));
    }
}

TEST_CASE("encoder: encode/decode round trip, full and sparse slots, precision in bits") {
    auto P = test_params();
    const Encoder enc(P);
    for (std::size_t slots : {std::size_t{1}, std::size_t{4}, std::size_t{256}, P->max_slots()}) {
        for (std::size_t level : {std::size_t{0}, P->max_level()}) {
            const auto z = random_slots(slots, slots + level);
            const Plaintext pt = enc.encode(z, level, 0, slots);
            CHECK(pt.level == level);
            CHECK(pt.scale == P->nominal_scale(level));
            const auto back = enc.decode(pt);
            const double e = max_err(back, z);
            MESSAGE("encode/decode slots=" << slots << " level=" << level << ": max error 2^" << std::log2(e));
            // Rounding to integers: each of 2n coefficients is off by <= 1/2, so a slot
            // is off by <= n/scale in the worst case; in practice ~sqrt(n)/scale.
            CHECK(e <= static_cast<double>(slots) / pt.scale + 1e-15);
        }
    }
    // Large scale: coefficients beyond 2^62 go through long double.
    const auto z = random_slots(64, 3);
    const Plaintext big = enc.encode(z, P->max_level(), std::ldexp(1.0, 100), 64);
    CHECK(max_err(enc.decode(big), z) < 1e-15);
    CHECK_THROWS_WITH_AS(enc.encode(z, 0, 0, 48), doctest::Contains("not a power of two"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(enc.encode(random_slots(65, 1), 0, 0, 64), doctest::Contains("do not fit"),
                         std::invalid_argument);
}

TEST_CASE("encoder: polynomial product multiplies slots; automorphisms rotate and conjugate") {
    auto P = test_params();
    const Encoder enc(P);
    const Params& p = *P;
    for (std::size_t slots : {std::size_t{16}, p.max_slots()}) {
        const auto a = random_slots(slots, 10), b = random_slots(slots, 11);
        const std::size_t level = 2;
        const Plaintext pa = enc.encode(a, level, std::ldexp(1.0, 30), slots);
        const Plaintext pb = enc.encode(b, level, std::ldexp(1.0, 30), slots);
        Plaintext prod = pa;
        poly_mul(p, level, prod.poly, pa.poly, pb.poly, level + 1);
        prod.scale = pa.scale * pb.scale;
        const auto got = enc.decode(prod);
        std::vector<cplx> expect(slots);
        for (std::size_t i = 0; i < slots; ++i) expect[i] = a[i] * b[i];
        CHECK(max_err(got, expect) < 1e-6);

        for (long r : {1L, 3L, -1L, static_cast<long>(slots) / 2}) {
            const std::uint64_t g = enc.galois_element(r, slots);
            Plaintext rot = pa;
            apply_automorphism_ntt(pa.poly, rot.poly, automorphism_permutation(p.N(), g), level + 1);
            const auto rz = enc.decode(rot);
            std::vector<cplx> e(slots);
            for (std::size_t i = 0; i < slots; ++i)
                e[i] = a[(i + static_cast<std::size_t>(r + static_cast<long>(slots))) % slots];
            CAPTURE(r);
            CHECK(max_err(rz, e) < 1e-6);
            // Same automorphism on coefficients agrees with the NTT-domain permutation.
            Poly coeff = pa.poly;
            from_ntt(p, coeff, level);
            Poly out(p.N(), level + 1, false);
            apply_automorphism_coeff(p, level, coeff, out, g, level + 1);
            to_ntt(p, out, level);
            CHECK(out.data == rot.poly.data);
        }
        Plaintext conj = pa;
        apply_automorphism_ntt(pa.poly, conj.poly, automorphism_permutation(p.N(), 2 * p.N() - 1), level + 1);
        const auto cz = enc.decode(conj);
        std::vector<cplx> e(slots);
        for (std::size_t i = 0; i < slots; ++i) e[i] = std::conj(a[i]);
        CHECK(max_err(cz, e) < 1e-6);
    }
}

TEST_CASE("encoder: constants") {
    auto P = test_params();
    const Encoder enc(P);
    const auto d = enc.decode(enc.encode_constant(-0.375, 3, 0, 128));
    REQUIRE(d.size() == 128);
    for (const cplx& x : d) CHECK(std::abs(x - cplx(-0.375, 0)) < 1e-10);
}

}  // TEST_SUITE
