// bt_pretrain's contrastive term (--contrastive): SimCLR's NT-Xent loss between two
// augmented views of each training image, computed on a small projection MLP of the
// features. The projector is trained along and discarded, as in SimCLR: the features it
// reads (final-LN class token) are what the linear probe and the encrypted trainer use.
//
// Index letters: V views in the step (2N: rows i and N + i are the two views of image i),
// C feature width, H projector hidden width, P projection width.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace bt::pretrain {

// Plain Adam (β = 0.9 / 0.999, ε = 1e-8, no decay) for the auxiliary heads that are trained
// along and discarded (projector, reconstruction decoder, MLP head); t counts from 1.
void adam_step(std::vector<float>& p, std::vector<float>& m, std::vector<float>& v, const std::vector<float>& g, float lr,
               std::uint64_t t);

// z = W2 · GELU(W1 · f + b1) + b2, u = z / |z|;  sim = u uᵀ / tau;
// loss = mean over views v of −log softmax_{k ≠ v}(sim[v, k]) at k = partner(v).
struct Projector {
    std::size_t C = 0, H = 0, P = 0;
    std::vector<float> p, m, v;  // W1 [H, C], b1 [H], W2 [P, H], b2 [P]; Adam moments

    void init(std::size_t c, std::size_t h, std::size_t proj, std::uint64_t seed);
    // feats [V, C] (V even). Returns the mean loss (unweighted). Writes dfeats [V, C], the
    // gradient of weight × loss, and ADDS that gradient's projector part into grad (size p).
    double step(const float* feats, std::size_t V, float tau, float weight, float* dfeats,
                std::vector<float>& grad) const;
    // Plain Adam (β = 0.9 / 0.999, no decay); t counts from 1.
    void adam(const std::vector<float>& g, float lr, std::uint64_t t);
};

// One contrastive view of a 28×28 8-bit image: random resized crop (area 40–100 %, aspect
// 3/4–4/3, bilinear), horizontal flip, brightness × [0.6, 1.4] and, with probability 1/4, an
// erased rectangle; then `rot` quarter turns counter-clockwise. Output: 28×28 8-bit.
void contrastive_view(const std::uint8_t* img, std::mt19937_64& rng, unsigned rot, std::uint8_t* out);

}  // namespace bt::pretrain
