// Finite-difference checks of the transformer's backward pass (src/nn/vit.cpp), and
// forward invariants. Tiny models, fixed seeds.
#include "doctest/doctest.h"

#include "bt/nn/vit.hpp"

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

using namespace bt::nn;

namespace {

ViTConfig tiny_config(bool distilled) {
    ViTConfig c;
    c.image_size = 8;
    c.channels = 2;
    c.patch_size = 4;
    c.width = 8;
    c.depth = 2;
    c.heads = 2;
    c.mlp_hidden = 12;
    c.num_classes = 3;
    c.distilled = distilled;
    c.norm_mean = {0.5f, 0.5f};
    c.norm_std = {0.5f, 0.5f};
    return c;
}

}  // namespace

TEST_SUITE("nn") {

TEST_CASE("vit: every parameter gradient matches central finite differences") {
    for (bool distilled : {false, true}) {
        CAPTURE(distilled);
        const ViTConfig c = tiny_config(distilled);
        ViT m(c);
        init_vit(m, 7);
        // Larger weights than the 0.02 init so that every path carries signal.
        std::mt19937 rng(3);
        std::normal_distribution<float> nd(0.0f, 0.4f);
        for (float& x : m.memory) x += nd(rng);
        const std::size_t B = 3, in = c.channels * c.image_size * c.image_size;
        std::vector<float> img(B * in);
        for (float& x : img) x = nd(rng) * 2.0f;
        const std::uint8_t labels[B] = {0, 2, 1};
        ViTActs a;
        a.allocate(c, B);
        // Loss = cross-entropy + Σ r ⊙ features, so that the extra-gradient input of
        // vit_backward (dfeatures = r) is checked too.
        std::vector<float> r(B * c.width);
        for (float& x : r) x = nd(rng);
        auto loss_of = [&] {
            double l = vit_forward(m, a, img.data(), B, labels);
            for (std::size_t b = 0; b < B; ++b)
                for (std::size_t i = 0; i < c.width; ++i) l += r[b * c.width + i] * a.lnf[b * 2 * c.width + i];
            return l;
        };
        loss_of();
        ViT g(c);
        vit_backward(m, g, a, img.data(), labels, B, r.data());
        // Five-point central differences (error O(h^4)) around each parameter; the model
        // is float, so h = 1e-2 balances truncation against rounding. Mixed tolerance:
        // |fd - backward| <= 2e-2 · (1e-2 + |fd|), fixed before looking at the results.
        const float h = 1e-2f;
        double worst = 0.0;
        std::size_t checked = 0;
        for (std::size_t i = 0; i < m.num_params(); i += 1) {
            const float keep = m.memory[i];
            double f[4];
            const float steps[4] = {2 * h, h, -h, -2 * h};
            for (int s = 0; s < 4; ++s) {
                m.memory[i] = keep + steps[s];
                f[s] = loss_of();
            }
            m.memory[i] = keep;
            const double fd = (8.0 * (f[1] - f[2]) - (f[0] - f[3])) / (12.0 * h);
            const double err = std::fabs(fd - g.memory[i]) / (1e-2 + std::fabs(fd));
            worst = std::max(worst, err);
            if (err > 2e-2) {
                CHECK_MESSAGE(err <= 2e-2, "param " << i << ": backward " << g.memory[i] << ", finite difference " << fd);
            }
            ++checked;
        }
        MESSAGE("finite differences: " << checked << " parameters, worst mixed error " << worst);
        CHECK(checked == m.num_params());
    }
}

}  // TEST_SUITE
