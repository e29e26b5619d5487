// The whole flow in one process (see bt/app/run.hpp).
#include "bt/app/run.hpp"

#include "bt/app/client.hpp"
#include "bt/app/data.hpp"
#include "bt/app/progress.hpp"
#include "bt/app/server.hpp"
#include "bt/app/sets.hpp"
#include "bt/cpu.hpp"
#include "bt/hash.hpp"
#include "bt/os.hpp"
#include "bt/secure.hpp"
#include "bt/threadpool.hpp"
#include "bt/train/training.hpp"

#include <chrono>
#include <dirent.h>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <sstream>

namespace bt::app {

using ckks::CiphertextBundle;

namespace {

using clk = std::chrono::steady_clock;
double since(clk::time_point t) { return std::chrono::duration<double>(clk::now() - t).count(); }


std::string join_exact(const std::vector<double>& v) {
    std::string s;
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + CiphertextBundle::f64(v[i]);
    return s;
}

std::vector<double> split_exact(const std::string& s, std::size_t n, const std::string& what) {
    std::vector<double> out;
    std::stringstream ss(s);
    for (std::string item; std::getline(ss, item, ',');) out.push_back(std::strtod(item.c_str(), nullptr));
    if (out.size() != n) throw std::runtime_error(what + ": expected " + std::to_string(n) + " values");
    return out;
}

// ================================================================ the client, in process
// Answers the server's validation requests at once (it holds the secret key), and runs
// the float64 twin step by step beside the encrypted run. Its state rides in the
// checkpoints, with fingerprints of the job and of the data that a resume must match.
class InProcessClient : public Exchange, public TrainObserver {
public:
    InProcessClient(const ClientKeys& ck, const ClientData& cd, const RunConfig& cfg, std::uint64_t fingerprint,
                    clk::time_point t_start, std::ostream& log)
        : ck_(ck), cd_(cd), cfg_(cfg), fingerprint_(fingerprint), t_start_(t_start), log_(log),
          tb_(ck.plan.sh.slots, ck.plan.sh.tile_slots()), twin_(ck.plan.sh, ck.plan.sp, tb_),
          tbat_(twin_set(ck.plan, cd.train, ck.plan.sh.batch)),
          tval_(twin_set(ck.plan, cd.val, ck.plan.sh.blocks * ck.plan.sh.s0)), tw_(ck.plan.sh.slots, 0.0), tv_(tw_),
          es_{cfg.patience} {}

    bool stop_after_validation(std::size_t epoch,
                               const std::function<std::vector<ckks::Ciphertext>()>& compute) override {
        const Score s = score_ciphertexts(ck_, compute(), Returned::Probabilities, cd_.val.label, "validation");
        pending_ = EpochRecord{};
        pending_.epoch = static_cast<int>(epoch);
        pending_.val_loss = s.loss;
        pending_.val_accuracy = s.accuracy;
        double tloss = 0;
        std::size_t tcorrect = 0;
        const auto vb = train::make_batches(cd_.val.rows, ck_.plan.sh.blocks * ck_.plan.sh.s0);
        for (std::size_t k = 0; k < vb.size(); ++k)
            train::score_batch(ck_.plan.sh, twin_.forward(tw_, tval_[k]), cd_.val.label, vb[k], tloss, tcorrect);
        pending_.twin_val_loss = tloss / static_cast<double>(cd_.val.rows);
        validated_ = true;
        return es_.stop_after(s.loss);
    }

    void after_step(const TrainState& st, std::size_t first, std::size_t count, double gamma) override {
        std::vector<const train::BatchData<train::TwinBackend>*> groups;
        for (std::size_t k = first; k < first + count; ++k) groups.push_back(&tbat_.at(k));
        twin_.step(tw_, tv_, groups, cfg_.lr, gamma);
        // The client's self-check (it holds the secret key in this mode): the encrypted
        // weights against the twin's after every step, so that a run that leaves its twin
        // (approximation or precision out of range) stops at once with where and how far,
        // instead of hours later with an unusable head.
        const train::Head enc_head = train::unpack_head(ck_.plan.sh, ckks::decrypt_real(dec_, enc_, st.w));
        const train::Head twin_head = train::unpack_head(ck_.plan.sh, tw_);
        double dw = 0, wmax = 0;
        for (std::size_t i = 0; i < twin_head.w.size(); ++i) {
            const double d = std::fabs(enc_head.w[i] - twin_head.w[i]);
            dw = std::isnan(d) || d > dw ? d : dw;
            wmax = std::max(wmax, std::fabs(twin_head.w[i]));
        }
        max_dw_ = std::max(max_dw_, dw);
        if (!(dw <= kTwinTolerance * std::max(1.0, wmax)))
            throw std::runtime_error("after step " + std::to_string(st.step) + " (batches " + std::to_string(first) +
                                     ".." + std::to_string(first + count - 1) + ") the encrypted weights are " +
                                     std::to_string(dw) + " away from the float64 twin's (largest twin weight " +
                                     std::to_string(wmax) + ", tolerance " + std::to_string(kTwinTolerance) +
                                     " of it): the encrypted computation left its approximations' or its precision's "
                                     "range; stopped (nothing released). Report this with the run's log");
    }
    double max_weight_diff() const { return max_dw_; }

