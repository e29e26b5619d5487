// The client's side of the flow, written once and used by the one-process run and by the
// client roles alike: randomness, keys, encryption of the data sets, the validation
// decision, decryption of the head (noise-flooded before release), evaluation.
//
// ---------------------------------------------------------------- releasing the head
// A CKKS decryption m' = c0 + c1·s (mod q) shared together with its ciphertext reveals
// s: c1·s = m' − c0 is a linear system (Li–Micciancio, EUROCRYPT 2021). A released head
// is therefore flooded by default: independent Gaussian noise of standard deviation σ_f is
// added to the real and imaginary part of every slot of the decryption. The canonical
// embedding of the power-of-two cyclotomic ring is a scaled isometry, so this is the same
// as adding continuous Gaussian noise of standard deviation σ_f·Δ·sqrt(2/N) to every
// coefficient of m' (Δ the scale). What a holder of the ciphertext and the released head
// then learns about s is c1·s + f with f that flooding noise: a ring-LWE sample whose error
// is ~2^(log2 σ_f − log2 σ_e) times the ciphertext's own noise σ_e (measured from the
// imaginary parts, which carry noise only), instead of an exact linear equation.
// Default σ_f = 2^-6 per slot. Measured on the default task (N = 2^16): the bootstrapped
// head's noise is σ_e ≈ 2^-19.2 per slot, so the flooding is ~2^13 above it; averaging the
// 32 copies of every weight leaves 2^-8.5 ≈ 2.8e-3 per released weight, and the test
// accuracy was 0.8828 flooded vs 0.8832 unflooded (0.8822 even at 2^-4). It is NOT the
// statistical flooding of Li–Micciancio–Schultz–Sorrell (2022) that makes IND-CPA-D hold
// with s bits of statistical security: that needs σ_f ≳ sqrt(24·N)·2^(s/2)·B_e, for s = 30
// about 2^25 times the noise bound (σ_f ≈ 2^7 per slot here), which would bury the weights
// (of order 1) in noise. The same rule applies to the head of the one-process run and of
// `bt_train decrypt`; --no-flooding is for a client that never shares the head.
#pragma once

#include "bt/app/config.hpp"
#include "bt/app/job.hpp"
#include "bt/nn/vit.hpp"
#include "bt/ckks/encryptor.hpp"
#include "bt/train/encrypted.hpp"
#include "bt/train/plain.hpp"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace bt::app {

// ---------------------------------------------------------------- randomness
// Where the client's randomness comes from. Normally every draw is fresh from the OS. A
// one-process run draws one 256-bit master seed from the OS and derives every key and
// encryption from it (ChaCha20 keyed by the seed, one stream per purpose), so that a
// resumed run re-creates exactly the keys and ciphertexts of the interrupted one; that
// seed is secret key material (stored with mode 0600 beside the checkpoints, wiped from
// memory, removed when the run completes). A known seed (--insecure-seed) makes a whole
// run reproducible and is INSECURE: tests only.
class Randomness {
public:
    static Randomness os();
    static Randomness derived(const Seed& master, bool insecure_test);
    Randomness(const Randomness&) = delete;
    Randomness(Randomness&&) = default;
    ~Randomness();
    Prng stream(const std::string& purpose) const;
    std::uint64_t id(const std::string& purpose) const;  // job and data identifiers
    bool is_derived() const { return derived_; }
    bool insecure() const { return insecure_; }
    const Seed& master() const { return master_; }

private:
    Randomness() = default;
    Seed master_{};
    bool derived_ = false, insecure_ = false;
};

// ---------------------------------------------------------------- the job
// Everything the client decides and checks before any feature is extracted: the options,
// the CKKS parameters, the model (loaded), the job and its plan, the bootstrapper the plan
// assumes (none with the stand-in). UsageError on anything that cannot work.
struct ClientPlan {
    std::string preset_name;
    ckks::ParamsPtr P;
    nn::ViT model;
    Job job;
    Plan plan;
    std::unique_ptr<ckks::CkksBootstrapper> bs;
    std::unique_ptr<ckks::CkksBootstrapper> ws;  // the weights' sparse bootstrapper (Job::sparse_weights), or null
    // Configuration, parameters, plan and bootstrapping, as printed by --plan.
    std::string describe() const;
};
ClientPlan plan_client_job(const RunConfig& cfg, std::uint64_t job_id);

