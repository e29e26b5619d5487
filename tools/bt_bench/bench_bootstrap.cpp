// bt_bench bootstrap: N = 2^16 bootstrapping, slots 2^12 and 2^15: total time and each
// stage's, levels left, precision (mean and max error in bits on values in [-1, 1]), key
// memory and key-generation time. One repetition per case by default (a bootstrap takes
// seconds; --quick is the same), threads from --threads.
//
// Parameters: N16_QP1645_H32_boot, an INSECURE sparse-secret preset (rows carry
// "secure":false) used for measurements until the secure encapsulated preset exists.
#include "bench.hpp"

#include "bt/ckks/bootstrap.hpp"
#include "bt/threadpool.hpp"

#include <chrono>
#include <cmath>
#include <random>

namespace {

using namespace btbench;
using namespace bt::ckks;
using clk = std::chrono::steady_clock;

double secs(clk::time_point a, clk::time_point b) { return std::chrono::duration<double>(b - a).count(); }

void run(const Options& opt, std::size_t slots) {
    const unsigned threads = static_cast<unsigned>(opt.threads < 1 ? 1 : opt.threads);
    bt::ThreadPool::set_global_threads(threads);
    const std::string preset_name = "N16_QP1645_H32_boot";
    auto P = preset(preset_name);
    BootstrapConfig cfg;
    cfg.slots = slots;
    cfg.cts_budget = 3;
    cfg.stc_budget = 3;
    cfg.evalmod.K = 16;  // h = 32: |I| <= 16 always (failure probability 0)
    cfg.evalmod.double_angles = 3;
    cfg.evalmod.degree = 63;
    const auto t0 = clk::now();
    CkksBootstrapper bs(P, cfg);
    const auto t1 = clk::now();
    KeyGenerator kg(P);
    const SecretKey sk = kg.secret_key();
    const PublicKey pk = kg.public_key(sk);
    const RelinKey rk = bs.make_relin_key(kg, sk);
    const GaloisKeys gk = bs.make_galois_keys(kg, sk);
    bs.set_keys(&rk, &gk);
    const auto t2 = clk::now();
    const Encoder enc(P);
    Encryptor e(P, pk);
    const Decryptor dec(P, sk);
    std::mt19937_64 rng(slots);
    std::uniform_real_distribution<double> u(-1, 1);
    std::vector<cplx> z(slots);
    for (auto& v : z) v = cplx(u(rng), slots == P->max_slots() ? u(rng) : 0.0);
    const Ciphertext c = e.encrypt(enc.encode(z, 0, 0, slots));
    // Stages, timed one by one.
    const auto s0 = clk::now();
    const Ciphertext raised = bs.raise(c);
    const auto s1 = clk::now();
    HomomorphicDFT::Split parts = bs.coeffs_to_slots(raised);
    const auto s2 = clk::now();
    parts.real = bs.eval_mod(parts.real);
    if (!parts.imag.parts.empty()) parts.imag = bs.eval_mod(parts.imag);
    const auto s3 = clk::now();
    const Ciphertext r = bs.slots_to_coeffs(parts);
    const auto s4 = clk::now();
    const auto got = enc.decode(dec.decrypt(r));
    double mx = 0, sum = 0;
    for (std::size_t i = 0; i < slots; ++i) {
        const double err = std::abs(got[i] - z[i]);
        mx = std::max(mx, err);
        sum += err;
    }
    Row("bootstrap").set("preset", preset_name).set("secure", "false").set("N", P->N()).set("slots", slots)
        .set("threads", static_cast<int>(threads)).set("ns", 1e9 * secs(s0, s4)).set("reps", 1)
        .set("modraise_s", secs(s0, s1)).set("coeffs_to_slots_s", secs(s1, s2)).set("evalmod_s", secs(s2, s3))
        .set("slots_to_coeffs_s", secs(s3, s4)).set("levels_left", r.level)
        .set("bits_mean", -std::log2(sum / static_cast<double>(slots))).set("bits_max", -std::log2(mx))
        .set("key_bytes", gk.size_bytes() + rk.key.size_bytes()).set("galois_keys", gk.keys.size())
        .set("keygen_s", secs(t1, t2)).set("setup_s", secs(t0, t1)).print(opt);
}

void bench_bootstrap(const Options& opt) {
    run(opt, 4096);
    run(opt, 32768);
}

}  // namespace

BT_BENCH_GROUP("bootstrap", "N = 2^16 bootstrapping (2^12 and 2^15 slots): stages, precision, keys", bench_bootstrap);
