// bt_pretrain's internal interface between its translation units: the options (Args, parse
// and the error exit, in main.cpp), the Fashion-MNIST splits, training inputs and test
// accuracy (data.cpp), checkpoints and model loading (checkpoint.cpp), and the two run modes
// besides --eval: training (train.cpp) and the linear probe (probe.cpp). main.cpp has the
// overview of the tool.
#pragma once

#include "bt/nn/vit.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace bt::pretrain {

using bt::nn::AdamW;
using bt::nn::ViT;
using bt::nn::ViTConfig;

struct Decoder;    // heads.hpp
struct Projector;  // contrastive.hpp

// ------------------------------------------------------------------ options (main.cpp)
struct Args {
    std::string data = "/usr/share/datasets/fashion-mnist", out = "bt-vit-fmnist04.safetensors", ckpt, resume, model, init;
    std::size_t epochs = 4, batch = 128, warmup = 300, max_steps = 0, probe_train = 0, probe_epochs = 30, probe_seeds = 1;
    float lr = 1e-3f, wd = 0.05f, recon = 0.0f, contrastive = 0.0f, tau = 0.2f;
    std::size_t proj_dim = 64, mlp_head = 0;
    std::uint64_t seed = 1;
    unsigned threads = 0;
    bool augment = true, strong_augment = false, eval = false, probe = false, rotations = false,
         probe_validation = false;
    ViTConfig cfg;
};

// Prints "bt_pretrain: MSG" to stderr and exits with status 2.
[[noreturn]] void die(const std::string& msg);
// A non-negative integer of at most 9 digits, or die() naming the flag.
std::size_t to_size(const std::string& flag, const std::string& v);
// The command line (exits after --help; dies on a bad option).
Args parse(int argc, char** argv);

// ------------------------------------------------------------------ data (data.cpp)
struct Split {
    std::vector<std::uint8_t> pixels;  // n × 28 × 28
    std::vector<std::uint8_t> labels;  // relabelled to 0..4
    std::size_t n = 0;
};

// Images of classes [lo, lo + 5), labels shifted to 0..4.
Split load_split(const std::string& dir, const std::string& split, int lo);
// One training input: optional flip and shift (zero = background fill), normalized.
void make_input(const ViTConfig& c, const std::uint8_t* img, bool augment, std::mt19937_64& rng, float* out,
                unsigned rot = 0);
// Monotonic seconds, for timings.
double now_s();
// Test accuracy on the classes of the split (a 20-output head: its r = 0 logits).
double accuracy(const ViT& m, const Split& s);
// Accuracy of a joint (class, rotation) head over four rotations (0 for other heads).
double accuracy_rotations(const ViT& m, const Split& s);

// ------------------------------------------------------------------ checkpoints (checkpoint.cpp)
void save_checkpoint(const std::string& path, const ViT& m, const AdamW& opt, const Decoder& dec, const Projector& proj,
                     std::size_t step, std::size_t epoch, const std::map<std::string, std::string>& info);
void load_checkpoint(const std::string& path, ViT& m, AdamW& opt, Decoder* dec, Projector* proj, std::size_t& step,
                     std::size_t& epoch);
// A final model, or the model inside a checkpoint.
ViT load_model(const std::string& path);

// ------------------------------------------------------------------ run modes
// Pretraining (train.cpp); argv is recorded in the model's metadata.
int train(const Args& args, int argc, char** argv);
// The linear probe on classes 5-9, features vs raw pixels (probe.cpp).
int run_probe(const Args& args);

}  // namespace bt::pretrain
