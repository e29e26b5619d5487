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
#include "bt/nn/idx.hpp"
#include "bt/nn/safetensors.hpp"
#include "bt/nn/vit.hpp"
#include "bt/threadpool.hpp"
#include "contrastive.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

using namespace bt::nn;
using bt::pretrain::contrastive_view;
using bt::pretrain::Projector;

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

[[noreturn]] void die(const std::string& msg) {
    std::fprintf(stderr, "bt_pretrain: %s\n", msg.c_str());
    std::exit(2);
}

std::size_t to_size(const std::string& flag, const std::string& v) {
    if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 9)
        die(flag + " expects a non-negative integer, got \"" + v + "\"");
    return std::stoul(v);
}
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
        else if (f == "--threads") a.threads = static_cast<unsigned>(to_size(f, val()));
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

// ------------------------------------------------------------------ data
struct Split {
    std::vector<std::uint8_t> pixels;  // n × 28 × 28
    std::vector<std::uint8_t> labels;  // relabelled to 0..4
    std::size_t n = 0;
};

std::string data_file(const std::string& dir, const std::string& split, bool images) {
    const std::string base = dir + "/" + split + (images ? "-images-idx3-ubyte" : "-labels-idx1-ubyte");
    if (std::FILE* f = std::fopen((base + ".gz").c_str(), "rb")) {
        std::fclose(f);
        return base + ".gz";
    }
    return base;
}

// Images of classes [lo, lo + 5), labels shifted to 0..4.
Split load_split(const std::string& dir, const std::string& split, int lo) {
    const IdxImages im = read_idx_images(data_file(dir, split, true));
    const IdxLabels lb = read_idx_labels(data_file(dir, split, false));
    if (im.count != lb.count())
        die(split + ": " + std::to_string(im.count) + " images but " + std::to_string(lb.count()) + " labels");
    if (im.rows != 28 || im.cols != 28)
        die(split + ": images are " + std::to_string(im.rows) + "x" + std::to_string(im.cols) + ", expected 28x28");
    Split s;
    for (std::size_t i = 0; i < im.count; ++i) {
        const int y = lb.labels[i];
        if (y < lo || y >= lo + 5) continue;
        s.pixels.insert(s.pixels.end(), im.image(i), im.image(i) + 784);
        s.labels.push_back(static_cast<std::uint8_t>(y - lo));
        ++s.n;
    }
    return s;
}

// One training input: optional flip and shift (zero = background fill), normalized.
void make_input(const ViTConfig& c, const std::uint8_t* img, bool augment, std::mt19937_64& rng, float* out,
                unsigned rot = 0) {
    std::uint8_t tmp[784], rotated[784];
    const std::uint8_t* src = img;
    if (augment) {
        const bool flip = (rng() & 1) != 0;
        const int dx = static_cast<int>(rng() % 5) - 2, dy = static_cast<int>(rng() % 5) - 2;
        for (int y = 0; y < 28; ++y)
            for (int x = 0; x < 28; ++x) {
                int sx = x - dx, sy = y - dy;
                if (flip) sx = 27 - sx;
                tmp[y * 28 + x] = (sx < 0 || sx > 27 || sy < 0 || sy > 27) ? 0 : img[sy * 28 + sx];
            }
        src = tmp;
    }
    if (rot) {  // r quarter turns counter-clockwise
        for (int y = 0; y < 28; ++y)
            for (int x = 0; x < 28; ++x) {
                int sy = y, sx = x;
                for (unsigned k = 0; k < rot; ++k) {  // inverse map of one quarter turn
                    const int t = sy;
                    sy = sx;
                    sx = 27 - t;
                }
                rotated[y * 28 + x] = src[sy * 28 + sx];
            }
        src = rotated;
    }
    preprocess_u8(c, src, 28, 28, 1, out);
}

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// ------------------------------------------------------------------ evaluation
double accuracy(const ViT& m, const Split& s) {
    // A 20-output head is the joint (class, rotation) head of --rotations: read r = 0.
    const std::size_t C = m.config.width, K = m.config.num_classes == 20 ? 5 : m.config.num_classes;
    const std::size_t stride = m.config.num_classes == 20 ? 4 : 1;
    std::vector<float> feats(s.n * C);
    extract_features_u8(m, s.pixels.data(), s.n, 28, 28, 1, feats.data());
    std::size_t right = 0;
    for (std::size_t i = 0; i < s.n; ++i) {
        std::size_t best = 0;
        float bestz = -INFINITY;
        for (std::size_t k = 0; k < K; ++k) {
            const std::size_t row = k * stride;
            float z = m.p.head_b[row];
            for (std::size_t j = 0; j < C; ++j) z += m.p.head_w[row * C + j] * feats[i * C + j];
            if (z > bestz) { bestz = z; best = k; }
        }
        right += best == s.labels[i];
    }
    return static_cast<double>(right) / static_cast<double>(s.n);
}

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

