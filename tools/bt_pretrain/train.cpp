// bt_pretrain's training run: the model (fresh, --init or --resume), its AdamW optimizer and
// the auxiliary heads (reconstruction decoder, contrastive projector, MLP head); then the
// data-parallel steps of each epoch (inputs and forward per worker, the contrastive loss
// over all views, backward per worker, gradients summed in worker order, one AdamW step with
// linear warmup and cosine decay), a checkpoint after every epoch and the final model with
// its metadata. The shard split and the order of every sum depend only on the seed and the
// thread count, so those two fix the trained weights.
#include "pretrain.hpp"

#include "bt/nn/safetensors.hpp"
#include "bt/threadpool.hpp"
#include "contrastive.hpp"
#include "heads.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace bt::pretrain {

using namespace bt::nn;

namespace {

// ------------------------------------------------------------------ model and optimizer
// What a run trains: the model, its optimizer and the auxiliary heads trained along with
// it, and where the run stands (steps done, first epoch to run).
struct TrainState {
    explicit TrainState(const ViTConfig& cfg) : m(cfg) {}
    ViT m;
    AdamW opt;
    Decoder dec;
    Projector proj;
    MlpHead mh;
    std::size_t step = 0, epoch0 = 0;
};

// A seeded model or --init's weights, the optimizer, the auxiliary heads, and with --resume
// the checkpoint's model, moments and position over all of them.
void init_state(const Args& args, TrainState& st) {
    ViT& m = st.m;
    init_vit(m, args.seed);
    if (!args.init.empty()) {
        m = load_model(args.init);
        const std::size_t want = args.rotations ? 20 : 5;
        if (m.config.num_classes != want)
            die(args.init + " has " + std::to_string(m.config.num_classes) + " head outputs, expected " +
                std::to_string(want) + (args.rotations ? " (--rotations)" : " (drop --rotations?)"));
        std::printf("initialized from %s\n", args.init.c_str());
    }
    st.opt.lr = args.lr;
    st.opt.weight_decay = args.wd;
    // The extra heads' shapes follow the model being trained: the checkpoint's when resuming.
    std::size_t width = m.config.width;
    if (!args.resume.empty()) {
        auto md = read_safetensors(args.resume).metadata;
        md["format"] = "bt-vit";
        width = ViTConfig::from_metadata(md).width;
    }
    const std::size_t in_px = args.cfg.channels * args.cfg.image_size * args.cfg.image_size;
    if (args.recon > 0) st.dec.init(width, in_px, args.seed);
    if (args.contrastive > 0) st.proj.init(width, width, args.proj_dim, args.seed);
    if (args.mlp_head) st.mh.init(width, args.mlp_head, args.cfg.num_classes, args.seed);
    if (!args.resume.empty()) {
        load_checkpoint(args.resume, m, st.opt, &st.dec, &st.proj, st.step, st.epoch0);
        std::printf("resumed from %s at step %zu (epoch %zu)\n", args.resume.c_str(), st.step, st.epoch0);
    }
}

// ------------------------------------------------------------------ the steps
// The data-parallel steps of a run and their per-worker buffers. Views per step: the
// batch, or with --contrastive two views of each image (rows i and N + i). The views are
// split over the workers in contiguous shards.
class Trainer {
public:
    Trainer(const Args& a, const Split& train_split, TrainState& st);
    // The steps of one epoch, from where the run stands to the epoch's or the run's end.
    void run_epoch(std::size_t epoch, double t0);
    std::size_t total = 0;  // steps of the whole run

private:
    void make_inputs(std::size_t w, std::size_t b0, std::size_t b1, std::size_t s);
    void forward_shard(std::size_t w, std::size_t s);
    void backward_shard(std::size_t w);
    double reduce_aux(const std::vector<double>& l, std::vector<std::vector<float>>& g, bool on) const;
    double lr_at(std::size_t at) const;
    void one_step(std::size_t s, std::size_t epoch, double t0);

