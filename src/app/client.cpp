// The client's side of the flow (see bt/app/client.hpp).
#include "bt/app/client.hpp"

#include "bt/app/args.hpp"
#include "bt/app/data.hpp"
#include "bt/app/progress.hpp"
#include "bt/ckks/keys.hpp"
#include "bt/json.hpp"
#include "bt/hash.hpp"
#include "bt/os.hpp"
#include "bt/nn/safetensors.hpp"
#include "bt/secure.hpp"
#include "bt/train/training.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iomanip>
#include <map>
#include <sstream>
#include <stdexcept>

namespace bt::app {

using ckks::CiphertextBundle;

// ================================================================ randomness

namespace {


}  // namespace

Randomness Randomness::os() { return Randomness(); }

Randomness Randomness::derived(const Seed& master, bool insecure_test) {
    Randomness r;
    r.master_ = master;
    r.derived_ = true;
    r.insecure_ = insecure_test;
    return r;
}

Randomness::~Randomness() { secure_wipe(master_.data(), master_.size()); }

Prng Randomness::stream(const std::string& purpose) const {
    return derived_ ? Prng(master_, fnv1a64(purpose)) : Prng::from_os();
}

std::uint64_t Randomness::id(const std::string& purpose) const { return stream("id/" + purpose).next_u64(); }

// ================================================================ the job

ClientPlan plan_client_job(const RunConfig& cfg, std::uint64_t job_id) {
    check_config(cfg);
    ClientPlan cp;
    cp.P = resolve_params(cfg, cp.preset_name);
    if (cfg.classes.empty()) throw std::logic_error("plan_client_job: classes not resolved (with_dataset_classes)");
    // Precomputed features (--data in the features format) bring their own width: no transformer.
    const std::size_t feature_d = precomputed_feature_width(cfg);
    const std::string model_path = feature_d ? std::string(kNoModel) : model_or_default(cfg);
    if (!feature_d) cp.model = load_model(model_path);
    Job& j = cp.job;
    j.id = job_id;
    j.preset = cp.preset_name;
    j.model = model_path;
    j.labels = cfg.classes;
    j.class_names = cfg.class_names;
    if (j.class_names.empty())
        for (int c : cfg.classes) j.class_names.push_back(std::to_string(c));
    j.d = feature_d ? feature_d : cp.model.config.width;
    j.batch = cfg.batch;
    j.groups = cfg.groups;
    j.epochs = cfg.epochs;
    j.lr = cfg.lr;
    j.softmax = cfg.softmax;
    j.sk_bootstrap = cfg.sk_bootstrap;
    j.boot_fast_keys = cfg.boot_fast_keys && !cfg.sk_bootstrap;
    j.sparse_weights = cfg.sparse_weights && !cfg.sk_bootstrap;
    if (cfg.sk_bootstrap) {
        j.L = cp.P->top_scale_level();
    } else {
        // One full-slot bootstrapper serves the softmax, and the weights too (a tiled W is a
        // valid full-slot vector) unless the job gives them their own sparse (c'·s1-slot)
        // bootstrapper (Job::sparse_weights, --prefer speed: faster, ~4 GB more keys at N = 2^16).
        try {
            cp.bs = make_bootstrapper(cp.P, j);
        } catch (const std::exception& e) {
            throw UsageError("CKKS parameters " + cp.preset_name + " cannot bootstrap (" + e.what() +
                             "): choose a bootstrappable preset (default " + default_training_preset() +
                             ") or --insecure-sk-bootstrap for a trial");
        }
        j.L = cp.bs->output_level();
    }
    try {
        cp.plan = make_plan(*cp.P, j);
    } catch (const UsageError&) {
        // The final inverse at degree 31 needs one level more than at 15; rings with one
        // level less after bootstrapping (the small test rings) get degree 15 (its interval
        // is as wide, its relative error larger: see SoftmaxConfig). The job records it.
        if (j.softmax.inv2_degree != train::SoftmaxConfig{}.inv2_degree) throw;
        j.softmax.inv2_degree = 15;
        cp.plan = make_plan(*cp.P, j);
    }
    cp.ws = make_weights_bootstrapper(cp.P, j, cp.plan);
    if (!cp.ws) j.sparse_weights = false;  // the tile fills the slots: nothing to gain
    return cp;
}

std::string ClientPlan::describe() const {
    std::ostringstream o;
    o << "CKKS preset " << preset_name << ": " << P->summary() << "\n"
      << (job.model == kNoModel ? "no model: " + std::to_string(job.d) + "-d precomputed features (d sets the packing, the "
                                  "rotation keys and the counts below)\n"
                                : "model " + job.model + ": " + std::to_string(job.d) + "-d features\n")
      << plan.describe() << "\n"
      << (job.groups > 1 ? "groups: " + std::to_string(job.groups) + " groups of " + std::to_string(job.batch) +
                               " rows per step (global batch " + std::to_string(job.step_rows()) +
                               "): a softmax and its bootstrap per group, one update per step\n"
                         : std::string())
      << "bootstrapping: "
      << (bs ? bs->describe() : std::string("SECRET-KEY STAND-IN (INSECURE: decrypts on the server side; tests only)"));
    if (ws) o << "\nthe weights' bootstrapping (sparse, " << plan.sh.tile_slots() << " slots): " << ws->describe();
    return o.str();
}

// ================================================================ keys

std::size_t EvalKeys::bytes() const {
    return relin.key.size_bytes() + train.size_bytes() + boot.size_bytes() + (has_encaps ? encaps.size_bytes() : 0);
}

ckks::SecretKey make_secret_key(const ckks::ParamsPtr& P, const Randomness& rnd) {
    ckks::KeyGenerator kg(P, rnd.stream("secret-key"));
    return kg.secret_key();
}

std::vector<std::pair<std::uint64_t, std::size_t>> extra_galois_keys(const ckks::CkksBootstrapper& bs,
                                                                      const ckks::CkksBootstrapper& ws) {
    const auto have = bs.galois_key_levels();
    std::vector<std::pair<std::uint64_t, std::size_t>> out;
    for (const auto& [g, level] : ws.galois_key_levels()) {
        bool covered = false;
        for (const auto& h : have) covered = covered || (h.first == g && h.second >= level);
        if (!covered) out.emplace_back(g, level);
    }
    return out;
}

EvalKeys make_eval_keys(const ClientKeys& ck, const ckks::CkksBootstrapper* bs, const Randomness& rnd,
                        std::ostream& log, KeyForm form, const ckks::CkksBootstrapper* ws) {
    const bool seed_boot = form != KeyForm::Expanded, seed_all = form == KeyForm::SeededAll;
    const ckks::ParamsPtr& P = ck.P;
    EvalKeys k;
    ckks::KeyGenerator kg_train(P, rnd.stream("training-keys"));
    const std::vector<std::uint64_t> train_elements = train::galois_elements(kg_train, ck.plan.steps);
    // Each training key limited to the highest level its step is used at, in level order;
    // seeded keys but for those a step uses many times (Plan::hot_key).
    std::map<std::pair<std::size_t, bool>, std::vector<long>> steps_by_level;
    for (std::size_t i = 0; i < ck.plan.steps.size(); ++i)
        steps_by_level[{ck.plan.step_levels[i], ck.plan.hot_key(i)}].push_back(ck.plan.steps[i]);
    const std::size_t boot_count = bs ? bs->galois_elements().size() + (bs->encapsulation_ring() ? 2 : 0) +
                                            (ws ? extra_galois_keys(*bs, *ws).size() : 0)
                                      : 0;
    Progress progress(log, "keys", 1 + boot_count + train_elements.size(), "keys");
    const auto tick = [&progress] { progress.add(); };
    ckks::KeyGenerator kg(P, rnd.stream("bootstrap-keys"));
    if (bs) {
        k.relin = bs->make_relin_key(kg, ck.sk);
        if (seed_all) ckks::drop_uniform_halves(k.relin.key);
        tick();
        k.boot = bs->make_galois_keys(kg, ck.sk, tick, seed_boot, seed_all);
        if (ws) {  // the weights' sparse bootstrapper: its keys the first's do not cover
            ckks::GaloisKeys extra = ws->make_galois_keys(kg, ck.sk, tick, seed_boot, seed_all, &k.boot);
            for (auto& kv : extra.keys) k.boot.keys[kv.first] = std::move(kv.second);
        }
        k.has_boot = true;
        if (bs->encapsulation_ring()) {
            k.encaps = bs->make_encapsulation_keys(kg, ck.sk);
            if (seed_boot) {  // each used once per bootstrap
                ckks::drop_uniform_halves(k.encaps.to_sparse);
                ckks::drop_uniform_halves(k.encaps.to_dense);
            }
            k.has_encaps = true;
            progress.add(2);
        }
    } else {
        k.relin = kg.relin_key(ck.sk, ck.plan.lp.L);
        if (seed_all) ckks::drop_uniform_halves(k.relin.key);
        tick();
    }
    k.train.fingerprint = P->fingerprint();
    for (const auto& [key, steps] : steps_by_level) {
        const bool seeded = seed_all || (seed_boot && !key.second);
        ckks::GaloisKeys g = kg_train.galois_keys(ck.sk, train::galois_elements(kg_train, steps), key.first, tick, seeded);
        for (auto& kv : g.keys) k.train.keys.emplace(kv.first, std::move(kv.second));
    }
    progress.finish(format_bytes(k.bytes()) + " in memory (relinearization " + format_bytes(k.relin.key.size_bytes()) +
                    ", " + std::to_string(k.train.keys.size()) + " training rotations " +
                    format_bytes(k.train.size_bytes()) + ", " + std::to_string(k.boot.keys.size()) +
                    " bootstrapping rotations " + format_bytes(k.boot.size_bytes()) + ", encapsulation " +
                    format_bytes(k.has_encaps ? k.encaps.size_bytes() : 0) + ")");
    return k;
}

void attach_keys(ckks::CkksBootstrapper& bs, const EvalKeys& keys) {
    bs.set_keys(&keys.relin, &keys.boot, keys.has_encaps ? &keys.encaps : nullptr);
}

// ================================================================ data

std::size_t EncSet::rows() const {
    std::size_t n = 0;
    for (const auto& b : batches) n += b.total_rows;
    return n;
}

void encrypt_batches(const ClientKeys& ck, const std::string& kind, const train::Features& f, std::size_t batch_rows,
                     bool with_labels, std::uint64_t data_id, const Randomness& rnd, std::ostream& log,
                     const std::function<void(train::BatchData<train::CkksBackend>&&, std::vector<Seed>&&)>& sink) {
    const train::EncShape& sh = ck.plan.sh;
    const ckks::Encoder enc(ck.P);
    ckks::Encryptor encr(ck.P, ck.sk, rnd.stream("encrypt/" + kind + "/" + hex64(data_id)));
    const auto batches = train::make_batches(f.rows, batch_rows);
    Progress progress(log, "encrypt " + kind, batches.size() * (sh.blocks + (with_labels ? 1 : 0)), "ciphertexts");
    auto encrypt = [&](const std::vector<double>& v, std::size_t level, std::vector<Seed>& seeds) {
        Seed seed;
        ckks::Ciphertext ct = encr.encrypt_symmetric_seeded(enc.encode(v, level, ck.P->nominal_scale(level)), seed);
        seeds.push_back(seed);
        progress.add();
        return ct;
    };
    for (const auto& rows : batches) {
        train::BatchData<train::CkksBackend> bd;
        std::vector<Seed> seeds;
        for (const auto& v : train::pack_x(sh, f, rows)) bd.x.push_back(encrypt(v, ck.plan.lp.x_level, seeds));
        if (with_labels) bd.y = encrypt(train::pack_y(sh, f, rows), ck.plan.lp.y_label_level, seeds);
        bd.rows_valid = train::rows_valid(sh, rows.size());
        bd.total_rows = rows.size();
        sink(std::move(bd), std::move(seeds));
    }
    progress.finish(thousands(f.rows) + " rows, " + std::to_string(batches.size()) + " batch(es)");
}

EncSet encrypt_set(const ClientKeys& ck, const std::string& kind, const train::Features& f, std::size_t batch_rows,
                   bool with_labels, std::uint64_t data_id, const Randomness& rnd, std::ostream& log) {
    EncSet s;
    s.kind = kind;
    s.data_id = data_id;
    encrypt_batches(ck, kind, f, batch_rows, with_labels, data_id, rnd, log,
                    [&s](train::BatchData<train::CkksBackend>&& b, std::vector<Seed>&& seeds) {
                        s.batches.push_back(std::move(b));
                        s.seeds.push_back(std::move(seeds));
                    });
    return s;
}

std::vector<train::BatchData<train::TwinBackend>> twin_set(const Plan& plan, const train::Features& f,
                                                           std::size_t batch_rows) {
    std::vector<train::BatchData<train::TwinBackend>> out;
    for (const auto& rows : train::make_batches(f.rows, batch_rows)) {
        train::BatchData<train::TwinBackend> bd;
        bd.x = train::pack_x(plan.sh, f, rows);
        bd.y = train::pack_y(plan.sh, f, rows);
        bd.rows_valid = train::rows_valid(plan.sh, rows.size());
        bd.total_rows = rows.size();
        out.push_back(std::move(bd));
    }
    return out;
}

train::Head range_precheck(const train::Features& train, const Job& job, std::ostream& log) {
    double spread = 0;
    train::Head exact = train::exact_training(train, train::make_batches(train.rows, job.step_rows()), job.epochs, job.lr, spread);
    try {
        train::check_logit_spread(spread, job.softmax.V);
    } catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
    }
    log << "range pre-check (exact plaintext training): max |z - mean z| = " << std::fixed << std::setprecision(2)
        << spread << " of V = " << job.softmax.V << "\n";
    return exact;
}

