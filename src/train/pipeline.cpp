// The one-process pipeline behind `./bt_train` (see bt/train/pipeline.hpp).
#include "bt/train/pipeline.hpp"

#include "bt/ckks/encryptor.hpp"
#include "bt/ckks/keys.hpp"
#include "bt/cpu.hpp"
#include "bt/nn/idx.hpp"
#include "bt/nn/vit.hpp"
#include "bt/threadpool.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <numeric>
#include <random>
#include <sstream>
#include <stdexcept>

namespace bt::train {

namespace {

using clk = std::chrono::steady_clock;
double since(clk::time_point t) { return std::chrono::duration<double>(clk::now() - t).count(); }

std::string idx_path(const std::string& dir, const std::string& split, bool images) {
    const std::string base = dir + "/" + split + (images ? "-images-idx3-ubyte" : "-labels-idx1-ubyte");
    for (const std::string& p : {base, base + ".gz"})
        if (std::ifstream(p).good()) return p;
    throw std::runtime_error("dataset file " + base + "[.gz] not found: on Debian install it with "
                             "`apt-get install dataset-fashion-mnist`, or pass --data DIR with an IDX dataset in the "
                             "Fashion-MNIST layout ({train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz])");
}

nn::IdxImages subset(const nn::IdxImages& im, const std::vector<std::size_t>& idx) {
    nn::IdxImages s;
    s.rows = im.rows;
    s.cols = im.cols;
    s.count = idx.size();
    s.pixels.reserve(idx.size() * im.rows * im.cols);
    for (std::size_t i : idx) s.pixels.insert(s.pixels.end(), im.image(i), im.image(i) + im.rows * im.cols);
    return s;
}

}  // namespace

std::string mmss(double s) {
    char b[32];
    const long t = static_cast<long>(s + 0.5);
    std::snprintf(b, sizeof b, "%ld:%02ld", t / 60, t % 60);
    return b;
}

std::string mb(std::size_t bytes) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f MB", static_cast<double>(bytes) / 1e6);
    return b;
}

namespace {

}  // namespace

