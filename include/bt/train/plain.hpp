// Softmax regression on features in float64: the exact reference that the encrypted
// trainer and its float64 twin are measured against (accuracy.plaintext_exact).
//
// Shapes (HETAL / BlindTuner): n samples of d features; the bias is folded in as a
// last feature fixed at 1, so X is n × (d+1) and the head W is c × (d+1).
//   logits Z = X·Wᵀ (B × c), P = softmax(Z) row-wise,
//   gradient G = (P − Y)ᵀ·X / B (c × (d+1)), Y one-hot.
// Optimiser: mini-batch Nesterov accelerated gradient with the λ-sequence schedule of
// Kim–Song–Kim–Lee–Cheon 2018 (as HETAL uses):
//   W_{t+1} = V_t − η·G(V_t),   V_{t+1} = W_{t+1} + γ_t·(W_{t+1} − W_t),
//   λ_0 = 0, λ_{t+1} = (1 + sqrt(1 + 4λ_t²))/2, γ_t = (λ_t − 1)/λ_{t+1} (so γ → 1).
// Batches walk the training set in a fixed order (a seeded shuffle per epoch is the
// caller's choice: the encrypted trainer needs the same order).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace bt::train {

// Features with the bias column appended: rows × (d+1), row-major.
struct Features {
    std::size_t rows = 0, cols = 0;  // cols = d + 1
    std::vector<double> x;
    std::vector<int> label;  // in [0, classes)
    int classes = 0;
    const double* row(std::size_t i) const { return x.data() + i * cols; }
};

// Standardisation learned on the training set: (x − mean)/std per feature, scaled by
// `gain` so that |x| stays in a range the encrypted polynomials expect; bias appended.
struct Normalizer {
    std::vector<double> mean, inv_std;
    double gain = 1;
    static Normalizer fit(const std::vector<float>& raw, std::size_t rows, std::size_t d, double gain);
    Features apply(const std::vector<float>& raw, std::size_t rows, std::size_t d, const std::vector<int>& labels,
                   int classes) const;
};

struct Head {
    std::size_t classes = 0, cols = 0;  // c × (d+1)
    std::vector<double> w;
    double* row(std::size_t k) { return w.data() + k * cols; }
    const double* row(std::size_t k) const { return w.data() + k * cols; }
};

struct NesterovSchedule {
    double lambda = 0;  // λ_t
    // Advances the schedule and returns γ_t.
    double next();
};

struct PlainConfig {
    std::size_t epochs = 5;
    std::size_t batch = 128;
    double lr = 1.0;
};

// One step: W, V updated in place from the batch rows [begin, begin + B).
void nesterov_step(Head& w, Head& v, const Features& data, const std::vector<std::size_t>& batch_rows, double lr,
                   double gamma);
// Trains from zero weights over `order` (indices into data), `epochs` times in that
// order, batches of cfg.batch (the last partial batch of an epoch is skipped). The
// callback (may be empty) sees (epoch, step, head) after each step.
Head train_exact(const Features& data, const std::vector<std::size_t>& order, const PlainConfig& cfg,
                 const std::function<void(std::size_t, std::size_t, const Head&)>& on_step = {});

std::vector<double> softmax_row(const Head& h, const double* x);
int predict(const Head& h, const double* x);
double accuracy(const Head& h, const Features& data);
double cross_entropy(const Head& h, const Features& data);

}  // namespace bt::train
