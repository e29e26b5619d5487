// The server's side of the flow (see bt/app/server.hpp).
#include "bt/app/server.hpp"

#include "bt/app/progress.hpp"
#include "bt/cpu.hpp"
#include "bt/os.hpp"
#include "bt/threadpool.hpp"
#include "bt/train/training.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <iomanip>
#include <stdexcept>

namespace bt::app {

using ckks::CiphertextBundle;

namespace {

using clk = std::chrono::steady_clock;
double since(clk::time_point t) { return std::chrono::duration<double>(clk::now() - t).count(); }

// Inference computes logits only: a bootstrapper that must never run.
struct NoBootstrap : ckks::Bootstrapper {
    ckks::Ciphertext bootstrap(const ckks::Ciphertext&) const override {
        throw std::logic_error("inference does not bootstrap");
    }
    std::size_t output_level() const override { return 0; }
    const char* name() const override { return "none"; }
};

}  // namespace

ckks::Ciphertext zero_ciphertext(const ckks::Params& P, std::size_t level) {
    // The initial head W = V = 0 is public: a trivial encryption (c0, c1) = (0, 0).
    ckks::Ciphertext ct;
    ct.fingerprint = P.fingerprint();
    ct.level = level;
    ct.scale = P.nominal_scale(level);
    ct.slots = P.max_slots();
    ct.parts.assign(2, ckks::Poly(P.N(), level + 1, true));
    return ct;
}

// ================================================================ the server

Server::Server(ckks::ParamsPtr P, const Job& job, const Plan& plan, const EvalKeys& keys,
               const ckks::Bootstrapper* bs)
    : P_(std::move(P)), job_(job), plan_(plan), none_(bs ? nullptr : std::make_unique<NoBootstrap>()),
      bs_(bs ? bs : none_.get()) {
    ev_ = std::make_unique<ckks::Evaluator>(P_, &keys.relin, &keys.train);
    // One bootstrapper for the softmax and the weights (a tiled W is a valid full-slot
    // vector); the stand-in is told the tile so that it refreshes exactly the tile.
    cb_ = std::make_unique<train::CkksBackend>(*ev_, *bs_, *bs_, job.sk_bootstrap ? plan.sh.tile_slots() : plan.sh.slots);
    eng_ = std::make_unique<train::Engine<train::CkksBackend>>(plan.sh, plan.sp, *cb_);
}

Server::~Server() = default;

void Server::checkpoint(const LoopOptions& o, const TrainState& st, std::uint64_t data_id, const TrainObserver* obs) {
    if (!o.checkpoint_dir.empty()) write_checkpoint(*P_, o.checkpoint_dir, job_, data_id, st, obs);
}

void Server::run_epoch_steps(TrainState& st, BatchSource& tr, const LoopOptions& o, std::size_t total_steps,
                             TrainObserver* observer, std::size_t step0, std::ostream& log) {
    const std::size_t nb = tr.batches();
    for (; st.next_batch < nb; ++st.next_batch) {
        const auto ts = clk::now();
        train::NesterovSchedule ns{st.lambda};
        const double gamma = ns.next();
        const std::size_t calls = bs_->calls();
        eng_->step(st.w, st.v, tr.get(st.next_batch), job_.lr, gamma);
        st.lambda = ns.lambda;
        ++st.step;
        st.bootstraps += bs_->calls() - calls;
        if (observer) observer->after_step(st, st.next_batch, gamma);
        const double el = since(t_train_), per = el / static_cast<double>(st.step - step0);
        log << "step " << st.step << "/" << total_steps << "  epoch " << st.epoch << "  elapsed " << format_clock(el)
            << "  ETA " << format_clock(per * static_cast<double>(total_steps - std::min(total_steps, st.step)))
            << "  bootstraps " << st.bootstraps << "  " << std::fixed << std::setprecision(1) << since(ts)
            << " s/step\n"
            << std::flush;
        if (o.checkpoint_every && st.step % o.checkpoint_every == 0 && st.next_batch + 1 < nb) {
            TrainState c = st;
            ++c.next_batch;
            checkpoint(o, c, tr.data_id(), observer);
        }
    }
}

TrainState Server::train(BatchSource& tr, BatchSource* val, const LoopOptions& o, Exchange* exchange,
                         TrainObserver* observer, std::ostream& log) {
    if (tr.batches() == 0) throw std::invalid_argument("training set " + tr.kind() + " holds no batch");
    const std::size_t epochs = o.epochs ? o.epochs : job_.epochs;
    const std::size_t nb = tr.batches(), total = epochs * nb;
    TrainState st;
    // A state the plan can produce: W fresh from bootstrapping (level L), V one level lower
    // (or at L, before the first step), inside the epochs and batches of this run.
    auto consistent = [&](const TrainState& c) -> std::string {
        const bool levels = c.w.level == plan_.lp.L && (c.v.level == plan_.lp.L || c.v.level == plan_.lp.w_level);
        if (!levels)
            return "its weights are at levels " + std::to_string(c.w.level) + " and " + std::to_string(c.v.level) +
                   ", the plan leaves " + std::to_string(plan_.lp.L) + " and " + std::to_string(plan_.lp.w_level);
        if (c.next_batch > nb || c.epoch > epochs + 1 || c.step > epochs * nb)
            return "its position (epoch " + std::to_string(c.epoch) + ", batch " + std::to_string(c.next_batch) +
                   ") is outside this run's " + std::to_string(epochs) + " epochs of " + std::to_string(nb) + " batches";
        return "";
    };
    if (!(o.resume && !o.checkpoint_dir.empty() &&
          read_checkpoint(*P_, o.checkpoint_dir, job_, tr.data_id(), st, observer, log, consistent))) {
        if (o.resume) log << "no complete checkpoint in " << o.checkpoint_dir << ": starting from the beginning\n";
        st.w = zero_ciphertext(*P_, plan_.lp.L);
        st.v = st.w;
    }
    const auto t_prep = clk::now();
    if (std::vector<CkksBatch>* mem = tr.resident();
        mem && train::Engine<train::CkksBackend>::rotations_fit(plan_.sh, nb, plan_.lp.x_level, P_->N()))
        for (auto& b : *mem) eng_->prepare(b);
    if (since(t_prep) > 2) log << "rotations of X cached in " << std::fixed << std::setprecision(1) << since(t_prep) << " s\n";
    log << "training: " << epochs << " epoch(s) x " << nb << " step(s), batch " << plan_.sh.batch << ", lr " << job_.lr
        << (exchange ? "" : " (no early stopping)") << "; CPU path " << simd_path_name(simd_path()) << ", threads "
        << ThreadPool::global().size() << "\n";
    const std::size_t step0 = st.step;
    t_train_ = clk::now();
    while (!st.stopped && !st.finished && st.epoch <= epochs) {
        run_epoch_steps(st, tr, o, total, observer, step0, log);
        cb_->set_stage(train::Stage::Other);
        // End of the epoch: validation through the client (only its stop/continue comes back).
        if (exchange && val && val->batches() > 0) {
            const bool stop = exchange->stop_after_validation(st.epoch, [&] {
                std::vector<ckks::Ciphertext> probs;
                const std::size_t calls = bs_->calls();
                for (std::size_t k = 0; k < val->batches(); ++k) probs.push_back(eng_->forward(st.w, val->get(k)));
                st.bootstraps += bs_->calls() - calls;
                return probs;
            });
            log << "epoch " << st.epoch << ": the client says " << (stop ? "stop" : "continue") << "\n";
            st.stopped = stop;
        }
        if (observer) observer->after_epoch(st);
        ++st.epoch;
        st.next_batch = 0;
        st.finished = st.epoch > epochs;
        checkpoint(o, st, tr.data_id(), observer);
    }
    cb_->set_stage(train::Stage::Other);
    return st;
}

std::vector<ckks::Ciphertext> Server::infer(const ckks::Ciphertext& head, BatchSource& test, std::ostream& log) {
    Progress progress(log, "encrypted inference", test.batches(), "batches");
    std::vector<ckks::Ciphertext> out;
    for (std::size_t k = 0; k < test.batches(); ++k) {
        out.push_back(eng_->logits(head, test.get(k)));
        progress.add();
    }
    progress.finish(thousands(test.rows()) + " rows");
    return out;
}

// ================================================================ checkpoints

std::string checkpoint_name(std::size_t step) {
    char b[40];
    std::snprintf(b, sizeof b, "ckpt-%08zu.bin", step);
    return b;
}

std::vector<std::size_t> list_checkpoints(const std::string& dir) {
    std::vector<std::size_t> steps;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return steps;
    while (dirent* e = ::readdir(d)) {
        // Only complete files, "ckpt-<8 digits>.bin" exactly (a write in progress ends in .tmp.<pid>).
        const std::string n = e->d_name;
        if (n.size() != 17 || n.compare(0, 5, "ckpt-") != 0 || n.compare(13, 4, ".bin") != 0) continue;
        if (!std::all_of(n.begin() + 5, n.begin() + 13, [](char c) { return c >= '0' && c <= '9'; })) continue;
        steps.push_back(static_cast<std::size_t>(std::strtoull(n.substr(5, 8).c_str(), nullptr, 10)));
    }
    ::closedir(d);
    std::sort(steps.rbegin(), steps.rend());
    return steps;
}

void write_checkpoint(const ckks::Params& P, const std::string& dir, const Job& job, std::uint64_t data_id,
                      const TrainState& st, const TrainObserver* observer) {
    CiphertextBundle b;
    b.set("kind", "checkpoint");
    b.set("job_id", hex64(job.id));
    b.set("data_id", hex64(data_id));
    b.set("step", std::to_string(st.step));
    b.set("epoch", std::to_string(st.epoch));
    b.set("next_batch", std::to_string(st.next_batch));
    b.set("bootstraps", std::to_string(st.bootstraps));
    b.set("stopped", st.stopped ? "1" : "0");
    b.set("finished", st.finished ? "1" : "0");
    b.set("lambda", CiphertextBundle::f64(st.lambda));
    if (observer) observer->save(b);
    b.add(st.w);
    b.add(st.v);
    make_dirs(dir, 0700);
    const std::vector<std::uint8_t> bytes = ckks::serialize(P, b);
    const std::string path = path_join(dir, checkpoint_name(st.step));
    if (const char* e = std::getenv("BT_TEST_CRASH_IN_CHECKPOINT"); e && std::strtoull(e, nullptr, 10) == st.step) {
        // Test hook (kill-and-resume tests): die half-way through writing the temporary file.
        std::FILE* f = std::fopen(temp_path_for(path).c_str(), "wb");
        if (f) {
            std::fwrite(bytes.data(), 1, bytes.size() / 2, f);
            std::fflush(f);
        }
        std::raise(SIGKILL);
    }
    write_file_atomic(path, bytes, 0600);
    const auto all = list_checkpoints(dir);  // keep the two newest complete checkpoints
    for (std::size_t i = 2; i < all.size(); ++i) std::remove(path_join(dir, checkpoint_name(all[i])).c_str());
}

bool read_checkpoint(const ckks::Params& P, const std::string& dir, const Job& job, std::uint64_t data_id,
                     TrainState& st, TrainObserver* observer, std::ostream& log,
                     const std::function<std::string(const TrainState&)>& consistent) {
    for (std::size_t s : list_checkpoints(dir)) {
        const std::string path = path_join(dir, checkpoint_name(s));
        CiphertextBundle b;
        try {
            b = ckks::deserialize_bundle(P, read_file(path));
            check_bundle(b, path, "checkpoint", job);
            if (b.cts.size() != 2) throw std::runtime_error("expected 2 ciphertexts");
            for (const ckks::Ciphertext& ct : b.cts)
                if (ct.parts.size() != 2 || ct.slots != P.max_slots() || ct.level > P.max_level())
                    throw std::runtime_error("a state ciphertext with " + std::to_string(ct.parts.size()) + " parts, " +
                                             std::to_string(ct.slots) + " slots at level " + std::to_string(ct.level) +
                                             " does not match the plan");
        } catch (const std::exception& e) {
            log << "skipping unreadable checkpoint " << path << ": " << e.what() << "\n";
            continue;
        }
        if (b.get("data_id") != hex64(data_id))
            throw UsageError(path + " was made for another encrypted data set (data id " + b.get("data_id") +
                             ", now " + hex64(data_id) + "): the training set was re-encrypted; start without --resume");
        st.step = b.get_u64("step");
        st.epoch = b.get_u64("epoch");
        st.next_batch = b.get_u64("next_batch");
        st.bootstraps = b.get_u64("bootstraps");
        st.stopped = b.get("stopped") == "1";
        st.finished = b.get("finished") == "1";
        st.lambda = b.get_f64("lambda");
        st.w = b.cts[0];
        st.v = b.cts[1];
        if (consistent) {
            const std::string why = consistent(st);
            if (!why.empty()) {
                log << "skipping checkpoint " << path << ": " << why << "\n";
                st = TrainState{};
                continue;
            }
        }
        if (observer) observer->restore(b);
        log << "resuming from " << path << " (step " << st.step << ", epoch " << st.epoch << ")\n";
        return true;
    }
    return false;
}

}  // namespace bt::app