ClientData prepare_client_data(const RunConfig& cfg, std::ostream& log, const Normalizer* given) {
    if (cfg.classes.size() < 2) throw std::invalid_argument("need at least 2 classes (--classes)");
    for (int c : cfg.classes)
        if (c < 0 || c > 255) throw std::invalid_argument("class label " + std::to_string(c) + " outside 0..255");
    const int C = static_cast<int>(cfg.classes.size());
    const auto t = clk::now();
    const nn::IdxImages tr_im = nn::read_idx_images(idx_path(cfg.data_dir, "train", true));
    const nn::IdxLabels tr_lb = nn::read_idx_labels(idx_path(cfg.data_dir, "train", false));
    const nn::IdxImages te_im = nn::read_idx_images(idx_path(cfg.data_dir, "t10k", true));
    const nn::IdxLabels te_lb = nn::read_idx_labels(idx_path(cfg.data_dir, "t10k", false));
    if (tr_im.count != tr_lb.count() || te_im.count != te_lb.count())
        throw std::runtime_error("dataset: image and label counts differ (train " + std::to_string(tr_im.count) + " vs " +
                                 std::to_string(tr_lb.count()) + ", test " + std::to_string(te_im.count) + " vs " +
                                 std::to_string(te_lb.count()) + ")");
    std::vector<int> map(256, -1);
    for (int k = 0; k < C; ++k) {
        if (map[static_cast<std::size_t>(cfg.classes[static_cast<std::size_t>(k)])] >= 0)
            throw std::invalid_argument("class " + std::to_string(cfg.classes[static_cast<std::size_t>(k)]) + " listed twice");
        map[static_cast<std::size_t>(cfg.classes[static_cast<std::size_t>(k)])] = k;
    }
    std::vector<std::size_t> pool, test_idx;
    for (std::size_t i = 0; i < tr_im.count; ++i)
        if (map[tr_lb.labels[i]] >= 0) pool.push_back(i);
    for (std::size_t i = 0; i < te_im.count; ++i)
        if (map[te_lb.labels[i]] >= 0) test_idx.push_back(i);
    if (pool.empty() || test_idx.empty())
        throw std::invalid_argument("no images of the chosen classes in the dataset (check --classes)");
    std::mt19937_64 rng(cfg.seed);
    std::shuffle(pool.begin(), pool.end(), rng);
    if (cfg.val_size + 1 > pool.size())
        throw std::invalid_argument("validation size " + std::to_string(cfg.val_size) + " leaves no training images (" +
                                    std::to_string(pool.size()) + " available)");
    const std::size_t avail = pool.size() - cfg.val_size;
    const std::size_t n_train = cfg.train_size == 0 ? avail : cfg.train_size;
    if (n_train > avail)
        throw std::invalid_argument("train size " + std::to_string(n_train) + " + validation " +
                                    std::to_string(cfg.val_size) + " exceed the " + std::to_string(pool.size()) +
                                    " images of the chosen classes");
    std::vector<std::size_t> val_idx(pool.begin(), pool.begin() + static_cast<long>(cfg.val_size));
    std::vector<std::size_t> train_idx(pool.begin() + static_cast<long>(cfg.val_size),
                                       pool.begin() + static_cast<long>(cfg.val_size + n_train));
    if (cfg.test_size > 0 && cfg.test_size < test_idx.size()) test_idx.resize(cfg.test_size);

    const nn::ViT model = nn::load_vit(cfg.model);
    const std::size_t d = model.config.width;
    auto features_of = [&](const nn::IdxImages& im, const nn::IdxLabels& lb, const std::vector<std::size_t>& idx,
                           std::vector<int>& labels) {
        labels.clear();
        for (std::size_t i : idx) labels.push_back(map[lb.labels[i]]);
        return nn::extract_features(model, subset(im, idx));
    };
    ClientData cd;
    cd.d = d;
    cd.classes = C;
    std::vector<int> l_tr, l_va, l_te;
    if (given) {
        if (given->mean.size() != d)
            throw std::invalid_argument("the stored feature standardisation has " + std::to_string(given->mean.size()) +
                                        " features, the model " + cfg.model + " gives " + std::to_string(d) +
                                        ": use the model the keys were made for");
        cd.norm = *given;
    } else {
        const std::vector<float> f_tr = features_of(tr_im, tr_lb, train_idx, l_tr);
        const std::vector<float> f_va = features_of(tr_im, tr_lb, val_idx, l_va);
        cd.norm = Normalizer::fit(f_tr, train_idx.size(), d, cfg.gain);
        cd.train = cd.norm.apply(f_tr, train_idx.size(), d, l_tr, C);
        cd.val = cd.norm.apply(f_va, val_idx.size(), d, l_va, C);
    }
    const std::vector<float> f_te = features_of(te_im, te_lb, test_idx, l_te);
    cd.test = cd.norm.apply(f_te, test_idx.size(), d, l_te, C);
    cd.seconds = since(t);
    log << "data: " << n_train << " training, " << val_idx.size() << " validation, " << test_idx.size()
        << " test images of classes";
    for (int c : cfg.classes) log << " " << c;
    log << "; features " << d << " (+ bias) from " << cfg.model << " in " << std::fixed << std::setprecision(1)
        << cd.seconds << " s\n";
    return cd;
}

void score_batch(const EncShape& sh, const std::vector<double>& p, const Features& f, const std::vector<std::size_t>& rows,
                 double& loss_sum, std::size_t& correct) {
    for (std::size_t k = 0; k < rows.size(); ++k) {
        const std::size_t b = k / sh.s0, r = k % sh.s0;
        int best = 0;
        double best_p = -1e300, p_true = 0;
        for (std::size_t i = 0; i < sh.cpad; ++i) {
            const int cls = static_cast<int>((r + i) % sh.cpad);
            if (cls >= sh.c) continue;
            const double v = p[r * sh.s1 + sh.offset(b, i)];
            if (v > best_p) best_p = v, best = cls;
            if (cls == f.label[rows[k]]) p_true = v;
        }
        loss_sum += -std::log(std::max(p_true, 1e-12));
        if (best == f.label[rows[k]]) ++correct;
    }
}



