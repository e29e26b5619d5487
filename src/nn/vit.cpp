// The transformer: configuration, parameter layout, layers (forward and backward), the
// model passes, AdamW. See include/bt/nn/vit.hpp for the topology and index letters.
// Weight files and feature extraction are in vit_io.cpp.
#include "bt/nn/vit.hpp"

#include "bt/nn/matmul.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace bt::nn {

// ================================================================== configuration

void ViTConfig::validate() const {
    auto bad = [](const std::string& what) { throw std::invalid_argument("ViT config: " + what); };
    if (image_size == 0 || patch_size == 0 || image_size % patch_size != 0)
        bad("image_size " + std::to_string(image_size) + " must be a positive multiple of patch_size " +
            std::to_string(patch_size));
    if (channels == 0 || channels > 4) bad("channels " + std::to_string(channels) + " (expected 1..4)");
    if (width == 0 || heads == 0 || width % heads != 0)
        bad("width " + std::to_string(width) + " must be a positive multiple of heads " + std::to_string(heads));
    if (depth == 0 || depth > 64) bad("depth " + std::to_string(depth) + " (expected 1..64)");
    if (mlp_hidden == 0) bad("mlp_hidden must be positive");
    if (width > 8192 || mlp_hidden > 32768 || num_classes > 100000 || image_size > 4096) bad("dimensions too large");
    if (!(ln_eps > 0.0f)) bad("ln_eps must be positive");
    if (norm_mean.size() != channels || norm_std.size() != channels)
        bad("norm_mean/norm_std need one entry per channel (" + std::to_string(channels) + ")");
    for (float s : norm_std)
        if (!(s > 0.0f)) bad("norm_std entries must be positive");
}

namespace {

std::string floats_to_string(const std::vector<float>& v) {
    std::string s;
    char buf[32];
    for (std::size_t i = 0; i < v.size(); ++i) {
        std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v[i]));
        s += (i ? "," : "") + std::string(buf);
    }
    return s;
}

std::vector<float> floats_from_string(const std::string& s, const std::string& key) {
    std::vector<float> out;
    std::size_t i = 0;
    while (i <= s.size()) {
        std::size_t j = s.find(',', i);
        if (j == std::string::npos) j = s.size();
        try {
            std::size_t used = 0;
            const std::string tok = s.substr(i, j - i);
            out.push_back(std::stof(tok, &used));
            if (used != tok.size()) throw std::invalid_argument("trailing");
        } catch (const std::exception&) {
            throw std::invalid_argument("ViT metadata: \"" + key + "\" = \"" + s + "\" is not a list of numbers");
        }
        i = j + 1;
    }
    return out;
}

std::size_t size_from_string(const std::map<std::string, std::string>& md, const char* key) {
    auto it = md.find(key);
    if (it == md.end()) throw std::invalid_argument(std::string("ViT metadata: missing \"") + key + "\"");
    const std::string& s = it->second;
    if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos)
        throw std::invalid_argument(std::string("ViT metadata: \"") + key + "\" = \"" + s + "\" is not a number");
    return static_cast<std::size_t>(std::stoul(s));
}

}  // namespace

std::map<std::string, std::string> ViTConfig::to_metadata() const {
    std::map<std::string, std::string> md;
    md["format"] = "bt-vit";
    md["image_size"] = std::to_string(image_size);
    md["channels"] = std::to_string(channels);
    md["patch_size"] = std::to_string(patch_size);
    md["width"] = std::to_string(width);
    md["depth"] = std::to_string(depth);
    md["heads"] = std::to_string(heads);
    md["mlp_hidden"] = std::to_string(mlp_hidden);
    md["num_classes"] = std::to_string(num_classes);
    md["distilled"] = distilled ? "1" : "0";
    md["ln_eps"] = floats_to_string({ln_eps});
    md["norm_mean"] = floats_to_string(norm_mean);
    md["norm_std"] = floats_to_string(norm_std);
    return md;
}

