// The one-process run (src/app/run.cpp) on real data: Fashion-MNIST and the shipped model.
// Fast cases: a small insecure ring with the secret-key bootstrapping stand-in. Slow case
// (app-slow): the N = 2^16 training preset with real bootstrapping.
#include "doctest/doctest.h"

#include "app_test_util.hpp"
#include "bt/app/client.hpp"
#include "bt/app/roles.hpp"
#include "bt/app/run.hpp"
#include "bt/ckks/keys.hpp"
#include "bt/ckks/serialize.hpp"
#include "bt/os.hpp"

#include <cmath>
#include <sstream>

using namespace bt::app;
using bt_test::TempDir;

namespace {

RunConfig small_config(const std::string& out) {
    RunConfig cfg;
    cfg.params = bt_test::train_test_literal("run_test_N12");
    cfg.allow_insecure = true;
    cfg.sk_bootstrap = true;
    cfg.train_size = 384;
    cfg.val_size = 64;
    cfg.test_size = 400;
    cfg.batch = 128;
    cfg.epochs = 2;
    cfg.out_dir = out;
    return cfg;
}

// One epoch on N12_test_boot with real bootstrapping: the known seed fixes every ciphertext.
RunConfig small_boot_config(const std::string& out) {
    RunConfig cfg = small_config(out);
    cfg.params.reset();
    cfg.preset = "N12_test_boot";
    cfg.sk_bootstrap = false;
    cfg.insecure_seed = parse_seed_hex("test", bt_test::kTestSeedHex);
    cfg.epochs = 1;
    return cfg;
}

#define NEED_DATA()                                                                                         \
    if (!bt_test::have_data()) {                                                                             \
        MESSAGE("skipped: Fashion-MNIST or the shipped model not found (run from the repository root; "      \
                "apt-get install dataset-fashion-mnist)");                                                   \
        return;                                                                                              \
    }

}  // namespace

