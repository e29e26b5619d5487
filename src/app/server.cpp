// The server's side of the flow (see bt/app/server.hpp).
#include "bt/app/server.hpp"

#include "bt/app/progress.hpp"
#include "bt/cpu.hpp"
#include "bt/hash.hpp"
#include "bt/modarith.hpp"
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
               const ckks::Bootstrapper* bs, const dist::Comm* comm, const ckks::Bootstrapper* ws)
    : P_(std::move(P)), job_(job), plan_(plan), none_(bs ? nullptr : std::make_unique<NoBootstrap>()),
      bs_(bs ? bs : none_.get()), comm_(comm ? comm : &dist::Comm::self()) {
    bytes0_ = comm_->bytes_moved();
    // The exact reduction's condition, for every prime a gradient can live on: refused now,
    // identically on every rank, rather than after the first step's work.
    const std::size_t R = static_cast<std::size_t>(comm_->size());
    for (std::size_t i = 0; R > 1 && i <= P_->max_level(); ++i)
        if (!dist::reduction_safe(R, P_->q(i)))
            throw UsageError("an exact sum of ciphertexts over " + std::to_string(R) + " ranks needs R·(q − 1) < 2^64; q_" +
                             std::to_string(i) + " has " + std::to_string(bit_length(P_->q(i))) +
                             " bits: use at most " + std::to_string(UINT64_MAX / (P_->q(i) - 1)) + " ranks");
    ev_ = std::make_unique<ckks::Evaluator>(P_, &keys.relin, &keys.train);
    // The weights' bootstrap: the sparse bootstrapper of the tile if the job has one (a tiled
    // W is exactly the sparse packing of its tile), else the softmax's full-slot one (a tiled W
    // is a valid full-slot vector too); the stand-in is told the tile so that it refreshes
    // exactly the tile.
    if (ws && !bs) throw std::logic_error("Server: a weights bootstrapper without the main one");
    cb_ = std::make_unique<train::CkksBackend>(*ev_, *bs_, ws ? *ws : *bs_,
                                               ws || job.sk_bootstrap ? plan.sh.tile_slots() : plan.sh.slots);
    eng_ = std::make_unique<train::Engine<train::CkksBackend>>(plan.sh, plan.sp, *cb_);
}

Server::~Server() = default;

void Server::checkpoint(const LoopOptions& o, const TrainState& st, std::uint64_t data_id, const TrainObserver* obs) {
    if (comm_->root() && !o.checkpoint_dir.empty()) write_checkpoint(*P_, o.checkpoint_dir, job_, data_id, st, obs);
}

ckks::Ciphertext Server::reduce(const ckks::Ciphertext* mine) {
    const dist::Comm& c = *comm_;
    if (c.size() == 1) {
        if (!mine) throw std::logic_error("Server::reduce: no gradient on the only rank");
        return *mine;
    }
    // Rank 0 always holds group 0 of a step: its ciphertext's shape is the one every rank
    // must have (checked on all ranks together, so that all go on or all throw).
    auto shape_of = [](const ckks::Ciphertext& ct) {
        std::string d = std::to_string(ct.level) + "/" + CiphertextBundle::f64(ct.scale) + "/" +
                        std::to_string(ct.parts.size()) + "/" + std::to_string(ct.slots) + "/" + hex64(ct.fingerprint);
        for (const ckks::Poly& p : ct.parts) d += "/" + std::to_string(p.limbs) + (p.ntt ? "n" : "c");
        return d;
    };
    std::vector<std::uint8_t> shape;
    if (c.root()) {
        if (!mine) throw std::logic_error("Server::reduce: rank 0 without group 0");
        const std::string d = shape_of(*mine);
        shape.assign(d.begin(), d.end());
    }
    c.bcast(shape);
    const std::string want(shape.begin(), shape.end());
    // A rank without a group adds zeros of rank 0's level and scale (zero_ciphertext); every
    // rank's ciphertext must then have rank 0's shape, checked by all together.
    ckks::Ciphertext g;
    if (mine) {
        g = *mine;
    } else {
        const std::size_t level = std::strtoull(want.c_str(), nullptr, 10);
        g = zero_ciphertext(*P_, std::min(level, P_->max_level()));
        g.scale = std::strtod(want.c_str() + want.find('/') + 1, nullptr);
    }
    if (c.allreduce_min(shape_of(g) == want ? 1 : 0) == 0)
        throw std::runtime_error("ranks computed gradients of different shapes (level, scale, limbs): every rank must "
                                 "run the same BlindTuner build on the same files");
    // One all-reduce of every residue, then each limb mod its prime (exact: R·(q − 1) < 2^64
    // for every chain prime was checked in the constructor).
    std::size_t words = 0;
    for (const ckks::Poly& p : g.parts) words += p.data.size();
    std::vector<std::uint64_t> buf(words);
    std::size_t at = 0;
    for (const ckks::Poly& p : g.parts) {
        std::copy(p.data.begin(), p.data.end(), buf.begin() + static_cast<std::ptrdiff_t>(at));
        at += p.data.size();
    }
    c.allreduce_sum(buf.data(), buf.size());
    at = 0;
    for (ckks::Poly& p : g.parts)
        for (std::size_t i = 0; i < p.limbs; ++i) {
            const std::uint64_t q = P_->q(ckks::rns_index(*P_, g.level, i));
            std::uint64_t* dst = p.limb(i);
            for (std::size_t j = 0; j < p.n; ++j) dst[j] = buf[at + j] % q;
            at += p.n;
        }
    return g;
}