ViTConfig ViTConfig::from_metadata(const std::map<std::string, std::string>& md) {
    auto f = md.find("format");
    if (f == md.end() || f->second != "bt-vit")
        throw std::invalid_argument("ViT metadata: \"format\" is not \"bt-vit\"");
    ViTConfig c;
    c.image_size = size_from_string(md, "image_size");
    c.channels = size_from_string(md, "channels");
    c.patch_size = size_from_string(md, "patch_size");
    c.width = size_from_string(md, "width");
    c.depth = size_from_string(md, "depth");
    c.heads = size_from_string(md, "heads");
    c.mlp_hidden = size_from_string(md, "mlp_hidden");
    c.num_classes = size_from_string(md, "num_classes");
    c.distilled = size_from_string(md, "distilled") != 0;
    for (const char* k : {"ln_eps", "norm_mean", "norm_std"})
        if (!md.count(k)) throw std::invalid_argument(std::string("ViT metadata: missing \"") + k + "\"");
    c.ln_eps = floats_from_string(md.at("ln_eps"), "ln_eps").at(0);
    c.norm_mean = floats_from_string(md.at("norm_mean"), "norm_mean");
    c.norm_std = floats_from_string(md.at("norm_std"), "norm_std");
    c.validate();
    return c;
}

std::string ViTConfig::describe() const {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "ViT %zux%zux%zu patch %zu (T=%zu) width %zu depth %zu heads %zu mlp %zu classes %zu%s eps %g",
                  channels, image_size, image_size, patch_size, tokens(), width, depth, heads, mlp_hidden,
                  num_classes, distilled ? " distilled" : "", static_cast<double>(ln_eps));
    return buf;
}

// ================================================================== parameters

std::size_t ParamSpec::numel() const {
    if (shape.empty()) return 0;
    std::size_t n = 1;
    for (std::size_t d : shape) n *= d;
    return n;
}

std::vector<ParamSpec> param_table(const ViTConfig& c) {
    const std::size_t C = c.width, H = c.mlp_hidden, K = c.num_classes, P = c.patch_size;
    using V = std::vector<std::size_t>;
    const V none{};
    const bool d = c.distilled, k = K > 0;
    return {
        {"patch_embed.proj.weight", {C, c.channels, P, P}, false, true},
        {"patch_embed.proj.bias", {C}, false, false},
        {"cls_token", {1, 1, C}, false, false},
        {"dist_token", d ? V{1, 1, C} : none, false, false},
        {"pos_embed", {1, c.tokens(), C}, false, false},
        {"blocks.{l}.norm1.weight", {C}, true, false},
        {"blocks.{l}.norm1.bias", {C}, true, false},
        {"blocks.{l}.attn.qkv.weight", {3 * C, C}, true, true},
        {"blocks.{l}.attn.qkv.bias", {3 * C}, true, false},
        {"blocks.{l}.attn.proj.weight", {C, C}, true, true},
        {"blocks.{l}.attn.proj.bias", {C}, true, false},
        {"blocks.{l}.norm2.weight", {C}, true, false},
        {"blocks.{l}.norm2.bias", {C}, true, false},
        {"blocks.{l}.mlp.fc1.weight", {H, C}, true, true},
        {"blocks.{l}.mlp.fc1.bias", {H}, true, false},
        {"blocks.{l}.mlp.fc2.weight", {C, H}, true, true},
        {"blocks.{l}.mlp.fc2.bias", {C}, true, false},
        {"norm.weight", {C}, false, false},
        {"norm.bias", {C}, false, false},
        {"head.weight", k ? V{K, C} : none, false, true},
        {"head.bias", k ? V{K} : none, false, false},
        {"head_dist.weight", k && d ? V{K, C} : none, false, true},
        {"head_dist.bias", k && d ? V{K} : none, false, false},
    };
}

std::size_t num_parameters(const ViTConfig& cfg) {
    std::size_t n = 0;
    for (const ParamSpec& s : param_table(cfg)) n += s.numel() * (s.per_layer ? cfg.depth : 1);
    return n;
}

float* param_ptr(ViTParams& p, std::size_t i) {
    float** ptrs[kNumParamTensors] = {&p.patch_w, &p.patch_b, &p.cls_token, &p.dist_token, &p.pos_embed,
                                      &p.ln1_w,   &p.ln1_b,   &p.qkv_w,     &p.qkv_b,      &p.proj_w,
                                      &p.proj_b,  &p.ln2_w,   &p.ln2_b,     &p.fc1_w,      &p.fc1_b,
                                      &p.fc2_w,   &p.fc2_b,   &p.lnf_w,     &p.lnf_b,      &p.head_w,
                                      &p.head_b,  &p.head_dist_w, &p.head_dist_b};
    return *ptrs[i];
}

