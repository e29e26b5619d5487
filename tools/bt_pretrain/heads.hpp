// bt_pretrain's auxiliary heads besides the contrastive projector (contrastive.hpp): the
// reconstruction decoder (--recon) and the MLP head (--mlp-head). Both are trained along
// with the model by train.cpp and discarded after pretraining; the decoder's parameters
// and Adam moments are also kept in checkpoints (checkpoint.cpp).
#pragma once

#include "bt/nn/vit.hpp"
#include "contrastive.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace bt::pretrain {

using bt::nn::gelu_backward;
using bt::nn::gelu_forward;
using bt::nn::matmul_backward;
using bt::nn::matmul_forward;

// ------------------------------------------------------------------ reconstruction decoder
// recon = W · feature + b, W [PX, C], b [PX] (PX = input pixels); loss = mean squared error
// over pixels and images. Plain Adam (no decay). Discarded after pretraining.
struct Decoder {
    std::size_t C = 0, PX = 0;
    std::vector<float> p, m, v;  // W then b
    void init(std::size_t c, std::size_t px, std::uint64_t seed) {
        C = c;
        PX = px;
        p.assign(PX * C + PX, 0.0f);
        m.assign(p.size(), 0.0f);
        v.assign(p.size(), 0.0f);
        std::mt19937_64 rng(seed ^ 0xDEC0DEull);
        std::normal_distribution<float> nd(0.0f, 0.02f);
        for (std::size_t i = 0; i < PX * C; ++i) p[i] = nd(rng);
    }
    // Adds to dfeat [B, C] and grad [W; b]; returns the summed squared error / PX.
    double step(const float* feats, const float* target, std::size_t B, float weight, std::size_t batch_total,
                float* dfeat, float* grad, std::vector<float>& recon) const {
        recon.resize(B * PX);
        matmul_forward(recon.data(), feats, p.data(), p.data() + PX * C, B, C, PX);
        double se = 0.0;
        const float k = 2.0f * weight / static_cast<float>(PX * batch_total);
        for (std::size_t i = 0; i < B * PX; ++i) {
            const float d = recon[i] - target[i];
            se += static_cast<double>(d) * d;
            recon[i] = k * d;  // now d loss / d recon
        }
        matmul_backward(dfeat, grad, grad + PX * C, recon.data(), feats, p.data(), B, C, PX);
        return se / static_cast<double>(PX);
    }
    void adam(const std::vector<float>& g, float lr, std::uint64_t t) { bt::pretrain::adam_step(p, m, v, g, lr, t); }
};

// ------------------------------------------------------------------ MLP head (--mlp-head)
// logits = W2 · GELU(W1 · feature + b1) + b2, W1 [H, C], W2 [K, H]; cross-entropy on the
// training labels. It replaces the linear head as the objective the features serve (the
// linear head is then trained on detached features, as a probe): a supervised objective read
// through a nonlinear projector leaves the features before it less specialised to the
// pretraining classes (Wang et al., "Revisiting the Transferability of Supervised
// Pretraining: an MLP Projector is All You Need", CVPR 2022). Plain Adam; discarded after
// pretraining.
struct MlpHead {
    std::size_t C = 0, H = 0, K = 0;
    std::vector<float> p, m, v;  // W1, b1, W2, b2
    void init(std::size_t c, std::size_t h, std::size_t k, std::uint64_t seed) {
        C = c;
        H = h;
        K = k;
        p.assign(H * C + H + K * H + K, 0.0f);
        m.assign(p.size(), 0.0f);
        v.assign(p.size(), 0.0f);
        std::mt19937_64 rng(seed ^ 0x41EADull);
        std::normal_distribution<float> nd(0.0f, 0.02f);
        for (std::size_t i = 0; i < H * C; ++i) p[i] = nd(rng);
        for (std::size_t i = 0; i < K * H; ++i) p[H * C + H + i] = nd(rng);
    }
    // Adds d(weight · mean CE over batch_total rows)/d feats into dfeat [B, C] and the
    // parameter gradient into grad; returns the summed cross-entropy of these B rows.
    double step(const float* feats, const std::uint8_t* labels, std::size_t B, float weight, std::size_t batch_total,
                float* dfeat, float* grad) const {
        const float* W1 = p.data();
        const float* b1 = W1 + H * C;
        const float* W2 = b1 + H;
        const float* b2 = W2 + K * H;
        std::vector<float> h(B * H), a(B * H, 0.0f), z(B * K), da(B * H, 0.0f), dh(B * H, 0.0f);
        matmul_forward(h.data(), feats, W1, b1, B, C, H);
        gelu_forward(a.data(), h.data(), B * H);
        matmul_forward(z.data(), a.data(), W2, b2, B, H, K);
        double loss = 0.0;
        const float k = weight / static_cast<float>(batch_total);
        for (std::size_t b = 0; b < B; ++b) {
            float* zb = z.data() + b * K;
            float mx = zb[0], sum = 0.0f;
            for (std::size_t j = 1; j < K; ++j) mx = std::max(mx, zb[j]);
            for (std::size_t j = 0; j < K; ++j) sum += (zb[j] = std::exp(zb[j] - mx));
            loss -= std::log(zb[labels[b]] / sum);
            for (std::size_t j = 0; j < K; ++j) zb[j] = k * (zb[j] / sum - (labels[b] == j ? 1.0f : 0.0f));
        }
        float* gW1 = grad;
        float* gb1 = gW1 + H * C;
        float* gW2 = gb1 + H;
        float* gb2 = gW2 + K * H;
        matmul_backward(da.data(), gW2, gb2, z.data(), a.data(), W2, B, H, K);
        gelu_backward(dh.data(), h.data(), da.data(), B * H);
        matmul_backward(dfeat, gW1, gb1, dh.data(), feats, W1, B, C, H);
        return loss;
    }
    void adam(const std::vector<float>& g, float lr, std::uint64_t t) { bt::pretrain::adam_step(p, m, v, g, lr, t); }
};

}  // namespace bt::pretrain
