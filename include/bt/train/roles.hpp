// Client and server as separate roles, with files between them (what `bt_train keygen |
// encrypt | train | validate | decrypt | evaluate | infer` run). The one-process pipeline
// (pipeline.hpp) is the demonstration; these make the two parties real.
//
// Client directory (never leaves the client):
//   secret.key       the CKKS secret key
//   params.bin       the CKKS parameters
//   job.bin          the training job (shape, hyper-parameters, job id)
//   client.bin       data split, feature standardisation, validation and test labels
// Server directory (what the client hands over; nothing in it can decrypt):
//   params.bin, job.bin
//   relin.key, galois-train.key, galois-boot.key, encaps.key   evaluation keys (exactly
//                    the ones the job's plan needs)
//   train.bin, val.bin, test.bin                                encrypted features (and
//                    training labels); validation and test labels stay with the client
// Server outputs (in --out, default the server directory):
//   head.bin         the encrypted head
//   checkpoints/ckpt-<step>.bin   encrypted training state (atomic; the last two kept)
//   predictions.bin  encrypted inference: centred logits of the test batches
// Exchange directory (early stopping): the server writes val-<epoch>.bin (encrypted
// validation probabilities); the client answers decision-<epoch>.txt holding exactly
// "continue" or "stop": the only thing that goes back to the server. The server writes
// `done` when it has finished.
#pragma once

#include "bt/train/pipeline.hpp"

#include <ostream>
#include <string>

namespace bt::train {

struct RoleDirs {
    std::string client = "bt_client";
    std::string server = "bt_server";
};

// ---------------------------------------------------------------- client
// Plans the job from the model width, classes and batch of `cfg`, generates the secret key
// (client) and exactly the evaluation keys the plan needs (server bundle); prints their sizes.
// Insecure parameter presets need allow_insecure.
void role_keygen(const RunConfig& cfg, const RoleDirs& dirs, bool allow_insecure, std::ostream& log);
// Extracts features with the frozen model and writes the encrypted training, validation
// and test sets (data flags of `cfg`: data, train, val, test, seed, gain; the model,
// classes and batch come from the job written by keygen).
void role_encrypt(const RunConfig& cfg, const RoleDirs& dirs, std::ostream& log);

// ---------------------------------------------------------------- server
struct TrainOptions {
    std::string server_dir = "bt_server";
    std::string out_dir;               // empty: the server directory
    std::string exchange_dir;          // empty: no early stopping (all epochs run)
    std::size_t checkpoint_every = 1;  // steps between checkpoints (0: only at epoch ends)
    bool resume = false;               // continue from the newest complete checkpoint
    std::size_t epochs = 0;            // 0: the job's
    double exchange_timeout = 24 * 3600.0;  // seconds to wait for a decision
};
void role_train(const TrainOptions& o, std::ostream& log);
// Encrypted inference: the encrypted head applied to the encrypted test set.
void role_infer(const std::string& server_dir, const std::string& head_file, const std::string& out_file,
                std::ostream& log);
// Refuses (throws) if `dir` holds a secret key file: the server must never have one.
void check_no_secret_key(const std::string& dir);

// ---------------------------------------------------------------- client again
struct ValidateOptions {
    std::string client_dir = "bt_client";
    std::string exchange_dir;
    std::size_t patience = 2;
    double timeout = 24 * 3600.0;
};
// Answers the server's validation requests until it stops it or the server is done.
void role_validate(const ValidateOptions& o, std::ostream& log);

struct DecryptOptions {
    std::string client_dir = "bt_client";
    std::string head_file = "bt_server/head.bin";
    std::string out_file = "head.safetensors";
    bool flooding = true;
    double flood_sigma = 0;  // per slot (real and imaginary part); 0: kDefaultFloodSigma
};
// Noise flooding of the released head (see roles.cpp for the justification): Gaussian
// noise of this standard deviation is added to every slot of the decryption (real and
// imaginary parts) before the copies of each weight are averaged.
constexpr double kDefaultFloodSigma = 1.0 / 64;  // 2^-6
struct DecryptResult {
    Head head;
    double noise_sigma = 0;  // estimated CKKS noise per slot (from the imaginary parts)
    double flood_sigma = 0;  // 0 if not flooded
};
DecryptResult role_decrypt(const DecryptOptions& o, std::ostream& log);

// Test accuracy of a decrypted head (safetensors from role_decrypt) on the frozen features.
double role_evaluate_head(const std::string& client_dir, const std::string& head_file, std::ostream& log);
// Decrypts encrypted predictions (role_infer) and scores them against the test labels.
double role_evaluate_predictions(const std::string& client_dir, const std::string& predictions_file,
                                 std::ostream& log);

}  // namespace bt::train