ViTParams point_params(const ViTConfig& cfg, float* base) {
    ViTParams p{};
    float** ptrs[kNumParamTensors] = {&p.patch_w, &p.patch_b, &p.cls_token, &p.dist_token, &p.pos_embed,
                                      &p.ln1_w,   &p.ln1_b,   &p.qkv_w,     &p.qkv_b,      &p.proj_w,
                                      &p.proj_b,  &p.ln2_w,   &p.ln2_b,     &p.fc1_w,      &p.fc1_b,
                                      &p.fc2_w,   &p.fc2_b,   &p.lnf_w,     &p.lnf_b,      &p.head_w,
                                      &p.head_b,  &p.head_dist_w, &p.head_dist_b};
    const std::vector<ParamSpec> table = param_table(cfg);
    float* at = base;
    for (std::size_t i = 0; i < kNumParamTensors; ++i) {
        const std::size_t n = table[i].numel() * (table[i].per_layer ? cfg.depth : 1);
        *ptrs[i] = n ? at : nullptr;
        at += n;
    }
    return p;
}

ViT::ViT(const ViTConfig& cfg) : config(cfg) {
    config.validate();
    memory.assign(num_parameters(config), 0.0f);
    p = point_params(config, memory.data());
}
ViT::ViT(const ViT& o) : config(o.config), memory(o.memory) { p = point_params(config, memory.data()); }
ViT& ViT::operator=(const ViT& o) {
    if (this != &o) {
        config = o.config;
        memory = o.memory;
        p = point_params(config, memory.data());
    }
    return *this;
}
ViT::ViT(ViT&& o) noexcept : config(std::move(o.config)), memory(std::move(o.memory)), p(o.p) { o.p = {}; }
ViT& ViT::operator=(ViT&& o) noexcept {
    config = std::move(o.config);
    memory = std::move(o.memory);
    p = o.p;
    o.p = {};
    return *this;
}

namespace {

// splitmix64: a portable, seedable generator (std::normal_distribution differs by library).
struct SplitMix {
    std::uint64_t s;
    std::uint64_t next() {
        std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }  // [0,1)
    double normal() {  // Box–Muller
        const double u1 = 1.0 - uniform(), u2 = uniform();
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    }
    double trunc_normal() {
        for (;;) {
            const double z = normal();
            if (z >= -2.0 && z <= 2.0) return z;
        }
    }
};

}  // namespace

void init_vit(ViT& m, std::uint64_t seed) {
    SplitMix rng{seed};
    const std::vector<ParamSpec> table = param_table(m.config);
    for (std::size_t i = 0; i < kNumParamTensors; ++i) {
        float* t = param_ptr(m.p, i);
        const std::size_t n = table[i].numel() * (table[i].per_layer ? m.config.depth : 1);
        const std::string name = table[i].name;
        const bool is_norm_w = name.find("norm") != std::string::npos && name.find(".weight") != std::string::npos;
        for (std::size_t k = 0; k < n; ++k) {
            if (is_norm_w) t[k] = 1.0f;
            else if (table[i].decay || name == "cls_token" || name == "dist_token" || name == "pos_embed")
                t[k] = static_cast<float>(0.02 * rng.trunc_normal());
            else t[k] = 0.0f;
        }
    }
}

// ================================================================== activations

void ViTActs::allocate(const ViTConfig& c, std::size_t batch) {
    B = batch;
    const std::size_t T = c.tokens(), C = c.width, L = c.depth, H = c.mlp_hidden, NH = c.heads;
    const std::size_t K = std::max<std::size_t>(c.num_classes, 1);
    const std::size_t sizes[] = {B * c.num_patches() * c.patch_dim(), B * T * C,
                                 L * B * T * C, L * B * T, L * B * T, L * B * T * 3 * C, L * B * NH * T * T,
                                 L * B * T * C, L * B * T * C, L * B * T * C, L * B * T, L * B * T,
                                 L * B * T * H, L * B * T * H, L * B * T * C,
                                 B * 2 * C, B * 2, B * 2, B * K, B * K};
    float** ptrs[] = {&patches, &x0, &ln1, &ln1_mean, &ln1_rstd, &qkv, &att, &atty, &res2, &ln2,
                      &ln2_mean, &ln2_rstd, &fch, &fch_gelu, &res3, &lnf, &lnf_mean, &lnf_rstd, &logits, &probs};
    std::size_t total = 0;
    for (std::size_t s : sizes) total += s;
    memory.assign(total, 0.0f);
    float* at = memory.data();
    for (std::size_t i = 0; i < sizeof sizes / sizeof sizes[0]; ++i) {
        *ptrs[i] = at;
        at += sizes[i];
    }
}

// ================================================================== layers

