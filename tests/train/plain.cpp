// Tests for src/train/plain.cpp: the gradient step against finite differences of the
// mean cross-entropy, the Nesterov schedule, normalisation, and convergence.
#include "doctest/doctest.h"

#include "bt/train/plain.hpp"

#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>

using namespace bt::train;

namespace {

// Gaussian blobs: class k centred at 3·e_k in d dimensions.
Features blobs(std::size_t n, std::size_t d, int classes, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> g(0, 1);
    std::vector<float> raw(n * d);
    std::vector<int> lab(n);
    for (std::size_t i = 0; i < n; ++i) {
        lab[i] = static_cast<int>(i % static_cast<std::size_t>(classes));
        for (std::size_t j = 0; j < d; ++j)
            raw[i * d + j] = static_cast<float>(g(rng) + (j == static_cast<std::size_t>(lab[i]) ? 3.0 : 0.0));
    }
    return Normalizer::fit(raw, n, d, 1.0).apply(raw, n, d, lab, classes);
}

}  // namespace

TEST_SUITE("train") {

TEST_CASE("plain: a step with gamma = 0 is gradient descent on the mean cross-entropy") {
    const Features f = blobs(40, 4, 3, 1);
    Head w;
    w.classes = 3;
    w.cols = f.cols;
    std::mt19937_64 rng(2);
    std::uniform_real_distribution<double> u(-0.3, 0.3);
    w.w.resize(w.classes * w.cols);
    for (double& x : w.w) x = u(rng);
    std::vector<std::size_t> rows(f.rows);
    std::iota(rows.begin(), rows.end(), 0);
    // Finite-difference gradient of the mean cross-entropy.
    std::vector<double> fd(w.w.size());
    const double h = 1e-6;
    for (std::size_t i = 0; i < w.w.size(); ++i) {
        Head a = w, b = w;
        a.w[i] += h;
        b.w[i] -= h;
        fd[i] = (cross_entropy(a, f) - cross_entropy(b, f)) / (2 * h);
    }
    Head ww = w, vv = w;
    const double lr = 0.5;
    nesterov_step(ww, vv, f, rows, lr, 0.0);
    double max_diff = 0;
    for (std::size_t i = 0; i < w.w.size(); ++i)
        max_diff = std::max(max_diff, std::fabs((w.w[i] - ww.w[i]) / lr - fd[i]));
    CHECK(max_diff < 1e-7);  // central differences: O(h²) truncation, O(1e-16/h) rounding
    CHECK(vv.w == ww.w);     // no momentum
}

TEST_CASE("plain: Nesterov schedule starts at 0 and tends to 1") {
    NesterovSchedule s;
    CHECK(s.next() == 0.0);
    double g = 0;
    for (int t = 0; t < 1000; ++t) {
        const double n = s.next();
        CHECK(n >= g);  // non-decreasing
        g = n;
    }
    CHECK(g > 0.99);
    CHECK(g < 1.0);
}

TEST_CASE("plain: normalisation and training converge on separable data") {
    const Features f = blobs(600, 8, 4, 3);
    double mean0 = 0;
    for (std::size_t i = 0; i < f.rows; ++i) mean0 += f.row(i)[0];
    CHECK(std::fabs(mean0 / static_cast<double>(f.rows)) < 1e-9);
    CHECK(f.row(5)[8] == 1.0);  // bias column
    std::vector<std::size_t> order(f.rows);
    std::iota(order.begin(), order.end(), 0);
    PlainConfig cfg;
    cfg.epochs = 3;
    cfg.batch = 64;
    cfg.lr = 1.0;
    std::vector<double> losses;
    const Head h = train_exact(f, order, cfg, [&](std::size_t, std::size_t, const Head& w) {
        losses.push_back(cross_entropy(w, f));
    });
    CHECK(losses.size() == 3 * (600 / 64));
    CHECK(losses.back() < losses.front());
    CHECK(accuracy(h, f) > 0.95);
    CHECK_THROWS_AS(train_exact(f, order, PlainConfig{1, 0, 1.0}), std::invalid_argument);
}

}  // TEST_SUITE