// ------------------------------------------------------------------ checkpoints
void save_checkpoint(const std::string& path, const ViT& m, const AdamW& opt, const Decoder& dec, const Projector& proj,
                     std::size_t step, std::size_t epoch, const std::map<std::string, std::string>& info) {
    std::vector<TensorView> v{{"model", {m.memory.size()}, m.memory.data()},
                              {"adam.m", {opt.m.size()}, opt.m.data()},
                              {"adam.v", {opt.v.size()}, opt.v.data()}};
    if (!dec.p.empty()) {
        v.push_back({"decoder.p", {dec.p.size()}, dec.p.data()});
        v.push_back({"decoder.m", {dec.m.size()}, dec.m.data()});
        v.push_back({"decoder.v", {dec.v.size()}, dec.v.data()});
    }
    if (!proj.p.empty()) {
        v.push_back({"projector.p", {proj.p.size()}, proj.p.data()});
        v.push_back({"projector.m", {proj.m.size()}, proj.m.data()});
        v.push_back({"projector.v", {proj.v.size()}, proj.v.data()});
    }
    std::map<std::string, std::string> md = m.config.to_metadata();
    md["format"] = "bt-vit-checkpoint";
    md["step"] = std::to_string(step);
    md["epoch"] = std::to_string(epoch);
    for (const auto& [k, val] : info) md["info." + k] = val;
    write_safetensors(path, v, md);
}

void load_checkpoint(const std::string& path, ViT& m, AdamW& opt, Decoder* dec, Projector* proj, std::size_t& step,
                     std::size_t& epoch) {
    SafeTensors st = read_safetensors(path);
    auto md = st.metadata;
    if (md["format"] != "bt-vit-checkpoint") die(path + ": not a bt_pretrain checkpoint (format " + md["format"] + ")");
    md["format"] = "bt-vit";
    m = ViT(ViTConfig::from_metadata(md));
    const Tensor* w = st.find("model");
    const Tensor* mm = st.find("adam.m");
    const Tensor* vv = st.find("adam.v");
    if (!w || !mm || !vv || w->numel() != m.num_params() || mm->numel() != m.num_params() || vv->numel() != m.num_params())
        die(path + ": checkpoint tensors missing or of the wrong size for " + m.config.describe());
    m.memory = w->data;
    opt.m = mm->data;
    opt.v = vv->data;
    if (dec && !dec->p.empty()) {
        const Tensor* dp = st.find("decoder.p");
        const Tensor* dm = st.find("decoder.m");
        const Tensor* dv = st.find("decoder.v");
        if (!dp || !dm || !dv || dp->numel() != dec->p.size())
            die(path + ": checkpoint has no reconstruction decoder of the expected size (was --recon used?)");
        dec->p = dp->data;
        dec->m = dm->data;
        dec->v = dv->data;
    }
    if (proj && !proj->p.empty()) {
        const Tensor* pp = st.find("projector.p");
        const Tensor* pm = st.find("projector.m");
        const Tensor* pv = st.find("projector.v");
        if (!pp || !pm || !pv || pp->numel() != proj->p.size())
            die(path + ": checkpoint has no projector of the expected size; resume with the same --contrastive setup");
        proj->p = pp->data;
        proj->m = pm->data;
        proj->v = pv->data;
    }
    step = to_size("step", md["step"]);
    epoch = to_size("epoch", md["epoch"]);
}

