// bt_pretrain: plaintext supervised pretraining of the shipped transformer on the "public"
// half of Fashion-MNIST (training images of classes 0-4: T-shirt, trouser, pullover,
// dress, coat), and a linear probe of its frozen features on the "private" half (classes
// 5-9: sandal, shirt, sneaker, bag, ankle boot) against the same probe on raw pixels.
//
//   ./bt_pretrain --out models/bt-vit-fmnist04.safetensors [--epochs N] [--seed S] ...
//   ./bt_pretrain --eval  --model M     accuracy on the test split, classes 0-4
//   ./bt_pretrain --probe --model M     linear probe, classes 5-9 (features vs pixels)
//
// Data-parallel training: each step's batch is split over the thread pool's workers,
// each runs forward/backward on its share into its own gradient buffer, the buffers are
// summed and one AdamW step follows. Seeded: the same seed and thread count give the same
// weights (the shard split and the order of the sum depend only on those).
//
// Files: main.cpp (options, main), data.cpp (splits, inputs, accuracy), checkpoint.cpp,
// train.cpp (the training loop), probe.cpp (--probe), heads.hpp (reconstruction decoder,
// MLP head), contrastive.cpp (--contrastive); pretrain.hpp declares what they share.
#include "bt/version.hpp"
#include "pretrain.hpp"

#include "bt/threadpool.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>

namespace bt::pretrain {

// ------------------------------------------------------------------ options
namespace {

const char* kUsage =
    "usage: bt_pretrain [options]            pretrain on Fashion-MNIST classes 0-4\n"
    "       bt_pretrain --eval  --model FILE   test accuracy on classes 0-4\n"
    "       bt_pretrain --probe --model FILE   linear probe on classes 5-9: features vs raw pixels\n"
    "\n"
    "data and output:\n"
    "  --data DIR        folder with {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]\n"
    "                    (default /usr/share/datasets/fashion-mnist)\n"
    "  --out FILE        final model (safetensors; default bt-vit-fmnist04.safetensors)\n"
    "  --checkpoint FILE checkpoint with optimizer state, written atomically every epoch\n"
    "                    (default: OUT.ckpt)\n"
    "  --resume FILE     continue from a checkpoint\n"
    "  --init FILE       start from a model's weights (fresh optimizer state and schedule; the\n"
    "                    topology options are taken from the file)\n"
    "training:\n"
    "  --epochs N (4)  --batch N (128)  --lr X (1e-3)  --wd X (0.05)  --warmup STEPS (300)\n"
    "  --seed N (1)    --threads N (all)  --max-steps N (stop early, for smoke tests)\n"
    "  --no-augment    (default: random horizontal flip and shifts of up to 2 pixels)\n"
    "  --strong-augment  the contrastive views' augmentation instead (random resized crop of\n"
    "                  40-100 % area, flip, brightness, erasing) for the supervised objective\n"
    "  --rotations     self-supervised label augmentation: each training image is rotated by\n"
    "                  r x 90 degrees (r random) and the head learns the joint label 4*class + r\n"
    "                  (20 outputs); class predictions read the r = 0 logits\n"
    "  --recon X       add X times a pixel-reconstruction loss: a linear decoder from the\n"
    "                  features to the input image, trained along and then discarded, so the\n"
    "                  features keep image information beyond the five public classes (0: off)\n"
    "  --contrastive X   add X times SimCLR's NT-Xent loss: every image is seen as two views\n"
    "                    (random resized crop, flip, brightness, erasing; same rotation), whose\n"
    "                    features, through a projection MLP trained along and discarded, must\n"
    "                    pick each other out of the batch (0: off). Doubles the images per step.\n"
    "  --tau X (0.2)     its temperature      --proj-dim N (64) its projection width\n"
    "  --mlp-head H    the cross-entropy reads the features through an MLP head (hidden width\n"
    "                  H, GELU), trained along and discarded; the model's linear head is then\n"
    "                  trained on the features with no gradient into them (a probe) (0: off)\n"
    "topology (28x28x1 input):\n"
    "  --patch N (4)  --width N (96)  --depth N (4)  --heads N (3)  --mlp N (192)\n"
    "probe:\n"
    "  --probe-train N  training images per probe (default: all 30000 of classes 5-9)\n"
    "  --probe-epochs N (30)\n"
    "  --probe-seeds N   repeat with N training subsets (seeds S, S+1, ...) and print the mean (1)\n"
    "  --probe-validation  model selection without the test split: 5,000 of the 30,000 training\n"
    "                  images of classes 5-9 (seeded permutation, seed 7) are held out and\n"
    "                  scored; the training subsets are drawn from the other 25,000\n";

float to_float(const std::string& flag, const std::string& v) {
    try {
        std::size_t used = 0;
        const float f = std::stof(v, &used);
        if (used != v.size() || !std::isfinite(f) || f < 0) throw std::invalid_argument(v);
        return f;
    } catch (const std::exception&) {
        die(flag + " expects a non-negative number, got \"" + v + "\"");
    }
}

}  // namespace

[[noreturn]] void die(const std::string& msg) {
    std::fprintf(stderr, "bt_pretrain: %s\n", msg.c_str());
    std::exit(2);
}

std::size_t to_size(const std::string& flag, const std::string& v) {
    if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 9)
        die(flag + " expects a non-negative integer, got \"" + v + "\"");
    return std::stoul(v);
}

