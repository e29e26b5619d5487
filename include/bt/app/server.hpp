// The server's side of the flow, written once and used by the one-process run and by the
// server roles (`train`, `infer`) alike: the training loop over encrypted batches with
// Nesterov steps, validation through an exchange with the client, checkpoints, and
// encrypted inference. The server holds ciphertexts and evaluation keys only.
//
// Hand-offs are interfaces: the one-process run answers validation requests in memory
// (the client decides at once); the roles answer through files in an exchange directory.
// Checkpoints are files in both (a crash must not lose the work).
#pragma once

#include "bt/app/client.hpp"
#include "bt/app/job.hpp"
#include "bt/app/sets.hpp"
#include "bt/dist/comm.hpp"
#include "bt/train/encrypted.hpp"

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace bt::app {

// Where training stands: enough to continue from it bit for bit.
struct TrainState {
    std::size_t step = 0, epoch = 1, next_batch = 0, bootstraps = 0;
    bool stopped = false, finished = false;
    bool paused = false;  // LoopOptions::max_steps reached (not saved: a resumed run goes on)
    double lambda = 0;  // the Nesterov schedule's λ_t
    ckks::Ciphertext w, v;
};

// The client's answer to the server's end-of-epoch validation. The server supplies the
// encrypted validation probabilities through `compute` (called only if the answer is not
// known yet); the answer is the one bit that goes back: stop (true) or continue.
class Exchange {
public:
    virtual ~Exchange() = default;
    virtual bool stop_after_validation(std::size_t epoch,
                                       const std::function<std::vector<ckks::Ciphertext>()>& compute) = 0;
};

// What the one-process client watches alongside (the float64 twin, the report); its
// state rides in the checkpoints so that a resumed run continues it too.
class TrainObserver {
public:
    virtual ~TrainObserver() = default;
    // After a step over batches [first, first + count) of the training set (its groups).
    virtual void after_step(const TrainState& st, std::size_t first, std::size_t count, double gamma) = 0;
    virtual void after_epoch(const TrainState& st) = 0;
    virtual void save(ckks::CiphertextBundle& b) const = 0;
    virtual void restore(const ckks::CiphertextBundle& b) = 0;
};

struct LoopOptions {
    std::size_t epochs = 0;            // the job's if 0
    std::string checkpoint_dir;        // empty: no checkpoints
    std::size_t checkpoint_every = 1;  // steps (0: epoch ends only)
    bool resume = false;               // continue from the newest complete checkpoint
    // Pause after this many steps of this run (0: run to the end): a checkpoint is written
    // there and train() returns a state neither finished nor stopped (--resume continues).
    std::size_t max_steps = 0;
};

// The trivial encryption of the public initial head W = V = 0.
ckks::Ciphertext zero_ciphertext(const ckks::Params& P, std::size_t level);

// Data parallelism (bt/dist/comm.hpp): with R ranks, a step's groups j = 0 … G−1 (batches
// first + j of the training set) are computed by rank j mod R, each group's gradient
// on the rank that holds it; the gradients are summed exactly across the ranks (modular
// additions: any R and any order give the same residues) and every rank then runs the
// same update and weight bootstrap, so every rank holds the same W and V (checked by a
// fingerprint after each step). Validation and inference batches k go to rank k mod R and
// are gathered at rank 0, which alone talks to the client (exchange), writes checkpoints
// and returns results; on resume rank 0 reads the checkpoint and sends it to the others.
// One rank: exactly the one-process computation, no communication.
class Server {
public:
    // `bs` null: a server that never bootstraps (inference). `comm` null: this process alone.
    // `ws`: the weights' sparse bootstrapper (Job::sparse_weights), else bs bootstraps them too.
    Server(ckks::ParamsPtr P, const Job& job, const Plan& plan, const EvalKeys& keys, const ckks::Bootstrapper* bs,
           const dist::Comm* comm = nullptr, const ckks::Bootstrapper* ws = nullptr);
    // The rank that computes training batch k (group k mod G of its step), and validation
    // or test batch k.
    static int train_owner(std::size_t k, std::size_t groups, int ranks) {
        return static_cast<int>((k % groups) % static_cast<std::size_t>(ranks));
    }
    static int eval_owner(std::size_t k, int ranks) { return static_cast<int>(k % static_cast<std::size_t>(ranks)); }
    const dist::Comm& comm() const { return *comm_; }
    ~Server();
    train::CkksBackend& backend() { return *cb_; }
    // Seconds spent per stage (matmul, softmax, bootstrap, update, other).
    const std::array<double, train::kStages>& stage_seconds() const { return cb_->seconds; }
    train::Engine<train::CkksBackend>& engine() { return *eng_; }

    // Trains on `train`; validation batches go to `exchange` after every epoch (null, or a
    // null or empty `val`: no early stopping). Returns the final state (its w is the head).
    TrainState train(BatchSource& train, BatchSource* val, const LoopOptions& o, Exchange* exchange,
                     TrainObserver* observer, std::ostream& log);
    // Centred logits of every test batch under the encrypted head (encrypted inference);
    // on rank 0 (the others return nothing).
    std::vector<ckks::Ciphertext> infer(const ckks::Ciphertext& head, BatchSource& test, std::ostream& log);
    // Bytes this server's rank sent and received (0 for one rank).
    std::uint64_t bytes_exchanged() const { return comm_->bytes_moved() - bytes0_; }

private:
    void run_epoch_steps(TrainState& st, BatchSource& train, const LoopOptions& o, std::size_t total_steps,
                         TrainObserver* observer, std::size_t step0, std::ostream& log);
    void checkpoint(const LoopOptions& o, const TrainState& st, std::uint64_t data_id, const TrainObserver* obs);
    // The exact sum over the ranks of each rank's gradient (null: this rank had no group).
    ckks::Ciphertext reduce(const ckks::Ciphertext* mine);
    // Batches k of `src` with eval_owner(k) == rank through `f`, gathered at rank 0 in order.
    std::vector<ckks::Ciphertext> spread_gather(BatchSource& src,
                                                const std::function<ckks::Ciphertext(const CkksBatch&)>& f);
    // Every rank holds the same W and V after a step, or all throw.
    void check_agreement(const TrainState& st);
    ckks::ParamsPtr P_;
    const Job& job_;
    const Plan& plan_;
    std::unique_ptr<ckks::Bootstrapper> none_;
    const ckks::Bootstrapper* bs_;
    std::unique_ptr<ckks::Evaluator> ev_;
    std::unique_ptr<train::CkksBackend> cb_;
    std::unique_ptr<train::Engine<train::CkksBackend>> eng_;
    std::chrono::steady_clock::time_point t_train_;
    const dist::Comm* comm_;
    std::uint64_t bytes0_ = 0;
};

// ---------------------------------------------------------------- checkpoints
// dir/ckpt-<8-digit step>.bin, written atomically; the two newest are kept. A checkpoint
// names its job and data set; one of another data set is refused (re-encrypted data:
// start afresh); unreadable ones, and ones `consistent` finds fault with (it returns why),
// are skipped with a message.
void write_checkpoint(const ckks::Params& P, const std::string& dir, const Job& job, std::uint64_t data_id,
                      const TrainState& st, const TrainObserver* observer);
bool read_checkpoint(const ckks::Params& P, const std::string& dir, const Job& job, std::uint64_t data_id,
                     TrainState& st, TrainObserver* observer, std::ostream& log,
                     const std::function<std::string(const TrainState&)>& consistent = {});
std::vector<std::size_t> list_checkpoints(const std::string& dir);  // steps, newest first
// A state as a bundle (what a checkpoint file holds) and back (std::runtime_error if its
// ciphertexts do not fit the parameters).
ckks::CiphertextBundle checkpoint_bundle(const Job& job, std::uint64_t data_id, const TrainState& st,
                                         const TrainObserver* observer);
TrainState state_from_bundle(const ckks::Params& P, const ckks::CiphertextBundle& b);
std::string checkpoint_name(std::size_t step);

}  // namespace bt::app
