// bt_bench vit: feature extraction throughput (ns per image) of the shipped model and of a
// DeiT-tiny-shaped model (224×224×3, patch 16, width 192, depth 12, 3 heads, random
// weights), with one and two threads; and the float matmul kernel in GFLOP/s on every SIMD
// path, next to that path's measured single-core FMA peak (see bt::nn::fma_peak_gflops).
#include "bench.hpp"

#include "bt/nn/matmul.hpp"
#include "bt/nn/vit.hpp"
#include "bt/threadpool.hpp"

#include <cstdio>
#include <cstdlib>
#include <random>

namespace {

using namespace btbench;
using bt::SimdPath;

const char* kShipped = "models/bt-vit-fmnist04.safetensors";

void bench_features(const Options& opt, const bt::nn::ViT& m, const std::string& name, std::size_t n) {
    const bt::nn::ViTConfig& c = m.config;
    const std::size_t in = c.channels * c.image_size * c.image_size;
    std::vector<float> img(n * in), out(n * c.width);
    std::mt19937 rng(1);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (float& x : img) x = nd(rng);
    for (unsigned t : {1u, 2u}) {
        bt::ThreadPool::set_global_threads(t);
        const Timing tm = measure(opt, [&] { bt::nn::extract_features(m, img.data(), n, out.data()); });
        const double ns = tm.median_ns / static_cast<double>(n);
        Row("vit_features").set("model", name).set("threads", static_cast<int>(t)).set("ns", ns).set("reps", tm.reps)
            .set("images_per_s", 1e9 / ns).set("batch", n).print(opt);
    }
    bt::ThreadPool::set_global_threads(bt::ThreadPool::default_threads());
}

void bench_vit(const Options& opt) {
    // The shipped model (or, if the file is not there, random weights of its shape).
    bt::nn::ViT shipped;
    std::string name = "bt-vit-fmnist04";
    try {
        shipped = bt::nn::load_vit(kShipped);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bt_bench vit: %s; using random weights of the same shape\n", e.what());
        bt::nn::ViTConfig c;
        c.width = 120;
        c.heads = 4;
        c.depth = 5;
        c.mlp_hidden = 240;
        shipped = bt::nn::ViT(c);
        bt::nn::init_vit(shipped, 1);
        name += "-random";
    }
    bench_features(opt, shipped, name, opt.quick ? 64 : 512);

    bt::nn::ViTConfig d;
    d.image_size = 224;
    d.channels = 3;
    d.patch_size = 16;
    d.width = 192;
    d.depth = 12;
    d.heads = 3;
    d.mlp_hidden = 768;
    d.num_classes = 1000;
    d.ln_eps = 1e-12f;
    d.norm_mean = {0.485f, 0.456f, 0.406f};
    d.norm_std = {0.229f, 0.224f, 0.225f};
    bt::nn::ViT deit(d);
    bt::nn::init_vit(deit, 2);
    Options o2 = opt;
    o2.min_reps = opt.quick ? 1 : 3;
    o2.max_reps = opt.quick ? 2 : 10;
    bench_features(o2, deit, "deit-tiny-shape-224", 4);

    // Matmul: shapes from the two models' layers (rows = tokens × images).
    const SimdPath paths[] = {SimdPath::Scalar, SimdPath::AVX2, SimdPath::AVX512};
    const std::size_t shapes[][3] = {{1600, 360, 120}, {1600, 120, 240}, {197, 768, 192}, {197, 192, 768}, {512, 512, 512}};
    for (SimdPath p : paths) {
        if (!bt::nn::sgemm_path_supported(p)) continue;
        const double peak = bt::nn::fma_peak_gflops(p);
        for (const auto& s : shapes) {
            const std::size_t M = s[0], N = s[1], K = s[2];
            std::vector<float> A(M * K, 0.5f), B(K * N, 0.25f), C(M * N);
            const Timing tm = measure(opt, [&] {
                bt::nn::sgemm_path(p, M, N, K, A.data(), K, B.data(), N, C.data(), N, false);
            });
            const double gflops = 2.0 * static_cast<double>(M * N * K) / tm.median_ns;
            Row r("matmul");
            r.set("M", M).set("N", N).set("K", K).set("path", bt::simd_path_name(p)).set("threads", 1)
                .set("ns", tm.median_ns).set("reps", tm.reps).set("gflops", gflops);
            if (peak > 0) r.set("peak_gflops", peak).set("fraction_of_peak", gflops / peak);
            r.print(opt);
        }
    }
}

}  // namespace

BT_BENCH_GROUP("vit", "ViT feature extraction (images/s, 1 and 2 threads) and float matmul GFLOP/s", bench_vit);
