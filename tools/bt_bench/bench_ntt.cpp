// bt_bench ntt: forward/inverse NTT for N = 2^12 … 2^16 with a ~50-bit and a ~60-bit
// prime on every SIMD path this CPU offers, and the element-wise multiply.
#include "bench.hpp"

#include "bt/eltwise.hpp"
#include "bt/ntt.hpp"
#include "bt/primes.hpp"

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
}

}  // namespace

BT_BENCH_GROUP("ntt", "forward/inverse NTT and element-wise multiply, every SIMD path", bench_ntt);
