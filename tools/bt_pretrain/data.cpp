// bt_pretrain's data and evaluation: the Fashion-MNIST splits (five classes at a time,
// relabelled to 0..4), one training input (flip, shift, quarter turns, normalization), and
// the test accuracy of a model's linear head, plain or aggregated over four rotations for
// the joint (class, rotation) head of --rotations.
#include "pretrain.hpp"

#include "bt/nn/idx.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

namespace bt::pretrain {

using namespace bt::nn;

// ------------------------------------------------------------------ data
namespace {

std::string data_file(const std::string& dir, const std::string& split, bool images) {
    const std::string base = dir + "/" + split + (images ? "-images-idx3-ubyte" : "-labels-idx1-ubyte");
    if (std::FILE* f = std::fopen((base + ".gz").c_str(), "rb")) {
        std::fclose(f);
        return base + ".gz";
    }
    return base;
}

}  // namespace

// Images of classes [lo, lo + 5), labels shifted to 0..4.
Split load_split(const std::string& dir, const std::string& split, int lo) {
    const IdxImages im = read_idx_images(data_file(dir, split, true));
    const IdxLabels lb = read_idx_labels(data_file(dir, split, false));
    if (im.count != lb.count())
        die(split + ": " + std::to_string(im.count) + " images but " + std::to_string(lb.count()) + " labels");
    if (im.rows != 28 || im.cols != 28)
        die(split + ": images are " + std::to_string(im.rows) + "x" + std::to_string(im.cols) + ", expected 28x28");
    Split s;
    for (std::size_t i = 0; i < im.count; ++i) {
        const int y = lb.labels[i];
        if (y < lo || y >= lo + 5) continue;
        s.pixels.insert(s.pixels.end(), im.image(i), im.image(i) + 784);
        s.labels.push_back(static_cast<std::uint8_t>(y - lo));
        ++s.n;
    }
    return s;
}

// One training input: optional flip and shift (zero = background fill), normalized.
void make_input(const ViTConfig& c, const std::uint8_t* img, bool augment, std::mt19937_64& rng, float* out,
                unsigned rot) {
    std::uint8_t tmp[784], rotated[784];
    const std::uint8_t* src = img;
    if (augment) {
        const bool flip = (rng() & 1) != 0;
        const int dx = static_cast<int>(rng() % 5) - 2, dy = static_cast<int>(rng() % 5) - 2;
        for (int y = 0; y < 28; ++y)
            for (int x = 0; x < 28; ++x) {
                int sx = x - dx, sy = y - dy;
                if (flip) sx = 27 - sx;
                tmp[y * 28 + x] = (sx < 0 || sx > 27 || sy < 0 || sy > 27) ? 0 : img[sy * 28 + sx];
            }
        src = tmp;
    }
    if (rot) {  // r quarter turns counter-clockwise
        for (int y = 0; y < 28; ++y)
            for (int x = 0; x < 28; ++x) {
                int sy = y, sx = x;
                for (unsigned k = 0; k < rot; ++k) {  // inverse map of one quarter turn
                    const int t = sy;
                    sy = sx;
                    sx = 27 - t;
                }
                rotated[y * 28 + x] = src[sy * 28 + sx];
            }
        src = rotated;
    }
    preprocess_u8(c, src, 28, 28, 1, out);
}

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// ------------------------------------------------------------------ evaluation
double accuracy(const ViT& m, const Split& s) {
    // A 20-output head is the joint (class, rotation) head of --rotations: read r = 0.
    const std::size_t C = m.config.width, K = m.config.num_classes == 20 ? 5 : m.config.num_classes;
    const std::size_t stride = m.config.num_classes == 20 ? 4 : 1;
    std::vector<float> feats(s.n * C);
    extract_features_u8(m, s.pixels.data(), s.n, 28, 28, 1, feats.data());
    std::size_t right = 0;
    for (std::size_t i = 0; i < s.n; ++i) {
        std::size_t best = 0;
        float bestz = -INFINITY;
        for (std::size_t k = 0; k < K; ++k) {
            const std::size_t row = k * stride;
            float z = m.p.head_b[row];
            for (std::size_t j = 0; j < C; ++j) z += m.p.head_w[row * C + j] * feats[i * C + j];
            if (z > bestz) { bestz = z; best = k; }
        }
        right += best == s.labels[i];
    }
    return static_cast<double>(right) / static_cast<double>(s.n);
}


// For a joint (class, rotation) head: the test image is shown in all four rotations r and
// class y scores Σ_r log softmax(logits)[4y + r] (aggregated inference of self-supervised
// label augmentation). Returns 0 for other heads.
double accuracy_rotations(const ViT& m, const Split& s) {
    if (m.config.num_classes != 20) return 0.0;
    const std::size_t C = m.config.width, in = 784;
    std::vector<double> score(s.n * 5, 0.0);
    std::vector<float> x(s.n * in), feats(s.n * C);
    std::mt19937_64 unused(0);
    for (unsigned r = 0; r < 4; ++r) {
        for (std::size_t i = 0; i < s.n; ++i) make_input(m.config, s.pixels.data() + i * in, false, unused, x.data() + i * in, r);
        extract_features(m, x.data(), s.n, feats.data());
        for (std::size_t i = 0; i < s.n; ++i) {
            double z[20], mx = -1e300, sum = 0.0;
            for (std::size_t k = 0; k < 20; ++k) {
                double a = m.p.head_b[k];
                for (std::size_t j = 0; j < C; ++j) a += static_cast<double>(m.p.head_w[k * C + j]) * feats[i * C + j];
                z[k] = a;
                mx = std::max(mx, a);
            }
            for (double v : z) sum += std::exp(v - mx);
            for (std::size_t y = 0; y < 5; ++y) score[i * 5 + y] += z[4 * y + r] - mx - std::log(sum);
        }
    }
    std::size_t right = 0;
    for (std::size_t i = 0; i < s.n; ++i) {
        std::size_t best = 0;
        for (std::size_t y = 1; y < 5; ++y)
            if (score[i * 5 + y] > score[i * 5 + best]) best = y;
        right += best == s.labels[i];
    }
    return static_cast<double>(right) / static_cast<double>(s.n);
}

}  // namespace bt::pretrain