// For a joint (class, rotation) head: the test image is shown in all four rotations r and
// class y scores Σ_r log softmax(logits)[4y + r] (aggregated inference of self-supervised
// label augmentation). Returns 0 for other heads.
double accuracy_rotations(const ViT& m, const Split& s) {
    if (m.config.num_classes != 20) return 0.0;
    const std::size_t C = m.config.width, in = 784;
    std::vector<double> score(s.n * 5, 0.0);
    std::vector<float> x(s.n * in), feats(s.n * C);
    std::mt19937_64 unused(0);
    for (unsigned r = 0; r < 4; ++r) {
        for (std::size_t i = 0; i < s.n; ++i) make_input(m.config, s.pixels.data() + i * in, false, unused, x.data() + i * in, r);
        extract_features(m, x.data(), s.n, feats.data());
        for (std::size_t i = 0; i < s.n; ++i) {
            double z[20], mx = -1e300, sum = 0.0;
            for (std::size_t k = 0; k < 20; ++k) {
                double a = m.p.head_b[k];
                for (std::size_t j = 0; j < C; ++j) a += static_cast<double>(m.p.head_w[k * C + j]) * feats[i * C + j];
                z[k] = a;
                mx = std::max(mx, a);
            }
            for (double v : z) sum += std::exp(v - mx);
            for (std::size_t y = 0; y < 5; ++y) score[i * 5 + y] += z[4 * y + r] - mx - std::log(sum);
        }
    }
    std::size_t right = 0;
    for (std::size_t i = 0; i < s.n; ++i) {
        std::size_t best = 0;
        for (std::size_t y = 1; y < 5; ++y)
            if (score[i * 5 + y] > score[i * 5 + best]) best = y;
        right += best == s.labels[i];
    }
    return static_cast<double>(right) / static_cast<double>(s.n);
}

// A final model, or the model inside a checkpoint.
ViT load_model(const std::string& path) {
    const SafeTensors st = read_safetensors(path);
    auto f = st.metadata.find("format");
    if (f != st.metadata.end() && f->second == "bt-vit-checkpoint") {
        ViT m;
        AdamW opt;
        std::size_t step = 0, epoch = 0;
        load_checkpoint(path, m, opt, nullptr, nullptr, step, epoch);
        return m;
    }
    return vit_from_safetensors(st, path);
}

