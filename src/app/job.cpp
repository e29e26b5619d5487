// The job and its plan (see bt/app/job.hpp).
#include "bt/app/job.hpp"

#include "bt/app/config.hpp"

#include "bt/app/args.hpp"
#include "bt/os.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <stdexcept>

namespace bt::app {

using ckks::CiphertextBundle;

std::string hex64(std::uint64_t v) {
    char b[20];
    std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
    return b;
}

std::uint64_t parse_hex64(const std::string& s, const std::string& what) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s.c_str(), &end, 16);
    if (s.size() != 16 || *end) throw std::runtime_error(what + ": '" + s + "' is not a 16-digit identifier");
    return v;
}

namespace {

template <class T>
std::string join_list(const std::vector<T>& v) {
    std::string s;
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
    return s;
}

std::vector<int> parse_int_list(const std::string& s, const std::string& what) {
    std::vector<int> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) {
        char* end = nullptr;
        const long v = std::strtol(item.c_str(), &end, 10);
        if (item.empty() || *end || v < 0 || v > 255)
            throw std::runtime_error(what + ": class label '" + item + "' is not in 0..255: the file is corrupt");
        out.push_back(static_cast<int>(v));
    }
    return out;
}

// Names are stored one per line (a name cannot contain a newline: they are checked).
std::string join_names(const std::vector<std::string>& v) {
    std::string s;
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "\n" : "") + v[i];
    return s;
}

std::vector<std::string> split_names(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, '\n')) out.push_back(item);
    return out;
}

}  // namespace

CiphertextBundle Job::bundle() const {
    CiphertextBundle b;
    b.set("kind", "job");
    b.set("job_id", hex64(id));
    b.set("packing_layout", std::to_string(train::kPackingLayout));
    b.set("preset", preset);
    b.set("model", model);
    b.set("classes", join_list(labels));
    b.set("class_names", join_names(class_names));
    b.set("d", std::to_string(d));
    b.set("batch", std::to_string(batch));
    b.set("groups", std::to_string(groups));
    b.set("epochs", std::to_string(epochs));
    b.set("lr", CiphertextBundle::f64(lr));
    b.set("levels_after_bootstrap", std::to_string(L));
    b.set("logit_bound", CiphertextBundle::f64(softmax.V));
    b.set("exp_degree", std::to_string(softmax.exp_degree));
    b.set("coarse_degree", std::to_string(softmax.coarse_degree));
    b.set("inv1_degree", std::to_string(softmax.inv1_degree));
    b.set("inv2_degree", std::to_string(softmax.inv2_degree));
    b.set("bootstrapping", sk_bootstrap ? "secret-key stand-in (INSECURE)" : "CKKS, recommended full-slot configuration");
    b.set("bootstrap_dft_keys", boot_fast_keys ? "per-giant-step" : "horner");
    b.set("weights_bootstrap", sparse_weights ? "sparse-tile" : "full");
    return b;
}