void Server::check_agreement(const TrainState& st) {
    if (comm_->size() == 1) return;
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (const ckks::Ciphertext* ct : {&st.w, &st.v})
        for (const ckks::Poly& p : ct->parts) h = fnv1a64(p.data.data(), p.data.size() * sizeof(std::uint64_t), h);
    if (comm_->allreduce_min(h) != comm_->allreduce_max(h))
        throw std::runtime_error("after step " + std::to_string(st.step) +
                                 " the ranks hold different weights: every rank must run the same BlindTuner build on "
                                 "the same files (a rank computed differently)");
}

std::vector<ckks::Ciphertext> Server::spread_gather(BatchSource& src,
                                                    const std::function<ckks::Ciphertext(const CkksBatch&)>& f) {
    const dist::Comm& c = *comm_;
    const std::size_t nb = src.batches(), R = static_cast<std::size_t>(c.size()), r = static_cast<std::size_t>(c.rank());
    std::vector<ckks::Ciphertext> out;
    if (R == 1) {
        for (std::size_t k = 0; k < nb; ++k) out.push_back(f(src.get(k)));
        return out;
    }
    CiphertextBundle mine;
    mine.set("kind", "rank-results");
    for (std::size_t k = r; k < nb; k += R) mine.add(f(src.get(k, k + R < nb ? k + R : BatchSource::kNone)));
    const auto all = c.gather(ckks::serialize(*P_, mine));
    if (!c.root()) return out;
    std::vector<CiphertextBundle> parts;
    for (const auto& bytes : all) parts.push_back(ckks::deserialize_bundle(*P_, bytes));
    for (std::size_t k = 0; k < nb; ++k) {
        const CiphertextBundle& b = parts.at(k % R);
        if (b.cts.size() <= k / R) throw std::runtime_error("a rank returned fewer results than its batches");
        out.push_back(b.cts[k / R]);
    }
    return out;
}

void Server::run_epoch_steps(TrainState& st, BatchSource& tr, const LoopOptions& o, std::size_t total_steps,
                             TrainObserver* observer, std::size_t step0, std::ostream& log) {
    const std::size_t nb = tr.batches(), G = job_.groups;
    const int R = comm_->size(), me = comm_->rank();
    // The batch this rank computes after batch k (read-ahead; owners do not change between epochs).
    auto next_mine = [&](std::size_t k) {
        for (std::size_t i = 1; i <= nb; ++i)
            if (train_owner((k + i) % nb, G, R) == me) return (k + i) % nb;
        return BatchSource::kNone;
    };
    while (st.next_batch < nb) {
        const auto ts = clk::now();
        const std::size_t first = st.next_batch, last = std::min(nb, first + G);
        train::NesterovSchedule ns{st.lambda};
        const double gamma = ns.next();
        std::size_t rows = 0;
        for (std::size_t k = first; k < last; ++k) rows += tr.batch_rows(k);
        if (rows == 0) throw std::runtime_error("training step over batches " + std::to_string(first) + "..: no rows");
        const double scale = job_.lr / static_cast<double>(rows);
        std::unique_ptr<ckks::Ciphertext> mine;
        for (std::size_t k = first; k < last; ++k) {
            if (train_owner(k, G, R) != me) continue;
            ckks::Ciphertext g = eng_->gradient(st.v, tr.get(k, next_mine(k)), scale);
            if (mine) g = cb_->add(*mine, g);
            mine = std::make_unique<ckks::Ciphertext>(std::move(g));
        }
        if (const char* e = std::getenv("BT_TEST_KILL_RANK_AT_STEP")) {
            // Test hook (kill-and-resume tests): "RANK:STEP" dies mid-step STEP (1-based).
            const std::string v = e;
            const std::size_t colon = v.find(':');
            if (colon != std::string::npos && std::strtol(v.c_str(), nullptr, 10) == me &&
                std::strtoull(v.c_str() + colon + 1, nullptr, 10) == st.step + 1)
                std::raise(SIGKILL);
        }
        const ckks::Ciphertext g = reduce(mine.get());
        eng_->update(st.w, st.v, g, gamma);
        st.lambda = ns.lambda;
        ++st.step;
        st.bootstraps += (last - first) + 1;  // a softmax bootstrap per group, one of the weights
        st.next_batch = last;
        check_agreement(st);
        if (observer) observer->after_step(st, first, last - first, gamma);
        const double el = since(t_train_), per = el / static_cast<double>(st.step - step0);
        log << "step " << st.step << "/" << total_steps << "  epoch " << st.epoch << "  elapsed " << format_clock(el)
            << "  ETA " << format_clock(per * static_cast<double>(total_steps - std::min(total_steps, st.step)))
            << "  bootstraps " << st.bootstraps << "  " << std::fixed << std::setprecision(1) << since(ts)
            << " s/step\n"
            << std::flush;
        const bool pause = o.max_steps && st.step - step0 >= o.max_steps && st.next_batch < nb;
        if ((o.checkpoint_every && st.step % o.checkpoint_every == 0 && st.next_batch < nb) || pause)
            checkpoint(o, st, tr.data_id(), observer);
        if (pause) {
            st.paused = true;
            return;
        }
    }
}

