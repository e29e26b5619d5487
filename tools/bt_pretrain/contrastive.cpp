// NT-Xent on a projection MLP, and the views it compares (see contrastive.hpp).
#include "contrastive.hpp"

#include "bt/nn/vit.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

namespace bt::pretrain {

using bt::nn::gelu_backward;
using bt::nn::gelu_forward;
using bt::nn::matmul_backward;
using bt::nn::matmul_forward;

// ------------------------------------------------------------------ projector
void Projector::init(std::size_t c, std::size_t h, std::size_t proj, std::uint64_t seed) {
    C = c;
    H = h;
    P = proj;
    if (P > 256) throw std::invalid_argument("projector: projection width " + std::to_string(P) + " > 256");
    p.assign(H * C + H + P * H + P, 0.0f);
    m.assign(p.size(), 0.0f);
    v.assign(p.size(), 0.0f);
    std::mt19937_64 rng(seed ^ 0xC0A7A57ull);
    std::normal_distribution<float> nd1(0.0f, 1.0f / std::sqrt(static_cast<float>(C)));
    std::normal_distribution<float> nd2(0.0f, 1.0f / std::sqrt(static_cast<float>(H)));
    for (std::size_t i = 0; i < H * C; ++i) p[i] = nd1(rng);
    float* w2 = p.data() + H * C + H;
    for (std::size_t i = 0; i < P * H; ++i) w2[i] = nd2(rng);
}

double Projector::step(const float* feats, std::size_t V, float tau, float weight, float* dfeats,
                       std::vector<float>& grad) const {
    const float* w1 = p.data();
    const float* b1 = w1 + H * C;
    const float* w2 = b1 + H;
    const float* b2 = w2 + P * H;
    float* gw1 = grad.data();
    float* gb1 = gw1 + H * C;
    float* gw2 = gb1 + H;
    float* gb2 = gw2 + P * H;
    const std::size_t N = V / 2;
    // Forward: hidden, projection, unit vectors.
    std::vector<float> h(V * H), hg(V * H), z(V * P), u(V * P), norm(V);
    matmul_forward(h.data(), feats, w1, b1, V, C, H);
    gelu_forward(hg.data(), h.data(), V * H);
    matmul_forward(z.data(), hg.data(), w2, b2, V, H, P);
    for (std::size_t i = 0; i < V; ++i) {
        double s = 0.0;
        for (std::size_t j = 0; j < P; ++j) s += static_cast<double>(z[i * P + j]) * z[i * P + j];
        norm[i] = static_cast<float>(std::sqrt(s) + 1e-12);
        for (std::size_t j = 0; j < P; ++j) u[i * P + j] = z[i * P + j] / norm[i];
    }
    // Similarities, row softmax without the diagonal, loss and dL/dsim (G, [V, V]).
    std::vector<double> G(V * V, 0.0);
    double loss = 0.0;
    for (std::size_t i = 0; i < V; ++i) {
        const std::size_t pos = i < N ? i + N : i - N;
        double mx = -1e300;
        for (std::size_t k = 0; k < V; ++k) {
            if (k == i) continue;
            double s = 0.0;
            for (std::size_t j = 0; j < P; ++j) s += static_cast<double>(u[i * P + j]) * u[k * P + j];
            G[i * V + k] = s / tau;
            mx = std::max(mx, G[i * V + k]);
        }
        double sum = 0.0;
        for (std::size_t k = 0; k < V; ++k)
            if (k != i) sum += std::exp(G[i * V + k] - mx);
        loss += -(G[i * V + pos] - mx - std::log(sum));
        for (std::size_t k = 0; k < V; ++k) {
            if (k == i) continue;
            const double pk = std::exp(G[i * V + k] - mx) / sum;
            G[i * V + k] = weight * (pk - (k == pos ? 1.0 : 0.0)) / static_cast<double>(V);
        }
    }
    // dU = (G + Gᵀ) U / tau; through the normalization: dz = (dU − u (u·dU)) / |z|.
    std::vector<float> dz(V * P), dhg(V * H, 0.0f), dh(V * H, 0.0f);
    for (std::size_t i = 0; i < V; ++i) {
        double du[256] = {0.0};
        for (std::size_t k = 0; k < V; ++k) {
            const double g = (G[i * V + k] + G[k * V + i]) / tau;
            if (g == 0.0) continue;
            for (std::size_t j = 0; j < P; ++j) du[j] += g * u[k * P + j];
        }
        double dot = 0.0;
        for (std::size_t j = 0; j < P; ++j) dot += du[j] * u[i * P + j];
        for (std::size_t j = 0; j < P; ++j) dz[i * P + j] = static_cast<float>((du[j] - u[i * P + j] * dot) / norm[i]);
    }
    std::fill(dfeats, dfeats + V * C, 0.0f);
    matmul_backward(dhg.data(), gw2, gb2, dz.data(), hg.data(), w2, V, H, P);
    gelu_backward(dh.data(), h.data(), dhg.data(), V * H);
    matmul_backward(dfeats, gw1, gb1, dh.data(), feats, w1, V, C, H);
    return loss / static_cast<double>(V);
}

void adam_step(std::vector<float>& p, std::vector<float>& m, std::vector<float>& v, const std::vector<float>& g, float lr,
               std::uint64_t t) {
    const float b1 = 0.9f, b2 = 0.999f;
    const float c1 = 1.0f - std::pow(b1, static_cast<float>(t)), c2 = 1.0f - std::pow(b2, static_cast<float>(t));
    for (std::size_t i = 0; i < p.size(); ++i) {
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        p[i] -= lr * (m[i] / c1) / (std::sqrt(v[i] / c2) + 1e-8f);
    }
}

void Projector::adam(const std::vector<float>& g, float lr, std::uint64_t t) { adam_step(p, m, v, g, lr, t); }

// ------------------------------------------------------------------ views
void contrastive_view(const std::uint8_t* img, std::mt19937_64& rng, unsigned rot, std::uint8_t* out) {
    std::uniform_real_distribution<float> U(0.0f, 1.0f);
    // Random resized crop: a box of area a·784 and aspect r, resampled to 28×28.
    const float area = 0.4f + 0.6f * U(rng), logr = std::log(0.75f) + (std::log(4.0f / 3.0f) - std::log(0.75f)) * U(rng);
    const float ar = std::exp(logr);
    const float bw = std::min(28.0f, 28.0f * std::sqrt(area * ar)), bh = std::min(28.0f, 28.0f * std::sqrt(area / ar));
    const float x0 = (28.0f - bw) * U(rng), y0 = (28.0f - bh) * U(rng);
    const bool flip = U(rng) < 0.5f;
    const float bright = 0.6f + 0.8f * U(rng);
    float tmp[784];
    for (int y = 0; y < 28; ++y)
        for (int x = 0; x < 28; ++x) {
            const int xo = flip ? 27 - x : x;
            const float sx = std::clamp(x0 + (static_cast<float>(xo) + 0.5f) * bw / 28.0f - 0.5f, 0.0f, 27.0f);
            const float sy = std::clamp(y0 + (static_cast<float>(y) + 0.5f) * bh / 28.0f - 0.5f, 0.0f, 27.0f);
            const int ix = std::min(static_cast<int>(sx), 26), iy = std::min(static_cast<int>(sy), 26);
            const float fx = sx - static_cast<float>(ix), fy = sy - static_cast<float>(iy);
            const float a = img[iy * 28 + ix], b = img[iy * 28 + ix + 1], c = img[(iy + 1) * 28 + ix], d = img[(iy + 1) * 28 + ix + 1];
            tmp[y * 28 + x] = std::min(255.0f, bright * ((a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy));
        }
    if (U(rng) < 0.25f) {  // erase a rectangle of 4–12 × 4–12 pixels
        const int ew = 4 + static_cast<int>(rng() % 9), eh = 4 + static_cast<int>(rng() % 9);
        const int ex = static_cast<int>(rng() % static_cast<unsigned>(29 - ew)), ey = static_cast<int>(rng() % static_cast<unsigned>(29 - eh));
        for (int y = ey; y < ey + eh; ++y)
            for (int x = ex; x < ex + ew; ++x) tmp[y * 28 + x] = 0.0f;
    }
    for (int y = 0; y < 28; ++y)
        for (int x = 0; x < 28; ++x) {
            int sy = y, sx = x;
            for (unsigned k = 0; k < rot; ++k) {  // inverse map of one quarter turn, as make_input
                const int t = sy;
                sy = sx;
                sx = 27 - t;
            }
            out[y * 28 + x] = static_cast<std::uint8_t>(tmp[sy * 28 + sx] + 0.5f);
        }
}

}  // namespace bt::pretrain
