// bt_bench train-step: seconds per encrypted training step (forward, polynomial softmax
// with its bootstrap, gradient, Nesterov update with the weights' bootstrap) on the
// secure N16_QP1735_T_enc preset with real bootstrapping, at the shipped model's shape
// (d = 120, c = 5, B = 512) and HETAL's MNIST shape (B = 1024, d = 768, c = 10; synthetic
// features). Rows carry the counts of multiplications, rotations and bootstraps per step
// and the time per stage. One step per repetition (--reps N, default 2: the first step of
// a fresh engine and one more). HETAL's shape is slow (thousands of rotations per step):
// it runs only when named: `bt_bench train-step --slots 1024` selects B = 1024 (HETAL).
#include "bench.hpp"
#include "bt/app/job.hpp"

#include "bt/ckks/encryptor.hpp"
#include "bt/os.hpp"
#include "bt/threadpool.hpp"
#include "bt/train/encrypted.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <thread>
#include <unistd.h>
#include <chrono>
#include <cstdio>
#include <random>

namespace {

using namespace btbench;
using namespace bt::train;
namespace ck = bt::ckks;
using clk = std::chrono::steady_clock;

struct Shape {
    const char* name;
    std::size_t B, d;
    int c;
};

// Resident memory now (/proc/self/statm), and its maximum sampled every 20 ms while a
// configuration runs: each configuration of one process gets its own peak (the kernel's
// VmHWM only grows).
std::size_t rss_now() {
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long long size = 0, resident = 0;
    const int got = std::fscanf(f, "%llu %llu", &size, &resident);
    std::fclose(f);
    return got == 2 ? static_cast<std::size_t>(resident) * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)) : 0;
}