// ================================================================ validation

std::vector<double> decrypt_returned(const ClientKeys& ck, const ckks::Ciphertext& ct, std::size_t level, double bound,
                                     const std::string& what, const std::vector<std::size_t>* read,
                                     double* noise_sigma) {
    const ckks::Params& P = *ck.P;
    const double nominal = P.nominal_scale(std::min(level, P.max_level()));
    if (ct.fingerprint != P.fingerprint() || ct.parts.size() != 2 || ct.slots != ck.plan.sh.slots ||
        ct.level != level || !(std::fabs(ct.scale / nominal - 1) <= 0x1p-20))
        throw std::runtime_error(what + ": a ciphertext with " + std::to_string(ct.parts.size()) + " parts, " +
                                 std::to_string(ct.slots) + " slots, level " + std::to_string(ct.level) + ", scale 2^" +
                                 std::to_string(std::log2(ct.scale)) + "; the plan expects 2 parts, " +
                                 std::to_string(ck.plan.sh.slots) + " slots, level " + std::to_string(level) +
                                 " and scale 2^" + std::to_string(std::log2(nominal)) +
                                 ": refused (the server's output does not match the job)");
    const ckks::Encoder enc(ck.P);
    const ckks::Decryptor dec(ck.P, ck.sk);
    std::vector<ckks::cplx> z = enc.decode(dec.decrypt(ct));
    std::vector<double> re(z.size());
    for (std::size_t i = 0; i < z.size(); ++i) re[i] = z[i].real();
    double ss = 0, worst_imag = 0;
    std::size_t bad = z.size();
    const std::size_t n = read ? read->size() : z.size();
    for (std::size_t k = 0; k < n; ++k) {
        const std::size_t i = read ? (*read)[k] : k;
        if (i >= z.size()) throw std::logic_error("decrypt_returned: slot index beyond the slots");
        ss += z[i].imag() * z[i].imag();
        worst_imag = std::max(worst_imag, std::fabs(z[i].imag()));
        if (bad == z.size() && !(std::fabs(re[i]) <= bound && std::fabs(z[i].imag()) <= kReturnedTolerance)) bad = i;
    }
    secure_wipe(z.data(), z.size() * sizeof(ckks::cplx));
    if (bad != re.size()) {
        std::fill(re.begin(), re.end(), 0.0);
        throw std::runtime_error(what + ": decrypts to implausible values (slot " + std::to_string(bad) +
                                 " outside |real| <= " + std::to_string(bound) + ", |imaginary| <= 2^-10; the largest "
                                 "imaginary part is " + std::to_string(worst_imag) +
                                 "): refused, nothing of it is used or released");
    }
    if (noise_sigma) *noise_sigma = std::sqrt(ss / static_cast<double>(std::max<std::size_t>(n, 1)));
    return re;
}

