// bt_bench bootstrap: N = 2^16 bootstrapping with the secure training preset
// N16_QP1735_T_enc (uniform ternary secret, sparse-secret encapsulation h = 32) and
// two configurations (speed, memory: see run_config), for 2^15, 2^12 and 2^10 slots (--slots to choose):
// total time and each stage's, levels left, precision (mean and max error in bits on
// values in [-1, 1]), key memory, key-generation time and the process's peak memory.
//
// Threads: 1 and 2 by default (--threads N: 1 and N), interleaved in one process (rep 1
// at 1 thread, rep 1 at 2 threads, rep 2 …) so that a noisy neighbour hits both alike, on
// one pool whose extra threads are parked for the 1-thread runs (ThreadPool::set_active);
// medians over --reps runs (default 3, --quick 1). Keys are generated once per slot count
// (with the largest thread count) and shared by the runs. The 2-thread row carries
// "speedup" = median(1 thread) / median(2 threads); "speedup_runs" per rep, and
// "host_scaling"/"host_runs" what a pure compute kernel got from two threads just before
// each rep (bench.hpp: host_two_core_scaling), to tell a crowded host from poor scaling.
// sys_s and minor_faults: kernel time and page faults during a run (0 once warm).
#include "bench.hpp"

#include "bt/os.hpp"

#include "bt/ckks/bootstrap.hpp"
#include "bt/threadpool.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>

#include <sys/resource.h>

namespace {

using namespace btbench;
using namespace bt::ckks;
using clk = std::chrono::steady_clock;

double secs(clk::time_point a, clk::time_point b) { return std::chrono::duration<double>(b - a).count(); }

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Kernel and user CPU seconds and minor page faults of the process (getrusage).
struct Usage {
    double sys = 0, faults = 0, user = 0;
    Usage operator-(const Usage& o) const { return {sys - o.sys, faults - o.faults, user - o.user}; }
};

// One bootstrap: times, precision, and the process's usage during it.
struct Sample : Usage {
    double total = 0, raise = 0, cts = 0, evalmod = 0, stc = 0, bits_mean = 0, bits_max = 0;
    std::size_t level = 0;
};

Usage usage() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return {static_cast<double>(u.ru_stime.tv_sec) + 1e-6 * static_cast<double>(u.ru_stime.tv_usec),
            static_cast<double>(u.ru_minflt),
            static_cast<double>(u.ru_utime.tv_sec) + 1e-6 * static_cast<double>(u.ru_utime.tv_usec)};
}

Sample run_once(const CkksBootstrapper& bs, const Encoder& enc, Encryptor& e, const Decryptor& dec,
                std::size_t slots, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(-1, 1);
    std::vector<cplx> z(slots);
    for (auto& v : z) v = cplx(u(rng), u(rng));
    const Ciphertext c = e.encrypt(enc.encode(z, 0, 0, slots));
    Sample s;
    const Usage u0 = usage();
    const auto s0 = clk::now();
    const Ciphertext raised = bs.raise(c);
    const auto s1 = clk::now();
    HomomorphicDFT::Split parts = bs.coeffs_to_slots(raised);
    const auto s2 = clk::now();
    bs.eval_mod(parts);
    const auto s3 = clk::now();
    const Ciphertext r = bs.slots_to_coeffs(parts);
    const auto s4 = clk::now();
    static_cast<Usage&>(s) = usage() - u0;
    const auto got = enc.decode(dec.decrypt(r));
    double mx = 0, sum = 0;
    for (std::size_t i = 0; i < slots; ++i) {
        const double err = std::abs(got[i] - z[i]);
        mx = std::max(mx, err);
        sum += err;
    }
    s.total = secs(s0, s4);
    s.raise = secs(s0, s1);
    s.cts = secs(s1, s2);
    s.evalmod = secs(s2, s3);
    s.stc = secs(s3, s4);
    s.bits_mean = -std::log2(sum / static_cast<double>(slots));
    s.bits_max = -std::log2(mx);
    s.level = r.level;
    return s;
}

