// Tests for src/math/ntt.cpp and the SIMD NTT kernels: every path bit-exact against the
// textbook reference over a grid of N and primes (including lazy outputs reduced
// afterwards), the reference against O(N^2) evaluation, INTT∘NTT = id, and
// INTT(NTT(a) ⊙ NTT(b)) = schoolbook negacyclic product.
#include "doctest/doctest.h"

#include "bt/eltwise.hpp"
#include "bt/ntt.hpp"
#include "bt/primes.hpp"

#include <random>
#include <vector>

using namespace bt;

namespace {

std::vector<u64> random_vec(std::size_t n, u64 bound, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<u64> v(n);
    for (auto& x : v) x = rng() % bound;
    return v;
}

// Schoolbook negacyclic product in Z_q[X]/(X^N + 1): the independent oracle.
std::vector<u64> negacyclic_schoolbook(const std::vector<u64>& a, const std::vector<u64>& b, const Modulus& m) {
    const std::size_t n = a.size();
    std::vector<u64> c(n, 0);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            const u64 p = mul_mod(a[i], b[j], m);
            const std::size_t k = i + j;
            if (k < n)
                c[k] = add_mod(c[k], p, m.value);
            else
                c[k - n] = sub_mod(c[k - n], p, m.value);
        }
    return c;
}

const int kBits[] = {30, 40, 50, 55, 60};

const SimdPath kPaths[] = {SimdPath::Scalar, SimdPath::AVX2, SimdPath::AVX512, SimdPath::AVX512IFMA};

}  // namespace