void patchify(float* patches, const float* images, std::size_t B, const ViTConfig& cfg) {
    const std::size_t S = cfg.image_size, P = cfg.patch_size, G = cfg.grid(), Cin = cfg.channels;
    const std::size_t PD = cfg.patch_dim();
    for (std::size_t b = 0; b < B; ++b)
        for (std::size_t gy = 0; gy < G; ++gy)
            for (std::size_t gx = 0; gx < G; ++gx) {
                float* out = patches + (b * G * G + gy * G + gx) * PD;
                for (std::size_t c = 0; c < Cin; ++c)
                    for (std::size_t py = 0; py < P; ++py) {
                        const float* row = images + ((b * Cin + c) * S + gy * P + py) * S + gx * P;
                        std::memcpy(out + (c * P + py) * P, row, P * sizeof(float));
                    }
            }
}

namespace {

// Per-thread scratch for transposes inside the layers.
std::vector<float>& scratch(int which, std::size_t n) {
    thread_local std::vector<float> buf[4];
    if (buf[which].size() < n) buf[which].resize(n);
    return buf[which];
}

}  // namespace

// out[BT, OC] = inp[BT, C] · weight[OC, C]ᵀ + bias[OC]
void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, std::size_t BT,
                    std::size_t C, std::size_t OC) {
    std::vector<float>& wt = scratch(0, C * OC);
    transpose(weight, OC, C, wt.data());  // [C, OC]
    if (bias)
        for (std::size_t i = 0; i < BT; ++i) std::memcpy(out + i * OC, bias, OC * sizeof(float));
    sgemm(BT, OC, C, inp, C, wt.data(), OC, out, OC, bias != nullptr);
}

// dinp[BT, C] += dout · weight;  dweight[OC, C] += doutᵀ · inp;  dbias[OC] += Σ_rows dout
void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, std::size_t BT, std::size_t C, std::size_t OC) {
    if (dinp) sgemm(BT, C, OC, dout, OC, weight, C, dinp, C, true);
    if (dweight) {
        std::vector<float>& dt = scratch(1, BT * OC);
        transpose(dout, BT, OC, dt.data());  // [OC, BT]
        sgemm(OC, C, BT, dt.data(), BT, inp, C, dweight, C, true);
    }
    if (dbias)
        for (std::size_t i = 0; i < BT; ++i)
            for (std::size_t o = 0; o < OC; ++o) dbias[o] += dout[i * OC + o];
}

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, std::size_t N, std::size_t C, float eps) {
    for (std::size_t i = 0; i < N; ++i) {
        const float* x = inp + i * C;
        double m = 0.0;
        for (std::size_t c = 0; c < C; ++c) m += x[c];
        m /= static_cast<double>(C);
        double v = 0.0;
        for (std::size_t c = 0; c < C; ++c) {
            const double d = x[c] - m;
            v += d * d;
        }
        v /= static_cast<double>(C);
        const float s = static_cast<float>(1.0 / std::sqrt(v + static_cast<double>(eps)));
        const float mf = static_cast<float>(m);
        float* o = out + i * C;
        for (std::size_t c = 0; c < C; ++c) o[c] = (x[c] - mf) * s * weight[c] + bias[c];
        if (mean) mean[i] = mf;
        if (rstd) rstd[i] = s;
    }
}

void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, std::size_t N, std::size_t C) {
    for (std::size_t i = 0; i < N; ++i) {
        const float* x = inp + i * C;
        const float* g = dout + i * C;
        const float m = mean[i], s = rstd[i];
        float dnorm_mean = 0.0f, dnorm_norm_mean = 0.0f;
        for (std::size_t c = 0; c < C; ++c) {
            const float xhat = (x[c] - m) * s;
            const float dnorm = weight[c] * g[c];
            dnorm_mean += dnorm;
            dnorm_norm_mean += dnorm * xhat;
        }
        dnorm_mean /= static_cast<float>(C);
        dnorm_norm_mean /= static_cast<float>(C);
        for (std::size_t c = 0; c < C; ++c) {
            const float xhat = (x[c] - m) * s;
            dbias[c] += g[c];
            dweight[c] += xhat * g[c];
            const float dnorm = weight[c] * g[c];
            dinp[i * C + c] += (dnorm - dnorm_mean - xhat * dnorm_norm_mean) * s;
        }
    }
}