TEST_SUITE("app") {

TEST_CASE("run: a run whose logits would leave the softmax range is refused before any key") {
    NEED_DATA();
    TempDir tmp;
    RunConfig cfg = small_config(tmp.str());
    cfg.lr = 200;  // the exact trainer's logit spread goes far beyond V = 20
    std::ostringstream log;
    CHECK_THROWS_WITH_AS(run_one_process(cfg, log), doctest::Contains("range pre-check"), UsageError);
    CHECK(log.str().find("keys:") == std::string::npos);
}

TEST_CASE("run: small ring, stand-in bootstrapping: encrypted = twin, far above chance; the head is kept") {
    NEED_DATA();
    TempDir tmp;
    std::ostringstream log;
    RunConfig cfg = small_config(tmp.str());
    const RunResult r = run_one_process(cfg, log);
    INFO(log.str());
    const RunReport& rep = r.report;
    CHECK(rep.steps == 6);
    CHECK(rep.bootstraps == 14);  // 2 per step + 1 per validation pass (one per epoch)
    CHECK(rep.acc_encrypted > 0.6);  // chance: 0.2
    CHECK(std::fabs(rep.acc_unflooded - rep.acc_twin) <= 0.005);
    CHECK(std::fabs(rep.acc_encrypted - rep.acc_unflooded) <= 0.01);  // flooding 2^-6 per slot, 2 copies per weight
    CHECK(std::fabs(rep.acc_twin - rep.acc_exact) <= 0.05);
    CHECK(r.max_weight_diff < 2e-3);  // measured 5.3e-4 on weights of size ~0.5 (N = 2^12, scale 2^40)
    CHECK(r.ranges.t_max > 0);
    CHECK(r.ranges.t_max <= 1);
    REQUIRE(rep.epochs.size() == 2);
    CHECK(rep.epochs[1].val_loss < rep.epochs[0].val_loss + 0.05);
    CHECK(std::isfinite(rep.epochs[1].train_loss));
    // What the run leaves: the head, the report; no secret seed and no checkpoints.
    CHECK(bt_test::file_exists(tmp.str() + "/head.safetensors"));
    CHECK(bt_test::file_exists(tmp.str() + "/report.json"));
    CHECK(bt_test::file_exists(tmp.str() + "/report.svg"));
    CHECK_FALSE(bt_test::file_exists(tmp.str() + "/checkpoints"));
    const std::string js = bt_test::slurp(tmp.str() + "/report.json");
    CHECK(js.find("\"float64_twin\"") != std::string::npos);
    CHECK(js.find("\"bootstraps\": 14") != std::string::npos);
    CHECK(js.find("\"forecast\"") != std::string::npos);
    // The released head, read back and evaluated as `bt_train evaluate --head` does, gives
    // exactly the reported accuracy.
    std::ostringstream elog;
    const Evaluation e = role_evaluate_head(tmp.str() + "/head.safetensors", "", "", elog);
    CHECK(e.accuracy == rep.acc_encrypted);
    CHECK(e.confusion == rep.confusion);
}

TEST_CASE("run: --stream-data, or a --max-memory the in-memory set exceeds, reads the training set from a file a "
          "batch at a time: the same head, word for word") {
    NEED_DATA();
    TempDir a, b, c;
    RunConfig ca = small_boot_config(a.str());
    ca.train_size = 512;  // 4 batches: streaming keeps 2 of them and no cached rotations
    std::ostringstream la, lb, lc;
    const RunResult ra = run_one_process(ca, la);
    CHECK(la.str().find("streamed") == std::string::npos);
    RunConfig cb = ca;
    cb.out_dir = b.str();
    cb.stream_data = true;
    const RunResult rb = run_one_process(cb, lb);
    INFO(lb.str());
    CHECK(lb.str().find("training set streamed from") != std::string::npos);
    RunConfig cc = ca;
    cc.out_dir = c.str();
    cc.max_memory = static_cast<std::size_t>(ra.forecast.peak_bytes) - 1;  // the in-memory run does not fit
    const RunResult rc = run_one_process(cc, lc);
    INFO(lc.str());
    CHECK(lc.str().find("it will be streamed from a file instead") != std::string::npos);
    CHECK(rc.forecast.peak_bytes < ra.forecast.peak_bytes);
    CHECK(rb.forecast.peak_bytes == rc.forecast.peak_bytes);
    const auto P = bt::ckks::preset("N12_test_boot");
    CHECK(bt::ckks::serialize(*P, ra.head) == bt::ckks::serialize(*P, rb.head));
    CHECK(bt::ckks::serialize(*P, ra.head) == bt::ckks::serialize(*P, rc.head));
    CHECK(ra.report.acc_unflooded == rb.report.acc_unflooded);
    CHECK_FALSE(bt_test::file_exists(b.str() + "/checkpoints"));  // the spill file goes with the run state
    CHECK_FALSE(bt_test::file_exists(c.str() + "/checkpoints"));
}

TEST_CASE("run: --prefer speed takes the fastest configuration that fits --max-memory; precomputed transforms give "
          "the same head, word for word") {
    NEED_DATA();
    TempDir a, b, c;
    RunConfig ca = small_boot_config(a.str());
    ca.train_size = 256;
    std::ostringstream la, lb, lc;
    const RunResult ra = run_one_process(ca, la);
    // Everything fits: one DFT key per giant step, the weights' own sparse bootstrapping (the
    // tile, c'·s1 = 1024 slots, is half the ring's), keys expanded, transforms precomputed.
    RunConfig cb = ca;
    cb.out_dir = b.str();
    cb.prefer_speed = true;
    cb.max_memory = std::size_t{64} << 30;
    const RunResult rb = run_one_process(cb, lb);
    INFO(lb.str());
    CHECK(lb.str().find("one DFT key per giant step, the weights' own sparse bootstrapping, keys expanded, transforms "
                        "precomputed: peak") != std::string::npos);
    CHECK(lb.str().find("(chosen)") != std::string::npos);
    CHECK(lb.str().find("every key expanded (--prefer speed)") != std::string::npos);
    CHECK(lb.str().find("bootstrapping transforms precomputed") != std::string::npos);
    CHECK(rb.max_weight_diff < 1e-3);  // encrypted = twin, as the default run
    CHECK(std::fabs(rb.report.acc_unflooded - rb.report.acc_twin) <= 0.01);
    CHECK(rb.forecast.peak_bytes > ra.forecast.peak_bytes);
    // Room for the precomputed transforms beside the default run's peak, not for expanded keys:
    // a seeded configuration with precomputed transforms (their words are those of the compact
    // ones: tests/ckks/bootstrap.cpp).
    const auto P = bt::ckks::preset("N12_test_boot");
    const auto bs = make_bootstrapper(P, Job{});
    RunConfig cc = ca;
    cc.out_dir = c.str();
    cc.prefer_speed = true;
    cc.max_memory = ra.forecast.peak_bytes + (bs->precomputed_bytes() - bs->memory_bytes());
    const RunResult rc = run_one_process(cc, lc);
    INFO(lc.str());
    auto line_with = [](const std::string& log, const std::string& what) {  // the first line holding `what`
        const std::size_t at = log.find(what);
        if (at == std::string::npos) return std::string();
        const std::size_t from = log.rfind('\n', at), e = log.find('\n', at);
        return log.substr(from == std::string::npos ? 0 : from + 1, e == std::string::npos ? std::string::npos : e - from - 1);
    };
    CHECK(line_with(lc.str(), "one DFT key per giant step, the weights' own sparse bootstrapping, keys expanded, "
                              "transforms precomputed: peak")
              .find("(above)") != std::string::npos);
    const std::string chosen = line_with(lc.str(), "(chosen)");
    INFO(chosen);
    CHECK(chosen.find("keys seeded, transforms precomputed: peak") != std::string::npos);
    CHECK(chosen.find("streamed") == std::string::npos);
    CHECK(lc.str().find("bootstrapping transforms precomputed") != std::string::npos);
    CHECK(rc.forecast.peak_bytes <= cc.max_memory);
    CHECK(rc.max_weight_diff < 1e-3);
    // report.json records the choices.
    auto config_of = [](const RunResult& r, const std::string& key) {
        for (const auto& kv : r.report.config)
            if (kv.first == key) return kv.second;
        return std::string();
    };
    CHECK(config_of(ra, "prefer") == "memory");
    CHECK(config_of(ra, "bootstrap_dft_keys") == "horner");
    CHECK(config_of(ra, "bootstrap_transforms") == "compact");
    CHECK(config_of(rb, "key_form") == "expanded");
    CHECK(config_of(rb, "bootstrap_dft_keys") == "per-giant-step");
    CHECK(config_of(ra, "weights_bootstrap") == "full");
    CHECK(config_of(rb, "weights_bootstrap") == "sparse (1024 slots)");
    CHECK(config_of(rc, "bootstrap_transforms") == "precomputed");
    CHECK(config_of(rc, "key_form") == "seeded");
}

TEST_CASE("run: bad input is refused before any feature is extracted") {
    NEED_DATA();
    TempDir tmp;
    std::ostringstream log;
    auto refused = [&](RunConfig cfg, const char* what) {
        log.str("");
        CHECK_THROWS_WITH_AS(run_one_process(cfg, log), doctest::Contains(what), UsageError);
        CHECK(log.str().find("features:") == std::string::npos);
    };
    RunConfig cfg = small_config(tmp.str());
    cfg.data_dir = "/nonexistent";
    refused(cfg, "dataset-fashion-mnist");
    cfg = small_config(tmp.str());
    cfg.model = "/nonexistent.safetensors";
    refused(cfg, "model /nonexistent.safetensors not found");
    cfg = small_config(tmp.str());
    cfg.batch = 4096;
    refused(cfg, "largest batch");
    cfg = small_config(tmp.str());
    cfg.train_size = 1000000;
    refused(cfg, "exceed");
    cfg = small_config(tmp.str());
    cfg.classes = {3, 3};
    refused(cfg, "twice");
    cfg = small_config(tmp.str());
    cfg.classes = {5, 99};
    refused(cfg, "class 99 has no training images");
    cfg = small_config(tmp.str());
    cfg.lr = NAN;
    refused(cfg, "--lr must be a finite number");
    cfg = small_config(tmp.str());
    cfg.allow_insecure = false;
    refused(cfg, "INSECURE");
    cfg = small_config(tmp.str());
    cfg.out_dir = "/proc/bt_no_such_dir/out";
    refused(cfg, "output directory --out");
    cfg = small_config(tmp.str());
    cfg.max_memory = std::size_t{1} << 20;
    refused(cfg, "Alternatives");
}

TEST_CASE("forecast: key and data sizes are exact, known before any key exists") {
    const auto P = bt::ckks::preset("N12_test_boot");
    RunConfig cfg = small_config("");
    cfg.params.reset();
    cfg.preset = "N12_test_boot";
    cfg.sk_bootstrap = false;
    const ClientPlan cp = plan_client_job(cfg, 1);
    ClientKeys ck{cp.P, cp.job, cp.plan, make_secret_key(cp.P, Randomness::derived(bt::Seed{}, true))};
    std::ostringstream log;
    auto keys_of = [&](KeyForm form) {
        return make_eval_keys(ck, cp.bs.get(), Randomness::derived(bt::Seed{}, true), log, form);
    };
    const EvalKeys keys = keys_of(KeyForm::Expanded);
    CHECK(cp.bs->key_bytes() == keys.relin.key.size_bytes() + keys.boot.size_bytes() + keys.encaps.size_bytes());
    CHECK(cp.plan.train_key_bytes(*cp.P) == keys.train.size_bytes());
    // Each training key is limited to its level (at least one below the top of the plan).
    std::size_t below = 0;
    for (const auto& kv : keys.train.keys) below += kv.second.max_level < cp.plan.lp.L;
    CHECK(below > 0);
    // The one-process run, keys expanded and (its default) bootstrapping keys seeded.
    Workload w;
    CHECK(make_forecast(Phase::OneProcess, *cp.P, cp.job, cp.plan, cp.bs.get(), w, Calibration{}).key_bytes ==
          keys.bytes());
    w.seeded_boot_keys = true;
    const EvalKeys seeded = keys_of(KeyForm::Seeded);
    CHECK(make_forecast(Phase::OneProcess, *cp.P, cp.job, cp.plan, cp.bs.get(), w, Calibration{}).key_bytes ==
          seeded.bytes());
    CHECK(seeded.bytes() < keys.bytes());
    // Seeded training keys hold b_j only, but for those a step uses many times.
    const std::size_t hot = cp.plan.hot_train_key_bytes(*cp.P);
    CHECK(hot > 0);
    CHECK(hot < keys.train.size_bytes());
    CHECK(seeded.train.size_bytes() == (keys.train.size_bytes() - hot) / 2 + hot);
    const bt::ckks::Encoder enc(cp.P);
    for (std::size_t i = 0; i < cp.plan.steps.size(); ++i) {
        const std::uint64_t g = bt::train::galois_element(enc, cp.plan.steps[i]);
        CHECK(seeded.train.keys.at(g).seeded == !cp.plan.hot_key(i));
        CHECK(cp.plan.step_uses[i] > 0);
    }
    // keygen for files: every key seeded, one expanded at a time while it is made.
    const Forecast f = make_forecast(Phase::Keygen, *cp.P, cp.job, cp.plan, cp.bs.get(), Workload{}, Calibration{});
    CHECK(f.key_bytes == keys_of(KeyForm::SeededAll).bytes() + bt::ckks::switching_key_bytes(*cp.P, cp.P->max_level()));
    CHECK(2 * keys_of(KeyForm::SeededAll).bytes() == keys.bytes());
}

}  // TEST_SUITE("app")