Score score_ciphertexts(const ClientKeys& ck, const std::vector<ckks::Ciphertext>& cts, Returned kind,
                        const std::vector<int>& labels, const std::string& what) {
    const train::EncShape& sh = ck.plan.sh;
    const auto batches = train::make_batches(labels.size(), sh.blocks * sh.s0);
    if (cts.size() != batches.size())
        throw std::runtime_error(what + ": " + std::to_string(cts.size()) + " batches, expected " +
                                 std::to_string(batches.size()) + " for " + std::to_string(labels.size()) + " rows");
    // Probabilities lie in [0, 1] and centred logits in [−1, 1] where they are read (bound 2
    // leaves room for the approximation and noise).
    const std::size_t level = kind == Returned::Probabilities ? ck.plan.lp.p_level : ck.plan.lp.v_level;
    Score s;
    std::size_t correct = 0;
    for (std::size_t k = 0; k < batches.size(); ++k) {
        const std::vector<std::size_t> read = train::scored_slots(sh, batches[k].size());
        const std::vector<double> v =
            decrypt_returned(ck, cts[k], level, 2.0, what + " (batch " + std::to_string(k) + ")", &read);
        train::score_batch(sh, v, labels, batches[k], s.loss, correct);
    }
    s.rows = labels.size();
    if (s.rows) {
        s.loss /= static_cast<double>(s.rows);
        s.accuracy = static_cast<double>(correct) / static_cast<double>(s.rows);
    }
    return s;
}