// ------------------------------------------------------------------ training
int train(const Args& args, int argc, char** argv) {
    std::string cmd;
    for (int i = 0; i < argc; ++i) cmd += (i ? " " : "") + std::string(argv[i]);
    const Split tr = load_split(args.data, "train", 0), te = load_split(args.data, "t10k", 0);
    std::printf("data: %zu training, %zu test images of classes 0-4\n", tr.n, te.n);
    ViT m(args.cfg);
    init_vit(m, args.seed);
    if (!args.init.empty()) {
        m = load_model(args.init);
        const std::size_t want = args.rotations ? 20 : 5;
        if (m.config.num_classes != want)
            die(args.init + " has " + std::to_string(m.config.num_classes) + " head outputs, expected " +
                std::to_string(want) + (args.rotations ? " (--rotations)" : " (drop --rotations?)"));
        std::printf("initialized from %s\n", args.init.c_str());
    }
    AdamW opt;
    opt.lr = args.lr;
    opt.weight_decay = args.wd;
    std::size_t step = 0, epoch0 = 0;
    // The extra heads' shapes follow the model being trained: the checkpoint's when resuming.
    std::size_t width = m.config.width;
    if (!args.resume.empty()) {
        auto md = read_safetensors(args.resume).metadata;
        md["format"] = "bt-vit";
        width = ViTConfig::from_metadata(md).width;
    }
    Decoder dec;
    const std::size_t in_px = args.cfg.channels * args.cfg.image_size * args.cfg.image_size;
    if (args.recon > 0) dec.init(width, in_px, args.seed);
    Projector proj;
    if (args.contrastive > 0) proj.init(width, width, args.proj_dim, args.seed);
    MlpHead mh;
    if (args.mlp_head) mh.init(width, args.mlp_head, args.cfg.num_classes, args.seed);
    if (!args.resume.empty()) {
        load_checkpoint(args.resume, m, opt, &dec, &proj, step, epoch0);
        std::printf("resumed from %s at step %zu (epoch %zu)\n", args.resume.c_str(), step, epoch0);
    }
    const ViTConfig& c = m.config;
    std::printf("model: %s, %zu parameters\n", c.describe().c_str(), m.num_params());
    const unsigned W = bt::ThreadPool::global().size();
    const std::size_t steps_per_epoch = tr.n / args.batch;
    std::size_t total = steps_per_epoch * args.epochs;
    if (args.max_steps && args.max_steps < total) total = args.max_steps;
    std::printf("training: %zu epochs x %zu steps, batch %zu, lr %g, wd %g, warmup %zu, recon %g, seed %llu, %u threads\n",
                args.epochs, steps_per_epoch, args.batch, static_cast<double>(args.lr), static_cast<double>(args.wd),
                args.warmup, static_cast<double>(args.recon), static_cast<unsigned long long>(args.seed), W);
    const std::size_t in = c.channels * c.image_size * c.image_size;
    // Views per step: the batch, or with --contrastive two views of each image (rows i and
    // N + i). The views are split over the workers in contiguous shards.
    const bool con = args.contrastive > 0;
    const std::size_t V = con ? 2 * args.batch : args.batch;
    const std::size_t shard = (V + W - 1) / W;
    std::vector<ViTActs> acts(W);
    std::vector<ViT> grads(W, ViT(c));
    std::vector<std::vector<float>> inputs(W, std::vector<float>(shard * in));
    std::vector<std::vector<std::uint8_t>> labels(W, std::vector<std::uint8_t>(shard));
    std::vector<float> losses(W);
    std::vector<double> rlosses(W);
    std::vector<std::vector<float>> dgrads(W, std::vector<float>(dec.p.size())), dfeat(W), feats(W), recon(W);
    std::vector<float> all_feats(con ? V * c.width : 0), dcon(con ? V * c.width : 0), pgrad(proj.p.size());
    std::vector<std::vector<float>> hgrads(W, std::vector<float>(mh.p.size()));
    std::vector<double> hlosses(W);
    for (auto& a : acts) a.allocate(c, shard);
    std::vector<std::size_t> order(tr.n);
    const double t0 = now_s();
    std::map<std::string, std::string> info;
    for (std::size_t epoch = epoch0; epoch < args.epochs && step < total; ++epoch) {
        // The permutation and augmentation of each epoch depend only on (seed, epoch).
        std::mt19937_64 perm_rng(args.seed * 1000003ull + epoch);
        std::iota(order.begin(), order.end(), std::size_t{0});
        std::shuffle(order.begin(), order.end(), perm_rng);
        for (std::size_t s = (step % steps_per_epoch); s < steps_per_epoch && step < total; ++s) {
            const double ts = now_s();
            const float scale_den = static_cast<float>(V);
            // Phase 1 (parallel): inputs, forward, cross-entropy, reconstruction term.
            bt::parallel_for(W, [&](std::size_t w, unsigned) {
                const std::size_t b0 = w * shard, b1 = std::min(V, b0 + shard);
                std::fill(grads[w].memory.begin(), grads[w].memory.end(), 0.0f);
                losses[w] = 0.0f;
                rlosses[w] = 0.0;
                if (b0 >= b1) return;
                std::mt19937_64 rng(args.seed ^ (0x9E3779B97F4A7C15ull * (step * 64 + w + 1)));
                for (std::size_t b = b0; b < b1; ++b) {
                    const std::size_t img = con ? b % args.batch : b;
                    const std::size_t idx = order[s * args.batch + img];
                    unsigned rot = 0;
                    if (con) {
                        // Both views of an image share its rotation; each has its own augmentation.
                        std::mt19937_64 rrng(args.seed ^ (0xD1B54A32D192ED03ull * (step * 4096 + img + 1)));
                        rot = args.rotations ? static_cast<unsigned>(rrng() % 4) : 0u;
                    } else {
                        rot = args.rotations ? static_cast<unsigned>(rng() % 4) : 0u;
                    }
                    if (con || args.strong_augment) {
                        std::uint8_t view[784];
                        contrastive_view(tr.pixels.data() + idx * 784, rng, rot, view);
                        preprocess_u8(c, view, 28, 28, 1, inputs[w].data() + (b - b0) * in);
                    } else {
                        make_input(c, tr.pixels.data() + idx * 784, args.augment, rng, inputs[w].data() + (b - b0) * in, rot);
                    }
                    labels[w][b - b0] = static_cast<std::uint8_t>(args.rotations ? tr.labels[idx] * 4 + rot : tr.labels[idx]);
                }
                const std::size_t nb = b1 - b0;
                losses[w] = vit_forward(m, acts[w], inputs[w].data(), nb, labels[w].data()) * static_cast<float>(nb);
                const float scale = static_cast<float>(nb) / scale_den;
                const std::size_t C = c.width;
                feats[w].resize(nb * C);
                dfeat[w].assign(nb * C, 0.0f);
                for (std::size_t b = 0; b < nb; ++b)
                    std::memcpy(feats[w].data() + b * C, acts[w].lnf + b * 2 * C, C * sizeof(float));
                if (con) std::memcpy(all_feats.data() + b0 * C, feats[w].data(), nb * C * sizeof(float));
                if (args.recon > 0) {
                    // d(recon term)/d features, already scaled for the whole batch; divide
                    // by `scale` because the gradients below are multiplied by it.
                    std::fill(dgrads[w].begin(), dgrads[w].end(), 0.0f);
                    rlosses[w] = dec.step(feats[w].data(), inputs[w].data(), nb, args.recon, V,
                                          dfeat[w].data(), dgrads[w].data(), recon[w]);
                    for (float& x : dfeat[w]) x /= scale;
                }
                hlosses[w] = 0.0;
                if (args.mlp_head) {
                    // The same scaling convention as the reconstruction term.
                    std::fill(hgrads[w].begin(), hgrads[w].end(), 0.0f);
                    std::vector<float> dh(nb * C, 0.0f);
                    hlosses[w] = mh.step(feats[w].data(), labels[w].data(), nb, 1.0f, V, dh.data(), hgrads[w].data());
                    for (std::size_t i = 0; i < nb * C; ++i) dfeat[w][i] += dh[i] / scale;
                }
            });
            // Phase 2 (serial, small): the contrastive loss over all views.
            double closs = 0.0;
            if (con) {
                std::fill(pgrad.begin(), pgrad.end(), 0.0f);
                closs = proj.step(all_feats.data(), V, args.tau, args.contrastive, dcon.data(), pgrad);
            }
            // Phase 3 (parallel): backward.
            bt::parallel_for(W, [&](std::size_t w, unsigned) {
                const std::size_t b0 = w * shard, b1 = std::min(V, b0 + shard);
                if (b0 >= b1) return;
                const std::size_t nb = b1 - b0, C = c.width;
                const float scale = static_cast<float>(nb) / scale_den;
                if (con)
                    for (std::size_t i = 0; i < nb * C; ++i) dfeat[w][i] += dcon[b0 * C + i] / scale;
                const float* df = (con || args.recon > 0 || args.mlp_head) ? dfeat[w].data() : nullptr;
                vit_backward(m, grads[w], acts[w], inputs[w].data(), labels[w].data(), nb, df, args.mlp_head == 0);
                for (float& g : grads[w].memory) g *= scale;
            });
            for (unsigned w = 1; w < W; ++w)
                for (std::size_t i = 0; i < m.num_params(); ++i) grads[0].memory[i] += grads[w].memory[i];
            float loss = 0.0f;
            for (float l : losses) loss += l;
            loss /= scale_den;
            // An auxiliary head's per-worker losses and gradients, summed in worker order into
            // worker 0's buffer; returns the mean loss per image.
            const auto reduce_aux = [&](const std::vector<double>& l, std::vector<std::vector<float>>& g, bool on) {
                double sum = 0.0;
                for (unsigned w = 0; w < W; ++w) {
                    sum += l[w];
                    if (w && on)
                        for (std::size_t i = 0; i < g[0].size(); ++i) g[0][i] += g[w][i];
                }
                return sum / static_cast<double>(V);
            };
            const double rloss = reduce_aux(rlosses, dgrads, args.recon > 0);
            const double hloss = reduce_aux(hlosses, hgrads, args.mlp_head > 0);
            ++step;
            // Linear warmup, then cosine decay to zero at the last step.
            const double lr = step <= args.warmup
                                  ? args.lr * static_cast<double>(step) / static_cast<double>(std::max<std::size_t>(args.warmup, 1))
                                  : args.lr * 0.5 * (1.0 + std::cos(M_PI * static_cast<double>(step - args.warmup) /
                                                                    static_cast<double>(std::max<std::size_t>(total - args.warmup, 1))));
            opt.lr = static_cast<float>(lr);
            opt.update(m, grads[0], step);
            if (args.recon > 0) dec.adam(dgrads[0], opt.lr, step);
            if (con) proj.adam(pgrad, opt.lr, step);
            if (args.mlp_head) mh.adam(hgrads[0], opt.lr, step);
            if (!std::isfinite(loss)) die("loss is not finite at step " + std::to_string(step) + "; try a lower --lr");
            const double dt = now_s() - ts;
            std::printf("step %zu/%zu epoch %zu loss %.4f mlp-head %.4f recon %.4f contrastive %.4f lr %.2e %.0f ms %.0f img/s "
                        "elapsed %.0f s\n",
                        step, total, epoch + 1, static_cast<double>(loss), hloss, rloss, closs, lr, dt * 1e3,
                        static_cast<double>(V) / dt, now_s() - t0);
            std::fflush(stdout);
        }
        const double acc = accuracy(m, te);
        std::printf("epoch %zu done: test accuracy (classes 0-4) %.4f, elapsed %.0f s\n", epoch + 1, acc, now_s() - t0);
        info["test_accuracy_0_4"] = std::to_string(acc);
        save_checkpoint(args.ckpt, m, opt, dec, proj, step, epoch + 1, info);
        std::printf("checkpoint: %s\n", args.ckpt.c_str());
        std::fflush(stdout);
    }
    const double secs = now_s() - t0;
    const double acc = accuracy(m, te);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.4f", acc);
    info["test_accuracy_0_4"] = buf;
    if (m.config.num_classes == 20) {
        std::snprintf(buf, sizeof buf, "%.4f", accuracy_rotations(m, te));
        info["test_accuracy_0_4_rotation_aggregated"] = buf;
        std::printf("test accuracy (classes 0-4), four rotations aggregated: %s\n", buf);
    }
    std::snprintf(buf, sizeof buf, "%.0f", secs);
    info["train_seconds"] = buf;
    info["command"] = cmd;
    info["seed"] = std::to_string(args.seed);
    info["recon_weight"] = std::to_string(args.recon);
    info["contrastive_weight"] = std::to_string(args.contrastive);
    if (!args.init.empty()) info["init"] = args.init;
    info["rotation_labels"] = args.rotations ? "1" : "0";
    info["steps"] = std::to_string(step);
    info["data"] = "Fashion-MNIST train, classes 0-4";
    save_vit(m, args.out, info);
    std::printf("done: %zu steps in %.0f s; test accuracy (classes 0-4) %.4f; wrote %s\n", step, secs, acc,
                args.out.c_str());
    return 0;
}