TEST_SUITE("app-slow") {

// About 2–3 minutes on 2 cores and ~12 GiB (bootstrapping and training keys at N = 2^16).
TEST_CASE("run: N = 2^16 secure preset, real bootstrapping: a short run matches its twin and its forecast") {
    NEED_DATA();
    TempDir tmp;
    RunConfig cfg;  // the default preset (N16_QP1735_T_enc) and CKKS bootstrapping
    cfg.train_size = 512;
    cfg.val_size = 0;
    cfg.test_size = 1000;
    cfg.batch = 512;
    cfg.epochs = 1;
    cfg.out_dir = tmp.str();
    std::ostringstream log;
    const RunResult r = run_one_process(cfg, log);
    MESSAGE(log.str());
    const RunReport& rep = r.report;
    CHECK(rep.steps == 1);
    CHECK(rep.bootstraps == 2);
    CHECK(rep.acc_encrypted > 0.6);  // chance: 0.2
    CHECK(std::fabs(rep.acc_unflooded - rep.acc_twin) <= 0.005);
    CHECK(r.max_weight_diff < 1e-3);
    CHECK(r.ranges.t_max > 0);
    CHECK(r.ranges.t_max <= 1);
    // The memory forecast is a bound within 25 % of what the run held at its peak.
    const double ratio = static_cast<double>(r.forecast.peak_bytes) / static_cast<double>(rep.peak_memory_bytes);
    MESSAGE("peak memory: forecast " << bt::format_bytes(r.forecast.peak_bytes) << ", measured "
                                     << bt::format_bytes(rep.peak_memory_bytes) << " (ratio " << ratio << ")");
    CHECK(ratio > 0.75);
    CHECK(ratio < 1.25);
}

}  // TEST_SUITE("app-slow")
