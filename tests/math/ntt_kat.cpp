// Known-answer tests for the NTT: vectors from tools/gen_ntt_kat.py (Python big
// integers, evaluating the transform from its definition), every SIMD path.
#include "doctest/doctest.h"

#include "../test_util.hpp"
#include "bt/eltwise.hpp"
#include "bt/ntt.hpp"

#include <fstream>
#include <sstream>
#include <vector>

using namespace bt;

namespace {

struct Kat {
    std::size_t n = 0;
    u64 q = 0, psi = 0;
    std::vector<u64> a, b, ntt_a, prod;
};

std::vector<u64> parse_row(const std::string& line, const std::string& tag) {
    std::istringstream is(line);
    std::string t;
    is >> t;
    if (t != tag) throw std::runtime_error("ntt_kat: expected row '" + tag + "', found '" + t + "'");
    std::vector<u64> v;
    u64 x;
    while (is >> x) v.push_back(x);
    return v;
}

std::vector<Kat> load() {
    std::ifstream f(bt_test::data_path("math/golden/ntt_kat.txt"));
    std::vector<Kat> out;
    std::string line;
    while (std::getline(f, line)) {
        if (line.empty() || line[0] == '#') continue;
        Kat k;
        std::istringstream is(line);
        std::string tag;
        is >> tag >> k.n >> k.q >> k.psi;
        std::string la, lb, ln, lp;
        std::getline(f, la);
        std::getline(f, lb);
        std::getline(f, ln);
        std::getline(f, lp);
        k.a = parse_row(la, "a");
        k.b = parse_row(lb, "b");
        k.ntt_a = parse_row(ln, "ntt_a");
        k.prod = parse_row(lp, "prod");
        out.push_back(k);
    }
    return out;
}

}  // namespace

TEST_SUITE("math") {

TEST_CASE("ntt: known answers from an independent big-integer implementation, every path") {
    const auto kats = load();
    REQUIRE(kats.size() == 15);
    for (const Kat& k : kats) {
        const NTTTables t(k.n, k.q);
        CAPTURE(k.n);
        CAPTURE(k.q);
        CHECK(t.psi() == k.psi);
        for (SimdPath p : {SimdPath::Scalar, SimdPath::AVX2, SimdPath::AVX512, SimdPath::AVX512IFMA}) {
            if (!simd_path_supported(p)) continue;
            CAPTURE(simd_path_name(p));
            auto fa = k.a, fb = k.b;
            ntt_forward_path(p, fa.data(), t);
            CHECK(fa == k.ntt_a);
            ntt_forward_path(p, fb.data(), t);
            std::vector<u64> c(k.n);
            eltwise_path(p, EltOp::Mul, c.data(), fa.data(), fb.data(), 0, k.n, t.modulus());
            ntt_inverse_path(p, c.data(), t);
            CHECK(c == k.prod);
        }
    }
}

}  // TEST_SUITE
