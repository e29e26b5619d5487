// Tests for src/math/random.cpp: ChaCha20 known answers (RFC 8439 §2.3.2 and a
// multi-block stream generated with Python's `cryptography` package, an independent
// implementation), and statistical checks of the samplers with fixed seeds and failure
// thresholds stated in each test.
#include "doctest/doctest.h"

#include <algorithm>

#include "bt/cpu.hpp"
#include "bt/random.hpp"
#include "bt/secure.hpp"

#include <cmath>
#include <string>
#include <vector>

using namespace bt;

namespace {

std::string hex(const std::uint8_t* p, std::size_t n) {
    static const char* d = "0123456789abcdef";
    std::string s;
    for (std::size_t i = 0; i < n; ++i) {
        s += d[p[i] >> 4];
        s += d[p[i] & 15];
    }
    return s;
}

Seed seed_from(std::uint8_t start) {
    Seed s{};
    for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<std::uint8_t>(start + i);
    return s;
}

// Chi-square statistic of counts against a uniform expectation.
double chi_square(const std::vector<double>& counts) {
    double total = 0;
    for (double c : counts) total += c;
    const double e = total / static_cast<double>(counts.size());
    double x2 = 0;
    for (double c : counts) x2 += (c - e) * (c - e) / e;
    return x2;
}

// Critical value of chi-square with 63 degrees of freedom at p = 1e-6
// (Wilson–Hilferty: 63·(1 - 2/567 + 4.753·sqrt(2/567))^3 = 131.8).
constexpr double kChi2_63_p1e6 = 131.8;

}  // namespace

