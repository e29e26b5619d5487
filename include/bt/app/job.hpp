// The job: what the client decides once and both sides then hold (shape, classes,
// hyper-parameters, softmax polynomials, the level after bootstrapping, a random id),
// and the plan derived from it (packing, polynomials, level plan, the exact rotation keys
// one step needs, the operation counts of a step). The plan is computed before any key
// or ciphertext exists; client and server derive the same plan from the same job.
#pragma once

#include "bt/ckks/bootstrap.hpp"
#include "bt/ckks/serialize.hpp"
#include "bt/train/encrypted.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bt::app {

struct Job {
    std::uint64_t id = 0;
    std::string preset;              // name of the CKKS parameters
    std::string model;               // path of the frozen transformer (client side)
    std::vector<int> labels;         // dataset labels of the classes, in class order
    std::vector<std::string> class_names;  // one per class (labels as text if none given)
    std::size_t d = 0;               // feature width (without the bias)
    std::size_t batch = 0, epochs = 0;
    // Groups per step: a step's global batch is `groups` consecutive groups of `batch` rows,
    // each with its own logits, softmax and bootstrap; their gradients are summed before one
    // update. A property of the job, not of the server's ranks: any number of ranks gives
    // the same head (a rank computes the groups j ≡ rank mod R of each step).
    std::size_t groups = 1;
    double lr = 0;
    std::size_t L = 0;               // level of a freshly bootstrapped ciphertext
    bool sk_bootstrap = false;       // INSECURE stand-in (one-process runs only)
    // The keys of bootstrapping's homomorphic DFT (both sides build the bootstrapper from the
    // job, so its key set is part of it): false, the giant steps by Horner's rule (two keys
    // per stage, about one key switch more per stage: fewer keys, the default and every job
    // file before 0.5); true, one key per giant step (faster; more key memory).
    bool boot_fast_keys = false;
    // The weights' bootstrap: false, the full-slot bootstrapper of the softmax (one key set;
    // the default and every job file before 0.6); true, a second, sparse bootstrapper of the
    // tiled head's c'·s1 slots (one EvalMod instead of two and smaller transforms: faster,
    // its rotation keys added to the first's). Only where c'·s1 is below the full slot count.
    bool sparse_weights = false;
    train::SoftmaxConfig softmax;

    int classes() const { return static_cast<int>(labels.size()); }
    std::size_t step_rows() const { return batch * groups; }  // the global batch
    // The job as a bundle (kind "job", packing layout, every field exactly).
    ckks::CiphertextBundle bundle() const;
    // Reads one back; std::runtime_error names the file and what is wrong.
    static Job from(const ckks::CiphertextBundle& b, const std::string& path);
};

struct Plan {
    train::EncShape sh;
    train::SoftmaxPolys sp;
    train::LevelPlan lp;
    std::vector<long> steps;   // rotation steps one training step uses (its Galois keys)
    std::vector<std::size_t> step_levels;  // [i]: the highest level steps[i] is used at (its key's levels)
    std::vector<std::size_t> step_uses;    // [i]: key switches steps[i]'s key serves in one training step
    // Bytes of the training Galois keys, each limited to its level.
    std::size_t train_key_bytes(const ckks::Params& P) const;
    // A seeded key regenerates its a_j at every key switch, which costs as much per use
    // whatever the level (the a_j's words); so where keys are seeded, those a step uses at
    // least kHotKeyUses times are held expanded (bytes of those, each limited to its level).
    static constexpr std::size_t kHotKeyUses = 4;
    bool hot_key(std::size_t i) const { return step_uses.at(i) >= kHotKeyUses; }
    std::size_t hot_train_key_bytes(const ckks::Params& P) const;
    train::OpCounts per_step;  // from a dry run of the float64 twin
    // What --plan prints: shape, polynomials, levels, counts.
    std::string describe() const;
};

// Throws UsageError (shape that does not fit the ring, infeasible level plan) with what to change.
Plan make_plan(const ckks::Params& P, const Job& job);

// The bootstrapper the job's plan assumes (recommended full-slot configuration, the job's DFT
// keys). compact: the transforms' plaintexts kept as coefficients (CkksBootstrapper::
// precompute_transforms makes them precomputed later, e.g. when the memory allows).
std::unique_ptr<ckks::CkksBootstrapper> make_bootstrapper(const ckks::ParamsPtr& P, const Job& job, bool compact = true);
// The weights' sparse bootstrapper (Job::sparse_weights; null without it or with the
// stand-in): the same configuration at c'·s1 slots, its transforms compact. Throws
// UsageError if it would not return to the job's level.
std::unique_ptr<ckks::CkksBootstrapper> make_weights_bootstrapper(const ckks::ParamsPtr& P, const Job& job,
                                                                  const Plan& plan);

// Every bundle the two sides exchange names its kind and its job. load_bundle reads a file
// (UsageError naming `hint` if it is missing) and refuses another kind or another job;
// check_bundle does the same checks on a bundle in memory.
ckks::CiphertextBundle load_bundle(const ckks::Params& P, const std::string& path, const std::string& kind,
                                   const Job& job, const std::string& hint);
void check_bundle(const ckks::CiphertextBundle& b, const std::string& path, const std::string& kind, const Job& job);

// 16 hexadecimal digits, and back (std::runtime_error if malformed).
std::string hex64(std::uint64_t v);
std::uint64_t parse_hex64(const std::string& s, const std::string& what);

}  // namespace bt::app