// qkv [B, T, 3C] -> out [B, T, C]; att [B, NH, T, T] keeps the softmax probabilities.
// Per (b, h): S = q kᵀ / sqrt(hs), P = softmax(S) row-wise, Y = P v (all through sgemm).
void attention_forward(float* out, float* att, const float* qkv, std::size_t B, std::size_t T, std::size_t C,
                       std::size_t NH) {
    const std::size_t hs = C / NH, C3 = 3 * C;
    const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
    float* kt = scratch(0, hs * T).data();  // [hs, T]
    float* y = scratch(1, T * hs).data();   // [T, hs]
    for (std::size_t b = 0; b < B; ++b)
        for (std::size_t h = 0; h < NH; ++h) {
            const float* q = qkv + b * T * C3 + h * hs;      // rows of stride 3C
            const float* k = q + C;
            const float* v = q + 2 * C;
            for (std::size_t t = 0; t < T; ++t)
                for (std::size_t i = 0; i < hs; ++i) kt[i * T + t] = k[t * C3 + i];
            float* a = att + (b * NH + h) * T * T;
            sgemm(T, T, hs, q, C3, kt, T, a, T, false);
            for (std::size_t t = 0; t < T; ++t) {
                float* row = a + t * T;
                float mx = -INFINITY;
                for (std::size_t u = 0; u < T; ++u) mx = std::max(mx, row[u] * scale);
                float sum = 0.0f;
                for (std::size_t u = 0; u < T; ++u) {
                    row[u] = std::exp(row[u] * scale - mx);
                    sum += row[u];
                }
                const float inv = 1.0f / sum;
                for (std::size_t u = 0; u < T; ++u) row[u] *= inv;
            }
            sgemm(T, hs, T, a, T, v, C3, y, hs, false);
            for (std::size_t t = 0; t < T; ++t) std::memcpy(out + (b * T + t) * C + h * hs, y + t * hs, hs * sizeof(float));
        }
}

// dqkv [B, T, 3C] += gradients through attention_forward, from dout [B, T, C].
void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* att, std::size_t B,
                        std::size_t T, std::size_t C, std::size_t NH) {
    const std::size_t hs = C / NH, C3 = 3 * C;
    const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
    float* tmp = scratch(0, hs * T).data();   // vᵀ [hs, T], later qᵀ... reused
    float* dp = scratch(1, T * T).data();     // dP, then dS  [T, T]
    float* dst = scratch(2, T * T).data();    // dSᵀ or Pᵀ [T, T]
    float* dy = scratch(3, T * hs).data();    // [T, hs] gradient rows for q/k/v of this head
    for (std::size_t b = 0; b < B; ++b)
        for (std::size_t h = 0; h < NH; ++h) {
            const float* q = qkv + b * T * C3 + h * hs;
            const float* k = q + C;
            const float* v = q + 2 * C;
            float* dq = dqkv + b * T * C3 + h * hs;
            float* dk = dq + C;
            float* dv = dq + 2 * C;
            const float* a = att + (b * NH + h) * T * T;
            const float* go = dout + b * T * C + h * hs;  // [T, hs] with stride C
            // dP = dY vᵀ
            for (std::size_t t = 0; t < T; ++t)
                for (std::size_t i = 0; i < hs; ++i) tmp[i * T + t] = v[t * C3 + i];
            sgemm(T, T, hs, go, C, tmp, T, dp, T, false);
            // dv = Pᵀ dY
            transpose(a, T, T, dst);
            sgemm(T, hs, T, dst, T, go, C, dy, hs, false);
            for (std::size_t t = 0; t < T; ++t)
                for (std::size_t i = 0; i < hs; ++i) dv[t * C3 + i] += dy[t * hs + i];
            // dS = P ⊙ (dP − rowsum(P ⊙ dP)), times the scale
            for (std::size_t t = 0; t < T; ++t) {
                const float* pr = a + t * T;
                float* g = dp + t * T;
                float dotp = 0.0f;
                for (std::size_t u = 0; u < T; ++u) dotp += pr[u] * g[u];
                for (std::size_t u = 0; u < T; ++u) g[u] = pr[u] * (g[u] - dotp) * scale;
            }
            // dq = dS k ; dk = dSᵀ q
            sgemm(T, hs, T, dp, T, k, C3, dy, hs, false);
            for (std::size_t t = 0; t < T; ++t)
                for (std::size_t i = 0; i < hs; ++i) dq[t * C3 + i] += dy[t * hs + i];
            transpose(dp, T, T, dst);
            sgemm(T, hs, T, dst, T, q, C3, dy, hs, false);
            for (std::size_t t = 0; t < T; ++t)
                for (std::size_t i = 0; i < hs; ++i) dk[t * C3 + i] += dy[t * hs + i];
        }
}

void gelu_forward(float* out, const float* inp, std::size_t N) {
    for (std::size_t i = 0; i < N; ++i) out[i] = 0.5f * inp[i] * (1.0f + std::erf(inp[i] * 0.70710678118654752f));
}

