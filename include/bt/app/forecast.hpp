// The resource forecast printed by `--plan` and at the start of every run, before any key
// or ciphertext exists: steps and bootstraps, peak memory (keys, data, the working set of
// bootstrapping and the step), key and disk sizes, and the time on this machine.
//
// Sizes are exact where they can be (keys from the parameters and the plan; ciphertexts
// from their levels); the working set and the times come from a model whose unit costs are
// measured by a short calibration on this machine (about a second at N = 2^16: one
// rotation key made and used at two levels, one encryption, a few images through the
// transformer). The model's constants were fitted on the default task (see forecast.cpp);
// other shapes and presets are forecast from the same unit costs, less precisely.
#pragma once

#include "bt/app/job.hpp"
#include "bt/nn/vit.hpp"

#include <cstddef>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace bt::app {

// Unit costs measured on this machine with the thread pool as configured.
struct Calibration {
    double key_top = 0;        // seconds to make one switching key at the top level
    double ks_top = 0;         // one key switch (rotation) at the top level
    double ks_top_seeded = 0;  // the same with a seeded key (a_j regenerated during the switch)
    double ks_train = 0;       // one key switch at the plan's level L
    double encrypt_x = 0;      // one encryption at the feature level
    double feature = 0;        // one image through the transformer
    double seconds = 0;        // what the calibration itself took
    std::string describe() const;
};
Calibration calibrate(const ckks::ParamsPtr& P, const Plan& plan, const nn::ViT* model);

// What the forecast is for.
enum class Phase { OneProcess, Keygen, Encrypt, Train, Infer };

struct Workload {
    std::size_t train_rows = 0, val_rows = 0, test_rows = 0;  // images of each split
    std::size_t dataset_bytes = 0;   // images held by the client while it extracts features
    bool encrypt_test = false;       // one-process --infer
    bool stream_train = false;       // the training set is read from a file a batch at a time
    bool sk_bootstrap = false;
    bool seeded_boot_keys = false;   // KeyForm::Seeded: every key but the relinearization key, the
                                     // bootstrapping transforms' repeated steps and the training
                                     // keys a step uses many times (Plan::hot_key) holds only b_j
    bool seeded_all_keys = false;    // every key holds only b_j (a memory limit's last resort)
    bool precomputed_transforms = false;  // the bootstrapper's transforms precomputed (--prefer speed)
};

struct Forecast {
    Phase phase = Phase::OneProcess;
    std::size_t steps = 0, epochs = 0, bootstraps = 0;
    // Memory (bytes).
    std::size_t key_bytes = 0;        // evaluation keys held in memory
    std::size_t data_bytes = 0;       // encrypted data sets held in memory
    std::size_t cache_bytes = 0;      // cached rotations of X (when they fit their budget)
    std::size_t bootstrap_bytes = 0;  // the bootstrapper's precomputed transforms
    std::size_t working_bytes = 0;    // temporaries of a step, plaintext data, the model
    std::size_t plain_bytes = 0;      // one process: the client's standardised features and the twin's packed copy
    std::size_t peak_bytes = 0;
    std::size_t disk_bytes = 0;       // files this phase writes
    // Seconds.
    std::vector<std::pair<std::string, double>> seconds;  // per stage, in order
    double total_seconds = 0;
    std::string describe() const;
    // For report.json's "forecast" object.
    std::vector<std::pair<std::string, double>> report_fields() const;
};

// ws: the weights' sparse bootstrapper (Job::sparse_weights): its keys beyond bs's and its
// compact transforms count too.
Forecast make_forecast(Phase phase, const ckks::Params& P, const Job& job, const Plan& plan,
                       const ckks::CkksBootstrapper* bs, const Workload& w, const Calibration& cal,
                       const ckks::CkksBootstrapper* ws = nullptr);

// Compares the peak with the memory limit (`max_memory`, 0: available_memory_bytes()).
// Above it: UsageError with the alternatives (a smaller preset, the secret-key stand-in for
// a trial, the roles flow on a larger server, --force) unless `force`, which only warns.
void check_memory(const Forecast& f, std::size_t max_memory, bool force, std::ostream& log);

}  // namespace bt::app
