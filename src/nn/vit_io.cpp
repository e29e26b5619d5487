// The transformer's weight files (our format, timm and Hugging Face DeiT/ViT names) and
// feature extraction (preprocessing, batching over the thread pool).
#include "bt/nn/vit.hpp"

#include "bt/threadpool.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace bt::nn {

// ================================================================== name mapping

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
    return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

std::string layer_name(const char* pattern, std::size_t l) {
    std::string s = pattern;
    const std::size_t at = s.find("{l}");
    if (at != std::string::npos) s.replace(at, 3, std::to_string(l));
    return s;
}

std::string shape_str(const std::vector<std::size_t>& s) {
    std::string o = "[";
    for (std::size_t k = 0; k < s.size(); ++k) o += (k ? ", " : "") + std::to_string(s[k]);
    return o + "]";
}

// Tensors under timm names, whatever the file used.
struct Named {
    std::map<std::string, Tensor> t;
    const Tensor* get(const std::string& n) const {
        auto it = t.find(n);
        return it == t.end() ? nullptr : &it->second;
    }
};

// Hugging Face ViT/DeiT names -> timm names; query/key/value are concatenated into qkv.
Named from_hf(const SafeTensors& st, const std::string& prefix, const std::string& file) {
    Named out;
    std::map<std::string, std::map<std::string, const Tensor*>> qkv;  // "blocks.i.attn.qkv.weight" -> {query,key,value}
    for (const Tensor& t : st.tensors) {
        std::string n = t.name;
        if (starts_with(n, prefix)) n = n.substr(prefix.size());
        std::string to;
        const std::string enc = "encoder.layer.";
        if (n == "embeddings.cls_token") to = "cls_token";
        else if (n == "embeddings.distillation_token") to = "dist_token";
        else if (n == "embeddings.position_embeddings") to = "pos_embed";
        else if (n == "embeddings.patch_embeddings.projection.weight") to = "patch_embed.proj.weight";
        else if (n == "embeddings.patch_embeddings.projection.bias") to = "patch_embed.proj.bias";
        else if (n == "layernorm.weight") to = "norm.weight";
        else if (n == "layernorm.bias") to = "norm.bias";
        else if (t.name == "classifier.weight" || t.name == "cls_classifier.weight") to = "head.weight";
        else if (t.name == "classifier.bias" || t.name == "cls_classifier.bias") to = "head.bias";
        else if (t.name == "distillation_classifier.weight") to = "head_dist.weight";
        else if (t.name == "distillation_classifier.bias") to = "head_dist.bias";
        else if (starts_with(n, "pooler.")) continue;  // ViTModel's pooler: not part of this topology
        else if (starts_with(n, enc)) {
            const std::size_t dot = n.find('.', enc.size());
            const std::string idx = n.substr(enc.size(), dot - enc.size());
            const std::string rest = dot == std::string::npos ? "" : n.substr(dot + 1);
            const std::string blk = "blocks." + idx + ".";
            const bool w = ends_with(rest, ".weight");
            const std::string wb = w ? "weight" : "bias";
            const std::string base = rest.substr(0, rest.rfind('.'));
            if (base == "layernorm_before") to = blk + "norm1." + wb;
            else if (base == "layernorm_after") to = blk + "norm2." + wb;
            else if (base == "attention.output.dense") to = blk + "attn.proj." + wb;
            else if (base == "intermediate.dense") to = blk + "mlp.fc1." + wb;
            else if (base == "output.dense") to = blk + "mlp.fc2." + wb;
            else if (base == "attention.attention.query" || base == "attention.attention.key" ||
                     base == "attention.attention.value") {
                qkv[blk + "attn.qkv." + wb][base.substr(base.rfind('.') + 1)] = &t;
                continue;
            }
        }
        if (to.empty())
            throw std::runtime_error("load_vit " + file + ": unexpected Hugging Face tensor \"" + t.name +
                                     "\" (not part of a DeiT/ViT encoder with this topology)");
        out.t[to] = t;
    }
    for (auto& [name, parts] : qkv) {
        if (parts.size() != 3)
            throw std::runtime_error("load_vit " + file + ": " + name + " needs query, key and value tensors");
        Tensor cat;
        cat.name = name;
        cat.shape = parts["query"]->shape;
        if (cat.shape.empty()) throw std::runtime_error("load_vit " + file + ": scalar query tensor");
        cat.shape[0] *= 3;
        for (const char* part : {"query", "key", "value"}) {
            const Tensor* p = parts[part];
            if (p->shape != parts["query"]->shape)
                throw std::runtime_error("load_vit " + file + ": " + p->name + " has shape " + shape_str(p->shape) +
                                         ", query has " + shape_str(parts["query"]->shape));
            cat.data.insert(cat.data.end(), p->data.begin(), p->data.end());
        }
        out.t[name] = std::move(cat);
    }
    return out;
}

