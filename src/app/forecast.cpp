// The resource forecast (see bt/app/forecast.hpp).
//
// Model (unit costs from calibrate(), on this machine and thread count):
//   key of level l        key_top · w(l)/w(top),  w(l) = digits(l)·(l + 1 + p)  (limb-NTTs made)
//   encryption            encrypt_x per ciphertext
//   bootstrap (CKKS)      kBootKeySwitches · ks_top, or · ks_top_seeded with seeded keys  (the full-slot bootstrap of the secure
//                         preset costs about as much as that many key switches at the top)
//   rest of a step        kStepFactor · (rotations + relinearizations + ½·hoisted) · ks_train
//   key generation        kKeygenFactor · Σ over the keys of the key cost above
//   working set           kWorkingCiphertexts top-level ciphertexts + the model + the images
// The constants were fitted on the default task (N16_QP1735_T_enc, 2 threads, AMD EPYC
// Zen and Intel Xeon): see the README for forecast against measurement.
#include "bt/app/forecast.hpp"

#include "bt/app/args.hpp"
#include "bt/app/client.hpp"
#include "bt/app/progress.hpp"
#include "bt/ckks/encryptor.hpp"
#include "bt/ckks/keys.hpp"
#include "bt/os.hpp"
#include "bt/train/training.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>