void gelu_backward(float* dinp, const float* inp, const float* dout, std::size_t N) {
    for (std::size_t i = 0; i < N; ++i) {
        const float x = inp[i];
        const float cdf = 0.5f * (1.0f + std::erf(x * 0.70710678118654752f));
        const float pdf = 0.3989422804014327f * std::exp(-0.5f * x * x);
        dinp[i] += (cdf + x * pdf) * dout[i];
    }
}

// ================================================================== model passes

namespace {

// Logits of the prefix tokens' final-LN rows: [B, K] (distilled: mean of the two heads).
void head_forward(const ViT& m, ViTActs& a, std::size_t B) {
    const ViTConfig& c = m.config;
    const std::size_t C = c.width, K = c.num_classes;
    for (std::size_t b = 0; b < B; ++b) {
        float* lg = a.logits + b * K;
        for (std::size_t k = 0; k < K; ++k) {
            float z = m.p.head_b[k];
            const float* w = m.p.head_w + k * C;
            const float* f = a.lnf + b * 2 * C;
            for (std::size_t i = 0; i < C; ++i) z += w[i] * f[i];
            if (c.distilled) {
                float z2 = m.p.head_dist_b[k];
                const float* w2 = m.p.head_dist_w + k * C;
                const float* f2 = f + C;
                for (std::size_t i = 0; i < C; ++i) z2 += w2[i] * f2[i];
                z = 0.5f * (z + z2);
            }
            lg[k] = z;
        }
    }
}

}  // namespace

float vit_forward(const ViT& m, ViTActs& a, const float* images, std::size_t B, const std::uint8_t* labels) {
    const ViTConfig& c = m.config;
    if (B > a.B) throw std::invalid_argument("vit_forward: batch " + std::to_string(B) + " exceeds the activations' " + std::to_string(a.B));
    const std::size_t T = c.tokens(), C = c.width, L = c.depth, H = c.mlp_hidden, NH = c.heads;
    const std::size_t NP = c.num_patches(), PD = c.patch_dim(), PT = c.prefix_tokens(), K = c.num_classes;
    const std::size_t BT = B * T;
    // Embeddings: x0[b, PT + p] = patch_w · patch + patch_b; prefix tokens; + pos_embed.
    patchify(a.patches, images, B, c);
    for (std::size_t b = 0; b < B; ++b) {
        float* x = a.x0 + b * T * C;
        matmul_forward(x + PT * C, a.patches + b * NP * PD, m.p.patch_w, m.p.patch_b, NP, PD, C);
        std::memcpy(x, m.p.cls_token, C * sizeof(float));
        if (c.distilled) std::memcpy(x + C, m.p.dist_token, C * sizeof(float));
        for (std::size_t i = 0; i < T * C; ++i) x[i] += m.p.pos_embed[i];
    }
    const float* res = a.x0;
    for (std::size_t l = 0; l < L; ++l) {
        float* ln1 = a.ln1 + l * BT * C;
        float* qkv = a.qkv + l * BT * 3 * C;
        float* att = a.att + l * B * NH * T * T;
        float* atty = a.atty + l * BT * C;
        float* res2 = a.res2 + l * BT * C;
        float* ln2 = a.ln2 + l * BT * C;
        float* fch = a.fch + l * BT * H;
        float* fchg = a.fch_gelu + l * BT * H;
        float* res3 = a.res3 + l * BT * C;
        layernorm_forward(ln1, a.ln1_mean + l * BT, a.ln1_rstd + l * BT, res, m.p.ln1_w + l * C, m.p.ln1_b + l * C,
                          BT, C, c.ln_eps);
        matmul_forward(qkv, ln1, m.p.qkv_w + l * 3 * C * C, m.p.qkv_b + l * 3 * C, BT, C, 3 * C);
        attention_forward(atty, att, qkv, B, T, C, NH);
        matmul_forward(res2, atty, m.p.proj_w + l * C * C, m.p.proj_b + l * C, BT, C, C);
        for (std::size_t i = 0; i < BT * C; ++i) res2[i] += res[i];
        layernorm_forward(ln2, a.ln2_mean + l * BT, a.ln2_rstd + l * BT, res2, m.p.ln2_w + l * C, m.p.ln2_b + l * C,
                          BT, C, c.ln_eps);
        matmul_forward(fch, ln2, m.p.fc1_w + l * H * C, m.p.fc1_b + l * H, BT, C, H);
        gelu_forward(fchg, fch, BT * H);
        matmul_forward(res3, fchg, m.p.fc2_w + l * C * H, m.p.fc2_b + l * C, BT, H, C);
        for (std::size_t i = 0; i < BT * C; ++i) res3[i] += res2[i];
        res = res3;
    }
    // Final LayerNorm of the prefix tokens only (the features and the heads use nothing else).
    for (std::size_t b = 0; b < B; ++b)
        layernorm_forward(a.lnf + b * 2 * C, a.lnf_mean + b * 2, a.lnf_rstd + b * 2, res + b * T * C, m.p.lnf_w,
                          m.p.lnf_b, PT, C, c.ln_eps);
    if (K == 0) return 0.0f;
    head_forward(m, a, B);
    if (!labels) return 0.0f;
    double loss = 0.0;
    for (std::size_t b = 0; b < B; ++b) {
        const float* lg = a.logits + b * K;
        float* pr = a.probs + b * K;
        if (labels[b] >= K) throw std::invalid_argument("vit_forward: label " + std::to_string(labels[b]) + " >= classes " + std::to_string(K));
        float mx = -INFINITY;
        for (std::size_t k = 0; k < K; ++k) mx = std::max(mx, lg[k]);
        float sum = 0.0f;
        for (std::size_t k = 0; k < K; ++k) {
            pr[k] = std::exp(lg[k] - mx);
            sum += pr[k];
        }
        for (std::size_t k = 0; k < K; ++k) pr[k] /= sum;
        loss -= std::log(std::max(pr[labels[b]], 1e-30f));
    }
    return static_cast<float>(loss / static_cast<double>(B));
}

