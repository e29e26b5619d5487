// Exact float64 softmax regression with Nesterov momentum (see bt/train/plain.hpp).
#include "bt/train/plain.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace bt::train {

// ================================================================ features

Normalizer Normalizer::fit(const std::vector<float>& raw, std::size_t rows, std::size_t d, double gain) {
    if (rows == 0 || raw.size() != rows * d)
        throw std::invalid_argument("Normalizer::fit: expected " + std::to_string(rows) + " x " + std::to_string(d) +
                                    " values, found " + std::to_string(raw.size()));
    Normalizer n;
    n.gain = gain;
    n.mean.assign(d, 0);
    n.inv_std.assign(d, 0);
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < d; ++j) n.mean[j] += raw[i * d + j];
    for (double& m : n.mean) m /= static_cast<double>(rows);
    std::vector<double> var(d, 0);
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < d; ++j) {
            const double t = raw[i * d + j] - n.mean[j];
            var[j] += t * t;
        }
    for (std::size_t j = 0; j < d; ++j) {
        const double sd = std::sqrt(var[j] / static_cast<double>(rows));
        n.inv_std[j] = sd > 1e-12 ? 1.0 / sd : 0.0;  // constant features carry nothing
    }
    return n;
}

Features Normalizer::apply(const std::vector<float>& raw, std::size_t rows, std::size_t d,
                           const std::vector<int>& labels, int classes) const {
    if (raw.size() != rows * d || labels.size() != rows || mean.size() != d)
        throw std::invalid_argument("Normalizer::apply: shapes do not match the fitted normaliser (d = " +
                                    std::to_string(mean.size()) + ")");
    Features f;
    f.rows = rows;
    f.cols = d + 1;
    f.classes = classes;
    f.label = labels;
    f.x.resize(rows * f.cols);
    for (std::size_t i = 0; i < rows; ++i) {
        for (std::size_t j = 0; j < d; ++j) f.x[i * f.cols + j] = gain * (raw[i * d + j] - mean[j]) * inv_std[j];
        f.x[i * f.cols + d] = 1.0;  // bias
        if (labels[i] < 0 || labels[i] >= classes)
            throw std::invalid_argument("Normalizer::apply: label " + std::to_string(labels[i]) + " outside [0, " +
                                        std::to_string(classes) + ")");
    }
    return f;
}

// ================================================================ model

double NesterovSchedule::next() {
    const double next_lambda = (1 + std::sqrt(1 + 4 * lambda * lambda)) / 2;
    const double gamma = (lambda - 1) / next_lambda;
    lambda = next_lambda;
    return gamma < 0 ? 0 : gamma;  // γ_0 = -1/λ_1 is clamped: the first step is plain GD
}

std::vector<double> softmax_row(const Head& h, const double* x) {
    std::vector<double> z(h.classes);
    double mx = -1e300;
    for (std::size_t k = 0; k < h.classes; ++k) {
        double s = 0;
        for (std::size_t j = 0; j < h.cols; ++j) s += h.row(k)[j] * x[j];
        z[k] = s;
        mx = std::max(mx, s);
    }
    double sum = 0;
    for (double& v : z) sum += (v = std::exp(v - mx));
    for (double& v : z) v /= sum;
    return z;
}

int predict(const Head& h, const double* x) {
    const auto p = softmax_row(h, x);
    return static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin());
}

double accuracy(const Head& h, const Features& data) {
    if (data.rows == 0) return 0;
    std::size_t ok = 0;
    for (std::size_t i = 0; i < data.rows; ++i) ok += predict(h, data.row(i)) == data.label[i];
    return static_cast<double>(ok) / static_cast<double>(data.rows);
}

double cross_entropy(const Head& h, const Features& data) {
    double s = 0;
    for (std::size_t i = 0; i < data.rows; ++i)
        s -= std::log(std::max(1e-300, softmax_row(h, data.row(i))[static_cast<std::size_t>(data.label[i])]));
    return data.rows ? s / static_cast<double>(data.rows) : 0;
}

void nesterov_step(Head& w, Head& v, const Features& data, const std::vector<std::size_t>& rows, double lr,
                   double gamma) {
    const std::size_t c = w.classes, cols = w.cols;
    std::vector<double> g(c * cols, 0);
    for (std::size_t r : rows) {
        const double* x = data.row(r);
        const auto p = softmax_row(v, x);
        for (std::size_t k = 0; k < c; ++k) {
            const double e = p[k] - (static_cast<int>(k) == data.label[r] ? 1.0 : 0.0);
            for (std::size_t j = 0; j < cols; ++j) g[k * cols + j] += e * x[j];
        }
    }
    const double inv_b = 1.0 / static_cast<double>(rows.size());
    for (std::size_t i = 0; i < c * cols; ++i) {
        const double w_next = v.w[i] - lr * g[i] * inv_b;
        v.w[i] = w_next + gamma * (w_next - w.w[i]);
        w.w[i] = w_next;
    }
}

Head train_exact(const Features& data, const std::vector<std::size_t>& order, const PlainConfig& cfg,
                 const std::function<void(std::size_t, std::size_t, const Head&)>& on_step) {
    if (cfg.batch == 0 || cfg.batch > order.size())
        throw std::invalid_argument("train_exact: batch " + std::to_string(cfg.batch) + " must be in [1, " +
                                    std::to_string(order.size()) + "]");
    Head w;
    w.classes = static_cast<std::size_t>(data.classes);
    w.cols = data.cols;
    w.w.assign(w.classes * w.cols, 0);
    Head v = w;
    NesterovSchedule sched;
    std::size_t step = 0;
    const std::size_t per_epoch = order.size() / cfg.batch;
    for (std::size_t e = 0; e < cfg.epochs; ++e) {
        for (std::size_t b = 0; b < per_epoch; ++b) {
            const std::vector<std::size_t> rows(order.begin() + static_cast<long>(b * cfg.batch),
                                                order.begin() + static_cast<long>((b + 1) * cfg.batch));
            nesterov_step(w, v, data, rows, cfg.lr, sched.next());
            if (on_step) on_step(e, step, w);
            ++step;
        }
    }
    return w;
}

}  // namespace bt::train
