// bt_pretrain --probe: the linear probe of a pretrained model's frozen features on the
// "private" classes 5-9 against the same probe on raw pixels (softmax regression with
// Nesterov SGD on standardized inputs), scored on the test split or, with
// --probe-validation, on 5,000 held-out training images; optionally repeated over several
// seeded training subsets.
#include "pretrain.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>

namespace bt::pretrain {

using namespace bt::nn;

// ------------------------------------------------------------------ linear probe
namespace {

// Softmax regression on standardized inputs (per-dimension mean/std of the training set),
// mini-batch Nesterov momentum, fixed budget; the same for features and pixels.
double probe(std::vector<float> xtr, const std::vector<std::uint8_t>& ytr, std::vector<float> xte,
             const std::vector<std::uint8_t>& yte, std::size_t d, std::size_t epochs, std::uint64_t seed) {
    const std::size_t n = ytr.size(), nt = yte.size(), K = 5, bs = 128;
    std::vector<double> mu(d, 0.0), sd(d, 0.0);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < d; ++j) mu[j] += xtr[i * d + j];
    for (double& x : mu) x /= static_cast<double>(n);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < d; ++j) sd[j] += (xtr[i * d + j] - mu[j]) * (xtr[i * d + j] - mu[j]);
    for (double& x : sd) x = std::sqrt(x / static_cast<double>(n)) + 1e-6;
    for (std::vector<float>* x : {&xtr, &xte})
        for (std::size_t i = 0; i < x->size(); ++i) {
            const std::size_t j = i % d;
            (*x)[i] = static_cast<float>(((*x)[i] - mu[j]) / sd[j]);
        }
    // w[k*(d+1) + j], bias at j = d.
    const std::size_t D = d + 1;
    std::vector<double> w(K * D, 0.0), vel(K * D, 0.0), look(K * D), g(K * D);
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::mt19937_64 rng(seed);
    const double lr = 0.1, mom = 0.9;
    auto logits = [&](const std::vector<double>& wt, const float* x, double* z) {
        for (std::size_t k = 0; k < K; ++k) {
            const double* wk = wt.data() + k * D;
            double acc = wk[d];
            for (std::size_t j = 0; j < d; ++j) acc += wk[j] * x[j];
            z[k] = acc;
        }
    };
    for (std::size_t e = 0; e < epochs; ++e) {
        std::shuffle(order.begin(), order.end(), rng);
        for (std::size_t b0 = 0; b0 < n; b0 += bs) {
            const std::size_t b1 = std::min(n, b0 + bs);
            for (std::size_t i = 0; i < w.size(); ++i) look[i] = w[i] + mom * vel[i];  // Nesterov look-ahead
            std::fill(g.begin(), g.end(), 0.0);
            for (std::size_t bi = b0; bi < b1; ++bi) {
                const std::size_t i = order[bi];
                const float* x = xtr.data() + i * d;
                double z[5], mx = -1e300, sum = 0;
                logits(look, x, z);
                for (double v : z) mx = std::max(mx, v);
                for (double& v : z) { v = std::exp(v - mx); sum += v; }
                for (std::size_t k = 0; k < K; ++k) {
                    const double dz = (z[k] / sum - (ytr[i] == k ? 1.0 : 0.0)) / static_cast<double>(b1 - b0);
                    double* gk = g.data() + k * D;
                    gk[d] += dz;
                    for (std::size_t j = 0; j < d; ++j) gk[j] += dz * x[j];
                }
            }
            for (std::size_t i = 0; i < w.size(); ++i) {
                vel[i] = mom * vel[i] - lr * g[i];
                w[i] += vel[i];
            }
        }
    }
    std::size_t right = 0;
    for (std::size_t i = 0; i < nt; ++i) {
        double z[5];
        logits(w, xte.data() + i * d, z);
        std::size_t best = 0;
        for (std::size_t k = 1; k < K; ++k)
            if (z[k] > z[best]) best = k;
        right += best == yte[i];
    }
    return static_cast<double>(right) / static_cast<double>(nt);
}

// Rows `idx` of a row-major [*, d] array.
std::vector<float> rows_of(const std::vector<float>& x, std::size_t d, const std::vector<std::size_t>& idx) {
    std::vector<float> out(idx.size() * d);
    for (std::size_t k = 0; k < idx.size(); ++k)
        std::memcpy(out.data() + k * d, x.data() + idx[k] * d, d * sizeof(float));
    return out;
}

}  // namespace

