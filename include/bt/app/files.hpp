// The files the two roles exchange, and how each side loads and checks them.
//
// Client directory (never leaves the client):
//   secret.key       the CKKS secret key (mode 0600)
//   params.bin       the CKKS parameters
//   job.bin          the job (shape, hyper-parameters, job id)
//   client.bin       data split, feature standardisation, validation and test labels
// Server directory (what the client hands over; nothing in it can decrypt):
//   params.bin, job.bin
//   relin.key, galois-train.key, galois-boot.key, encaps.key   evaluation keys (exactly
//                    the ones the job's plan needs)
//   train.bin, val.bin, test.bin                                encrypted features (and
//                    training labels) as set files (bt/app/sets.hpp), read a batch at a
//                    time; validation and test labels stay with the client
// Server outputs (in --out, default the server directory):
//   head.bin         the encrypted head
//   checkpoints/ckpt-<step>.bin   encrypted training state (atomic; the last two kept)
//   predictions.bin  encrypted inference: centred logits of the test batches
// Exchange directory (early stopping): the server writes val-<epoch>.bin (encrypted
// validation probabilities); the client answers decision-<epoch>.txt holding exactly
// "continue" or "stop": the only thing that goes back to the server. The server writes
// `done` when it has finished.
#pragma once

#include "bt/app/client.hpp"
#include "bt/app/server.hpp"
#include "bt/app/sets.hpp"

#include <string>
#include <vector>

namespace bt::app {

struct RoleDirs {
    std::string client = "bt_client";
    std::string server = "bt_server";
};

// ---------------------------------------------------------------- client state
struct ClientState {
    std::string data_dir;
    std::string format = "idx";  // the data format (bt/app/data.hpp)
    std::uint64_t seed = 1;
    double gain = 0.5;
    std::size_t train_size = 0, val_size = 0, test_size = 0;  // as asked (0: all)
    train::Normalizer norm;
    std::vector<int> val_labels, test_labels;
    std::uint64_t data_id = 0;
    ckks::CiphertextBundle bundle(const Job& job) const;
    static ClientState from(const ckks::CiphertextBundle& b, const std::string& path, std::size_t d);
};

// The client's keys, job and plan from its directory (UsageError if keygen has not run).
ClientKeys load_client(const std::string& dir, bool allow_insecure);
ClientState load_client_state(const ClientKeys& ck, const std::string& dir);

// ---------------------------------------------------------------- server inputs
struct ServerInputs {
    ckks::ParamsPtr P;
    Job job;
    Plan plan;
    EvalKeys keys;  // relinearization and training rotations always; bootstrapping keys if asked
};
// Refuses a secret key anywhere in `dir`, then loads parameters, job, plan and keys and
// checks that every key the plan needs is there at the level it is used.
//
// key_cache (empty: none): the expanded key cache (bt/ckks/keycache.hpp) of every key file
// in `dir`. If it is there and current, the keys are mapped from it and the key files are
// not read beyond their headers; if it is missing, stale or corrupt (the reason goes to
// `log`), the key files are loaded, the cache is (re)built and the keys are mapped from it
// -- unless the disk lacks room, then the loaded keys are used as they are.
ServerInputs load_server(const std::string& dir, bool bootstrapping_keys, bool allow_insecure,
                         const std::string& key_cache = "", std::ostream* log = nullptr);
// What a server bundle holds, as one number that is the same on every machine with the same
// files (parameters, job, and each key file's size and header, which holds its payload's
// checksum): ranks of a data-parallel server compare it before any work.
std::uint64_t server_bundle_digest(const std::string& dir);
// The default key cache of a server directory.
std::string default_key_cache(const std::string& server_dir);
// Refuses (UsageError) if `dir` holds a secret key file, under any name: the server must
// never have one.
void check_no_secret_key(const std::string& dir);
// Checks that `bs` finds its keys in `in` (the job's level after bootstrapping included).
void check_bootstrapping_keys(const ServerInputs& in, const ckks::CkksBootstrapper& bs, const std::string& dir);

// ---------------------------------------------------------------- the exchange
// Server side: writes val-<epoch>.bin and waits for decision-<epoch>.txt.
class FileExchange : public Exchange {
public:
    FileExchange(const ckks::Params& P, const Job& job, std::string dir, double timeout, std::ostream& log);
    bool stop_after_validation(std::size_t epoch,
                               const std::function<std::vector<ckks::Ciphertext>()>& compute) override;
    void finish();  // writes `done`

private:
    const ckks::Params& P_;
    const Job& job_;
    std::string dir_;
    double timeout_;
    std::ostream& log_;
};

// Waits for `path` (polling); false on timeout or if `alt` appears first.
bool wait_for_file(const std::string& path, double timeout, const std::string& alt = "");

}  // namespace bt::app