TrainState Server::train(BatchSource& tr, BatchSource* val, const LoopOptions& o, Exchange* exchange,
                         TrainObserver* observer, std::ostream& log) {
    if (tr.batches() == 0) throw std::invalid_argument("training set " + tr.kind() + " holds no batch");
    const dist::Comm& c = *comm_;
    const std::size_t epochs = o.epochs ? o.epochs : job_.epochs;
    const std::size_t nb = tr.batches(), G = job_.groups, per_epoch = (nb + G - 1) / G, total = epochs * per_epoch;
    TrainState st;
    // A state the plan can produce: W fresh from bootstrapping (level L), V one level lower
    // (or at L, before the first step), inside the epochs and batches of this run, at a
    // step boundary.
    auto consistent = [&](const TrainState& cs) -> std::string {
        const bool levels = cs.w.level == plan_.lp.L && (cs.v.level == plan_.lp.L || cs.v.level == plan_.lp.w_level);
        if (!levels)
            return "its weights are at levels " + std::to_string(cs.w.level) + " and " + std::to_string(cs.v.level) +
                   ", the plan leaves " + std::to_string(plan_.lp.L) + " and " + std::to_string(plan_.lp.w_level);
        if (cs.next_batch > nb || cs.epoch > epochs + 1 || cs.step > total || (cs.next_batch % G && cs.next_batch < nb))
            return "its position (epoch " + std::to_string(cs.epoch) + ", batch " + std::to_string(cs.next_batch) +
                   ") is outside this run's " + std::to_string(epochs) + " epochs of " + std::to_string(nb) +
                   " batches in steps of " + std::to_string(G);
        return "";
    };
    // Rank 0 reads the checkpoint and sends it to the others (their disks need not hold it).
    bool resumed = false;
    if (o.resume && !o.checkpoint_dir.empty()) {
        std::vector<std::uint8_t> bytes;
        if (c.root() && read_checkpoint(*P_, o.checkpoint_dir, job_, tr.data_id(), st, observer, log, consistent))
            bytes = ckks::serialize(*P_, checkpoint_bundle(job_, tr.data_id(), st, nullptr));
        c.bcast(bytes);
        if (!bytes.empty()) {
            resumed = true;
            if (!c.root()) {
                const CiphertextBundle b = ckks::deserialize_bundle(*P_, bytes);
                check_bundle(b, "rank 0's checkpoint", "checkpoint", job_);
                st = state_from_bundle(*P_, b);
                const std::string why = consistent(st);
                if (!why.empty()) throw std::runtime_error("rank 0's checkpoint: " + why);
            }
        }
    }
    if (!resumed) {
        if (o.resume) log << "no complete checkpoint in " << o.checkpoint_dir << ": starting from the beginning\n";
        st.w = zero_ciphertext(*P_, plan_.lp.L);
        st.v = st.w;
    }
    const auto t_prep = clk::now();
    if (std::vector<CkksBatch>* mem = tr.resident()) {
        std::size_t held = 0;
        for (const auto& b : *mem) held += b.x.empty() ? 0u : 1u;
        if (train::Engine<train::CkksBackend>::rotations_fit(plan_.sh, held, plan_.lp.x_level, P_->N()))
            for (auto& b : *mem)
                if (!b.x.empty()) eng_->prepare(b);
    }
    if (since(t_prep) > 2) log << "rotations of X cached in " << std::fixed << std::setprecision(1) << since(t_prep) << " s\n";
    log << "training: " << epochs << " epoch(s) x " << per_epoch << " step(s), batch " << plan_.sh.batch;
    if (G > 1) log << " x " << G << " groups";
    log << ", lr " << job_.lr << (exchange ? "" : " (no early stopping)") << "; CPU path " << simd_path_name(simd_path())
        << ", threads " << ThreadPool::global().size();
    if (c.size() > 1) log << " per rank, " << c.size() << " ranks";
    log << "\n";
    const std::size_t step0 = st.step;
    t_train_ = clk::now();
    while (!st.stopped && !st.finished && st.epoch <= epochs) {
        run_epoch_steps(st, tr, o, total, observer, step0, log);
        cb_->set_stage(train::Stage::Other);
        if (st.paused) break;
        // End of the epoch: validation through the client (only its stop/continue comes back).
        // Rank 0 talks to the client; the other ranks compute their share of the
        // probabilities when rank 0 asks (1), and learn the decision (2: stop, 3: continue).
        if (val && val->batches() > 0 && (c.size() > 1 ? c.bcast_u64(exchange ? 1 : 0) != 0 : exchange != nullptr)) {
            auto compute = [&] {
                if (c.root() && c.size() > 1) c.bcast_u64_waiting(1);  // the others: compute your share
                auto probs = spread_gather(*val, [&](const CkksBatch& b) { return eng_->forward(st.w, b); });
                st.bootstraps += val->batches();
                return probs;
            };
            bool stop = false;
            if (c.root()) {
                stop = exchange->stop_after_validation(st.epoch, compute);
                if (c.size() > 1) c.bcast_u64_waiting(stop ? 2 : 3);
            } else {  // waits, without spinning, while rank 0 waits for the client
                std::uint64_t cmd;
                while ((cmd = c.bcast_u64_waiting(0)) == 1) compute();
                stop = cmd == 2;
            }
            log << "epoch " << st.epoch << ": the client says " << (stop ? "stop" : "continue") << "\n";
            st.stopped = stop;
        }
        if (observer) observer->after_epoch(st);
        ++st.epoch;
        st.next_batch = 0;
        st.finished = st.epoch > epochs;
        checkpoint(o, st, tr.data_id(), observer);
        if (o.max_steps && st.step - step0 >= o.max_steps && !st.finished && !st.stopped) {
            st.paused = true;
            break;
        }
    }
    if (st.paused)
        log << "paused after " << st.step - step0 << " step(s) of this run (step " << st.step << " of " << total
            << "): --resume continues from the checkpoint\n";
    cb_->set_stage(train::Stage::Other);
    return st;
}