Args parse(int argc, char** argv) {
    Args a;
    a.cfg.num_classes = 5;
    for (int i = 1; i < argc; ++i) {
        const std::string f = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) die(f + " needs a value (see --help)");
            return argv[++i];
        };
        if (f == "--help" || f == "-h") { std::fputs(kUsage, stdout); std::exit(0); }
        else if (f == "--version") { std::puts(bt::version_line("bt_pretrain").c_str()); std::exit(0); }
        else if (f == "--data") a.data = val();
        else if (f == "--out") a.out = val();
        else if (f == "--checkpoint") a.ckpt = val();
        else if (f == "--resume") a.resume = val();
        else if (f == "--init") a.init = val();
        else if (f == "--contrastive") a.contrastive = to_float(f, val());
        else if (f == "--tau") a.tau = to_float(f, val());
        else if (f == "--proj-dim") a.proj_dim = to_size(f, val());
        else if (f == "--mlp-head") a.mlp_head = to_size(f, val());
        else if (f == "--model") a.model = val();
        else if (f == "--eval") a.eval = true;
        else if (f == "--probe") a.probe = true;
        else if (f == "--epochs") a.epochs = to_size(f, val());
        else if (f == "--batch") a.batch = to_size(f, val());
        else if (f == "--warmup") a.warmup = to_size(f, val());
        else if (f == "--max-steps") a.max_steps = to_size(f, val());
        else if (f == "--lr") a.lr = to_float(f, val());
        else if (f == "--wd") a.wd = to_float(f, val());
        else if (f == "--recon") a.recon = to_float(f, val());
        else if (f == "--seed") a.seed = to_size(f, val());
        else if (f == "--threads") {
            a.threads = static_cast<unsigned>(to_size(f, val()));
            if (a.threads < 1 || a.threads > bt::kMaxThreads)
                die("--threads expects a whole number from 1 to " + std::to_string(bt::kMaxThreads));
        }
        else if (f == "--no-augment") a.augment = false;
        else if (f == "--strong-augment") a.strong_augment = true;
        else if (f == "--probe-validation") a.probe_validation = true;
        else if (f == "--rotations") a.rotations = true;
        else if (f == "--patch") a.cfg.patch_size = to_size(f, val());
        else if (f == "--width") a.cfg.width = to_size(f, val());
        else if (f == "--depth") a.cfg.depth = to_size(f, val());
        else if (f == "--heads") a.cfg.heads = to_size(f, val());
        else if (f == "--mlp") a.cfg.mlp_hidden = to_size(f, val());
        else if (f == "--probe-train") a.probe_train = to_size(f, val());
        else if (f == "--probe-epochs") a.probe_epochs = to_size(f, val());
        else if (f == "--probe-seeds") a.probe_seeds = to_size(f, val());
        else die("unknown option \"" + f + "\" (see --help)");
    }
    if (a.rotations) a.cfg.num_classes = 20;
    if (a.strong_augment && !a.augment) die("--strong-augment and --no-augment exclude each other");
    if (a.batch == 0) die("--batch must be positive");
    if (a.contrastive > 0 && (a.tau <= 0 || a.proj_dim == 0 || a.proj_dim > 256))
        die("--contrastive needs --tau > 0 and --proj-dim in 1..256");
    if (!a.init.empty() && !a.resume.empty()) die("--init and --resume exclude each other");
    if (a.mlp_head && !a.resume.empty())
        die("--mlp-head runs cannot be resumed (its head is not in checkpoints); start again without --resume");
    if (a.mlp_head > 4096) die("--mlp-head expects a hidden width in 1..4096");
    if ((a.eval || a.probe) && a.model.empty()) die("--eval and --probe need --model FILE");
    if (a.ckpt.empty()) a.ckpt = a.out + ".ckpt";
    try {
        a.cfg.validate();
    } catch (const std::exception& e) {
        die(e.what());
    }
    return a;
}

}  // namespace bt::pretrain

// ------------------------------------------------------------------ main
using namespace bt::pretrain;

int main(int argc, char** argv) {
    try {
        const Args args = parse(argc, argv);
        if (args.threads) bt::ThreadPool::set_global_threads(args.threads);
        if (args.eval) {
            const ViT m = load_model(args.model);
            const Split te = load_split(args.data, "t10k", 0);
            std::printf("%s: test accuracy (classes 0-4, %zu images) %.4f\n", args.model.c_str(), te.n, accuracy(m, te));
            if (m.config.num_classes == 20)
                std::printf("%s: test accuracy, four rotations aggregated %.4f\n", args.model.c_str(), accuracy_rotations(m, te));
            return 0;
        }
        if (args.probe) return run_probe(args);
        return train(args, argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bt_pretrain: %s\n", e.what());
        return 1;
    }
}