// ---------------------------------------------------------------- keys
// Exactly the evaluation keys the plan needs: relinearization, the training rotations at
// the plan's level, and (with CKKS bootstrapping) the bootstrapping rotations and the
// sparse-secret encapsulation keys.
struct EvalKeys {
    ckks::RelinKey relin;
    ckks::GaloisKeys train, boot;
    ckks::EncapsulationKeys encaps;
    bool has_boot = false, has_encaps = false;
    std::size_t bytes() const;
};

struct ClientKeys {
    ckks::ParamsPtr P;
    Job job;
    Plan plan;
    ckks::SecretKey sk;
};

ckks::SecretKey make_secret_key(const ckks::ParamsPtr& P, const Randomness& rnd);
// How the keys are held: every a_j expanded; Seeded (the one-process default): every key
// seeded (a_j regenerated at use, half the memory) except the two used many times per
// bootstrap (relinearization, the transforms' repeated Horner giant steps); or every key
// seeded (keys only written to files, and a memory limit's last resort).
enum class KeyForm { Expanded, Seeded, SeededAll };
// `bs` null: the secret-key stand-in (no bootstrapping keys). `ws`: the weights' sparse
// bootstrapper, whose rotation keys the first's lack join the bootstrapping keys (it shares
// the relinearization and encapsulation keys). Progress per key on `log`.
EvalKeys make_eval_keys(const ClientKeys& ck, const ckks::CkksBootstrapper* bs, const Randomness& rnd,
                        std::ostream& log, KeyForm form = KeyForm::Expanded, const ckks::CkksBootstrapper* ws = nullptr);
// The rotation keys (element, level) of `ws` that `bs`'s do not cover.
std::vector<std::pair<std::uint64_t, std::size_t>> extra_galois_keys(const ckks::CkksBootstrapper& bs,
                                                                      const ckks::CkksBootstrapper& ws);
// Wires the keys into a bootstrapper (its relinearization, rotation and encapsulation keys).
void attach_keys(ckks::CkksBootstrapper& bs, const EvalKeys& keys);

// ---------------------------------------------------------------- data
// An encrypted data set: per batch, `blocks` feature ciphertexts (and one label ciphertext
// for training), with the seeds of their c_1 for compact files.
struct EncSet {
    std::string kind;  // "train-set", "val-set", "test-set"
    std::uint64_t data_id = 0;
    std::vector<train::BatchData<train::CkksBackend>> batches;
    std::vector<std::vector<Seed>> seeds;  // per batch: x seeds then the y seed
    std::size_t rows() const;
};
// Encrypts the rows of `f` in batches of `batch_rows`, handing each batch (and the seeds
// of its c_1) to `sink` as soon as it is made: memory O(one batch).
void encrypt_batches(const ClientKeys& ck, const std::string& kind, const train::Features& f, std::size_t batch_rows,
                     bool with_labels, std::uint64_t data_id, const Randomness& rnd, std::ostream& log,
                     const std::function<void(train::BatchData<train::CkksBackend>&&, std::vector<Seed>&&)>& sink);
// The same, kept in memory.
EncSet encrypt_set(const ClientKeys& ck, const std::string& kind, const train::Features& f, std::size_t batch_rows,
                   bool with_labels, std::uint64_t data_id, const Randomness& rnd, std::ostream& log);
// The plaintext twin of the same set (the float64 backend's "ciphertexts").
std::vector<train::BatchData<train::TwinBackend>> twin_set(const Plan& plan, const train::Features& f,
                                                           std::size_t batch_rows);

// The range pre-check (train::check_logit_spread) on the client's training data: exact
// plaintext training with the job's batches and hyper-parameters; UsageError if the
// polynomial softmax would leave its range. Returns the exact head.
train::Head range_precheck(const train::Features& train, const Job& job, std::ostream& log);