    void after_epoch(const TrainState& st) override {
        EpochRecord r = validated_ ? pending_ : EpochRecord{};
        validated_ = false;
        r.epoch = static_cast<int>(st.epoch);
        r.steps = st.step;
        r.seconds = since(t_start_);
        // Training loss of the current encrypted head, computed by the client after decryption.
        const ckks::Encoder enc(ck_.P);
        const ckks::Decryptor dec(ck_.P, ck_.sk);
        r.train_loss = train::cross_entropy(train::unpack_head(ck_.plan.sh, ckks::decrypt_real(dec, enc, st.w)), cd_.train);
        epochs_.push_back(r);
        log_ << "epoch " << r.epoch << ": validation loss " << std::fixed << std::setprecision(4) << r.val_loss
             << " (twin " << r.twin_val_loss << "), accuracy " << r.val_accuracy << ", training loss " << r.train_loss
             << "\n";
        if (st.stopped) log_ << "early stop: no validation improvement for " << cfg_.patience << " epoch(s)\n";
    }

    void save(CiphertextBundle& b) const override {
        b.set("client_fingerprint", hex64(fingerprint_));
        b.set("twin_w", join_exact(tw_));
        b.set("twin_v", join_exact(tv_));
        b.set("early_stop", CiphertextBundle::f64(es_.best) + "," + std::to_string(es_.bad));
        std::string rec;
        for (const EpochRecord& e : epochs_) {
            char line[256];
            std::snprintf(line, sizeof line, "%d %zu %.17g %.17g %.17g %.17g %.17g;", e.epoch, e.steps, e.train_loss,
                          e.val_loss, e.val_accuracy, e.twin_val_loss, e.seconds);
            rec += line;
        }
        b.set("epoch_records", rec);
    }

    void restore(const CiphertextBundle& b) override {
        if (!b.has("client_fingerprint") || b.get("client_fingerprint") != hex64(fingerprint_))
            throw UsageError("the checkpoint was made by a run with other options or other data: resume with the "
                             "same options (or start without --resume)");
        tw_ = split_exact(b.get("twin_w"), tw_.size(), "checkpoint twin_w");
        tv_ = split_exact(b.get("twin_v"), tv_.size(), "checkpoint twin_v");
        const std::string es = b.get("early_stop");
        es_.best = std::strtod(es.c_str(), nullptr);
        es_.bad = std::strtoull(es.substr(es.find(',') + 1).c_str(), nullptr, 10);
        epochs_.clear();
        std::stringstream ss(b.get("epoch_records"));
        for (std::string item; std::getline(ss, item, ';');) {
            EpochRecord e;
            std::istringstream in(item);
            std::string f[5];
            in >> e.epoch >> e.steps >> f[0] >> f[1] >> f[2] >> f[3] >> f[4];
            double* dst[5] = {&e.train_loss, &e.val_loss, &e.val_accuracy, &e.twin_val_loss, &e.seconds};
            for (int i = 0; i < 5; ++i) *dst[i] = std::strtod(f[i].c_str(), nullptr);
            epochs_.push_back(e);
        }
    }