std::vector<std::vector<std::size_t>> make_batches(std::size_t n, std::size_t size) {
    std::vector<std::vector<std::size_t>> out;
    for (std::size_t s = 0; s < n; s += size) {
        std::vector<std::size_t> rows;
        for (std::size_t k = s; k < std::min(n, s + size); ++k) rows.push_back(k);
        out.push_back(rows);
    }
    return out;
}

std::vector<std::size_t> rows_valid(const EncShape& sh, std::size_t rows) {
    std::vector<std::size_t> rv;
    for (std::size_t b = 0; b < sh.blocks; ++b) {
        const std::size_t lo = b * sh.s0;
        rv.push_back(rows > lo ? std::min(sh.s0, rows - lo) : 0);
    }
    return rv;
}

double max_logit_spread(const Head& h, const Features& f, const std::vector<std::size_t>& rows) {
    double mx = 0;
    std::vector<double> z(h.classes);
    for (std::size_t r : rows) {
        double mean = 0;
        for (std::size_t k = 0; k < h.classes; ++k) {
            z[k] = 0;
            for (std::size_t j = 0; j < h.cols; ++j) z[k] += h.row(k)[j] * f.row(r)[j];
            mean += z[k] / static_cast<double>(h.classes);
        }
        for (std::size_t k = 0; k < h.classes; ++k) mx = std::max(mx, std::fabs(z[k] - mean));
    }
    return mx;
}

Head exact_training(const Features& f, const std::vector<std::vector<std::size_t>>& batches, std::size_t epochs,
                    double lr, double& spread) {
    Head w, v;
    w.classes = v.classes = static_cast<std::size_t>(f.classes);
    w.cols = v.cols = f.cols;
    w.w.assign(w.classes * w.cols, 0.0);
    v.w = w.w;
    NesterovSchedule ns;
    spread = 0;
    for (std::size_t e = 0; e < epochs; ++e)
        for (const auto& rows : batches) {
            spread = std::max(spread, max_logit_spread(v, f, rows));  // what the step's softmax sees
            nesterov_step(w, v, f, rows, lr, ns.next());
        }
    return w;
}

void check_logit_spread(double spread, double V) {
    if (spread > kSpreadMargin * V) {
        char b[512];
        std::snprintf(b, sizeof b,
                      "range pre-check: exact plaintext training on these data reaches a logit spread max |z - mean z| "
                      "= %.1f, above %.0f%% of the range V = %.0f that the softmax polynomials cover; the encrypted "
                      "run would leave it and diverge. Lower --lr, train fewer --epochs, or raise --logit-bound "
                      "(24 is feasible with the default polynomial degrees)",
                      spread, 100 * kSpreadMargin, V);
        throw std::invalid_argument(b);
    }
}

bool EarlyStopping::stop_after(double val_loss) {
    if (patience == 0) return false;
    if (val_loss < best - 1e-4) {
        best = val_loss;
        bad = 0;
        return false;
    }
    return ++bad >= patience;
}

std::string default_training_preset() { return "N16_QP1735_T_enc"; }