// ------------------------------------------------------------------ linear probe
// Softmax regression on standardized inputs (per-dimension mean/std of the training set),
// mini-batch Nesterov momentum, fixed budget; the same for features and pixels.
double probe(std::vector<float> xtr, const std::vector<std::uint8_t>& ytr, std::vector<float> xte,
             const std::vector<std::uint8_t>& yte, std::size_t d, std::size_t epochs, std::uint64_t seed) {
    const std::size_t n = ytr.size(), nt = yte.size(), K = 5, bs = 128;
    std::vector<double> mu(d, 0.0), sd(d, 0.0);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < d; ++j) mu[j] += xtr[i * d + j];
    for (double& x : mu) x /= static_cast<double>(n);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < d; ++j) sd[j] += (xtr[i * d + j] - mu[j]) * (xtr[i * d + j] - mu[j]);
    for (double& x : sd) x = std::sqrt(x / static_cast<double>(n)) + 1e-6;
    for (std::vector<float>* x : {&xtr, &xte})
        for (std::size_t i = 0; i < x->size(); ++i) {
            const std::size_t j = i % d;
            (*x)[i] = static_cast<float>(((*x)[i] - mu[j]) / sd[j]);
        }
    // w[k*(d+1) + j], bias at j = d.
    const std::size_t D = d + 1;
    std::vector<double> w(K * D, 0.0), vel(K * D, 0.0), look(K * D), g(K * D);
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::mt19937_64 rng(seed);
    const double lr = 0.1, mom = 0.9;
    auto logits = [&](const std::vector<double>& wt, const float* x, double* z) {
        for (std::size_t k = 0; k < K; ++k) {
            const double* wk = wt.data() + k * D;
            double acc = wk[d];
            for (std::size_t j = 0; j < d; ++j) acc += wk[j] * x[j];
            z[k] = acc;
        }
    };
    for (std::size_t e = 0; e < epochs; ++e) {
        std::shuffle(order.begin(), order.end(), rng);
        for (std::size_t b0 = 0; b0 < n; b0 += bs) {
            const std::size_t b1 = std::min(n, b0 + bs);
            for (std::size_t i = 0; i < w.size(); ++i) look[i] = w[i] + mom * vel[i];  // Nesterov look-ahead
            std::fill(g.begin(), g.end(), 0.0);
            for (std::size_t bi = b0; bi < b1; ++bi) {
                const std::size_t i = order[bi];
                const float* x = xtr.data() + i * d;
                double z[5], mx = -1e300, sum = 0;
                logits(look, x, z);
                for (double v : z) mx = std::max(mx, v);
                for (double& v : z) { v = std::exp(v - mx); sum += v; }
                for (std::size_t k = 0; k < K; ++k) {
                    const double dz = (z[k] / sum - (ytr[i] == k ? 1.0 : 0.0)) / static_cast<double>(b1 - b0);
                    double* gk = g.data() + k * D;
                    gk[d] += dz;
                    for (std::size_t j = 0; j < d; ++j) gk[j] += dz * x[j];
                }
            }
            for (std::size_t i = 0; i < w.size(); ++i) {
                vel[i] = mom * vel[i] - lr * g[i];
                w[i] += vel[i];
            }
        }
    }
    std::size_t right = 0;
    for (std::size_t i = 0; i < nt; ++i) {
        double z[5];
        logits(w, xte.data() + i * d, z);
        std::size_t best = 0;
        for (std::size_t k = 1; k < K; ++k)
            if (z[k] > z[best]) best = k;
        right += best == yte[i];
    }
    return static_cast<double>(right) / static_cast<double>(nt);
}

