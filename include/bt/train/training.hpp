// The parts of training around the encrypted step: batching, scoring decrypted
// probabilities, early stopping, and the range pre-check that keeps the polynomial
// softmax inside its interval. No files, no keys, no command line: the application
// (bt/app/) composes these with the step of encrypted.hpp.
#pragma once

#include "bt/train/encrypted.hpp"
#include "bt/train/plain.hpp"

#include <cstddef>
#include <vector>

namespace bt::train {

// Batches of consecutive row indices [0, n) of at most `size` rows (size >= 1).
std::vector<std::vector<std::size_t>> make_batches(std::size_t n, std::size_t size);
// Valid rows of each block of a batch of `rows` rows.
std::vector<std::size_t> rows_valid(const EncShape& sh, std::size_t rows);

// Adds the cross-entropy and the number of correct predictions of one batch, read from
// its decrypted merged probabilities `p` (or centred logits: the arg max is the same and
// the loss is then meaningless). `labels[rows[k]]` is the label of the batch's k-th row.
// Throws std::invalid_argument if `p` has fewer slots than the shape.
void score_batch(const EncShape& sh, const std::vector<double>& p, const std::vector<int>& labels,
                 const std::vector<std::size_t>& rows, double& loss_sum, std::size_t& correct);

// The slots score_batch reads for a batch of `rows` rows (every class offset of every row,
// pad classes included), in increasing order.
std::vector<std::size_t> scored_slots(const EncShape& sh, std::size_t rows);

// Early stopping on the validation loss: stop after `patience` epochs without an
// improvement of at least 1e-4 (patience 0: never). A NaN loss counts as no improvement.
struct EarlyStopping {
    std::size_t patience = 2;
    double best = 1e300;
    std::size_t bad = 0;
    bool stop_after(double val_loss);
};

// Range pre-check on the client (it has the data): the exact plaintext trainer with the
// same batches and hyper-parameters, recording the largest logit spread max |z − mean z|
// that any step's softmax sees. The polynomial softmax is only valid for spreads up to
// V (outside, the Chebyshev exp grows like T_n and the run diverges: measured on the
// full-size task at lr 2, epoch 2); runs whose exact spread exceeds kSpreadMargin·V are
// refused before any key is made. A spread that is not finite (the exact trainer itself
// diverged) is refused too.
constexpr double kSpreadMargin = 0.9;
double max_logit_spread(const Head& h, const Features& f, const std::vector<std::size_t>& rows);
Head exact_training(const Features& f, const std::vector<std::vector<std::size_t>>& batches, std::size_t epochs,
                    double lr, double& spread);
void check_logit_spread(double spread, double V);  // throws std::invalid_argument with what to do

}  // namespace bt::train