Named from_timm(const SafeTensors& st, const std::string& file) {
    Named out;
    for (const Tensor& t : st.tensors) {
        if (t.name.find("fc_norm") != std::string::npos || t.name.find("pre_logits") != std::string::npos)
            throw std::runtime_error("load_vit " + file + ": tensor \"" + t.name +
                                     "\" belongs to a pooling variant this topology does not implement");
        out.t[t.name] = t;
    }
    return out;
}

const Tensor& need(const Named& n, const std::string& name, const std::string& file) {
    const Tensor* t = n.get(name);
    if (!t) throw std::runtime_error("load_vit " + file + ": missing tensor \"" + name + "\"");
    return *t;
}

// Topology from tensor shapes (files without our metadata).
ViTConfig infer_config(const Named& n, const SafeTensors& st, bool hf, const std::string& file) {
    ViTConfig c;
    const Tensor& pw = need(n, "patch_embed.proj.weight", file);
    if (pw.shape.size() != 4 || pw.shape[2] != pw.shape[3])
        throw std::runtime_error("load_vit " + file + ": patch embedding weight has shape " + shape_str(pw.shape) +
                                 ", expected [C, Cin, P, P]");
    c.width = pw.shape[0];
    c.channels = pw.shape[1];
    c.patch_size = pw.shape[2];
    c.distilled = n.get("dist_token") != nullptr;
    const Tensor& pe = need(n, "pos_embed", file);
    const std::size_t T = pe.numel() / std::max<std::size_t>(c.width, 1);
    const std::size_t np = T - c.prefix_tokens();
    const auto g = static_cast<std::size_t>(std::llround(std::sqrt(static_cast<double>(np))));
    if (T <= c.prefix_tokens() || g * g != np)
        throw std::runtime_error("load_vit " + file + ": position embedding of " + std::to_string(T) +
                                 " tokens is not a square grid plus " + std::to_string(c.prefix_tokens()) + " prefix tokens");
    c.image_size = g * c.patch_size;
    c.depth = 0;
    while (n.get("blocks." + std::to_string(c.depth) + ".attn.qkv.weight")) ++c.depth;
    if (c.depth == 0) throw std::runtime_error("load_vit " + file + ": no transformer blocks found");
    c.mlp_hidden = need(n, "blocks.0.mlp.fc1.weight", file).shape.at(0);
    const Tensor* hw = n.get("head.weight");
    c.num_classes = hw ? hw->shape.at(0) : 0;
    auto it = st.metadata.find("num_heads");
    if (it != st.metadata.end()) c.heads = static_cast<std::size_t>(std::stoul(it->second));
    else c.heads = std::max<std::size_t>(1, c.width / 64);
    c.ln_eps = hf ? 1e-12f : 1e-6f;
    if (c.channels == 3) {
        c.norm_mean = {0.485f, 0.456f, 0.406f};
        c.norm_std = {0.229f, 0.224f, 0.225f};
    } else {
        c.norm_mean.assign(c.channels, 0.5f);
        c.norm_std.assign(c.channels, 0.5f);
    }
    c.validate();
    return c;
}

}  // namespace

