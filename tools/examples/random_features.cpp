// Example: a features data set of any width d from an IDX image set, for `bt_train --data
// DIR --format features` -- a fixed random-feature map of the pixels (Rahimi and Recht,
// "Random features for large-scale kernel machines", NIPS 2007): feature j of image x is
// max(0, w_j · x̂ + b_j) with x̂ the standardised pixels, w_j ~ N(0, 1/p) and b_j ~ N(0, 1)
// drawn from a fixed seed. A linear head on these features learns Fashion-MNIST about as
// well as on the pixels themselves, so the set is a real, learnable workload of HETAL's
// width (d = 768) without running a large backbone here.
//
// Build against an installed library:
//   g++ -std=c++17 -O2 random_features.cpp $(pkg-config --cflags --libs blindtuner) -o random_features
// Run: ./random_features OUT_DIR [d (768)] [images per split (0 = all)] [IDX_DIR (Debian's Fashion-MNIST)]
// Writes OUT_DIR/{train,test}_{features,labels}.npy (float32 [n, d], uint8 [n]) atomically.
// Exit status 0 done, 2 on bad arguments or unreadable input.
#include "bt/nn/idx.hpp"
#include "bt/nn/npy.hpp"
#include "bt/os.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

// The map: W (d × p) and b (d), fixed by the seed.
struct FeatureMap {
    std::size_t d = 0, p = 0;
    std::vector<float> w, b;
    FeatureMap(std::size_t d_, std::size_t p_, std::uint64_t seed) : d(d_), p(p_), w(d_ * p_), b(d_) {
        std::mt19937_64 rng(seed);
        std::normal_distribution<double> n01(0.0, 1.0);
        const double sw = 1.0 / std::sqrt(static_cast<double>(p));
        for (float& x : w) x = static_cast<float>(sw * n01(rng));
        for (float& x : b) x = static_cast<float>(n01(rng));
    }
};

// Features of every image of `imgs` (pixels standardised by the training set's mean/sd).
std::vector<float> features(const FeatureMap& m, const bt::nn::ImageArray& imgs, std::size_t n, double mean,
                            double sd) {
    std::vector<float> out(n * m.d);
    const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            std::vector<float> x(m.p);
            for (std::size_t i = t; i < n; i += threads) {
                const std::uint8_t* px = imgs.image(i);
                for (std::size_t k = 0; k < m.p; ++k) x[k] = static_cast<float>((px[k] / 255.0 - mean) / sd);
                for (std::size_t j = 0; j < m.d; ++j) {
                    const float* wj = m.w.data() + j * m.p;
                    float s = m.b[j];
                    for (std::size_t k = 0; k < m.p; ++k) s += wj[k] * x[k];
                    out[i * m.d + j] = std::max(0.0f, s);
                }
            }
        });
    for (std::thread& th : pool) th.join();
    return out;
}

std::size_t parse_count(const char* s, const char* what) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s, &end, 10);
    if (end == s || *end != '\0' || v > (1ull << 20)) {
        std::fprintf(stderr, "random_features: %s must be a whole number up to 2^20, found '%s'\n", what, s);
        std::exit(2);
    }
    return static_cast<std::size_t>(v);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argc > 5) {
        std::fprintf(stderr, "usage: random_features OUT_DIR [d (768)] [images per split (0 = all)] [IDX_DIR]\n");
        return 2;
    }
    const std::string out = argv[1];
    const std::size_t d = argc > 2 ? parse_count(argv[2], "d") : 768;
    const std::size_t limit = argc > 3 ? parse_count(argv[3], "images per split") : 0;
    if (d == 0) {
        std::fprintf(stderr, "random_features: d must be at least 1\n");
        return 2;
    }
    try {
        auto path = [&](const std::string& split, bool images) {
            if (argc > 4)
                return std::string(argv[4]) + "/" + split + (images ? "-images-idx3-ubyte.gz" : "-labels-idx1-ubyte.gz");
            return bt::nn::fashion_mnist_path(split, images);
        };
        const bt::nn::ImageArray tr = bt::nn::read_idx_images(path("train", true));
        const bt::nn::ImageArray te = bt::nn::read_idx_images(path("t10k", true));
        const bt::nn::IdxLabels trl = bt::nn::read_idx_labels(path("train", false));
        const bt::nn::IdxLabels tel = bt::nn::read_idx_labels(path("t10k", false));
        const std::size_t p = tr.rows * tr.cols * tr.channels;
        if (te.rows * te.cols * te.channels != p || trl.count() != tr.count || tel.count() != te.count)
            throw std::runtime_error("the train and test IDX files disagree in image size or count");
        double sum = 0, sq = 0;
        for (std::uint8_t v : tr.pixels) {
            sum += v / 255.0;
            sq += (v / 255.0) * (v / 255.0);
        }
        const double cnt = static_cast<double>(tr.pixels.size());
        const double mean = sum / cnt, sd = std::sqrt(std::max(1e-12, sq / cnt - mean * mean));
        const FeatureMap m(d, p, 0x5EEDF00Dull);
        bt::make_dirs(out);
        struct Split {
            const char* name;
            const bt::nn::ImageArray& img;
            const bt::nn::IdxLabels& lab;
        };
        for (const Split& s : {Split{"train", tr, trl}, Split{"test", te, tel}}) {
            const std::size_t n = limit ? std::min(limit, s.img.count) : s.img.count;
            const std::vector<float> f = features(m, s.img, n, mean, sd);
            const std::vector<std::uint8_t> labels(s.lab.labels.begin(), s.lab.labels.begin() + static_cast<long>(n));
            bt::write_file_atomic(out + "/" + s.name + "_features.npy",
                                      bt::nn::npy_encode(bt::nn::NpyType::F32, {n, d}, f.data()));
            bt::write_file_atomic(out + "/" + s.name + "_labels.npy",
                                      bt::nn::npy_encode(bt::nn::NpyType::U8, {n}, labels.data()));
            std::printf("%s: %zu images -> %s/%s_features.npy [%zu, %zu] float32\n", s.name, n, out.c_str(), s.name,
                        n, d);
        }
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "random_features: %s\n", e.what());
        return 2;
    }
}