// The configurations measured, each with its own keys (made, used, released in turn):
//   speed   one DFT key per giant step, precomputed transforms, every key expanded
//           (bt_train --prefer speed when the memory allows);
//   memory  recommended_bootstrap_config: Horner DFT keys, compact transforms at 2^15 slots,
//           measured with the keys expanded, then seeded (bt_train's default: the rotation
//           and encapsulation keys' a_j regenerated at use); the same results bit for bit.
void run_config(const Options& opt, std::size_t slots, bool speed) {
    const std::string preset_name = "N16_QP1735_T_enc";
    const std::vector<int> threads = opt.threads_given ? std::vector<int>{1, std::max(1, opt.threads)}
                                                       : std::vector<int>{1, 2};
    const int top_threads = *std::max_element(threads.begin(), threads.end());
    const int reps = opt.reps > 0 ? opt.reps : (opt.quick ? 1 : 3);
    bt::ThreadPool::set_global_threads(static_cast<unsigned>(top_threads));
    auto P = preset(preset_name);
    const BootstrapConfig cfg = speed ? speed_bootstrap_config(slots) : recommended_bootstrap_config(slots);
    const auto t0 = clk::now();
    CkksBootstrapper bs(P, cfg);
    const auto t1 = clk::now();
    KeyGenerator kg(P);
    const SecretKey sk = kg.secret_key();
    const PublicKey pk = kg.public_key(sk);
    const RelinKey rk = bs.make_relin_key(kg, sk);
    GaloisKeys gk = bs.make_galois_keys(kg, sk);
    EncapsulationKeys ek = bs.make_encapsulation_keys(kg, sk);
    bs.set_keys(&rk, &gk, &ek);
    const auto t2 = clk::now();
    const Encoder enc(P);
    Encryptor e(P, pk);
    const Decryptor dec(P, sk);
    const std::vector<const char*> forms = speed ? std::vector<const char*>{"expanded"}
                                                 : std::vector<const char*>{"expanded", "seeded"};
    for (const char* form : forms) {
    if (std::string(form) == "seeded") {
        for (auto& kv : gk.keys) drop_uniform_halves(kv.second);
        drop_uniform_halves(ek.to_sparse);
        drop_uniform_halves(ek.to_dense);
    }
    run_once(bs, enc, e, dec, slots, 1);  // warm-up (key-switch tables, page faults)
    std::vector<std::vector<Sample>> samples(threads.size());
    std::vector<double> host;  // the host's two-core scaling, measured before each rep
    for (int r = 0; r < reps; ++r) {
        if (top_threads > 1) host.push_back(host_two_core_scaling());
        for (std::size_t t = 0; t < threads.size(); ++t) {
            // One pool of top_threads, the others parked (their scratch stays warm, as in
            // bt_train's long runs; a resized pool's new threads fault theirs in).
            bt::ThreadPool::global().set_active(static_cast<unsigned>(threads[t]));
            samples[t].push_back(run_once(bs, enc, e, dec, slots, 100 + static_cast<std::uint64_t>(r)));
        }
    }
    double base = 0;
    for (std::size_t t = 0; t < threads.size(); ++t) {
        auto med = [&](double Sample::*f) {
            std::vector<double> v;
            for (const Sample& s : samples[t]) v.push_back(s.*f);
            return median(v);
        };
        const double total = med(&Sample::total);
        if (t == 0) base = total;
        std::string all;
        for (const Sample& s : samples[t]) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%s%.2f", all.empty() ? "" : " ", s.total);
            all += buf;
        }
        Row row("bootstrap");
        row.set("config", speed ? "speed" : "memory").set("keys", form).set("preset", preset_name)
            .set("secure", P->secure() ? "true" : "false").set("N", P->N())
            .set("logq", P->log_qp()).set("slots", slots).set("threads", threads[t]).set("ns", 1e9 * total)
            .set("reps", static_cast<int>(samples[t].size())).set("runs_s", all)
            .set("best_s", std::min_element(samples[t].begin(), samples[t].end(),
                                            [](const Sample& a, const Sample& b) { return a.total < b.total; })->total)
            .set("modraise_s", med(&Sample::raise)).set("coeffs_to_slots_s", med(&Sample::cts))
            .set("evalmod_s", med(&Sample::evalmod)).set("slots_to_coeffs_s", med(&Sample::stc))
            .set("levels_left", samples[t][0].level).set("bits_mean", med(&Sample::bits_mean))
            .set("bits_max", med(&Sample::bits_max)).set("sys_s", med(&Sample::sys)).set("user_s", med(&Sample::user))
            .set("minor_faults", med(&Sample::faults));
        if (t > 0) {
            // per rep: the 1-thread run over this one, and what the host gave just before
            // (not measured for --threads 1, whose second row is 1 thread again)
            std::string per, hs;
            for (std::size_t r = 0; r < samples[t].size(); ++r) {
                char buf[64];
                std::snprintf(buf, sizeof buf, "%s%.2f", per.empty() ? "" : " ", samples[0][r].total / samples[t][r].total);
                per += buf;
                if (r < host.size()) {
                    std::snprintf(buf, sizeof buf, "%s%.2f", hs.empty() ? "" : " ", host[r]);
                    hs += buf;
                }
            }
            row.set("speedup", base / total).set("speedup_runs", per);
            if (!host.empty()) row.set("host_scaling", median(host)).set("host_runs", hs);
        }
        row.set("key_bytes", gk.size_bytes() + rk.key.size_bytes() + ek.size_bytes())
            .set("galois_keys", gk.keys.size()).set("transform_bytes", bs.memory_bytes())
            .set("keygen_s", secs(t1, t2)).set("keygen_threads", top_threads)
            .set("setup_s", secs(t0, t1)).set("peak_rss_bytes", bt::peak_rss_bytes());
        row.print(opt);
    }
    }
}

void run(const Options& opt, std::size_t slots) {
    // memory first, so that its rows' peak RSS (the process's, which only grows) is its own at
    // the first slot count; later rows report the largest so far
    for (bool speed : {false, true}) {
        const char* name = speed ? "speed" : "memory";
        if (!opt.configs.empty() && std::find(opt.configs.begin(), opt.configs.end(), name) == opt.configs.end()) continue;
        run_config(opt, slots, speed);
        bt::release_free_memory();
    }
}

void bench_bootstrap(const Options& opt) {
    const std::vector<std::size_t> slots = opt.slots.empty() ? std::vector<std::size_t>{32768, 4096, 1024} : opt.slots;
    for (std::size_t s : slots) run(opt, s);
}

}  // namespace

BT_BENCH_GROUP("bootstrap",
               "N = 2^16 bootstrapping, secure preset N16_QP1735_T_enc (2^15, 2^12, 2^10 slots; 1 and 2 threads): "
               "stages, precision, keys",
               bench_bootstrap);