// ================================================================ the head

ReleasedHead decrypt_head(const ClientKeys& ck, const ckks::Ciphertext& head, bool flooding, double flood_sigma,
                          const std::string& what) {
    ReleasedHead r;
    std::vector<double> re = decrypt_returned(ck, head, ck.plan.lp.L, kMaxHeadWeight, what, nullptr, &r.noise_sigma);
    const std::string bad = train::tiled_head_violation(ck.plan.sh, re, kReturnedTolerance);
    if (!bad.empty()) {
        secure_wipe(re.data(), re.size() * sizeof(double));
        throw std::runtime_error(what + " is not a tiled head: " + bad +
                                 "; refused, nothing of it is released (the server's output does not match the job)");
    }
    if (flooding) {
        // Complex Gaussian noise per slot (see the header); only the real parts are released,
        // so only the real component of each draw is added.
        r.flood_sigma = flood_sigma > 0 ? flood_sigma : kDefaultFloodSigma;
        Prng prng = Prng::from_os();  // never derived: flooding noise must be fresh and unknown
        auto uniform = [&prng] { return (static_cast<double>(prng.next_u64() >> 11) + 0.5) * 0x1p-53; };
        for (double& v : re) {  // Box–Muller: the real component of a complex N(0, σ²) per slot
            const double rr = std::sqrt(-2.0 * std::log(uniform())), th = 2 * M_PI * uniform();
            v += r.flood_sigma * rr * std::cos(th);
        }
    }
    r.head = train::unpack_head(ck.plan.sh, re);
    secure_wipe(re.data(), re.size() * sizeof(double));
    return r;
}

