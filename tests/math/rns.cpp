// Tests for src/math/bigint.cpp and src/math/rns.cpp against exact big-integer
// arithmetic: CRT round trips, fast base conversion (x + u·A with one u for all target
// moduli), ModDown (floor(x/P) - u), and rescaling (floor((x + floor(q_l/2)) / q_l)).
#include "doctest/doctest.h"

#include "bt/primes.hpp"
#include "bt/rns.hpp"

#include <cmath>
#include <random>

using namespace bt;

namespace {

BigUInt random_below(const BigUInt& bound, std::mt19937_64& rng) {
    BigUInt x;
    for (std::size_t i = 0; i < bound.words().size() + 1; ++i) {
        x.shift_left(64);
        x += BigUInt(rng());
    }
    BigUInt q, r;
    x.divmod(bound, q, r);
    return r;
}

// Residues of x (n coefficients) in limb-major layout.
std::vector<u64> to_rns(const std::vector<BigUInt>& xs, const RNSBasis& b) {
    const std::size_t n = xs.size();
    std::vector<u64> v(b.size() * n);
    for (std::size_t k = 0; k < n; ++k) b.decompose(xs[k], &v[k], n);
    return v;
}

}  // namespace

TEST_SUITE("math") {

TEST_CASE("bigint: arithmetic identities") {
    std::mt19937_64 rng(3);
    BigUInt a = BigUInt(rng()) * BigUInt(rng()) * BigUInt(rng());
    BigUInt b = BigUInt(rng()) * BigUInt(rng());
    BigUInt q, r;
    a.divmod(b, q, r);
    CHECK(q * b + r == a);
    CHECK(r < b);
    CHECK((a + b) - b == a);
    BigUInt c = a;
    c.shift_left(77).shift_right(77);
    CHECK(c == a);
    CHECK(BigUInt(12345678901234567890ull).to_string() == "12345678901234567890");
    BigUInt d = BigUInt(1000);
    CHECK(d.divmod_word(7) == 6);
    CHECK(d == BigUInt(142));
    CHECK_THROWS_AS(BigUInt(1) -= BigUInt(2), std::logic_error);
}

TEST_CASE("rns: CRT reconstruct/decompose round trip and centred values") {
    const auto primes = generate_ntt_primes(55, 6, 1024);
    const RNSBasis B(primes);
    std::mt19937_64 rng(9);
    for (int t = 0; t < 50; ++t) {
        const BigUInt x = random_below(B.product(), rng);
        std::vector<u64> res(B.size());
        B.decompose(x, res.data());
        CHECK(B.reconstruct(res.data()) == x);
    }
    // -5 mod Q reconstructs to -5 as a centred value.
    std::vector<u64> m5(B.size());
    for (std::size_t i = 0; i < B.size(); ++i) m5[i] = primes[i] - 5;
    CHECK(B.reconstruct_centered(m5.data()) == -5.0L);
    CHECK(B.compose_centered(m5.data()) == -5.0L);
    // Garner with balanced digits equals the big-integer centred value: small values
    // exactly, large ones to long double precision.
    for (int t = 0; t < 200; ++t) {
        BigUInt x = t < 100 ? BigUInt(rng() >> (t % 60)) : random_below(B.product(), rng);
        std::vector<u64> res(B.size());
        B.decompose(x, res.data());
        if (t % 2) {  // negate: Q - x
            for (std::size_t i = 0; i < B.size(); ++i) res[i] = neg_mod(res[i], primes[i]);
        }
        const long double big = B.reconstruct_centered(res.data()), fast = B.compose_centered(res.data());
        if (t < 100)
            CHECK(big == fast);
        else
            CHECK(std::fabs(static_cast<double>((big - fast) / big)) < 1e-18);
    }
    CHECK_THROWS_AS(RNSBasis({primes[0], primes[0]}), std::invalid_argument);
}

TEST_CASE("rns: fast base conversion gives x + u*A with one u in [0, |A|) per coefficient") {
    const auto pa = generate_ntt_primes(50, 5, 64);
    const auto pb = generate_ntt_primes(60, 4, 64);
    for (std::size_t na : {1u, 3u, 5u}) {
        const RNSBasis A = RNSBasis(pa).slice(0, na), B(pb);
        const BaseConverter conv(A, B);
        std::mt19937_64 rng(na);
        const std::size_t n = 300;  // not a multiple of the internal block
        std::vector<BigUInt> xs;
        for (std::size_t k = 0; k < n; ++k) xs.push_back(random_below(A.product(), rng));
        const auto in = to_rns(xs, A);
        std::vector<u64> out(B.size() * n);
        conv.convert(in.data(), out.data(), n);
        int bad = 0;
        for (std::size_t k = 0; k < n; ++k) {
            bool found = false;
            for (u64 u = 0; u < na && !found; ++u) {
                BigUInt ua = A.product();
                ua.mul_word(u);
                const BigUInt v = xs[k] + ua;
                bool all = true;
                for (std::size_t j = 0; j < B.size(); ++j) all = all && out[j * n + k] == v.mod_word(pb[j]);
                found = all;
            }
            if (!found) ++bad;
        }
        CHECK(bad == 0);
    }
}

// Σ_i y_i·(A/a_i) computed exactly with big integers: the definition of the conversion.
void check_conversion_exact(const std::vector<u64>& pa, const std::vector<u64>& pb, std::size_t n, std::uint64_t seed) {
    const RNSBasis A(pa), B(pb);
    const BaseConverter conv(A, B);
    std::mt19937_64 rng(seed);
    std::vector<BigUInt> xs;
    for (std::size_t k = 0; k < n; ++k) xs.push_back(random_below(A.product(), rng));
    const auto in = to_rns(xs, A);
    std::vector<u64> out(B.size() * n);
    conv.convert(in.data(), out.data(), n);
    int bad = 0;
    for (std::size_t k = 0; k < n; ++k) {
        BigUInt s;
        for (std::size_t i = 0; i < A.size(); ++i) {
            BigUInt qh = A.product();
            qh.divmod_word(pa[i]);
            qh.mul_word(mul_mod(in[i * n + k], A.qhat_inv(i), A[i]));
            s += qh;
        }
        for (std::size_t j = 0; j < B.size(); ++j) bad += out[j * n + k] != s.mod_word(pb[j]);
    }
    CHECK(bad == 0);
}

TEST_CASE("rns: conversion equals its definition: many moduli, mixed 50/60-bit sources, small targets") {
    // > 16 sources of 61 bits: the scalar lazy reduction.
    check_conversion_exact(generate_ntt_primes(61, 40, 16), generate_ntt_primes(59, 2, 16), 20, 5);
    // 50-bit and up to 7 60-bit sources into targets below 2^50: the IFMA kernel (split
    // high parts), with n not a multiple of 8 or of the block; 8 wide sources: scalar.
    auto mixed = generate_ntt_primes(50, 9, 4096);
    for (u64 p : generate_ntt_primes(60, 7, 4096)) mixed.push_back(p);
    std::vector<u64> targets = generate_ntt_primes(49, 3, 4096);
    for (u64 p : generate_ntt_primes(30, 2, 4096)) targets.push_back(p);
    check_conversion_exact(mixed, targets, 4096 + 13, 6);
    mixed.push_back(generate_ntt_primes(61, 1, 4096)[0]);
    check_conversion_exact(mixed, targets, 300, 7);
}

namespace {
// Primes near a bound: `count` of them searching down from `from` (or up, if up).
std::vector<u64> primes_near(u64 from, std::size_t count, bool up) {
    std::vector<u64> v;
    for (u64 x = from | 1; v.size() < count; x = up ? x + 2 : x - 2)
        if (is_prime(x)) v.push_back(x);
    return v;
}
}  // namespace

TEST_CASE("rns: conversion into 50- to 62-bit targets equals its definition, plain, centred and by target") {
    // Targets from just above 2^50 to just below 2^62 (on an IFMA machine the Shoup kernel
    // for wide targets; elsewhere the portable one), sources of 30 to 62 bits, more than 7
    // of them at 2^52 or more, n not a multiple of 8 or of the block. Inputs include
    // 0 and A - 1 (every y_i = a_i - 1 then: the largest products).
    std::vector<u64> targets = primes_near(u64{1} << 50, 2, true);
    for (int bits : {55, 60, 61}) targets.push_back(generate_ntt_primes(bits, 1, 16)[0]);
    for (u64 p : primes_near((u64{1} << 62) - 1, 2, false)) targets.push_back(p);
    std::vector<u64> sources = generate_ntt_primes(30, 2, 16);
    for (u64 p : generate_ntt_primes(58, 7, 16)) sources.push_back(p);
    for (u64 p : primes_near((u64{1} << 62) - 1, 4, false)) sources.push_back(p);  // after the targets' two
    sources.erase(sources.end() - 4, sources.end() - 2);
    const RNSBasis A(sources), B(targets);
    const BaseConverter conv(A, B);
    const std::size_t n = 4096 + 13;
    std::mt19937_64 rng(11);
    std::vector<BigUInt> xs;
    for (std::size_t k = 0; k < n; ++k) xs.push_back(random_below(A.product(), rng));
    xs[0] = BigUInt(0);
    xs[1] = A.product() - BigUInt(1);
    const auto in = to_rns(xs, A);
    std::vector<u64> out(B.size() * n), outc(B.size() * n);
    conv.convert(in.data(), out.data(), n);
    conv.convert_centered(in.data(), outc.data(), n);
    // The same through scale_source / overflow / convert_target.
    std::vector<u64> y(A.size() * n), v(n), byt(B.size() * n), bytc(B.size() * n);
    for (std::size_t i = 0; i < A.size(); ++i) conv.scale_source(i, &in[i * n], &y[i * n], n);
    conv.overflow(y.data(), n, v.data(), n);
    for (std::size_t j = 0; j < B.size(); ++j) {
        conv.convert_target(y.data(), n, j, &byt[j * n], n);
        conv.convert_target(y.data(), n, j, &bytc[j * n], n, v.data());
    }
    CHECK(byt == out);
    CHECK(bytc == outc);
    BigUInt halfA = A.product();
    halfA.shift_right(1);
    int bad = 0, badc = 0;
    for (std::size_t k = 0; k < n; ++k) {
        BigUInt s;
        for (std::size_t i = 0; i < A.size(); ++i) {
            BigUInt qh = A.product();
            qh.divmod_word(sources[i]);
            qh.mul_word(y[i * n + k]);
            s += qh;
        }
        const bool neg = halfA < xs[k];  // centred value x - A
        for (std::size_t j = 0; j < B.size(); ++j) {
            bad += out[j * n + k] != s.mod_word(targets[j]);
            const u64 xm = xs[k].mod_word(targets[j]);
            badc += outc[j * n + k] != (neg ? sub_mod(xm, A.product().mod_word(targets[j]), targets[j]) : xm);
        }
    }
    CHECK(bad == 0);
    CHECK(badc == 0);
}

TEST_CASE("rns: centred conversion and ModDown are exact rounding") {
    const auto pq = generate_ntt_primes(50, 4, 64);
    const auto pp = generate_ntt_primes(60, 3, 64);
    const RNSBasis Q(pq), P(pp);
    const RNSBasis QP = Q.concat(P);
    const ModDown md(Q, P);
    std::mt19937_64 rng(2);
    const std::size_t n = 256;
    std::vector<BigUInt> xs;
    for (std::size_t k = 0; k < n; ++k) xs.push_back(random_below(QP.product(), rng));
    xs[0] = BigUInt(0);
    xs[1] = QP.product() - BigUInt(1);
    auto xq = to_rns(xs, Q);
    const auto xp = to_rns(xs, P);
    // Centred conversion P -> Q: x mod P taken in [-P/2, P/2).
    std::vector<u64> conv(Q.size() * n);
    BaseConverter(P, Q).convert_centered(xp.data(), conv.data(), n);
    BigUInt halfP = P.product();
    halfP.shift_right(1);
    int bad = 0;
    for (std::size_t k = 0; k < n; ++k) {
        BigUInt quo, r;
        xs[k].divmod(P.product(), quo, r);  // r = x mod P in [0, P)
        const bool neg = halfP < r;           // centred value r - P
        for (std::size_t i = 0; i < Q.size(); ++i) {
            const u64 rm = r.mod_word(pq[i]);
            const u64 expect = neg ? sub_mod(rm, P.product().mod_word(pq[i]), pq[i]) : rm;
            bad += conv[i * n + k] != expect;
        }
    }
    CHECK(bad == 0);
    // ModDown = round(x / P) = floor((x + (P-1)/2) / P) for odd P.
    md.apply(xq.data(), xp.data(), n);
    bad = 0;
    for (std::size_t k = 0; k < n; ++k) {
        BigUInt num = xs[k] + halfP, quo, rem;
        num.divmod(P.product(), quo, rem);
        for (std::size_t i = 0; i < Q.size(); ++i) bad += xq[i * n + k] != quo.mod_word(pq[i]);
    }
    CHECK(bad == 0);
}

TEST_CASE("rns: divide_round_by_last is exact rounding division") {
    const auto primes = generate_ntt_primes(50, 5, 64);
    const RNSBasis B(primes);
    const RNSBasis Bl = B.slice(0, 4);
    std::mt19937_64 rng(8);
    const std::size_t n = 100;
    std::vector<BigUInt> xs;
    for (std::size_t k = 0; k < n; ++k) xs.push_back(random_below(B.product(), rng));
    // Edge cases: 0, Q-1, exact multiples of q_l and halfway points.
    xs[0] = BigUInt(0);
    xs[1] = B.product() - BigUInt(1);
    xs[2] = BigUInt(primes[4]);
    xs[3] = BigUInt(primes[4] / 2);
    xs[4] = BigUInt(primes[4] / 2 + 1);
    auto data = to_rns(xs, B);
    divide_round_by_last(data.data(), n, B);
    for (std::size_t k = 0; k < n; ++k) {
        BigUInt num = xs[k] + BigUInt(primes[4] / 2), quo, rem;
        num.divmod(BigUInt(primes[4]), quo, rem);
        BigUInt qm, expect;
        quo.divmod(Bl.product(), qm, expect);  // mod Q/q_l
        std::vector<u64> got(4);
        for (std::size_t i = 0; i < 4; ++i) got[i] = data[i * n + k];
        CHECK(Bl.reconstruct(got.data()) == expect);
    }
}

}  // TEST_SUITE
