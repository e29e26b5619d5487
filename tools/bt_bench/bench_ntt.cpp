// bt_bench ntt: forward/inverse NTT for N = 2^12 … 2^16 with a ~50-bit and a ~60-bit
// prime on every SIMD path this CPU offers, the element-wise multiply, a public uniform
// limb from its seed (every path), and one target limb of a base conversion from seven
// 60-bit sources (the path in force: BT_SIMD picks another), all at N = 2^16.
#include "bench.hpp"

#include "bt/eltwise.hpp"
#include "bt/ntt.hpp"
#include "bt/primes.hpp"
#include "bt/random.hpp"
#include "bt/rns.hpp"

#include <random>

namespace {

using namespace btbench;
using bt::SimdPath;
using bt::u64;

void bench_ntt(const Options& opt) {
    const SimdPath paths[] = {SimdPath::Scalar, SimdPath::AVX2, SimdPath::AVX512, SimdPath::AVX512IFMA};
    for (int logn = 12; logn <= 16; ++logn) {
        const std::size_t n = std::size_t{1} << logn;
        for (int bits : {50, 60}) {
            const u64 q = bt::generate_ntt_primes(bits, 1, n)[0];
            const bt::NTTTables t(n, q);
            std::mt19937_64 rng(1);
            std::vector<u64> a(n), b(n);
            for (auto& x : a) x = rng() % q;
            for (auto& x : b) x = rng() % q;
            for (SimdPath p : paths) {
                if (!bt::simd_path_supported(p)) continue;
                // IFMA applies below 2^50 only; for wider primes that path is the avx512 one.
                if (p == SimdPath::AVX512IFMA && !t.ifma_capable()) continue;
                Timing f = measure(opt, [&] { bt::ntt_forward_path(p, a.data(), t); });
                Row("ntt_fwd").set("N", n).set("logq", bits).set("path", bt::simd_path_name(p))
                    .set("threads", 1).set("ns", f.median_ns).set("reps", f.reps).print(opt);
                Timing iv = measure(opt, [&] { bt::ntt_inverse_path(p, a.data(), t); });
                Row("ntt_inv").set("N", n).set("logq", bits).set("path", bt::simd_path_name(p))
                    .set("threads", 1).set("ns", iv.median_ns).set("reps", iv.reps).print(opt);
                if (logn == 16) {
                    std::vector<u64> r(n);
                    Timing m = measure(opt, [&] {
                        bt::eltwise_path(p, bt::EltOp::Mul, r.data(), a.data(), b.data(), 0, n, t.modulus());
                    });
                    Row("eltwise_mul").set("N", n).set("logq", bits).set("path", bt::simd_path_name(p))
                        .set("threads", 1).set("ns", m.median_ns).set("reps", m.reps).print(opt);
                }
            }
        }
    }
    const std::size_t n = std::size_t{1} << 16;
    bt::Seed seed{};
    for (std::size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<std::uint8_t>(i);
    std::vector<u64> out(n);
    for (int bits : {40, 61}) {
        const u64 q = bt::generate_ntt_primes(bits, 1, n)[0];
        for (SimdPath p : paths) {
            if (!bt::simd_path_supported(p)) continue;
            Timing u = measure(opt, [&] { bt::sample_uniform_public_path(seed, 7, q, out.data(), n, p); });
            Row("uniform_public").set("N", n).set("logq", bits).set("path", bt::simd_path_name(p))
                .set("threads", 1).set("ns", u.median_ns).set("reps", u.reps).print(opt);
        }
    }
    // Key switching's ModUp converts a digit of up to seven primes into every other limb;
    // in bootstrapping most of them are 60- and 61-bit primes.
    const auto sources = bt::generate_ntt_primes(60, 7, n);
    const std::vector<u64> targets = {bt::generate_ntt_primes(40, 1, n)[0], bt::generate_ntt_primes(60, 8, n)[7],
                                      bt::generate_ntt_primes(61, 1, n)[0]};
    const bt::BaseConverter conv{bt::RNSBasis(sources), bt::RNSBasis(targets)};
    std::mt19937_64 rng(2);
    std::vector<u64> y(sources.size() * n);
    for (std::size_t i = 0; i < sources.size(); ++i)
        for (std::size_t k = 0; k < n; ++k) y[i * n + k] = rng() % sources[i];
    for (std::size_t j = 0; j < targets.size(); ++j) {
        Timing c = measure(opt, [&] { conv.convert_target(y.data(), n, j, out.data(), n); });
        Row("base_conv_target").set("N", n).set("sources", sources.size()).set("logq", j == 0 ? 40 : j == 1 ? 60 : 61)
            .set("path", bt::simd_path_name(bt::simd_path())).set("threads", 1).set("ns", c.median_ns)
            .set("reps", c.reps).print(opt);
    }
}

}  // namespace

BT_BENCH_GROUP("ntt", "forward/inverse NTT and element-wise multiply, every SIMD path; public uniform limb; base conversion target limb", bench_ntt);
