// What a user decides about a job, and the checks of those decisions that need no file:
// every value finite and in range, the combination possible. bt_train fills a RunConfig
// from its options (src/cli/); the one-process run and the client roles use it.
#pragma once

#include "bt/app/args.hpp"
#include "bt/ckks/params.hpp"
#include "bt/random.hpp"
#include "bt/train/encrypted.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bt::app {

constexpr const char* kDefaultDataDir = "/usr/share/datasets/fashion-mnist";
constexpr const char* kModelFile = "bt-vit-fmnist04.safetensors";  // the shipped model
constexpr const char* kNoModel = "none (precomputed features)";      // Job::model with --data features

// Largest values the options accept (beyond them the packing or the arithmetic of sizes
// would not make sense; each is far above anything a ring can hold).
constexpr std::size_t kMaxBatch = std::size_t{1} << 24;
constexpr std::size_t kMaxGroups = 4096;  // groups per step (--groups)
constexpr std::size_t kMaxEpochs = 100000;
constexpr std::size_t kMaxImages = std::size_t{1} << 32;
constexpr int kMaxClassLabel = 255;

struct RunConfig {
    // ---- data (client)
    std::string data_dir = kDefaultDataDir;  // a data set in one of the formats of bt/app/data.hpp
    std::string format;                      // idx, npz, cifar10, folder, features; empty: detected
    std::string model;                       // empty: default_model_path()
    std::vector<int> classes = {5, 6, 7, 8, 9};  // the private task (dataset labels); empty: every class
    std::vector<std::string> class_names;        // optional, one per class
    std::size_t train_size = 1024;  // 0: every training image of the classes (minus validation)
    std::size_t val_size = 256;
    std::size_t test_size = 0;      // 0: the whole test split of the classes
    std::uint64_t seed = 1;         // data order (cryptographic randomness never comes from it)
    double gain = 0.5;              // feature standardisation gain
    // ---- training
    std::size_t batch = 512;
    std::size_t groups = 1;         // groups of `batch` rows per step (global batch groups·batch)
    std::size_t epochs = 2;
    std::size_t patience = 2;       // early stopping on the validation loss (0: off)
    double lr = 2.0;
    train::SoftmaxConfig softmax;
    // ---- CKKS
    std::string preset;                          // empty: default_training_preset()
    std::optional<ckks::ParamsLiteral> params;   // explicit parameters instead of a preset (tests)
    bool allow_insecure = false;     // insecure test presets need this explicit opt-in
    bool sk_bootstrap = false;       // INSECURE secret-key stand-in for bootstrapping (tests, trials)
    std::optional<Seed> insecure_seed;  // INSECURE: every key and encryption derived from a known seed (tests)
    // ---- the run
    std::string out_dir = "bt_out";
    bool plan_only = false;
    bool check_ranges = true;        // one-process: the client's secret-key probe of the softmax ranges
    bool resume = false;             // continue from the newest checkpoint in out_dir
    std::size_t checkpoint_every = 1;  // steps between checkpoints (0: epoch ends only)
    bool flooding = true;            // noise flooding of the released head
    double flood_sigma = 0;          // per slot; 0: kDefaultFloodSigma
    bool infer = false;              // one-process: also run encrypted inference on the test set
    bool stream_data = false;        // one-process: spill the encrypted training set to a set file and read it
                                     // a batch at a time (memory O(one batch) instead of O(set))
    bool expanded_keys = false;      // one-process: hold every key's a_j (default: bootstrapping keys seeded)
    bool force = false;              // run even if the forecast exceeds the memory limit
    std::size_t max_memory = 0;      // bytes; 0: what the machine has available
    // What the plan spends memory on (--prefer): false (memory, the default) keeps the smallest
    // footprint: seeded keys, compact bootstrapping transforms, Horner giant steps in the
    // homomorphic DFT (fewer keys). true (speed): within max_memory, the fastest of these that
    // fits: keys expanded, the transforms precomputed, one DFT key per giant step.
    bool prefer_speed = false;
    // Set by the plan (not an option): the DFT keys of bootstrapping, one per giant step
    // (Job::boot_fast_keys).
    bool boot_fast_keys = false;
    // Set by the plan: the weights bootstrapped by a second, sparse bootstrapper (Job::sparse_weights).
    bool sparse_weights = false;
};

// The default preset of bt_train (N = 2^16, 128-bit, bootstrappable).
std::string default_training_preset();
// The shipped model: $BT_MODEL if set; else models/<kModelFile> under the working
// directory (a source checkout); else next to the running binary, in its models/, or in
// ../share/blindtuner/ relative to it (an installed or relocated copy). Returns the first
// that exists, or the working-directory path (which the model check then reports).
std::string default_model_path();
std::string model_or_default(const RunConfig& cfg);

// Value checks that need no file (UsageError with what to do): classes distinct, in
// 0..255, at least two (or none: every class of the data set), names matching; sizes and batch in range; lr, gain, V, flooding
// finite and positive; checkpoint and memory settings. bt_train's option parser already
// bounds each number; this also guards library callers.
void check_config(const RunConfig& cfg);

// The CKKS parameters of the run (a preset or the explicit literal); insecure parameters
// are refused unless cfg.allow_insecure. UsageError names the known presets.
ckks::ParamsPtr resolve_params(const RunConfig& cfg, std::string& name);
// Refuses insecure parameters loaded from a file unless the command was given the opt-in.
void check_insecure_opt_in(const ckks::Params& P, bool allow_insecure, const std::string& where);

// Creates `dir` if needed and proves it writable (bt::ensure_writable_dir), as a UsageError.
void prepare_output_dir(const std::string& dir, const std::string& what, unsigned mode = 0755);

// Comma-separated parsers for --classes and --class-names (UsageError if malformed).
std::vector<int> parse_class_list(const std::string& v);
std::vector<std::string> parse_name_list(const std::string& v);
// 64 hexadecimal digits (a test seed).
Seed parse_seed_hex(const std::string& flag, const std::string& v);

}  // namespace bt::app
