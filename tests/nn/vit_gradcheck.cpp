// Finite-difference checks of the transformer's backward pass (src/nn/vit.cpp), and
// forward invariants. Tiny models, fixed seeds.
#include "doctest/doctest.h"

#include "bt/nn/vit.hpp"

#include <algorithm>
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

// A tiny model with weights well away from the 0.02 init (so that every path carries
// signal), B random images and a random feature-gradient r [B, width], all from one seeded
// draw in that order.
struct RandomCase {
    ViT m;
    std::vector<float> img, r;
};

RandomCase random_case(const ViTConfig& c, std::uint64_t init_seed, unsigned draw_seed, std::size_t B) {
    RandomCase t{ViT(c), std::vector<float>(B * c.channels * c.image_size * c.image_size), std::vector<float>(B * c.width)};
    init_vit(t.m, init_seed);
    std::mt19937 rng(draw_seed);
    std::normal_distribution<float> nd(0.0f, 0.4f);
    for (float& x : t.m.memory) x += nd(rng);
    for (float& x : t.img) x = nd(rng) * 2.0f;
    for (float& x : t.r) x = nd(rng);
    return t;
}

}  // namespace

TEST_SUITE("nn") {

TEST_CASE("vit: every parameter gradient matches central finite differences") {
    for (bool distilled : {false, true}) {
        CAPTURE(distilled);
        const ViTConfig c = tiny_config(distilled);
        const std::size_t B = 3;
        // Loss = cross-entropy + Σ r ⊙ features, so that the extra-gradient input of
        // vit_backward (dfeatures = r) is checked too.
        RandomCase t = random_case(c, 7, 3, B);
        ViT& m = t.m;
        const std::vector<float>& img = t.img;
        const std::vector<float>& r = t.r;
        const std::uint8_t labels[B] = {0, 2, 1};
        ViTActs a;
        a.allocate(c, B);
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

TEST_CASE("vit: head_to_features = false trains the head without any gradient into the features") {
    for (bool distilled : {false, true}) {
        CAPTURE(distilled);
        const ViTConfig c = tiny_config(distilled);
        const std::size_t B = 3, K = c.num_classes, C = c.width;
        const RandomCase t = random_case(c, 11, 5, B);
        const ViT& m = t.m;
        const std::vector<float>& img = t.img;
        const std::vector<float>& r = t.r;
        const std::uint8_t labels[B] = {2, 0, 1};
        ViTActs a;
        a.allocate(c, B);
        vit_forward(m, a, img.data(), B, labels);
        ViT full_r(c), full_0(c), det_r(c), det_0(c);
        vit_backward(m, full_r, a, img.data(), labels, B, r.data(), true);
        vit_backward(m, full_0, a, img.data(), labels, B, nullptr, true);
        vit_backward(m, det_r, a, img.data(), labels, B, r.data(), false);
        vit_backward(m, det_0, a, img.data(), labels, B, nullptr, false);
        const auto is_head = [&](std::size_t i) {
            const float* p = full_r.memory.data() + i;
            const auto inside = [&](const float* base, std::size_t n) { return p >= base && p < base + n; };
            return inside(full_r.p.head_w, K * C) || inside(full_r.p.head_b, K) ||
                   (c.distilled && (inside(full_r.p.head_dist_w, K * C) || inside(full_r.p.head_dist_b, K)));
        };
        // The head's own gradients are unchanged; the body sees only the extra term r. The
        // backward is linear in its upstream gradient, so the body's r-part is
        // full(r) - full(0) (equal up to float rounding: tolerance 1e-5 of the largest gradient).
        double gmax = 0.0;
        for (std::size_t i = 0; i < m.num_params(); ++i)
            gmax = std::max({gmax, static_cast<double>(std::fabs(full_r.memory[i])), static_cast<double>(std::fabs(full_0.memory[i]))});
        std::size_t body_moved = 0, head_moved = 0;
        double worst = 0.0;
        for (std::size_t i = 0; i < m.num_params(); ++i) {
            if (is_head(i)) {
                CHECK(det_r.memory[i] == full_r.memory[i]);
                CHECK(det_0.memory[i] == full_0.memory[i]);
                head_moved += det_0.memory[i] != 0.0f;
            } else {
                CHECK(det_0.memory[i] == 0.0f);
                const double want = static_cast<double>(full_r.memory[i]) - full_0.memory[i];
                worst = std::max(worst, std::fabs(det_r.memory[i] - want) / gmax);
                body_moved += det_r.memory[i] != 0.0f;
            }
        }
        MESSAGE("detached body vs full(r) - full(0): worst difference / largest gradient " << worst);
        CHECK(worst <= 1e-5);
        CHECK(body_moved > 0);
        CHECK(head_moved > 0);
    }
}

}  // TEST_SUITE
