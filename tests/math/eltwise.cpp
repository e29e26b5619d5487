// Tests for the element-wise kernels (src/math/eltwise*.cpp): every op on every SIMD path
// this CPU offers, bit-exact against eltwise_ref, over lengths that exercise the vector
// tails, moduli from 20 to 62 bits (both sides of the IFMA and double-precision limit
// 2^50), the edge values 0 and q-1, products next to multiples of q, and outputs
// aliasing an input.
#include "doctest/doctest.h"

#include "bt/eltwise.hpp"
#include "bt/primes.hpp"

#include <random>
#include <vector>

using namespace bt;

namespace {

const SimdPath kPaths[] = {SimdPath::Scalar, SimdPath::AVX2, SimdPath::AVX512, SimdPath::AVX512IFMA};
const EltOp kOps[] = {EltOp::Add, EltOp::Sub, EltOp::Neg, EltOp::Mul, EltOp::MulScalar, EltOp::MulAcc};
const std::size_t kLengths[] = {1, 7, 8, 15, 16, 1000, 4096};
const int kBits[] = {30, 40, 49, 50, 55, 60, 61};

const char* op_name(EltOp op) {
    switch (op) {
        case EltOp::Add: return "add";
        case EltOp::Sub: return "sub";
        case EltOp::Neg: return "neg";
        case EltOp::Mul: return "mul";
        case EltOp::MulScalar: return "mul_scalar";
        case EltOp::MulAcc: return "mul_acc";
    }
    return "?";
}

// Random residues with the edge values 0, 1, q-1 mixed in (every fifth element).
std::vector<u64> residues(std::size_t n, u64 q, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<u64> v(n);
    const u64 edges[] = {0, q - 1, 1, q - 1, 0};
    for (std::size_t i = 0; i < n; ++i) v[i] = (rng() % 5 == 0) ? edges[rng() % 5] : rng() % q;
    return v;
}

// Runs `op` on path `p` with r separate, r aliasing a, and r aliasing b; each must equal
// the reference.
void check_op(SimdPath p, EltOp op, std::size_t n, const Modulus& m, std::uint64_t seed) {
    const u64 q = m.value;
    const auto a = residues(n, q, seed), b = residues(n, q, seed + 1), r0 = residues(n, q, seed + 2);
    for (u64 w : {u64{0}, u64{1}, q - 1, residues(1, q, seed + 3)[0] | 1}) {
        if (w >= q) w = q - 1;
        auto expect = r0;
        eltwise_ref(op, expect.data(), a.data(), b.data(), w, n, m);
        auto r = r0;
        eltwise_path(p, op, r.data(), a.data(), b.data(), w, n, m);
        CHECK(r == expect);
        // r aliases a (MulAcc reads r too: r = a + a·b there)
        auto ra = a;
        auto expect_a = a;
        eltwise_ref(op, expect_a.data(), expect_a.data(), b.data(), w, n, m);
        eltwise_path(p, op, ra.data(), ra.data(), b.data(), w, n, m);
        CHECK(ra == expect_a);
        // r aliases b
        auto rb = b;
        auto expect_b = b;
        eltwise_ref(op, expect_b.data(), a.data(), expect_b.data(), w, n, m);
        eltwise_path(p, op, rb.data(), a.data(), rb.data(), w, n, m);
        CHECK(rb == expect_b);
        if (op != EltOp::MulScalar) break;  // w matters only there
    }
}

}  // namespace

