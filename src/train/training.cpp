// Batching, scoring, early stopping and the range pre-check (see bt/train/training.hpp).
#include "bt/train/training.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace bt::train {

std::vector<std::vector<std::size_t>> make_batches(std::size_t n, std::size_t size) {
    if (size == 0) throw std::invalid_argument("make_batches: batch size 0");
    std::vector<std::vector<std::size_t>> out;
    for (std::size_t s = 0; s < n; s += std::min(size, n - s)) {
        std::vector<std::size_t> rows;
        for (std::size_t k = s; k < s + std::min(size, n - s); ++k) rows.push_back(k);
        out.push_back(rows);
    }
    return out;
}

std::vector<std::size_t> rows_valid(const EncShape& sh, std::size_t rows) {
    std::vector<std::size_t> rv;
    for (std::size_t b = 0; b < sh.blocks; ++b) {
        const std::size_t lo = b * sh.s0;
        rv.push_back(rows > lo ? std::min(sh.s0, rows - lo) : 0);
    }
    return rv;
}

void score_batch(const EncShape& sh, const std::vector<double>& p, const std::vector<int>& labels,
                 const std::vector<std::size_t>& rows, double& loss_sum, std::size_t& correct) {
    if (p.size() < sh.slots)
        throw std::invalid_argument("score_batch: " + std::to_string(p.size()) + " slots, the shape has " +
                                    std::to_string(sh.slots));
    if (rows.size() > sh.blocks * sh.s0)
        throw std::invalid_argument("score_batch: " + std::to_string(rows.size()) + " rows, a batch holds at most " +
                                    std::to_string(sh.blocks * sh.s0));
    for (std::size_t k = 0; k < rows.size(); ++k) {
        const std::size_t b = k / sh.s0, r = k % sh.s0;
        const int label = labels.at(rows[k]);
        int best = 0;
        double best_p = -1e300, p_true = 0;
        for (std::size_t i = 0; i < sh.cpad; ++i) {
            const int cls = static_cast<int>((r + i) % sh.cpad);
            if (cls >= sh.c) continue;
            const double v = p[r * sh.s1 + sh.offset(b, i)];
            if (v > best_p) best_p = v, best = cls;
            if (cls == label) p_true = v;
        }
        loss_sum += -std::log(std::max(p_true, 1e-12));
        if (best == label) ++correct;
    }
}

std::vector<std::size_t> scored_slots(const EncShape& sh, std::size_t rows) {
    std::vector<std::size_t> out;
    for (std::size_t k = 0; k < std::min(rows, sh.blocks * sh.s0); ++k)
        for (std::size_t i = 0; i < sh.cpad; ++i) out.push_back((k % sh.s0) * sh.s1 + sh.offset(k / sh.s0, i));
    std::sort(out.begin(), out.end());
    return out;
}

bool EarlyStopping::stop_after(double val_loss) {
    if (patience == 0) return false;
    if (val_loss < best - 1e-4) {
        best = val_loss;
        bad = 0;
        return false;
    }
    return ++bad >= patience;
}

double max_logit_spread(const Head& h, const Features& f, const std::vector<std::size_t>& rows) {
    double mx = 0;
    std::vector<double> z(h.classes);
    for (std::size_t r : rows) {
        double mean = 0;
        for (std::size_t k = 0; k < h.classes; ++k) {
            z[k] = 0;
            for (std::size_t j = 0; j < h.cols; ++j) z[k] += h.row(k)[j] * f.row(r)[j];
            mean += z[k] / static_cast<double>(h.classes);
        }
        for (std::size_t k = 0; k < h.classes; ++k) {
            const double s = std::fabs(z[k] - mean);
            if (!(s <= mx)) mx = s;  // a NaN spread sticks (and is refused)
        }
    }
    return mx;
}

Head exact_training(const Features& f, const std::vector<std::vector<std::size_t>>& batches, std::size_t epochs,
                    double lr, double& spread) {
    Head w, v;
    w.classes = v.classes = static_cast<std::size_t>(f.classes);
    w.cols = v.cols = f.cols;
    w.w.assign(w.classes * w.cols, 0.0);
    v.w = w.w;
    NesterovSchedule ns;
    spread = 0;
    for (std::size_t e = 0; e < epochs; ++e)
        for (const auto& rows : batches) {
            const double s = max_logit_spread(v, f, rows);  // what the step's softmax sees
            if (!(s <= spread)) spread = s;
            nesterov_step(w, v, f, rows, lr, ns.next());
        }
    return w;
}

void check_logit_spread(double spread, double V) {
    if (!(spread <= kSpreadMargin * V)) {  // also refuses NaN
        char b[600];
        std::snprintf(b, sizeof b,
                      "range pre-check: exact plaintext training on these data reaches a logit spread max |z - mean z| "
                      "= %.1f, above %.0f%% of the range V = %.0f that the softmax polynomials cover; the encrypted "
                      "run would leave it and diverge. Lower --lr, train fewer --epochs, or raise --logit-bound "
                      "(24 is feasible with the default polynomial degrees)",
                      spread, 100 * kSpreadMargin, V);
        throw std::invalid_argument(b);
    }
}

}  // namespace bt::train
