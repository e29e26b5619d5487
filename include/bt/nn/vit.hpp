// bt::nn — a fixed-topology DeiT-style vision transformer in plain C++17: forward pass
// for feature extraction, backward pass and AdamW for pretraining, weights in safetensors.
// It knows nothing of encryption.
//
// Topology (timm's VisionTransformer / DeiT, pre-LayerNorm):
//   image [Cin, S, S] -> patches (P×P, stride P; NP = (S/P)^2) -> linear patch embedding
//   tokens = [cls, (dist), patch_1 .. patch_NP] + learned position embeddings   (T tokens)
//   L blocks: x += Attn(LN1(x));  x += FC2(GELU(FC1(LN2(x))))   (multi-head, NH heads,
//             exact erf GELU, softmax attention with scale 1/sqrt(C/NH), no dropout)
//   LN_f on the class token -> features [C];  head: logits = W_head · feature + b
//   (distilled models average the class-token head and the dist-token head, as DeiT does
//   at inference).
// Index letters used throughout: B batch, T tokens, C width, NH heads, hs = C/NH head
// size, H MLP hidden width, L depth, K classes, NP patches, PD = Cin·P·P patch length.
//
// Typical use (the encrypted trainer's client side):
//   bt::nn::ViT m = bt::nn::load_vit("models/bt-vit-fmnist04.safetensors");
//   bt::nn::IdxImages im = bt::nn::read_idx_images(bt::nn::fashion_mnist_path("t10k", true));
//   std::vector<float> f = bt::nn::extract_features(m, im);   // im.count × m.config.width
// extract_features resizes (bilinear) and replicates grayscale images to the model's input
// (or turns RGB images into luminance for a 1-channel model), then normalizes pixels as
// x = (p/255 - mean[c]) / std[c] with the mean/std stored in the model's config (the
// shipped model: mean 0.5, std 0.5 -> [-1, 1], as in its pretraining).
#pragma once

#include "bt/nn/idx.hpp"
#include "bt/nn/safetensors.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace bt::nn {

// ------------------------------------------------------------------ configuration
struct ViTConfig {
    std::size_t image_size = 28;   // S: input is S × S
    std::size_t channels = 1;      // Cin
    std::size_t patch_size = 4;    // P (S must be a multiple of P)
    std::size_t width = 96;        // C
    std::size_t depth = 4;         // L
    std::size_t heads = 3;         // NH (C must be a multiple of NH)
    std::size_t mlp_hidden = 192;  // H (mlp ratio × C)
    std::size_t num_classes = 5;   // K (0: no head)
    bool distilled = false;        // DeiT distillation token and second head
    float ln_eps = 1e-6f;          // LayerNorm epsilon (timm 1e-6, Hugging Face 1e-12)
    // Pixel normalization per input channel: x = (p/255 - mean) / std (entries: Cin).
    std::vector<float> norm_mean = {0.5f};
    std::vector<float> norm_std = {0.5f};

    std::size_t grid() const { return image_size / patch_size; }
    std::size_t num_patches() const { return grid() * grid(); }
    std::size_t prefix_tokens() const { return distilled ? 2 : 1; }
    std::size_t tokens() const { return num_patches() + prefix_tokens(); }  // T
    std::size_t head_size() const { return width / heads; }
    std::size_t patch_dim() const { return channels * patch_size * patch_size; }  // PD
    // Throws std::invalid_argument naming the offending field.
    void validate() const;
    // As safetensors "__metadata__" ("format": "bt-vit", "image_size", ...), and back.
    std::map<std::string, std::string> to_metadata() const;
    static ViTConfig from_metadata(const std::map<std::string, std::string>& md);
    std::string describe() const;  // one line, for logs
};