TEST_SUITE("math") {

TEST_CASE("eltwise: every op on every path equals the reference, tails, edges and aliasing") {
    for (SimdPath p : kPaths) {
        if (!simd_path_supported(p)) {
            MESSAGE("skipping SIMD path " << simd_path_name(p) << ": this CPU/build lacks it");
            continue;
        }
        for (int bits : kBits) {
            const Modulus m(generate_ntt_primes(bits, 1, 16)[0]);
            for (EltOp op : kOps) {
                for (std::size_t n : kLengths) {
                    CAPTURE(simd_path_name(p));
                    CAPTURE(bits);
                    CAPTURE(op_name(op));
                    CAPTURE(n);
                    check_op(p, op, n, m, 100u * static_cast<unsigned>(bits) + n);
                }
            }
        }
    }
}

TEST_CASE("eltwise: products of extreme values, q just below 2^50 and 2^62") {
    // The largest residues stress the Barrett quotient estimate and the IFMA 52-bit limbs.
    for (int bits : {50, 61, 62}) {
        u64 q = (u64{1} << 62) - 1;  // the largest prime below 2^62, the Modulus limit
        while (!is_prime(q)) q -= 2;
        if (bits < 62) q = generate_ntt_primes(bits, 1, 16)[0];
        const Modulus m(q);
        const std::size_t n = 24;
        std::vector<u64> a(n), b(n), r0(n);
        for (std::size_t i = 0; i < n; ++i) {
            a[i] = q - 1 - (i % 3);
            b[i] = (i % 2) ? q - 1 : q - 2 - i;
            r0[i] = q - 1 - i;
        }
        for (SimdPath p : kPaths) {
            if (!simd_path_supported(p)) continue;
            for (EltOp op : kOps) {
                CAPTURE(simd_path_name(p));
                CAPTURE(bits);
                CAPTURE(op_name(op));
                auto expect = r0, r = r0;
                eltwise_ref(op, expect.data(), a.data(), b.data(), q - 1, n, m);
                eltwise_path(p, op, r.data(), a.data(), b.data(), q - 1, n, m);
                CHECK(r == expect);
            }
        }
    }
}

TEST_CASE("eltwise: products on every path, 2^17 random pairs per modulus") {
    // A larger sample for the quotient estimates (Barrett, double-precision): products
    // near multiples of q are where an estimate one off would show.
    for (int bits : {20, 36, 49, 50, 52, 61}) {
        const Modulus m(generate_ntt_primes(bits, 1, 16)[0]);
        const std::size_t n = std::size_t{1} << 17;
        const auto a = residues(n, m.value, 7u * static_cast<unsigned>(bits));
        auto b = residues(n, m.value, 7u * static_cast<unsigned>(bits) + 1);
        // Every other pair: b = ±a^{-1}, so that a·b = kq ± 1 sits right next to a multiple of q.
        for (std::size_t i = 0; i < n; i += 2)
            if (a[i] != 0) b[i] = mul_mod(inv_mod(a[i], m.value), (i % 4 == 0) ? 1 : m.value - 1, m);
        std::vector<u64> expect(n), r(n);
        for (EltOp op : {EltOp::Mul, EltOp::MulAcc, EltOp::MulScalar}) {
            const u64 w = a[12345] | 1;
            std::fill(expect.begin(), expect.end(), m.value / 3);
            eltwise_ref(op, expect.data(), a.data(), b.data(), w, n, m);
            for (SimdPath p : kPaths) {
                if (!simd_path_supported(p)) continue;
                CAPTURE(simd_path_name(p));
                CAPTURE(bits);
                CAPTURE(op_name(op));
                std::fill(r.begin(), r.end(), m.value / 3);
                eltwise_path(p, op, r.data(), a.data(), b.data(), w, n, m);
                CHECK(r == expect);
            }
        }
    }
}

TEST_CASE("eltwise: the dispatched functions agree with the reference") {
    const Modulus m(generate_ntt_primes(45, 1, 16)[0]);
    const std::size_t n = 37;
    const auto a = residues(n, m.value, 1), b = residues(n, m.value, 2);
    std::vector<u64> r(n), e(n);
    eltwise_add_mod(r.data(), a.data(), b.data(), n, m);
    eltwise_ref(EltOp::Add, e.data(), a.data(), b.data(), 0, n, m);
    CHECK(r == e);
    eltwise_sub_mod(r.data(), a.data(), b.data(), n, m);
    eltwise_ref(EltOp::Sub, e.data(), a.data(), b.data(), 0, n, m);
    CHECK(r == e);
    eltwise_neg_mod(r.data(), a.data(), n, m);
    eltwise_ref(EltOp::Neg, e.data(), a.data(), nullptr, 0, n, m);
    CHECK(r == e);
    eltwise_mul_mod(r.data(), a.data(), b.data(), n, m);
    eltwise_ref(EltOp::Mul, e.data(), a.data(), b.data(), 0, n, m);
    CHECK(r == e);
    eltwise_mul_scalar_mod(r.data(), a.data(), 12345, n, m);
    eltwise_ref(EltOp::MulScalar, e.data(), a.data(), nullptr, 12345, n, m);
    CHECK(r == e);
    e = r;
    eltwise_mul_acc_mod(r.data(), a.data(), b.data(), n, m);
    eltwise_ref(EltOp::MulAcc, e.data(), a.data(), b.data(), 0, n, m);
    CHECK(r == e);
}

TEST_CASE("eltwise: signed magnitudes below 2^62 reduced on every path equal the reference") {
    // mag < 2^62 with every sign byte value class (0, 1, 255), the edges 0, q-1, q, q+1,
    // k·q, k·q - 1, 2^62 - 1 and 4e18 (the compact transforms' cut-off), random values of
    // every size; moduli of 30 bits (the AVX-512 kernel's fallback: it needs q > 2^32) up
    // to 61; lengths that leave vector tails; r aliasing mag.
    std::mt19937_64 rng(77);
    std::size_t paths = 0;
    for (int bits : {30, 33, 40, 49, 50, 55, 60, 61}) {
        const Modulus m(generate_ntt_primes(bits, 1, 16)[0]);
        const u64 q = m.value;
        for (std::size_t n : {std::size_t{1}, std::size_t{7}, std::size_t{8}, std::size_t{13}, std::size_t{4099}}) {
            std::vector<u64> mag(n);
            std::vector<unsigned char> neg(n);
            const u64 edges[] = {0, q - 1, q, q + 1, q * ((u64{1} << 62) / q), q * ((u64{1} << 62) / q) - 1,
                                 (u64{1} << 62) - 1, 4000000000000000000ull};
            for (std::size_t i = 0; i < n; ++i) {
                mag[i] = rng() % 3 == 0 ? edges[rng() % 8] : (rng() >> 2) >> (rng() % 60);
                const unsigned char signs[] = {0, 1, 255};
                neg[i] = signs[rng() % 3];
            }
            std::vector<u64> expect(n);
            eltwise_reduce_signed_ref(expect.data(), mag.data(), neg.data(), n, m);
            for (SimdPath p : kPaths) {
                if (!simd_path_supported(p)) continue;
                ++paths;
                std::vector<u64> r(n);
                eltwise_reduce_signed_path(p, r.data(), mag.data(), neg.data(), n, m);
                CHECK_MESSAGE(r == expect, simd_path_name(p) << ", " << bits << "-bit q, n = " << n);
                std::vector<u64> alias = mag;
                eltwise_reduce_signed_path(p, alias.data(), alias.data(), neg.data(), n, m);
                CHECK(alias == expect);
            }
            std::vector<u64> r(n);
            eltwise_reduce_signed(r.data(), mag.data(), neg.data(), n, m);
            CHECK(r == expect);
        }
    }
    CHECK(paths >= 8 * 5);  // the scalar path at least
}

}  // TEST_SUITE