TEST_SUITE("math") {

TEST_CASE("chacha20: RFC 8439 2.3.2 block function test vector") {
    const std::uint32_t w[4] = {1, 0x09000000, 0x4a000000, 0};
    std::uint8_t out[64];
    chacha20_block(seed_from(0), w, out);
    CHECK(hex(out, 64) ==
          "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e"
          "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e");
}

TEST_CASE("prng: stream equals an independent ChaCha20 (Python cryptography), across blocks") {
    // key = bytes(100..131), 64-bit counter from 0, stream id 7; 200 bytes (4 blocks).
    Prng p(seed_from(100), 7);
    std::uint8_t out[200];
    p.fill(out, 13);  // uneven pieces exercise the buffer
    p.fill(out + 13, 100);
    p.fill(out + 113, 87);
    CHECK(hex(out, 200) ==
          "92e41e829cd8aad1e85096d7ec63f6e0e0fb867ceb0915a545c22824b0bd3127"
          "c5e0f7dd2c06484a22714bea25468e5b18c8fa1684e087f70649ab2f427fe2b9"
          "29e43a1c85ed581595b4c21abd32608b3ff1e631497c68e804f92b65dba04c98"
          "519330795ec6553ef760bb7e4b1f9ed95c1c5aec91f0f53a03306497111805ac"
          "7ac0d97ccf373251d1246a64fa1dfe29185760f8e98fca3cacda3ba5c666722f"
          "ff7956f06f9e06dc0911aaa4641f3626c1bae2d5de6a1c67412e8f8e46b7b59c"
          "5dd5e04d6bbb3966");
}

TEST_CASE("prng: OS seeds differ; streams differ") {
    CHECK(os_random_seed() != os_random_seed());
    Prng a(seed_from(1), 0), b(seed_from(1), 1);
    CHECK(a.next_u64() != b.next_u64());
}

TEST_CASE("secure_wipe and SecureVector wipe") {
    std::uint8_t buf[32];
    for (auto& x : buf) x = 0xAB;
    secure_wipe(buf, sizeof buf);
    bool zero = true;
    for (auto x : buf) zero = zero && x == 0;
    CHECK(zero);
    SecureVector<std::uint64_t> v(100, 7);
    v.resize(1000, 7);  // reallocation wipes the old storage (allocator path)
    CHECK(v[999] == 7);
#if defined(__linux__) && defined(__x86_64__)  // (not under qemu-user, whose /proc shows the host's mappings)
    // Secrets live on pages of their own that core dumps leave out (MADV_DONTDUMP).
    CHECK(reinterpret_cast<std::uintptr_t>(v.data()) % 4096 == 0);
    CHECK(excluded_from_core_dumps(v.data()));
    std::vector<std::uint64_t> plain(1000, 7);
    CHECK_FALSE(excluded_from_core_dumps(plain.data()));
#endif
}

TEST_CASE("sample_uniform_mod: no modulo bias (chi-square, 64 buckets, p = 1e-6 threshold)") {
    // q = 3·2^61 + 1: 2^64 / q ≈ 2.67, so a naive "r % q" would put ~50% more mass on
    // the lower third of [0, q). The same test is shown to catch that.
    const u64 q = 3 * (u64{1} << 61) + 1;
    Prng p(seed_from(5));
    const std::size_t n = 200000;
    std::vector<u64> v(n);
    sample_uniform_mod(p, q, v.data(), n);
    std::vector<double> counts(64, 0), naive(64, 0);
    bool below = true;
    for (u64 x : v) {
        below = below && x < q;
        counts[static_cast<std::size_t>(static_cast<u128>(x) * 64 / q)] += 1;
    }
    for (std::size_t i = 0; i < n; ++i) {
        const u64 x = p.next_u64() % q;
        naive[static_cast<std::size_t>(static_cast<u128>(x) * 64 / q)] += 1;
    }
    CHECK(below);
    CHECK(chi_square(counts) < kChi2_63_p1e6);
    CHECK(chi_square(naive) > kChi2_63_p1e6);  // the test has the power to fail
    // Small moduli, including q = 1 and a power of two.
    for (u64 small : {1ull, 2ull, 3ull, 64ull, 1000003ull}) {
        std::vector<u64> s(1000);
        sample_uniform_mod(p, small, s.data(), s.size());
        bool ok = true;
        for (u64 x : s) ok = ok && x < small;
        CHECK(ok);
    }
}

TEST_CASE("chacha20_x16 and sample_uniform_public equal the one-block ChaCha20 and sample_uniform_mod, word "
          "for word, on every SIMD path") {
    const Seed seed = seed_from(9);
    for (SimdPath path : {SimdPath::Scalar, SimdPath::AVX2, SimdPath::AVX512, SimdPath::AVX512IFMA}) {
        if (!simd_path_supported(path)) continue;
        CAPTURE(simd_path_name(path));
        // Counters across a 32-bit carry, and a stream id using both words.
        for (std::uint64_t counter : {std::uint64_t{0}, std::uint64_t{0xfffffff8}, std::uint64_t{1} << 40}) {
            const std::uint64_t stream = 0x0123456789abcdefull;
            std::uint32_t out[256];
            chacha20_x16(seed, counter, stream, out, path);
            bool same = true;
            for (std::uint64_t b = 0; b < 16; ++b) {
                const std::uint64_t c = counter + b;
                const std::uint32_t w[4] = {static_cast<std::uint32_t>(c), static_cast<std::uint32_t>(c >> 32),
                                            static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(stream >> 32)};
                std::uint8_t blk[64];
                chacha20_block(seed, w, blk);
                for (std::size_t k = 0; k < 16; ++k) {
                    const std::uint32_t v = static_cast<std::uint32_t>(blk[4 * k]) | static_cast<std::uint32_t>(blk[4 * k + 1]) << 8 |
                                            static_cast<std::uint32_t>(blk[4 * k + 2]) << 16 |
                                            static_cast<std::uint32_t>(blk[4 * k + 3]) << 24;
                    same = same && out[k * 16 + b] == v;
                }
            }
            CHECK(same);
        }
    }
    // The sampler on every path, and the path in force (BT_SIMD), against the Prng
    // reference, for moduli of every size the chain uses (rejection rates from ~0 to ~1/2,
    // and 2^64 - 1 where the mask is all ones), lengths that end inside an 8-word group,
    // inside a 128-word call and on its boundary. The output buffer has guard words after
    // n: no path may write past the end.
    const u64 guard = 0x5a5a5a5a5a5a5a5aull;
    for (u64 q : {(u64{1} << 40) + 1, (u64{1} << 41) - 1, (u64{1} << 59) + 37, (u64{1} << 61) - 1,
                  3 * (u64{1} << 61) + 1, ~u64{0}, u64{1}, u64{2}, u64{1000003}}) {
        CAPTURE(q);
        for (std::size_t n : {std::size_t{1}, std::size_t{5}, std::size_t{127}, std::size_t{128}, std::size_t{4099}}) {
            CAPTURE(n);
            for (std::uint64_t stream : {std::uint64_t{0}, std::uint64_t{0x100007}}) {
                std::vector<u64> a(n);
                Prng p(seed, stream);
                sample_uniform_mod(p, q, a.data(), n);
                std::vector<u64> b(n + 9, guard);
                sample_uniform_public(seed, stream, q, b.data(), n);
                CHECK(std::equal(a.begin(), a.end(), b.begin()));
                for (SimdPath path : {SimdPath::Scalar, SimdPath::AVX2, SimdPath::AVX512, SimdPath::AVX512IFMA}) {
                    if (!simd_path_supported(path)) continue;
                    CAPTURE(simd_path_name(path));
                    std::vector<u64> c(n + 9, guard);
                    sample_uniform_public_path(seed, stream, q, c.data(), n, path);
                    CHECK(std::equal(a.begin(), a.end(), c.begin()));
                    CHECK(std::all_of(c.begin() + static_cast<long>(n), c.end(), [&](u64 x) { return x == guard; }));
                }
            }
        }
    }
    std::vector<u64> none;
    sample_uniform_public(seed, 0, 7, none.data(), 0);
    CHECK_THROWS(sample_uniform_public(seed, 0, 0, none.data(), 1));
}

TEST_CASE("sample_ternary: each of -1, 0, 1 near 1/3 (within 5 sd)") {
    Prng p(seed_from(6));
    const std::size_t n = 300000;
    std::vector<std::int8_t> t(n);
    sample_ternary(p, t.data(), n);
    double c[3] = {0, 0, 0};
    for (auto x : t) c[x + 1] += 1;
    const double sd = std::sqrt(n * (1.0 / 3) * (2.0 / 3));
    for (double x : c) CHECK(std::fabs(x - n / 3.0) < 5 * sd);
}

TEST_CASE("sample_sparse_ternary: exact Hamming weight, balanced signs and positions") {
    Prng p(seed_from(7));
    for (std::size_t n : {16u, 100u, 4096u}) {
        for (std::size_t h : {std::size_t{0}, std::size_t{1}, n / 4, n}) {
            std::vector<std::int8_t> s(n);
            sample_sparse_ternary(p, h, s.data(), n);
            std::size_t w = 0;
            bool values_ok = true;
            for (auto x : s) {
                w += x != 0;
                values_ok = values_ok && (x == 0 || x == 1 || x == -1);
            }
            CHECK(w == h);
            CHECK(values_ok);
        }
    }
    // Positions: over many draws of h = 8 in n = 64, every position is hit about
    // 8/64 of the time (chi-square over the 64 positions, p = 1e-6), and signs balance.
    const std::size_t n = 64, h = 8, trials = 20000;
    std::vector<double> hits(n, 0);
    double plus = 0;
    std::vector<std::int8_t> s(n);
    for (std::size_t t = 0; t < trials; ++t) {
        sample_sparse_ternary(p, h, s.data(), n);
        for (std::size_t i = 0; i < n; ++i) {
            hits[i] += s[i] != 0;
            plus += s[i] == 1;
        }
    }
    CHECK(chi_square(hits) < kChi2_63_p1e6);
    const double draws = static_cast<double>(h * trials);
    CHECK(std::fabs(plus - draws / 2) < 5 * std::sqrt(draws / 4));
    CHECK_THROWS_AS(sample_sparse_ternary(p, 17, s.data(), 16), std::invalid_argument);
}

TEST_CASE("sample_gaussian: sigma 3.2, mean, variance, P(0), bounded tails") {
    Prng p(seed_from(8));
    const std::size_t n = 400000;
    const double sigma = kDefaultSigma;
    std::vector<std::int64_t> g(n);
    sample_gaussian(p, sigma, g.data(), n);
    double sum = 0, sq = 0, zeros = 0;
    std::int64_t maxabs = 0;
    for (auto x : g) {
        sum += static_cast<double>(x);
        sq += static_cast<double>(x * x);
        zeros += x == 0;
        maxabs = std::max<std::int64_t>(maxabs, x < 0 ? -x : x);
    }
    const double mean = sum / n, var = sq / n - mean * mean;
    // Mean: 5 standard errors. Variance: the discrete Gaussian of parameter 3.2 has
    // variance 3.2^2 to within 1e-6; sample variance s.e. = sigma^2·sqrt(2/n) ≈ 0.023.
    CHECK(std::fabs(mean) < 5 * sigma / std::sqrt(static_cast<double>(n)));
    CHECK(std::fabs(var - sigma * sigma) < 5 * sigma * sigma * std::sqrt(2.0 / n));
    // P(0) = 1 / Σ_k exp(-k²/(2σ²)) ≈ 0.12467; binomial 5 sd.
    double norm = 0;
    for (int k = -20; k <= 20; ++k) norm += std::exp(-k * k / (2 * sigma * sigma));
    const double p0 = 1 / norm;
    CHECK(std::fabs(zeros / n - p0) < 5 * std::sqrt(p0 * (1 - p0) / n));
    CHECK(maxabs <= 20);  // ceil(6σ)
    CHECK(maxabs >= 12);  // tails are there: P(|x| >= 12) ≈ 2e-4, ~80 expected in n draws
}

}  // TEST_SUITE
