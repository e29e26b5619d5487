// The transformer against PyTorch: forward outputs and every parameter gradient, on golden
// files written by tools/gen_vit_golden.py (an independent float64 PyTorch implementation),
// and the Hugging Face / timm checkpoint mappings.
//
// Tolerances (fixed before measuring; float32 here against float64 there):
//   forward (features, logits, loss): max |ours − torch| <= 2e-4 · max(1, max |torch|)
//   gradients, per tensor:           max |ours − torch| <= 1e-3 · max |torch| of that tensor
//   sampled tensors also:             |Σ ours − Σ torch| <= 1e-3 · Σ |torch|
// The measured maxima are printed (MESSAGE) on every run.
#include "doctest/doctest.h"

#include "bt/nn/safetensors.hpp"
#include "bt/nn/vit.hpp"

#include <cmath>
#include <string>
#include <vector>

using namespace bt::nn;

namespace {

const std::string kGolden = "tests/nn/golden/";

const char* kNames[kNumParamTensors] = {"patch_w", "patch_b", "cls_token", "dist_token", "pos_embed", "ln1_w",
                                        "ln1_b",   "qkv_w",   "qkv_b",     "proj_w",     "proj_b",    "ln2_w",
                                        "ln2_b",   "fc1_w",   "fc1_b",     "fc2_w",      "fc2_b",     "lnf_w",
                                        "lnf_b",   "head_w",  "head_b",    "head_dist_w", "head_dist_b"};

// The generator shared with the script: splitmix64, 24-bit integers k, value
// (k·2^-23 − 1)·scale + offset in float32.
void gen_tensor(std::uint64_t seed, std::size_t n, float scale, float offset, float* out) {
    std::uint64_t s = seed;
    for (std::size_t i = 0; i < n; ++i) {
        s += 0x9E3779B97F4A7C15ull;
        std::uint64_t z = s;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        const float u = static_cast<float>(z >> 40) * 0x1p-23f - 1.0f;
        const float su = u * scale;
        out[i] = su + offset;
    }
}

std::size_t md_size(const SafeTensors& st, const char* k) { return std::stoul(st.metadata.at(k)); }

ViTConfig config_of(const SafeTensors& st) {
    ViTConfig c;
    c.image_size = md_size(st, "image_size");
    c.channels = md_size(st, "channels");
    c.patch_size = md_size(st, "patch_size");
    c.width = md_size(st, "width");
    c.depth = md_size(st, "depth");
    c.heads = md_size(st, "heads");
    c.mlp_hidden = md_size(st, "mlp_hidden");
    c.num_classes = md_size(st, "num_classes");
    c.distilled = md_size(st, "distilled") != 0;
    c.ln_eps = std::stof(st.metadata.at("ln_eps"));
    c.norm_mean.assign(c.channels, 0.0f);
    c.norm_std.assign(c.channels, 1.0f);
    return c;
}

const Tensor& need(const SafeTensors& st, const std::string& n) {
    const Tensor* t = st.find(n);
    REQUIRE_MESSAGE(t != nullptr, "golden tensor " << n << " missing");
    return *t;
}

// max |a − b| and max |b|.
void max_err(const float* a, const float* b, std::size_t n, double& err, double& ref) {
    err = 0.0;
    ref = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        err = std::max(err, std::fabs(static_cast<double>(a[i]) - b[i]));
        ref = std::max(ref, std::fabs(static_cast<double>(b[i])));
    }
}

void check_forward(const char* what, const float* ours, const Tensor& ref, double& worst) {
    double err, mx;
    max_err(ours, ref.data.data(), ref.numel(), err, mx);
    const double rel = err / std::max(1.0, mx);
    worst = std::max(worst, rel);
    CHECK_MESSAGE(rel <= 2e-4, what << ": max error " << err << " (scale " << mx << ")");
}

