// bt_bench ckks: encode, encrypt, add, multiply+relinearize+rescale, rotate, hoisted
// rotations (8 steps) at the top level and a low level, for the N = 2^16 SEAL-comparison
// preset ("preset":"seal_compare" rows), the N = 2^16 training preset and an N = 2^15 preset; key and ciphertext sizes;
// 1 and 2 threads (or --threads N alone).
#include "bench.hpp"

#include "bt/ckks/encryptor.hpp"
#include "bt/ckks/evaluator.hpp"
#include "bt/threadpool.hpp"

#include <cmath>
#include <random>

namespace {

using namespace btbench;
using namespace bt::ckks;

void run_preset(const Options& opt, const std::string& name, const std::string& label, unsigned threads) {
    bt::ThreadPool::set_global_threads(threads);
    auto P = preset(name);
    KeyGenerator kg(P);
    SecretKey sk = kg.secret_key();
    PublicKey pk = kg.public_key(sk);
    RelinKey rk = kg.relin_key(sk);
    const std::vector<long> steps{1, 2, 3, 4, 5, 6, 7, 8};
    GaloisKeys gk = kg.galois_keys(sk, kg.galois_elements_for_steps(steps));
    Encoder enc(P);
    Encryptor encryptor(P, pk);
    Evaluator ev(P, &rk, &gk);
    const std::size_t n = P->max_slots();
    std::mt19937_64 rng(1);
    std::uniform_real_distribution<double> u(-1, 1);
    std::vector<double> x(n);
    for (auto& v : x) v = u(rng);
    Decryptor dec(P, sk);
    // -log2 of the mean and max absolute error of a result against the expected slots.
    auto bits = [&](const Ciphertext& c, const std::vector<double>& want) {
        const auto z = enc.decode(dec.decrypt(c));
        double mx = 0, sum = 0;
        for (std::size_t i = 0; i < want.size(); ++i) {
            const double e = std::abs(z[i] - cplx(want[i], 0));
            mx = std::max(mx, e);
            sum += e;
        }
        return std::make_pair(-std::log2(sum / static_cast<double>(want.size())), -std::log2(mx));
    };
    auto row = [&](const char* bench, std::size_t level, const Timing& t, std::pair<double, double> b = {0, 0}) {
        Row r(bench);
        r.set("preset", label).set("N", P->N()).set("level", level).set("slots", n)
            .set("threads", static_cast<int>(threads)).set("ns", t.median_ns).set("reps", t.reps);
        if (b.second != 0) r.set("bits_mean", b.first).set("bits_max", b.second);
        r.print(opt);
    };
    if (threads == 1 || opt.threads == static_cast<int>(threads)) {
        Row("key_sizes").set("preset", label).set("N", P->N())
            .set("relin_bytes", rk.key.size_bytes()).set("relin_bytes_seeded", rk.key.size_bytes() / 2)
            .set("galois_bytes_per_key", gk.size_bytes() / gk.keys.size())
            .set("ct_bytes_top", 2 * (P->max_level() + 1) * P->N() * 8).print(opt);
    }
    for (std::size_t level : {P->max_level(), std::size_t{2}}) {
        Plaintext pt;
        row("encode", level, measure(opt, [&] { pt = enc.encode(x, level); }));
        Ciphertext a, b, m, r;
        const Timing te = measure(opt, [&] { a = encryptor.encrypt(pt); });
        row("encrypt", level, te, bits(a, x));
        b = encryptor.encrypt(pt);
        row("add", level, measure(opt, [&] { ev.add(a, b); }));
        const Timing tm = measure(opt, [&] { m = ev.multiply_relin_rescale(a, b); });
        std::vector<double> sq(n), rot(n);
        for (std::size_t i = 0; i < n; ++i) {
            sq[i] = x[i] * x[i];
            rot[i] = x[(i + 1) % n];
        }
        row("mul_relin_rescale", level, tm, bits(m, sq));
        const Timing tr = measure(opt, [&] { r = ev.rotate(a, 1); });
        row("rotate", level, tr, bits(r, rot));
        row("rotate_hoisted", level, measure(opt, [&] { ev.rotate_hoisted(a, steps); }));
    }
}

void bench_ckks(const Options& opt) {
    std::vector<unsigned> threads = opt.threads > 1 ? std::vector<unsigned>{static_cast<unsigned>(opt.threads)}
                                                    : std::vector<unsigned>{1, 2};
    for (unsigned t : threads) {
        run_preset(opt, "N16_QP1530_T_seal", "seal_compare", t);
        run_preset(opt, "N16_QP1533_T", "N16_QP1533_T", t);
        run_preset(opt, "N15_QP719_T", "N15_QP719_T", t);
    }
}

}  // namespace

BT_BENCH_GROUP("ckks", "CKKS operations at N = 2^16 (SEAL comparison) and N = 2^15, 1 and 2 threads", bench_ckks);