// ------------------------------------------------------------------ parameters
// All parameters live in one float allocation; these point into it. Shapes are in the
// comments; per-layer tensors are stacked over L. Names in the safetensors file are
// timm's (e.g. "blocks.0.attn.qkv.weight"), see param_table().
struct ViTParams {
    float* patch_w;      // [C, PD]   (= timm [C, Cin, P, P])
    float* patch_b;      // [C]
    float* cls_token;    // [C]
    float* dist_token;   // [C]       (distilled only, else null)
    float* pos_embed;    // [T, C]
    float* ln1_w;        // [L, C]
    float* ln1_b;        // [L, C]
    float* qkv_w;        // [L, 3C, C]  rows: q (heads in order), k, v
    float* qkv_b;        // [L, 3C]
    float* proj_w;       // [L, C, C]
    float* proj_b;       // [L, C]
    float* ln2_w;        // [L, C]
    float* ln2_b;        // [L, C]
    float* fc1_w;        // [L, H, C]
    float* fc1_b;        // [L, H]
    float* fc2_w;        // [L, C, H]
    float* fc2_b;        // [L, C]
    float* lnf_w;        // [C]
    float* lnf_b;        // [C]
    float* head_w;       // [K, C]
    float* head_b;       // [K]
    float* head_dist_w;  // [K, C]    (distilled only)
    float* head_dist_b;  // [K]       (distilled only)
};
constexpr std::size_t kNumParamTensors = 23;

// One row per tensor of ViTParams, in member order: the file name pattern ("{l}" is the
// layer index for per-layer tensors), the shape of one layer's slice as stored in the file,
// whether it is stacked over layers, and whether AdamW decays it (matrices only).
struct ParamSpec {
    const char* name;
    std::vector<std::size_t> shape;  // empty: tensor absent in this config
    bool per_layer;
    bool decay;
    std::size_t numel() const;       // per layer
};
std::vector<ParamSpec> param_table(const ViTConfig& cfg);
// Total float count, and the pointers into `base` (which must hold that many floats).
std::size_t num_parameters(const ViTConfig& cfg);
ViTParams point_params(const ViTConfig& cfg, float* base);
// The i-th pointer of ViTParams, in member order (i < kNumParamTensors).
float* param_ptr(ViTParams& p, std::size_t i);

class ViT {
public:
    ViTConfig config;
    std::vector<float> memory;  // every parameter
    ViTParams p{};

    ViT() = default;
    explicit ViT(const ViTConfig& cfg);  // parameters zero
    ViT(const ViT& o);
    ViT& operator=(const ViT& o);
    ViT(ViT&&) noexcept;
    ViT& operator=(ViT&&) noexcept;
    std::size_t num_params() const { return memory.size(); }
};

// timm-style initialization: weights N(0, 0.02²) truncated at ±2σ, biases 0, LayerNorm
// weights 1, cls/dist/pos N(0, 0.02²). Deterministic in `seed` on every platform.
void init_vit(ViT& m, std::uint64_t seed);

// ------------------------------------------------------------------ activations
// Everything the backward pass needs, for a batch of at most B images, in one allocation.
struct ViTActs {
    std::size_t B = 0;
    std::vector<float> memory;
    float* patches;    // [B, NP, PD]
    float* x0;         // [B, T, C]   embeddings (input of block 0)
    float* ln1;        // [L, B, T, C]
    float* ln1_mean;   // [L, B, T]
    float* ln1_rstd;   // [L, B, T]
    float* qkv;        // [L, B, T, 3C]
    float* att;        // [L, B, NH, T, T]  softmax probabilities
    float* atty;       // [L, B, T, C]  attention output before the projection
    float* res2;       // [L, B, T, C]  x + attn
    float* ln2;        // [L, B, T, C]
    float* ln2_mean;   // [L, B, T]
    float* ln2_rstd;   // [L, B, T]
    float* fch;        // [L, B, T, H]  FC1 output
    float* fch_gelu;   // [L, B, T, H]
    float* res3;       // [L, B, T, C]  block output
    float* lnf;        // [B, 2, C]   final LayerNorm of the class (and dist) token
    float* lnf_mean;   // [B, 2]
    float* lnf_rstd;   // [B, 2]
    float* logits;     // [B, K]
    float* probs;      // [B, K]
    void allocate(const ViTConfig& cfg, std::size_t batch);
};

// ------------------------------------------------------------------ layers (free functions)
// Single-threaded; shapes as in the comments above. `inp`/`out` are row-major.
void patchify(float* patches, const float* images, std::size_t B, const ViTConfig& cfg);
void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, std::size_t BT,
                    std::size_t C, std::size_t OC);
void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, std::size_t BT, std::size_t C, std::size_t OC);
void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, std::size_t N, std::size_t C, float eps);
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, std::size_t N, std::size_t C);
void attention_forward(float* out, float* att, const float* qkv, std::size_t B, std::size_t T, std::size_t C,
                       std::size_t NH);