    const std::vector<EpochRecord>& epochs() const { return epochs_; }
    const std::vector<double>& twin_weights() const { return tw_; }
    const train::RangeStats& twin_ranges() const { return twin_.ranges; }

private:
    const ClientKeys& ck_;
    const ClientData& cd_;
    const RunConfig& cfg_;
    std::uint64_t fingerprint_;
    clk::time_point t_start_;
    std::ostream& log_;
    train::TwinBackend tb_;
    train::Engine<train::TwinBackend> twin_;
    std::vector<train::BatchData<train::TwinBackend>> tbat_, tval_;
    std::vector<double> tw_, tv_;
    train::EarlyStopping es_;
    // Per-step self-check tolerance on |W_encrypted − W_twin| (relative to the largest twin
    // weight, at least 1): measured deviations are ~1e-5 (N = 2^16 runs); a broken step
    // gives O(1) or more.
    static constexpr double kTwinTolerance = 1e-2;
    const ckks::Encoder enc_{ck_.P};
    const ckks::Decryptor dec_{ck_.P, ck_.sk};
    double max_dw_ = 0;
    std::vector<EpochRecord> epochs_;
    EpochRecord pending_;
    bool validated_ = false;
};

// ================================================================ the run's secret seed
// checkpoints/client.seed: "bt-seed 1\n" and 64 hexadecimal digits, mode 0600.

std::string seed_path(const RunConfig& cfg) { return path_join(path_join(cfg.out_dir, "checkpoints"), "client.seed"); }

void remove_run_state(const RunConfig& cfg) {
    const std::string dir = path_join(cfg.out_dir, "checkpoints");
    if (DIR* d = ::opendir(dir.c_str())) {  // checkpoints, also half-written ones of a crash
        std::vector<std::string> names;
        while (dirent* e = ::readdir(d))
            if (std::string(e->d_name).rfind("ckpt-", 0) == 0 || std::string(e->d_name).rfind("train.set", 0) == 0)
                names.push_back(e->d_name);  // checkpoints and the --stream-data spill file
        ::closedir(d);
        for (const auto& n : names) std::remove(path_join(dir, n).c_str());
    }
    if (path_exists(seed_path(cfg))) {
        const std::string zeros(128, '0');
        write_file_atomic(seed_path(cfg), zeros, 0600);  // the old seed's blocks are overwritten first
        std::remove(seed_path(cfg).c_str());
    }
    std::remove(dir.c_str());  // rmdir if empty
}

Randomness open_randomness(const RunConfig& cfg, std::ostream& log) {
    if (cfg.insecure_seed) {
        log << "WARNING: --insecure-seed: every key and encryption is derived from a known seed; INSECURE, "
               "for tests only\n";
        return Randomness::derived(*cfg.insecure_seed, true);
    }
    const std::string path = seed_path(cfg);
    if (cfg.resume && path_exists(path)) {
        const std::string text = read_text_trimmed(path);
        if (text.size() != 10 + 64 || text.compare(0, 10, "bt-seed 1\n") != 0)
            throw UsageError(path + " is not a BlindTuner run seed: start without --resume");
        Seed s = parse_seed_hex(path, text.substr(10));
        Randomness r = Randomness::derived(s, false);
        secure_wipe(s.data(), s.size());
        return r;
    }
    if (cfg.resume) log << "no interrupted run in " << cfg.out_dir << ": starting afresh\n";
    remove_run_state(cfg);
    make_private_dir(path_join(cfg.out_dir, "checkpoints"));
    Seed s = os_random_seed();
    std::string text = "bt-seed 1\n";
    for (std::uint8_t b : s) {
        char h[3];
        std::snprintf(h, sizeof h, "%02x", b);
        text += h;
    }
    write_file_atomic(path, text + "\n", 0600);
    secure_wipe(&text[0], text.size());
    Randomness r = Randomness::derived(s, false);
    secure_wipe(s.data(), s.size());
    return r;
}

// ================================================================ phases

// The stand-in's re-encryptions drawn from the run's randomness, so that a resumed
// stand-in run is bit-identical too (the stand-in is insecure in any case).
Seed stand_in_seed(const Randomness& rnd) {
    Seed s;
    rnd.stream("stand-in").fill(s.data(), s.size());
    return s;
}

Workload workload_of(const RunConfig& cfg, const Dataset& ds) {
    Workload w;
    w.train_rows = ds.train.size();
    w.val_rows = ds.val.size();
    w.test_rows = ds.test.size();
    w.dataset_bytes = ds.bytes();
    w.encrypt_test = cfg.infer;
    w.stream_train = cfg.stream_data;
    w.sk_bootstrap = cfg.sk_bootstrap;
    w.seeded_boot_keys = !cfg.expanded_keys && !cfg.sk_bootstrap;
    return w;
}

void fill_report_header(RunReport& rep, const RunConfig& cfg, const ClientPlan& cp, const Dataset& ds) {
    rep.title = "BlindTuner: encrypted fine-tuning of the classification head";
    rep.config = {{"preset", cp.preset_name},
                  {"model", cp.job.model},
                  {"data", cfg.data_dir},
                  {"format", format_name(ds.format)},
                  {"batch", std::to_string(cfg.batch)},
                  {"epochs", std::to_string(cfg.epochs)},
                  {"lr", std::to_string(cfg.lr)},
                  {"gain", std::to_string(cfg.gain)},
                  {"V", std::to_string(cfg.softmax.V)},
                  {"seed", std::to_string(cfg.seed)},
                  {"bootstrapping", cfg.sk_bootstrap ? "secret-key stand-in (insecure)" : "CKKS"},
                  {"flooding", cfg.flooding ? CiphertextBundle::f64(cfg.flood_sigma > 0 ? cfg.flood_sigma : kDefaultFloodSigma) : "none"},
                  {"threads", std::to_string(ThreadPool::global().size())},
                  {"simd", std::string(simd_path_name(simd_path()))}};
    rep.class_names = cp.job.class_names;
    rep.train_size = ds.train.size();
    rep.val_size = ds.val.size();
    rep.test_size = ds.test.size();
    rep.classes = cp.job.labels.size();
    const train::OpCounts& c = cp.plan.per_step;
    rep.extra = {{"ct_mults_per_step", static_cast<double>(c.ct_mults)},
                 {"relins_per_step", static_cast<double>(c.relins)},
                 {"rotations_per_step", static_cast<double>(c.rotations + c.hoisted_rotations)},
                 {"bootstraps_per_step", static_cast<double>(c.boot_full + c.boot_sparse)},
                 {"levels_after_bootstrap", static_cast<double>(cp.job.L)}};
}

// The client's set-up: everything checked, the forecast printed and compared with memory.
struct Prepared {
    ClientPlan cp;
    Dataset ds;
    Forecast forecast;
    bool stream = false;  // the training set goes through a spill file (--stream-data, or chosen for --max-memory)
    bool seed_all = false;  // every key seeded (chosen for --max-memory when nothing else fits)
    bool expanded = false;  // every key expanded (--expanded-keys, or --prefer speed within the limit)
    bool precomputed = false;  // the bootstrapper's transforms precomputed (--prefer speed within the limit)
};

// --prefer speed: the fastest of these that fits the memory limit, tried in this order (each
// step gives up the option that costs the most memory per second saved; measured on the
// secure preset, see README "Memory"). The last is --prefer memory's configuration.
struct SpeedChoice {
    bool fast_keys, expanded, precomputed;
    std::string describe() const {
        return std::string(fast_keys ? "one DFT key per giant step, the weights' own sparse bootstrapping"
                                     : "Horner DFT keys") + ", " +
               (expanded ? "keys expanded" : "keys seeded") + ", " +
               (precomputed ? "transforms precomputed" : "compact transforms");
    }
};
constexpr SpeedChoice kSpeedChoices[] = {
    {true, true, true}, {true, false, true}, {false, false, true}, {false, false, false}};

// The data set is opened first: its classes and their names are part of the job.
Prepared prepare(const RunConfig& cfg_in, std::ostream& log) {
    Dataset ds = open_dataset(cfg_in);
    const RunConfig cfg = with_dataset_classes(cfg_in, ds);
    Prepared p{plan_client_job(cfg, 0), std::move(ds), {}};
    const Job& j = p.cp.job;
    log << "CPU path " << simd_path_name(simd_path()) << ", threads " << ThreadPool::global().size() << "\n"
        << p.cp.describe() << "\n"
        << "data: " << thousands(p.ds.train.size()) << " training, " << thousands(p.ds.val.size()) << " validation, "
        << thousands(p.ds.test.size()) << " test " << (p.ds.d ? "rows" : "images") << " of classes";
    for (std::size_t k = 0; k < j.labels.size(); ++k)
        log << " " << j.labels[k] << (k < j.class_names.size() && j.class_names[k] != std::to_string(j.labels[k])
                                          ? " (" + j.class_names[k] + ")" : "");
    log << " from " << cfg.data_dir << " (" << p.ds.describe() << ")\n";
    const Calibration cal = calibrate(p.cp.P, p.cp.plan, p.ds.d ? nullptr : &p.cp.model);
    Workload w = workload_of(cfg, p.ds);
    p.expanded = cfg.expanded_keys;
    p.forecast = make_forecast(Phase::OneProcess, *p.cp.P, p.cp.job, p.cp.plan, p.cp.bs.get(), w, cal, p.cp.ws.get());
    const std::size_t avail = cfg.max_memory ? cfg.max_memory : available_memory_bytes();
    p.stream = cfg.stream_data;
    if (cfg.prefer_speed && p.cp.bs) {
        // The first configuration (fastest first) whose forecast fits, the training set in memory
        // or else streamed; each one tried is reported. The plan with one DFT key per giant step
        // is made once.
        log << "--prefer speed: within " << format_bytes(avail) << (cfg.max_memory ? " (--max-memory)" : " available")
            << ":\n";
        ClientPlan fast;
        for (const SpeedChoice& c : kSpeedChoices) {
            if (cfg.expanded_keys && !c.expanded) continue;  // --expanded-keys holds regardless
            if (c.fast_keys && !fast.P) {
                RunConfig rc = cfg;
                rc.boot_fast_keys = true;
                rc.sparse_weights = true;
                fast = plan_client_job(rc, 0);
            }
            const ClientPlan& cp = c.fast_keys ? fast : p.cp;
            bool chosen = false;
            for (int k = 0; k < (p.stream ? 1 : 2); ++k) {
                const bool stream = p.stream || k == 1;
                Workload wc = w;
                wc.seeded_boot_keys = !c.expanded;
                wc.precomputed_transforms = c.precomputed;
                wc.stream_train = stream;
                Forecast fc = make_forecast(Phase::OneProcess, *cp.P, cp.job, cp.plan, cp.bs.get(), wc, cal, cp.ws.get());
                const bool fits = !avail || fc.peak_bytes <= avail;
                log << "  " << c.describe() << (stream ? ", training set streamed" : "") << ": peak "
                    << format_bytes(fc.peak_bytes) << (fits ? " (chosen)" : " (above)") << "\n";
                if (!fits) {
                    if (stream) break;
                    continue;
                }
                if (c.fast_keys) p.cp = std::move(fast);
                w = wc;
                p.forecast = std::move(fc);
                p.expanded = c.expanded;
                p.precomputed = c.precomputed;
                p.stream = stream;
                chosen = true;
                break;
            }
            if (chosen) break;
        }
    }
    if (!p.stream && avail && p.forecast.peak_bytes > avail) {  // the memory limit chooses streaming if that fits
        w.stream_train = true;
        Forecast fs = make_forecast(Phase::OneProcess, *p.cp.P, p.cp.job, p.cp.plan, p.cp.bs.get(), w, cal, p.cp.ws.get());
        if (fs.peak_bytes <= avail) {
            log << "memory: " << format_bytes(p.forecast.peak_bytes) << " with the encrypted training set in memory is "
                << "above the limit; it will be streamed from a file instead (as --stream-data)\n";
            p.forecast = std::move(fs);
            p.stream = true;
        }
    }
    if (avail && p.forecast.peak_bytes > avail && !p.expanded && !cfg.sk_bootstrap) {
        // The last resort before a refusal: every key seeded (training and relinearization
        // keys regenerate their a_j at every key switch too).
        w.seeded_all_keys = true;
        for (bool stream : {p.stream, true}) {  // the set in memory if that fits, else streamed too
            w.stream_train = stream;
            Forecast fa = make_forecast(Phase::OneProcess, *p.cp.P, p.cp.job, p.cp.plan, p.cp.bs.get(), w, cal, p.cp.ws.get());
            if (fa.peak_bytes > avail) continue;
            log << "memory: " << format_bytes(p.forecast.peak_bytes) << " is above the limit; every key will be "
                << "seeded (its uniform half regenerated at each use)" << (stream && !p.stream ? " and the training set "
                "streamed from a file" : "") << ": " << format_bytes(fa.peak_bytes) << ", slower\n";
            p.forecast = std::move(fa);
            p.seed_all = true;
            p.stream = stream;
            break;
        }
    }
    log << cal.describe() << "\n" << p.forecast.describe() << "\n";
    log << "key form: " << (cfg.expanded_keys || cfg.sk_bootstrap ? "every key expanded (--expanded-keys)"
                        : p.expanded ? "every key expanded (--prefer speed)"
                        : p.seed_all ? "every key seeded (memory limit)"
                                     : "seeded, but for the relinearization key, the bootstrapping transforms' "
                                       "repeated steps and the training rotations a step uses at least " +
                                           std::to_string(Plan::kHotKeyUses) +
                                           " times (every key expanded with --expanded-keys)")
        << "\n";
    log << "memory: forecast peak " << format_bytes(p.forecast.peak_bytes) << " of " << format_bytes(avail)
        << (cfg.max_memory ? " (--max-memory)" : " available") << "\n";
    if (cfg.plan_only) {
        if (avail && p.forecast.peak_bytes > avail)
            log << "a run with these options would be refused (forecast above the memory limit) unless --force\n";
    } else {
        check_memory(p.forecast, cfg.max_memory, cfg.force, log);
        prepare_output_dir(cfg.out_dir, "output directory --out");
    }
    return p;
}

}  // namespace

// ================================================================ the run

namespace {

// What the client hands the server in memory: the keys, and the bootstrapper they drive.
struct Handover {
    ClientKeys ck;
    EvalKeys keys;
    std::unique_ptr<ckks::SecretKeyBootstrapper> standin;
    const ckks::Bootstrapper* bs = nullptr;
    const ckks::Bootstrapper* ws = nullptr;  // the weights' sparse bootstrapper, if the job has one
    double seconds = 0;
};

void make_keys(Handover& h, ClientPlan& cp, const Randomness& rnd, RunReport& rep, KeyForm form, std::ostream& log) {
    const auto t = clk::now();
    h.keys = make_eval_keys(h.ck, cp.bs.get(), rnd, log, form, cp.ws.get());
    h.seconds = since(t);
    if (cp.bs) {
        attach_keys(*cp.bs, h.keys);
        h.bs = cp.bs.get();
        if (cp.ws) {
            attach_keys(*cp.ws, h.keys);
            h.ws = cp.ws.get();
        }
    } else {
        h.standin = std::make_unique<ckks::SecretKeyBootstrapper>(cp.P, h.ck.sk, cp.job.L, stand_in_seed(rnd));
        h.bs = h.standin.get();
    }
    rep.key_bytes = {{"relin", h.keys.relin.key.size_bytes()},
                     {"galois_training", h.keys.train.size_bytes()},
                     {"galois_bootstrap", h.keys.boot.size_bytes()},
                     {"encapsulation", h.keys.has_encaps ? h.keys.encaps.size_bytes() : 0}};
}

// The client decrypts the head, releases it (noise-flooded unless asked not to), and
// evaluates the released head, the unflooded one, the twin and exact training.
double release_and_evaluate(RunResult& res, const Handover& h, const ClientData& cd, const InProcessClient& client,
                            const TrainState& st, const RunConfig& cfg) {
    const ReleasedHead unflooded = decrypt_head(h.ck, st.w, false, 0);
    const ReleasedHead released = decrypt_head(h.ck, st.w, cfg.flooding, cfg.flood_sigma);
    write_head(path_join(cfg.out_dir, "head.safetensors"), released, cd.norm, h.ck.job,
               HeadProvenance{cfg.data_dir, cfg.test_size, data_format_name(cfg), cfg.seed});
    RunReport& rep = res.report;
    res.head = st.w;
    res.released = as_stored(released.head);  // exactly what a reader of the file gets
    res.unflooded = unflooded.head;
    res.twin = train::unpack_head(h.ck.plan.sh, client.twin_weights());
    for (std::size_t i = 0; i < res.twin.w.size(); ++i)
        res.max_weight_diff = std::max(res.max_weight_diff, std::fabs(res.twin.w[i] - res.unflooded.w[i]));
    const Evaluation ev = evaluate_head(res.released, cd.test);
    rep.acc_encrypted = ev.accuracy;
    rep.confusion = ev.confusion;
    rep.acc_unflooded = evaluate_head(res.unflooded, cd.test).accuracy;
    rep.acc_twin = train::accuracy(res.twin, cd.test);
    rep.acc_exact = train::accuracy(res.exact, cd.test);
    rep.epochs = client.epochs();
    rep.steps = st.step;
    rep.bootstraps = st.bootstraps;
    return unflooded.noise_sigma;
}

struct Timing {
    double features = 0, keygen = 0, encrypt = 0, training = 0;
};

void finish_report(RunResult& res, const Server& srv, const Timing& t, clk::time_point t_start, double noise,
                   const RunConfig& cfg) {
    RunReport& rep = res.report;
    const auto& sec = srv.stage_seconds();
    rep.peak_memory_bytes = peak_rss_bytes();
    rep.seconds = {{"total", since(t_start)}, {"features", t.features}, {"keygen", t.keygen},
                   {"encrypt", t.encrypt},    {"training", t.training}};
    for (int s = 0; s < train::kStages; ++s)
        if (s != static_cast<int>(train::Stage::Other))
            rep.seconds.emplace_back(train::stage_name(static_cast<train::Stage>(s)), sec[static_cast<std::size_t>(s)]);
    rep.extra.emplace_back("max_weight_diff_vs_twin", res.max_weight_diff);
    rep.extra.emplace_back("seconds_per_step", t.training / static_cast<double>(std::max<std::size_t>(1, rep.steps)));
    rep.extra.emplace_back("range_t_max", res.ranges.t_max);
    rep.extra.emplace_back("ckks_noise_bits", -std::log2(std::max(noise, 1e-300)));
    write_file_atomic(path_join(cfg.out_dir, "report.json"), report_json(rep));
    write_file_atomic(path_join(cfg.out_dir, "report.svg"), report_svg(rep));
}

void print_summary(const RunResult& res, const Server& srv, const Timing& t, clk::time_point t_start,
                   const ClientPlan& cp, const RunConfig& cfg, std::ostream& log) {
    const RunReport& rep = res.report;
    const auto& sec = srv.stage_seconds();
    const std::string head_path = path_join(cfg.out_dir, "head.safetensors");
    log << std::fixed << std::setprecision(4) << "test accuracy on " << rep.test_size << " images: encrypted "
        << rep.acc_encrypted << " (released head" << (cfg.flooding ? ", noise-flooded" : "") << "; unflooded "
        << rep.acc_unflooded << "), float64 twin " << rep.acc_twin << ", exact plaintext " << rep.acc_exact << "\n"
        << "encrypted vs twin weights: max |dW| = " << std::scientific << res.max_weight_diff << std::fixed << "\n";
    if (cfg.check_ranges) log << "softmax ranges (secret-key probe): " << res.ranges.describe(cp.plan.sp) << "\n";
    log << std::setprecision(1) << "time: total " << since(t_start) << " s (forecast " << res.forecast.total_seconds
        << "; features " << t.features << ", keys " << t.keygen << ", encrypt " << t.encrypt << ", training "
        << t.training << ": matmul " << sec[0] << ", softmax " << sec[1] << ", bootstrap " << sec[2] << ", update "
        << sec[3] << "), peak memory " << format_bytes(rep.peak_memory_bytes) << " (forecast "
        << format_bytes(res.forecast.peak_bytes) << ")\n"
        << "outputs: " << head_path << " (the trained head; `bt_train evaluate --head " << head_path
        << "` re-scores it), " << path_join(cfg.out_dir, "report.json") << ", " << path_join(cfg.out_dir, "report.svg")
        << "\n";
}

}  // namespace

RunResult run_one_process(const RunConfig& cfg, std::ostream& log) {
    const auto t_start = clk::now();
    RunResult res;
    Prepared pre = prepare(cfg, log);
    ClientPlan& cp = pre.cp;
    fill_report_header(res.report, cfg, cp, pre.ds);
    // What the memory limit and --prefer chose (they change speed and memory, not the maths:
    // the DFT key form changes the order of a sum, within the bootstrap's precision).
    res.report.config.emplace_back("prefer", cfg.prefer_speed ? "speed" : "memory");
    res.report.config.emplace_back("bootstrap_dft_keys", cp.job.boot_fast_keys ? "per-giant-step" : "horner");
    res.report.config.emplace_back("weights_bootstrap", cp.ws ? "sparse (" + std::to_string(cp.plan.sh.tile_slots()) + " slots)" : "full");
    res.report.config.emplace_back("key_form", pre.expanded ? "expanded" : pre.seed_all ? "seeded (all)" : "seeded");
    res.report.config.emplace_back("bootstrap_transforms", !cp.bs ? "none" : pre.precomputed ? "precomputed" : "compact");
    res.report.config.emplace_back("training_set", pre.stream ? "streamed" : "in memory");
    res.forecast = pre.forecast;
    res.report.forecast = pre.forecast.report_fields();
    if (cfg.plan_only) return res;
    Timing t;
    if (pre.precomputed && cp.bs) {
        const auto tp = clk::now();
        cp.bs->precompute_transforms();
        log << "bootstrapping transforms precomputed: " << format_bytes(cp.bs->memory_bytes()) << " in " << std::fixed
            << std::setprecision(1) << since(tp) << " s\n";
    }

    // ---- client: randomness, features, range pre-check
    const Randomness rnd = open_randomness(cfg, log);
    cp.job.id = rnd.id("job");
    const ClientData cd = extract_client_data(pre.ds, cp.model, cfg.gain, cp.job.classes(), log);
    t.features = cd.seconds;
    res.exact = range_precheck(cd.train, cp.job, log);

    // ---- client: keys and encryption, handed over in memory
    Handover h{ClientKeys{cp.P, cp.job, cp.plan, make_secret_key(cp.P, rnd)}, {}, nullptr, nullptr, 0};
    make_keys(h, cp, rnd, res.report,
              pre.expanded ? KeyForm::Expanded : pre.seed_all ? KeyForm::SeededAll : KeyForm::Seeded, log);
    t.keygen = h.seconds;
    auto t0 = clk::now();
    const std::uint64_t data_id = rnd.id("data");
    const std::size_t per_val = cp.plan.sh.blocks * cp.plan.sh.s0;
    // The training set stays in memory, or with --stream-data goes to a set file under the
    // run's checkpoints directory and is read back a batch at a time (the same reader the
    // `train` role uses).
    std::unique_ptr<BatchSource> tr;
    const std::string spill = path_join(path_join(cfg.out_dir, "checkpoints"), "train.set");
    if (pre.stream) {
        make_private_dir(path_join(cfg.out_dir, "checkpoints"));
        encrypt_to_set_file(spill, h.ck, "train-set", cd.train, cfg.batch, true, data_id, rnd, log);
        tr = std::make_unique<FileSet>(*cp.P, spill, "train-set", cp.job, cp.plan, true);
        log << "training set streamed from " << spill << " (" << format_bytes(file_size(spill)) << ")\n";
    } else {
        tr = std::make_unique<MemorySet>(encrypt_set(h.ck, "train-set", cd.train, cfg.batch, true, data_id, rnd, log));
    }
    MemorySet va(encrypt_set(h.ck, "val-set", cd.val, per_val, false, data_id, rnd, log));
    t.encrypt = since(t0);

    // ---- server: training on ciphertexts and evaluation keys only
    Server srv(cp.P, cp.job, cp.plan, h.keys, h.bs, nullptr, h.ws);
    const ckks::Decryptor probe_dec(cp.P, h.ck.sk);
    if (cfg.check_ranges) srv.backend().set_probe(&probe_dec);  // the client's own self-check (one process only)
    const std::uint64_t fp = fnv1a64(hex64(features_fingerprint(cd.train)) + hex64(features_fingerprint(cd.val)) +
                                     ckks::CiphertextBundle::f64(cfg.lr) + std::to_string(cfg.patience) +
                                     std::to_string(cfg.epochs) + std::to_string(cfg.batch) +
                                     (cfg.groups > 1 ? "x" + std::to_string(cfg.groups) : ""));
    InProcessClient client(h.ck, cd, cfg, fp, t_start, log);
    LoopOptions lo;
    lo.checkpoint_dir = path_join(cfg.out_dir, "checkpoints");
    lo.checkpoint_every = cfg.checkpoint_every;
    lo.resume = cfg.resume;
    t0 = clk::now();
    const TrainState st = srv.train(*tr, &va, lo, &client, &client, log);
    tr.reset();
    if (pre.stream) std::remove(spill.c_str());
    t.training = since(t0);
    res.ranges = srv.engine().ranges;

    // ---- client: decrypt, release, evaluate; optionally encrypted inference
    const double noise = release_and_evaluate(res, h, cd, client, st, cfg);
    if (cfg.infer) {
        MemorySet te(encrypt_set(h.ck, "test-set", cd.test, per_val, false, data_id, rnd, log));
        Server inf(cp.P, cp.job, cp.plan, h.keys, nullptr);
        const Score s = score_ciphertexts(h.ck, inf.infer(st.w, te, log), Returned::Logits, cd.test.label, "predictions");
        res.report.extra.emplace_back("accuracy_encrypted_inference", s.accuracy);
        log << "encrypted inference: test accuracy " << std::fixed << std::setprecision(4) << s.accuracy << "\n";
    }
    finish_report(res, srv, t, t_start, noise, cfg);
    remove_run_state(cfg);  // the run is complete: its seed and checkpoints go
    print_summary(res, srv, t, t_start, cp, cfg, log);
    return res;
}

}  // namespace bt::app