ViT vit_from_safetensors(const SafeTensors& st, const std::string& file) {
    auto fmt = st.metadata.find("format");
    const bool ours = fmt != st.metadata.end() && fmt->second == "bt-vit";
    std::string hf_prefix;
    bool hf = false;
    if (!ours && !st.find("cls_token")) {
        for (const Tensor& t : st.tensors)
            if (ends_with(t.name, "embeddings.cls_token")) {
                hf = true;
                hf_prefix = t.name.substr(0, t.name.size() - std::string("embeddings.cls_token").size());
            }
        if (!hf)
            throw std::runtime_error("load_vit " + file + ": neither our metadata (format=bt-vit), nor a timm "
                                     "\"cls_token\", nor a Hugging Face \"*embeddings.cls_token\": not a ViT checkpoint");
    }
    const Named named = hf ? from_hf(st, hf_prefix, file) : from_timm(st, file);
    ViTConfig cfg = ours ? ViTConfig::from_metadata(st.metadata) : infer_config(named, st, hf, file);
    // Every tensor the config needs is checked against the file before anything is
    // allocated for the model (metadata alone must not make us allocate what the file
    // cannot fill).
    const std::vector<ParamSpec> table = param_table(cfg);
    for (std::size_t i = 0; i < kNumParamTensors; ++i) {
        const ParamSpec& s = table[i];
        if (s.numel() == 0) continue;
        for (std::size_t l = 0; l < (s.per_layer ? cfg.depth : 1); ++l) {
            const std::string name = layer_name(s.name, l);
            const Tensor& t = need(named, name, file);
            if (t.numel() != s.numel() || (t.shape != s.shape && t.shape.size() == s.shape.size()))
                throw std::runtime_error("load_vit " + file + ": tensor \"" + name + "\" has shape " +
                                         shape_str(t.shape) + ", the config " + cfg.describe() + " needs " +
                                         shape_str(s.shape));
        }
    }
    ViT m(cfg);
    std::size_t used = 0;
    for (std::size_t i = 0; i < kNumParamTensors; ++i) {
        const ParamSpec& s = table[i];
        if (s.numel() == 0) continue;
        float* dst = param_ptr(m.p, i);
        for (std::size_t l = 0; l < (s.per_layer ? cfg.depth : 1); ++l) {
            const std::string name = layer_name(s.name, l);
            const Tensor& t = need(named, name, file);  // present, of the right size (checked above)
            std::memcpy(dst + l * s.numel(), t.data.data(), s.numel() * sizeof(float));
            ++used;
        }
    }
    if (used != named.t.size()) {
        for (const auto& [name, t] : named.t) {
            bool known = false;
            for (const ParamSpec& s : table)
                for (std::size_t l = 0; l < (s.per_layer ? cfg.depth : 1) && !known; ++l)
                    known = s.numel() && layer_name(s.name, l) == name;
            if (!known)
                throw std::runtime_error("load_vit " + file + ": unexpected tensor \"" + name + "\" for " + cfg.describe());
        }
    }
    return m;
}

ViT load_vit(const std::string& path) { return vit_from_safetensors(read_safetensors(path), path); }

void save_vit(const ViT& m, const std::string& path, const std::map<std::string, std::string>& extra) {
    std::vector<TensorView> views;
    const std::vector<ParamSpec> table = param_table(m.config);
    ViTParams p = m.p;
    for (std::size_t pass = 0; pass < 2; ++pass)  // non-layer tensors first, then block by block
        for (std::size_t l = 0; l < (pass ? m.config.depth : 1); ++l)
            for (std::size_t i = 0; i < kNumParamTensors; ++i) {
                const ParamSpec& s = table[i];
                if (s.numel() == 0 || s.per_layer != (pass == 1)) continue;
                views.push_back({layer_name(s.name, l), s.shape, param_ptr(p, i) + l * s.numel()});
            }
    std::map<std::string, std::string> md = m.config.to_metadata();
    for (const auto& [k, v] : extra)
        if (!md.count(k)) md[k] = v;
    write_safetensors(path, views, md);
}

// ================================================================== preprocessing

void resize_bilinear(const float* in, std::size_t ih, std::size_t iw, float* out, std::size_t oh, std::size_t ow) {
    const double sy = static_cast<double>(ih) / static_cast<double>(oh);
    const double sx = static_cast<double>(iw) / static_cast<double>(ow);
    for (std::size_t y = 0; y < oh; ++y) {
        const double fy = std::max(0.0, (static_cast<double>(y) + 0.5) * sy - 0.5);
        const std::size_t y0 = std::min(static_cast<std::size_t>(fy), ih - 1), y1 = std::min(y0 + 1, ih - 1);
        const double wy = fy - static_cast<double>(y0);
        for (std::size_t x = 0; x < ow; ++x) {
            const double fx = std::max(0.0, (static_cast<double>(x) + 0.5) * sx - 0.5);
            const std::size_t x0 = std::min(static_cast<std::size_t>(fx), iw - 1), x1 = std::min(x0 + 1, iw - 1);
            const double wx = fx - static_cast<double>(x0);
            const double top = in[y0 * iw + x0] * (1 - wx) + in[y0 * iw + x1] * wx;
            const double bot = in[y1 * iw + x0] * (1 - wx) + in[y1 * iw + x1] * wx;
            out[y * ow + x] = static_cast<float>(top * (1 - wy) + bot * wy);
        }
    }
}

namespace {

// ITU-R BT.601 luma weights (as torchvision's rgb_to_grayscale), in thousandths so that a
// gray pixel stored as RGB (r = g = b) gives exactly the value it has stored as gray.
float luminance(const std::uint8_t* rgb) {
    const unsigned sum = 299u * rgb[0] + 587u * rgb[1] + 114u * rgb[2];
    return static_cast<float>(static_cast<double>(sum) / 1000.0);
}

}  // namespace