TEST_SUITE("math") {

TEST_CASE("ntt: reference equals O(N^2) evaluation at odd powers of psi") {
    for (std::size_t n : {16u, 64u, 256u}) {
        for (int bits : kBits) {
            const u64 q = generate_ntt_primes(bits, 1, n)[0];
            const NTTTables t(n, q);
            auto a = random_vec(n, q, 7 + n + static_cast<unsigned>(bits));
            auto b = a;
            ntt_forward_ref(a.data(), t);
            ntt_forward_naive(b.data(), t);
            CHECK(a == b);
        }
    }
}

TEST_CASE("ntt: INTT(NTT(a) * NTT(b)) equals the schoolbook negacyclic product") {
    for (std::size_t n : {16u, 128u, 1024u}) {
        for (int bits : kBits) {
            const u64 q = generate_ntt_primes(bits, 1, n)[0];
            const NTTTables t(n, q);
            const auto a = random_vec(n, q, 11 * n), b = random_vec(n, q, 13 * n + 1);
            const auto expect = negacyclic_schoolbook(a, b, t.modulus());
            for (SimdPath p : kPaths) {
                if (!simd_path_supported(p)) continue;
                CAPTURE(n);
                CAPTURE(bits);
                CAPTURE(simd_path_name(p));
                auto fa = a, fb = b;
                ntt_forward_path(p, fa.data(), t);
                ntt_forward_path(p, fb.data(), t);
                std::vector<u64> fc(n);
                eltwise_path(p, EltOp::Mul, fc.data(), fa.data(), fb.data(), 0, n, t.modulus());
                ntt_inverse_path(p, fc.data(), t);
                CHECK(fc == expect);
            }
        }
    }
}

TEST_CASE("ntt: every path bit-exact against the reference, N = 2^4 .. 2^16, lazy outputs too") {
    for (SimdPath p : kPaths) {
        if (!simd_path_supported(p)) {
            MESSAGE("skipping SIMD path " << simd_path_name(p) << ": this CPU/build lacks it");
            continue;
        }
        for (int logn = 4; logn <= 16; ++logn) {
            const std::size_t n = std::size_t{1} << logn;
            for (int bits : kBits) {
                CAPTURE(simd_path_name(p));
                CAPTURE(logn);
                CAPTURE(bits);
                const u64 q = generate_ntt_primes(bits, 1, n)[0];
                const NTTTables t(n, q);
                const auto a = random_vec(n, q, 1000u * static_cast<unsigned>(logn) + static_cast<unsigned>(bits));
                auto ref = a;
                ntt_forward_ref(ref.data(), t);
                // Reduced output.
                auto x = a;
                ntt_forward_path(p, x.data(), t);
                CHECK(x == ref);
                // Lazy output in [0, 4q), reduced afterwards; lazy input in [0, 4q).
                auto y = a;
                for (std::size_t i = 0; i < n; i += 3) y[i] += (i % 2 ? 2 : 3) * q;  // still ≡ a
                ntt_forward_path(p, y.data(), t, 4, 4);
                bool in_range = true;
                for (u64 v : y) in_range = in_range && v < 4 * q;
                CHECK(in_range);
                reduce_from_lazy(y.data(), n, q, 4);
                CHECK(y == ref);
                // Inverse, reduced and lazy (input in [0, 2q), output in [0, 2q)).
                auto back = ref;
                ntt_inverse_path(p, back.data(), t);
                CHECK(back == a);
                auto lazy = ref;
                for (std::size_t i = 0; i < n; i += 5) lazy[i] += q;
                ntt_inverse_path(p, lazy.data(), t, 2, 2);
                bool in2 = true;
                for (u64 v : lazy) in2 = in2 && v < 2 * q;
                CHECK(in2);
                reduce_from_lazy(lazy.data(), n, q, 2);
                CHECK(lazy == a);
            }
        }
    }
}

TEST_CASE("ntt: reference inverse undoes reference forward, N up to 2^17") {
    for (int logn : {4, 10, 17}) {
        const std::size_t n = std::size_t{1} << logn;
        const u64 q = generate_ntt_primes(50, 1, n)[0];
        const NTTTables t(n, q);
        const auto a = random_vec(n, q, 5);
        auto b = a;
        ntt_forward_ref(b.data(), t);
        ntt_inverse_ref(b.data(), t);
        CHECK(b == a);
        ntt_forward(b.data(), t);
        ntt_inverse(b.data(), t);
        CHECK(b == a);
    }
}

TEST_CASE("ntt: RNS polynomial transform equals per-limb transforms") {
    const std::size_t n = 1024;
    const auto primes = generate_ntt_primes(50, 3, n);
    std::vector<NTTTables> tabs;
    for (u64 q : primes) tabs.emplace_back(n, q);
    const NTTTables* tp[3] = {&tabs[0], &tabs[1], &tabs[2]};
    std::vector<u64> data(3 * n);
    for (std::size_t l = 0; l < 3; ++l) {
        auto v = random_vec(n, primes[l], l + 1);
        std::copy(v.begin(), v.end(), data.begin() + static_cast<long>(l * n));
    }
    auto orig = data;
    ntt_forward_rns(data.data(), tp, 3);
    for (std::size_t l = 0; l < 3; ++l) {
        std::vector<u64> v(orig.begin() + static_cast<long>(l * n), orig.begin() + static_cast<long>((l + 1) * n));
        ntt_forward_ref(v.data(), tabs[l]);
        CHECK(std::equal(v.begin(), v.end(), data.begin() + static_cast<long>(l * n)));
    }
    ntt_inverse_rns(data.data(), tp, 3);
    CHECK(data == orig);
}

TEST_CASE("ntt: bad sizes and lazy factors are refused with a message") {
    const u64 q = generate_ntt_primes(40, 1, 64)[0];
    CHECK_THROWS_WITH_AS(NTTTables(48, q), doctest::Contains("not a power of two"), std::invalid_argument);
    CHECK_THROWS_AS(NTTTables(64, q + 2), std::invalid_argument);
    const NTTTables t(64, q);
    std::vector<u64> a(64, 1);
    CHECK_THROWS_WITH_AS(ntt_forward(a.data(), t, 3, 1), doctest::Contains("lazy factors"), std::invalid_argument);
}


TEST_CASE("ntt: every path at the edges of the contracts (q just below 2^62, 2^61, 2^50; inputs up to 4q-1)") {
    // The largest NTT-friendly q below 2^62 (the Modulus limit; 4q still fits a word),
    // below 2^61 (the SIMD kernels keep values below 8q under it) and below 2^50 (the IFMA
    // limit: 4q fits the 52-bit multiplier), with lazy inputs at the top of their range.
    for (u64 limit : {u64{1} << 62, u64{1} << 61, u64{1} << 50}) {
        const std::size_t nmax = std::size_t{1} << 12;
        u64 q = limit - 2 * nmax + 1;
        while (!is_prime(q)) q -= 2 * nmax;
        for (int logn = 4; logn <= 12; ++logn) {
            const std::size_t n = std::size_t{1} << logn;
            const NTTTables t(n, q);
            auto a = random_vec(n, q, 77u + static_cast<unsigned>(logn));
            for (std::size_t i = 0; i < n; i += 4) a[i] = q - 1;
            auto ref = a;
            ntt_forward_ref(ref.data(), t);
            for (SimdPath p : kPaths) {
                if (!simd_path_supported(p)) continue;
                CAPTURE(simd_path_name(p));
                CAPTURE(logn);
                CAPTURE(q);
                auto x = a;
                for (std::size_t i = 0; i < n; i += 2) x[i] += 3 * q;  // [0, 4q), many at 4q-1
                ntt_forward_path(p, x.data(), t, 4, 1);
                CHECK(x == ref);
                auto y = ref;
                for (std::size_t i = 0; i < n; i += 2) y[i] += q;  // [0, 2q)
                ntt_inverse_path(p, y.data(), t, 2, 1);
                CHECK(y == a);
            }
        }
    }
}

}  // TEST_SUITE