// Features and pixels of all images are computed once; each repetition r draws its own
// seeded, class-mixed training subset (seed + r; r = 0 is the subset of earlier versions)
// and trains both probes on it. With several repetitions the mean and spread are printed.
int run_probe(const Args& args) {
    const ViT m = load_model(args.model);
    Split tr = load_split(args.data, "train", 5);
    Split te;  // the scored split: t10k, or with --probe-validation held-out training images
    if (!args.probe_validation) {
        te = load_split(args.data, "t10k", 5);
    } else {
        // Hold out 5,000 training images (seed 7) as the scored split; never touch t10k.
        std::vector<std::size_t> perm(tr.n);
        std::iota(perm.begin(), perm.end(), std::size_t{0});
        std::mt19937_64 prng(7);
        std::shuffle(perm.begin(), perm.end(), prng);
        const std::size_t nv = 5000;
        Split val, pool;
        for (std::size_t k = 0; k < tr.n; ++k) {
            Split& dst = k < nv ? val : pool;
            const std::uint8_t* im = tr.pixels.data() + perm[k] * 784;
            dst.pixels.insert(dst.pixels.end(), im, im + 784);
            dst.labels.push_back(tr.labels[perm[k]]);
            ++dst.n;
        }
        tr = std::move(pool);
        te = std::move(val);
        std::printf("probe: VALIDATION protocol (5,000 held-out training images, pool of %zu; no test images)\n", tr.n);
    }
    const std::size_t n = (args.probe_train && args.probe_train < tr.n) ? args.probe_train : tr.n;
    const std::size_t reps = n < tr.n ? std::max<std::size_t>(args.probe_seeds, 1) : 1;
    const char* scored = args.probe_validation ? "validation" : "test";
    std::printf("probe: classes 5-9, %zu training and %zu %s images, %zu epochs of Nesterov SGD (batch 128, lr 0.1), "
                "%zu subset(s)\n", n, te.n, scored, args.probe_epochs, reps);
    const std::size_t C = m.config.width;
    const double t0 = now_s();
    std::vector<float> ftr(tr.n * C), fte(te.n * C);
    extract_features_u8(m, tr.pixels.data(), tr.n, 28, 28, 1, ftr.data());
    extract_features_u8(m, te.pixels.data(), te.n, 28, 28, 1, fte.data());
    const double tf = now_s() - t0;
    std::printf("features: %zu images in %.2f s (%.0f images/s)\n", tr.n + te.n, tf, static_cast<double>(tr.n + te.n) / tf);
    std::vector<float> ptr(tr.n * 784), pte(te.n * 784);
    for (std::size_t i = 0; i < tr.n * 784; ++i) ptr[i] = static_cast<float>(tr.pixels[i]) / 255.0f;
    for (std::size_t i = 0; i < te.n * 784; ++i) pte[i] = static_cast<float>(te.pixels[i]) / 255.0f;
    std::vector<double> af, ap;
    for (std::size_t r = 0; r < reps; ++r) {
        std::vector<std::size_t> idx(tr.n);
        std::iota(idx.begin(), idx.end(), std::size_t{0});
        if (n < tr.n) {
            std::mt19937_64 rng(args.seed + r);
            std::shuffle(idx.begin(), idx.end(), rng);
            idx.resize(n);
        }
        std::vector<std::uint8_t> y(n);
        for (std::size_t k = 0; k < n; ++k) y[k] = tr.labels[idx[k]];
        af.push_back(probe(rows_of(ftr, C, idx), y, fte, te.labels, C, args.probe_epochs, args.seed));
        ap.push_back(probe(rows_of(ptr, 784, idx), y, pte, te.labels, 784, args.probe_epochs, args.seed));
        if (reps > 1)
            std::printf("subset seed %llu: features %.4f, raw pixels %.4f\n", static_cast<unsigned long long>(args.seed + r),
                        af.back(), ap.back());
    }
    auto mean_sd = [](const std::vector<double>& v, double& mu, double& sd) {
        mu = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
        sd = 0.0;
        for (double x : v) sd += (x - mu) * (x - mu);
        sd = v.size() > 1 ? std::sqrt(sd / static_cast<double>(v.size() - 1)) : 0.0;
    };
    double mf, sf, mp, sp;
    mean_sd(af, mf, sf);
    mean_sd(ap, mp, sp);
    if (reps > 1) {
        std::printf("probe on features (%zu-d): %s accuracy %.4f (mean of %zu subsets, sd %.4f)\n", C, scored, mf, reps, sf);
        std::printf("probe on raw pixels (784-d): %s accuracy %.4f (mean of %zu subsets, sd %.4f)\n", scored, mp, reps, sp);
    } else {
        std::printf("probe on features (%zu-d): %s accuracy %.4f\n", C, scored, mf);
        std::printf("probe on raw pixels (784-d): %s accuracy %.4f\n", scored, mp);
    }
    return 0;
}

}  // namespace bt::pretrain