class RssSampler {
public:
    RssSampler() : th_([this] {
        while (!stop_.load()) {
            peak_.store(std::max(peak_.load(), rss_now()));
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }) {}
    ~RssSampler() {
        stop_.store(true);
        th_.join();
    }
    std::size_t peak() const { return std::max(peak_.load(), rss_now()); }

private:
    std::atomic<bool> stop_{false};
    std::atomic<std::size_t> peak_{0};
    std::thread th_;
};

// The configurations of bt_train (training keys limited to the level each rotation is used at
// in all):
//   memory    its default (--prefer memory): keys seeded (those used a few times per bootstrap
//             or step hold only b_j; Plan::hot_key), compact bootstrapping transforms, Horner
//             DFT keys;
//   expanded  the same with every key expanded (--expanded-keys);
//   speed     --prefer speed with room for everything: keys expanded, transforms
//             precomputed, one DFT key per giant step, the weights bootstrapped by their own
//             sparse bootstrapper (c'·s1 slots, compact transforms, its keys beyond the first's);
//   speed_seeded  its second choice: the same with the keys seeded (HETAL's shape: the
//             first needs about 21 GiB).
enum class Config { Memory, Expanded, Speed, SpeedSeeded };
const char* config_name(Config c) {
    return c == Config::Memory ? "memory" : c == Config::Expanded ? "expanded" : c == Config::Speed ? "speed" : "speed_seeded";
}

void run_shape(const Options& opt, const Shape& s, Config config, const char* bench_name) {
    if (!opt.configs.empty() && std::find(opt.configs.begin(), opt.configs.end(), config_name(config)) == opt.configs.end())
        return;
    const bool seeded = config == Config::Memory || config == Config::SpeedSeeded,
               speed = config == Config::Speed || config == Config::SpeedSeeded;
    bt::release_free_memory();
    RssSampler sampler;
    const auto P = ck::preset("N16_QP1735_T_enc");
    const EncShape sh = EncShape::make(P->max_slots(), s.d, s.c, s.B);
    const SoftmaxPolys sp = SoftmaxPolys::build(SoftmaxConfig{}, s.c, sh.cpad);
    ck::CkksBootstrapper bf(P, speed ? ck::speed_bootstrap_config(0) : ck::recommended_bootstrap_config(0));
    // One full-slot bootstrapper for the softmax and the (tiled) weights, as bt_train.
    const LevelPlan plan = LevelPlan::make(sp, bf.output_level());
    // --prefer speed: the weights' own sparse bootstrapper (as bt_train's make_weights_bootstrapper).
    std::unique_ptr<ck::CkksBootstrapper> bw;
    if (speed && sh.tile_slots() < P->max_slots()) {
        ck::BootstrapConfig wc = ck::speed_bootstrap_config(sh.tile_slots());
        wc.compact_cts = wc.compact_stc = true;
        bw = std::make_unique<ck::CkksBootstrapper>(P, wc);
    }
    // Synthetic standardised features and labels.
    std::mt19937_64 rng(5);
    std::normal_distribution<double> g(0, 0.5);
    Features f;
    f.rows = s.B;
    f.cols = s.d + 1;
    f.classes = s.c;
    for (std::size_t i = 0; i < s.B; ++i) {
        f.label.push_back(static_cast<int>(i % static_cast<std::size_t>(s.c)));
        for (std::size_t j = 0; j < s.d; ++j) f.x.push_back(g(rng));
        f.x.push_back(1.0);
    }
    std::vector<std::size_t> rows(s.B);
    for (std::size_t i = 0; i < s.B; ++i) rows[i] = i;
    // Counts and rotation keys from a twin dry run (the same one bt_train uses).
    std::vector<long> steps;
    const OpCounts per_step = dry_run_step(sh, sp, steps);
    const auto k0 = clk::now();
    ck::KeyGenerator kg(P);
    const ck::SecretKey sk = kg.secret_key();
    const ck::RelinKey rk = bf.make_relin_key(kg, sk);
    ck::GaloisKeys gkf = bf.make_galois_keys(kg, sk, {}, seeded);
    if (bw) {
        ck::GaloisKeys extra = bw->make_galois_keys(kg, sk, {}, seeded, false, &gkf);
        for (auto& kv : extra.keys) gkf.keys[kv.first] = std::move(kv.second);
    }
    ck::EncapsulationKeys ek = bf.make_encapsulation_keys(kg, sk);
    if (seeded) {
        ck::drop_uniform_halves(ek.to_sparse);
        ck::drop_uniform_halves(ek.to_dense);
    }
    bf.set_keys(&rk, &gkf, &ek);
    if (bw) bw->set_keys(&rk, &gkf, &ek);
    ck::GaloisKeys gk;
    gk.fingerprint = P->fingerprint();
    std::map<long, std::size_t> uses;
    const std::map<long, std::size_t> levels = rotation_levels(sh, sp, plan, &uses);
    for (long st : steps) {
        const auto it = levels.find(st);
        const auto u = uses.find(st);
        const bool hot = u != uses.end() && u->second >= bt::app::Plan::kHotKeyUses;  // as bt_train: held expanded
        ck::GaloisKeys one = kg.galois_keys(sk, galois_elements(kg, {st}),
                                            it == levels.end() ? plan.L : it->second, {}, seeded && !hot);
        for (auto& kv : one.keys) gk.keys.emplace(kv.first, std::move(kv.second));
    }
    const double keygen_s = std::chrono::duration<double>(clk::now() - k0).count();
    std::size_t key_bytes = rk.key.size_bytes() + ek.size_bytes();
    for (const ck::GaloisKeys* gg : {static_cast<const ck::GaloisKeys*>(&gkf), static_cast<const ck::GaloisKeys*>(&gk)})
        for (const auto& kv : gg->keys) key_bytes += kv.second.size_bytes();
    ck::Encoder enc(P);
    ck::Encryptor encr(P, sk);
    auto encrypt = [&](const std::vector<double>& v, std::size_t level) {
        return encr.encrypt(enc.encode(v, level, P->nominal_scale(level)));
    };
    for (int threads : {1, 2}) {
        if (opt.threads_given && threads != opt.threads) continue;
        bt::ThreadPool::set_global_threads(static_cast<unsigned>(threads));
        ck::Evaluator ev(P, &rk, &gk);
        CkksBackend cb(ev, bf, bw ? *bw : bf, bw ? sh.tile_slots() : sh.slots);
        Engine<CkksBackend> eng(sh, sp, cb);
        BatchData<CkksBackend> bd;
        for (const auto& v : pack_x(sh, f, rows)) bd.x.push_back(encrypt(v, plan.x_level));
        bd.y = encrypt(pack_y(sh, f, rows), plan.y_label_level);
        bd.rows_valid.assign(sh.blocks, sh.s0);
        bd.total_rows = s.B;
        // Rotations of X cached when they fit in the budget bt_train uses (not at HETAL's shape).
        if (Engine<CkksBackend>::rotations_fit(sh, 1, plan.x_level, P->N())) eng.prepare(bd);
        ck::Ciphertext w = encrypt(std::vector<double>(sh.slots, 0.0), plan.L), v = w;
        // A warm-up step first, untimed (as bt_bench bootstrap: masks encoded once, memory first
        // touched; a run's later steps pay neither), then the median of `reps` steps.
        const int reps = opt.reps > 0 ? opt.reps : (opt.quick ? 1 : 3);
        if (!opt.quick) eng.step(w, v, bd, 1.0, 0.5);
        std::vector<double> ns;
        cb.seconds = {};
        cb.counts = OpCounts{};
        for (int r = 0; r < reps; ++r) {
            const auto t0 = clk::now();
            eng.step(w, v, bd, 1.0, 0.5);
            ns.push_back(std::chrono::duration<double, std::nano>(clk::now() - t0).count());
        }
        std::string runs;  // each timed step in order
        for (double t : ns) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%s%.2f", runs.empty() ? "" : " ", t * 1e-9);
            runs += buf;
        }
        std::sort(ns.begin(), ns.end());
        const double med = ns[ns.size() / 2];
        const double per = 1.0 / reps;
        Row(bench_name)
            .set("shape", s.name)
            .set("config", config_name(config))
            .set("keys", seeded ? "seeded" : "expanded")
            .set("preset", "N16_QP1735_T_enc")
            .set("B", s.B)
            .set("d", s.d)
            .set("c", s.c)
            .set("threads", threads)
            .set("ns", med)
            .set("reps", reps)
            .set("runs_s", runs)
            .set("s_matmul", cb.seconds[0] * per)
            .set("s_softmax", cb.seconds[1] * per)
            .set("s_bootstrap", cb.seconds[2] * per)
            .set("s_update", cb.seconds[3] * per)
            .set("ct_mults", per_step.ct_mults)
            .set("relins", per_step.relins)
            .set("rotations", per_step.rotations + per_step.hoisted_rotations)
            .set("bootstraps", per_step.boot_full + per_step.boot_sparse)
            .set("levels_after_bootstrap", plan.L)
            .set("keygen_s", keygen_s)
            .set("key_bytes", static_cast<std::int64_t>(key_bytes))
            .set("weights_bootstrap_slots", static_cast<std::int64_t>(bw ? sh.tile_slots() : sh.slots))
            .set("transform_bytes", static_cast<std::int64_t>(bf.memory_bytes() + (bw ? bw->memory_bytes() : 0)))
            .set("peak_rss_bytes", static_cast<std::int64_t>(sampler.peak()))
            .print(opt);
    }
}