RunResult run_pipeline(const RunConfig& cfg, std::ostream& log) {
    const auto t_start = clk::now();
    RunResult res;
    RunReport& rep = res.report;
    rep.title = "BlindTuner: encrypted fine-tuning of the classification head";
    if (cfg.epochs == 0) throw std::invalid_argument("--epochs must be at least 1");
    if (!(cfg.lr > 0)) throw std::invalid_argument("--lr must be positive");

    // ------------------------------------------------ client: data and frozen features
    const ClientData cd = prepare_client_data(cfg, log);
    const std::size_t d = cd.d, n_train = cd.train.rows;
    const int C = cd.classes;
    const Features &Ftr = cd.train, &Fva = cd.val, &Fte = cd.test;
    const double t_features = cd.seconds;
    auto t = clk::now();

    // ------------------------------------------------ plan (before any key or encryption)
    const std::string preset_name =
        cfg.params ? cfg.params->name : (cfg.preset.empty() ? default_training_preset() : cfg.preset);
    const ckks::ParamsPtr P = cfg.params ? ckks::Params::create(*cfg.params) : ckks::preset(preset_name);
    const EncShape sh = EncShape::make(P->max_slots(), d, C, cfg.batch);
    const SoftmaxPolys sp = SoftmaxPolys::build(cfg.softmax, C, sh.cpad);
    std::unique_ptr<ckks::CkksBootstrapper> bs_full;
    std::size_t L = 0;
    if (cfg.sk_bootstrap) {
        L = P->top_scale_level();
    } else {
        bs_full = std::make_unique<ckks::CkksBootstrapper>(P, ckks::recommended_bootstrap_config(0));
        // One full-slot bootstrapper serves both the softmax and the weights (a tiled W is a
        // valid full-slot vector): one key set. A second, sparse (c'·s1-slot) bootstrapper
        // would be faster for W but doubles the bootstrapping key memory (~6 GB more).
        L = bs_full->output_level();
    }
    const LevelPlan plan = LevelPlan::make(sp, L);
    // Dry run of one step in the twin: the exact rotations needed (validation uses a subset).
    std::vector<long> steps;
    const OpCounts per_step = dry_run_step(sh, sp, steps);
    log << "CPU path " << simd_path_name(simd_path()) << ", threads " << ThreadPool::global().size() << "\n"
        << "CKKS preset " << preset_name << ": " << P->summary() << "\n"
        << "shape: " << sh.describe() << "\n"
        << sp.describe() << "\n"
        << plan.describe() << "\n"
        << "per step: " << per_step.describe() << "; " << steps.size() << " rotation keys for training\n"
        << "bootstrapping: "
        << (cfg.sk_bootstrap ? std::string("SECRET-KEY STAND-IN (INSECURE: decrypts on the server side; tests only)")
                             : bs_full->describe())
        << "\n";
    if (!plan.feasible) throw std::invalid_argument("level plan not feasible: " + plan.problem);
    rep.config = {{"preset", preset_name},
                  {"model", cfg.model},
                  {"data", cfg.data_dir},
                  {"batch", std::to_string(cfg.batch)},
                  {"epochs", std::to_string(cfg.epochs)},
                  {"lr", std::to_string(cfg.lr)},
                  {"gain", std::to_string(cfg.gain)},
                  {"V", std::to_string(cfg.softmax.V)},
                  {"seed", std::to_string(cfg.seed)},
                  {"bootstrapping", cfg.sk_bootstrap ? "secret-key stand-in (insecure)" : "CKKS"},
                  {"threads", std::to_string(ThreadPool::global().size())},
                  {"simd", std::string(simd_path_name(simd_path()))}};
    for (int c : cfg.classes)
        rep.class_names.push_back(cfg.class_names.size() == cfg.classes.size()
                                      ? cfg.class_names[static_cast<std::size_t>(&c - cfg.classes.data())]
                                      : std::to_string(c));
    rep.train_size = n_train;
    rep.val_size = Fva.rows;
    rep.test_size = Fte.rows;
    rep.classes = static_cast<std::size_t>(C);
    rep.extra = {{"ct_mults_per_step", static_cast<double>(per_step.ct_mults)},
                 {"relins_per_step", static_cast<double>(per_step.relins)},
                 {"rotations_per_step", static_cast<double>(per_step.rotations + per_step.hoisted_rotations)},
                 {"bootstraps_per_step", static_cast<double>(per_step.boot_full + per_step.boot_sparse)},
                 {"levels_after_bootstrap", static_cast<double>(L)}};
    if (cfg.plan_only) return res;

    // ------------------------------------------------ batches (same for all three trainers)
    const auto batches = make_batches(n_train, cfg.batch);
    const auto vbatches = make_batches(Fva.rows, sh.blocks * sh.s0);

    // ------------------------------------------------ exact plaintext training (reference)
    double spread = 0;
    res.exact = exact_training(Ftr, batches, cfg.epochs, cfg.lr, spread);
    check_logit_spread(spread, cfg.softmax.V);
    log << "range pre-check (exact plaintext training): max |z - mean z| = " << std::setprecision(2) << spread
        << " of V = " << cfg.softmax.V << std::setprecision(1) << "\n";

    // ------------------------------------------------ client: keys
    t = clk::now();
    ckks::KeyGenerator kg(P);
    const ckks::SecretKey sk = kg.secret_key();
    ckks::RelinKey rk;
    ckks::GaloisKeys gk_boot;
    ckks::EncapsulationKeys ek;
    std::unique_ptr<ckks::SecretKeyBootstrapper> skb;
    if (cfg.sk_bootstrap) {
        rk = kg.relin_key(sk, L);
        skb = std::make_unique<ckks::SecretKeyBootstrapper>(P, sk, L);
    } else {
        rk = bs_full->make_relin_key(kg, sk);
        gk_boot = bs_full->make_galois_keys(kg, sk);

        const bool encaps = bs_full->encapsulation_ring() != nullptr;
        if (encaps) ek = bs_full->make_encapsulation_keys(kg, sk);
        bs_full->set_keys(&rk, &gk_boot, encaps ? &ek : nullptr);

    }
    const ckks::GaloisKeys gk = kg.galois_keys(sk, kg.galois_elements_for_steps(steps), plan.L);
    const double t_keygen = since(t);
    const std::size_t gk_boot_bytes = gk_boot.size_bytes(), gk_bytes = gk.size_bytes();
    rep.key_bytes = {{"relin", rk.key.size_bytes()},
                     {"galois_training", gk_bytes},
                     {"galois_bootstrap", gk_boot_bytes},
                     {"encapsulation", ek.size_bytes()}};
    log << "keys in " << t_keygen << " s: relinearization " << mb(rk.key.size_bytes()) << ", training rotations "
        << gk.keys.size() << " keys " << mb(gk_bytes) << ", bootstrapping rotations " << gk_boot.keys.size()
        << " keys " << mb(gk_boot_bytes) << ", encapsulation " << mb(ek.size_bytes()) << "\n";

    // ------------------------------------------------ client: encrypt
    t = clk::now();
    ckks::Encoder enc(P);
    ckks::Encryptor encr(P, sk);
    const ckks::Decryptor dec(P, sk);
    auto encrypt = [&](const std::vector<double>& v, std::size_t level) {
        return encr.encrypt(enc.encode(v, level, P->nominal_scale(level)));
    };
    auto decrypt_real = [&](const ckks::Ciphertext& c) {
        const auto z = enc.decode(dec.decrypt(c));
        std::vector<double> v(z.size());
        for (std::size_t i = 0; i < z.size(); ++i) v[i] = z[i].real();
        return v;
    };
    auto make_bd = [&](const Features& F, const std::vector<std::size_t>& rows) {
        BatchData<CkksBackend> bd;
        for (const auto& v : pack_x(sh, F, rows)) bd.x.push_back(encrypt(v, plan.x_level));
        bd.y = encrypt(pack_y(sh, F, rows), plan.y_label_level);
        bd.rows_valid = rows_valid(sh, rows.size());
        bd.total_rows = rows.size();
        return bd;
    };
    auto make_twin_bd = [&](const Features& F, const std::vector<std::size_t>& rows) {
        BatchData<TwinBackend> bd;
        bd.x = pack_x(sh, F, rows);
        bd.y = pack_y(sh, F, rows);
        bd.rows_valid = rows_valid(sh, rows.size());
        bd.total_rows = rows.size();
        return bd;
    };
    std::vector<BatchData<CkksBackend>> cbat, cval;
    for (const auto& rows : batches) cbat.push_back(make_bd(Ftr, rows));
    for (const auto& rows : vbatches) cval.push_back(make_bd(Fva, rows));
    ckks::Ciphertext cw = encrypt(std::vector<double>(sh.slots, 0.0), plan.L), cv = cw;
    const double t_encrypt = since(t);
    log << "encrypted " << cbat.size() << " training and " << cval.size() << " validation batches in " << t_encrypt
        << " s\n";

    // ------------------------------------------------ server: train (ciphertexts and evaluation keys only)
    ckks::Evaluator evl(P, &rk, &gk);
    const ckks::Bootstrapper& bf = cfg.sk_bootstrap ? static_cast<const ckks::Bootstrapper&>(*skb) : *bs_full;
    // One bootstrapper for the softmax and the weights (a tiled W is a valid full-slot
    // vector); the stand-in is told the tile so that it refreshes exactly the tile.
    CkksBackend cb(evl, bf, bf, cfg.sk_bootstrap ? sh.tile_slots() : sh.slots);
    if (cfg.check_ranges) cb.set_probe(&dec);  // the client's own self-check (one-process mode only)
    Engine<CkksBackend> eng(sh, sp, cb);
    TwinBackend tb(sh.slots, sh.tile_slots());
    Engine<TwinBackend> twin(sh, sp, tb);
    std::vector<BatchData<TwinBackend>> tbat, tval;
    for (const auto& rows : batches) tbat.push_back(make_twin_bd(Ftr, rows));
    for (const auto& rows : vbatches) tval.push_back(make_twin_bd(Fva, rows));
    t = clk::now();
    if (Engine<CkksBackend>::rotations_fit(sh, cbat.size(), plan.x_level, P->N()))
        for (auto& b : cbat) eng.prepare(b);
    const double t_prepare = since(t);
    std::vector<double> tw(sh.slots, 0.0), tv = tw;
    NesterovSchedule ns;
    const std::size_t total_steps = cfg.epochs * batches.size();
    std::size_t step = 0;
    const auto t_train = clk::now();
    EarlyStopping stopping{cfg.patience};
    log << "training: " << cfg.epochs << " epoch(s) x " << batches.size() << " step(s), batch " << cfg.batch << "\n";
    for (std::size_t epoch = 1; epoch <= cfg.epochs; ++epoch) {
        for (std::size_t bi = 0; bi < cbat.size(); ++bi) {
            const auto ts = clk::now();
            const double gamma = ns.next();
            eng.step(cw, cv, cbat[bi], cfg.lr, gamma);
            twin.step(tw, tv, tbat[bi], cfg.lr, gamma);
            ++step;
            const double el = since(t_train), per = el / static_cast<double>(step);
            log << "step " << step << "/" << total_steps << "  epoch " << epoch << "  elapsed " << mmss(el) << "  ETA "
                << mmss(per * static_cast<double>(total_steps - step)) << "  bootstraps " << bf.calls()
                << "  " << std::setprecision(1) << since(ts) << " s/step\n"
                << std::flush;
        }
        // Validation: the server computes encrypted probabilities; the client decrypts them
        // and sends back one bit (stop or go on).
        double loss = 0, tloss = 0;
        std::size_t correct = 0, tcorrect = 0;
        for (std::size_t vb = 0; vb < cval.size(); ++vb) {
            score_batch(sh, decrypt_real(eng.forward(cw, cval[vb])), Fva, vbatches[vb], loss, correct);
            score_batch(sh, twin.forward(tw, tval[vb]), Fva, vbatches[vb], tloss, tcorrect);
        }
        EpochRecord er;
        er.epoch = static_cast<int>(epoch);
        er.steps = step;
        er.seconds = since(t_start);
        if (!vbatches.empty()) {
            er.val_loss = loss / static_cast<double>(Fva.rows);
            er.val_accuracy = static_cast<double>(correct) / static_cast<double>(Fva.rows);
            er.twin_val_loss = tloss / static_cast<double>(Fva.rows);
        }
        {
            // Training loss of the current encrypted head, computed by the client after decryption (for the report).
            er.train_loss = cross_entropy(unpack_head(sh, decrypt_real(cw)), Ftr);
        }
        rep.epochs.push_back(er);
        log << "epoch " << epoch << ": validation loss " << std::setprecision(4) << er.val_loss << " (twin "
            << er.twin_val_loss << "), accuracy " << er.val_accuracy << std::setprecision(1) << "\n";
        if (!vbatches.empty() && stopping.stop_after(er.val_loss)) {
            log << "early stop: no validation improvement for " << cfg.patience << " epoch(s)\n";
            break;
        }
    }
    cb.set_stage(Stage::Other);
    const double t_training = since(t_train);

    // ------------------------------------------------ client: decrypt and evaluate
    res.encrypted = unpack_head(sh, decrypt_real(cw));
    res.twin = unpack_head(sh, tw);
    for (std::size_t i = 0; i < res.twin.w.size(); ++i)
        res.max_weight_diff = std::max(res.max_weight_diff, std::fabs(res.twin.w[i] - res.encrypted.w[i]));
    res.ranges = eng.ranges;
    rep.acc_encrypted = accuracy(res.encrypted, Fte);
    rep.acc_twin = accuracy(res.twin, Fte);
    rep.acc_exact = accuracy(res.exact, Fte);
    rep.confusion.assign(static_cast<std::size_t>(C), std::vector<long>(static_cast<std::size_t>(C), 0));
    for (std::size_t i = 0; i < Fte.rows; ++i)
        ++rep.confusion[static_cast<std::size_t>(Fte.label[i])][static_cast<std::size_t>(predict(res.encrypted, Fte.row(i)))];
    rep.steps = step;
    rep.bootstraps = bf.calls();
    rep.peak_memory_bytes = peak_rss_bytes();
    rep.seconds = {{"total", since(t_start)},
                   {"features", t_features},
                   {"keygen", t_keygen},
                   {"encrypt", t_encrypt},
                   {"prepare", t_prepare},
                   {"training", t_training}};
    for (int s = 0; s < kStages; ++s)
        if (s != static_cast<int>(Stage::Other))
            rep.seconds.emplace_back(stage_name(static_cast<Stage>(s)), cb.seconds[static_cast<std::size_t>(s)]);
    rep.extra.emplace_back("max_weight_diff_vs_twin", res.max_weight_diff);
    rep.extra.emplace_back("seconds_per_step", t_training / static_cast<double>(std::max<std::size_t>(1, step)));
    rep.extra.emplace_back("range_t_max", res.ranges.t_max);
    log << std::setprecision(4) << "test accuracy on " << Fte.rows << " images: encrypted " << rep.acc_encrypted
        << ", float64 twin " << rep.acc_twin << ", exact plaintext " << rep.acc_exact << "\n"
        << "encrypted vs twin weights: max |dW| = " << std::scientific << res.max_weight_diff << std::fixed << "\n";
    if (cfg.check_ranges) log << "softmax ranges (secret-key probe): " << res.ranges.describe(sp) << "\n";
    log << std::setprecision(1) << "time: total " << since(t_start) << " s (features " << t_features << ", keys "
        << t_keygen << ", encrypt " << t_encrypt << ", training " << t_training << ": matmul "
        << cb.seconds[0] << ", softmax " << cb.seconds[1] << ", bootstrap " << cb.seconds[2] << ", update "
        << cb.seconds[3] << "), peak memory " << mb(rep.peak_memory_bytes) << "\n";
    return res;
}

}  // namespace bt::train
