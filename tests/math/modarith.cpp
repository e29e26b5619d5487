// Tests for bt/modarith.hpp and src/math/primes.cpp: Barrett and Shoup against 128-bit
// %, range contracts of the lazy variants, inverses and powers, Miller–Rabin on known
// primes, Carmichael numbers and strong pseudoprimes, NTT-prime generation and roots.
#include "doctest/doctest.h"

#include "bt/modarith.hpp"
#include "bt/primes.hpp"

#include <random>

using namespace bt;

TEST_SUITE("math") {

TEST_CASE("modarith: Barrett and Shoup equal 128-bit remainder, lazy ranges hold") {
    std::mt19937_64 rng(1);
    for (int bits : {2, 17, 30, 40, 50, 55, 60, 61, 62}) {
        const u64 q = bits == 62 ? (u64{1} << 62) - 57 : ((u64{1} << (bits - 1)) | rng()) & ((u64{1} << bits) - 1);
        if (q < 2) continue;
        const Modulus m(q);
        CAPTURE(q);
        const u64 edge[] = {0, 1, q - 1, q / 2, q - 2};
        for (int t = 0; t < 2000; ++t) {
            const u64 a = t < 5 ? edge[t] : rng() % q, b = t < 5 ? edge[4 - t] : rng() % q;
            const u64 expect = static_cast<u64>(static_cast<u128>(a) * b % q);
            CHECK(mul_mod(a, b, m) == expect);
            const u64 bs = shoup_precompute(b, q);
            const u64 lazy = mul_shoup_lazy(a, b, bs, q);
            CHECK(lazy < 2 * q);
            CHECK(lazy % q == expect);
            CHECK(mul_shoup(a, b, bs, q) == expect);
            // Shoup accepts any 64-bit left operand.
            const u64 big = rng();
            CHECK(mul_shoup_lazy(big, b, bs, q) % q == static_cast<u64>(static_cast<u128>(big) * b % q));
            CHECK(add_mod(a, b, q) == static_cast<u64>((static_cast<u128>(a) + b) % q));
            CHECK(sub_mod(a, b, q) == static_cast<u64>((static_cast<u128>(a) + q - b) % q));
            CHECK(barrett_reduce_64(big, m) == big % q);
            const u128 x = static_cast<u128>(rng() % q) * (rng() % q) + (rng() % q);
            CHECK(barrett_reduce_128(x, m) == static_cast<u64>(x % q));
        }
    }
    CHECK_THROWS_AS(Modulus(u64{1} << 62), std::invalid_argument);
    CHECK_THROWS_AS(Modulus(1), std::invalid_argument);
}

TEST_CASE("modarith: pow, inverse, signed conversions") {
    const u64 q = generate_ntt_primes(50, 1, 1024)[0];
    const Modulus m(q);
    std::mt19937_64 rng(4);
    for (int t = 0; t < 200; ++t) {
        const u64 a = 1 + rng() % (q - 1);
        CHECK(mul_mod(a, inv_mod(a, q), m) == 1);
        CHECK(pow_mod(a, q - 1, m) == 1);  // Fermat
    }
    CHECK(pow_mod(3, 0, m) == 1);
    CHECK_THROWS_AS(inv_mod(6, 9), std::invalid_argument);
    for (i64 v : {-5, 0, 7}) {
        CHECK(from_signed(v, q) == from_signed_ct(v, q));
        CHECK(to_centered(from_signed(v, q), q) == v);
    }
}

TEST_CASE("primes: Miller-Rabin on primes, Carmichael numbers and strong pseudoprimes") {
    for (u64 p : {2ull, 3ull, 5ull, 65537ull, 2147483647ull, 1000000007ull, 18446744073709551557ull,
                  4611686018427387847ull})
        CHECK(is_prime(p));
    // 561, 41041, 825265 are Carmichael; 3215031751 is a strong pseudoprime to bases
    // 2, 3, 5, 7; 3825123056546413051 to bases 2..23; 318665857834031151167461 > 2^64.
    for (u64 c : {0ull, 1ull, 4ull, 561ull, 41041ull, 825265ull, 3215031751ull, 3825123056546413051ull,
                  18446744073709551615ull, 4611686018427387903ull})
        CHECK_FALSE(is_prime(c));
}

TEST_CASE("primes: NTT primes are prime, 1 mod 2N, distinct, of the asked size; roots primitive") {
    for (std::size_t n : {16u, 4096u, 65536u}) {
        for (int bits : {30, 50, 60}) {
            const auto ps = generate_ntt_primes(bits, 4, n);
            for (std::size_t i = 0; i < ps.size(); ++i) {
                CHECK(is_prime(ps[i]));
                CHECK(ps[i] % (2 * n) == 1);
                CHECK(bit_length(ps[i]) == bits);
                for (std::size_t j = 0; j < i; ++j) CHECK(ps[i] != ps[j]);
            }
            const auto more = generate_ntt_primes(bits, 2, n, ps);
            for (u64 p : more)
                for (u64 e : ps) CHECK(p != e);
            const Modulus m(ps[0]);
            const u64 r = minimal_primitive_root_2n(ps[0], n);
            CHECK(pow_mod(r, n, m) == ps[0] - 1);  // order exactly 2N
            CHECK(pow_mod(r, 2 * n, m) == 1);
        }
    }
    CHECK_THROWS_WITH_AS(generate_ntt_primes(12, 50, 1024), doctest::Contains("exist"), std::invalid_argument);
}

}  // TEST_SUITE