void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* att, std::size_t B,
                        std::size_t T, std::size_t C, std::size_t NH);
void gelu_forward(float* out, const float* inp, std::size_t N);
void gelu_backward(float* dinp, const float* inp, const float* dout, std::size_t N);

// ------------------------------------------------------------------ model passes
// Forward over B normalized images [B, Cin, S, S] (B <= acts.B). Fills the activations;
// features (final-LN class token) are acts.lnf rows b*2. If `labels` is given, returns the
// mean cross-entropy and fills acts.probs; otherwise returns 0.
float vit_forward(const ViT& m, ViTActs& acts, const float* images, std::size_t B,
                  const std::uint8_t* labels = nullptr);
// Backward of the mean cross-entropy of the last vit_forward with labels; ADDS the
// parameter gradients into `grads` (a ViT of the same config used as a gradient buffer).
// `dfeatures` [B, C], if given, is the gradient of an extra loss term with respect to the
// features (final-LN class token) and is added in (bt_pretrain's reconstruction term).
// With `head_to_features` false the head still gets its gradients but none flows back into
// the features (the head is then a linear probe trained along: bt_pretrain --mlp-head).
void vit_backward(const ViT& m, ViT& grads, ViTActs& acts, const float* images, const std::uint8_t* labels,
                  std::size_t B, const float* dfeatures = nullptr, bool head_to_features = true);

// AdamW (decoupled weight decay on matrices only, ParamSpec::decay). `step` counts from 1.
struct AdamW {
    float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, weight_decay = 0.05f;
    std::vector<float> m, v;
    void update(ViT& model, const ViT& grads, std::uint64_t step);
};

// ------------------------------------------------------------------ features
// Features of n normalized images [n, Cin, S, S] -> out [n, C]; batched over the thread pool.
void extract_features(const ViT& m, const float* images, std::size_t n, float* out);
// Features of n 8-bit images of rows × cols × in_channels (1 or Cin, or 3 for a 1-channel
// model; interleaved if >1): bilinear resize to S × S (align_corners = false, no antialias,
// as torchvision's Resize((S, S), antialias=False) on tensors; the aspect ratio is not
// kept), grayscale replicated to Cin, RGB to luminance for a 1-channel model
// (L = 0.299 R + 0.587 G + 0.114 B, ITU-R BT.601 as torchvision's rgb_to_grayscale, not
// rounded to 8 bits), normalized with the config's mean/std.
void extract_features_u8(const ViT& m, const std::uint8_t* images, std::size_t n, std::size_t rows,
                         std::size_t cols, std::size_t in_channels, float* out);
// The same for images of any sizes and channel counts, one view each.
void extract_features_views(const ViT& m, const ImageView* images, std::size_t n, float* out);
std::vector<float> extract_features(const ViT& m, const IdxImages& images);
// One 8-bit image to the model input [Cin, S, S] as extract_features_u8 does.
void preprocess_u8(const ViTConfig& cfg, const std::uint8_t* image, std::size_t rows, std::size_t cols,
                   std::size_t in_channels, float* out);
// Bilinear resize of one plane (align_corners = false, edge clamped), as torch's
// F.interpolate(mode="bilinear", antialias=False).
void resize_bilinear(const float* in, std::size_t ih, std::size_t iw, float* out, std::size_t oh, std::size_t ow);

// ------------------------------------------------------------------ weights
// Loads our format (config in __metadata__, timm tensor names), a timm DeiT/ViT
// checkpoint ("cls_token", "blocks.0.attn.qkv.weight", ...) or a Hugging Face one
// ("deit.embeddings.cls_token" / "vit.…", "…attention.attention.query.weight", ...).
// Without our metadata the config is inferred from the tensor shapes (heads: from
// "num_heads" metadata if present, else C/64 as in DeiT/ViT; normalization: ImageNet mean/std;
// LayerNorm eps: 1e-6 timm, 1e-12 Hugging Face). Throws on anything missing or mis-shaped.
ViT load_vit(const std::string& path);
ViT vit_from_safetensors(const SafeTensors& st, const std::string& name);
// Saves in our format (atomic write). `extra` metadata is added (e.g. training info).
void save_vit(const ViT& m, const std::string& path, const std::map<std::string, std::string>& extra = {});

}  // namespace bt::nn