Job Job::from(const CiphertextBundle& b, const std::string& path) {
    if (!b.has("kind") || b.get("kind") != "job")
        throw std::runtime_error(path + " is not a job file (kind '" + (b.has("kind") ? b.get("kind") : "") + "')");
    const std::string layout = b.has("packing_layout") ? b.get("packing_layout") : "1";
    if (layout != std::to_string(train::kPackingLayout))
        throw std::runtime_error(path + ": the client packed this job's data with layout " + layout +
                                 ", this build uses layout " + std::to_string(train::kPackingLayout) +
                                 ": client and server must run the same BlindTuner version (re-run keygen and "
                                 "encrypt with this one)");
    Job j;
    j.id = parse_hex64(b.get("job_id"), path);
    j.preset = b.get("preset");
    j.model = b.get("model");
    j.labels = parse_int_list(b.get("classes"), path);
    if (b.has("class_names")) j.class_names = split_names(b.get("class_names"));
    auto bounded = [&](const char* key, std::uint64_t max) {  // no silent narrowing of huge values
        const std::uint64_t v = b.get_u64(key);
        if (v > max)
            throw std::runtime_error(path + ": " + key + " = " + std::to_string(v) + " is above " + std::to_string(max) +
                                     ": the file is corrupt");
        return v;
    };
    j.d = bounded("d", std::uint64_t{1} << 20);
    j.batch = bounded("batch", std::uint64_t{1} << 24);
    j.groups = b.has("groups") ? bounded("groups", kMaxGroups) : 1;  // files of 0.4.0 and before: one group
    j.epochs = bounded("epochs", 100000);
    j.lr = b.get_f64("lr");
    j.L = bounded("levels_after_bootstrap", 64);
    j.softmax.V = b.get_f64("logit_bound");
    j.softmax.exp_degree = static_cast<int>(bounded("exp_degree", 1023));
    j.softmax.coarse_degree = static_cast<int>(bounded("coarse_degree", 1023));
    j.softmax.inv1_degree = static_cast<int>(bounded("inv1_degree", 1023));
    j.softmax.inv2_degree = static_cast<int>(bounded("inv2_degree", 1023));
    j.sk_bootstrap = b.has("bootstrapping") && b.get("bootstrapping").rfind("secret-key", 0) == 0;
    if (b.has("bootstrap_dft_keys")) {  // files of 0.4.0 and before: Horner (the only form then)
        const std::string k = b.get("bootstrap_dft_keys");
        if (k != "horner" && k != "per-giant-step")
            throw std::runtime_error(path + ": bootstrap_dft_keys = '" + k +
                                     "' (expected 'horner' or 'per-giant-step'): the file is corrupt or from a newer version");
        j.boot_fast_keys = k == "per-giant-step";
    }
    if (b.has("weights_bootstrap")) {  // files of 0.5 and before: the full-slot bootstrapper
        const std::string k = b.get("weights_bootstrap");
        if (k != "full" && k != "sparse-tile")
            throw std::runtime_error(path + ": weights_bootstrap = '" + k +
                                     "' (expected 'full' or 'sparse-tile'): the file is corrupt or from a newer version");
        j.sparse_weights = k == "sparse-tile";
    }
    const bool names_ok = j.class_names.empty() || j.class_names.size() == j.labels.size();
    if (j.labels.size() < 2 || j.d == 0 || j.batch == 0 || j.groups == 0 || j.epochs == 0 || !std::isfinite(j.lr) || !(j.lr > 0) ||
        !std::isfinite(j.softmax.V) || !(j.softmax.V > 0) || !names_ok)
        throw std::runtime_error(path + ": implausible job (classes, width, batch, epochs, rates or degrees): the "
                                 "file is corrupt");
    return j;
}

void check_bundle(const CiphertextBundle& b, const std::string& path, const std::string& kind, const Job& job) {
    if (!b.has("kind") || b.get("kind") != kind)
        throw std::runtime_error(path + ": holds a '" + (b.has("kind") ? b.get("kind") : std::string("?")) +
                                 "', expected a '" + kind + "': check which file was given");
    if (!b.has("job_id") || b.get("job_id") != hex64(job.id))
        throw std::runtime_error(path + ": made for job " + (b.has("job_id") ? b.get("job_id") : std::string("?")) +
                                 ", these keys are for job " + hex64(job.id) +
                                 ": use the files of one keygen together (re-run encrypt with these keys)");
}

CiphertextBundle load_bundle(const ckks::Params& P, const std::string& path, const std::string& kind, const Job& job,
                             const std::string& hint) {
    if (!path_exists(path)) throw UsageError(kind + " " + path + " not found: " + hint);
    CiphertextBundle b = ckks::deserialize_bundle(P, read_file(path));
    check_bundle(b, path, kind, job);
    return b;
}