void preprocess_u8(const ViTConfig& cfg, const std::uint8_t* image, std::size_t rows, std::size_t cols,
                   std::size_t in_channels, float* out) {
    const std::size_t S = cfg.image_size;
    const bool to_gray = in_channels == 3 && cfg.channels == 1;
    if (in_channels != 1 && in_channels != cfg.channels && !to_gray)
        throw std::invalid_argument("preprocess: images have " + std::to_string(in_channels) + " channels, the model takes " +
                                    std::to_string(cfg.channels) + " (or 1, replicated; or RGB to a 1-channel model)");
    if (rows == 0 || cols == 0) throw std::invalid_argument("preprocess: an image of 0 pixels");
    std::vector<float> plane(rows * cols), resized(S * S);
    for (std::size_t c = 0; c < cfg.channels; ++c) {
        const std::size_t src = in_channels == 1 ? 0 : c;
        for (std::size_t i = 0; i < rows * cols; ++i)
            plane[i] = (to_gray ? luminance(image + 3 * i) : static_cast<float>(image[i * in_channels + src])) / 255.0f;
        const float* r = plane.data();
        if (rows != S || cols != S) {
            resize_bilinear(plane.data(), rows, cols, resized.data(), S, S);
            r = resized.data();
        }
        const float mean = cfg.norm_mean[c], inv = 1.0f / cfg.norm_std[c];
        for (std::size_t i = 0; i < S * S; ++i) out[c * S * S + i] = (r[i] - mean) * inv;
    }
}

// ================================================================== feature extraction

namespace {

// Images per forward call: enough to amortize the per-call weight transposes, few enough
// that one worker's activations stay around 64 MB.
std::size_t chunk_for(const ViTConfig& c) {
    const std::size_t T = c.tokens();
    const std::size_t per = c.depth * T * (8 * c.width + 2 * c.mlp_hidden + c.heads * T) + T * c.width * 2;
    return std::clamp<std::size_t>((std::size_t{16} << 20) / std::max<std::size_t>(per, 1), 1, 64);
}

// `prepare(i, dst)` writes image i as a model input [Cin, S, S].
template <class Prepare>
void features_batched(const ViT& m, std::size_t n, float* out, const Prepare& prepare) {
    const ViTConfig& c = m.config;
    const std::size_t chunk = chunk_for(c), in = c.channels * c.image_size * c.image_size, C = c.width;
    const std::size_t chunks = (n + chunk - 1) / chunk;
    const unsigned W = ThreadPool::global().size();
    std::vector<ViTActs> acts(W);
    std::vector<std::vector<float>> inputs(W);
    parallel_for(chunks, [&](std::size_t ci, unsigned w) {
        const std::size_t b0 = ci * chunk, B = std::min(chunk, n - b0);
        if (acts[w].B < chunk) acts[w].allocate(c, chunk);
        inputs[w].resize(chunk * in);
        for (std::size_t b = 0; b < B; ++b) prepare(b0 + b, inputs[w].data() + b * in);
        vit_forward(m, acts[w], inputs[w].data(), B);
        for (std::size_t b = 0; b < B; ++b) std::memcpy(out + (b0 + b) * C, acts[w].lnf + b * 2 * C, C * sizeof(float));
    });
}

}  // namespace

void extract_features(const ViT& m, const float* images, std::size_t n, float* out) {
    const std::size_t in = m.config.channels * m.config.image_size * m.config.image_size;
    features_batched(m, n, out, [&](std::size_t i, float* dst) { std::memcpy(dst, images + i * in, in * sizeof(float)); });
}

void extract_features_u8(const ViT& m, const std::uint8_t* images, std::size_t n, std::size_t rows, std::size_t cols,
                         std::size_t in_channels, float* out) {
    const std::size_t per = rows * cols * in_channels;
    features_batched(m, n, out, [&](std::size_t i, float* dst) {
        preprocess_u8(m.config, images + i * per, rows, cols, in_channels, dst);
    });
}

void extract_features_views(const ViT& m, const ImageView* images, std::size_t n, float* out) {
    features_batched(m, n, out, [&](std::size_t i, float* dst) {
        const ImageView& v = images[i];
        preprocess_u8(m.config, v.pixels, v.rows, v.cols, v.channels, dst);
    });
}

std::vector<float> extract_features(const ViT& m, const IdxImages& images) {
    std::vector<float> out(images.count * m.config.width);
    extract_features_u8(m, images.pixels.data(), images.count, images.rows, images.cols, 1, out.data());
    return out;
}

}  // namespace bt::nn
