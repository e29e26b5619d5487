// The one-process pipeline (src/train/pipeline.cpp) on real data: Fashion-MNIST and the
// shipped model. Fast case: a small insecure ring with the secret-key bootstrapping
// stand-in. Slow case (train-slow): the N = 2^16 training preset with real bootstrapping.
#include "doctest/doctest.h"

#include "bt/train/pipeline.hpp"
#include "train_test_util.hpp"

#include <cmath>
#include <sstream>

using namespace bt::train;

namespace {

RunConfig small_config() {
    RunConfig cfg;
    cfg.params = bt_test::train_test_literal("pipeline_test_N12");
    cfg.sk_bootstrap = true;
    cfg.train_size = 384;
    cfg.val_size = 64;
    cfg.test_size = 400;
    cfg.batch = 128;
    cfg.epochs = 2;
    return cfg;
}

}  // namespace

TEST_SUITE("train") {

TEST_CASE("pipeline: a run whose logits would leave the softmax range is refused before any key") {
    RunConfig cfg = small_config();
    cfg.lr = 200;  // the exact trainer's logit spread goes far beyond V = 20
    std::ostringstream log;
    CHECK_THROWS_WITH_AS(run_pipeline(cfg, log), doctest::Contains("range pre-check"), std::invalid_argument);
    CHECK(log.str().find("keys in") == std::string::npos);
    // The spread helper itself: logits (2, 0, -2) from a one-feature head have spread 2.
    Features f;
    f.rows = 1;
    f.cols = 1;
    f.classes = 3;
    f.x = {1.0};
    f.label = {0};
    Head h;
    h.classes = 3;
    h.cols = 1;
    h.w = {2.0, 0.0, -2.0};
    CHECK(max_logit_spread(h, f, {0}) == doctest::Approx(2.0));
    CHECK_NOTHROW(check_logit_spread(17.9, 20));
    CHECK_THROWS_AS(check_logit_spread(18.1, 20), std::invalid_argument);
}

TEST_CASE("pipeline: small ring, stand-in bootstrapping: encrypted = twin, far above chance") {
    std::ostringstream log;
    const RunResult r = run_pipeline(small_config(), log);
    INFO(log.str());
    const RunReport& rep = r.report;
    CHECK(rep.steps == 6);
    CHECK(rep.bootstraps == 14);  // 2 per step + 1 per validation pass (one per epoch)
    CHECK(rep.acc_encrypted > 0.6);  // chance: 0.2
    CHECK(std::fabs(rep.acc_encrypted - rep.acc_twin) <= 0.005);
    CHECK(std::fabs(rep.acc_twin - rep.acc_exact) <= 0.05);
    CHECK(r.max_weight_diff < 2e-3);  // measured 5.3e-4 on weights of size ~0.5 (N = 2^12, scale 2^40)
    CHECK(r.ranges.t_max > 0);
    CHECK(r.ranges.t_max <= 1);
    REQUIRE(rep.epochs.size() == 2);
    CHECK(rep.epochs[1].val_loss < rep.epochs[0].val_loss + 0.05);
    const std::string js = report_json(rep);
    CHECK(js.find("\"float64_twin\"") != std::string::npos);
    CHECK(js.find("\"bootstraps\": 14") != std::string::npos);
}

TEST_CASE("pipeline: bad input gets a clear error") {
    RunConfig cfg = small_config();
    cfg.data_dir = "/nonexistent";
    std::ostringstream log;
    CHECK_THROWS_WITH_AS(run_pipeline(cfg, log), doctest::Contains("dataset-fashion-mnist"), std::runtime_error);
    cfg = small_config();
    cfg.model = "/nonexistent.safetensors";
    CHECK_THROWS(run_pipeline(cfg, log));
    cfg = small_config();
    cfg.batch = 4096;
    CHECK_THROWS_WITH_AS(run_pipeline(cfg, log), doctest::Contains("largest batch"), std::invalid_argument);
    cfg = small_config();
    cfg.train_size = 1000000;
    CHECK_THROWS_WITH_AS(run_pipeline(cfg, log), doctest::Contains("exceed"), std::invalid_argument);
    cfg = small_config();
    cfg.classes = {3, 3};
    CHECK_THROWS_WITH_AS(run_pipeline(cfg, log), doctest::Contains("twice"), std::invalid_argument);
}

}  // TEST_SUITE

TEST_SUITE("train-slow") {

// About 2–3 minutes on 2 cores and ~15 GB (bootstrapping and training keys at N = 2^16).
TEST_CASE("pipeline: N = 2^16 secure preset, real bootstrapping: a short run matches its twin") {
    RunConfig cfg;  // the default preset (N16_QP1735_T_enc) and CKKS bootstrapping
    cfg.train_size = 512;
    cfg.val_size = 0;
    cfg.test_size = 1000;
    cfg.batch = 512;
    cfg.epochs = 1;
    std::ostringstream log;
    const RunResult r = run_pipeline(cfg, log);
    MESSAGE(log.str());
    const RunReport& rep = r.report;
    CHECK(rep.steps == 1);
    CHECK(rep.bootstraps == 2);
    CHECK(rep.acc_encrypted > 0.6);  // chance: 0.2
    CHECK(std::fabs(rep.acc_encrypted - rep.acc_twin) <= 0.005);
    CHECK(r.max_weight_diff < 1e-3);
    CHECK(r.ranges.t_max > 0);
    CHECK(r.ranges.t_max <= 1);
}

}  // TEST_SUITE