namespace {

std::string join_ints(const std::vector<int>& v) {
    std::string s;
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
    return s;
}

std::string names_json(const std::vector<std::string>& names) {
    std::string s = "[";
    for (std::size_t i = 0; i < names.size(); ++i) s += (i ? "," : "") + json_string(names[i]);
    return s + "]";
}

std::vector<std::string> names_from_json(const std::string& s, const std::string& path) {
    // The array written above: ["a","b",...]. Class names hold no control characters
    // (check_config refuses them), so the only escapes json_string writes are \" and \\.
    std::vector<std::string> out;
    std::size_t i = 0;
    auto fail = [&] { throw std::runtime_error(path + ": malformed class_names metadata: the file is corrupt"); };
    if (s.empty() || s[0] != '[') fail();
    ++i;
    while (i < s.size() && s[i] != ']') {
        if (s[i] == ',') ++i;
        if (i >= s.size() || s[i] != '"') fail();
        std::string name;
        for (++i; i < s.size() && s[i] != '"'; ++i) {
            if (s[i] == '\\' && i + 1 < s.size()) ++i;
            name += s[i];
        }
        if (i >= s.size()) fail();
        ++i;
        out.push_back(name);
    }
    return out;
}

}  // namespace

void write_head(const std::string& path, const ReleasedHead& h, const train::Normalizer& norm, const Job& job,
                const HeadProvenance& prov) {
    const std::size_t C = h.head.classes, d = job.d;
    if (h.head.cols != d + 1 || norm.mean.size() != d || norm.inv_std.size() != d)
        throw std::logic_error("write_head: head or normalizer does not match the job's width");
    std::vector<float> w(C * d), bias(C), mean(d), inv(d);
    for (std::size_t k = 0; k < C; ++k) {
        for (std::size_t j = 0; j < d; ++j) w[k * d + j] = static_cast<float>(h.head.row(k)[j]);
        bias[k] = static_cast<float>(h.head.row(k)[d]);
    }
    for (std::size_t j = 0; j < d; ++j) {
        mean[j] = static_cast<float>(norm.mean[j]);
        inv[j] = static_cast<float>(norm.inv_std[j]);
    }
    const std::map<std::string, std::string> meta = {
        {"format", "bt-head"},
        {"job_id", hex64(job.id)},
        {"classes", join_ints(job.labels)},
        {"class_names", names_json(job.class_names)},
        {"model", job.model},
        {"gain", CiphertextBundle::f64(norm.gain)},
        {"features", "x' = gain * (x - normalizer.mean) * normalizer.inv_std; logits = head.weight x' + head.bias"},
        {"flooding_sigma", h.flood_sigma > 0 ? CiphertextBundle::f64(h.flood_sigma) : "none"},
        {"data", prov.data_dir},
        {"data_format", prov.format},
        {"data_seed", std::to_string(prov.seed)},
        {"test_size", std::to_string(prov.test_size)}};
    nn::write_safetensors(path,
                          {{"head.weight", {C, d}, w.data()},
                           {"head.bias", {C}, bias.data()},
                           {"normalizer.mean", {d}, mean.data()},
                           {"normalizer.inv_std", {d}, inv.data()}},
                          meta);
}