// Rows `idx` of a row-major [*, d] array.
std::vector<float> rows_of(const std::vector<float>& x, std::size_t d, const std::vector<std::size_t>& idx) {
    std::vector<float> out(idx.size() * d);
    for (std::size_t k = 0; k < idx.size(); ++k)
        std::memcpy(out.data() + k * d, x.data() + idx[k] * d, d * sizeof(float));
    return out;
}

// Features and pixels of all images are computed once; each repetition r draws its own
// seeded, class-mixed training subset (seed + r; r = 0 is the subset of earlier versions)
// and trains both probes on it. With several repetitions the mean and spread are printed.
int run_probe(const Args& args) {
    const ViT m = load_model(args.model);
    Split tr = load_split(args.data, "train", 5);
    Split te;  // the scored split: t10k, or with --probe-validation held-out training images
    if (!args.probe_validation) {
        te = load_split(args.data, "t10k", 5);
    } else {
        // Hold out 5,000 training images (seed 7) as the scored split; never touch t10k.
        std::vector<std::size_t> perm(tr.n);
        std::iota(perm.begin(), perm.end(), std::size_t{0});
        std::mt19937_64 prng(7);
        std::shuffle(perm.begin(), perm.end(), prng);
        const std::size_t nv = 5000;
        Split val, pool;
        for (std::size_t k = 0; k < tr.n; ++k) {
            Split& dst = k < nv ? val : pool;
            const std::uint8_t* im = tr.pixels.data() + perm[k] * 784;
            dst.pixels.insert(dst.pixels.end(), im, im + 784);
            dst.labels.push_back(tr.labels[perm[k]]);
            ++dst.n;
        }
        tr = std::move(pool);
        te = std::move(val);
        std::printf("probe: VALIDATION protocol (5,000 held-out training images, pool of %zu; no test images)\n", tr.n);
    }
    const std::size_t n = (args.probe_train && args.probe_train < tr.n) ? args.probe_train : tr.n;
    const std::size_t reps = n < tr.n ? std::max<std::size_t>(args.probe_seeds, 1) : 1;
    const char* scored = args.probe_validation ? "validation" : "test";
    std::printf("probe: classes 5-9, %zu training and %zu %s images, %zu epochs of Nesterov SGD (batch 128, lr 0.1), "
                "%zu subset(s)\n", n, te.n, scored, args.probe_epochs, reps);
    const std::size_t C = m.config.width;
    const double t0 = now_s();
    std::vector<float> ftr(tr.n * C), fte(te.n * C);
    extract_features_u8(m, tr.pixels.data(), tr.n, 28, 28, 1, ftr.data());
    extract_features_u8(m, te.pixels.data(), te.n, 28, 28, 1, fte.data());
    const double tf = now_s() - t0;
    std::printf("features: %zu images in %.2f s (%.0f images/s)\n", tr.n + te.n, tf, static_cast<double>(tr.n + te.n) / tf);
    std::vector<float> ptr(tr.n * 784), pte(te.n * 784);
    for (std::size_t i = 0; i < tr.n * 784; ++i) ptr[i] = static_cast<float>(tr.pixels[i]) / 255.0f;
    for (std::size_t i = 0; i < te.n * 784; ++i) pte[i] = static_cast<float>(te.pixels[i]) / 255.0f;
    std::vector<double> af, ap;
    for (std::size_t r = 0; r < reps; ++r) {
        std::vector<std::size_t> idx(tr.n);
        std::iota(idx.begin(), idx.end(), std::size_t{0});
        if (n < tr.n) {
            std::mt19937_64 rng(args.seed + r);
            std::shuffle(idx.begin(), idx.end(), rng);
            idx.resize(n);
        }
        std::vector<std::uint8_t> y(n);
        for (std::size_t k = 0; k < n; ++k) y[k] = tr.labels[idx[k]];
        af.push_back(probe(rows_of(ftr, C, idx), y, fte, te.labels, C, args.probe_epochs, args.seed));
        ap.push_back(probe(rows_of(ptr, 784, idx), y, pte, te.labels, 784, args.probe_epochs, args.seed));
        if (reps > 1)
            std::printf("subset seed %llu: features %.4f, raw pixels %.4f\n", static_cast<unsigned long long>(args.seed + r),
                        af.back(), ap.back());
    }
    auto mean_sd = [](const std::vector<double>& v, double& mu, double& sd) {
        mu = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
        sd = 0.0;
        for (double x : v) sd += (x - mu) * (x - mu);
        sd = v.size() > 1 ? std::sqrt(sd / static_cast<double>(v.size() - 1)) : 0.0;
    };
    double mf, sf, mp, sp;
    mean_sd(af, mf, sf);
    mean_sd(ap, mp, sp);
    if (reps > 1) {
        std::printf("probe on features (%zu-d): %s accuracy %.4f (mean of %zu subsets, sd %.4f)\n", C, scored, mf, reps, sf);
        std::printf("probe on raw pixels (784-d): %s accuracy %.4f (mean of %zu subsets, sd %.4f)\n", scored, mp, reps, sp);
    } else {
        std::printf("probe on features (%zu-d): %s accuracy %.4f\n", C, scored, mf);
        std::printf("probe on raw pixels (784-d): %s accuracy %.4f\n", scored, mp);
    }
    return 0;
}

}  // namespace

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
