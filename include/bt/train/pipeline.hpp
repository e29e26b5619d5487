// The whole BlindTuner pipeline in one process (what `./bt_train` runs): data and frozen
// features on the client, key generation, encryption, encrypted training on the server
// side (which only ever holds ciphertexts and evaluation keys), decryption and evaluation,
// with the float64 twin and exact plaintext training alongside for comparison.
#pragma once

#include "bt/train/encrypted.hpp"
#include "bt/train/report.hpp"

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace bt::train {

struct RunConfig {
    std::string data_dir = "/usr/share/datasets/fashion-mnist";  // {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
    std::string model = "models/bt-vit-fmnist04.safetensors";
    std::vector<int> classes = {5, 6, 7, 8, 9};                  // the private task (dataset labels)
    std::vector<std::string> class_names;                         // optional, for the report
    std::size_t train_size = 1024;   // 0: every training image of the classes (minus validation)
    std::size_t val_size = 256;
    std::size_t test_size = 0;       // 0: the whole test split of the classes
    std::size_t batch = 512;
    std::size_t epochs = 2;
    std::size_t patience = 2;        // early stopping on the validation loss (0: off)
    double lr = 2.0;
    double gain = 0.5;               // feature standardisation gain
    std::uint64_t seed = 1;          // data order (cryptographic randomness always comes from the OS)
    std::string preset;              // CKKS preset; empty: the default training preset
    std::optional<ckks::ParamsLiteral> params;  // explicit parameters instead of a preset (tests)
    bool sk_bootstrap = false;       // INSECURE stand-in (tests and quick trials)
    bool check_ranges = true;        // client-side secret-key probe of the softmax ranges
    std::string out_dir = "bt_out";
    SoftmaxConfig softmax;
    bool plan_only = false;
};

struct RunResult {
    RunReport report;
    Head encrypted, twin, exact;
    RangeStats ranges;
    double max_weight_diff = 0;  // encrypted vs twin head
};

// Client side: the dataset split (seeded), frozen features and their standardisation.
struct ClientData {
    std::size_t d = 0;  // feature width (without the bias)
    int classes = 0;
    Features train, val, test;  // standardised, bias appended, labels in [0, classes)
    Normalizer norm;
    double seconds = 0;
};
// With `given`, only the test split is extracted, standardised with `given` (evaluation).
ClientData prepare_client_data(const RunConfig& cfg, std::ostream& log, const Normalizer* given = nullptr);

// Progress text: "m:ss" and "12.3 MB".
std::string mmss(double seconds);
std::string mb(std::size_t bytes);

// Batches of consecutive row indices [0, n) of at most `size` rows.
std::vector<std::vector<std::size_t>> make_batches(std::size_t n, std::size_t size);
// Valid rows of each block of a batch of `rows` rows.
std::vector<std::size_t> rows_valid(const EncShape& sh, std::size_t rows);
// Client side: adds the loss and the correct predictions of one batch from its decrypted
// merged probabilities (or centred logits: the arg max is the same; the loss is then meaningless).
void score_batch(const EncShape& sh, const std::vector<double>& p, const Features& f,
                 const std::vector<std::size_t>& rows, double& loss_sum, std::size_t& correct);

// Range pre-check on the client (it has the data): the exact plaintext trainer with the
// same batches and hyper-parameters, recording the largest logit spread max |z − mean z|
// that any step's softmax sees. The polynomial softmax is only valid for spreads up to
// V (outside, the Chebyshev exp grows like T_n and the run diverges: measured on the
// full-size task at lr 2, epoch 2); runs whose exact spread exceeds kSpreadMargin·V are
// refused before any key is made.
constexpr double kSpreadMargin = 0.9;
double max_logit_spread(const Head& h, const Features& f, const std::vector<std::size_t>& rows);
Head exact_training(const Features& f, const std::vector<std::vector<std::size_t>>& batches, std::size_t epochs,
                    double lr, double& spread);
void check_logit_spread(double spread, double V);  // throws std::invalid_argument with what to do

// Early stopping on the validation loss: stop after `patience` epochs without an
// improvement of at least 1e-4 (patience 0: never).
struct EarlyStopping {
    std::size_t patience = 2;
    double best = 1e300;
    std::size_t bad = 0;
    bool stop_after(double val_loss);
};

// The default preset of `bt_train` (N = 2^16, 128-bit, bootstrappable).
std::string default_training_preset();

// Runs everything; progress on `log`. Throws std::runtime_error / std::invalid_argument
// with a message saying what was expected, what was found and what to do.
RunResult run_pipeline(const RunConfig& cfg, std::ostream& log);

}  // namespace bt::train