HeadFile read_head(const std::string& path) {
    const nn::SafeTensors t = nn::read_safetensors(path);
    auto meta = [&](const std::string& k) -> std::string {
        const auto it = t.metadata.find(k);
        if (it == t.metadata.end())
            throw std::runtime_error(path + ": no '" + k + "' in the metadata: not a head written by bt_train "
                                                          "(decrypt or the one-process run)");
        return it->second;
    };
    if (meta("format") != "bt-head") throw std::runtime_error(path + ": format '" + meta("format") + "', expected bt-head");
    HeadFile h;
    h.job_id = meta("job_id");
    h.model = meta("model");
    h.flooding = meta("flooding_sigma");
    h.prov.data_dir = meta("data");
    h.prov.test_size = parse_count("test_size in " + path, meta("test_size"), 0, SIZE_MAX);
    if (t.metadata.count("data_format")) h.prov.format = meta("data_format");  // heads from before formats: IDX
    if (t.metadata.count("data_seed")) h.prov.seed = parse_count("data_seed in " + path, meta("data_seed"), 0, SIZE_MAX);
    std::stringstream ss(meta("classes"));
    for (std::string item; std::getline(ss, item, ',');)
        h.labels.push_back(static_cast<int>(parse_count("classes in " + path, item, 0, 255)));
    h.class_names = names_from_json(meta("class_names"), path);
    const nn::Tensor *w = t.find("head.weight"), *b = t.find("head.bias");
    const nn::Tensor *mu = t.find("normalizer.mean"), *is = t.find("normalizer.inv_std");
    const std::size_t C = h.labels.size();
    if (!w || !b || !mu || !is || w->shape.size() != 2 || C < 2)
        throw std::runtime_error(path + ": expected tensors head.weight, head.bias, normalizer.mean, normalizer.inv_std "
                                        "and at least two classes");
    const std::size_t d = w->shape[1];
    if (w->shape[0] != C || b->shape != std::vector<std::size_t>{C} || mu->shape != std::vector<std::size_t>{d} ||
        is->shape != std::vector<std::size_t>{d} || (!h.class_names.empty() && h.class_names.size() != C))
        throw std::runtime_error(path + ": tensor shapes disagree with " + std::to_string(C) +
                                 " classes (head.weight [c, d], head.bias [c], normalizer [d])");
    h.head.classes = C;
    h.head.cols = d + 1;
    h.head.w.assign(C * (d + 1), 0.0);
    for (std::size_t k = 0; k < C; ++k) {
        for (std::size_t j = 0; j < d; ++j) h.head.row(k)[j] = w->data[k * d + j];
        h.head.row(k)[d] = b->data[k];
    }
    {
        const std::string g = meta("gain");
        char* end = nullptr;
        h.norm.gain = std::strtod(g.c_str(), &end);
        if (g.empty() || *end || !std::isfinite(h.norm.gain) || !(h.norm.gain > 0))
            throw std::runtime_error(path + ": gain '" + g + "' is not a positive number: the file is corrupt");
    }
    h.norm.mean.assign(mu->data.begin(), mu->data.end());
    h.norm.inv_std.assign(is->data.begin(), is->data.end());
    for (double v : h.head.w)
        if (!std::isfinite(v)) throw std::runtime_error(path + ": a weight is not a finite number: the file is corrupt");
    return h;
}