std::vector<ckks::Ciphertext> Server::infer(const ckks::Ciphertext& head, BatchSource& test, std::ostream& log) {
    const std::size_t mine = (test.batches() + static_cast<std::size_t>(comm_->size() - 1 - comm_->rank())) /
                             static_cast<std::size_t>(comm_->size());
    Progress progress(log, "encrypted inference", mine, "batches");
    std::vector<ckks::Ciphertext> out = spread_gather(test, [&](const CkksBatch& b) {
        ckks::Ciphertext ct = eng_->logits(head, b);
        progress.add();
        return ct;
    });
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

CiphertextBundle checkpoint_bundle(const Job& job, std::uint64_t data_id, const TrainState& st,
                                   const TrainObserver* observer) {
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
    return b;
}

TrainState state_from_bundle(const ckks::Params& P, const CiphertextBundle& b) {
    if (b.cts.size() != 2) throw std::runtime_error("expected 2 ciphertexts");
    for (const ckks::Ciphertext& ct : b.cts)
        if (ct.parts.size() != 2 || ct.slots != P.max_slots() || ct.level > P.max_level())
            throw std::runtime_error("a state ciphertext with " + std::to_string(ct.parts.size()) + " parts, " +
                                     std::to_string(ct.slots) + " slots at level " + std::to_string(ct.level) +
                                     " does not match the plan");
    TrainState st;
    st.step = b.get_u64("step");
    st.epoch = b.get_u64("epoch");
    st.next_batch = b.get_u64("next_batch");
    st.bootstraps = b.get_u64("bootstraps");
    st.stopped = b.get("stopped") == "1";
    st.finished = b.get("finished") == "1";
    st.lambda = b.get_f64("lambda");
    st.w = b.cts[0];
    st.v = b.cts[1];
    return st;
}

void write_checkpoint(const ckks::Params& P, const std::string& dir, const Job& job, std::uint64_t data_id,
                      const TrainState& st, const TrainObserver* observer) {
    const CiphertextBundle b = checkpoint_bundle(job, data_id, st, observer);
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
            if (b.get("data_id") == hex64(data_id)) st = state_from_bundle(P, b);
        } catch (const std::exception& e) {
            log << "skipping unreadable checkpoint " << path << ": " << e.what() << "\n";
            continue;
        }
        if (b.get("data_id") != hex64(data_id))
            throw UsageError(path + " was made for another encrypted data set (data id " + b.get("data_id") +
                             ", now " + hex64(data_id) + "): the training set was re-encrypted; start without --resume");
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