// ---------------------------------------------------------------- what the server returns
// The client trusts nothing the server sends. Before it decrypts a ciphertext it checks
// it against its own plan: two parts, the plan's slot count, the planned level and that
// level's nominal scale; after decrypting, that every slot it reads (`read`, or all) is
// finite, within `bound`, and that their imaginary parts (noise only, for the real
// messages the flow computes) stay below kReturnedTolerance. The slots it does not read
// hold by-products of the circuit and influence nothing. A crafted ciphertext that decrypts to values depending on the
// secret key has, with overwhelming probability, large imaginary parts or, for the head,
// copies of the tile that disagree and padding that is not zero; it is refused before any
// value leaves the client. std::runtime_error names `what` and says what was found.
constexpr double kReturnedTolerance = 1.0 / 1024;  // 2^-10: 2^9 above the noise measured at N = 2^16
std::vector<double> decrypt_returned(const ClientKeys& ck, const ckks::Ciphertext& ct, std::size_t level, double bound,
                                     const std::string& what, const std::vector<std::size_t>* read = nullptr,
                                     double* noise_sigma = nullptr);

// ---------------------------------------------------------------- validation
struct Score {
    double loss = 0;          // mean cross-entropy
    double accuracy = 0;
    std::size_t rows = 0;
};
// Decrypts merged per-batch probabilities (validation; at the plan's probability level)
// or centred logits (encrypted inference; at the logits level) after the checks above, and
// scores them against the labels; the batches are the consecutive blocks·s0-row batches of
// the labels. std::runtime_error if the count of ciphertexts does not match.
enum class Returned { Probabilities, Logits };
Score score_ciphertexts(const ClientKeys& ck, const std::vector<ckks::Ciphertext>& cts, Returned kind,
                        const std::vector<int>& labels, const std::string& what);

// ---------------------------------------------------------------- the head
constexpr double kDefaultFloodSigma = 1.0 / 64;  // 2^-6 per slot (see the comment above)

struct ReleasedHead {
    train::Head head;        // c × (d+1), bias last
    double noise_sigma = 0;  // estimated CKKS noise per slot (from the imaginary parts)
    double flood_sigma = 0;  // 0 if not flooded
};
// Decrypts the head after the checks above and the tiled layout check (copies agree and
// padding is zero to kReturnedTolerance; weights at most kMaxHeadWeight), then floods it
// (flood_sigma 0: kDefaultFloodSigma). `what` names the file in messages.
constexpr double kMaxHeadWeight = 1024;
ReleasedHead decrypt_head(const ClientKeys& ck, const ckks::Ciphertext& head, bool flooding, double flood_sigma,
                          const std::string& what = "the encrypted head");

// Where the test split of a released head comes from (for `evaluate --head`).
struct HeadProvenance {
    std::string data_dir;
    std::size_t test_size = 0;  // 0: the whole test split of the classes
    std::string format = "idx";  // the data format (bt/app/data.hpp)
    std::uint64_t seed = 1;      // --seed (it chooses a held-out test split where the format has none)
};
// head.safetensors: head.weight [c, d], head.bias [c], normalizer.mean [d],
// normalizer.inv_std [d] (float32), metadata: format bt-head, job id, model, classes,
// class names, gain, the feature formula, flooding sigma, data (directory or file, format,
// seed) and test split.
void write_head(const std::string& path, const ReleasedHead& h, const train::Normalizer& norm, const Job& job,
                const HeadProvenance& prov);
struct HeadFile {
    train::Head head;  // as stored (float32 values)
    train::Normalizer norm;
    std::vector<int> labels;
    std::vector<std::string> class_names;
    std::string model, job_id;
    HeadProvenance prov;
    std::string flooding;  // "none" or the sigma
};
HeadFile read_head(const std::string& path);
// The head exactly as a reader of the file gets it (weights rounded to float32).
train::Head as_stored(const train::Head& h);

struct Evaluation {
    double accuracy = 0;
    std::vector<std::vector<long>> confusion;  // rows: true class, columns: predicted
};
Evaluation evaluate_head(const train::Head& h, const train::Features& test);
void print_confusion(const Evaluation& e, const std::vector<std::string>& names, std::ostream& log);

}  // namespace bt::app