    const Args& args;
    const Split& tr;
    ViT& m;
    AdamW& opt;
    Decoder& dec;
    Projector& proj;
    MlpHead& mh;
    std::size_t& step;
    const ViTConfig& c;
    unsigned W = 0;
    std::size_t steps_per_epoch = 0, in = 0, V = 0, shard = 0;
    bool con = false;
    float scale_den = 0.0f;
    std::vector<ViTActs> acts;
    std::vector<ViT> grads;
    std::vector<std::vector<float>> inputs;
    std::vector<std::vector<std::uint8_t>> labels;
    std::vector<float> losses;
    std::vector<double> rlosses;
    std::vector<std::vector<float>> dgrads, dfeat, feats, recon;
    std::vector<float> all_feats, dcon, pgrad;
    std::vector<std::vector<float>> hgrads;
    std::vector<double> hlosses;
    std::vector<std::size_t> order;
};

Trainer::Trainer(const Args& a, const Split& train_split, TrainState& st)
    : args(a), tr(train_split), m(st.m), opt(st.opt), dec(st.dec), proj(st.proj), mh(st.mh), step(st.step),
      c(st.m.config) {
    W = bt::ThreadPool::global().size();
    steps_per_epoch = tr.n / args.batch;
    total = steps_per_epoch * args.epochs;
    if (args.max_steps && args.max_steps < total) total = args.max_steps;
    std::printf("training: %zu epochs x %zu steps, batch %zu, lr %g, wd %g, warmup %zu, recon %g, seed %llu, %u threads\n",
                args.epochs, steps_per_epoch, args.batch, static_cast<double>(args.lr), static_cast<double>(args.wd),
                args.warmup, static_cast<double>(args.recon), static_cast<unsigned long long>(args.seed), W);
    in = c.channels * c.image_size * c.image_size;
    con = args.contrastive > 0;
    V = con ? 2 * args.batch : args.batch;
    shard = (V + W - 1) / W;
    scale_den = static_cast<float>(V);
    acts.resize(W);
    grads.assign(W, ViT(c));
    inputs.assign(W, std::vector<float>(shard * in));
    labels.assign(W, std::vector<std::uint8_t>(shard));
    losses.resize(W);
    rlosses.resize(W);
    dgrads.assign(W, std::vector<float>(dec.p.size()));
    dfeat.resize(W);
    feats.resize(W);
    recon.resize(W);
    all_feats.resize(con ? V * c.width : 0);
    dcon.resize(con ? V * c.width : 0);
    pgrad.resize(proj.p.size());
    hgrads.assign(W, std::vector<float>(mh.p.size()));
    hlosses.resize(W);
    for (auto& act : acts) act.allocate(c, shard);
    order.resize(tr.n);
}

// Worker w's views [b0, b1) of step s of the epoch: augmented inputs and their labels.
void Trainer::make_inputs(std::size_t w, std::size_t b0, std::size_t b1, std::size_t s) {
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
}

// Phase 1 of a step, worker w: inputs, forward, cross-entropy, reconstruction term.
void Trainer::forward_shard(std::size_t w, std::size_t s) {
    const std::size_t b0 = w * shard, b1 = std::min(V, b0 + shard);
    std::fill(grads[w].memory.begin(), grads[w].memory.end(), 0.0f);
    losses[w] = 0.0f;
    rlosses[w] = 0.0;
    if (b0 >= b1) return;
    make_inputs(w, b0, b1, s);
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
}

// Phase 3 of a step, worker w: backward.
void Trainer::backward_shard(std::size_t w) {
    const std::size_t b0 = w * shard, b1 = std::min(V, b0 + shard);
    if (b0 >= b1) return;
    const std::size_t nb = b1 - b0, C = c.width;
    const float scale = static_cast<float>(nb) / scale_den;
    if (con)
        for (std::size_t i = 0; i < nb * C; ++i) dfeat[w][i] += dcon[b0 * C + i] / scale;
    const float* df = (con || args.recon > 0 || args.mlp_head) ? dfeat[w].data() : nullptr;
    vit_backward(m, grads[w], acts[w], inputs[w].data(), labels[w].data(), nb, df, args.mlp_head == 0);
    for (float& g : grads[w].memory) g *= scale;
}

// An auxiliary head's per-worker losses and gradients, summed in worker order into
// worker 0's buffer; returns the mean loss per image.
double Trainer::reduce_aux(const std::vector<double>& l, std::vector<std::vector<float>>& g, bool on) const {
    double sum = 0.0;
    for (unsigned w = 0; w < W; ++w) {
        sum += l[w];
        if (w && on)
            for (std::size_t i = 0; i < g[0].size(); ++i) g[0][i] += g[w][i];
    }
    return sum / static_cast<double>(V);
}

// Linear warmup, then cosine decay to zero at the last step.
double Trainer::lr_at(std::size_t at) const {
    return at <= args.warmup
               ? args.lr * static_cast<double>(at) / static_cast<double>(std::max<std::size_t>(args.warmup, 1))
               : args.lr * 0.5 * (1.0 + std::cos(M_PI * static_cast<double>(at - args.warmup) /
                                                 static_cast<double>(std::max<std::size_t>(total - args.warmup, 1))));
}

// Step s of the epoch: the three phases, the sums over workers, one optimizer step for the
// model and every auxiliary head, and the progress line.
void Trainer::one_step(std::size_t s, std::size_t epoch, double t0) {
    const double ts = now_s();
    bt::parallel_for(W, [&](std::size_t w, unsigned) { forward_shard(w, s); });
    // Phase 2 (serial, small): the contrastive loss over all views.
    double closs = 0.0;
    if (con) {
        std::fill(pgrad.begin(), pgrad.end(), 0.0f);
        closs = proj.step(all_feats.data(), V, args.tau, args.contrastive, dcon.data(), pgrad);
    }
    bt::parallel_for(W, [&](std::size_t w, unsigned) { backward_shard(w); });
    for (unsigned w = 1; w < W; ++w)
        for (std::size_t i = 0; i < m.num_params(); ++i) grads[0].memory[i] += grads[w].memory[i];
    float loss = 0.0f;
    for (float l : losses) loss += l;
    loss /= scale_den;
    const double rloss = reduce_aux(rlosses, dgrads, args.recon > 0);
    const double hloss = reduce_aux(hlosses, hgrads, args.mlp_head > 0);
    ++step;
    const double lr = lr_at(step);
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

void Trainer::run_epoch(std::size_t epoch, double t0) {
    // The permutation and augmentation of each epoch depend only on (seed, epoch).
    std::mt19937_64 perm_rng(args.seed * 1000003ull + epoch);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::shuffle(order.begin(), order.end(), perm_rng);
    for (std::size_t s = (step % steps_per_epoch); s < steps_per_epoch && step < total; ++s) one_step(s, epoch, t0);
}

// ------------------------------------------------------------------ the final model
// The final test accuracy and the run's metadata, and the model file.
void save_final(const Args& args, const ViT& m, const Split& te, std::size_t step, double t0, const std::string& cmd,
                std::map<std::string, std::string>& info) {
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
}

}  // namespace

// ------------------------------------------------------------------ training
int train(const Args& args, int argc, char** argv) {
    std::string cmd;
    for (int i = 0; i < argc; ++i) cmd += (i ? " " : "") + std::string(argv[i]);
    const Split tr = load_split(args.data, "train", 0), te = load_split(args.data, "t10k", 0);
    std::printf("data: %zu training, %zu test images of classes 0-4\n", tr.n, te.n);
    TrainState st(args.cfg);
    init_state(args, st);
    std::printf("model: %s, %zu parameters\n", st.m.config.describe().c_str(), st.m.num_params());
    Trainer trainer(args, tr, st);
    const double t0 = now_s();
    std::map<std::string, std::string> info;
    for (std::size_t epoch = st.epoch0; epoch < args.epochs && st.step < trainer.total; ++epoch) {
        trainer.run_epoch(epoch, t0);
        const double acc = accuracy(st.m, te);
        std::printf("epoch %zu done: test accuracy (classes 0-4) %.4f, elapsed %.0f s\n", epoch + 1, acc, now_s() - t0);
        info["test_accuracy_0_4"] = std::to_string(acc);
        save_checkpoint(args.ckpt, st.m, st.opt, st.dec, st.proj, st.step, epoch + 1, info);
        std::printf("checkpoint: %s\n", args.ckpt.c_str());
        std::fflush(stdout);
    }
    save_final(args, st.m, te, st.step, t0, cmd, info);
    return 0;
}

}  // namespace bt::pretrain