void vit_backward(const ViT& m, ViT& g, ViTActs& a, const float* images, const std::uint8_t* labels, std::size_t B,
                  const float* dfeatures, bool head_to_features) {
    (void)images;  // the patches kept in the activations are all the backward pass needs
    const ViTConfig& c = m.config;
    const std::size_t T = c.tokens(), C = c.width, L = c.depth, H = c.mlp_hidden, NH = c.heads;
    const std::size_t NP = c.num_patches(), PD = c.patch_dim(), PT = c.prefix_tokens(), K = c.num_classes;
    const std::size_t BT = B * T;
    if (K == 0) throw std::invalid_argument("vit_backward: the model has no head");
    std::vector<float> dres(BT * C, 0.0f), dbuf(BT * C), dqkv(BT * 3 * C), dh(BT * H),
        dlnf(B * 2 * C, 0.0f);
    // Cross-entropy: dlogits = (probs − onehot) / B; heads.
    const float invB = 1.0f / static_cast<float>(B);
    for (std::size_t b = 0; b < B; ++b) {
        const float* f = a.lnf + b * 2 * C;
        for (std::size_t k = 0; k < K; ++k) {
            float dz = (a.probs[b * K + k] - (labels[b] == k ? 1.0f : 0.0f)) * invB;
            if (c.distilled) {
                dz *= 0.5f;
                g.p.head_dist_b[k] += dz;
                for (std::size_t i = 0; i < C; ++i) {
                    g.p.head_dist_w[k * C + i] += dz * f[C + i];
                    if (head_to_features) dlnf[b * 2 * C + C + i] += dz * m.p.head_dist_w[k * C + i];
                }
            }
            g.p.head_b[k] += dz;
            for (std::size_t i = 0; i < C; ++i) {
                g.p.head_w[k * C + i] += dz * f[i];
                if (head_to_features) dlnf[b * 2 * C + i] += dz * m.p.head_w[k * C + i];
            }
        }
    }
    if (dfeatures)
        for (std::size_t b = 0; b < B; ++b)
            for (std::size_t i = 0; i < C; ++i) dlnf[b * 2 * C + i] += dfeatures[b * C + i];
    const float* res_last = L ? a.res3 + (L - 1) * BT * C : a.x0;
    for (std::size_t b = 0; b < B; ++b)
        layernorm_backward(dres.data() + b * T * C, g.p.lnf_w, g.p.lnf_b, dlnf.data() + b * 2 * C,
                           res_last + b * T * C, m.p.lnf_w, a.lnf_mean + b * 2, a.lnf_rstd + b * 2, PT, C);
    for (std::size_t l = L; l-- > 0;) {
        const float* res = l ? a.res3 + (l - 1) * BT * C : a.x0;
        const float* ln1 = a.ln1 + l * BT * C;
        const float* qkv = a.qkv + l * BT * 3 * C;
        const float* att = a.att + l * B * NH * T * T;
        const float* atty = a.atty + l * BT * C;
        const float* res2 = a.res2 + l * BT * C;
        const float* ln2 = a.ln2 + l * BT * C;
        const float* fch = a.fch + l * BT * H;
        const float* fchg = a.fch_gelu + l * BT * H;
        // MLP: dres (= d res3) flows to res2 unchanged and through FC2, GELU, FC1, LN2.
        std::fill(dh.begin(), dh.end(), 0.0f);
        matmul_backward(dh.data(), g.p.fc2_w + l * C * H, g.p.fc2_b + l * C, dres.data(), fchg, m.p.fc2_w + l * C * H,
                        BT, H, C);
        std::vector<float>& dfch = dh;  // GELU backward in place: d fch = gelu'(fch) ⊙ d fch_gelu
        for (std::size_t i = 0; i < BT * H; ++i) {
            const float x = fch[i];
            const float cdf = 0.5f * (1.0f + std::erf(x * 0.70710678118654752f));
            const float pdf = 0.3989422804014327f * std::exp(-0.5f * x * x);
            dfch[i] *= cdf + x * pdf;
        }
        std::fill(dbuf.begin(), dbuf.end(), 0.0f);
        matmul_backward(dbuf.data(), g.p.fc1_w + l * H * C, g.p.fc1_b + l * H, dfch.data(), ln2, m.p.fc1_w + l * H * C,
                        BT, C, H);
        layernorm_backward(dres.data(), g.p.ln2_w + l * C, g.p.ln2_b + l * C, dbuf.data(), res2, m.p.ln2_w + l * C,
                           a.ln2_mean + l * BT, a.ln2_rstd + l * BT, BT, C);
        // Attention: dres (= d res2) flows to res and through proj, attention, qkv, LN1.
        std::fill(dbuf.begin(), dbuf.end(), 0.0f);
        matmul_backward(dbuf.data(), g.p.proj_w + l * C * C, g.p.proj_b + l * C, dres.data(), atty,
                        m.p.proj_w + l * C * C, BT, C, C);
        std::fill(dqkv.begin(), dqkv.end(), 0.0f);
        attention_backward(dqkv.data(), dbuf.data(), qkv, att, B, T, C, NH);
        std::fill(dbuf.begin(), dbuf.end(), 0.0f);
        matmul_backward(dbuf.data(), g.p.qkv_w + l * 3 * C * C, g.p.qkv_b + l * 3 * C, dqkv.data(), ln1,
                        m.p.qkv_w + l * 3 * C * C, BT, C, 3 * C);
        layernorm_backward(dres.data(), g.p.ln1_w + l * C, g.p.ln1_b + l * C, dbuf.data(), res, m.p.ln1_w + l * C,
                           a.ln1_mean + l * BT, a.ln1_rstd + l * BT, BT, C);
    }
    // Embeddings.
    for (std::size_t b = 0; b < B; ++b) {
        const float* dx = dres.data() + b * T * C;
        for (std::size_t i = 0; i < T * C; ++i) g.p.pos_embed[i] += dx[i];
        for (std::size_t i = 0; i < C; ++i) g.p.cls_token[i] += dx[i];
        if (c.distilled)
            for (std::size_t i = 0; i < C; ++i) g.p.dist_token[i] += dx[C + i];
        matmul_backward(nullptr, g.p.patch_w, g.p.patch_b, dx + PT * C, a.patches + b * NP * PD, m.p.patch_w, NP, PD, C);
    }
}

void AdamW::update(ViT& model, const ViT& grads, std::uint64_t step) {
    const std::size_t n = model.num_params();
    if (m.size() != n) {
        m.assign(n, 0.0f);
        v.assign(n, 0.0f);
    }
    const float bc1 = 1.0f - std::pow(beta1, static_cast<float>(step));
    const float bc2 = 1.0f - std::pow(beta2, static_cast<float>(step));
    const std::vector<ParamSpec> table = param_table(model.config);
    std::size_t at = 0;
    for (const ParamSpec& s : table) {
        const std::size_t cnt = s.numel() * (s.per_layer ? model.config.depth : 1);
        const float wd = s.decay ? weight_decay : 0.0f;
        for (std::size_t i = at; i < at + cnt; ++i) {
            const float gi = grads.memory[i];
            m[i] = beta1 * m[i] + (1.0f - beta1) * gi;
            v[i] = beta2 * v[i] + (1.0f - beta2) * gi * gi;
            const float mh = m[i] / bc1, vh = v[i] / bc2;
            model.memory[i] -= lr * (mh / (std::sqrt(vh) + eps) + wd * model.memory[i]);
        }
        at += cnt;
    }
}

}  // namespace bt::nn