// The shipped shape with 5 and 10 classes (and HETAL's with --slots 1024), each in
// bt_train's default configuration and with --prefer speed's.
void bench_train(const Options& opt) {
    const bool hetal = std::find(opt.slots.begin(), opt.slots.end(), std::size_t{1024}) != opt.slots.end();
    std::vector<Shape> shapes;
    if (!hetal || opt.slots.size() > 1) {
        shapes.push_back(Shape{"shipped", 512, 120, 5});
        shapes.push_back(Shape{"shipped_c10", 512, 120, 10});
    }
    if (hetal) shapes.push_back(Shape{"hetal_mnist", 1024, 768, 10});
    // HETAL's shape measures the seeded speed variant by default (the expanded one needs about
    // 20 GiB); `--config speed` asks for the expanded one too (bt_train --prefer speed's choice
    // where it fits, the training set streamed).
    const bool want_speed = std::find(opt.configs.begin(), opt.configs.end(), "speed") != opt.configs.end();
    for (const Shape& s : shapes) {
        std::vector<Config> configs{Config::Memory, s.B == 1024 ? Config::SpeedSeeded : Config::Speed};
        if (s.B == 1024 && want_speed) configs.push_back(Config::Speed);
        for (Config c : configs) run_shape(opt, s, c, "train_step");
    }
}

// Both key forms, one after the other, per shape: keys held, peak resident memory of each
// configuration, time per step (their ratio is the cost of the seeded keys).
void bench_memory(const Options& opt) {
    const bool hetal = std::find(opt.slots.begin(), opt.slots.end(), std::size_t{1024}) != opt.slots.end();
    std::vector<Shape> shapes;
    if (!hetal || opt.slots.size() > 1) shapes.push_back(Shape{"shipped", 512, 120, 5});
    if (hetal) shapes.push_back(Shape{"hetal_mnist", 1024, 768, 10});
    for (const Shape& s : shapes)
        for (Config c : {Config::Memory, Config::Expanded, s.B == 1024 ? Config::SpeedSeeded : Config::Speed})
            run_shape(opt, s, c, "memory");
}

}  // namespace

BT_BENCH_GROUP("memory",
               "peak resident memory, key bytes and time per training step in bt_train's configurations (memory: "
               "seeded keys; expanded; speed: --prefer speed) (N = 2^16 secure preset; --slots 1024 adds HETAL's shape)",
               bench_memory);
BT_BENCH_GROUP("train-step", "encrypted training step, N = 2^16 secure preset, real bootstrapping, shipped shape with 5 and 10 "
               "classes, --prefer memory and speed (--slots 1024: HETAL's shape)",
               bench_train);