namespace bt::app {

namespace {

constexpr double kBootKeySwitches = 100;    // fitted (see above)
constexpr double kStepFactor = 1.0;         // fitted
constexpr double kKeygenFactor = 1.1;       // fitted: sampling and the relinearization key around the calibrated key
constexpr double kWorkingCiphertexts = 40;  // fitted: temporaries of bootstrapping and a step
constexpr std::size_t kFixedBytes = std::size_t{200} << 20;  // program, thread stacks, allocator slack

using clk = std::chrono::steady_clock;
double since(clk::time_point t) { return std::chrono::duration<double>(clk::now() - t).count(); }

std::size_t ct_bytes(const ckks::Params& P, std::size_t level) { return 2 * (level + 1) * P.N() * sizeof(std::uint64_t); }

double key_weight(const ckks::Params& P, std::size_t level) {
    const std::size_t l = std::min(level, P.max_level());
    return static_cast<double>(P.digits_at(l) * (l + 1 + P.p_count()));
}

std::size_t batches_of(std::size_t rows, std::size_t per) { return rows == 0 ? 0 : (rows + per - 1) / per; }

}  // namespace

Calibration calibrate(const ckks::ParamsPtr& P, const Plan& plan, const nn::ViT* model) {
    const auto t_all = clk::now();
    Calibration c;
    ckks::KeyGenerator kg(P);  // OS randomness: a throw-away key that only times the machine
    const ckks::SecretKey sk = kg.secret_key();
    const std::vector<std::uint64_t> g = kg.galois_elements_for_steps({1});
    auto t = clk::now();
    const ckks::GaloisKeys gk = kg.galois_keys(sk, g, P->max_level());
    c.key_top = since(t);
    const ckks::Encoder enc(P);
    ckks::Encryptor encr(P, sk);
    const ckks::Evaluator ev(P, nullptr, &gk);
    const std::vector<double> zeros(P->max_slots(), 0.0);
    t = clk::now();
    const ckks::Ciphertext cx = encr.encrypt(enc.encode(zeros, plan.lp.x_level));
    c.encrypt_x = since(t);
    auto time_rotation = [&](std::size_t level) {
        const ckks::Ciphertext ct = encr.encrypt(enc.encode(zeros, level));
        double best = 1e300;
        for (int r = 0; r < 2; ++r) {
            const auto t0 = clk::now();
            (void)ev.rotate(ct, 1);
            best = std::min(best, since(t0));
        }
        return best;
    };
    c.ks_top = time_rotation(P->max_level());
    {
        ckks::GaloisKeys seeded = gk;
        for (auto& kv : seeded.keys) ckks::drop_uniform_halves(kv.second);
        const ckks::Evaluator evs(P, nullptr, &seeded);
        const ckks::Ciphertext ct = encr.encrypt(enc.encode(zeros, P->max_level()));
        double best = 1e300;
        for (int r = 0; r < 2; ++r) {
            const auto t0 = clk::now();
            (void)evs.rotate(ct, 1);
            best = std::min(best, since(t0));
        }
        c.ks_top_seeded = best;
    }
    c.ks_train = time_rotation(std::min(plan.lp.L, P->max_level()));
    if (model) {
        const nn::ViTConfig& mc = model->config;
        const std::size_t n = 512, side = mc.image_size;  // the chunk the client extracts at once
        std::vector<std::uint8_t> images(n * side * side, 128);
        std::vector<float> out(n * mc.width);
        t = clk::now();
        nn::extract_features_u8(*model, images.data(), n, side, side, 1, out.data());
        c.feature = since(t) / static_cast<double>(n);
    }
    c.seconds = since(t_all);
    return c;
}

std::string Calibration::describe() const {
    char b[256];
    std::snprintf(b, sizeof b,
                  "calibration (%.1f s): a top-level key %.2f s, a key switch %.0f ms at the top (%.0f ms with a "
                  "seeded key) and %.0f ms at the training level, an encryption %.0f ms, an image %.2f ms",
                  seconds, key_top, 1e3 * ks_top, 1e3 * ks_top_seeded, 1e3 * ks_train, 1e3 * encrypt_x, 1e3 * feature);
    return b;
}

Forecast make_forecast(Phase phase, const ckks::Params& P, const Job& job, const Plan& plan,
                       const ckks::CkksBootstrapper* bs, const Workload& w, const Calibration& cal,
                       const ckks::CkksBootstrapper* ws) {
    Forecast f;
    f.phase = phase;
    const train::EncShape& sh = plan.sh;
    const std::size_t L = plan.lp.L, xl = plan.lp.x_level, yl = plan.lp.y_label_level;
    const std::size_t per_val = sh.blocks * sh.s0;
    const std::size_t nb = batches_of(w.train_rows, job.batch), nv = batches_of(w.val_rows, per_val);
    const std::size_t nt = batches_of(w.test_rows, per_val);
    f.epochs = job.epochs;
    // A step: `groups` groups (logits, softmax and its full bootstrap each), one update
    // (the weights' sparse bootstrap).
    const std::size_t G = std::max<std::size_t>(job.groups, 1);
    f.steps = (nb + G - 1) / G * job.epochs;
    f.bootstraps = nb * job.epochs * plan.per_step.boot_full + f.steps * plan.per_step.boot_sparse + job.epochs * nv;
    // ---- memory
    const std::size_t train_keys = plan.train_key_bytes(P);
    std::size_t boot_keys = bs ? bs->key_bytes() : ckks::switching_key_bytes(P, L);
    if (bs && w.seeded_boot_keys)  // the rotation keys' and the top-level encapsulation key's a_j are not held
        boot_keys -= bs->galois_key_bytes() - bs->galois_key_bytes(true) +
                     (bs->encapsulation_ring() ? (ckks::switching_key_bytes(*bs->encapsulation_ring(), 0) +
                                                  ckks::switching_key_bytes(P, P.max_level())) / 2
                                               : 0);
    if (bs && w.seeded_all_keys) boot_keys = bs->key_bytes() / 2;  // b_j only, every key
    if (bs && ws) {  // the weights' bootstrapper: the rotation keys the first's lack
        const std::vector<std::uint64_t> sd = ws->seeded_elements();
        for (const auto& [g, level] : extra_galois_keys(*bs, *ws)) {
            const bool seeded = w.seeded_all_keys || (w.seeded_boot_keys && std::find(sd.begin(), sd.end(), g) != sd.end());
            boot_keys += ckks::switching_key_bytes(P, level) / (seeded ? 2 : 1);
        }
    }
    // Seeded: b_j only, but for the keys a step uses many times (Plan::hot_key).
    const std::size_t hot_keys = plan.hot_train_key_bytes(P);
    const std::size_t train_keys_held = w.seeded_all_keys    ? train_keys / 2
                                        : w.seeded_boot_keys ? (train_keys - hot_keys) / 2 + hot_keys
                                                             : train_keys;
    const std::size_t train_data = nb * (sh.blocks * ct_bytes(P, xl) + ct_bytes(P, yl));
    const std::size_t val_data = nv * sh.blocks * ct_bytes(P, xl);
    const std::size_t test_data = nt * sh.blocks * ct_bytes(P, xl);
    const bool cached = train::Engine<train::CkksBackend>::rotations_fit(sh, nb, xl, P.N());
    const std::size_t babies = train::logit_baby_steps(sh.cpad);
    // Not cached: the logits hand their rotations of X to the gradient at its level.
    const std::size_t kept = (babies - 1) * sh.blocks * ct_bytes(P, plan.lp.d_level);
    const std::size_t working = static_cast<std::size_t>(kWorkingCiphertexts * static_cast<double>(ct_bytes(P, P.max_level()))) +
                                kFixedBytes;
    f.bootstrap_bytes = (bs ? (w.precomputed_transforms ? bs->precomputed_bytes() : bs->memory_bytes()) : 0) +
                        (ws ? ws->memory_bytes() : 0);
    switch (phase) {
        case Phase::OneProcess:
        case Phase::Train:
            f.key_bytes = train_keys_held + boot_keys;
            // Streamed: the batch in use and the one read ahead; no cached rotations.
            f.data_bytes = (w.stream_train ? std::min<std::size_t>(nb, 2) * train_data / std::max<std::size_t>(nb, 1)
                                           : train_data) +
                           val_data + (w.encrypt_test ? test_data : 0);
            f.cache_bytes = cached && !w.stream_train ? (babies - 1) * sh.blocks * nb * ct_bytes(P, xl) : 0;
            f.working_bytes = working + (f.cache_bytes ? 0 : kept) + (phase == Phase::OneProcess ? w.dataset_bytes : 0);
            if (phase == Phase::OneProcess)  // float64: features (+ bias) of every split, the twin's batches packed in slots
                f.plain_bytes = ((w.train_rows + w.val_rows + w.test_rows) * (job.d + 1) +
                                 (nb + nv) * (sh.blocks + 1) * sh.slots) * sizeof(double);
            break;
        case Phase::Keygen:
            // Keys made for files are held seeded (b_j only; one key expanded at a time).
            f.key_bytes = (train_keys + boot_keys) / 2 + ckks::switching_key_bytes(P, P.max_level());
            f.working_bytes = kFixedBytes;
            break;
        case Phase::Encrypt:
            f.data_bytes = (train_data + val_data + test_data) * 3 / 2;  // ciphertexts + their files' bytes
            f.working_bytes = kFixedBytes + w.dataset_bytes;
            break;
        case Phase::Infer:
            f.key_bytes = train_keys + ckks::switching_key_bytes(P, L);
            f.data_bytes = 2 * test_data;
            f.working_bytes = working;
            f.bootstrap_bytes = 0;
            break;
    }
    f.peak_bytes = f.key_bytes + f.data_bytes + f.cache_bytes + f.bootstrap_bytes + f.working_bytes + f.plain_bytes;
    // ---- disk (seed-compressed files: keys and fresh ciphertexts store half their words)
    const std::size_t ckpt = 2 * (2 * ct_bytes(P, L) + (phase == Phase::OneProcess ? 4 * sh.slots * 24 : 0));
    if (phase == Phase::Keygen) f.disk_bytes = (train_keys + boot_keys) / 2;
    if (phase == Phase::Encrypt) f.disk_bytes = (train_data + val_data + test_data) / 2;
    if (phase == Phase::Train || phase == Phase::OneProcess) f.disk_bytes = ckpt + ct_bytes(P, L);
    if (phase == Phase::OneProcess && w.stream_train) f.disk_bytes += train_data / 2;  // the seed-compressed spill file
    if (phase == Phase::Infer) f.disk_bytes = test_data / (sh.blocks ? sh.blocks : 1);
    // ---- time
    const double boot =
        w.sk_bootstrap ? 2 * cal.encrypt_x
                       : kBootKeySwitches * (w.seeded_boot_keys || w.seeded_all_keys ? cal.ks_top_seeded : cal.ks_top);
    // Every key seeded: each key switch regenerates its a_j (the top level's measured ratio).
    const double seeded_factor = w.seeded_all_keys && cal.ks_top > 0 ? cal.ks_top_seeded / cal.ks_top : 1.0;
    const train::OpCounts& c = plan.per_step;
    const double switches = static_cast<double>(c.rotations + c.relins) + 0.5 * static_cast<double>(c.hoisted_rotations);
    const double rest = kStepFactor * switches * cal.ks_train * seeded_factor;
    double keygen = 0;
    if (bs) {
        keygen += cal.key_top * key_weight(P, P.max_level() - 3) / key_weight(P, P.max_level());  // relinearization
        keygen += cal.key_top * static_cast<double>(bs->galois_elements().size() + (bs->encapsulation_ring() ? 1 : 0));
        if (ws)
            for (const auto& kl : extra_galois_keys(*bs, *ws))
                keygen += cal.key_top * key_weight(P, kl.second) / key_weight(P, P.max_level());
    } else {
        keygen += cal.key_top * key_weight(P, L) / key_weight(P, P.max_level());
    }
    for (std::size_t l : plan.step_levels) keygen += cal.key_top * key_weight(P, l) / key_weight(P, P.max_level());
    keygen *= kKeygenFactor;
    const double n_ct = static_cast<double>(nb * (sh.blocks + 1) + nv * sh.blocks + (w.encrypt_test ? nt * sh.blocks : 0));
    const double images = static_cast<double>(w.train_rows + w.val_rows + w.test_rows);
    const double prepare = cached ? 0.5 * static_cast<double>((babies - 1) * sh.blocks * nb) * cal.ks_train : 0;
    const double training = static_cast<double>(nb * job.epochs) * (static_cast<double>(plan.per_step.boot_full) * boot + rest) +
                            static_cast<double>(f.steps * plan.per_step.boot_sparse) * boot +
                            static_cast<double>(job.epochs * nv) * (boot + 0.5 * rest) + prepare;
    switch (phase) {
        case Phase::OneProcess:
            f.seconds = {{"features", images * cal.feature}, {"keygen", keygen}, {"encrypt", n_ct * cal.encrypt_x},
                         {"training", training}};
            if (w.encrypt_test) f.seconds.emplace_back("inference", static_cast<double>(nt) * 0.5 * rest);
            break;
        case Phase::Keygen: f.seconds = {{"keygen", keygen}}; break;
        case Phase::Encrypt:
            f.seconds = {{"features", images * cal.feature},
                         {"encrypt", (n_ct + static_cast<double>(nt * sh.blocks)) * cal.encrypt_x}};
            break;
        case Phase::Train: f.seconds = {{"training", training}}; break;
        case Phase::Infer: f.seconds = {{"inference", static_cast<double>(nt) * 0.5 * rest}}; break;
    }
    f.total_seconds = cal.seconds;
    for (const auto& [k, v] : f.seconds) f.total_seconds += v;
    return f;
}

std::string Forecast::describe() const {
    std::ostringstream o;
    char b[64];
    o << "forecast: ";
    if (phase == Phase::OneProcess || phase == Phase::Train)
        o << steps << " steps (" << epochs << " epochs), " << bootstraps << " bootstraps; ";
    o << "peak memory " << format_bytes(peak_bytes) << " (keys " << format_bytes(key_bytes) << ", data "
      << format_bytes(data_bytes);
    if (cache_bytes) o << ", cached rotations " << format_bytes(cache_bytes);
    if (bootstrap_bytes) o << ", bootstrapping transforms " << format_bytes(bootstrap_bytes);
    if (plain_bytes) o << ", plaintext features and twin " << format_bytes(plain_bytes);
    o << ", working set " << format_bytes(working_bytes) << "); disk " << format_bytes(disk_bytes) << "\n";
    std::snprintf(b, sizeof b, "%.0f s", total_seconds);
    o << "forecast: time " << b << " (" << format_clock(total_seconds) << ") on this machine:";
    for (const auto& [k, v] : seconds) {
        std::snprintf(b, sizeof b, " %s %.0f s", k.c_str(), v);
        o << b;
    }
    return o.str();
}

std::vector<std::pair<std::string, double>> Forecast::report_fields() const {
    std::vector<std::pair<std::string, double>> r = {
        {"peak_memory_bytes", static_cast<double>(peak_bytes)}, {"seconds", total_seconds},
        {"key_bytes", static_cast<double>(key_bytes)},           {"data_bytes", static_cast<double>(data_bytes)},
        {"cache_bytes", static_cast<double>(cache_bytes)},       {"bootstrap_bytes", static_cast<double>(bootstrap_bytes)},
        {"working_bytes", static_cast<double>(working_bytes)},   {"disk_bytes", static_cast<double>(disk_bytes)},
        {"plain_bytes", static_cast<double>(plain_bytes)},
        {"steps", static_cast<double>(steps)},                   {"bootstraps", static_cast<double>(bootstraps)}};
    for (const auto& [k, v] : seconds) r.emplace_back("seconds_" + k, v);
    return r;
}

void check_memory(const Forecast& f, std::size_t max_memory, bool force, std::ostream& log) {
    const std::size_t limit = max_memory ? max_memory : available_memory_bytes();
    if (limit == 0 || f.peak_bytes <= limit) return;
    const std::string what = "the forecast peak memory " + format_bytes(f.peak_bytes) + " exceeds " +
                             (max_memory ? "--max-memory " : "the memory available on this machine, ") +
                             format_bytes(limit);
    if (force) {
        log << "WARNING: " << what << "; continuing because of --force (the run may be killed by the OOM killer)\n";
        return;
    }
    throw UsageError(what + ". Alternatives: a smaller training shape (--batch, --classes), a trial with "
                            "--insecure-sk-bootstrap (no bootstrapping keys; not private), the roles flow "
                            "(bt_train keygen/encrypt here, train on a server with more memory), or --force to try "
                            "anyway");
}

}  // namespace bt::app
