// Client and server as separate roles with files between them (`bt_train keygen |
// encrypt | train | validate | decrypt | evaluate | infer`): the flow of client.hpp and
// server.hpp with every hand-off written to and read from the files of files.hpp.
#pragma once

#include "bt/dist/comm.hpp"

#include "bt/app/config.hpp"
#include "bt/app/files.hpp"

#include <ostream>
#include <string>

namespace bt::app {

// ---------------------------------------------------------------- client
// Plans the job from the model width, classes and batch of `cfg`, generates the secret key
// (client) and exactly the evaluation keys the plan needs (server bundle).
void role_keygen(const RunConfig& cfg, const RoleDirs& dirs, std::ostream& log);
// Extracts features with the frozen model of the job and writes the encrypted training,
// validation and test sets (data options of `cfg`: data, train, val, test, seed, gain).
void role_encrypt(const RunConfig& cfg, const RoleDirs& dirs, std::ostream& log);

// ---------------------------------------------------------------- server
struct TrainRoleOptions {
    std::string server_dir = "bt_server";
    std::string out_dir;               // empty: the server directory
    std::string exchange_dir;          // empty: no early stopping (all epochs run)
    std::size_t checkpoint_every = 1;  // steps between checkpoints (0: only at epoch ends)
    bool resume = false;
    std::size_t epochs = 0;            // 0: the job's
    std::size_t max_steps = 0;         // pause after this many steps (0: run to the end)
    double exchange_timeout = 24 * 3600.0;
    bool allow_insecure = false;
    bool stream_data = false;          // read the training set a batch at a time even if it is small
    std::string key_cache = "-";       // expanded key cache: "-" the default (in the server directory), "" none
    bool prefer_speed = false;         // precompute the bootstrapping transforms if they fit in max_memory
    std::size_t max_memory = 0;        // bytes; 0: what the machine has available
    // The ranks that share the work (bt/dist/comm.hpp); null: Comm::world(), every rank of
    // an mpirun job, or this process alone.
    const dist::Comm* comm = nullptr;
};
void role_train(const TrainRoleOptions& o, std::ostream& log);
// Encrypted inference: the encrypted head applied to the encrypted test set.
void role_infer(const std::string& server_dir, const std::string& head_file, const std::string& out_file,
                bool allow_insecure, std::ostream& log, const std::string& key_cache = "-",
                const dist::Comm* comm = nullptr);

// ---------------------------------------------------------------- client again
struct ValidateOptions {
    std::string client_dir = "bt_client";
    std::string exchange_dir;
    std::size_t patience = 2;
    double timeout = 24 * 3600.0;
    bool allow_insecure = false;
};
// Answers the server's validation requests until it stops it or the server is done.
void role_validate(const ValidateOptions& o, std::ostream& log);

struct DecryptOptions {
    std::string client_dir = "bt_client";
    std::string head_file = "bt_server/head.bin";
    std::string out_file = "head.safetensors";
    bool flooding = true;
    double flood_sigma = 0;  // 0: kDefaultFloodSigma
    bool allow_insecure = false;
};
ReleasedHead role_decrypt(const DecryptOptions& o, std::ostream& log);

// Test accuracy of a released head (head.safetensors from decrypt or the one-process run)
// on the test split named in its metadata (data_dir / model override it when not empty).
Evaluation role_evaluate_head(const std::string& head_file, const std::string& data_dir, const std::string& model,
                              std::ostream& log);
// Decrypts encrypted predictions (role_infer) and scores them against the test labels.
double role_evaluate_predictions(const std::string& client_dir, const std::string& predictions_file,
                                 bool allow_insecure, std::ostream& log);

}  // namespace bt::app
