// The whole flow in one process (what `./bt_train` runs): the client plans, extracts
// features, makes keys and encrypts; the server trains on ciphertexts and evaluation keys
// only; the client validates, decrypts and evaluates. The hand-offs stay in memory; the
// float64 twin and exact plaintext training run alongside for comparison. Outputs in
// cfg.out_dir: head.safetensors (the released head, the same format and flooding rule as
// `bt_train decrypt`), report.json, report.svg, and while running checkpoints/ (with the
// run's secret key seed, mode 0600, so that --resume re-creates the same keys; removed when
// the run completes).
#pragma once

#include "bt/app/config.hpp"
#include "bt/app/forecast.hpp"
#include "bt/app/report.hpp"
#include "bt/train/plain.hpp"

#include <ostream>

namespace bt::app {

struct RunResult {
    RunReport report;
    train::Head released, unflooded, twin, exact;
    train::RangeStats ranges;
    double max_weight_diff = 0;  // unflooded encrypted vs twin head
    Forecast forecast;
    ckks::Ciphertext head;       // the encrypted head (tests compare it with the roles flow)
};

// Runs everything; progress on `log`. UsageError for anything refused before work starts
// (options, parameters, model, data, output directory, memory), std::runtime_error for
// failures during the run.
RunResult run_one_process(const RunConfig& cfg, std::ostream& log);

}  // namespace bt::app