Plan make_plan(const ckks::Params& P, const Job& job) {
    Plan p;
    try {
        p.sh = train::EncShape::make(P.max_slots(), job.d, job.classes(), job.batch);
        p.sp = train::SoftmaxPolys::build(job.softmax, job.classes(), p.sh.cpad);
    } catch (const std::invalid_argument& e) {
        throw UsageError(std::string(e.what()) + " (parameters " + P.name() + ")");
    }
    p.lp = train::LevelPlan::make(p.sp, job.L);
    if (!p.lp.feasible)
        throw UsageError("level plan not feasible with " + std::to_string(job.L) + " levels after bootstrapping: " +
                         p.lp.problem + "; choose a preset with more levels or lower polynomial degrees");
    p.per_step = train::dry_run_step(p.sh, p.sp, p.steps);
    std::map<long, std::size_t> uses;
    const std::map<long, std::size_t> levels = train::rotation_levels(p.sh, p.sp, p.lp, &uses);
    for (long st : p.steps) {
        const auto it = levels.find(st);
        p.step_levels.push_back(it == levels.end() ? p.lp.L : std::min(it->second, p.lp.L));
        const auto u = uses.find(st);
        p.step_uses.push_back(u == uses.end() ? 0 : u->second);
    }
    return p;
}

std::size_t Plan::train_key_bytes(const ckks::Params& P) const {
    std::size_t b = 0;
    for (std::size_t l : step_levels) b += ckks::switching_key_bytes(P, l);
    return b;
}

std::size_t Plan::hot_train_key_bytes(const ckks::Params& P) const {
    std::size_t b = 0;
    for (std::size_t i = 0; i < step_levels.size(); ++i)
        if (hot_key(i)) b += ckks::switching_key_bytes(P, step_levels[i]);
    return b;
}

std::string Plan::describe() const {
    std::ostringstream o;
    o << "shape: " << sh.describe() << "\n"
      << sp.describe() << "\n"
      << lp.describe() << "\n"
      << "per step: " << per_step.describe() << "; " << steps.size() << " rotation keys for training";
    std::map<std::size_t, std::size_t> by_level;
    for (std::size_t l : step_levels) ++by_level[l];
    o << " (each limited to the level it is used at:";
    for (auto it = by_level.rbegin(); it != by_level.rend(); ++it) o << " " << it->second << " at " << it->first;
    std::size_t hot = 0, hot_uses = 0, uses = 0;
    for (std::size_t i = 0; i < step_uses.size(); ++i) {
        uses += step_uses[i];
        if (hot_key(i)) ++hot, hot_uses += step_uses[i];
    }
    o << "; " << hot << " used at least " << kHotKeyUses << " times a step, " << hot_uses << " of its " << uses
      << " key switches)";
    return o.str();
}

std::unique_ptr<ckks::CkksBootstrapper> make_bootstrapper(const ckks::ParamsPtr& P, const Job& job, bool compact) {
    ckks::BootstrapConfig c = job.boot_fast_keys ? ckks::speed_bootstrap_config(0) : ckks::recommended_bootstrap_config(0);
    c.compact_cts = c.compact_stc = compact;
    return std::make_unique<ckks::CkksBootstrapper>(P, c);
}

std::unique_ptr<ckks::CkksBootstrapper> make_weights_bootstrapper(const ckks::ParamsPtr& P, const Job& job,
                                                                  const Plan& plan) {
    const std::size_t tile = plan.sh.tile_slots();
    if (!job.sparse_weights || job.sk_bootstrap || tile >= P->max_slots()) return nullptr;
    ckks::BootstrapConfig c = job.boot_fast_keys ? ckks::speed_bootstrap_config(tile) : ckks::recommended_bootstrap_config(tile);
    c.compact_cts = c.compact_stc = true;
    auto ws = std::make_unique<ckks::CkksBootstrapper>(P, c);
    if (ws->output_level() != job.L)
        throw UsageError("the weights' sparse bootstrapping (" + std::to_string(tile) + " slots) returns to level " +
                         std::to_string(ws->output_level()) + ", the job was planned for " + std::to_string(job.L) +
                         ": plan the job without it");
    return ws;
}

}  // namespace bt::app