train::Head as_stored(const train::Head& h) {
    train::Head r = h;
    for (double& v : r.w) v = static_cast<double>(static_cast<float>(v));
    return r;
}

Evaluation evaluate_head(const train::Head& h, const train::Features& test) {
    Evaluation e;
    e.confusion.assign(h.classes, std::vector<long>(h.classes, 0));
    std::size_t correct = 0;
    for (std::size_t i = 0; i < test.rows; ++i) {
        const int p = train::predict(h, test.row(i));
        ++e.confusion[static_cast<std::size_t>(test.label[i])][static_cast<std::size_t>(p)];
        correct += p == test.label[i];
    }
    e.accuracy = test.rows ? static_cast<double>(correct) / static_cast<double>(test.rows) : 0.0;
    return e;
}

void print_confusion(const Evaluation& e, const std::vector<std::string>& names, std::ostream& log) {
    log << "confusion (rows: true class, columns: predicted):\n      ";
    for (const auto& n : names) log << std::setw(7) << n.substr(0, 6);
    log << "\n";
    for (std::size_t i = 0; i < e.confusion.size(); ++i) {
        log << std::setw(6) << (i < names.size() ? names[i].substr(0, 6) : std::to_string(i));
        for (long v : e.confusion[i]) log << std::setw(7) << v;
        log << "\n";
    }
}

}  // namespace bt::app
