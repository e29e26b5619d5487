// The shipped model (models/bt-vit-fmnist04.safetensors, made by bt_pretrain, see
// models/README.md): it loads, has the documented shape, and classifies Fashion-MNIST test
// images of classes 0-4 (the first 500 of them, to stay fast) far above chance.
#include "doctest/doctest.h"

#include "bt/nn/idx.hpp"
#include "bt/nn/vit.hpp"

#include <cstdio>
#include <vector>

using namespace bt::nn;

TEST_SUITE("nn") {

TEST_CASE("shipped model: loads with its documented config and classifies classes 0-4") {
    const std::string path = "models/bt-vit-fmnist04.safetensors";
    if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
        std::fclose(f);
    } else {
        MESSAGE("skipped: " << path << " not found (run from the repository root)");
        return;
    }
    const ViT m = load_vit(path);
    CHECK(m.config.image_size == 28);
    CHECK(m.config.channels == 1);
    CHECK(m.config.width == 120);
    CHECK(m.config.width >= 64);
    CHECK(m.config.width <= 192);
    const std::string ti = fashion_mnist_path("t10k", true), tl = fashion_mnist_path("t10k", false);
    if (std::FILE* f = std::fopen(ti.c_str(), "rb")) {
        std::fclose(f);
    } else {
        MESSAGE("skipped accuracy check: " << ti << " not found");
        return;
    }
    const IdxImages im = read_idx_images(ti);
    const IdxLabels lb = read_idx_labels(tl);
    std::vector<std::uint8_t> px, y;
    for (std::size_t i = 0; i < im.count && y.size() < 500; ++i)
        if (lb.labels[i] < 5) {
            px.insert(px.end(), im.image(i), im.image(i) + 784);
            y.push_back(lb.labels[i]);
        }
    const std::size_t n = y.size(), C = m.config.width;
    std::vector<float> f(n * C);
    extract_features_u8(m, px.data(), n, 28, 28, 1, f.data());
    // Head rows: 5 classes, or 20 = (class, rotation) with rotation 0 at rows 4·class.
    const std::size_t stride = m.config.num_classes == 20 ? 4 : 1;
    REQUIRE(m.config.num_classes == 5 * stride);
    std::size_t right = 0;
    for (std::size_t i = 0; i < n; ++i) {
        std::size_t best = 0;
        float bz = -1e30f;
        for (std::size_t k = 0; k < 5; ++k) {
            float z = m.p.head_b[k * stride];
            for (std::size_t j = 0; j < C; ++j) z += m.p.head_w[k * stride * C + j] * f[i * C + j];
            if (z > bz) {
                bz = z;
                best = k;
            }
        }
        right += best == y[i];
    }
    const double acc = static_cast<double>(right) / static_cast<double>(n);
    MESSAGE("shipped model: accuracy " << acc << " on the first " << n << " test images of classes 0-4");
    CHECK(acc >= 0.8);
}

}  // TEST_SUITE