void run_golden(const std::string& file) {
    const SafeTensors st = read_safetensors(kGolden + file);
    const ViTConfig c = config_of(st);
    ViT m(c);
    const std::uint64_t seed = std::stoull(st.metadata.at("seed"));
    for (std::size_t i = 0; i < kNumParamTensors; ++i) {
        float* p = param_ptr(m.p, i);
        if (!p) continue;
        const ParamSpec s = param_table(c)[i];
        gen_tensor(seed * 1000 + i, s.numel() * (s.per_layer ? c.depth : 1),
                   std::stof(st.metadata.at(std::string("scale.") + kNames[i])),
                   std::stof(st.metadata.at(std::string("offset.") + kNames[i])), p);
    }
    const Tensor& images = need(st, "images");
    const std::size_t B = images.shape[0];
    std::vector<std::uint8_t> labels(B);
    for (std::size_t b = 0; b < B; ++b) labels[b] = static_cast<std::uint8_t>(need(st, "labels").data[b]);
    ViTActs a;
    a.allocate(c, B);
    const float loss = vit_forward(m, a, images.data.data(), B, labels.data());
    std::vector<float> feats(B * c.width);
    for (std::size_t b = 0; b < B; ++b)
        for (std::size_t i = 0; i < c.width; ++i) feats[b * c.width + i] = a.lnf[b * 2 * c.width + i];
    double fwd_worst = 0.0;
    check_forward("features", feats.data(), need(st, "features"), fwd_worst);
    check_forward("logits", a.logits, need(st, "logits"), fwd_worst);
    check_forward("loss", &loss, need(st, "loss"), fwd_worst);
    ViT g(c);
    vit_backward(m, g, a, images.data.data(), labels.data(), B);
    double grad_worst = 0.0;
    std::size_t tensors = 0;
    for (std::size_t i = 0; i < kNumParamTensors; ++i) {
        const float* gp = param_ptr(g.p, i);
        if (!gp) continue;
        const std::string n = kNames[i];
        ++tensors;
        if (const Tensor* full = st.find("grad." + n)) {
            const ParamSpec s = param_table(c)[i];
            REQUIRE(full->numel() == s.numel() * (s.per_layer ? c.depth : 1));
            double err, mx;
            max_err(gp, full->data.data(), full->numel(), err, mx);
            grad_worst = std::max(grad_worst, err / mx);
            CHECK_MESSAGE(err <= 1e-3 * mx, "gradient " << n << ": max error " << err << ", max |grad| " << mx);
        } else {
            const Tensor& idx = need(st, "gradidx." + n);
            const Tensor& val = need(st, "gradval." + n);
            const Tensor& sum = need(st, "gradsum." + n);
            std::vector<float> ours(idx.numel());
            for (std::size_t k = 0; k < idx.numel(); ++k) ours[k] = gp[static_cast<std::size_t>(idx.data[k])];
            double err, mx;
            max_err(ours.data(), val.data.data(), val.numel(), err, mx);
            grad_worst = std::max(grad_worst, err / mx);
            CHECK_MESSAGE(err <= 1e-3 * mx, "gradient " << n << " (sampled): max error " << err << ", max |grad| " << mx);
            const ParamSpec s = param_table(c)[i];
            double total = 0.0;
            for (std::size_t k = 0; k < s.numel() * (s.per_layer ? c.depth : 1); ++k) total += gp[k];
            CHECK_MESSAGE(std::fabs(total - sum.data[0]) <= 1e-3 * sum.data[1],
                          "gradient " << n << ": sum " << total << ", torch " << sum.data[0]);
        }
    }
    MESSAGE(file << " (" << c.describe() << "): forward max error " << fwd_worst
                 << " of scale; gradients (" << tensors << " tensors) max error " << grad_worst << " of max |grad|");
}

}  // namespace

TEST_SUITE("nn") {

TEST_CASE("vit golden: small distilled model, forward and all gradients vs PyTorch") { run_golden("vit_small.safetensors"); }

TEST_CASE("vit golden: DeiT-tiny-shaped (width 192, 3 heads, MLP 768, depth 2), forward and gradients vs PyTorch") {
    run_golden("vit_deit_tiny_l2.safetensors");
}

TEST_CASE("vit golden: Hugging Face DeiT (F16) and timm ViT (BF16) checkpoints load and match PyTorch") {
    const SafeTensors exp = read_safetensors(kGolden + "loaders.safetensors");
    struct Case { const char* file; const char* key; std::size_t width, heads, depth, classes; bool distilled; float eps; };
    for (const Case& k : {Case{"hf_deit.safetensors", "hf", 128, 2, 1, 4, true, 1e-12f},
                          Case{"timm_vit.safetensors", "timm", 64, 1, 2, 3, false, 1e-6f}}) {
        const std::string file = k.file;
        CAPTURE(file);
        const ViT m = load_vit(kGolden + k.file);
        CHECK(m.config.width == k.width);
        CHECK(m.config.heads == k.heads);
        CHECK(m.config.depth == k.depth);
        CHECK(m.config.num_classes == k.classes);
        CHECK(m.config.distilled == k.distilled);
        CHECK(m.config.ln_eps == k.eps);
        const Tensor& images = need(exp, std::string(k.key) + ".images");
        const std::size_t B = images.shape[0];
        ViTActs a;
        a.allocate(m.config, B);
        vit_forward(m, a, images.data.data(), B);
        std::vector<float> feats(B * k.width);
        extract_features(m, images.data.data(), B, feats.data());
        double worst = 0.0;
        check_forward("features", feats.data(), need(exp, std::string(k.key) + ".features"), worst);
        check_forward("logits", a.logits, need(exp, std::string(k.key) + ".logits"), worst);
        MESSAGE(file << ": " << m.config.describe() << ", max error " << worst);
        // Saving in our format and loading back gives the same parameters bit for bit.
        const std::string tmp = "/tmp/bt_nn_roundtrip_" + std::string(k.key) + ".safetensors";
        save_vit(m, tmp);
        const ViT back = load_vit(tmp);
        CHECK(back.memory == m.memory);
        CHECK(back.config.describe() == m.config.describe());
        std::remove(tmp.c_str());
    }
}

}  // TEST_SUITE
